/*
 * main.c - qf-sim's entry: parses the options, starts the HTTP server on
 * 127.0.0.1, prints the one "listening" line to stdout and waits in
 * sigwait() for SIGTERM or SIGINT. The signals are blocked before the
 * server threads start, so only this thread ever receives them.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: qf-sim [--port N] [--key KEY] [--log FILE] [--fault NAME]\n"
            "              [--fault-times N] [--delay-ms N]\n"
            "\n"
            "A local server speaking the OpenAI and Ollama APIs with\n"
            "deterministic replies, bound to 127.0.0.1 only.\n"
            "\n"
            "  --port N         TCP port (default 8089; 0 picks a free one)\n"
            "  --key KEY        require 'Authorization: Bearer KEY' on /v1/\n"
            "  --log FILE       append one JSON line per request to FILE\n"
            "  --fault NAME     apply fault NAME to every request\n"
            "  --fault-times N  apply each fault to its first N requests "
            "only\n"
            "  --delay-ms N     default delay of the 'delay' fault "
            "(default 2000)\n");
}

/* Parse a whole decimal number in [min, max]; returns 0 on success. */
static int parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

static int parse_number_option(const char *option, const char *text, long min,
                               long max, long *out)
{
    if (parse_long(text, min, max, out) == 0)
        return 0;
    fprintf(stderr,
            "qf-sim: invalid %s value '%s': use a whole number from %ld to "
            "%ld\n",
            option, text, min, max);
    return -1;
}

static int parse_option(int opt, struct sim_config *config)
{
    long value;

    switch (opt) {
    case 'p':
        if (parse_number_option("--port", optarg, 0, 65535, &value) != 0)
            return -1;
        config->port = (int)value;
        return 0;
    case 'k': config->key = optarg; return 0;
    case 'l': config->log_path = optarg; return 0;
    case 'f':
        if (sim_fault_parse(optarg, &config->fault) == 0)
            return 0;
        fprintf(stderr,
                "qf-sim: unknown fault '%s': see docs/qf-sim.md for the "
                "fault names\n",
                optarg);
        return -1;
    case 't':
        return parse_number_option("--fault-times", optarg, 0, LONG_MAX,
                                   &config->fault_times);
    case 'd':
        return parse_number_option("--delay-ms", optarg, 0, 3600000,
                                   &config->delay_ms);
    default: return -1;
    }
}

static int parse_args(int argc, char **argv, struct sim_config *config)
{
    static const struct option options[] = {
        {"port", required_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},
        {"log", required_argument, NULL, 'l'},
        {"fault", required_argument, NULL, 'f'},
        {"fault-times", required_argument, NULL, 't'},
        {"delay-ms", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'h') {
            print_usage(stdout);
            exit(0);
        }
        if (parse_option(opt, config) != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "qf-sim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Wait for SIGTERM or SIGINT; the caller has blocked both. */
static void wait_for_stop(const sigset_t *stop_signals)
{
    int sig = 0;

    while (sigwait(stop_signals, &sig) != 0)
        ;
    fprintf(stderr, "qf-sim: received signal %d, stopping\n", sig);
}

int main(int argc, char **argv)
{
    struct sim_config config = {.port = 8089, .delay_ms = 2000};
    struct MHD_Daemon *daemon;
    sigset_t stop_signals;
    int bound_port = 0;

    if (parse_args(argc, argv, &config) != 0) {
        print_usage(stderr);
        return 2;
    }
    if (config.log_path != NULL && sim_log_open(config.log_path) != 0)
        return 1;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    daemon = sim_server_start(&config, &bound_port);
    if (daemon == NULL) {
        sim_log_close();
        return 1;
    }
    printf("qf-sim listening on http://127.0.0.1:%d\n", bound_port);
    fflush(stdout);

    wait_for_stop(&stop_signals);
    sim_server_request_stop();
    MHD_stop_daemon(daemon);
    sim_log_close();
    return 0;
}

/*
 * bench_soak - a soak measurement: N requests (100,000 by default) through
 * the runtime, printing open file descriptors and resident set size every
 * `interval` requests, so a leak of either shows as a rising column.
 *
 * By default the role's provider is openai against a qf-sim that this
 * program starts on a free loopback port, with the cache on. Prompts cycle
 * over `distinct` values, so most requests are cache hits and the rest go
 * to qf-sim. With --echo the provider is the in-process test_echo plugin.
 * Every successful call also writes a ledger row.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "runtime.h"

typedef struct soak_options {
    long requests;
    long interval;
    long distinct;
    int echo;
} soak_options;

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;
    int n = 0;

    if (dir == NULL)
        return -1;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.')
            n++;
    }
    closedir(dir);
    return n - 1; /* minus the descriptor of the open directory stream */
}

/* Resident set size in KiB from /proc/self/status, or -1. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start qf-sim --port 0 and read its base URL; returns its pid or -1. */
static pid_t start_sim(char *base_url, size_t size)
{
    int out[2];
    pid_t pid;
    FILE *f;
    char line[256];
    int port = 0;

    if (pipe(out) != 0 || (pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(QF_BENCH_SIM, QF_BENCH_SIM, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    f = fdopen(out[0], "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
        sscanf(line, "qf-sim listening on http://127.0.0.1:%d", &port) != 1) {
        fprintf(stderr, "bench_soak: %s did not start\n", QF_BENCH_SIM);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    snprintf(base_url, size, "http://127.0.0.1:%d", port);
    return pid;
}

static int write_config(const char *dir, const char *base_url, int echo)
{
    char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/plugins.yml", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fprintf(f, "state_dir: \"%s/state\"\n", dir);
    if (echo)
        fprintf(f,
                "plugin_dirs: [\"%s\"]\n"
                "providers:\n  text:\n    default: echo\n"
                "    echo: {plugin: test_echo, model: echo-1}\n",
                QF_BENCH_ECHO_DIR);
    else
        fprintf(f,
                "providers:\n  text:\n    default: openai\n"
                "    openai:\n"
                "      base_url: \"%s/v1\"\n"
                "      api_key: sk-soak-not-a-real-key\n"
                "      model: gpt-4o-mini\n"
                "      retry: {max_attempts: 1}\n"
                "      cache: {enabled: true, ttl_seconds: 3600}\n",
                base_url);
    return fclose(f) == 0 ? 0 : -1;
}

static qf_runtime *open_runtime(const char *dir)
{
    char path[4200];
    qf_runtime_options options = {0};
    qf_runtime *rt = NULL;
    qf_error err;

    snprintf(path, sizeof(path), "%s/plugins.yml", dir);
    options.config_path = path;
    qf_error_init(&err);
    if (qf_runtime_open(&options, &rt, &err) != QF_OK) {
        fprintf(stderr, "bench_soak: runtime open failed: %s\n", err.message);
        return NULL;
    }
    return rt;
}

static int run_one(qf_runtime *rt, long i, long distinct)
{
    char prompt[96];
    qf_request *req = NULL;
    qf_response *resp = NULL;
    qf_error err;
    qf_status status;

    qf_error_init(&err);
    snprintf(prompt, sizeof(prompt), "soak prompt number %ld of the run",
             i % distinct);
    status = qf_request_create(rt, "plotwright", NULL, &req, &err);
    if (status == QF_OK)
        status = qf_request_add_message(req, "user", prompt, strlen(prompt));
    if (status == QF_OK)
        status = qf_runtime_run(rt, req, NULL, &resp, &err);
    if (status != QF_OK)
        fprintf(stderr, "bench_soak: request %ld failed: %s\n", i, err.message);
    qf_response_free(resp);
    qf_request_free(req);
    return status == QF_OK ? 0 : -1;
}

static int soak(qf_runtime *rt, const soak_options *opt)
{
    double start = now_s();
    long failures = 0;

    printf("%10s %8s %10s %10s\n", "requests", "fds", "rss_kib", "seconds");
    for (long i = 0; i < opt->requests; i++) {
        if (i % opt->interval == 0)
            printf("%10ld %8d %10ld %10.1f\n", i, count_fds(), rss_kib(),
                   now_s() - start);
        failures += run_one(rt, i, opt->distinct) != 0;
    }
    printf("%10ld %8d %10ld %10.1f\n", opt->requests, count_fds(), rss_kib(),
           now_s() - start);
    printf("failures: %ld\n", failures);
    return failures == 0 ? 0 : 1;
}

static int parse_args(int argc, char **argv, soak_options *opt)
{
    opt->requests = 100000;
    opt->interval = 10000;
    opt->distinct = 1000;
    opt->echo = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--echo") == 0)
            opt->echo = 1;
        else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
            opt->requests = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc)
            opt->interval = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--distinct") == 0 && i + 1 < argc)
            opt->distinct = strtol(argv[++i], NULL, 10);
        else
            return -1;
    }
    return opt->requests > 0 && opt->interval > 0 && opt->distinct > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/qf-soak-XXXXXX";
    char base_url[64] = "";
    char command[4200];
    soak_options opt;
    qf_runtime *rt = NULL;
    pid_t sim = -1;
    int rc = 1;

    if (parse_args(argc, argv, &opt) != 0) {
        fprintf(stderr,
                "usage: bench_soak [--requests N] [--interval N] "
                "[--distinct N] [--echo]\n"
                "  --requests   requests to run (default 100000)\n"
                "  --interval   requests between two samples (10000)\n"
                "  --distinct   distinct prompts, so cache misses "
                "(1000)\n"
                "  --echo       use the in-process test_echo provider\n");
        return 2;
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    if (!opt.echo && (sim = start_sim(base_url, sizeof(base_url))) < 0)
        goto out;
    if (write_config(dir, base_url, opt.echo) != 0 ||
        (rt = open_runtime(dir)) == NULL)
        goto out;
    printf("bench_soak: %ld requests, %s, %ld distinct prompts\n", opt.requests,
           opt.echo ? "test_echo provider" : "openai at qf-sim, cache on",
           opt.distinct);
    rc = soak(rt, &opt);
out:
    qf_runtime_close(rt);
    if (sim > 0) {
        kill(sim, SIGTERM);
        waitpid(sim, NULL, 0);
    }
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0)
        fprintf(stderr, "bench_soak: could not remove %s\n", dir);
    return rc;
}

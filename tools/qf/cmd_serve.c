/*
 * cmd_serve.c - the OpenAI-compatible gateway of qf-serve (serve_main.c),
 * which `qf serve` execs. It loads the configuration, starts the HTTP server
 * (serve_http.c), then waits on the main thread for SIGHUP (reload) or
 * SIGTERM/SIGINT (drain the requests in flight and exit); other threads
 * block these signals.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "serve_internal.h"

static void print_help(void)
{
    printf("usage: qf serve [--listen ADDR:PORT]\n"
           "\n"
           "Serve every role as a model of an OpenAI-compatible API:\n"
           "POST /v1/chat/completions, POST /v1/images/generations,\n"
           "GET /v1/models, GET /metrics, GET /healthz, GET /readyz.\n"
           "\n"
           "Options:\n"
           "  --listen ADDR:PORT  IPv4 address and port to listen on\n"
           "                      (default gateway.listen, else "
           "127.0.0.1:8080;\n"
           "                      port 0 picks a free port). Without "
           "gateway.keys\n"
           "                      only loopback addresses are allowed.\n"
           "\n"
           "qf serve runs the qf-serve executable from qf's folder, which\n"
           "takes the same global options: qf-serve [--config FILE] [-v]\n"
           "[--json] [--listen ADDR:PORT].\n"
           "\n"
           "Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT\n"
           "finish the requests in flight, then exit.\n"
           "Exit status: 0 after a clean stop, 1 failure, 2 usage or\n"
           "configuration error.\n");
}

static int parse_args(int argc, char **argv, const char **listen)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            *listen = argv[++i];
        else if (strncmp(argv[i], "--listen=", 9) == 0)
            *listen = argv[i] + 9;
        else
            return qf_cli_usage_error("serve: unknown argument '%s'; see 'qf "
                                      "serve --help'",
                                      argv[i]);
    }
    return QF_EXIT_OK;
}

/* Fix the process-wide settings from the first generation and --listen,
 * and refuse an open gateway on a non-loopback address. */
static qf_status settle_settings(serve_server *server, const char *listen,
                                 qf_error *err)
{
    const serve_generation *gen = server->current;

    server->settings = gen->settings;
    server->settings.access_log = NULL;
    if (gen->settings.access_log != NULL &&
        (server->settings.access_log = strdup(gen->settings.access_log)) ==
            NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    if (listen != NULL &&
        serve_listen_parse(listen, &server->settings, err) != QF_OK) {
        err->status = QF_ERR_INVALID;
        return err->status;
    }
    if (gen->key_count == 0 && !serve_host_is_loopback(server->settings.host))
        return qf_error_set(err, QF_ERR_CONFIG,
                            "refusing to listen on %s: it is not a loopback "
                            "address and gateway.keys is empty, so anyone "
                            "could spend through this gateway; add client "
                            "keys to gateway.keys or listen on 127.0.0.1",
                            server->settings.host);
    return QF_OK;
}

/* Wait for the requests in flight, at most the request timeout plus a
 * grace period, then stop the server. */
static void drain(serve_server *server)
{
    MHD_socket sock;
    int64_t limit = serve_now_ns() +
                    (server->settings.request_timeout_seconds + 5) * 1000000000;
    struct timespec pause = {0, 10 * 1000 * 1000};

    atomic_store(&server->stopping, 1);
    sock = MHD_quiesce_daemon(server->daemon);
    if (sock != MHD_INVALID_SOCKET)
        close(sock);
    qf_log(QF_LOG_INFO, "serve", "stopping: %ld requests in flight",
           atomic_load(&server->active));
    while (atomic_load(&server->active) > 0 && serve_now_ns() < limit)
        nanosleep(&pause, NULL);
    if (atomic_load(&server->active) > 0)
        qf_log(QF_LOG_WARN, "serve",
               "stopping with %ld requests still running after the request "
               "timeout",
               atomic_load(&server->active));
    serve_http_stop(server);
}

static void wait_for_signals(serve_server *server, const sigset_t *set)
{
    for (;;) {
        int sig = 0;

        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            serve_reload(server);
            continue;
        }
        qf_log(QF_LOG_INFO, "serve", "received %s",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

static int serve(serve_server *server, const qf_cli *cli)
{
    sigset_t set;
    qf_error err;
    int port = 0;

    qf_error_init(&err);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    server->metrics = serve_metrics_create();
    server->log = serve_access_log_open(server->settings.access_log, &err);
    if (server->metrics == NULL || server->log == NULL ||
        serve_http_start(server, &port, &err) != QF_OK)
        return qf_cli_fail(cli, &err);
    printf("qf serve listening on http://%s:%d\n", server->settings.host, port);
    fflush(stdout);

    wait_for_signals(server, &set);
    drain(server);
    return QF_EXIT_OK;
}

int qf_cmd_serve(qf_cli *cli, int argc, char **argv)
{
    serve_server server = {0};
    const char *listen = NULL;
    qf_error err;
    int rc;

    if (qf_cli_wants_help(argc, argv)) {
        print_help();
        return QF_EXIT_OK;
    }
    rc = parse_args(argc, argv, &listen);
    if (rc != QF_EXIT_OK)
        return rc;
    qf_error_init(&err);
    pthread_mutex_init(&server.lock, NULL);
    if (qf_config_find(cli->config_path, &server.config_path, &err) != QF_OK ||
        serve_generation_load(server.config_path, &server.current, &err) !=
            QF_OK ||
        settle_settings(&server, listen, &err) != QF_OK)
        rc = qf_cli_fail(cli, &err);
    else
        rc = serve(&server, cli);

    serve_generation_release(server.current);
    serve_access_log_close(server.log);
    serve_metrics_destroy(server.metrics);
    serve_settings_clear(&server.settings);
    free(server.config_path);
    pthread_mutex_destroy(&server.lock);
    return rc;
}

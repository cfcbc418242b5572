/*
 * bench_redis - the cost of a redis_cache hit (backend get of a 1 KB value)
 * and of a rate-limit decision with store: redis. A decision is the
 * middleware's on_request and on_complete, so one reserve and one settle
 * script. Both are printed next to one PING round trip, measured in the
 * same run on its own connection. Starts /usr/bin/redis-server on a free
 * loopback port with persistence off unless --port names a running server.
 * Usage: bench_redis [ITERATIONS] [--port N]
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>

#include "error.h"
#include "runtime.h"

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int free_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Start redis-server on `port` and wait for it; returns its pid or -1. */
static pid_t start_redis(int port)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    struct timeval tv = {1, 0};
    char port_text[16];
    pid_t pid;

    snprintf(port_text, sizeof(port_text), "%d", port);
    pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execl("/usr/bin/redis-server", "redis-server", "--port", port_text,
              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 500; i++) {
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        int up = c != NULL && c->err == 0;

        if (c != NULL)
            redisFree(c);
        if (up)
            return pid;
        nanosleep(&pause, NULL);
    }
    return -1;
}

static double bench_ping(int port, long n)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    double start;

    if (c == NULL || c->err != 0)
        return -1;
    start = now_ns();
    for (long i = 0; i < n; i++)
        freeReplyObject(redisCommand(c, "PING"));
    start = (now_ns() - start) / (double)n;
    redisFree(c);
    return start;
}

static qf_runtime *open_runtime(const char *dir, int port)
{
    char path[512], text[1024];
    qf_runtime_options opts = {0};
    qf_runtime *rt = NULL;
    qf_error err;
    FILE *f;

    snprintf(path, sizeof(path), "%s/plugins.yml", dir);
    snprintf(text, sizeof(text),
             "state_dir: %s/state\nplugin_dirs: [\"%s\"]\n"
             "providers:\n  text:\n    default: openai\n    openai:\n"
             "      base_url: \"http://127.0.0.1:9/v1\"\n"
             "      api_key: sk-bench-offline\n      model: gpt-4o-mini\n"
             "      rate_limit: {requests_per_minute: 1000000000, "
             "store: redis, redis_url: \"redis://127.0.0.1:%d/0\"}\n",
             dir, QF_BENCH_PLUGIN_DIR, port);
    f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fputs(text, f);
    fclose(f);
    opts.config_path = path;
    qf_error_init(&err);
    if (qf_runtime_open(&opts, &rt, &err) != QF_OK) {
        fprintf(stderr, "runtime open failed: %s\n", err.message);
        return NULL;
    }
    return rt;
}

/* A settings map of "name=value" pairs for qf_runtime_open_instance. */
static qf_cnode *settings_map(const char *const *pairs)
{
    qf_cnode *map = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_error err;

    qf_error_init(&err);
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        qf_cnode_set(map, pairs[i], pairs[i + 1], &err);
    return map;
}

static double bench_cache_hit(qf_runtime *rt, int port, long n)
{
    char url[64];
    const char *pairs[] = {"redis_url", url, "key_prefix", "qf:bench:", NULL};
    const qf_host *host = qf_runtime_host(rt);
    const char *key =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    qf_cnode *map;
    const void *vt = NULL;
    const qf_cache_backend_vtable *cache;
    void *inst = NULL;
    char value[1024];
    qf_error err;
    double start;

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
    map = settings_map(pairs);
    qf_error_init(&err);
    if (qf_runtime_open_instance(rt, QF_KIND_CACHE_BACKEND, "redis_cache", map,
                                 "redis_cache@bench", &vt, &inst,
                                 &err) != QF_OK) {
        fprintf(stderr, "redis_cache open failed: %s\n", err.message);
        qf_cnode_free(map);
        return -1;
    }
    qf_cnode_free(map);
    cache = vt;
    memset(value, 'x', sizeof(value));
    if (cache->put(inst, key, value, sizeof(value), 3600, &err) != QF_OK)
        return -1;

    start = now_ns();
    for (long i = 0; i < n; i++) {
        void *got = NULL;
        size_t len = 0;

        if (cache->get(inst, key, &got, &len, NULL, &err) != QF_OK)
            return -1;
        host->free(got);
    }
    return (now_ns() - start) / (double)n;
}

static double bench_decision(qf_runtime *rt, int port, long n)
{
    char url[64];
    const char *pairs[] = {
        "redis_url",  url,          "store",     "redis", "requests_per_minute",
        "1000000000", "key_prefix", "qf:bench:", NULL};
    qf_cnode *map;
    const void *vt = NULL;
    const qf_middleware_vtable *mw;
    void *inst = NULL;
    qf_request *req = NULL;
    qf_error err;
    double start;

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
    map = settings_map(pairs);
    qf_error_init(&err);
    if (qf_runtime_open_instance(rt, QF_KIND_MIDDLEWARE, "rate_limit", map,
                                 "rate_limit@bench", &vt, &inst,
                                 &err) != QF_OK ||
        qf_request_create(rt, "plotwright", NULL, &req, &err) != QF_OK) {
        fprintf(stderr, "rate_limit setup failed: %s\n", err.message);
        qf_cnode_free(map);
        return -1;
    }
    qf_cnode_free(map);
    mw = vt;
    qf_request_add_message(req, "user", "hello", 5);

    start = now_ns();
    for (long i = 0; i < n; i++) {
        void *state = NULL;

        if (mw->on_request(inst, &state, req, NULL, &err) != QF_OK) {
            fprintf(stderr, "decision failed: %s\n", err.message);
            return -1;
        }
        mw->on_complete(inst, &state, req, NULL, QF_OK);
    }
    start = (now_ns() - start) / (double)n;
    qf_request_free(req);
    return start;
}

int main(int argc, char **argv)
{
    long n = 20000;
    int port = 0;
    pid_t pid = 0;
    char dir[] = "/tmp/qf-bench-redis-XXXXXX";
    char cmd[128];
    qf_runtime *rt;
    double ping, hit, decision;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (int)strtol(argv[++i], NULL, 10);
        else
            n = strtol(argv[i], NULL, 10);
    }
    if (n <= 0 || mkdtemp(dir) == NULL)
        return 1;
    if (port == 0) {
        port = free_port();
        pid = start_redis(port);
        if (pid < 0) {
            fprintf(stderr, "cannot start /usr/bin/redis-server\n");
            return 1;
        }
    }

    rt = open_runtime(dir, port);
    ping = bench_ping(port, n);
    hit = rt ? bench_cache_hit(rt, port, n) : -1;
    decision = rt ? bench_decision(rt, port, n) : -1;
    printf("PING round trip:             %8.1f us/op\n", ping / 1e3);
    printf("redis_cache hit (1 KB):      %8.1f us/op  (%.2f x PING)\n",
           hit / 1e3, hit / ping);
    printf("rate_limit decision (redis): %8.1f us/op  (%.2f x PING; reserve "
           "+ settle)\n",
           decision / 1e3, decision / ping);

    if (rt != NULL)
        qf_runtime_close(rt);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 && hit > 0 && decision > 0 ? 0 : 1;
}

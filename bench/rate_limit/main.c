/*
 * bench_rate_limit - the cost of one rate-limit decision: the pure limiter
 * core on a state struct, the memory store (adds a mutex), and the SQLite
 * store (one BEGIN IMMEDIATE transaction per reserve and per settle, WAL,
 * in a fresh folder under /tmp). Prints nanoseconds or microseconds per
 * operation. Usage: bench_rate_limit [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "limiter.h"
#include "store.h"

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Limits every call passes, so each iteration runs the full check. */
static qf_limiter_limits wide_limits(void)
{
    qf_limiter_limits limits = {1000000000, 1000000000, 1e9, 1e9, 120};

    return limits;
}

static void bench_core(long n)
{
    qf_limiter_limits limits = wide_limits();
    qf_limiter_state state = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    qf_limiter_demand demand = {1, 1100, 0.0021};
    qf_limiter_decision d;
    long allowed = 0;
    double start = now_ns();

    for (long i = 0; i < n; i++) {
        qf_limiter_decide(&limits, &state, &demand, 1796385600000LL + i, &d);
        allowed += d.allowed;
    }
    printf("core decide:                 %8.1f ns/op  (%ld allowed)\n",
           (now_ns() - start) / (double)n, allowed);

    start = now_ns();
    for (long i = 0; i < n; i++)
        qf_limiter_settle(&limits, &state, &d, &demand,
                          1796385600000LL + n + i);
    printf("core settle:                 %8.1f ns/op\n",
           (now_ns() - start) / (double)n);
}

static void bench_store(qf_limiter_store_kind kind, const char *dir, long n)
{
    qf_limiter_limits limits = wide_limits();
    qf_limiter_demand demand = {1, 1100, 0.0021};
    qf_limiter_decision d;
    qf_limiter_store *store = NULL;
    char msg[512];
    double start, reserve_ns, settle_ns = 0;

    if (qf_limiter_store_open(kind, dir, "provider:bench", &store, msg,
                              sizeof(msg)) != QF_OK) {
        fprintf(stderr, "store open failed: %s\n", msg);
        exit(1);
    }
    start = now_ns();
    for (long i = 0; i < n; i++)
        qf_limiter_store_reserve(store, &limits, &demand, 1796385600000LL + i,
                                 &d, msg, sizeof(msg));
    reserve_ns = (now_ns() - start) / (double)n;
    start = now_ns();
    for (long i = 0; i < n; i++)
        qf_limiter_store_settle(store, &limits, &d, &demand,
                                1796385600000LL + n + i, msg, sizeof(msg));
    settle_ns = (now_ns() - start) / (double)n;
    if (kind == QF_LIMITER_STORE_MEMORY)
        printf("memory store reserve:        %8.1f ns/op\n"
               "memory store settle:         %8.1f ns/op\n",
               reserve_ns, settle_ns);
    else
        printf("sqlite store reserve:        %8.1f us/op\n"
               "sqlite store settle:         %8.1f us/op\n",
               reserve_ns / 1e3, settle_ns / 1e3);
    qf_limiter_store_close(store);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    char dir[] = "/tmp/qf-bench-limits-XXXXXX";
    char cmd[128];

    if (n <= 0 || mkdtemp(dir) == NULL)
        return 1;
    bench_core(n);
    bench_store(QF_LIMITER_STORE_MEMORY, dir, n);
    bench_store(QF_LIMITER_STORE_SQLITE, dir, n / 100 > 1000 ? n / 100 : 1000);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

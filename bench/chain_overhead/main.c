/*
 * bench_chain_overhead - nanoseconds per request through the runtime with
 * a chain of three pass-through middleware and the in-process test_echo
 * provider, against the same runtime with no middleware and against
 * calling the provider's complete hook directly.
 *
 * The three-middleware figure minus the no-middleware figure is the cost
 * the chain adds; each is the fastest of 50 alternating batches. Both runtime
 * figures include pricing and the ledger row every successful call writes; the
 * state folder is a fresh temporary one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "runtime_internal.h"
#include "runtime.h"

#define WARMUP  2000
#define BATCHES 50

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static qf_runtime *open_runtime(const char *dir)
{
    char path[4096];
    FILE *f;
    qf_runtime_options options = {0};
    qf_runtime *rt = NULL;
    qf_error err;

    snprintf(path, sizeof(path), "%s/plugins.yml", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fprintf(
        f,
        "plugin_dirs: [\"%s\"]\n"
        "state_dir: \"%s/state\"\n"
        "pricing:\n"
        "  echo-1: {input_per_million: 1.0, output_per_million: 2.0}\n"
        "providers:\n"
        "  text:\n"
        "    default: echo\n"
        "    echo: {plugin: test_echo, model: echo-1}\n"
        "roles:\n"
        "  plotwright: {provider: echo}\n"
        "  scene_smith:\n"
        "    provider: echo\n"
        "    chain: [test_passthrough, test_passthrough, test_passthrough]\n",
        QF_BENCH_PLUGIN_DIR, dir);
    fclose(f);

    qf_error_init(&err);
    options.config_path = path;
    if (qf_runtime_open(&options, &rt, &err) != QF_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        return NULL;
    }
    return rt;
}

static qf_request *make_request(qf_runtime *rt, const char *role)
{
    qf_request *req = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_request_create(rt, role, NULL, &req, &err) != QF_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    qf_request_add_message(req, "user", "Outline the next scene.", 23);
    return req;
}

/* ns per call of qf_runtime_run over `n` calls of `req`. */
static double time_runtime(qf_runtime *rt, qf_request *req, long n)
{
    double start = now_ns();
    qf_error err;

    for (long i = 0; i < n; i++) {
        qf_response *resp = NULL;

        if (qf_runtime_run(rt, req, NULL, &resp, &err) != QF_OK) {
            fprintf(stderr, "bench: %s\n", err.message);
            exit(1);
        }
        qf_response_free(resp);
    }
    return (now_ns() - start) / (double)n;
}

/* ns per call of the provider's complete hook, same request and response
 * allocation as the runtime does. */
static double time_direct(qf_runtime *rt, long n)
{
    qf_request *req = make_request(rt, "plotwright");
    qf_instance *inst = NULL;
    const qf_provider_vtable *vt;
    double start = 0;
    qf_error err;

    qf_error_init(&err);
    if (qf_route_provider(rt, req->route, &inst, &err) != QF_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    vt = inst->plugin->descriptor->provider;
    for (long i = 0; i < n + WARMUP; i++) {
        qf_response *resp = qf_response_new(NULL, 0);

        if (i == WARMUP)
            start = now_ns();
        vt->complete(inst->handle, req, resp, &err);
        qf_response_free(resp);
    }
    double elapsed = now_ns() - start;
    qf_request_free(req);
    return elapsed / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    char dir[] = "/tmp/qf-bench-chain-XXXXXX";
    qf_runtime *rt;
    double direct, bare, chained;

    if (n <= 0 || mkdtemp(dir) == NULL)
        return 1;
    rt = open_runtime(dir);
    if (rt == NULL)
        return 1;

    direct = time_direct(rt, n);

    /* Both roles run in alternating batches and each keeps its fastest
     * batch: a ledger commit costs far more than the chain, and the least
     * disturbed batch of each is the fairest comparison on a busy machine. */
    {
        qf_request *bare_req = make_request(rt, "plotwright");
        qf_request *chained_req = make_request(rt, "scene_smith");
        long batch = n / BATCHES > 0 ? n / BATCHES : 1;

        time_runtime(rt, bare_req, WARMUP);
        time_runtime(rt, chained_req, WARMUP);
        bare = chained = 1e18;
        for (int b = 0; b < BATCHES; b++) {
            double x = time_runtime(rt, bare_req, batch);
            double y = time_runtime(rt, chained_req, batch);

            bare = x < bare ? x : bare;
            chained = y < chained ? y : chained;
        }
        qf_request_free(bare_req);
        qf_request_free(chained_req);
    }

    printf("chain_overhead: %ld requests each\n", n);
    printf("%-44s %10.0f ns  %10.0f req/s\n", "provider called directly",
           direct, 1e9 / direct);
    printf("%-44s %10.0f ns  %10.0f req/s\n", "runtime, no middleware", bare,
           1e9 / bare);
    printf("%-44s %10.0f ns  %10.0f req/s\n",
           "runtime, three pass-through middleware", chained, 1e9 / chained);
    printf("%-44s %10.0f ns  (goal < 2000 ns)\n",
           "added by the three-middleware chain", chained - bare);
    printf("%-44s %10.0f ns  (pricing and ledger row included)\n",
           "added by the runtime over a direct call", chained - direct);

    qf_runtime_close(rt);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    return 0;
}

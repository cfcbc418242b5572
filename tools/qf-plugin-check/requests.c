/*
 * requests.c - the requests check and the concurrency check. A provider
 * gets each input as a text request (streamed too when it claims
 * "stream") and as an image request, with base_url on a closed loopback
 * port: QF_OK or a clean error with a message both pass. A middleware gets
 * the full on_request, on_response, on_complete cycle; a cache backend a
 * put, get, remove, prune, clear and stats round.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "check.h"

#define CONCURRENT_THREADS 4
#define CONCURRENT_CALLS   25

/* --- Provider ------------------------------------------------------- */

static int provider_call(const qf_plugin_descriptor *d, void *instance,
                         qf_request_kind kind, int stream,
                         const qf_check_input *in, qf_check_out *out)
{
    const char *hook = kind == QF_REQUEST_IMAGE ? "generate_image"
                       : stream                 ? "complete (streamed)"
                                                : "complete";
    qf_request *req = qf_check_request_new(kind, in->content, in->len, stream);
    qf_response *resp = qf_check_response_new();
    qf_error err;
    qf_status status;
    int fault = 0;

    if (req == NULL || resp == NULL)
        goto out;
    qf_error_init(&err);
    if (out != NULL)
        qf_check_phase(out, "%s with %s", hook, in->label);
    status = kind == QF_REQUEST_IMAGE
                 ? d->provider->generate_image(instance, req, resp, &err)
                 : d->provider->complete(instance, req, resp, &err);
    if (out != NULL)
        fault = qf_check_judge(out, hook, in->label, status, &err, 0);

out:
    qf_check_request_free(req);
    qf_check_response_free(resp);
    return fault;
}

static int claims_stream(const qf_plugin_descriptor *d)
{
    for (size_t i = 0; d->capabilities != NULL && d->capabilities[i]; i++)
        if (strcmp(d->capabilities[i], QF_CAP_STREAM) == 0)
            return 1;
    return 0;
}

static int provider_requests(const qf_plugin_descriptor *d, void *instance,
                             const qf_check_input *in, size_t n,
                             qf_check_out *out, int *calls)
{
    int faults = 0;

    for (size_t i = 0; i < n; i++) {
        if (d->provider->complete != NULL) {
            faults +=
                provider_call(d, instance, QF_REQUEST_TEXT, 0, &in[i], out);
            (*calls)++;
        }
        if (d->provider->complete != NULL && claims_stream(d)) {
            faults +=
                provider_call(d, instance, QF_REQUEST_TEXT, 1, &in[i], out);
            (*calls)++;
        }
        if (d->provider->generate_image != NULL) {
            faults +=
                provider_call(d, instance, QF_REQUEST_IMAGE, 0, &in[i], out);
            (*calls)++;
        }
    }
    return faults;
}

/* --- Middleware ----------------------------------------------------- */

/* Set a response for on_response to read, when on_request returned OK. */
static int middleware_response(const qf_middleware_vtable *v, void *instance,
                               void **state, const qf_check_input *in,
                               qf_request *req, qf_response *resp,
                               qf_check_out *out, qf_status *status)
{
    const qf_host *host = qf_check_host();
    qf_error err;

    if (*status != QF_OK || v->on_response == NULL)
        return 0;
    host->response_set_text(resp, "checked answer", 14);
    host->response_set_finish_reason(resp, "stop");
    qf_error_init(&err);
    if (out != NULL)
        qf_check_phase(out, "on_response with %s", in->label);
    *status = v->on_response(instance, state, req, resp, &err);
    if (out == NULL)
        return 0;
    return qf_check_judge(out, "on_response", in->label, *status, &err, 0);
}

static int middleware_cycle(const qf_middleware_vtable *v, void *instance,
                            const qf_check_input *in, qf_check_out *out)
{
    qf_request *req =
        qf_check_request_new(QF_REQUEST_TEXT, in->content, in->len, 0);
    qf_response *resp = qf_check_response_new();
    void *state = NULL;
    qf_error err;
    qf_status status;
    int fault = 0;

    if (req == NULL || resp == NULL)
        goto out;
    qf_error_init(&err);
    if (out != NULL)
        qf_check_phase(out, "on_request with %s", in->label);
    status = v->on_request(instance, &state, req, resp, &err);
    if (out != NULL)
        fault += qf_check_judge(out, "on_request", in->label, status, &err, 1);

    fault +=
        middleware_response(v, instance, &state, in, req, resp, out, &status);
    if (v->on_complete != NULL) {
        if (out != NULL)
            qf_check_phase(out, "on_complete with %s", in->label);
        v->on_complete(instance, &state, req, resp,
                       status == QF_ANSWERED ? QF_OK : status);
    }

out:
    qf_check_request_free(req);
    qf_check_response_free(resp);
    return fault;
}

/* --- Cache backend -------------------------------------------------- */

static int cache_fault(qf_check_out *out, const char *what, qf_status status,
                       const qf_error *err)
{
    qf_check_report(out, QF_CHECK_FAIL, "requests",
                    "follow the cache backend contract in qf/plugin.h",
                    "%s (status %s%s%s)", what, qf_status_name(status),
                    err->message[0] ? ": " : "", err->message);
    return 1;
}

static int cache_get_equals(const qf_cache_backend_vtable *v, void *instance,
                            const char *key, const char *value, size_t len,
                            qf_check_out *out)
{
    void *got = NULL;
    size_t got_len = 0;
    int64_t created = 0;
    qf_error err;
    qf_status status;
    int fault = 0;

    qf_error_init(&err);
    qf_check_phase(out, "get of a %zu-byte entry", len);
    status = v->get(instance, key, &got, &got_len, &created, &err);
    if (status == QF_ERR_NOT_FOUND)
        fault = cache_fault(out, "get after put missed", status, &err);
    else if (status != QF_OK)
        fault = qf_check_judge(out, "get", "a stored key", status, &err, 0);
    else if (got_len != len || (len > 0 && memcmp(got, value, len) != 0))
        fault = cache_fault(out, "get returned other bytes than put stored",
                            status, &err);
    qf_check_host()->free(got);
    return fault;
}

static int cache_put_get(const qf_cache_backend_vtable *v, void *instance,
                         const qf_check_input *in, qf_check_out *out)
{
    static const char key[] =
        "00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee";
    qf_error err;
    qf_status status;

    if (in->content == NULL)
        return 0;
    qf_error_init(&err);
    qf_check_phase(out, "put of %s", in->label);
    status = v->put(instance, key, in->content, in->len, 60, &err);
    if (status != QF_OK)
        return qf_check_judge(out, "put", in->label, status, &err, 0);
    return cache_get_equals(v, instance, key, in->content, in->len, out);
}

/* Judge a cache hook: `expected` (or OK) passes, any other error passes
 * when it carries a message, as a backend whose server is down returns. */
static int cache_judge(qf_check_out *out, const char *hook, qf_status status,
                       qf_status expected, const qf_error *err)
{
    if (status == expected || status == QF_OK)
        return 0;
    return qf_check_judge(out, hook, "a stored key", status, err, 0);
}

static int cache_round(const qf_cache_backend_vtable *v, void *instance,
                       qf_check_out *out)
{
    static const char key[] =
        "00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee";
    void *got = NULL;
    size_t len;
    int64_t count = 0;
    qf_cache_stats stats = {sizeof(stats), 0, 0, 0, 0, 0, 0};
    qf_error err;
    qf_status status;
    int faults = 0;

    qf_error_init(&err);
    qf_check_phase(out, "remove");
    status = v->remove(instance, key, &err);
    faults += cache_judge(out, "remove", status, QF_ERR_NOT_FOUND, &err);
    qf_error_init(&err);
    qf_check_phase(out, "get of a removed key");
    status = v->get(instance, key, &got, &len, NULL, &err);
    qf_check_host()->free(status == QF_OK ? got : NULL);
    if (status == QF_OK)
        faults +=
            cache_fault(out, "get of a removed key still hit", status, &err);
    else
        faults += cache_judge(out, "get", status, QF_ERR_NOT_FOUND, &err);

    qf_check_phase(out, "prune");
    faults += cache_judge(out, "prune", v->prune(instance, &count, &err), QF_OK,
                          &err);
    qf_check_phase(out, "clear");
    faults += cache_judge(out, "clear", v->clear(instance, &count, &err), QF_OK,
                          &err);
    qf_check_phase(out, "stats");
    faults += cache_judge(out, "stats", v->stats(instance, &stats, &err), QF_OK,
                          &err);
    return faults;
}

/* --- The requests check --------------------------------------------- */

static int run_inputs(const qf_plugin_descriptor *d, void *instance,
                      const qf_check_input *in, size_t n, qf_check_out *out,
                      int *calls)
{
    int faults = 0;

    if (d->kind == QF_KIND_PROVIDER)
        return provider_requests(d, instance, in, n, out, calls);
    for (size_t i = 0; i < n; i++, (*calls)++)
        faults += d->kind == QF_KIND_MIDDLEWARE
                      ? middleware_cycle(d->middleware, instance, &in[i], out)
                      : cache_put_get(d->cache_backend, instance, &in[i], out);
    if (d->kind == QF_KIND_CACHE_BACKEND)
        faults += cache_round(d->cache_backend, instance, out);
    return faults;
}

int qf_check_requests(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d = qf_check_load(opts->path);
    qf_check_input inputs[4];
    qf_check_create create;
    qf_check_destroy destroy;
    size_t n;
    qf_context *ctx;
    void *instance;
    int faults, calls = 0;

    if (d == NULL || (ctx = qf_check_context_new(d->id)) == NULL ||
        qf_check_context_fill(ctx, d, NULL) != 0)
        return 1;
    if (qf_check_instance_new(d, ctx, out, "requests", &instance) != 0)
        return 1;
    n = qf_check_inputs(opts, inputs);
    faults = run_inputs(d, instance, inputs, n, out, &calls);
    for (size_t i = 0; i < n; i++)
        free(inputs[i].owned);
    qf_check_lifecycle_fns(d, &create, &destroy);
    qf_check_phase(out, "destroy");
    destroy(instance);
    qf_check_context_free(ctx);
    if (faults == 0)
        qf_check_report(out, QF_CHECK_PASS, "requests", NULL,
                        "%d calls with no messages, empty, non-UTF-8 and "
                        "%zu-byte input each returned OK or an error with a "
                        "message",
                        calls, opts->huge_bytes);
    if (qf_check_host_secret_leaks() > 0)
        qf_check_report(out, QF_CHECK_FAIL, "secrets",
                        "never pass a secret option's value to host->log or "
                        "host->error_set",
                        "a log line or error message contained the value of "
                        "a secret option");
    return 0;
}

/* --- Concurrency ---------------------------------------------------- */

typedef struct worker {
    const qf_plugin_descriptor *d;
    void *instance;
    int index;
    pthread_t thread;
} worker;

/* Put and get keys of this thread only; a failure shows up as a crash or,
 * under a sanitizer, a report. */
static void cache_calls(const worker *w, int call)
{
    const qf_cache_backend_vtable *v = w->d->cache_backend;
    char key[65];
    void *got = NULL;
    size_t len;
    qf_error err;

    snprintf(key, sizeof(key), "%064x", w->index * 1000 + call);
    qf_error_init(&err);
    if (v->put(w->instance, key, key, sizeof(key), 60, &err) == QF_OK &&
        v->get(w->instance, key, &got, &len, NULL, &err) == QF_OK)
        qf_check_host()->free(got);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    qf_check_input in = {"a short input", "Say hello.", 10, NULL};
    int calls = 0;

    for (int i = 0; i < CONCURRENT_CALLS; i++) {
        if (w->d->kind == QF_KIND_PROVIDER)
            provider_requests(w->d, w->instance, &in, 1, NULL, &calls);
        else if (w->d->kind == QF_KIND_MIDDLEWARE)
            middleware_cycle(w->d->middleware, w->instance, &in, NULL);
        else
            cache_calls(w, i);
    }
    return NULL;
}

static void run_workers(const qf_plugin_descriptor *d, void *instance,
                        qf_check_out *out)
{
    worker workers[CONCURRENT_THREADS];

    qf_check_phase(out, "calls from %d threads at once on one instance",
                   CONCURRENT_THREADS);
    for (int i = 0; i < CONCURRENT_THREADS; i++) {
        workers[i] = (worker){d, instance, i, 0};
        pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    }
    for (int i = 0; i < CONCURRENT_THREADS; i++)
        pthread_join(workers[i].thread, NULL);
}

int qf_check_concurrency(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d = qf_check_load(opts->path);
    qf_check_create create;
    qf_check_destroy destroy;
    qf_context *ctx;
    void *instance;

    if (d == NULL)
        return 1;
    if ((d->flags & QF_PLUGIN_SERIAL) != 0) {
        qf_check_report(out, QF_CHECK_PASS, "concurrency", NULL,
                        "QF_PLUGIN_SERIAL: the host serializes calls");
        return 0;
    }
    if ((ctx = qf_check_context_new(d->id)) == NULL ||
        qf_check_context_fill(ctx, d, NULL) != 0)
        return 1;
    if (qf_check_instance_new(d, ctx, out, "concurrency", &instance) != 0)
        return 1;

    run_workers(d, instance, out);
    qf_check_lifecycle_fns(d, &create, &destroy);
    qf_check_phase(out, "destroy after concurrent calls");
    destroy(instance);
    qf_check_context_free(ctx);
    qf_check_report(out, QF_CHECK_PASS, "concurrency", NULL,
                    "%d threads made %d calls each on one instance without "
                    "a crash",
                    CONCURRENT_THREADS, CONCURRENT_CALLS);
    return 0;
}

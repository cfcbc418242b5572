/*
 * cache.c - the cache middleware. on_request computes the key of the
 * request as the provider will send it, and on a hit fills the response
 * (replayed word by word through host->stream_write for a streamed request)
 * and returns QF_ANSWERED. on_response stores a complete, successful answer.
 * Backend failures are logged, rate-limited, and count as misses.
 *
 * Expired entries are pruned at most once per prune_interval_seconds on a
 * background thread, so the request that notices the interval never waits;
 * destroy joins the thread.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/plugin.h"

#include "cache_key.h"
#include "cache_record.h"

#define DEFAULT_TTL_SECONDS            86400
#define DEFAULT_PRUNE_INTERVAL_SECONDS 300
#define WARN_INTERVAL_MS               10000

typedef struct cache_instance {
    const qf_host *host;
    qf_context *ctx;
    int enabled;
    int64_t ttl_seconds;
    int64_t prune_interval_ms; /* 0: no opportunistic pruning */
    const qf_cache_backend_vtable *backend;
    void *backend_instance;

    pthread_mutex_t prune_lock; /* guards prune_thread and has_thread */
    pthread_t prune_thread;
    int has_thread;
    _Atomic int prune_running;
    _Atomic int64_t last_prune_ms;

    _Atomic int64_t last_warn_ms;
    _Atomic int64_t warns_suppressed;
} cache_instance;

/* Per-call state. */
typedef struct cache_call {
    char key[65];
    int answered; /* this call was answered from the cache */
} cache_call;

/* Log a warning, at most one per WARN_INTERVAL_MS per instance. */
static void warn(cache_instance *c, const char *fmt, ...) QF_PRINTF(2, 3);
static void warn(cache_instance *c, const char *fmt, ...)
{
    int64_t now = c->host->now_ms(c->ctx);
    int64_t last = atomic_load(&c->last_warn_ms);
    char msg[512];
    int64_t suppressed;
    va_list ap;

    if (!c->host->log_enabled(c->ctx, QF_LOG_WARN))
        return;
    if ((last != 0 && now - last < WARN_INTERVAL_MS) ||
        !atomic_compare_exchange_strong(&c->last_warn_ms, &last, now)) {
        atomic_fetch_add(&c->warns_suppressed, 1);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    suppressed = atomic_exchange(&c->warns_suppressed, 0);
    if (suppressed > 0)
        c->host->log(c->ctx, QF_LOG_WARN,
                     "%s (and %lld similar "
                     "warnings in the last 10 s)",
                     msg, (long long)suppressed);
    else
        c->host->log(c->ctx, QF_LOG_WARN, "%s", msg);
}

/* Reset `err` after a failure the cache handled itself, so a request that
 * succeeds does not carry a stale error. */
static void clear_error(const qf_host *h, qf_error *err)
{
    h->error_set(err, QF_OK, "%s", "");
}

/* --- Lifecycle --------------------------------------------------------- */

static qf_status read_int(cache_instance *c, const char *name, int64_t dflt,
                          int64_t *out, qf_error *err)
{
    qf_status st = c->host->config_int(c->ctx, name, out, err);

    if (st == QF_ERR_NOT_FOUND) {
        *out = dflt;
        return QF_OK;
    }
    return st;
}

static qf_status read_settings(cache_instance *c, const char **backend,
                               qf_error *err)
{
    const qf_host *h = c->host;
    int64_t interval = 0;
    qf_status st;

    st = h->config_bool(c->ctx, "enabled", &c->enabled, err);
    if (st == QF_ERR_NOT_FOUND)
        c->enabled = 1;
    else if (st != QF_OK)
        return st;
    st = read_int(c, "ttl_seconds", DEFAULT_TTL_SECONDS, &c->ttl_seconds, err);
    if (st != QF_OK)
        return st;
    st = read_int(c, "prune_interval_seconds", DEFAULT_PRUNE_INTERVAL_SECONDS,
                  &interval, err);
    if (st != QF_OK)
        return st;
    c->prune_interval_ms = interval > 0 ? interval * 1000 : 0;

    *backend = "file_cache";
    st = h->config_string(c->ctx, "backend", backend, err);
    return st == QF_ERR_NOT_FOUND ? QF_OK : st;
}

static void cache_destroy(void *instance)
{
    cache_instance *c = instance;

    if (c == NULL)
        return;
    if (c->has_thread)
        pthread_join(c->prune_thread, NULL);
    pthread_mutex_destroy(&c->prune_lock);
    c->host->free(c);
}

/* Open the backend. When it fails for a run-time reason, such as an
 * unwritable folder or an unreachable server, the cache stays off with a
 * warning so requests still run. A configuration error fails the instance. */
static qf_status open_backend(cache_instance *c, const char *backend,
                              qf_error *err)
{
    const qf_host *h = c->host;
    qf_status st = h->cache_backend_open(c->ctx, backend, &c->backend,
                                         &c->backend_instance, err);

    if (st == QF_OK || st == QF_ERR_CONFIG || st == QF_ERR_NOT_FOUND ||
        st == QF_ERR_ABI || st == QF_ERR_NOMEM)
        return st;
    h->log(c->ctx, QF_LOG_WARN,
           "cache backend %s is unavailable: %s; "
           "requests run uncached",
           backend, h->error_message(err));
    c->backend = NULL;
    c->backend_instance = NULL;
    c->enabled = 0;
    return QF_OK;
}

static qf_status cache_create(const qf_host *host, qf_context *ctx,
                              void **instance, qf_error *err)
{
    cache_instance *c = host->alloc(sizeof(*c));
    const char *backend = NULL;
    qf_status st;

    if (c == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "cache: out of memory");
    memset(c, 0, sizeof(*c));
    c->host = host;
    c->ctx = ctx;
    pthread_mutex_init(&c->prune_lock, NULL);
    atomic_store(&c->last_prune_ms, host->now_ms(ctx));

    st = read_settings(c, &backend, err);
    if (st == QF_OK && c->enabled)
        st = open_backend(c, backend, err);
    if (st != QF_OK) {
        cache_destroy(c);
        return st;
    }
    *instance = c;
    return QF_OK;
}

/* --- Opportunistic pruning --------------------------------------------- */

static void *prune_main(void *arg)
{
    cache_instance *c = arg;
    qf_error *err = NULL;
    int64_t removed = 0;

    /* NOTE: a plugin cannot allocate a qf_error, so this passes NULL. The
     * backend's error_set calls then rely on the host accepting NULL, which
     * core's qf_error_set does but host.h does not promise. */
    if (c->backend->prune(c->backend_instance, &removed, err) != QF_OK)
        warn(c, "opportunistic prune of the cache failed; expired entries "
                "stay until the next run or `qf cache prune`");
    else if (removed > 0 && c->host->log_enabled(c->ctx, QF_LOG_DEBUG))
        c->host->log(c->ctx, QF_LOG_DEBUG, "pruned %lld expired cache entries",
                     (long long)removed);
    atomic_store(&c->prune_running, 0);
    return NULL;
}

/* Start a prune on a background thread when the interval has passed and
 * no prune is running. The caller waits only for pthread_create. */
static void maybe_prune(cache_instance *c)
{
    int64_t now = c->host->now_ms(c->ctx);
    int64_t last = atomic_load(&c->last_prune_ms);
    int idle = 0;

    if (c->prune_interval_ms == 0 || now - last < c->prune_interval_ms ||
        !atomic_compare_exchange_strong(&c->last_prune_ms, &last, now) ||
        !atomic_compare_exchange_strong(&c->prune_running, &idle, 1))
        return;

    pthread_mutex_lock(&c->prune_lock);
    if (c->has_thread)
        pthread_join(c->prune_thread, NULL); /* finished: prune_running was 0 */
    c->has_thread = pthread_create(&c->prune_thread, NULL, prune_main, c) == 0;
    if (!c->has_thread)
        atomic_store(&c->prune_running, 0);
    pthread_mutex_unlock(&c->prune_lock);
}

/* --- Answering from the cache ------------------------------------------ */

/* Send `text` through stream_write in chunks of one word plus the spaces
 * after it, as an upstream streams it. */
static qf_status replay(const qf_host *h, qf_response *resp, const char *text,
                        size_t len)
{
    size_t start = 0;

    while (start < len) {
        size_t end = start;
        qf_status st;

        while (end < len && text[end] != ' ')
            end++;
        while (end < len && text[end] == ' ')
            end++;
        st = h->stream_write(resp, text + start, end - start);
        if (st != QF_OK)
            return st;
        start = end;
    }
    return QF_OK;
}

static qf_status fill_response(cache_instance *c, const qf_request *req,
                               qf_response *resp, const qf_cache_record *rec,
                               int64_t created_ms)
{
    const qf_host *h = c->host;
    int stream = h->request_stream(req);
    int64_t age = (h->now_ms(c->ctx) - created_ms) / 1000;
    qf_usage none = {sizeof(qf_usage), 0, 0, 0, 0};
    qf_status st;

    st = stream ? replay(h, resp, rec->text, rec->text_len)
                : h->response_set_text(resp, rec->text, rec->text_len);
    if (st == QF_OK && rec->finish_reason != NULL)
        st = h->response_set_finish_reason(resp, rec->finish_reason);
    if (st == QF_OK && rec->model != NULL)
        st = h->response_set_model(resp, rec->model);
    for (size_t i = 0; st == QF_OK && i < rec->image_count; i++)
        st = h->response_add_image(resp, rec->images[i].bytes,
                                   rec->images[i].len, rec->images[i].mime);

    /* A hit processed no tokens upstream, so it reports zero usage and is
     * priced at 0; a stream reports usage only when it asked for it. */
    if (!stream || h->request_stream_usage(req))
        h->response_set_usage(resp, &none);
    h->response_set_cache_hit(resp, 1, age > 0 ? age : 0);
    return st;
}

/* Look the key up; returns QF_ANSWERED on a hit, QF_OK on a miss, or the
 * stream status when the caller stopped a replay. */
static qf_status lookup(cache_instance *c, const char *key,
                        const qf_request *req, qf_response *resp, qf_error *err)
{
    const qf_host *h = c->host;
    void *value = NULL;
    size_t len = 0;
    int64_t created = 0;
    qf_cache_record rec;
    const char *reason = NULL;
    qf_status st;

    st = c->backend->get(c->backend_instance, key, &value, &len, &created, err);
    if (st != QF_OK) {
        if (st != QF_ERR_NOT_FOUND)
            warn(c, "cache lookup of %.12s failed: %s; treated as a miss", key,
                 h->error_message(err));
        clear_error(h, err);
        return QF_OK;
    }

    st = qf_cache_record_parse(value, len, &rec, &reason);
    if (st != QF_OK) {
        warn(c, "cache entry %.12s is unreadable (%s); removed", key, reason);
        c->backend->remove(c->backend_instance, key, err);
        clear_error(h, err);
        h->free(value);
        return QF_OK;
    }

    st = fill_response(c, req, resp, &rec, created);
    qf_cache_record_clear(&rec);
    h->free(value);
    if (st != QF_OK)
        return h->error_set(err, st,
                            "cache: replaying cached answer %.12s "
                            "stopped",
                            key);
    return QF_ANSWERED;
}

/* --- Hooks ------------------------------------------------------------- */

static qf_status cache_on_request(void *instance, void **state, qf_request *req,
                                  qf_response *resp, qf_error *err)
{
    cache_instance *c = instance;
    const qf_host *h = c->host;
    unsigned flags = h->request_cache_flags(req);
    cache_call *call;
    qf_status st;

    if (!c->enabled || (flags & (QF_CACHE_NO_READ | QF_CACHE_NO_STORE)) ==
                           (QF_CACHE_NO_READ | QF_CACHE_NO_STORE))
        return QF_OK;
    maybe_prune(c);

    call = h->alloc(sizeof(*call));
    if (call == NULL)
        return QF_OK;
    memset(call, 0, sizeof(*call));
    if (qf_cache_key_build(h, req, call->key, NULL, err) != QF_OK) {
        warn(c, "no cache key for request %s: %s; not cached",
             h->request_id(req), h->error_message(err));
        clear_error(h, err);
        h->free(call);
        return QF_OK;
    }
    *state = call;

    if (flags & QF_CACHE_NO_READ)
        return QF_OK;
    st = lookup(c, call->key, req, resp, err);
    call->answered = st == QF_ANSWERED;
    return st;
}

static qf_status cache_on_response(void *instance, void **state,
                                   const qf_request *req, qf_response *resp,
                                   qf_error *err)
{
    cache_instance *c = instance;
    const qf_host *h = c->host;
    cache_call *call = *state;
    uint8_t *value = NULL;
    size_t len = 0;

    if (call == NULL || call->answered ||
        (h->request_cache_flags(req) & QF_CACHE_NO_STORE))
        return QF_OK;

    if (qf_cache_record_encode(h, resp, h->now_ms(c->ctx), &value, &len) !=
        QF_OK) {
        warn(c,
             "cannot encode the answer of request %s for the cache; not "
             "stored",
             h->request_id(req));
        return QF_OK;
    }
    if (c->backend->put(c->backend_instance, call->key, value, len,
                        c->ttl_seconds, err) != QF_OK) {
        warn(c,
             "storing cache entry %.12s failed: %s; the answer is "
             "returned uncached",
             call->key, h->error_message(err));
        clear_error(h, err);
    }
    h->free(value);
    return QF_OK;
}

static void cache_on_complete(void *instance, void **state,
                              const qf_request *req, const qf_response *resp,
                              qf_status status)
{
    cache_instance *c = instance;

    c->host->free(*state);
    *state = NULL;
}

/* --- Descriptor -------------------------------------------------------- */

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "enabled", QF_OPT_BOOL, "true", 0,
     "answer from and store into the cache"},
    {sizeof(qf_option_spec), "ttl_seconds", QF_OPT_INT, "86400", 0,
     "lifetime of a stored answer in seconds; 0 or less never expires"},
    {sizeof(qf_option_spec), "backend", QF_OPT_STRING, "file_cache", 0,
     "id of the cache backend plugin"},
    {sizeof(qf_option_spec), "prune_interval_seconds", QF_OPT_INT, "300", 0,
     "minimum seconds between background prunes of expired entries; 0 "
     "turns them off"},
    {sizeof(qf_option_spec), "max_bytes", QF_OPT_INT, NULL, 0,
     "passed to the backend: maximum total size in bytes"},
    {sizeof(qf_option_spec), "dir", QF_OPT_STRING, NULL, 0,
     "passed to the backend: folder of the entries"},
};

static const qf_middleware_vtable vtable = {
    sizeof(qf_middleware_vtable),
    cache_create,
    cache_destroy,
    cache_on_request,
    cache_on_response,
    cache_on_complete,
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "cache",
    "Response cache",
    "1.0.0",
    "Answers repeated requests from a cache backend and stores complete, "
    "successful answers.",
    QF_KIND_MIDDLEWARE,
    NULL,
    options,
    sizeof(options) / sizeof(options[0]),
    NULL,
    &vtable,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

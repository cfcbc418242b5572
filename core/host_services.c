/*
 * host_services.c - the qf_host table every plugin receives: memory,
 * logging, errors, typed configuration, clock, hashing, pricing and cache
 * backends. Request and response accessors come from request.c.
 *
 * A plugin reaches its runtime through its qf_context, so one static table
 * serves every runtime in the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "error.h"
#include "json_canon.h"
#include "log.h"
#include "route.h"

qf_context *qf_context_new(qf_runtime *rt, const char *name,
                           const qf_cnode *settings)
{
    qf_context *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->rt = rt;
    ctx->name = strdup(name);
    ctx->settings = settings ? qf_cnode_copy(settings, qf_cnode_layer(settings))
                             : qf_cnode_new_map(QF_LAYER_DEFAULT);
    pthread_mutex_init(&ctx->lock, NULL);
    if (ctx->name == NULL || ctx->settings == NULL) {
        qf_context_free(ctx);
        return NULL;
    }
    return ctx;
}

void qf_context_free(qf_context *ctx)
{
    if (ctx == NULL)
        return;
    while (ctx->texts != NULL) {
        qf_text_node *next = ctx->texts->next;

        free(ctx->texts);
        ctx->texts = next;
    }
    pthread_mutex_destroy(&ctx->lock);
    qf_cnode_free(ctx->settings);
    free(ctx->name);
    free(ctx);
}

/* Keep `text` (malloc'd, taken over) until the context is freed. */
static const char *context_keep(qf_context *ctx, char *text)
{
    size_t len = strlen(text);
    qf_text_node *node = malloc(sizeof(*node) + len + 1);

    if (node != NULL) {
        memcpy(node->text, text, len + 1);
        pthread_mutex_lock(&ctx->lock);
        node->next = ctx->texts;
        ctx->texts = node;
        pthread_mutex_unlock(&ctx->lock);
    }
    free(text);
    return node ? node->text : NULL;
}

/* --- Memory, logging, errors ----------------------------------------- */

static void *host_alloc(size_t size)
{
    return malloc(size);
}

static void *host_realloc(void *ptr, size_t size)
{
    return realloc(ptr, size);
}

static void host_free(void *ptr)
{
    free(ptr);
}

static int host_log_enabled(const qf_context *ctx, qf_log_level level)
{
    return qf_log_enabled(level);
}

static void host_log(const qf_context *ctx, qf_log_level level, const char *fmt,
                     ...)
{
    va_list ap;

    if (!qf_log_enabled(level))
        return;
    va_start(ap, fmt);
    qf_logv(level, ctx ? ctx->name : "plugin", fmt, ap);
    va_end(ap);
}

static qf_status host_error_set(qf_error *err, qf_status status,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qf_error_setv(err, status, fmt, ap);
    va_end(ap);
    return status;
}

static void host_error_set_http_status(qf_error *err, int http_status)
{
    if (err != NULL)
        err->http_status = http_status;
}

static void host_error_set_retry_after_ms(qf_error *err, int64_t ms)
{
    if (err != NULL)
        err->retry_after_ms = ms;
}

static qf_status host_error_status(const qf_error *err)
{
    return err ? err->status : QF_OK;
}

static const char *host_error_message(const qf_error *err)
{
    return err ? err->message : "";
}

/* --- Context and configuration --------------------------------------- */

static const char *host_context_name(const qf_context *ctx)
{
    return ctx->name;
}

static const char *host_context_state_dir(const qf_context *ctx)
{
    return qf_runtime_state_dir(ctx->rt);
}

static const qf_cnode *setting(const qf_context *ctx, const char *path)
{
    const qf_cnode *node = qf_cnode_path(ctx->settings, path);

    if (node == NULL || qf_cnode_type_of(node) == QF_CNODE_NULL)
        return NULL;
    return node;
}

static qf_status host_config_string(const qf_context *ctx, const char *path,
                                    const char **out, qf_error *err)
{
    const qf_cnode *node = setting(ctx, path);
    char *value = NULL;
    qf_status status;

    if (node == NULL)
        return QF_ERR_NOT_FOUND;
    status = qf_cnode_string(node, &value, err);
    if (status != QF_OK)
        return status;
    *out = context_keep((qf_context *)ctx, value);
    return *out ? QF_OK : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

static qf_status host_config_int(const qf_context *ctx, const char *path,
                                 int64_t *out, qf_error *err)
{
    const qf_cnode *node = setting(ctx, path);

    return node ? qf_cnode_int(node, out, err) : QF_ERR_NOT_FOUND;
}

static qf_status host_config_double(const qf_context *ctx, const char *path,
                                    double *out, qf_error *err)
{
    const qf_cnode *node = setting(ctx, path);

    return node ? qf_cnode_double(node, out, err) : QF_ERR_NOT_FOUND;
}

static qf_status host_config_bool(const qf_context *ctx, const char *path,
                                  int *out, qf_error *err)
{
    const qf_cnode *node = setting(ctx, path);

    return node ? qf_cnode_bool(node, out, err) : QF_ERR_NOT_FOUND;
}

static qf_status host_config_json(const qf_context *ctx, const char *path,
                                  char **out, qf_error *err)
{
    const qf_cnode *node = path && path[0] ? setting(ctx, path) : ctx->settings;

    return node ? qf_cnode_to_json(node, out, err) : QF_ERR_NOT_FOUND;
}

/* --- Clock, hashing, JSON -------------------------------------------- */

static int64_t host_now_ms(const qf_context *ctx)
{
    const qf_clock *clock = qf_runtime_clock(ctx->rt);

    return clock->now_ms(clock->user);
}

static int64_t host_monotonic_ns(const qf_context *ctx)
{
    const qf_clock *clock = qf_runtime_clock(ctx->rt);

    return clock->monotonic_ns(clock->user);
}

static void host_sleep_ms(const qf_context *ctx, int64_t ms)
{
    const qf_clock *clock = qf_runtime_clock(ctx->rt);

    clock->sleep_ms(clock->user, ms);
}

static void host_sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

/* --- Routing, pricing, backends -------------------------------------- */

static const char *host_request_provider(const qf_request *req)
{
    return req->route ? req->route->provider_name : NULL;
}

static const char *host_request_provider_setting(const qf_request *req,
                                                 const char *key)
{
    const cJSON *item;

    if (req->route == NULL || key == NULL || qf_config_key_is_secret(key))
        return NULL;
    item = cJSON_GetObjectItemCaseSensitive(req->route->provider_settings, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static qf_status host_price_lookup(const qf_context *ctx, const char *model,
                                   qf_price *out)
{
    return qf_runtime_price(ctx->rt, model, out);
}

static qf_status host_cost_compute(const qf_context *ctx, const char *model,
                                   const qf_usage *usage, int64_t images,
                                   double *usd, int *unpriced)
{
    return qf_runtime_cost(ctx->rt, model, usage, images, usd, unpriced);
}

static qf_status host_cache_backend_open(const qf_context *ctx,
                                         const char *plugin_id,
                                         const qf_cache_backend_vtable **vtable,
                                         void **instance, qf_error *err)
{
    char name[256];
    const void *vt = NULL;
    qf_status status;

    snprintf(name, sizeof(name), "%s@%s", plugin_id, ctx->name);
    status = qf_runtime_open_instance(ctx->rt, QF_KIND_CACHE_BACKEND, plugin_id,
                                      ctx->settings, name, &vt, instance, err);
    if (status == QF_OK)
        *vtable = vt;
    return status;
}

void qf_host_services_fill(qf_host *host)
{
    host->size = sizeof(qf_host);
    host->abi_major = QF_ABI_MAJOR;
    host->abi_minor = QF_ABI_MINOR;
    host->alloc = host_alloc;
    host->realloc = host_realloc;
    host->free = host_free;
    host->log_enabled = host_log_enabled;
    host->log = host_log;
    host->error_set = host_error_set;
    host->error_set_http_status = host_error_set_http_status;
    host->error_set_retry_after_ms = host_error_set_retry_after_ms;
    host->error_status = host_error_status;
    host->error_message = host_error_message;
    host->context_name = host_context_name;
    host->context_state_dir = host_context_state_dir;
    host->config_string = host_config_string;
    host->config_int = host_config_int;
    host->config_double = host_config_double;
    host->config_bool = host_config_bool;
    host->config_json = host_config_json;
    host->now_ms = host_now_ms;
    host->monotonic_ns = host_monotonic_ns;
    host->sleep_ms = host_sleep_ms;
    host->sha256 = host_sha256;
    host->json_canonicalize = qf_json_canonicalize;
    host->request_provider = host_request_provider;
    host->request_provider_setting = host_request_provider_setting;
    host->price_lookup = host_price_lookup;
    host->cost_compute = host_cost_compute;
    host->cache_backend_open = host_cache_backend_open;
}

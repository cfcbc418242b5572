/*
 * fakehost.c - the fake host services of the rate_limit tests. Only the
 * services the plugin uses do real work; the rest return "absent".
 */
#include "fakehost.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static void *fake_alloc(size_t size)
{
    return malloc(size);
}
static void *fake_realloc(void *p, size_t size)
{
    return realloc(p, size);
}
static void fake_free(void *p)
{
    free(p);
}

static int fake_log_enabled(const qf_context *ctx, qf_log_level level)
{
    return 0;
}

static void fake_log(const qf_context *ctx, qf_log_level level, const char *fmt,
                     ...)
{
}

static qf_status fake_error_set(qf_error *err, qf_status status,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qf_error_setv(err, status, fmt, ap);
    va_end(ap);
    return status;
}

static void fake_error_set_retry_after_ms(qf_error *err, int64_t ms)
{
    err->retry_after_ms = ms;
}

static const fake_context *fctx(const qf_context *ctx)
{
    return (const fake_context *)ctx;
}

static const char *fake_context_name(const qf_context *ctx)
{
    return fctx(ctx)->name;
}

static const char *fake_context_state_dir(const qf_context *ctx)
{
    return fctx(ctx)->state_dir;
}

static const cJSON *setting(const qf_context *ctx, const char *path)
{
    return cJSON_GetObjectItemCaseSensitive(fctx(ctx)->settings, path);
}

static qf_status fake_config_string(const qf_context *ctx, const char *path,
                                    const char **out, qf_error *err)
{
    const cJSON *item = setting(ctx, path);

    if (item == NULL)
        return QF_ERR_NOT_FOUND;
    if (!cJSON_IsString(item))
        return qf_error_set(err, QF_ERR_CONFIG, "%s: expected a string", path);
    *out = item->valuestring;
    return QF_OK;
}

static qf_status fake_config_int(const qf_context *ctx, const char *path,
                                 int64_t *out, qf_error *err)
{
    const cJSON *item = setting(ctx, path);

    if (item == NULL)
        return QF_ERR_NOT_FOUND;
    if (!cJSON_IsNumber(item))
        return qf_error_set(err, QF_ERR_CONFIG, "%s: expected an integer",
                            path);
    *out = (int64_t)item->valuedouble;
    return QF_OK;
}

static qf_status fake_config_double(const qf_context *ctx, const char *path,
                                    double *out, qf_error *err)
{
    const cJSON *item = setting(ctx, path);

    if (item == NULL)
        return QF_ERR_NOT_FOUND;
    if (!cJSON_IsNumber(item))
        return qf_error_set(err, QF_ERR_CONFIG, "%s: expected a number", path);
    *out = item->valuedouble;
    return QF_OK;
}

static int64_t fake_now_ms(const qf_context *ctx)
{
    return fctx(ctx)->now_ms;
}

static void fake_sleep_ms(const qf_context *ctx, int64_t ms)
{
    fake_context *c = (fake_context *)ctx;

    c->now_ms += ms;
    c->slept_ms += ms;
}

/* --- Requests --------------------------------------------------------- */

static const fake_request *freq(const qf_request *req)
{
    return (const fake_request *)req;
}

static const char *fake_request_id(const qf_request *req)
{
    return "req-1";
}

static qf_request_kind fake_request_kind(const qf_request *req)
{
    return freq(req)->kind ? freq(req)->kind : QF_REQUEST_TEXT;
}

static const char *fake_request_model(const qf_request *req)
{
    return freq(req)->model;
}

static size_t fake_request_message_count(const qf_request *req)
{
    return freq(req)->message_count;
}

static qf_status fake_request_message(const qf_request *req, size_t index,
                                      const char **role, const char **content,
                                      size_t *len)
{
    if (index >= freq(req)->message_count)
        return QF_ERR_NOT_FOUND;
    *role = freq(req)->roles[index];
    *content = freq(req)->contents[index];
    *len = strlen(*content);
    return QF_OK;
}

static const char *lookup(const char *const *names, const char *const *values,
                          size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0)
            return values[i];
    }
    return NULL;
}

static const char *fake_request_param(const qf_request *req, const char *name)
{
    return lookup(freq(req)->param_names, freq(req)->param_values,
                  freq(req)->param_count, name);
}

static const char *fake_request_option(const qf_request *req, const char *name)
{
    return lookup(freq(req)->option_names, freq(req)->option_values,
                  freq(req)->option_count, name);
}

/* --- Responses -------------------------------------------------------- */

static const fake_response *fresp(const qf_response *resp)
{
    return (const fake_response *)resp;
}

static void fake_response_usage(const qf_response *resp, qf_usage *out)
{
    *out = fresp(resp)->usage;
}

static size_t fake_response_image_count(const qf_response *resp)
{
    return fresp(resp)->images;
}

static int fake_response_cache_hit(const qf_response *resp, int64_t *age)
{
    if (age != NULL)
        *age = 0;
    return fresp(resp)->cache_hit;
}

static const char *fake_response_model(const qf_response *resp)
{
    return fresp(resp)->model;
}

/* --- Pricing ---------------------------------------------------------- */

static qf_status fake_price_lookup(const qf_context *ctx, const char *model,
                                   qf_price *out)
{
    return qf_pricing_lookup(fctx(ctx)->pricing, model, out);
}

static qf_status fake_cost_compute(const qf_context *ctx, const char *model,
                                   const qf_usage *usage, int64_t images,
                                   double *usd, int *unpriced)
{
    return qf_pricing_cost(fctx(ctx)->pricing, model, usage, images, usd,
                           unpriced);
}

static qf_host host_table;

const qf_host *fake_host(void)
{
    qf_host *h = &host_table;

    h->size = sizeof(*h);
    h->abi_major = QF_ABI_MAJOR;
    h->abi_minor = QF_ABI_MINOR;
    h->alloc = fake_alloc;
    h->realloc = fake_realloc;
    h->free = fake_free;
    h->log_enabled = fake_log_enabled;
    h->log = fake_log;
    h->error_set = fake_error_set;
    h->error_set_retry_after_ms = fake_error_set_retry_after_ms;
    h->context_name = fake_context_name;
    h->context_state_dir = fake_context_state_dir;
    h->config_string = fake_config_string;
    h->config_int = fake_config_int;
    h->config_double = fake_config_double;
    h->now_ms = fake_now_ms;
    h->sleep_ms = fake_sleep_ms;
    h->request_id = fake_request_id;
    h->request_kind = fake_request_kind;
    h->request_model = fake_request_model;
    h->request_message_count = fake_request_message_count;
    h->request_message = fake_request_message;
    h->request_param = fake_request_param;
    h->request_option = fake_request_option;
    h->response_usage = fake_response_usage;
    h->response_image_count = fake_response_image_count;
    h->response_cache_hit = fake_response_cache_hit;
    h->response_model = fake_response_model;
    h->price_lookup = fake_price_lookup;
    h->cost_compute = fake_cost_compute;
    return h;
}

const qf_plugin_descriptor *fake_load_rate_limit(void)
{
    char path[4096];
    void *handle;
    qf_plugin_entry_fn entry;

    snprintf(path, sizeof(path), "%s/plugins/rate_limit.so", QF_TEST_BUILD_DIR);
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    *(void **)&entry = dlsym(handle, QF_PLUGIN_ENTRY_SYMBOL);
    return entry ? entry() : NULL;
}

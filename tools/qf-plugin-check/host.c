/*
 * host.c - the test host of qf-plugin-check: a complete qf_host table over
 * a tiny context of its own and core's requests and responses, so a plugin
 * runs without any configuration file or runtime.
 *
 * Settings are flat "dotted.key" -> text pairs. The clock is real but
 * sleep_ms only advances a virtual offset, so retry loops finish at once.
 * Every log line and error message is scanned for the secret test value.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "check.h"
#include "host_objects.h"
#include "json_canon.h"

static int verbose;
static int secret_leaks;
static int64_t slept_ms;
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;

void qf_check_host_set_verbose(int value)
{
    verbose = value;
}

int qf_check_host_secret_leaks(void)
{
    int leaks;

    pthread_mutex_lock(&host_lock);
    leaks = secret_leaks;
    pthread_mutex_unlock(&host_lock);
    return leaks;
}

static void scan_for_secret(const char *text)
{
    if (text == NULL || strstr(text, QF_CHECK_SECRET_VALUE) == NULL)
        return;
    pthread_mutex_lock(&host_lock);
    secret_leaks++;
    pthread_mutex_unlock(&host_lock);
}

/* --- Memory, logging, errors ---------------------------------------- */

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
    return 1;
}

static void host_log(const qf_context *ctx, qf_log_level level, const char *fmt,
                     ...)
{
    char line[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    scan_for_secret(line);
    if (verbose)
        fprintf(stderr, "  log [%s] %s\n", ctx ? ctx->name : "-", line);
}

static qf_status host_error_set(qf_error *err, qf_status status,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qf_error_setv(err, status, fmt, ap);
    va_end(ap);
    if (err != NULL)
        scan_for_secret(err->message);
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
    return err != NULL ? err->status : QF_OK;
}

static const char *host_error_message(const qf_error *err)
{
    return err != NULL ? err->message : "";
}

/* --- Context and settings ------------------------------------------- */

static const char *host_context_name(const qf_context *ctx)
{
    return ctx->name;
}

static const char *host_context_state_dir(const qf_context *ctx)
{
    return ctx->state_dir;
}

static const char *setting(const qf_context *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->setting_count; i++)
        if (strcmp(ctx->keys[i], path) == 0)
            return ctx->values[i];
    return NULL;
}

static qf_status wrong_type(const char *path, const char *value,
                            const char *type, qf_error *err)
{
    return host_error_set(err, QF_ERR_CONFIG,
                          "check:1:1: setting %s: \"%.40s\" is not %s; fix "
                          "the value",
                          path, value, type);
}

static qf_status host_config_string(const qf_context *ctx, const char *path,
                                    const char **out, qf_error *err)
{
    const char *value = setting(ctx, path);

    if (value == NULL)
        return QF_ERR_NOT_FOUND;
    if (value[0] == '{' || value[0] == '[')
        return wrong_type(path, value, "a string", err);
    *out = value;
    return QF_OK;
}

static qf_status host_config_int(const qf_context *ctx, const char *path,
                                 int64_t *out, qf_error *err)
{
    const char *value = setting(ctx, path);
    char *end;
    long long n;

    if (value == NULL)
        return QF_ERR_NOT_FOUND;
    errno = 0;
    n = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return wrong_type(path, value, "an integer", err);
    *out = n;
    return QF_OK;
}

static qf_status host_config_double(const qf_context *ctx, const char *path,
                                    double *out, qf_error *err)
{
    const char *value = setting(ctx, path);
    char *end;
    double d;

    if (value == NULL)
        return QF_ERR_NOT_FOUND;
    errno = 0;
    d = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0')
        return wrong_type(path, value, "a number", err);
    *out = d;
    return QF_OK;
}

int qf_check_parse_bool(const char *value, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "True", "TRUE"};
    static const char *const no[] = {"false", "no", "off", "False", "FALSE"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(value, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(value, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static qf_status host_config_bool(const qf_context *ctx, const char *path,
                                  int *out, qf_error *err)
{
    const char *value = setting(ctx, path);

    if (value == NULL)
        return QF_ERR_NOT_FOUND;
    if (qf_check_parse_bool(value, out) != 0)
        return wrong_type(path, value, "a boolean", err);
    return QF_OK;
}

static qf_status host_config_json(const qf_context *ctx, const char *path,
                                  char **out, qf_error *err)
{
    const char *value = setting(ctx, path);
    cJSON *parsed;

    if (value == NULL)
        return QF_ERR_NOT_FOUND;
    parsed = cJSON_Parse(value);
    if (parsed == NULL)
        parsed = cJSON_CreateString(value);
    *out = parsed != NULL ? cJSON_PrintUnformatted(parsed) : NULL;
    cJSON_Delete(parsed);
    if (*out == NULL)
        return host_error_set(err, QF_ERR_NOMEM, "out of memory");
    return QF_OK;
}

/* --- Clock, hashing, JSON ------------------------------------------- */

static int64_t slept(void)
{
    int64_t ms;

    pthread_mutex_lock(&host_lock);
    ms = slept_ms;
    pthread_mutex_unlock(&host_lock);
    return ms;
}

static int64_t host_now_ms(const qf_context *ctx)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + slept();
}

static int64_t host_monotonic_ns(const qf_context *ctx)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + slept() * 1000000;
}

static void host_sleep_ms(const qf_context *ctx, int64_t ms)
{
    pthread_mutex_lock(&host_lock);
    if (ms > 0)
        slept_ms += ms;
    pthread_mutex_unlock(&host_lock);
}

static void host_sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

/* --- Pricing and cache backends ------------------------------------- */

static qf_status host_price_lookup(const qf_context *ctx, const char *model,
                                   qf_price *out)
{
    return QF_ERR_NOT_FOUND;
}

static qf_status host_cost_compute(const qf_context *ctx, const char *model,
                                   const qf_usage *usage, int64_t images,
                                   double *usd, int *unpriced)
{
    *usd = 0.0;
    if (unpriced != NULL)
        *unpriced = 1;
    return QF_OK;
}

static qf_status
host_cache_backend_open(const qf_context *ctx, const char *plugin_id,
                        const struct qf_cache_backend_vtable **vtable,
                        void **instance, qf_error *err)
{
    *vtable = qf_check_memory_cache();
    *instance = qf_check_memory_cache_instance();
    return QF_OK;
}

/* --- The table ------------------------------------------------------ */

static void fill_services(qf_host *h)
{
    h->size = sizeof(*h);
    h->abi_major = QF_ABI_MAJOR;
    h->abi_minor = QF_ABI_MINOR;
    h->alloc = host_alloc;
    h->realloc = host_realloc;
    h->free = host_free;
    h->log_enabled = host_log_enabled;
    h->log = host_log;
    h->error_set = host_error_set;
    h->error_set_http_status = host_error_set_http_status;
    h->error_set_retry_after_ms = host_error_set_retry_after_ms;
    h->error_status = host_error_status;
    h->error_message = host_error_message;
    h->context_name = host_context_name;
    h->context_state_dir = host_context_state_dir;
    h->config_string = host_config_string;
    h->config_int = host_config_int;
    h->config_double = host_config_double;
    h->config_bool = host_config_bool;
    h->config_json = host_config_json;
    h->now_ms = host_now_ms;
    h->monotonic_ns = host_monotonic_ns;
    h->sleep_ms = host_sleep_ms;
    h->sha256 = host_sha256;
    h->json_canonicalize = qf_json_canonicalize;
    h->price_lookup = host_price_lookup;
    h->cost_compute = host_cost_compute;
    h->cache_backend_open = host_cache_backend_open;
}

static qf_host table;

static void fill_table(void)
{
    fill_services(&table);
    qf_check_fill_objects(&table);
}

const qf_host *qf_check_host(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, fill_table);
    return &table;
}

/*
 * openai.c - the openai provider plugin: its descriptor and option schema,
 * and the instance lifecycle. create reads the instance settings through
 * the host's config services and builds the header list once; chat.c and
 * image.c serve the calls, transport.c sends them.
 */
#include "openai_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define DEFAULT_BASE_URL           "https://api.openai.com/v1"
#define DEFAULT_MAX_RESPONSE_BYTES (16 * 1024 * 1024)

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "base_url", QF_OPT_STRING, DEFAULT_BASE_URL, 0,
     "URL of the OpenAI-compatible API, up to and including /v1"},
    {sizeof(qf_option_spec), "api_key", QF_OPT_STRING, NULL, QF_OPT_SECRET,
     "API key sent as a bearer token; optional for local servers"},
    {sizeof(qf_option_spec), "model", QF_OPT_STRING, NULL, 0,
     "model used when the request names none"},
    {sizeof(qf_option_spec), "timeout.connect_seconds", QF_OPT_INT, "10", 0,
     "seconds allowed to open the connection"},
    {sizeof(qf_option_spec), "timeout.total_seconds", QF_OPT_INT, "120", 0,
     "seconds allowed for one attempt, streaming included"},
    {sizeof(qf_option_spec), "retry.max_attempts", QF_OPT_INT, "3", 0,
     "attempts in total on HTTP 429, 5xx and connection failures"},
    {sizeof(qf_option_spec), "retry.max_wait_seconds", QF_OPT_INT, "30", 0,
     "seconds of waiting between attempts, at most, summed over a call"},
    {sizeof(qf_option_spec), "max_response_bytes", QF_OPT_INT, "16777216", 0,
     "bytes of response body accepted, at most"},
    {sizeof(qf_option_spec), "headers", QF_OPT_MAP, NULL, 0,
     "extra HTTP headers sent with every request; never logged"},
};

static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_STREAM,
                                           QF_CAP_IMAGE, NULL};

static qf_status read_string(openai_instance *oa, const char *path,
                             const char *fallback, char **out, qf_error *err)
{
    const char *value = NULL;
    qf_status status = oa->host->config_string(oa->ctx, path, &value, err);

    if (status == QF_ERR_NOT_FOUND)
        value = fallback;
    else if (status != QF_OK)
        return status;

    *out = NULL;
    if (!value)
        return QF_OK;
    *out = strdup(value);
    return *out ? QF_OK
                : oa->host->error_set(err, QF_ERR_NOMEM,
                                      "openai: out of memory");
}

/* Read an integer setting within [min, max], or `fallback` when absent. */
static qf_status read_int(openai_instance *oa, const char *path,
                          int64_t fallback, int64_t min, int64_t max,
                          int64_t *out, qf_error *err)
{
    qf_status status = oa->host->config_int(oa->ctx, path, out, err);

    if (status == QF_ERR_NOT_FOUND) {
        *out = fallback;
        return QF_OK;
    }
    if (status != QF_OK)
        return status;
    if (*out < min || *out > max)
        return oa->host->error_set(
            err, QF_ERR_CONFIG,
            "openai: %s is %lld; expected a whole number from %lld to %lld",
            path, (long long)*out, (long long)min, (long long)max);
    return QF_OK;
}

static qf_status read_limits(openai_instance *oa, qf_error *err)
{
    int64_t value;
    qf_status status;

    if ((status =
             read_int(oa, "timeout.connect_seconds", 10, 1, 3600, &value, err)))
        return status;
    oa->connect_timeout_ms = value * 1000;
    if ((status =
             read_int(oa, "timeout.total_seconds", 120, 1, 86400, &value, err)))
        return status;
    oa->total_timeout_ms = value * 1000;
    if ((status = read_int(oa, "retry.max_attempts", 3, 1, 100, &value, err)))
        return status;
    oa->max_attempts = (int)value;
    if ((status =
             read_int(oa, "retry.max_wait_seconds", 30, 0, 86400, &value, err)))
        return status;
    oa->max_wait_ms = value * 1000;
    if ((status = read_int(oa, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES,
                           1024, INT64_C(1) << 32, &value, err)))
        return status;
    oa->max_response_bytes = (size_t)value;
    return QF_OK;
}

/* Non-zero when `text` could break out of one header line. */
static int has_line_break(const char *text)
{
    return strpbrk(text, "\r\n") != NULL;
}

static qf_status add_header(openai_instance *oa, const char *name,
                            const char *value, qf_error *err)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    struct curl_slist *grown = NULL;

    if (line) {
        /* "Name:" with nothing after it removes a header libcurl adds. */
        snprintf(line, len, value[0] ? "%s: %s" : "%s:", name, value);
        grown = curl_slist_append(oa->headers, line);
        memset(line, 0, len); /* may hold the API key */
        free(line);
    }
    if (!grown)
        return oa->host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
    oa->headers = grown;
    return QF_OK;
}

/* Add the configured `headers` map. Values are never logged, because
 * proxies put credentials there. */
static qf_status add_extra_headers(openai_instance *oa, qf_error *err)
{
    char *text = NULL;
    qf_status status = oa->host->config_json(oa->ctx, "headers", &text, err);
    cJSON *map = NULL;
    const cJSON *entry;

    if (status == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (status != QF_OK)
        return status;

    map = cJSON_Parse(text);
    if (!cJSON_IsObject(map)) {
        status = oa->host->error_set(err, QF_ERR_CONFIG,
                                     "openai: headers must be a map of header "
                                     "names to string values");
        goto out;
    }
    cJSON_ArrayForEach(entry, map)
    {
        char number[32];
        const char *value = cJSON_IsString(entry) ? entry->valuestring : NULL;

        /* An unquoted YAML value such as 429 may arrive as a number. */
        if (cJSON_IsNumber(entry)) {
            snprintf(number, sizeof(number), "%.15g", entry->valuedouble);
            value = number;
        }
        if (!value || has_line_break(entry->string) || has_line_break(value) ||
            !entry->string[0] || strchr(entry->string, ':')) {
            status = oa->host->error_set(
                err, QF_ERR_CONFIG,
                "openai: headers.%s is invalid; expected a header name without "
                "':' and a one-line string value",
                entry->string);
            goto out;
        }
        if ((status = add_header(oa, entry->string, value, err)))
            goto out;
    }

out:
    cJSON_Delete(map);
    oa->host->free(text);
    return status;
}

static qf_status add_authorization(openai_instance *oa, const char *key,
                                   qf_error *err)
{
    size_t len = strlen("Bearer ") + strlen(key) + 1;
    char *value = malloc(len);
    qf_status status;

    if (!value)
        return oa->host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
    snprintf(value, len, "Bearer %s", key);
    status = add_header(oa, "Authorization", value, err);
    memset(value, 0, len);
    free(value);
    return status;
}

static qf_status build_headers(openai_instance *oa, qf_error *err)
{
    char *key = NULL;
    qf_status status;

    /* "Expect:" stops libcurl from waiting for 100 Continue on large bodies. */
    if ((status = add_header(oa, "Content-Type", "application/json", err)) ||
        (status = add_header(oa, "Expect", "", err)))
        return status;

    if ((status = read_string(oa, "api_key", NULL, &key, err)))
        return status;
    if (key && has_line_break(key))
        status = oa->host->error_set(err, QF_ERR_CONFIG,
                                     "openai: api_key contains a line break; "
                                     "check the value or its ${VAR}");
    else if (key && key[0])
        status = add_authorization(oa, key, err);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }

    if (status == QF_OK)
        status = add_extra_headers(oa, err);
    return status;
}

/* True when base_url has a userinfo part. A URL libcurl cannot parse
 * counts as one when it contains '@' at all. */
static int has_credentials(const char *base_url)
{
    CURLU *url = curl_url();
    char *user = NULL;
    int found;

    if (!url)
        return strchr(base_url, '@') != NULL;
    if (curl_url_set(url, CURLUPART_URL, base_url, CURLU_GUESS_SCHEME) !=
        CURLUE_OK)
        found = strchr(base_url, '@') != NULL;
    else
        found = curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK;
    curl_free(user);
    curl_url_cleanup(url);
    return found;
}

/* Reject a base_url that carries credentials or is not http(s). The URL
 * is logged at debug level, so a user:password in it would leak, and the
 * message never repeats such a URL. */
static qf_status check_base_url(openai_instance *oa, qf_error *err)
{
    if (has_credentials(oa->base_url))
        return oa->host->error_set(
            err, QF_ERR_CONFIG,
            "openai: base_url contains credentials; remove them and use "
            "api_key or the headers setting");
    if (strncmp(oa->base_url, "http://", 7) != 0 &&
        strncmp(oa->base_url, "https://", 8) != 0)
        return oa->host->error_set(
            err, QF_ERR_CONFIG,
            "openai: base_url \"%s\" is invalid; expected "
            "an http:// or https:// URL such as %s",
            oa->base_url, DEFAULT_BASE_URL);
    return QF_OK;
}

/* Settings other than headers; base_url loses its trailing slashes. */
static qf_status read_settings(openai_instance *oa, qf_error *err)
{
    qf_status status;

    if ((status =
             read_string(oa, "base_url", DEFAULT_BASE_URL, &oa->base_url, err)))
        return status;
    /* read_string never leaves base_url NULL here: the fallback is set and
     * host->config_string returns QF_OK only with a value. */
    size_t len = strlen(oa->base_url); /* NOLINT(clang-analyzer-core.*) */
    while (len > 0 && oa->base_url[len - 1] == '/')
        oa->base_url[--len] = '\0';
    if ((status = check_base_url(oa, err)))
        return status;

    if ((status = read_string(oa, "model", NULL, &oa->model, err)))
        return status;
    return read_limits(oa, err);
}

static void openai_destroy(void *instance)
{
    openai_instance *oa = instance;

    if (!oa)
        return;
    for (size_t i = 0; i < oa->pool_count; i++)
        curl_easy_cleanup(oa->pool[i]);
    for (struct curl_slist *h = oa->headers; h; h = h->next)
        memset(h->data, 0, strlen(h->data)); /* the Authorization line */
    curl_slist_free_all(oa->headers);
    pthread_mutex_destroy(&oa->lock);
    free(oa->base_url);
    free(oa->model);
    free(oa);
    curl_global_cleanup();
}

static qf_status openai_create(const qf_host *host, qf_context *ctx,
                               void **instance, qf_error *err)
{
    openai_instance *oa;
    qf_status status;

    /* Thread-safe and reference-counted since libcurl 7.84. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return host->error_set(err, QF_ERR_INTERNAL,
                               "openai: libcurl could not be initialised");
    oa = calloc(1, sizeof(*oa));
    if (!oa) {
        curl_global_cleanup();
        return host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
    }
    oa->host = host;
    oa->ctx = ctx;
    pthread_mutex_init(&oa->lock, NULL);
    oa->jitter_state =
        (uint64_t)host->monotonic_ns(ctx) ^ (uint64_t)(uintptr_t)oa;

    status = read_settings(oa, err);
    if (status == QF_OK)
        status = build_headers(oa, err);
    if (status != QF_OK) {
        openai_destroy(oa);
        return status;
    }

    if (host->log_enabled(ctx, QF_LOG_DEBUG))
        host->log(ctx, QF_LOG_DEBUG,
                  "openai instance ready: base_url %s, model %s, %d attempts",
                  oa->base_url, oa->model ? oa->model : "(per request)",
                  oa->max_attempts);
    *instance = oa;
    return QF_OK;
}

static const qf_provider_vtable provider = {
    sizeof(qf_provider_vtable),
    openai_create,
    openai_destroy,
    qf_openai_complete,
    qf_openai_generate_image,
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "openai",
    "OpenAI",
    "1.0.0",
    "Chat completions, streaming and image generation against any "
    "OpenAI-compatible API.",
    QF_KIND_PROVIDER,
    capabilities,
    options,
    sizeof(options) / sizeof(options[0]),
    &provider,
    NULL,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

/*
 * ollama.c - the ollama provider plugin: its descriptor and option schema,
 * reading an instance's settings, and the text completion hook. The hook
 * builds the body and sends it to /api/chat or /api/generate with retries.
 * It then fills the response from the reply, streamed as NDJSON or whole.
 */
#include "ollama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BASE_URL           "http://127.0.0.1:11434"
#define DEFAULT_MAX_RESPONSE_BYTES (16 * 1024 * 1024)

static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_STREAM, NULL};

static const qf_option_spec option_specs[] = {
    {sizeof(qf_option_spec), "base_url", QF_OPT_STRING, DEFAULT_BASE_URL, 0,
     "URL of the Ollama server"},
    {sizeof(qf_option_spec), "model", QF_OPT_STRING, NULL, 0,
     "model used when the role sets none, e.g. llama3.2"},
    {sizeof(qf_option_spec), "keep_alive", QF_OPT_STRING, NULL, 0,
     "how long Ollama keeps the model loaded: a duration like \"5m\" or "
     "seconds"},
    {sizeof(qf_option_spec), "endpoint", QF_OPT_STRING, "chat", 0,
     "chat for /api/chat, or generate for /api/generate with system and "
     "prompt"},
    {sizeof(qf_option_spec), "options", QF_OPT_MAP, NULL, 0,
     "Ollama model options (num_ctx, top_k, ...) sent with every request"},
    {sizeof(qf_option_spec), "timeout.connect_seconds", QF_OPT_INT, "10", 0,
     "seconds to wait for the connection"},
    {sizeof(qf_option_spec), "timeout.total_seconds", QF_OPT_INT, "120", 0,
     "seconds one attempt may take in total, streaming included"},
    {sizeof(qf_option_spec), "retry.max_attempts", QF_OPT_INT, "3", 0,
     "attempts per request, the first included"},
    {sizeof(qf_option_spec), "retry.max_wait_seconds", QF_OPT_INT, "30", 0,
     "total seconds spent waiting between attempts"},
    {sizeof(qf_option_spec), "max_response_bytes", QF_OPT_INT, "16777216", 0,
     "largest reply accepted, in bytes"},
    {sizeof(qf_option_spec), "headers", QF_OPT_MAP, NULL, QF_OPT_SECRET,
     "extra HTTP headers sent with every request; never logged"},
};

/* --- Settings ------------------------------------------------------------- */

static qf_status read_string(ollama *inst, const char *key,
                             const char *fallback, char **out, qf_error *err)
{
    const char *value = NULL;
    qf_status status = inst->host->config_string(inst->ctx, key, &value, err);

    if (status == QF_ERR_NOT_FOUND)
        value = fallback;
    else if (status != QF_OK)
        return status;
    *out = NULL;
    if (value == NULL)
        return QF_OK;
    *out = strdup(value);
    return *out
               ? QF_OK
               : inst->host->error_set(err, QF_ERR_NOMEM,
                                       "ollama: out of memory reading %s", key);
}

/* An integer setting within [min, max]; absent keys keep *out. */
static qf_status read_int(ollama *inst, const char *key, int64_t min,
                          int64_t max, int64_t *out, qf_error *err)
{
    int64_t value;
    qf_status status = inst->host->config_int(inst->ctx, key, &value, err);

    if (status == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (status != QF_OK)
        return status;
    if (value < min || value > max)
        return inst->host->error_set(
            err, QF_ERR_CONFIG,
            "ollama: %s is %lld; expected a value from %lld to %lld", key,
            (long long)value, (long long)min, (long long)max);
    *out = value;
    return QF_OK;
}

/* A map setting as a cJSON object in *out, NULL when absent. */
static qf_status read_map(ollama *inst, const char *key, cJSON **out,
                          qf_error *err)
{
    char *text = NULL;
    qf_status status = inst->host->config_json(inst->ctx, key, &text, err);

    *out = NULL;
    if (status == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (status != QF_OK)
        return status;
    *out = cJSON_Parse(text);
    inst->host->free(text);
    if (cJSON_IsNull(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return QF_OK;
    }
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return inst->host->error_set(err, QF_ERR_CONFIG,
                                     "ollama: %s must be a map", key);
    }
    return QF_OK;
}

/* keep_alive: a number of seconds stays a number, anything else a string. */
static qf_status read_keep_alive(ollama *inst, qf_error *err)
{
    char *text = NULL, *end;
    double seconds;
    qf_status status = read_string(inst, "keep_alive", NULL, &text, err);

    if (status != QF_OK || text == NULL)
        return status;
    seconds = strtod(text, &end);
    if (end != text && *end == '\0')
        inst->keep_alive = cJSON_CreateNumber(seconds);
    else
        inst->keep_alive = cJSON_CreateString(text);
    free(text);
    return inst->keep_alive ? QF_OK
                            : inst->host->error_set(
                                  err, QF_ERR_NOMEM,
                                  "ollama: out of memory reading keep_alive");
}

static qf_status read_endpoint(ollama *inst, qf_error *err)
{
    char *endpoint = NULL;
    qf_status status = read_string(inst, "endpoint", "chat", &endpoint, err);

    if (status != QF_OK)
        return status;
    if (strcmp(endpoint, "generate") == 0)
        inst->use_generate = 1;
    else if (strcmp(endpoint, "chat") != 0)
        status = inst->host->error_set(
            err, QF_ERR_CONFIG,
            "ollama: endpoint is \"%s\"; expected chat or generate", endpoint);
    free(endpoint);
    return status;
}

/* "Name: value" for one configured header. YAML may type a value as a
 * number or boolean; it is sent as written. Returns -1 for other values,
 * line breaks or a colon in the name. */
static int header_line(const cJSON *item, char *line, size_t size)
{
    char *printed = NULL;
    const char *value;
    int n;

    if (strpbrk(item->string, "\r\n:") != NULL || item->string[0] == '\0')
        return -1;
    if (cJSON_IsString(item))
        value = item->valuestring;
    else if (cJSON_IsNumber(item) || cJSON_IsBool(item))
        value = printed = cJSON_PrintUnformatted(item);
    else
        return -1;
    if (value == NULL || strpbrk(value, "\r\n") != NULL) {
        cJSON_free(printed);
        return -1;
    }
    n = snprintf(line, size, "%s: %s", item->string, value);
    cJSON_free(printed);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Content-Type plus every configured header, checked for line breaks. */
static qf_status read_headers(ollama *inst, qf_error *err)
{
    const qf_host *host = inst->host;
    cJSON *map = NULL;
    const cJSON *item;
    struct curl_slist *list;
    char line[4096];
    qf_status status = read_map(inst, "headers", &map, err);

    if (status != QF_OK)
        return status;
    inst->headers = curl_slist_append(NULL, "Content-Type: application/json");
    cJSON_ArrayForEach(item, map)
    {
        if (header_line(item, line, sizeof(line)) != 0) {
            /* The value may be a secret: name the header only. */
            status = host->error_set(err, QF_ERR_CONFIG,
                                     "ollama: headers.%s must be a one-line "
                                     "string, number or boolean",
                                     item->string);
            break;
        }
        list = inst->headers ? curl_slist_append(inst->headers, line) : NULL;
        if (list == NULL) {
            status = host->error_set(err, QF_ERR_NOMEM,
                                     "ollama: out of memory reading headers");
            break;
        }
        inst->headers = list;
    }
    cJSON_Delete(map);
    return status;
}

/* base_url must parse as an http or https URL without credentials: URLs
 * appear in error messages and logs, so secrets belong in headers. A value
 * without a scheme ("127.0.0.1:11434", as OLLAMA_HOST is often written)
 * means http. */
static qf_status check_base_url(ollama *inst, qf_error *err)
{
    CURLU *url = curl_url();
    char *scheme = NULL, *user = NULL, *full = NULL;
    qf_status status = QF_OK;

    if (url == NULL)
        return inst->host->error_set(err, QF_ERR_NOMEM,
                                     "ollama: out of memory parsing base_url");
    if (strstr(inst->base_url, "://") == NULL) {
        size_t len = strlen(inst->base_url) + sizeof("http://");

        full = malloc(len);
        if (full == NULL) {
            curl_url_cleanup(url);
            return inst->host->error_set(
                err, QF_ERR_NOMEM, "ollama: out of memory parsing base_url");
        }
        snprintf(full, len, "http://%s", inst->base_url);
        free(inst->base_url);
        inst->base_url = full;
    }
    if (curl_url_set(url, CURLUPART_URL, inst->base_url, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        status = inst->host->error_set(err, QF_ERR_CONFIG,
                                       "ollama: base_url \"%s\" is not an http "
                                       "or https URL; expected e.g. %s",
                                       inst->base_url, DEFAULT_BASE_URL);
    else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK)
        status = inst->host->error_set(
            err, QF_ERR_CONFIG,
            "ollama: base_url contains credentials; remove them and send them "
            "with the headers setting");
    curl_free(scheme);
    curl_free(user);
    curl_url_cleanup(url);
    return status;
}

static qf_status read_settings(ollama *inst, qf_error *err)
{
    int64_t connect = 10, total = 120, attempts = 3, wait = 30;
    int64_t max_bytes = DEFAULT_MAX_RESPONSE_BYTES;
    size_t len;
    qf_status status;

    if ((status = read_string(inst, "base_url", DEFAULT_BASE_URL,
                              &inst->base_url, err)) != QF_OK ||
        (status = read_string(inst, "model", NULL, &inst->model, err)) !=
            QF_OK ||
        (status = read_keep_alive(inst, err)) != QF_OK ||
        (status = read_endpoint(inst, err)) != QF_OK ||
        (status = read_map(inst, "options", &inst->options, err)) != QF_OK ||
        (status = read_int(inst, "timeout.connect_seconds", 1, 3600, &connect,
                           err)) != QF_OK ||
        (status = read_int(inst, "timeout.total_seconds", 1, 86400, &total,
                           err)) != QF_OK ||
        (status = read_int(inst, "retry.max_attempts", 1, 100, &attempts,
                           err)) != QF_OK ||
        (status = read_int(inst, "retry.max_wait_seconds", 0, 86400, &wait,
                           err)) != QF_OK ||
        (status = read_int(inst, "max_response_bytes", 1024, INT64_C(1) << 32,
                           &max_bytes, err)) != QF_OK ||
        (status = read_headers(inst, err)) != QF_OK)
        return status;

    status = check_base_url(inst, err);
    if (status != QF_OK)
        return status;

    len = strlen(inst->base_url);
    while (len > 0 && inst->base_url[len - 1] == '/')
        inst->base_url[--len] = '\0';
    inst->connect_timeout_s = (long)connect;
    inst->total_timeout_s = (long)total;
    inst->max_attempts = (int)attempts;
    inst->max_wait_ms = wait * 1000;
    inst->max_response_bytes = (size_t)max_bytes;
    return QF_OK;
}

/* --- Lifecycle --------------------------------------------------------- */

static void ollama_destroy(void *instance)
{
    ollama *inst = instance;

    if (inst == NULL)
        return;
    ollama_pool_drain(inst);
    pthread_mutex_destroy(&inst->pool_lock);
    curl_slist_free_all(inst->headers);
    cJSON_Delete(inst->keep_alive);
    cJSON_Delete(inst->options);
    free(inst->base_url);
    free(inst->model);
    free(inst);
}

/* Reads the settings once; libcurl's global setup is thread-safe since
 * 7.84, and the plugin is never unloaded, so it is never torn down. */
static qf_status ollama_create(const qf_host *host, qf_context *ctx,
                               void **instance, qf_error *err)
{
    ollama *inst;
    qf_status status;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return host->error_set(err, QF_ERR_INTERNAL,
                               "ollama: libcurl failed to initialise");
    inst = calloc(1, sizeof(*inst));
    if (inst == NULL)
        return host->error_set(err, QF_ERR_NOMEM,
                               "ollama: out of memory creating the instance");
    inst->host = host;
    inst->ctx = ctx;
    pthread_mutex_init(&inst->pool_lock, NULL);

    status = read_settings(inst, err);
    if (status != QF_OK) {
        ollama_destroy(inst);
        return status;
    }
    *instance = inst;
    return QF_OK;
}

/* --- Completion ---------------------------------------------------------- */

static qf_status make_url(ollama_call *call, char **url)
{
    const char *path = call->inst->use_generate ? "/api/generate" : "/api/chat";
    size_t len = strlen(call->inst->base_url) + strlen(path) + 1;

    *url = malloc(len);
    if (*url == NULL)
        return call->inst->host->error_set(
            call->err, QF_ERR_NOMEM, "ollama: out of memory building the URL");
    snprintf(*url, len, "%s%s", call->inst->base_url, path);
    call->url = *url;
    return QF_OK;
}

/* The name of a status for log lines, in the words of the host's status
 * names ("stream_cut"). Plugins cannot call the core's table, so this is a
 * copy of it. */
static const char *status_name(qf_status status)
{
    switch (status) {
    case QF_OK: return "ok";
    case QF_ANSWERED: return "answered";
    case QF_ERR_INVALID: return "invalid";
    case QF_ERR_NOMEM: return "out_of_memory";
    case QF_ERR_NOT_FOUND: return "not_found";
    case QF_ERR_UNSUPPORTED: return "unsupported";
    case QF_ERR_IO: return "io";
    case QF_ERR_CONFIG: return "config";
    case QF_ERR_ABI: return "abi";
    case QF_ERR_UPSTREAM: return "upstream";
    case QF_ERR_CONNECT: return "connect";
    case QF_ERR_TIMEOUT: return "timeout";
    case QF_ERR_PROTOCOL: return "protocol";
    case QF_ERR_STREAM_CUT: return "stream_cut";
    case QF_ERR_RATE_LIMITED: return "rate_limited";
    case QF_ERR_BUDGET: return "budget_exceeded";
    case QF_ERR_REFUSED: return "refused";
    case QF_ERR_TOO_LARGE: return "too_large";
    case QF_ERR_CANCELLED: return "cancelled";
    case QF_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}

static void log_failure(const ollama_call *call, qf_status status)
{
    const qf_host *host = call->inst->host;

    if (!host->log_enabled(call->inst->ctx, QF_LOG_WARN))
        return;
    host->log(call->inst->ctx, QF_LOG_WARN,
              "request %s: failed with status %s: %s",
              host->request_id(call->req), status_name(status),
              host->error_message(call->err));
}

static qf_status ollama_complete(void *instance, const qf_request *req,
                                 qf_response *resp, qf_error *err)
{
    ollama *inst = instance;
    ollama_call call;
    char *url = NULL;
    qf_status status;

    memset(&call, 0, sizeof(call));
    call.inst = inst;
    call.req = req;
    call.resp = resp;
    call.err = err;
    call.stream = inst->host->request_stream(req) ? 1 : 0;
    qf_ndjson_init(&call.reader, inst->max_response_bytes, ollama_reply_frame,
                   &call);

    status = make_url(&call, &url);
    if (status == QF_OK)
        status = ollama_body_build(&call);
    if (status == QF_OK)
        status = ollama_transport_send(&call);
    if (status == QF_OK)
        status = ollama_reply_finish(&call);
    if (status != QF_OK)
        log_failure(&call, status);

    ollama_reply_free(&call);
    cJSON_free(call.body);
    free(url);
    return status;
}

static const qf_provider_vtable provider = {
    sizeof(qf_provider_vtable),
    ollama_create,
    ollama_destroy,
    ollama_complete,
    NULL,
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "ollama",
    "Ollama",
    "1.0.0",
    "Text completion and streaming through a local Ollama server's native API.",
    QF_KIND_PROVIDER,
    capabilities,
    option_specs,
    sizeof(option_specs) / sizeof(option_specs[0]),
    &provider,
    NULL,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

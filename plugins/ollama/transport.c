/*
 * transport.c - HTTP for the ollama provider: a per-instance pool of CURL
 * handles (kept handles keep their connections alive), one POST attempt,
 * and the retry policy around it. Retries happen on 429, 5xx and failed
 * connections, waiting with exponential backoff and jitter or as long as
 * Retry-After requests, never longer in total than retry.max_wait_seconds.
 * All waiting goes through the host clock so tests can record it.
 */
#include "ollama.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERROR_BODY_MAX  65536 /* bytes of an error body kept for the message */
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS  8000

/* --- Handle pool ------------------------------------------------------ */

CURL *ollama_pool_take(ollama *inst)
{
    CURL *curl = NULL;

    pthread_mutex_lock(&inst->pool_lock);
    if (inst->pool_count > 0)
        curl = inst->pool[--inst->pool_count];
    pthread_mutex_unlock(&inst->pool_lock);

    if (curl != NULL)
        curl_easy_reset(curl); /* keeps open connections */
    else
        curl = curl_easy_init();
    return curl;
}

void ollama_pool_give(ollama *inst, CURL *curl)
{
    if (curl == NULL)
        return;
    pthread_mutex_lock(&inst->pool_lock);
    if (inst->pool_count < OLLAMA_POOL_MAX) {
        inst->pool[inst->pool_count++] = curl;
        curl = NULL;
    }
    pthread_mutex_unlock(&inst->pool_lock);
    if (curl != NULL)
        curl_easy_cleanup(curl);
}

void ollama_pool_drain(ollama *inst)
{
    while (inst->pool_count > 0)
        curl_easy_cleanup(inst->pool[--inst->pool_count]);
}

/* --- One attempt ------------------------------------------------------- */

static int append_data(ollama_call *call, const char *data, size_t len,
                       size_t limit)
{
    char *grown;

    if (call->data_len + len > limit)
        return -1;
    grown = realloc(call->data, call->data_len + len + 1);
    if (grown == NULL)
        return -1;
    memcpy(grown + call->data_len, data, len);
    call->data_len += len;
    grown[call->data_len] = '\0';
    call->data = grown;
    return 0;
}

/* Body bytes: error bodies (any status from 300 up, since redirects are
 * not followed) are kept for the message, stream bodies go to the NDJSON
 * reader, other bodies are buffered whole. Returning less than
 * `len` stops the transfer. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    ollama_call *call = user;
    size_t len = size * nmemb;

    if (call->received == 0)
        curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE,
                          &call->http_status);
    call->received += len;
    if (call->http_status >= 300) {
        /* Keep the start of an error body; the rest is not needed. */
        if (call->data_len < ERROR_BODY_MAX)
            append_data(call, data,
                        len < ERROR_BODY_MAX - call->data_len
                            ? len
                            : ERROR_BODY_MAX - call->data_len,
                        ERROR_BODY_MAX);
        return len;
    }

    if (call->received > call->inst->max_response_bytes) {
        call->failure = call->inst->host->error_set(
            call->err, QF_ERR_TOO_LARGE,
            "ollama: response from %s exceeds max_response_bytes (%zu bytes); "
            "raise max_response_bytes",
            call->url, call->inst->max_response_bytes);
        return 0;
    }
    if (!call->stream) {
        if (append_data(call, data, len, call->inst->max_response_bytes) != 0)
            return 0;
        return len;
    }
    if (qf_ndjson_feed(&call->reader, data, len) != QF_OK)
        return 0;
    return len;
}

/* Retry-After in seconds or as an HTTP date; retry-after-ms in ms. */
static void parse_retry_after(ollama_call *call, const char *name,
                              const char *value)
{
    const qf_host *host = call->inst->host;
    char *end;
    long long number = strtoll(value, &end, 10);
    time_t when;

    if (strcasecmp(name, "retry-after-ms") == 0) {
        if (end != value && number >= 0)
            call->retry_after_ms = number;
        return;
    }
    if (end != value && (*end == '\0' || isspace((unsigned char)*end))) {
        if (number >= 0)
            call->retry_after_ms = number * 1000;
        return;
    }
    when = curl_getdate(value, NULL);
    if (when != -1) {
        number = (long long)when * 1000 - host->now_ms(call->inst->ctx);
        call->retry_after_ms = number > 0 ? number : 0;
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    ollama_call *call = user;
    size_t len = size * nmemb;
    char line[256], *colon, *value;
    size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

    memcpy(line, data, n);
    line[n] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        call->retry_after_ms = -1; /* a new response begins */
        return len;
    }
    colon = strchr(line, ':');
    if (colon == NULL)
        return len;
    *colon = '\0';
    value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    value[strcspn(value, "\r\n")] = '\0';
    if (strcasecmp(line, "retry-after") == 0 ||
        strcasecmp(line, "retry-after-ms") == 0)
        parse_retry_after(call, line, value);
    return len;
}

static void set_options(CURL *curl, ollama_call *call)
{
    const ollama *inst = call->inst;

    curl_easy_setopt(curl, CURLOPT_URL, call->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, inst->headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)strlen(call->body));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, inst->connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, inst->total_timeout_s);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, call);
}

/* The upstream's own words from an error body: {"error": "..."} or
 * {"error": {"message": "..."}}, else the text with whitespace squeezed. */
static void error_text(const ollama_call *call, char *out, size_t size)
{
    cJSON *json = call->data ? cJSON_Parse(call->data) : NULL;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(json, "error");
    const char *text = call->data ? call->data : "";
    size_t n = 0;
    int space = 0;

    if (cJSON_IsObject(error))
        error = cJSON_GetObjectItemCaseSensitive(error, "message");
    if (cJSON_IsString(error))
        text = error->valuestring;

    for (; *text != '\0' && n + 1 < size; text++) {
        if (isspace((unsigned char)*text)) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < size)
            out[n++] = ' ';
        space = 0;
        out[n++] = *text;
    }
    out[n] = '\0';
    cJSON_Delete(json);
}

/* NOTE: a 429 from Ollama is reported as QF_ERR_UPSTREAM with its HTTP
 * status and Retry-After; QF_ERR_RATE_LIMITED stays for our own limiter. */
static qf_status fail_http(ollama_call *call)
{
    const qf_host *host = call->inst->host;
    char text[512];

    error_text(call, text, sizeof(text));
    host->error_set(call->err, QF_ERR_UPSTREAM,
                    "ollama: upstream returned HTTP %ld: %s", call->http_status,
                    text[0] ? text : "(empty body)");
    host->error_set_http_status(call->err, (int)call->http_status);
    if (call->retry_after_ms >= 0)
        host->error_set_retry_after_ms(call->err, call->retry_after_ms);
    return QF_ERR_UPSTREAM;
}

static int is_connect_failure(CURLcode code)
{
    return code == CURLE_COULDNT_CONNECT ||
           code == CURLE_COULDNT_RESOLVE_HOST ||
           code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_SEND_ERROR ||
           code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING;
}

/* Turn a failed transfer into a status and message. */
static qf_status fail_transfer(ollama_call *call, CURLcode code)
{
    const qf_host *host = call->inst->host;
    const ollama *inst = call->inst;

    if (call->failure != QF_OK)
        return call->failure;
    if (call->stream && call->reader.status != QF_OK)
        return host->error_set(
            call->err, call->reader.status,
            call->reader.status == QF_ERR_UPSTREAM
                ? "ollama: upstream reported an error mid-stream: %s"
                : "ollama: invalid stream from upstream: %s",
            qf_ndjson_message(&call->reader));
    if (code == CURLE_OPERATION_TIMEDOUT)
        return host->error_set(
            call->err, QF_ERR_TIMEOUT,
            "ollama: request to %s timed out (timeout.connect_seconds %ld, "
            "timeout.total_seconds %ld); raise the timeout or use a smaller "
            "model",
            call->url, inst->connect_timeout_s, inst->total_timeout_s);
    if (call->received > 0 && call->stream)
        return host->error_set(
            call->err, QF_ERR_STREAM_CUT,
            "ollama: upstream stream was cut before its end (%s)",
            curl_easy_strerror(code));
    if (call->received > 0)
        return host->error_set(call->err, QF_ERR_STREAM_CUT,
                               "ollama: the reply from %s was cut before its "
                               "end (%s); send the request again",
                               call->url, curl_easy_strerror(code));
    if (is_connect_failure(code))
        return host->error_set(
            call->err, QF_ERR_CONNECT,
            "ollama: cannot connect to %s (%s); is Ollama running at %s? start "
            "it with `ollama serve` or set base_url",
            call->url, curl_easy_strerror(code), inst->base_url);
    return host->error_set(call->err, QF_ERR_CONNECT,
                           "ollama: request to %s failed: %s", call->url,
                           curl_easy_strerror(code));
}

/* One POST. The reply state is reset first; the frames read go to the
 * reply reader as they arrive. */
static qf_status send_once(ollama_call *call)
{
    CURL *curl = ollama_pool_take(call->inst);
    CURLcode code;
    qf_status status = QF_OK;

    if (curl == NULL)
        return call->inst->host->error_set(
            call->err, QF_ERR_NOMEM, "ollama: cannot create a CURL handle");
    ollama_reply_reset(call);
    call->curl = curl;
    set_options(curl, call);

    code = curl_easy_perform(curl);
    if (call->received == 0)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &call->http_status);
    if (call->http_status >= 300)
        status = fail_http(call);
    else if (code != CURLE_OK)
        status = fail_transfer(call, code);
    else if (call->stream)
        status = qf_ndjson_finish(&call->reader) == QF_OK
                     ? QF_OK
                     : fail_transfer(call, CURLE_OK);
    else
        status = ollama_reply_parse_body(call);

    call->curl = NULL;
    ollama_pool_give(call->inst, curl);
    return status;
}

/* --- Retries ------------------------------------------------------------ */

/* Whether a failed attempt may be sent again: 429, 5xx or a connection
 * that failed before any byte of the reply reached the caller. */
static int may_retry(const ollama_call *call, qf_status status)
{
    if (call->deltas_written > 0)
        return 0;
    if (status == QF_ERR_UPSTREAM)
        return call->http_status == 429 || call->http_status >= 500;
    return status == QF_ERR_CONNECT && call->received == 0;
}

/* Exponential backoff with equal jitter: half the step is fixed, half is
 * random, so concurrent clients spread out. */
static int64_t backoff_ms(uint64_t *seed, int attempt)
{
    int64_t step = BACKOFF_BASE_MS;
    int i;

    for (i = 1; i < attempt && step < BACKOFF_MAX_MS; i++)
        step *= 2;
    if (step > BACKOFF_MAX_MS)
        step = BACKOFF_MAX_MS;

    /* xorshift64: enough for jitter, needs no global state. */
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return step / 2 + (int64_t)(*seed % (uint64_t)(step / 2 + 1));
}

/* Wait before the next attempt, or -1 when the wait budget
 * (retry.max_wait_seconds) does not allow another one. A Retry-After longer
 * than what is left ends the retries at once; the error keeps the wait the
 * upstream asked for. A computed backoff is shortened to what is left. */
static int64_t next_wait_ms(const ollama_call *call, int attempt,
                            int64_t waited_ms, uint64_t *seed)
{
    int64_t left = call->inst->max_wait_ms - waited_ms;
    int64_t wait_ms;

    if (call->retry_after_ms >= 0)
        return call->retry_after_ms <= left ? call->retry_after_ms : -1;
    if (left <= 0)
        return -1;
    wait_ms = backoff_ms(seed, attempt);
    return wait_ms < left ? wait_ms : left;
}

static void log_retry(const ollama_call *call, int attempt, int64_t wait_ms)
{
    const qf_host *host = call->inst->host;
    const qf_context *ctx = call->inst->ctx;

    if (!host->log_enabled(ctx, QF_LOG_WARN))
        return;
    host->log(ctx, QF_LOG_WARN,
              "request %s: attempt %d of %d failed (%s); retrying in %lld ms",
              host->request_id(call->req), attempt, call->inst->max_attempts,
              host->error_message(call->err), (long long)wait_ms);
}

qf_status ollama_transport_send(ollama_call *call)
{
    const ollama *inst = call->inst;
    const qf_host *host = inst->host;
    uint64_t seed = (uint64_t)host->monotonic_ns(inst->ctx) ^
                    (uint64_t)(uintptr_t)call ^ 0x9e3779b97f4a7c15ull;
    int64_t waited_ms = 0, wait_ms;
    qf_status status;
    int attempt;

    for (attempt = 1;; attempt++) {
        status = send_once(call);
        if (status == QF_OK || attempt >= inst->max_attempts ||
            !may_retry(call, status))
            return status;

        wait_ms = next_wait_ms(call, attempt, waited_ms, &seed);
        if (wait_ms < 0)
            return status;

        log_retry(call, attempt, wait_ms);
        host->sleep_ms(inst->ctx, wait_ms);
        waited_ms += wait_ms;
    }
}

/*
 * transport.c - one POST to the upstream with libcurl, and the retry loop
 * around it. Easy handles are kept in a small per-instance pool so their
 * connections are reused. Waits between attempts go through the host's
 * sleep_ms, so a test clock records them. Their total is capped by
 * retry.max_wait_seconds.
 */
#include "openai_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* State of one attempt, shared with the libcurl callbacks. */
typedef struct attempt_state {
    openai_instance *oa;
    openai_call *call;
    qf_error *err;
    CURL *curl;
    long status;           /* HTTP status, known once the body starts */
    int too_large;         /* the body passed max_response_bytes */
    qf_status sink_status; /* non-OK when on_body stopped the transfer */
    size_t streamed;       /* bytes handed to on_body */
    char retry_after[64];
    char retry_after_ms[64];
    char curl_message[CURL_ERROR_SIZE];
} attempt_state;

int qf_openai_buffer_append(openai_buffer *b, const char *bytes, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, bytes, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

void qf_openai_buffer_free(openai_buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void qf_openai_call_free(openai_call *call)
{
    qf_openai_buffer_free(&call->response);
}

static CURL *pool_acquire(openai_instance *oa)
{
    CURL *curl = NULL;

    pthread_mutex_lock(&oa->lock);
    if (oa->pool_count > 0)
        curl = oa->pool[--oa->pool_count];
    pthread_mutex_unlock(&oa->lock);

    return curl ? curl : curl_easy_init();
}

/* Put a handle back. curl_easy_reset keeps its live connections. */
static void pool_release(openai_instance *oa, CURL *curl)
{
    curl_easy_reset(curl);

    pthread_mutex_lock(&oa->lock);
    if (oa->pool_count < QF_OPENAI_POOL_MAX) {
        oa->pool[oa->pool_count++] = curl;
        curl = NULL;
    }
    pthread_mutex_unlock(&oa->lock);

    if (curl)
        curl_easy_cleanup(curl);
}

/* Uniform draw from [0, bound] (splitmix64 under the instance lock). */
static int64_t jitter_draw(openai_instance *oa, int64_t bound)
{
    pthread_mutex_lock(&oa->lock);
    oa->jitter_state += UINT64_C(0x9E3779B97F4A7C15);
    uint64_t z = oa->jitter_state;
    pthread_mutex_unlock(&oa->lock);

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (int64_t)(z % ((uint64_t)bound + 1));
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
    attempt_state *a = userp;
    size_t len = size * nmemb;
    openai_call *call = a->call;

    if (a->status == 0)
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &a->status);

    if (call->on_body && a->status >= 200 && a->status < 300) {
        a->streamed += len;
        if (a->streamed > a->oa->max_response_bytes) {
            a->too_large = 1;
            return 0;
        }
        a->sink_status = call->on_body(call->user, ptr, len, a->err);
        return a->sink_status == QF_OK ? len : 0;
    }

    if (call->response.len + len > a->oa->max_response_bytes) {
        a->too_large = 1;
        return 0;
    }
    if (qf_openai_buffer_append(&call->response, ptr, len) != 0) {
        a->sink_status = a->oa->host->error_set(
            a->err, QF_ERR_NOMEM, "openai: out of memory reading the response");
        return 0;
    }
    return len;
}

/* Keep the value of header `name` from one header line, trimmed. */
static void capture_header(const char *line, size_t len, const char *name,
                           char *out, size_t out_size)
{
    size_t n = strlen(name);

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;

    const char *value = line + n + 1;
    const char *end = line + len;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && (end[-1] == '\r' || end[-1] == '\n' ||
                           end[-1] == ' ' || end[-1] == '\t'))
        end--;

    size_t value_len = (size_t)(end - value);
    if (value_len >= out_size)
        value_len = out_size - 1;
    memcpy(out, value, value_len);
    out[value_len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
    attempt_state *a = userp;
    size_t len = size * nmemb;

    /* A new status line (after "100 Continue") starts a new header set. */
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        a->retry_after[0] = '\0';
        a->retry_after_ms[0] = '\0';
    }
    capture_header(line, len, "retry-after", a->retry_after,
                   sizeof(a->retry_after));
    capture_header(line, len, "retry-after-ms", a->retry_after_ms,
                   sizeof(a->retry_after_ms));
    return len;
}

static void set_options(attempt_state *a, const char *url)
{
    CURL *curl = a->curl;
    openai_instance *oa = a->oa;

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)oa->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)oa->total_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, oa->headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, a->call->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)strlen(a->call->body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, a->curl_message);
}

static int is_retryable_http(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

/* Status of an attempt whose transfer failed inside libcurl. */
static qf_status transfer_failure(attempt_state *a, CURLcode rc, int *retryable)
{
    const qf_host *host = a->oa->host;
    const char *detail =
        a->curl_message[0] ? a->curl_message : curl_easy_strerror(rc);
    openai_call *call = a->call;

    if (rc != CURLE_OPERATION_TIMEDOUT && call->on_body && a->status >= 200 &&
        a->status < 300) {
        *retryable = !call->chunks_written(call->user);
        return host->error_set(
            a->err, QF_ERR_STREAM_CUT,
            "openai: upstream stream was cut before its end (%s)", detail);
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        /* NOTE: a timeout, connect or total, is not retried, because each
         * retry could add another timeout.total_seconds to the call. */
        return host->error_set(
            a->err, QF_ERR_TIMEOUT,
            "openai: request to %s%s timed out (%s); raise "
            "timeout.total_seconds "
            "or timeout.connect_seconds, or check the server",
            a->oa->base_url, call->path, detail);
    }

    /* A response started (a status line or body bytes came) and then
     * stopped: the server was reached, so the connect hint would mislead.
     * Nothing reached the caller unless chunks were streamed. */
    if (a->status != 0 || call->response.len > 0 || a->streamed > 0) {
        *retryable = !call->chunks_written || !call->chunks_written(call->user);
        return host->error_set(
            a->err, QF_ERR_STREAM_CUT,
            "openai: upstream response was cut before its end (%s)", detail);
    }

    *retryable = 1;
    return host->error_set(
        a->err, QF_ERR_CONNECT,
        "openai: could not complete the request to %s%s (%s); "
        "check base_url and that the server is running",
        a->oa->base_url, call->path, detail);
}

/* Status of an attempt that received a non-2xx response. */
static qf_status http_failure(attempt_state *a, int *retryable)
{
    const qf_host *host = a->oa->host;
    openai_call *call = a->call;
    char message[512];

    qf_openai_error_message(call->response.data, call->response.len, a->status,
                            message, sizeof(message));
    host->error_set(a->err, QF_ERR_UPSTREAM,
                    "openai: upstream returned HTTP %ld: %s", a->status,
                    message);
    host->error_set_http_status(a->err, (int)a->status);
    if (call->retry_after_ms >= 0)
        host->error_set_retry_after_ms(a->err, call->retry_after_ms);

    *retryable = is_retryable_http(a->status);
    return QF_ERR_UPSTREAM;
}

/* Map the outcome of one attempt to a status, and report whether it may be
 * retried. */
static qf_status classify(attempt_state *a, CURLcode rc, int *retryable)
{
    openai_call *call = a->call;
    const qf_host *host = a->oa->host;

    *retryable = 0;
    if (a->sink_status != QF_OK)
        return a->sink_status;
    if (a->too_large)
        return host->error_set(
            a->err, QF_ERR_TOO_LARGE,
            "openai: upstream response from %s%s exceeded max_response_bytes "
            "(%zu bytes); raise max_response_bytes or lower the output cap",
            a->oa->base_url, call->path, a->oa->max_response_bytes);
    if (rc != CURLE_OK)
        return transfer_failure(a, rc, retryable);
    if (a->status < 200 || a->status > 299)
        return http_failure(a, retryable);

    if (call->on_body) {
        qf_status status = call->on_done(call->user, a->err);
        if (status == QF_ERR_STREAM_CUT)
            *retryable = !call->chunks_written(call->user);
        return status;
    }
    return QF_OK;
}

/* Log the outcome of one transfer at debug level. "0 new connections"
 * means a pooled connection was reused. */
static void log_transfer(const attempt_state *a, CURLcode rc)
{
    const qf_host *host = a->oa->host;
    long connects = 0;

    if (!host->log_enabled(a->oa->ctx, QF_LOG_DEBUG))
        return;
    curl_easy_getinfo(a->curl, CURLINFO_NUM_CONNECTS, &connects);
    host->log(a->oa->ctx, QF_LOG_DEBUG,
              "request %s: HTTP %ld (%s), %ld new connections",
              host->request_id(a->call->req), a->status, curl_easy_strerror(rc),
              connects);
}

static qf_status attempt_once(openai_instance *oa, openai_call *call,
                              const char *url, qf_error *err, int *retryable)
{
    attempt_state a;

    memset(&a, 0, sizeof(a));
    a.oa = oa;
    a.call = call;
    a.err = err;
    a.sink_status = QF_OK;
    a.curl = pool_acquire(oa);
    if (!a.curl)
        return oa->host->error_set(err, QF_ERR_NOMEM,
                                   "openai: could not create a libcurl handle");

    set_options(&a, url);
    CURLcode rc = curl_easy_perform(a.curl);
    curl_easy_getinfo(a.curl, CURLINFO_RESPONSE_CODE, &a.status);
    log_transfer(&a, rc);
    pool_release(oa, a.curl);

    call->http_status = a.status;
    call->retry_after_ms = qf_openai_retry_after_parse(
        a.retry_after[0] ? a.retry_after : NULL,
        a.retry_after_ms[0] ? a.retry_after_ms : NULL,
        oa->host->now_ms(oa->ctx));
    return classify(&a, rc, retryable);
}

/* Wait before retry number `retry`, or -1 when the server requests more than
 * the `remaining` milliseconds of the cap. */
static int64_t retry_wait(openai_instance *oa, const openai_call *call,
                          int retry, int64_t remaining)
{
    int64_t wait = jitter_draw(oa, qf_openai_backoff_bound_ms(retry));

    if (call->retry_after_ms >= 0) {
        if (call->retry_after_ms > remaining)
            return -1;
        if (call->retry_after_ms > wait)
            wait = call->retry_after_ms;
    }
    return wait < remaining ? wait : remaining;
}

static void log_retry(openai_instance *oa, const openai_call *call,
                      const qf_error *err, int attempt, int64_t wait)
{
    const qf_host *host = oa->host;

    if (!host->log_enabled(oa->ctx, QF_LOG_INFO))
        return;
    host->log(oa->ctx, QF_LOG_INFO,
              "request %s: attempt %d of %d failed (HTTP %ld, %s); retrying "
              "in %lld ms",
              host->request_id(call->req), attempt, oa->max_attempts,
              call->http_status, host->error_message(err), (long long)wait);
}

static void log_no_retry(openai_instance *oa, const openai_call *call,
                         int64_t remaining)
{
    const qf_host *host = oa->host;

    if (!host->log_enabled(oa->ctx, QF_LOG_INFO))
        return;
    host->log(
        oa->ctx, QF_LOG_INFO,
        "request %s: not retrying HTTP %ld: the server asks to wait %lld ms, "
        "more than the %lld ms left of retry.max_wait_seconds",
        host->request_id(call->req), call->http_status,
        (long long)call->retry_after_ms, (long long)remaining);
}

qf_status qf_openai_call_run(openai_instance *oa, openai_call *call,
                             qf_error *err)
{
    const qf_host *host = oa->host;
    size_t url_len = strlen(oa->base_url) + strlen(call->path) + 1;
    char *url = malloc(url_len);
    int64_t waited = 0;
    qf_status status;

    if (!url)
        return host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
    snprintf(url, url_len, "%s%s", oa->base_url, call->path);

    for (int attempt = 1;; attempt++) {
        int retryable = 0;

        if (call->on_attempt)
            call->on_attempt(call->user);
        call->response.len = 0;
        if (host->log_enabled(oa->ctx, QF_LOG_DEBUG))
            host->log(oa->ctx, QF_LOG_DEBUG,
                      "request %s: POST %s (%zu bytes), attempt %d",
                      host->request_id(call->req), url, strlen(call->body),
                      attempt);

        status = attempt_once(oa, call, url, err, &retryable);
        if (status == QF_OK || !retryable || attempt >= oa->max_attempts)
            break;

        int64_t wait = retry_wait(oa, call, attempt, oa->max_wait_ms - waited);
        if (wait < 0) {
            log_no_retry(oa, call, oa->max_wait_ms - waited);
            break;
        }
        log_retry(oa, call, err, attempt, wait);
        host->sleep_ms(oa->ctx, wait);
        waited += wait;
    }

    /* A failed attempt left its error behind; a later success clears it. */
    if (status == QF_OK) {
        host->error_set(err, QF_OK, "%s", "");
        host->error_set_http_status(err, 0);
        host->error_set_retry_after_ms(err, -1);
    }
    free(url);
    return status;
}

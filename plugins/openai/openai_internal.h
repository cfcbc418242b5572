/*
 * openai_internal.h - what the files of the openai provider plugin share:
 * the instance, one HTTP call with its retry state, and the pure helpers
 * (error bodies, retry waits, the model table) that have unit tests of
 * their own.
 *
 * Threads: an instance is shared by every thread that calls the plugin; its
 * settings are read-only after create and its handle pool is locked. A call
 * (openai_call) belongs to one thread.
 */
#ifndef QF_OPENAI_INTERNAL_H
#define QF_OPENAI_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "qf/plugin.h"

#define QF_OPENAI_POOL_MAX        8   /* idle easy handles kept per instance */
#define QF_OPENAI_BACKOFF_BASE_MS 500 /* first retry waits up to this long */
#define QF_OPENAI_ERROR_TEXT_MAX  200 /* bytes kept of a text error body */

typedef struct openai_instance {
    const qf_host *host;
    qf_context *ctx;

    char *base_url; /* without a trailing slash */
    char *model;    /* default model, or NULL */
    int64_t connect_timeout_ms;
    int64_t total_timeout_ms;
    int max_attempts;
    int64_t max_wait_ms;
    size_t max_response_bytes;

    /* Content-Type, Authorization (when an api_key is set) and the
     * configured extra headers. Read-only after create; never logged. */
    struct curl_slist *headers;

    pthread_mutex_t lock; /* guards pool, pool_count and jitter_state */
    CURL *pool[QF_OPENAI_POOL_MAX];
    size_t pool_count;
    uint64_t jitter_state;
} openai_instance;

/* A growable byte buffer, NUL-terminated once allocated. */
typedef struct openai_buffer {
    char *data;
    size_t len;
    size_t cap;
} openai_buffer;

/*
 * One POST with retries. The caller fills the inputs, and
 * qf_openai_call_run fills the outputs. When on_body is set, the bytes of a
 * 2xx response go to it as they arrive instead of into `response`
 * (streaming). on_attempt, when set, runs before every attempt so the
 * caller can reset its stream state.
 */
typedef struct openai_call {
    const qf_request *req;
    const char *path; /* "/chat/completions" */
    const char *body; /* request body, JSON */
    qf_status (*on_body)(void *user, const char *bytes, size_t len,
                         qf_error *err);
    void (*on_attempt)(void *user);
    qf_status (*on_done)(void *user, qf_error *err); /* end of a 2xx stream */
    int (*chunks_written)(void *user); /* non-zero: no more retries */
    void *user;

    long http_status;
    openai_buffer response; /* body of an error or of a buffered 2xx response */
    int64_t retry_after_ms; /* the server's requested wait, -1 when none */
} openai_call;

/* Byte buffer helpers, defined in transport.c. append returns -1 when out
 * of memory. */
int qf_openai_buffer_append(openai_buffer *b, const char *bytes, size_t len);
void qf_openai_buffer_free(openai_buffer *b);

/*
 * Send call->body to base_url + call->path with retries on 429, 5xx and
 * connection failures. Returns QF_OK with a 2xx response (buffered in
 * call->response unless on_body consumed it), or an error status with the
 * message, HTTP status and requested wait on `err`.
 */
qf_status qf_openai_call_run(openai_instance *oa, openai_call *call,
                             qf_error *err);
void qf_openai_call_free(openai_call *call);

/*
 * Write the message an upstream sent in an error body into `out` (always
 * NUL-terminated): OpenAI's {"error":{"message"}}, {"error":"..."},
 * {"message":"..."}, a JSON string, or the first bytes of a text or HTML
 * body with tags removed.
 */
void qf_openai_error_message(const char *body, size_t len, long http_status,
                             char *out, size_t out_size);

/* Find an upstream error object in a 2xx JSON document (a stream event):
 * returns non-zero and writes its message when there is one. */
int qf_openai_json_error(const void *json, char *out, size_t out_size);

/*
 * Compute the wait the server requested, in milliseconds, from a
 * Retry-After value (delta seconds or an HTTP date, read with curl_getdate)
 * and a retry-after-ms value. Either may be NULL, and the larger wins.
 * Returns -1 when neither is usable. now_ms is the current UTC time.
 */
int64_t qf_openai_retry_after_parse(const char *retry_after,
                                    const char *retry_after_ms, int64_t now_ms);

/* Upper bound of the backoff before retry number `retry` (1 for the first
 * retry): QF_OPENAI_BACKOFF_BASE_MS doubled per retry, saturating. */
int64_t qf_openai_backoff_bound_ms(int retry);

/* Non-zero when `model` takes max_completion_tokens instead of max_tokens. */
int qf_openai_model_uses_max_completion_tokens(const char *model);

/* chat.c and image.c entry points (the provider vtable hooks). */
qf_status qf_openai_complete(void *instance, const qf_request *req,
                             qf_response *resp, qf_error *err);
qf_status qf_openai_generate_image(void *instance, const qf_request *req,
                                   qf_response *resp, qf_error *err);

/* Estimated tokens of `bytes` bytes of text: one per four bytes, rounded up. */
int64_t qf_openai_estimate_tokens(size_t bytes);

#endif /* QF_OPENAI_INTERNAL_H */

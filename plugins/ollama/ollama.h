/*
 * ollama.h - shared declarations of the ollama provider plugin: the
 * instance with its settings and handle pool, the request body builder,
 * the HTTP transport with retries and the reply reader.
 *
 * Everything here is private to the plugin's shared object (hidden
 * visibility); only qf_plugin_entry is exported.
 */
#ifndef QF_OLLAMA_H
#define QF_OLLAMA_H

#include <pthread.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "qf/plugin.h"

#include "ndjson.h"

#define OLLAMA_POOL_MAX 8 /* idle CURL handles kept per instance */

/* One configured instance. Settings are read once in create and never
 * change, so every thread may read them; the pool is guarded by pool_lock. */
typedef struct ollama {
    const qf_host *host;
    qf_context *ctx;

    char *base_url;    /* without a trailing '/' */
    char *model;       /* default model, or NULL */
    cJSON *keep_alive; /* string or number, or NULL */
    int use_generate;  /* endpoint: generate instead of chat */
    cJSON *options;    /* native options of the configuration, or NULL */
    long connect_timeout_s;
    long total_timeout_s;
    int max_attempts;
    int64_t max_wait_ms; /* cap on the total time spent waiting to retry */
    size_t max_response_bytes;
    struct curl_slist *headers; /* Content-Type plus configured headers */

    pthread_mutex_t pool_lock;
    CURL *pool[OLLAMA_POOL_MAX];
    size_t pool_count;
} ollama;

/* State of one call, shared by the transport and the reply reader. */
typedef struct ollama_call {
    ollama *inst;
    const qf_request *req;
    qf_response *resp;
    qf_error *err;
    int stream;
    const char *url;
    char *body;

    /* Reply state, reset before every attempt. */
    CURL *curl; /* handle of the attempt in progress */
    long http_status;
    int64_t retry_after_ms; /* -1 when the upstream did not ask */
    char *data;             /* non-stream body or error body (malloc'd) */
    size_t data_len;
    size_t received; /* bytes of body received in this attempt */
    qf_ndjson reader;
    qf_status failure; /* set by a callback that stopped the transfer */

    /* Answer, accumulated across frames. */
    int answered;          /* a final frame (done:true) was read */
    int load_frames;       /* housekeeping frames skipped */
    int content_frames;    /* other frames read */
    size_t deltas_written; /* chunks passed to stream_write */
    char *text;            /* non-stream answer (malloc'd) */
    size_t text_len;       /* bytes of the answer, streamed or not */
    char *done_reason;
    char *model;
    int64_t prompt_eval_count; /* -1 when absent */
    int64_t eval_count;        /* -1 when absent */
} ollama_call;

/* body.c: build the JSON body for `call` in call->body (malloc'd). */
qf_status ollama_body_build(ollama_call *call);

/* body.c: sum of UTF-8 bytes of the request's message contents. */
size_t ollama_body_message_bytes(const ollama_call *call);

/* transport.c: the CURL handle pool. */
CURL *ollama_pool_take(ollama *inst);
void ollama_pool_give(ollama *inst, CURL *curl);
void ollama_pool_drain(ollama *inst);

/* transport.c: POST call->body to call->url with retries. */
qf_status ollama_transport_send(ollama_call *call);

/* reply.c: NDJSON frame callback (the reader's on_frame). */
qf_status ollama_reply_frame(void *user, const cJSON *frame);

/* reply.c: parse a whole non-stream body as one frame. */
qf_status ollama_reply_parse_body(ollama_call *call);

/* reply.c: check the end of the reply and fill the response. */
qf_status ollama_reply_finish(ollama_call *call);

/* reply.c: reset reply state before an attempt; free it after the call. */
void ollama_reply_reset(ollama_call *call);
void ollama_reply_free(ollama_call *call);

#endif /* QF_OLLAMA_H */

/*
 * request.h - the host's concrete request and response objects behind the
 * opaque qf_request and qf_response handles, and their accessors.
 *
 * Params and options are cJSON objects owned by the request. Text that an
 * accessor hands out (a param's JSON, the whole params object) is kept in a
 * per-request list of strings freed with the request, so pointers stay
 * valid until the request is freed.
 */
#ifndef QF_CORE_REQUEST_H
#define QF_CORE_REQUEST_H

#include <cjson/cJSON.h>

#include "qf/host.h"

struct qf_route;
struct qf_stream_sink;

typedef struct qf_message {
    char *role;
    char *content;
    size_t len;
} qf_message;

/* A string handed out by an accessor; freed with its request. */
typedef struct qf_text_node {
    struct qf_text_node *next;
    char text[];
} qf_text_node;

struct qf_request {
    char id[32];
    qf_request_kind kind;
    char *role;
    const struct qf_route *route; /* owned by the runtime */
    char *model;
    qf_message *messages;
    size_t message_count;
    size_t message_cap;
    cJSON *params;
    cJSON *options;
    int stream;
    int stream_usage;
    unsigned cache_flags;
    qf_text_node *texts;
};

typedef struct qf_image {
    void *bytes;
    size_t len;
    char *mime;
} qf_image;

struct qf_response {
    char *text;
    size_t len;
    size_t cap;
    char *finish_reason;
    qf_usage usage;
    int usage_set;
    qf_image *images;
    size_t image_count;
    int cache_hit;
    int64_t cache_age_seconds;
    char *model;

    /* Streaming state for one call. */
    const struct qf_stream_sink *sink;
    qf_stream_tap *taps;
    size_t tap_count;
    int streaming;
    int deltas_written;

    /* Set by the runtime after the provider answers. */
    const char *provider;
    double cost_usd;
    int unpriced;
};

/* Requests. */
qf_request *qf_request_new(const char *role, qf_request_kind kind);
const char *qf_request_keep_text(qf_request *req, const char *text);
qf_status qf_request_set_param_value(qf_request *req, const char *name,
                                     cJSON *value);

/* Responses. */
qf_response *qf_response_new(const struct qf_stream_sink *sink, int streaming);
qf_status qf_response_append(qf_response *resp, const char *text, size_t len);

/* Fill the accessor slots of a host table. */
void qf_request_fill_host(qf_host *host);

#endif /* QF_CORE_REQUEST_H */

/*
 * host_objects.h - the test host's own context, request and response
 * objects, and its in-memory cache backend. Only qf-plugin-check sees
 * these layouts; plugins reach them through the qf_host accessors.
 */
#ifndef QF_PLUGIN_CHECK_OBJECTS_H
#define QF_PLUGIN_CHECK_OBJECTS_H

#include <cjson/cJSON.h>

#include "qf/plugin.h"

#define CHECK_SETTINGS_MAX 64
#define CHECK_TAPS_MAX     16
#define CHECK_IMAGES_MAX   8

struct qf_context {
    char *name;
    char *state_dir;
    size_t setting_count;
    char *keys[CHECK_SETTINGS_MAX];
    char *values[CHECK_SETTINGS_MAX];
};

typedef struct check_message {
    char *role;
    char *content;
    size_t len;
} check_message;

/* A string handed out by an accessor, kept until the object is freed. */
typedef struct check_text {
    struct check_text *next;
    char text[];
} check_text;

struct qf_request {
    qf_request_kind kind;
    int stream;
    char *model;
    check_message *messages;
    size_t message_count;
    cJSON *params;
    cJSON *options;
    check_text *texts;
};

typedef struct check_image {
    void *bytes;
    size_t len;
    char *mime;
} check_image;

struct qf_response {
    char *text;
    size_t len;
    size_t cap; /* bytes allocated for text */
    char *finish_reason;
    char *model;
    qf_usage usage;
    check_image images[CHECK_IMAGES_MAX];
    size_t image_count;
    int cache_hit;
    int64_t age_seconds;
    qf_stream_tap taps[CHECK_TAPS_MAX];
    size_t tap_count;
};

/* Set the request and response accessors of `host`. */
void qf_check_fill_objects(qf_host *host);
void qf_check_fill_request_accessors(qf_host *host);

/* Insert a message at `index` (copies role and content). */
qf_status qf_check_request_insert(qf_request *req, size_t index,
                                  const char *role, const char *content,
                                  size_t len);

/* Parse a YAML boolean word; returns 0 on success. */
int qf_check_parse_bool(const char *value, int *out);

/* The in-memory cache backend handed out by cache_backend_open. */
const qf_cache_backend_vtable *qf_check_memory_cache(void);
void *qf_check_memory_cache_instance(void);

#endif /* QF_PLUGIN_CHECK_OBJECTS_H */

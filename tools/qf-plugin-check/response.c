/*
 * response.c - the test host's response object and its accessors, stream
 * taps, and a small in-memory cache backend that cache_backend_open hands
 * to middleware such as the shipped cache (one shared table, one mutex).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_objects.h"

qf_response *qf_check_response_new(void)
{
    qf_response *resp = calloc(1, sizeof(*resp));

    if (resp != NULL)
        resp->usage.size = sizeof(resp->usage);
    return resp;
}

void qf_check_response_free(qf_response *resp)
{
    if (resp == NULL)
        return;
    for (size_t i = 0; i < resp->image_count; i++) {
        free(resp->images[i].bytes);
        free(resp->images[i].mime);
    }
    free(resp->text);
    free(resp->finish_reason);
    free(resp->model);
    free(resp);
}

/* Append with doubling capacity, so a stream of many small chunks stays
 * linear. */
static qf_status append_text(qf_response *resp, const char *text, size_t len)
{
    if (resp->len + len + 1 > resp->cap) {
        size_t cap = resp->cap > 0 ? resp->cap : 256;
        char *grown;

        while (cap < resp->len + len + 1)
            cap *= 2;
        grown = realloc(resp->text, cap);
        if (grown == NULL)
            return QF_ERR_NOMEM;
        resp->text = grown;
        resp->cap = cap;
    }
    if (len > 0)
        memcpy(resp->text + resp->len, text, len);
    resp->len += len;
    resp->text[resp->len] = '\0';
    return QF_OK;
}

static qf_status response_set_text(qf_response *resp, const char *text,
                                   size_t len)
{
    resp->len = 0;
    return append_text(resp, text, len);
}

static const char *response_text(const qf_response *resp, size_t *len)
{
    if (len != NULL)
        *len = resp->len;
    return resp->text != NULL ? resp->text : "";
}

static qf_status replace(char **field, const char *value)
{
    char *copy = value != NULL ? strdup(value) : NULL;

    if (value != NULL && copy == NULL)
        return QF_ERR_NOMEM;
    free(*field);
    *field = copy;
    return QF_OK;
}

static qf_status response_set_finish_reason(qf_response *resp,
                                            const char *reason)
{
    return replace(&resp->finish_reason, reason);
}

static const char *response_finish_reason(const qf_response *resp)
{
    return resp->finish_reason;
}

static void response_set_usage(qf_response *resp, const qf_usage *usage)
{
    size_t n =
        usage->size < sizeof(resp->usage) ? usage->size : sizeof(resp->usage);

    memcpy(&resp->usage, usage, n);
    resp->usage.size = sizeof(resp->usage);
}

static void response_usage(const qf_response *resp, qf_usage *out)
{
    *out = resp->usage;
}

static qf_status response_add_image(qf_response *resp, const void *bytes,
                                    size_t len, const char *mime)
{
    check_image *image = &resp->images[resp->image_count];

    if (resp->image_count == CHECK_IMAGES_MAX)
        return QF_ERR_TOO_LARGE;
    image->bytes = malloc(len > 0 ? len : 1);
    image->mime = strdup(mime != NULL ? mime : "application/octet-stream");
    if (image->bytes == NULL || image->mime == NULL) {
        free(image->bytes);
        free(image->mime);
        return QF_ERR_NOMEM;
    }
    if (len > 0)
        memcpy(image->bytes, bytes, len);
    image->len = len;
    resp->image_count++;
    return QF_OK;
}

static size_t response_image_count(const qf_response *resp)
{
    return resp->image_count;
}

static qf_status response_image(const qf_response *resp, size_t index,
                                const void **bytes, size_t *len,
                                const char **mime)
{
    if (index >= resp->image_count)
        return QF_ERR_NOT_FOUND;
    *bytes = resp->images[index].bytes;
    *len = resp->images[index].len;
    if (mime != NULL)
        *mime = resp->images[index].mime;
    return QF_OK;
}

static void response_set_cache_hit(qf_response *resp, int hit, int64_t age)
{
    resp->cache_hit = hit;
    resp->age_seconds = age;
}

static int response_cache_hit(const qf_response *resp, int64_t *age)
{
    if (age != NULL)
        *age = resp->age_seconds;
    return resp->cache_hit;
}

static qf_status response_set_model(qf_response *resp, const char *model)
{
    return replace(&resp->model, model);
}

static const char *response_model(const qf_response *resp)
{
    return resp->model;
}

/* Append the chunk, then hand it to every tap, newest first. */
static qf_status stream_write(qf_response *resp, const char *text, size_t len)
{
    qf_status status = append_text(resp, text, len);

    for (size_t i = resp->tap_count; status == QF_OK && i > 0; i--)
        status = resp->taps[i - 1].on_delta(resp->taps[i - 1].user, text, len);
    return status;
}

static qf_status stream_add_tap(qf_response *resp, const qf_stream_tap *tap)
{
    if (tap == NULL || tap->on_delta == NULL)
        return QF_ERR_INVALID;
    if (resp->tap_count == CHECK_TAPS_MAX)
        return QF_ERR_TOO_LARGE;
    resp->taps[resp->tap_count++] = *tap;
    return QF_OK;
}

void qf_check_fill_objects(qf_host *h)
{
    qf_check_fill_request_accessors(h);
    h->response_set_text = response_set_text;
    h->response_text = response_text;
    h->response_set_finish_reason = response_set_finish_reason;
    h->response_finish_reason = response_finish_reason;
    h->response_set_usage = response_set_usage;
    h->response_usage = response_usage;
    h->response_add_image = response_add_image;
    h->response_image_count = response_image_count;
    h->response_image = response_image;
    h->response_set_cache_hit = response_set_cache_hit;
    h->response_cache_hit = response_cache_hit;
    h->response_set_model = response_set_model;
    h->response_model = response_model;
    h->stream_write = stream_write;
    h->stream_add_tap = stream_add_tap;
}

/* --- In-memory cache backend ---------------------------------------- */

typedef struct memory_entry {
    struct memory_entry *next;
    char *key;
    void *value;
    size_t len;
    int64_t created_ms;
} memory_entry;

static memory_entry *memory_entries;
static pthread_mutex_t memory_lock = PTHREAD_MUTEX_INITIALIZER;

static memory_entry **memory_find(const char *key)
{
    memory_entry **link = &memory_entries;

    while (*link != NULL && strcmp((*link)->key, key) != 0)
        link = &(*link)->next;
    return link;
}

static qf_status memory_get(void *instance, const char *key, void **value,
                            size_t *len, int64_t *created_ms, qf_error *err)
{
    qf_status status = QF_ERR_NOT_FOUND;
    memory_entry *e;

    pthread_mutex_lock(&memory_lock);
    e = *memory_find(key);
    if (e != NULL) {
        *value = malloc(e->len > 0 ? e->len : 1);
        status = *value != NULL ? QF_OK : QF_ERR_NOMEM;
        if (status == QF_OK) {
            memcpy(*value, e->value, e->len);
            *len = e->len;
            if (created_ms != NULL)
                *created_ms = e->created_ms;
        }
    }
    pthread_mutex_unlock(&memory_lock);
    return status;
}

static void memory_entry_free(memory_entry *e)
{
    free(e->key);
    free(e->value);
    free(e);
}

static qf_status memory_remove(void *instance, const char *key, qf_error *err)
{
    memory_entry **link, *e;

    pthread_mutex_lock(&memory_lock);
    link = memory_find(key);
    e = *link;
    if (e != NULL)
        *link = e->next;
    pthread_mutex_unlock(&memory_lock);
    if (e == NULL)
        return QF_ERR_NOT_FOUND;
    memory_entry_free(e);
    return QF_OK;
}

static qf_status memory_put(void *instance, const char *key, const void *value,
                            size_t len, int64_t ttl_seconds, qf_error *err)
{
    memory_entry *e = calloc(1, sizeof(*e));

    if (e == NULL || (e->key = strdup(key)) == NULL ||
        (e->value = malloc(len > 0 ? len : 1)) == NULL) {
        if (e != NULL)
            memory_entry_free(e);
        return QF_ERR_NOMEM;
    }
    memcpy(e->value, value, len);
    e->len = len;
    memory_remove(instance, key, err);
    pthread_mutex_lock(&memory_lock);
    e->next = memory_entries;
    memory_entries = e;
    pthread_mutex_unlock(&memory_lock);
    return QF_OK;
}

/* NOTE: prune and clear remove nothing. Middleware under check only gets
 * and puts through this backend; a checked cache backend uses its own. */
static qf_status memory_count(void *instance, int64_t *removed, qf_error *err)
{
    *removed = 0;
    return QF_OK;
}

static qf_status memory_stats(void *instance, qf_cache_stats *out,
                              qf_error *err)
{
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    return QF_OK;
}

static qf_status memory_create(const qf_host *host, qf_context *ctx,
                               void **instance, qf_error *err)
{
    *instance = &memory_entries;
    return QF_OK;
}

static void memory_destroy(void *instance)
{
}

const qf_cache_backend_vtable *qf_check_memory_cache(void)
{
    static const qf_cache_backend_vtable vtable = {
        sizeof(qf_cache_backend_vtable),
        memory_create,
        memory_destroy,
        memory_get,
        memory_put,
        memory_remove,
        memory_count,
        memory_count,
        memory_stats};

    return &vtable;
}

void *qf_check_memory_cache_instance(void)
{
    return &memory_entries;
}

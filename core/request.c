/*
 * request.c - request and response objects and the host accessors that
 * reach them. Plugins see only the opaque handles; everything here runs on
 * the thread that owns the call, so no locking is needed.
 */
#include "request.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

static atomic_uint_fast64_t request_counter;

static char *dup_text(const char *s, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

qf_request *qf_request_new(const char *role, qf_request_kind kind)
{
    qf_request *req = calloc(1, sizeof(*req));
    uint64_t n = atomic_fetch_add(&request_counter, 1) + 1;

    if (req == NULL)
        return NULL;
    snprintf(req->id, sizeof(req->id), "req-%lx-%llu", (unsigned long)getpid(),
             (unsigned long long)n);
    req->kind = kind;
    req->role = strdup(role);
    req->params = cJSON_CreateObject();
    req->options = cJSON_CreateObject();
    if (req->role == NULL || req->params == NULL || req->options == NULL) {
        qf_request_free(req);
        return NULL;
    }
    return req;
}

void qf_request_free(qf_request *req)
{
    if (req == NULL)
        return;
    for (size_t i = 0; i < req->message_count; i++) {
        free(req->messages[i].role);
        free(req->messages[i].content);
    }
    free(req->messages);
    while (req->texts != NULL) {
        qf_text_node *next = req->texts->next;

        free(req->texts);
        req->texts = next;
    }
    cJSON_Delete(req->params);
    cJSON_Delete(req->options);
    free(req->model);
    free(req->role);
    free(req);
}

/* Keep a copy of `text` until the request is freed and return it. */
const char *qf_request_keep_text(qf_request *req, const char *text)
{
    size_t len = strlen(text);
    qf_text_node *node = malloc(sizeof(*node) + len + 1);

    if (node == NULL)
        return NULL;
    memcpy(node->text, text, len + 1);
    node->next = req->texts;
    req->texts = node;
    return node->text;
}

/* Print a cJSON value and keep the text with the request. */
static const char *keep_json(const qf_request *req, const cJSON *value)
{
    char *printed = cJSON_PrintUnformatted(value);
    const char *kept;

    if (printed == NULL)
        return NULL;
    kept = qf_request_keep_text((qf_request *)req, printed);
    free(printed);
    return kept;
}

qf_status qf_request_add_message(qf_request *req, const char *role,
                                 const char *content, size_t len)
{
    size_t index = req->message_count;

    if (req->message_count == req->message_cap) {
        size_t cap = req->message_cap ? req->message_cap * 2 : 4;
        qf_message *grown = realloc(req->messages, cap * sizeof(*grown));

        if (grown == NULL)
            return QF_ERR_NOMEM;
        req->messages = grown;
        req->message_cap = cap;
    }
    req->messages[index].role = strdup(role);
    req->messages[index].content = dup_text(content, len);
    req->messages[index].len = len;
    if (req->messages[index].role == NULL ||
        req->messages[index].content == NULL) {
        free(req->messages[index].role);
        free(req->messages[index].content);
        return QF_ERR_NOMEM;
    }
    req->message_count++;
    return QF_OK;
}

static qf_status insert_message(qf_request *req, size_t index, const char *role,
                                const char *content, size_t len)
{
    qf_message moved;
    qf_status status;

    if (index > req->message_count || role == NULL || content == NULL)
        return QF_ERR_INVALID;
    status = qf_request_add_message(req, role, content, len);
    if (status != QF_OK)
        return status;

    moved = req->messages[req->message_count - 1];
    memmove(&req->messages[index + 1], &req->messages[index],
            (req->message_count - 1 - index) * sizeof(qf_message));
    req->messages[index] = moved;
    return QF_OK;
}

void qf_request_set_stream(qf_request *req, int stream, int include_usage)
{
    req->stream = stream != 0;
    req->stream_usage = include_usage != 0;
}

void qf_request_set_cache_flags(qf_request *req, unsigned flags)
{
    req->cache_flags = flags;
}

/* --- Accessors of the host table ------------------------------------- */

static const char *request_id(const qf_request *req)
{
    return req->id;
}

static qf_request_kind request_kind(const qf_request *req)
{
    return req->kind;
}

static const char *request_role(const qf_request *req)
{
    return req->role;
}

static const char *request_model(const qf_request *req)
{
    return req->model;
}

static qf_status request_set_model(qf_request *req, const char *model)
{
    char *copy = NULL;

    if (model != NULL && (copy = strdup(model)) == NULL)
        return QF_ERR_NOMEM;
    free(req->model);
    req->model = copy;
    return QF_OK;
}

static size_t request_message_count(const qf_request *req)
{
    return req->message_count;
}

static qf_status request_message(const qf_request *req, size_t index,
                                 const char **role, const char **content,
                                 size_t *content_len)
{
    if (index >= req->message_count)
        return QF_ERR_NOT_FOUND;
    if (role != NULL)
        *role = req->messages[index].role;
    if (content != NULL)
        *content = req->messages[index].content;
    if (content_len != NULL)
        *content_len = req->messages[index].len;
    return QF_OK;
}

static const char *object_json(const qf_request *req, const cJSON *object)
{
    return keep_json(req, object);
}

static const char *object_item_json(const qf_request *req, const cJSON *object,
                                    const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    return item == NULL ? NULL : keep_json(req, item);
}

/* Replace or remove `name` in `object`; json_value NULL removes. */
static qf_status set_object_item(cJSON *object, const char *name,
                                 const char *json_value)
{
    cJSON *value;

    if (name == NULL || name[0] == '\0')
        return QF_ERR_INVALID;
    if (json_value == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(object, name);
        return QF_OK;
    }
    value = cJSON_Parse(json_value);
    if (value == NULL)
        return QF_ERR_INVALID;
    if (cJSON_GetObjectItemCaseSensitive(object, name) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(object, name, value);
    else
        cJSON_AddItemToObject(object, name, value);
    return QF_OK;
}

qf_status qf_request_set_param_value(qf_request *req, const char *name,
                                     cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(req->params, name) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(req->params, name, value);
    else
        cJSON_AddItemToObject(req->params, name, value);
    return QF_OK;
}

static const char *request_params_json(const qf_request *req)
{
    return object_json(req, req->params);
}

static const char *request_param(const qf_request *req, const char *name)
{
    return object_item_json(req, req->params, name);
}

static qf_status request_param_number(const qf_request *req, const char *name,
                                      double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(req->params, name);

    if (item == NULL)
        return QF_ERR_NOT_FOUND;
    if (!cJSON_IsNumber(item))
        return QF_ERR_INVALID;
    *out = item->valuedouble;
    return QF_OK;
}

static qf_status request_set_param(qf_request *req, const char *name,
                                   const char *json_value)
{
    return set_object_item(req->params, name, json_value);
}

static const char *request_options_json(const qf_request *req)
{
    return object_json(req, req->options);
}

static const char *request_option(const qf_request *req, const char *name)
{
    return object_item_json(req, req->options, name);
}

static qf_status request_set_option(qf_request *req, const char *name,
                                    const char *json_value)
{
    return set_object_item(req->options, name, json_value);
}

static int request_stream(const qf_request *req)
{
    return req->stream;
}

static int request_stream_usage(const qf_request *req)
{
    return req->stream && req->stream_usage;
}

static unsigned request_cache_flags(const qf_request *req)
{
    return req->cache_flags;
}

/* --- Responses ------------------------------------------------------- */

qf_response *qf_response_new(const qf_stream_sink *sink, int streaming)
{
    qf_response *resp = calloc(1, sizeof(*resp));

    if (resp == NULL)
        return NULL;
    resp->usage.size = sizeof(qf_usage);
    resp->sink = sink;
    resp->streaming = streaming;
    return resp;
}

void qf_response_free(qf_response *resp)
{
    if (resp == NULL)
        return;
    for (size_t i = 0; i < resp->image_count; i++) {
        free(resp->images[i].bytes);
        free(resp->images[i].mime);
    }
    free(resp->images);
    free(resp->taps);
    free(resp->text);
    free(resp->finish_reason);
    free(resp->model);
    free(resp);
}

qf_status qf_response_append(qf_response *resp, const char *text, size_t len)
{
    if (resp->len + len + 1 > resp->cap) {
        size_t cap = resp->cap ? resp->cap : 256;
        char *grown;

        while (cap < resp->len + len + 1)
            cap *= 2;
        grown = realloc(resp->text, cap);
        if (grown == NULL)
            return QF_ERR_NOMEM;
        resp->text = grown;
        resp->cap = cap;
    }
    memcpy(resp->text + resp->len, text, len);
    resp->len += len;
    resp->text[resp->len] = '\0';
    return QF_OK;
}

static qf_status response_set_text(qf_response *resp, const char *text,
                                   size_t len)
{
    resp->len = 0;
    if (resp->text != NULL)
        resp->text[0] = '\0';
    return qf_response_append(resp, text, len);
}

static const char *response_text(const qf_response *resp, size_t *len)
{
    if (len != NULL)
        *len = resp->len;
    return resp->text != NULL ? resp->text : "";
}

static qf_status replace_string(char **slot, const char *value)
{
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return QF_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return QF_OK;
}

static qf_status response_set_finish_reason(qf_response *resp,
                                            const char *reason)
{
    return replace_string(&resp->finish_reason, reason);
}

static const char *response_finish_reason(const qf_response *resp)
{
    return resp->finish_reason;
}

/* Copy the fields both sides know; a smaller writer leaves the rest 0. */
static void copy_usage(qf_usage *dst, const qf_usage *src)
{
    qf_usage tmp = {0};
    size_t n = src->size < sizeof(tmp) ? src->size : sizeof(tmp);

    memcpy(&tmp, src, n);
    tmp.size = sizeof(tmp);
    *dst = tmp;
}

static void response_set_usage(qf_response *resp, const qf_usage *usage)
{
    copy_usage(&resp->usage, usage);
    resp->usage_set = 1;
}

static void response_usage(const qf_response *resp, qf_usage *out)
{
    uint32_t size = out->size;
    qf_usage full = resp->usage;

    if (size == 0 || size > sizeof(full))
        size = sizeof(full);
    full.size = size;
    memcpy(out, &full, size);
}

static qf_status response_add_image(qf_response *resp, const void *bytes,
                                    size_t len, const char *mime)
{
    qf_image *grown =
        realloc(resp->images, (resp->image_count + 1) * sizeof(*grown));
    qf_image *image;

    if (grown == NULL)
        return QF_ERR_NOMEM;
    resp->images = grown;
    image = &resp->images[resp->image_count];
    image->bytes = malloc(len ? len : 1);
    image->mime = strdup(mime ? mime : "application/octet-stream");
    if (image->bytes == NULL || image->mime == NULL) {
        free(image->bytes);
        free(image->mime);
        return QF_ERR_NOMEM;
    }
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

static void response_set_cache_hit(qf_response *resp, int hit,
                                   int64_t age_seconds)
{
    resp->cache_hit = hit != 0;
    resp->cache_age_seconds = hit ? age_seconds : 0;
}

static int response_cache_hit(const qf_response *resp, int64_t *age_seconds)
{
    if (age_seconds != NULL)
        *age_seconds = resp->cache_age_seconds;
    return resp->cache_hit;
}

static qf_status response_set_model(qf_response *resp, const char *model)
{
    return replace_string(&resp->model, model);
}

static const char *response_model(const qf_response *resp)
{
    return resp->model;
}

/* --- Streaming ------------------------------------------------------- */

/* Append a chunk, then pass it through the taps, newest first (the tap
 * nearest the provider sees it first), and on to the caller's sink. */
static qf_status stream_write(qf_response *resp, const char *text, size_t len)
{
    qf_status status = qf_response_append(resp, text, len);

    if (status != QF_OK)
        return status;
    resp->deltas_written++;
    for (size_t i = resp->tap_count; i-- > 0;) {
        status = resp->taps[i].on_delta(resp->taps[i].user, text, len);
        if (status != QF_OK)
            return status;
    }
    if (resp->streaming && resp->sink != NULL && resp->sink->on_delta != NULL) {
        if (resp->sink->on_delta(resp->sink->user, text, len) != QF_OK)
            return QF_ERR_CANCELLED;
    }
    return QF_OK;
}

static qf_status stream_add_tap(qf_response *resp, const qf_stream_tap *tap)
{
    qf_stream_tap *grown;

    if (tap == NULL || tap->on_delta == NULL)
        return QF_ERR_INVALID;
    grown = realloc(resp->taps, (resp->tap_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return QF_ERR_NOMEM;
    resp->taps = grown;
    resp->taps[resp->tap_count] = *tap;
    resp->taps[resp->tap_count].size = sizeof(qf_stream_tap);
    resp->tap_count++;
    return QF_OK;
}

void qf_request_fill_host(qf_host *host)
{
    host->request_id = request_id;
    host->request_kind = request_kind;
    host->request_role = request_role;
    host->request_model = request_model;
    host->request_set_model = request_set_model;
    host->request_message_count = request_message_count;
    host->request_message = request_message;
    host->request_insert_message = insert_message;
    host->request_params_json = request_params_json;
    host->request_param = request_param;
    host->request_param_number = request_param_number;
    host->request_set_param = request_set_param;
    host->request_options_json = request_options_json;
    host->request_option = request_option;
    host->request_set_option = request_set_option;
    host->request_stream = request_stream;
    host->request_stream_usage = request_stream_usage;
    host->request_cache_flags = request_cache_flags;

    host->response_set_text = response_set_text;
    host->response_text = response_text;
    host->response_set_finish_reason = response_set_finish_reason;
    host->response_finish_reason = response_finish_reason;
    host->response_set_usage = response_set_usage;
    host->response_usage = response_usage;
    host->response_add_image = response_add_image;
    host->response_image_count = response_image_count;
    host->response_image = response_image;
    host->response_set_cache_hit = response_set_cache_hit;
    host->response_cache_hit = response_cache_hit;
    host->response_set_model = response_set_model;
    host->response_model = response_model;

    host->stream_write = stream_write;
    host->stream_add_tap = stream_add_tap;
}

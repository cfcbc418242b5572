/*
 * objects.c - context, request and response objects of the test host and
 * their qf_host accessors. A request stores its messages in an array and
 * its params and options as cJSON objects; strings an accessor prints are
 * kept on the request until it is freed, as the ABI requires.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "host_objects.h"

/* --- Context -------------------------------------------------------- */

qf_context *qf_check_context_new(const char *name)
{
    qf_context *ctx = calloc(1, sizeof(*ctx));
    char dir[] = "/tmp/qf-plugin-check-XXXXXX";

    if (ctx == NULL)
        return NULL;
    ctx->name = strdup(name);
    if (mkdtemp(dir) != NULL)
        ctx->state_dir = strdup(dir);
    if (ctx->name == NULL || ctx->state_dir == NULL) {
        qf_check_context_free(ctx);
        return NULL;
    }
    return ctx;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    remove(path);
    return 0;
}

void qf_check_context_free(qf_context *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->state_dir != NULL)
        nftw(ctx->state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < ctx->setting_count; i++) {
        free(ctx->keys[i]);
        free(ctx->values[i]);
    }
    free(ctx->name);
    free(ctx->state_dir);
    free(ctx);
}

int qf_check_context_set(qf_context *ctx, const char *key, const char *value)
{
    size_t i = 0;

    while (i < ctx->setting_count && strcmp(ctx->keys[i], key) != 0)
        i++;
    if (i == CHECK_SETTINGS_MAX)
        return -1;
    if (i == ctx->setting_count) {
        ctx->keys[i] = strdup(key);
        if (ctx->keys[i] == NULL)
            return -1;
        ctx->setting_count++;
    }
    free(ctx->values[i]);
    ctx->values[i] = strdup(value);
    return ctx->values[i] != NULL ? 0 : -1;
}

/* The secret test value in the option's type, NULL for types that cannot
 * hold it. */
static const char *secret_value(const qf_option_spec *o)
{
    switch (o->type) {
    case QF_OPT_STRING: return QF_CHECK_SECRET_VALUE;
    case QF_OPT_MAP: return "{\"X-Check\": \"" QF_CHECK_SECRET_VALUE "\"}";
    case QF_OPT_LIST: return "[\"" QF_CHECK_SECRET_VALUE "\"]";
    default: return NULL;
    }
}

/* A value of the option's type for a required option without default. */
static const char *placeholder(const qf_option_spec *o)
{
    switch (o->type) {
    case QF_OPT_INT: return "1";
    case QF_OPT_DOUBLE: return "1.0";
    case QF_OPT_BOOL: return "false";
    case QF_OPT_MAP: return "{}";
    case QF_OPT_LIST: return "[]";
    case QF_OPT_STRING: break;
    }
    return strstr(o->name, "url") != NULL ? QF_CHECK_BASE_URL : "check";
}

static int is_secret(const qf_option_spec *o)
{
    return (o->flags & QF_OPT_SECRET) != 0 || qf_check_name_is_secret(o->name);
}

int qf_check_context_fill(qf_context *ctx, const qf_plugin_descriptor *d,
                          const char *skip)
{
    for (size_t i = 0; i < d->option_count; i++) {
        const qf_option_spec *o = &d->options[i];
        const char *value = o->default_value;

        if (skip != NULL && strcmp(o->name, skip) == 0)
            continue;
        if (is_secret(o) && secret_value(o) != NULL)
            value = secret_value(o);
        else if (value == NULL && (o->flags & QF_OPT_REQUIRED) != 0)
            value = placeholder(o);
        if (value != NULL && qf_check_context_set(ctx, o->name, value) != 0)
            return -1;
    }
    if (d->kind == QF_KIND_PROVIDER &&
        (skip == NULL || strcmp(skip, "base_url") != 0))
        return qf_check_context_set(ctx, "base_url", QF_CHECK_BASE_URL);
    return 0;
}

/* --- Request -------------------------------------------------------- */

qf_request *qf_check_request_new(qf_request_kind kind, const char *content,
                                 size_t len, int stream)
{
    qf_request *req = calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    req->kind = kind;
    req->stream = stream;
    req->model = strdup("check-model");
    req->params = cJSON_CreateObject();
    req->options = cJSON_CreateObject();
    if (req->model == NULL || req->params == NULL || req->options == NULL ||
        (content != NULL &&
         qf_check_request_insert(req, 0, "user", content, len) != QF_OK)) {
        qf_check_request_free(req);
        return NULL;
    }
    return req;
}

void qf_check_request_free(qf_request *req)
{
    if (req == NULL)
        return;
    for (size_t i = 0; i < req->message_count; i++) {
        free(req->messages[i].role);
        free(req->messages[i].content);
    }
    while (req->texts != NULL) {
        check_text *next = req->texts->next;

        free(req->texts);
        req->texts = next;
    }
    free(req->messages);
    free(req->model);
    cJSON_Delete(req->params);
    cJSON_Delete(req->options);
    free(req);
}

/* Keep `text` (malloc'd, taken over) until the request is freed. */
static const char *request_keep(const qf_request *creq, char *text)
{
    qf_request *req = (qf_request *)creq;
    size_t len;
    check_text *node;

    if (text == NULL)
        return NULL;
    len = strlen(text);
    node = malloc(sizeof(*node) + len + 1);
    if (node != NULL) {
        memcpy(node->text, text, len + 1);
        node->next = req->texts;
        req->texts = node;
    }
    free(text);
    return node != NULL ? node->text : NULL;
}

static const char *request_id(const qf_request *req)
{
    return "check-request-1";
}

static qf_request_kind request_kind(const qf_request *req)
{
    return req->kind;
}

static const char *request_role(const qf_request *req)
{
    return "checker";
}

static const char *request_provider(const qf_request *req)
{
    return "check_provider";
}

static const char *request_model(const qf_request *req)
{
    return req->model;
}

static qf_status request_set_model(qf_request *req, const char *model)
{
    char *copy = strdup(model != NULL ? model : "");

    if (copy == NULL)
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

qf_status qf_check_request_insert(qf_request *req, size_t index,
                                  const char *role, const char *content,
                                  size_t len)
{
    check_message *grown;
    check_message m = {strdup(role ? role : ""), malloc(len + 1), len};

    if (index > req->message_count || m.role == NULL || m.content == NULL)
        goto fail;
    if (len > 0)
        memcpy(m.content, content, len);
    m.content[len] = '\0';
    grown = realloc(req->messages, (req->message_count + 1) * sizeof(*grown));
    if (grown == NULL)
        goto fail;
    req->messages = grown;
    memmove(&grown[index + 1], &grown[index],
            (req->message_count - index) * sizeof(*grown));
    grown[index] = m;
    req->message_count++;
    return QF_OK;

fail:
    free(m.role);
    free(m.content);
    return index > req->message_count ? QF_ERR_INVALID : QF_ERR_NOMEM;
}

static const char *object_json(const qf_request *req, const cJSON *object)
{
    return request_keep(req, cJSON_PrintUnformatted(object));
}

static const char *object_item(const qf_request *req, const cJSON *object,
                               const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    return item != NULL ? request_keep(req, cJSON_PrintUnformatted(item))
                        : NULL;
}

static qf_status object_set(cJSON *object, const char *name, const char *json)
{
    cJSON *value;

    cJSON_DeleteItemFromObjectCaseSensitive(object, name);
    if (json == NULL)
        return QF_OK;
    value = cJSON_Parse(json);
    if (value == NULL)
        return QF_ERR_INVALID;
    cJSON_AddItemToObject(object, name, value);
    return QF_OK;
}

static const char *request_params_json(const qf_request *req)
{
    return object_json(req, req->params);
}

static const char *request_param(const qf_request *req, const char *name)
{
    return object_item(req, req->params, name);
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
                                   const char *json)
{
    return object_set(req->params, name, json);
}

static const char *request_options_json(const qf_request *req)
{
    return object_json(req, req->options);
}

static const char *request_option(const qf_request *req, const char *name)
{
    return object_item(req, req->options, name);
}

static qf_status request_set_option(qf_request *req, const char *name,
                                    const char *json)
{
    return object_set(req->options, name, json);
}

static int request_stream(const qf_request *req)
{
    return req->stream;
}

static int request_stream_usage(const qf_request *req)
{
    return 0;
}

static unsigned request_cache_flags(const qf_request *req)
{
    return 0;
}

static const char *request_provider_setting(const qf_request *req,
                                            const char *key)
{
    return strcmp(key, "base_url") == 0 ? QF_CHECK_BASE_URL : NULL;
}

void qf_check_fill_request_accessors(qf_host *h)
{
    h->request_id = request_id;
    h->request_kind = request_kind;
    h->request_role = request_role;
    h->request_provider = request_provider;
    h->request_model = request_model;
    h->request_set_model = request_set_model;
    h->request_message_count = request_message_count;
    h->request_message = request_message;
    h->request_insert_message = qf_check_request_insert;
    h->request_params_json = request_params_json;
    h->request_param = request_param;
    h->request_param_number = request_param_number;
    h->request_set_param = request_set_param;
    h->request_options_json = request_options_json;
    h->request_option = request_option;
    h->request_set_option = request_set_option;
    h->request_stream = request_stream;
    h->request_stream_usage = request_stream_usage;
    h->request_cache_flags = request_cache_flags;
    h->request_provider_setting = request_provider_setting;
}

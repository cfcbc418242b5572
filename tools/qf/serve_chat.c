/*
 * serve_chat.c - POST /v1/chat/completions. The body's `model` names a
 * role; its generation parameters become the runtime layer of a request
 * through that role's chain and its messages the request's messages. Any
 * body field this gateway does not understand is a 400 that names it, so a
 * client never believes a setting took effect when it did not.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

typedef enum param_kind { P_NUMBER, P_INTEGER, P_STOP, P_OBJECT } param_kind;

typedef struct param_spec {
    const char *name;
    param_kind kind;
} param_spec;

/* Generation parameters under their OpenAI names. */
static const param_spec params[] = {
    {"temperature", P_NUMBER},
    {"top_p", P_NUMBER},
    {"max_tokens", P_INTEGER},
    {"max_completion_tokens", P_INTEGER},
    {"seed", P_INTEGER},
    {"stop", P_STOP},
    {"presence_penalty", P_NUMBER},
    {"frequency_penalty", P_NUMBER},
    {"response_format", P_OBJECT},
};

/* Fields read by the gateway itself. `user` is accepted and ignored (it
 * is not logged either); `n` is accepted only as 1. */
static const char *const own_fields[] = {
    "model", "messages", "stream", "stream_options", "user", "n", NULL};

typedef struct chat_input {
    int stream;
    int include_usage;
    qf_cnode *layer;
} chat_input;

static const param_spec *find_param(const char *name)
{
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        if (strcmp(params[i].name, name) == 0)
            return &params[i];
    }
    return NULL;
}

static int is_own_field(const char *name)
{
    for (size_t i = 0; own_fields[i] != NULL; i++) {
        if (strcmp(own_fields[i], name) == 0)
            return 1;
    }
    return 0;
}

static int valid_param(const param_spec *spec, const cJSON *value)
{
    const cJSON *item;

    switch (spec->kind) {
    case P_NUMBER: return cJSON_IsNumber(value);
    case P_INTEGER:
        return cJSON_IsNumber(value) &&
               value->valuedouble == floor(value->valuedouble) &&
               fabs(value->valuedouble) < 9007199254740992.0;
    case P_STOP:
        if (cJSON_IsString(value))
            return 1;
        if (!cJSON_IsArray(value))
            return 0;
        cJSON_ArrayForEach(item, value)
        {
            if (!cJSON_IsString(item))
                return 0;
        }
        return 1;
    case P_OBJECT: return cJSON_IsObject(value);
    }
    return 0;
}

static const char *kind_phrase(param_kind kind)
{
    switch (kind) {
    case P_NUMBER: return "a number";
    case P_INTEGER: return "an integer";
    case P_STOP: return "a string or a list of strings";
    case P_OBJECT: return "an object";
    }
    return "a value";
}

/* Check every field; numbers go into the runtime layer here, strings and
 * structured values are set on the request later (see set_structured). */
static enum MHD_Result check_fields(struct MHD_Connection *conn,
                                    serve_call *call, const cJSON *body,
                                    chat_input *in)
{
    const cJSON *field;
    qf_error err;

    qf_error_init(&err);
    cJSON_ArrayForEach(field, body)
    {
        const param_spec *spec = find_param(field->string);
        char path[64], number[64];

        if (spec == NULL && !is_own_field(field->string))
            return serve_respond_error(
                conn, call, 400, "invalid_request_error", "unknown_parameter",
                field->string,
                "unknown parameter '%.100s'; this gateway accepts model, "
                "messages, stream, stream_options, user, n (1 only) and the "
                "generation parameters listed in docs/gateway.md",
                field->string);
        if (spec == NULL || cJSON_IsNull(field))
            continue;
        if (!valid_param(spec, field))
            return serve_respond_error(conn, call, 400, "invalid_request_error",
                                       "invalid_type", spec->name,
                                       "%s must be %s", spec->name,
                                       kind_phrase(spec->kind));
        if (spec->kind != P_NUMBER && spec->kind != P_INTEGER)
            continue;
        snprintf(path, sizeof(path), "params.%s", spec->name);
        snprintf(number, sizeof(number), "%.17g", field->valuedouble);
        if (qf_cnode_set(in->layer, path, number, &err) != QF_OK)
            return serve_respond_qf_error(conn, call, &err);
    }
    return MHD_YES;
}

static enum MHD_Result check_options(struct MHD_Connection *conn,
                                     serve_call *call, const cJSON *body,
                                     chat_input *in)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "n");
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(body, "stream");
    const cJSON *options =
        cJSON_GetObjectItemCaseSensitive(body, "stream_options");

    if (n != NULL && !cJSON_IsNull(n) &&
        !(cJSON_IsNumber(n) && n->valuedouble == 1))
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "unsupported_value", "n",
                                   "n must be 1; this gateway returns one "
                                   "choice per request");
    if (stream != NULL && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "invalid_type", "stream",
                                   "stream must be true or false");
    in->stream = cJSON_IsTrue(stream);
    in->include_usage = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(options, "include_usage"));
    return MHD_YES;
}

/* Set stop and response_format on the request as JSON, so a string stays
 * a string whatever its text looks like. */
static qf_status set_structured(const qf_host *host, qf_request *req,
                                const cJSON *body, qf_error *err)
{
    const cJSON *field;

    cJSON_ArrayForEach(field, body)
    {
        const param_spec *spec = find_param(field->string);
        char *json;
        qf_status status;

        if (spec == NULL || cJSON_IsNull(field) || spec->kind == P_NUMBER ||
            spec->kind == P_INTEGER)
            continue;
        json = cJSON_PrintUnformatted(field);
        if (json == NULL)
            return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        status = host->request_set_param(req, spec->name, json);
        free(json);
        if (status != QF_OK)
            return qf_error_set(err, status, "cannot set parameter %s",
                                spec->name);
    }
    return QF_OK;
}

/* The text of a message's content: a string, or a list of text parts
 * joined without a separator. *out is malloc'd; NULL when not text. */
static char *content_text(const cJSON *content)
{
    const cJSON *part;
    size_t len = 0;
    char *text;

    if (cJSON_IsString(content))
        return strdup(content->valuestring);
    if (!cJSON_IsArray(content))
        return NULL;
    cJSON_ArrayForEach(part, content)
    {
        const char *piece = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(part, "text"));
        const char *type = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(part, "type"));

        if (piece == NULL || type == NULL || strcmp(type, "text") != 0)
            return NULL;
        len += strlen(piece);
    }
    text = malloc(len + 1);
    if (text == NULL)
        return NULL;
    len = 0;
    cJSON_ArrayForEach(part, content)
    {
        const char *piece = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(part, "text"));
        size_t n = strlen(piece);

        memcpy(text + len, piece, n);
        len += n;
    }
    text[len] = '\0';
    return text;
}

/* The request role of an OpenAI message role; developer messages are
 * system messages for every provider. NULL for roles not supported. */
static const char *message_role(const char *role)
{
    if (role == NULL)
        return NULL;
    if (strcmp(role, "developer") == 0 || strcmp(role, "system") == 0)
        return "system";
    if (strcmp(role, "user") == 0 || strcmp(role, "assistant") == 0)
        return role;
    return NULL;
}

static enum MHD_Result add_messages(struct MHD_Connection *conn,
                                    serve_call *call, qf_request *req,
                                    const cJSON *messages, int *ok)
{
    const cJSON *msg;
    size_t index = 0;

    *ok = 0;
    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0)
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "invalid_request", "messages",
                                   "messages must be a non-empty list of "
                                   "{role, content} objects");
    cJSON_ArrayForEach(msg, messages)
    {
        const char *role = message_role(cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(msg, "role")));
        char *text =
            content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"));
        qf_status status = QF_ERR_INVALID;

        if (role != NULL && text != NULL)
            status = qf_request_add_message(req, role, text, strlen(text));
        free(text);
        if (status != QF_OK)
            return serve_respond_error(
                conn, call, 400, "invalid_request_error", "invalid_request",
                "messages",
                "messages[%zu] is invalid; expected role system, developer, "
                "user or assistant and content as a string or a list of "
                "text parts",
                index);
        index++;
    }
    *ok = 1;
    return MHD_YES;
}

static cJSON *completion_json(serve_job *job)
{
    const qf_host *host = serve_job_host(job);
    const qf_response *resp = serve_job_response(job);
    const serve_result *r = serve_job_result(job);
    const char *finish = host->response_finish_reason(resp);
    cJSON *root = cJSON_CreateObject();
    cJSON *choice = cJSON_CreateObject();
    cJSON *message = cJSON_CreateObject();
    cJSON *choices;

    cJSON_AddStringToObject(root, "id", serve_job_id(job));
    cJSON_AddStringToObject(root, "object", "chat.completion");
    cJSON_AddNumberToObject(root, "created", (double)serve_job_created(job));
    cJSON_AddStringToObject(root, "model", r->model);
    choices = cJSON_AddArrayToObject(root, "choices");
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON_AddStringToObject(message, "role", "assistant");
    cJSON_AddStringToObject(message, "content",
                            host->response_text(resp, NULL));
    cJSON_AddItemToObject(choice, "message", message);
    cJSON_AddNullToObject(choice, "logprobs");
    cJSON_AddStringToObject(choice, "finish_reason",
                            finish != NULL ? finish : "stop");
    cJSON_AddItemToArray(choices, choice);
    cJSON_AddItemToObject(root, "usage", serve_usage_json(&r->usage));
    return root;
}

static enum MHD_Result timed_out(struct MHD_Connection *conn, serve_call *call)
{
    return serve_respond_error(
        conn, call, 504, "server_error", "request_timeout", NULL,
        "the request took longer than %lld seconds "
        "(gateway.request_timeout_seconds)",
        (long long)call->server->settings.request_timeout_seconds);
}

/* Answer once the job has output (streaming) or has finished. */
static enum MHD_Result answer(struct MHD_Connection *conn, serve_call *call,
                              int stream)
{
    serve_job *job = call->job;
    int64_t deadline =
        call->start_ns +
        call->server->settings.request_timeout_seconds * 1000000000;
    const qf_error *err;
    int state;

    if (stream) {
        state = serve_job_wait_first(job, deadline);
        if (state == 1)
            return serve_queue(conn, call, 200,
                               serve_job_stream_response(job, deadline));
    } else {
        state = serve_job_wait_done(job, deadline);
    }
    if (state < 0)
        return timed_out(conn, call);
    if (serve_job_status(job, &err) != QF_OK)
        return serve_respond_qf_error(conn, call, err);
    return serve_respond_json(conn, call, 200, completion_json(job));
}

/* Build the request, start its job and answer. */
static enum MHD_Result start(struct MHD_Connection *conn, serve_call *call,
                             const cJSON *body, chat_input *in)
{
    const qf_host *host = qf_runtime_host(call->gen->rt);
    qf_request *req = NULL;
    qf_error err;
    enum MHD_Result rc;
    int ok;

    qf_error_init(&err);
    if (qf_request_create(call->gen->rt, call->role, in->layer, &req, &err) !=
            QF_OK ||
        set_structured(host, req, body, &err) != QF_OK) {
        qf_request_free(req);
        return serve_respond_qf_error(conn, call, &err);
    }
    if (host->request_kind(req) != QF_REQUEST_TEXT) {
        qf_request_free(req);
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "wrong_endpoint", "model",
                                   "role %s makes images; use POST "
                                   "/v1/images/generations",
                                   call->role);
    }
    rc = add_messages(conn, call, req,
                      cJSON_GetObjectItemCaseSensitive(body, "messages"), &ok);
    if (!ok) {
        qf_request_free(req);
        return rc;
    }
    call->job = serve_job_start(call, req, in->stream, in->include_usage, &err);
    if (call->job == NULL)
        return serve_respond_qf_error(conn, call, &err);
    return answer(conn, call, in->stream);
}

enum MHD_Result serve_chat(struct MHD_Connection *conn, serve_call *call)
{
    cJSON *body =
        cJSON_ParseWithLength(call->body ? call->body : "", call->body_len);
    chat_input in = {0};
    enum MHD_Result rc;

    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "invalid_json", NULL,
                                   "the request body is not a JSON object; "
                                   "send {\"model\": ROLE, \"messages\": "
                                   "[...]}");
    }
    in.layer = qf_cnode_new_map(QF_LAYER_RUNTIME);
    if (serve_pick_role(conn, call,
                        cJSON_GetObjectItemCaseSensitive(body, "model"),
                        &rc) == NULL)
        goto out;
    rc = check_fields(conn, call, body, &in);
    if (call->status == 0)
        rc = check_options(conn, call, body, &in);
    if (call->status == 0)
        rc = start(conn, call, body, &in);
out:
    qf_cnode_free(in.layer);
    cJSON_Delete(body);
    return rc;
}

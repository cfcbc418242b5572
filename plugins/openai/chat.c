/*
 * chat.c - chat completions: builds the JSON body from the request
 * (messages, generation params, native options, the max_tokens rename),
 * sends it with transport.c, and reads the response, either one JSON body or
 * a server-sent event stream whose deltas go to host->stream_write.
 */
#include "openai_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sse.h"

/* Native options passed through to the body; anything else is rejected. */
static const char *const accepted_options[] = {
    "n",
    "user",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "service_tier",
    "store",
    "metadata",
    "reasoning_effort",
};
#define ACCEPTED_OPTIONS_TEXT                                                  \
    "n, user, logit_bias, logprobs, top_logprobs, parallel_tool_calls, "       \
    "service_tier, store, metadata, reasoning_effort"

/* Keys the plugin sets itself; params and options cannot override them. */
static const char *const reserved_keys[] = {"model", "messages", "stream",
                                            "stream_options"};

typedef struct chat_state {
    openai_instance *oa;
    const qf_request *req;
    qf_response *resp;
    qf_sse_parser *sse;
    int done;           /* "data: [DONE]" arrived */
    int chunks;         /* text deltas passed to stream_write */
    size_t reply_bytes; /* bytes of reply text */
    size_t prompt_bytes;
    int have_usage;
    qf_usage usage;
    char finish_reason[32];
    char model[128];
} chat_state;

static int in_list(const char *name, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

/* Parse a JSON object text of the request; NULL text is an empty object. */
static cJSON *parse_object(const char *text)
{
    return text && text[0] ? cJSON_Parse(text) : cJSON_CreateObject();
}

/* Copy every generation param into body, except the reserved keys. */
static qf_status add_params(const qf_host *host, const qf_request *req,
                            cJSON *body, qf_error *err)
{
    cJSON *params = parse_object(host->request_params_json(req));
    const cJSON *param;

    if (!cJSON_IsObject(params)) {
        cJSON_Delete(params);
        return host->error_set(err, QF_ERR_INVALID,
                               "openai: request %s has params that are not a "
                               "JSON object",
                               host->request_id(req));
    }
    cJSON_ArrayForEach(param, params)
    {
        if (in_list(param->string, reserved_keys, 4))
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(body, param->string);
        cJSON_AddItemToObject(body, param->string, cJSON_Duplicate(param, 1));
    }
    cJSON_Delete(params);
    return QF_OK;
}

/* Copy the native options, rejecting any the plugin does not know. */
static qf_status add_options(const qf_host *host, const qf_request *req,
                             cJSON *body, qf_error *err)
{
    cJSON *options = parse_object(host->request_options_json(req));
    const cJSON *option;
    qf_status status = QF_OK;

    if (!cJSON_IsObject(options)) {
        status =
            host->error_set(err, QF_ERR_INVALID,
                            "openai: request %s has options that are not a "
                            "JSON object",
                            host->request_id(req));
        goto out;
    }
    cJSON_ArrayForEach(option, options)
    {
        if (!in_list(option->string, accepted_options,
                     sizeof(accepted_options) / sizeof(accepted_options[0]))) {
            status =
                host->error_set(err, QF_ERR_INVALID,
                                "openai: unknown option \"%s\"; the accepted "
                                "native options are " ACCEPTED_OPTIONS_TEXT,
                                option->string);
            goto out;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(body, option->string);
        cJSON_AddItemToObject(body, option->string, cJSON_Duplicate(option, 1));
    }

out:
    cJSON_Delete(options);
    return status;
}

/* Reasoning models reject max_tokens: send the cap as
 * max_completion_tokens, unless the request already set that. */
static void rename_token_cap(cJSON *body, const char *model)
{
    if (!qf_openai_model_uses_max_completion_tokens(model))
        return;

    cJSON *cap = cJSON_DetachItemFromObjectCaseSensitive(body, "max_tokens");
    if (!cap)
        return;
    if (cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens"))
        cJSON_Delete(cap);
    else
        cJSON_AddItemToObject(body, "max_completion_tokens", cap);
}

static qf_status add_messages(chat_state *st, cJSON *body, qf_error *err)
{
    const qf_host *host = st->oa->host;
    size_t count = host->request_message_count(st->req);
    cJSON *messages = cJSON_AddArrayToObject(body, "messages");

    for (size_t i = 0; messages && i < count; i++) {
        const char *role = NULL, *content = NULL;
        size_t len = 0;
        qf_status status =
            host->request_message(st->req, i, &role, &content, &len);
        if (status != QF_OK)
            return host->error_set(err, status,
                                   "openai: could not read message %zu "
                                   "of request %s",
                                   i, host->request_id(st->req));

        char *text = strndup(content ? content : "", len);
        cJSON *message = cJSON_CreateObject();
        if (!text || !message ||
            !cJSON_AddStringToObject(message, "role", role) ||
            !cJSON_AddStringToObject(message, "content", text) ||
            !cJSON_AddItemToArray(messages, message)) {
            free(text);
            cJSON_Delete(message);
            return host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
        }
        free(text);
        st->prompt_bytes += len;
    }
    return messages
               ? QF_OK
               : host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
}

static qf_status build_body(chat_state *st, const char *model, int stream,
                            char **out, qf_error *err)
{
    const qf_host *host = st->oa->host;
    cJSON *body = cJSON_CreateObject();
    qf_status status;

    if (!body)
        return host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
    if ((status = add_options(host, st->req, body, err)) ||
        (status = add_params(host, st->req, body, err)))
        goto out;
    rename_token_cap(body, model);
    cJSON_AddStringToObject(body, "model", model);
    if ((status = add_messages(st, body, err)))
        goto out;
    if (stream) {
        cJSON_AddTrueToObject(body, "stream");
        cJSON *stream_options = cJSON_AddObjectToObject(body, "stream_options");
        cJSON_AddTrueToObject(stream_options, "include_usage");
    }

    *out = cJSON_PrintUnformatted(body);
    if (!*out)
        status = host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");

out:
    cJSON_Delete(body);
    return status;
}

static int64_t json_count(const cJSON *object, const char *name, int *found)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    if (!cJSON_IsNumber(item))
        return 0;
    *found = 1;
    return item->valuedouble > 0 ? (int64_t)item->valuedouble : 0;
}

static void read_usage(chat_state *st, const cJSON *usage)
{
    int found = 0;

    if (!cJSON_IsObject(usage))
        return;
    st->usage.prompt_tokens = json_count(usage, "prompt_tokens", &found);
    st->usage.completion_tokens =
        json_count(usage, "completion_tokens", &found);
    int cached_found = 0;
    st->usage.cached_tokens = json_count(
        cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"),
        "cached_tokens", &cached_found);
    st->have_usage = found;
}

/* Keep model, finish reason and usage of one completion object or chunk. */
static void read_metadata(chat_state *st, const cJSON *json,
                          const cJSON *choice)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(json, "model");
    const cJSON *finish =
        cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");

    if (cJSON_IsString(model) && model->valuestring[0])
        snprintf(st->model, sizeof(st->model), "%s", model->valuestring);
    if (cJSON_IsString(finish) && finish->valuestring[0])
        snprintf(st->finish_reason, sizeof(st->finish_reason), "%s",
                 finish->valuestring);
    read_usage(st, cJSON_GetObjectItemCaseSensitive(json, "usage"));
}

static qf_status upstream_error_in_body(chat_state *st, const cJSON *json,
                                        qf_error *err)
{
    char message[512];

    if (!qf_openai_json_error(json, message, sizeof(message)))
        return QF_OK;
    return st->oa->host->error_set(err, QF_ERR_UPSTREAM,
                                   "openai: upstream returned an error: %s",
                                   message);
}

/* --- Streaming ------------------------------------------------------- */

typedef struct stream_sink {
    chat_state *st;
    qf_error *err;
} stream_sink;

/* Pass the text delta of one chunk on and keep its metadata. Chunks
 * without choices (the usage chunk) carry metadata only. */
static qf_status read_chunk(chat_state *st, const cJSON *json, qf_error *err)
{
    const qf_host *host = st->oa->host;
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(json, "choices"), 0);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(choice, "delta"), "content");

    read_metadata(st, json, choice);
    if (!cJSON_IsString(content) || !content->valuestring[0])
        return QF_OK;

    size_t len = strlen(content->valuestring);
    qf_status status = host->stream_write(st->resp, content->valuestring, len);
    if (status != QF_OK)
        return host->error_set(err, status,
                               "openai: request %s: the stream was "
                               "stopped by its receiver",
                               host->request_id(st->req));
    st->chunks++;
    st->reply_bytes += len;
    return QF_OK;
}

static qf_status on_stream_event(void *user, const qf_sse_event *event)
{
    stream_sink *sink = user;
    chat_state *st = sink->st;
    const qf_host *host = st->oa->host;
    qf_status status;

    if (strcmp(event->data, "[DONE]") == 0) {
        st->done = 1;
        return QF_OK;
    }
    if (st->done)
        return QF_OK;

    cJSON *json = cJSON_ParseWithLength(event->data, event->data_len);
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return host->error_set(
            sink->err, QF_ERR_PROTOCOL,
            "openai: upstream sent a stream event that is not "
            "a JSON object: %.80s",
            event->data);
    }
    status = upstream_error_in_body(st, json, sink->err);
    if (status == QF_OK && strcmp(event->event, "error") == 0)
        status = host->error_set(sink->err, QF_ERR_UPSTREAM,
                                 "openai: upstream returned an error: %.200s",
                                 event->data);
    if (status == QF_OK)
        status = read_chunk(st, json, sink->err);

    cJSON_Delete(json);
    return status;
}

static qf_status on_stream_body(void *user, const char *bytes, size_t len,
                                qf_error *err)
{
    chat_state *st = user;
    stream_sink sink = {st, err};
    qf_status status =
        qf_sse_parser_feed(st->sse, bytes, len, on_stream_event, &sink);

    if (status == QF_ERR_TOO_LARGE)
        st->oa->host->error_set(err, status,
                                "openai: a stream event exceeded "
                                "max_response_bytes (%zu bytes)",
                                st->oa->max_response_bytes);
    else if (status == QF_ERR_NOMEM)
        st->oa->host->error_set(err, status, "openai: out of memory");
    return status;
}

static qf_status on_stream_done(void *user, qf_error *err)
{
    chat_state *st = user;
    stream_sink sink = {st, err};
    qf_status status = qf_sse_parser_finish(st->sse, on_stream_event, &sink);

    if (status != QF_OK)
        return status;
    if (!st->done)
        return st->oa->host->error_set(
            err, QF_ERR_STREAM_CUT,
            "openai: upstream stream was cut before its end (the connection "
            "closed without data: [DONE])");
    return QF_OK;
}

static void on_attempt(void *user)
{
    chat_state *st = user;

    qf_sse_parser_reset(st->sse);
    st->done = 0;
    st->have_usage = 0;
    st->finish_reason[0] = '\0';
    st->model[0] = '\0';
}

static int chunks_written(void *user)
{
    return ((chat_state *)user)->chunks > 0;
}

/* --- Buffered responses and the result -------------------------------- */

static qf_status read_completion(chat_state *st, const openai_buffer *body,
                                 qf_error *err)
{
    const qf_host *host = st->oa->host;
    cJSON *json =
        cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    qf_status status = QF_OK;

    if (!cJSON_IsObject(json)) {
        status =
            host->error_set(err, QF_ERR_PROTOCOL,
                            "openai: upstream returned HTTP 200 with a body "
                            "that is not a JSON object (%zu bytes); check "
                            "that base_url points at an OpenAI-compatible API",
                            body->len);
        goto out;
    }
    if ((status = upstream_error_in_body(st, json, err)))
        goto out;

    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(json, "choices"), 0);
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
    if (!cJSON_IsObject(message) ||
        !(cJSON_IsString(content) || cJSON_IsNull(content))) {
        status = host->error_set(err, QF_ERR_PROTOCOL,
                                 "openai: upstream answer has no "
                                 "choices[0].message.content");
        goto out;
    }
    read_metadata(st, json, choice);

    const char *text = cJSON_IsString(content) ? content->valuestring : "";
    st->reply_bytes = strlen(text);
    status = host->response_set_text(st->resp, text, st->reply_bytes);

out:
    cJSON_Delete(json);
    return status;
}

static void fill_response(chat_state *st, const char *model)
{
    const qf_host *host = st->oa->host;
    qf_usage usage = st->usage;

    usage.size = sizeof(usage);
    if (!st->have_usage) {
        usage.prompt_tokens = qf_openai_estimate_tokens(st->prompt_bytes);
        usage.cached_tokens = 0;
        usage.completion_tokens = qf_openai_estimate_tokens(st->reply_bytes);
        usage.estimated = 1;
    }
    host->response_set_usage(st->resp, &usage);
    if (st->finish_reason[0])
        host->response_set_finish_reason(st->resp, st->finish_reason);
    host->response_set_model(st->resp, st->model[0] ? st->model : model);
}

static qf_status resolve_model(openai_instance *oa, const qf_request *req,
                               const char **model, qf_error *err)
{
    const char *requested = oa->host->request_model(req);

    *model = requested && requested[0] ? requested : oa->model;
    if (!*model || !(*model)[0])
        return oa->host->error_set(
            err, QF_ERR_CONFIG,
            "openai: request %s names no model; set model "
            "in the provider block or the role",
            oa->host->request_id(req));
    return QF_OK;
}

/* Fill the inputs of the HTTP call; a streamed call gets the SSE hooks. */
static void prepare_call(openai_call *call, chat_state *st, const char *body,
                         int stream)
{
    const qf_host *host = st->oa->host;

    call->req = st->req;
    call->path = "/chat/completions";
    call->body = body;
    call->user = st;
    if (stream) {
        call->on_body = on_stream_body;
        call->on_attempt = on_attempt;
        call->on_done = on_stream_done;
        call->chunks_written = chunks_written;
    }

    /* The body contains prompts but no credentials: those are headers. */
    if (host->log_enabled(st->oa->ctx, QF_LOG_TRACE))
        host->log(st->oa->ctx, QF_LOG_TRACE, "request %s: body %s",
                  host->request_id(st->req), body);
}

qf_status qf_openai_complete(void *instance, const qf_request *req,
                             qf_response *resp, qf_error *err)
{
    openai_instance *oa = instance;
    chat_state st;
    openai_call call;
    const char *model = NULL;
    char *body = NULL;
    int stream = oa->host->request_stream(req);
    qf_status status;

    memset(&st, 0, sizeof(st));
    memset(&call, 0, sizeof(call));
    st.oa = oa;
    st.req = req;
    st.resp = resp;
    if ((status = resolve_model(oa, req, &model, err)) ||
        (status = build_body(&st, model, stream, &body, err)))
        goto out;
    if (stream && !(st.sse = qf_sse_parser_create(oa->max_response_bytes))) {
        status =
            oa->host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
        goto out;
    }

    prepare_call(&call, &st, body, stream);
    status = qf_openai_call_run(oa, &call, err);
    if (status == QF_OK && !stream)
        status = read_completion(&st, &call.response, err);
    if (status == QF_OK)
        fill_response(&st, model);

out:
    qf_openai_call_free(&call);
    qf_sse_parser_destroy(st.sse);
    cJSON_free(body);
    return status;
}

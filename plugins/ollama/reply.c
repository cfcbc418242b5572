/*
 * reply.c - reading Ollama's reply. Every frame (each NDJSON line of a
 * stream, or the one object of a non-stream reply) goes through
 * ollama_reply_frame: text deltas are passed on, housekeeping frames
 * (done_reason "load" or "unload") are skipped, and the final frame
 * (done:true) gives the finish reason and the token counts. Missing counts
 * are estimated at four bytes of UTF-8 per token and flagged as estimated.
 */
#include "ollama.h"

#include <stdlib.h>
#include <string.h>

static qf_status nomem(ollama_call *call)
{
    call->failure = call->inst->host->error_set(
        call->err, QF_ERR_NOMEM, "ollama: out of memory reading the reply");
    return call->failure;
}

void ollama_reply_reset(ollama_call *call)
{
    qf_ndjson_deinit(&call->reader);
    qf_ndjson_init(&call->reader, call->inst->max_response_bytes,
                   ollama_reply_frame, call);
    free(call->data);
    call->data = NULL;
    call->data_len = 0;
    call->received = 0;
    call->http_status = 0;
    call->retry_after_ms = -1;
    call->failure = QF_OK;

    call->answered = 0;
    call->load_frames = 0;
    call->content_frames = 0;
    free(call->text);
    call->text = NULL;
    call->text_len = 0;
    free(call->done_reason);
    call->done_reason = NULL;
    free(call->model);
    call->model = NULL;
    call->prompt_eval_count = -1;
    call->eval_count = -1;
}

void ollama_reply_free(ollama_call *call)
{
    qf_ndjson_deinit(&call->reader);
    free(call->data);
    free(call->text);
    free(call->done_reason);
    free(call->model);
    call->data = call->text = call->done_reason = call->model = NULL;
}

static int is_housekeeping(const char *done_reason)
{
    return done_reason != NULL && (strcmp(done_reason, "load") == 0 ||
                                   strcmp(done_reason, "unload") == 0);
}

/* Pass a text delta to the stream, or append it to the reply text. */
static qf_status deliver(ollama_call *call, const char *text, size_t len)
{
    const qf_host *host = call->inst->host;
    qf_status status;
    char *grown;

    call->text_len += call->stream ? len : 0;
    if (call->stream) {
        status = host->stream_write(call->resp, text, len);
        call->deltas_written++;
        if (status != QF_OK)
            call->failure = host->error_set(
                call->err, status,
                "ollama: the stream was stopped by its consumer");
        return status;
    }

    grown = realloc(call->text, call->text_len + len + 1);
    if (grown == NULL)
        return nomem(call);
    memcpy(grown + call->text_len, text, len);
    call->text_len += len;
    grown[call->text_len] = '\0';
    call->text = grown;
    return QF_OK;
}

static int64_t count_or_absent(const cJSON *frame, const char *name)
{
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(frame, name);

    return cJSON_IsNumber(count) && count->valuedouble >= 0
               ? (int64_t)count->valuedouble
               : -1;
}

/* The final frame: finish reason and token counts. */
static qf_status read_final(ollama_call *call, const cJSON *frame,
                            const char *done_reason)
{
    call->answered = 1;
    call->done_reason = strdup(done_reason ? done_reason : "stop");
    if (call->done_reason == NULL)
        return nomem(call);
    call->prompt_eval_count = count_or_absent(frame, "prompt_eval_count");
    call->eval_count = count_or_absent(frame, "eval_count");
    return QF_OK;
}

qf_status ollama_reply_frame(void *user, const cJSON *frame)
{
    ollama_call *call = user;
    const cJSON *reason =
        cJSON_GetObjectItemCaseSensitive(frame, "done_reason");
    const char *done_reason =
        cJSON_IsString(reason) ? reason->valuestring : NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(frame, "model");
    const cJSON *content;
    qf_status status;

    if (is_housekeeping(done_reason)) {
        call->load_frames++;
        return QF_OK;
    }
    if (call->answered)
        return QF_OK; /* nothing follows the final frame */

    if (call->model == NULL && cJSON_IsString(model) &&
        (call->model = strdup(model->valuestring)) == NULL)
        return nomem(call);

    if (call->inst->use_generate)
        content = cJSON_GetObjectItemCaseSensitive(frame, "response");
    else
        content = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(frame, "message"), "content");
    call->content_frames++;
    if (cJSON_IsString(content) && content->valuestring[0] != '\0') {
        status =
            deliver(call, content->valuestring, strlen(content->valuestring));
        if (status != QF_OK)
            return status;
    }

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(frame, "done")))
        return read_final(call, frame, done_reason);
    return QF_OK;
}

qf_status ollama_reply_parse_body(ollama_call *call)
{
    const qf_host *host = call->inst->host;
    cJSON *body = call->data ? cJSON_Parse(call->data) : NULL;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(body, "error");
    qf_status status;

    if (!cJSON_IsObject(body))
        status =
            host->error_set(call->err, QF_ERR_PROTOCOL,
                            "ollama: the reply from %s is not a JSON object "
                            "(%zu bytes); check that base_url points at Ollama",
                            call->url, call->data_len);
    else if (cJSON_IsString(error))
        status = host->error_set(call->err, QF_ERR_UPSTREAM,
                                 "ollama: upstream returned an error: %s",
                                 error->valuestring);
    else
        status = ollama_reply_frame(call, body);
    cJSON_Delete(body);
    return status;
}

/* ceil(bytes / 4): a rough estimate of tokens in English UTF-8 text. */
static int64_t estimate_tokens(size_t bytes)
{
    return (int64_t)((bytes + 3) / 4);
}

static void set_usage(ollama_call *call)
{
    const qf_host *host = call->inst->host;
    qf_usage usage;

    memset(&usage, 0, sizeof(usage));
    usage.size = sizeof(usage);
    usage.prompt_tokens = call->prompt_eval_count;
    usage.completion_tokens = call->eval_count;
    /* Ollama leaves prompt_eval_count out when the prompt was cached. */
    if (usage.prompt_tokens < 0) {
        usage.prompt_tokens = estimate_tokens(ollama_body_message_bytes(call));
        usage.estimated = 1;
    }
    if (usage.completion_tokens < 0) {
        usage.completion_tokens = estimate_tokens(call->text_len);
        usage.estimated = 1;
    }
    host->response_set_usage(call->resp, &usage);
}

qf_status ollama_reply_finish(ollama_call *call)
{
    const qf_host *host = call->inst->host;
    const char *model =
        call->model ? call->model : host->request_model(call->req);

    if (!call->answered && call->load_frames > 0 && call->content_frames == 0)
        return host->error_set(call->err, QF_ERR_PROTOCOL,
                               "ollama returned no answer (only a load frame); "
                               "check that the request has messages");
    if (!call->answered)
        return host->error_set(
            call->err, QF_ERR_STREAM_CUT,
            "ollama: upstream stream was cut before its end");

    if (!call->stream &&
        host->response_set_text(call->resp, call->text ? call->text : "",
                                call->text_len) != QF_OK)
        return nomem(call);
    /* stop and length keep their names; other reasons are kept as is. */
    if (host->response_set_finish_reason(call->resp, call->done_reason) !=
        QF_OK)
        return nomem(call);
    if (model != NULL && host->response_set_model(call->resp, model) != QF_OK)
        return nomem(call);
    set_usage(call);
    return QF_OK;
}

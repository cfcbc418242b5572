/*
 * openai.c - the OpenAI endpoints of qf-sim: chat completions (one JSON
 * body, or SSE chunks with an optional usage chunk and "data: [DONE]"),
 * image generations (PNG from image.c, base64 encoded) and the model list.
 * Any model name is accepted and echoed back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sim.h"

#define MAX_IMAGES     10
#define MAX_IMAGE_SIDE 2048u

static const char *const model_ids[] = {"gpt-4o-mini", "gpt-4o", "gpt-image-1",
                                        "dall-e-3", "sim-small"};

static enum MHD_Result bad_request(struct sim_request *req, const char *code,
                                   const char *message)
{
    return sim_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                             code, message);
}

/* The output cap: max_completion_tokens, else max_tokens, else 0. */
static long output_cap(const cJSON *body)
{
    const cJSON *cap =
        cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens");

    if (!cJSON_IsNumber(cap))
        cap = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    return cJSON_IsNumber(cap) ? (long)cap->valuedouble : 0;
}

static cJSON *usage_json(const struct sim_reply *reply)
{
    cJSON *usage = cJSON_CreateObject();

    cJSON_AddNumberToObject(usage, "prompt_tokens", reply->prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens",
                            reply->completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens",
                            reply->prompt_tokens + reply->completion_tokens);
    if (reply->cached_tokens >= 0) {
        cJSON *details =
            cJSON_AddObjectToObject(usage, "prompt_tokens_details");

        cJSON_AddNumberToObject(details, "cached_tokens", reply->cached_tokens);
    }
    return usage;
}

static cJSON *completion_base(const char *object, const char *model)
{
    cJSON *json = cJSON_CreateObject();

    cJSON_AddStringToObject(json, "id", SIM_COMPLETION_ID);
    cJSON_AddStringToObject(json, "object", object);
    cJSON_AddNumberToObject(json, "created", SIM_CREATED);
    cJSON_AddStringToObject(json, "model", model);
    return json;
}

static cJSON *completion_json(const struct sim_reply *reply, const char *model)
{
    cJSON *json = completion_base("chat.completion", model);
    cJSON *choice = cJSON_CreateObject();
    cJSON *message;

    cJSON_AddNumberToObject(choice, "index", 0);
    message = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(message, "role", "assistant");
    cJSON_AddStringToObject(message, "content", reply->text);
    cJSON_AddStringToObject(choice, "finish_reason", reply->finish_reason);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(json, "choices"), choice);
    if (reply->usage)
        cJSON_AddItemToObject(json, "usage", usage_json(reply));
    return json;
}

/* A chunk with one choice: `delta` (taken) and finish_reason or null. */
static cJSON *chunk_json(const char *model, cJSON *delta,
                         const char *finish_reason)
{
    cJSON *json = completion_base("chat.completion.chunk", model);
    cJSON *choice = cJSON_CreateObject();

    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON_AddItemToObject(choice, "delta", delta);
    if (finish_reason != NULL)
        cJSON_AddStringToObject(choice, "finish_reason", finish_reason);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(json, "choices"), choice);
    return json;
}

static int plan_content(struct sim_stream_plan *plan,
                        const struct sim_reply *reply, const char *model)
{
    for (size_t i = 0; i < reply->word_count; i++) {
        cJSON *delta = cJSON_CreateObject();
        char *piece = sim_reply_word_piece(reply, i);

        if (i == 0)
            cJSON_AddStringToObject(delta, "role", "assistant");
        cJSON_AddStringToObject(delta, "content", piece != NULL ? piece : "");
        free(piece);
        if (sim_list_push_json(&plan->content,
                               chunk_json(model, delta, NULL)) != 0)
            return -1;
    }
    return 0;
}

static int plan_closing(struct sim_stream_plan *plan,
                        const struct sim_reply *reply, const char *model,
                        bool include_usage)
{
    cJSON *usage_chunk;

    if (sim_list_push_json(
            &plan->closing,
            chunk_json(model, cJSON_CreateObject(), reply->finish_reason)) != 0)
        return -1;
    if (!include_usage || !reply->usage)
        return 0;
    usage_chunk = completion_base("chat.completion.chunk", model);
    cJSON_AddArrayToObject(usage_chunk, "choices");
    cJSON_AddItemToObject(usage_chunk, "usage", usage_json(reply));
    return sim_list_push_json(&plan->closing, usage_chunk);
}

static enum MHD_Result stream_chat(struct sim_request *req,
                                   const struct sim_reply *reply,
                                   const char *model)
{
    const cJSON *options =
        cJSON_GetObjectItemCaseSensitive(req->json, "stream_options");
    bool include_usage = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(options, "include_usage"));
    struct sim_stream_plan plan = {.content_type = "text/event-stream",
                                   .prefix = "data: ",
                                   .suffix = "\n\n",
                                   .trailer = "[DONE]"};

    plan.error_payload =
        strdup("{\"error\":{\"message\":\"qf-sim error-mid-stream fault: the "
               "stream failed after two chunks\",\"type\":\"server_error\","
               "\"param\":null,\"code\":\"sim_error_mid_stream\"}}");
    if (plan.error_payload == NULL || plan_content(&plan, reply, model) != 0 ||
        plan_closing(&plan, reply, model, include_usage) != 0) {
        sim_stream_plan_free(&plan);
        return MHD_NO;
    }
    return sim_stream_respond(req, &plan);
}

/* NOTE: "n" is ignored, so every completion has exactly one choice. */
enum MHD_Result sim_openai_chat(struct sim_request *req)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req->json, "model");
    const cJSON *messages =
        cJSON_GetObjectItemCaseSensitive(req->json, "messages");
    struct sim_reply reply = {0};
    enum MHD_Result result = MHD_NO;

    if (!cJSON_IsString(model) || model->valuestring[0] == '\0')
        return bad_request(req, "missing_model",
                           "you must provide a model parameter");
    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0)
        return bad_request(req, "invalid_messages",
                           "'messages' must be a non-empty array");

    if (sim_reply_from_messages(&reply, messages, output_cap(req->json)) != 0)
        goto out;
    sim_reply_apply_headers(&reply, req->conn);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req->json, "stream")))
        result = stream_chat(req, &reply, model->valuestring);
    else
        result =
            sim_body_respond(req, completion_json(&reply, model->valuestring));
out:
    sim_reply_free(&reply);
    return result;
}

enum MHD_Result sim_openai_models(struct sim_request *req)
{
    cJSON *json = cJSON_CreateObject();
    cJSON *data;

    cJSON_AddStringToObject(json, "object", "list");
    data = cJSON_AddArrayToObject(json, "data");
    for (size_t i = 0; i < sizeof(model_ids) / sizeof(model_ids[0]); i++) {
        cJSON *model = cJSON_CreateObject();

        cJSON_AddStringToObject(model, "id", model_ids[i]);
        cJSON_AddStringToObject(model, "object", "model");
        cJSON_AddNumberToObject(model, "created", SIM_CREATED);
        cJSON_AddStringToObject(model, "owned_by", "qf-sim");
        cJSON_AddItemToArray(data, model);
    }
    return sim_body_respond(req, json);
}

/* Parse "WxH" with both sides in 1..MAX_IMAGE_SIDE. */
static int parse_size(const char *text, unsigned int *width,
                      unsigned int *height)
{
    int consumed = 0;

    if (sscanf(text, "%ux%u%n", width, height, &consumed) != 2 ||
        text[consumed] != '\0')
        return -1;
    if (*width < 1 || *height < 1 || *width > MAX_IMAGE_SIDE ||
        *height > MAX_IMAGE_SIDE)
        return -1;
    return 0;
}

static char *base64_png(const char *prompt, unsigned int index,
                        unsigned int width, unsigned int height)
{
    size_t png_len = 0;
    unsigned char *png = sim_image_png(prompt, index, width, height, &png_len);
    unsigned char *text;

    if (png == NULL)
        return NULL;
    text = malloc(4 * ((png_len + 2) / 3) + 1);
    if (text != NULL)
        EVP_EncodeBlock(text, png, (int)png_len);
    free(png);
    return (char *)text;
}

static enum MHD_Result respond_images(struct sim_request *req,
                                      const char *prompt, long count,
                                      unsigned int width, unsigned int height)
{
    cJSON *json = cJSON_CreateObject();
    cJSON *data;

    cJSON_AddNumberToObject(json, "created", SIM_CREATED);
    data = cJSON_AddArrayToObject(json, "data");
    for (long i = 0; i < count; i++) {
        char *b64 = base64_png(prompt, (unsigned int)i, width, height);
        cJSON *image = cJSON_CreateObject();

        if (b64 == NULL) {
            cJSON_Delete(image);
            cJSON_Delete(json);
            return MHD_NO;
        }
        cJSON_AddStringToObject(image, "b64_json", b64);
        cJSON_AddItemToArray(data, image);
        free(b64);
    }
    return sim_body_respond(req, json);
}

/* NOTE: response_format "url" is not supported; every image is b64_json. */
enum MHD_Result sim_openai_images(struct sim_request *req)
{
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(req->json, "prompt");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(req->json, "n");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(req->json, "size");
    unsigned int width = 256, height = 256;
    long count = 1;

    if (!cJSON_IsString(prompt) || prompt->valuestring[0] == '\0')
        return bad_request(req, "missing_prompt",
                           "'prompt' must be a non-empty string");
    if (cJSON_IsNumber(n))
        count = (long)n->valuedouble;
    if (count < 1 || count > MAX_IMAGES)
        return bad_request(req, "invalid_n", "'n' must be from 1 to 10");
    if (cJSON_IsString(size) &&
        parse_size(size->valuestring, &width, &height) != 0)
        return bad_request(req, "invalid_size",
                           "'size' must be WIDTHxHEIGHT with sides from 1 "
                           "to 2048, like \"256x256\"");
    return respond_images(req, prompt->valuestring, count, width, height);
}

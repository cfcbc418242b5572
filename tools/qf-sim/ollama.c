/*
 * ollama.c - the Ollama endpoints of qf-sim: /api/chat and /api/generate
 * (NDJSON frames by default, one JSON object with "stream": false) and
 * /api/tags. Only the models in `models` exist; "NAME" and "NAME:latest"
 * are the same model, as in Ollama. An empty chat or generate request gets
 * the "load" housekeeping frame that Ollama sends after loading a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct model_info {
    const char *name; /* with its tag */
    const char *family;
    const char *parameter_size;
    long size; /* bytes, as /api/tags reports it */
};

static const struct model_info models[] = {
    {"llama3.2:latest", "llama", "3.2B", 2019393189},
    {"qwen2.5:0.5b", "qwen2", "494.03M", 397821319},
    {"mistral:latest", "llama", "7.2B", 4113301824},
    {"sim-small:latest", "sim", "1M", 1048576},
};

/* The shape of a reply's frames: chat frames carry "message", generate
 * frames carry "response". */
struct frame_style {
    const char *model;
    bool chat;
};

static bool model_known(const char *name)
{
    const char *latest = strchr(name, ':') == NULL ? ":latest" : "";

    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        char *tagged = sim_strdup_printf("%s%s", name, latest);
        bool same = tagged != NULL && strcmp(tagged, models[i].name) == 0;

        free(tagged);
        if (same)
            return true;
    }
    return false;
}

static cJSON *frame_base(const struct frame_style *style, const char *text)
{
    cJSON *json = cJSON_CreateObject();

    cJSON_AddStringToObject(json, "model", style->model);
    cJSON_AddStringToObject(json, "created_at", SIM_CREATED_AT);
    if (style->chat) {
        cJSON *message = cJSON_AddObjectToObject(json, "message");

        cJSON_AddStringToObject(message, "role", "assistant");
        cJSON_AddStringToObject(message, "content", text);
    } else {
        cJSON_AddStringToObject(json, "response", text);
    }
    return json;
}

/* The done:true frame; total_duration is 1 ms per word sent, plus 1 ms. */
static cJSON *final_frame(const struct frame_style *style,
                          const struct sim_reply *reply, const char *text)
{
    cJSON *json = frame_base(style, text);

    cJSON_AddStringToObject(json, "done_reason", reply->finish_reason);
    cJSON_AddBoolToObject(json, "done", true);
    cJSON_AddNumberToObject(json, "total_duration",
                            1000000.0 * (double)(reply->word_count + 1));
    if (reply->usage) {
        cJSON_AddNumberToObject(json, "prompt_eval_count",
                                reply->prompt_tokens);
        cJSON_AddNumberToObject(json, "eval_count", reply->completion_tokens);
    }
    return json;
}

static cJSON *load_frame(const struct frame_style *style)
{
    cJSON *json = frame_base(style, "");

    cJSON_AddStringToObject(json, "done_reason", "load");
    cJSON_AddBoolToObject(json, "done", true);
    return json;
}

static void init_plan(struct sim_stream_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->content_type = "application/x-ndjson";
    plan->prefix = "";
    plan->suffix = "\n";
    plan->error_payload = strdup("{\"error\":\"qf-sim error-mid-stream "
                                 "fault: the stream failed after two "
                                 "chunks\"}");
}

static enum MHD_Result stream_reply(struct sim_request *req,
                                    const struct frame_style *style,
                                    const struct sim_reply *reply)
{
    struct sim_stream_plan plan;
    int rc = 0;

    init_plan(&plan);
    for (size_t i = 0; i < reply->word_count && rc == 0; i++) {
        char *piece = sim_reply_word_piece(reply, i);

        cJSON *frame = piece != NULL ? frame_base(style, piece) : NULL;

        cJSON_AddBoolToObject(frame, "done", false);
        rc = sim_list_push_json(&plan.content, frame);
        free(piece);
    }
    if (rc == 0)
        rc = sim_list_push_json(&plan.closing, final_frame(style, reply, ""));
    if (rc != 0 || plan.error_payload == NULL) {
        sim_stream_plan_free(&plan);
        return MHD_NO;
    }
    return sim_stream_respond(req, &plan);
}

static enum MHD_Result respond_load(struct sim_request *req,
                                    const struct frame_style *style,
                                    bool stream)
{
    struct sim_stream_plan plan;

    if (!stream)
        return sim_body_respond(req, load_frame(style));
    init_plan(&plan);
    if (sim_list_push_json(&plan.closing, load_frame(style)) != 0 ||
        plan.error_payload == NULL) {
        sim_stream_plan_free(&plan);
        return MHD_NO;
    }
    return sim_stream_respond(req, &plan);
}

/* Check the model: fills `style`, or sends 400 or 404 and returns false. */
static bool check_model(struct sim_request *req, struct frame_style *style,
                        enum MHD_Result *result)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req->json, "model");
    char *message;

    if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
        *result = sim_respond_error(req, MHD_HTTP_BAD_REQUEST, NULL, NULL,
                                    "model is required");
        return false;
    }
    style->model = model->valuestring;
    if (model_known(model->valuestring))
        return true;
    message = sim_strdup_printf("model \"%s\" not found, try pulling it first",
                                model->valuestring);
    *result = message != NULL ? sim_respond_error(req, MHD_HTTP_NOT_FOUND, NULL,
                                                  NULL, message)
                              : MHD_NO;
    free(message);
    return false;
}

static long num_predict(const cJSON *body)
{
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(body, "options");
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(options, "num_predict");

    return cJSON_IsNumber(cap) ? (long)cap->valuedouble : 0;
}

static enum MHD_Result send_reply(struct sim_request *req,
                                  const struct frame_style *style,
                                  struct sim_reply *reply, bool stream)
{
    sim_reply_apply_headers(reply, req->conn);
    if (stream)
        return stream_reply(req, style, reply);
    return sim_body_respond(req, final_frame(style, reply, reply->text));
}

static bool wants_stream(const cJSON *body)
{
    return !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "stream"));
}

enum MHD_Result sim_ollama_chat(struct sim_request *req)
{
    const cJSON *messages =
        cJSON_GetObjectItemCaseSensitive(req->json, "messages");
    struct frame_style style = {.chat = true};
    struct sim_reply reply = {0};
    enum MHD_Result result = MHD_NO;

    if (!check_model(req, &style, &result))
        return result;
    if (cJSON_GetArraySize(messages) == 0)
        return respond_load(req, &style, wants_stream(req->json));

    if (sim_reply_from_messages(&reply, messages, num_predict(req->json)) == 0)
        result = send_reply(req, &style, &reply, wants_stream(req->json));
    sim_reply_free(&reply);
    return result;
}

enum MHD_Result sim_ollama_generate(struct sim_request *req)
{
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(req->json, "prompt");
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(req->json, "system");
    struct frame_style style = {.chat = false};
    struct sim_reply reply = {0};
    enum MHD_Result result = MHD_NO;

    if (!check_model(req, &style, &result))
        return result;
    if (!cJSON_IsString(prompt) || prompt->valuestring[0] == '\0')
        return respond_load(req, &style, wants_stream(req->json));

    if (sim_reply_from_prompt(
            &reply, cJSON_IsString(system) ? system->valuestring : NULL,
            prompt->valuestring, num_predict(req->json)) == 0)
        result = send_reply(req, &style, &reply, wants_stream(req->json));
    sim_reply_free(&reply);
    return result;
}

static cJSON *tag_json(const struct model_info *info)
{
    cJSON *json = cJSON_CreateObject();
    cJSON *details;

    cJSON_AddStringToObject(json, "name", info->name);
    cJSON_AddStringToObject(json, "model", info->name);
    cJSON_AddStringToObject(json, "modified_at", SIM_CREATED_AT);
    cJSON_AddNumberToObject(json, "size", (double)info->size);
    details = cJSON_AddObjectToObject(json, "details");
    cJSON_AddStringToObject(details, "format", "gguf");
    cJSON_AddStringToObject(details, "family", info->family);
    cJSON_AddStringToObject(details, "parameter_size", info->parameter_size);
    cJSON_AddStringToObject(details, "quantization_level", "Q4_K_M");
    return json;
}

enum MHD_Result sim_ollama_tags(struct sim_request *req)
{
    cJSON *json = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(json, "models");

    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        cJSON_AddItemToArray(list, tag_json(&models[i]));
    return sim_body_respond(req, json);
}

/*
 * body.c - the JSON body of an Ollama request. Messages go to "messages"
 * (/api/chat) or become "system" and "prompt" (/api/generate). Generation
 * parameters under their OpenAI names are mapped into Ollama's "options".
 * Native options from the configuration and the request are checked
 * against Ollama's option names and override mapped ones. keep_alive and
 * format travel at the top level.
 */
#include "ollama.h"

#include <stdlib.h>
#include <string.h>

/* Model option names accepted in "options"; any other name is rejected
 * before a request is sent. */
static const char *const native_options[] = {"num_ctx",
                                             "num_predict",
                                             "num_keep",
                                             "num_batch",
                                             "num_gpu",
                                             "main_gpu",
                                             "num_thread",
                                             "repeat_last_n",
                                             "repeat_penalty",
                                             "temperature",
                                             "top_k",
                                             "top_p",
                                             "min_p",
                                             "typical_p",
                                             "tfs_z",
                                             "mirostat",
                                             "mirostat_eta",
                                             "mirostat_tau",
                                             "penalize_newline",
                                             "presence_penalty",
                                             "frequency_penalty",
                                             "seed",
                                             "stop",
                                             "numa",
                                             "use_mmap",
                                             "use_mlock",
                                             "low_vram",
                                             "vocab_only",
                                             NULL};

/* OpenAI parameter names copied into options under the same name. */
static const char *const same_name_params[] = {
    "temperature",       "top_p", "seed", "presence_penalty",
    "frequency_penalty", NULL};

static int in_list(const char *const *list, const char *name)
{
    size_t i;

    for (i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0)
            return 1;
    }
    return 0;
}

static qf_status nomem(ollama_call *call)
{
    return call->inst->host->error_set(
        call->err, QF_ERR_NOMEM,
        "ollama: out of memory building the request body");
}

/* Replace `name` in `obj` with `item`, which `obj` then owns. */
static qf_status put_owned(ollama_call *call, cJSON *obj, const char *name,
                           cJSON *item)
{
    if (item == NULL)
        return nomem(call);
    cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
    if (!cJSON_AddItemToObject(obj, name, item)) {
        cJSON_Delete(item);
        return nomem(call);
    }
    return QF_OK;
}

/* Replace `name` in `obj` with a copy of `value`. */
static qf_status put_copy(ollama_call *call, cJSON *obj, const char *name,
                          const cJSON *value)
{
    return put_owned(call, obj, name, cJSON_Duplicate(value, 1));
}

/* stop: a string becomes a one-element list; a list must hold strings. */
static qf_status map_stop(ollama_call *call, cJSON *options, const cJSON *value)
{
    const qf_host *host = call->inst->host;
    const char *one[1];
    const cJSON *item;

    if (cJSON_IsString(value)) {
        one[0] = value->valuestring;
        return put_owned(call, options, "stop",
                         cJSON_CreateStringArray(one, 1));
    }
    if (!cJSON_IsArray(value))
        goto invalid;
    cJSON_ArrayForEach(item, value)
    {
        if (!cJSON_IsString(item))
            goto invalid;
    }
    return put_copy(call, options, "stop", value);

invalid:
    return host->error_set(
        call->err, QF_ERR_INVALID,
        "ollama: parameter \"stop\" must be a string or a list of strings");
}

/* response_format: json_object -> "json", json_schema -> the schema,
 * text -> no format. */
static qf_status map_response_format(ollama_call *call, cJSON *format_out,
                                     const cJSON *value)
{
    const qf_host *host = call->inst->host;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(value, "type");
    const cJSON *schema;

    if (!cJSON_IsString(type))
        goto invalid;
    if (strcmp(type->valuestring, "text") == 0)
        return QF_OK;
    if (strcmp(type->valuestring, "json_object") == 0)
        return put_owned(call, format_out, "format",
                         cJSON_CreateString("json"));
    if (strcmp(type->valuestring, "json_schema") != 0)
        goto invalid;

    schema = cJSON_GetObjectItemCaseSensitive(value, "json_schema");
    schema = cJSON_GetObjectItemCaseSensitive(schema, "schema");
    if (!cJSON_IsObject(schema))
        return host->error_set(
            call->err, QF_ERR_INVALID,
            "ollama: parameter \"response_format\" of type json_schema needs "
            "an object at json_schema.schema");
    return put_copy(call, format_out, "format", schema);

invalid:
    return host->error_set(call->err, QF_ERR_INVALID,
                           "ollama: parameter \"response_format\" must have "
                           "type text, json_object or json_schema");
}

/* Map one OpenAI-named parameter into `options` (or `top` for format). */
static qf_status map_param(ollama_call *call, const cJSON *param,
                           cJSON *options, cJSON *top)
{
    const qf_host *host = call->inst->host;
    const char *name = param->string;

    if (cJSON_IsNull(param))
        return QF_OK;
    if (strcmp(name, "stop") == 0)
        return map_stop(call, options, param);
    if (strcmp(name, "response_format") == 0)
        return map_response_format(call, top, param);

    if (strcmp(name, "max_tokens") == 0 ||
        strcmp(name, "max_completion_tokens") == 0 ||
        in_list(same_name_params, name)) {
        if (!cJSON_IsNumber(param))
            return host->error_set(call->err, QF_ERR_INVALID,
                                   "ollama: parameter \"%s\" must be a number",
                                   name);
        if (strncmp(name, "max_", 4) == 0)
            name = "num_predict";
        return put_copy(call, options, name, param);
    }

    return host->error_set(
        call->err, QF_ERR_INVALID,
        "ollama: parameter \"%s\" is not supported by the ollama provider; "
        "remove it or pass a native option under options",
        name);
}

static qf_status map_params(ollama_call *call, cJSON *options, cJSON *top)
{
    const qf_host *host = call->inst->host;
    const char *text = host->request_params_json(call->req);
    const cJSON *param;
    cJSON *params;
    qf_status status = QF_OK;

    if (text == NULL || text[0] == '\0')
        return QF_OK;
    params = cJSON_Parse(text);
    if (!cJSON_IsObject(params)) {
        cJSON_Delete(params);
        return host->error_set(
            call->err, QF_ERR_INVALID,
            "ollama: request parameters are not a JSON object");
    }

    cJSON_ArrayForEach(param, params)
    {
        status = map_param(call, param, options, top);
        if (status != QF_OK)
            break;
    }
    cJSON_Delete(params);
    return status;
}

/* Apply native options from one source: keep_alive and format go to the
 * top level, documented option names to options, anything else fails. */
static qf_status apply_native(ollama_call *call, const cJSON *source,
                              const char *where, cJSON *options, cJSON *top)
{
    const qf_host *host = call->inst->host;
    const cJSON *option;
    qf_status status;

    cJSON_ArrayForEach(option, source)
    {
        if (strcmp(option->string, "keep_alive") == 0 ||
            strcmp(option->string, "format") == 0)
            status = put_copy(call, top, option->string, option);
        else if (in_list(native_options, option->string))
            status = put_copy(call, options, option->string, option);
        else
            status = host->error_set(
                call->err, QF_ERR_INVALID,
                "ollama: option \"%s\" in the %s is not an Ollama option; see "
                "the options list of Ollama's API documentation",
                option->string, where);
        if (status != QF_OK)
            return status;
    }
    return QF_OK;
}

/* Native options: the configuration's first, then the request's. */
static qf_status map_native(ollama_call *call, cJSON *options, cJSON *top)
{
    const qf_host *host = call->inst->host;
    const char *text = host->request_options_json(call->req);
    cJSON *request_options;
    qf_status status;

    if (call->inst->options != NULL) {
        status = apply_native(call, call->inst->options, "configuration",
                              options, top);
        if (status != QF_OK)
            return status;
    }
    if (text == NULL || text[0] == '\0')
        return QF_OK;

    request_options = cJSON_Parse(text);
    if (!cJSON_IsObject(request_options)) {
        cJSON_Delete(request_options);
        return host->error_set(call->err, QF_ERR_INVALID,
                               "ollama: request options are not a JSON object");
    }
    status = apply_native(call, request_options, "request", options, top);
    cJSON_Delete(request_options);
    return status;
}

size_t ollama_body_message_bytes(const ollama_call *call)
{
    const qf_host *host = call->inst->host;
    size_t count = host->request_message_count(call->req);
    size_t total = 0, i, len;
    const char *role, *content;

    for (i = 0; i < count; i++) {
        if (host->request_message(call->req, i, &role, &content, &len) == QF_OK)
            total += len;
    }
    return total;
}

static qf_status add_chat_messages(ollama_call *call, cJSON *root)
{
    const qf_host *host = call->inst->host;
    size_t count = host->request_message_count(call->req);
    cJSON *messages = cJSON_AddArrayToObject(root, "messages");
    cJSON *message;
    const char *role, *content;
    size_t i, len;

    if (messages == NULL)
        return nomem(call);
    for (i = 0; i < count; i++) {
        if (host->request_message(call->req, i, &role, &content, &len) != QF_OK)
            return host->error_set(
                call->err, QF_ERR_INTERNAL,
                "ollama: cannot read message %zu of the request", i);
        message = cJSON_CreateObject();
        if (message == NULL || !cJSON_AddItemToArray(messages, message))
            return nomem(call);
        if (cJSON_AddStringToObject(message, "role", role) == NULL)
            return nomem(call);
        /* cJSON strings end at NUL; contents are text without NUL bytes. */
        if (cJSON_AddStringToObject(message, "content", content) == NULL)
            return nomem(call);
    }
    return QF_OK;
}

/* Append "text" to a growing buffer, with `sep` before it unless empty. */
static int append_text(char **buf, size_t *len, const char *sep,
                       const char *text, size_t text_len)
{
    size_t sep_len = *len > 0 ? strlen(sep) : 0;
    char *grown = realloc(*buf, *len + sep_len + text_len + 1);

    if (grown == NULL)
        return -1;
    memcpy(grown + *len, sep, sep_len);
    memcpy(grown + *len + sep_len, text, text_len);
    *len += sep_len + text_len;
    grown[*len] = '\0';
    *buf = grown;
    return 0;
}

/*
 * /api/generate: system messages joined into "system"; the other messages
 * joined into "prompt". A single user message is the prompt as is.
 * NOTE: a conversation is written as "role: content" paragraphs without
 * the model's chat template; use endpoint chat for multi-turn requests.
 */
static qf_status add_generate_prompt(ollama_call *call, cJSON *root)
{
    const qf_host *host = call->inst->host;
    size_t count = host->request_message_count(call->req);
    size_t turns = 0, i, len, system_len = 0, prompt_len = 0;
    char *system = NULL, *prompt = NULL;
    const char *role, *content;
    qf_status status = QF_OK;
    int failed = 0;

    for (i = 0; i < count; i++) {
        if (host->request_message(call->req, i, &role, &content, &len) ==
                QF_OK &&
            strcmp(role, "system") != 0)
            turns++;
    }
    for (i = 0; i < count && !failed; i++) {
        if (host->request_message(call->req, i, &role, &content, &len) != QF_OK)
            continue;
        if (strcmp(role, "system") == 0)
            failed = append_text(&system, &system_len, "\n\n", content, len);
        else if (turns == 1)
            failed = append_text(&prompt, &prompt_len, "\n\n", content, len);
        else
            failed =
                append_text(&prompt, &prompt_len, "\n\n", role, strlen(role)) ||
                append_text(&prompt, &prompt_len, ": ", content, len);
    }

    if (failed ||
        (system != NULL &&
         cJSON_AddStringToObject(root, "system", system) == NULL) ||
        cJSON_AddStringToObject(root, "prompt", prompt ? prompt : "") == NULL)
        status = nomem(call);
    free(system);
    free(prompt);
    return status;
}

static qf_status add_model(ollama_call *call, cJSON *root)
{
    const qf_host *host = call->inst->host;
    const char *model = host->request_model(call->req);

    if (model == NULL || model[0] == '\0')
        model = call->inst->model;
    if (model == NULL || model[0] == '\0')
        return host->error_set(call->err, QF_ERR_CONFIG,
                               "ollama: no model set for this request; set "
                               "model in the provider block or the role");
    if (cJSON_AddStringToObject(root, "model", model) == NULL)
        return nomem(call);
    return QF_OK;
}

/* options, keep_alive and format. Order of precedence, lowest first:
 * mapped OpenAI parameters, the instance's keep_alive setting, native
 * options of the configuration, native options of the request. */
static qf_status add_options(ollama_call *call, cJSON *root)
{
    cJSON *options = cJSON_CreateObject();
    cJSON *top = cJSON_CreateObject();
    const cJSON *item;
    qf_status status;

    if (options == NULL || top == NULL) {
        status = nomem(call);
        goto out;
    }
    status = map_params(call, options, top);
    if (status == QF_OK && call->inst->keep_alive != NULL)
        status = put_copy(call, top, "keep_alive", call->inst->keep_alive);
    if (status == QF_OK)
        status = map_native(call, options, top);
    if (status != QF_OK)
        goto out;

    cJSON_ArrayForEach(item, top)
    {
        status = put_copy(call, root, item->string, item);
        if (status != QF_OK)
            goto out;
    }
    if (cJSON_GetArraySize(options) > 0) {
        status = put_owned(call, root, "options", options);
        options = NULL;
    }

out:
    cJSON_Delete(options);
    cJSON_Delete(top);
    return status;
}

qf_status ollama_body_build(ollama_call *call)
{
    cJSON *root = cJSON_CreateObject();
    qf_status status;

    if (root == NULL)
        return nomem(call);
    status = add_model(call, root);
    if (status != QF_OK)
        goto out;

    if (call->inst->use_generate)
        status = add_generate_prompt(call, root);
    else
        status = add_chat_messages(call, root);
    if (status != QF_OK)
        goto out;

    if (cJSON_AddBoolToObject(root, "stream", call->stream) == NULL) {
        status = nomem(call);
        goto out;
    }
    status = add_options(call, root);
    if (status != QF_OK)
        goto out;

    call->body = cJSON_PrintUnformatted(root);
    if (call->body == NULL)
        status = nomem(call);

out:
    cJSON_Delete(root);
    return status;
}

/*
 * image.c - image generation: POST /images/generations with the last user
 * message as the prompt and response_format b64_json, then each image's
 * base64 text decoded with OpenSSL's EVP_DecodeBlock and added to the
 * response as image/png.
 */
#include "openai_internal.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

/* Image params copied from the request when present. */
static const char *const image_params[] = {
    "size", "n", "quality", "style", "background", "output_format"};

/* The text of the last user message, or NULL. */
static const char *last_user_prompt(const qf_host *host, const qf_request *req,
                                    size_t *len)
{
    for (size_t i = host->request_message_count(req); i > 0; i--) {
        const char *role = NULL, *content = NULL;
        if (host->request_message(req, i - 1, &role, &content, len) == QF_OK &&
            role && strcmp(role, "user") == 0)
            return content;
    }
    return NULL;
}

static qf_status build_image_body(openai_instance *oa, const qf_request *req,
                                  const char *model, char **out,
                                  size_t *prompt_len, qf_error *err)
{
    const qf_host *host = oa->host;
    const char *prompt = last_user_prompt(host, req, prompt_len);
    cJSON *body = cJSON_CreateObject();
    char *text = prompt ? strndup(prompt, *prompt_len) : NULL;
    qf_status status = QF_OK;

    if (!prompt) {
        status = host->error_set(err, QF_ERR_INVALID,
                                 "openai: image request %s has "
                                 "no user message to use as the prompt",
                                 host->request_id(req));
        goto out;
    }
    if (!body || !text) {
        status = host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");
        goto out;
    }
    cJSON_AddStringToObject(body, "model", model);
    cJSON_AddStringToObject(body, "prompt", text);
    for (size_t i = 0; i < sizeof(image_params) / sizeof(image_params[0]);
         i++) {
        const char *value = host->request_param(req, image_params[i]);
        cJSON *parsed = value ? cJSON_Parse(value) : NULL;
        if (parsed)
            cJSON_AddItemToObject(body, image_params[i], parsed);
    }
    /* gpt-image models always return base64 and reject this field. */
    if (strncmp(model, "gpt-image", 9) != 0)
        cJSON_AddStringToObject(body, "response_format", "b64_json");

    *out = cJSON_PrintUnformatted(body);
    if (!*out)
        status = host->error_set(err, QF_ERR_NOMEM, "openai: out of memory");

out:
    free(text);
    cJSON_Delete(body);
    return status;
}

/* Decode base64 text into a malloc'd buffer. EVP_DecodeBlock counts the
 * padding as zero bytes, so they are taken off again. */
static unsigned char *decode_base64(const char *text, size_t *len)
{
    size_t text_len = strlen(text);
    unsigned char *bytes;
    int n;

    if (text_len == 0 || text_len % 4 != 0 || text_len > INT32_MAX)
        return NULL;
    bytes = malloc(text_len / 4 * 3 + 1);
    if (!bytes)
        return NULL;
    n = EVP_DecodeBlock(bytes, (const unsigned char *)text, (int)text_len);
    if (n < 0) {
        free(bytes);
        return NULL;
    }
    if (text[text_len - 1] == '=')
        n--;
    if (text[text_len - 2] == '=')
        n--;
    *len = (size_t)n;
    return bytes;
}

static qf_status add_images(openai_instance *oa, qf_response *resp,
                            const cJSON *data, qf_error *err)
{
    const qf_host *host = oa->host;
    const cJSON *item;
    size_t index = 0;

    cJSON_ArrayForEach(item, data)
    {
        const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(item, "b64_json");
        size_t len = 0;
        unsigned char *bytes =
            cJSON_IsString(b64) ? decode_base64(b64->valuestring, &len) : NULL;
        if (!bytes)
            return host->error_set(err, QF_ERR_PROTOCOL,
                                   "openai: image %zu of the "
                                   "answer has no valid b64_json",
                                   index);
        qf_status status =
            host->response_add_image(resp, bytes, len, "image/png");
        free(bytes);
        if (status != QF_OK)
            return host->error_set(err, status,
                                   "openai: could not store image %zu", index);
        index++;
    }
    if (index == 0)
        return host->error_set(err, QF_ERR_PROTOCOL,
                               "openai: image answer has no images in data");
    return QF_OK;
}

static qf_status read_images(openai_instance *oa, qf_response *resp,
                             const openai_buffer *body, size_t prompt_len,
                             qf_error *err)
{
    const qf_host *host = oa->host;
    cJSON *json =
        cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    qf_usage usage = {sizeof(qf_usage), 0, 0, 0, 0};
    qf_status status;

    if (!cJSON_IsObject(json)) {
        status =
            host->error_set(err, QF_ERR_PROTOCOL,
                            "openai: upstream returned "
                            "HTTP 200 with an image body that is not a JSON "
                            "object (%zu bytes)",
                            body->len);
        goto out;
    }
    status = add_images(oa, resp,
                        cJSON_GetObjectItemCaseSensitive(json, "data"), err);
    if (status != QF_OK)
        goto out;

    /* gpt-image models report input tokens; others report nothing. The
     * host prices the images themselves per image. */
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "usage"), "input_tokens");
    if (cJSON_IsNumber(input)) {
        usage.prompt_tokens = (int64_t)input->valuedouble;
    } else {
        usage.prompt_tokens = qf_openai_estimate_tokens(prompt_len);
        usage.estimated = 1;
    }
    host->response_set_usage(resp, &usage);

out:
    cJSON_Delete(json);
    return status;
}

qf_status qf_openai_generate_image(void *instance, const qf_request *req,
                                   qf_response *resp, qf_error *err)
{
    openai_instance *oa = instance;
    const qf_host *host = oa->host;
    const char *requested = host->request_model(req);
    const char *model = requested && requested[0] ? requested : oa->model;
    openai_call call;
    char *body = NULL;
    size_t prompt_len = 0;
    qf_status status;

    memset(&call, 0, sizeof(call));
    if (!model || !model[0])
        return host->error_set(
            err, QF_ERR_CONFIG,
            "openai: image request %s names "
            "no model; set model in the provider block or the "
            "role",
            host->request_id(req));
    if ((status = build_image_body(oa, req, model, &body, &prompt_len, err)))
        goto out;

    call.req = req;
    call.path = "/images/generations";
    call.body = body;
    status = qf_openai_call_run(oa, &call, err);
    if (status == QF_OK)
        status = read_images(oa, resp, &call.response, prompt_len, err);
    if (status == QF_OK)
        host->response_set_model(resp, model);

out:
    qf_openai_call_free(&call);
    cJSON_free(body);
    return status;
}

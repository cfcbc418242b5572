/*
 * serve_images.c - POST /v1/images/generations for image roles. The
 * prompt becomes the request's user message; n, size, quality, style,
 * background and output_format pass to the provider as parameters. Images
 * come back base64-encoded in `b64_json`, the only response_format served.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "serve_internal.h"

static const char *const image_params[] = {
    "n", "size", "quality", "style", "background", "output_format", NULL};

static int is_image_param(const char *name)
{
    for (size_t i = 0; image_params[i] != NULL; i++) {
        if (strcmp(image_params[i], name) == 0)
            return 1;
    }
    return 0;
}

/* Check the fields and copy the image parameters onto the request. */
static enum MHD_Result set_fields(struct MHD_Connection *conn, serve_call *call,
                                  const cJSON *body, qf_request *req)
{
    const qf_host *host = qf_runtime_host(call->gen->rt);
    const cJSON *field;

    cJSON_ArrayForEach(field, body)
    {
        const char *name = field->string;
        char *json;

        if (strcmp(name, "model") == 0 || strcmp(name, "prompt") == 0 ||
            strcmp(name, "user") == 0 || cJSON_IsNull(field))
            continue;
        if (strcmp(name, "response_format") == 0) {
            if (strcmp(cJSON_GetStringValue(field) ? field->valuestring : "",
                       "b64_json") == 0)
                continue;
            return serve_respond_error(conn, call, 400, "invalid_request_error",
                                       "unsupported_value", name,
                                       "response_format must be b64_json; "
                                       "this gateway does not host images");
        }
        if (!is_image_param(name))
            return serve_respond_error(
                conn, call, 400, "invalid_request_error", "unknown_parameter",
                name,
                "unknown parameter '%.100s'; images accept model, prompt, n, "
                "size, quality, style, background, output_format, "
                "response_format (b64_json) and user",
                name);
        json = cJSON_PrintUnformatted(field);
        if (json == NULL || host->request_set_param(req, name, json) != QF_OK) {
            free(json);
            return MHD_NO;
        }
        free(json);
    }
    return MHD_YES;
}

static cJSON *images_json(serve_job *job)
{
    const qf_host *host = serve_job_host(job);
    const qf_response *resp = serve_job_response(job);
    size_t count = host->response_image_count(resp);
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(root, "data");

    cJSON_AddNumberToObject(root, "created", (double)serve_job_created(job));
    for (size_t i = 0; i < count; i++) {
        const void *bytes = NULL;
        size_t len = 0;
        cJSON *item = cJSON_CreateObject();
        char *b64;

        host->response_image(resp, i, &bytes, &len, NULL);
        b64 = malloc(4 * ((len + 2) / 3) + 1);
        if (b64 != NULL) {
            EVP_EncodeBlock((unsigned char *)b64, bytes, (int)len);
            cJSON_AddStringToObject(item, "b64_json", b64);
        }
        free(b64);
        cJSON_AddItemToArray(data, item);
    }
    return root;
}

static enum MHD_Result run(struct MHD_Connection *conn, serve_call *call,
                           qf_request *req)
{
    int64_t deadline =
        call->start_ns +
        call->server->settings.request_timeout_seconds * 1000000000;
    const qf_error *job_err;
    qf_error err;

    qf_error_init(&err);
    call->job = serve_job_start(call, req, 0, 0, &err);
    if (call->job == NULL)
        return serve_respond_qf_error(conn, call, &err);
    if (serve_job_wait_done(call->job, deadline) < 0)
        return serve_respond_error(
            conn, call, 504, "server_error", "request_timeout", NULL,
            "the request took longer than %lld "
            "seconds (gateway.request_timeout_seconds)",
            (long long)call->server->settings.request_timeout_seconds);
    if (serve_job_status(call->job, &job_err) != QF_OK)
        return serve_respond_qf_error(conn, call, job_err);
    return serve_respond_json(conn, call, 200, images_json(call->job));
}

static enum MHD_Result create(struct MHD_Connection *conn, serve_call *call,
                              const cJSON *body)
{
    const char *prompt =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "prompt"));
    qf_request *req = NULL;
    qf_error err;
    enum MHD_Result rc;

    qf_error_init(&err);
    if (prompt == NULL || prompt[0] == '\0')
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "invalid_request", "prompt",
                                   "prompt is missing or empty");
    if (qf_request_create(call->gen->rt, call->role, NULL, &req, &err) != QF_OK)
        return serve_respond_qf_error(conn, call, &err);
    if (qf_runtime_host(call->gen->rt)->request_kind(req) != QF_REQUEST_IMAGE) {
        qf_request_free(req);
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "wrong_endpoint", "model",
                                   "role %s writes text; use POST "
                                   "/v1/chat/completions",
                                   call->role);
    }
    rc = set_fields(conn, call, body, req);
    if (call->status != 0 || rc != MHD_YES) {
        qf_request_free(req);
        return rc;
    }
    if (qf_request_add_message(req, "user", prompt, strlen(prompt)) != QF_OK) {
        qf_request_free(req);
        return MHD_NO;
    }
    return run(conn, call, req);
}

enum MHD_Result serve_images(struct MHD_Connection *conn, serve_call *call)
{
    cJSON *body =
        cJSON_ParseWithLength(call->body ? call->body : "", call->body_len);
    enum MHD_Result rc;

    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return serve_respond_error(conn, call, 400, "invalid_request_error",
                                   "invalid_json", NULL,
                                   "the request body is not a JSON object; "
                                   "send {\"model\": ROLE, \"prompt\": ...}");
    }
    if (serve_pick_role(conn, call,
                        cJSON_GetObjectItemCaseSensitive(body, "model"),
                        &rc) != NULL)
        rc = create(conn, call, body);
    cJSON_Delete(body);
    return rc;
}

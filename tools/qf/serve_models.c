/*
 * serve_models.c - GET /v1/models (the roles, as OpenAI model objects,
 * limited to those the caller's key may use), GET /healthz (the process
 * answers) and GET /readyz (the configuration is loaded and every role
 * resolves to a chain).
 */
#include "serve_internal.h"

enum MHD_Result serve_models(struct MHD_Connection *conn, serve_call *call)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *data;

    cJSON_AddStringToObject(root, "object", "list");
    data = cJSON_AddArrayToObject(root, "data");
    for (size_t i = 0; call->gen->roles[i] != NULL; i++) {
        cJSON *model;

        if (!serve_key_allows(call->key, call->gen->roles[i]))
            continue;
        model = cJSON_CreateObject();
        cJSON_AddStringToObject(model, "id", call->gen->roles[i]);
        cJSON_AddStringToObject(model, "object", "model");
        cJSON_AddNumberToObject(model, "created", 0);
        cJSON_AddStringToObject(model, "owned_by", "questfoundry");
        cJSON_AddItemToArray(data, model);
    }
    return serve_respond_json(conn, call, 200, root);
}

enum MHD_Result serve_health(struct MHD_Connection *conn, serve_call *call,
                             int ready_check)
{
    cJSON *root = cJSON_CreateObject();

    if (!ready_check) {
        cJSON_AddStringToObject(root, "status", "ok");
        return serve_respond_json(conn, call, 200, root);
    }
    if (call->gen->not_ready != NULL) {
        cJSON_AddStringToObject(root, "status", "not ready");
        cJSON_AddStringToObject(root, "reason", call->gen->not_ready);
        return serve_respond_json(conn, call, 503, root);
    }
    cJSON_AddStringToObject(root, "status", "ready");
    return serve_respond_json(conn, call, 200, root);
}

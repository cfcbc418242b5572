/*
 * route.c - resolving a role to its route (middleware instances and one
 * provider instance, plus request defaults) and creating requests for it.
 *
 * A route is resolved once per role and runtime and kept; instances are
 * shared between routes. Requests copy the route's defaults and lay the
 * runtime layer (command-line options, per-call parameters) on top.
 */
#include "runtime_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void route_free(qf_route *route)
{
    free(route->role);
    free(route->provider_name);
    free(route->provider_plugin);
    qf_cnode_free(route->provider_node);
    free(route->chain);
    free(route->model);
    free(route->system_prompt);
    cJSON_Delete(route->provider_settings);
    cJSON_Delete(route->params);
    cJSON_Delete(route->options);
    free(route);
}

void qf_routes_free(qf_route *routes)
{
    while (routes != NULL) {
        qf_route *next = routes->next;

        route_free(routes);
        routes = next;
    }
}

/* Expand a subtree to a cJSON value; an absent node gives an empty object. */
static qf_status node_json(const qf_cnode *node, cJSON **out, qf_error *err)
{
    char *text = NULL;
    qf_status status;

    if (node == NULL || qf_cnode_type_of(node) == QF_CNODE_NULL) {
        *out = cJSON_CreateObject();
        return *out ? QF_OK : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    status = qf_cnode_to_json(node, &text, err);
    if (status != QF_OK)
        return status;
    *out = cJSON_Parse(text);
    free(text);
    return *out ? QF_OK : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

/* Whether the registry's JSON capability list names `capability`. */
static int has_capability(const char *json, const char *capability)
{
    cJSON *list = json ? cJSON_Parse(json) : NULL;
    const cJSON *item;
    int found = 0;

    cJSON_ArrayForEach(item, list)
    {
        if (cJSON_IsString(item) && strcmp(item->valuestring, capability) == 0)
            found = 1;
    }
    cJSON_Delete(list);
    return found;
}

/* Check the provider plugin in the registry alone: the file is opened on
 * the first call that reaches it, so a cache hit never loads libcurl. */
static qf_status check_provider(qf_runtime *rt, const qf_route *route,
                                qf_error *err)
{
    qf_registry_entry entry = {0};
    qf_status status =
        qf_runtime_plugin_entry(rt, route->provider_plugin, QF_KIND_PROVIDER,
                                route->provider_name, &entry, err);

    if (status != QF_OK)
        goto out;
    if (route->kind == QF_REQUEST_IMAGE &&
        !has_capability(entry.capabilities, QF_CAP_IMAGE))
        status = qf_error_set(err, QF_ERR_CONFIG,
                              "role %s does image work, but its provider %s "
                              "(plugin %s) cannot generate images; route it "
                              "to an image provider (providers.image.default)",
                              route->role, route->provider_name,
                              route->provider_plugin);
    else if (route->kind == QF_REQUEST_TEXT &&
             !has_capability(entry.capabilities, QF_CAP_TEXT))
        status = qf_error_set(err, QF_ERR_CONFIG,
                              "role %s does text work, but its provider %s "
                              "(plugin %s) has no text capability; route it "
                              "to a text provider (providers.text.default)",
                              route->role, route->provider_name,
                              route->provider_plugin);
out:
    qf_registry_entry_clear(&entry);
    return status;
}

qf_status qf_route_provider(qf_runtime *rt, const qf_route *route,
                            qf_instance **out, qf_error *err)
{
    qf_route *mutable_route = (qf_route *)route;
    qf_instance *inst = __atomic_load_n(&route->provider, __ATOMIC_ACQUIRE);
    qf_status status = QF_OK;

    if (inst != NULL) {
        *out = inst;
        return QF_OK;
    }
    pthread_mutex_lock(&rt->lock);
    inst = route->provider;
    if (inst == NULL) {
        status = qf_runtime_instance(
            rt, QF_KIND_PROVIDER, route->provider_plugin, route->provider_node,
            route->provider_name, &inst, err);
        if (status == QF_OK)
            __atomic_store_n(&mutable_route->provider, inst, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&rt->lock);
    *out = inst;
    return status;
}

static qf_status build_chain(qf_runtime *rt, const qf_role_plan *plan,
                             qf_route *route, qf_error *err)
{
    qf_status status;

    route->chain =
        calloc(plan->chain_len ? plan->chain_len : 1, sizeof(*route->chain));
    if (route->chain == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < plan->chain_len; i++) {
        const qf_chain_entry *entry = &plan->chain[i];

        status = qf_runtime_instance(rt, QF_KIND_MIDDLEWARE, entry->plugin_id,
                                     entry->settings, entry->name,
                                     &route->chain[i], err);
        if (status != QF_OK)
            return status;
        route->chain_len++;
    }
    return QF_OK;
}

static qf_status build_defaults(const qf_role_plan *plan, qf_route *route,
                                qf_error *err)
{
    qf_status status;

    if (plan->model != NULL && (route->model = strdup(plan->model)) == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    if (plan->system_prompt != NULL &&
        qf_cnode_type_of(plan->system_prompt) == QF_CNODE_SCALAR) {
        status =
            qf_cnode_string(plan->system_prompt, &route->system_prompt, err);
        if (status != QF_OK)
            return status;
    }
    status = node_json(plan->params, &route->params, err);
    if (status == QF_OK)
        status = node_json(plan->options, &route->options, err);
    return status;
}

static qf_status resolve(qf_runtime *rt, const char *role, qf_route **out,
                         qf_error *err)
{
    qf_role_plan *plan = NULL;
    qf_route *route = calloc(1, sizeof(*route));
    qf_status status;

    if (route == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    status = qf_config_resolve_role(rt->config, role, NULL, &plan, err);
    if (status != QF_OK)
        goto fail;
    route->role = strdup(role);
    route->kind = plan->kind;
    route->provider_name = strdup(plan->provider_name);
    if (route->role == NULL || route->provider_name == NULL) {
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        goto fail;
    }

    route->provider_plugin = strdup(plan->provider_plugin);
    route->provider_node =
        qf_cnode_copy(plan->provider_settings, QF_LAYER_PROVIDER);
    if (route->provider_plugin == NULL || route->provider_node == NULL) {
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        goto fail;
    }

    status = check_provider(rt, route, err);
    if (status == QF_OK)
        status =
            node_json(plan->provider_settings, &route->provider_settings, err);
    if (status == QF_OK)
        status = build_chain(rt, plan, route, err);
    if (status == QF_OK)
        status = build_defaults(plan, route, err);
    if (status != QF_OK)
        goto fail;
    qf_role_plan_free(plan);
    *out = route;
    return QF_OK;
fail:
    qf_role_plan_free(plan);
    route_free(route);
    return status;
}

qf_status qf_runtime_route(qf_runtime *rt, const char *role,
                           const qf_route **out, qf_error *err)
{
    qf_route *route;
    qf_status status = QF_OK;

    pthread_mutex_lock(&rt->lock);
    for (route = rt->routes; route != NULL; route = route->next) {
        if (strcmp(route->role, role) == 0)
            break;
    }
    if (route == NULL) {
        status = resolve(rt, role, &route, err);
        if (status == QF_OK) {
            route->next = rt->routes;
            rt->routes = route;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    if (status == QF_OK)
        *out = route;
    return status;
}

/* --- Requests -------------------------------------------------------- */

/* Merge `over` into `base` in place: objects recursively, null removes. */
static void merge_json(cJSON *base, const cJSON *over)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, over)
    {
        cJSON *existing = cJSON_GetObjectItemCaseSensitive(base, item->string);

        if (cJSON_IsNull(item)) {
            cJSON_DeleteItemFromObjectCaseSensitive(base, item->string);
        } else if (cJSON_IsObject(item) && cJSON_IsObject(existing)) {
            merge_json(existing, item);
        } else if (existing != NULL) {
            cJSON_ReplaceItemInObjectCaseSensitive(base, item->string,
                                                   cJSON_Duplicate(item, 1));
        } else {
            cJSON_AddItemToObject(base, item->string, cJSON_Duplicate(item, 1));
        }
    }
}

/* Apply the runtime layer: model, system_prompt, params, options. */
static qf_status apply_runtime_layer(qf_request *req, const qf_cnode *layer,
                                     char **system_prompt, qf_error *err)
{
    const qf_cnode *model = qf_cnode_get(layer, "model");
    const qf_cnode *system = qf_cnode_get(layer, "system_prompt");
    cJSON *params = NULL, *options = NULL;
    qf_status status = QF_OK;

    if (model != NULL && qf_cnode_type_of(model) == QF_CNODE_SCALAR) {
        free(req->model);
        req->model = NULL;
        status = qf_cnode_string(model, &req->model, err);
    }
    if (status == QF_OK && system != NULL &&
        qf_cnode_type_of(system) == QF_CNODE_SCALAR) {
        free(*system_prompt);
        *system_prompt = NULL;
        status = qf_cnode_string(system, system_prompt, err);
    }
    if (status == QF_OK)
        status = node_json(qf_cnode_get(layer, "params"), &params, err);
    if (status == QF_OK)
        status = node_json(qf_cnode_get(layer, "options"), &options, err);
    if (status == QF_OK) {
        merge_json(req->params, params);
        merge_json(req->options, options);
    }
    cJSON_Delete(params);
    cJSON_Delete(options);
    return status;
}

/* The generic generation parameters and the values each accepts. */
typedef struct param_rule {
    const char *name;
    int integer; /* whole numbers only */
    double min;
    double max;
} param_rule;

static const param_rule numeric_params[] = {
    {"temperature", 0, 0, 2},
    {"top_p", 0, 0, 1},
    {"presence_penalty", 0, -2, 2},
    {"frequency_penalty", 0, -2, 2},
    {"max_tokens", 1, 1, 1e9},
    {"max_completion_tokens", 1, 1, 1e9},
    {"seed", 1, -9007199254740991.0, 9007199254740991.0},
};

static qf_status invalid_param(const char *name, const cJSON *value,
                               const char *expected, qf_error *err)
{
    char *text = cJSON_PrintUnformatted(value);

    qf_error_set(err, QF_ERR_INVALID,
                 "generation parameter %s=%s is invalid; expected %s", name,
                 text ? text : "?", expected);
    free(text);
    return QF_ERR_INVALID;
}

static qf_status check_numeric(const param_rule *rule, const cJSON *value,
                               qf_error *err)
{
    char expected[128];
    double v = value->valuedouble;

    snprintf(expected, sizeof(expected), "%s from %g to %g",
             rule->integer ? "a whole number" : "a number", rule->min,
             rule->max);
    if (!cJSON_IsNumber(value) || v < rule->min || v > rule->max ||
        (rule->integer && v != floor(v)))
        return invalid_param(rule->name, value, expected, err);
    return QF_OK;
}

static qf_status check_stop(const cJSON *value, qf_error *err)
{
    const cJSON *item;

    if (cJSON_IsString(value))
        return QF_OK;
    if (!cJSON_IsArray(value))
        return invalid_param("stop", value, "a string or a list of strings",
                             err);
    cJSON_ArrayForEach(item, value)
    {
        if (!cJSON_IsString(item))
            return invalid_param("stop", value, "a string or a list of strings",
                                 err);
    }
    return QF_OK;
}

/* Check the generic parameters a request carries; other names are left to
 * the provider, which knows its own. */
static qf_status validate_params(const cJSON *params, qf_error *err)
{
    const cJSON *value;

    for (size_t i = 0; i < sizeof(numeric_params) / sizeof(numeric_params[0]);
         i++) {
        value =
            cJSON_GetObjectItemCaseSensitive(params, numeric_params[i].name);
        if (value != NULL &&
            check_numeric(&numeric_params[i], value, err) != QF_OK)
            return QF_ERR_INVALID;
    }
    value = cJSON_GetObjectItemCaseSensitive(params, "stop");
    if (value != NULL && check_stop(value, err) != QF_OK)
        return QF_ERR_INVALID;
    value = cJSON_GetObjectItemCaseSensitive(params, "response_format");
    if (value != NULL &&
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(value, "type")))
        return invalid_param("response_format", value,
                             "an object with a \"type\" such as "
                             "{\"type\": \"json_object\"}",
                             err);
    return QF_OK;
}

static qf_status fill_defaults(qf_request *req, const qf_route *route,
                               const qf_cnode *layer, qf_error *err)
{
    char *system_prompt = NULL;
    qf_status status = QF_OK;

    cJSON_Delete(req->params);
    cJSON_Delete(req->options);
    req->params = cJSON_Duplicate(route->params, 1);
    req->options = cJSON_Duplicate(route->options, 1);
    if (route->model != NULL)
        req->model = strdup(route->model);
    if (route->system_prompt != NULL)
        system_prompt = strdup(route->system_prompt);
    if (req->params == NULL || req->options == NULL)
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    if (status == QF_OK && layer != NULL)
        status = apply_runtime_layer(req, layer, &system_prompt, err);
    if (status == QF_OK)
        status = validate_params(req->params, err);
    if (status == QF_OK && system_prompt != NULL && system_prompt[0] != '\0')
        status = qf_request_add_message(req, "system", system_prompt,
                                        strlen(system_prompt));
    free(system_prompt);
    return status;
}

qf_status qf_request_create(qf_runtime *rt, const char *role,
                            const qf_cnode *runtime_layer, qf_request **out,
                            qf_error *err)
{
    const qf_route *route = NULL;
    qf_request *req;
    qf_status status;

    if (role == NULL || role[0] == '\0')
        return qf_error_set(err, QF_ERR_INVALID,
                            "no role given; name one of the configured roles");
    status = qf_runtime_route(rt, role, &route, err);
    if (status != QF_OK)
        return status;

    req = qf_request_new(role, route->kind);
    if (req == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    req->route = route;
    status = fill_defaults(req, route, runtime_layer, err);
    if (status != QF_OK) {
        qf_request_free(req);
        return status;
    }
    *out = req;
    return QF_OK;
}

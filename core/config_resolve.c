/*
 * config_resolve.c - resolving a role to its plan: which provider block and
 * plugin serve it, the provider settings and instance key, the request
 * defaults merged provider < role < runtime, and the effective view for
 * `qf config show`. config_chain.c builds the chain, and config_check.c
 * checks value types.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config_internal.h"
#include "config_resolve.h"

/* Role keys that are not provider settings. */
static const char *const role_keys[] = {
    "provider", "model", "system_prompt", "params", "options",
    "chain",    "cache", "rate_limit",    NULL};

/* Provider block keys that the plan carries outside provider_settings. */
static const char *const block_keys[] = {
    "plugin", "model", "params", "options", "cache", "rate_limit", NULL};

static const char *const audio_roles[] = {"audio_director", "audio_producer",
                                          NULL};

static qf_cnode *builtin_defaults;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void build_defaults(void)
{
    static const char *const values[][2] = {
        {"timeout.connect_seconds", "10"}, {"timeout.total_seconds", "120"},
        {"retry.max_attempts", "3"},       {"retry.max_wait_seconds", "30"},
        {"cache.enabled", "false"},
    };
    qf_cnode *map =
        qf_cnode_create(QF_CNODE_MAP, QF_LAYER_DEFAULT, "<built-in>", 0, 0, "");

    for (size_t i = 0; map != NULL && i < sizeof(values) / sizeof(values[0]);
         i++) {
        if (qf_cnode_set(map, values[i][0], values[i][1], NULL) != QF_OK) {
            qf_cnode_free(map);
            map = NULL;
        }
    }
    builtin_defaults = map;
}

/* The built-in defaults: timeout, retry and cache.enabled: false. The tree
 * is built once and never freed. */
const qf_cnode *qf_resolve_defaults(void)
{
    pthread_once(&defaults_once, build_defaults);
    return builtin_defaults;
}

static int in_list(const char *key, const char *const *list)
{
    for (; *list != NULL; list++) {
        if (strcmp(key, *list) == 0)
            return 1;
    }
    return 0;
}

qf_request_kind qf_role_kind(const char *role)
{
    if (role != NULL &&
        (strcmp(role, "illustrator") == 0 || strcmp(role, "art_director") == 0))
        return QF_REQUEST_IMAGE;
    return QF_REQUEST_TEXT;
}

/* --- Small builders --------------------------------------------------- */

qf_cnode *qf_resolve_copy_except(const qf_cnode *map, qf_layer layer,
                                 const char *const *skip)
{
    qf_cnode *out = qf_cnode_create(QF_CNODE_MAP, layer, map->file, map->line,
                                    map->column, map->key_path);

    for (size_t i = 0; out != NULL && i < map->count; i++) {
        if (in_list(map->keys[i], skip))
            continue;
        if (qf_cnode_append(out, map->keys[i],
                            qf_cnode_copy(map->items[i], layer)) != QF_OK) {
            qf_cnode_free(out);
            return NULL;
        }
    }
    return out;
}

qf_cnode *qf_resolve_scalar(const char *text, qf_layer layer,
                            const qf_cnode *where, const char *key_path)
{
    qf_cnode *node = qf_cnode_create(
        QF_CNODE_SCALAR, layer, where != NULL ? where->file : "<built-in>",
        where != NULL ? where->line : 0, where != NULL ? where->column : 0,
        key_path);

    if (node == NULL)
        return NULL;
    node->quoted = 1;
    node->literal = 1;
    node->text = strdup(text);
    if (node->text == NULL) {
        qf_cnode_free(node);
        return NULL;
    }
    return node;
}

/* Merge `over` (tagged with `layer`) over *acc, replacing *acc. */
qf_status qf_resolve_merge_layer(qf_cnode **acc, const qf_cnode *over,
                                 qf_layer layer)
{
    qf_cnode *tagged, *merged;

    if (over == NULL)
        return QF_OK;
    tagged = qf_cnode_copy(over, layer);
    if (tagged == NULL)
        return QF_ERR_NOMEM;
    merged = qf_cnode_merge(*acc, tagged);
    qf_cnode_free(tagged);
    if (merged == NULL && over->type != QF_CNODE_NULL)
        return QF_ERR_NOMEM;
    qf_cnode_free(*acc);
    *acc = merged;
    return QF_OK;
}

/* --- Choosing the provider -------------------------------------------- */

qf_status qf_resolve_nomem(resolver *rs)
{
    return qf_error_set(rs->err, QF_ERR_NOMEM,
                        "out of memory resolving role %s", rs->role);
}

static const char *section_for(const qf_cnode *providers, const char *role)
{
    const qf_cnode *audio = qf_cnode_get(providers, "audio");

    if (qf_role_kind(role) == QF_REQUEST_IMAGE)
        return "image";
    if (in_list(role, audio_roles) && audio != NULL &&
        audio->type == QF_CNODE_MAP)
        return "audio";
    return "text";
}

static qf_status find_section(resolver *rs)
{
    const qf_cnode *root = rs->cfg->root;
    const qf_cnode *providers = qf_cnode_get(root, "providers");

    if (providers != NULL && providers->type != QF_CNODE_MAP)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, providers,
                             "value is %s; expected a map with text: and "
                             "image: sections",
                             qf_cnode_type_phrase(providers));
    rs->section_name = section_for(providers, rs->role);
    rs->section = qf_cnode_get(providers, rs->section_name);
    if (rs->section == NULL || rs->section->type == QF_CNODE_NULL)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG,
                             providers != NULL ? providers : root,
                             "providers.%s is not defined, and role %s "
                             "needs it; expected a providers.%s map with a "
                             "default: and at least one provider block",
                             rs->section_name, rs->role, rs->section_name);
    if (rs->section->type != QF_CNODE_MAP)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, rs->section,
                             "value is %s; expected a map of provider blocks",
                             qf_cnode_type_phrase(rs->section));
    return QF_OK;
}

static qf_status find_role(resolver *rs)
{
    const qf_cnode *roles = qf_cnode_get(rs->cfg->root, "roles");

    if (roles != NULL && roles->type != QF_CNODE_MAP &&
        roles->type != QF_CNODE_NULL)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, roles,
                             "value is %s; expected a map of role names",
                             qf_cnode_type_phrase(roles));
    rs->role_node = qf_cnode_get(roles, rs->role);
    if (rs->role_node == NULL && !qf_config_role_is_builtin(rs->role))
        return qf_error_set(rs->err, QF_ERR_CONFIG,
                            "role \"%s\" is not a QuestFoundry role and is "
                            "not configured under roles in %s; check the "
                            "spelling, or add roles.%s to the file",
                            rs->role, rs->cfg->path, rs->role);
    if (rs->role_node != NULL && rs->role_node->type == QF_CNODE_NULL)
        rs->role_node = NULL;
    if (rs->role_node != NULL && rs->role_node->type != QF_CNODE_MAP)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, rs->role_node,
                             "value is %s; expected a map with keys such as "
                             "provider: and model:",
                             qf_cnode_type_phrase(rs->role_node));
    return QF_OK;
}

/* "openai, ollama": the block names of the section, for messages. */
static void list_blocks(const qf_cnode *section, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < section->count && used < size; i++) {
        if (strcmp(section->keys[i], "default") == 0)
            continue;
        used += (size_t)snprintf(out + used, size - used, "%s%s",
                                 used ? ", " : "", section->keys[i]);
    }
    if (out[0] == '\0')
        snprintf(out, size, "(none; add a provider block)");
}

static qf_status no_block(resolver *rs, const char *name)
{
    char names[512];

    list_blocks(rs->section, names, sizeof(names));
    return qf_cnode_fail(rs->err, QF_ERR_CONFIG, rs->provider_choice,
                         "provider \"%s\" is not defined under providers.%s; "
                         "expected one of: %s",
                         name, rs->section_name, names);
}

static qf_status choose_provider(resolver *rs)
{
    const qf_cnode *choice = qf_cnode_get(rs->role_node, "provider");
    qf_status st;

    rs->provider_layer = QF_LAYER_ROLE;
    if (choice == NULL || choice->type == QF_CNODE_NULL) {
        choice = qf_cnode_get(rs->section, "default");
        rs->provider_layer = QF_LAYER_PROVIDER;
    }
    if (choice == NULL || choice->type == QF_CNODE_NULL)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG,
                             rs->role_node != NULL ? rs->role_node
                                                   : rs->section,
                             "no provider is chosen for role %s; expected "
                             "roles.%s.provider or providers.%s.default",
                             rs->role, rs->role, rs->section_name);
    rs->provider_choice = choice;
    st = qf_cnode_string(choice, &rs->plan->provider_name, rs->err);
    if (st != QF_OK)
        return st;

    if (strcmp(rs->plan->provider_name, "default") != 0)
        rs->block = qf_cnode_get(rs->section, rs->plan->provider_name);
    if (rs->block == NULL)
        return no_block(rs, rs->plan->provider_name);
    if (rs->block->type != QF_CNODE_MAP)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, rs->block,
                             "value is %s; expected a provider block map with "
                             "keys such as plugin:, base_url: and model:",
                             qf_cnode_type_phrase(rs->block));
    return QF_OK;
}

static qf_status choose_plugin(resolver *rs)
{
    const qf_cnode *plugin = qf_cnode_get(rs->block, "plugin");
    qf_status st;

    if (plugin == NULL || plugin->type == QF_CNODE_NULL) {
        rs->plan->provider_plugin = strdup(rs->plan->provider_name);
        return rs->plan->provider_plugin != NULL ? QF_OK : qf_resolve_nomem(rs);
    }
    st = qf_cnode_string(plugin, &rs->plan->provider_plugin, rs->err);
    if (st == QF_OK && rs->plan->provider_plugin[0] == '\0')
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, plugin,
                             "value is empty; expected a plugin id such as "
                             "openai, or leave plugin: out to use the block "
                             "name");
    return st;
}

/* --- Provider settings and instance key ------------------------------- */

static qf_status build_settings(resolver *rs)
{
    static const char *const not_provider[] = {"cache", NULL};
    qf_cnode *settings = NULL;
    qf_cnode *part;
    qf_status st;

    if (qf_resolve_defaults() == NULL)
        return qf_resolve_nomem(rs);
    settings = qf_resolve_copy_except(qf_resolve_defaults(), QF_LAYER_DEFAULT,
                                      not_provider);
    if (settings == NULL)
        return qf_resolve_nomem(rs);
    part = qf_resolve_copy_except(rs->block, QF_LAYER_PROVIDER, block_keys);
    st = part != NULL
             ? qf_resolve_merge_layer(&settings, part, QF_LAYER_PROVIDER)
             : QF_ERR_NOMEM;
    qf_cnode_free(part);
    if (st == QF_OK && rs->role_node != NULL) {
        part = qf_resolve_copy_except(rs->role_node, QF_LAYER_ROLE, role_keys);
        st = part != NULL
                 ? qf_resolve_merge_layer(&settings, part, QF_LAYER_ROLE)
                 : QF_ERR_NOMEM;
        qf_cnode_free(part);
    }
    if (st != QF_OK) {
        qf_cnode_free(settings);
        return qf_resolve_nomem(rs);
    }
    rs->plan->provider_settings = settings;
    return qf_resolve_check_provider(rs);
}

static qf_status build_instance_key(resolver *rs)
{
    cJSON *key = cJSON_CreateObject();
    cJSON *settings = NULL;
    qf_status st = QF_ERR_NOMEM;

    if (key == NULL || cJSON_AddStringToObject(
                           key, "plugin", rs->plan->provider_plugin) == NULL)
        goto out;
    st = qf_cnode_to_cjson(rs->plan->provider_settings, 1, &settings, rs->err);
    if (st == QF_ERR_CONFIG) {
        /* An unset ${VAR} in the provider block: leave the key unset so
         * `qf config show` still works; the runtime raises the error when
         * it creates the instance, and `qf config check` reports it. */
        qf_error_init(rs->err);
        st = QF_OK;
        goto out;
    }
    if (st != QF_OK)
        goto out;
    st = QF_ERR_NOMEM;
    if (!cJSON_AddItemToObject(key, "settings", settings)) {
        cJSON_Delete(settings);
        goto out;
    }
    rs->plan->instance_key = cJSON_PrintUnformatted(key);
    if (rs->plan->instance_key != NULL)
        st = QF_OK;

out:
    cJSON_Delete(key);
    if (st == QF_ERR_NOMEM)
        return qf_resolve_nomem(rs);
    return st;
}

/* --- Request defaults ------------------------------------------------- */

static const qf_cnode *highest(const resolver *rs, const char *key,
                               qf_layer *layer)
{
    const qf_cnode *found;

    *layer = QF_LAYER_RUNTIME;
    if ((found = qf_cnode_get(rs->runtime, key)) != NULL)
        return found;
    *layer = QF_LAYER_ROLE;
    if ((found = qf_cnode_get(rs->role_node, key)) != NULL)
        return found;
    *layer = QF_LAYER_PROVIDER;
    return qf_cnode_get(rs->block, key);
}

/* model and system_prompt: the highest layer that sets them wins. */
static qf_status pick_scalars(resolver *rs)
{
    qf_layer layer;
    const qf_cnode *model = highest(rs, "model", &layer);
    const qf_cnode *prompt;
    qf_status st;

    if (model != NULL && model->type != QF_CNODE_NULL) {
        st = qf_cnode_string(model, &rs->plan->model, rs->err);
        if (st != QF_OK)
            return st;
    }
    prompt = highest(rs, "system_prompt", &layer);
    if (prompt == NULL || prompt->type == QF_CNODE_NULL)
        return QF_OK;
    if (prompt->type != QF_CNODE_SCALAR)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, prompt,
                             "value is %s; expected a string",
                             qf_cnode_type_phrase(prompt));
    rs->plan->system_prompt = qf_cnode_copy(prompt, layer);
    return rs->plan->system_prompt != NULL ? QF_OK : qf_resolve_nomem(rs);
}

/* params or options merged provider < role < runtime. */
static qf_status merge_requests(resolver *rs, const char *key, qf_cnode **out)
{
    const qf_cnode *layers[3] = {qf_cnode_get(rs->block, key),
                                 qf_cnode_get(rs->role_node, key),
                                 qf_cnode_get(rs->runtime, key)};
    static const qf_layer tags[3] = {QF_LAYER_PROVIDER, QF_LAYER_ROLE,
                                     QF_LAYER_RUNTIME};
    const char *expected = strcmp(key, "params") == 0
                               ? "a map of generation parameters such as "
                                 "{temperature: 0.7}"
                               : "a map of provider-native options";

    for (int i = 0; i < 3; i++) {
        qf_status st = qf_resolve_check_map(rs, layers[i], expected);

        if (st == QF_OK && layers[i] != NULL &&
            qf_resolve_merge_layer(out, layers[i], tags[i]) != QF_OK)
            st = qf_resolve_nomem(rs);
        if (st != QF_OK)
            return st;
    }
    return QF_OK;
}

/* --- The effective view ----------------------------------------------- */

static qf_status put(qf_cnode *map, const char *key, qf_cnode *child)
{
    return qf_cnode_append(map, key, child);
}

/* A deep copy in which every node keeps its own layer. */
static qf_cnode *keep_layers(const qf_cnode *node)
{
    return qf_cnode_merge(node, NULL);
}

static qf_cnode *copy_or_empty(const qf_cnode *node, const char *key_path)
{
    if (node != NULL)
        return keep_layers(node);
    return qf_cnode_create(QF_CNODE_MAP, QF_LAYER_DEFAULT, "<built-in>", 0, 0,
                           key_path);
}

static qf_cnode *effective_provider(resolver *rs)
{
    const qf_cnode *plugin = qf_cnode_get(rs->block, "plugin");
    qf_cnode *map = qf_cnode_create(QF_CNODE_MAP, QF_LAYER_PROVIDER,
                                    rs->block->file, rs->block->line,
                                    rs->block->column, rs->block->key_path);

    if (map == NULL)
        return NULL;
    if (put(map, "name",
            qf_resolve_scalar(rs->plan->provider_name, rs->provider_layer,
                              rs->provider_choice,
                              rs->provider_choice->key_path)) != QF_OK ||
        put(map, "plugin",
            plugin != NULL && plugin->type == QF_CNODE_SCALAR
                ? qf_cnode_copy(plugin, QF_LAYER_PROVIDER)
                : qf_resolve_scalar(rs->plan->provider_plugin,
                                    QF_LAYER_PROVIDER, rs->block,
                                    rs->block->key_path)) != QF_OK ||
        put(map, "settings", keep_layers(rs->plan->provider_settings)) !=
            QF_OK) {
        qf_cnode_free(map);
        return NULL;
    }
    return map;
}

/* {plugin, name, settings} of one chain entry. */
static qf_cnode *effective_entry(const qf_chain_entry *entry)
{
    const qf_cnode *at = entry->settings;
    qf_cnode *item = qf_cnode_create(QF_CNODE_MAP, at->layer, at->file,
                                     at->line, at->column, at->key_path);

    if (item == NULL)
        return NULL;
    if (put(item, "plugin",
            qf_resolve_scalar(entry->plugin_id, at->layer, at, at->key_path)) !=
            QF_OK ||
        put(item, "name",
            qf_resolve_scalar(entry->name, at->layer, at, at->key_path)) !=
            QF_OK ||
        put(item, "settings", keep_layers(at)) != QF_OK) {
        qf_cnode_free(item);
        return NULL;
    }
    return item;
}

static qf_cnode *effective_chain(resolver *rs)
{
    qf_cnode *list = qf_cnode_create(QF_CNODE_LIST, QF_LAYER_ROLE,
                                     rs->cfg->path, 0, 0, "chain");

    for (size_t i = 0; list != NULL && i < rs->plan->chain_len; i++) {
        if (qf_cnode_append(list, NULL, effective_entry(&rs->plan->chain[i])) !=
            QF_OK) {
            qf_cnode_free(list);
            return NULL;
        }
    }
    return list;
}

static qf_status build_effective(resolver *rs)
{
    qf_role_plan *plan = rs->plan;
    qf_layer layer;
    const qf_cnode *model = highest(rs, "model", &layer);
    qf_cnode *view =
        qf_cnode_create(QF_CNODE_MAP, QF_LAYER_ROLE, rs->cfg->path, 0, 0, "");

    if (view == NULL)
        return qf_resolve_nomem(rs);
    if (model != NULL && model->type == QF_CNODE_SCALAR &&
        put(view, "model", qf_cnode_copy(model, layer)) != QF_OK)
        goto fail;
    if (plan->system_prompt != NULL &&
        put(view, "system_prompt", keep_layers(plan->system_prompt)) != QF_OK)
        goto fail;
    if (put(view, "params", copy_or_empty(plan->params, "params")) != QF_OK ||
        put(view, "options", copy_or_empty(plan->options, "options")) !=
            QF_OK ||
        put(view, "provider", effective_provider(rs)) != QF_OK ||
        put(view, "chain", effective_chain(rs)) != QF_OK)
        goto fail;
    plan->effective = view;
    return QF_OK;

fail:
    qf_cnode_free(view);
    return qf_resolve_nomem(rs);
}

/* --- Entry points ----------------------------------------------------- */

void qf_role_plan_free(qf_role_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->chain_len; i++) {
        free(plan->chain[i].plugin_id);
        free(plan->chain[i].name);
        qf_cnode_free(plan->chain[i].settings);
    }
    free(plan->chain);
    free(plan->role);
    free(plan->provider_name);
    free(plan->provider_plugin);
    qf_cnode_free(plan->provider_settings);
    free(plan->instance_key);
    free(plan->model);
    qf_cnode_free(plan->system_prompt);
    qf_cnode_free(plan->params);
    qf_cnode_free(plan->options);
    qf_cnode_free(plan->effective);
    free(plan);
}

static qf_status check_runtime(resolver *rs)
{
    if (rs->runtime == NULL || rs->runtime->type == QF_CNODE_MAP)
        return QF_OK;
    return qf_cnode_fail(rs->err, QF_ERR_INVALID, rs->runtime,
                         "runtime layer is %s; expected a map with model, "
                         "system_prompt, params or options",
                         qf_cnode_type_phrase(rs->runtime));
}

static qf_status resolve_steps(resolver *rs)
{
    qf_status st = check_runtime(rs);

    if (st == QF_OK)
        st = find_role(rs);
    if (st == QF_OK)
        st = find_section(rs);
    if (st == QF_OK)
        st = choose_provider(rs);
    if (st == QF_OK)
        st = choose_plugin(rs);
    if (st == QF_OK)
        st = build_settings(rs);
    if (st == QF_OK)
        st = build_instance_key(rs);
    if (st == QF_OK)
        st = pick_scalars(rs);
    if (st == QF_OK)
        st = merge_requests(rs, "params", &rs->plan->params);
    if (st == QF_OK)
        st = merge_requests(rs, "options", &rs->plan->options);
    if (st == QF_OK)
        st = qf_resolve_build_chain(rs);
    if (st == QF_OK)
        st = build_effective(rs);
    return st;
}

qf_status qf_config_resolve_role(const qf_config *cfg, const char *role,
                                 const qf_cnode *runtime, qf_role_plan **out,
                                 qf_error *err)
{
    resolver rs = {.cfg = cfg, .role = role, .runtime = runtime, .err = err};
    qf_status st;

    *out = NULL;
    if (cfg == NULL || role == NULL || role[0] == '\0')
        return qf_error_set(err, QF_ERR_INVALID,
                            "resolving a role needs a configuration and a "
                            "non-empty role name");
    rs.plan = calloc(1, sizeof(*rs.plan));
    if (rs.plan == NULL || (rs.plan->role = strdup(role)) == NULL) {
        free(rs.plan);
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory resolving %s",
                            role);
    }
    rs.plan->kind = qf_role_kind(role);

    st = resolve_steps(&rs);
    if (st != QF_OK) {
        qf_role_plan_free(rs.plan);
        return st;
    }
    *out = rs.plan;
    return QF_OK;
}

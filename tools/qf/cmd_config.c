/*
 * cmd_config.c - `qf config show` and `qf config check`. Both load the
 * configuration, resolve roles with qf_config_resolve_role and look up the
 * plugins they need in the registry (<state_dir>/registry.db, brought up
 * to date first). Secrets print as ***: values of secret keys and of
 * headers maps, and the userinfo of every URL. A missing plugin is
 * reported, never fatal to `show`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_secret.h"
#include "loader.h"
#include "qf.h"
#include "registry.h"

/* What one `qf config` run works with. reg is NULL when the registry could
 * not be opened, and registry_error then contains the reason. */
typedef struct config_ctx {
    qf_config *cfg;
    char **dirs;
    qf_registry *reg;
    char registry_error[QF_ERROR_MESSAGE_MAX];
} config_ctx;

static void print_help(void)
{
    printf("usage: qf config show [--role ROLE] [--json]\n"
           "       qf config check [--json]\n"
           "\n"
           "  show           list every role with its provider, plugin and "
           "model\n"
           "  show --role R  print role R's effective configuration, each "
           "value with\n"
           "                 the layer (default, global, provider, role, "
           "runtime) and\n"
           "                 the file:line:column it came from; secrets, "
           "header values\n"
           "                 and URL credentials print as ***, and a value "
           "naming an\n"
           "                 unset ${VAR} prints with \"(unset: VAR)\" "
           "instead of failing\n"
           "  check          resolve every role, expand every value it uses "
           "and check\n"
           "                 that its plugins and cache backends are "
           "installed; exit\n"
           "                 status 2 on any error\n"
           "\n"
           "show exits with status 2 when a role does not resolve: the role "
           "is unknown,\n"
           "its provider block is missing or invalid, or its plugin or model "
           "names an\n"
           "unset ${VAR}. Run check to find every error, unset variables "
           "included.\n");
}

static void ctx_close(config_ctx *ctx)
{
    qf_registry_close(ctx->reg);
    qf_config_strings_free(ctx->dirs);
    qf_config_free(ctx->cfg);
}

/* Open the registry and bring it up to date; failure only records why. */
static void open_registry(config_ctx *ctx)
{
    char **configured = NULL;
    char *state_dir = NULL, *db_path = NULL;
    qf_error err;
    qf_status status;

    qf_error_init(&err);
    status = qf_config_state_dir(ctx->cfg, &state_dir, &err);
    if (status == QF_OK)
        status = qf_config_plugin_dirs(ctx->cfg, &configured, &err);
    if (status == QF_OK)
        status = qf_loader_search_dirs(configured, &ctx->dirs, &err);
    if (status == QF_OK &&
        asprintf(&db_path, "%s/registry.db", state_dir) < 0) {
        db_path = NULL;
        status = qf_error_set(&err, QF_ERR_NOMEM, "out of memory");
    }
    if (status == QF_OK)
        status = qf_registry_open(db_path, &ctx->reg, &err);
    if (status == QF_OK) {
        status = qf_registry_scan(ctx->reg, ctx->dirs, 0, NULL, &err);
        /* Duplicate ids are recorded on their rows; lookups still work. */
        if (status == QF_ERR_CONFIG)
            status = QF_OK;
    }
    if (status != QF_OK) {
        snprintf(ctx->registry_error, sizeof(ctx->registry_error), "%s",
                 err.message);
        qf_registry_close(ctx->reg);
        ctx->reg = NULL;
    }
    qf_config_strings_free(configured);
    free(state_dir);
    free(db_path);
}

static int ctx_open(const qf_cli *cli, config_ctx *ctx)
{
    int code;

    memset(ctx, 0, sizeof(*ctx));
    code = qf_cli_load_config(cli, &ctx->cfg);
    if (code != QF_EXIT_OK)
        return code;
    open_registry(ctx);
    return QF_EXIT_OK;
}

/* --- Plugins ---------------------------------------------------------- */

/* "installed", "missing", the registry status ("incompatible", ...) or
 * "unknown" when the registry is unavailable. Fills *entry when found. */
static const char *plugin_status(const config_ctx *ctx, const char *id,
                                 qf_registry_entry *entry)
{
    qf_error err;

    memset(entry, 0, sizeof(*entry));
    if (ctx->reg == NULL)
        return "unknown";
    qf_error_init(&err);
    if (qf_registry_find(ctx->reg, id, entry, &err) != QF_OK)
        return "missing";
    if (entry->status != NULL && strcmp(entry->status, "ok") != 0)
        return entry->status;
    return "installed";
}

/* Whether the plugin's option schema flags `key` as secret. */
static int option_is_secret(const qf_registry_entry *entry, const char *key)
{
    cJSON *options =
        entry->options != NULL ? cJSON_Parse(entry->options) : NULL;
    const cJSON *option;
    int secret = 0;

    cJSON_ArrayForEach(option, options)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(option, "name");

        if (cJSON_IsString(name) && strcmp(name->valuestring, key) == 0)
            secret = cJSON_IsTrue(
                cJSON_GetObjectItemCaseSensitive(option, "secret"));
    }
    cJSON_Delete(options);
    return secret;
}

/* --- show --role ------------------------------------------------------- */

typedef struct show_out {
    const qf_cli *cli;
    cJSON *values; /* the JSON array of values with --json */
} show_out;

static int is_secret(const char *key, const qf_registry_entry *schema)
{
    if (key != NULL && qf_config_key_is_secret(key))
        return 1;
    return key != NULL && schema != NULL && option_is_secret(schema, key);
}

/* A leaf as shown: its text and, when its expansion failed, the error
 * and the unset variable (all malloc'd, NULL when absent). */
typedef struct leaf {
    char *text;
    char *error;
    char *unset;
} leaf;

static void leaf_clear(leaf *item)
{
    free(item->text);
    free(item->error);
    free(item->unset);
}

/* Copy `text` with URL userinfo redacted; NULL stays NULL. */
static char *redacted(const char *text)
{
    return text != NULL ? qf_config_redact_urls(text) : NULL;
}

/* "{}", "[]" or "null" for an empty map, an empty list or a null. */
static const char *container_text(const qf_cnode *node)
{
    switch (qf_cnode_type_of(node)) {
    case QF_CNODE_MAP: return "{}";
    case QF_CNODE_LIST: return "[]";
    case QF_CNODE_NULL:
    case QF_CNODE_SCALAR: break;
    }
    return "null";
}

/*
 * Fill the text of a leaf: *** for secrets, the expanded string with URL
 * userinfo redacted, {} and [] for empty containers. A secret scalar is
 * expanded too, but only to report an error. When expansion fails, the
 * text is the value as written (redacted), never an expanded value.
 */
static void leaf_fill(leaf *item, const qf_cnode *node, int secret)
{
    qf_error err;
    char *text = NULL;

    memset(item, 0, sizeof(*item));
    if (qf_cnode_type_of(node) != QF_CNODE_SCALAR) {
        item->text = strdup(secret ? "***" : container_text(node));
        return;
    }
    qf_error_init(&err);
    if (qf_cnode_string_unset(node, &text, &item->unset, &err) != QF_OK)
        item->error = redacted(err.message);
    if (secret)
        item->text = strdup("***");
    else
        item->text = redacted(item->error != NULL ? qf_cnode_raw(node) : text);
    free(text);
}

/* The JSON value of a leaf: typed as YAML types it, or its text when it is
 * a secret, a string or failed to expand. */
static cJSON *leaf_json(const qf_cnode *node, const leaf *item, int secret)
{
    const char *text = item->text != NULL ? item->text : "";
    char *json = NULL;
    cJSON *value = NULL;
    qf_error err;

    if (secret || item->error != NULL)
        return cJSON_CreateString(text);
    qf_error_init(&err);
    if (qf_cnode_to_json(node, &json, &err) == QF_OK)
        value = cJSON_Parse(json);
    free(json);
    if (value != NULL && !cJSON_IsString(value))
        return value;
    cJSON_Delete(value);
    return cJSON_CreateString(text);
}

static void leaf_add_json(show_out *out, const qf_cnode *node, const char *path,
                          const leaf *item, int secret)
{
    cJSON *entry = cJSON_CreateObject();

    cJSON_AddStringToObject(entry, "path", path);
    cJSON_AddItemToObject(entry, "value", leaf_json(node, item, secret));
    cJSON_AddStringToObject(entry, "layer",
                            qf_layer_name(qf_cnode_layer(node)));
    cJSON_AddStringToObject(entry, "file", qf_cnode_file(node));
    cJSON_AddNumberToObject(entry, "line", qf_cnode_line(node));
    cJSON_AddNumberToObject(entry, "column", qf_cnode_column(node));
    if (item->error != NULL)
        cJSON_AddStringToObject(entry, "error", item->error);
    if (item->unset != NULL)
        cJSON_AddStringToObject(entry, "unset", item->unset);
    cJSON_AddItemToArray(out->values, entry);
}

/* "  path = text  [layer, file:line:column] (unset: VAR)" */
static void leaf_print(const qf_cnode *node, const char *path, const leaf *item)
{
    const char *layer = qf_layer_name(qf_cnode_layer(node));

    printf("  %s = %s  ", path, item->text != NULL ? item->text : "");
    if (qf_cnode_line(node) > 0)
        printf("[%s, %s:%d:%d]", layer, qf_cnode_file(node),
               qf_cnode_line(node), qf_cnode_column(node));
    else
        printf("[%s]", layer);
    if (item->unset != NULL)
        printf(" (unset: %s)", item->unset);
    else if (item->error != NULL)
        printf(" (error: %s)", item->error);
    printf("\n");
}

static void print_leaf(show_out *out, const qf_cnode *node, const char *path,
                       int secret)
{
    leaf item;

    leaf_fill(&item, node, secret);
    if (out->cli->json)
        leaf_add_json(out, node, path, &item, secret);
    else
        leaf_print(node, path, &item);
    leaf_clear(&item);
}

/* Print a subtree. `secret` is set for everything under a headers map,
 * because header values often carry credentials. */
static void show_node(show_out *out, const qf_cnode *node, const char *path,
                      const char *key, const qf_registry_entry *schema,
                      int secret)
{
    size_t count = qf_cnode_count(node);
    int list = qf_cnode_type_of(node) == QF_CNODE_LIST;
    int headers = key != NULL && strcmp(key, "headers") == 0;

    secret = secret || is_secret(key, schema);
    if (count == 0 || secret) {
        print_leaf(out, node, path, secret);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const char *child_key = NULL;
        const qf_cnode *child = qf_cnode_at(node, i, &child_key);
        char *child_path = NULL;
        int len = list ? asprintf(&child_path, "%s[%zu]", path, i)
                       : asprintf(&child_path, "%s.%s", path, child_key);

        if (len < 0)
            return;
        show_node(out, child, child_path, list ? NULL : child_key, schema,
                  headers);
        free(child_path);
    }
}

/* The plugins a plan uses: [0] the provider, then one per chain entry. */
typedef struct plan_plugins {
    size_t count;
    qf_registry_entry *entries;
    const char **status;
} plan_plugins;

static int plugins_lookup(const config_ctx *ctx, const qf_role_plan *plan,
                          plan_plugins *out)
{
    out->count = plan->chain_len + 1;
    out->entries = calloc(out->count, sizeof(*out->entries));
    out->status = calloc(out->count, sizeof(*out->status));
    if (out->entries == NULL || out->status == NULL)
        return -1;
    out->status[0] =
        plugin_status(ctx, plan->provider_plugin, &out->entries[0]);
    for (size_t i = 0; i < plan->chain_len; i++)
        out->status[i + 1] =
            plugin_status(ctx, plan->chain[i].plugin_id, &out->entries[i + 1]);
    return 0;
}

static void plugins_clear(plan_plugins *plugins)
{
    for (size_t i = 0; plugins->entries != NULL && i < plugins->count; i++)
        qf_registry_entry_clear(&plugins->entries[i]);
    free(plugins->entries);
    free(plugins->status);
}

/* Walk the effective view; settings under provider and chain items are
 * redacted with their plugin's option schema too. */
static void show_effective(show_out *out, const qf_role_plan *plan,
                           const plan_plugins *plugins)
{
    const qf_cnode *view = plan->effective;

    for (size_t i = 0; i < qf_cnode_count(view); i++) {
        const char *key = NULL;
        const qf_cnode *node = qf_cnode_at(view, i, &key);
        int is_chain = strcmp(key, "chain") == 0;

        if (strcmp(key, "provider") != 0 && !is_chain) {
            show_node(out, node, key, key, NULL, 0);
            continue;
        }
        for (size_t j = 0; j < qf_cnode_count(node); j++) {
            const char *sub = NULL;
            const qf_cnode *child = qf_cnode_at(node, j, &sub);
            char path[64];

            if (!is_chain) {
                snprintf(path, sizeof(path), "provider.%s", sub);
                show_node(out, child, path, sub,
                          strcmp(sub, "settings") == 0 ? &plugins->entries[0]
                                                       : NULL,
                          0);
                continue;
            }
            snprintf(path, sizeof(path), "chain[%zu]", j);
            show_node(out, child, path, NULL, &plugins->entries[j + 1], 0);
        }
    }
}

/* Add "model": the model with URL userinfo redacted, or null. */
static void add_model(cJSON *object, const char *model)
{
    char *redacted_model = redacted(model);

    if (redacted_model != NULL)
        cJSON_AddStringToObject(object, "model", redacted_model);
    else
        cJSON_AddNullToObject(object, "model");
    free(redacted_model);
}

static void print_role_header(const qf_role_plan *plan,
                              const plan_plugins *plugins)
{
    printf("role: %s\n", plan->role);
    printf("kind: %s\n", plan->kind == QF_REQUEST_IMAGE ? "image" : "text");
    printf("provider: %s (plugin %s, %s)\n", plan->provider_name,
           plan->provider_plugin, plugins->status[0]);
    char *model = redacted(plan->model);

    printf("model: %s\n", model != NULL ? model : "(not set)");
    free(model);
    printf("chain:");
    for (size_t i = 0; i < plan->chain_len; i++)
        printf(" %s (%s) ->", plan->chain[i].name, plugins->status[i + 1]);
    printf(" %s\n", plan->provider_name);
    printf("effective configuration [layer, file:line:column]:\n");
}

static cJSON *role_json(const qf_role_plan *plan, const plan_plugins *plugins)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *chain = cJSON_AddArrayToObject(root, "chain");

    cJSON_AddStringToObject(root, "role", plan->role);
    cJSON_AddStringToObject(root, "kind",
                            plan->kind == QF_REQUEST_IMAGE ? "image" : "text");
    cJSON_AddStringToObject(root, "provider", plan->provider_name);
    cJSON_AddStringToObject(root, "plugin", plan->provider_plugin);
    cJSON_AddStringToObject(root, "plugin_status", plugins->status[0]);
    add_model(root, plan->model);
    for (size_t i = 0; i < plan->chain_len; i++) {
        cJSON *entry = cJSON_CreateObject();

        cJSON_AddStringToObject(entry, "name", plan->chain[i].name);
        cJSON_AddStringToObject(entry, "plugin", plan->chain[i].plugin_id);
        cJSON_AddStringToObject(entry, "plugin_status", plugins->status[i + 1]);
        cJSON_AddItemToArray(chain, entry);
    }
    return root;
}

/* Replace the userinfo of any URL in err's message with ***. */
static void redact_error(qf_error *err)
{
    char *message = qf_config_redact_urls(err->message);

    if (message == NULL)
        return;
    snprintf(err->message, sizeof(err->message), "%s", message);
    free(message);
}

static int show_role(const qf_cli *cli, config_ctx *ctx, const char *role)
{
    qf_role_plan *plan = NULL;
    plan_plugins plugins = {0};
    show_out out = {.cli = cli};
    cJSON *root = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_config_resolve_role(ctx->cfg, role, NULL, &plan, &err) != QF_OK) {
        redact_error(&err);
        return qf_cli_fail(cli, &err);
    }
    if (plugins_lookup(ctx, plan, &plugins) != 0) {
        plugins_clear(&plugins);
        qf_role_plan_free(plan);
        qf_error_set(&err, QF_ERR_NOMEM, "out of memory");
        return qf_cli_fail(cli, &err);
    }

    if (cli->json) {
        root = role_json(plan, &plugins);
        out.values = cJSON_AddArrayToObject(root, "values");
    } else {
        print_role_header(plan, &plugins);
    }
    show_effective(&out, plan, &plugins);
    if (root != NULL)
        qf_cli_print_json(root);
    plugins_clear(&plugins);
    qf_role_plan_free(plan);
    return QF_EXIT_OK;
}

/* --- show (every role) ------------------------------------------------- */

/* True for an image role that `roles:` does not list while the file has no
 * providers.image: such a role is unused, not misconfigured. */
static int role_unused(const config_ctx *ctx, const char *role)
{
    const qf_cnode *root = qf_config_root(ctx->cfg);
    char path[256];

    if (qf_role_kind(role) != QF_REQUEST_IMAGE ||
        qf_cnode_path(root, "providers.image") != NULL)
        return 0;
    snprintf(path, sizeof(path), "roles.%s", role);
    return qf_cnode_path(root, path) == NULL;
}

static void list_row(const qf_cli *cli, cJSON *rows, const char *role,
                     const qf_role_plan *plan, const char *status,
                     const char *error)
{
    if (cli->json) {
        cJSON *row = cJSON_CreateObject();

        cJSON_AddStringToObject(row, "role", role);
        if (plan != NULL) {
            cJSON_AddStringToObject(row, "provider", plan->provider_name);
            cJSON_AddStringToObject(row, "plugin", plan->provider_plugin);
            cJSON_AddStringToObject(row, "plugin_status", status);
            add_model(row, plan->model);
        } else {
            cJSON_AddStringToObject(row, "error", error);
        }
        cJSON_AddItemToArray(rows, row);
    } else if (plan != NULL) {
        char *model = redacted(plan->model);

        printf("%-16s %-12s %-24s %s\n", role, plan->provider_name,
               plan->provider_plugin, model != NULL ? model : "-");
        free(model);
        if (status != NULL && strcmp(status, "installed") != 0)
            printf("%-16s   plugin %s is %s\n", "", plan->provider_plugin,
                   status);
    } else {
        printf("%-16s error: %s\n", role, error);
    }
}

static int show_all(const qf_cli *cli, config_ctx *ctx)
{
    char **roles = NULL;
    cJSON *root = NULL, *rows = NULL;
    qf_error err;
    int failed = 0;

    qf_error_init(&err);
    if (qf_config_role_names(ctx->cfg, &roles, &err) != QF_OK)
        return qf_cli_fail(cli, &err);
    if (cli->json) {
        root = cJSON_CreateObject();
        rows = cJSON_AddArrayToObject(root, "roles");
    } else {
        printf("%-16s %-12s %-24s %s\n", "ROLE", "PROVIDER", "PLUGIN", "MODEL");
    }
    for (size_t i = 0; roles[i] != NULL; i++) {
        qf_role_plan *plan = NULL;
        qf_registry_entry entry;
        const char *status = NULL;
        char *error;

        qf_error_init(&err);
        if (role_unused(ctx, roles[i])) {
            if (!cli->json)
                printf("%-16s (unused: no providers.image section)\n",
                       roles[i]);
            continue;
        }
        if (qf_config_resolve_role(ctx->cfg, roles[i], NULL, &plan, &err) ==
            QF_OK)
            status = plugin_status(ctx, plan->provider_plugin, &entry);
        else
            failed++;
        error = qf_config_redact_urls(err.message);
        list_row(cli, rows, roles[i], plan, status,
                 error != NULL ? error : "out of memory");
        free(error);
        if (plan != NULL)
            qf_registry_entry_clear(&entry);
        qf_role_plan_free(plan);
    }
    if (root != NULL)
        qf_cli_print_json(root);
    qf_config_strings_free(roles);
    return failed ? QF_EXIT_USAGE : QF_EXIT_OK;
}

/* --- check -------------------------------------------------------------- */

/* Distinct problem messages, each with the roles it affects. */
typedef struct problems {
    size_t count;
    char **messages;
    char **roles; /* "plotwright, scene_smith" */
} problems;

/* Add `role` to the problem with this message, or list a new problem. */
static void problem_record(problems *list, const char *role,
                           const char *message)
{
    char **messages, **roles, *joined = NULL;

    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->messages[i], message) != 0)
            continue;
        if (role != NULL &&
            asprintf(&joined, "%s, %s", list->roles[i], role) >= 0) {
            free(list->roles[i]);
            list->roles[i] = joined;
        }
        return;
    }
    messages = realloc(list->messages, (list->count + 1) * sizeof(*messages));
    if (messages != NULL)
        list->messages = messages;
    roles = realloc(list->roles, (list->count + 1) * sizeof(*roles));
    if (roles != NULL)
        list->roles = roles;
    if (messages == NULL || roles == NULL)
        return;
    list->messages[list->count] = strdup(message);
    list->roles[list->count] = strdup(role != NULL ? role : "");
    list->count++;
}

/* Record a problem with the userinfo of any URL in it redacted. */
static void problem_add(problems *list, const char *role, const char *text)
{
    char *message = qf_config_redact_urls(text);

    if (message == NULL)
        return;
    problem_record(list, role, message);
    free(message);
}

static void problems_free(problems *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->messages[i]);
        free(list->roles[i]);
    }
    free(list->messages);
    free(list->roles);
}

/* "a, b, c" of the plugin search folders, for messages. */
static void join_dirs(char *const *dirs, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; dirs != NULL && dirs[i] != NULL && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                                 dirs[i]);
}

static void check_plugin(const config_ctx *ctx, problems *list,
                         const char *role, const char *id,
                         const qf_cnode *where)
{
    qf_registry_entry entry;
    const char *status = plugin_status(ctx, id, &entry);
    char dirs[1024], message[4096], place[512];

    if (qf_cnode_line(where) > 0)
        snprintf(place, sizeof(place), "%s:%d:%d: %s", qf_cnode_file(where),
                 qf_cnode_line(where), qf_cnode_column(where),
                 qf_cnode_key_path(where));
    else
        snprintf(place, sizeof(place), "%s: roles.%s", qf_cnode_file(where),
                 role);

    if (strcmp(status, "missing") == 0) {
        join_dirs(ctx->dirs, dirs, sizeof(dirs));
        snprintf(message, sizeof(message),
                 "%s: plugin \"%s\" is not installed in any plugin folder "
                 "(%s); build or install it, or add its folder to plugin_dirs",
                 place, id, dirs);
        problem_add(list, role, message);
    } else if (strcmp(status, "installed") != 0 &&
               strcmp(status, "unknown") != 0) {
        snprintf(message, sizeof(message),
                 "plugin \"%s\" (%s) is %s: %s; rebuild it against this SDK "
                 "or remove it",
                 id, entry.path ? entry.path : "?", status,
                 entry.error ? entry.error : "no details recorded");
        problem_add(list, role, message);
    }
    qf_registry_entry_clear(&entry);
}

/* Check the backend plugin a cache entry opens: its `backend` setting, or
 * file_cache, the cache plugin's default. */
static void check_cache_backend(const config_ctx *ctx, problems *list,
                                const char *role, const qf_chain_entry *entry)
{
    const qf_cnode *backend = qf_cnode_get(entry->settings, "backend");
    char *id = NULL;
    qf_error err;

    if (backend == NULL || qf_cnode_type_of(backend) == QF_CNODE_NULL) {
        check_plugin(ctx, list, role, "file_cache", entry->settings);
        return;
    }
    qf_error_init(&err);
    if (qf_cnode_string(backend, &id, &err) != QF_OK) {
        problem_add(list, role, err.message);
        return;
    }
    check_plugin(ctx, list, role, id, backend);
    free(id);
}

/* Resolve one role, expand every value it uses and check its plugins,
 * cache backends included. */
static void check_role(const config_ctx *ctx, problems *list, const char *role)
{
    qf_role_plan *plan = NULL;
    char *json = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_config_resolve_role(ctx->cfg, role, NULL, &plan, &err) != QF_OK) {
        problem_add(list, role, err.message);
        return;
    }
    if (qf_cnode_to_json(plan->effective, &json, &err) != QF_OK)
        problem_add(list, role, err.message);
    free(json);

    check_plugin(ctx, list, role, plan->provider_plugin,
                 qf_cnode_path(plan->effective, "provider.plugin"));
    for (size_t i = 0; i < plan->chain_len; i++) {
        check_plugin(ctx, list, role, plan->chain[i].plugin_id,
                     plan->chain[i].settings);
        if (strcmp(plan->chain[i].plugin_id, "cache") == 0)
            check_cache_backend(ctx, list, role, &plan->chain[i]);
    }
    qf_role_plan_free(plan);
}

/* The file-wide values: state_dir and plugin_dirs. */
static void check_places(const config_ctx *ctx, problems *list)
{
    char *state = NULL;
    char **dirs = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_config_state_dir(ctx->cfg, &state, &err) != QF_OK)
        problem_add(list, NULL, err.message);
    free(state);
    qf_error_init(&err);
    if (qf_config_plugin_dirs(ctx->cfg, &dirs, &err) != QF_OK)
        problem_add(list, NULL, err.message);
    qf_config_strings_free(dirs);
    if (ctx->reg == NULL)
        problem_add(list, NULL, ctx->registry_error);
}

static void print_problems(const qf_cli *cli, const problems *list,
                           size_t roles)
{
    cJSON *root, *errors;

    if (!cli->json) {
        for (size_t i = 0; i < list->count; i++) {
            if (list->roles[i][0] != '\0')
                printf("error: %s (roles: %s)\n", list->messages[i],
                       list->roles[i]);
            else
                printf("error: %s\n", list->messages[i]);
        }
        printf("%zu roles checked, %zu %s\n", roles, list->count,
               list->count == 1 ? "error" : "errors");
        return;
    }
    root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "ok", list->count == 0);
    cJSON_AddNumberToObject(root, "roles_checked", (double)roles);
    errors = cJSON_AddArrayToObject(root, "errors");
    for (size_t i = 0; i < list->count; i++) {
        cJSON *item = cJSON_CreateObject();

        cJSON_AddStringToObject(item, "message", list->messages[i]);
        cJSON_AddStringToObject(item, "roles", list->roles[i]);
        cJSON_AddItemToArray(errors, item);
    }
    qf_cli_print_json(root);
}

static int check_all(const qf_cli *cli, config_ctx *ctx)
{
    problems list = {0};
    char **roles = NULL;
    size_t count = 0;
    qf_error err;
    int code;

    qf_error_init(&err);
    if (qf_config_role_names(ctx->cfg, &roles, &err) != QF_OK)
        return qf_cli_fail(cli, &err);
    check_places(ctx, &list);
    for (size_t i = 0; roles[i] != NULL; i++) {
        if (role_unused(ctx, roles[i]))
            continue;
        check_role(ctx, &list, roles[i]);
        count++;
    }
    print_problems(cli, &list, count);
    code = list.count > 0 ? QF_EXIT_USAGE : QF_EXIT_OK;
    problems_free(&list);
    qf_config_strings_free(roles);
    return code;
}

/* --- Entry ------------------------------------------------------------- */

int qf_cmd_config(qf_cli *cli, int argc, char **argv)
{
    config_ctx ctx;
    const char *role = NULL;
    int show, code;

    if (qf_cli_wants_help(argc, argv)) {
        print_help();
        return QF_EXIT_OK;
    }
    argc = qf_cli_take_json_flag(cli, argc, argv);
    if (argc < 2)
        return qf_cli_usage_error("config: missing subcommand; expected show "
                                  "or check");
    show = strcmp(argv[1], "show") == 0;
    if (!show && strcmp(argv[1], "check") != 0)
        return qf_cli_usage_error("config: unknown subcommand '%s'; expected "
                                  "show or check",
                                  argv[1]);
    for (int i = 2; i < argc; i++) {
        if (show && strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (show && strncmp(argv[i], "--role=", 7) == 0)
            role = argv[i] + 7;
        else
            return qf_cli_usage_error("config %s: unexpected argument '%s'; "
                                      "run 'qf config --help'",
                                      argv[1], argv[i]);
    }

    code = ctx_open(cli, &ctx);
    if (code != QF_EXIT_OK)
        return code;
    if (!show)
        code = check_all(cli, &ctx);
    else if (role != NULL)
        code = show_role(cli, &ctx, role);
    else
        code = show_all(cli, &ctx);
    ctx_close(&ctx);
    return code;
}

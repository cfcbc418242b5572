/*
 * cmd_plugins.c - `qf plugins scan|list|info`: refresh and read the plugin
 * registry (<state_dir>/registry.db). `scan` opens changed plugin files;
 * `list` and `info` read SQLite alone and scan only an empty registry.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loader.h"
#include "qf.h"
#include "registry.h"

/* The registry and the folders of the configuration the options select. */
typedef struct plugins_ctx {
    qf_config *cfg;
    char *db_path;
    char **dirs;
    qf_registry *reg;
} plugins_ctx;

static void print_group_help(FILE *out)
{
    fprintf(out,
            "usage: qf plugins COMMAND [--json]\n"
            "\n"
            "Commands:\n"
            "  scan [--force]  bring the plugin registry up to date\n"
            "  list            list every plugin file the registry records\n"
            "  info ID|PATH    show one plugin's descriptor and options\n"
            "  new NAME --kind KIND  write a new plugin project\n"
            "\n"
            "Plugin folders are searched in order: $QF_PLUGIN_PATH "
            "(colon separated),\n"
            "plugin_dirs of the configuration, then the built-in folder.\n"
            "The registry is <state_dir>/registry.db.\n");
}

static void ctx_close(plugins_ctx *ctx)
{
    qf_registry_close(ctx->reg);
    qf_config_strings_free(ctx->dirs);
    free(ctx->db_path);
    qf_config_free(ctx->cfg);
}

/* Load the configuration, build the folder list and open the registry.
 * Returns an exit code. */
static int ctx_open(const qf_cli *cli, plugins_ctx *ctx)
{
    char **configured = NULL;
    char *state_dir = NULL;
    qf_status status;
    qf_error err;
    int code;

    memset(ctx, 0, sizeof(*ctx));
    code = qf_cli_load_config(cli, &ctx->cfg);
    if (code != QF_EXIT_OK)
        return code;

    qf_error_init(&err);
    status = qf_config_state_dir(ctx->cfg, &state_dir, &err);
    if (status == QF_OK)
        status = qf_config_plugin_dirs(ctx->cfg, &configured, &err);
    if (status == QF_OK)
        status = qf_loader_search_dirs(configured, &ctx->dirs, &err);
    if (status == QF_OK &&
        asprintf(&ctx->db_path, "%s/registry.db", state_dir) < 0) {
        ctx->db_path = NULL;
        status = qf_error_set(&err, QF_ERR_NOMEM, "out of memory");
    }
    if (status == QF_OK)
        status = qf_registry_open(ctx->db_path, &ctx->reg, &err);
    qf_config_strings_free(configured);
    free(state_dir);
    if (status != QF_OK) {
        ctx_close(ctx);
        code = qf_cli_fail(cli, &err);
        /* Never report success after the context was closed. */
        return code != QF_EXIT_OK ? code : QF_EXIT_FAILURE;
    }
    return QF_EXIT_OK;
}

static cJSON *json_string_or_null(const char *text)
{
    return text != NULL ? cJSON_CreateString(text) : cJSON_CreateNull();
}

/* Stored JSON text (capabilities, options) as a value; null when unset. */
static cJSON *json_parse_or_null(const char *text)
{
    cJSON *value = text != NULL ? cJSON_Parse(text) : NULL;

    return value != NULL ? value : cJSON_CreateNull();
}

static const char *or_dash(const char *text)
{
    return text != NULL ? text : "-";
}

/* --- scan ------------------------------------------------------------ */

static void print_scan_help(void)
{
    printf("usage: qf plugins scan [--force] [--json]\n"
           "\n"
           "Bring the plugin registry up to date: open every new or changed\n"
           "*.so file in the plugin folders, drop files that vanished.\n"
           "\n"
           "  --force  open every file again, even unchanged ones\n"
           "  --json   print the scan report as one JSON object\n");
}

static void print_problems(const qf_registry_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(entries[i].status, "ok") != 0)
            printf("  %s: %s\n", entries[i].status, or_dash(entries[i].error));
    }
}

static cJSON *scan_json(const plugins_ctx *ctx, const qf_scan_report *report,
                        const qf_registry_entry *entries, size_t count)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *dirs = cJSON_AddArrayToObject(root, "directories");
    cJSON *problems;

    cJSON_AddStringToObject(root, "registry", ctx->db_path);
    for (size_t i = 0; ctx->dirs[i] != NULL; i++)
        cJSON_AddItemToArray(dirs, cJSON_CreateString(ctx->dirs[i]));
    cJSON_AddNumberToObject(root, "scanned", report->scanned);
    cJSON_AddNumberToObject(root, "unchanged", report->unchanged);
    cJSON_AddNumberToObject(root, "removed", report->removed);
    cJSON_AddNumberToObject(root, "failed", report->failed);
    problems = cJSON_AddArrayToObject(root, "problems");
    for (size_t i = 0; i < count; i++) {
        cJSON *item;
        if (strcmp(entries[i].status, "ok") == 0)
            continue;
        item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "path", entries[i].path);
        cJSON_AddStringToObject(item, "status", entries[i].status);
        cJSON_AddItemToObject(item, "error",
                              json_string_or_null(entries[i].error));
        cJSON_AddItemToArray(problems, item);
    }
    return root;
}

static int report_scan(const qf_cli *cli, const plugins_ctx *ctx,
                       const qf_scan_report *report, qf_status scanned,
                       const qf_error *scan_err)
{
    qf_registry_entry *entries = NULL;
    size_t count = 0, folders = 0;
    qf_error err;

    qf_error_init(&err);
    if (qf_registry_list(ctx->reg, &entries, &count, &err) != QF_OK)
        return qf_cli_fail(cli, &err);
    while (ctx->dirs[folders] != NULL)
        folders++;

    if (cli->json) {
        cJSON *root = scan_json(ctx, report, entries, count);
        if (scanned != QF_OK) {
            cJSON *error = cJSON_AddObjectToObject(root, "error");
            cJSON_AddStringToObject(error, "status", qf_status_name(scanned));
            cJSON_AddStringToObject(error, "message", scan_err->message);
        }
        qf_cli_print_json(root);
    } else {
        printf("Scanned %zu plugin folder%s: %d files opened, %d unchanged, "
               "%d removed, %d not ok.\n",
               folders, folders == 1 ? "" : "s", report->scanned,
               report->unchanged, report->removed, report->failed);
        print_problems(entries, count);
        if (scanned != QF_OK)
            fprintf(stderr, "qf: error: %s\n", scan_err->message);
    }
    qf_registry_entries_free(entries, count);
    return scanned == QF_OK ? QF_EXIT_OK : qf_status_exit_code(scanned);
}

static int plugins_scan(qf_cli *cli, int argc, char **argv)
{
    qf_scan_report report = {0};
    plugins_ctx ctx;
    qf_status status;
    qf_error err;
    int force = 0;
    int code;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else
            return qf_cli_usage_error("plugins scan: unknown argument '%s'; "
                                      "run 'qf plugins scan --help'",
                                      argv[i]);
    }
    code = ctx_open(cli, &ctx);
    if (code != QF_EXIT_OK)
        return code;

    qf_error_init(&err);
    status = qf_registry_scan(ctx.reg, ctx.dirs, force, &report, &err);
    if (status == QF_OK || status == QF_ERR_CONFIG)
        code = report_scan(cli, &ctx, &report, status, &err);
    else
        code = qf_cli_fail(cli, &err);
    ctx_close(&ctx);
    return code;
}

/* --- list ------------------------------------------------------------ */

static void print_list_help(void)
{
    printf("usage: qf plugins list [--json]\n"
           "\n"
           "List every plugin file the registry records, in search order,\n"
           "with its id, kind, version, status, path and the file that\n"
           "shadows it. Reads the registry alone; scans only when it is\n"
           "empty (run 'qf plugins scan' after adding files).\n"
           "\n"
           "  --json  print {\"registry\": PATH, \"plugins\": [...]}\n");
}

/* List the registry, scanning first when it has no rows. */
static qf_status read_entries(const plugins_ctx *ctx,
                              qf_registry_entry **entries, size_t *count,
                              qf_error *err)
{
    qf_status status = qf_registry_list(ctx->reg, entries, count, err);
    qf_error scan_err;

    if (status != QF_OK || *count > 0)
        return status;
    qf_registry_entries_free(*entries, *count);

    /* A duplicate id is recorded on its rows, which the listing shows. */
    qf_error_init(&scan_err);
    status = qf_registry_scan(ctx->reg, ctx->dirs, 0, NULL, &scan_err);
    if (status != QF_OK && status != QF_ERR_CONFIG) {
        *err = scan_err;
        return status;
    }
    return qf_registry_list(ctx->reg, entries, count, err);
}

static cJSON *list_item_json(const qf_registry_entry *e)
{
    cJSON *item = cJSON_CreateObject();

    cJSON_AddItemToObject(item, "id", json_string_or_null(e->id));
    cJSON_AddItemToObject(item, "kind", json_string_or_null(e->kind));
    cJSON_AddItemToObject(item, "version", json_string_or_null(e->version));
    cJSON_AddStringToObject(item, "status", e->status);
    cJSON_AddStringToObject(item, "path", e->path);
    cJSON_AddBoolToObject(item, "shadowed", e->shadowed_by != NULL);
    cJSON_AddItemToObject(item, "shadowed_by",
                          json_string_or_null(e->shadowed_by));
    cJSON_AddItemToObject(item, "error", json_string_or_null(e->error));
    return item;
}

static void print_list(const plugins_ctx *ctx, const qf_registry_entry *entries,
                       size_t count)
{
    if (count == 0) {
        printf("No plugin files found in:\n");
        for (size_t i = 0; ctx->dirs[i] != NULL; i++)
            printf("  %s\n", ctx->dirs[i]);
        return;
    }
    printf("%-20s %-13s %-9s %-12s %s\n", "ID", "KIND", "VERSION", "STATUS",
           "PATH");
    for (size_t i = 0; i < count; i++) {
        const qf_registry_entry *e = &entries[i];
        printf("%-20s %-13s %-9s %-12s %s", or_dash(e->id), or_dash(e->kind),
               or_dash(e->version), e->status, e->path);
        if (e->shadowed_by != NULL)
            printf(" (shadowed by %s)", e->shadowed_by);
        printf("\n");
    }
}

static int plugins_list(qf_cli *cli, int argc, char **argv)
{
    qf_registry_entry *entries = NULL;
    size_t count = 0;
    plugins_ctx ctx;
    qf_error err;
    int code;

    if (argc > 1)
        return qf_cli_usage_error("plugins list: unknown argument '%s'; run "
                                  "'qf plugins list --help'",
                                  argv[1]);
    code = ctx_open(cli, &ctx);
    if (code != QF_EXIT_OK)
        return code;

    qf_error_init(&err);
    if (read_entries(&ctx, &entries, &count, &err) != QF_OK) {
        code = qf_cli_fail(cli, &err);
    } else if (cli->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *plugins = cJSON_AddArrayToObject(root, "plugins");
        cJSON_AddStringToObject(root, "registry", ctx.db_path);
        for (size_t i = 0; i < count; i++)
            cJSON_AddItemToArray(plugins, list_item_json(&entries[i]));
        qf_cli_print_json(root);
    } else {
        print_list(&ctx, entries, count);
    }
    qf_registry_entries_free(entries, count);
    ctx_close(&ctx);
    return code;
}

/* --- info ------------------------------------------------------------ */

static void print_info_help(void)
{
    printf("usage: qf plugins info ID|PATH [--json]\n"
           "\n"
           "Show one plugin as the registry records it: descriptor fields,\n"
           "capabilities, option schema, status and error. ID selects the\n"
           "winning file of that id; PATH selects a file, which also shows\n"
           "files that failed before their id could be read.\n"
           "\n"
           "  --json  print the record as one JSON object\n");
}

/* Find by id, else by path. */
static qf_status find_entry(const plugins_ctx *ctx, const char *key,
                            qf_registry_entry *out, qf_error *err)
{
    qf_registry_entry *entries = NULL;
    size_t count = 0;
    qf_status status = qf_registry_find(ctx->reg, key, out, err);

    if (status != QF_ERR_NOT_FOUND)
        return status;
    if (read_entries(ctx, &entries, &count, err) != QF_OK)
        return err->status;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(entries[i].path, key) == 0 ||
            (entries[i].id != NULL && entries[i].shadowed_by == NULL &&
             strcmp(entries[i].id, key) == 0)) {
            *out = entries[i];
            memset(&entries[i], 0, sizeof(entries[i]));
            status = QF_OK;
            break;
        }
    }
    qf_registry_entries_free(entries, count);
    if (status != QF_OK)
        qf_error_set(err, QF_ERR_NOT_FOUND,
                     "no plugin with id or path \"%s\" in the registry %s; "
                     "run 'qf plugins list' to see what is there",
                     key, ctx->db_path);
    return status;
}

static cJSON *info_json(const qf_registry_entry *e)
{
    cJSON *item = cJSON_CreateObject();

    cJSON_AddItemToObject(item, "id", json_string_or_null(e->id));
    cJSON_AddItemToObject(item, "name", json_string_or_null(e->name));
    cJSON_AddItemToObject(item, "version", json_string_or_null(e->version));
    cJSON_AddItemToObject(item, "kind", json_string_or_null(e->kind));
    cJSON_AddItemToObject(item, "description",
                          json_string_or_null(e->description));
    cJSON_AddItemToObject(item, "abi", json_string_or_null(e->abi));
    cJSON_AddItemToObject(item, "capabilities",
                          json_parse_or_null(e->capabilities));
    cJSON_AddItemToObject(item, "options", json_parse_or_null(e->options));
    cJSON_AddStringToObject(item, "status", e->status);
    cJSON_AddItemToObject(item, "error", json_string_or_null(e->error));
    cJSON_AddStringToObject(item, "path", e->path);
    cJSON_AddStringToObject(item, "dir", e->dir);
    cJSON_AddNumberToObject(item, "size", (double)e->size);
    cJSON_AddItemToObject(item, "sha256", json_string_or_null(e->sha256));
    cJSON_AddItemToObject(item, "shadowed_by",
                          json_string_or_null(e->shadowed_by));
    return item;
}

static void print_options(const char *options_text)
{
    cJSON *options = options_text != NULL ? cJSON_Parse(options_text) : NULL;
    cJSON *o;

    if (cJSON_GetArraySize(options) == 0) {
        printf("options:      none\n");
        cJSON_Delete(options);
        return;
    }
    printf("options:\n");
    cJSON_ArrayForEach(o, options)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
        const char *def =
            cJSON_GetStringValue(cJSON_GetObjectItem(o, "default"));
        const char *text =
            cJSON_GetStringValue(cJSON_GetObjectItem(o, "description"));

        char flags[256];
        snprintf(
            flags, sizeof(flags), "%s%s%s%s",
            cJSON_IsTrue(cJSON_GetObjectItem(o, "required")) ? "required " : "",
            cJSON_IsTrue(cJSON_GetObjectItem(o, "secret")) ? "secret " : "",
            def != NULL ? "default=" : "", def != NULL ? def : "");
        printf("  %-20s %-7s %-24s %s\n", or_dash(name), or_dash(type), flags,
               text != NULL ? text : "");
    }
    cJSON_Delete(options);
}

static void print_info(const qf_registry_entry *e)
{
    cJSON *caps = e->capabilities != NULL ? cJSON_Parse(e->capabilities) : NULL;
    cJSON *cap;

    printf("id:           %s\n", or_dash(e->id));
    printf("name:         %s\n", or_dash(e->name));
    printf("version:      %s\n", or_dash(e->version));
    printf("kind:         %s\n", or_dash(e->kind));
    printf("description:  %s\n", or_dash(e->description));
    printf("abi:          %s\n", or_dash(e->abi));
    printf("capabilities:");
    cJSON_ArrayForEach(cap, caps)
    {
        printf(" %s", or_dash(cJSON_GetStringValue(cap)));
    }
    printf("%s\n", cJSON_GetArraySize(caps) == 0 ? " none" : "");
    cJSON_Delete(caps);
    print_options(e->options);
    printf("status:       %s\n", e->status);
    if (e->error != NULL)
        printf("error:        %s\n", e->error);
    printf("path:         %s\n", e->path);
    printf("size:         %lld bytes\n", (long long)e->size);
    printf("sha256:       %s\n", or_dash(e->sha256));
    if (e->shadowed_by != NULL)
        printf("shadowed by:  %s\n", e->shadowed_by);
}

static int plugins_info(qf_cli *cli, int argc, char **argv)
{
    qf_registry_entry entry = {0};
    plugins_ctx ctx;
    qf_error err;
    int code;

    if (argc != 2)
        return qf_cli_usage_error("plugins info: expected one plugin id or "
                                  "path; run 'qf plugins info --help'");
    code = ctx_open(cli, &ctx);
    if (code != QF_EXIT_OK)
        return code;

    qf_error_init(&err);
    if (find_entry(&ctx, argv[1], &entry, &err) != QF_OK)
        code = qf_cli_fail(cli, &err);
    else if (cli->json)
        qf_cli_print_json(info_json(&entry));
    else
        print_info(&entry);
    qf_registry_entry_clear(&entry);
    ctx_close(&ctx);
    return code;
}

/* --- Dispatch -------------------------------------------------------- */

int qf_cmd_plugins(qf_cli *cli, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(qf_cli *cli, int argc, char **argv);
        void (*help)(void);
    } commands[] = {
        {"scan", plugins_scan, print_scan_help},
        {"list", plugins_list, print_list_help},
        {"info", plugins_info, print_info_help},
        {"new", qf_plugins_new, qf_plugins_new_help},
    };

    argc = qf_cli_take_json_flag(cli, argc, argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_group_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? QF_EXIT_USAGE : QF_EXIT_OK;
    }

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (qf_cli_wants_help(argc - 1, argv + 1)) {
            commands[i].help();
            return QF_EXIT_OK;
        }
        return commands[i].run(cli, argc - 1, argv + 1);
    }
    return qf_cli_usage_error("plugins: unknown command '%s'; run 'qf "
                              "plugins --help'",
                              argv[1]);
}

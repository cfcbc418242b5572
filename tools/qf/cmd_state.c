/*
 * cmd_state.c - `qf state`: the project state store from the command line.
 * Arguments are parsed once into a state_args, checked against the
 * subcommand's allowed options, then one handler runs against the store
 * in --state-dir, $QF_STATE_DIR or the configuration's state_dir.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "qf.h"
#include "state.h"

typedef struct state_args {
    const char *pos[3]; /* positionals after the subcommand */
    int npos;
    const char *name, *author, *description, *owner, *data, *status, *type;
    const char *include, *to, *tags, *state_dir, *responsible, *timebox;
    const char *snapshot;
    int merge, dry_run, force;
} state_args;

typedef struct state_ctx {
    qf_cli *cli;
    state_args *args;
    qf_state *st;
    qf_error err;
} state_ctx;

typedef struct state_cmd {
    const char *name;    /* "tu create" */
    const char *usage;   /* arguments after the name */
    const char *options; /* allowed options, space-separated */
    int npos;            /* positionals required */
    int create;          /* create the store when missing */
    qf_status (*run)(state_ctx *ctx);
    const char *summary;
} state_cmd;

/* --- Output helpers --------------------------------------------------- */

static void print_fields(const cJSON *object)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, object)
    {
        if (cJSON_IsString(item))
            printf("%-12s %s\n", item->string, item->valuestring);
        else if (cJSON_IsNumber(item))
            printf("%-12s %.0f\n", item->string, item->valuedouble);
        else
            printf("%-12s -\n", item->string);
    }
}

static const char *field(const cJSON *object, const char *key)
{
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(object, key));

    return text ? text : "";
}

/* Print a value as JSON with --json, else with `human`; frees it. */
static qf_status show(state_ctx *ctx, cJSON *value,
                      void (*human)(const cJSON *value))
{
    if (ctx->cli->json)
        qf_cli_print_json(value);
    else {
        human(value);
        cJSON_Delete(value);
    }
    return QF_OK;
}

static void print_tu_rows(const cJSON *list)
{
    const cJSON *tu;

    cJSON_ArrayForEach(tu, list)
        printf("%-22s %-13s %s\n", field(tu, "id"), field(tu, "status"),
               field(tu, "owner"));
}

static void print_snapshot_rows(const cJSON *list)
{
    const cJSON *snap;

    cJSON_ArrayForEach(snap, list)
        printf("%-24s %s  %s\n", field(snap, "id"), field(snap, "created"),
               field(snap, "description"));
}

static void print_artifact_rows(const cJSON *list)
{
    const cJSON *art;

    cJSON_ArrayForEach(art, list)
        printf("%-24s %-12s %s\n", field(art, "id"), field(art, "type"),
               field(art, "modified"));
}

static void print_strings(const cJSON *list)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, list) printf("%s\n", item->valuestring);
}

/* Print a one-line confirmation, or {"ok": true, key: value} with --json. */
static qf_status done(state_ctx *ctx, const char *key, const char *value,
                      const char *message)
{
    if (ctx->cli->json) {
        cJSON *out = cJSON_CreateObject();

        cJSON_AddBoolToObject(out, "ok", 1);
        cJSON_AddStringToObject(out, key, value);
        qf_cli_print_json(out);
    } else {
        printf("%s\n", message);
    }
    return QF_OK;
}

/* --- Handlers --------------------------------------------------------- */

static qf_status run_init(state_ctx *ctx)
{
    const state_args *a = ctx->args;
    char cwd[4096], message[4200];
    const char *name = a->name;
    qf_status status;

    if (!name) {
        name = getcwd(cwd, sizeof(cwd)) ? strrchr(cwd, '/') + 1 : "project";
        if (!*name)
            name = "project";
    }
    status = qf_state_project_create(ctx->st, name, a->author, a->description,
                                     a->force, &ctx->err);
    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message),
             "initialised project '%s' in %s (schema %s)", name,
             qf_state_db_path(ctx->st), qf_state_schema_version(ctx->st));
    return done(ctx, "path", qf_state_db_path(ctx->st), message);
}

static void print_info(const cJSON *info)
{
    const cJSON *project = cJSON_GetObjectItem(info, "project");

    printf("path         %s\n", field(info, "path"));
    printf("schema       %s (this qf supports up to %s)\n",
           field(info, "schema_version"), field(info, "schema_newest"));
    if (cJSON_IsObject(project))
        print_fields(project);
    else
        printf("project      (none; run 'qf state init --name NAME')\n");
    printf(
        "trace_units  %d\nsnapshots    %d\nartifacts    %d\nhistory      %d\n",
        cJSON_GetObjectItem(info, "trace_units")->valueint,
        cJSON_GetObjectItem(info, "snapshots")->valueint,
        cJSON_GetObjectItem(info, "artifacts")->valueint,
        cJSON_GetObjectItem(info, "history")->valueint);
}

static qf_status run_info(state_ctx *ctx)
{
    cJSON *info = NULL;
    qf_status status = qf_state_info(ctx->st, &info, &ctx->err);

    return status == QF_OK ? show(ctx, info, print_info) : status;
}

static qf_status run_tu_create(state_ctx *ctx)
{
    const state_args *a = ctx->args;
    const char *id = a->pos[0];
    qf_state_tu_fields fields = {.owner = a->owner,
                                 .responsible = a->responsible,
                                 .timebox = a->timebox,
                                 .data = a->data,
                                 .snapshot = a->snapshot};
    char message[128];
    qf_status status = qf_state_tu_create_with(ctx->st, id, &fields, &ctx->err);

    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message), "created %s (hot-proposed)", id);
    return done(ctx, "id", id, message);
}

static qf_status run_tu_show(state_ctx *ctx)
{
    cJSON *tu = NULL;
    qf_status status =
        qf_state_tu_get(ctx->st, ctx->args->pos[0], &tu, &ctx->err);

    return status == QF_OK ? show(ctx, tu, print_fields) : status;
}

static qf_status run_tu_list(state_ctx *ctx)
{
    cJSON *list = NULL;
    qf_status status =
        qf_state_tu_list(ctx->st, ctx->args->status, &list, &ctx->err);

    return status == QF_OK ? show(ctx, list, print_tu_rows) : status;
}

static qf_status run_tu_move(state_ctx *ctx)
{
    const char *id = ctx->args->pos[0], *to = ctx->args->pos[1];
    char message[128];
    qf_status status = qf_state_tu_move(ctx->st, id, to, &ctx->err);

    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message), "%s is now %s", id, to);
    return done(ctx, "status", to, message);
}

static qf_status run_snapshot_create(state_ctx *ctx)
{
    const char *id = ctx->args->pos[0];
    char message[200];
    qf_status status = qf_state_snapshot_create(
        ctx->st, id, ctx->args->description, &ctx->err);

    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message), "created snapshot %s", id);
    return done(ctx, "id", id, message);
}

static qf_status run_snapshot_list(state_ctx *ctx)
{
    cJSON *list = NULL;
    qf_status status = qf_state_snapshot_list(ctx->st, &list, &ctx->err);

    return status == QF_OK ? show(ctx, list, print_snapshot_rows) : status;
}

static qf_status run_artifact_put(state_ctx *ctx)
{
    const state_args *a = ctx->args;
    char message[256];
    qf_status status;

    if (!a->type || !a->data)
        return qf_error_set(&ctx->err, QF_ERR_INVALID,
                            "artifact put needs --type T and --data JSON");
    status = qf_state_artifact_put(ctx->st, a->pos[0], a->type, a->data,
                                   a->tags, &ctx->err);
    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message), "stored artifact %s (%s)", a->pos[0],
             a->type);
    return done(ctx, "id", a->pos[0], message);
}

static qf_status run_artifact_get(state_ctx *ctx)
{
    cJSON *art = NULL;
    qf_status status =
        qf_state_artifact_get(ctx->st, ctx->args->pos[0], &art, &ctx->err);

    return status == QF_OK ? show(ctx, art, print_fields) : status;
}

static qf_status run_artifact_list(state_ctx *ctx)
{
    cJSON *list = NULL;
    qf_status status =
        qf_state_artifact_list(ctx->st, ctx->args->type, &list, &ctx->err);

    return status == QF_OK ? show(ctx, list, print_artifact_rows) : status;
}

static qf_status run_export(state_ctx *ctx)
{
    const char *path = ctx->args->pos[0];
    unsigned include = QF_STATE_INCLUDE_ALL;
    char message[4200];
    qf_status status = QF_OK;

    if (ctx->args->include)
        status =
            qf_state_include_parse(ctx->args->include, &include, &ctx->err);
    if (status == QF_OK)
        status = qf_state_export_file(ctx->st, include, path, &ctx->err);
    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message), "exported %s to %s",
             qf_state_db_path(ctx->st), path);
    return done(ctx, "path", path, message);
}

static qf_status report_import(state_ctx *ctx, qf_state_import_report *rep)
{
    if (ctx->cli->json) {
        cJSON *out = cJSON_CreateObject();

        cJSON_AddNumberToObject(out, "added", (double)rep->added);
        cJSON_AddNumberToObject(out, "skipped_count",
                                (double)rep->skipped_count);
        cJSON_AddItemToObject(out, "skipped", rep->skipped);
        qf_cli_print_json(out);
        return QF_OK;
    }
    printf("imported %s: %zu added, %zu skipped\n", ctx->args->pos[0],
           rep->added, rep->skipped_count);
    print_strings(rep->skipped);
    cJSON_Delete(rep->skipped);
    return QF_OK;
}

static qf_status run_import(state_ctx *ctx)
{
    qf_state_import_report report;
    qf_status status = qf_state_import_file(
        ctx->st, ctx->args->pos[0], ctx->args->merge, &report, &ctx->err);

    return status == QF_OK ? report_import(ctx, &report) : status;
}

static void print_migration(state_ctx *ctx, cJSON *steps, const char *from,
                            const char *backup)
{
    if (ctx->cli->json) {
        cJSON *out = cJSON_CreateObject();

        cJSON_AddStringToObject(out, "from", from);
        cJSON_AddStringToObject(out, "to", ctx->args->to);
        cJSON_AddBoolToObject(out, "dry_run", ctx->args->dry_run);
        cJSON_AddItemToObject(out, "steps", steps);
        if (backup)
            cJSON_AddStringToObject(out, "backup", backup);
        qf_cli_print_json(out);
        return;
    }
    if (cJSON_GetArraySize(steps) == 0)
        printf("schema is already %s; nothing to do\n", from);
    else
        printf("%s %s to %s:\n",
               ctx->args->dry_run ? "would migrate" : "migrated", from,
               ctx->args->to);
    print_strings(steps);
    if (backup)
        printf("backup: %s\n", backup);
    cJSON_Delete(steps);
}

static qf_status run_migrate(state_ctx *ctx)
{
    char from[32], *backup = NULL;
    cJSON *steps = NULL;
    qf_status status;

    if (!ctx->args->to)
        return qf_error_set(&ctx->err, QF_ERR_INVALID,
                            "migrate needs --to VERSION, e.g. --to %s",
                            qf_state_schema_newest());
    snprintf(from, sizeof(from), "%s", qf_state_schema_version(ctx->st));
    status = qf_state_migrate(ctx->st, ctx->args->to, ctx->args->dry_run,
                              &steps, &backup, &ctx->err);
    if (status == QF_OK)
        print_migration(ctx, steps, from, backup);
    else
        cJSON_Delete(steps);
    free(backup);
    return status;
}

static qf_status run_backup(state_ctx *ctx)
{
    char *path = NULL, message[4200];
    qf_status status = qf_state_backup(ctx->st, &path, &ctx->err);

    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message),
             "backup written to %s (checksum in "
             "%s.sha256)",
             path, path);
    status = done(ctx, "path", path, message);
    free(path);
    return status;
}

static qf_status run_restore(state_ctx *ctx)
{
    char message[4200];
    qf_status status = qf_state_restore(ctx->st, ctx->args->pos[0], &ctx->err);

    if (status != QF_OK)
        return status;
    snprintf(message, sizeof(message), "restored %s (schema %s)",
             ctx->args->pos[0], qf_state_schema_version(ctx->st));
    return done(ctx, "path", ctx->args->pos[0], message);
}

static const state_cmd commands[] = {
    {"init", "[--name N] [--author A] [--description D] [--force]",
     "--name --author --description --force", 0, 1, run_init,
     "create the store and its project (--force replaces a project)"},
    {"info", "", "", 0, 0, run_info, "show the project, schema and counts"},
    {"tu create",
     "ID [--owner O] [--responsible R] [--timebox T] [--data JSON] "
     "[--snapshot S]",
     "--owner --responsible --timebox --data --snapshot", 1, 0, run_tu_create,
     "create a trace unit (status hot-proposed)"},
    {"tu show", "ID", "", 1, 0, run_tu_show, "show one trace unit"},
    {"tu list", "[--status S]", "--status", 0, 0, run_tu_list,
     "list trace units, optionally of one status"},
    {"tu move", "ID STATUS", "", 2, 0, run_tu_move,
     "move a trace unit to its next lifecycle status"},
    {"snapshot create", "ID [--description D]", "--description", 1, 0,
     run_snapshot_create, "freeze the trace units and artifacts"},
    {"snapshot list", "", "", 0, 0, run_snapshot_list, "list snapshots"},
    {"artifact put", "ID --type T --data JSON [--tags JSON]",
     "--type --data --tags", 1, 0, run_artifact_put,
     "insert or replace an artifact"},
    {"artifact get", "ID", "", 1, 0, run_artifact_get, "show one artifact"},
    {"artifact list", "[--type T]", "--type", 0, 0, run_artifact_list,
     "list artifacts, optionally of one type"},
    {"export", "FILE [--include project,tus,snapshots,artifacts,history]",
     "--include", 1, 0, run_export, "write the store to a YAML file"},
    {"import", "FILE [--merge]", "--merge", 1, 0, run_import,
     "replace the sections in FILE, or add what is missing with --merge"},
    {"migrate", "--to VERSION [--dry-run]", "--to --dry-run", 0, 0, run_migrate,
     "change the schema version, taking a backup first"},
    {"backup", "", "", 0, 0, run_backup, "copy the store to backups/"},
    {"restore", "FILE", "", 1, 0, run_restore,
     "verify a backup's checksum and copy it over the store"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* --- Parsing ---------------------------------------------------------- */

static void print_group_help(FILE *out)
{
    fprintf(out, "usage: qf state [--state-dir DIR] COMMAND [ARGS] [--json]\n\n"
                 "The store is DIR/state.db; DIR defaults to $QF_STATE_DIR, "
                 "else state_dir\nof the configuration.\n\nCommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'qf state COMMAND --help' for its arguments.\n"
                 "Exit status: 0 success, 1 failure, 2 usage or invalid "
                 "input.\n");
}

static void print_command_help(const state_cmd *cmd)
{
    printf("usage: qf state %s %s\n\n%s.\n", cmd->name, cmd->usage,
           cmd->summary);
    printf("Options: --state-dir DIR (folder of state.db), --json "
           "(machine-readable output).\n");
}

static int option_allowed(const state_cmd *cmd, const char *option)
{
    size_t len = strlen(option);
    const char *p = cmd->options;

    while ((p = strstr(p, option)) != NULL) {
        if (p[len] == ' ' || p[len] == '\0')
            return 1;
        p += len;
    }
    return strcmp(option, "--state-dir") == 0;
}

/* Slot of a value option in state_args, or NULL for flags and unknowns. */
static const char **value_slot(state_args *a, const char *option)
{
    static const struct {
        const char *name;
        size_t offset;
    } slots[] = {
        {"--name", offsetof(state_args, name)},
        {"--author", offsetof(state_args, author)},
        {"--description", offsetof(state_args, description)},
        {"--owner", offsetof(state_args, owner)},
        {"--data", offsetof(state_args, data)},
        {"--status", offsetof(state_args, status)},
        {"--type", offsetof(state_args, type)},
        {"--include", offsetof(state_args, include)},
        {"--to", offsetof(state_args, to)},
        {"--tags", offsetof(state_args, tags)},
        {"--state-dir", offsetof(state_args, state_dir)},
        {"--responsible", offsetof(state_args, responsible)},
        {"--timebox", offsetof(state_args, timebox)},
        {"--snapshot", offsetof(state_args, snapshot)},
    };

    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        if (strcmp(slots[i].name, option) == 0)
            return (const char **)((char *)a + slots[i].offset);
    }
    return NULL;
}

/* Split "--name=value" into its name and value (NULL without '='). */
static void split_option(const char *arg, char name[32], const char **value)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

    snprintf(name, 32, "%.*s", (int)(len < 31 ? len : 31), arg);
    *value = eq ? eq + 1 : NULL;
}

/* Take one option at argv[*i]; returns 0 or a usage exit code. */
static int take_option(state_args *a, int argc, char **argv, int *i)
{
    char option[32];
    const char *value;
    const char **slot;

    split_option(argv[*i], option, &value);
    slot = value_slot(a, option);
    if (strcmp(option, "--merge") == 0 && !value)
        a->merge = 1;
    else if (strcmp(option, "--dry-run") == 0 && !value)
        a->dry_run = 1;
    else if (strcmp(option, "--force") == 0 && !value)
        a->force = 1;
    else if (!slot)
        return qf_cli_usage_error("state: unknown option '%s'", argv[*i]);
    else if (value)
        *slot = value;
    else if (*i + 1 >= argc)
        return qf_cli_usage_error("state: option %s needs a value", option);
    else
        *slot = argv[++*i];
    return 0;
}

/* Find the subcommand from the first one or two words. */
static const state_cmd *find_command(int argc, char **argv, int *used)
{
    char name[64];

    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (argc > 1)
            snprintf(name, sizeof(name), "%s %s", argv[0], argv[1]);
        if (argc > 1 && strcmp(commands[i].name, name) == 0) {
            *used = 2;
            return &commands[i];
        }
        if (strcmp(commands[i].name, argv[0]) == 0) {
            *used = 1;
            return &commands[i];
        }
    }
    return NULL;
}

/* Split argv into words and options; find the command in the words. */
static int parse(int argc, char **argv, state_args *a, const state_cmd **cmd)
{
    char *words[8];
    int nwords = 0, used = 0, code;

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i], "--") != 0) {
            code = take_option(a, argc, argv, &i);
            if (code)
                return code;
        } else if (nwords < 8) {
            words[nwords++] = argv[i];
        } else {
            return qf_cli_usage_error("state: too many arguments");
        }
    }
    *cmd = nwords ? find_command(nwords, words, &used) : NULL;
    if (!*cmd)
        return qf_cli_usage_error("state: unknown command '%s'; run 'qf state "
                                  "--help' for the list",
                                  nwords ? words[0] : "");
    for (int i = used; i < nwords; i++)
        a->pos[a->npos < 3 ? a->npos++ : 2] = words[i];
    if (nwords - used != (*cmd)->npos)
        return qf_cli_usage_error("state %s: expected %s", (*cmd)->name,
                                  (*cmd)->usage[0] ? (*cmd)->usage
                                                   : "no arguments");
    return 0;
}

/* Re-check options against the command now that it is known. */
static int check_options(const state_cmd *cmd, int argc, char **argv)
{
    char option[32];
    const char *value;

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i], "--") == 0)
            continue;
        split_option(argv[i], option, &value);
        if (!option_allowed(cmd, option))
            return qf_cli_usage_error("state %s: unknown option '%s'; run 'qf "
                                      "state %s --help'",
                                      cmd->name, option, cmd->name);
        if (!value && strcmp(option, "--merge") != 0 &&
            strcmp(option, "--dry-run") != 0 && strcmp(option, "--force") != 0)
            i++;
    }
    return 0;
}

/* The state folder: --state-dir, $QF_STATE_DIR, then the configuration. */
static int resolve_dir(qf_cli *cli, const state_args *a, char **out)
{
    const char *env = getenv("QF_STATE_DIR");
    qf_config *cfg = NULL;
    qf_error err;
    int code;

    if (a->state_dir || (env && *env)) {
        *out = strdup(a->state_dir ? a->state_dir : env);
        return QF_EXIT_OK;
    }
    code = qf_cli_load_config(cli, &cfg);
    if (code != QF_EXIT_OK)
        return code;
    qf_error_init(&err);
    if (qf_config_state_dir(cfg, out, &err) != QF_OK)
        code = qf_cli_fail(cli, &err);
    qf_config_free(cfg);
    return code;
}

int qf_cmd_state(qf_cli *cli, int argc, char **argv)
{
    state_args args = {0};
    const state_cmd *cmd = NULL;
    state_ctx ctx = {cli, &args, NULL, {0}};
    char *dir = NULL;
    int code;

    argc = qf_cli_take_json_flag(cli, argc, argv);
    if (argc < 2 || (qf_cli_wants_help(argc, argv) &&
                     !find_command(argc - 1, argv + 1, &code))) {
        print_group_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? QF_EXIT_USAGE : QF_EXIT_OK;
    }
    if (qf_cli_wants_help(argc, argv)) {
        print_command_help(find_command(argc - 1, argv + 1, &code));
        return QF_EXIT_OK;
    }
    code = parse(argc, argv, &args, &cmd);
    if (!code)
        code = check_options(cmd, argc, argv);
    if (!code)
        code = resolve_dir(cli, &args, &dir);
    if (code)
        return code;

    qf_error_init(&ctx.err);
    if (qf_state_open(dir, cmd->create, &ctx.st, &ctx.err) == QF_OK &&
        cmd->run(&ctx) == QF_OK)
        code = QF_EXIT_OK;
    else
        code = qf_cli_fail(cli, &ctx.err);
    qf_state_close(ctx.st);
    free(dir);
    return code;
}

/*
 * cmd_cache.c - `qf cache stats|prune|clear`: open the cache backend the
 * configuration uses (top-level `cache:`, or one role's cache entry with
 * --role) through the runtime, as the cache middleware would, and run one
 * backend operation on it.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "qf.h"

static void print_group_help(FILE *out)
{
    fprintf(out,
            "usage: qf cache COMMAND [--role ROLE] [--json]\n"
            "\n"
            "Commands:\n"
            "  stats   entries, bytes, hits, misses, evictions and "
            "expirations\n"
            "  prune   remove expired entries\n"
            "  clear   remove every entry\n"
            "\n"
            "Options:\n"
            "  --role ROLE  use the cache settings of ROLE's chain instead of "
            "the\n"
            "               top-level cache: settings (their `dir` may "
            "differ)\n"
            "  --json       print one JSON object\n");
}

/* The cache settings to open: ROLE's cache entry (owned by *plan, which
 * the caller frees), or top-level cache: (may be NULL). */
static qf_status cache_settings(qf_runtime *rt, const char *role,
                                const qf_cnode **out, qf_role_plan **plan,
                                qf_error *err)
{
    const qf_config *cfg = qf_runtime_config(rt);
    qf_status st;

    *plan = NULL;
    if (role == NULL) {
        *out = qf_cnode_get(qf_config_root(cfg), "cache");
        return QF_OK;
    }
    st = qf_config_resolve_role(cfg, role, NULL, plan, err);
    if (st != QF_OK)
        return st;
    for (size_t i = 0; i < (*plan)->chain_len; i++) {
        if (strcmp((*plan)->chain[i].plugin_id, "cache") == 0) {
            *out = (*plan)->chain[i].settings;
            return QF_OK;
        }
    }
    return qf_error_set(err, QF_ERR_NOT_FOUND,
                        "role %s has no cache in its chain; enable cache: in "
                        "its provider or role block, or omit --role",
                        role);
}

/* The backend id named by `settings`, "file_cache" by default; malloc'd. */
static qf_status backend_id(const qf_cnode *settings, char **out, qf_error *err)
{
    const qf_cnode *node = qf_cnode_get(settings, "backend");

    if (node == NULL || qf_cnode_type_of(node) != QF_CNODE_SCALAR) {
        *out = strdup("file_cache");
        return *out ? QF_OK : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    return qf_cnode_string(node, out, err);
}

static void print_stats(const qf_cli *cli, const char *backend,
                        const qf_cache_stats *s)
{
    if (cli->json) {
        cJSON *obj = cJSON_CreateObject();

        cJSON_AddStringToObject(obj, "backend", backend);
        cJSON_AddNumberToObject(obj, "entries", (double)s->entries);
        cJSON_AddNumberToObject(obj, "bytes", (double)s->bytes);
        cJSON_AddNumberToObject(obj, "hits", (double)s->hits);
        cJSON_AddNumberToObject(obj, "misses", (double)s->misses);
        cJSON_AddNumberToObject(obj, "evictions", (double)s->evictions);
        cJSON_AddNumberToObject(obj, "expirations", (double)s->expirations);
        qf_cli_print_json(obj);
        return;
    }
    printf("backend      %s\n", backend);
    printf("entries      %lld\n", (long long)s->entries);
    printf("bytes        %lld\n", (long long)s->bytes);
    printf("hits         %lld\n", (long long)s->hits);
    printf("misses       %lld\n", (long long)s->misses);
    printf("evictions    %lld\n", (long long)s->evictions);
    printf("expirations  %lld\n", (long long)s->expirations);
}

static void print_count(const qf_cli *cli, const char *backend,
                        const char *field, const char *verb, int64_t n)
{
    if (cli->json) {
        cJSON *obj = cJSON_CreateObject();

        cJSON_AddStringToObject(obj, "backend", backend);
        cJSON_AddNumberToObject(obj, field, (double)n);
        qf_cli_print_json(obj);
        return;
    }
    printf("%s %lld %s\n", verb, (long long)n, n == 1 ? "entry" : "entries");
}

/* Run `command` on the opened backend. */
static qf_status run_command(const qf_cli *cli, const char *command,
                             const char *backend,
                             const qf_cache_backend_vtable *vt, void *inst,
                             qf_error *err)
{
    qf_cache_stats stats;
    int64_t n = 0;
    qf_status st;

    if (strcmp(command, "stats") == 0) {
        memset(&stats, 0, sizeof(stats));
        stats.size = sizeof(stats);
        st = vt->stats(inst, &stats, err);
        if (st == QF_OK)
            print_stats(cli, backend, &stats);
    } else if (strcmp(command, "prune") == 0) {
        st = vt->prune(inst, &n, err);
        if (st == QF_OK)
            print_count(cli, backend, "pruned", "pruned", n);
    } else {
        st = vt->clear(inst, &n, err);
        if (st == QF_OK)
            print_count(cli, backend, "removed", "removed", n);
    }
    return st;
}

static qf_status open_and_run(qf_cli *cli, qf_runtime *rt, const char *command,
                              const char *role, qf_error *err)
{
    const qf_cnode *settings = NULL;
    qf_role_plan *plan = NULL;
    char *backend = NULL;
    const void *vt = NULL;
    void *inst = NULL;
    qf_status st;

    st = cache_settings(rt, role, &settings, &plan, err);
    if (st == QF_OK)
        st = backend_id(settings, &backend, err);
    if (st == QF_OK)
        st = qf_runtime_open_instance(rt, QF_KIND_CACHE_BACKEND, backend,
                                      settings, "cache", &vt, &inst, err);
    if (st == QF_OK)
        st = run_command(cli, command, backend, vt, inst, err);

    free(backend);
    qf_role_plan_free(plan);
    return st;
}

int qf_cmd_cache(qf_cli *cli, int argc, char **argv)
{
    const char *command = NULL;
    const char *role = NULL;
    qf_runtime *rt = NULL;
    qf_error err;
    int code;

    argc = qf_cli_take_json_flag(cli, argc, argv);
    if (qf_cli_wants_help(argc, argv)) {
        print_group_help(stdout);
        return QF_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (strncmp(argv[i], "--role=", 7) == 0)
            role = argv[i] + 7;
        else if (command == NULL && argv[i][0] != '-')
            command = argv[i];
        else
            return qf_cli_usage_error("cache: unexpected argument '%s'",
                                      argv[i]);
    }
    if (command == NULL ||
        (strcmp(command, "stats") != 0 && strcmp(command, "prune") != 0 &&
         strcmp(command, "clear") != 0))
        return qf_cli_usage_error("cache: expected stats, prune or clear%s%s",
                                  command ? ", not " : "",
                                  command ? command : "");

    code = qf_cli_open_runtime(cli, &rt);
    if (code != QF_EXIT_OK)
        return code;
    qf_error_init(&err);
    code = open_and_run(cli, rt, command, role, &err) == QF_OK
               ? QF_EXIT_OK
               : qf_cli_fail(cli, &err);
    qf_runtime_close(rt);
    return code;
}

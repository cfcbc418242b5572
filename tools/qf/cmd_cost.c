/*
 * cmd_cost.c - `qf cost report` and `qf limits show`. The report reads the
 * cost ledger (<state_dir>/ledger.db) through core/ledger.h. The limits
 * view resolves every role, collects the distinct rate_limit scopes of
 * their chains, and reads each scope's row of <state_dir>/limits.db
 * directly, applying the bucket refill and budget periods at the present
 * time. Neither command loads a plugin.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "ledger.h"
#include "qf.h"

/* --- Shared helpers --------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_utc(int64_t ms, char *out, size_t len)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&seconds, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Parse YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS (UTC, with an
 * optional Z) into milliseconds since the epoch. */
static int parse_date(const char *text, int64_t *out)
{
    struct tm tm = {0};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    int used = 0;
    size_t len = strlen(text);

    if (sscanf(text, "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3)
        return -1;
    if ((size_t)used < len &&
        sscanf(text + used, "T%2d:%2d%n", &hour, &minute, &used) == 2) {
        const char *rest = strchr(text, 'T') + 6;

        if (*rest == ':' && sscanf(rest, ":%2d", &second) == 1)
            rest += 3;
        if (*rest == 'Z')
            rest++;
        if (*rest != '\0')
            return -1;
    } else if ((size_t)used != len) {
        return -1;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
        minute > 59 || second > 60)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    *out = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static char *state_dir_of(const qf_cli *cli, qf_config **cfg, int *exit_code)
{
    char *dir = NULL;
    qf_error err;

    *exit_code = qf_cli_load_config(cli, cfg);
    if (*exit_code != QF_EXIT_OK)
        return NULL;
    qf_error_init(&err);
    if (qf_config_state_dir(*cfg, &dir, &err) != QF_OK) {
        *exit_code = qf_cli_fail(cli, &err);
        return NULL;
    }
    return dir;
}

/* --- qf cost report --------------------------------------------------- */

typedef struct report_options {
    qf_ledger_group group;
    int64_t since_ms;
    int64_t until_ms;
} report_options;

static void print_cost_help(FILE *out)
{
    fprintf(out,
            "usage: qf cost report [--by provider|model|role|day|month]\n"
            "                      [--since DATE] [--until DATE] [--json]\n"
            "\n"
            "Totals of the cost ledger (<state_dir>/ledger.db): calls, input, "
            "cached\n"
            "and output tokens, images, cache hits, unpriced calls and cost "
            "in US\n"
            "dollars, one row per group.\n"
            "\n"
            "  --by GROUP    provider (default), model, role, day or month "
            "(UTC)\n"
            "  --since DATE  first instant counted: YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM[:SS]Z, UTC\n"
            "  --until DATE  first instant no longer counted (exclusive)\n"
            "  --json        print one JSON object\n");
}

static int parse_report_args(int argc, char **argv, report_options *opt)
{
    opt->group = QF_LEDGER_BY_PROVIDER;
    opt->since_ms = INT64_MIN;
    opt->until_ms = INT64_MAX;

    for (int i = 2; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int group;

        if (value == NULL)
            return qf_cli_usage_error("option '%s' needs a value", argv[i]);
        if (strcmp(argv[i], "--by") == 0) {
            group = qf_ledger_group_parse(value);
            if (group < 0)
                return qf_cli_usage_error("invalid --by '%s'; expected "
                                          "provider, model, role, day or "
                                          "month",
                                          value);
            opt->group = (qf_ledger_group)group;
        } else if (strcmp(argv[i], "--since") == 0 ||
                   strcmp(argv[i], "--until") == 0) {
            int64_t *target =
                argv[i][2] == 's' ? &opt->since_ms : &opt->until_ms;

            if (parse_date(value, target) != 0)
                return qf_cli_usage_error("invalid %s '%s'; expected "
                                          "YYYY-MM-DD or "
                                          "YYYY-MM-DDTHH:MM:SSZ in UTC",
                                          argv[i], value);
        } else {
            return qf_cli_usage_error("unknown option '%s' for 'qf cost "
                                      "report'",
                                      argv[i]);
        }
        i++;
    }
    return QF_EXIT_OK;
}

static cJSON *total_json(const qf_ledger_total *t, const char *key_name)
{
    cJSON *row = cJSON_CreateObject();

    if (key_name != NULL)
        cJSON_AddStringToObject(row, key_name, t->key);
    cJSON_AddNumberToObject(row, "calls", (double)t->calls);
    cJSON_AddNumberToObject(row, "input_tokens", (double)t->input_tokens);
    cJSON_AddNumberToObject(row, "cached_tokens", (double)t->cached_tokens);
    cJSON_AddNumberToObject(row, "output_tokens", (double)t->output_tokens);
    cJSON_AddNumberToObject(row, "images", (double)t->images);
    cJSON_AddNumberToObject(row, "cache_hits", (double)t->cache_hits);
    cJSON_AddNumberToObject(row, "estimated_calls", (double)t->estimated_calls);
    cJSON_AddNumberToObject(row, "unpriced_calls", (double)t->unpriced_calls);
    cJSON_AddNumberToObject(row, "failed_calls", (double)t->failed_calls);
    cJSON_AddNumberToObject(row, "cost_usd", t->cost_usd);
    return row;
}

static void add_bound(cJSON *obj, const char *name, int64_t ms, int64_t open)
{
    char text[32];

    if (ms == open) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    format_utc(ms, text, sizeof(text));
    cJSON_AddStringToObject(obj, name, text);
}

static void print_report_json(const report_options *opt,
                              const qf_ledger_total *rows, size_t n,
                              const qf_ledger_total *sum)
{
    cJSON *obj = cJSON_CreateObject();
    const char *by = qf_ledger_group_name(opt->group);
    cJSON *list;

    cJSON_AddStringToObject(obj, "by", by);
    add_bound(obj, "since", opt->since_ms, INT64_MIN);
    add_bound(obj, "until", opt->until_ms, INT64_MAX);
    list = cJSON_AddArrayToObject(obj, "rows");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(list, total_json(&rows[i], by));
    cJSON_AddItemToObject(obj, "total", total_json(sum, NULL));
    qf_cli_print_json(obj);
}

static void print_report_line(const char *key, const qf_ledger_total *t)
{
    printf("%-24s %7lld %11lld %11lld %11lld %6lld %6lld %8lld %12.6f\n", key,
           (long long)t->calls, (long long)t->input_tokens,
           (long long)t->cached_tokens, (long long)t->output_tokens,
           (long long)t->images, (long long)t->cache_hits,
           (long long)t->unpriced_calls, t->cost_usd);
}

static void print_report_table(const report_options *opt,
                               const qf_ledger_total *rows, size_t n,
                               const qf_ledger_total *sum)
{
    char upper[16];
    const char *by = qf_ledger_group_name(opt->group);
    size_t i;

    for (i = 0; by[i] != '\0' && i + 1 < sizeof(upper); i++)
        upper[i] = (char)(by[i] - 'a' + 'A');
    upper[i] = '\0';
    printf("%-24s %7s %11s %11s %11s %6s %6s %8s %12s\n", upper, "CALLS",
           "INPUT", "CACHED", "OUTPUT", "IMAGES", "HITS", "UNPRICED",
           "COST_USD");
    for (i = 0; i < n; i++)
        print_report_line(rows[i].key[0] ? rows[i].key : "-", &rows[i]);
    print_report_line("TOTAL", sum);
}

static int run_report(qf_cli *cli, const report_options *opt)
{
    qf_config *cfg = NULL;
    qf_ledger *ledger = NULL;
    qf_ledger_total *rows = NULL, sum = {0};
    size_t n = 0;
    qf_error err;
    int code;
    char *dir = state_dir_of(cli, &cfg, &code);

    qf_error_init(&err);
    if (dir == NULL)
        goto out;
    if (qf_ledger_open(dir, &ledger, &err) != QF_OK ||
        qf_ledger_report(ledger, opt->group, opt->since_ms, opt->until_ms,
                         &rows, &n, &err) != QF_OK) {
        code = qf_cli_fail(cli, &err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sum.calls += rows[i].calls;
        sum.input_tokens += rows[i].input_tokens;
        sum.cached_tokens += rows[i].cached_tokens;
        sum.output_tokens += rows[i].output_tokens;
        sum.images += rows[i].images;
        sum.cost_usd += rows[i].cost_usd;
        sum.cache_hits += rows[i].cache_hits;
        sum.estimated_calls += rows[i].estimated_calls;
        sum.unpriced_calls += rows[i].unpriced_calls;
        sum.failed_calls += rows[i].failed_calls;
    }
    if (cli->json)
        print_report_json(opt, rows, n, &sum);
    else
        print_report_table(opt, rows, n, &sum);
    code = QF_EXIT_OK;
out:
    qf_ledger_totals_free(rows, n);
    qf_ledger_close(ledger);
    free(dir);
    qf_config_free(cfg);
    return code;
}

int qf_cmd_cost(qf_cli *cli, int argc, char **argv)
{
    report_options opt;
    int code;

    if (qf_cli_wants_help(argc, argv)) {
        print_cost_help(stdout);
        return QF_EXIT_OK;
    }
    argc = qf_cli_take_json_flag(cli, argc, argv);
    if (argc < 2 || strcmp(argv[1], "report") != 0) {
        print_cost_help(stderr);
        return QF_EXIT_USAGE;
    }
    code = parse_report_args(argc, argv, &opt);
    if (code != QF_EXIT_OK)
        return code;
    return run_report(cli, &opt);
}

/* --- qf limits show --------------------------------------------------- */

#define MS_PER_DAY 86400000LL

/* One rate_limit scope of the configuration and its stored state. */
typedef struct limit_scope {
    char key[160]; /* "provider:openai", the row key of limits.db */
    char scope[16];
    char id[140];
    double values[4]; /* requests, tokens, cost day, cost month; < 0 absent */
    int offset_minutes;
    int memory_store;
    int has_row;
    int64_t levels[2], updated[2];
    int64_t period_start[2];
    double spent[2];
} limit_scope;

static const char *const limit_names[4] = {
    "requests_per_minute", "tokens_per_hour", "cost_per_day", "cost_per_month"};

static const int64_t bucket_periods[2] = {60000, 3600000};

static void print_limits_help(FILE *out)
{
    fprintf(
        out,
        "usage: qf limits show [--json]\n"
        "\n"
        "Every rate limit and budget the configuration's roles use: its "
        "scope, its\n"
        "configured value, the amount used and remaining now, and when it "
        "is full\n"
        "again (buckets) or resets (budgets, at their utc_offset). State "
        "comes from\n"
        "<state_dir>/limits.db; limits with store: memory show no usage.\n");
}

static int offset_of(const qf_cnode *settings)
{
    const qf_cnode *node = qf_cnode_get(settings, "utc_offset");
    char *text = NULL;
    int hours = 0, minutes = 0, sign;
    qf_error err;

    qf_error_init(&err);
    if (node == NULL || qf_cnode_string(node, &text, &err) != QF_OK)
        return 0;
    sign = text[0] == '-' ? -1 : 1;
    if (text[0] == '+' || text[0] == '-')
        sscanf(text + 1, "%2d:%2d", &hours, &minutes);
    free(text);
    return sign * (hours * 60 + minutes);
}

static void scope_from_entry(const qf_chain_entry *entry, limit_scope *out)
{
    const qf_cnode *s = entry->settings;
    const qf_cnode *scope = qf_cnode_get(s, "scope");
    const qf_cnode *id = qf_cnode_get(s, "scope_id");
    const qf_cnode *store = qf_cnode_get(s, "store");
    char *scope_text = NULL, *id_text = NULL, *store_text = NULL;
    qf_error err;

    memset(out, 0, sizeof(*out));
    qf_error_init(&err);
    if (scope != NULL && id != NULL &&
        qf_cnode_string(scope, &scope_text, &err) == QF_OK &&
        qf_cnode_string(id, &id_text, &err) == QF_OK) {
        snprintf(out->scope, sizeof(out->scope), "%s", scope_text);
        snprintf(out->id, sizeof(out->id), "%s", id_text);
    } else {
        snprintf(out->scope, sizeof(out->scope), "instance");
        snprintf(out->id, sizeof(out->id), "%s", entry->name);
    }
    snprintf(out->key, sizeof(out->key), "%s:%s", out->scope, out->id);
    for (int i = 0; i < 4; i++) {
        const qf_cnode *v = qf_cnode_get(s, limit_names[i]);

        out->values[i] = -1;
        if (v != NULL && qf_cnode_double(v, &out->values[i], &err) != QF_OK)
            out->values[i] = -1;
    }
    out->offset_minutes = offset_of(s);
    if (store != NULL && qf_cnode_string(store, &store_text, &err) == QF_OK)
        out->memory_store = strcmp(store_text, "memory") == 0;
    free(scope_text);
    free(id_text);
    free(store_text);
}

/* Append the rate_limit scopes of one role's chain not seen yet. */
static void collect_role(const qf_role_plan *plan, limit_scope **scopes,
                         size_t *count)
{
    for (size_t i = 0; i < plan->chain_len; i++) {
        limit_scope scope;
        limit_scope *grown;
        size_t j;

        if (strcmp(plan->chain[i].plugin_id, "rate_limit") != 0)
            continue;
        scope_from_entry(&plan->chain[i], &scope);
        for (j = 0; j < *count && strcmp((*scopes)[j].key, scope.key) != 0; j++)
            ;
        if (j < *count)
            continue;
        grown = realloc(*scopes, (*count + 1) * sizeof(*grown));
        if (grown == NULL)
            return;
        *scopes = grown;
        (*scopes)[(*count)++] = scope;
    }
}

static qf_status collect_scopes(const qf_config *cfg, limit_scope **scopes,
                                size_t *count, qf_error *err)
{
    char **roles = NULL;
    qf_status st = qf_config_role_names(cfg, &roles, err);

    *scopes = NULL;
    *count = 0;
    for (size_t r = 0; st == QF_OK && roles[r] != NULL; r++) {
        qf_role_plan *plan = NULL;
        qf_error role_err;

        /* A role that does not resolve has no limits to show; `qf config
         * check` reports it. */
        qf_error_init(&role_err);
        if (qf_config_resolve_role(cfg, roles[r], NULL, &plan, &role_err) !=
            QF_OK)
            continue;
        collect_role(plan, scopes, count);
        qf_role_plan_free(plan);
    }
    qf_config_strings_free(roles);
    return st;
}

/* Read each scope's row of limits.db; a missing database means unused. */
static void read_state(const char *state_dir, limit_scope *scopes, size_t n)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    struct stat st;

    snprintf(path, sizeof(path), "%s/limits.db", state_dir);
    if (stat(path, &st) != 0 ||
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT requests_level, requests_updated_ms,"
                           " tokens_level, tokens_updated_ms, day_start_ms,"
                           " day_spent, month_start_ms, month_spent FROM"
                           " limiter_state WHERE scope = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(db, 2000);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(s, 1, scopes[i].key, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            scopes[i].has_row = 1;
            for (int k = 0; k < 2; k++) {
                scopes[i].levels[k] = sqlite3_column_int64(s, k * 2);
                scopes[i].updated[k] = sqlite3_column_int64(s, k * 2 + 1);
                scopes[i].period_start[k] = sqlite3_column_int64(s, 4 + k * 2);
                scopes[i].spent[k] = sqlite3_column_double(s, 5 + k * 2);
            }
        }
        sqlite3_reset(s);
    }
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* UTC start of the day (month 0) or month (month 1) containing now at the
 * offset, and of the next one. */
static void period_bounds(int64_t now, int offset_minutes, int month,
                          int64_t *start, int64_t *next)
{
    int64_t offset_ms = (int64_t)offset_minutes * 60000;
    time_t local = (time_t)((now + offset_ms) / 1000);
    struct tm tm;

    gmtime_r(&local, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (month)
        tm.tm_mday = 1;
    *start = (int64_t)timegm(&tm) * 1000 - offset_ms;
    if (month)
        tm.tm_mon += 1;
    else
        tm.tm_mday += 1;
    *next = (int64_t)timegm(&tm) * 1000 - offset_ms;
}

/* Used amount, remaining amount and reset time of limit k of a scope. */
static void limit_usage(const limit_scope *sc, int k, int64_t now, double *used,
                        double *remaining, int64_t *reset)
{
    double value = sc->values[k];

    /* NOTE: this repeats the refill rule of plugins/rate_limit/limiter.c
     * (level + elapsed x limit, capped at limit x period); change both
     * together. */
    if (k < 2) {
        int64_t period = bucket_periods[k];
        int64_t limit = (int64_t)value, full = limit * period;
        int64_t level = full;

        if (sc->has_row && sc->updated[k] > 0) {
            int64_t elapsed = now > sc->updated[k] ? now - sc->updated[k] : 0;
            int64_t missing = full - sc->levels[k];

            level = limit > 0 && elapsed < missing / limit + 1
                        ? sc->levels[k] + elapsed * limit
                        : full;
        }
        *remaining = (double)(level > 0 ? level / period : 0);
        *used = value - *remaining;
        *reset = now + (limit > 0 ? (full - level + limit - 1) / limit : 0);
        return;
    }

    int64_t start, next;

    period_bounds(now, sc->offset_minutes, k == 3, &start, &next);
    *used =
        sc->has_row && sc->period_start[k - 2] >= start ? sc->spent[k - 2] : 0;
    *remaining = value - *used > 0 ? value - *used : 0;
    *reset = next;
}

static void print_limits(const qf_cli *cli, const limit_scope *scopes, size_t n)
{
    int64_t now = now_ms();
    cJSON *obj = cli->json ? cJSON_CreateObject() : NULL;
    cJSON *list = obj ? cJSON_AddArrayToObject(obj, "limits") : NULL;

    if (!cli->json)
        printf("%-32s %-20s %12s %12s %12s  %s\n", "SCOPE", "LIMIT", "VALUE",
               "USED", "REMAINING", "RESETS");
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) {
            double used, remaining;
            int64_t reset;
            char when[32], label[180];

            if (scopes[i].values[k] < 0)
                continue;
            limit_usage(&scopes[i], k, now, &used, &remaining, &reset);
            format_utc(reset, when, sizeof(when));
            if (list != NULL) {
                cJSON *row = cJSON_CreateObject();

                cJSON_AddStringToObject(row, "scope", scopes[i].scope);
                cJSON_AddStringToObject(row, "scope_id", scopes[i].id);
                cJSON_AddStringToObject(row, "limit", limit_names[k]);
                cJSON_AddNumberToObject(row, "value", scopes[i].values[k]);
                cJSON_AddNumberToObject(row, "used", used);
                cJSON_AddNumberToObject(row, "remaining", remaining);
                cJSON_AddStringToObject(row, "resets_at", when);
                cJSON_AddBoolToObject(row, "shared", !scopes[i].memory_store);
                cJSON_AddItemToArray(list, row);
                continue;
            }
            snprintf(label, sizeof(label), "%s %s", scopes[i].scope,
                     scopes[i].id);
            if (k < 2)
                printf("%-32s %-20s %12.0f %12.0f %12.0f  %s\n", label,
                       limit_names[k], scopes[i].values[k], used, remaining,
                       when);
            else
                printf("%-32s %-20s %12.6f %12.6f %12.6f  %s\n", label,
                       limit_names[k], scopes[i].values[k], used, remaining,
                       when);
        }
    }
    if (obj != NULL)
        qf_cli_print_json(obj);
    else if (n == 0)
        printf("(no rate_limit settings in any role's chain)\n");
}

int qf_cmd_limits(qf_cli *cli, int argc, char **argv)
{
    qf_config *cfg = NULL;
    limit_scope *scopes = NULL;
    size_t n = 0;
    qf_error err;
    char *dir;
    int code;

    if (qf_cli_wants_help(argc, argv)) {
        print_limits_help(stdout);
        return QF_EXIT_OK;
    }
    argc = qf_cli_take_json_flag(cli, argc, argv);
    if (argc != 2 || strcmp(argv[1], "show") != 0) {
        print_limits_help(stderr);
        return QF_EXIT_USAGE;
    }
    dir = state_dir_of(cli, &cfg, &code);
    if (dir == NULL)
        goto out;
    qf_error_init(&err);
    if (collect_scopes(cfg, &scopes, &n, &err) != QF_OK) {
        code = qf_cli_fail(cli, &err);
        goto out;
    }
    read_state(dir, scopes, n);
    print_limits(cli, scopes, n);
    code = QF_EXIT_OK;
out:
    free(scopes);
    free(dir);
    qf_config_free(cfg);
    return code;
}

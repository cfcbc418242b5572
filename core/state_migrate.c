/*
 * state_migrate.c - schema migrations. Steps are edges between semantic
 * versions; a breadth-first search over upgrade and downgrade edges finds
 * the shortest path between any two versions. Each step runs in its own
 * transaction together with the version row. A backup taken before the
 * first step is restored when any step fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

#define MAX_STEPS    32
#define MAX_VERSIONS (2 * MAX_STEPS)

typedef struct migration_step {
    char from[QF_STATE_VERSION_MAX];
    char to[QF_STATE_VERSION_MAX];
    qf_state_migration_fn upgrade;
    qf_state_migration_fn downgrade;
} migration_step;

/* One hop of a path: a step and its direction. */
typedef struct path_hop {
    const migration_step *step;
    int up;
} path_hop;

static migration_step steps[MAX_STEPS] = {
    {"1.0.0", "1.1.0", qf_state_schema_up_1_1, qf_state_schema_down_1_1},
};
static size_t step_count = 1;
static char newest[QF_STATE_VERSION_MAX];

static int version_parse(const char *text, long parts[3])
{
    char *end = NULL;
    const char *p = text;

    for (int i = 0; i < 3; i++) {
        if (!p || *p < '0' || *p > '9')
            return -1;
        parts[i] = strtol(p, &end, 10);
        if (i < 2 && *end != '.')
            return -1;
        p = end + (i < 2);
    }
    return *end == '\0' ? 0 : -1;
}

int qf_state_version_compare(const char *a, const char *b)
{
    long va[3], vb[3];
    int a_ok = version_parse(a, va) == 0, b_ok = version_parse(b, vb) == 0;

    if (!a_ok || !b_ok)
        return a_ok - b_ok;
    for (int i = 0; i < 3; i++) {
        if (va[i] != vb[i])
            return va[i] < vb[i] ? -1 : 1;
    }
    return 0;
}

const char *qf_state_schema_newest(void)
{
    snprintf(newest, sizeof(newest), "%s", steps[0].from);
    for (size_t i = 0; i < step_count; i++) {
        if (qf_state_version_compare(steps[i].to, newest) > 0)
            snprintf(newest, sizeof(newest), "%s", steps[i].to);
    }
    return newest;
}

qf_status qf_state_migration_register(const char *from, const char *to,
                                      qf_state_migration_fn upgrade,
                                      qf_state_migration_fn downgrade,
                                      qf_error *err)
{
    long parts[3];

    if (!from || !to || version_parse(from, parts) ||
        version_parse(to, parts) || qf_state_version_compare(from, to) >= 0 ||
        !upgrade || !downgrade)
        return qf_error_set(err, QF_ERR_INVALID,
                            "invalid migration step '%s' -> '%s': expected "
                            "two versions X.Y.Z, the first older, with an "
                            "upgrade and a downgrade",
                            from ? from : "", to ? to : "");
    for (size_t i = 0; i < step_count; i++) {
        if (strcmp(steps[i].from, from) == 0 && strcmp(steps[i].to, to) == 0)
            return qf_error_set(err, QF_ERR_INVALID,
                                "migration step %s -> %s is already registered",
                                from, to);
    }
    if (step_count == MAX_STEPS)
        return qf_error_set(err, QF_ERR_TOO_LARGE,
                            "too many migration steps (maximum %d)", MAX_STEPS);
    snprintf(steps[step_count].from, QF_STATE_VERSION_MAX, "%s", from);
    snprintf(steps[step_count].to, QF_STATE_VERSION_MAX, "%s", to);
    steps[step_count].upgrade = upgrade;
    steps[step_count].downgrade = downgrade;
    step_count++;
    return QF_OK;
}

void qf_state_migration_reset(void)
{
    step_count = 1;
}

/* Breadth-first search state: versions in visit order and the hop that
 * reached each one. */
typedef struct search {
    const char *queue[MAX_VERSIONS + 1];
    path_hop via[MAX_VERSIONS + 1];
    size_t tail;
} search;

static int visited(const search *s, const char *version)
{
    for (size_t j = 0; j < s->tail; j++) {
        if (strcmp(s->queue[j], version) == 0)
            return 1;
    }
    return 0;
}

/* Queue every unvisited version one step away from `at`. */
static void expand(search *s, const char *at)
{
    for (size_t i = 0; i < step_count && s->tail <= MAX_VERSIONS; i++) {
        int up = strcmp(steps[i].from, at) == 0;
        const char *next = NULL;

        if (up)
            next = steps[i].to;
        else if (strcmp(steps[i].to, at) == 0)
            next = steps[i].from;

        if (!next || visited(s, next))
            continue;
        s->via[s->tail] = (path_hop){&steps[i], up};
        s->queue[s->tail++] = next;
    }
}

/* Follow the hops back from the target and store them in forward order. */
static int walk_back(const search *s, const char *from, size_t target,
                     path_hop hops[MAX_VERSIONS])
{
    int count = 0;
    size_t at = target;

    while (strcmp(s->queue[at], from) != 0) {
        const path_hop *hop = &s->via[at];
        const char *prev = hop->up ? hop->step->from : hop->step->to;

        hops[count++] = *hop;
        for (at = 0; strcmp(s->queue[at], prev) != 0; at++)
            ;
    }
    for (int i = 0; i < count / 2; i++) {
        path_hop swap = hops[i];

        hops[i] = hops[count - 1 - i];
        hops[count - 1 - i] = swap;
    }
    return count;
}

/* Shortest path from `from` to `to`; returns the hop count or -1. */
static int find_path(const char *from, const char *to,
                     path_hop hops[MAX_VERSIONS])
{
    search s = {.tail = 1};

    s.queue[0] = from;
    for (size_t head = 0; head < s.tail; head++) {
        if (strcmp(s.queue[head], to) == 0)
            return walk_back(&s, from, head, hops);
        expand(&s, s.queue[head]);
    }
    return -1;
}

/* Run one step's SQL and store its target version; no transaction. */
static qf_status apply_step(qf_state *st, const path_hop *hop, qf_error *err)
{
    const char *target = hop->up ? hop->step->to : hop->step->from;
    char sql[96];
    qf_status status;

    status = hop->up ? hop->step->upgrade(st->db, err)
                     : hop->step->downgrade(st->db, err);
    snprintf(sql, sizeof(sql), "UPDATE schema_info SET version = '%s'", target);
    if (status == QF_OK)
        status =
            qf_state_sql_exec(st->db, sql, "updating the schema version", err);
    if (status != QF_OK)
        qf_error_prefix(err, "migration step %s -> %s failed", st->version,
                        target);
    return status;
}

static qf_status run_step(qf_state *st, const path_hop *hop, qf_error *err)
{
    const char *target = hop->up ? hop->step->to : hop->step->from;
    qf_status status;

    status = qf_state_sql_exec(st->db, "BEGIN IMMEDIATE",
                               "starting a migration step", err);
    if (status != QF_OK)
        return status;
    status = qf_state_finish(st, apply_step(st, hop, err),
                             "committing a migration step", err);
    if (status != QF_OK)
        return status;
    snprintf(st->version, sizeof(st->version), "%s", target);
    return QF_OK;
}

static qf_status plan(const qf_state *st, const char *to,
                      path_hop hops[MAX_VERSIONS], int *count, qf_error *err)
{
    long parts[3];

    if (!to || version_parse(to, parts) != 0)
        return qf_error_set(err, QF_ERR_INVALID,
                            "invalid schema version '%s': expected X.Y.Z such "
                            "as 1.1.0",
                            to ? to : "");
    *count = find_path(st->version, to, hops);
    if (*count < 0)
        return qf_error_set(err, QF_ERR_NOT_FOUND,
                            "no migration path from schema %s to %s; this qf "
                            "knows versions up to %s",
                            st->version, to, qf_state_schema_newest());
    return QF_OK;
}

static cJSON *describe(const path_hop *hops, int count)
{
    cJSON *list = cJSON_CreateArray();
    char line[96];

    for (int i = 0; list && i < count; i++) {
        const migration_step *s = hops[i].step;

        snprintf(line, sizeof(line), "%s -> %s (%s)",
                 hops[i].up ? s->from : s->to, hops[i].up ? s->to : s->from,
                 hops[i].up ? "upgrade" : "downgrade");
        cJSON_AddItemToArray(list, cJSON_CreateString(line));
    }
    return list;
}

qf_status qf_state_migrate_fresh(qf_state *st, const char *to, qf_error *err)
{
    path_hop hops[MAX_VERSIONS];
    int count = 0;
    qf_status status = plan(st, to, hops, &count, err);

    for (int i = 0; status == QF_OK && i < count; i++) {
        const path_hop *hop = &hops[i];

        status = apply_step(st, hop, err);
        if (status == QF_OK)
            snprintf(st->version, sizeof(st->version), "%s",
                     hop->up ? hop->step->to : hop->step->from);
    }
    return status;
}

/* Restore the backup after a failed step and extend the message. */
static qf_status roll_back(qf_state *st, const char *backup, qf_status status,
                           qf_error *err)
{
    qf_error restore_err;

    qf_error_init(&restore_err);
    if (qf_state_restore_unchecked(st, backup, &restore_err) == QF_OK) {
        qf_error_prefix(err,
                        "migration to the target failed and the store "
                        "was restored from %s (schema %s)",
                        backup, st->version);
        return status;
    }
    qf_error_prefix(err,
                    "migration failed AND restoring %s failed (%s); "
                    "restore it by hand with 'qf state restore %s'",
                    backup, restore_err.message, backup);
    return status;
}

qf_status qf_state_migrate(qf_state *st, const char *to, int dry_run,
                           cJSON **steps_out, char **backup_path, qf_error *err)
{
    path_hop hops[MAX_VERSIONS];
    char *backup = NULL;
    int count = 0;
    qf_status status = plan(st, to, hops, &count, err);

    if (steps_out)
        *steps_out = status == QF_OK ? describe(hops, count) : NULL;
    if (backup_path)
        *backup_path = NULL;
    if (status != QF_OK || dry_run || count == 0)
        return status;

    status = qf_state_backup(st, &backup, err);
    if (status != QF_OK) {
        qf_error_prefix(err, "no migration was run because the backup failed");
        return status;
    }
    for (int i = 0; status == QF_OK && i < count; i++)
        status = run_step(st, &hops[i], err);
    if (status != QF_OK)
        status = roll_back(st, backup, status, err);
    if (backup_path)
        *backup_path = backup;
    else
        free(backup);
    return status;
}

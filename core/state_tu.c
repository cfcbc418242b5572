/*
 * state_tu.c - trace units: id validation (TU-YYYY-MM-DD-XX00 with a real
 * date) and the lifecycle. Each status lists its legal next statuses; a
 * move not in that list is rejected with the current status and the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

typedef struct lifecycle_state {
    const char *name;
    const char *next[4]; /* NULL-terminated */
} lifecycle_state;

/* NOTE: a move to the current status (deferred -> deferred) is rejected
 * since it changes nothing; the other moves follow the lifecycle table. */
static const lifecycle_state lifecycle[] = {
    {"hot-proposed", {"stabilizing", "deferred", "rejected", NULL}},
    {"stabilizing", {"gatecheck", "deferred", "rejected", NULL}},
    {"gatecheck", {"cold-merged", "stabilizing", NULL}},
    {"cold-merged", {NULL}},
    {"deferred", {"stabilizing", "rejected", NULL}},
    {"rejected", {NULL}},
};

#define LIFECYCLE_COUNT (sizeof(lifecycle) / sizeof(lifecycle[0]))

static const lifecycle_state *find_state(const char *name)
{
    for (size_t i = 0; i < LIFECYCLE_COUNT; i++) {
        if (strcmp(lifecycle[i].name, name) == 0)
            return &lifecycle[i];
    }
    return NULL;
}

int qf_state_status_known(const char *status)
{
    return status && find_state(status) != NULL;
}

static int all_in(const char *text, size_t count, char low, char high)
{
    for (size_t i = 0; i < count; i++) {
        if (text[i] < low || text[i] > high)
            return 0;
    }
    return 1;
}

static qf_status id_invalid(const char *id, const char *why, qf_error *err)
{
    return qf_error_set(err, QF_ERR_INVALID,
                        "invalid trace unit id '%s': %s; expected "
                        "TU-YYYY-MM-DD-XX00 (a valid date, two to four capital "
                        "letters and two digits), e.g. TU-2026-12-04-SR01",
                        id, why);
}

qf_status qf_state_tu_id_validate(const char *id, qf_error *err)
{
    size_t len = id ? strlen(id) : 0;
    size_t letters = len >= 16 ? len - 16 : 0;
    const char *tail = id ? id + 14 : NULL;

    if (!id)
        return id_invalid("", "the id is missing", err);
    if (len < 18 || len > 20 || strncmp(id, "TU-", 3) != 0 || id[7] != '-' ||
        id[10] != '-' || id[13] != '-')
        return id_invalid(id, "the layout does not match", err);
    if (!all_in(id + 3, 4, '0', '9') || !all_in(id + 8, 2, '0', '9') ||
        !all_in(id + 11, 2, '0', '9'))
        return id_invalid(id, "the date must be digits", err);
    if (!qf_state_date_valid((int)strtol(id + 3, NULL, 10),
                             (int)strtol(id + 8, NULL, 10),
                             (int)strtol(id + 11, NULL, 10)))
        return id_invalid(id, "the date does not exist", err);
    if (!all_in(tail, letters, 'A', 'Z') ||
        !all_in(tail + letters, 2, '0', '9'))
        return id_invalid(id,
                          "the suffix must be two to four capital "
                          "letters and two digits",
                          err);
    return QF_OK;
}

static qf_status insert_tu(qf_state *st, const char *id,
                           const qf_state_tu_fields *f, qf_error *err)
{
    static const char sql[] =
        "INSERT INTO trace_units (id, status, owner, responsible, timebox, "
        "data, metadata, created, modified, snapshot) VALUES (?1, "
        "'hot-proposed', ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)";
    char now[QF_STATE_TIME_MAX];
    sqlite3_stmt *stmt = NULL;
    qf_status status;
    int rc;

    qf_state_now(st, now);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, f->owner ? f->owner : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, f->responsible ? f->responsible : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, f->timebox ? f->timebox : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, f->data, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, f->metadata, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 7, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, f->snapshot, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT)
        status =
            qf_error_set(err, QF_ERR_INVALID,
                         "trace unit %s already exists; pick another id", id);
    else if (rc != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "creating a trace unit", err);
    sqlite3_finalize(stmt);
    return status;
}

/* A trace unit may only name a snapshot that exists. */
static qf_status check_snapshot(qf_state *st, const char *snapshot,
                                qf_error *err)
{
    cJSON *found = NULL;
    qf_status status;

    if (!snapshot)
        return QF_OK;
    status = qf_state_snapshot_get(st, snapshot, &found, err);
    cJSON_Delete(found);
    return status;
}

static qf_status create_locked(qf_state *st, const char *id,
                               const qf_state_tu_fields *fields, qf_error *err)
{
    qf_status status = check_snapshot(st, fields->snapshot, err);

    if (status == QF_OK)
        status = insert_tu(st, id, fields, err);
    if (status == QF_OK)
        status = qf_state_history_add(st, "trace_unit", id, "create",
                                      "{\"status\":\"hot-proposed\"}", err);
    return status;
}

qf_status qf_state_tu_create_with(qf_state *st, const char *id,
                                  const qf_state_tu_fields *fields,
                                  qf_error *err)
{
    qf_state_tu_fields f = fields ? *fields : (qf_state_tu_fields){0};
    char *data = NULL, *metadata = NULL;
    qf_status status;

    status = qf_state_tu_id_validate(id, err);
    if (status == QF_OK)
        status = qf_state_text_check(f.owner, "the owner", err);
    if (status == QF_OK)
        status = qf_state_text_check(f.responsible, "responsible", err);
    if (status == QF_OK)
        status = qf_state_text_check(f.timebox, "the timebox", err);
    if (status == QF_OK)
        status = qf_state_json_normalize(f.data ? f.data : "{}",
                                         "the trace unit data", &data, err);
    if (status == QF_OK)
        status =
            qf_state_json_normalize(f.metadata ? f.metadata : "{}",
                                    "the trace unit metadata", &metadata, err);
    if (status == QF_OK)
        status = qf_state_begin(st, err);
    if (status != QF_OK)
        goto out;
    f.data = data;
    f.metadata = metadata;
    status = qf_state_finish(st, create_locked(st, id, &f, err),
                             "committing a change", err);

out:
    free(data);
    free(metadata);
    return status;
}

qf_status qf_state_tu_create(qf_state *st, const char *id, const char *owner,
                             const char *data, qf_error *err)
{
    qf_state_tu_fields fields = {.owner = owner, .data = data};

    return qf_state_tu_create_with(st, id, &fields, err);
}

static const char tu_columns[] =
    "SELECT id, status, owner, responsible, timebox, data, metadata, created, "
    "modified, snapshot FROM trace_units";

qf_status qf_state_tu_get(qf_state *st, const char *id, cJSON **out,
                          qf_error *err)
{
    char sql[256];
    qf_status status;

    *out = NULL;
    status = qf_state_require_data_schema(st, err);
    if (status != QF_OK)
        return status;
    snprintf(sql, sizeof(sql), "%s WHERE id = ?1", tu_columns);
    return qf_state_row_by_id(st->db, sql, id, "trace unit", "tu", out, err);
}

qf_status qf_state_tu_list(qf_state *st, const char *status_filter, cJSON **out,
                           qf_error *err)
{
    char sql[256];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    *out = NULL;
    status = qf_state_require_data_schema(st, err);
    if (status != QF_OK)
        return status;
    if (status_filter && !qf_state_status_known(status_filter))
        return qf_error_set(
            err, QF_ERR_INVALID,
            "invalid status '%s'; expected one of hot-proposed, "
            "stabilizing, gatecheck, cold-merged, deferred, "
            "rejected",
            status_filter);
    snprintf(sql, sizeof(sql), "%s WHERE ?1 IS NULL OR status = ?1 ORDER BY id",
             tu_columns);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, status_filter, -1, SQLITE_STATIC);
    return qf_state_rows_json(st->db, stmt, out, err);
}

/* Reject a move that the lifecycle does not allow, naming the legal ones. */
static qf_status check_move(const char *id, const char *from, const char *to,
                            qf_error *err)
{
    const lifecycle_state *state = find_state(from);
    char legal[128] = "";
    size_t used = 0;

    if (!state)
        return qf_error_set(err, QF_ERR_INTERNAL,
                            "trace unit %s has unknown status '%s'", id, from);
    if (!state->next[0])
        return qf_error_set(err, QF_ERR_REFUSED,
                            "%s is %s, a final state; no move is allowed", id,
                            from);
    for (size_t i = 0; state->next[i]; i++) {
        if (strcmp(state->next[i], to) == 0)
            return QF_OK;
        used += (size_t)snprintf(legal + used, sizeof(legal) - used, "%s%s",
                                 i ? ", " : "", state->next[i]);
    }
    return qf_error_set(err, QF_ERR_REFUSED,
                        "cannot move %s from %s to %s; legal next states: %s",
                        id, from, to, legal);
}

static qf_status update_status(qf_state *st, const char *id, const char *from,
                               const char *to, qf_error *err)
{
    char now[QF_STATE_TIME_MAX], details[128];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    qf_state_now(st, now);
    status = qf_state_sql_prepare(
        st->db,
        "UPDATE trace_units SET status = ?1, modified = ?2 WHERE id = ?3",
        &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "moving a trace unit", err);
    sqlite3_finalize(stmt);
    if (status != QF_OK)
        return status;
    snprintf(details, sizeof(details), "{\"from\":\"%s\",\"to\":\"%s\"}", from,
             to);
    return qf_state_history_add(st, "trace_unit", id, "move", details, err);
}

static qf_status move_locked(qf_state *st, const char *id, const char *to,
                             qf_error *err)
{
    cJSON *tu = NULL;
    char from[32];
    qf_status status;

    status = qf_state_tu_get(st, id, &tu, err);
    if (status != QF_OK)
        return status;
    snprintf(from, sizeof(from), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(tu, "status")));
    cJSON_Delete(tu);
    status = check_move(id, from, to, err);
    if (status == QF_OK)
        status = update_status(st, id, from, to, err);
    return status;
}

qf_status qf_state_tu_move(qf_state *st, const char *id, const char *to,
                           qf_error *err)
{
    qf_status status;

    if (!qf_state_status_known(to))
        return qf_error_set(
            err, QF_ERR_INVALID,
            "invalid status '%s'; expected one of hot-proposed, "
            "stabilizing, gatecheck, cold-merged, deferred, "
            "rejected",
            to ? to : "");
    status = qf_state_begin(st, err);
    if (status != QF_OK)
        return status;
    return qf_state_finish(st, move_locked(st, id, to, err),
                           "committing a change", err);
}

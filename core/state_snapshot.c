/*
 * state_snapshot.c - snapshots: a frozen JSON copy of every trace unit and
 * artifact under an id. A snapshot is written once; a trigger rejects
 * updates, and a second write of the same id fails on the primary key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

static qf_status check_id(const char *id, qf_error *err)
{
    size_t len = id ? strlen(id) : 0;

    if (len == 0 || len > 128)
        return qf_error_set(err, QF_ERR_INVALID,
                            "invalid snapshot id '%s': expected 1 to 128 "
                            "characters",
                            id ? id : "");
    for (size_t i = 0; i < len; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return qf_error_set(err, QF_ERR_INVALID,
                                "invalid snapshot id '%s': use letters, "
                                "digits, '-', '_' and '.' only",
                                id);
    }
    return QF_OK;
}

/* Build {"trace_units": [...], "artifacts": [...]} from the store. */
static qf_status collect(qf_state *st, char **out, qf_error *err)
{
    cJSON *doc = cJSON_CreateObject(), *tus = NULL, *artifacts = NULL;
    qf_status status;

    *out = NULL;
    if (!doc)
        return qf_error_set(err, QF_ERR_NOMEM,
                            "out of memory taking a snapshot");
    status = qf_state_tu_list(st, NULL, &tus, err);
    if (status == QF_OK)
        status = qf_state_artifact_list(st, NULL, &artifacts, err);
    if (status == QF_OK) {
        cJSON_AddItemToObject(doc, "trace_units", tus);
        cJSON_AddItemToObject(doc, "artifacts", artifacts);
        tus = artifacts = NULL;
        *out = cJSON_PrintUnformatted(doc);
        if (!*out)
            status = qf_error_set(err, QF_ERR_NOMEM,
                                  "out of memory taking a snapshot");
    }
    cJSON_Delete(tus);
    cJSON_Delete(artifacts);
    cJSON_Delete(doc);
    return status;
}

static qf_status insert_snapshot(qf_state *st, const char *id,
                                 const char *description, const char *data,
                                 qf_error *err)
{
    char now[QF_STATE_TIME_MAX];
    sqlite3_stmt *stmt = NULL;
    qf_status status;
    int rc;

    qf_state_now(st, now);
    status = qf_state_sql_prepare(st->db,
                                  "INSERT INTO snapshots (id, description, "
                                  "created, data) VALUES (?1, ?2, ?3, ?4)",
                                  &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, description ? description : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, data, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT)
        status = qf_error_set(err, QF_ERR_INVALID,
                              "snapshot %s already exists and snapshots are "
                              "immutable; pick another id",
                              id);
    else if (rc != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "writing a snapshot", err);
    sqlite3_finalize(stmt);
    return status;
}

qf_status qf_state_snapshot_create(qf_state *st, const char *id,
                                   const char *description, qf_error *err)
{
    char *data = NULL;
    qf_status status;

    status = check_id(id, err);
    if (status == QF_OK)
        status = qf_state_text_check(description, "the description", err);
    if (status == QF_OK)
        status = qf_state_begin(st, err);
    if (status != QF_OK)
        return status;
    status = collect(st, &data, err);
    if (status == QF_OK)
        status = insert_snapshot(st, id, description, data, err);
    if (status == QF_OK)
        status = qf_state_history_add(st, "snapshot", id, "create", NULL, err);
    free(data);
    return qf_state_finish(st, status, "committing a snapshot", err);
}

qf_status qf_state_snapshot_get(qf_state *st, const char *id, cJSON **out,
                                qf_error *err)
{
    return qf_state_row_by_id(st->db,
                              "SELECT id, description, created, data FROM "
                              "snapshots WHERE id = ?1",
                              id, "snapshot", "snapshot", out, err);
}

qf_status qf_state_snapshot_list(qf_state *st, cJSON **out, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    *out = NULL;
    status = qf_state_sql_prepare(
        st->db, "SELECT id, description, created FROM snapshots ORDER BY id",
        &stmt, err);
    if (status != QF_OK)
        return status;
    return qf_state_rows_json(st->db, stmt, out, err);
}

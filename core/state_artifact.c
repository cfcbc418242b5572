/*
 * state_artifact.c - artifacts: typed JSON documents (hook_card, canon,
 * tu_brief, codex_entry, scene, quest and other lowercase types) with tags.
 * A put inserts a new artifact or replaces one, keeping its created time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

static qf_status check_type(const char *type, qf_error *err)
{
    size_t len = type ? strlen(type) : 0;
    int ok = len > 0 && len <= 64 && type[0] >= 'a' && type[0] <= 'z';

    for (size_t i = 1; ok && i < len; i++) {
        char c = type[i];

        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (ok)
        return QF_OK;
    return qf_error_set(err, QF_ERR_INVALID,
                        "invalid artifact type '%s': expected a lowercase "
                        "name such as hook_card, canon, tu_brief, codex_entry, "
                        "scene or quest",
                        type ? type : "");
}

static qf_status check_tags(const char *tags, qf_error *err)
{
    cJSON *array = cJSON_Parse(tags);
    const cJSON *tag;
    int ok = cJSON_IsArray(array);

    cJSON_ArrayForEach(tag, array) ok = ok && cJSON_IsString(tag);
    cJSON_Delete(array);
    if (ok)
        return QF_OK;
    return qf_error_set(err, QF_ERR_INVALID,
                        "invalid artifact tags '%s': expected a JSON array of "
                        "strings such as [\"act1\", \"draft\"]",
                        tags);
}

/* 1 when the artifact exists, 0 when not, -1 on error. */
static int artifact_exists(qf_state *st, const char *id)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM artifacts WHERE id = ?1", -1,
                           &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : -1;
}

static qf_status write_artifact(qf_state *st, const char *id, const char *type,
                                const char *data, const char *tags,
                                qf_error *err)
{
    static const char sql[] =
        "INSERT INTO artifacts (id, type, data, metadata, tags, created, "
        "modified) VALUES (?1, ?2, ?3, '{}', ?4, ?5, ?5) "
        "ON CONFLICT (id) DO UPDATE SET type = ?2, data = ?3, tags = ?4, "
        "modified = ?5";
    char now[QF_STATE_TIME_MAX];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    qf_state_now(st, now);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, data, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, now, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "writing an artifact", err);
    sqlite3_finalize(stmt);
    return status;
}

static qf_status put_locked(qf_state *st, const char *id, const char *type,
                            const char *data, const char *tags, qf_error *err)
{
    char details[128];
    int exists = artifact_exists(st, id);
    qf_status status;

    if (exists < 0)
        return qf_state_sql_fail(st->db, "looking up an artifact", err);
    status = write_artifact(st, id, type, data, tags, err);
    if (status != QF_OK)
        return status;
    snprintf(details, sizeof(details), "{\"type\":\"%s\"}", type);
    return qf_state_history_add(st, "artifact", id,
                                exists ? "update" : "create", details, err);
}

/* Check the inputs and store compact copies of data and tags. */
static qf_status prepare_put(const char *id, const char *type, const char *data,
                             const char *tags, char **json, char **tag_json,
                             qf_error *err)
{
    qf_status status;

    if (!id || !*id || strlen(id) > 128)
        return qf_error_set(err, QF_ERR_INVALID,
                            "invalid artifact id '%s': expected 1 to 128 "
                            "characters",
                            id ? id : "");
    status = qf_state_text_check(id, "the artifact id", err);
    if (status == QF_OK)
        status = check_type(type, err);
    if (status == QF_OK)
        status = qf_state_json_normalize(data ? data : "", "the artifact data",
                                         json, err);
    if (status == QF_OK)
        status = qf_state_json_normalize(tags ? tags : "[]",
                                         "the artifact tags", tag_json, err);
    if (status == QF_OK)
        status = check_tags(*tag_json, err);
    return status;
}

qf_status qf_state_artifact_put(qf_state *st, const char *id, const char *type,
                                const char *data, const char *tags,
                                qf_error *err)
{
    char *json = NULL, *tag_json = NULL;
    qf_status status;

    status = prepare_put(id, type, data, tags, &json, &tag_json, err);
    if (status == QF_OK)
        status = qf_state_begin(st, err);
    if (status != QF_OK)
        goto out;
    status = qf_state_finish(st, put_locked(st, id, type, json, tag_json, err),
                             "committing an artifact", err);

out:
    free(json);
    free(tag_json);
    return status;
}

static const char artifact_columns[] =
    "SELECT id, type, data, metadata, tags, created, modified FROM artifacts";

qf_status qf_state_artifact_get(qf_state *st, const char *id, cJSON **out,
                                qf_error *err)
{
    char sql[160];
    qf_status status;

    *out = NULL;
    status = qf_state_require_data_schema(st, err);
    if (status != QF_OK)
        return status;
    snprintf(sql, sizeof(sql), "%s WHERE id = ?1", artifact_columns);
    return qf_state_row_by_id(st->db, sql, id, "artifact", "artifact", out,
                              err);
}

qf_status qf_state_artifact_list(qf_state *st, const char *type, cJSON **out,
                                 qf_error *err)
{
    char sql[200];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    *out = NULL;
    status = qf_state_require_data_schema(st, err);
    if (status != QF_OK)
        return status;
    snprintf(sql, sizeof(sql), "%s WHERE ?1 IS NULL OR type = ?1 ORDER BY id",
             artifact_columns);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, type, -1, SQLITE_STATIC);
    return qf_state_rows_json(st->db, stmt, out, err);
}

/*
 * state_import.c - apply a parsed export to the store in one transaction.
 * Replace mode empties each section the document contains and inserts its
 * rows with their exported timestamps and history numbers. Merge mode
 * inserts only rows whose key is missing and reports the others. The
 * import records itself in import_log, a table export leaves out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

typedef struct import_run {
    qf_state *st;
    int merge;
    qf_state_import_report *report;
    qf_error *err;
} import_run;

static void label(const state_section *sec, const state_record *rec, char *out,
                  size_t size)
{
    const state_field *id = qf_state_record_field(rec, sec->columns[0].name);

    if (id && id->value && !sec->single)
        snprintf(out, size, "%s %.80s (line %zu)", sec->entity, id->value,
                 rec->line);
    else
        snprintf(out, size, "%s at line %zu", sec->entity, rec->line);
}

/* The value to store for a column: the field, its fallback, or NULL. */
static const char *column_value(const state_column *col,
                                const state_record *rec)
{
    const state_field *f = qf_state_record_field(rec, col->name);

    return f ? f->value : col->fallback;
}

/* In merge mode, history rows get new numbers instead of the exported one. */
static int skips_key(const import_run *run, const state_section *sec)
{
    return run->merge && sec->include == QF_STATE_INCLUDE_HISTORY;
}

static qf_status prepare_insert(import_run *run, const state_section *sec,
                                sqlite3_stmt **stmt)
{
    char sql[768];
    size_t used, first = skips_key(run, sec) ? 1 : 0;

    used = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s (", sec->table);
    for (size_t i = first; i < sec->ncolumns; i++)
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s%s",
                                 i > first ? ", " : "", sec->columns[i].name);
    used += (size_t)snprintf(sql + used, sizeof(sql) - used, ") VALUES (");
    for (size_t i = first; i < sec->ncolumns; i++)
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s?",
                                 i > first ? ", " : "");
    snprintf(sql + used, sizeof(sql) - used, ")");
    return qf_state_sql_prepare(run->st->db, sql, stmt, run->err);
}

static qf_status insert_record(import_run *run, const state_section *sec,
                               const state_record *rec)
{
    sqlite3_stmt *stmt = NULL;
    size_t first = skips_key(run, sec) ? 1 : 0;
    char what[160];
    qf_status status = prepare_insert(run, sec, &stmt);

    if (status != QF_OK)
        return status;
    for (size_t i = first; i < sec->ncolumns; i++) {
        const char *value = column_value(&sec->columns[i], rec);
        int slot = (int)(i - first + 1);

        if (!value)
            sqlite3_bind_null(stmt, slot);
        else if (sec->columns[i].kind == STATE_COL_INT)
            sqlite3_bind_int64(stmt, slot, strtoll(value, NULL, 10));
        else
            sqlite3_bind_text(stmt, slot, value, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        label(sec, rec, what, sizeof(what));
        status =
            qf_error_set(run->err, QF_ERR_INVALID, "%s: cannot store it: %s",
                         what, sqlite3_errmsg(run->st->db));
    }
    sqlite3_finalize(stmt);
    return status;
}

/* Merge mode: 1 when the row exists (same key, or for history the same
 * content), 0 when missing, -1 on error. */
static int record_exists(import_run *run, const state_section *sec,
                         const state_record *rec)
{
    static const char history_sql[] =
        "SELECT 1 FROM history WHERE entity = ?1 AND entity_id = ?2 AND "
        "action = ?3 AND time = ?4 AND details = ?5";
    char sql[200];
    sqlite3_stmt *stmt = NULL;
    int rc, binds = 1;

    if (sec->single)
        snprintf(sql, sizeof(sql), "SELECT 1 FROM %s", sec->table);
    else if (sec->include == QF_STATE_INCLUDE_HISTORY) {
        snprintf(sql, sizeof(sql), "%s", history_sql);
        binds = 5;
    } else
        snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE %s = ?1", sec->table,
                 sec->columns[0].name);
    if (sqlite3_prepare_v2(run->st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; !sec->single && i < binds; i++) {
        int col = binds == 1 ? 0 : i + 1;

        sqlite3_bind_text(stmt, i + 1, column_value(&sec->columns[col], rec),
                          -1, SQLITE_STATIC);
    }
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : -1;
}

static qf_status note_skip(import_run *run, const state_section *sec,
                           const state_record *rec)
{
    char name[160], what[200];

    run->report->skipped_count++;
    if (sec->include == QF_STATE_INCLUDE_HISTORY)
        return QF_OK; /* counted, not listed: history rows have no name */
    label(sec, rec, name, sizeof(name));
    snprintf(what, sizeof(what), "%s already exists", name);
    if (!cJSON_AddItemToArray(run->report->skipped, cJSON_CreateString(what)))
        return qf_error_set(run->err, QF_ERR_NOMEM, "out of memory");
    return QF_OK;
}

static qf_status apply_record(import_run *run, const state_section *sec,
                              const state_record *rec)
{
    if (run->merge) {
        int exists = record_exists(run, sec, rec);

        if (exists < 0)
            return qf_state_sql_fail(run->st->db, "checking a row to merge",
                                     run->err);
        if (exists)
            return note_skip(run, sec, rec);
    }
    run->report->added++;
    return insert_record(run, sec, rec);
}

static qf_status apply_section(import_run *run, const state_section *sec,
                               const state_records *list)
{
    char sql[96];
    qf_status status = QF_OK;

    if (!run->merge) {
        snprintf(sql, sizeof(sql), "DELETE FROM %s", sec->table);
        status =
            qf_state_sql_exec(run->st->db, sql, "emptying a section", run->err);
    }
    for (size_t i = 0; status == QF_OK && i < list->count; i++)
        status = apply_record(run, sec, &list->items[i]);
    return status;
}

static qf_status log_import(import_run *run, const qf_state_doc *doc)
{
    char now[QF_STATE_TIME_MAX];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    qf_state_now(run->st, now);
    status = qf_state_sql_prepare(run->st->db,
                                  "INSERT INTO import_log (time, mode, "
                                  "checksum, added, skipped) VALUES (?1, ?2, "
                                  "?3, ?4, ?5)",
                                  &stmt, run->err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, run->merge ? "merge" : "replace", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, doc->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)run->report->added);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)run->report->skipped_count);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status =
            qf_state_sql_fail(run->st->db, "recording the import", run->err);
    sqlite3_finalize(stmt);
    return status;
}

static qf_status apply(import_run *run, const qf_state_doc *doc)
{
    qf_status status = QF_OK;

    for (size_t s = 0; status == QF_OK && s < STATE_SECTION_COUNT; s++) {
        if (doc->sections[s].present)
            status =
                apply_section(run, &qf_state_sections[s], &doc->sections[s]);
    }
    if (status == QF_OK)
        status = log_import(run, doc);
    return status;
}

qf_status qf_state_import(qf_state *st, const qf_state_doc *doc, int merge,
                          qf_state_import_report *report, qf_error *err)
{
    qf_state_import_report local = {0};
    import_run run = {st, merge, report ? report : &local, err};
    qf_status status;

    memset(run.report, 0, sizeof(*run.report));
    run.report->skipped = cJSON_CreateArray();
    status = run.report->skipped
                 ? qf_state_require_data_schema(st, err)
                 : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    if (status == QF_OK)
        status = qf_state_sql_exec(st->db, "BEGIN IMMEDIATE",
                                   "starting the import", err);
    if (status == QF_OK)
        status =
            qf_state_finish(st, apply(&run, doc), "committing the import", err);
    if (status != QF_OK || !report) {
        cJSON_Delete(run.report->skipped);
        run.report->skipped = NULL;
    }
    return status;
}

static qf_status read_all(const char *path, uint8_t **out, size_t *len,
                          qf_error *err)
{
    FILE *file = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (!file)
        return qf_error_set(err, QF_ERR_NOT_FOUND, "cannot open %s: %s", path,
                            strerror(errno));
    if (fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0 ||
        fseek(file, 0, SEEK_SET) != 0)
        size = -1;
    data = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!data || fread(data, 1, (size_t)size, file) != (size_t)size) {
        fclose(file);
        free(data);
        return qf_error_set(err, QF_ERR_IO, "reading %s failed", path);
    }
    fclose(file);
    *out = data;
    *len = (size_t)size;
    return QF_OK;
}

qf_status qf_state_import_file(qf_state *st, const char *path, int merge,
                               qf_state_import_report *report, qf_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    qf_state_doc *doc;
    qf_status status = read_all(path, &data, &len, err);

    if (status != QF_OK)
        return status;
    doc = qf_state_doc_parse(data, len, err);
    free(data);
    if (!doc) {
        qf_error_prefix(err, "%s", path);
        return err ? err->status : QF_ERR_INVALID;
    }
    status = qf_state_import(st, doc, merge, report, err);
    if (status != QF_OK)
        qf_error_prefix(err, "%s", path);
    qf_state_doc_free(doc);
    return status;
}

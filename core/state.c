/*
 * state.c - opening the state store and the project row. A new store is
 * created with the 1.0.0 tables and migrated straight to the newest
 * registered schema in one transaction, so concurrent openers see no store
 * or a finished one. An existing store is checked against that newest
 * version, so a store written by a newer qf is rejected before any access.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "state_internal.h"

static char *join_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);

    if (path)
        snprintf(path, len, "%s/%s", dir, name);
    return path;
}

static qf_status make_dir(const char *dir, qf_error *err)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return QF_OK;
    return qf_error_set(err, QF_ERR_IO,
                        "cannot create the state directory %s: %s; check "
                        "the path and its permissions",
                        dir, strerror(errno));
}

/*
 * Create the tables of a new store and migrate it to `newest`, all in one
 * IMMEDIATE transaction. The version is read again once the write lock is
 * held: when another process created the store first, it is left alone.
 */
static qf_status create_schema(qf_state *st, const char *newest, qf_error *err)
{
    qf_status status;

    status = qf_state_sql_exec(st->db, "BEGIN IMMEDIATE",
                               "starting to create the store", err);
    if (status != QF_OK)
        return status;

    status = qf_state_read_version(st->db, st->version, err);
    if (status == QF_OK && st->version[0] == '\0') {
        status = qf_state_schema_create(st->db, err);
        if (status == QF_OK)
            status = qf_state_read_version(st->db, st->version, err);
        if (status == QF_OK)
            status = qf_state_migrate_fresh(st, newest, err);
    }

    status = qf_state_finish(st, status, "creating the store", err);
    if (status != QF_OK)
        st->version[0] = '\0';
    return status;
}

/* Initialise an empty database, or check the version of an existing one. */
static qf_status check_schema(qf_state *st, qf_error *err)
{
    const char *newest = qf_state_schema_newest();
    qf_status status;

    status = qf_state_read_version(st->db, st->version, err);
    if (status == QF_OK && st->version[0] == '\0')
        status = create_schema(st, newest, err);
    if (status != QF_OK)
        return status;
    if (qf_state_version_compare(st->version, newest) > 0)
        return qf_error_set(err, QF_ERR_UNSUPPORTED,
                            "state.db has schema %s, this qf supports up to "
                            "%s; upgrade qf or restore a backup",
                            st->version, newest);
    return QF_OK;
}

static qf_status open_db(qf_state *st, int create, qf_error *err)
{
    struct stat info;
    int flags = SQLITE_OPEN_READWRITE;

    if (stat(st->db_path, &info) != 0) {
        if (!create)
            return qf_error_set(err, QF_ERR_NOT_FOUND,
                                "no state store at %s; run 'qf state init' "
                                "to create one",
                                st->db_path);
        flags |= SQLITE_OPEN_CREATE;
    }
    if (sqlite3_open_v2(st->db_path, &st->db, flags, NULL) != SQLITE_OK)
        return qf_error_set(err, QF_ERR_IO, "cannot open %s: %s", st->db_path,
                            st->db ? sqlite3_errmsg(st->db) : "out of memory");
    sqlite3_busy_timeout(st->db, 5000);
    return check_schema(st, err);
}

qf_status qf_state_open(const char *state_dir, int create, qf_state **out,
                        qf_error *err)
{
    qf_state *st = calloc(1, sizeof(*st));
    qf_status status;

    *out = NULL;
    if (!st)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory opening %s",
                            state_dir);
    st->dir = strdup(state_dir);
    st->db_path = join_path(state_dir, "state.db");
    if (!st->dir || !st->db_path) {
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory opening %s",
                              state_dir);
        goto fail;
    }
    status = create ? make_dir(state_dir, err) : QF_OK;
    if (status == QF_OK)
        status = open_db(st, create, err);
    if (status != QF_OK)
        goto fail;
    *out = st;
    return QF_OK;

fail:
    qf_state_close(st);
    return status;
}

void qf_state_close(qf_state *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st->dir);
    free(st->db_path);
    free(st);
}

void qf_state_set_clock(qf_state *st, qf_state_clock_fn clock, void *ctx)
{
    st->clock = clock;
    st->clock_ctx = ctx;
}

const char *qf_state_schema_version(const qf_state *st)
{
    return st->version;
}
const char *qf_state_dir(const qf_state *st)
{
    return st->dir;
}
const char *qf_state_db_path(const qf_state *st)
{
    return st->db_path;
}
sqlite3 *qf_state_db(qf_state *st)
{
    return st->db;
}

static qf_status write_project(qf_state *st, const char *name,
                               const char *author, const char *description,
                               qf_error *err)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO project (id, name, description, created, "
        "modified, version, author, metadata) VALUES (1, ?1, ?2, "
        "COALESCE((SELECT created FROM project WHERE id = 1), ?3), ?3, "
        "'0.1.0', ?4, '{}')";
    char now[QF_STATE_TIME_MAX];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    qf_state_now(st, now);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, description ? description : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, author ? author : "", -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "writing the project row", err);
    sqlite3_finalize(stmt);
    return status;
}

/* QF_ERR_INVALID naming the project when the store already has one. */
static qf_status refuse_existing(qf_state *st, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status;
    int rc;

    status = qf_state_sql_prepare(
        st->db, "SELECT name FROM project WHERE id = 1", &stmt, err);
    if (status != QF_OK)
        return status;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        status = qf_error_set(err, QF_ERR_INVALID,
                              "state store %s is already initialised "
                              "(project %s); use `qf state info`, or remove "
                              "it to start over",
                              st->db_path,
                              (const char *)sqlite3_column_text(stmt, 0));
    else if (rc != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "reading the project row", err);
    sqlite3_finalize(stmt);
    return status;
}

static qf_status check_project_fields(const qf_state *st, const char *name,
                                      const char *author,
                                      const char *description, qf_error *err)
{
    qf_status status;

    if (!name || !*name)
        return qf_error_set(err, QF_ERR_INVALID,
                            "project name is empty; pass --name NAME");
    status = qf_state_text_check(name, "the project name", err);
    if (status == QF_OK)
        status = qf_state_text_check(author, "the author", err);
    if (status == QF_OK)
        status = qf_state_text_check(description, "the description", err);
    if (status == QF_OK)
        status = qf_state_require_data_schema(st, err);
    return status;
}

qf_status qf_state_project_create(qf_state *st, const char *name,
                                  const char *author, const char *description,
                                  int force, qf_error *err)
{
    qf_status status;

    status = check_project_fields(st, name, author, description, err);
    if (status == QF_OK)
        status = qf_state_sql_exec(st->db, "BEGIN IMMEDIATE",
                                   "starting a transaction", err);
    if (status != QF_OK)
        return status;

    /* Checked under the write lock, so of several concurrent inits exactly
     * one writes the project and the others see it. */
    status = force ? QF_OK : refuse_existing(st, err);
    if (status == QF_OK)
        status = write_project(st, name, author, description, err);
    if (status == QF_OK)
        status = qf_state_history_add(st, "project", name, "init", NULL, err);
    return qf_state_finish(st, status, "committing the project", err);
}

qf_status qf_state_project_init(qf_state *st, const char *name,
                                const char *author, const char *description,
                                qf_error *err)
{
    return qf_state_project_create(st, name, author, description, 1, err);
}

static qf_status add_count(qf_state *st, cJSON *info, const char *table,
                           qf_error *err)
{
    char sql[96];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        cJSON_AddNumberToObject(info, table,
                                (double)sqlite3_column_int64(stmt, 0));
    else
        status = qf_state_sql_fail(st->db, "counting rows", err);
    sqlite3_finalize(stmt);
    return status;
}

static qf_status add_project(qf_state *st, cJSON *info, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    cJSON *project = NULL;
    qf_status status;

    status = qf_state_sql_prepare(
        st->db,
        "SELECT name, description, created, modified, version, author, "
        "metadata FROM project WHERE id = 1",
        &stmt, err);
    if (status != QF_OK)
        return status;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        project = qf_state_row_json(stmt);
    else
        project = cJSON_CreateNull();
    sqlite3_finalize(stmt);
    if (!project)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory reading info");
    cJSON_AddItemToObject(info, "project", project);
    return QF_OK;
}

qf_status qf_state_info(qf_state *st, cJSON **out, qf_error *err)
{
    static const char *const tables[] = {"trace_units", "snapshots",
                                         "artifacts", "history"};
    cJSON *info = cJSON_CreateObject();
    qf_status status = QF_OK;

    *out = NULL;
    if (!info)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory reading info");
    cJSON_AddStringToObject(info, "path", st->db_path);
    cJSON_AddStringToObject(info, "schema_version", st->version);
    cJSON_AddStringToObject(info, "schema_newest", qf_state_schema_newest());
    status = add_project(st, info, err);
    for (size_t i = 0; status == QF_OK && i < 4; i++)
        status = add_count(st, info, tables[i], err);
    if (status != QF_OK) {
        cJSON_Delete(info);
        return status;
    }
    *out = info;
    return QF_OK;
}

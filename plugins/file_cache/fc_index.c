/*
 * fc_index.c - the SQLite index of a file_cache directory (<dir>/index.db).
 *
 * Table `entries` has one row per entry file; triggers keep the `entries`
 * and `bytes` counters of table `counters` in step with it, so statistics
 * are a point read. Indexes on access time and expiry make eviction and
 * pruning a range scan from the oldest row, whatever the entry count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fc_index.h"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS entries ("
    " key TEXT PRIMARY KEY, bytes INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    " access_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS entries_by_access ON entries(access_ms);"
    "CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries(expires_ms)"
    " WHERE expires_ms > 0;"
    "CREATE TABLE IF NOT EXISTS counters ("
    " name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO counters VALUES ('entries', 0), ('bytes', 0),"
    " ('hits', 0), ('misses', 0), ('evictions', 0), ('expirations', 0);"
    "CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN"
    " UPDATE counters SET value = value + 1 WHERE name = 'entries';"
    " UPDATE counters SET value = value + new.bytes WHERE name = 'bytes';"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN"
    " UPDATE counters SET value = value - 1 WHERE name = 'entries';"
    " UPDATE counters SET value = value - old.bytes WHERE name = 'bytes';"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF bytes ON"
    " entries BEGIN"
    " UPDATE counters SET value = value - old.bytes + new.bytes"
    " WHERE name = 'bytes';"
    " END;";

/* Create the file ourselves so it, and the -wal and -shm files SQLite
 * derives from it, get mode 0600. */
static int create_private_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Run setup SQL, retrying while another process holds the lock during its
 * own first open (journal_mode changes do not wait on the busy handler). */
static int exec_retry(sqlite3 *db, const char *sql)
{
    int rc = SQLITE_BUSY;

    for (int attempt = 0; attempt < 200; attempt++) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        usleep(10000);
    }
    return rc;
}

qf_status qf_fc_index_open(qf_fc_index *idx, const char *path, int busy_ms,
                           char *msg, size_t msg_size)
{
    int rc;

    memset(idx, 0, sizeof(*idx));
    if (create_private_file(path) != 0) {
        snprintf(msg, msg_size, "cannot create cache index %s: %s", path,
                 strerror(errno));
        return QF_ERR_IO;
    }
    rc = sqlite3_open_v2(path, &idx->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(idx->db, busy_ms);
    /* No checkpoint (and fsync) when the process closes the database: the
     * WAL is checkpointed as it grows, and a short-lived qf stays fast. */
    sqlite3_db_config(idx->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

    rc = exec_retry(idx->db, "PRAGMA journal_mode=WAL;"
                             "PRAGMA synchronous=NORMAL;");
    if (rc != SQLITE_OK)
        goto fail;
    rc = exec_retry(idx->db, "BEGIN IMMEDIATE;");
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_exec(idx->db, schema_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(idx->db, "ROLLBACK;", NULL, NULL, NULL);
        goto fail;
    }
    rc = sqlite3_exec(idx->db, "COMMIT;", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;

    pthread_mutex_init(&idx->lock, NULL);
    return QF_OK;

fail:
    snprintf(msg, msg_size,
             "cannot open cache index %s: %s; check that the "
             "folder is writable and the file is a SQLite database",
             path, idx->db ? sqlite3_errmsg(idx->db) : sqlite3_errstr(rc));
    sqlite3_close(idx->db);
    idx->db = NULL;
    return QF_ERR_IO;
}

void qf_fc_index_close(qf_fc_index *idx)
{
    if (idx->db == NULL)
        return;
    sqlite3_finalize(idx->touch);
    sqlite3_close(idx->db);
    idx->db = NULL;
    pthread_mutex_destroy(&idx->lock);
}

qf_status qf_fc_index_begin(qf_fc_index *idx)
{
    pthread_mutex_lock(&idx->lock);
    if (sqlite3_exec(idx->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
        SQLITE_OK) {
        pthread_mutex_unlock(&idx->lock);
        return QF_ERR_IO;
    }
    return QF_OK;
}

qf_status qf_fc_index_commit(qf_fc_index *idx, int ok)
{
    qf_status status = QF_OK;

    if (!ok ||
        sqlite3_exec(idx->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(idx->db, "ROLLBACK;", NULL, NULL, NULL);
        status = ok ? QF_ERR_IO : QF_OK;
    }
    pthread_mutex_unlock(&idx->lock);
    return status;
}

/* Prepare, bind text ?1 and integers ?2.., step once, finalize. */
static qf_status run(qf_fc_index *idx, const char *sql, const char *text,
                     const int64_t *ints, int n_ints)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(idx->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return QF_ERR_IO;
    if (text != NULL)
        sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
    for (int i = 0; i < n_ints; i++)
        sqlite3_bind_int64(stmt, i + 2, ints[i]);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? QF_OK : QF_ERR_IO;
}

qf_status qf_fc_index_upsert(qf_fc_index *idx, const char *key, int64_t bytes,
                             int64_t created_ms, int64_t expires_ms,
                             int64_t access_ms)
{
    const int64_t ints[4] = {bytes, created_ms, expires_ms, access_ms};

    return run(idx,
               "INSERT INTO entries (key, bytes, created_ms, expires_ms,"
               " access_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
               " ON CONFLICT(key) DO UPDATE SET bytes = excluded.bytes,"
               " created_ms = excluded.created_ms,"
               " expires_ms = excluded.expires_ms,"
               " access_ms = excluded.access_ms",
               key, ints, 4);
}

qf_status qf_fc_index_delete(qf_fc_index *idx, const char *key)
{
    return run(idx, "DELETE FROM entries WHERE key = ?1", key, NULL, 0);
}

qf_status qf_fc_index_touch(qf_fc_index *idx, const char *key,
                            int64_t access_ms, int64_t older_than_ms)
{
    int rc;

    if (idx->touch == NULL &&
        sqlite3_prepare_v3(idx->db,
                           "UPDATE entries SET access_ms = ?2"
                           " WHERE key = ?1 AND access_ms < ?3",
                           -1, SQLITE_PREPARE_PERSISTENT, &idx->touch,
                           NULL) != SQLITE_OK)
        return QF_ERR_IO;
    sqlite3_bind_text(idx->touch, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(idx->touch, 2, access_ms);
    sqlite3_bind_int64(idx->touch, 3, older_than_ms);
    rc = sqlite3_step(idx->touch);
    sqlite3_reset(idx->touch);
    return rc == SQLITE_DONE ? QF_OK : QF_ERR_IO;
}

qf_status qf_fc_index_count(qf_fc_index *idx, const char *name, int64_t delta)
{
    if (delta == 0)
        return QF_OK;
    return run(idx, "UPDATE counters SET value = value + ?2 WHERE name = ?1",
               name, &delta, 1);
}

static void store_counter(qf_fc_counters *out, const char *name, int64_t v)
{
    if (strcmp(name, "entries") == 0)
        out->entries = v;
    else if (strcmp(name, "bytes") == 0)
        out->bytes = v;
    else if (strcmp(name, "hits") == 0)
        out->hits = v;
    else if (strcmp(name, "misses") == 0)
        out->misses = v;
    else if (strcmp(name, "evictions") == 0)
        out->evictions = v;
    else if (strcmp(name, "expirations") == 0)
        out->expirations = v;
}

qf_status qf_fc_index_counters(qf_fc_index *idx, qf_fc_counters *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(idx->db, "SELECT name, value FROM counters", -1,
                           &stmt, NULL) != SQLITE_OK)
        return QF_ERR_IO;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        store_counter(out, (const char *)sqlite3_column_text(stmt, 0),
                      sqlite3_column_int64(stmt, 1));
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? QF_OK : QF_ERR_IO;
}

int qf_fc_index_select(qf_fc_index *idx, int64_t expired_before,
                       const char *except, char (*keys)[65], int max)
{
    const char *sql = expired_before != 0
                          ? "SELECT key FROM entries WHERE expires_ms > 0 AND "
                            "expires_ms <= ?2"
                            " AND key IS NOT ?1 ORDER BY expires_ms LIMIT ?3"
                          : "SELECT key FROM entries WHERE key IS NOT ?1"
                            " ORDER BY access_ms LIMIT ?3";
    sqlite3_stmt *stmt = NULL;
    int n = 0;

    if (sqlite3_prepare_v2(idx->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(stmt, 1, except, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, expired_before);
    sqlite3_bind_int(stmt, 3, max);
    while (n < max && sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char *key = sqlite3_column_text(stmt, 0);

        snprintf(keys[n], 65, "%s", key ? (const char *)key : "");
        n++;
    }
    sqlite3_finalize(stmt);
    return n;
}

qf_status qf_fc_index_delete_all(qf_fc_index *idx)
{
    return sqlite3_exec(idx->db, "DELETE FROM entries;", NULL, NULL, NULL) ==
                   SQLITE_OK
               ? QF_OK
               : QF_ERR_IO;
}

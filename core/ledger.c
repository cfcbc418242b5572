/*
 * ledger.c - the cost ledger in <state_dir>/ledger.db. One SQLite table,
 * `calls`, gets one row per finished call; it is opened in WAL mode with a
 * jittered busy handler so several processes can append at once. Reports
 * aggregate in SQL, grouping months in C from day totals so that no date
 * function runs per row.
 */
#include "ledger.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "error.h"

#define LEDGER_FILE_NAME "ledger.db"
#define LEDGER_SCHEMA_VERSION 1
#define MS_PER_DAY 86400000LL
/* Busy handler: up to this many retries of 20-220 microseconds each, about
 * five seconds of waiting in total. */
#define BUSY_MAX_RETRIES 40000

struct qf_ledger {
    sqlite3 *db;
    sqlite3_stmt *insert;
    pthread_mutex_t lock; /* serializes use of `db` and `insert` */
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS calls ("
    " id INTEGER PRIMARY KEY,"
    " time_ms INTEGER NOT NULL,"
    " role TEXT NOT NULL DEFAULT '',"
    " provider TEXT NOT NULL DEFAULT '',"
    " model TEXT NOT NULL DEFAULT '',"
    " input_tokens INTEGER NOT NULL DEFAULT 0,"
    " cached_tokens INTEGER NOT NULL DEFAULT 0,"
    " output_tokens INTEGER NOT NULL DEFAULT 0,"
    " images INTEGER NOT NULL DEFAULT 0,"
    " cost_usd REAL NOT NULL DEFAULT 0,"
    " cache_hit INTEGER NOT NULL DEFAULT 0,"
    " estimated INTEGER NOT NULL DEFAULT 0,"
    " unpriced INTEGER NOT NULL DEFAULT 0,"
    " status TEXT NOT NULL DEFAULT 'ok');"
    "CREATE INDEX IF NOT EXISTS calls_time ON calls(time_ms);"
    "PRAGMA user_version = 1;";

static const char insert_sql[] =
    "INSERT INTO calls (time_ms, role, provider, model, input_tokens,"
    " cached_tokens, output_tokens, images, cost_usd, cache_hit, estimated,"
    " unpriced, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
    " ?12, ?13)";

/* Sleep a short random time so that waiting writers take turns instead of
 * the default handler's growing sleeps, which favour the newest writer. */
static int busy_wait(void *user, int count)
{
    struct timespec pause = {0, 0};
    unsigned seed = (unsigned)(uintptr_t)user ^ (unsigned)count;

    if (count >= BUSY_MAX_RETRIES)
        return 0;
    pause.tv_nsec = 20000 + (long)(rand_r(&seed) % 200000);
    nanosleep(&pause, NULL);
    return 1;
}

/* Run schema SQL, retrying while another process holds the lock: switching
 * to WAL can return SQLITE_BUSY without calling the busy handler. */
static int exec_retrying(sqlite3 *db, const char *sql)
{
    struct timespec pause = {0, 2000000};
    int rc = SQLITE_BUSY;

    for (int attempt = 0; attempt < 2500; attempt++) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        nanosleep(&pause, NULL);
    }
    return rc;
}

static qf_status db_fail(qf_error *err, sqlite3 *db, const char *what,
                         const char *path)
{
    return qf_error_set(err, QF_ERR_IO, "cost ledger %s: %s failed: %s",
                        path ? path : "", what,
                        db ? sqlite3_errmsg(db) : "out of memory");
}

static qf_status make_dirs(const char *dir, qf_error *err)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return qf_error_set(err, QF_ERR_INVALID,
                            "invalid state directory '%s'; expected a path "
                            "shorter than %zu bytes",
                            dir, sizeof(path));
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        goto fail;
    return QF_OK;
fail:
    return qf_error_set(err, QF_ERR_IO,
                        "cannot create state directory %s: %s; check its "
                        "parent's permissions",
                        path, strerror(errno));
}

qf_status qf_ledger_open(const char *state_dir, qf_ledger **out, qf_error *err)
{
    char path[4200];
    qf_ledger *ledger;
    qf_status st;

    *out = NULL;
    st = make_dirs(state_dir, err);
    if (st != QF_OK)
        return st;
    snprintf(path, sizeof(path), "%s/%s", state_dir, LEDGER_FILE_NAME);
    ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&ledger->lock, NULL);

    if (sqlite3_open_v2(path, &ledger->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        st = db_fail(err, ledger->db, "open", path);
        goto fail;
    }
    sqlite3_busy_handler(ledger->db, busy_wait, ledger);
    if (exec_retrying(ledger->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") !=
            SQLITE_OK ||
        exec_retrying(ledger->db, schema_sql) != SQLITE_OK) {
        st = db_fail(err, ledger->db, "creating the schema", path);
        goto fail;
    }
    if (sqlite3_prepare_v2(ledger->db, insert_sql, -1, &ledger->insert,
                           NULL) != SQLITE_OK) {
        st = db_fail(err, ledger->db, "preparing the insert", path);
        goto fail;
    }
    *out = ledger;
    return QF_OK;
fail:
    qf_ledger_close(ledger);
    return st;
}

void qf_ledger_close(qf_ledger *ledger)
{
    if (ledger == NULL)
        return;
    sqlite3_finalize(ledger->insert);
    sqlite3_close(ledger->db);
    pthread_mutex_destroy(&ledger->lock);
    free(ledger);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

qf_status qf_ledger_record(qf_ledger *ledger, const qf_ledger_row *row,
                           qf_error *err)
{
    sqlite3_stmt *s = ledger->insert;
    qf_status st = QF_OK;

    pthread_mutex_lock(&ledger->lock);
    sqlite3_bind_int64(s, 1, row->time_ms);
    sqlite3_bind_text(s, 2, or_empty(row->role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, or_empty(row->provider), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, or_empty(row->model), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, row->input_tokens);
    sqlite3_bind_int64(s, 6, row->cached_tokens);
    sqlite3_bind_int64(s, 7, row->output_tokens);
    sqlite3_bind_int64(s, 8, row->images);
    sqlite3_bind_double(s, 9, row->cost_usd);
    sqlite3_bind_int(s, 10, row->cache_hit != 0);
    sqlite3_bind_int(s, 11, row->estimated != 0);
    sqlite3_bind_int(s, 12, row->unpriced != 0);
    sqlite3_bind_text(s, 13, row->status ? row->status : "ok", -1,
                      SQLITE_STATIC);

    if (sqlite3_step(s) != SQLITE_DONE)
        st = db_fail(err, ledger->db, "recording a call", LEDGER_FILE_NAME);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    pthread_mutex_unlock(&ledger->lock);
    return st;
}

/* --- Reports ---------------------------------------------------------- */

static const char *const group_names[] = {"provider", "model", "role", "day",
                                          "month"};

int qf_ledger_group_parse(const char *name)
{
    for (int i = 0; i < 5; i++) {
        if (name != NULL && strcmp(name, group_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *qf_ledger_group_name(qf_ledger_group group)
{
    return (unsigned)group < 5 ? group_names[group] : "unknown";
}

void qf_ledger_totals_free(qf_ledger_total *totals, size_t count)
{
    for (size_t i = 0; totals != NULL && i < count; i++)
        free(totals[i].key);
    free(totals);
}

static const char *group_column(qf_ledger_group group)
{
    switch (group) {
    case QF_LEDGER_BY_PROVIDER: return "provider";
    case QF_LEDGER_BY_MODEL: return "model";
    case QF_LEDGER_BY_ROLE: return "role";
    default: return "time_ms / 86400000";
    }
}

/* "2026-12-04" or "2026-12" of a UTC day number. */
static char *day_label(int64_t day, int month_only)
{
    time_t seconds = (time_t)(day * 86400);
    struct tm tm;
    char text[32];

    gmtime_r(&seconds, &tm);
    strftime(text, sizeof(text), month_only ? "%Y-%m" : "%Y-%m-%d", &tm);
    return strdup(text);
}

static void read_total(sqlite3_stmt *s, qf_ledger_total *total)
{
    total->calls = sqlite3_column_int64(s, 1);
    total->input_tokens = sqlite3_column_int64(s, 2);
    total->cached_tokens = sqlite3_column_int64(s, 3);
    total->output_tokens = sqlite3_column_int64(s, 4);
    total->images = sqlite3_column_int64(s, 5);
    total->cost_usd = sqlite3_column_double(s, 6);
    total->cache_hits = sqlite3_column_int64(s, 7);
    total->estimated_calls = sqlite3_column_int64(s, 8);
    total->unpriced_calls = sqlite3_column_int64(s, 9);
    total->failed_calls = sqlite3_column_int64(s, 10);
}

static void add_total(qf_ledger_total *into, const qf_ledger_total *from)
{
    into->calls += from->calls;
    into->input_tokens += from->input_tokens;
    into->cached_tokens += from->cached_tokens;
    into->output_tokens += from->output_tokens;
    into->images += from->images;
    into->cost_usd += from->cost_usd;
    into->cache_hits += from->cache_hits;
    into->estimated_calls += from->estimated_calls;
    into->unpriced_calls += from->unpriced_calls;
    into->failed_calls += from->failed_calls;
}

/* Append the current result row, merging it into the last entry when a
 * month report meets another day of the same month. */
static qf_status append_total(sqlite3_stmt *s, qf_ledger_group group,
                              qf_ledger_total **totals, size_t *count,
                              size_t *capacity)
{
    qf_ledger_total row = {0};

    if (group == QF_LEDGER_BY_DAY || group == QF_LEDGER_BY_MONTH)
        row.key = day_label(sqlite3_column_int64(s, 0),
                            group == QF_LEDGER_BY_MONTH);
    else
        row.key = strdup((const char *)sqlite3_column_text(s, 0));
    if (row.key == NULL)
        return QF_ERR_NOMEM;
    read_total(s, &row);

    if (*count > 0 && strcmp((*totals)[*count - 1].key, row.key) == 0) {
        add_total(&(*totals)[*count - 1], &row);
        free(row.key);
        return QF_OK;
    }
    if (*count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 16;
        qf_ledger_total *grown = realloc(*totals, grown_capacity * sizeof(*grown));
        if (grown == NULL) {
            free(row.key);
            return QF_ERR_NOMEM;
        }
        *totals = grown;
        *capacity = grown_capacity;
    }
    (*totals)[(*count)++] = row;
    return QF_OK;
}

qf_status qf_ledger_report(qf_ledger *ledger, qf_ledger_group group,
                           int64_t since_ms, int64_t until_ms,
                           qf_ledger_total **out, size_t *count, qf_error *err)
{
    char sql[640];
    sqlite3_stmt *s = NULL;
    qf_ledger_total *totals = NULL;
    size_t n = 0, capacity = 0;
    qf_status st = QF_OK;
    int rc;

    *out = NULL;
    *count = 0;
    snprintf(sql, sizeof(sql),
             "SELECT %s, COUNT(*), SUM(input_tokens), SUM(cached_tokens),"
             " SUM(output_tokens), SUM(images), SUM(cost_usd), SUM(cache_hit),"
             " SUM(estimated), SUM(unpriced), SUM(status <> 'ok')"
             " FROM calls WHERE time_ms >= ?1 AND time_ms < ?2"
             " GROUP BY 1 ORDER BY 1",
             group_column(group));

    pthread_mutex_lock(&ledger->lock);
    if (sqlite3_prepare_v2(ledger->db, sql, -1, &s, NULL) != SQLITE_OK) {
        st = db_fail(err, ledger->db, "preparing the report", LEDGER_FILE_NAME);
        goto out;
    }
    sqlite3_bind_int64(s, 1, since_ms);
    sqlite3_bind_int64(s, 2, until_ms);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (append_total(s, group, &totals, &n, &capacity) != QF_OK) {
            st = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (rc != SQLITE_DONE)
        st = db_fail(err, ledger->db, "reading the report", LEDGER_FILE_NAME);
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&ledger->lock);
    if (st != QF_OK) {
        qf_ledger_totals_free(totals, n);
        return st;
    }
    *out = totals;
    *count = n;
    return QF_OK;
}

/*
 * ledger.c - the cost ledger in <state_dir>/ledger.db. One SQLite table,
 * `calls`, gets one row per finished call. The database is opened in WAL
 * mode with a jittered busy handler, so several processes can append at
 * once. Reports scan the rows of their range and sum them per group in C,
 * because SQLite's GROUP BY would sort every row first.
 *
 * Rows that cost nothing (cache hits) may be deferred: they queue in memory
 * and a background thread writes them in one transaction every
 * DEFER_INTERVAL_MS or DEFER_BATCH rows, so a cache hit does not pay for a
 * commit. Closing the ledger writes what is queued.
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
#include "log.h"

#define LEDGER_FILE_NAME "ledger.db"
#define MS_PER_DAY       86400000LL
/* Busy handler: up to this many retries of 20-220 microseconds each, about
 * five seconds of waiting in total. */
#define BUSY_MAX_RETRIES 40000

/* Deferred rows are written at least this often, or sooner in batches. */
#define DEFER_INTERVAL_MS 100
#define DEFER_BATCH       256

/* A queued row with its own copies of the strings. */
typedef struct deferred_row {
    qf_ledger_row row;
    char *role, *provider, *model, *status;
} deferred_row;

static size_t flush_queue(qf_ledger *ledger);

struct qf_ledger {
    sqlite3 *db;
    sqlite3_stmt *insert;
    pthread_mutex_t lock; /* serializes use of `db` and `insert` */

    pthread_mutex_t queue_lock; /* guards the fields below */
    pthread_cond_t queue_cond;
    deferred_row *queue;
    size_t queued;
    size_t queue_cap;
    int writer_running;
    int stopping;
    pthread_t writer;
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
    pthread_mutex_init(&ledger->queue_lock, NULL);
    pthread_cond_init(&ledger->queue_cond, NULL);

    if (sqlite3_open_v2(path, &ledger->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        st = db_fail(err, ledger->db, "open", path);
        goto fail;
    }
    sqlite3_busy_handler(ledger->db, busy_wait, ledger);
    /* No checkpoint (and fsync) when the process closes the database: the
     * WAL is checkpointed as it grows, and a short-lived qf stays fast. */
    sqlite3_db_config(ledger->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (exec_retrying(ledger->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") !=
            SQLITE_OK ||
        exec_retrying(ledger->db, schema_sql) != SQLITE_OK) {
        st = db_fail(err, ledger->db, "creating the schema", path);
        goto fail;
    }
    if (sqlite3_prepare_v2(ledger->db, insert_sql, -1, &ledger->insert, NULL) !=
        SQLITE_OK) {
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
    pthread_mutex_lock(&ledger->queue_lock);
    ledger->stopping = 1;
    pthread_cond_signal(&ledger->queue_cond);
    pthread_mutex_unlock(&ledger->queue_lock);
    if (ledger->writer_running)
        pthread_join(ledger->writer, NULL);
    if (ledger->insert != NULL)
        flush_queue(ledger);

    sqlite3_finalize(ledger->insert);
    sqlite3_close(ledger->db);
    pthread_cond_destroy(&ledger->queue_cond);
    pthread_mutex_destroy(&ledger->queue_lock);
    pthread_mutex_destroy(&ledger->lock);
    free(ledger);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Insert one row; the caller holds ledger->lock. */
static qf_status insert_row(qf_ledger *ledger, const qf_ledger_row *row,
                            qf_error *err)
{
    sqlite3_stmt *s = ledger->insert;
    qf_status st = QF_OK;

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
    return st;
}

qf_status qf_ledger_record(qf_ledger *ledger, const qf_ledger_row *row,
                           qf_error *err)
{
    qf_status st;

    pthread_mutex_lock(&ledger->lock);
    st = insert_row(ledger, row, err);
    pthread_mutex_unlock(&ledger->lock);
    return st;
}

/* --- Deferred rows ------------------------------------------------------ */

static void deferred_clear(deferred_row *d)
{
    free(d->role);
    free(d->provider);
    free(d->model);
    free(d->status);
}

/* Write `rows` in one transaction; errors are logged because no caller is
 * waiting for them. */
static void write_deferred(qf_ledger *ledger, deferred_row *rows, size_t count)
{
    qf_error err;
    size_t failed = 0;

    qf_error_init(&err);
    pthread_mutex_lock(&ledger->lock);
    exec_retrying(ledger->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; i < count; i++) {
        if (insert_row(ledger, &rows[i].row, &err) != QF_OK)
            failed++;
        deferred_clear(&rows[i]);
    }
    if (exec_retrying(ledger->db, "COMMIT") != SQLITE_OK) {
        sqlite3_exec(ledger->db, "ROLLBACK", NULL, NULL, NULL);
        failed = count;
    }
    pthread_mutex_unlock(&ledger->lock);
    if (failed > 0)
        qf_log(QF_LOG_ERROR, "ledger",
               "%zu of %zu cache-hit rows not written: %s", failed, count,
               err.message[0] ? err.message : "commit failed");
}

/* Take the queue and write it; returns the number of rows written. */
static size_t flush_queue(qf_ledger *ledger)
{
    deferred_row *rows;
    size_t count;

    pthread_mutex_lock(&ledger->queue_lock);
    rows = ledger->queue;
    count = ledger->queued;
    ledger->queue = NULL;
    ledger->queued = ledger->queue_cap = 0;
    pthread_mutex_unlock(&ledger->queue_lock);

    if (count > 0)
        write_deferred(ledger, rows, count);
    free(rows);
    return count;
}

static void *writer_main(void *arg)
{
    qf_ledger *ledger = arg;

    pthread_mutex_lock(&ledger->queue_lock);
    while (!ledger->stopping) {
        struct timespec until;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += DEFER_INTERVAL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&ledger->queue_cond, &ledger->queue_lock,
                               &until);
        pthread_mutex_unlock(&ledger->queue_lock);
        flush_queue(ledger);
        pthread_mutex_lock(&ledger->queue_lock);
    }
    pthread_mutex_unlock(&ledger->queue_lock);
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

qf_status qf_ledger_record_deferred(qf_ledger *ledger, const qf_ledger_row *row,
                                    qf_error *err)
{
    deferred_row d = {*row, dup_or_null(row->role), dup_or_null(row->provider),
                      dup_or_null(row->model), dup_or_null(row->status)};
    qf_status st = QF_OK;

    d.row.role = d.role;
    d.row.provider = d.provider;
    d.row.model = d.model;
    d.row.status = d.status;

    pthread_mutex_lock(&ledger->queue_lock);
    if (!ledger->writer_running &&
        pthread_create(&ledger->writer, NULL, writer_main, ledger) == 0)
        ledger->writer_running = 1;
    if (ledger->queued == ledger->queue_cap) {
        size_t cap = ledger->queue_cap ? ledger->queue_cap * 2 : 64;
        deferred_row *grown = realloc(ledger->queue, cap * sizeof(*grown));

        if (grown == NULL) {
            st = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        } else {
            ledger->queue = grown;
            ledger->queue_cap = cap;
        }
    }
    if (st == QF_OK) {
        ledger->queue[ledger->queued++] = d;
        if (ledger->queued >= DEFER_BATCH)
            pthread_cond_signal(&ledger->queue_cond);
    }
    pthread_mutex_unlock(&ledger->queue_lock);

    if (st != QF_OK)
        deferred_clear(&d);
    if (!ledger->writer_running)
        flush_queue(ledger); /* no thread: write at once */
    return st;
}

void qf_ledger_flush(qf_ledger *ledger)
{
    if (ledger != NULL)
        flush_queue(ledger);
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

/* Groups met while scanning. Reports have few groups (providers, models,
 * roles, days), so a linear search is enough. It first tries the previous
 * row's group, which for days nearly always matches because rows arrive in
 * time order. */
typedef struct group_set {
    qf_ledger_total *items;
    int64_t *numbers; /* day or month number of each item, for date groups */
    size_t count;
    size_t capacity;
    size_t last;
} group_set;

static const char *group_column(qf_ledger_group group)
{
    switch (group) {
    case QF_LEDGER_BY_PROVIDER: return "provider";
    case QF_LEDGER_BY_MODEL: return "model";
    case QF_LEDGER_BY_ROLE: return "role";
    default: return "time_ms";
    }
}

static int is_date_group(qf_ledger_group group)
{
    return group == QF_LEDGER_BY_DAY || group == QF_LEDGER_BY_MONTH;
}

/* UTC day number of a time, and the month number (year x 12 + month - 1)
 * of a day number. */
static int64_t day_of(int64_t time_ms)
{
    int64_t day = time_ms / MS_PER_DAY;

    return time_ms % MS_PER_DAY < 0 ? day - 1 : day;
}

static int64_t month_of(int64_t day)
{
    time_t seconds = (time_t)(day * 86400);
    struct tm tm;

    gmtime_r(&seconds, &tm);
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

static char *number_label(int64_t number, qf_ledger_group group)
{
    char text[32];
    time_t seconds = (time_t)(number * 86400);
    struct tm tm;

    if (group == QF_LEDGER_BY_MONTH) {
        snprintf(text, sizeof(text), "%04lld-%02lld", (long long)(number / 12),
                 (long long)(number % 12 + 1));
        return strdup(text);
    }
    gmtime_r(&seconds, &tm);
    strftime(text, sizeof(text), "%Y-%m-%d", &tm);
    return strdup(text);
}

static qf_ledger_total *group_add(group_set *set, const char *key,
                                  int64_t number)
{
    qf_ledger_total *item;

    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 16;
        qf_ledger_total *items = realloc(set->items, capacity * sizeof(*items));
        int64_t *numbers;

        if (items == NULL)
            return NULL;
        set->items = items;
        numbers = realloc(set->numbers, capacity * sizeof(*numbers));
        if (numbers == NULL)
            return NULL;
        set->numbers = numbers;
        set->capacity = capacity;
    }
    item = &set->items[set->count];
    memset(item, 0, sizeof(*item));
    if (key != NULL && (item->key = strdup(key)) == NULL)
        return NULL;
    set->numbers[set->count] = number;
    set->last = set->count++;
    return item;
}

/* The group of the current row, added when new; NULL on allocation
 * failure. */
static qf_ledger_total *group_find(group_set *set, sqlite3_stmt *s,
                                   qf_ledger_group group, int64_t *last_day)
{
    if (is_date_group(group)) {
        int64_t day = day_of(sqlite3_column_int64(s, 0));
        int64_t number;

        if (set->count > 0 && day == *last_day)
            return &set->items[set->last];
        *last_day = day;
        number = group == QF_LEDGER_BY_MONTH ? month_of(day) : day;
        for (size_t i = 0; i < set->count; i++) {
            if (set->numbers[i] == number) {
                set->last = i;
                return &set->items[i];
            }
        }
        return group_add(set, NULL, number);
    }

    const char *key = (const char *)sqlite3_column_text(s, 0);

    if (key == NULL)
        key = "";
    if (set->count > 0 && strcmp(set->items[set->last].key, key) == 0)
        return &set->items[set->last];
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->items[i].key, key) == 0) {
            set->last = i;
            return &set->items[i];
        }
    }
    return group_add(set, key, 0);
}

static void add_row(qf_ledger_total *total, sqlite3_stmt *s)
{
    total->calls++;
    total->input_tokens += sqlite3_column_int64(s, 1);
    total->cached_tokens += sqlite3_column_int64(s, 2);
    total->output_tokens += sqlite3_column_int64(s, 3);
    total->images += sqlite3_column_int64(s, 4);
    total->cost_usd += sqlite3_column_double(s, 5);
    total->cache_hits += sqlite3_column_int64(s, 6);
    total->estimated_calls += sqlite3_column_int64(s, 7);
    total->unpriced_calls += sqlite3_column_int64(s, 8);
    total->failed_calls += sqlite3_column_int64(s, 9);
}

static int compare_totals(const void *a, const void *b)
{
    return strcmp(((const qf_ledger_total *)a)->key,
                  ((const qf_ledger_total *)b)->key);
}

/* Label date groups and sort every group by key. Date labels sort in
 * time order. */
static qf_status finish_groups(group_set *set, qf_ledger_group group)
{
    if (is_date_group(group)) {
        for (size_t i = 0; i < set->count; i++) {
            set->items[i].key = number_label(set->numbers[i], group);
            if (set->items[i].key == NULL)
                return QF_ERR_NOMEM;
        }
    }
    if (set->count > 1)
        qsort(set->items, set->count, sizeof(*set->items), compare_totals);
    return QF_OK;
}

/* A scan of every row in the range. With an open range the statement has
 * no WHERE clause, because walking the time index for every row is slower
 * than reading the table. */
static int prepare_scan(sqlite3 *db, qf_ledger_group group, int64_t since_ms,
                        int64_t until_ms, sqlite3_stmt **out)
{
    char sql[512];
    int bounded = since_ms != INT64_MIN || until_ms != INT64_MAX;

    snprintf(sql, sizeof(sql),
             "SELECT %s, input_tokens, cached_tokens, output_tokens, images,"
             " cost_usd, cache_hit, estimated, unpriced, status <> 'ok'"
             " FROM calls%s",
             group_column(group),
             bounded ? " WHERE time_ms >= ?1 AND time_ms < ?2" : "");
    if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK)
        return 0;
    if (bounded) {
        sqlite3_bind_int64(*out, 1, since_ms);
        sqlite3_bind_int64(*out, 2, until_ms);
    }
    return 1;
}

qf_status qf_ledger_report(qf_ledger *ledger, qf_ledger_group group,
                           int64_t since_ms, int64_t until_ms,
                           qf_ledger_total **out, size_t *count, qf_error *err)
{
    sqlite3_stmt *s = NULL;
    group_set set = {0};
    int64_t last_day = 0;
    qf_status st = QF_OK;
    int rc;

    *out = NULL;
    *count = 0;
    flush_queue(ledger);
    pthread_mutex_lock(&ledger->lock);
    if (!prepare_scan(ledger->db, group, since_ms, until_ms, &s)) {
        st = db_fail(err, ledger->db, "preparing the report", LEDGER_FILE_NAME);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qf_ledger_total *total = group_find(&set, s, group, &last_day);

        if (total == NULL) {
            st = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
            goto out;
        }
        add_row(total, s);
    }
    if (rc != SQLITE_DONE)
        st = db_fail(err, ledger->db, "reading the report", LEDGER_FILE_NAME);
    else if (finish_groups(&set, group) != QF_OK)
        st = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&ledger->lock);
    free(set.numbers);
    if (st != QF_OK) {
        qf_ledger_totals_free(set.items, set.count);
        return st;
    }
    *out = set.items;
    *count = set.count;
    return QF_OK;
}

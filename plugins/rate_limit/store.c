/*
 * store.c - the memory and SQLite stores of limiter state. The memory store
 * keeps one state per scope key in a process-wide list under a mutex. The
 * SQLite store keeps one row per scope key in <state_dir>/limits.db (WAL)
 * and runs each check-and-reserve or settle as one BEGIN IMMEDIATE
 * transaction, so concurrent processes see each other's reservations.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

/* Busy handler: up to this many retries of 20-220 microseconds each, about
 * ten seconds of waiting in total. */
#define BUSY_MAX_RETRIES 80000

typedef struct memory_slot {
    struct memory_slot *next;
    pthread_mutex_t lock;
    qf_limiter_state state;
    char key[];
} memory_slot;

struct qf_limiter_store {
    qf_limiter_store_kind kind;
    memory_slot *slot;    /* memory store */
    pthread_mutex_t lock; /* SQLite store: one transaction at a time */
    sqlite3 *db;
    sqlite3_stmt *begin, *select, *upsert, *commit, *rollback;
    char *key;
};

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static memory_slot *slots; /* kept until the process exits */

static const char schema_sql[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS limiter_state ("
    " scope TEXT PRIMARY KEY,"
    " requests_level INTEGER NOT NULL, requests_updated_ms INTEGER NOT NULL,"
    " tokens_level INTEGER NOT NULL, tokens_updated_ms INTEGER NOT NULL,"
    " day_start_ms INTEGER NOT NULL, day_spent REAL NOT NULL,"
    " month_start_ms INTEGER NOT NULL, month_spent REAL NOT NULL"
    ") WITHOUT ROWID;";

static const char select_sql[] =
    "SELECT requests_level, requests_updated_ms, tokens_level,"
    " tokens_updated_ms, day_start_ms, day_spent, month_start_ms, month_spent"
    " FROM limiter_state WHERE scope = ?1";

static const char upsert_sql[] =
    "INSERT OR REPLACE INTO limiter_state VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " ?8, ?9)";

/* --- Memory store ----------------------------------------------------- */

static memory_slot *memory_slot_get(const char *key)
{
    memory_slot *slot;
    size_t len = strlen(key);

    pthread_mutex_lock(&slots_lock);
    for (slot = slots; slot != NULL; slot = slot->next) {
        if (strcmp(slot->key, key) == 0)
            goto out;
    }
    slot = calloc(1, sizeof(*slot) + len + 1);
    if (slot != NULL) {
        pthread_mutex_init(&slot->lock, NULL);
        memcpy(slot->key, key, len + 1);
        slot->next = slots;
        slots = slot;
    }
out:
    pthread_mutex_unlock(&slots_lock);
    return slot;
}

/* --- SQLite store ----------------------------------------------------- */

/* Short random sleeps let waiting processes take turns; SQLite's default
 * handler sleeps longer each time and favours the newest writer. */
static int busy_wait(void *user, int count)
{
    struct timespec pause = {0, 0};
    unsigned seed =
        (unsigned)(uintptr_t)user ^ (unsigned)count ^ (unsigned)clock();

    if (count >= BUSY_MAX_RETRIES)
        return 0;
    pause.tv_nsec = 20000 + (long)(rand_r(&seed) % 200000);
    nanosleep(&pause, NULL);
    return 1;
}

static qf_status db_fail(qf_limiter_store *store, const char *what, char *msg,
                         size_t msg_len)
{
    snprintf(msg, msg_len,
             "limiter state %s: %s failed: %s; check that the "
             "state directory is writable",
             QF_LIMITER_DB_NAME, what,
             store->db ? sqlite3_errmsg(store->db) : "out of memory");
    return QF_ERR_IO;
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

/* Create `dir` and any missing parents with mode 0700. */
static qf_status make_dir(const char *dir, char *msg, size_t msg_len)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        snprintf(msg, msg_len,
                 "invalid state directory '%s'; expected a "
                 "path shorter than %zu bytes",
                 dir, sizeof(path));
        return QF_ERR_INVALID;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;

        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(msg, msg_len,
                     "cannot create state directory %s: %s; create it or "
                     "set state_dir in the configuration",
                     path, strerror(errno));
            return QF_ERR_IO;
        }
        *p = saved;
        if (saved == '\0')
            return QF_OK;
    }
}

static int prepare_all(qf_limiter_store *store)
{
    return sqlite3_prepare_v2(store->db, "BEGIN IMMEDIATE", -1, &store->begin,
                              NULL) == SQLITE_OK &&
           sqlite3_prepare_v2(store->db, select_sql, -1, &store->select,
                              NULL) == SQLITE_OK &&
           sqlite3_prepare_v2(store->db, upsert_sql, -1, &store->upsert,
                              NULL) == SQLITE_OK &&
           sqlite3_prepare_v2(store->db, "COMMIT", -1, &store->commit, NULL) ==
               SQLITE_OK &&
           sqlite3_prepare_v2(store->db, "ROLLBACK", -1, &store->rollback,
                              NULL) == SQLITE_OK;
}

static qf_status sqlite_open(qf_limiter_store *store, const char *state_dir,
                             char *msg, size_t msg_len)
{
    char path[4096];
    qf_status st = make_dir(state_dir, msg, msg_len);

    if (st != QF_OK)
        return st;
    snprintf(path, sizeof(path), "%s/%s", state_dir, QF_LIMITER_DB_NAME);
    if (sqlite3_open_v2(path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return db_fail(store, "open", msg, msg_len);
    sqlite3_busy_handler(store->db, busy_wait, store);
    /* No checkpoint (and fsync) when the process closes the database: the
     * WAL is checkpointed as it grows, and a short-lived qf stays fast. */
    sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (exec_retrying(store->db, schema_sql) != SQLITE_OK)
        return db_fail(store, "creating the schema", msg, msg_len);
    if (!prepare_all(store))
        return db_fail(store, "preparing statements", msg, msg_len);
    return QF_OK;
}

static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    return rc == SQLITE_DONE;
}

static int sqlite_load(qf_limiter_store *store, qf_limiter_state *state)
{
    sqlite3_stmt *s = store->select;
    int rc;

    *state = (qf_limiter_state){{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    sqlite3_bind_text(s, 1, store->key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        state->requests.level = sqlite3_column_int64(s, 0);
        state->requests.updated_ms = sqlite3_column_int64(s, 1);
        state->tokens.level = sqlite3_column_int64(s, 2);
        state->tokens.updated_ms = sqlite3_column_int64(s, 3);
        state->day.period_start_ms = sqlite3_column_int64(s, 4);
        state->day.spent = sqlite3_column_double(s, 5);
        state->month.period_start_ms = sqlite3_column_int64(s, 6);
        state->month.spent = sqlite3_column_double(s, 7);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static int sqlite_save(qf_limiter_store *store, const qf_limiter_state *state)
{
    sqlite3_stmt *s = store->upsert;

    sqlite3_bind_text(s, 1, store->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, state->requests.level);
    sqlite3_bind_int64(s, 3, state->requests.updated_ms);
    sqlite3_bind_int64(s, 4, state->tokens.level);
    sqlite3_bind_int64(s, 5, state->tokens.updated_ms);
    sqlite3_bind_int64(s, 6, state->day.period_start_ms);
    sqlite3_bind_double(s, 7, state->day.spent);
    sqlite3_bind_int64(s, 8, state->month.period_start_ms);
    sqlite3_bind_double(s, 9, state->month.spent);
    return step_done(s);
}

/* The operations a transaction can run on the loaded state. */
typedef struct store_op {
    const qf_limiter_limits *limits;
    const qf_limiter_demand *demand;        /* reserve */
    const qf_limiter_decision *reservation; /* settle */
    int64_t now_ms;
    qf_limiter_decision *decision; /* reserve result */
} store_op;

static int apply_op(qf_limiter_state *state, const store_op *op)
{
    if (op->reservation != NULL) {
        qf_limiter_settle(op->limits, state, op->reservation, op->demand,
                          op->now_ms);
        return 1;
    }
    qf_limiter_decide(op->limits, state, op->demand, op->now_ms, op->decision);
    return op->decision->allowed;
}

/* Load, apply and save in one write transaction; a refusal rolls back. */
static qf_status sqlite_transact(qf_limiter_store *store, const store_op *op,
                                 char *msg, size_t msg_len)
{
    qf_limiter_state state;
    qf_status st = QF_OK;

    pthread_mutex_lock(&store->lock);
    if (!step_done(store->begin)) {
        st = db_fail(store, "BEGIN IMMEDIATE", msg, msg_len);
        goto out;
    }
    if (!sqlite_load(store, &state)) {
        st = db_fail(store, "reading the state", msg, msg_len);
        step_done(store->rollback);
        goto out;
    }
    if (!apply_op(&state, op)) {
        step_done(store->rollback);
        goto out;
    }
    if (!sqlite_save(store, &state) || !step_done(store->commit)) {
        st = db_fail(store, "writing the state", msg, msg_len);
        step_done(store->rollback);
    }
out:
    pthread_mutex_unlock(&store->lock);
    return st;
}

/* --- Both stores ------------------------------------------------------ */

qf_status qf_limiter_store_open(qf_limiter_store_kind kind,
                                const char *state_dir, const char *scope_key,
                                qf_limiter_store **out, char *msg,
                                size_t msg_len)
{
    qf_limiter_store *store = calloc(1, sizeof(*store));
    qf_status st = QF_OK;

    *out = NULL;
    if (store == NULL || (store->key = strdup(scope_key)) == NULL) {
        free(store);
        snprintf(msg, msg_len, "out of memory");
        return QF_ERR_NOMEM;
    }
    store->kind = kind;
    pthread_mutex_init(&store->lock, NULL);

    if (kind == QF_LIMITER_STORE_MEMORY) {
        store->slot = memory_slot_get(scope_key);
        if (store->slot == NULL) {
            snprintf(msg, msg_len, "out of memory");
            st = QF_ERR_NOMEM;
        }
    } else {
        st = sqlite_open(store, state_dir, msg, msg_len);
    }
    if (st != QF_OK) {
        qf_limiter_store_close(store);
        return st;
    }
    *out = store;
    return QF_OK;
}

void qf_limiter_store_close(qf_limiter_store *store)
{
    if (store == NULL)
        return;
    sqlite3_finalize(store->begin);
    sqlite3_finalize(store->select);
    sqlite3_finalize(store->upsert);
    sqlite3_finalize(store->commit);
    sqlite3_finalize(store->rollback);
    sqlite3_close(store->db);
    pthread_mutex_destroy(&store->lock);
    free(store->key);
    free(store);
}

static qf_status run_op(qf_limiter_store *store, const store_op *op, char *msg,
                        size_t msg_len)
{
    if (store->kind == QF_LIMITER_STORE_SQLITE)
        return sqlite_transact(store, op, msg, msg_len);

    pthread_mutex_lock(&store->slot->lock);
    apply_op(&store->slot->state, op);
    pthread_mutex_unlock(&store->slot->lock);
    return QF_OK;
}

qf_status qf_limiter_store_reserve(qf_limiter_store *store,
                                   const qf_limiter_limits *limits,
                                   const qf_limiter_demand *demand,
                                   int64_t now_ms, qf_limiter_decision *out,
                                   char *msg, size_t msg_len)
{
    store_op op = {limits, demand, NULL, now_ms, out};

    return run_op(store, &op, msg, msg_len);
}

qf_status qf_limiter_store_settle(qf_limiter_store *store,
                                  const qf_limiter_limits *limits,
                                  const qf_limiter_decision *reservation,
                                  const qf_limiter_demand *actual,
                                  int64_t now_ms, char *msg, size_t msg_len)
{
    store_op op = {limits, actual, reservation, now_ms, NULL};

    return run_op(store, &op, msg, msg_len);
}

qf_status qf_limiter_store_read(qf_limiter_store *store, qf_limiter_state *out,
                                char *msg, size_t msg_len)
{
    qf_status st = QF_OK;

    if (store->kind == QF_LIMITER_STORE_MEMORY) {
        pthread_mutex_lock(&store->slot->lock);
        *out = store->slot->state;
        pthread_mutex_unlock(&store->slot->lock);
        return QF_OK;
    }
    pthread_mutex_lock(&store->lock);
    if (!sqlite_load(store, out))
        st = db_fail(store, "reading the state", msg, msg_len);
    pthread_mutex_unlock(&store->lock);
    return st;
}

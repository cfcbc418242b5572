/*
 * fc_index.h - the SQLite index shared by every process using one
 * file_cache directory: one row per entry (size, times, last access) and
 * running counters, so eviction, pruning and statistics never scan the
 * directory.
 *
 * A qf_fc_index is one connection guarded by one mutex; every function may
 * be called from any thread. Changes that touch entry files run inside
 * qf_fc_index_begin/qf_fc_index_commit, which hold SQLite's write lock, so
 * a file and its row change together as seen by every other process.
 */
#ifndef QF_FC_INDEX_H
#define QF_FC_INDEX_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "qf/abi.h"

typedef struct qf_fc_index {
    sqlite3 *db;
    pthread_mutex_t lock;
    sqlite3_stmt *touch; /* prepared once: the hot statement of a flush */
} qf_fc_index;

/* Running totals kept in the index. */
typedef struct qf_fc_counters {
    int64_t entries;
    int64_t bytes;
    int64_t hits;
    int64_t misses;
    int64_t evictions;
    int64_t expirations;
} qf_fc_counters;

/* Open or create `path` (mode 0600, WAL, busy timeout `busy_ms`) and its
 * schema. On failure returns QF_ERR_IO and a message in `msg`. */
qf_status qf_fc_index_open(qf_fc_index *idx, const char *path, int busy_ms,
                           char *msg, size_t msg_size);
void qf_fc_index_close(qf_fc_index *idx);

/* Take the mutex and SQLite's write lock (BEGIN IMMEDIATE). */
qf_status qf_fc_index_begin(qf_fc_index *idx);
/* Commit (or roll back when `ok` is 0) and release the mutex. */
qf_status qf_fc_index_commit(qf_fc_index *idx, int ok);

/* Inside a transaction: insert or replace one row. */
qf_status qf_fc_index_upsert(qf_fc_index *idx, const char *key, int64_t bytes,
                             int64_t created_ms, int64_t expires_ms,
                             int64_t access_ms);
/* Inside a transaction: delete one row (absent rows are fine). */
qf_status qf_fc_index_delete(qf_fc_index *idx, const char *key);
/* Inside a transaction: set a row's last access time to `access_ms` when
 * the stored one is before `older_than_ms`, so recent rows are not
 * rewritten. */
qf_status qf_fc_index_touch(qf_fc_index *idx, const char *key,
                            int64_t access_ms, int64_t older_than_ms);
/* Inside a transaction: add to a named counter ("hits", "evictions"...). */
qf_status qf_fc_index_count(qf_fc_index *idx, const char *name, int64_t delta);
/* Inside a transaction: read every counter. */
qf_status qf_fc_index_counters(qf_fc_index *idx, qf_fc_counters *out);

/*
 * Inside a transaction: up to `max` keys, least recently used first
 * (`expired_before` 0), or expired at `expired_before` ms (non-zero). Keys
 * are written to keys[i] (65 bytes each), skipping `except` (may be NULL).
 * Returns the number found, or -1 on a database error.
 */
int qf_fc_index_select(qf_fc_index *idx, int64_t expired_before,
                       const char *except, char (*keys)[65], int max);

/* Inside a transaction: delete every row. */
qf_status qf_fc_index_delete_all(qf_fc_index *idx);

#endif /* QF_FC_INDEX_H */

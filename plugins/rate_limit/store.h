/*
 * store.h - where limiter state lives: in process memory, or in a SQLite
 * database shared by every process on the machine. Both run the pure
 * limiter core; a store only makes check-and-reserve and settle atomic.
 *
 * Threads: every function may be called from any thread; a store
 * serializes its own work.
 */
#ifndef QF_RATE_LIMIT_STORE_H
#define QF_RATE_LIMIT_STORE_H

#include <stddef.h>

#include "qf/abi.h"

#include "limiter.h"

#define QF_LIMITER_DB_NAME "limits.db"

typedef enum qf_limiter_store_kind {
    QF_LIMITER_STORE_SQLITE = 0,
    QF_LIMITER_STORE_MEMORY = 1,
    QF_LIMITER_STORE_REDIS = 2 /* store_redis.h; qf_limiter_store_open
                                  does not open it */
} qf_limiter_store_kind;

typedef struct qf_limiter_store qf_limiter_store;

/*
 * Open the state of scope `scope_key` ("provider:openai"). The SQLite store
 * uses <state_dir>/limits.db, creating the folder (0700) and the database.
 * Memory stores of one scope key share one state within the process. On
 * failure a message naming the path and the fix is written to msg.
 */
qf_status qf_limiter_store_open(qf_limiter_store_kind kind,
                                const char *state_dir, const char *scope_key,
                                qf_limiter_store **out, char *msg,
                                size_t msg_len);
void qf_limiter_store_close(qf_limiter_store *store);

/* Check and reserve in one atomic step (one write transaction for SQLite). */
qf_status qf_limiter_store_reserve(qf_limiter_store *store,
                                   const qf_limiter_limits *limits,
                                   const qf_limiter_demand *demand,
                                   int64_t now_ms, qf_limiter_decision *out,
                                   char *msg, size_t msg_len);

/* Settle a reservation against what the call used. */
qf_status qf_limiter_store_settle(qf_limiter_store *store,
                                  const qf_limiter_limits *limits,
                                  const qf_limiter_decision *reservation,
                                  const qf_limiter_demand *actual,
                                  int64_t now_ms, char *msg, size_t msg_len);

/* A copy of the current state, without refill applied. */
qf_status qf_limiter_store_read(qf_limiter_store *store, qf_limiter_state *out,
                                char *msg, size_t msg_len);

#endif /* QF_RATE_LIMIT_STORE_H */

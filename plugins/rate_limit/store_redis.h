/*
 * store_redis.h - limiter state in Redis, shared by every runtime that uses
 * the same server and key prefix. Check-and-reserve and settle each run as
 * one Lua script on the server (EVALSHA, with EVAL after NOSCRIPT), so they
 * are atomic across machines. The state of a scope is one hash,
 * <key_prefix><scope key>, whose expiry outlasts its buckets' refill and
 * its budgets' periods.
 *
 * Compiled only when QF_WITH_REDIS is defined. Threads: every function
 * except qf_rl_redis_close may be called from any thread.
 */
#ifndef QF_RATE_LIMIT_STORE_REDIS_H
#define QF_RATE_LIMIT_STORE_REDIS_H

#include "qf/host.h"

#include "limiter.h"

typedef struct qf_rl_redis_store qf_rl_redis_store;

/*
 * Read the Redis settings of the instance (redis_url, redis_password,
 * key_prefix, connect_timeout_ms, command_timeout_ms, retry_interval_ms,
 * pool_size, on_store_error) and create the store for `scope_key`. No
 * connection is needed yet. `host` and `ctx` must outlive the store.
 * Returns QF_ERR_CONFIG with a message on `err` for an invalid setting.
 */
qf_status qf_rl_redis_open(const qf_host *host, qf_context *ctx,
                           const char *scope_key, qf_rl_redis_store **out,
                           qf_error *err);
void qf_rl_redis_close(qf_rl_redis_store *store);

/*
 * Check and reserve in one script. When Redis cannot be reached, logs a
 * rate-limited warning and either refuses with QF_ERR_REFUSED
 * (on_store_error: fail_closed, the default) or allows the call without a
 * reservation (fail_open: *out is allowed with nothing reserved, so the
 * settlement later charges the actual usage).
 */
qf_status qf_rl_redis_reserve(qf_rl_redis_store *store,
                              const qf_limiter_limits *limits,
                              const qf_limiter_demand *demand, int64_t now_ms,
                              qf_limiter_decision *out, qf_error *err);

/* Settle a reservation in one script; a failure is logged (rate-limited)
 * and leaves the reservation to refill with time. */
void qf_rl_redis_settle(qf_rl_redis_store *store,
                        const qf_limiter_limits *limits,
                        const qf_limiter_decision *reservation,
                        const qf_limiter_demand *actual, int64_t now_ms);

/* Read the stored state of the scope (all zero when absent), for tests
 * and `qf limits show`. Returns QF_OK or a connection status with a
 * message in msg. */
qf_status qf_rl_redis_read(qf_rl_redis_store *store, qf_limiter_state *out,
                           char *msg, size_t msg_len);

#endif /* QF_RATE_LIMIT_STORE_REDIS_H */

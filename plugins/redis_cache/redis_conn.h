/*
 * redis_conn.h - a small pool of hiredis connections to one Redis server,
 * named by a redis:// URL, with connect and command timeouts and one
 * reconnect-and-retry when a command fails on the connection. Shared by the
 * redis_cache backend and the rate_limit plugin's Redis store.
 *
 * Threads: every function except qf_redis_pool_destroy may be called from
 * any thread. Each connection is used by one thread at a time under its
 * own mutex; a caller takes any idle connection, or waits for one.
 */
#ifndef QF_REDIS_CONN_H
#define QF_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "qf/host.h"

#define QF_REDIS_DEFAULT_URL  "redis://127.0.0.1:6379/0"
#define QF_REDIS_DEFAULT_PORT 6379

/* The parts of a redis:// URL. Strings are malloc'd; user and password
 * are NULL when the URL has none. */
typedef struct qf_redis_target {
    char *host; /* without IPv6 brackets */
    int port;
    int db;
    char *user;
    char *password;
} qf_redis_target;

/*
 * Parse redis://[[user]:password@]host[:port][/db] with libcurl's URL API.
 * Returns QF_OK, or QF_ERR_CONFIG with a message in msg that never contains
 * the password. Free the result with qf_redis_target_clear.
 */
qf_status qf_redis_url_parse(const char *url, qf_redis_target *out, char *msg,
                             size_t msg_len);
void qf_redis_target_clear(qf_redis_target *target);

typedef struct qf_redis_settings {
    const char *url;            /* NULL: QF_REDIS_DEFAULT_URL */
    const char *password;       /* replaces the URL's password; may be NULL */
    int64_t connect_timeout_ms; /* > 0 */
    int64_t command_timeout_ms; /* > 0 */
    int pool_size;              /* connections, 1 or more */
    /* After a failed connect, commands fail at once for this long instead
     * of waiting for another connect timeout each. */
    int64_t retry_interval_ms;
} qf_redis_settings;

/* One command in argv form; argvlen may be NULL for NUL-terminated args. */
typedef struct qf_redis_cmd {
    int argc;
    const char **argv;
    const size_t *argvlen;
} qf_redis_cmd;

typedef struct qf_redis_pool qf_redis_pool;

/*
 * Create a pool. No connection is made here: each connection is opened on
 * first use, so a runtime starts while Redis is down. `host` and `ctx`
 * (for the clock and logging) must outlive the pool. The pool keeps its
 * own copy of the settings' strings.
 */
qf_status qf_redis_pool_create(const qf_host *host, qf_context *ctx,
                               const qf_redis_settings *settings,
                               qf_redis_pool **out, char *msg, size_t msg_len);
void qf_redis_pool_destroy(qf_redis_pool *pool);

/* "host:port/db" of the server, for messages; never the password. */
const char *qf_redis_pool_address(const qf_redis_pool *pool);

/*
 * Send `count` commands as one pipeline and read their replies into
 * replies[0..count-1], which the caller frees with freeReplyObject (a reply
 * may be a Redis error reply). When the connection fails, it reconnects
 * once and sends the whole pipeline again, so a command whose reply was
 * lost may run twice. Returns QF_OK, QF_ERR_CONNECT or QF_ERR_TIMEOUT with
 * a message in msg (no replies then).
 */
qf_status qf_redis_pool_run(qf_redis_pool *pool, const qf_redis_cmd *cmds,
                            size_t count, redisReply **replies, char *msg,
                            size_t msg_len);

/* One command; the reply in *reply as for qf_redis_pool_run. */
qf_status qf_redis_pool_command(qf_redis_pool *pool, int argc,
                                const char **argv, const size_t *argvlen,
                                redisReply **reply, char *msg, size_t msg_len);

#endif /* QF_REDIS_CONN_H */

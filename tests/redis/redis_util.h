/*
 * redis_util.h - a private redis-server for one test: started on a free
 * loopback port with persistence off, waited for with PING, stopped by its
 * process id, and restarted on the same port.
 */
#ifndef QF_TEST_REDIS_UTIL_H
#define QF_TEST_REDIS_UTIL_H

#include <sys/types.h>

#include <hiredis/hiredis.h>

#define QF_TEST_REDIS_SERVER "/usr/bin/redis-server"

typedef struct qf_test_redis {
    pid_t pid; /* 0 while stopped */
    int port;
    char url[64]; /* redis://127.0.0.1:PORT/0 */
} qf_test_redis;

/*
 * Start redis-server on `port` (0: a free port) with the extra arguments
 * (NULL-terminated, may be NULL) and wait until it replies to PING. Returns 0
 * on success. With port 0 a port taken meanwhile by another process is
 * replaced by a new one.
 */
int qf_test_redis_start(qf_test_redis *r, int port, const char *const extra[]);

/* Stop the server with SIGTERM and wait for it; no-op when stopped. */
void qf_test_redis_stop(qf_test_redis *r);

/* A direct connection for checks; the caller frees it with redisFree. */
redisContext *qf_test_redis_connect(const qf_test_redis *r);

/* Run one command on a new connection; returns the reply (freeReplyObject)
 * or NULL. Arguments as for redisCommand. */
redisReply *qf_test_redis_command(const qf_test_redis *r, const char *fmt, ...);

/* Integer result of one command, or -1000000 when it failed. */
long long qf_test_redis_integer(const qf_test_redis *r, const char *fmt, ...);

#endif /* QF_TEST_REDIS_UTIL_H */

/*
 * redis_conn.c - redis:// URL parsing with libcurl's URL API and a pool of
 * hiredis connections. libcurl is loaded on the first URL parsed, not
 * linked: the rate_limit plugin carries this file, and most of its users
 * never name a Redis URL, so their processes start without libcurl. A
 * connection is opened on first use (connect, AUTH, SELECT) and kept while it
 * works. After an I/O error it is dropped, and the command is sent once more on
 * a fresh connection. After a failed connect every command fails at once until
 * retry_interval_ms has passed, so a server that is down costs one connect
 * timeout per interval, not per request.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <curl/curl.h>

#include "redis_conn.h"

typedef struct redis_slot {
    pthread_mutex_t lock;
    redisContext *conn; /* NULL until first use or after a failure */
} redis_slot;

struct qf_redis_pool {
    const qf_host *host;
    qf_context *ctx;
    qf_redis_target target;
    struct timeval connect_tv;
    struct timeval command_tv;
    int64_t retry_interval_ns;
    _Atomic int64_t down_until_ns; /* 0: no recent connect failure */
    _Atomic unsigned next_slot;
    pthread_mutex_t error_lock; /* guards last_error */
    char last_error[256];
    char address[300];
    int size;
    redis_slot *slots;
};

/* --- URL --------------------------------------------------------------- */

/* The five libcurl functions URL parsing needs, resolved at first use. */
static struct {
    CURLU *(*url)(void);
    CURLUcode (*set)(CURLU *, CURLUPart, const char *, unsigned int);
    CURLUcode (*get)(const CURLU *, CURLUPart, char **, unsigned int);
    void (*cleanup)(CURLU *);
    void (*free)(void *);
    char error[160];
} curl_api;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* dlsym's object pointer converted to a function pointer, as POSIX allows. */
static void bind_symbol(void *lib, const char *name, void *slot, size_t size)
{
    void *symbol = dlsym(lib, name);

    if (symbol != NULL)
        memcpy(slot, &symbol, size);
}

static void load_curl(void)
{
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

    if (lib == NULL) {
        const char *reason = dlerror();

        snprintf(curl_api.error, sizeof(curl_api.error),
                 "libcurl.so.4 could not be loaded (%s); install libcurl",
                 reason ? reason : "unknown error");
        return;
    }
    bind_symbol(lib, "curl_url", &curl_api.url, sizeof(curl_api.url));
    bind_symbol(lib, "curl_url_set", &curl_api.set, sizeof(curl_api.set));
    bind_symbol(lib, "curl_url_get", &curl_api.get, sizeof(curl_api.get));
    bind_symbol(lib, "curl_url_cleanup", &curl_api.cleanup,
                sizeof(curl_api.cleanup));
    bind_symbol(lib, "curl_free", &curl_api.free, sizeof(curl_api.free));
    if (!curl_api.url || !curl_api.set || !curl_api.get || !curl_api.cleanup ||
        !curl_api.free) {
        curl_api.url = NULL;
        snprintf(curl_api.error, sizeof(curl_api.error),
                 "libcurl.so.4 has no URL API; install libcurl 7.62 or newer");
    }
}

static char *url_part(CURLU *u, CURLUPart part, unsigned flags)
{
    char *value = NULL;
    char *copy;

    if (curl_api.get(u, part, &value, flags) != CURLUE_OK || value == NULL)
        return NULL;
    copy = strdup(value);
    curl_api.free(value);
    return copy;
}

/* Parse a decimal number in [min, max]; returns 0 or -1. */
static int parse_range(const char *text, long min, long max, int *out)
{
    char *end = NULL;
    long value;

    if (text == NULL || *text == '\0')
        return -1;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;
    *out = (int)value;
    return 0;
}

/* Fill host, port and db from a parsed URL; returns a reason or NULL. */
static const char *read_address(CURLU *u, qf_redis_target *out)
{
    char *port = url_part(u, CURLUPART_PORT, 0);
    char *path = url_part(u, CURLUPART_PATH, 0);
    const char *reason = NULL;
    size_t len;

    out->host = url_part(u, CURLUPART_HOST, 0);
    len = out->host ? strlen(out->host) : 0;
    if (len == 0)
        reason = "it has no host";
    else if (out->host[0] == '[' && out->host[len - 1] == ']') {
        memmove(out->host, out->host + 1, len - 2);
        out->host[len - 2] = '\0';
    }

    out->port = QF_REDIS_DEFAULT_PORT;
    if (reason == NULL && port != NULL &&
        parse_range(port, 1, 65535, &out->port) != 0)
        reason = "its port is not a number from 1 to 65535";
    out->db = 0;
    if (reason == NULL && path != NULL && strcmp(path, "") != 0 &&
        strcmp(path, "/") != 0 &&
        parse_range(path + 1, 0, 65535, &out->db) != 0)
        reason = "its path is not a database number such as /0";
    free(port);
    free(path);
    return reason;
}

/* Check scheme and query; returns a reason or NULL. */
static const char *check_scheme(CURLU *u)
{
    char *scheme = url_part(u, CURLUPART_SCHEME, 0);
    char *query = url_part(u, CURLUPART_QUERY, 0);
    const char *reason = NULL;

    if (scheme != NULL && strcmp(scheme, "rediss") == 0)
        reason = "TLS (rediss://) is not supported with hiredis 0.14; reach "
                 "the server through a loopback TLS tunnel and use redis://";
    else if (scheme == NULL || strcmp(scheme, "redis") != 0)
        reason = "its scheme is not redis://";
    else if (query != NULL)
        reason = "it has a query string, which no setting reads";
    free(scheme);
    free(query);
    return reason;
}

qf_status qf_redis_url_parse(const char *url, qf_redis_target *out, char *msg,
                             size_t msg_len)
{
    CURLU *u = NULL;
    const char *reason = NULL;

    memset(out, 0, sizeof(*out));
    pthread_once(&curl_once, load_curl);
    if (curl_api.url == NULL) {
        snprintf(msg, msg_len, "%s", curl_api.error);
        return QF_ERR_CONFIG;
    }
    u = curl_api.url();
    if (u == NULL)
        reason = "out of memory";
    else if (curl_api.set(u, CURLUPART_URL, url ? url : "",
                          CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        reason = "it is not a URL";
    if (reason == NULL)
        reason = check_scheme(u);
    if (reason == NULL)
        reason = read_address(u, out);
    if (reason == NULL) {
        out->user = url_part(u, CURLUPART_USER, CURLU_URLDECODE);
        out->password = url_part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
        if (out->user != NULL && out->user[0] == '\0') {
            free(out->user);
            out->user = NULL;
        }
    }
    if (u != NULL)
        curl_api.cleanup(u);

    if (reason == NULL)
        return QF_OK;
    qf_redis_target_clear(out);
    /* The URL itself may carry a password, so the message never shows it. */
    snprintf(msg, msg_len,
             "invalid redis_url: %s; expected "
             "redis://[:password@]host[:port][/db] such as %s",
             reason, QF_REDIS_DEFAULT_URL);
    return QF_ERR_CONFIG;
}

void qf_redis_target_clear(qf_redis_target *target)
{
    free(target->host);
    free(target->user);
    free(target->password);
    memset(target, 0, sizeof(*target));
}

/* --- Pool lifecycle ---------------------------------------------------- */

static struct timeval to_timeval(int64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

static qf_status apply_password(qf_redis_pool *pool, const char *password,
                                char *msg, size_t msg_len)
{
    if (password == NULL || password[0] == '\0')
        return QF_OK;
    free(pool->target.password);
    pool->target.password = strdup(password);
    if (pool->target.password == NULL) {
        snprintf(msg, msg_len, "out of memory");
        return QF_ERR_NOMEM;
    }
    return QF_OK;
}

qf_status qf_redis_pool_create(const qf_host *host, qf_context *ctx,
                               const qf_redis_settings *settings,
                               qf_redis_pool **out, char *msg, size_t msg_len)
{
    qf_redis_pool *pool = calloc(1, sizeof(*pool));
    int size = settings->pool_size > 0 ? settings->pool_size : 1;
    qf_status st;

    if (pool == NULL ||
        (pool->slots = calloc((size_t)size, sizeof(redis_slot))) == NULL) {
        free(pool);
        snprintf(msg, msg_len, "out of memory");
        return QF_ERR_NOMEM;
    }
    pool->host = host;
    pool->ctx = ctx;
    pool->size = size;
    for (int i = 0; i < size; i++)
        pthread_mutex_init(&pool->slots[i].lock, NULL);
    pthread_mutex_init(&pool->error_lock, NULL);
    pool->connect_tv = to_timeval(settings->connect_timeout_ms);
    pool->command_tv = to_timeval(settings->command_timeout_ms);
    pool->retry_interval_ns = settings->retry_interval_ms * 1000000;

    st =
        qf_redis_url_parse(settings->url ? settings->url : QF_REDIS_DEFAULT_URL,
                           &pool->target, msg, msg_len);
    if (st == QF_OK)
        st = apply_password(pool, settings->password, msg, msg_len);
    if (st != QF_OK) {
        qf_redis_pool_destroy(pool);
        return st;
    }
    if (strchr(pool->target.host, ':') != NULL)
        snprintf(pool->address, sizeof(pool->address), "[%s]:%d/%d",
                 pool->target.host, pool->target.port, pool->target.db);
    else
        snprintf(pool->address, sizeof(pool->address), "%s:%d/%d",
                 pool->target.host, pool->target.port, pool->target.db);
    *out = pool;
    return QF_OK;
}

void qf_redis_pool_destroy(qf_redis_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->size; i++) {
        if (pool->slots[i].conn != NULL)
            redisFree(pool->slots[i].conn);
        pthread_mutex_destroy(&pool->slots[i].lock);
    }
    pthread_mutex_destroy(&pool->error_lock);
    qf_redis_target_clear(&pool->target);
    free(pool->slots);
    free(pool);
}

const char *qf_redis_pool_address(const qf_redis_pool *pool)
{
    return pool->address;
}

/* --- Connecting -------------------------------------------------------- */

/* Status of a failed context: timeouts apart from other failures. */
static qf_status context_status(const redisContext *c)
{
    if (c != NULL && c->err == REDIS_ERR_IO &&
        (errno == EAGAIN || errno == ETIMEDOUT || errno == EINPROGRESS))
        return QF_ERR_TIMEOUT;
    if (c != NULL && strstr(c->errstr, "imed out") != NULL)
        return QF_ERR_TIMEOUT;
    return QF_ERR_CONNECT;
}

/* AUTH and SELECT on a new connection; returns a reason or NULL. The AUTH
 * errors of Redis 6 and 7 (WRONGPASS, ERR) do not echo the password. */
static const char *handshake(qf_redis_pool *pool, redisContext *c, char *buf,
                             size_t buf_len)
{
    const qf_redis_target *t = &pool->target;
    redisReply *r = NULL;
    char db[16];

    if (t->password != NULL) {
        if (t->user != NULL)
            r = redisCommand(c, "AUTH %s %s", t->user, t->password);
        else
            r = redisCommand(c, "AUTH %s", t->password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(buf, buf_len,
                     "authentication failed: %s; check "
                     "redis_password",
                     r ? r->str : c->errstr);
            freeReplyObject(r);
            return buf;
        }
        freeReplyObject(r);
    }
    if (t->db == 0)
        return NULL;
    snprintf(db, sizeof(db), "%d", t->db);
    r = redisCommand(c, "SELECT %s", db);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(buf, buf_len, "SELECT %d failed: %s", t->db,
                 r ? r->str : c->errstr);
        freeReplyObject(r);
        return buf;
    }
    freeReplyObject(r);
    return NULL;
}

static void remember_failure(qf_redis_pool *pool, const char *reason)
{
    int64_t now = pool->host->monotonic_ns(pool->ctx);

    pthread_mutex_lock(&pool->error_lock);
    snprintf(pool->last_error, sizeof(pool->last_error), "%s", reason);
    pthread_mutex_unlock(&pool->error_lock);
    atomic_store(&pool->down_until_ns, now + pool->retry_interval_ns);
}

/* Open slot->conn; returns QF_OK or a status with a message. */
static qf_status slot_connect(qf_redis_pool *pool, redis_slot *slot, char *msg,
                              size_t msg_len)
{
    redisContext *c = redisConnectWithTimeout(
        pool->target.host, pool->target.port, pool->connect_tv);
    char reason[256];
    const char *failed = NULL;
    qf_status st = QF_ERR_CONNECT;

    if (c == NULL)
        failed = "out of memory";
    else if (c->err != 0) {
        st = context_status(c);
        snprintf(reason, sizeof(reason), "%s", c->errstr);
        failed = reason;
    } else if (redisSetTimeout(c, pool->command_tv) != REDIS_OK)
        failed = "cannot set the command timeout";
    else
        failed = handshake(pool, c, reason, sizeof(reason));

    if (failed != NULL) {
        if (c != NULL)
            redisFree(c);
        remember_failure(pool, failed);
        snprintf(msg, msg_len, "cannot connect to Redis at %s: %s",
                 pool->address, failed);
        return st;
    }
    atomic_store(&pool->down_until_ns, 0);
    slot->conn = c;
    return QF_OK;
}

/* Connect unless a connect failed less than retry_interval_ms ago. */
static qf_status slot_ensure(qf_redis_pool *pool, redis_slot *slot,
                             int ignore_backoff, char *msg, size_t msg_len)
{
    int64_t until = atomic_load(&pool->down_until_ns);
    int64_t now;

    if (slot->conn != NULL)
        return QF_OK;
    now = pool->host->monotonic_ns(pool->ctx);
    if (!ignore_backoff && until != 0 && now < until) {
        pthread_mutex_lock(&pool->error_lock);
        snprintf(msg, msg_len,
                 "Redis at %s is unreachable (%s); the next "
                 "connect attempt is in %lld ms",
                 pool->address, pool->last_error,
                 (long long)((until - now) / 1000000 + 1));
        pthread_mutex_unlock(&pool->error_lock);
        return QF_ERR_CONNECT;
    }
    return slot_connect(pool, slot, msg, msg_len);
}

/* --- Commands ---------------------------------------------------------- */

static redis_slot *slot_acquire(qf_redis_pool *pool)
{
    unsigned start = atomic_fetch_add(&pool->next_slot, 1);

    for (int i = 0; i < pool->size; i++) {
        redis_slot *slot =
            &pool->slots[(start + (unsigned)i) % (unsigned)pool->size];

        if (pthread_mutex_trylock(&slot->lock) == 0)
            return slot;
    }
    pthread_mutex_lock(&pool->slots[start % (unsigned)pool->size].lock);
    return &pool->slots[start % (unsigned)pool->size];
}

/* Send the pipeline on slot->conn; on failure drop the connection and
 * return its status, freeing any replies already read. */
static qf_status send_pipeline(qf_redis_pool *pool, redis_slot *slot,
                               const qf_redis_cmd *cmds, size_t count,
                               redisReply **replies, char *msg, size_t msg_len)
{
    redisContext *c = slot->conn;
    size_t got = 0;
    qf_status st;

    for (size_t i = 0; i < count; i++)
        if (redisAppendCommandArgv(c, cmds[i].argc, cmds[i].argv,
                                   cmds[i].argvlen) != REDIS_OK)
            goto fail;
    for (; got < count; got++)
        if (redisGetReply(c, (void **)&replies[got]) != REDIS_OK)
            goto fail;
    return QF_OK;

fail:
    st = context_status(c);
    snprintf(msg, msg_len, "Redis command to %s failed: %s", pool->address,
             c->errstr[0] ? c->errstr : "connection lost");
    for (size_t i = 0; i < got; i++) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
    redisFree(c);
    slot->conn = NULL;
    return st;
}

qf_status qf_redis_pool_run(qf_redis_pool *pool, const qf_redis_cmd *cmds,
                            size_t count, redisReply **replies, char *msg,
                            size_t msg_len)
{
    redis_slot *slot = slot_acquire(pool);
    int had_connection = slot->conn != NULL;
    qf_status st;

    st = slot_ensure(pool, slot, 0, msg, msg_len);
    if (st == QF_OK)
        st = send_pipeline(pool, slot, cmds, count, replies, msg, msg_len);

    /* A connection that worked before may have been closed by a server
     * restart or an idle timeout: reconnect once and send again.
     * NOTE: when the server ran the commands and only the reply was lost
     * (a command timeout), they run twice; no command carries an id that
     * would let the server drop the repeat. */
    if (st != QF_OK && had_connection) {
        st = slot_ensure(pool, slot, 1, msg, msg_len);
        if (st == QF_OK) {
            if (pool->host->log_enabled(pool->ctx, QF_LOG_INFO))
                pool->host->log(pool->ctx, QF_LOG_INFO,
                                "reconnected to Redis "
                                "at %s after a failed command; sending it "
                                "again",
                                pool->address);
            st = send_pipeline(pool, slot, cmds, count, replies, msg, msg_len);
        }
    }
    pthread_mutex_unlock(&slot->lock);
    return st;
}

qf_status qf_redis_pool_command(qf_redis_pool *pool, int argc,
                                const char **argv, const size_t *argvlen,
                                redisReply **reply, char *msg, size_t msg_len)
{
    qf_redis_cmd cmd = {argc, argv, argvlen};

    return qf_redis_pool_run(pool, &cmd, 1, reply, msg, msg_len);
}

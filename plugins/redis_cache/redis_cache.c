/*
 * redis_cache.c - the redis_cache backend plugin: each entry is one Redis
 * string <key_prefix><64 hex key> holding the same versioned entry bytes
 * as a file_cache file (fc_entry.h), written with SET ... PX so Redis
 * expires it. Hit, miss and expiration counts are buffered in memory and
 * added to the hash <key_prefix>stats with HINCRBY by the first get a
 * second after the last flush, by stats and by destroy, so a hit usually
 * costs one round trip.
 *
 * Size limits are Redis's own (maxmemory, maxmemory-policy); see
 * docs/scaling.md. A server that cannot be reached makes get fail, which
 * the cache middleware logs and treats as a miss.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/plugin.h"

#include "fc_entry.h"
#include "redis_conn.h"

#define DEFAULT_PREFIX          "qf:cache:"
#define DEFAULT_MAX_TTL_SECONDS 2592000  /* 30 days */
#define DEFAULT_MAX_ENTRY_BYTES 67108864 /* 64 MiB */
#define STATS_FLUSH_INTERVAL_MS 1000
#define WARN_INTERVAL_MS        10000
#define SCAN_COUNT              "1000"
#define REDIS_KEY_MAX           1100

typedef struct rc_instance {
    const qf_host *host;
    qf_context *ctx;
    qf_redis_pool *pool;
    char prefix[512];
    char match[1030]; /* prefix with glob characters escaped, then "*" */
    int64_t max_ttl_seconds;
    int64_t max_entry_bytes;

    /* Counts not yet added to the stats hash. */
    _Atomic int64_t hits;
    _Atomic int64_t misses;
    _Atomic int64_t expirations;
    _Atomic int64_t last_flush_ms;

    _Atomic int64_t last_warn_ms;
    _Atomic int64_t warns_suppressed;
} rc_instance;

/* Log a warning, at most one per WARN_INTERVAL_MS per instance. */
static void warn(rc_instance *rc, const char *fmt, ...) QF_PRINTF(2, 3);
static void warn(rc_instance *rc, const char *fmt, ...)
{
    int64_t now = rc->host->now_ms(rc->ctx);
    int64_t last = atomic_load(&rc->last_warn_ms);
    int64_t suppressed;
    char text[600];
    va_list ap;

    if (!rc->host->log_enabled(rc->ctx, QF_LOG_WARN))
        return;
    if ((last != 0 && now - last < WARN_INTERVAL_MS) ||
        !atomic_compare_exchange_strong(&rc->last_warn_ms, &last, now)) {
        atomic_fetch_add(&rc->warns_suppressed, 1);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    suppressed = atomic_exchange(&rc->warns_suppressed, 0);
    if (suppressed > 0)
        rc->host->log(rc->ctx, QF_LOG_WARN,
                      "%s (and %lld similar warnings "
                      "in the last 10 s)",
                      text, (long long)suppressed);
    else
        rc->host->log(rc->ctx, QF_LOG_WARN, "%s", text);
}

static int key_is_valid(const char *key, size_t len)
{
    if (key == NULL || len != QF_FC_KEY_LEN)
        return 0;
    return strspn(key, "0123456789abcdef") == len;
}

/* "<prefix><suffix>" into buf (REDIS_KEY_MAX bytes); returns its length. */
static size_t redis_key(const rc_instance *rc, const char *suffix, char *buf)
{
    int n = snprintf(buf, REDIS_KEY_MAX, "%s%s", rc->prefix, suffix);

    return n > 0 ? (size_t)n : 0;
}

/* Whether a key found by SCAN under the prefix is a cache entry. */
static int is_entry_key(const rc_instance *rc, const char *key, size_t len)
{
    size_t plen = strlen(rc->prefix);

    return len == plen + QF_FC_KEY_LEN && memcmp(key, rc->prefix, plen) == 0 &&
           strspn(key + plen, "0123456789abcdef") == QF_FC_KEY_LEN;
}

/* --- Statistics -------------------------------------------------------- */

/* Add the buffered counts to the stats hash; on failure keep them. */
static void flush_stats(rc_instance *rc)
{
    const char *fields[3] = {"hits", "misses", "expirations"};
    _Atomic int64_t *counts[3] = {&rc->hits, &rc->misses, &rc->expirations};
    int64_t taken[3];
    char values[3][24];
    char key[REDIS_KEY_MAX];
    const char *argv[3][4];
    qf_redis_cmd cmds[3];
    redisReply *replies[3] = {NULL, NULL, NULL};
    char msg[400];
    size_t n = 0;

    redis_key(rc, "stats", key);
    for (int i = 0; i < 3; i++) {
        taken[i] = atomic_exchange(counts[i], 0);
        if (taken[i] == 0)
            continue;
        snprintf(values[i], sizeof(values[i]), "%lld", (long long)taken[i]);
        argv[n][0] = "HINCRBY";
        argv[n][1] = key;
        argv[n][2] = fields[i];
        argv[n][3] = values[i];
        cmds[n] = (qf_redis_cmd){4, argv[n], NULL};
        n++;
    }
    if (n == 0)
        return;

    if (qf_redis_pool_run(rc->pool, cmds, n, replies, msg, sizeof(msg)) !=
        QF_OK) {
        for (int i = 0; i < 3; i++)
            atomic_fetch_add(counts[i], taken[i]);
        warn(rc, "cache statistics not saved: %s; kept for the next try", msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        freeReplyObject(replies[i]);
}

/* NOTE: counts buffered here are lost when the process is killed before
 * the next flush, so shared hits and misses can fall short by up to about
 * a second of one process's traffic. */
static void maybe_flush_stats(rc_instance *rc)
{
    int64_t now = rc->host->now_ms(rc->ctx);
    int64_t last = atomic_load(&rc->last_flush_ms);

    if (now - last < STATS_FLUSH_INTERVAL_MS && now >= last)
        return;
    if (atomic_compare_exchange_strong(&rc->last_flush_ms, &last, now))
        flush_stats(rc);
}

/* --- Lifecycle --------------------------------------------------------- */

static qf_status read_int(rc_instance *rc, const char *name, int64_t dflt,
                          int64_t min, int64_t *out, qf_error *err)
{
    qf_status st = rc->host->config_int(rc->ctx, name, out, err);

    if (st == QF_ERR_NOT_FOUND) {
        *out = dflt;
        return QF_OK;
    }
    if (st == QF_OK && *out < min)
        return rc->host->error_set(err, QF_ERR_CONFIG,
                                   "redis_cache: %s is "
                                   "%lld; expected a whole number of at least "
                                   "%lld",
                                   name, (long long)*out, (long long)min);
    return st;
}

static qf_status read_string(rc_instance *rc, const char *name,
                             const char **out, qf_error *err)
{
    qf_status st = rc->host->config_string(rc->ctx, name, out, err);

    return st == QF_ERR_NOT_FOUND ? QF_OK : st;
}

/* Copy the prefix and its SCAN pattern with glob characters escaped. */
static qf_status set_prefix(rc_instance *rc, const char *prefix, qf_error *err)
{
    size_t len = strlen(prefix);
    size_t m = 0;

    if (len == 0 || len >= sizeof(rc->prefix))
        return rc->host->error_set(err, QF_ERR_CONFIG,
                                   "redis_cache: "
                                   "key_prefix has %zu bytes; expected 1 to "
                                   "%zu, such as \"%s\"",
                                   len, sizeof(rc->prefix) - 1, DEFAULT_PREFIX);
    memcpy(rc->prefix, prefix, len + 1);
    for (size_t i = 0; i < len; i++) {
        if (strchr("*?[]\\", prefix[i]) != NULL)
            rc->match[m++] = '\\';
        rc->match[m++] = prefix[i];
    }
    rc->match[m++] = '*';
    rc->match[m] = '\0';
    return QF_OK;
}

static qf_status read_settings(rc_instance *rc, qf_redis_settings *rs,
                               qf_error *err)
{
    const char *prefix = DEFAULT_PREFIX;
    int64_t pool_size = 4;
    qf_status st;

    memset(rs, 0, sizeof(*rs));
    st = read_string(rc, "redis_url", &rs->url, err);
    if (st == QF_OK)
        st = read_string(rc, "redis_password", &rs->password, err);
    if (st == QF_OK)
        st = read_string(rc, "key_prefix", &prefix, err);
    if (st == QF_OK)
        st = set_prefix(rc, prefix, err);
    if (st == QF_OK)
        st = read_int(rc, "connect_timeout_ms", 1000, 1,
                      &rs->connect_timeout_ms, err);
    if (st == QF_OK)
        st = read_int(rc, "command_timeout_ms", 1000, 1,
                      &rs->command_timeout_ms, err);
    if (st == QF_OK)
        st = read_int(rc, "retry_interval_ms", 1000, 0, &rs->retry_interval_ms,
                      err);
    if (st == QF_OK)
        st = read_int(rc, "pool_size", 4, 1, &pool_size, err);
    if (st == QF_OK)
        st = read_int(rc, "max_ttl_seconds", DEFAULT_MAX_TTL_SECONDS, 1,
                      &rc->max_ttl_seconds, err);
    if (st == QF_OK)
        st = read_int(rc, "max_entry_bytes", DEFAULT_MAX_ENTRY_BYTES, 1,
                      &rc->max_entry_bytes, err);
    rs->pool_size = pool_size > 64 ? 64 : (int)pool_size;
    return st;
}

static void rc_destroy(void *instance)
{
    rc_instance *rc = instance;

    if (rc == NULL)
        return;
    if (rc->pool != NULL) {
        flush_stats(rc);
        qf_redis_pool_destroy(rc->pool);
    }
    rc->host->free(rc);
}

/* PING once so a misconfigured or stopped server shows up in the log at
 * start; the instance works either way and connects once Redis replies. */
static void check_reachable(rc_instance *rc)
{
    const char *argv[1] = {"PING"};
    redisReply *reply = NULL;
    char msg[400];

    if (qf_redis_pool_command(rc->pool, 1, argv, NULL, &reply, msg,
                              sizeof(msg)) != QF_OK)
        warn(rc, "%s; cache lookups count as misses until it replies", msg);
    freeReplyObject(reply);
}

static qf_status rc_create(const qf_host *host, qf_context *ctx,
                           void **instance, qf_error *err)
{
    rc_instance *rc = host->alloc(sizeof(*rc));
    qf_redis_settings rs;
    char msg[400];
    qf_status st;

    if (rc == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "redis_cache: out of memory");
    memset(rc, 0, sizeof(*rc));
    rc->host = host;
    rc->ctx = ctx;

    st = read_settings(rc, &rs, err);
    if (st == QF_OK) {
        st = qf_redis_pool_create(host, ctx, &rs, &rc->pool, msg, sizeof(msg));
        if (st != QF_OK)
            host->error_set(err, st, "redis_cache: %s", msg);
    }
    if (st != QF_OK) {
        rc_destroy(rc);
        return st;
    }
    atomic_store(&rc->last_flush_ms, host->now_ms(ctx));
    check_reachable(rc);
    *instance = rc;
    return QF_OK;
}

/* --- get, put, remove -------------------------------------------------- */

static qf_status bad_key(rc_instance *rc, qf_error *err)
{
    return rc->host->error_set(err, QF_ERR_INVALID,
                               "redis_cache: invalid "
                               "key; expected 64 lowercase hex digits");
}

/* Delete one key, best effort: a failure only leaves it to expire. */
static void unlink_key(rc_instance *rc, const char *rkey)
{
    const char *argv[2] = {"UNLINK", rkey};
    redisReply *reply = NULL;
    char msg[400];

    if (qf_redis_pool_command(rc->pool, 2, argv, NULL, &reply, msg,
                              sizeof(msg)) == QF_OK)
        freeReplyObject(reply);
}

/* Check a stored string; returns QF_OK with *entry pointing into it. */
static qf_status check_entry(rc_instance *rc, const char *key, const char *rkey,
                             const redisReply *reply, qf_fc_entry *entry)
{
    const char *reason = NULL;
    int64_t now;

    if (reply->type != REDIS_REPLY_STRING) {
        warn(rc,
             "Redis key %s is not a cache entry (reply type %d); "
             "treated as a miss",
             rkey, reply->type);
        return QF_ERR_NOT_FOUND;
    }
    if (qf_fc_entry_parse((const uint8_t *)reply->str, (size_t)reply->len, key,
                          rc->host->sha256, entry, &reason) != QF_OK) {
        warn(rc, "corrupt cache entry %s (%s); removed", rkey, reason);
        unlink_key(rc, rkey);
        return QF_ERR_NOT_FOUND;
    }

    /* Redis expires the key itself; this catches a key whose expiry was
     * removed and keeps a clock the host replaces in tests authoritative. */
    now = rc->host->now_ms(rc->ctx);
    if (entry->expires_ms > 0 && now >= entry->expires_ms) {
        atomic_fetch_add(&rc->expirations, 1);
        unlink_key(rc, rkey);
        return QF_ERR_NOT_FOUND;
    }
    return QF_OK;
}

static qf_status rc_get(void *instance, const char *key, void **value,
                        size_t *len, int64_t *created_ms, qf_error *err)
{
    rc_instance *rc = instance;
    char rkey[REDIS_KEY_MAX];
    const char *argv[2] = {"GET", rkey};
    redisReply *reply = NULL;
    qf_fc_entry entry;
    char msg[400];
    qf_status st;

    if (!key_is_valid(key, key ? strlen(key) : 0))
        return bad_key(rc, err);
    redis_key(rc, key, rkey);
    st = qf_redis_pool_command(rc->pool, 2, argv, NULL, &reply, msg,
                               sizeof(msg));
    if (st != QF_OK) {
        atomic_fetch_add(&rc->misses, 1);
        return rc->host->error_set(err, st, "redis_cache: %s", msg);
    }

    st = reply->type == REDIS_REPLY_NIL
             ? QF_ERR_NOT_FOUND
             : check_entry(rc, key, rkey, reply, &entry);
    if (st == QF_OK) {
        *value = rc->host->alloc(entry.value_len ? entry.value_len : 1);
        if (*value == NULL)
            st = rc->host->error_set(err, QF_ERR_NOMEM,
                                     "redis_cache: out of "
                                     "memory for a %zu-byte entry",
                                     entry.value_len);
        else {
            memcpy(*value, entry.value, entry.value_len);
            *len = entry.value_len;
            if (created_ms != NULL)
                *created_ms = entry.created_ms;
        }
    }
    freeReplyObject(reply);
    atomic_fetch_add(st == QF_OK ? &rc->hits : &rc->misses, 1);
    maybe_flush_stats(rc);
    return st;
}

static qf_status rc_put(void *instance, const char *key, const void *value,
                        size_t len, int64_t ttl_seconds, qf_error *err)
{
    rc_instance *rc = instance;
    const qf_host *h = rc->host;
    int64_t now = h->now_ms(rc->ctx);
    int64_t ttl = ttl_seconds > 0 && ttl_seconds < rc->max_ttl_seconds
                      ? ttl_seconds
                      : rc->max_ttl_seconds;
    size_t size = qf_fc_entry_size(len);
    char rkey[REDIS_KEY_MAX];
    char px[24];
    const char *argv[5] = {"SET", rkey, NULL, "PX", px};
    size_t argvlen[5];
    redisReply *reply = NULL;
    uint8_t *buf;
    char msg[400];
    qf_status st;

    if (!key_is_valid(key, key ? strlen(key) : 0))
        return bad_key(rc, err);
    if ((int64_t)size > rc->max_entry_bytes)
        return h->error_set(err, QF_ERR_TOO_LARGE,
                            "redis_cache: entry of %zu "
                            "bytes exceeds max_entry_bytes %lld; raise "
                            "max_entry_bytes to cache it",
                            size, (long long)rc->max_entry_bytes);
    buf = h->alloc(size);
    if (buf == NULL)
        return h->error_set(err, QF_ERR_NOMEM, "redis_cache: out of memory");

    /* Every key gets an expiry, also for ttl_seconds <= 0 ("no expiry"),
     * so a volatile-* eviction policy can always reclaim cache entries. */
    qf_fc_entry_write(buf, key, now, now + ttl * 1000, value, len, h->sha256);
    snprintf(px, sizeof(px), "%lld", (long long)(ttl * 1000));
    argv[2] = (const char *)buf;
    argvlen[0] = 3;
    argvlen[1] = redis_key(rc, key, rkey);
    argvlen[2] = size;
    argvlen[3] = 2;
    argvlen[4] = strlen(px);
    st = qf_redis_pool_command(rc->pool, 5, argv, argvlen, &reply, msg,
                               sizeof(msg));
    h->free(buf);
    if (st != QF_OK)
        return h->error_set(err, st, "redis_cache: %s", msg);

    /* With maxmemory reached and policy noeviction, SET fails with an OOM
     * error, and the response is returned uncached. */
    if (reply->type == REDIS_REPLY_ERROR)
        st = h->error_set(err, QF_ERR_IO,
                          "redis_cache: SET %s failed: %s; "
                          "see maxmemory and maxmemory-policy",
                          rkey, reply->str);
    freeReplyObject(reply);
    return st;
}

static qf_status rc_remove(void *instance, const char *key, qf_error *err)
{
    rc_instance *rc = instance;
    char rkey[REDIS_KEY_MAX];
    const char *argv[2] = {"UNLINK", rkey};
    redisReply *reply = NULL;
    char msg[400];
    qf_status st;

    if (!key_is_valid(key, key ? strlen(key) : 0))
        return bad_key(rc, err);
    redis_key(rc, key, rkey);
    st = qf_redis_pool_command(rc->pool, 2, argv, NULL, &reply, msg,
                               sizeof(msg));
    if (st != QF_OK)
        return rc->host->error_set(err, st, "redis_cache: %s", msg);
    freeReplyObject(reply);
    return QF_OK;
}

/* --- prune, clear, stats ----------------------------------------------- */

static qf_status rc_prune(void *instance, int64_t *removed, qf_error *err)
{
    rc_instance *rc = instance;

    *removed = 0;
    if (rc->host->log_enabled(rc->ctx, QF_LOG_INFO))
        rc->host->log(rc->ctx, QF_LOG_INFO,
                      "prune removed nothing: Redis "
                      "deletes each cache entry itself when its expiry "
                      "(SET ... PX) passes");
    return QF_OK;
}

/* Called for each SCAN batch with the entry keys found in it. */
typedef qf_status (*scan_fn)(rc_instance *rc, const char **keys,
                             const size_t *lens, size_t count, void *user,
                             char *msg, size_t msg_len);

static qf_status scan_batch(rc_instance *rc, redisReply *reply, scan_fn fn,
                            void *user, char *msg, size_t msg_len)
{
    redisReply *list = reply->element[1];
    const char **keys = calloc(list->elements + 1, sizeof(*keys));
    size_t *lens = calloc(list->elements + 1, sizeof(*lens));
    size_t n = 0;
    qf_status st = QF_ERR_NOMEM;

    if (keys != NULL && lens != NULL) {
        for (size_t i = 0; i < list->elements; i++) {
            redisReply *k = list->element[i];

            if (k->type == REDIS_REPLY_STRING &&
                is_entry_key(rc, k->str, (size_t)k->len)) {
                keys[n] = k->str;
                lens[n++] = (size_t)k->len;
            }
        }
        st = n > 0 ? fn(rc, keys, lens, n, user, msg, msg_len) : QF_OK;
    } else
        snprintf(msg, msg_len, "out of memory");
    free(keys);
    free(lens);
    return st;
}

/* Walk every key under the prefix with SCAN, MATCH and COUNT. Costs one
 * round trip per batch of about SCAN_COUNT keys of the whole database. */
static qf_status scan_prefix(rc_instance *rc, scan_fn fn, void *user, char *msg,
                             size_t msg_len)
{
    char cursor[32] = "0";
    qf_status st;

    do {
        const char *argv[6] = {"SCAN",    cursor,  "MATCH",
                               rc->match, "COUNT", SCAN_COUNT};
        redisReply *reply = NULL;

        st = qf_redis_pool_command(rc->pool, 6, argv, NULL, &reply, msg,
                                   msg_len);
        if (st != QF_OK)
            return st;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(msg, msg_len, "unexpected SCAN reply from Redis at %s",
                     qf_redis_pool_address(rc->pool));
            freeReplyObject(reply);
            return QF_ERR_PROTOCOL;
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        st = scan_batch(rc, reply, fn, user, msg, msg_len);
        freeReplyObject(reply);
    } while (st == QF_OK && strcmp(cursor, "0") != 0);
    return st;
}

static qf_status unlink_batch(rc_instance *rc, const char **keys,
                              const size_t *lens, size_t count, void *user,
                              char *msg, size_t msg_len)
{
    const char **argv = calloc(count + 1, sizeof(*argv));
    size_t *argvlen = calloc(count + 1, sizeof(*argvlen));
    redisReply *reply = NULL;
    qf_status st = QF_ERR_NOMEM;

    if (argv != NULL && argvlen != NULL) {
        argv[0] = "UNLINK";
        argvlen[0] = 6;
        memcpy(argv + 1, keys, count * sizeof(*argv));
        memcpy(argvlen + 1, lens, count * sizeof(*argvlen));
        st = qf_redis_pool_command(rc->pool, (int)count + 1, argv, argvlen,
                                   &reply, msg, msg_len);
    }
    if (st == QF_OK && reply->type == REDIS_REPLY_INTEGER)
        *(int64_t *)user += reply->integer;
    if (st == QF_OK)
        freeReplyObject(reply);
    free(argv);
    free(argvlen);
    return st;
}

static qf_status rc_clear(void *instance, int64_t *removed, qf_error *err)
{
    rc_instance *rc = instance;
    char msg[400];
    qf_status st;

    *removed = 0;
    st = scan_prefix(rc, unlink_batch, removed, msg, sizeof(msg));
    if (st != QF_OK)
        return rc->host->error_set(err, st,
                                   "redis_cache: clear of %s* "
                                   "stopped after %lld entries: %s",
                                   rc->prefix, (long long)*removed, msg);
    return QF_OK;
}

/* Add the entry count and the stored bytes (STRLEN) of one batch. */
static qf_status count_batch(rc_instance *rc, const char **keys,
                             const size_t *lens, size_t count, void *user,
                             char *msg, size_t msg_len)
{
    qf_cache_stats *out = user;
    qf_redis_cmd *cmds = calloc(count, sizeof(*cmds));
    const char **argv = calloc(count * 2, sizeof(*argv));
    redisReply **replies = calloc(count, sizeof(*replies));
    qf_status st = QF_ERR_NOMEM;

    if (cmds != NULL && argv != NULL && replies != NULL) {
        for (size_t i = 0; i < count; i++) {
            argv[2 * i] = "STRLEN";
            argv[2 * i + 1] = keys[i];
            cmds[i] = (qf_redis_cmd){2, argv + 2 * i, NULL};
        }
        st = qf_redis_pool_run(rc->pool, cmds, count, replies, msg, msg_len);
    }
    for (size_t i = 0; st == QF_OK && i < count; i++) {
        /* A key that expired between SCAN and STRLEN reads as 0 bytes. */
        if (replies[i]->type == REDIS_REPLY_INTEGER &&
            replies[i]->integer > 0) {
            out->entries++;
            out->bytes += replies[i]->integer;
        }
        freeReplyObject(replies[i]);
    }
    free(cmds);
    free(argv);
    free(replies);
    return st;
}

static int64_t reply_int(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        return 0;
    return strtoll(r->str, NULL, 10);
}

/* Hits, misses and expirations from the stats hash, and the server's
 * evicted_keys from INFO stats (for the whole server, not the prefix). */
static qf_status read_counters(rc_instance *rc, qf_cache_stats *out, char *msg,
                               size_t msg_len)
{
    char key[REDIS_KEY_MAX];
    const char *hmget[5] = {"HMGET", key, "hits", "misses", "expirations"};
    const char *info[2] = {"INFO", "stats"};
    qf_redis_cmd cmds[2] = {{5, hmget, NULL}, {2, info, NULL}};
    redisReply *replies[2] = {NULL, NULL};
    const char *evicted;
    qf_status st;

    redis_key(rc, "stats", key);
    st = qf_redis_pool_run(rc->pool, cmds, 2, replies, msg, msg_len);
    if (st != QF_OK)
        return st;
    if (replies[0]->type == REDIS_REPLY_ARRAY && replies[0]->elements == 3) {
        out->hits = reply_int(replies[0]->element[0]);
        out->misses = reply_int(replies[0]->element[1]);
        out->expirations = reply_int(replies[0]->element[2]);
    }
    if (replies[1]->type == REDIS_REPLY_STRING &&
        (evicted = strstr(replies[1]->str, "evicted_keys:")) != NULL)
        out->evictions = strtoll(evicted + 13, NULL, 10);
    freeReplyObject(replies[0]);
    freeReplyObject(replies[1]);
    return QF_OK;
}

static qf_status rc_stats(void *instance, qf_cache_stats *out, qf_error *err)
{
    rc_instance *rc = instance;
    qf_cache_stats s;
    char msg[400];
    qf_status st;

    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    flush_stats(rc);
    st = read_counters(rc, &s, msg, sizeof(msg));
    if (st == QF_OK)
        st = scan_prefix(rc, count_batch, &s, msg, sizeof(msg));
    if (st != QF_OK)
        return rc->host->error_set(err, st,
                                   "redis_cache: cannot read "
                                   "statistics of %s*: %s",
                                   rc->prefix, msg);
    *out = s;
    return QF_OK;
}

/* --- Descriptor -------------------------------------------------------- */

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "redis_url", QF_OPT_STRING, QF_REDIS_DEFAULT_URL,
     0,
     "server as redis://[:password@]host[:port][/db]; prefer "
     "redis_password for the password"},
    {sizeof(qf_option_spec), "redis_password", QF_OPT_STRING, NULL,
     QF_OPT_SECRET,
     "password sent with AUTH, usually ${REDIS_PASSWORD}; "
     "replaces a password in redis_url"},
    {sizeof(qf_option_spec), "key_prefix", QF_OPT_STRING, DEFAULT_PREFIX, 0,
     "prefix of every key this backend writes; one per deployment"},
    {sizeof(qf_option_spec), "connect_timeout_ms", QF_OPT_INT, "1000", 0,
     "connect timeout in milliseconds"},
    {sizeof(qf_option_spec), "command_timeout_ms", QF_OPT_INT, "1000", 0,
     "timeout of one command's reply in milliseconds"},
    {sizeof(qf_option_spec), "retry_interval_ms", QF_OPT_INT, "1000", 0,
     "after a failed connect, milliseconds during which commands fail at "
     "once before the next connect attempt"},
    {sizeof(qf_option_spec), "pool_size", QF_OPT_INT, "4", 0,
     "connections kept to Redis, shared by all threads (1 to 64)"},
    {sizeof(qf_option_spec), "max_ttl_seconds", QF_OPT_INT, "2592000", 0,
     "longest expiry in seconds, also given to entries stored without one"},
    {sizeof(qf_option_spec), "max_entry_bytes", QF_OPT_INT, "67108864", 0,
     "largest entry stored, header included; larger responses stay uncached"},
};

static const qf_cache_backend_vtable vtable = {
    sizeof(qf_cache_backend_vtable),
    rc_create,
    rc_destroy,
    rc_get,
    rc_put,
    rc_remove,
    rc_prune,
    rc_clear,
    rc_stats,
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "redis_cache",
    "Redis cache backend",
    "1.0.0",
    "Stores cache entries in Redis with an expiry on every key, shared by "
    "every runtime that uses the same server and key prefix.",
    QF_KIND_CACHE_BACKEND,
    NULL,
    options,
    sizeof(options) / sizeof(options[0]),
    NULL,
    NULL,
    &vtable,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

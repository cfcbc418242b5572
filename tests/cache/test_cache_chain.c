/*
 * test_cache_chain.c - the cache middleware end to end: runtime, cache,
 * file_cache and the openai provider against qf-sim. Checks hits and
 * misses by the simulator's request log, TTL with the test clock, each
 * bypass flag, that failed calls (500, cut stream, malformed body) store
 * nothing, stream replay, zero cost of a hit, and that the key sees what
 * an earlier middleware changed.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "cache_fixture.h"
#include "request.h"

static char *tmp;
static char *sim_log;
static qf_test_sim sim;
static qf_runtime *rt;

static const char config_format[] =
    "plugin_dirs: [%s/tests/plugins/cache_helpers]\n"
    "providers:\n"
    "  text:\n"
    "    default: openai\n"
    "    openai:\n"
    "      plugin: openai\n"
    "      base_url: %s/v1\n"
    "      api_key: sk-test-not-a-real-key\n"
    "      model: gpt-4o-mini\n"
    "      retry: {max_attempts: 1}\n"
    "      cache: {enabled: true, ttl_seconds: 60, prune_interval_seconds: 0}\n"
    "  image:\n"
    "    default: openai\n"
    "    openai:\n"
    "      plugin: openai\n"
    "      base_url: %s/v1\n"
    "      api_key: sk-test-not-a-real-key\n"
    "      model: dall-e-3\n"
    "      retry: {max_attempts: 1}\n"
    "      cache: {enabled: true, ttl_seconds: 60, prune_interval_seconds: 0}\n"
    "roles:\n"
    "  plotwright: {provider: openai}\n"
    "  scene_smith: {provider: openai, headers: {X-QF-Sim-Fault: \"500\"}}\n"
    "  lore_weaver: {provider: openai, headers: {X-QF-Sim-Fault: cut}}\n"
    "  codex_curator: {provider: openai, headers: {X-QF-Sim-Fault: "
    "malformed}}\n"
    "  researcher:\n"
    "    provider: openai\n"
    "    chain: [{plugin: cache, enabled: true, ttl_seconds: 60}]\n"
    "  style_lead:\n"
    "    provider: openai\n"
    "    chain:\n"
    "      - {plugin: cache_mutator, set_param: temperature,"
    " param_value: \"0.25\"}\n"
    "      - {plugin: cache, enabled: true, ttl_seconds: 60}\n"
    "  translator:\n"
    "    provider: openai\n"
    "    cache: {enabled: true, dir: %s/not-a-folder/cache}\n"
    "  book_binder: {provider: openai, cache: {ttl_seconds: 5}}\n"
    "  gatekeeper:\n"
    "    provider: openai\n"
    "    cache: {ttl_seconds: 5, prune_interval_seconds: 10}\n"
    "  illustrator: {provider: openai}\n";

static void setup(void)
{
    const char *args[3];
    char *yaml = NULL;
    char *blocker;

    tmp = qf_test_tmpdir("cache-chain");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(asprintf(&sim_log, "%s/sim.log", tmp), 0);
    args[0] = "--log";
    args[1] = sim_log;
    args[2] = NULL;
    ck_assert_int_eq(qf_test_sim_start(&sim, args), 0);

    /* A regular file where the translator's cache folder would go. */
    blocker = qf_test_write_file(tmp, "not-a-folder", "x");
    free(blocker);
    ck_assert_int_ge(asprintf(&yaml, config_format, QF_TEST_BUILD_DIR,
                              sim.base_url, sim.base_url, tmp),
                     0);
    atomic_store(&cache_test_clock.now_ms, 1767225600000LL);
    rt = cache_test_runtime(tmp, yaml, 0, 1);
    free(yaml);
}

static void teardown(void)
{
    qf_runtime_close(rt);
    qf_test_sim_stop(&sim);
    qf_test_rmtree(tmp);
    free(sim_log);
    free(tmp);
}

/* Requests qf-sim has received so far (lines of its log). */
static int upstream_requests(void)
{
    size_t len = 0;
    char *text = qf_test_read_file(sim_log, &len);
    int lines = 0;

    for (size_t i = 0; text != NULL && i < len; i++)
        lines += text[i] == '\n';
    free(text);
    return lines;
}

/* Chunks a stream sink received, joined with '|'. */
typedef struct chunks {
    char text[1024];
    int count;
} chunks;

static qf_status collect(void *user, const char *text, size_t len)
{
    chunks *c = user;
    size_t used = strlen(c->text);

    snprintf(c->text + used, sizeof(c->text) - used, "%s%.*s",
             c->count ? "|" : "", (int)len, text);
    c->count++;
    return QF_OK;
}

typedef struct run_options {
    unsigned flags;
    int stream;
    int stream_usage;
    chunks *sink;
} run_options;

/* Run `prompt` through `role`; returns the status, *out the response. */
static qf_status run(const char *role, const char *prompt, const run_options *o,
                     qf_response **out)
{
    qf_request *req = NULL;
    qf_stream_sink sink = {collect, o ? o->sink : NULL};
    qf_error err;
    qf_status st;

    qf_error_init(&err);
    if (qf_request_create(rt, role, NULL, &req, &err) != QF_OK)
        ck_abort_msg("request for %s: %s", role, err.message);
    qf_request_add_message(req, "user", prompt, strlen(prompt));
    if (o != NULL) {
        qf_request_set_cache_flags(req, o->flags);
        qf_request_set_stream(req, o->stream, o->stream_usage);
    }
    st = qf_runtime_run(rt, req, o && o->sink ? &sink : NULL, out, &err);
    qf_request_free(req);
    return st;
}

/* Run and expect success; returns whether it was a cache hit. */
static int run_ok(const char *role, const char *prompt, const run_options *o)
{
    qf_response *resp = NULL;
    qf_status st = run(role, prompt, o, &resp);
    int hit;

    ck_assert_int_eq(st, QF_OK);
    hit = resp->cache_hit;
    qf_response_free(resp);
    return hit;
}

START_TEST(second_request_is_hit)
{
    qf_response *resp = NULL;
    int64_t age = -1;
    const qf_host *h = qf_runtime_host(rt);
    qf_usage usage = {sizeof(qf_usage), 0, 0, 0, 0};

    ck_assert_int_eq(run_ok("plotwright", "hello world", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 1);
    atomic_fetch_add(&cache_test_clock.now_ms, 5000);

    ck_assert_int_eq(run("plotwright", "hello world", NULL, &resp), QF_OK);
    ck_assert_int_eq(upstream_requests(), 1);
    ck_assert_int_eq(h->response_cache_hit(resp, &age), 1);
    ck_assert_int_eq(age, 5);
    ck_assert_str_eq(resp->text, "Echo: hello world");
    ck_assert_str_eq(resp->finish_reason, "stop");
    ck_assert_str_eq(resp->model, "gpt-4o-mini");
    h->response_usage(resp, &usage);
    ck_assert_int_eq(usage.prompt_tokens, 0);
    ck_assert_int_eq(usage.completion_tokens, 0);
    ck_assert(qf_response_cost(resp, NULL) == 0.0);
    qf_response_free(resp);

    ck_assert_int_eq(run_ok("plotwright", "hello there", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(ttl_expires_entry)
{
    ck_assert_int_eq(run_ok("plotwright", "short life", NULL), 0);
    atomic_fetch_add(&cache_test_clock.now_ms, 59999);
    ck_assert_int_eq(run_ok("plotwright", "short life", NULL), 1);
    atomic_fetch_add(&cache_test_clock.now_ms, 1);
    ck_assert_int_eq(run_ok("plotwright", "short life", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(no_read_bypasses_lookup_but_stores)
{
    run_options no_read = {QF_CACHE_NO_READ, 0, 0, NULL};

    ck_assert_int_eq(run_ok("plotwright", "fresh please", NULL), 0);
    ck_assert_int_eq(run_ok("plotwright", "fresh please", &no_read), 0);
    ck_assert_int_eq(upstream_requests(), 2);
    ck_assert_int_eq(run_ok("plotwright", "fresh please", NULL), 1);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(no_store_reads_but_does_not_store)
{
    run_options no_store = {QF_CACHE_NO_STORE, 0, 0, NULL};

    ck_assert_int_eq(run_ok("plotwright", "secret draft", &no_store), 0);
    ck_assert_int_eq(run_ok("plotwright", "secret draft", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 2);
    ck_assert_int_eq(run_ok("plotwright", "secret draft", &no_store), 1);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(both_flags_skip_the_cache)
{
    run_options both = {QF_CACHE_NO_READ | QF_CACHE_NO_STORE, 0, 0, NULL};

    ck_assert_int_eq(run_ok("plotwright", "no cache at all", NULL), 0);
    ck_assert_int_eq(run_ok("plotwright", "no cache at all", &both), 0);
    ck_assert_int_eq(run_ok("plotwright", "other prompt", &both), 0);
    ck_assert_int_eq(run_ok("plotwright", "other prompt", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 4);
}
END_TEST

/* A failing role, then the same request through a clean role must miss. */
static void check_nothing_stored(const char *failing_role)
{
    qf_response *resp = NULL;

    ck_assert_int_ne(run(failing_role, "will fail", NULL, &resp), QF_OK);
    qf_response_free(resp);
    ck_assert_int_eq(upstream_requests(), 1);
    ck_assert_int_eq(run_ok("plotwright", "will fail", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 2);
}

START_TEST(nothing_stored_after_500)
{
    check_nothing_stored("scene_smith");
}
END_TEST

START_TEST(nothing_stored_after_cut_stream)
{
    run_options stream = {0, 1, 1, NULL};
    chunks got = {{0}, 0};
    qf_response *resp = NULL;

    stream.sink = &got;
    ck_assert_int_eq(run("lore_weaver", "cut me off", &stream, &resp),
                     QF_ERR_STREAM_CUT);
    qf_response_free(resp);
    ck_assert_int_eq(run_ok("plotwright", "cut me off", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(nothing_stored_after_malformed_body)
{
    check_nothing_stored("codex_curator");
}
END_TEST

START_TEST(stream_replays_from_cache)
{
    run_options stream = {0, 1, 0, NULL};
    chunks got = {{0}, 0};
    qf_response *resp = NULL;

    ck_assert_int_eq(run_ok("plotwright", "tell a tale", NULL), 0);
    stream.sink = &got;
    ck_assert_int_eq(run("plotwright", "tell a tale", &stream, &resp), QF_OK);
    ck_assert_int_eq(upstream_requests(), 1);
    ck_assert_int_eq(resp->cache_hit, 1);
    ck_assert_str_eq(got.text, "Echo: |tell |a |tale");
    ck_assert_int_eq(got.count, 4);
    ck_assert_str_eq(resp->text, "Echo: tell a tale");
    ck_assert_str_eq(resp->finish_reason, "stop");
    ck_assert_int_eq(resp->usage_set, 0);
    qf_response_free(resp);
}
END_TEST

START_TEST(stream_usage_only_when_asked)
{
    run_options stream = {0, 1, 1, NULL};
    chunks got = {{0}, 0};
    qf_response *resp = NULL;

    stream.sink = &got;
    ck_assert_int_eq(run_ok("plotwright", "count my tokens", &stream), 0);
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(run("plotwright", "count my tokens", &stream, &resp),
                     QF_OK);
    ck_assert_int_eq(resp->cache_hit, 1);
    ck_assert_str_eq(got.text, "Echo: |count |my |tokens");
    ck_assert_int_eq(resp->usage_set, 1);
    ck_assert_int_eq(resp->usage.completion_tokens, 0);
    qf_response_free(resp);
}
END_TEST

START_TEST(streamed_answer_serves_plain_request)
{
    run_options stream = {0, 1, 0, NULL};
    chunks got = {{0}, 0};
    qf_response *resp = NULL;

    stream.sink = &got;
    ck_assert_int_eq(run_ok("plotwright", "one entry", &stream), 0);
    ck_assert_int_eq(run("plotwright", "one entry", NULL, &resp), QF_OK);
    ck_assert_int_eq(resp->cache_hit, 1);
    ck_assert_str_eq(resp->text, "Echo: one entry");
    ck_assert_int_eq(upstream_requests(), 1);
    qf_response_free(resp);
}
END_TEST

START_TEST(finish_reason_length_kept)
{
    qf_response *resp = NULL;
    qf_cnode *layer = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_request *req = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_set(layer, "params.max_tokens", "2", &err),
                     QF_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(qf_request_create(rt, "plotwright", layer, &req, &err),
                         QF_OK);
        qf_request_add_message(req, "user", "a b c d", 7);
        ck_assert_int_eq(qf_runtime_run(rt, req, NULL, &resp, &err), QF_OK);
        ck_assert_int_eq(resp->cache_hit, i);
        ck_assert_str_eq(resp->text, "Echo: a");
        ck_assert_str_eq(resp->finish_reason, "length");
        qf_response_free(resp);
        qf_request_free(req);
    }
    qf_cnode_free(layer);
    ck_assert_int_eq(upstream_requests(), 1);
}
END_TEST

START_TEST(earlier_middleware_change_is_keyed)
{
    /* researcher and style_lead share provider and prompt; style_lead's
     * mutator sets temperature before its cache runs. */
    ck_assert_int_eq(run_ok("researcher", "same words", NULL), 0);
    ck_assert_int_eq(run_ok("researcher", "same words", NULL), 1);
    ck_assert_int_eq(run_ok("style_lead", "same words", NULL), 0);
    ck_assert_int_eq(run_ok("style_lead", "same words", NULL), 1);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(backend_failure_is_a_miss)
{
    ck_assert_int_eq(run_ok("translator", "still answered", NULL), 0);
    ck_assert_int_eq(run_ok("translator", "still answered", NULL), 0);
    ck_assert_int_eq(upstream_requests(), 2);
}
END_TEST

START_TEST(api_key_never_stored)
{
    char *cmd = NULL;
    qf_test_run out;
    char *argv[] = {"/bin/grep", "-rl", "sk-test-not-a-real-key", NULL, NULL};

    ck_assert_int_eq(run_ok("plotwright", "keep secrets", NULL), 0);
    ck_assert_int_ge(asprintf(&cmd, "%s/state/cache", tmp), 0);
    argv[3] = cmd;
    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &out), 0);
    ck_assert_int_eq(out.exit_code, 1); /* grep: no file matched */
    qf_test_run_free(&out);
    free(cmd);
}
END_TEST

/* Path of the one entry file under the default cache folder; malloc'd. */
static char *only_entry_file(void)
{
    char *dir = NULL;
    char *found = NULL;
    DIR *top;
    struct dirent *shard;

    ck_assert_int_ge(asprintf(&dir, "%s/state/cache", tmp), 0);
    top = opendir(dir);
    ck_assert_ptr_nonnull(top);
    while ((shard = readdir(top)) != NULL) {
        char *sub = NULL;
        DIR *d;
        struct dirent *e;

        if (strlen(shard->d_name) != 2)
            continue;
        ck_assert_int_ge(asprintf(&sub, "%s/%s", dir, shard->d_name), 0);
        d = opendir(sub);
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strstr(e->d_name, ".qfc") != NULL) {
                ck_assert_ptr_null(found);
                ck_assert_int_ge(asprintf(&found, "%s/%s", sub, e->d_name), 0);
            }
        }
        if (d != NULL)
            closedir(d);
        free(sub);
    }
    closedir(top);
    free(dir);
    ck_assert_ptr_nonnull(found);
    return found;
}

START_TEST(corrupt_entry_is_miss_in_chain)
{
    qf_response *resp = NULL;
    qf_error err;
    qf_request *req = NULL;
    char *path;
    FILE *f;

    ck_assert_int_eq(run_ok("plotwright", "fragile", NULL), 0);
    path = only_entry_file();
    f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 150, SEEK_SET);
    fputc('#', f);
    fclose(f);

    qf_error_init(&err);
    ck_assert_int_eq(qf_request_create(rt, "plotwright", NULL, &req, &err),
                     QF_OK);
    qf_request_add_message(req, "user", "fragile", 7);
    ck_assert_int_eq(qf_runtime_run(rt, req, NULL, &resp, &err), QF_OK);
    ck_assert_int_eq(resp->cache_hit, 0);
    ck_assert_int_eq(err.status, QF_OK);
    ck_assert_int_eq(upstream_requests(), 2);
    qf_response_free(resp);
    qf_request_free(req);

    ck_assert_int_eq(run_ok("plotwright", "fragile", NULL), 1);
    free(path);
}
END_TEST

START_TEST(role_ttl_overrides_provider)
{
    ck_assert_int_eq(run_ok("book_binder", "bind it", NULL), 0);
    ck_assert_int_eq(run_ok("plotwright", "plot it", NULL), 0);
    atomic_fetch_add(&cache_test_clock.now_ms, 6000);
    ck_assert_int_eq(run_ok("book_binder", "bind it", NULL), 0);
    ck_assert_int_eq(run_ok("plotwright", "plot it", NULL), 1);
    ck_assert_int_eq(upstream_requests(), 3);
}
END_TEST

START_TEST(image_answer_cached)
{
    qf_response *first = NULL;
    qf_response *second = NULL;

    ck_assert_int_eq(run("illustrator", "a red door", NULL, &first), QF_OK);
    ck_assert_int_eq(first->cache_hit, 0);
    ck_assert_uint_eq(first->image_count, 1);
    ck_assert_int_eq(run("illustrator", "a red door", NULL, &second), QF_OK);
    ck_assert_int_eq(second->cache_hit, 1);
    ck_assert_uint_eq(second->image_count, 1);
    ck_assert_uint_eq(second->images[0].len, first->images[0].len);
    ck_assert_mem_eq(second->images[0].bytes, first->images[0].bytes,
                     first->images[0].len);
    ck_assert_str_eq(second->images[0].mime, first->images[0].mime);
    ck_assert(qf_response_cost(second, NULL) == 0.0);
    ck_assert_int_eq(upstream_requests(), 1);
    qf_response_free(first);
    qf_response_free(second);
}
END_TEST

START_TEST(background_prune_removes_expired)
{
    const char *settings[4];
    char dir[4200];
    char *setting = NULL;
    cache_test_backend b;
    qf_cache_stats stats;
    qf_error err;

    /* Two entries expire after 5 s; 11 s later the next request passes
     * the 10 s prune interval and starts a prune, which closing the
     * runtime waits for. */
    ck_assert_int_eq(run_ok("gatekeeper", "first", NULL), 0);
    ck_assert_int_eq(run_ok("gatekeeper", "second", NULL), 0);
    atomic_fetch_add(&cache_test_clock.now_ms, 11000);
    ck_assert_int_eq(run_ok("gatekeeper", "third", NULL), 0);
    qf_runtime_close(rt);

    rt = cache_test_runtime(tmp, NULL, 0, 0);
    snprintf(dir, sizeof(dir), "%s/state/cache", tmp);
    ck_assert_int_ge(asprintf(&setting, "dir=%s", dir), 0);
    settings[0] = setting;
    settings[1] = NULL;
    b = cache_test_backend_open(rt, settings);
    qf_error_init(&err);
    ck_assert_int_eq(b.vt->stats(b.inst, &stats, &err), QF_OK);
    ck_assert_int_eq(stats.expirations, 2);
    ck_assert_int_eq(stats.entries, 1);
    free(setting);
}
END_TEST

/* Run build/bin/qf with the test configuration and `args`; *out is freed
 * by the caller. */
static void run_qf(const char *const *args, qf_test_run *out)
{
    char *qf = qf_test_build_path("bin/qf");
    char *config = NULL;
    char *argv[16];
    int n = 0;

    ck_assert_int_ge(asprintf(&config, "%s/plugins.yml", tmp), 0);
    argv[n++] = qf;
    argv[n++] = "--config";
    argv[n++] = config;
    argv[n++] = "--json";
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    ck_assert_int_eq(qf_test_run_argv(argv, NULL, tmp, 60, out), 0);
    free(config);
    free(qf);
}

START_TEST(qf_cache_command)
{
    static const char *const stats[] = {"cache", "stats", NULL};
    static const char *const prune[] = {"cache", "prune", NULL};
    static const char *const clear[] = {"cache", "clear", NULL};
    static const char *const bad[] = {"cache", "compact", NULL};
    qf_test_run out;

    ck_assert_int_eq(run_ok("plotwright", "count me", NULL), 0);
    ck_assert_int_eq(run_ok("plotwright", "count me", NULL), 1);
    qf_runtime_close(rt); /* writes the buffered hit count */
    rt = NULL;

    run_qf(stats, &out);
    ck_assert_int_eq(out.exit_code, 0);
    ck_assert_str_eq(out.out, "{\"backend\":\"file_cache\",\"entries\":1,"
                              "\"bytes\":331,\"hits\":1,\"misses\":1,"
                              "\"evictions\":0,\"expirations\":0}\n");
    qf_test_run_free(&out);

    /* qf runs on the system clock, long after the test clock's 60 s TTL. */
    run_qf(prune, &out);
    ck_assert_int_eq(out.exit_code, 0);
    ck_assert_str_eq(out.out, "{\"backend\":\"file_cache\",\"pruned\":1}\n");
    qf_test_run_free(&out);

    run_qf(clear, &out);
    ck_assert_int_eq(out.exit_code, 0);
    ck_assert_str_eq(out.out, "{\"backend\":\"file_cache\",\"removed\":0}\n");
    qf_test_run_free(&out);

    run_qf(bad, &out);
    ck_assert_int_eq(out.exit_code, 2);
    qf_test_run_free(&out);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("cache_chain");
    TCase *tc = tcase_create("chain");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, second_request_is_hit);
    tcase_add_test(tc, ttl_expires_entry);
    tcase_add_test(tc, no_read_bypasses_lookup_but_stores);
    tcase_add_test(tc, no_store_reads_but_does_not_store);
    tcase_add_test(tc, both_flags_skip_the_cache);
    tcase_add_test(tc, nothing_stored_after_500);
    tcase_add_test(tc, nothing_stored_after_cut_stream);
    tcase_add_test(tc, nothing_stored_after_malformed_body);
    tcase_add_test(tc, stream_replays_from_cache);
    tcase_add_test(tc, stream_usage_only_when_asked);
    tcase_add_test(tc, streamed_answer_serves_plain_request);
    tcase_add_test(tc, finish_reason_length_kept);
    tcase_add_test(tc, earlier_middleware_change_is_keyed);
    tcase_add_test(tc, backend_failure_is_a_miss);
    tcase_add_test(tc, api_key_never_stored);
    tcase_add_test(tc, qf_cache_command);
    tcase_add_test(tc, corrupt_entry_is_miss_in_chain);
    tcase_add_test(tc, role_ttl_overrides_provider);
    tcase_add_test(tc, image_answer_cached);
    tcase_add_test(tc, background_prune_removes_expired);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chain_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

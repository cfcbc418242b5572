/*
 * test_rate_limit_plugin.c - the built rate_limit.so driven through a fake
 * host with an explicit clock: refusals with their exact messages and
 * retry-after values, reserve and settle, release of failed calls, cache
 * hits, unpriced models, waiting, calendar budgets at a UTC offset, and
 * four processes sharing one SQLite state directory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "error.h"
#include "fakehost.h"
#include "testutil.h"

/* 2026-12-04T12:00:00Z */
#define NOON_MS 1796385600000LL

static fake_context ctx;
static const qf_host *host;
static const qf_middleware_vtable *mw;
static char *dir;

static void setup(void)
{
    const qf_plugin_descriptor *desc = fake_load_rate_limit();
    qf_error err;

    ck_assert_ptr_nonnull(desc);
    mw = desc->middleware;
    host = fake_host();
    dir = qf_test_tmpdir("rate_limit");
    memset(&ctx, 0, sizeof(ctx));
    ctx.name = "rate_limit@openai";
    ctx.state_dir = dir;
    ctx.now_ms = NOON_MS;
    qf_error_init(&err);
    ck_assert_msg(qf_pricing_open(NULL, &ctx.pricing, &err) == QF_OK, "%s",
                  err.message);
}

static void teardown(void)
{
    qf_pricing_free(ctx.pricing);
    cJSON_Delete(ctx.settings);
    qf_test_rmtree(dir);
    free(dir);
}

static void *create(const char *settings_json)
{
    void *instance = NULL;
    qf_error err;

    cJSON_Delete(ctx.settings);
    ctx.settings = cJSON_Parse(settings_json);
    ck_assert_ptr_nonnull(ctx.settings);
    qf_error_init(&err);
    ck_assert_msg(mw->create(host, (qf_context *)&ctx, &instance, &err) ==
                      QF_OK,
                  "%s", err.message);
    return instance;
}

static fake_request text_request(const char *model, const char *text)
{
    fake_request req = {0};

    req.kind = QF_REQUEST_TEXT;
    req.model = model;
    req.message_count = 1;
    req.roles[0] = "user";
    req.contents[0] = text;
    return req;
}

static void add_param(fake_request *req, const char *name, const char *json)
{
    req->param_names[req->param_count] = name;
    req->param_values[req->param_count++] = json;
}

/* on_request, and on success on_complete with the given usage. */
static qf_status run_call(void *instance, fake_request *req, int64_t prompt,
                          int64_t completion, qf_status final_status,
                          qf_error *err)
{
    fake_response resp = {
        {sizeof(qf_usage), prompt, 0, completion, 0}, 0, NULL, 0};
    void *state = NULL;
    qf_status st;

    qf_error_init(err);
    st = mw->on_request(instance, &state, (qf_request *)req,
                        (qf_response *)&resp, err);
    mw->on_complete(instance, &state, (const qf_request *)req,
                    (const qf_response *)&resp,
                    st == QF_OK ? final_status : st);
    return st;
}

START_TEST(third_request_refused)
{
    void *rl = create("{\"requests_per_minute\": 2, \"scope\": \"provider\","
                      " \"scope_id\": \"openai\"}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 1, 2, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 2, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 2, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(err.message, "rate limit requests_per_minute=2 for "
                                  "provider openai reached; retry after 30 s");
    ck_assert_int_eq(err.retry_after_ms, 30000);
    mw->destroy(rl);
}
END_TEST

START_TEST(budget_refused_before_traffic)
{
    void *rl = create("{\"cost_per_day\": 0.0001, \"scope\": \"provider\","
                      " \"scope_id\": \"openai\"}");
    fake_request req = text_request("gpt-4o", "hello");
    qf_error err;

    /* 2 prompt tokens x 2.50 + 1024 output tokens x 10, per million. */
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_OK, &err), QF_ERR_BUDGET);
    ck_assert_str_eq(err.message,
                     "budget cost_per_day=0.0001 for provider openai is "
                     "smaller than this request's estimated cost of 0.010245 "
                     "USD; raise the budget or lower max_tokens");
    ck_assert_int_eq(err.retry_after_ms, -1);
    mw->destroy(rl);
}
END_TEST

START_TEST(day_budget_waits_for_offset_midnight)
{
    void *rl = create("{\"cost_per_day\": 0.02, \"utc_offset\": \"+02:00\","
                      " \"scope\": \"role\", \"scope_id\": \"plotwright\"}");
    fake_request req = text_request("gpt-4o", "hello");
    qf_error err;

    add_param(&req, "max_tokens", "1000");
    ctx.now_ms = NOON_MS + 9 * 3600000LL; /* 21:00Z, 23:00 at +02:00 */
    ck_assert_int_eq(run_call(rl, &req, 2, 1000, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 2, 1000, QF_OK, &err), QF_ERR_BUDGET);
    ck_assert_str_eq(err.message, "budget cost_per_day=0.02 for role "
                                  "plotwright reached; retry after 3600 s");
    ck_assert_int_eq(err.retry_after_ms, 3600000);

    ctx.now_ms += 3600000;
    ck_assert_int_eq(run_call(rl, &req, 2, 1000, QF_OK, &err), QF_OK);
    mw->destroy(rl);
}
END_TEST

START_TEST(settle_charges_reported_usage)
{
    void *rl = create("{\"tokens_per_hour\": 2000, \"scope\": \"provider\","
                      " \"scope_id\": \"openai\"}");
    fake_request small = text_request("gpt-4o", "hello world!");
    fake_request large = text_request("gpt-4o", "hello world!");
    qf_error err;

    add_param(&small, "max_tokens", "10");
    add_param(&large, "max_tokens", "1000");

    /* Reserved 3 + 10 tokens; the upstream reports 100 + 900. */
    ck_assert_int_eq(run_call(rl, &small, 100, 900, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &small, 3, 10, QF_OK, &err), QF_OK);

    /* 987 left and 1003 needed; one token refills every 1.8 s, so the
     * 16 missing take 28.8 s, reported as 29 s. */
    ck_assert_int_eq(run_call(rl, &large, 3, 1000, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(err.message, "rate limit tokens_per_hour=2000 for "
                                  "provider openai reached; retry after 29 s");
    ck_assert_int_eq(err.retry_after_ms, 29000);
    mw->destroy(rl);
}
END_TEST

START_TEST(settle_returns_unused_tokens)
{
    void *rl = create("{\"tokens_per_hour\": 1000}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    add_param(&req, "max_tokens", "900");
    /* Reserved 901, used 11: the next 901 fits. */
    ck_assert_int_eq(run_call(rl, &req, 1, 10, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 10, QF_OK, &err), QF_OK);
    mw->destroy(rl);
}
END_TEST

START_TEST(missing_usage_keeps_estimate)
{
    void *rl = create("{\"tokens_per_hour\": 1000}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    add_param(&req, "max_tokens", "900");
    /* The upstream reported no usage, so the 901 reserved tokens stay
     * spent and a second call of 901 does not fit. */
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    mw->destroy(rl);
}
END_TEST

START_TEST(failed_call_releases_tokens)
{
    void *rl = create("{\"tokens_per_hour\": 1000}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    add_param(&req, "max_tokens", "990");
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_ERR_UPSTREAM, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_ERR_CONNECT, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 990, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 990, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    mw->destroy(rl);
}
END_TEST

START_TEST(failed_call_keeps_request_slot)
{
    void *rl = create("{\"requests_per_minute\": 1}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_ERR_UPSTREAM, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(err.message, "rate limit requests_per_minute=1 for "
                                  "instance rate_limit@openai reached; retry "
                                  "after 60 s");
    mw->destroy(rl);
}
END_TEST

START_TEST(unsent_call_returns_request_slot)
{
    void *rl = create("{\"requests_per_minute\": 1}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    /* A later chain entry refused, so nothing reached the upstream. */
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_ERR_BUDGET, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_OK);
    mw->destroy(rl);
}
END_TEST

START_TEST(cache_hit_costs_nothing)
{
    void *rl = create("{\"requests_per_minute\": 1, \"cost_per_day\": 0.011}");
    fake_request req = text_request("gpt-4o", "hi");
    fake_response hit = {{sizeof(qf_usage), 1, 0, 1000, 0}, 1, NULL, 0};
    void *state = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(mw->on_request(rl, &state, (qf_request *)&req,
                                    (qf_response *)&hit, &err),
                     QF_OK);
    mw->on_complete(rl, &state, (const qf_request *)&req,
                    (const qf_response *)&hit, QF_ANSWERED);
    ck_assert_ptr_null(state);

    /* Neither the request slot nor the budget was used. */
    ck_assert_int_eq(run_call(rl, &req, 1, 1000, QF_OK, &err), QF_OK);
    mw->destroy(rl);
}
END_TEST

START_TEST(unpriced_model_allowed)
{
    void *rl = create("{\"cost_per_day\": 0, \"scope\": \"provider\","
                      " \"scope_id\": \"openai\"}");
    fake_request req = text_request("mystery-model", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_OK);
    mw->destroy(rl);
}
END_TEST

START_TEST(unpriced_model_denied)
{
    void *rl = create("{\"unpriced\": \"deny\", \"scope\": \"provider\","
                      " \"scope_id\": \"openai\"}");
    fake_request req = text_request("mystery-model", "hi");
    fake_request priced = text_request("gpt-4o-mini", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_ERR_BUDGET);
    ck_assert_str_eq(err.message,
                     "model 'mystery-model' has no price and unpriced=deny for "
                     "provider openai; add pricing.mystery-model to the "
                     "configuration or set unpriced: allow");
    ck_assert_int_eq(run_call(rl, &priced, 1, 1, QF_OK, &err), QF_OK);
    mw->destroy(rl);
}
END_TEST

START_TEST(free_model_passes_zero_budget)
{
    void *rl = create("{\"cost_per_day\": 0}");
    fake_request local = text_request("llama3.2:latest", "hi");
    fake_request priced = text_request("gpt-4.1-nano", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &local, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &priced, 1, 1, QF_OK, &err), QF_ERR_BUDGET);
    mw->destroy(rl);
}
END_TEST

START_TEST(largest_output_cap_reserved)
{
    void *rl = create("{\"tokens_per_hour\": 100, \"scope\": \"provider\","
                      " \"scope_id\": \"openai\"}");
    fake_request req = text_request("gpt-4o", "12345678"); /* 2 tokens */
    fake_request plain = text_request("gpt-4o", "12345678");
    qf_error err;

    add_param(&req, "max_tokens", "10");
    add_param(&req, "max_completion_tokens", "50");
    req.option_names[0] = "num_predict";
    req.option_values[0] = "99";
    req.option_count = 1;
    ck_assert_int_eq(run_call(rl, &req, 0, 0, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(err.message,
                     "rate limit tokens_per_hour=100 for provider openai is "
                     "smaller than this request's estimate of 101 tokens; "
                     "raise the limit or lower max_tokens");

    req.option_values[0] = "98";
    ck_assert_int_eq(run_call(rl, &req, 2, 98, QF_OK, &err), QF_OK);

    /* Without a cap the default of 1024 output tokens is reserved. */
    ctx.now_ms += 3600000;
    ck_assert_int_eq(run_call(rl, &plain, 0, 0, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_ptr_nonnull(strstr(err.message, "estimate of 1026 tokens"));
    mw->destroy(rl);
}
END_TEST

START_TEST(image_cost_estimated_per_image)
{
    void *rl = create("{\"cost_per_day\": 0.05, \"scope\": \"provider\","
                      " \"scope_id\": \"openai_images\"}");
    fake_request two = text_request("dall-e-3", "a lighthouse at dusk");
    fake_request one = text_request("dall-e-3", "a lighthouse at dusk");
    qf_error err;

    two.kind = QF_REQUEST_IMAGE;
    one.kind = QF_REQUEST_IMAGE;
    add_param(&two, "n", "2");

    /* dall-e-3 is 0.04 USD per image and has no token prices. */
    ck_assert_int_eq(run_call(rl, &two, 0, 0, QF_OK, &err), QF_ERR_BUDGET);
    ck_assert_str_eq(err.message,
                     "budget cost_per_day=0.05 for provider openai_images is "
                     "smaller than this request's estimated cost of 0.080000 "
                     "USD; raise the budget or request fewer images");
    ck_assert_int_eq(run_call(rl, &one, 0, 0, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &one, 0, 0, QF_OK, &err), QF_ERR_BUDGET);
    ck_assert_int_eq(err.retry_after_ms, 43200000);
    mw->destroy(rl);
}
END_TEST

START_TEST(wait_mode_sleeps_then_passes)
{
    void *rl = create("{\"requests_per_minute\": 1, \"on_limit\": \"wait\","
                      " \"max_wait_seconds\": 60}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(ctx.slept_ms, 60000);
    mw->destroy(rl);
}
END_TEST

START_TEST(wait_mode_gives_up_past_max)
{
    void *rl = create("{\"requests_per_minute\": 1, \"on_limit\": \"wait\","
                      " \"max_wait_seconds\": 59}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_int_eq(ctx.slept_ms, 0);
    ck_assert_int_eq(err.retry_after_ms, 60000);
    mw->destroy(rl);
}
END_TEST

START_TEST(zero_request_limit_never_passes)
{
    void *rl = create("{\"requests_per_minute\": 0, \"scope\": \"role\","
                      " \"scope_id\": \"showrunner\"}");
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(rl, &req, 1, 1, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(err.message, "rate limit requests_per_minute=0 for role "
                                  "showrunner allows no requests; raise the "
                                  "limit");
    ck_assert_int_eq(err.retry_after_ms, -1);
    mw->destroy(rl);
}
END_TEST

START_TEST(invalid_settings_rejected)
{
    static const char *const cases[][2] = {
        {"{\"utc_offset\": \"+25:00\"}",
         "rate_limit utc_offset: invalid value '+25:00'"},
        {"{\"on_limit\": \"queue\"}",
         "rate_limit on_limit: invalid value 'queue'"},
        {"{\"requests_per_minute\": -1}",
         "rate_limit requests_per_minute: invalid value -1"},
        {"{\"store\": \"disk\"}", "rate_limit store: invalid value 'disk'"},
        {"{\"scope\": \"team\", \"scope_id\": \"x\"}",
         "rate_limit scope: invalid value 'team'"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        void *instance = NULL;
        qf_error err;

        cJSON_Delete(ctx.settings);
        ctx.settings = cJSON_Parse(cases[i][0]);
        qf_error_init(&err);
        ck_assert_msg(mw->create(host, (qf_context *)&ctx, &instance, &err) !=
                          QF_OK,
                      "settings %s were accepted", cases[i][0]);
        ck_assert_ptr_null(instance);
        ck_assert_msg(strncmp(err.message, cases[i][1], strlen(cases[i][1])) ==
                          0,
                      "got: %s", err.message);
    }
}
END_TEST

/* One of four processes: make `attempts` calls at a frozen clock and exit
 * with the number that passed. */
static void child_calls(const char *settings, int attempts)
{
    fake_request req = text_request("gpt-4o", "abcd"); /* 1 token */
    void *rl;
    qf_error err;
    int passed = 0;

    add_param(&req, "max_tokens", "99");
    rl = create(settings);
    for (int i = 0; i < attempts; i++) {
        if (run_call(rl, &req, 1, 99, QF_OK, &err) == QF_OK)
            passed++;
    }
    mw->destroy(rl);
    _exit(passed);
}

static int total_passed_by_four(const char *settings, int attempts)
{
    pid_t pids[4];
    int total = 0;

    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0)
            child_calls(settings, attempts);
    }
    for (int i = 0; i < 4; i++) {
        int status = 0;

        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status));
        total += WEXITSTATUS(status);
    }
    return total;
}

START_TEST(four_processes_share_request_limit)
{
    ck_assert_int_eq(total_passed_by_four("{\"requests_per_minute\": 25,"
                                          " \"scope\": \"provider\","
                                          " \"scope_id\": \"openai\"}",
                                          20),
                     25);
}
END_TEST

START_TEST(four_processes_share_token_limit)
{
    /* Each call reserves and uses 100 tokens. */
    ck_assert_int_eq(total_passed_by_four("{\"tokens_per_hour\": 3000,"
                                          " \"scope\": \"provider\","
                                          " \"scope_id\": \"openai\"}",
                                          20),
                     30);
}
END_TEST

START_TEST(four_processes_share_day_budget)
{
    /* Each call reserves and is charged 1 x 2.50 + 99 x 10.00 per million,
     * 0.0009925 USD, so ten calls fit in 0.01 USD and an eleventh does not. */
    ck_assert_int_eq(total_passed_by_four("{\"cost_per_day\": 0.01,"
                                          " \"scope\": \"provider\","
                                          " \"scope_id\": \"openai\"}",
                                          5),
                     10);
}
END_TEST

START_TEST(memory_store_shared_by_scope)
{
    const char *settings =
        "{\"requests_per_minute\": 2, \"store\": \"memory\","
        " \"scope\": \"provider\", \"scope_id\": \"openai\"}";
    void *first = create(settings);
    void *second = create(settings);
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    ck_assert_int_eq(run_call(first, &req, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(second, &req, 1, 1, QF_OK, &err), QF_OK);
    ck_assert_int_eq(run_call(first, &req, 1, 1, QF_OK, &err),
                     QF_ERR_RATE_LIMITED);
    mw->destroy(first);
    mw->destroy(second);
}
END_TEST

typedef struct thread_job {
    void *instance;
    int passed;
} thread_job;

static void *thread_calls(void *arg)
{
    thread_job *job = arg;
    fake_request req = text_request("gpt-4o", "hi");
    qf_error err;

    for (int i = 0; i < 50; i++) {
        if (run_call(job->instance, &req, 1, 1, QF_OK, &err) == QF_OK)
            job->passed++;
    }
    return NULL;
}

/* Calls that pass when four threads make 50 calls each on one instance. */
static int passed_by_four_threads(const char *settings)
{
    void *rl = create(settings);
    pthread_t threads[4];
    thread_job jobs[4];
    int total = 0;

    for (int i = 0; i < 4; i++) {
        jobs[i].instance = rl;
        jobs[i].passed = 0;
        ck_assert_int_eq(
            pthread_create(&threads[i], NULL, thread_calls, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        total += jobs[i].passed;
    }
    mw->destroy(rl);
    return total;
}

START_TEST(threads_share_memory_store)
{
    ck_assert_int_eq(passed_by_four_threads("{\"requests_per_minute\": 120,"
                                            " \"store\": \"memory\"}"),
                     120);
}
END_TEST

START_TEST(threads_share_sqlite_store)
{
    ck_assert_int_eq(passed_by_four_threads("{\"requests_per_minute\": 120}"),
                     120);
}
END_TEST

static Suite *plugin_suite(void)
{
    Suite *s = suite_create("rate_limit");
    TCase *tc = tcase_create("plugin");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, third_request_refused);
    tcase_add_test(tc, budget_refused_before_traffic);
    tcase_add_test(tc, day_budget_waits_for_offset_midnight);
    tcase_add_test(tc, settle_charges_reported_usage);
    tcase_add_test(tc, settle_returns_unused_tokens);
    tcase_add_test(tc, missing_usage_keeps_estimate);
    tcase_add_test(tc, failed_call_releases_tokens);
    tcase_add_test(tc, failed_call_keeps_request_slot);
    tcase_add_test(tc, unsent_call_returns_request_slot);
    tcase_add_test(tc, cache_hit_costs_nothing);
    tcase_add_test(tc, unpriced_model_allowed);
    tcase_add_test(tc, unpriced_model_denied);
    tcase_add_test(tc, free_model_passes_zero_budget);
    tcase_add_test(tc, largest_output_cap_reserved);
    tcase_add_test(tc, image_cost_estimated_per_image);
    tcase_add_test(tc, wait_mode_sleeps_then_passes);
    tcase_add_test(tc, wait_mode_gives_up_past_max);
    tcase_add_test(tc, zero_request_limit_never_passes);
    tcase_add_test(tc, invalid_settings_rejected);
    tcase_add_test(tc, four_processes_share_request_limit);
    tcase_add_test(tc, four_processes_share_token_limit);
    tcase_add_test(tc, four_processes_share_day_budget);
    tcase_add_test(tc, memory_store_shared_by_scope);
    tcase_add_test(tc, threads_share_memory_store);
    tcase_add_test(tc, threads_share_sqlite_store);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plugin_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

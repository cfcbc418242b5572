/*
 * test_rate_limit_e2e.c - rate limits, budgets and cost accounting through
 * the runtime against qf-sim on loopback, with a clock the test sets. qf-sim
 * logs every request it receives, so each refusal is checked to have sent
 * nothing upstream. Its X-QF-Sim-Usage and X-QF-Sim-Cached-Tokens headers
 * make the upstream report the usage the test chooses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include <check.h>

#include "error.h"
#include "ledger.h"
#include "runtime.h"
#include "testruntime.h"
#include "testutil.h"

/* 2026-12-04T21:00:00Z: 23:00 at +02:00. */
#define LATE_EVENING_MS 1796418000000LL
/* 2027-01-01T04:00:00Z: 23:00 on 2026-12-31 at -05:00. */
#define NEW_YEAR_EVE_MS 1798776000000LL

static struct {
    char *dir;
    char *log_path;
    qf_test_sim sim;
    qf_test_clock clock;
    qf_runtime *rt;
    qf_error err;
    double last_cost;
    int last_unpriced;
} w;

static void setup(void)
{
    const char *args[] = {"--log", NULL, NULL};

    memset(&w, 0, sizeof(w));
    qf_error_init(&w.err);
    qf_test_clock_init(&w.clock, LATE_EVENING_MS);
    w.dir = qf_test_tmpdir("rate_limit_e2e");
    ck_assert_int_ne(asprintf(&w.log_path, "%s/sim.log", w.dir), -1);
    args[1] = w.log_path;
    ck_assert_int_eq(qf_test_sim_start(&w.sim, args), 0);
}

static void teardown(void)
{
    if (w.rt != NULL)
        qf_runtime_close(w.rt);
    qf_test_sim_stop(&w.sim);
    qf_test_rmtree(w.dir);
    free(w.dir);
    free(w.log_path);
}

/* Write plugins.yml with `provider_extra` (YAML lines indented by six
 * spaces) in the openai block, then open the runtime. */
static void open_runtime(const char *model, const char *provider_extra)
{
    char *text, *plugins = qf_test_build_path("plugins");

    ck_assert_int_ne(asprintf(&text,
                              "state_dir: state\n"
                              "plugin_dirs: [\"%s\"]\n"
                              "providers:\n"
                              "  text:\n"
                              "    default: openai\n"
                              "    openai:\n"
                              "      base_url: \"%s/v1\"\n"
                              "      api_key: sk-test-offline\n"
                              "      model: %s\n"
                              "%s",
                              plugins, w.sim.base_url, model, provider_extra),
                     -1);
    w.rt = qf_test_runtime_open(w.dir, "plugins.yml", text,
                                (qf_runtime_options){.clock = &w.clock.vtable});
    free(text);
    free(plugins);
}

static qf_status run_prompt(const char *prompt)
{
    qf_request *req = NULL;
    qf_response *resp = NULL;
    qf_status status;

    qf_error_init(&w.err);
    ck_assert_int_eq(qf_request_create(w.rt, "plotwright", NULL, &req, &w.err),
                     QF_OK);
    ck_assert_int_eq(
        qf_request_add_message(req, "user", prompt, strlen(prompt)), QF_OK);
    status = qf_runtime_run(w.rt, req, NULL, &resp, &w.err);
    w.last_cost = resp ? qf_response_cost(resp, &w.last_unpriced) : -1;
    qf_response_free(resp);
    qf_request_free(req);
    return status;
}

/* Requests qf-sim received. */
static int upstream_count(void)
{
    return qf_test_sim_log_count(w.log_path);
}

/* Totals of the whole ledger, by provider; the caller frees. */
static qf_ledger_total *ledger_totals(size_t *count)
{
    char *state;
    qf_ledger *ledger = NULL;
    qf_ledger_total *totals = NULL;
    qf_error err;

    ck_assert_int_ne(asprintf(&state, "%s/state", w.dir), -1);
    qf_error_init(&err);
    ck_assert_int_eq(qf_ledger_open(state, &ledger, &err), QF_OK);
    ck_assert_int_eq(qf_ledger_report(ledger, QF_LEDGER_BY_PROVIDER, INT64_MIN,
                                      INT64_MAX, &totals, count, &err),
                     QF_OK);
    qf_ledger_close(ledger);
    free(state);
    return totals;
}

START_TEST(third_request_never_sent)
{
    open_runtime("gpt-4o", "      rate_limit:\n"
                           "        requests_per_minute: 2\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(run_prompt("hello"), QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(w.err.message,
                     "rate limit requests_per_minute=2 for "
                     "provider openai reached; retry after 30 s");
    ck_assert_int_eq(w.err.retry_after_ms, 30000);
    ck_assert_int_eq(upstream_count(), 2);
}
END_TEST

START_TEST(budget_refused_before_traffic)
{
    open_runtime("gpt-4o", "      rate_limit:\n"
                           "        cost_per_day: 0.0001\n");
    ck_assert_int_eq(run_prompt("hello"), QF_ERR_BUDGET);
    ck_assert_str_eq(w.err.message,
                     "budget cost_per_day=0.0001 for provider openai is "
                     "smaller than this request's estimated cost of 0.010245 "
                     "USD; raise the budget or lower max_tokens");
    ck_assert_int_eq(upstream_count(), 0);
}
END_TEST

START_TEST(settle_charges_upstream_overrun)
{
    open_runtime("gpt-4o", "      params: {max_tokens: 5}\n"
                           "      headers:\n"
                           "        X-QF-Sim-Usage: \"100,9000\"\n"
                           "      rate_limit:\n"
                           "        tokens_per_hour: 10000\n");

    /* Each call reserves 2 + 5 tokens but is charged 9100. */
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(run_prompt("hello"), QF_OK);

    /* 8200 tokens of debt plus 7 needed, at 10000 per hour: 2954.52 s. */
    ck_assert_int_eq(run_prompt("hello"), QF_ERR_RATE_LIMITED);
    ck_assert_str_eq(w.err.message, "rate limit tokens_per_hour=10000 for "
                                    "provider openai reached; retry after "
                                    "2955 s");
    ck_assert_int_eq(upstream_count(), 2);
}
END_TEST

START_TEST(cached_tokens_cost_exact)
{
    size_t n = 0;
    qf_ledger_total *t;

    open_runtime("gpt-4o-2024-08-06",
                 "      headers:\n"
                 "        X-QF-Sim-Usage: \"1000000,100000\"\n"
                 "        X-QF-Sim-Cached-Tokens: \"400000\"\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);

    /* 600k x 2.50 + 400k x 1.25 + 100k x 10.00 per million = 3.00 USD. */
    ck_assert_double_eq_tol(w.last_cost, 3.0, 1e-9);
    ck_assert_int_eq(w.last_unpriced, 0);
    qf_runtime_close(w.rt);
    w.rt = NULL;

    t = ledger_totals(&n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(t[0].cached_tokens, 400000);
    ck_assert_double_eq_tol(t[0].cost_usd, 3.0, 1e-9);
    qf_ledger_totals_free(t, n);
}
END_TEST

START_TEST(unpriced_model_allowed_and_flagged)
{
    size_t n = 0;
    qf_ledger_total *t;

    open_runtime("mystery-model", "      rate_limit:\n"
                                  "        cost_per_day: 1\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_double_eq(w.last_cost, 0.0);
    ck_assert_int_eq(w.last_unpriced, 1);
    qf_runtime_close(w.rt);
    w.rt = NULL;

    t = ledger_totals(&n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(t[0].unpriced_calls, 1);
    qf_ledger_totals_free(t, n);
}
END_TEST

START_TEST(unpriced_model_denied)
{
    open_runtime("mystery-model", "      rate_limit:\n"
                                  "        unpriced: deny\n"
                                  "        requests_per_minute: 100\n");
    ck_assert_int_eq(run_prompt("hello"), QF_ERR_BUDGET);
    ck_assert_str_eq(w.err.message,
                     "model 'mystery-model' has no price and unpriced=deny for "
                     "provider openai; add pricing.mystery-model to the "
                     "configuration or set unpriced: allow");
    ck_assert_int_eq(upstream_count(), 0);
}
END_TEST

START_TEST(day_budget_resets_at_offset_midnight)
{
    /* Each call: 2 x 2.50 + 1000 x 10.00 per million = 0.010005 USD. */
    open_runtime("gpt-4o", "      params: {max_tokens: 1000}\n"
                           "      headers:\n"
                           "        X-QF-Sim-Usage: \"2,1000\"\n"
                           "      rate_limit:\n"
                           "        cost_per_day: 0.02\n"
                           "        utc_offset: \"+02:00\"\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(run_prompt("hello"), QF_ERR_BUDGET);
    ck_assert_str_eq(w.err.message, "budget cost_per_day=0.02 for provider "
                                    "openai reached; retry after 3600 s");
    ck_assert_int_eq(w.err.retry_after_ms, 3600000);

    w.clock.now_ms += 3600000; /* midnight at +02:00 */
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(upstream_count(), 2);
}
END_TEST

START_TEST(month_budget_resets_at_offset_month)
{
    w.clock.now_ms = NEW_YEAR_EVE_MS;
    open_runtime("gpt-4o", "      params: {max_tokens: 1000}\n"
                           "      headers:\n"
                           "        X-QF-Sim-Usage: \"2,1000\"\n"
                           "      rate_limit:\n"
                           "        cost_per_month: 0.02\n"
                           "        utc_offset: \"-05:00\"\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(run_prompt("hello"), QF_ERR_BUDGET);
    ck_assert_str_eq(w.err.message, "budget cost_per_month=0.02 for provider "
                                    "openai reached; retry after 3600 s");

    w.clock.now_ms += 3600000; /* 2027-01-01 00:00 at -05:00 */
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
}
END_TEST

START_TEST(wait_mode_sleeps_on_injected_clock)
{
    open_runtime("gpt-4o", "      rate_limit:\n"
                           "        requests_per_minute: 1\n"
                           "        on_limit: wait\n"
                           "        max_wait_seconds: 60\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_int_eq(w.clock.now_ms, LATE_EVENING_MS + 60000);
    ck_assert_int_eq(upstream_count(), 2);
}
END_TEST

START_TEST(cache_hit_costs_zero)
{
    size_t n = 0;
    qf_ledger_total *t;

    open_runtime("gpt-4o", "      cache: {enabled: true}\n"
                           "      rate_limit:\n"
                           "        requests_per_minute: 1\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_double_gt(w.last_cost, 0);

    /* The cache returns the stored response before the limiter runs, so
     * the request limit is not spent. */
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    ck_assert_double_eq(w.last_cost, 0.0);
    ck_assert_int_eq(upstream_count(), 1);
    qf_runtime_close(w.rt);
    w.rt = NULL;

    t = ledger_totals(&n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(t[0].calls, 2);
    ck_assert_int_eq(t[0].cache_hits, 1);
    qf_ledger_totals_free(t, n);
}
END_TEST

/* Run `qf --config <dir>/plugins.yml ARGS... --json` and parse its
 * output. */
static cJSON *run_qf_json(const char *command, const char *sub)
{
    char *qf = qf_test_build_path("bin/qf");
    char *config;
    qf_test_run run;
    cJSON *json;

    ck_assert_int_ne(asprintf(&config, "%s/plugins.yml", w.dir), -1);
    {
        char *const argv[] = {qf,          "--config", config, (char *)command,
                              (char *)sub, "--json",   NULL};

        ck_assert_int_eq(qf_test_run_argv(argv, NULL, w.dir, 30, &run), 0);
    }
    ck_assert_msg(run.exit_code == 0, "qf %s %s: %s", command, sub, run.err);
    json = cJSON_Parse(run.out);
    ck_assert_msg(json != NULL, "not JSON: %s", run.out);
    qf_test_run_free(&run);
    free(config);
    free(qf);
    return json;
}

START_TEST(cli_shows_cost_and_limits)
{
    cJSON *report, *limits, *row;

    /* qf limits show reads the real clock, so the calls use it too. */
    qf_test_clock_init_real(&w.clock);
    open_runtime("gpt-4o", "      rate_limit:\n"
                           "        requests_per_minute: 2\n");
    ck_assert_int_eq(run_prompt("hello"), QF_OK);
    qf_runtime_close(w.rt);
    w.rt = NULL;

    report = run_qf_json("cost", "report");
    ck_assert_str_eq(cJSON_GetObjectItem(report, "by")->valuestring,
                     "provider");
    row = cJSON_GetArrayItem(cJSON_GetObjectItem(report, "rows"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(row, "provider")->valuestring,
                     "openai");
    ck_assert_int_eq(cJSON_GetObjectItem(row, "calls")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(row, "input_tokens")->valueint, 2);
    cJSON_Delete(report);

    limits = run_qf_json("limits", "show");
    row = cJSON_GetArrayItem(cJSON_GetObjectItem(limits, "limits"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(row, "scope")->valuestring,
                     "provider");
    ck_assert_str_eq(cJSON_GetObjectItem(row, "scope_id")->valuestring,
                     "openai");
    ck_assert_str_eq(cJSON_GetObjectItem(row, "limit")->valuestring,
                     "requests_per_minute");
    ck_assert_int_eq(cJSON_GetObjectItem(row, "value")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(row, "used")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(row, "remaining")->valueint, 1);
    cJSON_Delete(limits);
}
END_TEST

static Suite *e2e_suite(void)
{
    Suite *s = suite_create("rate_limit_e2e");
    TCase *tc = tcase_create("runtime");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, third_request_never_sent);
    tcase_add_test(tc, budget_refused_before_traffic);
    tcase_add_test(tc, settle_charges_upstream_overrun);
    tcase_add_test(tc, cached_tokens_cost_exact);
    tcase_add_test(tc, unpriced_model_allowed_and_flagged);
    tcase_add_test(tc, unpriced_model_denied);
    tcase_add_test(tc, day_budget_resets_at_offset_midnight);
    tcase_add_test(tc, month_budget_resets_at_offset_month);
    tcase_add_test(tc, wait_mode_sleeps_on_injected_clock);
    tcase_add_test(tc, cache_hit_costs_zero);
    tcase_add_test(tc, cli_shows_cost_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(e2e_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

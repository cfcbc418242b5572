/*
 * test_ledger.c - the cost ledger: rows recorded and grouped by provider,
 * model, role, day and month over a half-open time range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "error.h"
#include "ledger.h"
#include "testutil.h"

/* 2025-11-30T23:00Z, 2025-12-01T01:00Z, 2025-12-04T12:00Z */
#define NOV30_MS 1764543600000LL
#define DEC01_MS 1764550800000LL
#define DEC04_MS 1764849600000LL

static char *dir;
static qf_ledger *ledger;

static void record(int64_t time_ms, const char *role, const char *provider,
                   const char *model, int64_t input, int64_t cached,
                   int64_t output, double cost, int cache_hit,
                   const char *status)
{
    qf_ledger_row row = {time_ms, role, provider,  model, input, cached, output,
                         0,       cost, cache_hit, 0,     0,     status};
    qf_error err;

    qf_error_init(&err);
    ck_assert_msg(qf_ledger_record(ledger, &row, &err) == QF_OK, "%s",
                  err.message);
}

static void setup(void)
{
    qf_error err;

    dir = qf_test_tmpdir("ledger");
    qf_error_init(&err);
    ck_assert_msg(qf_ledger_open(dir, &ledger, &err) == QF_OK, "%s",
                  err.message);
    record(NOV30_MS, "plotwright", "openai", "gpt-4o-mini", 100, 0, 50, 0.25, 0,
           "ok");
    record(DEC01_MS, "scene_smith", "openai", "gpt-4o", 1000, 400, 100, 1.5, 0,
           "ok");
    record(DEC01_MS + 1000, "scene_smith", "openai", "gpt-4o", 1000, 0, 0, 0, 1,
           "ok");
    record(DEC04_MS, "plotwright", "ollama", "llama3.2", 10, 0, 5, 0, 0,
           "upstream");
}

static void teardown(void)
{
    qf_ledger_close(ledger);
    qf_test_rmtree(dir);
    free(dir);
}

static qf_ledger_total *report(qf_ledger_group group, int64_t since,
                               int64_t until, size_t *count)
{
    qf_ledger_total *totals = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_msg(qf_ledger_report(ledger, group, since, until, &totals, count,
                                   &err) == QF_OK,
                  "%s", err.message);
    return totals;
}

START_TEST(report_by_provider)
{
    size_t n = 0;
    qf_ledger_total *t =
        report(QF_LEDGER_BY_PROVIDER, INT64_MIN, INT64_MAX, &n);

    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(t[0].key, "ollama");
    ck_assert_int_eq(t[0].calls, 1);
    ck_assert_int_eq(t[0].failed_calls, 1);
    ck_assert_str_eq(t[1].key, "openai");
    ck_assert_int_eq(t[1].calls, 3);
    ck_assert_int_eq(t[1].input_tokens, 2100);
    ck_assert_int_eq(t[1].cached_tokens, 400);
    ck_assert_int_eq(t[1].output_tokens, 150);
    ck_assert_int_eq(t[1].cache_hits, 1);
    ck_assert_double_eq_tol(t[1].cost_usd, 1.75, 1e-12);
    qf_ledger_totals_free(t, n);
}
END_TEST

START_TEST(report_by_model_and_role)
{
    size_t n = 0;
    qf_ledger_total *t = report(QF_LEDGER_BY_MODEL, INT64_MIN, INT64_MAX, &n);

    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(t[0].key, "gpt-4o");
    ck_assert_int_eq(t[0].calls, 2);
    ck_assert_str_eq(t[1].key, "gpt-4o-mini");
    ck_assert_str_eq(t[2].key, "llama3.2");
    qf_ledger_totals_free(t, n);

    t = report(QF_LEDGER_BY_ROLE, INT64_MIN, INT64_MAX, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(t[0].key, "plotwright");
    ck_assert_int_eq(t[0].calls, 2);
    ck_assert_double_eq_tol(t[0].cost_usd, 0.25, 1e-12);
    ck_assert_str_eq(t[1].key, "scene_smith");
    ck_assert_double_eq_tol(t[1].cost_usd, 1.5, 1e-12);
    qf_ledger_totals_free(t, n);
}
END_TEST

START_TEST(report_by_day_and_month)
{
    size_t n = 0;
    qf_ledger_total *t = report(QF_LEDGER_BY_DAY, INT64_MIN, INT64_MAX, &n);

    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(t[0].key, "2025-11-30");
    ck_assert_str_eq(t[1].key, "2025-12-01");
    ck_assert_int_eq(t[1].calls, 2);
    ck_assert_str_eq(t[2].key, "2025-12-04");
    qf_ledger_totals_free(t, n);

    t = report(QF_LEDGER_BY_MONTH, INT64_MIN, INT64_MAX, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(t[0].key, "2025-11");
    ck_assert_int_eq(t[0].calls, 1);
    ck_assert_str_eq(t[1].key, "2025-12");
    ck_assert_int_eq(t[1].calls, 3);
    ck_assert_double_eq_tol(t[1].cost_usd, 1.5, 1e-12);
    qf_ledger_totals_free(t, n);
}
END_TEST

START_TEST(report_range_is_half_open)
{
    size_t n = 0;
    qf_ledger_total *t = report(QF_LEDGER_BY_PROVIDER, DEC01_MS, DEC04_MS, &n);

    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(t[0].key, "openai");
    ck_assert_int_eq(t[0].calls, 2);
    qf_ledger_totals_free(t, n);

    t = report(QF_LEDGER_BY_PROVIDER, DEC04_MS + 1, INT64_MAX, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(rows_survive_reopen)
{
    size_t n = 0;
    qf_ledger_total *t;
    qf_error err;

    qf_ledger_close(ledger);
    qf_error_init(&err);
    ck_assert_int_eq(qf_ledger_open(dir, &ledger, &err), QF_OK);
    t = report(QF_LEDGER_BY_ROLE, INT64_MIN, INT64_MAX, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(t[0].calls + t[1].calls, 4);
    qf_ledger_totals_free(t, n);
}
END_TEST

START_TEST(group_names_parse)
{
    ck_assert_int_eq(qf_ledger_group_parse("provider"), QF_LEDGER_BY_PROVIDER);
    ck_assert_int_eq(qf_ledger_group_parse("month"), QF_LEDGER_BY_MONTH);
    ck_assert_int_eq(qf_ledger_group_parse("week"), -1);
    ck_assert_str_eq(qf_ledger_group_name(QF_LEDGER_BY_DAY), "day");
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("report");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, report_by_provider);
    tcase_add_test(tc, report_by_model_and_role);
    tcase_add_test(tc, report_by_day_and_month);
    tcase_add_test(tc, report_range_is_half_open);
    tcase_add_test(tc, rows_survive_reopen);
    tcase_add_test(tc, group_names_parse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ledger_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

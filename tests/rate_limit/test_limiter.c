/*
 * test_limiter.c - the pure limiter core: bucket refill and wait rounding,
 * settlement in both directions, and day and month budgets at a fixed UTC
 * offset, all with an explicit clock.
 */
#include <time.h>

#include <check.h>

#include "limiter.h"

/* 2026-12-04T12:00:00Z */
#define NOON_MS 1796385600000LL

static int64_t utc_ms(int year, int month, int day, int hour, int minute,
                      int second)
{
    struct tm tm = {0};

    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return (int64_t)timegm(&tm) * 1000;
}

static qf_limiter_limits no_limits(void)
{
    qf_limiter_limits limits = {-1, -1, -1, -1, 0};

    return limits;
}

static qf_limiter_decision decide(const qf_limiter_limits *limits,
                                  qf_limiter_state *state, int64_t requests,
                                  int64_t tokens, double cost, int64_t now_ms)
{
    qf_limiter_demand demand = {requests, tokens, cost};
    qf_limiter_decision d;

    qf_limiter_decide(limits, state, &demand, now_ms, &d);
    return d;
}

START_TEST(noon_constant_is_utc_noon)
{
    ck_assert_int_eq(utc_ms(2026, 12, 4, 12, 0, 0), NOON_MS);
}
END_TEST

START_TEST(requests_third_refused_after_30s)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_decision d;

    limits.requests_per_minute = 2;
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0, NOON_MS).allowed, 1);
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0, NOON_MS).allowed, 1);
    d = decide(&limits, &state, 1, 0, 0, NOON_MS);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.limit, QF_LIMIT_REQUESTS_PER_MINUTE);
    ck_assert_int_eq(d.wait_ms, 30000);

    /* One request refills every 30 s. */
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0, NOON_MS + 29999).allowed,
                     0);
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0, NOON_MS + 30000).allowed,
                     1);
}
END_TEST

START_TEST(wait_rounds_up_to_seconds)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_decision d;

    limits.tokens_per_hour = 1000;
    ck_assert_int_eq(decide(&limits, &state, 1, 1000, 0, NOON_MS).allowed, 1);

    /* One token refills every 3.6 s: a wait of 3600 ms reports 4 s. */
    d = decide(&limits, &state, 1, 1, 0, NOON_MS);
    ck_assert_int_eq(d.limit, QF_LIMIT_TOKENS_PER_HOUR);
    ck_assert_int_eq(d.wait_ms, 4000);

    /* One millisecond short still reports a whole second. */
    d = decide(&limits, &state, 1, 1, 0, NOON_MS + 3599);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.wait_ms, 1000);
    ck_assert_int_eq(decide(&limits, &state, 1, 1, 0, NOON_MS + 3600).allowed,
                     1);
}
END_TEST

START_TEST(demand_above_capacity_never_fits)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_decision d;

    limits.tokens_per_hour = 1000;
    d = decide(&limits, &state, 1, 1001, 0, NOON_MS);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.wait_ms, -1);
    ck_assert_int_eq(qf_limiter_bucket_available(
                         &state.tokens, 1000, QF_LIMITER_MS_PER_HOUR, NOON_MS),
                     1000);
}
END_TEST

START_TEST(refusal_reports_longest_wait)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_decision d;

    limits.requests_per_minute = 1;
    limits.tokens_per_hour = 100;
    ck_assert_int_eq(decide(&limits, &state, 1, 100, 0, NOON_MS).allowed, 1);
    d = decide(&limits, &state, 1, 100, 0, NOON_MS);
    ck_assert_int_eq(d.limit, QF_LIMIT_TOKENS_PER_HOUR);
    ck_assert_int_eq(d.wait_ms, 3600000);
}
END_TEST

START_TEST(settle_charges_more_than_reserved)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_demand actual = {1, 5000, 0};
    qf_limiter_decision d;

    limits.tokens_per_hour = 10000;
    d = decide(&limits, &state, 1, 1000, 0, NOON_MS);
    qf_limiter_settle(&limits, &state, &d, &actual, NOON_MS);
    ck_assert_int_eq(qf_limiter_bucket_available(
                         &state.tokens, 10000, QF_LIMITER_MS_PER_HOUR, NOON_MS),
                     5000);
}
END_TEST

START_TEST(settle_returns_unused_reservation)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_demand actual = {1, 200, 0.25};
    qf_limiter_decision d;

    limits.tokens_per_hour = 10000;
    limits.cost_per_day = 10;
    d = decide(&limits, &state, 1, 1000, 1.0, NOON_MS);
    ck_assert_double_eq_tol(state.day.spent, 1.0, 1e-12);
    qf_limiter_settle(&limits, &state, &d, &actual, NOON_MS);
    ck_assert_int_eq(qf_limiter_bucket_available(
                         &state.tokens, 10000, QF_LIMITER_MS_PER_HOUR, NOON_MS),
                     9800);
    ck_assert_double_eq_tol(state.day.spent, 0.25, 1e-12);
    ck_assert_double_eq_tol(state.month.spent, 0.25, 1e-12);
}
END_TEST

START_TEST(debt_delays_next_request)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_demand actual = {1, 1500, 0};
    qf_limiter_decision d;

    limits.tokens_per_hour = 1000;
    d = decide(&limits, &state, 1, 100, 0, NOON_MS);
    qf_limiter_settle(&limits, &state, &d, &actual, NOON_MS);

    /* 500 tokens of debt plus 10 needed: 510 x 3.6 s = 1836 s. */
    d = decide(&limits, &state, 1, 10, 0, NOON_MS);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.wait_ms, 1836000);
}
END_TEST

START_TEST(day_budget_resets_at_offset_midnight)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    int64_t before = utc_ms(2026, 12, 4, 21, 59, 59); /* 23:59:59 at +02:00 */
    int64_t midnight = utc_ms(2026, 12, 4, 22, 0, 0);
    qf_limiter_decision d;

    limits.cost_per_day = 1.0;
    limits.utc_offset_minutes = 120;
    ck_assert_int_eq(qf_limiter_day_start(before, 120),
                     utc_ms(2026, 12, 3, 22, 0, 0));
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0.9, before).allowed, 1);

    d = decide(&limits, &state, 1, 0, 0.2, before);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.limit, QF_LIMIT_COST_PER_DAY);
    ck_assert_int_eq(d.wait_ms, 1000);

    d = decide(&limits, &state, 1, 0, 0.2, midnight);
    ck_assert_int_eq(d.allowed, 1);
    ck_assert_int_eq(d.day_start_ms, midnight);
    ck_assert_double_eq_tol(state.day.spent, 0.2, 1e-12);
}
END_TEST

START_TEST(month_budget_resets_at_offset_month)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    /* 2026-12-31 23:30 at -05:00 is 2027-01-01 04:30 UTC. */
    int64_t before = utc_ms(2027, 1, 1, 4, 30, 0);
    int64_t new_month = utc_ms(2027, 1, 1, 5, 0, 0);
    qf_limiter_decision d;

    limits.cost_per_month = 5.0;
    limits.utc_offset_minutes = -300;
    ck_assert_int_eq(qf_limiter_month_start(before, -300),
                     utc_ms(2026, 12, 1, 5, 0, 0));
    ck_assert_int_eq(qf_limiter_next_month_start(before, -300), new_month);
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 5.0, before).allowed, 1);

    d = decide(&limits, &state, 1, 0, 0.01, before);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.limit, QF_LIMIT_COST_PER_MONTH);
    ck_assert_int_eq(d.wait_ms, 1800000);
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0.01, new_month).allowed, 1);
}
END_TEST

START_TEST(month_start_handles_leap_february)
{
    int64_t feb29 = utc_ms(2028, 2, 29, 12, 0, 0);

    ck_assert_int_eq(qf_limiter_month_start(feb29, 0),
                     utc_ms(2028, 2, 1, 0, 0, 0));
    ck_assert_int_eq(qf_limiter_next_month_start(feb29, 0),
                     utc_ms(2028, 3, 1, 0, 0, 0));
}
END_TEST

START_TEST(budget_cost_above_limit_never_fits)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_decision d;

    limits.cost_per_day = 0;
    d = decide(&limits, &state, 1, 0, 1e-9, NOON_MS);
    ck_assert_int_eq(d.allowed, 0);
    ck_assert_int_eq(d.limit, QF_LIMIT_COST_PER_DAY);
    ck_assert_int_eq(d.wait_ms, -1);

    /* A free call passes a zero budget. */
    ck_assert_int_eq(decide(&limits, &state, 1, 0, 0, NOON_MS).allowed, 1);
}
END_TEST

START_TEST(settle_after_rollover_charges_new_day)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};
    qf_limiter_demand actual = {1, 0, 0.3};
    int64_t next_day = NOON_MS + QF_LIMITER_MS_PER_DAY;
    qf_limiter_decision d;

    limits.cost_per_day = 1.0;
    d = decide(&limits, &state, 1, 0, 0.5, NOON_MS);
    qf_limiter_settle(&limits, &state, &d, &actual, next_day);
    ck_assert_int_eq(state.day.period_start_ms,
                     qf_limiter_day_start(next_day, 0));
    ck_assert_double_eq_tol(state.day.spent, 0.3, 1e-12);
}
END_TEST

START_TEST(absent_limits_allow_everything)
{
    qf_limiter_limits limits = no_limits();
    qf_limiter_state state = {0};

    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(
            decide(&limits, &state, 1, 100000, 100, NOON_MS).allowed, 1);
}
END_TEST

static Suite *limiter_suite(void)
{
    Suite *s = suite_create("limiter");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, noon_constant_is_utc_noon);
    tcase_add_test(tc, requests_third_refused_after_30s);
    tcase_add_test(tc, wait_rounds_up_to_seconds);
    tcase_add_test(tc, demand_above_capacity_never_fits);
    tcase_add_test(tc, refusal_reports_longest_wait);
    tcase_add_test(tc, settle_charges_more_than_reserved);
    tcase_add_test(tc, settle_returns_unused_reservation);
    tcase_add_test(tc, debt_delays_next_request);
    tcase_add_test(tc, day_budget_resets_at_offset_midnight);
    tcase_add_test(tc, month_budget_resets_at_offset_month);
    tcase_add_test(tc, month_start_handles_leap_february);
    tcase_add_test(tc, budget_cost_above_limit_never_fits);
    tcase_add_test(tc, settle_after_rollover_charges_new_day);
    tcase_add_test(tc, absent_limits_allow_everything);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(limiter_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

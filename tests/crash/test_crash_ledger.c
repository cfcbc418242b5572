/*
 * test_crash_ledger.c - crash consistency of the cost ledger. A child
 * records rows numbered 1, 2, 3... for its round's role and writes each
 * number to a pipe once qf_ledger_record has returned. After SIGKILL every
 * reported row must be in the ledger. The round's role has N or N+1 calls,
 * because one more row may have committed before its report. Its input
 * tokens sum to 1+2+...+calls, so no row in between is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "ledger.h"
#include "testutil.h"

#include "crash_util.h"

static char *tmp;

typedef struct round_result {
    char role[32];
    int64_t calls; /* rows found after the kill */
} round_result;

/* Child: record rows until killed, reporting each committed number. */
static int recorder(void *ctx, int ready_fd, int report_fd)
{
    const char *role = ctx;
    qf_ledger *ledger = NULL;
    qf_ledger_row row;
    qf_error err;

    qf_error_init(&err);
    if (qf_ledger_open(tmp, &ledger, &err) != QF_OK)
        return 3;
    memset(&row, 0, sizeof(row));
    row.role = role;
    row.provider = "openai";
    row.model = "gpt-4o-mini";
    row.status = "ok";
    crash_ready(ready_fd);
    for (int64_t n = 1;; n++) {
        row.time_ms = 1767225600000LL + n;
        row.input_tokens = n;
        row.cost_usd = 0.001;
        if (qf_ledger_record(ledger, &row, &err) != QF_OK) {
            fprintf(stderr, "row %lld failed: %s\n", (long long)n, err.message);
            return 5;
        }
        if (write(report_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
            return 6;
    }
}

/* Highest number the child reported; 0 when none. */
static int64_t last_reported(int fd)
{
    int64_t n, last = 0;

    while (crash_read_full(fd, &n, sizeof(n)) == sizeof(n)) {
        ck_assert_int_eq(n, last + 1);
        last = n;
    }
    close(fd);
    return last;
}

static const qf_ledger_total *find_total(const qf_ledger_total *totals,
                                         size_t count, const char *role)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(totals[i].key, role) == 0)
            return &totals[i];
    }
    return NULL;
}

/* Check round `r` against the ledger; with `reported` >= 0, also fill in
 * how many rows it kept. */
static void check_round(const qf_ledger_total *totals, size_t count,
                        round_result *r, int64_t reported)
{
    const qf_ledger_total *t = find_total(totals, count, r->role);
    int64_t calls = t ? t->calls : 0;

    if (reported >= 0) {
        ck_assert_msg(calls == reported || calls == reported + 1,
                      "%s: %lld rows reported committed, %lld in the ledger",
                      r->role, (long long)reported, (long long)calls);
        r->calls = calls;
    }
    ck_assert_int_eq(calls, r->calls);
    if (calls > 0)
        ck_assert_int_eq(t->input_tokens, calls * (calls + 1) / 2);
}

static void check_ledger(round_result *results, int upto, int64_t reported)
{
    qf_ledger *ledger = NULL;
    qf_ledger_total *totals = NULL;
    size_t count = 0;
    qf_error err;

    qf_error_init(&err);
    ck_assert_msg(qf_ledger_open(tmp, &ledger, &err) == QF_OK,
                  "ledger open after a kill failed: %s", err.message);
    ck_assert_int_eq(qf_ledger_report(ledger, QF_LEDGER_BY_ROLE, INT64_MIN,
                                      INT64_MAX, &totals, &count, &err),
                     QF_OK);
    for (int i = 0; i < upto; i++)
        check_round(totals, count, &results[i], -1);
    check_round(totals, count, &results[upto], reported);
    qf_ledger_totals_free(totals, count);
    qf_ledger_close(ledger);
}

static void setup(void)
{
    tmp = qf_test_tmpdir("crash-ledger");
    ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
    qf_test_rmtree(tmp);
    free(tmp);
}

START_TEST(ledger_rows_survive_sigkill)
{
    int rounds = crash_rounds(30);
    round_result *results = calloc((size_t)rounds, sizeof(*results));
    int64_t total = 0;

    ck_assert_ptr_nonnull(results);
    crash_seed(4242);
    for (int i = 0; i < rounds; i++) {
        crash_outcome out;
        int64_t reported;

        snprintf(results[i].role, sizeof(results[i].role), "crash-%03d", i);
        out = crash_run(recorder, results[i].role,
                        (long)(crash_random() % 50000));
        reported = last_reported(out.report_fd);
        ck_assert_msg(out.killed, "round %d: recorder exited with code %d", i,
                      out.exit_code);
        check_ledger(results, i, reported);
        total += results[i].calls;
    }
    fprintf(stderr, "ledger: %d kills, %lld rows kept\n", rounds,
            (long long)total);
    free(results);
}
END_TEST

static Suite *crash_ledger_suite(void)
{
    Suite *s = suite_create("crash_ledger");
    TCase *tc = tcase_create("sigkill");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, ledger_rows_survive_sigkill);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crash_ledger_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * bench_ledger_report - fill a fresh ledger with one million rows spread
 * over 400 days, then time qf_ledger_report for every grouping over the
 * whole range and over the last 30 days. Prints milliseconds per report.
 * Usage: bench_ledger_report [ROWS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "error.h"
#include "ledger.h"

#define START_MS  1764547200000LL /* 2025-12-01T00:00:00Z */
#define SPAN_DAYS 400

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 +
           (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Insert rows in one transaction through a second connection. The ledger
 * API commits once per call, which the runtime needs but which is too slow
 * for a million rows of setup. */
static int fill(const char *dir, long rows)
{
    static const char *const roles[] = {"plotwright", "scene_smith",
                                        "lore_weaver", "illustrator"};
    static const char *const models[] = {"gpt-4o", "gpt-4o-mini", "llama3.2"};
    char path[4200];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t step = (int64_t)SPAN_DAYS * 86400000 / rows;

    snprintf(path, sizeof(path), "%s/ledger.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO calls (time_ms, role, provider, model,"
                           " input_tokens, output_tokens, cost_usd) VALUES"
                           " (?1, ?2, ?3, ?4, 120, 80, 0.0011)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    for (long i = 0; i < rows; i++) {
        sqlite3_bind_int64(s, 1, START_MS + i * step);
        sqlite3_bind_text(s, 2, roles[i % 4], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, i % 3 == 2 ? "ollama" : "openai", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(s, 4, models[i % 3], -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            return -1;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return 0;
}

static void time_report(qf_ledger *ledger, qf_ledger_group group, int64_t since,
                        int64_t until, const char *range)
{
    struct timespec a, b;
    qf_ledger_total *totals = NULL;
    size_t n = 0;
    qf_error err;

    qf_error_init(&err);
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (qf_ledger_report(ledger, group, since, until, &totals, &n, &err) !=
        QF_OK) {
        fprintf(stderr, "report failed: %s\n", err.message);
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("report by %-8s %-12s %8.1f ms  (%zu groups)\n",
           qf_ledger_group_name(group), range, elapsed_ms(&a, &b), n);
    qf_ledger_totals_free(totals, n);
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    char dir[] = "/tmp/qf-bench-ledger-XXXXXX";
    qf_ledger *ledger = NULL;
    qf_error err;
    int64_t end = START_MS + (int64_t)SPAN_DAYS * 86400000;
    char cmd[128];

    qf_error_init(&err);
    if (rows <= 0 || mkdtemp(dir) == NULL ||
        qf_ledger_open(dir, &ledger, &err) != QF_OK || fill(dir, rows) != 0) {
        fprintf(stderr, "setup failed: %s\n", err.message);
        return 1;
    }
    printf("ledger rows: %ld over %d days\n", rows, SPAN_DAYS);
    for (int g = 0; g < 5; g++)
        time_report(ledger, (qf_ledger_group)g, INT64_MIN, INT64_MAX, "all");
    for (int g = 0; g < 5; g++)
        time_report(ledger, (qf_ledger_group)g, end - 30LL * 86400000, end,
                    "last 30 days");

    qf_ledger_close(ledger);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

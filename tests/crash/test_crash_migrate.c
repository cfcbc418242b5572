/*
 * test_crash_migrate.c - crash consistency of schema migrations. A store
 * with thousands of trace units and artifacts is built once at 1.1.0 and
 * migrated down to 1.0.0 as a template. Each round copies the template, a
 * child migrates the copy to 1.1.0 and SIGKILL ends it at a random moment
 * within the measured length of one migration. The store must then open at
 * 1.0.0 or 1.1.0 with exactly that version's columns and every row, and a
 * second migration must succeed despite any backup left half-written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "state.h"
#include "testutil.h"

#include "crash_util.h"

#define TRACE_UNITS 3000
#define ARTIFACTS   1000

static char *tmp;
static char *template_db;

static void fail_on(qf_status status, const qf_error *err, const char *what)
{
    ck_assert_msg(status == QF_OK, "%s failed: %s", what, err->message);
}

static void add_rows(qf_state *st)
{
    char id[32], data[96];
    qf_error err;

    qf_error_init(&err);
    /* Only the template is built without syncing, to keep setup short. */
    ck_assert_int_eq(sqlite3_exec(qf_state_db(st), "PRAGMA synchronous=OFF",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    fail_on(qf_state_project_init(st, "Crash", "tester", NULL, &err), &err,
            "project init");
    for (int i = 0; i < TRACE_UNITS; i++) {
        snprintf(id, sizeof(id), "TU-2026-12-04-%c%c%02d", 'A' + i / 2600 % 26,
                 'A' + i / 100 % 26, i % 100);
        snprintf(data, sizeof(data), "{\"n\":%d,\"note\":\"row %d\"}", i, i);
        fail_on(qf_state_tu_create(st, id, "plotwright", data, &err), &err,
                "trace unit create");
    }
    for (int i = 0; i < ARTIFACTS; i++) {
        snprintf(id, sizeof(id), "artifact-%04d", i);
        snprintf(data, sizeof(data), "{\"title\":\"scene %d\"}", i);
        fail_on(qf_state_artifact_put(st, id, "scene", data, NULL, &err), &err,
                "artifact put");
    }
}

static void build_template(void)
{
    char *dir = NULL;
    qf_state *st = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_ge(asprintf(&dir, "%s/template", tmp), 0);
    fail_on(qf_state_open(dir, 1, &st, &err), &err, "template open");
    ck_assert_str_eq(qf_state_schema_version(st), "1.1.0");
    add_rows(st);
    fail_on(qf_state_migrate(st, "1.0.0", 0, NULL, NULL, &err), &err,
            "downgrade to 1.0.0");
    qf_state_close(st);
    ck_assert_int_ge(asprintf(&template_db, "%s/state.db", dir), 0);
    free(dir);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *bytes = qf_test_read_file(from, &len);
    FILE *f = fopen(to, "wb");

    ck_assert_ptr_nonnull(bytes);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(bytes);
}

/* A copy of the 1.0.0 template in a new temporary folder; returns the
 * folder (malloc'd). */
static char *fresh_store(void)
{
    char *dir = qf_test_tmpdir("crash-migrate-round");
    char *db = NULL;

    ck_assert_ptr_nonnull(dir);
    ck_assert_int_ge(asprintf(&db, "%s/state.db", dir), 0);
    copy_file(template_db, db);
    free(db);
    return dir;
}

/* Child: open the store and migrate it to 1.1.0. */
static int migrator(void *ctx, int ready_fd, int report_fd)
{
    qf_state *st = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_state_open(ctx, 0, &st, &err) != QF_OK)
        return 3;
    crash_ready(ready_fd);
    if (qf_state_migrate(st, "1.1.0", 0, NULL, NULL, &err) != QF_OK) {
        fprintf(stderr, "migration failed: %s\n", err.message);
        return 5;
    }
    qf_state_close(st);
    return 0;
}

static int has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[160];
    sqlite3_stmt *stmt = NULL;
    int found = 0;

    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM pragma_table_info('%s') "
             "WHERE name = '%s'",
             table, column);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
}

static int64_t count_rows(sqlite3 *db, const char *table)
{
    char sql[96];
    sqlite3_stmt *stmt = NULL;
    int64_t n = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

/* The store's version must match its columns; returns 1 when at 1.1.0. */
static int check_store(qf_state *st)
{
    sqlite3 *db = qf_state_db(st);
    const char *version = qf_state_schema_version(st);
    int upgraded = strcmp(version, "1.1.0") == 0;

    ck_assert_msg(upgraded || strcmp(version, "1.0.0") == 0,
                  "store opened at schema %s", version);
    ck_assert_int_eq(has_column(db, "trace_units", "responsible"), upgraded);
    ck_assert_int_eq(has_column(db, "trace_units", "timebox"), upgraded);
    ck_assert_int_eq(has_column(db, "artifacts", "tags"), upgraded);
    ck_assert_int_eq(count_rows(db, "trace_units"), TRACE_UNITS);
    ck_assert_int_eq(count_rows(db, "artifacts"), ARTIFACTS);
    return upgraded;
}

/* Open after the kill, check, then finish the migration. */
static int check_round(const char *dir)
{
    qf_state *st = NULL;
    qf_error err;
    int upgraded;

    qf_error_init(&err);
    fail_on(qf_state_open(dir, 0, &st, &err), &err, "open after a kill");
    upgraded = check_store(st);
    fail_on(qf_state_migrate(st, "1.1.0", 0, NULL, NULL, &err), &err,
            "migration after a kill");
    ck_assert_int_eq(check_store(st), 1);
    qf_state_close(st);
    return upgraded;
}

/* Microseconds one child takes from its ready signal to its exit. */
static long measure_migration(void)
{
    char *dir = fresh_store();
    int64_t start = crash_now_us();
    crash_outcome out = crash_run(migrator, dir, 60L * 1000 * 1000);
    long took = (long)(crash_now_us() - start);

    close(out.report_fd);
    qf_test_rmtree(dir);
    free(dir);
    return took > 1000 ? took : 1000;
}

static void setup(void)
{
    tmp = qf_test_tmpdir("crash-migrate");
    ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
    qf_test_rmtree(tmp);
    free(template_db);
    free(tmp);
}

START_TEST(migration_survives_sigkill)
{
    int rounds = crash_rounds(30);
    int upgraded = 0, killed = 0;
    long span;

    build_template();
    span = measure_migration();
    crash_seed(1100);
    for (int i = 0; i < rounds; i++) {
        char *dir = fresh_store();
        crash_outcome out =
            crash_run(migrator, dir, (long)(crash_random() % (uint64_t)span));

        close(out.report_fd);
        ck_assert_msg(out.killed || out.exit_code == 0,
                      "round %d: migration exited with code %d", i,
                      out.exit_code);
        killed += out.killed;
        upgraded += check_round(dir);
        qf_test_rmtree(dir);
        free(dir);
    }
    fprintf(stderr,
            "migrate: one run ~%ld us; %d rounds, %d killed, %d "
            "found at 1.1.0, %d at 1.0.0\n",
            span, rounds, killed, upgraded, rounds - upgraded);
}
END_TEST

static Suite *crash_migrate_suite(void)
{
    Suite *s = suite_create("crash_migrate");
    TCase *tc = tcase_create("sigkill");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, migration_survives_sigkill);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crash_migrate_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

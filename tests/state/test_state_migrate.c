/*
 * test_state_migrate.c - schema migrations between 1.0.0, 1.1.0 and a
 * test-only 1.2.0 in both directions, restore after a failing step, and
 * backups: unique names under a frozen clock, checksum verification.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_fixture.h"

/* Test-only 1.2.0: adds trace_units.priority. */
static qf_status up_1_2(sqlite3 *db, qf_error *err)
{
    if (sqlite3_exec(db,
                     "ALTER TABLE trace_units ADD COLUMN priority INTEGER NOT "
                     "NULL DEFAULT 0",
                     NULL, NULL, NULL) != SQLITE_OK)
        return qf_error_set(err, QF_ERR_IO, "up_1_2: %s", sqlite3_errmsg(db));
    return QF_OK;
}

static qf_status down_1_2(sqlite3 *db, qf_error *err)
{
    if (sqlite3_exec(db, "ALTER TABLE trace_units DROP COLUMN priority", NULL,
                     NULL, NULL) != SQLITE_OK)
        return qf_error_set(err, QF_ERR_IO, "down_1_2: %s", sqlite3_errmsg(db));
    return QF_OK;
}

/* A step that changes the database and then fails. */
static qf_status up_fails_midway(sqlite3 *db, qf_error *err)
{
    sqlite3_exec(db, "CREATE TABLE half_done (x INTEGER)", NULL, NULL, NULL);
    return qf_error_set(err, QF_ERR_IO, "test step failed midway");
}

static void register_1_2(void)
{
    qf_error err;

    qf_error_init(&err);
    ck_assert_msg(qf_state_migration_register("1.1.0", "1.2.0", up_1_2,
                                              down_1_2, &err) == QF_OK,
                  "%s", err.message);
}

static int has_column(qf_state *st, const char *table, const char *column)
{
    char sql[160];

    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM pragma_table_info('%s') WHERE name = '%s'",
             table, column);
    return (int)fixture_query_int(st, sql);
}

/* The 1.0.0 columns of every row, as one string. */
static char *core_rows(qf_state *st)
{
    return fixture_query_text(
        st,
        "SELECT (SELECT group_concat(id || '|' || status || '|' || owner || "
        "'|' "
        "|| data || '|' || metadata || '|' || created || '|' || modified, ';') "
        "FROM trace_units) || '#' || (SELECT group_concat(id || '|' || type || "
        "'|' || data || '|' || created, ';') FROM artifacts) || '#' || "
        "(SELECT group_concat(id || data, ';') FROM snapshots) || '#' || "
        "(SELECT COUNT(*) FROM history)");
}

/* Number of files in the store's backups folder. */
static int count_backups(const state_fixture *fx)
{
    char path[4200];
    DIR *dir;
    struct dirent *entry;
    int count = 0;

    snprintf(path, sizeof(path), "%s/state/backups", fx->dir);
    dir = opendir(path);
    if (!dir)
        return 0;
    while ((entry = readdir(dir)) != NULL)
        count += entry->d_name[0] != '.';
    closedir(dir);
    return count;
}

static void migrate_ok(qf_state *st, const char *to)
{
    qf_error err;

    qf_error_init(&err);
    ck_assert_msg(qf_state_migrate(st, to, 0, NULL, NULL, &err) == QF_OK,
                  "to %s: %s", to, err.message);
    ck_assert_str_eq(qf_state_schema_version(st), to);
}

static void check_columns(qf_state *st, const char *version)
{
    int v11 = strcmp(version, "1.0.0") != 0;
    int v12 = strcmp(version, "1.2.0") == 0;
    char *stored = fixture_query_text(st, "SELECT version FROM schema_info");

    ck_assert_str_eq(stored, version);
    free(stored);
    ck_assert_int_eq(has_column(st, "trace_units", "responsible"), v11);
    ck_assert_int_eq(has_column(st, "trace_units", "timebox"), v11);
    ck_assert_int_eq(has_column(st, "artifacts", "tags"), v11);
    ck_assert_int_eq(has_column(st, "trace_units", "priority"), v12);
}

START_TEST(every_path_keeps_data)
{
    static const char *const versions[] = {"1.0.0", "1.1.0", "1.2.0"};

    qf_state_migration_reset();
    register_1_2();
    for (int from = 0; from < 3; from++) {
        for (int to = 0; to < 3; to++) {
            state_fixture fx;
            char *before, *after;

            if (from == to)
                continue;
            fixture_open(&fx, "migrate-path");
            ck_assert_str_eq(qf_state_schema_version(fx.st), "1.2.0");
            fixture_populate(fx.st);
            migrate_ok(fx.st, versions[from]);
            before = core_rows(fx.st);
            migrate_ok(fx.st, versions[to]);
            check_columns(fx.st, versions[to]);
            after = core_rows(fx.st);
            ck_assert_str_eq(before, after);
            free(before);
            free(after);
            fixture_close(&fx);
        }
    }
}
END_TEST

START_TEST(path_lists_each_step)
{
    state_fixture fx;
    qf_error err;
    cJSON *steps = NULL;

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "migrate-plan");
    migrate_ok(fx.st, "1.0.0");
    register_1_2();
    ck_assert_int_eq(count_backups(&fx), 2);
    ck_assert_int_eq(qf_state_migrate(fx.st, "1.2.0", 1, &steps, NULL, &err),
                     QF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(steps), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(steps, 0)->valuestring,
                     "1.0.0 -> 1.1.0 (upgrade)");
    ck_assert_str_eq(cJSON_GetArrayItem(steps, 1)->valuestring,
                     "1.1.0 -> 1.2.0 (upgrade)");
    cJSON_Delete(steps);
    /* A dry run changes nothing and takes no backup. */
    ck_assert_str_eq(qf_state_schema_version(fx.st), "1.0.0");
    ck_assert_int_eq(count_backups(&fx), 2); /* one .db, one .sha256 */

    migrate_ok(fx.st, "1.2.0");
    ck_assert_int_eq(qf_state_migrate(fx.st, "1.0.0", 1, &steps, NULL, &err),
                     QF_OK);
    ck_assert_str_eq(cJSON_GetArrayItem(steps, 0)->valuestring,
                     "1.2.0 -> 1.1.0 (downgrade)");
    ck_assert_str_eq(cJSON_GetArrayItem(steps, 1)->valuestring,
                     "1.1.0 -> 1.0.0 (downgrade)");
    cJSON_Delete(steps);
    fixture_close(&fx);
}
END_TEST

START_TEST(downgrade_then_upgrade_resets_new_fields)
{
    state_fixture fx;

    qf_state_migration_reset();
    fixture_open(&fx, "migrate-fields");
    fixture_populate(fx.st);
    ck_assert_int_eq(sqlite3_exec(qf_state_db(fx.st),
                                  "UPDATE trace_units SET responsible = 'ada', "
                                  "timebox = '2d'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    migrate_ok(fx.st, "1.0.0");
    migrate_ok(fx.st, "1.1.0");
    ck_assert_int_eq(fixture_query_int(fx.st,
                                       "SELECT COUNT(*) FROM trace_units "
                                       "WHERE responsible = '' AND "
                                       "timebox = ''"),
                     2);
    ck_assert_int_eq(fixture_query_int(fx.st, "SELECT COUNT(*) FROM artifacts "
                                              "WHERE tags = '[]'"),
                     3);
    fixture_close(&fx);
}
END_TEST

START_TEST(failed_step_restores_backup)
{
    state_fixture fx;
    qf_error err;
    char *before, *after, *backup = NULL, expected[1024];

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "migrate-fail");
    fixture_populate(fx.st);
    migrate_ok(fx.st, "1.0.0");
    before = core_rows(fx.st);
    ck_assert_int_eq(qf_state_migration_register(
                         "1.1.0", "1.2.0", up_fails_midway, down_1_2, &err),
                     QF_OK);

    ck_assert_int_eq(qf_state_migrate(fx.st, "1.2.0", 0, NULL, &backup, &err),
                     QF_ERR_IO);
    ck_assert_ptr_nonnull(backup);
    snprintf(expected, sizeof(expected),
             "migration to the target failed and the store was restored from "
             "%s (schema 1.0.0): migration step 1.1.0 -> 1.2.0 failed: test "
             "step failed midway",
             backup);
    ck_assert_str_eq(err.message, expected);
    ck_assert_str_eq(qf_state_schema_version(fx.st), "1.0.0");
    check_columns(fx.st, "1.0.0");
    ck_assert_int_eq(fixture_query_int(fx.st, "SELECT COUNT(*) FROM "
                                              "sqlite_master WHERE name = "
                                              "'half_done'"),
                     0);
    after = core_rows(fx.st);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(backup);
    fixture_close(&fx);
}
END_TEST

START_TEST(old_schema_refuses_entity_access)
{
    state_fixture fx;
    qf_error err;
    char expected[512];

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "migrate-old");
    migrate_ok(fx.st, "1.0.0");
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL, NULL, &err),
        QF_ERR_UNSUPPORTED);
    snprintf(expected, sizeof(expected),
             "%s has schema 1.0.0, older than the 1.1.0 this qf reads; run 'qf "
             "state migrate --to 1.1.0' first",
             qf_state_db_path(fx.st));
    ck_assert_str_eq(err.message, expected);
    fixture_close(&fx);
}
END_TEST

START_TEST(unknown_target_and_bad_steps)
{
    state_fixture fx;
    qf_error err;

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "migrate-bad");
    ck_assert_int_eq(qf_state_migrate(fx.st, "2.0.0", 0, NULL, NULL, &err),
                     QF_ERR_NOT_FOUND);
    ck_assert_str_eq(err.message, "no migration path from schema 1.1.0 to "
                                  "2.0.0; this qf knows versions up to 1.1.0");
    ck_assert_int_eq(qf_state_migrate(fx.st, "1.x", 0, NULL, NULL, &err),
                     QF_ERR_INVALID);
    ck_assert_int_eq(
        qf_state_migration_register("1.2.0", "1.1.0", up_1_2, down_1_2, &err),
        QF_ERR_INVALID);
    ck_assert_int_eq(
        qf_state_migration_register("1.0.0", "1.1.0", up_1_2, down_1_2, &err),
        QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "migration step 1.0.0 -> 1.1.0 is already registered");
    ck_assert_int_eq(qf_state_version_compare("1.10.0", "1.9.3"), 1);
    ck_assert_int_eq(qf_state_version_compare("1.1.0", "1.1.0"), 0);
    fixture_close(&fx);
}
END_TEST

START_TEST(backups_in_same_millisecond)
{
    state_fixture fx;
    qf_error err;
    char *first = NULL, *second = NULL, sidecar[4200];

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "backup-names");
    fx.clock.step = 0;
    ck_assert_int_eq(qf_state_backup(fx.st, &first, &err), QF_OK);
    ck_assert_int_eq(qf_state_backup(fx.st, &second, &err), QF_OK);
    ck_assert_str_ne(first, second);
    ck_assert_ptr_nonnull(
        strstr(first, "/backups/state-20261204T200000.000Z-1.db"));
    ck_assert_ptr_nonnull(
        strstr(second, "/backups/state-20261204T200000.000Z-2.db"));
    snprintf(sidecar, sizeof(sidecar), "%s.sha256", second);
    ck_assert_int_eq(access(sidecar, F_OK), 0);
    free(first);
    free(second);
    fixture_close(&fx);
}
END_TEST

START_TEST(restore_brings_back_content)
{
    state_fixture fx;
    qf_error err;
    char *backup = NULL, *before, *after;

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "backup-restore");
    fixture_populate(fx.st);
    before = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    ck_assert_int_eq(qf_state_backup(fx.st, &backup, &err), QF_OK);
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-31-NEW01", NULL, NULL, &err),
        QF_OK);
    ck_assert_msg(qf_state_restore(fx.st, backup, &err) == QF_OK, "%s",
                  err.message);
    after = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(backup);
    fixture_close(&fx);
}
END_TEST

START_TEST(tampered_backup_refused)
{
    state_fixture fx;
    qf_error err;
    char *backup = NULL, *before, *after;
    FILE *file;

    qf_error_init(&err);
    qf_state_migration_reset();
    fixture_open(&fx, "backup-tamper");
    fixture_populate(fx.st);
    ck_assert_int_eq(qf_state_backup(fx.st, &backup, &err), QF_OK);
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-31-NEW01", NULL, NULL, &err),
        QF_OK);
    before = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);

    file = fopen(backup, "r+b");
    ck_assert_ptr_nonnull(file);
    fseek(file, 200, SEEK_SET);
    fputc('X', file);
    fclose(file);
    ck_assert_int_eq(qf_state_restore(fx.st, backup, &err), QF_ERR_INVALID);
    ck_assert_int_eq(strncmp(err.message, "backup ", 7), 0);
    ck_assert_ptr_nonnull(strstr(err.message, " failed its checksum: "));
    ck_assert_ptr_nonnull(strstr(err.message,
                                 "the file was changed or "
                                 "damaged, so pick another backup"));
    after = fixture_export(fx.st, QF_STATE_INCLUDE_ALL);
    ck_assert_str_eq(before, after);

    /* Without its sidecar a backup is not restored either. */
    char sidecar[4200];
    snprintf(sidecar, sizeof(sidecar), "%s.sha256", backup);
    ck_assert_int_eq(unlink(sidecar), 0);
    ck_assert_int_eq(qf_state_restore(fx.st, backup, &err), QF_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "has no checksum file"));
    free(before);
    free(after);
    free(backup);
    fixture_close(&fx);
}
END_TEST

START_TEST(restore_rejects_newer_backup)
{
    state_fixture fx;
    qf_error err;
    char *backup = NULL, expected[4400];

    qf_error_init(&err);
    qf_state_migration_reset();
    register_1_2();
    fixture_open(&fx, "backup-newer");
    ck_assert_int_eq(qf_state_backup(fx.st, &backup, &err), QF_OK);
    migrate_ok(fx.st, "1.1.0");

    /* This qf no longer knows 1.2.0, so the backup is too new for it. */
    qf_state_migration_reset();
    ck_assert_int_eq(qf_state_restore(fx.st, backup, &err), QF_ERR_UNSUPPORTED);
    snprintf(expected, sizeof(expected),
             "backup %s has schema 1.2.0, this qf supports up to 1.1.0; "
             "upgrade qf to restore it",
             backup);
    ck_assert_str_eq(err.message, expected);
    ck_assert_str_eq(qf_state_schema_version(fx.st), "1.1.0");
    free(backup);
    fixture_close(&fx);
}
END_TEST

static Suite *state_migrate_suite(void)
{
    Suite *s = suite_create("state_migrate");
    TCase *tc = tcase_create("migrate");

    tcase_add_test(tc, every_path_keeps_data);
    tcase_add_test(tc, path_lists_each_step);
    tcase_add_test(tc, downgrade_then_upgrade_resets_new_fields);
    tcase_add_test(tc, failed_step_restores_backup);
    tcase_add_test(tc, old_schema_refuses_entity_access);
    tcase_add_test(tc, unknown_target_and_bad_steps);
    tcase_add_test(tc, backups_in_same_millisecond);
    tcase_add_test(tc, restore_brings_back_content);
    tcase_add_test(tc, tampered_backup_refused);
    tcase_add_test(tc, restore_rejects_newer_backup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(state_migrate_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

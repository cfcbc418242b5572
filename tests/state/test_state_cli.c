/*
 * test_state_cli.c - `qf state` end to end: the built qf against a store
 * in a temporary folder, checking output, messages and exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "testutil.h"

typedef struct cli_env {
    char *dir;
    char env_entry[4200];
    char *env[2];
} cli_env;

static void env_open(cli_env *ce, const char *tag)
{
    ce->dir = qf_test_tmpdir(tag);
    snprintf(ce->env_entry, sizeof(ce->env_entry), "QF_STATE_DIR=%s/state",
             ce->dir);
    ce->env[0] = ce->env_entry;
    ce->env[1] = NULL;
}

static void env_close(cli_env *ce)
{
    qf_test_rmtree(ce->dir);
    free(ce->dir);
}

/* Run qf with up to 7 arguments after "state"; NULL ends the list. */
static int run_qf_7(cli_env *ce, qf_test_run *run, const char *a1,
                    const char *a2, const char *a3, const char *a4,
                    const char *a5, const char *a6, const char *a7)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[10] = {qf,         "state",    (char *)a1, (char *)a2,
                      (char *)a3, (char *)a4, (char *)a5, (char *)a6,
                      (char *)a7, NULL};
    int rc = qf_test_run_argv(argv, ce->env, ce->dir, 30, run);

    ck_assert_int_eq(rc, 0);
    free(qf);
    return run->exit_code;
}

#define run_qf(ce, run, a1, a2, a3, a4, a5, a6)                                \
    run_qf_7(ce, run, a1, a2, a3, a4, a5, a6, NULL)

/* Run and expect exit code `code`; frees the output. */
static void expect_exit(cli_env *ce, int code, const char *a1, const char *a2,
                        const char *a3, const char *a4)
{
    qf_test_run run;

    ck_assert_msg(run_qf(ce, &run, a1, a2, a3, a4, NULL, NULL) == code,
                  "qf state %s %s: exit %d, stderr: %s", a1, a2 ? a2 : "",
                  run.exit_code, run.err);
    qf_test_run_free(&run);
}

START_TEST(cli_lifecycle_and_exit_codes)
{
    cli_env ce;
    qf_test_run run;

    env_open(&ce, "state-cli");
    expect_exit(&ce, 0, "init", "--name", "Demo", NULL);
    expect_exit(&ce, 0, "tu", "create", "TU-2026-12-04-SR01", NULL);

    ck_assert_int_eq(run_qf(&ce, &run, "tu", "move", "TU-2026-12-04-SR01",
                            "gatecheck", NULL, NULL),
                     1);
    ck_assert_str_eq(run.err, "qf: error: cannot move TU-2026-12-04-SR01 from "
                              "hot-proposed to gatecheck; legal next states: "
                              "stabilizing, deferred, rejected\n");
    qf_test_run_free(&run);

    ck_assert_int_eq(run_qf(&ce, &run, "tu", "move", "TU-2026-12-04-SR01",
                            "stabilizing", NULL, NULL),
                     0);
    ck_assert_str_eq(run.out, "TU-2026-12-04-SR01 is now stabilizing\n");
    qf_test_run_free(&run);

    expect_exit(&ce, 2, "tu", "create", "TU-2026-12-32-SR01", NULL);
    expect_exit(&ce, 2, "tu", "create", NULL, NULL);
    expect_exit(&ce, 2, "tu", "list", "--owner", "x");
    expect_exit(&ce, 2, "frobnicate", NULL, NULL, NULL);
    expect_exit(&ce, 1, "tu", "show", "TU-2026-12-04-XX01", NULL);
    expect_exit(&ce, 0, "tu", "move", "--help", NULL);
    env_close(&ce);
}
END_TEST

START_TEST(cli_json_output)
{
    cli_env ce;
    qf_test_run run;
    cJSON *list;

    env_open(&ce, "state-cli-json");
    expect_exit(&ce, 0, "init", NULL, NULL, NULL);
    expect_exit(&ce, 0, "tu", "create", "TU-2026-12-04-SR01", "--owner=x");
    ck_assert_int_eq(run_qf(&ce, &run, "--json", "tu", "list", "--status",
                            "hot-proposed", NULL),
                     0);
    list = cJSON_Parse(run.out);
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "id")->valuestring,
        "TU-2026-12-04-SR01");
    cJSON_Delete(list);
    qf_test_run_free(&run);

    ck_assert_int_eq(run_qf(&ce, &run, "migrate", "--to", "1.0.0", "--dry-run",
                            "--json", NULL),
                     0);
    ck_assert_str_eq(run.out, "{\"from\":\"1.1.0\",\"to\":\"1.0.0\","
                              "\"dry_run\":true,\"steps\":[\"1.1.0 -> 1.0.0 "
                              "(downgrade)\"]}\n");
    qf_test_run_free(&run);
    env_close(&ce);
}
END_TEST

START_TEST(cli_export_import_merge)
{
    cli_env ce;
    qf_test_run run;
    char file[4200], other[4200], expected[9000];

    env_open(&ce, "state-cli-export");
    snprintf(file, sizeof(file), "%s/export.yml", ce.dir);
    snprintf(other, sizeof(other), "%s/other", ce.dir);
    expect_exit(&ce, 0, "init", "--name", "Demo", NULL);
    expect_exit(&ce, 0, "tu", "create", "TU-2026-12-04-SR01", NULL);
    ck_assert_int_eq(run_qf(&ce, &run, "artifact", "put", "hook-1", "--type",
                            "hook_card", "--data"),
                     2);
    qf_test_run_free(&run);
    ck_assert_int_eq(run_qf_7(&ce, &run, "artifact", "put", "hook-1", "--type",
                              "hook_card", "--data", "{\"a\": 1}"),
                     0);
    qf_test_run_free(&run);
    expect_exit(&ce, 0, "export", file, NULL, NULL);
    expect_exit(&ce, 2, "export", file, "--include", "scenes");

    /* A second store in --state-dir with its own project and trace unit. */
    expect_exit(&ce, 0, "--state-dir", other, "init", "--name=Other");
    ck_assert_int_eq(run_qf(&ce, &run, "--state-dir", other, "tu", "create",
                            "TU-2026-12-04-SR01", "--owner=me"),
                     0);
    qf_test_run_free(&run);
    ck_assert_int_eq(run_qf(&ce, &run, "--state-dir", other, "import", file,
                            "--merge", NULL),
                     0);
    snprintf(expected, sizeof(expected),
             "imported %s: 4 added, 2 skipped\n"
             "project at line 5 already exists\n"
             "trace unit TU-2026-12-04-SR01 (line 13) already exists\n",
             file);
    ck_assert_str_eq(run.out, expected);
    qf_test_run_free(&run);
    env_close(&ce);
}
END_TEST

START_TEST(cli_newer_schema_rejected)
{
    cli_env ce;
    qf_test_run run;
    sqlite3 *db = NULL;
    char path[4200];

    env_open(&ce, "state-cli-newer");
    expect_exit(&ce, 0, "init", NULL, NULL, NULL);
    snprintf(path, sizeof(path), "%s/state/state.db", ce.dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE schema_info SET version = '1.3.0'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(run_qf(&ce, &run, "info", NULL, NULL, NULL, NULL, NULL),
                     1);
    ck_assert_str_eq(run.err, "qf: error: state.db has schema 1.3.0, this qf "
                              "supports up to 1.1.0; upgrade qf or restore a "
                              "backup\n");
    qf_test_run_free(&run);
    env_close(&ce);
}
END_TEST

START_TEST(cli_init_existing_refused)
{
    cli_env ce;
    qf_test_run run;
    char expected[4600];

    env_open(&ce, "state-cli-reinit");
    expect_exit(&ce, 0, "init", "--name", "Demo", "--author=Ada");

    ck_assert_int_eq(
        run_qf(&ce, &run, "init", "--name", "Other", NULL, NULL, NULL), 2);
    snprintf(expected, sizeof(expected),
             "qf: error: state store %s/state/state.db is already initialised "
             "(project Demo); use `qf state info`, or remove it to start "
             "over\n",
             ce.dir);
    ck_assert_str_eq(run.err, expected);
    ck_assert_str_eq(run.out, "");
    qf_test_run_free(&run);

    ck_assert_int_eq(
        run_qf(&ce, &run, "--json", "info", NULL, NULL, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(run.out, "\"name\":\"Demo\""));
    ck_assert_ptr_nonnull(strstr(run.out, "\"author\":\"Ada\""));
    qf_test_run_free(&run);

    expect_exit(&ce, 0, "init", "--name", "Other", "--force");
    ck_assert_int_eq(
        run_qf(&ce, &run, "--json", "info", NULL, NULL, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(run.out, "\"name\":\"Other\""));
    ck_assert_ptr_nonnull(strstr(run.out, "\"author\":\"\""));
    qf_test_run_free(&run);
    expect_exit(&ce, 2, "init", "--force=yes", NULL, NULL);
    env_close(&ce);
}
END_TEST

static Suite *state_cli_suite(void)
{
    Suite *s = suite_create("state_cli");
    TCase *tc = tcase_create("cli");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cli_lifecycle_and_exit_codes);
    tcase_add_test(tc, cli_json_output);
    tcase_add_test(tc, cli_export_import_merge);
    tcase_add_test(tc, cli_newer_schema_rejected);
    tcase_add_test(tc, cli_init_existing_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(state_cli_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * test_plugins_new.c - `qf plugins new` writes the expected project files
 * for each kind, rejects an invalid name, an unknown kind and a non-empty
 * folder. Building the scaffolds with CMake is done by .ci/steps/sdk.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int run_qf(char *const args[], qf_test_run *run)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[16];
    size_t n = 0;
    int rc;

    argv[n++] = qf;
    argv[n++] = "plugins";
    argv[n++] = "new";
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    rc = qf_test_run_argv(argv, NULL, NULL, 30, run);
    free(qf);
    return rc;
}

static char *read_in(const char *dir, const char *name)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return qf_test_read_file(path, NULL);
}

static const char *const kinds[] = {"provider", "middleware", "cache_backend"};
static const char *const kind_enums[] = {
    "QF_KIND_PROVIDER", "QF_KIND_MIDDLEWARE", "QF_KIND_CACHE_BACKEND"};

START_TEST(new_writes_project)
{
    char *tmp = qf_test_tmpdir("plugins-new");
    char dir[512];
    char *args[] = {"my_plugin", "--kind", (char *)kinds[_i],
                    "--dir",     dir,      NULL};
    qf_test_run run;
    char *source, *cmake, *test, *readme;

    snprintf(dir, sizeof(dir), "%s/proj/sub", tmp);
    ck_assert_int_eq(run_qf(args, &run), 0);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    ck_assert_ptr_nonnull(strstr(run.out, "created "));
    qf_test_run_free(&run);

    source = read_in(dir, "my_plugin.c");
    cmake = read_in(dir, "CMakeLists.txt");
    test = read_in(dir, "test_my_plugin.c");
    readme = read_in(dir, "README.md");
    ck_assert_ptr_nonnull(source);
    ck_assert_ptr_nonnull(cmake);
    ck_assert_ptr_nonnull(test);
    ck_assert_ptr_nonnull(readme);
    ck_assert_ptr_nonnull(strstr(source, "\"my_plugin\","));
    ck_assert_ptr_nonnull(strstr(source, kind_enums[_i]));
    ck_assert_ptr_nonnull(strstr(source, "QF_PLUGIN_DEFINE(descriptor)"));
    ck_assert_ptr_null(strstr(source, "@ID@"));
    ck_assert_ptr_nonnull(
        strstr(cmake, "find_package(QuestFoundryPlugin 1 REQUIRED)"));
    ck_assert_ptr_nonnull(
        strstr(cmake, "qf_add_plugin(my_plugin SOURCES my_plugin.c"));
    ck_assert_ptr_nonnull(strstr(cmake, "add_test(NAME test_my_plugin"));
    ck_assert_ptr_null(strstr(cmake, "@"));
    ck_assert_ptr_nonnull(strstr(test, kind_enums[_i]));
    ck_assert_ptr_nonnull(strstr(readme, "# my_plugin"));
    free(source);
    free(cmake);
    free(test);
    free(readme);
    qf_test_rmtree(tmp);
    free(tmp);
}
END_TEST

START_TEST(new_json_lists_files)
{
    char *tmp = qf_test_tmpdir("plugins-new-json");
    char dir[512];
    char *args[] = {"--json", "shout", "--kind", "middleware",
                    "--dir",  dir,     NULL};
    qf_test_run run;

    snprintf(dir, sizeof(dir), "%s/shout", tmp);
    ck_assert_int_eq(run_qf(args, &run), 0);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(run.out, "\"files\":[\"shout.c\","
                                          "\"test_shout.c\",\"CMakeLists.txt\","
                                          "\"README.md\"]"));
    qf_test_run_free(&run);
    qf_test_rmtree(tmp);
    free(tmp);
}
END_TEST

START_TEST(new_rejects_bad_input)
{
    char *tmp = qf_test_tmpdir("plugins-new-bad");
    char *kept = qf_test_write_file(tmp, "keep.txt", "mine\n");
    char *bad_name[] = {"My-Plugin", "--kind", "provider", "--dir", tmp, NULL};
    char *bad_kind[] = {"ok_name", "--kind", "filter", NULL};
    char *no_kind[] = {"ok_name", NULL};
    char *not_empty[] = {"ok_name", "--kind", "provider", "--dir", tmp, NULL};
    qf_test_run run;

    ck_assert_int_eq(run_qf(bad_name, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(run.err, "invalid NAME 'My-Plugin'"));
    qf_test_run_free(&run);

    ck_assert_int_eq(run_qf(bad_kind, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(run.err, "unknown --kind 'filter'"));
    qf_test_run_free(&run);

    ck_assert_int_eq(run_qf(no_kind, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    qf_test_run_free(&run);

    ck_assert_int_eq(run_qf(not_empty, &run), 0);
    ck_assert_int_eq(run.exit_code, 1);
    ck_assert_ptr_nonnull(strstr(run.err, "is not empty"));
    qf_test_run_free(&run);

    /* Nothing was written next to the existing file. */
    ck_assert_ptr_null(read_in(tmp, "ok_name.c"));
    qf_test_rmtree(tmp);
    free(kept);
    free(tmp);
}
END_TEST

static Suite *plugins_new_suite(void)
{
    Suite *s = suite_create("plugins_new");
    TCase *tc = tcase_create("scaffold");

    tcase_add_loop_test(tc, new_writes_project, 0, 3);
    tcase_add_test(tc, new_json_lists_files);
    tcase_add_test(tc, new_rejects_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plugins_new_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

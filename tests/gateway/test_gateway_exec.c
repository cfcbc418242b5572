/*
 * test_gateway_exec.c - `qf serve` runs the separate qf-serve executable
 * from qf's own folder: its help and errors come through unchanged, the
 * global options reach it, and a qf without qf-serve beside it names the
 * path it looked for and exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

START_TEST(help_comes_from_qf_serve)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[] = {qf, "serve", "--help", NULL};
    qf_test_run run;

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &run), 0);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_ptr_eq(strstr(run.out, "usage: qf serve [--listen ADDR:PORT]"),
                     run.out);
    qf_test_run_free(&run);
    free(qf);
}
END_TEST

/* --json and --config are given before `serve`, so only their forwarding
 * lets qf-serve print this JSON error naming the file. */
START_TEST(global_options_reach_qf_serve)
{
    char *dir = qf_test_tmpdir("gw-exec");
    char *qf = qf_test_build_path("bin/qf");
    char config[512];
    char expected[700];
    char *argv[] = {qf, "--json", "--config", config, "serve", NULL};
    qf_test_run run;

    snprintf(config, sizeof(config), "%s/absent.yml", dir);
    snprintf(expected, sizeof(expected),
             "{\"error\":{\"status\":\"not_found\",\"message\":"
             "\"configuration file %s (from --config) not found; check the "
             "path\"}}\n",
             config);
    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &run), 0);
    ck_assert_int_eq(run.exit_code, 1);
    ck_assert_str_eq(run.out, expected);
    ck_assert_str_eq(run.err, "");
    qf_test_run_free(&run);
    qf_test_rmtree(dir);
    free(qf);
    free(dir);
}
END_TEST

/* Copy build/bin/qf alone into dir; returns the copy's malloc'd path. */
static char *copy_qf(const char *dir)
{
    char *src = qf_test_build_path("bin/qf");
    size_t len = 0;
    char *bytes = qf_test_read_file(src, &len);
    char *dst = NULL;
    FILE *f;

    ck_assert_ptr_nonnull(bytes);
    ck_assert_int_ne(asprintf(&dst, "%s/qf", dir), -1);
    f = fopen(dst, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(dst, 0755), 0);
    free(bytes);
    free(src);
    return dst;
}

START_TEST(missing_qf_serve_names_its_path)
{
    char *dir = qf_test_tmpdir("gw-exec");
    char *qf = copy_qf(dir);
    char *argv[] = {qf, "serve", "--listen", "127.0.0.1:0", NULL};
    char expected[700];
    qf_test_run run;

    snprintf(expected, sizeof(expected),
             "qf: error: the gateway executable %s/qf-serve is missing; 'qf "
             "serve' runs qf-serve from qf's own folder, so install or build "
             "it there (cmake --build BUILD --target qf-serve)\n",
             dir);
    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.out, "");
    ck_assert_str_eq(run.err, expected);
    qf_test_run_free(&run);
    qf_test_rmtree(dir);
    free(qf);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gateway_exec");
    TCase *tc = tcase_create("exec");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, help_comes_from_qf_serve);
    tcase_add_test(tc, global_options_reach_qf_serve);
    tcase_add_test(tc, missing_qf_serve_names_its_path);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

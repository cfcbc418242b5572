/*
 * test_qf_run.c - `qf run` as a user runs it: output, --json fields, and
 * the exit status of each kind of failure, against the in-process test
 * plugins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"

static char *tmp;
static char *config_path;

static void setup(void)
{
    char *text;

    tmp = qf_test_tmpdir("qfrun");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(
        asprintf(
            &text,
            "plugin_dirs: [\"%s/chain\"]\n"
            "state_dir: \"%s/state\"\n"
            "pricing:\n"
            "  echo-1: {input_per_million: 1000000, output_per_million: 0}\n"
            "providers:\n"
            "  text:\n"
            "    default: echo\n"
            "    echo: {plugin: test_echo, model: echo-1}\n"
            "    cutting: {plugin: test_echo, mode: cut, model: cut-1}\n"
            "roles:\n"
            "  plotwright: {provider: echo}\n"
            "  scene_smith: {provider: cutting}\n",
            QF_TEST_PLUGIN_DIR, tmp),
        0);
    config_path = qf_test_write_file(tmp, "plugins.yml", text);
    free(text);
}

static void teardown(void)
{
    qf_test_rmtree(tmp);
    free(tmp);
    free(config_path);
}

/* Run qf --config <config> ARGS... and return the result. */
static qf_test_run run_qf(const char *a1, const char *a2, const char *a3,
                          const char *a4, const char *a5, const char *a6)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[10] = {qf,         "--config", config_path, (char *)a1,
                      (char *)a2, (char *)a3, (char *)a4,  (char *)a5,
                      (char *)a6, NULL};
    qf_test_run run;

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, tmp, 60, &run), 0);
    free(qf);
    return run;
}

START_TEST(plain_answer_and_summary)
{
    qf_test_run r =
        run_qf("run", "--no-stream", "--role", "plotwright", "hello", NULL);

    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out, "model=echo-1\n[user] hello\nparams={}\n"
                            "options={}\n");
    /* 5 prompt bytes and 46 answer bytes at 4 bytes a token; the input
     * price of $1 per token makes the cost exact. */
    ck_assert_ptr_nonnull(strstr(r.err, "[plotwright] echo echo-1: 2 prompt + "
                                        "12 completion tokens, $2.000000, "
                                        "cache miss"));
    qf_test_run_free(&r);
}
END_TEST

START_TEST(json_fields)
{
    qf_test_run r = run_qf("run", "--json", "--role", "plotwright", "hi", NULL);
    cJSON *root, *usage;

    ck_assert_int_eq(r.exit_code, 0);
    root = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(cJSON_GetObjectItem(root, "text")->valuestring,
                     "model=echo-1\n[user] hi\nparams={}\noptions={}");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "finish_reason")->valuestring,
                     "stop");
    usage = cJSON_GetObjectItem(root, "usage");
    ck_assert_int_eq(cJSON_GetObjectItem(usage, "prompt_tokens")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(usage, "cached_tokens")->valueint, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(usage, "completion_tokens")->valueint,
                     11);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(usage, "estimated")));
    ck_assert_double_eq(cJSON_GetObjectItem(root, "cost_usd")->valuedouble,
                        1.0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(root, "cache_hit")));
    ck_assert_str_eq(cJSON_GetObjectItem(root, "provider")->valuestring,
                     "echo");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "model")->valuestring, "echo-1");
    cJSON_Delete(root);
    qf_test_run_free(&r);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    qf_test_run r;

    r = run_qf("run", "--role", "plotwright", "", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_str_eq(r.err, "qf: run: no prompt given; usage: qf run --role "
                            "ROLE PROMPT\n");
    qf_test_run_free(&r);

    r = run_qf("run", "--role", "plotwrite", "x", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "role \"plotwrite\" is not a "
                                        "QuestFoundry role"));
    qf_test_run_free(&r);

    r = run_qf("run", "--param", "temperature=abc", "--role", "plotwright",
               "x");
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_str_eq(r.err, "qf: error: generation parameter "
                            "temperature=\"abc\" is invalid; expected a "
                            "number from 0 to 2\n");
    qf_test_run_free(&r);

    r = run_qf("run", "--bogus", "--role", "plotwright", "x", NULL);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_str_eq(r.err, "qf: run: unknown option '--bogus'; see 'qf run "
                            "--help'\n");
    qf_test_run_free(&r);
}
END_TEST

START_TEST(missing_config_exit_2)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[] = {qf,    "--config", "/nonexistent/plugins.yml",
                    "run", "--role",   "plotwright",
                    "x",   NULL};
    qf_test_run r;

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, tmp, 60, &r), 0);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_str_eq(r.err, "qf: error: configuration file "
                            "/nonexistent/plugins.yml (from --config) not "
                            "found; check the path\n");
    qf_test_run_free(&r);
    free(qf);
}
END_TEST

START_TEST(cut_stream_exit_5)
{
    qf_test_run r = run_qf("run", "--role", "scene_smith", "hi", NULL, NULL);

    ck_assert_int_eq(r.exit_code, 5);
    /* The chunk that arrived is shown, then the error. */
    ck_assert_str_eq(r.out, "model=cu\n");
    ck_assert_str_eq(r.err, "qf: error: test_echo: upstream stream was cut "
                            "before its end\n");
    qf_test_run_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qf_run");
    TCase *tc = tcase_create("cli");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, plain_answer_and_summary);
    tcase_add_test(tc, json_fields);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, missing_config_exit_2);
    tcase_add_test(tc, cut_stream_exit_5);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

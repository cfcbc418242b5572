/*
 * test_limits.c - resource limits of a provider call, end to end through
 * the runtime and the openai plugin against qf-sim: a reply larger than
 * max_response_bytes is rejected with QF_ERR_TOO_LARGE, streaming or not,
 * and a slow upstream hits timeout.total_seconds with QF_ERR_TIMEOUT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "runtime.h"
#include "testutil.h"

/* qf-sim echoes the prompt, so a 16 KiB prompt makes a reply over 16 KiB. */
#define BIG_PROMPT_BYTES 16384

static char *tmp;
static qf_test_sim sim;
static qf_runtime *rt;
static qf_error err;
static char *big_prompt;

static void setup(void)
{
    tmp = qf_test_tmpdir("limits");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    big_prompt = malloc(BIG_PROMPT_BYTES + 1);
    ck_assert_ptr_nonnull(big_prompt);
    for (size_t i = 0; i < BIG_PROMPT_BYTES; i++)
        big_prompt[i] = i % 8 == 7 ? ' ' : (char)('a' + i % 26);
    big_prompt[BIG_PROMPT_BYTES - 1] = 'z'; /* no trailing space */
    big_prompt[BIG_PROMPT_BYTES] = '\0';
    rt = NULL;
    qf_error_init(&err);
}

static void teardown(void)
{
    qf_runtime_close(rt);
    qf_test_sim_stop(&sim);
    qf_test_rmtree(tmp);
    free(big_prompt);
    free(tmp);
}

/* Open a runtime whose text provider is openai at qf-sim with the given
 * extra provider lines (indented by six spaces). */
static void open_runtime(const char *extra)
{
    char *text = NULL, *path;
    qf_runtime_options options = {0};

    ck_assert_int_ge(asprintf(&text,
                              "state_dir: %s/state\n"
                              "providers:\n"
                              "  text:\n"
                              "    default: openai\n"
                              "    openai:\n"
                              "      base_url: \"%s/v1\"\n"
                              "      api_key: \"sk-limits-test\"\n"
                              "      model: gpt-4o-mini\n"
                              "      retry: {max_attempts: 1}\n"
                              "%s",
                              tmp, sim.base_url, extra),
                     0);
    path = qf_test_write_file(tmp, "plugins.yml", text);
    ck_assert_ptr_nonnull(path);
    options.config_path = path;
    ck_assert_msg(qf_runtime_open(&options, &rt, &err) == QF_OK,
                  "runtime open failed: %s", err.message);
    free(path);
    free(text);
}

static qf_status run_prompt(const char *prompt, int stream, char **text_out)
{
    qf_request *req = NULL;
    qf_response *resp = NULL;
    qf_status status;

    ck_assert_int_eq(qf_request_create(rt, "plotwright", NULL, &req, &err),
                     QF_OK);
    ck_assert_int_eq(
        qf_request_add_message(req, "user", prompt, strlen(prompt)), QF_OK);
    qf_request_set_stream(req, stream, 1);
    status = qf_runtime_run(rt, req, NULL, &resp, &err);
    if (text_out != NULL && status == QF_OK) {
        size_t len = 0;
        const char *text = qf_runtime_host(rt)->response_text(resp, &len);

        *text_out = strndup(text, len);
    }
    qf_response_free(resp);
    qf_request_free(req);
    return status;
}

START_TEST(large_reply_within_limit)
{
    char *text = NULL;

    open_runtime("      max_response_bytes: 1048576\n");
    ck_assert_int_eq(run_prompt(big_prompt, 0, &text), QF_OK);
    ck_assert_uint_eq(strlen(text), strlen("Echo: ") + BIG_PROMPT_BYTES);
    ck_assert_int_eq(strncmp(text, "Echo: ", 6), 0);
    ck_assert_int_eq(strcmp(text + 6, big_prompt), 0);
    free(text);
}
END_TEST

START_TEST(large_reply_rejected)
{
    int stream = _i;

    open_runtime("      max_response_bytes: 4096\n");
    ck_assert_int_eq(run_prompt(big_prompt, stream, NULL), QF_ERR_TOO_LARGE);
    ck_assert_int_eq(err.status, QF_ERR_TOO_LARGE);
    ck_assert_msg(strstr(err.message, "max_response_bytes") != NULL,
                  "message does not name the setting: %s", err.message);
    ck_assert_msg(strstr(err.message, "4096") != NULL,
                  "message does not give the limit: %s", err.message);
}
END_TEST

START_TEST(small_reply_under_small_limit)
{
    char *text = NULL;

    open_runtime("      max_response_bytes: 4096\n");
    ck_assert_int_eq(run_prompt("hello there", _i, &text), QF_OK);
    ck_assert_str_eq(text, "Echo: hello there");
    free(text);
}
END_TEST

START_TEST(slow_upstream_times_out)
{
    open_runtime("      timeout: {total_seconds: 1}\n"
                 "      headers:\n"
                 "        X-QF-Sim-Fault: delay\n"
                 "        X-QF-Sim-Delay-Ms: \"3000\"\n");
    ck_assert_int_eq(run_prompt("hello", _i, NULL), QF_ERR_TIMEOUT);
    ck_assert_int_eq(err.status, QF_ERR_TIMEOUT);
    ck_assert_msg(strstr(err.message, "timed out") != NULL,
                  "message does not say timed out: %s", err.message);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("openai");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, large_reply_within_limit);
    tcase_add_loop_test(tc, large_reply_rejected, 0, 2);
    tcase_add_loop_test(tc, small_reply_under_small_limit, 0, 2);
    tcase_add_loop_test(tc, slow_upstream_times_out, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(limits_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_openai_parts.c - unit tests of the openai plugin's pure helpers:
 * reading upstream error bodies of every shape, Retry-After and
 * retry-after-ms values, the backoff bound, the max_completion_tokens model
 * table and the token estimate.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "openai_internal.h"

static const char *message_of(const char *body, long status)
{
    static char out[512];
    qf_openai_error_message(body, strlen(body), status, out, sizeof(out));
    return out;
}

START_TEST(error_openai_object)
{
    ck_assert_str_eq(
        message_of("{\"error\":{\"message\":\"Invalid value for "
                   "'temperature'\",\"type\":\"invalid_request_error\","
                   "\"param\":\"temperature\",\"code\":null}}",
                   400),
        "Invalid value for 'temperature'");
}
END_TEST

START_TEST(error_bare_string_field)
{
    ck_assert_str_eq(message_of("{\"error\":\"model not loaded\"}", 400),
                     "model not loaded");
}
END_TEST

START_TEST(error_message_field)
{
    ck_assert_str_eq(
        message_of("{\"message\":\"Too many requests\",\"code\":429}", 429),
        "Too many requests");
}
END_TEST

START_TEST(error_json_string)
{
    ck_assert_str_eq(message_of("\"upstream overloaded\"", 503),
                     "upstream overloaded");
}
END_TEST

START_TEST(error_object_without_message)
{
    ck_assert_str_eq(message_of("{\"error\":{\"code\":\"x\"}}", 400),
                     "{\"code\":\"x\"}");
}
END_TEST

START_TEST(error_html_page)
{
    ck_assert_str_eq(
        message_of("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                   "<body><center><h1>502 Bad Gateway</h1></center>"
                   "</body></html>\r\n",
                   502),
        "502 Bad Gateway 502 Bad Gateway");
}
END_TEST

START_TEST(error_html_without_text)
{
    ck_assert_str_eq(message_of("<html><body><br/></body></html>", 502),
                     "HTTP 502 with an HTML body");
}
END_TEST

START_TEST(error_plain_text)
{
    ck_assert_str_eq(message_of("upstream connect error\n", 503),
                     "upstream connect error");
}
END_TEST

START_TEST(error_empty_body)
{
    ck_assert_str_eq(message_of("", 500), "HTTP 500 with an empty body");
}
END_TEST

START_TEST(error_long_text_cut)
{
    char body[400];
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    ck_assert_uint_eq(strlen(message_of(body, 500)), QF_OPENAI_ERROR_TEXT_MAX);
}
END_TEST

START_TEST(error_cut_on_utf8_boundary)
{
    /* 199 ASCII bytes, then a two-byte character across byte 200. */
    char body[300];
    memset(body, 'a', 199);
    memcpy(body + 199, "\xC3\xA9tail", 7);
    body[206] = '\0';
    const char *message = message_of(body, 500);
    ck_assert_uint_eq(strlen(message), 199);
    ck_assert_int_eq(message[198], 'a');
}
END_TEST

START_TEST(retry_after_seconds)
{
    ck_assert_int_eq(qf_openai_retry_after_parse("1", NULL, 0), 1000);
    ck_assert_int_eq(qf_openai_retry_after_parse(" 20 ", NULL, 0), 20000);
    ck_assert_int_eq(qf_openai_retry_after_parse("0.5", NULL, 0), 500);
}
END_TEST

START_TEST(retry_after_ms_header)
{
    ck_assert_int_eq(qf_openai_retry_after_parse(NULL, "250", 0), 250);
    ck_assert_int_eq(qf_openai_retry_after_parse("1", "2500", 0), 2500);
    ck_assert_int_eq(qf_openai_retry_after_parse("3", "2500", 0), 3000);
}
END_TEST

START_TEST(retry_after_http_date)
{
    /* 00:00:10 GMT is 10000 ms after the epoch. */
    ck_assert_int_eq(qf_openai_retry_after_parse(
                         "Thu, 01 Jan 1970 00:00:10 GMT", NULL, 4000),
                     6000);
    ck_assert_int_eq(qf_openai_retry_after_parse(
                         "Thu, 01 Jan 1970 00:00:10 GMT", NULL, 20000),
                     0);
}
END_TEST

START_TEST(retry_after_unusable)
{
    ck_assert_int_eq(qf_openai_retry_after_parse(NULL, NULL, 0), -1);
    ck_assert_int_eq(qf_openai_retry_after_parse("soon", "-5", 0), -1);
    ck_assert_int_eq(qf_openai_retry_after_parse("1x", NULL, 0), -1);
}
END_TEST

START_TEST(backoff_doubles)
{
    ck_assert_int_eq(qf_openai_backoff_bound_ms(1), 500);
    ck_assert_int_eq(qf_openai_backoff_bound_ms(2), 1000);
    ck_assert_int_eq(qf_openai_backoff_bound_ms(3), 2000);
    ck_assert_int_eq(qf_openai_backoff_bound_ms(200), INT64_C(1) << 40);
}
END_TEST

START_TEST(model_table_matches)
{
    static const char *const takes[] = {
        "o1",      "o1-mini", "o1-preview", "o3",      "o3-mini-2025-01-31",
        "o4-mini", "gpt-5",   "gpt-5-mini", "gpt-5.1", "openai/o3"};
    static const char *const keeps[] = {
        "gpt-4o", "gpt-4o-mini", "o10", "gpt-50", "llama-o1", "gpt-4.1", ""};

    for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++)
        ck_assert_msg(qf_openai_model_uses_max_completion_tokens(takes[i]),
                      "%s should take max_completion_tokens", takes[i]);
    for (size_t i = 0; i < sizeof(keeps) / sizeof(keeps[0]); i++)
        ck_assert_msg(!qf_openai_model_uses_max_completion_tokens(keeps[i]),
                      "%s should keep max_tokens", keeps[i]);
    ck_assert_int_eq(qf_openai_model_uses_max_completion_tokens(NULL), 0);
}
END_TEST

START_TEST(estimate_rounds_up)
{
    ck_assert_int_eq(qf_openai_estimate_tokens(0), 0);
    ck_assert_int_eq(qf_openai_estimate_tokens(1), 1);
    ck_assert_int_eq(qf_openai_estimate_tokens(4), 1);
    ck_assert_int_eq(qf_openai_estimate_tokens(5), 2);
}
END_TEST

static Suite *parts_suite(void)
{
    Suite *s = suite_create("openai_parts");
    TCase *errors = tcase_create("errors");
    TCase *retry = tcase_create("retry");
    TCase *models = tcase_create("models");

    tcase_add_test(errors, error_openai_object);
    tcase_add_test(errors, error_bare_string_field);
    tcase_add_test(errors, error_message_field);
    tcase_add_test(errors, error_json_string);
    tcase_add_test(errors, error_object_without_message);
    tcase_add_test(errors, error_html_page);
    tcase_add_test(errors, error_html_without_text);
    tcase_add_test(errors, error_plain_text);
    tcase_add_test(errors, error_empty_body);
    tcase_add_test(errors, error_long_text_cut);
    tcase_add_test(errors, error_cut_on_utf8_boundary);
    tcase_add_test(retry, retry_after_seconds);
    tcase_add_test(retry, retry_after_ms_header);
    tcase_add_test(retry, retry_after_http_date);
    tcase_add_test(retry, retry_after_unusable);
    tcase_add_test(retry, backoff_doubles);
    tcase_add_test(models, model_table_matches);
    tcase_add_test(models, estimate_rounds_up);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, retry);
    suite_add_tcase(s, models);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(parts_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

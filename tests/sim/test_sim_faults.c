/*
 * test_sim_faults.c - every qf-sim fault over loopback: status codes and
 * retry headers, error bodies, the per-name fault counter, and the stream
 * faults (malformed, cut, tiny, batched, error-mid-stream) on both APIs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "simhttp.h"
#include "testutil.h"

#define CHAT_PATH "/v1/chat/completions"
#define CHAT_BODY                                                              \
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"           \
    "\"a b c d\"}]}"
#define CHAT_STREAM_BODY                                                       \
    "{\"model\":\"m\",\"stream\":true,\"stream_options\":{"                    \
    "\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"    \
    "\"a b c d\"}]}"
#define OLLAMA_BODY                                                            \
    "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":"   \
    "\"a b c d\"}]}"

static qf_test_sim sim;

static void start_sim(void)
{
    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
}

static void stop_sim(void)
{
    qf_test_sim_stop(&sim);
}

/* POST `body` to `path` with X-QF-Sim-Fault: fault and one extra header. */
static void send_fault(const char *path, const char *body, const char *fault,
                       const char *extra, struct sim_http *res)
{
    char fault_header[128];
    const char *headers[] = {fault_header, extra, NULL};

    snprintf(fault_header, sizeof(fault_header), "X-QF-Sim-Fault: %s", fault);
    sim_http_send(NULL, &sim, "POST", path, headers, body, res);
}

static void assert_header(const struct sim_http *res, const char *name,
                          const char *expected)
{
    char *value = sim_http_header(res, name);

    ck_assert_ptr_nonnull(value);
    ck_assert_str_eq(value, expected);
    free(value);
}

static int count_substr(const char *text, const char *needle)
{
    int count = 0;

    for (const char *p = strstr(text, needle); p != NULL;
         p = strstr(p + 1, needle))
        count++;
    return count;
}

START_TEST(fault_429_retry_after_default)
{
    struct sim_http res;

    send_fault(CHAT_PATH, CHAT_BODY, "429", NULL, &res);
    ck_assert_int_eq(res.status, 429);
    assert_header(&res, "Retry-After", "1");
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"rate_limit_exceeded\""));
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_429_retry_after_value)
{
    struct sim_http res;

    send_fault(CHAT_PATH, CHAT_BODY, "429", "X-QF-Sim-Retry-After: 7", &res);
    ck_assert_int_eq(res.status, 429);
    assert_header(&res, "Retry-After", "7");
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_429_date_is_http_date)
{
    struct sim_http res;
    time_t before = time(NULL), after, when;
    char *value;

    send_fault(CHAT_PATH, CHAT_BODY, "429-date", "X-QF-Sim-Retry-After: 30",
               &res);
    after = time(NULL);
    ck_assert_int_eq(res.status, 429);
    value = sim_http_header(&res, "Retry-After");
    ck_assert_ptr_nonnull(value);
    ck_assert_ptr_nonnull(strstr(value, " GMT"));
    when = curl_getdate(value, NULL);
    ck_assert_int_ge(when, before + 30);
    ck_assert_int_le(when, after + 30);
    free(value);
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_429_ms_header)
{
    struct sim_http res;
    char *retry_after;

    send_fault(CHAT_PATH, CHAT_BODY, "429-ms", NULL, &res);
    ck_assert_int_eq(res.status, 429);
    assert_header(&res, "retry-after-ms", "1000");
    retry_after = sim_http_header(&res, "Retry-After");
    ck_assert_ptr_null(retry_after);
    sim_http_free(&res);

    send_fault(CHAT_PATH, CHAT_BODY, "429-ms", "X-QF-Sim-Retry-After: 250",
               &res);
    assert_header(&res, "retry-after-ms", "250");
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_5xx_statuses)
{
    struct sim_http res;
    cJSON *json;

    send_fault(CHAT_PATH, CHAT_BODY, "500", NULL, &res);
    ck_assert_int_eq(res.status, 500);
    json = cJSON_Parse(res.body);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(json, "error"), "type")),
                     "server_error");
    cJSON_Delete(json);
    sim_http_free(&res);

    send_fault(CHAT_PATH, CHAT_BODY, "503", NULL, &res);
    ck_assert_int_eq(res.status, 503);
    sim_http_free(&res);

    /* Ollama paths carry Ollama's {"error":"..."} shape. */
    send_fault("/api/chat", OLLAMA_BODY, "503", NULL, &res);
    ck_assert_int_eq(res.status, 503);
    json = cJSON_Parse(res.body);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(json, "error")));
    cJSON_Delete(json);
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_delay_then_answer)
{
    struct sim_http res;
    struct sim_http plain;

    send_fault(CHAT_PATH, CHAT_BODY, "delay", "X-QF-Sim-Delay-Ms: 50", &res);
    ck_assert_int_eq(res.code, CURLE_OK);
    ck_assert_int_eq(res.status, 200);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, CHAT_BODY, &plain);
    ck_assert_str_eq(res.body, plain.body);
    sim_http_free(&plain);
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_malformed_body)
{
    struct sim_http res;
    cJSON *json;

    send_fault(CHAT_PATH, CHAT_BODY, "malformed", NULL, &res);
    ck_assert_int_eq(res.code, CURLE_OK);
    ck_assert_int_eq(res.status, 200);
    json = cJSON_Parse(res.body);
    ck_assert_ptr_null(json);
    sim_http_free(&res);
}
END_TEST

/* Every "data: " line except [DONE] must fail to parse. */
START_TEST(fault_malformed_stream)
{
    struct sim_http res;
    char *line;
    int events = 0;

    send_fault(CHAT_PATH, CHAT_STREAM_BODY, "malformed", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    for (line = strstr(res.body, "data: "); line != NULL;
         line = strstr(line + 1, "data: ")) {
        char *end = strstr(line, "\n\n");
        char *payload;
        cJSON *json;

        ck_assert_ptr_nonnull(end);
        payload = strndup(line + 6, (size_t)(end - line - 6));
        json = cJSON_Parse(payload);
        if (strcmp(payload, "[DONE]") != 0)
            ck_assert_ptr_null(json);
        cJSON_Delete(json);
        free(payload);
        events++;
    }
    /* 5 word chunks, the finish chunk, the usage chunk and [DONE]. */
    ck_assert_int_eq(events, 8);
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_cut_body)
{
    struct sim_http res;

    send_fault(CHAT_PATH, CHAT_BODY, "cut", NULL, &res);
    ck_assert_int_eq(res.code, CURLE_PARTIAL_FILE);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_null(strstr(res.body, "\"usage\""));
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_cut_stream)
{
    struct sim_http res;

    send_fault(CHAT_PATH, CHAT_STREAM_BODY, "cut", NULL, &res);
    ck_assert_int_ne(res.code, CURLE_OK);
    ck_assert_int_eq(count_substr(res.body, "data: "), 2);
    ck_assert_ptr_null(strstr(res.body, "[DONE]"));
    sim_http_free(&res);

    send_fault("/api/chat", OLLAMA_BODY, "cut", NULL, &res);
    ck_assert_int_ne(res.code, CURLE_OK);
    ck_assert_int_eq(count_substr(res.body, "\n"), 2);
    ck_assert_ptr_null(strstr(res.body, "\"done\":true"));
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_tiny_same_events)
{
    struct sim_http tiny, plain;

    send_fault(CHAT_PATH, CHAT_STREAM_BODY, "tiny", NULL, &tiny);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, CHAT_STREAM_BODY,
                  &plain);
    ck_assert_int_eq(tiny.code, CURLE_OK);
    ck_assert_str_eq(tiny.body, plain.body);
    /* 8 events in far more pieces: lines arrive split. */
    ck_assert_int_gt(tiny.writes, 8);
    sim_http_free(&plain);
    sim_http_free(&tiny);

    /* Multi-byte UTF-8 content reassembles unchanged. */
    send_fault("/api/chat",
               "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\"}]}",
               "tiny", NULL, &tiny);
    ck_assert_ptr_nonnull(strstr(tiny.body, "\xe2\x82\xac"));
    ck_assert_ptr_nonnull(strstr(tiny.body, "\"done\":true"));
    sim_http_free(&tiny);
}
END_TEST

START_TEST(fault_batched_same_events)
{
    struct sim_http batched, plain;

    send_fault("/api/chat", OLLAMA_BODY, "batched", NULL, &batched);
    sim_http_send(NULL, &sim, "POST", "/api/chat", NULL, OLLAMA_BODY, &plain);
    ck_assert_int_eq(batched.code, CURLE_OK);
    ck_assert_str_eq(batched.body, plain.body);
    sim_http_free(&plain);
    sim_http_free(&batched);
}
END_TEST

START_TEST(fault_error_mid_stream)
{
    struct sim_http res;
    const char *error_line;

    send_fault(CHAT_PATH, CHAT_STREAM_BODY, "error-mid-stream", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(count_substr(res.body, "data: "), 3);
    error_line = strstr(res.body, "data: {\"error\":{");
    ck_assert_ptr_nonnull(error_line);
    ck_assert_int_eq(count_substr(res.body, "chat.completion.chunk"), 2);
    ck_assert_ptr_null(strstr(res.body, "[DONE]"));
    sim_http_free(&res);

    send_fault("/api/chat", OLLAMA_BODY, "error-mid-stream", NULL, &res);
    ck_assert_int_eq(count_substr(res.body, "\n"), 3);
    ck_assert_ptr_nonnull(strstr(res.body, "\n{\"error\":\""));
    ck_assert_ptr_null(strstr(res.body, "\"done\":true"));
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_error_openai_object)
{
    struct sim_http res;
    cJSON *json, *error;

    send_fault("/api/chat", OLLAMA_BODY, "error-openai", NULL, &res);
    ck_assert_int_eq(res.status, 400);
    json = cJSON_Parse(res.body);
    error = cJSON_GetObjectItem(json, "error");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(error, "message")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(error, "type")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(error, "param")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(error, "code")));
    cJSON_Delete(json);
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_error_bodies)
{
    struct sim_http res;
    cJSON *json;
    char *type;

    send_fault(CHAT_PATH, CHAT_BODY, "error-string", NULL, &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_str_eq(res.body, "{\"error\":\"a bare string\"}");
    sim_http_free(&res);

    send_fault(CHAT_PATH, CHAT_BODY, "error-ollama", NULL, &res);
    ck_assert_int_eq(res.status, 500);
    json = cJSON_Parse(res.body);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(json, "error")));
    cJSON_Delete(json);
    sim_http_free(&res);

    send_fault(CHAT_PATH, CHAT_BODY, "error-html", NULL, &res);
    ck_assert_int_eq(res.status, 502);
    type = sim_http_header(&res, "Content-Type");
    ck_assert_str_eq(type, "text/html");
    ck_assert_int_eq(strncmp(res.body, "<!DOCTYPE html>", 15), 0);
    free(type);
    sim_http_free(&res);

    send_fault(CHAT_PATH, CHAT_BODY, "401", NULL, &res);
    ck_assert_int_eq(res.status, 401);
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"invalid_api_key\""));
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_times_then_success)
{
    struct sim_http res;

    for (int i = 0; i < 2; i++) {
        send_fault(CHAT_PATH, CHAT_BODY, "503", "X-QF-Sim-Fault-Times: 2",
                   &res);
        ck_assert_int_eq(res.status, 503);
        sim_http_free(&res);
    }
    send_fault(CHAT_PATH, CHAT_BODY, "503", "X-QF-Sim-Fault-Times: 2", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(strstr(res.body, "\"content\":\"Echo: a b c d\""));
    sim_http_free(&res);

    /* Each name has its own counter. */
    send_fault(CHAT_PATH, CHAT_BODY, "500", "X-QF-Sim-Fault-Times: 1", &res);
    ck_assert_int_eq(res.status, 500);
    sim_http_free(&res);
}
END_TEST

START_TEST(fault_unknown_name_rejected)
{
    struct sim_http res;

    send_fault(CHAT_PATH, CHAT_BODY, "no-such-fault", NULL, &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"unknown_fault\""));
    sim_http_free(&res);
}
END_TEST

START_TEST(server_fault_option_times)
{
    const char *const args[] = {"--fault", "500", "--fault-times", "1", NULL};
    struct sim_http res;

    qf_test_sim_stop(&sim);
    ck_assert_int_eq(qf_test_sim_start(&sim, args), 0);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 500);
    sim_http_free(&res);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 200);
    sim_http_free(&res);
}
END_TEST

START_TEST(server_fault_header_none)
{
    const char *const args[] = {"--fault", "503", NULL};
    struct sim_http res;

    qf_test_sim_stop(&sim);
    ck_assert_int_eq(qf_test_sim_start(&sim, args), 0);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 503);
    sim_http_free(&res);
    send_fault(CHAT_PATH, CHAT_BODY, "none", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    sim_http_free(&res);
    /* Without --fault-times the server fault never wears off. */
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 503);
    sim_http_free(&res);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *suite = suite_create("sim_faults");
    TCase *tc = tcase_create("faults");

    tcase_add_checked_fixture(tc, start_sim, stop_sim);
    /* Check's 4 s default is too short on a loaded sanitizer build. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fault_429_retry_after_default);
    tcase_add_test(tc, fault_429_retry_after_value);
    tcase_add_test(tc, fault_429_date_is_http_date);
    tcase_add_test(tc, fault_429_ms_header);
    tcase_add_test(tc, fault_5xx_statuses);
    tcase_add_test(tc, fault_delay_then_answer);
    tcase_add_test(tc, fault_malformed_body);
    tcase_add_test(tc, fault_malformed_stream);
    tcase_add_test(tc, fault_cut_body);
    tcase_add_test(tc, fault_cut_stream);
    tcase_add_test(tc, fault_tiny_same_events);
    tcase_add_test(tc, fault_batched_same_events);
    tcase_add_test(tc, fault_error_mid_stream);
    tcase_add_test(tc, fault_error_openai_object);
    tcase_add_test(tc, fault_error_bodies);
    tcase_add_test(tc, fault_times_then_success);
    tcase_add_test(tc, fault_unknown_name_rejected);
    tcase_add_test(tc, server_fault_option_times);
    tcase_add_test(tc, server_fault_header_none);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(faults_suite());
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

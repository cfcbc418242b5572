/*
 * test_sim_openai.c - qf-sim's OpenAI endpoints over loopback: the exact
 * reply text and usage, SSE streams line by line, the output cap, the
 * usage headers and the model list. Each test starts its own qf-sim.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "simhttp.h"
#include "testutil.h"

#define CHAT_PATH "/v1/chat/completions"
#define HELLO_BODY                                                             \
    "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\","                \
    "\"content\":\"Hello there world\"}]"
#define CHUNK_HEAD                                                             \
    "data: {\"id\":\"chatcmpl-qfsim\",\"object\":\"chat.completion.chunk\","   \
    "\"created\":1735689600,\"model\":\"gpt-test\",\"choices\":"

static qf_test_sim sim;

static void start_sim(void)
{
    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
}

static void stop_sim(void)
{
    qf_test_sim_stop(&sim);
}

static void post_chat(const char *body, const char *const headers[],
                      struct sim_http *res)
{
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, headers, body, res);
    ck_assert_int_eq(res->code, CURLE_OK);
    ck_assert_int_eq(res->status, 200);
}

START_TEST(chat_exact_body)
{
    struct sim_http res;

    post_chat(HELLO_BODY "}", NULL, &res);
    ck_assert_str_eq(
        res.body, "{\"id\":\"chatcmpl-qfsim\",\"object\":\"chat.completion\","
                  "\"created\":1735689600,\"model\":\"gpt-test\",\"choices\":[{"
                  "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                  "\"Echo: Hello there world\"},\"finish_reason\":\"stop\"}],"
                  "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,"
                  "\"total_tokens\":9}}");
    sim_http_free(&res);
}
END_TEST

/* Returns the parsed body; the caller deletes it. */
static cJSON *chat_json(const char *body, const char *const headers[])
{
    struct sim_http res;
    cJSON *json;

    post_chat(body, headers, &res);
    json = cJSON_Parse(res.body);
    sim_http_free(&res);
    ck_assert_ptr_nonnull(json);
    return json;
}

static const char *reply_text(const cJSON *json)
{
    const cJSON *choice =
        cJSON_GetArrayItem(cJSON_GetObjectItem(json, "choices"), 0);
    const cJSON *message = cJSON_GetObjectItem(choice, "message");

    return cJSON_GetStringValue(cJSON_GetObjectItem(message, "content"));
}

static const char *finish_reason(const cJSON *json)
{
    const cJSON *choice =
        cJSON_GetArrayItem(cJSON_GetObjectItem(json, "choices"), 0);

    return cJSON_GetStringValue(cJSON_GetObjectItem(choice, "finish_reason"));
}

static int usage_int(const cJSON *json, const char *name)
{
    const cJSON *usage = cJSON_GetObjectItem(json, "usage");

    return cJSON_GetObjectItem(usage, name)->valueint;
}

START_TEST(chat_prompt_tokens_round_up)
{
    /* 9 + 17 = 26 bytes over all contents; 26 / 4 rounds up to 7. */
    cJSON *json = chat_json(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
        "\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hello there "
        "world\"}]}",
        NULL);

    ck_assert_int_eq(usage_int(json, "prompt_tokens"), 7);
    ck_assert_int_eq(usage_int(json, "completion_tokens"), 4);
    ck_assert_int_eq(usage_int(json, "total_tokens"), 11);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_echoes_last_user_message)
{
    cJSON *json = chat_json(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"first\"},{\"role\":\"assistant\",\"content\":\"x\"},{\"role\":"
        "\"user\",\"content\":\"second one\"}]}",
        NULL);

    ck_assert_str_eq(reply_text(json), "Echo: second one");
    ck_assert_int_eq(usage_int(json, "prompt_tokens"), 4);
    ck_assert_int_eq(usage_int(json, "completion_tokens"), 3);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_content_parts_joined)
{
    cJSON *json = chat_json(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"red \"},{\"type\":\"text\","
        "\"text\":\"fox\"}]}]}",
        NULL);

    ck_assert_str_eq(reply_text(json), "Echo: red fox");
    ck_assert_int_eq(usage_int(json, "prompt_tokens"), 2);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_utf8_bytes_counted)
{
    /* "héllo wörld" is 13 bytes in UTF-8: 13 / 4 rounds up to 4. */
    cJSON *json = chat_json("{\"model\":\"m\",\"messages\":[{\"role\":"
                            "\"user\",\"content\":\"h\xc3\xa9llo "
                            "w\xc3\xb6rld\"}]}",
                            NULL);

    ck_assert_str_eq(reply_text(json), "Echo: h\xc3\xa9llo w\xc3\xb6rld");
    ck_assert_int_eq(usage_int(json, "prompt_tokens"), 4);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_max_tokens_length)
{
    cJSON *json = chat_json(HELLO_BODY ",\"max_tokens\":2}", NULL);

    ck_assert_str_eq(reply_text(json), "Echo: Hello");
    ck_assert_str_eq(finish_reason(json), "length");
    ck_assert_int_eq(usage_int(json, "completion_tokens"), 2);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_max_completion_tokens_length)
{
    cJSON *json = chat_json(HELLO_BODY ",\"max_completion_tokens\":3}", NULL);

    ck_assert_str_eq(reply_text(json), "Echo: Hello there");
    ck_assert_str_eq(finish_reason(json), "length");
    ck_assert_int_eq(usage_int(json, "completion_tokens"), 3);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_cap_at_word_count_stops)
{
    cJSON *json = chat_json(HELLO_BODY ",\"max_tokens\":4}", NULL);

    ck_assert_str_eq(reply_text(json), "Echo: Hello there world");
    ck_assert_str_eq(finish_reason(json), "stop");
    cJSON_Delete(json);
}
END_TEST

START_TEST(stream_exact_sse_with_usage)
{
    struct sim_http res;
    char *type;

    post_chat(HELLO_BODY ",\"stream\":true,\"stream_options\":"
                         "{\"include_usage\":true}}",
              NULL, &res);
    type = sim_http_header(&res, "Content-Type");
    ck_assert_str_eq(type, "text/event-stream");
    /* clang-format off */
    ck_assert_str_eq(res.body,
        CHUNK_HEAD "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Echo: \"},"
                   "\"finish_reason\":null}]}\n\n"
        CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"Hello \"},\"finish_reason\":null}]}\n\n"
        CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"there \"},\"finish_reason\":null}]}\n\n"
        CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"world\"},\"finish_reason\":null}]}\n\n"
        CHUNK_HEAD "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        CHUNK_HEAD "[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,\"total_tokens\":9}}\n\n"
        "data: [DONE]\n\n");
    /* clang-format on */
    free(type);
    sim_http_free(&res);
}
END_TEST

START_TEST(stream_without_usage_chunk)
{
    struct sim_http res;

    post_chat(HELLO_BODY ",\"stream\":true}", NULL, &res);
    ck_assert_ptr_null(strstr(res.body, "\"usage\""));
    ck_assert_ptr_nonnull(strstr(res.body, "\"finish_reason\":\"stop\""));
    ck_assert_int_eq(strcmp(res.body + res.body_len - 14, "data: [DONE]\n\n"),
                     0);
    sim_http_free(&res);
}
END_TEST

START_TEST(stream_max_tokens_length)
{
    struct sim_http res;

    post_chat(HELLO_BODY ",\"stream\":true,\"max_tokens\":2,"
                         "\"stream_options\":{\"include_usage\":true}}",
              NULL, &res);
    /* clang-format off */
    ck_assert_str_eq(res.body,
        CHUNK_HEAD "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Echo: \"},"
                   "\"finish_reason\":null}]}\n\n"
        CHUNK_HEAD "[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
        CHUNK_HEAD "[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
        CHUNK_HEAD "[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n"
        "data: [DONE]\n\n");
    /* clang-format on */
    sim_http_free(&res);
}
END_TEST

START_TEST(usage_cached_tokens_header)
{
    const char *const headers[] = {"X-QF-Sim-Cached-Tokens: 3", NULL};
    cJSON *json = chat_json(HELLO_BODY "}", headers);
    const cJSON *details = cJSON_GetObjectItem(
        cJSON_GetObjectItem(json, "usage"), "prompt_tokens_details");

    ck_assert_int_eq(cJSON_GetObjectItem(details, "cached_tokens")->valueint,
                     3);
    cJSON_Delete(json);
}
END_TEST

START_TEST(usage_override_header)
{
    const char *const headers[] = {"X-QF-Sim-Usage: 1000,250", NULL};
    cJSON *json = chat_json(HELLO_BODY "}", headers);

    ck_assert_int_eq(usage_int(json, "prompt_tokens"), 1000);
    ck_assert_int_eq(usage_int(json, "completion_tokens"), 250);
    ck_assert_int_eq(usage_int(json, "total_tokens"), 1250);
    ck_assert_str_eq(reply_text(json), "Echo: Hello there world");
    cJSON_Delete(json);
}
END_TEST

START_TEST(usage_omitted_by_header)
{
    const char *const headers[] = {"X-QF-Sim-No-Usage: 1", NULL};
    struct sim_http res;
    cJSON *json = chat_json(HELLO_BODY "}", headers);

    ck_assert_ptr_null(cJSON_GetObjectItem(json, "usage"));
    cJSON_Delete(json);

    post_chat(HELLO_BODY ",\"stream\":true,\"stream_options\":"
                         "{\"include_usage\":true}}",
              headers, &res);
    ck_assert_ptr_null(strstr(res.body, "\"usage\""));
    sim_http_free(&res);
}
END_TEST

START_TEST(models_list)
{
    struct sim_http res;
    cJSON *json, *data;

    sim_http_send(NULL, &sim, "GET", "/v1/models", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    json = cJSON_Parse(res.body);
    data = cJSON_GetObjectItem(json, "data");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(json, "object")),
                     "list");
    ck_assert_int_eq(cJSON_GetArraySize(data), 5);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                         cJSON_GetArrayItem(data, 0), "id")),
                     "gpt-4o-mini");
    cJSON_Delete(json);
    sim_http_free(&res);
}
END_TEST

START_TEST(chat_missing_model_rejected)
{
    struct sim_http res;
    cJSON *json;

    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL,
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                  &res);
    ck_assert_int_eq(res.status, 400);
    json = cJSON_Parse(res.body);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(json, "error"), "type")),
                     "invalid_request_error");
    cJSON_Delete(json);
    sim_http_free(&res);
}
END_TEST

START_TEST(chat_invalid_json_rejected)
{
    struct sim_http res;

    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, "{not json", &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"invalid_json\""));
    sim_http_free(&res);
}
END_TEST

static Suite *openai_suite(void)
{
    Suite *suite = suite_create("sim_openai");
    TCase *tc = tcase_create("openai");

    tcase_add_checked_fixture(tc, start_sim, stop_sim);
    /* Check's 4 s default is too short on a loaded sanitizer build. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chat_exact_body);
    tcase_add_test(tc, chat_prompt_tokens_round_up);
    tcase_add_test(tc, chat_echoes_last_user_message);
    tcase_add_test(tc, chat_content_parts_joined);
    tcase_add_test(tc, chat_utf8_bytes_counted);
    tcase_add_test(tc, chat_max_tokens_length);
    tcase_add_test(tc, chat_max_completion_tokens_length);
    tcase_add_test(tc, chat_cap_at_word_count_stops);
    tcase_add_test(tc, stream_exact_sse_with_usage);
    tcase_add_test(tc, stream_without_usage_chunk);
    tcase_add_test(tc, stream_max_tokens_length);
    tcase_add_test(tc, usage_cached_tokens_header);
    tcase_add_test(tc, usage_override_header);
    tcase_add_test(tc, usage_omitted_by_header);
    tcase_add_test(tc, models_list);
    tcase_add_test(tc, chat_missing_model_rejected);
    tcase_add_test(tc, chat_invalid_json_rejected);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(openai_suite());
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

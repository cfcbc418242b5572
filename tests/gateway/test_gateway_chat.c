/*
 * test_gateway_chat.c - `qf serve` answering chat and image requests over
 * HTTP in front of qf-sim: plain and streamed answers in OpenAI's format,
 * parameters, the cache and rate_limit middleware, and every mapping of a
 * failure to an OpenAI error object with its HTTP status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gateway_fixture.h"

static gw_fixture gw;

static void setup(void)
{
    gw_setup(&gw, "gateway: {max_body_bytes: 4096}\n");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
}

static void teardown(void)
{
    gw_teardown(&gw);
}

static cJSON *post_json(const char *path, const char *body, long status)
{
    gw_reply reply;
    cJSON *json;

    gw_request(&gw, path, body, NULL, &reply);
    ck_assert_msg(reply.status == status, "status %ld, expected %ld: %s",
                  reply.status, status, reply.body);
    json = cJSON_Parse(reply.body);
    ck_assert_ptr_nonnull(json);
    gw_reply_free(&reply);
    return json;
}

static const char *str_at(const cJSON *json, const char *a, const char *b)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(json, a);

    if (b != NULL)
        node = cJSON_GetObjectItemCaseSensitive(node, b);
    return cJSON_GetStringValue(node);
}

static double num_at(const cJSON *json, const char *a, const char *b)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(json, a);

    if (b != NULL)
        node = cJSON_GetObjectItemCaseSensitive(node, b);
    ck_assert_ptr_nonnull(node);
    return cJSON_GetNumberValue(node);
}

/* Check an error reply: status, type, code and param (NULL for null). */
static void expect_error(const char *path, const char *body, long status,
                         const char *type, const char *code, const char *param)
{
    cJSON *json = post_json(path, body, status);
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(json, "error");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(error, "param");

    ck_assert_str_eq(str_at(error, "type", NULL), type);
    ck_assert_str_eq(str_at(error, "code", NULL), code);
    ck_assert_ptr_nonnull(str_at(error, "message", NULL));
    if (param == NULL)
        ck_assert(cJSON_IsNull(p));
    else
        ck_assert_str_eq(cJSON_GetStringValue(p), param);
    cJSON_Delete(json);
}

START_TEST(chat_plain_answer)
{
    cJSON *json = post_json("/v1/chat/completions",
                            "{\"model\":\"plotwright\",\"messages\":[{\"role\":"
                            "\"user\",\"content\":\"hello there world\"}]}",
                            200);
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(json, "choices"), 0);

    ck_assert_str_eq(str_at(json, "object", NULL), "chat.completion");
    ck_assert_str_eq(str_at(json, "model", NULL), "gpt-4o-mini");
    ck_assert_str_eq(str_at(choice, "message", "role"), "assistant");
    ck_assert_str_eq(str_at(choice, "message", "content"),
                     "Echo: hello there world");
    ck_assert_str_eq(str_at(choice, "finish_reason", NULL), "stop");
    ck_assert_double_eq(num_at(json, "usage", "prompt_tokens"), 5);
    ck_assert_double_eq(num_at(json, "usage", "completion_tokens"), 4);
    ck_assert_double_eq(num_at(json, "usage", "total_tokens"), 9);
    ck_assert_double_eq(num_at(cJSON_GetObjectItemCaseSensitive(json, "usage"),
                               "prompt_tokens_details", "cached_tokens"),
                        0);
    cJSON_Delete(json);
}
END_TEST

START_TEST(chat_params_reach_upstream)
{
    cJSON *json = post_json("/v1/chat/completions",
                            "{\"model\":\"role/scene_smith\",\"max_tokens\":2,"
                            "\"temperature\":0.5,\"stop\":\"zzz\",\"user\":"
                            "\"u1\",\"n\":1,\"messages\":[{\"role\":\"user\","
                            "\"content\":[{\"type\":\"text\",\"text\":\"one "
                            "two three\"}]}]}",
                            200);
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(json, "choices"), 0);

    ck_assert_str_eq(str_at(choice, "message", "content"), "Echo: one");
    ck_assert_str_eq(str_at(choice, "finish_reason", NULL), "length");
    ck_assert_double_eq(num_at(json, "usage", "completion_tokens"), 2);
    cJSON_Delete(json);
}
END_TEST

/* Split an SSE body into its events; each must be "data: ...\n\n". */
static size_t sse_events(char *body, char **events, size_t max)
{
    size_t count = 0;
    char *at = body;

    while (*at != '\0' && count < max) {
        char *end = strstr(at, "\n\n");

        ck_assert_ptr_nonnull(end);
        *end = '\0';
        ck_assert_msg(strncmp(at, "data: ", 6) == 0, "event '%s'", at);
        events[count++] = at;
        at = end + 2;
    }
    ck_assert_str_eq(at, "");
    return count;
}

static char *chunk_line(const char *id, long created, const char *choices)
{
    char *line;

    ck_assert_int_ne(asprintf(&line,
                              "data: {\"id\":\"%s\",\"object\":\"chat."
                              "completion.chunk\",\"created\":%ld,\"model\":"
                              "\"gpt-4o-mini\",%s}",
                              id, created, choices),
                     -1);
    return line;
}

static char *delta_line(const char *id, long created, const char *delta,
                        const char *finish)
{
    char choices[256];

    snprintf(choices, sizeof(choices),
             "\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]",
             delta, finish);
    return chunk_line(id, created, choices);
}

/* Stream "hello world" and check every event line exactly. */
static void check_stream(int include_usage)
{
    static const char *const deltas[][2] = {
        {"{\"role\":\"assistant\",\"content\":\"\"}", "null"},
        {"{\"content\":\"Echo: \"}", "null"},
        {"{\"content\":\"hello \"}", "null"},
        {"{\"content\":\"world\"}", "null"},
        {"{}", "\"stop\""},
    };
    char body[512];
    char *events[16];
    gw_reply reply;
    cJSON *first;
    char *type;
    size_t count, i;

    snprintf(body, sizeof(body),
             "{\"model\":\"plotwright\",\"stream\":true,%s\"messages\":[{"
             "\"role\":\"user\",\"content\":\"hello world\"}]}",
             include_usage ? "\"stream_options\":{\"include_usage\":true},"
                           : "");
    gw_request(&gw, "/v1/chat/completions", body, NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    type = gw_header(&reply, "Content-Type");
    ck_assert_str_eq(type, "text/event-stream");
    free(type);
    count = sse_events(reply.body, events, 16);
    ck_assert_uint_eq(count, include_usage ? 7 : 6);

    first = cJSON_Parse(events[0] + 6);
    ck_assert_ptr_nonnull(first);
    for (i = 0; i < 5; i++) {
        char *want = delta_line(str_at(first, "id", NULL),
                                (long)num_at(first, "created", NULL),
                                deltas[i][0], deltas[i][1]);

        ck_assert_str_eq(events[i], want);
        free(want);
    }
    if (include_usage) {
        char *want = chunk_line(
            str_at(first, "id", NULL), (long)num_at(first, "created", NULL),
            "\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
            "\"completion_tokens\":3,\"total_tokens\":6,"
            "\"prompt_tokens_details\":{\"cached_tokens\":0}}");

        ck_assert_str_eq(events[i++], want);
        free(want);
    }
    ck_assert_str_eq(events[i], "data: [DONE]");
    cJSON_Delete(first);
    gw_reply_free(&reply);
}

START_TEST(chat_stream_without_usage)
{
    check_stream(0);
}
END_TEST

START_TEST(chat_stream_with_usage)
{
    check_stream(1);
}
END_TEST

START_TEST(stream_error_after_text)
{
    char *events[16];
    gw_reply reply;
    size_t count;

    gw_request(&gw, "/v1/chat/completions",
               "{\"model\":\"loose_talker\",\"stream\":true,\"messages\":[{"
               "\"role\":\"user\",\"content\":\"one two three four\"}]}",
               NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    count = sse_events(reply.body, events, 16);

    /* The role chunk, the two text chunks sent, then the error event. */
    ck_assert_uint_eq(count, 4);
    ck_assert_ptr_nonnull(
        strstr(events[1], "\"delta\":{\"content\":\"Echo: \"}"));
    ck_assert_ptr_nonnull(
        strstr(events[2], "\"delta\":{\"content\":\"one \"}"));
    ck_assert_int_eq(strncmp(events[3], "data: {\"error\":{\"message\":",
                             strlen("data: {\"error\":{\"message\":")),
                     0);
    ck_assert_ptr_null(strstr(reply.body, "[DONE]"));
    gw_reply_free(&reply);
}
END_TEST

START_TEST(cache_hit_in_metrics)
{
    const char *body = "{\"model\":\"plotwright\",\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"cache me\"}]}";
    cJSON *one = post_json("/v1/chat/completions", body, 200);
    cJSON *two = post_json("/v1/chat/completions", body, 200);
    const cJSON *choice =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(two, "choices"), 0);

    ck_assert_str_eq(str_at(choice, "message", "content"), "Echo: cache me");
    ck_assert_double_eq(
        gw_metric(&gw, "qf_gateway_cache_misses_total{role=\"plotwright\"}"),
        1);
    ck_assert_double_eq(
        gw_metric(&gw, "qf_gateway_cache_hits_total{role=\"plotwright\"}"), 1);
    ck_assert_double_eq(
        gw_metric(&gw, "qf_gateway_tokens_total{role=\"plotwright\",provider="
                       "\"openai\",model=\"gpt-4o-mini\",type=\"completion\"}"),
        3);
    cJSON_Delete(one);
    cJSON_Delete(two);
}
END_TEST

START_TEST(rate_limit_is_429)
{
    const char *body = "{\"model\":\"scene_smith\",\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"hi\"}]}";
    gw_reply reply;
    char *retry;

    cJSON_Delete(post_json("/v1/chat/completions", body, 200));
    gw_request(&gw, "/v1/chat/completions", body, NULL, &reply);
    ck_assert_int_eq(reply.status, 429);
    ck_assert_ptr_nonnull(
        strstr(reply.body, "\"code\":\"rate_limit_exceeded\""));
    retry = gw_header(&reply, "Retry-After");
    ck_assert_ptr_nonnull(retry);
    ck_assert_str_eq(retry, "60");
    free(retry);
    gw_reply_free(&reply);
    ck_assert_double_eq(
        gw_metric_wait(
            &gw, "qf_gateway_errors_total{code=\"rate_limit_exceeded\"}", 1),
        1);
}
END_TEST

START_TEST(budget_is_insufficient_quota)
{
    expect_error("/v1/chat/completions",
                 "{\"model\":\"gatekeeper\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}",
                 429, "insufficient_quota", "insufficient_quota", NULL);
}
END_TEST

START_TEST(malformed_upstream_is_502)
{
    expect_error("/v1/chat/completions",
                 "{\"model\":\"lore_weaver\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}",
                 502, "upstream_error", "bad_gateway", NULL);
}
END_TEST

START_TEST(upstream_status_is_kept)
{
    expect_error("/v1/chat/completions",
                 "{\"model\":\"book_binder\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}",
                 500, "upstream_error", "upstream_error", NULL);
}
END_TEST

START_TEST(unknown_role_is_404)
{
    expect_error("/v1/chat/completions",
                 "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}",
                 404, "invalid_request_error", "model_not_found", "model");
}
END_TEST

START_TEST(bad_requests_are_400)
{
    expect_error("/v1/chat/completions", "{\"model\": \"plotwright\",", 400,
                 "invalid_request_error", "invalid_json", NULL);
    expect_error("/v1/chat/completions",
                 "{\"model\":\"plotwright\",\"logit_bias\":{},\"messages\":[{"
                 "\"role\":\"user\",\"content\":\"hi\"}]}",
                 400, "invalid_request_error", "unknown_parameter",
                 "logit_bias");
    expect_error("/v1/chat/completions",
                 "{\"model\":\"plotwright\",\"temperature\":\"hot\","
                 "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                 400, "invalid_request_error", "invalid_type", "temperature");
    expect_error("/v1/chat/completions",
                 "{\"model\":\"plotwright\",\"n\":2,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"hi\"}]}",
                 400, "invalid_request_error", "unsupported_value", "n");
    expect_error("/v1/chat/completions",
                 "{\"model\":\"plotwright\",\"messages\":[]}", 400,
                 "invalid_request_error", "invalid_request", "messages");
    expect_error("/v1/chat/completions",
                 "{\"model\":\"plotwright\",\"messages\":[{\"role\":\"tool\","
                 "\"content\":\"hi\"}]}",
                 400, "invalid_request_error", "invalid_request", "messages");
}
END_TEST

START_TEST(large_body_is_413)
{
    char *body = malloc(6000);

    memset(body, ' ', 5999);
    body[0] = '{';
    body[5998] = '}';
    body[5999] = '\0';
    expect_error("/v1/chat/completions", body, 413, "invalid_request_error",
                 "request_too_large", NULL);
    free(body);
}
END_TEST

START_TEST(images_are_b64_json)
{
    cJSON *json = post_json("/v1/images/generations",
                            "{\"model\":\"illustrator\",\"prompt\":\"a red "
                            "door\",\"size\":\"16x16\",\"response_format\":"
                            "\"b64_json\"}",
                            200);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(json, "data");
    const char *b64 = str_at(cJSON_GetArrayItem(data, 0), "b64_json", NULL);

    ck_assert_int_eq(cJSON_GetArraySize(data), 1);
    ck_assert_ptr_nonnull(b64);
    /* Base64 of the PNG signature. */
    ck_assert_int_eq(strncmp(b64, "iVBORw0KGgo", 11), 0);
    cJSON_Delete(json);
    expect_error("/v1/images/generations",
                 "{\"model\":\"plotwright\",\"prompt\":\"x\"}", 400,
                 "invalid_request_error", "wrong_endpoint", "model");
}
END_TEST

START_TEST(models_and_health)
{
    gw_reply reply;
    cJSON *json;
    int seen_plotwright = 0, seen_illustrator = 0;
    const cJSON *model;

    gw_request(&gw, "/v1/models", NULL, NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    json = cJSON_Parse(reply.body);
    ck_assert_str_eq(str_at(json, "object", NULL), "list");
    cJSON_ArrayForEach(model, cJSON_GetObjectItemCaseSensitive(json, "data"))
    {
        const char *id = str_at(model, "id", NULL);

        ck_assert_str_eq(str_at(model, "object", NULL), "model");
        seen_plotwright += strcmp(id, "plotwright") == 0;
        seen_illustrator += strcmp(id, "illustrator") == 0;
    }
    ck_assert_int_eq(seen_plotwright, 1);
    ck_assert_int_eq(seen_illustrator, 1);
    cJSON_Delete(json);
    gw_reply_free(&reply);

    gw_request(&gw, "/healthz", NULL, NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(reply.body, "{\"status\":\"ok\"}");
    gw_reply_free(&reply);
    gw_request(&gw, "/readyz", NULL, NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_str_eq(reply.body, "{\"status\":\"ready\"}");
    gw_reply_free(&reply);
    gw_request(&gw, "/v1/embeddings", "{}", NULL, &reply);
    ck_assert_int_eq(reply.status, 404);
    gw_reply_free(&reply);
}
END_TEST

START_TEST(access_log_line)
{
    char *log;

    cJSON_Delete(post_json("/v1/chat/completions",
                           "{\"model\":\"scene_smith\",\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"hello world\"}]}",
                           200));
    ck_assert_int_eq(gw_stop(&gw), 0);
    log = qf_test_read_file(gw.log_path, NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(
        strstr(log, " key=- endpoint=chat role=scene_smith status=200 "
                    "prompt_tokens=3 completion_tokens=3 cached_tokens=0 "));
    ck_assert_ptr_nonnull(strstr(log, " cache=miss duration_ms="));
    ck_assert_ptr_null(strstr(log, "sk-test"));
    free(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gateway_chat");
    TCase *tc = tcase_create("chat");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chat_plain_answer);
    tcase_add_test(tc, chat_params_reach_upstream);
    tcase_add_test(tc, chat_stream_without_usage);
    tcase_add_test(tc, chat_stream_with_usage);
    tcase_add_test(tc, stream_error_after_text);
    tcase_add_test(tc, cache_hit_in_metrics);
    tcase_add_test(tc, rate_limit_is_429);
    tcase_add_test(tc, budget_is_insufficient_quota);
    tcase_add_test(tc, malformed_upstream_is_502);
    tcase_add_test(tc, upstream_status_is_kept);
    tcase_add_test(tc, unknown_role_is_404);
    tcase_add_test(tc, bad_requests_are_400);
    tcase_add_test(tc, large_body_is_413);
    tcase_add_test(tc, images_are_b64_json);
    tcase_add_test(tc, models_and_health);
    tcase_add_test(tc, access_log_line);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

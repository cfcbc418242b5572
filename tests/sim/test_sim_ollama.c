/*
 * test_sim_ollama.c - qf-sim's Ollama endpoints over loopback: exact
 * NDJSON frames for /api/chat and /api/generate, one-object replies, the
 * num_predict cap, unknown models, the load frame and /api/tags.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "simhttp.h"
#include "testutil.h"

#define FRAME_HEAD(model)                                                      \
    "{\"model\":\"" model "\",\"created_at\":\"2025-01-01T00:00:00Z\","
#define CHAT_FRAME(text)                                                       \
    FRAME_HEAD("llama3.2")                                                     \
    "\"message\":{\"role\":\"assistant\","                                     \
    "\"content\":\"" text "\"},\"done\":false}\n"

static qf_test_sim sim;

static void start_sim(void)
{
    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
}

static void stop_sim(void)
{
    qf_test_sim_stop(&sim);
}

static void post(const char *path, const char *body,
                 const char *const headers[], struct sim_http *res)
{
    sim_http_send(NULL, &sim, "POST", path, headers, body, res);
    ck_assert_int_eq(res->code, CURLE_OK);
}

START_TEST(chat_stream_exact_frames)
{
    struct sim_http res;
    char *type;

    post("/api/chat",
         "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
         "\"content\":\"Hello there world\"}]}",
         NULL, &res);
    ck_assert_int_eq(res.status, 200);
    type = sim_http_header(&res, "Content-Type");
    ck_assert_str_eq(type, "application/x-ndjson");
    /* clang-format off */
    ck_assert_str_eq(res.body,
        CHAT_FRAME("Echo: ")
        CHAT_FRAME("Hello ")
        CHAT_FRAME("there ")
        CHAT_FRAME("world")
        FRAME_HEAD("llama3.2")
        "\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"done_reason\":\"stop\",\"done\":true,\"total_duration\":5000000,"
        "\"prompt_eval_count\":5,\"eval_count\":4}\n");
    /* clang-format on */
    free(type);
    sim_http_free(&res);
}
END_TEST

START_TEST(chat_one_object_exact)
{
    struct sim_http res;

    post("/api/chat",
         "{\"model\":\"qwen2.5:0.5b\",\"stream\":false,\"messages\":[{"
         "\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
         "\"content\":\"Hello there world\"}]}",
         NULL, &res);
    ck_assert_int_eq(res.status, 200);
    /* clang-format off */
    ck_assert_str_eq(res.body,
        FRAME_HEAD("qwen2.5:0.5b")
        "\"message\":{\"role\":\"assistant\",\"content\":\"Echo: Hello there world\"},"
        "\"done_reason\":\"stop\",\"done\":true,\"total_duration\":5000000,"
        "\"prompt_eval_count\":7,\"eval_count\":4}");
    /* clang-format on */
    sim_http_free(&res);
}
END_TEST

START_TEST(chat_num_predict_length)
{
    struct sim_http res;

    post("/api/chat",
         "{\"model\":\"mistral\",\"stream\":false,\"options\":{"
         "\"num_predict\":2},\"messages\":[{\"role\":\"user\",\"content\":"
         "\"Hello there world\"}]}",
         NULL, &res);
    /* clang-format off */
    ck_assert_str_eq(res.body,
        FRAME_HEAD("mistral")
        "\"message\":{\"role\":\"assistant\",\"content\":\"Echo: Hello\"},"
        "\"done_reason\":\"length\",\"done\":true,\"total_duration\":3000000,"
        "\"prompt_eval_count\":5,\"eval_count\":2}");
    /* clang-format on */
    sim_http_free(&res);
}
END_TEST

START_TEST(generate_stream_exact_frames)
{
    struct sim_http res;

    /* system (3 bytes) + prompt (5 bytes) = 8 bytes, so 2 prompt tokens. */
    post("/api/generate",
         "{\"model\":\"sim-small\",\"system\":\"sys\",\"prompt\":\"hi yo\","
         "\"options\":{\"num_predict\":2}}",
         NULL, &res);
    ck_assert_int_eq(res.status, 200);
    /* clang-format off */
    ck_assert_str_eq(res.body,
        FRAME_HEAD("sim-small") "\"response\":\"Echo: \",\"done\":false}\n"
        FRAME_HEAD("sim-small") "\"response\":\"hi\",\"done\":false}\n"
        FRAME_HEAD("sim-small") "\"response\":\"\",\"done_reason\":\"length\","
        "\"done\":true,\"total_duration\":3000000,"
        "\"prompt_eval_count\":2,\"eval_count\":2}\n");
    /* clang-format on */
    sim_http_free(&res);
}
END_TEST

START_TEST(generate_one_object_exact)
{
    struct sim_http res;

    post("/api/generate",
         "{\"model\":\"llama3.2:latest\",\"stream\":false,\"prompt\":"
         "\"hi yo\"}",
         NULL, &res);
    /* clang-format off */
    ck_assert_str_eq(res.body,
        FRAME_HEAD("llama3.2:latest")
        "\"response\":\"Echo: hi yo\",\"done_reason\":\"stop\",\"done\":true,"
        "\"total_duration\":4000000,\"prompt_eval_count\":2,\"eval_count\":3}");
    /* clang-format on */
    sim_http_free(&res);
}
END_TEST

START_TEST(unknown_model_404)
{
    struct sim_http res;

    post("/api/chat",
         "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
         "\"content\":\"x\"}]}",
         NULL, &res);
    ck_assert_int_eq(res.status, 404);
    ck_assert_str_eq(res.body,
                     "{\"error\":\"model \\\"gpt-4o\\\" not found, try "
                     "pulling it first\"}");
    sim_http_free(&res);

    post("/api/generate", "{\"model\":\"mistral:7b\",\"prompt\":\"x\"}", NULL,
         &res);
    ck_assert_int_eq(res.status, 404);
    sim_http_free(&res);
}
END_TEST

START_TEST(empty_messages_load_frame)
{
    struct sim_http res;

    post("/api/chat", "{\"model\":\"llama3.2\",\"messages\":[]}", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    /* clang-format off */
    ck_assert_str_eq(res.body,
        FRAME_HEAD("llama3.2")
        "\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"done_reason\":\"load\",\"done\":true}\n");
    /* clang-format on */
    sim_http_free(&res);
}
END_TEST

START_TEST(no_usage_header_omits_counts)
{
    const char *const headers[] = {"X-QF-Sim-No-Usage: 1", NULL};
    struct sim_http res;

    post("/api/chat",
         "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
         "\"user\",\"content\":\"x\"}]}",
         headers, &res);
    ck_assert_ptr_null(strstr(res.body, "prompt_eval_count"));
    ck_assert_ptr_null(strstr(res.body, "eval_count"));
    ck_assert_ptr_nonnull(strstr(res.body, "\"done\":true"));
    sim_http_free(&res);
}
END_TEST

START_TEST(usage_header_overrides_counts)
{
    const char *const headers[] = {"X-QF-Sim-Usage: 40,9", NULL};
    struct sim_http res;

    post("/api/chat",
         "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
         "\"user\",\"content\":\"x\"}]}",
         headers, &res);
    ck_assert_ptr_nonnull(
        strstr(res.body, "\"prompt_eval_count\":40,\"eval_count\":9}"));
    sim_http_free(&res);
}
END_TEST

START_TEST(tags_list_models)
{
    static const char *const names[] = {"llama3.2:latest", "qwen2.5:0.5b",
                                        "mistral:latest", "sim-small:latest"};
    struct sim_http res;
    cJSON *json, *models;

    sim_http_send(NULL, &sim, "GET", "/api/tags", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    json = cJSON_Parse(res.body);
    models = cJSON_GetObjectItem(json, "models");
    ck_assert_int_eq(cJSON_GetArraySize(models), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                             cJSON_GetArrayItem(models, i), "name")),
                         names[i]);
    cJSON_Delete(json);
    sim_http_free(&res);
}
END_TEST

static Suite *ollama_suite(void)
{
    Suite *suite = suite_create("sim_ollama");
    TCase *tc = tcase_create("ollama");

    tcase_add_checked_fixture(tc, start_sim, stop_sim);
    /* Check's 4 s default is too short on a loaded sanitizer build. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chat_stream_exact_frames);
    tcase_add_test(tc, chat_one_object_exact);
    tcase_add_test(tc, chat_num_predict_length);
    tcase_add_test(tc, generate_stream_exact_frames);
    tcase_add_test(tc, generate_one_object_exact);
    tcase_add_test(tc, unknown_model_404);
    tcase_add_test(tc, empty_messages_load_frame);
    tcase_add_test(tc, no_usage_header_omits_counts);
    tcase_add_test(tc, usage_header_overrides_counts);
    tcase_add_test(tc, tags_list_models);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(ollama_suite());
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

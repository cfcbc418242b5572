/*
 * test_cache_key.c - the cache key builder on real requests: equal for
 * requests an upstream cannot tell apart (key order, number spelling,
 * stream flags), different for every change an upstream can see (system
 * prompt, each parameter, an Ollama option, message order and role, model,
 * provider instance, base URL), and the exact canonical document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../plugins/cache/cache_key.h"

#include "cache_fixture.h"

static const char config_yaml[] =
    "providers:\n"
    "  text:\n"
    "    default: openai\n"
    "    openai:\n"
    "      plugin: openai\n"
    "      base_url: http://127.0.0.1:9/v1\n"
    "      api_key: sk-test-not-a-real-key\n"
    "      model: gpt-4o-mini\n"
    "    other:\n"
    "      plugin: openai\n"
    "      base_url: http://127.0.0.1:9/v1\n"
    "      api_key: sk-test-not-a-real-key\n"
    "      model: gpt-4o-mini\n"
    "    moved:\n"
    "      plugin: openai\n"
    "      base_url: http://127.0.0.1:10/v1\n"
    "      api_key: sk-test-not-a-real-key\n"
    "      model: gpt-4o-mini\n"
    "roles:\n"
    "  plotwright: {provider: openai}\n"
    "  scene_smith: {provider: other}\n"
    "  lore_weaver: {provider: moved}\n"
    "  style_lead: {provider: openai, system_prompt: Be terse.}\n";

static char *tmp;
static qf_runtime *rt;
static const qf_host *host;

static void setup(void)
{
    tmp = qf_test_tmpdir("cache-key");
    ck_assert_ptr_nonnull(tmp);
    rt = cache_test_runtime(tmp, config_yaml, 0, 1);
    host = qf_runtime_host(rt);
}

static void teardown(void)
{
    qf_runtime_close(rt);
    qf_test_rmtree(tmp);
    free(tmp);
}

/* A request of `role` with one user message. */
static qf_request *request(const char *role, const char *prompt)
{
    qf_request *req = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_request_create(rt, role, NULL, &req, &err) != QF_OK)
        ck_abort_msg("request for %s: %s", role, err.message);
    ck_assert_int_eq(
        qf_request_add_message(req, "user", prompt, strlen(prompt)), QF_OK);
    return req;
}

static void key_of(const qf_request *req, char key[65])
{
    qf_error err;

    qf_error_init(&err);
    if (qf_cache_key_build(host, req, key, NULL, &err) != QF_OK)
        ck_abort_msg("key: %s", err.message);
}

/* Keys of two requests, then free both; returns 1 when equal. */
static int same_key(qf_request *a, qf_request *b)
{
    char ka[65];
    char kb[65];

    key_of(a, ka);
    key_of(b, kb);
    qf_request_free(a);
    qf_request_free(b);
    return strcmp(ka, kb) == 0;
}

static qf_request *with_param(const char *name, const char *json)
{
    qf_request *req = request("plotwright", "Outline act one.");

    ck_assert_int_eq(host->request_set_param(req, name, json), QF_OK);
    return req;
}

START_TEST(identical_requests_share_key)
{
    ck_assert(same_key(request("plotwright", "Outline act one."),
                       request("plotwright", "Outline act one.")));
}
END_TEST

START_TEST(nested_key_order_ignored)
{
    ck_assert(same_key(with_param("response_format",
                                  "{\"type\":\"json_schema\",\"json_schema\":"
                                  "{\"name\":\"hook\",\"strict\":true}}"),
                       with_param("response_format",
                                  "{\"json_schema\":{\"strict\":true,"
                                  "\"name\":\"hook\"},\"type\":\"json_schema\""
                                  "}")));
}
END_TEST

START_TEST(number_forms_equal)
{
    ck_assert(same_key(with_param("temperature", "1"),
                       with_param("temperature", "1.0")));
    ck_assert(same_key(with_param("temperature", "0.5"),
                       with_param("temperature", "5e-1")));
    ck_assert(!same_key(with_param("temperature", "1"),
                        with_param("temperature", "1.01")));
}
END_TEST

START_TEST(stream_and_plain_share_key)
{
    qf_request *streamed = request("plotwright", "Outline act one.");

    qf_request_set_stream(streamed, 1, 1);
    host->request_set_param(streamed, "stream", "true");
    host->request_set_param(streamed, "stream_options",
                            "{\"include_usage\":true}");
    ck_assert(same_key(streamed, request("plotwright", "Outline act one.")));
}
END_TEST

START_TEST(cache_flags_do_not_change_key)
{
    qf_request *req = request("plotwright", "Outline act one.");

    qf_request_set_cache_flags(req, QF_CACHE_NO_READ | QF_CACHE_NO_STORE);
    ck_assert(same_key(req, request("plotwright", "Outline act one.")));
}
END_TEST

START_TEST(system_prompt_changes_key)
{
    qf_request *with_system = request("plotwright", "Outline act one.");
    qf_request *other_system = request("plotwright", "Outline act one.");

    host->request_insert_message(with_system, 0, "system", "Be terse.", 9);
    host->request_insert_message(other_system, 0, "system", "Be terse!", 9);
    ck_assert(!same_key(request("plotwright", "Outline act one."),
                        request("style_lead", "Outline act one.")));
    ck_assert(!same_key(with_system, other_system));
}
END_TEST

START_TEST(every_parameter_changes_key)
{
    static const char *const params[][2] = {
        {"temperature", "0.7"},
        {"top_p", "0.9"},
        {"max_tokens", "64"},
        {"max_completion_tokens", "64"},
        {"stop", "[\"END\"]"},
        {"seed", "42"},
        {"presence_penalty", "0.1"},
        {"frequency_penalty", "0.1"},
        {"n", "2"},
        {"user", "\"u1\""},
        {"logit_bias", "{\"50256\":-100}"},
        {"response_format", "{\"type\":\"json_object\"}"},
    };

    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        ck_assert_msg(!same_key(request("plotwright", "Outline act one."),
                                with_param(params[i][0], params[i][1])),
                      "param %s did not change the key", params[i][0]);
    ck_assert(!same_key(with_param("stop", "[\"END\"]"),
                        with_param("stop", "[\"FIN\"]")));
    ck_assert(!same_key(with_param("max_tokens", "64"),
                        with_param("max_tokens", "65")));
}
END_TEST

START_TEST(provider_option_changes_key)
{
    qf_request *a = request("plotwright", "Outline act one.");
    qf_request *b = request("plotwright", "Outline act one.");

    host->request_set_option(a, "num_ctx", "4096");
    host->request_set_option(b, "num_ctx", "8192");
    ck_assert(!same_key(a, b));

    a = request("plotwright", "Outline act one.");
    host->request_set_option(a, "keep_alive", "\"5m\"");
    ck_assert(!same_key(a, request("plotwright", "Outline act one.")));
}
END_TEST

START_TEST(message_order_and_role_change_key)
{
    qf_request *ab = request("plotwright", "A");
    qf_request *ba = request("plotwright", "B");
    qf_request *as_assistant = request("plotwright", "A");
    qf_request *as_user = request("plotwright", "A");

    qf_request_add_message(ab, "user", "B", 1);
    qf_request_add_message(ba, "user", "A", 1);
    ck_assert(!same_key(ab, ba));

    qf_request_add_message(as_assistant, "assistant", "B", 1);
    qf_request_add_message(as_user, "user", "B", 1);
    ck_assert(!same_key(as_assistant, as_user));

    ck_assert(!same_key(request("plotwright", "Outline act one."),
                        request("plotwright", "Outline act one. ")));
}
END_TEST

START_TEST(model_provider_base_url_change_key)
{
    qf_request *other_model = request("plotwright", "Outline act one.");

    host->request_set_model(other_model, "gpt-4o");
    ck_assert(
        !same_key(other_model, request("plotwright", "Outline act one.")));
    ck_assert(!same_key(request("plotwright", "Outline act one."),
                        request("scene_smith", "Outline act one.")));
    ck_assert(!same_key(request("scene_smith", "Outline act one."),
                        request("lore_weaver", "Outline act one.")));
}
END_TEST

/* The worked example of docs/caching.md: user prompt "Outline act one.",
 * temperature 0.5, max_tokens written as 64.0. */
static qf_request *doc_example(void)
{
    qf_request *req = with_param("temperature", "0.5");

    ck_assert_int_eq(host->request_set_param(req, "max_tokens", "64.0"), QF_OK);
    return req;
}

/* The exact hashed document and key; docs/caching.md quotes both. */
START_TEST(canonical_document_exact)
{
    qf_request *req = doc_example();
    char key[65];
    char *canonical = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cache_key_build(host, req, key, &canonical, &err),
                     QF_OK);
    ck_assert_str_eq(
        canonical, "{\"base_url\":\"http://127.0.0.1:9/v1\",\"kind\":\"text\","
                   "\"messages\":[{\"content\":\"Outline act one.\","
                   "\"role\":\"user\"}],\"model\":\"gpt-4o-mini\","
                   "\"options\":{},\"params\":{\"max_tokens\":64,"
                   "\"temperature\":0.5},\"provider\":\"openai\",\"v\":1}");
    ck_assert_str_eq(key, "2e577c669f838b51176844a117c3f1a71fc5460c4c335fcccb"
                          "019a04eb5fca89");
    host->free(canonical);
    qf_request_free(req);
}
END_TEST

START_TEST(documented_variants_exact)
{
    qf_request *req = doc_example();
    char key[65];

    host->request_insert_message(req, 0, "system", "Be terse.", 9);
    key_of(req, key);
    ck_assert_str_eq(key, "1a9d41ccc6294c0c80dfc1261c6cae5b04de8f1e743ff4ed4c"
                          "ce39c33af6d736");
    qf_request_free(req);

    req = doc_example();
    host->request_set_param(req, "stop", "[\"END\"]");
    key_of(req, key);
    ck_assert_str_eq(key, "e581eb27cbc7d62bd0aa7bfe977db2deab6fcca6cd4a61b0be"
                          "560f947f69e9c1");
    qf_request_free(req);

    req = doc_example();
    qf_request_set_stream(req, 1, 1);
    key_of(req, key);
    ck_assert_str_eq(key, "2e577c669f838b51176844a117c3f1a71fc5460c4c335fcccb"
                          "019a04eb5fca89");
    qf_request_free(req);
}
END_TEST

static Suite *key_suite(void)
{
    Suite *s = suite_create("cache_key");
    TCase *tc = tcase_create("key");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, identical_requests_share_key);
    tcase_add_test(tc, nested_key_order_ignored);
    tcase_add_test(tc, number_forms_equal);
    tcase_add_test(tc, stream_and_plain_share_key);
    tcase_add_test(tc, cache_flags_do_not_change_key);
    tcase_add_test(tc, system_prompt_changes_key);
    tcase_add_test(tc, every_parameter_changes_key);
    tcase_add_test(tc, provider_option_changes_key);
    tcase_add_test(tc, message_order_and_role_change_key);
    tcase_add_test(tc, model_provider_base_url_change_key);
    tcase_add_test(tc, canonical_document_exact);
    tcase_add_test(tc, documented_variants_exact);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(key_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

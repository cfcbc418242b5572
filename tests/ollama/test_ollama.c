/*
 * test_ollama.c - the ollama provider plugin driven through the runtime
 * against qf-sim on loopback. Each test writes its own configuration, whose
 * provider block carries the qf-sim fault headers. It runs one request for
 * a role that falls back to providers.text.default. Then it checks the
 * response or error, the waits a fake clock recorded, and the requests
 * qf-sim logged with their bodies.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "error.h"
#include "log.h"
#include "runtime.h"
#include "testruntime.h"
#include "testutil.h"

#define PROMPT "hello there world" /* 17 bytes, so 5 prompt tokens */

/* One test's world: a temp folder, qf-sim logging to sim.log, a runtime. */
typedef struct world {
    char *dir;
    char *log_path;
    qf_test_sim sim;
    qf_test_clock clock;
    qf_runtime *rt;
    qf_response *resp;
    qf_error err;
    qf_test_chunks got;
} world;

static world w;

static void world_start_sim(void)
{
    const char *args[] = {"--log", NULL, NULL};

    w.dir = qf_test_tmpdir("ollama");
    ck_assert_ptr_nonnull(w.dir);
    ck_assert_int_ne(asprintf(&w.log_path, "%s/sim.log", w.dir), -1);
    args[1] = w.log_path;
    ck_assert_int_eq(qf_test_sim_start(&w.sim, args), 0);
}

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    qf_error_init(&w.err);
    qf_test_clock_init(&w.clock, INT64_C(1767225600000)); /* 2026-01-01Z */
    world_start_sim();
}

static void teardown(void)
{
    qf_response_free(w.resp);
    if (w.rt != NULL)
        qf_runtime_close(w.rt);
    qf_test_chunks_free(&w.got);
    qf_test_sim_stop(&w.sim);
    qf_test_rmtree(w.dir);
    free(w.dir);
    free(w.log_path);
}

/* Write the configuration with `provider_extra` (YAML lines indented for
 * the provider block) and open the runtime on it. */
static void open_runtime(const char *base_url, const char *provider_extra)
{
    char *text, *plugins = qf_test_build_path("plugins");

    ck_assert_int_ne(asprintf(&text,
                              "state_dir: state\n"
                              "plugin_dirs: [\"%s\"]\n"
                              "providers:\n"
                              "  text:\n"
                              "    default: ollama\n"
                              "    ollama:\n"
                              "      base_url: \"%s\"\n"
                              "%s",
                              plugins, base_url, provider_extra),
                     -1);
    if (strstr(provider_extra, "model:") == NULL) {
        char *more;

        ck_assert_int_ne(asprintf(&more, "%s      model: llama3.2\n", text),
                         -1);
        free(text);
        text = more;
    }
    w.rt = qf_test_runtime_open(w.dir, "plugins.yml", text,
                                (qf_runtime_options){.clock = &w.clock.vtable});
    free(text);
    free(plugins);
}

/* Run one request with `messages` (role, content pairs, NULL-ended). */
static qf_status run_messages(const char *const *messages, int stream)
{
    qf_stream_sink sink = {qf_test_chunks_collect, &w.got};
    qf_request *req = NULL;
    qf_status status;
    size_t i;

    ck_assert_int_eq(qf_request_create(w.rt, "plotwright", NULL, &req, &w.err),
                     QF_OK);
    for (i = 0; messages[i] != NULL; i += 2)
        ck_assert_int_eq(qf_request_add_message(req, messages[i],
                                                messages[i + 1],
                                                strlen(messages[i + 1])),
                         QF_OK);
    qf_request_set_stream(req, stream, 1);
    status = qf_runtime_run(w.rt, req, stream ? &sink : NULL, &w.resp, &w.err);
    qf_request_free(req);
    return status;
}

static qf_status run(int stream)
{
    static const char *const user_prompt[] = {"user", PROMPT, NULL};

    return run_messages(user_prompt, stream);
}

/* Requests qf-sim logged, as a JSON array (never NULL). */
static cJSON *sim_requests(void)
{
    return qf_test_sim_log_read(w.log_path);
}

static int sim_request_count(void)
{
    return qf_test_sim_log_count(w.log_path);
}

/* Body of the last logged request; the caller frees the returned root. */
static const cJSON *last_body(cJSON **root)
{
    *root = sim_requests();
    ck_assert_int_gt(cJSON_GetArraySize(*root), 0);
    return cJSON_GetObjectItem(
        cJSON_GetArrayItem(*root, cJSON_GetArraySize(*root) - 1), "body");
}

static void check_text(const char *expected)
{
    size_t len = 0;
    const char *text = qf_runtime_host(w.rt)->response_text(w.resp, &len);

    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(expected));
    ck_assert_str_eq(text, expected);
}

static void check_usage(int64_t prompt, int64_t completion, int estimated)
{
    qf_usage usage;

    memset(&usage, 0, sizeof(usage));
    usage.size = sizeof(usage);
    qf_runtime_host(w.rt)->response_usage(w.resp, &usage);
    ck_assert_int_eq(usage.prompt_tokens, prompt);
    ck_assert_int_eq(usage.completion_tokens, completion);
    ck_assert_int_eq(usage.estimated, estimated);
}

static const char *finish_reason(void)
{
    return qf_runtime_host(w.rt)->response_finish_reason(w.resp);
}

static void check_chunks(const char *const *expected, int count)
{
    int i;

    ck_assert_int_eq(w.got.count, count);
    for (i = 0; i < count; i++)
        ck_assert_str_eq(w.got.items[i], expected[i]);
}

static void check_message_has(const char *part)
{
    ck_assert_msg(strstr(w.err.message, part) != NULL,
                  "message \"%s\" lacks \"%s\"", w.err.message, part);
}

/* --- Completions -------------------------------------------------------- */

START_TEST(chat_non_stream)
{
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url, "");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: " PROMPT);
    ck_assert_str_eq(finish_reason(), "stop");
    check_usage(5, 4, 0);
    ck_assert_str_eq(qf_runtime_host(w.rt)->response_model(w.resp), "llama3.2");

    ck_assert_int_eq(sim_request_count(), 1);
    body = last_body(&root);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "path")->valuestring,
        "/api/chat");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(body, "stream")));
    ck_assert_str_eq(cJSON_GetObjectItem(body, "model")->valuestring,
                     "llama3.2");
    ck_assert_str_eq(
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0),
            "content")
            ->valuestring,
        PROMPT);
    ck_assert_ptr_null(cJSON_GetObjectItem(body, "options"));
    cJSON_Delete(root);
}
END_TEST

/* OLLAMA_HOST is often written without a scheme; it means http. */
START_TEST(base_url_without_scheme)
{
    char url[64];

    snprintf(url, sizeof(url), "127.0.0.1:%d", w.sim.port);
    open_runtime(url, "");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: " PROMPT);
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

START_TEST(chat_stream)
{
    static const char *const expected[] = {"Echo: ", "hello ", "there ",
                                           "world"};
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url, "");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(expected, 4);
    check_text("Echo: " PROMPT);
    ck_assert_str_eq(finish_reason(), "stop");
    check_usage(5, 4, 0);

    ck_assert_int_eq(sim_request_count(), 1);
    body = last_body(&root);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
    cJSON_Delete(root);
}
END_TEST

START_TEST(generate_endpoint)
{
    static const char *const messages[] = {"system", "be brief", "user", PROMPT,
                                           NULL};
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url, "      endpoint: generate\n");
    ck_assert_int_eq(run_messages(messages, 0), QF_OK);
    check_text("Echo: " PROMPT);
    check_usage(7, 4, 0); /* ceil((8 + 17) / 4) */

    ck_assert_int_eq(sim_request_count(), 1);
    body = last_body(&root);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "path")->valuestring,
        "/api/generate");
    ck_assert_str_eq(cJSON_GetObjectItem(body, "system")->valuestring,
                     "be brief");
    ck_assert_str_eq(cJSON_GetObjectItem(body, "prompt")->valuestring, PROMPT);
    ck_assert_ptr_null(cJSON_GetObjectItem(body, "messages"));
    cJSON_Delete(root);
}
END_TEST

START_TEST(generate_stream)
{
    static const char *const expected[] = {"Echo: ", "hello ", "there ",
                                           "world"};

    open_runtime(w.sim.base_url, "      endpoint: generate\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(expected, 4);
    check_text("Echo: " PROMPT);
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

/* --- Parameters and options ------------------------------------------ */

START_TEST(params_mapped_into_options)
{
    cJSON *root;
    const cJSON *body, *options, *stop;

    open_runtime(w.sim.base_url,
                 "      params:\n"
                 "        max_tokens: 2\n"
                 "        temperature: 0.5\n"
                 "        top_p: 0.9\n"
                 "        seed: 7\n"
                 "        stop: END\n"
                 "        response_format: {type: json_object}\n"
                 "      options:\n"
                 "        keep_alive: 5m\n"
                 "        num_ctx: 4096\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: hello");
    ck_assert_str_eq(finish_reason(), "length");
    check_usage(5, 2, 0);

    ck_assert_int_eq(sim_request_count(), 1);
    body = last_body(&root);
    options = cJSON_GetObjectItem(body, "options");
    ck_assert_int_eq(cJSON_GetObjectItem(options, "num_predict")->valueint, 2);
    ck_assert_double_eq(
        cJSON_GetObjectItem(options, "temperature")->valuedouble, 0.5);
    ck_assert_double_eq(cJSON_GetObjectItem(options, "top_p")->valuedouble,
                        0.9);
    ck_assert_int_eq(cJSON_GetObjectItem(options, "seed")->valueint, 7);
    ck_assert_int_eq(cJSON_GetObjectItem(options, "num_ctx")->valueint, 4096);
    stop = cJSON_GetObjectItem(options, "stop");
    ck_assert(cJSON_IsArray(stop));
    ck_assert_int_eq(cJSON_GetArraySize(stop), 1);
    ck_assert_str_eq(cJSON_GetArrayItem(stop, 0)->valuestring, "END");
    ck_assert_ptr_null(cJSON_GetObjectItem(options, "max_tokens"));
    ck_assert_ptr_null(cJSON_GetObjectItem(options, "keep_alive"));
    ck_assert_str_eq(cJSON_GetObjectItem(body, "keep_alive")->valuestring,
                     "5m");
    ck_assert_str_eq(cJSON_GetObjectItem(body, "format")->valuestring, "json");
    cJSON_Delete(root);
}
END_TEST

START_TEST(keep_alive_setting_number)
{
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url,
                 "      keep_alive: 300\n"
                 "      params:\n"
                 "        stop: [a, b]\n"
                 "        response_format:\n"
                 "          type: json_schema\n"
                 "          json_schema: {name: x, schema: {type: object}}\n");
    ck_assert_int_eq(run(0), QF_OK);
    body = last_body(&root);
    ck_assert_int_eq(cJSON_GetObjectItem(body, "keep_alive")->valueint, 300);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(body, "options"), "stop")),
                     2);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(body, "format"), "type")
            ->valuestring,
        "object");
    cJSON_Delete(root);
}
END_TEST

START_TEST(native_option_beats_mapped)
{
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url,
                 "      params: {max_tokens: 3, temperature: 0.2}\n"
                 "      options: {num_predict: 1, temperature: 0.8}\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo:");
    ck_assert_str_eq(finish_reason(), "length");
    check_usage(5, 1, 0);

    body = last_body(&root);
    ck_assert_int_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(body, "options"), "num_predict")
            ->valueint,
        1);
    ck_assert_double_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(body, "options"), "temperature")
            ->valuedouble,
        0.8);
    cJSON_Delete(root);
}
END_TEST

START_TEST(request_option_beats_config)
{
    qf_stream_sink *no_sink = NULL;
    qf_cnode *layer = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_request *req = NULL;
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url, "      keep_alive: 5m\n"
                                 "      options: {num_ctx: 2048, top_k: 20}\n");
    ck_assert_int_eq(qf_cnode_set(layer, "options.num_ctx", "8192", &w.err),
                     QF_OK);
    ck_assert_int_eq(qf_cnode_set(layer, "options.keep_alive", "10m", &w.err),
                     QF_OK);
    ck_assert_int_eq(qf_request_create(w.rt, "plotwright", layer, &req, &w.err),
                     QF_OK);
    ck_assert_int_eq(
        qf_request_add_message(req, "user", PROMPT, strlen(PROMPT)), QF_OK);
    ck_assert_int_eq(qf_runtime_run(w.rt, req, no_sink, &w.resp, &w.err),
                     QF_OK);

    body = last_body(&root);
    ck_assert_int_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(body, "options"), "num_ctx")
            ->valueint,
        8192);
    ck_assert_int_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(body, "options"), "top_k")
            ->valueint,
        20);
    ck_assert_str_eq(cJSON_GetObjectItem(body, "keep_alive")->valuestring,
                     "10m");
    cJSON_Delete(root);
    qf_request_free(req);
    qf_cnode_free(layer);
}
END_TEST

START_TEST(generate_conversation_prompt)
{
    static const char *const messages[] = {"system", "be brief",  "user",
                                           "hi",     "assistant", "hello",
                                           "user",   "again",     NULL};
    cJSON *root;
    const cJSON *body;

    open_runtime(w.sim.base_url, "      endpoint: generate\n");
    ck_assert_int_eq(run_messages(messages, 0), QF_OK);
    body = last_body(&root);
    ck_assert_str_eq(cJSON_GetObjectItem(body, "system")->valuestring,
                     "be brief");
    ck_assert_str_eq(cJSON_GetObjectItem(body, "prompt")->valuestring,
                     "user: hi\n\nassistant: hello\n\nuser: again");
    cJSON_Delete(root);
    check_text("Echo: user: hi\n\nassistant: hello\n\nuser: again");
}
END_TEST

START_TEST(unknown_param_refused)
{
    open_runtime(w.sim.base_url, "      params: {best_of: 2}\n");
    ck_assert_int_eq(run(0), QF_ERR_INVALID);
    check_message_has(
        "parameter \"best_of\" is not supported by the ollama provider");
    ck_assert_int_eq(sim_request_count(), 0);
}
END_TEST

START_TEST(unknown_native_option_refused)
{
    open_runtime(w.sim.base_url, "      options: {num_gpus: 1}\n");
    ck_assert_int_eq(run(0), QF_ERR_INVALID);
    check_message_has("option \"num_gpus\"");
    check_message_has("is not an Ollama option");
    ck_assert_int_eq(sim_request_count(), 0);
}
END_TEST

START_TEST(param_wrong_type_refused)
{
    qf_request *req = NULL;

    /* The host checks generic parameters when the request is created, so
     * the plugin never sees this one. */
    open_runtime(w.sim.base_url, "      params: {temperature: hot}\n");
    ck_assert_int_eq(qf_request_create(w.rt, "plotwright", NULL, &req, &w.err),
                     QF_ERR_INVALID);
    ck_assert_str_eq(w.err.message,
                     "generation parameter temperature=\"hot\" "
                     "is invalid; expected a number from 0 to 2");
    ck_assert_ptr_null(req);
    ck_assert_int_eq(sim_request_count(), 0);
}
END_TEST

/* --- Streams ------------------------------------------------------------ */

START_TEST(stream_done_reason_length)
{
    static const char *const expected[] = {"Echo: ", "hello"};

    open_runtime(w.sim.base_url, "      params: {max_tokens: 2}\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(expected, 2);
    ck_assert_str_eq(finish_reason(), "length");
    check_usage(5, 2, 0);
}
END_TEST

START_TEST(stream_tiny_pieces)
{
    cJSON *root;

    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-Fault: tiny}\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_text("Echo: " PROMPT);
    ck_assert_int_eq(w.got.count, 4);
    ck_assert_str_eq(w.got.items[2], "there ");
    ck_assert_str_eq(finish_reason(), "stop");
    check_usage(5, 4, 0);
    ck_assert_int_eq(sim_request_count(), 1);
    last_body(&root);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "fault")->valuestring,
        "tiny");
    cJSON_Delete(root);
}
END_TEST

START_TEST(stream_batched)
{
    static const char *const expected[] = {"Echo: ", "hello ", "there ",
                                           "world"};

    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-Fault: batched}\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(expected, 4);
    ck_assert_str_eq(finish_reason(), "stop");
    check_usage(5, 4, 0);
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

START_TEST(stream_cut)
{
    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-Fault: cut}\n");
    ck_assert_int_eq(run(1), QF_ERR_STREAM_CUT);
    check_message_has("upstream stream was cut before its end");
    ck_assert_int_eq(sim_request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(stream_error_mid_stream)
{
    static const char *const expected[] = {"Echo: ", "hello "};

    open_runtime(w.sim.base_url,
                 "      headers: {X-QF-Sim-Fault: error-mid-stream}\n");
    ck_assert_int_eq(run(1), QF_ERR_UPSTREAM);
    check_message_has(
        "ollama: upstream reported an error mid-stream: "
        "qf-sim error-mid-stream fault: the stream failed after two chunks");
    check_chunks(expected, 2);
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

START_TEST(only_load_frame_is_error)
{
    static const char *const none[] = {NULL};

    open_runtime(w.sim.base_url, "");
    ck_assert_int_eq(run_messages(none, 1), QF_ERR_PROTOCOL);
    check_message_has("ollama returned no answer (only a load frame)");
    ck_assert_int_eq(w.got.count, 0);
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

START_TEST(only_load_frame_non_stream)
{
    static const char *const none[] = {NULL};

    open_runtime(w.sim.base_url, "");
    ck_assert_int_eq(run_messages(none, 0), QF_ERR_PROTOCOL);
    check_message_has("ollama returned no answer (only a load frame)");
}
END_TEST

START_TEST(missing_counts_estimated)
{
    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-No-Usage: 1}\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: " PROMPT);
    check_usage(5, 6, 1); /* ceil(17 / 4), ceil(23 / 4) */
}
END_TEST

START_TEST(missing_counts_estimated_stream)
{
    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-No-Usage: 1}\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_usage(5, 6, 1);
}
END_TEST

/* --- Errors and retries ------------------------------------------------ */

START_TEST(unknown_model_404)
{
    open_runtime(w.sim.base_url, "      model: nosuch\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_message_has(
        "ollama: upstream returned HTTP 404: model \"nosuch\" not found, "
        "try pulling it first");
    ck_assert_int_eq(w.err.http_status, 404);
    ck_assert_int_eq(sim_request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(retry_503_then_success)
{
    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-Fault: \"503\", "
                                 "X-QF-Sim-Fault-Times: \"1\"}\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: " PROMPT);
    ck_assert_int_eq(sim_request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    /* First backoff step: 500 ms with equal jitter, so 250 to 500 ms. */
    ck_assert_int_ge(w.clock.sleeps[0], 250);
    ck_assert_int_le(w.clock.sleeps[0], 500);
}
END_TEST

START_TEST(retry_429_honours_retry_after)
{
    open_runtime(w.sim.base_url, "      headers:\n"
                                 "        X-QF-Sim-Fault: \"429\"\n"
                                 "        X-QF-Sim-Fault-Times: 2\n"
                                 "        X-QF-Sim-Retry-After: 3\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_text("Echo: " PROMPT);
    ck_assert_int_eq(sim_request_count(), 3);
    ck_assert_int_eq(w.clock.sleep_count, 2);
    ck_assert_int_eq(w.clock.sleeps[0], 3000);
    ck_assert_int_eq(w.clock.sleeps[1], 3000);
}
END_TEST

START_TEST(retry_after_beyond_cap_stops)
{
    open_runtime(w.sim.base_url, "      retry: {max_wait_seconds: 5}\n"
                                 "      headers:\n"
                                 "        X-QF-Sim-Fault: \"429\"\n"
                                 "        X-QF-Sim-Retry-After: 3\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    ck_assert_int_eq(w.err.http_status, 429);
    ck_assert_int_eq(w.err.retry_after_ms, 3000);
    ck_assert_int_eq(sim_request_count(),
                     2); /* waited 3 s, 3 more would pass 5 */
    ck_assert_int_eq(w.clock.sleep_count, 1);
    ck_assert_int_eq(w.clock.sleeps[0], 3000);
}
END_TEST

START_TEST(error_500_keeps_message)
{
    open_runtime(w.sim.base_url,
                 "      headers: {X-QF-Sim-Fault: error-ollama}\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_message_has("ollama: upstream returned HTTP 500: ");
    ck_assert_int_eq(w.err.http_status, 500);
    ck_assert_int_eq(sim_request_count(), 3);
    ck_assert_int_eq(w.clock.sleep_count, 2);
}
END_TEST

START_TEST(max_attempts_one_no_retry)
{
    open_runtime(w.sim.base_url, "      retry: {max_attempts: 1}\n"
                                 "      headers: {X-QF-Sim-Fault: \"503\"}\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    ck_assert_int_eq(w.err.http_status, 503);
    ck_assert_int_eq(sim_request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(retry_429_ms_header)
{
    open_runtime(w.sim.base_url, "      headers:\n"
                                 "        X-QF-Sim-Fault: 429-ms\n"
                                 "        X-QF-Sim-Fault-Times: 1\n"
                                 "        X-QF-Sim-Retry-After: 1500\n");
    ck_assert_int_eq(run(0), QF_OK);
    ck_assert_int_eq(sim_request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    ck_assert_int_eq(w.clock.sleeps[0], 1500);
}
END_TEST

START_TEST(retry_429_http_date)
{
    /* The date is computed by qf-sim from the real clock, so the fake
     * clock starts at real time here. HTTP dates have whole seconds. */
    w.clock.now_ms = (int64_t)time(NULL) * 1000;
    open_runtime(w.sim.base_url, "      headers:\n"
                                 "        X-QF-Sim-Fault: 429-date\n"
                                 "        X-QF-Sim-Fault-Times: 1\n"
                                 "        X-QF-Sim-Retry-After: 4\n");
    ck_assert_int_eq(run(0), QF_OK);
    ck_assert_int_eq(sim_request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    ck_assert_int_ge(w.clock.sleeps[0], 2000);
    ck_assert_int_le(w.clock.sleeps[0], 5000);
}
END_TEST

START_TEST(malformed_body)
{
    open_runtime(w.sim.base_url,
                 "      headers: {X-QF-Sim-Fault: malformed}\n");
    ck_assert_int_eq(run(0), QF_ERR_PROTOCOL);
    check_message_has("is not a JSON object");
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

START_TEST(malformed_stream)
{
    open_runtime(w.sim.base_url,
                 "      headers: {X-QF-Sim-Fault: malformed}\n");
    ck_assert_int_eq(run(1), QF_ERR_PROTOCOL);
    check_message_has("ollama: invalid stream from upstream: line ");
    ck_assert_int_eq(sim_request_count(), 1);
}
END_TEST

START_TEST(non_stream_cut)
{
    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-Fault: cut}\n");
    ck_assert_int_eq(run(0), QF_ERR_STREAM_CUT);
    check_message_has("/api/chat was cut before its end");
    ck_assert_int_eq(sim_request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(total_timeout)
{
    open_runtime(
        w.sim.base_url,
        "      timeout: {total_seconds: 1}\n"
        "      headers: {X-QF-Sim-Fault: delay, X-QF-Sim-Delay-Ms: 3000}\n");
    ck_assert_int_eq(run(0), QF_ERR_TIMEOUT);
    check_message_has("timed out");
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(bad_endpoint_setting)
{
    /* The provider instance is created, and rejected, by the first call. */
    open_runtime(w.sim.base_url, "      endpoint: completions\n");
    ck_assert_int_eq(run(0), QF_ERR_CONFIG);
    check_message_has(
        "ollama: endpoint is \"completions\"; expected chat or generate");
    ck_assert_int_eq(sim_request_count(), 0);
}
END_TEST

#define THREADS          4
#define CALLS_PER_THREAD 5

/* Runs CALLS_PER_THREAD requests; returns the number that failed. */
static void *run_calls(void *arg)
{
    static const char *const user_prompt[] = {"user", PROMPT, NULL};
    intptr_t failed = 0;
    int i;

    (void)arg;
    for (i = 0; i < CALLS_PER_THREAD; i++) {
        qf_request *req = NULL;
        qf_response *resp = NULL;
        qf_error err;
        size_t len = 0;
        const char *text;

        qf_error_init(&err);
        if (qf_request_create(w.rt, "plotwright", NULL, &req, &err) != QF_OK ||
            qf_request_add_message(req, user_prompt[0], user_prompt[1],
                                   strlen(user_prompt[1])) != QF_OK ||
            qf_runtime_run(w.rt, req, NULL, &resp, &err) != QF_OK) {
            failed++;
        } else {
            text = qf_runtime_host(w.rt)->response_text(resp, &len);
            failed += text == NULL || strcmp(text, "Echo: " PROMPT) != 0;
        }
        qf_response_free(resp);
        qf_request_free(req);
    }
    return (void *)failed;
}

START_TEST(concurrent_calls_share_pool)
{
    pthread_t threads[THREADS];
    void *failed;
    int i;

    open_runtime(w.sim.base_url, "");
    for (i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, run_calls, NULL), 0);
    for (i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], &failed), 0);
        ck_assert_int_eq((intptr_t)failed, 0);
    }
    ck_assert_int_eq(sim_request_count(), THREADS * CALLS_PER_THREAD);
}
END_TEST

START_TEST(base_url_with_credentials)
{
    char url[96];

    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%d", w.sim.port);
    open_runtime(url, "");
    ck_assert_int_eq(run(0), QF_ERR_CONFIG);
    check_message_has("ollama: base_url contains credentials");
    ck_assert_ptr_null(strstr(w.err.message, "pw"));
    ck_assert_int_eq(sim_request_count(), 0);
}
END_TEST

START_TEST(failure_log_names_status)
{
    int saved = qf_test_stderr_begin(w.dir, QF_LOG_WARN);
    char *logged;

    open_runtime(w.sim.base_url, "      headers: {X-QF-Sim-Fault: cut}\n");
    ck_assert_int_eq(run(1), QF_ERR_STREAM_CUT);
    logged = qf_test_stderr_end(saved, w.dir);
    ck_assert_msg(strstr(logged,
                         ": failed with status stream_cut: ollama: "
                         "upstream stream was cut before its end") != NULL,
                  "log: %s", logged);
    ck_assert_ptr_null(strstr(logged, "status -12"));
    free(logged);
}
END_TEST

START_TEST(header_values_not_logged)
{
    int saved = qf_test_stderr_begin(w.dir, QF_LOG_TRACE);
    char *logged;
    qf_status first, second;

    open_runtime(w.sim.base_url, "      headers:\n"
                                 "        X-Custom: hdr-secret-41f0\n"
                                 "        X-QF-Sim-Fault: \"503\"\n"
                                 "        X-QF-Sim-Fault-Times: \"1\"\n");
    first = run(0);
    qf_response_free(w.resp);
    w.resp = NULL;
    second = run(1);
    logged = qf_test_stderr_end(saved, w.dir);
    ck_assert_int_eq(first, QF_OK);
    ck_assert_int_eq(second, QF_OK);
    /* The retry line ran and names no header value. */
    ck_assert_msg(strstr(logged, "retrying in") != NULL, "log: %s", logged);
    ck_assert_ptr_null(strstr(logged, "hdr-secret-41f0"));
    ck_assert_ptr_null(strstr(logged, "X-Custom"));
    free(logged);
}
END_TEST

/* A loopback port with nothing listening: bind, read the port, close. */
static int closed_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    ck_assert_int_ge(fd, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

START_TEST(connection_refused)
{
    char url[64], hint[160];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    snprintf(
        hint, sizeof(hint),
        "is Ollama running at %s? start it with `ollama serve` or set base_url",
        url);
    open_runtime(url, "");
    ck_assert_int_eq(run(0), QF_ERR_CONNECT);
    check_message_has(hint);
    ck_assert_int_eq(w.clock.sleep_count, 2);
}
END_TEST

static Suite *ollama_suite(void)
{
    Suite *s = suite_create("ollama");
    TCase *answers = tcase_create("answers");
    TCase *params = tcase_create("params");
    TCase *streams = tcase_create("streams");
    TCase *errors = tcase_create("errors");
    TCase *all[] = {answers, params, streams, errors};
    size_t i;

    tcase_add_test(answers, chat_non_stream);
    tcase_add_test(answers, chat_stream);
    tcase_add_test(answers, base_url_without_scheme);
    tcase_add_test(answers, generate_endpoint);
    tcase_add_test(answers, generate_stream);
    tcase_add_test(answers, missing_counts_estimated);
    tcase_add_test(answers, missing_counts_estimated_stream);
    tcase_add_test(answers, concurrent_calls_share_pool);
    tcase_add_test(params, params_mapped_into_options);
    tcase_add_test(params, keep_alive_setting_number);
    tcase_add_test(params, native_option_beats_mapped);
    tcase_add_test(params, request_option_beats_config);
    tcase_add_test(params, generate_conversation_prompt);
    tcase_add_test(params, unknown_param_refused);
    tcase_add_test(params, unknown_native_option_refused);
    tcase_add_test(params, param_wrong_type_refused);
    tcase_add_test(streams, stream_done_reason_length);
    tcase_add_test(streams, stream_tiny_pieces);
    tcase_add_test(streams, stream_batched);
    tcase_add_test(streams, stream_cut);
    tcase_add_test(streams, stream_error_mid_stream);
    tcase_add_test(streams, only_load_frame_is_error);
    tcase_add_test(streams, only_load_frame_non_stream);
    tcase_add_test(errors, unknown_model_404);
    tcase_add_test(errors, retry_503_then_success);
    tcase_add_test(errors, retry_429_honours_retry_after);
    tcase_add_test(errors, retry_after_beyond_cap_stops);
    tcase_add_test(errors, error_500_keeps_message);
    tcase_add_test(errors, max_attempts_one_no_retry);
    tcase_add_test(errors, connection_refused);
    tcase_add_test(errors, retry_429_ms_header);
    tcase_add_test(errors, retry_429_http_date);
    tcase_add_test(errors, malformed_body);
    tcase_add_test(errors, malformed_stream);
    tcase_add_test(errors, non_stream_cut);
    tcase_add_test(errors, total_timeout);
    tcase_add_test(errors, bad_endpoint_setting);
    tcase_add_test(errors, base_url_with_credentials);
    tcase_add_test(errors, failure_log_names_status);
    tcase_add_test(errors, header_values_not_logged);
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 60);
        suite_add_tcase(s, all[i]);
    }
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(ollama_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

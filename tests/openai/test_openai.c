/*
 * test_openai.c - the openai provider plugin driven through the runtime
 * against qf-sim on loopback. Each test writes its own configuration (qf-sim
 * faults travel as extra headers of the provider block), runs one request,
 * and checks the response or error, the waits a fake clock recorded, and
 * the requests qf-sim logged with their bodies.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "error.h"
#include "log.h"
#include "runtime.h"
#include "testruntime.h"
#include "testutil.h"

#define PROMPT  "hello there world" /* 17 bytes: 5 prompt tokens */
#define REPLY   "Echo: hello there world"
#define API_KEY "sk-test-7f3a9c2e5b"

/* One test's world: a temp folder, qf-sim logging to sim.log, a runtime. */
static struct {
    char *dir;
    char *log_path;
    qf_test_sim sim;
    qf_test_clock clock;     /* real time: the sim's HTTP dates use it */
    const char *image_extra; /* YAML lines for the image provider block */
    qf_runtime *rt;
    qf_response *resp;
    qf_error err;
    qf_test_chunks got;
} w;

static void start_sim(const char *key)
{
    const char *args[] = {"--log", NULL, NULL, NULL, NULL};

    w.dir = qf_test_tmpdir("openai");
    ck_assert_ptr_nonnull(w.dir);
    ck_assert_int_ne(asprintf(&w.log_path, "%s/sim.log", w.dir), -1);
    args[1] = w.log_path;
    if (key) {
        args[2] = "--key";
        args[3] = key;
    }
    ck_assert_int_eq(qf_test_sim_start(&w.sim, args), 0);
}

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    qf_error_init(&w.err);
    qf_test_clock_init_real(&w.clock);
    start_sim(API_KEY);
}

static void teardown(void)
{
    qf_response_free(w.resp);
    if (w.rt)
        qf_runtime_close(w.rt);
    qf_test_chunks_free(&w.got);
    qf_test_sim_stop(&w.sim);
    qf_test_rmtree(w.dir);
    free(w.dir);
    free(w.log_path);
}

/*
 * Write the configuration and open the runtime. `extra` holds YAML lines
 * for the text provider block, indented by six spaces; `headers` holds
 * "Name: value" lines for its headers map, indented by eight.
 */
static void open_runtime_at(const char *base_url, const char *extra,
                            const char *headers)
{
    char *text, *plugins = qf_test_build_path("plugins");

    ck_assert_int_ne(
        asprintf(&text,
                 "state_dir: state\n"
                 "plugin_dirs: [\"%s\"]\n"
                 "providers:\n"
                 "  image:\n"
                 "    default: openai\n"
                 "    openai:\n"
                 "      base_url: \"%s/v1\"\n"
                 "      api_key: \"%s\"\n"
                 "      model: gpt-image-1\n"
                 "%s"
                 "  text:\n"
                 "    default: openai\n"
                 "    openai:\n"
                 "      base_url: \"%s\"\n"
                 "      api_key: \"%s\"\n"
                 "%s"
                 "%s%s",
                 plugins, w.sim.base_url, API_KEY,
                 w.image_extra ? w.image_extra : "", base_url, API_KEY,
                 strstr(extra, "model:") ? "" : "      model: gpt-4o-mini\n",
                 extra, headers[0] ? "      headers:\n" : ""),
        -1);
    if (headers[0]) {
        char *more;
        ck_assert_int_ne(asprintf(&more, "%s%s", text, headers), -1);
        free(text);
        text = more;
    }
    w.rt = qf_test_runtime_open(w.dir, "plugins.yml", text,
                                (qf_runtime_options){.clock = &w.clock.vtable});
    free(text);
    free(plugins);
}

static void open_runtime(const char *extra, const char *headers)
{
    char base_url[96];

    snprintf(base_url, sizeof(base_url), "%s/v1", w.sim.base_url);
    open_runtime_at(base_url, extra, headers);
}

static qf_status run_role(const char *role, const char *prompt, int stream)
{
    qf_stream_sink sink = {qf_test_chunks_collect, &w.got};
    qf_request *req = NULL;
    qf_status status;

    ck_assert_int_eq(qf_request_create(w.rt, role, NULL, &req, &w.err), QF_OK);
    ck_assert_int_eq(
        qf_request_add_message(req, "user", prompt, strlen(prompt)), QF_OK);
    qf_request_set_stream(req, stream, 1);
    status = qf_runtime_run(w.rt, req, stream ? &sink : NULL, &w.resp, &w.err);
    qf_request_free(req);
    return status;
}

static qf_status run(int stream)
{
    return run_role("plotwright", PROMPT, stream);
}

/* Requests qf-sim logged, as a JSON array (never NULL). */
static cJSON *sim_requests(void)
{
    return qf_test_sim_log_read(w.log_path);
}

static int request_count(void)
{
    return qf_test_sim_log_count(w.log_path);
}

/* The body of the first logged request as unformatted JSON text. */
static char *first_body(void)
{
    cJSON *list = sim_requests();
    cJSON *body = cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "body");
    char *text = body ? cJSON_PrintUnformatted(body) : strdup("(none)");
    cJSON_Delete(list);
    return text;
}

static void check_body_has(const char *part)
{
    char *body = first_body();
    ck_assert_msg(strstr(body, part) != NULL, "body %s lacks %s", body, part);
    free(body);
}

static void check_body_lacks(const char *part)
{
    char *body = first_body();
    ck_assert_msg(strstr(body, part) == NULL, "body %s has %s", body, part);
    free(body);
}

static const qf_host *host(void)
{
    return qf_runtime_host(w.rt);
}

static void check_text(const char *expected)
{
    size_t len = 0;
    const char *text = host()->response_text(w.resp, &len);

    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(expected));
    ck_assert_str_eq(text, expected);
}

static void check_usage(int64_t prompt, int64_t cached, int64_t completion,
                        int estimated)
{
    qf_usage usage;

    memset(&usage, 0, sizeof(usage));
    usage.size = sizeof(usage);
    host()->response_usage(w.resp, &usage);
    ck_assert_int_eq(usage.prompt_tokens, prompt);
    ck_assert_int_eq(usage.cached_tokens, cached);
    ck_assert_int_eq(usage.completion_tokens, completion);
    ck_assert_int_eq(usage.estimated, estimated);
}

static void check_finish(const char *expected)
{
    const char *reason = host()->response_finish_reason(w.resp);
    ck_assert_ptr_nonnull(reason);
    ck_assert_str_eq(reason, expected);
}

static void check_chunks(const char *const *expected, int count)
{
    ck_assert_int_eq(w.got.count, count);
    for (int i = 0; i < count; i++)
        ck_assert_str_eq(w.got.items[i], expected[i]);
}

static void check_error(qf_status status, int http_status, const char *message)
{
    ck_assert_int_eq(w.err.status, status);
    ck_assert_int_eq(w.err.http_status, http_status);
    ck_assert_str_eq(w.err.message, message);
}

static const char *const reply_chunks[] = {"Echo: ", "hello ", "there ",
                                           "world"};

/* --- Plain and streamed chat ---------------------------------------- */

START_TEST(chat_plain)
{
    open_runtime("", "");
    ck_assert_int_eq(run(0), QF_OK);
    check_text(REPLY);
    check_usage(5, 0, 4, 0);
    check_finish("stop");
    ck_assert_str_eq(host()->response_model(w.resp), "gpt-4o-mini");
    ck_assert_int_eq(request_count(), 1);
    check_body_has("\"messages\":[{\"role\":\"user\",\"content\":\"" PROMPT
                   "\"}]");
    check_body_lacks("\"stream\"");
}
END_TEST

START_TEST(chat_stream)
{
    open_runtime("", "");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(reply_chunks, 4);
    check_text(REPLY);
    check_usage(5, 0, 4, 0);
    check_finish("stop");
    ck_assert_int_eq(request_count(), 1);
    check_body_has("\"stream\":true");
    check_body_has("\"stream_options\":{\"include_usage\":true}");
}
END_TEST

START_TEST(stream_tiny_pieces)
{
    open_runtime("", "        X-QF-Sim-Fault: tiny\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(reply_chunks, 4);
    check_text(REPLY);
    check_usage(5, 0, 4, 0);
    check_finish("stop");
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(stream_batched_events)
{
    open_runtime("", "        X-QF-Sim-Fault: batched\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(reply_chunks, 4);
    check_text(REPLY);
    check_usage(5, 0, 4, 0);
    check_finish("stop");
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(stream_cut)
{
    open_runtime("", "        X-QF-Sim-Fault: cut\n");
    ck_assert_int_eq(run(1), QF_ERR_STREAM_CUT);
    ck_assert_int_eq(w.err.status, QF_ERR_STREAM_CUT);
    ck_assert_msg(strncmp(w.err.message,
                          "openai: upstream stream was cut before its end (",
                          48) == 0,
                  "message: %s", w.err.message);
    check_chunks(reply_chunks, 2);
    /* Chunks were written, so the request is not retried. */
    ck_assert_int_eq(request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(stream_error_mid_stream)
{
    open_runtime("", "        X-QF-Sim-Fault: error-mid-stream\n");
    ck_assert_int_eq(run(1), QF_ERR_UPSTREAM);
    ck_assert_int_eq(w.err.status, QF_ERR_UPSTREAM);
    ck_assert_str_eq(w.err.message,
                     "openai: upstream returned an error: qf-sim "
                     "error-mid-stream fault: the stream failed "
                     "after two chunks");
    check_chunks(reply_chunks, 2);
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(stream_malformed)
{
    open_runtime("", "        X-QF-Sim-Fault: malformed\n");
    ck_assert_int_eq(run(1), QF_ERR_PROTOCOL);
    ck_assert_int_eq(w.err.status, QF_ERR_PROTOCOL);
    ck_assert_msg(strncmp(w.err.message,
                          "openai: upstream sent a stream event "
                          "that is not a JSON object: ",
                          62) == 0,
                  "message: %s", w.err.message);
    ck_assert_int_eq(w.got.count, 0);
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

/* --- Output caps ---------------------------------------------------- */

START_TEST(max_tokens_truncates)
{
    open_runtime("      params:\n        max_tokens: 2\n", "");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: hello");
    check_usage(5, 0, 2, 0);
    check_finish("length");
    ck_assert_int_eq(request_count(), 1);
    check_body_has("\"max_tokens\":2");
    check_body_lacks("max_completion_tokens");
}
END_TEST

START_TEST(max_tokens_renamed_for_o1)
{
    open_runtime("      model: o1-mini\n      params:\n        max_tokens: 2\n",
                 "");
    ck_assert_int_eq(run(0), QF_OK);
    check_text("Echo: hello");
    check_usage(5, 0, 2, 0);
    check_finish("length");
    ck_assert_str_eq(host()->response_model(w.resp), "o1-mini");
    ck_assert_int_eq(request_count(), 1);
    check_body_has("\"max_completion_tokens\":2");
    check_body_lacks("\"max_tokens\"");
}
END_TEST

START_TEST(params_and_options_sent)
{
    open_runtime("      params:\n        temperature: 0.5\n        seed: 7\n"
                 "      options:\n        user: u-42\n",
                 "");
    ck_assert_int_eq(run(0), QF_OK);
    check_text(REPLY);
    ck_assert_int_eq(request_count(), 1);
    check_body_has("\"temperature\":0.5");
    check_body_has("\"seed\":7");
    check_body_has("\"user\":\"u-42\"");
}
END_TEST

START_TEST(unknown_option_rejected)
{
    open_runtime("      options:\n        frobnicate: 1\n", "");
    ck_assert_int_eq(run(0), QF_ERR_INVALID);
    check_error(QF_ERR_INVALID, 0,
                "openai: unknown option \"frobnicate\"; the accepted native "
                "options are n, user, logit_bias, logprobs, top_logprobs, "
                "parallel_tool_calls, service_tier, store, metadata, "
                "reasoning_effort");
    ck_assert_int_eq(request_count(), 0);
}
END_TEST

/* --- Retries -------------------------------------------------------- */

START_TEST(retry_429_seconds)
{
    open_runtime("", "        X-QF-Sim-Fault: \"429\"\n        "
                     "X-QF-Sim-Fault-Times: \"1\"\n");
    ck_assert_int_eq(run(0), QF_OK);
    ck_assert_int_eq(w.err.status, QF_OK);
    ck_assert_str_eq(w.err.message, "");
    ck_assert_int_eq(w.err.http_status, 0);
    ck_assert_int_eq(w.err.retry_after_ms, -1);
    check_text(REPLY);
    check_usage(5, 0, 4, 0);
    ck_assert_int_eq(request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    /* Retry-After: 1 is the minimum; the backoff bound is 500 ms. */
    ck_assert_int_eq(w.clock.sleeps[0], 1000);
}
END_TEST

START_TEST(retry_429_date)
{
    open_runtime("", "        X-QF-Sim-Fault: 429-date\n        "
                     "X-QF-Sim-Fault-Times: \"1\"\n"
                     "        X-QF-Sim-Retry-After: \"3\"\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text(REPLY);
    ck_assert_int_eq(request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    /* The date has whole seconds: 3 s ahead of a time within the last
     * second leaves between 2 and 3 s. */
    ck_assert_int_ge(w.clock.sleeps[0], 1000);
    ck_assert_int_le(w.clock.sleeps[0], 3000);
}
END_TEST

START_TEST(retry_429_ms)
{
    open_runtime(
        "",
        "        X-QF-Sim-Fault: 429-ms\n        X-QF-Sim-Fault-Times: \"1\"\n"
        "        X-QF-Sim-Retry-After: \"1500\"\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text(REPLY);
    ck_assert_int_eq(request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    ck_assert_int_eq(w.clock.sleeps[0], 1500);
}
END_TEST

START_TEST(retry_503_then_success)
{
    open_runtime("", "        X-QF-Sim-Fault: \"503\"\n        "
                     "X-QF-Sim-Fault-Times: \"1\"\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(reply_chunks, 4);
    check_text(REPLY);
    check_usage(5, 0, 4, 0);
    check_finish("stop");
    ck_assert_int_eq(request_count(), 2);
    ck_assert_int_eq(w.clock.sleep_count, 1);
    ck_assert_int_ge(w.clock.sleeps[0], 0);
    ck_assert_int_le(w.clock.sleeps[0], 500);
}
END_TEST

START_TEST(retry_500_exhausted)
{
    open_runtime("", "        X-QF-Sim-Fault: \"500\"\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(QF_ERR_UPSTREAM, 500,
                "openai: upstream returned HTTP 500: qf-sim "
                "500 fault: internal server error");
    ck_assert_int_eq(request_count(), 3);
    ck_assert_int_eq(w.clock.sleep_count, 2);
    ck_assert_int_le(w.clock.sleeps[0], 500);
    ck_assert_int_le(w.clock.sleeps[1], 1000);
}
END_TEST

START_TEST(retry_after_beyond_cap)
{
    open_runtime("      retry:\n        max_wait_seconds: 2\n",
                 "        X-QF-Sim-Fault: \"429\"\n        "
                 "X-QF-Sim-Retry-After: \"5\"\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(
        QF_ERR_UPSTREAM, 429,
        "openai: upstream returned HTTP 429: Rate limit reached for "
        "requests (qf-sim 429 fault). Retry after the time the server sent.");
    ck_assert_int_eq(w.err.retry_after_ms, 5000);
    ck_assert_int_eq(request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(retry_connection_refused)
{
    char base_url[96];

    /* The sim's port after it stopped: nothing listens there. */
    snprintf(base_url, sizeof(base_url), "%s/v1", w.sim.base_url);
    qf_test_sim_stop(&w.sim);
    open_runtime_at(base_url, "", "");
    ck_assert_int_eq(run(0), QF_ERR_CONNECT);
    ck_assert_int_eq(w.err.status, QF_ERR_CONNECT);
    ck_assert_msg(strstr(w.err.message,
                         "openai: could not complete the request to "
                         "http://127.0.0.1:") == w.err.message,
                  "message: %s", w.err.message);
    ck_assert_int_eq(w.clock.sleep_count, 2);
}
END_TEST

START_TEST(no_retry_400)
{
    open_runtime("", "        X-QF-Sim-Fault: error-openai\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(QF_ERR_UPSTREAM, 400,
                "openai: upstream returned HTTP 400: qf-sim "
                "error-openai fault: the request was rejected");
    ck_assert_int_eq(request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(no_retry_401)
{
    open_runtime("", "        X-QF-Sim-Fault: \"401\"\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(QF_ERR_UPSTREAM, 401,
                "openai: upstream returned HTTP 401: "
                "Incorrect API key provided (qf-sim 401 fault).");
    ck_assert_int_eq(request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(no_retry_404)
{
    char base_url[96];

    snprintf(base_url, sizeof(base_url), "%s/nowhere", w.sim.base_url);
    open_runtime_at(base_url, "", "");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    ck_assert_int_eq(w.err.status, QF_ERR_UPSTREAM);
    ck_assert_int_eq(w.err.http_status, 404);
    ck_assert_msg(
        strncmp(w.err.message, "openai: upstream returned HTTP 404: ", 36) == 0,
        "message: %s", w.err.message);
    ck_assert_int_eq(request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

START_TEST(timeout_is_not_retried)
{
    open_runtime(
        "      timeout:\n        total_seconds: 1\n",
        "        X-QF-Sim-Fault: delay\n        X-QF-Sim-Delay-Ms: \"3000\"\n");
    ck_assert_int_eq(run(0), QF_ERR_TIMEOUT);
    ck_assert_int_eq(w.err.status, QF_ERR_TIMEOUT);
    ck_assert_int_eq(request_count(), 1);
    ck_assert_int_eq(w.clock.sleep_count, 0);
}
END_TEST

/* --- Error bodies --------------------------------------------------- */

START_TEST(error_body_string)
{
    open_runtime("", "        X-QF-Sim-Fault: error-string\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(QF_ERR_UPSTREAM, 400,
                "openai: upstream returned HTTP 400: a bare string");
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(error_body_html)
{
    open_runtime("      retry:\n        max_attempts: 1\n",
                 "        X-QF-Sim-Fault: error-html\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(
        QF_ERR_UPSTREAM, 502,
        "openai: upstream returned HTTP 502: 502 Bad Gateway 502 Bad Gateway "
        "qf-sim error-html fault: the upstream answered with this page "
        "instead of JSON.");
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(error_body_ollama_shape)
{
    open_runtime("      retry:\n        max_attempts: 1\n",
                 "        X-QF-Sim-Fault: error-ollama\n");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    check_error(QF_ERR_UPSTREAM, 500,
                "openai: upstream returned HTTP 500: qf-sim "
                "error-ollama fault: the model runner stopped "
                "unexpectedly");
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(body_cut_reported_as_cut)
{
    static const char prefix[] =
        "openai: upstream response was cut before its end (";

    open_runtime("", "        X-QF-Sim-Fault: cut\n");
    ck_assert_int_eq(run(0), QF_ERR_STREAM_CUT);
    ck_assert_int_eq(w.err.status, QF_ERR_STREAM_CUT);
    ck_assert_msg(strncmp(w.err.message, prefix, strlen(prefix)) == 0,
                  "message: %s", w.err.message);
    /* The server was reached, so the connect hint must not appear. */
    ck_assert_ptr_null(strstr(w.err.message, "check base_url"));
    /* Nothing reached the caller, so the call is retried: three attempts,
     * two waits. */
    ck_assert_int_eq(request_count(), 3);
    ck_assert_int_eq(w.clock.sleep_count, 2);
}
END_TEST

START_TEST(malformed_body)
{
    open_runtime("", "        X-QF-Sim-Fault: malformed\n");
    ck_assert_int_eq(run(0), QF_ERR_PROTOCOL);
    ck_assert_int_eq(w.err.status, QF_ERR_PROTOCOL);
    ck_assert_msg(strncmp(w.err.message,
                          "openai: upstream returned HTTP 200 with a "
                          "body that is not a JSON object",
                          72) == 0,
                  "message: %s", w.err.message);
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

START_TEST(response_too_large)
{
    char prompt[3000];

    memset(prompt, 'a', sizeof(prompt) - 1);
    prompt[sizeof(prompt) - 1] = '\0';
    open_runtime("      max_response_bytes: 2048\n", "");
    ck_assert_int_eq(run_role("plotwright", prompt, 0), QF_ERR_TOO_LARGE);
    ck_assert_int_eq(w.err.status, QF_ERR_TOO_LARGE);
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

/* --- Usage ---------------------------------------------------------- */

START_TEST(usage_missing_estimated)
{
    open_runtime("", "        X-QF-Sim-No-Usage: \"1\"\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text(REPLY);
    /* 17 prompt bytes and 23 reply bytes, a token per 4 bytes rounded up. */
    check_usage(5, 0, 6, 1);
    check_finish("stop");
}
END_TEST

START_TEST(usage_missing_in_stream_estimated)
{
    open_runtime("", "        X-QF-Sim-No-Usage: \"1\"\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_chunks(reply_chunks, 4);
    check_usage(5, 0, 6, 1);
    check_finish("stop");
}
END_TEST

START_TEST(usage_cached_tokens)
{
    open_runtime("", "        X-QF-Sim-Cached-Tokens: \"3\"\n");
    ck_assert_int_eq(run(1), QF_OK);
    check_usage(5, 3, 4, 0);
}
END_TEST

START_TEST(usage_reported_zero_kept)
{
    open_runtime("", "        X-QF-Sim-Usage: \"0,0\"\n");
    ck_assert_int_eq(run(0), QF_OK);
    check_text(REPLY);
    check_usage(0, 0, 0, 0);
}
END_TEST

/* --- Images --------------------------------------------------------- */

START_TEST(image_generation_png)
{
    const void *bytes = NULL;
    size_t len = 0;
    const char *mime = NULL;

    open_runtime("", "");
    ck_assert_int_eq(run_role("illustrator", "a lighthouse at dusk", 0), QF_OK);
    ck_assert_uint_eq(host()->response_image_count(w.resp), 1);
    ck_assert_int_eq(host()->response_image(w.resp, 0, &bytes, &len, &mime),
                     QF_OK);
    ck_assert_str_eq(mime, "image/png");
    ck_assert_uint_gt(len, 24);
    ck_assert_int_eq(memcmp(bytes, "\x89PNG\r\n\x1a\n", 8), 0);
    /* IHDR width and height, big-endian, at bytes 16 and 20: 256 x 256. */
    ck_assert_int_eq(memcmp((const char *)bytes + 16, "\0\0\1\0\0\0\1\0", 8),
                     0);
    /* 20 prompt bytes estimated; images have no output tokens. */
    check_usage(5, 0, 0, 1);
    ck_assert_int_eq(request_count(), 1);
    check_body_has("\"prompt\":\"a lighthouse at dusk\"");
    check_body_has("\"model\":\"gpt-image-1\"");
}
END_TEST

START_TEST(image_generation_size_and_count)
{
    const void *bytes = NULL;
    size_t len = 0;
    const char *mime = NULL;

    w.image_extra = "      params:\n        n: 2\n        size: 64x64\n";
    open_runtime("", "");
    ck_assert_int_eq(run_role("illustrator", "two ships", 0), QF_OK);
    ck_assert_uint_eq(host()->response_image_count(w.resp), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(host()->response_image(w.resp, i, &bytes, &len, &mime),
                         QF_OK);
        ck_assert_str_eq(mime, "image/png");
        ck_assert_uint_gt(len, 24);
        ck_assert_int_eq(
            memcmp((const char *)bytes + 16, "\0\0\0\x40\0\0\0\x40", 8), 0);
    }
    /* No usage from the upstream: 9 prompt bytes estimated, no output tokens.
     */
    check_usage(3, 0, 0, 1);
    check_body_has("\"n\":2");
    check_body_has("\"size\":\"64x64\"");
}
END_TEST

/* --- Threads -------------------------------------------------------- */

#define THREADS          4
#define CALLS_PER_THREAD 5

/* Run CALLS_PER_THREAD requests; returns how many returned REPLY. */
static void *run_calls(void *arg)
{
    const qf_host *h = arg;
    intptr_t good = 0;

    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        qf_request *req = NULL;
        qf_response *resp = NULL;
        qf_error err;
        size_t len = 0;

        qf_error_init(&err);
        if (qf_request_create(w.rt, "plotwright", NULL, &req, &err) != QF_OK)
            continue;
        qf_request_add_message(req, "user", PROMPT, strlen(PROMPT));
        qf_request_set_stream(req, i % 2, 1);
        if (qf_runtime_run(w.rt, req, NULL, &resp, &err) == QF_OK) {
            const char *text = h->response_text(resp, &len);
            good +=
                text && len == strlen(REPLY) && memcmp(text, REPLY, len) == 0;
        }
        qf_response_free(resp);
        qf_request_free(req);
    }
    return (void *)good;
}

START_TEST(threads_share_instance)
{
    pthread_t threads[THREADS];
    intptr_t good = 0;

    open_runtime("", "");
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(
            pthread_create(&threads[i], NULL, run_calls, (void *)host()), 0);
    for (int i = 0; i < THREADS; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        good += (intptr_t)result;
    }
    ck_assert_int_eq(good, THREADS * CALLS_PER_THREAD);
    ck_assert_int_eq(request_count(), THREADS * CALLS_PER_THREAD);
}
END_TEST

/* --- Secrets -------------------------------------------------------- */

/* Run one more request on the open runtime, freeing the last response. */
static qf_status run_again(int stream)
{
    qf_response_free(w.resp);
    w.resp = NULL;
    return run(stream);
}

START_TEST(connection_reused)
{
    /* The log drops a repeated line within one second, so the calls are
     * 1.1 s apart. */
    struct timespec pause = {1, 100 * 1000 * 1000};
    int saved = qf_test_stderr_begin(w.dir, QF_LOG_DEBUG);

    open_runtime("", "");
    qf_status first = run(0);
    nanosleep(&pause, NULL);
    qf_status second = run_again(1);
    char *logged = qf_test_stderr_end(saved, w.dir);

    ck_assert_int_eq(first, QF_OK);
    ck_assert_int_eq(second, QF_OK);
    ck_assert_int_eq(request_count(), 2);
    /* The first call opens a connection and the second reuses it. */
    char *opened = strstr(logged, "HTTP 200 (No error), 1 new connections");
    ck_assert_msg(opened != NULL, "log: %s", logged);
    ck_assert_msg(strstr(opened, "HTTP 200 (No error), 0 new connections") !=
                      NULL,
                  "log: %s", logged);
    free(logged);
}
END_TEST

START_TEST(api_key_not_logged)
{
    int saved = qf_test_stderr_begin(w.dir, QF_LOG_TRACE);

    open_runtime("", "        X-QF-Sim-Fault: \"429\"\n        "
                     "X-QF-Sim-Fault-Times: \"1\"\n");
    qf_status plain = run(0);
    qf_status streamed = run_again(1);
    char *logged = qf_test_stderr_end(saved, w.dir);

    ck_assert_int_eq(plain, QF_OK);
    ck_assert_int_eq(streamed, QF_OK);
    /* The trace log ran (the retry is logged) and never shows the key. */
    ck_assert_msg(strstr(logged, "retrying in 1000 ms") != NULL, "log: %s",
                  logged);
    ck_assert_ptr_null(strstr(logged, API_KEY));
    ck_assert_ptr_null(strstr(logged, "sk-test"));
    free(logged);

    char *sim_log = qf_test_read_file(w.log_path, NULL);
    ck_assert_ptr_null(strstr(sim_log, API_KEY));
    free(sim_log);
}
END_TEST

START_TEST(base_url_credentials_rejected)
{
    char *base_url = NULL;
    qf_request *req = NULL;
    int saved;

    setenv("QF_T_OPENAI_URL_KEY", "sk-url-5d1e", 1);
    ck_assert_int_ne(asprintf(&base_url,
                              "http://user:${QF_T_OPENAI_URL_KEY}@%s/v1",
                              w.sim.base_url + strlen("http://")),
                     -1);
    saved = qf_test_stderr_begin(w.dir, QF_LOG_TRACE);
    open_runtime_at(base_url, "", "");
    /* The provider instance is created, and rejected, by the first call. */
    ck_assert_int_eq(qf_request_create(w.rt, "plotwright", NULL, &req, &w.err),
                     QF_OK);
    qf_request_add_message(req, "user", "hi", 2);
    qf_status status = qf_runtime_run(w.rt, req, NULL, &w.resp, &w.err);
    char *logged = qf_test_stderr_end(saved, w.dir);

    free(base_url);
    qf_request_free(req);
    ck_assert_int_eq(status, QF_ERR_CONFIG);
    ck_assert_int_eq(w.err.status, QF_ERR_CONFIG);
    ck_assert_msg(strstr(w.err.message,
                         "openai: base_url contains credentials; remove them "
                         "and use api_key or the headers setting") != NULL,
                  "message: %s", w.err.message);
    ck_assert_ptr_null(strstr(w.err.message, "sk-url-5d1e"));
    ck_assert_ptr_null(strstr(logged, "sk-url-5d1e"));
    ck_assert_int_eq(request_count(), 0);
    free(logged);
}
END_TEST

START_TEST(header_values_not_logged)
{
    int saved = qf_test_stderr_begin(w.dir, QF_LOG_TRACE);

    open_runtime("", "        X-Custom: hdr-secret-6b2c\n"
                     "        X-QF-Sim-Fault: \"503\"\n"
                     "        X-QF-Sim-Fault-Times: \"1\"\n");
    qf_status plain = run(0);
    qf_status streamed = run_again(1);
    char *logged = qf_test_stderr_end(saved, w.dir);

    ck_assert_int_eq(plain, QF_OK);
    ck_assert_int_eq(streamed, QF_OK);
    /* The debug and trace lines ran: the POST line and the retry. */
    ck_assert_msg(strstr(logged, "POST http://127.0.0.1:") != NULL, "log: %s",
                  logged);
    ck_assert_msg(strstr(logged, "retrying in") != NULL, "log: %s", logged);
    ck_assert_ptr_null(strstr(logged, "hdr-secret-6b2c"));
    ck_assert_ptr_null(strstr(logged, "X-Custom"));
    free(logged);
}
END_TEST

START_TEST(wrong_api_key_rejected)
{
    qf_test_sim_stop(&w.sim);
    qf_test_rmtree(w.dir);
    free(w.dir);
    free(w.log_path);
    start_sim("sk-test-another-key");

    open_runtime("", "");
    ck_assert_int_eq(run(0), QF_ERR_UPSTREAM);
    ck_assert_int_eq(w.err.http_status, 401);
    ck_assert_int_eq(request_count(), 1);
}
END_TEST

static Suite *openai_suite(void)
{
    Suite *s = suite_create("openai");
    TCase *chat = tcase_create("chat");
    TCase *retry = tcase_create("retry");
    TCase *errors = tcase_create("errors");
    TCase *other = tcase_create("usage_image_secrets");
    TCase *all[] = {chat, retry, errors, other};

    for (size_t i = 0; i < 4; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 30);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(chat, chat_plain);
    tcase_add_test(chat, chat_stream);
    tcase_add_test(chat, stream_tiny_pieces);
    tcase_add_test(chat, stream_batched_events);
    tcase_add_test(chat, stream_cut);
    tcase_add_test(chat, stream_error_mid_stream);
    tcase_add_test(chat, stream_malformed);
    tcase_add_test(chat, max_tokens_truncates);
    tcase_add_test(chat, max_tokens_renamed_for_o1);
    tcase_add_test(chat, params_and_options_sent);
    tcase_add_test(chat, unknown_option_rejected);
    tcase_add_test(retry, retry_429_seconds);
    tcase_add_test(retry, retry_429_date);
    tcase_add_test(retry, retry_429_ms);
    tcase_add_test(retry, retry_503_then_success);
    tcase_add_test(retry, retry_500_exhausted);
    tcase_add_test(retry, retry_after_beyond_cap);
    tcase_add_test(retry, retry_connection_refused);
    tcase_add_test(retry, no_retry_400);
    tcase_add_test(retry, no_retry_401);
    tcase_add_test(retry, no_retry_404);
    tcase_add_test(retry, timeout_is_not_retried);
    tcase_add_test(errors, error_body_string);
    tcase_add_test(errors, error_body_html);
    tcase_add_test(errors, error_body_ollama_shape);
    tcase_add_test(errors, body_cut_reported_as_cut);
    tcase_add_test(errors, malformed_body);
    tcase_add_test(errors, response_too_large);
    tcase_add_test(other, usage_missing_estimated);
    tcase_add_test(other, usage_missing_in_stream_estimated);
    tcase_add_test(other, usage_cached_tokens);
    tcase_add_test(other, usage_reported_zero_kept);
    tcase_add_test(other, image_generation_png);
    tcase_add_test(other, image_generation_size_and_count);
    tcase_add_test(other, threads_share_instance);
    tcase_add_test(other, connection_reused);
    tcase_add_test(other, api_key_not_logged);
    tcase_add_test(other, base_url_credentials_rejected);
    tcase_add_test(other, header_values_not_logged);
    tcase_add_test(other, wrong_api_key_rejected);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(openai_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

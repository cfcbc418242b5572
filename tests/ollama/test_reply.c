/*
 * test_reply.c - unit tests of the ollama plugin's reply reader with a fake
 * host: frame sequences qf-sim cannot produce (a load frame before the
 * reply text, frames after the final one, other done reasons) go through the
 * NDJSON reader into ollama_reply_frame and ollama_reply_finish.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ollama.h"

/* The fake host's handles: the SDK leaves their layout to the host. */
struct qf_error {
    qf_status status;
    char message[512];
};

struct qf_response {
    char text[512];
    size_t text_len;
    char finish_reason[64];
    char model[64];
    qf_usage usage;
    int writes;
};

static qf_status fake_error_set(qf_error *err, qf_status status,
                                const char *fmt, ...) QF_PRINTF(3, 4);

static qf_status fake_error_set(qf_error *err, qf_status status,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->status = status;
    return status;
}

static qf_status fake_stream_write(qf_response *resp, const char *text,
                                   size_t len)
{
    ck_assert_uint_lt(resp->text_len + len, sizeof(resp->text));
    memcpy(resp->text + resp->text_len, text, len);
    resp->text_len += len;
    resp->text[resp->text_len] = '\0';
    resp->writes++;
    return QF_OK;
}

static qf_status fake_set_text(qf_response *resp, const char *text, size_t len)
{
    resp->text_len = 0;
    return fake_stream_write(resp, text, len);
}

static qf_status fake_set_finish_reason(qf_response *resp, const char *reason)
{
    snprintf(resp->finish_reason, sizeof(resp->finish_reason), "%s", reason);
    return QF_OK;
}

static qf_status fake_set_model(qf_response *resp, const char *model)
{
    snprintf(resp->model, sizeof(resp->model), "%s", model);
    return QF_OK;
}

static void fake_set_usage(qf_response *resp, const qf_usage *usage)
{
    resp->usage = *usage;
}

static const char *fake_request_model(const qf_request *req)
{
    return "llama3.2";
}

/* One user message of 10 bytes: an estimate gives 3 prompt tokens. */
static size_t fake_message_count(const qf_request *req)
{
    return 1;
}

static qf_status fake_message(const qf_request *req, size_t index,
                              const char **role, const char **content,
                              size_t *len)
{
    *role = "user";
    *content = "0123456789";
    *len = 10;
    return QF_OK;
}

static qf_host host;
static ollama inst;
static qf_response resp;
static qf_error err;
static ollama_call call;

static void setup(void)
{
    memset(&host, 0, sizeof(host));
    host.size = sizeof(host);
    host.error_set = fake_error_set;
    host.stream_write = fake_stream_write;
    host.response_set_text = fake_set_text;
    host.response_set_finish_reason = fake_set_finish_reason;
    host.response_set_model = fake_set_model;
    host.response_set_usage = fake_set_usage;
    host.request_model = fake_request_model;
    host.request_message_count = fake_message_count;
    host.request_message = fake_message;

    memset(&inst, 0, sizeof(inst));
    inst.host = &host;
    inst.max_response_bytes = 65536;
    memset(&resp, 0, sizeof(resp));
    memset(&err, 0, sizeof(err));
    memset(&call, 0, sizeof(call));
    call.inst = &inst;
    call.resp = &resp;
    call.err = &err;
    call.stream = 1;
    qf_ndjson_init(&call.reader, 0, ollama_reply_frame, &call);
    ollama_reply_reset(&call);
}

static void teardown(void)
{
    ollama_reply_free(&call);
}

/* Feed `text` as one stream and finish the reply. */
static qf_status read_stream(const char *text)
{
    qf_status status = qf_ndjson_feed(&call.reader, text, strlen(text));

    if (status == QF_OK)
        status = qf_ndjson_finish(&call.reader);
    if (status == QF_OK)
        status = ollama_reply_finish(&call);
    return status;
}

#define LOAD                                                                   \
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":" \
    "\"\"},\"done_reason\":\"load\",\"done\":true}\n"
#define UNLOAD                                                                 \
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":" \
    "\"\"},\"done_reason\":\"unload\",\"done\":true}\n"
#define DELTA(t)                                                               \
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":" \
    "\"" t "\"},\"done\":false}\n"
#define FINAL(reason)                                                          \
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":" \
    "\"\"},\"done\":true,\"done_reason\":\"" reason                            \
    "\",\"prompt_eval_count\":9,\"eval_count\":2}\n"

START_TEST(load_frame_skipped)
{
    ck_assert_int_eq(
        read_stream(LOAD DELTA("Hi ") DELTA("there") FINAL("stop")), QF_OK);
    ck_assert_str_eq(resp.text, "Hi there");
    ck_assert_int_eq(resp.writes, 2);
    ck_assert_str_eq(resp.finish_reason, "stop");
    ck_assert_str_eq(resp.model, "llama3.2");
    ck_assert_int_eq(resp.usage.prompt_tokens, 9);
    ck_assert_int_eq(resp.usage.completion_tokens, 2);
    ck_assert_int_eq(resp.usage.estimated, 0);
    ck_assert_int_eq(call.load_frames, 1);
}
END_TEST

START_TEST(only_load_and_unload_frames)
{
    ck_assert_int_eq(read_stream(LOAD UNLOAD), QF_ERR_PROTOCOL);
    ck_assert_str_eq(err.message,
                     "ollama returned no answer (only a load frame); check "
                     "that the request has messages");
    ck_assert_int_eq(resp.writes, 0);
}
END_TEST

START_TEST(frames_after_final_ignored)
{
    ck_assert_int_eq(read_stream(DELTA("A") FINAL("length") DELTA("B") UNLOAD),
                     QF_OK);
    ck_assert_str_eq(resp.text, "A");
    ck_assert_str_eq(resp.finish_reason, "length");
}
END_TEST

START_TEST(other_done_reason_kept)
{
    ck_assert_int_eq(read_stream(DELTA("A") FINAL("tool_calls")), QF_OK);
    ck_assert_str_eq(resp.finish_reason, "tool_calls");
}
END_TEST

START_TEST(missing_done_reason_is_stop)
{
    ck_assert_int_eq(
        read_stream(DELTA(
            "A") "{\"done\":true,\"eval_count\":1,\"prompt_eval_count\":1}"),
        QF_OK);
    ck_assert_str_eq(resp.finish_reason, "stop");
}
END_TEST

START_TEST(no_final_frame_is_cut)
{
    ck_assert_int_eq(read_stream(LOAD DELTA("Hi ") DELTA("there")),
                     QF_ERR_STREAM_CUT);
    ck_assert_str_eq(err.message,
                     "ollama: upstream stream was cut before its end");
    ck_assert_str_eq(resp.text, "Hi there");
}
END_TEST

START_TEST(missing_counts_estimated)
{
    ck_assert_int_eq(read_stream(DELTA(
                         "12345") "{\"done\":true,\"done_reason\":\"stop\"}\n"),
                     QF_OK);
    ck_assert_int_eq(resp.usage.prompt_tokens, 3);     /* ceil(10 / 4) */
    ck_assert_int_eq(resp.usage.completion_tokens, 2); /* ceil(5 / 4) */
    ck_assert_int_eq(resp.usage.estimated, 1);
}
END_TEST

START_TEST(only_eval_count_missing)
{
    ck_assert_int_eq(
        read_stream(DELTA("1234") "{\"done\":true,\"prompt_eval_count\":8}\n"),
        QF_OK);
    ck_assert_int_eq(resp.usage.prompt_tokens, 8);
    ck_assert_int_eq(resp.usage.completion_tokens, 1);
    ck_assert_int_eq(resp.usage.estimated, 1);
}
END_TEST

START_TEST(non_stream_body)
{
    static const char body[] = "{\"model\":\"llama3.2\",\"message\":{\"role\":"
                               "\"assistant\",\"content\":\"Whole answer\"},"
                               "\"done\":true,\"done_reason\":\"stop\","
                               "\"prompt_eval_count\":4,\"eval_count\":2}";

    call.stream = 0;
    call.data = strdup(body);
    call.data_len = strlen(body);
    ck_assert_int_eq(ollama_reply_parse_body(&call), QF_OK);
    ck_assert_int_eq(ollama_reply_finish(&call), QF_OK);
    ck_assert_str_eq(resp.text, "Whole answer");
    ck_assert_int_eq(resp.writes, 1);
    ck_assert_int_eq(resp.usage.prompt_tokens, 4);
}
END_TEST

START_TEST(non_stream_body_not_json)
{
    call.stream = 0;
    call.url = "http://127.0.0.1:1/api/chat";
    call.data = strdup("<html>proxy</html>");
    call.data_len = 18;
    ck_assert_int_eq(ollama_reply_parse_body(&call), QF_ERR_PROTOCOL);
    ck_assert_str_eq(
        err.message,
        "ollama: the reply from http://127.0.0.1:1/api/chat is not a JSON "
        "object (18 bytes); check that base_url points at Ollama");
}
END_TEST

static Suite *reply_suite(void)
{
    Suite *s = suite_create("ollama_reply");
    TCase *tc = tcase_create("frames");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, load_frame_skipped);
    tcase_add_test(tc, only_load_and_unload_frames);
    tcase_add_test(tc, frames_after_final_ignored);
    tcase_add_test(tc, other_done_reason_kept);
    tcase_add_test(tc, missing_done_reason_is_stop);
    tcase_add_test(tc, no_final_frame_is_cut);
    tcase_add_test(tc, missing_counts_estimated);
    tcase_add_test(tc, only_eval_count_missing);
    tcase_add_test(tc, non_stream_body);
    tcase_add_test(tc, non_stream_body_not_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(reply_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_openai_sse.c - unit tests of the openai plugin's server-sent events
 * parser, without a runtime or a server: line ends, field forms, comments,
 * multi-line data, limits, and every split of a stream into chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "sse.h"

#define MAX_EVENTS 16

/* Events seen by the recording callback, each as "event|id|data". */
typedef struct recorder {
    char events[MAX_EVENTS][256];
    int count;
    int fail_at; /* 1-based event number that returns QF_ERR_REFUSED, or 0 */
} recorder;

static qf_status record(void *user, const qf_sse_event *event)
{
    recorder *r = user;

    ck_assert_uint_eq(strlen(event->data), event->data_len);
    ck_assert_int_lt(r->count, MAX_EVENTS);
    snprintf(r->events[r->count], sizeof(r->events[0]), "%s|%s|%s",
             event->event, event->id, event->data);
    r->count++;
    return r->count == r->fail_at ? QF_ERR_REFUSED : QF_OK;
}

/* Parse `text` in one chunk and finish; returns the feed status. */
static qf_status parse_whole(const char *text, recorder *r)
{
    qf_sse_parser *parser = qf_sse_parser_create(1024);
    qf_status status;

    ck_assert_ptr_nonnull(parser);
    memset(r, 0, sizeof(*r));
    status = qf_sse_parser_feed(parser, text, strlen(text), record, r);
    if (status == QF_OK)
        status = qf_sse_parser_finish(parser, record, r);
    qf_sse_parser_destroy(parser);
    return status;
}

START_TEST(sse_data_with_space)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data: {\"a\":1}\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||{\"a\":1}");
}
END_TEST

START_TEST(sse_data_without_space)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data:x\n\ndata:  y\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 2);
    ck_assert_str_eq(r.events[0], "message||x");
    ck_assert_str_eq(r.events[1], "message|| y");
}
END_TEST

START_TEST(sse_crlf_and_cr_line_ends)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data: a\r\n\r\ndata: b\r\rdata: c\n\n", &r),
                     QF_OK);
    ck_assert_int_eq(r.count, 3);
    ck_assert_str_eq(r.events[0], "message||a");
    ck_assert_str_eq(r.events[1], "message||b");
    ck_assert_str_eq(r.events[2], "message||c");
}
END_TEST

START_TEST(sse_multiline_data_joined)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data: a\ndata: b\ndata:\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||a\nb\n");
}
END_TEST

START_TEST(sse_comments_ignored)
{
    recorder r;
    ck_assert_int_eq(
        parse_whole(": keep-alive\n\n:\ndata: x\n: inside\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||x");
}
END_TEST

START_TEST(sse_event_and_id_fields)
{
    recorder r;
    ck_assert_int_eq(parse_whole("event: error\nid: 7\nretry: 10\ndata: x\n\n"
                                 "data: y\n\n",
                                 &r),
                     QF_OK);
    ck_assert_int_eq(r.count, 2);
    ck_assert_str_eq(r.events[0], "error|7|x");
    /* The event type resets per event; the id stays for the stream. */
    ck_assert_str_eq(r.events[1], "message|7|y");
}
END_TEST

START_TEST(sse_event_without_data_dropped)
{
    recorder r;
    ck_assert_int_eq(parse_whole("event: ping\n\nunknown: 1\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 0);
}
END_TEST

START_TEST(sse_field_without_colon)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||");
}
END_TEST

START_TEST(sse_done_is_plain_data)
{
    recorder r;
    ck_assert_int_eq(
        parse_whole("data: {\"choices\":[]}\n\ndata: [DONE]\n\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 2);
    ck_assert_str_eq(r.events[0], "message||{\"choices\":[]}");
    ck_assert_str_eq(r.events[1], "message||[DONE]");
}
END_TEST

START_TEST(sse_bom_skipped)
{
    recorder r;
    ck_assert_int_eq(parse_whole("\xEF\xBB\xBF"
                                 "data: x\n\n",
                                 &r),
                     QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||x");
}
END_TEST

START_TEST(sse_finish_drops_partial_line)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data: a\n\ndata: {\"cut", &r), QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||a");
}
END_TEST

START_TEST(sse_finish_dispatches_complete_lines)
{
    recorder r;
    ck_assert_int_eq(parse_whole("data: [DONE]\n", &r), QF_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_str_eq(r.events[0], "message||[DONE]");
}
END_TEST

START_TEST(sse_line_too_large)
{
    qf_sse_parser *parser = qf_sse_parser_create(16);
    recorder r;
    memset(&r, 0, sizeof(r));

    const char *text = "data: 0123456789abcdef\n\n";
    ck_assert_int_eq(qf_sse_parser_feed(parser, text, strlen(text), record, &r),
                     QF_ERR_TOO_LARGE);
    ck_assert_int_eq(r.count, 0);
    /* The failure is sticky. */
    ck_assert_int_eq(qf_sse_parser_feed(parser, "data: x\n\n", 9, record, &r),
                     QF_ERR_TOO_LARGE);
    ck_assert_int_eq(r.count, 0);
    qf_sse_parser_destroy(parser);
}
END_TEST

START_TEST(sse_event_too_large)
{
    qf_sse_parser *parser = qf_sse_parser_create(16);
    recorder r;
    memset(&r, 0, sizeof(r));

    /* Each line fits; the joined data does not. */
    const char *text = "data: 0123456\ndata: 0123456\ndata: 0123456\n\n";
    ck_assert_int_eq(qf_sse_parser_feed(parser, text, strlen(text), record, &r),
                     QF_ERR_TOO_LARGE);
    ck_assert_int_eq(r.count, 0);
    qf_sse_parser_destroy(parser);
}
END_TEST

START_TEST(sse_callback_status_stops)
{
    qf_sse_parser *parser = qf_sse_parser_create(1024);
    recorder r;
    memset(&r, 0, sizeof(r));
    r.fail_at = 1;

    const char *text = "data: a\n\ndata: b\n\n";
    ck_assert_int_eq(qf_sse_parser_feed(parser, text, strlen(text), record, &r),
                     QF_ERR_REFUSED);
    ck_assert_int_eq(r.count, 1);
    ck_assert_int_eq(qf_sse_parser_finish(parser, record, &r), QF_ERR_REFUSED);
    ck_assert_int_eq(r.count, 1);

    qf_sse_parser_reset(parser);
    r.fail_at = 0;
    ck_assert_int_eq(qf_sse_parser_feed(parser, "data: c\n\n", 9, record, &r),
                     QF_OK);
    ck_assert_int_eq(r.count, 2);
    ck_assert_str_eq(r.events[1], "message||c");
    qf_sse_parser_destroy(parser);
}
END_TEST

/* A stream like OpenAI's, with CR LF line ends, a comment, an event line,
 * multi-byte UTF-8 text and empty-choices chunks at both ends. */
static const char reference_stream[] =
    ": comment\r\n"
    "data: {\"choices\":[]}\r\n\r\n"
    "data:{\"choices\":[{\"delta\":{\"content\":\"Gr\xC3\xBC\xC3\x9F\"}}]}"
    "\r\n\r\n"
    "event: message\r\nid: 42\r\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\" "
    "\xE2\x82\xAC\xF0\x9F\x98\x80\"}}]}\r\n\r\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\r\n\r\n"
    "data: [DONE]\r\n\r\n";

static void expect_reference(const recorder *r)
{
    ck_assert_int_eq(r->count, 5);
    ck_assert_str_eq(r->events[0], "message||{\"choices\":[]}");
    ck_assert_str_eq(r->events[1], "message||{\"choices\":[{\"delta\":{"
                                   "\"content\":\"Gr\xC3\xBC\xC3\x9F\"}}]}");
    ck_assert_str_eq(r->events[2],
                     "message|42|{\"choices\":[{\"delta\":{\"content\":"
                     "\" \xE2\x82\xAC\xF0\x9F\x98\x80\"}}]}");
    ck_assert_str_eq(
        r->events[3],
        "message|42|{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}");
    ck_assert_str_eq(r->events[4], "message|42|[DONE]");
}

START_TEST(sse_byte_by_byte)
{
    qf_sse_parser *parser = qf_sse_parser_create(1024);
    size_t len = sizeof(reference_stream) - 1;
    recorder r;
    memset(&r, 0, sizeof(r));

    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(
            qf_sse_parser_feed(parser, reference_stream + i, 1, record, &r),
            QF_OK);
    ck_assert_int_eq(qf_sse_parser_finish(parser, record, &r), QF_OK);
    expect_reference(&r);
    qf_sse_parser_destroy(parser);
}
END_TEST

START_TEST(sse_every_two_way_split)
{
    size_t len = sizeof(reference_stream) - 1;

    for (size_t cut = 0; cut <= len; cut++) {
        qf_sse_parser *parser = qf_sse_parser_create(1024);
        recorder r;
        memset(&r, 0, sizeof(r));

        ck_assert_int_eq(
            qf_sse_parser_feed(parser, reference_stream, cut, record, &r),
            QF_OK);
        ck_assert_int_eq(qf_sse_parser_feed(parser, reference_stream + cut,
                                            len - cut, record, &r),
                         QF_OK);
        ck_assert_int_eq(qf_sse_parser_finish(parser, record, &r), QF_OK);
        expect_reference(&r);
        qf_sse_parser_destroy(parser);
    }
}
END_TEST

START_TEST(sse_batched_in_one_chunk)
{
    recorder r;
    ck_assert_int_eq(parse_whole(reference_stream, &r), QF_OK);
    expect_reference(&r);
}
END_TEST

static Suite *sse_suite(void)
{
    Suite *s = suite_create("openai_sse");
    TCase *tc = tcase_create("parser");

    tcase_add_test(tc, sse_data_with_space);
    tcase_add_test(tc, sse_data_without_space);
    tcase_add_test(tc, sse_crlf_and_cr_line_ends);
    tcase_add_test(tc, sse_multiline_data_joined);
    tcase_add_test(tc, sse_comments_ignored);
    tcase_add_test(tc, sse_event_and_id_fields);
    tcase_add_test(tc, sse_event_without_data_dropped);
    tcase_add_test(tc, sse_field_without_colon);
    tcase_add_test(tc, sse_done_is_plain_data);
    tcase_add_test(tc, sse_bom_skipped);
    tcase_add_test(tc, sse_finish_drops_partial_line);
    tcase_add_test(tc, sse_finish_dispatches_complete_lines);
    tcase_add_test(tc, sse_line_too_large);
    tcase_add_test(tc, sse_event_too_large);
    tcase_add_test(tc, sse_callback_status_stops);
    tcase_add_test(tc, sse_byte_by_byte);
    tcase_add_test(tc, sse_every_two_way_split);
    tcase_add_test(tc, sse_batched_in_one_chunk);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(sse_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

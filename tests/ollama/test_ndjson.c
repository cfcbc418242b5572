/*
 * test_ndjson.c - unit tests of the ollama plugin's NDJSON reader: frames
 * must come out the same whatever the read boundaries, and blank lines,
 * a last line without '\n', error lines, bad lines and long lines must be
 * handled as documented in plugins/ollama/ndjson.h.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ndjson.h"

#define MAX_FRAMES 32

/* Frames seen by the callback, printed back as compact JSON. */
typedef struct recorder {
    char *frames[MAX_FRAMES];
    size_t count;
    size_t fail_at; /* stop with QF_ERR_CANCELLED at this frame, 0 = never */
} recorder;

static qf_status record(void *user, const cJSON *frame)
{
    recorder *rec = user;

    if (rec->fail_at > 0 && rec->count + 1 == rec->fail_at)
        return QF_ERR_CANCELLED;
    ck_assert_uint_lt(rec->count, MAX_FRAMES);
    rec->frames[rec->count++] = cJSON_PrintUnformatted(frame);
    return QF_OK;
}

static void recorder_clear(recorder *rec)
{
    size_t i;

    for (i = 0; i < rec->count; i++)
        cJSON_free(rec->frames[i]);
    memset(rec, 0, sizeof(*rec));
}

static const char sample[] =
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"Echo: \"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"h\\u00e9llo \xc3\xa9t\xc3\xa9\"},\"done\":false}\n"
    "\n"
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":3,"
    "\"eval_count\":2}\r\n";

static const char *const sample_frames[] = {
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"Echo: \"},\"done\":false}",
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"h\xc3\xa9llo \xc3\xa9t\xc3\xa9\"},\"done\":false}",
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":"
    "\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":3,"
    "\"eval_count\":2}",
};

static void check_sample_frames(const recorder *rec)
{
    size_t i;

    ck_assert_uint_eq(rec->count, 3);
    for (i = 0; i < 3; i++)
        ck_assert_str_eq(rec->frames[i], sample_frames[i]);
}

/* Feed `text` in pieces cut at `cuts` (sorted offsets). */
static qf_status feed_pieces(qf_ndjson *reader, const char *text, size_t len,
                             const size_t *cuts, size_t ncuts)
{
    size_t start = 0, i;
    qf_status status;

    for (i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        status = qf_ndjson_feed(reader, text + start, end - start);
        if (status != QF_OK)
            return status;
        start = end;
    }
    return qf_ndjson_finish(reader);
}

START_TEST(ndjson_whole_sample)
{
    recorder rec = {0};
    qf_ndjson reader;

    qf_ndjson_init(&reader, 4096, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, sample, strlen(sample)), QF_OK);
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_OK);
    check_sample_frames(&rec);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_every_single_split)
{
    size_t len = strlen(sample), cut;

    for (cut = 0; cut <= len; cut++) {
        recorder rec = {0};
        qf_ndjson reader;

        qf_ndjson_init(&reader, 4096, record, &rec);
        ck_assert_int_eq(feed_pieces(&reader, sample, len, &cut, 1), QF_OK);
        check_sample_frames(&rec);
        qf_ndjson_deinit(&reader);
        recorder_clear(&rec);
    }
}
END_TEST

START_TEST(ndjson_every_double_split)
{
    size_t len = strlen(sample), cuts[2];

    for (cuts[0] = 0; cuts[0] <= len; cuts[0]++) {
        for (cuts[1] = cuts[0]; cuts[1] <= len; cuts[1]++) {
            recorder rec = {0};
            qf_ndjson reader;

            qf_ndjson_init(&reader, 4096, record, &rec);
            ck_assert_int_eq(feed_pieces(&reader, sample, len, cuts, 2), QF_OK);
            check_sample_frames(&rec);
            qf_ndjson_deinit(&reader);
            recorder_clear(&rec);
        }
    }
}
END_TEST

START_TEST(ndjson_byte_by_byte)
{
    recorder rec = {0};
    qf_ndjson reader;
    size_t i, len = strlen(sample);

    qf_ndjson_init(&reader, 4096, record, &rec);
    for (i = 0; i < len; i++)
        ck_assert_int_eq(qf_ndjson_feed(&reader, sample + i, 1), QF_OK);
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_OK);
    check_sample_frames(&rec);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_last_line_without_newline)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "{\"a\":1}\n{\"b\":2}";

    qf_ndjson_init(&reader, 4096, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, strlen(text)), QF_OK);
    ck_assert_uint_eq(rec.count, 1);
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_OK);
    ck_assert_uint_eq(rec.count, 2);
    ck_assert_str_eq(rec.frames[0], "{\"a\":1}");
    ck_assert_str_eq(rec.frames[1], "{\"b\":2}");
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_blank_lines_skipped)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "\n\r\n  \t\n{\"a\":1}\n\n\n   ";

    qf_ndjson_init(&reader, 4096, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, strlen(text)), QF_OK);
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_OK);
    ck_assert_uint_eq(rec.count, 1);
    ck_assert_str_eq(rec.frames[0], "{\"a\":1}");
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_error_line_stops)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] =
        "{\"a\":1}\n{\"error\":\"model ran out of memory\"}\n{\"b\":2}\n";

    qf_ndjson_init(&reader, 4096, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, strlen(text)),
                     QF_ERR_UPSTREAM);
    ck_assert_str_eq(qf_ndjson_message(&reader), "model ran out of memory");
    ck_assert_uint_eq(rec.count, 1);
    ck_assert_int_eq(qf_ndjson_feed(&reader, "{\"c\":3}\n", 8),
                     QF_ERR_UPSTREAM);
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_ERR_UPSTREAM);
    ck_assert_uint_eq(rec.count, 1);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_error_object_message)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "{\"error\":{\"message\":\"busy\",\"code\":7}}";

    qf_ndjson_init(&reader, 4096, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, strlen(text)), QF_OK);
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_ERR_UPSTREAM);
    ck_assert_str_eq(qf_ndjson_message(&reader), "busy");
    ck_assert_uint_eq(rec.count, 0);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_invalid_lines)
{
    static const char *const bad[] = {
        "{\"a\":\n", "[1,2]\n", "{\"a\":1} trailing\n", "\"text\"\n", "nul\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        recorder rec = {0};
        qf_ndjson reader;

        qf_ndjson_init(&reader, 4096, record, &rec);
        ck_assert_int_eq(qf_ndjson_feed(&reader, "{\"ok\":1}\n", 9), QF_OK);
        ck_assert_int_eq(qf_ndjson_feed(&reader, bad[i], strlen(bad[i])),
                         QF_ERR_PROTOCOL);
        ck_assert_str_eq(qf_ndjson_message(&reader),
                         "line 2 of the stream is not a JSON object");
        ck_assert_uint_eq(rec.count, 1);
        qf_ndjson_deinit(&reader);
        recorder_clear(&rec);
    }
}
END_TEST

START_TEST(ndjson_long_line_whole)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "{\"a\":1}\n{\"long\":\"0123456789\"}\n";

    qf_ndjson_init(&reader, 16, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, strlen(text)),
                     QF_ERR_TOO_LARGE);
    ck_assert_str_eq(qf_ndjson_message(&reader),
                     "line 2 of the stream is longer than 16 bytes");
    ck_assert_uint_eq(rec.count, 1);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_long_line_split)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "{\"long\":\"0123456789\"}";
    size_t i;
    qf_status status = QF_OK;

    qf_ndjson_init(&reader, 16, record, &rec);
    for (i = 0; i < strlen(text) && status == QF_OK; i++)
        status = qf_ndjson_feed(&reader, text + i, 1);
    ck_assert_int_eq(status, QF_ERR_TOO_LARGE);
    ck_assert_uint_eq(i, 17); /* failed on the 17th byte */
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_ERR_TOO_LARGE);
    ck_assert_uint_eq(rec.count, 0);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_line_at_limit_accepted)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "{\"k\":\"abcdefgh\"}\n"; /* 16 bytes before '\n' */

    qf_ndjson_init(&reader, 16, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, 5), QF_OK);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text + 5, strlen(text) - 5),
                     QF_OK);
    ck_assert_uint_eq(rec.count, 1);
    ck_assert_str_eq(rec.frames[0], "{\"k\":\"abcdefgh\"}");
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

START_TEST(ndjson_callback_failure_sticks)
{
    recorder rec = {0};
    qf_ndjson reader;
    const char text[] = "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n";

    rec.fail_at = 2;
    qf_ndjson_init(&reader, 4096, record, &rec);
    ck_assert_int_eq(qf_ndjson_feed(&reader, text, strlen(text)),
                     QF_ERR_CANCELLED);
    ck_assert_uint_eq(rec.count, 1);
    ck_assert_str_eq(qf_ndjson_message(&reader), "");
    ck_assert_int_eq(qf_ndjson_finish(&reader), QF_ERR_CANCELLED);
    qf_ndjson_deinit(&reader);
    recorder_clear(&rec);
}
END_TEST

static Suite *ndjson_suite(void)
{
    Suite *s = suite_create("ollama_ndjson");
    TCase *tc = tcase_create("reader");

    tcase_add_test(tc, ndjson_whole_sample);
    tcase_add_test(tc, ndjson_every_single_split);
    tcase_add_test(tc, ndjson_every_double_split);
    tcase_add_test(tc, ndjson_byte_by_byte);
    tcase_add_test(tc, ndjson_last_line_without_newline);
    tcase_add_test(tc, ndjson_blank_lines_skipped);
    tcase_add_test(tc, ndjson_error_line_stops);
    tcase_add_test(tc, ndjson_error_object_message);
    tcase_add_test(tc, ndjson_invalid_lines);
    tcase_add_test(tc, ndjson_long_line_whole);
    tcase_add_test(tc, ndjson_long_line_split);
    tcase_add_test(tc, ndjson_line_at_limit_accepted);
    tcase_add_test(tc, ndjson_callback_failure_sticks);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(ndjson_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

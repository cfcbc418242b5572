/*
 * test_cache_entry.c - the pure readers of cached bytes: the file_cache
 * entry format (header, checksum, key) and the cache middleware's record
 * format (JSON plus image bytes), fed valid, truncated and altered input.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "testutil.h"

#include "../../plugins/cache/cache_record.h"
#include "../../plugins/file_cache/fc_entry.h"

static const char key_a[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char key_b[] =
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

/* A written entry of `value`; caller frees. */
static uint8_t *make_entry(const char *value, size_t *size)
{
    size_t len = strlen(value);
    uint8_t *buf = malloc(qf_fc_entry_size(len));

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(
        qf_fc_entry_write(buf, key_a, 1000, 61000, value, len, sha256), QF_OK);
    *size = qf_fc_entry_size(len);
    return buf;
}

START_TEST(entry_round_trip)
{
    size_t size;
    uint8_t *buf = make_entry("hello", &size);
    qf_fc_entry e;
    const char *reason = NULL;

    ck_assert_uint_eq(size, 133);
    ck_assert_int_eq(qf_fc_entry_parse(buf, size, key_a, sha256, &e, &reason),
                     QF_OK);
    ck_assert_uint_eq(e.version, 1);
    ck_assert_int_eq(e.created_ms, 1000);
    ck_assert_int_eq(e.expires_ms, 61000);
    ck_assert_str_eq(e.key, key_a);
    ck_assert_uint_eq(e.value_len, 5);
    ck_assert_mem_eq(e.value, "hello", 5);
    free(buf);
}
END_TEST

START_TEST(entry_empty_value)
{
    uint8_t buf[QF_FC_HEADER_SIZE];
    qf_fc_entry e;

    ck_assert_int_eq(qf_fc_entry_write(buf, key_b, 5, 0, NULL, 0, sha256),
                     QF_OK);
    ck_assert_int_eq(
        qf_fc_entry_parse(buf, sizeof(buf), NULL, sha256, &e, NULL), QF_OK);
    ck_assert_uint_eq(e.value_len, 0);
    ck_assert_int_eq(e.expires_ms, 0);
    ck_assert_str_eq(e.key, key_b);
}
END_TEST

START_TEST(entry_rejects_bad_key)
{
    uint8_t buf[QF_FC_HEADER_SIZE];

    ck_assert_int_eq(qf_fc_entry_write(buf, "abc", 0, 0, NULL, 0, sha256),
                     QF_ERR_INVALID);
    ck_assert_int_eq(qf_fc_entry_write(buf,
                                       "0123456789ABCDEF0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef",
                                       0, 0, NULL, 0, sha256),
                     QF_ERR_INVALID);
}
END_TEST

/* Parse `buf` and expect QF_ERR_PROTOCOL with `expected` as the reason. */
static void expect_corrupt(const uint8_t *buf, size_t len, const char *key,
                           const char *expected)
{
    qf_fc_entry e;
    const char *reason = NULL;

    ck_assert_int_eq(qf_fc_entry_parse(buf, len, key, sha256, &e, &reason),
                     QF_ERR_PROTOCOL);
    ck_assert_str_eq(reason, expected);
}

START_TEST(entry_truncated)
{
    size_t size;
    uint8_t *buf = make_entry("hello world", &size);

    expect_corrupt(buf, size - 1, key_a, "truncated value");
    expect_corrupt(buf, QF_FC_HEADER_SIZE - 1, key_a, "truncated header");
    expect_corrupt(buf, 0, key_a, "truncated header");
    free(buf);
}
END_TEST

START_TEST(entry_flipped_bytes)
{
    size_t size;
    uint8_t *buf = make_entry("hello world", &size);

    buf[size - 1] ^= 0x01; /* value */
    expect_corrupt(buf, size, key_a, "checksum mismatch");
    buf[size - 1] ^= 0x01;
    buf[45] ^= 0x80; /* created time */
    expect_corrupt(buf, size, key_a, "checksum mismatch");
    buf[45] ^= 0x80;
    buf[0] = 'X';
    expect_corrupt(buf, size, key_a, "bad magic");
    buf[0] = 'Q';
    buf[4] = 2;
    expect_corrupt(buf, size, key_a, "unsupported format version");
    free(buf);
}
END_TEST

START_TEST(entry_trailing_and_key_mismatch)
{
    size_t size;
    uint8_t *buf = make_entry("hi", &size);
    uint8_t *longer = calloc(1, size + 3);

    memcpy(longer, buf, size);
    expect_corrupt(longer, size + 3, key_a, "trailing bytes after the value");
    expect_corrupt(buf, size, key_b, "key mismatch");
    free(longer);
    free(buf);
}
END_TEST

START_TEST(entry_length_overflow)
{
    size_t size;
    uint8_t *buf = make_entry("hi", &size);

    memset(buf + 56, 0xff, 8); /* value length 2^64-1 */
    expect_corrupt(buf, size, key_a, "truncated value");
    free(buf);
}
END_TEST

/* --- Records ---------------------------------------------------------- */

/* JSON text, its NUL, and `extra` bytes after it. */
static uint8_t *make_record(const char *json, const char *extra, size_t *len)
{
    size_t a = strlen(json) + 1;
    size_t b = extra ? strlen(extra) : 0;
    uint8_t *buf = malloc(a + b);

    memcpy(buf, json, a);
    if (b)
        memcpy(buf + a, extra, b);
    *len = a + b;
    return buf;
}

START_TEST(record_parse_full)
{
    size_t len;
    uint8_t *buf = make_record(
        "{\"format\":1,\"text\":\"Echo: hi\",\"finish_reason\":\"stop\","
        "\"model\":\"gpt-4o-mini\",\"created_ms\":1700000000000,"
        "\"usage\":{\"prompt_tokens\":3,\"cached_tokens\":1,"
        "\"completion_tokens\":2,\"estimated\":0},"
        "\"images\":[{\"mime\":\"image/png\",\"bytes\":3},"
        "{\"mime\":\"image/jpeg\",\"bytes\":2}]}",
        "PNGJP", &len);
    qf_cache_record rec;

    ck_assert_int_eq(qf_cache_record_parse(buf, len, &rec, NULL), QF_OK);
    ck_assert_str_eq(rec.text, "Echo: hi");
    ck_assert_uint_eq(rec.text_len, 8);
    ck_assert_str_eq(rec.finish_reason, "stop");
    ck_assert_str_eq(rec.model, "gpt-4o-mini");
    ck_assert_int_eq(rec.created_ms, 1700000000000LL);
    ck_assert_int_eq(rec.usage.prompt_tokens, 3);
    ck_assert_int_eq(rec.usage.cached_tokens, 1);
    ck_assert_int_eq(rec.usage.completion_tokens, 2);
    ck_assert_uint_eq(rec.image_count, 2);
    ck_assert_str_eq(rec.images[0].mime, "image/png");
    ck_assert_mem_eq(rec.images[0].bytes, "PNG", 3);
    ck_assert_str_eq(rec.images[1].mime, "image/jpeg");
    ck_assert_mem_eq(rec.images[1].bytes, "JP", 2);
    qf_cache_record_clear(&rec);
    free(buf);
}
END_TEST

static void expect_bad_record(const char *json, const char *extra,
                              const char *expected)
{
    size_t len;
    uint8_t *buf = make_record(json, extra, &len);
    qf_cache_record rec;
    const char *reason = NULL;

    ck_assert_int_eq(qf_cache_record_parse(buf, len, &rec, &reason),
                     QF_ERR_PROTOCOL);
    ck_assert_str_eq(reason, expected);
    ck_assert_ptr_null(rec.text);
    free(buf);
}

START_TEST(record_parse_rejects)
{
    expect_bad_record("{\"format\":1,\"text\":\"x\"", NULL, "invalid JSON");
    expect_bad_record("{\"format\":2,\"text\":\"x\",\"usage\":{},"
                      "\"images\":[]}",
                      NULL, "unsupported record format");
    expect_bad_record("{\"format\":1,\"usage\":{},\"images\":[]}", NULL,
                      "missing text or usage");
    expect_bad_record("{\"format\":1,\"text\":\"x\",\"usage\":{},"
                      "\"images\":[{\"bytes\":4}]}",
                      "abc", "image length out of range");
    expect_bad_record("{\"format\":1,\"text\":\"x\",\"usage\":{},"
                      "\"images\":[]}",
                      "zz", "trailing bytes after the images");
    expect_bad_record("[1,2]", NULL, "not a JSON object");
}
END_TEST

START_TEST(record_without_terminator)
{
    const uint8_t bytes[] = "{\"format\":1}";
    qf_cache_record rec;
    const char *reason = NULL;

    ck_assert_int_eq(
        qf_cache_record_parse(bytes, sizeof(bytes) - 1, &rec, &reason),
        QF_ERR_PROTOCOL);
    ck_assert_str_eq(reason, "missing JSON terminator");
    ck_assert_int_eq(qf_cache_record_parse(bytes, 0, &rec, &reason),
                     QF_ERR_PROTOCOL);
}
END_TEST

static Suite *entry_suite(void)
{
    Suite *s = suite_create("cache_entry");
    TCase *tc = tcase_create("entry");

    tcase_add_test(tc, entry_round_trip);
    tcase_add_test(tc, entry_empty_value);
    tcase_add_test(tc, entry_rejects_bad_key);
    tcase_add_test(tc, entry_truncated);
    tcase_add_test(tc, entry_flipped_bytes);
    tcase_add_test(tc, entry_trailing_and_key_mismatch);
    tcase_add_test(tc, entry_length_overflow);
    suite_add_tcase(s, tc);

    tc = tcase_create("record");
    tcase_add_test(tc, record_parse_full);
    tcase_add_test(tc, record_parse_rejects);
    tcase_add_test(tc, record_without_terminator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(entry_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

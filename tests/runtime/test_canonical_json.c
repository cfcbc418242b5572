/*
 * test_canonical_json.c - the canonical JSON form behind cache keys.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "error.h"
#include "json_canon.h"

static char *canon(const char *json)
{
    char *out = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_json_canonicalize(json, strlen(json), &out, NULL, &err) != QF_OK)
        return NULL;
    return out;
}

#define ASSERT_CANON(input, expected)                                          \
    do {                                                                       \
        char *got = canon(input);                                              \
        ck_assert_ptr_nonnull(got);                                            \
        ck_assert_str_eq(got, expected);                                       \
        free(got);                                                             \
    } while (0)

START_TEST(keys_sorted_at_every_depth)
{
    ASSERT_CANON("{\"b\":1,\"a\":{\"z\":[{\"y\":1,\"x\":2}],\"c\":true}}",
                 "{\"a\":{\"c\":true,\"z\":[{\"x\":2,\"y\":1}]},\"b\":1}");
}
END_TEST

START_TEST(numbers_have_one_form)
{
    ASSERT_CANON("[1, 1.0, 1e0, 10E-1, -0, 0.5, 1e21, 123456789012]",
                 "[1,1,1,1,0,0.5,1e+21,123456789012]");
    ASSERT_CANON("[0.7, 0.70, 7e-1, 0.1, 3.14159, 1e-7, 0.30000000000000004]",
                 "[0.7,0.7,0.7,0.1,3.14159,1e-07,0.30000000000000004]");
}
END_TEST

START_TEST(whitespace_removed_strings_kept)
{
    ASSERT_CANON(" { \"k\" : \"a  b\\n\\u00e9\" , \"n\" : null } ",
                 "{\"k\":\"a  b\\n\xc3\xa9\",\"n\":null}");
}
END_TEST

START_TEST(array_order_kept)
{
    ASSERT_CANON("[3,1,2]", "[3,1,2]");
}
END_TEST

START_TEST(invalid_json_rejected)
{
    char *out = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_json_canonicalize("{\"a\":", 5, &out, NULL, &err),
                     QF_ERR_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(err.message, "invalid JSON"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("canonical_json");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, keys_sorted_at_every_depth);
    tcase_add_test(tc, numbers_have_one_form);
    tcase_add_test(tc, whitespace_removed_strings_kept);
    tcase_add_test(tc, array_order_kept);
    tcase_add_test(tc, invalid_json_rejected);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

/*
 * test_pricing.c - the price table: aliases and dated names, cached-token
 * pricing to the exact dollar, images, unpriced and free models, and
 * configuration overrides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "error.h"
#include "pricing.h"
#include "testutil.h"

static qf_pricing *open_shipped(void)
{
    qf_pricing *pricing = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_msg(qf_pricing_open(NULL, &pricing, &err) == QF_OK, "%s",
                  err.message);
    return pricing;
}

static double cost_of(qf_pricing *pricing, const char *model, int64_t prompt,
                      int64_t cached, int64_t completion, int64_t images,
                      int *unpriced)
{
    qf_usage usage = {sizeof(usage), prompt, cached, completion, 0};
    double usd = -1;

    ck_assert_int_eq(
        qf_pricing_cost(pricing, model, &usage, images, &usd, unpriced), QF_OK);
    return usd;
}

START_TEST(aliases_resolve_to_family)
{
    static const char *const cases[][2] = {
        {"gpt-4o", "gpt-4o"},
        {"gpt-4o-2024-08-06", "gpt-4o"},
        {"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
        {"gpt-4.1-2025-04-14", "gpt-4.1"},
        {"gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"},
        {"gpt-3.5-turbo-0125", "gpt-3.5-turbo"},
        {"gpt-4-0613", "gpt-4"},
        {"gpt-4-turbo-2024-04-09", "gpt-4-turbo"},
        {"o3-mini-2025-01-31", "o3-mini"},
        {"chatgpt-4o-latest", "gpt-4o"},
        {"gpt-4-turbo-preview", "gpt-4-turbo"},
        {"llama3.2:latest", "llama3.2"},
        {"qwen2.5:0.5b", "qwen2.5"},
    };
    qf_pricing *pricing = open_shipped();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name = qf_pricing_resolve(pricing, cases[i][0]);

        ck_assert_msg(name != NULL, "%s is unpriced", cases[i][0]);
        ck_assert_str_eq(name, cases[i][1]);
    }
    qf_pricing_free(pricing);
}
END_TEST

START_TEST(non_date_suffix_is_unpriced)
{
    static const char *const unknown[] = {"gpt-4o-2024-8-6", "gpt-4o-preview",
                                          "gpt-4o-20240806", "gpt-5",
                                          "sim-small",       "",
                                          "gpt-4o-mini-x"};
    qf_pricing *pricing = open_shipped();
    qf_price price;

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        ck_assert_msg(qf_pricing_resolve(pricing, unknown[i]) == NULL,
                      "%s resolved", unknown[i]);
        ck_assert_int_eq(qf_pricing_lookup(pricing, unknown[i], &price),
                         QF_ERR_NOT_FOUND);
    }
    qf_pricing_free(pricing);
}
END_TEST

START_TEST(cached_tokens_priced_once)
{
    qf_pricing *pricing = open_shipped();
    int unpriced = -1;

    /* gpt-4o: 600k uncached x 2.50 + 400k cached x 1.25 + 100k out x 10. */
    ck_assert_double_eq_tol(cost_of(pricing, "gpt-4o-2024-08-06", 1000000,
                                    400000, 100000, 0, &unpriced),
                            3.0, 1e-12);
    ck_assert_int_eq(unpriced, 0);

    /* No cached tokens: 1M x 2.50 + 100k x 10. */
    ck_assert_double_eq_tol(
        cost_of(pricing, "gpt-4o", 1000000, 0, 100000, 0, &unpriced), 3.5,
        1e-12);

    /* Cached tokens above the prompt count are clamped to it. */
    ck_assert_double_eq_tol(
        cost_of(pricing, "gpt-4o", 1000, 5000, 0, 0, &unpriced), 0.00125,
        1e-15);
    qf_pricing_free(pricing);
}
END_TEST

START_TEST(missing_cached_rate_uses_input)
{
    qf_pricing *pricing = open_shipped();
    int unpriced = -1;

    /* gpt-4: 30 per million input, no cached rate in the table. */
    ck_assert_double_eq_tol(
        cost_of(pricing, "gpt-4", 1000000, 500000, 0, 0, &unpriced), 30.0,
        1e-12);
    qf_pricing_free(pricing);
}
END_TEST

START_TEST(images_priced_per_image)
{
    qf_pricing *pricing = open_shipped();
    int unpriced = -1;

    ck_assert_double_eq_tol(cost_of(pricing, "dall-e-3", 0, 0, 0, 2, &unpriced),
                            0.08, 1e-12);
    ck_assert_double_eq_tol(
        cost_of(pricing, "gpt-image-1", 50, 0, 0, 1, &unpriced), 0.042, 1e-12);
    qf_pricing_free(pricing);
}
END_TEST

START_TEST(unpriced_costs_zero_and_flags)
{
    qf_pricing *pricing = open_shipped();
    int unpriced = 0;

    ck_assert_double_eq(
        cost_of(pricing, "mystery-model", 1000, 0, 1000, 0, &unpriced), 0.0);
    ck_assert_int_eq(unpriced, 1);
    qf_pricing_free(pricing);
}
END_TEST

START_TEST(local_model_priced_zero)
{
    qf_pricing *pricing = open_shipped();
    qf_price price;
    int unpriced = -1;

    ck_assert_int_eq(qf_pricing_lookup(pricing, "llama3.2", &price), QF_OK);
    ck_assert_double_eq(price.input_per_million, 0.0);
    ck_assert_double_eq(
        cost_of(pricing, "llama3.2:latest", 1000, 0, 1000, 0, &unpriced), 0.0);
    ck_assert_int_eq(unpriced, 0);
    qf_pricing_free(pricing);
}
END_TEST

static qf_config *config_of(const char *yaml)
{
    qf_error err;
    qf_config *cfg;

    qf_error_init(&err);
    cfg = qf_config_load_string(yaml, strlen(yaml), "pricing.yml", &err);
    ck_assert_msg(cfg != NULL, "%s", err.message);
    return cfg;
}

START_TEST(config_overrides_and_adds)
{
    qf_config *cfg = config_of("pricing:\n"
                               "  gpt-4o:\n"
                               "    input_per_million: 5\n"
                               "  my-model:\n"
                               "    input_per_million: 1\n"
                               "    output_per_million: 2\n");
    qf_pricing *pricing = NULL;
    qf_error err;
    qf_price price;
    int unpriced = -1;

    qf_error_init(&err);
    ck_assert_msg(qf_pricing_open(cfg, &pricing, &err) == QF_OK, "%s",
                  err.message);
    ck_assert_int_eq(qf_pricing_lookup(pricing, "gpt-4o-2024-08-06", &price),
                     QF_OK);
    ck_assert_double_eq(price.input_per_million, 5.0);
    ck_assert_double_eq(price.output_per_million, 10.0);
    ck_assert_double_eq_tol(
        cost_of(pricing, "my-model", 1000000, 0, 1000000, 0, &unpriced), 3.0,
        1e-12);
    ck_assert_int_eq(unpriced, 0);
    qf_pricing_free(pricing);
    qf_config_free(cfg);
}
END_TEST

START_TEST(config_unknown_field_rejected)
{
    qf_config *cfg = config_of("pricing:\n"
                               "  gpt-4o:\n"
                               "    input_price: 5\n");
    qf_pricing *pricing = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_pricing_open(cfg, &pricing, &err), QF_ERR_CONFIG);
    ck_assert_ptr_null(pricing);
    ck_assert_msg(strstr(err.message, "pricing.yml:3:") != NULL, "%s",
                  err.message);
    ck_assert_msg(strstr(err.message, "unknown price field") != NULL, "%s",
                  err.message);
    qf_config_free(cfg);
}
END_TEST

START_TEST(pricing_file_replaces_table)
{
    char *dir = qf_test_tmpdir("pricing");
    char *table = qf_test_write_file(dir, "prices.json",
                                     "{\"models\": {\"house\": "
                                     "{\"input_per_million\": 4}}}");
    char yaml[512];
    qf_config *cfg;
    qf_pricing *pricing = NULL;
    qf_error err;

    snprintf(yaml, sizeof(yaml), "pricing_file: %s\n", table);
    cfg = config_of(yaml);
    qf_error_init(&err);
    ck_assert_msg(qf_pricing_open(cfg, &pricing, &err) == QF_OK, "%s",
                  err.message);
    ck_assert_str_eq(qf_pricing_source(pricing), table);
    ck_assert_str_eq(qf_pricing_resolve(pricing, "house"), "house");
    ck_assert_ptr_null(qf_pricing_resolve(pricing, "gpt-4o"));
    qf_pricing_free(pricing);
    qf_config_free(cfg);
    qf_test_rmtree(dir);
    free(table);
    free(dir);
}
END_TEST

static Suite *pricing_suite(void)
{
    Suite *s = suite_create("pricing");
    TCase *tc = tcase_create("table");

    tcase_add_test(tc, aliases_resolve_to_family);
    tcase_add_test(tc, non_date_suffix_is_unpriced);
    tcase_add_test(tc, cached_tokens_priced_once);
    tcase_add_test(tc, missing_cached_rate_uses_input);
    tcase_add_test(tc, images_priced_per_image);
    tcase_add_test(tc, unpriced_costs_zero_and_flags);
    tcase_add_test(tc, local_model_priced_zero);
    tcase_add_test(tc, config_overrides_and_adds);
    tcase_add_test(tc, config_unknown_field_rejected);
    tcase_add_test(tc, pricing_file_replaces_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pricing_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

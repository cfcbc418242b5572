/*
 * test_config_secret.c - secrets found by content and place: URL userinfo
 * redaction, hashed URL and header values in instance keys, messages that
 * never quote such values, and the unset variable named by an expansion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_secret.h"
#include "test_config.h"

static void check_redacted(const char *text, const char *expected)
{
    char *out = qf_config_redact_urls(text);

    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strcmp(out, expected) == 0, "\"%s\" gave \"%s\", not \"%s\"",
                  text, out, expected);
    free(out);
}

START_TEST(redact_url_userinfo)
{
    check_redacted("redis://:hunter2@cache:6379/0", "redis://***@cache:6379/0");
    check_redacted("http://user:sk-1@127.0.0.1:8089/v1",
                   "http://***@127.0.0.1:8089/v1");
    check_redacted("https://only-user@host/v1", "https://***@host/v1");
    check_redacted("http://u:pa/ss@host:1/x", "http://***@host:1/x");
    check_redacted("see http://a:b@h1/x and rediss://:c@h2:6380",
                   "see http://***@h1/x and rediss://***@h2:6380");
    check_redacted("http://a:b@h1,http://h2/x", "http://***@h1,http://h2/x");
}
END_TEST

START_TEST(redact_leaves_plain_text)
{
    check_redacted("http://127.0.0.1:8089/v1", "http://127.0.0.1:8089/v1");
    check_redacted("mail me @ home", "mail me @ home");
    check_redacted("://user:pw@host", "://user:pw@host");
    check_redacted("1://user:pw@host", "1://user:pw@host");
    check_redacted("http://host/x @y", "http://host/x @y");
    check_redacted("", "");
    ck_assert_int_eq(qf_config_has_url_userinfo("redis://:pw@h:6379/0"), 1);
    ck_assert_int_eq(qf_config_has_url_userinfo("redis://h:6379/0"), 0);
    ck_assert_int_eq(qf_config_has_url_userinfo(NULL), 0);
}
END_TEST

static const char url_secrets[] =
    "providers:\n"                                                    /* 1 */
    "  text:\n"                                                       /* 2 */
    "    default: main\n"                                             /* 3 */
    "    main:\n"                                                     /* 4 */
    "      plugin: openai\n"                                          /* 5 */
    "      base_url: \"http://u:${QF_T_URL_PW}@127.0.0.1:8089/v1\"\n" /* 6 */
    "      redis_url: \"redis://:hunter2@127.0.0.1:6379/0\"\n"        /* 7 */
    "      headers:\n"                                                /* 8 */
    "        X-Custom: tok-123\n";                                    /* 9 */

START_TEST(instance_key_hashes_urls_and_headers)
{
    qf_config *cfg;
    qf_role_plan *plan;

    setenv("QF_T_URL_PW", "pw-456", 1);
    cfg = load_text(url_secrets);
    plan = resolve_ok(cfg, "plotwright", NULL);
    ck_assert_str_eq(
        plan->instance_key,
        "{\"plugin\":\"openai\",\"settings\":{\"base_url\":\"sha256:"
        "aa263b1ca14839894b35b9fe4b268d8f9bb6b75ed761767f3e75d8aa6d12299c\","
        "\"headers\":{\"X-Custom\":\"sha256:"
        "c8963414bf6c4c869eeac5f8a057c3dc574d422f1b108397b66f67bab3d2f981\"},"
        "\"redis_url\":\"sha256:"
        "452e88e2c81d98609bf89e15348e507b1d1c71296cdc4025db391e9da17aa625\","
        "\"retry\":{\"max_attempts\":3,\"max_wait_seconds\":30},"
        "\"timeout\":{\"connect_seconds\":10,\"total_seconds\":120}}}");
    qf_role_plan_free(plan);
    qf_config_free(cfg);
}
END_TEST

START_TEST(unset_variable_in_base_url_resolves)
{
    qf_config *cfg;
    qf_role_plan *plan;

    /* `qf config show` must work without the password set. */
    unsetenv("QF_T_URL_PW");
    cfg = load_text(url_secrets);
    plan = resolve_ok(cfg, "plotwright", NULL);
    ck_assert_str_eq(plan->provider_plugin, "openai");
    ck_assert_ptr_null(plan->instance_key);
    qf_role_plan_free(plan);
    qf_config_free(cfg);
}
END_TEST

START_TEST(bad_number_with_url_redacted)
{
    static const char yaml[] =
        "providers:\n"                                        /* 1 */
        "  text:\n"                                           /* 2 */
        "    default: main\n"                                 /* 3 */
        "    main:\n"                                         /* 4 */
        "      plugin: openai\n"                              /* 5 */
        "      timeout:\n"                                    /* 6 */
        "        total_seconds: \"http://u:pw-789@h:1/x\"\n"; /* 7 */
    qf_config *cfg = load_text(yaml);

    ck_assert_str_eq(resolve_error(cfg, "plotwright", QF_ERR_CONFIG),
                     "plugins.yml:7:24: "
                     "providers.text.main.timeout.total_seconds: "
                     "\"http://***@h:1/x\" is invalid; expected a number "
                     "such as 10 or 0.5");
    qf_config_free(cfg);
}
END_TEST

START_TEST(bad_choice_with_url_redacted)
{
    static const char yaml[] =
        "providers:\n"                                      /* 1 */
        "  text:\n"                                         /* 2 */
        "    default: main\n"                               /* 3 */
        "    main:\n"                                       /* 4 */
        "      plugin: openai\n"                            /* 5 */
        "      rate_limit:\n"                               /* 6 */
        "        requests_per_minute: 60\n"                 /* 7 */
        "        on_limit: \"redis://:pw-321@h:6379/0\"\n"; /* 8 */
    qf_config *cfg = load_text(yaml);

    ck_assert_str_eq(resolve_error(cfg, "plotwright", QF_ERR_CONFIG),
                     "plugins.yml:8:19: "
                     "providers.text.main.rate_limit.on_limit: "
                     "\"redis://***@h:6379/0\" is not a valid choice; "
                     "expected one of: fail, wait");
    qf_config_free(cfg);
}
END_TEST

/* The error of expanding the node at `path`, with the unset variable. */
static const char *expand_error(const qf_cnode *root, const char *path,
                                char **unset)
{
    static char text[QF_ERROR_MESSAGE_MAX];
    char *out = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(
        qf_cnode_string_unset(qf_cnode_path(root, path), &out, unset, &err),
        QF_ERR_CONFIG);
    ck_assert_ptr_null(out);
    snprintf(text, sizeof(text), "%s", err.message);
    return text;
}

START_TEST(reference_in_secret_not_quoted)
{
    static const char yaml[] = "api_key: \"${sk-proj-abc}\"\n"
                               "headers:\n"
                               "  X-Token: \"${tok 9}\"\n"
                               "note: \"${sk-proj-abc}\"\n";
    qf_config *cfg = load_text(yaml);
    const qf_cnode *root = qf_config_root(cfg);
    char *unset = NULL;
    const char *secret_message =
        "the value holds an invalid variable reference; expected ${NAME} or "
        "${NAME:-default} with NAME made of letters, digits and "
        "underscores, or $$ for a dollar sign";
    char expected[512];

    snprintf(expected, sizeof(expected), "plugins.yml:1:10: api_key: %s",
             secret_message);
    ck_assert_str_eq(expand_error(root, "api_key", &unset), expected);
    ck_assert_ptr_null(unset);
    snprintf(expected, sizeof(expected),
             "plugins.yml:3:12: headers.X-Token: %s", secret_message);
    ck_assert_str_eq(expand_error(root, "headers.X-Token", &unset), expected);
    ck_assert_ptr_null(unset);
    /* A key that is not secret still quotes the reference. */
    ck_assert_ptr_nonnull(
        strstr(expand_error(root, "note", &unset), "\"${sk-proj-abc}\""));
    qf_config_free(cfg);
}
END_TEST

START_TEST(unset_variable_named)
{
    static const char yaml[] = "a: \"x-${QF_T_ONE}\"\n"
                               "b: \"${QF_T_TWO:-${QF_T_THREE}}\"\n"
                               "c: \"${QF_T_TWO:-fallback}\"\n";
    qf_config *cfg;
    const qf_cnode *root;
    char *unset = NULL, *out = NULL;
    qf_error err;

    unsetenv("QF_T_ONE");
    unsetenv("QF_T_TWO");
    unsetenv("QF_T_THREE");
    cfg = load_text(yaml);
    root = qf_config_root(cfg);
    expand_error(root, "a", &unset);
    ck_assert_str_eq(unset, "QF_T_ONE");
    free(unset);
    expand_error(root, "b", &unset);
    ck_assert_str_eq(unset, "QF_T_THREE");
    free(unset);

    qf_error_init(&err);
    ck_assert_int_eq(
        qf_cnode_string_unset(qf_cnode_get(root, "c"), &out, &unset, &err),
        QF_OK);
    ck_assert_str_eq(out, "fallback");
    ck_assert_ptr_null(unset);
    free(out);
    qf_config_free(cfg);
}
END_TEST

Suite *config_secret_suite(void)
{
    Suite *suite = suite_create("config_secret");
    TCase *tc = tcase_create("secrets");

    tcase_add_test(tc, redact_url_userinfo);
    tcase_add_test(tc, redact_leaves_plain_text);
    tcase_add_test(tc, instance_key_hashes_urls_and_headers);
    tcase_add_test(tc, unset_variable_in_base_url_resolves);
    tcase_add_test(tc, bad_number_with_url_redacted);
    tcase_add_test(tc, bad_choice_with_url_redacted);
    tcase_add_test(tc, reference_in_secret_not_quoted);
    tcase_add_test(tc, unset_variable_named);
    suite_add_tcase(suite, tc);
    return suite;
}

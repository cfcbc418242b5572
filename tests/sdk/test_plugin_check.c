/*
 * test_plugin_check.c - qf-plugin-check against one deliberately broken
 * plugin per defect class (tests/plugins/defects), the loader refusals
 * (tests/plugins/broken) and the good chain test plugins. Each case runs
 * the built tool with --json and looks for one finding by check name,
 * status and a key phrase of its message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "testutil.h"

typedef struct checked {
    int exit_code;
    cJSON *findings; /* array, or NULL when the output was not JSON */
    char *out;
} checked;

/* Run the checker with a per-check limit of `timeout` seconds. */
static void run_check(const char *plugin_rel, const char *timeout, checked *c)
{
    char *tool = qf_test_build_path("bin/qf-plugin-check");
    char *plugin = plugin_rel[0] == '/' ? strdup(plugin_rel)
                                        : qf_test_build_path(plugin_rel);
    char *argv[] = {tool, "--json", "--timeout", (char *)timeout, plugin, NULL};
    qf_test_run run;

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 600, &run), 0);
    c->exit_code = run.exit_code;
    c->findings = cJSON_Parse(run.out);
    c->out = strdup(run.out);
    ck_assert_msg(cJSON_IsArray(c->findings), "not a JSON array: %s\n%s",
                  run.out, run.err);
    qf_test_run_free(&run);
    free(tool);
    free(plugin);
}

static void checked_free(checked *c)
{
    cJSON_Delete(c->findings);
    free(c->out);
}

static const char *field(const cJSON *item, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, name);

    return cJSON_IsString(value) ? value->valuestring : "";
}

/* Whether a finding has this check, status and a message containing
 * `phrase`, and a non-empty fix unless it passed. */
static int has_finding(const checked *c, const char *check, const char *status,
                       const char *phrase)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, c->findings)
    {
        if (strcmp(field(item, "check"), check) == 0 &&
            strcmp(field(item, "status"), status) == 0 &&
            strstr(field(item, "message"), phrase) != NULL &&
            (strcmp(status, "pass") == 0 || field(item, "fix")[0] != '\0'))
            return 1;
    }
    return 0;
}

static int count_status(const checked *c, const char *status)
{
    const cJSON *item;
    int n = 0;

    cJSON_ArrayForEach(item, c->findings)
    {
        n += strcmp(field(item, "status"), status) == 0;
    }
    return n;
}

/* --- Defect classes ------------------------------------------------- */

typedef struct defect_case {
    const char *plugin; /* under build/tests/plugins/defects/ */
    const char *check;
    const char *phrase;
} defect_case;

static const defect_case defects[] = {
    {"null_slot", "vtable", "middleware vtable slot on_request is NULL"},
    {"null_slot", "handshake", "lacks a required function"},
    {"image_claim", "capabilities",
     "claims \"image\" but generate_image is NULL"},
    {"dup_option", "options",
     "option \"model\" is declared twice (entries 0 and 2)"},
    {"bad_default", "options",
     "option \"timeout_seconds\" has type int but its default \"thirty\" is "
     "not a valid int"},
    {"secret_flag", "options",
     "option \"api_key\" looks like a secret but lacks QF_OPT_SECRET"},
    {"create_crash", "lifecycle", "crashed with SIGSEGV during create"},
    {"create_hang", "lifecycle", "did not return within 2 s during create"},
    {"request_crash", "requests",
     "crashed with SIGSEGV during on_request with no messages"},
    {"request_hang", "requests",
     "did not return within 2 s during on_request with no messages"},
    {"destroy_repeat", "lifecycle",
     "crashed with SIGSEGV during destroy (round 2 of 5)"},
    {"secret_log", "secrets",
     "a log line or error message contained the value of a secret option"},
    /* create still succeeds without the required api_key. */
    {"secret_log", "required_options",
     "create succeeded without required option \"api_key\""},
};

START_TEST(defect_reported)
{
    const defect_case *d = &defects[_i];
    char rel[256];
    checked c;

    snprintf(rel, sizeof(rel), "tests/plugins/defects/%s.so", d->plugin);
    run_check(rel, "2", &c);
    ck_assert_int_eq(c.exit_code, 1);
    ck_assert_msg(has_finding(&c, d->check, "fail", d->phrase),
                  "%s: no failed %s finding with \"%s\" in:\n%s", d->plugin,
                  d->check, d->phrase, c.out);
    checked_free(&c);
}
END_TEST

/* --- Loader refusals ------------------------------------------------ */

static const defect_case refusals[] = {
    {"abi_major/abi_major", "handshake", "built for plugin ABI 2.0"},
    {"abi_minor/abi_minor", "handshake", "newer than this host's 1.0"},
    {"build_tag/build_tag", "handshake", "does not match this host's"},
    {"small_descriptor/small_descriptor", "handshake",
     "descriptor size is 16 bytes"},
    {"no_entry/no_entry", "handshake", "exports no qf_plugin_entry symbol"},
    {"null_descriptor/null_descriptor", "handshake",
     "qf_plugin_entry returned NULL"},
    {"bad_id/bad_id", "handshake", "plugin id \"Bad-ID\" is invalid"},
    {"no_vtable/no_vtable", "handshake", "has no provider vtable"},
};

START_TEST(refusal_reported)
{
    const defect_case *d = &refusals[_i];
    char rel[256];
    checked c;

    snprintf(rel, sizeof(rel), "tests/plugins/broken/%s.so", d->plugin);
    run_check(rel, "30", &c);
    ck_assert_int_eq(c.exit_code, 1);
    ck_assert_msg(has_finding(&c, d->check, "fail", d->phrase),
                  "%s: no failed %s finding with \"%s\" in:\n%s", d->plugin,
                  d->check, d->phrase, c.out);
    /* A refused plugin is never called. */
    ck_assert(!has_finding(&c, "lifecycle", "pass", ""));
    checked_free(&c);
}
END_TEST

START_TEST(writable_plugin_reported)
{
    char *dir = qf_test_tmpdir("plugin-check-perm");
    char *src = qf_test_build_path("tests/plugins/chain/test_echo.so");
    size_t len;
    char *bytes = qf_test_read_file(src, &len);
    char path[512];
    FILE *f;
    checked c;

    ck_assert_ptr_nonnull(bytes);
    snprintf(path, sizeof(path), "%s/test_echo.so", dir);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0666), 0);

    run_check(path, "30", &c);
    ck_assert_int_eq(c.exit_code, 1);
    ck_assert_msg(has_finding(&c, "permissions", "fail",
                              "writable by group or others (mode 0666)"),
                  "%s", c.out);
    checked_free(&c);
    qf_test_rmtree(dir);
    free(bytes);
    free(src);
    free(dir);
}
END_TEST

/* --- Good plugins --------------------------------------------------- */

static const char *const good[] = {
    "tests/plugins/chain/test_echo.so",
    "tests/plugins/chain/test_middleware.so",
    "tests/plugins/chain/test_passthrough.so",
};

START_TEST(good_plugin_passes)
{
    checked c;

    run_check(good[_i], "60", &c);
    ck_assert_msg(c.exit_code == 0, "%s: exit %d:\n%s", good[_i], c.exit_code,
                  c.out);
    ck_assert_int_eq(count_status(&c, "fail"), 0);
    ck_assert(has_finding(&c, "handshake", "pass", "speaks plugin ABI 1.0"));
    ck_assert(
        has_finding(&c, "lifecycle", "pass", "created and destroyed 5 times"));
    ck_assert(has_finding(&c, "requests", "pass", "4194304-byte input"));
    ck_assert(has_finding(&c, "concurrency", "pass", "4 threads"));
    checked_free(&c);
}
END_TEST

START_TEST(text_output_and_usage)
{
    char *tool = qf_test_build_path("bin/qf-plugin-check");
    char *plugin = qf_test_build_path("tests/plugins/defects/image_claim.so");
    char *argv[] = {tool, plugin, NULL};
    char *help[] = {tool, "--help", NULL};
    char *bad[] = {tool, "--timeout", "0", plugin, NULL};
    qf_test_run run;

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 60, &run), 0);
    ck_assert_int_eq(run.exit_code, 1);
    ck_assert_ptr_nonnull(strstr(run.out,
                                 "FAIL capabilities: claims \"image\" but "
                                 "generate_image is NULL (fix: "));
    ck_assert_ptr_nonnull(strstr(run.out, ": 8 passed, 0 warnings, 1 failed"));
    qf_test_run_free(&run);

    ck_assert_int_eq(qf_test_run_argv(help, NULL, NULL, 60, &run), 0);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(run.out, "usage: qf-plugin-check"));
    qf_test_run_free(&run);

    ck_assert_int_eq(qf_test_run_argv(bad, NULL, NULL, 60, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(run.err, "invalid --timeout '0'"));
    qf_test_run_free(&run);
    free(tool);
    free(plugin);
}
END_TEST

static Suite *plugin_check_suite(void)
{
    Suite *s = suite_create("plugin_check");
    TCase *tc = tcase_create("findings");

    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, defect_reported, 0,
                        (int)(sizeof(defects) / sizeof(defects[0])));
    tcase_add_loop_test(tc, refusal_reported, 0,
                        (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, writable_plugin_reported);
    tcase_add_loop_test(tc, good_plugin_passes, 0,
                        (int)(sizeof(good) / sizeof(good[0])));
    tcase_add_test(tc, text_output_and_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plugin_check_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

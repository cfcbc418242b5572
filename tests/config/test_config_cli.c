/*
 * test_config_cli.c - `qf config show` and `qf config check` run through
 * the built qf binary on the fixtures.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *state_dir;

static void setup(void)
{
    state_dir = qf_test_tmpdir("config-cli");
}

static void teardown(void)
{
    qf_test_rmtree(state_dir);
    free(state_dir);
}

/* Run `qf --config FILE ARGS...` with OPENAI_API_KEY set or unset. */
static void run_qf(const char *config, const char *const *args, int with_key,
                   qf_test_run *run)
{
    char *qf = qf_test_build_path("bin/qf");
    char state_env[4096];
    char *argv[16];
    char *env[3];
    int argc = 0;

    snprintf(state_env, sizeof(state_env), "QF_STATE_DIR=%s", state_dir);
    env[0] = state_env;
    env[1] = with_key ? "OPENAI_API_KEY=sk-cli-secret-123" : NULL;
    env[2] = NULL;
    argv[argc++] = qf;
    argv[argc++] = "--config";
    argv[argc++] = (char *)config;
    for (; *args != NULL && argc < 15; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    ck_assert_int_eq(qf_test_run_argv(argv, env, NULL, 30, run), 0);
    free(qf);
}

/* True when `text` contains `line` as a whole line. */
static int has_line(const char *text, const char *line)
{
    size_t len = strlen(line);

    for (const char *at = strstr(text, line); at != NULL;
         at = strstr(at + 1, line)) {
        if ((at == text || at[-1] == '\n') &&
            (at[len] == '\n' || at[len] == '\0'))
            return 1;
    }
    return 0;
}

static void assert_line(const char *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void assert_line(const char *text, const char *format, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, format);
    vsnprintf(line, sizeof(line), format, ap);
    va_end(ap);
    ck_assert_msg(has_line(text, line), "missing line \"%s\" in:\n%s", line,
                  text);
}

START_TEST(show_role_plotwright)
{
    static const char *const args[] = {"config", "show", "--role", "plotwright",
                                       NULL};
    const char *seed = QF_CONFIG_FIXTURES "/seed.yml";
    qf_test_run run;

    run_qf(seed, args, 1, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    assert_line(run.out, "role: plotwright");
    assert_line(run.out, "model: gpt-3.5-turbo");
    assert_line(run.out, "  model = gpt-3.5-turbo  [role, %s:25:12]", seed);
    assert_line(run.out, "  provider.name = openai  [role, %s:24:15]", seed);
    assert_line(run.out,
                "  provider.settings.api_key = ***  [provider, %s:8:16]", seed);
    assert_line(run.out, "  provider.settings.timeout.total_seconds = 120  "
                         "[default]");
    assert_line(run.out, "  chain[0].name = cache@openai  [provider, %s:11:9]",
                seed);
    assert_line(run.out,
                "  chain[0].settings.ttl_seconds = 3600  [provider, "
                "%s:12:22]",
                seed);
    assert_line(run.out,
                "  chain[1].settings.scope = provider  [provider, "
                "%s:14:9]",
                seed);
    assert_line(run.out,
                "  chain[1].settings.cost_per_day = 10.0  [provider, "
                "%s:16:23]",
                seed);
    ck_assert_ptr_null(strstr(run.out, "sk-cli-secret-123"));
    ck_assert_ptr_null(strstr(run.err, "sk-cli-secret-123"));
    qf_test_run_free(&run);
}
END_TEST

START_TEST(show_json_redacts_secret)
{
    static const char *const args[] = {"--json", "config",      "show",
                                       "--role", "scene_smith", NULL};
    qf_test_run run;

    run_qf(QF_CONFIG_FIXTURES "/seed.yml", args + 1, 1, &run);
    qf_test_run_free(&run);
    run_qf(QF_CONFIG_FIXTURES "/seed.yml", args, 1, &run);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(run.out, "{\"path\":\"provider.settings."
                                          "api_key\",\"value\":\"***\","
                                          "\"layer\":\"provider\""));
    ck_assert_ptr_nonnull(strstr(run.out, "\"model\":\"gpt-4o\""));
    ck_assert_ptr_null(strstr(run.out, "sk-cli-secret-123"));
    qf_test_run_free(&run);
}
END_TEST

START_TEST(show_missing_plugin)
{
    static const char *const args[] = {"config", "show", "--role", "plotwright",
                                       NULL};
    qf_test_run run;

    run_qf(QF_CONFIG_FIXTURES "/missing_plugin.yml", args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    ck_assert_msg(has_line(run.out, "provider: local (plugin "
                                    "qf_test_no_such_plugin, missing)"),
                  "%s", run.out);
    qf_test_run_free(&run);
}
END_TEST

START_TEST(check_reports_errors)
{
    static const char *const args[] = {"config", "check", NULL};
    const char *seed = QF_CONFIG_FIXTURES "/seed.yml";
    char expected[1024];
    qf_test_run run;

    run_qf(seed, args, 0, &run);
    ck_assert_int_eq(run.exit_code, 2);
    snprintf(expected, sizeof(expected),
             "error: %s:8:16: providers.text.openai.api_key: environment "
             "variable OPENAI_API_KEY is not set; set it or write "
             "${OPENAI_API_KEY:-default} (roles: audio_director, "
             "audio_producer, book_binder, codex_curator, gatekeeper, "
             "lore_weaver, player_narrator, plotwright, researcher, "
             "scene_smith, showrunner, style_lead, translator)",
             seed);
    ck_assert_msg(has_line(run.out, expected), "%s", run.out);
    qf_test_run_free(&run);

    run_qf(QF_CONFIG_FIXTURES "/missing_plugin.yml", args, 0, &run);
    ck_assert_int_eq(run.exit_code, 2);
    snprintf(expected, sizeof(expected),
             "%s:6:15: providers.text.local.plugin: plugin "
             "\"qf_test_no_such_plugin\" is not installed in any plugin folder",
             QF_CONFIG_FIXTURES "/missing_plugin.yml");
    ck_assert_msg(strstr(run.out, expected) != NULL, "%s", run.out);
    qf_test_run_free(&run);
}
END_TEST

/* A provider block whose base_url, redis_url, headers and rate limit
 * store carry secrets. The rate_limit plugin's schema flags its redis_url
 * as secret, so that one prints as *** whole. */
static const char url_secrets[] =
    "providers:\n"                                                      /* 1 */
    "  text:\n"                                                         /* 2 */
    "    default: openai\n"                                             /* 3 */
    "    openai:\n"                                                     /* 4 */
    "      base_url: http://user:${OPENAI_API_KEY}@127.0.0.1:8089/v1\n" /* 5 */
    "      api_key: ${OPENAI_API_KEY}\n"                                /* 6 */
    "      model: gpt-4o\n"                                             /* 7 */
    "      redis_url: \"redis://:hunter2-pw@127.0.0.1:6379/0\"\n"       /* 8 */
    "      headers:\n"                                                  /* 9 */
    "        X-Custom: ${OPENAI_API_KEY}\n"                             /* 10 */
    "        X-Plain: plain-header-value\n"                             /* 11 */
    "      rate_limit:\n"                                               /* 12 */
    "        requests_per_minute: 60\n"                                 /* 13 */
    "        redis_url: \"redis://:limit-pw@127.0.0.1:6379/1\"\n";
/* 14 */ /* 11 */

static void assert_no_secret(const qf_test_run *run)
{
    ck_assert_ptr_null(strstr(run->out, "sk-cli-secret-123"));
    ck_assert_ptr_null(strstr(run->err, "sk-cli-secret-123"));
    ck_assert_ptr_null(strstr(run->out, "hunter2-pw"));
    ck_assert_ptr_null(strstr(run->out, "plain-header-value"));
    ck_assert_ptr_null(strstr(run->out, "limit-pw"));
}

START_TEST(show_redacts_urls_and_headers)
{
    static const char *const args[] = {"config", "show", "--role", "plotwright",
                                       NULL};
    char *config = qf_test_write_file(state_dir, "plugins.yml", url_secrets);
    qf_test_run run;

    ck_assert_ptr_nonnull(config);
    run_qf(config, args, 1, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    assert_line(run.out,
                "  provider.settings.base_url = http://***@127.0.0.1:8089/v1"
                "  [provider, %s:5:17]",
                config);
    assert_line(run.out,
                "  provider.settings.redis_url = redis://***@127.0.0.1:6379/0"
                "  [provider, %s:8:18]",
                config);
    assert_line(run.out,
                "  provider.settings.headers.X-Custom = ***  [provider, "
                "%s:10:19]",
                config);
    assert_line(run.out,
                "  provider.settings.headers.X-Plain = ***  [provider, "
                "%s:11:18]",
                config);
    assert_line(run.out,
                "  chain[0].settings.redis_url = ***  [provider, %s:14:20]",
                config);
    assert_no_secret(&run);
    qf_test_run_free(&run);
    free(config);
}
END_TEST

START_TEST(show_json_redacts_urls_and_headers)
{
    static const char *const args[] = {"--json", "config",     "show",
                                       "--role", "plotwright", NULL};
    char *config = qf_test_write_file(state_dir, "plugins.yml", url_secrets);
    qf_test_run run;

    ck_assert_ptr_nonnull(config);
    run_qf(config, args, 1, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    ck_assert_ptr_nonnull(
        strstr(run.out, "{\"path\":\"provider.settings.base_url\","
                        "\"value\":\"http://***@127.0.0.1:8089/v1\","));
    ck_assert_ptr_nonnull(
        strstr(run.out, "{\"path\":\"provider.settings.redis_url\","
                        "\"value\":\"redis://***@127.0.0.1:6379/0\","));
    ck_assert_ptr_nonnull(
        strstr(run.out, "{\"path\":\"provider.settings.headers.X-Custom\","
                        "\"value\":\"***\","));
    ck_assert_ptr_nonnull(
        strstr(run.out, "{\"path\":\"provider.settings.headers.X-Plain\","
                        "\"value\":\"***\","));
    ck_assert_ptr_nonnull(strstr(run.out,
                                 "{\"path\":\"chain[0].settings.redis_url\","
                                 "\"value\":\"***\","));
    assert_no_secret(&run);
    qf_test_run_free(&run);
    free(config);
}
END_TEST

START_TEST(show_redacts_cache_redis_url)
{
    static const char *const args[] = {"config", "show", "--role", "plotwright",
                                       NULL};
    static const char yaml[] =
        "cache:\n"                                              /* 1 */
        "  enabled: true\n"                                     /* 2 */
        "  backend: redis_cache\n"                              /* 3 */
        "  redis_url: \"redis://:cache-pw@127.0.0.1:6379/0\"\n" /* 4 */
        "providers: {text: {default: openai, openai: {}}}\n";   /* 5 */
    char *config = qf_test_write_file(state_dir, "plugins.yml", yaml);
    qf_test_run run;

    run_qf(config, args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    assert_line(run.out,
                "  chain[0].settings.redis_url = redis://***@127.0.0.1:6379/0"
                "  [global, %s:4:14]",
                config);
    ck_assert_ptr_null(strstr(run.out, "cache-pw"));
    qf_test_run_free(&run);
    free(config);
}
END_TEST

START_TEST(show_names_unset_variable)
{
    static const char *const args[] = {"config", "show", "--role", "plotwright",
                                       NULL};
    const char *seed = QF_CONFIG_FIXTURES "/seed.yml";
    char *config = qf_test_write_file(state_dir, "plugins.yml", url_secrets);
    qf_test_run run;

    run_qf(seed, args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    assert_line(run.out,
                "  provider.settings.api_key = ***  [provider, %s:8:16] "
                "(unset: OPENAI_API_KEY)",
                seed);
    qf_test_run_free(&run);

    /* A value that fails to expand shows as written, never expanded. */
    run_qf(config, args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    assert_line(run.out,
                "  provider.settings.base_url = http://***@127.0.0.1:8089/v1"
                "  [provider, %s:5:17] (unset: OPENAI_API_KEY)",
                config);
    assert_line(run.out,
                "  provider.settings.headers.X-Custom = ***  [provider, "
                "%s:10:19] (unset: OPENAI_API_KEY)",
                config);
    qf_test_run_free(&run);
    free(config);
}
END_TEST

START_TEST(show_json_names_unset_variable)
{
    static const char *const args[] = {"--json", "config",     "show",
                                       "--role", "plotwright", NULL};
    qf_test_run run;

    run_qf(QF_CONFIG_FIXTURES "/seed.yml", args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.err);
    ck_assert_ptr_nonnull(strstr(
        run.out,
        "{\"path\":\"provider.settings.api_key\",\"value\":\"***\","
        "\"layer\":\"provider\",\"file\":\"" QF_CONFIG_FIXTURES
        "/seed.yml\",\"line\":8,\"column\":16,\"error\":\"" QF_CONFIG_FIXTURES
        "/seed.yml:8:16: "
        "providers.text.openai.api_key: environment variable "
        "OPENAI_API_KEY is not set; set it or write "
        "${OPENAI_API_KEY:-default}\",\"unset\":\"OPENAI_API_KEY\"}"));
    qf_test_run_free(&run);
}
END_TEST

START_TEST(check_cache_backend_installed)
{
    static const char *const args[] = {"config", "check", NULL};
    static const char yaml[] = "cache:\n"                       /* 1 */
                               "  enabled: true\n"              /* 2 */
                               "  backend: file\n"              /* 3 */
                               "providers:\n"                   /* 4 */
                               "  text:\n"                      /* 5 */
                               "    default: openai\n"          /* 6 */
                               "    openai:\n"                  /* 7 */
                               "      api_key: sk-literal-1\n"; /* 8 */
    char *config = qf_test_write_file(state_dir, "plugins.yml", yaml);
    char expected[1024];
    qf_test_run run;

    run_qf(config, args, 0, &run);
    ck_assert_int_eq(run.exit_code, 2);
    snprintf(expected, sizeof(expected),
             "error: %s:3:12: cache.backend: plugin \"file\" is not installed "
             "in any plugin folder (",
             config);
    ck_assert_msg(strncmp(run.out, expected, strlen(expected)) == 0, "%s",
                  run.out);
    assert_line(run.out, "13 roles checked, 1 error");
    qf_test_run_free(&run);

    /* The documented name, and the default when backend is not set. */
    free(config);
    config = qf_test_write_file(
        state_dir, "plugins.yml",
        "cache: {enabled: true, backend: file_cache}\n"
        "providers: {text: {default: openai, openai: {api_key: sk-1}}}\n");
    run_qf(config, args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.out);
    assert_line(run.out, "13 roles checked, 0 errors");
    qf_test_run_free(&run);
    free(config);
    config = qf_test_write_file(
        state_dir, "plugins.yml",
        "cache: {enabled: true}\n"
        "providers: {text: {default: openai, openai: {api_key: sk-1}}}\n");
    run_qf(config, args, 0, &run);
    ck_assert_msg(run.exit_code == 0, "exit %d: %s", run.exit_code, run.out);
    qf_test_run_free(&run);
    free(config);
}
END_TEST

START_TEST(help_states_show_exit_status)
{
    static const char *const args[] = {"config", "--help", NULL};
    qf_test_run run;

    run_qf(QF_CONFIG_FIXTURES "/seed.yml", args, 0, &run);
    ck_assert_int_eq(run.exit_code, 0);
    assert_line(run.out, "show exits with status 2 when a role does not "
                         "resolve: the role is unknown,");
    assert_line(run.out, "its provider block is missing or invalid, or its "
                         "plugin or model names an");
    assert_line(run.out, "unset ${VAR}. Run check to find every error, unset "
                         "variables included.");
    assert_line(run.out, "                 unset ${VAR} prints with "
                         "\"(unset: VAR)\" instead of failing");
    qf_test_run_free(&run);
}
END_TEST

START_TEST(config_usage_errors)
{
    static const char *const unknown[] = {"config", "frob", NULL};
    static const char *const extra[] = {"config", "check", "--role", "x", NULL};
    qf_test_run run;

    run_qf(QF_CONFIG_FIXTURES "/seed.yml", unknown, 0, &run);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.err, "qf: config: unknown subcommand 'frob'; "
                              "expected show or check\n");
    qf_test_run_free(&run);
    run_qf(QF_CONFIG_FIXTURES "/seed.yml", extra, 0, &run);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.err, "qf: config check: unexpected argument "
                              "'--role'; run 'qf config --help'\n");
    qf_test_run_free(&run);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("config_cli");
    TCase *tc = tcase_create("qf config");
    SRunner *runner;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, show_role_plotwright);
    tcase_add_test(tc, show_json_redacts_secret);
    tcase_add_test(tc, show_missing_plugin);
    tcase_add_test(tc, check_reports_errors);
    tcase_add_test(tc, config_usage_errors);
    tcase_add_test(tc, show_redacts_urls_and_headers);
    tcase_add_test(tc, show_json_redacts_urls_and_headers);
    tcase_add_test(tc, show_redacts_cache_redis_url);
    tcase_add_test(tc, show_names_unset_variable);
    tcase_add_test(tc, show_json_names_unset_variable);
    tcase_add_test(tc, check_cache_backend_installed);
    tcase_add_test(tc, help_states_show_exit_status);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

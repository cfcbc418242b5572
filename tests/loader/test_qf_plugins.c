/*
 * test_qf_plugins.c - `qf plugins scan|list|info` run as a process. The qf
 * binary is copied into a temporary prefix (root/bin/qf), so its built-in
 * plugin folder is root/plugins and the shipped plugins never show up.
 * Folders: root/env ($QF_PLUGIN_PATH), root/a (plugin_dirs), root/plugins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "testutil.h"

typedef struct fixture {
    char *root;
    char *qf;
    char *config;
    char *env_dir;
    char *a_dir;
    char *builtin_dir;
    char *path_env; /* QF_PLUGIN_PATH=root/env */
} fixture;

static char *join(const char *dir, const char *name)
{
    char *path = NULL;

    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    return path;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    size_t len = 0;
    char *data = qf_test_read_file(from, &len);
    FILE *out = fopen(to, "wb");

    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(data, 1, len, out), len);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(chmod(to, mode), 0);
    free(data);
}

/* Copy test plugin <folder>/<name>.so into `dir`; returns the copy. */
static char *install(const char *dir, const char *folder, const char *name)
{
    char *from = NULL, *to = NULL;

    ck_assert_int_ge(
        asprintf(&from, "%s/broken/%s/%s.so", QF_TEST_PLUGIN_DIR, folder, name),
        0);
    ck_assert_int_ge(asprintf(&to, "%s/%s.so", dir, name), 0);
    copy_file(from, to, 0755);
    free(from);
    return to;
}

static void fixture_open(fixture *f)
{
    char *tmp = qf_test_tmpdir("qfplugins");
    char *bin, *built;

    ck_assert_ptr_nonnull(tmp);
    f->root = realpath(tmp, NULL);
    free(tmp);
    ck_assert_ptr_nonnull(f->root);
    ck_assert_int_eq(chmod(f->root, 0700), 0);

    bin = join(f->root, "bin");
    f->env_dir = join(f->root, "env");
    f->a_dir = join(f->root, "a");
    f->builtin_dir = join(f->root, "plugins");
    ck_assert_int_eq(mkdir(bin, 0700), 0);
    ck_assert_int_eq(mkdir(f->env_dir, 0700), 0);
    ck_assert_int_eq(mkdir(f->a_dir, 0700), 0);
    ck_assert_int_eq(mkdir(f->builtin_dir, 0700), 0);

    built = qf_test_build_path("bin/qf");
    f->qf = join(bin, "qf");
    copy_file(built, f->qf, 0755);
    f->config = qf_test_write_file(f->root, "config.yml",
                                   "state_dir: state\n"
                                   "plugin_dirs:\n"
                                   "  - a\n");
    ck_assert_int_ge(asprintf(&f->path_env, "QF_PLUGIN_PATH=%s", f->env_dir),
                     0);
    free(built);
    free(bin);
}

static void fixture_close(fixture *f)
{
    qf_test_rmtree(f->root);
    free(f->path_env);
    free(f->config);
    free(f->builtin_dir);
    free(f->a_dir);
    free(f->env_dir);
    free(f->qf);
    free(f->root);
}

/* Run `qf --config CONFIG plugins ARGS...` (args NULL-terminated). */
static void run_qf(fixture *f, qf_test_run *run, const char *const *args)
{
    char *argv[16];
    char *env[] = {f->path_env, "QF_STATE_DIR=", NULL};
    size_t n = 0;

    argv[n++] = f->qf;
    argv[n++] = "--config";
    argv[n++] = f->config;
    argv[n++] = "plugins";
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    ck_assert_int_eq(qf_test_run_argv(argv, env, f->root, 30, run), 0);
}

/* The standard layout: a good provider in env and in the built-in folder,
 * an ABI 2.0 plugin in a. */
typedef struct layout {
    char *env_good;
    char *a_major;
    char *builtin_good;
} layout;

static void layout_install(fixture *f, layout *l)
{
    l->env_good = install(f->env_dir, "shadow_first", "good_provider");
    l->a_major = install(f->a_dir, "abi_major", "abi_major");
    l->builtin_good = install(f->builtin_dir, "shadow_second", "good_provider");
}

static void layout_free(layout *l)
{
    free(l->env_good);
    free(l->a_major);
    free(l->builtin_good);
}

static const char *string_of(const cJSON *object, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(object, key));
}

/* --- scan ------------------------------------------------------------ */

START_TEST(scan_reports_counts_and_problems)
{
    fixture f;
    layout l;
    qf_test_run run;
    char *expected = NULL, *again = NULL;
    char problem[1024];
    const char *scan[] = {"scan", NULL};
    const char *force[] = {"scan", "--force", NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    snprintf(problem, sizeof(problem),
             "  incompatible: %s: built for plugin ABI 2.0, this host speaks "
             "1.0; rebuild the plugin against SDK 1.x\n",
             l.a_major);
    ck_assert_int_ge(asprintf(&expected,
                              "Scanned 3 plugin folders: 3 files opened, 0 "
                              "unchanged, 0 removed, 1 not ok.\n%s",
                              problem),
                     0);
    ck_assert_int_ge(asprintf(&again,
                              "Scanned 3 plugin folders: 0 files opened, 3 "
                              "unchanged, 0 removed, 1 not ok.\n%s",
                              problem),
                     0);
    run_qf(&f, &run, scan);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_str_eq(run.out, expected);
    qf_test_run_free(&run);

    run_qf(&f, &run, scan);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_str_eq(run.out, again);
    qf_test_run_free(&run);

    run_qf(&f, &run, force);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_str_eq(run.out, expected);
    qf_test_run_free(&run);
    free(again);
    free(expected);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

START_TEST(scan_json_lists_folders)
{
    fixture f;
    layout l;
    qf_test_run run;
    cJSON *root, *dirs, *problems;
    const char *args[] = {"scan", "--json", NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 0);
    root = cJSON_Parse(run.out);
    ck_assert_ptr_nonnull(root);

    dirs = cJSON_GetObjectItem(root, "directories");
    ck_assert_int_eq(cJSON_GetArraySize(dirs), 3);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(dirs, 0)),
                     f.env_dir);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(dirs, 1)),
                     f.a_dir);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(dirs, 2)),
                     f.builtin_dir);
    ck_assert_int_eq(cJSON_GetObjectItem(root, "scanned")->valueint, 3);
    ck_assert_int_eq(cJSON_GetObjectItem(root, "failed")->valueint, 1);
    problems = cJSON_GetObjectItem(root, "problems");
    ck_assert_int_eq(cJSON_GetArraySize(problems), 1);
    ck_assert_str_eq(string_of(cJSON_GetArrayItem(problems, 0), "path"),
                     l.a_major);
    ck_assert_str_eq(string_of(cJSON_GetArrayItem(problems, 0), "status"),
                     "incompatible");
    cJSON_Delete(root);
    qf_test_run_free(&run);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

START_TEST(scan_fails_on_duplicate_id)
{
    fixture f;
    qf_test_run run;
    char *dup_a, *dup_b, *expected = NULL;
    const char *args[] = {"scan", NULL};

    fixture_open(&f);
    dup_a = install(f.a_dir, "dup", "dup_a");
    dup_b = install(f.a_dir, "dup", "dup_b");
    ck_assert_int_ge(asprintf(&expected,
                              "qf: error: duplicate plugin id \"dup\" in "
                              "folder %s: %s and %s; remove or rename all but "
                              "one of them\n",
                              f.a_dir, dup_a, dup_b),
                     0);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.err, expected);
    qf_test_run_free(&run);
    free(expected);
    free(dup_b);
    free(dup_a);
    fixture_close(&f);
}
END_TEST

START_TEST(scan_warns_rejected_override)
{
    fixture f;
    qf_test_run run;
    char *env_bad, *builtin_good, *expected = NULL, *reason = NULL;
    cJSON *root, *plugins, *first, *second;
    const char *scan[] = {"scan", NULL};
    const char *list[] = {"list", "--json", NULL};

    fixture_open(&f);
    env_bad = install(f.env_dir, "shadow_first", "good_provider");
    builtin_good = install(f.builtin_dir, "shadow_second", "good_provider");
    ck_assert_int_eq(chmod(env_bad, 0664), 0);
    ck_assert_int_ge(asprintf(&reason,
                              "%s: the plugin file is writable by group or "
                              "others (mode 0664); run: chmod go-w '%s'",
                              env_bad, env_bad),
                     0);
    ck_assert_int_ge(asprintf(&expected,
                              "qf: warn [registry] skipping plugin file %s "
                              "(failed): %s; %s, a file of the same name in a "
                              "later folder, is used instead\n",
                              env_bad, reason, builtin_good),
                     0);
    run_qf(&f, &run, scan);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_str_eq(run.err, expected);
    qf_test_run_free(&run);

    run_qf(&f, &run, list);
    ck_assert_int_eq(run.exit_code, 0);
    root = cJSON_Parse(run.out);
    ck_assert_ptr_nonnull(root);
    plugins = cJSON_GetObjectItem(root, "plugins");
    ck_assert_int_eq(cJSON_GetArraySize(plugins), 2);
    first = cJSON_GetArrayItem(plugins, 0);
    second = cJSON_GetArrayItem(plugins, 1);
    ck_assert_str_eq(string_of(first, "path"), env_bad);
    ck_assert_str_eq(string_of(first, "status"), "failed");
    ck_assert_str_eq(string_of(first, "error"), reason);
    ck_assert_str_eq(string_of(second, "path"), builtin_good);
    ck_assert_str_eq(string_of(second, "status"), "ok");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(second, "shadowed")));
    cJSON_Delete(root);
    qf_test_run_free(&run);
    free(expected);
    free(reason);
    free(builtin_good);
    free(env_bad);
    fixture_close(&f);
}
END_TEST

/* --- list ------------------------------------------------------------ */

START_TEST(list_scans_empty_registry)
{
    fixture f;
    layout l;
    qf_test_run run;
    char *expected = NULL;
    const char *args[] = {"list", NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    ck_assert_int_ge(
        asprintf(&expected,
                 "ID                   KIND          VERSION   STATUS       "
                 "PATH\n"
                 "good_provider        provider      1.2.3     ok           "
                 "%s\n"
                 "-                    -             -         incompatible "
                 "%s\n"
                 "good_provider        provider      1.2.3     ok           "
                 "%s (shadowed by %s)\n",
                 l.env_good, l.a_major, l.builtin_good, l.env_good),
        0);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_str_eq(run.out, expected);
    qf_test_run_free(&run);
    free(expected);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

START_TEST(list_reads_registry_alone)
{
    fixture f;
    layout l;
    qf_test_run run;
    cJSON *root, *plugins, *third;
    const char *scan[] = {"scan", NULL};
    const char *list[] = {"list", "--json", NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    run_qf(&f, &run, scan);
    qf_test_run_free(&run);

    /* A file added after the scan stays unlisted until the next scan. */
    free(install(f.a_dir, "dup", "dup_a"));
    run_qf(&f, &run, list);
    ck_assert_int_eq(run.exit_code, 0);
    root = cJSON_Parse(run.out);
    ck_assert_ptr_nonnull(root);
    plugins = cJSON_GetObjectItem(root, "plugins");
    ck_assert_int_eq(cJSON_GetArraySize(plugins), 3);
    third = cJSON_GetArrayItem(plugins, 2);
    ck_assert_str_eq(string_of(third, "id"), "good_provider");
    ck_assert_str_eq(string_of(third, "kind"), "provider");
    ck_assert_str_eq(string_of(third, "version"), "1.2.3");
    ck_assert_str_eq(string_of(third, "status"), "ok");
    ck_assert_str_eq(string_of(third, "path"), l.builtin_good);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(third, "shadowed")));
    ck_assert_str_eq(string_of(third, "shadowed_by"), l.env_good);
    ck_assert(cJSON_IsNull(
        cJSON_GetObjectItem(cJSON_GetArrayItem(plugins, 1), "id")));
    cJSON_Delete(root);
    qf_test_run_free(&run);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

/* --- info ------------------------------------------------------------ */

START_TEST(info_json_shows_schema)
{
    fixture f;
    layout l;
    qf_test_run run;
    cJSON *root, *caps, *options, *key;
    const char *args[] = {"info", "good_provider", "--json", NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 0);
    root = cJSON_Parse(run.out);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(string_of(root, "id"), "good_provider");
    ck_assert_str_eq(string_of(root, "name"), "Good provider");
    ck_assert_str_eq(string_of(root, "version"), "1.2.3");
    ck_assert_str_eq(string_of(root, "kind"), "provider");
    ck_assert_str_eq(string_of(root, "abi"), "1.0");
    ck_assert_str_eq(string_of(root, "status"), "ok");
    ck_assert_str_eq(string_of(root, "path"), l.env_good);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(root, "error")));

    caps = cJSON_GetObjectItem(root, "capabilities");
    ck_assert_int_eq(cJSON_GetArraySize(caps), 2);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(caps, 1)),
                     "stream");
    options = cJSON_GetObjectItem(root, "options");
    ck_assert_int_eq(cJSON_GetArraySize(options), 3);
    key = cJSON_GetArrayItem(options, 1);
    ck_assert_str_eq(string_of(key, "name"), "api_key");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(key, "secret")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(key, "default")));
    ck_assert_ptr_null(strstr(run.out, "not-a-real-key"));
    cJSON_Delete(root);
    qf_test_run_free(&run);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

START_TEST(info_text_shows_fields)
{
    fixture f;
    layout l;
    qf_test_run run;
    const char *args[] = {"info", "good_provider", NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(run.out, "id:           good_provider\n"));
    ck_assert_ptr_nonnull(strstr(run.out, "capabilities: text stream\n"));
    ck_assert_ptr_nonnull(strstr(run.out,
                                 "  model                string  "
                                 "default=sim-small        Model name sent "
                                 "upstream.\n"));
    ck_assert_ptr_nonnull(strstr(run.out,
                                 "  timeout_seconds      int     required  "
                                 "               Total timeout in seconds.\n"));
    ck_assert_ptr_nonnull(strstr(run.out, "status:       ok\n"));
    ck_assert_ptr_null(strstr(run.out, "not-a-real-key"));
    qf_test_run_free(&run);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

START_TEST(info_by_path_shows_error)
{
    fixture f;
    layout l;
    qf_test_run run;
    char *expected = NULL;
    const char *args[] = {"info", NULL, NULL};

    fixture_open(&f);
    layout_install(&f, &l);
    args[1] = l.a_major;
    ck_assert_int_ge(asprintf(&expected,
                              "error:        %s: built for plugin ABI 2.0, "
                              "this host speaks 1.0; rebuild the plugin "
                              "against SDK 1.x\n",
                              l.a_major),
                     0);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(run.out, "status:       incompatible\n"));
    ck_assert_ptr_nonnull(strstr(run.out, expected));
    qf_test_run_free(&run);
    free(expected);
    layout_free(&l);
    fixture_close(&f);
}
END_TEST

START_TEST(info_unknown_id_fails)
{
    fixture f;
    qf_test_run run;
    char *expected = NULL;
    const char *args[] = {"info", "missing", NULL};

    fixture_open(&f);
    ck_assert_int_ge(asprintf(&expected,
                              "qf: error: no plugin with id or path "
                              "\"missing\" in the registry "
                              "%s/state/registry.db; run 'qf plugins list' "
                              "to see what is there\n",
                              f.root),
                     0);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 1);
    ck_assert_str_eq(run.err, expected);
    qf_test_run_free(&run);
    free(expected);
    fixture_close(&f);
}
END_TEST

/* --- usage ----------------------------------------------------------- */

START_TEST(help_for_each_command)
{
    static const char *const commands[] = {"scan", "list", "info"};
    fixture f;
    qf_test_run run;

    fixture_open(&f);
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = {commands[i], "--help", NULL};
        char prefix[64];

        snprintf(prefix, sizeof(prefix), "usage: qf plugins %s ", commands[i]);
        run_qf(&f, &run, args);
        ck_assert_int_eq(run.exit_code, 0);
        ck_assert_int_eq(strncmp(run.out, prefix, strlen(prefix)), 0);
        qf_test_run_free(&run);
    }
    {
        const char *args[] = {"--help", NULL};
        run_qf(&f, &run, args);
        ck_assert_int_eq(run.exit_code, 0);
        ck_assert_int_eq(strncmp(run.out, "usage: qf plugins COMMAND", 25), 0);
        qf_test_run_free(&run);
    }
    fixture_close(&f);
}
END_TEST

START_TEST(unknown_command_is_usage_error)
{
    fixture f;
    qf_test_run run;
    const char *args[] = {"frobnicate", NULL};
    const char *bad_flag[] = {"scan", "--fast", NULL};

    fixture_open(&f);
    run_qf(&f, &run, args);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.err, "qf: plugins: unknown command 'frobnicate'; "
                              "run 'qf plugins --help'\n");
    qf_test_run_free(&run);

    run_qf(&f, &run, bad_flag);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.err, "qf: plugins scan: unknown argument '--fast'; "
                              "run 'qf plugins scan --help'\n");
    qf_test_run_free(&run);
    fixture_close(&f);
}
END_TEST

static Suite *qf_plugins_suite(void)
{
    Suite *s = suite_create("qf_plugins");
    TCase *tc = tcase_create("commands");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scan_reports_counts_and_problems);
    tcase_add_test(tc, scan_json_lists_folders);
    tcase_add_test(tc, scan_fails_on_duplicate_id);
    tcase_add_test(tc, scan_warns_rejected_override);
    tcase_add_test(tc, list_scans_empty_registry);
    tcase_add_test(tc, list_reads_registry_alone);
    tcase_add_test(tc, info_json_shows_schema);
    tcase_add_test(tc, info_text_shows_fields);
    tcase_add_test(tc, info_by_path_shows_error);
    tcase_add_test(tc, info_unknown_id_fails);
    tcase_add_test(tc, help_for_each_command);
    tcase_add_test(tc, unknown_command_is_usage_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(qf_plugins_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

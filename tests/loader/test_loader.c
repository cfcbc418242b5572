/*
 * test_loader.c - the ABI handshake against the broken test plugins, the
 * descriptor checks on descriptors built here, the permission check and the
 * plugin search path. Every rejection is compared with its full message.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "loader.h"
#include "testutil.h"

/* Path of a broken test plugin: <plugins>/broken/<folder>/<name>.so */
static char *broken_path(const char *folder, const char *name)
{
    char *path = NULL;

    ck_assert_int_ge(
        asprintf(&path, "%s/broken/%s/%s.so", QF_TEST_PLUGIN_DIR, folder, name),
        0);
    return path;
}

/* Open a broken plugin; expect `status` and the message "<path>" + `rest`. */
static void expect_rejection(const char *name, qf_status status,
                             const char *rest)
{
    char *path = broken_path(name, name);
    char expected[2048];
    qf_plugin *plugin = (qf_plugin *)1;
    qf_error err;

    qf_error_init(&err);
    snprintf(expected, sizeof(expected), "%s%s", path, rest);
    ck_assert_int_eq(qf_loader_open(path, &plugin, &err), status);
    ck_assert_ptr_null(plugin);
    ck_assert_int_eq(err.status, status);
    ck_assert_str_eq(err.message, expected);
    free(path);
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

/* A fresh temporary folder with symlinks resolved, mode 0700. */
static char *real_tmpdir(const char *tag)
{
    char *dir = qf_test_tmpdir(tag);
    char *real;

    ck_assert_ptr_nonnull(dir);
    real = realpath(dir, NULL);
    ck_assert_ptr_nonnull(real);
    free(dir);
    ck_assert_int_eq(chmod(real, 0700), 0);
    return real;
}

/* --- Handshake with the broken plugins ------------------------------- */

START_TEST(loader_opens_good_provider)
{
    char *path = broken_path("shadow_first", "good_provider");
    qf_plugin *plugin = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_open(path, &plugin, &err), QF_OK);
    ck_assert_ptr_nonnull(plugin);
    ck_assert_str_eq(plugin->path, path);
    ck_assert_ptr_nonnull(plugin->handle);
    ck_assert_str_eq(plugin->descriptor->id, "good_provider");
    ck_assert_str_eq(plugin->descriptor->version, "1.2.3");
    ck_assert_int_eq(plugin->descriptor->kind, QF_KIND_PROVIDER);
    qf_plugin_free(plugin);
    free(path);
}
END_TEST

START_TEST(loader_rejects_abi_major)
{
    expect_rejection("abi_major", QF_ERR_ABI,
                     ": built for plugin ABI 2.0, this host speaks 1.0; "
                     "rebuild the plugin against SDK 1.x");
}
END_TEST

START_TEST(loader_rejects_abi_minor)
{
    expect_rejection("abi_minor", QF_ERR_ABI,
                     ": built for plugin ABI 1.99, newer than this host's "
                     "1.0; rebuild the plugin against SDK 1.0 or upgrade the "
                     "host");
}
END_TEST

START_TEST(loader_rejects_build_tag)
{
    char rest[512];

    snprintf(rest, sizeof(rest),
             ": build tag 0x00200007 (32-bit pointers, ABI revision 7) "
             "does not match this host's 0x%08x (%u-bit pointers, ABI "
             "revision 1); rebuild the plugin against SDK 1.0 for this "
             "platform",
             (unsigned)QF_BUILD_TAG, (unsigned)(sizeof(void *) * 8));
    expect_rejection("build_tag", QF_ERR_ABI, rest);
}
END_TEST

START_TEST(loader_rejects_small_descriptor)
{
    char rest[512];

    /* At ABI 1.0 the v1 size is the whole descriptor. */
    snprintf(rest, sizeof(rest),
             ": descriptor size is 16 bytes, plugin ABI 1.0 needs at "
             "least %zu; rebuild the plugin against SDK 1.0",
             sizeof(qf_plugin_descriptor));
    expect_rejection("small_descriptor", QF_ERR_ABI, rest);
}
END_TEST

START_TEST(loader_rejects_no_entry)
{
    expect_rejection("no_entry", QF_ERR_ABI,
                     ": the file exports no qf_plugin_entry symbol; a "
                     "plugin must define its entry with QF_PLUGIN_DEFINE");
}
END_TEST

START_TEST(loader_rejects_null_descriptor)
{
    expect_rejection("null_descriptor", QF_ERR_ABI,
                     ": qf_plugin_entry returned NULL instead of a "
                     "descriptor; return a static descriptor with "
                     "QF_PLUGIN_DEFINE");
}
END_TEST

START_TEST(loader_rejects_bad_id)
{
    expect_rejection("bad_id", QF_ERR_ABI,
                     ": plugin id \"Bad-ID\" is invalid; expected 1 to 64 "
                     "characters of [a-z0-9_]");
}
END_TEST

START_TEST(loader_rejects_no_vtable)
{
    expect_rejection("no_vtable", QF_ERR_ABI,
                     ": plugin \"no_vtable\" is a provider but its "
                     "descriptor has no provider vtable; set the "
                     "descriptor's provider field");
}
END_TEST

START_TEST(loader_rejects_non_elf_file)
{
    char *dir = real_tmpdir("loader");
    char *path = qf_test_write_file(
        dir, "text.so",
        "This text file is longer than an ELF header but is not a shared "
        "object, so dlopen must reject it.\n");
    const char *tail = "; check that it is a shared object built for this "
                       "platform";
    qf_plugin *plugin = NULL;
    char prefix[PATH_MAX + 64];
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_open(path, &plugin, &err), QF_ERR_IO);
    ck_assert_ptr_null(plugin);

    /* The middle of the message is dlerror()'s text, worded by glibc. */
    snprintf(prefix, sizeof(prefix), "%s: cannot open the plugin: %s: ", path,
             path);
    ck_assert_int_eq(strncmp(err.message, prefix, strlen(prefix)), 0);
    ck_assert_str_eq(err.message + strlen(err.message) - strlen(tail), tail);
    ck_assert_ptr_nonnull(strstr(err.message, "ELF"));
    qf_test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* --- Descriptor checks on descriptors built here --------------------- */

static qf_status fake_create(const qf_host *host, qf_context *ctx,
                             void **instance, qf_error *err)
{
    *instance = NULL;
    return QF_OK;
}

static void fake_destroy(void *instance)
{
}

static qf_status fake_complete(void *instance, const qf_request *req,
                               qf_response *resp, qf_error *err)
{
    return QF_OK;
}

static qf_status fake_on_request(void *instance, void **state, qf_request *req,
                                 qf_response *resp, qf_error *err)
{
    return QF_OK;
}

static qf_provider_vtable fake_provider;
static qf_middleware_vtable fake_middleware;
static qf_option_spec fake_option;
static qf_plugin_descriptor fake;

static void reset_fake(void)
{
    qf_plugin_descriptor d = {0};
    qf_provider_vtable p = {sizeof(p), fake_create, fake_destroy, fake_complete,
                            NULL};
    qf_middleware_vtable m = {sizeof(m),       fake_create, fake_destroy,
                              fake_on_request, NULL,        NULL};
    qf_option_spec o = {sizeof(o), "model", QF_OPT_STRING, NULL, 0, NULL};

    fake_provider = p;
    fake_middleware = m;
    fake_option = o;
    d.size = sizeof(d);
    d.abi_major = QF_ABI_MAJOR;
    d.abi_minor = QF_ABI_MINOR;
    d.build_tag = QF_BUILD_TAG;
    d.id = "fake";
    d.kind = QF_KIND_PROVIDER;
    d.provider = &fake_provider;
    d.options = &fake_option;
    d.option_count = 1;
    fake = d;
}

static void expect_fake(qf_status status, const char *message)
{
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_check_descriptor(&fake, "x.so", &err), status);
    if (message != NULL)
        ck_assert_str_eq(err.message, message);
}

START_TEST(descriptor_accepts_fake_provider)
{
    reset_fake();
    expect_fake(QF_OK, NULL);
}
END_TEST

START_TEST(descriptor_accepts_minimal_middleware)
{
    /* A middleware needs create, destroy and on_request only. */
    reset_fake();
    fake.kind = QF_KIND_MIDDLEWARE;
    fake.provider = NULL;
    fake.middleware = &fake_middleware;
    expect_fake(QF_OK, NULL);
}
END_TEST

static qf_status fake_get(void *instance, const char *key, void **value,
                          size_t *len, int64_t *created_ms, qf_error *err)
{
    return QF_ERR_NOT_FOUND;
}

static qf_status fake_put(void *instance, const char *key, const void *value,
                          size_t len, int64_t ttl_seconds, qf_error *err)
{
    return QF_OK;
}

START_TEST(descriptor_accepts_minimal_cache_backend)
{
    qf_cache_backend_vtable cache = {sizeof(cache), fake_create, fake_destroy,
                                     fake_get,      fake_put,    NULL,
                                     NULL,          NULL,        NULL};

    reset_fake();
    fake.kind = QF_KIND_CACHE_BACKEND;
    fake.provider = NULL;
    fake.cache_backend = &cache;
    expect_fake(QF_OK, NULL);

    cache.put = NULL;
    expect_fake(QF_ERR_ABI, "x.so: cache_backend vtable of plugin \"fake\" "
                            "lacks a required function; a cache_backend needs "
                            "create, destroy, get and put");
}
END_TEST

START_TEST(descriptor_rejects_missing_id)
{
    reset_fake();
    fake.id = NULL;
    expect_fake(QF_ERR_ABI, "x.so: the descriptor has no plugin id; set id "
                            "to 1 to 64 characters of [a-z0-9_]");
}
END_TEST

START_TEST(descriptor_rejects_long_id)
{
    char id[66];

    memset(id, 'a', 65);
    id[65] = '\0';
    reset_fake();
    fake.id = id;
    expect_fake(QF_ERR_ABI,
                "x.so: plugin id \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "aaaaaaaaaaaaaaaaaaaaaa\" is invalid; expected 1 to 64 "
                "characters of [a-z0-9_]");
    id[64] = '\0';
    expect_fake(QF_OK, NULL);
}
END_TEST

START_TEST(descriptor_rejects_empty_id)
{
    reset_fake();
    fake.id = "";
    expect_fake(QF_ERR_ABI, "x.so: plugin id \"\" is invalid; expected 1 to "
                            "64 characters of [a-z0-9_]");
}
END_TEST

START_TEST(descriptor_rejects_unknown_kind)
{
    reset_fake();
    fake.kind = (qf_plugin_kind)9;
    expect_fake(QF_ERR_ABI, "x.so: plugin \"fake\" has unknown kind 9; "
                            "expected 1 (provider), 2 (middleware) or 3 "
                            "(cache_backend)");
}
END_TEST

START_TEST(descriptor_rejects_small_vtable)
{
    char expected[256];

    reset_fake();
    fake_provider.size = 8;
    snprintf(expected, sizeof(expected),
             "x.so: provider vtable of plugin \"fake\" is 8 bytes, plugin "
             "ABI 1.0 needs at least %zu; rebuild the plugin against SDK 1.0",
             sizeof(qf_provider_vtable));
    expect_fake(QF_ERR_ABI, expected);
}
END_TEST

START_TEST(descriptor_rejects_missing_create)
{
    reset_fake();
    fake_provider.create = NULL;
    expect_fake(QF_ERR_ABI, "x.so: provider vtable of plugin \"fake\" lacks "
                            "a required function; a provider needs create, "
                            "destroy and complete or generate_image");
    reset_fake();
    fake_provider.destroy = NULL;
    expect_fake(QF_ERR_ABI, NULL);
}
END_TEST

START_TEST(descriptor_rejects_provider_without_work)
{
    reset_fake();
    fake_provider.complete = NULL;
    expect_fake(QF_ERR_ABI, "x.so: provider vtable of plugin \"fake\" lacks "
                            "a required function; a provider needs create, "
                            "destroy and complete or generate_image");
    fake_provider.generate_image = fake_complete;
    expect_fake(QF_OK, NULL);
}
END_TEST

START_TEST(descriptor_rejects_middleware_vtable_missing)
{
    reset_fake();
    fake.kind = QF_KIND_MIDDLEWARE;
    expect_fake(QF_ERR_ABI, "x.so: plugin \"fake\" is a middleware but its "
                            "descriptor has no middleware vtable; set the "
                            "descriptor's middleware field");
}
END_TEST

START_TEST(descriptor_rejects_cache_backend_vtable_missing)
{
    reset_fake();
    fake.kind = QF_KIND_CACHE_BACKEND;
    expect_fake(QF_ERR_ABI, "x.so: plugin \"fake\" is a cache_backend but its "
                            "descriptor has no cache_backend vtable; set the "
                            "descriptor's cache_backend field");
}
END_TEST

START_TEST(descriptor_rejects_bad_options)
{
    reset_fake();
    fake.options = NULL;
    expect_fake(QF_ERR_ABI, "x.so: plugin \"fake\" declares 1 options but "
                            "its options array is NULL; set options or make "
                            "option_count 0");
    reset_fake();
    fake_option.name = NULL;
    expect_fake(QF_ERR_ABI, NULL);
}
END_TEST

/* --- Permissions ----------------------------------------------------- */

START_TEST(permissions_reject_writable_file)
{
    char *dir = real_tmpdir("perm");
    char *from = broken_path("shadow_first", "good_provider");
    char *path = NULL, *expected = NULL;
    qf_plugin *plugin = NULL;
    qf_error err;

    ck_assert_int_ge(asprintf(&path, "%s/good_provider.so", dir), 0);
    copy_file(from, path, 0666);
    ck_assert_int_ge(asprintf(&expected,
                              "%s: the plugin file is writable by group or "
                              "others (mode 0666); run: chmod go-w '%s'",
                              path, path),
                     0);

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_check_permissions(path, &err), QF_ERR_IO);
    ck_assert_str_eq(err.message, expected);

    /* The loader checks before dlopen, so the file is never opened. */
    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_open(path, &plugin, &err), QF_ERR_IO);
    ck_assert_ptr_null(plugin);
    ck_assert_str_eq(err.message, expected);

    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_int_eq(qf_loader_check_permissions(path, &err), QF_OK);
    qf_test_rmtree(dir);
    free(expected);
    free(path);
    free(from);
    free(dir);
}
END_TEST

START_TEST(permissions_reject_writable_folder)
{
    char *dir = real_tmpdir("perm");
    char *from = broken_path("shadow_first", "good_provider");
    char *path = NULL, *expected = NULL;
    qf_error err;

    ck_assert_int_ge(asprintf(&path, "%s/good_provider.so", dir), 0);
    copy_file(from, path, 0644);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_int_ge(asprintf(&expected,
                              "%s: the plugin folder is writable by group or "
                              "others (mode 0777); run: chmod go-w '%s'",
                              dir, dir),
                     0);

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_check_permissions(path, &err), QF_ERR_IO);
    ck_assert_str_eq(err.message, expected);
    qf_test_rmtree(dir);
    free(expected);
    free(path);
    free(from);
    free(dir);
}
END_TEST

START_TEST(permissions_resolve_symlink)
{
    char *dir = real_tmpdir("perm");
    char *from = broken_path("shadow_first", "good_provider");
    char *target = NULL, *link = NULL, *expected = NULL;
    qf_error err;

    /* The link sits in a safe folder; its target is world-writable. */
    ck_assert_int_ge(asprintf(&target, "%s/real.so", dir), 0);
    ck_assert_int_ge(asprintf(&link, "%s/link.so", dir), 0);
    copy_file(from, target, 0666);
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_ge(asprintf(&expected,
                              "%s: the plugin file is writable by group or "
                              "others (mode 0666); run: chmod go-w '%s'",
                              target, target),
                     0);

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_check_permissions(link, &err), QF_ERR_IO);
    ck_assert_str_eq(err.message, expected);
    qf_test_rmtree(dir);
    free(expected);
    free(link);
    free(target);
    free(from);
    free(dir);
}
END_TEST

START_TEST(permissions_reject_missing_file)
{
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_check_permissions("/nonexistent/qf/x.so", &err),
                     QF_ERR_IO);
    ck_assert_str_eq(err.message, "/nonexistent/qf/x.so: cannot resolve the "
                                  "path: No such file or directory");
}
END_TEST

/* --- Search path ----------------------------------------------------- */

/* The built-in folder as seen from build/tests/<this test>. */
static char *expected_builtin(void)
{
    char *plugins = qf_test_build_path("plugins");
    char *build = realpath(QF_TEST_BUILD_DIR, NULL);
    char *out = NULL;
    struct stat st;

    ck_assert_ptr_nonnull(build);
    if (stat(plugins, &st) == 0 && S_ISDIR(st.st_mode))
        out = realpath(plugins, NULL);
    else
        ck_assert_int_ge(asprintf(&out, "%s/%s", build, QF_PLUGIN_INSTALL_DIR),
                         0);
    free(plugins);
    free(build);
    return out;
}

START_TEST(search_dirs_order_and_duplicates)
{
    char *configured[] = {"/q/c", "/q/b", NULL};
    char *builtin = expected_builtin();
    char **dirs = NULL;
    qf_error err;

    setenv("QF_PLUGIN_PATH", "/q/a::/q/b/:/q/a:", 1);
    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_search_dirs(configured, &dirs, &err), QF_OK);
    ck_assert_str_eq(dirs[0], "/q/a");
    ck_assert_str_eq(dirs[1], "/q/b");
    ck_assert_str_eq(dirs[2], "/q/c");
    ck_assert_str_eq(dirs[3], builtin);
    ck_assert_ptr_null(dirs[4]);
    qf_config_strings_free(dirs);
    free(builtin);
}
END_TEST

START_TEST(search_dirs_builtin_only)
{
    char *builtin = expected_builtin();
    char **dirs = NULL;
    qf_error err;

    unsetenv("QF_PLUGIN_PATH");
    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_search_dirs(NULL, &dirs, &err), QF_OK);
    ck_assert_str_eq(dirs[0], builtin);
    ck_assert_ptr_null(dirs[1]);
    qf_config_strings_free(dirs);
    free(builtin);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *handshake = tcase_create("handshake");
    TCase *descriptor = tcase_create("descriptor");
    TCase *permissions = tcase_create("permissions");
    TCase *search = tcase_create("search");

    tcase_add_test(handshake, loader_opens_good_provider);
    tcase_add_test(handshake, loader_rejects_abi_major);
    tcase_add_test(handshake, loader_rejects_abi_minor);
    tcase_add_test(handshake, loader_rejects_build_tag);
    tcase_add_test(handshake, loader_rejects_small_descriptor);
    tcase_add_test(handshake, loader_rejects_no_entry);
    tcase_add_test(handshake, loader_rejects_null_descriptor);
    tcase_add_test(handshake, loader_rejects_bad_id);
    tcase_add_test(handshake, loader_rejects_no_vtable);
    tcase_add_test(handshake, loader_rejects_non_elf_file);
    suite_add_tcase(s, handshake);

    tcase_add_test(descriptor, descriptor_accepts_fake_provider);
    tcase_add_test(descriptor, descriptor_accepts_minimal_middleware);
    tcase_add_test(descriptor, descriptor_accepts_minimal_cache_backend);
    tcase_add_test(descriptor, descriptor_rejects_missing_id);
    tcase_add_test(descriptor, descriptor_rejects_long_id);
    tcase_add_test(descriptor, descriptor_rejects_empty_id);
    tcase_add_test(descriptor, descriptor_rejects_unknown_kind);
    tcase_add_test(descriptor, descriptor_rejects_small_vtable);
    tcase_add_test(descriptor, descriptor_rejects_missing_create);
    tcase_add_test(descriptor, descriptor_rejects_provider_without_work);
    tcase_add_test(descriptor, descriptor_rejects_middleware_vtable_missing);
    tcase_add_test(descriptor, descriptor_rejects_cache_backend_vtable_missing);
    tcase_add_test(descriptor, descriptor_rejects_bad_options);
    suite_add_tcase(s, descriptor);

    tcase_add_test(permissions, permissions_reject_writable_file);
    tcase_add_test(permissions, permissions_reject_writable_folder);
    tcase_add_test(permissions, permissions_resolve_symlink);
    tcase_add_test(permissions, permissions_reject_missing_file);
    suite_add_tcase(s, permissions);

    tcase_add_test(search, search_dirs_order_and_duplicates);
    tcase_add_test(search, search_dirs_builtin_only);
    suite_add_tcase(s, search);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(loader_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

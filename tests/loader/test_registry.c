/*
 * test_registry.c - the plugin registry: scanning, stored descriptor
 * fields, staleness (mode changes included), vanished files, host ABI
 * changes, duplicate ids, shadowing, rejected files that keep or lose their
 * place, and the search order. Plugins are copies of the test plugins
 * under tests/plugins/broken in fresh temporary folders.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "config.h"
#include "error.h"
#include "loader.h"
#include "registry.h"
#include "testutil.h"

static const char good_options[] =
    "[{\"name\":\"model\",\"type\":\"string\",\"default\":\"sim-small\","
    "\"required\":false,\"secret\":false,"
    "\"description\":\"Model name sent upstream.\"},"
    "{\"name\":\"api_key\",\"type\":\"string\",\"default\":null,"
    "\"required\":false,\"secret\":true,\"description\":\"Bearer token.\"},"
    "{\"name\":\"timeout_seconds\",\"type\":\"int\",\"default\":null,"
    "\"required\":true,\"secret\":false,"
    "\"description\":\"Total timeout in seconds.\"}]";

/* One test's folders: root/a and root/b contain plugins, root/state
 * contains the registry. */
typedef struct fixture {
    char *root;
    char *a;
    char *b;
    char *db_path;
    qf_registry *reg;
} fixture;

static char *join(const char *dir, const char *name)
{
    char *path = NULL;

    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    return path;
}

static void fixture_open(fixture *f)
{
    char *tmp = qf_test_tmpdir("registry");
    qf_error err;

    ck_assert_ptr_nonnull(tmp);
    f->root = realpath(tmp, NULL);
    ck_assert_ptr_nonnull(f->root);
    free(tmp);
    ck_assert_int_eq(chmod(f->root, 0700), 0);
    f->a = join(f->root, "a");
    f->b = join(f->root, "b");
    ck_assert_int_eq(mkdir(f->a, 0700), 0);
    ck_assert_int_eq(mkdir(f->b, 0700), 0);
    f->db_path = join(f->root, "state/registry.db");

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_open(f->db_path, &f->reg, &err), QF_OK);
}

static void fixture_close(fixture *f)
{
    qf_registry_close(f->reg);
    qf_test_rmtree(f->root);
    free(f->db_path);
    free(f->b);
    free(f->a);
    free(f->root);
}

/* Copy the built test plugin <folder>/<name>.so into `dir`; returns the
 * copy's path. */
static char *install(const char *dir, const char *folder, const char *name,
                     mode_t mode)
{
    char *from = NULL, *to = NULL, *data;
    size_t len = 0;
    FILE *out;

    ck_assert_int_ge(
        asprintf(&from, "%s/broken/%s/%s.so", QF_TEST_PLUGIN_DIR, folder, name),
        0);
    ck_assert_int_ge(asprintf(&to, "%s/%s.so", dir, name), 0);
    data = qf_test_read_file(from, &len);
    ck_assert_ptr_nonnull(data);
    out = fopen(to, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(data, 1, len, out), len);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(chmod(to, mode), 0);
    free(data);
    free(from);
    return to;
}

static qf_status scan(fixture *f, char **dirs, int force,
                      qf_scan_report *report, qf_error *err)
{
    qf_error_init(err);
    return qf_registry_scan(f->reg, dirs, force, report, err);
}

static qf_registry_entry *list(fixture *f, size_t *count)
{
    qf_registry_entry *entries = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_list(f->reg, &entries, count, &err), QF_OK);
    return entries;
}

static void sha256_hex(const char *path, char hex[65])
{
    size_t len = 0;
    char *data = qf_test_read_file(path, &len);
    unsigned char digest[32];
    unsigned int digest_len = 0;

    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(
        EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL), 1);
    for (unsigned int i = 0; i < digest_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    free(data);
}

static void run_sql(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;

    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Run a scan with stderr sent to a file; returns what was logged. */
static char *scan_logged(fixture *f, char **dirs, qf_scan_report *report,
                         qf_status *status)
{
    char *log_path = join(f->root, "scan.log");
    int saved, fd;
    qf_error err;
    char *text;

    fflush(stderr);
    saved = dup(STDERR_FILENO);
    fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);

    *status = scan(f, dirs, 0, report, &err);
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);

    text = qf_test_read_file(log_path, NULL);
    ck_assert_ptr_nonnull(text);
    free(log_path);
    return text;
}

/* The permission check's message for a file or folder with `mode`. */
static void writable_message(char *out, size_t len, const char *what,
                             const char *path, unsigned mode)
{
    snprintf(out, len,
             "%s: the plugin %s is writable by group or others (mode %04o); "
             "run: chmod go-w '%s'",
             path, what, mode, path);
}

/* --- Recording ------------------------------------------------------- */

START_TEST(registry_records_descriptor_fields)
{
    fixture f;
    char *dirs[2];
    char *path;
    char hex[65];
    qf_scan_report report;
    qf_registry_entry *entries;
    size_t count = 0;
    struct stat st;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.unchanged, 0);
    ck_assert_int_eq(report.removed, 0);
    ck_assert_int_eq(report.failed, 0);

    entries = list(&f, &count);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(stat(path, &st), 0);
    sha256_hex(path, hex);
    ck_assert_str_eq(entries[0].path, path);
    ck_assert_str_eq(entries[0].dir, f.a);
    ck_assert_int_eq(entries[0].size, st.st_size);
    ck_assert_int_eq(entries[0].mtime, (int64_t)st.st_mtim.tv_sec * 1000000000 +
                                           st.st_mtim.tv_nsec);
    ck_assert_int_eq(entries[0].inode, (int64_t)st.st_ino);
    ck_assert_str_eq(entries[0].sha256, hex);
    ck_assert_str_eq(entries[0].status, "ok");
    ck_assert_ptr_null(entries[0].error);
    ck_assert_str_eq(entries[0].id, "good_provider");
    ck_assert_str_eq(entries[0].name, "Good provider");
    ck_assert_str_eq(entries[0].version, "1.2.3");
    ck_assert_str_eq(entries[0].kind, "provider");
    ck_assert_str_eq(entries[0].abi, "1.0");
    ck_assert_str_eq(entries[0].capabilities, "[\"text\",\"stream\"]");
    ck_assert_str_eq(entries[0].options, good_options);
    ck_assert_str_eq(entries[0].description,
                     "A provider that answers nothing but loads cleanly.");
    ck_assert_ptr_null(entries[0].shadowed_by);
    qf_registry_entries_free(entries, count);
    free(path);
    fixture_close(&f);
}
END_TEST

/* The bytes of a database file followed by those of its WAL, if any. */
static char *read_db_and_wal(const char *db_path, size_t *len)
{
    char wal_path[4200];
    size_t db_len = 0, wal_len = 0;
    char *db = qf_test_read_file(db_path, &db_len);
    char *wal, *both;

    snprintf(wal_path, sizeof(wal_path), "%s-wal", db_path);
    wal = qf_test_read_file(wal_path, &wal_len);
    both = malloc(db_len + wal_len + 1);
    if (db != NULL)
        memcpy(both, db, db_len);
    if (wal != NULL)
        memcpy(both + db_len, wal, wal_len);
    both[db_len + wal_len] = '\0';
    *len = db_len + wal_len;
    free(db);
    free(wal);
    return both;
}

START_TEST(registry_never_stores_secret_default)
{
    fixture f;
    char *dirs[2];
    char *path;
    char *db_text;
    size_t len = 0;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    qf_registry_close(f.reg);
    f.reg = NULL;

    /* Closing leaves recent pages in the WAL, so both files are read. */
    db_text = read_db_and_wal(f.db_path, &len);
    ck_assert_ptr_nonnull(db_text);
    ck_assert_uint_gt(len, 0);
    ck_assert_ptr_null(memmem(db_text, len, "not-a-real-key", 14));
    ck_assert_ptr_nonnull(memmem(db_text, len, "sim-small", 9));
    free(db_text);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_find_returns_winner)
{
    fixture f;
    char *dirs[2];
    char *path;
    qf_registry_entry entry;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.path, path);
    ck_assert_str_eq(entry.status, "ok");
    qf_registry_entry_clear(&entry);

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "missing", &entry, &err),
                     QF_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "plugin \"missing\" not found "
                                              "in the registry "));
    ck_assert_ptr_nonnull(strstr(err.message, f.db_path));
    ck_assert_ptr_nonnull(strstr(err.message, "run 'qf plugins scan'"));
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_records_rejected_files)
{
    fixture f;
    char *dirs[2];
    char *major, *writable, *text, *readme;
    char expected[2048];
    qf_scan_report report;
    qf_registry_entry *entries;
    size_t count = 0;
    qf_error err;

    fixture_open(&f);
    major = install(f.a, "abi_major", "abi_major", 0755);
    writable = install(f.a, "shadow_first", "good_provider", 0666);
    text = qf_test_write_file(f.a, "text.so",
                              "not a shared object, just "
                              "some text long enough to "
                              "pass the header size check\n");
    readme = qf_test_write_file(f.a, "README.txt", "not a plugin\n");
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 3);
    ck_assert_int_eq(report.failed, 3);

    /* Sorted by path: abi_major, good_provider, text; README.txt skipped. */
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 3);
    ck_assert_str_eq(entries[0].path, major);
    ck_assert_str_eq(entries[0].status, "incompatible");
    snprintf(expected, sizeof(expected),
             "%s: built for plugin ABI 2.0, this host speaks 1.0; rebuild "
             "the plugin against SDK 1.x",
             major);
    ck_assert_str_eq(entries[0].error, expected);
    ck_assert_ptr_null(entries[0].id);
    ck_assert_ptr_nonnull(entries[0].sha256);

    ck_assert_str_eq(entries[1].path, writable);
    ck_assert_str_eq(entries[1].status, "failed");
    snprintf(expected, sizeof(expected),
             "%s: the plugin file is writable by group or others (mode "
             "0666); run: chmod go-w '%s'",
             writable, writable);
    ck_assert_str_eq(entries[1].error, expected);
    ck_assert_ptr_null(entries[1].id);

    ck_assert_str_eq(entries[2].path, text);
    ck_assert_str_eq(entries[2].status, "failed");
    ck_assert_ptr_nonnull(strstr(entries[2].error, "cannot open the plugin"));
    qf_registry_entries_free(entries, count);
    free(readme);
    free(text);
    free(writable);
    free(major);
    fixture_close(&f);
}
END_TEST

/* --- Staleness ------------------------------------------------------- */

START_TEST(registry_skips_current_rows)
{
    fixture f;
    char *dirs[2];
    char *path;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);

    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 0);
    ck_assert_int_eq(report.unchanged, 1);
    ck_assert_int_eq(report.removed, 0);

    ck_assert_int_eq(scan(&f, dirs, 1, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.unchanged, 0);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_rescans_touched_file)
{
    fixture f;
    char *dirs[2];
    char *path;
    struct timespec times[2];
    qf_scan_report report;
    qf_registry_entry *entries;
    size_t count = 0;
    struct stat st;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);

    ck_assert_int_eq(stat(path, &st), 0);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    times[1].tv_sec += 10;
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);

    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.unchanged, 0);
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(entries[0].mtime,
                     (int64_t)times[1].tv_sec * 1000000000 + times[1].tv_nsec);
    qf_registry_entries_free(entries, count);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_removes_vanished_file)
{
    fixture f;
    char *dirs[2];
    char *path;
    qf_scan_report report;
    qf_registry_entry *entries;
    size_t count = 0;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(unlink(path), 0);

    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.removed, 1);
    ck_assert_int_eq(report.scanned, 0);
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 0);
    qf_registry_entries_free(entries, count);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_rescans_after_abi_change)
{
    fixture f;
    char *dirs[2];
    char *path;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);

    /* Pretend an older host wrote the registry. */
    run_sql(f.db_path,
            "UPDATE meta SET value = '0.9.00400001' WHERE key = 'host_abi'");
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.unchanged, 0);

    /* The new host ABI is stored, so the next scan reopens nothing. */
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 0);
    ck_assert_int_eq(report.unchanged, 1);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_stores_host_abi)
{
    fixture f;
    char *dirs[] = {NULL};
    char expected[64];
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    snprintf(expected, sizeof(expected), "1.0.%08x", (unsigned)QF_BUILD_TAG);

    ck_assert_int_eq(sqlite3_open(f.db_path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT value FROM meta WHERE key = "
                                        "'host_abi'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), expected);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_rescans_mode_change)
{
    fixture f;
    char *dirs[2];
    char *path;
    char expected[2048];
    qf_scan_report report;
    qf_registry_entry *entries;
    qf_registry_entry entry;
    size_t count = 0;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(entries[0].mode, 0755);
    ck_assert_int_eq(entries[0].dir_mode, 0700);
    qf_registry_entries_free(entries, count);

    /* chmod changes neither size, mtime nor inode. */
    ck_assert_int_eq(chmod(path, 0775), 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.unchanged, 0);
    ck_assert_int_eq(report.failed, 1);

    /* The same bytes passed before, so the row keeps its id and the
     * runtime reports the chmod fix instead of "not installed". */
    writable_message(expected, sizeof(expected), "file", path, 0775);
    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.path, path);
    ck_assert_str_eq(entry.status, "failed");
    ck_assert_str_eq(entry.error, expected);
    ck_assert_str_eq(entry.version, "1.2.3");
    ck_assert_int_eq(entry.mode, 0775);
    qf_registry_entry_clear(&entry);

    ck_assert_int_eq(scan(&f, dirs, 1, &report, &err), QF_OK);
    ck_assert_int_eq(report.failed, 1);
    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.status, "failed");
    qf_registry_entry_clear(&entry);

    /* Fixing the mode heals the row on a plain scan. */
    ck_assert_int_eq(chmod(path, 0755), 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.failed, 0);
    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.status, "ok");
    ck_assert_ptr_null(entry.error);
    ck_assert_int_eq(entry.mode, 0755);
    qf_registry_entry_clear(&entry);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_rescans_folder_mode_change)
{
    fixture f;
    char *dirs[2];
    char *path;
    char expected[2048];
    qf_scan_report report;
    qf_registry_entry entry;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);

    ck_assert_int_eq(chmod(f.a, 0770), 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.failed, 1);
    writable_message(expected, sizeof(expected), "folder", f.a, 0770);
    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.status, "failed");
    ck_assert_str_eq(entry.error, expected);
    ck_assert_int_eq(entry.dir_mode, 0770);
    qf_registry_entry_clear(&entry);

    ck_assert_int_eq(chmod(f.a, 0700), 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.failed, 0);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_adds_mode_columns)
{
    fixture f;
    char *dirs[2];
    char *path;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    qf_registry_close(f.reg);

    /* A registry written before the mode columns existed. */
    run_sql(f.db_path, "ALTER TABLE plugins DROP COLUMN mode;"
                       "ALTER TABLE plugins DROP COLUMN dir_mode;");
    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_open(f.db_path, &f.reg, &err), QF_OK);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    ck_assert_int_eq(report.unchanged, 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 0);
    ck_assert_int_eq(report.unchanged, 1);
    free(path);
    fixture_close(&f);
}
END_TEST

/* --- Ids ------------------------------------------------------------- */

START_TEST(registry_rejects_duplicate_id_in_folder)
{
    fixture f;
    char *dirs[2];
    char *dup_a, *dup_b;
    char *expected = NULL;
    qf_scan_report report;
    qf_registry_entry *entries;
    size_t count = 0;
    qf_error err;

    fixture_open(&f);
    dup_a = install(f.a, "dup", "dup_a", 0755);
    dup_b = install(f.a, "dup", "dup_b", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    ck_assert_int_ge(asprintf(&expected,
                              "duplicate plugin id \"dup\" in folder %s: %s "
                              "and %s; remove or rename all but one of them",
                              f.a, dup_a, dup_b),
                     0);

    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_ERR_CONFIG);
    ck_assert_str_eq(err.message, expected);
    ck_assert_int_eq(report.failed, 2);

    /* The rows were committed with the error on both. */
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(entries[0].path, dup_a);
    ck_assert_str_eq(entries[0].status, "failed");
    ck_assert_str_eq(entries[0].error, expected);
    ck_assert_str_eq(entries[1].path, dup_b);
    ck_assert_str_eq(entries[1].status, "failed");
    ck_assert_str_eq(entries[1].error, expected);
    qf_registry_entries_free(entries, count);

    /* Removing one copy heals the other without reopening it. */
    ck_assert_int_eq(unlink(dup_b), 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 0);
    ck_assert_int_eq(report.failed, 0);
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(entries[0].status, "ok");
    ck_assert_ptr_null(entries[0].error);
    qf_registry_entries_free(entries, count);
    free(expected);
    free(dup_b);
    free(dup_a);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_shadows_later_folder)
{
    fixture f;
    char *dirs[3];
    char *first, *second;
    qf_scan_report report;
    qf_registry_entry *entries;
    qf_registry_entry entry;
    size_t count = 0;
    qf_error err;

    fixture_open(&f);
    first = install(f.a, "shadow_first", "good_provider", 0755);
    second = install(f.b, "shadow_second", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = f.b;
    dirs[2] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 2);
    ck_assert_int_eq(report.failed, 0);

    entries = list(&f, &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(entries[0].path, first);
    ck_assert_ptr_null(entries[0].shadowed_by);
    ck_assert_str_eq(entries[1].path, second);
    ck_assert_str_eq(entries[1].status, "ok");
    ck_assert_str_eq(entries[1].shadowed_by, first);
    qf_registry_entries_free(entries, count);

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.path, first);
    qf_registry_entry_clear(&entry);

    /* Swapping the folders swaps the winner without reopening a file. */
    dirs[0] = f.b;
    dirs[1] = f.a;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 0);
    ck_assert_int_eq(report.unchanged, 2);
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(entries[0].path, second);
    ck_assert_ptr_null(entries[0].shadowed_by);
    ck_assert_str_eq(entries[1].path, first);
    ck_assert_str_eq(entries[1].shadowed_by, second);
    qf_registry_entries_free(entries, count);
    free(second);
    free(first);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_follows_plugin_path_order)
{
    fixture f;
    char *configured[2];
    char **dirs = NULL;
    char *first, *second;
    qf_scan_report report;
    qf_registry_entry entry;
    qf_error err;

    fixture_open(&f);
    first = install(f.a, "shadow_first", "good_provider", 0755);
    second = install(f.b, "shadow_second", "good_provider", 0755);

    /* QF_PLUGIN_PATH comes before the configured folders. */
    setenv("QF_PLUGIN_PATH", f.b, 1);
    configured[0] = f.a;
    configured[1] = NULL;
    qf_error_init(&err);
    ck_assert_int_eq(qf_loader_search_dirs(configured, &dirs, &err), QF_OK);
    ck_assert_str_eq(dirs[0], f.b);
    ck_assert_str_eq(dirs[1], f.a);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.path, second);
    qf_registry_entry_clear(&entry);
    unsetenv("QF_PLUGIN_PATH");
    qf_config_strings_free(dirs);
    free(second);
    free(first);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_rejected_file_keeps_place)
{
    fixture f;
    char *dirs[3];
    char *first, *second;
    qf_scan_report report;
    qf_registry_entry *entries;
    qf_registry_entry entry;
    size_t count = 0;
    qf_error err;

    fixture_open(&f);
    first = install(f.a, "shadow_first", "good_provider", 0755);
    second = install(f.b, "shadow_second", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = f.b;
    dirs[2] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);

    ck_assert_int_eq(chmod(first, 0775), 0);
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(entries[0].path, first);
    ck_assert_str_eq(entries[0].status, "failed");
    ck_assert_str_eq(entries[0].id, "good_provider");
    ck_assert_ptr_null(entries[0].shadowed_by);
    ck_assert_str_eq(entries[1].path, second);
    ck_assert_str_eq(entries[1].status, "ok");
    ck_assert_str_eq(entries[1].shadowed_by, first);
    qf_registry_entries_free(entries, count);

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.path, first);
    ck_assert_str_eq(entry.status, "failed");
    qf_registry_entry_clear(&entry);
    free(second);
    free(first);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_warns_unknown_rejected_file)
{
    fixture f;
    char *dirs[3];
    char *first, *second, *logged;
    char reason[2048], expected[4096];
    qf_scan_report report;
    qf_registry_entry *entries;
    qf_registry_entry entry;
    size_t count = 0;
    qf_status status;
    qf_error err;

    fixture_open(&f);
    first = install(f.a, "shadow_first", "good_provider", 0664);
    second = install(f.b, "shadow_second", "good_provider", 0755);
    dirs[0] = f.a;
    dirs[1] = f.b;
    dirs[2] = NULL;
    logged = scan_logged(&f, dirs, &report, &status);
    ck_assert_int_eq(status, QF_OK);
    writable_message(reason, sizeof(reason), "file", first, 0664);
    snprintf(expected, sizeof(expected),
             "qf: warn [registry] skipping plugin file %s (failed): %s; %s, "
             "a file of the same name in a later folder, is used instead\n",
             first, reason, second);
    ck_assert_str_eq(logged, expected);
    free(logged);

    /* The id of a file never opened is unknown, so the later copy wins
     * and the rejected row is listed with its error. */
    entries = list(&f, &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(entries[0].path, first);
    ck_assert_str_eq(entries[0].status, "failed");
    ck_assert_str_eq(entries[0].error, reason);
    ck_assert_ptr_null(entries[0].id);
    ck_assert_str_eq(entries[1].status, "ok");
    ck_assert_ptr_null(entries[1].shadowed_by);
    qf_registry_entries_free(entries, count);
    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_find(f.reg, "good_provider", &entry, &err),
                     QF_OK);
    ck_assert_str_eq(entry.path, second);
    qf_registry_entry_clear(&entry);
    free(second);
    free(first);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_logs_known_rejection_quietly)
{
    fixture f;
    char *dirs[2];
    char *path, *logged;
    char reason[2048], expected[4096];
    qf_scan_report report;
    qf_status status;

    fixture_open(&f);
    path = install(f.a, "abi_major", "abi_major", 0755);
    dirs[0] = f.a;
    dirs[1] = NULL;
    logged = scan_logged(&f, dirs, &report, &status);
    ck_assert_int_eq(status, QF_OK);
    snprintf(reason, sizeof(reason),
             "%s: built for plugin ABI 2.0, this host speaks 1.0; rebuild "
             "the plugin against SDK 1.x",
             path);
    snprintf(expected, sizeof(expected),
             "qf: warn [registry] skipping plugin file %s (incompatible): "
             "%s\n",
             path, reason);
    ck_assert_str_eq(logged, expected);
    free(logged);

    /* Unchanged and without a same-name file later: info level only. */
    logged = scan_logged(&f, dirs, &report, &status);
    ck_assert_int_eq(status, QF_OK);
    ck_assert_int_eq(report.unchanged, 1);
    ck_assert_str_eq(logged, "");
    free(logged);
    free(path);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_skips_missing_folder)
{
    fixture f;
    char *dirs[3];
    char *missing;
    char *path;
    qf_scan_report report;
    qf_error err;

    fixture_open(&f);
    missing = join(f.root, "missing");
    path = install(f.a, "shadow_first", "good_provider", 0755);
    dirs[0] = missing;
    dirs[1] = f.a;
    dirs[2] = NULL;
    ck_assert_int_eq(scan(&f, dirs, 0, &report, &err), QF_OK);
    ck_assert_int_eq(report.scanned, 1);
    free(path);
    free(missing);
    fixture_close(&f);
}
END_TEST

START_TEST(registry_creates_private_state_folder)
{
    char *tmp = qf_test_tmpdir("registry");
    char *db_path = join(tmp, "state/deeper/registry.db");
    char *state = join(tmp, "state/deeper");
    qf_registry *reg = NULL;
    struct stat st;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_registry_open(db_path, &reg, &err), QF_OK);
    ck_assert_int_eq(stat(state, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    qf_registry_close(reg);
    qf_test_rmtree(tmp);
    free(state);
    free(db_path);
    free(tmp);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *record = tcase_create("record");
    TCase *stale = tcase_create("staleness");
    TCase *ids = tcase_create("ids");

    tcase_add_test(record, registry_records_descriptor_fields);
    tcase_add_test(record, registry_never_stores_secret_default);
    tcase_add_test(record, registry_find_returns_winner);
    tcase_add_test(record, registry_records_rejected_files);
    tcase_add_test(record, registry_skips_missing_folder);
    tcase_add_test(record, registry_creates_private_state_folder);
    suite_add_tcase(s, record);

    tcase_add_test(stale, registry_skips_current_rows);
    tcase_add_test(stale, registry_rescans_touched_file);
    tcase_add_test(stale, registry_removes_vanished_file);
    tcase_add_test(stale, registry_rescans_after_abi_change);
    tcase_add_test(stale, registry_stores_host_abi);
    tcase_add_test(stale, registry_rescans_mode_change);
    tcase_add_test(stale, registry_rescans_folder_mode_change);
    tcase_add_test(stale, registry_adds_mode_columns);
    suite_add_tcase(s, stale);

    tcase_add_test(ids, registry_rejects_duplicate_id_in_folder);
    tcase_add_test(ids, registry_shadows_later_folder);
    tcase_add_test(ids, registry_follows_plugin_path_order);
    tcase_add_test(ids, registry_rejected_file_keeps_place);
    tcase_add_test(ids, registry_warns_unknown_rejected_file);
    tcase_add_test(ids, registry_logs_known_rejection_quietly);
    suite_add_tcase(s, ids);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(registry_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

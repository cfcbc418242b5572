/*
 * registry.c - the SQLite record of plugin files (<state_dir>/registry.db).
 *
 * A scan walks the plugin folders in search order inside one transaction.
 * A row whose path, size, mtime, inode, file mode and folder mode still
 * match is kept. Any other *.so file is hashed and opened for its
 * descriptor. Each row stores the file's own handshake result in
 * open_status and open_error. Status, error and shadowed_by are derived
 * again from the ids of all rows after every scan, so removing one of two
 * duplicates heals the other.
 */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "error.h"
#include "loader.h"
#include "log.h"

#define BUSY_TIMEOUT_MS  5000
#define SCHEMA_VERSION   "2"
#define MAX_CAPABILITIES 256

struct qf_registry {
    sqlite3 *db;
    char *path;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS plugins ("
    "  path TEXT PRIMARY KEY,"
    "  dir TEXT NOT NULL,"
    "  dir_index INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mtime INTEGER NOT NULL," /* nanoseconds since the epoch */
    "  inode INTEGER NOT NULL,"
    "  mode INTEGER NOT NULL DEFAULT -1,"     /* permission bits */
    "  dir_mode INTEGER NOT NULL DEFAULT -1," /* of the resolved folder */
    "  sha256 TEXT,"
    "  open_status TEXT NOT NULL,"
    "  open_error TEXT,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('ok', 'incompatible', 'failed', 'disabled')),"
    "  error TEXT,"
    "  id TEXT,"
    "  name TEXT,"
    "  version TEXT,"
    "  kind TEXT,"
    "  abi TEXT,"
    "  capabilities TEXT,"
    "  options TEXT,"
    "  description TEXT,"
    "  shadowed_by TEXT);"
    "CREATE INDEX IF NOT EXISTS plugins_by_id ON plugins (id);";

#define ENTRY_COLUMNS                                                          \
    "path, dir, size, mtime, inode, sha256, status, error, id, name, "         \
    "version, kind, abi, capabilities, options, description, shadowed_by, "    \
    "mode, dir_mode"

/* --- Small helpers -------------------------------------------------- */

static qf_status db_fail(qf_registry *reg, qf_error *err, const char *what)
{
    return qf_error_set(err, QF_ERR_IO,
                        "%s: %s failed: %s; check that the file is a "
                        "writable SQLite database or delete it to rebuild",
                        reg->path, what, sqlite3_errmsg(reg->db));
}

static qf_status db_exec(qf_registry *reg, const char *sql, qf_error *err)
{
    if (sqlite3_exec(reg->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(reg, err, sql);
    return QF_OK;
}

static qf_status db_prepare(qf_registry *reg, const char *sql,
                            sqlite3_stmt **stmt, qf_error *err)
{
    if (sqlite3_prepare_v2(reg->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        *stmt = NULL;
        return db_fail(reg, err, "preparing a statement");
    }
    return QF_OK;
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

static char *column_strdup(sqlite3_stmt *stmt, int index)
{
    const unsigned char *text = sqlite3_column_text(stmt, index);

    return text != NULL ? strdup((const char *)text) : NULL;
}

static void host_abi_string(char *out, size_t len)
{
    snprintf(out, len, "%d.%d.%08x", QF_ABI_MAJOR, QF_ABI_MINOR,
             (unsigned)QF_BUILD_TAG);
}

/* Create every missing folder of `path`'s parent with mode 0700. */
static qf_status make_parent_dirs(const char *path, qf_error *err)
{
    char *copy = strdup(path);
    qf_status status = QF_OK;

    if (copy == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    for (char *p = copy + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
            status = qf_error_set(err, QF_ERR_IO,
                                  "%s: cannot create the registry folder: "
                                  "%s; check state_dir",
                                  copy, strerror(errno));
            break;
        }
        *p = '/';
    }
    free(copy);
    return status;
}

/* --- Open and close ------------------------------------------------- */

/*
 * Create the tables, and add the mode columns to a registry written before
 * they existed. Their default of -1 matches no file, so those rows are
 * scanned again. The IMMEDIATE transaction keeps two processes from adding
 * the columns twice.
 */
static qf_status create_schema(qf_registry *reg, qf_error *err)
{
    sqlite3_stmt *probe = NULL;
    qf_status status;

    status = db_exec(reg, "BEGIN IMMEDIATE", err);
    if (status != QF_OK)
        return status;
    status = db_exec(reg, schema_sql, err);
    if (status == QF_OK &&
        sqlite3_prepare_v2(reg->db, "SELECT mode, dir_mode FROM plugins", -1,
                           &probe, NULL) != SQLITE_OK)
        status = db_exec(reg,
                         "ALTER TABLE plugins ADD COLUMN mode INTEGER NOT "
                         "NULL DEFAULT -1;"
                         "ALTER TABLE plugins ADD COLUMN dir_mode INTEGER "
                         "NOT NULL DEFAULT -1;",
                         err);
    sqlite3_finalize(probe);

    if (status == QF_OK)
        return db_exec(reg, "COMMIT", err);
    sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

qf_status qf_registry_open(const char *db_path, qf_registry **out,
                           qf_error *err)
{
    qf_registry *reg;
    qf_status status;

    *out = NULL;
    status = make_parent_dirs(db_path, err);
    if (status != QF_OK)
        return status;
    reg = calloc(1, sizeof(*reg));
    if (reg == NULL || (reg->path = strdup(db_path)) == NULL) {
        free(reg);
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }

    if (sqlite3_open_v2(db_path, &reg->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        status = db_fail(reg, err, "opening the registry");
        goto fail;
    }
    sqlite3_busy_timeout(reg->db, BUSY_TIMEOUT_MS);
    /* No checkpoint (and fsync) when the process closes the database: the
     * WAL is checkpointed as it grows, and a short-lived qf stays fast. */
    sqlite3_db_config(reg->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    status = db_exec(reg, "PRAGMA journal_mode=WAL", err);
    if (status == QF_OK)
        status = create_schema(reg, err);
    if (status != QF_OK)
        goto fail;
    *out = reg;
    return QF_OK;

fail:
    qf_registry_close(reg);
    return status;
}

void qf_registry_close(qf_registry *reg)
{
    if (reg == NULL)
        return;
    sqlite3_close(reg->db);
    free(reg->path);
    free(reg);
}

/* --- Entries -------------------------------------------------------- */

void qf_registry_entry_clear(qf_registry_entry *e)
{
    if (e == NULL)
        return;
    free(e->path);
    free(e->dir);
    free(e->sha256);
    free(e->status);
    free(e->error);
    free(e->id);
    free(e->name);
    free(e->version);
    free(e->kind);
    free(e->abi);
    free(e->capabilities);
    free(e->options);
    free(e->description);
    free(e->shadowed_by);
    memset(e, 0, sizeof(*e));
}

void qf_registry_entries_free(qf_registry_entry *entries, size_t count)
{
    for (size_t i = 0; entries != NULL && i < count; i++)
        qf_registry_entry_clear(&entries[i]);
    free(entries);
}

/* Fill `e` from a row selected with ENTRY_COLUMNS. */
static qf_status entry_from_row(sqlite3_stmt *stmt, qf_registry_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->path = column_strdup(stmt, 0);
    e->dir = column_strdup(stmt, 1);
    e->size = sqlite3_column_int64(stmt, 2);
    e->mtime = sqlite3_column_int64(stmt, 3);
    e->inode = sqlite3_column_int64(stmt, 4);
    e->sha256 = column_strdup(stmt, 5);
    e->status = column_strdup(stmt, 6);
    e->error = column_strdup(stmt, 7);
    e->id = column_strdup(stmt, 8);
    e->name = column_strdup(stmt, 9);
    e->version = column_strdup(stmt, 10);
    e->kind = column_strdup(stmt, 11);
    e->abi = column_strdup(stmt, 12);
    e->capabilities = column_strdup(stmt, 13);
    e->options = column_strdup(stmt, 14);
    e->description = column_strdup(stmt, 15);
    e->shadowed_by = column_strdup(stmt, 16);
    e->mode = sqlite3_column_int64(stmt, 17);
    e->dir_mode = sqlite3_column_int64(stmt, 18);
    if (e->path == NULL || e->dir == NULL || e->status == NULL) {
        qf_registry_entry_clear(e);
        return QF_ERR_NOMEM;
    }
    return QF_OK;
}

qf_status qf_registry_list(qf_registry *reg, qf_registry_entry **out,
                           size_t *count, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_registry_entry *entries = NULL;
    size_t used = 0, capacity = 0;
    qf_status status;
    int rc;

    *out = NULL;
    *count = 0;
    status = db_prepare(reg,
                        "SELECT " ENTRY_COLUMNS " FROM plugins "
                        "ORDER BY dir_index, path",
                        &stmt, err);
    while (status == QF_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (used == capacity) {
            size_t grown = capacity ? capacity * 2 : 16;
            qf_registry_entry *bigger =
                realloc(entries, grown * sizeof(*entries));
            if (bigger == NULL) {
                status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
                break;
            }
            entries = bigger;
            capacity = grown;
        }
        if (entry_from_row(stmt, &entries[used]) != QF_OK)
            status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        else
            used++;
    }
    if (status == QF_OK && rc != SQLITE_DONE)
        status = db_fail(reg, err, "listing plugins");

    sqlite3_finalize(stmt);
    if (status != QF_OK) {
        qf_registry_entries_free(entries, used);
        return status;
    }
    *out = entries;
    *count = used;
    return QF_OK;
}

qf_status qf_registry_find(qf_registry *reg, const char *id,
                           qf_registry_entry *out, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status;
    int rc;

    memset(out, 0, sizeof(*out));
    status = db_prepare(reg,
                        "SELECT " ENTRY_COLUMNS " FROM plugins "
                        "WHERE id = ?1 AND shadowed_by IS NULL "
                        "ORDER BY dir_index, path LIMIT 1",
                        &stmt, err);
    if (status != QF_OK)
        return status;
    bind_text(stmt, 1, id);

    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        if (entry_from_row(stmt, out) != QF_OK)
            status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        status = qf_error_set(err, QF_ERR_NOT_FOUND,
                              "plugin \"%s\" not found in the registry %s; "
                              "put its .so file in a plugin folder and run "
                              "'qf plugins scan'",
                              id, reg->path);
    } else {
        status = db_fail(reg, err, "finding a plugin");
    }
    sqlite3_finalize(stmt);
    return status;
}

/* --- Reading one plugin file ---------------------------------------- */

static qf_status file_sha256(const char *path, char hex[65], qf_error *err)
{
    unsigned char buffer[65536];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    FILE *file = fopen(path, "rb");
    qf_status status = QF_OK;
    size_t got;

    if (md == NULL || file == NULL ||
        EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        status = qf_error_set(
            err, QF_ERR_IO, "%s: cannot read the file: %s", path,
            file == NULL ? strerror(errno) : "SHA-256 setup failed");
        goto out;
    }
    while ((got = fread(buffer, 1, sizeof(buffer), file)) > 0)
        EVP_DigestUpdate(md, buffer, got);
    if (ferror(file) || EVP_DigestFinal_ex(md, digest, &digest_len) != 1) {
        status = qf_error_set(err, QF_ERR_IO, "%s: cannot read the file", path);
        goto out;
    }
    for (unsigned int i = 0; i < digest_len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);

out:
    if (file != NULL)
        fclose(file);
    EVP_MD_CTX_free(md);
    return status;
}

static const char *kind_text(qf_plugin_kind kind)
{
    switch (kind) {
    case QF_KIND_PROVIDER: return "provider";
    case QF_KIND_MIDDLEWARE: return "middleware";
    case QF_KIND_CACHE_BACKEND: return "cache_backend";
    }
    return "unknown";
}

static const char *option_type_text(qf_option_type type)
{
    switch (type) {
    case QF_OPT_STRING: return "string";
    case QF_OPT_INT: return "int";
    case QF_OPT_DOUBLE: return "double";
    case QF_OPT_BOOL: return "bool";
    case QF_OPT_MAP: return "map";
    case QF_OPT_LIST: return "list";
    }
    return "unknown";
}

static char *capabilities_json(const qf_plugin_descriptor *d)
{
    cJSON *array = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; d->capabilities != NULL && i < MAX_CAPABILITIES &&
                       d->capabilities[i] != NULL;
         i++)
        cJSON_AddItemToArray(array, cJSON_CreateString(d->capabilities[i]));
    text = cJSON_PrintUnformatted(array);
    cJSON_Delete(array);
    return text;
}

/* The option schema as JSON. A secret option's default is stored as null,
 * so no secret reaches the registry file. */
static char *options_json(const qf_plugin_descriptor *d)
{
    cJSON *array = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; i < d->option_count; i++) {
        const qf_option_spec *o = &d->options[i];
        int secret = (o->flags & QF_OPT_SECRET) != 0;
        cJSON *item = cJSON_CreateObject();

        cJSON_AddStringToObject(item, "name", o->name);
        cJSON_AddStringToObject(item, "type", option_type_text(o->type));
        if (o->default_value != NULL && !secret)
            cJSON_AddStringToObject(item, "default", o->default_value);
        else
            cJSON_AddNullToObject(item, "default");
        cJSON_AddBoolToObject(item, "required",
                              (o->flags & QF_OPT_REQUIRED) != 0);
        cJSON_AddBoolToObject(item, "secret", secret);
        if (o->description != NULL)
            cJSON_AddStringToObject(item, "description", o->description);
        else
            cJSON_AddNullToObject(item, "description");
        cJSON_AddItemToArray(array, item);
    }
    text = cJSON_PrintUnformatted(array);
    cJSON_Delete(array);
    return text;
}

static qf_status describe(const qf_plugin_descriptor *d, qf_registry_entry *e)
{
    char abi[32];

    snprintf(abi, sizeof(abi), "%u.%u", (unsigned)d->abi_major,
             (unsigned)d->abi_minor);
    e->id = strdup(d->id);
    e->name = d->name != NULL ? strdup(d->name) : NULL;
    e->version = d->version != NULL ? strdup(d->version) : NULL;
    e->description = d->description != NULL ? strdup(d->description) : NULL;
    e->kind = strdup(kind_text(d->kind));
    e->abi = strdup(abi);
    e->capabilities = capabilities_json(d);
    e->options = options_json(d);
    if (e->id == NULL || e->kind == NULL || e->abi == NULL ||
        e->capabilities == NULL || e->options == NULL)
        return QF_ERR_NOMEM;
    return QF_OK;
}

/*
 * Hash and open one file and record the result in `e` (status and error
 * are the file's own handshake result). *refused is set when the
 * permission check rejected the file before it was opened. Returns
 * QF_ERR_NOMEM only; every other failure is recorded on the entry.
 */
static qf_status read_plugin_file(const char *path, qf_registry_entry *e,
                                  int *refused)
{
    char hex[65] = "";
    qf_error err;
    qf_plugin *plugin = NULL;
    qf_status status;

    qf_error_init(&err);
    *refused = 0;
    status = file_sha256(path, hex, &err);
    if (status == QF_OK) {
        e->sha256 = strdup(hex);
        if (e->sha256 == NULL)
            return QF_ERR_NOMEM;
        status = qf_loader_check_permissions(path, &err);
        *refused = status != QF_OK;
    }
    if (status == QF_OK)
        status = qf_loader_open(path, &plugin, &err);

    /* NOTE: dlopen returns the already loaded copy for a path this
     * process opened before, so a file replaced in place during one
     * process's lifetime is described from its old contents. */
    if (status == QF_OK) {
        status = describe(plugin->descriptor, e);
        qf_plugin_free(plugin);
        if (status != QF_OK)
            return status;
        e->status = strdup("ok");
        return e->status != NULL ? QF_OK : QF_ERR_NOMEM;
    }
    if (status == QF_ERR_NOMEM)
        return status;
    e->status = strdup(status == QF_ERR_ABI ? "incompatible" : "failed");
    e->error = strdup(err.message);
    return e->status != NULL && e->error != NULL ? QF_OK : QF_ERR_NOMEM;
}

/* --- Scanning ------------------------------------------------------- */

/* Prepared statements of one scan. */
typedef struct scan_ctx {
    qf_registry *reg;
    int rescan_all;
    qf_scan_report *report;
    sqlite3_stmt *lookup;   /* size, mtime, inode and modes of a path */
    sqlite3_stmt *previous; /* descriptor fields stored for a path */
    sqlite3_stmt *move;     /* update dir and dir_index of a current row */
    sqlite3_stmt *upsert;   /* replace a row after opening the file */
    sqlite3_stmt *seen;     /* remember a path found on disk */
    sqlite3_stmt *opened;   /* mark a seen path as opened in this scan */
} scan_ctx;

static qf_status scan_ctx_prepare(scan_ctx *ctx, qf_error *err)
{
    qf_registry *reg = ctx->reg;
    qf_status status;

    status = db_exec(reg,
                     "CREATE TEMP TABLE IF NOT EXISTS seen "
                     "(path TEXT PRIMARY KEY, opened INTEGER NOT NULL "
                     "DEFAULT 0); DELETE FROM seen;",
                     err);
    if (status == QF_OK)
        status = db_prepare(reg,
                            "SELECT size, mtime, inode, mode, dir_mode "
                            "FROM plugins WHERE path = ?1",
                            &ctx->lookup, err);
    if (status == QF_OK)
        status = db_prepare(reg,
                            "SELECT sha256, id, name, version, kind, abi, "
                            "capabilities, options, description FROM plugins "
                            "WHERE path = ?1 AND id IS NOT NULL",
                            &ctx->previous, err);
    if (status == QF_OK)
        status = db_prepare(reg,
                            "UPDATE plugins SET dir = ?2, dir_index = ?3 "
                            "WHERE path = ?1",
                            &ctx->move, err);
    if (status == QF_OK)
        status = db_prepare(
            reg,
            "INSERT OR REPLACE INTO plugins (path, dir, dir_index, size, "
            "mtime, inode, mode, dir_mode, sha256, open_status, open_error, "
            "status, error, id, name, version, kind, abi, capabilities, "
            "options, description, shadowed_by) VALUES (?1, ?2, ?3, ?4, "
            "?5, ?6, ?18, ?19, ?7, ?8, ?9, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
            "?15, ?16, ?17, NULL)",
            &ctx->upsert, err);
    if (status == QF_OK)
        status =
            db_prepare(reg, "INSERT OR IGNORE INTO seen (path) VALUES (?1)",
                       &ctx->seen, err);
    if (status == QF_OK)
        status = db_prepare(reg, "UPDATE seen SET opened = 1 WHERE path = ?1",
                            &ctx->opened, err);
    return status;
}

static void scan_ctx_finalize(scan_ctx *ctx)
{
    sqlite3_finalize(ctx->lookup);
    sqlite3_finalize(ctx->previous);
    sqlite3_finalize(ctx->move);
    sqlite3_finalize(ctx->upsert);
    sqlite3_finalize(ctx->seen);
    sqlite3_finalize(ctx->opened);
}

/* Run a bound statement that returns no rows, then reset it. */
static qf_status step_done(scan_ctx *ctx, sqlite3_stmt *stmt, qf_error *err)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE)
        return db_fail(ctx->reg, err, "updating a plugin row");
    return QF_OK;
}

/* What the staleness rule compares: the file's identity and both modes
 * that the permission check inspects. */
typedef struct file_state {
    int64_t size;
    int64_t mtime; /* nanoseconds since the epoch */
    int64_t inode;
    int64_t mode;     /* permission bits of the file, -1 when unknown */
    int64_t dir_mode; /* permission bits of its resolved folder, or -1 */
} file_state;

/* Permission bits of the folder that contains `path` after symlinks are
 * resolved, which is the folder qf_loader_check_permissions checks; -1 on
 * failure. */
static int64_t resolved_dir_mode(const char *path)
{
    char *real = realpath(path, NULL);
    char *slash = real != NULL ? strrchr(real, '/') : NULL;
    struct stat st;
    int64_t mode = -1;

    if (slash != NULL) {
        if (slash == real)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (stat(real, &st) == 0)
            mode = (int64_t)(st.st_mode & 07777);
    }
    free(real);
    return mode;
}

static void read_file_state(const char *path, file_state *fs)
{
    struct stat st;

    memset(fs, 0, sizeof(*fs));
    fs->mode = -1;
    fs->dir_mode = -1;
    if (stat(path, &st) != 0)
        return;
    fs->size = st.st_size;
    fs->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    fs->inode = (int64_t)st.st_ino;
    fs->mode = (int64_t)(st.st_mode & 07777);
    fs->dir_mode = resolved_dir_mode(path);
}

/* Whether the row of `path` exists and matches the file on disk. */
static int row_is_current(scan_ctx *ctx, const char *path, const file_state *fs)
{
    sqlite3_stmt *s = ctx->lookup;
    int current = 0;

    bind_text(s, 1, path);
    if (sqlite3_step(s) == SQLITE_ROW)
        current = sqlite3_column_int64(s, 0) == fs->size &&
                  sqlite3_column_int64(s, 1) == fs->mtime &&
                  sqlite3_column_int64(s, 2) == fs->inode &&
                  sqlite3_column_int64(s, 3) == fs->mode &&
                  sqlite3_column_int64(s, 4) == fs->dir_mode;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return current;
}

/*
 * Keep the descriptor fields of a file that the permission check rejected
 * when its row was read from the same bytes (equal SHA-256), so the row
 * still names its plugin id. Otherwise the id stays unknown.
 */
static qf_status keep_known_descriptor(scan_ctx *ctx, qf_registry_entry *e)
{
    sqlite3_stmt *s = ctx->previous;
    qf_status status = QF_OK;
    const unsigned char *sha256;

    bind_text(s, 1, e->path);
    if (sqlite3_step(s) == SQLITE_ROW &&
        (sha256 = sqlite3_column_text(s, 0)) != NULL &&
        strcmp((const char *)sha256, e->sha256) == 0) {
        e->id = column_strdup(s, 1);
        e->name = column_strdup(s, 2);
        e->version = column_strdup(s, 3);
        e->kind = column_strdup(s, 4);
        e->abi = column_strdup(s, 5);
        e->capabilities = column_strdup(s, 6);
        e->options = column_strdup(s, 7);
        e->description = column_strdup(s, 8);
        if (e->id == NULL)
            status = QF_ERR_NOMEM;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return status;
}

static qf_status store_entry(scan_ctx *ctx, const qf_registry_entry *e,
                             int dir_index, qf_error *err)
{
    sqlite3_stmt *s = ctx->upsert;

    bind_text(s, 1, e->path);
    bind_text(s, 2, e->dir);
    sqlite3_bind_int(s, 3, dir_index);
    sqlite3_bind_int64(s, 4, e->size);
    sqlite3_bind_int64(s, 5, e->mtime);
    sqlite3_bind_int64(s, 6, e->inode);
    bind_text(s, 7, e->sha256);
    bind_text(s, 8, e->status);
    bind_text(s, 9, e->error);
    bind_text(s, 10, e->id);
    bind_text(s, 11, e->name);
    bind_text(s, 12, e->version);
    bind_text(s, 13, e->kind);
    bind_text(s, 14, e->abi);
    bind_text(s, 15, e->capabilities);
    bind_text(s, 16, e->options);
    bind_text(s, 17, e->description);
    sqlite3_bind_int64(s, 18, e->mode);
    sqlite3_bind_int64(s, 19, e->dir_mode);
    return step_done(ctx, s, err);
}

/* Open `path` again, replace its row and mark it opened in this scan. */
static qf_status rescan_file(scan_ctx *ctx, const char *dir, int dir_index,
                             const char *path, const file_state *fs,
                             qf_error *err)
{
    qf_registry_entry e = {0};
    qf_status status;
    int refused = 0;

    e.path = (char *)path;
    e.dir = (char *)dir;
    e.size = fs->size;
    e.mtime = fs->mtime;
    e.inode = fs->inode;
    e.mode = fs->mode;
    e.dir_mode = fs->dir_mode;
    status = read_plugin_file(path, &e, &refused);
    if (status == QF_OK && refused)
        status = keep_known_descriptor(ctx, &e);
    if (status == QF_OK)
        status = store_entry(ctx, &e, dir_index, err);
    else
        qf_error_set(err, status, "%s: out of memory while scanning", path);
    if (status == QF_OK) {
        bind_text(ctx->opened, 1, path);
        status = step_done(ctx, ctx->opened, err);
    }

    e.path = NULL;
    e.dir = NULL;
    qf_registry_entry_clear(&e);
    if (status == QF_OK)
        ctx->report->scanned++;
    return status;
}

static qf_status scan_file(scan_ctx *ctx, const char *dir, int dir_index,
                           const char *name, qf_error *err)
{
    char *path = NULL;
    file_state fs;
    qf_status status;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    /* A path listed through two spellings of one folder is scanned once. */
    bind_text(ctx->seen, 1, path);
    status = step_done(ctx, ctx->seen, err);
    if (status != QF_OK || sqlite3_changes(ctx->reg->db) == 0)
        goto out;

    read_file_state(path, &fs);
    if (!ctx->rescan_all && row_is_current(ctx, path, &fs)) {
        bind_text(ctx->move, 1, path);
        bind_text(ctx->move, 2, dir);
        sqlite3_bind_int(ctx->move, 3, dir_index);
        status = step_done(ctx, ctx->move, err);
        ctx->report->unchanged++;
        goto out;
    }
    status = rescan_file(ctx, dir, dir_index, path, &fs, err);

out:
    free(path);
    return status;
}

static int has_so_suffix(const char *name)
{
    size_t len = strlen(name);

    return len > 3 && strcmp(name + len - 3, ".so") == 0;
}

static qf_status scan_dir(scan_ctx *ctx, const char *dir, int dir_index,
                          qf_error *err)
{
    struct dirent **names = NULL;
    qf_status status = QF_OK;
    int count;

    count = scandir(dir, &names, NULL, alphasort);
    if (count < 0) {
        /* A folder of the search path need not exist. */
        qf_log(errno == ENOENT ? QF_LOG_DEBUG : QF_LOG_WARN, "registry",
               "skipping plugin folder %s: %s", dir, strerror(errno));
        return QF_OK;
    }
    for (int i = 0; i < count; i++) {
        if (status == QF_OK && has_so_suffix(names[i]->d_name))
            status = scan_file(ctx, dir, dir_index, names[i]->d_name, err);
        free(names[i]);
    }
    free(names);
    return status;
}

static qf_status remove_vanished(scan_ctx *ctx, qf_error *err)
{
    qf_status status = db_exec(ctx->reg,
                               "DELETE FROM plugins WHERE path NOT IN "
                               "(SELECT path FROM seen)",
                               err);

    if (status == QF_OK)
        ctx->report->removed = sqlite3_changes(ctx->reg->db);
    return status;
}

/* --- Ids: duplicates and shadowing ---------------------------------- */

typedef struct id_row {
    char *path;
    char *dir;
    int dir_index;
    char *id;
} id_row;

static void id_rows_free(id_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(rows[i].path);
        free(rows[i].dir);
        free(rows[i].id);
    }
    free(rows);
}

/* Every row with a known id, grouped by id in search order. A file that the
 * permission check rejected keeps the id read earlier from the same bytes,
 * so it still claims its place and a later folder's copy is shadowed. */
static qf_status load_id_rows(qf_registry *reg, id_row **out, size_t *count,
                              qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    id_row *rows = NULL;
    size_t used = 0, capacity = 0;
    qf_status status;

    status = db_prepare(reg,
                        "SELECT path, dir, dir_index, id FROM plugins "
                        "WHERE id IS NOT NULL ORDER BY id, dir_index, path",
                        &stmt, err);
    while (status == QF_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        if (used == capacity) {
            size_t grown = capacity ? capacity * 2 : 16;
            id_row *bigger = realloc(rows, grown * sizeof(*rows));
            if (bigger == NULL) {
                status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
                break;
            }
            rows = bigger;
            capacity = grown;
        }
        rows[used].path = column_strdup(stmt, 0);
        rows[used].dir = column_strdup(stmt, 1);
        rows[used].dir_index = sqlite3_column_int(stmt, 2);
        rows[used].id = column_strdup(stmt, 3);
        used++;
        if (!rows[used - 1].path || !rows[used - 1].dir || !rows[used - 1].id)
            status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    sqlite3_finalize(stmt);
    *out = rows;
    *count = used;
    return status;
}

/* Build "duplicate plugin id ..." for rows[first..end), which share one id
 * and one folder. */
static char *duplicate_message(const id_row *rows, size_t first, size_t end)
{
    char buffer[QF_ERROR_MESSAGE_MAX];
    size_t used;

    used = (size_t)snprintf(buffer, sizeof(buffer),
                            "duplicate plugin id \"%s\" in folder %s: ",
                            rows[first].id, rows[first].dir);
    for (size_t i = first; i < end && used < sizeof(buffer); i++) {
        const char *joint = ", ";

        if (i == first)
            joint = "";
        else if (i + 1 == end)
            joint = " and ";
        used += (size_t)snprintf(buffer + used, sizeof(buffer) - used, "%s%s",
                                 joint, rows[i].path);
    }
    if (used < sizeof(buffer))
        snprintf(buffer + used, sizeof(buffer) - used,
                 "; remove or rename all but one of them");
    return strdup(buffer);
}

static qf_status mark_row(qf_registry *reg, const char *sql, const char *path,
                          const char *text, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status = db_prepare(reg, sql, &stmt, err);

    if (status != QF_OK)
        return status;
    bind_text(stmt, 1, path);
    bind_text(stmt, 2, text);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = db_fail(reg, err, "marking a plugin row");
    sqlite3_finalize(stmt);
    return status;
}

/*
 * Mark one id's group rows[first..end): copies in the first folder beyond
 * one are duplicates, copies in later folders are shadowed by the first.
 * *duplicates counts groups with duplicates; the first one's message goes
 * to *message.
 */
static qf_status resolve_group(qf_registry *reg, const id_row *rows,
                               size_t first, size_t end, int *duplicates,
                               char **message, qf_error *err)
{
    size_t same_dir = first + 1;
    qf_status status = QF_OK;
    char *text = NULL;

    while (same_dir < end && rows[same_dir].dir_index == rows[first].dir_index)
        same_dir++;
    if (same_dir - first > 1) {
        text = duplicate_message(rows, first, same_dir);
        if (text == NULL)
            return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        for (size_t i = first; status == QF_OK && i < same_dir; i++)
            status = mark_row(reg,
                              "UPDATE plugins SET status = 'failed', "
                              "error = ?2 WHERE path = ?1",
                              rows[i].path, text, err);
        (*duplicates)++;
    }
    for (size_t i = same_dir; status == QF_OK && i < end; i++)
        status =
            mark_row(reg, "UPDATE plugins SET shadowed_by = ?2 WHERE path = ?1",
                     rows[i].path, rows[first].path, err);

    if (*message == NULL)
        *message = text;
    else
        free(text);
    return status;
}

/* Derive status, error and shadowed_by of every row from the ids. Returns
 * QF_ERR_CONFIG naming the files when one folder contains an id twice. */
static qf_status resolve_ids(qf_registry *reg, qf_error *err)
{
    id_row *rows = NULL;
    size_t count = 0, first = 0;
    int duplicates = 0;
    char *message = NULL;
    qf_status status;

    status = db_exec(reg,
                     "UPDATE plugins SET status = open_status, "
                     "error = open_error, shadowed_by = NULL",
                     err);
    if (status == QF_OK)
        status = load_id_rows(reg, &rows, &count, err);
    while (status == QF_OK && first < count) {
        size_t end = first + 1;
        while (end < count && strcmp(rows[end].id, rows[first].id) == 0)
            end++;
        status =
            resolve_group(reg, rows, first, end, &duplicates, &message, err);
        first = end;
    }

    if (status == QF_OK && duplicates > 0)
        status = qf_error_set(err, QF_ERR_CONFIG, "%s%s", message,
                              duplicates > 1 ? " (more duplicate ids are "
                                               "listed by 'qf plugins list')"
                                             : "");
    free(message);
    id_rows_free(rows, count);
    return status;
}

/* --- Logging rejected files ---------------------------------------- */

/* The path of a loaded file with the same name as `path` in a folder after
 * `dir_index`, or NULL. The caller frees it. */
static char *later_same_name(qf_registry *reg, const char *path, int dir_index)
{
    const char *slash = strrchr(path, '/');
    sqlite3_stmt *stmt = NULL;
    char *later = NULL;

    if (sqlite3_prepare_v2(reg->db,
                           "SELECT path FROM plugins WHERE dir_index > ?1 AND "
                           "status = 'ok' AND shadowed_by IS NULL AND "
                           "substr(path, length(dir) + 2) = ?2 "
                           "ORDER BY dir_index, path LIMIT 1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int(stmt, 1, dir_index);
    bind_text(stmt, 2, slash != NULL ? slash + 1 : path);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        later = column_strdup(stmt, 0);
    sqlite3_finalize(stmt);
    return later;
}

/* Log one rejected row selected by log_rejected. */
static void log_rejected_row(qf_registry *reg, sqlite3_stmt *row)
{
    const char *path = (const char *)sqlite3_column_text(row, 0);
    const char *status = (const char *)sqlite3_column_text(row, 2);
    const char *error = (const char *)sqlite3_column_text(row, 3);
    char *later = later_same_name(reg, path, sqlite3_column_int(row, 1));
    int opened = sqlite3_column_int(row, 4);
    qf_log_level level = opened || later ? QF_LOG_WARN : QF_LOG_INFO;

    if (later != NULL)
        qf_log(level, "registry",
               "skipping plugin file %s (%s): %s; %s, a file of the same name "
               "in a later folder, is used instead",
               path, status, error != NULL ? error : "no detail", later);
    else
        qf_log(level, "registry", "skipping plugin file %s (%s): %s", path,
               status, error != NULL ? error : "no detail");
    free(later);
}

/*
 * Log every rejected file whose plugin id is unknown, because such a file
 * may be a plugin that a later folder's copy now replaces unnoticed. The
 * level is warn when the file was opened in this scan or a later folder
 * has a file of the same name, and info for a known, unchanged rejection.
 * NOTE: such a file cannot keep a later copy of its plugin from loading,
 * because its id is unknown; this log line and its row are all that show
 * it.
 */
static void log_rejected(qf_registry *reg)
{
    sqlite3_stmt *stmt = NULL;

    if (!qf_log_enabled(QF_LOG_WARN))
        return;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT p.path, p.dir_index, p.status, p.error, "
                           "s.opened FROM plugins p JOIN seen s ON "
                           "s.path = p.path WHERE p.status != 'ok' AND "
                           "p.id IS NULL ORDER BY p.dir_index, p.path",
                           -1, &stmt, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(stmt) == SQLITE_ROW)
        log_rejected_row(reg, stmt);
    sqlite3_finalize(stmt);
}

/* --- Scan entry point ----------------------------------------------- */

/* Compare the stored host ABI with ours and store ours. Sets *changed. */
static qf_status check_host_abi(qf_registry *reg, int *changed, qf_error *err)
{
    char current[64];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    host_abi_string(current, sizeof(current));
    status = db_prepare(reg, "SELECT value FROM meta WHERE key = 'host_abi'",
                        &stmt, err);
    if (status != QF_OK)
        return status;
    *changed =
        !(sqlite3_step(stmt) == SQLITE_ROW &&
          strcmp((const char *)sqlite3_column_text(stmt, 0), current) == 0);
    sqlite3_finalize(stmt);
    if (!*changed)
        return QF_OK;

    status = db_prepare(reg,
                        "INSERT OR REPLACE INTO meta (key, value) VALUES "
                        "('host_abi', ?1), ('schema', '" SCHEMA_VERSION "')",
                        &stmt, err);
    if (status != QF_OK)
        return status;
    bind_text(stmt, 1, current);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = db_fail(reg, err, "storing the host ABI");
    sqlite3_finalize(stmt);
    return status;
}

static qf_status count_failed(qf_registry *reg, int *failed, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status = db_prepare(
        reg, "SELECT count(*) FROM plugins WHERE status != 'ok'", &stmt, err);

    if (status != QF_OK)
        return status;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *failed = sqlite3_column_int(stmt, 0);
    else
        status = db_fail(reg, err, "counting failed plugins");
    sqlite3_finalize(stmt);
    return status;
}

static qf_status scan_all(scan_ctx *ctx, char *const *dirs, int force,
                          qf_error *err)
{
    int abi_changed = 0;
    qf_status status;

    status = check_host_abi(ctx->reg, &abi_changed, err);
    if (status != QF_OK)
        return status;
    ctx->rescan_all = force || abi_changed;

    status = scan_ctx_prepare(ctx, err);
    for (int i = 0; status == QF_OK && dirs != NULL && dirs[i] != NULL; i++)
        status = scan_dir(ctx, dirs[i], i, err);
    if (status == QF_OK)
        status = remove_vanished(ctx, err);
    return status;
}

qf_status qf_registry_scan(qf_registry *reg, char *const *dirs, int force,
                           qf_scan_report *report, qf_error *err)
{
    qf_scan_report local = {0};
    scan_ctx ctx = {0};
    qf_status status, resolved;

    ctx.reg = reg;
    ctx.report = report != NULL ? report : &local;
    memset(ctx.report, 0, sizeof(*ctx.report));
    status = db_exec(reg, "BEGIN IMMEDIATE", err);
    if (status != QF_OK)
        return status;

    status = scan_all(&ctx, dirs, force, err);
    scan_ctx_finalize(&ctx);

    /* A duplicate id is recorded on its rows and committed, then returned. */
    resolved = status == QF_OK ? resolve_ids(reg, err) : status;
    if (resolved != QF_OK && resolved != QF_ERR_CONFIG)
        status = resolved;
    if (status == QF_OK)
        status = count_failed(reg, &ctx.report->failed, err);

    if (status != QF_OK) {
        sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
        return status;
    }
    status = db_exec(reg, "COMMIT", err);
    if (status != QF_OK)
        return status;
    log_rejected(reg);
    return resolved;
}

/*
 * state_backup.c - online backups with the SQLite backup API. A backup is
 * <state_dir>/backups/state-<UTC time with ms>-<n>.db, created with O_EXCL
 * (n counts up until a name is free), plus <file>.sha256 in sha256sum
 * format. Restore verifies that checksum before copying the file back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state_internal.h"

#define MAX_NAME_TRIES 1000

/* Copy database `src` into `dst` with the online backup API. */
static qf_status copy_db(sqlite3 *dst, sqlite3 *src, const char *what,
                         qf_error *err)
{
    sqlite3_backup *backup = sqlite3_backup_init(dst, "main", src, "main");
    int rc;

    if (!backup)
        return qf_error_set(err, QF_ERR_IO, "%s failed: %s", what,
                            sqlite3_errmsg(dst));
    rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE)
        return qf_error_set(err, QF_ERR_IO, "%s failed: %s", what,
                            sqlite3_errstr(rc));
    return QF_OK;
}

/* Create a new, empty backup file whose name no other backup has. */
static qf_status reserve_name(qf_state *st, char **out, qf_error *err)
{
    char dir[4096], stamp[48], compact[32], path[4200];
    int64_t ms = qf_state_now_ms(st);
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;

    snprintf(dir, sizeof(dir), "%s/backups", st->dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return qf_error_set(err, QF_ERR_IO, "cannot create %s: %s", dir,
                            strerror(errno));
    gmtime_r(&seconds, &tm);
    strftime(compact, sizeof(compact), "%Y%m%dT%H%M%S", &tm);
    snprintf(stamp, sizeof(stamp), "%s.%03dZ", compact, (int)(ms % 1000));
    for (int n = 1; n <= MAX_NAME_TRIES; n++) {
        int fd;

        snprintf(path, sizeof(path), "%s/state-%s-%d.db", dir, stamp, n);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            close(fd);
            *out = strdup(path);
            return *out ? QF_OK
                        : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        }
        if (errno != EEXIST)
            return qf_error_set(err, QF_ERR_IO, "cannot create %s: %s", path,
                                strerror(errno));
    }
    return qf_error_set(err, QF_ERR_IO,
                        "no free backup name in %s after %d tries", dir,
                        MAX_NAME_TRIES);
}

static qf_status write_sidecar(const char *path, qf_error *err)
{
    char hex[65], sidecar[4200];
    const char *base = strrchr(path, '/');
    qf_status status = qf_state_sha256_file(path, hex, err);
    FILE *file;

    if (status != QF_OK)
        return status;
    snprintf(sidecar, sizeof(sidecar), "%s.sha256", path);
    file = fopen(sidecar, "wx");
    if (!file)
        return qf_error_set(err, QF_ERR_IO, "cannot create %s: %s", sidecar,
                            strerror(errno));
    fprintf(file, "%s  %s\n", hex, base ? base + 1 : path);
    if (fclose(file) != 0)
        return qf_error_set(err, QF_ERR_IO, "writing %s failed", sidecar);
    return QF_OK;
}

qf_status qf_state_backup(qf_state *st, char **out, qf_error *err)
{
    sqlite3 *dst = NULL;
    char *path = NULL;
    qf_status status;

    *out = NULL;
    status = reserve_name(st, &path, err);
    if (status != QF_OK)
        return status;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        status = qf_error_set(err, QF_ERR_IO, "cannot open backup %s: %s", path,
                              dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    status = copy_db(dst, st->db, "backing up the state store", err);
    sqlite3_close(dst);
    dst = NULL;
    if (status == QF_OK)
        status = write_sidecar(path, err);

out:
    sqlite3_close(dst);
    if (status != QF_OK) {
        unlink(path);
        free(path);
        return status;
    }
    *out = path;
    return QF_OK;
}

static qf_status verify(const char *path, qf_error *err)
{
    char sidecar[4200], expected[65] = "", actual[65];
    FILE *file;
    qf_status status;

    snprintf(sidecar, sizeof(sidecar), "%s.sha256", path);
    file = fopen(sidecar, "r");
    if (!file)
        return qf_error_set(err, QF_ERR_NOT_FOUND,
                            "backup %s has no checksum file %s (%s); only "
                            "verified backups are restored",
                            path, sidecar, strerror(errno));
    if (fscanf(file, "%64s", expected) != 1)
        expected[0] = '\0';
    fclose(file);
    status = qf_state_sha256_file(path, actual, err);
    if (status != QF_OK)
        return status;
    if (strlen(expected) != 64 || strcmp(expected, actual) != 0)
        return qf_error_set(err, QF_ERR_INVALID,
                            "backup %s failed its checksum: %s expects %s but "
                            "the file hashes to %s; the file was changed or "
                            "damaged, so pick another backup",
                            path, sidecar, expected[0] ? expected : "(empty)",
                            actual);
    return QF_OK;
}

qf_status qf_state_restore_unchecked(qf_state *st, const char *path,
                                     qf_error *err)
{
    sqlite3 *src = NULL;
    qf_status status;

    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        status = qf_error_set(err, QF_ERR_IO, "cannot open backup %s: %s", path,
                              src ? sqlite3_errmsg(src) : "out of memory");
        sqlite3_close(src);
        return status;
    }
    status = copy_db(st->db, src, "restoring the state store", err);
    sqlite3_close(src);
    if (status == QF_OK)
        status = qf_state_read_version(st->db, st->version, err);
    return status;
}

/* Reject a backup whose schema this qf cannot read. */
static qf_status check_backup_version(const char *path, qf_error *err)
{
    char version[QF_STATE_VERSION_MAX] = "";
    const char *newest = qf_state_schema_newest();
    sqlite3 *db = NULL;
    qf_status status = QF_OK;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
        status = qf_state_read_version(db, version, err);
    sqlite3_close(db);
    if (status != QF_OK)
        return status;
    if (version[0] == '\0')
        return qf_error_set(err, QF_ERR_INVALID,
                            "%s is not a state store backup: it has no "
                            "schema version",
                            path);
    if (qf_state_version_compare(version, newest) > 0)
        return qf_error_set(err, QF_ERR_UNSUPPORTED,
                            "backup %s has schema %s, this qf supports up to "
                            "%s; upgrade qf to restore it",
                            path, version, newest);
    return QF_OK;
}

qf_status qf_state_restore(qf_state *st, const char *path, qf_error *err)
{
    qf_status status = verify(path, err);

    if (status == QF_OK)
        status = check_backup_version(path, err);
    if (status == QF_OK)
        status = qf_state_restore_unchecked(st, path, err);
    return status;
}

/*
 * fc_files.c - the files of a file_cache directory: entry paths sharded by
 * the first two hex digits of the key, whole-file reads, unique temporary
 * files for atomic replacement, and removal of everything for `clear`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_internal.h"

/* Entries larger than this are treated as corrupt rather than read. */
#define FC_MAX_FILE_BYTES ((size_t)1 << 30)
/* Temporary files older than this are leftovers of a crashed writer. */
#define FC_STALE_TEMP_SECONDS 600

int qf_fc_entry_path(const fc_instance *fc, const char *key, char *buf,
                     size_t size)
{
    int n = snprintf(buf, size, "%s/%.2s/%s.qfc", fc->dir, key, key);

    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int qf_fc_mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        buf[i] = i == len ? '\0' : '/';
    }
    return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int qf_fc_read_file(const fc_instance *fc, const char *path, uint8_t **out,
                    size_t *len, dev_t *dev, ino_t *ino)
{
    struct stat st;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > FC_MAX_FILE_BYTES)
        goto fail;

    buf = fc->host->alloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL || read_all(fd, buf, (size_t)st.st_size) != 0)
        goto fail;
    close(fd);

    *out = buf;
    *len = (size_t)st.st_size;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;

fail:
    fc->host->free(buf);
    close(fd);
    errno = EIO;
    return -1;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int qf_fc_write_temp(fc_instance *fc, const char *final_path,
                     const uint8_t *data, size_t len, char *tmp,
                     size_t tmp_size)
{
    const char *slash = strrchr(final_path, '/');
    unsigned long long serial = atomic_fetch_add(&fc->temp_serial, 1);
    int fd;
    int n;

    n = snprintf(tmp, tmp_size, "%.*s/.%s.%ld.%lx.%llu.tmp",
                 (int)(slash - final_path), final_path, slash + 1,
                 (long)getpid(), (unsigned long)(uintptr_t)fc, serial);
    if (n < 0 || (size_t)n >= tmp_size) {
        errno = ENAMETOOLONG;
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) != 0 || (fc->fsync_writes && fsync(fd) != 0)) {
        int saved = errno;

        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return close(fd);
}

static int is_shard_name(const char *name)
{
    static const char hex[] = "0123456789abcdef";

    return strlen(name) == 2 && strchr(hex, name[0]) && strchr(hex, name[1]);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s);
    size_t b = strlen(suffix);

    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Remove the entries of one shard folder; returns how many. */
static int64_t clear_shard(const char *shard, time_t now)
{
    DIR *d = opendir(shard);
    struct dirent *de;
    int64_t removed = 0;
    char path[4096];
    struct stat st;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (snprintf(path, sizeof(path), "%s/%s", shard, de->d_name) >=
            (int)sizeof(path))
            continue;
        if (ends_with(de->d_name, ".qfc")) {
            removed += unlink(path) == 0;
        } else if (ends_with(de->d_name, ".tmp") && lstat(path, &st) == 0 &&
                   now - st.st_mtime > FC_STALE_TEMP_SECONDS) {
            unlink(path);
        }
    }
    closedir(d);
    return removed;
}

int64_t qf_fc_remove_all_files(const fc_instance *fc)
{
    DIR *d = opendir(fc->dir);
    struct dirent *de;
    int64_t removed = 0;
    char shard[4096];
    time_t now = time(NULL);

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (!is_shard_name(de->d_name))
            continue;
        if (snprintf(shard, sizeof(shard), "%s/%s", fc->dir, de->d_name) <
            (int)sizeof(shard))
            removed += clear_shard(shard, now);
    }
    closedir(d);
    return removed;
}

void qf_fc_warn(fc_instance *fc, const char *fmt, ...)
{
    int64_t now = fc->host->now_ms(fc->ctx);
    int64_t last = atomic_load(&fc->last_warn_ms);
    char msg[512];
    int64_t suppressed;
    va_list ap;

    if (!fc->host->log_enabled(fc->ctx, QF_LOG_WARN))
        return;
    if (last != 0 && now - last < 10000) {
        atomic_fetch_add(&fc->warns_suppressed, 1);
        return;
    }
    if (!atomic_compare_exchange_strong(&fc->last_warn_ms, &last, now)) {
        atomic_fetch_add(&fc->warns_suppressed, 1);
        return;
    }

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    suppressed = atomic_exchange(&fc->warns_suppressed, 0);
    if (suppressed > 0)
        fc->host->log(fc->ctx, QF_LOG_WARN,
                      "%s (and %lld similar "
                      "warnings in the last 10 s)",
                      msg, (long long)suppressed);
    else
        fc->host->log(fc->ctx, QF_LOG_WARN, "%s", msg);
}

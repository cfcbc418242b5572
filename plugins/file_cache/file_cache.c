/*
 * file_cache.c - the file_cache backend plugin: one file per entry under
 * <dir>/<first two hex digits of the key>/, written to a unique temporary
 * file and renamed into place, plus a shared SQLite index (<dir>/index.db)
 * for LRU eviction, pruning and statistics.
 *
 * A hit reads one file and touches no database: its last-access time and
 * hit count wait in memory and a background thread writes them in batches
 * (after five seconds or 64 accesses); puts, stats and destroy write them
 * too.
 * Renames, deletions and their index rows change together inside SQLite's
 * write lock, so every process sees a file and its row agree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_internal.h"

#define DEFAULT_MAX_BYTES ((int64_t)1 << 30)
#define EVICT_BATCH       16
#define PRUNE_BATCH       256

/* --- Buffered access times and counts ---------------------------------- */

/* Write buffered accesses and counts; the caller holds the index write
 * lock. */
static void flush_locked(fc_instance *fc)
{
    fc_access batch[FC_PENDING_MAX];
    int count;

    pthread_mutex_lock(&fc->pending_lock);
    count = fc->pending_count;
    memcpy(batch, fc->pending, sizeof(batch[0]) * (size_t)count);
    fc->pending_count = 0;
    pthread_mutex_unlock(&fc->pending_lock);

    for (int i = 0; i < count; i++)
        qf_fc_index_touch(&fc->index, batch[i].key, batch[i].ms,
                          batch[i].ms - FC_TOUCH_INTERVAL_MS);
    qf_fc_index_count(&fc->index, "hits", atomic_exchange(&fc->hits, 0));
    qf_fc_index_count(&fc->index, "misses", atomic_exchange(&fc->misses, 0));
    qf_fc_index_count(&fc->index, "expirations",
                      atomic_exchange(&fc->expirations, 0));
}

static void flush(fc_instance *fc)
{
    if (qf_fc_index_begin(&fc->index) != QF_OK) {
        qf_fc_warn(fc,
                   "cache index %s/index.db is busy; access times and "
                   "counts stay buffered",
                   fc->dir);
        return;
    }
    flush_locked(fc);
    qf_fc_index_commit(&fc->index, 1);
}

/* Whether `key` needs its access recorded: not recorded in the last
 * FC_TOUCH_INTERVAL_MS as far as the recent table remembers. Called with
 * pending_lock held. */
static int access_is_new(fc_instance *fc, const char *key, int64_t now)
{
    uint64_t tag = 0;
    fc_recent *slot;

    for (int i = 0; i < 16; i++)
        tag = (tag << 4) |
              (uint64_t)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
    slot = &fc->recent[tag % FC_RECENT_SLOTS];
    if (slot->tag == tag && now >= slot->ms &&
        now - slot->ms < FC_TOUCH_INTERVAL_MS)
        return 0;
    slot->tag = tag;
    slot->ms = now;
    return 1;
}

/* The background writer: writes buffered accesses and counts whenever a
 * lookup asks for it, so no lookup waits for SQLite. */
static void *writer_main(void *arg)
{
    fc_instance *fc = arg;

    pthread_mutex_lock(&fc->pending_lock);
    for (;;) {
        while (!fc->flush_requested && !fc->stopping)
            pthread_cond_wait(&fc->flush_wanted, &fc->pending_lock);
        if (!fc->flush_requested)
            break;
        fc->flush_requested = 0;
        pthread_mutex_unlock(&fc->pending_lock);
        flush(fc);
        pthread_mutex_lock(&fc->pending_lock);
    }
    pthread_mutex_unlock(&fc->pending_lock);
    return NULL;
}

/* Buffer one access (key may be NULL for a miss) and have it written when
 * FC_FLUSH_BATCH accesses wait or the oldest waited FC_FLUSH_INTERVAL_MS:
 * by the background writer, or here when it could not be started. */
static void note_access(fc_instance *fc, const char *key, int64_t now)
{
    int due;

    pthread_mutex_lock(&fc->pending_lock);
    if (fc->pending_count == 0)
        fc->pending_since_ms = now;
    if (key != NULL && fc->pending_count < FC_PENDING_MAX &&
        access_is_new(fc, key, now)) {
        fc_access *a = &fc->pending[fc->pending_count++];

        memcpy(a->key, key, sizeof(a->key));
        a->ms = now;
    }
    due = fc->pending_count >= FC_FLUSH_BATCH ||
          now - fc->pending_since_ms >= FC_FLUSH_INTERVAL_MS;
    if (due) {
        fc->pending_since_ms = now;
        fc->flush_requested = 1;
        pthread_cond_signal(&fc->flush_wanted);
    }
    pthread_mutex_unlock(&fc->pending_lock);

    if (due && !fc->has_writer)
        flush(fc);
}

static void stop_writer(fc_instance *fc)
{
    if (!fc->has_writer)
        return;
    pthread_mutex_lock(&fc->pending_lock);
    fc->stopping = 1;
    pthread_cond_signal(&fc->flush_wanted);
    pthread_mutex_unlock(&fc->pending_lock);
    pthread_join(fc->writer, NULL);
    fc->has_writer = 0;
}

/* --- Lifecycle --------------------------------------------------------- */

static qf_status read_settings(fc_instance *fc, qf_error *err)
{
    const qf_host *h = fc->host;
    const char *dir = NULL;
    const char *state_dir;
    qf_status st;
    size_t size;

    st = h->config_string(fc->ctx, "dir", &dir, err);
    if (st != QF_OK && st != QF_ERR_NOT_FOUND)
        return st;
    state_dir = h->context_state_dir(fc->ctx);
    if (dir == NULL && state_dir == NULL)
        return h->error_set(err, QF_ERR_CONFIG,
                            "file_cache: no cache folder: set `dir` in the "
                            "cache settings or a state_dir");

    size = (dir ? strlen(dir) : strlen(state_dir) + 6) + 1;
    fc->dir = h->alloc(size);
    if (fc->dir == NULL)
        return h->error_set(err, QF_ERR_NOMEM, "file_cache: out of memory");
    if (dir != NULL)
        snprintf(fc->dir, size, "%s", dir);
    else
        snprintf(fc->dir, size, "%s/cache", state_dir);

    st = h->config_int(fc->ctx, "max_bytes", &fc->max_bytes, err);
    if (st == QF_ERR_NOT_FOUND)
        fc->max_bytes = DEFAULT_MAX_BYTES;
    else if (st != QF_OK)
        return st;
    st = h->config_bool(fc->ctx, "fsync", &fc->fsync_writes, err);
    if (st != QF_OK && st != QF_ERR_NOT_FOUND)
        return st;
    return QF_OK;
}

static void fc_destroy(void *instance)
{
    fc_instance *fc = instance;

    if (fc == NULL)
        return;
    stop_writer(fc);
    if (fc->index.db != NULL) {
        flush(fc);
        qf_fc_index_close(&fc->index);
    }
    pthread_cond_destroy(&fc->flush_wanted);
    pthread_mutex_destroy(&fc->pending_lock);
    fc->host->free(fc->dir);
    fc->host->free(fc);
}

static qf_status fc_create(const qf_host *host, qf_context *ctx,
                           void **instance, qf_error *err)
{
    fc_instance *fc = host->alloc(sizeof(*fc));
    char path[4096];
    char msg[600];
    qf_status st;

    if (fc == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "file_cache: out of memory");
    memset(fc, 0, sizeof(*fc));
    fc->host = host;
    fc->ctx = ctx;
    pthread_mutex_init(&fc->pending_lock, NULL);
    pthread_cond_init(&fc->flush_wanted, NULL);

    st = read_settings(fc, err);
    if (st != QF_OK)
        goto fail;
    if (qf_fc_mkdirs(fc->dir) != 0) {
        st = host->error_set(err, QF_ERR_IO,
                             "file_cache: cannot create folder %s: %s; check "
                             "the `dir` setting and its permissions",
                             fc->dir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/index.db", fc->dir);
    st = qf_fc_index_open(&fc->index, path, 5000, msg, sizeof(msg));
    if (st != QF_OK) {
        host->error_set(err, st, "file_cache: %s", msg);
        goto fail;
    }
    fc->has_writer = pthread_create(&fc->writer, NULL, writer_main, fc) == 0;

    *instance = fc;
    return QF_OK;

fail:
    fc_destroy(fc);
    return st;
}

/* --- get --------------------------------------------------------------- */

/* Remove `path` if it is still the file (dev, ino) found stale, with its
 * row, under the write lock so a newer entry renamed in meanwhile stays. */
static void remove_if_same(fc_instance *fc, const char *key, const char *path,
                           dev_t dev, ino_t ino)
{
    struct stat st;

    if (qf_fc_index_begin(&fc->index) != QF_OK)
        return;
    if (stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino) {
        unlink(path);
        qf_fc_index_delete(&fc->index, key);
    }
    qf_fc_index_commit(&fc->index, 1);
}

static int key_is_valid(const char *key)
{
    size_t len = key ? strlen(key) : 0;

    if (len != QF_FC_KEY_LEN)
        return 0;
    return strspn(key, "0123456789abcdef") == len;
}

static qf_status fc_get(void *instance, const char *key, void **value,
                        size_t *len, int64_t *created_ms, qf_error *err)
{
    fc_instance *fc = instance;
    int64_t now = fc->host->now_ms(fc->ctx);
    char path[4096];
    uint8_t *buf = NULL;
    size_t size = 0;
    dev_t dev;
    ino_t ino;
    qf_fc_entry entry;
    const char *reason = NULL;

    if (!key_is_valid(key))
        return fc->host->error_set(err, QF_ERR_INVALID,
                                   "file_cache: invalid key; expected 64 "
                                   "lowercase hex digits");
    if (qf_fc_entry_path(fc, key, path, sizeof(path)) != 0 ||
        qf_fc_read_file(fc, path, &buf, &size, &dev, &ino) != 0) {
        if (errno != ENOENT)
            qf_fc_warn(fc, "cannot read cache entry %s: %s; treated as a miss",
                       path, strerror(errno));
        goto miss;
    }

    if (qf_fc_entry_parse(buf, size, key, fc->host->sha256, &entry, &reason) !=
        QF_OK) {
        qf_fc_warn(fc, "corrupt cache entry %s (%s); removed", path, reason);
        remove_if_same(fc, key, path, dev, ino);
        goto miss;
    }
    if (entry.expires_ms > 0 && now >= entry.expires_ms) {
        atomic_fetch_add(&fc->expirations, 1);
        remove_if_same(fc, key, path, dev, ino);
        goto miss;
    }

    memmove(buf, entry.value, entry.value_len);
    *value = buf;
    *len = entry.value_len;
    if (created_ms != NULL)
        *created_ms = entry.created_ms;
    atomic_fetch_add(&fc->hits, 1);
    note_access(fc, key, now);
    return QF_OK;

miss:
    fc->host->free(buf);
    atomic_fetch_add(&fc->misses, 1);
    note_access(fc, NULL, now);
    return QF_ERR_NOT_FOUND;
}

/* --- put --------------------------------------------------------------- */

/* Evict least recently used entries, never `keep`, until the total fits
 * max_bytes. Runs inside the write lock. */
static void evict_locked(fc_instance *fc, const char *keep)
{
    char keys[EVICT_BATCH][65];
    char path[4096];
    qf_fc_counters c;

    while (qf_fc_index_counters(&fc->index, &c) == QF_OK &&
           c.bytes > fc->max_bytes) {
        int n = qf_fc_index_select(&fc->index, 0, keep, keys, EVICT_BATCH);

        if (n <= 0)
            break;
        for (int i = 0; i < n && c.bytes > fc->max_bytes; i++) {
            if (qf_fc_entry_path(fc, keys[i], path, sizeof(path)) == 0)
                unlink(path);
            qf_fc_index_delete(&fc->index, keys[i]);
            qf_fc_index_count(&fc->index, "evictions", 1);
            qf_fc_index_counters(&fc->index, &c);
        }
    }
}

/* Rename the temporary file into place and record it, under the lock. */
static qf_status commit_entry(fc_instance *fc, const char *key, const char *tmp,
                              const char *path, size_t size, int64_t now,
                              int64_t expires)
{
    int ok;

    if (qf_fc_index_begin(&fc->index) != QF_OK)
        return QF_ERR_IO;
    flush_locked(fc);
    /* NOTE: a crash after the rename and before the commit leaves a
     * readable file without an index row, invisible to eviction and
     * statistics until `clear`. */
    ok = qf_fc_index_upsert(&fc->index, key, (int64_t)size, now, expires,
                            now) == QF_OK &&
         rename(tmp, path) == 0;
    if (ok && fc->max_bytes > 0)
        evict_locked(fc, key);
    return qf_fc_index_commit(&fc->index, ok) == QF_OK && ok ? QF_OK
                                                             : QF_ERR_IO;
}

static qf_status fc_put(void *instance, const char *key, const void *value,
                        size_t len, int64_t ttl_seconds, qf_error *err)
{
    fc_instance *fc = instance;
    const qf_host *h = fc->host;
    int64_t now = h->now_ms(fc->ctx);
    int64_t expires = ttl_seconds > 0 ? now + ttl_seconds * 1000 : 0;
    size_t size = qf_fc_entry_size(len);
    char path[4096];
    char tmp[4200];
    uint8_t *buf = NULL;
    qf_status st;

    if (!key_is_valid(key))
        return h->error_set(err, QF_ERR_INVALID,
                            "file_cache: invalid key; "
                            "expected 64 lowercase hex digits");
    if (fc->max_bytes > 0 && (int64_t)size > fc->max_bytes)
        return h->error_set(err, QF_ERR_TOO_LARGE,
                            "file_cache: entry of %zu bytes exceeds max_bytes "
                            "%lld; raise max_bytes to cache it",
                            size, (long long)fc->max_bytes);
    if (qf_fc_entry_path(fc, key, path, sizeof(path)) != 0)
        return h->error_set(err, QF_ERR_IO,
                            "file_cache: folder path %s is "
                            "too long",
                            fc->dir);

    buf = h->alloc(size);
    if (buf == NULL)
        return h->error_set(err, QF_ERR_NOMEM, "file_cache: out of memory");
    qf_fc_entry_write(buf, key, now, expires, value, len, h->sha256);

    *strrchr(path, '/') = '\0';
    st = qf_fc_mkdirs(path) == 0 ? QF_OK : QF_ERR_IO;
    path[strlen(path)] = '/';
    if (st == QF_OK &&
        qf_fc_write_temp(fc, path, buf, size, tmp, sizeof(tmp)) != 0)
        st = QF_ERR_IO;
    h->free(buf);
    if (st != QF_OK)
        return h->error_set(err, st, "file_cache: cannot write entry %s: %s",
                            path, strerror(errno));

    st = commit_entry(fc, key, tmp, path, size, now, expires);
    if (st != QF_OK) {
        unlink(tmp);
        return h->error_set(err, st,
                            "file_cache: cannot store entry %s: the "
                            "index %s/index.db is busy or unwritable",
                            path, fc->dir);
    }
    return QF_OK;
}

/* --- remove, prune, clear, stats ---------------------------------------- */

static qf_status fc_remove(void *instance, const char *key, qf_error *err)
{
    fc_instance *fc = instance;
    char path[4096];

    if (!key_is_valid(key) || qf_fc_entry_path(fc, key, path, sizeof(path)))
        return fc->host->error_set(err, QF_ERR_INVALID,
                                   "file_cache: invalid key; expected 64 "
                                   "lowercase hex digits");
    if (qf_fc_index_begin(&fc->index) != QF_OK)
        return fc->host->error_set(err, QF_ERR_IO,
                                   "file_cache: index %s/"
                                   "index.db is busy",
                                   fc->dir);
    unlink(path);
    qf_fc_index_delete(&fc->index, key);
    return qf_fc_index_commit(&fc->index, 1);
}

static qf_status fc_prune(void *instance, int64_t *removed, qf_error *err)
{
    fc_instance *fc = instance;
    int64_t now = fc->host->now_ms(fc->ctx);
    char keys[PRUNE_BATCH][65];
    char path[4096];
    int n;

    *removed = 0;
    do {
        if (qf_fc_index_begin(&fc->index) != QF_OK)
            return fc->host->error_set(err, QF_ERR_IO,
                                       "file_cache: index %s/"
                                       "index.db is busy",
                                       fc->dir);
        n = qf_fc_index_select(&fc->index, now, NULL, keys, PRUNE_BATCH);
        for (int i = 0; i < n; i++) {
            if (qf_fc_entry_path(fc, keys[i], path, sizeof(path)) == 0)
                unlink(path);
            qf_fc_index_delete(&fc->index, keys[i]);
        }
        if (n > 0)
            qf_fc_index_count(&fc->index, "expirations", n);
        if (qf_fc_index_commit(&fc->index, n >= 0) != QF_OK || n < 0)
            return fc->host->error_set(err, QF_ERR_IO,
                                       "file_cache: cannot "
                                       "prune %s/index.db",
                                       fc->dir);
        *removed += n;
    } while (n == PRUNE_BATCH);
    return QF_OK;
}

static qf_status fc_clear(void *instance, int64_t *removed, qf_error *err)
{
    fc_instance *fc = instance;
    qf_status st;

    if (qf_fc_index_begin(&fc->index) != QF_OK)
        return fc->host->error_set(err, QF_ERR_IO,
                                   "file_cache: index %s/"
                                   "index.db is busy",
                                   fc->dir);
    *removed = qf_fc_remove_all_files(fc);
    st = qf_fc_index_delete_all(&fc->index);
    if (qf_fc_index_commit(&fc->index, st == QF_OK) != QF_OK || st != QF_OK)
        return fc->host->error_set(err, QF_ERR_IO,
                                   "file_cache: cannot clear "
                                   "%s/index.db",
                                   fc->dir);
    return QF_OK;
}

static qf_status fc_stats(void *instance, qf_cache_stats *out, qf_error *err)
{
    fc_instance *fc = instance;
    qf_fc_counters c;
    qf_status st;

    if (qf_fc_index_begin(&fc->index) != QF_OK)
        return fc->host->error_set(err, QF_ERR_IO,
                                   "file_cache: index %s/"
                                   "index.db is busy",
                                   fc->dir);
    flush_locked(fc);
    st = qf_fc_index_counters(&fc->index, &c);
    if (qf_fc_index_commit(&fc->index, st == QF_OK) != QF_OK || st != QF_OK)
        return fc->host->error_set(err, QF_ERR_IO,
                                   "file_cache: cannot read "
                                   "statistics of %s/index.db",
                                   fc->dir);

    out->size = sizeof(*out);
    out->entries = c.entries;
    out->bytes = c.bytes;
    out->hits = c.hits;
    out->misses = c.misses;
    out->evictions = c.evictions;
    out->expirations = c.expirations;
    return QF_OK;
}

/* --- Descriptor -------------------------------------------------------- */

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "dir", QF_OPT_STRING, NULL, 0,
     "folder of the entries and index.db (default <state_dir>/cache)"},
    {sizeof(qf_option_spec), "max_bytes", QF_OPT_INT, "1073741824", 0,
     "maximum total size of entry files in bytes; least recently used "
     "entries are evicted beyond it; 0 for no limit"},
    {sizeof(qf_option_spec), "fsync", QF_OPT_BOOL, "false", 0,
     "fsync each entry file before renaming it into place"},
};

static const qf_cache_backend_vtable vtable = {
    sizeof(qf_cache_backend_vtable),
    fc_create,
    fc_destroy,
    fc_get,
    fc_put,
    fc_remove,
    fc_prune,
    fc_clear,
    fc_stats,
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "file_cache",
    "File cache backend",
    "1.0.0",
    "Stores cache entries as files sharded by key prefix, with a shared "
    "SQLite index for eviction and statistics.",
    QF_KIND_CACHE_BACKEND,
    NULL,
    options,
    sizeof(options) / sizeof(options[0]),
    NULL,
    NULL,
    &vtable,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

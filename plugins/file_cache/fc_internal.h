/*
 * fc_internal.h - the file_cache instance shared by its source files.
 */
#ifndef QF_FC_INTERNAL_H
#define QF_FC_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "qf/plugin.h"

#include "fc_entry.h"
#include "fc_index.h"

/* Last-access updates buffered in memory; the background writer is woken
 * when FC_FLUSH_BATCH of them wait, and accesses beyond FC_PENDING_MAX
 * before it runs are dropped. */
#define FC_PENDING_MAX 512
#define FC_FLUSH_BATCH 64
/* Maximum time a buffered access or hit count waits for its write. */
#define FC_FLUSH_INTERVAL_MS 5000
/* A key's access is recorded only when its last recorded access is older
 * than this, so a hot entry costs at most one index update per minute.
 * LRU order has this resolution. */
#define FC_TOUCH_INTERVAL_MS 60000
/* Slots of the table remembering when each recent key was recorded. */
#define FC_RECENT_SLOTS 4096

typedef struct fc_access {
    char key[QF_FC_KEY_LEN + 1];
    int64_t ms;
} fc_access;

/* One slot of the recent-access table: a key's first 8 bytes as a number
 * and when its access was last buffered. */
typedef struct fc_recent {
    uint64_t tag;
    int64_t ms;
} fc_recent;

typedef struct fc_instance {
    const qf_host *host;
    qf_context *ctx;
    char *dir;         /* entry folder, owned (host->alloc) */
    int64_t max_bytes; /* 0: unlimited */
    int fsync_writes;  /* fsync each entry before its rename */
    qf_fc_index index;

    pthread_mutex_t pending_lock; /* guards the fields up to `recent` */
    pthread_cond_t flush_wanted;  /* wakes the background writer */
    int flush_requested;
    int stopping;
    int has_writer;
    pthread_t writer;
    fc_access pending[FC_PENDING_MAX];
    int pending_count;
    int64_t pending_since_ms;
    fc_recent recent[FC_RECENT_SLOTS]; /* guarded by pending_lock */

    /* Counts not yet added to the index. */
    _Atomic int64_t hits;
    _Atomic int64_t misses;
    _Atomic int64_t expirations;

    _Atomic int64_t last_warn_ms;
    _Atomic int64_t warns_suppressed;
    _Atomic uint64_t temp_serial;
} fc_instance;

/* --- fc_files.c: paths and files of entries. */

/* "<dir>/<key[0..2]>/<key>.qfc" into buf; returns 0, or -1 when too long. */
int qf_fc_entry_path(const fc_instance *fc, const char *key, char *buf,
                     size_t size);
/* Create `path` and its parents with mode 0700; returns 0 or -1 (errno). */
int qf_fc_mkdirs(const char *path);
/*
 * Read a whole file into a host->alloc buffer. Returns 0, or -1 with errno
 * (ENOENT for a miss). *dev and *ino identify the file read.
 */
int qf_fc_read_file(const fc_instance *fc, const char *path, uint8_t **out,
                    size_t *len, dev_t *dev, ino_t *ino);
/* Write `len` bytes to a new unique temporary file (0600) next to
 * `final_path`; returns its path in `tmp` or -1 with errno. */
int qf_fc_write_temp(fc_instance *fc, const char *final_path,
                     const uint8_t *data, size_t len, char *tmp,
                     size_t tmp_size);
/* Remove every entry file (and temporary files older than ten minutes)
 * under the shard folders; returns the number of entries removed. */
int64_t qf_fc_remove_all_files(const fc_instance *fc);

/* Log a warning, at most one per ten seconds per instance. */
void qf_fc_warn(fc_instance *fc, const char *fmt, ...) QF_PRINTF(2, 3);

#endif /* QF_FC_INTERNAL_H */

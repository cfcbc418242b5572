/*
 * registry.h - the SQLite record of every plugin file found in the plugin
 * directories.
 *
 * A row is current while the file's path, size, mtime, inode, permission
 * bits and the permission bits of its resolved folder match. Otherwise the
 * file is scanned again. A change of the host's ABI rescans everything.
 * Files that vanished are removed. Listing and validating plugins read the
 * registry alone; only plugins a configuration uses are opened at run
 * time.
 */
#ifndef QF_CORE_REGISTRY_H
#define QF_CORE_REGISTRY_H

#include <stdint.h>

#include "qf/abi.h"

typedef struct qf_registry qf_registry;

/* One plugin file. Strings are owned by the entry. */
typedef struct qf_registry_entry {
    char *path;
    char *dir;
    int64_t size;
    int64_t mtime;
    int64_t inode;
    char *sha256; /* hex */
    char *status; /* "ok", "incompatible", "failed", "disabled" */
    char *error;  /* NULL when status is ok */
    char *id;     /* NULL when the descriptor was never read */
    char *name;
    char *version;
    char *kind;         /* "provider", "middleware", "cache_backend" */
    char *abi;          /* "1.0" */
    char *capabilities; /* JSON array */
    char *options;      /* JSON array of
                           {name,type,default,required,secret,description} */
    char *description;
    char *shadowed_by; /* path of the file that wins, or NULL */
    int64_t mode;      /* permission bits of the file, -1 when unknown */
    int64_t dir_mode;  /* permission bits of its resolved folder, or -1 */
} qf_registry_entry;

typedef struct qf_scan_report {
    int scanned;   /* files opened this time */
    int unchanged; /* rows still current */
    int removed;   /* rows of vanished files */
    int failed;    /* files whose status is not ok */
} qf_scan_report;

/* Open or create the registry database at `db_path`; its folder is created
 * with mode 0700 when missing. */
qf_status qf_registry_open(const char *db_path, qf_registry **out,
                           qf_error *err);
void qf_registry_close(qf_registry *reg);

/*
 * Bring the registry up to date with `dirs` (search order, NULL-terminated).
 * `force` rescans every file. Duplicate ids inside one folder are an error
 * recorded on both rows and returned as QF_ERR_CONFIG naming both files;
 * a later folder's copy of an id is marked shadowed. A file that the
 * permission check rejects keeps the id read earlier from the same bytes,
 * so it still shadows later copies. Every rejected file whose id is
 * unknown is logged after the scan: a warning when it was opened in this
 * scan or a later folder has a file of the same name, info otherwise.
 */
qf_status qf_registry_scan(qf_registry *reg, char *const *dirs, int force,
                           qf_scan_report *report, qf_error *err);

/* Every row, in search order. Free with qf_registry_entries_free. */
qf_status qf_registry_list(qf_registry *reg, qf_registry_entry **out,
                           size_t *count, qf_error *err);

/* The winning row for `id` (not shadowed). QF_ERR_NOT_FOUND when absent;
 * the entry is returned even when its status is not ok. */
qf_status qf_registry_find(qf_registry *reg, const char *id,
                           qf_registry_entry *out, qf_error *err);

void qf_registry_entry_clear(qf_registry_entry *entry);
void qf_registry_entries_free(qf_registry_entry *entries, size_t count);

#endif /* QF_CORE_REGISTRY_H */

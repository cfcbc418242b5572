/*
 * state.h - the project state store: one SQLite database per project
 * (<state_dir>/state.db) holding project information, trace units,
 * snapshots, artifacts and a history of every change; YAML export and
 * import; versioned schema migrations; verified backups.
 *
 * A qf_state handle belongs to one thread at a time. Results returned as
 * cJSON values are owned by the caller (free with cJSON_Delete). Every
 * function that fails sets err with what failed and what to do.
 */
#ifndef QF_CORE_STATE_H
#define QF_CORE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "error.h"

typedef struct qf_state qf_state;

/* Milliseconds since the Unix epoch (UTC). Tests inject a fixed clock. */
typedef int64_t (*qf_state_clock_fn)(void *ctx);

/* Schema version this code reads and writes entities with. */
#define QF_STATE_SCHEMA_DATA "1.1.0"

/* Export document format version. */
#define QF_STATE_FORMAT_VERSION 1

/* --- Store ------------------------------------------------------------ */

/*
 * Open <state_dir>/state.db. With `create` the folder and a new store are
 * created when missing, at the newest registered schema; without it a
 * missing store is QF_ERR_NOT_FOUND. A store whose schema is newer than the
 * newest registered one is rejected (QF_ERR_UNSUPPORTED).
 */
qf_status qf_state_open(const char *state_dir, int create, qf_state **out,
                        qf_error *err);
void qf_state_close(qf_state *st);

/* Replace the clock used for timestamps and backup names; NULL restores
 * the system clock. */
void qf_state_set_clock(qf_state *st, qf_state_clock_fn clock, void *ctx);

const char *qf_state_schema_version(const qf_state *st);
const char *qf_state_dir(const qf_state *st);
const char *qf_state_db_path(const qf_state *st);

/* The underlying connection, for migration steps and tests. */
sqlite3 *qf_state_db(qf_state *st);

/* --- Project ---------------------------------------------------------- */

/*
 * Write the project row of a store; NULL author or description is "".
 * When the store already has a project, this fails with QF_ERR_INVALID
 * naming it unless `force` is set. With `force`, name, author and
 * description are replaced, and created, trace units, snapshots, artifacts
 * and history are kept. The check and the write share one transaction, so
 * of several concurrent calls without force exactly one succeeds.
 */
qf_status qf_state_project_create(qf_state *st, const char *name,
                                  const char *author, const char *description,
                                  int force, qf_error *err);

/* Create or replace the project row: qf_state_project_create with force. */
qf_status qf_state_project_init(qf_state *st, const char *name,
                                const char *author, const char *description,
                                qf_error *err);

/* Project row and counts as a JSON object (project is null before init). */
qf_status qf_state_info(qf_state *st, cJSON **out, qf_error *err);

/* --- Trace units ------------------------------------------------------ */

/* Check the TU-YYYY-MM-DD-XX00 format and the date; QF_ERR_INVALID. */
qf_status qf_state_tu_id_validate(const char *id, qf_error *err);

/* Optional fields of a new trace unit; a NULL member takes its default. */
typedef struct qf_state_tu_fields {
    const char *owner;       /* role or person; default "" */
    const char *responsible; /* who answers for it; default "" */
    const char *timebox;     /* free text such as "2026-12-20" or "3d" */
    const char *data;        /* JSON text; default {} */
    const char *metadata;    /* JSON text; default {} */
    const char *snapshot;    /* id of an existing snapshot; default null */
} qf_state_tu_fields;

/* Create a trace unit in status hot-proposed; fields may be NULL. */
qf_status qf_state_tu_create_with(qf_state *st, const char *id,
                                  const qf_state_tu_fields *fields,
                                  qf_error *err);
/* Shorthand for qf_state_tu_create_with with only owner and data. */
qf_status qf_state_tu_create(qf_state *st, const char *id, const char *owner,
                             const char *data, qf_error *err);
qf_status qf_state_tu_get(qf_state *st, const char *id, cJSON **out,
                          qf_error *err);
/* All trace units ordered by id, or those with `status` when not NULL. */
qf_status qf_state_tu_list(qf_state *st, const char *status, cJSON **out,
                           qf_error *err);
/* Move a trace unit along its lifecycle; illegal moves are QF_ERR_REFUSED
 * with the current state and the legal next states. */
qf_status qf_state_tu_move(qf_state *st, const char *id, const char *status,
                           qf_error *err);

/* --- Snapshots -------------------------------------------------------- */

/* Freeze the current trace units and artifacts under `id`. Writing an id
 * that exists is an error: snapshots are immutable. */
qf_status qf_state_snapshot_create(qf_state *st, const char *id,
                                   const char *description, qf_error *err);
qf_status qf_state_snapshot_get(qf_state *st, const char *id, cJSON **out,
                                qf_error *err);
/* id, description and created of every snapshot, ordered by id. */
qf_status qf_state_snapshot_list(qf_state *st, cJSON **out, qf_error *err);

/* --- Artifacts -------------------------------------------------------- */

/* Insert or replace an artifact. type is a lowercase identifier
 * (hook_card, canon, tu_brief, codex_entry, scene, quest, ...); data is a
 * JSON text; tags (NULL for []) is a JSON array of strings. */
qf_status qf_state_artifact_put(qf_state *st, const char *id, const char *type,
                                const char *data, const char *tags,
                                qf_error *err);
qf_status qf_state_artifact_get(qf_state *st, const char *id, cJSON **out,
                                qf_error *err);
qf_status qf_state_artifact_list(qf_state *st, const char *type, cJSON **out,
                                 qf_error *err);

/* --- Export and import ------------------------------------------------ */

/* Section names for `include`: project, tus, snapshots, artifacts, history. */
enum {
    QF_STATE_INCLUDE_PROJECT = 1 << 0,
    QF_STATE_INCLUDE_TUS = 1 << 1,
    QF_STATE_INCLUDE_SNAPSHOTS = 1 << 2,
    QF_STATE_INCLUDE_ARTIFACTS = 1 << 3,
    QF_STATE_INCLUDE_HISTORY = 1 << 4,
    QF_STATE_INCLUDE_ALL = 0x1f
};

/* Parse "tus,snapshots,artifacts" into QF_STATE_INCLUDE_* bits. */
qf_status qf_state_include_parse(const char *list, unsigned *out,
                                 qf_error *err);

/* Write the YAML export of the selected sections; *out is malloc'd. */
qf_status qf_state_export(qf_state *st, unsigned include, char **out,
                          size_t *len, qf_error *err);
qf_status qf_state_export_file(qf_state *st, unsigned include, const char *path,
                               qf_error *err);

/* A parsed export document. */
typedef struct qf_state_doc qf_state_doc;

/* Parse and verify an export from bytes (format version, checksum, field
 * values). Touches no database, so a fuzz target can call it directly. */
qf_state_doc *qf_state_doc_parse(const uint8_t *data, size_t len,
                                 qf_error *err);
void qf_state_doc_free(qf_state_doc *doc);

/* Outcome of an import. skipped lists "what (line N)" strings. */
typedef struct qf_state_import_report {
    size_t added;
    size_t skipped_count;
    cJSON *skipped; /* array of strings; caller frees */
} qf_state_import_report;

/* Apply a document in one transaction: replace the sections it contains,
 * or with `merge` add only the rows that are missing. On failure nothing
 * changes. report may be NULL. */
qf_status qf_state_import(qf_state *st, const qf_state_doc *doc, int merge,
                          qf_state_import_report *report, qf_error *err);
qf_status qf_state_import_file(qf_state *st, const char *path, int merge,
                               qf_state_import_report *report, qf_error *err);

/* --- Migrations ------------------------------------------------------- */

/* One direction of a migration step; runs inside the step's transaction. */
typedef qf_status (*qf_state_migration_fn)(sqlite3 *db, qf_error *err);

/* Register a step between two semantic versions (from older than to).
 * The registry is process-wide and not thread-safe. */
qf_status qf_state_migration_register(const char *from, const char *to,
                                      qf_state_migration_fn upgrade,
                                      qf_state_migration_fn downgrade,
                                      qf_error *err);
/* Forget every registered step but the built-in ones. */
void qf_state_migration_reset(void);

/* Newest version reachable through the registered steps. */
const char *qf_state_schema_newest(void);

/* Compare two semantic versions: <0, 0, >0. Unparsable sorts first. */
int qf_state_version_compare(const char *a, const char *b);

/*
 * Migrate the store to `to`. *steps (may be NULL) receives the path as an
 * array of "1.0.0 -> 1.1.0 (upgrade)" strings. Unless dry_run, a backup is
 * taken first and restored when any step fails; *backup_path (may be NULL)
 * receives its path (malloc'd).
 */
qf_status qf_state_migrate(qf_state *st, const char *to, int dry_run,
                           cJSON **steps, char **backup_path, qf_error *err);

/* --- Backups ---------------------------------------------------------- */

/* Copy the store to <state_dir>/backups/state-<time>-<n>.db with a
 * .sha256 sidecar; *path (malloc'd) receives the file name. */
qf_status qf_state_backup(qf_state *st, char **path, qf_error *err);

/* Verify a backup's checksum and copy it over the open store. */
qf_status qf_state_restore(qf_state *st, const char *path, qf_error *err);

#endif /* QF_CORE_STATE_H */

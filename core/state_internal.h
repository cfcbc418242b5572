/*
 * state_internal.h - pieces shared by the state store files: the handle,
 * SQL and time helpers, the history writer and the export section table.
 */
#ifndef QF_CORE_STATE_INTERNAL_H
#define QF_CORE_STATE_INTERNAL_H

#include "state.h"

#define QF_STATE_VERSION_MAX 32
#define QF_STATE_TIME_MAX    80

struct qf_state {
    sqlite3 *db;
    char *dir;
    char *db_path;
    char version[QF_STATE_VERSION_MAX];
    qf_state_clock_fn clock;
    void *clock_ctx;
};

/* --- Helpers (state_util.c) ------------------------------------------- */

/* Run SQL without results; on failure set err with `what` and SQLite's
 * message. */
qf_status qf_state_sql_exec(sqlite3 *db, const char *sql, const char *what,
                            qf_error *err);
qf_status qf_state_sql_fail(sqlite3 *db, const char *what, qf_error *err);
qf_status qf_state_sql_prepare(sqlite3 *db, const char *sql,
                               sqlite3_stmt **stmt, qf_error *err);

/* Build an object of every column of the current row (text, integer or
 * null). Returns NULL when out of memory. */
cJSON *qf_state_row_json(sqlite3_stmt *stmt);

/* Collect every row of a prepared statement into an array; finalizes it. */
qf_status qf_state_rows_json(sqlite3 *db, sqlite3_stmt *stmt, cJSON **out,
                             qf_error *err);

/* Run `sql`, whose ?1 is `id`, and return its row as an object in *out.
 * No row is QF_ERR_NOT_FOUND naming the `entity` and the 'qf state
 * <command> list' that shows the existing ones. */
qf_status qf_state_row_by_id(sqlite3 *db, const char *sql, const char *id,
                             const char *entity, const char *command,
                             cJSON **out, qf_error *err);

/* Start a write transaction on a store that has the data schema. */
qf_status qf_state_begin(qf_state *st, qf_error *err);

/* Commit when `status` is QF_OK, naming `what` if the commit fails. Roll
 * back on any failure, so no transaction stays open. Returns the result. */
qf_status qf_state_finish(qf_state *st, qf_status status, const char *what,
                          qf_error *err);

/* Format ms since the epoch as 2026-12-04T20:40:40.123Z. */
void qf_state_time_format(int64_t ms, char out[QF_STATE_TIME_MAX]);
int64_t qf_state_now_ms(const qf_state *st);
void qf_state_now(const qf_state *st, char out[QF_STATE_TIME_MAX]);

/* True when the string is a timestamp in the format above. */
int qf_state_time_valid(const char *text);
/* True when year, month and day name a real Gregorian date. */
int qf_state_date_valid(int year, int month, int day);

/* True when text is valid UTF-8. libyaml's emitter must never see
 * anything else, so every stored string is checked on the way in. */
int qf_state_utf8_valid(const char *text);
/* QF_ERR_INVALID naming `what` unless text is NULL or valid UTF-8. */
qf_status qf_state_text_check(const char *text, const char *what,
                              qf_error *err);

/* Parse JSON text (valid UTF-8) and print it back compact into *out
 * (malloc'd). */
qf_status qf_state_json_normalize(const char *text, const char *what,
                                  char **out, qf_error *err);

/* SHA-256 as 64 lowercase hex digits plus NUL. */
void qf_state_sha256_hex(const void *data, size_t len, char out[65]);
qf_status qf_state_sha256_file(const char *path, char out[65], qf_error *err);

/* Record one change in the history table and touch project.modified. */
qf_status qf_state_history_add(qf_state *st, const char *entity,
                               const char *entity_id, const char *action,
                               const char *details, qf_error *err);

/* Reject entity access unless the schema has the columns this code uses. */
qf_status qf_state_require_data_schema(const qf_state *st, qf_error *err);

/* Read the version row into out; "" when the table is missing. */
qf_status qf_state_read_version(sqlite3 *db, char out[QF_STATE_VERSION_MAX],
                                qf_error *err);

/* --- Schema (state_schema.c) ------------------------------------------ */

/* Create the 1.0.0 tables that are missing, inside the caller's
 * transaction. */
qf_status qf_state_schema_create(sqlite3 *db, qf_error *err);

/* The built-in 1.0.0 <-> 1.1.0 step. */
qf_status qf_state_schema_up_1_1(sqlite3 *db, qf_error *err);
qf_status qf_state_schema_down_1_1(sqlite3 *db, qf_error *err);

/* Run the path from the current version to `to` without a backup, for a
 * store that was just created. Every step runs inside the caller's
 * transaction, so a new store appears at `to` or not at all. */
qf_status qf_state_migrate_fresh(qf_state *st, const char *to, qf_error *err);

/* Copy the database file at `path` over the open store without checks. */
qf_status qf_state_restore_unchecked(qf_state *st, const char *path,
                                     qf_error *err);

/* --- Export sections (state_format.c) --------------------------------- */

typedef enum state_column_kind {
    STATE_COL_TEXT,     /* any string */
    STATE_COL_NULLABLE, /* string or null */
    STATE_COL_INT,      /* 64-bit integer */
    STATE_COL_JSON,     /* JSON text */
    STATE_COL_TIME,     /* timestamp */
    STATE_COL_TU_ID,    /* trace unit id */
    STATE_COL_STATUS    /* trace unit status */
} state_column_kind;

typedef struct state_column {
    const char *name;
    state_column_kind kind;
    const char *fallback; /* value when the field is missing; NULL: required */
} state_column;

typedef struct state_section {
    const char *key;    /* YAML key of the section */
    const char *entity; /* name in messages */
    const char *table;  /* SQL table */
    unsigned include;   /* QF_STATE_INCLUDE_* bit */
    int single;         /* one mapping (project), not a sequence */
    const state_column *columns;
    size_t ncolumns;
} state_section;

#define STATE_SECTION_COUNT 5
extern const state_section qf_state_sections[STATE_SECTION_COUNT];

/* Check one field value against its column; message names field and why. */
qf_status qf_state_column_check(const state_column *col, const char *value,
                                int is_null, qf_error *err);

/* Lifecycle (state_tu.c): 1 when `status` is a known status. */
int qf_state_status_known(const char *status);

/* One parsed field, record and section of an export document. */
typedef struct state_field {
    char *key;
    char *value; /* NULL when the YAML value is null */
    size_t line;
} state_field;

typedef struct state_record {
    state_field *fields;
    size_t count, cap;
    size_t line;
} state_record;

typedef struct state_records {
    int present;
    state_record *items;
    size_t count, cap;
} state_records;

struct qf_state_doc {
    char schema_version[QF_STATE_VERSION_MAX];
    char checksum[65];
    state_records sections[STATE_SECTION_COUNT];
};

/* Value of a field in a record, or NULL with *found 0 when absent. */
const state_field *qf_state_record_field(const state_record *rec,
                                         const char *key);

#endif /* QF_CORE_STATE_INTERNAL_H */

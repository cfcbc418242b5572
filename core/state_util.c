/*
 * state_util.c - small helpers of the state store: SQL execution with
 * clear errors, rows as JSON, ISO 8601 timestamps with milliseconds from an
 * injectable clock, JSON normalisation and SHA-256 digests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "state_internal.h"

qf_status qf_state_sql_fail(sqlite3 *db, const char *what, qf_error *err)
{
    int code = sqlite3_extended_errcode(db);
    qf_status status = QF_ERR_IO;

    if ((code & 0xff) == SQLITE_CONSTRAINT)
        status = QF_ERR_INVALID;
    return qf_error_set(err, status, "%s failed: %s", what, sqlite3_errmsg(db));
}

qf_status qf_state_sql_exec(sqlite3 *db, const char *sql, const char *what,
                            qf_error *err)
{
    char *message = NULL;
    qf_status status = QF_OK;

    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        status = qf_error_set(err, QF_ERR_IO, "%s failed: %s", what,
                              message ? message : sqlite3_errmsg(db));
    }
    sqlite3_free(message);
    return status;
}

qf_status qf_state_sql_prepare(sqlite3 *db, const char *sql,
                               sqlite3_stmt **stmt, qf_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, stmt, NULL) != SQLITE_OK)
        return qf_state_sql_fail(db, "preparing a state query", err);
    return QF_OK;
}

cJSON *qf_state_row_json(sqlite3_stmt *stmt)
{
    cJSON *row = cJSON_CreateObject();
    int n = sqlite3_column_count(stmt);

    for (int i = 0; row && i < n; i++) {
        const char *name = sqlite3_column_name(stmt, i);
        cJSON *value;

        if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
            value = cJSON_CreateNull();
        else if (sqlite3_column_type(stmt, i) == SQLITE_INTEGER)
            value = cJSON_CreateNumber((double)sqlite3_column_int64(stmt, i));
        else
            value =
                cJSON_CreateString((const char *)sqlite3_column_text(stmt, i));
        if (!value || !cJSON_AddItemToObject(row, name, value)) {
            cJSON_Delete(value);
            cJSON_Delete(row);
            return NULL;
        }
    }
    return row;
}

qf_status qf_state_rows_json(sqlite3 *db, sqlite3_stmt *stmt, cJSON **out,
                             qf_error *err)
{
    cJSON *rows = cJSON_CreateArray();
    qf_status status = QF_OK;
    int rc;

    if (!rows) {
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory listing rows");
        goto out;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        cJSON *row = qf_state_row_json(stmt);

        if (!row || !cJSON_AddItemToArray(rows, row)) {
            cJSON_Delete(row);
            status =
                qf_error_set(err, QF_ERR_NOMEM, "out of memory listing rows");
            goto out;
        }
    }
    if (rc != SQLITE_DONE)
        status = qf_state_sql_fail(db, "reading the state store", err);

out:
    sqlite3_finalize(stmt);
    if (status != QF_OK) {
        cJSON_Delete(rows);
        rows = NULL;
    }
    *out = rows;
    return status;
}

qf_status qf_state_row_by_id(sqlite3 *db, const char *sql, const char *id,
                             const char *entity, const char *command,
                             cJSON **out, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    *out = NULL;
    status = qf_state_sql_prepare(db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *out = qf_state_row_json(stmt);
    else
        status = qf_error_set(err, QF_ERR_NOT_FOUND,
                              "%s %s not found; 'qf state %s list' shows the "
                              "existing ones",
                              entity, id, command);
    sqlite3_finalize(stmt);
    if (status == QF_OK && !*out)
        status =
            qf_error_set(err, QF_ERR_NOMEM, "out of memory reading %s", id);
    return status;
}

qf_status qf_state_begin(qf_state *st, qf_error *err)
{
    qf_status status = qf_state_require_data_schema(st, err);

    if (status != QF_OK)
        return status;
    return qf_state_sql_exec(st->db, "BEGIN IMMEDIATE",
                             "starting a transaction", err);
}

qf_status qf_state_finish(qf_state *st, qf_status status, const char *what,
                          qf_error *err)
{
    if (status == QF_OK)
        status = qf_state_sql_exec(st->db, "COMMIT", what, err);
    if (status != QF_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

void qf_state_time_format(int64_t ms, char out[QF_STATE_TIME_MAX])
{
    time_t seconds = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    struct tm tm;

    if (millis < 0) {
        millis += 1000;
        seconds -= 1;
    }
    gmtime_r(&seconds, &tm);
    snprintf(out, QF_STATE_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, millis);
}

int64_t qf_state_now_ms(const qf_state *st)
{
    struct timespec ts;

    if (st && st->clock)
        return st->clock(st->clock_ctx);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qf_state_now(const qf_state *st, char out[QF_STATE_TIME_MAX])
{
    qf_state_time_format(qf_state_now_ms(st), out);
}

int qf_state_date_valid(int year, int month, int day)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int max;

    if (year < 1 || month < 1 || month > 12 || day < 1)
        return 0;
    max = days[month - 1] + (month == 2 && leap);
    return day <= max;
}

/* Read `count` decimal digits at text; -1 when any is not a digit. */
static int read_digits(const char *text, int count)
{
    int value = 0;

    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

int qf_state_time_valid(const char *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    if (!t || strlen(t) != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != shape[i])
            return 0;
    }
    if (read_digits(t + 11, 2) > 23 || read_digits(t + 14, 2) > 59 ||
        read_digits(t + 17, 2) > 59)
        return 0;
    return qf_state_date_valid(read_digits(t, 4), read_digits(t + 5, 2),
                               read_digits(t + 8, 2));
}

/* Length of the UTF-8 sequence at s, or 0 when it is invalid. Rejects
 * overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s)
{
    size_t len = 0;

    if (s[0] < 0x80)
        len = 1;
    else if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;

    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

int qf_state_utf8_valid(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;

    while (*s) {
        size_t len = utf8_sequence(s);

        if (len == 0)
            return 0;
        s += len;
    }
    return 1;
}

qf_status qf_state_text_check(const char *text, const char *what, qf_error *err)
{
    if (!text || qf_state_utf8_valid(text))
        return QF_OK;
    return qf_error_set(err, QF_ERR_INVALID,
                        "%s is not valid UTF-8; pass UTF-8 text", what);
}

qf_status qf_state_json_normalize(const char *text, const char *what,
                                  char **out, qf_error *err)
{
    cJSON *value;
    const char *where;

    *out = NULL;
    if (qf_state_text_check(text, what, err) != QF_OK)
        return err ? err->status : QF_ERR_INVALID;
    value = cJSON_Parse(text);
    if (!value) {
        where = cJSON_GetErrorPtr();
        return qf_error_set(err, QF_ERR_INVALID,
                            "%s is not valid JSON (near byte %ld of '%.40s'); "
                            "pass a JSON text such as {\"key\": \"value\"}",
                            what, where ? (long)(where - text) : 0L, text);
    }
    *out = cJSON_PrintUnformatted(value);
    cJSON_Delete(value);
    if (!*out)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory printing %s",
                            what);
    return QF_OK;
}

static void hex_encode(const unsigned char *digest, char out[65])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 0xf];
    }
    out[64] = '\0';
}

void qf_state_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[32];
    unsigned int size = 0;

    EVP_Digest(data, len, digest, &size, EVP_sha256(), NULL);
    hex_encode(digest, out);
}

qf_status qf_state_sha256_file(const char *path, char out[65], qf_error *err)
{
    unsigned char digest[32], chunk[16384];
    unsigned int size = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *file = fopen(path, "rb");
    qf_status status = QF_OK;
    size_t n;

    if (!ctx || !file) {
        status = qf_error_set(err, QF_ERR_IO, "cannot read %s to hash it: %s",
                              path, file ? "out of memory" : strerror(errno));
        goto out;
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while ((n = fread(chunk, 1, sizeof(chunk), file)) > 0)
        EVP_DigestUpdate(ctx, chunk, n);
    if (ferror(file)) {
        status = qf_error_set(err, QF_ERR_IO, "reading %s failed", path);
        goto out;
    }
    EVP_DigestFinal_ex(ctx, digest, &size);
    hex_encode(digest, out);

out:
    if (file)
        fclose(file);
    EVP_MD_CTX_free(ctx);
    return status;
}

qf_status qf_state_history_add(qf_state *st, const char *entity,
                               const char *entity_id, const char *action,
                               const char *details, qf_error *err)
{
    static const char sql[] =
        "INSERT INTO history (entity, entity_id, action, time, details) "
        "VALUES (?1, ?2, ?3, ?4, ?5)";
    char now[QF_STATE_TIME_MAX];
    sqlite3_stmt *stmt = NULL;
    qf_status status;

    qf_state_now(st, now);
    status = qf_state_sql_prepare(st->db, sql, &stmt, err);
    if (status != QF_OK)
        return status;
    sqlite3_bind_text(stmt, 1, entity, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, entity_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, details ? details : "{}", -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "recording history", err);
    sqlite3_finalize(stmt);
    if (status != QF_OK || strcmp(entity, "project") == 0)
        return status;

    if (sqlite3_prepare_v2(st->db, "UPDATE project SET modified = ?1", -1,
                           &stmt, NULL) != SQLITE_OK)
        return qf_state_sql_fail(st->db, "touching project.modified", err);
    sqlite3_bind_text(stmt, 1, now, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        status = qf_state_sql_fail(st->db, "touching project.modified", err);
    sqlite3_finalize(stmt);
    return status;
}

qf_status qf_state_require_data_schema(const qf_state *st, qf_error *err)
{
    if (qf_state_version_compare(st->version, QF_STATE_SCHEMA_DATA) >= 0)
        return QF_OK;
    return qf_error_set(err, QF_ERR_UNSUPPORTED,
                        "%s has schema %s, older than the %s this qf reads; "
                        "run 'qf state migrate --to %s' first",
                        st->db_path, st->version, QF_STATE_SCHEMA_DATA,
                        QF_STATE_SCHEMA_DATA);
}

qf_status qf_state_read_version(sqlite3 *db, char out[QF_STATE_VERSION_MAX],
                                qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status = QF_OK;
    int rc;

    out[0] = '\0';
    rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_info WHERE id = 1",
                            -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return QF_OK; /* no schema_info table: an empty database */
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        snprintf(out, QF_STATE_VERSION_MAX, "%s",
                 (const char *)sqlite3_column_text(stmt, 0));
    else if (rc != SQLITE_DONE)
        status = qf_state_sql_fail(db, "reading the schema version", err);
    sqlite3_finalize(stmt);
    return status;
}

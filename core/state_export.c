/*
 * state_export.c - write the store as one YAML document with libyaml's
 * emitter. The document opens with format_version and checksum; the
 * checksum is "sha256:" and the SHA-256 of every byte after the line that
 * holds it, to the end of the document. Strings are double-quoted, rows
 * are ordered by key, so the same store always gives the same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "state_internal.h"

#define PLACEHOLDER                                                            \
    "sha256:0000000000000000000000000000000000000000000000000000000000000000"

typedef struct out_buffer {
    char *data;
    size_t len, cap;
} out_buffer;

static int write_bytes(void *ctx, unsigned char *bytes, size_t size)
{
    out_buffer *buf = ctx;

    if (buf->len + size + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap * 2 : 4096;
        char *grown;

        while (cap < buf->len + size + 1)
            cap *= 2;
        grown = realloc(buf->data, cap);
        if (!grown)
            return 0;
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, bytes, size);
    buf->len += size;
    buf->data[buf->len] = '\0';
    return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *value,
                       yaml_scalar_style_t style)
{
    yaml_event_t ev;

    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value,
                                 (int)strlen(value), 1, 1, style);
    return yaml_emitter_emit(em, &ev);
}

static int emit_plain(yaml_emitter_t *em, const char *value)
{
    return emit_scalar(em, value, YAML_PLAIN_SCALAR_STYLE);
}

static int emit_quoted(yaml_emitter_t *em, const char *value)
{
    return emit_scalar(em, value, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static int emit_simple(yaml_emitter_t *em, yaml_event_type_t type)
{
    yaml_event_t ev;

    if (type == YAML_MAPPING_START_EVENT)
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                            YAML_BLOCK_MAPPING_STYLE);
    else if (type == YAML_SEQUENCE_START_EVENT)
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                             YAML_BLOCK_SEQUENCE_STYLE);
    else if (type == YAML_MAPPING_END_EVENT)
        yaml_mapping_end_event_initialize(&ev);
    else
        yaml_sequence_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

/* Emit the current row as a mapping of the section's columns. Returns 0
 * when the emitter fails, -1 when a value is not valid UTF-8. */
static int emit_row(yaml_emitter_t *em, const state_section *sec,
                    sqlite3_stmt *stmt)
{
    int ok = emit_simple(em, YAML_MAPPING_START_EVENT);

    for (size_t i = 0; ok && i < sec->ncolumns; i++) {
        const char *text = (const char *)sqlite3_column_text(stmt, (int)i);

        /* libyaml 0.2.5 loops forever on invalid UTF-8 in a scalar. */
        if (text && !qf_state_utf8_valid(text))
            return -1;
        ok = emit_plain(em, sec->columns[i].name);
        if (!ok)
            break;
        if (sqlite3_column_type(stmt, (int)i) == SQLITE_NULL)
            ok = emit_plain(em, "null");
        else if (sec->columns[i].kind == STATE_COL_INT)
            ok = emit_plain(em, text);
        else
            ok = emit_quoted(em, text ? text : "");
    }
    return ok && emit_simple(em, YAML_MAPPING_END_EVENT);
}

static qf_status select_rows(qf_state *st, const state_section *sec,
                             sqlite3_stmt **stmt, qf_error *err)
{
    char sql[512];
    size_t used = 0;

    used += (size_t)snprintf(sql, sizeof(sql), "SELECT ");
    for (size_t i = 0; i < sec->ncolumns; i++)
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s%s",
                                 i ? ", " : "", sec->columns[i].name);
    snprintf(sql + used, sizeof(sql) - used, " FROM %s ORDER BY %s", sec->table,
             sec->columns[0].name);
    return qf_state_sql_prepare(st->db, sql, stmt, err);
}

/* Emit every selected row; returns 1, 0 when the emitter fails, or -1
 * for text that is not valid UTF-8. *rows receives the row count. */
static int emit_rows(yaml_emitter_t *em, const state_section *sec,
                     sqlite3_stmt *stmt, int *rc, int *rows)
{
    int ok = 1;

    *rows = 0;
    while (ok > 0 && (*rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ok = emit_row(em, sec, stmt);
        ++*rows;
        if (sec->single)
            break;
    }
    if (ok > 0 && sec->single && *rows == 0)
        ok = emit_plain(em, "null");
    return ok;
}

static qf_status emit_section(qf_state *st, yaml_emitter_t *em,
                              const state_section *sec, qf_error *err)
{
    sqlite3_stmt *stmt = NULL;
    qf_status status = select_rows(st, sec, &stmt, err);
    int ok, rc = SQLITE_DONE, rows = 0;

    if (status != QF_OK)
        return status;
    ok = emit_plain(em, sec->key);
    if (ok && !sec->single)
        ok = emit_simple(em, YAML_SEQUENCE_START_EVENT);
    if (ok)
        ok = emit_rows(em, sec, stmt, &rc, &rows);
    if (ok > 0 && !sec->single)
        ok = emit_simple(em, YAML_SEQUENCE_END_EVENT);

    if (ok < 0)
        status = qf_error_set(err, QF_ERR_INVALID,
                              "%s row %d holds text that is not valid UTF-8; "
                              "fix the row before exporting",
                              sec->entity, rows);
    else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        status = qf_state_sql_fail(st->db, "reading rows to export", err);
    else if (!ok)
        status = qf_error_set(err, QF_ERR_INTERNAL,
                              "writing the %s section failed: %s", sec->key,
                              em->problem ? em->problem : "out of memory");
    sqlite3_finalize(stmt);
    return status;
}

static int emit_header(yaml_emitter_t *em, const char *schema_version)
{
    yaml_event_t ev;
    char format[16];

    snprintf(format, sizeof(format), "%d", QF_STATE_FORMAT_VERSION);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (!yaml_emitter_emit(em, &ev))
        return 0;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    return yaml_emitter_emit(em, &ev) &&
           emit_simple(em, YAML_MAPPING_START_EVENT) &&
           emit_plain(em, "format_version") && emit_plain(em, format) &&
           emit_plain(em, "checksum") && emit_quoted(em, PLACEHOLDER) &&
           emit_plain(em, "schema_version") && emit_quoted(em, schema_version);
}

static int emit_footer(yaml_emitter_t *em)
{
    yaml_event_t ev;

    if (!emit_simple(em, YAML_MAPPING_END_EVENT))
        return 0;
    yaml_document_end_event_initialize(&ev, 1);
    if (!yaml_emitter_emit(em, &ev))
        return 0;
    yaml_stream_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static qf_status emit_document(qf_state *st, unsigned include, out_buffer *buf,
                               qf_error *err)
{
    yaml_emitter_t em;
    qf_status status = QF_OK;

    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_bytes, buf);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    if (!emit_header(&em, st->version))
        status =
            qf_error_set(err, QF_ERR_INTERNAL, "writing the header failed");
    for (size_t i = 0; status == QF_OK && i < STATE_SECTION_COUNT; i++) {
        if (include & qf_state_sections[i].include)
            status = emit_section(st, &em, &qf_state_sections[i], err);
    }
    if (status == QF_OK && !emit_footer(&em))
        status = qf_error_set(err, QF_ERR_INTERNAL,
                              "finishing the export failed: %s",
                              em.problem ? em.problem : "out of memory");
    yaml_emitter_delete(&em);
    return status;
}

/* Replace the placeholder with the digest of the bytes after its line. */
static qf_status seal(out_buffer *buf, qf_error *err)
{
    char *slot = buf->data ? strstr(buf->data, PLACEHOLDER) : NULL;
    char *line_end = slot ? strchr(slot, '\n') : NULL;
    char hex[65];

    if (!line_end)
        return qf_error_set(err, QF_ERR_INTERNAL,
                            "export has no checksum line to fill in");
    line_end++;
    qf_state_sha256_hex(line_end, buf->len - (size_t)(line_end - buf->data),
                        hex);
    memcpy(slot + strlen("sha256:"), hex, 64);
    return QF_OK;
}

qf_status qf_state_export(qf_state *st, unsigned include, char **out,
                          size_t *len, qf_error *err)
{
    out_buffer buf = {0};
    qf_status status;

    *out = NULL;
    *len = 0;
    status = qf_state_require_data_schema(st, err);
    if (status == QF_OK)
        status = qf_state_sql_exec(st->db, "BEGIN", "starting the export", err);
    if (status != QF_OK)
        return status;
    status =
        emit_document(st, include ? include : QF_STATE_INCLUDE_ALL, &buf, err);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (status == QF_OK)
        status = seal(&buf, err);
    if (status != QF_OK) {
        free(buf.data);
        return status;
    }
    *out = buf.data;
    *len = buf.len;
    return QF_OK;
}

qf_status qf_state_export_file(qf_state *st, unsigned include, const char *path,
                               qf_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *file;
    qf_status status = qf_state_export(st, include, &text, &len, err);

    if (status != QF_OK)
        return status;
    file = fopen(path, "wb");
    if (!file) {
        status = qf_error_set(err, QF_ERR_IO, "cannot create %s: %s", path,
                              strerror(errno));
    } else {
        if (fwrite(text, 1, len, file) != len)
            status = qf_error_set(err, QF_ERR_IO, "writing %s failed", path);
        if (fclose(file) != 0 && status == QF_OK)
            status = qf_error_set(err, QF_ERR_IO, "writing %s failed", path);
    }
    free(text);
    return status;
}

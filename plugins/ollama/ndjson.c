/*
 * ndjson.c - incremental NDJSON reader. Complete lines found in the input
 * are parsed in place. Only the tail of a line split across reads is copied
 * into the reader's buffer, which grows up to max_line bytes. Each line is
 * parsed with cJSON and handed to the callback. Blank lines are skipped, and
 * error lines stop the reader with the upstream message.
 */
#include "ndjson.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static qf_status fail(qf_ndjson *reader, qf_status status, const char *fmt, ...)
    QF_PRINTF(3, 4);

static qf_status fail(qf_ndjson *reader, qf_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reader->message, sizeof(reader->message), fmt, ap);
    va_end(ap);
    reader->status = status;
    return status;
}

void qf_ndjson_init(qf_ndjson *reader, size_t max_line,
                    qf_ndjson_frame_fn on_frame, void *user)
{
    memset(reader, 0, sizeof(*reader));
    reader->max_line = max_line;
    reader->line_no = 1;
    reader->on_frame = on_frame;
    reader->user = user;
    reader->status = QF_OK;
}

void qf_ndjson_deinit(qf_ndjson *reader)
{
    free(reader->line);
    reader->line = NULL;
    reader->line_len = 0;
    reader->line_cap = 0;
}

const char *qf_ndjson_message(const qf_ndjson *reader)
{
    return reader->message;
}

static int is_blank(const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return 0;
    }
    return 1;
}

/* Stop with the message of an {"error": ...} line: a string, or an object
 * with a "message" string, or the raw JSON of anything else. */
static qf_status fail_upstream(qf_ndjson *reader, const cJSON *error)
{
    const cJSON *message = NULL;
    char *printed;
    qf_status status;

    if (cJSON_IsString(error))
        return fail(reader, QF_ERR_UPSTREAM, "%s", error->valuestring);
    if (cJSON_IsObject(error))
        message = cJSON_GetObjectItemCaseSensitive(error, "message");
    if (cJSON_IsString(message))
        return fail(reader, QF_ERR_UPSTREAM, "%s", message->valuestring);

    printed = cJSON_PrintUnformatted(error);
    if (printed == NULL)
        return fail(reader, QF_ERR_NOMEM,
                    "out of memory printing an error line");
    status = fail(reader, QF_ERR_UPSTREAM, "%s", printed);
    cJSON_free(printed);
    return status;
}

/* Parse one complete line (without its '\n') and dispatch it. */
static qf_status handle_line(qf_ndjson *reader, const char *text, size_t len)
{
    const char *parse_end = NULL;
    cJSON *frame;
    const cJSON *error;
    qf_status status;

    reader->line_no++;
    if (is_blank(text, len))
        return QF_OK;

    /* cJSON stops after the first value; anything but blanks after it
     * makes the line invalid. */
    frame = cJSON_ParseWithLengthOpts(text, len, &parse_end, 0);
    if (frame != NULL && parse_end != NULL &&
        !is_blank(parse_end, (size_t)(text + len - parse_end))) {
        cJSON_Delete(frame);
        frame = NULL;
    }
    if (frame == NULL || !cJSON_IsObject(frame)) {
        cJSON_Delete(frame);
        return fail(reader, QF_ERR_PROTOCOL,
                    "line %zu of the stream is not a JSON object",
                    reader->line_no - 1);
    }

    error = cJSON_GetObjectItemCaseSensitive(frame, "error");
    if (error != NULL && !cJSON_IsNull(error))
        status = fail_upstream(reader, error);
    else
        status = reader->on_frame(reader->user, frame);
    cJSON_Delete(frame);
    if (status != QF_OK)
        reader->status = status;
    return status;
}

/* Append bytes of an unfinished line to the buffer, within max_line. */
static qf_status buffer_append(qf_ndjson *reader, const char *data, size_t len)
{
    size_t need = reader->line_len + len;
    char *grown;
    size_t cap;

    if (reader->max_line > 0 && need > reader->max_line)
        return fail(reader, QF_ERR_TOO_LARGE,
                    "line %zu of the stream is longer than %zu bytes",
                    reader->line_no, reader->max_line);
    if (need <= reader->line_cap)
        goto copy;

    cap = reader->line_cap ? reader->line_cap : 256;
    while (cap < need)
        cap *= 2;
    grown = realloc(reader->line, cap);
    if (grown == NULL)
        return fail(reader, QF_ERR_NOMEM, "out of memory buffering %zu bytes",
                    need);
    reader->line = grown;
    reader->line_cap = cap;

copy:
    memcpy(reader->line + reader->line_len, data, len);
    reader->line_len = need;
    return QF_OK;
}

/* Finish the buffered line with `len` more bytes and dispatch it. */
static qf_status complete_buffered(qf_ndjson *reader, const char *data,
                                   size_t len)
{
    qf_status status = buffer_append(reader, data, len);

    if (status != QF_OK)
        return status;
    status = handle_line(reader, reader->line, reader->line_len);
    reader->line_len = 0;
    return status;
}

qf_status qf_ndjson_feed(qf_ndjson *reader, const char *data, size_t len)
{
    const char *end = data + len;
    const char *newline;
    qf_status status;

    if (reader->status != QF_OK)
        return reader->status;

    while (data < end) {
        newline = memchr(data, '\n', (size_t)(end - data));
        if (newline == NULL)
            return buffer_append(reader, data, (size_t)(end - data));

        if (reader->line_len > 0)
            status = complete_buffered(reader, data, (size_t)(newline - data));
        else if (reader->max_line > 0 &&
                 (size_t)(newline - data) > reader->max_line)
            status = fail(reader, QF_ERR_TOO_LARGE,
                          "line %zu of the stream is longer than %zu bytes",
                          reader->line_no, reader->max_line);
        else
            status = handle_line(reader, data, (size_t)(newline - data));
        if (status != QF_OK)
            return status;
        data = newline + 1;
    }
    return QF_OK;
}

qf_status qf_ndjson_finish(qf_ndjson *reader)
{
    qf_status status;

    if (reader->status != QF_OK)
        return reader->status;
    if (reader->line_len == 0)
        return QF_OK;

    status = handle_line(reader, reader->line, reader->line_len);
    reader->line_len = 0;
    return status;
}

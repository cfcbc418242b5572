/*
 * sse.c - incremental server-sent events parser. Bytes are cut into lines
 * (LF, CR LF or a lone CR, split anywhere across chunks); each line sets a
 * field of the pending event, and a blank line dispatches it. The rules
 * follow the event stream interpretation of the WHATWG HTML standard.
 */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

/* A growable byte buffer, always NUL-terminated once allocated. */
typedef struct buffer {
    char *data;
    size_t len;
    size_t cap;
} buffer;

struct qf_sse_parser {
    size_t max_bytes;
    buffer line;       /* the line being read */
    buffer data;       /* data lines of the pending event, each with "\n" */
    buffer event_type; /* value of the last "event:" line */
    buffer last_id;    /* value of the last "id:" line of the stream */
    int skip_lf;       /* the previous byte was CR: a next LF ends nothing */
    int first_line;    /* no line end seen yet: a UTF-8 BOM may lead */
    qf_status status;  /* sticky failure */
};

static qf_status buffer_append(buffer *b, const char *bytes, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return QF_ERR_NOMEM;
        b->data = grown;
        b->cap = cap;
    }

    if (len)
        memcpy(b->data + b->len, bytes, len);
    b->len += len;
    b->data[b->len] = '\0';
    return QF_OK;
}

static qf_status buffer_set(buffer *b, const char *bytes, size_t len)
{
    b->len = 0;
    return buffer_append(b, bytes, len);
}

static void buffer_free(buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

qf_sse_parser *qf_sse_parser_create(size_t max_bytes)
{
    qf_sse_parser *parser = calloc(1, sizeof(*parser));
    if (!parser)
        return NULL;
    parser->max_bytes = max_bytes;
    parser->first_line = 1;
    parser->status = QF_OK;
    return parser;
}

void qf_sse_parser_destroy(qf_sse_parser *parser)
{
    if (!parser)
        return;
    buffer_free(&parser->line);
    buffer_free(&parser->data);
    buffer_free(&parser->event_type);
    buffer_free(&parser->last_id);
    free(parser);
}

void qf_sse_parser_reset(qf_sse_parser *parser)
{
    parser->line.len = 0;
    parser->data.len = 0;
    parser->event_type.len = 0;
    parser->last_id.len = 0;
    parser->skip_lf = 0;
    parser->first_line = 1;
    parser->status = QF_OK;
}

/* Hand the pending event to the callback and clear it. The standard drops
 * an event whose data buffer is empty: no "data:" line at all. */
static qf_status dispatch(qf_sse_parser *parser, qf_sse_event_fn on_event,
                          void *user)
{
    qf_sse_event event;
    qf_status status = QF_OK;

    if (parser->data.len > 0) {
        parser->data.len--; /* the "\n" after the last data line */
        parser->data.data[parser->data.len] = '\0';
        event.event =
            parser->event_type.len ? parser->event_type.data : "message";
        event.data = parser->data.data;
        event.data_len = parser->data.len;
        event.id = parser->last_id.len ? parser->last_id.data : "";
        status = on_event(user, &event);
    }

    parser->data.len = 0;
    parser->event_type.len = 0;
    return status;
}

/* Apply one field line ("name:value", "name: value" or "name"). */
static qf_status apply_field(qf_sse_parser *parser, const char *line,
                             size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    qf_status status = QF_OK;

    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }

    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (parser->data.len + value_len + 1 > parser->max_bytes)
            return QF_ERR_TOO_LARGE;
        status = buffer_append(&parser->data, value, value_len);
        if (status == QF_OK)
            status = buffer_append(&parser->data, "\n", 1);
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        status = buffer_set(&parser->event_type, value, value_len);
    } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        if (!memchr(value, '\0', value_len))
            status = buffer_set(&parser->last_id, value, value_len);
    }
    /* "retry" and unknown fields are ignored, as the standard requires. */
    return status;
}

/* A whole line was read: dispatch on a blank line, skip comments, else
 * apply the field. */
static qf_status end_line(qf_sse_parser *parser, qf_sse_event_fn on_event,
                          void *user)
{
    const char *line = parser->line.data;
    size_t len = parser->line.len;
    qf_status status = QF_OK;

    if (parser->first_line && len >= 3 &&
        memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    parser->first_line = 0;

    if (len == 0)
        status = dispatch(parser, on_event, user);
    else if (line[0] != ':')
        status = apply_field(parser, line, len);

    parser->line.len = 0;
    return status;
}

qf_status qf_sse_parser_feed(qf_sse_parser *parser, const char *bytes,
                             size_t len, qf_sse_event_fn on_event, void *user)
{
    size_t i = 0;

    while (i < len && parser->status == QF_OK) {
        char c = bytes[i];

        if (parser->skip_lf) {
            parser->skip_lf = 0;
            if (c == '\n') {
                i++;
                continue;
            }
        }

        if (c == '\r' || c == '\n') {
            parser->skip_lf = (c == '\r');
            parser->status = end_line(parser, on_event, user);
            i++;
            continue;
        }

        /* Copy the run of bytes up to the next line end in one step. */
        size_t run = 1;
        while (i + run < len && bytes[i + run] != '\r' &&
               bytes[i + run] != '\n')
            run++;
        if (parser->line.len + run > parser->max_bytes)
            parser->status = QF_ERR_TOO_LARGE;
        else
            parser->status = buffer_append(&parser->line, bytes + i, run);
        i += run;
    }

    return parser->status;
}

qf_status qf_sse_parser_finish(qf_sse_parser *parser, qf_sse_event_fn on_event,
                               void *user)
{
    if (parser->status != QF_OK)
        return parser->status;

    parser->line.len = 0;
    parser->status = dispatch(parser, on_event, user);
    return parser->status;
}

/*
 * errors.c - turns the error bodies upstreams send into one message. JSON
 * shapes are read with cJSON; anything else is treated as text, with HTML
 * tags removed, white space collapsed and the result cut at
 * QF_OPENAI_ERROR_TEXT_MAX bytes on a UTF-8 character boundary.
 */
#include "openai_internal.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Length of the longest prefix of s[0..len) that is at most `max` bytes and
 * does not end inside a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/* Copy text into out as one line: control bytes become spaces, runs of
 * white space become one space, and the ends are trimmed. */
static void copy_line(char *out, size_t out_size, const char *text, size_t len,
                      size_t max)
{
    size_t n = 0;
    int pending_space = 0;

    for (size_t i = 0; i < len && n + 2 < out_size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7F) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space)
            out[n++] = ' ';
        pending_space = 0;
        out[n++] = (char)c;
    }
    n = utf8_prefix(out, n, max < out_size - 1 ? max : out_size - 1);
    out[n] = '\0';
}

/* Copy an HTML body into `out`, at most `cap` bytes, with each tag replaced
 * by a space. Returns the bytes written. */
static size_t strip_tags(const char *body, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    int in_tag = 0;

    for (size_t i = 0; i < len && n < cap; i++) {
        if (body[i] == '<') {
            in_tag = 1;
            out[n++] = ' ';
        } else if (body[i] == '>') {
            in_tag = 0;
        } else if (!in_tag) {
            out[n++] = body[i];
        }
    }
    return n;
}

static void message_from_text(const char *body, size_t len, long http_status,
                              char *out, size_t out_size)
{
    size_t start = 0;
    while (start < len && (body[start] == ' ' || body[start] == '\t' ||
                           body[start] == '\r' || body[start] == '\n'))
        start++;

    if (start == len) {
        snprintf(out, out_size, "HTTP %ld with an empty body", http_status);
        return;
    }
    if (body[start] != '<') {
        copy_line(out, out_size, body + start, len - start,
                  QF_OPENAI_ERROR_TEXT_MAX);
        return;
    }

    char text[4096];
    size_t n = strip_tags(body + start, len - start, text, sizeof(text));
    copy_line(out, out_size, text, n, QF_OPENAI_ERROR_TEXT_MAX);
    if (out[0] == '\0')
        snprintf(out, out_size, "HTTP %ld with an HTML body", http_status);
}

int qf_openai_json_error(const void *json, char *out, size_t out_size)
{
    const cJSON *root = json;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");

    if (!error || cJSON_IsNull(error))
        return 0;

    if (cJSON_IsString(error)) {
        copy_line(out, out_size, error->valuestring, strlen(error->valuestring),
                  out_size);
        return 1;
    }

    const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
    if (cJSON_IsString(message) && message->valuestring[0]) {
        copy_line(out, out_size, message->valuestring,
                  strlen(message->valuestring), out_size);
        return 1;
    }

    /* An error without a message: show the object itself. */
    char *printed = cJSON_PrintUnformatted(error);
    if (printed) {
        copy_line(out, out_size, printed, strlen(printed), out_size);
        cJSON_free(printed);
    } else {
        snprintf(out, out_size, "error object without a message");
    }
    return 1;
}

void qf_openai_error_message(const char *body, size_t len, long http_status,
                             char *out, size_t out_size)
{
    cJSON *json = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *message;

    if (!json) {
        message_from_text(body ? body : "", body ? len : 0, http_status, out,
                          out_size);
        return;
    }

    if (cJSON_IsString(json)) {
        copy_line(out, out_size, json->valuestring, strlen(json->valuestring),
                  out_size);
    } else if (qf_openai_json_error(json, out, out_size)) {
        /* written */
    } else if (cJSON_IsString(message = cJSON_GetObjectItemCaseSensitive(
                                  json, "message"))) {
        copy_line(out, out_size, message->valuestring,
                  strlen(message->valuestring), out_size);
    } else {
        message_from_text(body, len, http_status, out, out_size);
    }
    cJSON_Delete(json);
}

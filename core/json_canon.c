/*
 * json_canon.c - canonical JSON printing on top of cJSON.
 *
 * cJSON parses; this file only decides the order of keys and the spelling
 * of numbers. Integral values up to 2^53 print as integers, others with the
 * fewest significant digits (15 to 17) that read back as the same double,
 * so 1, 1.0 and 1e0 all print as "1" and 0.7 as "0.7". Strings are escaped
 * by cJSON itself.
 */
#include "json_canon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef struct buffer {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} buffer;

static void put(buffer *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char *grown;

        while (cap < b->len + n + 1)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void put_str(buffer *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_number(buffer *b, double v)
{
    char text[64];

    if (!isfinite(v)) {
        snprintf(text, sizeof(text), "null");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(text, sizeof(text), "%.0f", v == 0 ? 0.0 : v);
    } else {
        /* The shortest of 15, 16 or 17 digits that reads back as the same
         * double, so 0.7 prints as 0.7 and every value keeps one form. */
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(text, sizeof(text), "%.*g", digits, v);
            if (strtod(text, NULL) == v)
                break;
        }
    }
    put_str(b, text);
}

static void put_string(buffer *b, const char *s)
{
    cJSON *tmp = cJSON_CreateString(s);
    char *printed = tmp ? cJSON_PrintUnformatted(tmp) : NULL;

    if (printed == NULL)
        b->failed = 1;
    else
        put_str(b, printed);
    free(printed);
    cJSON_Delete(tmp);
}

static int compare_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a;
    const cJSON *y = *(const cJSON *const *)b;

    return strcmp(x->string, y->string);
}

static void put_value(buffer *b, const cJSON *v);

static void put_object(buffer *b, const cJSON *object)
{
    size_t count = (size_t)cJSON_GetArraySize(object), i = 0;
    const cJSON **items = malloc((count ? count : 1) * sizeof(*items));
    const cJSON *child;

    if (items == NULL) {
        b->failed = 1;
        return;
    }
    cJSON_ArrayForEach(child, object) items[i++] = child;
    qsort(items, count, sizeof(*items), compare_keys);

    put_str(b, "{");
    for (i = 0; i < count; i++) {
        if (i > 0)
            put_str(b, ",");
        put_string(b, items[i]->string);
        put_str(b, ":");
        put_value(b, items[i]);
    }
    put_str(b, "}");
    free(items);
}

static void put_value(buffer *b, const cJSON *v)
{
    const cJSON *child;
    int first = 1;

    if (cJSON_IsObject(v)) {
        put_object(b, v);
    } else if (cJSON_IsArray(v)) {
        put_str(b, "[");
        cJSON_ArrayForEach(child, v)
        {
            if (!first)
                put_str(b, ",");
            put_value(b, child);
            first = 0;
        }
        put_str(b, "]");
    } else if (cJSON_IsString(v)) {
        put_string(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        put_number(b, v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        put_str(b, "true");
    } else if (cJSON_IsFalse(v)) {
        put_str(b, "false");
    } else {
        put_str(b, "null");
    }
}

char *qf_json_canonical(const cJSON *value)
{
    buffer b = {0};

    put_value(&b, value);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

qf_status qf_json_canonicalize(const char *json, size_t len, char **out,
                               size_t *out_len, qf_error *err)
{
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    char *text;

    if (value == NULL)
        return qf_error_set(err, QF_ERR_INVALID,
                            "invalid JSON at byte %ld; expected one JSON value",
                            end ? (long)(end - json) : 0L);
    text = qf_json_canonical(value);
    cJSON_Delete(value);
    if (text == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    *out = text;
    if (out_len != NULL)
        *out_len = strlen(text);
    return QF_OK;
}

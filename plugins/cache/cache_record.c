/*
 * cache_record.c - encoding and parsing of the cached form of a response:
 * a cJSON object for the text and metadata, then raw image bytes, so images
 * need no text encoding.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cache_record.h"

static cJSON *usage_json(const qf_host *h, const qf_response *resp)
{
    qf_usage u;
    cJSON *obj = cJSON_CreateObject();

    memset(&u, 0, sizeof(u));
    u.size = sizeof(u);
    h->response_usage(resp, &u);
    if (obj == NULL ||
        !cJSON_AddNumberToObject(obj, "prompt_tokens",
                                 (double)u.prompt_tokens) ||
        !cJSON_AddNumberToObject(obj, "cached_tokens",
                                 (double)u.cached_tokens) ||
        !cJSON_AddNumberToObject(obj, "completion_tokens",
                                 (double)u.completion_tokens) ||
        !cJSON_AddNumberToObject(obj, "estimated", u.estimated)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* The image list; *total receives the sum of their byte lengths. */
static cJSON *images_json(const qf_host *h, const qf_response *resp,
                          size_t *total)
{
    cJSON *list = cJSON_CreateArray();
    size_t count = h->response_image_count(resp);

    *total = 0;
    for (size_t i = 0; list != NULL && i < count; i++) {
        const void *bytes = NULL;
        size_t len = 0;
        const char *mime = NULL;
        cJSON *img = cJSON_CreateObject();

        if (img == NULL || h->response_image(resp, i, &bytes, &len, &mime) ||
            !cJSON_AddItemToArray(list, img) ||
            !cJSON_AddStringToObject(img, "mime", mime ? mime : "image/png") ||
            !cJSON_AddNumberToObject(img, "bytes", (double)len)) {
            cJSON_Delete(list);
            return NULL;
        }
        *total += len;
    }
    return list;
}

static cJSON *record_json(const qf_host *h, const qf_response *resp,
                          int64_t created_ms, size_t *image_bytes)
{
    size_t text_len = 0;
    const char *text = h->response_text(resp, &text_len);
    const char *finish = h->response_finish_reason(resp);
    const char *model = h->response_model(resp);
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL ||
        !cJSON_AddNumberToObject(doc, "format", QF_CACHE_RECORD_FORMAT) ||
        !cJSON_AddStringToObject(doc, "text", text ? text : "") ||
        (finish && !cJSON_AddStringToObject(doc, "finish_reason", finish)) ||
        (model && !cJSON_AddStringToObject(doc, "model", model)) ||
        !cJSON_AddNumberToObject(doc, "created_ms", (double)created_ms) ||
        !cJSON_AddItemToObject(doc, "usage", usage_json(h, resp)) ||
        !cJSON_AddItemToObject(doc, "images",
                               images_json(h, resp, image_bytes))) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

qf_status qf_cache_record_encode(const qf_host *host, const qf_response *resp,
                                 int64_t created_ms, uint8_t **out, size_t *len)
{
    size_t image_bytes = 0;
    cJSON *doc = record_json(host, resp, created_ms, &image_bytes);
    char *json = doc ? cJSON_PrintUnformatted(doc) : NULL;
    size_t json_len = json ? strlen(json) : 0;
    uint8_t *buf = json ? host->alloc(json_len + 1 + image_bytes) : NULL;
    size_t at = json_len + 1;

    cJSON_Delete(doc);
    if (buf == NULL) {
        free(json);
        return QF_ERR_NOMEM;
    }
    memcpy(buf, json, at);
    free(json);

    for (size_t i = 0; i < host->response_image_count(resp); i++) {
        const void *bytes = NULL;
        size_t n = 0;
        const char *mime = NULL;

        if (host->response_image(resp, i, &bytes, &n, &mime) == QF_OK && n) {
            memcpy(buf + at, bytes, n);
            at += n;
        }
    }
    *out = buf;
    *len = at;
    return QF_OK;
}

static char *dup_string(const cJSON *item)
{
    return cJSON_IsString(item) ? strdup(item->valuestring) : NULL;
}

static int64_t int_of(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    /* Out-of-range doubles (and NaN) read as 0: converting them is UB. */
    if (!cJSON_IsNumber(item) ||
        !(item->valuedouble > -9.2e18 && item->valuedouble < 9.2e18))
        return 0;
    return (int64_t)item->valuedouble;
}

/* Read the image list against the `avail` bytes after the JSON. */
static const char *parse_images(const cJSON *list, const uint8_t *bytes,
                                size_t avail, qf_cache_record *out)
{
    size_t count = (size_t)cJSON_GetArraySize(list);
    size_t at = 0;
    const cJSON *img;

    if (!cJSON_IsArray(list))
        return "images is not a list";
    out->images = count ? calloc(count, sizeof(*out->images)) : NULL;
    if (count && out->images == NULL)
        return "out of memory";
    cJSON_ArrayForEach(img, list)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(img, "bytes");
        qf_cache_image *dst = &out->images[out->image_count];

        if (!cJSON_IsNumber(n) || n->valuedouble < 0 ||
            n->valuedouble > (double)(avail - at))
            return "image length out of range";
        dst->len = (size_t)n->valuedouble;
        dst->bytes = bytes + at;
        dst->mime = dup_string(cJSON_GetObjectItemCaseSensitive(img, "mime"));
        at += dst->len;
        out->image_count++;
    }
    return at == avail ? NULL : "trailing bytes after the images";
}

static const char *parse_doc(const cJSON *doc, const uint8_t *rest,
                             size_t rest_len, qf_cache_record *out)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(doc, "usage");

    if (!cJSON_IsObject(doc))
        return "not a JSON object";
    out->format = (int)int_of(doc, "format");
    if (out->format != QF_CACHE_RECORD_FORMAT)
        return "unsupported record format";
    if (!cJSON_IsString(text) || !cJSON_IsObject(usage))
        return "missing text or usage";

    out->text = dup_string(text);
    out->text_len = out->text ? strlen(out->text) : 0;
    out->finish_reason =
        dup_string(cJSON_GetObjectItemCaseSensitive(doc, "finish_reason"));
    out->model = dup_string(cJSON_GetObjectItemCaseSensitive(doc, "model"));
    out->created_ms = int_of(doc, "created_ms");
    out->usage.size = sizeof(out->usage);
    out->usage.prompt_tokens = int_of(usage, "prompt_tokens");
    out->usage.cached_tokens = int_of(usage, "cached_tokens");
    out->usage.completion_tokens = int_of(usage, "completion_tokens");
    out->usage.estimated = (int32_t)int_of(usage, "estimated");
    if (out->text == NULL)
        return "out of memory";
    return parse_images(cJSON_GetObjectItemCaseSensitive(doc, "images"), rest,
                        rest_len, out);
}

qf_status qf_cache_record_parse(const uint8_t *buf, size_t len,
                                qf_cache_record *out, const char **reason)
{
    const uint8_t *nul = len ? memchr(buf, '\0', len) : NULL;
    size_t json_len = nul ? (size_t)(nul - buf) : 0;
    const char *problem = "missing JSON terminator";
    cJSON *doc;

    memset(out, 0, sizeof(*out));
    if (nul != NULL) {
        doc = cJSON_ParseWithLength((const char *)buf, json_len);
        problem = doc ? parse_doc(doc, nul + 1, len - json_len - 1, out)
                      : "invalid JSON";
        cJSON_Delete(doc);
    }
    if (problem == NULL)
        return QF_OK;

    qf_cache_record_clear(out);
    if (reason != NULL)
        *reason = problem;
    return QF_ERR_PROTOCOL;
}

void qf_cache_record_clear(qf_cache_record *rec)
{
    for (size_t i = 0; i < rec->image_count; i++)
        free(rec->images[i].mime);
    free(rec->images);
    free(rec->text);
    free(rec->finish_reason);
    free(rec->model);
    memset(rec, 0, sizeof(*rec));
}

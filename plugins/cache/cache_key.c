/*
 * cache_key.c - builds {"v","kind","provider","base_url","model","messages",
 * "params","options"} from a request's accessors, canonicalizes it with
 * host->json_canonicalize (sorted keys, one number form, no whitespace) and
 * hashes it with host->sha256. stream and stream_options are left out of
 * params, so a streamed and a plain request share one entry.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cache_key.h"

static cJSON *string_or_null(const char *s)
{
    return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Parse a JSON object text; NULL or empty text gives an empty object. */
static cJSON *object_from(const char *json)
{
    cJSON *obj = json != NULL && json[0] != '\0' ? cJSON_Parse(json) : NULL;

    if (obj == NULL)
        return json != NULL && json[0] != '\0' ? NULL : cJSON_CreateObject();
    return obj;
}

static cJSON *messages_of(const qf_host *h, const qf_request *req)
{
    cJSON *list = cJSON_CreateArray();
    size_t count = h->request_message_count(req);

    for (size_t i = 0; list != NULL && i < count; i++) {
        const char *role = NULL;
        const char *content = NULL;
        size_t len = 0;
        cJSON *msg = cJSON_CreateObject();

        /* NOTE: cJSON strings end at a NUL byte, so message content with
         * an embedded NUL is hashed only up to it. */
        if (msg == NULL ||
            h->request_message(req, i, &role, &content, &len) != QF_OK ||
            !cJSON_AddItemToArray(list, msg) ||
            !cJSON_AddItemToObject(msg, "role", string_or_null(role)) ||
            !cJSON_AddItemToObject(msg, "content", string_or_null(content))) {
            cJSON_Delete(list);
            return NULL;
        }
    }
    return list;
}

static cJSON *key_document(const qf_host *h, const qf_request *req)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *params = object_from(h->request_params_json(req));
    cJSON *options = object_from(h->request_options_json(req));
    int image = h->request_kind(req) == QF_REQUEST_IMAGE;

    if (params != NULL) {
        cJSON_DeleteItemFromObject(params, "stream");
        cJSON_DeleteItemFromObject(params, "stream_options");
    }
    if (doc == NULL || params == NULL || options == NULL ||
        !cJSON_AddNumberToObject(doc, "v", QF_CACHE_KEY_VERSION) ||
        !cJSON_AddStringToObject(doc, "kind", image ? "image" : "text") ||
        !cJSON_AddItemToObject(doc, "provider",
                               string_or_null(h->request_provider(req))) ||
        !cJSON_AddItemToObject(
            doc, "base_url",
            string_or_null(h->request_provider_setting(req, "base_url"))) ||
        !cJSON_AddItemToObject(doc, "model",
                               string_or_null(h->request_model(req))) ||
        !cJSON_AddItemToObject(doc, "messages", messages_of(h, req)) ||
        !cJSON_AddItemToObject(doc, "params", params) ||
        !cJSON_AddItemToObject(doc, "options", options)) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static void hex_of(const uint8_t digest[32], char key[65])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 32; i++) {
        key[2 * i] = digits[digest[i] >> 4];
        key[2 * i + 1] = digits[digest[i] & 0xf];
    }
    key[64] = '\0';
}

qf_status qf_cache_key_build(const qf_host *host, const qf_request *req,
                             char key[65], char **canonical, qf_error *err)
{
    cJSON *doc = key_document(host, req);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    char *canon = NULL;
    size_t canon_len = 0;
    uint8_t digest[32];
    qf_status st;

    cJSON_Delete(doc);
    if (text == NULL)
        return host->error_set(err, QF_ERR_INVALID,
                               "cache: cannot build the key document of "
                               "request %s; its params or options are not a "
                               "JSON object",
                               host->request_id(req));

    st = host->json_canonicalize(text, strlen(text), &canon, &canon_len, err);
    free(text);
    if (st != QF_OK)
        return st;

    host->sha256(canon, canon_len, digest);
    hex_of(digest, key);
    if (canonical != NULL)
        *canonical = canon;
    else
        host->free(canon);
    return QF_OK;
}

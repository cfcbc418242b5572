/*
 * config_json.c - configuration subtrees as JSON: strings expanded, plain
 * scalars typed as YAML 1.2 core types them, quoted scalars kept as
 * strings. The canonical form (sorted keys, hashed secrets) is what
 * provider instance keys are made of. Its secrets are values of secret
 * keys, values under a headers map and strings with a URL userinfo.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "config_internal.h"
#include "config_secret.h"

static cJSON *typed_scalar(const char *text, int quoted)
{
    scalar_kind kind = quoted ? SCALAR_STRING : qf_config_scalar_kind(text);
    double number;

    switch (kind) {
    case SCALAR_NULL: return cJSON_CreateNull();
    case SCALAR_BOOL: return cJSON_CreateBool(text[0] == 't' || text[0] == 'T');
    case SCALAR_INT:
        /* NOTE: cJSON stores numbers as doubles, so integers beyond 2^53
         * lose precision. */
        if (strncmp(text, "0o", 2) == 0)
            number = (double)strtoll(text + 2, NULL, 8);
        else
            number = (double)strtoll(text, NULL, 0);
        return cJSON_CreateNumber(number);
    case SCALAR_FLOAT:
        number = strtod(text, NULL);
        if (!isfinite(number) || strchr(text, 'n') || strchr(text, 'N'))
            return cJSON_CreateString(text); /* JSON has no inf or NaN */
        return cJSON_CreateNumber(number);
    case SCALAR_STRING: break;
    }
    return cJSON_CreateString(text);
}

/* "sha256:" and the hex digest of `text`, in a cJSON string. */
static cJSON *hashed_secret(const char *text)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char hex[7 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256:";

    if (EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(),
                   NULL) != 1)
        return NULL;
    for (unsigned int i = 0; i < digest_len; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", digest[i]);
    return cJSON_CreateString(hex);
}

static qf_status scalar_to_cjson(const qf_cnode *node, int canonical,
                                 int secret, cJSON **out, qf_error *err)
{
    char *text = NULL;
    qf_status st = qf_cnode_expand(node, &text, err);

    if (st != QF_OK)
        return st;
    if (canonical && qf_config_has_url_userinfo(text))
        secret = 1;
    *out = secret ? hashed_secret(text) : typed_scalar(text, node->quoted);
    free(text);
    if (*out == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory converting %s",
                            node->key_path);
    return QF_OK;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static qf_status convert(const qf_cnode *node, int canonical, int secret,
                         cJSON **out, qf_error *err);

static qf_status map_to_cjson(const qf_cnode *node, int canonical,
                              int secret_all, cJSON *obj, qf_error *err)
{
    const char **keys = malloc((node->count + 1) * sizeof(*keys));
    qf_status st = QF_OK;

    if (keys == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < node->count; i++)
        keys[i] = node->keys[i];
    if (canonical)
        qsort(keys, node->count, sizeof(*keys), compare_keys);

    for (size_t i = 0; i < node->count && st == QF_OK; i++) {
        cJSON *child = NULL;
        int secret =
            canonical && (secret_all || qf_config_key_is_secret(keys[i]) ||
                          strcmp(keys[i], "headers") == 0);

        st = convert(qf_cnode_get(node, keys[i]), canonical, secret, &child,
                     err);
        if (st == QF_OK && !cJSON_AddItemToObject(obj, keys[i], child)) {
            cJSON_Delete(child);
            st = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        }
    }
    free(keys);
    return st;
}

static qf_status list_to_cjson(const qf_cnode *node, int canonical,
                               int secret_all, cJSON *array, qf_error *err)
{
    for (size_t i = 0; i < node->count; i++) {
        cJSON *child = NULL;
        qf_status st =
            convert(node->items[i], canonical, secret_all, &child, err);

        if (st != QF_OK)
            return st;
        if (!cJSON_AddItemToArray(array, child)) {
            cJSON_Delete(child);
            return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        }
    }
    return QF_OK;
}

static qf_status convert(const qf_cnode *node, int canonical, int secret,
                         cJSON **out, qf_error *err)
{
    qf_status st;

    *out = NULL;
    if (node == NULL || node->type == QF_CNODE_NULL)
        *out = cJSON_CreateNull();
    else if (node->type == QF_CNODE_SCALAR)
        return scalar_to_cjson(node, canonical, secret, out, err);
    else if (node->type == QF_CNODE_MAP)
        *out = cJSON_CreateObject();
    else
        *out = cJSON_CreateArray();
    if (*out == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    if (node == NULL || node->type == QF_CNODE_NULL)
        return QF_OK;

    /* A secret map or list, such as headers, hashes every value in it. */
    if (node->type == QF_CNODE_MAP)
        st = map_to_cjson(node, canonical, secret, *out, err);
    else
        st = list_to_cjson(node, canonical, secret, *out, err);
    if (st != QF_OK) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return st;
}

qf_status qf_cnode_to_cjson(const qf_cnode *node, int canonical, cJSON **out,
                            qf_error *err)
{
    return convert(node, canonical, 0, out, err);
}

qf_status qf_cnode_to_json(const qf_cnode *node, char **out, qf_error *err)
{
    cJSON *json = NULL;
    qf_status st = qf_cnode_to_cjson(node, 0, &json, err);

    *out = NULL;
    if (st != QF_OK)
        return st;
    *out = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (*out == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory printing JSON");
    return QF_OK;
}

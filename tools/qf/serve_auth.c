/*
 * serve_auth.c - client keys of the gateway (`gateway.keys`): each entry
 * has an id, a key and the roles it may use. Only the SHA-256 digest of
 * each key is kept, and a presented bearer token is hashed and compared
 * with every digest in constant time, so neither timing nor memory reveals
 * a key.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "serve_internal.h"

static qf_status fail_at(qf_error *err, const qf_cnode *node, const char *what)
{
    return qf_error_set(err, QF_ERR_CONFIG, "%s:%d:%d: %s: %s",
                        qf_cnode_file(node), qf_cnode_line(node),
                        qf_cnode_column(node), qf_cnode_key_path(node), what);
}

static qf_status parse_roles(const qf_cnode *list, serve_key *key,
                             qf_error *err)
{
    size_t count = qf_cnode_count(list);

    if (qf_cnode_type_of(list) != QF_CNODE_LIST)
        return fail_at(err, list,
                       "is not a list; expected the role names "
                       "this key may use, such as [plotwright]");
    key->roles = calloc(count + 1, sizeof(char *));
    if (key->roles == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        if (qf_cnode_string(qf_cnode_at(list, i, NULL), &key->roles[i], err) !=
            QF_OK)
            return err->status;
    }
    return QF_OK;
}

static qf_status parse_key(const qf_cnode *entry, serve_key *key, qf_error *err)
{
    const qf_cnode *id = qf_cnode_get(entry, "id");
    const qf_cnode *value = qf_cnode_get(entry, "key");
    const qf_cnode *roles = qf_cnode_get(entry, "roles");
    char *secret = NULL;

    if (id == NULL || value == NULL || roles == NULL)
        return fail_at(err, entry,
                       "a key entry needs id, key and roles; "
                       "expected {id: team-a, key: \"${VAR}\", "
                       "roles: [plotwright]}");
    if (qf_cnode_string(id, &key->id, err) != QF_OK ||
        qf_cnode_string(value, &secret, err) != QF_OK)
        return err->status;
    if (secret[0] == '\0') {
        free(secret);
        return fail_at(err, value,
                       "is empty; set the variable it names to "
                       "the client's key");
    }
    SHA256((const unsigned char *)secret, strlen(secret), key->digest);
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    return parse_roles(roles, key, err);
}

qf_status serve_keys_parse(const qf_config *cfg, serve_generation *gen,
                           qf_error *err)
{
    const qf_cnode *list = qf_cnode_path(qf_config_root(cfg), "gateway.keys");
    size_t count = qf_cnode_count(list);

    if (list == NULL || qf_cnode_type_of(list) == QF_CNODE_NULL)
        return QF_OK;
    if (qf_cnode_type_of(list) != QF_CNODE_LIST)
        return fail_at(err, list,
                       "is not a list; expected entries "
                       "{id, key, roles}");
    gen->keys = calloc(count ? count : 1, sizeof(serve_key));
    if (gen->keys == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    gen->key_count = count;
    for (size_t i = 0; i < count; i++) {
        if (parse_key(qf_cnode_at(list, i, NULL), &gen->keys[i], err) != QF_OK)
            return err->status;
    }
    return QF_OK;
}

void serve_keys_free(serve_generation *gen)
{
    for (size_t i = 0; i < gen->key_count; i++) {
        free(gen->keys[i].id);
        if (gen->keys[i].roles != NULL)
            qf_config_strings_free(gen->keys[i].roles);
    }
    free(gen->keys);
    gen->keys = NULL;
    gen->key_count = 0;
}

const serve_key *serve_key_find(const serve_generation *gen,
                                const char *authorization)
{
    unsigned char digest[32];
    const serve_key *found = NULL;

    if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    authorization += 7;
    SHA256((const unsigned char *)authorization, strlen(authorization), digest);

    /* Every digest is compared, so the time does not depend on which key
     * matched. */
    for (size_t i = 0; i < gen->key_count; i++) {
        if (CRYPTO_memcmp(digest, gen->keys[i].digest, sizeof(digest)) == 0)
            found = &gen->keys[i];
    }
    return found;
}

int serve_key_allows(const serve_key *key, const char *role)
{
    if (key == NULL)
        return 1;
    for (size_t i = 0; key->roles[i] != NULL; i++) {
        if (strcmp(key->roles[i], role) == 0)
            return 1;
    }
    return 0;
}

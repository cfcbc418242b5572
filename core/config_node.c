/*
 * config_node.c - configuration nodes: lookup, building at run time, deep
 * copy and the layered merge. A node owns its children, its file name and
 * its key path; merged trees are fresh copies, so inputs stay untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define RUNTIME_FILE "<runtime>"

qf_cnode *qf_cnode_create(qf_cnode_type type, qf_layer layer, const char *file,
                          int line, int column, const char *key_path)
{
    qf_cnode *node = calloc(1, sizeof(*node));

    if (node == NULL)
        return NULL;
    node->type = type;
    node->layer = layer;
    node->line = line;
    node->column = column;
    node->file = strdup(file != NULL ? file : RUNTIME_FILE);
    node->key_path = strdup(key_path != NULL ? key_path : "");
    if (node->file == NULL || node->key_path == NULL) {
        qf_cnode_free(node);
        return NULL;
    }
    return node;
}

void qf_cnode_free(qf_cnode *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->count; i++) {
        if (node->keys != NULL)
            free(node->keys[i]);
        qf_cnode_free(node->items[i]);
    }
    free(node->keys);
    free(node->items);
    free(node->file);
    free(node->key_path);
    free(node->text);
    free(node);
}

static qf_status grow(qf_cnode *parent)
{
    size_t capacity = parent->capacity ? parent->capacity * 2 : 4;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    qf_cnode **items = realloc(parent->items, capacity * sizeof(*items));

    if (items == NULL)
        return QF_ERR_NOMEM;
    parent->items = items;
    if (parent->type == QF_CNODE_MAP) {
        char **keys = realloc(parent->keys, capacity * sizeof(*keys));
        if (keys == NULL)
            return QF_ERR_NOMEM;
        parent->keys = keys;
    }
    parent->capacity = capacity;
    return QF_OK;
}

qf_status qf_cnode_append(qf_cnode *parent, const char *key, qf_cnode *child)
{
    char *key_copy = NULL;

    if (child == NULL)
        return QF_ERR_NOMEM;
    if (parent->count == parent->capacity && grow(parent) != QF_OK)
        goto fail;
    if (parent->type == QF_CNODE_MAP) {
        /* Every caller passes a key for a map; the analyzer cannot tell. */
        key_copy = strdup(key); /* NOLINT(clang-analyzer-core.*) */
        if (key_copy == NULL)
            goto fail;
        parent->keys[parent->count] = key_copy;
    }
    parent->items[parent->count++] = child;
    return QF_OK;

fail:
    qf_cnode_free(child);
    return QF_ERR_NOMEM;
}

/* --- Reading -------------------------------------------------------- */

qf_cnode_type qf_cnode_type_of(const qf_cnode *node)
{
    return node != NULL ? node->type : QF_CNODE_NULL;
}

const qf_cnode *qf_cnode_get(const qf_cnode *map, const char *key)
{
    if (map == NULL || map->type != QF_CNODE_MAP || key == NULL)
        return NULL;
    for (size_t i = 0; i < map->count; i++) {
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    }
    return NULL;
}

const qf_cnode *qf_cnode_path(const qf_cnode *node, const char *dotted_path)
{
    char key[256];
    const char *start = dotted_path;

    if (dotted_path == NULL || dotted_path[0] == '\0')
        return node;
    while (node != NULL && start != NULL) {
        const char *dot = strchr(start, '.');
        size_t len = dot != NULL ? (size_t)(dot - start) : strlen(start);

        if (len >= sizeof(key))
            return NULL;
        memcpy(key, start, len);
        key[len] = '\0';
        node = qf_cnode_get(node, key);
        start = dot != NULL ? dot + 1 : NULL;
    }
    return node;
}

size_t qf_cnode_count(const qf_cnode *node)
{
    if (node == NULL ||
        (node->type != QF_CNODE_MAP && node->type != QF_CNODE_LIST))
        return 0;
    return node->count;
}

const qf_cnode *qf_cnode_at(const qf_cnode *node, size_t index,
                            const char **key)
{
    if (index >= qf_cnode_count(node))
        return NULL;
    if (key != NULL)
        *key = node->type == QF_CNODE_MAP ? node->keys[index] : NULL;
    return node->items[index];
}

const char *qf_cnode_file(const qf_cnode *node)
{
    return node != NULL ? node->file : NULL;
}

int qf_cnode_line(const qf_cnode *node)
{
    return node != NULL ? node->line : 0;
}

int qf_cnode_column(const qf_cnode *node)
{
    return node != NULL ? node->column : 0;
}

const char *qf_cnode_key_path(const qf_cnode *node)
{
    return node != NULL ? node->key_path : NULL;
}

qf_layer qf_cnode_layer(const qf_cnode *node)
{
    return node != NULL ? node->layer : QF_LAYER_GLOBAL;
}

const char *qf_layer_name(qf_layer layer)
{
    switch (layer) {
    case QF_LAYER_DEFAULT: return "default";
    case QF_LAYER_GLOBAL: return "global";
    case QF_LAYER_PROVIDER: return "provider";
    case QF_LAYER_ROLE: return "role";
    case QF_LAYER_RUNTIME: return "runtime";
    }
    return "unknown";
}

const char *qf_cnode_raw(const qf_cnode *node)
{
    if (node == NULL || node->type != QF_CNODE_SCALAR)
        return NULL;
    return node->text;
}

/* --- Building at run time -------------------------------------------- */

qf_cnode *qf_cnode_new_map(qf_layer layer)
{
    return qf_cnode_create(QF_CNODE_MAP, layer, RUNTIME_FILE, 0, 0, "");
}

static char *join_path(const char *parent, const char *key)
{
    size_t plen = strlen(parent), klen = strlen(key);
    char *path = malloc(plen + klen + 2);

    if (path == NULL)
        return NULL;
    if (plen == 0) {
        memcpy(path, key, klen + 1);
        return path;
    }
    /* The terminator comes with the key below. */
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    memcpy(path, parent, plen);
    path[plen] = '.';
    memcpy(path + plen + 1, key, klen + 1);
    return path;
}

/* A new child of `parent` at `key`, with the joined key path. */
static qf_cnode *new_child(const qf_cnode *parent, const char *key,
                           qf_cnode_type type)
{
    char *path = join_path(parent->key_path, key);
    qf_cnode *child;

    if (path == NULL)
        return NULL;
    child = qf_cnode_create(type, parent->layer, parent->file, parent->line,
                            parent->column, path);
    free(path);
    return child;
}

/* Replace or add `key` of `map` with `child` (ownership taken). */
static qf_status put_child(qf_cnode *map, const char *key, qf_cnode *child)
{
    for (size_t i = 0; i < map->count; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            qf_cnode_free(map->items[i]);
            map->items[i] = child;
            return QF_OK;
        }
    }
    return qf_cnode_append(map, key, child);
}

/* The map at `key` of `map`, created (or replacing a non-map) when needed. */
static qf_cnode *child_map(qf_cnode *map, const char *key)
{
    const qf_cnode *found = qf_cnode_get(map, key);
    qf_cnode *created;

    if (found != NULL && found->type == QF_CNODE_MAP)
        return (qf_cnode *)found;
    created = new_child(map, key, QF_CNODE_MAP);
    if (created == NULL || put_child(map, key, created) != QF_OK)
        return NULL;
    return created;
}

static qf_cnode *new_scalar(const qf_cnode *map, const char *key,
                            const char *value)
{
    qf_cnode *leaf;

    if (value == NULL || qf_config_scalar_kind(value) == SCALAR_NULL)
        return new_child(map, key, QF_CNODE_NULL);
    leaf = new_child(map, key, QF_CNODE_SCALAR);
    if (leaf == NULL)
        return NULL;
    leaf->literal = 1;
    leaf->text = strdup(value);
    if (leaf->text == NULL) {
        qf_cnode_free(leaf);
        return NULL;
    }
    return leaf;
}

qf_status qf_cnode_set(qf_cnode *map, const char *dotted_path,
                       const char *value, qf_error *err)
{
    char key[256];
    const char *start = dotted_path;
    const char *dot;

    if (map == NULL || map->type != QF_CNODE_MAP || dotted_path == NULL ||
        dotted_path[0] == '\0')
        return qf_error_set(err, QF_ERR_INVALID,
                            "qf_cnode_set: needs a map and a non-empty path");
    while ((dot = strchr(start, '.')) != NULL) {
        size_t len = (size_t)(dot - start);

        if (len == 0 || len >= sizeof(key))
            goto bad_path;
        memcpy(key, start, len);
        key[len] = '\0';
        map = child_map(map, key);
        if (map == NULL)
            goto nomem;
        start = dot + 1;
    }
    if (start[0] == '\0' || strlen(start) >= sizeof(key))
        goto bad_path;
    if (put_child(map, start, new_scalar(map, start, value)) != QF_OK)
        goto nomem;
    return QF_OK;

bad_path:
    return qf_error_set(err, QF_ERR_INVALID,
                        "configuration path \"%s\" is invalid; expected keys "
                        "separated by single dots, such as params.temperature",
                        dotted_path);
nomem:
    return qf_error_set(err, QF_ERR_NOMEM,
                        "out of memory setting configuration path \"%s\"",
                        dotted_path);
}

/* --- Copy and merge -------------------------------------------------- */

/* Deep copy. `layer` < 0 keeps each node's layer. `strip_nulls` leaves out
 * map entries whose value is an explicit null. */
static qf_cnode *copy_node(const qf_cnode *node, int layer, int strip_nulls)
{
    qf_cnode *copy =
        qf_cnode_create(node->type, layer < 0 ? node->layer : (qf_layer)layer,
                        node->file, node->line, node->column, node->key_path);

    if (copy == NULL)
        return NULL;
    copy->quoted = node->quoted;
    copy->literal = node->literal;
    if (node->text != NULL && (copy->text = strdup(node->text)) == NULL)
        goto fail;
    for (size_t i = 0; i < node->count; i++) {
        const char *key = node->type == QF_CNODE_MAP ? node->keys[i] : NULL;

        if (strip_nulls && key != NULL && node->items[i]->type == QF_CNODE_NULL)
            continue;
        if (qf_cnode_append(copy, key,
                            copy_node(node->items[i], layer, strip_nulls)) !=
            QF_OK)
            goto fail;
    }
    return copy;

fail:
    qf_cnode_free(copy);
    return NULL;
}

qf_cnode *qf_cnode_copy(const qf_cnode *node, qf_layer layer)
{
    if (node == NULL)
        return NULL;
    return copy_node(node, (int)layer, 0);
}

/* Merge the entries of two maps into the empty map `out`. */
static qf_status merge_maps(const qf_cnode *base, const qf_cnode *over,
                            qf_cnode *out)
{
    for (size_t i = 0; i < base->count; i++) {
        const qf_cnode *upper = qf_cnode_get(over, base->keys[i]);
        qf_cnode *merged;

        if (upper != NULL && upper->type == QF_CNODE_NULL)
            continue;
        merged = upper != NULL ? qf_cnode_merge(base->items[i], upper)
                               : copy_node(base->items[i], -1, 0);
        if (qf_cnode_append(out, base->keys[i], merged) != QF_OK)
            return QF_ERR_NOMEM;
    }
    for (size_t i = 0; i < over->count; i++) {
        /* items[i] is never NULL: qf_cnode_append rejects a NULL child. */
        // NOLINTBEGIN(clang-analyzer-*)
        if (qf_cnode_get(base, over->keys[i]) != NULL ||
            over->items[i]->type == QF_CNODE_NULL)
            continue;
        // NOLINTEND(clang-analyzer-*)
        if (qf_cnode_append(out, over->keys[i],
                            copy_node(over->items[i], -1, 1)) != QF_OK)
            return QF_ERR_NOMEM;
    }
    return QF_OK;
}

qf_cnode *qf_cnode_merge(const qf_cnode *base, const qf_cnode *over)
{
    qf_cnode *out;

    if (over == NULL)
        return base != NULL ? copy_node(base, -1, 0) : NULL;
    if (base == NULL || base->type != QF_CNODE_MAP ||
        over->type != QF_CNODE_MAP)
        return copy_node(over, -1, 1);

    out = qf_cnode_create(QF_CNODE_MAP, over->layer, over->file, over->line,
                          over->column, over->key_path);
    if (out == NULL)
        return NULL;
    if (merge_maps(base, over, out) != QF_OK) {
        qf_cnode_free(out);
        return NULL;
    }
    return out;
}

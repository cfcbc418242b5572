/*
 * config_internal.h - the layout of configuration nodes and the helpers the
 * config_*.c files share. Nothing outside core/config_*.c includes it.
 */
#ifndef QF_CORE_CONFIG_INTERNAL_H
#define QF_CORE_CONFIG_INTERNAL_H

#include <stdarg.h>

#include "config.h"
#include "error.h"

/* One value of a configuration tree. Maps keep their keys in file order. */
struct qf_cnode {
    qf_cnode_type type;
    qf_layer layer;
    int line;    /* 1-based; 0 for nodes built at run time */
    int column;  /* 1-based; 0 for nodes built at run time */
    int quoted;  /* scalar was quoted in YAML: always a string */
    int literal; /* scalar is never ${VAR}-expanded (set at run time) */
    char *file;
    char *key_path;
    char *text; /* scalar text as written */
    size_t count;
    size_t capacity;
    char **keys; /* maps only */
    qf_cnode **items;
};

struct qf_config {
    char *path;
    char *dir;
    qf_cnode *root;
};

/* YAML 1.2 core schema type of a plain scalar's text. */
typedef enum scalar_kind {
    SCALAR_STRING,
    SCALAR_NULL,
    SCALAR_BOOL,
    SCALAR_INT,
    SCALAR_FLOAT
} scalar_kind;

scalar_kind qf_config_scalar_kind(const char *text);

/* A node with copies of file and key_path; NULL on allocation failure. */
qf_cnode *qf_cnode_create(qf_cnode_type type, qf_layer layer, const char *file,
                          int line, int column, const char *key_path);

/* Append a child to a map (key not NULL) or list; takes ownership of child
 * even on failure. */
qf_status qf_cnode_append(qf_cnode *parent, const char *key, qf_cnode *child);

/* Set the error to "FILE:LINE:COLUMN: KEY.PATH: MESSAGE" for `node`. */
qf_status qf_cnode_fail(qf_error *err, qf_status status, const qf_cnode *node,
                        const char *fmt, ...) QF_PRINTF(4, 5);

/* Expand ${VAR}, ${VAR:-default} and $$ in a scalar's text. */
qf_status qf_cnode_expand(const qf_cnode *node, char **out, qf_error *err);

/* Name of a node type for messages: "a map", "a list", ... */
const char *qf_cnode_type_phrase(const qf_cnode *node);

/*
 * Convert a subtree to cJSON with every string expanded and plain scalars
 * typed. `canonical` sorts map keys and replaces each secret with
 * "sha256:HEX" of it: every value under a secret key or a headers map, and
 * every string with a URL userinfo. Equal settings then give equal text
 * without the text holding the secret. *out is freed with cJSON_Delete.
 */
typedef struct cJSON cJSON;
qf_status qf_cnode_to_cjson(const qf_cnode *node, int canonical, cJSON **out,
                            qf_error *err);

#endif /* QF_CORE_CONFIG_INTERNAL_H */

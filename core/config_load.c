/*
 * config_load.c - finding and parsing the configuration file. libyaml's
 * event parser builds a qf_cnode tree in which every node remembers its
 * file, 1-based line and column, and key path. Duplicate keys, aliases,
 * anchors and merge keys are rejected; strings are not expanded here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config_internal.h"

#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)
#define MAX_DEPTH        64

typedef struct loader {
    yaml_parser_t parser;
    const char *file;
    qf_error *err;
    int depth;
} loader;

static qf_status parse_node(loader *ld, yaml_event_t *event, const char *path,
                            qf_cnode **out);

static qf_status syntax_error(loader *ld)
{
    const yaml_parser_t *p = &ld->parser;
    const yaml_mark_t *mark = &p->problem_mark;

    if (p->error == YAML_MEMORY_ERROR)
        return qf_error_set(ld->err, QF_ERR_NOMEM,
                            "%s: out of memory parsing YAML", ld->file);
    if (p->context != NULL)
        return qf_error_set(ld->err, QF_ERR_CONFIG,
                            "%s:%zu:%zu: invalid YAML: %s %s; expected "
                            "well-formed YAML (check indentation, colons "
                            "and quotes)",
                            ld->file, mark->line + 1, mark->column + 1,
                            p->problem, p->context);
    return qf_error_set(ld->err, QF_ERR_CONFIG,
                        "%s:%zu:%zu: invalid YAML: %s; expected well-formed "
                        "YAML (check indentation, colons and quotes)",
                        ld->file, mark->line + 1, mark->column + 1,
                        p->problem != NULL ? p->problem : "parse error");
}

static qf_status next_event(loader *ld, yaml_event_t *event)
{
    if (!yaml_parser_parse(&ld->parser, event))
        return syntax_error(ld);
    return QF_OK;
}

static qf_status fail_at(loader *ld, const yaml_mark_t *mark, const char *path,
                         const char *what)
{
    return qf_error_set(ld->err, QF_ERR_CONFIG, "%s:%zu:%zu: %s: %s", ld->file,
                        mark->line + 1, mark->column + 1,
                        path[0] ? path : "(top level)", what);
}

static qf_cnode *node_at(loader *ld, qf_cnode_type type,
                         const yaml_event_t *event, const char *path)
{
    return qf_cnode_create(type, QF_LAYER_GLOBAL, ld->file,
                           (int)event->start_mark.line + 1,
                           (int)event->start_mark.column + 1, path);
}

static qf_status parse_scalar(loader *ld, yaml_event_t *event, const char *path,
                              qf_cnode **out)
{
    const char *text = (const char *)event->data.scalar.value;
    const char *tag = (const char *)event->data.scalar.tag;
    int quoted = event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                 (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0);
    int is_null = !quoted && qf_config_scalar_kind(text) == SCALAR_NULL;
    qf_cnode *node =
        node_at(ld, is_null ? QF_CNODE_NULL : QF_CNODE_SCALAR, event, path);

    if (node == NULL)
        return qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory");
    if (!is_null) {
        node->quoted = quoted;
        node->text = strdup(text);
        if (node->text == NULL) {
            qf_cnode_free(node);
            return qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory");
        }
    }
    *out = node;
    return QF_OK;
}

static char *child_path(const char *parent, const char *key, size_t index)
{
    char *path;
    size_t len;

    if (key == NULL) {
        len = strlen(parent) + 24;
        path = malloc(len);
        if (path != NULL)
            snprintf(path, len, "%s[%zu]", parent, index);
        return path;
    }
    len = strlen(parent) + strlen(key) + 2;
    path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s%s%s", parent, parent[0] ? "." : "", key);
    return path;
}

/* Parse the value event after `event` (already fetched) into parent. */
static qf_status parse_child(loader *ld, qf_cnode *parent, const char *key,
                             const char *path)
{
    yaml_event_t event;
    qf_cnode *child = NULL;
    qf_status st = next_event(ld, &event);

    if (st != QF_OK)
        return st;
    st = parse_node(ld, &event, path, &child);
    yaml_event_delete(&event);
    if (st != QF_OK)
        return st;
    if (qf_cnode_append(parent, key, child) != QF_OK)
        return qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory");
    return QF_OK;
}

static qf_status check_key(loader *ld, const qf_cnode *map,
                           const yaml_event_t *event, const char *path)
{
    const char *key = (const char *)event->data.scalar.value;
    const qf_cnode *first;
    char what[512];

    if (event->type != YAML_SCALAR_EVENT)
        return fail_at(ld, &event->start_mark, path,
                       "a key is a map or list; expected a plain string key");
    if (strcmp(key, "<<") == 0 &&
        event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        return fail_at(ld, &event->start_mark, path,
                       "merge keys (<<) are not supported; write the keys "
                       "out in full");
    first = qf_cnode_get(map, key);
    if (first == NULL)
        return QF_OK;
    snprintf(what, sizeof(what),
             "key \"%s\" appears twice in one map (first at line %d); "
             "expected each key once, so remove one of them",
             key, first->line);
    return fail_at(ld, &event->start_mark, path, what);
}

static qf_status parse_map(loader *ld, qf_cnode *map, const char *path)
{
    for (;;) {
        yaml_event_t key_event;
        char *sub = NULL;
        qf_status st = next_event(ld, &key_event);

        if (st != QF_OK)
            return st;
        if (key_event.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key_event);
            return QF_OK;
        }
        st = check_key(ld, map, &key_event, path);
        if (st == QF_OK) {
            sub =
                child_path(path, (const char *)key_event.data.scalar.value, 0);
            st = sub == NULL
                     ? qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory")
                     : parse_child(ld, map,
                                   (const char *)key_event.data.scalar.value,
                                   sub);
        }
        free(sub);
        yaml_event_delete(&key_event);
        if (st != QF_OK)
            return st;
    }
}

static qf_status parse_list(loader *ld, qf_cnode *list, const char *path)
{
    for (size_t index = 0;; index++) {
        yaml_event_t event;
        qf_cnode *child = NULL;
        char *sub;
        qf_status st = next_event(ld, &event);

        if (st != QF_OK)
            return st;
        if (event.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&event);
            return QF_OK;
        }
        sub = child_path(path, NULL, index);
        st = sub == NULL ? qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory")
                         : parse_node(ld, &event, sub, &child);
        free(sub);
        yaml_event_delete(&event);
        if (st != QF_OK)
            return st;
        if (qf_cnode_append(list, NULL, child) != QF_OK)
            return qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory");
    }
}

static const yaml_char_t *anchor_of(const yaml_event_t *event)
{
    if (event->type == YAML_SCALAR_EVENT)
        return event->data.scalar.anchor;
    if (event->type == YAML_MAPPING_START_EVENT)
        return event->data.mapping_start.anchor;
    if (event->type == YAML_SEQUENCE_START_EVENT)
        return event->data.sequence_start.anchor;
    return NULL;
}

static qf_status parse_node(loader *ld, yaml_event_t *event, const char *path,
                            qf_cnode **out)
{
    qf_cnode *node;
    qf_status st;

    *out = NULL;
    if (event->type == YAML_ALIAS_EVENT || anchor_of(event) != NULL)
        return fail_at(ld, &event->start_mark, path,
                       "YAML anchors (&name) and aliases (*name) are not "
                       "supported; write the value out in full");
    if (event->type == YAML_SCALAR_EVENT)
        return parse_scalar(ld, event, path, out);
    if (++ld->depth > MAX_DEPTH)
        return fail_at(ld, &event->start_mark, path,
                       "maps and lists nest too deeply; expected at most 64 "
                       "levels");

    node = node_at(ld,
                   event->type == YAML_MAPPING_START_EVENT ? QF_CNODE_MAP
                                                           : QF_CNODE_LIST,
                   event, path);
    if (node == NULL)
        return qf_error_set(ld->err, QF_ERR_NOMEM, "out of memory");
    st = node->type == QF_CNODE_MAP ? parse_map(ld, node, path)
                                    : parse_list(ld, node, path);
    ld->depth--;
    if (st != QF_OK) {
        qf_cnode_free(node);
        return st;
    }
    *out = node;
    return QF_OK;
}

/* Skip to the first node event; NULL root for an empty stream. */
static qf_status parse_document(loader *ld, qf_cnode **root)
{
    yaml_event_t event;
    qf_status st;

    *root = NULL;
    do {
        st = next_event(ld, &event);
        if (st != QF_OK)
            return st;
        if (event.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&event);
            return QF_OK;
        }
        if (event.type == YAML_STREAM_START_EVENT ||
            event.type == YAML_DOCUMENT_START_EVENT)
            yaml_event_delete(&event);
        else
            break;
    } while (1);

    st = parse_node(ld, &event, "", root);
    yaml_event_delete(&event);
    if (st != QF_OK)
        return st;
    return QF_OK;
}

/* After the root node: the document end, then the stream end. */
static qf_status expect_single_document(loader *ld)
{
    yaml_event_t event;
    qf_status st = next_event(ld, &event);

    if (st == QF_OK && event.type == YAML_DOCUMENT_END_EVENT) {
        yaml_event_delete(&event);
        st = next_event(ld, &event);
    }
    if (st != QF_OK)
        return st;
    if (event.type != YAML_STREAM_END_EVENT)
        st = fail_at(ld, &event.start_mark, "",
                     "a second YAML document starts here; expected one "
                     "document per configuration file");
    yaml_event_delete(&event);
    return st;
}

static qf_status parse_text(const char *text, size_t len, const char *file,
                            qf_cnode **root, qf_error *err)
{
    loader ld = {.file = file, .err = err};
    qf_status st;

    if (!yaml_parser_initialize(&ld.parser))
        return qf_error_set(err, QF_ERR_NOMEM,
                            "out of memory starting libyaml");
    yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
    st = parse_document(&ld, root);
    if (st == QF_OK && *root != NULL)
        st = expect_single_document(&ld);
    yaml_parser_delete(&ld.parser);
    if (st != QF_OK) {
        qf_cnode_free(*root);
        *root = NULL;
    }
    return st;
}

/* --- The configuration ------------------------------------------------ */

static qf_config *config_from_text(const char *text, size_t len,
                                   const char *name, const char *dir,
                                   qf_error *err)
{
    qf_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL || (cfg->path = strdup(name)) == NULL ||
        (cfg->dir = strdup(dir)) == NULL) {
        qf_error_set(err, QF_ERR_NOMEM, "out of memory loading %s", name);
        goto fail;
    }
    if (parse_text(text, len, name, &cfg->root, err) != QF_OK)
        goto fail;
    if (cfg->root == NULL)
        cfg->root =
            qf_cnode_create(QF_CNODE_MAP, QF_LAYER_GLOBAL, name, 1, 1, "");
    if (cfg->root == NULL) {
        qf_error_set(err, QF_ERR_NOMEM, "out of memory loading %s", name);
        goto fail;
    }
    if (cfg->root->type != QF_CNODE_MAP) {
        qf_cnode_fail(err, QF_ERR_CONFIG, cfg->root,
                      "the file's top level is %s; expected a map of keys "
                      "such as providers: and roles:",
                      qf_cnode_type_phrase(cfg->root));
        goto fail;
    }
    return cfg;

fail:
    qf_config_free(cfg);
    return NULL;
}

qf_config *qf_config_load_string(const char *text, size_t len, const char *name,
                                 qf_error *err)
{
    return config_from_text(text, len, name != NULL ? name : "<string>", ".",
                            err);
}

/* Grow `*data` to hold at least `need` bytes, doubling; 0 on success. */
static qf_status grow_buffer(char **data, size_t *cap, size_t need,
                             const char *path, qf_error *err)
{
    size_t next = *cap != 0 ? *cap : 4096;
    char *grown;

    while (next < need)
        next *= 2;
    if (next > MAX_CONFIG_BYTES + 1)
        return qf_error_set(err, QF_ERR_TOO_LARGE,
                            "%s: the configuration file is larger than 16 MiB; "
                            "expected a small YAML file",
                            path);
    grown = realloc(*data, next);
    if (grown == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "%s: out of memory reading it",
                            path);
    *data = grown;
    *cap = next;
    return QF_OK;
}

/* Whole file into a malloc'd NUL-terminated buffer. */
static qf_status read_file(const char *path, char **out, size_t *len,
                           qf_error *err)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t cap = 0, used = 0, got;
    qf_status st = QF_OK;

    if (f == NULL)
        return qf_error_set(err, errno == ENOENT ? QF_ERR_NOT_FOUND : QF_ERR_IO,
                            "%s: cannot open the configuration file: %s; "
                            "check the path and its permissions",
                            path, strerror(errno));
    do {
        st = grow_buffer(&data, &cap, used + 2, path, err);
        if (st != QF_OK)
            goto out;
        got = fread(data + used, 1, cap - used - 1, f);
        used += got;
    } while (got > 0);
    if (ferror(f))
        st = qf_error_set(err, QF_ERR_IO, "%s: reading failed; check the file",
                          path);

out:
    fclose(f);
    if (st != QF_OK) {
        free(data);
        return st;
    }
    data[used] = '\0';
    *out = data;
    *len = used;
    return QF_OK;
}

/* Absolute folder of `path` (its dirname when realpath fails). */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir, *real;

    if (slash == NULL)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return NULL;
    real = realpath(dir, NULL);
    if (real == NULL)
        return dir;
    free(dir);
    return real;
}

qf_config *qf_config_load(const char *path, qf_error *err)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    qf_config *cfg = NULL;

    if (read_file(path, &text, &len, err) != QF_OK)
        return NULL;
    dir = folder_of(path);
    if (dir == NULL)
        qf_error_set(err, QF_ERR_NOMEM, "out of memory loading %s", path);
    else
        cfg = config_from_text(text, len, path, dir, err);
    free(dir);
    free(text);
    return cfg;
}

void qf_config_free(qf_config *cfg)
{
    if (cfg == NULL)
        return;
    qf_cnode_free(cfg->root);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

const char *qf_config_path(const qf_config *cfg)
{
    return cfg->path;
}

const char *qf_config_dir(const qf_config *cfg)
{
    return cfg->dir;
}

const qf_cnode *qf_config_root(const qf_config *cfg)
{
    return cfg->root;
}

static qf_status found(const char *path, char **out, qf_error *err)
{
    *out = strdup(path);
    return *out != NULL ? QF_OK
                        : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

qf_status qf_config_find(const char *explicit_path, char **out, qf_error *err)
{
    static const char *const defaults[] = {"plugins.yml",
                                           ".questfoundry/config.yml"};
    const char *env = getenv("QF_CONFIG");

    *out = NULL;
    if (explicit_path != NULL) {
        if (access(explicit_path, F_OK) != 0)
            return qf_error_set(err, QF_ERR_NOT_FOUND,
                                "configuration file %s (from --config) not "
                                "found; check the path",
                                explicit_path);
        return found(explicit_path, out, err);
    }
    if (env != NULL && env[0] != '\0') {
        if (access(env, F_OK) != 0)
            return qf_error_set(err, QF_ERR_NOT_FOUND,
                                "configuration file %s (from $QF_CONFIG) not "
                                "found; fix QF_CONFIG or unset it",
                                env);
        return found(env, out, err);
    }
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (access(defaults[i], F_OK) == 0)
            return found(defaults[i], out, err);
    }
    return qf_error_set(err, QF_ERR_NOT_FOUND,
                        "no configuration file found: --config was not given, "
                        "$QF_CONFIG is not set, and neither ./plugins.yml nor "
                        "./.questfoundry/config.yml exists; create one of "
                        "them or pass --config FILE");
}

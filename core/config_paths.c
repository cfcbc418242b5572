/*
 * config_paths.c - values of the file's top level that name places and
 * roles: the state directory, the plugin directories (both relative to the
 * file's folder) and the list of role names.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static const char *const builtin_roles[] = {
    "showrunner",   "gatekeeper",    "plotwright",      "scene_smith",
    "lore_weaver",  "codex_curator", "style_lead",      "researcher",
    "art_director", "illustrator",   "audio_director",  "audio_producer",
    "translator",   "book_binder",   "player_narrator",
};

int qf_config_role_is_builtin(const char *role)
{
    for (size_t i = 0; i < sizeof(builtin_roles) / sizeof(builtin_roles[0]);
         i++) {
        if (strcmp(role, builtin_roles[i]) == 0)
            return 1;
    }
    return 0;
}

void qf_config_strings_free(char **strings)
{
    if (strings == NULL)
        return;
    for (size_t i = 0; strings[i] != NULL; i++)
        free(strings[i]);
    free(strings);
}

/* `path` when absolute, else dir/path; malloc'd. */
static char *resolve_against(const char *dir, const char *path)
{
    size_t dlen, plen;
    char *joined;

    if (path[0] == '/')
        return strdup(path);
    dlen = strlen(dir);
    plen = strlen(path);
    joined = malloc(dlen + plen + 2);
    if (joined == NULL)
        return NULL;
    memcpy(joined, dir, dlen);
    joined[dlen] = '/';
    memcpy(joined + dlen + 1, path, plen + 1);
    return joined;
}

qf_status qf_config_state_dir(const qf_config *cfg, char **out, qf_error *err)
{
    const char *env = getenv("QF_STATE_DIR");
    const qf_cnode *node = qf_cnode_get(cfg->root, "state_dir");
    char *value = NULL;
    qf_status st;

    *out = NULL;
    if (env != NULL && env[0] != '\0')
        *out = strdup(env);
    else if (node == NULL || node->type == QF_CNODE_NULL)
        *out = resolve_against(cfg->dir, ".questfoundry");
    else {
        st = qf_cnode_string(node, &value, err);
        if (st != QF_OK)
            return st;
        if (value[0] == '\0') {
            free(value);
            return qf_cnode_fail(err, QF_ERR_CONFIG, node,
                                 "value is empty; expected a folder path, or "
                                 "leave state_dir out to use .questfoundry "
                                 "next to the file");
        }
        *out = resolve_against(cfg->dir, value);
        free(value);
    }
    return *out != NULL ? QF_OK
                        : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

static qf_status add_dir(const qf_config *cfg, const qf_cnode *item,
                         char **dirs, size_t at, qf_error *err)
{
    char *value = NULL;
    qf_status st = qf_cnode_string(item, &value, err);

    if (st != QF_OK)
        return st;
    if (value[0] == '\0') {
        free(value);
        return qf_cnode_fail(err, QF_ERR_CONFIG, item,
                             "value is empty; expected a folder path");
    }
    dirs[at] = resolve_against(cfg->dir, value);
    free(value);
    return dirs[at] != NULL ? QF_OK
                            : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

qf_status qf_config_plugin_dirs(const qf_config *cfg, char ***out,
                                qf_error *err)
{
    const qf_cnode *node = qf_cnode_get(cfg->root, "plugin_dirs");
    size_t count = 0;
    char **dirs;
    qf_status st = QF_OK;

    *out = NULL;
    if (node != NULL && node->type == QF_CNODE_MAP)
        return qf_cnode_fail(err, QF_ERR_CONFIG, node,
                             "value is a map; expected a list of folder paths");
    if (node != NULL && node->type != QF_CNODE_NULL)
        count = node->type == QF_CNODE_LIST ? node->count : 1;
    dirs = calloc(count + 1, sizeof(*dirs));
    if (dirs == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    for (size_t i = 0; i < count && st == QF_OK; i++)
        st = add_dir(cfg, node->type == QF_CNODE_LIST ? node->items[i] : node,
                     dirs, i, err);
    if (st != QF_OK) {
        qf_config_strings_free(dirs);
        return st;
    }
    *out = dirs;
    return QF_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add `name` unless already present. */
static qf_status add_name(char **names, size_t *count, const char *name)
{
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(names[i], name) == 0)
            return QF_OK;
    }
    names[*count] = strdup(name);
    if (names[*count] == NULL)
        return QF_ERR_NOMEM;
    (*count)++;
    return QF_OK;
}

qf_status qf_config_role_names(const qf_config *cfg, char ***out, qf_error *err)
{
    const qf_cnode *roles = qf_cnode_get(cfg->root, "roles");
    size_t nbuiltin = sizeof(builtin_roles) / sizeof(builtin_roles[0]);
    size_t count = 0;
    char **names;

    *out = NULL;
    if (roles != NULL && roles->type != QF_CNODE_MAP &&
        roles->type != QF_CNODE_NULL)
        return qf_cnode_fail(err, QF_ERR_CONFIG, roles,
                             "value is %s; expected a map of role names",
                             qf_cnode_type_phrase(roles));
    names = calloc(nbuiltin + qf_cnode_count(roles) + 1, sizeof(*names));
    if (names == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    for (size_t i = 0; i < nbuiltin; i++) {
        if (add_name(names, &count, builtin_roles[i]) != QF_OK)
            goto nomem;
    }
    for (size_t i = 0; i < qf_cnode_count(roles); i++) {
        if (add_name(names, &count, roles->keys[i]) != QF_OK)
            goto nomem;
    }
    qsort(names, count, sizeof(*names), compare_names);
    *out = names;
    return QF_OK;

nomem:
    qf_config_strings_free(names);
    return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

/*
 * loader.c - opening plugin files, the ABI handshake, the permission check
 * and the plugin search path.
 *
 * A file is checked for permissions, opened with dlopen(RTLD_NOW |
 * RTLD_LOCAL), its one entry symbol is called and the returned descriptor
 * is checked field by field before anything else reads it. Handles are
 * never closed: a descriptor points into the plugin's code.
 */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#ifndef QF_PLUGIN_INSTALL_DIR
#define QF_PLUGIN_INSTALL_DIR "lib/questfoundry/plugins"
#endif

#define ID_MAX 64

/* Bytes a struct occupies up to the end of its last v1 field. */
#define V1_END(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

#define DESCRIPTOR_V1_SIZE V1_END(qf_plugin_descriptor, get_interface)
#define PROVIDER_V1_SIZE   V1_END(qf_provider_vtable, generate_image)
#define MIDDLEWARE_V1_SIZE V1_END(qf_middleware_vtable, on_complete)
#define CACHE_V1_SIZE      V1_END(qf_cache_backend_vtable, stats)
#define OPTION_V1_SIZE     V1_END(qf_option_spec, description)

/* --- Handshake ------------------------------------------------------ */

static const char *kind_name(qf_plugin_kind kind)
{
    switch (kind) {
    case QF_KIND_PROVIDER: return "provider";
    case QF_KIND_MIDDLEWARE: return "middleware";
    case QF_KIND_CACHE_BACKEND: return "cache_backend";
    }
    return NULL;
}

static qf_status check_versions(const qf_plugin_descriptor *d, const char *path,
                                qf_error *err)
{
    const uint32_t host_tag = QF_BUILD_TAG;

    if (d->size < DESCRIPTOR_V1_SIZE)
        return qf_error_set(
            err, QF_ERR_ABI,
            "%s: descriptor size is %u bytes, plugin ABI %d.%d needs at "
            "least %zu; rebuild the plugin against SDK %d.%d",
            path, (unsigned)d->size, QF_ABI_MAJOR, QF_ABI_MINOR,
            (size_t)DESCRIPTOR_V1_SIZE, QF_ABI_MAJOR, QF_ABI_MINOR);
    if (d->abi_major != QF_ABI_MAJOR)
        return qf_error_set(
            err, QF_ERR_ABI,
            "%s: built for plugin ABI %u.%u, this host speaks %d.%d; "
            "rebuild the plugin against SDK %d.x",
            path, (unsigned)d->abi_major, (unsigned)d->abi_minor, QF_ABI_MAJOR,
            QF_ABI_MINOR, QF_ABI_MAJOR);
    if (d->abi_minor > QF_ABI_MINOR)
        return qf_error_set(
            err, QF_ERR_ABI,
            "%s: built for plugin ABI %u.%u, newer than this host's %d.%d; "
            "rebuild the plugin against SDK %d.%d or upgrade the host",
            path, (unsigned)d->abi_major, (unsigned)d->abi_minor, QF_ABI_MAJOR,
            QF_ABI_MINOR, QF_ABI_MAJOR, QF_ABI_MINOR);
    if (d->build_tag != host_tag)
        return qf_error_set(
            err, QF_ERR_ABI,
            "%s: build tag 0x%08x (%u-bit pointers, ABI revision %u) does "
            "not match this host's 0x%08x (%u-bit pointers, ABI revision "
            "%u); rebuild the plugin against SDK %d.%d for this platform",
            path, (unsigned)d->build_tag, (unsigned)(d->build_tag >> 16),
            (unsigned)(d->build_tag & 0xffffu), (unsigned)host_tag,
            (unsigned)(host_tag >> 16), (unsigned)(host_tag & 0xffffu),
            QF_ABI_MAJOR, QF_ABI_MINOR);
    return QF_OK;
}

static int id_is_valid(const char *id)
{
    size_t len = 0;

    for (; id[len] != '\0'; len++) {
        char c = id[len];
        if (len >= ID_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return len > 0;
}

static qf_status check_identity(const qf_plugin_descriptor *d, const char *path,
                                qf_error *err)
{
    if (d->id == NULL)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: the descriptor has no plugin id; set id to "
                            "1 to %d characters of [a-z0-9_]",
                            path, ID_MAX);
    if (!id_is_valid(d->id))
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: plugin id \"%.*s\" is invalid; expected 1 to "
                            "%d characters of [a-z0-9_]",
                            path, ID_MAX + 1, d->id, ID_MAX);
    if (kind_name(d->kind) == NULL)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: plugin \"%s\" has unknown kind %d; expected "
                            "1 (provider), 2 (middleware) or 3 "
                            "(cache_backend)",
                            path, d->id, (int)d->kind);
    return QF_OK;
}

/* The vtable of the descriptor's kind, its size field and the v1 size. */
static const uint32_t *kind_vtable(const qf_plugin_descriptor *d,
                                   size_t *v1_size)
{
    switch (d->kind) {
    case QF_KIND_PROVIDER:
        *v1_size = PROVIDER_V1_SIZE;
        return d->provider != NULL ? &d->provider->size : NULL;
    case QF_KIND_MIDDLEWARE:
        *v1_size = MIDDLEWARE_V1_SIZE;
        return d->middleware != NULL ? &d->middleware->size : NULL;
    case QF_KIND_CACHE_BACKEND:
        *v1_size = CACHE_V1_SIZE;
        return d->cache_backend != NULL ? &d->cache_backend->size : NULL;
    }
    *v1_size = 0;
    return NULL;
}

/* Whether the vtable of the kind has its lifecycle (and, for providers, at
 * least one capability) set. */
static int vtable_has_functions(const qf_plugin_descriptor *d)
{
    switch (d->kind) {
    case QF_KIND_PROVIDER:
        return d->provider->create != NULL && d->provider->destroy != NULL &&
               (d->provider->complete != NULL ||
                d->provider->generate_image != NULL);
    case QF_KIND_MIDDLEWARE:
        return d->middleware->create != NULL &&
               d->middleware->destroy != NULL &&
               d->middleware->on_request != NULL;
    case QF_KIND_CACHE_BACKEND:
        return d->cache_backend->create != NULL &&
               d->cache_backend->destroy != NULL &&
               d->cache_backend->get != NULL && d->cache_backend->put != NULL;
    }
    return 0;
}

static qf_status check_vtable(const qf_plugin_descriptor *d, const char *path,
                              qf_error *err)
{
    const char *kind = kind_name(d->kind);
    size_t v1_size;
    const uint32_t *size = kind_vtable(d, &v1_size);

    if (size == NULL)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: plugin \"%s\" is a %s but its descriptor has "
                            "no %s vtable; set the descriptor's %s field",
                            path, d->id, kind, kind, kind);
    if (*size < v1_size)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: %s vtable of plugin \"%s\" is %u bytes, "
                            "plugin ABI %d.%d needs at least %zu; rebuild the "
                            "plugin against SDK %d.%d",
                            path, kind, d->id, (unsigned)*size, QF_ABI_MAJOR,
                            QF_ABI_MINOR, v1_size, QF_ABI_MAJOR, QF_ABI_MINOR);
    if (!vtable_has_functions(d))
        return qf_error_set(
            err, QF_ERR_ABI,
            "%s: %s vtable of plugin \"%s\" lacks a required function; a %s "
            "needs %s",
            path, kind, d->id, kind,
            d->kind == QF_KIND_PROVIDER
                ? "create, destroy and complete or generate_image"
            : d->kind == QF_KIND_MIDDLEWARE ? "create, destroy and on_request"
                                            : "create, destroy, get and put");
    return QF_OK;
}

static qf_status check_options(const qf_plugin_descriptor *d, const char *path,
                               qf_error *err)
{
    if (d->option_count > 0 && d->options == NULL)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: plugin \"%s\" declares %zu options but its "
                            "options array is NULL; set options or make "
                            "option_count 0",
                            path, d->id, d->option_count);
    for (size_t i = 0; i < d->option_count; i++) {
        const qf_option_spec *o = &d->options[i];
        if (o->size < OPTION_V1_SIZE || o->name == NULL)
            return qf_error_set(err, QF_ERR_ABI,
                                "%s: option %zu of plugin \"%s\" has size %u "
                                "(at least %zu expected) or no name; rebuild "
                                "the plugin against SDK %d.%d",
                                path, i, d->id, (unsigned)o->size,
                                (size_t)OPTION_V1_SIZE, QF_ABI_MAJOR,
                                QF_ABI_MINOR);
    }
    return QF_OK;
}

qf_status qf_loader_check_descriptor(const qf_plugin_descriptor *descriptor,
                                     const char *path, qf_error *err)
{
    qf_status status;

    if (descriptor == NULL)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: qf_plugin_entry returned NULL instead of a "
                            "descriptor; return a static descriptor with "
                            "QF_PLUGIN_DEFINE",
                            path);

    status = check_versions(descriptor, path, err);
    if (status == QF_OK)
        status = check_identity(descriptor, path, err);
    if (status == QF_OK)
        status = check_vtable(descriptor, path, err);
    if (status == QF_OK)
        status = check_options(descriptor, path, err);
    return status;
}

/* --- Permissions ---------------------------------------------------- */

static qf_status check_mode(const char *path, const char *what, int want_dir,
                            qf_error *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return qf_error_set(err, QF_ERR_IO, "%s: cannot read the %s: %s", path,
                            what, strerror(errno));
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return qf_error_set(err, QF_ERR_IO,
                            "%s: the plugin %s is not a regular %s; use a "
                            "plain shared object file",
                            path, what, want_dir ? "folder" : "file");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return qf_error_set(err, QF_ERR_IO,
                            "%s: the plugin %s is writable by group or others "
                            "(mode %04o); run: chmod go-w '%s'",
                            path, what, (unsigned)(st.st_mode & 07777), path);
    return QF_OK;
}

qf_status qf_loader_check_permissions(const char *path, qf_error *err)
{
    char *real = realpath(path, NULL);
    char *slash;
    qf_status status;

    if (real == NULL)
        return qf_error_set(err, QF_ERR_IO, "%s: cannot resolve the path: %s",
                            path, strerror(errno));

    status = check_mode(real, "file", 0, err);
    if (status != QF_OK)
        goto out;

    slash = strrchr(real, '/');
    if (slash == real)
        slash[1] = '\0';
    else
        *slash = '\0';
    status = check_mode(real, "folder", 1, err);

out:
    free(real);
    return status;
}

/* --- Opening -------------------------------------------------------- */

void qf_plugin_free(qf_plugin *plugin)
{
    if (plugin == NULL)
        return;
    free(plugin->path);
    free(plugin);
}

static qf_status open_handle(const char *path, void **handle,
                             qf_plugin_entry_fn *entry, qf_error *err)
{
    void *symbol;

    dlerror();
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*handle == NULL) {
        const char *reason = dlerror();
        return qf_error_set(err, QF_ERR_IO,
                            "%s: cannot open the plugin: %s; check that it is "
                            "a shared object built for this platform",
                            path, reason != NULL ? reason : "unknown error");
    }

    symbol = dlsym(*handle, QF_PLUGIN_ENTRY_SYMBOL);
    if (symbol == NULL)
        return qf_error_set(err, QF_ERR_ABI,
                            "%s: the file exports no %s symbol; a plugin must "
                            "define its entry with QF_PLUGIN_DEFINE",
                            path, QF_PLUGIN_ENTRY_SYMBOL);
    /* POSIX requires dlsym's result to convert to a function pointer;
     * memcpy avoids ISO C's object-to-function pointer warning. */
    memcpy(entry, &symbol, sizeof(*entry));
    return QF_OK;
}

qf_status qf_loader_open(const char *path, qf_plugin **out, qf_error *err)
{
    qf_plugin *plugin = NULL;
    qf_plugin_entry_fn entry = NULL;
    const qf_plugin_descriptor *descriptor = NULL;
    void *handle = NULL;
    qf_status status;

    *out = NULL;
    status = qf_loader_check_permissions(path, err);
    if (status != QF_OK)
        return status;

    /* A rejected file is closed again: nothing keeps a pointer into it,
     * and a fixed file at the same path then loads fresh. */
    status = open_handle(path, &handle, &entry, err);
    if (status == QF_OK) {
        descriptor = entry();
        status = qf_loader_check_descriptor(descriptor, path, err);
    }
    if (status != QF_OK) {
        if (handle != NULL)
            dlclose(handle);
        return status;
    }

    plugin = calloc(1, sizeof(*plugin));
    if (plugin == NULL || (plugin->path = strdup(path)) == NULL) {
        free(plugin);
        return qf_error_set(err, QF_ERR_NOMEM,
                            "%s: out of memory while loading the plugin", path);
    }
    plugin->handle = handle;
    plugin->descriptor = descriptor;
    *out = plugin;
    return QF_OK;
}

/* --- Search path ---------------------------------------------------- */

typedef struct dir_list {
    char **items; /* NULL-terminated */
    size_t count;
    size_t capacity;
} dir_list;

static void dir_list_free(dir_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
}

/* Append a copy of `dir` (first `len` bytes) unless it is already listed.
 * Trailing slashes are dropped so "a/" and "a" are one folder. */
static qf_status dir_list_add(dir_list *list, const char *dir, size_t len)
{
    char *copy;

    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0)
        return QF_OK;
    for (size_t i = 0; i < list->count; i++) {
        if (strlen(list->items[i]) == len &&
            memcmp(list->items[i], dir, len) == 0)
            return QF_OK;
    }

    if (list->count + 2 > list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 8;
        char **items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL)
            return QF_ERR_NOMEM;
        list->items = items;
        list->capacity = capacity;
    }
    copy = strndup(dir, len);
    if (copy == NULL)
        return QF_ERR_NOMEM;
    list->items[list->count++] = copy;
    list->items[list->count] = NULL;
    return QF_OK;
}

static qf_status add_env_dirs(dir_list *list)
{
    const char *value = getenv("QF_PLUGIN_PATH");
    qf_status status = QF_OK;

    while (value != NULL && *value != '\0' && status == QF_OK) {
        const char *colon = strchr(value, ':');
        size_t len = colon != NULL ? (size_t)(colon - value) : strlen(value);
        status = dir_list_add(list, value, len);
        value = colon != NULL ? colon + 1 : NULL;
    }
    return status;
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder of shipped plugins next to the running executable: the build
 * tree's <bin>/../plugins when present, else <prefix>/QF_PLUGIN_INSTALL_DIR. */
static qf_status add_builtin_dir(dir_list *list)
{
    char exe[PATH_MAX];
    char dir[PATH_MAX + 64];
    char *real;
    char *slash;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    qf_status status;

    if (len <= 0)
        return QF_OK;
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return QF_OK;
    *slash = '\0'; /* exe is now the executable's folder */

    snprintf(dir, sizeof(dir), "%s/../plugins", exe);
    real = is_dir(dir) ? realpath(dir, NULL) : NULL;
    if (real != NULL) {
        status = dir_list_add(list, real, strlen(real));
        free(real);
        return status;
    }

    slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0'; /* exe is now the prefix */
    if (QF_PLUGIN_INSTALL_DIR[0] == '/')
        snprintf(dir, sizeof(dir), "%s", QF_PLUGIN_INSTALL_DIR);
    else
        snprintf(dir, sizeof(dir), "%s/%s", exe, QF_PLUGIN_INSTALL_DIR);
    return dir_list_add(list, dir, strlen(dir));
}

qf_status qf_loader_search_dirs(char *const *configured, char ***out,
                                qf_error *err)
{
    dir_list list = {0};
    qf_status status;

    *out = NULL;
    status = add_env_dirs(&list);
    for (size_t i = 0;
         status == QF_OK && configured != NULL && configured[i] != NULL; i++)
        status = dir_list_add(&list, configured[i], strlen(configured[i]));
    if (status == QF_OK)
        status = add_builtin_dir(&list);
    if (status == QF_OK && list.items == NULL) {
        list.items = calloc(1, sizeof(*list.items));
        if (list.items == NULL)
            status = QF_ERR_NOMEM;
    }
    if (status != QF_OK) {
        dir_list_free(&list);
        return qf_error_set(err, QF_ERR_NOMEM,
                            "out of memory while listing plugin folders");
    }
    *out = list.items;
    return QF_OK;
}

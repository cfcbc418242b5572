/*
 * loader.h - opening plugin files and the ABI handshake.
 *
 * Files are opened with RTLD_NOW | RTLD_LOCAL and never closed while the
 * process runs. Every rejection names the file, what was found, what was
 * expected and what to do; none of them crashes the host.
 */
#ifndef QF_CORE_LOADER_H
#define QF_CORE_LOADER_H

#include "qf/plugin.h"

/* A plugin file that passed the handshake. */
typedef struct qf_plugin {
    char *path;
    void *handle; /* from dlopen; never closed */
    const qf_plugin_descriptor *descriptor;
} qf_plugin;

/*
 * Reject a file or its folder when group or others may write it, or when
 * it is not a regular file. QF_ERR_ABI-free: returns QF_ERR_IO with the
 * path, its mode and the chmod that fixes it.
 */
qf_status qf_loader_check_permissions(const char *path, qf_error *err);

/*
 * Check a descriptor against the host's ABI: size at least the v1 size,
 * same major, minor not newer, same build tag, a valid id, kind, and the
 * vtable of that kind present. Returns QF_ERR_ABI with a message such as
 * "plugins/x.so: built for plugin ABI 2.0, this host speaks 1.0; rebuild
 * the plugin against SDK 1.x".
 */
qf_status qf_loader_check_descriptor(const qf_plugin_descriptor *descriptor,
                                     const char *path, qf_error *err);

/*
 * Open `path`, find qf_plugin_entry, read and check the descriptor. On
 * success *out is a new qf_plugin (free with qf_plugin_free, which does not
 * unload the code).
 */
qf_status qf_loader_open(const char *path, qf_plugin **out, qf_error *err);
void qf_plugin_free(qf_plugin *plugin);

/*
 * The plugin directories in search order: $QF_PLUGIN_PATH (colon
 * separated), then `configured` (may be NULL), then the built-in directory
 * found relative to the running executable (`../plugins` from build/bin, or
 * `../lib/questfoundry/plugins` of an install prefix). *out is a malloc'd
 * NULL-terminated array; free with qf_config_strings_free.
 */
qf_status qf_loader_search_dirs(char *const *configured, char ***out,
                                qf_error *err);

#endif /* QF_CORE_LOADER_H */

/*
 * host_objects.h - the test host's own context object and its in-memory
 * cache backend. Only qf-plugin-check sees these layouts; plugins reach
 * them through the qf_host accessors. Requests and responses are core's.
 */
#ifndef QF_PLUGIN_CHECK_OBJECTS_H
#define QF_PLUGIN_CHECK_OBJECTS_H

#include "qf/plugin.h"

#define CHECK_SETTINGS_MAX 64

struct qf_context {
    char *name;
    char *state_dir;
    size_t setting_count;
    char *keys[CHECK_SETTINGS_MAX];
    char *values[CHECK_SETTINGS_MAX];
};

/* Set the request, response and stream accessors of `host`: core's, with
 * the checker's provider name and base URL. */
void qf_check_fill_objects(qf_host *host);

/* Parse a YAML boolean word; returns 0 on success. */
int qf_check_parse_bool(const char *value, int *out);

/* The in-memory cache backend handed out by cache_backend_open. */
const qf_cache_backend_vtable *qf_check_memory_cache(void);
void *qf_check_memory_cache_instance(void);

#endif /* QF_PLUGIN_CHECK_OBJECTS_H */

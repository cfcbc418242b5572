/*
 * runtime.h - the host library's entry point: a runtime holds one loaded
 * configuration, the plugin registry, every plugin instance it created and
 * the host services, and runs requests through role chains.
 *
 * Threads: a runtime may run requests from many threads at once. Requests
 * and responses belong to the thread that created them.
 */
#ifndef QF_CORE_RUNTIME_H
#define QF_CORE_RUNTIME_H

#include "qf/plugin.h"

#include "config.h"

typedef struct qf_runtime qf_runtime;

/* Clock the host services hand to plugins; tests replace it. */
typedef struct qf_clock {
    int64_t (*now_ms)(void *user);
    int64_t (*monotonic_ns)(void *user);
    void (*sleep_ms)(void *user, int64_t milliseconds);
    void *user;
} qf_clock;

typedef struct qf_runtime_options {
    const char *config_path; /* explicit --config, or NULL to search */
    const qf_config *config; /* already loaded configuration, or NULL */
    const qf_clock *clock;   /* NULL for the system clock */
    int no_registry_scan;    /* do not refresh the registry on open */
} qf_runtime_options;

/* The caller's end of a stream. on_delta returning non-OK stops the call
 * with QF_ERR_CANCELLED. */
typedef struct qf_stream_sink {
    qf_status (*on_delta)(void *user, const char *text, size_t len);
    void *user;
} qf_stream_sink;

qf_status qf_runtime_open(const qf_runtime_options *options, qf_runtime **out,
                          qf_error *err);
void qf_runtime_close(qf_runtime *rt);

const qf_config *qf_runtime_config(const qf_runtime *rt);
const char *qf_runtime_state_dir(const qf_runtime *rt);
const qf_host *qf_runtime_host(const qf_runtime *rt);

/*
 * A new request for `role` with its defaults (model, system prompt, params,
 * options from the configuration). `runtime_layer` (may be NULL) is the top
 * layer: model, system_prompt, params, options. The user prompt is added
 * with qf_request_add_message. Free with qf_request_free.
 */
qf_status qf_request_create(qf_runtime *rt, const char *role,
                            const qf_cnode *runtime_layer, qf_request **out,
                            qf_error *err);
void qf_request_free(qf_request *req);

qf_status qf_request_add_message(qf_request *req, const char *role,
                                 const char *content, size_t len);
void qf_request_set_stream(qf_request *req, int stream, int include_usage);
void qf_request_set_cache_flags(qf_request *req, unsigned flags);

/*
 * Run `req` through its role's chain. `sink` (may be NULL) receives text
 * chunks as they arrive when the request streams. On success *resp is the
 * response; on failure *resp may still hold what was answered. The caller
 * frees *resp with qf_response_free in both cases.
 */
qf_status qf_runtime_run(qf_runtime *rt, qf_request *req,
                         const qf_stream_sink *sink, qf_response **resp,
                         qf_error *err);
void qf_response_free(qf_response *resp);

/* Cost of the call in US dollars, and whether the model was unpriced;
 * set by the host after the provider answers. */
double qf_response_cost(const qf_response *resp, int *unpriced);
const char *qf_response_provider(const qf_response *resp);

/*
 * Find or create the instance of plugin `plugin_id` of `kind` configured
 * with `settings` (may be NULL); instances of equal kind, plugin and
 * expanded settings are shared. `name` prefixes its log lines. On success
 * *vtable points at the kind's vtable (qf_provider_vtable,
 * qf_middleware_vtable or qf_cache_backend_vtable) and *instance at the
 * plugin's own instance; both stay valid until the runtime is closed.
 */
qf_status qf_runtime_open_instance(qf_runtime *rt, qf_plugin_kind kind,
                                   const char *plugin_id,
                                   const qf_cnode *settings, const char *name,
                                   const void **vtable, void **instance,
                                   qf_error *err);

#endif /* QF_CORE_RUNTIME_H */

/*
 * qf/plugin.h - the plugin descriptor and the vtables of the three plugin
 * kinds: provider, middleware and cache backend.
 *
 * A plugin is one shared object exporting one function, qf_plugin_entry(),
 * which returns a pointer to a static, constant descriptor. Reading the
 * descriptor runs no plugin logic. Build with hidden visibility; the
 * QF_PLUGIN_DEFINE macro exports the entry.
 *
 * Instances: the host calls create once per configured instance and destroy
 * once after the last use. create receives the host services table and the
 * instance context, both valid until destroy returns.
 *
 * Threads: unless the descriptor sets QF_PLUGIN_SERIAL, the host may call
 * any hook of one instance from several threads at once.
 */
#ifndef QF_PLUGIN_H
#define QF_PLUGIN_H

#include "qf/abi.h"
#include "qf/host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- Option schema --------------------------------------------------- */

typedef enum qf_option_type {
    QF_OPT_STRING = 1,
    QF_OPT_INT = 2,
    QF_OPT_DOUBLE = 3,
    QF_OPT_BOOL = 4,
    QF_OPT_MAP = 5,
    QF_OPT_LIST = 6
} qf_option_type;

#define QF_OPT_REQUIRED 0x1u /* the instance cannot be created without it */
#define QF_OPT_SECRET   0x2u /* redacted in every output; never logged */

/* One configuration key a plugin reads. default_value is YAML scalar text
 * ("30", "true", "https://...") or NULL. */
typedef struct qf_option_spec {
    uint32_t size; /* sizeof(qf_option_spec) */
    const char *name;
    qf_option_type type;
    const char *default_value;
    uint32_t flags;
    const char *description;
} qf_option_spec;

/* --- Provider -------------------------------------------------------- */

/*
 * A provider ends a chain: it sends the request upstream and fills the
 * response. For a streamed request (host->request_stream) it passes text
 * through host->stream_write as it arrives and returns QF_OK only after the
 * stream's terminal event; a stream that ends early returns
 * QF_ERR_STREAM_CUT. It sets text, finish reason, usage and model on the
 * response. On failure it returns a status with a message on `err`.
 */
typedef struct qf_provider_vtable {
    uint32_t size; /* sizeof(qf_provider_vtable) */
    qf_status (*create)(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err);
    void (*destroy)(void *instance);
    /* Text completion; NULL when the plugin has no text capability. */
    qf_status (*complete)(void *instance, const qf_request *req,
                          qf_response *resp, qf_error *err);
    /* Image generation; NULL when the plugin has no image capability. */
    qf_status (*generate_image)(void *instance, const qf_request *req,
                                qf_response *resp, qf_error *err);
} qf_provider_vtable;

/* --- Middleware ------------------------------------------------------ */

/*
 * Middleware sees the request in chain order and the response in reverse
 * order. `state` is one pointer per call and instance, NULL at first, passed
 * to every later hook of that call; the middleware frees what it puts there
 * in on_complete.
 *
 * on_request may change the request and may add a stream tap. It returns
 * QF_OK to pass the request on, QF_ANSWERED after filling the response
 * itself (later entries and the provider are skipped), or an error status
 * with a message on `err` to refuse.
 *
 * on_response (may be NULL) runs after a successful answer from further
 * down the chain, in reverse order; an error status fails the call.
 *
 * on_complete (may be NULL) runs exactly once for every middleware whose
 * on_request ran, in reverse order, whatever happened. `status` is the final
 * status of the call; resp holds whatever was answered.
 */
typedef struct qf_middleware_vtable {
    uint32_t size; /* sizeof(qf_middleware_vtable) */
    qf_status (*create)(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err);
    void (*destroy)(void *instance);
    qf_status (*on_request)(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err);
    qf_status (*on_response)(void *instance, void **state,
                             const qf_request *req, qf_response *resp,
                             qf_error *err);
    void (*on_complete)(void *instance, void **state, const qf_request *req,
                        const qf_response *resp, qf_status status);
} qf_middleware_vtable;

/* --- Cache backend --------------------------------------------------- */

typedef struct qf_cache_stats {
    uint32_t size; /* sizeof(qf_cache_stats) */
    int64_t entries;
    int64_t bytes;
    int64_t hits;
    int64_t misses;
    int64_t evictions;
    int64_t expirations;
} qf_cache_stats;

/*
 * A cache backend stores opaque values under hex keys. get returns
 * QF_ERR_NOT_FOUND on a miss (expired and corrupt entries included), and on
 * a hit a copy in *value allocated with host->alloc, which the caller frees,
 * plus the entry's creation time. put replaces any entry of the same key
 * atomically; ttl_seconds <= 0 means no expiry. prune removes expired
 * entries and reports how many. All hooks may run concurrently.
 */
typedef struct qf_cache_backend_vtable {
    uint32_t size; /* sizeof(qf_cache_backend_vtable) */
    qf_status (*create)(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err);
    void (*destroy)(void *instance);
    qf_status (*get)(void *instance, const char *key, void **value, size_t *len,
                     int64_t *created_ms, qf_error *err);
    qf_status (*put)(void *instance, const char *key, const void *value,
                     size_t len, int64_t ttl_seconds, qf_error *err);
    qf_status (*remove)(void *instance, const char *key, qf_error *err);
    qf_status (*prune)(void *instance, int64_t *removed, qf_error *err);
    qf_status (*clear)(void *instance, int64_t *removed, qf_error *err);
    qf_status (*stats)(void *instance, qf_cache_stats *out, qf_error *err);
} qf_cache_backend_vtable;

/* --- Descriptor ------------------------------------------------------ */

#define QF_PLUGIN_SERIAL 0x1u /* the host serializes calls per instance */

/* Capability names a provider may list. */
#define QF_CAP_TEXT   "text"
#define QF_CAP_STREAM "stream"
#define QF_CAP_IMAGE  "image"

typedef struct qf_plugin_descriptor {
    uint32_t size;      /* sizeof(qf_plugin_descriptor) of the plugin's SDK */
    uint16_t abi_major; /* QF_ABI_MAJOR */
    uint16_t abi_minor; /* QF_ABI_MINOR */
    uint32_t build_tag; /* QF_BUILD_TAG */
    uint32_t flags;     /* QF_PLUGIN_* */

    const char *id;          /* unique plugin id: [a-z0-9_]+ */
    const char *name;        /* human-readable name */
    const char *version;     /* the plugin's own semantic version */
    const char *description; /* one sentence */
    qf_plugin_kind kind;

    /* NULL-terminated list of capability names, or NULL. */
    const char *const *capabilities;

    const qf_option_spec *options;
    size_t option_count;

    /* Exactly the one matching `kind` is non-NULL. */
    const qf_provider_vtable *provider;
    const qf_middleware_vtable *middleware;
    const qf_cache_backend_vtable *cache_backend;

    /*
     * Extension interfaces, identified by a string with a revision
     * ("qf.cap.stream/1"). Returns NULL for interfaces the plugin lacks.
     * May be NULL. Called only after the handshake succeeded.
     */
    const void *(*get_interface)(const char *interface_id);
} qf_plugin_descriptor;

typedef const qf_plugin_descriptor *(*qf_plugin_entry_fn)(void);

/* Define the exported entry of a plugin from its static descriptor. */
#ifdef __cplusplus
#define QF_PLUGIN_DEFINE(descriptor)                                           \
    extern "C" QF_EXPORT const qf_plugin_descriptor *qf_plugin_entry(void);    \
    extern "C" QF_EXPORT const qf_plugin_descriptor *qf_plugin_entry(void)     \
    {                                                                          \
        return &(descriptor);                                                  \
    }
#else
#define QF_PLUGIN_DEFINE(descriptor)                                           \
    QF_EXPORT const qf_plugin_descriptor *qf_plugin_entry(void);               \
    QF_EXPORT const qf_plugin_descriptor *qf_plugin_entry(void)                \
    {                                                                          \
        return &(descriptor);                                                  \
    }
#endif

/* Fill the fixed header fields of a descriptor. */
#define QF_DESCRIPTOR_HEADER                                                   \
    sizeof(qf_plugin_descriptor), QF_ABI_MAJOR, QF_ABI_MINOR, QF_BUILD_TAG

#ifdef __cplusplus
}
#endif

#endif /* QF_PLUGIN_H */

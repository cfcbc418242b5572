/*
 * qf/host.h - the host services vtable handed to every plugin.
 *
 * A plugin links nothing from the host: logging, allocation, errors, typed
 * configuration, request and response accessors, hashing, canonical JSON,
 * the clock, pricing and cache backends all come through this table. A test
 * can hand a plugin a fake table.
 *
 * Ownership: a `const char *` returned by an accessor belongs to the object
 * it was read from and stays valid until that object is changed or freed.
 * A `char **out` result is allocated with host->alloc and freed by the caller
 * with host->free. Strings are UTF-8; buffers are pointer plus length.
 *
 * Threads: every function may be called from any thread. Functions that take
 * a request, response or error handle must not be called concurrently on the
 * same handle. The host never hands one handle to two threads at once.
 */
#ifndef QF_HOST_H
#define QF_HOST_H

#include <stdarg.h>

#include "qf/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct qf_cache_backend_vtable;

/*
 * A stream tap sees every text chunk of a streamed response on its way to
 * the caller. Returning an error status stops the stream and fails the
 * request with that status. `user` is passed back unchanged and is owned by
 * whoever added the tap; it must stay valid until the request completes.
 */
typedef struct qf_stream_tap {
    uint32_t size; /* sizeof(qf_stream_tap) */
    qf_status (*on_delta)(void *user, const char *text, size_t len);
    void *user;
} qf_stream_tap;

typedef struct qf_host {
    uint32_t size; /* sizeof(qf_host) of the host; fields past it are absent */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* --- Memory. Anything the host returns through `char **out` and anything
     * a plugin hands the host to own is allocated with these. */
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);

    /* --- Logging. One line per call, prefixed with the instance name. The
     * level is checked before formatting; never pass a secret. */
    int (*log_enabled)(const qf_context *ctx, qf_log_level level);
    void (*log)(const qf_context *ctx, qf_log_level level, const char *fmt, ...)
        QF_PRINTF(3, 4);

    /* --- Errors. error_set records status and message and returns status,
     * so `return host->error_set(err, QF_ERR_INVALID, "...")` reads well.
     * The message says what failed, on which value, and what to do. Every
     * error function accepts a NULL err and then only returns the status. */
    qf_status (*error_set)(qf_error *err, qf_status status, const char *fmt,
                           ...) QF_PRINTF(3, 4);
    void (*error_set_http_status)(qf_error *err, int http_status);
    void (*error_set_retry_after_ms)(qf_error *err, int64_t milliseconds);
    qf_status (*error_status)(const qf_error *err);
    const char *(*error_message)(const qf_error *err);

    /* --- Instance context: valid from create until destroy returns. */
    const char *(*context_name)(const qf_context *ctx);
    const char *(*context_state_dir)(const qf_context *ctx);

    /*
     * Typed configuration of the instance. `path` is dotted
     * ("timeout.connect_seconds"). Returns QF_ERR_NOT_FOUND without touching
     * `err` when the key is absent, QF_ERR_CONFIG with a message naming
     * FILE:LINE:COLUMN and the key when it is present but unusable (wrong
     * type, unset ${VAR}). Strings stay valid until the instance is
     * destroyed. config_json returns the subtree as JSON text in *out.
     */
    qf_status (*config_string)(const qf_context *ctx, const char *path,
                               const char **out, qf_error *err);
    qf_status (*config_int)(const qf_context *ctx, const char *path,
                            int64_t *out, qf_error *err);
    qf_status (*config_double)(const qf_context *ctx, const char *path,
                               double *out, qf_error *err);
    qf_status (*config_bool)(const qf_context *ctx, const char *path, int *out,
                             qf_error *err);
    qf_status (*config_json)(const qf_context *ctx, const char *path,
                             char **out, qf_error *err);

    /* --- Clock. Tests may replace it; plugins must not read the system
     * clock or sleep directly. */
    int64_t (*now_ms)(const qf_context *ctx);       /* UTC, since the epoch */
    int64_t (*monotonic_ns)(const qf_context *ctx); /* for intervals */
    void (*sleep_ms)(const qf_context *ctx, int64_t milliseconds);

    /* --- Hashing and JSON. json_canonicalize sorts object keys at every
     * depth, writes numbers in one form (1 and 1.0 are equal) and drops
     * insignificant whitespace. */
    void (*sha256)(const void *data, size_t len, uint8_t out[32]);
    qf_status (*json_canonicalize)(const char *json, size_t len, char **out,
                                   size_t *out_len, qf_error *err);

    /* --- Request accessors. Params are generation parameters under their
     * OpenAI names; options are provider-native options. Values are JSON
     * text: request_param returns NULL when absent, request_set_param takes
     * NULL to remove. *_json returns the whole object as JSON text. */
    const char *(*request_id)(const qf_request *req);
    qf_request_kind (*request_kind)(const qf_request *req);
    const char *(*request_role)(const qf_request *req);
    const char *(*request_provider)(const qf_request *req);
    const char *(*request_model)(const qf_request *req);
    qf_status (*request_set_model)(qf_request *req, const char *model);
    size_t (*request_message_count)(const qf_request *req);
    qf_status (*request_message)(const qf_request *req, size_t index,
                                 const char **role, const char **content,
                                 size_t *content_len);
    qf_status (*request_insert_message)(qf_request *req, size_t index,
                                        const char *role, const char *content,
                                        size_t content_len);
    const char *(*request_params_json)(const qf_request *req);
    const char *(*request_param)(const qf_request *req, const char *name);
    qf_status (*request_param_number)(const qf_request *req, const char *name,
                                      double *out);
    qf_status (*request_set_param)(qf_request *req, const char *name,
                                   const char *json_value);
    const char *(*request_options_json)(const qf_request *req);
    const char *(*request_option)(const qf_request *req, const char *name);
    qf_status (*request_set_option)(qf_request *req, const char *name,
                                    const char *json_value);
    int (*request_stream)(const qf_request *req);
    int (*request_stream_usage)(const qf_request *req);
    unsigned (*request_cache_flags)(const qf_request *req);
    /* A setting of the provider instance that will serve the request, such
     * as "base_url". Returns NULL for absent keys and for secrets. */
    const char *(*request_provider_setting)(const qf_request *req,
                                            const char *key);

    /* --- Response accessors. */
    qf_status (*response_set_text)(qf_response *resp, const char *text,
                                   size_t len);
    const char *(*response_text)(const qf_response *resp, size_t *len);
    qf_status (*response_set_finish_reason)(qf_response *resp,
                                            const char *reason);
    const char *(*response_finish_reason)(const qf_response *resp);
    void (*response_set_usage)(qf_response *resp, const qf_usage *usage);
    void (*response_usage)(const qf_response *resp, qf_usage *out);
    qf_status (*response_add_image)(qf_response *resp, const void *bytes,
                                    size_t len, const char *mime);
    size_t (*response_image_count)(const qf_response *resp);
    qf_status (*response_image)(const qf_response *resp, size_t index,
                                const void **bytes, size_t *len,
                                const char **mime);
    void (*response_set_cache_hit)(qf_response *resp, int hit,
                                   int64_t age_seconds);
    int (*response_cache_hit)(const qf_response *resp, int64_t *age_seconds);
    qf_status (*response_set_model)(qf_response *resp, const char *model);
    const char *(*response_model)(const qf_response *resp);

    /*
     * --- Streaming. A provider serving a streamed request passes each text
     * chunk to stream_write, which appends it to the response text, hands it
     * to every tap and then to the caller's sink. A non-OK result means the
     * caller or a tap stopped the stream: return it. A middleware that
     * answers a streamed request early may replay its text the same way;
     * when it does not, the host sends the whole text as one chunk.
     * stream_add_tap is for middleware in on_request; the newest tap (the
     * one nearest the provider) sees each chunk first.
     */
    qf_status (*stream_write)(qf_response *resp, const char *text, size_t len);
    qf_status (*stream_add_tap)(qf_response *resp, const qf_stream_tap *tap);

    /*
     * --- Pricing. price_lookup returns QF_ERR_NOT_FOUND for a model without
     * a price. cost_compute prices usage and images of `model`: cached tokens
     * are a subset of prompt tokens, priced at the cached rate. An unpriced
     * model costs 0 and sets *unpriced.
     */
    qf_status (*price_lookup)(const qf_context *ctx, const char *model,
                              qf_price *out);
    qf_status (*cost_compute)(const qf_context *ctx, const char *model,
                              const qf_usage *usage, int64_t images,
                              double *usd, int *unpriced);

    /*
     * --- Cache backends. Returns the instance of cache backend plugin
     * `plugin_id` configured with this instance's settings; instances with
     * identical settings are shared. The host owns the instance and destroys
     * it after every user is destroyed.
     */
    qf_status (*cache_backend_open)(
        const qf_context *ctx, const char *plugin_id,
        const struct qf_cache_backend_vtable **vtable, void **instance,
        qf_error *err);
} qf_host;

#ifdef __cplusplus
}
#endif

#endif /* QF_HOST_H */

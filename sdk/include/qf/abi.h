/*
 * qf/abi.h - versions, status codes and opaque handle types of the
 * QuestFoundry plugin ABI.
 *
 * Everything a plugin shares with the host is declared under sdk/include/qf/.
 * Structs that cross the boundary start with their size and only grow at the
 * end; a reader treats fields past that size as absent.
 */
#ifndef QF_ABI_H
#define QF_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI major: must match exactly. ABI minor: a plugin built for a newer minor
 * than the host's is rejected; an older one is accepted. */
#define QF_ABI_MAJOR 1
#define QF_ABI_MINOR 0

/* Revision of the calling convention and struct layout rules. Changing it
 * invalidates every plugin even within one major version. */
#define QF_ABI_REVISION 1

/* Build tag: pointer width in bits (high 16 bits) and ABI revision (low 16
 * bits). A plugin whose tag differs from the host's is rejected. */
#define QF_BUILD_TAG                                                           \
    ((uint32_t)((sizeof(void *) * 8u) << 16) | (uint32_t)QF_ABI_REVISION)

/* Name of the one symbol every plugin exports. */
#define QF_PLUGIN_ENTRY_SYMBOL "qf_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define QF_EXPORT            __attribute__((visibility("default")))
#define QF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define QF_EXPORT
#define QF_PRINTF(fmt, args)
#endif

/*
 * One status enum across host and plugins. The human-readable message that
 * goes with a failure is set on a qf_error handle (see qf/host.h).
 * QF_ANSWERED is not a failure: a middleware returns it from on_request when
 * it filled the response itself.
 */
typedef enum qf_status {
    QF_OK = 0,
    QF_ANSWERED = 1,

    QF_ERR_INVALID = -1,       /* invalid argument, request or value */
    QF_ERR_NOMEM = -2,         /* allocation failed */
    QF_ERR_NOT_FOUND = -3,     /* key, plugin, role or entry not found */
    QF_ERR_UNSUPPORTED = -4,   /* capability not implemented by the plugin */
    QF_ERR_IO = -5,            /* file system or database failure */
    QF_ERR_CONFIG = -6,        /* configuration value missing or invalid */
    QF_ERR_ABI = -7,           /* plugin rejected by the ABI handshake */
    QF_ERR_UPSTREAM = -8,      /* upstream answered with an error status */
    QF_ERR_CONNECT = -9,       /* upstream unreachable or connection dropped */
    QF_ERR_TIMEOUT = -10,      /* connect or total timeout expired */
    QF_ERR_PROTOCOL = -11,     /* upstream body could not be parsed */
    QF_ERR_STREAM_CUT = -12,   /* stream ended before its terminal event */
    QF_ERR_RATE_LIMITED = -13, /* a request or token rate limit refused */
    QF_ERR_BUDGET = -14,       /* a cost budget refused */
    QF_ERR_REFUSED = -15,      /* a middleware refused for another reason */
    QF_ERR_TOO_LARGE =
        -16, /* a body or value exceeded its configured maximum */
    QF_ERR_CANCELLED = -17, /* the caller's stream sink stopped the request */
    QF_ERR_INTERNAL = -18   /* broken invariant; a bug */
} qf_status;

/* Opaque handles. Their layout is not part of the ABI; reach them through
 * the accessors of the host services vtable. */
typedef struct qf_request qf_request;   /* one model request */
typedef struct qf_response qf_response; /* its response */
typedef struct qf_error qf_error;       /* status plus message, per call */
typedef struct qf_context qf_context;   /* one plugin instance's host side */

/* Plugin kinds. */
typedef enum qf_plugin_kind {
    QF_KIND_PROVIDER = 1,
    QF_KIND_MIDDLEWARE = 2,
    QF_KIND_CACHE_BACKEND = 3
} qf_plugin_kind;

/* Log levels, most severe first. */
typedef enum qf_log_level {
    QF_LOG_ERROR = 0,
    QF_LOG_WARN = 1,
    QF_LOG_INFO = 2,
    QF_LOG_DEBUG = 3,
    QF_LOG_TRACE = 4
} qf_log_level;

/*
 * Token usage of one call. cached_tokens is a subset of prompt_tokens.
 * estimated is non-zero when any count was estimated rather than reported
 * by the upstream.
 */
typedef struct qf_usage {
    uint32_t size; /* sizeof(qf_usage) of the writer */
    int64_t prompt_tokens;
    int64_t cached_tokens;
    int64_t completion_tokens;
    int32_t estimated;
} qf_usage;

/* Price of one model in US dollars. Fields the price table leaves out are
 * negative. */
typedef struct qf_price {
    uint32_t size;
    double input_per_million;
    double cached_input_per_million;
    double output_per_million;
    double per_image;
} qf_price;

/* Cache bypass flags carried by a request (qf_host.request_cache_flags). */
#define QF_CACHE_NO_READ  0x1u /* do not answer from the cache ("no-cache") */
#define QF_CACHE_NO_STORE 0x2u /* do not store the response ("no-store") */

/* Work kinds of a request. */
typedef enum qf_request_kind {
    QF_REQUEST_TEXT = 1,
    QF_REQUEST_IMAGE = 2
} qf_request_kind;

#ifdef __cplusplus
}
#endif

#endif /* QF_ABI_H */

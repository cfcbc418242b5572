/*
 * cache_record.h - the value the cache middleware stores for one response.
 *
 * Layout: a JSON object, one NUL byte, then the bytes of every image in
 * order. The object is
 *   {"format":1,"text":"...","finish_reason":"stop","model":"...",
 *    "created_ms":N,"usage":{"prompt_tokens":N,"cached_tokens":N,
 *    "completion_tokens":N,"estimated":0},
 *    "images":[{"mime":"image/png","bytes":N}]}
 * Nothing from the request is stored, so no credential can reach it.
 */
#ifndef QF_CACHE_RECORD_H
#define QF_CACHE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "qf/host.h"

#define QF_CACHE_RECORD_FORMAT 1

typedef struct qf_cache_image {
    const uint8_t *bytes; /* points into the parsed buffer */
    size_t len;
    char *mime; /* malloc'd */
} qf_cache_image;

/* A parsed record. Strings are malloc'd; free with qf_cache_record_clear. */
typedef struct qf_cache_record {
    int format;
    char *text;
    size_t text_len;
    char *finish_reason; /* NULL when the response had none */
    char *model;         /* NULL when the response had none */
    int64_t created_ms;
    qf_usage usage;
    size_t image_count;
    qf_cache_image *images;
} qf_cache_record;

/*
 * Serialize `resp` (text, finish reason, model, usage, images) with
 * creation time `created_ms` into *out (host->alloc; the caller frees).
 */
qf_status qf_cache_record_encode(const qf_host *host, const qf_response *resp,
                                 int64_t created_ms, uint8_t **out,
                                 size_t *len);

/*
 * Parse `len` bytes into *out. Pure: any byte string is a valid input.
 * Returns QF_OK or QF_ERR_PROTOCOL with a static reason in *reason.
 */
qf_status qf_cache_record_parse(const uint8_t *buf, size_t len,
                                qf_cache_record *out, const char **reason);
void qf_cache_record_clear(qf_cache_record *rec);

#endif /* QF_CACHE_RECORD_H */

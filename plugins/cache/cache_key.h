/*
 * cache_key.h - the cache key of a request: SHA-256 (hex) of the canonical
 * JSON of everything the provider will send upstream.
 */
#ifndef QF_CACHE_KEY_H
#define QF_CACHE_KEY_H

#include "qf/host.h"

/* Version of the key schema; raising it makes every old entry a miss. */
#define QF_CACHE_KEY_VERSION 1

/*
 * Compute the key of `req` into `key` (64 hex digits and a NUL). When
 * `canonical` is not NULL it receives the hashed canonical JSON, allocated
 * with host->alloc; the caller frees it. Reentrant; the request must not
 * change meanwhile.
 */
qf_status qf_cache_key_build(const qf_host *host, const qf_request *req,
                             char key[65], char **canonical, qf_error *err);

#endif /* QF_CACHE_KEY_H */

/*
 * simhttp.h - a libcurl client for the qf-sim suites: one request, with the
 * status, the curl result, the body, the raw response headers and the
 * number of write callbacks captured for the checks.
 */
#ifndef QF_SIMHTTP_H
#define QF_SIMHTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "testutil.h"

struct sim_http {
    CURLcode code; /* curl's result; CURLE_PARTIAL_FILE for a cut body */
    long status;   /* HTTP status, 0 when none arrived */
    char *body;    /* NUL-terminated, malloc'd */
    size_t body_len;
    char *headers; /* raw header lines, NUL-terminated, malloc'd */
    size_t headers_len;
    int writes; /* write callbacks, one per piece curl received */
};

/*
 * Send METHOD base_url+path with `headers` ("Name: value", NULL-terminated,
 * may be NULL) and `body` (may be NULL) on `curl`, a handle the caller
 * keeps for connection reuse, or on a fresh handle when `curl` is NULL.
 * Fills `out`; free it with sim_http_free.
 */
void sim_http_send(CURL *curl, const qf_test_sim *sim, const char *method,
                   const char *path, const char *const headers[],
                   const char *body, struct sim_http *out);

/* The value of response header `name` (case-insensitive), malloc'd. */
char *sim_http_header(const struct sim_http *res, const char *name);

void sim_http_free(struct sim_http *res);

#endif /* QF_SIMHTTP_H */

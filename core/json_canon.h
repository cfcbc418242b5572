/*
 * json_canon.h - canonical JSON: object keys sorted by byte order at every
 * depth, numbers in one form, no insignificant whitespace. Two documents
 * that differ only in key order, number spelling (1, 1.0, 1e0) or spacing
 * canonicalize to the same bytes.
 */
#ifndef QF_CORE_JSON_CANON_H
#define QF_CORE_JSON_CANON_H

#include <cjson/cJSON.h>

#include "qf/abi.h"

/* Canonical text of a parsed value; malloc'd, caller frees. NULL on
 * allocation failure. */
char *qf_json_canonical(const cJSON *value);

/* Parse `json` (len bytes) and return its canonical text in *out. */
qf_status qf_json_canonicalize(const char *json, size_t len, char **out,
                               size_t *out_len, qf_error *err);

#endif /* QF_CORE_JSON_CANON_H */

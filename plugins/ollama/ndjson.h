/*
 * ndjson.h - incremental reader of newline-delimited JSON, as Ollama
 * streams it: one JSON object per line.
 *
 * The reader is pure: it takes bytes in pieces of any size, calls a
 * callback for every complete object and needs neither the host nor the
 * network, so a fuzz target can drive it. Lines are cut at '\n'; a '\r'
 * before it and blank lines are ignored, and a last line without '\n' is
 * handled by qf_ndjson_finish. A line {"error": ...} stops the reader with
 * QF_ERR_UPSTREAM and the upstream message.
 *
 * Threads: one reader belongs to one thread at a time.
 */
#ifndef QF_OLLAMA_NDJSON_H
#define QF_OLLAMA_NDJSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "qf/abi.h"

/* Called once per object line. `frame` belongs to the reader and is freed
 * after the call returns. A non-OK result stops the reader; later calls of
 * qf_ndjson_feed and qf_ndjson_finish return the same status. */
typedef qf_status (*qf_ndjson_frame_fn)(void *user, const cJSON *frame);

typedef struct qf_ndjson {
    char *line; /* bytes of the unfinished line (malloc'd) */
    size_t line_len;
    size_t line_cap;
    size_t max_line; /* longest accepted line in bytes, '\n' excluded */
    size_t line_no;  /* 1-based number of the line being read */
    qf_ndjson_frame_fn on_frame;
    void *user;
    qf_status status; /* sticky: the first failure */
    char message[512];
} qf_ndjson;

/* Set up a reader. `max_line` of 0 means no limit. */
void qf_ndjson_init(qf_ndjson *reader, size_t max_line,
                    qf_ndjson_frame_fn on_frame, void *user);

/* Free the reader's buffer; the struct may be initialised again. */
void qf_ndjson_deinit(qf_ndjson *reader);

/*
 * Feed `len` bytes. Returns QF_OK, or the sticky failure: QF_ERR_PROTOCOL
 * for a line that is not a JSON object, QF_ERR_TOO_LARGE for a line longer
 * than max_line, QF_ERR_UPSTREAM for an error line, QF_ERR_NOMEM, or the
 * callback's own status. The message is in qf_ndjson_message.
 */
qf_status qf_ndjson_feed(qf_ndjson *reader, const char *data, size_t len);

/* Handle the last line when the input did not end with '\n'. Call once at
 * the end of input. */
qf_status qf_ndjson_finish(qf_ndjson *reader);

/* Message of the failure, "" when none or when the callback failed. */
const char *qf_ndjson_message(const qf_ndjson *reader);

#endif /* QF_OLLAMA_NDJSON_H */

/*
 * sse.h - an incremental parser for server-sent events (the text/event-stream
 * format of the WHATWG HTML standard, section 9.2).
 *
 * The parser holds no socket and no clock: it is fed byte chunks split at
 * any boundary (inside a CR LF pair or a UTF-8 sequence included) and calls
 * back once per complete event. This makes it usable from a libcurl write
 * callback and from a fuzz target alike.
 *
 * Threads: one parser belongs to one stream; it is not locked.
 */
#ifndef QF_OPENAI_SSE_H
#define QF_OPENAI_SSE_H

#include <stddef.h>

#include "qf/abi.h"

typedef struct qf_sse_parser qf_sse_parser;

/* One dispatched event. `event` is the value of the last "event:" line, or
 * "message" when there was none. `data` is every "data:" line of the event
 * joined with "\n", NUL-terminated, without the final line end. `id` is the
 * last event id seen on the stream, or "". All three belong to the parser
 * and stay valid only during the callback. */
typedef struct qf_sse_event {
    const char *event;
    const char *data;
    size_t data_len;
    const char *id;
} qf_sse_event;

/* Called once per event. A status other than QF_OK stops the parser: feed
 * returns that status and the parser accepts no more input. */
typedef qf_status (*qf_sse_event_fn)(void *user, const qf_sse_event *event);

/* Create a parser that rejects any line or event longer than `max_bytes`
 * with QF_ERR_TOO_LARGE. Returns NULL when out of memory. Free with
 * qf_sse_parser_destroy. */
qf_sse_parser *qf_sse_parser_create(size_t max_bytes);
void qf_sse_parser_destroy(qf_sse_parser *parser);

/* Forget all buffered input and the last event id, as for a new stream. */
void qf_sse_parser_reset(qf_sse_parser *parser);

/*
 * Parse `len` bytes and call `on_event` for each event they complete.
 * Returns QF_OK, the first non-OK status of the callback, QF_ERR_TOO_LARGE
 * for an oversized line or event, or QF_ERR_NOMEM. After a failure every
 * later call returns the same status.
 */
qf_status qf_sse_parser_feed(qf_sse_parser *parser, const char *bytes,
                             size_t len, qf_sse_event_fn on_event, void *user);

/*
 * Signal the end of the stream. A final line without its line end is
 * dropped, as the standard requires. An event whose lines were all complete but
 * whose closing blank line never came is dispatched, because some servers
 * close the connection right after "data: [DONE]\n".
 */
qf_status qf_sse_parser_finish(qf_sse_parser *parser, qf_sse_event_fn on_event,
                               void *user);

#endif /* QF_OPENAI_SSE_H */

/*
 * error.h - the host's concrete qf_error: a status, a message and the
 * upstream details (HTTP status, requested wait) that travel with it.
 *
 * One qf_error belongs to one call or one operation; it is never shared
 * between threads. Messages are truncated at QF_ERROR_MESSAGE_MAX bytes.
 */
#ifndef QF_CORE_ERROR_H
#define QF_CORE_ERROR_H

#include <stdarg.h>

#include "qf/abi.h"

#define QF_ERROR_MESSAGE_MAX 1024

struct qf_error {
    qf_status status;
    int http_status; /* upstream HTTP status, 0 when none */
    int64_t
        retry_after_ms; /* wait after which a retry may pass, -1 when none */
    char message[QF_ERROR_MESSAGE_MAX];
};

/* Reset to QF_OK with an empty message. */
void qf_error_init(qf_error *err);

/* Record status and a printf-style message; returns status. err may be NULL. */
qf_status qf_error_set(qf_error *err, qf_status status, const char *fmt, ...)
    QF_PRINTF(3, 4);
qf_status qf_error_setv(qf_error *err, qf_status status, const char *fmt,
                        va_list ap);

#ifdef __clang_analyzer__
/* Tell the static analyzer that qf_error_set returns its status argument;
 * it cannot see error.c from other files and otherwise assumes a failure
 * path may return QF_OK. Analysis builds only. */
#define qf_error_set(err, status, ...)                                         \
    (qf_error_set((err), (status), __VA_ARGS__), (status))
#endif

/* Put "prefix: " in front of the current message, keeping status. */
void qf_error_prefix(qf_error *err, const char *fmt, ...) QF_PRINTF(2, 3);

/* Short stable name of a status ("rate_limited"), for logs and JSON. */
const char *qf_status_name(qf_status status);

/* Exit code of the qf tool for a status: 0 success, 1 other failure,
 * 2 usage or configuration error, 3 rate limited, 4 budget exceeded,
 * 5 upstream error. */
int qf_status_exit_code(qf_status status);

#endif /* QF_CORE_ERROR_H */

/*
 * error.c - status names, exit codes and message formatting for qf_error.
 */
#include "error.h"

#include <stdio.h>
#include <string.h>

void qf_error_init(qf_error *err)
{
    err->status = QF_OK;
    err->http_status = 0;
    err->retry_after_ms = -1;
    err->message[0] = '\0';
}

qf_status qf_error_setv(qf_error *err, qf_status status, const char *fmt,
                        va_list ap)
{
    if (err == NULL)
        return status;
    err->status = status;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    return status;
}

qf_status(qf_error_set)(qf_error *err, qf_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qf_error_setv(err, status, fmt, ap);
    va_end(ap);
    return status;
}

void qf_error_prefix(qf_error *err, const char *fmt, ...)
{
    char joined[QF_ERROR_MESSAGE_MAX];
    size_t used, rest;
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(joined, sizeof(joined), fmt, ap);
    va_end(ap);

    used = strlen(joined);
    if (used > sizeof(joined) - 3)
        used = sizeof(joined) - 3;
    rest = strlen(err->message);
    if (used + 2 + rest >= sizeof(joined))
        rest = sizeof(joined) - used - 3;
    memmove(err->message + used + 2, err->message, rest);
    memcpy(err->message, joined, used);
    memcpy(err->message + used, ": ", 2);
    err->message[used + 2 + rest] = '\0';
}

const char *qf_status_name(qf_status status)
{
    switch (status) {
    case QF_OK: return "ok";
    case QF_ANSWERED: return "answered";
    case QF_ERR_INVALID: return "invalid";
    case QF_ERR_NOMEM: return "out_of_memory";
    case QF_ERR_NOT_FOUND: return "not_found";
    case QF_ERR_UNSUPPORTED: return "unsupported";
    case QF_ERR_IO: return "io";
    case QF_ERR_CONFIG: return "config";
    case QF_ERR_ABI: return "abi";
    case QF_ERR_UPSTREAM: return "upstream";
    case QF_ERR_CONNECT: return "connect";
    case QF_ERR_TIMEOUT: return "timeout";
    case QF_ERR_PROTOCOL: return "protocol";
    case QF_ERR_STREAM_CUT: return "stream_cut";
    case QF_ERR_RATE_LIMITED: return "rate_limited";
    case QF_ERR_BUDGET: return "budget_exceeded";
    case QF_ERR_REFUSED: return "refused";
    case QF_ERR_TOO_LARGE: return "too_large";
    case QF_ERR_CANCELLED: return "cancelled";
    case QF_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}

int qf_status_exit_code(qf_status status)
{
    switch (status) {
    case QF_OK:
    case QF_ANSWERED: return 0;
    case QF_ERR_CONFIG:
    case QF_ERR_INVALID: return 2;
    case QF_ERR_RATE_LIMITED: return 3;
    case QF_ERR_BUDGET: return 4;
    case QF_ERR_UPSTREAM:
    case QF_ERR_CONNECT:
    case QF_ERR_TIMEOUT:
    case QF_ERR_PROTOCOL:
    case QF_ERR_STREAM_CUT: return 5;
    default: return 1;
    }
}

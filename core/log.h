/*
 * log.h - the one logging facility of host and plugins.
 *
 * One line per event on stderr: "qf: LEVEL [prefix] message". The level is
 * checked before formatting. The same message from the same prefix repeated
 * within one second is counted, not printed, and the count is reported with
 * the next line that gets through.
 */
#ifndef QF_CORE_LOG_H
#define QF_CORE_LOG_H

#include <stdarg.h>

#include "qf/abi.h"

/* Set the threshold: QF_LOG (error|warn|info|debug|trace) if set, else
 * warn raised by `verbosity` steps. */
void qf_log_setup_from_env(int verbosity);
void qf_log_set_level(qf_log_level level);
qf_log_level qf_log_get_level(void);

/* Parse a level name; returns -1 for an unknown name. */
int qf_log_level_parse(const char *name);

static inline int qf_log_enabled(qf_log_level level)
{
    extern int qf_log_threshold;
    return (int)level <= qf_log_threshold;
}

/* Log one line; `prefix` (may be NULL) is the plugin instance or module. */
void qf_log(qf_log_level level, const char *prefix, const char *fmt, ...)
    QF_PRINTF(3, 4);
void qf_logv(qf_log_level level, const char *prefix, const char *fmt,
             va_list ap);

#endif /* QF_CORE_LOG_H */

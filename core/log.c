/*
 * log.c - leveled, rate-limited logging to stderr.
 *
 * Repeats are detected by the hash of the formatted line in a small table;
 * the same line printed less than a second ago is counted and suppressed,
 * so a loop failing the same way cannot flood the log while distinct
 * messages (another id, another wait) all get through.
 */
#include "log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define REPEAT_SLOTS 64

int qf_log_threshold = QF_LOG_WARN;

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

typedef struct repeat_slot {
    uint64_t hash; /* FNV-1a of the formatted line */
    time_t last;
    unsigned suppressed;
} repeat_slot;

static repeat_slot repeats[REPEAT_SLOTS];
static pthread_mutex_t repeat_lock = PTHREAD_MUTEX_INITIALIZER;

int qf_log_level_parse(const char *name)
{
    for (int i = 0; i <= QF_LOG_TRACE; i++) {
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    }
    return -1;
}

void qf_log_set_level(qf_log_level level)
{
    qf_log_threshold = (int)level;
}

qf_log_level qf_log_get_level(void)
{
    return (qf_log_level)qf_log_threshold;
}

void qf_log_setup_from_env(int verbosity)
{
    const char *env = getenv("QF_LOG");
    int level = QF_LOG_WARN + verbosity;

    if (env != NULL && env[0] != '\0') {
        int parsed = qf_log_level_parse(env);

        if (parsed >= 0)
            level = parsed;
        else
            fprintf(stderr,
                    "qf: warn [log] QF_LOG=%s is not a level; expected error, "
                    "warn, info, debug or trace\n",
                    env);
    }
    if (level > QF_LOG_TRACE)
        level = QF_LOG_TRACE;
    qf_log_threshold = level;
}

static uint64_t hash_line(const char *line)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *c = line; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

/* Returns the number of suppressed repeats to report, or -1 to drop. */
static long check_repeat(const char *line)
{
    uint64_t hash = hash_line(line);
    repeat_slot *s = &repeats[hash % REPEAT_SLOTS];
    time_t now = time(NULL);
    long report;

    pthread_mutex_lock(&repeat_lock);
    if (s->hash == hash && now - s->last < 1) {
        s->suppressed++;
        report = -1;
    } else {
        report = (long)s->suppressed;
        s->hash = hash;
        s->last = now;
        s->suppressed = 0;
    }
    pthread_mutex_unlock(&repeat_lock);
    return report;
}

void qf_logv(qf_log_level level, const char *prefix, const char *fmt,
             va_list ap)
{
    char line[2048];
    long suppressed;
    int n;

    if (!qf_log_enabled(level))
        return;
    n = snprintf(line, sizeof(line), "qf: %s [%s] ", level_names[level],
                 prefix ? prefix : "host");
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);

    suppressed = check_repeat(line);
    if (suppressed < 0)
        return;
    if (suppressed > 0)
        fprintf(stderr, "%s (%ld similar lines suppressed)\n", line,
                suppressed);
    else
        fprintf(stderr, "%s\n", line);
}

void qf_log(qf_log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qf_logv(level, prefix, fmt, ap);
    va_end(ap);
}

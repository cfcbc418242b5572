/*
 * serve_log.c - the access log: one line per request on stderr, or
 * appended to the file `gateway.access_log` names. Fields are key=value
 * pairs: UTC time, client key id (never the key), endpoint, role, status,
 * tokens, cost, cache hit and duration. Lines are written whole under a
 * lock so concurrent requests never interleave.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "serve_internal.h"

struct serve_access_log {
    pthread_mutex_t lock;
    FILE *file;
    int owned;
};

serve_access_log *serve_access_log_open(const char *path, qf_error *err)
{
    serve_access_log *log = calloc(1, sizeof(*log));

    if (log == NULL) {
        qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&log->lock, NULL);
    log->file = stderr;
    if (path != NULL) {
        log->file = fopen(path, "a");
        log->owned = 1;
    }
    if (log->file == NULL) {
        qf_error_set(err, QF_ERR_IO,
                     "cannot open access log %s: %s; fix gateway.access_log "
                     "or the folder's permissions",
                     path, strerror(errno));
        pthread_mutex_destroy(&log->lock);
        free(log);
        return NULL;
    }
    return log;
}

void serve_access_log_close(serve_access_log *log)
{
    if (log == NULL)
        return;
    if (log->owned)
        fclose(log->file);
    pthread_mutex_destroy(&log->lock);
    free(log);
}

static void format_time(char *out, size_t size)
{
    struct timeval tv;
    struct tm tm;
    char seconds[32];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", seconds, (int)(tv.tv_usec / 1000));
}

void serve_access_log_write(serve_access_log *log, const serve_call *call,
                            double seconds)
{
    const serve_result *r = call->job ? serve_job_result(call->job) : NULL;
    qf_usage none = {sizeof(none), 0, 0, 0, 0};
    const qf_usage *u = r ? &r->usage : &none;
    const char *cache = "-";
    char when[40];

    if (r != NULL)
        cache = r->cache_hit ? "hit" : "miss";
    format_time(when, sizeof(when));
    pthread_mutex_lock(&log->lock);
    fprintf(log->file,
            "%s key=%s endpoint=%s role=%s status=%d prompt_tokens=%lld "
            "completion_tokens=%lld cached_tokens=%lld cost_usd=%.6f "
            "cache=%s duration_ms=%.3f%s%s\n",
            when, call->key ? call->key->id : "-", call->endpoint,
            call->role[0] ? call->role : "-", call->status,
            (long long)u->prompt_tokens, (long long)u->completion_tokens,
            (long long)u->cached_tokens, r ? r->cost_usd : 0.0, cache,
            seconds * 1000, call->error_code ? " error=" : "",
            call->error_code ? call->error_code : "");
    fflush(log->file);
    pthread_mutex_unlock(&log->lock);
}

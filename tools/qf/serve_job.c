/*
 * serve_job.c - one chat or image request running on a worker thread.
 *
 * A pool worker calls qf_runtime_run. For a streamed request its sink
 * turns each text chunk into an OpenAI chat.completion.chunk event and
 * appends it to a byte queue under the job's lock. libmicrohttpd's content
 * reader, on the connection's thread, waits on a condition variable and
 * drains that queue. The job is reference counted: the worker, the HTTP call
 * and the streamed response each hold one, and the last release frees it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "serve_internal.h"

struct serve_job {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    serve_server *server;
    serve_generation *gen;
    const qf_host *host;
    qf_request *req;
    qf_response *resp;
    qf_error err;
    qf_status status;
    int done;
    int stream;
    int include_usage;
    int abandoned; /* the client is gone or timed out: stop the stream */
    int ended;     /* no more bytes will be queued */
    int chunks;    /* text chunks queued so far */
    char id[80];
    int64_t created;
    char *model;
    char role[128];
    char *out; /* queued SSE bytes, out[pos..len) unread */
    size_t len, pos, cap;
    int64_t deadline_ns; /* streamed responses end here */
    serve_result result;
};

static void job_free(serve_job *job)
{
    qf_response_free(job->resp);
    qf_request_free(job->req);
    serve_generation_release(job->gen);
    atomic_fetch_sub(&job->server->active, 1);
    pthread_mutex_destroy(&job->lock);
    pthread_cond_destroy(&job->cond);
    free(job->model);
    free(job->out);
    free(job);
}

void serve_job_release(serve_job *job)
{
    int last;

    if (job == NULL)
        return;
    pthread_mutex_lock(&job->lock);
    last = --job->refs == 0;
    pthread_mutex_unlock(&job->lock);
    if (last)
        job_free(job);
}

/* --- The SSE queue (job->lock held) ----------------------------------- */

static int queue_bytes(serve_job *job, const char *bytes, size_t n)
{
    if (job->len + n > job->cap) {
        size_t cap = job->cap ? job->cap * 2 : 1024;
        char *grown;

        while (cap < job->len + n)
            cap *= 2;
        grown = realloc(job->out, cap);
        if (grown == NULL)
            return -1;
        job->out = grown;
        job->cap = cap;
    }
    memcpy(job->out + job->len, bytes, n);
    job->len += n;
    return 0;
}

/* Queue "data: JSON\n\n" and free `event`. */
static int queue_event(serve_job *job, cJSON *event)
{
    char *text = event ? cJSON_PrintUnformatted(event) : NULL;
    int rc = -1;

    if (text != NULL && queue_bytes(job, "data: ", 6) == 0 &&
        queue_bytes(job, text, strlen(text)) == 0 &&
        queue_bytes(job, "\n\n", 2) == 0)
        rc = 0;
    free(text);
    cJSON_Delete(event);
    return rc;
}

/* A chat.completion.chunk with one choice; `delta` is taken over. */
static cJSON *chunk_new(const serve_job *job, cJSON *delta, const char *finish)
{
    cJSON *chunk = cJSON_CreateObject();
    cJSON *choice = cJSON_CreateObject();
    cJSON *choices;

    cJSON_AddStringToObject(chunk, "id", job->id);
    cJSON_AddStringToObject(chunk, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(chunk, "created", (double)job->created);
    cJSON_AddStringToObject(chunk, "model", job->model);
    choices = cJSON_AddArrayToObject(chunk, "choices");
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON_AddItemToObject(choice, "delta", delta);
    if (finish != NULL)
        cJSON_AddStringToObject(choice, "finish_reason", finish);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    cJSON_AddItemToArray(choices, choice);
    return chunk;
}

static qf_status sink_delta(void *user, const char *text, size_t len)
{
    serve_job *job = user;
    cJSON *delta = cJSON_CreateObject();
    char *copy = strndup(text, len);
    int rc = -1;

    pthread_mutex_lock(&job->lock);
    if (!job->abandoned && delta != NULL && copy != NULL) {
        rc = 0;
        if (job->chunks == 0) {
            cJSON *first = cJSON_CreateObject();

            cJSON_AddStringToObject(first, "role", "assistant");
            cJSON_AddStringToObject(first, "content", "");
            rc = queue_event(job, chunk_new(job, first, NULL));
        }
        cJSON_AddStringToObject(delta, "content", copy);
        if (rc == 0) {
            rc = queue_event(job, chunk_new(job, delta, NULL));
            delta = NULL;
        }
        job->chunks++;
        pthread_cond_broadcast(&job->cond);
    }
    pthread_mutex_unlock(&job->lock);
    cJSON_Delete(delta);
    free(copy);
    return rc == 0 ? QF_OK : QF_ERR_CANCELLED;
}

cJSON *serve_usage_json(const qf_usage *u)
{
    cJSON *usage = cJSON_CreateObject();
    cJSON *details = cJSON_CreateObject();

    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens",
                            (double)u->completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens",
                            (double)(u->prompt_tokens + u->completion_tokens));
    cJSON_AddNumberToObject(details, "cached_tokens", (double)u->cached_tokens);
    cJSON_AddItemToObject(usage, "prompt_tokens_details", details);
    return usage;
}

/* The usage chunk: no choices, only usage (stream_options.include_usage). */
static void queue_usage(serve_job *job)
{
    cJSON *chunk = cJSON_CreateObject();

    cJSON_AddStringToObject(chunk, "id", job->id);
    cJSON_AddStringToObject(chunk, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(chunk, "created", (double)job->created);
    cJSON_AddStringToObject(chunk, "model", job->model);
    cJSON_AddArrayToObject(chunk, "choices");
    cJSON_AddItemToObject(chunk, "usage", serve_usage_json(&job->result.usage));
    queue_event(job, chunk);
}

/* The events after the last text chunk: finish, usage when asked, [DONE];
 * or an error event when the chain failed after streaming began. */
static void queue_ending(serve_job *job)
{
    const char *finish = job->host->response_finish_reason(job->resp);

    if (job->status != QF_OK) {
        cJSON *event = cJSON_CreateObject();

        cJSON_AddItemToObject(event, "error",
                              serve_error_object(&job->err, NULL, NULL));
        queue_event(job, event);
        job->ended = 1;
        return;
    }
    if (job->chunks == 0) {
        cJSON *first = cJSON_CreateObject();

        cJSON_AddStringToObject(first, "role", "assistant");
        cJSON_AddStringToObject(first, "content", "");
        queue_event(job, chunk_new(job, first, NULL));
    }
    queue_event(job, chunk_new(job, cJSON_CreateObject(),
                               finish != NULL ? finish : "stop"));
    if (job->include_usage)
        queue_usage(job);
    queue_bytes(job, "data: [DONE]\n\n", 14);
    job->ended = 1;
}

static void collect_result(serve_job *job)
{
    serve_result *r = &job->result;
    const char *model = job->host->response_model(job->resp);
    const char *provider = qf_response_provider(job->resp);

    r->usage.size = sizeof(r->usage);
    job->host->response_usage(job->resp, &r->usage);
    r->cost_usd = qf_response_cost(job->resp, NULL);
    r->cache_hit = job->host->response_cache_hit(job->resp, NULL);
    snprintf(r->provider, sizeof(r->provider), "%s",
             provider != NULL ? provider : "");
    snprintf(r->model, sizeof(r->model), "%s",
             model != NULL ? model : job->model);
}

static void job_run(serve_job *job)
{
    qf_stream_sink sink = {sink_delta, job};
    int64_t start = serve_now_ns();
    qf_status status;

    status = qf_runtime_run(job->gen->rt, job->req, job->stream ? &sink : NULL,
                            &job->resp, &job->err);
    job->result.chain_ns = serve_now_ns() - start;
    if (job->resp != NULL)
        collect_result(job);
    if (status == QF_OK)
        serve_metrics_record_result(job->server, job->role, &job->result);
    serve_metrics_observe(job->server->metrics, SERVE_HIST_UPSTREAM,
                          (double)job->result.chain_ns / 1e9);

    pthread_mutex_lock(&job->lock);
    job->status = status;
    if (job->stream && !job->abandoned && job->resp != NULL &&
        (status == QF_OK || job->chunks > 0))
        queue_ending(job);
    job->done = 1;
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->lock);
    serve_job_release(job);
}

/* --- Worker pool -----------------------------------------------------
 * Workers stay alive between jobs, so a request costs a condition signal
 * rather than a thread start. A job that finds no idle worker starts a
 * new one, so no job waits for another. The pool grows to the largest
 * number of chains run at once: at most gateway.max_connections, plus
 * chains still running after their client timed out. */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static serve_job **pool_queue;
static size_t pool_len, pool_cap;
static size_t pool_idle; /* workers waiting and not yet handed a job */

static void *pool_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        serve_job *job;

        pool_idle++;
        while (pool_len == 0)
            pthread_cond_wait(&pool_cond, &pool_lock);
        job = pool_queue[0];
        memmove(pool_queue, pool_queue + 1, --pool_len * sizeof(*pool_queue));
        pthread_mutex_unlock(&pool_lock);
        job_run(job);
        pthread_mutex_lock(&pool_lock);
    }
    return NULL;
}

/* Queue `job` and wake or start a worker for it; returns 0 on success. */
static int pool_submit(serve_job *job)
{
    pthread_t thread;
    int rc = 0;

    pthread_mutex_lock(&pool_lock);
    if (pool_len == pool_cap) {
        size_t cap = pool_cap ? pool_cap * 2 : 64;
        serve_job **grown = realloc(pool_queue, cap * sizeof(*grown));

        if (grown == NULL) {
            pthread_mutex_unlock(&pool_lock);
            return -1;
        }
        pool_queue = grown;
        pool_cap = cap;
    }
    if (pool_idle > 0) {
        pool_idle--;
        pthread_cond_signal(&pool_cond);
    } else if (pthread_create(&thread, NULL, pool_worker, NULL) == 0) {
        pthread_detach(thread);
    } else {
        rc = -1;
    }
    if (rc == 0)
        pool_queue[pool_len++] = job;
    pthread_mutex_unlock(&pool_lock);
    return rc;
}

serve_job *serve_job_start(serve_call *call, qf_request *req, int stream,
                           int include_usage, qf_error *err)
{
    serve_job *job = calloc(1, sizeof(*job));
    const qf_host *host = qf_runtime_host(call->gen->rt);
    const char *model = host->request_model(req);

    if (job == NULL ||
        (job->model = strdup(model ? model : call->role)) == NULL) {
        free(job);
        qf_request_free(req);
        qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&job->lock, NULL);
    pthread_cond_init(&job->cond, NULL);
    job->refs = 2; /* the worker and the call */
    job->server = call->server;
    job->gen = call->gen;
    atomic_fetch_add(&job->gen->refs, 1);
    atomic_fetch_add(&job->server->active, 1);
    job->host = host;
    job->req = req;
    job->stream = stream;
    job->include_usage = include_usage;
    job->created = (int64_t)time(NULL);
    qf_error_init(&job->err);
    snprintf(job->id, sizeof(job->id), "chatcmpl-%s", host->request_id(req));
    snprintf(job->role, sizeof(job->role), "%s", call->role);
    qf_request_set_stream(req, stream, include_usage);

    if (pool_submit(job) != 0) {
        job->refs = 1;
        serve_job_release(job);
        qf_error_set(err, QF_ERR_INTERNAL,
                     "cannot start a worker thread for the request");
        return NULL;
    }
    return job;
}

/* Wait on the job's condition until `ready` is true or the deadline
 * passes. Returns 1 when ready. The caller holds job->lock. */
static int wait_until(serve_job *job, int (*ready)(const serve_job *),
                      int64_t deadline_ns)
{
    int64_t wall_offset;
    struct timespec now, at;

    clock_gettime(CLOCK_REALTIME, &now);
    wall_offset =
        ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec) - serve_now_ns();
    at.tv_sec = (time_t)((deadline_ns + wall_offset) / 1000000000);
    at.tv_nsec = (long)((deadline_ns + wall_offset) % 1000000000);
    while (!ready(job)) {
        if (pthread_cond_timedwait(&job->cond, &job->lock, &at) != 0 &&
            !ready(job))
            return 0;
    }
    return 1;
}

static int is_done(const serve_job *job)
{
    return job->done;
}

static int has_output(const serve_job *job)
{
    return job->done || job->len > job->pos;
}

int serve_job_wait_first(serve_job *job, int64_t deadline_ns)
{
    int rc;

    pthread_mutex_lock(&job->lock);
    if (!wait_until(job, has_output, deadline_ns)) {
        job->abandoned = 1;
        rc = -1;
    } else {
        rc = job->len > job->pos ? 1 : 0;
    }
    pthread_mutex_unlock(&job->lock);
    return rc;
}

/* NOTE: a chain that times out here is not cancelled: the runtime has no
 * cancel call, so it runs on until the provider's own timeout ends it. */
int serve_job_wait_done(serve_job *job, int64_t deadline_ns)
{
    int rc;

    pthread_mutex_lock(&job->lock);
    rc = wait_until(job, is_done, deadline_ns) ? 0 : -1;
    if (rc < 0)
        job->abandoned = 1;
    pthread_mutex_unlock(&job->lock);
    return rc;
}

/* End a stream that ran past its deadline with an error event. */
static void queue_timeout(serve_job *job)
{
    cJSON *event = cJSON_CreateObject();
    qf_error timeout;

    qf_error_init(&timeout);
    qf_error_set(&timeout, QF_ERR_TIMEOUT,
                 "the request took longer than "
                 "gateway.request_timeout_seconds");
    cJSON_AddItemToObject(event, "error",
                          serve_error_object(&timeout, NULL, NULL));
    queue_event(job, event);
    job->abandoned = 1;
    job->ended = 1;
}

/* libmicrohttpd's content reader: drain the queue, waiting for more. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    serve_job *job = cls;
    ssize_t n;

    pthread_mutex_lock(&job->lock);
    if (!wait_until(job, has_output, job->deadline_ns) && !job->ended)
        queue_timeout(job);
    if (job->len > job->pos) {
        n = (ssize_t)(job->len - job->pos < max ? job->len - job->pos : max);
        memcpy(buf, job->out + job->pos, (size_t)n);
        job->pos += (size_t)n;
        if (job->pos == job->len)
            job->pos = job->len = 0;
    } else {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_mutex_unlock(&job->lock);
    return n;
}

static void free_stream(void *cls)
{
    serve_job *job = cls;

    pthread_mutex_lock(&job->lock);
    job->abandoned = 1;
    pthread_mutex_unlock(&job->lock);
    serve_job_release(job);
}

struct MHD_Response *serve_job_stream_response(serve_job *job,
                                               int64_t deadline_ns)
{
    struct MHD_Response *resp;

    pthread_mutex_lock(&job->lock);
    job->refs++;
    job->deadline_ns = deadline_ns;
    pthread_mutex_unlock(&job->lock);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                             read_stream, job, free_stream);
    if (resp == NULL) {
        serve_job_release(job);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    return resp;
}

/* The accessors below are for the call's thread after the job is done:
 * the worker no longer touches these fields then. */
qf_status serve_job_status(serve_job *job, const qf_error **err)
{
    *err = &job->err;
    return job->status;
}

const qf_response *serve_job_response(serve_job *job)
{
    return job->resp;
}

const serve_result *serve_job_result(serve_job *job)
{
    int done;

    pthread_mutex_lock(&job->lock);
    done = job->done;
    pthread_mutex_unlock(&job->lock);
    return done && job->resp != NULL ? &job->result : NULL;
}

const qf_host *serve_job_host(serve_job *job)
{
    return job->host;
}

const char *serve_job_id(serve_job *job)
{
    return job->id;
}

int64_t serve_job_created(serve_job *job)
{
    return job->created;
}

const char *serve_job_model(serve_job *job)
{
    return job->model;
}

/*
 * serve_internal.h - the pieces of `qf serve` that its serve_*.c files
 * share: the server, its reloadable generations (runtime, roles, keys), one
 * HTTP call, the chat and image jobs, metrics and the access log.
 *
 * Threads: libmicrohttpd runs one thread per connection; each chat or image
 * request runs qf_runtime_run on a worker thread of its own. The main thread
 * waits for signals and swaps generations.
 */
#ifndef QF_SERVE_INTERNAL_H
#define QF_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>

#include "qf.h"

/* Settings of the gateway block fixed for the life of the process. */
typedef struct serve_settings {
    char host[64];          /* IPv4 address to bind */
    int port;               /* 0 picks a free port */
    int64_t max_body_bytes; /* larger bodies get 413 */
    int64_t header_timeout_seconds;
    int64_t request_timeout_seconds;
    int64_t max_connections;
    char *access_log; /* NULL for stderr */
} serve_settings;

/* One client key: its id for logs and the SHA-256 of the key itself. */
typedef struct serve_key {
    char *id;
    unsigned char digest[32];
    char **roles; /* NULL-terminated; roles this key may use */
} serve_key;

/* A loaded configuration with its runtime. Requests hold a reference; the
 * last release closes the runtime, so a reload never pulls a runtime out
 * from under a request in flight. */
typedef struct serve_generation {
    atomic_int refs;
    qf_runtime *rt;
    char **roles; /* NULL-terminated names from qf_config_role_names */
    serve_key *keys;
    size_t key_count;
    char *not_ready; /* why /readyz fails, NULL when ready */
    serve_settings settings;
} serve_generation;

typedef struct serve_metrics serve_metrics;
typedef struct serve_access_log serve_access_log;

typedef struct serve_server {
    char *config_path;
    serve_settings settings; /* from the first generation and --listen */
    pthread_mutex_t lock;    /* guards current */
    serve_generation *current;
    atomic_long active; /* calls and jobs in flight */
    atomic_int stopping;
    struct MHD_Daemon *daemon;
    serve_metrics *metrics;
    serve_access_log *log;
} serve_server;

typedef struct serve_job serve_job;

/* One HTTP request, from its first header to the end of its response. */
typedef struct serve_call {
    serve_server *server;
    serve_generation *gen; /* reference taken on arrival */
    int64_t start_ns;
    const char *endpoint; /* metrics label: "chat", "images", ... */
    char *body;
    size_t body_len;
    int body_too_large;
    const serve_key *key; /* NULL when the gateway has no keys */
    char role[128];
    int status;
    const char *error_code; /* OpenAI error code of a failed call, or NULL */
    serve_job *job;         /* chat or image job, or NULL */
} serve_call;

/* Results a job hands back once the chain has finished. */
typedef struct serve_result {
    qf_usage usage;
    double cost_usd;
    int cache_hit;
    char provider[64];
    char model[128];
    int64_t chain_ns; /* time spent inside qf_runtime_run */
} serve_result;

/* --- serve_settings.c / serve_reload.c ---------------------------------- */

int64_t serve_now_ns(void);
qf_status serve_settings_parse(const qf_config *cfg, serve_settings *out,
                               qf_error *err);
qf_status serve_listen_parse(const char *text, serve_settings *out,
                             qf_error *err);
int serve_host_is_loopback(const char *host);
void serve_settings_clear(serve_settings *settings);

qf_status serve_generation_load(const char *path, serve_generation **out,
                                qf_error *err);
serve_generation *serve_generation_acquire(serve_server *server);
void serve_generation_release(serve_generation *gen);
int serve_generation_has_role(const serve_generation *gen, const char *role);
void serve_reload(serve_server *server);

/* --- serve_auth.c --------------------------------------------------------- */

qf_status serve_keys_parse(const qf_config *cfg, serve_generation *gen,
                           qf_error *err);
void serve_keys_free(serve_generation *gen);
/* The key whose value matches the bearer token, compared in constant time;
 * NULL when none does. */
const serve_key *serve_key_find(const serve_generation *gen,
                                const char *authorization);
int serve_key_allows(const serve_key *key, const char *role);

/* --- serve_http.c --------------------------------------------------------- */

qf_status serve_http_start(serve_server *server, int *port, qf_error *err);
void serve_http_stop(serve_server *server);
/* Queue `resp` (taken over; NULL fails the connection) with `status`. */
enum MHD_Result serve_queue(struct MHD_Connection *conn, serve_call *call,
                            int status, struct MHD_Response *resp);
enum MHD_Result serve_respond_json(struct MHD_Connection *conn,
                                   serve_call *call, int status, cJSON *body);
enum MHD_Result serve_respond_error(struct MHD_Connection *conn,
                                    serve_call *call, int status,
                                    const char *type, const char *code,
                                    const char *param, const char *fmt, ...)
    QF_PRINTF(7, 8);
/* OpenAI's error object for a failed request; sets *status to the HTTP
 * status and *code to the error code (either may be NULL). */
cJSON *serve_error_object(const qf_error *err, int *status, const char **code);
enum MHD_Result serve_respond_qf_error(struct MHD_Connection *conn,
                                       serve_call *call, const qf_error *err);
/* The role a `model` field names ("plotwright" or "role/plotwright"),
 * checked against the generation and the key; on failure responds and
 * returns NULL with *rc set. */
const char *serve_pick_role(struct MHD_Connection *conn, serve_call *call,
                            const cJSON *model, enum MHD_Result *rc);

/* --- serve_chat.c, serve_images.c, serve_models.c ------------------------- */

enum MHD_Result serve_chat(struct MHD_Connection *conn, serve_call *call);
enum MHD_Result serve_images(struct MHD_Connection *conn, serve_call *call);
enum MHD_Result serve_models(struct MHD_Connection *conn, serve_call *call);
enum MHD_Result serve_health(struct MHD_Connection *conn, serve_call *call,
                             int ready_check);

/* --- serve_job.c -----------------------------------------------------------
 */

/* Run the request on a worker thread. The job owns `req` and takes a
 * generation reference. `stream` sends chunks in OpenAI's SSE format. */
serve_job *serve_job_start(serve_call *call, qf_request *req, int stream,
                           int include_usage, qf_error *err);
/* Wait until the job has output, has finished, or the deadline passes.
 * serve_job_wait_first returns 1 when streamed output is ready, 0 when the
 * job has finished, -1 on timeout; serve_job_wait_done returns 0 or -1. */
int serve_job_wait_first(serve_job *job, int64_t deadline_ns);
int serve_job_wait_done(serve_job *job, int64_t deadline_ns);
qf_status serve_job_status(serve_job *job, const qf_error **err);
const qf_response *serve_job_response(serve_job *job);
const serve_result *serve_job_result(serve_job *job);
const qf_host *serve_job_host(serve_job *job);
const char *serve_job_id(serve_job *job);
int64_t serve_job_created(serve_job *job);
const char *serve_job_model(serve_job *job);
struct MHD_Response *serve_job_stream_response(serve_job *job,
                                               int64_t deadline_ns);
void serve_job_release(serve_job *job);
cJSON *serve_usage_json(const qf_usage *usage);

/* --- serve_metrics.c -------------------------------------------------------
 */

serve_metrics *serve_metrics_create(void);
void serve_metrics_destroy(serve_metrics *m);
void serve_metrics_count(serve_metrics *m, const char *name, const char *labels,
                         double value);
void serve_metrics_observe(serve_metrics *m, int which, double seconds);
char *serve_metrics_render(serve_metrics *m, long in_flight);
enum {
    SERVE_HIST_TOTAL,
    SERVE_HIST_UPSTREAM,
    SERVE_HIST_GATEWAY,
    SERVE_HIST_COUNT
};
void serve_metrics_record_call(serve_server *server, const serve_call *call,
                               double seconds);
void serve_metrics_record_result(serve_server *server, const char *role,
                                 const serve_result *r);
enum MHD_Result serve_metrics_page(struct MHD_Connection *conn,
                                   serve_call *call);

/* --- serve_log.c ------------------------------------------------------------
 */

serve_access_log *serve_access_log_open(const char *path, qf_error *err);
void serve_access_log_close(serve_access_log *log);
void serve_access_log_write(serve_access_log *log, const serve_call *call,
                            double seconds);

#endif /* QF_SERVE_INTERNAL_H */

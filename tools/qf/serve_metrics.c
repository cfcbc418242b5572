/*
 * serve_metrics.c - the gateway's counters and latency histograms, and
 * GET /metrics in the Prometheus text exposition format (version 0.0.4).
 *
 * Counters are kept as (name, label set) series in a list under one lock.
 * The label values are few (endpoints, statuses, roles, providers,
 * models), so the list stays short. Three histograms split each request's time:
 * the whole request, the time inside qf_runtime_run (the chain, counted as
 * upstream time, so a cache hit counts there too), and the difference,
 * which is the gateway's own work.
 */
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                5,      10,    30,     60,    120,  300};
#define BUCKETS (sizeof(bounds) / sizeof(bounds[0]))

typedef struct series {
    char *name;
    char *labels;
    double value;
    struct series *next;
} series;

typedef struct histogram {
    uint64_t counts[BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
} histogram;

struct serve_metrics {
    pthread_mutex_t lock;
    series *head;
    series *tail;
    histogram hist[SERVE_HIST_COUNT];
};

typedef struct metric_info {
    const char *name;
    const char *type;
    const char *help;
} metric_info;

static const metric_info counters[] = {
    {"qf_gateway_requests_total", "counter",
     "HTTP requests answered, by endpoint and status."},
    {"qf_gateway_errors_total", "counter",
     "Requests answered with an error, by OpenAI error code."},
    {"qf_gateway_cache_hits_total", "counter",
     "Chat and image requests answered from the cache, by role."},
    {"qf_gateway_cache_misses_total", "counter",
     "Chat and image requests the cache did not answer, by role."},
    {"qf_gateway_tokens_total", "counter",
     "Tokens by role, provider, model and type (prompt, completion, "
     "cached)."},
    {"qf_gateway_cost_usd_total", "counter",
     "Cost in US dollars by role, provider and model."},
    {"qf_gateway_config_reloads_total", "counter",
     "Configuration reloads on SIGHUP, by result."},
};

static const metric_info histograms[SERVE_HIST_COUNT] = {
    {"qf_gateway_request_duration_seconds", "histogram",
     "Whole request time, from the first header to the last byte."},
    {"qf_gateway_upstream_duration_seconds", "histogram",
     "Time inside the role's chain (middleware, cache and provider)."},
    {"qf_gateway_overhead_duration_seconds", "histogram",
     "Request time minus chain time: the gateway's own work."},
};

serve_metrics *serve_metrics_create(void)
{
    serve_metrics *m = calloc(1, sizeof(*m));

    if (m != NULL)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void serve_metrics_destroy(serve_metrics *m)
{
    if (m == NULL)
        return;
    while (m->head != NULL) {
        series *next = m->head->next;

        free(m->head->name);
        free(m->head->labels);
        free(m->head);
        m->head = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void serve_metrics_count(serve_metrics *m, const char *name, const char *labels,
                         double value)
{
    series *s;

    pthread_mutex_lock(&m->lock);
    for (s = m->head; s != NULL; s = s->next) {
        if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
            break;
    }
    if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
        s->name = strdup(name);
        s->labels = strdup(labels);
        if (s->name == NULL || s->labels == NULL) {
            free(s->name);
            free(s->labels);
            free(s);
            s = NULL;
        } else if (m->tail != NULL) {
            m->tail->next = s;
            m->tail = s;
        } else {
            m->head = m->tail = s;
        }
    }
    if (s != NULL)
        s->value += value;
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_observe(serve_metrics *m, int which, double seconds)
{
    histogram *h = &m->hist[which];
    size_t i = 0;

    while (i < BUCKETS && seconds > bounds[i])
        i++;
    pthread_mutex_lock(&m->lock);
    if (i < BUCKETS)
        h->counts[i]++;
    h->count++;
    h->sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

/* A label value with \, " and newline escaped, truncated to fit. */
static void escape(char *out, size_t size, const char *value)
{
    size_t n = 0;

    for (; *value != '\0' && n + 3 < size; value++) {
        if (*value == '\\' || *value == '"') {
            out[n++] = '\\';
            out[n++] = *value;
        } else if (*value == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *value;
        }
    }
    out[n] = '\0';
}

void serve_metrics_record_call(serve_server *server, const serve_call *call,
                               double seconds)
{
    const serve_result *r = call->job ? serve_job_result(call->job) : NULL;
    char labels[256];

    serve_metrics_observe(server->metrics, SERVE_HIST_TOTAL, seconds);
    if (r != NULL) {
        double own = seconds - (double)r->chain_ns / 1e9;

        serve_metrics_observe(server->metrics, SERVE_HIST_GATEWAY,
                              own > 0 ? own : 0);
    }
    if (call->status >= 400) {
        snprintf(labels, sizeof(labels), "code=\"%s\"",
                 call->error_code ? call->error_code : "other");
        serve_metrics_count(server->metrics, "qf_gateway_errors_total", labels,
                            1);
    }

    /* Counted last, so a reader that sees the request sees all of it. */
    snprintf(labels, sizeof(labels), "endpoint=\"%s\",status=\"%d\"",
             call->endpoint, call->status);
    serve_metrics_count(server->metrics, "qf_gateway_requests_total", labels,
                        1);
}

void serve_metrics_record_result(serve_server *server, const char *role,
                                 const serve_result *r)
{
    char erole[256], eprovider[128], emodel[256], labels[768], typed[800];
    static const char *const types[] = {"prompt", "completion", "cached"};
    const int64_t counts[] = {r->usage.prompt_tokens,
                              r->usage.completion_tokens,
                              r->usage.cached_tokens};

    escape(erole, sizeof(erole), role);
    escape(eprovider, sizeof(eprovider), r->provider);
    escape(emodel, sizeof(emodel), r->model);
    snprintf(labels, sizeof(labels), "role=\"%s\"", erole);
    serve_metrics_count(server->metrics,
                        r->cache_hit ? "qf_gateway_cache_hits_total"
                                     : "qf_gateway_cache_misses_total",
                        labels, 1);

    snprintf(labels, sizeof(labels), "role=\"%s\",provider=\"%s\",model=\"%s\"",
             erole, eprovider, emodel);
    for (size_t i = 0; i < 3; i++) {
        snprintf(typed, sizeof(typed), "%s,type=\"%s\"", labels, types[i]);
        serve_metrics_count(server->metrics, "qf_gateway_tokens_total", typed,
                            (double)counts[i]);
    }
    serve_metrics_count(server->metrics, "qf_gateway_cost_usd_total", labels,
                        r->cost_usd);
}

static void render_counter(FILE *out, const serve_metrics *m,
                           const metric_info *info)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", info->name, info->help,
            info->name, info->type);
    for (const series *s = m->head; s != NULL; s = s->next) {
        if (strcmp(s->name, info->name) == 0)
            fprintf(out, "%s{%s} %.17g\n", s->name, s->labels, s->value);
    }
}

static void render_histogram(FILE *out, const histogram *h,
                             const metric_info *info)
{
    uint64_t cumulative = 0;

    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", info->name, info->help,
            info->name, info->type);
    for (size_t i = 0; i < BUCKETS; i++) {
        cumulative += h->counts[i];
        fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", info->name, bounds[i],
                (unsigned long long)cumulative);
    }
    fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", info->name,
            (unsigned long long)h->count);
    fprintf(out, "%s_sum %.17g\n%s_count %llu\n", info->name, h->sum,
            info->name, (unsigned long long)h->count);
}

char *serve_metrics_render(serve_metrics *m, long in_flight)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    if (out == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        render_counter(out, m, &counters[i]);
    for (size_t i = 0; i < SERVE_HIST_COUNT; i++)
        render_histogram(out, &m->hist[i], &histograms[i]);
    pthread_mutex_unlock(&m->lock);
    fprintf(out,
            "# HELP qf_gateway_requests_in_flight Requests and chain runs "
            "not yet finished.\n"
            "# TYPE qf_gateway_requests_in_flight gauge\n"
            "qf_gateway_requests_in_flight %ld\n",
            in_flight);
    fclose(out);
    return text;
}

enum MHD_Result serve_metrics_page(struct MHD_Connection *conn,
                                   serve_call *call)
{
    /* This call itself is in flight; leave it out. */
    char *text = serve_metrics_render(call->server->metrics,
                                      atomic_load(&call->server->active) - 1);
    struct MHD_Response *resp;

    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            "text/plain; version=0.0.4; charset=utf-8");
    return serve_queue(conn, call, 200, resp);
}

/*
 * load.c - a small HTTP load generator for the gateway benchmark. Each of
 * N threads owns one libcurl handle, so its connection stays open
 * (keep-alive), and POSTs the same JSON body in a loop for a number of
 * requests or seconds, timing every request with CLOCK_MONOTONIC. It
 * prints one line: requests, errors, seconds, requests per second, and
 * the median and 99th percentile latency in milliseconds.
 *
 * usage: bench_gateway_load URL BODY [--connections N] [--seconds S |
 *        --requests N] [--header "Name: value"]...
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_HEADERS 8

typedef struct options {
    const char *url;
    const char *body;
    const char *headers[MAX_HEADERS];
    int header_count;
    long connections;
    double seconds; /* run time per thread, when requests is 0 */
    long requests;  /* requests per thread, or 0 */
} options;

typedef struct worker {
    const options *opts;
    double *latencies; /* seconds */
    size_t count;
    size_t capacity;
    long errors;
} worker;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *ptr, size_t size, size_t n, void *user)
{
    (void)ptr;
    (void)user;
    return size * n;
}

static int record(worker *w, double latency)
{
    if (w->count == w->capacity) {
        size_t capacity = w->capacity ? w->capacity * 2 : 4096;
        double *grown = realloc(w->latencies, capacity * sizeof(double));

        if (grown == NULL)
            return -1;
        w->latencies = grown;
        w->capacity = capacity;
    }
    w->latencies[w->count++] = latency;
    return 0;
}

static CURL *make_handle(const options *opts, struct curl_slist **list)
{
    CURL *curl = curl_easy_init();

    *list = curl_slist_append(NULL, "Content-Type: application/json");
    for (int i = 0; i < opts->header_count; i++)
        *list = curl_slist_append(*list, opts->headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, opts->url);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, opts->body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    return curl;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    const options *opts = w->opts;
    struct curl_slist *list = NULL;
    CURL *curl = make_handle(opts, &list);
    double end = now_seconds() + opts->seconds;

    for (long i = 0; opts->requests ? i < opts->requests : now_seconds() < end;
         i++) {
        double start = now_seconds();
        long status = 0;

        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            w->errors++;
        else if (record(w, now_seconds() - start) < 0)
            break;
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return NULL;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);

    if (n == 0)
        return 0;
    return sorted[rank > 0 ? rank - 1 : 0];
}

static int parse(int argc, char **argv, options *opts)
{
    if (argc < 3)
        return -1;
    opts->url = argv[1];
    opts->body = argv[2];
    opts->connections = 1;
    opts->seconds = 10;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--connections") == 0)
            opts->connections = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            opts->seconds = strtod(argv[i + 1], NULL);
        else if (strcmp(argv[i], "--requests") == 0)
            opts->requests = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--header") == 0 &&
                 opts->header_count < MAX_HEADERS)
            opts->headers[opts->header_count++] = argv[i + 1];
        else
            return -1;
    }
    return opts->connections > 0 && opts->connections <= 1024 ? 0 : -1;
}

int main(int argc, char **argv)
{
    options opts = {0};
    worker *workers;
    pthread_t *threads;
    double start, elapsed, *all;
    size_t total = 0;
    long errors = 0;

    if (parse(argc, argv, &opts) != 0) {
        fprintf(stderr, "usage: bench_gateway_load URL BODY [--connections N] "
                        "[--seconds S | --requests N] [--header H]...\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    workers = calloc((size_t)opts.connections, sizeof(worker));
    threads = calloc((size_t)opts.connections, sizeof(pthread_t));
    start = now_seconds();
    for (long i = 0; i < opts.connections; i++) {
        workers[i].opts = &opts;
        pthread_create(&threads[i], NULL, run_worker, &workers[i]);
    }
    for (long i = 0; i < opts.connections; i++) {
        pthread_join(threads[i], NULL);
        total += workers[i].count;
        errors += workers[i].errors;
    }
    elapsed = now_seconds() - start;

    all = malloc((total ? total : 1) * sizeof(double));
    total = 0;
    for (long i = 0; i < opts.connections; i++) {
        memcpy(all + total, workers[i].latencies,
               workers[i].count * sizeof(double));
        total += workers[i].count;
        free(workers[i].latencies);
    }
    qsort(all, total, sizeof(double), compare);
    printf("requests=%zu errors=%ld seconds=%.2f rps=%.0f p50_ms=%.3f "
           "p99_ms=%.3f\n",
           total, errors, elapsed, (double)total / elapsed,
           percentile(all, total, 50) * 1000,
           percentile(all, total, 99) * 1000);
    free(all);
    free(workers);
    free(threads);
    curl_global_cleanup();
    return errors > 0 ? 1 : 0;
}

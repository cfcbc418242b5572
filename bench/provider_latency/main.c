/*
 * bench_provider_latency - the latency the runtime and the openai plugin add
 * to a call to qf-sim, against the same request body sent directly with one
 * reused libcurl handle (keep-alive). The figures are a plain call with no
 * middleware and with the default chain (cache bypassed by request flags,
 * rate_limit with limits never reached). The time to the first content delta
 * of a streamed call follows. Each is printed next to its direct counterpart.
 * Starts qf-sim --port 0 itself and stops it on exit.
 * Usage: bench_provider_latency [REQUESTS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "error.h"
#include "runtime.h"

#define PROMPT  "Describe the lighthouse keeper in five words"
#define API_KEY "sk-bench-offline"

/* What one streamed transfer has seen so far. */
typedef struct stream_probe {
    double start_ns;
    double first_ns; /* 0 until the first content delta arrives */
    char tail[64];   /* last bytes seen, for a marker split across writes */
    size_t tail_len;
} stream_probe;

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double quantile(double *v, long n, double q)
{
    long i = (long)(q * (double)(n - 1) + 0.5);

    qsort(v, (size_t)n, sizeof(*v), compare_doubles);
    return v[i];
}

/* --- qf-sim ------------------------------------------------------------ */

/* Start qf-sim --port 0, dying with this process; returns its pid or -1
 * and writes its port. */
static pid_t start_sim(int *port)
{
    int out[2];
    char line[256];
    pid_t pid;
    FILE *f;

    if (pipe(out) != 0 || (pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(QF_BENCH_SIM, QF_BENCH_SIM, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    f = fdopen(out[0], "r");
    if (f != NULL && fgets(line, sizeof(line), f) != NULL &&
        sscanf(line, "qf-sim listening on http://127.0.0.1:%d", port) == 1) {
        fclose(f);
        return pid;
    }
    fprintf(stderr, "bench_provider_latency: %s did not start\n", QF_BENCH_SIM);
    if (f != NULL)
        fclose(f);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

/* --- Through the runtime ----------------------------------------------- */

static qf_runtime *open_runtime(const char *dir, int port)
{
    char path[4096];
    qf_runtime_options options = {0};
    qf_runtime *rt = NULL;
    qf_error err;
    FILE *f;

    snprintf(path, sizeof(path), "%s/plugins.yml", dir);
    if ((f = fopen(path, "w")) == NULL)
        return NULL;
    fprintf(f,
            "state_dir: \"%s/state\"\nplugin_dirs: [\"%s\"]\n"
            "providers:\n  text:\n    default: openai\n"
            "    openai:\n"
            "      base_url: \"http://127.0.0.1:%d/v1\"\n"
            "      api_key: " API_KEY "\n"
            "      model: gpt-4o-mini\n"
            "      retry: {max_attempts: 1}\n"
            "    openai_full:\n"
            "      plugin: openai\n"
            "      base_url: \"http://127.0.0.1:%d/v1\"\n"
            "      api_key: " API_KEY "\n"
            "      model: gpt-4o-mini\n"
            "      retry: {max_attempts: 1}\n"
            "      cache: {enabled: true, ttl_seconds: 3600}\n"
            "      rate_limit: {requests_per_minute: 1000000000, "
            "tokens_per_hour: 1000000000000, cost_per_day: 1000000.0, "
            "cost_per_month: 1000000.0}\n"
            "roles:\n  plotwright: {provider: openai}\n"
            "  scene_smith: {provider: openai_full}\n",
            dir, QF_BENCH_PLUGIN_DIR, port, port);
    fclose(f);

    qf_error_init(&err);
    options.config_path = path;
    if (qf_runtime_open(&options, &rt, &err) != QF_OK) {
        fprintf(stderr, "bench_provider_latency: %s\n", err.message);
        return NULL;
    }
    return rt;
}

static qf_status on_delta(void *user, const char *text, size_t len)
{
    stream_probe *probe = user;

    if (probe->first_ns == 0 && len > 0)
        probe->first_ns = now_ns();
    (void)text;
    return QF_OK;
}

/* Runs one timed call. Returns ns to the complete response (to the first
 * delta when `stream`), or -1 on failure. */
static double chain_call(qf_runtime *rt, qf_request *req, int stream)
{
    stream_probe probe = {0};
    qf_stream_sink sink = {on_delta, &probe};
    qf_response *resp = NULL;
    qf_error err;
    qf_status st;
    double end;

    qf_error_init(&err);
    probe.start_ns = now_ns();
    st = qf_runtime_run(rt, req, stream ? &sink : NULL, &resp, &err);
    end = stream ? probe.first_ns : now_ns();
    qf_response_free(resp);
    if (st != QF_OK || end == 0) {
        fprintf(stderr, "bench_provider_latency: call failed: %s\n",
                err.message);
        return -1;
    }
    return end - probe.start_ns;
}

static int time_chain(qf_runtime *rt, const char *role, unsigned flags,
                      int stream, double *v, long n)
{
    qf_request *req = NULL;
    qf_error err;

    qf_error_init(&err);
    if (qf_request_create(rt, role, NULL, &req, &err) != QF_OK) {
        fprintf(stderr, "bench_provider_latency: %s\n", err.message);
        return -1;
    }
    qf_request_add_message(req, "user", PROMPT, strlen(PROMPT));
    qf_request_set_cache_flags(req, flags);
    qf_request_set_stream(req, stream, stream);
    for (long i = -10; i < n; i++) {
        double t = chain_call(rt, req, stream);

        if (t < 0) {
            qf_request_free(req);
            return -1;
        }
        if (i >= 0)
            v[i] = t;
    }
    qf_request_free(req);
    return 0;
}

/* --- Directly with libcurl --------------------------------------------- */

static size_t discard(char *data, size_t size, size_t nmemb, void *user)
{
    (void)data;
    (void)user;
    return size * nmemb;
}

/* True when `s` contains a "content" field with a non-empty string value. */
static int has_content(const char *s, size_t len)
{
    const char *end = s + len;
    const char *p = s;

    while ((p = memmem(p, (size_t)(end - p), "\"content\"", 9)) != NULL) {
        p += 9;
        while (p < end && (*p == ':' || *p == ' '))
            p++;
        if (p + 1 < end && *p == '"' && p[1] != '"')
            return 1;
    }
    return 0;
}

static size_t watch_stream(char *data, size_t size, size_t nmemb, void *user)
{
    stream_probe *probe = user;
    size_t len = size * nmemb;
    char buf[64 + 16384];
    size_t n = len < 16384 ? len : 16384;

    if (probe->first_ns != 0)
        return len;
    memcpy(buf, probe->tail, probe->tail_len);
    memcpy(buf + probe->tail_len, data, n);
    if (has_content(buf, probe->tail_len + n))
        probe->first_ns = now_ns();
    probe->tail_len = n < sizeof(probe->tail) ? n : sizeof(probe->tail);
    memcpy(probe->tail, data + n - probe->tail_len, probe->tail_len);
    return len;
}

static CURL *direct_handle(int port, int stream, struct curl_slist **headers,
                           char *body, size_t body_size)
{
    char url[128];
    CURL *curl = curl_easy_init();

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions", port);
    snprintf(body, body_size,
             "{\"messages\":[{\"role\":\"user\",\"content\":\"" PROMPT
             "\"}],\"model\":\"gpt-4o-mini\"%s}",
             stream ? ",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true}"
                    : "");
    *headers = curl_slist_append(NULL, "Content-Type: application/json");
    *headers = curl_slist_append(*headers, "Authorization: Bearer " API_KEY);
    if (curl == NULL || *headers == NULL)
        return curl;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                     stream ? watch_stream : discard);
    return curl;
}

static int time_direct(int port, int stream, double *v, long n)
{
    struct curl_slist *headers = NULL;
    char body[512];
    CURL *curl = direct_handle(port, stream, &headers, body, sizeof(body));
    int rc = -1;

    for (long i = -10; curl != NULL && headers != NULL && i < n; i++) {
        stream_probe probe = {0};
        long code = 0;

        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &probe);
        probe.start_ns = now_ns();
        if (curl_easy_perform(curl) != CURLE_OK)
            goto out;
        if (!stream)
            probe.first_ns = now_ns();
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200 || probe.first_ns == 0)
            goto out;
        if (i >= 0)
            v[i] = probe.first_ns - probe.start_ns;
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bench_provider_latency: direct request failed\n");
    curl_slist_free_all(headers);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    return rc;
}

/* --- Report ------------------------------------------------------------ */

static void print_pair(const char *label, double *chain, double *direct, long n)
{
    double cm = quantile(chain, n, 0.5), c99 = quantile(chain, n, 0.99);
    double dm = quantile(direct, n, 0.5), d99 = quantile(direct, n, 0.99);

    printf("%s (%ld each)\n", label, n);
    printf("  %-32s median %8.1f us  p99 %8.1f us\n", "direct libcurl",
           dm / 1e3, d99 / 1e3);
    printf("  %-32s median %8.1f us  p99 %8.1f us\n", "through qf", cm / 1e3,
           c99 / 1e3);
    printf("  %-32s median %8.1f us\n", "added by qf", (cm - dm) / 1e3);
}

static int run_all(qf_runtime *rt, int port, long n)
{
    double *chain = malloc(sizeof(double) * (size_t)n);
    double *direct = malloc(sizeof(double) * (size_t)n);
    long ns = n / 10 > 0 ? n / 10 : 1;
    int rc = -1;

    if (chain == NULL || direct == NULL ||
        time_direct(port, 0, direct, n) != 0 ||
        time_chain(rt, "plotwright", 0, 0, chain, n) != 0)
        goto out;
    print_pair("plain call, no middleware", chain, direct, n);
    if (time_direct(port, 0, direct, n) != 0 ||
        time_chain(rt, "scene_smith", QF_CACHE_NO_READ | QF_CACHE_NO_STORE, 0,
                   chain, n) != 0)
        goto out;
    print_pair("plain call, default chain [cache (bypassed), rate_limit]",
               chain, direct, n);
    if (time_direct(port, 1, direct, ns) != 0 ||
        time_chain(rt, "plotwright", 0, 1, chain, ns) != 0)
        goto out;
    print_pair("streamed call, time to first token, no middleware", chain,
               direct, ns);
    if (time_direct(port, 1, direct, ns) != 0 ||
        time_chain(rt, "scene_smith", QF_CACHE_NO_READ | QF_CACHE_NO_STORE, 1,
                   chain, ns) != 0)
        goto out;
    print_pair("streamed call, time to first token, default chain", chain,
               direct, ns);
    rc = 0;
out:
    free(chain);
    free(direct);
    return rc;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    char dir[] = "/tmp/qf-bench-latency-XXXXXX";
    char cmd[128];
    qf_runtime *rt = NULL;
    int port = 0, rc = 1;
    pid_t sim;

    if (n <= 0 || mkdtemp(dir) == NULL)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sim = start_sim(&port);
    if (sim > 0 && (rt = open_runtime(dir, port)) != NULL) {
        printf("provider_latency: qf-sim on 127.0.0.1:%d, openai plugin, "
               "ledger row per call included\n",
               port);
        rc = run_all(rt, port, n) == 0 ? 0 : 1;
    }
    qf_runtime_close(rt);
    if (sim > 0) {
        kill(sim, SIGTERM);
        waitpid(sim, NULL, 0);
    }
    curl_global_cleanup();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_provider_latency: could not remove %s\n", dir);
    return rc;
}

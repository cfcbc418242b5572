/*
 * bench_startup - two figures of the host as a user meets it. First, `qf
 * --config X run --role plotwright --no-stream PROMPT` answering from the
 * cache: one priming run stores the answer, then each run is timed with
 * clock_gettime around fork, exec and wait (next to /bin/true as the floor).
 * Second, resident memory of a host with every shipped plugin loaded: a
 * child process opens a runtime on the same configuration, creates a request
 * for every role so each plugin instance exists, runs one call per provider
 * against qf-sim, then prints VmRSS and VmHWM from /proc/self/status.
 * Usage: bench_startup [RUNS]   (internal: bench_startup --rss CONFIG)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "runtime.h"

#define PROMPT "Outline the first scene of the lighthouse story"

static const char *const roles[] = {"plotwright", "lore_weaver", "scene_smith",
                                    NULL};

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

/* --- Child processes --------------------------------------------------- */

/* Runs argv with stdout to `out_fd` (/dev/null when -1), and stderr to
 * /dev/null when `quiet`. Returns ns from fork to reaped exit, or -1 when it
 * fails, and stores the child's peak resident size in *maxrss_kib. */
static double run_timed(char *const argv[], int out_fd, int quiet,
                        long *maxrss_kib)
{
    struct rusage usage;
    double start = now_ns();
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);

        dup2(out_fd >= 0 ? out_fd : null_fd, STDOUT_FILENO);
        if (quiet)
            dup2(null_fd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &usage) != pid)
        return -1;
    start = now_ns() - start;
    if (maxrss_kib != NULL)
        *maxrss_kib = usage.ru_maxrss;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? start : -1;
}

/* Start qf-sim --port 0, dying with this process; returns its pid or -1. */
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
    fprintf(stderr, "bench_startup: %s did not start\n", QF_BENCH_SIM);
    if (f != NULL)
        fclose(f);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

/* --- Configuration ----------------------------------------------------- */

/* Every shipped plugin: openai with the default chain (cache on file_cache,
 * rate_limit), ollama, and a role whose cache uses redis_cache when built
 * (pointed at a closed loopback port: the instance loads and runs
 * uncached). */
static int write_config(const char *path, const char *dir, int port)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    fprintf(f,
            "state_dir: \"%s/state\"\nplugin_dirs: [\"%s\"]\n"
            "providers:\n  text:\n    default: openai\n"
            "    openai:\n"
            "      base_url: \"http://127.0.0.1:%d/v1\"\n"
            "      api_key: sk-bench-offline\n"
            "      model: gpt-4o-mini\n"
            "      retry: {max_attempts: 1}\n"
            "      cache: {enabled: true, ttl_seconds: 3600}\n"
            "      rate_limit: {requests_per_minute: 1000000, "
            "cost_per_day: 1000.0}\n"
            "    ollama: {base_url: \"http://127.0.0.1:%d\", model: llama3.2}\n"
            "roles:\n  lore_weaver: {provider: ollama}\n",
            dir, QF_BENCH_PLUGIN_DIR, port, port);
#ifdef QF_BENCH_REDIS
    fprintf(f, "  scene_smith:\n    provider: openai\n"
               "    cache: {backend: redis_cache, "
               "redis_url: \"redis://127.0.0.1:1/0\"}\n");
#endif
    return fclose(f) == 0 ? 0 : -1;
}

/* --- qf run from the cache --------------------------------------------- */

/* Runs `qf run --json` once and checks that it reports cache_hit true. */
static int check_hit(char *const argv[])
{
    char out_path[] = "/tmp/qf-bench-startup-out-XXXXXX";
    char buf[8192] = "";
    int fd = mkstemp(out_path);
    ssize_t n = -1;
    const char *hit;

    if (fd >= 0 && run_timed(argv, fd, 0, NULL) >= 0 &&
        lseek(fd, 0, SEEK_SET) == 0)
        n = read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    unlink(out_path);
    buf[n > 0 ? n : 0] = '\0';
    hit = strstr(buf, "\"cache_hit\":");
    if (hit != NULL &&
        strncmp(hit + 12 + strspn(hit + 12, " "), "true", 4) == 0)
        return 0;
    fprintf(stderr,
            "bench_startup: qf run did not return a cached response: %s\n",
            buf);
    return -1;
}

static void print_runs(const char *label, double *v, long n)
{
    printf("%-36s median %7.2f ms  p90 %7.2f ms\n", label,
           quantile(v, n, 0.5) / 1e6, quantile(v, n, 0.9) / 1e6);
}

static int bench_qf_run(const char *config, long runs)
{
    char *run[] = {QF_BENCH_QF,  "--config",    (char *)config, "run", "--role",
                   "plotwright", "--no-stream", PROMPT,         NULL};
    char *json[] = {QF_BENCH_QF, "--config",   (char *)config, "run",
                    "--role",    "plotwright", "--no-stream",  "--json",
                    PROMPT,      NULL};
    char *floor_argv[] = {"/bin/true", NULL};
    double *v = malloc(sizeof(*v) * (size_t)runs);
    long maxrss = 0;

    if (v == NULL || run_timed(run, -1, 0, NULL) < 0 || check_hit(json) != 0)
        goto fail;
    for (long i = 0; i < runs; i++)
        if ((v[i] = run_timed(run, -1, 1, &maxrss)) < 0)
            goto fail;
    printf("qf run, cached answer (%ld runs)\n", runs);
    print_runs("  qf run --no-stream, cache hit", v, runs);
    printf("  %-34s %7.1f MiB\n", "qf run peak RSS (ru_maxrss)",
           (double)maxrss / 1024);
    for (long i = 0; i < runs; i++)
        v[i] = run_timed(floor_argv, -1, 1, NULL);
    print_runs("  /bin/true (process start floor)", v, runs);
    free(v);
    return 0;

fail:
    fprintf(stderr, "bench_startup: %s run failed\n", QF_BENCH_QF);
    free(v);
    return -1;
}

/* --- Resident memory with every plugin --------------------------------- */

static long status_kib(const char *field)
{
    char line[256];
    size_t len = strlen(field);
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kib = strtol(line + len + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kib;
}

/* Create a request for every role, run one call per provider kind. */
static int touch_roles(qf_runtime *rt)
{
    qf_error err;

    qf_error_init(&err);
    for (int i = 0; roles[i] != NULL; i++) {
        qf_request *req = NULL;
        qf_response *resp = NULL;
        qf_status st = qf_request_create(rt, roles[i], NULL, &req, &err);

        if (st == QF_OK && strcmp(roles[i], "scene_smith") != 0) {
            qf_request_add_message(req, "user", PROMPT, strlen(PROMPT));
            st = qf_runtime_run(rt, req, NULL, &resp, &err);
            qf_response_free(resp);
        }
        qf_request_free(req);
        if (st != QF_OK) {
            fprintf(stderr, "bench_startup: role %s: %s\n", roles[i],
                    err.message);
            return -1;
        }
    }
    return 0;
}

static int measure_rss(const char *config)
{
    qf_runtime_options options = {0};
    qf_runtime *rt = NULL;
    qf_error err;
    int rc = 1;

    qf_error_init(&err);
    options.config_path = config;
    if (qf_runtime_open(&options, &rt, &err) != QF_OK)
        fprintf(stderr, "bench_startup: %s\n", err.message);
    else if (touch_roles(rt) == 0)
        rc = 0;
    if (rc == 0)
        printf("host with every plugin loaded (%s)\n"
               "  %-34s %7.1f MiB\n  %-34s %7.1f MiB\n",
#ifdef QF_BENCH_REDIS
               "openai, ollama, cache, file_cache, rate_limit, redis_cache",
#else
               "openai, ollama, cache, file_cache, rate_limit",
#endif
               "VmRSS", (double)status_kib("VmRSS") / 1024, "VmHWM",
               (double)status_kib("VmHWM") / 1024);
    qf_runtime_close(rt);
    return rc;
}

/* --- Main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    long runs = argc > 1 ? strtol(argv[1], NULL, 10) : 50;
    char dir[] = "/tmp/qf-bench-startup-XXXXXX";
    char config[128], cmd[160];
    char *child[] = {"/proc/self/exe", "--rss", config, NULL};
    int port = 0, rc = 1;
    pid_t sim = -1;

    if (argc == 3 && strcmp(argv[1], "--rss") == 0)
        return measure_rss(argv[2]);
    if (runs <= 0 || mkdtemp(dir) == NULL)
        return 2;
    snprintf(config, sizeof(config), "%s/plugins.yml", dir);
    if ((sim = start_sim(&port)) < 0 || write_config(config, dir, port) != 0)
        goto out;
    printf("startup: qf-sim on 127.0.0.1:%d, config %s\n", port, config);
    fflush(stdout);
    if (bench_qf_run(config, runs) != 0)
        goto out;
    fflush(stdout);
    rc = run_timed(child, STDOUT_FILENO, 0, NULL) < 0;
out:
    if (sim > 0) {
        kill(sim, SIGTERM);
        waitpid(sim, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_startup: could not remove %s\n", dir);
    return rc;
}

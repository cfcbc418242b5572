/*
 * bench_cache_hit - the latency of a file_cache hit, measured three ways.
 * The realistic figure is qf_runtime_run on a role whose chain is [cache] in
 * front of the in-process test_echo provider. The floor is the same runtime
 * without the cache, and the third is the backend's get alone. Then it grows a
 * second backend from 1,000 entries by tenfold steps up to --max, timing
 * puts, random hits and prunes of 100 expired entries at each size.
 *
 * A settable clock lets the prune step expire entries without waiting.
 * Usage: bench_cache_hit [--max N] [--value-bytes B] [--hits N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "request.h"
#include "runtime.h"

#define PRUNE_COUNT      100
#define PRUNE_ROUNDS     3
#define LONG_TTL_SECONDS (30LL * 86400)
#define ENTRY_OVERHEAD   160 /* header of an entry file, rounded up */

typedef struct bench_options {
    long max_entries;
    long value_bytes;
    long hits;
} bench_options;

typedef struct backend {
    const qf_cache_backend_vtable *vt;
    void *inst;
    const qf_host *host;
} backend;

/* --- Clock and statistics ---------------------------------------------- */

static int64_t clock_offset_ms;

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int64_t bench_now_ms(void *user)
{
    struct timespec ts;

    (void)user;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

static int64_t bench_monotonic_ns(void *user)
{
    (void)user;
    return (int64_t)now_ns();
}

static void bench_sleep_ms(void *user, int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    (void)user;
    nanosleep(&ts, NULL);
}

static const qf_clock bench_clock = {bench_now_ms, bench_monotonic_ns,
                                     bench_sleep_ms, NULL};

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sort `v` and return its q-quantile (0..1). */
static double quantile(double *v, long n, double q)
{
    long i = (long)(q * (double)(n - 1) + 0.5);

    qsort(v, (size_t)n, sizeof(*v), compare_doubles);
    return v[i];
}

/* --- Keys -------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A 64-hex-digit key spread evenly over the shard folders. */
static void make_key(uint64_t n, char key[65])
{
    uint64_t state = n;

    for (int i = 0; i < 4; i++)
        snprintf(key + i * 16, 17, "%016llx",
                 (unsigned long long)splitmix(&state));
}

/* --- Runtime ----------------------------------------------------------- */

static qf_runtime *open_runtime(const char *dir)
{
    char path[4096];
    FILE *f;
    qf_runtime_options options = {0};
    qf_runtime *rt = NULL;
    qf_error err;

    snprintf(path, sizeof(path), "%s/plugins.yml", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fprintf(f,
            "plugin_dirs: [\"%s\", \"%s\"]\n"
            "state_dir: \"%s/state\"\n"
            "pricing:\n"
            "  echo-1: {input_per_million: 1.0, output_per_million: 2.0}\n"
            "providers:\n"
            "  text:\n"
            "    default: echo\n"
            "    echo: {plugin: test_echo, model: echo-1}\n"
            "roles:\n"
            "  plotwright: {provider: echo, chain: [cache]}\n"
            "  scene_smith: {provider: echo}\n",
            QF_BENCH_ECHO_DIR, QF_BENCH_PLUGIN_DIR, dir);
    fclose(f);

    qf_error_init(&err);
    options.config_path = path;
    options.clock = &bench_clock;
    if (qf_runtime_open(&options, &rt, &err) != QF_OK) {
        fprintf(stderr, "bench_cache_hit: %s\n", err.message);
        return NULL;
    }
    return rt;
}

/* Times `n` runs of one request on `role` into v[] (ns). Stores the text
 * length of the last response and whether it was a cache hit. */
static int time_role(qf_runtime *rt, const char *role, double *v, long n,
                     size_t *text_len, int *hit)
{
    char prompt[1024];
    qf_request *req = NULL;
    qf_error err;

    memset(prompt, 'a', sizeof(prompt));
    for (size_t i = 7; i < sizeof(prompt); i += 8)
        prompt[i] = ' ';
    qf_error_init(&err);
    if (qf_request_create(rt, role, NULL, &req, &err) != QF_OK)
        goto fail;
    qf_request_add_message(req, "user", prompt, 980);
    for (long i = -1; i < n; i++) {
        qf_response *resp = NULL;
        double start = now_ns();

        if (qf_runtime_run(rt, req, NULL, &resp, &err) != QF_OK)
            goto fail;
        if (i >= 0)
            v[i] = now_ns() - start;
        *text_len = resp->len;
        *hit = resp->cache_hit;
        qf_response_free(resp);
    }
    qf_request_free(req);
    return 0;

fail:
    fprintf(stderr, "bench_cache_hit: role %s failed: %s\n", role, err.message);
    qf_request_free(req);
    return -1;
}

static void print_figure(const char *label, double *v, long n)
{
    double median = quantile(v, n, 0.5);
    double p99 = quantile(v, n, 0.99);

    printf("%-40s median %8.2f us  p99 %8.2f us\n", label, median / 1e3,
           p99 / 1e3);
}

static int bench_runtime(qf_runtime *rt, long n)
{
    double *v = malloc(sizeof(*v) * (size_t)n);
    size_t len = 0;
    int hit = 0;

    if (v == NULL || time_role(rt, "scene_smith", v, n, &len, &hit) != 0)
        goto fail;
    print_figure("runtime, no middleware (floor)", v, n);
    if (time_role(rt, "plotwright", v, n, &len, &hit) != 0)
        goto fail;
    if (!hit) {
        fprintf(stderr, "bench_cache_hit: the [cache] role did not hit\n");
        goto fail;
    }
    printf("response size: %zu bytes\n", len);
    print_figure("runtime, chain [cache], hit", v, n);
    free(v);
    return 0;

fail:
    free(v);
    return -1;
}

/* --- Backend ----------------------------------------------------------- */

static int open_backend(qf_runtime *rt, const char *dir, const char *name,
                        backend *out)
{
    qf_cnode *map = qf_cnode_new_map(QF_LAYER_RUNTIME);
    const void *vt = NULL;
    qf_error err;
    int rc = -1;

    qf_error_init(&err);
    if (map == NULL || qf_cnode_set(map, "dir", dir, &err) != QF_OK ||
        qf_cnode_set(map, "max_bytes", "0", &err) != QF_OK)
        goto out;
    if (qf_runtime_open_instance(rt, QF_KIND_CACHE_BACKEND, "file_cache", map,
                                 name, &vt, &out->inst, &err) != QF_OK)
        goto out;
    out->vt = vt;
    out->host = qf_runtime_host(rt);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bench_cache_hit: file_cache open failed: %s\n",
                err.message);
    qf_cnode_free(map);
    return rc;
}

static int put_entry(const backend *b, uint64_t n, const char *value,
                     size_t len, int64_t ttl)
{
    char key[65];
    qf_error err;

    make_key(n, key);
    qf_error_init(&err);
    if (b->vt->put(b->inst, key, value, len, ttl, &err) != QF_OK) {
        fprintf(stderr, "bench_cache_hit: put failed: %s\n", err.message);
        return -1;
    }
    return 0;
}

/* Time one get of entry `n` in ns, or -1 when it is not a hit. */
static double time_get(const backend *b, uint64_t n)
{
    char key[65];
    void *value = NULL;
    size_t len = 0;
    double start;
    qf_status st;

    make_key(n, key);
    start = now_ns();
    st = b->vt->get(b->inst, key, &value, &len, NULL, NULL);
    start = now_ns() - start;
    b->host->free(value);
    return st == QF_OK ? start : -1;
}

static int bench_backend_hit(qf_runtime *rt, const char *dir, long n)
{
    char path[4096];
    char value[1024];
    double *v = malloc(sizeof(*v) * (size_t)n);
    backend b;

    snprintf(path, sizeof(path), "%s/single", dir);
    memset(value, 'v', sizeof(value));
    if (v == NULL || open_backend(rt, path, "file_cache@single", &b) != 0 ||
        put_entry(&b, 1, value, sizeof(value), LONG_TTL_SECONDS) != 0)
        goto fail;
    for (long i = 0; i < n; i++)
        if ((v[i] = time_get(&b, 1)) < 0)
            goto fail;
    print_figure("file_cache backend get, 1 KB value", v, n);
    free(v);
    return 0;

fail:
    fprintf(stderr, "bench_cache_hit: backend hit benchmark failed\n");
    free(v);
    return -1;
}

/* --- Growth ------------------------------------------------------------ */

typedef struct growth_row {
    long entries;
    double put_us, hit_median_us, hit_p99_us, prune_ms, prune_none_ms;
} growth_row;

/* Add puts up to `target` entries; returns mean microseconds per put. */
static double fill(const backend *b, long from, long target, const char *value,
                   size_t len)
{
    double start = now_ns();

    for (long i = from; i < target; i++)
        if (put_entry(b, (uint64_t)i, value, len, LONG_TTL_SECONDS) != 0)
            return -1;
    return (now_ns() - start) / 1e3 / (double)(target - from);
}

/* Random hits among the first `entries` entries. */
static int time_hits(const backend *b, long entries, long n, growth_row *row)
{
    double *v = malloc(sizeof(*v) * (size_t)n);
    uint64_t state = (uint64_t)entries;

    if (v == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        uint64_t key_index = splitmix(&state) % (uint64_t)entries;

        if ((v[i] = time_get(b, key_index)) < 0) {
            fprintf(stderr, "bench_cache_hit: entry %llu missed\n",
                    (unsigned long long)key_index);
            free(v);
            return -1;
        }
    }
    row->hit_median_us = quantile(v, n, 0.5) / 1e3;
    row->hit_p99_us = quantile(v, n, 0.99) / 1e3;
    free(v);
    return 0;
}

/* Time one prune that removes PRUNE_COUNT entries put with a 1 s TTL,
 * after moving the clock 2 s ahead; returns ms or -1. */
static double time_expired_prune(const backend *b, const char *value,
                                 size_t len, uint64_t base)
{
    int64_t removed = -1;
    double start;
    qf_error err;

    qf_error_init(&err);
    for (uint64_t i = 0; i < PRUNE_COUNT; i++)
        if (put_entry(b, base + i, value, len, 1) != 0)
            return -1;
    clock_offset_ms += 2000;
    start = now_ns();
    if (b->vt->prune(b->inst, &removed, &err) != QF_OK ||
        removed != PRUNE_COUNT) {
        fprintf(stderr,
                "bench_cache_hit: prune failed (removed %lld of %d): "
                "%s\n",
                (long long)removed, PRUNE_COUNT, err.message);
        return -1;
    }
    return (now_ns() - start) / 1e6;
}

/* Time a prune with nothing expired, then take the median of PRUNE_ROUNDS
 * prunes of PRUNE_COUNT expired entries each. */
static int time_prune(const backend *b, const char *value, size_t len,
                      growth_row *row)
{
    uint64_t base = ((uint64_t)1 << 40) + (uint64_t)row->entries * 16;
    double rounds[PRUNE_ROUNDS];
    int64_t removed = -1;
    double start;
    qf_error err;

    qf_error_init(&err);
    start = now_ns();
    if (b->vt->prune(b->inst, &removed, &err) != QF_OK || removed != 0) {
        fprintf(stderr,
                "bench_cache_hit: prune of nothing failed (removed "
                "%lld): %s\n",
                (long long)removed, err.message);
        return -1;
    }
    row->prune_none_ms = (now_ns() - start) / 1e6;

    for (int r = 0; r < PRUNE_ROUNDS; r++) {
        rounds[r] =
            time_expired_prune(b, value, len, base + (uint64_t)r * PRUNE_COUNT);
        if (rounds[r] < 0)
            return -1;
    }
    row->prune_ms = quantile(rounds, PRUNE_ROUNDS, 0.5);
    return 0;
}

/* Largest tenfold step from 1,000 up to `max` whose files fit twice over
 * in the free space and inodes of `dir`. */
static long fitting_max(const char *dir, long max, long value_bytes)
{
    struct statvfs fs;
    double per_entry =
        (double)((value_bytes + ENTRY_OVERHEAD + 4095) / 4096 * 4096 + 256);
    long fit = max;

    if (statvfs(dir, &fs) != 0)
        return max;
    while (fit > 1000 && ((double)fit * per_entry * 2 >
                              (double)fs.f_bavail * (double)fs.f_frsize ||
                          (unsigned long)fit * 2 > fs.f_favail))
        fit /= 10;
    if (fit != max)
        printf("NOTE: %s has room for about %ld entries only; stopping there\n",
               dir, fit);
    return fit;
}

static void print_growth(const growth_row *rows, int count, long value_bytes)
{
    printf("growth: values of %ld bytes, random keys, prune_ms is the median "
           "of %d prunes of %d expired entries\n",
           value_bytes, PRUNE_ROUNDS, PRUNE_COUNT);
    printf("%10s %10s %14s %12s %10s %16s\n", "entries", "put_us",
           "hit_median_us", "hit_p99_us", "prune_ms", "prune_nothing_ms");
    for (int i = 0; i < count; i++)
        printf("%10ld %10.1f %14.2f %12.2f %10.2f %16.3f\n", rows[i].entries,
               rows[i].put_us, rows[i].hit_median_us, rows[i].hit_p99_us,
               rows[i].prune_ms, rows[i].prune_none_ms);
    if (count > 1)
        printf("growth ratio %ld/%ld: hit median %.2f, prune %.2f\n",
               rows[count - 1].entries, rows[0].entries,
               rows[count - 1].hit_median_us / rows[0].hit_median_us,
               rows[count - 1].prune_ms / rows[0].prune_ms);
}

static int bench_growth(qf_runtime *rt, const char *dir, const bench_options *o)
{
    char path[4096];
    char *value = malloc((size_t)o->value_bytes);
    growth_row rows[8];
    long max = fitting_max(dir, o->max_entries, o->value_bytes);
    long have = 0;
    int count = 0;
    backend b;

    snprintf(path, sizeof(path), "%s/growth", dir);
    if (value == NULL || open_backend(rt, path, "file_cache@growth", &b) != 0)
        goto fail;
    memset(value, 'g', (size_t)o->value_bytes);
    for (long target = 1000; target <= max && count < 8; target *= 10) {
        growth_row *row = &rows[count];

        row->entries = target;
        row->put_us = fill(&b, have, target, value, (size_t)o->value_bytes);
        have = target;
        if (row->put_us < 0 || time_hits(&b, target, o->hits, row) != 0 ||
            time_prune(&b, value, (size_t)o->value_bytes, row) != 0)
            goto fail;
        count++;
        fprintf(stderr, "bench_cache_hit: %ld entries measured\n", target);
    }
    print_growth(rows, count, o->value_bytes);
    free(value);
    return 0;

fail:
    free(value);
    return -1;
}

/* --- Main -------------------------------------------------------------- */

static int parse_args(int argc, char **argv, bench_options *o)
{
    o->max_entries = 100000;
    o->value_bytes = 1024;
    o->hits = 20000;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);

        if (strcmp(argv[i], "--max") == 0)
            o->max_entries = v;
        else if (strcmp(argv[i], "--value-bytes") == 0)
            o->value_bytes = v;
        else if (strcmp(argv[i], "--hits") == 0)
            o->hits = v;
        else
            return -1;
    }
    if (argc % 2 == 0)
        return -1;
    return o->max_entries >= 1000 && o->value_bytes > 0 && o->hits > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/qf-bench-cache-XXXXXX";
    char cmd[128];
    bench_options o;
    qf_runtime *rt = NULL;
    int rc = 1;

    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: bench_cache_hit [--max N] [--value-bytes B] "
                        "[--hits N]\n  N >= 1000 (default 100000), B default "
                        "1024, hits per size default 20000\n");
        return 2;
    }
    if (mkdtemp(dir) == NULL || (rt = open_runtime(dir)) == NULL)
        goto out;
    printf("cache_hit: %ld timed calls per figure, folder %s\n", o.hits, dir);
    if (bench_runtime(rt, o.hits) != 0 ||
        bench_backend_hit(rt, dir, o.hits) != 0 ||
        bench_growth(rt, dir, &o) != 0)
        goto out;
    rc = 0;
out:
    qf_runtime_close(rt);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_cache_hit: could not remove %s\n", dir);
    return rc;
}

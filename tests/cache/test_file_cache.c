/*
 * test_file_cache.c - the file_cache backend driven through its vtable,
 * with instances created by the runtime and a settable clock: round trip,
 * TTL, prune, corrupt entries, LRU eviction, file modes, statistics, clear,
 * and four processes of several threads writing one folder at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "cache_fixture.h"

static char *tmp;
static char *cache_dir;
static char dir_setting[4200];
static qf_runtime *rt;

static void setup(void)
{
    tmp = qf_test_tmpdir("file-cache");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(asprintf(&cache_dir, "%s/entries", tmp), 0);
    snprintf(dir_setting, sizeof(dir_setting), "dir=%s", cache_dir);
    atomic_store(&cache_test_clock.now_ms, 1767225600000LL);
    rt = cache_test_runtime(tmp, NULL, 0, 1);
}

static void teardown(void)
{
    qf_runtime_close(rt);
    qf_test_rmtree(tmp);
    free(cache_dir);
    free(tmp);
}

static cache_test_backend open_default(void)
{
    const char *settings[] = {dir_setting, NULL};

    return cache_test_backend_open(rt, settings);
}

static void put(cache_test_backend b, const char *key, const char *value,
                int64_t ttl)
{
    qf_error err;

    qf_error_init(&err);
    if (b.vt->put(b.inst, key, value, strlen(value), ttl, &err) != QF_OK)
        ck_abort_msg("put failed: %s", err.message);
}

/* Get `key`; returns the value NUL-terminated (caller frees) or NULL. */
static char *get(cache_test_backend b, const char *key, int64_t *created)
{
    void *value = NULL;
    size_t len = 0;
    char *text;
    qf_error err;

    qf_error_init(&err);
    if (b.vt->get(b.inst, key, &value, &len, created, &err) != QF_OK)
        return NULL;
    text = malloc(len + 1);
    memcpy(text, value, len);
    text[len] = '\0';
    free(value);
    return text;
}

static qf_cache_stats stats(cache_test_backend b)
{
    qf_cache_stats s;
    qf_error err;

    memset(&s, 0, sizeof(s));
    qf_error_init(&err);
    ck_assert_int_eq(b.vt->stats(b.inst, &s, &err), QF_OK);
    return s;
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

START_TEST(round_trip_and_stats)
{
    cache_test_backend b = open_default();
    char key[65];
    int64_t created = 0;
    char *value;
    qf_cache_stats s;

    cache_test_key(1, key);
    ck_assert_ptr_null(get(b, key, NULL));
    put(b, key, "hello", 60);
    value = get(b, key, &created);
    ck_assert_str_eq(value, "hello");
    ck_assert_int_eq(created, 1767225600000LL);
    free(value);

    s = stats(b);
    ck_assert_int_eq(s.entries, 1);
    ck_assert_int_eq(s.bytes, 128 + 5);
    ck_assert_int_eq(s.hits, 1);
    ck_assert_int_eq(s.misses, 1);
    ck_assert_int_eq(s.evictions, 0);
    ck_assert_int_eq(s.expirations, 0);
}
END_TEST

START_TEST(put_replaces_value)
{
    cache_test_backend b = open_default();
    char key[65];
    char *value;

    cache_test_key(2, key);
    put(b, key, "first", 60);
    put(b, key, "second answer", 60);
    value = get(b, key, NULL);
    ck_assert_str_eq(value, "second answer");
    free(value);
    ck_assert_int_eq(stats(b).entries, 1);
    ck_assert_int_eq(stats(b).bytes, 128 + 13);
}
END_TEST

START_TEST(ttl_expiry)
{
    cache_test_backend b = open_default();
    char key[65];
    char *path;
    char *value;
    qf_cache_stats s;

    cache_test_key(3, key);
    path = cache_test_entry_path(cache_dir, key);
    put(b, key, "short-lived", 10);

    atomic_fetch_add(&cache_test_clock.now_ms, 9999);
    value = get(b, key, NULL);
    ck_assert_str_eq(value, "short-lived");
    free(value);

    atomic_fetch_add(&cache_test_clock.now_ms, 1);
    ck_assert_ptr_null(get(b, key, NULL));
    ck_assert(!exists(path));
    s = stats(b);
    ck_assert_int_eq(s.expirations, 1);
    ck_assert_int_eq(s.entries, 0);
    ck_assert_int_eq(s.bytes, 0);
    ck_assert_int_eq(s.misses, 1);
    free(path);
}
END_TEST

START_TEST(zero_ttl_never_expires)
{
    cache_test_backend b = open_default();
    char key[65];
    char *value;

    cache_test_key(4, key);
    put(b, key, "forever", 0);
    atomic_fetch_add(&cache_test_clock.now_ms, 10LL * 365 * 86400 * 1000);
    value = get(b, key, NULL);
    ck_assert_str_eq(value, "forever");
    free(value);
}
END_TEST

START_TEST(prune_removes_expired_only)
{
    cache_test_backend b = open_default();
    char key[65];
    int64_t removed = -1;
    char *path;
    qf_error err;
    qf_cache_stats s;

    for (int i = 0; i < 3; i++) {
        cache_test_key(10 + i, key);
        put(b, key, "expiring", 10);
    }
    cache_test_key(20, key);
    put(b, key, "kept", 100);
    atomic_fetch_add(&cache_test_clock.now_ms, 11000);

    qf_error_init(&err);
    ck_assert_int_eq(b.vt->prune(b.inst, &removed, &err), QF_OK);
    ck_assert_int_eq(removed, 3);
    s = stats(b);
    ck_assert_int_eq(s.entries, 1);
    ck_assert_int_eq(s.expirations, 3);
    cache_test_key(10, key);
    path = cache_test_entry_path(cache_dir, key);
    ck_assert(!exists(path));
    free(path);

    ck_assert_int_eq(b.vt->prune(b.inst, &removed, &err), QF_OK);
    ck_assert_int_eq(removed, 0);
}
END_TEST

/* Put an entry, damage its file with `damage`, and expect a removed miss. */
static void check_corrupt(void (*damage)(const char *path))
{
    cache_test_backend b = open_default();
    char key[65];
    char *path;
    qf_cache_stats s;

    cache_test_key(30, key);
    path = cache_test_entry_path(cache_dir, key);
    put(b, key, "a value that will be damaged", 60);
    damage(path);

    ck_assert_ptr_null(get(b, key, NULL));
    ck_assert(!exists(path));
    s = stats(b);
    ck_assert_int_eq(s.entries, 0);
    ck_assert_int_eq(s.bytes, 0);
    ck_assert_int_eq(s.misses, 1);
    ck_assert_int_eq(s.hits, 0);
    free(path);
}

static void truncate_by_one(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size - 1), 0);
}

static void flip_value_byte(const char *path)
{
    FILE *f = fopen(path, "r+b");
    int c;

    ck_assert_ptr_nonnull(f);
    fseek(f, 140, SEEK_SET);
    c = fgetc(f);
    fseek(f, 140, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

START_TEST(corrupt_truncated)
{
    check_corrupt(truncate_by_one);
}
END_TEST

START_TEST(corrupt_flipped_byte)
{
    check_corrupt(flip_value_byte);
}
END_TEST

START_TEST(lru_eviction_order)
{
    char max_bytes[64];
    const char *settings[] = {dir_setting, max_bytes, NULL};
    cache_test_backend b;
    char keys[4][65];
    char *value;

    /* Room for three entries of 10-byte values (138 bytes each). */
    snprintf(max_bytes, sizeof(max_bytes), "max_bytes=%d", 3 * 138);
    b = cache_test_backend_open(rt, settings);
    for (int i = 0; i < 4; i++)
        cache_test_key(40 + i, keys[i]);

    /* Access times have a resolution of one minute, so steps are 61 s. */
    for (int i = 0; i < 3; i++) {
        put(b, keys[i], "0123456789", 0);
        atomic_fetch_add(&cache_test_clock.now_ms, 61000);
    }
    value = get(b, keys[0], NULL); /* key 0 is now the most recent */
    ck_assert_str_eq(value, "0123456789");
    free(value);
    atomic_fetch_add(&cache_test_clock.now_ms, 61000);
    put(b, keys[3], "0123456789", 0);

    ck_assert_ptr_null(get(b, keys[1], NULL));
    for (int i = 0; i < 4; i++) {
        if (i == 1)
            continue;
        value = get(b, keys[i], NULL);
        ck_assert_msg(value != NULL, "entry %d was evicted", i);
        free(value);
    }
    ck_assert_int_eq(stats(b).evictions, 1);
    ck_assert_int_eq(stats(b).entries, 3);
    ck_assert_int_eq(stats(b).bytes, 3 * 138);
}
END_TEST

START_TEST(entry_larger_than_max_is_rejected)
{
    const char *settings[] = {dir_setting, "max_bytes=150", NULL};
    cache_test_backend b = cache_test_backend_open(rt, settings);
    char key[65];
    qf_error err;

    cache_test_key(50, key);
    qf_error_init(&err);
    ck_assert_int_eq(
        b.vt->put(b.inst, key, "0123456789012345678901234", 25, 0, &err),
        QF_ERR_TOO_LARGE);
    ck_assert_int_eq(stats(b).entries, 0);
}
END_TEST

static unsigned mode_of(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

START_TEST(file_modes)
{
    cache_test_backend b = open_default();
    char key[65];
    char *path;
    char *shard;
    char *index;

    cache_test_key(60, key);
    put(b, key, "private", 60);
    path = cache_test_entry_path(cache_dir, key);
    ck_assert_int_ge(asprintf(&shard, "%s/%.2s", cache_dir, key), 0);
    ck_assert_int_ge(asprintf(&index, "%s/index.db", cache_dir), 0);

    ck_assert_uint_eq(mode_of(cache_dir), 0700);
    ck_assert_uint_eq(mode_of(shard), 0700);
    ck_assert_uint_eq(mode_of(path), 0600);
    ck_assert_uint_eq(mode_of(index), 0600);
    free(path);
    free(shard);
    free(index);
}
END_TEST

START_TEST(default_dir_under_state)
{
    cache_test_backend b = cache_test_backend_open(rt, NULL);
    char key[65];
    char *dir;
    char *path;

    cache_test_key(61, key);
    put(b, key, "x", 60);
    ck_assert_int_ge(asprintf(&dir, "%s/state/cache", tmp), 0);
    path = cache_test_entry_path(dir, key);
    ck_assert(exists(path));
    free(path);
    free(dir);
}
END_TEST

START_TEST(remove_and_clear)
{
    cache_test_backend b = open_default();
    char key[65];
    int64_t removed = -1;
    qf_error err;
    qf_cache_stats s;

    for (int i = 0; i < 3; i++) {
        cache_test_key(70 + i, key);
        put(b, key, "v", 60);
    }
    qf_error_init(&err);
    ck_assert_int_eq(b.vt->remove(b.inst, key, &err), QF_OK);
    ck_assert_ptr_null(get(b, key, NULL));
    ck_assert_int_eq(stats(b).entries, 2);

    ck_assert_int_eq(b.vt->clear(b.inst, &removed, &err), QF_OK);
    ck_assert_int_eq(removed, 2);
    s = stats(b);
    ck_assert_int_eq(s.entries, 0);
    ck_assert_int_eq(s.bytes, 0);
    cache_test_key(70, key);
    ck_assert_ptr_null(get(b, key, NULL));
}
END_TEST

START_TEST(invalid_key_rejected)
{
    cache_test_backend b = open_default();
    qf_error err;
    void *value = NULL;
    size_t len = 0;

    qf_error_init(&err);
    ck_assert_int_eq(b.vt->put(b.inst, "../etc/passwd", "x", 1, 0, &err),
                     QF_ERR_INVALID);
    ck_assert_int_eq(b.vt->get(b.inst, "ABC", &value, &len, NULL, &err),
                     QF_ERR_INVALID);
}
END_TEST

START_TEST(counts_survive_reopen)
{
    cache_test_backend b = open_default();
    char key[65];
    char *value;

    cache_test_key(80, key);
    put(b, key, "kept", 0);
    for (int i = 0; i < 3; i++) {
        value = get(b, key, NULL);
        free(value);
    }
    qf_runtime_close(rt); /* destroy writes the buffered hit count */

    rt = cache_test_runtime(tmp, NULL, 0, 0);
    b = open_default();
    ck_assert_int_eq(stats(b).hits, 3);
    ck_assert_int_eq(stats(b).entries, 1);
}
END_TEST

/* --- Many processes and threads on one folder ----------------------- */

#define MP_PROCESSES 4
#define MP_THREADS   4
#define MP_KEYS      24
#define MP_ROUNDS    60

/* The value writer `w` stores for key `k`: self-describing, with a length
 * that differs per writer so a mixed file could not pass. */
static size_t mp_value(int k, int w, char *buf, size_t size)
{
    int n = snprintf(buf, size, "key=%d writer=%d|", k, w);

    for (int i = 0; i < 50 * (w + 1) && (size_t)n + 1 < size; i++)
        buf[n++] = (char)('a' + (k + w + i) % 26);
    buf[n] = '\0';
    return (size_t)n;
}

/* Check a value read back for key `k`; returns 1 when well formed. */
static int mp_value_ok(int k, const char *value)
{
    int key = -1;
    int writer = -1;
    char expected[2048];

    if (sscanf(value, "key=%d writer=%d|", &key, &writer) != 2 || key != k ||
        writer < 0 || writer >= MP_PROCESSES * MP_THREADS)
        return 0;
    mp_value(k, writer, expected, sizeof(expected));
    return strcmp(expected, value) == 0;
}

typedef struct mp_worker {
    cache_test_backend b;
    int writer;
    int failures;
} mp_worker;

static void *mp_thread(void *arg)
{
    mp_worker *w = arg;
    char key[65];
    char value[2048];
    qf_error err;

    for (int r = 0; r < MP_ROUNDS; r++) {
        int k = (r * 7 + w->writer) % MP_KEYS;
        char *got;

        cache_test_key(100 + k, key);
        qf_error_init(&err);
        if (r % 3 != 2) {
            size_t len = mp_value(k, w->writer, value, sizeof(value));

            if (w->b.vt->put(w->b.inst, key, value, len, 0, &err) != QF_OK)
                w->failures++;
        }
        got = get(w->b, key, NULL);
        if (got != NULL && !mp_value_ok(k, got))
            w->failures++;
        free(got);
    }
    return NULL;
}

/* One child process: its own runtime, MP_THREADS threads. The children
 * open their runtimes one after another (a token passed through `order`)
 * and then all write at once. */
static int mp_child(int proc, int order[2], int go[2])
{
    qf_runtime *child_rt;
    const char *settings[] = {dir_setting, NULL};
    cache_test_backend b;
    mp_worker workers[MP_THREADS];
    pthread_t threads[MP_THREADS];
    int failures = 0;
    char token;

    if (read(order[0], &token, 1) != 1)
        return 2;
    child_rt = cache_test_runtime(tmp, NULL, 1, 0);
    b = cache_test_backend_open(child_rt, settings);
    if (write(order[1], &token, 1) != 1 || read(go[0], &token, 1) != 1)
        return 2;

    for (int t = 0; t < MP_THREADS; t++) {
        workers[t] = (mp_worker){b, proc * MP_THREADS + t, 0};
        pthread_create(&threads[t], NULL, mp_thread, &workers[t]);
    }
    for (int t = 0; t < MP_THREADS; t++) {
        pthread_join(threads[t], NULL);
        failures += workers[t].failures;
    }
    qf_runtime_close(child_rt);
    return failures == 0 ? 0 : 1;
}

START_TEST(many_processes_one_folder)
{
    pid_t pids[MP_PROCESSES];
    cache_test_backend b;
    char key[65];
    int64_t file_bytes = 0;
    qf_cache_stats s;

    int order[2];
    int go[2];
    char token = 't';

    qf_runtime_close(rt);
    rt = NULL;
    ck_assert_int_eq(pipe(order), 0);
    ck_assert_int_eq(pipe(go), 0);
    for (int p = 0; p < MP_PROCESSES; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0)
            _exit(mp_child(p, order, go));
    }

    /* One token: each child opens, passes it on; then release them all. */
    ck_assert_int_eq(write(order[1], &token, 1), 1);
    for (int p = 0; p < MP_PROCESSES; p++)
        ck_assert_int_eq(write(go[1], &token, 1), 1);
    for (int p = 0; p < MP_PROCESSES; p++) {
        int status = 0;

        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "process %d saw a torn or failed entry", p);
    }

    rt = cache_test_runtime(tmp, NULL, 1, 0);
    b = open_default();
    for (int k = 0; k < MP_KEYS; k++) {
        char *value;
        char *path;
        struct stat st;

        cache_test_key(100 + k, key);
        value = get(b, key, NULL);
        ck_assert_msg(value != NULL, "key %d missing", k);
        ck_assert_msg(mp_value_ok(k, value), "key %d torn: %.40s", k, value);
        path = cache_test_entry_path(cache_dir, key);
        ck_assert_int_eq(stat(path, &st), 0);
        file_bytes += st.st_size;
        free(path);
        free(value);
    }
    s = stats(b);
    ck_assert_int_eq(s.entries, MP_KEYS);
    ck_assert_int_eq(s.bytes, file_bytes);
}
END_TEST

static Suite *file_cache_suite(void)
{
    Suite *s = suite_create("file_cache");
    TCase *tc = tcase_create("backend");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_and_stats);
    tcase_add_test(tc, put_replaces_value);
    tcase_add_test(tc, ttl_expiry);
    tcase_add_test(tc, zero_ttl_never_expires);
    tcase_add_test(tc, prune_removes_expired_only);
    tcase_add_test(tc, corrupt_truncated);
    tcase_add_test(tc, corrupt_flipped_byte);
    tcase_add_test(tc, lru_eviction_order);
    tcase_add_test(tc, entry_larger_than_max_is_rejected);
    tcase_add_test(tc, file_modes);
    tcase_add_test(tc, default_dir_under_state);
    tcase_add_test(tc, remove_and_clear);
    tcase_add_test(tc, invalid_key_rejected);
    tcase_add_test(tc, counts_survive_reopen);
    tcase_add_test(tc, many_processes_one_folder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(file_cache_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

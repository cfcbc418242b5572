/*
 * test_crash_cache.c - crash consistency of the file_cache backend. A child
 * opens the backend through the runtime and puts values of up to 256 KiB
 * over 16 keys in a loop until SIGKILL ends it at a random moment. After
 * each kill a fresh runtime must read every key back whole (exactly a value
 * some put stored for that key) or as a miss, and must still put and get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "runtime.h"
#include "testutil.h"

#include "crash_util.h"

#define KEYS       16
#define MAX_VALUE  (256 * 1024)
#define HEADER_MAX 64

static char *tmp;
static char *config_path;
static char dir_setting[4200];

typedef struct backend {
    qf_runtime *rt;
    const qf_cache_backend_vtable *vt;
    void *inst;
} backend;

static void key_of(int i, char key[65])
{
    snprintf(key, 65, "%064x", (unsigned)(0xc0de00 + i));
}

/* Value `generation` of key `i`: a header naming both, then bytes that
 * depend on key, generation and offset, so a torn or mixed value shows. */
static size_t value_of(int i, long generation, unsigned char *out)
{
    size_t len =
        HEADER_MAX + (size_t)((unsigned long)(i * 7919 + generation * 104729) %
                              (MAX_VALUE - HEADER_MAX));
    int n = snprintf((char *)out, HEADER_MAX, "key=%d gen=%ld len=%zu\n", i,
                     generation, len);

    memset(out + n, ' ', HEADER_MAX - (size_t)n);
    for (size_t j = HEADER_MAX; j < len; j++)
        out[j] = (unsigned char)(i * 131 + generation * 7 + (long)j * 13);
    return len;
}

static int backend_open(backend *b)
{
    qf_runtime_options opts = {0};
    qf_cnode *settings = qf_cnode_new_map(QF_LAYER_RUNTIME);
    const void *vt = NULL;
    qf_error err;
    int rc = -1;

    qf_error_init(&err);
    opts.config_path = config_path;
    if (settings == NULL || qf_runtime_open(&opts, &b->rt, &err) != QF_OK)
        goto out;
    if (qf_cnode_set(settings, "dir", dir_setting, &err) != QF_OK ||
        qf_runtime_open_instance(b->rt, QF_KIND_CACHE_BACKEND, "file_cache",
                                 settings, "file_cache@crash", &vt, &b->inst,
                                 &err) != QF_OK)
        goto out;
    b->vt = vt;
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "file_cache open failed: %s\n", err.message);
    qf_cnode_free(settings);
    return rc;
}

static void backend_close(backend *b)
{
    qf_runtime_close(b->rt);
    memset(b, 0, sizeof(*b));
}

/* Child: put generation after generation until killed. */
static int writer(void *ctx, int ready_fd, int report_fd)
{
    long generation = *(long *)ctx;
    unsigned char *value = malloc(MAX_VALUE);
    char key[65];
    backend b;
    qf_error err;

    if (value == NULL || backend_open(&b) != 0)
        return 3;
    crash_ready(ready_fd);
    for (;; generation++) {
        int i = (int)(generation % KEYS);
        size_t len = value_of(i, generation, value);

        key_of(i, key);
        qf_error_init(&err);
        if (b.vt->put(b.inst, key, value, len, 0, &err) != QF_OK) {
            fprintf(stderr, "put of key %d failed: %s\n", i, err.message);
            return 5;
        }
    }
}

/* A value read back must be exactly what value_of gives for the key and
 * the generation its header names. */
static void check_value(int i, const unsigned char *got, size_t len,
                        unsigned char *scratch)
{
    int key_in_header = -1;
    long generation = -1;

    ck_assert_int_ge(len, HEADER_MAX);
    ck_assert_int_eq(sscanf((const char *)got, "key=%d gen=%ld", &key_in_header,
                            &generation),
                     2);
    ck_assert_int_eq(key_in_header, i);
    ck_assert_uint_eq(value_of(i, generation, scratch), len);
    ck_assert_msg(memcmp(got, scratch, len) == 0,
                  "key %d generation %ld: value differs from what was put", i,
                  generation);
}

static int check_all(backend *b, unsigned char *scratch)
{
    char key[65];
    int hits = 0;

    for (int i = 0; i < KEYS; i++) {
        void *value = NULL;
        size_t len = 0;
        int64_t created = 0;
        qf_error err;
        qf_status status;

        key_of(i, key);
        qf_error_init(&err);
        status = b->vt->get(b->inst, key, &value, &len, &created, &err);
        if (status == QF_OK) {
            check_value(i, value, len, scratch);
            hits++;
        } else {
            ck_assert_msg(status == QF_ERR_NOT_FOUND,
                          "get of key %d failed with %d: %s", i, status,
                          err.message);
        }
        free(value);
    }
    return hits;
}

static void put_and_get(backend *b, unsigned char *scratch)
{
    char key[65];
    size_t len = value_of(3, 7, scratch);
    void *value = NULL;
    size_t got_len = 0;
    int64_t created;
    qf_error err;

    key_of(3, key);
    qf_error_init(&err);
    ck_assert_int_eq(b->vt->put(b->inst, key, scratch, len, 0, &err), QF_OK);
    ck_assert_int_eq(b->vt->get(b->inst, key, &value, &got_len, &created, &err),
                     QF_OK);
    ck_assert_uint_eq(got_len, len);
    ck_assert_int_eq(memcmp(value, scratch, len), 0);
    free(value);
}

static void setup(void)
{
    char *text = NULL;

    tmp = qf_test_tmpdir("crash-cache");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(asprintf(&text, "state_dir: %s/state\n", tmp), 0);
    config_path = qf_test_write_file(tmp, "plugins.yml", text);
    ck_assert_ptr_nonnull(config_path);
    snprintf(dir_setting, sizeof(dir_setting), "%s/entries", tmp);
    free(text);
}

static void teardown(void)
{
    qf_test_rmtree(tmp);
    free(config_path);
    free(tmp);
}

START_TEST(cache_entries_survive_sigkill)
{
    unsigned char *scratch = malloc(MAX_VALUE);
    int rounds = crash_rounds(30);
    int killed = 0, hits = 0;
    backend b;

    ck_assert_ptr_nonnull(scratch);
    crash_seed(20261204);
    for (int round = 0; round < rounds; round++) {
        long generation = (long)round * 1000000;
        crash_outcome out =
            crash_run(writer, &generation, (long)(crash_random() % 40000));

        close(out.report_fd);
        ck_assert_msg(out.killed || out.exit_code == 0,
                      "round %d: writer failed with exit code %d", round,
                      out.exit_code);
        killed += out.killed;

        ck_assert_int_eq(backend_open(&b), 0);
        hits += check_all(&b, scratch);
        put_and_get(&b, scratch);
        backend_close(&b);
    }
    fprintf(stderr, "cache: %d rounds, %d kills, %d whole entries read back\n",
            rounds, killed, hits);
    free(scratch);
}
END_TEST

static Suite *crash_cache_suite(void)
{
    Suite *s = suite_create("crash_cache");
    TCase *tc = tcase_create("sigkill");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, cache_entries_survive_sigkill);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crash_cache_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

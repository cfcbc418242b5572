/*
 * cache_fixture.c - runtime and backend setup for the cache suites.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "cache_fixture.h"

qf_test_clock cache_test_clock =
    QF_TEST_CLOCK_AT(cache_test_clock, 1767225600000LL); /* 2026-01-01 */

qf_runtime *cache_test_runtime(const char *dir, const char *yaml,
                               int system_clock, int scan)
{
    char *text = NULL;
    qf_runtime_options opts = {0};
    qf_runtime *rt;

    ck_assert_int_ge(
        asprintf(&text, "state_dir: %s/state\n%s", dir, yaml ? yaml : ""), 0);
    opts.clock = system_clock ? NULL : &cache_test_clock.vtable;
    opts.no_registry_scan = !scan;
    rt = qf_test_runtime_open(dir, "plugins.yml", text, opts);
    free(text);
    return rt;
}

cache_test_backend cache_test_backend_open(qf_runtime *rt,
                                           const char *const *settings)
{
    cache_test_backend b = {NULL, NULL};
    qf_cnode *map = qf_cnode_new_map(QF_LAYER_RUNTIME);
    const void *vt = NULL;
    qf_error err;

    qf_error_init(&err);
    for (size_t i = 0; settings && settings[i]; i++) {
        char *pair = strdup(settings[i]);
        char *eq = strchr(pair, '=');

        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        ck_assert_int_eq(qf_cnode_set(map, pair, eq + 1, &err), QF_OK);
        free(pair);
    }
    if (qf_runtime_open_instance(rt, QF_KIND_CACHE_BACKEND, "file_cache", map,
                                 "file_cache@test", &vt, &b.inst,
                                 &err) != QF_OK)
        ck_abort_msg("file_cache open failed: %s", err.message);
    qf_cnode_free(map);
    b.vt = vt;
    return b;
}

char *cache_test_entry_path(const char *dir, const char *key)
{
    char *path = NULL;

    ck_assert_int_ge(asprintf(&path, "%s/%.2s/%s.qfc", dir, key, key), 0);
    return path;
}

void cache_test_key(int n, char key[65])
{
    snprintf(key, 65, "%02x%062x", (unsigned)(n * 37) & 0xff, (unsigned)n);
}

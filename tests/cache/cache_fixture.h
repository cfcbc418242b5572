/*
 * cache_fixture.h - helpers shared by the cache suites: a runtime over a
 * temporary state folder with a settable clock, and file_cache backend
 * instances opened through it.
 */
#ifndef QF_CACHE_FIXTURE_H
#define QF_CACHE_FIXTURE_H

#include "error.h"
#include "runtime.h"
#include "testruntime.h"

/* The test clock, at 2026-01-01 UTC until a test changes now_ms. */
extern qf_test_clock cache_test_clock;

/*
 * Write `yaml` (state_dir: is prepended, pointing at dir/state) to
 * dir/plugins.yml and open a runtime on it with the test clock (or the
 * system clock when `system_clock` is set). Fails the test on error.
 */
qf_runtime *cache_test_runtime(const char *dir, const char *yaml,
                               int system_clock, int scan);

/* A file_cache instance with settings "name=value" pairs (NULL-ended). */
typedef struct cache_test_backend {
    const qf_cache_backend_vtable *vt;
    void *inst;
} cache_test_backend;

cache_test_backend cache_test_backend_open(qf_runtime *rt,
                                           const char *const *settings);

/* Entry path of `key` under cache folder `dir`; malloc'd. */
char *cache_test_entry_path(const char *dir, const char *key);

/* A 64-hex key made from a small number. */
void cache_test_key(int n, char key[65]);

#endif /* QF_CACHE_FIXTURE_H */

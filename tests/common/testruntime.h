/*
 * testruntime.h - helpers for suites that drive the runtime. A fake clock
 * records its sleeps and returns at once. Other helpers open a runtime on a
 * configuration the test writes, keep a stream's chunks, read the requests
 * qf-sim logged and capture stderr to a file.
 */
#ifndef QF_TESTRUNTIME_H
#define QF_TESTRUNTIME_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "runtime.h"

#define QF_TEST_CLOCK_SLEEPS 16

/*
 * A clock that never waits. A sleep adds its length to now_ms and is
 * recorded (the first QF_TEST_CLOCK_SLEEPS of them). Tests may set or
 * advance now_ms at any time. Every update is atomic, so threads may share
 * the clock.
 */
typedef struct qf_test_clock {
    qf_clock vtable;         /* hand &vtable to the runtime options */
    _Atomic int64_t now_ms;  /* the time, or the offset over real time */
    int real_time;           /* non-zero: now is real UTC plus now_ms */
    _Atomic int sleep_count; /* every sleep, also those not recorded */
    int64_t sleeps[QF_TEST_CLOCK_SLEEPS]; /* the first sleeps, in ms */
} qf_test_clock;

/* The clock's functions; `user` is the qf_test_clock. */
int64_t qf_test_clock_now_ms(void *user);
int64_t qf_test_clock_monotonic_ns(void *user);
void qf_test_clock_sleep_ms(void *user, int64_t ms);

/* A static initializer at `ms`, for a clock that outlives one test:
 * qf_test_clock c = QF_TEST_CLOCK_AT(c, ms); */
/* clang-format off */
#define QF_TEST_CLOCK_AT(self, ms)                                   \
    {{qf_test_clock_now_ms, qf_test_clock_monotonic_ns,              \
      qf_test_clock_sleep_ms, &(self)},                              \
     (ms), 0, 0, {0}}
/* clang-format on */

/* Start the clock at `now_ms` (Unix ms). Time moves only when set or slept. */
void qf_test_clock_init(qf_test_clock *clock, int64_t now_ms);

/* Start the clock at the real UTC time, which keeps running, plus the
 * time slept, for suites whose peers (qf-sim's HTTP dates) read it too. */
void qf_test_clock_init_real(qf_test_clock *clock);

/*
 * Write `yaml` to dir/name and open a runtime on it with `options`, whose
 * config_path is set here (a NULL clock means the system clock). Fails
 * the test with the runtime's message when either step fails. The caller
 * closes the runtime with qf_runtime_close.
 */
qf_runtime *qf_test_runtime_open(const char *dir, const char *name,
                                 const char *yaml, qf_runtime_options options);

/* Chunks a stream sink received, each a malloc'd copy. */
#define QF_TEST_CHUNKS_MAX 64

typedef struct qf_test_chunks {
    char *items[QF_TEST_CHUNKS_MAX];
    int count;
} qf_test_chunks;

/* The sink's on_delta with a qf_test_chunks as `user`. Fails the test
 * past QF_TEST_CHUNKS_MAX chunks. */
qf_status qf_test_chunks_collect(void *user, const char *text, size_t len);
void qf_test_chunks_free(qf_test_chunks *chunks);

/* Return the requests qf-sim logged to `log_path` (its --log) as an array
 * of objects, never NULL. The caller frees it with cJSON_Delete. */
cJSON *qf_test_sim_log_read(const char *log_path);
int qf_test_sim_log_count(const char *log_path);

/* Send stderr to dir/stderr.log and log at `level` until
 * qf_test_stderr_end. Returns the saved stderr descriptor. */
int qf_test_stderr_begin(const char *dir, qf_log_level level);

/* Restore stderr and return what was written (malloc'd). */
char *qf_test_stderr_end(int saved, const char *dir);

#endif /* QF_TESTRUNTIME_H */

/*
 * testruntime.h - helpers for suites that drive the runtime: a fake clock
 * whose sleeps return at once and are recorded, and a runtime opened on a
 * configuration the test writes.
 */
#ifndef QF_TESTRUNTIME_H
#define QF_TESTRUNTIME_H

#include <stdint.h>

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

/* Start the clock at `now_ms` (Unix ms). Time stands still until set. */
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

#endif /* QF_TESTRUNTIME_H */

/*
 * testruntime.c - the fake clock and the runtime opener shared by the
 * suites that run requests through the runtime. The clock's functions
 * reach their qf_test_clock through the qf_clock's user pointer.
 */
#include "testruntime.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "error.h"
#include "testutil.h"

static int64_t real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qf_test_clock_now_ms(void *user)
{
    qf_test_clock *clock = user;
    int64_t now = atomic_load(&clock->now_ms);

    return clock->real_time ? real_ms() + now : now;
}

int64_t qf_test_clock_monotonic_ns(void *user)
{
    return qf_test_clock_now_ms(user) * 1000000;
}

void qf_test_clock_sleep_ms(void *user, int64_t ms)
{
    qf_test_clock *clock = user;
    int index = atomic_fetch_add(&clock->sleep_count, 1);

    if (index < QF_TEST_CLOCK_SLEEPS)
        clock->sleeps[index] = ms;
    atomic_fetch_add(&clock->now_ms, ms);
}

void qf_test_clock_init(qf_test_clock *clock, int64_t now_ms)
{
    memset(clock, 0, sizeof(*clock));
    clock->vtable.now_ms = qf_test_clock_now_ms;
    clock->vtable.monotonic_ns = qf_test_clock_monotonic_ns;
    clock->vtable.sleep_ms = qf_test_clock_sleep_ms;
    clock->vtable.user = clock;
    atomic_store(&clock->now_ms, now_ms);
}

void qf_test_clock_init_real(qf_test_clock *clock)
{
    qf_test_clock_init(clock, 0);
    clock->real_time = 1;
}

qf_runtime *qf_test_runtime_open(const char *dir, const char *name,
                                 const char *yaml, qf_runtime_options options)
{
    char *path = qf_test_write_file(dir, name, yaml);
    qf_runtime *rt = NULL;
    qf_error err;

    ck_assert_msg(path != NULL, "cannot write %s/%s", dir, name);
    options.config_path = path;
    qf_error_init(&err);
    ck_assert_msg(qf_runtime_open(&options, &rt, &err) == QF_OK,
                  "runtime open failed: %s", err.message);
    free(path);
    return rt;
}

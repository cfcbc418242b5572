/*
 * crash_util.h - run a writer in a child process and kill it with SIGKILL
 * at a chosen moment, for the crash-consistency suites.
 *
 * The child calls crash_ready() once its setup is done; the parent waits
 * for that, sleeps the requested number of microseconds and kills it, so
 * the delay measures time spent inside the writes under test.
 */
#ifndef QF_CRASH_UTIL_H
#define QF_CRASH_UTIL_H

#include <stdint.h>
#include <sys/types.h>

/* The child's body. `report_fd` is the write end of a pipe the parent
 * reads after the kill; call crash_ready(ready_fd) when setup is done.
 * Return 0 on success; any other value becomes the child's exit code. */
typedef int (*crash_child_fn)(void *ctx, int ready_fd, int report_fd);

typedef struct crash_outcome {
    int killed;    /* 1 when SIGKILL ended the child */
    int exit_code; /* the child's exit code when it was not killed */
    int report_fd; /* read end of the report pipe; the caller closes it */
} crash_outcome;

/* Signal the parent that setup is done. */
void crash_ready(int ready_fd);

/*
 * Fork, run `fn` in the child, wait (30 s at most) for its ready signal,
 * sleep `delay_us` (less when the child exits sooner) and kill it with
 * SIGKILL. Fails the test when the child
 * dies or hangs before it is ready.
 */
crash_outcome crash_run(crash_child_fn fn, void *ctx, long delay_us);

/* Number of rounds: $QF_CRASH_ROUNDS, else `fallback`. */
int crash_rounds(int fallback);

/* Deterministic pseudo-random numbers: seed from $QF_CRASH_SEED, else
 * `fallback`; the seed is printed so a failing run can be repeated. */
void crash_seed(uint64_t fallback);
uint64_t crash_random(void);

/* Read exactly `len` bytes unless the pipe ends first; returns bytes read. */
size_t crash_read_full(int fd, void *buf, size_t len);

/* Microseconds of the monotonic clock. */
int64_t crash_now_us(void);

#endif /* QF_CRASH_UTIL_H */

/*
 * crash_util.c - fork a writer, wait for its ready byte on a pipe, kill it
 * with SIGKILL after a delay, and hand back the report pipe. Also a small
 * seeded random generator (splitmix64) so each run's delays are printed
 * and can be repeated.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "crash_util.h"

static uint64_t random_state;

void crash_ready(int ready_fd)
{
    char byte = 'R';

    /* The descriptor stays open until the child exits. The parent's poll
     * then returns a hang-up, so it stops waiting early. */
    if (write(ready_fd, &byte, 1) != 1)
        _exit(4);
}

/* Sleep up to `delay_us`, returning early when the child exits. */
static void sleep_unless_exit(int ready_fd, long delay_us)
{
    struct pollfd pfd = {ready_fd, POLLIN, 0};
    struct timespec wait = {delay_us / 1000000, (delay_us % 1000000) * 1000};

    while (ppoll(&pfd, 1, &wait, NULL) < 0 && errno == EINTR)
        ;
}

static void wait_ready(int fd, pid_t pid)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    char byte = 0;
    int status;

    if (poll(&pfd, 1, 30000) != 1 || read(fd, &byte, 1) != 1 || byte != 'R') {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("crash child %d failed before its setup was done (%s)",
                     (int)pid, WIFEXITED(status) ? "exited" : "killed");
    }
}

crash_outcome crash_run(crash_child_fn fn, void *ctx, long delay_us)
{
    crash_outcome out = {0, 0, -1};
    int ready[2], report[2];
    int status = 0;
    pid_t pid;

    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(report), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        close(report[0]);
        _exit(fn(ctx, ready[1], report[1]));
    }

    close(ready[1]);
    close(report[1]);
    wait_ready(ready[0], pid);
    if (delay_us > 0)
        sleep_unless_exit(ready[0], delay_us);
    close(ready[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;

    out.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    out.report_fd = report[0];
    return out;
}

int crash_rounds(int fallback)
{
    const char *text = getenv("QF_CRASH_ROUNDS");
    long value = text ? strtol(text, NULL, 10) : 0;

    return value > 0 && value < 100000 ? (int)value : fallback;
}

void crash_seed(uint64_t fallback)
{
    const char *text = getenv("QF_CRASH_SEED");

    random_state = text ? strtoull(text, NULL, 10) : fallback;
    fprintf(stderr,
            "crash test seed %" PRIu64 " (set QF_CRASH_SEED to repeat)\n",
            random_state);
}

uint64_t crash_random(void)
{
    uint64_t z = (random_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t crash_read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

int64_t crash_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

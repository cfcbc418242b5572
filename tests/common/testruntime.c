/*
 * testruntime.c - the fake clock, runtime opener, chunk sink, qf-sim log
 * reader and stderr capture shared by the suites that run requests through
 * the runtime. The clock's functions reach their qf_test_clock through the
 * qf_clock's user pointer.
 */
#include "testruntime.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

qf_status qf_test_chunks_collect(void *user, const char *text, size_t len)
{
    qf_test_chunks *chunks = user;

    ck_assert_int_lt(chunks->count, QF_TEST_CHUNKS_MAX);
    chunks->items[chunks->count] = strndup(text, len);
    ck_assert_ptr_nonnull(chunks->items[chunks->count]);
    chunks->count++;
    return QF_OK;
}

void qf_test_chunks_free(qf_test_chunks *chunks)
{
    for (int i = 0; i < chunks->count; i++)
        free(chunks->items[i]);
    chunks->count = 0;
}

cJSON *qf_test_sim_log_read(const char *log_path)
{
    cJSON *list = cJSON_CreateArray();
    char *text = qf_test_read_file(log_path, NULL);
    char *line, *next;

    ck_assert_ptr_nonnull(list);
    for (line = text; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (*line != '\0')
            cJSON_AddItemToArray(list, cJSON_Parse(line));
    }
    free(text);
    return list;
}

int qf_test_sim_log_count(const char *log_path)
{
    cJSON *list = qf_test_sim_log_read(log_path);
    int count = cJSON_GetArraySize(list);

    cJSON_Delete(list);
    return count;
}

static char *stderr_path(const char *dir)
{
    char *path = NULL;

    ck_assert_int_ne(asprintf(&path, "%s/stderr.log", dir), -1);
    return path;
}

int qf_test_stderr_begin(const char *dir, qf_log_level level)
{
    char *path = stderr_path(dir);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(saved, 0);
    ck_assert_msg(fd >= 0, "cannot create %s", path);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    close(fd);
    free(path);
    qf_log_set_level(level);
    return saved;
}

char *qf_test_stderr_end(int saved, const char *dir)
{
    char *path = stderr_path(dir);
    char *logged;

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    logged = qf_test_read_file(path, NULL);
    ck_assert_msg(logged != NULL, "cannot read %s", path);
    free(path);
    return logged;
}

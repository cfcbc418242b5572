/*
 * testutil.h - helpers shared by the Check suites: temporary folders,
 * files, running the built tools, and starting qf-sim on a free loopback
 * port.
 */
#ifndef QF_TESTUTIL_H
#define QF_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include <check.h>

/* Create a fresh folder under $TMPDIR (or /tmp); returns a malloc'd path. */
char *qf_test_tmpdir(const char *tag);

/* Remove a folder tree (rm -rf); ignores a missing path. */
void qf_test_rmtree(const char *path);

/* Write `text` to dir/name, creating it with mode 0600; returns the path. */
char *qf_test_write_file(const char *dir, const char *name, const char *text);

/* Read a whole file; returns a malloc'd NUL-terminated string or NULL. */
char *qf_test_read_file(const char *path, size_t *len);

/* Path of a built file: QF_TEST_BUILD_DIR/rel. Returns a malloc'd string. */
char *qf_test_build_path(const char *rel);

/* Path of a source file: QF_TEST_SOURCE_DIR/rel. */
char *qf_test_source_path(const char *rel);

/* Result of running a command. */
typedef struct qf_test_run {
    int exit_code; /* -1 when killed by a signal */
    char *out;     /* stdout, NUL-terminated */
    char *err;     /* stderr, NUL-terminated */
} qf_test_run;

/*
 * Run argv (argv[0] is a path) with extra environment entries
 * ("NAME=value", NULL-terminated, may be NULL) in folder `cwd` (may be
 * NULL), feeding no stdin. Waits at most `timeout_s` seconds, then kills.
 */
int qf_test_run_argv(char *const argv[], char *const env[], const char *cwd,
                     int timeout_s, qf_test_run *out);
void qf_test_run_free(qf_test_run *run);

/* A running qf-sim. */
typedef struct qf_test_sim {
    pid_t pid;
    int port;
    char base_url[64]; /* http://127.0.0.1:PORT */
} qf_test_sim;

/* Start build/bin/qf-sim --port 0 with extra arguments (NULL-terminated,
 * may be NULL) and wait for its "listening" line. Returns 0 on success. */
int qf_test_sim_start(qf_test_sim *sim, const char *const extra_args[]);
void qf_test_sim_stop(qf_test_sim *sim);

#endif /* QF_TESTUTIL_H */

/*
 * gateway_fixture.h - a `qf serve` child process in front of qf-sim, and
 * an HTTP client for it, for the gateway's Check suites.
 */
#ifndef QF_GATEWAY_FIXTURE_H
#define QF_GATEWAY_FIXTURE_H

#include <sys/types.h>

#include "testutil.h"

typedef struct gw_fixture {
    char *dir;
    qf_test_sim sim;
    char *config_path;
    char *log_path; /* the gateway's stderr: log lines and access log */
    pid_t pid;
    int port;
} gw_fixture;

/* One HTTP exchange. */
typedef struct gw_reply {
    long status;
    char *body;
    char *headers;
} gw_reply;

/* Start qf-sim and write the configuration (roles for every test, then
 * `gateway_yaml`, a top-level gateway: block or ""). */
void gw_setup(gw_fixture *gw, const char *gateway_yaml);

/* Start `qf serve --listen 127.0.0.1:0` with extra environment entries
 * ("NAME=value", NULL-terminated, may be NULL); returns 0 when it prints
 * its listening line. */
int gw_start(gw_fixture *gw, char *const env[]);

/* Send SIGTERM and wait; returns the exit status, -1 when it was killed. */
int gw_stop(gw_fixture *gw);
void gw_teardown(gw_fixture *gw);

/* Rewrite the configuration file with `gateway_yaml` and roles where the
 * plotwright's model is `model` (NULL writes a broken file). */
void gw_write_config(gw_fixture *gw, const char *plotwright_model,
                     const char *gateway_yaml);

/* Request `path` with `body` (NULL for GET) and extra headers
 * (NULL-terminated, may be NULL). */
void gw_request(const gw_fixture *gw, const char *path, const char *body,
                const char *const headers[], gw_reply *out);
void gw_reply_free(gw_reply *reply);

/* Value of header `name` in a reply (malloc'd) or NULL. */
char *gw_header(const gw_reply *reply, const char *name);

/* The value of a metric line "NAME{LABELS} VALUE" on /metrics, or -1. */
double gw_metric(const gw_fixture *gw, const char *series);

/* Poll gw_metric until it equals `expected`, at most five seconds, and
 * return the last value. A request's counters are recorded when its
 * connection completes, which may be just after the client has the
 * response. */
double gw_metric_wait(const gw_fixture *gw, const char *series,
                      double expected);

#endif /* QF_GATEWAY_FIXTURE_H */

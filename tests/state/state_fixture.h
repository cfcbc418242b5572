/*
 * state_fixture.h - helpers for the state store suites: a fresh store in a
 * temporary folder with a fixed clock, and small query shortcuts.
 */
#ifndef QF_STATE_FIXTURE_H
#define QF_STATE_FIXTURE_H

#include <stdint.h>

#include "state.h"
#include "testutil.h"

/* A clock that returns `ms` and then advances by `step` on each call. */
typedef struct fixture_clock {
    int64_t ms;
    int64_t step;
} fixture_clock;

int64_t fixture_clock_read(void *ctx);

/* 2026-12-04T20:00:00.000Z */
#define FIXTURE_EPOCH_MS 1796414400000LL

typedef struct state_fixture {
    char *dir;
    qf_state *st;
    fixture_clock clock;
} state_fixture;

/* Create a store under a new temporary folder; fails the test on error. */
void fixture_open(state_fixture *fx, const char *tag);
void fixture_close(state_fixture *fx);

/* Run one SQL statement that returns one integer. */
long long fixture_query_int(qf_state *st, const char *sql);
/* Run one SQL statement that returns one text; malloc'd or NULL. */
char *fixture_query_text(qf_state *st, const char *sql);

/* Fill the store with a project, trace units, snapshots and artifacts. */
void fixture_populate(qf_state *st);

/* Export everything; fails the test on error. Returns malloc'd text. */
char *fixture_export(qf_state *st, unsigned include);

#endif /* QF_STATE_FIXTURE_H */

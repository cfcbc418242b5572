/*
 * state_fixture.c - shared setup of the state store suites.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_fixture.h"

int64_t fixture_clock_read(void *ctx)
{
    fixture_clock *clock = ctx;
    int64_t now = clock->ms;

    clock->ms += clock->step;
    return now;
}

void fixture_open(state_fixture *fx, const char *tag)
{
    qf_error err;
    char *state_dir;
    size_t len;

    qf_error_init(&err);
    fx->dir = qf_test_tmpdir(tag);
    ck_assert_ptr_nonnull(fx->dir);
    len = strlen(fx->dir) + 16;
    state_dir = malloc(len);
    snprintf(state_dir, len, "%s/state", fx->dir);
    fx->clock.ms = FIXTURE_EPOCH_MS;
    fx->clock.step = 1;
    ck_assert_msg(qf_state_open(state_dir, 1, &fx->st, &err) == QF_OK, "%s",
                  err.message);
    qf_state_set_clock(fx->st, fixture_clock_read, &fx->clock);
    free(state_dir);
}

void fixture_close(state_fixture *fx)
{
    qf_state_close(fx->st);
    fx->st = NULL;
    qf_test_rmtree(fx->dir);
    free(fx->dir);
    fx->dir = NULL;
}

long long fixture_query_int(qf_state *st, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    long long value = -1;

    ck_assert_int_eq(sqlite3_prepare_v2(qf_state_db(st), sql, -1, &stmt, NULL),
                     SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

char *fixture_query_text(qf_state *st, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    char *value = NULL;

    ck_assert_int_eq(sqlite3_prepare_v2(qf_state_db(st), sql, -1, &stmt, NULL),
                     SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
        value = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return value;
}

#define CHECK_OK(call)                                                         \
    do {                                                                       \
        qf_status s_ = (call);                                                 \
        ck_assert_msg(s_ == QF_OK, "%s: %s", #call, err.message);              \
    } while (0)

void fixture_populate(qf_state *st)
{
    qf_error err;

    qf_error_init(&err);
    CHECK_OK(
        qf_state_project_init(st, "Lighthouse", "Ada", "A coastal tale", &err));
    CHECK_OK(qf_state_tu_create(st, "TU-2026-12-04-SR01", "plotwright",
                                "{\"title\": \"The keeper\", \"n\": 3}", &err));
    CHECK_OK(qf_state_tu_create(
        st, "TU-2026-12-05-LW02", "lore_weaver\tand\nfriend \x01 ü",
        "{\"quote\": \"line one\\nline \\\"two\\\"\"}", &err));
    CHECK_OK(qf_state_tu_move(st, "TU-2026-12-04-SR01", "stabilizing", &err));
    CHECK_OK(qf_state_artifact_put(st, "hook-1", "hook_card",
                                   "{\"hook\": \"A light goes dark\"}",
                                   "[\"act1\"]", &err));
    CHECK_OK(qf_state_artifact_put(st, "canon-ü", "canon",
                                   "{\"fact\": \"Fog – every night\"}", NULL,
                                   &err));
    CHECK_OK(qf_state_snapshot_create(st, "snap-1", "first cut", &err));
    CHECK_OK(qf_state_artifact_put(st, "scene-1", "scene",
                                   "{\"text\": \"yes\"}", NULL, &err));
}

char *fixture_export(qf_state *st, unsigned include)
{
    qf_error err;
    char *text = NULL;
    size_t len = 0;

    qf_error_init(&err);
    CHECK_OK(qf_state_export(st, include, &text, &len, &err));
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

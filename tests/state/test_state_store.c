/*
 * test_state_store.c - the state store's entities: trace unit ids and the
 * whole lifecycle table, snapshots, artifacts, history, timestamps, and
 * the refusal of a store with a newer schema, a second init, and several
 * processes creating one new store at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state_fixture.h"

static const char *const statuses[] = {"hot-proposed", "stabilizing",
                                       "gatecheck",    "cold-merged",
                                       "deferred",     "rejected"};

/* Moves from hot-proposed that reach each status, NULL-terminated. */
static const char *const route[6][4] = {
    {NULL},
    {"stabilizing", NULL},
    {"stabilizing", "gatecheck", NULL},
    {"stabilizing", "gatecheck", "cold-merged", NULL},
    {"deferred", NULL},
    {"rejected", NULL},
};

/* Legal next states of each status, as the refusal message lists them. */
static const char *const legal[6] = {
    "stabilizing, deferred, rejected", "gatecheck, deferred, rejected",
    "cold-merged, stabilizing",        NULL,
    "stabilizing, rejected",           NULL,
};

static int is_legal(int from, int to)
{
    const char *list = legal[from];
    const char *hit = list ? strstr(list, statuses[to]) : NULL;

    /* "stabilizing" must not match inside another name; none contains it. */
    return hit != NULL;
}

START_TEST(lifecycle_every_move)
{
    state_fixture fx;
    qf_error err;
    char id[32], expected[256];

    fixture_open(&fx, "state-lifecycle");
    for (int from = 0; from < 6; from++) {
        for (int to = 0; to < 6; to++) {
            qf_status status;

            qf_error_init(&err);
            snprintf(id, sizeof(id), "TU-2026-12-04-SR%02d", from * 6 + to);
            ck_assert_int_eq(qf_state_tu_create(fx.st, id, NULL, NULL, &err),
                             QF_OK);
            for (int i = 0; route[from][i]; i++)
                ck_assert_int_eq(
                    qf_state_tu_move(fx.st, id, route[from][i], &err), QF_OK);

            status = qf_state_tu_move(fx.st, id, statuses[to], &err);
            if (is_legal(from, to)) {
                ck_assert_msg(status == QF_OK, "%s -> %s: %s", statuses[from],
                              statuses[to], err.message);
                continue;
            }
            ck_assert_int_eq(status, QF_ERR_REFUSED);
            if (!legal[from])
                snprintf(expected, sizeof(expected),
                         "%s is %s, a final state; no move is allowed", id,
                         statuses[from]);
            else
                snprintf(expected, sizeof(expected),
                         "cannot move %s from %s to %s; legal next states: %s",
                         id, statuses[from], statuses[to], legal[from]);
            ck_assert_str_eq(err.message, expected);
        }
    }
    fixture_close(&fx);
}
END_TEST

START_TEST(lifecycle_move_records_status)
{
    state_fixture fx;
    qf_error err;
    cJSON *tu = NULL;

    qf_error_init(&err);
    fixture_open(&fx, "state-move");
    ck_assert_int_eq(qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", "me",
                                        "{\"a\": 1}", &err),
                     QF_OK);
    ck_assert_int_eq(
        qf_state_tu_move(fx.st, "TU-2026-12-04-SR01", "stabilizing", &err),
        QF_OK);
    ck_assert_int_eq(qf_state_tu_get(fx.st, "TU-2026-12-04-SR01", &tu, &err),
                     QF_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "status")->valuestring,
                     "stabilizing");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "owner")->valuestring, "me");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "data")->valuestring, "{\"a\":1}");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "created")->valuestring,
                     "2026-12-04T20:00:00.000Z");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "modified")->valuestring,
                     "2026-12-04T20:00:00.002Z");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(tu, "snapshot")));
    cJSON_Delete(tu);

    ck_assert_int_eq(fixture_query_int(fx.st, "SELECT COUNT(*) FROM history "
                                              "WHERE entity = 'trace_unit'"),
                     2);
    char *details = fixture_query_text(
        fx.st, "SELECT details FROM history WHERE action = 'move'");
    ck_assert_str_eq(details,
                     "{\"from\":\"hot-proposed\",\"to\":\"stabilizing\"}");
    free(details);
    fixture_close(&fx);
}
END_TEST

START_TEST(lifecycle_unknown_status)
{
    state_fixture fx;
    qf_error err;

    qf_error_init(&err);
    fixture_open(&fx, "state-unknown");
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL, NULL, &err),
        QF_OK);
    ck_assert_int_eq(
        qf_state_tu_move(fx.st, "TU-2026-12-04-SR01", "done", &err),
        QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "invalid status 'done'; expected one of hot-proposed, "
                     "stabilizing, gatecheck, cold-merged, deferred, rejected");
    ck_assert_int_eq(
        qf_state_tu_move(fx.st, "TU-2026-12-04-XX99", "stabilizing", &err),
        QF_ERR_NOT_FOUND);
    fixture_close(&fx);
}
END_TEST

START_TEST(tu_id_validation)
{
    static const char *const good[] = {
        "TU-2026-12-04-SR01", "TU-2024-02-29-AB00", "TU-2026-01-31-ABCD99",
        "TU-2026-12-04-ABC12"};
    static const struct {
        const char *id;
        const char *why;
    } bad[] = {
        {"TU-2026-12-04-S01", "the layout does not match"},
        {"TU-2026-12-04-ABCDE01", "the layout does not match"},
        {"tu-2026-12-04-SR01", "the layout does not match"},
        {"TU-2026-13-04-SR01", "the date does not exist"},
        {"TU-2025-02-29-SR01", "the date does not exist"},
        {"TU-2026-04-31-SR01", "the date does not exist"},
        {"TU-2026-00-10-SR01", "the date does not exist"},
        {"TU-20x6-12-04-SR01", "the date must be digits"},
        {"TU-2026-12-04-sr01", "the suffix must be two to four capital letters "
                               "and two digits"},
        {"TU-2026-12-04-SR0A", "the suffix must be two to four capital letters "
                               "and two digits"},
        {"TU-2026-12-04-S1R1", "the suffix must be two to four capital letters "
                               "and two digits"},
    };
    qf_error err;
    char expected[512];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        qf_error_init(&err);
        ck_assert_msg(qf_state_tu_id_validate(good[i], &err) == QF_OK, "%s: %s",
                      good[i], err.message);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qf_error_init(&err);
        ck_assert_int_eq(qf_state_tu_id_validate(bad[i].id, &err),
                         QF_ERR_INVALID);
        snprintf(expected, sizeof(expected),
                 "invalid trace unit id '%s': %s; expected TU-YYYY-MM-DD-XX00 "
                 "(a valid date, two to four capital letters and two digits), "
                 "e.g. TU-2026-12-04-SR01",
                 bad[i].id, bad[i].why);
        ck_assert_str_eq(err.message, expected);
    }
}
END_TEST

START_TEST(tu_create_rejects_bad_input)
{
    state_fixture fx;
    qf_error err;

    qf_error_init(&err);
    fixture_open(&fx, "state-tu-bad");
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-02-30-SR01", NULL, NULL, &err),
        QF_ERR_INVALID);
    ck_assert_int_eq(qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL,
                                        "{not json", &err),
                     QF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "is not valid JSON"));
    ck_assert_int_eq(qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL,
                                        "{\"a\": \"\xff\xfe\"}", &err),
                     QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "the trace unit data is not valid UTF-8; pass UTF-8 text");
    ck_assert_int_eq(qf_state_tu_create(fx.st, "TU-2026-12-04-SR01",
                                        "\xed\xa0\x80", NULL, &err),
                     QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "the owner is not valid UTF-8; pass UTF-8 text");
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL, NULL, &err),
        QF_OK);
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL, NULL, &err),
        QF_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "trace unit TU-2026-12-04-SR01 already exists; pick "
                     "another id");
    ck_assert_int_eq(
        fixture_query_int(fx.st, "SELECT COUNT(*) FROM trace_units"), 1);
    fixture_close(&fx);
}
END_TEST

START_TEST(tu_create_with_all_fields)
{
    state_fixture fx;
    qf_error err;
    cJSON *tu = NULL;
    qf_state_tu_fields fields = {.owner = "scene_smith",
                                 .responsible = "ada",
                                 .timebox = "3d",
                                 .data = "{ \"k\" : [1, 2] }",
                                 .metadata = "{\"source\": \"cli\"}",
                                 .snapshot = "snap-1"};

    qf_error_init(&err);
    fixture_open(&fx, "state-tu-fields");
    ck_assert_int_eq(
        qf_state_tu_create_with(fx.st, "TU-2026-12-06-AB01", &fields, &err),
        QF_ERR_NOT_FOUND);
    ck_assert_str_eq(err.message, "snapshot snap-1 not found; 'qf state "
                                  "snapshot list' shows the existing ones");
    ck_assert_int_eq(qf_state_snapshot_create(fx.st, "snap-1", NULL, &err),
                     QF_OK);
    ck_assert_int_eq(
        qf_state_tu_create_with(fx.st, "TU-2026-12-06-AB01", &fields, &err),
        QF_OK);
    ck_assert_int_eq(qf_state_tu_get(fx.st, "TU-2026-12-06-AB01", &tu, &err),
                     QF_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "owner")->valuestring,
                     "scene_smith");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "responsible")->valuestring,
                     "ada");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "timebox")->valuestring, "3d");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "data")->valuestring,
                     "{\"k\":[1,2]}");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "metadata")->valuestring,
                     "{\"source\":\"cli\"}");
    ck_assert_str_eq(cJSON_GetObjectItem(tu, "snapshot")->valuestring,
                     "snap-1");
    cJSON_Delete(tu);
    fixture_close(&fx);
}
END_TEST

START_TEST(tu_list_filters_status)
{
    state_fixture fx;
    qf_error err;
    cJSON *list = NULL;

    qf_error_init(&err);
    fixture_open(&fx, "state-tu-list");
    fixture_populate(fx.st);
    ck_assert_int_eq(qf_state_tu_list(fx.st, NULL, &list, &err), QF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(list), 2);
    cJSON_Delete(list);
    ck_assert_int_eq(qf_state_tu_list(fx.st, "stabilizing", &list, &err),
                     QF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "id")->valuestring,
        "TU-2026-12-04-SR01");
    cJSON_Delete(list);
    ck_assert_int_eq(qf_state_tu_list(fx.st, "bogus", &list, &err),
                     QF_ERR_INVALID);
    fixture_close(&fx);
}
END_TEST

START_TEST(snapshot_is_immutable)
{
    state_fixture fx;
    qf_error err;
    cJSON *snap = NULL;
    char *before, *after;

    qf_error_init(&err);
    fixture_open(&fx, "state-snapshot");
    fixture_populate(fx.st);
    before = fixture_query_text(fx.st, "SELECT data FROM snapshots");
    ck_assert_int_eq(qf_state_snapshot_create(fx.st, "snap-1", "again", &err),
                     QF_ERR_INVALID);
    ck_assert_str_eq(err.message, "snapshot snap-1 already exists and "
                                  "snapshots are immutable; pick another id");
    ck_assert_int_ne(sqlite3_exec(qf_state_db(fx.st),
                                  "UPDATE snapshots SET description = 'x'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    after = fixture_query_text(fx.st, "SELECT data FROM snapshots");
    ck_assert_str_eq(before, after);

    ck_assert_int_eq(qf_state_snapshot_get(fx.st, "snap-1", &snap, &err),
                     QF_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(snap, "description")->valuestring,
                     "first cut");
    cJSON *data = cJSON_Parse(cJSON_GetObjectItem(snap, "data")->valuestring);
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(data, "trace_units")), 2);
    /* scene-1 was put after the snapshot, so only two artifacts are in it. */
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(data, "artifacts")),
                     2);
    cJSON_Delete(data);
    cJSON_Delete(snap);
    free(before);
    free(after);
    fixture_close(&fx);
}
END_TEST

START_TEST(artifact_put_get_list)
{
    state_fixture fx;
    qf_error err;
    cJSON *art = NULL, *list = NULL;

    qf_error_init(&err);
    fixture_open(&fx, "state-artifact");
    fixture_populate(fx.st);
    ck_assert_int_eq(qf_state_artifact_put(fx.st, "hook-1", "hook_card",
                                           "{\"hook\": \"changed\"}", NULL,
                                           &err),
                     QF_OK);
    ck_assert_int_eq(qf_state_artifact_get(fx.st, "hook-1", &art, &err), QF_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(art, "data")->valuestring,
                     "{\"hook\":\"changed\"}");
    ck_assert_str_eq(cJSON_GetObjectItem(art, "tags")->valuestring, "[]");
    ck_assert_str_ne(cJSON_GetObjectItem(art, "created")->valuestring,
                     cJSON_GetObjectItem(art, "modified")->valuestring);
    cJSON_Delete(art);
    ck_assert_int_eq(qf_state_artifact_list(fx.st, "canon", &list, &err),
                     QF_OK);
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    cJSON_Delete(list);

    ck_assert_int_eq(
        qf_state_artifact_put(fx.st, "x", "Hook Card", "{}", NULL, &err),
        QF_ERR_INVALID);
    ck_assert_int_eq(
        qf_state_artifact_put(fx.st, "x", "scene", "{}", "[1]", &err),
        QF_ERR_INVALID);
    ck_assert_int_eq(qf_state_artifact_get(fx.st, "missing", &art, &err),
                     QF_ERR_NOT_FOUND);
    ck_assert_int_eq(fixture_query_int(fx.st, "SELECT COUNT(*) FROM history "
                                              "WHERE entity = 'artifact' AND "
                                              "action = 'update'"),
                     1);
    fixture_close(&fx);
}
END_TEST

START_TEST(project_info_and_timestamps)
{
    state_fixture fx;
    qf_error err;
    cJSON *info = NULL, *project;

    qf_error_init(&err);
    fixture_open(&fx, "state-info");
    fixture_populate(fx.st);
    ck_assert_int_eq(qf_state_info(fx.st, &info, &err), QF_OK);
    project = cJSON_GetObjectItem(info, "project");
    ck_assert_str_eq(cJSON_GetObjectItem(project, "name")->valuestring,
                     "Lighthouse");
    ck_assert_str_eq(cJSON_GetObjectItem(project, "author")->valuestring,
                     "Ada");
    ck_assert_str_eq(cJSON_GetObjectItem(project, "created")->valuestring,
                     "2026-12-04T20:00:00.000Z");
    ck_assert_str_ne(cJSON_GetObjectItem(project, "modified")->valuestring,
                     "2026-12-04T20:00:00.000Z");
    ck_assert_str_eq(cJSON_GetObjectItem(info, "schema_version")->valuestring,
                     "1.1.0");
    ck_assert_int_eq(cJSON_GetObjectItem(info, "trace_units")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(info, "artifacts")->valueint, 3);
    ck_assert_int_eq(cJSON_GetObjectItem(info, "snapshots")->valueint, 1);
    cJSON_Delete(info);
    fixture_close(&fx);
}
END_TEST

START_TEST(newer_schema_refused)
{
    state_fixture fx;
    qf_error err;
    qf_state *again = NULL;
    char *state_dir;

    qf_error_init(&err);
    fixture_open(&fx, "state-newer");
    state_dir = strdup(qf_state_dir(fx.st));
    ck_assert_int_eq(sqlite3_exec(qf_state_db(fx.st),
                                  "UPDATE schema_info SET version = '1.3.0'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    qf_state_close(fx.st);
    fx.st = NULL;

    ck_assert_int_eq(qf_state_open(state_dir, 0, &again, &err),
                     QF_ERR_UNSUPPORTED);
    ck_assert_ptr_null(again);
    ck_assert_str_eq(err.message, "state.db has schema 1.3.0, this qf "
                                  "supports up to 1.1.0; upgrade qf or restore "
                                  "a backup");
    free(state_dir);
    fixture_close(&fx);
}
END_TEST

START_TEST(missing_store_not_created)
{
    qf_error err;
    qf_state *st = NULL;
    char *dir = qf_test_tmpdir("state-missing");

    qf_error_init(&err);
    ck_assert_int_eq(qf_state_open(dir, 0, &st, &err), QF_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "run 'qf state init'"));
    qf_test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(project_create_refuses_existing)
{
    state_fixture fx;
    qf_error err;
    char expected[4600];
    char *name, *author;

    qf_error_init(&err);
    fixture_open(&fx, "state-reinit");
    ck_assert_int_eq(
        qf_state_project_create(fx.st, "Demo", "Ada", "First", 0, &err), QF_OK);

    ck_assert_int_eq(
        qf_state_project_create(fx.st, "Other", NULL, NULL, 0, &err),
        QF_ERR_INVALID);
    snprintf(expected, sizeof(expected),
             "state store %s is already initialised (project Demo); use "
             "`qf state info`, or remove it to start over",
             qf_state_db_path(fx.st));
    ck_assert_str_eq(err.message, expected);
    name = fixture_query_text(fx.st, "SELECT name FROM project");
    author = fixture_query_text(fx.st, "SELECT author FROM project");
    ck_assert_str_eq(name, "Demo");
    ck_assert_str_eq(author, "Ada");
    free(name);
    free(author);
    ck_assert_int_eq(fixture_query_int(fx.st, "SELECT COUNT(*) FROM history"),
                     1);
    fixture_close(&fx);
}
END_TEST

START_TEST(project_create_force_replaces)
{
    state_fixture fx;
    qf_error err;
    char *name, *author, *created;

    qf_error_init(&err);
    fixture_open(&fx, "state-reinit-force");
    ck_assert_int_eq(
        qf_state_project_create(fx.st, "Demo", "Ada", NULL, 0, &err), QF_OK);
    ck_assert_int_eq(
        qf_state_tu_create(fx.st, "TU-2026-12-04-SR01", NULL, NULL, &err),
        QF_OK);

    ck_assert_int_eq(
        qf_state_project_create(fx.st, "Other", "Bo", NULL, 1, &err), QF_OK);
    name = fixture_query_text(fx.st, "SELECT name FROM project");
    author = fixture_query_text(fx.st, "SELECT author FROM project");
    created = fixture_query_text(fx.st, "SELECT created FROM project");
    ck_assert_str_eq(name, "Other");
    ck_assert_str_eq(author, "Bo");
    ck_assert_str_eq(created, "2026-12-04T20:00:00.000Z");
    free(name);
    free(author);
    free(created);
    ck_assert_int_eq(
        fixture_query_int(fx.st, "SELECT COUNT(*) FROM trace_units"), 1);
    fixture_close(&fx);
}
END_TEST

#define INIT_PROCESSES 8
#define INIT_ROUNDS    4

/* Child: wait for the start signal, open or create the store, create the
 * project, and write "STATUS MESSAGE" to `result`. Never returns. */
static void init_child(int start_fd, const char *state_dir, const char *result)
{
    qf_error err;
    qf_state *st = NULL;
    qf_status status;
    char byte;
    FILE *out;

    qf_error_init(&err);
    if (read(start_fd, &byte, 1) < 0)
        _exit(3);
    status = qf_state_open(state_dir, 1, &st, &err);
    if (status == QF_OK)
        status = qf_state_project_create(st, "Demo", NULL, NULL, 0, &err);
    qf_state_close(st);
    out = fopen(result, "w");
    if (out == NULL)
        _exit(4);
    fprintf(out, "%d %s", (int)status, status == QF_OK ? "" : err.message);
    fclose(out);
    _exit(0);
}

/* Start INIT_PROCESSES children on one new store and release them at once
 * by closing the pipe they all read; returns how many succeeded. */
static int run_init_round(const char *root, int round)
{
    char state_dir[4200], result[4300], expected[4600];
    int pipe_fds[2], created = 0;
    pid_t pids[INIT_PROCESSES];

    snprintf(state_dir, sizeof(state_dir), "%s/round-%d", root, round);
    ck_assert_int_eq(pipe(pipe_fds), 0);
    for (int i = 0; i < INIT_PROCESSES; i++) {
        snprintf(result, sizeof(result), "%s/result-%d-%d", root, round, i);
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(pipe_fds[1]);
            init_child(pipe_fds[0], state_dir, result);
        }
    }
    close(pipe_fds[0]);
    close(pipe_fds[1]);

    snprintf(expected, sizeof(expected),
             "%d state store %s/state.db is already initialised (project "
             "Demo); use `qf state info`, or remove it to start over",
             (int)QF_ERR_INVALID, state_dir);
    for (int i = 0; i < INIT_PROCESSES; i++) {
        int wstatus = -1;
        char *text;

        ck_assert_int_eq(waitpid(pids[i], &wstatus, 0), pids[i]);
        ck_assert_int_eq(wstatus, 0);
        snprintf(result, sizeof(result), "%s/result-%d-%d", root, round, i);
        text = qf_test_read_file(result, NULL);
        ck_assert_ptr_nonnull(text);
        if (strcmp(text, "0 ") == 0)
            created++;
        else
            ck_assert_str_eq(text, expected);
        free(text);
    }
    return created;
}

START_TEST(concurrent_init_one_store)
{
    char *root = qf_test_tmpdir("state-concurrent");

    for (int round = 0; round < INIT_ROUNDS; round++)
        ck_assert_int_eq(run_init_round(root, round), 1);
    qf_test_rmtree(root);
    free(root);
}
END_TEST

static Suite *state_store_suite(void)
{
    Suite *s = suite_create("state_store");
    TCase *tc = tcase_create("store");

    tcase_add_test(tc, lifecycle_every_move);
    tcase_add_test(tc, lifecycle_move_records_status);
    tcase_add_test(tc, lifecycle_unknown_status);
    tcase_add_test(tc, tu_id_validation);
    tcase_add_test(tc, tu_create_rejects_bad_input);
    tcase_add_test(tc, tu_create_with_all_fields);
    tcase_add_test(tc, tu_list_filters_status);
    tcase_add_test(tc, snapshot_is_immutable);
    tcase_add_test(tc, artifact_put_get_list);
    tcase_add_test(tc, project_info_and_timestamps);
    tcase_add_test(tc, newer_schema_refused);
    tcase_add_test(tc, missing_store_not_created);
    tcase_add_test(tc, project_create_refuses_existing);
    tcase_add_test(tc, project_create_force_replaces);
    tcase_add_test(tc, concurrent_init_one_store);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(state_store_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

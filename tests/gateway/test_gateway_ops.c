/*
 * test_gateway_ops.c - operating `qf serve`: client keys, the refusal to
 * listen openly without keys, reload on SIGHUP (a good file swaps in, a
 * broken one is rejected), a SIGTERM that lets a request in flight finish,
 * and the metric names.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "gateway_fixture.h"

static gw_fixture gw;

static const char keys_yaml[] =
    "gateway:\n"
    "  keys:\n"
    "    - {id: team-a, key: \"${QF_GATEWAY_KEY_A}\", roles: [plotwright]}\n"
    "    - {id: team-b, key: \"${QF_GATEWAY_KEY_B}\", roles: [plotwright, "
    "scene_smith]}\n";

static char key_a_env[] = "QF_GATEWAY_KEY_A=alpha-secret-key";
static char key_b_env[] = "QF_GATEWAY_KEY_B=bravo-secret-key";

static void teardown(void)
{
    gw_teardown(&gw);
}

static void pause_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&t, NULL);
}

static long chat_status(const char *role, const char *auth, char **model)
{
    char body[256];
    const char *headers[] = {auth, NULL};
    gw_reply reply;
    long status;

    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"hi\"}]}",
             role);
    gw_request(&gw, "/v1/chat/completions", body, auth ? headers : NULL,
               &reply);
    status = reply.status;
    if (model != NULL) {
        cJSON *json = cJSON_Parse(reply.body);

        const char *name = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(json, "model"));

        *model = strdup(name != NULL ? name : "");
        cJSON_Delete(json);
    }
    gw_reply_free(&reply);
    return status;
}

START_TEST(keys_guard_roles)
{
    char *const env[] = {key_a_env, key_b_env, NULL};
    gw_reply reply;
    const char *auth_a[] = {"Authorization: Bearer alpha-secret-key", NULL};
    char *log;

    gw_setup(&gw, keys_yaml);
    ck_assert_int_eq(gw_start(&gw, env), 0);

    ck_assert_int_eq(chat_status("plotwright", NULL, NULL), 401);
    ck_assert_int_eq(
        chat_status("plotwright", "Authorization: Bearer wrong", NULL), 401);
    ck_assert_int_eq(chat_status("plotwright",
                                 "Authorization: Bearer alpha-secret-key",
                                 NULL),
                     200);
    ck_assert_int_eq(chat_status("scene_smith",
                                 "Authorization: Bearer alpha-secret-key",
                                 NULL),
                     403);
    ck_assert_int_eq(chat_status("scene_smith",
                                 "Authorization: Bearer bravo-secret-key",
                                 NULL),
                     200);

    /* A key sees only its own roles. */
    gw_request(&gw, "/v1/models", NULL, auth_a, &reply);
    ck_assert_int_eq(reply.status, 200);
    ck_assert_ptr_nonnull(strstr(reply.body, "\"id\":\"plotwright\""));
    ck_assert_ptr_null(strstr(reply.body, "\"id\":\"scene_smith\""));
    gw_reply_free(&reply);

    /* Health checks need no key. */
    gw_request(&gw, "/healthz", NULL, NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    gw_reply_free(&reply);

    ck_assert_int_eq(gw_stop(&gw), 0);
    log = qf_test_read_file(gw.log_path, NULL);
    ck_assert_ptr_nonnull(strstr(log, " key=team-a endpoint=chat "
                                      "role=scene_smith status=403 "));
    ck_assert_ptr_nonnull(strstr(log, " key=team-b endpoint=chat "
                                      "role=scene_smith status=200 "));
    ck_assert_ptr_null(strstr(log, "alpha-secret-key"));
    ck_assert_ptr_null(strstr(log, "bravo-secret-key"));
    free(log);
}
END_TEST

START_TEST(open_listen_needs_keys)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[] = {qf,         "--config",  NULL, "serve",
                    "--listen", "0.0.0.0:0", NULL};
    qf_test_run run;

    gw_setup(&gw, "");
    argv[2] = gw.config_path;
    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.out, "");
    ck_assert_ptr_nonnull(strstr(run.err, "refusing to listen on 0.0.0.0"));
    ck_assert_ptr_nonnull(strstr(run.err, "gateway.keys"));
    qf_test_run_free(&run);
    free(qf);
}
END_TEST

/* Poll until the plotwright answers with `model`, at most ten seconds. */
static int wait_for_model(const char *model)
{
    for (int i = 0; i < 200; i++) {
        char *got = NULL;
        int same;

        ck_assert_int_eq(chat_status("plotwright", NULL, &got), 200);
        same = strcmp(got, model) == 0;
        free(got);
        if (same)
            return 1;
        pause_ms(50);
    }
    return 0;
}

START_TEST(reload_swaps_config)
{
    char *model = NULL;

    gw_setup(&gw, "");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
    ck_assert_int_eq(chat_status("plotwright", NULL, &model), 200);
    ck_assert_str_eq(model, "gpt-4o-mini");
    free(model);

    gw_write_config(&gw, "gpt-4.1", "");
    kill(gw.pid, SIGHUP);
    ck_assert(wait_for_model("gpt-4.1"));
    ck_assert_double_eq(
        gw_metric_wait(&gw, "qf_gateway_config_reloads_total{result=\"ok\"}",
                       1),
        1);
}
END_TEST

START_TEST(reload_rejects_broken_file)
{
    char *model = NULL;
    double failed = -1;

    gw_setup(&gw, "");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
    gw_write_config(&gw, NULL, "");
    kill(gw.pid, SIGHUP);
    for (int i = 0; i < 200 && failed != 1; i++) {
        pause_ms(50);
        failed = gw_metric(
            &gw, "qf_gateway_config_reloads_total{result=\"failed\"}");
    }
    ck_assert_double_eq(failed, 1);
    ck_assert_int_eq(chat_status("plotwright", NULL, &model), 200);
    ck_assert_str_eq(model, "gpt-4o-mini");
    free(model);
}
END_TEST

typedef struct slow_call {
    long status;
    char *body;
} slow_call;

static void *send_slow(void *arg)
{
    slow_call *call = arg;
    gw_reply reply;

    gw_request(&gw, "/v1/chat/completions",
               "{\"model\":\"slow_writer\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"take your time\"}]}",
               NULL, &reply);
    call->status = reply.status;
    call->body = reply.body;
    free(reply.headers);
    return NULL;
}

START_TEST(sigterm_finishes_in_flight)
{
    slow_call call = {0, NULL};
    pthread_t thread;
    double in_flight = 0;

    gw_setup(&gw, "");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, send_slow, &call), 0);

    /* Wait until the gateway has the request (the call and its chain run). */
    for (int i = 0; i < 200 && in_flight < 1; i++) {
        in_flight = gw_metric(&gw, "qf_gateway_requests_in_flight");
        if (in_flight < 1)
            pause_ms(10);
    }
    ck_assert_double_ge(in_flight, 1);
    ck_assert_int_eq(gw_stop(&gw), 0);
    pthread_join(thread, NULL);
    ck_assert_int_eq(call.status, 200);
    ck_assert_ptr_nonnull(strstr(call.body, "Echo: take your time"));
    free(call.body);
}
END_TEST

START_TEST(readyz_names_broken_role)
{
    gw_reply reply;

    /* Appended under roles: a role whose provider block does not exist. */
    gw_setup(&gw, "  ghost_writer: {provider: nowhere}\n");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
    gw_request(&gw, "/readyz", NULL, NULL, &reply);
    ck_assert_int_eq(reply.status, 503);
    ck_assert_ptr_nonnull(strstr(reply.body, "\"status\":\"not ready\""));
    ck_assert_ptr_nonnull(
        strstr(reply.body, "role ghost_writer does not resolve"));
    gw_reply_free(&reply);

    /* The other roles still answer. */
    ck_assert_int_eq(chat_status("scene_smith", NULL, NULL), 200);
}
END_TEST

START_TEST(request_timeout_is_504)
{
    gw_reply reply;

    /* The upstream takes four seconds; the gateway allows one. */
    gw_setup(&gw, "gateway: {request_timeout_seconds: 1}\n");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
    gw_request(&gw, "/v1/chat/completions",
               "{\"model\":\"deep_thinker\",\"messages\":[{\"role\":"
               "\"user\",\"content\":\"hi\"}]}",
               NULL, &reply);
    ck_assert_int_eq(reply.status, 504);
    ck_assert_ptr_nonnull(strstr(reply.body, "\"code\":\"request_timeout\""));
    gw_reply_free(&reply);
}
END_TEST

START_TEST(metrics_names)
{
    gw_reply reply;
    static const char *const names[] = {
        "# TYPE qf_gateway_requests_total counter",
        "# TYPE qf_gateway_errors_total counter",
        "# TYPE qf_gateway_cache_hits_total counter",
        "# TYPE qf_gateway_cache_misses_total counter",
        "# TYPE qf_gateway_tokens_total counter",
        "# TYPE qf_gateway_cost_usd_total counter",
        "# TYPE qf_gateway_request_duration_seconds histogram",
        "# TYPE qf_gateway_upstream_duration_seconds histogram",
        "# TYPE qf_gateway_overhead_duration_seconds histogram",
        "# TYPE qf_gateway_requests_in_flight gauge",
        "qf_gateway_request_duration_seconds_bucket{le=\"+Inf\"} ",
        "qf_gateway_upstream_duration_seconds_count 1\n",
        "qf_gateway_requests_total{endpoint=\"chat\",status=\"200\"} 1\n",
        "qf_gateway_cost_usd_total{role=\"scene_smith\",provider=\"openai\","
        "model=\"gpt-4o\"} ",
    };

    gw_setup(&gw, "");
    ck_assert_int_eq(gw_start(&gw, NULL), 0);
    ck_assert_int_eq(chat_status("scene_smith", NULL, NULL), 200);
    ck_assert_double_eq(
        gw_metric_wait(&gw,
                       "qf_gateway_requests_total{endpoint=\"chat\","
                       "status=\"200\"}",
                       1),
        1);
    gw_request(&gw, "/metrics", NULL, NULL, &reply);
    ck_assert_int_eq(reply.status, 200);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(strstr(reply.body, names[i]) != NULL, "missing '%s'",
                      names[i]);
    gw_reply_free(&reply);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gateway_ops");
    TCase *tc = tcase_create("ops");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keys_guard_roles);
    tcase_add_test(tc, open_listen_needs_keys);
    tcase_add_test(tc, reload_swaps_config);
    tcase_add_test(tc, reload_rejects_broken_file);
    tcase_add_test(tc, sigterm_finishes_in_flight);
    tcase_add_test(tc, readyz_names_broken_role);
    tcase_add_test(tc, request_timeout_is_504);
    tcase_add_test(tc, metrics_names);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

/*
 * test_chain.c - role chains end to end with the test plugins: hook order,
 * early answers, refusals, failures, request changes, streaming, instance
 * sharing, image roles and concurrent use of one runtime.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "route.h"
#include "runtime.h"
#include "testruntime.h"
#include "testutil.h"

static char *tmp;
static char *trace_path;

static void setup(void)
{
    tmp = qf_test_tmpdir("chain");
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_ge(asprintf(&trace_path, "%s/trace.txt", tmp), 0);
}

static void teardown(void)
{
    qf_test_rmtree(tmp);
    free(tmp);
    free(trace_path);
}

/* Configuration head shared by every test: plugin folder, state folder and
 * an echo provider as the text and image default. */
static char *config_text(const char *roles)
{
    char *text;

    ck_assert_int_ge(
        asprintf(&text,
                 "plugin_dirs: [\"%s/chain\"]\n"
                 "state_dir: \"%s/state\"\n"
                 "providers:\n"
                 "  text:\n"
                 "    default: echo\n"
                 "    echo: {plugin: test_echo, model: echo-1}\n"
                 "    failing: {plugin: test_echo, mode: fail}\n"
                 "    cutting: {plugin: test_echo, mode: cut, model: cut-1}\n"
                 "    unused: {plugin: test_echo, api_key: "
                 "\"${QF_TEST_UNSET_VAR}\"}\n"
                 "  image:\n"
                 "    default: painter\n"
                 "    painter: {plugin: test_echo, model: paint-1}\n"
                 "roles:\n%s",
                 QF_TEST_PLUGIN_DIR, tmp, roles),
        0);
    return text;
}

static qf_runtime *open_runtime(const char *roles)
{
    char *text = config_text(roles);
    qf_runtime *rt =
        qf_test_runtime_open(tmp, "plugins.yml", text, (qf_runtime_options){0});

    free(text);
    return rt;
}

/* Run `prompt` as `role`; returns the status and fills resp and err. */
static qf_status run_role(qf_runtime *rt, const char *role, const char *prompt,
                          const qf_stream_sink *sink, qf_response **resp,
                          qf_error *err)
{
    qf_request *req = NULL;
    qf_status status;

    qf_error_init(err);
    status = qf_request_create(rt, role, NULL, &req, err);
    if (status != QF_OK)
        return status;
    qf_request_add_message(req, "user", prompt, strlen(prompt));
    qf_request_set_stream(req, sink != NULL, 0);
    status = qf_runtime_run(rt, req, sink, resp, err);
    qf_request_free(req);
    return status;
}

static char *read_trace(void)
{
    char *text = qf_test_read_file(trace_path, NULL);

    return text ? text : strdup("");
}

#define MW(tag, extra)                                                         \
    "{plugin: test_middleware, tag: " tag ", trace_file: \"TRACE\"" extra "}"

/* Replace every TRACE in `roles` with the trace path. */
static char *with_trace(const char *roles)
{
    size_t cap = strlen(roles) + 16 * strlen(trace_path) + 1;
    char *out = malloc(cap), *w = out;

    for (const char *r = roles; *r;) {
        if (strncmp(r, "TRACE", 5) == 0) {
            w += snprintf(w, cap - (size_t)(w - out), "%s", trace_path);
            r += 5;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return out;
}

static qf_runtime *open_traced(const char *roles)
{
    char *expanded = with_trace(roles);
    qf_runtime *rt = open_runtime(expanded);

    free(expanded);
    return rt;
}

START_TEST(pass_through_order)
{
    qf_runtime *rt =
        open_traced("  plotwright:\n"
                    "    chain: [" MW("a", "") ", " MW("b", "") "]\n");
    qf_response *resp = NULL;
    qf_error err;
    char *trace;

    ck_assert_int_eq(run_role(rt, "plotwright", "hello", NULL, &resp, &err),
                     QF_OK);
    ck_assert_str_eq(qf_runtime_host(rt)->response_text(resp, NULL),
                     "model=echo-1\n[user] hello\nparams={}\noptions={}");
    trace = read_trace();
    ck_assert_str_eq(trace, "a request\nb request\nb response\na response\n"
                            "b complete 0\na complete 0\n");
    free(trace);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(early_answer_skips_rest)
{
    qf_runtime *rt = open_traced("  plotwright:\n"
                                 "    chain: [" MW("a", "") ", " MW(
                                     "b", ", action: answer, answer_text: "
                                          "\"from b\"") ", " MW("c", "") "]\n");
    qf_response *resp = NULL;
    qf_error err;
    char *trace;

    ck_assert_int_eq(run_role(rt, "plotwright", "hello", NULL, &resp, &err),
                     QF_OK);
    ck_assert_str_eq(qf_runtime_host(rt)->response_text(resp, NULL), "from b");
    trace = read_trace();
    ck_assert_str_eq(trace, "a request\nb request\na response\n"
                            "b complete 0\na complete 0\n");
    free(trace);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(refusal_completes_entered_only)
{
    qf_runtime *rt =
        open_traced("  plotwright:\n"
                    "    chain: [" MW("a", "") ", " MW(
                        "b", ", action: refuse") ", " MW("c", "") "]\n");
    qf_response *resp = NULL;
    qf_error err;
    char *trace;

    ck_assert_int_eq(run_role(rt, "plotwright", "hello", NULL, &resp, &err),
                     QF_ERR_REFUSED);
    ck_assert_str_eq(err.message, "b refused the request as configured");
    trace = read_trace();
    ck_assert_str_eq(trace, "a request\nb request\nb complete -15\n"
                            "a complete -15\n");
    free(trace);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(failing_provider_reported)
{
    qf_runtime *rt = open_traced("  plotwright:\n"
                                 "    provider: failing\n"
                                 "    chain: [" MW("a", "") "]\n");
    qf_response *resp = NULL;
    qf_error err;
    char *trace;

    ck_assert_int_eq(run_role(rt, "plotwright", "hello", NULL, &resp, &err),
                     QF_ERR_UPSTREAM);
    ck_assert_str_eq(err.message, "test_echo: upstream returned HTTP 500: "
                                  "failing as configured");
    ck_assert_int_eq(err.http_status, 500);
    ck_assert_int_eq(qf_status_exit_code(err.status), 5);
    trace = read_trace();
    ck_assert_str_eq(trace, "a request\na complete -8\n");
    free(trace);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(failed_response_stops_ascent)
{
    qf_runtime *rt = open_traced("  plotwright:\n"
                                 "    chain: [" MW("a", "") ", " MW(
                                     "b", ", action: fail_response") "]\n");
    qf_response *resp = NULL;
    qf_error err;
    char *trace;

    ck_assert_int_eq(run_role(rt, "plotwright", "hello", NULL, &resp, &err),
                     QF_ERR_REFUSED);
    ck_assert_str_eq(err.message, "b failed the response as configured");
    trace = read_trace();
    ck_assert_str_eq(trace, "a request\nb request\nb response\n"
                            "b complete -15\na complete -15\n");
    free(trace);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(middleware_changes_request)
{
    qf_runtime *rt = open_traced(
        "  plotwright:\n"
        "    chain: [" MW("a", ", add_system: \"Be brief.\", set_param: "
                               "temperature, param_value: \"0.25\"") "]\n");
    qf_response *resp = NULL;
    qf_error err;

    ck_assert_int_eq(run_role(rt, "plotwright", "hello", NULL, &resp, &err),
                     QF_OK);
    ck_assert_str_eq(qf_runtime_host(rt)->response_text(resp, NULL),
                     "model=echo-1\n[system] Be brief.\n[user] hello\n"
                     "params={\"temperature\":0.25}\noptions={}");
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(role_defaults_and_runtime_layer)
{
    qf_runtime *rt = open_runtime("  plotwright:\n"
                                  "    model: echo-2\n"
                                  "    system_prompt: \"You outline.\"\n"
                                  "    params: {temperature: 0.5, seed: 7}\n"
                                  "    options: {num_ctx: 4096}\n");
    qf_cnode *layer = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_request *req = NULL;
    qf_response *resp = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_set(layer, "model", "echo-3", &err), QF_OK);
    ck_assert_int_eq(qf_cnode_set(layer, "params.temperature", "0.9", &err),
                     QF_OK);
    ck_assert_int_eq(qf_cnode_set(layer, "options.top_k", "20", &err), QF_OK);
    ck_assert_int_eq(qf_request_create(rt, "plotwright", layer, &req, &err),
                     QF_OK);
    qf_request_add_message(req, "user", "go", 2);
    ck_assert_int_eq(qf_runtime_run(rt, req, NULL, &resp, &err), QF_OK);
    ck_assert_str_eq(qf_runtime_host(rt)->response_text(resp, NULL),
                     "model=echo-3\n[system] You outline.\n[user] go\n"
                     "params={\"temperature\":0.9,\"seed\":7}\n"
                     "options={\"num_ctx\":4096,\"top_k\":20}");
    qf_response_free(resp);
    qf_request_free(req);
    qf_cnode_free(layer);
    qf_runtime_close(rt);
}
END_TEST

typedef struct collected {
    char text[4096];
    size_t len;
    int chunks;
} collected;

static qf_status collect(void *user, const char *text, size_t len)
{
    collected *c = user;

    memcpy(c->text + c->len, text, len);
    c->len += len;
    c->text[c->len] = '\0';
    c->chunks++;
    return QF_OK;
}

START_TEST(stream_reaches_sink_and_taps)
{
    qf_runtime *rt = open_traced("  plotwright:\n"
                                 "    chain: [" MW("a", ", tap: true") "]\n");
    collected got = {{0}, 0, 0};
    qf_stream_sink sink = {collect, &got};
    qf_response *resp = NULL;
    qf_error err;
    char *trace;

    ck_assert_int_eq(run_role(rt, "plotwright", "hi", &sink, &resp, &err),
                     QF_OK);
    ck_assert_str_eq(got.text,
                     "model=echo-1\n[user] hi\nparams={}\noptions={}");
    /* 43 bytes in chunks of 8. */
    ck_assert_int_eq(got.chunks, 6);
    ck_assert_str_eq(qf_runtime_host(rt)->response_text(resp, NULL), got.text);
    trace = read_trace();
    ck_assert_str_eq(trace, "a request\na tap model=ec\na tap ho-1\n[us\n"
                            "a tap er] hi\np\na tap arams={}\n"
                            "a tap \noptions\na tap ={}\na response\n"
                            "a complete 0\n");
    free(trace);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(stream_early_answer_replayed)
{
    qf_runtime *rt = open_traced(
        "  plotwright:\n"
        "    chain: [" MW(
            "a", ", action: answer, answer_text: \"cached text\"") "]\n");
    collected got = {{0}, 0, 0};
    qf_stream_sink sink = {collect, &got};
    qf_response *resp = NULL;
    qf_error err;

    ck_assert_int_eq(run_role(rt, "plotwright", "hi", &sink, &resp, &err),
                     QF_OK);
    ck_assert_str_eq(got.text, "cached text");
    ck_assert_int_eq(got.chunks, 1);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(stream_cut_is_error)
{
    qf_runtime *rt = open_runtime("  plotwright: {provider: cutting}\n");
    collected got = {{0}, 0, 0};
    qf_stream_sink sink = {collect, &got};
    qf_response *resp = NULL;
    qf_error err;

    ck_assert_int_eq(run_role(rt, "plotwright", "hi", &sink, &resp, &err),
                     QF_ERR_STREAM_CUT);
    ck_assert_str_eq(err.message,
                     "test_echo: upstream stream was cut before its end");
    ck_assert_int_eq(qf_status_exit_code(err.status), 5);
    ck_assert_str_eq(got.text, "model=cu");
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(identical_providers_shared)
{
    qf_runtime *rt = open_runtime("  plotwright: {provider: echo, model: a}\n"
                                  "  scene_smith: {provider: echo, model: b}\n"
                                  "  gatekeeper: {provider: echo, timeout: "
                                  "{total_seconds: 5}}\n");
    const char *const roles[] = {"plotwright", "scene_smith", "gatekeeper"};
    qf_request *reqs[3] = {NULL, NULL, NULL};
    qf_error err;

    qf_error_init(&err);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(qf_request_create(rt, roles[i], NULL, &reqs[i], &err),
                         QF_OK);
        /* Provider instances are created by the first call, not before. */
        ck_assert_ptr_null(reqs[i]->route->provider);
    }
    for (int i = 0; i < 3; i++) {
        qf_response *resp = NULL;

        ck_assert_int_eq(run_role(rt, roles[i], "x", NULL, &resp, &err), QF_OK);
        qf_response_free(resp);
    }
    ck_assert_ptr_nonnull(reqs[0]->route->provider);
    ck_assert_ptr_eq(reqs[0]->route->provider, reqs[1]->route->provider);
    ck_assert_ptr_ne(reqs[0]->route->provider, reqs[2]->route->provider);
    for (int i = 0; i < 3; i++)
        qf_request_free(reqs[i]);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(image_role_uses_image_provider)
{
    qf_runtime *rt = open_runtime("  plotwright: {provider: echo}\n");
    const qf_host *host = qf_runtime_host(rt);
    qf_response *resp = NULL;
    qf_error err;
    const void *bytes;
    size_t len;

    ck_assert_int_eq(
        run_role(rt, "illustrator", "a red door", NULL, &resp, &err), QF_OK);
    ck_assert_int_eq(host->response_image_count(resp), 1);
    ck_assert_int_eq(host->response_image(resp, 0, &bytes, &len, NULL), QF_OK);
    ck_assert_int_eq(len, strlen("IMAGE:a red door"));
    ck_assert_int_eq(memcmp(bytes, "IMAGE:a red door", len), 0);
    ck_assert_str_eq(qf_response_provider(resp), "painter");
    ck_assert_str_eq(host->response_model(resp), "paint-1");
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(unused_missing_variable_harmless)
{
    qf_runtime *rt = open_runtime("  plotwright: {provider: echo}\n"
                                  "  scene_smith: {provider: unused}\n");
    qf_response *resp = NULL;
    qf_error err;

    unsetenv("QF_TEST_UNSET_VAR");
    ck_assert_int_eq(run_role(rt, "plotwright", "x", NULL, &resp, &err), QF_OK);
    qf_response_free(resp);
    resp = NULL;
    ck_assert_int_eq(run_role(rt, "scene_smith", "x", NULL, &resp, &err),
                     QF_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "QF_TEST_UNSET_VAR"));
    ck_assert_ptr_nonnull(strstr(err.message, "plugins.yml:9:"));
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(missing_plugin_named)
{
    qf_runtime *rt = open_runtime("  plotwright:\n"
                                  "    chain: [no_such_plugin]\n");
    qf_response *resp = NULL;
    qf_error err;

    ck_assert_int_eq(run_role(rt, "plotwright", "x", NULL, &resp, &err),
                     QF_ERR_CONFIG);
    ck_assert_str_eq(err.message,
                     "plugin \"no_such_plugin\" is not installed: no plugin "
                     "file in the plugin directories declares it; build or "
                     "install it, add its folder to plugin_dirs or "
                     "QF_PLUGIN_PATH, then run 'qf plugins scan'");
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

/* Create a plotwright request with one runtime parameter; returns the
 * status and leaves the message in err. */
static qf_status create_with_param(qf_runtime *rt, const char *path,
                                   const char *value, qf_error *err)
{
    qf_cnode *layer = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_request *req = NULL;
    qf_status status;

    qf_error_init(err);
    ck_assert_int_eq(qf_cnode_set(layer, path, value, err), QF_OK);
    status = qf_request_create(rt, "plotwright", layer, &req, err);
    qf_request_free(req);
    qf_cnode_free(layer);
    return status;
}

START_TEST(invalid_params_rejected)
{
    static const struct {
        const char *path, *value, *message;
    } cases[] = {
        {"params.temperature", "abc",
         "generation parameter temperature=\"abc\" is invalid; expected a "
         "number from 0 to 2"},
        {"params.temperature", "2.5",
         "generation parameter temperature=2.5 is invalid; expected a number "
         "from 0 to 2"},
        {"params.top_p", "-0.1",
         "generation parameter top_p=-0.1 is invalid; expected a number from "
         "0 to 1"},
        {"params.max_tokens", "12.5",
         "generation parameter max_tokens=12.5 is invalid; expected a whole "
         "number from 1 to 1e+09"},
        {"params.max_tokens", "0",
         "generation parameter max_tokens=0 is invalid; expected a whole "
         "number from 1 to 1e+09"},
        {"params.seed", "x",
         "generation parameter seed=\"x\" is invalid; expected a whole "
         "number from -9.0072e+15 to 9.0072e+15"},
        {"params.response_format", "json",
         "generation parameter response_format=\"json\" is invalid; expected "
         "an object with a \"type\" such as {\"type\": \"json_object\"}"},
    };
    qf_runtime *rt = open_runtime("  plotwright: {provider: echo}\n");
    qf_error err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(
            create_with_param(rt, cases[i].path, cases[i].value, &err),
            QF_ERR_INVALID);
        ck_assert_str_eq(err.message, cases[i].message);
    }
    ck_assert_int_eq(create_with_param(rt, "params.temperature", "0.7", &err),
                     QF_OK);
    ck_assert_int_eq(create_with_param(rt, "params.stop", "END", &err), QF_OK);
    ck_assert_int_eq(create_with_param(rt, "params.max_tokens", "64", &err),
                     QF_OK);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(unknown_role_rejected)
{
    qf_runtime *rt = open_runtime("  plotwright: {provider: echo}\n");
    qf_response *resp = NULL;
    qf_error err;
    char expected[1024];

    snprintf(expected, sizeof(expected),
             "role \"plotwrite\" is not a QuestFoundry role and is not "
             "configured under roles in %s/plugins.yml; check the spelling, "
             "or add roles.plotwrite to the file",
             tmp);
    ck_assert_int_eq(run_role(rt, "plotwrite", "x", NULL, &resp, &err),
                     QF_ERR_CONFIG);
    ck_assert_str_eq(err.message, expected);
    ck_assert_int_eq(qf_status_exit_code(err.status), 2);
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

START_TEST(wrong_kind_named)
{
    qf_runtime *rt = open_runtime("  plotwright:\n"
                                  "    chain: [test_echo]\n");
    qf_response *resp = NULL;
    qf_error err;

    ck_assert_int_eq(run_role(rt, "plotwright", "x", NULL, &resp, &err),
                     QF_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message,
                                 "plugin \"test_echo\" is a provider, but it "
                                 "is used here as a middleware; name a "
                                 "middleware plugin instead"));
    qf_response_free(resp);
    qf_runtime_close(rt);
}
END_TEST

typedef struct worker {
    qf_runtime *rt;
    int index;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char prompt[64], expected[256];

    for (int i = 0; i < 100; i++) {
        qf_response *resp = NULL;
        qf_error err;

        snprintf(prompt, sizeof(prompt), "thread %d call %d", w->index, i);
        snprintf(expected, sizeof(expected),
                 "model=echo-1\n[user] %s\nparams={}\noptions={}", prompt);
        if (run_role(w->rt, "plotwright", prompt, NULL, &resp, &err) != QF_OK ||
            strcmp(qf_runtime_host(w->rt)->response_text(resp, NULL),
                   expected) != 0)
            w->failures++;
        qf_response_free(resp);
    }
    return NULL;
}

START_TEST(many_threads_one_runtime)
{
    qf_runtime *rt = open_runtime("  plotwright:\n"
                                  "    chain: [test_passthrough, "
                                  "test_passthrough]\n");
    pthread_t threads[6];
    worker workers[6];

    for (int i = 0; i < 6; i++) {
        workers[i] = (worker){rt, i, 0};
        pthread_create(&threads[i], NULL, work, &workers[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(workers[i].failures, 0);
    }
    qf_runtime_close(rt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pass_through_order);
    tcase_add_test(tc, early_answer_skips_rest);
    tcase_add_test(tc, refusal_completes_entered_only);
    tcase_add_test(tc, failing_provider_reported);
    tcase_add_test(tc, failed_response_stops_ascent);
    tcase_add_test(tc, middleware_changes_request);
    tcase_add_test(tc, role_defaults_and_runtime_layer);
    tcase_add_test(tc, stream_reaches_sink_and_taps);
    tcase_add_test(tc, stream_early_answer_replayed);
    tcase_add_test(tc, stream_cut_is_error);
    tcase_add_test(tc, identical_providers_shared);
    tcase_add_test(tc, image_role_uses_image_provider);
    tcase_add_test(tc, unused_missing_variable_harmless);
    tcase_add_test(tc, missing_plugin_named);
    tcase_add_test(tc, unknown_role_rejected);
    tcase_add_test(tc, invalid_params_rejected);
    tcase_add_test(tc, wrong_kind_named);
    tcase_add_test(tc, many_threads_one_runtime);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

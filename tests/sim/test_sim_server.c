/*
 * test_sim_server.c - qf-sim's server behaviour over loopback: the bearer
 * key check, PNG images decoded with libpng, the request log, unknown
 * paths, connection reuse and command-line errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <png.h>

#include "simhttp.h"
#include "testutil.h"

#define CHAT_PATH "/v1/chat/completions"
#define CHAT_BODY                                                              \
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static qf_test_sim sim;

static void stop_sim(void)
{
    qf_test_sim_stop(&sim);
}

START_TEST(key_wrong_or_missing_401)
{
    const char *const args[] = {"--key", "sk-sim-test", NULL};
    const char *const wrong[] = {"Authorization: Bearer sk-sim-wrong", NULL};
    const char *const right[] = {"Authorization: Bearer sk-sim-test", NULL};
    struct sim_http res;

    ck_assert_int_eq(qf_test_sim_start(&sim, args), 0);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, wrong, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 401);
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"invalid_api_key\""));
    ck_assert_ptr_null(strstr(res.body, "sk-sim"));
    sim_http_free(&res);

    sim_http_send(NULL, &sim, "GET", "/v1/models", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 401);
    sim_http_free(&res);

    sim_http_send(NULL, &sim, "POST", CHAT_PATH, right, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 200);
    sim_http_free(&res);
}
END_TEST

START_TEST(key_not_checked_without_option)
{
    const char *const any[] = {"Authorization: Bearer anything", NULL};
    struct sim_http res;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, any, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 200);
    sim_http_free(&res);
}
END_TEST

struct decoded {
    unsigned int width;
    unsigned int height;
    unsigned char *pixels; /* RGB */
};

/* Decode base64 with OpenSSL; EVP_DecodeBlock counts '=' padding as
 * zero bytes, so those are taken off the length. */
static unsigned char *decode_base64(const char *text, size_t *len)
{
    size_t text_len = strlen(text);
    unsigned char *out = malloc(text_len / 4 * 3 + 1);
    int decoded =
        EVP_DecodeBlock(out, (const unsigned char *)text, (int)text_len);

    ck_assert_int_ge(decoded, 0);
    for (size_t i = text_len; i > 0 && text[i - 1] == '='; i--)
        decoded--;
    *len = (size_t)decoded;
    return out;
}

static void decode_png(const char *b64, struct decoded *image)
{
    png_image png = {.version = PNG_IMAGE_VERSION};
    size_t len;
    unsigned char *bytes = decode_base64(b64, &len);

    ck_assert_int_ne(png_image_begin_read_from_memory(&png, bytes, len), 0);
    png.format = PNG_FORMAT_RGB;
    image->width = png.width;
    image->height = png.height;
    image->pixels = malloc(PNG_IMAGE_SIZE(png));
    ck_assert_int_ne(png_image_finish_read(&png, NULL, image->pixels, 0, NULL),
                     0);
    free(bytes);
}

/* POST an image request; returns the parsed response. */
static cJSON *generate_images(const char *body)
{
    struct sim_http res;
    cJSON *json;

    sim_http_send(NULL, &sim, "POST", "/v1/images/generations", NULL, body,
                  &res);
    ck_assert_int_eq(res.status, 200);
    json = cJSON_Parse(res.body);
    sim_http_free(&res);
    ck_assert_ptr_nonnull(json);
    return json;
}

static char *image_b64(const cJSON *json, int index)
{
    const cJSON *item =
        cJSON_GetArrayItem(cJSON_GetObjectItem(json, "data"), index);

    return strdup(cJSON_GetStringValue(cJSON_GetObjectItem(item, "b64_json")));
}

START_TEST(image_png_requested_size)
{
    cJSON *json;
    char *b64;
    struct decoded image;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    json = generate_images("{\"prompt\":\"a red fox\",\"size\":\"64x32\"}");
    b64 = image_b64(json, 0);
    decode_png(b64, &image);
    ck_assert_uint_eq(image.width, 64);
    ck_assert_uint_eq(image.height, 32);
    free(image.pixels);
    free(b64);
    cJSON_Delete(json);

    json = generate_images("{\"prompt\":\"a red fox\"}");
    b64 = image_b64(json, 0);
    decode_png(b64, &image);
    ck_assert_uint_eq(image.width, 256);
    ck_assert_uint_eq(image.height, 256);
    free(image.pixels);
    free(b64);
    cJSON_Delete(json);
}
END_TEST

START_TEST(image_same_prompt_same_png)
{
    cJSON *first, *again, *other;
    char *a, *b, *c;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    first = generate_images("{\"prompt\":\"a red fox\",\"size\":\"32x32\"}");
    again = generate_images("{\"prompt\":\"a red fox\",\"size\":\"32x32\"}");
    other = generate_images("{\"prompt\":\"a blue owl\",\"size\":\"32x32\"}");
    a = image_b64(first, 0);
    b = image_b64(again, 0);
    c = image_b64(other, 0);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    free(a);
    free(b);
    free(c);
    cJSON_Delete(first);
    cJSON_Delete(again);
    cJSON_Delete(other);
}
END_TEST

START_TEST(image_n_gives_distinct_images)
{
    cJSON *json;
    char *a, *b;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    json = generate_images("{\"prompt\":\"owl\",\"n\":2,\"size\":\"16x16\"}");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "data")), 2);
    a = image_b64(json, 0);
    b = image_b64(json, 1);
    ck_assert_str_ne(a, b);
    free(a);
    free(b);
    cJSON_Delete(json);
}
END_TEST

START_TEST(image_bad_size_rejected)
{
    struct sim_http res;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    sim_http_send(NULL, &sim, "POST", "/v1/images/generations", NULL,
                  "{\"prompt\":\"owl\",\"size\":\"big\"}", &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"invalid_size\""));
    sim_http_free(&res);
}
END_TEST

START_TEST(log_file_lines)
{
    char *dir = qf_test_tmpdir("sim-log");
    char *path, *text;
    const char *args[] = {"--log", NULL, "--key", "sk-sim-secret", NULL};
    const char *const headers[] = {"Authorization: Bearer sk-sim-secret",
                                   "X-QF-Sim-Fault: 503", NULL};
    struct sim_http res;

    ck_assert_ptr_nonnull(dir);
    ck_assert_int_ge(asprintf(&path, "%s/requests.jsonl", dir), 0);
    args[1] = path;
    ck_assert_int_eq(qf_test_sim_start(&sim, args), 0);
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, headers, CHAT_BODY, &res);
    ck_assert_int_eq(res.status, 503);
    sim_http_free(&res);
    sim_http_send(NULL, &sim, "GET", "/api/tags", NULL, NULL, &res);
    sim_http_free(&res);
    qf_test_sim_stop(&sim);

    text = qf_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text,
                     "{\"method\":\"POST\",\"path\":\"/v1/chat/completions\","
                     "\"body\":" CHAT_BODY ",\"fault\":\"503\"}\n"
                     "{\"method\":\"GET\",\"path\":\"/api/tags\",\"body\":"
                     "null,\"fault\":null}\n");
    ck_assert_ptr_null(strstr(text, "sk-sim-secret"));
    free(text);
    free(path);
    qf_test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(unknown_path_and_method)
{
    struct sim_http res;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    sim_http_send(NULL, &sim, "GET", "/v1/nothing", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 404);
    sim_http_free(&res);
    sim_http_send(NULL, &sim, "GET", CHAT_PATH, NULL, NULL, &res);
    ck_assert_int_eq(res.status, 405);
    sim_http_free(&res);
    sim_http_send(NULL, &sim, "POST", "/api/tags", NULL, "{}", &res);
    ck_assert_int_eq(res.status, 405);
    ck_assert_str_eq(res.body,
                     "{\"error\":\"method not allowed on this path\"}");
    sim_http_free(&res);
}
END_TEST

START_TEST(body_over_limit_413)
{
    size_t size = 9u * 1024u * 1024u;
    char *body = malloc(size + 1);
    struct sim_http res;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    memset(body, 'a', size);
    body[size] = '\0';
    sim_http_send(NULL, &sim, "POST", CHAT_PATH, NULL, body, &res);
    ck_assert_int_eq(res.status, 413);
    ck_assert_ptr_nonnull(strstr(res.body, "\"code\":\"body_too_large\""));
    sim_http_free(&res);
    free(body);
}
END_TEST

START_TEST(keep_alive_reuses_connection)
{
    CURL *curl = curl_easy_init();
    struct sim_http res;
    long connects = -1;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    for (int i = 0; i < 3; i++) {
        sim_http_send(curl, &sim, "POST", CHAT_PATH, NULL, CHAT_BODY, &res);
        ck_assert_int_eq(res.status, 200);
        sim_http_free(&res);
    }
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    ck_assert_int_eq(connects, 0);
    curl_easy_cleanup(curl);
}
END_TEST

START_TEST(bad_option_exit_2)
{
    char *path = qf_test_build_path("bin/qf-sim");
    char *argv[] = {path, "--fault", "sideways", NULL};
    qf_test_run run;

    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &run), 0);
    ck_assert_int_eq(run.exit_code, 2);
    ck_assert_str_eq(run.out, "");
    ck_assert_ptr_nonnull(strstr(run.err, "unknown fault 'sideways'"));
    qf_test_run_free(&run);
    free(path);
}
END_TEST

START_TEST(port_in_use_named)
{
    char *path = qf_test_build_path("bin/qf-sim");
    char port[16], expected[256];
    char *argv[] = {path, "--port", port, NULL};
    qf_test_run run;

    ck_assert_int_eq(qf_test_sim_start(&sim, NULL), 0);
    snprintf(port, sizeof(port), "%d", sim.port);
    ck_assert_int_eq(qf_test_run_argv(argv, NULL, NULL, 30, &run), 0);
    ck_assert_int_eq(run.exit_code, 1);
    ck_assert_str_eq(run.out, "");
    snprintf(expected, sizeof(expected),
             "qf-sim: cannot listen on 127.0.0.1:%d: address already in use; "
             "stop the other server or choose --port\n",
             sim.port);
    ck_assert_str_eq(run.err, expected);
    qf_test_run_free(&run);
    free(path);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *suite = suite_create("sim_server");
    TCase *tc = tcase_create("server");

    tcase_add_checked_fixture(tc, NULL, stop_sim);
    /* A 9 MiB upload under AddressSanitizer can pass Check's 4 s default. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, key_wrong_or_missing_401);
    tcase_add_test(tc, key_not_checked_without_option);
    tcase_add_test(tc, image_png_requested_size);
    tcase_add_test(tc, image_same_prompt_same_png);
    tcase_add_test(tc, image_n_gives_distinct_images);
    tcase_add_test(tc, image_bad_size_rejected);
    tcase_add_test(tc, log_file_lines);
    tcase_add_test(tc, unknown_path_and_method);
    tcase_add_test(tc, body_over_limit_413);
    tcase_add_test(tc, keep_alive_reuses_connection);
    tcase_add_test(tc, bad_option_exit_2);
    tcase_add_test(tc, port_in_use_named);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(server_suite());
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

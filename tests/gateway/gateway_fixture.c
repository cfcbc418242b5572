/*
 * gateway_fixture.c - starts qf-sim and `qf serve` on free loopback ports
 * for each test, writes the configuration both use, and talks HTTP to the
 * gateway with libcurl.
 */
#include "gateway_fixture.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/* Roles for every test: a cached one, a rate-limited one, one over its
 * budget, three whose upstream fails and two slow ones. */
static const char config_format[] =
    "plugin_dirs: [\"%s\"]\n"
    "state_dir: %s/state\n"
    "providers:\n"
    "  text:\n"
    "    default: openai\n"
    "    openai:\n"
    "      base_url: %s/v1\n"
    "      api_key: sk-test\n"
    "      model: gpt-4o\n"
    "      retry: {max_attempts: 1}\n"
    "  image:\n"
    "    default: img\n"
    "    img: {plugin: openai, base_url: \"%s/v1\", api_key: sk-test, "
    "model: dall-e-3}\n"
    "roles:\n"
    "  plotwright: {provider: openai, model: %s, cache: {enabled: true}}\n"
    "  scene_smith: {provider: openai, rate_limit: {requests_per_minute: 1}}\n"
    "  gatekeeper: {provider: openai, rate_limit: {cost_per_day: 0.0000001}}\n"
    "  lore_weaver: {provider: openai, headers: {X-QF-Sim-Fault: malformed}}\n"
    "  book_binder: {provider: openai, headers: {X-QF-Sim-Fault: \"500\"}}\n"
    "  slow_writer:\n"
    "    provider: openai\n"
    "    headers: {X-QF-Sim-Fault: delay, X-QF-Sim-Delay-Ms: \"1500\"}\n"
    "  deep_thinker:\n"
    "    provider: openai\n"
    "    headers: {X-QF-Sim-Fault: delay, X-QF-Sim-Delay-Ms: \"4000\"}\n"
    "  loose_talker: {provider: openai, headers: {X-QF-Sim-Fault: "
    "error-mid-stream}}\n"
    "%s";

void gw_write_config(gw_fixture *gw, const char *plotwright_model,
                     const char *gateway_yaml)
{
    char *plugins = qf_test_build_path("plugins");
    char *text = NULL;
    char *path;

    if (plotwright_model == NULL)
        text = strdup("roles: [\n");
    else
        ck_assert_int_ne(asprintf(&text, config_format, plugins, gw->dir,
                                  gw->sim.base_url, gw->sim.base_url,
                                  plotwright_model, gateway_yaml),
                         -1);
    path = qf_test_write_file(gw->dir, "plugins.yml", text);
    ck_assert_ptr_nonnull(path);
    free(gw->config_path);
    gw->config_path = path;
    free(text);
    free(plugins);
}

void gw_setup(gw_fixture *gw, const char *gateway_yaml)
{
    memset(gw, 0, sizeof(*gw));
    gw->dir = qf_test_tmpdir("gateway");
    ck_assert_ptr_nonnull(gw->dir);
    ck_assert_int_eq(qf_test_sim_start(&gw->sim, NULL), 0);
    gw_write_config(gw, "gpt-4o-mini", gateway_yaml);
    ck_assert_int_ne(asprintf(&gw->log_path, "%s/serve.log", gw->dir), -1);
}

static void exec_gateway(const gw_fixture *gw, char *const env[], int out_fd)
{
    char *qf = qf_test_build_path("bin/qf");
    char *argv[] = {qf,      "--config", gw->config_path,
                    "serve", "--listen", "127.0.0.1:0",
                    NULL};
    FILE *log = fopen(gw->log_path, "a");

    /* A failed Check test exits without teardown; take the gateway along. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        putenv(env[i]);
    dup2(out_fd, 1);
    if (log != NULL)
        dup2(fileno(log), 2);
    execv(argv[0], argv);
    _exit(127);
}

/* Read the first line of the child's stdout, waiting at most 20 s. */
static void read_line(int fd, char *line, size_t size)
{
    size_t used = 0;

    while (used < size - 1) {
        struct pollfd pfd = {fd, POLLIN, 0};

        if (poll(&pfd, 1, 20000) <= 0 || read(fd, line + used, 1) <= 0 ||
            line[used] == '\n')
            break;
        used++;
    }
    line[used] = '\0';
}

int gw_start(gw_fixture *gw, char *const env[])
{
    const char *prefix = "qf serve listening on http://127.0.0.1:";
    char line[256];
    int fds[2];

    if (pipe(fds) != 0)
        return -1;
    gw->pid = fork();
    if (gw->pid == 0)
        exec_gateway(gw, env, fds[1]);
    close(fds[1]);
    read_line(fds[0], line, sizeof(line));
    close(fds[0]);
    if (strncmp(line, prefix, strlen(prefix)) != 0) {
        gw_stop(gw);
        return -1;
    }
    gw->port = (int)strtol(line + strlen(prefix), NULL, 10);
    return gw->port > 0 ? 0 : -1;
}

int gw_stop(gw_fixture *gw)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    int status = 0;

    if (gw->pid <= 0)
        return -1;
    kill(gw->pid, SIGTERM);
    for (int i = 0; i < 1500; i++) {
        if (waitpid(gw->pid, &status, WNOHANG) == gw->pid) {
            gw->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        nanosleep(&pause, NULL);
    }
    kill(gw->pid, SIGKILL);
    waitpid(gw->pid, &status, 0);
    gw->pid = 0;
    return -1;
}

/* A gateway still running must stop cleanly: a sanitizer report or a
 * crash shows up as a non-zero exit status, with the log printed. */
static void stop_checked(gw_fixture *gw)
{
    int rc;

    if (gw->pid <= 0)
        return;
    rc = gw_stop(gw);
    if (rc != 0) {
        char *log = qf_test_read_file(gw->log_path, NULL);

        fprintf(stderr, "qf serve exited with %d; its log:\n%s\n", rc,
                log != NULL ? log : "(none)");
        free(log);
    }
    ck_assert_int_eq(rc, 0);
}

void gw_teardown(gw_fixture *gw)
{
    stop_checked(gw);
    qf_test_sim_stop(&gw->sim);
    qf_test_rmtree(gw->dir);
    free(gw->dir);
    free(gw->config_path);
    free(gw->log_path);
}

typedef struct buffer {
    char *data;
    size_t len;
} buffer;

static size_t collect(char *ptr, size_t size, size_t n, void *user)
{
    buffer *b = user;
    char *grown = realloc(b->data, b->len + size * n + 1);

    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, ptr, size * n);
    b->data = grown;
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

void gw_request(const gw_fixture *gw, const char *path, const char *body,
                const char *const headers[], gw_reply *out)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *list = NULL;
    buffer b = {strdup(""), 0}, h = {strdup(""), 0};
    char url[512];

    ck_assert_ptr_nonnull(curl);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", gw->port, path);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
    if (body != NULL)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);

    out->status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = b.data;
    out->headers = h.data;
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
}

void gw_reply_free(gw_reply *reply)
{
    free(reply->body);
    free(reply->headers);
}

char *gw_header(const gw_reply *reply, const char *name)
{
    size_t len = strlen(name);

    for (const char *line = reply->headers; line != NULL && *line != '\0';) {
        const char *end = strstr(line, "\r\n");

        if (end == NULL)
            break;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *value = line + len + 1;

            while (*value == ' ')
                value++;
            return strndup(value, (size_t)(end - value));
        }
        line = end + 2;
    }
    return NULL;
}

double gw_metric_wait(const gw_fixture *gw, const char *series, double expected)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    double value = gw_metric(gw, series);

    for (int i = 0; i < 250 && value != expected; i++) {
        nanosleep(&pause, NULL);
        value = gw_metric(gw, series);
    }
    return value;
}

double gw_metric(const gw_fixture *gw, const char *series)
{
    gw_reply reply;
    double value = -1;
    size_t len = strlen(series);

    gw_request(gw, "/metrics", NULL, NULL, &reply);
    for (const char *line = reply.body; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');

        if (strncmp(line, series, len) == 0 && line[len] == ' ')
            value = strtod(line + len + 1, NULL);
        if (end == NULL)
            break;
        line = end + 1;
    }
    gw_reply_free(&reply);
    return value;
}

/*
 * server.c - the libmicrohttpd daemon of qf-sim: one thread per
 * connection, bound to 127.0.0.1. The access handler collects the upload,
 * parses it as JSON, writes the request log line, checks the bearer key,
 * applies the selected fault and then routes to an endpoint. qf-sim opens
 * the listening socket itself, so a failure names the port and the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sim.h"

const struct sim_config *sim_config;
static atomic_bool stopping;

struct route {
    const char *method;
    const char *path;
    enum sim_api api;
    enum MHD_Result (*handler)(struct sim_request *req);
};

static const struct route routes[] = {
    {"POST", "/v1/chat/completions", SIM_API_OPENAI, sim_openai_chat},
    {"POST", "/v1/images/generations", SIM_API_OPENAI, sim_openai_images},
    {"GET", "/v1/models", SIM_API_OPENAI, sim_openai_models},
    {"POST", "/api/chat", SIM_API_OLLAMA, sim_ollama_chat},
    {"POST", "/api/generate", SIM_API_OLLAMA, sim_ollama_generate},
    {"GET", "/api/tags", SIM_API_OLLAMA, sim_ollama_tags},
};

void sim_server_request_stop(void)
{
    atomic_store(&stopping, true);
}

bool sim_server_stopping(void)
{
    return atomic_load(&stopping);
}

static enum sim_api api_of_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 ? SIM_API_OLLAMA : SIM_API_OPENAI;
}

/* Append one upload piece; bodies over SIM_MAX_BODY are dropped. */
static void append_body(struct sim_request *req, const char *data, size_t size)
{
    char *grown;

    if (req->too_large || size == 0)
        return;
    if (req->body_len + size > SIM_MAX_BODY) {
        req->too_large = true;
        return;
    }
    if (req->body_len + size + 1 > req->body_cap) {
        size_t cap = (req->body_len + size + 1) * 2;

        grown = realloc(req->body, cap);
        if (grown == NULL) {
            req->too_large = true;
            return;
        }
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
}

/* True when no key is configured or the bearer matches it. */
static bool bearer_ok(struct MHD_Connection *conn)
{
    const char *auth = sim_header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t key_len;

    if (sim_config->key == NULL)
        return true;
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    auth += 7;
    key_len = strlen(sim_config->key);
    if (strlen(auth) != key_len)
        return false;
    return CRYPTO_memcmp(auth, sim_config->key, key_len) == 0;
}

static enum MHD_Result reject_key(struct sim_request *req)
{
    req->api = SIM_API_OPENAI;
    return sim_respond_error(req, MHD_HTTP_UNAUTHORIZED,
                             "invalid_request_error", "invalid_api_key",
                             "Incorrect API key provided. qf-sim was "
                             "started with --key: send 'Authorization: "
                             "Bearer' with that key.");
}

static enum MHD_Result route_request(struct sim_request *req)
{
    bool path_known = false;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, req->path) != 0)
            continue;
        path_known = true;
        if (strcmp(routes[i].method, req->method) != 0)
            continue;
        if (strcmp(req->method, "POST") == 0 &&
            (req->json == NULL || !cJSON_IsObject(req->json)))
            return sim_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                     "invalid_request_error", "invalid_json",
                                     "request body is not a JSON object");
        return routes[i].handler(req);
    }
    if (path_known)
        return sim_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "invalid_request_error", "method_not_allowed",
                                 "method not allowed on this path");
    return sim_respond_error(req, MHD_HTTP_NOT_FOUND, "invalid_request_error",
                             "unknown_url", "unknown path");
}

/* Parse and log the request, then check the key, apply the fault and
 * route it. */
static enum MHD_Result serve(struct sim_request *req)
{
    enum MHD_Result result;

    req->api = api_of_path(req->path);
    if (req->body_len > 0 && !req->too_large)
        req->json = cJSON_ParseWithLength(req->body, req->body_len);
    if (sim_fault_select(req) != 0) {
        sim_log_request(req);
        return sim_respond_error(req, MHD_HTTP_BAD_REQUEST,
                                 "invalid_request_error", "unknown_fault",
                                 "unknown X-QF-Sim-Fault name: see "
                                 "docs/qf-sim.md for the fault names");
    }
    sim_log_request(req);

    if (req->too_large)
        return sim_respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE,
                                 "invalid_request_error", "body_too_large",
                                 "request body is over 8 MiB");
    if (req->api == SIM_API_OPENAI && !bearer_ok(req->conn))
        return reject_key(req);
    if (sim_fault_respond(req, &result))
        return result;
    return route_request(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct sim_request *req = *con_cls;

    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->conn = conn;
        req->method = method;
        req->path = url;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return serve(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct sim_request *req = *con_cls;

    if (req == NULL)
        return;
    cJSON_Delete(req->json);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static void print_listen_error(int port, int error)
{
    if (error == EADDRINUSE)
        fprintf(stderr,
                "qf-sim: cannot listen on 127.0.0.1:%d: address already in "
                "use; stop the other server or choose --port\n",
                port);
    else
        fprintf(stderr,
                "qf-sim: cannot listen on 127.0.0.1:%d: %s; choose another "
                "--port\n",
                port, strerror(error));
}

/* A socket listening on 127.0.0.1:port and the port it got (port 0 picks
 * a free one), or -1 after printing why. */
static int listen_socket(int port, int *bound_port)
{
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof(addr);
    int enable = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        print_listen_error(port, errno);
        return -1;
    }
    /* Like libmicrohttpd's own sockets: a restart may reuse the port while
     * old connections are in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enable, sizeof(enable));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        int error = errno;

        close(fd);
        print_listen_error(port, error);
        return -1;
    }
    *bound_port = ntohs(addr.sin_port);
    return fd;
}

/* Start the daemon on 127.0.0.1:config->port; NULL after printing why. */
struct MHD_Daemon *sim_server_start(const struct sim_config *config,
                                    int *bound_port)
{
    struct MHD_Daemon *daemon;
    int fd = listen_socket(config->port, bound_port);

    if (fd < 0)
        return NULL;
    sim_config = config;
    /* The daemon owns the socket from here and closes it when it stops. */
    daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            MHD_USE_AUTO | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_access, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (daemon == NULL) {
        close(fd);
        fprintf(stderr,
                "qf-sim: libmicrohttpd could not start on 127.0.0.1:%d; see "
                "its message above\n",
                *bound_port);
    }
    return daemon;
}

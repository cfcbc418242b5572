/*
 * serve_http.c - the gateway's HTTP side on libmicrohttpd: one thread per
 * connection, the body size limit, header and request timeouts, client
 * authentication, routing to the endpoints, and OpenAI error objects.
 *
 * A connection waits at most header_timeout_seconds for a request. Once the
 * headers are in, its timeout is raised to request_timeout_seconds for the
 * body and the response, and lowered again when the response is sent.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "serve_internal.h"

/* --- Responses -------------------------------------------------------- */

enum MHD_Result serve_queue(struct MHD_Connection *conn, serve_call *call,
                            int status, struct MHD_Response *resp)
{
    enum MHD_Result rc;

    if (resp == NULL)
        return MHD_NO;
    if (atomic_load(&call->server->stopping))
        MHD_add_response_header(resp, "Connection", "close");
    call->status = status;
    rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static struct MHD_Response *json_response(cJSON *body)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    struct MHD_Response *resp;

    cJSON_Delete(body);
    if (text == NULL)
        return NULL;
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

enum MHD_Result serve_respond_json(struct MHD_Connection *conn,
                                   serve_call *call, int status, cJSON *body)
{
    return serve_queue(conn, call, status, json_response(body));
}

static cJSON *error_json(const char *message, const char *type,
                         const char *code, const char *param)
{
    cJSON *error = cJSON_CreateObject();

    cJSON_AddStringToObject(error, "message", message);
    cJSON_AddStringToObject(error, "type", type);
    if (param != NULL)
        cJSON_AddStringToObject(error, "param", param);
    else
        cJSON_AddNullToObject(error, "param");
    cJSON_AddStringToObject(error, "code", code);
    return error;
}

enum MHD_Result serve_respond_error(struct MHD_Connection *conn,
                                    serve_call *call, int status,
                                    const char *type, const char *code,
                                    const char *param, const char *fmt, ...)
{
    char message[1024];
    cJSON *body = cJSON_CreateObject();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cJSON_AddItemToObject(body, "error",
                          error_json(message, type, code, param));
    call->error_code = code;
    return serve_respond_json(conn, call, status, body);
}

/* HTTP status, type and code of a failed chain. */
static int map_status(const qf_error *err, const char **type, const char **code)
{
    switch (err->status) {
    case QF_ERR_RATE_LIMITED:
        *type = "requests";
        *code = "rate_limit_exceeded";
        return 429;
    case QF_ERR_BUDGET:
        *type = "insufficient_quota";
        *code = "insufficient_quota";
        return 429;
    case QF_ERR_UPSTREAM:
        /* NOTE: an upstream 401 or 403 (a bad provider key) reaches the
         * client with that status, which it may take for its own key. */
        *type = "upstream_error";
        *code = "upstream_error";
        if (err->http_status == 429)
            *code = "rate_limit_exceeded";
        return err->http_status >= 400 && err->http_status <= 599
                   ? err->http_status
                   : 502;
    case QF_ERR_PROTOCOL:
    case QF_ERR_STREAM_CUT:
    case QF_ERR_CONNECT:
        *type = "upstream_error";
        *code = "bad_gateway";
        return 502;
    case QF_ERR_TIMEOUT:
        *type = "upstream_error";
        *code = "upstream_timeout";
        return 504;
    case QF_ERR_INVALID:
    case QF_ERR_UNSUPPORTED:
        *type = "invalid_request_error";
        *code = "invalid_request";
        return 400;
    case QF_ERR_TOO_LARGE:
        *type = "invalid_request_error";
        *code = "request_too_large";
        return 413;
    case QF_ERR_REFUSED:
        *type = "permission_error";
        *code = "refused";
        return 403;
    default:
        *type = "server_error";
        *code = qf_status_name(err->status);
        return 500;
    }
}

cJSON *serve_error_object(const qf_error *err, int *status, const char **code)
{
    const char *type, *c;
    int http = map_status(err, &type, &c);

    if (status != NULL)
        *status = http;
    if (code != NULL)
        *code = c;
    return error_json(err->message, type, c, NULL);
}

enum MHD_Result serve_respond_qf_error(struct MHD_Connection *conn,
                                       serve_call *call, const qf_error *err)
{
    int status = 500;
    cJSON *body = cJSON_CreateObject();
    struct MHD_Response *resp;

    cJSON_AddItemToObject(body, "error",
                          serve_error_object(err, &status, &call->error_code));
    resp = json_response(body);
    if (resp != NULL && err->retry_after_ms >= 0 &&
        (status == 429 || status == 503)) {
        char seconds[32];

        /* Retry-After takes whole seconds: round the wait up. */
        snprintf(seconds, sizeof(seconds), "%lld",
                 (long long)((err->retry_after_ms + 999) / 1000));
        MHD_add_response_header(resp, "Retry-After", seconds);
    }
    return serve_queue(conn, call, status, resp);
}

const char *serve_pick_role(struct MHD_Connection *conn, serve_call *call,
                            const cJSON *model, enum MHD_Result *rc)
{
    const char *name = cJSON_GetStringValue(model);

    if (name == NULL) {
        *rc = serve_respond_error(conn, call, 400, "invalid_request_error",
                                  "invalid_request", "model",
                                  "model is missing or not a string; set it "
                                  "to a role name such as plotwright");
        return NULL;
    }
    if (strncmp(name, "role/", 5) == 0)
        name += 5;
    if (strlen(name) >= sizeof(call->role) ||
        !serve_generation_has_role(call->gen, name)) {
        *rc = serve_respond_error(conn, call, 404, "invalid_request_error",
                                  "model_not_found", "model",
                                  "The model '%.200s' does not exist; GET "
                                  "/v1/models lists the roles this gateway "
                                  "serves",
                                  name);
        return NULL;
    }
    snprintf(call->role, sizeof(call->role), "%s", name);
    if (!serve_key_allows(call->key, name)) {
        *rc = serve_respond_error(conn, call, 403, "permission_error",
                                  "model_not_allowed", "model",
                                  "key %s may not use role %s; add the role "
                                  "to its roles list in gateway.keys",
                                  call->key->id, name);
        return NULL;
    }
    return call->role;
}

/* --- Routing ------------------------------------------------------------ */

typedef struct route {
    const char *method;
    const char *path;
    const char *endpoint;
    int needs_key;
} route;

static const route routes[] = {
    {"POST", "/v1/chat/completions", "chat", 1},
    {"POST", "/v1/images/generations", "images", 1},
    {"GET", "/v1/models", "models", 1},
    {"GET", "/metrics", "metrics", 0},
    {"GET", "/healthz", "healthz", 0},
    {"GET", "/readyz", "readyz", 0},
};

static const route *find_route(const char *method, const char *url,
                               int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        *path_known = 1;
        if (strcmp(method, routes[i].method) == 0)
            return &routes[i];
    }
    return NULL;
}

static enum MHD_Result dispatch(struct MHD_Connection *conn, serve_call *call)
{
    const char *e = call->endpoint;

    if (call->body_too_large)
        return serve_respond_error(
            conn, call, 413, "invalid_request_error", "request_too_large", NULL,
            "request body exceeds %lld bytes "
            "(gateway.max_body_bytes)",
            (long long)call->server->settings.max_body_bytes);
    if (strcmp(e, "chat") == 0)
        return serve_chat(conn, call);
    if (strcmp(e, "images") == 0)
        return serve_images(conn, call);
    if (strcmp(e, "models") == 0)
        return serve_models(conn, call);
    if (strcmp(e, "metrics") == 0)
        return serve_metrics_page(conn, call);
    return serve_health(conn, call, strcmp(e, "readyz") == 0);
}

static enum MHD_Result reject_key(struct MHD_Connection *conn, serve_call *call,
                                  const char *auth)
{
    if (auth == NULL)
        return serve_respond_error(conn, call, 401, "invalid_request_error",
                                   "invalid_api_key", NULL,
                                   "missing Authorization header; send "
                                   "'Authorization: Bearer KEY' with a key "
                                   "from gateway.keys");
    return serve_respond_error(conn, call, 401, "invalid_request_error",
                               "invalid_api_key", NULL,
                               "invalid API key; use a key from "
                               "gateway.keys");
}

/* Checks made once the headers are in: shutdown, route, size, key. Either
 * answers the call or lets it go on to read its body. */
static enum MHD_Result admit(struct MHD_Connection *conn, serve_call *call,
                             const char *method, const char *url)
{
    int path_known;
    const route *r = find_route(method, url, &path_known);
    const char *length =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

    if (atomic_load(&call->server->stopping))
        return serve_respond_error(conn, call, 503, "server_error",
                                   "shutting_down", NULL,
                                   "the gateway is shutting down; retry on "
                                   "another instance");
    if (r == NULL)
        return serve_respond_error(
            conn, call, path_known ? 405 : 404, "invalid_request_error",
            path_known ? "method_not_allowed" : "unknown_url", NULL,
            "%s %s is not an endpoint of this gateway", method, url);
    call->endpoint = r->endpoint;

    /* A declared length over the limit is refused before reading it. */
    if (length != NULL &&
        strtoll(length, NULL, 10) > call->server->settings.max_body_bytes) {
        call->body_too_large = 1;
        return dispatch(conn, call);
    }
    if (r->needs_key && call->gen->key_count > 0 &&
        (call->key = serve_key_find(call->gen, auth)) == NULL)
        return reject_key(conn, call, auth);
    return MHD_YES;
}

static serve_call *call_new(serve_server *server)
{
    serve_call *call = calloc(1, sizeof(*call));

    if (call == NULL)
        return NULL;
    call->server = server;
    call->start_ns = serve_now_ns();
    call->endpoint = "other";
    call->gen = serve_generation_acquire(server);
    atomic_fetch_add(&server->active, 1);
    return call;
}

static int append_body(serve_call *call, const char *data, size_t len)
{
    char *grown;

    if (call->body_too_large ||
        call->body_len + len > (size_t)call->server->settings.max_body_bytes) {
        call->body_too_large = 1;
        return 0;
    }
    grown = realloc(call->body, call->body_len + len + 1);
    if (grown == NULL)
        return -1;
    memcpy(grown + call->body_len, data, len);
    call->body = grown;
    call->body_len += len;
    call->body[call->body_len] = '\0';
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    serve_server *server = cls;
    serve_call *call = *con_cls;
    if (call == NULL) {
        call = call_new(server);
        if (call == NULL)
            return MHD_NO;
        *con_cls = call;
        MHD_set_connection_option(
            conn, MHD_CONNECTION_OPTION_TIMEOUT,
            (unsigned)server->settings.request_timeout_seconds);
        return admit(conn, call, method, url);
    }
    if (call->status != 0) {
        *upload_data_size = 0; /* answered early: discard the body */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (append_body(call, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(conn, call);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    serve_server *server = cls;
    serve_call *call = *con_cls;
    double seconds;

    if (call == NULL)
        return;
    *con_cls = NULL;
    seconds = (double)(serve_now_ns() - call->start_ns) / 1e9;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && call->status == 0)
        call->status = 499; /* closed before an answer was sent */
    serve_metrics_record_call(server, call, seconds);
    serve_access_log_write(server->log, call, seconds);
    MHD_set_connection_option(
        conn, MHD_CONNECTION_OPTION_TIMEOUT,
        (unsigned)server->settings.header_timeout_seconds);

    serve_job_release(call->job);
    serve_generation_release(call->gen);
    free(call->body);
    free(call);
    atomic_fetch_sub(&server->active, 1);
}

qf_status serve_http_start(serve_server *server, int *port, qf_error *err)
{
    struct sockaddr_in addr = {0};
    const union MHD_DaemonInfo *info;
    const serve_settings *s = &server->settings;

    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->port);
    inet_pton(AF_INET, s->host, &addr.sin_addr);
    server->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            MHD_USE_AUTO | MHD_USE_ITC,
        0, NULL, NULL, handle, server, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->header_timeout_seconds,
        MHD_OPTION_NOTIFY_COMPLETED, completed, server, MHD_OPTION_END);
    if (server->daemon == NULL)
        return qf_error_set(err, QF_ERR_IO,
                            "cannot listen on %s:%d; is the port in use? "
                            "Choose another with --listen ADDR:PORT",
                            s->host, s->port);
    info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = info != NULL ? info->port : s->port;
    return QF_OK;
}

void serve_http_stop(serve_server *server)
{
    if (server->daemon != NULL)
        MHD_stop_daemon(server->daemon);
    server->daemon = NULL;
}

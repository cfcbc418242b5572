/*
 * test_middleware.c - a configurable middleware for chain tests.
 *
 * Settings: tag (name in the trace), trace_file (each hook appends one line
 * "TAG HOOK [detail]"), action (pass | answer | refuse | fail_response),
 * answer_text, add_system (a system message put first), set_param and
 * param_value (JSON text), tap (true to add a stream tap that traces every
 * chunk).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qf/plugin.h>

typedef struct mw {
    const qf_host *host;
    qf_context *ctx;
    const char *tag;
    const char *trace_file;
    const char *action;
    const char *answer_text;
    const char *add_system;
    const char *set_param;
    const char *param_value;
    int tap;
} mw;

typedef struct call_state {
    mw *m;
    int chunks;
} call_state;

static void trace(const mw *m, const char *hook, const char *detail)
{
    char line[512];
    int fd, n;

    if (m->trace_file == NULL)
        return;
    n = snprintf(line, sizeof(line), "%s %s%s%s\n", m->tag, hook,
                 detail ? " " : "", detail ? detail : "");
    fd = open(m->trace_file, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) != n)
        m->host->log(m->ctx, QF_LOG_WARN, "short write to %s", m->trace_file);
    close(fd);
}

static const char *setting(mw *m, const char *key, const char *fallback,
                           qf_error *err)
{
    const char *value = NULL;

    if (m->host->config_string(m->ctx, key, &value, err) != QF_OK)
        return fallback;
    return value;
}

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    mw *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "out of memory");
    m->host = host;
    m->ctx = ctx;
    m->tag = setting(m, "tag", host->context_name(ctx), err);
    m->trace_file = setting(m, "trace_file", NULL, err);
    m->action = setting(m, "action", "pass", err);
    m->answer_text = setting(m, "answer_text", "early answer", err);
    m->add_system = setting(m, "add_system", NULL, err);
    m->set_param = setting(m, "set_param", NULL, err);
    m->param_value = setting(m, "param_value", NULL, err);
    if (host->config_bool(ctx, "tap", &m->tap, err) != QF_OK)
        m->tap = 0;
    if (strcmp(m->action, "fail_create") == 0) {
        free(m);
        return host->error_set(err, QF_ERR_CONFIG,
                               "test_middleware: action fail_create");
    }
    *instance = m;
    return QF_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static qf_status on_delta(void *user, const char *text, size_t len)
{
    call_state *s = user;
    char detail[256];

    s->chunks++;
    snprintf(detail, sizeof(detail), "%.*s", (int)(len < 200 ? len : 200),
             text);
    trace(s->m, "tap", detail);
    return QF_OK;
}

static qf_status change_request(mw *m, qf_request *req, qf_error *err)
{
    if (m->add_system != NULL &&
        m->host->request_insert_message(req, 0, "system", m->add_system,
                                        strlen(m->add_system)) != QF_OK)
        return m->host->error_set(err, QF_ERR_NOMEM, "insert failed");
    if (m->set_param != NULL &&
        m->host->request_set_param(req, m->set_param, m->param_value) != QF_OK)
        return m->host->error_set(err, QF_ERR_INVALID,
                                  "test_middleware: param_value is not JSON");
    return QF_OK;
}

static qf_status on_request(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err)
{
    mw *m = instance;
    call_state *s = calloc(1, sizeof(*s));
    qf_stream_tap tap = {sizeof(tap), on_delta, NULL};

    if (s == NULL)
        return m->host->error_set(err, QF_ERR_NOMEM, "out of memory");
    s->m = m;
    *state = s;
    trace(m, "request", NULL);
    if (m->tap) {
        tap.user = s;
        m->host->stream_add_tap(resp, &tap);
    }
    if (strcmp(m->action, "refuse") == 0)
        return m->host->error_set(err, QF_ERR_REFUSED,
                                  "%s refused the request as configured",
                                  m->tag);
    if (strcmp(m->action, "answer") == 0) {
        qf_usage usage = {sizeof(usage), 0, 0, 0, 0};

        m->host->response_set_text(resp, m->answer_text,
                                   strlen(m->answer_text));
        m->host->response_set_finish_reason(resp, "stop");
        m->host->response_set_usage(resp, &usage);
        m->host->response_set_model(resp, m->host->request_model(req));
        return QF_ANSWERED;
    }
    return change_request(m, req, err);
}

static qf_status on_response(void *instance, void **state,
                             const qf_request *req, qf_response *resp,
                             qf_error *err)
{
    mw *m = instance;

    trace(m, "response", NULL);
    if (strcmp(m->action, "fail_response") == 0)
        return m->host->error_set(err, QF_ERR_REFUSED,
                                  "%s failed the response as configured",
                                  m->tag);
    return QF_OK;
}

static void on_complete(void *instance, void **state, const qf_request *req,
                        const qf_response *resp, qf_status status)
{
    mw *m = instance;
    char detail[32];

    snprintf(detail, sizeof(detail), "%d", (int)status);
    trace(m, "complete", detail);
    free(*state);
    *state = NULL;
}

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "tag", QF_OPT_STRING, NULL, 0,
     "name in the trace"},
    {sizeof(qf_option_spec), "trace_file", QF_OPT_STRING, NULL, 0,
     "file each hook appends a line to"},
    {sizeof(qf_option_spec), "action", QF_OPT_STRING, "pass", 0,
     "pass, answer, refuse, fail_response or fail_create"},
    {sizeof(qf_option_spec), "answer_text", QF_OPT_STRING, "early answer", 0,
     "text of an early answer"},
    {sizeof(qf_option_spec), "add_system", QF_OPT_STRING, NULL, 0,
     "system message to put first"},
    {sizeof(qf_option_spec), "set_param", QF_OPT_STRING, NULL, 0,
     "generation parameter to set"},
    {sizeof(qf_option_spec), "param_value", QF_OPT_STRING, NULL, 0,
     "its value as JSON text"},
    {sizeof(qf_option_spec), "tap", QF_OPT_BOOL, "false", 0,
     "trace every stream chunk"},
};

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            create,
                                            destroy,
                                            on_request,
                                            on_response,
                                            on_complete};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "test_middleware",
    "Test middleware",
    "1.0.0",
    "Traces its hooks and passes, answers, refuses or fails as configured.",
    QF_KIND_MIDDLEWARE,
    NULL,
    options,
    sizeof(options) / sizeof(options[0]),
    NULL,
    &vtable,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

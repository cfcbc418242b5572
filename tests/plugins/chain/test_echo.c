/*
 * test_echo.c - an in-process provider for chain tests and benchmarks.
 *
 * Its answer restates the request it received, one line each: the model,
 * every message as "[role] content", then params and options as JSON, so
 * a test sees exactly what reached the provider. Settings: mode (echo |
 * fail | cut), chunk_size (bytes per stream chunk, default 8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qf/plugin.h>

typedef struct echo {
    const qf_host *host;
    qf_context *ctx;
    const char *mode;
    int64_t chunk_size;
} echo;

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    echo *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "out of memory");
    e->host = host;
    e->ctx = ctx;
    if (host->config_string(ctx, "mode", &e->mode, err) != QF_OK)
        e->mode = "echo";
    if (host->config_int(ctx, "chunk_size", &e->chunk_size, err) != QF_OK ||
        e->chunk_size <= 0)
        e->chunk_size = 8;
    *instance = e;
    return QF_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t grown = *cap ? *cap * 2 : 256;
        char *p;

        while (grown < *len + n + 1)
            grown *= 2;
        p = realloc(*buf, grown);
        if (p == NULL)
            return -1;
        *buf = p;
        *cap = grown;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Build the echo text; returns a malloc'd string and its prompt bytes. */
static char *describe(const echo *e, const qf_request *req,
                      size_t *prompt_bytes)
{
    const qf_host *h = e->host;
    const char *model = h->request_model(req);
    char *buf = NULL;
    size_t len = 0, cap = 0;

    *prompt_bytes = 0;
    append(&buf, &len, &cap, "model=", 6);
    append(&buf, &len, &cap, model ? model : "(none)",
           strlen(model ? model : "(none)"));
    for (size_t i = 0; i < h->request_message_count(req); i++) {
        const char *role, *content;
        size_t n;

        h->request_message(req, i, &role, &content, &n);
        append(&buf, &len, &cap, "\n[", 2);
        append(&buf, &len, &cap, role, strlen(role));
        append(&buf, &len, &cap, "] ", 2);
        append(&buf, &len, &cap, content, n);
        *prompt_bytes += n;
    }
    append(&buf, &len, &cap, "\nparams=", 8);
    append(&buf, &len, &cap, h->request_params_json(req),
           strlen(h->request_params_json(req)));
    append(&buf, &len, &cap, "\noptions=", 9);
    append(&buf, &len, &cap, h->request_options_json(req),
           strlen(h->request_options_json(req)));
    return buf;
}

static qf_status stream_text(echo *e, qf_response *resp, const char *text,
                             size_t len, qf_error *err)
{
    size_t step = (size_t)e->chunk_size;

    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        qf_status status = e->host->stream_write(resp, text + off, n);

        if (status != QF_OK)
            return e->host->error_set(err, status, "test_echo: stream stopped");
        if (strcmp(e->mode, "cut") == 0)
            return e->host->error_set(err, QF_ERR_STREAM_CUT,
                                      "test_echo: upstream stream was cut "
                                      "before its end");
    }
    return QF_OK;
}

static qf_status complete(void *instance, const qf_request *req,
                          qf_response *resp, qf_error *err)
{
    echo *e = instance;
    const qf_host *h = e->host;
    size_t prompt_bytes, len;
    char *text;
    qf_usage usage = {sizeof(usage), 0, 0, 0, 0};
    qf_status status = QF_OK;

    if (strcmp(e->mode, "fail") == 0) {
        h->error_set_http_status(err, 500);
        return h->error_set(err, QF_ERR_UPSTREAM,
                            "test_echo: upstream returned HTTP 500: failing as "
                            "configured");
    }
    text = describe(e, req, &prompt_bytes);
    if (text == NULL)
        return h->error_set(err, QF_ERR_NOMEM, "out of memory");
    len = strlen(text);
    if (h->request_stream(req))
        status = stream_text(e, resp, text, len, err);
    else
        status = h->response_set_text(resp, text, len);
    if (status == QF_OK) {
        usage.prompt_tokens = (int64_t)((prompt_bytes + 3) / 4);
        usage.completion_tokens = (int64_t)((len + 3) / 4);
        h->response_set_usage(resp, &usage);
        h->response_set_finish_reason(resp, "stop");
        h->response_set_model(resp, h->request_model(req));
    }
    free(text);
    return status;
}

static qf_status generate_image(void *instance, const qf_request *req,
                                qf_response *resp, qf_error *err)
{
    echo *e = instance;
    const qf_host *h = e->host;
    size_t count = h->request_message_count(req), n = 0;
    const char *content = "";
    char bytes[512];
    int len;

    if (count > 0)
        h->request_message(req, count - 1, NULL, &content, &n);
    len = snprintf(bytes, sizeof(bytes), "IMAGE:%.*s", (int)(n < 400 ? n : 400),
                   content);
    h->response_set_model(resp, h->request_model(req));
    return h->response_add_image(resp, bytes, (size_t)len, "image/png");
}

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "mode", QF_OPT_STRING, "echo", 0,
     "echo, fail or cut"},
    {sizeof(qf_option_spec), "chunk_size", QF_OPT_INT, "8", 0,
     "bytes per stream chunk"},
};

static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_STREAM,
                                           QF_CAP_IMAGE, NULL};

static const qf_provider_vtable vtable = {sizeof(qf_provider_vtable), create,
                                          destroy, complete, generate_image};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "test_echo",
    "Test echo provider",
    "1.0.0",
    "Answers with a restatement of the request it received.",
    QF_KIND_PROVIDER,
    capabilities,
    options,
    sizeof(options) / sizeof(options[0]),
    &vtable,
    NULL,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

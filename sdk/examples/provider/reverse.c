/*
 * reverse.c - an example provider: answers with the request's messages,
 * each one's bytes reversed, one per line, so you can see what the chain
 * did to the request. It has no state, so complete may run on any thread.
 */
#include <stdlib.h>

#include <qf/plugin.h>

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    (void)ctx;
    (void)err;
    *instance = (void *)host; /* the only thing complete needs */
    return QF_OK;
}

static void destroy(void *instance)
{
    (void)instance;
}

/* Write the messages, reversed, one per line, into host-allocated *out. */
static qf_status reverse_all(const qf_host *h, const qf_request *req,
                             char **out, size_t *out_len)
{
    size_t count = h->request_message_count(req), cap = 1, at = 0;
    const char *text;
    size_t len;

    for (size_t i = 0; i < count; i++)
        if (h->request_message(req, i, NULL, &text, &len) == QF_OK)
            cap += len + 1;
    if ((*out = h->alloc(cap)) == NULL)
        return QF_ERR_NOMEM;
    for (size_t i = 0; i < count; i++) {
        if (h->request_message(req, i, NULL, &text, &len) != QF_OK)
            continue;
        if (at > 0)
            (*out)[at++] = '\n';
        for (size_t j = 0; j < len; j++)
            (*out)[at++] = text[len - 1 - j];
    }
    *out_len = at;
    return QF_OK;
}

static qf_status complete(void *instance, const qf_request *req,
                          qf_response *resp, qf_error *err)
{
    const qf_host *h = instance;
    qf_usage usage = {sizeof(usage), 0, 0, 0, 1};
    char *text;
    size_t len;
    qf_status status;

    if (reverse_all(h, req, &text, &len) != QF_OK)
        return h->error_set(err, QF_ERR_NOMEM, "reverse: out of memory");
    /* A streamed request gets the text through stream_write (one chunk
     * here), which also appends it to the response. */
    status = h->request_stream(req) ? h->stream_write(resp, text, len)
                                    : h->response_set_text(resp, text, len);
    h->free(text);
    if (status != QF_OK)
        return h->error_set(err, status, "reverse: the answer was not taken");

    usage.prompt_tokens = usage.completion_tokens = (int64_t)(len + 3) / 4;
    h->response_set_usage(resp, &usage);
    h->response_set_finish_reason(resp, "stop");
    return h->response_set_model(resp, "reverse");
}

static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_STREAM, NULL};

static const qf_provider_vtable vtable = {sizeof(qf_provider_vtable), create,
                                          destroy, complete, NULL};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "reverse",
    "Reverse",
    "1.0.0",
    "Answers with each message of the request reversed.",
    QF_KIND_PROVIDER,
    capabilities,
    NULL,
    0,
    &vtable,
    NULL,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

/*
 * test_passthrough.c - a middleware that does nothing: every hook returns
 * at once. The chain-overhead benchmark measures the host's cost with it.
 */
#include <qf/plugin.h>

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    static int token;

    *instance = &token;
    return QF_OK;
}

static void destroy(void *instance)
{
}

static qf_status on_request(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err)
{
    return QF_OK;
}

static qf_status on_response(void *instance, void **state,
                             const qf_request *req, qf_response *resp,
                             qf_error *err)
{
    return QF_OK;
}

static void on_complete(void *instance, void **state, const qf_request *req,
                        const qf_response *resp, qf_status status)
{
}

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            create,
                                            destroy,
                                            on_request,
                                            on_response,
                                            on_complete};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "test_passthrough",
    "Test pass-through middleware",
    "1.0.0",
    "Passes every request and response on unchanged.",
    QF_KIND_MIDDLEWARE,
    NULL,
    NULL,
    0,
    NULL,
    &vtable,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

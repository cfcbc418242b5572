/*
 * headers_c.c - compiles every SDK header as strict C11 and uses the
 * descriptor macros as a plugin would. Built with -pedantic -Werror; the
 * build failing is the test failing.
 */
#include <qf/abi.h>
#include <qf/host.h>
#include <qf/plugin.h>

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    (void)host;
    (void)ctx;
    (void)err;
    *instance = NULL;
    return QF_OK;
}

static void destroy(void *instance)
{
    (void)instance;
}

static qf_status on_request(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err)
{
    (void)instance;
    (void)state;
    (void)req;
    (void)resp;
    (void)err;
    return QF_OK;
}

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "prefix", QF_OPT_STRING, "hi", 0, "text"},
};

static const qf_middleware_vtable vtable = {
    sizeof(qf_middleware_vtable), create, destroy, on_request, NULL, NULL};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "headers_c",
    "Headers in C",
    "1.0.0",
    "Compiles the SDK headers as C11.",
    QF_KIND_MIDDLEWARE,
    NULL,
    options,
    1,
    NULL,
    &vtable,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

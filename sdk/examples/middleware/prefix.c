/*
 * prefix.c - an example middleware: puts a system message (the "system"
 * option) before the messages of every request. The instance is read-only
 * after create, so the host may call on_request from any thread.
 */
#include <stdlib.h>
#include <string.h>

#include <qf/plugin.h>

typedef struct prefix {
    const qf_host *host;
    const char *system; /* owned by the host until destroy */
} prefix;

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    prefix *self = calloc(1, sizeof(*self));

    if (self == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "prefix: out of memory");
    self->host = host;
    self->system = "Answer briefly.";
    if (host->config_string(ctx, "system", &self->system, err) ==
        QF_ERR_CONFIG) {
        free(self);
        return QF_ERR_CONFIG;
    }
    *instance = self;
    return QF_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static qf_status on_request(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err)
{
    const prefix *self = instance;

    (void)state;
    (void)resp;
    if (self->host->request_insert_message(req, 0, "system", self->system,
                                           strlen(self->system)) != QF_OK)
        return self->host->error_set(err, QF_ERR_NOMEM,
                                     "prefix: cannot add the system message");
    return QF_OK;
}

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "system", QF_OPT_STRING, "Answer briefly.", 0,
     "system message put before the request's messages"},
};

static const qf_middleware_vtable vtable = {
    sizeof(qf_middleware_vtable), create, destroy, on_request, NULL, NULL};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "prefix",
    "Prefix",
    "1.0.0",
    "Puts a system message before every request.",
    QF_KIND_MIDDLEWARE,
    NULL,
    options,
    1,
    NULL,
    &vtable,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

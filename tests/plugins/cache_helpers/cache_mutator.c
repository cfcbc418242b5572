/*
 * cache_mutator.c - a test middleware that changes the request before the
 * cache sees it, to prove the cache key is computed after earlier chain
 * entries ran. Settings: set_param and param_value (JSON text) set one
 * generation parameter; add_system puts a system message first.
 */
#include <string.h>

#include <qf/plugin.h>

typedef struct mutator {
    const qf_host *host;
    qf_context *ctx;
    const char *set_param;
    const char *param_value;
    const char *add_system;
} mutator;

static void read_optional(mutator *m, const char *name, const char **out,
                          qf_error *err)
{
    *out = NULL;
    if (m->host->config_string(m->ctx, name, out, err) != QF_OK)
        *out = NULL;
}

static qf_status mutator_create(const qf_host *host, qf_context *ctx,
                                void **instance, qf_error *err)
{
    mutator *m = host->alloc(sizeof(*m));

    if (m == NULL)
        return host->error_set(err, QF_ERR_NOMEM,
                               "cache_mutator: out of memory");
    memset(m, 0, sizeof(*m));
    m->host = host;
    m->ctx = ctx;
    read_optional(m, "set_param", &m->set_param, err);
    read_optional(m, "param_value", &m->param_value, err);
    read_optional(m, "add_system", &m->add_system, err);
    *instance = m;
    return QF_OK;
}

static void mutator_destroy(void *instance)
{
    mutator *m = instance;

    m->host->free(m);
}

static qf_status mutator_on_request(void *instance, void **state,
                                    qf_request *req, qf_response *resp,
                                    qf_error *err)
{
    mutator *m = instance;
    qf_status st = QF_OK;

    if (m->set_param != NULL && m->param_value != NULL)
        st = m->host->request_set_param(req, m->set_param, m->param_value);
    if (st == QF_OK && m->add_system != NULL)
        st = m->host->request_insert_message(req, 0, "system", m->add_system,
                                             strlen(m->add_system));
    return st;
}

static const qf_middleware_vtable vtable = {
    sizeof(qf_middleware_vtable), mutator_create, mutator_destroy,
    mutator_on_request,           NULL,           NULL,
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "cache_mutator",
    "Cache test mutator",
    "1.0.0",
    "Changes a request before the cache computes its key.",
    QF_KIND_MIDDLEWARE,
    NULL,
    NULL,
    0,
    NULL,
    &vtable,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

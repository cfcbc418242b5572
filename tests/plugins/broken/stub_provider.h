/*
 * stub_provider.h - a provider vtable whose hooks do nothing, shared by the
 * test plugins that need a well-formed vtable next to one broken field.
 * Each plugin includes it once, so the functions stay file-local.
 */
#ifndef QF_TEST_STUB_PROVIDER_H
#define QF_TEST_STUB_PROVIDER_H

#include <stdlib.h>

#include "qf/plugin.h"

static qf_status stub_create(const qf_host *host, qf_context *ctx,
                             void **instance, qf_error *err)
{
    (void)host;
    (void)ctx;
    (void)err;
    *instance = NULL;
    return QF_OK;
}

static void stub_destroy(void *instance)
{
    (void)instance;
}

static qf_status stub_complete(void *instance, const qf_request *req,
                               qf_response *resp, qf_error *err)
{
    (void)instance;
    (void)req;
    (void)resp;
    (void)err;
    return QF_ERR_UNSUPPORTED;
}

static const qf_provider_vtable stub_provider = {
    sizeof(qf_provider_vtable), stub_create, stub_destroy, stub_complete, NULL,
};

#endif /* QF_TEST_STUB_PROVIDER_H */

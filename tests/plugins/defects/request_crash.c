/* request_crash.c - a middleware whose on_request reads the first message
 * without checking that there is one, and crashes on empty input. */
#include "defect.h"

static const qf_host *saved_host;

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    saved_host = host;
    return ok_create(host, ctx, instance, err);
}

static qf_status on_request(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err)
{
    const char *content = NULL;
    size_t len = 0;

    (void)instance;
    (void)state;
    (void)resp;
    (void)err;
    saved_host->request_message(req, 0, NULL, &content, &len);
    if (content == NULL || len == 0)
        CRASH();
    return QF_OK;
}

static const qf_middleware_vtable vtable = {
    sizeof(qf_middleware_vtable), create, ok_destroy, on_request, NULL, NULL};

DEFECT_MIDDLEWARE("request_crash", vtable, NULL, 0)

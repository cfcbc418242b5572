/* request_hang.c - a middleware whose on_request never returns. */
#include "defect.h"

static qf_status on_request(void *instance, void **state, qf_request *req,
                            qf_response *resp, qf_error *err)
{
    (void)instance;
    (void)state;
    (void)req;
    (void)resp;
    (void)err;
    HANG();
    return QF_OK;
}

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            ok_create,
                                            ok_destroy,
                                            on_request,
                                            NULL,
                                            NULL};

DEFECT_MIDDLEWARE("request_hang", vtable, NULL, 0)

/* create_hang.c - a middleware whose create never returns. */
#include "defect.h"

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    (void)host;
    (void)ctx;
    (void)instance;
    (void)err;
    HANG();
    return QF_OK;
}

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            create,
                                            ok_destroy,
                                            ok_on_request,
                                            NULL,
                                            NULL};

DEFECT_MIDDLEWARE("create_hang", vtable, NULL, 0)

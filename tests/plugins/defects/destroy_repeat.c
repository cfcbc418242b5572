/* destroy_repeat.c - a middleware whose destroy works once and crashes the
 * second time, as one that keeps state in a global would. */
#include "defect.h"

static int destroyed;

static void destroy(void *instance)
{
    if (destroyed)
        CRASH();
    destroyed = 1;
    free(instance);
}

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            ok_create,
                                            destroy,
                                            ok_on_request,
                                            NULL,
                                            NULL};

DEFECT_MIDDLEWARE("destroy_repeat", vtable, NULL, 0)

/* null_slot.c - a middleware whose required on_request slot is NULL. */
#include "defect.h"

static const qf_middleware_vtable vtable = {
    sizeof(qf_middleware_vtable), ok_create, ok_destroy, NULL, NULL, NULL};

DEFECT_MIDDLEWARE("null_slot", vtable, NULL, 0)

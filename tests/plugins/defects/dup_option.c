/* dup_option.c - a middleware that declares option "model" twice. */
#include "defect.h"

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            ok_create,
                                            ok_destroy,
                                            ok_on_request,
                                            NULL,
                                            NULL};

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "model", QF_OPT_STRING, NULL, 0, "model name"},
    {sizeof(qf_option_spec), "limit", QF_OPT_INT, "3", 0, "calls per second"},
    {sizeof(qf_option_spec), "model", QF_OPT_STRING, NULL, 0, "model again"},
};

DEFECT_MIDDLEWARE("dup_option", vtable, options, 3)

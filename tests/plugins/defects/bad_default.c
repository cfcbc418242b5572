/* bad_default.c - a middleware whose integer option has the default
 * "thirty". */
#include "defect.h"

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            ok_create,
                                            ok_destroy,
                                            ok_on_request,
                                            NULL,
                                            NULL};

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "timeout_seconds", QF_OPT_INT, "thirty", 0,
     "seconds to wait"},
};

DEFECT_MIDDLEWARE("bad_default", vtable, options, 1)

/* secret_flag.c - a middleware with an "api_key" option that lacks
 * QF_OPT_SECRET. */
#include "defect.h"

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            ok_create,
                                            ok_destroy,
                                            ok_on_request,
                                            NULL,
                                            NULL};

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "api_key", QF_OPT_STRING, NULL, 0,
     "key of the moderation service"},
};

DEFECT_MIDDLEWARE("secret_flag", vtable, options, 1)

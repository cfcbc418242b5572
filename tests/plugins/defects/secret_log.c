/* secret_log.c - a middleware that writes its secret api_key option to the
 * log in create. */
#include "defect.h"

static qf_status create(const qf_host *host, qf_context *ctx, void **instance,
                        qf_error *err)
{
    const char *key = "";

    host->config_string(ctx, "api_key", &key, err);
    host->log(ctx, QF_LOG_INFO, "connecting with key %s", key);
    return ok_create(host, ctx, instance, err);
}

static const qf_middleware_vtable vtable = {sizeof(qf_middleware_vtable),
                                            create,
                                            ok_destroy,
                                            ok_on_request,
                                            NULL,
                                            NULL};

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "api_key", QF_OPT_STRING, NULL,
     QF_OPT_SECRET | QF_OPT_REQUIRED, "key of the moderation service"},
};

DEFECT_MIDDLEWARE("secret_log", vtable, options, 1)

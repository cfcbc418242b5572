/*
 * objects.c - the test host's context (name, a fresh state folder, flat
 * settings) and its requests and responses. Requests and responses are
 * core's own objects from core/request.c, with core's accessors. The
 * checker adds only the provider name and the closed base URL.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "host_objects.h"
#include "request.h"
#include "runtime.h"

/* --- Context -------------------------------------------------------- */

qf_context *qf_check_context_new(const char *name)
{
    qf_context *ctx = calloc(1, sizeof(*ctx));
    char dir[] = "/tmp/qf-plugin-check-XXXXXX";

    if (ctx == NULL)
        return NULL;
    ctx->name = strdup(name);
    if (mkdtemp(dir) != NULL)
        ctx->state_dir = strdup(dir);
    if (ctx->name == NULL || ctx->state_dir == NULL) {
        qf_check_context_free(ctx);
        return NULL;
    }
    return ctx;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    remove(path);
    return 0;
}

void qf_check_context_free(qf_context *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->state_dir != NULL)
        nftw(ctx->state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < ctx->setting_count; i++) {
        free(ctx->keys[i]);
        free(ctx->values[i]);
    }
    free(ctx->name);
    free(ctx->state_dir);
    free(ctx);
}

int qf_check_context_set(qf_context *ctx, const char *key, const char *value)
{
    size_t i = 0;

    while (i < ctx->setting_count && strcmp(ctx->keys[i], key) != 0)
        i++;
    if (i == CHECK_SETTINGS_MAX)
        return -1;
    if (i == ctx->setting_count) {
        ctx->keys[i] = strdup(key);
        if (ctx->keys[i] == NULL)
            return -1;
        ctx->setting_count++;
    }
    free(ctx->values[i]);
    ctx->values[i] = strdup(value);
    return ctx->values[i] != NULL ? 0 : -1;
}

/* The secret test value in the option's type, NULL for types that cannot
 * hold it. */
static const char *secret_value(const qf_option_spec *o)
{
    switch (o->type) {
    case QF_OPT_STRING: return QF_CHECK_SECRET_VALUE;
    case QF_OPT_MAP: return "{\"X-Check\": \"" QF_CHECK_SECRET_VALUE "\"}";
    case QF_OPT_LIST: return "[\"" QF_CHECK_SECRET_VALUE "\"]";
    default: return NULL;
    }
}

/* A value of the option's type for a required option without default. */
static const char *placeholder(const qf_option_spec *o)
{
    switch (o->type) {
    case QF_OPT_INT: return "1";
    case QF_OPT_DOUBLE: return "1.0";
    case QF_OPT_BOOL: return "false";
    case QF_OPT_MAP: return "{}";
    case QF_OPT_LIST: return "[]";
    case QF_OPT_STRING: break;
    }
    return strstr(o->name, "url") != NULL ? QF_CHECK_BASE_URL : "check";
}

static int is_secret(const qf_option_spec *o)
{
    return (o->flags & QF_OPT_SECRET) != 0 || qf_check_name_is_secret(o->name);
}

int qf_check_context_fill(qf_context *ctx, const qf_plugin_descriptor *d,
                          const char *skip)
{
    for (size_t i = 0; i < d->option_count; i++) {
        const qf_option_spec *o = &d->options[i];
        const char *value = o->default_value;

        if (skip != NULL && strcmp(o->name, skip) == 0)
            continue;
        if (is_secret(o) && secret_value(o) != NULL)
            value = secret_value(o);
        else if (value == NULL && (o->flags & QF_OPT_REQUIRED) != 0)
            value = placeholder(o);
        if (value != NULL && qf_check_context_set(ctx, o->name, value) != 0)
            return -1;
    }
    if (d->kind == QF_KIND_PROVIDER &&
        (skip == NULL || strcmp(skip, "base_url") != 0))
        return qf_check_context_set(ctx, "base_url", QF_CHECK_BASE_URL);
    return 0;
}

/* --- Request and response ------------------------------------------ */

/* Creates a core request, so a plugin sees the same accessors as under qf. */
qf_request *qf_check_request_new(qf_request_kind kind, const char *content,
                                 size_t len, int stream)
{
    qf_request *req = qf_request_new("checker", kind);

    if (req == NULL)
        return NULL;
    qf_request_set_stream(req, stream, 0);
    if (qf_check_host()->request_set_model(req, "check-model") != QF_OK ||
        (content != NULL &&
         qf_request_add_message(req, "user", content, len) != QF_OK)) {
        qf_request_free(req);
        return NULL;
    }
    return req;
}

void qf_check_request_free(qf_request *req)
{
    qf_request_free(req);
}

qf_response *qf_check_response_new(void)
{
    return qf_response_new(NULL, 0);
}

void qf_check_response_free(qf_response *resp)
{
    qf_response_free(resp);
}

static const char *request_provider(const qf_request *req)
{
    return "check_provider";
}

static const char *request_provider_setting(const qf_request *req,
                                            const char *key)
{
    return strcmp(key, "base_url") == 0 ? QF_CHECK_BASE_URL : NULL;
}

void qf_check_fill_objects(qf_host *h)
{
    qf_request_fill_host(h);
    h->request_provider = request_provider;
    h->request_provider_setting = request_provider_setting;
}

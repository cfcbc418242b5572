/*
 * calls.c - the checks that call a plugin's hooks through the test host:
 * repeated create and destroy, create without a required option, requests
 * with empty, huge and non-UTF-8 input, and concurrent calls. Each runs in
 * its own child (see run.c); a phase marker before every hook lets the
 * parent name the hook that crashed or hung.
 */
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "check.h"

/* --- Lifecycle ------------------------------------------------------ */

void qf_check_lifecycle_fns(const qf_plugin_descriptor *d,
                            qf_check_create *create, qf_check_destroy *destroy)
{
    if (d->kind == QF_KIND_PROVIDER) {
        *create = d->provider->create;
        *destroy = d->provider->destroy;
    } else if (d->kind == QF_KIND_MIDDLEWARE) {
        *create = d->middleware->create;
        *destroy = d->middleware->destroy;
    } else {
        *create = d->cache_backend->create;
        *destroy = d->cache_backend->destroy;
    }
}

int qf_check_instance_new(const qf_plugin_descriptor *d, qf_context *ctx,
                          qf_check_out *out, const char *check, void **instance)
{
    qf_check_create create;
    qf_check_destroy destroy;
    qf_error err;
    qf_status status;

    *instance = NULL;
    qf_check_lifecycle_fns(d, &create, &destroy);
    qf_error_init(&err);
    qf_check_phase(out, "create");
    status = create(qf_check_host(), ctx, instance, &err);
    if (status == QF_OK)
        return 0;
    qf_check_report(out, QF_CHECK_FAIL, check,
                    "make create succeed with only defaults and required "
                    "options set, or mark the missing option "
                    "QF_OPT_REQUIRED",
                    "create failed with status %s on a typical configuration: "
                    "%s",
                    qf_status_name(status),
                    err.message[0] ? err.message : "(no message)");
    return -1;
}

static void report_leaks(qf_check_out *out)
{
    if (qf_check_host_secret_leaks() == 0)
        return;
    qf_check_report(out, QF_CHECK_FAIL, "secrets",
                    "never pass a secret option's value to host->log or "
                    "host->error_set",
                    "a log line or error message contained the value of a "
                    "secret option");
}

int qf_check_lifecycle(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d = qf_check_load(opts->path);
    qf_check_create create;
    qf_check_destroy destroy;

    if (d == NULL)
        return 1;
    qf_check_lifecycle_fns(d, &create, &destroy);
    for (int round = 1; round <= opts->iterations; round++) {
        qf_context *ctx = qf_check_context_new(d->id);
        void *instance;

        if (ctx == NULL || qf_check_context_fill(ctx, d, NULL) != 0)
            return 1;
        if (qf_check_instance_new(d, ctx, out, "lifecycle", &instance) != 0) {
            qf_check_context_free(ctx);
            return 1;
        }
        qf_check_phase(out, "destroy (round %d of %d)", round,
                       opts->iterations);
        destroy(instance);
        qf_check_context_free(ctx);
    }
    qf_check_report(out, QF_CHECK_PASS, "lifecycle", NULL,
                    "created and destroyed %d times", opts->iterations);
    report_leaks(out);
    return 0;
}

/* --- Required options ----------------------------------------------- */

static void create_without(const qf_plugin_descriptor *d, const char *name,
                           qf_check_out *out)
{
    qf_check_create create;
    qf_check_destroy destroy;
    qf_context *ctx = qf_check_context_new(d->id);
    void *instance = NULL;
    qf_error err;
    qf_status status;

    if (ctx == NULL || qf_check_context_fill(ctx, d, name) != 0)
        goto out;
    qf_check_lifecycle_fns(d, &create, &destroy);
    qf_error_init(&err);
    qf_check_phase(out, "create without required option \"%s\"", name);
    status = create(qf_check_host(), ctx, &instance, &err);
    if (status == QF_OK) {
        qf_check_report(out, QF_CHECK_FAIL, "required_options",
                        "return QF_ERR_CONFIG with a message naming the "
                        "option when it is missing",
                        "create succeeded without required option \"%s\"",
                        name);
        qf_check_phase(out, "destroy");
        destroy(instance);
    } else if (err.message[0] == '\0') {
        qf_check_report(out, QF_CHECK_FAIL, "required_options",
                        "set a message with host->error_set that names the "
                        "option and how to set it",
                        "create returned %s without a message when required "
                        "option \"%s\" is missing",
                        qf_status_name(status), name);
    } else {
        qf_check_report(out, QF_CHECK_PASS, "required_options", NULL,
                        "without \"%s\" create returned %s: %s", name,
                        qf_status_name(status), err.message);
    }

out:
    qf_check_context_free(ctx);
}

int qf_check_required_options(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d = qf_check_load(opts->path);
    size_t required = 0;

    if (d == NULL)
        return 1;
    for (size_t i = 0; i < d->option_count; i++) {
        if ((d->options[i].flags & QF_OPT_REQUIRED) == 0)
            continue;
        create_without(d, d->options[i].name, out);
        required++;
    }
    if (required == 0)
        qf_check_report(out, QF_CHECK_PASS, "required_options", NULL,
                        "the plugin declares no required options");
    return 0;
}

/* --- Request inputs ------------------------------------------------- */

size_t qf_check_inputs(const qf_check_options *opts, qf_check_input inputs[4])
{
    static const char bad_utf8[] = "caf\xe9 \xff\xfe \xc3\x28 \xed\xa0\x80 end";
    char *huge = malloc(opts->huge_bytes);

    inputs[0] = (qf_check_input){"no messages", NULL, 0, NULL};
    inputs[1] = (qf_check_input){"empty input", "", 0, NULL};
    inputs[2] = (qf_check_input){"non-UTF-8 input", bad_utf8,
                                 sizeof(bad_utf8) - 1, NULL};
    if (huge == NULL)
        return 3;
    for (size_t i = 0; i < opts->huge_bytes; i++)
        huge[i] = (char)('a' + (char)(i % 26));
    inputs[3] = (qf_check_input){"huge input", huge, opts->huge_bytes, huge};
    return 4;
}

/* Judge one hook's result: OK, QF_ANSWERED where allowed, or an error
 * status with a message. Returns 1 on a fault. */
int qf_check_judge(qf_check_out *out, const char *hook, const char *input,
                   qf_status status, const qf_error *err, int may_answer)
{
    int known = status == QF_OK ||
                (status <= QF_ERR_INVALID && status >= QF_ERR_INTERNAL);

    if (status == QF_ANSWERED && may_answer)
        return 0;
    if (!known) {
        qf_check_report(out, QF_CHECK_FAIL, "requests",
                        "return QF_OK or one of the QF_ERR_* statuses",
                        "%s with %s returned %d, which is not a valid status "
                        "here",
                        hook, input, (int)status);
        return 1;
    }
    if (status != QF_OK && err->message[0] == '\0') {
        qf_check_report(out, QF_CHECK_FAIL, "requests",
                        "set a message with host->error_set saying what "
                        "failed, on which value, and what to do",
                        "%s with %s returned %s without a message", hook, input,
                        qf_status_name(status));
        return 1;
    }
    return 0;
}

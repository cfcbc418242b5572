/*
 * calls.h - helpers shared by the checks that call plugin hooks.
 */
#ifndef QF_PLUGIN_CHECK_CALLS_H
#define QF_PLUGIN_CHECK_CALLS_H

#include "check.h"

typedef qf_status (*qf_check_create)(const qf_host *host, qf_context *ctx,
                                     void **instance, qf_error *err);
typedef void (*qf_check_destroy)(void *instance);

/* One request input: a label for messages and the user message bytes
 * (content NULL for a request without messages). */
typedef struct qf_check_input {
    const char *label;
    const char *content;
    size_t len;
    char *owned; /* malloc'd content to free, or NULL */
} qf_check_input;

/* The create and destroy hooks of the descriptor's kind. */
void qf_check_lifecycle_fns(const qf_plugin_descriptor *d,
                            qf_check_create *create, qf_check_destroy *destroy);

/* Create an instance with a typical configuration into *instance (which
 * may legitimately be NULL); on failure reports a finding under `check`
 * and returns -1. */
int qf_check_instance_new(const qf_plugin_descriptor *d, qf_context *ctx,
                          qf_check_out *out, const char *check,
                          void **instance);

/* Fill the request inputs: no messages, empty, non-UTF-8 and huge (the
 * huge one is malloc'd, see `owned`). Returns the count. */
size_t qf_check_inputs(const qf_check_options *opts, qf_check_input inputs[4]);

/* Report a hook result that is neither OK nor an error with a message
 * (QF_ANSWERED passes when may_answer). Returns 1 on a fault. */
int qf_check_judge(qf_check_out *out, const char *hook, const char *input,
                   qf_status status, const qf_error *err, int may_answer);

#endif /* QF_PLUGIN_CHECK_CALLS_H */

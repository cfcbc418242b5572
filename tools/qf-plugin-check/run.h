/*
 * run.h - the parent side of qf-plugin-check: findings collected from the
 * children that run each check.
 */
#ifndef QF_PLUGIN_CHECK_RUN_H
#define QF_PLUGIN_CHECK_RUN_H

#include "check.h"

typedef struct qf_check_finding {
    qf_check_status status;
    char *check;
    char *message;
    char *fix; /* empty for a pass */
} qf_check_finding;

typedef struct qf_check_findings {
    qf_check_finding *items;
    size_t count;
} qf_check_findings;

/*
 * Run `fn` in a forked child with opts->timeout_s as its limit and append
 * its findings to `list`. Returns 0 when the check let later checks run, 1
 * when it asked to stop, -1 when the child crashed, hung or could not start
 * (a finding then says which hook was running).
 */
int qf_check_run(const char *check, qf_check_fn fn,
                 const qf_check_options *opts, qf_check_findings *list);

void qf_check_findings_free(qf_check_findings *list);

#endif /* QF_PLUGIN_CHECK_RUN_H */

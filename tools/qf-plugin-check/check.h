/*
 * check.h - shared pieces of qf-plugin-check: findings, the isolated
 * runner that executes each check in a forked child with a time limit, and
 * the test host (a fake qf_host with its own context, config, logging and
 * clock, and core's requests and responses).
 */
#ifndef QF_PLUGIN_CHECK_H
#define QF_PLUGIN_CHECK_H

#include <stddef.h>

#include "error.h"
#include "qf/plugin.h"

/* --- Findings ------------------------------------------------------- */

typedef enum qf_check_status {
    QF_CHECK_PASS = 0,
    QF_CHECK_WARN = 1,
    QF_CHECK_FAIL = 2
} qf_check_status;

/* Where a child sends its findings and phase markers. */
typedef struct qf_check_out {
    int fd; /* write end of the pipe to the parent */
} qf_check_out;

/* Report one finding; `fix` may be NULL for a pass. */
void qf_check_report(qf_check_out *out, qf_check_status status,
                     const char *check, const char *fix, const char *fmt, ...)
    QF_PRINTF(5, 6);

/* Name the plugin hook about to run ("create", "on_request with empty
 * input"), so a crash or hang is reported against it. */
void qf_check_phase(qf_check_out *out, const char *fmt, ...) QF_PRINTF(2, 3);

/* Split a loader message "what failed; what to do" and report it. */
void qf_check_report_error(qf_check_out *out, qf_check_status status,
                           const char *check, const char *message,
                           const char *fallback_fix);

/* --- Checks --------------------------------------------------------- */

typedef struct qf_check_options {
    const char *path;  /* the plugin file */
    int timeout_s;     /* per check */
    int verbose;       /* print the plugin's log lines on stderr */
    int iterations;    /* create/destroy rounds */
    size_t huge_bytes; /* size of the huge request */
} qf_check_options;

/* A check body, run in a child. Returns 0 when later checks may run. */
typedef int (*qf_check_fn)(const qf_check_options *opts, qf_check_out *out);

int qf_check_permissions(const qf_check_options *opts, qf_check_out *out);
int qf_check_handshake(const qf_check_options *opts, qf_check_out *out);
int qf_check_vtable(const qf_check_options *opts, qf_check_out *out);
int qf_check_capabilities(const qf_check_options *opts, qf_check_out *out);
int qf_check_option_schema(const qf_check_options *opts, qf_check_out *out);
int qf_check_lifecycle(const qf_check_options *opts, qf_check_out *out);
int qf_check_required_options(const qf_check_options *opts, qf_check_out *out);
int qf_check_requests(const qf_check_options *opts, qf_check_out *out);
int qf_check_concurrency(const qf_check_options *opts, qf_check_out *out);

/* Open the plugin through the loader, reporting nothing; NULL on refusal. */
const qf_plugin_descriptor *qf_check_load(const char *path);

/* Open the plugin with dlopen alone and return whatever its entry returns,
 * so the vtable check can describe a descriptor the loader refused. */
const qf_plugin_descriptor *qf_check_load_raw(const char *path);

/* Whether `name` looks like it contains a secret (api_key, password, ...). */
int qf_check_name_is_secret(const char *name);

/* --- Test host ------------------------------------------------------ */

/* Value given to secret options; a log line containing it is a leak. */
#define QF_CHECK_SECRET_VALUE "qf-check-secret-0123456789"

/* The closed loopback port every provider is pointed at. */
#define QF_CHECK_BASE_URL "http://127.0.0.1:1"

/* The fake host table. */
const qf_host *qf_check_host(void);

/* Print plugin log lines on stderr when non-zero. */
void qf_check_host_set_verbose(int verbose);

/* Number of log lines and error messages that contained the secret. */
int qf_check_host_secret_leaks(void);

/* Instance context: name, a fresh state folder and settings. */
qf_context *qf_check_context_new(const char *name);
void qf_check_context_free(qf_context *ctx);

/* Set a setting (YAML scalar text, or JSON text for maps and lists). */
int qf_check_context_set(qf_context *ctx, const char *key, const char *value);

/* Fill the settings a typical configuration would give: defaults, a
 * placeholder for required options, the secret value for secret ones and
 * the closed base URL. `skip` names an option to leave out (may be NULL). */
int qf_check_context_fill(qf_context *ctx, const qf_plugin_descriptor *d,
                          const char *skip);

/* A request of `kind` with one user message of `len` bytes. */
qf_request *qf_check_request_new(qf_request_kind kind, const char *content,
                                 size_t len, int stream);
void qf_check_request_free(qf_request *req);

qf_response *qf_check_response_new(void);
void qf_check_response_free(qf_response *resp);

#endif /* QF_PLUGIN_CHECK_H */

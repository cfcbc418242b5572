/*
 * main.c - qf-plugin-check: loads a plugin file against a test host and
 * reports each finding with its reason and fix. Every check runs in its
 * own forked child with a time limit, so a plugin that crashes or hangs is
 * reported, not fatal. Exit status: 0 no failure, 1 failures, 2 usage.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "run.h"

#define DEFAULT_TIMEOUT_S  10
#define DEFAULT_ITERATIONS 5
#define DEFAULT_HUGE_BYTES (4u * 1024u * 1024u)

static void print_help(FILE *to)
{
    fputs("usage: qf-plugin-check [--json] [--timeout SECONDS] [-v] FILE.so\n"
          "\n"
          "Load a QuestFoundry plugin against a test host and check its file\n"
          "permissions, ABI handshake, vtable slots, capability claims,\n"
          "option schema, lifecycle (create and destroy, repeated), create\n"
          "without each required option, requests with empty, huge and\n"
          "non-UTF-8 input, and concurrent calls. Providers are pointed at\n"
          "http://127.0.0.1:1, a closed port: a clean error is correct.\n"
          "\n"
          "  --json            print an array of findings {check, status,\n"
          "                    message, fix}; status is pass, warn or fail\n"
          "  --timeout SECONDS time limit of each check (default 10)\n"
          "  -v, --verbose     print the plugin's log lines on stderr\n"
          "  -h, --help        print this help\n"
          "\n"
          "Each check runs in a child process, so a crash or hang becomes a\n"
          "finding such as \"crashed with SIGSEGV during create\".\n"
          "Exit status: 0 when no check failed (warnings allowed), 1 when one\n"
          "failed, 2 on a usage error.\n",
          to);
}

static int parse_args(int argc, char **argv, qf_check_options *opts, int *json)
{
    for (int i = 1; i < argc; i++) {
        char *end;

        if (strcmp(argv[i], "--json") == 0) {
            *json = 1;
        } else if (strcmp(argv[i], "-v") == 0 ||
                   strcmp(argv[i], "--verbose") == 0) {
            opts->verbose = 1;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            long t = strtol(argv[++i], &end, 10);

            if (*end != '\0' || t < 1 || t > 3600) {
                fprintf(stderr,
                        "qf-plugin-check: invalid --timeout '%s'; "
                        "give whole seconds from 1 to 3600\n",
                        argv[i]);
                return -1;
            }
            opts->timeout_s = (int)t;
        } else if (argv[i][0] == '-' || opts->path != NULL) {
            fprintf(stderr,
                    "qf-plugin-check: unexpected argument '%s'; run "
                    "'qf-plugin-check --help'\n",
                    argv[i]);
            return -1;
        } else {
            opts->path = argv[i];
        }
    }
    if (opts->path != NULL)
        return 0;
    fputs("qf-plugin-check: missing the plugin file; run 'qf-plugin-check "
          "--help'\n",
          stderr);
    return -1;
}

/* Run the checks in order; a check that fails its precondition stops the
 * ones that depend on it. */
static void run_checks(const qf_check_options *opts, qf_check_findings *list)
{
    if (qf_check_run("permissions", qf_check_permissions, opts, list) != 0)
        return;
    if (qf_check_run("handshake", qf_check_handshake, opts, list) != 0) {
        qf_check_run("vtable", qf_check_vtable, opts, list);
        return;
    }
    if (qf_check_run("vtable", qf_check_vtable, opts, list) != 0)
        return;
    qf_check_run("capabilities", qf_check_capabilities, opts, list);
    qf_check_run("options", qf_check_option_schema, opts, list);
    if (qf_check_run("lifecycle", qf_check_lifecycle, opts, list) != 0)
        return;
    qf_check_run("required_options", qf_check_required_options, opts, list);
    if (qf_check_run("requests", qf_check_requests, opts, list) != 0)
        return;
    qf_check_run("concurrency", qf_check_concurrency, opts, list);
}

static const char *status_word(qf_check_status status, int upper)
{
    static const char *const lower[] = {"pass", "warn", "fail"};
    static const char *const caps[] = {"PASS", "WARN", "FAIL"};

    return upper ? caps[status] : lower[status];
}

static void print_text(const char *path, const qf_check_findings *list)
{
    size_t counts[3] = {0, 0, 0};

    for (size_t i = 0; i < list->count; i++) {
        const qf_check_finding *f = &list->items[i];

        counts[f->status]++;
        printf("%s %s: %s", status_word(f->status, 1), f->check, f->message);
        if (f->fix[0] != '\0')
            printf(" (fix: %s)", f->fix);
        putchar('\n');
    }
    printf("%s: %zu passed, %zu warnings, %zu failed\n", path, counts[0],
           counts[1], counts[2]);
}

static void print_json(const qf_check_findings *list)
{
    cJSON *array = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; array != NULL && i < list->count; i++) {
        const qf_check_finding *f = &list->items[i];
        cJSON *item = cJSON_CreateObject();

        cJSON_AddStringToObject(item, "check", f->check);
        cJSON_AddStringToObject(item, "status", status_word(f->status, 0));
        cJSON_AddStringToObject(item, "message", f->message);
        cJSON_AddStringToObject(item, "fix", f->fix);
        cJSON_AddItemToArray(array, item);
    }
    text = cJSON_Print(array);
    if (text != NULL)
        puts(text);
    free(text);
    cJSON_Delete(array);
}

int main(int argc, char **argv)
{
    qf_check_options opts = {NULL, DEFAULT_TIMEOUT_S, 0, DEFAULT_ITERATIONS,
                             DEFAULT_HUGE_BYTES};
    qf_check_findings list = {NULL, 0};
    char resolved[PATH_MAX];
    int json = 0, failed = 0;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return 0;
        }
    if (parse_args(argc, argv, &opts, &json) != 0)
        return 2;

    /* dlopen searches the library path for a name without a slash. */
    if (realpath(opts.path, resolved) == NULL) {
        fprintf(stderr,
                "qf-plugin-check: cannot open '%s': no such file; "
                "give the path of a built plugin .so\n",
                opts.path);
        return 2;
    }
    opts.path = resolved;
    qf_check_host_set_verbose(opts.verbose);

    run_checks(&opts, &list);
    for (size_t i = 0; i < list.count; i++)
        failed |= list.items[i].status == QF_CHECK_FAIL;
    if (json)
        print_json(&list);
    else
        print_text(resolved, &list);
    qf_check_findings_free(&list);
    return failed ? 1 : 0;
}

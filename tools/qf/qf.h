/*
 * qf.h - shared pieces of the qf command-line tool: global options, the
 * command table and output helpers.
 */
#ifndef QF_TOOL_H
#define QF_TOOL_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "runtime.h"

/* Global options, given before the command (qf --config F -v run ...). */
typedef struct qf_cli {
    const char *config_path; /* --config FILE */
    int json;                /* --json */
    int verbosity;           /* -v per step above warnings */
} qf_cli;

/* A command group: `qf NAME ...`. argv[0] is the group name. Returns the
 * process exit status (see qf_status_exit_code). */
typedef struct qf_command {
    const char *name;
    int (*run)(qf_cli *cli, int argc, char **argv);
    const char *summary;
} qf_command;

int qf_cmd_run(qf_cli *cli, int argc, char **argv);
int qf_cmd_plugins(qf_cli *cli, int argc, char **argv);
int qf_cmd_config(qf_cli *cli, int argc, char **argv);
int qf_cmd_cache(qf_cli *cli, int argc, char **argv);
int qf_cmd_cost(qf_cli *cli, int argc, char **argv);
int qf_cmd_limits(qf_cli *cli, int argc, char **argv);
int qf_cmd_state(qf_cli *cli, int argc, char **argv);
/* The gateway itself, built into qf-serve only (cmd_serve.c). */
int qf_cmd_serve(qf_cli *cli, int argc, char **argv);
/* `qf serve` in qf: exec qf-serve from qf's folder (exec_serve.c). */
int qf_cmd_serve_exec(qf_cli *cli, int argc, char **argv);

/* `qf plugins new`: write a plugin project (cmd_plugins_new.c). */
int qf_plugins_new(qf_cli *cli, int argc, char **argv);
void qf_plugins_new_help(void);

/* Exit codes. */
enum {
    QF_EXIT_OK = 0,
    QF_EXIT_FAILURE = 1,
    QF_EXIT_USAGE = 2,
    QF_EXIT_RATE_LIMITED = 3,
    QF_EXIT_BUDGET = 4,
    QF_EXIT_UPSTREAM = 5
};

/* Print "qf: error: MESSAGE" to stderr (or a JSON error object to stdout
 * with --json) and return the exit code of err's status. */
int qf_cli_fail(const qf_cli *cli, const qf_error *err);

/* Print "qf: MESSAGE" and the usage hint to stderr; returns QF_EXIT_USAGE. */
int qf_cli_usage_error(const char *fmt, ...) QF_PRINTF(1, 2);

/* Parse the global options (--config FILE, --json, -v, -vv) at the start
 * of argv into cli; returns the index of the first other argument (argc
 * when none). qf and qf-serve share it, so both accept the same ones. */
int qf_cli_parse_globals(qf_cli *cli, int argc, char **argv);

/* Open the runtime of the configuration the global options select. */
int qf_cli_open_runtime(const qf_cli *cli, qf_runtime **out);

/* Load the configuration the global options select. */
int qf_cli_load_config(const qf_cli *cli, qf_config **out);

/* Print a cJSON value on stdout as one line and free it. */
void qf_cli_print_json(cJSON *value);

/* True when argv[i] is --help or -h anywhere in argv. */
int qf_cli_wants_help(int argc, char **argv);

/* Consume a --json flag anywhere in argv (sets cli->json); returns the new
 * argc with the flag removed. */
int qf_cli_take_json_flag(qf_cli *cli, int argc, char **argv);

#endif /* QF_TOOL_H */

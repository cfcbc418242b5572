/*
 * serve_main.c - the entry of qf-serve, the gateway executable. `qf serve`
 * execs it as `qf-serve [--config FILE] [-v] [--json] ARGS...`; it reads
 * the same global options as qf, then runs the gateway (cmd_serve.c).
 */
#include <stdlib.h>

#include "log.h"
#include "qf.h"

int main(int argc, char **argv)
{
    qf_cli cli = {0};
    char **args;
    int first;
    int rc;

    first = qf_cli_parse_globals(&cli, argc, argv);
    qf_log_setup_from_env(cli.verbosity);

    /* The gateway reads argv[1..] as its own arguments, as under qf. */
    args = calloc((size_t)(argc - first + 2), sizeof(*args));
    if (args == NULL) {
        fputs("qf: error: out of memory\n", stderr);
        return QF_EXIT_FAILURE;
    }
    args[0] = "serve";
    for (int i = first; i < argc; i++)
        args[i - first + 1] = argv[i];
    rc = qf_cmd_serve(&cli, argc - first + 1, args);
    free(args);
    return rc;
}

/*
 * main.c - qf's entry: global options, then dispatch to a command group.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "qf.h"

static const qf_command commands[] = {
    {"run", qf_cmd_run, "answer a prompt through a role's chain"},
    {"plugins", qf_cmd_plugins, "scan, list and inspect plugins"},
    {"config", qf_cmd_config, "show and check the configuration"},
    {"cache", qf_cmd_cache, "show cache statistics, prune and clear"},
    {"cost", qf_cmd_cost, "report spending from the cost ledger"},
    {"limits", qf_cmd_limits, "show rate limits and budgets with their use"},
    {"state", qf_cmd_state, "manage the project state store"},
    {"serve", qf_cmd_serve_exec,
     "serve the role chains as an OpenAI-compatible API"},
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: qf [--config FILE] [-v] [--json] COMMAND [ARGS...]\n"
            "\n"
            "Global options:\n"
            "  --config FILE  configuration file (default: $QF_CONFIG, "
            "./plugins.yml,\n"
            "                 ./.questfoundry/config.yml)\n"
            "  -v, -vv        more log output (also QF_LOG=error|warn|info|"
            "debug|trace)\n"
            "  --json         machine-readable output\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "Run 'qf COMMAND --help' for a command's options.\n"
                 "Exit status: 0 success, 1 failure, 2 usage or configuration "
                 "error,\n"
                 "3 rate limited, 4 budget exceeded, 5 upstream error.\n");
}

int main(int argc, char **argv)
{
    qf_cli cli = {0};
    int first;

    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
         strcmp(argv[1], "help") == 0)) {
        print_usage(stdout);
        return QF_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("qf %s (plugin ABI %d.%d)\n", QF_VERSION_STRING, QF_ABI_MAJOR,
               QF_ABI_MINOR);
        return QF_EXIT_OK;
    }

    first = qf_cli_parse_globals(&cli, argc, argv);
    if (first < argc && argv[first][0] == '-') {
        fprintf(stderr, "qf: unknown global option '%s'\n", argv[first]);
        print_usage(stderr);
        return QF_EXIT_USAGE;
    }
    if (first >= argc) {
        print_usage(stderr);
        return QF_EXIT_USAGE;
    }
    qf_log_setup_from_env(cli.verbosity);

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[first], commands[i].name) == 0)
            return commands[i].run(&cli, argc - first, argv + first);
    }
    fprintf(stderr, "qf: unknown command '%s'; run 'qf --help' for the list\n",
            argv[first]);
    return QF_EXIT_USAGE;
}

/*
 * exec_serve.c - `qf serve` in qf: the gateway is the separate executable
 * qf-serve, so that qf itself does not load libmicrohttpd. This finds
 * qf-serve in the folder of the running qf (/proc/self/exe), rebuilds the
 * global options from cli, and replaces the process with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf.h"

/* Write "<folder of the running qf>/qf-serve" into path. */
static qf_status find_gateway(char *path, size_t size, qf_error *err)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (len <= 0)
        return qf_error_set(err, QF_ERR_IO,
                            "cannot find the qf executable through "
                            "/proc/self/exe: %s; run 'qf-serve' directly",
                            strerror(errno));
    self[len] = '\0';
    slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    if ((size_t)snprintf(path, size, "%s/qf-serve", self) >= size)
        return qf_error_set(err, QF_ERR_IO,
                            "the path of qf-serve next to %s is too long; "
                            "install qf in a shorter folder",
                            self);
    return QF_OK;
}

/* Build "qf-serve [--config FILE] [-v ...] [--json] ARGS..." without argv[0]
 * ("serve"). The array is malloc'd, and its strings stay the caller's. */
static char **build_args(const qf_cli *cli, char *path, int argc, char **argv)
{
    char **args = calloc((size_t)(argc + cli->verbosity + 4), sizeof(*args));
    int n = 0;

    if (args == NULL)
        return NULL;
    args[n++] = path;
    if (cli->config_path != NULL) {
        args[n++] = "--config";
        args[n++] = (char *)cli->config_path;
    }
    for (int i = 0; i < cli->verbosity; i++)
        args[n++] = "-v";
    if (cli->json)
        args[n++] = "--json";
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    return args;
}

int qf_cmd_serve_exec(qf_cli *cli, int argc, char **argv)
{
    char path[PATH_MAX];
    char **args = NULL;
    qf_error err;

    qf_error_init(&err);
    if (find_gateway(path, sizeof(path), &err) != QF_OK)
        goto out;
    args = build_args(cli, path, argc, argv);
    if (args == NULL) {
        qf_error_set(&err, QF_ERR_NOMEM, "out of memory");
        goto out;
    }

    fflush(stdout);
    fflush(stderr);
    execv(path, args);
    if (errno == ENOENT)
        qf_error_set(&err, QF_ERR_CONFIG,
                     "the gateway executable %s is missing; 'qf serve' runs "
                     "qf-serve from qf's own folder, so install or build it "
                     "there (cmake --build BUILD --target qf-serve)",
                     path);
    else
        qf_error_set(&err, QF_ERR_IO,
                     "cannot run the gateway executable %s: %s; check that "
                     "it is an executable file",
                     path, strerror(errno));

out:
    free(args);
    return qf_cli_fail(cli, &err);
}

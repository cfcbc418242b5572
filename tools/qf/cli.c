/*
 * cli.c - helpers every qf command shares: error reporting with exit codes,
 * opening the configuration and runtime, and JSON output.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qf.h"

int qf_cli_fail(const qf_cli *cli, const qf_error *err)
{
    if (cli != NULL && cli->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *error = cJSON_AddObjectToObject(root, "error");

        cJSON_AddStringToObject(error, "status", qf_status_name(err->status));
        cJSON_AddStringToObject(error, "message", err->message);
        if (err->http_status > 0)
            cJSON_AddNumberToObject(error, "http_status", err->http_status);
        if (err->retry_after_ms >= 0) {
            /* Whole seconds, rounded up. */
            int64_t seconds = (err->retry_after_ms + 999) / 1000;

            cJSON_AddNumberToObject(error, "retry_after_seconds",
                                    (double)seconds);
        }
        qf_cli_print_json(root);
    } else {
        fprintf(stderr, "qf: error: %s\n", err->message);
    }
    return qf_status_exit_code(err->status);
}

int qf_cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("qf: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    return QF_EXIT_USAGE;
}

int qf_cli_load_config(const qf_cli *cli, qf_config **out)
{
    qf_error err;
    char *path = NULL;

    qf_error_init(&err);
    if (qf_config_find(cli->config_path, &path, &err) != QF_OK) {
        if (err.status == QF_ERR_NOT_FOUND)
            err.status = QF_ERR_CONFIG; /* a usage problem: exit 2 */
        return qf_cli_fail(cli, &err);
    }
    *out = qf_config_load(path, &err);
    free(path);
    if (*out == NULL) {
        if (err.status == QF_OK)
            err.status = QF_ERR_CONFIG;
        return qf_cli_fail(cli, &err);
    }
    return QF_EXIT_OK;
}

int qf_cli_open_runtime(const qf_cli *cli, qf_runtime **out)
{
    qf_runtime_options options = {0};
    qf_error err;

    qf_error_init(&err);
    options.config_path = cli->config_path;
    if (qf_runtime_open(&options, out, &err) != QF_OK)
        return qf_cli_fail(cli, &err);
    return QF_EXIT_OK;
}

void qf_cli_print_json(cJSON *value)
{
    char *text = cJSON_PrintUnformatted(value);

    if (text != NULL) {
        fputs(text, stdout);
        fputc('\n', stdout);
    }
    free(text);
    cJSON_Delete(value);
}

int qf_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (strcmp(argv[i], "--") == 0)
            break;
    }
    return 0;
}

int qf_cli_take_json_flag(qf_cli *cli, int argc, char **argv)
{
    int kept = 0;

    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--json") == 0) {
            cli->json = 1;
            continue;
        }
        argv[kept++] = argv[i];
    }
    argv[kept] = NULL;
    return kept;
}

int qf_cli_parse_globals(qf_cli *cli, int argc, char **argv)
{
    int i = 1;

    while (i < argc) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            cli->config_path = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            cli->config_path = argv[i] + 9;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            cli->json = 1;
            i++;
        } else if (strcmp(argv[i], "-v") == 0) {
            cli->verbosity += 1;
            i++;
        } else if (strcmp(argv[i], "-vv") == 0) {
            cli->verbosity += 2;
            i++;
        } else {
            break;
        }
    }
    return i;
}

/*
 * cmd_run.c - `qf run`: answer a prompt through a role's chain.
 *
 * The options form the runtime layer, above the role's own settings. Text
 * streams to the terminal as it arrives unless --no-stream or --json; the
 * usage line goes to stderr so stdout carries only the answer. Image roles
 * write their image to a file and print its path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf.h"

/* Generation parameters under their OpenAI names; any other --param key is
 * a provider-native option. */
static const char *const generic_params[] = {"temperature",
                                             "top_p",
                                             "max_tokens",
                                             "max_completion_tokens",
                                             "seed",
                                             "stop",
                                             "presence_penalty",
                                             "frequency_penalty",
                                             "response_format",
                                             NULL};

typedef struct run_options {
    const char *role;
    const char *prompt;
    const char *output;
    int no_stream;
    unsigned cache_flags;
    qf_cnode *layer; /* runtime layer */
} run_options;

static void print_help(void)
{
    printf("usage: qf run --role ROLE [options] PROMPT\n"
           "\n"
           "Answer PROMPT through ROLE's chain.\n"
           "\n"
           "Options:\n"
           "  --role ROLE          role to run (plotwright, scene_smith, ...)\n"
           "  --model MODEL        model for this call\n"
           "  --system TEXT        system prompt for this call\n"
           "  --param KEY=VALUE    generation parameter (temperature, top_p,\n"
           "                       max_tokens, max_completion_tokens, seed, "
           "stop,\n"
           "                       presence_penalty, frequency_penalty,\n"
           "                       response_format); any other KEY is a\n"
           "                       provider-native option; repeatable\n"
           "  --no-stream          wait for the whole answer\n"
           "  --no-cache           do not answer from the cache\n"
           "  --no-store           do not store the answer in the cache\n"
           "  --output FILE        image roles: where to write the image\n"
           "                       (default ROLE-TIMESTAMP.png)\n"
           "  --json               print one JSON object with text, "
           "finish_reason,\n"
           "                       usage, cost_usd, cache_hit, provider, "
           "model\n"
           "\n"
           "Exit status: 0 success, 1 failure, 2 usage or configuration "
           "error,\n"
           "3 rate limited, 4 budget exceeded, 5 upstream error.\n");
}

static int is_generic(const char *key, size_t len)
{
    for (size_t i = 0; generic_params[i] != NULL; i++) {
        if (strlen(generic_params[i]) == len &&
            strncmp(key, generic_params[i], len) == 0)
            return 1;
    }
    return 0;
}

static int add_param(run_options *opts, const char *arg)
{
    /* arg is never NULL: parse_args rejects an option without its value,
     * which the analyzer cannot follow through its strcmp calls. */
    const char *eq = strchr(arg, '='); /* NOLINT(clang-analyzer-*) */
    char path[256];
    qf_error err;

    qf_error_init(&err);
    if (eq == NULL || eq == arg)
        return qf_cli_usage_error("--param %s: expected KEY=VALUE", arg);
    if ((size_t)(eq - arg) > 200)
        return qf_cli_usage_error("--param: key too long");
    if (strncmp(arg, "response_format=", 16) == 0)
        snprintf(path, sizeof(path), "params.response_format.type");
    else
        snprintf(path, sizeof(path), "%s.%.*s",
                 is_generic(arg, (size_t)(eq - arg)) ? "params" : "options",
                 (int)(eq - arg), arg);
    if (qf_cnode_set(opts->layer, path, eq + 1, &err) != QF_OK)
        return qf_cli_usage_error("--param %s: %s", arg, err.message);
    return QF_EXIT_OK;
}

static int set_layer(run_options *opts, const char *path, const char *value)
{
    qf_error err;

    qf_error_init(&err);
    if (qf_cnode_set(opts->layer, path, value, &err) != QF_OK)
        return qf_cli_usage_error("%s: %s", path, err.message);
    return QF_EXIT_OK;
}

/* Parse the command's arguments; returns an exit code or -1 to go on. */
static int parse_args(run_options *opts, int argc, char **argv)
{
    int rc = QF_EXIT_OK;

    for (int i = 1; i < argc && rc == QF_EXIT_OK; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value =
            strcmp(arg, "--role") == 0 || strcmp(arg, "--model") == 0 ||
            strcmp(arg, "--system") == 0 || strcmp(arg, "--param") == 0 ||
            strcmp(arg, "--output") == 0;

        if (takes_value && next == NULL)
            return qf_cli_usage_error("%s needs a value", arg);
        if (strcmp(arg, "--role") == 0)
            opts->role = next;
        else if (strcmp(arg, "--model") == 0)
            rc = set_layer(opts, "model", next);
        else if (strcmp(arg, "--system") == 0)
            rc = set_layer(opts, "system_prompt", next);
        else if (strcmp(arg, "--param") == 0)
            rc = add_param(opts, next);
        else if (strcmp(arg, "--output") == 0)
            opts->output = next;
        else if (strcmp(arg, "--no-stream") == 0)
            opts->no_stream = 1;
        else if (strcmp(arg, "--no-cache") == 0)
            opts->cache_flags |= QF_CACHE_NO_READ;
        else if (strcmp(arg, "--no-store") == 0)
            opts->cache_flags |= QF_CACHE_NO_STORE;
        else if (arg[0] == '-' && arg[1] != '\0')
            return qf_cli_usage_error("run: unknown option '%s'; see 'qf run "
                                      "--help'",
                                      arg);
        else if (opts->prompt != NULL)
            return qf_cli_usage_error("run: more than one prompt given ('%s'); "
                                      "quote the prompt",
                                      arg);
        else
            opts->prompt = arg;
        if (takes_value)
            i++;
    }
    if (rc != QF_EXIT_OK)
        return rc;
    if (opts->role == NULL)
        return qf_cli_usage_error("run: --role ROLE is required");
    if (opts->prompt == NULL || opts->prompt[0] == '\0')
        return qf_cli_usage_error("run: no prompt given; usage: qf run --role "
                                  "ROLE PROMPT");
    return -1;
}

static qf_status print_delta(void *user, const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return QF_OK;
}

static void print_json(const qf_host *host, const qf_response *resp)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *usage = cJSON_CreateObject();
    qf_usage u = {sizeof(u), 0, 0, 0, 0};
    const char *finish = host->response_finish_reason(resp);
    const char *model = host->response_model(resp);
    int64_t age = 0;
    int hit = host->response_cache_hit(resp, &age);

    host->response_usage(resp, &u);
    cJSON_AddStringToObject(root, "text", host->response_text(resp, NULL));
    if (finish != NULL)
        cJSON_AddStringToObject(root, "finish_reason", finish);
    else
        cJSON_AddNullToObject(root, "finish_reason");
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u.prompt_tokens);
    cJSON_AddNumberToObject(usage, "cached_tokens", (double)u.cached_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens",
                            (double)u.completion_tokens);
    cJSON_AddBoolToObject(usage, "estimated", u.estimated != 0);
    cJSON_AddItemToObject(root, "usage", usage);
    cJSON_AddNumberToObject(root, "cost_usd", qf_response_cost(resp, NULL));
    cJSON_AddBoolToObject(root, "cache_hit", hit);
    if (hit)
        cJSON_AddNumberToObject(root, "cache_age_seconds", (double)age);
    cJSON_AddStringToObject(root, "provider", qf_response_provider(resp));
    if (model != NULL)
        cJSON_AddStringToObject(root, "model", model);
    else
        cJSON_AddNullToObject(root, "model");
    qf_cli_print_json(root);
}

/* The usage line on stderr: who answered, tokens, cost, cache. */
static void print_summary(const qf_host *host, const qf_response *resp,
                          const char *role)
{
    qf_usage u = {sizeof(u), 0, 0, 0, 0};
    const char *model = host->response_model(resp);
    int unpriced = 0;
    double cost = qf_response_cost(resp, &unpriced);
    int64_t age = 0;
    int hit = host->response_cache_hit(resp, &age);

    host->response_usage(resp, &u);
    fprintf(stderr,
            "[%s] %s %s: %lld prompt + %lld completion tokens%s, $%.6f%s, %s",
            role, qf_response_provider(resp), model ? model : "(unknown model)",
            (long long)u.prompt_tokens, (long long)u.completion_tokens,
            u.estimated ? " (estimated)" : "", cost,
            unpriced ? " (unpriced model)" : "",
            hit ? "cache hit" : "cache miss");
    if (hit)
        fprintf(stderr, " (entry %llds old)", (long long)age);
    fputc('\n', stderr);
}

static int write_images(const qf_host *host, const qf_response *resp,
                        const run_options *opts, const qf_cli *cli)
{
    size_t count = host->response_image_count(resp);

    if (count == 0) {
        qf_error err;

        qf_error_init(&err);
        qf_error_set(&err, QF_ERR_PROTOCOL, "the provider returned no image");
        return qf_cli_fail(cli, &err);
    }
    for (size_t i = 0; i < count; i++) {
        const void *bytes;
        size_t len;
        char path[4096];
        FILE *f;

        host->response_image(resp, i, &bytes, &len, NULL);
        if (opts->output != NULL && count == 1)
            snprintf(path, sizeof(path), "%s", opts->output);
        else if (opts->output != NULL)
            snprintf(path, sizeof(path), "%s.%zu.png", opts->output, i + 1);
        else
            snprintf(path, sizeof(path), "%s-%lld%s.png", opts->role,
                     (long long)time(NULL), count > 1 ? "-n" : "");
        f = fopen(path, "wb");
        if (f == NULL || fwrite(bytes, 1, len, f) != len) {
            if (f)
                fclose(f);
            fprintf(stderr, "qf: error: cannot write image to %s: %s\n", path,
                    strerror(errno));
            return QF_EXIT_FAILURE;
        }
        fclose(f);
        printf("%s\n", path);
    }
    return QF_EXIT_OK;
}

static int report(const qf_cli *cli, qf_runtime *rt, qf_request *req,
                  const qf_response *resp, const run_options *opts,
                  int streamed)
{
    const qf_host *host = qf_runtime_host(rt);

    if (host->request_kind(req) == QF_REQUEST_IMAGE) {
        int rc = write_images(host, resp, opts, cli);

        if (rc == QF_EXIT_OK && !cli->json)
            print_summary(host, resp, opts->role);
        return rc;
    }
    if (cli->json) {
        print_json(host, resp);
        return QF_EXIT_OK;
    }
    if (!streamed)
        fputs(host->response_text(resp, NULL), stdout);
    fputc('\n', stdout);
    fflush(stdout);
    print_summary(host, resp, opts->role);
    return QF_EXIT_OK;
}

static int run_prompt(const qf_cli *cli, run_options *opts)
{
    qf_runtime *rt = NULL;
    qf_request *req = NULL;
    qf_response *resp = NULL;
    qf_stream_sink sink = {print_delta, NULL};
    qf_error err;
    int stream = !opts->no_stream && !cli->json;
    int rc = qf_cli_open_runtime(cli, &rt);

    qf_error_init(&err);
    if (rc != QF_EXIT_OK)
        return rc;
    /* parse_args returned a usage error when the prompt was missing. */
    // NOLINTBEGIN(clang-analyzer-*)
    if (qf_request_create(rt, opts->role, opts->layer, &req, &err) != QF_OK ||
        qf_request_add_message(req, "user", opts->prompt,
                               strlen(opts->prompt)) != QF_OK) {
        // NOLINTEND(clang-analyzer-*)
        rc = qf_cli_fail(cli, &err);
        goto out;
    }
    if (qf_runtime_host(rt)->request_kind(req) == QF_REQUEST_IMAGE)
        stream = 0;
    qf_request_set_stream(req, stream, 0);
    qf_request_set_cache_flags(req, opts->cache_flags);

    if (qf_runtime_run(rt, req, stream ? &sink : NULL, &resp, &err) != QF_OK) {
        size_t len = 0;

        if (stream && resp != NULL)
            qf_runtime_host(rt)->response_text(resp, &len);
        if (len > 0)
            fputc('\n', stdout);
        fflush(stdout);
        rc = qf_cli_fail(cli, &err);
        goto out;
    }
    rc = report(cli, rt, req, resp, opts, stream);
out:
    qf_response_free(resp);
    qf_request_free(req);
    qf_runtime_close(rt);
    return rc;
}

int qf_cmd_run(qf_cli *cli, int argc, char **argv)
{
    run_options opts = {0};
    int rc;

    if (qf_cli_wants_help(argc, argv)) {
        print_help();
        return QF_EXIT_OK;
    }
    argc = qf_cli_take_json_flag(cli, argc, argv);
    opts.layer = qf_cnode_new_map(QF_LAYER_RUNTIME);
    rc = parse_args(&opts, argc, argv);
    if (rc < 0)
        rc = run_prompt(cli, &opts);
    qf_cnode_free(opts.layer);
    return rc;
}

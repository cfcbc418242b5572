/*
 * fuzz_config.c - libFuzzer target for the configuration loader: parse the
 * input as YAML with qf_config_load_string, then resolve every role the
 * file names plus the built-in ones, so the layered merge, ${VAR} expansion
 * and chain building all see hostile trees.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void resolve_all(const qf_config *cfg)
{
    char **roles = NULL;
    qf_role_plan *plan;
    qf_error err;

    qf_error_init(&err);
    if (qf_config_role_names(cfg, &roles, &err) != QF_OK)
        return;
    for (size_t i = 0; roles[i] != NULL; i++) {
        plan = NULL;
        qf_error_init(&err);
        if (qf_config_resolve_role(cfg, roles[i], NULL, &plan, &err) == QF_OK)
            qf_role_plan_free(plan);
    }
    qf_config_strings_free(roles);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    qf_config *cfg;
    qf_error err;

    qf_error_init(&err);
    cfg = qf_config_load_string((const char *)data, len, "fuzz.yml", &err);
    if (cfg == NULL)
        return 0;
    resolve_all(cfg);
    qf_config_free(cfg);
    return 0;
}

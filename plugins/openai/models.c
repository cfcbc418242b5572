/*
 * models.c - the table of model families that take max_completion_tokens
 * and reject max_tokens (OpenAI's reasoning models), and the token estimate
 * used when an upstream reports no usage.
 */
#include "openai_internal.h"

#include <string.h>

/*
 * Families matched by prefix: the name itself, or the name followed by '-'
 * or '.' ("o1-mini", "o3-mini-2025-01-31", "gpt-5.1"). A router prefix such
 * as "openai/" before the last '/' is ignored. Extend this table when
 * OpenAI adds a family with the same rule.
 */
static const char *const completion_token_families[] = {
    "o1", "o1-mini", "o3", "o3-mini", "o4-mini", "gpt-5",
};

int qf_openai_model_uses_max_completion_tokens(const char *model)
{
    if (!model)
        return 0;

    const char *slash = strrchr(model, '/');
    if (slash)
        model = slash + 1;

    for (size_t i = 0; i < sizeof(completion_token_families) /
                               sizeof(completion_token_families[0]);
         i++) {
        const char *family = completion_token_families[i];
        size_t n = strlen(family);
        if (strncmp(model, family, n) == 0 &&
            (model[n] == '\0' || model[n] == '-' || model[n] == '.'))
            return 1;
    }
    return 0;
}

int64_t qf_openai_estimate_tokens(size_t bytes)
{
    return (int64_t)((bytes + 3) / 4);
}

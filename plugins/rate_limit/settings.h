/*
 * settings.h - the rate_limit instance settings, read once at create time
 * through the host's typed configuration access.
 */
#ifndef QF_RATE_LIMIT_SETTINGS_H
#define QF_RATE_LIMIT_SETTINGS_H

#include "qf/plugin.h"

#include "limiter.h"
#include "store.h"

typedef struct qf_rl_settings {
    qf_limiter_limits limits;
    int64_t default_output_tokens; /* reservation without an explicit cap */
    int wait_on_limit;             /* on_limit: wait */
    int64_t max_wait_seconds;
    int deny_unpriced; /* unpriced: deny */
    qf_limiter_store_kind store;
    char scope_key[160];   /* "provider:openai", the store's row key */
    char scope_label[160]; /* "provider openai", for messages */
} qf_rl_settings;

#define QF_RL_OPTION_COUNT 20
extern const qf_option_spec qf_rl_option_specs[QF_RL_OPTION_COUNT];

/* Read and check every setting; QF_ERR_CONFIG names the key and what is
 * expected. */
qf_status qf_rl_settings_read(const qf_host *host, const qf_context *ctx,
                              qf_rl_settings *out, qf_error *err);

/* Parse "+02:00", "-05:30", "+0200", "+02", "Z" or "UTC" into minutes east
 * of UTC; returns 0 on success, -1 when invalid. */
int qf_rl_parse_utc_offset(const char *text, int32_t *minutes);

#endif /* QF_RATE_LIMIT_SETTINGS_H */

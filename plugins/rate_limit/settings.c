/*
 * settings.c - the option schema of the rate_limit plugin and the reading
 * and checking of an instance's settings. Every limit is optional; an
 * absent limit is stored as a negative value.
 */
#include "settings.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define OPT(name, type, def, flags, text)                                      \
    {                                                                          \
        sizeof(qf_option_spec), name, type, def, flags, text                   \
    }

const qf_option_spec qf_rl_option_specs[QF_RL_OPTION_COUNT] = {
    OPT("requests_per_minute", QF_OPT_INT, NULL, 0,
        "requests allowed per minute; a token bucket that refills "
        "continuously"),
    OPT("tokens_per_hour", QF_OPT_INT, NULL, 0,
        "prompt plus output tokens allowed per hour"),
    OPT("cost_per_day", QF_OPT_DOUBLE, NULL, 0,
        "US dollars allowed per calendar day at utc_offset"),
    OPT("cost_per_month", QF_OPT_DOUBLE, NULL, 0,
        "US dollars allowed per calendar month at utc_offset"),
    OPT("default_output_tokens", QF_OPT_INT, "1024", 0,
        "output tokens reserved when the request sets no output cap"),
    OPT("on_limit", QF_OPT_STRING, "fail", 0,
        "fail: refuse at once; wait: sleep up to max_wait_seconds, then check "
        "again"),
    OPT("max_wait_seconds", QF_OPT_INT, "60", 0,
        "longest total wait of one request when on_limit is wait, in seconds"),
    OPT("unpriced", QF_OPT_STRING, "allow", 0,
        "allow or deny calls to models without a price"),
    OPT("utc_offset", QF_OPT_STRING, "+00:00", 0,
        "fixed UTC offset of the day and month boundaries, such as +02:00"),
    OPT("store", QF_OPT_STRING, "sqlite", 0,
        "sqlite: shared by processes through <state_dir>/limits.db; memory: "
        "this process only; redis: shared by every runtime on one Redis"),
    OPT("redis_url", QF_OPT_STRING, "redis://127.0.0.1:6379/0", QF_OPT_SECRET,
        "Redis server of store: redis, as "
        "redis://[:password@]host[:port][/db]"),
    OPT("redis_password", QF_OPT_STRING, NULL, QF_OPT_SECRET,
        "password for store: redis, usually ${REDIS_PASSWORD}"),
    OPT("key_prefix", QF_OPT_STRING, "qf:limits:", 0,
        "prefix of the Redis keys of store: redis; one per deployment"),
    OPT("on_store_error", QF_OPT_STRING, "fail_closed", 0,
        "when Redis cannot be reached: fail_closed refuses requests, "
        "fail_open allows them uncounted"),
    OPT("connect_timeout_ms", QF_OPT_INT, "1000", 0,
        "Redis connect timeout in milliseconds"),
    OPT("command_timeout_ms", QF_OPT_INT, "1000", 0,
        "Redis reply timeout in milliseconds"),
    OPT("retry_interval_ms", QF_OPT_INT, "1000", 0,
        "after a failed Redis connect, milliseconds before the next attempt"),
    OPT("pool_size", QF_OPT_INT, "4", 0,
        "Redis connections shared by the instance's threads (1 to 64)"),
    OPT("scope", QF_OPT_STRING, NULL, 0,
        "provider or role; set by the configuration resolver"),
    OPT("scope_id", QF_OPT_STRING, NULL, 0,
        "the provider or role name the limits count; set by the resolver"),
};

int qf_rl_parse_utc_offset(const char *text, int32_t *minutes)
{
    int sign, hours = 0, mins = 0;
    size_t len = strlen(text);

    if (strcmp(text, "Z") == 0 || strcmp(text, "UTC") == 0) {
        *minutes = 0;
        return 0;
    }
    if (len < 3 || (text[0] != '+' && text[0] != '-') ||
        !isdigit((unsigned char)text[1]) || !isdigit((unsigned char)text[2]))
        return -1;
    sign = text[0] == '-' ? -1 : 1;
    hours = (text[1] - '0') * 10 + (text[2] - '0');
    text += 3;
    if (*text == ':')
        text++;
    if (*text != '\0') {
        if (!isdigit((unsigned char)text[0]) ||
            !isdigit((unsigned char)text[1]) || text[2] != '\0')
            return -1;
        mins = (text[0] - '0') * 10 + (text[1] - '0');
    }
    if (hours > 14 || mins > 59 || hours * 60 + mins > 14 * 60)
        return -1;
    *minutes = sign * (hours * 60 + mins);
    return 0;
}

/* An integer setting >= minimum; *out keeps its default when absent. */
static qf_status read_int(const qf_host *host, const qf_context *ctx,
                          const char *key, int64_t minimum, int64_t *out,
                          qf_error *err)
{
    int64_t value;
    qf_status st = host->config_int(ctx, key, &value, err);

    if (st == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (st != QF_OK)
        return st;
    if (value < minimum)
        return host->error_set(err, QF_ERR_CONFIG,
                               "rate_limit %s: invalid value %lld; expected "
                               "an integer >= %lld",
                               key, (long long)value, (long long)minimum);
    *out = value;
    return QF_OK;
}

static qf_status read_cost(const qf_host *host, const qf_context *ctx,
                           const char *key, double *out, qf_error *err)
{
    double value;
    qf_status st = host->config_double(ctx, key, &value, err);

    if (st == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (st != QF_OK)
        return st;
    if (value < 0)
        return host->error_set(err, QF_ERR_CONFIG,
                               "rate_limit %s: invalid value %g; expected US "
                               "dollars >= 0",
                               key, value);
    *out = value;
    return QF_OK;
}

/* A string setting that must be one of two words; *flag is 1 for the
 * second. */
static qf_status read_choice(const qf_host *host, const qf_context *ctx,
                             const char *key, const char *first,
                             const char *second, int *flag, qf_error *err)
{
    const char *value = NULL;
    qf_status st = host->config_string(ctx, key, &value, err);

    if (st == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (st != QF_OK)
        return st;
    if (strcmp(value, first) == 0 || strcmp(value, second) == 0) {
        *flag = strcmp(value, second) == 0;
        return QF_OK;
    }
    return host->error_set(err, QF_ERR_CONFIG,
                           "rate_limit %s: invalid value '%s'; expected %s "
                           "or %s",
                           key, value, first, second);
}

static qf_status read_store(const qf_host *host, const qf_context *ctx,
                            qf_rl_settings *out, qf_error *err)
{
    const char *value = NULL;
    qf_status st = host->config_string(ctx, "store", &value, err);

    if (st == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (st != QF_OK)
        return st;
    if (strcmp(value, "sqlite") == 0)
        out->store = QF_LIMITER_STORE_SQLITE;
    else if (strcmp(value, "memory") == 0)
        out->store = QF_LIMITER_STORE_MEMORY;
#ifdef QF_WITH_REDIS
    else if (strcmp(value, "redis") == 0)
        out->store = QF_LIMITER_STORE_REDIS;
#else
    else if (strcmp(value, "redis") == 0)
        return host->error_set(err, QF_ERR_UNSUPPORTED,
                               "rate_limit store: redis is not available: "
                               "this build has no Redis support because "
                               "hiredis was missing; use sqlite or rebuild "
                               "with libhiredis-dev installed");
#endif
    else
        return host->error_set(err, QF_ERR_CONFIG,
                               "rate_limit store: invalid value '%s'; "
                               "expected sqlite, memory or redis",
                               value);
    return QF_OK;
}

static qf_status read_offset(const qf_host *host, const qf_context *ctx,
                             qf_rl_settings *out, qf_error *err)
{
    const char *value = NULL;
    qf_status st = host->config_string(ctx, "utc_offset", &value, err);

    if (st == QF_ERR_NOT_FOUND)
        return QF_OK;
    if (st != QF_OK)
        return st;
    if (qf_rl_parse_utc_offset(value, &out->limits.utc_offset_minutes) != 0)
        return host->error_set(err, QF_ERR_CONFIG,
                               "rate_limit utc_offset: invalid value '%s'; "
                               "expected +HH:MM or -HH:MM within 14 hours of "
                               "UTC, such as +02:00",
                               value);
    return QF_OK;
}

/* Scope key and label: "provider:openai" and "provider openai", or the
 * instance name when the resolver set no scope. */
static qf_status read_scope(const qf_host *host, const qf_context *ctx,
                            qf_rl_settings *out, qf_error *err)
{
    const char *scope = NULL, *id = NULL;
    qf_status st = host->config_string(ctx, "scope", &scope, err);

    if (st != QF_OK && st != QF_ERR_NOT_FOUND)
        return st;
    st = host->config_string(ctx, "scope_id", &id, err);
    if (st != QF_OK && st != QF_ERR_NOT_FOUND)
        return st;

    if (scope != NULL && strcmp(scope, "provider") != 0 &&
        strcmp(scope, "role") != 0)
        return host->error_set(err, QF_ERR_CONFIG,
                               "rate_limit scope: invalid value '%s'; expected "
                               "provider or role",
                               scope);
    if (scope == NULL || id == NULL || id[0] == '\0') {
        scope = "instance";
        id = host->context_name(ctx) ? host->context_name(ctx) : "rate_limit";
    }
    snprintf(out->scope_key, sizeof(out->scope_key), "%s:%s", scope, id);
    snprintf(out->scope_label, sizeof(out->scope_label), "%s %s", scope, id);
    return QF_OK;
}

qf_status qf_rl_settings_read(const qf_host *host, const qf_context *ctx,
                              qf_rl_settings *out, qf_error *err)
{
    qf_status st;

    memset(out, 0, sizeof(*out));
    out->limits.requests_per_minute = -1;
    out->limits.tokens_per_hour = -1;
    out->limits.cost_per_day = -1;
    out->limits.cost_per_month = -1;
    out->default_output_tokens = 1024;
    out->max_wait_seconds = 60;
    out->store = QF_LIMITER_STORE_SQLITE;

    if ((st = read_int(host, ctx, "requests_per_minute", 0,
                       &out->limits.requests_per_minute, err)) != QF_OK ||
        (st = read_int(host, ctx, "tokens_per_hour", 0,
                       &out->limits.tokens_per_hour, err)) != QF_OK ||
        (st = read_cost(host, ctx, "cost_per_day", &out->limits.cost_per_day,
                        err)) != QF_OK ||
        (st = read_cost(host, ctx, "cost_per_month",
                        &out->limits.cost_per_month, err)) != QF_OK ||
        (st = read_int(host, ctx, "default_output_tokens", 0,
                       &out->default_output_tokens, err)) != QF_OK ||
        (st = read_int(host, ctx, "max_wait_seconds", 0, &out->max_wait_seconds,
                       err)) != QF_OK ||
        (st = read_choice(host, ctx, "on_limit", "fail", "wait",
                          &out->wait_on_limit, err)) != QF_OK ||
        (st = read_choice(host, ctx, "unpriced", "allow", "deny",
                          &out->deny_unpriced, err)) != QF_OK ||
        (st = read_offset(host, ctx, out, err)) != QF_OK ||
        (st = read_store(host, ctx, out, err)) != QF_OK)
        return st;
    return read_scope(host, ctx, out, err);
}

/*
 * config_check.c - type checks of the values a role plan uses: numbers
 * that must be numbers, choices that must be one of a few words, maps that
 * must be maps. Each check reads the value with expansion, so an unset
 * variable is reported for the role that uses it and for no other. A free
 * string such as base_url may name an unset variable: `qf config show`
 * must work without secrets set, and the runtime and `qf config check`
 * report the variable when they expand every setting.
 */
#include <stdlib.h>
#include <string.h>

#include "config_resolve.h"
#include "config_secret.h"

typedef enum check_type {
    CHECK_NUMBER, /* number of 0 or more */
    CHECK_COUNT,  /* whole number of 1 or more */
    CHECK_BOOL,
    CHECK_STRING,
    CHECK_MAP
} check_type;

typedef struct field_check {
    const char *path;
    check_type type;
    const char *choices; /* "fail, wait" for CHECK_STRING, or NULL */
} field_check;

static const field_check provider_checks[] = {
    {"timeout", CHECK_MAP, NULL},
    {"timeout.connect_seconds", CHECK_NUMBER, NULL},
    {"timeout.total_seconds", CHECK_NUMBER, NULL},
    {"retry", CHECK_MAP, NULL},
    {"retry.max_attempts", CHECK_COUNT, NULL},
    {"retry.max_wait_seconds", CHECK_NUMBER, NULL},
    {"base_url", CHECK_STRING, NULL},
    {"headers", CHECK_MAP, NULL},
    {NULL, CHECK_MAP, NULL},
};

static const field_check cache_checks[] = {
    {"enabled", CHECK_BOOL, NULL},    {"ttl_seconds", CHECK_NUMBER, NULL},
    {"max_bytes", CHECK_COUNT, NULL}, {"backend", CHECK_STRING, NULL},
    {NULL, CHECK_MAP, NULL},
};

static const field_check rate_limit_checks[] = {
    {"requests_per_minute", CHECK_NUMBER, NULL},
    {"tokens_per_hour", CHECK_NUMBER, NULL},
    {"cost_per_day", CHECK_NUMBER, NULL},
    {"cost_per_month", CHECK_NUMBER, NULL},
    {"default_output_tokens", CHECK_COUNT, NULL},
    {"on_limit", CHECK_STRING, "fail, wait"},
    {"max_wait_seconds", CHECK_NUMBER, NULL},
    {"unpriced", CHECK_STRING, "allow, deny"},
    {"store", CHECK_STRING, NULL},
    {"redis_url", CHECK_STRING, NULL},
    {NULL, CHECK_MAP, NULL},
};

static const char *const limit_keys[] = {
    "requests_per_minute", "tokens_per_hour", "cost_per_day", "cost_per_month"};

static qf_status check_number(resolver *rs, const qf_cnode *node, int count)
{
    double number = 0;
    int64_t whole = 0;
    qf_status st = count ? qf_cnode_int(node, &whole, rs->err)
                         : qf_cnode_double(node, &number, rs->err);

    if (st != QF_OK)
        return st;
    if (count && whole < 1)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, node,
                             "%lld is too small; expected a whole number of "
                             "1 or more",
                             (long long)whole);
    if (!count && !(number >= 0))
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, node,
                             "%s is invalid; expected a number of 0 or more",
                             qf_cnode_raw(node));
    return QF_OK;
}

/* A string, and one of `choices` ("a, b") when given. Without choices,
 * an unset variable passes. */
static qf_status check_choice(resolver *rs, const qf_cnode *node,
                              const char *choices)
{
    char *value = NULL, *unset = NULL, *redacted_value;
    qf_status st = qf_cnode_string_unset(node, &value, &unset, rs->err);
    size_t len;
    const char *at;

    if (st == QF_ERR_CONFIG && unset != NULL && choices == NULL) {
        qf_error_init(rs->err);
        st = QF_OK;
    }
    free(unset);
    if (st != QF_OK || choices == NULL) {
        free(value);
        return st;
    }
    len = strlen(value);
    for (at = choices; at != NULL;
         at = strchr(at, ',') ? strchr(at, ',') + 2 : NULL) {
        if (strncmp(at, value, len) == 0 &&
            (at[len] == ',' || at[len] == '\0')) {
            free(value);
            return QF_OK;
        }
    }
    /* A value such as redis://:pw@host must not reach the message. */
    redacted_value = qf_config_redact_urls(value);
    free(value);
    if (redacted_value == NULL)
        return qf_resolve_nomem(rs);
    st = qf_cnode_fail(rs->err, QF_ERR_CONFIG, node,
                       "\"%s\" is not a valid choice; expected one of: %s",
                       redacted_value, choices);
    free(redacted_value);
    return st;
}

qf_status qf_resolve_check_map(resolver *rs, const qf_cnode *node,
                               const char *expected)
{
    if (node == NULL || node->type == QF_CNODE_MAP ||
        node->type == QF_CNODE_NULL)
        return QF_OK;
    return qf_cnode_fail(rs->err, QF_ERR_CONFIG, node,
                         "value is %s; expected %s", qf_cnode_type_phrase(node),
                         expected);
}

static qf_status check_field(resolver *rs, const qf_cnode *node,
                             const field_check *check)
{
    int flag = 0;

    if (node == NULL || node->type == QF_CNODE_NULL)
        return QF_OK;
    switch (check->type) {
    case CHECK_NUMBER: return check_number(rs, node, 0);
    case CHECK_COUNT: return check_number(rs, node, 1);
    case CHECK_BOOL: return qf_cnode_bool(node, &flag, rs->err);
    case CHECK_STRING: return check_choice(rs, node, check->choices);
    case CHECK_MAP: return qf_resolve_check_map(rs, node, "a map");
    }
    return QF_OK;
}

static qf_status check_fields(resolver *rs, const qf_cnode *map,
                              const field_check *checks)
{
    for (; checks->path != NULL; checks++) {
        qf_status st =
            check_field(rs, qf_cnode_path(map, checks->path), checks);
        if (st != QF_OK)
            return st;
    }
    return QF_OK;
}

qf_status qf_resolve_check_provider(resolver *rs)
{
    return check_fields(rs, rs->plan->provider_settings, provider_checks);
}

qf_status qf_resolve_check_cache(resolver *rs, const qf_cnode *cache)
{
    qf_status st = qf_resolve_check_map(rs, cache,
                                        "a map such as {enabled: true, "
                                        "ttl_seconds: 3600}");

    if (st != QF_OK || cache == NULL)
        return st;
    return check_fields(rs, cache, cache_checks);
}

qf_status qf_resolve_check_rate_limit(resolver *rs, const qf_cnode *limits)
{
    qf_status st = qf_resolve_check_map(rs, limits,
                                        "a map such as "
                                        "{requests_per_minute: 60}");

    if (st != QF_OK || limits == NULL)
        return st;
    return check_fields(rs, limits, rate_limit_checks);
}

int qf_resolve_sets_limits(const qf_cnode *limits)
{
    for (size_t i = 0; i < sizeof(limit_keys) / sizeof(limit_keys[0]); i++) {
        const qf_cnode *value = qf_cnode_get(limits, limit_keys[i]);

        if (value != NULL && value->type != QF_CNODE_NULL)
            return 1;
    }
    return 0;
}

/*
 * rate_limit.c - the rate_limit middleware. on_request estimates the call
 * as prompt bytes / 4 plus the output reservation, priced through the host.
 * It reserves that estimate in the store in one atomic step, or refuses
 * before any upstream traffic with the wait after which the call would
 * pass. on_complete settles the reservation against the reported usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/plugin.h"

#include "settings.h"
#include "store.h"
#ifdef QF_WITH_REDIS
#include "store_redis.h"
#endif

typedef struct rate_limit {
    const qf_host *host;
    qf_context *ctx;
    qf_rl_settings settings;
    qf_limiter_store *store;
#ifdef QF_WITH_REDIS
    qf_rl_redis_store *redis; /* store: redis; then `store` is NULL */
#endif
} rate_limit;

/* The reservation of one call, kept in the middleware's per-call state. */
typedef struct call_state {
    qf_limiter_decision reservation;
} call_state;

/* Smallest estimated cost of a call to a priced, non-free model: one
 * billionth of a dollar, so a zero budget refuses it. */
#define MIN_PRICED_COST 1e-9

static qf_status rl_create(const qf_host *host, qf_context *ctx,
                           void **instance, qf_error *err)
{
    rate_limit *rl = host->alloc(sizeof(*rl));
    char msg[512];
    qf_status st;

    *instance = NULL;
    if (rl == NULL)
        return host->error_set(err, QF_ERR_NOMEM, "out of memory");
    memset(rl, 0, sizeof(*rl));
    rl->host = host;
    rl->ctx = ctx;

    st = qf_rl_settings_read(host, ctx, &rl->settings, err);
    if (st != QF_OK)
        goto fail;
#ifdef QF_WITH_REDIS
    if (rl->settings.store == QF_LIMITER_STORE_REDIS) {
        st = qf_rl_redis_open(host, ctx, rl->settings.scope_key, &rl->redis,
                              err);
        if (st != QF_OK)
            goto fail;
        *instance = rl;
        return QF_OK;
    }
#endif
    st = qf_limiter_store_open(rl->settings.store, host->context_state_dir(ctx),
                               rl->settings.scope_key, &rl->store, msg,
                               sizeof(msg));
    if (st != QF_OK) {
        host->error_set(err, st, "%s", msg);
        goto fail;
    }
    *instance = rl;
    return QF_OK;
fail:
    host->free(rl);
    return st;
}

static void rl_destroy(void *instance)
{
    rate_limit *rl = instance;

    if (rl == NULL)
        return;
    qf_limiter_store_close(rl->store);
#ifdef QF_WITH_REDIS
    qf_rl_redis_close(rl->redis);
#endif
    rl->host->free(rl);
}

/* --- Estimates -------------------------------------------------------- */

/* UTF-8 bytes of every message's text, divided by 4 and rounded up. */
static int64_t estimate_prompt_tokens(const qf_host *host,
                                      const qf_request *req)
{
    size_t count = host->request_message_count(req);
    uint64_t bytes = 0;

    for (size_t i = 0; i < count; i++) {
        const char *role = NULL, *content = NULL;
        size_t len = 0;

        if (host->request_message(req, i, &role, &content, &len) == QF_OK)
            bytes += len;
    }
    return (int64_t)((bytes + 3) / 4);
}

static int64_t positive_json_number(const char *json)
{
    char *end = NULL;
    double value;

    if (json == NULL)
        return 0;
    value = strtod(json, &end);
    return end != json && value > 0 && value < 1e15 ? (int64_t)value : 0;
}

/* The largest explicit output cap of the request, else the default. */
static int64_t output_reservation(const rate_limit *rl, const qf_request *req)
{
    const qf_host *host = rl->host;
    int64_t caps[3];
    int64_t best = 0;

    caps[0] = positive_json_number(host->request_param(req, "max_tokens"));
    caps[1] =
        positive_json_number(host->request_param(req, "max_completion_tokens"));
    caps[2] = positive_json_number(host->request_option(req, "num_predict"));
    for (int i = 0; i < 3; i++) {
        if (caps[i] > best)
            best = caps[i];
    }
    return best > 0 ? best : rl->settings.default_output_tokens;
}

static int price_is_free(const qf_price *price)
{
    return price->input_per_million <= 0 &&
           price->cached_input_per_million <= 0 &&
           price->output_per_million <= 0 && price->per_image <= 0;
}

/* Estimated demand of the call; *unpriced is set for a model without a
 * price. */
static void estimate_demand(const rate_limit *rl, const qf_request *req,
                            qf_limiter_demand *demand, int *unpriced)
{
    const qf_host *host = rl->host;
    const char *model = host->request_model(req);
    qf_usage usage = {sizeof(usage), 0, 0, 0, 1};
    qf_price price = {sizeof(price), -1, -1, -1, -1};
    int64_t images = 0;
    int free_unpriced = 0;

    usage.prompt_tokens = estimate_prompt_tokens(host, req);
    if (host->request_kind(req) == QF_REQUEST_IMAGE) {
        images = positive_json_number(host->request_param(req, "n"));
        if (images == 0)
            images = 1;
    } else {
        usage.completion_tokens = output_reservation(rl, req);
    }
    demand->requests = 1;
    demand->tokens = usage.prompt_tokens + usage.completion_tokens;
    demand->cost = 0;

    *unpriced =
        model == NULL || host->price_lookup(rl->ctx, model, &price) != QF_OK;
    if (*unpriced)
        return;
    host->cost_compute(rl->ctx, model, &usage, images, &demand->cost,
                       &free_unpriced);
    if (demand->cost <= 0 && !price_is_free(&price))
        demand->cost = MIN_PRICED_COST;
}

/* --- Refusals --------------------------------------------------------- */

static void format_limit_value(const qf_rl_settings *s, qf_limit_kind limit,
                               char *out, size_t len)
{
    switch (limit) {
    case QF_LIMIT_REQUESTS_PER_MINUTE:
        snprintf(out, len, "%lld", (long long)s->limits.requests_per_minute);
        break;
    case QF_LIMIT_TOKENS_PER_HOUR:
        snprintf(out, len, "%lld", (long long)s->limits.tokens_per_hour);
        break;
    case QF_LIMIT_COST_PER_DAY:
        snprintf(out, len, "%g", s->limits.cost_per_day);
        break;
    default: snprintf(out, len, "%g", s->limits.cost_per_month); break;
    }
}

static int is_cost_limit(qf_limit_kind limit)
{
    return limit == QF_LIMIT_COST_PER_DAY || limit == QF_LIMIT_COST_PER_MONTH;
}

/* Refuse a request that no wait would let through, without a retry-after.
 * `hint` says how to make the request smaller ("lower max_tokens"). */
static qf_status refuse_always(const rate_limit *rl,
                               const qf_limiter_decision *d,
                               const qf_limiter_demand *demand,
                               const char *hint, qf_error *err)
{
    const qf_host *host = rl->host;
    const char *name = qf_limiter_limit_name(d->limit);
    const char *scope = rl->settings.scope_label;
    char value[64];

    format_limit_value(&rl->settings, d->limit, value, sizeof(value));
    if (is_cost_limit(d->limit))
        return host->error_set(err, QF_ERR_BUDGET,
                               "budget %s=%s for %s is smaller than this "
                               "request's estimated cost of %.6f USD; raise "
                               "the budget or %s",
                               name, value, scope, demand->cost, hint);
    if (d->limit == QF_LIMIT_TOKENS_PER_HOUR)
        return host->error_set(err, QF_ERR_RATE_LIMITED,
                               "rate limit %s=%s for %s is smaller than this "
                               "request's estimate of %lld tokens; raise the "
                               "limit or %s",
                               name, value, scope, (long long)demand->tokens,
                               hint);
    return host->error_set(err, QF_ERR_RATE_LIMITED,
                           "rate limit %s=%s for %s allows no requests; raise "
                           "the limit",
                           name, value, scope);
}

/* Refuse a request that would pass after d->wait_ms. */
static qf_status refuse_for_now(const rate_limit *rl,
                                const qf_limiter_decision *d, qf_error *err)
{
    const qf_host *host = rl->host;
    int is_cost = is_cost_limit(d->limit);
    char value[64];

    format_limit_value(&rl->settings, d->limit, value, sizeof(value));
    host->error_set_retry_after_ms(err, d->wait_ms);
    return host->error_set(
        err, is_cost ? QF_ERR_BUDGET : QF_ERR_RATE_LIMITED,
        "%s %s=%s for %s reached; retry after %lld s",
        is_cost ? "budget" : "rate limit", qf_limiter_limit_name(d->limit),
        value, rl->settings.scope_label, (long long)(d->wait_ms / 1000));
}

/* Check and reserve in whichever store the instance uses. */
static qf_status store_reserve(rate_limit *rl, const qf_limiter_demand *demand,
                               qf_limiter_decision *d, qf_error *err)
{
    const qf_host *host = rl->host;
    char msg[512];
    qf_status st;

#ifdef QF_WITH_REDIS
    if (rl->redis != NULL)
        return qf_rl_redis_reserve(rl->redis, &rl->settings.limits, demand,
                                   host->now_ms(rl->ctx), d, err);
#endif
    st = qf_limiter_store_reserve(rl->store, &rl->settings.limits, demand,
                                  host->now_ms(rl->ctx), d, msg, sizeof(msg));
    if (st != QF_OK)
        return host->error_set(err, st, "%s", msg);
    return QF_OK;
}

/* Settle in whichever store the instance uses; returns QF_OK or the
 * status of a failed settlement with a message in msg. */
static qf_status store_settle(rate_limit *rl, const qf_limiter_decision *d,
                              const qf_limiter_demand *actual, char *msg,
                              size_t msg_len)
{
#ifdef QF_WITH_REDIS
    if (rl->redis != NULL) {
        /* The Redis store logs its own failures, rate-limited. */
        qf_rl_redis_settle(rl->redis, &rl->settings.limits, d, actual,
                           rl->host->now_ms(rl->ctx));
        return QF_OK;
    }
#endif
    return qf_limiter_store_settle(rl->store, &rl->settings.limits, d, actual,
                                   rl->host->now_ms(rl->ctx), msg, msg_len);
}

/* Reserve, sleeping and checking again while on_limit is wait and the
 * next wait still fits in max_wait_seconds. */
static qf_status reserve(rate_limit *rl, const qf_limiter_demand *demand,
                         const char *hint, qf_limiter_decision *d,
                         qf_error *err)
{
    const qf_host *host = rl->host;
    int64_t waited_ms = 0;
    int64_t max_wait_ms = rl->settings.max_wait_seconds * 1000;
    qf_status st;

    for (;;) {
        st = store_reserve(rl, demand, d, err);
        if (st != QF_OK)
            return st;
        if (d->allowed)
            return QF_OK;
        if (d->wait_ms < 0)
            return refuse_always(rl, d, demand, hint, err);
        if (!rl->settings.wait_on_limit || waited_ms + d->wait_ms > max_wait_ms)
            return refuse_for_now(rl, d, err);
        host->log(rl->ctx, QF_LOG_INFO, "%s reached; waiting %lld ms",
                  qf_limiter_limit_name(d->limit), (long long)d->wait_ms);
        host->sleep_ms(rl->ctx, d->wait_ms);
        waited_ms += d->wait_ms;
    }
}

static qf_status rl_on_request(void *instance, void **state, qf_request *req,
                               qf_response *resp, qf_error *err)
{
    rate_limit *rl = instance;
    const qf_host *host = rl->host;
    qf_limiter_demand demand;
    qf_limiter_decision decision;
    call_state *call;
    int unpriced = 0;
    qf_status st;

    estimate_demand(rl, req, &demand, &unpriced);
    if (unpriced && rl->settings.deny_unpriced)
        return host->error_set(
            err, QF_ERR_BUDGET,
            "model '%s' has no price and unpriced=deny for "
            "%s; add pricing.%s to the configuration or set "
            "unpriced: allow",
            host->request_model(req) ? host->request_model(req) : "",
            rl->settings.scope_label,
            host->request_model(req) ? host->request_model(req) : "MODEL");

    st = reserve(rl, &demand,
                 host->request_kind(req) == QF_REQUEST_IMAGE
                     ? "request fewer images"
                     : "lower max_tokens",
                 &decision, err);
    if (st != QF_OK)
        return st;
    call = host->alloc(sizeof(*call));
    if (call == NULL) {
        qf_limiter_demand none = {0, 0, 0};
        store_settle(rl, &decision, &none, NULL, 0);
        return host->error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    call->reservation = decision;
    *state = call;
    return QF_OK;
}

/* --- Settlement ------------------------------------------------------- */

/* Statuses of calls that never reached the upstream, so even the request
 * slot is given back. */
static int never_sent(qf_status status)
{
    return status == QF_ERR_RATE_LIMITED || status == QF_ERR_BUDGET ||
           status == QF_ERR_REFUSED || status == QF_ERR_INVALID ||
           status == QF_ERR_CONFIG;
}

/* What the call used. A successful answer without any usage (no tokens,
 * no images) keeps its estimate, because charging nothing would let calls
 * through upstreams that do not report usage without limit. */
static void actual_demand(const rate_limit *rl, const qf_request *req,
                          const qf_response *resp, qf_status status,
                          const qf_limiter_demand *reserved,
                          qf_limiter_demand *actual)
{
    const qf_host *host = rl->host;
    qf_usage usage = {sizeof(usage), 0, 0, 0, 0};
    const char *model;
    int unpriced = 0;
    int64_t images;

    *actual = (qf_limiter_demand){1, 0, 0};
    if (status != QF_OK && status != QF_ANSWERED) {
        if (never_sent(status))
            actual->requests = 0;
        return;
    }
    if (resp == NULL || host->response_cache_hit(resp, NULL)) {
        actual->requests = 0;
        return;
    }
    host->response_usage(resp, &usage);
    images = (int64_t)host->response_image_count(resp);
    if (usage.prompt_tokens <= 0 && usage.completion_tokens <= 0 &&
        images == 0) {
        *actual = *reserved;
        return;
    }
    model = host->response_model(resp);
    if (model == NULL || model[0] == '\0')
        model = host->request_model(req);
    actual->tokens = usage.prompt_tokens + usage.completion_tokens;
    if (model != NULL)
        host->cost_compute(rl->ctx, model, &usage, images, &actual->cost,
                           &unpriced);
}

static void rl_on_complete(void *instance, void **state, const qf_request *req,
                           const qf_response *resp, qf_status status)
{
    rate_limit *rl = instance;
    const qf_host *host = rl->host;
    call_state *call = *state;
    qf_limiter_demand actual;
    char msg[512];

    if (call == NULL)
        return;
    actual_demand(rl, req, resp, status, &call->reservation.reserved, &actual);
    if (store_settle(rl, &call->reservation, &actual, msg, sizeof(msg)) !=
        QF_OK)
        host->log(rl->ctx, QF_LOG_ERROR, "settling request %s failed: %s",
                  host->request_id(req) ? host->request_id(req) : "?", msg);
    host->free(call);
    *state = NULL;
}

/* --- Descriptor ------------------------------------------------------- */

static const qf_middleware_vtable rl_vtable = {
    sizeof(qf_middleware_vtable),
    rl_create,
    rl_destroy,
    rl_on_request,
    NULL,
    rl_on_complete,
};

static const qf_plugin_descriptor rl_descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "rate_limit",
    "Rate limiter and budgets",
    "1.0.0",
    "Limits requests per minute, tokens per hour and cost per day and month, "
    "shared across processes through SQLite or across machines through "
    "Redis.",
    QF_KIND_MIDDLEWARE,
    NULL,
    qf_rl_option_specs,
    QF_RL_OPTION_COUNT,
    NULL,
    &rl_vtable,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(rl_descriptor)

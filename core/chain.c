/*
 * chain.c - running one request through its route.
 *
 * Middleware receives the request in chain order; the first one that fills
 * the response or rejects the request stops the descent. Otherwise the
 * provider fills the response. Responses
 * travel back through on_response in reverse order, and on_complete runs
 * exactly once, in reverse order, for every middleware whose on_request
 * ran. Every call is written to the ledger; successful ones are priced.
 */
#include "runtime_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Per-call bookkeeping, on the stack for chains of up to this length. */
#define INLINE_CHAIN 8

typedef struct call {
    qf_runtime *rt;
    qf_request *req;
    qf_response *resp;
    const qf_route *route;
    void **states;
    size_t entered;  /* middleware whose on_request ran */
    size_t answered; /* index of the answering middleware, or chain_len */
    qf_error *err;
} call;

static void lock_instance(qf_instance *inst)
{
    if (inst->serial)
        pthread_mutex_lock(&inst->lock);
}

static void unlock_instance(qf_instance *inst)
{
    if (inst->serial)
        pthread_mutex_unlock(&inst->lock);
}

static qf_status call_provider(call *c)
{
    qf_instance *inst = NULL;
    const qf_provider_vtable *vt;
    qf_status status = qf_route_provider(c->rt, c->route, &inst, c->err);

    if (status != QF_OK)
        return status;
    vt = inst->plugin->descriptor->provider;

    lock_instance(inst);
    if (c->req->kind == QF_REQUEST_IMAGE)
        status = vt->generate_image(inst->handle, c->req, c->resp, c->err);
    else
        status = vt->complete(inst->handle, c->req, c->resp, c->err);
    unlock_instance(inst);
    if (status != QF_OK && c->err->status == QF_OK)
        qf_error_set(c->err, status, "provider %s failed without a message",
                     c->route->provider_name);
    return status;
}

static qf_status descend(call *c)
{
    for (size_t i = 0; i < c->route->chain_len; i++) {
        qf_instance *inst = c->route->chain[i];
        const qf_middleware_vtable *vt = inst->plugin->descriptor->middleware;
        qf_status status;

        lock_instance(inst);
        status = vt->on_request(inst->handle, &c->states[i], c->req, c->resp,
                                c->err);
        unlock_instance(inst);
        c->entered = i + 1;
        if (status == QF_ANSWERED) {
            c->answered = i;
            return QF_ANSWERED;
        }
        if (status != QF_OK) {
            if (c->err->status == QF_OK)
                qf_error_set(c->err, status, "%s refused the request",
                             inst->ctx->name);
            return status;
        }
    }
    c->answered = c->route->chain_len;
    return call_provider(c);
}

static qf_status ascend(call *c)
{
    for (size_t i = c->answered; i-- > 0;) {
        qf_instance *inst = c->route->chain[i];
        const qf_middleware_vtable *vt = inst->plugin->descriptor->middleware;
        qf_status status;

        if (vt->on_response == NULL)
            continue;
        lock_instance(inst);
        status = vt->on_response(inst->handle, &c->states[i], c->req, c->resp,
                                 c->err);
        unlock_instance(inst);
        if (status != QF_OK) {
            if (c->err->status == QF_OK)
                qf_error_set(c->err, status, "%s failed the response",
                             inst->ctx->name);
            return status;
        }
    }
    return QF_OK;
}

static void complete(call *c, qf_status status)
{
    for (size_t i = c->entered; i-- > 0;) {
        qf_instance *inst = c->route->chain[i];
        const qf_middleware_vtable *vt = inst->plugin->descriptor->middleware;

        if (vt->on_complete == NULL)
            continue;
        lock_instance(inst);
        vt->on_complete(inst->handle, &c->states[i], c->req, c->resp, status);
        unlock_instance(inst);
    }
}

/* An early answer to a streamed request that wrote no chunk is sent to the
 * caller as one chunk, so the caller always sees the text streamed. */
static qf_status replay_early_answer(call *c)
{
    qf_response *resp = c->resp;
    size_t len = resp->len;

    if (!resp->streaming || resp->deltas_written > 0 || len == 0)
        return QF_OK;
    if (resp->sink == NULL || resp->sink->on_delta == NULL)
        return QF_OK;
    if (resp->sink->on_delta(resp->sink->user, resp->text, len) != QF_OK)
        return qf_error_set(c->err, QF_ERR_CANCELLED,
                            "the caller stopped the stream");
    return QF_OK;
}

/* Price the call and write its ledger row: every call that passed route
 * resolution gets one, failures with cost 0 and their status. A cache hit
 * costs nothing, so its row is deferred and written in a batch. Errors are
 * logged, never returned: the answer is already paid for. */
static void account(call *c, qf_status status)
{
    qf_response *resp = c->resp;
    const char *model = resp->model ? resp->model : c->req->model;
    qf_ledger *ledger = NULL;
    qf_ledger_row row = {0};
    qf_status written;
    qf_error err;

    qf_error_init(&err);
    resp->cost_usd = 0;
    resp->unpriced = 0;
    if (status == QF_OK && !resp->cache_hit && model != NULL)
        qf_runtime_cost(c->rt, model, &resp->usage, (int64_t)resp->image_count,
                        &resp->cost_usd, &resp->unpriced);

    row.time_ms = c->rt->clock.now_ms(c->rt->clock.user);
    row.role = c->req->role;
    row.provider = c->route->provider_name;
    row.model = model ? model : "";
    if (status == QF_OK) {
        row.input_tokens = resp->usage.prompt_tokens;
        row.cached_tokens = resp->usage.cached_tokens;
        row.output_tokens = resp->usage.completion_tokens;
        row.images = (int64_t)resp->image_count;
        row.estimated = resp->usage.estimated;
    }
    row.cost_usd = resp->cost_usd;
    row.cache_hit = status == QF_OK && resp->cache_hit;
    row.unpriced = resp->unpriced;
    row.status = qf_status_name(status);

    written = qf_runtime_ledger(c->rt, &ledger, &err);
    if (written == QF_OK)
        written = row.cache_hit ? qf_ledger_record_deferred(ledger, &row, &err)
                                : qf_ledger_record(ledger, &row, &err);
    if (written != QF_OK)
        qf_log(QF_LOG_ERROR, "ledger", "request %s: cost row not written: %s",
               c->req->id, err.message);
}

qf_status qf_runtime_run(qf_runtime *rt, qf_request *req,
                         const qf_stream_sink *sink, qf_response **out,
                         qf_error *err)
{
    void *inline_states[INLINE_CHAIN] = {0};
    call c = {rt, req, NULL, req->route, inline_states, 0, 0, err};
    qf_status status;

    *out = NULL;
    qf_error_init(err);
    if (c.route == NULL)
        return qf_error_set(err, QF_ERR_INVALID,
                            "request was not created by qf_request_create");
    if (c.route->chain_len > INLINE_CHAIN)
        c.states = calloc(c.route->chain_len, sizeof(void *));
    c.resp = qf_response_new(sink, req->stream);
    if (c.resp == NULL || c.states == NULL) {
        qf_response_free(c.resp);
        if (c.states != inline_states)
            free(c.states);
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    c.resp->provider = c.route->provider_name;

    status = descend(&c);
    if (status == QF_ANSWERED)
        status = replay_early_answer(&c);
    if (status == QF_OK)
        status = ascend(&c);
    account(&c, status);
    complete(&c, status);

    if (c.states != inline_states)
        free(c.states);
    *out = c.resp;
    return status;
}

double qf_response_cost(const qf_response *resp, int *unpriced)
{
    if (unpriced != NULL)
        *unpriced = resp->unpriced;
    return resp->cost_usd;
}

const char *qf_response_provider(const qf_response *resp)
{
    return resp->provider;
}

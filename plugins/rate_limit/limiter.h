/*
 * limiter.h - the decision core of the rate limiter: token buckets for
 * requests per minute and tokens per hour, and calendar budgets for cost
 * per day and per month. Pure functions on a state struct with the time
 * passed in, shared by the memory and SQLite stores; no locking, no I/O.
 */
#ifndef QF_RATE_LIMIT_LIMITER_H
#define QF_RATE_LIMIT_LIMITER_H

#include <stdint.h>

#define QF_LIMITER_MS_PER_MINUTE 60000LL
#define QF_LIMITER_MS_PER_HOUR   3600000LL
#define QF_LIMITER_MS_PER_DAY    86400000LL

/* Configured limits of one scope. A negative value means "no limit". */
typedef struct qf_limiter_limits {
    int64_t requests_per_minute;
    int64_t tokens_per_hour;
    double cost_per_day;        /* USD */
    double cost_per_month;      /* USD */
    int32_t utc_offset_minutes; /* budgets reset at midnight of this offset */
} qf_limiter_limits;

/*
 * A token bucket. The level is kept in amount x milliseconds so that a
 * refill of `limit` units per period adds exactly `limit` per elapsed
 * millisecond and every step stays integer. Full is limit x period_ms.
 * updated_ms 0 means never used, which reads as full. The level may go
 * below zero when a call settles above its reservation.
 */
typedef struct qf_limiter_bucket {
    int64_t level;
    int64_t updated_ms;
} qf_limiter_bucket;

/* Spend of the calendar period that starts at period_start_ms (UTC). */
typedef struct qf_limiter_budget {
    int64_t period_start_ms;
    double spent;
} qf_limiter_budget;

typedef struct qf_limiter_state {
    qf_limiter_bucket requests;
    qf_limiter_bucket tokens;
    qf_limiter_budget day;
    qf_limiter_budget month;
} qf_limiter_state;

/* Demand of one call: what it reserves, or what it actually used. */
typedef struct qf_limiter_demand {
    int64_t requests;
    int64_t tokens;
    double cost; /* USD */
} qf_limiter_demand;

typedef enum qf_limit_kind {
    QF_LIMIT_NONE = 0,
    QF_LIMIT_REQUESTS_PER_MINUTE,
    QF_LIMIT_TOKENS_PER_HOUR,
    QF_LIMIT_COST_PER_DAY,
    QF_LIMIT_COST_PER_MONTH
} qf_limit_kind;

/*
 * Result of a check. When refused, `limit` is the limit that needs the
 * longest wait and wait_ms that wait, rounded up to whole seconds, or -1
 * when the demand exceeds the limit's whole capacity and no wait helps.
 * When allowed, the reservation records the budget periods it was charged
 * to, for the settlement.
 */
typedef struct qf_limiter_decision {
    int allowed;
    qf_limit_kind limit;
    int64_t wait_ms;
    qf_limiter_demand reserved;
    int64_t day_start_ms;
    int64_t month_start_ms;
} qf_limiter_decision;

/* Name of a limit as written in the configuration ("requests_per_minute"). */
const char *qf_limiter_limit_name(qf_limit_kind limit);

/* UTC start of the calendar day or month containing now_ms, at the fixed
 * offset; and the start of the following one. */
int64_t qf_limiter_day_start(int64_t now_ms, int32_t offset_minutes);
int64_t qf_limiter_month_start(int64_t now_ms, int32_t offset_minutes);
int64_t qf_limiter_next_month_start(int64_t now_ms, int32_t offset_minutes);

/*
 * Check `demand` against every configured limit at now_ms and, when all of
 * them allow it, take it from the buckets and budgets in the same step.
 * A refusal changes only the refill time and the current budget periods.
 */
void qf_limiter_decide(const qf_limiter_limits *limits, qf_limiter_state *state,
                       const qf_limiter_demand *demand, int64_t now_ms,
                       qf_limiter_decision *out);

/*
 * Replace a reservation by what the call actually used, in either
 * direction: buckets get back (or lose) the difference, and the budget of
 * the period the reservation was charged to is corrected. When that period
 * has ended, the actual cost is charged to the current one, as the ledger
 * records it at completion time.
 */
void qf_limiter_settle(const qf_limiter_limits *limits, qf_limiter_state *state,
                       const qf_limiter_decision *reservation,
                       const qf_limiter_demand *actual, int64_t now_ms);

/* Whole units left in a bucket at now_ms, with the refill applied to a
 * copy; -1 when the limit is absent (negative). */
int64_t qf_limiter_bucket_available(const qf_limiter_bucket *bucket,
                                    int64_t limit, int64_t period_ms,
                                    int64_t now_ms);

/* Spend of a budget in the period that starts at period_start_ms: 0 when
 * the stored spend belongs to an earlier period. */
double qf_limiter_budget_spent(const qf_limiter_budget *budget,
                               int64_t period_start_ms);

#endif /* QF_RATE_LIMIT_LIMITER_H */

/*
 * limiter.c - token buckets and calendar budgets as pure functions of a
 * state struct and the time. Buckets start full and refill continuously;
 * a refusal reports the deficit divided by the refill rate, rounded up to
 * whole seconds. Budgets reset at midnight of a fixed UTC offset, using
 * integer civil-calendar arithmetic so no time zone database is involved.
 */
#include "limiter.h"

/* Costs are compared with this slack, a millionth of a micro-dollar, so that
 * floating-point sums such as 0.1 + 0.2 do not refuse a budget of 0.3. */
#define COST_EPSILON 1e-12

const char *qf_limiter_limit_name(qf_limit_kind limit)
{
    switch (limit) {
    case QF_LIMIT_REQUESTS_PER_MINUTE: return "requests_per_minute";
    case QF_LIMIT_TOKENS_PER_HOUR: return "tokens_per_hour";
    case QF_LIMIT_COST_PER_DAY: return "cost_per_day";
    case QF_LIMIT_COST_PER_MONTH: return "cost_per_month";
    default: return "none";
    }
}

/* --- Calendar --------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date; months 1-12. The
 * year is shifted to start in March so the leap day comes last. */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = floor_div(y, 400);
    int64_t year_of_era = y - era * 400;
    int64_t shifted_month = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era - 719468;
}

/* Year and month (1-12) of a day number since 1970-01-01. */
static void civil_from_days(int64_t days, int64_t *year, int64_t *month)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
                           day_of_era / 146096) /
                          365;
    int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;

    *month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
    *year = year_of_era + era * 400 + (*month <= 2 ? 1 : 0);
}

static int64_t local_days(int64_t now_ms, int32_t offset_minutes)
{
    return floor_div(now_ms + (int64_t)offset_minutes * 60000,
                     QF_LIMITER_MS_PER_DAY);
}

static int64_t utc_of_local_day(int64_t days, int32_t offset_minutes)
{
    return days * QF_LIMITER_MS_PER_DAY - (int64_t)offset_minutes * 60000;
}

int64_t qf_limiter_day_start(int64_t now_ms, int32_t offset_minutes)
{
    return utc_of_local_day(local_days(now_ms, offset_minutes), offset_minutes);
}

int64_t qf_limiter_month_start(int64_t now_ms, int32_t offset_minutes)
{
    int64_t year, month;

    civil_from_days(local_days(now_ms, offset_minutes), &year, &month);
    return utc_of_local_day(days_from_civil(year, month, 1), offset_minutes);
}

int64_t qf_limiter_next_month_start(int64_t now_ms, int32_t offset_minutes)
{
    int64_t year, month;

    civil_from_days(local_days(now_ms, offset_minutes), &year, &month);
    if (++month > 12) {
        month = 1;
        year++;
    }
    return utc_of_local_day(days_from_civil(year, month, 1), offset_minutes);
}

/* --- Buckets ---------------------------------------------------------- */

static void bucket_refill(qf_limiter_bucket *bucket, int64_t limit,
                          int64_t period_ms, int64_t now_ms)
{
    int64_t full = limit * period_ms;
    int64_t missing, elapsed;

    if (bucket->updated_ms <= 0) {
        bucket->level = full;
        bucket->updated_ms = now_ms;
        return;
    }
    if (now_ms > bucket->updated_ms) {
        elapsed = now_ms - bucket->updated_ms;
        missing = full - bucket->level;
        if (limit == 0 || missing <= 0 || elapsed >= missing / limit + 1)
            bucket->level = full;
        else
            bucket->level += elapsed * limit;
        bucket->updated_ms = now_ms;
    }
    if (bucket->level > full)
        bucket->level = full;
}

/* Milliseconds until `amount` fits, rounded up to whole seconds; 0 when it
 * fits now and -1 when it never fits. */
static int64_t bucket_wait(const qf_limiter_bucket *bucket, int64_t limit,
                           int64_t period_ms, int64_t amount)
{
    int64_t needed = amount * period_ms;
    int64_t deficit = needed - bucket->level;
    int64_t per_second = limit * 1000;

    if (deficit <= 0)
        return 0;
    if (amount > limit || per_second == 0)
        return -1;
    return (deficit + per_second - 1) / per_second * 1000;
}

int64_t qf_limiter_bucket_available(const qf_limiter_bucket *bucket,
                                    int64_t limit, int64_t period_ms,
                                    int64_t now_ms)
{
    qf_limiter_bucket copy = *bucket;

    if (limit < 0)
        return -1;
    bucket_refill(&copy, limit, period_ms, now_ms);
    return copy.level > 0 ? copy.level / period_ms : 0;
}

/* --- Budgets ---------------------------------------------------------- */

static void budget_roll(qf_limiter_budget *budget, int64_t period_start_ms)
{
    if (period_start_ms > budget->period_start_ms) {
        budget->period_start_ms = period_start_ms;
        budget->spent = 0;
    }
}

double qf_limiter_budget_spent(const qf_limiter_budget *budget,
                               int64_t period_start_ms)
{
    return budget->period_start_ms >= period_start_ms ? budget->spent : 0;
}

static int64_t seconds_until(int64_t now_ms, int64_t then_ms)
{
    int64_t ms = then_ms - now_ms;

    return (ms + 999) / 1000 * 1000;
}

static int64_t budget_wait(const qf_limiter_budget *budget, double limit,
                           double cost, int64_t now_ms, int64_t next_start_ms)
{
    if (limit < 0 || budget->spent + cost <= limit + COST_EPSILON)
        return 0;
    if (cost > limit + COST_EPSILON)
        return -1;
    return seconds_until(now_ms, next_start_ms);
}

/* --- Decisions -------------------------------------------------------- */

/* Keep the refusal that matters most: one no wait can fix, else the
 * longest wait. */
static void consider(qf_limiter_decision *out, qf_limit_kind limit,
                     int64_t wait_ms)
{
    if (wait_ms == 0 || (out->limit != QF_LIMIT_NONE && out->wait_ms < 0))
        return;
    if (out->limit == QF_LIMIT_NONE || wait_ms < 0 || wait_ms > out->wait_ms) {
        out->limit = limit;
        out->wait_ms = wait_ms;
    }
}

static void roll_budgets(const qf_limiter_limits *limits,
                         qf_limiter_state *state, int64_t now_ms)
{
    budget_roll(&state->day,
                qf_limiter_day_start(now_ms, limits->utc_offset_minutes));
    budget_roll(&state->month,
                qf_limiter_month_start(now_ms, limits->utc_offset_minutes));
}

static void refill_buckets(const qf_limiter_limits *limits,
                           qf_limiter_state *state, int64_t now_ms)
{
    if (limits->requests_per_minute >= 0)
        bucket_refill(&state->requests, limits->requests_per_minute,
                      QF_LIMITER_MS_PER_MINUTE, now_ms);
    if (limits->tokens_per_hour >= 0)
        bucket_refill(&state->tokens, limits->tokens_per_hour,
                      QF_LIMITER_MS_PER_HOUR, now_ms);
}

static void check_all(const qf_limiter_limits *limits,
                      const qf_limiter_state *state,
                      const qf_limiter_demand *demand, int64_t now_ms,
                      qf_limiter_decision *out)
{
    int32_t offset = limits->utc_offset_minutes;

    if (limits->requests_per_minute >= 0)
        consider(out, QF_LIMIT_REQUESTS_PER_MINUTE,
                 bucket_wait(&state->requests, limits->requests_per_minute,
                             QF_LIMITER_MS_PER_MINUTE, demand->requests));
    if (limits->tokens_per_hour >= 0)
        consider(out, QF_LIMIT_TOKENS_PER_HOUR,
                 bucket_wait(&state->tokens, limits->tokens_per_hour,
                             QF_LIMITER_MS_PER_HOUR, demand->tokens));
    consider(out, QF_LIMIT_COST_PER_DAY,
             budget_wait(&state->day, limits->cost_per_day, demand->cost,
                         now_ms,
                         state->day.period_start_ms + QF_LIMITER_MS_PER_DAY));
    consider(out, QF_LIMIT_COST_PER_MONTH,
             budget_wait(&state->month, limits->cost_per_month, demand->cost,
                         now_ms, qf_limiter_next_month_start(now_ms, offset)));
}

void qf_limiter_decide(const qf_limiter_limits *limits, qf_limiter_state *state,
                       const qf_limiter_demand *demand, int64_t now_ms,
                       qf_limiter_decision *out)
{
    *out = (qf_limiter_decision){0};
    refill_buckets(limits, state, now_ms);
    roll_budgets(limits, state, now_ms);

    check_all(limits, state, demand, now_ms, out);
    if (out->limit != QF_LIMIT_NONE)
        return;

    if (limits->requests_per_minute >= 0)
        state->requests.level -= demand->requests * QF_LIMITER_MS_PER_MINUTE;
    if (limits->tokens_per_hour >= 0)
        state->tokens.level -= demand->tokens * QF_LIMITER_MS_PER_HOUR;
    state->day.spent += demand->cost;
    state->month.spent += demand->cost;

    out->allowed = 1;
    out->reserved = *demand;
    out->day_start_ms = state->day.period_start_ms;
    out->month_start_ms = state->month.period_start_ms;
}

/* --- Settlement ------------------------------------------------------- */

static void bucket_settle(qf_limiter_bucket *bucket, int64_t limit,
                          int64_t period_ms, int64_t reserved, int64_t actual)
{
    bucket->level += (reserved - actual) * period_ms;
    if (bucket->level > limit * period_ms)
        bucket->level = limit * period_ms;
}

static void budget_settle(qf_limiter_budget *budget, int64_t reserved_start_ms,
                          double reserved, double actual)
{
    if (budget->period_start_ms == reserved_start_ms)
        budget->spent += actual - reserved;
    else
        budget->spent += actual;
    if (budget->spent < 0)
        budget->spent = 0;
}

void qf_limiter_settle(const qf_limiter_limits *limits, qf_limiter_state *state,
                       const qf_limiter_decision *reservation,
                       const qf_limiter_demand *actual, int64_t now_ms)
{
    const qf_limiter_demand *reserved = &reservation->reserved;

    refill_buckets(limits, state, now_ms);
    roll_budgets(limits, state, now_ms);

    if (limits->requests_per_minute >= 0)
        bucket_settle(&state->requests, limits->requests_per_minute,
                      QF_LIMITER_MS_PER_MINUTE, reserved->requests,
                      actual->requests);
    if (limits->tokens_per_hour >= 0)
        bucket_settle(&state->tokens, limits->tokens_per_hour,
                      QF_LIMITER_MS_PER_HOUR, reserved->tokens, actual->tokens);
    budget_settle(&state->day, reservation->day_start_ms, reserved->cost,
                  actual->cost);
    budget_settle(&state->month, reservation->month_start_ms, reserved->cost,
                  actual->cost);
}

/*
 * ledger.h - the cost ledger: one SQLite row per finished call, under the
 * state directory, shared by every process using it.
 */
#ifndef QF_CORE_LEDGER_H
#define QF_CORE_LEDGER_H

#include <stdint.h>

#include "qf/abi.h"

typedef struct qf_ledger qf_ledger;

typedef struct qf_ledger_row {
    int64_t time_ms; /* UTC, since the epoch */
    const char *role;
    const char *provider; /* provider instance name */
    const char *model;
    int64_t input_tokens;
    int64_t cached_tokens;
    int64_t output_tokens;
    int64_t images;
    double cost_usd;
    int cache_hit;
    int estimated;
    int unpriced;
    const char *status; /* qf_status_name of the call */
} qf_ledger_row;

/* Open or create <state_dir>/ledger.db. */
qf_status qf_ledger_open(const char *state_dir, qf_ledger **out, qf_error *err);
void qf_ledger_close(qf_ledger *ledger);

/* Append one row and commit it before returning; thread-safe. */
qf_status qf_ledger_record(qf_ledger *ledger, const qf_ledger_row *row,
                           qf_error *err);

/*
 * Queue one row (strings are copied) for a background thread that commits
 * queued rows together at least every 100 ms; thread-safe. For rows that
 * cost nothing, such as cache hits: a process killed before the next write
 * loses at most that interval's rows. qf_ledger_flush writes the queue now;
 * qf_ledger_close and qf_ledger_report flush it too.
 */
qf_status qf_ledger_record_deferred(qf_ledger *ledger, const qf_ledger_row *row,
                                    qf_error *err);
void qf_ledger_flush(qf_ledger *ledger);

/* --- Reports ------------------------------------------------------------ */

/* What report rows are grouped by. Days and months are UTC calendar days
 * and months, labelled "2026-12-04" and "2026-12". */
typedef enum qf_ledger_group {
    QF_LEDGER_BY_PROVIDER = 0,
    QF_LEDGER_BY_MODEL = 1,
    QF_LEDGER_BY_ROLE = 2,
    QF_LEDGER_BY_DAY = 3,
    QF_LEDGER_BY_MONTH = 4
} qf_ledger_group;

/* One group of a report. `key` is owned by the totals array. */
typedef struct qf_ledger_total {
    char *key;
    int64_t calls;
    int64_t input_tokens;
    int64_t cached_tokens;
    int64_t output_tokens;
    int64_t images;
    double cost_usd;
    int64_t cache_hits;
    int64_t estimated_calls;
    int64_t unpriced_calls;
    int64_t failed_calls; /* status other than "ok" */
} qf_ledger_total;

/* Parse "provider", "model", "role", "day" or "month"; -1 when unknown. */
int qf_ledger_group_parse(const char *name);
const char *qf_ledger_group_name(qf_ledger_group group);

/*
 * Totals of the rows with since_ms <= time_ms < until_ms, one per group,
 * sorted by key. Pass INT64_MIN and INT64_MAX for an open range. *out is a
 * malloc'd array of *count entries (NULL when empty); free it with
 * qf_ledger_totals_free. Safe to call while other threads record.
 */
qf_status qf_ledger_report(qf_ledger *ledger, qf_ledger_group group,
                           int64_t since_ms, int64_t until_ms,
                           qf_ledger_total **out, size_t *count, qf_error *err);
void qf_ledger_totals_free(qf_ledger_total *totals, size_t count);

#endif /* QF_CORE_LEDGER_H */

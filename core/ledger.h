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

/* Append one row; thread-safe. */
qf_status qf_ledger_record(qf_ledger *ledger, const qf_ledger_row *row,
                           qf_error *err);

#endif /* QF_CORE_LEDGER_H */

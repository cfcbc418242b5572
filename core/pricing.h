/*
 * pricing.h - the price table: USD per million input, cached-input and
 * output tokens per model, USD per image for image models, with aliases
 * (dated model names resolve to their family). The shipped table is a data
 * file; `pricing.<model>` in the configuration overrides or adds models.
 *
 * A loaded table is immutable and may be read from many threads.
 */
#ifndef QF_CORE_PRICING_H
#define QF_CORE_PRICING_H

#include "qf/abi.h"

#include "config.h"

typedef struct qf_pricing qf_pricing;

/* Load the shipped table and apply the configuration's `pricing` block
 * (cfg may be NULL). */
qf_status qf_pricing_open(const qf_config *cfg, qf_pricing **out,
                          qf_error *err);
void qf_pricing_free(qf_pricing *pricing);

/* Price of `model`, following aliases; QF_ERR_NOT_FOUND when unpriced. */
qf_status qf_pricing_lookup(const qf_pricing *pricing, const char *model,
                            qf_price *out);

/*
 * Cost of a call: (prompt - cached) x input + cached x cached-input +
 * completion x output, per million tokens, plus images x per-image. An
 * unpriced model costs 0 and sets *unpriced (warned once per model and
 * process).
 */
qf_status qf_pricing_cost(const qf_pricing *pricing, const char *model,
                          const qf_usage *usage, int64_t images, double *usd,
                          int *unpriced);

/*
 * Name of the table entry that prices `model`, or NULL when unpriced. The
 * lookup order is: an exact entry, an explicit alias, the longest entry
 * name followed by "-" and a date suffix (-YYYY-MM-DD or -MMDD), and for an
 * Ollama name with a ":tag" the name without the tag. The string belongs to
 * the table.
 */
const char *qf_pricing_resolve(const qf_pricing *pricing, const char *model);

/* Path of the table file that was loaded. */
const char *qf_pricing_source(const qf_pricing *pricing);

#endif /* QF_CORE_PRICING_H */

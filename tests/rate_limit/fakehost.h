/*
 * fakehost.h - a host services table for driving the rate_limit plugin
 * without the runtime: settings come from a JSON object, the clock is a
 * number the test sets (sleep_ms advances it), and pricing is the real
 * core price table.
 */
#ifndef QF_TEST_FAKEHOST_H
#define QF_TEST_FAKEHOST_H

#include <cjson/cJSON.h>

#include "qf/plugin.h"

#include "pricing.h"

#define FAKE_MAX_ITEMS 8

typedef struct fake_context {
    const char *name;
    const char *state_dir;
    cJSON *settings; /* owned by the test */
    int64_t now_ms;
    int64_t slept_ms;    /* total of sleep_ms calls */
    qf_pricing *pricing; /* owned by the test */
} fake_context;

typedef struct fake_request {
    qf_request_kind kind;
    const char *model;
    size_t message_count;
    const char *roles[FAKE_MAX_ITEMS];
    const char *contents[FAKE_MAX_ITEMS];
    size_t param_count;
    const char *param_names[FAKE_MAX_ITEMS];
    const char *param_values[FAKE_MAX_ITEMS]; /* JSON text */
    size_t option_count;
    const char *option_names[FAKE_MAX_ITEMS];
    const char *option_values[FAKE_MAX_ITEMS];
} fake_request;

typedef struct fake_response {
    qf_usage usage;
    int cache_hit;
    const char *model;
    size_t images;
} fake_response;

/* The fake services table; every function reads fake_context through ctx. */
const qf_host *fake_host(void);

/* The plugin's descriptor, from build/plugins/rate_limit.so. */
const qf_plugin_descriptor *fake_load_rate_limit(void);

#endif /* QF_TEST_FAKEHOST_H */

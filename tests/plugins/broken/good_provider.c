/*
 * good_provider.c - test plugin: a minimal provider that passes the
 * handshake. It declares three options (one required, one secret with a
 * default) so the registry's option schema can be checked exactly.
 */
#include "stub_provider.h"

static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_STREAM, NULL};

static const qf_option_spec options[] = {
    {sizeof(qf_option_spec), "model", QF_OPT_STRING, "sim-small", 0,
     "Model name sent upstream."},
    {sizeof(qf_option_spec), "api_key", QF_OPT_STRING, "not-a-real-key",
     QF_OPT_SECRET, "Bearer token."},
    {sizeof(qf_option_spec), "timeout_seconds", QF_OPT_INT, NULL,
     QF_OPT_REQUIRED, "Total timeout in seconds."},
};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "good_provider",
    "Good provider",
    "1.2.3",
    "A provider that answers nothing but loads cleanly.",
    QF_KIND_PROVIDER,
    capabilities,
    options,
    sizeof(options) / sizeof(options[0]),
    &stub_provider,
    NULL,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

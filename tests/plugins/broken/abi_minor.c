/*
 * abi_minor.c - test plugin: declares plugin ABI 1.99, newer than any 1.0 host.
 */
#include "stub_provider.h"

static const qf_plugin_descriptor descriptor = {
    sizeof(qf_plugin_descriptor),
    QF_ABI_MAJOR,
    99,
    QF_BUILD_TAG,
    0,
    "abi_minor",
    "ABI minor 99",
    "1.0.0",
    "A provider built for a newer minor ABI.",
    QF_KIND_PROVIDER,
    NULL,
    NULL,
    0,
    &stub_provider,
    NULL,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

/*
 * abi_major.c - test plugin: declares plugin ABI 2.0, which no 1.x host
 * accepts.
 */
#include "stub_provider.h"

static const qf_plugin_descriptor descriptor = {
    sizeof(qf_plugin_descriptor),
    2,
    0,
    QF_BUILD_TAG,
    0,
    "abi_major",
    "ABI major 2",
    "1.0.0",
    "A provider built for a future major ABI.",
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

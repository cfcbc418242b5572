/*
 * small_descriptor.c - test plugin: claims a descriptor of 16 bytes, smaller
 * than ABI 1.0's.
 */
#include "stub_provider.h"

static const qf_plugin_descriptor descriptor = {
    16,
    QF_ABI_MAJOR,
    QF_ABI_MINOR,
    QF_BUILD_TAG,
    0,
    "small_descriptor",
    "Small descriptor",
    "1.0.0",
    "A provider with a truncated descriptor.",
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

/*
 * build_tag.c - test plugin: declares a build tag for 32-bit pointers and ABI
 * revision 7.
 */
#include "stub_provider.h"

static const qf_plugin_descriptor descriptor = {
    sizeof(qf_plugin_descriptor),
    QF_ABI_MAJOR,
    QF_ABI_MINOR,
    (32u << 16) | 7u,
    0,
    "build_tag",
    "Wrong build tag",
    "1.0.0",
    "A provider built for another platform.",
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

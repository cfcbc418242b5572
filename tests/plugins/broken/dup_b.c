/*
 * dup_b.c - test plugin: second of two plugins with the id "dup" in one folder.
 */
#include "stub_provider.h"

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "dup",
    "Duplicate B",
    "1.0.0",
    "Second copy of the id dup.",
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

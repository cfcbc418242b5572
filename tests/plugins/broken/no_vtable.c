/*
 * no_vtable.c - test plugin: a provider whose descriptor has no provider
 * vtable.
 */
#include "qf/plugin.h"

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "no_vtable",
    "No vtable",
    "1.0.0",
    "A provider without its vtable.",
    QF_KIND_PROVIDER,
    NULL,
    NULL,
    0,
    NULL,
    NULL,
    NULL,
    NULL,
};

QF_PLUGIN_DEFINE(descriptor)

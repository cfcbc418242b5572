/*
 * bad_id.c - test plugin: declares the id "Bad-ID", outside [a-z0-9_].
 */
#include "stub_provider.h"

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "Bad-ID",
    "Bad id",
    "1.0.0",
    "A provider whose id has capitals and a dash.",
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

/* image_claim.c - a provider that claims "image" but has no
 * generate_image. */
#include "defect.h"

static const qf_provider_vtable vtable = {sizeof(qf_provider_vtable), ok_create,
                                          ok_destroy, ok_complete, NULL};

static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_IMAGE, NULL};

static const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER,
    0,
    "image_claim",
    "image_claim",
    "1.0.0",
    "A deliberately broken test plugin.",
    QF_KIND_PROVIDER,
    capabilities,
    NULL,
    0,
    &vtable,
    NULL,
    NULL,
    NULL};

QF_PLUGIN_DEFINE(descriptor)

/*
 * defect.h - well-behaved hooks shared by the deliberately broken test
 * plugins, so each plugin file holds only its one defect. Each plugin
 * includes this once; the functions stay file-local. CRASH writes through
 * a null pointer, as a real bug would.
 */
#ifndef QF_TEST_DEFECT_H
#define QF_TEST_DEFECT_H

#include <stdlib.h>
#include <unistd.h>

#include "qf/plugin.h"

#if defined(__GNUC__) || defined(__clang__)
#define DEFECT_UNUSED __attribute__((unused))
#else
#define DEFECT_UNUSED
#endif

#define CRASH() (*(volatile int *)(uintptr_t)0 = 1)
#define HANG()                                                                 \
    for (;;)                                                                   \
    pause()

DEFECT_UNUSED static qf_status ok_create(const qf_host *host, qf_context *ctx,
                                         void **instance, qf_error *err)
{
    (void)host;
    (void)ctx;
    (void)err;
    *instance = malloc(1);
    return QF_OK;
}

DEFECT_UNUSED static void ok_destroy(void *instance)
{
    free(instance);
}

DEFECT_UNUSED static qf_status ok_on_request(void *instance, void **state,
                                             qf_request *req, qf_response *resp,
                                             qf_error *err)
{
    (void)instance;
    (void)state;
    (void)req;
    (void)resp;
    (void)err;
    return QF_OK;
}

DEFECT_UNUSED static qf_status ok_complete(void *instance,
                                           const qf_request *req,
                                           qf_response *resp, qf_error *err)
{
    (void)instance;
    (void)req;
    (void)resp;
    (void)err;
    return QF_OK;
}

/* A middleware descriptor around `vtable`, with `options` (may be NULL). */
#define DEFECT_MIDDLEWARE(id, vtable, options, count)                          \
    static const qf_plugin_descriptor descriptor = {                           \
        QF_DESCRIPTOR_HEADER,                                                  \
        0,                                                                     \
        id,                                                                    \
        id,                                                                    \
        "1.0.0",                                                               \
        "A deliberately broken test plugin.",                                  \
        QF_KIND_MIDDLEWARE,                                                    \
        NULL,                                                                  \
        options,                                                               \
        count,                                                                 \
        NULL,                                                                  \
        &(vtable),                                                             \
        NULL,                                                                  \
        NULL};                                                                 \
    QF_PLUGIN_DEFINE(descriptor)

#endif /* QF_TEST_DEFECT_H */

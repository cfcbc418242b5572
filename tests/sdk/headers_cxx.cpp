/*
 * headers_cxx.cpp - compiles every SDK header as strict C++17 and defines
 * a plugin entry with the SDK macros, so C++ plugin authors can use them
 * unchanged. Built with -pedantic -Werror.
 */
#include <qf/abi.h>
#include <qf/host.h>
#include <qf/plugin.h>

namespace {

qf_status create(const qf_host *, qf_context *, void **instance, qf_error *)
{
    *instance = nullptr;
    return QF_OK;
}

void destroy(void *) {}

qf_status complete(void *, const qf_request *, qf_response *, qf_error *)
{
    return QF_OK;
}

const char *const capabilities[] = {QF_CAP_TEXT, nullptr};

const qf_provider_vtable vtable = {sizeof(qf_provider_vtable), create, destroy,
                                   complete, nullptr};

const qf_plugin_descriptor descriptor = {
    QF_DESCRIPTOR_HEADER, 0, "headers_cxx", "Headers in C++", "1.0.0",
    "Compiles the SDK headers as C++17.", QF_KIND_PROVIDER, capabilities,
    nullptr, 0, &vtable, nullptr, nullptr, nullptr};

} // namespace

QF_PLUGIN_DEFINE(descriptor)

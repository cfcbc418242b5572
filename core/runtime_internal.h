/*
 * runtime_internal.h - the runtime struct and the functions its parts
 * (runtime.c, route.c, chain.c) share.
 */
#ifndef QF_CORE_RUNTIME_INTERNAL_H
#define QF_CORE_RUNTIME_INTERNAL_H

#include "error.h"
#include "ledger.h"
#include "pricing.h"
#include "registry.h"
#include "route.h"

struct qf_runtime {
    const qf_config *config;
    qf_config *owned_config; /* loaded by the runtime itself, or NULL */
    char *state_dir;
    char **plugin_dirs;
    qf_registry *registry;
    qf_clock clock;
    pthread_mutex_t lock; /* recursive; guards the lists and lazy opens */
    qf_plugin **plugins;
    size_t plugin_count;
    qf_instance *instances; /* newest first */
    qf_route *routes;
    qf_pricing *pricing; /* opened on first use */
    qf_ledger *ledger;   /* opened on first use */
};

/* Find or create a shared instance (runtime.c). */
qf_status qf_runtime_instance(qf_runtime *rt, qf_plugin_kind kind,
                              const char *plugin_id, const qf_cnode *settings,
                              const char *name, qf_instance **out,
                              qf_error *err);

/* Check in the registry, without opening the file, that plugin `id` is
 * installed, usable and of `kind` (runtime.c). */
qf_status qf_runtime_plugin_entry(qf_runtime *rt, const char *id,
                                  qf_plugin_kind kind, const char *name,
                                  qf_registry_entry *entry, qf_error *err);

/* The route's provider instance, created on the first call that reaches
 * the provider (route.c). */
qf_status qf_route_provider(qf_runtime *rt, const qf_route *route,
                            qf_instance **out, qf_error *err);

/* The ledger, opened on first use (runtime.c). */
qf_status qf_runtime_ledger(qf_runtime *rt, qf_ledger **out, qf_error *err);

/* The route of `role`, resolved on first use and kept (route.c). */
qf_status qf_runtime_route(qf_runtime *rt, const char *role,
                           const qf_route **out, qf_error *err);
void qf_routes_free(qf_route *routes);

#endif /* QF_CORE_RUNTIME_INTERNAL_H */

/*
 * config_resolve.h - state shared by config_resolve.c (building a role
 * plan) and config_check.c (checking the values it uses). Internal.
 */
#ifndef QF_CORE_CONFIG_RESOLVE_H
#define QF_CORE_CONFIG_RESOLVE_H

#include "config_internal.h"

typedef struct resolver {
    const qf_config *cfg;
    const char *role;
    const qf_cnode *runtime;         /* runtime layer or NULL */
    const qf_cnode *role_node;       /* roles.<role>, NULL when absent */
    const char *section_name;        /* "text", "image" or "audio" */
    const qf_cnode *section;         /* providers.<section_name> */
    const qf_cnode *provider_choice; /* the node naming the provider block */
    qf_layer provider_layer;         /* layer of provider_choice */
    const qf_cnode *block;           /* providers.<section>.<name> */
    qf_role_plan *plan;
    qf_error *err;
} resolver;

/* Shared steps of config_resolve.c and config_chain.c. */
const qf_cnode *qf_resolve_defaults(void);
qf_status qf_resolve_merge_layer(qf_cnode **acc, const qf_cnode *over,
                                 qf_layer layer);
qf_status qf_resolve_nomem(resolver *rs);
qf_status qf_resolve_build_chain(resolver *rs);

/* A copy of map tagged with `layer`, without the keys listed in `skip`. */
qf_cnode *qf_resolve_copy_except(const qf_cnode *map, qf_layer layer,
                                 const char *const *skip);

/* A quoted, never-expanded scalar placed at `where` (may be NULL). */
qf_cnode *qf_resolve_scalar(const char *text, qf_layer layer,
                            const qf_cnode *where, const char *key_path);

/* Check the types of the merged provider settings, cache and rate_limit
 * maps, and of a role's request defaults. */
qf_status qf_resolve_check_provider(resolver *rs);
qf_status qf_resolve_check_cache(resolver *rs, const qf_cnode *cache);
qf_status qf_resolve_check_rate_limit(resolver *rs, const qf_cnode *limits);
qf_status qf_resolve_check_map(resolver *rs, const qf_cnode *node,
                               const char *expected);

/* True when a rate_limit map sets at least one limit. */
int qf_resolve_sets_limits(const qf_cnode *limits);

#endif /* QF_CORE_CONFIG_RESOLVE_H */

/*
 * config_chain.c - the middleware chain of a role. An explicit `chain:`
 * list is used in its order. Otherwise the chain is built from the merged
 * cache and rate_limit settings: the cache first, so that a cache hit
 * spends no rate limit, then one rate_limit entry per scope that sets
 * limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_resolve.h"

/* --- The chain -------------------------------------------------------- */

static qf_status add_entry(resolver *rs, const char *plugin, const char *scope,
                           qf_cnode *settings)
{
    qf_role_plan *plan = rs->plan;
    qf_chain_entry *grown, *entry;
    size_t len = strlen(plugin) + strlen(scope) + 24;
    int repeats = 0;

    grown = realloc(plan->chain, (plan->chain_len + 1) * sizeof(*grown));
    if (grown == NULL)
        goto fail;
    plan->chain = grown;
    entry = &plan->chain[plan->chain_len];
    memset(entry, 0, sizeof(*entry));
    entry->plugin_id = strdup(plugin);
    entry->name = malloc(len);
    if (entry->plugin_id == NULL || entry->name == NULL) {
        free(entry->plugin_id);
        free(entry->name);
        goto fail;
    }
    for (size_t i = 0; i < plan->chain_len; i++)
        repeats += strcmp(plan->chain[i].plugin_id, plugin) == 0;
    if (repeats > 0)
        snprintf(entry->name, len, "%s@%s#%d", plugin, scope, repeats + 1);
    else
        snprintf(entry->name, len, "%s@%s", plugin, scope);
    entry->settings = settings;
    plan->chain_len++;
    return QF_OK;

fail:
    qf_cnode_free(settings);
    return qf_resolve_nomem(rs);
}

/* The cache settings: built-in < global cache: < provider < role. */
static qf_status merged_cache(resolver *rs, const qf_cnode *provider,
                              const qf_cnode *role, qf_cnode **out)
{
    const qf_cnode *global = qf_cnode_get(rs->cfg->root, "cache");
    qf_cnode *cache;
    qf_status st = qf_resolve_check_cache(rs, global);

    *out = NULL;
    if (st == QF_OK)
        st = qf_resolve_check_cache(rs, provider);
    if (st == QF_OK)
        st = qf_resolve_check_cache(rs, role);
    if (st != QF_OK)
        return st;

    cache = qf_cnode_copy(qf_cnode_get(qf_resolve_defaults(), "cache"),
                          QF_LAYER_DEFAULT);
    if (cache == NULL ||
        qf_resolve_merge_layer(&cache, global, QF_LAYER_GLOBAL) != QF_OK ||
        qf_resolve_merge_layer(&cache, provider, QF_LAYER_PROVIDER) != QF_OK ||
        qf_resolve_merge_layer(&cache, role, QF_LAYER_ROLE) != QF_OK) {
        qf_cnode_free(cache);
        return qf_resolve_nomem(rs);
    }
    if (cache == NULL || cache->type != QF_CNODE_MAP) {
        qf_cnode_free(cache);
        cache = qf_cnode_create(QF_CNODE_MAP, QF_LAYER_DEFAULT, "<built-in>", 0,
                                0, "cache");
        if (cache == NULL)
            return qf_resolve_nomem(rs);
    }
    *out = cache;
    return QF_OK;
}

/* One item of an explicit chain: "id" or {plugin: id, ...settings}. */
static qf_status explicit_item(resolver *rs, const qf_cnode *item)
{
    static const char *const plugin_key[] = {"plugin", NULL};
    const qf_cnode *plugin =
        item->type == QF_CNODE_MAP ? qf_cnode_get(item, "plugin") : item;
    qf_cnode *own = NULL, *settings = NULL;
    char *id = NULL;
    qf_status st;

    if (plugin == NULL || plugin->type != QF_CNODE_SCALAR)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, item,
                             "chain item is %s; expected a plugin id such as "
                             "cache, or a map with plugin: and its settings",
                             item->type == QF_CNODE_MAP
                                 ? "a map without plugin:"
                                 : qf_cnode_type_phrase(item));
    st = qf_cnode_string(plugin, &id, rs->err);
    if (st != QF_OK)
        return st;
    if (item->type == QF_CNODE_MAP &&
        (own = qf_resolve_copy_except(item, QF_LAYER_ROLE, plugin_key)) == NULL)
        st = qf_resolve_nomem(rs);

    if (st == QF_OK && strcmp(id, "cache") == 0) {
        st = merged_cache(rs, NULL, own, &settings);
        /* A listed cache is on unless the item itself sets enabled. */
        if (st == QF_OK && qf_cnode_get(own, "enabled") == NULL &&
            qf_cnode_set(settings, "enabled", "true", NULL) != QF_OK)
            st = qf_resolve_nomem(rs);
    } else if (st == QF_OK) {
        settings = own != NULL ? own
                               : qf_cnode_create(QF_CNODE_MAP, QF_LAYER_ROLE,
                                                 item->file, item->line,
                                                 item->column, item->key_path);
        own = NULL;
        if (settings == NULL)
            st = qf_resolve_nomem(rs);
    }
    if (st == QF_OK && strcmp(id, "rate_limit") == 0)
        st = qf_resolve_check_rate_limit(rs, settings);
    if (st == QF_OK) {
        st = add_entry(rs, id, rs->role, settings);
        settings = NULL;
    }
    free(id);
    qf_cnode_free(own);
    qf_cnode_free(settings);
    return st;
}

/* A rate_limit entry for one scope, when that scope sets limits. */
static qf_status rate_entry(resolver *rs, const qf_cnode *limits,
                            qf_layer layer, const char *scope,
                            const char *scope_id)
{
    qf_cnode *settings;
    qf_status st = qf_resolve_check_rate_limit(rs, limits);

    if (st != QF_OK || limits == NULL || !qf_resolve_sets_limits(limits))
        return st;
    settings = qf_cnode_copy(limits, layer);
    if (settings == NULL ||
        qf_cnode_set(settings, "scope", scope, NULL) != QF_OK ||
        qf_cnode_set(settings, "scope_id", scope_id, NULL) != QF_OK) {
        qf_cnode_free(settings);
        return qf_resolve_nomem(rs);
    }
    /* scope_id is a name even when it looks like a number. */
    ((qf_cnode *)qf_cnode_get(settings, "scope_id"))->quoted = 1;
    return add_entry(rs, "rate_limit", scope_id, settings);
}

/*
 * Without `chain:`: a cache entry when the merged cache settings enable it,
 * then one rate_limit entry per scope that sets limits, provider scope
 * first. The cache comes first so that a hit spends no rate limit.
 */
static qf_status implicit_chain(resolver *rs)
{
    const qf_cnode *role_cache = qf_cnode_get(rs->role_node, "cache");
    qf_cnode *cache = NULL;
    const qf_cnode *enabled;
    int on = 0;
    qf_status st =
        merged_cache(rs, qf_cnode_get(rs->block, "cache"), role_cache, &cache);

    if (st != QF_OK)
        return st;
    enabled = qf_cnode_get(cache, "enabled");
    if (enabled != NULL && enabled->type != QF_CNODE_NULL)
        st = qf_cnode_bool(enabled, &on, rs->err);
    if (st == QF_OK && on) {
        st = add_entry(rs, "cache",
                       role_cache != NULL ? rs->role : rs->plan->provider_name,
                       cache);
        cache = NULL;
    }
    qf_cnode_free(cache);

    if (st == QF_OK)
        st = rate_entry(rs, qf_cnode_get(rs->block, "rate_limit"),
                        QF_LAYER_PROVIDER, "provider", rs->plan->provider_name);
    if (st == QF_OK)
        st = rate_entry(rs, qf_cnode_get(rs->role_node, "rate_limit"),
                        QF_LAYER_ROLE, "role", rs->role);
    return st;
}

qf_status qf_resolve_build_chain(resolver *rs)
{
    const qf_cnode *chain = qf_cnode_get(rs->role_node, "chain");

    if (chain == NULL || chain->type == QF_CNODE_NULL)
        return implicit_chain(rs);
    if (chain->type != QF_CNODE_LIST)
        return qf_cnode_fail(rs->err, QF_ERR_CONFIG, chain,
                             "value is %s; expected a list of middleware "
                             "such as [cache, rate_limit]",
                             qf_cnode_type_phrase(chain));
    for (size_t i = 0; i < chain->count; i++) {
        qf_status st = explicit_item(rs, chain->items[i]);

        if (st != QF_OK)
            return st;
    }
    return QF_OK;
}

/*
 * serve_reload.c - generations of the gateway's configuration. A
 * generation is one loaded file with its runtime, role names and client
 * keys, shared by reference count. SIGHUP loads a new generation and swaps
 * it in under the server lock. Requests in flight keep the old one, which
 * is closed when its last reference goes. A file that fails to load leaves
 * the current generation in place.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "serve_internal.h"

/* Resolve every role. A built-in role that does not resolve (an image
 * role without providers.image, say) is left out of the served roles. A
 * role written under roles: that does not resolve stays, and /readyz
 * reports it. */
static void check_roles(serve_generation *gen)
{
    const qf_config *cfg = qf_runtime_config(gen->rt);
    const qf_cnode *configured = qf_cnode_get(qf_config_root(cfg), "roles");
    size_t kept = 0;

    for (size_t i = 0; gen->roles[i] != NULL; i++) {
        qf_role_plan *plan = NULL;
        qf_error err;

        qf_error_init(&err);
        if (qf_config_resolve_role(cfg, gen->roles[i], NULL, &plan, &err) ==
            QF_OK) {
            qf_role_plan_free(plan);
            gen->roles[kept++] = gen->roles[i];
            continue;
        }
        if (qf_cnode_get(configured, gen->roles[i]) == NULL) {
            qf_log(QF_LOG_INFO, "serve", "not serving built-in role %s: %s",
                   gen->roles[i], err.message);
            free(gen->roles[i]);
            continue;
        }
        qf_log(QF_LOG_WARN, "serve", "role %s does not resolve: %s",
               gen->roles[i], err.message);
        if (gen->not_ready == NULL &&
            asprintf(&gen->not_ready, "role %s does not resolve: %s",
                     gen->roles[i], err.message) < 0)
            gen->not_ready = NULL;
        gen->roles[kept++] = gen->roles[i];
    }
    gen->roles[kept] = NULL;
}

static void generation_free(serve_generation *gen)
{
    if (gen == NULL)
        return;
    serve_keys_free(gen);
    if (gen->roles != NULL)
        qf_config_strings_free(gen->roles);
    free(gen->not_ready);
    serve_settings_clear(&gen->settings);
    qf_runtime_close(gen->rt);
    free(gen);
}

qf_status serve_generation_load(const char *path, serve_generation **out,
                                qf_error *err)
{
    serve_generation *gen = calloc(1, sizeof(*gen));
    qf_runtime_options options = {0};
    const qf_config *cfg;

    if (gen == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    atomic_init(&gen->refs, 1);
    options.config_path = path;
    if (qf_runtime_open(&options, &gen->rt, err) != QF_OK)
        goto fail;
    cfg = qf_runtime_config(gen->rt);
    if (serve_settings_parse(cfg, &gen->settings, err) != QF_OK ||
        serve_keys_parse(cfg, gen, err) != QF_OK ||
        qf_config_role_names(cfg, &gen->roles, err) != QF_OK)
        goto fail;
    check_roles(gen);
    *out = gen;
    return QF_OK;

fail:
    generation_free(gen);
    return err->status;
}

serve_generation *serve_generation_acquire(serve_server *server)
{
    serve_generation *gen;

    pthread_mutex_lock(&server->lock);
    gen = server->current;
    atomic_fetch_add(&gen->refs, 1);
    pthread_mutex_unlock(&server->lock);
    return gen;
}

void serve_generation_release(serve_generation *gen)
{
    if (gen != NULL && atomic_fetch_sub(&gen->refs, 1) == 1)
        generation_free(gen);
}

int serve_generation_has_role(const serve_generation *gen, const char *role)
{
    for (size_t i = 0; gen->roles[i] != NULL; i++) {
        if (strcmp(gen->roles[i], role) == 0)
            return 1;
    }
    return 0;
}

void serve_reload(serve_server *server)
{
    serve_generation *fresh = NULL, *old;
    qf_error err;

    qf_error_init(&err);
    if (serve_generation_load(server->config_path, &fresh, &err) != QF_OK) {
        qf_log(QF_LOG_ERROR, "serve",
               "reload of %s failed, keeping the running configuration: %s",
               server->config_path, err.message);
        serve_metrics_count(server->metrics, "qf_gateway_config_reloads_total",
                            "result=\"failed\"", 1);
        return;
    }
    if (fresh->key_count == 0 &&
        !serve_host_is_loopback(server->settings.host)) {
        qf_log(QF_LOG_ERROR, "serve",
               "reload of %s rejected, keeping the running configuration: "
               "it has no gateway.keys but the server listens on %s, which "
               "is not a loopback address",
               server->config_path, server->settings.host);
        serve_generation_release(fresh);
        serve_metrics_count(server->metrics, "qf_gateway_config_reloads_total",
                            "result=\"failed\"", 1);
        return;
    }

    pthread_mutex_lock(&server->lock);
    old = server->current;
    server->current = fresh;
    pthread_mutex_unlock(&server->lock);
    serve_generation_release(old);

    qf_log(QF_LOG_INFO, "serve", "reloaded %s", server->config_path);
    serve_metrics_count(server->metrics, "qf_gateway_config_reloads_total",
                        "result=\"ok\"", 1);
}

/*
 * route.h - the runtime's internal objects: plugin instances, their host
 * contexts, and routes (a role resolved to its chain of instances).
 *
 * Instances and routes live until the runtime is closed. Instances with the
 * same sharing key are created once and used by every route that needs
 * them.
 */
#ifndef QF_CORE_ROUTE_H
#define QF_CORE_ROUTE_H

#include <pthread.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "loader.h"
#include "request.h"
#include "runtime.h"

/* The host side of one plugin instance. */
struct qf_context {
    qf_runtime *rt;
    char *name;           /* "openai", "cache@plotwright" */
    qf_cnode *settings;   /* owned copy of the instance's settings */
    pthread_mutex_t lock; /* guards texts */
    qf_text_node *texts;  /* strings handed out by config_string */
};

typedef struct qf_instance {
    struct qf_instance *next;
    char *key; /* sharing key: kind, plugin id and settings */
    qf_plugin_kind kind;
    const qf_plugin *plugin;
    qf_context *ctx;
    void *handle; /* the plugin's own instance */
    int serial;   /* QF_PLUGIN_SERIAL: calls take `lock` */
    pthread_mutex_t lock;
} qf_instance;

typedef struct qf_route {
    struct qf_route *next;
    char *role;
    qf_request_kind kind;
    char *provider_name;
    char *provider_plugin;
    qf_cnode *provider_node;  /* settings the provider instance is made with */
    qf_instance *provider;    /* created on the first call that needs it */
    cJSON *provider_settings; /* expanded, for request_provider_setting */
    size_t chain_len;
    qf_instance **chain;
    char *model;         /* NULL when unset */
    char *system_prompt; /* NULL when unset */
    cJSON *params;
    cJSON *options;
} qf_route;

/* Fill the host table's context, config, clock, hashing, pricing and
 * backend slots (host_services.c). */
void qf_host_services_fill(qf_host *host);

/* Create a context for an instance; settings are copied. */
qf_context *qf_context_new(qf_runtime *rt, const char *name,
                           const qf_cnode *settings);
void qf_context_free(qf_context *ctx);

/* Runtime pieces the host services reach (runtime.c). */
const qf_clock *qf_runtime_clock(const qf_runtime *rt);
qf_status qf_runtime_price(qf_runtime *rt, const char *model, qf_price *out);
qf_status qf_runtime_cost(qf_runtime *rt, const char *model,
                          const qf_usage *usage, int64_t images, double *usd,
                          int *unpriced);

#endif /* QF_CORE_ROUTE_H */

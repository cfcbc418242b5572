/*
 * runtime.c - opening and closing a runtime, loading the plugins the
 * configuration uses, and creating shared plugin instances.
 *
 * Plugins are found through the registry (refreshed on open) and opened
 * only when a route needs them. One recursive lock guards the plugin,
 * instance and route lists: creating a cache middleware may open its
 * backend from inside its own create hook.
 */
#include "runtime_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "json_canon.h"
#include "log.h"

static qf_host host_table;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_table_init(void)
{
    qf_host_services_fill(&host_table);
    qf_request_fill_host(&host_table);
}

const qf_host *qf_runtime_host(const qf_runtime *rt)
{
    pthread_once(&host_once, host_table_init);
    return &host_table;
}

/* --- System clock ---------------------------------------------------- */

static int64_t system_now_ms(void *user)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t system_monotonic_ns(void *user)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void system_sleep_ms(void *user, int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const qf_clock system_clock = {system_now_ms, system_monotonic_ns,
                                      system_sleep_ms, NULL};

const qf_clock *qf_runtime_clock(const qf_runtime *rt)
{
    return &rt->clock;
}

/* --- Open and close -------------------------------------------------- */

/* mkdir -p with mode 0700 for every folder created. */
static qf_status make_dirs(const char *path, qf_error *err)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len >= sizeof(buf))
        return qf_error_set(err, QF_ERR_IO, "path too long: %s", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return qf_error_set(err, QF_ERR_IO,
                                "cannot create state directory %s: %s; check "
                                "its parent's permissions or set state_dir",
                                buf, strerror(errno));
        buf[i] = path[i];
    }
    return QF_OK;
}

static qf_status open_config(qf_runtime *rt, const qf_runtime_options *options,
                             qf_error *err)
{
    char *path = NULL;
    qf_status status;

    if (options != NULL && options->config != NULL) {
        rt->config = options->config;
        return QF_OK;
    }
    status = qf_config_find(options ? options->config_path : NULL, &path, err);
    if (status == QF_ERR_NOT_FOUND)
        err->status = status = QF_ERR_CONFIG; /* a usage problem: exit 2 */
    if (status != QF_OK)
        return status;
    rt->owned_config = qf_config_load(path, err);
    free(path);
    if (rt->owned_config == NULL)
        return err->status != QF_OK ? err->status : QF_ERR_CONFIG;
    rt->config = rt->owned_config;
    return QF_OK;
}

static qf_status open_registry(qf_runtime *rt, int scan, qf_error *err)
{
    char **configured = NULL;
    char *db_path = NULL;
    qf_status status;

    status = qf_config_plugin_dirs(rt->config, &configured, err);
    if (status == QF_OK)
        status = qf_loader_search_dirs(configured, &rt->plugin_dirs, err);
    qf_config_strings_free(configured);
    if (status != QF_OK)
        return status;

    if (asprintf(&db_path, "%s/registry.db", rt->state_dir) < 0)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    status = qf_registry_open(db_path, &rt->registry, err);
    free(db_path);
    if (status != QF_OK || !scan)
        return status;

    /* A duplicate plugin id fails only the plugins it names, when a route
     * needs them; other plugins stay usable. */
    status = qf_registry_scan(rt->registry, rt->plugin_dirs, 0, NULL, err);
    if (status == QF_ERR_CONFIG) {
        qf_log(QF_LOG_WARN, "registry", "%s", err->message);
        qf_error_init(err);
        status = QF_OK;
    }
    return status;
}

qf_status qf_runtime_open(const qf_runtime_options *options, qf_runtime **out,
                          qf_error *err)
{
    qf_runtime *rt = calloc(1, sizeof(*rt));
    pthread_mutexattr_t attr;
    qf_status status;

    if (rt == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rt->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    rt->clock = options && options->clock ? *options->clock : system_clock;
    qf_runtime_host(rt);

    status = open_config(rt, options, err);
    if (status == QF_OK)
        status = qf_config_state_dir(rt->config, &rt->state_dir, err);
    if (status == QF_OK)
        status = make_dirs(rt->state_dir, err);
    if (status == QF_OK)
        status =
            open_registry(rt, !(options && options->no_registry_scan), err);
    if (status != QF_OK) {
        qf_runtime_close(rt);
        return status;
    }
    *out = rt;
    return QF_OK;
}

static void destroy_instance(qf_instance *inst)
{
    const qf_plugin_descriptor *d = inst->plugin->descriptor;

    switch (inst->kind) {
    case QF_KIND_PROVIDER: d->provider->destroy(inst->handle); break;
    case QF_KIND_MIDDLEWARE: d->middleware->destroy(inst->handle); break;
    case QF_KIND_CACHE_BACKEND: d->cache_backend->destroy(inst->handle); break;
    }
    qf_context_free(inst->ctx);
    pthread_mutex_destroy(&inst->lock);
    free(inst->key);
    free(inst);
}

void qf_runtime_close(qf_runtime *rt)
{
    if (rt == NULL)
        return;
    qf_routes_free(rt->routes);

    /* Newest first: a middleware is destroyed before the backend it opened. */
    while (rt->instances != NULL) {
        qf_instance *next = rt->instances->next;

        destroy_instance(rt->instances);
        rt->instances = next;
    }
    for (size_t i = 0; i < rt->plugin_count; i++)
        qf_plugin_free(rt->plugins[i]);
    free(rt->plugins);
    if (rt->ledger != NULL)
        qf_ledger_close(rt->ledger);
    if (rt->pricing != NULL)
        qf_pricing_free(rt->pricing);
    if (rt->registry != NULL)
        qf_registry_close(rt->registry);
    qf_config_strings_free(rt->plugin_dirs);
    qf_config_free(rt->owned_config);
    free(rt->state_dir);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

const qf_config *qf_runtime_config(const qf_runtime *rt)
{
    return rt->config;
}

const char *qf_runtime_state_dir(const qf_runtime *rt)
{
    return rt->state_dir;
}

/* --- Pricing and ledger ---------------------------------------------- */

static qf_status ensure_pricing(qf_runtime *rt, qf_error *err)
{
    qf_status status = QF_OK;

    pthread_mutex_lock(&rt->lock);
    if (rt->pricing == NULL)
        status = qf_pricing_open(rt->config, &rt->pricing, err);
    pthread_mutex_unlock(&rt->lock);
    return status;
}

qf_status qf_runtime_price(qf_runtime *rt, const char *model, qf_price *out)
{
    qf_error err;

    qf_error_init(&err);
    if (ensure_pricing(rt, &err) != QF_OK) {
        qf_log(QF_LOG_ERROR, "pricing", "%s", err.message);
        return err.status;
    }
    return qf_pricing_lookup(rt->pricing, model, out);
}

qf_status qf_runtime_cost(qf_runtime *rt, const char *model,
                          const qf_usage *usage, int64_t images, double *usd,
                          int *unpriced)
{
    qf_error err;

    qf_error_init(&err);
    if (ensure_pricing(rt, &err) != QF_OK) {
        qf_log(QF_LOG_ERROR, "pricing", "%s", err.message);
        return err.status;
    }
    return qf_pricing_cost(rt->pricing, model, usage, images, usd, unpriced);
}

qf_status qf_runtime_ledger(qf_runtime *rt, qf_ledger **out, qf_error *err)
{
    qf_status status = QF_OK;

    pthread_mutex_lock(&rt->lock);
    if (rt->ledger == NULL)
        status = qf_ledger_open(rt->state_dir, &rt->ledger, err);
    pthread_mutex_unlock(&rt->lock);
    *out = rt->ledger;
    return status;
}

/* --- Plugins --------------------------------------------------------- */

static qf_status file_sha256(const char *path, char hex[65], qf_error *err)
{
    unsigned char digest[32], buf[65536];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL || md == NULL) {
        if (f)
            fclose(f);
        EVP_MD_CTX_free(md);
        return qf_error_set(err, QF_ERR_IO, "cannot read %s: %s", path,
                            strerror(errno));
    }
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    fclose(f);
    for (int i = 0; i < 32; i++)
        snprintf(hex + i * 2, 3, "%02x", digest[i]);
    return QF_OK;
}

/* Check the file against plugin_pins.<id> of the configuration, if any. */
static qf_status check_pin(qf_runtime *rt, const char *id, const char *path,
                           qf_error *err)
{
    const qf_cnode *pins =
        qf_cnode_get(qf_config_root(rt->config), "plugin_pins");
    const qf_cnode *pin = pins ? qf_cnode_get(pins, id) : NULL;
    char *expected = NULL, actual[65];
    qf_status status;

    if (pin == NULL)
        return QF_OK;
    status = qf_cnode_string(pin, &expected, err);
    if (status == QF_OK)
        status = file_sha256(path, actual, err);
    if (status == QF_OK && strcasecmp(expected, actual) != 0)
        status = qf_error_set(err, QF_ERR_ABI,
                              "%s:%d:%d: plugin_pins.%s: %s has SHA-256 %s, "
                              "the pin expects %s; reinstall the plugin or "
                              "update the pin",
                              qf_cnode_file(pin), qf_cnode_line(pin),
                              qf_cnode_column(pin), id, path, actual, expected);
    free(expected);
    return status;
}

static const char *const kind_names[] = {"", "provider", "middleware",
                                         "cache backend"};
static const char *const kind_ids[] = {"", "provider", "middleware",
                                       "cache_backend"};

/* Look `id` up in the registry (no file is opened) and check that it is
 * usable as a `kind` plugin; `name` is the configuration entry using it. */
qf_status qf_runtime_plugin_entry(qf_runtime *rt, const char *id,
                                  qf_plugin_kind kind, const char *name,
                                  qf_registry_entry *entry, qf_error *err)
{
    qf_status status = qf_registry_find(rt->registry, id, entry, err);

    if (status == QF_ERR_NOT_FOUND)
        return qf_error_set(err, QF_ERR_CONFIG,
                            "plugin \"%s\" is not installed: no plugin file "
                            "in the plugin directories declares it; build or "
                            "install it, add its folder to plugin_dirs or "
                            "QF_PLUGIN_PATH, then run 'qf plugins scan'",
                            id);
    if (status != QF_OK)
        return status;
    if (strcmp(entry->status, "ok") != 0)
        return qf_error_set(err, QF_ERR_ABI, "plugin \"%s\" (%s) is %s: %s", id,
                            entry->path, entry->status,
                            entry->error ? entry->error : "no detail");
    if (entry->kind == NULL || strcmp(entry->kind, kind_ids[kind]) != 0)
        return qf_error_set(err, QF_ERR_CONFIG,
                            "%s: plugin \"%s\" is a %s, but it is used here "
                            "as a %s; name a %s plugin instead",
                            name, id, entry->kind ? entry->kind : "plugin",
                            kind_names[kind], kind_names[kind]);
    return QF_OK;
}

static qf_status load_plugin(qf_runtime *rt, const char *id,
                             qf_plugin_kind kind, const char *name,
                             const qf_plugin **out, qf_error *err)
{
    qf_registry_entry entry = {0};
    qf_plugin *plugin = NULL, **grown;
    qf_status status;

    for (size_t i = 0; i < rt->plugin_count; i++) {
        if (strcmp(rt->plugins[i]->descriptor->id, id) == 0) {
            *out = rt->plugins[i];
            return QF_OK;
        }
    }

    status = qf_runtime_plugin_entry(rt, id, kind, name, &entry, err);
    if (status == QF_OK)
        status = check_pin(rt, id, entry.path, err);
    if (status == QF_OK)
        status = qf_loader_open(entry.path, &plugin, err);
    if (status != QF_OK)
        goto out;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    grown = realloc(rt->plugins, (rt->plugin_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        qf_plugin_free(plugin);
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
        goto out;
    }
    rt->plugins = grown;
    rt->plugins[rt->plugin_count++] = plugin;
    *out = plugin;
out:
    qf_registry_entry_clear(&entry);
    return status;
}

/* --- Instances ------------------------------------------------------- */

static qf_status instance_key(qf_plugin_kind kind, const char *plugin_id,
                              const qf_cnode *settings, char **out,
                              qf_error *err)
{
    char *json = NULL, *canonical = NULL;
    qf_status status = QF_OK;

    if (settings != NULL)
        status = qf_cnode_to_json(settings, &json, err);
    if (status == QF_OK && json != NULL)
        status =
            qf_json_canonicalize(json, strlen(json), &canonical, NULL, err);
    if (status == QF_OK && asprintf(out, "%d:%s:%s", (int)kind, plugin_id,
                                    canonical ? canonical : "{}") < 0)
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    free(json);
    free(canonical);
    return status;
}

static const void *kind_vtable(const qf_plugin_descriptor *d,
                               qf_plugin_kind kind)
{
    switch (kind) {
    case QF_KIND_PROVIDER: return d->provider;
    case QF_KIND_MIDDLEWARE: return d->middleware;
    case QF_KIND_CACHE_BACKEND: return d->cache_backend;
    }
    return NULL;
}

static qf_status create_instance(qf_runtime *rt, qf_instance *inst,
                                 qf_error *err)
{
    const qf_plugin_descriptor *d = inst->plugin->descriptor;
    const qf_host *host = qf_runtime_host(rt);

    switch (inst->kind) {
    case QF_KIND_PROVIDER:
        return d->provider->create(host, inst->ctx, &inst->handle, err);
    case QF_KIND_MIDDLEWARE:
        return d->middleware->create(host, inst->ctx, &inst->handle, err);
    case QF_KIND_CACHE_BACKEND:
        return d->cache_backend->create(host, inst->ctx, &inst->handle, err);
    }
    return QF_ERR_INTERNAL;
}

static qf_instance *find_instance(qf_runtime *rt, const char *key)
{
    for (qf_instance *inst = rt->instances; inst != NULL; inst = inst->next) {
        if (strcmp(inst->key, key) == 0)
            return inst;
    }
    return NULL;
}

static qf_status new_instance(qf_runtime *rt, qf_plugin_kind kind,
                              const char *plugin_id, const qf_cnode *settings,
                              const char *name, char *key, qf_instance **out,
                              qf_error *err)
{
    qf_instance *inst;
    const qf_plugin *plugin = NULL;
    qf_status status = load_plugin(rt, plugin_id, kind, name, &plugin, err);

    if (status != QF_OK)
        return status;
    if (plugin->descriptor->kind != kind)
        return qf_error_set(err, QF_ERR_CONFIG,
                            "%s: plugin \"%s\" is a %s, but it is used here as "
                            "a %s; name a %s plugin instead",
                            name, plugin_id,
                            kind_names[plugin->descriptor->kind],
                            kind_names[kind], kind_names[kind]);

    inst = calloc(1, sizeof(*inst));
    if (inst == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    inst->kind = kind;
    inst->plugin = plugin;
    inst->serial = (plugin->descriptor->flags & QF_PLUGIN_SERIAL) != 0;
    pthread_mutex_init(&inst->lock, NULL);
    inst->ctx = qf_context_new(rt, name, settings);
    if (inst->ctx == NULL)
        status = qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    if (status == QF_OK)
        status = create_instance(rt, inst, err);
    if (status != QF_OK) {
        /* A failed create is never followed by destroy. */
        qf_context_free(inst->ctx);
        pthread_mutex_destroy(&inst->lock);
        free(inst);
        return status;
    }
    inst->key = key;
    inst->next = rt->instances;
    rt->instances = inst;
    *out = inst;
    qf_log(QF_LOG_DEBUG, name, "created %s instance of plugin %s",
           kind_names[kind], plugin_id);
    return QF_OK;
}

qf_status qf_runtime_instance(qf_runtime *rt, qf_plugin_kind kind,
                              const char *plugin_id, const qf_cnode *settings,
                              const char *name, qf_instance **out,
                              qf_error *err)
{
    char *key = NULL;
    qf_status status = instance_key(kind, plugin_id, settings, &key, err);

    if (status != QF_OK)
        return status;
    pthread_mutex_lock(&rt->lock);
    *out = find_instance(rt, key);
    if (*out == NULL) {
        status =
            new_instance(rt, kind, plugin_id, settings, name, key, out, err);
        if (status != QF_OK)
            free(key);
    } else {
        free(key);
    }
    pthread_mutex_unlock(&rt->lock);
    return status;
}

qf_status qf_runtime_open_instance(qf_runtime *rt, qf_plugin_kind kind,
                                   const char *plugin_id,
                                   const qf_cnode *settings, const char *name,
                                   const void **vtable, void **instance,
                                   qf_error *err)
{
    qf_instance *inst = NULL;
    qf_status status =
        qf_runtime_instance(rt, kind, plugin_id, settings, name, &inst, err);

    if (status != QF_OK)
        return status;
    *vtable = kind_vtable(inst->plugin->descriptor, kind);
    *instance = inst->handle;
    return QF_OK;
}

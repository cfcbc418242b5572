/*
 * cmd_plugins_new.c - `qf plugins new NAME --kind KIND [--dir DIR]`: write
 * a small plugin project (source, CMakeLists.txt using
 * find_package(QuestFoundryPlugin), a test and a README) that builds
 * against the installed SDK. The templates below are the project's files
 * with @ID@ and a few other tokens replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include "qf.h"

#define NAME_MAX_LEN 64

/* --- Templates ------------------------------------------------------ */

/* Kept one source line per string line, so the templates read as the
 * files they produce. */
/* clang-format off */
static const char provider_source[] =
    "/*\n"
    " * @ID@.c - a provider plugin for QuestFoundry, made by `qf plugins new`.\n"
    " *\n"
    " * It answers each text request with the last message of the request,\n"
    " * after the text of its \"prefix\" option. Replace answer() with the call\n"
    " * to your model. Threads: the host may call complete() from several\n"
    " * threads at once on one instance; the instance is read-only after\n"
    " * create(), so that is safe.\n"
    " */\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <qf/plugin.h>\n"
    "\n"
    "/* One configured instance, made by create() and freed by destroy(). */\n"
    "typedef struct @ID@ {\n"
    "    const qf_host *host; /* valid until destroy() returns */\n"
    "    qf_context *ctx;     /* valid until destroy() returns */\n"
    "    const char *prefix;  /* owned by the host, valid until destroy() */\n"
    "} @ID@;\n"
    "\n"
    "static qf_status create(const qf_host *host, qf_context *ctx, void **instance,\n"
    "                        qf_error *err)\n"
    "{\n"
    "    @ID@ *self = calloc(1, sizeof(*self));\n"
    "    qf_status status;\n"
    "\n"
    "    if (self == NULL)\n"
    "        return host->error_set(err, QF_ERR_NOMEM, \"@ID@: out of memory\");\n"
    "    self->host = host;\n"
    "    self->ctx = ctx;\n"
    "    self->prefix = \"\";\n"
    "\n"
    "    /* NOT_FOUND means the key is absent: keep the default. Any other\n"
    "     * error already names the file, line and key on err. */\n"
    "    status = host->config_string(ctx, \"prefix\", &self->prefix, err);\n"
    "    if (status != QF_OK && status != QF_ERR_NOT_FOUND) {\n"
    "        free(self);\n"
    "        return status;\n"
    "    }\n"
    "    *instance = self;\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static void destroy(void *instance)\n"
    "{\n"
    "    free(instance);\n"
    "}\n"
    "\n"
    "/* Build the answer in *out (allocated with host->alloc). */\n"
    "static qf_status answer(const @ID@ *self, const qf_request *req, char **out,\n"
    "                        size_t *out_len, size_t *prompt_len, qf_error *err)\n"
    "{\n"
    "    const qf_host *h = self->host;\n"
    "    size_t count = h->request_message_count(req);\n"
    "    size_t prefix_len = strlen(self->prefix);\n"
    "    const char *text = \"\";\n"
    "    size_t len = 0;\n"
    "\n"
    "    if (count > 0)\n"
    "        h->request_message(req, count - 1, NULL, &text, &len);\n"
    "    *out = h->alloc(prefix_len + len + 1);\n"
    "    if (*out == NULL)\n"
    "        return h->error_set(err, QF_ERR_NOMEM,\n"
    "                            \"@ID@: out of memory for a %zu-byte answer\",\n"
    "                            prefix_len + len);\n"
    "    memcpy(*out, self->prefix, prefix_len);\n"
    "    if (len > 0)\n"
    "        memcpy(*out + prefix_len, text, len);\n"
    "    *out_len = prefix_len + len;\n"
    "    *prompt_len = len;\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static qf_status complete(void *instance, const qf_request *req,\n"
    "                          qf_response *resp, qf_error *err)\n"
    "{\n"
    "    const @ID@ *self = instance;\n"
    "    const qf_host *h = self->host;\n"
    "    qf_usage usage = {sizeof(usage), 0, 0, 0, 1};\n"
    "    char *text = NULL;\n"
    "    size_t len = 0, prompt_len = 0;\n"
    "    qf_status status = answer(self, req, &text, &len, &prompt_len, err);\n"
    "\n"
    "    if (status != QF_OK)\n"
    "        return status;\n"
    "\n"
    "    /* A streamed request gets its text through stream_write, which also\n"
    "     * appends it to the response; a non-OK result means the caller\n"
    "     * stopped the stream. */\n"
    "    if (h->request_stream(req))\n"
    "        status = h->stream_write(resp, text, len);\n"
    "    else\n"
    "        status = h->response_set_text(resp, text, len);\n"
    "    h->free(text);\n"
    "    if (status != QF_OK)\n"
    "        return h->error_set(err, status, \"@ID@: the answer was not taken \"\n"
    "                                         \"(the stream was stopped or memory \"\n"
    "                                         \"ran out)\");\n"
    "\n"
    "    usage.prompt_tokens = (int64_t)((prompt_len + 3) / 4); /* an estimate */\n"
    "    usage.completion_tokens = (int64_t)((len + 3) / 4);\n"
    "    h->response_set_usage(resp, &usage);\n"
    "    h->response_set_finish_reason(resp, \"stop\");\n"
    "    h->response_set_model(resp, h->request_model(req) != NULL\n"
    "                                    ? h->request_model(req)\n"
    "                                    : \"@ID@\");\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static const qf_option_spec options[] = {\n"
    "    {sizeof(qf_option_spec), \"prefix\", QF_OPT_STRING, \"\", 0,\n"
    "     \"text put before every answer\"},\n"
    "};\n"
    "\n"
    "static const char *const capabilities[] = {QF_CAP_TEXT, QF_CAP_STREAM, NULL};\n"
    "\n"
    "static const qf_provider_vtable vtable = {\n"
    "    sizeof(qf_provider_vtable), create, destroy, complete,\n"
    "    NULL, /* generate_image: add it and claim \"image\" to make images */\n"
    "};\n"
    "\n"
    "static const qf_plugin_descriptor descriptor = {\n"
    "    QF_DESCRIPTOR_HEADER,\n"
    "    0, /* flags: QF_PLUGIN_SERIAL if your hooks are not thread-safe */\n"
    "    \"@ID@\",\n"
    "    \"@ID@ provider\",\n"
    "    \"0.1.0\",\n"
    "    \"Answers with the last message of the request.\",\n"
    "    QF_KIND_PROVIDER,\n"
    "    capabilities,\n"
    "    options,\n"
    "    sizeof(options) / sizeof(options[0]),\n"
    "    &vtable,\n"
    "    NULL,\n"
    "    NULL,\n"
    "    NULL,\n"
    "};\n"
    "\n"
    "QF_PLUGIN_DEFINE(descriptor)\n";

static const char middleware_source[] =
    "/*\n"
    " * @ID@.c - a middleware plugin for QuestFoundry, made by `qf plugins new`.\n"
    " *\n"
    " * on_request puts a system message (the \"system\" option) before the\n"
    " * request's messages; on_complete logs the final status at debug level.\n"
    " * Threads: the host may call the hooks from several threads at once on\n"
    " * one instance; the instance is read-only after create(), so that is safe.\n"
    " */\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <qf/plugin.h>\n"
    "\n"
    "/* One configured instance, made by create() and freed by destroy(). */\n"
    "typedef struct @ID@ {\n"
    "    const qf_host *host; /* valid until destroy() returns */\n"
    "    qf_context *ctx;     /* valid until destroy() returns */\n"
    "    const char *system;  /* owned by the host, valid until destroy() */\n"
    "} @ID@;\n"
    "\n"
    "static qf_status create(const qf_host *host, qf_context *ctx, void **instance,\n"
    "                        qf_error *err)\n"
    "{\n"
    "    @ID@ *self = calloc(1, sizeof(*self));\n"
    "    qf_status status;\n"
    "\n"
    "    if (self == NULL)\n"
    "        return host->error_set(err, QF_ERR_NOMEM, \"@ID@: out of memory\");\n"
    "    self->host = host;\n"
    "    self->ctx = ctx;\n"
    "    self->system = \"Answer in one short paragraph.\";\n"
    "\n"
    "    /* NOT_FOUND means the key is absent: keep the default. */\n"
    "    status = host->config_string(ctx, \"system\", &self->system, err);\n"
    "    if (status != QF_OK && status != QF_ERR_NOT_FOUND) {\n"
    "        free(self);\n"
    "        return status;\n"
    "    }\n"
    "    *instance = self;\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static void destroy(void *instance)\n"
    "{\n"
    "    free(instance);\n"
    "}\n"
    "\n"
    "/* Runs before the provider. The request belongs to the host; the message\n"
    " * is copied by request_insert_message. */\n"
    "static qf_status on_request(void *instance, void **state, qf_request *req,\n"
    "                            qf_response *resp, qf_error *err)\n"
    "{\n"
    "    const @ID@ *self = instance;\n"
    "    qf_status status;\n"
    "\n"
    "    (void)state; /* per-call state: free what you put here in on_complete */\n"
    "    (void)resp;  /* fill it and return QF_ANSWERED to answer early */\n"
    "    status = self->host->request_insert_message(req, 0, \"system\", self->system,\n"
    "                                                strlen(self->system));\n"
    "    if (status != QF_OK)\n"
    "        return self->host->error_set(err, status,\n"
    "                                     \"@ID@: cannot add the system message\");\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "/* Runs exactly once per call whose on_request ran, whatever happened. */\n"
    "static void on_complete(void *instance, void **state, const qf_request *req,\n"
    "                        const qf_response *resp, qf_status status)\n"
    "{\n"
    "    const @ID@ *self = instance;\n"
    "\n"
    "    (void)state;\n"
    "    (void)resp;\n"
    "    if (self->host->log_enabled(self->ctx, QF_LOG_DEBUG))\n"
    "        self->host->log(self->ctx, QF_LOG_DEBUG, \"request %s finished: %d\",\n"
    "                        self->host->request_id(req), (int)status);\n"
    "}\n"
    "\n"
    "static const qf_option_spec options[] = {\n"
    "    {sizeof(qf_option_spec), \"system\", QF_OPT_STRING,\n"
    "     \"Answer in one short paragraph.\", 0,\n"
    "     \"system message put before the request's messages\"},\n"
    "};\n"
    "\n"
    "static const qf_middleware_vtable vtable = {\n"
    "    sizeof(qf_middleware_vtable), create, destroy, on_request,\n"
    "    NULL, /* on_response: sees the answer on its way back */\n"
    "    on_complete,\n"
    "};\n"
    "\n"
    "static const qf_plugin_descriptor descriptor = {\n"
    "    QF_DESCRIPTOR_HEADER,\n"
    "    0, /* flags: QF_PLUGIN_SERIAL if your hooks are not thread-safe */\n"
    "    \"@ID@\",\n"
    "    \"@ID@ middleware\",\n"
    "    \"0.1.0\",\n"
    "    \"Puts a system message before every request.\",\n"
    "    QF_KIND_MIDDLEWARE,\n"
    "    NULL,\n"
    "    options,\n"
    "    sizeof(options) / sizeof(options[0]),\n"
    "    NULL,\n"
    "    &vtable,\n"
    "    NULL,\n"
    "    NULL,\n"
    "};\n"
    "\n"
    "QF_PLUGIN_DEFINE(descriptor)\n";

static const char cache_backend_source[] =
    "/*\n"
    " * @ID@.c - a cache backend plugin for QuestFoundry, made by\n"
    " * `qf plugins new`.\n"
    " *\n"
    " * Entries live in memory in one linked list behind one mutex, so every\n"
    " * hook may run from any thread. Replace the list with your store; keep\n"
    " * the contract: get copies the value with host->alloc, put replaces an\n"
    " * entry atomically, expired entries count as misses.\n"
    " */\n"
    "#include <pthread.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <qf/plugin.h>\n"
    "\n"
    "typedef struct entry {\n"
    "    struct entry *next;\n"
    "    char *key;\n"
    "    void *value;\n"
    "    size_t len;\n"
    "    int64_t created_ms;\n"
    "    int64_t expires_ms; /* 0: never */\n"
    "} entry;\n"
    "\n"
    "/* One configured instance, made by create() and freed by destroy(). */\n"
    "typedef struct @ID@ {\n"
    "    const qf_host *host; /* valid until destroy() returns */\n"
    "    qf_context *ctx;     /* valid until destroy() returns */\n"
    "    pthread_mutex_t lock;\n"
    "    entry *entries;\n"
    "    qf_cache_stats stats;\n"
    "} @ID@;\n"
    "\n"
    "static void entry_free(entry *e)\n"
    "{\n"
    "    free(e->key);\n"
    "    free(e->value);\n"
    "    free(e);\n"
    "}\n"
    "\n"
    "static qf_status create(const qf_host *host, qf_context *ctx, void **instance,\n"
    "                        qf_error *err)\n"
    "{\n"
    "    @ID@ *self = calloc(1, sizeof(*self));\n"
    "\n"
    "    if (self == NULL)\n"
    "        return host->error_set(err, QF_ERR_NOMEM, \"@ID@: out of memory\");\n"
    "    self->host = host;\n"
    "    self->ctx = ctx;\n"
    "    self->stats.size = sizeof(self->stats);\n"
    "    pthread_mutex_init(&self->lock, NULL);\n"
    "    *instance = self;\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static void destroy(void *instance)\n"
    "{\n"
    "    @ID@ *self = instance;\n"
    "\n"
    "    while (self->entries != NULL) {\n"
    "        entry *next = self->entries->next;\n"
    "\n"
    "        entry_free(self->entries);\n"
    "        self->entries = next;\n"
    "    }\n"
    "    pthread_mutex_destroy(&self->lock);\n"
    "    free(self);\n"
    "}\n"
    "\n"
    "/* The link that points at `key`'s entry, or at NULL. Lock held. */\n"
    "static entry **find(@ID@ *self, const char *key)\n"
    "{\n"
    "    entry **link = &self->entries;\n"
    "\n"
    "    while (*link != NULL && strcmp((*link)->key, key) != 0)\n"
    "        link = &(*link)->next;\n"
    "    return link;\n"
    "}\n"
    "\n"
    "static int expired(const @ID@ *self, const entry *e)\n"
    "{\n"
    "    return e->expires_ms != 0 && self->host->now_ms(self->ctx) >= e->expires_ms;\n"
    "}\n"
    "\n"
    "static qf_status get(void *instance, const char *key, void **value,\n"
    "                     size_t *len, int64_t *created_ms, qf_error *err)\n"
    "{\n"
    "    @ID@ *self = instance;\n"
    "    qf_status status = QF_ERR_NOT_FOUND;\n"
    "    entry *e;\n"
    "\n"
    "    pthread_mutex_lock(&self->lock);\n"
    "    e = *find(self, key);\n"
    "    if (e != NULL && !expired(self, e)) {\n"
    "        *value = self->host->alloc(e->len > 0 ? e->len : 1);\n"
    "        status = *value != NULL ? QF_OK : QF_ERR_NOMEM;\n"
    "    }\n"
    "    if (status == QF_OK) {\n"
    "        memcpy(*value, e->value, e->len);\n"
    "        *len = e->len;\n"
    "        if (created_ms != NULL)\n"
    "            *created_ms = e->created_ms;\n"
    "    }\n"
    "    if (status == QF_OK)\n"
    "        self->stats.hits++;\n"
    "    else\n"
    "        self->stats.misses++;\n"
    "    pthread_mutex_unlock(&self->lock);\n"
    "    if (status == QF_ERR_NOMEM)\n"
    "        return self->host->error_set(err, status, \"@ID@: out of memory\");\n"
    "    return status;\n"
    "}\n"
    "\n"
    "static qf_status put(void *instance, const char *key, const void *value,\n"
    "                     size_t len, int64_t ttl_seconds, qf_error *err)\n"
    "{\n"
    "    @ID@ *self = instance;\n"
    "    entry *e = calloc(1, sizeof(*e)), *old;\n"
    "    entry **link;\n"
    "\n"
    "    if (e == NULL || (e->key = strdup(key)) == NULL ||\n"
    "        (e->value = malloc(len > 0 ? len : 1)) == NULL) {\n"
    "        if (e != NULL)\n"
    "            entry_free(e);\n"
    "        return self->host->error_set(err, QF_ERR_NOMEM,\n"
    "                                     \"@ID@: out of memory for %zu bytes\", len);\n"
    "    }\n"
    "    memcpy(e->value, value, len);\n"
    "    e->len = len;\n"
    "    e->created_ms = self->host->now_ms(self->ctx);\n"
    "    e->expires_ms = ttl_seconds > 0 ? e->created_ms + ttl_seconds * 1000 : 0;\n"
    "\n"
    "    pthread_mutex_lock(&self->lock);\n"
    "    link = find(self, key);\n"
    "    old = *link;\n"
    "    e->next = old != NULL ? old->next : NULL;\n"
    "    *link = e; /* replaces the old entry in one step */\n"
    "    pthread_mutex_unlock(&self->lock);\n"
    "    if (old != NULL)\n"
    "        entry_free(old);\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static qf_status remove_entry(void *instance, const char *key, qf_error *err)\n"
    "{\n"
    "    @ID@ *self = instance;\n"
    "    entry **link, *e;\n"
    "\n"
    "    (void)err;\n"
    "    pthread_mutex_lock(&self->lock);\n"
    "    link = find(self, key);\n"
    "    e = *link;\n"
    "    if (e != NULL)\n"
    "        *link = e->next;\n"
    "    pthread_mutex_unlock(&self->lock);\n"
    "    if (e == NULL)\n"
    "        return QF_ERR_NOT_FOUND;\n"
    "    entry_free(e);\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "/* Remove expired entries, or all of them; count them in *removed. */\n"
    "static qf_status sweep(@ID@ *self, int all, int64_t *removed)\n"
    "{\n"
    "    entry **link = &self->entries;\n"
    "\n"
    "    *removed = 0;\n"
    "    pthread_mutex_lock(&self->lock);\n"
    "    while (*link != NULL) {\n"
    "        entry *e = *link;\n"
    "\n"
    "        if (!all && !expired(self, e)) {\n"
    "            link = &e->next;\n"
    "            continue;\n"
    "        }\n"
    "        *link = e->next;\n"
    "        entry_free(e);\n"
    "        (*removed)++;\n"
    "    }\n"
    "    if (!all)\n"
    "        self->stats.expirations += *removed;\n"
    "    pthread_mutex_unlock(&self->lock);\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static qf_status prune(void *instance, int64_t *removed, qf_error *err)\n"
    "{\n"
    "    (void)err;\n"
    "    return sweep(instance, 0, removed);\n"
    "}\n"
    "\n"
    "static qf_status clear(void *instance, int64_t *removed, qf_error *err)\n"
    "{\n"
    "    (void)err;\n"
    "    return sweep(instance, 1, removed);\n"
    "}\n"
    "\n"
    "static qf_status stats(void *instance, qf_cache_stats *out, qf_error *err)\n"
    "{\n"
    "    @ID@ *self = instance;\n"
    "\n"
    "    (void)err;\n"
    "    pthread_mutex_lock(&self->lock);\n"
    "    *out = self->stats;\n"
    "    for (entry *e = self->entries; e != NULL; e = e->next) {\n"
    "        out->entries++;\n"
    "        out->bytes += (int64_t)e->len;\n"
    "    }\n"
    "    pthread_mutex_unlock(&self->lock);\n"
    "    return QF_OK;\n"
    "}\n"
    "\n"
    "static const qf_cache_backend_vtable vtable = {\n"
    "    sizeof(qf_cache_backend_vtable), create, destroy, get, put, remove_entry,\n"
    "    prune, clear, stats,\n"
    "};\n"
    "\n"
    "static const qf_plugin_descriptor descriptor = {\n"
    "    QF_DESCRIPTOR_HEADER,\n"
    "    0,\n"
    "    \"@ID@\",\n"
    "    \"@ID@ cache backend\",\n"
    "    \"0.1.0\",\n"
    "    \"Keeps cache entries in memory.\",\n"
    "    QF_KIND_CACHE_BACKEND,\n"
    "    NULL,\n"
    "    NULL,\n"
    "    0,\n"
    "    NULL,\n"
    "    NULL,\n"
    "    &vtable,\n"
    "    NULL,\n"
    "};\n"
    "\n"
    "QF_PLUGIN_DEFINE(descriptor)\n";

static const char test_source[] =
    "/*\n"
    " * test_@ID@.c - loads @ID@.so the way the host does and checks its\n"
    " * descriptor. Run by ctest with the module's path as argument.\n"
    " */\n"
    "#include <dlfcn.h>\n"
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <qf/plugin.h>\n"
    "\n"
    "int main(int argc, char **argv)\n"
    "{\n"
    "    void *handle, *symbol;\n"
    "    qf_plugin_entry_fn entry;\n"
    "    const qf_plugin_descriptor *d;\n"
    "\n"
    "    if (argc != 2) {\n"
    "        fprintf(stderr, \"usage: %s PLUGIN.so\\n\", argv[0]);\n"
    "        return 2;\n"
    "    }\n"
    "    handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);\n"
    "    if (handle == NULL) {\n"
    "        fprintf(stderr, \"cannot open %s: %s\\n\", argv[1], dlerror());\n"
    "        return 1;\n"
    "    }\n"
    "    symbol = dlsym(handle, QF_PLUGIN_ENTRY_SYMBOL);\n"
    "    if (symbol == NULL) {\n"
    "        fprintf(stderr, \"%s exports no %s\\n\", argv[1], QF_PLUGIN_ENTRY_SYMBOL);\n"
    "        return 1;\n"
    "    }\n"
    "    memcpy(&entry, &symbol, sizeof(entry));\n"
    "    d = entry();\n"
    "    if (d == NULL || strcmp(d->id, \"@ID@\") != 0 || d->abi_major != QF_ABI_MAJOR ||\n"
    "        d->kind != @KIND_ENUM@) {\n"
    "        fprintf(stderr, \"unexpected descriptor in %s\\n\", argv[1]);\n"
    "        return 1;\n"
    "    }\n"
    "    printf(\"%s %s: ok\\n\", d->id, d->version);\n"
    "    return 0;\n"
    "}\n";

static const char cmake_source[] =
    "# @ID@: a QuestFoundry @KIND@ plugin, made by `qf plugins new`.\n"
    "#\n"
    "#   cmake -S . -B build -DCMAKE_PREFIX_PATH=/where/questfoundry/is/installed\n"
    "#   cmake --build build && ctest --test-dir build\n"
    "cmake_minimum_required(VERSION 3.20)\n"
    "project(@ID@ VERSION 0.1.0 LANGUAGES C)\n"
    "\n"
    "find_package(QuestFoundryPlugin 1 REQUIRED)\n"
    "@THREADS@"
    "\n"
    "# Builds @ID@.so with hidden visibility and warnings on. Copy it into a\n"
    "# folder listed in plugin_dirs (or QF_PLUGIN_PATH) to use it.\n"
    "qf_add_plugin(@ID@ SOURCES @ID@.c@LIBS@)\n"
    "\n"
    "enable_testing()\n"
    "add_executable(test_@ID@ test_@ID@.c)\n"
    "target_link_libraries(test_@ID@ PRIVATE QuestFoundry::plugin_sdk ${CMAKE_DL_LIBS})\n"
    "add_test(NAME test_@ID@ COMMAND test_@ID@ $<TARGET_FILE:@ID@>)\n"
    "\n"
    "# The conformance checker, when the SDK was installed with it.\n"
    "if(QF_PLUGIN_CHECK_EXECUTABLE)\n"
    "  add_test(NAME check_@ID@ COMMAND ${QF_PLUGIN_CHECK_EXECUTABLE} $<TARGET_FILE:@ID@>)\n"
    "endif()\n";

static const char readme_source[] =
    "# @ID@\n"
    "\n"
    "A QuestFoundry @KIND@ plugin, made by `qf plugins new`.\n"
    "\n"
    "Build and test against an installed QuestFoundry (the prefix holds\n"
    "`lib/cmake/QuestFoundryPlugin`):\n"
    "\n"
    "    cmake -S . -B build -DCMAKE_PREFIX_PATH=/usr/local\n"
    "    cmake --build build\n"
    "    ctest --test-dir build --output-on-failure\n"
    "    qf-plugin-check build/@ID@.so\n"
    "\n"
    "Use it: put `build/` in `plugin_dirs` of your configuration (or in\n"
    "`QF_PLUGIN_PATH`), then @USE@. `qf plugins info @ID@` shows what the host\n"
    "read from the descriptor. See the plugin guide (docs/plugin-guide.md) for\n"
    "the hooks, ownership and thread rules.\n";
/* clang-format on */

/* --- Kinds ---------------------------------------------------------- */

typedef struct kind_info {
    const char *name;      /* as given to --kind */
    const char *enum_name; /* qf_plugin_kind constant */
    const char *source;    /* template of NAME.c */
    const char *libs;      /* extra qf_add_plugin arguments */
    const char *threads;   /* find_package line, or "" */
    const char *use;       /* how a configuration uses it */
} kind_info;

static const kind_info kinds[] = {
    {"provider", "QF_KIND_PROVIDER", provider_source, "", "",
     "add `@ID@: {prefix: \"> \"}` under `providers.text` and set a role's "
     "`provider: @ID@`"},
    {"middleware", "QF_KIND_MIDDLEWARE", middleware_source, "", "",
     "list it in a role's chain: `chain: [@ID@]`"},
    {"cache_backend", "QF_KIND_CACHE_BACKEND", cache_backend_source,
     " LIBRARIES Threads::Threads", "find_package(Threads REQUIRED)\n",
     "set `cache: {backend: @ID@}`"},
};

/* --- Substitution --------------------------------------------------- */

typedef struct token {
    const char *name; /* "@ID@" */
    const char *value;
} token;

/* Copy `text` with every token replaced; returns a malloc'd string. */
static char *expand(const char *text, const token *tokens, size_t count)
{
    size_t cap = strlen(text) * 2 + 1024, len = 0;
    char *out = malloc(cap);

    while (out != NULL && *text != '\0') {
        size_t i = 0, n;
        const char *piece = text;

        while (i < count &&
               strncmp(text, tokens[i].name, strlen(tokens[i].name)) != 0)
            i++;
        n = i < count ? strlen(tokens[i].value) : 1;
        if (i < count)
            piece = tokens[i].value;
        if (len + n + 1 > cap) {
            char *grown = realloc(out, cap * 2 + n);

            if (grown == NULL) {
                free(out);
                return NULL;
            }
            out = grown;
            cap = cap * 2 + n;
        }
        // The loop runs only while out is not NULL.
        // cppcheck-suppress nullPointerArithmeticRedundantCheck
        memcpy(out + len, piece, n);
        len += n;
        text += i < count ? strlen(tokens[i].name) : 1;
    }
    if (out != NULL)
        out[len] = '\0';
    return out;
}

/* --- Files ---------------------------------------------------------- */

static int name_is_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return 0;
    return 1;
}

/* 0 when `dir` is absent or an empty folder, else -1 with a message. */
static int check_target(const char *dir, qf_error *err)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int used = 0;

    if (stat(dir, &st) != 0)
        return errno == ENOENT
                   ? 0
                   : (qf_error_set(err, QF_ERR_IO, "cannot read folder %s: %s",
                                   dir, strerror(errno)),
                      -1);
    if (!S_ISDIR(st.st_mode) || (d = opendir(dir)) == NULL) {
        qf_error_set(err, QF_ERR_IO,
                     "%s exists and is not a folder; give "
                     "another --dir",
                     dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL)
        used |= strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    if (!used)
        return 0;
    qf_error_set(err, QF_ERR_IO,
                 "folder %s is not empty; refusing to write "
                 "into it, give an empty or new --dir",
                 dir);
    return -1;
}

/* mkdir -p `dir`. */
static int make_dirs(const char *dir, qf_error *err)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return qf_error_set(err, QF_ERR_INVALID, "invalid folder '%s'", dir),
               -1;
    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            qf_error_set(err, QF_ERR_IO, "cannot create folder %s: %s", path,
                         strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

static int write_file(const char *dir, const char *name, const char *text,
                      qf_error *err)
{
    char path[4096];
    size_t len = strlen(text);
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        qf_error_set(err, QF_ERR_IO, "cannot create %s: %s", path,
                     strerror(errno));
        return -1;
    }
    n = write(fd, text, len);
    if (close(fd) != 0 || n != (ssize_t)len) {
        qf_error_set(err, QF_ERR_IO, "cannot write %s: %s", path,
                     strerror(errno));
        return -1;
    }
    return 0;
}

/* --- The command ---------------------------------------------------- */

typedef struct new_args {
    const char *name;
    const char *kind;
    const char *dir;
} new_args;

void qf_plugins_new_help(void)
{
    printf("usage: qf plugins new NAME --kind provider|middleware|"
           "cache_backend [--dir DIR]\n"
           "\n"
           "Write a small, commented plugin project of that kind into DIR\n"
           "(default ./NAME): NAME.c, CMakeLists.txt using\n"
           "find_package(QuestFoundryPlugin 1), test_NAME.c and README.md.\n"
           "NAME is the plugin id: 1 to %d characters of [a-z0-9_]. DIR must\n"
           "be new or empty.\n"
           "\n"
           "Then: cmake -S DIR -B DIR/build -DCMAKE_PREFIX_PATH=PREFIX &&\n"
           "cmake --build DIR/build && qf-plugin-check DIR/build/NAME.so\n",
           NAME_MAX_LEN);
}

static int parse_new_args(int argc, char **argv, new_args *a)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
            a->kind = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            a->dir = argv[++i];
        else if (argv[i][0] != '-' && a->name == NULL)
            a->name = argv[i];
        else
            return qf_cli_usage_error("plugins new: unexpected argument '%s'",
                                      argv[i]);
    }
    if (a->name == NULL || a->kind == NULL)
        return qf_cli_usage_error("plugins new: give NAME and --kind "
                                  "provider|middleware|cache_backend");
    if (!name_is_valid(a->name))
        return qf_cli_usage_error("plugins new: invalid NAME '%s'; use 1 to "
                                  "%d characters of [a-z0-9_]",
                                  a->name, NAME_MAX_LEN);
    if (a->dir == NULL)
        a->dir = a->name;
    return QF_EXIT_OK;
}

static const kind_info *find_kind(const char *name)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

/* Expand and write the four files; returns 0 or -1 with err set. */
static int write_project(const new_args *a, const kind_info *k, qf_error *err)
{
    char *use = expand(k->use, (token[]){{"@ID@", a->name}}, 1);
    const token tokens[] = {{"@ID@", a->name},
                            {"@KIND@", k->name},
                            {"@KIND_ENUM@", k->enum_name},
                            {"@LIBS@", k->libs},
                            {"@THREADS@", k->threads},
                            {"@USE@", use ? use : ""}};
    const char *sources[] = {k->source, test_source, cmake_source,
                             readme_source};
    char names[4][NAME_MAX_LEN + 16];
    int status = 0;

    snprintf(names[0], sizeof(names[0]), "%s.c", a->name);
    snprintf(names[1], sizeof(names[1]), "test_%s.c", a->name);
    snprintf(names[2], sizeof(names[2]), "CMakeLists.txt");
    snprintf(names[3], sizeof(names[3]), "README.md");
    for (size_t i = 0; i < 4 && status == 0; i++) {
        char *text = expand(sources[i], tokens, 6);

        status = text != NULL
                     ? write_file(a->dir, names[i], text, err)
                     : (qf_error_set(err, QF_ERR_NOMEM, "out of memory"), -1);
        free(text);
    }
    free(use);
    return status;
}

static void print_result(const qf_cli *cli, const new_args *a)
{
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *files = cJSON_AddArrayToObject(o, "files");
        char name[NAME_MAX_LEN + 16];

        cJSON_AddStringToObject(o, "id", a->name);
        cJSON_AddStringToObject(o, "kind", a->kind);
        cJSON_AddStringToObject(o, "dir", a->dir);
        snprintf(name, sizeof(name), "%s.c", a->name);
        cJSON_AddItemToArray(files, cJSON_CreateString(name));
        snprintf(name, sizeof(name), "test_%s.c", a->name);
        cJSON_AddItemToArray(files, cJSON_CreateString(name));
        cJSON_AddItemToArray(files, cJSON_CreateString("CMakeLists.txt"));
        cJSON_AddItemToArray(files, cJSON_CreateString("README.md"));
        qf_cli_print_json(o);
        return;
    }
    printf("created %s plugin %s in %s/\n"
           "next: cmake -S %s -B %s/build -DCMAKE_PREFIX_PATH=<install prefix>"
           " && cmake --build %s/build && qf-plugin-check %s/build/%s.so\n",
           a->kind, a->name, a->dir, a->dir, a->dir, a->dir, a->dir, a->name);
}

int qf_plugins_new(qf_cli *cli, int argc, char **argv)
{
    new_args a = {NULL, NULL, NULL};
    const kind_info *k;
    qf_error err;
    int code = parse_new_args(argc, argv, &a);

    if (code != QF_EXIT_OK)
        return code;
    k = find_kind(a.kind);
    if (k == NULL)
        return qf_cli_usage_error("plugins new: unknown --kind '%s'; use "
                                  "provider, middleware or cache_backend",
                                  a.kind);

    qf_error_init(&err);
    if (check_target(a.dir, &err) != 0 || make_dirs(a.dir, &err) != 0 ||
        write_project(&a, k, &err) != 0)
        return qf_cli_fail(cli, &err);
    print_result(cli, &a);
    return QF_EXIT_OK;
}

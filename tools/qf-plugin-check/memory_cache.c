/*
 * memory_cache.c - the small in-memory cache backend that the test host's
 * cache_backend_open hands to middleware such as the shipped cache: one
 * shared list of entries behind one mutex, no expiry.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_objects.h"

typedef struct memory_entry {
    struct memory_entry *next;
    char *key;
    void *value;
    size_t len;
    int64_t created_ms;
} memory_entry;

static memory_entry *memory_entries;
static pthread_mutex_t memory_lock = PTHREAD_MUTEX_INITIALIZER;

static memory_entry **memory_find(const char *key)
{
    memory_entry **link = &memory_entries;

    while (*link != NULL && strcmp((*link)->key, key) != 0)
        link = &(*link)->next;
    return link;
}

static qf_status memory_get(void *instance, const char *key, void **value,
                            size_t *len, int64_t *created_ms, qf_error *err)
{
    qf_status status = QF_ERR_NOT_FOUND;
    memory_entry *e;

    pthread_mutex_lock(&memory_lock);
    e = *memory_find(key);
    if (e != NULL) {
        *value = malloc(e->len > 0 ? e->len : 1);
        status = *value != NULL ? QF_OK : QF_ERR_NOMEM;
        if (status == QF_OK) {
            memcpy(*value, e->value, e->len);
            *len = e->len;
            if (created_ms != NULL)
                *created_ms = e->created_ms;
        }
    }
    pthread_mutex_unlock(&memory_lock);
    return status;
}

static void memory_entry_free(memory_entry *e)
{
    free(e->key);
    free(e->value);
    free(e);
}

static qf_status memory_remove(void *instance, const char *key, qf_error *err)
{
    memory_entry **link, *e;

    pthread_mutex_lock(&memory_lock);
    link = memory_find(key);
    e = *link;
    if (e != NULL)
        *link = e->next;
    pthread_mutex_unlock(&memory_lock);
    if (e == NULL)
        return QF_ERR_NOT_FOUND;
    memory_entry_free(e);
    return QF_OK;
}

static qf_status memory_put(void *instance, const char *key, const void *value,
                            size_t len, int64_t ttl_seconds, qf_error *err)
{
    memory_entry *e = calloc(1, sizeof(*e));

    if (e == NULL || (e->key = strdup(key)) == NULL ||
        (e->value = malloc(len > 0 ? len : 1)) == NULL) {
        if (e != NULL)
            memory_entry_free(e);
        return QF_ERR_NOMEM;
    }
    memcpy(e->value, value, len);
    e->len = len;
    memory_remove(instance, key, err);
    pthread_mutex_lock(&memory_lock);
    e->next = memory_entries;
    memory_entries = e;
    pthread_mutex_unlock(&memory_lock);
    return QF_OK;
}

/* NOTE: prune and clear remove nothing. Middleware under check only gets
 * and puts through this backend; a checked cache backend uses its own. */
static qf_status memory_count(void *instance, int64_t *removed, qf_error *err)
{
    *removed = 0;
    return QF_OK;
}

static qf_status memory_stats(void *instance, qf_cache_stats *out,
                              qf_error *err)
{
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    return QF_OK;
}

static qf_status memory_create(const qf_host *host, qf_context *ctx,
                               void **instance, qf_error *err)
{
    *instance = &memory_entries;
    return QF_OK;
}

static void memory_destroy(void *instance)
{
}

const qf_cache_backend_vtable *qf_check_memory_cache(void)
{
    static const qf_cache_backend_vtable vtable = {
        sizeof(qf_cache_backend_vtable),
        memory_create,
        memory_destroy,
        memory_get,
        memory_put,
        memory_remove,
        memory_count,
        memory_count,
        memory_stats};

    return &vtable;
}

void *qf_check_memory_cache_instance(void)
{
    return &memory_entries;
}

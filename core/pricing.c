/*
 * pricing.c - the price table. The shipped JSON file (core/data/prices.json
 * in the source tree, share/questfoundry/prices.json when installed, or the
 * configuration's `pricing_file`) is parsed with cJSON into a sorted array,
 * then `pricing.<model>` blocks of the configuration override or add
 * entries. Lookups follow explicit aliases, dated names and Ollama tags.
 */
#include "pricing.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "log.h"

#define PRICES_FILE_NAME "prices.json"

typedef struct price_entry {
    char *name;
    qf_price price;
} price_entry;

typedef struct price_alias {
    char *name;
    char *target;
} price_alias;

struct qf_pricing {
    price_entry *models; /* sorted by name */
    size_t count;
    size_t capacity;
    price_alias *aliases;
    size_t alias_count;
    char *source;
};

/* Models already warned about as unpriced in this process. */
typedef struct warned_model {
    struct warned_model *next;
    char name[];
} warned_model;

static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;
static warned_model *warned_models;

static const char *const price_fields[] = {"input_per_million",
                                           "cached_input_per_million",
                                           "output_per_million", "per_image"};

static double *price_field(qf_price *price, size_t index)
{
    switch (index) {
    case 0: return &price->input_per_million;
    case 1: return &price->cached_input_per_million;
    case 2: return &price->output_per_million;
    default: return &price->per_image;
    }
}

static void price_clear(qf_price *price)
{
    price->size = sizeof(*price);
    price->input_per_million = -1;
    price->cached_input_per_million = -1;
    price->output_per_million = -1;
    price->per_image = -1;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const price_entry *)a)->name,
                  ((const price_entry *)b)->name);
}

static price_entry *find_exact(const qf_pricing *pricing, const char *name)
{
    price_entry key = {(char *)name, {0}};

    if (pricing->count == 0)
        return NULL;
    return bsearch(&key, pricing->models, pricing->count,
                   sizeof(*pricing->models), compare_entries);
}

/* The entry named `name`, created with every price absent when missing.
 * Keeps the array sorted. */
static price_entry *entry_upsert(qf_pricing *pricing, const char *name)
{
    price_entry *found = find_exact(pricing, name);
    price_entry *grown;

    if (found != NULL)
        return found;
    if (pricing->count == pricing->capacity) {
        size_t capacity = pricing->capacity ? pricing->capacity * 2 : 32;
        grown = realloc(pricing->models, capacity * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        pricing->models = grown;
        pricing->capacity = capacity;
    }
    found = &pricing->models[pricing->count];
    found->name = strdup(name);
    if (found->name == NULL)
        return NULL;
    price_clear(&found->price);
    pricing->count++;
    qsort(pricing->models, pricing->count, sizeof(*pricing->models),
          compare_entries);
    return find_exact(pricing, name);
}

void qf_pricing_free(qf_pricing *pricing)
{
    if (pricing == NULL)
        return;
    for (size_t i = 0; i < pricing->count; i++)
        free(pricing->models[i].name);
    for (size_t i = 0; i < pricing->alias_count; i++) {
        free(pricing->aliases[i].name);
        free(pricing->aliases[i].target);
    }
    free(pricing->models);
    free(pricing->aliases);
    free(pricing->source);
    free(pricing);
}

/* --- Finding and reading the table file ------------------------------- */

static int file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* <prefix>/<QF_INSTALL_DATA_DIR>/prices.json, where prefix is the folder
 * above the running executable's folder. */
static char *install_table_path(void)
{
    char exe[PATH_MAX];
    char path[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (len <= 0)
        return NULL;
    exe[len] = '\0';
    for (int up = 0; up < 2; up++) {
        slash = strrchr(exe, '/');
        if (slash == NULL)
            return NULL;
        *slash = '\0';
    }
    snprintf(path, sizeof(path), "%s/%s/%s", exe, QF_INSTALL_DATA_DIR,
             PRICES_FILE_NAME);
    return strdup(path);
}

/* The configured pricing_file, resolved against the configuration's
 * folder; NULL in *out when the key is absent. */
static qf_status configured_table_path(const qf_config *cfg, char **out,
                                       qf_error *err)
{
    const qf_cnode *node;
    char *value = NULL;
    char joined[PATH_MAX];
    qf_status st;

    *out = NULL;
    if (cfg == NULL)
        return QF_OK;
    node = qf_cnode_get(qf_config_root(cfg), "pricing_file");
    if (node == NULL || qf_cnode_type_of(node) == QF_CNODE_NULL)
        return QF_OK;
    st = qf_cnode_string(node, &value, err);
    if (st != QF_OK)
        return st;
    if (value[0] == '/' || qf_config_dir(cfg) == NULL) {
        *out = value;
        return QF_OK;
    }
    snprintf(joined, sizeof(joined), "%s/%s", qf_config_dir(cfg), value);
    free(value);
    *out = strdup(joined);
    return *out ? QF_OK : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
}

static qf_status find_table(const qf_config *cfg, char **out, qf_error *err)
{
    char *path = NULL;
    qf_status st = configured_table_path(cfg, &path, err);

    if (st != QF_OK)
        return st;
    if (path != NULL) {
        *out = path;
        return QF_OK;
    }

    path = install_table_path();
    if (path != NULL && file_exists(path)) {
        *out = path;
        return QF_OK;
    }
    free(path);

    if (file_exists(QF_SOURCE_DATA_DIR "/" PRICES_FILE_NAME)) {
        *out = strdup(QF_SOURCE_DATA_DIR "/" PRICES_FILE_NAME);
        return *out ? QF_OK : qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    return qf_error_set(err, QF_ERR_NOT_FOUND,
                        "price table %s not found in <prefix>/%s or %s; "
                        "reinstall, or set pricing_file in the configuration",
                        PRICES_FILE_NAME, QF_INSTALL_DATA_DIR,
                        QF_SOURCE_DATA_DIR);
}

static char *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto out;
    text = malloc((size_t)size + 1);
    if (text == NULL)
        goto out;
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
        goto out;
    }
    text[size] = '\0';
    *len = (size_t)size;
out:
    fclose(f);
    return text;
}

/* --- Parsing the JSON table ------------------------------------------- */

static qf_status parse_model(qf_pricing *pricing, const cJSON *item,
                             const char *path, qf_error *err)
{
    price_entry *entry;

    if (!cJSON_IsObject(item))
        return qf_error_set(err, QF_ERR_CONFIG,
                            "%s: models.%s: expected an object of prices", path,
                            item->string);
    entry = entry_upsert(pricing, item->string);
    if (entry == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    for (size_t i = 0; i < sizeof(price_fields) / sizeof(price_fields[0]);
         i++) {
        const cJSON *value =
            cJSON_GetObjectItemCaseSensitive(item, price_fields[i]);
        if (value == NULL)
            continue;
        if (!cJSON_IsNumber(value) || value->valuedouble < 0)
            return qf_error_set(err, QF_ERR_CONFIG,
                                "%s: models.%s.%s: invalid price; expected a "
                                "number of US dollars >= 0",
                                path, item->string, price_fields[i]);
        *price_field(&entry->price, i) = value->valuedouble;
    }
    return QF_OK;
}

static qf_status parse_aliases(qf_pricing *pricing, const cJSON *aliases,
                               const char *path, qf_error *err)
{
    int count = cJSON_GetArraySize(aliases);
    const cJSON *item;

    pricing->aliases = calloc((size_t)count + 1, sizeof(*pricing->aliases));
    if (pricing->aliases == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    cJSON_ArrayForEach(item, aliases)
    {
        price_alias *alias = &pricing->aliases[pricing->alias_count];

        if (!cJSON_IsString(item) ||
            find_exact(pricing, item->valuestring) == NULL)
            return qf_error_set(err, QF_ERR_CONFIG,
                                "%s: aliases.%s: target is not a model of the "
                                "table; expected the name of an entry under "
                                "models",
                                path, item->string);
        alias->name = strdup(item->string);
        alias->target = strdup(item->valuestring);
        pricing->alias_count++;
        if (alias->name == NULL || alias->target == NULL)
            return qf_error_set(err, QF_ERR_NOMEM, "out of memory");
    }
    return QF_OK;
}

static qf_status parse_table(qf_pricing *pricing, const char *text, size_t len,
                             const char *path, qf_error *err)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *models, *aliases, *item;
    qf_status st = QF_OK;

    if (root == NULL)
        return qf_error_set(
            err, QF_ERR_CONFIG,
            "%s: invalid JSON near byte %td; fix the price "
            "table file",
            path, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0);
    models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsObject(models)) {
        st = qf_error_set(err, QF_ERR_CONFIG,
                          "%s: missing \"models\" object; expected the price "
                          "table format of core/data/prices.json",
                          path);
        goto out;
    }
    cJSON_ArrayForEach(item, models)
    {
        st = parse_model(pricing, item, path, err);
        if (st != QF_OK)
            goto out;
    }
    aliases = cJSON_GetObjectItemCaseSensitive(root, "aliases");
    if (cJSON_IsObject(aliases))
        st = parse_aliases(pricing, aliases, path, err);
out:
    cJSON_Delete(root);
    return st;
}

static qf_status load_table(qf_pricing *pricing, const char *path,
                            qf_error *err)
{
    size_t len = 0;
    char *text = read_whole_file(path, &len);
    qf_status st;

    if (text == NULL)
        return qf_error_set(err, QF_ERR_IO,
                            "cannot read price table %s: %s; check the path "
                            "and its permissions",
                            path, strerror(errno));
    st = parse_table(pricing, text, len, path, err);
    free(text);
    return st;
}

/* --- Configuration overrides ------------------------------------------ */

static qf_status node_error(qf_error *err, const qf_cnode *node,
                            const char *what)
{
    return qf_error_set(err, QF_ERR_CONFIG, "%s:%d:%d: %s: %s",
                        qf_cnode_file(node), qf_cnode_line(node),
                        qf_cnode_column(node), qf_cnode_key_path(node), what);
}

static qf_status apply_override(qf_pricing *pricing, const char *model,
                                const qf_cnode *block, qf_error *err)
{
    price_entry *entry;
    size_t fields = sizeof(price_fields) / sizeof(price_fields[0]);

    if (qf_cnode_type_of(block) != QF_CNODE_MAP)
        return node_error(err, block,
                          "invalid price block; expected a map of "
                          "input_per_million, cached_input_per_million, "
                          "output_per_million, per_image");
    entry = entry_upsert(pricing, model);
    if (entry == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    for (size_t i = 0; i < qf_cnode_count(block); i++) {
        const char *key = NULL;
        const qf_cnode *value = qf_cnode_at(block, i, &key);
        size_t f = 0;
        double number;
        qf_status st;

        while (f < fields && strcmp(key, price_fields[f]) != 0)
            f++;
        if (f == fields)
            return node_error(
                err, value,
                "unknown price field; expected input_per_million, "
                "cached_input_per_million, output_per_million "
                "or per_image");
        st = qf_cnode_double(value, &number, err);
        if (st != QF_OK)
            return st;
        if (number < 0)
            return node_error(err, value,
                              "invalid price; expected US dollars >= 0");
        *price_field(&entry->price, f) = number;
    }
    return QF_OK;
}

static qf_status apply_config(qf_pricing *pricing, const qf_config *cfg,
                              qf_error *err)
{
    const qf_cnode *block;

    if (cfg == NULL)
        return QF_OK;
    block = qf_cnode_get(qf_config_root(cfg), "pricing");
    if (block == NULL || qf_cnode_type_of(block) == QF_CNODE_NULL)
        return QF_OK;
    if (qf_cnode_type_of(block) != QF_CNODE_MAP)
        return node_error(err, block,
                          "invalid pricing block; expected a map from model "
                          "name to its prices");

    for (size_t i = 0; i < qf_cnode_count(block); i++) {
        const char *model = NULL;
        const qf_cnode *prices = qf_cnode_at(block, i, &model);
        qf_status st = apply_override(pricing, model, prices, err);

        if (st != QF_OK)
            return st;
    }
    return QF_OK;
}

qf_status qf_pricing_open(const qf_config *cfg, qf_pricing **out, qf_error *err)
{
    qf_pricing *pricing = calloc(1, sizeof(*pricing));
    qf_status st;

    *out = NULL;
    if (pricing == NULL)
        return qf_error_set(err, QF_ERR_NOMEM, "out of memory");

    st = find_table(cfg, &pricing->source, err);
    if (st == QF_OK)
        st = load_table(pricing, pricing->source, err);
    if (st == QF_OK)
        st = apply_config(pricing, cfg, err);
    if (st != QF_OK) {
        qf_pricing_free(pricing);
        return st;
    }
    *out = pricing;
    return QF_OK;
}

const char *qf_pricing_source(const qf_pricing *pricing)
{
    return pricing->source;
}

/* --- Lookup ----------------------------------------------------------- */

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* True for "-YYYY-MM-DD" and "-MMDD", the two date suffixes OpenAI uses
 * (gpt-4o-2024-08-06, gpt-3.5-turbo-0125). */
static int is_date_suffix(const char *s)
{
    size_t len = strlen(s);

    if (len == 5)
        return s[0] == '-' && digits(s + 1, 4);
    if (len == 11)
        return s[0] == '-' && digits(s + 1, 4) && s[5] == '-' &&
               digits(s + 6, 2) && s[8] == '-' && digits(s + 9, 2);
    return 0;
}

static const char *resolve_name(const qf_pricing *pricing, const char *model)
{
    price_entry *entry = find_exact(pricing, model);

    if (entry != NULL)
        return entry->name;
    for (size_t i = 0; i < pricing->alias_count; i++) {
        if (strcmp(pricing->aliases[i].name, model) == 0)
            return find_exact(pricing, pricing->aliases[i].target)->name;
    }
    return NULL;
}

static const char *resolve_dated(const qf_pricing *pricing, const char *model)
{
    const char *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < pricing->count; i++) {
        const char *name = pricing->models[i].name;
        size_t len = strlen(name);

        if (len > best_len && strncmp(model, name, len) == 0 &&
            is_date_suffix(model + len)) {
            best = name;
            best_len = len;
        }
    }
    return best;
}

static const char *resolve_tagged(const qf_pricing *pricing, const char *model)
{
    const char *colon = strchr(model, ':');
    char base[256];
    size_t len;

    if (colon == NULL)
        return NULL;
    len = (size_t)(colon - model);
    if (len == 0 || len >= sizeof(base))
        return NULL;
    memcpy(base, model, len);
    base[len] = '\0';
    return resolve_name(pricing, base);
}

const char *qf_pricing_resolve(const qf_pricing *pricing, const char *model)
{
    const char *name;

    if (pricing == NULL || model == NULL || model[0] == '\0')
        return NULL;
    name = resolve_name(pricing, model);
    if (name == NULL)
        name = resolve_dated(pricing, model);
    if (name == NULL)
        name = resolve_tagged(pricing, model);
    return name;
}

qf_status qf_pricing_lookup(const qf_pricing *pricing, const char *model,
                            qf_price *out)
{
    const char *name = qf_pricing_resolve(pricing, model);

    if (name == NULL)
        return QF_ERR_NOT_FOUND;
    *out = find_exact(pricing, name)->price;
    return QF_OK;
}

/* --- Cost ------------------------------------------------------------- */

/* Log the unpriced warning the first time this process meets `model`. */
static void warn_unpriced(const char *model)
{
    size_t len = strlen(model);
    warned_model *seen;

    pthread_mutex_lock(&warned_lock);
    for (seen = warned_models; seen != NULL; seen = seen->next) {
        if (strcmp(seen->name, model) == 0)
            break;
    }
    if (seen == NULL) {
        seen = malloc(sizeof(*seen) + len + 1);
        if (seen != NULL) {
            memcpy(seen->name, model, len + 1);
            seen->next = warned_models;
            warned_models = seen;
        }
        qf_log(QF_LOG_WARN, "pricing",
               "model '%s' has no price; its calls cost 0 and are marked "
               "unpriced. Add pricing.%s to the configuration",
               model, model);
    }
    pthread_mutex_unlock(&warned_lock);
}

static double rate_or_zero(double rate)
{
    return rate > 0 ? rate : 0;
}

qf_status qf_pricing_cost(const qf_pricing *pricing, const char *model,
                          const qf_usage *usage, int64_t images, double *usd,
                          int *unpriced)
{
    qf_price price;
    int64_t prompt = 0, cached = 0, completion = 0;
    double cached_rate;

    *usd = 0;
    *unpriced = 0;
    if (qf_pricing_lookup(pricing, model, &price) != QF_OK) {
        *unpriced = 1;
        warn_unpriced(model ? model : "(none)");
        return QF_OK;
    }

    if (usage != NULL) {
        prompt = usage->prompt_tokens > 0 ? usage->prompt_tokens : 0;
        cached = usage->cached_tokens > 0 ? usage->cached_tokens : 0;
        completion =
            usage->completion_tokens > 0 ? usage->completion_tokens : 0;
    }
    if (cached > prompt)
        cached = prompt;

    /* A table without a cached rate charges cached tokens as input. */
    cached_rate = price.cached_input_per_million >= 0
                      ? price.cached_input_per_million
                      : rate_or_zero(price.input_per_million);
    *usd = ((double)(prompt - cached) * rate_or_zero(price.input_per_million) +
            (double)cached * cached_rate +
            (double)completion * rate_or_zero(price.output_per_million)) /
               1e6 +
           (double)(images > 0 ? images : 0) * rate_or_zero(price.per_image);
    return QF_OK;
}

/*
 * checks.c - the checks that read a plugin without calling its hooks:
 * file permissions and the ABI handshake (both through the loader's own
 * refusals), vtable slots, capability claims and the option schema.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_objects.h"
#include "loader.h"

/* --- Loading -------------------------------------------------------- */

const qf_plugin_descriptor *qf_check_load(const char *path)
{
    qf_plugin *plugin = NULL;
    qf_error err;
    const qf_plugin_descriptor *d;

    qf_error_init(&err);
    if (qf_loader_open(path, &plugin, &err) != QF_OK)
        return NULL;
    d = plugin->descriptor;
    qf_plugin_free(plugin); /* the code stays loaded */
    return d;
}

const qf_plugin_descriptor *qf_check_load_raw(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void *symbol;
    qf_plugin_entry_fn entry;

    if (handle == NULL)
        return NULL;
    symbol = dlsym(handle, QF_PLUGIN_ENTRY_SYMBOL);
    if (symbol == NULL)
        return NULL;
    memcpy(&entry, &symbol, sizeof(entry));
    return entry();
}

int qf_check_permissions(const qf_check_options *opts, qf_check_out *out)
{
    qf_error err;

    qf_error_init(&err);
    if (qf_loader_check_permissions(opts->path, &err) != QF_OK) {
        qf_check_report_error(out, QF_CHECK_FAIL, "permissions", err.message,
                              "make the file and its folder writable by "
                              "their owner only");
        return 1;
    }
    qf_check_report(out, QF_CHECK_PASS, "permissions", NULL,
                    "file and folder are writable by their owner only");
    return 0;
}

int qf_check_handshake(const qf_check_options *opts, qf_check_out *out)
{
    qf_plugin *plugin = NULL;
    qf_error err;

    qf_error_init(&err);
    qf_check_phase(out, "qf_plugin_entry");
    if (qf_loader_open(opts->path, &plugin, &err) != QF_OK) {
        qf_check_report_error(out, QF_CHECK_FAIL, "handshake", err.message,
                              "rebuild the plugin against this SDK");
        return 1;
    }
    qf_check_report(out, QF_CHECK_PASS, "handshake", NULL,
                    "plugin \"%s\" %s speaks plugin ABI %u.%u",
                    plugin->descriptor->id,
                    plugin->descriptor->version ? plugin->descriptor->version
                                                : "(no version)",
                    (unsigned)plugin->descriptor->abi_major,
                    (unsigned)plugin->descriptor->abi_minor);
    qf_plugin_free(plugin);
    return 0;
}

/* --- Vtable slots --------------------------------------------------- */

typedef struct slot {
    const char *name;
    const void *fn; /* non-NULL when set */
    int required;   /* 1 required, 0 optional, 2 one of a pair */
} slot;

static void slot_set(slot *s, const char *name, int set, int required)
{
    s->name = name;
    s->fn = set ? s : NULL;
    s->required = required;
}

/* The slots of the descriptor's kind; returns their count, 0 when the
 * vtable is absent or too small to read. */
static size_t kind_slots(const qf_plugin_descriptor *d, slot s[8])
{
    if (d->kind == QF_KIND_PROVIDER && d->provider != NULL &&
        d->provider->size >= sizeof(qf_provider_vtable)) {
        slot_set(&s[0], "create", d->provider->create != NULL, 1);
        slot_set(&s[1], "destroy", d->provider->destroy != NULL, 1);
        slot_set(&s[2], "complete", d->provider->complete != NULL, 2);
        slot_set(&s[3], "generate_image", d->provider->generate_image != NULL,
                 2);
        return 4;
    }
    if (d->kind == QF_KIND_MIDDLEWARE && d->middleware != NULL &&
        d->middleware->size >= sizeof(qf_middleware_vtable)) {
        slot_set(&s[0], "create", d->middleware->create != NULL, 1);
        slot_set(&s[1], "destroy", d->middleware->destroy != NULL, 1);
        slot_set(&s[2], "on_request", d->middleware->on_request != NULL, 1);
        slot_set(&s[3], "on_response", d->middleware->on_response != NULL, 0);
        slot_set(&s[4], "on_complete", d->middleware->on_complete != NULL, 0);
        return 5;
    }
    if (d->kind == QF_KIND_CACHE_BACKEND && d->cache_backend != NULL &&
        d->cache_backend->size >= sizeof(qf_cache_backend_vtable)) {
        const qf_cache_backend_vtable *v = d->cache_backend;
        static const char *const names[] = {"create", "destroy", "get",
                                            "put",    "remove",  "prune",
                                            "clear",  "stats"};
        const int set[] = {v->create != NULL, v->destroy != NULL,
                           v->get != NULL,    v->put != NULL,
                           v->remove != NULL, v->prune != NULL,
                           v->clear != NULL,  v->stats != NULL};

        for (size_t i = 0; i < 8; i++)
            slot_set(&s[i], names[i], set[i], 1);
        return 8;
    }
    return 0;
}

static const char *kind_word(qf_plugin_kind kind)
{
    return kind == QF_KIND_PROVIDER     ? "provider"
           : kind == QF_KIND_MIDDLEWARE ? "middleware"
                                        : "cache_backend";
}

int qf_check_vtable(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d;
    slot s[8];
    size_t n, missing = 0;

    qf_check_phase(out, "qf_plugin_entry");
    d = qf_check_load_raw(opts->path);
    if (d == NULL || d->size < sizeof(*d) || d->abi_major != QF_ABI_MAJOR ||
        (n = kind_slots(d, s)) == 0)
        return 1; /* the handshake finding already reports why */

    for (size_t i = 0; i < n; i++) {
        if (s[i].fn != NULL || s[i].required != 1)
            continue;
        qf_check_report(out, QF_CHECK_FAIL, "vtable",
                        "set it to your function; the host calls it on every "
                        "instance",
                        "%s vtable slot %s is NULL; a %s must implement it",
                        kind_word(d->kind), s[i].name, kind_word(d->kind));
        missing++;
    }
    if (d->kind == QF_KIND_PROVIDER && s[2].fn == NULL && s[3].fn == NULL) {
        qf_check_report(out, QF_CHECK_FAIL, "vtable",
                        "implement complete (text) or generate_image (image)",
                        "provider vtable slots complete and generate_image are "
                        "both NULL; a provider needs at least one");
        missing++;
    }
    if (missing == 0)
        qf_check_report(out, QF_CHECK_PASS, "vtable", NULL,
                        "every required %s slot is set", kind_word(d->kind));
    return missing == 0 ? 0 : 1;
}

/* --- Capabilities --------------------------------------------------- */

static int claims(const qf_plugin_descriptor *d, const char *cap)
{
    for (size_t i = 0; d->capabilities != NULL && d->capabilities[i]; i++)
        if (strcmp(d->capabilities[i], cap) == 0)
            return 1;
    return 0;
}

static int check_provider_caps(const qf_plugin_descriptor *d, qf_check_out *out)
{
    int faults = 0;

    if (claims(d, QF_CAP_IMAGE) && d->provider->generate_image == NULL) {
        qf_check_report(out, QF_CHECK_FAIL, "capabilities",
                        "implement generate_image or remove \"image\" from "
                        "the capabilities",
                        "claims \"image\" but generate_image is NULL");
        faults++;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *cap = i == 0 ? QF_CAP_TEXT : QF_CAP_STREAM;

        if (!claims(d, cap) || d->provider->complete != NULL)
            continue;
        qf_check_report(out, QF_CHECK_FAIL, "capabilities",
                        "implement complete or remove the capability",
                        "claims \"%s\" but complete is NULL", cap);
        faults++;
    }
    if (d->provider->complete != NULL && !claims(d, QF_CAP_TEXT))
        qf_check_report(out, QF_CHECK_WARN, "capabilities",
                        "add \"text\" to the capabilities",
                        "implements complete but does not claim \"text\"; "
                        "roles cannot select it for text");
    if (d->provider->generate_image != NULL && !claims(d, QF_CAP_IMAGE))
        qf_check_report(out, QF_CHECK_WARN, "capabilities",
                        "add \"image\" to the capabilities",
                        "implements generate_image but does not claim "
                        "\"image\"");
    return faults;
}

int qf_check_capabilities(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d = qf_check_load(opts->path);
    int faults = 0;

    if (d == NULL)
        return 1;
    for (size_t i = 0; d->capabilities != NULL && d->capabilities[i]; i++) {
        const char *cap = d->capabilities[i];

        if (strcmp(cap, QF_CAP_TEXT) != 0 && strcmp(cap, QF_CAP_STREAM) != 0 &&
            strcmp(cap, QF_CAP_IMAGE) != 0)
            qf_check_report(out, QF_CHECK_WARN, "capabilities",
                            "use text, stream or image",
                            "unknown capability \"%s\"", cap);
    }
    if (d->kind == QF_KIND_PROVIDER)
        faults = check_provider_caps(d, out);
    if (faults == 0)
        qf_check_report(out, QF_CHECK_PASS, "capabilities", NULL,
                        "every claimed capability is implemented");
    return 0;
}

/* --- Option schema -------------------------------------------------- */

int qf_check_name_is_secret(const char *name)
{
    static const char *const words[] = {
        "api_key", "apikey",     "password",    "passwd",     "secret",
        "token",   "credential", "private_key", "access_key", "secret_key"};
    const char *base = strrchr(name, '.');
    size_t len;

    /* The last dotted part must end with one of the words at a word
     * boundary: "auth_token" is secret, "max_tokens" and "token_budget"
     * are not. */
    base = base != NULL ? base + 1 : name;
    len = strlen(base);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        const char *at = base + len - n;

        if (len >= n && strcmp(at, words[i]) == 0 &&
            (at == base || at[-1] == '_'))
            return 1;
    }
    return 0;
}

/* Whether `value` is valid YAML scalar text for `type`; MAP and LIST
 * defaults must be JSON-style flow text. */
static int default_fits(qf_option_type type, const char *value)
{
    char *end;
    int b;

    errno = 0;
    switch (type) {
    case QF_OPT_INT:
        (void)strtoll(value, &end, 10);
        return errno == 0 && end != value && *end == '\0';
    case QF_OPT_DOUBLE:
        (void)strtod(value, &end);
        return errno == 0 && end != value && *end == '\0';
    case QF_OPT_BOOL: return qf_check_parse_bool(value, &b) == 0;
    case QF_OPT_MAP: return value[0] == '{';
    case QF_OPT_LIST: return value[0] == '[';
    case QF_OPT_STRING: return 1;
    }
    return 0;
}

static const char *type_word(qf_option_type type)
{
    static const char *const words[] = {"?",    "string", "int", "double",
                                        "bool", "map",    "list"};

    return type >= QF_OPT_STRING && type <= QF_OPT_LIST ? words[type] : "?";
}

static int check_one_option(const qf_plugin_descriptor *d, size_t i,
                            qf_check_out *out)
{
    const qf_option_spec *o = &d->options[i];
    int faults = 0;

    if (o->size != sizeof(qf_option_spec)) {
        qf_check_report(out, QF_CHECK_FAIL, "options",
                        "set size to sizeof(qf_option_spec); the host steps "
                        "through the array by that size",
                        "option %zu (\"%s\") has size %u, expected %zu", i,
                        o->name, (unsigned)o->size, sizeof(qf_option_spec));
        faults++;
    }
    if (strcmp(type_word(o->type), "?") == 0) {
        qf_check_report(out, QF_CHECK_FAIL, "options",
                        "use one of QF_OPT_STRING ... QF_OPT_LIST",
                        "option \"%s\" has unknown type %d", o->name,
                        (int)o->type);
        return faults + 1;
    }
    if (o->default_value != NULL && !default_fits(o->type, o->default_value)) {
        qf_check_report(out, QF_CHECK_FAIL, "options",
                        "write the default as YAML text of the option's "
                        "type, such as \"30\", \"0.5\", \"true\", \"{}\"",
                        "option \"%s\" has type %s but its default \"%s\" is "
                        "not a valid %s",
                        o->name, type_word(o->type), o->default_value,
                        type_word(o->type));
        faults++;
    }
    if ((o->flags & QF_OPT_SECRET) == 0 && qf_check_name_is_secret(o->name)) {
        qf_check_report(out, QF_CHECK_FAIL, "options",
                        "add QF_OPT_SECRET to its flags so the host redacts "
                        "it in every output",
                        "option \"%s\" looks like a secret but lacks "
                        "QF_OPT_SECRET",
                        o->name);
        faults++;
    }
    return faults;
}

static void warn_option(const qf_option_spec *o, qf_check_out *out)
{
    if ((o->flags & QF_OPT_SECRET) != 0 && o->default_value != NULL)
        qf_check_report(out, QF_CHECK_WARN, "options",
                        "remove the default; a secret comes from the "
                        "environment or a file",
                        "secret option \"%s\" has a default value built into "
                        "the plugin",
                        o->name);
    if ((o->flags & QF_OPT_REQUIRED) != 0 && o->default_value != NULL)
        qf_check_report(out, QF_CHECK_WARN, "options",
                        "drop QF_OPT_REQUIRED or the default",
                        "required option \"%s\" also has a default, which is "
                        "never used",
                        o->name);
    if (o->description == NULL || o->description[0] == '\0')
        qf_check_report(out, QF_CHECK_WARN, "options",
                        "describe what the option sets and its unit",
                        "option \"%s\" has no description", o->name);
}

static int check_duplicates(const qf_plugin_descriptor *d, qf_check_out *out)
{
    int faults = 0;

    for (size_t i = 0; i < d->option_count; i++)
        for (size_t j = i + 1; j < d->option_count; j++) {
            if (strcmp(d->options[i].name, d->options[j].name) != 0)
                continue;
            qf_check_report(out, QF_CHECK_FAIL, "options",
                            "give each option a unique name",
                            "option \"%s\" is declared twice (entries %zu "
                            "and %zu)",
                            d->options[i].name, i, j);
            faults++;
        }
    return faults;
}

int qf_check_option_schema(const qf_check_options *opts, qf_check_out *out)
{
    const qf_plugin_descriptor *d = qf_check_load(opts->path);
    int faults;

    if (d == NULL)
        return 1;
    faults = check_duplicates(d, out);
    for (size_t i = 0; i < d->option_count; i++) {
        faults += check_one_option(d, i, out);
        warn_option(&d->options[i], out);
    }
    if (faults == 0)
        qf_check_report(out, QF_CHECK_PASS, "options", NULL,
                        "%zu options: unique names, defaults of their type, "
                        "secrets flagged",
                        d->option_count);
    return 0;
}

/*
 * config.h - the configuration file: loading, typed access with ${VAR}
 * expansion, layered merging, and resolving a role to its chain.
 *
 * A loaded file is a tree of qf_cnode values (map, list, scalar, null), each
 * remembering its file, line and column. ${VAR}, ${VAR:-default} and $$ are
 * expanded when a string is read, never at load time, so an unused value
 * that names an unset variable does no harm. Every error reads
 * "FILE:LINE:COLUMN: KEY.PATH: what is wrong; what is expected".
 *
 * Trees are immutable once built and may be read from many threads.
 */
#ifndef QF_CORE_CONFIG_H
#define QF_CORE_CONFIG_H

#include "qf/abi.h"

typedef struct qf_config qf_config;
typedef struct qf_cnode qf_cnode;

typedef enum qf_cnode_type {
    QF_CNODE_NULL = 0,
    QF_CNODE_SCALAR = 1,
    QF_CNODE_MAP = 2,
    QF_CNODE_LIST = 3
} qf_cnode_type;

/* Layers of the effective configuration, lowest precedence first. */
typedef enum qf_layer {
    QF_LAYER_DEFAULT = 0, /* built-in defaults */
    QF_LAYER_GLOBAL = 1,  /* top-level keys of the file (cache:, ...) */
    QF_LAYER_PROVIDER = 2,
    QF_LAYER_ROLE = 3,
    QF_LAYER_RUNTIME = 4 /* command-line options and per-call parameters */
} qf_layer;

/* --- Loading ---------------------------------------------------------- */

/*
 * Find the configuration file: `explicit_path` when not NULL, else
 * $QF_CONFIG, else ./plugins.yml, else ./.questfoundry/config.yml. Returns
 * the path in *out (malloc'd, caller frees) or QF_ERR_NOT_FOUND with a
 * message listing the places searched.
 */
qf_status qf_config_find(const char *explicit_path, char **out, qf_error *err);

/* Parse a YAML file. Returns NULL and sets err on failure. */
qf_config *qf_config_load(const char *path, qf_error *err);

/* Parse YAML text; `name` stands for the file name in messages and relative
 * paths resolve against the current directory. */
qf_config *qf_config_load_string(const char *text, size_t len, const char *name,
                                 qf_error *err);

void qf_config_free(qf_config *cfg);

const char *qf_config_path(const qf_config *cfg); /* as given */
const char *qf_config_dir(const qf_config *cfg);  /* folder of the file */
const qf_cnode *qf_config_root(const qf_config *cfg);

/*
 * The state directory: $QF_STATE_DIR, else `state_dir` of the file
 * (relative to the file's folder), else ".questfoundry" next to the file.
 * Returns a malloc'd path in *out.
 */
qf_status qf_config_state_dir(const qf_config *cfg, char **out, qf_error *err);

/* Plugin directories of `plugin_dirs`, resolved against the file's folder.
 * *out is a malloc'd NULL-terminated array of malloc'd strings; free with
 * qf_config_strings_free. */
qf_status qf_config_plugin_dirs(const qf_config *cfg, char ***out,
                                qf_error *err);
void qf_config_strings_free(char **strings);

/* --- Nodes ------------------------------------------------------------ */

qf_cnode_type qf_cnode_type_of(const qf_cnode *node);

/* Child of a map by key, or by dotted path ("timeout.total_seconds").
 * NULL when absent. An explicit YAML null is returned as a NULL-type node. */
const qf_cnode *qf_cnode_get(const qf_cnode *map, const char *key);
const qf_cnode *qf_cnode_path(const qf_cnode *node, const char *dotted_path);

/* Number of entries of a map or list; i-th entry and, for maps, its key. */
size_t qf_cnode_count(const qf_cnode *node);
const qf_cnode *qf_cnode_at(const qf_cnode *node, size_t index,
                            const char **key);

/* Where the node was written, and its YAML path from the root
 * ("providers.text.openai.api_key"). */
const char *qf_cnode_file(const qf_cnode *node);
int qf_cnode_line(const qf_cnode *node);
int qf_cnode_column(const qf_cnode *node);
const char *qf_cnode_key_path(const qf_cnode *node);

/* Layer a node of a merged tree came from (QF_LAYER_GLOBAL for a node of a
 * plain loaded tree). */
qf_layer qf_cnode_layer(const qf_cnode *node);
const char *qf_layer_name(qf_layer layer); /* "default", "provider", ... */

/* The scalar as written, before ${VAR} expansion. */
const char *qf_cnode_raw(const qf_cnode *node);

/*
 * Typed reads of a scalar with ${VAR} expansion. *out of qf_cnode_string is
 * malloc'd; caller frees. Errors name file, line, column, key path, the
 * value (unless the key is secret) and what is expected; an unset variable
 * without a default names the variable. The number and boolean reads also
 * accept a quoted scalar whose text is a number or boolean ("30").
 */
qf_status qf_cnode_string(const qf_cnode *node, char **out, qf_error *err);
qf_status qf_cnode_int(const qf_cnode *node, int64_t *out, qf_error *err);
qf_status qf_cnode_double(const qf_cnode *node, double *out, qf_error *err);
qf_status qf_cnode_bool(const qf_cnode *node, int *out, qf_error *err);

/* Convert a subtree to JSON text with every string expanded and scalars
 * typed as YAML 1.2 core would type them (plain 1 is a number, "1" a
 * string). *out is malloc'd. */
qf_status qf_cnode_to_json(const qf_cnode *node, char **out, qf_error *err);

/* True when a key name is a secret: api_key, password, token, secret, or
 * ends in one of them (openai_api_key, auth_token). */
int qf_config_key_is_secret(const char *key);

/* --- Building and merging trees ---------------------------------------- */

/* A fresh empty map; nodes created here report file "<runtime>". */
qf_cnode *qf_cnode_new_map(qf_layer layer);

/* Set a scalar at a dotted path of a map built with qf_cnode_new_map,
 * creating maps on the way. `value` NULL stores an explicit null. Scalars
 * set here are typed as YAML would type the text (so "0.7" is a number)
 * and are never ${VAR}-expanded, because they come from users at run time. */
qf_status qf_cnode_set(qf_cnode *map, const char *dotted_path,
                       const char *value, qf_error *err);

/* Deep copy of `node` with every node tagged with `layer`. */
qf_cnode *qf_cnode_copy(const qf_cnode *node, qf_layer layer);

/*
 * Merge `over` into `base` and return a new tree: maps merge recursively,
 * lists and scalars of `over` replace, an explicit null in `over` removes
 * the key. Either side may be NULL. Nodes keep their file, line and layer.
 */
qf_cnode *qf_cnode_merge(const qf_cnode *base, const qf_cnode *over);

void qf_cnode_free(qf_cnode *node);

/* --- Roles and chains ------------------------------------------------- */

/* One middleware entry of a chain: which plugin, with which settings. */
typedef struct qf_chain_entry {
    char *plugin_id;    /* "cache", "rate_limit", or a third-party id */
    char *name;         /* instance name for logs: "cache@plotwright" */
    qf_cnode *settings; /* merged settings of this entry (owned) */
} qf_chain_entry;

/*
 * What a role resolves to: its request defaults, its middleware chain and
 * its provider instance. provider_settings is the effective provider block.
 * It merges built-in defaults (timeout, retry), the provider block and the
 * role's provider keys (api_key, base_url, timeout, ...) in that order. It
 * leaves out the keys the plan carries in other fields (plugin, model,
 * params, options, cache, rate_limit). Two roles whose instance_key strings are
 * equal share one provider instance. instance_key holds a SHA-256 digest in
 * place of each secret value, never the secret itself. It is NULL when a
 * provider setting names an unset variable; the runtime reports that error
 * when it creates the instance.
 */
typedef struct qf_role_plan {
    char *role;
    qf_request_kind kind;
    char *provider_name;   /* provider block name, e.g. "openai" */
    char *provider_plugin; /* plugin id implementing it */
    qf_cnode *provider_settings;
    char *instance_key;      /* canonical JSON of plugin id + settings */
    char *model;             /* NULL when neither provider nor role sets it */
    qf_cnode *system_prompt; /* NULL or scalar, expanded when read */
    qf_cnode *params;        /* generation parameters, merged by layer */
    qf_cnode *options;       /* provider-native options, merged by layer */
    size_t chain_len;
    qf_chain_entry *chain; /* middleware in request order */
    qf_cnode *effective;   /* the whole merged view for `qf config show` */
} qf_role_plan;

/*
 * Resolve `role` under `cfg`. `runtime` (may be NULL) is the runtime layer:
 * a map with any of model, system_prompt, params, options. Roles missing
 * from `roles` use providers.text.default, or providers.image.default for
 * image roles (illustrator, art_director), or providers.audio.default for
 * audio_director and audio_producer when providers.audio exists. Returns
 * QF_ERR_CONFIG with the one-format message on a bad configuration,
 * including a provider block that does not exist. The model and plugin id
 * are expanded here. Provider settings are expanded later, when the runtime
 * creates the instance, so an unset variable in them (an API key) fails
 * only the calls that reach that provider, and `qf config show` still
 * works. Thread-safe for concurrent calls on one cfg; the plan belongs to
 * the caller.
 */
qf_status qf_config_resolve_role(const qf_config *cfg, const char *role,
                                 const qf_cnode *runtime, qf_role_plan **out,
                                 qf_error *err);
void qf_role_plan_free(qf_role_plan *plan);

/* Whether a role's work is images. */
qf_request_kind qf_role_kind(const char *role);

/* Whether `role` is one of the built-in QuestFoundry roles. */
int qf_config_role_is_builtin(const char *role);

/* Names of every role the file configures plus the built-in QuestFoundry
 * roles, sorted; free with qf_config_strings_free. */
qf_status qf_config_role_names(const qf_config *cfg, char ***out,
                               qf_error *err);

#endif /* QF_CORE_CONFIG_H */

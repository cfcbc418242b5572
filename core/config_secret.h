/*
 * config_secret.h - secrets found by a configuration value's content or
 * place rather than by its key name: credentials in the userinfo of a URL
 * (redis://:password@host:6379/0) and every value of a `headers` map.
 * `qf config show`, `qf config check` and the canonical settings JSON use
 * these so that such values never appear in their output.
 */
#ifndef QF_CORE_CONFIG_SECRET_H
#define QF_CORE_CONFIG_SECRET_H

#include "config.h"

/* True when `text` contains a URL with userinfo ("scheme://user:pass@host",
 * "scheme://:pass@host" or "scheme://user@host"). */
int qf_config_has_url_userinfo(const char *text);

/*
 * Copy `text` with the userinfo of every URL in it replaced by "***", so
 * "redis://:pw@cache:6379/0" keeps everything but ":pw". The userinfo
 * ends at the last '@' before the next whitespace or the next "://". A
 * password may contain '/', so a path that contains '@' is redacted too.
 * Returns a malloc'd string the caller frees, or NULL when out of memory.
 */
char *qf_config_redact_urls(const char *text);

/* True when `node` lies under a map whose key is `headers`, at any depth,
 * judged by its key path. Header values often carry proxy credentials. */
int qf_cnode_in_headers(const qf_cnode *node);

/*
 * Expand a scalar like qf_cnode_string. When the expansion fails because
 * a variable without a default is unset, *unset (malloc'd, caller frees)
 * names that variable; otherwise *unset is NULL. *out is malloc'd on
 * success and NULL on failure.
 */
qf_status qf_cnode_string_unset(const qf_cnode *node, char **out, char **unset,
                                qf_error *err);

#endif /* QF_CORE_CONFIG_SECRET_H */

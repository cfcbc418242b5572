/*
 * test_config.h - shared helpers of the configuration suites.
 */
#ifndef QF_TEST_CONFIG_H
#define QF_TEST_CONFIG_H

#include <check.h>

#include "config.h"
#include "error.h"

/* Load YAML text under the file name "plugins.yml"; fails the test on error. */
qf_config *load_text(const char *yaml);

/* Load YAML text expecting failure; returns the message (static buffer). */
const char *load_error(const char *yaml);

/* Resolve a role expecting success. */
qf_role_plan *resolve_ok(const qf_config *cfg, const char *role,
                         const qf_cnode *runtime);

/* Resolve a role expecting `status`; returns the message (static buffer). */
const char *resolve_error(const qf_config *cfg, const char *role,
                          qf_status status);

/* Typed reads of a node under `root` by dotted path, failing on error. */
char *string_at(const qf_cnode *root, const char *path);
int64_t int_at(const qf_cnode *root, const char *path);
double double_at(const qf_cnode *root, const char *path);

Suite *config_node_suite(void);
Suite *config_roles_suite(void);
Suite *config_secret_suite(void);

#endif /* QF_TEST_CONFIG_H */

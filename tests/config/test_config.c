/*
 * test_config.c - loading, node access, YAML typing, ${VAR} expansion,
 * merging, the search order and the secret check. Each test runs in its
 * own process (Check's fork mode), so setenv and chdir stay local.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_config.h"
#include "testutil.h"

static char message[QF_ERROR_MESSAGE_MAX];

qf_config *load_text(const char *yaml)
{
    qf_error err;
    qf_config *cfg;

    qf_error_init(&err);
    cfg = qf_config_load_string(yaml, strlen(yaml), "plugins.yml", &err);
    ck_assert_msg(cfg != NULL, "load failed: %s", err.message);
    return cfg;
}

const char *load_error(const char *yaml)
{
    qf_error err;
    qf_config *cfg;

    qf_error_init(&err);
    cfg = qf_config_load_string(yaml, strlen(yaml), "plugins.yml", &err);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(err.status, QF_ERR_CONFIG);
    snprintf(message, sizeof(message), "%s", err.message);
    return message;
}

qf_role_plan *resolve_ok(const qf_config *cfg, const char *role,
                         const qf_cnode *runtime)
{
    qf_error err;
    qf_role_plan *plan = NULL;

    qf_error_init(&err);
    ck_assert_msg(qf_config_resolve_role(cfg, role, runtime, &plan, &err) ==
                      QF_OK,
                  "resolving %s failed: %s", role, err.message);
    return plan;
}

const char *resolve_error(const qf_config *cfg, const char *role,
                          qf_status status)
{
    qf_error err;
    qf_role_plan *plan = NULL;

    qf_error_init(&err);
    ck_assert_int_eq(qf_config_resolve_role(cfg, role, NULL, &plan, &err),
                     status);
    ck_assert_ptr_null(plan);
    snprintf(message, sizeof(message), "%s", err.message);
    return message;
}

char *string_at(const qf_cnode *root, const char *path)
{
    qf_error err;
    char *out = NULL;

    qf_error_init(&err);
    ck_assert_msg(qf_cnode_string(qf_cnode_path(root, path), &out, &err) ==
                      QF_OK,
                  "%s: %s", path, err.message);
    return out;
}

int64_t int_at(const qf_cnode *root, const char *path)
{
    qf_error err;
    int64_t out = 0;

    qf_error_init(&err);
    ck_assert_msg(qf_cnode_int(qf_cnode_path(root, path), &out, &err) == QF_OK,
                  "%s: %s", path, err.message);
    return out;
}

double double_at(const qf_cnode *root, const char *path)
{
    qf_error err;
    double out = 0;

    qf_error_init(&err);
    ck_assert_msg(qf_cnode_double(qf_cnode_path(root, path), &out, &err) ==
                      QF_OK,
                  "%s: %s", path, err.message);
    return out;
}

static char *json_of(const qf_cnode *node)
{
    qf_error err;
    char *out = NULL;

    qf_error_init(&err);
    ck_assert_msg(qf_cnode_to_json(node, &out, &err) == QF_OK, "%s",
                  err.message);
    return out;
}

static const char *read_error(const qf_cnode *node)
{
    qf_error err;
    char *out = NULL;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_string(node, &out, &err), QF_ERR_CONFIG);
    ck_assert_ptr_null(out);
    snprintf(message, sizeof(message), "%s", err.message);
    return message;
}

/* --- Loading and positions ------------------------------------------- */

START_TEST(load_positions_and_paths)
{
    qf_config *cfg = load_text("providers:\n"
                               "  text:\n"
                               "    openai:\n"
                               "      model:   gpt-4o\n"
                               "list:\n"
                               "  - a\n"
                               "  - b\n");
    const qf_cnode *model =
        qf_cnode_path(qf_config_root(cfg), "providers.text.openai.model");
    const qf_cnode *list = qf_cnode_get(qf_config_root(cfg), "list");

    ck_assert_ptr_nonnull(model);
    ck_assert_str_eq(qf_cnode_file(model), "plugins.yml");
    ck_assert_int_eq(qf_cnode_line(model), 4);
    ck_assert_int_eq(qf_cnode_column(model), 16);
    ck_assert_str_eq(qf_cnode_key_path(model), "providers.text.openai.model");
    ck_assert_str_eq(qf_cnode_raw(model), "gpt-4o");
    ck_assert_int_eq(qf_cnode_layer(model), QF_LAYER_GLOBAL);
    ck_assert_int_eq(qf_cnode_type_of(list), QF_CNODE_LIST);
    ck_assert_uint_eq(qf_cnode_count(list), 2);
    ck_assert_str_eq(qf_cnode_key_path(qf_cnode_at(list, 1, NULL)), "list[1]");
    ck_assert_int_eq(qf_cnode_line(qf_cnode_at(list, 1, NULL)), 7);
    ck_assert_str_eq(qf_config_dir(cfg), ".");
    qf_config_free(cfg);
}
END_TEST

START_TEST(load_seed_file)
{
    qf_error err;
    qf_config *cfg;

    qf_error_init(&err);
    cfg = qf_config_load(QF_CONFIG_FIXTURES "/seed.yml", &err);
    ck_assert_msg(cfg != NULL, "%s", err.message);
    ck_assert_str_eq(qf_config_path(cfg), QF_CONFIG_FIXTURES "/seed.yml");
    ck_assert_int_eq(qf_cnode_line(qf_cnode_path(qf_config_root(cfg),
                                                 "roles.plotwright.model")),
                     25);
    qf_config_free(cfg);
}
END_TEST

START_TEST(load_empty_file_is_empty_map)
{
    qf_config *cfg = load_text("# nothing here\n");

    ck_assert_int_eq(qf_cnode_type_of(qf_config_root(cfg)), QF_CNODE_MAP);
    ck_assert_uint_eq(qf_cnode_count(qf_config_root(cfg)), 0);
    qf_config_free(cfg);
}
END_TEST

START_TEST(load_malformed_yaml)
{
    ck_assert_str_eq(load_error("roles:\n  plotwright: [a, b\n"),
                     "plugins.yml:3:1: invalid YAML: did not find expected "
                     "',' or ']' while parsing a flow sequence; expected "
                     "well-formed YAML (check indentation, colons and "
                     "quotes)");
    ck_assert_str_eq(load_error("a: b: c\n"),
                     "plugins.yml:1:5: invalid YAML: mapping values are not "
                     "allowed in this context; expected well-formed YAML "
                     "(check indentation, colons and quotes)");
}
END_TEST

START_TEST(load_duplicate_key)
{
    ck_assert_str_eq(load_error("roles:\n"
                                "  plotwright:\n"
                                "    model: a\n"
                                "    model: b\n"),
                     "plugins.yml:4:5: roles.plotwright: key \"model\" "
                     "appears twice in one map (first at line 3); expected "
                     "each key once, so remove one of them");
}
END_TEST

START_TEST(load_rejects_anchors_and_aliases)
{
    ck_assert_str_eq(load_error("base: &b {model: x}\n"),
                     "plugins.yml:1:7: base: YAML anchors (&name) and "
                     "aliases (*name) are not supported; write the value "
                     "out in full");
    ck_assert_str_eq(load_error("a: x\nb: *a\n"),
                     "plugins.yml:2:4: b: YAML anchors (&name) and aliases "
                     "(*name) are not supported; write the value out in "
                     "full");
    ck_assert_str_eq(load_error("a: {x: 1}\nb:\n  <<: {y: 2}\n"),
                     "plugins.yml:3:3: b: merge keys (<<) are not "
                     "supported; write the keys out in full");
}
END_TEST

START_TEST(load_rejects_non_map_top_level)
{
    ck_assert_str_eq(load_error("- a\n- b\n"),
                     "plugins.yml:1:1: (top level): the file's top level is "
                     "a list; expected a map of keys such as providers: and "
                     "roles:");
    ck_assert_str_eq(load_error("a: 1\n---\nb: 2\n"),
                     "plugins.yml:2:1: (top level): a second YAML document "
                     "starts here; expected one document per configuration "
                     "file");
}
END_TEST

START_TEST(load_missing_file)
{
    qf_error err;

    qf_error_init(&err);
    ck_assert_ptr_null(qf_config_load("/nonexistent/qf/plugins.yml", &err));
    ck_assert_int_eq(err.status, QF_ERR_NOT_FOUND);
    ck_assert_str_eq(err.message,
                     "/nonexistent/qf/plugins.yml: cannot open the "
                     "configuration file: No such file or directory; check "
                     "the path and its permissions");
}
END_TEST

/* --- Typing and expansion -------------------------------------------- */

START_TEST(json_types_like_yaml_core)
{
    qf_config *cfg;
    char *json;

    setenv("QF_T_NUM", "5", 1);
    cfg = load_text("a: 1\nb: \"1\"\nc: true\nd: null\ne: ~\nf:\ng: 1.5\n"
                    "h: 0x10\ni: yes\nj: '${QF_T_NUM}'\nk: ${QF_T_NUM}\n"
                    "l: [1, two]\nm: 1e3\nn: False\n");
    json = json_of(qf_config_root(cfg));
    ck_assert_str_eq(json, "{\"a\":1,\"b\":\"1\",\"c\":true,\"d\":null,"
                           "\"e\":null,\"f\":null,\"g\":1.5,\"h\":16,"
                           "\"i\":\"yes\",\"j\":\"5\",\"k\":5,"
                           "\"l\":[1,\"two\"],\"m\":1000,\"n\":false}");
    free(json);
    ck_assert_int_eq(qf_cnode_type_of(qf_cnode_get(qf_config_root(cfg), "d")),
                     QF_CNODE_NULL);
    qf_config_free(cfg);
}
END_TEST

START_TEST(expand_variables)
{
    qf_config *cfg;
    const qf_cnode *root;
    char *value;

    setenv("QF_T_HOST", "example.test", 1);
    setenv("QF_T_EMPTY", "", 1);
    unsetenv("QF_T_UNSET");
    cfg = load_text("a: https://${QF_T_HOST}/v1\n"
                    "b: ${QF_T_UNSET:-fallback}\n"
                    "c: ${QF_T_EMPTY:-used when empty}\n"
                    "d: price $$5 and $7\n"
                    "e: ${QF_T_UNSET:-${QF_T_HOST:-x}}\n"
                    "f: \"${QF_T_HOST}\"\n"
                    "g: ${QF_T_EMPTY}\n"
                    "h: ${QF_T_UNSET:-}\n");
    root = qf_config_root(cfg);
    ck_assert_str_eq(value = string_at(root, "a"), "https://example.test/v1");
    free(value);
    ck_assert_str_eq(value = string_at(root, "b"), "fallback");
    free(value);
    ck_assert_str_eq(value = string_at(root, "c"), "used when empty");
    free(value);
    ck_assert_str_eq(value = string_at(root, "d"), "price $5 and $7");
    free(value);
    ck_assert_str_eq(value = string_at(root, "e"), "example.test");
    free(value);
    ck_assert_str_eq(value = string_at(root, "f"), "example.test");
    free(value);
    ck_assert_str_eq(value = string_at(root, "g"), "");
    free(value);
    ck_assert_str_eq(value = string_at(root, "h"), "");
    free(value);
    ck_assert_str_eq(qf_cnode_raw(qf_cnode_get(root, "a")),
                     "https://${QF_T_HOST}/v1");
    qf_config_free(cfg);
}
END_TEST

START_TEST(expand_errors)
{
    qf_config *cfg;
    const qf_cnode *root;

    unsetenv("OPENAI_API_KEY");
    cfg = load_text("providers:\n"
                    "  text:\n"
                    "    openai:\n"
                    "      base_url: ${QF_T_HOST\n"
                    "      other: ${1X}\n"
                    "      more: ${A-b}\n"
                    "      api_key: ${OPENAI_API_KEY}\n");
    root = qf_config_root(cfg);
    ck_assert_str_eq(
        read_error(qf_cnode_path(root, "providers.text.openai.api_key")),
        "plugins.yml:7:16: providers.text.openai.api_key: "
        "environment variable OPENAI_API_KEY is not set; set it "
        "or write ${OPENAI_API_KEY:-default}");
    ck_assert_str_eq(
        read_error(qf_cnode_path(root, "providers.text.openai.base_url")),
        "plugins.yml:4:17: providers.text.openai.base_url: a "
        "\"${\" has no closing \"}\"; expected ${NAME} or "
        "${NAME:-default}, or $$ for a dollar sign");
    ck_assert_str_eq(
        read_error(qf_cnode_path(root, "providers.text.openai.other")),
        "plugins.yml:5:14: providers.text.openai.other: "
        "\"${1X}\" is not a valid variable reference; expected "
        "${NAME} or ${NAME:-default} with NAME made of letters, "
        "digits and underscores, or $$ for a dollar sign");
    ck_assert_str_eq(
        read_error(qf_cnode_path(root, "providers.text.openai.more")),
        "plugins.yml:6:13: providers.text.openai.more: "
        "\"${A-b}\" is not a valid variable reference; expected "
        "${NAME} or ${NAME:-default} with NAME made of letters, "
        "digits and underscores, or $$ for a dollar sign");
    qf_config_free(cfg);
}
END_TEST

START_TEST(typed_reads)
{
    qf_config *cfg = load_text("n: 42\nh: 0x1f\nf: 2.5\nq: \"7\"\nb: True\n"
                               "s: abc\nm: {x: 1}\nk: ~\napi_key: hunter2\n");
    const qf_cnode *root = qf_config_root(cfg);
    qf_error err;
    int64_t whole = 0;
    int flag = 0;

    ck_assert_int_eq(int_at(root, "n"), 42);
    ck_assert_int_eq(int_at(root, "h"), 31);
    ck_assert_int_eq(int_at(root, "q"), 7);
    ck_assert_double_eq(double_at(root, "f"), 2.5);
    ck_assert_double_eq(double_at(root, "n"), 42.0);
    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_bool(qf_cnode_get(root, "b"), &flag, &err),
                     QF_OK);
    ck_assert_int_eq(flag, 1);

    ck_assert_int_eq(qf_cnode_int(qf_cnode_get(root, "f"), &whole, &err),
                     QF_ERR_CONFIG);
    ck_assert_str_eq(err.message, "plugins.yml:3:4: f: \"2.5\" is invalid; "
                                  "expected a whole number such as 30");
    ck_assert_int_eq(qf_cnode_bool(qf_cnode_get(root, "s"), &flag, &err),
                     QF_ERR_CONFIG);
    ck_assert_str_eq(err.message, "plugins.yml:6:4: s: \"abc\" is invalid; "
                                  "expected true or false");
    ck_assert_int_eq(qf_cnode_int(qf_cnode_get(root, "api_key"), &whole, &err),
                     QF_ERR_CONFIG);
    ck_assert_str_eq(err.message, "plugins.yml:9:10: api_key: value is "
                                  "invalid; expected a whole number such as "
                                  "30");
    ck_assert_str_eq(read_error(qf_cnode_get(root, "m")),
                     "plugins.yml:7:4: m: value is a map; expected a string");
    ck_assert_str_eq(read_error(qf_cnode_get(root, "k")),
                     "plugins.yml:8:4: k: value is null; expected a string");
    qf_config_free(cfg);
}
END_TEST

/* --- Building and merging -------------------------------------------- */

START_TEST(set_builds_runtime_map)
{
    qf_cnode *map = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_error err;
    char *json;
    const qf_cnode *leaf;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_set(map, "params.temperature", "0.7", &err),
                     QF_OK);
    ck_assert_int_eq(qf_cnode_set(map, "model", "gpt-x", &err), QF_OK);
    ck_assert_int_eq(qf_cnode_set(map, "system_prompt", "costs $$5", &err),
                     QF_OK);
    ck_assert_int_eq(qf_cnode_set(map, "params.stop", NULL, &err), QF_OK);
    json = json_of(map);
    ck_assert_str_eq(json, "{\"params\":{\"temperature\":0.7,\"stop\":null},"
                           "\"model\":\"gpt-x\",\"system_prompt\":"
                           "\"costs $$5\"}");
    free(json);
    leaf = qf_cnode_path(map, "params.temperature");
    ck_assert_str_eq(qf_cnode_file(leaf), "<runtime>");
    ck_assert_str_eq(qf_cnode_key_path(leaf), "params.temperature");
    ck_assert_int_eq(qf_cnode_layer(leaf), QF_LAYER_RUNTIME);
    ck_assert_int_eq(qf_cnode_set(map, "a..b", "1", &err), QF_ERR_INVALID);
    qf_cnode_free(map);
}
END_TEST

START_TEST(merge_rules)
{
    qf_config *base = load_text("a:\n  x: 1\n  y: 2\n  deep: {k: 1, j: 2}\n"
                                "list: [1, 2, 3]\ngone: here\nkeep: k\n");
    qf_config *over = load_text("a:\n  y: 20\n  z: 30\n  deep: {j: ~}\n"
                                "list: [9]\ngone: null\nnew: {n: 1, m: ~}\n");
    qf_cnode *lower = qf_cnode_copy(qf_config_root(base), QF_LAYER_PROVIDER);
    qf_cnode *upper = qf_cnode_copy(qf_config_root(over), QF_LAYER_ROLE);
    qf_cnode *merged = qf_cnode_merge(lower, upper);
    char *json = json_of(merged);

    ck_assert_str_eq(json, "{\"a\":{\"x\":1,\"y\":20,\"deep\":{\"k\":1},"
                           "\"z\":30},\"list\":[9],\"keep\":\"k\","
                           "\"new\":{\"n\":1}}");
    free(json);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_path(merged, "a.x")),
                     QF_LAYER_PROVIDER);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_path(merged, "a.y")),
                     QF_LAYER_ROLE);
    ck_assert_int_eq(qf_cnode_line(qf_cnode_path(merged, "a.y")), 2);
    ck_assert_int_eq(qf_cnode_line(qf_cnode_path(merged, "keep")), 7);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(merged, "list")),
                     QF_LAYER_ROLE);
    ck_assert_ptr_null(qf_cnode_get(merged, "gone"));
    qf_cnode_free(merged);

    merged = qf_cnode_merge(NULL, upper);
    ck_assert_ptr_null(qf_cnode_get(merged, "gone"));
    qf_cnode_free(merged);
    merged = qf_cnode_merge(lower, NULL);
    ck_assert_str_eq(qf_cnode_raw(qf_cnode_get(merged, "gone")), "here");
    qf_cnode_free(merged);
    ck_assert_ptr_null(qf_cnode_merge(NULL, NULL));
    qf_cnode_free(lower);
    qf_cnode_free(upper);
    qf_config_free(base);
    qf_config_free(over);
}
END_TEST

/* --- Finding the file, places and names ------------------------------ */

static int find_in(const char *dir, char **found)
{
    qf_error err;

    qf_error_init(&err);
    if (chdir(dir) != 0)
        return -1;
    return qf_config_find(NULL, found, &err);
}

/* Runs in a child process so that chdir does not leak into other tests. */
static void check_search_order(const char *dir)
{
    char *found = NULL;
    qf_error err;

    qf_error_init(&err);
    unsetenv("QF_CONFIG");
    ck_assert_int_eq(find_in(dir, &found), QF_ERR_NOT_FOUND);

    free(qf_test_write_file(dir, ".questfoundry/config.yml", "a: 1\n"));
    ck_assert_int_eq(find_in(dir, &found), QF_OK);
    ck_assert_str_eq(found, ".questfoundry/config.yml");
    free(found);

    free(qf_test_write_file(dir, "plugins.yml", "a: 1\n"));
    ck_assert_int_eq(find_in(dir, &found), QF_OK);
    ck_assert_str_eq(found, "plugins.yml");
    free(found);

    free(qf_test_write_file(dir, "other.yml", "a: 1\n"));
    setenv("QF_CONFIG", "other.yml", 1);
    ck_assert_int_eq(find_in(dir, &found), QF_OK);
    ck_assert_str_eq(found, "other.yml");
    free(found);

    ck_assert_int_eq(qf_config_find("plugins.yml", &found, &err), QF_OK);
    ck_assert_str_eq(found, "plugins.yml");
    free(found);

    setenv("QF_CONFIG", "missing.yml", 1);
    ck_assert_int_eq(qf_config_find(NULL, &found, &err), QF_ERR_NOT_FOUND);
    ck_assert_str_eq(err.message, "configuration file missing.yml (from "
                                  "$QF_CONFIG) not found; fix QF_CONFIG or "
                                  "unset it");
}

START_TEST(find_search_order)
{
    char *dir = qf_test_tmpdir("config-find");
    char nested[4096];
    pid_t pid;
    int status = 0;

    snprintf(nested, sizeof(nested), "%s/.questfoundry", dir);
    ck_assert_int_eq(mkdir(nested, 0700), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        check_search_order(dir);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the search order checks failed in the child process");
    qf_test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(no_config_message)
{
    char *dir = qf_test_tmpdir("config-none");
    char *found = NULL;
    qf_error err;

    qf_error_init(&err);
    unsetenv("QF_CONFIG");
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_int_eq(qf_config_find(NULL, &found, &err), QF_ERR_NOT_FOUND);
    ck_assert_str_eq(err.message,
                     "no configuration file found: --config was not given, "
                     "$QF_CONFIG is not set, and neither ./plugins.yml nor "
                     "./.questfoundry/config.yml exists; create one of them "
                     "or pass --config FILE");
    qf_test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(state_and_plugin_dirs)
{
    char *dir = qf_test_tmpdir("config-dirs");
    char *path = qf_test_write_file(dir, "plugins.yml",
                                    "state_dir: state\n"
                                    "plugin_dirs: [plugins, /opt/qf]\n");
    char *real = realpath(dir, NULL);
    char expected[4096];
    qf_error err;
    qf_config *cfg;
    char *state = NULL;
    char **dirs = NULL;

    qf_error_init(&err);
    cfg = qf_config_load(path, &err);
    ck_assert_msg(cfg != NULL, "%s", err.message);
    unsetenv("QF_STATE_DIR");
    ck_assert_int_eq(qf_config_state_dir(cfg, &state, &err), QF_OK);
    snprintf(expected, sizeof(expected), "%s/state", real);
    ck_assert_str_eq(state, expected);
    free(state);
    setenv("QF_STATE_DIR", "/tmp/qf-state-override", 1);
    ck_assert_int_eq(qf_config_state_dir(cfg, &state, &err), QF_OK);
    ck_assert_str_eq(state, "/tmp/qf-state-override");
    free(state);

    ck_assert_int_eq(qf_config_plugin_dirs(cfg, &dirs, &err), QF_OK);
    snprintf(expected, sizeof(expected), "%s/plugins", real);
    ck_assert_str_eq(dirs[0], expected);
    ck_assert_str_eq(dirs[1], "/opt/qf");
    ck_assert_ptr_null(dirs[2]);
    qf_config_strings_free(dirs);
    qf_config_free(cfg);

    unsetenv("QF_STATE_DIR");
    cfg = load_text("a: 1\n");
    ck_assert_int_eq(qf_config_state_dir(cfg, &state, &err), QF_OK);
    ck_assert_str_eq(state, "./.questfoundry");
    free(state);
    ck_assert_int_eq(qf_config_plugin_dirs(cfg, &dirs, &err), QF_OK);
    ck_assert_ptr_null(dirs[0]);
    qf_config_strings_free(dirs);
    qf_config_free(cfg);

    qf_test_rmtree(dir);
    free(real);
    free(path);
    free(dir);
}
END_TEST

START_TEST(role_names_sorted)
{
    qf_config *cfg = load_text("roles:\n  zeta: {}\n  plotwright: {}\n");
    char **names = NULL;
    qf_error err;
    size_t count = 0;

    qf_error_init(&err);
    ck_assert_int_eq(qf_config_role_names(cfg, &names, &err), QF_OK);
    while (names[count] != NULL)
        count++;
    ck_assert_uint_eq(count, 16);
    ck_assert_str_eq(names[0], "art_director");
    ck_assert_str_eq(names[1], "audio_director");
    ck_assert_str_eq(names[14], "translator");
    ck_assert_str_eq(names[15], "zeta");
    qf_config_strings_free(names);
    qf_config_free(cfg);
}
END_TEST

START_TEST(secret_keys)
{
    ck_assert_int_eq(qf_config_key_is_secret("api_key"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("openai_api_key"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("auth_token"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("password"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("client_secret"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("X-Api-Key"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("Authorization"), 1);
    ck_assert_int_eq(qf_config_key_is_secret("tokens_per_hour"), 0);
    ck_assert_int_eq(qf_config_key_is_secret("max_tokens"), 0);
    ck_assert_int_eq(qf_config_key_is_secret("model"), 0);
    ck_assert_int_eq(qf_config_key_is_secret("base_url"), 0);
    ck_assert_int_eq(qf_config_key_is_secret(NULL), 0);
}
END_TEST

Suite *config_node_suite(void)
{
    Suite *suite = suite_create("config_node");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, load_positions_and_paths);
    tcase_add_test(tc, load_seed_file);
    tcase_add_test(tc, load_empty_file_is_empty_map);
    tcase_add_test(tc, load_malformed_yaml);
    tcase_add_test(tc, load_duplicate_key);
    tcase_add_test(tc, load_rejects_anchors_and_aliases);
    tcase_add_test(tc, load_rejects_non_map_top_level);
    tcase_add_test(tc, load_missing_file);
    tcase_add_test(tc, json_types_like_yaml_core);
    tcase_add_test(tc, expand_variables);
    tcase_add_test(tc, expand_errors);
    tcase_add_test(tc, typed_reads);
    tcase_add_test(tc, set_builds_runtime_map);
    tcase_add_test(tc, merge_rules);
    tcase_add_test(tc, find_search_order);
    tcase_add_test(tc, no_config_message);
    tcase_add_test(tc, state_and_plugin_dirs);
    tcase_add_test(tc, role_names_sorted);
    tcase_add_test(tc, secret_keys);
    suite_add_tcase(suite, tc);
    return suite;
}

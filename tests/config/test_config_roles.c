/*
 * test_config_roles.c - resolving roles: the original QuestFoundry example,
 * defaults,
 * layer precedence, instance keys, implicit and explicit chains, image and
 * audio roles, and every resolution error message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_config.h"

static qf_config *load_seed(void)
{
    qf_error err;
    qf_config *cfg;

    qf_error_init(&err);
    cfg = qf_config_load(QF_CONFIG_FIXTURES "/seed.yml", &err);
    ck_assert_msg(cfg != NULL, "%s", err.message);
    return cfg;
}

static void check_seed_chain(const qf_role_plan *plan)
{
    const qf_cnode *cache, *limits;

    ck_assert_uint_eq(plan->chain_len, 2);
    ck_assert_str_eq(plan->chain[0].plugin_id, "cache");
    ck_assert_str_eq(plan->chain[0].name, "cache@openai");
    cache = plan->chain[0].settings;
    ck_assert_int_eq(int_at(cache, "ttl_seconds"), 3600);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(cache, "ttl_seconds")),
                     QF_LAYER_PROVIDER);

    ck_assert_str_eq(plan->chain[1].plugin_id, "rate_limit");
    ck_assert_str_eq(plan->chain[1].name, "rate_limit@openai");
    limits = plan->chain[1].settings;
    ck_assert_str_eq(qf_cnode_raw(qf_cnode_get(limits, "scope")), "provider");
    ck_assert_str_eq(qf_cnode_raw(qf_cnode_get(limits, "scope_id")), "openai");
    ck_assert_int_eq(int_at(limits, "requests_per_minute"), 60);
    ck_assert_int_eq(int_at(limits, "tokens_per_hour"), 90000);
    ck_assert_double_eq(double_at(limits, "cost_per_day"), 10.0);
}

START_TEST(seed_plotwright)
{
    qf_config *cfg;
    qf_role_plan *plan;

    setenv("OPENAI_API_KEY", "sk-test-1", 1);
    cfg = load_seed();
    plan = resolve_ok(cfg, "plotwright", NULL);
    ck_assert_str_eq(plan->role, "plotwright");
    ck_assert_int_eq(plan->kind, QF_REQUEST_TEXT);
    ck_assert_str_eq(plan->provider_name, "openai");
    ck_assert_str_eq(plan->provider_plugin, "openai");
    ck_assert_str_eq(plan->model, "gpt-3.5-turbo");
    ck_assert_ptr_null(plan->system_prompt);
    check_seed_chain(plan);
    qf_role_plan_free(plan);
    qf_config_free(cfg);
}
END_TEST

START_TEST(seed_shared_instance)
{
    qf_config *cfg;
    qf_role_plan *gatekeeper, *scene_smith, *plotwright;

    setenv("OPENAI_API_KEY", "sk-test-1", 1);
    cfg = load_seed();
    gatekeeper = resolve_ok(cfg, "gatekeeper", NULL);
    scene_smith = resolve_ok(cfg, "scene_smith", NULL);
    plotwright = resolve_ok(cfg, "plotwright", NULL);
    ck_assert_str_eq(gatekeeper->instance_key, scene_smith->instance_key);
    ck_assert_str_eq(gatekeeper->instance_key, plotwright->instance_key);
    ck_assert_str_eq(
        gatekeeper->instance_key,
        "{\"plugin\":\"openai\",\"settings\":{\"api_key\":"
        "\"sha256:db567a0dd8d24a1a894b3f1ceac157727179c1d15c226c"
        "5554dd1972d0fed479\",\"retry\":{\"max_attempts\":3,"
        "\"max_wait_seconds\":30},\"timeout\":{\"connect_seconds\":"
        "10,\"total_seconds\":120}}}");
    ck_assert_ptr_null(strstr(gatekeeper->instance_key, "sk-test-1"));
    qf_role_plan_free(gatekeeper);
    qf_role_plan_free(scene_smith);
    qf_role_plan_free(plotwright);
    qf_config_free(cfg);
}
END_TEST

START_TEST(seed_unlisted_role_uses_default)
{
    qf_config *cfg;
    qf_role_plan *plan;

    setenv("OPENAI_API_KEY", "sk-test-1", 1);
    cfg = load_seed();
    plan = resolve_ok(cfg, "lore_weaver", NULL);
    ck_assert_str_eq(plan->provider_name, "openai");
    ck_assert_str_eq(plan->model, "gpt-4o");
    check_seed_chain(plan);
    qf_role_plan_free(plan);
    qf_config_free(cfg);
}
END_TEST

/*
 * Resolve `role` (which succeeds, so `qf config show` works) and return
 * the error raised when its provider settings are expanded, as the runtime
 * does when it creates the instance. The plan has no instance key then.
 */
static const char *settings_error(const qf_config *cfg, const char *role)
{
    static char message[QF_ERROR_MESSAGE_MAX];
    qf_role_plan *plan = resolve_ok(cfg, role, NULL);
    char *json = NULL;
    qf_error err;

    qf_error_init(&err);
    ck_assert_ptr_null(plan->instance_key);
    ck_assert_int_eq(qf_cnode_to_json(plan->provider_settings, &json, &err),
                     QF_ERR_CONFIG);
    ck_assert_ptr_null(json);
    snprintf(message, sizeof(message), "%s", err.message);
    qf_role_plan_free(plan);
    return message;
}

START_TEST(seed_unset_key_error)
{
    qf_config *cfg;
    char expected[1024];

    unsetenv("OPENAI_API_KEY");
    cfg = load_seed();
    snprintf(expected, sizeof(expected),
             "%s/seed.yml:8:16: providers.text.openai.api_key: environment "
             "variable OPENAI_API_KEY is not set; set it or write "
             "${OPENAI_API_KEY:-default}",
             QF_CONFIG_FIXTURES);
    ck_assert_str_eq(settings_error(cfg, "plotwright"), expected);
    qf_config_free(cfg);
}
END_TEST

static const char two_providers[] =
    "providers:\n"                             /* 1 */
    "  text:\n"                                /* 2 */
    "    default: local\n"                     /* 3 */
    "    local:\n"                             /* 4 */
    "      plugin: ollama\n"                   /* 5 */
    "      base_url: http://127.0.0.1:11434\n" /* 6 */
    "      model: llama3\n"                    /* 7 */
    "    openai:\n"                            /* 8 */
    "      api_key: ${QF_T_MISSING_KEY}\n"     /* 9 */
    "roles:\n"                                 /* 10 */
    "  scene_smith:\n"                         /* 11 */
    "    provider: openai\n"                   /* 12 */
    "    model: gpt-4o\n";                     /* 13 */

START_TEST(unset_variable_only_for_user)
{
    qf_config *cfg;
    qf_role_plan *plan;

    unsetenv("QF_T_MISSING_KEY");
    cfg = load_text(two_providers);
    plan = resolve_ok(cfg, "plotwright", NULL);
    ck_assert_str_eq(plan->provider_name, "local");
    ck_assert_str_eq(plan->provider_plugin, "ollama");
    ck_assert_str_eq(plan->model, "llama3");
    ck_assert_uint_eq(plan->chain_len, 0);
    qf_role_plan_free(plan);
    ck_assert_str_eq(settings_error(cfg, "scene_smith"),
                     "plugins.yml:9:16: providers.text.openai.api_key: "
                     "environment variable QF_T_MISSING_KEY is not set; set "
                     "it or write ${QF_T_MISSING_KEY:-default}");
    qf_config_free(cfg);
}
END_TEST

static const char layered[] =
    "cache:\n"                                                   /* 1 */
    "  ttl_seconds: 60\n"                                        /* 2 */
    "  backend: file\n"                                          /* 3 */
    "providers:\n"                                               /* 4 */
    "  text:\n"                                                  /* 5 */
    "    default: main\n"                                        /* 6 */
    "    main:\n"                                                /* 7 */
    "      plugin: openai\n"                                     /* 8 */
    "      api_key: ${QF_T_KEY:-sk-x}\n"                         /* 9 */
    "      model: base-model\n"                                  /* 10 */
    "      timeout: {total_seconds: 60}\n"                       /* 11 */
    "      params: {temperature: 0.2, top_p: 0.9}\n"             /* 12 */
    "      options: {num_ctx: 4096}\n"                           /* 13 */
    "      cache: {enabled: true}\n"                             /* 14 */
    "roles:\n"                                                   /* 15 */
    "  plotwright:\n"                                            /* 16 */
    "    model: role-model\n"                                    /* 17 */
    "    system_prompt: You outline stories.\n"                  /* 18 */
    "    params: {temperature: 0.5, seed: 7}\n"                  /* 19 */
    "    timeout: {connect_seconds: 5}\n"                        /* 20 */
    "    cache: {ttl_seconds: 600}\n"                            /* 21 */
    "    rate_limit: {requests_per_minute: 5, on_limit: wait}\n" /* 22 */
    "  gatekeeper:\n"                                            /* 23 */
    "    cache: {enabled: false}\n"                              /* 24 */
    "  scene_smith:\n"                                           /* 25 */
    "    api_key: sk-other\n";                                   /* 26 */

START_TEST(layers_precedence)
{
    qf_config *cfg = load_text(layered);
    qf_cnode *runtime = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_role_plan *plan;
    const qf_cnode *settings;
    qf_error err;
    char *text;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_set(runtime, "params.seed", "42", &err), QF_OK);
    ck_assert_int_eq(qf_cnode_set(runtime, "params.top_p", NULL, &err), QF_OK);
    plan = resolve_ok(cfg, "plotwright", runtime);

    ck_assert_str_eq(plan->model, "role-model");
    ck_assert_str_eq(text = string_at(plan->system_prompt, ""),
                     "You outline stories.");
    free(text);
    ck_assert_int_eq(qf_cnode_layer(plan->system_prompt), QF_LAYER_ROLE);
    ck_assert_double_eq(double_at(plan->params, "temperature"), 0.5);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(plan->params, "temperature")),
                     QF_LAYER_ROLE);
    ck_assert_int_eq(int_at(plan->params, "seed"), 42);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(plan->params, "seed")),
                     QF_LAYER_RUNTIME);
    ck_assert_ptr_null(qf_cnode_get(plan->params, "top_p"));
    ck_assert_int_eq(int_at(plan->options, "num_ctx"), 4096);
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(plan->options, "num_ctx")),
                     QF_LAYER_PROVIDER);

    settings = plan->provider_settings;
    ck_assert_int_eq(int_at(settings, "timeout.connect_seconds"), 5);
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_path(settings, "timeout.connect_seconds")),
        QF_LAYER_ROLE);
    ck_assert_int_eq(int_at(settings, "timeout.total_seconds"), 60);
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_path(settings, "timeout.total_seconds")),
        QF_LAYER_PROVIDER);
    ck_assert_int_eq(int_at(settings, "retry.max_attempts"), 3);
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_path(settings, "retry.max_attempts")),
        QF_LAYER_DEFAULT);
    ck_assert_ptr_null(qf_cnode_get(settings, "model"));
    ck_assert_ptr_null(qf_cnode_get(settings, "cache"));

    ck_assert_uint_eq(plan->chain_len, 2);
    ck_assert_str_eq(plan->chain[0].name, "cache@plotwright");
    ck_assert_int_eq(int_at(plan->chain[0].settings, "ttl_seconds"), 600);
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_get(plan->chain[0].settings, "ttl_seconds")),
        QF_LAYER_ROLE);
    ck_assert_str_eq(
        qf_cnode_raw(qf_cnode_get(plan->chain[0].settings, "backend")), "file");
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_get(plan->chain[0].settings, "backend")),
        QF_LAYER_GLOBAL);
    ck_assert_str_eq(plan->chain[1].name, "rate_limit@plotwright");
    ck_assert_str_eq(
        qf_cnode_raw(qf_cnode_get(plan->chain[1].settings, "scope")), "role");
    ck_assert_str_eq(
        qf_cnode_raw(qf_cnode_get(plan->chain[1].settings, "scope_id")),
        "plotwright");

    ck_assert_str_eq(qf_cnode_raw(qf_cnode_path(plan->effective, "model")),
                     "role-model");
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_path(plan->effective, "model")),
                     QF_LAYER_ROLE);
    ck_assert_int_eq(qf_cnode_line(qf_cnode_path(plan->effective, "model")),
                     17);
    ck_assert_str_eq(
        qf_cnode_raw(qf_cnode_path(plan->effective, "provider.plugin")),
        "openai");
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_path(plan->effective,
                                                  "provider.settings.timeout."
                                                  "connect_seconds")),
                     QF_LAYER_ROLE);
    ck_assert_uint_eq(qf_cnode_count(qf_cnode_get(plan->effective, "chain")),
                      2);
    qf_role_plan_free(plan);
    qf_cnode_free(runtime);
    qf_config_free(cfg);
}
END_TEST

START_TEST(runtime_model_wins)
{
    qf_config *cfg = load_text(layered);
    qf_cnode *runtime = qf_cnode_new_map(QF_LAYER_RUNTIME);
    qf_role_plan *plan;
    qf_error err;

    qf_error_init(&err);
    ck_assert_int_eq(qf_cnode_set(runtime, "model", "cli-model", &err), QF_OK);
    plan = resolve_ok(cfg, "plotwright", runtime);
    ck_assert_str_eq(plan->model, "cli-model");
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(plan->effective, "model")),
                     QF_LAYER_RUNTIME);
    qf_role_plan_free(plan);
    plan = resolve_ok(cfg, "researcher", NULL);
    ck_assert_str_eq(plan->model, "base-model");
    ck_assert_int_eq(qf_cnode_layer(qf_cnode_get(plan->effective, "model")),
                     QF_LAYER_PROVIDER);
    qf_role_plan_free(plan);
    qf_cnode_free(runtime);
    qf_config_free(cfg);
}
END_TEST

START_TEST(cache_disabled_by_role)
{
    qf_config *cfg = load_text(layered);
    qf_role_plan *plan = resolve_ok(cfg, "gatekeeper", NULL);

    ck_assert_uint_eq(plan->chain_len, 0);
    qf_role_plan_free(plan);
    qf_config_free(cfg);
}
END_TEST

START_TEST(role_override_gets_own_instance)
{
    qf_config *cfg = load_text(layered);
    qf_role_plan *plotwright = resolve_ok(cfg, "plotwright", NULL);
    qf_role_plan *gatekeeper = resolve_ok(cfg, "gatekeeper", NULL);
    qf_role_plan *scene_smith = resolve_ok(cfg, "scene_smith", NULL);
    qf_role_plan *researcher = resolve_ok(cfg, "researcher", NULL);

    /* plotwright overrides timeout, scene_smith overrides api_key. */
    ck_assert_str_ne(plotwright->instance_key, gatekeeper->instance_key);
    ck_assert_str_ne(scene_smith->instance_key, gatekeeper->instance_key);
    ck_assert_str_eq(gatekeeper->instance_key, researcher->instance_key);
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_get(scene_smith->provider_settings, "api_key")),
        QF_LAYER_ROLE);
    ck_assert_ptr_null(strstr(scene_smith->instance_key, "sk-other"));
    qf_role_plan_free(plotwright);
    qf_role_plan_free(gatekeeper);
    qf_role_plan_free(scene_smith);
    qf_role_plan_free(researcher);
    qf_config_free(cfg);
}
END_TEST

START_TEST(explicit_chain)
{
    qf_config *cfg =
        load_text("cache: {ttl_seconds: 60}\n"
                  "providers:\n"
                  "  text:\n"
                  "    default: openai\n"
                  "    openai:\n"
                  "      cache: {enabled: true, ttl_seconds: 3600}\n"
                  "      rate_limit: {requests_per_minute: 60}\n"
                  "roles:\n"
                  "  plotwright:\n"
                  "    chain:\n"
                  "      - {plugin: rate_limit, cost_per_day: 2.5}\n"
                  "      - cache\n"
                  "      - {plugin: audit, level: 2}\n"
                  "      - audit\n");
    qf_role_plan *plan = resolve_ok(cfg, "plotwright", NULL);

    ck_assert_uint_eq(plan->chain_len, 4);
    ck_assert_str_eq(plan->chain[0].plugin_id, "rate_limit");
    ck_assert_str_eq(plan->chain[0].name, "rate_limit@plotwright");
    ck_assert_double_eq(double_at(plan->chain[0].settings, "cost_per_day"),
                        2.5);
    ck_assert_ptr_null(qf_cnode_get(plan->chain[0].settings, "plugin"));
    ck_assert_ptr_null(
        qf_cnode_get(plan->chain[0].settings, "requests_per_minute"));
    ck_assert_str_eq(plan->chain[1].plugin_id, "cache");
    ck_assert_str_eq(plan->chain[1].name, "cache@plotwright");
    ck_assert_int_eq(int_at(plan->chain[1].settings, "ttl_seconds"), 60);
    ck_assert_str_eq(
        qf_cnode_raw(qf_cnode_get(plan->chain[1].settings, "enabled")), "true");
    ck_assert_int_eq(
        qf_cnode_layer(qf_cnode_get(plan->chain[1].settings, "ttl_seconds")),
        QF_LAYER_GLOBAL);
    ck_assert_str_eq(plan->chain[2].plugin_id, "audit");
    ck_assert_str_eq(plan->chain[2].name, "audit@plotwright");
    ck_assert_int_eq(int_at(plan->chain[2].settings, "level"), 2);
    ck_assert_str_eq(plan->chain[3].name, "audit@plotwright#2");
    ck_assert_uint_eq(qf_cnode_count(plan->chain[3].settings), 0);
    qf_role_plan_free(plan);
    qf_config_free(cfg);
}
END_TEST

static const char media[] = "providers:\n"
                            "  text:\n"
                            "    default: openai\n"
                            "    openai: {model: gpt-4o}\n"
                            "  image:\n"
                            "    default: dalle\n"
                            "    dalle: {plugin: openai, model: dall-e-3}\n"
                            "  audio:\n"
                            "    default: speech\n"
                            "    speech: {plugin: tts, model: voice-1}\n";

START_TEST(image_and_audio_roles)
{
    qf_config *cfg = load_text(media);
    qf_role_plan *plan = resolve_ok(cfg, "illustrator", NULL);

    ck_assert_int_eq(plan->kind, QF_REQUEST_IMAGE);
    ck_assert_str_eq(plan->provider_name, "dalle");
    ck_assert_str_eq(plan->provider_plugin, "openai");
    ck_assert_str_eq(plan->model, "dall-e-3");
    qf_role_plan_free(plan);
    plan = resolve_ok(cfg, "art_director", NULL);
    ck_assert_str_eq(plan->provider_name, "dalle");
    qf_role_plan_free(plan);
    plan = resolve_ok(cfg, "audio_producer", NULL);
    ck_assert_str_eq(plan->provider_name, "speech");
    ck_assert_str_eq(plan->model, "voice-1");
    qf_role_plan_free(plan);
    ck_assert_int_eq(qf_role_kind("illustrator"), QF_REQUEST_IMAGE);
    ck_assert_int_eq(qf_role_kind("plotwright"), QF_REQUEST_TEXT);
    qf_config_free(cfg);

    cfg = load_text("providers:\n  text:\n    default: openai\n"
                    "    openai: {model: gpt-4o}\n");
    plan = resolve_ok(cfg, "audio_director", NULL);
    ck_assert_str_eq(plan->provider_name, "openai");
    qf_role_plan_free(plan);
    ck_assert_str_eq(resolve_error(cfg, "illustrator", QF_ERR_CONFIG),
                     "plugins.yml:2:3: providers: providers.image is not "
                     "defined, and role illustrator needs it; expected a "
                     "providers.image map with a default: and at least one "
                     "provider block");
    qf_config_free(cfg);
}
END_TEST

START_TEST(error_messages)
{
    qf_config *cfg =
        load_text("providers:\n"                                   /* 1 */
                  "  text:\n"                                      /* 2 */
                  "    default: openai\n"                          /* 3 */
                  "    openai: {timeout: {total_seconds: soon}}\n" /* 4 */
                  "    ollama: {model: llama3}\n"                  /* 5 */
                  "roles:\n"                                       /* 6 */
                  "  plotwright:\n"                                /* 7 */
                  "    provider: foo\n"                            /* 8 */
                  "  scene_smith:\n"                               /* 9 */
                  "    provider: ollama\n"                         /* 10 */
                  "    chain: cache\n"                             /* 11 */
                  "  gatekeeper:\n"                                /* 12 */
                  "    provider: ollama\n"                         /* 13 */
                  "    params: [0.7]\n"                            /* 14 */
                  "  researcher:\n"                                /* 15 */
                  "    provider: ollama\n"                         /* 16 */
                  "    rate_limit: {on_limit: later}\n"            /* 17 */
                  "  translator:\n"                                /* 18 */
                  "    provider: ollama\n"                         /* 19 */
                  "    chain: [{level: 1}]\n"                      /* 20 */
                  "  showrunner: [x]\n");                          /* 21 */

    ck_assert_str_eq(resolve_error(cfg, "plotwright", QF_ERR_CONFIG),
                     "plugins.yml:8:15: roles.plotwright.provider: provider "
                     "\"foo\" is not defined under providers.text; expected "
                     "one of: openai, ollama");
    ck_assert_str_eq(resolve_error(cfg, "lore_weaver", QF_ERR_CONFIG),
                     "plugins.yml:4:39: providers.text.openai.timeout."
                     "total_seconds: \"soon\" is invalid; expected a number "
                     "such as 10 or 0.5");
    ck_assert_str_eq(resolve_error(cfg, "scene_smith", QF_ERR_CONFIG),
                     "plugins.yml:11:12: roles.scene_smith.chain: value is a "
                     "scalar; expected a list of middleware such as [cache, "
                     "rate_limit]");
    ck_assert_str_eq(resolve_error(cfg, "gatekeeper", QF_ERR_CONFIG),
                     "plugins.yml:14:13: roles.gatekeeper.params: value is a "
                     "list; expected a map of generation parameters such as "
                     "{temperature: 0.7}");
    ck_assert_str_eq(resolve_error(cfg, "researcher", QF_ERR_CONFIG),
                     "plugins.yml:17:28: roles.researcher.rate_limit.on_limit: "
                     "\"later\" is not a valid choice; expected one of: "
                     "fail, wait");
    ck_assert_str_eq(resolve_error(cfg, "translator", QF_ERR_CONFIG),
                     "plugins.yml:20:13: roles.translator.chain[0]: chain "
                     "item is a map without plugin:; expected a plugin id "
                     "such as cache, or a map with plugin: and its settings");
    ck_assert_str_eq(resolve_error(cfg, "showrunner", QF_ERR_CONFIG),
                     "plugins.yml:21:15: roles.showrunner: value is a list; "
                     "expected a map with keys such as provider: and model:");
    qf_config_free(cfg);

    cfg = load_text("providers:\n  text:\n    openai: {}\n");
    ck_assert_str_eq(resolve_error(cfg, "plotwright", QF_ERR_CONFIG),
                     "plugins.yml:3:5: providers.text: no provider is chosen "
                     "for role plotwright; expected roles.plotwright.provider "
                     "or providers.text.default");
    qf_config_free(cfg);
}
END_TEST

Suite *config_roles_suite(void)
{
    Suite *suite = suite_create("config_roles");
    TCase *tc = tcase_create("roles");

    tcase_add_test(tc, seed_plotwright);
    tcase_add_test(tc, seed_shared_instance);
    tcase_add_test(tc, seed_unlisted_role_uses_default);
    tcase_add_test(tc, seed_unset_key_error);
    tcase_add_test(tc, unset_variable_only_for_user);
    tcase_add_test(tc, layers_precedence);
    tcase_add_test(tc, runtime_model_wins);
    tcase_add_test(tc, cache_disabled_by_role);
    tcase_add_test(tc, role_override_gets_own_instance);
    tcase_add_test(tc, explicit_chain);
    tcase_add_test(tc, image_and_audio_roles);
    tcase_add_test(tc, error_messages);
    suite_add_tcase(suite, tc);
    return suite;
}

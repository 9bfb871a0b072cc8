/* Tests for plugins/params.c: config map sanity, and rule params validated against a map with
 * exact "file:line:col: message" errors (unknown key with did-you-mean, wrong type, missing
 * required, secret inline, secret env var unset), defaults, the typed getters, and the same
 * values seen by a real plugin (typed.so) through the host table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/loader.h"
#include "plugins/params.h"
#include "fixtures.h"

/* The same map as tests/fixtures/plugins/typed.c. */
static const sluice_mask_config_entry_t typed_map[] = {
    {"count", SLUICE_MASK_CONF_INT, SLUICE_MASK_CONF_REQUIRED, NULL, "how many"},
    {"enabled", SLUICE_MASK_CONF_BOOL, 0, "true", "on or off"},
    {"ratio", SLUICE_MASK_CONF_DOUBLE, 0, "0.5", "a fraction"},
    {"labels", SLUICE_MASK_CONF_STRING_LIST, 0, "[a, b]", "some labels"},
    {"name", SLUICE_MASK_CONF_STRING, 0, NULL, "an optional name"},
    {"salt", SLUICE_MASK_CONF_STRING, SLUICE_MASK_CONF_REQUIRED | SLUICE_MASK_CONF_SECRET, NULL, "a secret salt"},
    {0},
};

static const sluice_yaml_pos_t rule_pos = {.file = "acme.yaml", .line = 12, .col = 11};

/* Builds params from YAML text (NULL = no params); returns the values or NULL, filling diag. */
static sluice_mask_config_t *build(const char *text, int flags, sluice_config_diag_t *d, int *skipped)
{
    sluice_yaml_doc_t *doc = text ? yaml_doc(text) : NULL;
    if (text != NULL)
        assert_non_null(doc);
    sluice_mask_config_t *c =
        sluice_plugin_params_build(typed_map, "typed", doc ? doc->root : NULL, &rule_pos, "m", flags, d, skipped);
    sluice_yaml_doc_free(doc);
    return c;
}

static void assert_msgs(const sluice_config_diag_t *d, const char *const *want, size_t n)
{
    for (size_t i = 0; i < d->count; i++)
        print_message("got: %s\n", d->msgs[i]);
    assert_int_equal(d->count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(d->msgs[i], want[i]);
}

static void test_map_check(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_plugin_map_check(typed_map, &err), 6);
    assert_int_equal(sluice_plugin_map_check(NULL, &err), 0);

    static const struct {
        sluice_mask_config_entry_t map[3];
        const char *want;
    } cases[] = {
        {{{"a", SLUICE_MASK_CONF_INT, 0, NULL, ""}, {"a", SLUICE_MASK_CONF_BOOL, 0, NULL, ""}, {0}},
         "config map entry 'a' is declared twice"},
        {{{"key_env", SLUICE_MASK_CONF_STRING, 0, NULL, ""}, {0}, {0}},
         "config map entry 'key_env': names ending in '_env' are reserved (a SECRET entry 'x' is given as 'x_env')"},
        {{{"Bad-Name", SLUICE_MASK_CONF_STRING, 0, NULL, ""}, {0}, {0}},
         "config map entry 0: name is not 1..48 characters of [a-z0-9_]"},
        {{{"n", 9, 0, NULL, ""}, {0}, {0}}, "config map entry 'n': unknown type 9"},
        {{{"n", SLUICE_MASK_CONF_INT, 0x10, NULL, ""}, {0}, {0}}, "config map entry 'n': unknown flags 0x10"},
        {{{"k", SLUICE_MASK_CONF_INT, SLUICE_MASK_CONF_SECRET, NULL, ""}, {0}, {0}},
         "config map entry 'k': a SECRET must be of type STRING"},
        {{{"k", SLUICE_MASK_CONF_STRING, SLUICE_MASK_CONF_SECRET, "x", ""}, {0}, {0}},
         "config map entry 'k': a SECRET cannot have a default"},
        {{{"n", SLUICE_MASK_CONF_BOOL, 0, "maybe", ""}, {0}, {0}},
         "config map entry 'n': default \"maybe\" is not a boolean"},
        {{{"n", SLUICE_MASK_CONF_DOUBLE, 0, "[1, 2]", ""}, {0}, {0}},
         "config map entry 'n': default \"[1, 2]\" is not a number"},
        {{{"n", SLUICE_MASK_CONF_STRING_LIST, 0, "{a: 1}", ""}, {0}, {0}},
         "config map entry 'n': default \"{a: 1}\" is not a list of strings"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sluice_plugin_map_check(cases[i].map, &err), -1);
        assert_string_equal(err.msg, cases[i].want);
    }
}

static void test_params_errors_with_positions(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    int skipped = 0;
    const char *yaml = "count: 3\n"
                       "cuont: 4\n"
                       "ratio: abc\n"
                       "salt: inline\n"
                       "labels: {a: 1}\n"
                       "enabled: 2\n"
                       "colour: red\n";
    assert_null(build(yaml, 0, &d, &skipped));
    assert_int_equal(skipped, 0);
    const char *const want[] = {
        "params.yaml:2:1: m.params.cuont: unknown parameter of plugin 'typed'; did you mean 'count'?",
        "params.yaml:3:8: m.params.ratio: expected a number, got a string",
        "params.yaml:4:1: m.params.salt: a secret written inline; put it in an environment variable and give its "
        "name with 'salt_env: VAR'",
        "params.yaml:5:9: m.params.labels: expected a list of strings, got a map",
        "params.yaml:6:10: m.params.enabled: expected a boolean, got a number",
        "params.yaml:7:1: m.params.colour: unknown parameter of plugin 'typed' (it takes: count, enabled, ratio, "
        "labels, name, salt_env)",
    };
    assert_msgs(&d, want, sizeof(want) / sizeof(want[0]));
    sluice_config_diag_dispose(&d);
}

static void test_params_missing_required_without_params(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    int skipped = 0;
    assert_null(build(NULL, 0, &d, &skipped));
    const char *const want[] = {
        "acme.yaml:12:11: m.params: missing required parameter 'count' of plugin 'typed' (how many)",
        "acme.yaml:12:11: m.params: missing required parameter 'salt_env' of plugin 'typed' (a secret salt)",
    };
    assert_msgs(&d, want, 2);
    sluice_config_diag_dispose(&d);
}

static void test_params_secret_env(void **state)
{
    (void)state;
    unsetenv("SLUICE_TEST_UNSET_SALT");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    int skipped = 0;
    assert_null(build("count: 1\nsalt_env: SLUICE_TEST_UNSET_SALT\n", 0, &d, &skipped));
    assert_int_equal(skipped, 0);
    const char *const want[] = {"params.yaml:2:11: m.params.salt_env: environment variable SLUICE_TEST_UNSET_SALT "
                                "(plugin 'typed' secret 'salt') is not set"};
    assert_msgs(&d, want, 1);
    sluice_config_diag_dispose(&d);

    /* Check-only: a warning, and the rule is skipped, not failed. */
    sluice_config_diag_init(&d);
    assert_null(build("count: 1\nsalt_env: SLUICE_TEST_UNSET_SALT\n", SLUICE_PLUGIN_PARAMS_CHECK_ONLY, &d, &skipped));
    assert_int_equal(skipped, 1);
    assert_int_equal(d.count, 0);
    assert_int_equal(d.warning_count, 1);
    assert_string_equal(d.warnings[0], "params.yaml:2:11: m.params.salt_env: environment variable "
                                       "SLUICE_TEST_UNSET_SALT is not set; plugin 'typed' was not created (check "
                                       "with --secrets to run it)");
    sluice_config_diag_dispose(&d);

    sluice_config_diag_init(&d);
    assert_null(build("count: 1\nsalt_env: 'not a name'\n", 0, &d, &skipped));
    const char *const want2[] = {
        "params.yaml:2:11: m.params.salt_env: expected the name of an environment variable, got a string"};
    assert_msgs(&d, want2, 1);
    sluice_config_diag_dispose(&d);
}

/* A plugin secret in the root key ring's variables: `sluicectl config check --secrets` said ok,
 * and the gateway, which wipes ENCRYPTION_KEY and SLUICE_KEYRING from its environment once it
 * has derived its keys by purpose (identity.md), then refused the rule with "environment
 * variable ENCRYPTION_KEY ... is not set" while it was set; `sluicectl unmask`, which keeps its
 * environment, reversed fpe values with the root key itself. Refused at load, everywhere, with
 * what to do instead. */
static void test_params_secret_not_a_root_key(void **state)
{
    (void)state;
    setenv("ENCRYPTION_KEY", "8d4f0e1c2b3a49586776a5b4c3d2e1f00112233445566778899aabbccddeeff0", 1);
    setenv("SLUICE_KEYRING", "1:8d4f0e1c2b3a49586776a5b4c3d2e1f00112233445566778899aabbccddeeff0", 1);
    static const char *const vars[] = {"ENCRYPTION_KEY", "SLUICE_KEYRING"};
    for (size_t i = 0; i < 2; i++) {
        for (int flags = 0; flags <= SLUICE_PLUGIN_PARAMS_CHECK_ONLY; flags += SLUICE_PLUGIN_PARAMS_CHECK_ONLY) {
            sluice_config_diag_t d;
            sluice_config_diag_init(&d);
            int skipped = 0;
            char yaml[128], want[512];
            snprintf(yaml, sizeof(yaml), "count: 1\nsalt_env: %s\n", vars[i]);
            assert_null(build(yaml, flags, &d, &skipped));
            assert_int_equal(skipped, 0);
            snprintf(want, sizeof(want),
                     "params.yaml:2:11: m.params.salt_env: %s holds the root key ring, which no plugin may use (the "
                     "gateway derives a key per purpose from it and then removes it from its environment); give "
                     "the plugin a key of its own in another variable (e.g. `openssl rand -hex 32`)",
                     vars[i]);
            assert_msgs(&d, (const char *const[]){want}, 1);
            sluice_config_diag_dispose(&d);
        }
    }
    unsetenv("ENCRYPTION_KEY");
    unsetenv("SLUICE_KEYRING");
}

static void test_params_values_and_getters(void **state)
{
    (void)state;
    setenv("SLUICE_TEST_SALT", "pepper", 1);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    int skipped = 0;
    sluice_mask_config_t *c =
        build("count: 3\nlabels: [x, 'y z']\nratio: 2\nname: null\nsalt_env: SLUICE_TEST_SALT\n", 0, &d, &skipped);
    assert_non_null(c);
    int64_t i = 0;
    int b = 0;
    double r = 0;
    size_t n = 0, len = 0;
    const char *s = NULL;
    assert_int_equal(sluice_plugin_params_int(c, "count", &i), 1);
    assert_int_equal(i, 3);
    assert_int_equal(sluice_plugin_params_bool(c, "enabled", &b), 1); /* default */
    assert_int_equal(b, 1);
    assert_int_equal(sluice_plugin_params_double(c, "ratio", &r), 1);
    assert_true(r == 2.0);
    assert_int_equal(sluice_plugin_params_list_count(c, "labels", &n), 1);
    assert_int_equal(n, 2);
    assert_int_equal(sluice_plugin_params_list_item(c, "labels", 1, &s, &len), 1);
    assert_string_equal(s, "y z");
    assert_int_equal(len, 3);
    assert_int_equal(sluice_plugin_params_list_item(c, "labels", 2, &s, &len), SLUICE_MASK_ECONFIG);
    assert_int_equal(sluice_plugin_params_string(c, "salt", &s, &len), 1);
    assert_string_equal(s, "pepper");
    /* null counts as absent: no value, no default. */
    assert_int_equal(sluice_plugin_params_string(c, "name", &s, NULL), 0);
    assert_int_equal(sluice_plugin_params_is_set(c, "name"), 0);
    assert_int_equal(sluice_plugin_params_is_set(c, "count"), 1);
    assert_int_equal(sluice_plugin_params_is_set(c, "enabled"), 0);
    /* Wrong type, unknown name. */
    assert_int_equal(sluice_plugin_params_int(c, "name", &i), SLUICE_MASK_ECONFIG);
    assert_int_equal(sluice_plugin_params_bool(c, "nope", &b), SLUICE_MASK_ECONFIG);
    sluice_plugin_params_free(c);
    assert_int_equal(d.count, 0);
    sluice_config_diag_dispose(&d);
}

/* The same through a real plugin and the host table. */
static void test_typed_plugin_reads_its_config(void **state)
{
    (void)state;
    setenv("SLUICE_TEST_SALT", "pepper", 1);
    char path[512];
    fixture_path(path, sizeof(path), "typed");
    sluice_err_t err = {{0}};
    sluice_plugin_lib_t *lib = sluice_plugin_lib_open(path, &err);
    if (lib == NULL)
        fail_msg("%s", err.msg);
    sluice_yaml_doc_t *doc = yaml_doc("count: 7\nname: bob\nlabels: solo\nsalt_env: SLUICE_TEST_SALT\n");
    sluice_plugin_instance_opts_t o = {.params = doc->root, .pos = &rule_pos, .label = "m", .nthreads = 1};
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_instance_t *inst = NULL;
    int rc = sluice_plugin_instance_create(lib, &o, &inst, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("%s\n", d.msgs[i]);
    assert_int_equal(rc, 0);
    sluice_yaml_doc_free(doc);

    sluice_mask_output_t out;
    assert_int_equal(sluice_plugin_output_init(&out, 0), 0);
    sluice_mask_input_t in = {.size = sizeof(in), .type = SLUICE_MASK_JSON_STRING, .value = "v", .value_len = 1};
    const char *why = NULL;
    assert_int_equal(sluice_plugin_instance_mask(inst, 0, &in, &out, &why), SLUICE_MASK_OK);
    assert_int_equal(out.type, SLUICE_MASK_OUT_JSON);
    assert_string_equal(out.buf, "{\"count\":7,\"enabled\":true,\"ratio\":0.5,\"salt_len\":6,\"name\":\"bob\","
                                 "\"name_set\":true,\"count_set\":true,\"labels\":[\"solo\"]}");
    sluice_plugin_output_dispose(&out);
    sluice_plugin_instance_destroy(inst);
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_check),
        cmocka_unit_test(test_params_errors_with_positions),
        cmocka_unit_test(test_params_missing_required_without_params),
        cmocka_unit_test(test_params_secret_env),
        cmocka_unit_test(test_params_secret_not_a_root_key),
        cmocka_unit_test(test_params_values_and_getters),
        cmocka_unit_test(test_typed_plugin_reads_its_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

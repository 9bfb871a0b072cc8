/* Tests for plugins/set.c: a config's mask rules loaded through the loader (built-in names from
 * plugins.dir, paths, one library for many rules), rollback of everything on any failure (no
 * file left mapped), check-only skipping, partial sets for config check and which rules need the
 * key ring, the JSON glue (strings, JSON output, bad JSON,
 * failures) and the Prometheus text of the per-plugin counters. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"
#include "plugins/loader.h"
#include "plugins/set.h"
#include "fixtures.h"

static char fixtures_dir[512];

static int setup(void **state)
{
    (void)state;
    const char *b = getenv("SLUICE_BUILD_DIR");
    snprintf(fixtures_dir, sizeof(fixtures_dir), "%s/tests/fixtures/plugins", b ? b : ".");
    return 0;
}

/* A config with the given plugins line ("" for none) and mask rules (YAML flow items, one per
 * line of `rules`), loaded with flags. */
static sluice_config_t *config_from(const char *plugins, const char *rules, int flags)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server: {http: {listen: \"127.0.0.1:0\"}}\n"
             "kafka: {brokers: \"127.0.0.1:9092\"}\n"
             "%s\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
             "    data_layer:\n"
             "      mask:\n"
             "%s"
             "  - id: globex\n"
             "    sources:\n"
             "      - {id: web, write_key_env: GLOBEX_WEB_WRITE_KEY}\n",
             plugins, rules);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("set.yaml", yaml, strlen(yaml), flags, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    return cfg;
}

/* The same with plugins.dir at the fixture plugins, environment ignored. */
static sluice_config_t *config_with(const char *rules)
{
    char plugins[600];
    snprintf(plugins, sizeof(plugins), "plugins: {dir: %s}", fixtures_dir);
    return config_from(plugins, rules, SLUICE_CONFIG_NO_ENV);
}

static void test_load_builtin_names_and_paths(void **state)
{
    (void)state;
    char rules[1024];
    snprintf(rules, sizeof(rules),
             "        - {path: properties.card, plugin: fixture, params: {prefix: 'c:'}}\n"
             "        - {path: \"properties.items[*].sku\", plugin: %s/fixture.so, params: {fail_on: bad}}\n",
             fixtures_dir);
    sluice_config_t *cfg = config_with(rules);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 2, 0, &d);
    assert_non_null(set);
    assert_int_equal(d.count, 0);
    /* Both rules use the same file: opened once, two instances. */
    assert_int_equal(sluice_plugin_set_lib_count(set), 1);
    assert_int_equal(sluice_plugin_set_instance_count(set), 2);
    assert_string_equal(sluice_plugin_set_plugin_name(set, 0, 1), "fixture");
    assert_null(sluice_plugin_set_instance(set, 0, 2));
    assert_null(sluice_plugin_set_instance(set, 1, 0)); /* globex has no rules */

    sluice_plugin_field_t f = {
        .org = "acme", .path = "properties.card", .rule_path = "properties.card", .event = "Order Completed"};
    json_t *v = json_string("4111"), *out = NULL;
    const char *why = NULL;
    assert_int_equal(sluice_plugin_set_apply(set, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    assert_string_equal(json_string_value(out), "c:4111");
    json_decref(out);
    json_decref(v);

    /* The second rule: its own parameters (default prefix, fail_on). */
    f.path = "properties.items[1].sku";
    f.rule_path = "properties.items[*].sku";
    v = json_string("bad");
    assert_int_equal(sluice_plugin_set_apply(set, 1, 0, 1, &f, v, &out, &why), SLUICE_PLUGIN_FAILED);
    assert_null(out);
    assert_string_equal(why, "invalid value");
    json_decref(v);
    v = json_string("__null__");
    assert_int_equal(sluice_plugin_set_apply(set, 1, 0, 1, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    assert_true(json_is_null(out));
    json_decref(out);
    json_decref(v);
    v = json_string("__badjson__");
    assert_int_equal(sluice_plugin_set_apply(set, 1, 0, 1, &f, v, &out, &why), SLUICE_PLUGIN_FAILED);
    assert_string_equal(why, "output is not one valid JSON value");
    json_decref(v);
    v = json_string("__remove__");
    assert_int_equal(sluice_plugin_set_apply(set, 1, 0, 1, &f, v, &out, &why), SLUICE_PLUGIN_REMOVE);
    json_decref(v);
    v = json_pack("{s:i}", "n", 1); /* non-strings: this plugin keeps them */
    assert_int_equal(sluice_plugin_set_apply(set, 1, 0, 1, &f, v, &out, &why), SLUICE_PLUGIN_UNCHANGED);
    json_decref(v);
    /* No such rule, or a thread index past nthreads. */
    v = json_string("x");
    assert_int_equal(sluice_plugin_set_apply(set, 0, 1, 0, &f, v, &out, &why), SLUICE_PLUGIN_FAILED);
    assert_string_equal(why, "plugin not loaded");
    assert_int_equal(sluice_plugin_set_apply(set, 2, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_FAILED);
    json_decref(v);

    char buf[2048];
    size_t n = sluice_plugin_set_metrics(set, buf, sizeof(buf));
    assert_true(n < sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "# TYPE sluice_plugin_errors_total counter\n"));
    assert_non_null(
        strstr(buf, "sluice_plugin_calls_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.card\"} 1\n"));
    assert_non_null(
        strstr(buf, "sluice_plugin_calls_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.items[*].sku\"} 5\n"));
    assert_non_null(
        strstr(buf, "sluice_plugin_errors_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.card\"} 0\n"));
    assert_non_null(strstr(
        buf, "sluice_plugin_errors_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.items[*].sku\"} 2\n"));
    /* snprintf semantics: a short buffer gets the length needed. */
    char small[16];
    assert_int_equal(sluice_plugin_set_metrics(set, small, sizeof(small)), n);

    sluice_plugin_set_free(set);
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

/* The value of series `series` (the whole text before the value) in a set's metrics, or -1. */
static long long series_value(const sluice_plugin_set_t *set, const char *series)
{
    static char buf[4096];
    sluice_plugin_set_metrics(set, buf, sizeof(buf));
    const char *at = strstr(buf, series);
    return at != NULL ? strtoll(at + strlen(series), NULL, 10) : -1;
}

/* A reload makes a new set while the old one finishes its requests: with both attached to the
 * gateway's tally, a series counts both, is the same from either set, and does not go back when
 * the old set is freed (its instances' own counters start at 0 in the new set). */
static void test_tally_keeps_counts_across_sets(void **state)
{
    (void)state;
    const char *rule = "        - {path: properties.card, plugin: fixture, params: {prefix: 'c:'}}\n";
    const char *calls = "sluice_plugin_calls_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.card\"} ";
    sluice_plugin_tally_t *tally = sluice_plugin_tally_create();
    assert_non_null(tally);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg_old = config_with(rule), *cfg_new = config_with(rule);
    sluice_plugin_set_t *old = sluice_plugin_set_load(cfg_old, NULL, 2, 0, &d);
    assert_non_null(old);
    assert_int_equal(sluice_plugin_set_attach_tally(old, tally), 0);
    sluice_plugin_field_t f = {.org = "acme", .path = "properties.card", .rule_path = "properties.card"};
    json_t *v = json_string("4111"), *out = NULL;
    const char *why;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sluice_plugin_set_apply(old, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
        json_decref(out);
    }
    assert_int_equal(series_value(old, calls), 3);

    sluice_plugin_set_t *new = sluice_plugin_set_load(cfg_new, NULL, 2, 0, &d);
    assert_non_null(new);
    assert_int_equal(sluice_plugin_set_attach_tally(new, tally), 0);
    assert_int_equal(series_value(new, calls), 3); /* not 0 */
    /* A request still on the old set, one on the new. */
    assert_int_equal(sluice_plugin_set_apply(old, 1, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    json_decref(out);
    assert_int_equal(sluice_plugin_set_apply(new, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    json_decref(out);
    assert_int_equal(series_value(old, calls), 5);
    assert_int_equal(series_value(new, calls), 5);
    sluice_plugin_set_free(old);
    assert_int_equal(series_value(new, calls), 5);
    json_decref(v);
    sluice_plugin_set_free(new);
    sluice_plugin_tally_destroy(tally);
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg_old);
    sluice_config_free(cfg_new);
}

/* A built-in's name in a directory without it is no misspelling: the message says so, instead
 * of "did you mean 'generalize'?" for 'generalize'. */
static void test_builtin_missing_from_dir(void **state)
{
    (void)state;
    sluice_config_t *cfg = config_with("        - {path: a.b, plugin: generalize, params: {kind: number, step: 1}}\n");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.msgs[0], "cannot open plugin 'generalize': no generalize.so in "));
    assert_non_null(
        strstr(d.msgs[0], "; 'generalize' is a built-in plugin, but this directory does not hold it. Plugins there: "));
    assert_null(strstr(d.msgs[0], "did you mean"));
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

/* "'x' is a built-in plugin, but this directory does not hold it" was said whenever the closest
 * name was the name itself: with no plugin directory at all ("this directory" is none), and for a
 * name the directory lists but cannot open (a symbolic link to nothing), built-in or not: a
 * third-party plugin was called built-in, and a listed file said not to be there. */
static void test_not_found_wording(void **state)
{
    (void)state;
    /* No directory: a built-in's name is said to be one, and no directory is spoken of. */
    sluice_config_t *cfg = config_with("        - {path: a.b, plugin: generalize, params: {kind: number, step: 1}}\n");
    char *dir = cfg->plugin_dir;
    cfg->plugin_dir = NULL;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.msgs[0], "no plugin directory is set"));
    assert_non_null(strstr(d.msgs[0], "; 'generalize' is a built-in plugin. Built-in plugins: "));
    assert_null(strstr(d.msgs[0], "this directory"));
    sluice_config_diag_dispose(&d);
    cfg->plugin_dir = dir;
    sluice_config_free(cfg);

    /* A link to nothing in the directory: said to be one, never called built-in. */
    char tmp[] = "/tmp/sluice-set-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char link[sizeof(tmp) + 32], plugins[sizeof(tmp) + 32];
    snprintf(link, sizeof(link), "%s/myplugin.so", tmp);
    assert_int_equal(symlink("/nonexistent/myplugin.so", link), 0);
    snprintf(plugins, sizeof(plugins), "plugins: {dir: %s}", tmp);
    cfg = config_from(plugins, "        - {path: a.b, plugin: myplugin}\n", SLUICE_CONFIG_NO_ENV);
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    assert_int_equal(d.count, 1);
    assert_null(strstr(d.msgs[0], "built-in plugin,"));
    assert_non_null(strstr(d.msgs[0], "; myplugin.so there is a symbolic link to nothing. Plugins there: myplugin."));
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
    unlink(link);
    rmdir(tmp);
}

/* With the event's number texts (field.nums) a number goes to the plugin as sent and comes back as
 * the plugin wrote it. Before, the plugin got the shortest text of the double, and its answer was
 * formatted again: generalize's 0.25 step at 673493333333332.33 saw 673493333333332.4, answered
 * 673493333333332.25, which went out as 673493333333332.2 and was not a multiple of the step. */
static void test_numbers_as_sent_to_and_from_plugins(void **state)
{
    (void)state;
    char plugins[PATH_MAX + 64];
    snprintf(plugins, sizeof(plugins), "plugins: {dir: %s/plugins}", getenv("SLUICE_BUILD_DIR"));
    sluice_config_t *cfg = config_from(
        plugins, "        - {path: properties.price, plugin: generalize, params: {kind: number, step: 0.25}}\n",
        SLUICE_CONFIG_NO_ENV);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, 0, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    assert_non_null(set);
    sluice_config_diag_dispose(&d);
    const char *cases[][2] = {
        {"673493333333332.33", "673493333333332.25"},
        {"19.90", "19.75"},
        {"-0.1", "-0.25"},
        {"1e2", "100.00"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        char doc[64];
        snprintf(doc, sizeof(doc), "{\"price\":%s}", cases[k][0]);
        sluice_json_error_t je;
        json_t *root = sluice_json_parse(doc, strlen(doc), 8, 1024, 0, nums, &je);
        assert_non_null(root);
        sluice_plugin_field_t f = {.org = "acme",
                                   .path = "properties.price",
                                   .rule_path = "properties.price",
                                   .event = "Order Completed",
                                   .nums = nums};
        json_t *out = NULL;
        const char *why = NULL;
        for (int round = 0; round < 2; round++) { /* twice: the second leaves the first's answer */
            json_t *v = json_object_get(root, "price");
            assert_int_equal(sluice_plugin_set_apply(set, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
            json_object_set_new(root, "price", out);
            size_t n;
            char *text = sluice_json_encode(root, nums, &n);
            char want[64];
            snprintf(want, sizeof(want), "{\"price\":%s}", cases[k][1]);
            assert_string_equal(text, want);
            free(text);
        }
        json_decref(root);
        sluice_jsonnum_free(nums);
    }
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
}

/* A plugin answering an object or array: the numbers in it are written as the plugin wrote them
 * (before, jansson read the answer: 19.90 went out as 19.9, and 12345678901234567890 made the
 * whole answer invalid, so the field was removed). */
static void test_numbers_in_an_answered_object(void **state)
{
    (void)state;
    sluice_config_t *cfg = config_with("        - {path: properties.card, plugin: fixture}\n");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, 0, &d);
    assert_non_null(set);
    sluice_config_diag_dispose(&d);
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_plugin_field_t f = {.org = "acme",
                               .path = "properties.card",
                               .rule_path = "properties.card",
                               .event = "Order Completed",
                               .nums = nums};
    json_t *root = json_pack("{s:s}", "card", "__numbers__"), *out = NULL;
    const char *why = NULL;
    assert_int_equal(sluice_plugin_set_apply(set, 0, 0, 0, &f, json_object_get(root, "card"), &out, &why),
                     SLUICE_PLUGIN_REPLACED);
    json_object_set_new(root, "card", out);
    char *text = sluice_json_encode(root, nums, NULL);
    assert_string_equal(text, "{\"card\":{\"price\":19.90,\"big\":12345678901234567890,\"list\":[1e21,-0,0.1]}}");
    free(text);
    json_decref(root);
    sluice_jsonnum_free(nums);
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
}

/* An answer nested deeper than 64 levels fails closed: refused by the request parser, it was read
 * again by jansson (for the \u0000 it refuses), which allows 2,048, so a 2,047-deep answer went
 * into a 200-accepted event that the delivery worker could not read back (dead-lettered as "not
 * a JSON object"). With or without the numbers table, and with a \u0000 in it too. */
static void test_deep_answer_fails_closed(void **state)
{
    (void)state;
    sluice_config_t *cfg = config_with("        - {path: properties.card, plugin: fixture}\n");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, 0, &d);
    assert_non_null(set);
    sluice_config_diag_dispose(&d);
    const char *values[] = {"__deep__", "__deep_nul__"};
    for (int with_nums = 0; with_nums < 2; with_nums++) {
        for (size_t v = 0; v < 2; v++) {
            sluice_jsonnum_t *nums = with_nums ? sluice_jsonnum_new() : NULL;
            sluice_plugin_field_t f = {.org = "acme",
                                       .path = "properties.card",
                                       .rule_path = "properties.card",
                                       .event = "Order Completed",
                                       .nums = nums};
            json_t *value = json_string(values[v]), *out = NULL;
            const char *why = NULL;
            assert_int_equal(sluice_plugin_set_apply(set, 0, 0, 0, &f, value, &out, &why), SLUICE_PLUGIN_FAILED);
            assert_null(out);
            assert_string_equal(why, "output nests deeper than 64 levels");
            json_decref(value);
            sluice_jsonnum_free(nums);
        }
    }
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
}

/* Through the gateway's entry, a string only its holder has is rewritten where it is (the data
 * layer then has nothing to put in place); a shared one is left alone, and so is the input of
 * sluice_plugin_set_apply and sluice_plugin_mask_json (sluicectl plugin test, the fuzz target). */
static void test_strings_rewritten_in_place(void **state)
{
    (void)state;
    sluice_config_t *cfg = config_with("        - {path: properties.card, plugin: fixture, params: {prefix: 'c:'}}\n");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, 0, &d);
    assert_non_null(set);
    sluice_config_diag_dispose(&d);
    sluice_plugin_field_t f = {
        .org = "acme", .path = "properties.card", .rule_path = "properties.card", .event = "Order Completed"};
    json_t *v = json_string("4111"), *out = NULL;
    const char *why = NULL;
    assert_int_equal(sluice_plugin_set_apply_in_place(set, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    assert_string_equal(json_string_value(out), "c:4111");
    assert_ptr_equal(out, v);
    json_decref(out);
    json_decref(v);
    v = json_string("4242");
    json_t *other = json_incref(v);
    assert_int_equal(sluice_plugin_set_apply_in_place(set, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    assert_ptr_not_equal(out, v);
    assert_string_equal(json_string_value(out), "c:4242");
    assert_string_equal(json_string_value(other), "4242");
    json_decref(out);
    json_decref(other);
    json_decref(v);
    v = json_string("4444");
    assert_int_equal(sluice_plugin_set_apply(set, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    assert_ptr_not_equal(out, v);
    assert_string_equal(json_string_value(v), "4444");
    json_decref(out);
    json_decref(v);
    sluice_mask_output_t mo;
    assert_int_equal(sluice_plugin_output_init(&mo, 0), 0);
    v = json_string("4343");
    assert_int_equal(sluice_plugin_mask_json(sluice_plugin_set_instance(set, 0, 0), 0, &mo, &f, v, &out, &why),
                     SLUICE_PLUGIN_REPLACED);
    assert_ptr_not_equal(out, v);
    assert_string_equal(json_string_value(out), "c:4343");
    assert_string_equal(json_string_value(v), "4343");
    json_decref(out);
    json_decref(v);
    sluice_plugin_output_dispose(&mo);
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
}

/* The text entry (a tree other than jansson's, the gateway's jv events): the plugin gets the
 * bytes the json_t entry hands it (a string's contents, or JSON text typed by its first byte) and
 * its answer comes back as text, a string or JSON, with the set's checks and counters; a JSON
 * answer the caller's reader refuses is read as the json_t entry reads it, and fails the same. */
static void test_text_entry(void **state)
{
    (void)state;
    sluice_config_t *cfg =
        config_with("        - {path: properties.card, plugin: fixture, params: {prefix: 'c:'}}\n"
                    "        - {path: properties.any, plugin: fixture, params: {every_type: true}}\n");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, 0, &d);
    assert_non_null(set);
    sluice_config_diag_dispose(&d);
    sluice_plugin_field_t f = {.org = "acme", .path = "properties.card", .rule_path = "properties.card"};
    sluice_plugin_text_t answer = {0};
    const char *why = NULL;
    /* A string: "c:" and its bytes, as from the json_t entry. */
    sluice_plugin_text_t in = {.text = "4111", .len = 4, .json = 0};
    assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 0, &f, &in, &answer, &why), SLUICE_PLUGIN_REPLACED);
    assert_false(answer.json);
    assert_int_equal(answer.len, 6);
    assert_memory_equal(answer.text, "c:4111", 6);
    json_t *v = json_string("4111"), *out = NULL;
    assert_int_equal(sluice_plugin_set_apply(set, 0, 0, 0, &f, v, &out, &why), SLUICE_PLUGIN_REPLACED);
    assert_string_equal(json_string_value(out), "c:4111");
    json_decref(out);
    json_decref(v);
    /* Not strings (the fixture keeps those unless every_type): a number, an object, true. */
    static const char *const texts[] = {"19.90", "{\"a\":1}", "[1]", "true", "null", "-0"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        in = (sluice_plugin_text_t){.text = texts[i], .len = strlen(texts[i]), .json = 1};
        assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 0, &f, &in, &answer, &why), SLUICE_PLUGIN_UNCHANGED);
        assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 1, &f, &in, &answer, &why), SLUICE_PLUGIN_REPLACED);
        assert_false(answer.json);
        assert_int_equal(answer.len, strlen(texts[i]) + 2);
        assert_memory_equal(answer.text, "m:", 2);
        assert_memory_equal(answer.text + 2, texts[i], strlen(texts[i])); /* as handed over */
    }
    /* A JSON answer comes back as the plugin wrote it, unread. */
    in = (sluice_plugin_text_t){.text = "__numbers__", .len = 11, .json = 0};
    assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 0, &f, &in, &answer, &why), SLUICE_PLUGIN_REPLACED);
    assert_true(answer.json);
    static const char doc[] = "{\"price\":19.90,\"big\":12345678901234567890,\"list\":[1e21,-0,0.1]}";
    assert_int_equal(answer.len, strlen(doc));
    assert_memory_equal(answer.text, doc, strlen(doc));
    /* The set's checks: statuses, UTF-8, each failure counted. */
    const sluice_plugin_instance_t *pi = sluice_plugin_set_instance(set, 0, 0);
    uint64_t errors = sluice_plugin_instance_errors(pi);
    in = (sluice_plugin_text_t){.text = "__bogus__", .len = 9, .json = 0};
    assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 0, &f, &in, &answer, &why), SLUICE_PLUGIN_FAILED);
    in = (sluice_plugin_text_t){.text = "__badutf8__", .len = 11, .json = 0};
    assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 0, &f, &in, &answer, &why), SLUICE_PLUGIN_FAILED);
    assert_int_equal(sluice_plugin_instance_errors(pi), errors + 2);
    assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 2, &f, &in, &answer, &why), SLUICE_PLUGIN_FAILED);
    assert_string_equal(why, "plugin not loaded");
    /* A JSON answer too deep for the reader: failed by sluice_plugin_set_read_answer as the json_t
     * entry fails it, and counted. */
    in = (sluice_plugin_text_t){.text = "__deep__", .len = 8, .json = 0};
    assert_int_equal(sluice_plugin_set_apply_text(set, 0, 0, 0, &f, &in, &answer, &why), SLUICE_PLUGIN_REPLACED);
    assert_true(answer.json);
    assert_null(sluice_plugin_set_read_answer(set, 0, 0, 0, &answer, NULL, &why));
    assert_string_equal(why, "output nests deeper than 64 levels");
    assert_int_equal(sluice_plugin_instance_errors(pi), errors + 3);
    /* One it takes, with the numbers' texts recorded. */
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    assert_non_null(nums);
    sluice_plugin_text_t numbers = {.text = doc, .len = strlen(doc), .json = 1};
    json_t *j = sluice_plugin_set_read_answer(set, 0, 0, 0, &numbers, nums, &why);
    assert_non_null(j);
    char *text = sluice_json_encode(j, nums, NULL);
    assert_string_equal(text, doc);
    free(text);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
}

static void test_rollback_on_any_failure(void **state)
{
    (void)state;
    char good[600], bad[600], rules[1400];
    snprintf(good, sizeof(good), "%s/fixture.so", fixtures_dir);
    snprintf(bad, sizeof(bad), "%s/broken_failing_create.so", fixtures_dir);
    snprintf(rules, sizeof(rules),
             "        - {path: properties.a, plugin: fixture}\n"
             "        - {path: properties.b, plugin: broken_failing_create}\n"
             "        - {path: properties.c, plugin: nosuch}\n"
             "        - {path: properties.d, plugin: fixture, params: {prefx: x}}\n"
             "        - {path: properties.e, plugin: broken_wrong_major}\n"
             "        - {path: properties.f, plugin: broken_wrong_major}\n");
    sluice_config_t *cfg = config_with(rules);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    char want[6][2048];
    snprintf(want[0], sizeof(want[0]),
             "set.yaml:12:11: orgs[0].data_layer.mask[1]: plugin 'broken' (%s) refused its configuration: the key "
             "must be 32 bytes",
             bad);
    /* A name that is not there: where it looked and why there, what is there instead. */
    snprintf(
        want[1], sizeof(want[1]),
        "set.yaml:13:40: orgs[0].data_layer.mask[2].plugin: cannot open plugin 'nosuch': no nosuch.so in %s "
        "(from plugins.dir at set.yaml:4:16). Plugins there: broken_abi2_only, broken_bad_magic, broken_bad_map, "
        "broken_bad_name, broken_bad_signature, broken_create_positive, broken_escape_text, broken_failing_create, "
        "broken_failing_selftest, broken_function_symbol, "
        "broken_lying_size, broken_missing_symbol, broken_newer_minor, broken_no_mask, broken_refuses_all, "
        "broken_short_descriptor, "
        "broken_unterminated_map, broken_wrong_major, cuts_utf8, fixture, typed. Set plugins.dir in the config or "
        "SLUICE_PLUGIN_DIR to look in "
        "another directory",
        fixtures_dir);
    snprintf(want[2], sizeof(want[2]),
             "set.yaml:14:58: orgs[0].data_layer.mask[3].params.prefx: unknown parameter of plugin 'fixture'; did "
             "you mean 'prefix'?");
    /* One library, reported for each rule that uses it. */
    for (int i = 3; i < 5; i++)
        snprintf(want[i], sizeof(want[i]),
                 "set.yaml:%d:40: orgs[0].data_layer.mask[%d].plugin: plugin %s/broken_wrong_major.so: built for ABI "
                 "2.0; this gateway speaks ABI 1: rebuild the plugin against this gateway's mask_plugin.h",
                 i + 12, i + 1, fixtures_dir);
    for (size_t i = 0; i < d.count; i++)
        print_message("got: %s\n", d.msgs[i]);
    assert_int_equal(d.count, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(d.msgs[i], want[i]);
    /* Everything rolled back: the good rule's instance destroyed and no plugin file mapped. */
    assert_int_equal(mapped(good), 0);
    assert_int_equal(mapped(bad), 0);
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

#define BUILTINS                                                                                                       \
    "drop, encrypt, fpe, full, generalize, hmac, ip_truncate, null, partial, randomized_response, redact_text, regex"

/* No plugins.dir: the default is this build tree's plugins (this test runs from the build tree),
 * after the installed layout next to the binary, which a build tree does not have. A misspelt
 * built-in gets the closest name. */
static void test_misspelt_builtin_default_dir(void **state)
{
    (void)state;
    sluice_config_t *cfg =
        config_from("", "        - {path: properties.card, plugin: partail}\n", SLUICE_CONFIG_NO_ENV);
    char exe[PATH_MAX], build[PATH_MAX], installed[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_non_null(realpath(getenv("SLUICE_BUILD_DIR"), build));
    /* <exe dir>/../lib/sluice/plugins, tidied: build/tests/unit/lib/sluice/plugins */
    snprintf(installed, sizeof(installed), "%s/tests/unit/lib/sluice/plugins", build);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    assert_int_equal(d.count, 1);
    char want[4 * PATH_MAX + 1024];
    snprintf(want, sizeof(want),
             "set.yaml:11:43: orgs[0].data_layer.mask[0].plugin: cannot open plugin 'partail': no partail.so in "
             "%s/plugins (the built-in default: the build tree of %s; also tried %s, next to %s, missing); did you "
             "mean 'partial'? Plugins there: " BUILTINS ". Set plugins.dir in the config or SLUICE_PLUGIN_DIR to "
             "look in another directory",
             build, exe, installed, exe);
    assert_string_equal(d.msgs[0], want);
    sluice_config_diag_dispose(&d);

    /* The correct name loads from that default. */
    sluice_config_free(cfg);
    cfg = config_from("", "        - {path: properties.card, plugin: partial}\n", SLUICE_CONFIG_NO_ENV);
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/plugins", build);
    assert_string_equal(cfg->plugin_dir, dir);
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, 0, &d);
    assert_non_null(set);
    assert_string_equal(sluice_plugin_set_plugin_name(set, 0, 0), "partial");
    sluice_plugin_set_free(set);
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

/* SLUICE_PLUGIN_DIR wins over plugins.dir; a dir that does not exist is named as such, with the
 * built-in names instead of its (missing) contents. */
static void test_missing_dir_from_env(void **state)
{
    (void)state;
    char missing[600], plugins[700];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", fixtures_dir);
    snprintf(plugins, sizeof(plugins), "plugins: {dir: %s}", fixtures_dir);
    setenv("SLUICE_PLUGIN_DIR", missing, 1);
    sluice_config_t *cfg = config_from(plugins, "        - {path: properties.ip, plugin: ip_trunctae}\n", 0);
    unsetenv("SLUICE_PLUGIN_DIR");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    assert_int_equal(d.count, 1);
    char want[2048];
    snprintf(want, sizeof(want),
             "set.yaml:11:41: orgs[0].data_layer.mask[0].plugin: cannot open plugin 'ip_trunctae': no "
             "ip_trunctae.so in %s (from SLUICE_PLUGIN_DIR in the environment), which does not exist; did you mean "
             "'ip_truncate'? Built-in plugins: " BUILTINS ". Set plugins.dir in the config or SLUICE_PLUGIN_DIR to "
             "look in another directory",
             missing);
    assert_string_equal(d.msgs[0], want);
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

static void test_check_only_skips_unset_secrets(void **state)
{
    (void)state;
    unsetenv("SLUICE_TEST_UNSET_SALT");
    sluice_config_t *cfg = config_with("        - {path: properties.a, plugin: fixture}\n"
                                       "        - path: properties.b\n"
                                       "          plugin: typed\n"
                                       "          params: {count: 1, salt_env: SLUICE_TEST_UNSET_SALT}\n");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    /* The gateway refuses it... */
    assert_null(sluice_plugin_set_load(cfg, NULL, 1, 0, &d));
    assert_int_equal(d.count, 1);
    sluice_config_diag_dispose(&d);
    /* ...config check without --secrets warns and checks the rest. */
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 1, SLUICE_PLUGIN_SET_CHECK_ONLY, &d);
    assert_non_null(set);
    assert_int_equal(d.count, 0);
    assert_int_equal(d.warning_count, 1);
    assert_non_null(sluice_plugin_set_instance(set, 0, 0));
    assert_null(sluice_plugin_set_instance(set, 0, 1));
    sluice_plugin_set_free(set);
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

static void test_empty_set(void **state)
{
    (void)state;
    sluice_config_t *cfg = config_with("        - {path: properties.a, plugin: fixture}\n");
    cfg->orgs[0].mask_rule_count = 0; /* as an org without rules */
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, NULL, 4, 0, &d);
    assert_non_null(set);
    assert_int_equal(sluice_plugin_set_instance_count(set), 0);
    char buf[64] = "x";
    assert_int_equal(sluice_plugin_set_metrics(set, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    sluice_plugin_set_free(set);
    cfg->orgs[0].mask_rule_count = 1;
    sluice_config_diag_dispose(&d);
    sluice_config_free(cfg);
}

/* config check: PARTIAL keeps the set despite failed rules, rules the config loader marked
 * invalid are not loaded (their errors were reported there), and a plugin that seals during
 * create/selftest (the built-in encrypt) says it needs the key ring while others do not. */
static void test_partial_invalid_and_key_use(void **state)
{
    (void)state;
    const char *b = getenv("SLUICE_BUILD_DIR");
    char rules[2048];
    snprintf(rules, sizeof(rules),
             "        - {path: properties.a, plugin: fixture}\n"
             "        - {path: properties.b, plugin: %s/plugins/encrypt.so}\n"
             "        - {path: properties.c, plugin: fixture, params: {prefx: x}}\n"
             "        - {path: properties.d, plugin: fixture, params: {prefx: y}}\n",
             b ? b : ".");
    sluice_config_t *cfg = config_with(rules);
    cfg->orgs[0].mask_rules[3].invalid = 1;
    uint8_t key[SLUICE_KEYRING_KEY_LEN] = {1};
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_create();
    assert_int_equal(sluice_keyring_add(kr, 1, key, 1, &err), 0);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, kr, 1, SLUICE_PLUGIN_SET_PARTIAL, &d);
    assert_non_null(set);
    for (size_t i = 0; i < d.count; i++)
        print_message("got: %s\n", d.msgs[i]);
    assert_int_equal(d.count, 1); /* rule 2 only: rule 3 is invalid and skipped */
    assert_string_equal(d.msgs[0], "set.yaml:13:58: orgs[0].data_layer.mask[2].params.prefx: unknown parameter of "
                                   "plugin 'fixture'; did you mean 'prefix'?");
    assert_non_null(sluice_plugin_set_instance(set, 0, 0));
    assert_non_null(sluice_plugin_set_instance(set, 0, 1));
    assert_null(sluice_plugin_set_instance(set, 0, 2));
    assert_null(sluice_plugin_set_instance(set, 0, 3));
    assert_int_equal(sluice_plugin_set_rule_uses_keys(set, 0, 0), 0);
    assert_int_equal(sluice_plugin_set_rule_uses_keys(set, 0, 1), 1);
    assert_int_equal(sluice_plugin_set_rule_uses_keys(set, 0, 2), 0);
    assert_int_equal(sluice_plugin_set_rule_uses_keys(set, 9, 0), 0);
    sluice_plugin_set_free(set);
    sluice_config_diag_dispose(&d);
    /* Without PARTIAL the same failure rolls everything back. */
    sluice_config_diag_init(&d);
    assert_null(sluice_plugin_set_load(cfg, kr, 1, 0, &d));
    assert_int_equal(d.count, 1);
    sluice_config_diag_dispose(&d);
    sluice_keyring_free(kr);
    sluice_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_builtin_names_and_paths),
        cmocka_unit_test(test_rollback_on_any_failure),
        cmocka_unit_test(test_misspelt_builtin_default_dir),
        cmocka_unit_test(test_missing_dir_from_env),
        cmocka_unit_test(test_check_only_skips_unset_secrets),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_partial_invalid_and_key_use),
        cmocka_unit_test(test_strings_rewritten_in_place),
        cmocka_unit_test(test_text_entry),
        cmocka_unit_test(test_numbers_as_sent_to_and_from_plugins),
        cmocka_unit_test(test_builtin_missing_from_dir),
        cmocka_unit_test(test_not_found_wording),
        cmocka_unit_test(test_numbers_in_an_answered_object),
        cmocka_unit_test(test_deep_answer_fails_closed),
        cmocka_unit_test(test_tally_keeps_counts_across_sets),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for per-integration event mapping (config/org.c decodes `mapping:`, vendors/options.c
 * applies it in sluice_vendor_map): renames on top of the standard names, event paths copied into
 * vendor fields, constants with their YAML types, and the positioned errors of `config check`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vendors/vfix.h"

#define BASE                                                                                                           \
    "version: 1\n"                                                                                                     \
    "server: {http: {listen: \"127.0.0.1:0\"}}\n"                                                                      \
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"                                                                           \
    "orgs:\n"                                                                                                          \
    "  - id: acme\n"                                                                                                   \
    "    sources: [{id: web, write_key_env: K}]\n"                                                                     \
    "    integrations:\n"

static const char mapped_yaml[] = BASE "      - name: meta\n"
                                       "        vendor: meta\n"
                                       "        pixel_id: \"1\"\n"
                                       "        mapping:\n"
                                       "          events:\n"
                                       "            Checkout Step Viewed: InitiateCheckout\n"
                                       "            Basket Paid: Order Completed\n"
                                       "          fields:\n"
                                       "            value: properties.total\n"
                                       "            content_name: properties.products[*].name\n"
                                       "          set:\n"
                                       "            currency: EUR\n"
                                       "            delivery_category: home_delivery\n"
                                       "            predicted_ltv: 120\n"
                                       "            is_test: true\n"
                                       "            code: \"0042\"\n"
                                       "      - name: ga4\n"
                                       "        vendor: ga4\n"
                                       "        measurement_id: G-1\n"
                                       "        mapping: {fields: {value: properties.total}, set: {debug_mode: 1}}\n";

static sluice_config_t *load(const char *yaml, sluice_config_diag_t *d)
{
    sluice_config_diag_init(d);
    return sluice_config_load_string("x.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, d);
}

static json_t *map_body(const sluice_integration_t *it, const char *edit)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_envelope_t env;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&env, raw, len, &err), 0);
    sluice_vendor_item_t item;
    char why[200] = "";
    sluice_map_result_t res =
        sluice_vendor_map(sluice_vendor_get(it->vendor), it, &env, VFIX_NOW_MS, &item, why, sizeof(why));
    if (res != SLUICE_MAP_OK)
        print_error("map: %d %s\n", (int)res, why);
    assert_int_equal(res, SLUICE_MAP_OK);
    json_t *body = json_loadb(item.body, item.body_len, 0, NULL);
    assert_non_null(body);
    sluice_vendor_item_dispose(&item);
    sluice_envelope_dispose(&env);
    free(raw);
    return body;
}

static void test_rename_fields_constants(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(mapped_yaml, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("got: %s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    const sluice_integration_t *meta = sluice_org_find_integration(sluice_config_find_org(cfg, "acme"), "meta");

    /* A site's own name becomes the vendor's name as written... */
    json_t *b = map_body(meta, "{\"event\":\"Checkout Step Viewed\",\"properties\":{\"total\":42.5,\"products\":"
                               "[{\"name\":\"Blue Mug\"}]}}");
    assert_string_equal(json_string_value(json_object_get(b, "event_name")), "InitiateCheckout");
    json_t *cd = json_object_get(b, "custom_data");
    assert_true(json_real_value(json_object_get(cd, "value")) == 42.5);
    assert_string_equal(json_string_value(json_object_get(cd, "content_name")), "Blue Mug");
    assert_string_equal(json_string_value(json_object_get(cd, "currency")), "EUR");
    assert_int_equal(json_integer_value(json_object_get(cd, "predicted_ltv")), 120);
    assert_true(json_is_true(json_object_get(cd, "is_test")));
    assert_string_equal(json_string_value(json_object_get(cd, "code")), "0042"); /* quoted: a string */
    json_decref(b);

    /* ...or a Segment standard name, which then picks each vendor's standard event. */
    b = map_body(meta, "{\"event\":\"Basket Paid\"}");
    assert_string_equal(json_string_value(json_object_get(b, "event_name")), "Purchase");
    /* A source the event lacks leaves the vendor's own value (revenue); the constants still apply. */
    assert_true(json_real_value(json_object_get(json_object_get(b, "custom_data"), "value")) == 59.98);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "custom_data"), "content_name")),
                        "Blue Mug");
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "custom_data"), "currency")), "EUR");
    json_decref(b);

    /* Unmapped events keep the built-in names. */
    b = map_body(meta, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "event_name")), "Purchase");
    json_decref(b);

    /* GA4's fields land in params. */
    const sluice_integration_t *ga4 = sluice_org_find_integration(sluice_config_find_org(cfg, "acme"), "ga4");
    b = map_body(ga4, "{\"properties\":{\"total\":7}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "params"), "value")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "params"), "debug_mode")), 1);
    json_decref(b);

    /* config dump shows the mapping. */
    json_t *dump = sluice_config_to_json(cfg);
    json_t *mp = json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(dump, "orgs"), 0), "integrations"), 0),
        "mapping");
    assert_string_equal(json_string_value(json_object_get(json_object_get(mp, "events"), "Checkout Step Viewed")),
                        "InitiateCheckout");
    assert_string_equal(json_string_value(json_object_get(json_object_get(mp, "fields"), "value")), "properties.total");
    json_decref(dump);
    sluice_config_free(cfg);
}

/* Maps the reference envelope, its properties replaced by props (JSON text, numbers kept as
 * written), through the integration `name` of yaml's org; the item's body is the caller's. */
static void map_with_props(const char *yaml, const char *name, const char *props, sluice_vendor_item_t *item)
{
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(yaml, &d);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    const sluice_integration_t *it = sluice_org_find_integration(sluice_config_find_org(cfg, "acme"), name);
    size_t len;
    char *base = vfix_envelope("{\"event\":\"Order Completed\",\"properties\":{\"ph\":0}}", &len);
    const char *at = strstr(base, "{\"ph\":0}");
    assert_non_null(at);
    char raw[8192];
    int n = snprintf(raw, sizeof(raw), "%.*s%s%s", (int)(at - base), base, props, at + strlen("{\"ph\":0}"));
    assert_true(n > 0 && (size_t)n < sizeof(raw));
    sluice_envelope_t env;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&env, raw, (size_t)n, &err), 0);
    char why[200] = "";
    assert_int_equal(sluice_vendor_map(sluice_vendor_get(it->vendor), it, &env, VFIX_NOW_MS, item, why, sizeof(why)),
                     SLUICE_MAP_OK);
    sluice_envelope_dispose(&env);
    free(base);
    sluice_config_free(cfg);
}

/* A mapped field is the client's number as sent, and the vendor's own numbers stay as it wrote
 * them when the body is rewritten (an integer beyond 64 bits once made the body unreadable and
 * the mapping was skipped). */
static void test_mapping_numbers_as_sent(void **state)
{
    (void)state;
    sluice_vendor_item_t item;
    map_with_props(mapped_yaml, "meta",
                   "{\"total\":19.90,\"products\":[{\"product_id\":\"a\",\"name\":\"Mug\",\"price\":1e21,"
                   "\"quantity\":12345678901234567890}]}",
                   &item);
    assert_non_null(strstr(item.body, "\"value\":19.90"));                   /* mapped from properties.total */
    assert_non_null(strstr(item.body, "\"item_price\":1e21"));               /* the vendor's own, kept */
    assert_non_null(strstr(item.body, "\"quantity\":12345678901234567890")); /* and not unreadable */
    assert_non_null(strstr(item.body, "\"currency\":\"EUR\""));              /* the constants applied */
    sluice_vendor_item_dispose(&item);
}

/* An object or array a mapping copies keeps its numbers as sent too: it was copied with
 * json_deep_copy, which knows no texts (19.90 went out as 19.9, 12345678901234567890 as
 * 1.2345678901234567e19, -0 as 0). */
static void test_mapping_copies_objects_as_sent(void **state)
{
    (void)state;
    static const char yaml[] = BASE "      - name: meta\n"
                                    "        vendor: meta\n"
                                    "        pixel_id: \"1\"\n"
                                    "        mapping: {fields: {x: properties.extra, y: properties.list}}\n";
    sluice_vendor_item_t item;
    map_with_props(yaml, "meta",
                   "{\"extra\":{\"a\":19.90,\"b\":0.1,\"c\":1e21,\"d\":-0,\"e\":12345678901234567890,"
                   "\"f\":{\"g\":[1.50,\"s\",true,null]}},\"list\":[-0.0,1E+2]}",
                   &item);
    assert_non_null(strstr(item.body, "\"x\":{\"a\":19.90,\"b\":0.1,\"c\":1e21,\"d\":-0,\"e\":12345678901234567890,"
                                      "\"f\":{\"g\":[1.50,\"s\",true,null]}}"));
    assert_non_null(strstr(item.body, "\"y\":[-0.0,1E+2]"));
    sluice_vendor_item_dispose(&item);
}

static void test_mapping_errors(void **state)
{
    (void)state;
    const char *yaml =
        BASE "      - name: meta\n"
             "        vendor: meta\n"
             "        pixel_id: \"1\"\n"
             "        events: [Order Completed]\n"
             "        mapping:\n"
             "          events: {Checkout Step Viewed: InitiateCheckout, Order Completed: \"\"}\n"
             "          fields: {value: properties.total, price: \"properties..total\", \"custom data\": p.x}\n"
             "          set: {value: 1, contents: [1, 2]}\n"
             "          rename: {}\n";
    const char *want[] = {
        "x.yaml:13:20: orgs[0].integrations[0].mapping.events: 'Checkout Step Viewed' is not among this "
        "integration's events, which are chosen before renaming",
        "x.yaml:13:77: orgs[0].integrations[0].mapping.events.Order Completed: the new event name is empty",
        "x.yaml:14:52: orgs[0].integrations[0].mapping.fields.price: bad field path 'properties..total': ",
        "x.yaml:14:73: orgs[0].integrations[0].mapping.fields: 'custom data' is not a vendor field (letters, "
        "digits, '_' and '-', joined by '.')",
        "x.yaml:15:17: orgs[0].integrations[0].mapping.set: 'value' is already mapped at line 14",
        "x.yaml:15:37: orgs[0].integrations[0].mapping.set.contents: expected a string, number or boolean, got a "
        "list",
        "x.yaml:16:11: unknown key 'rename' in orgs[0].integrations[0].mapping",
    };
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(yaml, &d);
    assert_null(cfg);
    int same = d.count == sizeof(want) / sizeof(want[0]);
    for (size_t i = 0; same && i < d.count; i++)
        same = strncmp(d.msgs[i], want[i], strlen(want[i])) == 0;
    if (!same) {
        for (size_t i = 0; i < d.count; i++)
            print_message("got: %s\n", d.msgs[i]);
    }
    sluice_config_diag_dispose(&d);
    assert_true(same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rename_fields_constants),
        cmocka_unit_test(test_mapping_copies_objects_as_sent),
        cmocka_unit_test(test_mapping_numbers_as_sent),
        cmocka_unit_test(test_mapping_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for vendors/options.c: each vendor's declared options checked while the config loads
 * (positions, did-you-mean, secrets refused inline, another vendor's key named), the typed values
 * and defaults, `config dump`, and a config loaded without the registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/vendor.h"

#define BASE                                                                                                           \
    "version: 1\n"                                                                                                     \
    "server: {http: {listen: \"127.0.0.1:0\"}}\n"                                                                      \
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"                                                                           \
    "orgs:\n"                                                                                                          \
    "  - id: acme\n"                                                                                                   \
    "    sources: [{id: web, write_key_env: K}]\n"                                                                     \
    "    integrations:\n"

static sluice_config_t *load(const char *yaml, sluice_config_diag_t *d)
{
    sluice_config_diag_init(d);
    return sluice_config_load_string("x.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, d);
}

/* Loading must fail with exactly these messages, in order (NULL-terminated). */
static void expect_errors_list(const char *yaml, const char *const *expected)
{
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(yaml, &d);
    size_t n = 0;
    while (expected[n] != NULL)
        n++;
    int same = cfg == NULL && d.count == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(d.msgs[i], expected[i]) == 0;
    if (!same) {
        for (size_t i = 0; i < n; i++)
            print_message("  want: %s\n", expected[i]);
        for (size_t i = 0; i < d.count; i++)
            print_message("  got:  %s\n", d.msgs[i]);
    }
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    assert_true(same);
}

#define expect_errors(yaml, ...) expect_errors_list(yaml, (const char *const[]){__VA_ARGS__, NULL})

static sluice_config_t *load_ok(const char *yaml)
{
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(yaml, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("  got: %s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    return cfg;
}

static void test_vendor_keys_checked_with_positions(void **state)
{
    (void)state;
    expect_errors(BASE "      - {name: a, vendor: meta, pixle_id: \"1\"}\n"
                       "      - {name: b, vendor: meta, pixel_id: \"1\", access_token: EAAB}\n"
                       "      - {name: c, vendor: ga4, measurement_id: G-1, pixel_code: C1}\n"
                       "      - {name: d, vendor: ga4, measurement_id: G-1, colour: red}\n"
                       "      - {name: e, vendor: meta, pixel_id: \"1\", api_version: \"21\"}\n"
                       "      - {name: f, vendor: webhook, url: \"https://h.test\", sign: 3}\n"
                       "      - {name: g, vendor: ga4, measurement_id: G-1, timeout_mss: 5}\n",
                  "x.yaml:8:9: missing required key 'pixel_id' in orgs[0].integrations[0] (needed by vendor meta)",
                  "x.yaml:8:33: unknown key 'pixle_id' in orgs[0].integrations[0] (did you mean 'pixel_id'?)",
                  "x.yaml:9:48: orgs[0].integrations[1].access_token: a secret written inline; meta credentials live "
                  "in the vault (sluicectl vault put), never in the config file",
                  "x.yaml:10:53: orgs[0].integrations[2].pixel_code: only for vendor tiktok",
                  "x.yaml:11:53: unknown key 'colour' in orgs[0].integrations[3] (vendor ga4 takes: measurement_id, "
                  "ad_user_data_consent (optional))",
                  "x.yaml:12:61: orgs[0].integrations[4].api_version: '21' is not a Graph API version (e.g. v26.0)",
                  "x.yaml:13:65: orgs[0].integrations[5].sign: expected true or false, got '3'",
                  "x.yaml:14:53: unknown key 'timeout_mss' in orgs[0].integrations[6] (did you mean 'timeout_ms'?)");
}

static void test_values_and_defaults(void **state)
{
    (void)state;
    sluice_config_t *cfg = load_ok(BASE "      - {name: m, vendor: meta, pixel_id: 1234, test_event_code: T1}\n"
                                        "      - {name: w, vendor: webhook, url: \"https://h.test/in\",\n"
                                        "         headers: {X-Team: growth}}\n");
    const sluice_org_t *org = sluice_config_find_org(cfg, "acme");
    const sluice_integration_t *m = sluice_org_find_integration(org, "m");
    assert_int_equal(m->vendor, SLUICE_VENDOR_META);
    assert_string_equal(m->vendor_name, "meta");
    assert_string_equal(sluice_vendor_opt(m, "pixel_id"), "1234");
    assert_string_equal(sluice_vendor_opt(m, "api_version"), "v26.0"); /* the default */
    assert_string_equal(sluice_vendor_opt(m, "test_event_code"), "T1");
    assert_null(sluice_vendor_opt(m, "measurement_id")); /* not meta's */
    const sluice_integration_t *w = sluice_org_find_integration(org, "w");
    assert_false(sluice_vendor_opt_bool(w, "sign"));
    size_t n;
    const sluice_kv_t *h = sluice_vendor_opt_headers(w, "headers", &n);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].key, "X-Team");
    assert_string_equal(h[0].value, "growth");
    assert_int_equal(w->batch_max_events, 100); /* the vendor's default */

    json_t *dump = sluice_config_to_json(cfg);
    json_t *its = json_object_get(json_array_get(json_object_get(dump, "orgs"), 0), "integrations");
    json_t *dm = json_array_get(its, 0), *dw = json_array_get(its, 1);
    assert_string_equal(json_string_value(json_object_get(dm, "vendor")), "meta");
    assert_string_equal(json_string_value(json_object_get(dm, "pixel_id")), "1234");
    assert_string_equal(json_string_value(json_object_get(dm, "api_version")), "v26.0");
    assert_null(json_object_get(dm, "access_token")); /* a vault member, never dumped */
    assert_string_equal(json_string_value(json_object_get(json_object_get(dw, "headers"), "X-Team")), "growth");
    assert_true(json_is_false(json_object_get(dw, "sign")));
    json_decref(dump);
    sluice_config_free(cfg);
}

static void test_secret_members_from_options(void **state)
{
    (void)state;
    /* The vault secret's members come from the options marked secret. */
    const sluice_vendor_ops_t *meta = sluice_vendor_find("meta");
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_check_secret(meta, "{\"access_token\":\"t\"}", 20, &err), 0);
    assert_int_equal(sluice_vendor_check_secret(meta, "{}", 2, &err), -1);
    assert_non_null(strstr(err.msg, "lacks 'access_token'"));
}

static void test_without_registry(void **state)
{
    (void)state;
    /* A program without the vendors keeps the names and does not judge the vendor keys. */
    const sluice_config_vendors_t *reg = sluice_config_vendors();
    assert_non_null(reg);
    sluice_config_set_vendors(NULL);
    sluice_config_t *cfg = load_ok(BASE "      - {name: x, vendor: myspace, anything: 1}\n");
    const sluice_integration_t *x = sluice_org_find_integration(sluice_config_find_org(cfg, "acme"), "x");
    assert_int_equal(x->vendor, -1);
    assert_string_equal(x->vendor_name, "myspace");
    assert_null(x->options);
    sluice_config_free(cfg);
    sluice_config_set_vendors(reg);
}

/* A required option left empty (`pixel_id:`, a Helm value that was never set) is missing: taken
 * as absent, it loaded (`config check` said ok), and the vendor read NULL where its request needs
 * the value: meta's URL is formatted with the pixel id, webhook's url is copied. */
static void test_required_option_null(void **state)
{
    (void)state;
    expect_errors(BASE "      - name: m\n"
                       "        vendor: meta\n"
                       "        pixel_id:\n"
                       "      - {name: w, vendor: webhook, url: ~}\n",
                  "x.yaml:10:18: orgs[0].integrations[0].pixel_id: required, got null (needed by vendor meta)",
                  "x.yaml:11:41: orgs[0].integrations[1].url: required, got null (needed by vendor webhook)");
}

/* A template rendered without its variable (`pixel_id: '${PIXEL_ID}'` with PIXEL_ID never set, a
 * compose file's `$WEBHOOK_URL`) loaded: sluice substitutes nothing, so the worker sent events to
 * graph.facebook.com/v26.0/${PIXEL_ID}/events. Refused where it is written, like brokers'. */
static void test_variable_left_in_option(void **state)
{
    (void)state;
    expect_errors(BASE "      - {name: m, vendor: meta, pixel_id: '${PIXEL_ID}'}\n"
                       "      - {name: w, vendor: webhook, url: $WEBHOOK_URL}\n"
                       "      - {name: h, vendor: webhook, url: \"https://h.test\", headers: {X-Shop: \"${SHOP}\"}}\n",
                  "x.yaml:8:43: orgs[0].integrations[0].pixel_id: '${PIXEL_ID}' looks like an environment variable: "
                  "sluice does not substitute variables in values (write the value itself, or render the file with "
                  "its variables set, e.g. envsubst)",
                  "x.yaml:9:41: orgs[0].integrations[1].url: '$WEBHOOK_URL' looks like an environment variable: "
                  "sluice does not substitute variables in values (write the value itself, or render the file with "
                  "its variables set, e.g. envsubst)",
                  "x.yaml:10:77: orgs[0].integrations[2].headers.X-Shop: '${SHOP}' looks like an environment "
                  "variable: sluice does not substitute variables in values (write the value itself, or render the "
                  "file with its variables set, e.g. envsubst)");
    /* A dollar inside a value is no variable. */
    sluice_config_t *cfg = load_ok(BASE "      - {name: h, vendor: webhook, url: \"https://h.test/a$b\"}\n");
    sluice_config_free(cfg);
}

/* The ids written into a vendor's URL path (Meta's, Snapchat's and Reddit's pixel_id) went in as
 * written: "1/../../me" (libcurl resolves the dots) or "1?x=" sent the org's access token to
 * another endpoint of the vendor, '#' cut the token off the URL, a space or a line break made every
 * request fail, and an id longer than the path buffer was cut. `config check` said ok. Each is now
 * refused where it is written, with the shape the vendor's ids have. */
static void test_path_ids_checked(void **state)
{
    (void)state;
    char long_id[601], yaml[2048];
    memset(long_id, '7', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    snprintf(yaml, sizeof(yaml),
             BASE "      - {name: m1, vendor: meta, pixel_id: \"1/../../me\"}\n"
                  "      - {name: m2, vendor: meta, pixel_id: \"1?fields=\"}\n"
                  "      - {name: m3, vendor: meta, pixel_id: \"%s\"}\n"
                  "      - {name: s1, vendor: snapchat, pixel_id: \"..\"}\n"
                  "      - {name: s2, vendor: snapchat, pixel_id: \"45fd6b2c pixel\"}\n"
                  "      - {name: r1, vendor: reddit, pixel_id: \"a2_x#\"}\n"
                  "      - {name: r2, vendor: reddit, pixel_id: \"a2_x\\r\\n\"}\n"
                  "      - {name: r3, vendor: reddit, pixel_id: \"a2_%%2F..\"}\n"
                  "      - {name: r4, vendor: reddit, pixel_id: \"a2_\u00e9t\u00e9\"}\n"
                  "      - {name: m4, vendor: meta, pixel_id: \"\"}\n",
             long_id);
    char want_long[800];
    snprintf(want_long, sizeof(want_long),
             "x.yaml:10:44: orgs[0].integrations[2].pixel_id: '%s' is not a Meta pixel id (digits, at most 32)",
             long_id);
    expect_errors(yaml,
                  "x.yaml:8:44: orgs[0].integrations[0].pixel_id: '1/../../me' is not a Meta pixel id (digits, at "
                  "most 32)",
                  "x.yaml:9:44: orgs[0].integrations[1].pixel_id: '1?fields=' is not a Meta pixel id (digits, at most "
                  "32)",
                  want_long,
                  "x.yaml:11:48: orgs[0].integrations[3].pixel_id: '..' is not a Snap pixel id (letters, digits and "
                  "'-', a UUID, at most 64)",
                  "x.yaml:12:48: orgs[0].integrations[4].pixel_id: '45fd6b2c pixel' is not a Snap pixel id (letters, "
                  "digits and '-', a UUID, at most 64)",
                  "x.yaml:13:46: orgs[0].integrations[5].pixel_id: 'a2_x#' is not a Reddit pixel id (letters, digits "
                  "and '_', e.g. a2_abc123, at most 64)",
                  "x.yaml:14:46: orgs[0].integrations[6].pixel_id: 'a2_x\r\n' is not a Reddit pixel id (letters, "
                  "digits and '_', e.g. a2_abc123, at most 64)",
                  "x.yaml:15:46: orgs[0].integrations[7].pixel_id: 'a2_%2F..' is not a Reddit pixel id (letters, "
                  "digits and '_', e.g. a2_abc123, at most 64)",
                  "x.yaml:16:46: orgs[0].integrations[8].pixel_id: 'a2_\u00e9t\u00e9' is not a Reddit pixel id "
                  "(letters, digits and '_', e.g. a2_abc123, at most 64)",
                  "x.yaml:17:44: orgs[0].integrations[9].pixel_id: '' is not a Meta pixel id (digits, at most 32)");
    /* The ids the vendors hand out load as before. */
    sluice_config_t *cfg =
        load_ok(BASE "      - {name: m, vendor: meta, pixel_id: 1234567890123456}\n"
                     "      - {name: s, vendor: snapchat, pixel_id: 8a2f6d2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f}\n"
                     "      - {name: r, vendor: reddit, pixel_id: a2_f0x1k9q2z8}\n");
    sluice_config_free(cfg);
}

/* Webhook headers the request's framing or its signature own were sent as configured:
 * `Content-Length: 3` went out with the whole body behind it, so the receiver took 3 bytes for
 * the request and the rest (other people's events) for the next one; a configured
 * X-Sluice-Signature went out next to sluice's. Past 21 headers the later ones were dropped
 * without a word. Each is refused where it is written (Connection: close is no framing: it loads). */
static void test_webhook_headers_checked(void **state)
{
    (void)state;
    char yaml[4096], want[256];
    size_t o = (size_t)snprintf(yaml, sizeof(yaml),
                                BASE "      - {name: w, vendor: webhook, url: \"https://h.test\",\n"
                                     "         headers: {Content-Length: \"3\", transfer-encoding: chunked,\n"
                                     "                   X-Sluice-Signature: x, Connection: close}}\n"
                                     "      - {name: many, vendor: webhook, url: \"https://h.test\", headers: {");
    for (int i = 0; i <= SLUICE_VENDOR_MAX_OPT_HEADERS; i++)
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%sX-H%d: v", i ? ", " : "", i);
    snprintf(yaml + o, sizeof(yaml) - o, "}}\n");
    snprintf(want, sizeof(want), "x.yaml:11:71: orgs[0].integrations[1].headers: %d headers, at most %d",
             SLUICE_VENDOR_MAX_OPT_HEADERS + 1, SLUICE_VENDOR_MAX_OPT_HEADERS);
    expect_errors(yaml,
                  "x.yaml:9:20: orgs[0].integrations[0].headers.Content-Length: 'Content-Length' frames the request; "
                  "libcurl sets it from the body",
                  "x.yaml:9:41: orgs[0].integrations[0].headers.transfer-encoding: 'transfer-encoding' frames the "
                  "request; libcurl sets it from the body",
                  "x.yaml:10:20: orgs[0].integrations[0].headers.X-Sluice-Signature: 'X-Sluice-Signature' is set by "
                  "sluice on signed requests (sign: true)",
                  want);
    /* As many as there is room for load, a Content-Type of the operator's too. */
    o = (size_t)snprintf(yaml, sizeof(yaml),
                         BASE "      - {name: w, vendor: webhook, url: \"https://h.test\", sign: true, headers: {");
    for (int i = 0; i < SLUICE_VENDOR_MAX_OPT_HEADERS; i++)
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%sX-H%d: v", i ? ", " : "", i);
    snprintf(yaml + o, sizeof(yaml) - o, "}}\n");
    sluice_config_t *cfg = load_ok(yaml);
    sluice_config_free(cfg);
}

/* GA4 answers a 2xx to every request it received: a measurement_id that is the stream's numeric
 * id (the number next to it in GA4's admin), a Universal Analytics property or a Google tag id
 * loaded, and every event counted delivered was dropped by GA4. */
static void test_ga4_measurement_id_checked(void **state)
{
    (void)state;
    expect_errors(BASE "      - {name: a, vendor: ga4, measurement_id: \"4412345678\"}\n"
                       "      - {name: b, vendor: ga4, measurement_id: UA-12345678-1}\n"
                       "      - {name: c, vendor: ga4, measurement_id: GT-ABC1234}\n"
                       "      - {name: d, vendor: ga4, measurement_id: \"G-ABC 123\"}\n",
                  "x.yaml:8:48: orgs[0].integrations[0].measurement_id: '4412345678' is not a GA4 measurement id (G- "
                  "and letters and digits, e.g. G-ABC123XYZ9; not the stream's numeric id, a UA- or a GT- id: GA4 "
                  "drops events sent with those without an error)",
                  "x.yaml:9:48: orgs[0].integrations[1].measurement_id: 'UA-12345678-1' is not a GA4 measurement id "
                  "(G- and letters and digits, e.g. G-ABC123XYZ9; not the stream's numeric id, a UA- or a GT- id: GA4 "
                  "drops events sent with those without an error)",
                  "x.yaml:10:48: orgs[0].integrations[2].measurement_id: 'GT-ABC1234' is not a GA4 measurement id (G- "
                  "and letters and digits, e.g. G-ABC123XYZ9; not the stream's numeric id, a UA- or a GT- id: GA4 "
                  "drops events sent with those without an error)",
                  "x.yaml:11:48: orgs[0].integrations[3].measurement_id: 'G-ABC 123' is not a GA4 measurement id (G- "
                  "and letters and digits, e.g. G-ABC123XYZ9; not the stream's numeric id, a UA- or a GT- id: GA4 "
                  "drops events sent with those without an error)");
    sluice_config_t *cfg = load_ok(BASE "      - {name: a, vendor: ga4, measurement_id: G-ABC123XYZ9}\n");
    sluice_config_free(cfg);
}

/* Google Ads' api_version goes into the request's path: a long one was cut by the path's buffer
 * into another endpoint, posted with the account's token. */
static void test_google_ads_version_checked(void **state)
{
    (void)state;
    char yaml[1024], version[120];
    version[0] = 'v';
    memset(version + 1, '9', sizeof(version) - 2);
    version[sizeof(version) - 1] = '\0';
    snprintf(yaml, sizeof(yaml),
             BASE
             "      - {name: a, vendor: google_ads, customer_id: \"1\", conversion_action: \"2\", api_version: %s}\n"
             "      - {name: b, vendor: google_ads, customer_id: \"1\", conversion_action: \"2\", api_version: "
             "v12345}\n",
             version);
    char want[400];
    snprintf(want, sizeof(want),
             "x.yaml:8:94: orgs[0].integrations[0].api_version: '%s' is not a Google Ads API version (e.g. v26)",
             version);
    expect_errors(yaml, want,
                  "x.yaml:9:94: orgs[0].integrations[1].api_version: 'v12345' is not a Google Ads API version (e.g. "
                  "v26)");
    sluice_config_t *cfg = load_ok(
        BASE "      - {name: a, vendor: google_ads, customer_id: \"1\", conversion_action: \"2\", api_version: v26}\n");
    sluice_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_keys_checked_with_positions),
        cmocka_unit_test(test_values_and_defaults),
        cmocka_unit_test(test_secret_members_from_options),
        cmocka_unit_test(test_without_registry),
        cmocka_unit_test(test_required_option_null),
        cmocka_unit_test(test_variable_left_in_option),
        cmocka_unit_test(test_path_ids_checked),
        cmocka_unit_test(test_webhook_headers_checked),
        cmocka_unit_test(test_ga4_measurement_id_checked),
        cmocka_unit_test(test_google_ads_version_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for vendors/pinterest.c: the exact Conversions API request for the reference envelope
 * (golden file), the bearer header and test mode, event names, the identity Pinterest needs, and
 * the classification of its answers (partial processing, codes, retries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vendors/vfix.h"
#include "vendors/vendor.h"

static sluice_config_t *cfg;

static int setup(void **state)
{
    (void)state;
    cfg = vfix_config();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_config_free(cfg);
    return 0;
}

static void test_golden_request(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope_click("epik", "dj0yJnU9epik", &len);
    const sluice_integration_t *it = vfix_integration(cfg, "pinterest");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "pina_token");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_pinterest.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://pinterest.test/v5/ad_accounts/549755885175/events");
    assert_string_equal(req.headers[0], "Authorization: Bearer pina_token");
    assert_string_equal(req.headers[1], "Content-Type: application/json");
    vfix_expect_golden("pinterest.json", req.body);
    sluice_vendor_request_dispose(&req);
    assert_int_equal(sluice_vendor_pinterest.build_check(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://pinterest.test/v5/ad_accounts/549755885175/events?test=true");
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static const char *event_name(const char *edit, sluice_map_result_t want)
{
    static char name[256];
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "pinterest"), raw, len, VFIX_NOW_MS, want, &item, why, sizeof(why));
    free(raw);
    if (want != SLUICE_MAP_OK) {
        snprintf(name, sizeof(name), "%s", why);
        return name;
    }
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(ev, "event_name")));
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
    return name;
}

/* contents[i][key] as a string; "(none)" when absent, so that a missing member fails the
 * comparison rather than crashing it. */
static const char *content_str(const json_t *contents, size_t i, const char *key)
{
    const char *s = json_string_value(json_object_get(json_array_get(contents, i), key));
    return s != NULL ? s : "(none)";
}

/* custom_data of the event an edit of the reference envelope maps to. Caller decrefs. */
static json_t *custom_data_of(const char *edit)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "pinterest"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    free(raw);
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    json_t *cd = json_incref(json_object_get(ev, "custom_data"));
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
    return cd;
}

/* Pinterest's contents[] items are {id, item_price, quantity, ...} (Conversions API reference,
 * custom_data.contents: "id: The id of a product. We recommend using this if you are a merchant
 * for AddToCart and Checkouts"): each price and quantity belongs to a product of the catalog.
 * They went without their id, so a two-product checkout told Pinterest two prices of nobody. */
static void test_contents_carry_their_product(void **state)
{
    (void)state;
    json_t *cd = custom_data_of("{\"properties\":{\"currency\":\"EUR\",\"products\":["
                                "{\"product_id\":\"SKU-1\",\"price\":19.99,\"quantity\":2},"
                                "{\"sku\":\"SKU-9\",\"price\":\"5.50\",\"quantity\":1},"
                                "{\"name\":\"no id: left out\",\"price\":1}]}}");
    json_t *contents = json_object_get(cd, "contents");
    assert_int_equal(json_array_size(contents), 2);
    assert_string_equal(content_str(contents, 0, "id"), "SKU-1");
    assert_string_equal(content_str(contents, 0, "item_price"), "19.99");
    assert_string_equal(content_str(contents, 1, "id"), "SKU-9");
    assert_string_equal(content_str(contents, 1, "item_price"), "5.50");
    json_decref(cd);
    /* A single-product event (Segment's Product Added): its own product, a numeric id as its text. */
    cd = custom_data_of("{\"event\":\"Product Added\",\"properties\":{\"product_id\":50314,\"price\":9.9,"
                        "\"quantity\":1}}");
    contents = json_object_get(cd, "contents");
    assert_int_equal(json_array_size(contents), 1);
    assert_string_equal(content_str(contents, 0, "id"), "50314");
    json_decref(cd);
}

static void test_names_and_identity(void **state)
{
    (void)state;
    assert_string_equal(event_name("{\"event\":\"Product Added\"}", SLUICE_MAP_OK), "add_to_cart");
    assert_string_equal(event_name("{\"event\":\"signup\"}", SLUICE_MAP_OK), "signup"); /* Pinterest's own name */
    assert_string_equal(event_name("{\"event\":\"Coupon Applied\"}", SLUICE_MAP_OK), "custom");
    /* Pinterest's initiate_checkout is Segment's Checkout Started; its other names of the "Name in
     * API" column pass as written (a site's rename to "contact" went as "custom"). */
    assert_string_equal(event_name("{\"event\":\"Checkout Started\"}", SLUICE_MAP_OK), "initiate_checkout");
    assert_string_equal(event_name("{\"event\":\"contact\"}", SLUICE_MAP_OK), "contact");
    assert_string_equal(event_name("{\"event\":\"schedule\"}", SLUICE_MAP_OK), "schedule");
    assert_string_equal(event_name("{\"event\":\"initiate_checkout\"}", SLUICE_MAP_OK), "initiate_checkout");
    /* The names Pinterest's v5 event_name enum has since added: Segment's Product Viewed and
     * Subscription Started are its view_content and subscribe, and a rename to one of the three
     * passes (each went as "custom", out of Pinterest's reports of that event type). */
    assert_string_equal(event_name("{\"event\":\"Product Viewed\"}", SLUICE_MAP_OK), "view_content");
    assert_string_equal(event_name("{\"event\":\"Subscription Started\"}", SLUICE_MAP_OK), "subscribe");
    assert_string_equal(event_name("{\"event\":\"view_content\"}", SLUICE_MAP_OK), "view_content");
    assert_string_equal(event_name("{\"event\":\"submit_application\"}", SLUICE_MAP_OK), "submit_application");
    assert_string_equal(event_name("{\"event\":\"subscribe\"}", SLUICE_MAP_OK), "subscribe");
    assert_string_equal(event_name("{\"type\":\"page\"}", SLUICE_MAP_OK), "page_visit");
    event_name("{\"type\":\"identify\"}", SLUICE_MAP_SKIP);
    /* No e-mail hash and no user agent: Pinterest could not match it. */
    const char *why = event_name("{\"context\":{\"ip\":\"203.0.113.7\"}}", SLUICE_MAP_DEAD);
    assert_non_null(strstr(why, "Pinterest needs"));
}

static void test_classify(void **state)
{
    (void)state;
    char why[256];
    const char *ok = "{\"num_events_received\":2,\"num_events_processed\":2,\"events\":[]}";
    assert_int_equal(sluice_vendor_pinterest.classify(200, ok, strlen(ok), why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *partial = "{\"num_events_received\":2,\"num_events_processed\":1,\"events\":[{\"status\":\"failed\"}]}";
    assert_int_equal(sluice_vendor_pinterest.classify(200, partial, strlen(partial), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (Pinterest processed 1 of 2)");
    /* Which one: events[] has a result per event, in the request's order; without one per event
     * the answer does not say (0: the whole batch). */
    const char *named = "{\"num_events_received\":2,\"num_events_processed\":1,\"events\":"
                        "[{\"status\":\"processed\"},{\"status\":\"failed\",\"error_message\":\"x\"}]}";
    unsigned char mask[2] = {0};
    assert_int_equal(sluice_vendor_pinterest.refused(named, strlen(named), 2, mask), 1);
    assert_int_equal(mask[0], 0);
    assert_int_equal(mask[1], 1);
    memset(mask, 0, sizeof(mask));
    assert_int_equal(sluice_vendor_pinterest.refused(partial, strlen(partial), 2, mask), 0);
    const char *bad = "{\"code\":4162,\"message\":\"Invalid ad account\"}";
    assert_int_equal(sluice_vendor_pinterest.classify(400, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Pinterest code 4162)");
    assert_int_equal(sluice_vendor_pinterest.classify(429, "{}", 2, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_pinterest.classify(503, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_pinterest.classify(401, "", 0, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    /* A 2xx that is not Pinterest's answer (a captive portal's or a proxy's page, an empty body)
     * delivered nothing: retried, never counted as delivered. */
    const char *html = "<html><body>Welcome to the guest network</body></html>";
    assert_int_equal(sluice_vendor_pinterest.classify(200, html, strlen(html), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 without num_events_received: not an answer from Pinterest (a proxy?)");
    assert_int_equal(sluice_vendor_pinterest.classify(204, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_pinterest.classify(200, "{\"ok\":true}", 11, why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_names_and_identity),
        cmocka_unit_test(test_contents_carry_their_product),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

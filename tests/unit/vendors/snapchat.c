/* Tests for vendors/snapchat.c: the exact Conversions API v3 request for the reference envelope
 * (golden file), the token in the query and the validate path, Snap's event names (others
 * skipped), the age limit, and classification. */
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
    char *raw = vfix_envelope_click("ScCid", "b2f9c-sccid", &len);
    const sluice_integration_t *it = vfix_integration(cfg, "snapchat");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "snap/tok");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_snapchat.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://snap.test/v3/45fd6b2c-pixel/events?access_token=snap%2Ftok");
    assert_int_equal(req.header_count, 1);
    vfix_expect_golden("snapchat.json", req.body);
    sluice_vendor_request_dispose(&req);
    assert_int_equal(sluice_vendor_snapchat.build_check(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://snap.test/v3/45fd6b2c-pixel/events/validate?access_token=snap%2Ftok");
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void expect_name(const char *edit, sluice_map_result_t want, const char *name)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "snapchat"), raw, len, VFIX_NOW_MS, want, &item, why, sizeof(why));
    free(raw);
    if (want != SLUICE_MAP_OK)
        return;
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "event_name")), name);
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
}

static void test_names_and_age(void **state)
{
    (void)state;
    expect_name("{\"event\":\"Product Added\"}", SLUICE_MAP_OK, "ADD_CART");
    expect_name("{\"event\":\"CUSTOM_EVENT_2\"}", SLUICE_MAP_OK, "CUSTOM_EVENT_2");
    expect_name("{\"event\":\"Coupon Applied\"}", SLUICE_MAP_SKIP, NULL);
    expect_name("{\"type\":\"page\"}", SLUICE_MAP_OK, "PAGE_VIEW");
    expect_name("{\"type\":\"identify\"}", SLUICE_MAP_SKIP, NULL);
    expect_name("{\"timestamp\":\"2026-10-01T00:00:00Z\"}", SLUICE_MAP_DEAD, NULL);
}

static void test_classify(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(sluice_vendor_snapchat.classify(200, "{\"status\":\"SUCCESS\"}", 20, why, sizeof(why)),
                     SLUICE_VERDICT_OK);
    const char *bad = "{\"status\":\"FAILED\",\"reason\":\"INVALID_PIXEL_ID\"}";
    assert_int_equal(sluice_vendor_snapchat.classify(400, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Snap INVALID_PIXEL_ID)");
    assert_int_equal(sluice_vendor_snapchat.classify(429, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_snapchat.classify(500, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_snapchat.classify(401, "", 0, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    /* A 2xx that is not Snapchat's answer (a captive portal's or a proxy's page, an empty body)
     * delivered nothing: retried. A 204 has no body by definition. */
    const char *html = "<html><body>Welcome to the guest network</body></html>";
    assert_int_equal(sluice_vendor_snapchat.classify(200, html, strlen(html), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 without a JSON answer: not an answer from Snapchat (a proxy?)");
    assert_int_equal(sluice_vendor_snapchat.classify(200, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_snapchat.classify(204, "", 0, why, sizeof(why)), SLUICE_VERDICT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_names_and_age),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

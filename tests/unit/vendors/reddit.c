/* Tests for vendors/reddit.c: the exact Conversions API v3 request for the reference envelope
 * with an rdt_cid (golden file), the E.164 phone variant, tracking types (custom names kept),
 * test mode, the age limit, and classification. */
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
    char *raw = vfix_envelope_click("rdt_cid", "1234-rdt-cid", &len);
    const sluice_integration_t *it = vfix_integration(cfg, "reddit");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "rdt-token");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_reddit.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://reddit.test/api/v3/pixels/a2_test123/conversion_events");
    assert_string_equal(req.headers[0], "Authorization: Bearer rdt-token");
    vfix_expect_golden("reddit.json", req.body);
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    json_t *user = json_object_get(json_array_get(json_object_get(json_object_get(body, "data"), "events"), 0), "user");
    /* E.164 with '+' (the variant the gateway computes for TikTok), not Meta's digits. */
    assert_string_equal(json_string_value(json_object_get(user, "phone_number")),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    json_decref(body);
    sluice_vendor_request_dispose(&req);
    assert_int_equal(sluice_vendor_reddit.build_check(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_non_null(strstr(req.body, "{\"data\":{\"test_id\":\"sluicectl-vendor-check\",\"events\":["));
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void expect_type(const char *edit, sluice_map_result_t want, const char *type, const char *custom)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "reddit"), raw, len, VFIX_NOW_MS, want, &item, why, sizeof(why));
    free(raw);
    if (want != SLUICE_MAP_OK)
        return;
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    json_t *t = json_object_get(ev, "type");
    assert_string_equal(json_string_value(json_object_get(t, "tracking_type")), type);
    if (custom != NULL)
        assert_string_equal(json_string_value(json_object_get(t, "custom_event_name")), custom);
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
}

static void test_types_and_age(void **state)
{
    (void)state;
    expect_type("{\"event\":\"Product Added\"}", SLUICE_MAP_OK, "ADD_TO_CART", NULL);
    expect_type("{\"event\":\"Coupon Applied\"}", SLUICE_MAP_OK, "CUSTOM", "Coupon Applied");
    expect_type("{\"type\":\"page\"}", SLUICE_MAP_OK, "PAGE_VISIT", NULL);
    expect_type("{\"type\":\"identify\"}", SLUICE_MAP_SKIP, NULL, NULL);
    expect_type("{\"timestamp\":\"2026-11-01T00:00:00Z\"}", SLUICE_MAP_DEAD, NULL, NULL);
}

static void test_classify(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(sluice_vendor_reddit.classify(200, "{}", 2, why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *bad = "{\"error\":{\"code\":400,\"message\":\"invalid event\"}}";
    assert_int_equal(sluice_vendor_reddit.classify(400, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Reddit code 400)");
    assert_int_equal(sluice_vendor_reddit.classify(429, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_reddit.classify(502, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_reddit.classify(401, "", 0, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    /* A 2xx that is not Reddit's answer (a captive portal's or a proxy's page, an empty body)
     * delivered nothing: retried. A 204 has no body by definition. */
    const char *html = "<html><body>Welcome to the guest network</body></html>";
    assert_int_equal(sluice_vendor_reddit.classify(200, html, strlen(html), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 without a JSON answer: not an answer from Reddit (a proxy?)");
    assert_int_equal(sluice_vendor_reddit.classify(200, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_reddit.classify(204, "", 0, why, sizeof(why)), SLUICE_VERDICT_OK);
}

/* The operator's test_id goes into the body whole, as a JSON string, whatever its length: it was
 * cut at 100 bytes (closing quote included), so a longer one made every request broken JSON that
 * Reddit refused, and each of its events went to the dead-letter topic. */
static void test_long_test_id(void **state)
{
    (void)state;
    char id[161], more[400];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    memcpy(id, "t2_", 3);
    snprintf(more, sizeof(more), "      - {name: reddit-test, vendor: reddit, pixel_id: a2_test123, test_id: %s}\n",
             id);
    sluice_config_t *c = vfix_config_with(more);
    json_t *secret = json_pack("{s:s}", "access_token", "rdt-token");
    json_t *body = vfix_build_reference(vfix_integration(c, "reddit-test"), secret);
    assert_non_null(body);
    json_t *data = json_object_get(body, "data");
    assert_string_equal(json_string_value(json_object_get(data, "test_id")), id);
    assert_int_equal(json_array_size(json_object_get(data, "events")), 1);
    json_decref(body);
    json_decref(secret);
    sluice_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_types_and_age),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_long_test_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

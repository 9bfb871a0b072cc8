/* Tests for vendors/linkedin.c: the exact BATCH_CREATE request for the reference envelope with a
 * li_fat_id (golden file), its headers, skipped and dead events, and the classification of
 * per-element statuses and LinkedIn's errors. */
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
    char *raw = vfix_envelope_click("li_fat_id", "4f1c-fat-id", &len);
    const sluice_integration_t *it = vfix_integration(cfg, "linkedin");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "AQX-token");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_linkedin.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://linkedin.test/rest/conversionEvents");
    assert_int_equal(req.header_count, 5);
    assert_string_equal(req.headers[0], "Authorization: Bearer AQX-token");
    assert_string_equal(req.headers[1], "LinkedIn-Version: 202608");
    assert_string_equal(req.headers[2], "X-Restli-Protocol-Version: 2.0.0");
    assert_string_equal(req.headers[3], "X-RestLi-Method: BATCH_CREATE");
    vfix_expect_golden("linkedin.json", req.body);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void test_skips(void **state)
{
    (void)state;
    const sluice_integration_t *it = vfix_integration(cfg, "linkedin");
    size_t len;
    sluice_vendor_item_t item;
    char why[256];
    /* E-mail hash only: matched on it alone. */
    char *raw = vfix_envelope(NULL, &len);
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(json_object_get(ev, "user"), "userIds")), 1);
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
    free(raw);
    raw = vfix_envelope("{\"context\":{\"ip\":\"203.0.113.7\"}}", &len);
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_SKIP, &item, why, sizeof(why));
    free(raw);
    raw = vfix_envelope("{\"type\":\"page\"}", &len);
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_SKIP, &item, why, sizeof(why));
    free(raw);
    raw = vfix_envelope("{\"timestamp\":\"2026-08-01T00:00:00Z\"}", &len);
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_DEAD, &item, why, sizeof(why));
    free(raw);
}

static void test_classify(void **state)
{
    (void)state;
    char why[256];
    const char *ok = "{\"elements\":[{\"status\":201},{\"status\":201}]}";
    assert_int_equal(sluice_vendor_linkedin.classify(200, ok, strlen(ok), why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *partial = "{\"elements\":[{\"status\":201},{\"status\":400,\"error\":{\"message\":\"x\"}}]}";
    assert_int_equal(sluice_vendor_linkedin.classify(200, partial, strlen(partial), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (LinkedIn refused 1 of 2)");
    unsigned char mask[2] = {0};
    assert_int_equal(sluice_vendor_linkedin.refused(partial, strlen(partial), 2, mask), 1);
    assert_int_equal(mask[0], 0);
    assert_int_equal(mask[1], 1);
    memset(mask, 0, sizeof(mask));
    assert_int_equal(sluice_vendor_linkedin.refused(partial, strlen(partial), 3, mask), 0); /* not one per element */
    const char *expired = "{\"serviceErrorCode\":65601,\"code\":\"REVOKED_ACCESS_TOKEN\",\"status\":401}";
    assert_int_equal(sluice_vendor_linkedin.classify(401, expired, strlen(expired), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 401 (LinkedIn serviceErrorCode 65601)");
    assert_int_equal(sluice_vendor_linkedin.classify(429, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_linkedin.classify(503, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    /* A 2xx that is not LinkedIn's BATCH_CREATE answer (a captive portal's or a proxy's page, an
     * empty body) delivered nothing: retried, never counted as delivered. */
    const char *html = "<html><body>Welcome to the guest network</body></html>";
    assert_int_equal(sluice_vendor_linkedin.classify(200, html, strlen(html), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 without elements: not an answer from LinkedIn (a proxy?)");
    assert_int_equal(sluice_vendor_linkedin.classify(201, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_linkedin.classify(200, "{\"ok\":true}", 11, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    /* A LinkedIn-Version past its sunset is answered 426 for every request: the events wait for
     * the fix instead of all going to the dead-letter topic, and the reason names the option. */
    const char *sunset =
        "{\"status\":426,\"code\":\"VERSION_MISSING\",\"message\":\"Requested version 20240101 is not active\"}";
    assert_int_equal(sluice_vendor_linkedin.classify(426, sunset, strlen(sunset), why, sizeof(why)),
                     SLUICE_VERDICT_WAIT);
    assert_non_null(strstr(why, "api_version is past its sunset"));
    /* What to do once it is raised: sluice-deliver does not reload (SIGHUP is only logged), so
     * "reload" left the events waiting until retry.max_elapsed_s sent them to the DLQ. */
    assert_non_null(strstr(why, "restart sluice-deliver"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_skips),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

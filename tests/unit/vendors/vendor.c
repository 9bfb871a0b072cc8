/* Tests for vendors/vendor.c: the registry built from vendors.def, secret validation (messages
 * name members, never values), query-string encoding of secrets, standard event names. */
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

static void test_registry(void **state)
{
    (void)state;
    const char *names[] = {"meta",      "ga4",      "tiktok",   "webhook", "google_ads",
                           "pinterest", "snapchat", "linkedin", "reddit"};
    assert_int_equal(SLUICE_VENDOR_COUNT, 9);
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        const sluice_vendor_ops_t *ops = sluice_vendor_get((sluice_vendor_kind_t)k);
        assert_non_null(ops);
        assert_int_equal(ops->kind, k);
        assert_string_equal(ops->name, names[k]);
        assert_string_equal(ops->name, sluice_vendor_kind_name((sluice_vendor_kind_t)k)); /* config agrees */
        assert_ptr_equal(sluice_vendor_find(names[k]), ops);
    }
    assert_null(sluice_vendor_find("myspace"));
    assert_null(sluice_vendor_get((sluice_vendor_kind_t)SLUICE_VENDOR_COUNT));
    assert_string_equal(sluice_vendor_names(),
                        "meta, ga4, tiktok, webhook, google_ads, pinterest, snapchat, linkedin, reddit");
}

static void expect_bad(const sluice_vendor_ops_t *ops, const char *json, const char *want, const char *secret)
{
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_check_secret(ops, json, strlen(json), &err), -1);
    if (strstr(err.msg, want) == NULL)
        print_error("message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, want));
    if (secret != NULL)
        assert_null(strstr(err.msg, secret));
}

static void test_check_secret(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    const char *ok = "{\"access_token\":\"EAAB-live-1\"}";
    assert_int_equal(sluice_vendor_check_secret(&sluice_vendor_meta, ok, strlen(ok), &err), 0);
    const char *ga = "{\"api_secret\":\"abc\"}";
    assert_int_equal(sluice_vendor_check_secret(&sluice_vendor_ga4, ga, strlen(ga), &err), 0);
    assert_int_equal(sluice_vendor_check_secret(&sluice_vendor_webhook, "{}", 2, &err), 0);
    const char *wh = "{\"secret\":\"k\"}";
    assert_int_equal(sluice_vendor_check_secret(&sluice_vendor_webhook, wh, strlen(wh), &err), 0);

    expect_bad(&sluice_vendor_meta, "{\"acess_token\":\"EAAB-live-1\"}", "unknown member 'acess_token'", "EAAB-live-1");
    expect_bad(&sluice_vendor_meta, "{}", "lacks 'access_token'", NULL);
    expect_bad(&sluice_vendor_ga4, "{\"access_token\":\"x\"}", "ga4 expects: api_secret", NULL);
    expect_bad(&sluice_vendor_tiktok, "{\"access_token\":\"\"}", "non-empty string", NULL);
    expect_bad(&sluice_vendor_tiktok, "{\"access_token\":42}", "non-empty string", NULL);
    expect_bad(&sluice_vendor_meta, "EAAB-live-1", "not valid JSON", "EAAB-live-1");
    expect_bad(&sluice_vendor_meta, "{\"access_token\":\"EAAB-live-1\"", "not valid JSON", "EAAB-live-1");
    expect_bad(&sluice_vendor_meta, "[\"EAAB-live-1\"]", "must be a JSON object", "EAAB-live-1");
    expect_bad(&sluice_vendor_webhook, "{\"secret\":\"\"}", "non-empty", NULL);
}

static void test_url(void **state)
{
    (void)state;
    char *u = sluice_vendor_url("https://h.test/base//", "/p");
    assert_string_equal(u, "https://h.test/base/p");
    assert_int_equal(sluice_vendor_url_param(&u, "a", "x y/+&=?~._-Z9é"), 0);
    assert_string_equal(u, "https://h.test/base/p?a=x%20y%2F%2B%26%3D%3F~._-Z9%C3%A9");
    assert_int_equal(sluice_vendor_url_param(&u, "b", ""), 0);
    assert_string_equal(u, "https://h.test/base/p?a=x%20y%2F%2B%26%3D%3F~._-Z9%C3%A9&b=");
    free(u);
}

static void test_standard_events(void **state)
{
    (void)state;
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_META, "Order Completed"), "Purchase");
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_GA4, "Order Completed"), "purchase");
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_TIKTOK, "Order Completed"), "CompletePayment");
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_GA4, "Checkout Started"), "begin_checkout");
    assert_null(sluice_vendor_standard_event(SLUICE_VENDOR_META, "Cart Viewed"));
    assert_null(sluice_vendor_standard_event(SLUICE_VENDOR_WEBHOOK, "Order Completed"));
    assert_null(sluice_vendor_standard_event(SLUICE_VENDOR_META, "order completed")); /* exact names only */
}

static void test_classify_http(void **state)
{
    (void)state;
    char why[32];
    struct {
        long status;
        sluice_verdict_t v;
    } cases[] = {{200, SLUICE_VERDICT_OK},    {204, SLUICE_VERDICT_OK},    {301, SLUICE_VERDICT_FAIL},
                 {400, SLUICE_VERDICT_FAIL},  {401, SLUICE_VERDICT_FAIL},  {404, SLUICE_VERDICT_FAIL},
                 {408, SLUICE_VERDICT_RETRY}, {413, SLUICE_VERDICT_FAIL},  {425, SLUICE_VERDICT_RETRY},
                 {429, SLUICE_VERDICT_RETRY}, {500, SLUICE_VERDICT_RETRY}, {503, SLUICE_VERDICT_RETRY}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(sluice_vendor_classify_http(cases[i].status, why, sizeof(why)), cases[i].v);
}

/* A body's number member as written: the text after "name": up to the next ',', '}' or ']'. */
static void member_text(const char *body, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", name);
    const char *at = strstr(body, key);
    assert_non_null(at);
    at += strlen(key);
    size_t n = strcspn(at, ",}]");
    assert_true(n < cap);
    memcpy(out, at, n);
    out[n] = '\0';
}

/* Prices, quantities and values reach Meta, GA4 and TikTok as the client wrote them (the
 * envelope's text), not as doubles printed back: 19.9, 0.1, 1e21, -0, 12345678901234567890. */
static void test_numbers_as_sent(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    size_t len;
    char *base = vfix_envelope("{\"event\":\"Order Completed\",\"properties\":{\"ph\":0}}", &len);
    static const char props[] =
        "{\"value\":19.9,\"currency\":\"USD\",\"products\":[{\"product_id\":\"a\",\"price\":0.1,"
        "\"quantity\":12345678901234567890},{\"product_id\":\"b\",\"price\":1e21,\"quantity\":-0},"
        "{\"product_id\":\"c\",\"price\":\"19.90\",\"quantity\":2.7}]}";
    const char *at = strstr(base, "{\"ph\":0}");
    assert_non_null(at);
    char raw[8192];
    int n = snprintf(raw, sizeof(raw), "%.*s%s%s", (int)(at - base), base, props, at + strlen("{\"ph\":0}"));
    assert_true(n > 0 && (size_t)n < sizeof(raw));
    static const struct {
        const char *vendor, *value, *price, *quantity;
    } cases[] = {{"meta", "value", "item_price", "quantity"},
                 {"ga4", "value", "price", "quantity"},
                 {"tiktok", "value", "price", "quantity"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_vendor_item_t item;
        char why[256], got[64];
        vfix_map(vfix_integration(cfg, cases[i].vendor), raw, (size_t)n, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why,
                 sizeof(why));
        member_text(item.body, cases[i].value, got, sizeof(got));
        assert_string_equal(got, "19.9");
        const char *p1 = strstr(item.body, "\"a\"");
        assert_non_null(p1);
        member_text(p1, cases[i].price, got, sizeof(got));
        assert_string_equal(got, "0.1");
        member_text(p1, cases[i].quantity, got, sizeof(got));
        assert_string_equal(got, "12345678901234567890");
        const char *p2 = strstr(item.body, "\"b\"");
        member_text(p2, cases[i].price, got, sizeof(got));
        assert_string_equal(got, "1e21");
        member_text(p2, cases[i].quantity, got, sizeof(got));
        assert_string_equal(got, "-0");
        /* A numeric string is written as the number it spells; a quantity with a fraction is cut
         * to its integer part, as vendors want integers there. */
        const char *p3 = strstr(item.body, "\"c\"");
        member_text(p3, cases[i].price, got, sizeof(got));
        assert_string_equal(got, "19.90");
        member_text(p3, cases[i].quantity, got, sizeof(got));
        assert_string_equal(got, "2");
        sluice_vendor_item_dispose(&item);
    }
    free(base);
    sluice_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),      cmocka_unit_test(test_check_secret),
        cmocka_unit_test(test_url),           cmocka_unit_test(test_standard_events),
        cmocka_unit_test(test_classify_http), cmocka_unit_test(test_numbers_as_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

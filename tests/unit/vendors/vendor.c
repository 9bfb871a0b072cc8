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

#include "json/parse.h"
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

/* Path segments are encoded whole, of any length: no id leaves its segment or is cut. */
static void test_url_path(void **state)
{
    (void)state;
    char *u = sluice_vendor_url_path("https://h.test/base/", (const char *const[]){"v1.0", "1/../x?y#z %", "e", NULL});
    assert_string_equal(u, "https://h.test/base/v1.0/1%2F..%2Fx%3Fy%23z%20%25/e");
    free(u);
    u = sluice_vendor_url_path("https://h.test", (const char *const[]){"..", ".", "a\r\n\xc3\xa9", "~._-", NULL});
    assert_string_equal(u, "https://h.test/%2E%2E/%2E/a%0D%0A%C3%A9/~._-");
    free(u);
    char id[2001];
    memset(id, '9', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    u = sluice_vendor_url_path("https://h.test", (const char *const[]){id, "events", NULL});
    assert_int_equal(strlen(u), strlen("https://h.test/") + 2000 + strlen("/events"));
    assert_string_equal(u + strlen(u) - 7, "/events");
    free(u);
}

static void test_standard_events(void **state)
{
    (void)state;
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_META, "Order Completed"), "Purchase");
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_GA4, "Order Completed"), "purchase");
    /* TikTok's current names (CompletePayment and SubmitForm were renamed on 2025-05-01). */
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_TIKTOK, "Order Completed"), "Purchase");
    assert_string_equal(sluice_vendor_standard_event(SLUICE_VENDOR_TIKTOK, "Lead Generated"), "Lead");
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

/* The reference envelope as an Order Completed whose properties are props, spliced in as raw text
 * so that its numbers are exactly as written. Caller frees. */
static char *with_props(const char *props, size_t *len)
{
    size_t base_len;
    char *base = vfix_envelope("{\"event\":\"Order Completed\",\"properties\":{\"ph\":0}}", &base_len);
    const char *at = strstr(base, "{\"ph\":0}");
    assert_non_null(at);
    size_t cap = base_len + strlen(props) + 1;
    char *raw = malloc(cap);
    assert_non_null(raw);
    int n = snprintf(raw, cap, "%.*s%s%s", (int)(at - base), base, props, at + strlen("{\"ph\":0}"));
    assert_true(n > 0 && (size_t)n < cap);
    free(base);
    *len = (size_t)n;
    return raw;
}

/* An item's body parsed with its numbers' text kept (json/parse.h), to read them as written. */
typedef struct parsed_body {
    json_t *root;
    sluice_jsonnum_t *nums;
} parsed_body_t;

static void parse_body(const sluice_vendor_item_t *item, parsed_body_t *pb)
{
    sluice_json_error_t jerr;
    pb->nums = sluice_jsonnum_new();
    assert_non_null(pb->nums);
    pb->root = sluice_json_parse(item->body, item->body_len, 64, 1 << 20, 0, pb->nums, &jerr);
    if (pb->root == NULL)
        print_error("body: %s\n%.*s\n", jerr.message, (int)item->body_len, item->body);
    assert_non_null(pb->root);
}

static void parsed_dispose(parsed_body_t *pb)
{
    json_decref(pb->root);
    sluice_jsonnum_free(pb->nums);
}

/* Maps raw through the named integration (asserting it maps) and parses the item's body. */
static void map_body(const sluice_config_t *cfg, const char *integration, const char *raw, size_t len,
                     sluice_vendor_item_t *item, parsed_body_t *pb)
{
    char why[256];
    vfix_map(vfix_integration(cfg, integration), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, item, why, sizeof(why));
    parse_body(item, pb);
}

/* v at a dotted path of pb ("events.0.params.items"; digits index arrays); NULL when absent. */
static json_t *at_path(json_t *v, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k != NULL && v != NULL; k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(k, NULL, 10)) : json_object_get(v, k);
    return v;
}

/* Pinterest's body for the envelope raw[0..len), read back (caller frees). */
static json_t *pinterest_body(sluice_config_t *cfg, const char *raw, size_t len)
{
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "pinterest"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_non_null(ev);
    sluice_vendor_item_dispose(&item);
    return ev;
}

/* Asserts that member key of obj is the number written as want, or absent when want is NULL. */
static void expect_number(const parsed_body_t *pb, const json_t *obj, const char *key, const char *want,
                          const char *vendor, size_t index)
{
    const json_t *v = json_object_get(obj, key);
    size_t n = 0;
    const char *text = json_is_number(v) ? sluice_jsonnum_find(pb->nums, v, &n) : NULL;
    char got[64];
    if (v == NULL)
        snprintf(got, sizeof(got), "(absent)");
    else if (text == NULL)
        snprintf(got, sizeof(got), "(not a number)");
    else
        snprintf(got, sizeof(got), "%.*s", (int)n, text);
    if (strcmp(got, want != NULL ? want : "(absent)") != 0)
        print_error("%s: %s of product %zu is %s, wanted %s\n", vendor, key, index, got,
                    want != NULL ? want : "(absent)");
    assert_string_equal(got, want != NULL ? want : "(absent)");
}

/* Quantities that are not a whole number a vendor could count (5e18 twice: their sum overflows
 * 64 bits; 1e21 and "1e400" do not fit one; -1 and beyond-64-bit integers are not a count) are
 * never converted to an integer (undefined behaviour, which UBSan aborts on: the worker then
 * crash-loops on the uncommitted message). A whole-number text is passed as the client sent it;
 * anything else is left out, or cut to its integer part when that is a sane count (2.5 → 2, as
 * before). The sums (num_items, item_count) count only sane counts. */
static void test_quantities(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const char props[] =
        "{\"value\":19.9,\"currency\":\"USD\",\"products\":["
        "{\"product_id\":\"a\",\"quantity\":5e18},{\"product_id\":\"b\",\"quantity\":5e18},"
        "{\"product_id\":\"c\",\"quantity\":1e21},{\"product_id\":\"d\",\"quantity\":12345678901234567890},"
        "{\"product_id\":\"e\",\"quantity\":-1},{\"product_id\":\"f\",\"quantity\":2.5},"
        "{\"product_id\":\"g\",\"quantity\":\"1e400\"},{\"product_id\":\"h\",\"quantity\":\"nan\"},"
        "{\"product_id\":\"i\",\"quantity\":2},{\"product_id\":\"j\",\"quantity\":3}]}";
    /* The quantity each vendor's product entry carries, product by product. */
    static const char *const want[] = {NULL, NULL, NULL, "12345678901234567890", "-1", "2", NULL, NULL, "2", "3"};
    static const struct {
        const char *vendor, *array, *total;
    } cases[] = {
        {"pinterest", "custom_data.contents", "custom_data.num_items"},
        {"snapchat", "custom_data.contents", "custom_data.num_items"},
        {"reddit", NULL, "metadata.item_count"},
        {"meta", "custom_data.contents", NULL},
        {"ga4", "params.items", NULL},
        {"tiktok", "properties.contents", NULL},
    };
    size_t len;
    char *raw = with_props(props, &len);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(vfix_integration(cfg, cases[i].vendor), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        parsed_body_t pb;
        parse_body(&item, &pb);
        if (cases[i].array != NULL) {
            json_t *arr = at_path(pb.root, cases[i].array);
            if (json_array_size(arr) != 10)
                print_error("%s: %.*s\n", cases[i].vendor, (int)item.body_len, item.body);
            assert_int_equal(json_array_size(arr), 10);
            for (size_t p = 0; p < 10; p++)
                expect_number(&pb, json_array_get(arr, p), "quantity", want[p], cases[i].vendor, p);
        }
        if (cases[i].total != NULL) {
            const char *dot = strrchr(cases[i].total, '.');
            char parent[64];
            snprintf(parent, sizeof(parent), "%.*s", (int)(dot - cases[i].total), cases[i].total);
            expect_number(&pb, at_path(pb.root, parent), dot + 1, "7", cases[i].vendor, 0); /* 2 + 2 + 3 */
        }
        parsed_dispose(&pb);
        sluice_vendor_item_dispose(&item);
    }
    free(raw);

    /* Nothing countable: no num_items / item_count at all rather than a wrapped or negative sum. */
    static const char none[] = "{\"products\":[{\"product_id\":\"a\",\"quantity\":9223372036854775807},"
                               "{\"product_id\":\"b\",\"quantity\":9223372036854775807},"
                               "{\"product_id\":\"c\",\"quantity\":-5}]}";
    raw = with_props(none, &len);
    static const struct {
        const char *vendor, *parent, *key;
    } totals[] = {{"pinterest", "custom_data", "num_items"},
                  {"snapchat", "custom_data", "num_items"},
                  {"reddit", "metadata", "item_count"}};
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(vfix_integration(cfg, totals[i].vendor), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why,
                 sizeof(why));
        parsed_body_t pb;
        parse_body(&item, &pb);
        expect_number(&pb, at_path(pb.root, totals[i].parent), totals[i].key, NULL, totals[i].vendor, 0);
        parsed_dispose(&pb);
        sluice_vendor_item_dispose(&item);
    }
    free(raw);
    sluice_config_free(cfg);
}

/* Pinterest and LinkedIn take amounts as decimal strings: the client's text, not a double printed
 * with 15 digits (19.90 had become "19.9", 12345678901234567890 "1.23456789012346e+19", 1e21
 * "1e+21", -0 "0"). A value without text of its own (a numeric string with spaces) is formatted. */
static void test_amounts_as_sent(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    /* 48 characters and more (a 64-digit fraction, a 120-digit integer, as a number and as a
     * numeric string) were printed from their double: 15 significant digits. */
#define FRAC64 "0.12345678901234567890123456789012345678901234567890123456789012"
#define INT120                                                                                                         \
    "1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012" \
    "34567890"
    static const char *const values[] = {"19.90", "0.1",  "1e21",           "-0", "12345678901234567890", "\"19.90\"",
                                         FRAC64,  INT120, "\"" FRAC64 "\"", NULL};
    static const char *const want[] = {"19.90", "0.1",  "1e21", "-0",  "12345678901234567890",
                                       "19.90", FRAC64, INT120, FRAC64};
#undef FRAC64
#undef INT120
    for (size_t v = 0; values[v] != NULL; v++) {
        char props[512];
        snprintf(props, sizeof(props),
                 "{\"revenue\":%s,\"currency\":\"EUR\",\"products\":[{\"product_id\":\"a\",\"price\":%s,"
                 "\"quantity\":1}]}",
                 values[v], values[v]);
        size_t len;
        char *raw = with_props(props, &len);
        json_t *ev = pinterest_body(cfg, raw, len);
        json_t *cd = json_object_get(ev, "custom_data");
        assert_string_equal(json_string_value(json_object_get(cd, "value")), want[v]);
        assert_string_equal(json_string_value(at_path(cd, "contents.0.item_price")), want[v]);
        json_decref(ev);
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(vfix_integration(cfg, "linkedin"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        ev = json_loadb(item.body, item.body_len, 0, NULL);
        assert_non_null(ev);
        assert_string_equal(json_string_value(at_path(ev, "conversionValue.amount")), want[v]);
        json_decref(ev);
        sluice_vendor_item_dispose(&item);
        free(raw);
    }
    /* No text to keep: a string strtod reads but JSON does not spell a number that way. */
    size_t len;
    char *raw = with_props("{\"value\":\" 19.5\",\"currency\":\"EUR\"}", &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "pinterest"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_non_null(strstr(item.body, "\"value\":\"19.5\""));
    sluice_vendor_item_dispose(&item);
    free(raw);
    /* Not a finite number: no value rather than "inf" or "nan". */
    raw = with_props("{\"value\":\"inf\",\"revenue\":\"nan\",\"currency\":\"EUR\"}", &len);
    vfix_map(vfix_integration(cfg, "pinterest"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(strstr(item.body, "\"value\""));
    sluice_vendor_item_dispose(&item);
    free(raw);
    /* A string spelt as a JSON number but beyond a double ("1e400"): it went into the body as the
     * number 1e400, which vendors' parsers refuse, and Meta or TikTok then refuse the whole batch
     * with the other events in it. No value, as for "inf". */
    raw =
        with_props("{\"value\":\"1e400\",\"currency\":\"EUR\",\"products\":[{\"product_id\":\"a\",\"price\":\"-1e400\","
                   "\"quantity\":1}]}",
                   &len);
    vfix_map(vfix_integration(cfg, "meta"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(strstr(item.body, "e400"));
    sluice_vendor_item_dispose(&item);
    vfix_map(vfix_integration(cfg, "pinterest"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(strstr(item.body, "e400"));
    sluice_vendor_item_dispose(&item);
    free(raw);
    sluice_config_free(cfg);
}

/* Numbers beyond a double (1e400, -1E+999, a 400-digit price: the gateway refused them with 400
 * invalid_json) reach Meta, GA4 and TikTok as the client wrote them, as any number does; as a
 * quantity 1e400 is no count and is left out. Pinterest takes amounts as strings of the text, of
 * any length: the 400-digit price was formatted from its value, the largest double
 * ("1.79769313486232e+308", a figure the client did not write). */
static void test_numbers_beyond_a_double(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    char big[405], props[1024];
    big[0] = '1';
    memset(big + 1, '0', 400);
    memcpy(big + 401, ".0", 3);
    snprintf(props, sizeof(props),
             "{\"value\":1e400,\"currency\":\"EUR\",\"products\":[{\"product_id\":\"a\",\"price\":-1E+999,"
             "\"quantity\":1e400},{\"product_id\":\"b\",\"price\":%s,\"quantity\":1}]}",
             big);
    size_t len;
    char *raw = with_props(props, &len);
    static const struct {
        const char *vendor, *price;
    } cases[] = {{"meta", "item_price"}, {"ga4", "price"}, {"tiktok", "price"}};
    char got[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(vfix_integration(cfg, cases[i].vendor), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        member_text(item.body, "value", got, sizeof(got));
        assert_string_equal(got, "1e400");
        const char *p1 = strstr(item.body, "\"a\""), *p2 = strstr(item.body, "\"b\"");
        assert_non_null(p1);
        assert_non_null(p2);
        member_text(p1, cases[i].price, got, sizeof(got));
        assert_string_equal(got, "-1E+999");
        member_text(p2, cases[i].price, got, sizeof(got));
        assert_string_equal(got, big);
        char entry[256];
        snprintf(entry, sizeof(entry), "%.*s", (int)(p2 > p1 ? p2 - p1 : 0), p1);
        assert_null(strstr(entry, "quantity")); /* 1e400 is no count */
        sluice_vendor_item_dispose(&item);
    }
    json_t *ev = pinterest_body(cfg, raw, len);
    json_t *cd = json_object_get(ev, "custom_data");
    assert_string_equal(json_string_value(json_object_get(cd, "value")), "1e400");
    assert_string_equal(json_string_value(at_path(cd, "contents.0.item_price")), "-1E+999");
    assert_string_equal(json_string_value(at_path(cd, "contents.1.item_price")), big); /* as sent, as "1e400" */
    json_decref(ev);
    free(raw);
    sluice_config_free(cfg);
}

/* Product ids written as numbers (`product_id: 1234`, as many shops' data layers and Shopify
 * send them) reach every vendor with a product list, as the id's text: they were read as strings
 * only, so the products vanished from Meta's contents, TikTok's, Pinterest's and Snap's
 * content_ids, Reddit's products and GA4's item_id. */
static void test_numeric_product_ids(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const char *const names[] = {"meta", "ga4", "tiktok", "pinterest", "snapchat", "reddit"};
    size_t len;
    char *raw = vfix_envelope("{\"properties\":{\"currency\":\"EUR\",\"value\":5,\"products\":["
                              "{\"product_id\":1234,\"name\":\"Mug\",\"price\":5,\"quantity\":1},"
                              "{\"sku\":987654321012,\"price\":1,\"quantity\":1}]}}",
                              &len);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        sluice_vendor_item_t item;
        char why[200] = "";
        vfix_map(vfix_integration(cfg, names[i]), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        if (strstr(item.body, "\"1234\"") == NULL || strstr(item.body, "\"987654321012\"") == NULL)
            print_error("%s: %s\n", names[i], item.body);
        assert_non_null(strstr(item.body, "\"1234\""));
        assert_non_null(strstr(item.body, "\"987654321012\""));
        sluice_vendor_item_dispose(&item);
    }
    free(raw);
    sluice_config_free(cfg);
}

/* Order ids written as numbers (Shopify's and many data layers' `order_id: 50314`) reach every
 * vendor that takes one, as the id's text, however long: they were read as strings only, so Meta,
 * TikTok, Pinterest and Snap got no order_id, GA4 no transaction_id (its purchase deduplication)
 * and Google Ads no orderId (the key it deduplicates conversions on). */
static void test_numeric_order_ids(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const struct {
        const char *vendor, *path;
    } cases[] = {
        {"meta", "custom_data.order_id"},      {"ga4", "params.transaction_id"},
        {"tiktok", "properties.order_id"},     {"gads", "orderId"},
        {"pinterest", "custom_data.order_id"}, {"snapchat", "custom_data.order_id"},
    };
    /* 42, 64 and 400 digits too: beyond 40 characters a whole number had no text (42 digits were
     * refused with 400 invalid_json, a longer fraction formatted), and no vendor got the id. */
    char d400[401];
    for (int k = 0; k < 400; k++)
        d400[k] = (char)('1' + k % 9);
    d400[400] = '\0';
    const char *const ids[] = {"50314",
                               "12345678901234567890",
                               "-7",
                               "123456789012345678901234567890123456789012",
                               "-123456789012345678901234567890123456789012345678901234567890123",
                               d400,
                               NULL};
    for (size_t k = 0; ids[k] != NULL; k++) {
        char props[1024];
        snprintf(props, sizeof(props), "{\"order_id\":%s,\"revenue\":10,\"currency\":\"EUR\"}", ids[k]);
        size_t len;
        char *raw = with_props(props, &len);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            sluice_vendor_item_t item;
            parsed_body_t pb;
            map_body(cfg, cases[i].vendor, raw, len, &item, &pb);
            const char *got = json_string_value(at_path(pb.root, cases[i].path));
            char want[401]; /* GA4 takes a parameter's first 100 characters (ga4.c) */
            snprintf(want, strcmp(cases[i].vendor, "ga4") == 0 ? 101 : sizeof(want), "%s", ids[k]);
            if (got == NULL || strcmp(got, want) != 0)
                print_error("%s: %s is %s, wanted \"%s\": %.*s\n", cases[i].vendor, cases[i].path,
                            got != NULL ? got : "(absent)", want, (int)item.body_len, item.body);
            assert_non_null(got);
            assert_string_equal(got, want);
            parsed_dispose(&pb);
            sluice_vendor_item_dispose(&item);
        }
        free(raw);
    }
    /* A number that is no id (a fraction, an exponent) is still left out, not invented. */
    size_t len;
    char *raw = with_props("{\"order_id\":5.5,\"revenue\":10,\"currency\":\"EUR\"}", &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "meta"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(strstr(item.body, "order_id"));
    sluice_vendor_item_dispose(&item);
    free(raw);
    sluice_config_free(cfg);
}

/* strtod reads C's hexadecimal floats: a price or quantity string "0x1A" went to every vendor as
 * 26 (Pinterest "26"), a figure the client never wrote. Only decimal text is a number. */
static void test_hex_strings_are_no_numbers(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    size_t len;
    char *raw = with_props("{\"value\":\"0x1A\",\"currency\":\"EUR\",\"products\":[{\"product_id\":\"a\","
                           "\"price\":\"0x10\",\"quantity\":\"0x2p3\"}]}",
                           &len);
    static const char *const names[] = {"meta", "ga4", "tiktok", "gads", "pinterest", "snapchat", "linkedin", "reddit"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(vfix_integration(cfg, names[i]), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        if (strstr(item.body, "26") != NULL || strstr(item.body, "16") != NULL || strstr(item.body, "\"quantity\"") ||
            strstr(item.body, "num_items") || strstr(item.body, "item_count"))
            print_error("%s: %s\n", names[i], item.body);
        assert_null(strstr(item.body, "\"value\":26"));
        assert_null(strstr(item.body, "\"value\":\"26\""));
        assert_null(strstr(item.body, "\"amount\":\"26\""));
        assert_null(strstr(item.body, "\"conversionValue\":26"));
        assert_null(strstr(item.body, "16.0"));
        assert_null(strstr(item.body, "\"16\""));
        assert_null(strstr(item.body, "\"quantity\""));
        sluice_vendor_item_dispose(&item);
    }
    free(raw);
    sluice_config_free(cfg);
}

/* A product id written as a whole number past 64 bits (an EAN-128 or a shop's 20-digit id) is the
 * same id: jansson holds it as a double, so only the client's text can give it back. Such
 * products vanished from every vendor's product list. */
static void test_long_numeric_product_ids(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const char *const names[] = {"meta", "ga4", "tiktok", "pinterest", "snapchat", "reddit"};
    size_t len;
    char *raw = with_props("{\"currency\":\"EUR\",\"value\":5,\"products\":[{\"product_id\":12345678901234567890,"
                           "\"name\":\"Mug\",\"price\":5,\"quantity\":1},{\"sku\":2.5,\"price\":1,\"quantity\":1}]}",
                           &len);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        sluice_vendor_item_t item;
        char why[200] = "";
        vfix_map(vfix_integration(cfg, names[i]), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        if (strstr(item.body, "\"12345678901234567890\"") == NULL)
            print_error("%s: %s\n", names[i], item.body);
        assert_non_null(strstr(item.body, "\"12345678901234567890\""));
        assert_null(strstr(item.body, "\"2.5\"")); /* a fraction is no id */
        sluice_vendor_item_dispose(&item);
    }
    free(raw);
    sluice_config_free(cfg);
}

/* Segment's single-product events (Product Viewed, Product Added, Product Added to Wishlist...)
 * carry the product in properties itself, without a products[] list. Meta and TikTok read it into
 * their contents; Pinterest's content_ids, Snap's contents, Reddit's products and GA4's items
 * stayed empty, so add_to_cart and view_content reached them without the product. */
static void test_single_product_events(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const struct {
        const char *vendor, *path;
    } cases[] = {
        {"meta", "custom_data.contents.0.id"},     {"tiktok", "properties.contents.0.content_id"},
        {"ga4", "params.items.0.item_id"},         {"pinterest", "custom_data.content_ids.0"},
        {"snapchat", "custom_data.contents.0.id"}, {"reddit", "metadata.products.0.id"},
    };
    size_t len;
    char *raw = vfix_envelope("{\"event\":\"Product Added\",\"properties\":{\"product_id\":\"P9\",\"sku\":\"S9\","
                              "\"name\":\"Mug\",\"price\":9.5,\"quantity\":2,\"currency\":\"EUR\"}}",
                              &len);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(vfix_integration(cfg, cases[i].vendor), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
        parsed_body_t pb;
        parse_body(&item, &pb);
        const char *got = json_string_value(at_path(pb.root, cases[i].path));
        if (got == NULL)
            print_error("%s: no %s: %.*s\n", cases[i].vendor, cases[i].path, (int)item.body_len, item.body);
        assert_non_null(got);
        assert_string_equal(got, "P9");
        parsed_dispose(&pb);
        sluice_vendor_item_dispose(&item);
    }
    free(raw);
    sluice_config_free(cfg);
}

/* GA4's custom parameters (the properties without a standard meaning: shipping, tax, a score)
 * keep the client's numbers too: they were copied as doubles, so 4.90 went as 4.9, -0 as 0 and
 * 12345678901234567890 as 1.2345678901234567e19. */
static void test_ga4_params_as_sent(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    size_t len;
    char *raw = with_props("{\"order_id\":\"O1\",\"revenue\":10,\"currency\":\"EUR\",\"shipping\":4.90,"
                           "\"tax\":1E+2,\"neg\":-0,\"big\":12345678901234567890,\"count\":3}",
                           &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    parsed_body_t pb;
    parse_body(&item, &pb);
    json_t *params = at_path(pb.root, "params");
    expect_number(&pb, params, "shipping", "4.90", "ga4", 0);
    expect_number(&pb, params, "tax", "1E+2", "ga4", 0);
    expect_number(&pb, params, "neg", "-0", "ga4", 0);
    expect_number(&pb, params, "big", "12345678901234567890", "ga4", 0);
    expect_number(&pb, params, "count", "3", "ga4", 0);
    parsed_dispose(&pb);
    sluice_vendor_item_dispose(&item);
    free(raw);
    sluice_config_free(cfg);
}

/* A data layer's currency in lower case ("usd", as Stripe's API writes it) reaches every vendor as
 * ISO 4217 writes it, "USD": vendors list the upper-case codes (Google Ads' and LinkedIn's
 * currencyCode, GA4's currency reference). A string that is no three-letter code goes as sent. */
static void test_currency_upper_case(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const char *const vendors[] = {"meta",      "ga4",      "tiktok",   "gads",
                                          "pinterest", "snapchat", "linkedin", "reddit"};
    static const struct {
        const char *props, *want;
    } cases[] = {{"{\"value\":19.9,\"currency\":\"usd\"}", "\"USD\""},
                 {"{\"value\":19.9,\"currency\":\" Eur \"}", "\"EUR\""},
                 {"{\"value\":19.9,\"currency\":\"US dollars\"}", "\"US dollars\""}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t len;
        char *raw = with_props(cases[c].props, &len);
        for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++) {
            sluice_vendor_item_t item;
            char why[256];
            vfix_map(vfix_integration(cfg, vendors[i]), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
            if (strstr(item.body, cases[c].want) == NULL)
                print_error("%s: %s\n", vendors[i], item.body);
            assert_non_null(strstr(item.body, cases[c].want));
            sluice_vendor_item_dispose(&item);
        }
        free(raw);
    }
    sluice_config_free(cfg);
}

static int result_failed(const json_t *r)
{
    const char *st = json_string_value(json_object_get(r, "status"));
    return st != NULL && strcmp(st, "failed") == 0;
}

/* The shared request pieces: headers are "Name: value", never past SLUICE_VENDOR_MAX_HEADERS;
 * an operator's value is quoted and escaped into the body whole; a per-event result list refuses
 * only when it has one result per event. */
static void test_request_pieces(void **state)
{
    (void)state;
    sluice_vendor_request_t r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(sluice_vendor_request_bearer(&r, "tok"), 0);
    assert_int_equal(sluice_vendor_request_header(&r, "Content-Type", "application/json"), 0);
    assert_string_equal(r.headers[0], "Authorization: Bearer tok");
    assert_string_equal(r.headers[1], "Content-Type: application/json");
    while (r.header_count < SLUICE_VENDOR_MAX_HEADERS)
        assert_int_equal(sluice_vendor_request_header(&r, "X-A", "b"), 0);
    assert_int_equal(sluice_vendor_request_header(&r, "X-A", "b"), -1);
    assert_int_equal(r.header_count, SLUICE_VENDOR_MAX_HEADERS);
    sluice_vendor_request_dispose(&r);

    char *q = sluice_vendor_quoted("{\"code\":", "a\"b\\c", "}");
    assert_string_equal(q, "{\"code\":\"a\\\"b\\\\c\"}");
    free(q);

    unsigned char refused[3] = {0};
    const char *answer = "{\"events\":[{\"status\":\"processed\"},{\"status\":\"failed\"},{}]}";
    assert_int_equal(sluice_vendor_refused_list(answer, strlen(answer), "events", result_failed, 3, refused), 1);
    assert_memory_equal(refused, "\0\1\0", 3);
    memset(refused, 0, sizeof(refused));
    assert_int_equal(sluice_vendor_refused_list(answer, strlen(answer), "events", result_failed, 2, refused), 0);
    assert_memory_equal(refused, "\0\0\0", 3);
}

/* The page of a page event a server library sent (analytics-node, RudderStack's node SDK: the URL
 * and referrer in properties, no context.page; or a context.page of empty strings) is the page
 * every vendor is told about: Meta, Pinterest and Snapchat got no event_source_url (Meta requires
 * one for website events) and TikTok no page.url, where GA4 already had its page_location. A track
 * event's properties.url is what it is about (a shared link), never the page it happened on. */
static void test_page_of_server_page_events(void **state)
{
    (void)state;
    sluice_config_t *cfg = vfix_config();
    static const char *const pages[] = {
        "{\"type\":\"page\",\"name\":\"Landing\",\"context\":{\"userAgent\":\"UA\",\"ip\":\"1.2.3.4\"},"
        "\"properties\":{\"url\":\"https://shop.acme.test/landing?utm_source=x\",\"referrer\":"
        "\"https://www.google.com/\"}}",
        "{\"type\":\"page\",\"name\":\"Landing\",\"context\":{\"userAgent\":\"UA\",\"ip\":\"1.2.3.4\",\"page\":"
        "{\"url\":\"\",\"referrer\":\"\"}},\"properties\":{\"url\":\"https://shop.acme.test/landing?utm_source=x\","
        "\"referrer\":\"https://www.google.com/\"}}",
    };
    static const char track[] =
        "{\"context\":{\"userAgent\":\"UA\",\"ip\":\"1.2.3.4\"},\"properties\":{\"url\":"
        "\"https://elsewhere.test/shared\",\"referrer\":\"https://t.co/\",\"revenue\":1,\"currency\":\"USD\"}}";
    static const struct {
        const char *vendor, *url, *referrer;
    } cases[] = {
        {"meta", "event_source_url", NULL},
        {"pinterest", "event_source_url", NULL},
        {"snapchat", "event_source_url", NULL},
        {"tiktok", "page.url", "page.referrer"},
        {"ga4", "params.page_location", "params.page_referrer"},
    };
    for (size_t p = 0; p < 3; p++) {
        size_t len;
        char *raw = vfix_envelope(p < 2 ? pages[p] : track, &len);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            sluice_vendor_item_t item;
            parsed_body_t pb;
            map_body(cfg, cases[i].vendor, raw, len, &item, &pb);
            const char *url = json_string_value(at_path(pb.root, cases[i].url));
            const char *ref = cases[i].referrer ? json_string_value(at_path(pb.root, cases[i].referrer)) : NULL;
            if (p < 2 && (url == NULL || (cases[i].referrer != NULL && ref == NULL)))
                print_error("%s, page %zu: %.*s\n", cases[i].vendor, p, (int)item.body_len, item.body);
            if (p < 2) {
                assert_non_null(url);
                assert_string_equal(url, "https://shop.acme.test/landing?utm_source=x");
                if (cases[i].referrer != NULL) {
                    assert_non_null(ref);
                    assert_string_equal(ref, "https://www.google.com/");
                }
            } else {
                assert_null(url);
                assert_null(ref);
            }
            parsed_dispose(&pb);
            sluice_vendor_item_dispose(&item);
        }
        free(raw);
    }
    sluice_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_check_secret),
        cmocka_unit_test(test_numeric_product_ids),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_url_path),
        cmocka_unit_test(test_standard_events),
        cmocka_unit_test(test_classify_http),
        cmocka_unit_test(test_numbers_as_sent),
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_amounts_as_sent),
        cmocka_unit_test(test_numbers_beyond_a_double),
        cmocka_unit_test(test_numeric_order_ids),
        cmocka_unit_test(test_long_numeric_product_ids),
        cmocka_unit_test(test_single_product_events),
        cmocka_unit_test(test_hex_strings_are_no_numbers),
        cmocka_unit_test(test_ga4_params_as_sent),
        cmocka_unit_test(test_currency_upper_case),
        cmocka_unit_test(test_request_pieces),
        cmocka_unit_test(test_page_of_server_page_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

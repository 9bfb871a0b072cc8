/* Tests for identity/vendor.c: the _fbp, _fbc and _ga formats (checked with POSIX regular
 * expressions) and click ids taken from page URLs. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/cookie.h"
#include "identity/vendor.h"

static int matches(const char *pattern, const char *s)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok)
        print_error("'%s' does not match %s\n", s, pattern);
    return ok;
}

static void fbp(void **state)
{
    (void)state;
    char a[64], b[64];
    assert_int_equal(sluice_vendor_fbp(1700000000123, a, sizeof(a)), 0);
    assert_true(matches("^fb\\.1\\.1700000000123\\.[1-9][0-9]{9}$", a));
    assert_true(sluice_cookie_value_ok(a, strlen(a)));
    /* The random part differs between calls and covers more than one leading digit. */
    int leading[10] = {0};
    for (int i = 0; i < 200; i++) {
        assert_int_equal(sluice_vendor_fbp(1700000000123, b, sizeof(b)), 0);
        assert_true(matches("^fb\\.1\\.1700000000123\\.[1-9][0-9]{9}$", b));
        leading[b[19] - '0']++;
    }
    int distinct = 0;
    for (int d = 1; d < 10; d++)
        distinct += leading[d] > 0;
    assert_true(distinct >= 5);
    assert_string_not_equal(a, b);
    char small[20];
    assert_int_equal(sluice_vendor_fbp(1700000000123, small, sizeof(small)), -1);
}

static void fbc(void **state)
{
    (void)state;
    char out[SLUICE_VENDOR_VALUE_MAX + 1];
    assert_int_equal(sluice_vendor_fbc(1700000000123, "IwAR2xYz_-abc", out, sizeof(out)), 0);
    assert_string_equal(out, "fb.1.1700000000123.IwAR2xYz_-abc");
    assert_true(matches("^fb\\.1\\.[0-9]{13}\\.[A-Za-z0-9_-]+$", out));
    assert_string_equal(sluice_vendor_fbc_click(out), "IwAR2xYz_-abc");
    /* a value that cannot live in a cookie is refused */
    assert_int_equal(sluice_vendor_fbc(1, "a;b", out, sizeof(out)), -1);
    assert_int_equal(sluice_vendor_fbc(1, "a b", out, sizeof(out)), -1);
    assert_int_equal(sluice_vendor_fbc(1, "", out, sizeof(out)), -1);
    char *huge = malloc(SLUICE_CLICK_ID_MAX + 2);
    memset(huge, 'x', SLUICE_CLICK_ID_MAX + 1);
    huge[SLUICE_CLICK_ID_MAX + 1] = '\0';
    assert_int_equal(sluice_vendor_fbc(1, huge, out, sizeof(out)), -1);
    free(huge);
    /* reading existing values */
    assert_string_equal(sluice_vendor_fbc_click("fb.2.1600000000000.XYZ.with.dots"), "XYZ.with.dots");
    assert_null(sluice_vendor_fbc_click("fb.1.1600000000000."));
    assert_null(sluice_vendor_fbc_click("fb.1.abc.XYZ"));
    assert_null(sluice_vendor_fbc_click("GA1.1.1.2"));
}

static void ga(void **state)
{
    (void)state;
    char out[64];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(sluice_vendor_ga(1700000000, out, sizeof(out)), 0);
        assert_true(matches("^GA1\\.1\\.(0|[1-9][0-9]{0,9})\\.1700000000$", out));
        unsigned long long r = strtoull(out + 6, NULL, 10);
        assert_true(r <= 4294967295ull);
        assert_true(sluice_vendor_ga_valid(out)); /* what the gateway mints it also reads */
    }
    /* The values gtag writes (analytics.js's GA1.2. too), and what it would replace. */
    assert_true(sluice_vendor_ga_valid("GA1.2.123.1600000000"));
    assert_true(sluice_vendor_ga_valid("GA1.1.918273645.1700000000"));
    assert_false(sluice_vendor_ga_valid("%20"));
    assert_false(sluice_vendor_ga_valid("GA1.1.123"));
    assert_false(sluice_vendor_ga_valid("GA1.1..1600000000"));
    assert_false(sluice_vendor_ga_valid("GA1.1.123."));
    assert_false(sluice_vendor_ga_valid("GA1.x.123.1600000000"));
    assert_false(sluice_vendor_ga_valid("fb.1.1600000000000.1"));
    char small[10];
    assert_int_equal(sluice_vendor_ga(1700000000, small, sizeof(small)), -1);
    assert_int_equal(SLUICE_VENDOR_GA_MAX_AGE_S, 63072000);
    assert_int_equal(SLUICE_VENDOR_FBP_MAX_AGE_S, 7776000);
}

static void expect_ids(const char *url, const char *want_json)
{
    json_t *got = sluice_click_ids(url);
    if (want_json == NULL) {
        assert_null(got);
        return;
    }
    json_error_t je;
    json_t *want = json_loads(want_json, 0, &je);
    assert_non_null(want);
    assert_non_null(got);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("%s: got %s\n", url, g);
        free(g);
    }
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

static void click_ids(void **state)
{
    (void)state;
    expect_ids("https://shop.acme.test/?gclid=Cj0KCQ", "{\"gclid\":\"Cj0KCQ\"}");
    expect_ids("https://shop.acme.test/p?utm_source=google&gclid=Cj0&utm_medium=cpc", "{\"gclid\":\"Cj0\"}");
    expect_ids("https://shop.acme.test/p?fbclid=IwAR2%2Dx%5F&ttclid=E.C.P&msclkid=abc+def&li_fat_id=9c1%3D",
               "{\"fbclid\":\"IwAR2-x_\",\"ttclid\":\"E.C.P\",\"msclkid\":\"abc def\",\"li_fat_id\":\"9c1=\"}");
    expect_ids("https://shop.acme.test/p?gclid=one&gclid=two#gclid=three", "{\"gclid\":\"one\"}");
    expect_ids("https://shop.acme.test/p?gclid=%zz&fbclid=ok", "{\"fbclid\":\"ok\"}");
    expect_ids("https://shop.acme.test/p?gclid=&fbclid=x", "{\"fbclid\":\"x\"}");
    /* An empty first copy (a template's unfilled placeholder) does not hide the real click id
     * after it, whichever network's. */
    expect_ids("https://shop.acme.test/p?gclid=&gclid=REAL", "{\"gclid\":\"REAL\"}");
    expect_ids("https://shop.acme.test/p?fbclid=&ttclid=&msclkid&fbclid=F1&ttclid=T1&msclkid=M1&li_fat_id=&"
               "li_fat_id=L1&epik=&epik=E1&ScCid=&ScCid=S1&rdt_cid=&rdt_cid=R1&gbraid=&gbraid=GB&wbraid=&wbraid=WB",
               "{\"fbclid\":\"F1\",\"ttclid\":\"T1\",\"msclkid\":\"M1\",\"li_fat_id\":\"L1\",\"epik\":\"E1\","
               "\"ScCid\":\"S1\",\"rdt_cid\":\"R1\",\"gbraid\":\"GB\",\"wbraid\":\"WB\"}");
    expect_ids("https://shop.acme.test/p?gclid=&gclid=", NULL);
    expect_ids("https://shop.acme.test/p?q=shoes", NULL);
    expect_ids("https://shop.acme.test/p", NULL);
    expect_ids("https://shop.acme.test/p#gclid=frag", NULL);
    expect_ids("not a url ?gclid=still-a-query", "{\"gclid\":\"still-a-query\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fbp),
        cmocka_unit_test(fbc),
        cmocka_unit_test(ga),
        cmocka_unit_test(click_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

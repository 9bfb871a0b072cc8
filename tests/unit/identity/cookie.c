/* Tests for identity/cookie.c: anonymous ids, cookie values, the Domain rule and the exact
 * Set-Cookie strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "identity/cookie.h"

static void ids(void **state)
{
    (void)state;
    assert_true(sluice_id_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca427", 36));
    assert_true(sluice_id_valid("0123456789abcdef0123456789abcdef", 32));
    assert_true(sluice_id_valid("A-Za_z.0~9", 10));
    assert_false(sluice_id_valid("", 0));
    assert_false(sluice_id_valid(NULL, 3));
    assert_false(sluice_id_valid("a b", 3));
    assert_false(sluice_id_valid("a;b", 3));
    assert_false(sluice_id_valid("a\"b", 3));
    assert_false(sluice_id_valid("anon:1", 6));
    assert_false(sluice_id_valid("caf\xc3\xa9", 5));
    char longid[SLUICE_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid));
    assert_true(sluice_id_valid(longid, SLUICE_ID_MAX));
    assert_false(sluice_id_valid(longid, SLUICE_ID_MAX + 1));

    char a[SLUICE_ID_MINT_LEN + 1], b[SLUICE_ID_MINT_LEN + 1];
    assert_int_equal(sluice_id_mint(a), 0);
    assert_int_equal(sluice_id_mint(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_true(sluice_id_valid(a, strlen(a)));
    assert_string_not_equal(a, b);
}

static void values(void **state)
{
    (void)state;
    assert_true(sluice_cookie_value_ok("fb.1.1700000000000.1234567890", 29));
    assert_true(sluice_cookie_value_ok("GA1.1.42.1700000000", 19));
    assert_true(sluice_cookie_value_ok("a=b/c:d", 7));
    assert_false(sluice_cookie_value_ok("", 0));
    assert_false(sluice_cookie_value_ok("a b", 3));
    assert_false(sluice_cookie_value_ok("a;b", 3));
    assert_false(sluice_cookie_value_ok("a,b", 3));
    assert_false(sluice_cookie_value_ok("a\"b", 3));
    assert_false(sluice_cookie_value_ok("a\\b", 3));
    assert_false(sluice_cookie_value_ok("a\nb", 3));
    assert_false(sluice_cookie_value_ok("a\x7f", 2));
}

static void domain_rule(void **state)
{
    (void)state;
    assert_string_equal(sluice_cookie_domain_for("acme.test", "data.shop.acme.test", 19), "acme.test");
    assert_string_equal(sluice_cookie_domain_for("acme.test", "data.acme.test:8443", 19), "acme.test");
    assert_string_equal(sluice_cookie_domain_for("acme.test", "ACME.TEST", 9), "acme.test");
    assert_null(sluice_cookie_domain_for("acme.test", "evilacme.test", 13));
    assert_null(sluice_cookie_domain_for("acme.test", "data.example-pay.com", 20));
    assert_null(sluice_cookie_domain_for("acme.test", "127.0.0.1:8443", 14));
    assert_null(sluice_cookie_domain_for(NULL, "data.acme.test", 14));
    assert_null(sluice_cookie_domain_for("acme.test", NULL, 0));
}

static void formats(void **state)
{
    (void)state;
    char out[256];
    sluice_cookie_t sid = {"_sid", "0123456789abcdef0123456789abcdef", 400u * SLUICE_COOKIE_DAY_S, NULL, 1};
    int n = sluice_cookie_format(&sid, out, sizeof(out));
    assert_string_equal(
        out, "_sid=0123456789abcdef0123456789abcdef; Max-Age=34560000; Path=/; Secure; HttpOnly; SameSite=Lax");
    assert_int_equal(n, strlen(out));

    sid.domain = "acme.test";
    sluice_cookie_format(&sid, out, sizeof(out));
    assert_string_equal(out, "_sid=0123456789abcdef0123456789abcdef; Max-Age=34560000; Domain=acme.test; Path=/; "
                             "Secure; HttpOnly; SameSite=Lax");

    sluice_cookie_t fbp = {"_fbp", "fb.1.1700000000000.1234567890", 90u * SLUICE_COOKIE_DAY_S, "acme.test", 0};
    sluice_cookie_format(&fbp, out, sizeof(out));
    assert_string_equal(out, "_fbp=fb.1.1700000000000.1234567890; Max-Age=7776000; Domain=acme.test; Path=/; Secure; "
                             "SameSite=Lax");

    sluice_cookie_t bad = {"_sid", "a;b", 60, NULL, 1};
    assert_int_equal(sluice_cookie_format(&bad, out, sizeof(out)), -1);
    char tiny[16];
    assert_int_equal(sluice_cookie_format(&fbp, tiny, sizeof(tiny)), -1);
    assert_string_equal(tiny, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids),
        cmocka_unit_test(values),
        cmocka_unit_test(domain_rule),
        cmocka_unit_test(formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

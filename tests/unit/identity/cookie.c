/* Tests for identity/cookie.c: anonymous ids, cookie values, the Domain rule, the exact
 * Set-Cookie strings (expiring ones too), and signed anonymous-id cookies: only the gateway's key
 * makes one, for one org and one id, and any change, another org or a key not in the ring fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/hkdf.h"
#include "crypto/keyring.h"
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

static void expired(void **state)
{
    (void)state;
    char out[256];
    assert_true(sluice_cookie_format_expired("_sid", "acme.test", 1, out, sizeof(out)) > 0);
    assert_string_equal(out, "_sid=; Max-Age=0; Domain=acme.test; Path=/; Secure; HttpOnly; SameSite=Lax");
    assert_true(sluice_cookie_format_expired("_fbp", NULL, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "_fbp=; Max-Age=0; Path=/; Secure; SameSite=Lax");
    assert_int_equal(sluice_cookie_format_expired("_fbp", NULL, 0, out, 10), -1);
}

#define ROOT_HEX "4242424242424242424242424242424242424242424242424242424242424242"

static void signed_values(void **state)
{
    (void)state;
    sluice_err_t err;
    sluice_keyring_t *root = sluice_keyring_from_strings(ROOT_HEX, "3", NULL, &err);
    sluice_keyring_t *kr = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_COOKIE, &err);
    sluice_keyring_t *other = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    char v[SLUICE_ID_MAX + SLUICE_COOKIE_SIG_LEN + 1], id[SLUICE_ID_MAX + 1];
    int n = sluice_cookie_sign(kr, "acme", "c0ffee00c0ffee00c0ffee00c0ffee00", v, sizeof(v));
    assert_int_equal(n, 32 + SLUICE_COOKIE_SIG_LEN);
    assert_int_equal(strlen(v), (size_t)n);
    assert_int_equal(v[32], '.');
    assert_true(sluice_cookie_value_ok(v, (size_t)n));
    assert_int_equal(sluice_cookie_verify(kr, "acme", v, (size_t)n, id), 0);
    assert_string_equal(id, "c0ffee00c0ffee00c0ffee00c0ffee00");
    /* the same id signs the same way (a refreshed cookie does not change) */
    char again[sizeof(v)];
    assert_int_equal(sluice_cookie_sign(kr, "acme", id, again, sizeof(again)), n);
    assert_string_equal(again, v);

    /* another org, another purpose's key, no ring, a changed id or MAC, an unsigned id: refused */
    assert_int_equal(sluice_cookie_verify(kr, "globex", v, (size_t)n, id), -1);
    assert_int_equal(sluice_cookie_verify(other, "acme", v, (size_t)n, id), -1);
    assert_int_equal(sluice_cookie_verify(NULL, "acme", v, (size_t)n, id), -1);
    char forged[sizeof(v)];
    memcpy(forged, v, sizeof(v));
    forged[0] = forged[0] == 'c' ? 'd' : 'c'; /* a victim's id under someone else's MAC */
    assert_int_equal(sluice_cookie_verify(kr, "acme", forged, (size_t)n, id), -1);
    memcpy(forged, v, sizeof(v));
    forged[n - 1] = forged[n - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(sluice_cookie_verify(kr, "acme", forged, (size_t)n, id), -1);
    assert_int_equal(sluice_cookie_verify(kr, "acme", "c0ffee00c0ffee00c0ffee00c0ffee00", 32, id), -1);
    assert_int_equal(sluice_cookie_verify(kr, "acme", v, (size_t)n - 1, id), -1);

    /* a key id the ring lacks (a key retired from SLUICE_KEYRING) */
    sluice_keyring_t *root2 = sluice_keyring_from_strings(ROOT_HEX, "4", NULL, &err);
    sluice_keyring_t *kr2 = sluice_keyring_derive(root2, SLUICE_KEY_PURPOSE_XD_COOKIE, &err);
    assert_int_equal(sluice_cookie_verify(kr2, "acme", v, (size_t)n, id), -1);

    /* ids with dots sign and verify (the signature is the last 24 characters) */
    n = sluice_cookie_sign(kr, "acme", "GA1.2.3.a.b", v, sizeof(v));
    assert_true(n > 0);
    assert_int_equal(sluice_cookie_verify(kr, "acme", v, (size_t)n, id), 0);
    assert_string_equal(id, "GA1.2.3.a.b");
    /* what cannot be signed */
    assert_int_equal(sluice_cookie_sign(kr, "acme", "a;b", v, sizeof(v)), -1);
    assert_int_equal(sluice_cookie_sign(kr, "acme", "abc", v, 10), -1);
    sluice_keyring_free(root);
    sluice_keyring_free(root2);
    sluice_keyring_free(kr);
    sluice_keyring_free(kr2);
    sluice_keyring_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids),     cmocka_unit_test(values),  cmocka_unit_test(domain_rule),
        cmocka_unit_test(formats), cmocka_unit_test(expired), cmocka_unit_test(signed_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for plugins/encrypt (through the real loader, with a real key ring): the output format
 * (enc:v1: + base64url of kid ‖ nonce ‖ ciphertext ‖ tag), opening it with the host's open
 * and the AAD org ‖ 0x00 ‖ rule path (what `sluicectl unmask` does), fresh nonces, type bytes,
 * the AAD binding (another org or rule does not open), tampering, the output cap, and a host
 * without a key ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bt.h"
#include "crypto/base64url.h"

#define PRIMARY "6c5b1c0e9a3f2d4e8b7a69584736251403f2e1d0c9b8a7968574635241302f1e"

static sluice_keyring_t *keys;

static int setup(void **state)
{
    (void)state;
    sluice_err_t err;
    keys = sluice_keyring_from_strings(PRIMARY, "7", NULL, &err);
    return keys != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sluice_keyring_free(keys);
    return 0;
}

/* Opens the JSON string result r ("\"enc:v1:...\"") with aad = org ‖ 0 ‖ rule. Returns the
 * plaintext (type byte first) in a malloc'd NUL-terminated buffer, or NULL when it does not
 * open; *kid gets the key id. */
static char *open_result(const char *r, const char *org, const char *rule, int *kid)
{
    size_t n = strlen(r);
    if (n < 9 || strncmp(r, "\"enc:v1:", 8) != 0 || r[n - 1] != '"')
        return NULL;
    const char *b64 = r + 8;
    size_t blen = n - 9;
    uint8_t *sealed = malloc(blen);
    size_t slen = 0;
    if (sealed == NULL || sluice_b64url_decode(b64, blen, sealed, blen, &slen) != 0) {
        free(sealed);
        return NULL;
    }
    *kid = sealed[0];
    char aad[256];
    size_t alen = (size_t)snprintf(aad, sizeof(aad), "%s%c%s", org, '\0', rule);
    char *pt = malloc(slen + 1);
    size_t plen = 0;
    int rc = sluice_plugin_open(keys, aad, alen, sealed, slen, (uint8_t *)pt, slen, &plen, NULL);
    free(sealed);
    if (rc != SLUICE_MASK_OK) {
        free(pt);
        return NULL;
    }
    pt[plen] = '\0';
    return pt;
}

static void test_round_trip(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "encrypt", NULL, keys), 0);
    char *r1 = strdup(bt_mask(&b, "\"4111 1111 1111 1111\""));
    char *r2 = strdup(bt_mask(&b, "\"4111 1111 1111 1111\""));
    /* Random nonces: two encryptions of one value differ. */
    assert_string_not_equal(r1, r2);
    /* "enc:v1:" + base64url(kid + 12 + 1 + 19 + 16 = 49 bytes) = 7 + 66 characters. */
    assert_int_equal(strlen(r1), 2 + 7 + 66);
    int kid = 0;
    char *pt = open_result(r1, "acme", "properties.x", &kid);
    assert_non_null(pt);
    assert_int_equal(kid, 7);
    assert_string_equal(pt, "s4111 1111 1111 1111");
    free(pt);
    pt = open_result(r2, "acme", "properties.x", &kid);
    assert_string_equal(pt, "s4111 1111 1111 1111");
    free(pt);
    /* Bound to org and rule path: neither another org nor another rule opens it. */
    assert_null(open_result(r1, "globex", "properties.x", &kid));
    assert_null(open_result(r1, "acme", "properties.y", &kid));
    /* Tampering: one character of the base64url text changed. */
    r1[30] = r1[30] == 'A' ? 'B' : 'A';
    assert_null(open_result(r1, "acme", "properties.x", &kid));
    free(r1);
    free(r2);
    bt_close(&b);
}

static void test_types_and_rule_path(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "encrypt", NULL, keys), 0);
    int kid;
    char *pt = open_result(bt_mask(&b, "42.5"), "acme", "properties.x", &kid);
    assert_string_equal(pt, "j42.5");
    free(pt);
    pt = open_result(bt_mask(&b, "{\"a\":[1,\"x\"]}"), "acme", "properties.x", &kid);
    assert_string_equal(pt, "j{\"a\":[1,\"x\"]}");
    free(pt);
    pt = open_result(bt_mask(&b, "\"\""), "acme", "properties.x", &kid);
    assert_string_equal(pt, "s");
    free(pt);
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    /* An array rule: every element is bound to the rule path, not its concrete path. */
    char *r = bt_mask_at(&b, 1, "acme", "properties.items[*].sku", "properties.items[3].sku", "\"SKU-9\"");
    pt = open_result(r, "acme", "properties.items[*].sku", &kid);
    assert_string_equal(pt, "sSKU-9");
    free(pt);
    assert_null(open_result(r, "acme", "properties.items[3].sku", &kid));
    free(r);
    bt_close(&b);
}

static void test_output_cap(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "encrypt", NULL, keys), 0);
    /* 3000 bytes → 3030 sealed → 4040 base64url + 7: fits in 4096; 3100 does not. */
    char *v = malloc(3101);
    assert_non_null(v);
    memset(v, 'a', 3100);
    v[3100] = '\0';
    assert_string_equal(bt_mask(&b, bt_jstr(v)), "!output too large");
    v[3000] = '\0';
    int kid;
    char *pt = open_result(bt_mask(&b, bt_jstr(v)), "acme", "properties.x", &kid);
    assert_non_null(pt);
    assert_int_equal(strlen(pt), 3001);
    free(pt);
    free(v);
    bt_close(&b);
}

static void test_no_key_ring(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "encrypt", NULL, NULL), -1);
    assert_non_null(strstr(b.errors, "the host has no key ring: set ENCRYPTION_KEY"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "encrypt", "{key_env: X}", keys), -1);
    bt_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_types_and_rule_path),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_no_key_ring),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

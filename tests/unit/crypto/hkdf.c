/* Tests for crypto/hkdf.c (the RFC 5869 SHA-256 test vectors) and for sluice_keyring_derive:
 * one ring per purpose, same key ids and primary as the root ring, keys that differ between
 * purposes and from the root, a message sealed for one purpose opening under no other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/hex.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/keyring.h"

static void unhex(const char *hex, uint8_t *out, size_t *n)
{
    assert_int_equal(sluice_hex_decode(hex, strlen(hex), out, 256, n), 0);
}

static void rfc5869(const char *ikm_hex, const char *salt_hex, const char *info_hex, size_t len, const char *okm_hex)
{
    uint8_t ikm[256], salt[256], info[256], want[256], got[256];
    size_t ikm_n, salt_n = 0, info_n = 0, want_n;
    unhex(ikm_hex, ikm, &ikm_n);
    if (salt_hex[0] != '\0')
        unhex(salt_hex, salt, &salt_n);
    if (info_hex[0] != '\0')
        unhex(info_hex, info, &info_n);
    unhex(okm_hex, want, &want_n);
    assert_int_equal(want_n, len);
    assert_int_equal(sluice_hkdf_sha256(salt, salt_n, ikm, ikm_n, info, info_n, got, len), 0);
    assert_memory_equal(got, want, len);
}

static void test_rfc5869_vectors(void **state)
{
    (void)state;
    /* A.1: basic test case */
    rfc5869("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    /* A.3: zero-length salt and info */
    rfc5869("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

static void test_bad_lengths(void **state)
{
    (void)state;
    uint8_t out[8] = {1, 1, 1, 1, 1, 1, 1, 1}, zero[8] = {0};
    assert_int_equal(sluice_hkdf_sha256(NULL, 0, "k", 0, NULL, 0, out, sizeof(out)), -1);
    assert_memory_equal(out, zero, sizeof(out));
    uint8_t big[1];
    assert_int_equal(sluice_hkdf_sha256(NULL, 0, "k", 1, NULL, 0, big, 0), -1);
}

#define ROOT_1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define ROOT_2 "5555555555555555555555555555555555555555555555555555555555555555"

static void test_derive_keeps_ids(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *root = sluice_keyring_from_strings(ROOT_2, "2", "1:" ROOT_1, &err);
    assert_non_null(root);
    sluice_keyring_t *vault = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_VAULT, &err);
    sluice_keyring_t *xd = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    sluice_keyring_t *again = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_VAULT, &err);
    assert_non_null(vault);
    assert_non_null(xd);
    assert_non_null(again);
    assert_int_equal(sluice_keyring_primary_kid(vault), 2);
    assert_int_equal(sluice_keyring_count(vault), 2);
    assert_null(sluice_keyring_key(vault, 3));
    for (uint8_t kid = 1; kid <= 2; kid++) {
        const uint8_t *r = sluice_keyring_key(root, kid), *v = sluice_keyring_key(vault, kid),
                      *x = sluice_keyring_key(xd, kid);
        assert_memory_not_equal(r, v, 32);
        assert_memory_not_equal(v, x, 32);
        assert_memory_equal(v, sluice_keyring_key(again, kid), 32); /* deterministic */
        /* exactly HKDF-SHA256(root key, salt "sluice-kdf-v1", info label) */
        uint8_t want[32];
        assert_int_equal(sluice_hkdf_sha256(SLUICE_HKDF_SALT, strlen(SLUICE_HKDF_SALT), r, 32, SLUICE_KEY_PURPOSE_VAULT,
                                            strlen(SLUICE_KEY_PURPOSE_VAULT), want, 32),
                         0);
        assert_memory_equal(v, want, 32);
    }
    assert_memory_not_equal(sluice_keyring_key(vault, 1), sluice_keyring_key(vault, 2), 32);

    /* Sealed for the vault: opens with the vault ring only. */
    uint8_t sealed[64], pt[64];
    size_t n, m;
    assert_int_equal(sluice_aead_seal(vault, "aad", 3, "secret", 6, sealed, sizeof(sealed), &n, &err), 0);
    assert_int_equal(sluice_aead_open(again, "aad", 3, sealed, n, pt, sizeof(pt), &m, NULL), SLUICE_AEAD_OK);
    assert_int_equal(sluice_aead_open(xd, "aad", 3, sealed, n, pt, sizeof(pt), &m, NULL), SLUICE_AEAD_EAUTH);
    assert_int_equal(sluice_aead_open(root, "aad", 3, sealed, n, pt, sizeof(pt), &m, NULL), SLUICE_AEAD_EAUTH);
    sluice_keyring_free(root);
    sluice_keyring_free(vault);
    sluice_keyring_free(xd);
    sluice_keyring_free(again);
}

static void test_derive_needs_purpose(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *root = sluice_keyring_from_strings(ROOT_1, NULL, NULL, &err);
    assert_null(sluice_keyring_derive(root, "", &err));
    assert_string_equal(err.msg, "deriving keys: no purpose given");
    sluice_keyring_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5869_vectors),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_derive_keeps_ids),
        cmocka_unit_test(test_derive_needs_purpose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

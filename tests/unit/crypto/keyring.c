/* Tests for crypto/keyring.c: building key rings from ENCRYPTION_KEY / SLUICE_KEY_ID /
 * SLUICE_KEYRING (as strings and through the environment) and the exact error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/keyring.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "f0e1d2c3b4a5968778695a4b3c2d1e0fF0E1D2C3B4A5968778695A4B3C2D1E0F"
#define KEY_C "5555555555555555555555555555555555555555555555555555555555555555"

static void check_key_a(const uint8_t *k)
{
    assert_non_null(k);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k[i], i);
}

/* Building from the strings must fail with exactly `want` as the message, and the message must
 * not contain `secret` (the bad value, or the key material in it). */
static void expect_error(const char *primary, const char *kid, const char *ring, const char *want, const char *secret)
{
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(primary, kid, ring, &err);
    assert_null(kr);
    assert_string_equal(err.msg, want);
    if (secret != NULL && secret[0] != '\0')
        assert_null(strstr(err.msg, secret));
}

static void test_primary_only_default_kid(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(KEY_A, NULL, NULL, &err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 1);
    assert_int_equal(sluice_keyring_count(kr), 1);
    check_key_a(sluice_keyring_key(kr, 1));
    assert_null(sluice_keyring_key(kr, 2));
    assert_null(sluice_keyring_key(kr, 0));
    sluice_keyring_free(kr);
    /* Empty SLUICE_KEY_ID and SLUICE_KEYRING count as unset. */
    kr = sluice_keyring_from_strings(KEY_A, "", "", &err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 1);
    assert_int_equal(sluice_keyring_count(kr), 1);
    sluice_keyring_free(kr);
}

static void test_primary_with_ring(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(KEY_A, "7", " 3:" KEY_B " ,\n255:" KEY_C "\t", &err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 7);
    assert_int_equal(sluice_keyring_count(kr), 3);
    check_key_a(sluice_keyring_key(kr, 7));
    const uint8_t *b = sluice_keyring_key(kr, 3);
    assert_non_null(b);
    /* Upper- and lower-case hex decode alike. */
    assert_memory_equal(b, b + 16, 16);
    assert_int_equal(b[0], 0xf0);
    assert_int_equal(b[15], 0x0f);
    const uint8_t *c = sluice_keyring_key(kr, 255);
    assert_non_null(c);
    assert_int_equal(c[0], 0x55);
    assert_int_equal(c[31], 0x55);
    assert_null(sluice_keyring_key(kr, 1));
    sluice_keyring_free(kr);
}

static void test_kid_bounds(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(KEY_A, "255", NULL, &err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 255);
    sluice_keyring_free(kr);
    kr = sluice_keyring_from_strings(KEY_A, "001", NULL, &err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 1);
    sluice_keyring_free(kr);
}

static void test_encryption_key_missing_or_empty(void **state)
{
    (void)state;
    expect_error(NULL, NULL, NULL,
                 "ENCRYPTION_KEY is not set; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. from "
                 "`openssl rand -hex 32`)",
                 NULL);
    expect_error("", NULL, NULL,
                 "ENCRYPTION_KEY is empty; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. from "
                 "`openssl rand -hex 32`)",
                 NULL);
}

static void test_encryption_key_wrong_length(void **state)
{
    (void)state;
    const char *short_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef";  /* 63 */
    const char *long_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0"; /* 65 */
    expect_error(short_key, NULL, NULL,
                 "ENCRYPTION_KEY has 63 characters; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. "
                 "from `openssl rand -hex 32`)",
                 short_key);
    expect_error(long_key, NULL, NULL,
                 "ENCRYPTION_KEY has 65 characters; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. "
                 "from `openssl rand -hex 32`)",
                 long_key);
    /* A 32-character "key" (someone pasted 16 bytes). */
    expect_error("00112233445566778899aabbccddeeff", NULL, NULL,
                 "ENCRYPTION_KEY has 32 characters; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. "
                 "from `openssl rand -hex 32`)",
                 "00112233445566778899aabbccddeeff");
    /* Space inside the key is not dropped, only around it. */
    expect_error("0001020304050607 08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", NULL, NULL,
                 "ENCRYPTION_KEY has 65 characters; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. "
                 "from `openssl rand -hex 32`)",
                 "08090a0b0c0d0e0f");
}

/* A key read from a file keeps its newline (`kubectl create secret --from-file`, `echo $KEY >
 * file`, a systemd EnvironmentFile edited on Windows): it is the same key, as SLUICE_KEYRING's
 * entries are with spaces around them. */
static void test_encryption_key_with_line_end(void **state)
{
    (void)state;
    /* Each element one literal joined with its line end (parenthesised: clang's
     * -Wstring-concatenation takes an unparenthesised join in an array for a missing comma). */
    static const char *const keys[] = {(KEY_A "\n"), (KEY_A "\r\n"), ("  " KEY_A " \t"), ("\n" KEY_A)};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        sluice_err_t err = {{0}};
        sluice_keyring_t *kr = sluice_keyring_from_strings(keys[i], "3", NULL, &err);
        assert_non_null(kr);
        assert_int_equal(sluice_keyring_primary_kid(kr), 3);
        check_key_a(sluice_keyring_key(kr, 3));
        sluice_keyring_free(kr);
    }
    /* SLUICE_KEY_ID from the same kind of file: its line end dropped too. */
    static const char *const ids[] = {"3\n", "3\r\n", " 3 ", "\t3"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        sluice_err_t err = {{0}};
        sluice_keyring_t *kr = sluice_keyring_from_strings(KEY_A "\n", ids[i], NULL, &err);
        assert_non_null(kr);
        assert_int_equal(sluice_keyring_primary_kid(kr), 3);
        sluice_keyring_free(kr);
    }
    expect_error(" \n", NULL, NULL,
                 "ENCRYPTION_KEY is empty; expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. from "
                 "`openssl rand -hex 32`)",
                 NULL);
}

static void test_encryption_key_not_hex(void **state)
{
    (void)state;
    char bad[] = KEY_A, spaced[] = KEY_A;
    bad[0] = 'g';
    spaced[32] = ' ';
    const char *want = "ENCRYPTION_KEY contains characters that are not hex digits; expected exactly 64 hex characters "
                       "(a 32-byte AES-256 key, e.g. from `openssl rand -hex 32`)";
    expect_error(bad, NULL, NULL, want, bad);
    expect_error(spaced, NULL, NULL, want, spaced);
}

static void test_bad_key_id(void **state)
{
    (void)state;
    const char *want = "SLUICE_KEY_ID must be a key id from 1 to 255 (digits only; unset means 1)";
    const char *bad[] = {"0", "256", "1000", "-1", "+1", "1 2", " ", "\n", "abc", "1x", "0x10", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(KEY_A, bad[i], NULL, want, NULL);
    /* Someone who puts the key into SLUICE_KEY_ID does not see it echoed. */
    expect_error(KEY_A, KEY_B, NULL, want, KEY_B);
}

static void test_ring_entry_errors(void **state)
{
    (void)state;
    expect_error(KEY_A, NULL, "2" KEY_B, "SLUICE_KEYRING entry 1 has no ':'; expected <key id>:<64 hex characters>",
                 KEY_B);
    expect_error(KEY_A, NULL, "2:" KEY_B ",", "SLUICE_KEYRING entry 2 is empty; expected <key id>:<64 hex characters>",
                 KEY_B);
    expect_error(KEY_A, NULL, "2:" KEY_B ", ,3:" KEY_C,
                 "SLUICE_KEYRING entry 2 is empty; expected <key id>:<64 hex characters>", KEY_B);
    expect_error(KEY_A, NULL, "x:" KEY_B,
                 "SLUICE_KEYRING entry 1: the key id must be a number from 1 to 255; expected <key id>:<64 hex "
                 "characters>",
                 KEY_B);
    expect_error(KEY_A, NULL, "2:" KEY_B ",0:" KEY_C,
                 "SLUICE_KEYRING entry 2: the key id must be a number from 1 to 255; expected <key id>:<64 hex "
                 "characters>",
                 KEY_C);
    expect_error(KEY_A, NULL, "2 :" KEY_B,
                 "SLUICE_KEYRING entry 1: the key id must be a number from 1 to 255; expected <key id>:<64 hex "
                 "characters>",
                 KEY_B);
}

static void test_ring_key_errors(void **state)
{
    (void)state;
    const char *short_key = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e"; /* 62 */
    char ring[160];
    snprintf(ring, sizeof(ring), "2:%s", short_key);
    expect_error(KEY_A, NULL, ring,
                 "SLUICE_KEYRING entry 1 (key id 2): the key has 62 characters; expected exactly 64 hex characters "
                 "(a 32-byte AES-256 key, e.g. from `openssl rand -hex 32`)",
                 short_key);
    const char *not_hex = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1eZZ";
    snprintf(ring, sizeof(ring), "2:%s,3:%s", KEY_B, not_hex);
    expect_error(KEY_A, NULL, ring,
                 "SLUICE_KEYRING entry 2 (key id 3): the key contains characters that are not hex digits; expected "
                 "exactly 64 hex characters (a 32-byte AES-256 key, e.g. from `openssl rand -hex 32`)",
                 not_hex);
    /* Whitespace inside an entry is not tolerated: it makes the key 65 characters. */
    expect_error(KEY_A, NULL, "2: " KEY_B,
                 "SLUICE_KEYRING entry 1 (key id 2): the key has 65 characters; expected exactly 64 hex characters "
                 "(a 32-byte AES-256 key, e.g. from `openssl rand -hex 32`)",
                 KEY_B);
}

static void test_ring_duplicate_and_primary_ids(void **state)
{
    (void)state;
    expect_error(KEY_A, NULL, "2:" KEY_B ",2:" KEY_C, "SLUICE_KEYRING entry 2: key id 2 appears more than once", KEY_C);
    expect_error(KEY_A, NULL, "1:" KEY_B,
                 "SLUICE_KEYRING entry 1: key id 1 is the primary key's id (SLUICE_KEY_ID); older keys need ids of "
                 "their own",
                 KEY_B);
    expect_error(KEY_A, "9", "3:" KEY_B ", 9:" KEY_C,
                 "SLUICE_KEYRING entry 2: key id 9 is the primary key's id (SLUICE_KEY_ID); older keys need ids of "
                 "their own",
                 KEY_C);
}

static void test_from_env(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_int_equal(setenv("ENCRYPTION_KEY", KEY_A, 1), 0);
    assert_int_equal(setenv("SLUICE_KEY_ID", "4", 1), 0);
    assert_int_equal(setenv("SLUICE_KEYRING", "2:" KEY_B ",3:" KEY_C, 1), 0);
    sluice_keyring_t *kr = sluice_keyring_from_env(&err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 4);
    assert_int_equal(sluice_keyring_count(kr), 3);
    check_key_a(sluice_keyring_key(kr, 4));
    assert_non_null(sluice_keyring_key(kr, 2));
    assert_non_null(sluice_keyring_key(kr, 3));
    sluice_keyring_free(kr);

    /* Unsetting the optional variables gives the defaults. */
    assert_int_equal(unsetenv("SLUICE_KEY_ID"), 0);
    assert_int_equal(unsetenv("SLUICE_KEYRING"), 0);
    kr = sluice_keyring_from_env(&err);
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 1);
    assert_int_equal(sluice_keyring_count(kr), 1);
    sluice_keyring_free(kr);

    /* A bad value in the environment reports the variable, not the value. */
    assert_int_equal(setenv("ENCRYPTION_KEY", "correct horse battery staple", 1), 0);
    assert_null(sluice_keyring_from_env(&err));
    assert_non_null(strstr(err.msg, "ENCRYPTION_KEY has 28 characters"));
    assert_null(strstr(err.msg, "horse"));
    assert_int_equal(unsetenv("ENCRYPTION_KEY"), 0);
    assert_null(sluice_keyring_from_env(&err));
    assert_non_null(strstr(err.msg, "ENCRYPTION_KEY is not set"));
}

static void test_add_rules(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    uint8_t k1[32], k2[32];
    memset(k1, 0x11, sizeof(k1));
    memset(k2, 0x22, sizeof(k2));
    sluice_keyring_t *kr = sluice_keyring_create();
    assert_non_null(kr);
    assert_int_equal(sluice_keyring_primary_kid(kr), 0);
    assert_int_equal(sluice_keyring_count(kr), 0);
    assert_int_equal(sluice_keyring_add(kr, 0, k1, 0, &err), -1);
    assert_string_equal(err.msg, "key id 0 is reserved; key ids run from 1 to 255");
    assert_int_equal(sluice_keyring_add(kr, 5, k1, 0, &err), 0);
    assert_int_equal(sluice_keyring_add(kr, 5, k2, 0, &err), -1);
    assert_string_equal(err.msg, "key id 5 is already in the key ring");
    assert_int_equal(sluice_keyring_add(kr, 6, k2, 1, &err), 0);
    assert_int_equal(sluice_keyring_add(kr, 7, k1, 1, &err), -1);
    assert_string_equal(err.msg, "the key ring already has a primary key (id 6); it can have only one");
    assert_int_equal(sluice_keyring_primary_kid(kr), 6);
    assert_int_equal(sluice_keyring_count(kr), 2);
    /* The ring holds copies: changing the caller's buffer changes nothing. */
    memset(k1, 0, sizeof(k1));
    assert_int_equal(sluice_keyring_key(kr, 5)[0], 0x11);
    assert_int_equal(sluice_keyring_key(kr, 6)[31], 0x22);
    assert_null(sluice_keyring_key(kr, 7));
    sluice_keyring_free(kr);
    sluice_keyring_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primary_only_default_kid),
        cmocka_unit_test(test_primary_with_ring),
        cmocka_unit_test(test_kid_bounds),
        cmocka_unit_test(test_encryption_key_missing_or_empty),
        cmocka_unit_test(test_encryption_key_wrong_length),
        cmocka_unit_test(test_encryption_key_with_line_end),
        cmocka_unit_test(test_encryption_key_not_hex),
        cmocka_unit_test(test_bad_key_id),
        cmocka_unit_test(test_ring_entry_errors),
        cmocka_unit_test(test_ring_key_errors),
        cmocka_unit_test(test_ring_duplicate_and_primary_ids),
        cmocka_unit_test(test_from_env),
        cmocka_unit_test(test_add_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for crypto/ct.c: constant-time equality and secure wipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/ct.h"

static void test_ct_equal(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = b[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(sluice_ct_equal(a, b, sizeof(a)), 1);
    /* A difference anywhere, including a single bit in the first or last byte, is seen. */
    size_t positions[] = {0, 15, 31};
    for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
        for (int bit = 0; bit < 8; bit++) {
            b[positions[p]] ^= (uint8_t)(1u << bit);
            assert_int_equal(sluice_ct_equal(a, b, sizeof(a)), 0);
            b[positions[p]] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(sluice_ct_equal(a, b, sizeof(a)), 1);
    /* Only the first len bytes count. */
    b[31] ^= 0xff;
    assert_int_equal(sluice_ct_equal(a, b, 31), 1);
    assert_int_equal(sluice_ct_equal(NULL, NULL, 0), 1);
}

static void test_ct_streq(void **state)
{
    (void)state;
    const char *mac = "5bdcc146bf60754e6a042426089575c7";
    assert_int_equal(sluice_ct_streq(mac, strlen(mac), "5bdcc146bf60754e6a042426089575c7", 32), 1);
    assert_int_equal(sluice_ct_streq(mac, strlen(mac), "5bdcc146bf60754e6a042426089575c8", 32), 0);
    /* A prefix is not equal, whichever side is shorter. */
    assert_int_equal(sluice_ct_streq(mac, 32, mac, 31), 0);
    assert_int_equal(sluice_ct_streq(mac, 31, mac, 32), 0);
    assert_int_equal(sluice_ct_streq("", 0, "", 0), 1);
    assert_int_equal(sluice_ct_streq("", 0, "a", 1), 0);
    /* Lengths, not NULs, decide: bytes after an embedded NUL still count. */
    assert_int_equal(sluice_ct_streq("a\0b", 3, "a\0c", 3), 0);
}

static void test_secure_zero(void **state)
{
    (void)state;
    uint8_t secret[48];
    memset(secret, 0x5a, sizeof(secret));
    sluice_secure_zero(secret, 40);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(secret[i], 0);
    for (size_t i = 40; i < sizeof(secret); i++)
        assert_int_equal(secret[i], 0x5a);
    sluice_secure_zero(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_ct_streq),
        cmocka_unit_test(test_secure_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

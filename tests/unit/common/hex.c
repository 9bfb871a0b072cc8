/* Tests for common/hex.c: lowercase encoding, strict decoding and one digit's value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/hex.h"
#include "crypto/random.h"

static void test_encode(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[13];
    assert_int_equal(sluice_hex_encode(in, sizeof(in), out, sizeof(out)), 12);
    assert_string_equal(out, "00017f80abff");
    assert_int_equal(sluice_hex_encode(in, 0, out, 1), 0);
    assert_string_equal(out, "");
}

/* Every byte value at every place of inputs from 1 to 48 bytes (the 16-byte steps, the bytes
 * after them, and a digest's 32) comes out as printf's "%02x", and nothing is written past the
 * NUL: the buffer is exactly 2n + 1 bytes inside a larger one that must stay untouched. */
static void test_encode_every_byte_at_every_length(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 48; n++)
        for (unsigned first = 0; first < 256; first++) {
            uint8_t in[48];
            char want[97], out[97 + 8];
            for (size_t i = 0; i < n; i++) {
                in[i] = (uint8_t)(first + 37 * i);
                snprintf(want + 2 * i, 3, "%02x", in[i]);
            }
            want[2 * n] = '\0';
            memset(out, 'x', sizeof(out));
            assert_int_equal(sluice_hex_encode(in, n, out, 2 * n + 1), 2 * n);
            assert_string_equal(out, want);
            assert_int_equal(out[2 * n + 1], 'x');
        }
}

static void test_encode_cap_too_small(void **state)
{
    (void)state;
    const uint8_t in[] = {0xde, 0xad};
    char out[5];
    memset(out, 'x', sizeof(out));
    /* 4 digits + NUL need 5 bytes; 4 is refused without writing. */
    assert_int_equal(sluice_hex_encode(in, sizeof(in), out, 4), 0);
    assert_int_equal(out[0], 'x');
    assert_int_equal(sluice_hex_encode(in, sizeof(in), out, 5), 4);
    assert_string_equal(out, "dead");
}

static void test_decode_mixed_case(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 99;
    assert_int_equal(sluice_hex_decode("DEADbeef09aF", 12, out, sizeof(out), &n), 0);
    assert_int_equal(n, 6);
    const uint8_t want[] = {0xde, 0xad, 0xbe, 0xef, 0x09, 0xaf};
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(sluice_hex_decode("", 0, out, 0, &n), 0);
    assert_int_equal(n, 0);
}

static void test_decode_rejects_odd_length(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 99;
    assert_int_equal(sluice_hex_decode("abc", 3, out, sizeof(out), &n), -1);
    assert_int_equal(n, 0);
    assert_int_equal(sluice_hex_decode("a", 1, out, sizeof(out), &n), -1);
}

/* Every one of the 256 byte values, in either position of a pair: accepted exactly when it is
 * one of 0-9 a-f A-F, and then decoded to the right value. */
static void test_decode_every_character(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int want_ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        int want_val = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        char s[2] = {(char)c, '0'};
        uint8_t out[1];
        size_t n;
        assert_int_equal(sluice_hex_decode(s, 2, out, 1, &n), want_ok ? 0 : -1);
        if (want_ok)
            assert_int_equal(out[0], want_val << 4);
        char t[2] = {'0', (char)c};
        assert_int_equal(sluice_hex_decode(t, 2, out, 1, &n), want_ok ? 0 : -1);
        if (want_ok)
            assert_int_equal(out[0], want_val);
    }
}

static void test_decode_rejects_non_hex(void **state)
{
    (void)state;
    const char *bad[] = {"0x12", "12 345", " 12345", "12345\n", "zz", "12g4", "+1", "abcdeg"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[8];
        memset(out, 0xaa, sizeof(out));
        size_t n = 99;
        assert_int_equal(sluice_hex_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), -1);
        assert_int_equal(n, 0);
        /* What was decoded before the bad character does not stay behind. */
        for (size_t j = 0; j < strlen(bad[i]) / 2; j++)
            assert_int_equal(out[j], 0);
    }
    /* A NUL inside the stated length is a bad character, not an end. */
    uint8_t out[2];
    size_t n;
    assert_int_equal(sluice_hex_decode("ab\0d", 4, out, sizeof(out), &n), -1);
}

static void test_decode_cap_too_small(void **state)
{
    (void)state;
    uint8_t out[2];
    size_t n = 99;
    assert_int_equal(sluice_hex_decode("aabbcc", 6, out, 2, &n), -1);
    assert_int_equal(n, 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 64; len++) {
        uint8_t in[64], back[64];
        char txt[129];
        size_t n;
        assert_int_equal(sluice_random_bytes(in, len), 0);
        assert_int_equal(sluice_hex_encode(in, len, txt, sizeof(txt)), 2 * len);
        assert_int_equal(sluice_hex_decode(txt, 2 * len, back, sizeof(back), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(in, back, len);
    }
}

/* One digit's value: exactly [0-9a-fA-F], the 256 byte values checked. */
static void test_digit(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        assert_int_equal(sluice_hex_digit(c), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_every_byte_at_every_length),
        cmocka_unit_test(test_encode_cap_too_small),
        cmocka_unit_test(test_decode_mixed_case),
        cmocka_unit_test(test_decode_rejects_odd_length),
        cmocka_unit_test(test_decode_every_character),
        cmocka_unit_test(test_decode_rejects_non_hex),
        cmocka_unit_test(test_decode_cap_too_small),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

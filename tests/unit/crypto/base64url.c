/* Tests for crypto/base64url.c: RFC 4648 vectors, the strict base64url decoder, padded base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/base64url.h"
#include "crypto/random.h"

/* RFC 4648 section 10, with the padding removed for base64url. */
static const struct {
    const char *plain, *url, *std;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg", "Zg=="},
    {"fo", "Zm8", "Zm8="},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg", "Zm9vYg=="},
    {"fooba", "Zm9vYmE", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};
#define N_RFC (sizeof(rfc4648) / sizeof(rfc4648[0]))

/* Decodes s and expects rejection, with *out_len 0. */
static void expect_reject(const char *s, size_t n)
{
    uint8_t out[64];
    size_t len = 99;
    assert_int_equal(sluice_b64url_decode(s, n, out, sizeof(out), &len), -1);
    assert_int_equal(len, 0);
}

static void test_rfc4648_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_RFC; i++) {
        char out[16];
        size_t n = strlen(rfc4648[i].plain);
        assert_int_equal(sluice_b64url_encoded_len(n), strlen(rfc4648[i].url));
        assert_int_equal(sluice_b64url_encode((const uint8_t *)rfc4648[i].plain, n, out, sizeof(out)),
                         strlen(rfc4648[i].url));
        assert_string_equal(out, rfc4648[i].url);
    }
}

static void test_rfc4648_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_RFC; i++) {
        uint8_t out[16];
        size_t len = 99;
        const char *s = rfc4648[i].url;
        assert_int_equal(sluice_b64url_decoded_len(strlen(s)), strlen(rfc4648[i].plain));
        assert_int_equal(sluice_b64url_decode(s, strlen(s), out, sizeof(out), &len), 0);
        assert_int_equal(len, strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, len);
    }
}

static void test_rfc4648_standard_padded(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_RFC; i++) {
        char out[16];
        size_t n = strlen(rfc4648[i].plain);
        assert_int_equal(sluice_b64_encoded_len(n), strlen(rfc4648[i].std));
        assert_int_equal(sluice_b64_encode((const uint8_t *)rfc4648[i].plain, n, out, sizeof(out)),
                         strlen(rfc4648[i].std));
        assert_string_equal(out, rfc4648[i].std);
    }
}

/* Values 62 and 63: '-' and '_' in base64url, '+' and '/' in standard base64. */
static void test_alphabet_62_63(void **state)
{
    (void)state;
    const uint8_t in[] = {0xfb, 0xff, 0xbf}; /* 111110 111111 111110 111111 */
    char out[8];
    assert_int_equal(sluice_b64url_encode(in, 3, out, sizeof(out)), 4);
    assert_string_equal(out, "-_-_");
    assert_int_equal(sluice_b64_encode(in, 3, out, sizeof(out)), 4);
    assert_string_equal(out, "+/+/");
    uint8_t back[3];
    size_t len;
    assert_int_equal(sluice_b64url_decode("-_-_", 4, back, sizeof(back), &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(back, in, 3);
}

static void test_decode_rejects_padding(void **state)
{
    (void)state;
    expect_reject("Zg==", 4);
    expect_reject("Zm8=", 4);
    expect_reject("Zg=", 3);
    expect_reject("Zm9vYg==", 8);
    expect_reject("====", 4);
    expect_reject("Zm=v", 4); /* '=' in the middle */
}

static void test_decode_rejects_standard_alphabet_and_whitespace(void **state)
{
    (void)state;
    expect_reject("+/+/", 4);
    expect_reject("-_+_", 4);
    expect_reject("-_-/", 4);
    expect_reject(" Zm9v", 5);
    expect_reject("Zm9v ", 5);
    expect_reject("Zm 9v", 5);
    expect_reject("Zm9v\n", 5);
    expect_reject("Zm\t9v", 5);
    expect_reject("Zm9v\r\n", 6);
    expect_reject("Zm.v", 4);
    expect_reject("Zm\0v", 4);
    expect_reject("Zm\xc3\xa9", 4);
}

/* Every byte value as the first character of "?AAA": accepted exactly for A-Za-z0-9-_. */
static void test_decode_every_character(void **state)
{
    (void)state;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int c = 0; c < 256; c++) {
        char s[4] = {(char)c, 'A', 'A', 'A'};
        uint8_t out[3];
        size_t len;
        const char *pos = c != 0 ? strchr(alphabet, c) : NULL;
        assert_int_equal(sluice_b64url_decode(s, 4, out, sizeof(out), &len), pos != NULL ? 0 : -1);
        if (pos != NULL)
            assert_int_equal(out[0], (pos - alphabet) << 2);
    }
}

static void test_decode_rejects_impossible_length(void **state)
{
    (void)state;
    expect_reject("Z", 1);
    expect_reject("Zm9vY", 5);
    expect_reject("Zm9vYmFyZ", 9);
}

/* "Zg" is the only encoding of "f"; "Zh" sets bits that no byte fills. After 2 characters
 * the last one's low 4 bits must be zero, after 3 its low 2. */
static void test_decode_rejects_non_canonical_tail(void **state)
{
    (void)state;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t out[8];
    size_t len;
    expect_reject("Zh", 2);
    expect_reject("Zm9", 3); /* "fo" is Zm8 */
    expect_reject("Zm9vYh", 6);
    assert_int_equal(sluice_b64url_decode("Zg", 2, out, sizeof(out), &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 'f');
    for (int v = 0; v < 64; v++) {
        char two[2] = {'Z', alphabet[v]};
        assert_int_equal(sluice_b64url_decode(two, 2, out, sizeof(out), &len), (v & 15) == 0 ? 0 : -1);
        char three[3] = {'Z', 'm', alphabet[v]};
        assert_int_equal(sluice_b64url_decode(three, 3, out, sizeof(out), &len), (v & 3) == 0 ? 0 : -1);
    }
}

static void test_cap_too_small(void **state)
{
    (void)state;
    char txt[9];
    /* "foobar" needs 8 characters plus the NUL. */
    assert_int_equal(sluice_b64url_encode((const uint8_t *)"foobar", 6, txt, 8), 0);
    assert_int_equal(sluice_b64_encode((const uint8_t *)"foob", 4, txt, 8), 0);
    assert_int_equal(sluice_b64url_encode((const uint8_t *)"foobar", 6, txt, 9), 8);
    uint8_t out[6];
    size_t len = 99;
    assert_int_equal(sluice_b64url_decode("Zm9vYmFy", 8, out, 5, &len), -1);
    assert_int_equal(len, 0);
    assert_int_equal(sluice_b64url_decode("Zm9vYmFy", 8, out, 6, &len), 0);
    assert_int_equal(len, 6);
}

static void test_round_trip_every_length(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 64; n++) {
        uint8_t in[64], back[64];
        char url[100], std[100];
        size_t len = 99;
        assert_int_equal(sluice_random_bytes(in, n), 0);
        size_t ulen = sluice_b64url_encode(in, n, url, sizeof(url));
        assert_int_equal(ulen, sluice_b64url_encoded_len(n));
        assert_int_equal(strlen(url), ulen);
        assert_null(strpbrk(url, "+/="));
        assert_int_equal(sluice_b64url_decoded_len(ulen), n);
        assert_int_equal(sluice_b64url_decode(url, ulen, back, sizeof(back), &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(back, in, n);
        /* The padded encoding is the url one with '+' '/' for '-' '_', padded to a multiple of 4. */
        size_t slen = sluice_b64_encode(in, n, std, sizeof(std));
        assert_int_equal(slen % 4, 0);
        assert_int_equal(slen, sluice_b64_encoded_len(n));
        for (size_t i = 0; i < slen; i++) {
            char want = i < ulen ? (url[i] == '-' ? '+' : url[i] == '_' ? '/' : url[i]) : '=';
            assert_int_equal(std[i], want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_encode),
        cmocka_unit_test(test_rfc4648_decode),
        cmocka_unit_test(test_rfc4648_standard_padded),
        cmocka_unit_test(test_alphabet_62_63),
        cmocka_unit_test(test_decode_rejects_padding),
        cmocka_unit_test(test_decode_rejects_standard_alphabet_and_whitespace),
        cmocka_unit_test(test_decode_every_character),
        cmocka_unit_test(test_decode_rejects_impossible_length),
        cmocka_unit_test(test_decode_rejects_non_canonical_tail),
        cmocka_unit_test(test_cap_too_small),
        cmocka_unit_test(test_round_trip_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

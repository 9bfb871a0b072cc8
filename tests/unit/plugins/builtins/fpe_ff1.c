/* Tests for plugins/fpe/ff1.c: all nine NIST SP 800-38G FF1 sample vectors (encrypt and
 * decrypt), round trips over every radix 2..62 and many lengths and tweaks, the limits of the
 * standard (domain size, lengths, radix, key sizes) and the text layer shared by the fpe plugin
 * and sluicectl (alphabets, separators kept in place, characters refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/fpe/ff1.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Deterministic test data (xorshift64*), so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

/* ---- NIST SP 800-38G sample vectors (CSRC "Examples with Intermediate Values", FF1samples.pdf) */

typedef struct {
    int sample;
    const char *key, *tweak;
    unsigned radix;
    const char *pt, *ct;
} ff1_vector_t;

#define K128 "2B7E151628AED2A6ABF7158809CF4F3C"
#define K192 K128 "EF4359D8D580AA4F"
#define K256 K192 "7F036D6F04FC6A94"
static const ff1_vector_t nist[] = {
    {1, K128, "", 10, "0123456789", "2433477484"},
    {2, K128, "39383736353433323130", 10, "0123456789", "6124200773"},
    {3, K128, "3737373770717273373737", 36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {4, K192, "", 10, "0123456789", "2830668132"},
    {5, K192, "39383736353433323130", 10, "0123456789", "2496655549"},
    {6, K192, "3737373770717273373737", 36, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {7, K256, "", 10, "0123456789", "6657667009"},
    {8, K256, "39383736353433323130", 10, "0123456789", "1001623463"},
    {9, K256, "3737373770717273373737", 36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};

/* Numerals of a sample string: NIST writes radix-36 numerals as 0-9a-z. */
static size_t numerals(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint16_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return n;
}

static void test_nist_samples_numerals(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof(nist) / sizeof(nist[0]); v++) {
        uint8_t key[32], tweak[32];
        size_t klen = unhex(nist[v].key, key), tlen = unhex(nist[v].tweak, tweak);
        sluice_ff1_t *f = NULL;
        assert_int_equal(sluice_ff1_create(key, klen, nist[v].radix, &f), SLUICE_FF1_OK);
        uint16_t pt[32], ct[32], got[32];
        size_t n = numerals(nist[v].pt, pt);
        assert_int_equal(numerals(nist[v].ct, ct), n);
        assert_int_equal(sluice_ff1_encrypt(f, tweak, tlen, pt, n, got), SLUICE_FF1_OK);
        if (memcmp(got, ct, n * sizeof(*got)) != 0)
            fail_msg("sample %d: encryption differs from NIST", nist[v].sample);
        assert_int_equal(sluice_ff1_decrypt(f, tweak, tlen, ct, n, got), SLUICE_FF1_OK);
        if (memcmp(got, pt, n * sizeof(*got)) != 0)
            fail_msg("sample %d: decryption differs from NIST", nist[v].sample);
        sluice_ff1_free(f);
    }
}

static void test_nist_samples_text(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof(nist) / sizeof(nist[0]); v++) {
        uint8_t key[32], tweak[32];
        size_t klen = unhex(nist[v].key, key), tlen = unhex(nist[v].tweak, tweak);
        sluice_ff1_t *f = NULL;
        assert_int_equal(sluice_ff1_create(key, klen, nist[v].radix, &f), SLUICE_FF1_OK);
        sluice_ff1_alphabet_t a;
        assert_int_equal(sluice_ff1_alphabet_default(&a, nist[v].radix), 0);
        size_t n = strlen(nist[v].pt);
        char out[32] = {0}, back[32] = {0};
        assert_int_equal(sluice_ff1_text(f, &a, NULL, tweak, tlen, 0, nist[v].pt, n, out), SLUICE_FF1_OK);
        assert_string_equal(out, nist[v].ct);
        assert_int_equal(sluice_ff1_text(f, &a, NULL, tweak, tlen, 1, out, n, back), SLUICE_FF1_OK);
        assert_string_equal(back, nist[v].pt);
        sluice_ff1_free(f);
    }
}

/* ---- round trips */

static void test_round_trip_every_radix(void **state)
{
    (void)state;
    static const size_t key_lens[] = {16, 24, 32};
    for (unsigned radix = 2; radix <= 62; radix++) {
        uint8_t key[32];
        for (size_t i = 0; i < sizeof(key); i++)
            key[i] = (uint8_t)rng();
        sluice_ff1_t *f = NULL;
        assert_int_equal(sluice_ff1_create(key, key_lens[radix % 3], radix, &f), SLUICE_FF1_OK);
        assert_int_equal(sluice_ff1_radix(f), radix);
        size_t min = sluice_ff1_min_len(radix);
        for (size_t n = min; n < min + 40; n += 1 + (n % 3)) {
            uint16_t x[128], y[128], z[128];
            uint8_t tweak[40];
            size_t tlen = (size_t)(rng() % sizeof(tweak));
            for (size_t i = 0; i < tlen; i++)
                tweak[i] = (uint8_t)rng();
            for (size_t i = 0; i < n; i++)
                x[i] = (uint16_t)(rng() % radix);
            assert_int_equal(sluice_ff1_encrypt(f, tweak, tlen, x, n, y), SLUICE_FF1_OK);
            for (size_t i = 0; i < n; i++)
                assert_true(y[i] < radix);
            assert_int_equal(sluice_ff1_decrypt(f, tweak, tlen, y, n, z), SLUICE_FF1_OK);
            if (memcmp(x, z, n * sizeof(*x)) != 0)
                fail_msg("radix %u length %zu tweak %zu: decrypt(encrypt(x)) != x", radix, n, tlen);
            /* Deterministic: the same input gives the same output. */
            assert_int_equal(sluice_ff1_encrypt(f, tweak, tlen, x, n, z), SLUICE_FF1_OK);
            assert_memory_equal(y, z, n * sizeof(*y));
        }
        sluice_ff1_free(f);
    }
}

static void test_round_trip_long_and_wide(void **state)
{
    (void)state;
    uint8_t key[32];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    static const unsigned radixes[] = {10, 62, 256, 65536};
    static const size_t lens[] = {SLUICE_FF1_MAX_LEN, 1001, 2};
    uint16_t *x = calloc(SLUICE_FF1_MAX_LEN, sizeof(*x)), *y = calloc(SLUICE_FF1_MAX_LEN, sizeof(*y));
    assert_non_null(x);
    assert_non_null(y);
    for (size_t r = 0; r < sizeof(radixes) / sizeof(radixes[0]); r++) {
        sluice_ff1_t *f = NULL;
        assert_int_equal(sluice_ff1_create(key, 32, radixes[r], &f), SLUICE_FF1_OK);
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
            size_t n = lens[l];
            if (n < sluice_ff1_min_len(radixes[r]))
                continue;
            for (size_t i = 0; i < n; i++)
                x[i] = (uint16_t)(rng() % radixes[r]);
            /* In place: y = x, then encrypt y into itself and back. */
            memcpy(y, x, n * sizeof(*x));
            assert_int_equal(sluice_ff1_encrypt(f, NULL, 0, y, n, y), SLUICE_FF1_OK);
            assert_true(memcmp(x, y, n * sizeof(*x)) != 0);
            assert_int_equal(sluice_ff1_decrypt(f, NULL, 0, y, n, y), SLUICE_FF1_OK);
            assert_memory_equal(x, y, n * sizeof(*x));
        }
        sluice_ff1_free(f);
    }
    free(x);
    free(y);
}

static void test_tweak_and_key_change_output(void **state)
{
    (void)state;
    uint8_t k1[16] = {1}, k2[16] = {2};
    sluice_ff1_t *f1 = NULL, *f2 = NULL;
    assert_int_equal(sluice_ff1_create(k1, 16, 10, &f1), SLUICE_FF1_OK);
    assert_int_equal(sluice_ff1_create(k2, 16, 10, &f2), SLUICE_FF1_OK);
    uint16_t x[16], a[16], b[16], c[16];
    for (size_t i = 0; i < 16; i++)
        x[i] = (uint16_t)(i % 10);
    const uint8_t t1[] = {'o', 'r', 'g', 'a'}, t2[] = {'o', 'r', 'g', 'b'};
    assert_int_equal(sluice_ff1_encrypt(f1, t1, sizeof(t1), x, 16, a), SLUICE_FF1_OK);
    assert_int_equal(sluice_ff1_encrypt(f1, t2, sizeof(t2), x, 16, b), SLUICE_FF1_OK);
    assert_int_equal(sluice_ff1_encrypt(f2, t1, sizeof(t1), x, 16, c), SLUICE_FF1_OK);
    assert_true(memcmp(a, b, sizeof(a)) != 0);
    assert_true(memcmp(a, c, sizeof(a)) != 0);
    /* Decrypting with the wrong tweak does not give the plaintext back. */
    assert_int_equal(sluice_ff1_decrypt(f1, t2, sizeof(t2), a, 16, b), SLUICE_FF1_OK);
    assert_true(memcmp(b, x, sizeof(x)) != 0);
    sluice_ff1_free(f1);
    sluice_ff1_free(f2);
}

/* ---- limits */

static void test_min_len(void **state)
{
    (void)state;
    assert_int_equal(sluice_ff1_min_len(2), 20);   /* 2^20 = 1048576 */
    assert_int_equal(sluice_ff1_min_len(10), 6);   /* 10^6 */
    assert_int_equal(sluice_ff1_min_len(16), 5);   /* 16^5 = 1048576 */
    assert_int_equal(sluice_ff1_min_len(36), 4);   /* 36^4 = 1679616; 36^3 = 46656 */
    assert_int_equal(sluice_ff1_min_len(62), 4);   /* 62^3 = 238328 */
    assert_int_equal(sluice_ff1_min_len(100), 3);  /* 100^3 = 10^6 exactly */
    assert_int_equal(sluice_ff1_min_len(1000), 2); /* and never below 2 */
    assert_int_equal(sluice_ff1_min_len(65536), 2);
    assert_int_equal(sluice_ff1_min_len(1), 0);
    assert_int_equal(sluice_ff1_min_len(65537), 0);
}

static void test_create_errors(void **state)
{
    (void)state;
    uint8_t key[33] = {0};
    sluice_ff1_t *f = (sluice_ff1_t *)1;
    static const size_t bad_lens[] = {0, 8, 15, 17, 20, 31, 33};
    for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
        assert_int_equal(sluice_ff1_create(key, bad_lens[i], 10, &f), SLUICE_FF1_EKEY);
        assert_null(f);
    }
    assert_int_equal(sluice_ff1_create(key, 16, 1, &f), SLUICE_FF1_ERADIX);
    assert_int_equal(sluice_ff1_create(key, 16, 65537, &f), SLUICE_FF1_ERADIX);
    assert_null(f);
    sluice_ff1_free(NULL);
    assert_string_equal(sluice_ff1_strerror(SLUICE_FF1_ECHAR),
                        "the value has a character outside the alphabet that is not kept in place");
}

static void test_length_tweak_numeral_errors(void **state)
{
    (void)state;
    uint8_t key[16] = {9};
    sluice_ff1_t *f = NULL;
    assert_int_equal(sluice_ff1_create(key, 16, 10, &f), SLUICE_FF1_OK);
    uint16_t x[SLUICE_FF1_MAX_LEN + 1] = {0}, y[SLUICE_FF1_MAX_LEN + 1];
    /* 10^5 < 1,000,000: refused in both directions; 10^6 accepted. */
    memset(y, 0xff, sizeof(y));
    assert_int_equal(sluice_ff1_encrypt(f, NULL, 0, x, 5, y), SLUICE_FF1_ELEN);
    assert_int_equal(y[0], 0); /* left zeroed */
    assert_int_equal(sluice_ff1_decrypt(f, NULL, 0, x, 5, y), SLUICE_FF1_ELEN);
    assert_int_equal(sluice_ff1_encrypt(f, NULL, 0, x, 6, y), SLUICE_FF1_OK);
    assert_int_equal(sluice_ff1_encrypt(f, NULL, 0, x, SLUICE_FF1_MAX_LEN + 1, y), SLUICE_FF1_ELEN);
    uint8_t tweak[SLUICE_FF1_MAX_TWEAK + 1] = {0};
    assert_int_equal(sluice_ff1_encrypt(f, tweak, SLUICE_FF1_MAX_TWEAK, x, 8, y), SLUICE_FF1_OK);
    assert_int_equal(sluice_ff1_encrypt(f, tweak, SLUICE_FF1_MAX_TWEAK + 1, x, 8, y), SLUICE_FF1_ETWEAK);
    x[3] = 10;
    assert_int_equal(sluice_ff1_encrypt(f, NULL, 0, x, 8, y), SLUICE_FF1_ENUMERAL);
    sluice_ff1_free(f);
}

/* ---- alphabets and text */

static void test_alphabet_named_and_custom(void **state)
{
    (void)state;
    sluice_ff1_alphabet_t a;
    char err[256];
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "digits", 6, err, sizeof(err)), 0);
    assert_int_equal(a.radix, 10);
    assert_string_equal(a.chars, "0123456789");
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "lower_alnum", 11, err, sizeof(err)), 0);
    assert_int_equal(a.radix, 36);
    assert_string_equal(a.chars, "0123456789abcdefghijklmnopqrstuvwxyz");
    assert_int_equal(a.index['z'], 35);
    assert_int_equal(a.index['A'], -1);
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "alnum", 5, err, sizeof(err)), 0);
    assert_int_equal(a.radix, 62);
    assert_int_equal(a.index['Z'], 61);
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "0123456789ABCDEF", 16, err, sizeof(err)), 0);
    assert_int_equal(a.radix, 16);
    assert_int_equal(a.index['F'], 15);
    assert_int_equal(a.index['f'], -1);
    assert_int_equal(sluice_ff1_alphabet_default(&a, 36), 0);
    assert_string_equal(a.chars, "0123456789abcdefghijklmnopqrstuvwxyz");
    assert_int_equal(sluice_ff1_alphabet_default(&a, 1), -1);
    assert_int_equal(sluice_ff1_alphabet_default(&a, 63), -1);

    assert_int_equal(sluice_ff1_alphabet_parse(&a, "0123456789A1", 12, err, sizeof(err)), -1);
    assert_string_equal(err, "alphabet character 12 ('1') appears twice");
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "ab c", 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "alphabet character 3 is not printable ASCII"));
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "ab\xc3\xa9", 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not printable ASCII"));
    assert_int_equal(sluice_ff1_alphabet_parse(&a, "x", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "(got 1 characters)"));
    char big[64];
    for (int i = 0; i < 63; i++)
        big[i] = (char)('!' + i);
    assert_int_equal(sluice_ff1_alphabet_parse(&a, big, 63, err, sizeof(err)), -1);
    assert_int_equal(sluice_ff1_alphabet_parse(&a, big, 62, err, sizeof(err)), 0);
    assert_int_equal(a.radix, 62);
}

static void test_text_preserves_separators(void **state)
{
    (void)state;
    uint8_t key[32] = {0x42};
    sluice_ff1_t *f = NULL;
    assert_int_equal(sluice_ff1_create(key, 32, 10, &f), SLUICE_FF1_OK);
    sluice_ff1_alphabet_t a;
    assert_int_equal(sluice_ff1_alphabet_default(&a, 10), 0);
    const char *ssn = "123-45-6789";
    char out[16] = {0}, back[16] = {0};
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 0, ssn, 11, out), SLUICE_FF1_OK);
    assert_int_equal(out[3], '-');
    assert_int_equal(out[6], '-');
    for (int i = 0; i < 11; i++)
        if (i != 3 && i != 6)
            assert_true(out[i] >= '0' && out[i] <= '9');
    assert_string_not_equal(out, ssn);
    /* The digits alone encrypt to the same digits: separators are not part of the cipher input. */
    char plain_out[16] = {0};
    assert_int_equal(sluice_ff1_text(f, &a, NULL, NULL, 0, 0, "123456789", 9, plain_out), SLUICE_FF1_OK);
    char joined[16] = {0};
    for (int i = 0, j = 0; i < 11; i++)
        if (out[i] != '-')
            joined[j++] = out[i];
    assert_string_equal(joined, plain_out);
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 1, out, 11, back), SLUICE_FF1_OK);
    assert_string_equal(back, ssn);
    /* In place. */
    char buf[16];
    memcpy(buf, ssn, 12);
    assert_int_equal(sluice_ff1_text(f, &a, "- ", NULL, 0, 0, buf, 11, buf), SLUICE_FF1_OK);
    assert_string_equal(buf, out);
    sluice_ff1_free(f);
}

static void test_text_errors(void **state)
{
    (void)state;
    uint8_t key[16] = {0x11};
    sluice_ff1_t *f = NULL;
    assert_int_equal(sluice_ff1_create(key, 16, 10, &f), SLUICE_FF1_OK);
    sluice_ff1_alphabet_t a;
    assert_int_equal(sluice_ff1_alphabet_default(&a, 10), 0);
    char out[32];
    /* A dash not listed in preserve, a letter, a NUL, UTF-8: all refused, out zeroed. */
    memset(out, 'x', sizeof(out));
    assert_int_equal(sluice_ff1_text(f, &a, NULL, NULL, 0, 0, "123-45-6789", 11, out), SLUICE_FF1_ECHAR);
    assert_int_equal(out[0], 0);
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 0, "123-45-678x", 11, out), SLUICE_FF1_ECHAR);
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 0,
                                     "1234\0"
                                     "56789",
                                     10, out),
                     SLUICE_FF1_ECHAR);
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 0, "1234567\xc2\xb2", 9, out), SLUICE_FF1_ECHAR);
    /* Five digits (with separators around) are below the domain minimum. */
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 0, "12-345", 6, out), SLUICE_FF1_ELEN);
    assert_int_equal(sluice_ff1_text(f, &a, "-", NULL, 0, 0, "", 0, out), SLUICE_FF1_ELEN);
    /* The alphabet's radix must be the cipher's. */
    sluice_ff1_alphabet_t a36;
    assert_int_equal(sluice_ff1_alphabet_default(&a36, 36), 0);
    assert_int_equal(sluice_ff1_text(f, &a36, NULL, NULL, 0, 0, "123456", 6, out), SLUICE_FF1_ERADIX);
    sluice_ff1_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nist_samples_numerals),
        cmocka_unit_test(test_nist_samples_text),
        cmocka_unit_test(test_round_trip_every_radix),
        cmocka_unit_test(test_round_trip_long_and_wide),
        cmocka_unit_test(test_tweak_and_key_change_output),
        cmocka_unit_test(test_min_len),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_length_tweak_numeral_errors),
        cmocka_unit_test(test_alphabet_named_and_custom),
        cmocka_unit_test(test_text_preserves_separators),
        cmocka_unit_test(test_text_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for plugins/fpe (through the real loader): NIST SP 800-38G samples through the plugin,
 * separators kept in place and the result reversed with the same FF1 code sluicectl runs,
 * named and custom alphabets, numbers, the domain minimum and min_length per value (fail
 * closed), characters outside the alphabet, and parameter errors that never show the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bt.h"
#include "plugins/fpe/spec.h"

#define K128 "2B7E151628AED2A6ABF7158809CF4F3C"
#define K256 "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94"

static int setup(void **state)
{
    (void)state;
    setenv("T_FPE_K128", K128, 1);
    setenv("T_FPE_K256", K256, 1);
    setenv("T_FPE_SHORT", "2B7E151628AED2A6ABF7158809CF4F", 1);
    setenv("T_FPE_NOTHEX", "2B7E151628AED2A6ABF7158809CF4FZZ", 1);
    return 0;
}

static void test_nist_samples_through_plugin(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"0123456789\""), "\"2433477484\""); /* sample 1 */
    bt_close(&b);
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128, tweak: \"39383736353433323130\"}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"0123456789\""), "\"6124200773\""); /* sample 2 */
    bt_close(&b);
    assert_int_equal(
        bt_open(&b, "fpe", "{key_env: T_FPE_K256, alphabet: lower_alnum, tweak: \"3737373770717273373737\"}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"0123456789abcdefghi\""), "\"xs8a0azh2avyalyzuwd\""); /* sample 9 */
    /* Upper case is outside lower_alnum: refused, not passed through. */
    assert_string_equal(bt_mask(&b, "\"0123456789ABCDEFGHI\""), "!invalid value");
    bt_close(&b);
}

static void test_ssn_preserve_and_reverse(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K256, preserve: \"-\"}", NULL), 0);
    const char *r = bt_mask(&b, "\"123-45-6789\"");
    assert_int_equal(strlen(r), 13);
    assert_int_equal(r[4], '-');
    assert_int_equal(r[7], '-');
    assert_string_not_equal(r, "\"123-45-6789\"");
    /* Deterministic. */
    assert_string_equal(bt_mask(&b, "\"123-45-6789\""), r);
    /* Reversed by the shared FF1 code with the same parameters (what sluicectl unmask runs). */
    sluice_fpe_spec_t s;
    char err[256];
    assert_int_equal(sluice_fpe_spec_init(&s, K256, strlen(K256), "digits", 6, "", 0, "-", 1, -1, err, sizeof(err)), 0);
    char back[12] = {0};
    assert_int_equal(sluice_fpe_spec_apply(&s, 1, r + 1, 11, back), SLUICE_FF1_OK);
    assert_string_equal(back, "123-45-6789");
    sluice_fpe_spec_dispose(&s);
    /* A space is not in preserve: refused. */
    assert_string_equal(bt_mask(&b, "\"123 45 6789\""), "!invalid value");
    bt_close(&b);
}

static void test_lengths_and_types(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128, preserve: \"- \"}", NULL), 0);
    /* Radix 10 needs 6 digits (10^6 = 1,000,000). */
    assert_string_equal(bt_mask(&b, "\"12345\""), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"12-3 45\""), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"\""), "!invalid value");
    const char *r = bt_mask(&b, "\"123456\"");
    assert_int_equal(strlen(r), 8);
    /* Numbers: their text, as a string. */
    r = bt_mask(&b, "123456789");
    assert_int_equal(r[0], '"');
    assert_int_equal(strlen(r), 11);
    /* The minus sign is in preserve here, so it stays in front. */
    r = bt_mask(&b, "-123456789");
    assert_int_equal(strlen(r), 12);
    assert_int_equal(r[1], '-');
    assert_string_equal(bt_mask(&b, "true"), "=unchanged");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    assert_string_equal(bt_mask(&b, "{\"ssn\":\"123456789\"}"), "!invalid value");
    /* UTF-8 outside the alphabet. */
    assert_string_equal(bt_mask(&b, "\"123456\xc2\xb2\""), "!invalid value");
    /* Long values are fine up to the output cap. */
    char *v = malloc(4001);
    assert_non_null(v);
    for (int i = 0; i < 4000; i++)
        v[i] = (char)('0' + i % 10);
    v[4000] = '\0';
    assert_int_equal(strlen(bt_mask(&b, bt_jstr(v))), 4002);
    free(v);
    bt_close(&b);

    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128, min_length: 9}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"12345678\""), "!invalid value");
    assert_int_equal(strlen(bt_mask(&b, "\"123456789\"")), 11);
    /* Without '-' in preserve a negative number is refused. */
    assert_string_equal(bt_mask(&b, "-123456789"), "!invalid value");
    bt_close(&b);
}

static void test_alphabets(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128, alphabet: \"0123456789ABCDEF\"}", NULL), 0);
    const char *r = bt_mask(&b, "\"DEADBEEF\"");
    assert_int_equal(strlen(r), 10);
    for (int i = 1; i < 9; i++)
        assert_non_null(strchr("0123456789ABCDEF", r[i]));
    assert_string_equal(bt_mask(&b, "\"deadbeef\""), "!invalid value");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128, alphabet: alnum}", NULL), 0);
    r = bt_mask(&b, "\"AbC9\""); /* 62^4 >= 1,000,000 */
    assert_int_equal(strlen(r), 6);
    assert_string_equal(bt_mask(&b, "\"AbC\""), "!invalid value");
    bt_close(&b);
    /* A different tweak gives a different result. */
    assert_int_equal(bt_open(&b, "fpe", "{key_env: T_FPE_K128, tweak: \"00\"}", NULL), 0);
    char *t0 = strdup(bt_mask(&b, "\"0123456789\""));
    bt_close(&b);
    assert_string_not_equal(t0, "\"2433477484\"");
    free(t0);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *params, *msg;
    } cases[] = {
        {"{key_env: T_FPE_SHORT}", "the key must be 32, 48 or 64 hex digits (AES-128, AES-192, AES-256); got 30"},
        {"{key_env: T_FPE_NOTHEX}", "the key must be 32, 48 or 64 hex digits"},
        {"{key_env: T_FPE_K128, min_length: 4}",
         "min_length 4 is too small for radix 10: FF1 needs radix^length >= 1000000, so at least 6 characters"},
        {"{key_env: T_FPE_K128, alphabet: lower_alnum, min_length: 3}", "so at least 4 characters"},
        {"{key_env: T_FPE_K128, min_length: 5000}", "min_length must be at most 4096"},
        {"{key_env: T_FPE_K128, alphabet: \"0123456789A1\"}", "alphabet character 12 ('1') appears twice"},
        {"{key_env: T_FPE_K128, alphabet: x}", "alphabet must be digits, lower_alnum, alnum, or 2 to 62"},
        {"{key_env: T_FPE_K128, preserve: \"-1\"}", "preserve character '1' is in the alphabet"},
        {"{key_env: T_FPE_K128, tweak: \"abc\"}", "tweak must be hex digits"},
        {"{key: " K128 "}", "key_env"},
        {"{alphabet: digits}", "key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "fpe", cases[i].params, NULL), -1);
        if (strstr(b.errors, cases[i].msg) == NULL)
            fail_msg("%s: expected '%s' in: %s", cases[i].params, cases[i].msg, b.errors);
        /* The key's text never appears. */
        assert_null(strstr(b.errors, "2B7E151628AED2A6"));
        bt_close(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nist_samples_through_plugin),
        cmocka_unit_test(test_ssn_preserve_and_reverse),
        cmocka_unit_test(test_lengths_and_types),
        cmocka_unit_test(test_alphabets),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

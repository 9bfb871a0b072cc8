/* Tests for plugins/partial (through the real loader): keep_last/keep_first, mask_char,
 * preserved separators, code points rather than bytes, numbers, short values never revealed,
 * other JSON types, the output cap, idempotence, and parameter errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bt.h"

static void test_defaults(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "partial", NULL, NULL), 0);
    assert_string_equal(bt_mask(&b, "\"4111111111111111\""), "\"************1111\"");
    /* Without preserve, separators are characters like any other. */
    assert_string_equal(bt_mask(&b, "\"4111 1111 1111 1111\""), "\"***************1111\"");
    assert_string_equal(bt_mask(&b, "\"\""), "\"\"");
    /* A value no longer than what would be kept is masked whole. */
    assert_string_equal(bt_mask(&b, "\"1234\""), "\"****\"");
    assert_string_equal(bt_mask(&b, "\"12\""), "\"**\"");
    assert_string_equal(bt_mask(&b, "\"12345\""), "\"*2345\"");
    bt_close(&b);
}

static void test_preserve_and_keep_first(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "partial", "{preserve: \" -\"}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"4111 1111 1111 1111\""), "\"**** **** **** 1111\"");
    assert_string_equal(bt_mask(&b, "\"4111-1111-1111-1111\""), "\"****-****-****-1111\"");
    assert_string_equal(bt_mask(&b, "\"+1 650-555-1212\""), "\"** ***-***-1212\"");
    /* Idempotent: the masked value masks to itself. */
    assert_string_equal(bt_mask(&b, "\"**** **** **** 1111\""), "\"**** **** **** 1111\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "partial", "{keep_first: 6, keep_last: 4, mask_char: \"#\", preserve: \" \"}", NULL),
                     0);
    assert_string_equal(bt_mask(&b, "\"5500 0000 0000 0004\""), "\"5500 00## #### 0004\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "partial", "{keep_first: 1, keep_last: 0}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"jane@example.com\""), "\"j***************\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "partial", "{keep_first: 2, keep_last: 3}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"abcdefgh\""), "\"ab***fgh\"");
    assert_string_equal(bt_mask(&b, "\"abcdef\""), "\"ab*def\"");
    assert_string_equal(bt_mask(&b, "\"abcde\""), "\"*****\"");
    assert_string_equal(bt_mask(&b, "4111111111111111"), "\"41***********111\"");
    bt_close(&b);
    /* Kept runs longer than the plugin's output block. */
    assert_int_equal(bt_open(&b, "partial", "{keep_first: 300, keep_last: 300}", NULL), 0);
    char in[1000], want[1000];
    in[0] = want[0] = '"';
    for (int i = 1; i <= 700; i++) {
        in[i] = (char)('a' + i % 26);
        want[i] = i <= 300 || i > 400 ? in[i] : '*';
    }
    in[701] = want[701] = '"';
    in[702] = want[702] = '\0';
    assert_string_equal(bt_mask(&b, in), want);
    bt_close(&b);
}

static void test_utf8_code_points(void **state)
{
    (void)state;
    bt_t b;
    /* "Zoë Ünïcødé" keep 2 at each end, masked with a 3-byte bullet. */
    assert_int_equal(bt_open(&b, "partial", "{keep_first: 2, keep_last: 2, mask_char: \"\xe2\x80\xa2\"}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Zo\xc3\xab \xc3\x9cn\xc3\xaf"
                                    "c\xc3\xb8"
                                    "d\xc3\xa9\""),
                        "\"Zo\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
                        "d\xc3\xa9\"");
    /* An emoji (4 bytes) is one character. */
    assert_string_equal(bt_mask(&b, "\"\xf0\x9f\x98\x80"
                                    "abc\xf0\x9f\x98\x80\""),
                        "\"\xf0\x9f\x98\x80"
                        "a\xe2\x80\xa2"
                        "c\xf0\x9f\x98\x80\"");
    bt_close(&b);
}

/* One non-ASCII character at every place of a 22-byte value: it counts as one character wherever it
 * is (the check for ASCII reads eight bytes a step); values around the plugin's 256-byte block. */
static void test_one_code_point_anywhere(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "partial", NULL, NULL), 0);
    for (int k = 0; k <= 20; k++) {
        char in[32], want[32];
        int o = 0;
        in[o++] = '"';
        for (int i = 0; i < 21; i++) {
            if (i == k) {
                in[o++] = '\xc3';
                in[o++] = '\xa9'; /* é */
            } else {
                in[o++] = (char)('a' + i);
            }
        }
        in[o++] = '"';
        in[o] = '\0';
        /* 21 characters: 17 masked, the last 4 kept as they are. */
        o = 0;
        want[o++] = '"';
        for (int i = 0; i < 17; i++)
            want[o++] = '*';
        for (int i = 17; i < 21; i++) {
            if (i == k) {
                want[o++] = '\xc3';
                want[o++] = '\xa9';
            } else {
                want[o++] = (char)('a' + i);
            }
        }
        want[o++] = '"';
        want[o] = '\0';
        assert_string_equal(bt_mask(&b, in), want);
    }
    for (int n = 250; n <= 262; n++) {
        char in[300], want[300];
        in[0] = want[0] = '"';
        for (int i = 1; i <= n; i++) {
            in[i] = (char)('0' + i % 10);
            want[i] = i > n - 4 ? in[i] : '*';
        }
        in[n + 1] = want[n + 1] = '"';
        in[n + 2] = want[n + 2] = '\0';
        assert_string_equal(bt_mask(&b, in), want);
    }
    bt_close(&b);
}

static void test_other_types(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "partial", NULL, NULL), 0);
    /* Numbers are masked as their text and become strings. */
    assert_string_equal(bt_mask(&b, "4111111111111111"), "\"************1111\"");
    assert_string_equal(bt_mask(&b, "-12345.75"), "\"*****5.75\"");
    assert_string_equal(bt_mask(&b, "true"), "=unchanged");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    /* Structures cannot be partly masked: refused, so the host removes them. */
    assert_string_equal(bt_mask(&b, "{\"card\":\"4111\"}"), "!invalid value");
    assert_string_equal(bt_mask(&b, "[\"4111\"]"), "!invalid value");
    bt_close(&b);
}

static void test_output_cap(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "partial", "{mask_char: \"\xe2\x80\xa2\"}", NULL), 0);
    /* 2000 characters fit as input, but 1996 three-byte bullets exceed the 4096-byte cap. */
    char *v = malloc(2001);
    assert_non_null(v);
    memset(v, 'x', 2000);
    v[2000] = '\0';
    assert_string_equal(bt_mask(&b, bt_jstr(v)), "!output too large");
    v[1000] = '\0';
    const char *r = bt_mask(&b, bt_jstr(v));
    assert_int_equal(strlen(r), 2 + 996 * 3 + 4);
    free(v);
    bt_close(&b);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *params, *msg;
    } cases[] = {
        {"{keep_last: -1}", "keep_first and keep_last must be between 0 and 4096"},
        {"{keep_first: 4097}", "keep_first and keep_last must be between 0 and 4096"},
        {"{mask_char: \"ab\"}", "mask_char must be exactly one printable character"},
        {"{mask_char: \"\"}", "mask_char must be exactly one printable character"},
        {"{mask_char: \"-\", preserve: \" -\"}", "mask_char must not be one of the preserve characters"},
        {"{keep_last: four}", "keep_last"},
        {"{keep: 4}", "keep"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "partial", cases[i].params, NULL), -1);
        if (strstr(b.errors, cases[i].msg) == NULL)
            fail_msg("%s: expected '%s' in: %s", cases[i].params, cases[i].msg, b.errors);
        bt_close(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_preserve_and_keep_first),
        cmocka_unit_test(test_utf8_code_points),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_one_code_point_anywhere),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

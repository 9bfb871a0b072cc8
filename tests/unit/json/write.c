/* Tests for json/write.c and json/numbers.c: jansson's compact form, reals as their shortest
 * text, numbers as the parser read them, the worker's marked number strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/parse.h"
#include "json/write.h"

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    return v;
}

/* Everything but reals: byte for byte what jansson's compact json_dumps writes. */
static void same_bytes_as_jansson(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        "null",
        "true",
        "0",
        "-9223372036854775807",
        "\"\"",
        "{\"a\":[1,25,{\"b\":null}],\"c\":\"\\u0001\\u001f\\b\\f\\n\\r\\t \\\" \\\\ / \\u007f\",\"d\":false}",
        "{\"utf8\":\"Val\\u00e9ry \\u20ac \\ud83d\\ude00\",\"keys \\\"quoted\\\"\":1}",
        "{\"event\":\"Order Completed\",\"properties\":{\"items\":[{\"sku\":\"a\",\"price\":999,\"q\":2}]}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = load(docs[i]);
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len;
        char *got = sluice_json_encode(v, NULL, &len);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        free(got);
        free(want);
        json_decref(v);
    }
}

/* Every character that needs escaping, at every offset of strings around the encoder's 8- and
 * 16-byte steps, next to multi-byte UTF-8 and DEL (which need none); alone and followed by a
 * newline at the end; as a value and as an object key. */
static void escapes_at_every_offset(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', '\t', '\x01', '\x1f', '\x7f', '\xc3', '/'};
    for (size_t len = 1; len <= 40; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof(specials); k++)
                for (int second = 0; second <= 1; second++) {
                    char text[48];
                    memset(text, 'a', len);
                    text[len] = '\0';
                    if (specials[k] == '\xc3') {
                        if (at + 1 >= len)
                            continue;
                        text[at] = '\xc3';
                        text[at + 1] = '\xa9'; /* e acute */
                    } else {
                        text[at] = specials[k];
                    }
                    if (second && at + 2 < len)
                        text[len - 1] = '\n';
                    json_t *v = json_string(text);
                    assert_non_null(v);
                    json_t *o = json_pack("{s:i}", text, 1);
                    assert_non_null(o);
                    for (int as_key = 0; as_key <= 1; as_key++) {
                        json_t *doc = as_key ? o : v;
                        char *want = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
                        size_t n;
                        char *got = sluice_json_encode(doc, NULL, &n);
                        assert_string_equal(got, want);
                        assert_int_equal(n, strlen(want));
                        free(got);
                        free(want);
                    }
                    json_decref(o);
                    json_decref(v);
                }
}

/* Reals nobody wrote (a mask's result, a vendor's value): the shortest text that reads back as
 * the same double, in jansson's spelling. */
static void reals_shortest(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {19.9, "19.9"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {100.0, "100.0"},
        {1e21, "1e21"},
        {1e-7, "1e-7"},
        {-0.0, "-0.0"},
        {19.99, "19.99"},
        {1.0 / 3, "0.3333333333333333"},
        {-1.7976931348623157e308, "-1.7976931348623157e308"},
        {5e-324, "4.94065645841247e-324"},
        {123456789012345.6, "123456789012345.6"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[40];
        size_t n = sluice_json_format_real(cases[i].d, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
        assert_true(strtod(out, NULL) == cases[i].d);
    }
}

/* Parsed with a table, written with it: every number exactly as sent, whatever its spelling. */
static void numbers_as_sent(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "[19.9,0.1,1e21,-0,12345678901234567890,-0.0,1E+2,1.50,0.000001,2e-7,9007199254740993]",
        "{\"price\":19.90,\"q\":{\"n\":[1.0,-12345678901234567890123]}}",
        "-0",
        "1.7976931348623157e308",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        sluice_json_error_t err;
        json_t *v = sluice_json_parse(docs[i], strlen(docs[i]), 64, 1024, 0, nums, &err);
        assert_non_null(v);
        size_t len;
        char *got = sluice_json_encode(v, nums, &len);
        assert_string_equal(got, docs[i]);
        free(got);
        /* Without the table the same values come out formatted. */
        got = sluice_json_encode(v, NULL, &len);
        if (i == 0)
            assert_string_equal(got,
                                "[19.9,0.1,1e21,0,1.2345678901234567e19,-0.0,100.0,1.5,1e-6,2e-7,9007199254740993]");
        free(got);
        json_decref(v);
        sluice_jsonnum_free(nums);
    }
}

/* Numbers of any length keep their text (a 41-character one was formatted from its double, and
 * a 42-digit integer refused): 41, 64 and 400 characters, integers, fractions and exponents, also
 * through a copy, and beyond a double (a 400-digit integer). */
static void long_numbers_as_sent(void **state)
{
    (void)state;
    static const char *const nums_in[] = {
        "12345678901234567890123456789012345678901",                       /* 41, integer */
        "-0.123456789012345678901234567890123456789012345678901234567890", /* 64, fraction */
        "1.2345678901234567890123456789012345678e+30",                     /* exponent */
    };
    char doc[2048], n400[401], d400[401];
    memcpy(n400, "-1.", 3);
    for (int k = 3; k < 395; k++)
        n400[k] = (char)('0' + k % 10);
    memcpy(n400 + 395, "E-300", 6);
    d400[0] = '9';
    for (int k = 1; k < 400; k++)
        d400[k] = (char)('0' + k % 10);
    d400[400] = '\0';
    snprintf(doc, sizeof(doc), "{\"a\":[%s,%s,%s],\"b\":%s,\"c\":%s}", nums_in[0], nums_in[1], nums_in[2], n400, d400);
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    json_t *v = sluice_json_parse(doc, strlen(doc), 64, 1024, 0, nums, &err);
    assert_non_null(v);
    size_t len, n;
    char *got = sluice_json_encode(v, nums, &len);
    assert_string_equal(got, doc);
    free(got);
    const char *t = sluice_jsonnum_find(nums, json_object_get(v, "c"), &n);
    assert_int_equal(n, 400);
    assert_string_equal(t, d400); /* a C string: vendors take an id's text as it is */
    json_t *c = sluice_jsonnum_copy(nums, v);
    got = sluice_json_encode(c, nums, &len);
    assert_string_equal(got, doc);
    free(got);
    json_decref(c);
    json_decref(v);
    sluice_jsonnum_free(nums);
}

/* A copy made through the table (a batch's shared context copied into each event) goes out
 * as sent too; a plain deep copy is formatted. */
static void copies_keep_numbers(void **state)
{
    (void)state;
    const char *doc = "{\"app\":{\"build\":1.50,\"n\":[1e14,-0,12345678901234567890],\"s\":\"x\",\"t\":true}}";
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    json_t *v = sluice_json_parse(doc, strlen(doc), 64, 1024, 0, nums, &err);
    assert_non_null(v);
    json_t *copy = sluice_jsonnum_copy(nums, v);
    assert_non_null(copy);
    assert_ptr_not_equal(json_object_get(copy, "app"), json_object_get(v, "app"));
    json_decref(v); /* the copy stands on its own */
    size_t len;
    char *got = sluice_json_encode(copy, nums, &len);
    assert_string_equal(got, doc);
    free(got);
    json_decref(copy);
    /* A fresh table: the values freed above left entries whose addresses the deep copy may be
     * given again, and an entry naming the same number is rightly used (numbers.h). */
    sluice_jsonnum_clear(nums);
    v = sluice_json_parse(doc, strlen(doc), 64, 1024, 0, nums, &err);
    copy = json_deep_copy(v);
    got = sluice_json_encode(copy, nums, &len);
    assert_non_null(strstr(got, "100000000000000"));
    free(got);
    json_decref(copy);
    /* Without a table: a plain deep copy. */
    copy = sluice_jsonnum_copy(NULL, v);
    assert_true(json_equal(copy, v));
    json_decref(copy);
    json_decref(v);
    sluice_jsonnum_free(nums);
}

/* Beyond 64 bits: refused without a table (as jansson does), kept as text with one, of any
 * length (50 digits were refused with the table too: an order id's 400 invalid_json). */
static void big_integers(void **state)
{
    (void)state;
    sluice_json_error_t err;
    const char *big = "12345678901234567890";
    assert_null(sluice_json_parse(big, strlen(big), 8, 100, 0, NULL, &err));
    assert_non_null(strstr(err.message, "integer too big"));
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *v = sluice_json_parse(big, strlen(big), 8, 100, 0, nums, &err);
    assert_true(json_is_real(v));
    json_decref(v);
    char huge[64];
    memset(huge, '9', 50);
    huge[50] = '\0';
    assert_null(sluice_json_parse(huge, 50, 8, 100, 0, NULL, &err));
    v = sluice_json_parse(huge, 50, 8, 100, 0, nums, &err);
    assert_true(json_is_real(v));
    char *out = sluice_json_encode(v, nums, NULL);
    assert_string_equal(out, huge);
    free(out);
    json_decref(v);
    sluice_jsonnum_free(nums);
}

/* The table answers for a value only while it is the number it recorded: a replaced value at a
 * reused address is formatted. */
static void replaced_values_are_formatted(void **state)
{
    (void)state;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *a = json_real(19.9);
    assert_int_equal(sluice_jsonnum_add(nums, a, "19.90", 5), 0);
    size_t n;
    const char *t = sluice_jsonnum_find(nums, a, &n);
    assert_non_null(t);
    assert_int_equal(n, 5);
    json_real_set(a, 20.0); /* the same address, another number */
    assert_null(sluice_jsonnum_find(nums, a, &n));
    json_t *i = json_integer(7);
    assert_null(sluice_jsonnum_find(nums, i, &n));
    /* Many entries: the table grows and finds each. */
    json_t *many[500];
    for (int k = 0; k < 500; k++) {
        char text[16];
        int len = snprintf(text, sizeof(text), "%d.50", k);
        many[k] = json_real(k + 0.5);
        assert_int_equal(sluice_jsonnum_add(nums, many[k], text, (size_t)len), 0);
    }
    for (int k = 0; k < 500; k++) {
        char text[16];
        int len = snprintf(text, sizeof(text), "%d.50", k);
        t = sluice_jsonnum_find(nums, many[k], &n);
        assert_non_null(t);
        assert_int_equal(n, (size_t)len);
        assert_memory_equal(t, text, n);
        json_decref(many[k]);
    }
    sluice_jsonnum_clear(nums);
    assert_null(sluice_jsonnum_find(nums, a, &n));
    json_decref(a);
    json_decref(i);
    sluice_jsonnum_free(nums);
}

/* The worker's marked number strings: written as the number with the flag, as an (escaped)
 * string without it; only JSON numbers can be marked. */
static void marked_numbers(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:o}", "value", sluice_json_number_text("19.90", 5));
    sluice_jsonw_t w = {.flags = SLUICE_JSONW_RAW_NUMBERS};
    sluice_jsonw_value(&w, v);
    size_t len;
    char *s = sluice_jsonw_finish(&w, &len);
    assert_string_equal(s, "{\"value\":19.90}");
    free(s);
    s = sluice_json_encode(v, NULL, &len);
    assert_string_equal(s, "{\"value\":\"\\u0000#19.90\"}");
    free(s);
    json_decref(v);
    assert_null(sluice_json_number_text("1,\"x\":2", 7));
    assert_null(sluice_json_number_text("", 0));
    assert_null(sluice_json_number_text("01", 2));
    assert_null(sluice_json_number_text("1.", 2));
    /* Of any length: a 400-character price was no number (GA4's and Meta's item price left out). */
    char big[400], want[420];
    memset(big, '7', sizeof(big));
    big[1] = '.';
    json_t *bv = sluice_json_number_text(big, sizeof(big));
    assert_non_null(bv);
    json_t *o = json_pack("{s:o}", "price", bv);
    sluice_jsonw_t w3 = {.flags = SLUICE_JSONW_RAW_NUMBERS};
    sluice_jsonw_value(&w3, o);
    s = sluice_jsonw_finish(&w3, &len);
    snprintf(want, sizeof(want), "{\"price\":%.*s}", (int)sizeof(big), big);
    assert_string_equal(s, want);
    free(s);
    json_decref(o);
    /* A string that looks marked but is not a number is written as a string even with the flag. */
    json_t *fake = json_stringn("\0#1]", 4);
    sluice_jsonw_t w2 = {.flags = SLUICE_JSONW_RAW_NUMBERS};
    sluice_jsonw_value(&w2, fake);
    s = sluice_jsonw_finish(&w2, &len);
    assert_string_equal(s, "\"\\u0000#1]\"");
    free(s);
    json_decref(fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_bytes_as_jansson), cmocka_unit_test(escapes_at_every_offset),
        cmocka_unit_test(reals_shortest),        cmocka_unit_test(numbers_as_sent),
        cmocka_unit_test(copies_keep_numbers),   cmocka_unit_test(big_integers),
        cmocka_unit_test(long_numbers_as_sent),  cmocka_unit_test(replaced_values_are_formatted),
        cmocka_unit_test(marked_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

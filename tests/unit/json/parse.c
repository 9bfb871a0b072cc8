/* Tests for json/parse.c: it must accept exactly what jansson's json_loadb accepts (with
 * duplicate keys refused) and build equal values, over a list of tricky inputs; and its limits
 * name the path of what broke them. tests/fuzz/json.c does the same comparison on random input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/parse.h"

/* 1 when both parsers agree on buf[0..len): both refuse, or both accept equal values. */
static int agrees(const char *buf, size_t len)
{
    json_error_t je;
    json_t *want = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    sluice_json_error_t err;
    json_t *got = sluice_json_parse(buf, len, 2048, SIZE_MAX, 0, NULL, &err);
    int ok = (want == NULL) == (got == NULL) && (want == NULL || json_equal(want, got));
    if (!ok)
        print_error("disagree on %.*s: jansson %s (%s), ours %s (%s)\n", (int)len, buf, want ? "ok" : "error",
                    want ? "" : je.text, got ? "ok" : "error", got ? "" : err.message);
    json_decref(want);
    json_decref(got);
    return ok;
}

#define AGREE(lit) assert_true(agrees(lit, sizeof(lit) - 1))

static void agrees_with_jansson(void **state)
{
    (void)state;
    /* valid */
    AGREE("{}");
    AGREE("[]");
    AGREE(" \t\r\n{ \"a\" : [ 1 , -2 , 3.5 , -0 , 0.0 , 1e3 , 1E-3 , -1.5e+10 ] , \"b\" : null } \n");
    AGREE("\"text\"");
    AGREE("true");
    AGREE("null");
    AGREE("9223372036854775807");
    AGREE("-9223372036854775808");
    AGREE("{\"esc\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20AC \\ud83d\\ude00\"}");
    AGREE("{\"utf8\":\"Val\xc3\xa9ry \xe2\x82\xac \xf0\x9f\x98\x80\"}");
    AGREE("{\"a\":{\"a\":{\"a\":1}},\"b\":[[],[[]],{}]}");
    AGREE("1.7976931348623157e308");
    AGREE("4.9e-324");
    AGREE("1e-400"); /* underflow to zero is fine */
    /* invalid */
    AGREE("");
    AGREE("   ");
    AGREE("{");
    AGREE("{\"a\":1,}");
    AGREE("[1,]");
    AGREE("{\"a\" 1}");
    AGREE("{a:1}");
    AGREE("{\"a\":1}x");
    AGREE("{\"a\":1} {\"b\":2}");
    AGREE("{\"a\":1,\"a\":2}");
    AGREE("{\"a\\u0000b\":1}");
    AGREE("{\"k\":\"\\u0000\"}");
    AGREE("\"\\ud800\"");
    AGREE("\"\\udc00\"");
    AGREE("\"\\ud800\\u0041\"");
    AGREE("\"\\uZZZZ\"");
    AGREE("\"\\x\"");
    AGREE("\"tab\there\"");
    AGREE("\"\xc3\x28\"");
    AGREE("\"\xc0\xaf\"");         /* overlong */
    AGREE("\"\xed\xa0\x80\"");     /* UTF-8 encoded surrogate */
    AGREE("\"\xf4\x90\x80\x80\""); /* above U+10FFFF */
    AGREE("\"\xe2\x82\"");         /* truncated */
    AGREE("\"unterminated");
    AGREE("01");
    AGREE("-");
    AGREE("1.");
    AGREE(".5");
    AGREE("1e");
    AGREE("1e+");
    AGREE("+1");
    AGREE("9223372036854775808");
    AGREE("-9223372036854775809");
    AGREE("1e400");
    AGREE("tru");
    AGREE("truex");
    AGREE("nul");
    AGREE("[1 2]");
    AGREE("\x00");
    AGREE("{\"a\":1}\x00");
}

/* jansson accepts a scalar directly followed by a NUL byte ("0\0"), a quirk of its read-ahead
 * buffer; a NUL byte is never JSON, so ours refuses it. */
static void nul_after_scalar_is_refused(void **state)
{
    (void)state;
    sluice_json_error_t err;
    assert_null(sluice_json_parse("0\0", 2, 8, 100, 0, NULL, &err));
    assert_null(sluice_json_parse("true\0", 5, 8, 100, 0, NULL, &err));
    assert_string_equal(err.message, "end of input expected");
}

static void limits_name_paths(void **state)
{
    (void)state;
    sluice_json_error_t err;
    const char *deep = "{\"a\":{\"b\":[{\"c\":1}]}}";
    assert_null(sluice_json_parse(deep, strlen(deep), 3, 100, 0, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_DEPTH);
    assert_string_equal(err.path, "a.b[0]");
    assert_string_equal(err.message, "JSON nesting deeper than 3 levels");
    json_t *ok = sluice_json_parse(deep, strlen(deep), 4, 100, 0, NULL, &err);
    assert_non_null(ok);
    json_decref(ok);

    const char *str = "{\"props\":{\"list\":[\"ok\",\"too long here\"]}}";
    assert_null(sluice_json_parse(str, strlen(str), 10, 8, 0, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_STRING);
    assert_string_equal(err.path, "props.list[1]");
    assert_string_equal(err.message, "string longer than 8 bytes");
    const char *key = "{\"a_very_long_key\":1}";
    assert_null(sluice_json_parse(key, strlen(key), 10, 8, 0, NULL, &err));
    assert_string_equal(err.message, "object key longer than 8 bytes");
}

/* The top-level batch is refused at its (max_batch + 1)th item, before the rest is parsed: the
 * tail here is not even JSON, and the error is the batch's, not a syntax error. Arrays named
 * "batch" elsewhere, and the top-level batch within the limit, are not limited. */
static void batch_refused_while_parsing(void **state)
{
    (void)state;
    sluice_json_error_t err;
    const char *three = "{\"batch\":[{},{},{} this is never read";
    assert_null(sluice_json_parse(three, strlen(three), 10, 100, 2, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_BATCH);
    assert_string_equal(err.path, "batch");
    assert_string_equal(err.message, "batch holds more than 2 events");
    const char *two = "{\"batch\":[{},{}],\"x\":{\"batch\":[1,2,3]},\"y\":[[1,2,3]]}";
    json_t *ok = sluice_json_parse(two, strlen(two), 10, 100, 2, NULL, &err);
    assert_non_null(ok);
    json_decref(ok);
    ok = sluice_json_parse(three, 17, 10, 100, 0, NULL, &err); /* no limit: "{...}" up to the third {} fails later */
    assert_null(ok);
    assert_int_equal(err.kind, SLUICE_JSON_SYNTAX);
}

static void syntax_positions(void **state)
{
    (void)state;
    sluice_json_error_t err;
    const char *doc = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    assert_null(sluice_json_parse(doc, strlen(doc), 10, 100, 0, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_SYNTAX);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 8);
    assert_string_equal(err.message, "invalid token");
    /* Messages describe, never quote: no input bytes in them. */
    const char *secret = "{\"k\":\"hunter2\\q\"}";
    assert_null(sluice_json_parse(secret, strlen(secret), 10, 100, 0, NULL, &err));
    assert_null(strstr(err.message, "hunter2"));
}

static void long_strings_and_escapes_round_trip(void **state)
{
    (void)state;
    size_t n = 100000;
    char *doc = malloc(n + 16);
    size_t o = 0;
    doc[o++] = '"';
    for (size_t i = 0; o < n; i++) {
        if (i % 97 == 0) {
            memcpy(doc + o, "\\n\\u00e9", 8);
            o += 8;
        } else {
            doc[o++] = (char)('a' + i % 26);
        }
    }
    doc[o++] = '"';
    assert_true(agrees(doc, o));
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agrees_with_jansson), cmocka_unit_test(nul_after_scalar_is_refused),
        cmocka_unit_test(limits_name_paths),   cmocka_unit_test(batch_refused_while_parsing),
        cmocka_unit_test(syntax_positions),    cmocka_unit_test(long_strings_and_escapes_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for json/parse.c: it must accept exactly what jansson's json_loadb accepts (with
 * duplicate keys refused) and build equal values, over a list of tricky inputs; and its limits
 * name the path of what broke them. tests/fuzz/json.c does the same comparison on random input. */
#include <float.h>
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

/* An escaped surrogate without its other half (JSON.stringify of a string cut in the middle of an
 * emoji), and \u0000, are U+FFFD, where jansson refuses the whole text; pairs are read as before, and a raw
 * surrogate in UTF-8 (which no encoder writes) is still refused. */
static void lone_surrogates_are_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\"\\ud800\"", "\xef\xbf\xbd"},
        {"\"\\udc00\"", "\xef\xbf\xbd"},
        {"\"\\ud800\\u0041\"", "\xef\xbf\xbd"
                               "A"},
        {"\"Caf\\u00e9 \\ud83d\"", "Caf\xc3\xa9 \xef\xbf\xbd"},
        {"\"\\ud83d\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80"},
        {"\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\\ud83d\\\\ude00\"", "\xef\xbf\xbd\\ude00"},
        /* \u0000 too (JSON.stringify of a field holding a NUL): refused, it cost the whole batch */
        {"\"a\\u0000b\"", "a\xef\xbf\xbd"
                          "b"},
        {"\"\\u0000\"", "\xef\xbf\xbd"},
        {"\"\\ud83d\\u0000\"", "\xef\xbf\xbd\xef\xbf\xbd"},
    };
    sluice_json_error_t err;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *got = sluice_json_parse(cases[i].in, strlen(cases[i].in), 2048, SIZE_MAX, 0, NULL, &err);
        assert_non_null(got);
        assert_string_equal(json_string_value(got), cases[i].want);
        json_decref(got);
    }
    /* in a key too, and the text written back is valid UTF-8 that jansson reads */
    const char *key = "{\"\\udbff\":1,\"a\\u0000\":2}";
    json_t *obj = sluice_json_parse(key, strlen(key), 2048, SIZE_MAX, 0, NULL, &err);
    assert_non_null(obj);
    assert_non_null(json_object_get(obj, "\xef\xbf\xbd"));
    assert_int_equal(json_integer_value(json_object_get(obj, "a\xef\xbf\xbd")), 2);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(obj, back));
    free(text);
    json_decref(back);
    json_decref(obj);
    const char *raw = "\"\xed\xa0\xbd\"";
    assert_null(sluice_json_parse(raw, strlen(raw), 2048, SIZE_MAX, 0, NULL, &err));
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

/* A key that is itself personal data is named by what it holds, as the PII guard names it
 * (docs/privacy.md): the path goes back to the client in the error and must not carry it. */
static void limit_paths_name_pii_keys(void **state)
{
    (void)state;
    sluice_json_error_t err;
    const char *deep = "{\"properties\":{\"jane.doe@example.com\":{\"+1 415 555 0123\":{\"x\":1}}}}";
    assert_null(sluice_json_parse(deep, strlen(deep), 3, 100, 0, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_DEPTH);
    assert_string_equal(err.path, "properties.<email>.<phone>");
    const char *str = "{\"props\":{\"jane%40example.com\":[\"ok\",\"this one is longer than twenty\"]}}";
    assert_null(sluice_json_parse(str, strlen(str), 10, 20, 0, NULL, &err));
    assert_string_equal(err.path, "props.<email>[1]");
    assert_null(sluice_json_parse(str, strlen(str), 10, 8, 0, NULL, &err)); /* the key itself too long */
    assert_string_equal(err.message, "object key longer than 8 bytes");
    assert_string_equal(err.path, "props.<email>");
    /* keys that only look busy stay as they are */
    const char *plain = "{\"order_123\":{\"a@b\":{\"x\":1}}}";
    assert_null(sluice_json_parse(plain, strlen(plain), 2, 100, 0, NULL, &err));
    assert_string_equal(err.path, "order_123.a@b");
}

/* A path longer than err.path is cut at a character, never inside one: the gateway quotes it in a
 * JSON answer, and half a character there made the path vanish from the error. */
static void long_paths_cut_at_characters(void **state)
{
    (void)state;
    char doc[1024];
    size_t off = (size_t)snprintf(doc, sizeof(doc), "{\"properties\":{\"a");
    for (int i = 0; i < 100; i++)
        off += (size_t)snprintf(doc + off, sizeof(doc) - off, "\xc3\xa9"); /* é: "properties.a" then 2-byte steps */
    off += (size_t)snprintf(doc + off, sizeof(doc) - off, "\":{\"x\":1}}}");
    sluice_json_error_t err;
    for (size_t depth = 2; depth <= 3; depth++) { /* the depth limit, then the key's own length */
        assert_null(sluice_json_parse(doc, off, depth, depth == 2 ? 1000 : 100, 0, NULL, &err));
        assert_int_equal(err.kind, depth == 2 ? SLUICE_JSON_DEPTH : SLUICE_JSON_STRING);
        size_t n = strlen(err.path);
        assert_true(n > 100 && n < sizeof(err.path));
        json_t *s = json_stringn(err.path, n); /* NULL when not UTF-8 */
        if (s == NULL)
            print_error("path cut inside a character: ...%s\n", err.path + n - 4);
        assert_non_null(s);
        json_decref(s);
    }
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

/* An SDK's batch holds many visitors' events: a string or key over the limit in one of them is
 * that event's fault (read as null, the member left out) when the caller takes faults, and each
 * event of the batch is nested as deep as it may be alone. */
static void batch_events_fault_alone(void **state)
{
    (void)state;
    sluice_json_error_t err;
    sluice_json_item_faults_t faults;
    const char *body = "{\"batch\":[{\"s\":\"ok\"},{\"s\":\"far too long\",\"t\":\"also too long\",\"k\":1},"
                       "{\"a_very_long_key\":{\"x\":1},\"k\":2},\"loooooooooong\",{\"a\":{\"b\":{\"c\":1}}}]}";
    json_t *v = sluice_json_parse_batch(body, strlen(body), 3, 8, 10, NULL, &faults, &err);
    assert_non_null(v);
    assert_int_equal(faults.count, 3);
    assert_int_equal(faults.item[0].index, 1); /* its first fault only */
    assert_string_equal(faults.item[0].path, "batch[1].s");
    assert_string_equal(faults.item[0].message, "string longer than 8 bytes");
    assert_int_equal(faults.item[1].index, 2);
    assert_string_equal(faults.item[1].message, "object key longer than 8 bytes");
    assert_int_equal(faults.item[2].index, 3);
    assert_string_equal(faults.item[2].path, "batch[3]");
    char *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(out, "{\"batch\":[{\"s\":\"ok\"},{\"k\":1,\"s\":null,\"t\":null},{\"k\":2},null,"
                             "{\"a\":{\"b\":{\"c\":1}}}]}");
    free(out);
    json_decref(v);
    /* Without faults, or outside the batch, the body is refused as before. */
    assert_null(sluice_json_parse(body, strlen(body), 3, 8, 10, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_STRING);
    assert_string_equal(err.path, "batch[1].s");
    const char *outside = "{\"batch\":[{}],\"s\":\"far too long\"}";
    assert_null(sluice_json_parse_batch(outside, strlen(outside), 3, 8, 10, NULL, &faults, &err));
    assert_int_equal(faults.count, 0);
    assert_string_equal(err.path, "s");
    /* Alone, {"a":{"b":{"c":1}}} is 3 levels; in the batch too: one more is refused, by path. */
    const char *deeper = "{\"batch\":[{\"a\":{\"b\":{\"c\":{}}}}]}";
    assert_null(sluice_json_parse_batch(deeper, strlen(deeper), 3, 8, 10, NULL, &faults, &err));
    assert_int_equal(err.kind, SLUICE_JSON_DEPTH);
    assert_string_equal(err.path, "batch[0].a.b.c");
    /* More faulty events than the list holds: the body is refused. */
    char many[2048];
    size_t n = (size_t)snprintf(many, sizeof(many), "{\"batch\":[");
    for (int i = 0; i <= SLUICE_JSON_ITEM_FAULTS_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{\"s\":\"far too long\"}", i ? "," : "");
    snprintf(many + n, sizeof(many) - n, "]}");
    assert_null(sluice_json_parse_batch(many, strlen(many), 3, 8, 100, NULL, &faults, &err));
    assert_int_equal(err.kind, SLUICE_JSON_STRING);
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

/* A duplicate key is reported at the key (after its closing quote), whether or not either
 * spelling was escaped; the first member's value is not what decides it. */
static void duplicate_keys(void **state)
{
    (void)state;
    sluice_json_error_t err;
    const char *doc = "{\"a\":1,\n \"b\":{\"x\":[1,2]},\n \"a\":2}";
    assert_null(sluice_json_parse(doc, strlen(doc), 10, 100, 0, NULL, &err));
    assert_int_equal(err.kind, SLUICE_JSON_SYNTAX);
    assert_string_equal(err.message, "duplicate object key");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 5);
    const char *esc = "{\"caf\\u00e9\":\"x\",\"caf\xc3\xa9\":{}}";
    assert_null(sluice_json_parse(esc, strlen(esc), 10, 100, 0, NULL, &err));
    assert_string_equal(err.message, "duplicate object key");
    assert_int_equal(err.column, 25);
    const char *nested = "[{\"k\":1},{\"k\":2,\"j\":[{\"k\":3,\"k\":4}]}]";
    assert_null(sluice_json_parse(nested, strlen(nested), 10, 100, 0, NULL, &err));
    assert_string_equal(err.message, "duplicate object key");
    assert_int_equal(err.column, 32);
    const char *fine = "{\"k\":1,\"K\":2,\"k \":3,\"\":4,\"a\":{\"k\":5}}";
    json_t *ok = sluice_json_parse(fine, strlen(fine), 10, 100, 0, NULL, &err);
    assert_non_null(ok);
    assert_int_equal(json_object_size(ok), 5);
    json_decref(ok);
}

/* 1 when buf[0..len), copied to a block of exactly that size (so a read past its end is a
 * sanitizer error), parses to what jansson reads. */
static int agrees_exact(const char *buf, size_t len)
{
    char *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    memcpy(c, buf, len);
    int ok = agrees(c, len);
    free(c);
    return ok;
}

/* Strings of every length around the scanner's 16- and 8-byte steps, each with one special byte (or
 * none) at every offset, ending at the very end of the input or just before it. */
static void strings_at_every_offset(void **state)
{
    (void)state;
    static const char *const specials[] = {"\"",   "\\n",      "\t",           "\x01",
                                           "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                           "\xc3", "\xff",     "\\u00e9",      "\\x"};
    char doc[64];
    for (size_t len = 0; len <= 40; len++)
        for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
            for (size_t at = 0; at <= len; at++) {
                size_t o = 0, sl = strlen(specials[k]);
                doc[o++] = '"';
                for (size_t i = 0; i < at; i++)
                    doc[o++] = (char)('a' + i % 26);
                memcpy(doc + o, specials[k], sl);
                o += sl;
                for (size_t i = at; i < len; i++)
                    doc[o++] = (char)('A' + i % 26);
                assert_true(agrees_exact(doc, o)); /* unterminated */
                doc[o++] = '"';
                assert_true(agrees_exact(doc, o));
                doc[o++] = ' ';
                assert_true(agrees_exact(doc, o));
            }
}

/* Numbers read without strtod where that is exact must be the very doubles strtod gives (and
 * integers what strtoll gives): random digits, points and exponents across the fast path's
 * edges (19 digits, 2^53, 10^22). */
static void numbers_as_strtod_reads_them(void **state)
{
    (void)state;
    static const char *const edges[] = {
        "0",
        "-0",
        "0.0",
        "-0.0",
        "0e0",
        "-0e-5",
        "1e22",
        "1e23",
        "-1e22",
        "1e-22",
        "1e-23",
        "9007199254740992.0",
        "9007199254740993.0",
        "9007199254740993e-1",
        "900719925474099.3",
        "1234567890123456789.0",
        "12345678901234567890.0",
        "0.1",
        "0.2",
        "0.3",
        "19.99",
        "9.99",
        "1e21",
        "4.35",
        "2.675",
        "1.7976931348623157e308",
        "5e-324",
        "0.000001",
        "123456789012345678",
        "999999999999999999",
        "-999999999999999999",
        "1000000000000000000",
        "9223372036854775807",
        "-9223372036854775808",
        "0.00000000000000000000000000001",
        "100000000000000000000000e-22",
        "1E+2",
        "1e0000000000000000000001",
    };
    char doc[64];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t t = 0; t < sizeof(edges) / sizeof(edges[0]) + 20000; t++) {
        const char *text = doc;
        if (t < sizeof(edges) / sizeof(edges[0])) {
            text = edges[t];
        } else {
            size_t o = 0;
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t r = seed >> 11;
            if (r & 1)
                doc[o++] = '-';
            size_t ni = 1 + (r >> 1) % 20, nf = (r >> 6) % 3 == 0 ? 0 : (r >> 8) % 20;
            for (size_t i = 0; i < ni; i++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                doc[o++] = (char)('0' + (i == 0 && ni > 1 ? 1 + (seed >> 40) % 9 : (seed >> 40) % 10));
            }
            if (nf > 0) {
                doc[o++] = '.';
                for (size_t i = 0; i < nf; i++) {
                    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                    doc[o++] = (char)('0' + (seed >> 40) % 10);
                }
            }
            if ((r >> 14) % 3 == 0)
                o += (size_t)snprintf(doc + o, 16, "e%d", (int)((r >> 16) % 61) - 30);
            doc[o] = '\0';
        }
        sluice_json_error_t err;
        json_t *v = sluice_json_parse(text, strlen(text), 4, 100, 0, NULL, &err);
        if (json_is_integer(v)) {
            assert_int_equal(json_integer_value(v), strtoll(text, NULL, 10));
        } else if (json_is_real(v)) {
            double got = json_real_value(v), want = strtod(text, NULL);
            if (memcmp(&got, &want, sizeof(got)) != 0)
                print_error("%s read as %.17g, strtod %.17g\n", text, got, want);
            assert_memory_equal(&got, &want, sizeof(got));
        } else {
            assert_true(agrees(text, strlen(text))); /* out of range: refused as jansson does */
        }
        json_decref(v);
    }
}

/* With the numbers' table (the gateway's and the worker's parse), a real beyond a double keeps
 * its text, its value the largest double of its sign, as an integer beyond a double does: 1e400
 * refused the whole event with 400 invalid_json ("real number overflow"). An underflow keeps its
 * text too, its value strtod's (0 or a subnormal). Without a table both stay jansson's. */
static void reals_beyond_a_double_keep_their_text(void **state)
{
    (void)state;
    char doc[600];
    int o = snprintf(doc, sizeof(doc), "{\"a\":1e400,\"b\":-2.5E+999,\"c\":1");
    memset(doc + o, '0', 400);
    o += 400;
    snprintf(doc + o, sizeof(doc) - (size_t)o, ".0,\"d\":1e-400,\"e\":-4e-320,\"f\":[1E400]}");
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    json_t *v = sluice_json_parse(doc, strlen(doc), 8, 64, 0, nums, &err);
    if (v == NULL)
        print_error("refused: %s at %u:%u\n", err.message, err.line, err.column);
    assert_non_null(v);
    assert_true(json_real_value(json_object_get(v, "a")) == DBL_MAX);
    assert_true(json_real_value(json_object_get(v, "b")) == -DBL_MAX);
    assert_true(json_real_value(json_object_get(v, "c")) == DBL_MAX);
    assert_true(json_real_value(json_array_get(json_object_get(v, "f"), 0)) == DBL_MAX);
    double d = json_real_value(json_object_get(v, "d")), e = json_real_value(json_object_get(v, "e"));
    double want_d = strtod("1e-400", NULL), want_e = strtod("-4e-320", NULL);
    assert_memory_equal(&d, &want_d, sizeof(d));
    assert_memory_equal(&e, &want_e, sizeof(e));
    size_t len;
    char *out = sluice_json_encode(v, nums, &len);
    assert_non_null(out);
    assert_string_equal(out, doc); /* byte for byte */
    free(out);
    json_decref(v);
    sluice_jsonnum_free(nums);

    /* Without a table there is no text to write back: refused as jansson refuses them (a
     * formatted 1.7976931348623157e308 would be a figure the client did not write). */
    v = sluice_json_parse("[1e400]", 7, 8, 64, 0, NULL, &err);
    assert_null(v);
    assert_string_equal(err.message, "real number overflow");
    AGREE("-2.5E+999");
    AGREE("1e-400");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agrees_with_jansson),
        cmocka_unit_test(lone_surrogates_are_replaced),
        cmocka_unit_test(nul_after_scalar_is_refused),
        cmocka_unit_test(limits_name_paths),
        cmocka_unit_test(limit_paths_name_pii_keys),
        cmocka_unit_test(long_paths_cut_at_characters),
        cmocka_unit_test(batch_refused_while_parsing),
        cmocka_unit_test(batch_events_fault_alone),
        cmocka_unit_test(syntax_positions),
        cmocka_unit_test(long_strings_and_escapes_round_trip),
        cmocka_unit_test(duplicate_keys),
        cmocka_unit_test(strings_at_every_offset),
        cmocka_unit_test(numbers_as_strtod_reads_them),
        cmocka_unit_test(reals_beyond_a_double_keep_their_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

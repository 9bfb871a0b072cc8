/* Tests for gateway/envelope.c: byte-for-byte the same compact JSON as jansson's json_dumps,
 * and the envelope's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/envelope.h"

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    return v;
}

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
        "19.99",
        "1e-300",
        "-1.7976931348623157e308",
        "100.0",
        "0.5",
        "\"\"",
        "{\"a\":[1,2.5,{\"b\":null}],\"c\":\"\\u0001\\u001f\\b\\f\\n\\r\\t \\\" \\\\ / \\u007f\",\"d\":false}",
        "{\"utf8\":\"Val\\u00e9ry \\u20ac \\ud83d\\ude00\",\"keys \\\"quoted\\\"\":1}",
        "{\"event\":\"Order Completed\",\"properties\":{\"items\":[{\"sku\":\"a\",\"price\":9.99,\"q\":2}]}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = load(docs[i]);
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len;
        char *got = sluice_json_encode(v, &len);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        free(got);
        free(want);
        json_decref(v);
    }
}

/* Every character that needs escaping, at every offset of strings around the encoder's 8-byte
 * steps, next to multi-byte UTF-8 and DEL (which need none). */
static void escapes_at_every_offset(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', '\t', '\x01', '\x1f', '\x7f', '\xc3', '/'};
    for (size_t len = 1; len <= 25; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof(specials); k++) {
                char text[32];
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
                json_t *v = json_string(text);
                assert_non_null(v);
                char *want = json_dumps(v, JSON_ENCODE_ANY);
                size_t n;
                char *got = sluice_json_encode(v, &n);
                assert_string_equal(got, want);
                assert_int_equal(n, strlen(want));
                free(got);
                free(want);
                json_decref(v);
            }
}

static void envelope_shape(void **state)
{
    (void)state;
    json_t *ev = load("{\"type\":\"track\",\"event\":\"Buy\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\"}");
    json_t *privacy = load("{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]}");
    json_t *hashes = load("{\"traits.phone\":{\"google\":\"abc\"}}");
    size_t len;
    char *s = sluice_envelope_encode("acme", "web\"x", ev, privacy, hashes, &len);
    assert_string_equal(s,
                        "{\"v\":1,\"org\":\"acme\",\"source\":\"web\\\"x\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\","
                        "\"event\":{\"type\":\"track\",\"event\":\"Buy\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\"},"
                        "\"privacy\":{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]},"
                        "\"hashes\":{\"traits.phone\":{\"google\":\"abc\"}}}");
    assert_int_equal(len, strlen(s));
    /* It parses back to the same parts. */
    json_error_t je;
    json_t *back = json_loads(s, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(json_object_get(back, "event"), ev));
    json_decref(back);
    free(s);
    s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, &len);
    assert_null(strstr(s, "hashes"));
    free(s);
    json_decref(ev);
    json_decref(privacy);
    json_decref(hashes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_bytes_as_jansson),
        cmocka_unit_test(escapes_at_every_offset),
        cmocka_unit_test(envelope_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for gateway/envelope.c: the envelope's shape, numbers as the body had them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/envelope.h"
#include "json/parse.h"

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    return v;
}

static void envelope_shape(void **state)
{
    (void)state;
    json_t *ev = load("{\"type\":\"track\",\"event\":\"Buy\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\"}");
    json_t *privacy = load("{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]}");
    json_t *hashes = load("{\"traits.phone\":{\"google\":\"abc\"}}");
    size_t len;
    char *s = sluice_envelope_encode("acme", "web\"x", ev, privacy, hashes, NULL, &len);
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
    s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, NULL, &len);
    assert_null(strstr(s, "hashes"));
    free(s);
    json_decref(ev);
    json_decref(privacy);
    json_decref(hashes);
}

/* A request body's prices, quantities and odd spellings reach the envelope as sent. */
static void envelope_numbers_as_sent(void **state)
{
    (void)state;
    static const char body[] = "{\"type\":\"track\",\"event\":\"Buy\",\"properties\":{\"price\":19.9,\"tax\":0.1,"
                               "\"big\":1e21,\"zero\":-0,\"id\":12345678901234567890,\"q\":1.50,\"e\":1E+2}}";
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    json_t *ev = sluice_json_parse(body, strlen(body), 64, 1 << 20, 0, nums, &err);
    assert_non_null(ev);
    json_t *privacy = load("{}");
    size_t len;
    char *s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, nums, &len);
    assert_non_null(strstr(s, "\"properties\":{\"price\":19.9,\"tax\":0.1,\"big\":1e21,\"zero\":-0,"
                              "\"id\":12345678901234567890,\"q\":1.50,\"e\":1E+2}"));
    free(s);
    /* A value the data layer replaced is formatted: the shortest text of its double. */
    json_object_set_new(json_object_get(ev, "properties"), "price", json_real(20.5));
    s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, nums, &len);
    assert_non_null(strstr(s, "\"price\":20.5,"));
    free(s);
    json_decref(ev);
    json_decref(privacy);
    sluice_jsonnum_free(nums);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_shape),
        cmocka_unit_test(envelope_numbers_as_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

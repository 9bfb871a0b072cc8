/* Tests for json/jv_json.c: a jv tree bridged to jansson is what json/parse.c builds for the same text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/arena.h"
#include "json/jv.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"

static int setup(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

/* Prices, quantities and ids of issue 17's test, an escaped key, a nested array: the bridged
 * tree holds parse.c's types and values, and json/write.c writes it as the client sent it. */
static void bridge_is_what_parse_builds(void **state)
{
    (void)state;
    static const char body[] = "{\"price\":19.9,\"q\":0.1,\"big\":1e21,\"neg\":-0,\"id\":12345678901234567890,"
                               "\"n\":42,\"k\\u00e9\":[true,false,null,\"s\\\"\"],\"o\":{}}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new(), *pnums = sluice_jsonnum_new();
    sluice_json_error_t err;
    sluice_jv_t *v = sluice_jv_parse(a, body, strlen(body), 64, SIZE_MAX, 0, NULL, &err);
    assert_non_null(v);
    json_t *b = sluice_jv_to_json(v, nums);
    json_t *p = sluice_json_parse_batch(body, strlen(body), 64, SIZE_MAX, 0, pnums, NULL, &err);
    assert_non_null(b);
    assert_non_null(p);
    assert_true(json_equal(b, p));
    assert_true(json_is_real(json_object_get(b, "price")));
    assert_true(json_is_integer(json_object_get(b, "neg")));
    assert_true(json_is_real(json_object_get(b, "id"))); /* past 64 bits: a real, as parse.c has it */
    assert_int_equal(json_integer_value(json_object_get(b, "n")), 42);
    assert_true(json_is_array(json_object_get(b, "k\xc3\xa9")));
    char *text = sluice_json_encode(b, nums, NULL);
    assert_string_equal(text, "{\"price\":19.9,\"q\":0.1,\"big\":1e21,\"neg\":-0,\"id\":12345678901234567890,\"n\":42,"
                              "\"k\xc3\xa9\":[true,false,null,\"s\\\"\"],\"o\":{}}");
    free(text);
    json_decref(b);
    json_decref(p);
    sluice_jsonnum_free(nums);
    sluice_jsonnum_free(pnums);
    sluice_json_arena_free(a);
}

/* A changed tree is bridged as it is now, not as it was parsed. */
static void bridge_follows_edits(void **state)
{
    (void)state;
    static const char body[] = "{\"a\":1,\"b\":[2]}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t err;
    sluice_jv_t *v = sluice_jv_parse(a, body, strlen(body), 64, SIZE_MAX, 0, NULL, &err);
    assert_non_null(v);
    assert_int_equal(sluice_jv_object_del(v, "a"), 0);
    assert_int_equal(sluice_jv_array_append(a, sluice_jv_object_get(v, "b"), sluice_jv_number_text(a, "2.50", 4)), 0);
    assert_int_equal(sluice_jv_object_set(a, v, "c", sluice_jv_string(a, "x", 1)), 0);
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *b = sluice_jv_to_json(v, nums);
    char *text = sluice_json_encode(b, nums, NULL);
    assert_string_equal(text, "{\"b\":[2,2.50],\"c\":\"x\"}");
    free(text);
    json_decref(b);
    sluice_jsonnum_free(nums);
    assert_null(sluice_jv_to_json(NULL, NULL));
    sluice_json_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bridge_is_what_parse_builds),
        cmocka_unit_test(bridge_follows_edits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for json/arena.c: jansson values built inside an arena live there, values built outside
 * are malloc'd, the two mix in one document, big allocations fall back to malloc, an arena's
 * chunks are reused once it is freed, and owners are counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/arena.h"
#include "json/parse.h"
#include "json/write.h"

static void values_live_in_the_arena(void **state)
{
    (void)state;
    assert_int_equal(sluice_json_arena_install(), 0);
    assert_int_equal(sluice_json_arena_install(), 0); /* once is enough; twice is harmless */
    sluice_json_arena_t *a = sluice_json_arena_new();
    assert_non_null(a);
    static const char doc[] = "{\"event\":\"Order Completed\",\"properties\":{\"price\":19.9,\"skus\":[\"a\",\"b\"]}}";
    sluice_json_error_t err;
    sluice_json_arena_enter(a);
    json_t *v = sluice_json_parse(doc, strlen(doc), 16, 1024, 0, NULL, &err);
    sluice_json_arena_leave();
    assert_non_null(v);
    size_t used = sluice_json_arena_used(a);
    assert_true(used > 200);
    /* Outside the arena: malloc'd values, linked into the arena's document and out again. */
    json_t *props = json_object_get(v, "properties");
    for (int i = 0; i < 100; i++) { /* enough members to grow the arena object's hash table */
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(json_object_set_new(props, key, json_string("added later")), 0);
    }
    assert_int_equal(sluice_json_arena_used(a), used);
    json_object_del(props, "k7");
    char *text = sluice_json_encode(v, NULL, NULL);
    assert_non_null(strstr(text, "\"price\":19.9,\"skus\":[\"a\",\"b\"],\"k0\":\"added later\""));
    assert_null(strstr(text, "\"k7\""));
    free(text);
    /* A value taken out of the document keeps living while the arena does. */
    json_t *skus = json_incref(json_object_get(props, "skus"));
    json_decref(v);
    assert_string_equal(json_string_value(json_array_get(skus, 1)), "b");
    json_decref(skus);
    sluice_json_arena_free(a);
}

static void big_allocations_are_malloced(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    size_t n = 64 * 1024;
    char *big = malloc(n + 3);
    big[0] = '"';
    memset(big + 1, 'x', n);
    big[n + 1] = '"';
    sluice_json_error_t err;
    sluice_json_arena_enter(a);
    json_t *v = sluice_json_parse(big, n + 2, 16, SIZE_MAX, 0, NULL, &err);
    sluice_json_arena_leave();
    assert_non_null(v);
    assert_int_equal(json_string_length(v), n);
    assert_true(sluice_json_arena_used(a) < 1024); /* the string itself went to malloc */
    json_decref(v);
    sluice_json_arena_free(a);
    free(big);
}

static void chunks_are_reused_and_owners_counted(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_arena_free(a);
    sluice_json_arena_t *b = sluice_json_arena_new();
    assert_ptr_equal(a, b); /* the same chunk, from this thread's spare list */
    assert_ptr_equal(sluice_json_arena_hold(b), b);
    sluice_json_arena_enter(b);
    json_t *arr = json_array();
    for (int i = 0; i < 2000; i++) /* spans several chunks */
        json_array_append_new(arr, json_integer(i));
    sluice_json_arena_leave();
    assert_true(sluice_json_arena_used(b) > 16 * 1024);
    json_decref(arr);
    sluice_json_arena_free(b); /* one owner left */
    sluice_json_arena_enter(b);
    json_t *still = json_string("still usable");
    sluice_json_arena_leave();
    assert_string_equal(json_string_value(still), "still usable");
    json_decref(still);
    sluice_json_arena_free(b);
    sluice_json_arena_free(NULL);
    assert_null(sluice_json_arena_hold(NULL));
}

/* sluice_json_arena_alloc (json/jv.h's nodes): blocks over a quarter chunk are malloc'd and go
 * back with the arena; sizes near SIZE_MAX are refused, not rounded up to 0 and handed a block. */
static void arena_alloc_refuses_sizes_that_wrap(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    assert_null(sluice_json_arena_alloc(a, SIZE_MAX));
    assert_null(sluice_json_arena_alloc(a, SIZE_MAX - 8));
    assert_non_null(sluice_json_arena_alloc(a, 24));
    char *big = sluice_json_arena_alloc(a, 64 * 1024); /* freed with the arena: ASan sees any leak */
    assert_non_null(big);
    memset(big, 1, 64 * 1024);
    sluice_json_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_live_in_the_arena),
        cmocka_unit_test(big_allocations_are_malloced),
        cmocka_unit_test(chunks_are_reused_and_owners_counted),
        cmocka_unit_test(arena_alloc_refuses_sizes_that_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

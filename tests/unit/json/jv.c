/* Tests for json/jv.c: the arena values accept, refuse and write exactly as json/parse.c and
 * json/write.c do; untouched parts are written as sent, changed ones from their parts; the
 * object and array API keeps jansson's order semantics; big objects stay linear. */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"
#include "json/write.h"

static int setup(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

/* What json/parse.c + json/write.c write for s, or NULL with *err set. */
static char *reference(const char *s, size_t max_depth, size_t max_string, sluice_json_error_t *err)
{
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *v = sluice_json_parse(s, strlen(s), max_depth, max_string, 0, nums, err);
    char *out = v != NULL ? sluice_json_encode(v, nums, NULL) : NULL;
    json_decref(v);
    sluice_jsonnum_free(nums);
    return out;
}

static char *jv_text(sluice_json_arena_t *a, const char *s, size_t max_depth, size_t max_string,
                     sluice_json_error_t *err)
{
    sluice_jv_t *v = sluice_jv_parse(a, s, strlen(s), max_depth, max_string, 0, NULL, err);
    return v != NULL ? sluice_jv_encode(v, NULL) : NULL;
}

static void same_bytes_as_parse_and_write(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        " { } ",
        "null",
        "-0",
        "{\"price\":19.9,\"tax\":0.1,\"big\":1e21,\"zero\":-0,\"id\":12345678901234567890,\"e\":1E+02}",
        "{ \"a\" : [ 1 , 2.50 , true , false , null ] ,\n\"b\":{\"c\":{}}}",
        "{\"s\":\"\\u00e9\\/\\\"\\\\\\b\\f\\n\\r\\t\\u001f\\u007f\"}",
        "[\"\\ud83d\",\"\\ude00x\",\"\\ud83d\\ude00\",\"\\u0000\"]",
        "{\"k\\u00e9y\":1,\"plain\":\"caf\xc3\xa9\"}",
        "[1.0000000000000000000000000000000000000001,0.00000000000000000000000000000000000000000000001]",
        "[123456789012345678901234567890123456789012,-1.23456789012345678901234567890123456789012e-5]",
        "{\"v\":1e400,\"p\":[-1E+999, 2.5e-400 ],\"t\":-4e-320}", /* beyond a double, an underflow */
        "{\"event\":\"Order Completed\",\"properties\":{\"items\":[{\"sku\":\"a\",\"price\":999,\"q\":2}]}}",
    };
    sluice_json_arena_t *a = sluice_json_arena_new();
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        sluice_json_error_t e1, e2;
        char *want = reference(docs[i], 64, 8192, &e1);
        char *got = jv_text(a, docs[i], 64, 8192, &e2);
        assert_non_null(want);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
    sluice_json_arena_free(a);
}

static void same_refusals_messages_and_positions(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "",
        "\xef\xbb\xbf{}", /* a BOM */
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\n  \"b\":[1,2,{\"a\":1,\"a\":x}]}",
        "[[[[[1]]]]]",
        "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}",
        "{\"long\":\"0123456789abcdefg\"}",
        "{\"0123456789abcdefg\":1}",
        "{\"list\":[1,2,\"0123456789abcdefgh\"]}",
        "[01]",
        "[1.]",
        "[1e]",
        "[\"\x01\"]",
        "[\"\\x\"]",
        "[\"\xc3\"]",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "[1 2]",
        "[tru]",
        "[truex]",
        "{} x",
        "\"abc",
    };
    sluice_json_arena_t *a = sluice_json_arena_new();
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        sluice_json_error_t e1, e2;
        char *want = reference(docs[i], 4, 16, &e1);
        char *got = jv_text(a, docs[i], 4, 16, &e2);
        assert_null(want);
        assert_null(got);
        assert_int_equal(e2.kind, e1.kind);
        assert_string_equal(e2.message, e1.message);
        assert_string_equal(e2.path, e1.path);
        assert_int_equal(e2.line, e1.line);
        assert_int_equal(e2.column, e1.column);
    }
    sluice_json_arena_free(a);
}

/* Over-long strings in an event of a batch are that event's fault, as with parse_batch. */
static void batch_faults_as_parse_batch(void **state)
{
    (void)state;
    const char *doc = "{\"batch\":[{\"a\":\"0123456789abcdefgh\"},{\"0123456789abcdefgh\":1,\"b\":2},{\"c\":3}]}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_item_faults_t fj, fv;
    sluice_json_error_t e;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j = sluice_json_parse_batch(doc, strlen(doc), 8, 16, 10, nums, &fj, &e);
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 16, 10, &fv, &e);
    assert_non_null(j);
    assert_non_null(v);
    assert_int_equal(fv.count, 2);
    assert_int_equal(fj.count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(fv.item[i].index, fj.item[i].index);
        assert_string_equal(fv.item[i].path, fj.item[i].path);
        assert_string_equal(fv.item[i].message, fj.item[i].message);
    }
    char *want = sluice_json_encode(j, nums, NULL), *got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, want); /* the string read as null, the key's member left out */
    assert_string_equal(got, "{\"batch\":[{\"a\":null},{\"b\":2},{\"c\":3}]}");
    free(want);
    free(got);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

/* Plain strings point into the body; escaped ones are decoded once; nothing is NUL-terminated
 * that need not be. */
static void strings_are_spans_into_the_body(void **state)
{
    (void)state;
    const char *doc = "{\"plain\":\"hello\",\"esc\":\"a\\nb\"}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    size_t n;
    const char *s = sluice_jv_string_value(sluice_jv_object_get(v, "plain"), &n);
    assert_true(s > doc && s < doc + strlen(doc));
    assert_int_equal(n, 5);
    assert_true(sluice_jv_string_is(sluice_jv_object_get(v, "plain"), "hello"));
    assert_false(sluice_jv_string_is(sluice_jv_object_get(v, "plain"), "hell"));
    s = sluice_jv_string_value(sluice_jv_object_get(v, "esc"), &n);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\nb", 3);
    sluice_json_arena_free(a);
}

/* A change deep inside is written; everything else as sent, whitespace and all normalised. */
static void a_change_marks_every_ancestor(void **state)
{
    (void)state;
    const char *doc = "{\"a\":{\"b\":{\"c\":1.50}},\"d\":[1,{\"e\":\"\\u00e9\"}],\"f\":2}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    sluice_jv_t *b = sluice_jv_object_get(sluice_jv_object_get(v, "a"), "b");
    assert_int_equal(sluice_jv_object_set(a, b, "x", sluice_jv_integer(a, -7)), 0);
    sluice_jv_t *d1 = sluice_jv_array_get(sluice_jv_object_get(v, "d"), 1);
    assert_int_equal(sluice_jv_object_set(a, d1, "e", sluice_jv_string(a, "new", 3)), 0);
    char *got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, "{\"a\":{\"b\":{\"c\":1.50,\"x\":-7}},\"d\":[1,{\"e\":\"new\"}],\"f\":2}");
    free(got);
    assert_int_equal(sluice_jv_object_del(v, "a"), 0);
    got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, "{\"d\":[1,{\"e\":\"new\"}],\"f\":2}");
    free(got);
    sluice_json_arena_free(a);
}

/* The gateway's own keys (SLUICE_JV_SET_LIT) and texts (sluice_jv_string_plain) are written as
 * their bytes, without the writer's scan: the same bytes json/write.c writes for the same
 * document. A key the parser left in the body is written as its bytes only when its '":' follows
 * it there; a key with an escape (a copy) and a key set by sluice_jv_object_set are scanned. */
static void literal_keys_and_plain_strings(void **state)
{
    (void)state;
    const char *doc = "{ \"a\" : 1 , \"b\\\"c\" : \"x\", \"d\":2,\"k\":{\"x\" :[]}}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    assert_non_null(v);
    sluice_jv_t *id = sluice_jv_string_plain(a, "0123-abcd", 9);
    assert_int_equal(SLUICE_JV_SET_LIT(a, v, "messageId", id), 0);
    assert_int_equal(SLUICE_JV_SET_LIT(a, v, "d", sluice_jv_string_plain(a, "2026-11-23T08:00:00.123Z", 24)), 0);
    assert_int_equal(sluice_jv_object_set(a, v, "e\"f", sluice_jv_string(a, "t\tu", 3)), 0);
    assert_int_equal(sluice_jv_object_set(a, sluice_jv_object_get(v, "k"), "y", sluice_jv_null(a)), 0);
    const char *want = "{\"a\":1,\"b\\\"c\":\"x\",\"d\":\"2026-11-23T08:00:00.123Z\",\"k\":{\"x\":[],\"y\":null},"
                       "\"messageId\":\"0123-abcd\",\"e\\\"f\":\"t\\tu\"}";
    char *got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, want);
    free(got);
    sluice_json_error_t re;
    char *ref = reference(want, 8, 64, &re);
    assert_string_equal(ref, want);
    free(ref);
    /* a plain string reads as any string, and its copy is written the same */
    size_t n;
    assert_memory_equal(sluice_jv_string_value(id, &n), "0123-abcd", 9);
    assert_int_equal(n, 9);
    assert_true(sluice_jv_string_is(id, "0123-abcd"));
    assert_true(sluice_jv_equal(id, sluice_jv_string(a, "0123-abcd", 9)));
    sluice_jv_t *arr = sluice_jv_array(a);
    assert_int_equal(sluice_jv_array_append(a, arr, sluice_jv_copy(a, id)), 0);
    assert_int_equal(sluice_jv_array_append(a, arr, sluice_jv_string_plain(a, "", 0)), 0);
    got = sluice_jv_encode(arr, NULL);
    assert_string_equal(got, "[\"0123-abcd\",\"\"]");
    free(got);
    /* a literal key is found and replaced as any key */
    assert_ptr_equal(sluice_jv_object_get(v, "messageId"), id);
    assert_int_equal(sluice_jv_object_del(v, "messageId"), 0);
    assert_null(sluice_jv_object_get(v, "messageId"));
    sluice_json_arena_free(a);
}

/* Removing an item of a parsed array (json_array_remove's semantics): the others keep their order,
 * the array and its ancestors are written from their parts, the removed item may be placed
 * elsewhere, and a missing item or a non-array is refused. */
/* A C string for readers of C strings: a copy with a NUL after it, the whole length given. */
static void string_cstr(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *s = sluice_jv_string(a, "ab\0cd", 5), *n = sluice_jv_integer(a, 7);
    size_t len = 0;
    const char *c = sluice_jv_string_cstr(a, s, &len);
    assert_non_null(c);
    assert_int_equal(len, 5);
    assert_memory_equal(c, "ab\0cd", 6);
    assert_ptr_not_equal(c, sluice_jv_string_value(s, NULL));
    assert_null(sluice_jv_string_cstr(a, n, &len));
    assert_null(sluice_jv_string_cstr(a, NULL, NULL));
    sluice_json_arena_free(a);
}

/* Set replaces item i in place; the old item leaves the tree (it can be set elsewhere), and the
 * array is written from its parts again (a parsed array is otherwise written as its source). */
static void array_set(void **state)
{
    (void)state;
    const char *doc = "{\"l\":[\"a\", 1.50 ,{\"b\":2}],\"n\":{}}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    sluice_jv_t *l = sluice_jv_object_get(v, "l"), *old = sluice_jv_array_get(l, 0);
    assert_int_equal(sluice_jv_array_set(l, 0, sluice_jv_string(a, "x", 1)), 0);
    assert_int_equal(sluice_jv_array_set(l, 3, sluice_jv_string(a, "y", 1)), -1);
    assert_int_equal(sluice_jv_array_set(v, 0, sluice_jv_string(a, "y", 1)), -1);
    assert_int_equal(sluice_jv_array_set(l, 1, sluice_jv_array_get(l, 2)), -1); /* in a tree */
    assert_int_equal(sluice_jv_array_set(l, 1, NULL), -1);
    assert_int_equal(sluice_jv_array_set(l, 1, v), -1); /* the tree's root into its own array: a cycle */
    assert_int_equal(sluice_jv_object_set(a, sluice_jv_object_get(v, "n"), "old", old), 0);
    char *got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, "{\"l\":[\"x\",1.50,{\"b\":2}],\"n\":{\"old\":\"a\"}}");
    free(got);
    sluice_json_arena_free(a);
}

/* Clear makes item i null in place: nothing allocated (a removal of personal data cannot fail for
 * memory), the array written from its parts (compact), the other items as they were. */
static void array_clear(void **state)
{
    (void)state;
    const char *doc = "{\"l\":[\"a@b.co\", {\"e\" : \"c@d.co\"} ,[1, 2]],\"n\":1.50}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    sluice_jv_t *l = sluice_jv_object_get(v, "l");
    size_t used = sluice_json_arena_used(a);
    assert_int_equal(sluice_jv_array_clear(l, 0), 0);
    assert_int_equal(sluice_jv_array_clear(l, 1), 0);
    assert_int_equal(sluice_jv_array_clear(l, 3), -1);
    assert_int_equal(sluice_jv_array_clear(v, 0), -1);
    assert_int_equal(sluice_json_arena_used(a), used);
    assert_true(sluice_jv_is_null(sluice_jv_array_get(l, 1)));
    assert_int_equal(sluice_jv_array_size(l), 3);
    char *got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, "{\"l\":[null,null,[1,2]],\"n\":1.50}");
    free(got);
    sluice_json_arena_free(a);
}

static void array_remove(void **state)
{
    (void)state;
    const char *doc = "{\"l\":[\"a\",1.50,{\"b\":2},\"c\"],\"n\":{}}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    sluice_jv_t *l = sluice_jv_object_get(v, "l"), *b = sluice_jv_array_get(l, 2);
    assert_int_equal(sluice_jv_array_remove(l, 2), 0);
    assert_int_equal(sluice_jv_array_remove(l, 0), 0);
    assert_int_equal(sluice_jv_array_remove(l, 2), -1);
    assert_int_equal(sluice_jv_array_remove(v, 0), -1);
    assert_int_equal(sluice_jv_array_size(l), 2);
    assert_int_equal(sluice_jv_object_set(a, sluice_jv_object_get(v, "n"), "moved", b), 0);
    char *got = sluice_jv_encode(v, NULL);
    assert_string_equal(got, "{\"l\":[1.50,\"c\"],\"n\":{\"moved\":{\"b\":2}}}");
    free(got);
    assert_int_equal(sluice_jv_array_remove(l, 1), 0);
    assert_int_equal(sluice_jv_array_remove(l, 0), 0);
    got = sluice_jv_encode(l, NULL);
    assert_string_equal(got, "[]");
    free(got);
    sluice_json_arena_free(a);
}

/* jansson's semantics: set replaces in place, del keeps the others' order, a value lives in one
 * place, no cycles. */
static void object_and_array_api(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *o = sluice_jv_object(a);
    assert_int_equal(sluice_jv_object_set(a, o, "a", sluice_jv_integer(a, 1)), 0);
    assert_int_equal(sluice_jv_object_set(a, o, "b", sluice_jv_real(a, 19.9)), 0);
    assert_int_equal(sluice_jv_object_set(a, o, "c", sluice_jv_null(a)), 0);
    assert_int_equal(sluice_jv_object_set(a, o, "a", sluice_jv_bool(a, 0)), 0);
    assert_int_equal(sluice_jv_object_size(o), 3);
    assert_string_equal(sluice_jv_object_at(o, 0)->key, "a");
    assert_int_equal(sluice_jv_object_del(o, "b"), 0);
    assert_int_equal(sluice_jv_object_del(o, "b"), -1);
    sluice_jv_t *arr = sluice_jv_array(a);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sluice_jv_array_append(a, arr, sluice_jv_integer(a, i)), 0);
    assert_int_equal(sluice_jv_array_size(arr), 10);
    assert_true(sluice_jv_is_integer(sluice_jv_array_get(arr, 9)));
    assert_int_equal(sluice_jv_integer_value(sluice_jv_array_get(arr, 9)), 9);
    assert_null(sluice_jv_array_get(arr, 10));
    assert_int_equal(sluice_jv_object_set(a, o, "arr", arr), 0);
    /* already in o: refused (copy it); o into its own child: refused */
    assert_int_equal(sluice_jv_object_set(a, o, "again", arr), -1);
    assert_int_equal(sluice_jv_array_append(a, arr, o), -1);
    assert_int_equal(sluice_jv_object_set(a, o, "again", sluice_jv_copy(a, arr)), 0);
    assert_int_equal(sluice_jv_array_append(a, sluice_jv_object_get(o, "again"), sluice_jv_integer(a, 10)), 0);
    char *got = sluice_jv_encode(o, NULL);
    assert_string_equal(got,
                        "{\"a\":false,\"c\":null,\"arr\":[0,1,2,3,4,5,6,7,8,9],\"again\":[0,1,2,3,4,5,6,7,8,9,10]}");
    free(got);
    sluice_json_arena_free(a);
}

/* A container is refused where it would hold itself (as its own item, or an ancestor as a
 * descendant's), arrays as objects are; scalars, which can be neither, are placed anywhere (the
 * cycle check walks up only for containers). */
static void containers_never_hold_an_ancestor(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    /* [[1,{"k":[]}],2], built */
    sluice_jv_t *root = sluice_jv_array(a), *inner = sluice_jv_array(a), *obj = sluice_jv_object(a);
    sluice_jv_t *deep = sluice_jv_array(a);
    assert_int_equal(sluice_jv_object_set(a, obj, "k", deep), 0);
    assert_int_equal(sluice_jv_array_append(a, inner, sluice_jv_integer(a, 1)), 0);
    assert_int_equal(sluice_jv_array_append(a, inner, obj), 0);
    assert_int_equal(sluice_jv_array_append(a, root, inner), 0);
    assert_int_equal(sluice_jv_array_append(a, root, sluice_jv_integer(a, 2)), 0);
    assert_int_equal(sluice_jv_array_append(a, deep, root), -1);       /* the root array below itself */
    assert_int_equal(sluice_jv_object_set(a, obj, "again", root), -1); /* ... in an object below it */
    sluice_jv_t *empty = sluice_jv_array(a), *eo = sluice_jv_object(a);
    assert_int_equal(sluice_jv_array_append(a, empty, empty), -1); /* an array as its own item */
    assert_int_equal(sluice_jv_object_set(a, eo, "self", eo), -1); /* an object as its own member */
    assert_int_equal(sluice_jv_array_append(a, deep, sluice_jv_string(a, "s", 1)), 0);
    assert_int_equal(sluice_jv_array_set(deep, 0, root), -1); /* over the item now there */
    assert_int_equal(sluice_jv_object_set(a, obj, "n", sluice_jv_integer(a, 7)), 0);
    assert_int_equal(sluice_jv_array_append(a, deep, empty), 0);
    assert_int_equal(sluice_jv_array_append(a, empty, sluice_jv_null(a)), 0);
    char *got = sluice_jv_encode(root, NULL);
    assert_string_equal(got, "[[1,{\"k\":[\"s\",[null]],\"n\":7}],2]");
    free(got);
    sluice_json_arena_free(a);
}

/* Numbers keep their text; their values are jansson's. */
static void numbers_as_sent(void **state)
{
    (void)state;
    const char *doc = "[19.9,-0,12345678901234567890,-9223372036854775808,9223372036854775807,1e2]";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    assert_false(sluice_jv_is_integer(sluice_jv_array_get(v, 0)));
    assert_true(sluice_jv_number_value(sluice_jv_array_get(v, 0)) == 19.9);
    assert_true(sluice_jv_is_integer(sluice_jv_array_get(v, 1)));
    assert_false(sluice_jv_is_integer(sluice_jv_array_get(v, 2))); /* beyond 64 bits: a real to jansson */
    assert_true(sluice_jv_integer_value(sluice_jv_array_get(v, 3)) == INT64_MIN);
    assert_true(sluice_jv_integer_value(sluice_jv_array_get(v, 4)) == INT64_MAX);
    assert_false(sluice_jv_is_integer(sluice_jv_array_get(v, 5)));
    size_t n;
    assert_memory_equal(sluice_jv_number_text_value(sluice_jv_array_get(v, 2), &n), "12345678901234567890", 20);
    assert_null(sluice_jv_number_text(a, "1.", 2));
    assert_null(sluice_jv_real(a, 1.0 / 0.0));
    /* 400 digits, beyond a double: the text as sent, the value parse.c's (the largest double, not
     * the infinity strtod gives). */
    char big[402];
    big[0] = '-';
    memset(big + 1, '8', 400);
    big[401] = '\0';
    v = sluice_jv_parse(a, big, strlen(big), 8, 64, 0, NULL, &e);
    assert_non_null(v);
    assert_true(sluice_jv_number_value(v) == -DBL_MAX);
    assert_memory_equal(sluice_jv_number_text_value(v, &n), big, 401);
    assert_int_equal(n, 401);
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j = sluice_json_parse(big, strlen(big), 8, 64, 0, nums, &e);
    assert_true(json_real_value(j) == -DBL_MAX);
    json_decref(j);
    /* A real beyond a double too (1e400 was refused, "real number overflow"), and an underflow:
     * the text as sent, the value parse.c's. */
    static const struct {
        const char *text;
        double value;
    } reals[] = {{"1e400", DBL_MAX}, {"-1E+999", -DBL_MAX}, {"-2.5e-400", -0.0}};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        v = sluice_jv_parse(a, reals[i].text, strlen(reals[i].text), 8, 64, 0, NULL, &e);
        assert_non_null(v);
        double got = sluice_jv_number_value(v);
        assert_memory_equal(&got, &reals[i].value, sizeof(got));
        assert_false(sluice_jv_is_integer(v));
        char *text = sluice_jv_encode(v, NULL);
        assert_non_null(text);
        assert_string_equal(text, reals[i].text);
        free(text);
        j = sluice_json_parse(reals[i].text, strlen(reals[i].text), 8, 64, 0, nums, &e);
        assert_non_null(j);
        double want = json_real_value(j);
        assert_memory_equal(&got, &want, sizeof(got));
        json_decref(j);
    }
    /* Reals read without strtod where that is exact (Clinger's fast path) and with it where not:
     * bit for bit what strtod and parse.c give, the sign of a zero too. */
    static const char *const fast[] = {"0.1",
                                       "-0.0",
                                       "19.99",
                                       "1e22",
                                       "1e23",
                                       "9007199254740993.5",
                                       "5e-324",
                                       "1.7976931348623157e308",
                                       "123456789012345678901.5",
                                       "-1.5E-7"};
    for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
        v = sluice_jv_parse(a, fast[i], strlen(fast[i]), 8, 64, 0, NULL, &e);
        assert_non_null(v);
        double got = sluice_jv_number_value(v), want = strtod(fast[i], NULL);
        assert_memory_equal(&got, &want, sizeof(got));
        j = sluice_json_parse(fast[i], strlen(fast[i]), 8, 64, 0, nums, &e);
        assert_non_null(j);
        want = json_real_value(j);
        assert_memory_equal(&got, &want, sizeof(got));
        json_decref(j);
    }
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

/* A parsed value takes 48 bytes of the arena: a node of 56 bytes was rounded to 64, 16 bytes
 * more per value of every request in flight. */
static void a_value_takes_48_bytes(void **state)
{
    (void)state;
    static const char doc[] = "[null,true,false,0,\"s\",[],{}]"; /* 8 values; the array's 7 items */
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    size_t before = sluice_json_arena_used(a);
    assert_non_null(sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e));
    assert_int_equal(sluice_json_arena_used(a) - before, 8 * 48 + 64); /* the items' vector: 56 bytes, as 64 */
    sluice_json_arena_free(a);
}

/* Arena bytes used by parsing k members "kI":{"b":1} (k small objects) in the document's own
 * object, or one level deeper, in the object of its only member "x". */
static size_t used_for_small_objects(int k, int deeper)
{
    size_t cap = 32 + (size_t)k * 24, o = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    o += (size_t)snprintf(doc, cap, "%s", deeper ? "{\"x\":{" : "{");
    for (int i = 0; i < k; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"k%d\":{\"b\":1}", i ? "," : "", i);
    snprintf(doc + o, cap - o, "%s", deeper ? "}}" : "}");
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    size_t before = sluice_json_arena_used(a);
    assert_non_null(sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e));
    size_t used = sluice_json_arena_used(a) - before;
    sluice_json_arena_free(a);
    free(doc);
    return used;
}

/* The parser gives the objects inside the document's own room for four more members (what
 * validation and enrichment add to an event), but to a few of them only: a hostile body of
 * thousands of small objects must not take that much more arena for each. One level deeper no
 * object gets it, so the two documents differ by the room given (and "x"'s node and vectors,
 * under 200 bytes): with room for every object, 2,000 x 96 bytes. */
static void spare_room_for_a_few_objects_only(void **state)
{
    (void)state;
    size_t room = 4 * sizeof(sluice_jv_member_t);
    size_t inside = used_for_small_objects(2000, 0), deeper = used_for_small_objects(2000, 1);
    print_message("2,000 small objects: %zu arena bytes inside the document's object, %zu one level deeper\n", inside,
                  deeper);
    assert_true(inside < deeper + 100 * room);
}

/* Look-ups through an object's key set (a bit per key: its length and last byte), where keys
 * share bits and bytes: every member is found, an absent key is not, duplicates are refused
 * where parse.c refuses them, and deletions, sets, copies and built objects keep it right. */
static void key_set_finds_every_key(void **state)
{
    (void)state;
    /* "ab", "cb" and "xb" share a bit; the long keys differ in one byte at 0, 7, 8 and 15 or 16 */
    static const char doc[] = "{\"ab\":1,\"cb\":2,\"\":3,\"abcdefghijklmnop\":4,\"abcdefgXijklmnop\":5,"
                              "\"abcdefghXjklmnop\":6,\"Xbcdefghijklmnop\":7,\"abcdefghijklmnoX\":8,"
                              "\"abcdefghijklmnopq\":9,\"abcdefghijklmnopX\":10,\"abcde\":11,\"abXde\":12}";
    static const char *const keys[] = {"ab",
                                       "cb",
                                       "",
                                       "abcdefghijklmnop",
                                       "abcdefgXijklmnop",
                                       "abcdefghXjklmnop",
                                       "Xbcdefghijklmnop",
                                       "abcdefghijklmnoX",
                                       "abcdefghijklmnopq",
                                       "abcdefghijklmnopX",
                                       "abcde",
                                       "abXde"};
    size_t nkeys = sizeof(keys) / sizeof(keys[0]);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &e);
    assert_non_null(v);
    sluice_jv_t *c = sluice_jv_copy(a, v), *b = sluice_jv_object(a);
    for (size_t i = 0; i < nkeys; i++)
        assert_int_equal(sluice_jv_object_set(a, b, keys[i], sluice_jv_integer(a, (int64_t)i + 1)), 0);
    sluice_jv_t *const objs[] = {v, c, b};
    for (size_t o = 0; o < 3; o++) {
        for (size_t i = 0; i < nkeys; i++)
            assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(objs[o], keys[i])), (int64_t)i + 1);
        assert_null(sluice_jv_object_get(objs[o], "xb"));   /* ab's bit */
        assert_null(sluice_jv_object_get(objs[o], "abcd")); /* a prefix */
        assert_null(sluice_jv_object_getn(objs[o], "abcdefghijklmnop", 15));
    }
    assert_int_equal(sluice_jv_object_del(v, "ab"), 0);
    assert_null(sluice_jv_object_get(v, "ab"));
    assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(v, "cb")), 2);
    assert_int_equal(sluice_jv_object_set(a, v, "ab", sluice_jv_integer(a, 13)), 0);
    assert_int_equal(sluice_jv_object_set(a, v, "cb", sluice_jv_integer(a, 14)), 0);
    assert_int_equal(sluice_jv_object_size(v), nkeys);
    assert_string_equal(sluice_jv_object_at(v, nkeys - 1)->key, "ab");
    assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(v, "cb")), 14);
    assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(c, "cb")), 2); /* the copy's own */
    static const char *const dups[] = {"{\"ab\":1,\"cb\":2,\"ab\":3}", "{\"\":1,\"x\":2,\"\":3}",
                                       "{\"abcdefghijklmnopq\":1,\"abcdefghijklmnopX\":2,\"abcdefghijklmnopq\":3}",
                                       "{\"abcde\":1,\"abXde\":{\"abcde\":2},\"abXde\":3}"};
    for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
        sluice_json_error_t e1;
        json_t *j = sluice_json_parse(dups[i], strlen(dups[i]), 8, 64, 0, NULL, &e1);
        assert_null(j);
        assert_null(sluice_jv_parse(a, dups[i], strlen(dups[i]), 8, 64, 0, NULL, &e));
        assert_string_equal(e.message, "duplicate object key");
        assert_string_equal(e.message, e1.message);
        assert_int_equal(e.line, e1.line);
        assert_int_equal(e.column, e1.column);
    }
    sluice_json_arena_free(a);
}

/* A hostile object of many members: look-ups and the duplicate check go through an index, and
 * a duplicate at the very end is still found, where parse.c reports it. */
static void big_objects_are_indexed(void **state)
{
    (void)state;
    size_t count = 20000, cap = count * 16 + 64, n = 0;
    char *doc = malloc(cap);
    doc[n++] = '{';
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    doc[n++] = '}';
    doc[n] = '\0';
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, n, 8, 64, 0, NULL, &e);
    assert_non_null(v);
    assert_int_equal(sluice_jv_object_size(v), count);
    assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(v, "k12345")), 12345);
    assert_null(sluice_jv_object_get(v, "k20000"));
    assert_int_equal(sluice_jv_object_del(v, "k0"), 0);
    assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(v, "k19999")), 19999);
    assert_int_equal(sluice_jv_object_set(a, v, "k0", sluice_jv_integer(a, 5)), 0);
    assert_string_equal(sluice_jv_object_at(v, count - 1)->key, "k0");
    assert_int_equal(sluice_jv_integer_value(sluice_jv_object_get(v, "k0")), 5);
    /* the same keys with a duplicate of the first at the end */
    n--;
    n += (size_t)snprintf(doc + n, cap - n, ",\"k0\":1}");
    sluice_json_error_t e1;
    json_t *j = sluice_json_parse(doc, n, 8, 64, 0, NULL, &e1);
    assert_null(j);
    assert_null(sluice_jv_parse(a, doc, n, 8, 64, 0, NULL, &e));
    assert_string_equal(e.message, "duplicate object key");
    assert_int_equal(e.column, e1.column);
    sluice_json_arena_free(a);
    free(doc);
}

/* An object indexed past SLUICE_JV_INDEX_FROM members and then taken below it by deletions keeps
 * its index: a member added then must be found there too (it was not, so a second set of the
 * same key appended a duplicate key that went downstream). */
static void index_kept_after_deletions(void **state)
{
    (void)state;
    char doc[1024];
    size_t n = 0;
    doc[n++] = '{';
    for (int i = 0; i < SLUICE_JV_INDEX_FROM + 1; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    doc[n++] = '}';
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, doc, n, 8, 64, 0, NULL, &e);
    assert_non_null(v);
    for (int i = 0; i < SLUICE_JV_INDEX_FROM - 2; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        assert_int_equal(sluice_jv_object_del(v, k), 0);
    }
    assert_int_equal(sluice_jv_object_size(v), 3);
    assert_int_equal(sluice_jv_object_set(a, v, "x", sluice_jv_integer(a, 1)), 0);
    assert_non_null(sluice_jv_object_get(v, "x"));
    assert_int_equal(sluice_jv_object_set(a, v, "x", sluice_jv_integer(a, 2)), 0);
    assert_int_equal(sluice_jv_object_size(v), 4);
    char *out = sluice_jv_encode(v, NULL);
    assert_string_equal(out, "{\"k30\":30,\"k31\":31,\"k32\":32,\"x\":2}");
    free(out);
    assert_int_equal(sluice_jv_object_del(v, "x"), 0);
    assert_null(sluice_jv_object_get(v, "x"));
    sluice_json_arena_free(a);
}

/* A copy of an object whose members were all deleted has a vector of its own: it shared the
 * original's (len 0, room left), so a member set in one overwrote the other's. */
static void copy_of_an_emptied_object_is_its_own(void **state)
{
    (void)state;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t e;
    sluice_jv_t *v = sluice_jv_parse(a, "{\"a\":1}", 7, 8, 64, 0, NULL, &e);
    assert_non_null(v);
    assert_int_equal(sluice_jv_object_del(v, "a"), 0);
    sluice_jv_t *c = sluice_jv_copy(a, v);
    assert_non_null(c);
    assert_int_equal(sluice_jv_object_set(a, c, "b", sluice_jv_integer(a, 1)), 0);
    assert_int_equal(sluice_jv_object_set(a, v, "z", sluice_jv_integer(a, 2)), 0);
    char *cv = sluice_jv_encode(c, NULL), *vv = sluice_jv_encode(v, NULL);
    assert_string_equal(cv, "{\"b\":1}");
    assert_string_equal(vv, "{\"z\":2}");
    free(cv);
    free(vv);
    sluice_json_arena_free(a);
}

/* sluice_jv_equal finds equal what json_equal finds equal in the values json/parse.c reads from
 * the same texts: number types (an integer that fits 64 bits, or a real), reals by value, members
 * in any order, strings byte for byte. */
static void equal_as_json_equal(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"1", "1"},
        {"1", "1.0"},
        {"1.0", "1.00"},
        {"1e2", "100.0"},
        {"-0", "0"},
        {"12345678901234567890", "12345678901234567891"}, /* beyond 64 bits: reals, one double */
        {"9223372036854775807", "9223372036854775806"},
        {"\"a\"", "\"a\""},
        {"\"a\"", "\"ab\""},
        {"\"\\u00e9\"", "\"\xc3\xa9\""},
        {"{\"a\":1,\"b\":[true,null]}", "{\"b\":[true,null],\"a\":1}"},
        {"{\"a\":1}", "{\"a\":1,\"b\":2}"},
        {"{\"a\":1}", "{\"b\":1}"},
        {"[1,2]", "[2,1]"},
        {"[1,[2]]", "[1,[2]]"},
        {"[]", "{}"},
        {"true", "false"},
        {"null", "null"},
        {"\"1\"", "1"},
    };
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new(); /* numbers past 64 bits are read with one */
    assert_non_null(a);
    assert_non_null(nums);
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        sluice_json_error_t err;
        sluice_jv_t *x = sluice_jv_parse(a, pairs[i][0], strlen(pairs[i][0]), 8, 64, 0, NULL, &err),
                    *y = sluice_jv_parse(a, pairs[i][1], strlen(pairs[i][1]), 8, 64, 0, NULL, &err);
        json_t *jx = sluice_json_parse(pairs[i][0], strlen(pairs[i][0]), 8, 64, 0, nums, &err),
               *jy = sluice_json_parse(pairs[i][1], strlen(pairs[i][1]), 8, 64, 0, nums, &err);
        assert_non_null(x);
        assert_non_null(y);
        assert_non_null(jx);
        assert_non_null(jy);
        if (sluice_jv_equal(x, y) != json_equal(jx, jy) || sluice_jv_equal(y, x) != json_equal(jx, jy))
            fail_msg("%s and %s: jv %d, jansson %d", pairs[i][0], pairs[i][1], sluice_jv_equal(x, y),
                     json_equal(jx, jy));
        json_decref(jx);
        json_decref(jy);
    }
    assert_false(sluice_jv_equal(NULL, NULL));
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_bytes_as_parse_and_write),
        cmocka_unit_test(same_refusals_messages_and_positions),
        cmocka_unit_test(batch_faults_as_parse_batch),
        cmocka_unit_test(strings_are_spans_into_the_body),
        cmocka_unit_test(a_change_marks_every_ancestor),
        cmocka_unit_test(literal_keys_and_plain_strings),
        cmocka_unit_test(object_and_array_api),
        cmocka_unit_test(containers_never_hold_an_ancestor),
        cmocka_unit_test(array_remove),
        cmocka_unit_test(numbers_as_sent),
        cmocka_unit_test(a_value_takes_48_bytes),
        cmocka_unit_test(spare_room_for_a_few_objects_only),
        cmocka_unit_test(key_set_finds_every_key),
        cmocka_unit_test(big_objects_are_indexed),
        cmocka_unit_test(index_kept_after_deletions),
        cmocka_unit_test(copy_of_an_emptied_object_is_its_own),
        cmocka_unit_test(string_cstr),
        cmocka_unit_test(array_set),
        cmocka_unit_test(array_clear),
        cmocka_unit_test(equal_as_json_equal),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/*
 * Tests of config/path.c: parsing field paths (and the column in each error), and walking
 * jansson values along them: wildcards, nested arrays, missing members, replacing values,
 * stopping early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/path.h"

static void expect_parse_error(const char *text, const char *expected)
{
    sluice_path_t p;
    char err[200] = "";
    assert_int_equal(sluice_path_parse(text, &p, err, sizeof(err)), -1);
    assert_string_equal(err, expected);
    sluice_path_dispose(&p); /* a failed parse leaves an empty path */
}

static void test_parse_segments(void **state)
{
    (void)state;
    sluice_path_t p;
    char err[200];
    assert_int_equal(sluice_path_parse("properties.items[*][*].sku", &p, err, sizeof(err)), 0);
    assert_string_equal(p.text, "properties.items[*][*].sku");
    assert_int_equal(p.count, 5);
    assert_int_equal(p.segs[0].kind, SLUICE_PATH_KEY);
    assert_string_equal(p.segs[0].key, "properties");
    assert_string_equal(p.segs[1].key, "items");
    assert_int_equal(p.segs[2].kind, SLUICE_PATH_ALL);
    assert_null(p.segs[2].key);
    assert_int_equal(p.segs[3].kind, SLUICE_PATH_ALL);
    assert_string_equal(p.segs[4].key, "sku");
    sluice_path_dispose(&p);

    assert_int_equal(sluice_path_parse("traits.first name", &p, err, sizeof(err)), 0);
    assert_string_equal(p.segs[1].key, "first name");
    sluice_path_dispose(&p);
}

static void test_parse_errors_name_the_column(void **state)
{
    (void)state;
    expect_parse_error("", "empty path");
    expect_parse_error("traits..email", "column 8: empty key");
    expect_parse_error(".a", "column 1: empty key");
    expect_parse_error("a.", "column 2: path ends with '.'");
    expect_parse_error("[*].a", "column 1: a path starts with a key, not '['");
    expect_parse_error("items[0].sku", "column 6: only [*] (every element) is supported inside brackets");
    expect_parse_error("a[*]b", "column 5: expected '.' or '[*]' after 'a[*]'");
    expect_parse_error("a]", "column 2: expected '.' or '[*]' after 'a'");
    expect_parse_error("a.[*]", "column 3: expected a key after '.'");
}

typedef struct seen {
    char names[16][64];
    char concrete[16][64];
    size_t count;
} seen_t;

static int record(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    seen_t *s = ud;
    assert_true(s->count < 16);
    snprintf(s->concrete[s->count], 64, "%s", concrete);
    if (key != NULL) {
        assert_true(json_is_object(parent));
        assert_ptr_equal(json_object_get(parent, key), value);
        snprintf(s->names[s->count++], 64, "%s=%s", key, json_string_value(value));
    } else {
        assert_true(json_is_array(parent));
        assert_ptr_equal(json_array_get(parent, index), value);
        snprintf(s->names[s->count++], 64, "[%zu]=%s", index, json_string_value(value));
    }
    return 0;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void visit(const char *path, json_t *root, seen_t *s)
{
    sluice_path_t p;
    char err[200];
    assert_int_equal(sluice_path_parse(path, &p, err, sizeof(err)), 0);
    memset(s, 0, sizeof(*s));
    assert_int_equal(sluice_path_visit(root, &p, record, s), 0);
    sluice_path_dispose(&p);
}

static void test_visit_wildcards_and_nesting(void **state)
{
    (void)state;
    json_t *root = load("{\"properties\":{\"items\":[{\"sku\":\"a\"},{\"nosku\":1},{\"sku\":\"b\"},5],"
                        "\"grid\":[[\"x\",\"y\"],[\"z\"],{\"not\":\"array\"}],\"tags\":[\"t1\",\"t2\"]}}");
    seen_t s;
    visit("properties.items[*].sku", root, &s);
    assert_int_equal(s.count, 2);
    assert_string_equal(s.names[0], "sku=a");
    assert_string_equal(s.names[1], "sku=b");
    assert_string_equal(s.concrete[0], "properties.items[0].sku");
    assert_string_equal(s.concrete[1], "properties.items[2].sku");

    visit("properties.grid[*][*]", root, &s);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.names[0], "[0]=x");
    assert_string_equal(s.names[1], "[1]=y");
    assert_string_equal(s.names[2], "[0]=z");
    assert_string_equal(s.concrete[1], "properties.grid[0][1]");
    assert_string_equal(s.concrete[2], "properties.grid[1][0]");

    visit("properties.tags[*]", root, &s);
    assert_int_equal(s.count, 2);
    assert_string_equal(s.names[1], "[1]=t2");
    json_decref(root);
}

static void test_visit_missing_members_and_type_mismatch(void **state)
{
    (void)state;
    json_t *root = load("{\"traits\":{\"email\":\"a@b.test\"},\"properties\":\"scalar\",\"list\":{\"k\":1}}");
    seen_t s;
    visit("traits.phone", root, &s);
    assert_int_equal(s.count, 0);
    visit("properties.email", root, &s);
    assert_int_equal(s.count, 0);
    visit("list[*]", root, &s);
    assert_int_equal(s.count, 0);
    visit("nothing.at.all[*].x", root, &s);
    assert_int_equal(s.count, 0);
    visit("traits.email", root, &s);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.names[0], "email=a@b.test");
    json_decref(root);
}

static int replace_or_delete(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete,
                             void *ud);

/* A rule names a field the way the operator spells it; clients spell it their way. Below the
 * event's own fields every spelling is reached, and the callback sees the member's own key (so
 * it can replace or delete that one); the event's own fields stay exact. */
static void test_visit_any_case_below_the_first_key(void **state)
{
    (void)state;
    json_t *root = load("{\"traits\":{\"Email\":\"a@b.test\",\"email\":\"c@d.test\",\"EMAIL\":\"e@f.test\","
                        "\"emails\":\"no\"},\"Traits\":{\"email\":\"x@y.test\"},"
                        "\"properties\":{\"Billing\":{\"Phone\":\"1\"}}}");
    seen_t s;
    visit("traits.email", root, &s);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.names[0], "Email=a@b.test");
    assert_string_equal(s.names[1], "email=c@d.test");
    assert_string_equal(s.names[2], "EMAIL=e@f.test");
    assert_string_equal(s.concrete[0], "traits.Email");
    assert_string_equal(s.concrete[2], "traits.EMAIL");
    visit("properties.billing.phone", root, &s);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.concrete[0], "properties.Billing.Phone");
    /* Deleting every spelling in one walk leaves none. */
    sluice_path_t p;
    char err[200];
    assert_int_equal(sluice_path_parse("traits.email", &p, err, sizeof(err)), 0);
    assert_int_equal(sluice_path_visit(root, &p, replace_or_delete, NULL), 0);
    sluice_path_dispose(&p);
    char *out = json_dumps(json_object_get(root, "traits"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(out, "{\"emails\":\"no\"}");
    free(out);
    json_decref(root);
}

/* The members path reaches in root, by their own spelling and value: exactly the names given. */
static void expect_reached(json_t *root, const char *path, const char *const *names, size_t count)
{
    seen_t s;
    visit(path, root, &s);
    assert_int_equal(s.count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(s.names[i], names[i]);
}

/* Case is folded for ASCII letters only, as strncasecmp in the C locale did: bytes one bit 0x20
 * apart that are not letters ('@' and '`', '_' and DEL, a space and NUL) stay different, and so
 * do UTF-8's 'É' and 'é' (their last bytes 0x89 and 0xA9). */
static void test_visit_folds_only_ascii_letters(void **state)
{
    (void)state;
    json_t *root = load("{\"traits\":{\"a`b\":\"1\",\"A@B\":\"2\",\"a@b\":\"3\",\"x\\u007fy\":\"4\",\"X_Y\":\"5\","
                        "\"caf\\u00c9\":\"6\",\"CAF\\u00e9\":\"7\",\"Zz\":\"8\"}}");
    assert_int_equal(json_object_setn_new(json_object_get(root, "traits"), "e\0", 2, json_string("9")), 0);
    expect_reached(root, "traits.a@b", (const char *const[]){"A@B=2", "a@b=3"}, 2);
    expect_reached(root, "traits.x_y", (const char *const[]){"X_Y=5"}, 1);
    expect_reached(root, "traits.caf\xc3\xa9", (const char *const[]){"CAF\xc3\xa9=7"}, 1);
    expect_reached(root, "traits.e ", NULL, 0);
    expect_reached(root, "traits.zZ", (const char *const[]){"Zz=8"}, 1);
    json_decref(root);
}

static int replace_or_delete(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete,
                             void *ud)
{
    (void)value;
    (void)concrete;
    (void)ud;
    if (key != NULL)
        return json_object_del(parent, key) == 0 ? 0 : 99;
    return json_array_set_new(parent, index, json_string("***")) == 0 ? 0 : 99;
}

static void test_visit_callback_may_replace_and_delete(void **state)
{
    (void)state;
    json_t *root = load("{\"a\":[{\"pw\":\"x\",\"keep\":1},{\"pw\":\"y\"}],\"cards\":[\"1\",\"2\"]}");
    sluice_path_t p, q;
    char err[200];
    assert_int_equal(sluice_path_parse("a[*].pw", &p, err, sizeof(err)), 0);
    assert_int_equal(sluice_path_parse("cards[*]", &q, err, sizeof(err)), 0);
    assert_int_equal(sluice_path_visit(root, &p, replace_or_delete, NULL), 0);
    assert_int_equal(sluice_path_visit(root, &q, replace_or_delete, NULL), 0);
    char *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(out, "{\"a\":[{\"keep\":1},{}],\"cards\":[\"***\",\"***\"]}");
    free(out);
    sluice_path_dispose(&p);
    sluice_path_dispose(&q);
    json_decref(root);
}

static int stop_at_second(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    (void)concrete;
    (void)parent;
    (void)key;
    (void)value;
    int *calls = ud;
    (*calls)++;
    return index == 1 ? 7 : 0;
}

static void test_visit_stops_on_nonzero(void **state)
{
    (void)state;
    json_t *root = load("{\"v\":[1,2,3,4]}");
    sluice_path_t p;
    char err[200];
    assert_int_equal(sluice_path_parse("v[*]", &p, err, sizeof(err)), 0);
    int calls = 0;
    assert_int_equal(sluice_path_visit(root, &p, stop_at_second, &calls), 7);
    assert_int_equal(calls, 2);
    sluice_path_dispose(&p);
    json_decref(root);
}

static int keep_concrete(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    (void)parent, (void)key, (void)index, (void)value;
    snprintf(ud, SLUICE_PATH_CONCRETE_MAX + 1, "%s", concrete);
    return 0;
}

/* A concrete path is cut at SLUICE_PATH_CONCRETE_MAX - 1 bytes, also when it is spelt as the rule
 * and no index was taken (then it is the rule's text, cut the same way). */
static void test_visit_cuts_a_long_concrete_path(void **state)
{
    (void)state;
    char path[320], doc[400], got[SLUICE_PATH_CONCRETE_MAX + 1];
    memcpy(path, "properties.", 11);
    memset(path + 11, 'k', 300);
    path[311] = '\0';
    assert_true((size_t)snprintf(doc, sizeof(doc), "{\"properties\":{\"%s\":\"v\"}}", path + 11) < sizeof(doc));
    json_t *root = load(doc);
    sluice_path_t p;
    char err[200];
    assert_int_equal(sluice_path_parse(path, &p, err, sizeof(err)), 0);
    memset(got, 0, sizeof(got));
    assert_int_equal(sluice_path_visit(root, &p, keep_concrete, got), 0);
    assert_int_equal(strlen(got), SLUICE_PATH_CONCRETE_MAX - 1);
    assert_memory_equal(got, path, SLUICE_PATH_CONCRETE_MAX - 1);
    /* A shorter one, spelt as the rule: the whole text. */
    sluice_path_dispose(&p);
    path[200] = '\0';
    assert_int_equal(sluice_path_parse(path, &p, err, sizeof(err)), 0);
    json_decref(root);
    assert_true((size_t)snprintf(doc, sizeof(doc), "{\"properties\":{\"%s\":\"v\"}}", path + 11) < sizeof(doc));
    root = load(doc);
    memset(got, 0, sizeof(got));
    assert_int_equal(sluice_path_visit(root, &p, keep_concrete, got), 0);
    assert_string_equal(got, path);
    sluice_path_dispose(&p);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_segments),
        cmocka_unit_test(test_parse_errors_name_the_column),
        cmocka_unit_test(test_visit_wildcards_and_nesting),
        cmocka_unit_test(test_visit_missing_members_and_type_mismatch),
        cmocka_unit_test(test_visit_any_case_below_the_first_key),
        cmocka_unit_test(test_visit_folds_only_ascii_letters),
        cmocka_unit_test(test_visit_callback_may_replace_and_delete),
        cmocka_unit_test(test_visit_stops_on_nonzero),
        cmocka_unit_test(test_visit_cuts_a_long_concrete_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for common/utf8.c: what jansson takes as UTF-8, cutting at a character's start, and
 * repairing bytes that are not UTF-8 with U+FFFD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

static void test_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"", "ascii", "Z\xc3\xbcrich", "\xe5\x86\xac", "\xf0\x9f\x98\x80", NULL};
    for (size_t i = 0; good[i] != NULL; i++)
        assert_true(sluice_utf8_valid(good[i], strlen(good[i])));
    /* stray continuation, Latin-1, cut character, overlong '/', surrogate, past U+10FFFF */
    static const char *const bad[] = {"\x80",         "Caf\xe9",          "\xe5\x86", "\xc0\xaf",
                                      "\xed\xa0\x80", "\xf4\x90\x80\x80", NULL};
    for (size_t i = 0; bad[i] != NULL; i++)
        assert_false(sluice_utf8_valid(bad[i], strlen(bad[i])));
}

static void test_cut(void **state)
{
    (void)state;
    const char *s = "ab\xe5\x86\xac\xe5\xad\xa3"; /* ab + two 3-byte characters */
    assert_int_equal(sluice_utf8_cut(s, 8, 100), 8);
    assert_int_equal(sluice_utf8_cut(s, 8, 8), 8);
    assert_int_equal(sluice_utf8_cut(s, 8, 7), 5);
    assert_int_equal(sluice_utf8_cut(s, 8, 6), 5);
    assert_int_equal(sluice_utf8_cut(s, 8, 5), 5);
    assert_int_equal(sluice_utf8_cut(s, 8, 4), 2);
    assert_int_equal(sluice_utf8_cut(s, 8, 2), 2);
    assert_int_equal(sluice_utf8_cut(s, 8, 0), 0);
}

/* A cut by characters never splits one: "aé€😀" is 1, 2, 3 and 4 bytes a character. */
static void test_prefix_chars(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    size_t n = strlen(s);
    static const size_t want[] = {0, 1, 3, 6, 10, 10};
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
        assert_int_equal(sluice_utf8_prefix_chars(s, n, k), want[k]);
    assert_int_equal(sluice_utf8_prefix_chars("", 0, 3), 0);
}

static void test_repair(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(sluice_utf8_repair("Caf\xe9!", 5, out), 7);
    assert_string_equal(out, "Caf\xef\xbf\xbd!");
    assert_int_equal(sluice_utf8_repair("Z\xc3\xbc", 3, out), 3);
    assert_string_equal(out, "Z\xc3\xbc");
    sluice_utf8_repair("\xe5\x86", 2, out);
    assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd");
    assert_true(sluice_utf8_valid(out, strlen(out)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_prefix_chars),
        cmocka_unit_test(test_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for common/strdist.c: the optimal-string-alignment distance, its cap, and the closest
 * candidate used by every "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/strdist.h"

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(sluice_strdist("partial", "partial", 5), 0);
    assert_int_equal(sluice_strdist("", "", 5), 0);
    assert_int_equal(sluice_strdist("", "abc", 5), 3);
    assert_int_equal(sluice_strdist("partail", "partial", 5), 1);  /* one transposition */
    assert_int_equal(sluice_strdist("parial", "partial", 5), 1);   /* one deletion */
    assert_int_equal(sluice_strdist("partiall", "partial", 5), 1); /* one insertion */
    assert_int_equal(sluice_strdist("hmak", "hmac", 5), 1);        /* one substitution */
    assert_int_equal(sluice_strdist("ip-trunc", "ip_truncate", 5), 4);
    assert_int_equal(sluice_strdist("Full", "full", 5), 1); /* bytes: case counts */
}

static void test_cap(void **state)
{
    (void)state;
    /* Beyond the cap: cap + 1, whether the lengths alone tell or the table does. */
    assert_int_equal(sluice_strdist("a", "abcdef", 2), 3);
    assert_int_equal(sluice_strdist("abcd", "wxyz", 2), 3);
    assert_int_equal(sluice_strdist("abcd", "abxy", 2), 2);
    /* Longer than SLUICE_STRDIST_MAX_LEN: never close, even to itself. */
    char long_a[SLUICE_STRDIST_MAX_LEN + 2];
    memset(long_a, 'a', sizeof(long_a) - 1);
    long_a[sizeof(long_a) - 1] = '\0';
    assert_int_equal(sluice_strdist(long_a, long_a, 2), 3);
    long_a[SLUICE_STRDIST_MAX_LEN] = '\0';
    assert_int_equal(sluice_strdist(long_a, long_a, 2), 0);
}

static void test_closest(void **state)
{
    (void)state;
    static const char *const names[] = {"drop", "encrypt", "fpe", "full", "hmac", "null", "partial", NULL};
    assert_string_equal(sluice_strdist_closest("partail", names, 2), "partial");
    assert_string_equal(sluice_strdist_closest("encrpyt", names, 2), "encrypt");
    assert_string_equal(sluice_strdist_closest("ful", names, 2), "full"); /* "full" before "null" */
    assert_null(sluice_strdist_closest("tokenize", names, 2));
    /* A distance must be less than the word's length: "x" suggests nothing. */
    assert_null(sluice_strdist_closest("x", names, 2));
    assert_null(sluice_strdist_closest("partial", NULL, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_closest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

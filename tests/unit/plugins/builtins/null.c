/* Tests for plugins/null and plugins/drop (through the real loader): every JSON type becomes
 * JSON null / is removed; neither takes parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bt.h"

static const char *const values[] = {"\"jane@example.com\"", "\"\"", "42", "-3.5", "false", "{\"a\":1}", "[1,2]"};

static void test_null(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "null", NULL, NULL), 0);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_string_equal(bt_mask(&b, values[i]), "null");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "null", "{with: x}", NULL), -1);
    assert_non_null(strstr(b.errors, "with"));
    bt_close(&b);
}

static void test_drop(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "drop", NULL, NULL), 0);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_string_equal(bt_mask(&b, values[i]), "=remove");
    assert_string_equal(bt_mask(&b, "null"), "=remove");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "drop", "{keep: true}", NULL), -1);
    bt_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

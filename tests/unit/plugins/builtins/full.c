/* Tests for plugins/full (through the real loader): the default and a configured replacement
 * for every JSON type, null kept, the `with` length limit, and parameter checking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bt.h"

static void test_default_every_type(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "full", NULL, NULL), 0);
    assert_string_equal(bt_mask(&b, "\"jane@example.com\""), "\"***\"");
    assert_string_equal(bt_mask(&b, "\"\""), "\"***\"");
    assert_string_equal(bt_mask(&b, "4111111111111111"), "\"***\"");
    assert_string_equal(bt_mask(&b, "true"), "\"***\"");
    assert_string_equal(bt_mask(&b, "{\"a\":[1,2]}"), "\"***\"");
    assert_string_equal(bt_mask(&b, "[\"x\"]"), "\"***\"");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    /* Idempotent: masking the output again gives the output. */
    assert_string_equal(bt_mask(&b, "\"***\""), "\"***\"");
    bt_close(&b);
}

static void test_with(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "full", "{with: \"[redacted]\"}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Jane Doe\""), "\"[redacted]\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "full", "{with: \"\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\"}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Jane\""), "\"\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "full", "{with: ''}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Jane\""), "\"\"");
    bt_close(&b);
    /* A number given as `with` is taken as text. */
    assert_int_equal(bt_open(&b, "full", "{with: 0}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Jane\""), "\"0\"");
    bt_close(&b);
}

static void test_config_errors(void **state)
{
    (void)state;
    bt_t b;
    char *yaml = malloc(5000);
    assert_non_null(yaml);
    memcpy(yaml, "{with: \"", 8);
    memset(yaml + 8, 'x', 4097);
    memcpy(yaml + 8 + 4097, "\"}", 3);
    assert_int_equal(bt_open(&b, "full", yaml, NULL), -1);
    assert_non_null(strstr(b.errors, "'with' is 4097 bytes, more than the 4096-byte output cap"));
    bt_close(&b);
    free(yaml);
    assert_int_equal(bt_open(&b, "full", "{wiht: x}", NULL), -1);
    assert_non_null(strstr(b.errors, "rule.yaml:1:2:"));
    assert_non_null(strstr(b.errors, "wiht"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "full", "{with: [a, b]}", NULL), -1);
    bt_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_every_type),
        cmocka_unit_test(test_with),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for plugins/ip_truncate (through the real loader): IPv4 /24 and IPv6 /48 by default,
 * configured prefixes, IPv4-mapped addresses, non-addresses and non-strings refused (fail
 * closed), prefix range errors, idempotence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bt.h"

static void test_defaults(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "ip_truncate", NULL, NULL), 0);
    assert_string_equal(bt_mask(&b, "\"203.0.113.77\""), "\"203.0.113.0\"");
    assert_string_equal(bt_mask(&b, "\"2001:db8:85a3:8d3:1319:8a2e:370:7348\""), "\"2001:db8:85a3::\"");
    assert_string_equal(bt_mask(&b, "\"2001:DB8:85A3:08D3::1\""), "\"2001:db8:85a3::\"");
    assert_string_equal(bt_mask(&b, "\"::ffff:203.0.113.77\""), "\"::ffff:203.0.113.0\"");
    /* Idempotent. */
    assert_string_equal(bt_mask(&b, "\"203.0.113.0\""), "\"203.0.113.0\"");
    assert_string_equal(bt_mask(&b, "\"2001:db8:85a3::\""), "\"2001:db8:85a3::\"");
    bt_close(&b);
}

static void test_prefixes(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "ip_truncate", "{ipv4_prefix: 16, ipv6_prefix: 64}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"203.0.113.77\""), "\"203.0.0.0\"");
    assert_string_equal(bt_mask(&b, "\"2001:db8:85a3:8d3:1319:8a2e:370:7348\""), "\"2001:db8:85a3:8d3::\"");
    assert_string_equal(bt_mask(&b, "\"::ffff:203.0.113.77\""), "\"::ffff:203.0.0.0\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "ip_truncate", "{ipv4_prefix: 0, ipv6_prefix: 0}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"203.0.113.77\""), "\"0.0.0.0\"");
    assert_string_equal(bt_mask(&b, "\"2001:db8::1\""), "\"::\"");
    bt_close(&b);
}

static void test_fail_closed(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "ip_truncate", NULL, NULL), 0);
    static const char *const bad[] = {"\"\"",
                                      "\"localhost\"",
                                      "\"203.0.113.77:443\"",
                                      "\"[2001:db8::1]\"",
                                      "\"fe80::1%eth0\"",
                                      "\"203.0.113.77/24\"",
                                      "\" 203.0.113.77\"",
                                      "\"203.0.113.77\\u0000x\"",
                                      "2030113077",
                                      "true",
                                      "{\"ip\":\"1.2.3.4\"}",
                                      "[\"1.2.3.4\"]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *r = bt_mask(&b, bad[i]);
        if (strcmp(r, "!invalid value") != 0)
            fail_msg("%s gave %s", bad[i], r);
    }
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    bt_close(&b);
}

static void test_config_errors(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "ip_truncate", "{ipv4_prefix: 33}", NULL), -1);
    assert_non_null(strstr(b.errors, "ipv4_prefix must be between 0 and 32 (got 33)"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "ip_truncate", "{ipv6_prefix: -1}", NULL), -1);
    assert_non_null(strstr(b.errors, "ipv6_prefix must be between 0 and 128 (got -1)"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "ip_truncate", "{ipv6_prefix: \"48\"}", NULL), -1);
    bt_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

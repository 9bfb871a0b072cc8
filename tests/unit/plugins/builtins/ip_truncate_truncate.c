/* Tests for plugins/ip_truncate/truncate.c: IPv4 and IPv6 prefixes (defaults and edges),
 * canonical output, IPv4-mapped addresses, and everything that is not an address refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/ip_truncate/truncate.h"

static const char *trunc_(const char *in, unsigned v4, unsigned v6)
{
    static char out[SLUICE_IP_TRUNCATE_OUT_MAX];
    size_t n = sluice_ip_truncate(in, strlen(in), v4, v6, out, sizeof(out));
    if (n == 0)
        return NULL;
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_ipv4(void **state)
{
    (void)state;
    assert_string_equal(trunc_("203.0.113.77", 24, 48), "203.0.113.0");
    assert_string_equal(trunc_("203.0.113.77", 16, 48), "203.0.0.0");
    assert_string_equal(trunc_("203.0.113.77", 20, 48), "203.0.112.0"); /* 113 = 0111 0001 -> 0111 0000 */
    assert_string_equal(trunc_("203.0.113.77", 32, 48), "203.0.113.77");
    assert_string_equal(trunc_("203.0.113.77", 0, 48), "0.0.0.0");
    assert_string_equal(trunc_("255.255.255.255", 25, 48), "255.255.255.128");
}

static void test_ipv6(void **state)
{
    (void)state;
    assert_string_equal(trunc_("2001:db8:85a3:8d3:1319:8a2e:370:7348", 24, 48), "2001:db8:85a3::");
    /* Canonical text out of any accepted spelling (RFC 5952: lowercase, zeros compressed). */
    assert_string_equal(trunc_("2001:0DB8:85A3:08D3:1319:8A2E:0370:7348", 24, 48), "2001:db8:85a3::");
    assert_string_equal(trunc_("2001:db8:85a3:8d3:1319:8a2e:370:7348", 24, 64), "2001:db8:85a3:8d3::");
    assert_string_equal(trunc_("2001:db8:85a3:8d3:1319:8a2e:370:7348", 24, 56), "2001:db8:85a3:800::");
    assert_string_equal(trunc_("2001:db8::1", 24, 128), "2001:db8::1");
    assert_string_equal(trunc_("::1", 24, 48), "::");
    assert_string_equal(trunc_("fe80::1:2:3:4", 24, 10), "fe80::");
}

static void test_ipv4_mapped(void **state)
{
    (void)state;
    assert_string_equal(trunc_("::ffff:203.0.113.77", 24, 48), "::ffff:203.0.113.0");
    assert_string_equal(trunc_("::FFFF:cb00:714d", 16, 48), "::ffff:203.0.0.0");
    /* The IPv6 prefix does not apply to mapped addresses (a /48 would zero all of it). */
    assert_string_equal(trunc_("::ffff:203.0.113.77", 24, 0), "::ffff:203.0.113.0");
}

static void test_not_addresses(void **state)
{
    (void)state;
    static const char *bad[] = {"",
                                "jane@example.com",
                                "203.0.113",
                                "203.0.113.256",
                                "203.0.113.77 ",
                                " 203.0.113.77",
                                "203.0.113.77/24",
                                "[2001:db8::1]",
                                "2001:db8::1%eth0",
                                "203.0.113.77:8080",
                                "0x7f.0.0.1",
                                "2001:db8:::1",
                                "1:2:3:4:5:6:7:8:9",
                                "::ffff:203.0.113.77:1",
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (trunc_(bad[i], 24, 48) != NULL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    char out[SLUICE_IP_TRUNCATE_OUT_MAX];
    /* A NUL inside: "1.2.3.4" followed by more bytes is not an address. */
    assert_int_equal(sluice_ip_truncate("1.2.3.4\0x", 9, 24, 48, out, sizeof(out)), 0);
    /* Prefixes out of range, and a cap too small, are refused. */
    assert_int_equal(sluice_ip_truncate("1.2.3.4", 7, 33, 48, out, sizeof(out)), 0);
    assert_int_equal(sluice_ip_truncate("::1", 3, 24, 129, out, sizeof(out)), 0);
    assert_int_equal(sluice_ip_truncate("1.2.3.4", 7, 24, 48, out, 16), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_ipv4_mapped),
        cmocka_unit_test(test_not_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

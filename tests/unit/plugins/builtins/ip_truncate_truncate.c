/* Tests for plugins/ip_truncate/truncate.c: IPv4 and IPv6 prefixes (defaults and edges),
 * canonical output, IPv4-mapped addresses, everything that is not an address refused, and the
 * dotted-quad fast path against inet_pton/inet_ntop on near-addresses of every shape. */
#define _POSIX_C_SOURCE 200809L /* inet_pton / inet_ntop */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* A 6to4 address (RFC 3056, 2002::/16) carries the site's public IPv4 address in its bits 16..47,
 * so a /48 kept all of it: 2002:cb00:714d:: is 203.0.113.77 whole, where the same client over
 * IPv4 gives 203.0.113.0. The embedded address keeps no more than the IPv4 prefix. */
static void test_6to4_embedded_ipv4(void **state)
{
    (void)state;
    assert_string_equal(trunc_("2002:cb00:714d::1", 24, 48), "2002:cb00:7100::");
    assert_string_equal(trunc_("2002:cb00:714d:1234:5678:9abc:def0:1", 24, 48), "2002:cb00:7100::");
    assert_string_equal(trunc_("2002:cb00:714d::1", 16, 48), "2002:cb00::");
    /* A shorter IPv6 prefix still applies, and the result is a fixed point (idempotence). */
    assert_string_equal(trunc_("2002:cb00:714d::1", 24, 32), "2002:cb00::");
    assert_string_equal(trunc_("2002:cb00:7100::", 24, 48), "2002:cb00:7100::");
    /* The IPv4 prefix at 32 lets the whole address through, as it does for IPv4 itself; what
     * follows it (the site's subnet) is never kept: a network address is a prefix. */
    assert_string_equal(trunc_("2002:cb00:714d:1::1", 32, 64), "2002:cb00:714d::");
    /* Only 2002::/16 embeds an address there. */
    assert_string_equal(trunc_("2003:cb00:714d::1", 24, 48), "2003:cb00:714d::");
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

/* What inet_pton + clearing the host bits + inet_ntop give for IPv4 text, or NULL. */
static const char *reference_v4(const char *in, unsigned bits, char *out)
{
    uint8_t a[4];
    if (inet_pton(AF_INET, in, a) != 1)
        return NULL;
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    v &= bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    a[0] = (uint8_t)(v >> 24), a[1] = (uint8_t)(v >> 16), a[2] = (uint8_t)(v >> 8), a[3] = (uint8_t)v;
    return inet_ntop(AF_INET, a, out, SLUICE_IP_TRUNCATE_OUT_MAX);
}

static void test_quads_like_inet_pton(void **state)
{
    (void)state;
    /* Groups of every length and value near the edges, leading zeros, missing and extra groups,
     * stray characters: the fast path must take exactly what inet_pton takes, print the same. */
    static const char *const groups[] = {"0",    "00",  "01",  "1",   "9",   "10",  "09",  "99",  "100",
                                         "199",  "200", "249", "250", "255", "256", "300", "999", "0255",
                                         "1000", "",    "a",   "1a",  " 1",  "+1",  "-1",  "1 "};
    const size_t ng = sizeof(groups) / sizeof(groups[0]);
    static const unsigned prefixes[] = {0, 7, 8, 20, 24, 31, 32};
    char in[64], want[SLUICE_IP_TRUNCATE_OUT_MAX];
    size_t checked = 0;
    for (size_t a = 0; a < ng; a++)
        for (size_t b = 0; b < ng; b += 3)
            for (size_t c = 0; c < ng; c += 5)
                for (size_t d = 0; d < ng; d++)
                    for (int shape = 0; shape < 4; shape++) {
                        if (shape == 0)
                            snprintf(in, sizeof(in), "%s.%s.%s.%s", groups[a], groups[b], groups[c], groups[d]);
                        else if (shape == 1)
                            snprintf(in, sizeof(in), "%s.%s.%s", groups[a], groups[c], groups[d]);
                        else if (shape == 2)
                            snprintf(in, sizeof(in), "%s.%s.%s.%s.%s", groups[a], groups[b], groups[c], groups[d],
                                     groups[a]);
                        else
                            snprintf(in, sizeof(in), "%s.%s..%s", groups[a], groups[b], groups[d]);
                        unsigned bits = prefixes[(a + d + (size_t)shape) % 7];
                        const char *ref = reference_v4(in, bits, want);
                        const char *got = trunc_(in, bits, 48);
                        if (ref == NULL && got != NULL)
                            fail_msg("accepted \"%s\" as %s; inet_pton refuses it", in, got);
                        if (ref != NULL && (got == NULL || strcmp(got, ref) != 0))
                            fail_msg("\"%s\" /%u gave %s; inet_ntop prints %s", in, bits, got ? got : "(refused)", ref);
                        checked += ref != NULL;
                    }
    assert_true(checked > 1000); /* the grid does hold many real addresses */
}

/* Every value of every group printed as inet_ntop prints it (the gateway prints its clients'
 * addresses with sluice_ip_quad_write too). */
static void test_quad_write_every_octet(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 256; v++) {
        const uint8_t a[4] = {(uint8_t)v, (uint8_t)(255 - v), (uint8_t)(v * 7), (uint8_t)(v / 3)};
        char got[16], want[SLUICE_IP_TRUNCATE_OUT_MAX];
        size_t n = sluice_ip_quad_write(a, got);
        assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_ipv4_mapped),
        cmocka_unit_test(test_6to4_embedded_ipv4),
        cmocka_unit_test(test_not_addresses),
        cmocka_unit_test(test_quads_like_inet_pton),
        cmocka_unit_test(test_quad_write_every_octet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

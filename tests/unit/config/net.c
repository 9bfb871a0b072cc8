/*
 * Tests of config/net.c: listen addresses, CIDR parsing and matching (IPv4, IPv6, IPv4-mapped
 * IPv6 peers), Redis URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config/config.h"

static void test_listen_forms(void **state)
{
    (void)state;
    sluice_listen_t l;
    char err[160];
    assert_int_equal(sluice_listen_parse("127.0.0.1:8443", &l, err, sizeof(err)), 0);
    assert_true(l.enabled);
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, 8443);
    assert_int_equal(sluice_listen_parse("[::1]:9464", &l, err, sizeof(err)), 0);
    assert_string_equal(l.host, "::1");
    assert_int_equal(l.port, 9464);
    assert_int_equal(sluice_listen_parse("gateway.internal:80", &l, err, sizeof(err)), 0);
    assert_string_equal(l.host, "gateway.internal");
    assert_int_equal(sluice_listen_parse("", &l, err, sizeof(err)), 0);
    assert_false(l.enabled);
}

static void expect_listen_error(const char *s, const char *expected)
{
    sluice_listen_t l;
    char err[160] = "";
    assert_int_equal(sluice_listen_parse(s, &l, err, sizeof(err)), -1);
    assert_string_equal(err, expected);
}

static void test_listen_errors(void **state)
{
    (void)state;
    expect_listen_error("8443", "expected host:port, e.g. 127.0.0.1:8443");
    expect_listen_error("::1:8443", "an IPv6 address needs brackets, e.g. [::1]:8443");
    expect_listen_error(":8443", "missing host (use 0.0.0.0 or [::] for every interface)");
    expect_listen_error("127.0.0.1:70000", "port out of range (0..65535)");
    expect_listen_error("127.0.0.1:http", "port is not a number");
    expect_listen_error("[zz]:1", "'zz' is not an IPv6 address");
    expect_listen_error("[::1]8443", "expected ':port' after ']'");
    expect_listen_error("bad_host!:1", "'bad_host!' is not an IP address or host name");
}

static struct sockaddr_storage v4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
    return ss;
}

static int contains(const char *cidr, struct sockaddr_storage ss)
{
    sluice_cidr_t c;
    assert_int_equal(sluice_cidr_parse(cidr, &c), 0);
    return sluice_cidr_contains(&c, (const struct sockaddr *)&ss);
}

static void test_cidr_v4(void **state)
{
    (void)state;
    assert_true(contains("10.0.0.0/8", v4("10.200.3.4")));
    assert_false(contains("10.0.0.0/8", v4("11.0.0.1")));
    assert_true(contains("192.168.1.0/25", v4("192.168.1.127")));
    assert_false(contains("192.168.1.0/25", v4("192.168.1.128")));
    assert_true(contains("192.168.1.7", v4("192.168.1.7")));
    assert_false(contains("192.168.1.7", v4("192.168.1.8")));
    assert_true(contains("0.0.0.0/0", v4("8.8.8.8")));
    /* host bits are cleared: 10.1.2.3/8 is 10.0.0.0/8 */
    assert_true(contains("10.1.2.3/8", v4("10.9.9.9")));
    /* an IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d */
    assert_true(contains("10.0.0.0/8", v6("::ffff:10.1.2.3")));
    assert_false(contains("10.0.0.0/8", v6("::ffff:11.1.2.3")));
    assert_false(contains("10.0.0.0/8", v6("2001:db8::1")));
}

static void test_cidr_v6(void **state)
{
    (void)state;
    sluice_cidr_t c;
    assert_int_equal(sluice_cidr_parse("::1", &c), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.prefix_len, 128);
    assert_true(contains("::1", v6("::1")));
    assert_false(contains("::1", v6("::2")));
    assert_true(contains("2001:db8::/32", v6("2001:db8:ffff::1")));
    assert_false(contains("2001:db8::/32", v6("2001:db9::1")));
    assert_true(contains("fd00::/7", v6("fdab::1")));
    assert_false(contains("fd00::/7", v6("fe80::1")));
    assert_false(contains("::/0", v4("1.2.3.4"))); /* families differ */
}

static void test_cidr_parse_errors(void **state)
{
    (void)state;
    sluice_cidr_t c;
    assert_int_equal(sluice_cidr_parse("10.0.0.0/33", &c), -1);
    assert_int_equal(sluice_cidr_parse("::/129", &c), -1);
    assert_int_equal(sluice_cidr_parse("10.0.0.0/", &c), -1);
    assert_int_equal(sluice_cidr_parse("10.0.0.0/8x", &c), -1);
    assert_int_equal(sluice_cidr_parse("10.0.0/8", &c), -1);
    assert_int_equal(sluice_cidr_parse("localhost", &c), -1);
    assert_int_equal(sluice_cidr_parse("", &c), -1);
}

static void test_redis_url(void **state)
{
    (void)state;
    char host[256], err[160];
    uint16_t port;
    unsigned db;
    assert_int_equal(
        sluice_redis_url_parse("redis://127.0.0.1:6390/3", host, sizeof(host), &port, &db, err, sizeof(err)), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6390);
    assert_int_equal(db, 3);
    assert_int_equal(sluice_redis_url_parse("redis://cache.internal", host, sizeof(host), &port, &db, err, sizeof(err)),
                     0);
    assert_string_equal(host, "cache.internal");
    assert_int_equal(port, 6379);
    assert_int_equal(db, 0);
    assert_int_equal(sluice_redis_url_parse("redis://[::1]:7000/", host, sizeof(host), &port, &db, err, sizeof(err)),
                     0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);

    assert_int_equal(sluice_redis_url_parse("http://x:1", host, sizeof(host), &port, &db, err, sizeof(err)), -1);
    assert_string_equal(err, "expected redis://host:port[/db]");
    /* user:password@ is skipped here; sluice_redis_url_userinfo takes it apart. */
    assert_int_equal(sluice_redis_url_parse("redis://:pw@x:1", host, sizeof(host), &port, &db, err, sizeof(err)), 0);
    assert_string_equal(host, "x");
    assert_int_equal(
        sluice_redis_url_parse("redis://u:p%40ss@[::1]:7/2", host, sizeof(host), &port, &db, err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7);
    assert_int_equal(db, 2);
    /* A 64-hex-digit ACL password (what ACL GENPASS makes) and a managed Redis's host name: only
     * the host part is bounded. */
    const char *managed = "redis://sluice-gw-prod:"
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                          "@master.sluice-prod.abc123.use1.cache.amazonaws.com:6379/2";
    assert_int_equal(sluice_redis_url_parse(managed, host, sizeof(host), &port, &db, err, sizeof(err)), 0);
    assert_string_equal(host, "master.sluice-prod.abc123.use1.cache.amazonaws.com");
    assert_int_equal(port, 6379);
    assert_int_equal(db, 2);
    assert_int_equal(sluice_redis_url_parse("redis://x:1/db", host, sizeof(host), &port, &db, err, sizeof(err)), -1);
    assert_string_equal(err, "database after '/' must be a number");
    assert_int_equal(sluice_redis_url_parse("rediss://x:1", host, sizeof(host), &port, &db, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "stunnel"));
    assert_int_equal(sluice_redis_url_parse("redis://x:0", host, sizeof(host), &port, &db, err, sizeof(err)), -1);
    assert_string_equal(err, "port out of range (1..65535)");
}

static void test_redis_userinfo(void **state)
{
    (void)state;
    char *user, *pass, err[160];
    assert_int_equal(sluice_redis_url_userinfo("redis://h:1/0", &user, &pass, err, sizeof(err)), 0);
    assert_null(user);
    assert_null(pass);
    assert_int_equal(sluice_redis_url_userinfo("redis://sluice:s3cr%3At+x%40y@h:1/0", &user, &pass, err, sizeof(err)),
                     0);
    assert_string_equal(user, "sluice");
    assert_string_equal(pass, "s3cr:t+x@y"); /* %-escapes decoded; '+' is no space here */
    free(user);
    free(pass);
    assert_int_equal(sluice_redis_url_userinfo("redis://:only-pw@h", &user, &pass, err, sizeof(err)), 0);
    assert_null(user);
    assert_string_equal(pass, "only-pw");
    free(pass);
    assert_int_equal(sluice_redis_url_userinfo("redis://who@h", &user, &pass, err, sizeof(err)), 0);
    assert_string_equal(user, "who");
    assert_null(pass);
    free(user);
    assert_int_equal(sluice_redis_url_userinfo("redis://u:p%4@h", &user, &pass, err, sizeof(err)), -1);
    assert_string_equal(err, "bad %-escape in the user or password part");
    assert_null(user);
    assert_null(pass);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_forms),      cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_cidr_v4),           cmocka_unit_test(test_cidr_v6),
        cmocka_unit_test(test_cidr_parse_errors), cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_redis_userinfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

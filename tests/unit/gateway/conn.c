/* Tests for gateway/conn.c: the per-address connection counts behind
 * server.max_connections_per_ip, and whom they count as one client (IPv6 by /64). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "gateway/conn.h"

static void key_of(const char *ip, uint8_t key[16])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &v6->sin6_addr), 1);
        v6->sin6_family = AF_INET6;
    }
    sluice_conn_addr_key((struct sockaddr *)&ss, key);
}

static int take(sluice_conn_table_t *t, const char *ip, unsigned per_ip)
{
    uint8_t key[16];
    key_of(ip, key);
    return sluice_conn_table_acquire(t, key, per_ip);
}

static void give_back(sluice_conn_table_t *t, const char *ip)
{
    uint8_t key[16];
    key_of(ip, key);
    sluice_conn_table_release(t, key);
}

/* One IPv6 host has a /64 to pick source addresses from: a new address per connection must not
 * get it past max_connections_per_ip. */
static void test_ipv6_counted_by_64(void **state)
{
    (void)state;
    sluice_conn_table_t *t = sluice_conn_table_create(1000);
    assert_non_null(t);
    assert_int_equal(take(t, "2001:db8:1:2::1", 2), 0);
    assert_int_equal(take(t, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", 2), 0);
    assert_int_equal(take(t, "2001:db8:1:2::3", 2), -1);
    /* Another /64 is another client. */
    assert_int_equal(take(t, "2001:db8:1:3::1", 2), 0);
    /* A closed connection gives its place back, whichever address of the /64 it came from. */
    give_back(t, "2001:db8:1:2::1");
    assert_int_equal(take(t, "2001:db8:1:2::ffff", 2), 0);
    assert_int_equal(take(t, "2001:db8:1:2::4", 2), -1);
    sluice_conn_table_destroy(t);
}

/* IPv4 addresses are counted whole, also as IPv4-mapped IPv6 (a dual-stack listener's view of
 * them): one address's connections are one count however the listener sees it. */
static void test_ipv4_counted_whole(void **state)
{
    (void)state;
    sluice_conn_table_t *t = sluice_conn_table_create(1000);
    assert_non_null(t);
    assert_int_equal(take(t, "192.0.2.1", 1), 0);
    assert_int_equal(take(t, "192.0.2.2", 1), 0);
    assert_int_equal(take(t, "::ffff:192.0.2.1", 1), -1);
    assert_int_equal(take(t, "::ffff:192.0.2.3", 1), 0);
    give_back(t, "::ffff:192.0.2.1");
    assert_int_equal(take(t, "192.0.2.1", 1), 0);
    sluice_conn_table_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv6_counted_by_64),
        cmocka_unit_test(test_ipv4_counted_whole),
    };
    return cmocka_run_group_tests_name("gateway.conn", tests, NULL, NULL);
}

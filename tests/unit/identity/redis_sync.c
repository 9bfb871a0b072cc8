/* Tests for identity/redis_sync.c: what of Redis's error text may be shown. Redis 6+ quotes the
 * arguments of an unknown (renamed) command, which may be a key named by a person's id or AUTH's
 * password; the gateway's log, its set-up error and sluicectl forget show Redis's reason without
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/redis.h"
#include "identity/redis_sync.h"

static void shown(const char *reply, const char *want)
{
    size_t n = sluice_redis_sync_reason_len(reply, strlen(reply));
    if (n != strlen(want) || memcmp(reply, want, n) != 0)
        fail_msg("%s\n shows %.*s\n want  %s", reply, (int)n, reply, want);
}

static void test_reason_without_args(void **state)
{
    (void)state;
    shown("ERR unknown command 'AUTH', with args beginning with: 'hunter2-redis-password' ",
          "ERR unknown command 'AUTH'");
    shown("ERR unknown command `HMGET`, with args beginning with: `sluice:id:acme:jane@example.com`, `a`, ",
          "ERR unknown command `HMGET`");
    /* what quotes nothing is shown whole */
    shown("WRONGPASS invalid username-password pair or user is disabled.",
          "WRONGPASS invalid username-password pair or user is disabled.");
    shown("OOM command not allowed when used memory > 'maxmemory'.",
          "OOM command not allowed when used memory > 'maxmemory'.");
    shown("READONLY You can't write against a read only replica.",
          "READONLY You can't write against a read only replica.");
    shown("", "");
}

/* INFO memory as Redis 7 answers it: evicting only with a maxmemory and a policy other than
 * noeviction (maxmemory 0 never evicts, whatever the policy). */
static void test_info_evicts(void **state)
{
    (void)state;
    char policy[32];
    const char *lru = "# Memory\r\nused_memory:1054432\r\nmaxmemory:1073741824\r\nmaxmemory_human:1.00G\r\n"
                      "maxmemory_policy:volatile-lru\r\nallocator_frag_ratio:1.0\r\n";
    assert_int_equal(sluice_redis_info_evicts(lru, strlen(lru), policy, sizeof(policy)), 1);
    assert_string_equal(policy, "volatile-lru");
    const char *none = "# Memory\r\nmaxmemory:1073741824\r\nmaxmemory_policy:noeviction\r\n";
    assert_int_equal(sluice_redis_info_evicts(none, strlen(none), policy, sizeof(policy)), 0);
    assert_string_equal(policy, "noeviction");
    const char *unlimited = "# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\n";
    assert_int_equal(sluice_redis_info_evicts(unlimited, strlen(unlimited), policy, sizeof(policy)), 0);
    const char *last = "# Memory\r\nmaxmemory:100\r\nmaxmemory_policy:allkeys-lfu";
    assert_int_equal(sluice_redis_info_evicts(last, strlen(last), policy, sizeof(policy)), 1);
    assert_string_equal(policy, "allkeys-lfu");
    const char *other = "# Server\r\nredis_version:7.0.15\r\n";
    assert_int_equal(sluice_redis_info_evicts(other, strlen(other), policy, sizeof(policy)), -1);
}

/* send_command formats commands itself (identity/redis.c): byte for byte what hiredis's own
 * formatter writes, for the commands sluice sends (binary keys and values, empty arguments,
 * lengths of one to three digits), with and without lengths given; too big for the buffer: 0. */
static void same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
    char *want = NULL;
    int wn = redisFormatCommandArgv(&want, argc, argv, lens);
    assert_true(wn > 0);
    char out[512];
    size_t n = sluice_redis_format(argc, argv, lens, out, sizeof(out));
    if (n != (size_t)wn || memcmp(out, want, n) != 0)
        fail_msg("formatted %zu bytes: %.*s\nhiredis %d bytes: %s", n, (int)n, out, wn, want);
    free(want);
}

static void test_format_like_hiredis(void **state)
{
    (void)state;
    const char *ping[] = {"PING"};
    same_as_hiredis(1, ping, NULL);
    const char *hmget[] = {"HMGET", "sluice:id:acme:3f9a\x01\x02", "a", "u", "t", "e"};
    same_as_hiredis(6, hmget, NULL);
    char bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (char)(i * 7);
    const char *set[] = {"SET", "k\0ey", bin, "PX", "86400000", "NX", ""};
    size_t lens[] = {3, 4, sizeof(bin), 2, 8, 2, 0};
    same_as_hiredis(7, set, lens);
    const char *many[12] = {"HSET", "h", "1", "22", "333", "4444", "5", "6", "7", "8", "9", "10"};
    same_as_hiredis(12, many, NULL);
    /* exactly the room it needs is enough; a byte less is not */
    char *want = NULL;
    int wn = redisFormatCommandArgv(&want, 7, set, lens);
    char out[512];
    assert_int_equal(sluice_redis_format(7, set, lens, out, (size_t)wn), (size_t)wn);
    assert_int_equal(sluice_redis_format(7, set, lens, out, (size_t)wn - 1), 0);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_without_args),
        cmocka_unit_test(test_info_evicts),
        cmocka_unit_test(test_format_like_hiredis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for identity/redis_sync.c: what of Redis's error text may be shown. Redis 6+ quotes the
 * arguments of an unknown (renamed) command, which may be a key named by a person's id or AUTH's
 * password; the gateway's log, its set-up error and sluicectl forget show Redis's reason without
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_without_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for gateway/secrets.c: the root ring kept for tokens an older version sealed under it is
 * wiped once such tokens have expired, and the identity threads are then left no way to reach it,
 * whatever their clock says afterwards (a wall clock stepped back must not lead them to freed
 * memory). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/time.h"
#include "gateway/secrets.h"

static char org_id[] = "acme", shop[] = "shop.acme.test";
static char *domains[] = {shop};

static void root_ring_wiped_and_unreachable(void **state)
{
    (void)state;
    setenv("ENCRYPTION_KEY", "0909090909090909090909090909090909090909090909090909090909090909", 1);
    unsetenv("SLUICE_KEYRING");
    unsetenv("SLUICE_KEY_ID");
    sluice_org_t org;
    memset(&org, 0, sizeof(org));
    org.id = org_id;
    org.identity.xd_domains = domains;
    org.identity.xd_domain_count = 1;
    org.identity.xd_token_ttl_s = 1; /* the shortest window: (1 + 0 + 1) s */
    org.identity.xd_clock_skew_s = 0;
    sluice_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.orgs = &org;
    cfg.org_count = 1;
    sluice_err_t err = {{0}};
    int64_t started = sluice_now_ms();
    sluice_secrets_t *s = sluice_secrets_load(&cfg, started, &err);
    assert_non_null(s);
    assert_null(getenv("ENCRYPTION_KEY"));
    const sluice_identity_secrets_t *id = sluice_secrets_identity(s);
    assert_non_null(id->tokens);
    assert_non_null(id->legacy);
    assert_true(sluice_secrets_holds_root(s));
    assert_int_equal(id->legacy_until_ms, started + 2000);

    sigset_t none;
    sigemptyset(&none);
    int sig = 0;
    for (int i = 0; i < 100 && sluice_secrets_holds_root(s); i++)
        assert_int_equal(sluice_secrets_sigwait(s, &none, 100, &sig), -1);
    assert_false(sluice_secrets_holds_root(s));
    /* A request stamped before the deadline (the wall clock stepped back after the wipe) is
     * still told no: no ring, and a deadline no clock is before. */
    assert_null(id->legacy);
    assert_false(started < id->legacy_until_ms);
    assert_non_null(id->tokens); /* the derived rings stay */
    sluice_secrets_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(root_ring_wiped_and_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

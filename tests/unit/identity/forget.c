/* Tests for identity/forget.c: the Redis keys of deletion and suppression, the same layout as
 * the identity links and dedup keys identity.c writes (docs/identity.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "identity/forget.h"

static void test_layout(void **state)
{
    (void)state;
    char k[64];
    assert_int_equal(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_LINK, "acme", "anon-1"), 21);
    assert_string_equal(k, "sluice:id:acme:anon-1");
    assert_int_equal(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_LINK, "acme", "*"), 16);
    assert_string_equal(k, "sluice:id:acme:*");
    assert_true(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_DEDUP, "acme", "m-1") > 0);
    assert_string_equal(k, "sluice:dedup:acme:m-1");
    assert_true(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL) > 0);
    assert_string_equal(k, "sluice:suppress");
    assert_true(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_SUPPRESS_GEN, NULL, NULL) > 0);
    assert_string_equal(k, "sluice:suppress:gen");
    assert_true(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_SUPPRESS_SEEN, NULL, NULL) > 0);
    assert_string_equal(k, "sluice:suppress:seen");
}

static void test_refusals(void **state)
{
    (void)state;
    char k[16];
    assert_int_equal(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_LINK, "acme", "a-long-anonymous-id"), -1);
    assert_int_equal(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_LINK, NULL, "x"), -1);
    assert_int_equal(sluice_forget_key(k, sizeof(k), NULL, SLUICE_FORGET_KEY_DEDUP, "acme", NULL), -1);
    assert_int_equal(sluice_forget_key(k, 15, NULL, SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL), -1); /* 15 chars + NUL */
}

/* redis.key_prefix applies to every key forget and the suppression list use. */
static void test_prefix(void **state)
{
    (void)state;
    char k[64];
    assert_int_equal(sluice_forget_key(k, sizeof(k), "app1:", SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL), 13);
    assert_string_equal(k, "app1:suppress");
    assert_true(sluice_forget_key(k, sizeof(k), "app1:", SLUICE_FORGET_KEY_DEDUP, "acme", "m-1") > 0);
    assert_string_equal(k, "app1:dedup:acme:m-1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

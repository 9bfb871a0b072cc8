/* Tests for vendors/credcache.c: TTL expiry on read and on sweep, replacement, refusal of
 * non-objects; run with the wiping allocator installed, as the worker runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/credcache.h"

static void test_ttl(void **state)
{
    (void)state;
    sluice_credcache_t *c = sluice_credcache_create(300);
    sluice_err_t err = {{0}};
    const char *s1 = "{\"access_token\":\"one\"}";
    const json_t *got = sluice_credcache_put(c, "acme", "meta", "meta", s1, strlen(s1), 1000, &err);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "access_token")), "one");
    assert_ptr_equal(sluice_credcache_get(c, "acme", "meta", "meta", 1000 + 299999), got);
    assert_null(sluice_credcache_get(c, "acme", "meta", "tiktok", 2000));        /* vendor is part of the key */
    assert_null(sluice_credcache_get(c, "acme", "meta", "meta", 1000 + 300000)); /* expired: dropped on read */
    assert_int_equal(sluice_credcache_size(c), 0);

    const char *s2 = "{\"api_secret\":\"two\"}";
    assert_non_null(sluice_credcache_put(c, "acme", "ga4", "ga4", s2, strlen(s2), 0, &err));
    assert_non_null(sluice_credcache_put(c, "beta", "ga4", "ga4", s2, strlen(s2), 200000, &err));
    assert_int_equal(sluice_credcache_sweep(c, 300000), 1); /* only the older one */
    assert_int_equal(sluice_credcache_size(c), 1);
    assert_null(sluice_credcache_get(c, "acme", "ga4", "ga4", 300000));
    assert_non_null(sluice_credcache_get(c, "beta", "ga4", "ga4", 300000));
    /* Replacing keeps one entry with the new value. */
    const char *s3 = "{\"api_secret\":\"three\"}";
    got = sluice_credcache_put(c, "beta", "ga4", "ga4", s3, strlen(s3), 300000, &err);
    assert_int_equal(sluice_credcache_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(got, "api_secret")), "three");
    sluice_credcache_destroy(c);
}

static void test_refuses_non_objects(void **state)
{
    (void)state;
    sluice_credcache_t *c = sluice_credcache_create(10);
    sluice_err_t err = {{0}};
    assert_null(sluice_credcache_put(c, "a", "b", "meta", "[1]", 3, 0, &err));
    assert_null(sluice_credcache_put(c, "a", "b", "meta", "tok-123", 7, 0, &err));
    assert_null(strstr(err.msg, "tok-123"));
    assert_int_equal(sluice_credcache_size(c), 0);
    sluice_credcache_destroy(c);
    sluice_credcache_destroy(NULL);
}

int main(void)
{
    sluice_secret_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_refuses_non_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

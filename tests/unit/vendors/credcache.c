/* Tests for vendors/credcache.c: TTL expiry on read and on sweep, renewal when the vault cannot
 * be read, replacement, refusal of non-objects and of values holding control characters; run
 * with the wiping allocator installed, as the worker runs. */
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
    assert_null(sluice_credcache_get(c, "acme", "meta", "meta", 1000 + 300000)); /* expired: not returned */
    /* Kept (for one more TTL at most) while the vault is read for it; the read settles it. */
    assert_int_equal(sluice_credcache_sweep(c, 1000 + 300000), 0);
    assert_int_equal(sluice_credcache_size(c), 1);
    sluice_credcache_drop(c, "acme", "meta", "meta"); /* the row is gone */
    assert_int_equal(sluice_credcache_size(c), 0);

    const char *s2 = "{\"api_secret\":\"two\"}";
    assert_non_null(sluice_credcache_put(c, "acme", "ga4", "ga4", s2, strlen(s2), 0, &err));
    assert_non_null(sluice_credcache_put(c, "beta", "ga4", "ga4", s2, strlen(s2), 200000, &err));
    assert_int_equal(sluice_credcache_sweep(c, 300000), 0); /* expired, kept one more TTL */
    assert_null(sluice_credcache_get(c, "acme", "ga4", "ga4", 300000));
    assert_int_equal(sluice_credcache_sweep(c, 599999), 0);
    assert_int_equal(sluice_credcache_sweep(c, 600000), 1); /* acme: expired at 300000, asked for or not */
    assert_int_equal(sluice_credcache_size(c), 1);
    assert_int_equal(sluice_credcache_sweep(c, 799999), 0);
    assert_int_equal(sluice_credcache_sweep(c, 800000), 1); /* beta: expired at 500000 */
    assert_int_equal(sluice_credcache_size(c), 0);
    assert_non_null(sluice_credcache_put(c, "beta", "ga4", "ga4", s2, strlen(s2), 200000, &err));
    assert_non_null(sluice_credcache_get(c, "beta", "ga4", "ga4", 300000));
    /* Replacing keeps one entry with the new value. */
    const char *s3 = "{\"api_secret\":\"three\"}";
    got = sluice_credcache_put(c, "beta", "ga4", "ga4", s3, strlen(s3), 300000, &err);
    assert_int_equal(sluice_credcache_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(got, "api_secret")), "three");
    sluice_credcache_destroy(c);
}

/* The vault could not be read for an expired entry: it serves another TTL from then, once per
 * read; every entry is swept one TTL after it expired, renewed or not. */
static void test_renew_when_the_vault_cannot_be_read(void **state)
{
    (void)state;
    sluice_credcache_t *c = sluice_credcache_create(300);
    sluice_err_t err = {{0}};
    const char *s1 = "{\"access_token\":\"one\"}";
    const json_t *put = sluice_credcache_put(c, "acme", "meta", "meta", s1, strlen(s1), 1000, &err);
    assert_non_null(put);
    const char *s3 = "{\"api_secret\":\"x\"}";
    assert_non_null(sluice_credcache_put(c, "acme", "ga4", "ga4", s3, strlen(s3), 1000, &err));
    int64_t age = -1;
    /* Not expired, or expired but not asked for: nothing to renew. */
    assert_null(sluice_credcache_renew(c, "acme", "meta", "meta", 2000, &age));
    assert_null(sluice_credcache_renew(c, "acme", "meta", "tiktok", 2000, &age));
    assert_null(sluice_credcache_get(c, "acme", "meta", "meta", 301000)); /* expired, asked for: kept */
    assert_int_equal(sluice_credcache_sweep(c, 400000), 0);               /* within one more TTL */
    assert_ptr_equal(sluice_credcache_renew(c, "acme", "meta", "meta", 400000, &age), put);
    assert_int_equal(age, 399000);
    assert_null(sluice_credcache_renew(c, "acme", "meta", "meta", 400000, &age)); /* once per read */
    assert_ptr_equal(sluice_credcache_get(c, "acme", "meta", "meta", 400000 + 299999), put);
    assert_null(sluice_credcache_get(c, "acme", "meta", "meta", 400000 + 300000));
    assert_int_equal(sluice_credcache_sweep(c, 700000), 1); /* ga4, which nobody asked for (expired at 301000) */
    /* A successful read replaces it. */
    const char *s2 = "{\"access_token\":\"two\"}";
    const json_t *fresh = sluice_credcache_put(c, "acme", "meta", "meta", s2, strlen(s2), 702000, &err);
    assert_string_equal(json_string_value(json_object_get(fresh, "access_token")), "two");
    assert_int_equal(sluice_credcache_size(c), 1);
    assert_null(sluice_credcache_renew(c, "acme", "meta", "meta", 702001, &age));
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
    /* A value with a CR or LF would reach a request header as it is (a row stored before `vault
     * put` refused them): refused, naming the member, never the value. */
    const char *crlf = "{\"access_token\":\"tok-123\\r\\nX-Extra: 1\"}", *lf = "{\"access_token\":\"tok-123\\n\"}";
    assert_null(sluice_credcache_put(c, "a", "b", "tiktok", crlf, strlen(crlf), 0, &err));
    assert_non_null(strstr(err.msg, "member 'access_token' holds a newline"));
    assert_null(strstr(err.msg, "tok-123"));
    assert_null(sluice_credcache_put(c, "a", "b", "meta", lf, strlen(lf), 0, &err));
    const char *inner = "{\"secret\":\"two words\"}"; /* a space inside is a value like any other */
    assert_non_null(sluice_credcache_put(c, "a", "b", "webhook", inner, strlen(inner), 0, &err));
    sluice_credcache_drop(c, "a", "b", "webhook");
    /* The webhook's HMAC key reaches no request: its newlines (`openssl rand -base64 64` wraps
     * lines) are key bytes the receiver holds too, and refusing them dead-lettered its events. */
    const char *key = "{\"secret\":\"Zm9vYmFy\\nYmF6\\n\"}";
    assert_non_null(sluice_credcache_put(c, "a", "b", "webhook", key, strlen(key), 0, &err));
    sluice_credcache_drop(c, "a", "b", "webhook");
    assert_int_equal(sluice_credcache_size(c), 0);
    sluice_credcache_destroy(c);
    sluice_credcache_destroy(NULL);
}

int main(void)
{
    sluice_secret_allocator_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_renew_when_the_vault_cannot_be_read),
        cmocka_unit_test(test_refuses_non_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

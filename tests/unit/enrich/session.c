/* Tests for enrich/session.c: the cookie round trip, forgery and another org's cookie refused,
 * key rotation, and the inactivity timeout under an injected clock (the 30-minute default: a
 * visit 29:59 after the last event goes on, one at 30:01 starts session number 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "enrich/session.h"

static sluice_keyring_t *ring(uint8_t kid, uint8_t fill, int primary, sluice_keyring_t *add_to)
{
    uint8_t key[SLUICE_KEYRING_KEY_LEN];
    memset(key, fill, sizeof(key));
    sluice_keyring_t *kr = add_to ? add_to : sluice_keyring_create();
    assert_int_equal(sluice_keyring_add(kr, kid, key, primary, NULL), 0);
    return kr;
}

static void test_round_trip(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, 0x11, 1, NULL);
    sluice_session_t s = {0}, back;
    const int64_t t0 = 1767225600;
    assert_int_equal(sluice_session_advance(&s, 0, t0, SLUICE_ENRICH_SESSION_TIMEOUT_S), 1);
    assert_int_equal(s.number, 1);
    assert_int_equal(strlen(s.id), SLUICE_SESSION_ID_LEN);
    char v[SLUICE_SESSION_VALUE_MAX + 1];
    int n = sluice_session_sign(kr, "acme", &s, v, sizeof(v));
    assert_true(n > 0 && n <= SLUICE_SESSION_VALUE_MAX);
    assert_int_equal(sluice_session_verify(kr, "acme", v, (size_t)n, &back), 0);
    assert_string_equal(back.id, s.id);
    assert_int_equal(back.number, 1);
    assert_int_equal(back.start_s, t0);
    assert_int_equal(back.last_s, t0);

    /* Another org's cookie, an altered number, a cut value, no ring: all refused. */
    assert_int_equal(sluice_session_verify(kr, "other", v, (size_t)n, &back), -1);
    char bad[sizeof(v)];
    memcpy(bad, v, sizeof(v));
    char *num = bad + 2 + SLUICE_SESSION_ID_LEN + 1;
    assert_int_equal(*num, '1');
    *num = '9';
    assert_int_equal(sluice_session_verify(kr, "acme", bad, (size_t)n, &back), -1);
    assert_int_equal(sluice_session_verify(kr, "acme", v, (size_t)n - 1, &back), -1);
    assert_int_equal(sluice_session_verify(NULL, "acme", v, (size_t)n, &back), -1);
    assert_int_equal(sluice_session_verify(kr, "acme", "1.garbage", 9, &back), -1);

    /* A ring rotated to a new primary still reads the old key's cookies. */
    sluice_keyring_t *other = ring(2, 0x22, 1, NULL);
    assert_int_equal(sluice_session_verify(other, "acme", v, (size_t)n, &back), -1);
    ring(1, 0x11, 0, other);
    assert_int_equal(sluice_session_verify(other, "acme", v, (size_t)n, &back), 0);
    sluice_keyring_free(other);
    sluice_keyring_free(kr);
}

static void test_timeout(void **state)
{
    (void)state;
    const unsigned timeout = SLUICE_ENRICH_SESSION_TIMEOUT_S;
    assert_int_equal(timeout, 30 * 60);
    sluice_session_t s = {0};
    int64_t now = 1767225600;
    assert_int_equal(sluice_session_advance(&s, 0, now, timeout), 1);
    char first[SLUICE_SESSION_ID_LEN + 1];
    memcpy(first, s.id, sizeof(first));
    int64_t start = s.start_s;

    now += 29 * 60 + 59; /* the second event: same session */
    assert_int_equal(sluice_session_advance(&s, 1, now, timeout), 0);
    assert_string_equal(s.id, first);
    assert_int_equal(s.number, 1);
    assert_int_equal(s.start_s, start);
    assert_int_equal(s.last_s, now);

    now += 29 * 60; /* activity keeps it alive: measured from the last event */
    assert_int_equal(sluice_session_advance(&s, 1, now, timeout), 0);
    assert_string_equal(s.id, first);

    /* Within the refresh interval (a minute of a 30-minute timeout) the cookie stays as it is. */
    assert_int_equal(sluice_session_advance(&s, 1, now + 59, timeout), 2);
    assert_int_equal(s.last_s, now);
    assert_int_equal(sluice_session_advance(&s, 1, now + 60, timeout), 0);
    assert_int_equal(s.last_s, now + 60);
    now += 60;
    /* A short timeout refreshes on every event. */
    sluice_session_t t = s;
    assert_int_equal(sluice_session_advance(&t, 1, now + 1, 2), 0);

    now += 30 * 60 + 1; /* idle past the timeout: session 2 */
    assert_int_equal(sluice_session_advance(&s, 1, now, timeout), 1);
    assert_string_not_equal(s.id, first);
    assert_int_equal(s.number, 2);
    assert_int_equal(s.start_s, now);

    /* A last-seen far in the future (a forged clock) is not trusted. */
    s.last_s = now + 3600;
    assert_int_equal(sluice_session_advance(&s, 1, now, timeout), 1);
    assert_int_equal(s.number, 3);
}

/* The per-thread cache: a value verified (or signed) once answers without a MAC, for its org only;
 * a value never verified still goes through the MAC. */
static void test_cache(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, 0x33, 1, NULL);
    sluice_session_cache_t *c = sluice_session_cache_create(4);
    assert_non_null(c);
    sluice_session_t s = {0}, back;
    assert_int_equal(sluice_session_advance(&s, 0, 1767225600, 1800), 1);
    char v[SLUICE_SESSION_VALUE_MAX + 1];
    int n = sluice_session_sign(kr, "acme", &s, v, sizeof(v));
    assert_true(n > 0);
    /* Not yet seen: without a ring nothing verifies it. */
    assert_int_equal(sluice_session_verify_cached(c, NULL, "acme", v, (size_t)n, &back), -1);
    assert_int_equal(sluice_session_verify_cached(c, kr, "acme", v, (size_t)n, &back), 0);
    /* Now remembered: answered without the ring (no MAC computed), for acme only. */
    memset(&back, 0, sizeof(back));
    assert_int_equal(sluice_session_verify_cached(c, NULL, "acme", v, (size_t)n, &back), 0);
    assert_string_equal(back.id, s.id);
    assert_int_equal(sluice_session_verify_cached(c, NULL, "globex", v, (size_t)n, &back), -1);
    assert_int_equal(sluice_session_verify_cached(c, kr, "globex", v, (size_t)n, &back), -1);
    /* One byte different is another value: the MAC decides (and refuses). */
    v[n - 1] = v[n - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(sluice_session_verify_cached(c, kr, "acme", v, (size_t)n, &back), -1);
    /* What the gateway just signed is remembered too. */
    sluice_session_t s2 = s;
    assert_int_equal(sluice_session_advance(&s2, 1, 1767225600 + 120, 1800), 0);
    n = sluice_session_sign(kr, "acme", &s2, v, sizeof(v));
    sluice_session_cache_put(c, "acme", v, (size_t)n, &s2);
    assert_int_equal(sluice_session_verify_cached(c, NULL, "acme", v, (size_t)n, &back), 0);
    assert_int_equal(back.last_s, 1767225600 + 120);
    sluice_session_cache_destroy(c);
    sluice_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for vendors/retry.c: exponential backoff with full jitter and its cap, Retry-After as
 * seconds and as HTTP dates, and the give-up rules (attempts, total time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vendors/retry.h"

static void test_backoff(void **state)
{
    (void)state;
    /* Full jitter: anywhere from 0 to base·2^(n-1), capped at max. */
    assert_int_equal(sluice_retry_backoff_ms(1, 4000, 300000, 0.0), 0);
    assert_int_equal(sluice_retry_backoff_ms(1, 4000, 300000, 0.999999), 4000);
    assert_int_equal(sluice_retry_backoff_ms(2, 4000, 300000, 0.999999), 8000);
    assert_int_equal(sluice_retry_backoff_ms(3, 4000, 300000, 0.5), 8000);
    assert_int_equal(sluice_retry_backoff_ms(5, 4000, 300000, 0.999999), 64000);
    assert_int_equal(sluice_retry_backoff_ms(30, 4000, 300000, 0.999999), 300000);
    assert_int_equal(sluice_retry_backoff_ms(100, 4000, 300000, 0.999999), 300000); /* no overflow */
    for (int i = 1; i <= 10; i++) {
        int64_t w = sluice_retry_backoff_ms((unsigned)i, 100, 5000, 0.3);
        assert_true(w >= 0 && w <= 5000);
    }
}

static void test_retry_after(void **state)
{
    (void)state;
    int64_t now = (int64_t)time(NULL) * 1000;
    assert_int_equal(sluice_retry_after_ms("3", now), 3000);
    assert_int_equal(sluice_retry_after_ms(" 120 ", now), 120000);
    assert_int_equal(sluice_retry_after_ms("0", now), 0);
    assert_int_equal(sluice_retry_after_ms("-1", now), -1);
    assert_int_equal(sluice_retry_after_ms("3s", now), -1);
    assert_int_equal(sluice_retry_after_ms("soon", now), -1);
    assert_int_equal(sluice_retry_after_ms("", now), -1);
    assert_int_equal(sluice_retry_after_ms(NULL, now), -1);
    char date[128];
    time_t t = (time_t)(now / 1000) + 10;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    assert_int_equal(sluice_retry_after_ms(date, now), 10000);
    /* RFC 850 (two-digit year), still allowed by RFC 9110. */
    char day[16], rest[48];
    strftime(day, sizeof(day), "%A", &tm);
    strftime(rest, sizeof(rest), "%d-%b-", &tm);
    snprintf(date, sizeof(date), "%s, %s%02d %02d:%02d:%02d GMT", day, rest, tm.tm_year % 100, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    assert_int_equal(sluice_retry_after_ms(date, now), 10000);
    assert_int_equal(sluice_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now), 0); /* in the past */
}

static void test_next(void **state)
{
    (void)state;
    sluice_retry_policy_t p = {.max_attempts = 5, .base_ms = 100, .max_ms = 1000, .max_elapsed_s = 60};
    int64_t wait = -1;
    assert_int_equal(sluice_retry_next(&p, 1, 0, 0, -1, 0.999999, &wait), 1);
    assert_int_equal(wait, 100);
    assert_int_equal(sluice_retry_next(&p, 4, 0, 0, -1, 0.999999, &wait), 1);
    assert_int_equal(wait, 800);
    assert_int_equal(sluice_retry_next(&p, 5, 0, 0, -1, 0.5, &wait), 0); /* five attempts made */
    /* Retry-After wins when longer than the backoff. */
    assert_int_equal(sluice_retry_next(&p, 1, 0, 0, 2000, 0.999999, &wait), 1);
    assert_int_equal(wait, 2000);
    assert_int_equal(sluice_retry_next(&p, 1, 0, 0, 10, 0.999999, &wait), 1);
    assert_int_equal(wait, 100);
    /* The next try would start after the total time: give up. */
    assert_int_equal(sluice_retry_next(&p, 2, 0, 59900, -1, 0.999999, &wait), 0);
    assert_int_equal(sluice_retry_next(&p, 1, 0, 1000, 120000, 0.0, &wait), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

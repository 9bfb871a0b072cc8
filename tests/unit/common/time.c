/* Tests for common/time.c: the one set of RFC 3339 rules, the format, and the two agreeing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/time.h"

static int parse(const char *s, int flags, int64_t *ms)
{
    return sluice_time_parse(s, strlen(s), flags, ms);
}

static void expect(const char *s, int64_t want)
{
    int64_t got = 0;
    if (parse(s, 0, &got) != 0)
        fail_msg("'%s' was refused", s);
    if (got != want)
        fail_msg("'%s' gave %lld, want %lld", s, (long long)got, (long long)want);
}

static void refuse(const char *s, int flags)
{
    int64_t got;
    if (parse(s, flags, &got) == 0)
        fail_msg("'%s' was accepted (%lld)", s, (long long)got);
}

static void test_accepts(void **state)
{
    (void)state;
    expect("1970-01-01T00:00:00Z", 0);
    expect("1970-01-01T00:00:00.001Z", 1);
    expect("2026-11-20T00:00:00Z", 1795132800000LL);
    expect("2026-11-20t00:00:00z", 1795132800000LL);
    expect("2026-11-20 00:00:00Z", 1795132800000LL);
    expect("2026-11-20T01:00:00+01:00", 1795132800000LL);
    expect("2026-11-20T01:00:00+0100", 1795132800000LL);
    expect("2026-11-19T19:30:00-04:30", 1795132800000LL);
    expect("2026-11-20T00:00:00.5Z", 1795132800500LL);
    expect("2026-11-20T00:00:00.123456789Z", 1795132800123LL); /* below a millisecond: dropped */
    expect("2024-02-29T12:00:00Z", 1709208000000LL);           /* a leap year */
    expect("2000-02-29T00:00:00Z", 951782400000LL);            /* divisible by 400 */
    expect("2016-12-31T23:59:60Z", 1483228800000LL);           /* a leap second: the next minute */
    expect("1969-12-31T23:59:59.999Z", -1);
}

static void test_refuses(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "2025-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* divisible by 100, not 400 */
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T23:60:00Z",
        "2026-11-20T23:59:61Z",
        "2026-11-20T00:00:00",   /* no zone */
        "2026-11-20T00:00:00.Z", /* empty fraction */
        "2026-11-20T00:00:00.1234567891Z",
        "2026-11-20T00:00:00+24:00",
        "2026-11-20T00:00:00+01:60",
        "2026-11-20T00:00:00+1",
        "2026-11-20T00:00:00+01:",
        "2026-11-20T00:00:00Zjunk",
        "2026-11-20X00:00:00Z",
        "2026-11-20T0:00:00Z",
        "26-11-20T00:00:00Z",
        "2026-11-20", /* a date alone only with SLUICE_TIME_DATE_OK */
        "２026-11-20T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refuse(bad[i], 0);
    refuse("2025-02-29", SLUICE_TIME_DATE_OK);
    refuse("2026-11-20T", SLUICE_TIME_DATE_OK);
}

static void test_date_only(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(parse("2026-11-20", SLUICE_TIME_DATE_OK, &ms), 0);
    assert_int_equal(ms, 1795132800000LL);
}

/* A wall-clock time without a zone only when asked for, read as if UTC; the memo keeps the two
 * answers apart. */
static void test_no_zone(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(parse("2026-11-20T00:00:00.123456", 0, &ms), -1);
    assert_int_equal(parse("2026-11-20T00:00:00.123456", SLUICE_TIME_NO_ZONE_OK, &ms), 0);
    assert_int_equal(ms, 1795132800123LL);
    assert_int_equal(parse("2026-11-20T00:00:00.123456", 0, &ms), -1);
    assert_int_equal(parse("2026-11-20T00:00:00+01:00", SLUICE_TIME_NO_ZONE_OK, &ms), 0);
    assert_int_equal(ms, 1795132800000LL - 3600000);
    refuse("2026-11-20", SLUICE_TIME_NO_ZONE_OK);
    refuse("2026-11-20T00:00", SLUICE_TIME_NO_ZONE_OK);
    refuse("2026-11-20T00:00:00 ", SLUICE_TIME_NO_ZONE_OK);
}

/* Only len bytes are read: a longer buffer with the time first. */
static void test_length_bounded(void **state)
{
    (void)state;
    const char *s = "2026-11-20T00:00:00Z and more";
    int64_t ms;
    assert_int_equal(sluice_time_parse(s, 20, 0, &ms), 0);
    assert_int_equal(ms, 1795132800000LL);
    assert_int_equal(sluice_time_parse(s, 19, 0, &ms), -1);
}

static void test_format(void **state)
{
    (void)state;
    char out[SLUICE_TIME_TEXT_MAX];
    assert_int_equal(sluice_time_format(0, out), 24);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    sluice_time_format(1795132800123LL, out);
    assert_string_equal(out, "2026-11-20T00:00:00.123Z");
    sluice_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    sluice_time_format(1709208000000LL, out);
    assert_string_equal(out, "2024-02-29T12:00:00.000Z");
    sluice_time_format(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    sluice_time_format(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
}

/* Whatever is formatted parses back to the same instant, across four centuries of days. */
static void test_round_trip(void **state)
{
    (void)state;
    char out[SLUICE_TIME_TEXT_MAX];
    for (int64_t ms = -2208988800000LL; ms < 11000000000000LL; ms += 86400000LL * 37 + 3600123) {
        int64_t back;
        sluice_time_format(ms, out);
        assert_int_equal(sluice_time_parse(out, strlen(out), 0, &back), 0);
        assert_int_equal(back, ms);
        /* The same instant spelled so the general parser reads it (the fixed form has a fast path). */
        out[23] = 'z';
        assert_int_equal(sluice_time_parse(out, strlen(out), 0, &back), 0);
        assert_int_equal(back, ms);
    }
}

/* Texts parsed before (the last few are remembered per thread) give the same answers again, and
 * what one set of flags accepts is not taken for another. */
static void test_repeated_texts(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        expect("2026-11-20T00:00:00Z", 1795132800000LL);
        expect("2026-11-23T10:00:00.050Z", 1795428000050LL);
        expect("2026-11-20T01:00:00+01:00", 1795132800000LL);
        int64_t ms;
        assert_int_equal(parse("2026-11-20", SLUICE_TIME_DATE_OK, &ms), 0);
        assert_int_equal(ms, 1795132800000LL);
        refuse("2026-11-20", 0);
        refuse("2026-11-20T00:00:00", 0);
        /* Same length and first bytes as a remembered text, one digit apart. */
        expect("2026-11-23T10:00:00.051Z", 1795428000051LL);
    }
}

/* The fixed form YYYY-MM-DDTHH:MM:SS.mmmZ refuses what the general rules refuse. */
static void test_fixed_form(void **state)
{
    (void)state;
    expect("2026-11-23T10:00:00.050Z", 1795428000050LL); /* 2026-11-20 + 3 d 10 h */
    expect("2016-12-31T23:59:60.000Z", 1483228800000LL);
    expect("0000-01-01T00:00:00.000Z", -62167219200000LL);
    expect("9999-12-31T23:59:59.999Z", 253402300799999LL);
    const char *bad[] = {"2025-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-00-01T00:00:00.000Z",
                         "2026-04-31T00:00:00.000Z", "2026-11-00T00:00:00.000Z", "2026-11-20T24:00:00.000Z",
                         "2026-11-20T00:60:00.000Z", "2026-11-20T00:00:61.000Z", "2026-11-20T00:00:00.00aZ",
                         "2026-11-20T00:00:00.000X", "2026-11-20T00:00:00,000Z", "2026-1a-20T00:00:00.000Z",
                         "-026-11-20T00:00:00.000Z", "2026-11-20T00:00:00.000 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refuse(bad[i], 0);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = sluice_now_ms();
    assert_true(now > 1767225600000LL); /* after 2026-01-01 */
    int64_t m1 = sluice_mono_ms();
    uint64_t u1 = sluice_mono_us();
    assert_true(sluice_mono_ms() >= m1);
    assert_true(sluice_mono_us() >= u1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts), cmocka_unit_test(test_fixed_form), cmocka_unit_test(test_repeated_texts),
        cmocka_unit_test(test_refuses), cmocka_unit_test(test_date_only),  cmocka_unit_test(test_length_bounded),
        cmocka_unit_test(test_no_zone), cmocka_unit_test(test_format),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for gateway/negotiate.c: Accept-Encoding (names, case, q-values, wildcards, odd
 * spacing, garbage) and If-None-Match (lists, weak prefixes, "*", malformed entries), each
 * checked with the exact length so no test relies on a NUL terminator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/negotiate.h"

typedef struct {
    const char *value;
    int want;
} case_t;

/* Runs value as an exactly sized, unterminated buffer, so reading past len would be caught
 * by ASan. */
static int gzip_of(const char *value)
{
    size_t n = strlen(value);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, value, n);
    int r = sluice_negotiate_gzip(buf, n);
    free(buf);
    return r;
}

static int match_of(const char *value, const char *etag)
{
    size_t n = strlen(value);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, value, n);
    int r = sluice_negotiate_etag_match(buf, n, etag);
    free(buf);
    return r;
}

static void accept_encoding(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"gzip", 1},
        {"GZip", 1},
        {"x-gzip", 1},
        {"deflate, gzip, br", 1},
        {"gzip;q=1.0", 1},
        {"gzip; q=0.5", 1},
        {"gzip ;q=0.001", 1},
        {"br;q=1, *;q=0.1", 1},
        {"*", 1},
        {"identity;q=1, gzip;level=9", 1}, /* unknown parameters are ignored */
        {"  gzip  ,", 1},
        {",,gzip", 1},
        {"gzip;Q=0.2", 1},
        {"", 0},
        {"identity", 0},
        {"deflate, br", 0},
        {"gzip;q=0", 0},
        {"gzip;q=0.", 0},
        {"gzip;q=0.000", 0},
        {"gzip; Q=0", 0},
        {"*;q=0", 0},
        {"gzip;q=0, *", 0}, /* naming gzip wins over the wildcard */
        {"*, gzip;q=0", 0},
        {"gzip;q=1, gzip;q=0", 0}, /* the last mention counts */
        {"gzipx", 0},
        {"xgzip", 0},
        {"gz", 0},
        {"g zip", 0},
        {";;;", 0},
        {"=q;q=", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = gzip_of(cases[i].value);
        if (got != cases[i].want)
            print_error("Accept-Encoding '%s': got %d, want %d\n", cases[i].value, got, cases[i].want);
        assert_int_equal(got, cases[i].want);
    }
}

static void if_none_match(void **state)
{
    (void)state;
    const char *etag = "\"abc-123\"";
    static const case_t cases[] = {
        {"\"abc-123\"", 1},
        {"W/\"abc-123\"", 1},
        {"\"x\", \"abc-123\"", 1},
        {"\"x\",\"abc-123\",\"y\"", 1},
        {" \t\"abc-123\" ", 1},
        {"*", 1},
        {" * ", 1},
        {"\"x\", *", 1},
        {"", 0},
        {"abc-123", 0}, /* not quoted */
        {"\"abc-12\"", 0},
        {"\"abc-1234\"", 0},
        {"\"ABC-123\"", 0},          /* opaque tags compare exactly */
        {"w/\"abc-123\"", 0},        /* the prefix is case-sensitive */
        {"\"abc-123", 0},            /* unterminated */
        {"garbage, \"abc-123\"", 0}, /* parsing stops at the first malformed entry */
        {"*abc", 0},
        {"**", 0},
        {"W/", 0},
        {"\"\"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = match_of(cases[i].value, etag);
        if (got != cases[i].want)
            print_error("If-None-Match '%s': got %d, want %d\n", cases[i].value, got, cases[i].want);
        assert_int_equal(got, cases[i].want);
    }
    assert_int_equal(match_of("\"\"", "\"\""), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_encoding),
        cmocka_unit_test(if_none_match),
    };
    return cmocka_run_group_tests_name("gateway_negotiate", tests, NULL, NULL);
}

/* Tests for common/pct.c: percent-decoding of URL parts, and what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/pct.h"

static const char *decode(const char *in, size_t cap)
{
    static char out[256];
    size_t len = 12345;
    if (sluice_pct_decode(in, strlen(in), out, cap, &len) != 0)
        return NULL;
    assert_int_equal(len, strlen(out));
    return out;
}

static void test_decodes(void **state)
{
    (void)state;
    assert_string_equal(decode("plain", 256), "plain");
    assert_string_equal(decode("", 256), "");
    assert_string_equal(decode("a+b", 256), "a b");
    assert_string_equal(decode("a%2Bb", 256), "a+b");
    assert_string_equal(decode("%e2%82%ac%E2%82%AC", 256), "\xe2\x82\xac\xe2\x82\xac");
    assert_string_equal(decode("user%40example.com", 256), "user@example.com");
    assert_string_equal(decode("100%25", 256), "100%");
}

/* Truncated and non-hex escapes and an encoded NUL are refused, never passed through. */
static void test_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"%", "%4", "a%", "a%G1", "%1G", "%00", "x%00y", "%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(decode(bad[i], 256));
}

/* The loose variant reads what the strict one refuses as a browser reads a query: each bad escape
 * and %00 is text, the rest still decoded. */
static void test_loose(void **state)
{
    (void)state;
    static const char *const in[][2] = {{"%", "%"},
                                        {"a%", "a%"},
                                        {"%4", "%4"},
                                        {"a%G1+%41", "a%G1 A"},
                                        {"x%00y", "x%00y"},
                                        {"%%41", "%A"},
                                        {"50%+off%21", "50% off!"}};
    char out[64];
    size_t len;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        assert_int_equal(sluice_pct_decode_loose(in[i][0], strlen(in[i][0]), out, sizeof(out), &len), 0);
        assert_string_equal(out, in[i][1]);
        assert_int_equal(len, strlen(in[i][1]));
    }
    assert_int_equal(sluice_pct_decode_loose("a%", 2, out, 2, &len), -1);
}

/* The result fits in n + 1 bytes; one byte less is refused. */
static void test_capacity(void **state)
{
    (void)state;
    assert_string_equal(decode("abc", 4), "abc");
    assert_null(decode("abc", 3));
    assert_string_equal(decode("%41%42", 3), "AB");
    assert_null(decode("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_loose),
        cmocka_unit_test(test_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

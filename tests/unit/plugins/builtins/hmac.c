/* Tests for plugins/hmac (through the real loader): known answers computed independently
 * (Python's hmac module) for HMAC-SHA256(key, org ‖ 0x00 ‖ value), the org separating
 * pseudonyms, prefix, trim and lowercase, non-string types, and the key's handling: only from
 * the environment, at least 16 bytes, never in a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bt.h"

#define KEY "0123456789abcdef0123456789abcdef"
/* hmac.new(KEY, b"acme\0jane.doe@example.com", sha256) and friends. */
#define H_ACME_JANE   "8e4d4b78b2521efcecf13cba8fa1dec87f268766e6870151f1e0a4f50aa32fb0"
#define H_GLOBEX_JANE "46343b51ad689ce1e432c00cd30572176aaa692123838afd66e636e42957ee8c"
#define H_ACME_RAW    "2efaf25f572a65a3e0be60f72fd097dfbe9eb1a05087782851a933c369bbb248" /* " Jane.Doe@Example.COM " */
#define H_ACME_42     "8f9d4b335dc0ef8ac30d68e7ec2d4f7d1e533052c246d595f17441ffd301920d"
#define H_ACME_TRUE   "bc5c48e28f3cab2a1b8c954cf0324896fb223a7d7d5f66750b30e97197f4cb1f"
#define H_ACME_EMPTY  "c4355b4269f9e40be7abc7a97fc30d33fcbbbaeb0db04582cb56cebb2316437d"

static int setup(void **state)
{
    (void)state;
    setenv("T_HMAC_KEY", KEY, 1);
    setenv("T_HMAC_SHORT", "0123456789abcde", 1);
    unsetenv("T_HMAC_UNSET");
    return 0;
}

static void test_known_answers(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "hmac", "{key_env: T_HMAC_KEY}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"jane.doe@example.com\""), "\"" H_ACME_JANE "\"");
    /* No normalisation unless asked. */
    assert_string_equal(bt_mask(&b, "\" Jane.Doe@Example.COM \""), "\"" H_ACME_RAW "\"");
    assert_string_equal(bt_mask(&b, "\"\""), "\"" H_ACME_EMPTY "\"");
    assert_string_equal(bt_mask(&b, "42"), "\"" H_ACME_42 "\"");
    assert_string_equal(bt_mask(&b, "true"), "\"" H_ACME_TRUE "\"");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    assert_string_equal(bt_mask(&b, "{\"a\":1}"), "!invalid value");
    assert_string_equal(bt_mask(&b, "[1]"), "!invalid value");
    /* Same org, other field: the same pseudonym (joinable); another org: a different one. */
    char *r = bt_mask_at(&b, 1, "acme", "traits.email", "traits.email", "\"jane.doe@example.com\"");
    assert_string_equal(r, "\"" H_ACME_JANE "\"");
    free(r);
    r = bt_mask_at(&b, 1, "globex", "properties.x", "properties.x", "\"jane.doe@example.com\"");
    assert_string_equal(r, "\"" H_GLOBEX_JANE "\"");
    free(r);
    bt_close(&b);
}

static void test_normalise_and_prefix(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "hmac", "{key_env: T_HMAC_KEY, lowercase: true, trim: true, prefix: \"u_\"}", NULL),
                     0);
    assert_string_equal(bt_mask(&b, "\" Jane.Doe@Example.COM \""), "\"u_" H_ACME_JANE "\"");
    assert_string_equal(bt_mask(&b, "\"\\tjane.doe@example.com\\n\""), "\"u_" H_ACME_JANE "\"");
    /* A long value goes through the lowercasing buffer in several chunks. */
    char *longv = malloc(1001), *longl = malloc(1001);
    assert_non_null(longv);
    assert_non_null(longl);
    for (int i = 0; i < 1000; i++) {
        longv[i] = (char)('A' + i % 26);
        longl[i] = (char)('a' + i % 26);
    }
    longv[1000] = longl[1000] = '\0';
    char *a = strdup(bt_mask(&b, bt_jstr(longv)));
    assert_string_equal(a, bt_mask(&b, bt_jstr(longl)));
    assert_int_equal(strlen(a), 2 + 2 + 64);
    free(a);
    free(longv);
    free(longl);
    bt_close(&b);
}

static void test_key_handling(void **state)
{
    (void)state;
    bt_t b;
    /* Inline keys are refused by the host before the plugin runs. */
    assert_int_equal(bt_open(&b, "hmac", "{key: " KEY "}", NULL), -1);
    assert_non_null(strstr(b.errors, "key_env"));
    assert_null(strstr(b.errors, KEY));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "hmac", "{}", NULL), -1);
    assert_non_null(strstr(b.errors, "key"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "hmac", "{key_env: T_HMAC_UNSET}", NULL), -1);
    assert_non_null(strstr(b.errors, "T_HMAC_UNSET"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "hmac", "{key_env: T_HMAC_SHORT}", NULL), -1);
    assert_non_null(strstr(b.errors, "the key is 15 bytes; an HMAC key needs at least 16"));
    assert_null(strstr(b.errors, "0123456789abcde"));
    bt_close(&b);
    assert_int_equal(bt_open(&b, "hmac",
                             "{key_env: T_HMAC_KEY, prefix: "
                             "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
                             NULL),
                     -1);
    assert_non_null(strstr(b.errors, "prefix is longer than 64 bytes"));
    bt_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_normalise_and_prefix),
        cmocka_unit_test(test_key_handling),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for plugins/redact_text (through the real loader): realistic URLs and texts in each
 * mode (mask, hash with independently computed SHA-256 values, remove), kind selection,
 * UNCHANGED when nothing matches, numbers, other JSON types, the output cap, two threads with
 * their own scanners, and parameter errors. The scanner's own rules are tested in
 * redact_text_scan.c. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bt.h"

#define CHECKOUT "https://shop.acme.test/checkout?email=jane.doe%40example.com&card=4111-1111-1111-1111&ref=abc"
/* hashlib.sha256(b"jane.doe@example.com"), (b"4111111111111111"), (b"+16505551212") */
#define SHA_EMAIL "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
#define SHA_CARD  "9bbef19476623ca56c17da75fd57734dbf82530686043a6e491c6d71befe8f6e"
#define SHA_PHONE "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"

static void test_mask_mode(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "redact_text", NULL, NULL), 0);
    assert_string_equal(bt_mask(&b, "\"" CHECKOUT "\""),
                        "\"https://shop.acme.test/checkout?email=[email]&card=[card]&ref=abc\"");
    assert_string_equal(bt_mask(&b, "\"Please call me at +1 (650) 555-1212 about order 1234567812345678.\""),
                        "\"Please call me at [phone] about order 1234567812345678.\"");
    assert_string_equal(bt_mask(&b, "\"https://shop.acme.test/search?q=running+shoes&page=2\""), "=unchanged");
    assert_string_equal(bt_mask(&b, "\"order 1234567812345678 shipped\""), "=unchanged");
    /* Idempotent. */
    assert_string_equal(bt_mask(&b, "\"https://shop.acme.test/checkout?email=[email]&card=[card]&ref=abc\""),
                        "=unchanged");
    /* A card number sent as a JSON number. */
    assert_string_equal(bt_mask(&b, "4111111111111111"), "\"[card]\"");
    assert_string_equal(bt_mask(&b, "1234567812345678"), "=unchanged");
    assert_string_equal(bt_mask(&b, "false"), "=unchanged");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    assert_string_equal(bt_mask(&b, "{\"email\":\"jane@x.io\"}"), "!invalid value");
    assert_string_equal(bt_mask(&b, "[\"jane@x.io\"]"), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"\""), "=unchanged");
    bt_close(&b);
}

static void test_hash_and_remove_modes(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "redact_text", "{mode: hash}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"" CHECKOUT "\""),
                        "\"https://shop.acme.test/checkout?email=" SHA_EMAIL "&card=" SHA_CARD "&ref=abc\"");
    /* Canonical forms: another spelling of the same address and number hashes the same. */
    assert_string_equal(bt_mask(&b, "\"JANE.DOE@EXAMPLE.COM / 4111 1111 1111 1111 / tel +1 650 555 1212\""),
                        "\"" SHA_EMAIL " / " SHA_CARD " / tel " SHA_PHONE "\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "redact_text", "{mode: remove}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"" CHECKOUT "\""), "\"https://shop.acme.test/checkout?email=&card=&ref=abc\"");
    bt_close(&b);
}

static void test_kinds(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "redact_text", "{kinds: [email]}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"" CHECKOUT "\""),
                        "\"https://shop.acme.test/checkout?email=[email]&card=4111-1111-1111-1111&ref=abc\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "redact_text", "{kinds: phone}", NULL), 0); /* a scalar is a one-item list */
    assert_string_equal(bt_mask(&b, "\"jane@x.io +33 6 12 34 56 78\""), "\"jane@x.io [phone]\"");
    bt_close(&b);
}

static void test_output_cap(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "redact_text", "{mode: hash}", NULL), 0);
    /* 200 short e-mails (12 bytes each) grow to 64 hex digits each: over the cap. */
    char *text = malloc(200 * 12 + 1);
    assert_non_null(text);
    for (int i = 0; i < 200; i++)
        memcpy(text + 12 * i, "ab@cd.io    ", 12);
    text[200 * 12] = '\0';
    assert_string_equal(bt_mask(&b, bt_jstr(text)), "!output too large");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "redact_text", NULL, NULL), 0);
    const char *r = bt_mask(&b, bt_jstr(text));
    assert_int_equal(strlen(r), 2 + 200 * (7 + 4));
    bt_close(&b);
    free(text);
}

typedef struct worker {
    bt_t *b;
    unsigned thread;
    int ok;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    w->ok = 1;
    for (int i = 0; i < 500; i++) {
        char *r = bt_mask_at(w->b, w->thread, "acme", "context.page.url", "context.page.url", "\"" CHECKOUT "\"");
        if (strcmp(r, "\"https://shop.acme.test/checkout?email=[email]&card=[card]&ref=abc\"") != 0)
            w->ok = 0;
        free(r);
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "redact_text", NULL, NULL), 0);
    worker_t w[2] = {{&b, 0, 0}, {&b, 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_true(w[0].ok);
    assert_true(w[1].ok);
    assert_int_equal(sluice_plugin_instance_calls(b.inst), 1000);
    assert_int_equal(sluice_plugin_instance_errors(b.inst), 0);
    bt_close(&b);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *params, *msg;
    } cases[] = {
        {"{mode: blur}", "mode must be mask, hash or remove"},
        {"{kinds: [email, ssn]}", "kinds item 2 must be email, card, phone, iban, us_ssn, uk_nino, fr_nir or es_dni"},
        {"{kinds: []}", "kinds is empty"},
        {"{kind: [email]}", "kind"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "redact_text", cases[i].params, NULL), -1);
        if (strstr(b.errors, cases[i].msg) == NULL)
            fail_msg("%s: expected '%s' in: %s", cases[i].params, cases[i].msg, b.errors);
        bt_close(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_mode),   cmocka_unit_test(test_hash_and_remove_modes),
        cmocka_unit_test(test_kinds),       cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_two_threads), cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for vendors/envelope.c (its times are common/time.h's, tested there): envelope validation,
 * the event time rule, dotted lookups, and the person's fields with hash variants (hashes only as hashes,
 * raw values only as raw values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vendors/vfix.h"
#include "vendors/envelope.h"

static void test_parse_errors(void **state)
{
    (void)state;
    sluice_envelope_t e;
    sluice_err_t err = {{0}};
    const char *bad[] = {"not json",
                         "[1]",
                         "{\"v\":2,\"org\":\"a\",\"event\":{\"type\":\"track\"}}",
                         "{\"v\":1,\"event\":{\"type\":\"track\"}}",
                         "{\"v\":1,\"org\":\"a\",\"event\":{}}",
                         "{\"v\":1,\"org\":\"a\",\"org\":\"b\",\"event\":{\"type\":\"track\"}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_envelope_parse(&e, bad[i], strlen(bad[i]), &err), -1);
        assert_true(err.msg[0] != '\0');
        assert_null(e.root);
    }
}

static void test_fields_and_time(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    sluice_envelope_t e;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&e, raw, len, &err), 0);
    assert_string_equal(e.org, "acme");
    assert_string_equal(e.type, "track");
    assert_string_equal(e.name, "Order Completed");
    assert_string_equal(e.message_id, "0b7a1c5e-4f7e-4c1a-9a8e-2d6f1b3c9e01");
    assert_int_equal(e.received_ms, VFIX_RECEIVED_MS);
    assert_int_equal(e.time_ms, VFIX_RECEIVED_MS - 400); /* the event's own timestamp */
    assert_string_equal(sluice_envelope_str(&e, "context.page.path"), "/checkout/done");
    assert_null(sluice_envelope_str(&e, "context.page"));
    assert_null(sluice_envelope_str(&e, "context.nope.deeper"));
    /* Default (Meta) variants, and Google's where the envelope carries them. */
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_EMAIL, NULL),
                        "831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982");
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_EMAIL, "google"),
                        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_PHONE, "tiktok"),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    /* No tiktok variant for the e-mail: the field itself. */
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_EMAIL, "tiktok"),
                        "831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982");
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_ZIP, NULL),
                        "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7");
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_EXTERNAL_ID, NULL),
                        "85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846");
    assert_null(sluice_envelope_hashed(&e, SLUICE_UF_GENDER, NULL));
    assert_null(sluice_envelope_raw(&e, SLUICE_UF_CITY)); /* hashed, so no raw value */
    sluice_envelope_dispose(&e);
    free(raw);

    /* Raw values are raw only; a future timestamp falls back to receivedAt. */
    raw = vfix_envelope("{\"timestamp\":\"2030-01-01T00:00:00Z\",\"traits\":{\"email\":\"Jane@x.test\","
                        "\"address\":{\"city\":\"Menlo Park\"}},\"context\":{}}",
                        &len);
    assert_int_equal(sluice_envelope_parse(&e, raw, len, &err), 0);
    assert_int_equal(e.time_ms, VFIX_RECEIVED_MS);
    assert_null(sluice_envelope_hashed(&e, SLUICE_UF_EMAIL, NULL));
    assert_string_equal(sluice_envelope_raw(&e, SLUICE_UF_EMAIL), "Jane@x.test");
    assert_string_equal(sluice_envelope_raw(&e, SLUICE_UF_CITY), "Menlo Park");
    sluice_envelope_dispose(&e);
    free(raw);

    /* Without a usable timestamp: receivedAt. */
    raw = vfix_envelope("{\"timestamp\":\"soon\"}", &len);
    assert_int_equal(sluice_envelope_parse(&e, raw, len, &err), 0);
    assert_int_equal(e.time_ms, VFIX_RECEIVED_MS);
    sluice_envelope_dispose(&e);
    free(raw);

    /* Nor a time before 1970: a client's zero time sent as it was, and the year 0000 an older
     * gateway's clock correction made of a far-future sentAt. */
    static const char *const never[] = {"{\"timestamp\":\"0001-01-01T00:00:00Z\"}",
                                        "{\"timestamp\":\"0000-01-01T00:00:00.000Z\"}",
                                        "{\"timestamp\":\"1969-12-31T23:59:59.999Z\"}"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        raw = vfix_envelope(never[i], &len);
        assert_int_equal(sluice_envelope_parse(&e, raw, len, &err), 0);
        assert_int_equal(e.time_ms, VFIX_RECEIVED_MS);
        sluice_envelope_dispose(&e);
        free(raw);
    }
}

/* The gateway hashes a client's `traits.Email` where it is (its rules match members in any case):
 * vendors read it there too, with the variants keyed by that spelling. */
static void test_fields_in_any_case(void **state)
{
    (void)state;
    const char *raw = "{\"v\":1,\"org\":\"acme\",\"event\":{\"type\":\"identify\",\"Traits\":{\"email\":"
                      "\"1111111111111111111111111111111111111111111111111111111111111111\"},\"traits\":{"
                      "\"Email\":\"831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982\","
                      "\"PHONE\":\"1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8\","
                      "\"Address\":{\"City\":\"Menlo Park\"}}},"
                      "\"hashes\":{\"traits.PHONE\":{\"google\":"
                      "\"d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69\"}}}";
    sluice_envelope_t e;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&e, raw, strlen(raw), &err), 0);
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_EMAIL, NULL),
                        "831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982");
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_PHONE, "google"),
                        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_PHONE, NULL),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    assert_string_equal(sluice_envelope_raw(&e, SLUICE_UF_CITY), "Menlo Park");
    sluice_envelope_dispose(&e);
}

/* A screen's name wherever its SDK puts it: Segment's `name`, RudderStack's `event` (its new
 * SDKs) or `properties.name` (rudder-sdk-android and -ios). */
static void test_screen_name(void **state)
{
    (void)state;
    static const struct {
        const char *edit, *want;
    } cases[] = {
        {"{\"type\":\"screen\",\"name\":\"Home\",\"event\":null}", "Home"},
        {"{\"type\":\"screen\",\"event\":\"Cart\",\"properties\":{\"name\":\"Cart\"}}", "Cart"},
        {"{\"type\":\"screen\",\"event\":null,\"properties\":{\"name\":\"Settings\"}}", "Settings"},
        {"{\"type\":\"screen\",\"event\":null,\"properties\":{}}", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *raw = vfix_envelope(cases[i].edit, &len);
        sluice_envelope_t e;
        sluice_err_t err = {{0}};
        assert_int_equal(sluice_envelope_parse(&e, raw, len, &err), 0);
        if (cases[i].want == NULL)
            assert_null(e.name);
        else {
            assert_non_null(e.name);
            assert_string_equal(e.name, cases[i].want);
        }
        sluice_envelope_dispose(&e);
        free(raw);
    }
}

static void test_sha256_hex(void **state)
{
    (void)state;
    assert_true(sluice_is_sha256_hex_str("831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982"));
    assert_false(sluice_is_sha256_hex_str("831F6494AD6BE4FCB3A724C3D5FEF22D3CEFFA3C62EF3A7984E45A0EA177F982"));
    assert_false(sluice_is_sha256_hex_str("831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f98"));
    assert_false(sluice_is_sha256_hex_str(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),       cmocka_unit_test(test_fields_and_time),
        cmocka_unit_test(test_fields_in_any_case), cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_screen_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

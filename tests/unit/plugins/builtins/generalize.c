/* Tests for plugins/generalize (through the real loader): numbers to a step (exact decimals, the
 * JSON type kept, negatives rounded down, values too large refused) and to bands (labels, edges,
 * a label kept), dates and date-times to day, month and year as written, postal codes to their
 * leading characters with and without fill, other JSON types, idempotence, and parameter errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bt.h"

typedef struct pair {
    const char *in, *want; /* JSON text in, bt result text out */
} pair_t;

/* A result equals the expected one: the same outcome, and for a value the same JSON value (so a
 * real 0.3 matches "0.3" whatever digits the encoder prints, and 30 never matches "30"). */
static int same(const char *got, const char *want)
{
    if (got[0] == '=' || got[0] == '!' || want[0] == '=' || want[0] == '!')
        return strcmp(got, want) == 0;
    json_t *a = json_loads(got, JSON_DECODE_ANY, NULL), *b = json_loads(want, JSON_DECODE_ANY, NULL);
    int eq = a != NULL && b != NULL && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return eq;
}

static void check(const char *params, const pair_t *cases, size_t n)
{
    bt_t b;
    if (bt_open(&b, "generalize", params, NULL) != 0)
        fail_msg("%s: %s", params, b.errors);
    for (size_t i = 0; i < n; i++) {
        const char *got = bt_mask(&b, cases[i].in);
        if (!same(got, cases[i].want))
            fail_msg("%s: %s: expected %s, got %s", params, cases[i].in, cases[i].want, got);
    }
    bt_close(&b);
}

#define CHECK(params, ...)                                                                                             \
    do {                                                                                                               \
        static const pair_t c_[] = {__VA_ARGS__};                                                                      \
        check(params, c_, sizeof(c_) / sizeof(c_[0]));                                                                 \
    } while (0)

static void test_step(void **state)
{
    (void)state;
    CHECK("{kind: number, step: 10}", {"34", "30"}, {"30", "30"}, {"39.99", "30"}, {"0", "0"}, {"-1", "-10"},
          {"-17", "-20"}, {"-20", "-20"}, {"4.2e1", "40"}, {"1E3", "1000"},
          /* a string stays a string; forms typed by people are read too */
          {"\"34\"", "\"30\""}, {"\" 034 \"", "\"30\""}, {"\"+34\"", "\"30\""}, {"\"-0.5\"", "\"-10\""},
          /* not numbers, or too large to round to this step: refused, never kept */
          {"\"34 years\"", "!invalid value"}, {"\"\"", "!invalid value"}, {"\"3,5\"", "!invalid value"},
          {"\"0x10\"", "!invalid value"}, {"1e30", "!invalid value"}, {"\"1e18\"", "!invalid value"});
    /* Decimal steps are exact: 0.3 is three steps of 0.1, not two (binary 0.3 is 0.2999...). */
    CHECK("{kind: number, step: 0.1}", {"0.3", "0.3"}, {"\"0.3\"", "\"0.3\""}, {"0.7", "0.7"}, {"2", "2.0"},
          {"-0.05", "-0.1"}, {"12345678.9", "12345678.9"});
    CHECK("{kind: number, step: 0.25}", {"2.37", "2.25"}, {"2.25", "2.25"}, {"-0.01", "-0.25"}, {"7", "7.00"});
    CHECK("{kind: number, step: 5000}", {"123456", "120000"}, {"4999", "0"});
    CHECK("{kind: number, step: 1}", {"41.999", "41"}, {"9007199254740993", "9007199254740993"});
}

static void test_bands(void **state)
{
    (void)state;
    CHECK("{kind: number, bands: [0, 18, 30, 40, 65]}", {"34", "\"30-39\""}, {"30", "\"30-39\""},
          {"39.999", "\"30-39\""}, {"40", "\"40-64\""}, {"17.5", "\"0-17\""}, {"0", "\"0-17\""}, {"18", "\"18-29\""},
          {"65", "\"65+\""}, {"130", "\"65+\""}, {"1e300", "\"65+\""}, {"-0.5", "\"<0\""}, {"-1e300", "\"<0\""},
          {"\"42\"", "\"40-64\""},
          /* a label is kept as it is (idempotence), anything else refused */
          {"\"30-39\"", "\"30-39\""}, {"\"65+\"", "\"65+\""}, {"\"<0\"", "\"<0\""}, {"\"30-40\"", "!invalid value"},
          {"\"adult\"", "!invalid value"});
    CHECK("{kind: number, bands: [-10, 0, 1, 2, 10]}", {"-11", "\"<-10\""}, {"-3", "\"-10--1\""}, {"0", "\"0\""},
          {"1.5", "\"1\""}, {"2", "\"2-9\""}, {"10", "\"10+\""});
    CHECK("{kind: number, bands: 21}", {"20", "\"<21\""}, {"21", "\"21+\""});
}

static void test_dates(void **state)
{
    (void)state;
    CHECK("{kind: date, granularity: day}", {"\"2024-03-15T23:30:00-05:00\"", "\"2024-03-15\""},
          {"\"2024-03-15t23:30:00.123456Z\"", "\"2024-03-15\""}, {"\"2024-03-15 08:00:00\"", "\"2024-03-15\""},
          {"\"2024-03-15T08:00\"", "\"2024-03-15\""}, {"\"2016-12-31T23:59:60Z\"", "\"2016-12-31\""},
          {"\"2024-03-15\"", "\"2024-03-15\""}, {"\"2024-03\"", "\"2024-03\""}, {"\"2024\"", "\"2024\""},
          {"\"2024-02-29\"", "\"2024-02-29\""}, {"\"2000-02-29\"", "\"2000-02-29\""},
          /* not dates: refused */
          {"\"1900-02-29\"", "!invalid value"}, {"\"2023-02-29\"", "!invalid value"},
          {"\"2024-04-31\"", "!invalid value"}, {"\"2024-13-01\"", "!invalid value"},
          {"\"2024-00-10\"", "!invalid value"}, {"\"2024-03-15T24:00:00Z\"", "!invalid value"},
          {"\"2024-03-15T10:00:00+5\"", "!invalid value"}, {"\"2024-03-15T\"", "!invalid value"},
          {"\"2024-03-15Z\"", "!invalid value"}, {"\"15/03/2024\"", "!invalid value"},
          {"\"2024-3-15\"", "!invalid value"}, {"\" 2024-03-15\"", "!invalid value"}, {"\"\"", "!invalid value"},
          {"1710460800", "!invalid value"});
    CHECK("{kind: date, granularity: month}", {"\"2024-03-15T23:30:00-05:00\"", "\"2024-03\""},
          {"\"2024-03\"", "\"2024-03\""}, {"\"2024\"", "\"2024\""});
    CHECK("{kind: date, granularity: year}", {"\"1987-04-12\"", "\"1987\""}, {"\"1987-04\"", "\"1987\""},
          {"\"0001-01-01T00:00:00Z\"", "\"0001\""});
}

static void test_postal(void **state)
{
    (void)state;
    CHECK("{kind: postal, keep: 3}", {"\"SW1A 1AA\"", "\"SW1\""}, {"\"  75011 \"", "\"750\""}, {"\"101\"", "\"101\""},
          {"\"10\"", "\"10\""}, {"10115", "\"101\""}, {"\"\"", "\"\""}, {"-75011", "!invalid value"},
          {"1.5e4", "!invalid value"});
    CHECK("{kind: postal, keep: 2, fill: \"0\"}", {"\"75011\"", "\"75000\""}, {"\"75000\"", "\"75000\""},
          {"\"2A004\"", "\"2A000\""});
    /* Characters, not bytes: an a-umlaut is one character, and so is the bullet written for the rest. */
    CHECK("{kind: postal, keep: 1, fill: \"\xe2\x80\xa2\"}",
          {"\"\xc3\x84-12\"", "\"\xc3\x84\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\""},
          {"\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\xe2\x80\xa2\""});
}

static void test_other_types(void **state)
{
    (void)state;
    static const char *const rules[] = {"{kind: number, step: 10}", "{kind: number, bands: [0, 18]}",
                                        "{kind: date, granularity: day}", "{kind: postal, keep: 2}"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        CHECK(rules[i], {"true", "=unchanged"}, {"false", "=unchanged"}, {"null", "=unchanged"},
              {"{\"age\":34}", "!invalid value"}, {"[34]", "!invalid value"});
    }
}

/* Masking a masked value changes nothing, for every kind (the descriptor says IDEMPOTENT). */
static void test_idempotent(void **state)
{
    (void)state;
    static const struct {
        const char *params;
        const char *inputs[6];
    } rules[] = {
        {"{kind: number, step: 0.25}", {"2.37", "\"-3.3\"", "1e3", "0.1", "\"7\"", "-0.01"}},
        {"{kind: number, bands: [0, 18, 30]}", {"5", "\"17\"", "99", "-3", "18.5", "\"0\""}},
        {"{kind: date, granularity: month}", {"\"2024-03-15T23:30:00-05:00\"", "\"2024\"", "\"1999-12\"", NULL}},
        {"{kind: postal, keep: 3, fill: \"*\"}", {"\"SW1A 1AA\"", "\" 75011\"", "12", "\"\xc3\x84\xc3\x96-1\"", NULL}},
    };
    for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "generalize", rules[r].params, NULL), 0);
        for (size_t i = 0; i < 6 && rules[r].inputs[i] != NULL; i++) {
            char *once = strdup(bt_mask(&b, rules[r].inputs[i]));
            assert_true(once[0] != '!' && once[0] != '=');
            const char *twice = bt_mask(&b, once);
            if (!same(twice, once))
                fail_msg("%s: %s -> %s -> %s", rules[r].params, rules[r].inputs[i], once, twice);
            free(once);
        }
        bt_close(&b);
    }
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *params, *msg;
    } cases[] = {
        {"{step: 10}", "missing required parameter 'kind'"},
        {"{kind: age}", "kind must be number, date or postal"},
        {"{kind: number}", "kind number needs exactly one of step and bands"},
        {"{kind: number, step: 10, bands: [0, 18]}", "kind number needs exactly one of step and bands"},
        {"{kind: number, step: 0}", "step must be a number above 0 and at most 10^15"},
        {"{kind: number, step: -5}", "step must be a number above 0"},
        {"{kind: number, step: 1e16}", "step must be a number above 0 and at most 10^15"},
        {"{kind: number, step: 0.0000001}", "step must have at most 6 decimals"},
        {"{kind: number, step: ten}", "step"},
        {"{kind: number, bands: []}", "bands must list between 1 and 64 limits"},
        {"{kind: number, bands: [0, 18, 18]}", "bands must be strictly ascending (limit 3 is not above limit 2)"},
        {"{kind: number, bands: [30, 18]}", "bands must be strictly ascending"},
        {"{kind: number, bands: [0, 17.5]}", "bands item 2 must be a whole number"},
        {"{kind: number, bands: [0, old]}", "bands item 2 must be a whole number"},
        {"{kind: number, step: 10, granularity: day}", "granularity does not apply to kind number"},
        {"{kind: date}", "kind date needs granularity day, month or year"},
        {"{kind: date, granularity: week}", "kind date needs granularity day, month or year"},
        {"{kind: date, granularity: day, keep: 3}", "keep does not apply to kind date"},
        {"{kind: postal}", "kind postal needs keep, the leading characters kept, between 1 and 64"},
        {"{kind: postal, keep: 0}", "between 1 and 64"},
        {"{kind: postal, keep: 65}", "between 1 and 64"},
        {"{kind: postal, keep: 3, fill: \"**\"}", "fill must be empty or exactly one printable character"},
        {"{kind: postal, keep: 3, step: 10}", "step does not apply to kind postal"},
        {"{kind: postal, kep: 3}", "did you mean 'keep'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "generalize", cases[i].params, NULL), -1);
        if (strstr(b.errors, cases[i].msg) == NULL)
            fail_msg("%s: expected '%s' in: %s", cases[i].params, cases[i].msg, b.errors);
        bt_close(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step),          cmocka_unit_test(test_bands),       cmocka_unit_test(test_dates),
        cmocka_unit_test(test_postal),        cmocka_unit_test(test_other_types), cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

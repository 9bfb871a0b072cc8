/* Tests for plugins/regex (through the real loader): replacements with numbered and named
 * captures, first match only, caseless, the extended replacement syntax, UTF-8 (characters not
 * bytes, Unicode properties, \C refused), what happens without a match, the match limit failing
 * closed, the output cap, other JSON types, two threads with their own match data, and parameter
 * errors (the replacement checked against the pattern's groups at create). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bt.h"

#define IBAN_RULE "{pattern: '\\b([A-Z]{2})\\d{2}(?: ?[A-Z0-9]){11,30}\\b', replace: '$1**[iban]'}"

static void test_captures(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "regex", IBAN_RULE, NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Refund to DE89 3704 0044 0532 0130 00 please\""),
                        "\"Refund to DE**[iban] please\"");
    assert_string_equal(bt_mask(&b, "\"two: GB33BUKB20201555555555 and FR1420041010050500013M02606.\""),
                        "\"two: GB**[iban] and FR**[iban].\"");
    assert_string_equal(bt_mask(&b, "\"order DE12 short\""), "=unchanged");
    bt_close(&b);

    assert_int_equal(
        bt_open(&b, "regex", "{pattern: '(?<user>[^@\\s]+)@(?<domain>[\\w.-]+)', replace: '***@${domain}'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"from jane.doe@example.com, cc bob@acme.test\""),
                        "\"from ***@example.com, cc ***@acme.test\"");
    bt_close(&b);

    assert_int_equal(bt_open(&b, "regex", "{pattern: '\\d+', replace: N, global: false}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"12 and 34\""), "\"N and 34\"");
    bt_close(&b);

    /* Extended syntax: unset groups are empty, conditionals, escapes, a literal dollar. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: '(\\+)?(\\d{2,})', replace: '${1:+intl:local}\\t$$'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"+4412 0612\""), "\"intl\\t$ local\\t$\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "regex", "{pattern: '(a)|(b)', replace: '[$1|$2]'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"abc\""), "\"[a|][|b]c\"");
    bt_close(&b);
    /* An empty replacement deletes; an empty-matching pattern inserts between characters. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: '\\s*\\(.*?\\)'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"Jane (VIP, 1987) Doe\""), "\"Jane Doe\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "regex", "{pattern: 'x*', replace: '-'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"a\xc3\xa9\""), "\"-a-\xc3\xa9-\"");
    bt_close(&b);
}

static void test_utf8(void **state)
{
    (void)state;
    bt_t b;
    /* '.' is one character, whatever its length in bytes. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: '.', replace: x}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""), "\"xxx\"");
    bt_close(&b);
    /* Unicode properties: Arabic-Indic digits are \d, accented letters are \w. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: '\\d', replace: '#'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"\xd9\xa3"
                                    "4\""),
                        "\"##\"");
    bt_close(&b);
    assert_int_equal(bt_open(&b, "regex", "{pattern: '\\w+', replace: '\\u$0'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"\xc3\xa9t\xc3\xa9 \xc3\xa0 paris\""), "\"\xc3\x89t\xc3\xa9 \xc3\x80 Paris\"");
    bt_close(&b);
    /* Caseless knows non-ASCII case. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: '\xc3\xa9mile', replace: '[name]', caseless: true}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"\xc3\x89MILE and \xc3\xa9mile\""), "\"[name] and [name]\"");
    bt_close(&b);
    /* A JSON string may hold U+0000: it is a character like any other. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: 'a.b', replace: x}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"a\\u0000b\""), "\"x\"");
    bt_close(&b);
}

static void test_no_match(void **state)
{
    (void)state;
    static const struct {
        const char *params, *want;
    } cases[] = {
        {"{pattern: '^\\d{5}$', replace: '#####'}", "=unchanged"},
        {"{pattern: '^\\d{5}$', replace: '#####', no_match: keep}", "=unchanged"},
        {"{pattern: '^\\d{5}$', replace: '#####', no_match: remove}", "=remove"},
        {"{pattern: '^\\d{5}$', replace: '#####', no_match: error}", "!invalid value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "regex", cases[i].params, NULL), 0);
        assert_string_equal(bt_mask(&b, "\"SW1A 1AA\""), cases[i].want);
        assert_string_equal(bt_mask(&b, "\"75011\""), "\"#####\"");
        assert_string_equal(bt_mask(&b, "75011"), "\"#####\""); /* a number's text; the result is a string */
        bt_close(&b);
    }
}

static void test_match_limit(void **state)
{
    (void)state;
    bt_t b;
    /* Nested quantifiers on a value that almost matches: exponential backtracking, stopped by the
     * limit and failed closed, never kept raw. */
    char v[64];
    memset(v, 'a', 40);
    snprintf(v + 40, sizeof(v) - 40, "b");
    assert_int_equal(bt_open(&b, "regex", "{pattern: '(a+)+$', replace: x, match_limit: 1000}", NULL), 0);
    assert_string_equal(bt_mask(&b, bt_jstr(v)), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"aaab\""), "=unchanged"); /* small enough to finish */
    assert_string_equal(bt_mask(&b, "\"aaa\""), "\"x\"");
    assert_int_equal(sluice_plugin_instance_errors(b.inst), 1);
    bt_close(&b);
    /* The default limit stops it too. */
    assert_int_equal(bt_open(&b, "regex", "{pattern: '(a+)+$', replace: x}", NULL), 0);
    assert_string_equal(bt_mask(&b, bt_jstr(v)), "!invalid value");
    bt_close(&b);
}

static void test_output_cap(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "regex", "{pattern: '.', replace: '0123456789'}", NULL), 0);
    char v[1024];
    memset(v, 'a', 409);
    v[409] = '\0';
    const char *r = bt_mask(&b, bt_jstr(v)); /* 4090 bytes: within the cap */
    assert_int_equal(strlen(r), 2 + 4090);
    memset(v, 'a', 410);
    v[410] = '\0';
    assert_string_equal(bt_mask(&b, bt_jstr(v)), "!output too large");
    memset(v, 'a', 1000);
    v[1000] = '\0';
    assert_string_equal(bt_mask(&b, bt_jstr(v)), "!output too large");
    bt_close(&b);
}

static void test_other_types(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "regex", "{pattern: 'true|null|1', replace: x}", NULL), 0);
    assert_string_equal(bt_mask(&b, "true"), "=unchanged");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    assert_string_equal(bt_mask(&b, "{\"a\":1}"), "!invalid value");
    assert_string_equal(bt_mask(&b, "[1]"), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"true\""), "\"x\"");
    bt_close(&b);
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
        /* Different values on each thread, so a shared match data would mix them up. */
        const char *in = w->thread ? "\"pay GB33BUKB20201555555555 now\"" : "\"Refund to DE89 3704 0044 0532 0130 00\"";
        const char *want = w->thread ? "\"pay GB**[iban] now\"" : "\"Refund to DE**[iban]\"";
        char *r = bt_mask_at(w->b, w->thread, "acme", "properties.x", "properties.x", in);
        if (strcmp(r, want) != 0)
            w->ok = 0;
        free(r);
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "regex", IBAN_RULE, NULL), 0);
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
        {"{replace: x}", "missing required parameter 'pattern'"},
        {"{pattern: ''}", "pattern must be 1 to 4096 bytes long"},
        {"{pattern: 'a(b'}", "pattern does not compile at offset 3: missing closing parenthesis"},
        {"{pattern: '\\C'}", "pattern does not compile"},
        {"{pattern: '(a)(b)', replace: '$3'}",
         "replace is not a valid replacement for this pattern: unknown substring"},
        {"{pattern: '(?<first>a)', replace: '${second}'}", "replace is not a valid replacement for this pattern"},
        {"{pattern: 'a', replace: '${1'}", "replace is not a valid replacement for this pattern"},
        {"{pattern: 'a', replace: '$'}", "replace is not a valid replacement for this pattern"},
        /* Both branches of a conditional are checked, whichever a value would take. */
        {"{pattern: '(a)?b', replace: '${1:+\\q:y}'}", "replace is not a valid replacement for this pattern"},
        {"{pattern: '(a)?b', replace: '${1:+x:\\q}'}", "replace is not a valid replacement for this pattern"},
        {"{pattern: '(a)?b', replace: '${1:-\\q}'}", "replace is not a valid replacement for this pattern"},
        {"{pattern: '(a)?b', replace: '${1:+${1:+ok:\\q}}'}", "unrecognized character follows"},
        {"{pattern: '(a)?b', replace: '${1:+x:$9}'}",
         "replace is not a valid replacement for this pattern: unknown substring"},
        {"{pattern: a, no_match: drop}", "no_match must be keep, remove or error"},
        {"{pattern: a, match_limit: 0}", "match_limit and depth_limit must be between 1 and 100000000"},
        {"{pattern: a, depth_limit: 100000001}", "match_limit and depth_limit must be between 1 and 100000000"},
        {"{pattern: a, global: maybe}", "global"},
        {"{pattern: a, replase: x}", "did you mean 'replace'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "regex", cases[i].params, NULL), -1);
        if (strstr(b.errors, cases[i].msg) == NULL)
            fail_msg("%s: expected '%s' in: %s", cases[i].params, cases[i].msg, b.errors);
        bt_close(&b);
    }
    /* Valid references to groups that exist are accepted, by number and by name. */
    bt_t b;
    assert_int_equal(bt_open(&b, "regex", "{pattern: '(a)(?<n>b)', replace: '$2${2}${n}$1$$'}", NULL), 0);
    assert_string_equal(bt_mask(&b, "\"ab\""), "\"bbba$\"");
    bt_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captures),    cmocka_unit_test(test_utf8),          cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_match_limit), cmocka_unit_test(test_output_cap),    cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_two_threads), cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for plugins/randomized_response (through the real loader). The output is random, so the
 * tests check properties: every output is in the domain and of the right JSON type; over many
 * draws the rate at which the true value is kept, and the rate of each other value, are those of
 * k-ary randomized response; the estimator of docs/plugins-builtin.md recovers a known rate; a
 * value outside the domain, objects and arrays are refused; parameter errors.
 *
 * The statistical bounds are 6 standard deviations of the binomial counts: a correct plugin fails
 * one with probability about 2e-9, while a plugin that never flips, always flips, or uses the
 * wrong probability (e.g. 1/(1+e^eps) for k = 4) misses them by far more than that. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bt.h"

/* |count - n*prob| <= 6 sd of Binomial(n, prob). */
static void assert_binomial(const char *what, long count, long n, double prob)
{
    const double mean = (double)n * prob, sd = sqrt((double)n * prob * (1 - prob));
    if (fabs((double)count - mean) > 6 * sd)
        fail_msg("%s: %ld of %ld, expected %.1f +- %.1f (6 sd)", what, count, n, mean, 6 * sd);
}

static void test_boolean_domain_and_types(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "randomized_response", "{epsilon: 1}", NULL), 0);
    int seen[2][2] = {{0}}; /* [input true?][output true?] */
    for (int i = 0; i < 400; i++) {
        const char *in = i % 2 ? "true" : "false", *got = bt_mask(&b, in);
        assert_true(strcmp(got, "true") == 0 || strcmp(got, "false") == 0); /* a JSON boolean */
        seen[i % 2][strcmp(got, "true") == 0] = 1;
        /* The strings "true"/"false" stay strings. */
        got = bt_mask(&b, i % 2 ? "\"true\"" : "\"false\"");
        assert_true(strcmp(got, "\"true\"") == 0 || strcmp(got, "\"false\"") == 0);
    }
    /* Both answers come out of both inputs (each misses with probability 0.73^200). */
    assert_true(seen[0][0] && seen[0][1] && seen[1][0] && seen[1][1]);
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    assert_string_equal(bt_mask(&b, "\"yes\""), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"True\""), "!invalid value");
    assert_string_equal(bt_mask(&b, "1"), "!invalid value");
    assert_string_equal(bt_mask(&b, "{\"a\":true}"), "!invalid value");
    assert_string_equal(bt_mask(&b, "[true]"), "!invalid value");
    bt_close(&b);
}

static void test_category_domain_and_types(void **state)
{
    (void)state;
    bt_t b;
    /* Numeric categories: a number stays a number, a string a string. */
    assert_int_equal(bt_open(&b, "randomized_response", "{epsilon: 0.5, categories: [1, 2, 3, 4, 5]}", NULL), 0);
    for (int i = 0; i < 200; i++) {
        const char *got = bt_mask(&b, "3");
        assert_true(strlen(got) == 1 && got[0] >= '1' && got[0] <= '5');
        got = bt_mask(&b, "\"3\"");
        assert_true(strlen(got) == 3 && got[0] == '"' && got[1] >= '1' && got[1] <= '5');
    }
    assert_string_equal(bt_mask(&b, "6"), "!invalid value");
    assert_string_equal(bt_mask(&b, "3.5"), "!invalid value");
    assert_string_equal(bt_mask(&b, "true"), "!invalid value");
    bt_close(&b);
    /* Text categories: strings out, whatever came in; matched by exact text. */
    assert_int_equal(
        bt_open(&b, "randomized_response", "{epsilon: 0.5, categories: [\"18-24\", \"25-34\", 35+, 7]}", NULL), 0);
    for (int i = 0; i < 200; i++) {
        const char *got = bt_mask(&b, i % 2 ? "7" : "\"25-34\"");
        assert_true(strcmp(got, "\"18-24\"") == 0 || strcmp(got, "\"25-34\"") == 0 || strcmp(got, "\"35+\"") == 0 ||
                    strcmp(got, "\"7\"") == 0);
    }
    assert_string_equal(bt_mask(&b, "\"25 - 34\""), "!invalid value");
    assert_string_equal(bt_mask(&b, "\"\""), "!invalid value");
    assert_string_equal(bt_mask(&b, "null"), "=unchanged");
    bt_close(&b);
}

/* Booleans, eps = ln 3: kept with probability 3/4. */
static void test_boolean_keep_rate(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "randomized_response", "{epsilon: 1.0986122886681098}", NULL), 0);
    const long n = 20000;
    long kept_true = 0, kept_false = 0;
    for (long i = 0; i < n; i++) {
        kept_true += strcmp(bt_mask(&b, "true"), "true") == 0;
        kept_false += strcmp(bt_mask(&b, "false"), "false") == 0;
    }
    assert_binomial("true kept", kept_true, n, 0.75);
    assert_binomial("false kept", kept_false, n, 0.75);
    bt_close(&b);
}

/* k = 4, eps = ln 6: kept with p = 6/9, each other value with q = 1/9. */
static void test_k_ary_rates(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "randomized_response", "{epsilon: 1.791759469228055, categories: [a, b, c, d]}", NULL),
                     0);
    const long n = 30000;
    long count[4] = {0};
    for (long i = 0; i < n; i++) {
        const char *got = bt_mask(&b, "\"b\"");
        assert_true(strlen(got) == 3 && got[1] >= 'a' && got[1] <= 'd');
        count[got[1] - 'a']++;
    }
    assert_binomial("b kept", count[1], n, 6.0 / 9);
    assert_binomial("a reported", count[0], n, 1.0 / 9);
    assert_binomial("c reported", count[2], n, 1.0 / 9);
    assert_binomial("d reported", count[3], n, 1.0 / 9);
    bt_close(&b);
}

/* The documented estimator: a population where 30% of 20000 people answer true, eps = 1. The
 * observed rate f has variance at most 1/(4n), so the estimate (f - q)/(p - q) is within
 * 6 * sqrt(1/(4n)) / (p - q) of the truth. */
static void test_estimator_recovers_rate(void **state)
{
    (void)state;
    bt_t b;
    assert_int_equal(bt_open(&b, "randomized_response", "{epsilon: 1}", NULL), 0);
    const long n = 20000, truly = 6000;
    long reported = 0;
    for (long i = 0; i < n; i++)
        reported += strcmp(bt_mask(&b, i < truly ? "true" : "false"), "true") == 0;
    const double p = exp(1.0) / (exp(1.0) + 1), q = 1 / (exp(1.0) + 1);
    const double f = (double)reported / (double)n, estimate = (f - q) / (p - q);
    const double bound = 6 * sqrt(0.25 / (double)n) / (p - q);
    if (fabs(estimate - 0.3) > bound)
        fail_msg("estimated %.4f true, the truth is 0.3 (bound %.4f)", estimate, bound);
    /* Without the correction the raw rate is biased towards 1/2: about 0.362, far outside. */
    assert_true(fabs(f - 0.3) > bound * (p - q));
    bt_close(&b);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *params, *msg;
    } cases[] = {
        {"{categories: [a, b]}", "missing required parameter 'epsilon'"},
        {"{epsilon: 0}", "epsilon must be a number above 0 and at most 50"},
        {"{epsilon: -1}", "epsilon must be a number above 0 and at most 50"},
        {"{epsilon: 50.5}", "epsilon must be a number above 0 and at most 50"},
        {"{epsilon: high}", "epsilon"},
        {"{epsilon: 1, categories: [only]}", "categories must list between 2 and 1024 values"},
        {"{epsilon: 1, categories: []}", "categories must list between 2 and 1024 values"},
        {"{epsilon: 1, categories: [a, b, a]}", "categories items 1 and 3 are the same"},
        {"{epsilon: 1, categries: [a, b]}", "did you mean 'categories'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_t b;
        assert_int_equal(bt_open(&b, "randomized_response", cases[i].params, NULL), -1);
        if (strstr(b.errors, cases[i].msg) == NULL)
            fail_msg("%s: expected '%s' in: %s", cases[i].params, cases[i].msg, b.errors);
        bt_close(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boolean_domain_and_types), cmocka_unit_test(test_category_domain_and_types),
        cmocka_unit_test(test_boolean_keep_rate),        cmocka_unit_test(test_k_ary_rates),
        cmocka_unit_test(test_estimator_recovers_rate),  cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

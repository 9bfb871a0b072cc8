/* Tests for gateway/forgotten.c without Redis: the forget check on an event held as jansson values
 * and as arena values (json/jv.h) gives the same answers for a list put in force with
 * sluice_forgotten_use: which ids are read (their bytes as sent, by length), a match counted in
 * sluice_events_suppressed_total and a known id not, and the subject a dedup key records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/forgotten.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/parse.h"

static const char yaml[] = "version: 1\n"
                           "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                           "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                           "orgs:\n"
                           "  - id: acme\n"
                           "    sources:\n"
                           "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n";

static const char *const listed[] = {"jane@x.io", "12345", "ctx-user"};

typedef struct fixture {
    sluice_config_t *cfg;
    sluice_forgotten_t *f;
    uint8_t key[SLUICE_PSEUDONYM_LEN];
} fixture_t;

static void setup(fixture_t *x)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    x->cfg = sluice_config_load_string("forget.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    sluice_config_diag_dispose(&d);
    assert_non_null(x->cfg);
    sluice_err_t err;
    x->f = sluice_forgotten_create(x->cfg, 1, NULL, &err);
    assert_non_null(x->f);
    assert_int_equal(sluice_pseudonym_org_key("secret", 6, "acme", x->key), 0);
    sluice_pseudonym_set_t *set = sluice_pseudonym_set_create();
    assert_non_null(set);
    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
        char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
        assert_int_equal(sluice_pseudonym_hex(x->key, listed[i], strlen(listed[i]), hex), 0);
        assert_int_equal(sluice_pseudonym_set_add_hex(set, "acme", hex), 0);
    }
    sluice_pseudonym_set_seal(set);
    assert_int_equal(sluice_forgotten_use(x->f, set), 0);
    assert_int_equal(sluice_forgotten_size(x->f), 3);
}

static void teardown(fixture_t *x)
{
    sluice_forgotten_destroy(x->f);
    sluice_config_free(x->cfg);
}

/* Events the org's list counted as suppressed, from its metrics. */
static unsigned long long suppressed(sluice_forgotten_t *f)
{
    char buf[4096];
    assert_true(sluice_forgotten_metrics(f, buf, sizeof(buf)) < sizeof(buf));
    const char *p = strstr(buf, "sluice_events_suppressed_total{org=\"acme\"} ");
    return p != NULL ? strtoull(p + strlen("sluice_events_suppressed_total{org=\"acme\"} "), NULL, 10) : 0;
}

/* known, then match, on text parsed as jansson values and as arena values: both answers must be
 * want; the subjects must be the same bytes (into subject). */
static void check(fixture_t *x, const char *text, int want, char subject[SLUICE_PSEUDONYM_ID_PATH_COUNT * 65])
{
    sluice_json_error_t e;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j = sluice_json_parse(text, strlen(text), 64, 1 << 20, 1000, nums, &e);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *v = sluice_jv_parse(a, text, strlen(text), 64, 1 << 20, 1000, NULL, &e);
    assert_non_null(j);
    assert_non_null(v);
    unsigned long long before = suppressed(x->f);
    if (sluice_forgotten_known(x->f, 0, "acme", x->key, j) != want ||
        sluice_forgotten_known_jv(x->f, 0, "acme", x->key, v) != want)
        fail_msg("known: %s: not %d on both trees", text, want);
    assert_int_equal(suppressed(x->f), before);
    assert_int_equal(sluice_forgotten_match(x->f, 0, "acme", x->key, j), want);
    assert_int_equal(sluice_forgotten_match_jv(x->f, 0, "acme", x->key, v), want);
    assert_int_equal(suppressed(x->f), before + 2 * (unsigned)want);
    /* Another org's list is not this one's. */
    assert_int_equal(sluice_forgotten_known_jv(x->f, 0, "globex", x->key, v), 0);
    char sv[SLUICE_PSEUDONYM_ID_PATH_COUNT * 65];
    size_t nj = sluice_forgotten_subject(x->key, j, subject, SLUICE_PSEUDONYM_ID_PATH_COUNT * 65);
    size_t nv = sluice_forgotten_subject_jv(x->key, v, sv, sizeof(sv));
    assert_int_equal(nj, nv);
    assert_string_equal(subject, sv);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

/* The forget check reads the same ids on both trees: a jv string is not NUL-terminated (the id
 * "jane@x.io" points into the body, followed by the rest of it), an escaped id is its bytes, an id
 * sent as a number or an object is no id, and an id is compared as sent (no case folding). */
static void test_jv_as_jansson(void **state)
{
    (void)state;
    fixture_t x;
    setup(&x);
    char subject[SLUICE_PSEUDONYM_ID_PATH_COUNT * 65], hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
    static const struct {
        const char *text;
        int want;
    } cases[] = {
        {"{\"type\":\"track\",\"userId\":\"jane@x.io\",\"event\":\"x\"}", 1},
        {"{\"type\":\"track\",\"anonymousId\":\"\\u006aane@x.io\"}", 1},
        {"{\"type\":\"alias\",\"previousId\":\"jane@x.io\",\"userId\":\"u-9\"}", 1},
        {"{\"type\":\"track\",\"context\":{\"identity\":{\"userId\":\"ctx-user\"}}}", 1},
        {"{\"type\":\"track\",\"context\":{\"identity\":{\"linkedFrom\":\"12345\"}}}", 1},
        {"{\"type\":\"track\",\"userId\":\"Jane@X.io\"}", 0},
        {"{\"type\":\"track\",\"userId\":\"jane@x.io \"}", 0},
        {"{\"type\":\"track\",\"userId\":\"jane@x.io\\u0000\"}", 0},
        {"{\"type\":\"track\",\"userId\":12345}", 0},
        {"{\"type\":\"track\",\"userId\":{\"id\":\"jane@x.io\"},\"context\":{\"identity\":\"ctx-user\"}}", 0},
        {"{\"type\":\"track\",\"groupId\":\"jane@x.io\",\"traits\":{\"email\":\"jane@x.io\"}}", 0},
        {"{\"type\":\"track\",\"event\":\"no ids\"}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(&x, cases[i].text, cases[i].want, subject);
    /* The subject: each id's pseudonym once, in the paths' order. */
    check(&x,
          "{\"type\":\"track\",\"userId\":\"u-9\",\"anonymousId\":\"jane@x.io\",\"context\":{\"identity\":"
          "{\"linkedFrom\":\"jane@x.io\"}}}",
          1, subject);
    char want[2 * 65];
    assert_int_equal(sluice_pseudonym_hex(x.key, "u-9", 3, hex), 0);
    memcpy(want, hex, 64);
    want[64] = ' ';
    assert_int_equal(sluice_pseudonym_hex(x.key, "jane@x.io", 9, hex), 0);
    memcpy(want + 65, hex, 65);
    assert_string_equal(subject, want);
    teardown(&x);
}

/* Arenas for the jv values (json/arena.h): installed once, before any test. */
static int install_arenas(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jv_as_jansson),
    };
    return cmocka_run_group_tests(tests, install_arenas, NULL);
}

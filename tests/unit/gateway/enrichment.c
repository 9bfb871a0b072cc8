/* Tests for gateway/enrichment.c's event step on both trees (issue 17): sluice_enrichment_event
 * (jansson) and sluice_enrichment_event_jv (arena values) on the same event and request must
 * answer the same, set the same cookies and leave the same bytes; each test also checks what a
 * user looks for in them (device, bot flag or drop, location, session and its cookie, campaign).
 * The request is made by tests/stubs/enrich_req.c; uap-core's regexes and the tests' MaxMind
 * database (tests/fixtures/geo) are real. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/stubs/enrich_req.h"

#define CHROME                                                                                                         \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
#define GOOGLEBOT "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 8192,
    .max_batch_events = 8,
    .max_depth = 16,
    .max_string_bytes = 2048,
    .max_wire_bytes = 65536,
};

/* A browser's request of 2026-11-23T08:00:00.123Z. */
static const sluice_event_enrich_t browser = {.received_ms = 1795420800123LL, .client_ip = "81.2.69.142"};

static sluice_enrich_fixture_t fx;
static sluice_enrich_outcome_t oj, ov;

static void setup_fx(const char *enrichment, const char *extra)
{
    char db[1024];
    snprintf(db, sizeof(db), "%s/tests/fixtures/geo/test-city.mmdb", getenv("SLUICE_BUILD_DIR"));
    assert_int_equal(sluice_enrich_fixture_init(&fx, enrichment, extra, db), 0);
}

/* Parses body both ways and runs both trees' step on it with headers[0..n); they must agree.
 * The jansson tree's bytes stay in oj.bytes (NUL-terminated copy in `out`). */
static const char *both(const char *body, const char *const *headers, size_t n)
{
    static char out[8192];
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_event_error_t ej, ev;
    json_t *j = sluice_event_parse(body, strlen(body), &limits, nums, NULL, &ej);
    sluice_jv_t *v = sluice_event_parse_jv(body, strlen(body), &limits, a, NULL, &ev);
    assert_non_null(j);
    assert_non_null(v);
    assert_int_equal(sluice_enrich_fixture_both(&fx, &browser, headers, n, j, nums, v, a, &oj, &ov), 0);
    snprintf(out, sizeof(out), "%.*s", (int)oj.len, oj.bytes);
    sluice_enrich_outcome_dispose(&oj);
    sluice_enrich_outcome_dispose(&ov);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return out;
}

static void jv_device_and_location_as_jansson(void **state)
{
    (void)state;
    setup_fx("{user_agent: true, geo: city}", NULL);
    const char *h[] = {"sec-ch-ua-platform", "\"Windows\"", "sec-ch-ua-platform-version", "\"15.0.0\""};
    const char *out = both("{\"type\":\"track\",\"event\":\"x\",\"context\":{\"userAgent\":\"" CHROME
                           "\",\"ip\":\"81.2.69.142\",\"device\":{\"model\":\"mine\"}}}",
                           h, 4);
    assert_int_equal(oj.rc, 0);
    assert_non_null(strstr(out, "\"browser\":{\"name\":\"Chrome\",\"version\":\"124.0.0\"}"));
    assert_non_null(strstr(out, "\"os\":{\"name\":\"Windows\",\"version\":\"11\"}"));
    assert_non_null(strstr(out, "\"model\":\"mine\"")); /* the client's own stays */
    assert_non_null(strstr(out, "\"city\":\"London\""));
    sluice_enrich_fixture_dispose(&fx);
}

static void jv_bots_flag_and_drop_as_jansson(void **state)
{
    (void)state;
    setup_fx("{user_agent: true, bots: flag}", NULL);
    const char *out = both("{\"type\":\"page\",\"context\":{\"userAgent\":\"" GOOGLEBOT "\",\"bot\":null}}", NULL, 0);
    assert_int_equal(oj.rc, 0);
    assert_non_null(strstr(out, "\"bot\":{\"reason\":\"spider\",\"name\":\"Googlebot\"}"));
    sluice_enrich_fixture_dispose(&fx);
    setup_fx("{user_agent: true, bots: drop}", NULL);
    both("{\"type\":\"page\",\"context\":{\"userAgent\":\"" GOOGLEBOT "\"}}", NULL, 0);
    assert_int_equal(oj.rc, 1);
    assert_int_equal(ov.rc, 1);
    sluice_enrich_fixture_dispose(&fx);
}

static void jv_campaign_as_jansson(void **state)
{
    (void)state;
    setup_fx("{campaign: true, referrer: true}", NULL);
    const char *out =
        both("{\"type\":\"page\",\"properties\":{\"url\":\"https://shop.acme.example/?utm_source=news&utm_medium=email"
             "&utm_campaign=winter%20sale&gclid=Cj0K\",\"referrer\":\"https://www.google.com/\"},\"context\":{"
             "\"page\":{\"url\":\"\"},\"campaign\":{\"source\":\"mine\"}}}",
             NULL, 0);
    assert_non_null(strstr(out, "\"campaign\":{\"source\":\"mine\",\"name\":\"winter sale\",\"medium\":\"email\"}"));
    assert_non_null(strstr(out, "\"referrer\":{\"medium\":\"search\",\"source\":\"Google\"}"));
    /* A track event's properties.url is not this visit's page. */
    out = both("{\"type\":\"track\",\"event\":\"share\",\"properties\":{\"url\":\"https://x.example/?utm_source=a\"}}",
               NULL, 0);
    assert_null(strstr(out, "campaign"));
    sluice_enrich_fixture_dispose(&fx);
}

static void jv_session_as_jansson(void **state)
{
    (void)state;
    setup_fx("{session: {consent: [analytics]}}", NULL);
    const char *h[] = {"origin", "https://shop.acme.example"};
    /* Consent: a new session, its cookie set (the id is random: the fixture compares the rest). */
    const char *out = both("{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]},"
                           "\"session\":\"client's\"}}",
                           h, 2);
    assert_non_null(strstr(out, "\"number\":1,\"start\":\"2026-11-23T08:00:00.000Z\""));
    assert_null(strstr(out, "client's"));
    assert_int_equal(oj.cookie_count, 1);
    assert_int_equal(strncmp(oj.cookies[0], "_sluice_ses=", 12), 0);
    /* The browser's cookie of a session still going on: the same id, no new cookie. */
    sluice_session_t s = {
        .id = "0123456789abcdef0123456789abcdef", .number = 4, .start_s = 1795420000, .last_s = 1795420790};
    char value[256], cookie[300];
    assert_true(sluice_enrich_fixture_cookie(&fx, &s, value, sizeof(value)) > 0);
    snprintf(cookie, sizeof(cookie), "_sluice_ses=%s", value);
    const char *hc[] = {"origin", "https://shop.acme.example", "cookie", cookie};
    out = both("{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}}", hc, 4);
    assert_non_null(strstr(out, "\"session\":{\"id\":\"0123456789abcdef0123456789abcdef\",\"number\":4"));
    assert_int_equal(oj.cookie_count, 0);
    /* Consent withdrawn: no session, and the cookie the browser sent expires. */
    out = both("{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[]}}}", hc, 4);
    assert_null(strstr(out, "\"session\""));
    assert_int_equal(oj.cookie_count, 1);
    assert_non_null(strstr(oj.cookies[0], "Max-Age=0"));
    sluice_enrich_fixture_dispose(&fx);
}

/* A jv string may hold a NUL (one built, not parsed: the parser reads \u0000 as U+FFFD); enrich/'s
 * parsers get it as jansson's json_string_value hands them a string holding one: up to the NUL. */
static void jv_string_with_nul_as_jansson(void **state)
{
    (void)state;
    setup_fx("{campaign: true}", NULL);
    static const char url[] = "https://shop.acme.example/?utm_source=news\0&utm_medium=email";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j =
        json_pack("{s:s,s:{s:{s:o}}}", "type", "page", "context", "page", "url", json_stringn(url, sizeof(url) - 1));
    sluice_jv_t *v = sluice_jv_object(a), *ctx = sluice_jv_object(a), *page = sluice_jv_object(a);
    assert_int_equal(sluice_jv_object_set(a, v, "type", sluice_jv_string(a, "page", 4)), 0);
    assert_int_equal(sluice_jv_object_set(a, page, "url", sluice_jv_string(a, url, sizeof(url) - 1)), 0);
    assert_int_equal(sluice_jv_object_set(a, ctx, "page", page), 0);
    assert_int_equal(sluice_jv_object_set(a, v, "context", ctx), 0);
    assert_int_equal(sluice_enrich_fixture_both(&fx, &browser, NULL, 0, j, nums, v, a, &oj, &ov), 0);
    assert_non_null(strstr(oj.bytes, "\"campaign\":{\"source\":\"news\"}"));
    sluice_enrich_outcome_dispose(&oj);
    sluice_enrich_outcome_dispose(&ov);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    sluice_enrich_fixture_dispose(&fx);
}

int main(void)
{
    if (sluice_json_arena_install() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jv_device_and_location_as_jansson),
        cmocka_unit_test(jv_bots_flag_and_drop_as_jansson),
        cmocka_unit_test(jv_campaign_as_jansson),
        cmocka_unit_test(jv_session_as_jansson),
        cmocka_unit_test(jv_string_with_nul_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

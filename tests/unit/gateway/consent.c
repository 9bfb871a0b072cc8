/* Tests for gateway/consent.c: Segment's categoryPreferences, RudderStack's consentManagement and
 * sluice's own categories, through the org's aliases, into context.consent.categories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/consent.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"
#include "json/write.h"

static sluice_kv_t aliases[] = {
    {"Analytics", "analytics"}, {"Advertising", "marketing"}, {"C0002", "analytics"}, {"C0004", "marketing"}};
static const sluice_consent_config_t cfg = {.aliases = aliases, .alias_count = 4};
/* The same with Global Privacy Control withdrawing two categories. */
static char *withdraws[] = {"marketing", "sale"};
static const sluice_consent_config_t gcfg = {
    .aliases = aliases, .alias_count = 4, .gpc_withdraws = withdraws, .gpc_withdraw_count = 2};

/* The categories after normalising `event`, as "a,b" ("-" when there is no consent at all). */
static const char *categories(const char *event)
{
    static char out[256];
    json_error_t je;
    json_t *ev = json_loads(event, 0, &je);
    assert_non_null(ev);
    assert_int_equal(sluice_consent_normalize(ev, &cfg), 0);
    json_t *cats = json_object_get(json_object_get(json_object_get(ev, "context"), "consent"), "categories");
    if (cats == NULL) {
        snprintf(out, sizeof(out), "-");
    } else {
        out[0] = '\0';
        size_t i;
        json_t *v;
        json_array_foreach(cats, i, v) {
            size_t n = strlen(out);
            snprintf(out + n, sizeof(out) - n, "%s%s", i ? "," : "", json_string_value(v));
        }
    }
    json_decref(ev);
    return out;
}

static void test_segment_preferences(void **state)
{
    (void)state;
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categoryPreferences\":"
                                   "{\"Analytics\":true,\"Advertising\":false,\"Functional\":true}}}}"),
                        "analytics,Functional");
    /* case does not matter for aliases */
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categoryPreferences\":{\"ADVERTISING\":true}}}}"),
                        "marketing");
}

static void test_rudderstack_consent_management(void **state)
{
    (void)state;
    assert_string_equal(categories("{\"context\":{\"consentManagement\":{\"provider\":\"oneTrust\","
                                   "\"allowedConsentIds\":[\"C0001\",\"C0002\"],\"deniedConsentIds\":[\"C0004\"]}}}"),
                        "C0001,analytics");
    /* What a denied id maps to is not granted, whichever allowed id also mapped to it. */
    assert_string_equal(categories("{\"context\":{\"consentManagement\":{\"allowedConsentIds\":[\"C0002\"],"
                                   "\"deniedConsentIds\":[\"Analytics\"]}}}"),
                        "");
}

static void test_sluice_and_mixed(void **state)
{
    (void)state;
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}}}"),
                        "analytics,marketing");
    assert_string_equal(
        categories(
            "{\"context\":{\"consent\":{\"categories\":[\"Analytics\"],\"categoryPreferences\":{\"C0004\":true}}}}"),
        "analytics,marketing");
    /* No consent information: nothing is made up. */
    assert_string_equal(categories("{\"context\":{\"page\":{}}}"), "-");
    assert_string_equal(categories("{}"), "-");
    /* Junk in the formats is ignored, not fatal. */
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[1,null,\"analytics\"],"
                                   "\"categoryPreferences\":{\"Analytics\":\"yes\"}}}}"),
                        "analytics");
}

/* Categories alone: left as they are when already normal, rebuilt when an alias, a repeat or a
 * non-string is in them. */
static void test_categories_alone(void **state)
{
    (void)state;
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[]}}}"), "");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"x\",\"analytics\",\"y\"]}}}"),
                        "x,analytics,y");
    assert_string_equal(
        categories("{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\",\"analytics\"]}}}"),
        "analytics,marketing");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"x\",\"C0004\",\"marketing\"]}}}"),
                        "x,marketing");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"ANALYTICS\"]}}}"), "analytics");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"a\",true,\"b\"]}}}"), "a,b");
    /* The member keeps its place among the consent object's members either way. */
    json_error_t je;
    json_t *ev = json_loads("{\"context\":{\"consent\":{\"v\":1,\"categories\":[\"a\"],\"w\":2}}}", 0, &je);
    assert_int_equal(sluice_consent_normalize(ev, &cfg), 0);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"context\":{\"consent\":{\"v\":1,\"categories\":[\"a\"],\"w\":2}}}");
    free(text);
    json_decref(ev);
}

/* A category the visitor took back in one format is not granted because another format, or a
 * stale list of sluice's own, still names it: Segment's `false` denies like RudderStack's
 * deniedConsentIds, and a denial counts in any case. */
static void test_withdrawal_wins(void **state)
{
    (void)state;
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"x\"],"
                                   "\"categoryPreferences\":{\"Analytics\":false}}}}"),
                        "x");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categoryPreferences\":{\"C0002\":true,"
                                   "\"Analytics\":false}}}}"),
                        "");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categoryPreferences\":{\"Analytics\":false}},"
                                   "\"consentManagement\":{\"allowedConsentIds\":[\"C0002\"]}}}"),
                        "");
    /* without an alias, a denial in another case than the grant */
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"functional\"]},"
                                   "\"consentManagement\":{\"deniedConsentIds\":[\"FUNCTIONAL\"]}}}"),
                        "");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"functional\"],"
                                   "\"categoryPreferences\":{\"Functional\":false}}}}"),
                        "");
    /* only an explicit false denies; other junk is ignored as before */
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categories\":[\"analytics\"],"
                                   "\"categoryPreferences\":{\"Analytics\":null,\"C0002\":0}}}}"),
                        "analytics");
}

/* context.consent is not scanned by the PII guard (docs/privacy.md), so what is copied there from
 * the other formats must be no personal data: RudderStack's ids are scanned where they are sent,
 * and an e-mail among them (or as a Segment key) is no category. */
static void test_no_pii_copied(void **state)
{
    (void)state;
    assert_string_equal(categories("{\"context\":{\"consentManagement\":{\"allowedConsentIds\":"
                                   "[\"jane.doe@example.com\",\"C0002\",\"+1 415 555 0123\",\"C0001\"]}}}"),
                        "analytics,C0001");
    assert_string_equal(categories("{\"context\":{\"consent\":{\"categoryPreferences\":{\"jane%40example.com\":true,"
                                   "\"Analytics\":true}}}}"),
                        "analytics");
}

/* The formats the client sent stay as sent. */
static void test_formats_kept(void **state)
{
    (void)state;
    json_error_t je;
    json_t *ev = json_loads("{\"context\":{\"consent\":{\"categoryPreferences\":{\"Analytics\":true}}}}", 0, &je);
    assert_int_equal(sluice_consent_normalize(ev, &cfg), 0);
    json_t *prefs = json_object_get(json_object_get(json_object_get(ev, "context"), "consent"), "categoryPreferences");
    assert_true(json_is_true(json_object_get(prefs, "Analytics")));
    json_decref(ev);
}

/* Global Privacy Control: `event` normalised, the header's step run with `gpc`, normalised again
 * as the data layer does; the event written back compactly with sorted keys. */
static const char *after_gpc(const char *event, int gpc)
{
    static char out[512];
    json_error_t je;
    json_t *ev = json_loads(event, 0, &je);
    assert_non_null(ev);
    json_t *cats, *ctx;
    assert_int_equal(sluice_consent_normalize(ev, &gcfg), 0);
    assert_int_equal(sluice_consent_gpc(ev, &gcfg, gpc), 0);
    assert_int_equal(sluice_consent_normalize_get(ev, &gcfg, &cats, &ctx), 0);
    assert_ptr_equal(ctx, json_object_get(ev, "context"));
    char *text = json_dumps(json_object_get(ev, "context"), JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, sizeof(out), "%s", text);
    free(text);
    json_decref(ev);
    return out;
}

static void test_gpc(void **state)
{
    (void)state;
    /* the withdrawn categories go, whatever their case; the others stay; the event says why */
    assert_string_equal(
        after_gpc("{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"Marketing\",\"sale\"]}}}", 1),
        "{\"consent\":{\"categories\":[\"analytics\"],\"gpc\":true}}");
    /* Segment's grants, read again by the data layer, do not bring a withdrawn category back */
    assert_string_equal(after_gpc("{\"context\":{\"consent\":{\"categoryPreferences\":"
                                  "{\"Analytics\":true,\"Advertising\":true}}}}",
                                  1),
                        "{\"consent\":{\"categories\":[\"analytics\"],\"categoryPreferences\":"
                        "{\"Advertising\":true,\"Analytics\":true},\"gpc\":true}}");
    /* nor do RudderStack's */
    assert_string_equal(after_gpc("{\"context\":{\"consentManagement\":{\"allowedConsentIds\":[\"C0004\"]}}}", 1),
                        "{\"consent\":{\"categories\":[],\"gpc\":true},\"consentManagement\":"
                        "{\"allowedConsentIds\":[\"C0004\"]}}");
    /* an event without consent says GPC was on, and is granted nothing it did not have */
    assert_string_equal(after_gpc("{\"context\":{}}", 1), "{\"consent\":{\"gpc\":true}}");
    assert_string_equal(after_gpc("{}", 1), "{\"consent\":{\"gpc\":true}}");
    /* without the header, nothing is withdrawn, and a body's own claim of GPC is not kept */
    assert_string_equal(after_gpc("{\"context\":{\"consent\":{\"categories\":[\"marketing\"],\"gpc\":true}}}", 0),
                        "{\"consent\":{\"categories\":[\"marketing\"]}}");
}

/* ---------------------------------------------------------------- the same rules on jv values */

/* `event` through consent as the gateway runs it (normalize, GPC's step with `gpc`, normalize
 * again reading the categories) as jansson values and as arena values (sluice_*_jv), each on its
 * own parse; asserts that both return the same and give the same categories, and returns the jv
 * event written compactly (as sent, member order kept). */
static const char *both(const char *event, int gpc)
{
    static char out[512];
    sluice_json_error_t err;
    json_t *j = sluice_json_parse(event, strlen(event), 16, 256, 0, NULL, &err);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *v = sluice_jv_parse(a, event, strlen(event), 16, 256, 0, NULL, &err);
    assert_non_null(j);
    assert_non_null(v);
    assert_int_equal(sluice_consent_normalize_jv(v, &gcfg, a), sluice_consent_normalize(j, &gcfg));
    assert_int_equal(sluice_consent_gpc_jv(v, &gcfg, gpc, a), sluice_consent_gpc(j, &gcfg, gpc));
    json_t *cj = NULL, *xj = NULL;
    sluice_jv_t *cv = NULL, *xv = NULL;
    assert_int_equal(sluice_consent_normalize_get_jv(v, &gcfg, &cv, &xv, a),
                     sluice_consent_normalize_get(j, &gcfg, &cj, &xj));
    assert_ptr_equal(xj, json_object_get(j, "context"));
    assert_ptr_equal(xv, sluice_jv_object_get(v, "context"));
    if (cj == NULL) {
        assert_null(cv);
    } else {
        char *tj = sluice_json_encode(cj, NULL, NULL), *tv = sluice_jv_encode(cv, NULL);
        assert_string_equal(tv, tj);
        free(tj);
        free(tv);
    }
    char *tj = sluice_json_encode(j, NULL, NULL), *tv = sluice_jv_encode(v, NULL);
    assert_string_equal(tv, tj);
    snprintf(out, sizeof(out), "%s", tv);
    free(tj);
    free(tv);
    json_decref(j);
    sluice_json_arena_free(a);
    return out;
}

static void test_jv_as_jansson(void **state)
{
    (void)state;
    /* sluice.js's categories, already normal: left as sent */
    assert_string_equal(both("{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"ads\"]}}}", 0),
                        "{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"ads\"]}}}");
    /* aliases in any case, twice, a non-string: rebuilt */
    assert_string_equal(
        both("{\"context\":{\"consent\":{\"categories\":[\"ANALYTICS\",\"analytics\",7,\"c0004\"]}}}", 0),
        "{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}}}");
    /* Segment's preferences: false denies, in any case, whatever RudderStack allowed */
    assert_string_equal(both("{\"context\":{\"consent\":{\"categoryPreferences\":{\"Analytics\":true,"
                             "\"ADVERTISING\":false}},\"consentManagement\":{\"allowedConsentIds\":[\"C0004\","
                             "\"functional\"],\"deniedConsentIds\":[\"FUNCTIONAL\"]}}}",
                             0),
                        "{\"context\":{\"consent\":{\"categoryPreferences\":{\"Analytics\":true,\"ADVERTISING\":false},"
                        "\"categories\":[\"analytics\"]},\"consentManagement\":{\"allowedConsentIds\":[\"C0004\","
                        "\"functional\"],\"deniedConsentIds\":[\"FUNCTIONAL\"]}}}");
    /* GPC on: marketing withdrawn in any case (a non-string is no category), the stamp added */
    assert_string_equal(both("{\"context\":{\"consent\":{\"categories\":[\"analytics\",\"Marketing\",{\"x\":1}]}}}", 1),
                        "{\"context\":{\"consent\":{\"categories\":[\"analytics\"],\"gpc\":true}}}");
    /* GPC off: a body's own claim goes */
    assert_string_equal(both("{\"context\":{\"consent\":{\"categories\":[\"marketing\"],\"gpc\":true}}}", 0),
                        "{\"context\":{\"consent\":{\"categories\":[\"marketing\"]}}}");
    /* no context: GPC makes one */
    assert_string_equal(both("{\"event\":\"x\"}", 1), "{\"event\":\"x\",\"context\":{\"consent\":{\"gpc\":true}}}");
    /* an e-mail among a CMP's ids is no category */
    assert_string_equal(
        both("{\"context\":{\"consentManagement\":{\"allowedConsentIds\":[\"jane@example.com\",\"C0002\"]}}}", 0),
        "{\"context\":{\"consentManagement\":{\"allowedConsentIds\":[\"jane@example.com\",\"C0002\"]},"
        "\"consent\":{\"categories\":[\"analytics\"]}}}");
}

static int setup(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_preferences), cmocka_unit_test(test_rudderstack_consent_management),
        cmocka_unit_test(test_sluice_and_mixed),    cmocka_unit_test(test_categories_alone),
        cmocka_unit_test(test_formats_kept),        cmocka_unit_test(test_withdrawal_wins),
        cmocka_unit_test(test_no_pii_copied),       cmocka_unit_test(test_gpc),
        cmocka_unit_test(test_jv_as_jansson),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for gateway/datalayer.c: drop, hash with variants, consent policies, the mask seam and
 * its fail-closed behaviour, and the privacy record. Orgs come from real YAML through the loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/datalayer.h"
#include "gateway/masker.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"
#include "json/write.h"
#include "vendors/vendor.h"

static const char base_yaml[] = "version: 1\n"
                                "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                                "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                                "orgs:\n"
                                "  - id: acme\n"
                                "    sources:\n"
                                "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
                                "    consent: {required: [analytics], policy: %s}\n"
                                "    data_layer:\n"
                                "      hash_fields:\n"
                                "        - {path: traits.email, normalize: email}\n"
                                "        - {path: traits.phone, normalize: phone, default_country_code: \"1\"}\n"
                                "        - {path: \"properties.items[*].email\", normalize: email}\n"
                                "        - {path: traits.gender, normalize: gender}\n"
                                "      mask:\n"
                                "        - {path: properties.card_number, plugin: partial, params: {keep_last: 4}}\n"
                                "        - {path: properties.ssn, plugin: fpe, on_error: reject}\n"
                                "      drop: [properties.password, \"properties.items[*].secret\"]\n"
                                "    integrations:\n"
                                "      - {name: ga4, vendor: ga4, measurement_id: G-TEST}\n"
                                "      - {name: meta, vendor: meta, pixel_id: \"1\"}\n";

/* The data layer on jv: the same hashes with other drops, and no masks (jv_masks_as_jansson's
 * org has them, with real plugins). */
static const char jv_yaml[] = "version: 1\n"
                              "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                              "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                              "orgs:\n"
                              "  - id: acme\n"
                              "    sources:\n"
                              "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
                              "    consent: {required: [analytics], policy: %s}\n"
                              "    data_layer:\n"
                              "      hash_fields:\n"
                              "        - {path: traits.email, normalize: email}\n"
                              "        - {path: traits.phone, normalize: phone, default_country_code: \"1\"}\n"
                              "        - {path: \"properties.items[*].email\", normalize: email}\n"
                              "        - {path: traits.gender, normalize: gender}\n"
                              "      drop: [properties.password, \"properties.items[*].secret\", properties.Cvv,\n"
                              "              \"properties.tags[*]\"]\n"
                              "    integrations:\n"
                              "      - {name: ga4, vendor: ga4, measurement_id: G-TEST}\n"
                              "      - {name: meta, vendor: meta, pixel_id: \"1\"}\n"
                              "      - {name: rdt, vendor: reddit, pixel_id: a2_test}\n";

/* A config's start: acme, its web source; its settings follow. */
#define ACME_HEAD                                                                                                      \
    "version: 1\n"                                                                                                     \
    "server: {http: {listen: \"127.0.0.1:0\"}}\n"                                                                      \
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"                                                                           \
    "orgs:\n"                                                                                                          \
    "  - id: acme\n"                                                                                                   \
    "    sources:\n"                                                                                                   \
    "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"

/* The config of yaml, which must load (its diagnostics printed). */
static sluice_config_t *load_yaml(const char *yaml)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("dl.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    return cfg;
}

/* An org of base_yaml, or jv_yaml when jv, with policy as its consent policy. */
static sluice_config_t *load_from(int jv, const char *policy)
{
    char yaml[2048];
    assert_true((size_t)snprintf(yaml, sizeof(yaml), jv ? jv_yaml : base_yaml, policy) < sizeof(yaml));
    return load_yaml(yaml);
}

static sluice_config_t *load(const char *policy)
{
    return load_from(0, policy);
}

static json_t *event(const char *s)
{
    json_error_t e;
    json_t *ev = json_loads(s, 0, &e);
    assert_non_null(ev);
    return ev;
}

static int in_list(const json_t *privacy, const char *list, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(privacy, list), i, v)
        if (strcmp(json_string_value(v), path) == 0)
            return 1;
    return 0;
}

/* The event name the masker was last given. */
static char seen_event_name[64];

/* A masker standing in for the plugin set: "partial" keeps the last 4, "fpe" fails. */
static sluice_mask_outcome_t fake_mask(void *ud, const sluice_org_t *org, size_t rule, json_t *event,
                                       const char *event_name, json_t *parent, const char *key, size_t index,
                                       json_t *value, const char *concrete, sluice_jsonnum_t *nums)
{
    (void)ud;
    (void)nums;
    (void)event;
    snprintf(seen_event_name, sizeof(seen_event_name), "%s", event_name ? event_name : "(null)");
    (void)index;
    (void)concrete;
    if (strcmp(org->mask_rules[rule].plugin, "fpe") == 0)
        return SLUICE_MASK_FAILED;
    const char *s = json_string_value(value);
    size_t n = strlen(s);
    char out[64];
    snprintf(out, sizeof(out), "****%s", n > 4 ? s + n - 4 : s);
    json_object_set_new(parent, key, json_string(out));
    return SLUICE_MASK_REPLACED;
}

static void hash_drop_mask_and_privacy(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const sluice_org_t *org = &cfg->orgs[0];
    json_t *ev = event("{\"type\":\"identify\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},"
                       "\"traits\":{\"email\":\"John_Smith@gmail.com\",\"phone\":\"(650)555-1212\",\"gender\":\"x\"},"
                       "\"properties\":{\"password\":\"hunter2\",\"card_number\":\"4111111111111111\","
                       "\"items\":[{\"email\":\"A.B@Gmail.com\",\"secret\":\"s1\"},{\"sku\":\"k\"}]}}");
    sluice_masker_t m = {fake_mask, NULL, NULL};
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), &m, ev, NULL, &res, &st), 0);
    json_t *traits = json_object_get(ev, "traits"), *props = json_object_get(ev, "properties");
    assert_string_equal(json_string_value(json_object_get(traits, "email")),
                        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
    assert_string_equal(json_string_value(json_object_get(traits, "phone")),
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
    /* Not a recognisable gender: removed, never passed on raw. */
    assert_null(json_object_get(traits, "gender"));
    assert_null(json_object_get(props, "password"));
    assert_string_equal(json_string_value(json_object_get(props, "card_number")), "****1111");
    assert_string_equal(seen_event_name, "identify");
    json_t *item0 = json_array_get(json_object_get(props, "items"), 0);
    assert_null(json_object_get(item0, "secret"));
    assert_int_equal(strlen(json_string_value(json_object_get(item0, "email"))), 64);

    /* GA4 is enabled, so the Google variants travel under hashes, by concrete path. */
    json_t *ph = json_object_get(res.hashes, "traits.phone");
    assert_non_null(json_object_get(ph, "google"));
    assert_string_not_equal(json_string_value(json_object_get(ph, "google")),
                            json_string_value(json_object_get(traits, "phone")));
    assert_non_null(json_object_get(json_object_get(res.hashes, "properties.items[0].email"), "google"));

    assert_true(in_list(res.privacy, "hashed", "traits.email"));
    assert_true(in_list(res.privacy, "hashed", "properties.items[*].email"));
    assert_true(in_list(res.privacy, "dropped", "properties.password"));
    assert_true(in_list(res.privacy, "dropped", "traits.gender"));
    assert_true(in_list(res.privacy, "masked", "properties.card_number"));
    assert_int_equal(st.hashed[SLUICE_NORM_EMAIL], 2);
    assert_int_equal(st.hash_failed, 1);
    /* The privacy record carries paths only, never values. */
    char *dump = json_dumps(res.privacy, 0);
    assert_null(strstr(dump, "gmail"));
    assert_null(strstr(dump, "hunter2"));
    free(dump);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

static void mask_failure_rejects_or_removes(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const sluice_org_t *org = &cfg->orgs[0];
    sluice_masker_t m = {fake_mask, NULL, NULL};
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    json_t *ev =
        event("{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},\"properties\":{\"ssn\":\"123-45-6789\"}}");
    assert_int_equal(sluice_datalayer_apply(org, 0, &m, ev, NULL, &res, &st), 0);
    assert_true(res.rejected);
    assert_string_equal(res.reject_path, "properties.ssn");
    assert_null(json_object_get(json_object_get(ev, "properties"), "ssn"));
    assert_int_equal(st.mask_failed, 1);
    sluice_dl_result_dispose(&res);
    json_decref(ev);

    /* No masker at all: every masked field is removed (fail closed). */
    ev =
        event("{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},\"properties\":{\"card_number\":\"4111\"}}");
    assert_int_equal(sluice_datalayer_apply(org, 0, NULL, ev, NULL, &res, &st), 0);
    assert_false(res.rejected);
    assert_null(json_object_get(json_object_get(ev, "properties"), "card_number"));
    assert_true(in_list(res.privacy, "dropped", "properties.card_number"));
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* A rule on traits.X covers context.traits.X too (where RudderStack's identify puts traits and
 * Segment's spec mirrors them), recorded under its own path; hashes there are the same. */
static void rules_cover_context_traits(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const sluice_org_t *org = &cfg->orgs[0];
    assert_string_equal(org->hash_rules[0].mirror.text, "context.traits.email");
    assert_null(org->hash_rules[2].mirror.text); /* properties.items[*].email: no mirror */
    json_t *ev = event("{\"type\":\"identify\",\"context\":{\"traits\":{\"email\":\"John_Smith@gmail.com\","
                       "\"phone\":\"(650)555-1212\"}},\"traits\":{\"email\":\"John_Smith@gmail.com\"}}");
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), NULL, ev, NULL, &res, &st), 0);
    json_t *ctraits = json_object_get(json_object_get(ev, "context"), "traits");
    assert_string_equal(json_string_value(json_object_get(ctraits, "email")),
                        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
    assert_string_equal(json_string_value(json_object_get(ctraits, "phone")),
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
    assert_true(in_list(res.privacy, "hashed", "traits.email"));
    assert_true(in_list(res.privacy, "hashed", "context.traits.email"));
    assert_true(in_list(res.privacy, "hashed", "context.traits.phone"));
    assert_non_null(json_object_get(json_object_get(res.hashes, "context.traits.phone"), "google"));
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);

    /* A rule of the org's own for context.traits.email wins over the mirror. */
    const char *own = "version: 1\n"
                      "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                      "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                      "orgs:\n"
                      "  - id: acme\n"
                      "    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]\n"
                      "    data_layer:\n"
                      "      hash_fields: [{path: traits.email, normalize: email}]\n"
                      "      drop: [context.traits.email, traits.password]\n";
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    cfg = sluice_config_load_string("own.yaml", own, strlen(own), SLUICE_CONFIG_NO_ENV, &d);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    assert_null(cfg->orgs[0].hash_rules[0].mirror.text);
    assert_string_equal(cfg->orgs[0].drop_mirrors[1].text, "context.traits.password");
    ev = event("{\"type\":\"identify\",\"context\":{\"traits\":{\"email\":\"a@b.co\",\"password\":\"pw\"}}}");
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    ctraits = json_object_get(json_object_get(ev, "context"), "traits");
    assert_null(json_object_get(ctraits, "email"));
    assert_null(json_object_get(ctraits, "password"));
    assert_true(in_list(res.privacy, "dropped", "context.traits.password"));
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* The org's own rule for context.traits.X takes the mirror's place in any spelling: fields match
 * without regard to case, so a mirror kept beside `context.traits.Email` acted on the same member
 * twice (hashed, then masked: the hash vendors match was replaced by the mask's output, and
 * privacy.hashed named a field that was not left hashed). */
static void own_rule_in_another_case_replaces_mirror(void **state)
{
    (void)state;
    const char *own = "version: 1\n"
                      "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                      "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                      "orgs:\n"
                      "  - id: acme\n"
                      "    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]\n"
                      "    data_layer:\n"
                      "      hash_fields: [{path: traits.email, normalize: email}]\n"
                      "      mask: [{path: context.traits.Email, plugin: partial, params: {keep_last: 4}}]\n";
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("own.yaml", own, strlen(own), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    json_t *ev = event("{\"type\":\"identify\",\"context\":{\"traits\":{\"email\":\"John_Smith@gmail.com\"}}}");
    sluice_masker_t m = {fake_mask, NULL, NULL};
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, &m, ev, NULL, &res, &st), 0);
    json_t *ctraits = json_object_get(json_object_get(ev, "context"), "traits");
    /* Masked once, by the rule written for it, from the value as sent. */
    assert_string_equal(json_string_value(json_object_get(ctraits, "email")), "****.com");
    assert_false(in_list(res.privacy, "hashed", "context.traits.email"));
    assert_true(in_list(res.privacy, "masked", "context.traits.Email"));
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* A masker whose every answer is new, as a random plugin's (randomized_response, encrypt). */
static int draws;

static sluice_mask_outcome_t drawing_mask(void *ud, const sluice_org_t *org, size_t rule, json_t *event,
                                          const char *event_name, json_t *parent, const char *key, size_t index,
                                          json_t *value, const char *concrete, sluice_jsonnum_t *nums)
{
    (void)ud, (void)org, (void)rule, (void)event, (void)event_name, (void)index, (void)value, (void)concrete,
        (void)nums;
    char out[32];
    snprintf(out, sizeof(out), "draw-%d", ++draws);
    json_object_set_new(parent, key, json_string(out));
    return SLUICE_MASK_REPLACED;
}

/* context.traits.X is a copy of traits.X: a rule masks the field once, and the copy holding the
 * same value gets the same answer. Asked twice, a random plugin gave one event two independent
 * reports of one value (randomized_response then spent twice its epsilon). A copy that differs
 * is the copy's own value and is masked on its own. */
static void mirror_gets_the_fields_answer(void **state)
{
    (void)state;
    const char *yaml = "version: 1\n"
                       "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                       "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                       "orgs:\n"
                       "  - id: acme\n"
                       "    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]\n"
                       "    data_layer:\n"
                       "      mask: [{path: traits.satisfied, plugin: randomized_response, params: {epsilon: 1}}]\n";
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("rr.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    sluice_masker_t m = {drawing_mask, NULL, NULL};
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};

    draws = 0;
    json_t *ev = event("{\"type\":\"identify\",\"traits\":{\"satisfied\":true},"
                       "\"context\":{\"traits\":{\"satisfied\":true}}}");
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, &m, ev, NULL, &res, &st), 0);
    assert_int_equal(draws, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "satisfied")), "draw-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "traits"), "satisfied")),
        "draw-1");
    assert_true(in_list(res.privacy, "masked", "traits.satisfied"));
    assert_true(in_list(res.privacy, "masked", "context.traits.satisfied"));
    assert_int_equal(st.masked, 2);
    sluice_dl_result_dispose(&res);
    json_decref(ev);

    /* A copy holding another value is that value's own report. */
    draws = 0;
    ev = event("{\"type\":\"identify\",\"traits\":{\"satisfied\":true},"
               "\"context\":{\"traits\":{\"satisfied\":false}}}");
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, &m, ev, NULL, &res, &st), 0);
    assert_int_equal(draws, 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "traits"), "satisfied")),
        "draw-2");
    sluice_dl_result_dispose(&res);
    json_decref(ev);

    /* The field in two spellings has no one answer: the copy is masked on its own. */
    draws = 0;
    ev = event("{\"type\":\"identify\",\"traits\":{\"satisfied\":true,\"Satisfied\":true},"
               "\"context\":{\"traits\":{\"satisfied\":true}}}");
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, &m, ev, NULL, &res, &st), 0);
    assert_int_equal(draws, 3);
    sluice_dl_result_dispose(&res);
    json_decref(ev);

    /* Only the copy: masked on its own, once. */
    draws = 0;
    ev = event("{\"type\":\"identify\",\"context\":{\"traits\":{\"satisfied\":true}}}");
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, &m, ev, NULL, &res, &st), 0);
    assert_int_equal(draws, 1);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* Clients spell members their own way (`Email`, `PHONE`, `Card_Number`): every rule reaches
 * every spelling below the event's own fields. Matched exactly, these went to Kafka raw. */
static void rules_match_any_spelling(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const sluice_org_t *org = &cfg->orgs[0];
    json_t *ev = event("{\"type\":\"identify\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]},"
                       "\"traits\":{\"EMAIL\":\"John_Smith@gmail.com\"}},"
                       "\"traits\":{\"Email\":\"John_Smith@gmail.com\",\"email\":\"John_Smith@gmail.com\","
                       "\"PHONE\":\"(650)555-1212\"},"
                       "\"properties\":{\"Password\":\"hunter2\",\"Card_Number\":\"4111111111111111\","
                       "\"Items\":[{\"Email\":\"A.B@Gmail.com\",\"SECRET\":\"s1\"}]}}");
    sluice_masker_t m = {fake_mask, NULL, NULL};
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), &m, ev, NULL, &res, &st), 0);
    json_t *traits = json_object_get(ev, "traits"), *props = json_object_get(ev, "properties");
    const char *meta = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f";
    /* Hashed where they are, under the client's own names (nothing renamed). */
    assert_string_equal(json_string_value(json_object_get(traits, "Email")), meta);
    assert_string_equal(json_string_value(json_object_get(traits, "email")), meta);
    assert_string_equal(json_string_value(json_object_get(traits, "PHONE")),
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "traits"), "EMAIL")), meta);
    assert_null(json_object_get(props, "Password"));
    assert_string_equal(json_string_value(json_object_get(props, "Card_Number")), "****1111");
    json_t *item0 = json_array_get(json_object_get(props, "Items"), 0);
    assert_null(json_object_get(item0, "SECRET"));
    assert_int_equal(strlen(json_string_value(json_object_get(item0, "Email"))), 64);
    /* Variants are keyed by where the value is. */
    assert_non_null(json_object_get(json_object_get(res.hashes, "traits.PHONE"), "google"));
    assert_true(in_list(res.privacy, "hashed", "traits.email"));
    assert_true(in_list(res.privacy, "dropped", "properties.password"));
    char *dump = json_dumps(ev, 0);
    assert_null(strstr(dump, "John_Smith"));
    assert_null(strstr(dump, "555-1212"));
    assert_null(strstr(dump, "hunter2"));
    assert_null(strstr(dump, "4111111111111111"));
    free(dump);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

static void consent_policies(void **state)
{
    (void)state;
    /* With what Segment's and RudderStack's SDKs add that identifies the person too: an alias's
     * previousId, externalIds (an e-mail, a CRM id), a phone's advertising and device ids, and
     * RudderStack's externalId (its SDKs' name for the same list). */
    const char *no_consent =
        "{\"userId\":\"u1\",\"previousId\":\"old-user-7\",\"traits\":{\"email\":\"a@b.c\"},"
        "\"context\":{\"ip\":\"1.2.3.4\",\"page\":{\"url\":\"https://x\"},"
        "\"externalIds\":[{\"id\":\"a@b.c\",\"type\":\"email\",\"collection\":\"users\"}],"
        "\"externalId\":[{\"id\":\"a@b.c\",\"type\":\"brazeExternalId\"}],"
        "\"device\":{\"type\":\"ios\",\"id\":\"dev-9\",\"advertisingId\":\"6D92078A-8246-4BA4-AE5B-76104861E7DC\","
        "\"adTrackingEnabled\":true,\"token\":\"apns-token-1\"}},\"properties\":{\"card_number\":\"4111\"}}";
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};

    sluice_config_t *cfg = load("drop");
    json_t *ev = event(no_consent);
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    assert_true(res.drop_event);
    assert_int_equal(st.consent_dropped_events, 1);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);

    cfg = load("strip");
    ev = event(no_consent);
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    assert_false(res.drop_event);
    assert_null(json_object_get(ev, "userId"));
    assert_null(json_object_get(ev, "traits"));
    assert_null(json_object_get(json_object_get(ev, "context"), "ip"));
    assert_non_null(json_object_get(json_object_get(ev, "context"), "page"));
    assert_null(json_object_get(json_object_get(ev, "properties"), "card_number"));
    assert_null(json_object_get(ev, "previousId"));
    assert_null(json_object_get(json_object_get(ev, "context"), "externalIds"));
    assert_null(json_object_get(json_object_get(ev, "context"), "externalId"));
    json_t *dev = json_object_get(json_object_get(ev, "context"), "device");
    assert_null(json_object_get(dev, "id"));
    assert_null(json_object_get(dev, "advertisingId"));
    assert_null(json_object_get(dev, "token"));
    assert_string_equal(json_string_value(json_object_get(dev, "type")), "ios"); /* what kind, not whose */
    assert_string_equal(json_string_value(json_object_get(res.privacy, "consent")), "stripped");
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);

    cfg = load("allow");
    ev = event(no_consent);
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    assert_false(res.drop_event);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), "u1");
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

static void already_hashed_is_left_alone(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const char *h = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f";
    char s[256];
    snprintf(s, sizeof(s), "{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},\"traits\":{\"email\":\"%s\"}}",
             h);
    json_t *ev = event(s);
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "email")), h);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* One person, typed two ways: a macOS keyboard sends "josé" as 'e' + U+0301 and a Japanese IME a
 * phone in full-width digits; a CRM holds "josé" as U+00E9 and the phone in ASCII. Both events
 * carry the hashes the vendor computes from its own copy (Python hashlib of the NFC string), where
 * the NFD e-mail hashed to a value that matched nobody and the full-width phone was removed as
 * not a number. */
static void one_person_typed_two_ways(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const char *const bodies[] = {
        "{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},"
        "\"traits\":{\"email\":\"jose\\u0301@Example.com\",\"phone\":\"＋８１ ９０-１２３４-５６７８\"}}",
        "{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},"
        "\"traits\":{\"email\":\"josé@example.com\",\"phone\":\"+81 90-1234-5678\"}}",
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *ev = event(bodies[i]);
        sluice_dl_result_t res;
        sluice_dl_stats_t st = {0};
        assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
        json_t *traits = json_object_get(ev, "traits");
        assert_string_equal(json_string_value(json_object_get(traits, "email")),
                            "b0a53cf19e34d05b57bced7365c6b00ddbe38d62957e863de2a66a56c3b42cea");
        assert_string_equal(json_string_value(json_object_get(traits, "phone")),
                            "0ad07193350775c6d4377f8b039d32877e66c69a454ed886b05279771c0fca0b");
        assert_int_equal(st.hash_failed, 0);
        sluice_dl_result_dispose(&res);
        json_decref(ev);
    }
    sluice_config_free(cfg);
}

/* A hash sent in capitals (.NET's Convert.ToHexString) is the same hash, written in lowercase:
 * it was normalised like any string and hashed again, so vendors got a hash of a hash (and the
 * phone rule a hash of the hash's digits). Not counted as hashed here, and no variants. */
static void capital_hash_is_lowercased_not_rehashed(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    const char *upper = "62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F";
    const char *lower = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f";
    char s[512];
    snprintf(s, sizeof(s),
             "{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},"
             "\"traits\":{\"email\":\"%s\",\"phone\":\"%s\"}}",
             upper, upper);
    json_t *ev = event(s);
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    json_t *traits = json_object_get(ev, "traits");
    assert_string_equal(json_string_value(json_object_get(traits, "email")), lower);
    assert_string_equal(json_string_value(json_object_get(traits, "phone")), lower);
    assert_null(res.hashes);
    assert_int_equal(st.hashed[SLUICE_NORM_EMAIL], 0);
    assert_int_equal(st.hash_failed, 0);
    sluice_dl_result_dispose(&res);
    json_decref(ev);

    /* 64 characters that are not all hex are a value like any other: hashed. */
    snprintf(s, sizeof(s),
             "{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},\"traits\":{\"email\":\"%.63sG\"}}", upper);
    ev = event(s);
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    const char *got = json_string_value(json_object_get(json_object_get(ev, "traits"), "email"));
    assert_non_null(got);
    assert_string_not_equal(got, lower);
    assert_int_equal(st.hashed[SLUICE_NORM_EMAIL], 1);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* A value someone else also holds is replaced in the event, not rewritten under them. */
static void shared_value_replaced(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("allow");
    json_t *ev = event("{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}},"
                       "\"traits\":{\"email\":\"John_Smith@gmail.com\",\"phone\":\"(650)555-1212\"}}");
    json_t *held_email = json_incref(json_object_get(json_object_get(ev, "traits"), "email"));
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    json_t *traits = json_object_get(ev, "traits");
    assert_string_equal(json_string_value(json_object_get(traits, "email")),
                        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
    assert_string_equal(json_string_value(json_object_get(traits, "phone")),
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
    assert_string_equal(json_string_value(held_email), "John_Smith@gmail.com");
    json_decref(held_email);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* jansson's frees held back until the end of a test, so a value reached after it was removed
 * from the event still looks intact (and wrongly counts) instead of being undefined behaviour. */
static void *held[4096];
static size_t nheld;

static void hold_free(void *p)
{
    if (p != NULL && nheld < sizeof(held) / sizeof(held[0]))
        held[nheld++] = p;
    else
        free(p);
}

static void release_held(void)
{
    json_set_alloc_funcs(malloc, free);
    while (nheld > 0)
        free(held[--nheld]);
}

/* A rule on a whole member (one key) changes the event's own members; rules after it see that
 * (the first keys of the paths are looked up once per event and forgotten after such a rule). */
static void whole_member_rules(void **state)
{
    (void)state;
    json_set_alloc_funcs(malloc, hold_free);
    static const char yaml[] = "version: 1\n"
                               "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                               "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                               "orgs:\n"
                               "  - id: acme\n"
                               "    sources:\n"
                               "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
                               "    data_layer:\n"
                               "      hash_fields:\n"
                               "        - {path: traits.email, normalize: email}\n"
                               "        - {path: userId, normalize: external_id}\n"
                               "        - {path: traits.phone, normalize: phone}\n"
                               "        - {path: properties.email, normalize: email}\n"
                               "      mask:\n"
                               "        - {path: properties.card_number, plugin: partial}\n"
                               "        - {path: context.page.title, plugin: partial}\n"
                               "      drop: [properties.password, properties, context.secret]\n";
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("dl.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    json_t *ev = event("{\"type\":\"track\",\"event\":\"Order "
                       "Completed\",\"userId\":\"u-1\",\"traits\":{\"email\":\"a@b.c\",\"phone\":\"6505551212\"},"
                       "\"properties\":{\"password\":\"p\",\"email\":\"x@y.z\",\"card_number\":\"4111111111111111\"},"
                       "\"context\":{\"secret\":1,\"page\":{\"title\":\"Checkout\"}}}");
    seen_event_name[0] = '\0';
    sluice_masker_t m = {fake_mask, NULL, NULL};
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, &m, ev, NULL, &res, &st), 0);
    assert_string_equal(seen_event_name, "Order Completed"); /* a track event is named by `event` */
    /* properties went whole, after its password: the mask rule finds nothing to mask. */
    assert_null(json_object_get(ev, "properties"));
    assert_true(in_list(res.privacy, "dropped", "properties.password"));
    assert_true(in_list(res.privacy, "dropped", "properties"));
    assert_false(in_list(res.privacy, "masked", "properties.card_number"));
    assert_false(in_list(res.privacy, "hashed", "properties.email"));
    assert_null(json_object_get(json_object_get(ev, "context"), "secret"));
    assert_non_null(json_object_get(json_object_get(ev, "context"), "page"));
    /* userId replaced by its hash between the two traits rules, which both still apply. */
    assert_int_equal(json_string_length(json_object_get(ev, "userId")), 64);
    json_t *traits = json_object_get(ev, "traits");
    assert_int_equal(json_string_length(json_object_get(traits, "email")), 64);
    assert_int_equal(json_string_length(json_object_get(traits, "phone")), 64);
    assert_true(in_list(res.privacy, "hashed", "userId"));
    assert_true(in_list(res.privacy, "hashed", "traits.phone"));
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    release_held();
    sluice_config_free(cfg);
}

/* Reddit matches e-mails by a canonical form (its Manual Advanced Matching guide: lower-cased,
 * the local part cut at '+' and left with letters and digits): its own example,
 * "Al.ice$+Apple@Example.Com", must reach Reddit as the hash of "alice@example.com" (ff8d98...,
 * the hash the guide gives). It used to get TikTok's variant, the hash of the address as typed,
 * which matches no Reddit user. The phone is E.164 with '+' as before. */
static void reddit_gets_its_canonical_email(void **state)
{
    (void)state;
    static const char yaml[] = "version: 1\n"
                               "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                               "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                               "orgs:\n"
                               "  - id: acme\n"
                               "    sources:\n"
                               "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
                               "    data_layer:\n"
                               "      hash_fields:\n"
                               "        - {path: context.traits.email, normalize: email}\n"
                               "        - {path: context.traits.phone, normalize: phone, default_country_code: \"1\"}\n"
                               "    integrations:\n"
                               "      - {name: rdt, vendor: reddit, pixel_id: a2_test}\n";
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("dl.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    const sluice_org_t *org = &cfg->orgs[0];
    json_t *ev = event("{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"m-1\","
                       "\"timestamp\":\"2026-11-23T14:41:50.125Z\",\"context\":{\"traits\":"
                       "{\"email\":\" Al.ice$+Apple@Example.Com \",\"phone\":\"(650) 555-1212\"}}}");
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), NULL, ev, NULL, &res, &st), 0);

    /* The envelope as the gateway writes it to Kafka, mapped as the Reddit worker maps it. */
    json_t *env =
        json_pack("{s:i,s:s,s:s,s:O}", "v", 1, "org", "acme", "receivedAt", "2026-11-23T14:41:50.525Z", "event", ev);
    if (res.hashes != NULL)
        json_object_set(env, "hashes", res.hashes);
    char *raw = json_dumps(env, JSON_COMPACT);
    sluice_envelope_t e;
    sluice_err_t err;
    assert_int_equal(sluice_envelope_parse(&e, raw, strlen(raw), &err), 0);
    sluice_vendor_item_t item;
    char why[128] = "";
    assert_int_equal(
        sluice_vendor_map(&sluice_vendor_reddit, &org->integrations[0], &e, 1795444970525LL, &item, why, sizeof(why)),
        SLUICE_MAP_OK);
    json_t *body = json_loadb(item.body, item.body_len, 0, NULL), *user = json_object_get(body, "user");
    assert_string_equal(json_string_value(json_object_get(user, "email")),
                        "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976");
    assert_string_equal(json_string_value(json_object_get(user, "phone_number")),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"); /* +16505551212 */
    /* During a rolling upgrade (gateways first, or workers rolled back) a Reddit worker of the
     * previous release reads this envelope: its map took the phone as
     * sluice_envelope_hashed(e, phone, "tiktok") and knows no `reddit` variant. Without the
     * TikTok one it sent the field itself, Meta's hash of 16505551212 without '+', which matches
     * no Reddit user. */
    assert_string_equal(sluice_envelope_hashed(&e, SLUICE_UF_PHONE, "tiktok"),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    json_decref(body);
    sluice_vendor_item_dispose(&item);
    sluice_envelope_dispose(&e);
    free(raw);
    json_decref(env);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    sluice_config_free(cfg);
}

/* ---------------------------------------------------------------- on arena values (issue 17) */

/* The compact bytes of a jansson value and of a jv value, compared (NULL only with NULL). */
static void assert_same_text(const json_t *j, const sluice_jsonnum_t *nums, const sluice_jv_t *v)
{
    assert_int_equal(j == NULL, v == NULL);
    if (j == NULL)
        return;
    size_t lj, lv;
    char *wj = sluice_json_encode(j, nums, &lj), *wv = sluice_jv_encode(v, &lv);
    assert_non_null(wj);
    assert_non_null(wv);
    if (lj != lv || memcmp(wj, wv, lj) != 0)
        fail_msg("jansson %s\njv      %s", wj, wv);
    free(wj);
    free(wv);
}

/* What both trees gave for one event (the jv one's, once they are shown to agree). */
typedef struct both {
    int drop_event, rejected;
    char reject_path[128];
    sluice_dl_stats_t stats;
    char *out, *privacy; /* the event's and the privacy record's bytes, malloc'd */
} both_t;

/* One event through both functions with masker (may be NULL): the same return, counters, drop,
 * rejection, privacy, hashes and event bytes; b gets what they gave for the caller's own checks
 * (free b->out and b->privacy). */
static void apply_both_with(const sluice_org_t *org, const sluice_masker_t *masker, const char *text, both_t *b)
{
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_arena_t *a = sluice_json_arena_new();
    assert_non_null(nums);
    assert_non_null(a);
    sluice_json_error_t err;
    json_t *j = sluice_json_parse(text, strlen(text), 32, 4096, 0, nums, &err);
    sluice_jv_t *v = sluice_jv_parse(a, text, strlen(text), 32, 4096, 0, NULL, &err);
    assert_non_null(j);
    assert_non_null(v);
    unsigned variants = sluice_datalayer_variants(org);
    sluice_dl_result_t rj;
    sluice_dl_result_jv_t rv;
    sluice_dl_stats_t sj = {0}, sv = {0};
    assert_int_equal(sluice_datalayer_apply(org, variants, masker, j, nums, &rj, &sj), 0);
    assert_int_equal(sluice_datalayer_apply_jv(org, variants, masker, v, a, &rv, &sv), 0);
    assert_memory_equal(&sj, &sv, sizeof(sj));
    assert_int_equal(rj.drop_event, rv.drop_event);
    assert_int_equal(rj.rejected, rv.rejected);
    assert_string_equal(rj.reject_path, rv.reject_path);
    assert_same_text(rj.privacy, NULL, rv.privacy);
    assert_same_text(rj.hashes, NULL, rv.hashes);
    assert_same_text(j, nums, v);
    b->drop_event = rv.drop_event;
    b->rejected = rv.rejected;
    memcpy(b->reject_path, rv.reject_path, sizeof(b->reject_path));
    b->stats = sv;
    b->out = sluice_jv_encode(v, NULL);
    b->privacy = sluice_jv_encode(rv.privacy, NULL);
    assert_non_null(b->out);
    assert_non_null(b->privacy);
    sluice_dl_result_dispose(&rj);
    json_decref(j);
    sluice_json_arena_free(a);
    sluice_jsonnum_free(nums);
}

/* apply_both_with without a masker; *out gets the jv event's bytes (malloc'd). */
static void apply_both(const sluice_org_t *org, const char *text, int *drop_event, char **out)
{
    both_t b;
    apply_both_with(org, NULL, text, &b);
    *drop_event = b.drop_event;
    *out = b.out;
    free(b.privacy);
}

/* Consent's strip removing the whole context (a rule on `context`) leaves nothing there for a
 * rule below it: the data layer does not act on (nor list) a context the event no longer has. */
static void strip_of_whole_context_leaves_nothing_below(void **state)
{
    (void)state;
    assert_int_equal(sluice_json_arena_install(), 0);
    sluice_config_t *cfg = load_yaml(ACME_HEAD "    consent: {required: [analytics], policy: strip}\n"
                                               "    data_layer:\n"
                                               "      mask: [{path: context, plugin: partial}]\n"
                                               "      drop: [context.page]\n");
    both_t b;
    apply_both_with(&cfg->orgs[0], NULL,
                    "{\"type\":\"page\",\"context\":{\"page\":{\"url\":\"https://x.test/\"}},\"name\":\"Home\"}", &b);
    assert_string_equal(b.out, "{\"type\":\"page\",\"name\":\"Home\"}");
    assert_int_equal(b.stats.dropped, 0);
    assert_null(strstr(b.privacy, "context.page"));
    assert_non_null(strstr(b.privacy, "\"stripped\""));
    free(b.out);
    free(b.privacy);
    sluice_config_free(cfg);
}

static void jv_as_jansson(void **state)
{
    (void)state;
    assert_int_equal(sluice_json_arena_install(), 0);
    int dropped;
    char *out;
    /* Consent given: e-mail hashed (any spelling below traits), phone with Meta's and Reddit's
     * variants, array elements, drops with mixed case, an ungendered gender removed. */
    sluice_config_t *cfg = load_from(1, "strip");
    const sluice_org_t *org = &cfg->orgs[0];
    apply_both(org,
               "{\"type\":\"identify\",\"userId\":\"u1\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]},"
               "\"traits\":{\"Email\":\"John_Smith@gmail.com\"}},"
               "\"traits\":{\"email\":\"John_Smith@gmail.com\",\"phone\":\"(650)555-1212\",\"gender\":\"x\"},"
               "\"properties\":{\"password\":\"hunter2\",\"tags\":[\"vip\",{\"a\":1}],\"cvv\":\"1\",\"CVV\":\"2\","
               "\"price\":19.90,"
               "\"items\":[{\"email\":\"A.B@Gmail.com\",\"secret\":\"s1\"},{\"email\":7},\"x\",{\"email\":true}]}}",
               &dropped, &out);
    assert_false(dropped);
    assert_non_null(strstr(out, "\"email\":\"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f\""));
    assert_non_null(strstr(out, "\"Email\":\"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f\""));
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "cvv"));
    assert_null(strstr(out, "CVV"));
    assert_null(strstr(out, "gender"));
    assert_null(strstr(out, "s1"));
    assert_non_null(strstr(out, "19.90"));                /* numbers as sent */
    assert_non_null(strstr(out, "\"tags\":[null,null]")); /* array elements dropped in place */
    assert_non_null(strstr(out, "\"x\",{}]"));            /* a boolean e-mail cannot be hashed: removed */
    free(out);
    /* No consent, policy strip: the person's ids and traits go, the rest stays. */
    apply_both(
        org,
        "{\"type\":\"track\",\"event\":\"Buy\",\"userId\":\"u1\",\"traits\":{\"email\":\"a@b.c\"},"
        "\"context\":{\"ip\":\"1.2.3.4\",\"page\":{\"url\":\"https://x.test/\"}},\"properties\":{\"sku\":\"k\"}}",
        &dropped, &out);
    assert_false(dropped);
    assert_string_equal(out,
                        "{\"type\":\"track\",\"event\":\"Buy\",\"context\":{\"page\":{\"url\":\"https://x.test/\"}},"
                        "\"properties\":{\"sku\":\"k\"}}");
    free(out);
    sluice_config_free(cfg);
    /* No consent, policy drop: the event is dropped on both trees alike. */
    cfg = load_from(1, "drop");
    apply_both(&cfg->orgs[0], "{\"type\":\"track\",\"event\":\"Buy\",\"traits\":{\"email\":\"a@b.c\"}}", &dropped,
               &out);
    assert_true(dropped);
    free(out);
    sluice_config_free(cfg);
}

/* The privacy lists name a rule by its path as configured, as JSON: a path with a quote escaped
 * as the writer escapes any string, one with a byte beyond ASCII or DEL as the writer writes it
 * (on both trees alike), the others as they are. (A config path holds no backslash.) */
static void privacy_lists_escape_paths(void **state)
{
    (void)state;
    assert_int_equal(sluice_json_arena_install(), 0);
    sluice_config_t *cfg = load_yaml(ACME_HEAD "    data_layer:\n"
                                               "      drop: [\"properties.pa\\\"ss\", \"properties.caf\\u00e9\",\n"
                                               "             \"properties.tab\\u007f\", properties.plain]\n");
    both_t b;
    apply_both_with(&cfg->orgs[0], NULL,
                    "{\"type\":\"track\",\"properties\":{\"pa\\\"ss\":1,\"caf\\u00e9\":3,"
                    "\"tab\\u007f\":4,\"plain\":5,\"kept\":6}}",
                    &b);
    assert_string_equal(b.out, "{\"type\":\"track\",\"properties\":{\"kept\":6}}");
    assert_string_equal(b.privacy, "{\"hashed\":[],\"masked\":[],\"dropped\":[\"properties.pa\\\"ss\","
                                   "\"properties.caf\xc3\xa9\",\"properties.tab\x7f\","
                                   "\"properties.plain\"]}");
    free(b.out);
    free(b.privacy);
    sluice_config_free(cfg);
}

/* Mask rules with real plugins, through gateway/masker.c's seam on both trees: partial (a
 * built-in) and the fixture plugin of tests/fixtures/plugins (steered by its params: it fails on
 * fail_on, and with an empty prefix and every_type it hands every value back as it was). */
static const char masks_yaml[] =
    "version: 1\n"
    "server: {http: {listen: \"127.0.0.1:0\"}}\n"
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"
    "plugins: {dir: \"" SLUICE_TEST_PLUGIN_DIR "\"}\n"
    "orgs:\n"
    "  - id: acme\n"
    "    sources:\n"
    "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
    "    data_layer:\n"
    "      hash_fields:\n"
    "        - {path: traits.email, normalize: email}\n"
    "      mask:\n"
    "        - {path: properties.card_number, plugin: partial, params: {keep_last: 4}}\n"
    "        - {path: properties.account, plugin: partial, params: {keep_last: 4}}\n"
    "        - {path: traits.card, plugin: partial}\n"
    "        - {path: properties.price, plugin: \"" SLUICE_TEST_FIXTURE_DIR
    "/fixture.so\", params: {every_type: true}}\n"
    "        - {path: properties.ssn, plugin: \"" SLUICE_TEST_FIXTURE_DIR
    "/fixture.so\", params: {fail_on: \"123-45-6789\"}, on_error: reject}\n"
    "        - {path: properties.note, plugin: \"" SLUICE_TEST_FIXTURE_DIR "/fixture.so\", params: {fail_on: boom}}\n"
    "        - {path: \"properties.echo[*]\", plugin: \"" SLUICE_TEST_FIXTURE_DIR
    "/fixture.so\", params: {prefix: \"\", every_type: true}}\n";

/* masks_yaml's config, its plugin set and one thread's masker (arenas installed). */
typedef struct masks {
    sluice_config_t *cfg;
    sluice_plugin_set_t *set;
    sluice_gw_maskers_t *maskers;
    const sluice_masker_t *masker;
    const sluice_org_t *org;
} masks_t;

static void masks_load(masks_t *m)
{
    assert_int_equal(sluice_json_arena_install(), 0);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    m->cfg = sluice_config_load_string("masks.yaml", masks_yaml, strlen(masks_yaml), SLUICE_CONFIG_NO_ENV, &d);
    m->set = m->cfg != NULL ? sluice_plugin_set_load(m->cfg, NULL, 1, 0, &d) : NULL;
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(m->set);
    m->maskers = sluice_gw_maskers_create(m->set, m->cfg, 1);
    assert_non_null(m->maskers);
    m->masker = sluice_gw_maskers_get(m->maskers, 0);
    m->org = &m->cfg->orgs[0];
}

static void masks_free(masks_t *m)
{
    sluice_gw_maskers_free(m->maskers);
    sluice_plugin_set_free(m->set);
    sluice_config_free(m->cfg);
}

static void jv_masks_as_jansson(void **state)
{
    (void)state;
    masks_t mk;
    masks_load(&mk);
    const sluice_masker_t *masker = mk.masker;
    const sluice_org_t *org = mk.org;
    both_t b;

    /* A card masked, the e-mail next to it hashed, a number masked as sent (23 digits: a double
     * would give 1.2345678901234568e+22), a price handed over as sent (19.90, not 19.9), a card in
     * traits masked once and its mirror context.traits.card given the same answer. */
    apply_both_with(org, masker,
                    "{\"type\":\"track\",\"event\":\"Order Completed\",\"traits\":{\"email\":\"John_Smith@gmail.com\","
                    "\"card\":\"5500000000000004\"},\"context\":{\"traits\":{\"card\":\"5500000000000004\"}},"
                    "\"properties\":{\"card_number\":\"4111111111111111\",\"account\":12345678901234567890123,"
                    "\"price\":19.90,\"note\":\"fine\"}}",
                    &b);
    assert_false(b.rejected);
    assert_non_null(strstr(b.out, "\"card_number\":\"************1111\""));
    assert_non_null(strstr(b.out, "\"account\":\"*******************0123\""));
    assert_non_null(strstr(b.out, "\"price\":\"m:19.90\""));
    assert_non_null(strstr(b.out, "\"traits\":{\"card\":\"************0004\"}}"));
    assert_non_null(strstr(b.out, "\"email\":\"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f\""));
    assert_null(strstr(b.out, "4111111111111111"));
    assert_null(strstr(b.out, "5500000000000004"));
    assert_int_equal(b.stats.masked, 6);
    assert_int_equal(b.stats.mask_failed, 0);
    assert_string_equal(b.privacy, "{\"hashed\":[\"traits.email\"],\"masked\":[\"properties.card_number\","
                                   "\"properties.account\",\"traits.card\",\"context.traits.card\","
                                   "\"properties.price\",\"properties.note\"],\"dropped\":[]}");
    free(b.out);
    free(b.privacy);

    /* The plugin is told its field: the org, the rule's path, the value's path and the event. */
    apply_both_with(org, masker, "{\"type\":\"track\",\"event\":\"Signed Up\",\"properties\":{\"note\":\"__input__\"}}",
                    &b);
    assert_non_null(strstr(b.out, "\"note\":\"acme|properties.note|properties.note|Signed Up\""));
    free(b.out);
    free(b.privacy);

    /* A plugin that fails, on_error remove: the field goes, the event stays. */
    apply_both_with(org, masker, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"note\":\"boom\",\"a\":1}}", &b);
    assert_false(b.rejected);
    assert_string_equal(b.out, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"a\":1}}");
    assert_int_equal(b.stats.mask_failed, 1);
    assert_non_null(strstr(b.privacy, "\"dropped\":[\"properties.note\"]"));
    free(b.out);
    free(b.privacy);

    /* A plugin that fails, on_error reject: the event is rejected, its rule's path said. */
    apply_both_with(org, masker,
                    "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"ssn\":\"123-45-6789\",\"note\":\"ok\"}}",
                    &b);
    assert_true(b.rejected);
    assert_string_equal(b.reject_path, "properties.ssn");
    assert_null(strstr(b.out, "123-45-6789"));
    free(b.out);
    free(b.privacy);

    /* A plugin handing its input back: an e-mail, a card as a number (answered as its digits in a
     * string) and a card in an object are personal data left as they were: removed; a word that
     * is none stays, masked. */
    apply_both_with(org, masker,
                    "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"echo\":[\"a@b.example\","
                    "4111111111111111,{\"pan\":\"4111 1111 1111 1111\"},\"hello\"]}}",
                    &b);
    assert_false(b.rejected);
    assert_string_equal(b.out, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"echo\":[null,null,null,"
                               "\"hello\"]}}");
    assert_int_equal(b.stats.mask_failed, 3);
    assert_int_equal(b.stats.masked, 1);
    free(b.out);
    free(b.privacy);

    masks_free(&mk);
}

/* jansson allocations while counted_malloc is jansson's allocator. */
static size_t jansson_allocs;
static json_malloc_t real_malloc;

static void *counted_malloc(size_t n)
{
    jansson_allocs++;
    return real_malloc(n);
}

/* The masker's jv form makes no jansson value (issue 17: the bridge through jansson cost about
 * 1.8k instructions a masked value): the plugin gets the value's text, and its answer, a string or
 * JSON, is made in the request's arena, with the same event as on jansson. */
static void jv_masks_without_jansson(void **state)
{
    (void)state;
    masks_t mk;
    masks_load(&mk);
    const sluice_masker_t *masker = mk.masker;
    const sluice_org_t *org = mk.org;
    /* A card, a 23-digit number and a price as sent, a JSON answer with numbers a double would
     * spell otherwise (the fixture's "__numbers__"), and values handed back as they were. */
    static const char text[] =
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"traits\":{\"email\":\"John_Smith@gmail.com\","
        "\"card\":\"5500000000000004\"},\"context\":{\"traits\":{\"card\":\"5500000000000004\"}},"
        "\"properties\":{\"card_number\":\"4111111111111111\",\"account\":12345678901234567890123,"
        "\"price\":19.90,\"note\":\"__numbers__\",\"echo\":[\"a@b.example\",4111111111111111,\"hello\",{\"k\":1}]}}";
    both_t b;
    apply_both_with(org, masker, text, &b);
    assert_non_null(strstr(b.out, "\"note\":{\"price\":19.90,\"big\":12345678901234567890,\"list\":[1e21,-0,0.1]}"));
    free(b.out);
    free(b.privacy);

    sluice_json_arena_t *a = sluice_json_arena_new();
    assert_non_null(a);
    sluice_json_error_t err;
    sluice_jv_t *v = sluice_jv_parse(a, text, strlen(text), 32, 4096, 0, NULL, &err);
    assert_non_null(v);
    sluice_dl_result_jv_t rv;
    sluice_dl_stats_t sv = {0};
    json_free_t real_free;
    json_get_alloc_funcs(&real_malloc, &real_free);
    json_set_alloc_funcs(counted_malloc, real_free);
    jansson_allocs = 0;
    int rc = sluice_datalayer_apply_jv(org, sluice_datalayer_variants(org), masker, v, a, &rv, &sv);
    json_set_alloc_funcs(real_malloc, real_free);
    assert_int_equal(rc, 0);
    assert_int_equal(jansson_allocs, 0);
    assert_int_equal(sv.masked, 8);
    assert_int_equal(sv.mask_failed, 2);
    char *out = sluice_jv_encode(v, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "\"card_number\":\"************1111\""));
    assert_non_null(strstr(out, "\"account\":\"*******************0123\",\"price\":\"m:19.90\""));
    assert_non_null(strstr(out, "\"echo\":[null,null,\"hello\",\"{\\\"k\\\":1}\"]"));
    assert_null(strstr(out, "4111111111111111"));
    free(out);
    sluice_json_arena_free(a);
    masks_free(&mk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_drop_mask_and_privacy),
        cmocka_unit_test(mask_failure_rejects_or_removes),
        cmocka_unit_test(rules_cover_context_traits),
        cmocka_unit_test(consent_policies),
        cmocka_unit_test(already_hashed_is_left_alone),
        cmocka_unit_test(one_person_typed_two_ways),
        cmocka_unit_test(capital_hash_is_lowercased_not_rehashed),
        cmocka_unit_test(rules_match_any_spelling),
        cmocka_unit_test(own_rule_in_another_case_replaces_mirror),
        cmocka_unit_test(mirror_gets_the_fields_answer),
        cmocka_unit_test(whole_member_rules),
        cmocka_unit_test(shared_value_replaced),
        cmocka_unit_test(reddit_gets_its_canonical_email),
        cmocka_unit_test(jv_as_jansson),
        cmocka_unit_test(strip_of_whole_context_leaves_nothing_below),
        cmocka_unit_test(privacy_lists_escape_paths),
        cmocka_unit_test(jv_masks_as_jansson),
        cmocka_unit_test(jv_masks_without_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

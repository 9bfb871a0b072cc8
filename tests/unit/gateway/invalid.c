/* Tests for gateway/invalid.c: the record kafka.invalid_topic gets for a refused event, made from
 * the same event and error held as jansson values (sluice_invalid_record, the request path's) and
 * as arena values (sluice_invalid_record_jv), which must give the same answer and the same bytes:
 * the value an error names withheld and named, an e-mail the org hashes hashed, a found e-mail
 * masked, an event the consent policy drops and a forgotten person's event not recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/hash.h"
#include "gateway/invalid.h"
#include "json/jv_json.h"
#include "json/parse.h"
#include "json/write.h"

/* acme hashes traits.email, drops properties.password and masks what its guard finds; strict
 * drops an event without consent; masked has a mask rule (stub_masker below stands for its plugin). */
static const char yaml[] = "version: 1\n"
                           "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                           "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                           "orgs:\n"
                           "  - id: acme\n"
                           "    sources: [{id: web, write_key_env: A_KEY}]\n"
                           "    data_layer:\n"
                           "      hash_fields:\n"
                           "        - {path: traits.email, normalize: email}\n"
                           "      drop: [properties.password]\n"
                           "      pii_guard: mask\n"
                           "  - id: strict\n"
                           "    sources: [{id: web, write_key_env: B_KEY}]\n"
                           "    consent: {required: [analytics], policy: drop}\n"
                           "  - id: masked\n"
                           "    sources: [{id: web, write_key_env: C_KEY}]\n"
                           "    data_layer:\n"
                           "      mask:\n"
                           "        - {path: properties.card_number, plugin: partial}\n";

#define WHEN "2026-12-07T06:00:00.000Z"

typedef struct fixture {
    sluice_config_t *cfg;
    sluice_piiguard_t *guard;
    sluice_piiguard_thread_t *pii;
    sluice_forgotten_t *f;
    uint8_t key[SLUICE_PSEUDONYM_LEN];
} fixture_t;

static fixture_t X;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sluice_json_arena_install(), 0);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    X.cfg = sluice_config_load_string("invalid.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    sluice_config_diag_dispose(&d);
    assert_non_null(X.cfg);
    X.guard = sluice_piiguard_create(&X.cfg->orgs[0]);
    X.pii = sluice_piiguard_thread_create();
    sluice_err_t err;
    X.f = sluice_forgotten_create(X.cfg, 1, NULL, &err);
    assert_non_null(X.guard);
    assert_non_null(X.pii);
    assert_non_null(X.f);
    assert_int_equal(sluice_pseudonym_org_key("secret", 6, "acme", X.key), 0);
    sluice_pseudonym_set_t *set = sluice_pseudonym_set_create();
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
    assert_non_null(set);
    assert_int_equal(sluice_pseudonym_hex(X.key, "forgotten-user", 14, hex), 0);
    assert_int_equal(sluice_pseudonym_set_add_hex(set, "acme", hex), 0);
    sluice_pseudonym_set_seal(set);
    assert_int_equal(sluice_forgotten_use(X.f, set), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_forgotten_destroy(X.f);
    sluice_piiguard_thread_destroy(X.pii);
    sluice_piiguard_destroy(X.guard);
    sluice_config_free(X.cfg);
    return 0;
}

/* A plugin's answer on both trees: the value replaced by "masked". */
static sluice_mask_outcome_t stub_mask(void *ud, const sluice_org_t *org, size_t rule_index, json_t *event,
                                       const char *event_name, json_t *parent, const char *key, size_t index,
                                       json_t *value, const char *concrete_path, sluice_jsonnum_t *nums)
{
    (void)ud, (void)org, (void)rule_index, (void)event, (void)event_name, (void)value, (void)concrete_path, (void)nums;
    int rc = key != NULL ? json_object_set_new(parent, key, json_string("masked"))
                         : json_array_set_new(parent, index, json_string("masked"));
    return rc == 0 ? SLUICE_MASK_REPLACED : SLUICE_MASK_FAILED;
}

static sluice_mask_outcome_t stub_mask_jv(void *ud, const sluice_org_t *org, size_t rule_index, sluice_jv_t *event,
                                          const char *event_name, sluice_json_arena_t *a, sluice_jv_t *parent,
                                          const char *key, size_t key_len, size_t index, sluice_jv_t *value,
                                          const char *concrete_path)
{
    (void)ud, (void)org, (void)rule_index, (void)event, (void)event_name, (void)value, (void)concrete_path;
    sluice_jv_t *v = sluice_jv_string(a, "masked", 6);
    int rc = v == NULL     ? -1
             : key != NULL ? sluice_jv_object_setn(a, parent, key, key_len, v)
                           : sluice_jv_array_set(parent, index, v);
    return rc == 0 ? SLUICE_MASK_REPLACED : SLUICE_MASK_FAILED;
}

static const sluice_masker_t stub_masker = {.mask = stub_mask, .mask_jv = stub_mask_jv};

/* The record of event (JSON text, or NULL for an event nothing of which was kept) refused with
 * error (JSON text) for org org_index, made on both trees: both must return want and, with a
 * record, write the same bytes, returned (malloc'd) or NULL. */
static char *record(size_t org_index, const char *event, const char *error, int want)
{
    const sluice_org_t *org = &X.cfg->orgs[org_index];
    sluice_invalid_env_t env = {
        .org = org,
        .source = "web",
        .received_at = WHEN,
        .forgotten = X.f,
        .thread = 0,
        .forget_key = X.key,
        .guard = org_index == 0 ? X.guard : NULL,
        .pii = X.pii,
        .masker = org_index == 2 ? &stub_masker : NULL,
    };
    sluice_json_error_t e;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_arena_t *a = sluice_json_arena_new();
    json_t *ej = event != NULL ? sluice_json_parse(event, strlen(event), 64, 1 << 20, 1000, nums, &e) : NULL;
    sluice_jv_t *ev = event != NULL ? sluice_jv_parse(a, event, strlen(event), 64, 1 << 20, 1000, NULL, &e) : NULL;
    json_t *errj = sluice_json_parse(error, strlen(error), 64, 1 << 20, 1000, NULL, &e);
    sluice_jv_t *errv = sluice_jv_parse(a, error, strlen(error), 64, 1 << 20, 1000, NULL, &e);
    assert_true(event == NULL || (ej != NULL && ev != NULL));
    assert_true(errj != NULL && errv != NULL);
    json_t *rj = NULL;
    sluice_jv_t *rv = NULL;
    assert_int_equal(sluice_invalid_record(&env, ej, errj, nums, &rj), want);
    assert_int_equal(sluice_invalid_record_jv(&env, ev, errv, a, &rv), want);
    char *out = NULL;
    if (want == 1) {
        size_t lj, lv;
        out = sluice_json_encode(rj, nums, &lj);
        char *wv = sluice_jv_encode(rv, &lv);
        assert_non_null(out);
        assert_non_null(wv);
        assert_string_equal(out, wv);
        free(wv);
    } else {
        assert_null(rj);
        assert_null(rv);
    }
    json_decref(rj);
    json_decref(ej);
    json_decref(errj);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return out;
}

/* An e-mail sent as the timestamp (refused for it) is withheld from the record, which names it;
 * the rest of the event is kept as sent, numbers as written. */
static void test_withholds_the_invalid_value(void **state)
{
    (void)state;
    char *r = record(
        0, "{\"type\":\"track\",\"event\":\"Signed Up\",\"timestamp\":\"jane@x.io\",\"properties\":{\"n\":1.50}}",
        "{\"index\":0,\"code\":\"invalid_timestamp\",\"message\":\"timestamp is not RFC 3339\","
        "\"path\":\"timestamp\"}",
        1);
    assert_string_equal(r, "{\"v\":1,\"org\":\"acme\",\"source\":\"web\",\"receivedAt\":\"" WHEN "\","
                           "\"error\":{\"index\":0,\"code\":\"invalid_timestamp\",\"message\":\"timestamp is not RFC "
                           "3339\",\"path\":\"timestamp\"},"
                           "\"event\":{\"type\":\"track\",\"event\":\"Signed Up\",\"properties\":{\"n\":1.50}},"
                           "\"privacy\":{\"hashed\":[],\"masked\":[],\"dropped\":[]},\"withheld\":\"timestamp\"}");
    free(r);
    /* In a batch, the path after the event's own index; a type validation never reached goes too. */
    r = record(0, "{\"type\":\"jane@x.io\",\"context\":{\"traits\":\"x\"},\"event\":\"e\"}",
               "{\"index\":3,\"code\":\"invalid_type\",\"message\":\"m\",\"path\":\"batch[3].context.traits\"}", 1);
    assert_non_null(strstr(r, "\"event\":{\"context\":{},\"event\":\"e\"}"));
    assert_non_null(strstr(r, "\"withheld\":\"context.traits\""));
    assert_null(strstr(r, "jane@x.io"));
    free(r);
}

/* The org's rules apply as to an accepted event: traits.email hashed, properties.password dropped,
 * an e-mail the guard finds elsewhere masked; no e-mail reaches the record. */
static void test_applies_the_data_layer_and_guard(void **state)
{
    (void)state;
    char *r =
        record(0,
               "{\"type\":\"identify\",\"traits\":{\"email\":\"jane@x.io\"},\"properties\":{\"password\":\"p\","
               "\"note\":\"write to jane@x.io\"},\"event\":123}",
               "{\"index\":0,\"code\":\"invalid_event\",\"message\":\"event must be a string\",\"path\":\"x\"}", 1);
    char sha[65], want[128];
    assert_int_equal(sluice_sha256_hex("jane@x.io", 9, sha), 0);
    snprintf(want, sizeof(want), "\"traits\":{\"email\":\"%s\"}", sha);
    assert_non_null(strstr(r, want));
    assert_null(strstr(r, "jane@x.io"));
    assert_null(strstr(r, "\"password\":"));
    assert_non_null(strstr(r, "\"hashed\":[\"traits.email\"]"));
    assert_non_null(strstr(r, "\"dropped\":[\"properties.password\"]"));
    assert_non_null(strstr(r, "\"detected\":[{\"path\":\"properties.note\""));
    assert_null(strstr(r, "withheld")); /* "x" named no member of the event */
    free(r);
}

/* An event the consent policy drops is not recorded; nor is a forgotten person's (counted as
 * suppressed on both trees); an event nothing of which was kept is recorded without it. */
static void test_no_record(void **state)
{
    (void)state;
    const char *err = "{\"index\":0,\"code\":\"invalid_timestamp\",\"message\":\"m\",\"path\":\"timestamp\"}";
    assert_null(record(1, "{\"type\":\"track\",\"timestamp\":\"x\",\"event\":\"e\"}", err, 0));
    char *r = record(1, "{\"type\":\"track\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}}", err, 1);
    assert_non_null(strstr(r, "\"event\":{\"type\":\"track\""));
    free(r);
    assert_null(record(0, "{\"type\":\"track\",\"userId\":\"forgotten-user\",\"timestamp\":\"x\"}", err, 0));
    assert_null(record(0, "{\"type\":\"track\",\"context\":{\"identity\":{\"userId\":\"forgotten-user\"}}}", err, 0));
    /* Nothing ran over it: its privacy record is null, as every record has the member. */
    r = record(0, NULL, err, 1);
    assert_string_equal(r, "{\"v\":1,\"org\":\"acme\",\"source\":\"web\",\"receivedAt\":\"" WHEN
                           "\",\"error\":{\"index\":0,"
                           "\"code\":\"invalid_timestamp\",\"message\":\"m\",\"path\":\"timestamp\"},\"event\":null,"
                           "\"privacy\":null}");
    free(r);
}

/* An org's mask rules run on both trees: the card in the record is the plugin's answer, listed
 * as masked (the jv record refused such an org before the data layer masked on jv). */
static void test_masks_on_both_trees(void **state)
{
    (void)state;
    char *r =
        record(2, "{\"type\":\"track\",\"timestamp\":\"x\",\"properties\":{\"card_number\":\"4111111111111111\"}}",
               "{\"index\":0,\"code\":\"invalid_event\",\"message\":\"bad time\",\"path\":\"timestamp\"}", 1);
    assert_non_null(strstr(r, "\"properties\":{\"card_number\":\"masked\"}"));
    assert_non_null(strstr(r, "\"masked\":[\"properties.card_number\"]"));
    assert_null(strstr(r, "4111"));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_withholds_the_invalid_value),
        cmocka_unit_test(test_applies_the_data_layer_and_guard),
        cmocka_unit_test(test_no_record),
        cmocka_unit_test(test_masks_on_both_trees),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

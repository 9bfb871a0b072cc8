/* Tests for gateway/piiguard.c: personal data in fields no rule names, found by the scanner and by
 * key names, under each mode; what rules and exceptions cover is left alone; look-alikes
 * (UUIDs, timestamps, prices, vendor cookies) pass untouched; findings named by path only, capped
 * per event and per thread, and rendered as metrics. Orgs come from real YAML through the loader,
 * and the data layer runs first as in the gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"
#include "crypto/hash.h"
#include "gateway/datalayer.h"
#include "gateway/piiguard.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"

static const char yaml_fmt[] = "version: 1\n"
                               "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                               "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                               "orgs:\n"
                               "  - id: acme\n"
                               "    sources:\n"
                               "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
                               "    data_layer:\n"
                               "      hash_fields:\n"
                               "        - {path: traits.email, normalize: email}\n"
                               "        - {path: traits.phone, normalize: phone, default_country_code: \"1\"}\n"
                               "      drop: [properties.password]\n"
                               "      pii_guard: %s\n";

typedef struct fixture {
    sluice_config_t *cfg;
    sluice_piiguard_t *g;
    sluice_piiguard_thread_t *t;
    json_t *privacy;
} fixture_t;

static void setup(fixture_t *f, const char *guard)
{
    char yaml[sizeof(yaml_fmt) + 256];
    snprintf(yaml, sizeof(yaml), yaml_fmt, guard);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    f->cfg = sluice_config_load_string("guard.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(f->cfg);
    f->g = sluice_piiguard_create(&f->cfg->orgs[0]);
    f->t = sluice_piiguard_thread_create();
    assert_non_null(f->g);
    assert_non_null(f->t);
    f->privacy = NULL;
}

static void teardown(fixture_t *f)
{
    json_decref(f->privacy);
    sluice_piiguard_thread_destroy(f->t);
    sluice_piiguard_destroy(f->g);
    sluice_config_free(f->cfg);
}

/* The data layer, then the guard (with the numbers' texts nums, may be NULL), on ev, as
 * produce_all runs them. */
static void apply(fixture_t *f, json_t *ev, const sluice_jsonnum_t *nums, sluice_piiguard_stats_t *st)
{
    sluice_dl_result_t dl;
    sluice_dl_stats_t dst = {0};
    assert_int_equal(sluice_datalayer_apply(&f->cfg->orgs[0], 0, NULL, ev, NULL, &dl, &dst), 0);
    sluice_piiguard_stats_t local;
    assert_int_equal(sluice_piiguard_apply(f->g, f->t, ev, nums, dl.privacy, 1000, NULL, st ? st : &local), 0);
    json_decref(f->privacy);
    f->privacy = json_incref(dl.privacy);
    sluice_dl_result_dispose(&dl);
}

/* text read by jansson, then apply without texts. Returns the event (caller frees). */
static json_t *run(fixture_t *f, const char *text, sluice_piiguard_stats_t *st)
{
    json_error_t e;
    json_t *ev = json_loads(text, 0, &e);
    assert_non_null(ev);
    apply(f, ev, NULL, st);
    return ev;
}

/* text read by the request parser, which records each number's text in nums (cleared first);
 * then apply, the guard given those texts when use_texts. Returns the event (caller frees). */
static json_t *run_as_sent(fixture_t *f, const char *text, sluice_jsonnum_t *nums, int use_texts)
{
    sluice_json_error_t je;
    sluice_jsonnum_clear(nums);
    json_t *ev = sluice_json_parse(text, strlen(text), 64, 1 << 20, 1000, nums, &je);
    if (ev == NULL)
        print_message("parse: %s at %u:%u\n", je.message, je.line, je.column);
    assert_non_null(ev);
    apply(f, ev, use_texts ? nums : NULL, NULL);
    return ev;
}

static char *dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(s);
    return s;
}

/* The detected entry for path, as "matcher/action", or NULL. */
static const char *detected(const fixture_t *f, const char *path)
{
    static char out[96];
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(f->privacy, "detected"), i, d) {
        if (strcmp(json_string_value(json_object_get(d, "path")), path) == 0) {
            snprintf(out, sizeof(out), "%s/%s", json_string_value(json_object_get(d, "matcher")),
                     json_string_value(json_object_get(d, "action")));
            return out;
        }
    }
    return NULL;
}

static size_t detected_count(const fixture_t *f)
{
    return json_array_size(json_object_get(f->privacy, "detected"));
}

/* The identify of the issue: an e-mail as userId, traits.phone_number (the rule names
 * traits.phone) and a phone inside properties.contact. */
static const char identify[] =
    "{\"type\":\"identify\",\"userId\":\"Jane.Doe@Example.com\",\"anonymousId\":\"a3bb189e-8bf9-3888-9912-"
    "ace4e6543002\","
    "\"traits\":{\"email\":\"jane.doe@example.com\",\"phone_number\":\"+1 (650) 555-1212\",\"plan\":\"pro\"},"
    "\"properties\":{\"contact\":\"call me on 020 7946 0958 after 6\"},"
    "\"context\":{\"traits\":{\"email\":\"jane.doe@example.com\"}}}";

static void test_mask_the_issue_identify(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    sluice_piiguard_stats_t st;
    json_t *ev = run(&f, identify, &st);
    char *text = dump(ev), *priv = dump(f.privacy);
    /* No raw e-mail or phone anywhere, in any spelling. */
    const char *raw[] = {"@", "555-1212", "5551212", "7946", "Jane", "jane"};
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        if (strstr(text, raw[i]) != NULL || strstr(priv, raw[i]) != NULL)
            fail_msg("'%s' left in %s / %s", raw[i], text, priv);
    }
    /* The userId is the e-mail's hash under the e-mail normaliser: it joins traits.email. */
    char hex[65];
    assert_int_equal(sluice_sha256_hex("jane.doe@example.com", 20, hex), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), hex);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "email")), hex);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "phone_number")), "[phone]");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "properties"), "contact")),
                        "call me on [phone] after 6");
    /* Exactly the three paths; the ruled ones (traits.email and its mirror) are not findings. */
    assert_int_equal(detected_count(&f), 3);
    assert_string_equal(detected(&f, "userId"), "email/hashed");
    assert_string_equal(detected(&f, "traits.phone_number"), "phone/masked");
    assert_string_equal(detected(&f, "properties.contact"), "phone/masked");
    assert_int_equal(st.detected, 3);
    assert_int_equal(st.changed, 3);
    /* Untouched: the anonymous id (a UUID), the plan. */
    assert_string_equal(json_string_value(json_object_get(ev, "anonymousId")), "a3bb189e-8bf9-3888-9912-ace4e6543002");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "plan")), "pro");
    free(text);
    free(priv);
    json_decref(ev);
    teardown(&f);
}

static void test_report_changes_nothing(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "report");
    json_t *ev = run(&f, identify, NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), "Jane.Doe@Example.com");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "phone_number")),
                        "+1 (650) 555-1212");
    assert_string_equal(detected(&f, "userId"), "email/reported");
    assert_string_equal(detected(&f, "traits.phone_number"), "phone/reported");
    assert_string_equal(detected(&f, "properties.contact"), "phone/reported");
    /* Paths, never values, in the record. */
    char *priv = dump(f.privacy);
    assert_null(strstr(priv, "Jane"));
    assert_null(strstr(priv, "555"));
    free(priv);
    json_decref(ev);
    teardown(&f);
}

/* A percent-encoded e-mail in a field no rule names (a referrer's query string, an id) is found
 * and masked like a plain one: the guard's prefilter once let it through unscanned because it
 * holds neither an '@' nor six digits. */
static void test_percent_encoded_email(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    json_t *ev = run(&f,
                     "{\"type\":\"track\",\"anonymousId\":\"jane%40example.com\",\"properties\":{\"ref\":"
                     "\"https://x.test/?e=jane%40example.com\",\"note\":\"Hello%20World\"}}",
                     NULL);
    json_t *props = json_object_get(ev, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "ref")), "https://x.test/?e=[email]");
    assert_string_equal(json_string_value(json_object_get(props, "note")), "Hello%20World");
    assert_string_equal(detected(&f, "properties.ref"), "email/masked");
    assert_string_equal(detected(&f, "anonymousId"), "email/hashed");
    assert_null(strstr(json_string_value(json_object_get(ev, "anonymousId")), "jane"));
    json_decref(ev);
    teardown(&f);
}

static void test_off_is_off(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "\"off\"");
    json_t *ev = run(&f, identify, NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), "Jane.Doe@Example.com");
    assert_null(json_object_get(f.privacy, "detected"));
    json_decref(ev);
    teardown(&f);
}

static void test_hash_mode(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "hash");
    json_t *ev = run(&f,
                     "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"note\":\"mail Jane@X.io\","
                     "\"customer_email\":\"Bob@Y.io \",\"shipping_street\":\"12 Main St\"}}",
                     NULL);
    json_t *p = json_object_get(ev, "properties");
    char want[65], hex[65];
    assert_int_equal(sluice_sha256_hex("jane@x.io", 9, hex), 0);
    snprintf(want, sizeof(want), "%s", hex);
    char note[80];
    snprintf(note, sizeof(note), "mail %s", want);
    assert_string_equal(json_string_value(json_object_get(p, "note")), note);
    /* A key naming an e-mail: the whole value, normalised like a hash rule would. */
    assert_int_equal(sluice_sha256_hex("bob@y.io", 8, hex), 0);
    assert_string_equal(json_string_value(json_object_get(p, "customer_email")), hex);
    assert_string_equal(detected(&f, "properties.customer_email"), "email/hashed");
    /* A street has no normaliser: raw bytes hashed (external_id). */
    assert_int_equal(sluice_sha256_hex("12 Main St", 10, hex), 0);
    assert_string_equal(json_string_value(json_object_get(p, "shipping_street")), hex);
    assert_string_equal(detected(&f, "properties.shipping_street"), "key:address/hashed");
    json_decref(ev);
    teardown(&f);
}

static void test_key_names_and_keys_holding_pii(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    json_t *ev = run(&f,
                     "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"name\":\"Jane Doe\","
                     "\"address\":{\"street\":\"12 Main St\",\"city\":\"Springfield\",\"postalCode\":\"12345\"},"
                     "\"phone\":\"555 1212\",\"phone2\":\"555-1213\",\"email_verified\":true},"
                     "\"properties\":{\"jane@x.io\":true,\"ok\":1}}",
                     NULL);
    json_t *tr = json_object_get(ev, "traits"), *addr = json_object_get(tr, "address");
    assert_string_equal(json_string_value(json_object_get(tr, "name")), "[name]");
    assert_string_equal(json_string_value(json_object_get(addr, "street")), "[address]");
    assert_string_equal(json_string_value(json_object_get(addr, "city")), "Springfield");
    assert_string_equal(json_string_value(json_object_get(addr, "postalCode")), "[postal_code]");
    /* traits.phone has a hash rule (and a short number it cannot normalise: removed, fail closed);
     * phone2 is the guard's. */
    assert_null(detected(&f, "traits.phone"));
    assert_string_equal(json_string_value(json_object_get(tr, "phone2")), "[phone]");
    assert_string_equal(detected(&f, "traits.phone2"), "key:phone/masked");
    assert_true(json_is_true(json_object_get(tr, "email_verified")));
    /* A key that is an e-mail: removed, named by what it holds. */
    json_t *props = json_object_get(ev, "properties");
    assert_null(json_object_get(props, "jane@x.io"));
    assert_int_equal(json_integer_value(json_object_get(props, "ok")), 1);
    assert_string_equal(detected(&f, "properties.<email>"), "email/removed");
    char *priv = dump(f.privacy);
    assert_null(strstr(priv, "jane"));
    free(priv);
    json_decref(ev);
    teardown(&f);
}

static void test_exceptions_rules_and_skips(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "{mode: mask, except: [properties.order_ref, \"properties.lines[*].contact\"]}");
    json_t *ev = run(&f,
                     "{\"type\":\"track\",\"event\":\"Order\",\"messageId\":\"123e4567-e89b-12d3-a456-426614174000\","
                     "\"timestamp\":\"2026-12-02T10:00:00.000Z\",\"properties\":{\"order_ref\":\"0612345678\","
                     "\"lines\":[{\"contact\":\"0612345678\",\"sku\":\"AB-1\"}],\"price\":19.9,\"ts\":1764671000123,"
                     "\"password\":\"0612345678\"},"
                     "\"context\":{\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109\","
                     "\"vendorIds\":{\"fbp\":\"fb.1.1596403881668.1116446470\"},\"ip\":\"203.0.113.9\","
                     "\"page\":{\"url\":\"https://x.test/p?id=4111111111111111\"}}}",
                     NULL);
    char *text = dump(ev);
    assert_non_null(strstr(text, "\"order_ref\":\"0612345678\""));
    assert_non_null(strstr(text, "\"contact\":\"0612345678\""));
    assert_null(strstr(text, "password"));
    assert_non_null(strstr(text, "1764671000123"));
    assert_non_null(strstr(text, "fb.1.1596403881668.1116446470"));
    assert_non_null(strstr(text, "123e4567-e89b-12d3-a456-426614174000"));
    /* An unruled page URL with a card number in it is masked. */
    assert_non_null(strstr(text, "https://x.test/p?id=[card]"));
    assert_string_equal(detected(&f, "context.page.url"), "card/masked");
    assert_int_equal(detected_count(&f), 1);
    free(text);
    json_decref(ev);
    teardown(&f);
}

static void test_arrays_numbers_and_once_per_event(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    sluice_piiguard_stats_t st;
    json_t *ev = run(&f,
                     "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"items\":[{\"buyer\":\"a@x.io\"},"
                     "{\"buyer\":\"b@x.io\"}],\"card\":4111111111111111,\"tags\":[\"a@x.io\",\"plain\"]}}",
                     &st);
    json_t *p = json_object_get(ev, "properties");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(p, "items"), 1), "buyer")),
                        "[email]");
    assert_string_equal(json_string_value(json_object_get(p, "card")), "[card]");
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "tags"), 0)), "[email]");
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "tags"), 1)), "plain");
    assert_string_equal(detected(&f, "properties.items[*].buyer"), "email/masked");
    assert_string_equal(detected(&f, "properties.card"), "card/masked");
    assert_string_equal(detected(&f, "properties.tags[*]"), "email/masked");
    assert_int_equal(detected_count(&f), 3);
    assert_int_equal(st.detected, 4);
    json_decref(ev);
    teardown(&f);
}

/* A card or phone number sent as a whole-number real is judged by its digits like the integer;
 * prices and reals beyond 2^53 (their low digits lost) are left alone. */
static void test_integral_reals(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    sluice_piiguard_stats_t st;
    json_t *ev = run(&f,
                     "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"card\":4111111111111111.0,"
                     "\"price\":4111111111111111.5,\"total\":1234567.0,\"big\":1e300,\"q\":2.0}}",
                     &st);
    json_t *p = json_object_get(ev, "properties");
    assert_true(json_is_string(json_object_get(p, "card")));
    assert_string_equal(json_string_value(json_object_get(p, "card")), "[card]");
    assert_string_equal(detected(&f, "properties.card"), "card/masked");
    assert_true(json_is_real(json_object_get(p, "price")));
    assert_true(json_is_real(json_object_get(p, "total")));
    assert_true(json_is_real(json_object_get(p, "big")));
    assert_true(json_is_real(json_object_get(p, "q")));
    assert_int_equal(detected_count(&f), 1);
    json_decref(ev);
    teardown(&f);
}

/* A whole number beyond 2^53 (here beyond 64 bits, so a real) under a member that names it a card
 * or phone is judged by the text the client sent, whatever its spelling; a double has lost its low
 * digits, and before it went to Kafka raw under mask. Without the texts (nums NULL) the guard
 * cannot tell, and the number stays. */
static void test_big_reals_by_text(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    const char *text = "{\"type\":\"track\",\"event\":\"x\",\"properties\":{"
                       "\"creditCard\":12345678901234567890,\"phone\":1.2345678901234567890e19,"
                       "\"card_number\":12345678901234567890.00,\"total\":12345678901234567890.5,"
                       "\"cardNumber\":0.000012345678901234567890e24,"
                       "\"big\":12345678901234567890,\"tiny\":1e-300,\"huge\":1e300}}";
    for (int with_nums = 1; with_nums >= 0; with_nums--) {
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        json_t *ev = run_as_sent(&f, text, nums, with_nums);
        json_t *p = json_object_get(ev, "properties");
        assert_true(json_is_real(json_object_get(p, "total"))); /* not a whole number */
        assert_true(json_is_real(json_object_get(p, "big")));   /* no member name, no pattern */
        assert_true(json_is_real(json_object_get(p, "tiny")));
        assert_true(json_is_real(json_object_get(p, "huge")));
        if (with_nums) {
            assert_true(json_is_string(json_object_get(p, "creditCard")));
            assert_true(json_is_string(json_object_get(p, "card_number")));
            assert_string_equal(json_string_value(json_object_get(p, "creditCard")), "[card]");
            assert_string_equal(json_string_value(json_object_get(p, "card_number")), "[card]");
            assert_string_equal(json_string_value(json_object_get(p, "cardNumber")), "[card]");
            assert_true(json_is_string(json_object_get(p, "phone")));
            assert_null(strstr(json_string_value(json_object_get(p, "phone")), "1234567890"));
            assert_string_equal(detected(&f, "properties.creditCard"), "key:card/masked");
            assert_string_equal(detected(&f, "properties.card_number"), "key:card/masked");
            assert_string_equal(detected(&f, "properties.cardNumber"), "key:card/masked");
            assert_int_equal(detected_count(&f), 4);
        } else {
            assert_true(json_is_real(json_object_get(p, "creditCard")));
            assert_int_equal(detected_count(&f), 0);
        }
        json_decref(ev);
        sluice_jsonnum_free(nums);
    }
    teardown(&f);
}

/* Below 2^53 a double rounds too: 4111111111111111.2 is the double 4111111111111111.0, and
 * 123456.000000000000001 is 123456.0. With the texts the client sent, a number with a fraction
 * that is not all zeros is never a finding whatever its double (it went to Kafka as "[card]"),
 * and every other number is left byte for byte; a whole number however written is still judged. */
static void test_fractions_by_text_below_2_53(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    const char *text = "{\"type\":\"track\",\"event\":\"x\",\"properties\":{"
                       "\"a\":4111111111111111.2,\"b\":[4111111111111110.9999999,4111111111111111.25],"
                       "\"creditCard\":1e-999,\"zip\":123456.000000000000001,\"n\":{\"v\":4.1111111111111112},"
                       "\"c\":4111111111111111.000,\"d\":41111111111111110e-1,\"cvv\":0.0}}";
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *ev = run_as_sent(&f, text, nums, 1);
    size_t n;
    char *out = sluice_json_encode(ev, nums, &n);
    assert_non_null(out);
    assert_string_equal(out, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{"
                             "\"a\":4111111111111111.2,\"b\":[4111111111111110.9999999,4111111111111111.25],"
                             "\"creditCard\":1e-999,\"zip\":123456.000000000000001,\"n\":{\"v\":4.1111111111111112},"
                             "\"c\":\"[card]\",\"d\":\"[card]\",\"cvv\":\"[card]\"}}");
    assert_string_equal(detected(&f, "properties.c"), "card/masked");
    assert_string_equal(detected(&f, "properties.d"), "card/masked");
    assert_string_equal(detected(&f, "properties.cvv"), "key:card/masked");
    assert_int_equal(detected_count(&f), 3);
    free(out);
    json_decref(ev);
    sluice_jsonnum_free(nums);
    teardown(&f);
}

/* A number of any length keeps its text (issue 17; one longer than 40 characters had none, and a
 * 19-digit card padded with zeros after the point went to Kafka as 9.111111111111111e18): so it
 * is judged by its text, whatever its length. 9111111111111111111 followed by 22 zeros after the
 * point is a whole number under creditCard: masked. A fraction that is not all zeros is no
 * finding under any name (test_fractions_by_text_below_2_53), however far its last digit. A
 * whole number of 60 digits holds no card, as a string of those 60 digits does not (a card is
 * 13 to 19 digits between non-digits): without a member name it stays as sent, under one it is
 * masked like any whole number too long to read (test_whole_numbers_beyond_40_digits). */
static void test_long_numbers_by_text(void **state)
{
    (void)state;
    const char *modes[] = {"mask", "hash"};
    static const char digits60[] = "411111111111111141111111111111114111111111111111411111111111";
    for (size_t m = 0; m < 2; m++) {
        fixture_t f;
        setup(&f, modes[m]);
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"type\":\"track\",\"event\":\"x\",\"properties\":{"
                 "\"creditCard\":9111111111111111111.0000000000000000000000,"
                 "\"card_number\":[4111111111111111.0000000000000000000000000000000000000000000001],"
                 "\"total\":9111111111111111111.0000000000000000000000,\"ref\":%s,\"ref_s\":\"%s\","
                 "\"cardNumber\":%s}}",
                 digits60, digits60, digits60);
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        json_t *ev = run_as_sent(&f, text, nums, 1);
        size_t n;
        char *out = sluice_json_encode(ev, nums, &n);
        assert_non_null(out);
        json_t *p = json_object_get(ev, "properties");
        assert_true(json_is_string(json_object_get(p, "creditCard")));
        if (m == 0)
            assert_string_equal(json_string_value(json_object_get(p, "creditCard")), "[card]");
        char want[1024];
        snprintf(want, sizeof(want),
                 "\"card_number\":[4111111111111111.0000000000000000000000000000000000000000000001],"
                 "\"total\":9111111111111111111.0000000000000000000000,\"ref\":%s,\"ref_s\":\"%s\","
                 "\"cardNumber\":\"[card]\"}}",
                 digits60, digits60);
        if (strstr(out, want) == NULL)
            print_error("%s\n", out);
        assert_non_null(strstr(out, want));
        const char *action = m == 0 ? "key:card/masked" : "key:card/hashed";
        assert_string_equal(detected(&f, "properties.creditCard"), action);
        assert_string_equal(detected(&f, "properties.cardNumber"), action);
        assert_int_equal(detected_count(&f), 2);
        free(out);
        json_decref(ev);
        sluice_jsonnum_free(nums);
        teardown(&f);
    }
}

/* Under a member named for a phone or a card, a whole number is masked however many digits it
 * has: 1e20 was, while 1e45 (46 digits, more than the guard reads) and a 46-digit number written
 * out went to Kafka as sent. Without a member name they stay, as sent (the 48-character one was
 * formatted as 1e45), and a fraction stays under any name (test_fractions_by_text_below_2_53).
 * So for numbers beyond a double (1e400, which the gateway refused whole): judged by their text,
 * never by their value (the largest double), a card's digits scaled past a double or below 1 are
 * no card. */
static void test_whole_numbers_beyond_40_digits(void **state)
{
    (void)state;
    const char *modes[] = {"mask", "hash"};
    for (size_t m = 0; m < 2; m++) {
        fixture_t f;
        setup(&f, modes[m]);
        const char *text = "{\"type\":\"track\",\"event\":\"x\",\"properties\":{"
                           "\"phone\":1e45,\"creditCard\":-1.5E60,"
                           "\"cardNumber\":1000000000000000000000000000000000000000000000.0,"
                           "\"mobile\":[1e20],\"big\":1e45,\"long\":1000000000000000000000000000000000000000000000.0,"
                           "\"zip\":1.5e-50,\"phoneNumber\":1e400,\"creditCardNumber\":-2.5E+999,"
                           "\"huge\":4111111111111111e400,\"small\":4111111111111111e-400}}";
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        json_t *ev = run_as_sent(&f, text, nums, 1);
        size_t n;
        char *out = sluice_json_encode(ev, nums, &n);
        assert_non_null(out);
        /* 1e20's digits are the client's: hashed under hash, as a phone number sent as digits is. */
        const char *mobile =
            json_string_value(json_array_get(json_object_get(json_object_get(ev, "properties"), "mobile"), 0));
        assert_non_null(mobile);
        if (m == 1) {
            assert_int_equal(strlen(mobile), 64);
            json_array_set_new(json_object_get(json_object_get(ev, "properties"), "mobile"), 0, json_string("[phone]"));
            free(out);
            out = sluice_json_encode(ev, nums, &n);
        }
        assert_string_equal(out, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{"
                                 "\"phone\":\"[phone]\",\"creditCard\":\"[card]\",\"cardNumber\":\"[card]\","
                                 "\"mobile\":[\"[phone]\"],\"big\":1e45,"
                                 "\"long\":1000000000000000000000000000000000000000000000.0,\"zip\":1.5e-50,"
                                 "\"phoneNumber\":\"[phone]\",\"creditCardNumber\":\"[card]\","
                                 "\"huge\":4111111111111111e400,\"small\":4111111111111111e-400}}");
        const char *phone = m == 0 ? "key:phone/masked" : "key:phone/hashed";
        const char *card = m == 0 ? "key:card/masked" : "key:card/hashed";
        assert_string_equal(detected(&f, "properties.phone"), phone);
        assert_string_equal(detected(&f, "properties.creditCard"), card);
        assert_string_equal(detected(&f, "properties.cardNumber"), card);
        assert_string_equal(detected(&f, "properties.phoneNumber"), phone);
        assert_string_equal(detected(&f, "properties.creditCardNumber"), card);
        assert_int_equal(detected_count(&f), 6);
        free(out);
        json_decref(ev);
        sluice_jsonnum_free(nums);
        teardown(&f);
    }
}

static void count_cb(const sluice_piiguard_finding_t *fi, void *ud)
{
    if (strcmp(fi->path, "properties.items[*].buyer") == 0)
        *(uint64_t *)ud += fi->count;
}

/* Per event at most SLUICE_PIIGUARD_DETECTED_MAX entries, then a count; per thread at most
 * SLUICE_PIIGUARD_FINDINGS_MAX findings, then only a count. */
static void test_bounds_and_metrics(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "report");
    char *big = malloc(64 * 1024);
    size_t n = (size_t)snprintf(big, 1024, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(big + n, 64 * 1024 - n, "%s\"k%d\":\"u%d@x.io\"", i ? "," : "", i, i);
    snprintf(big + n, 64 * 1024 - n, "}}");
    json_t *ev = run(&f, big, NULL);
    assert_int_equal(detected_count(&f), SLUICE_PIIGUARD_DETECTED_MAX);
    assert_int_equal(json_integer_value(json_object_get(f.privacy, "detected_more")),
                     300 - SLUICE_PIIGUARD_DETECTED_MAX);
    json_decref(ev);
    for (int i = 0; i < 3; i++)
        json_decref(
            run(&f, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"items\":[{\"buyer\":\"a@x.io\"}]}}", NULL));
    uint64_t count = 0;
    uint64_t untracked = sluice_piiguard_thread_foreach(f.t, count_cb, &count);
    /* 300 distinct paths fill the table (256); the 44 left over and the buyer are counted only. */
    assert_int_equal(untracked, 300 - SLUICE_PIIGUARD_FINDINGS_MAX + 3);
    assert_int_equal(count, 0);
    char buf[65536];
    size_t len = sluice_piiguard_metrics(&f.t, 1, buf, sizeof(buf));
    assert_true(len < sizeof(buf));
    assert_non_null(
        strstr(buf, "sluice_pii_detected_total{org=\"acme\",path=\"properties.k0\",matcher=\"email\"} 1\n"));
    assert_non_null(strstr(buf, "sluice_pii_findings_untracked_total 47\n"));
    /* Too small a buffer says how much it needs. */
    assert_int_equal(sluice_piiguard_metrics(&f.t, 1, buf, 10), len);
    free(big);
    teardown(&f);
}

static void test_metrics_labels_escaped_and_merged(void **state)
{
    (void)state;
    fixture_t f, f2;
    setup(&f, "report");
    setup(&f2, "report");
    json_decref(run(&f, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"a\\\"b\\\\c\\nd\":\"j@x.io\"}}", NULL));
    json_decref(run(&f2, "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"a\\\"b\\\\c\\nd\":\"j@x.io\"}}", NULL));
    sluice_piiguard_thread_t *both[] = {f.t, NULL, f2.t};
    char buf[4096];
    sluice_piiguard_metrics(both, 3, buf, sizeof(buf));
    assert_non_null(strstr(buf, "path=\"properties.a\\\"b\\\\c?d\",matcher=\"email\"} 2\n"));
    teardown(&f);
    teardown(&f2);
}

/* A path longer than the 255 bytes kept is cut between characters: cut inside "é", the event was
 * refused (jansson takes no invalid UTF-8 in privacy.detected: 500 "out of memory") and the label
 * made Prometheus refuse every later scrape of the gateway ("invalid label value"). */
static void test_long_path_cut_between_characters(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "report");
    /* "properties." (11 bytes) and 243 'a': the first byte of "é" is the 255th byte kept. */
    char key[300];
    memset(key, 'a', 243);
    snprintf(key + 243, sizeof(key) - 243, "\xc3\xa9");
    char text[512];
    snprintf(text, sizeof(text), "{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"%s\":\"jane@x.io\"}}", key);
    json_error_t e;
    json_t *ev = json_loads(text, 0, &e);
    assert_non_null(ev);
    sluice_dl_result_t dl;
    sluice_dl_stats_t dst = {0};
    assert_int_equal(sluice_datalayer_apply(&f.cfg->orgs[0], 0, NULL, ev, NULL, &dl, &dst), 0);
    sluice_piiguard_stats_t st;
    assert_int_equal(sluice_piiguard_apply(f.g, f.t, ev, NULL, dl.privacy, 1000, NULL, &st), 0);
    json_t *d = json_array_get(json_object_get(dl.privacy, "detected"), 0);
    const char *path = json_string_value(json_object_get(d, "path"));
    assert_non_null(path);
    assert_int_equal(strlen(path), 11 + 243);
    sluice_dl_result_dispose(&dl);
    json_decref(ev);
    char buf[4096];
    size_t len = sluice_piiguard_metrics(&f.t, 1, buf, sizeof(buf));
    assert_true(len < sizeof(buf));
    assert_true(sluice_utf8_valid(buf, len));
    assert_non_null(strstr(buf, "aaa\",matcher=\"email\"} 1\n"));
    teardown(&f);
}

/* The ids pass of intake (before identity reads the ids), then the walk after the data layer
 * records what it found and leaves the ids alone. */
static void test_ids_before_identity(void **state)
{
    (void)state;
    fixture_t f;
    setup(&f, "mask");
    json_error_t e;
    json_t *ev = json_loads("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"Jane@X.io\",\"anonymousId\":"
                            "\"visitor 0612345678\",\"groupId\":\"g1\"}",
                            0, &e);
    uint64_t found = 0;
    assert_int_equal(sluice_piiguard_ids(f.g, f.t, ev, &found), 0);
    char hex[65];
    assert_int_equal(sluice_sha256_hex("jane@x.io", 9, hex), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), hex);
    /* A phone inside an id: the match hashed in place, so ids stay distinct. */
    const char *anon = json_string_value(json_object_get(ev, "anonymousId"));
    assert_int_equal(strncmp(anon, "visitor ", 8), 0);
    assert_int_equal(strlen(anon), 8 + 64);
    assert_int_equal(found & 0x1ff, 1);                                      /* userId: email, whole */
    assert_int_equal((found >> SLUICE_PIIGUARD_ID_BITS) & 0x1ff, 4 | 0x100); /* anonymousId: phone, inside */
    assert_int_equal(found >> (2 * SLUICE_PIIGUARD_ID_BITS), 0);
    /* Later: recorded from found, not judged again (the hashes are not findings). */
    json_t *privacy = json_object();
    sluice_piiguard_stats_t st;
    assert_int_equal(sluice_piiguard_apply(f.g, f.t, ev, NULL, privacy, 1000, &found, &st), 0);
    f.privacy = privacy;
    assert_int_equal(detected_count(&f), 2);
    assert_string_equal(detected(&f, "userId"), "email/hashed");
    assert_string_equal(detected(&f, "anonymousId"), "phone/hashed");
    assert_int_equal(st.detected, 2);
    json_decref(ev);
    teardown(&f);
}

/* The ids pass on arena values (sluice_piiguard_ids_jv) and on jansson's, on its own parse of
 * text each: the same return and found bits, the same bytes written after. Returns the found bits;
 * *out (malloc'd) is the jv event's bytes after the pass. */
static uint64_t ids_both(const fixture_t *f, const char *text, char **out)
{
    sluice_json_error_t je;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j = sluice_json_parse(text, strlen(text), 64, 1 << 20, 1000, nums, &je);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *v = sluice_jv_parse(a, text, strlen(text), 64, 1 << 20, 1000, NULL, &je);
    assert_non_null(j);
    assert_non_null(v);
    uint64_t fj = 1, fv = 2;
    assert_int_equal(sluice_piiguard_ids(f->g, f->t, j, &fj), 0);
    assert_int_equal(sluice_piiguard_ids_jv(f->g, f->t, v, a, &fv), 0);
    assert_int_equal(fj, fv);
    size_t lj, lv;
    char *wj = sluice_json_encode(j, nums, &lj);
    *out = sluice_jv_encode(v, &lv);
    assert_non_null(wj);
    assert_non_null(*out);
    assert_string_equal(*out, wj);
    free(wj);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return fv;
}

/* The ids pass on arena values gives what it gives on jansson's: e-mails in ids hashed as
 * traits.email is, a phone inside an id hashed in place, numbers as ids judged by the value jansson
 * holds (the pass reads no texts: 4111111111111111.2 is the card 4111111111111111 there too), ids an
 * exception or a drop covers left alone, the look-ups of an event of many members. */
static void test_ids_jv_as_jansson(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"Jane@X.io\",\"anonymousId\":\"visitor 0612345678\","
        "\"groupId\":\"g1\"}",
        "{\"type\":\"track\",\"userId\":4111111111111111,\"anonymousId\":4111111111111111.2,\"previousId\":-612345678,"
        "\"groupId\":12345678901234567890,\"messageId\":1e400}",
        "{\"type\":\"identify\",\"userId\":{\"email\":\"jane@x.io\"},\"anonymousId\":[\"jane@x.io\"],\"previousId\":"
        "\"\",\"groupId\":\"\\u006aane@x.io\",\"messageId\":\"j\\u00e9r\\u00f4me@exemple.fr \\ud83d\\ude00\"}",
        "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"type\":\"track\","
        "\"userId\":\"jane@x.io\",\"anonymousId\":\"a 0612345678\",\"traits\":\"jane@x.io\",\"userid\":\"jane@x.io\"}",
    };
    static const char *const guards[] = {"report", "mask", "hash", "{mode: hash, except: [anonymousId, userId]}",
                                         "off"};
    char hex[65], *out;
    assert_int_equal(sluice_sha256_hex("jane@x.io", 9, hex), 0);
    for (size_t gi = 0; gi < sizeof(guards) / sizeof(guards[0]); gi++) {
        fixture_t f;
        setup(&f, guards[gi]);
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
            uint64_t found = ids_both(&f, bodies[i], &out);
            int acts = gi == 1 || gi == 2, judged = gi < 3; /* userId judged, and changed (groupId: all but off) */
            if (i == 0) {
                assert_int_equal(found, judged ? (1 | (uint64_t)(4 | 0x100) << SLUICE_PIIGUARD_ID_BITS) : 0);
                assert_int_equal(strstr(out, hex) != NULL, acts);
                assert_int_equal(strstr(out, "\"visitor 0612345678\"") == NULL, acts);
            } else if (i == 1) {
                assert_int_equal(found & 0x1ff, judged ? 2 : 0); /* userId: a card, whole */
                assert_int_equal((found >> SLUICE_PIIGUARD_ID_BITS) & 0x1ff, gi < 3 ? 2 : 0);
                assert_int_equal(strstr(out, "\"userId\":4111111111111111,") == NULL, acts);
                assert_non_null(strstr(out, "\"groupId\":12345678901234567890,\"messageId\":1e400}"));
            } else if (i == 2) {
                assert_int_equal(found, gi < 4 ? (uint64_t)1 << (3 * SLUICE_PIIGUARD_ID_BITS) |
                                                     (uint64_t)(1 | 0x100) << (4 * SLUICE_PIIGUARD_ID_BITS)
                                               : 0);
                assert_non_null(strstr(out, "\"userId\":{\"email\":\"jane@x.io\"}"));
            } else {
                assert_int_equal(found & 0x1ff, judged ? 1 : 0);
                assert_int_equal(strstr(out, "\"traits\":\"jane@x.io\",\"userid\":\"jane@x.io\"") != NULL, 1);
            }
            free(out);
        }
        teardown(&f);
    }
}

/* The full walk on arena values (sluice_piiguard_apply_jv) and on jansson's, each on its own parse
 * of text (with the numbers' texts) and a privacy object already holding the data layer's record,
 * each tree with a thread of its own: the same return and stats, the same event and privacy bytes.
 * Returns the jv bytes of the event and of privacy (malloc'd) and the stats. */
static void apply_both(const fixture_t *f, const char *text, char **ev_out, char **priv_out,
                       sluice_piiguard_stats_t *st)
{
    static const char dl_privacy[] = "{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]}";
    sluice_json_error_t je;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j = sluice_json_parse(text, strlen(text), 64, 1 << 20, 1000, nums, &je);
    json_t *pj = sluice_json_parse(dl_privacy, strlen(dl_privacy), 8, 64, 1, NULL, &je);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *v = sluice_jv_parse(a, text, strlen(text), 64, 1 << 20, 1000, NULL, &je);
    sluice_jv_t *pv = sluice_jv_parse(a, dl_privacy, strlen(dl_privacy), 8, 64, 1, NULL, &je);
    sluice_piiguard_thread_t *tv = sluice_piiguard_thread_create();
    assert_non_null(j);
    assert_non_null(pj);
    assert_non_null(v);
    assert_non_null(pv);
    assert_non_null(tv);
    sluice_piiguard_stats_t sj;
    assert_int_equal(sluice_piiguard_apply(f->g, f->t, j, nums, pj, 1000, NULL, &sj), 0);
    assert_int_equal(sluice_piiguard_apply_jv(f->g, tv, v, a, pv, 1000, NULL, st), 0);
    assert_int_equal(sj.detected, st->detected);
    assert_int_equal(sj.changed, st->changed);
    size_t lj, lv;
    char *wj = sluice_json_encode(j, nums, &lj), *pwj = sluice_json_encode(pj, NULL, &lj);
    *ev_out = sluice_jv_encode(v, &lv);
    *priv_out = sluice_jv_encode(pv, &lv);
    assert_non_null(wj);
    assert_non_null(pwj);
    assert_non_null(*ev_out);
    assert_non_null(*priv_out);
    assert_string_equal(*ev_out, wj);
    assert_string_equal(*priv_out, pwj);
    free(wj);
    free(pwj);
    sluice_piiguard_thread_destroy(tv);
    json_decref(j);
    json_decref(pj);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

/* The full walk on arena values does what it does on jansson's, in the cases a user checks: an
 * e-mail in free text and a phone under a phone key masked or hashed, a card sent as a real judged
 * by its digits, a card in an array element, a member whose key is an e-mail removed, a number
 * beyond a double under a card key masked, a price left alone; findings appended after the data
 * layer's record; report changing nothing; off doing nothing; an exception left alone. */
static void test_apply_jv_as_jansson(void **state)
{
    (void)state;
    static const char body[] =
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"jane@x.io\",\"properties\":{\"notes\":\"mail "
        "jane@x.io now\",\"phone\":\"+1 415 555 0100\",\"amount\":4111111111111111.0,\"price\":19.90,\"cards\":[\"x\","
        "\"4111 1111 1111 1111\"],\"jane@x.io\":true,\"card_number\":1e400,\"after\":\"kept\"}}";
    static const char *const guards[] = {"report", "mask", "hash", "{mode: mask, except: [properties.notes]}", "off"};
    for (size_t gi = 0; gi < sizeof(guards) / sizeof(guards[0]); gi++) {
        fixture_t f;
        setup(&f, guards[gi]);
        char *ev, *priv;
        sluice_piiguard_stats_t st;
        apply_both(&f, body, &ev, &priv, &st);
        int acts = gi >= 1 && gi <= 3;
        assert_non_null(strstr(ev, "\"price\":19.90,"));
        assert_non_null(strstr(ev, "\"after\":\"kept\"}"));
        assert_int_equal(strstr(ev, "\"jane@x.io\":true") == NULL, acts);
        assert_int_equal(strstr(ev, "4111 1111 1111 1111") == NULL, acts);
        assert_int_equal(strstr(ev, "\"amount\":4111111111111111.0") == NULL, acts);
        assert_int_equal(strstr(ev, "\"card_number\":1e400") == NULL, acts);
        assert_int_equal(strstr(ev, "\"notes\":\"mail jane@x.io now\"") != NULL, !acts || gi == 3);
        if (gi == 1) {
            assert_non_null(strstr(ev, "\"notes\":\"mail [email] now\""));
            assert_non_null(strstr(ev, "\"phone\":\"[phone]\""));
            assert_non_null(strstr(ev, "\"cards\":[\"x\",\"[card]\"]"));
        }
        if (gi == 4) {
            assert_string_equal(priv, "{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]}");
            assert_int_equal(st.detected, 0);
        } else {
            static const char head[] = "{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[],\"detected\":[";
            assert_int_equal(strncmp(priv, head, sizeof(head) - 1), 0); /* appended after the data layer's record */
            assert_int_equal(strstr(priv, "{\"path\":\"properties.notes\",\"matcher\":\"email\"") != NULL, gi != 3);
            assert_non_null(strstr(priv, "{\"path\":\"properties.<email>\",\"matcher\":\"email\",\"action\":\""));
            assert_non_null(strstr(priv, "{\"path\":\"properties.cards[*]\",\"matcher\":\"card\""));
            assert_int_equal(st.changed > 0, acts);
            assert_true(st.detected >= 6);
        }
        assert_null(strstr(priv, "jane@x.io\"")); /* findings name paths, never values */
        free(ev);
        free(priv);
        teardown(&f);
    }
}

/* Numbers of fewer than six digits left of their point and no exponent, in every spelling the
 * walk on arena values reads from their text alone: left as sent under no member name (a
 * quantity, a negative, a whole real, one that a double rounds up to 100000.0), masked under a
 * phone member name as on jansson's; a six-digit one and one with an exponent still judged. */
static void test_apply_jv_short_numbers(void **state)
{
    (void)state;
    static const char body[] =
        "{\"type\":\"track\",\"properties\":{\"qty\":12345,\"neg\":-99999,\"zero\":-0,\"whole\":12345.000,"
        "\"near\":99999.99999999999999999,\"price\":0.10,\"phone\":12345,\"fax\":1.5,\"six\":123456,"
        "\"exp\":4.111111111111111e15,\"items\":[99999,-5.25]}}";
    fixture_t f;
    setup(&f, "mask");
    char *ev, *priv;
    sluice_piiguard_stats_t st;
    apply_both(&f, body, &ev, &priv, &st);
    assert_non_null(strstr(ev, "\"qty\":12345,\"neg\":-99999,\"zero\":-0,\"whole\":12345.000,"
                               "\"near\":99999.99999999999999999,\"price\":0.10,"));
    assert_non_null(strstr(ev, "\"phone\":\"[phone]\""));
    assert_non_null(strstr(ev, "\"six\":123456,"));
    assert_null(strstr(ev, "4.111111111111111e15")); /* the card's digits, sent with an exponent */
    assert_non_null(strstr(ev, "\"items\":[99999,-5.25]"));
    assert_null(strstr(priv, "properties.qty"));
    assert_null(strstr(priv, "properties.near"));
    free(ev);
    free(priv);
    teardown(&f);
}

static void test_config_errors(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"shout", "'shout' is not one of: off, report, mask, hash"},
        {"{mode: mask, national_ids: [us_ssn, de_pass]}", "'de_pass' is not one of us_ssn, uk_nino, fr_nir, es_dni"},
        {"{mode: mask, except: [\"a..b\"]}", "except"},
        {"{mode: mask, typo: 1}", "typo"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[sizeof(yaml_fmt) + 256];
        snprintf(yaml, sizeof(yaml), yaml_fmt, bad[i][0]);
        sluice_config_diag_t d;
        sluice_config_diag_init(&d);
        sluice_config_t *cfg = sluice_config_load_string("guard.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
        assert_null(cfg);
        int found = 0;
        for (size_t k = 0; k < d.count; k++)
            found |= strstr(d.msgs[k], bad[i][1]) != NULL && strstr(d.msgs[k], "pii_guard") != NULL;
        if (!found)
            fail_msg("%s: no error naming pii_guard and '%s' (first: %s)", bad[i][0], bad[i][1],
                     d.count ? d.msgs[0] : "none");
        sluice_config_diag_dispose(&d);
    }
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
        cmocka_unit_test(test_mask_the_issue_identify),
        cmocka_unit_test(test_report_changes_nothing),
        cmocka_unit_test(test_off_is_off),
        cmocka_unit_test(test_percent_encoded_email),
        cmocka_unit_test(test_hash_mode),
        cmocka_unit_test(test_key_names_and_keys_holding_pii),
        cmocka_unit_test(test_exceptions_rules_and_skips),
        cmocka_unit_test(test_arrays_numbers_and_once_per_event),
        cmocka_unit_test(test_integral_reals),
        cmocka_unit_test(test_big_reals_by_text),
        cmocka_unit_test(test_fractions_by_text_below_2_53),
        cmocka_unit_test(test_long_numbers_by_text),
        cmocka_unit_test(test_whole_numbers_beyond_40_digits),
        cmocka_unit_test(test_bounds_and_metrics),
        cmocka_unit_test(test_metrics_labels_escaped_and_merged),
        cmocka_unit_test(test_long_path_cut_between_characters),
        cmocka_unit_test(test_ids_before_identity),
        cmocka_unit_test(test_ids_jv_as_jansson),
        cmocka_unit_test(test_apply_jv_as_jansson),
        cmocka_unit_test(test_apply_jv_short_numbers),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, install_arenas, NULL);
}

/*
 * The PII guard end to end, on the example config itself (config/examples/acme.yaml, pii_guard:
 * mask): an identify whose userId is the visitor's e-mail, with traits.phone_number (the config
 * names traits.phone) and a phone inside properties.contact — a site's usual habits — goes
 * through the real gateway. Kafka must hold no raw e-mail or phone anywhere (value, key), the
 * event's privacy.detected must name exactly the three paths, /metrics must count them per path,
 * `sluicectl privacy inbox` must list them with their counts and a rule for each (read from the
 * Redis the gateway flushes to), --dismiss must remove one, and the gateway's debug log must not
 * hold the values either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

#define WEB_KEY "wk_guard_web"

static gwfix_t F;
static char redis_env[128];

static char *replace_once(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    if (at == NULL || strstr(at + 1, from) != NULL)
        fail_msg("config/examples/acme.yaml: expected exactly one '%s'", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return out;
}

static const char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *e = malloc(n); /* lives as long as the process */
    snprintf(e, n, "%s=%s", name, value);
    return e;
}

static int setup(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    /* The example as it is; only the include and the audit file made absolute (the file moves). */
    const char *src = getenv("SLUICE_SOURCE_DIR");
    char path[PATH_MAX], to[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/config/examples/acme.yaml", src);
    char *yaml = sluice_th_read_file(path, NULL, &err);
    assert_non_null(yaml);
    assert_non_null(strstr(yaml, "pii_guard:\n        mode: mask"));
    snprintf(to, sizeof(to), "include: %s/config/examples/orgs/globex.yaml", src);
    yaml = replace_once(yaml, "include: orgs/globex.yaml", to);
    snprintf(to, sizeof(to), "audit_file: %s/audit.log", sluice_th_tmpdir(&err));
    yaml = replace_once(yaml, "audit_file: ../../build/demo/audit.log", to);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("acme-guard.yaml", yaml));
    free(yaml);

    char v[PATH_MAX + 32];
    int n = 0;
    snprintf(v, sizeof(v), "127.0.0.1:%d", F.https_port);
    F.env[n++] = env_entry("SLUICE_HTTPS_LISTEN", v);
    snprintf(v, sizeof(v), "127.0.0.1:%d", F.metrics_port);
    F.env[n++] = env_entry("SLUICE_METRICS_LISTEN", v);
    snprintf(v, sizeof(v), "%s/server.crt", F.certs);
    F.env[n++] = env_entry("SLUICE_TLS_CERT", v);
    snprintf(v, sizeof(v), "%s/server.key", F.certs);
    F.env[n++] = env_entry("SLUICE_TLS_KEY", v);
    F.env[n++] = env_entry("SLUICE_KAFKA_BROKERS", F.kafka.bootstrap);
    snprintf(redis_env, sizeof(redis_env), "SLUICE_REDIS_URL=%s", F.redis.url);
    F.env[n++] = redis_env;
    F.env[n++] = "SLUICE_LOG_LEVEL=debug"; /* the most the logs ever say */
    F.env[n++] = "ACME_WEB_WRITE_KEY=" WEB_KEY;
    F.env[n++] = "ACME_WEB_WRITE_KEY_PREVIOUS=wk_guard_previous";
    F.env[n++] = "ACME_APP_WRITE_KEY=wk_guard_app";
    F.env[n++] = "ACME_BACKEND_HMAC_SECRET=guard-backend-secret";
    F.env[n++] = "ACME_FPE_KEY=2B7E151628AED2A6ABF7158809CF4F3C";
    F.env[n++] = "GLOBEX_STORE_WRITE_KEY=wk_guard_globex";
    F.env[n++] = "GLOBEX_CRM_HMAC_SECRET=guard-globex-crm";
    F.env[n++] = "ENCRYPTION_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    F.env[n++] = "SLUICE_KEY_ID=1";
    F.env[n] = NULL;
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.gw != NULL)
        gwfix_stop(&F, 15);
    curl_global_cleanup();
    return 0;
}

/* The identify of the issue, with consent given (the example strips identifying fields without). */
static long send_identify(const char *message_id)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"userId\":\"Jane.Doe@Example.com\",\"anonymousId\":\"anon-guard-1\",\"messageId\":\"%s\","
             "\"traits\":{\"email\":\"jane.doe@example.com\",\"phone_number\":\"+1 (650) 555-1212\",\"plan\":\"pro\"},"
             "\"properties\":{\"contact\":\"call me on 020 7946 0958 after 6\"},"
             "\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}}}",
             message_id);
    const char *headers[] = {"Content-Type: application/json", "Authorization: Bearer " WEB_KEY,
                             "Origin: https://shop.acme.test", NULL};
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/identify"), &o, F.ca, &r);
    long status = r.status;
    if (status != 200)
        print_error("identify: %ld %s\n", status, r.body ? r.body : "");
    http_resp_dispose(&r);
    return status;
}

/* Every spelling of the visitor's e-mail and phones that must not leave. */
static const char *const raw[] = {"jane.doe",   "Jane.Doe", "example.com", "Example.com", "555-1212",
                                  "6505551212", "(650)",    "7946 0958",   "79460958",    "020 7946"};

static void assert_clean(const char *what, const char *text)
{
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
        if (gwfix_contains(text, raw[i]))
            fail_msg("%s holds '%s'", what, raw[i]);
}

static const char *detected_as(json_t *privacy, const char *path)
{
    static char out[96];
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(privacy, "detected"), i, d) {
        if (strcmp(json_string_value(json_object_get(d, "path")), path) == 0) {
            snprintf(out, sizeof(out), "%s/%s", json_string_value(json_object_get(d, "matcher")),
                     json_string_value(json_object_get(d, "action")));
            return out;
        }
    }
    return NULL;
}

static void sluicectl(const char *const *args, sluice_th_output_t *out)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[16] = {"env", redis_env, bin};
    size_t n = 3;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sluice_err_t err = {{0}};
    memset(out, 0, sizeof(*out));
    if (sluice_th_run(argv, NULL, 0, 20000, out, &err) != 0)
        fail_msg("sluicectl: %s", err.msg);
}

static json_t *inbox(void)
{
    const char *args[] = {"privacy", "inbox", "--config", F.config, "--org", "acme", "--format", "json", NULL};
    sluice_th_output_t out;
    sluicectl(args, &out);
    json_error_t e;
    json_t *j = sluice_th_exited_with(out.wstatus, 0) ? json_loads(out.out, 0, &e) : NULL;
    if (j == NULL)
        print_error("privacy inbox: %s%s\n", out.out ? out.out : "", out.errout ? out.errout : "");
    sluice_th_output_dispose(&out);
    return j;
}

static json_t *inbox_entry(json_t *in, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(in, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "path")), path) == 0)
            return e;
    }
    return NULL;
}

static int inbox_has_two(void *arg)
{
    (void)arg;
    json_t *in = inbox();
    json_t *e = inbox_entry(in, "userId");
    int ok = e != NULL && json_integer_value(json_object_get(e, "count")) == 2;
    json_decref(in);
    return ok;
}

static void test_identify_through_the_example(void **state)
{
    (void)state;
    assert_int_equal(send_identify("guard-m1"), 200);
    assert_int_equal(send_identify("guard-m2"), 200);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *m = gwfix_find_message(msgs, "guard-m1");
    assert_non_null(m);
    char *all = json_dumps(m, JSON_COMPACT); /* key, headers and value */
    assert_clean("the Kafka message", all);
    json_t *value = json_object_get(m, "value");
    json_t *ev = json_object_get(value, "event"), *privacy = json_object_get(value, "privacy");
    /* The three paths, exactly, and what was done. */
    assert_int_equal(json_array_size(json_object_get(privacy, "detected")), 3);
    assert_string_equal(detected_as(privacy, "userId"), "email/hashed");
    assert_string_equal(detected_as(privacy, "traits.phone_number"), "phone/masked");
    assert_string_equal(detected_as(privacy, "properties.contact"), "phone/masked");
    /* The userId is traits.email's hash: the person stays one person downstream. */
    const char *uid = json_string_value(json_object_get(ev, "userId"));
    assert_non_null(uid);
    assert_string_equal(uid, json_string_value(json_object_get(json_object_get(ev, "traits"), "email")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "phone_number")), "[phone]");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "properties"), "contact")),
                        "call me on [phone] after 6");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "traits"), "plan")), "pro");
    free(all);
    json_decref(msgs);

    /* Counted per path. */
    assert_true(gwfix_metric(&F, "sluice_pii_detected_total{org=\"acme\",path=\"userId\",matcher=\"email\"}") == 2);
    assert_true(gwfix_metric(&F, "sluice_pii_detected_total{org=\"acme\",path=\"properties.contact\","
                                 "matcher=\"phone\"}") == 2);
    assert_true(gwfix_metric(&F, "sluice_pii_values_changed_total") >= 6);

    /* The inbox, once the gateway has flushed (every 2 s). */
    if (sluice_th_wait_until(inbox_has_two, NULL, 15000) != 0)
        fail_msg("the inbox never showed userId twice");
    json_t *in = inbox();
    char *text = json_dumps(in, JSON_COMPACT);
    assert_clean("the inbox", text);
    assert_int_equal(json_array_size(in), 3);
    json_t *e = inbox_entry(in, "traits.phone_number");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "matcher")), "phone");
    assert_int_equal(json_integer_value(json_object_get(e, "count")), 2);
    assert_string_equal(json_string_value(json_object_get(e, "suggested")),
                        "hash_fields: [{path: traits.phone_number, normalize: phone, default_country_code: \"1\"}]");
    e = inbox_entry(in, "properties.contact");
    assert_true(json_is_true(json_object_get(e, "inside_text")));
    assert_string_equal(json_string_value(json_object_get(e, "suggested")),
                        "mask: [{path: properties.contact, plugin: redact_text}]");
    assert_non_null(strstr(json_string_value(json_object_get(inbox_entry(in, "userId"), "first_seen")), "T"));
    free(text);
    json_decref(in);

    /* The text form, then dismissing one path. */
    const char *args[] = {"privacy", "inbox", "--config", F.config, "--org", "acme", NULL};
    sluice_th_output_t out;
    sluicectl(args, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.out, "traits.phone_number  phone\n  2 events, first "));
    sluice_th_output_dispose(&out);
    const char *dis[] = {"privacy", "inbox",     "--config",           F.config, "--org",
                         "acme",    "--dismiss", "properties.contact", NULL};
    sluicectl(dis, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
    in = inbox();
    assert_int_equal(json_array_size(in), 2);
    assert_null(inbox_entry(in, "properties.contact"));
    json_decref(in);

    /* Nor in the gateway's own log, at debug level. */
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    assert_non_null(log);
    assert_clean("the gateway log", log);
    free(log);
}

/* A card number beyond 64 bits, sent as a JSON number under a member that names it a card: the
 * parser keeps it as a real with its text, and the guard judges that text (a double has lost the
 * low digits). Kafka holds "[card]"; a number of the same size under a plain name passes as sent,
 * digit for digit. */
static void test_big_number_under_a_card_name(void **state)
{
    (void)state;
    const char *body = "{\"event\":\"Order Completed\",\"anonymousId\":\"anon-guard-2\",\"messageId\":\"guard-big-1\","
                       "\"properties\":{\"creditCard\":12345678901234567890,\"total\":98765432109876543210,"
                       "\"shares\":9.8765432109876543210e19},"
                       "\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}}}";
    const char *headers[] = {"Content-Type: application/json", "Authorization: Bearer " WEB_KEY,
                             "Origin: https://shop.acme.test", NULL};
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/track"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);

    /* jansson cannot read the envelope (a number beyond 64 bits): its bytes are what is checked. */
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    const char *bytes = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *t = json_string_value(json_object_get(m, "raw"));
        if (t != NULL && strstr(t, "\"guard-big-1\"") != NULL)
            bytes = t;
    }
    assert_non_null(bytes);
    char *all = json_dumps(msgs, JSON_COMPACT); /* keys and headers too */
    assert_null(strstr(all, "12345678901234567890"));
    assert_null(strstr(all, "1.2345678901234567e19"));
    free(all);
    assert_non_null(strstr(bytes, "\"creditCard\":\"[card]\""));
    assert_non_null(
        strstr(bytes, "{\"path\":\"properties.creditCard\",\"matcher\":\"key:card\",\"action\":\"masked\"}"));
    /* the others, as sent */
    assert_non_null(strstr(bytes, "\"total\":98765432109876543210"));
    assert_non_null(strstr(bytes, "\"shares\":9.8765432109876543210e19"));
    json_decref(msgs);
}

/* Personal data as sites and people really write it, beyond plain ASCII in one layer of
 * percent-encoding: a login page whose `next=` carries another URL (the e-mail in it encoded
 * twice, "%2540"), a comment typed with a Japanese input method (full-width "＠" and "．"), a
 * phone copied from a French page (no-break spaces between its groups), each in a field of the
 * example's redact_text rules and in one only the guard looks at. None may reach Kafka as sent.
 * And the opposite mistake: a product image named for its screen density ("shoe@2x.png") is no
 * e-mail, and a season ("2024-2025") no phone: both must arrive as sent. */
static void test_nested_and_unicode_forms(void **state)
{
    (void)state;
    const char *body =
        "{\"name\":\"Login\",\"anonymousId\":\"anon-guard-3\",\"messageId\":\"guard-forms-1\","
        "\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"]},"
        "\"page\":{\"url\":\"https://shop.acme.test/login?next=%2Faccount%3Femail%3Dkenji.sato%2540example.jp\"}},"
        "\"properties\":{\"next\":\"/account?email=kenji.sato%2540example.jp\","
        "\"comment\":\"連絡先 kenji.sato＠example．jp まで\",\"note\":\"mail: kenji.sato＠example.jp\","
        "\"contact\":\"appelez le 06\u00a012\u00a034\u00a056\u00a078\","
        "\"image\":\"https://cdn.acme.test/p/shoe@2x.png\",\"season\":\"2024-2025\","
        "\"kenji.sato＠example.jp\":\"06 12 34 56 78\"}}";
    const char *headers[] = {"Content-Type: application/json", "Authorization: Bearer " WEB_KEY,
                             "Origin: https://shop.acme.test", NULL};
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/page"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *m = gwfix_find_message(msgs, "guard-forms-1");
    assert_non_null(m);
    char *all = json_dumps(m, JSON_COMPACT | JSON_ENSURE_ASCII);
    static const char *const leaked[] = {"kenji",   "sato", "example.jp", "example\\uFF0Ejp", "\\u00A012\\u00A034",
                                         "06 12 34"};
    for (size_t i = 0; i < sizeof(leaked) / sizeof(leaked[0]); i++)
        if (strstr(all, leaked[i]) != NULL)
            fail_msg("the Kafka message holds '%s': %s", leaked[i], all);
    free(all);
    json_t *value = json_object_get(m, "value"), *ev = json_object_get(value, "event");
    json_t *props = json_object_get(ev, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "next")), "/account?email=[email]");
    assert_string_equal(json_string_value(json_object_get(props, "comment")), "連絡先 [email] まで");
    assert_string_equal(json_string_value(json_object_get(props, "note")), "mail: [email]");
    assert_string_equal(json_string_value(json_object_get(props, "contact")), "appelez le [phone]");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "page"), "url")),
        "https://shop.acme.test/login?next=%2Faccount%3Femail%3D[email]");
    assert_string_equal(json_string_value(json_object_get(props, "image")), "https://cdn.acme.test/p/shoe@2x.png");
    assert_string_equal(json_string_value(json_object_get(props, "season")), "2024-2025");
    json_t *privacy = json_object_get(value, "privacy");
    assert_string_equal(detected_as(privacy, "properties.comment"), "email/masked");
    assert_null(detected_as(privacy, "properties.image"));
    /* A key that is an address is removed, and named by what it holds wherever its path shows. */
    assert_int_equal(json_object_size(props), 6);
    assert_string_equal(detected_as(privacy, "properties.<email>"), "email/removed");
    json_decref(msgs);
    http_resp_t mr;
    http_do(gwfix_metrics_url(&F, "/metrics"), &(http_opts_t){0}, F.ca, &mr);
    assert_int_equal(mr.status, 200);
    if (strstr(mr.body, "kenji") != NULL)
        fail_msg("/metrics names the address");
    http_resp_dispose(&mr);
}

/* A consent object as a consent platform hands it over: the categories, Segment's
 * categoryPreferences, and the platform's own record, whose data subject is often the visitor's
 * e-mail (as an identifier, and as a key of the preferences). The gateway writes the categories
 * and keeps no personal name among them; the rest of context.consent is the client's and was
 * not scanned at all, so the e-mail reached Kafka as sent. */
static void test_consent_object_is_scanned(void **state)
{
    (void)state;
    const char *body =
        "{\"event\":\"Consent Given\",\"anonymousId\":\"anon-guard-4\",\"messageId\":\"guard-consent-1\","
        "\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"],"
        "\"categoryPreferences\":{\"Analytics\":true,\"Marketing\":true,\"yuki.tanaka@example.jp\":true},"
        "\"identifier\":\"yuki.tanaka@example.jp\",\"receipt\":\"rcpt-77\"}}}";
    const char *headers[] = {"Content-Type: application/json", "Authorization: Bearer " WEB_KEY,
                             "Origin: https://shop.acme.test", NULL};
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/track"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *m = gwfix_find_message(msgs, "guard-consent-1");
    assert_non_null(m);
    char *all = json_dumps(m, JSON_COMPACT);
    if (strstr(all, "tanaka") != NULL)
        fail_msg("the Kafka message holds the e-mail: %s", all);
    free(all);
    json_t *value = json_object_get(m, "value");
    json_t *consent = json_object_get(json_object_get(json_object_get(value, "event"), "context"), "consent");
    /* what consent is made of stays as sent */
    json_t *cats = json_object_get(consent, "categories");
    assert_string_equal(json_string_value(json_array_get(cats, 0)), "analytics");
    assert_string_equal(json_string_value(json_array_get(cats, 1)), "marketing");
    json_t *prefs = json_object_get(consent, "categoryPreferences");
    assert_true(json_is_true(json_object_get(prefs, "Analytics")));
    assert_int_equal(json_object_size(prefs), 2);
    assert_string_equal(json_string_value(json_object_get(consent, "identifier")), "[email]");
    assert_string_equal(json_string_value(json_object_get(consent, "receipt")), "rcpt-77");
    json_t *privacy = json_object_get(value, "privacy");
    assert_string_equal(detected_as(privacy, "context.consent.identifier"), "email/masked");
    json_decref(msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify_through_the_example),
        cmocka_unit_test(test_big_number_under_a_card_name),
        cmocka_unit_test(test_nested_and_unicode_forms),
        cmocka_unit_test(test_consent_object_is_scanned),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The built-in masking plugins end to end: a real sluice-gateway with mask rules using
 * partial, ip_truncate, fpe, redact_text, encrypt, hmac, full, null, drop, generalize and
 * randomized_response (one report per event, its context.traits copy included), events posted
 * over HTTPS and read back from the dev Kafka broker. Checks the exact masked values where the
 * plugin is deterministic, privacy.masked, fail-closed removal (with the metric and a log line
 * that has no value), that no planted raw value appears anywhere in Kafka or the gateway's log,
 * and that `sluicectl unmask` gives back the encrypt and fpe values (with audit lines and clear
 * errors for a wrong org, path, key or an altered value; any concrete path the rule reaches).
 * Also `sluicectl fpe` on the NIST samples and its errors.
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

#include "plugins/fpe/spec.h"
#include "tests/integration/gwfix.h"

static gwfix_t F;
static char audit_path[PATH_MAX];
static char sluicectl[PATH_MAX];

#define WEB_KEY    "wk_live_plugins_e2e"
#define GLOBEX_KEY "wk_live_globex_e2e"
#define FPE_KEY    "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94"
#define HMAC_KEY   "e2e-hmac-key-0123456789abcdef"
#define ENC_KEY    "8d4f0e1c2b3a49586776a5b4c3d2e1f00112233445566778899aabbccddeeff0"

/* The planted raw values: none may reach Kafka or the log. */
#define CARD   "4111 1111 1111 1111"
#define SSN    "123-45-6789"
#define EMAIL  "jane.doe@example.com"
#define URL    "https://shop.acme.test/checkout?email=jane.doe%40example.com&card=4111-1111-1111-1111&ref=abc"
#define NOTES  "call Jane after 6pm, door code 4471"
#define SKU1   "SKU-SECRET-1"
#define SKU2   "SKU-SECRET-2"
#define CLIENT "203.0.113.77"
#define SHORT  "12345"

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_path(audit_path, sizeof(audit_path), "unmask-audit.log", &err), 0);
    snprintf(sluicectl, sizeof(sluicectl), "%s/tools/sluicectl", sluice_th_build_dir());
    char yaml[32768];
    snprintf(
        yaml, sizeof(yaml),
        "version: 1\n"
        "server:\n"
        "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
        "  metrics: {listen: \"127.0.0.1:%d\"}\n"
        "  threads: 2\n"
        "  trusted_proxies: [127.0.0.1]\n"
        "kafka: {brokers: \"%s\", ack_timeout_ms: 4000}\n"
        "redis: {url: \"%s\", timeout_ms: 200}\n"
        "log: {audit_file: %s}\n"
        "orgs:\n"
        "  - id: acme\n"
        "    sources: [{id: web, write_key_env: T_WEB_KEY}]\n"
        "    consent: {policy: allow}\n"
        "    data_layer:\n"
        "      mask:\n"
        "        - {path: properties.card_number, plugin: partial, params: {keep_last: 4, preserve: \" -\"}}\n"
        "        - {path: context.ip, plugin: ip_truncate}\n"
        "        - {path: traits.ssn, plugin: fpe, params: {alphabet: digits, key_env: T_FPE_KEY, preserve: \"-\"}}\n"
        "        - {path: context.page.url, plugin: redact_text}\n"
        "        - {path: properties.notes, plugin: encrypt}\n"
        "        - {path: \"properties.items[*].sku\", plugin: encrypt}\n"
        "        - {path: traits.email, plugin: hmac, params: {key_env: T_HMAC_KEY, trim: true, lowercase: true}}\n"
        "        - {path: traits.name, plugin: full}\n"
        "        - {path: traits.birthday, plugin: \"null\"}\n"
        "        - {path: properties.internal, plugin: drop}\n"
        "        - {path: properties.pin, plugin: fpe, params: {key_env: T_FPE_KEY}}\n"
        "        - {path: properties.strict_pin, plugin: fpe, params: {key_env: T_FPE_KEY}, on_error: reject}\n"
        "        - {path: properties.price_band, plugin: generalize, params: {kind: number, step: 0.25}}\n"
        "        - {path: traits.satisfied, plugin: randomized_response, params: {epsilon: 1.0986122886681098}}\n"
        "  - id: globex\n"
        "    sources: [{id: web, write_key_env: T_GLOBEX_KEY}]\n"
        "    consent: {policy: allow}\n"
        "    data_layer:\n"
        "      mask:\n"
        "        - {path: properties.notes, plugin: encrypt}\n",
        F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, audit_path);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"T_WEB_KEY=" WEB_KEY,
                                "T_GLOBEX_KEY=" GLOBEX_KEY,
                                "T_FPE_KEY=" FPE_KEY,
                                "T_HMAC_KEY=" HMAC_KEY,
                                "ENCRYPTION_KEY=" ENC_KEY,
                                "SLUICE_KEY_ID=3",
                                NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static long post_event(const char *key, const char *json)
{
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    const char *headers[] = {auth, "Content-Type: application/json", "X-Forwarded-For: " CLIENT, NULL};
    http_opts_t o = {.headers = headers, .body = json};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/track"), &o, F.ca, &r);
    long status = r.status;
    if (status != 200)
        print_error("status %ld: %s\n", status, r.body ? r.body : "");
    http_resp_dispose(&r);
    return status;
}

/* The envelope of messageId id, waiting for it to arrive (kcat reads what is there). */
static json_t *envelope(const char *id, json_t **all)
{
    for (int tries = 0; tries < 50; tries++) {
        json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
        json_t *m = gwfix_find_message(msgs, id);
        if (m != NULL) {
            *all = msgs;
            return json_object_get(m, "value");
        }
        json_decref(msgs);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("message %s never reached Kafka", id);
    return NULL;
}

static const char *jstr(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(root, a), b);
    return json_string_value(v);
}

typedef struct run {
    sluice_th_output_t out;
    int code;
} run_t;

/* Runs sluicectl with argv[1..] and extra environment (NAME=VALUE, NULL-terminated). */
static void ctl(run_t *r, const char *const *args, const char *const *env)
{
    const char *argv[24];
    size_t n = 0;
    argv[n++] = "env";
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        argv[n++] = env[i];
    argv[n++] = sluicectl;
    for (size_t i = 0; args[i] != NULL; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sluice_err_t err = {{0}};
    memset(r, 0, sizeof(*r));
    assert_int_equal(sluice_th_run(argv, NULL, 0, 30000, &r->out, &err), 0);
    r->code = WIFEXITED(r->out.wstatus) ? WEXITSTATUS(r->out.wstatus) : -1;
}

static void ctl_dispose(run_t *r)
{
    sluice_th_output_dispose(&r->out);
}

/* sluicectl unmask with the gateway's keys in the environment (or other ones). */
static void unmask(run_t *r, const char *org, const char *path, const char *value, const char *enc_key,
                   const char *fpe_key)
{
    char k1[128], k2[128];
    snprintf(k1, sizeof(k1), "ENCRYPTION_KEY=%s", enc_key);
    snprintf(k2, sizeof(k2), "T_FPE_KEY=%s", fpe_key);
    const char *env[] = {k1, "SLUICE_KEY_ID=3", k2, "USER=auditor-e2e", NULL};
    const char *args[] = {"unmask", "--config", F.config, "--org", org, "--path", path, value, NULL};
    ctl(r, args, env);
}

/* ------------------------------------------------------------------ tests */

static json_t *ALL;    /* every message read at the first test */
static json_t *MASKED; /* the masked event's envelope (borrowed from ALL) */

static void test_masked_as_configured(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"e2e-mask-1\","
                       "\"anonymousId\":\"anon-e2e\","
                       "\"context\":{\"page\":{\"url\":\"" URL "\"}},"
                       "\"traits\":{\"ssn\":\"" SSN "\",\"email\":\"  Jane.Doe@Example.com \",\"name\":\"Jane Doe\","
                       "\"birthday\":\"1990-04-01\"},"
                       "\"properties\":{\"card_number\":\"" CARD "\",\"notes\":\"" NOTES "\","
                       "\"items\":[{\"sku\":\"" SKU1 "\"},{\"sku\":\"" SKU2 "\"}],"
                       "\"internal\":{\"margin\":0.31},\"pin\":\"" SHORT "\",\"total\":42.5}}";
    assert_int_equal(post_event(WEB_KEY, body), 200);
    MASKED = envelope("e2e-mask-1", &ALL);
    json_t *ev = json_object_get(MASKED, "event");

    assert_string_equal(jstr(ev, "properties", "card_number"), "**** **** **** 1111");
    assert_string_equal(jstr(ev, "context", "ip"), "203.0.113.0");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "page"), "url")),
        "https://shop.acme.test/checkout?email=[email]&card=[card]&ref=abc");
    assert_string_equal(jstr(ev, "traits", "name"), "***");
    assert_true(json_is_null(json_object_get(json_object_get(ev, "traits"), "birthday")));
    assert_null(json_object_get(json_object_get(ev, "properties"), "internal"));
    /* Untouched fields stay. */
    assert_true(json_real_value(json_object_get(json_object_get(ev, "properties"), "total")) == 42.5);

    /* fpe: the exact value the shared FF1 code gives for this key (NIST-checked in unit tests). */
    sluice_fpe_spec_t spec;
    char err[256], want[12] = {0};
    assert_int_equal(
        sluice_fpe_spec_init(&spec, FPE_KEY, strlen(FPE_KEY), "digits", 6, "", 0, "-", 1, -1, err, sizeof(err)), 0);
    assert_int_equal(sluice_fpe_spec_apply(&spec, 0, SSN, 11, want), SLUICE_FF1_OK);
    sluice_fpe_spec_dispose(&spec);
    assert_string_equal(jstr(ev, "traits", "ssn"), want);

    /* hmac: trimmed and lowercased, 64 hex digits. */
    const char *h = jstr(ev, "traits", "email");
    assert_non_null(h);
    assert_int_equal(strlen(h), 64);
    assert_int_equal(strspn(h, "0123456789abcdef"), 64);

    /* encrypt: recognisable prefix, different for the two SKUs. */
    const char *notes = jstr(ev, "properties", "notes");
    assert_non_null(notes);
    assert_int_equal(strncmp(notes, "enc:v1:", 7), 0);
    json_t *items = json_object_get(json_object_get(ev, "properties"), "items");
    assert_int_equal(json_array_size(items), 2);
    const char *s1 = json_string_value(json_object_get(json_array_get(items, 0), "sku"));
    const char *s2 = json_string_value(json_object_get(json_array_get(items, 1), "sku"));
    assert_int_equal(strncmp(s1, "enc:v1:", 7), 0);
    assert_int_equal(strncmp(s2, "enc:v1:", 7), 0);
    assert_string_not_equal(s1, s2);

    /* fail closed: a 5-digit pin is too short for FF1, so the field is removed. */
    assert_null(json_object_get(json_object_get(ev, "properties"), "pin"));

    /* privacy.masked lists the rule paths that masked a value; privacy.dropped those whose field
     * was removed (the drop plugin, and the pin fpe failed on). */
    json_t *dropped = json_object_get(json_object_get(MASKED, "privacy"), "dropped");
    char *dropped_text = json_dumps(dropped, JSON_COMPACT);
    assert_non_null(dropped_text);
    assert_true(gwfix_contains(dropped_text, "\"properties.internal\""));
    assert_true(gwfix_contains(dropped_text, "\"properties.pin\""));
    free(dropped_text);
    json_t *masked = json_object_get(json_object_get(MASKED, "privacy"), "masked");
    assert_true(json_is_array(masked));
    static const char *const paths[] = {"properties.card_number", "context.ip",       "traits.ssn",
                                        "context.page.url",       "properties.notes", "properties.items[*].sku",
                                        "traits.email",           "traits.name",      "traits.birthday"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int found = 0;
        size_t k;
        json_t *p;
        json_array_foreach(masked, k, p)
            found |= strcmp(json_string_value(p), paths[i]) == 0;
        if (!found)
            fail_msg("privacy.masked lacks %s", paths[i]);
    }
}

static void test_no_raw_value_anywhere(void **state)
{
    (void)state;
    assert_non_null(ALL);
    char *text = json_dumps(ALL, JSON_COMPACT);
    assert_non_null(text);
    static const char *const planted[] = {CARD,       "4111-1111-1111-1111", SSN,     EMAIL, "Jane.Doe@Example.com",
                                          NOTES,      "door code",           SKU1,    SKU2,  CLIENT,
                                          "Jane Doe", "1990-04-01",          "margin"};
    for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
        if (gwfix_contains(text, planted[i]))
            fail_msg("raw value '%s' reached Kafka", planted[i]);
    }
    free(text);
    /* The failed pin was logged by plugin and path, without its value. */
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw, "properties.pin", 1, 5000, &err), 0);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    assert_non_null(log);
    for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
        if (gwfix_contains(log, planted[i]))
            fail_msg("raw value '%s' in the gateway log", planted[i]);
    }
    assert_false(gwfix_contains(log, "\"" SHORT "\""));
    free(log);
    assert_true(gwfix_metric(&F, "sluice_plugin_errors_total{plugin=\"fpe\",org=\"acme\",rule=\"properties.pin\"}") >=
                1);
}

static void test_on_error_reject(void **state)
{
    (void)state;
    /* A rule with on_error: reject refuses the whole event, with its path and no value. */
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", WEB_KEY);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    const char *body = "{\"type\":\"track\",\"event\":\"x\",\"messageId\":\"e2e-reject-1\",\"anonymousId\":\"a\","
                       "\"properties\":{\"strict_pin\":\"98765\"}}";
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/track"), &o, F.ca, &r);
    assert_int_equal(r.status, 400);
    assert_true(gwfix_contains(r.body, "properties.strict_pin"));
    assert_false(gwfix_contains(r.body, "98765"));
    http_resp_dispose(&r);
}

/* A plugin gets a number as the client sent it and the envelope holds its answer as the plugin
 * wrote it: generalize's 0.25 step on 673493333333332.33 is 673493333333332.25 in Kafka (a double
 * would have made it 673493333333332.2, and the plugin would have seen 673493333333332.4); the
 * numbers no rule names pass as sent. */
static void test_numbers_through_a_plugin(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"track\",\"event\":\"x\",\"messageId\":\"e2e-num-1\",\"anonymousId\":\"a\","
                       "\"properties\":{\"price_band\":673493333333332.33,\"total\":19.90,\"big\":1e21}}";
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/track", WEB_KEY, body, &r), 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *m = gwfix_find_message(msgs, "e2e-num-1");
    assert_non_null(m);
    const char *raw = json_string_value(json_object_get(m, "raw"));
    assert_non_null(raw);
    assert_non_null(strstr(raw, "\"price_band\":673493333333332.25,"));
    assert_non_null(strstr(raw, "\"total\":19.90,"));
    assert_non_null(strstr(raw, "\"big\":1e21}"));
    json_decref(msgs);
}

/* randomized_response reports a person's answer at epsilon per event. A rule on traits.X also
 * masks context.traits.X, the copy Segment's spec and RudderStack's SDKs put there: both copies
 * were drawn afresh, so one event carried two independent reports of one answer and spent
 * 2 epsilon (at ln 3, the two agreeing gives the truth with probability 0.9 instead of 0.75).
 * The copy gets the field's own report. 40 events each holding the answer twice: independent
 * draws would all agree with probability 0.625^40, below 10^-8. */
static void test_randomized_response_one_report_per_event(void **state)
{
    (void)state;
    enum { N = 40 };
    json_t *batch = json_array();
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "e2e-rr-%d", i);
        json_array_append_new(batch, json_pack("{s:s,s:s,s:s,s:{s:b},s:{s:{s:b}}}", "type", "identify", "messageId", id,
                                               "anonymousId", "anon-rr", "traits", "satisfied", 1, "context", "traits",
                                               "satisfied", 1));
    }
    json_t *root = json_pack("{s:o}", "batch", batch);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/batch", WEB_KEY, body, &r), 200);
    http_resp_dispose(&r);
    free(body);

    /* One read of the topic once all of them are there. */
    json_t *all = NULL;
    (void)envelope("e2e-rr-0", &all);
    for (int tries = 0; tries < 50; tries++) {
        int found = 0;
        for (int i = 0; i < N; i++) {
            char id[32];
            snprintf(id, sizeof(id), "e2e-rr-%d", i);
            found += gwfix_find_message(all, id) != NULL;
        }
        if (found == N)
            break;
        json_decref(all);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        all = gwfix_kafka_read(&F, "sluice.events");
    }
    int disagree = 0, flipped = 0;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "e2e-rr-%d", i);
        json_t *m = gwfix_find_message(all, id);
        if (m == NULL)
            fail_msg("message %s never reached Kafka", id);
        json_t *ev = json_object_get(json_object_get(m, "value"), "event");
        json_t *a = json_object_get(json_object_get(ev, "traits"), "satisfied");
        json_t *b = json_object_get(json_object_get(json_object_get(ev, "context"), "traits"), "satisfied");
        assert_true(json_is_boolean(a));
        assert_true(json_is_boolean(b));
        disagree += json_is_true(a) != json_is_true(b);
        flipped += json_is_false(a);
    }
    json_decref(all);
    print_message("%d of %d events reported two different answers; %d reported false\n", disagree, N, flipped);
    assert_int_equal(disagree, 0);
    assert_true(flipped > 0); /* still randomized: 40 kept answers in a row have odds 0.75^40 */
}

static void test_unmask_round_trips(void **state)
{
    (void)state;
    json_t *ev = json_object_get(MASKED, "event");
    run_t r;
    unmask(&r, "acme", "properties.notes", jstr(ev, "properties", "notes"), ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out.out, NOTES "\n");
    ctl_dispose(&r);

    /* An array rule: each element by its concrete path, or by the rule path. */
    json_t *items = json_object_get(json_object_get(ev, "properties"), "items");
    unmask(&r, "acme", "properties.items[1].sku", json_string_value(json_object_get(json_array_get(items, 1), "sku")),
           ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out.out, SKU2 "\n");
    ctl_dispose(&r);
    unmask(&r, "acme", "properties.items[*].sku", json_string_value(json_object_get(json_array_get(items, 0), "sku")),
           ENC_KEY, FPE_KEY);
    assert_string_equal(r.out.out, SKU1 "\n");
    ctl_dispose(&r);

    unmask(&r, "acme", "traits.ssn", jstr(ev, "traits", "ssn"), ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out.out, SSN "\n");
    ctl_dispose(&r);

    /* Every attempt is audited: user, org, path, plugin, result; never the value. */
    sluice_err_t err = {{0}};
    char *audit = sluice_th_read_file(audit_path, NULL, &err);
    assert_non_null(audit);
    assert_int_equal(sluice_th_count(audit, "\"user\":\"auditor-e2e\""), 4);
    assert_int_equal(sluice_th_count(audit, "\"result\":\"ok\""), 4);
    assert_true(gwfix_contains(audit, "\"org\":\"acme\",\"path\":\"properties.items[*].sku\",\"plugin\":\"encrypt\""));
    assert_true(gwfix_contains(audit, "\"path\":\"traits.ssn\",\"plugin\":\"fpe\""));
    assert_true(gwfix_contains(audit, "\"event\":\"unmask\""));
    assert_false(gwfix_contains(audit, NOTES));
    assert_false(gwfix_contains(audit, SSN));
    assert_false(gwfix_contains(audit, SKU1));
    assert_false(gwfix_contains(audit, "enc:v1:"));
    free(audit);
}

static void test_unmask_refusals(void **state)
{
    (void)state;
    json_t *ev = json_object_get(MASKED, "event");
    const char *notes = jstr(ev, "properties", "notes"), *ssn = jstr(ev, "traits", "ssn");
    run_t r;
    /* Sealed for acme's properties.notes: globex's rule of the same path does not open it. */
    unmask(&r, "globex", "properties.notes", notes, ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "does not open for org 'globex' and path 'properties.notes'"));
    assert_string_equal(r.out.out, "");
    ctl_dispose(&r);
    /* Another field of the same org (also encrypt) does not open it either. */
    unmask(&r, "acme", "properties.items[*].sku", notes, ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    ctl_dispose(&r);
    /* Another key ring. */
    unmask(&r, "acme", "properties.notes", notes, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
           FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "wrong key ring"));
    ctl_dispose(&r);
    /* One character altered. */
    char *tampered = strdup(notes);
    size_t mid = strlen(tampered) / 2;
    tampered[mid] = tampered[mid] == 'A' ? 'B' : 'A';
    unmask(&r, "acme", "properties.notes", tampered, ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.out.out, "");
    ctl_dispose(&r);
    free(tampered);
    /* fpe with another key gives no error FF1 could detect, but not the SSN: the key matters. */
    unmask(&r, "acme", "traits.ssn", ssn, ENC_KEY, "000102030405060708090a0b0c0d0e0f");
    assert_int_equal(r.code, 0);
    assert_string_not_equal(r.out.out, SSN "\n");
    ctl_dispose(&r);
    /* No key: a clear error naming the variable. */
    const char *args[] = {"unmask", "--config", F.config, "--org", "acme", "--path", "traits.ssn", ssn, NULL};
    const char *env[] = {"-u", "T_FPE_KEY", "USER=auditor-e2e", NULL};
    ctl(&r, args, env);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "T_FPE_KEY"));
    ctl_dispose(&r);
    /* Unknown org, path without a rule, a rule whose plugin is not reversible. */
    unmask(&r, "initech", "properties.notes", notes, ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "no org 'initech'"));
    ctl_dispose(&r);
    unmask(&r, "acme", "properties.other", notes, ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "org 'acme' has no mask rule for path 'properties.other'"));
    ctl_dispose(&r);
    unmask(&r, "acme", "traits.email", "abc", ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "uses plugin 'hmac', which is not reversible"));
    ctl_dispose(&r);
    /* Usage errors. */
    const char *bad[] = {"unmask", "--config", F.config, "--org", "acme", NULL};
    ctl(&r, bad, NULL);
    assert_int_equal(r.code, 2);
    ctl_dispose(&r);
    /* The failures were audited too. */
    sluice_err_t err = {{0}};
    char *audit = sluice_th_read_file(audit_path, NULL, &err);
    assert_non_null(audit);
    assert_true(sluice_th_count(audit, "\"result\":\"failed\"") >= 8);
    assert_true(gwfix_contains(audit, "\"org\":\"globex\",\"path\":\"properties.notes\",\"plugin\":\"encrypt\","
                                      "\"result\":\"failed\""));
    free(audit);
}

/* unmask takes any concrete path a rule reaches, as the gateway matched it: the mirror of a rule
 * on traits.X (context.traits.X, where Segment's spec and RudderStack's identify carry traits)
 * and a member spelled in another case (keys below the event's own fields match without regard
 * to case). Both were masked by the rule, so both are the rule's to reverse; unmask answered
 * "org 'acme' has no mask rule for path 'context.traits.ssn'". */
static void test_unmask_concrete_paths(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"track\",\"event\":\"x\",\"messageId\":\"e2e-unmask-paths\",\"anonymousId\":\"a\","
                       "\"context\":{\"traits\":{\"ssn\":\"987-65-4321\"}},"
                       "\"properties\":{\"Notes\":\"the gate code is 5521\"}}";
    assert_int_equal(post_event(WEB_KEY, body), 200);
    json_t *all = NULL;
    json_t *ev = json_object_get(envelope("e2e-unmask-paths", &all), "event");
    const char *ssn = jstr(json_object_get(ev, "context"), "traits", "ssn");
    const char *notes = jstr(ev, "properties", "Notes");
    assert_non_null(ssn);
    assert_non_null(notes);
    assert_string_not_equal(ssn, "987-65-4321");
    assert_int_equal(strncmp(notes, "enc:v1:", 7), 0);

    run_t r;
    unmask(&r, "acme", "context.traits.ssn", ssn, ENC_KEY, FPE_KEY);
    if (r.code != 0)
        fail_msg("unmask context.traits.ssn: exit %d, %s", r.code, r.out.errout);
    assert_string_equal(r.out.out, "987-65-4321\n");
    ctl_dispose(&r);
    unmask(&r, "acme", "properties.Notes", notes, ENC_KEY, FPE_KEY);
    if (r.code != 0)
        fail_msg("unmask properties.Notes: exit %d, %s", r.code, r.out.errout);
    assert_string_equal(r.out.out, "the gate code is 5521\n");
    ctl_dispose(&r);
    /* The first key is matched exactly, as the gateway matches it: no rule reaches Properties. */
    unmask(&r, "acme", "Properties.notes", notes, ENC_KEY, FPE_KEY);
    assert_int_equal(r.code, 1);
    assert_true(gwfix_contains(r.out.errout, "no mask rule for path 'Properties.notes'"));
    ctl_dispose(&r);
    json_decref(all);
}

static void test_unmask_audit_file_unwritable(void **state)
{
    (void)state;
    /* A config whose audit file cannot be created: unmask refuses to print the value. */
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server: {https: {listen: \"127.0.0.1:1\", cert: %s/server.crt, key: %s/server.key}}\n"
             "kafka: {brokers: \"127.0.0.1:9092\"}\n"
             "log: {audit_file: /proc/sluice-no-such-dir/audit.log}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_WEB_KEY}]\n"
             "    data_layer: {mask: [{path: properties.notes, plugin: encrypt}]}\n",
             F.certs, F.certs);
    const char *cfg = gwfix_write("no-audit.yaml", yaml);
    json_t *ev = json_object_get(MASKED, "event");
    const char *args[] = {
        "unmask", "--config", cfg, "--org", "acme", "--path", "properties.notes", jstr(ev, "properties", "notes"),
        NULL};
    const char *env[] = {"ENCRYPTION_KEY=" ENC_KEY, "SLUICE_KEY_ID=3", NULL};
    run_t r;
    ctl(&r, args, env);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.out.out, "");
    assert_true(gwfix_contains(r.out.errout, "cannot open the audit file /proc/sluice-no-such-dir/audit.log"));
    ctl_dispose(&r);
}

static void test_sluicectl_fpe(void **state)
{
    (void)state;
    static const struct {
        const char *key, *tweak, *radix, *pt, *ct;
    } nist[] = {
        {"2B7E151628AED2A6ABF7158809CF4F3C", "", "10", "0123456789", "2433477484"},
        {"2B7E151628AED2A6ABF7158809CF4F3C", "39383736353433323130", "10", "0123456789", "6124200773"},
        {"2B7E151628AED2A6ABF7158809CF4F3C", "3737373770717273373737", "36", "0123456789abcdefghi",
         "a9tv40mll9kdu509eum"},
        {"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "", "10", "0123456789", "2830668132"},
        {"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "39383736353433323130", "10", "0123456789", "2496655549"},
        {"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "3737373770717273373737", "36", "0123456789abcdefghi",
         "xbj3kv35jrawxv32ysr"},
        {FPE_KEY, "", "10", "0123456789", "6657667009"},
        {FPE_KEY, "39383736353433323130", "10", "0123456789", "1001623463"},
        {FPE_KEY, "3737373770717273373737", "36", "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
    };
    for (size_t i = 0; i < sizeof(nist) / sizeof(nist[0]); i++) {
        char want[64];
        run_t r;
        const char *enc[] = {"fpe",         "encrypt", "--key-hex",   nist[i].key, "--tweak-hex",
                             nist[i].tweak, "--radix", nist[i].radix, nist[i].pt,  NULL};
        ctl(&r, enc, NULL);
        snprintf(want, sizeof(want), "%s\n", nist[i].ct);
        assert_int_equal(r.code, 0);
        assert_string_equal(r.out.out, want);
        ctl_dispose(&r);
        const char *dec[] = {"fpe",         "decrypt", "--key-hex",   nist[i].key, "--tweak-hex",
                             nist[i].tweak, "--radix", nist[i].radix, nist[i].ct,  NULL};
        ctl(&r, dec, NULL);
        snprintf(want, sizeof(want), "%s\n", nist[i].pt);
        assert_string_equal(r.out.out, want);
        ctl_dispose(&r);
    }
    /* The gateway's SSN, reversed by hand with the same parameters as the rule. */
    json_t *ev = json_object_get(MASKED, "event");
    run_t r;
    const char *rev[] = {
        "fpe", "decrypt", "--key-env", "T_FPE_KEY", "--radix", "10", "--preserve", "-", jstr(ev, "traits", "ssn"),
        NULL};
    const char *env[] = {"T_FPE_KEY=" FPE_KEY, NULL};
    ctl(&r, rev, env);
    assert_string_equal(r.out.out, SSN "\n");
    ctl_dispose(&r);

    static const struct {
        const char *args[10];
        int code;
        const char *msg;
    } bad[] = {
        {{"fpe", "encrypt", "--key-hex", "2B7E1516", "--radix", "10", "0123456789", NULL}, 1, "32, 48 or 64 hex"},
        {{"fpe", "encrypt", "--key-hex", FPE_KEY, "--radix", "10", "01234a6789", NULL}, 1, "outside the alphabet"},
        {{"fpe", "encrypt", "--key-hex", FPE_KEY, "--radix", "10", "12345", NULL}, 1, "at least 6"},
        {{"fpe", "encrypt", "--key-hex", FPE_KEY, "--alphabet", "0012", "0101", NULL}, 1, "appears twice"},
        {{"fpe", "encrypt", "--key-hex", FPE_KEY, "--radix", "63", "0123456789", NULL}, 2, "2 to 62"},
        {{"fpe", "encrypt", "--radix", "10", "0123456789", NULL}, 2, "--key-hex"},
        {{"fpe", "shuffle", NULL}, 2, "usage"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ctl(&r, bad[i].args, NULL);
        if (r.code != bad[i].code || !gwfix_contains(r.out.errout, bad[i].msg))
            fail_msg("case %zu: exit %d, stderr %s", i, r.code, r.out.errout);
        assert_false(gwfix_contains(r.out.errout, FPE_KEY));
        ctl_dispose(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_as_configured),
        cmocka_unit_test(test_no_raw_value_anywhere),
        cmocka_unit_test(test_on_error_reject),
        cmocka_unit_test(test_numbers_through_a_plugin),
        cmocka_unit_test(test_randomized_response_one_report_per_event),
        cmocka_unit_test(test_unmask_round_trips),
        cmocka_unit_test(test_unmask_refusals),
        cmocka_unit_test(test_unmask_concrete_paths),
        cmocka_unit_test(test_unmask_audit_file_unwritable),
        cmocka_unit_test(test_sluicectl_fpe),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    json_decref(ALL);
    return rc;
}

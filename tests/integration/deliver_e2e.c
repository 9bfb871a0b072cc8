/*
 * End to end: an event POSTed to the real sluice-gateway (HTTPS, write key, data layer hashing
 * the person's fields with each vendor's variant) goes through the dev Kafka broker to
 * sluice-deliver, which delivers it to HTTPS stubs of Meta and GA4 with the right bodies, using
 * credentials that were only ever stored encrypted in PostgreSQL (the row holds no plaintext;
 * the config holds no credential at all).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"

#define WRITE_KEY  "wk_e2e_deliver_51"
#define META_TOKEN "EAAB-e2e-token-0c9d"
#define GA4_SECRET "ga4-e2e-secret-77"
#define UA         "Mozilla/5.0 (sluice e2e) Firefox/133.0"

static gwfix_t G;
static dfix_t F;
static dstub_t META, GA4;

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&G);
    dfix_init(&F, G.kafka.bootstrap, G.certs, NULL, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &GA4, "ga4", NULL, NULL);
    static char yaml[32768];
    /* One file for both processes, as in production. */
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka:\n"
             "  brokers: \"%s\"\n"
             "  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500, fetch.wait.max.ms: 100}\n"
             "redis: {url: \"%s\"}\n"
             "database: {url: \"%s\"}\n"
             "delivery: {ca_file: %s, metrics: {listen: \"127.0.0.1:%d\"}}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: E2E_WRITE_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      hash_fields:\n"
             "        - {path: userId, normalize: external_id}\n"
             "        - {path: context.traits.email, normalize: email}\n"
             "        - {path: context.traits.phone, normalize: phone, default_country_code: \"1\"}\n"
             "        - {path: context.traits.firstName, normalize: name}\n"
             "    integrations:\n"
             "      - {name: meta, vendor: meta, pixel_id: \"998877\", base_url: \"%s\", batch: {max_wait_ms: 100}}\n"
             "      - {name: ga4, vendor: ga4, measurement_id: G-E2E, base_url: \"%s\", batch: {max_wait_ms: 100}}\n",
             G.https_port, G.certs, G.certs, G.metrics_port, G.kafka.bootstrap, G.redis.url, F.pg.url, F.ca,
             F.metrics_port, META.url, GA4.url);
    snprintf(G.config, sizeof(G.config), "%s", gwfix_write("e2e.yaml", yaml));
    snprintf(F.config, sizeof(F.config), "%s", G.config);
    static const char *genv[] = {"E2E_WRITE_KEY=" WRITE_KEY, NULL};
    memcpy(G.env, genv, sizeof(genv));
    gwfix_start(&G);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"" META_TOKEN "\"}");
    dfix_vault_put(&F, "ga4", "ga4", "{\"api_secret\":\"" GA4_SECRET "\"}");
    dfix_start_worker(&F, NULL, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

static const char *str(json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = obj;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k != NULL && cur != NULL; k = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)strtol(k, NULL, 10)) : json_object_get(cur, k);
    return json_string_value(cur);
}

static void test_gateway_to_meta_and_ga4(void **state)
{
    (void)state;
    const char *event = "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"e2e-order-1\","
                        "\"anonymousId\":\"anon-e2e-1\",\"userId\":\"user-4711\","
                        "\"properties\":{\"order_id\":\"ORD-77\",\"revenue\":42.5,\"currency\":\"EUR\","
                        "\"products\":[{\"product_id\":\"SKU-9\",\"name\":\"Kettle\",\"price\":42.5,\"quantity\":1}]},"
                        "\"context\":{\"page\":{\"url\":\"https://shop.acme.test/thanks\",\"title\":\"Thanks\"},"
                        "\"traits\":{\"email\":\" Jane.Doe@Gmail.com \",\"phone\":\"(650) 555-1212\","
                        "\"firstName\":\"Jane\"}}}";
    const char *headers[] = {"Authorization: Bearer " WRITE_KEY, "Content-Type: application/json", "User-Agent: " UA,
                             NULL};
    http_opts_t o = {.headers = headers, .body = event};
    http_resp_t resp;
    http_do(gwfix_url(&G, "/v1/track"), &o, G.ca, &resp);
    if (resp.status != 200)
        print_error("gateway: %ld %s\n", resp.status, resp.body);
    assert_int_equal(resp.status, 200);
    http_resp_dispose(&resp);

    /* Meta: default hashes (gmail dots kept, phone digits without '+'), raw ip and agent. */
    json_t *r = dfix_wait_request(&META, "e2e-order-1", 30000);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v26.0/998877/events");
    assert_string_equal(json_string_value(json_object_get(r, "query")), "access_token=" META_TOKEN);
    json_t *b = json_object_get(r, "json");
    assert_int_equal(json_array_size(json_object_get(b, "data")), 1);
    assert_string_equal(str(b, "data.0.event_name"), "Purchase");
    assert_string_equal(str(b, "data.0.event_id"), "e2e-order-1");
    assert_string_equal(str(b, "data.0.action_source"), "website");
    assert_string_equal(str(b, "data.0.event_source_url"), "https://shop.acme.test/thanks");
    assert_string_equal(str(b, "data.0.user_data.em.0"),
                        "831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982");
    assert_string_equal(str(b, "data.0.user_data.ph.0"),
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
    assert_string_equal(str(b, "data.0.user_data.fn.0"),
                        "81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2");
    assert_string_equal(str(b, "data.0.user_data.external_id.0"),
                        "85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846");
    assert_string_equal(str(b, "data.0.user_data.client_ip_address"), "127.0.0.1");
    assert_string_equal(str(b, "data.0.user_data.client_user_agent"), UA);
    assert_string_equal(str(b, "data.0.custom_data.currency"), "EUR");
    assert_string_equal(str(b, "data.0.custom_data.order_id"), "ORD-77");
    assert_string_equal(str(b, "data.0.custom_data.contents.0.id"), "SKU-9");
    assert_true(json_real_value(json_object_get(
                    json_object_get(json_array_get(json_object_get(b, "data"), 0), "custom_data"), "value")) == 42.5);
    /* No raw PII reached Meta. */
    const char *body = json_string_value(json_object_get(r, "body"));
    assert_null(strstr(body, "Gmail"));
    assert_null(strstr(body, "555"));
    assert_null(strstr(body, "user-4711"));
    json_decref(r);

    /* GA4: Google's variants (no gmail dots, E.164 with '+'), client from the anonymous id. */
    r = dfix_wait_request(&GA4, "ORD-77", 30000);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/mp/collect");
    assert_string_equal(json_string_value(json_object_get(r, "query")), "measurement_id=G-E2E&api_secret=" GA4_SECRET);
    b = json_object_get(r, "json");
    assert_string_equal(str(b, "client_id"), "anon-e2e-1");
    assert_string_equal(str(b, "user_id"), "85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846");
    assert_string_equal(str(b, "user_data.sha256_email_address.0"),
                        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
    assert_string_equal(str(b, "user_data.sha256_phone_number.0"),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    assert_string_equal(str(b, "events.0.name"), "purchase");
    assert_string_equal(str(b, "events.0.params.transaction_id"), "ORD-77");
    assert_string_equal(str(b, "events.0.params.currency"), "EUR");
    assert_string_equal(str(b, "events.0.params.items.0.item_id"), "SKU-9");
    assert_true(
        json_integer_value(json_object_get(json_array_get(json_object_get(b, "events"), 0), "timestamp_micros")) > 0);
    body = json_string_value(json_object_get(r, "body"));
    assert_null(strstr(body, "Gmail"));
    assert_null(strstr(body, "user-4711"));
    json_decref(r);
}

/* Sends a track event (messageId id) with props and checks props byte for byte in its Kafka
 * envelope. */
static void send_props_as_sent(const char *id, const char *props)
{
    char event[2048];
    snprintf(event, sizeof(event),
             "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"%s\","
             "\"anonymousId\":\"anon-num\",%s}",
             id, props);
    const char *headers[] = {"Authorization: Bearer " WRITE_KEY, "Content-Type: application/json", "User-Agent: " UA,
                             NULL};
    http_opts_t o = {.headers = headers, .body = event};
    http_resp_t resp;
    http_do(gwfix_url(&G, "/v1/track"), &o, G.ca, &resp);
    assert_int_equal(resp.status, 200);
    http_resp_dispose(&resp);

    json_t *msgs = gwfix_kafka_read(&G, "sluice.events");
    size_t i, found = 0;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *raw = json_string_value(json_object_get(m, "raw"));
        if (raw != NULL && strstr(raw, id) != NULL) {
            found++;
            if (strstr(raw, props) == NULL)
                print_error("envelope: %s\n", raw);
            assert_non_null(strstr(raw, props));
        }
    }
    assert_int_equal(found, 1);
    json_decref(msgs);
}

/* The vendor's request holding needle has every text of want[0..n). */
static void body_has(dstub_t *stub, const char *name, const char *needle, const char *const *want, size_t n)
{
    json_t *r = dfix_wait_request(stub, needle, 30000);
    const char *body = json_string_value(json_object_get(r, "body"));
    for (size_t k = 0; k < n; k++) {
        if (body == NULL || strstr(body, want[k]) == NULL)
            print_error("%s: %s not in %s\n", name, want[k], body != NULL ? body : "(none)");
        assert_non_null(body != NULL ? strstr(body, want[k]) : NULL);
    }
    json_decref(r);
}

/* Prices and quantities as the client wrote them, all the way: the same text in Kafka's envelope
 * and in Meta's and GA4's request bodies (issue 17): 19.9, 0.1, 1e21, -0, 12345678901234567890. */
static void test_numbers_as_sent(void **state)
{
    (void)state;
    send_props_as_sent("e2e-num-1",
                       "\"properties\":{\"order_id\":\"ORD-NUM\",\"revenue\":19.9,\"currency\":\"EUR\","
                       "\"products\":[{\"product_id\":\"N-1\",\"price\":0.1,\"quantity\":12345678901234567890},"
                       "{\"product_id\":\"N-2\",\"price\":1e21,\"quantity\":-0}]}");
    static const char *const meta_want[] = {"\"value\":19.9,", "\"item_price\":0.1",
                                            "\"quantity\":12345678901234567890", "\"item_price\":1e21",
                                            "\"quantity\":-0"};
    body_has(&META, "meta", "e2e-num-1", meta_want, 5);
    static const char *const ga4_want[] = {"\"value\":19.9", "\"price\":0.1", "\"quantity\":12345678901234567890",
                                           "\"price\":1e21", "\"quantity\":-0"};
    body_has(&GA4, "ga4", "ORD-NUM", ga4_want, 5);
}

/* Numbers of any length keep their text too (a 42-digit integer was refused with 400
 * invalid_json, a longer fraction formatted from its double, a 400-character price left out of
 * the vendors' bodies): a 42-digit order id, a 41-digit quantity, a 64-character revenue, a
 * 400-character price with an exponent. */
static void test_long_numbers_as_sent(void **state)
{
    (void)state;
    char n64[65], n400[401], props[1024];
    memcpy(n64, "0.", 2);
    for (int k = 2; k < 64; k++)
        n64[k] = (char)('1' + k % 9);
    n64[64] = '\0';
    memcpy(n400, "9.", 2);
    for (int k = 2; k < 396; k++)
        n400[k] = (char)('0' + k % 10);
    memcpy(n400 + 396, "e-21", 5);
    static const char order[] = "123456789012345678901234567890123456789012";
    static const char n41[] = "12345678901234567890123456789012345678901";
    snprintf(props, sizeof(props),
             "\"properties\":{\"order_id\":%s,\"revenue\":%s,\"currency\":\"EUR\","
             "\"products\":[{\"product_id\":\"L-1\",\"price\":%s,\"quantity\":%s}]}",
             order, n64, n400, n41);
    send_props_as_sent("e2e-num-long", props);
    char want[4][512];
    snprintf(want[0], sizeof(want[0]), "\"value\":%s", n64);
    snprintf(want[1], sizeof(want[1]), "\"quantity\":%s", n41);
    snprintf(want[2], sizeof(want[2]), "\"price\":%s", n400);
    snprintf(want[3], sizeof(want[3]), "\"transaction_id\":\"%s\"", order);
    const char *const ga4_want[] = {want[0], want[1], want[2], want[3]};
    body_has(&GA4, "ga4", order, ga4_want, 4);
    snprintf(want[2], sizeof(want[2]), "\"item_price\":%s", n400);
    body_has(&META, "meta", "e2e-num-long", ga4_want, 3);
}

/* Reals beyond a double keep their text too, as integers beyond one do: 1e400 or -1E+999 in a
 * property refused the whole event with 400 invalid_json ("real number overflow"). They reach
 * Kafka's envelope and GA4's and Meta's bodies as sent, and so does an underflow (1e-400). */
static void test_reals_beyond_a_double_as_sent(void **state)
{
    (void)state;
    send_props_as_sent("e2e-num-huge",
                       "\"properties\":{\"order_id\":\"ORD-HUGE\",\"revenue\":1e400,\"currency\":\"EUR\","
                       "\"products\":[{\"product_id\":\"H-1\",\"price\":-1E+999,\"quantity\":1},"
                       "{\"product_id\":\"H-2\",\"price\":1e-400,\"quantity\":2}]}");
    static const char *const ga4_want[] = {"\"value\":1e400", "\"price\":-1E+999", "\"price\":1e-400"};
    body_has(&GA4, "ga4", "ORD-HUGE", ga4_want, 3);
    static const char *const meta_want[] = {"\"value\":1e400", "\"item_price\":-1E+999", "\"item_price\":1e-400"};
    body_has(&META, "meta", "e2e-num-huge", meta_want, 3);
}

static int has_request(const dstub_t *s, const char *needle)
{
    json_t *all = dfix_requests(s);
    size_t i;
    json_t *r;
    int found = 0;
    json_array_foreach(all, i, r) {
        const char *body = json_string_value(json_object_get(r, "body"));
        if (body != NULL && strstr(body, needle) != NULL)
            found = 1;
    }
    json_decref(all);
    return found;
}

static void post_track(const char *mid, const char *integrations)
{
    char event[512];
    snprintf(event, sizeof(event),
             "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"%s\",\"anonymousId\":\"anon-sel\","
             "\"properties\":{\"order_id\":\"%s\",\"revenue\":1,\"currency\":\"EUR\"}%s%s}",
             mid, mid, integrations ? ",\"integrations\":" : "", integrations ? integrations : "");
    /* Meta needs the browser's user agent for website events. */
    const char *headers[] = {"Authorization: Bearer " WRITE_KEY, "Content-Type: application/json", "User-Agent: " UA,
                             NULL};
    http_opts_t o = {.headers = headers, .body = event};
    http_resp_t resp;
    http_do(gwfix_url(&G, "/v1/track"), &o, G.ca, &resp);
    assert_int_equal(resp.status, 200);
    http_resp_dispose(&resp);
}

/* Segment's per-event `integrations` object picks the destinations: by the catalogue's name
 * ("Facebook Conversions API"), the vendor kind or the integration's own name. One anonymous id,
 * so one partition: once a vendor got the last event, it had seen the ones before. */
static void test_integrations_object_selects(void **state)
{
    (void)state;
    post_track("sel-only-meta", "{\"All\":false,\"Facebook Conversions API\":true}");
    post_track("sel-not-ga4", "{\"Google Analytics 4\":false}");
    post_track("sel-only-ga4", "{\"All\":false,\"ga4\":true}");
    post_track("sel-all", NULL);
    json_decref(dfix_wait_request(&META, "sel-all", 30000));
    json_decref(dfix_wait_request(&GA4, "sel-all", 30000));
    assert_true(has_request(&META, "sel-only-meta"));
    assert_true(has_request(&META, "sel-not-ga4"));
    assert_false(has_request(&META, "sel-only-ga4"));
    assert_false(has_request(&GA4, "sel-only-meta"));
    assert_false(has_request(&GA4, "sel-not-ga4"));
    assert_true(has_request(&GA4, "sel-only-ga4"));
}

static void test_credentials_only_encrypted(void **state)
{
    (void)state;
    PGconn *db = PQconnectdb(F.pg.conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *res = PQexec(db, "SELECT count(*), string_agg(t::text, '|') FROM vault_credentials t");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "2");
    const char *rows = PQgetvalue(res, 0, 1);
    assert_null(strstr(rows, META_TOKEN));
    assert_null(strstr(rows, GA4_SECRET));
    assert_null(strstr(rows, "access_token"));
    assert_null(strstr(rows, "api_secret"));
    PQclear(res);
    /* Nor in any other table (the audit trail included). */
    res = PQexec(db, "SELECT count(*) FROM vault_audit t WHERE t::text LIKE '%" META_TOKEN
                     "%' OR t::text LIKE '%" GA4_SECRET "%'");
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    PQfinish(db);
    /* The config names no credential; the worker logged none. */
    char *cfg = sluice_th_read_file(F.config, NULL, NULL);
    assert_null(strstr(cfg, META_TOKEN));
    free(cfg);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_null(strstr(log, META_TOKEN));
    assert_null(strstr(log, GA4_SECRET));
    free(log);
    /* The worker read them from the vault (and the audit says so). */
    assert_true(dfix_metric(&F, "sluice_deliver_vault_reads_total{outcome=\"ok\"}") >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_to_meta_and_ga4),     cmocka_unit_test(test_numbers_as_sent),
        cmocka_unit_test(test_long_numbers_as_sent),        cmocka_unit_test(test_reals_beyond_a_double_as_sent),
        cmocka_unit_test(test_integrations_object_selects), cmocka_unit_test(test_credentials_only_encrypted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Enrichment end to end (docs/enrichment.md): a real sluice-gateway with the test MaxMind
 * database (tests/fixtures/geo/make_mmdb.py), events posted over HTTPS from MaxMind's London test
 * address through a trusted proxy, read back from the dev Kafka broker.
 *
 *  - geolocation used the full address: the event has country, region and city, while Kafka holds
 *    only the truncated address (ip_truncate ran after) and the full one appears nowhere in Kafka
 *    or in the gateway's log;
 *  - the user agent became context.device/os/browser, client hints won over a reduced UA, the
 *    landing URL's UTM parameters are context.campaign and the referrer is classed;
 *  - a crawler of an org with `bots: drop` is answered 200, never reaches Kafka and is counted in
 *    sluice_bots_total{action="drop"}; another org's `bots: flag` marks context.bot;
 *  - the session cookie: two events share a session, a forged cookie is not believed, and after
 *    the inactivity timeout (2 s here) the next event starts session number 2; an org whose session
 *    cookie needs consent keeps none without it, and deletes the one the browser has;
 *  - the gateway starts without its database (geolocation off, said once in the log); the file
 *    appearing turns it on without a signal (enrichment.geo_check_s: 1), and SIGHUP reloads it;
 *  - the database rewritten in place (cp over it) while the gateway looks up in it: it goes on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/time.h"
#include "tests/integration/gwfix.h"

static gwfix_t F;
static char geo_path[PATH_MAX]; /* absent when the gateway starts; the first test puts it there */
static char ua_path[PATH_MAX];  /* enrichment.ua_regexes: a copy of uap-core's */

#define ACME_KEY   "wk_live_enrich_acme"
#define GLOBEX_KEY "wk_live_enrich_globex"
#define SERVER_KEY "wk_live_enrich_acme_server"
#define ENC_KEY    "8d4f0e1c2b3a49586776a5b4c3d2e1f00112233445566778899aabbccddeeff0"
#define LONDON     "81.2.69.142" /* MaxMind's test address for London */
#define TRUNCATED  "81.2.69.0"
#define CHROME_WIN                                                                                                     \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
#define IPHONE                                                                                                         \
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "    \
    "Mobile/15E148 Safari/604.1"
#define GOOGLEBOT "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
#define APPLEBOT                                                                                                       \
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 "         \
    "Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"
#define HEADLESS                                                                                                       \
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
/* Google's crawler behind Search Console's URL inspection: it runs the page's scripts. */
#define INSPECTION "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)"

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    sluice_err_t err = {{0}};
    snprintf(geo_path, sizeof(geo_path), "%s/city.mmdb", sluice_th_tmpdir(&err));
    /* A copy of uap-core's regexes of the test's own, rewritten in place by a test below. */
    snprintf(ua_path, sizeof(ua_path), "%s/regexes.yaml", sluice_th_tmpdir(&err));
    size_t ua_len = 0;
    char *regexes = sluice_th_read_file("/usr/share/uap-core/regexes.yaml", &ua_len, &err);
    assert_non_null(regexes);
    FILE *uf = fopen(ua_path, "wb");
    assert_non_null(uf);
    assert_int_equal(fwrite(regexes, 1, ua_len, uf), ua_len);
    assert_int_equal(fclose(uf), 0);
    free(regexes);
    char yaml[32768];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "  trusted_proxies: [127.0.0.1]\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 4000}\n"
             "redis: {url: \"%s\", timeout_ms: 200}\n"
             "log: {level: debug}\n"
             "enrichment: {geo_database: %s, geo_check_s: 1, ua_regexes: %s}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_ACME_KEY}\n"
             "      - {id: backend, write_key_env: T_SERVER_KEY, sent_from: server}\n"
             "    consent: {policy: allow}\n"
             "    enrichment:\n"
             "      user_agent: true\n"
             "      bots: drop\n"
             "      geo: city\n"
             "      session: {timeout_s: 2}\n"
             "      campaign: true\n"
             "      referrer: {internal: [shop-eu.acme.test]}\n"
             "    data_layer:\n"
             "      mask:\n"
             "        - {path: context.ip, plugin: ip_truncate}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: T_GLOBEX_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    enrichment: {bots: flag, geo: country, session: {consent: [analytics]}}\n"
             "    data_layer:\n"
             "      mask:\n"
             "        - {path: context.ip, plugin: ip_truncate}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, geo_path, ua_path);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"T_ACME_KEY=" ACME_KEY,    "T_GLOBEX_KEY=" GLOBEX_KEY, "T_SERVER_KEY=" SERVER_KEY,
                                "ENCRYPTION_KEY=" ENC_KEY, "SLUICE_KEY_ID=1",          NULL};
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

typedef struct sent {
    long status;
    char cookie[512]; /* the session cookie's name=value from Set-Cookie, or "" */
} sent_t;

/* POSTs one track event of messageId id with user agent ua (NULL: none) and extra headers. */
static sent_t post_as(const char *type, const char *key, const char *id, const char *ua, const char *cookie,
                      const char *extra_json, const char *const *more_headers)
{
    char auth[128], uah[512], ck[1200], body[2048];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    snprintf(uah, sizeof(uah), "User-Agent: %s", ua ? ua : "");
    snprintf(ck, sizeof(ck), "Cookie: %s", cookie ? cookie : "");
    const char *headers[16] = {auth, "Content-Type: application/json", "X-Forwarded-For: " LONDON, uah};
    size_t n = 4;
    if (cookie != NULL)
        headers[n++] = ck;
    for (size_t i = 0; more_headers != NULL && more_headers[i] != NULL; i++)
        headers[n++] = more_headers[i];
    headers[n] = NULL;
    snprintf(body, sizeof(body),
             "{\"type\":\"%s\",\"event\":\"Viewed\",\"messageId\":\"%s\",\"anonymousId\":\"a-1\"%s}", type, id,
             extra_json ? extra_json : "");
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, strcmp(type, "page") == 0 ? "/v1/page" : "/v1/track"), &o, F.ca, &r);
    sent_t s = {.status = r.status};
    if (r.status != 200)
        print_error("status %ld: %s\n", r.status, r.body ? r.body : "");
    /* Every Set-Cookie line; keep the session cookie's name=value. */
    for (const char *h = r.headers; h != NULL && (h = strcasestr(h, "set-cookie: _sluice_ses=")) != NULL; h++) {
        const char *v = h + strlen("set-cookie: ");
        size_t len = strcspn(v, ";\r\n");
        if (len < sizeof(s.cookie)) {
            memcpy(s.cookie, v, len);
            s.cookie[len] = '\0';
        }
    }
    http_resp_dispose(&r);
    return s;
}

static sent_t post(const char *key, const char *id, const char *ua, const char *cookie, const char *extra_json,
                   const char *const *more_headers)
{
    return post_as("track", key, id, ua, cookie, extra_json, more_headers);
}

static json_t *envelope(const char *id, json_t **all)
{
    for (int tries = 0; tries < 60; tries++) {
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

static const char *at(json_t *env, const char *a, const char *b)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(json_object_get(env, "event"), "context"), a), b));
}

/* ------------------------------------------------------------------ tests */

/* A page event without context.page (a server library's page call) has its page in properties:
 * its url's utm_* are the visit's campaign and its referrer is classed. A track event's
 * properties.url is no page: a "Link Shared" event's shared URL carrying someone else's
 * utm_source=twitter became the visitor's campaign (and its GA4 campaign_details), and its
 * properties.referrer the visit's referrer. The docs said "a page event's properties.url". */
static void test_campaign_from_properties_of_pages_only(void **state)
{
    (void)state;
    const char *props = ",\"properties\":{\"url\":\"https://shop.acme.test/?utm_source=twitter&utm_medium=social"
                        "&utm_campaign=shared&gclid=G-shared\",\"referrer\":\"https://www.google.com/\"}";
    assert_int_equal(post_as("page", ACME_KEY, "enrich-props-page", CHROME_WIN, NULL, props, NULL).status, 200);
    assert_int_equal(post_as("track", ACME_KEY, "enrich-props-track", CHROME_WIN, NULL, props, NULL).status, 200);
    /* A context.page with empty strings has no page in it (GA4's delivery read it so already):
     * the page event's properties are its page. */
    char empty_page[512];
    snprintf(empty_page, sizeof(empty_page), ",\"context\":{\"page\":{\"url\":\"\",\"referrer\":\"\"}}%s", props);
    assert_int_equal(post_as("page", ACME_KEY, "enrich-props-empty", CHROME_WIN, NULL, empty_page, NULL).status, 200);
    const char *pages[] = {"enrich-props-page", "enrich-props-empty"};
    json_t *all;
    json_t *env;
    for (size_t i = 0; i < 2; i++) {
        env = envelope(pages[i], &all);
        assert_non_null(at(env, "campaign", "source"));
        assert_string_equal(at(env, "campaign", "source"), "twitter");
        assert_string_equal(at(env, "campaign", "name"), "shared");
        assert_non_null(at(env, "referrer", "medium"));
        assert_string_equal(at(env, "referrer", "medium"), "search");
        /* and the ad click in that URL is the visit's (Google Ads, Meta's fbc, TikTok read clickIds) */
        assert_non_null(at(env, "clickIds", "gclid"));
        assert_string_equal(at(env, "clickIds", "gclid"), "G-shared");
        json_decref(all);
    }
    env = envelope("enrich-props-track", &all);
    json_t *ctx = json_object_get(json_object_get(env, "event"), "context");
    assert_null(json_object_get(ctx, "campaign"));
    assert_null(json_object_get(ctx, "referrer"));
    assert_null(json_object_get(ctx, "clickIds"));
    /* The event's own properties are passed through as sent. */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(env, "event"), "properties"), "referrer")),
        "https://www.google.com/");
    json_decref(all);
}

/* No database at start: events go on without a location, the log says why once; the file
 * copied into place turns geolocation on by itself (the watcher's reload), and SIGHUP reloads. */
static void test_no_database_then_reload(void **state)
{
    (void)state;
    assert_int_equal(post(ACME_KEY, "enrich-nodb-1", IPHONE, NULL, NULL, NULL).status, 200);
    json_t *all;
    json_t *env = envelope("enrich-nodb-1", &all);
    assert_null(json_object_get(json_object_get(json_object_get(env, "event"), "context"), "location"));
    assert_string_equal(at(env, "os", "name"), "iOS"); /* the rest of enrichment runs */
    json_decref(all);
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    assert_non_null(log);
    const char *first = strstr(log, "enrich.geo_off");
    assert_non_null(first);
    assert_null(strstr(first + 1, "enrich.geo_off")); /* once, not per event */
    free(log);

    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s/tests/fixtures/geo/test-city.mmdb", sluice_th_build_dir());
    size_t len = 0;
    char *db = sluice_th_read_file(src, &len, &err);
    assert_non_null(db);
    FILE *f = fopen(geo_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(db, 1, len, f), len);
    fclose(f);
    free(db);
    assert_int_equal(sluice_th_wait_log(F.gw, "enrich.geo_changed", 1, 10000, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 1, 10000, &err), 0);
    /* Each loop thread swaps at its next turn: ask until one answers with the new runtime. */
    int found = 0;
    for (int i = 0; i < 20 && !found; i++) {
        char id[32];
        snprintf(id, sizeof(id), "enrich-reload-%d", i);
        assert_int_equal(post(ACME_KEY, id, IPHONE, NULL, NULL, NULL).status, 200);
        env = envelope(id, &all);
        found = at(env, "location", "city") != NULL;
        json_decref(all);
    }
    assert_true(found);

    /* SIGHUP reopens it too (and the unchanged file sets off no second reload). */
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 2, 10000, &err), 0);
    struct timespec ts = {2, 500 * 1000 * 1000};
    nanosleep(&ts, NULL);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    first = strstr(log, "enrich.geo_changed");
    assert_null(strstr(first + 1, "enrich.geo_changed"));
    free(log);
    assert_int_equal(post(ACME_KEY, "enrich-reload-hup", IPHONE, NULL, NULL, NULL).status, 200);
    env = envelope("enrich-reload-hup", &all);
    assert_string_equal(at(env, "location", "city"), "London");
    json_decref(all);
}

static void test_geo_before_truncation(void **state)
{
    (void)state;
    static const char *const hints[] = {"Sec-CH-UA: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", "
                                        "\"Not-A.Brand\";v=\"99\"",
                                        "Sec-CH-UA-Platform: \"Windows\"", "Sec-CH-UA-Platform-Version: \"15.0.0\"",
                                        "Sec-CH-UA-Mobile: ?0", NULL};
    sent_t s = post(ACME_KEY, "enrich-geo-1", CHROME_WIN, NULL,
                    ",\"context\":{\"page\":{\"url\":\"https://shop.acme.test/?utm_source=newsletter&utm_medium=email"
                    "&utm_campaign=winter%20sale&utm_id=wnt-26\",\"referrer\":\"https://www.google.co.uk/\"}}",
                    hints);
    assert_int_equal(s.status, 200);
    json_t *all;
    json_t *env = envelope("enrich-geo-1", &all);
    json_t *ctx = json_object_get(json_object_get(env, "event"), "context");
    assert_string_equal(json_string_value(json_object_get(ctx, "ip")), TRUNCATED);
    assert_string_equal(at(env, "location", "country"), "United Kingdom");
    assert_string_equal(at(env, "location", "countryCode"), "GB");
    assert_string_equal(at(env, "location", "region"), "England");
    assert_string_equal(at(env, "location", "city"), "London");
    assert_string_equal(at(env, "browser", "name"), "Chrome");
    assert_string_equal(at(env, "browser", "version"), "124");
    assert_string_equal(at(env, "os", "name"), "Windows");
    assert_string_equal(at(env, "os", "version"), "11"); /* the hint, not the UA's "10" */
    assert_string_equal(at(env, "device", "type"), "desktop");
    assert_string_equal(at(env, "campaign", "name"), "winter sale");
    assert_string_equal(at(env, "campaign", "source"), "newsletter");
    assert_string_equal(at(env, "campaign", "medium"), "email");
    assert_string_equal(at(env, "campaign", "id"), "wnt-26"); /* utm_id, GA4's campaign ID */
    assert_string_equal(at(env, "referrer", "medium"), "search");
    assert_string_equal(at(env, "referrer", "source"), "Google");
    assert_null(json_object_get(ctx, "bot"));
    /* The full address is nowhere in Kafka. */
    char *text = json_dumps(all, JSON_COMPACT);
    assert_false(gwfix_contains(text, LONDON));
    free(text);
    json_decref(all);

    /* A coarser org: country only, and its IPv4 lookup still used the full address. */
    assert_int_equal(post(GLOBEX_KEY, "enrich-geo-2", IPHONE, NULL, NULL, NULL).status, 200);
    env = envelope("enrich-geo-2", &all);
    assert_string_equal(at(env, "location", "countryCode"), "GB");
    assert_null(at(env, "location", "city"));
    assert_null(at(env, "location", "region"));
    assert_null(at(env, "device", "type")); /* user_agent is off for globex */
    json_decref(all);
}

static void test_bots(void **state)
{
    (void)state;
    double before = gwfix_metric(&F, "sluice_bots_total{action=\"drop\"}");
    assert_int_equal(post(ACME_KEY, "enrich-bot-1", GOOGLEBOT, NULL, NULL, NULL).status, 200);
    assert_int_equal(post(ACME_KEY, "enrich-bot-2", NULL, NULL, NULL, NULL).status, 200); /* no user agent */
    assert_int_equal(post(ACME_KEY, "enrich-bot-4", INSPECTION, NULL, NULL, NULL).status, 200);
    assert_int_equal(post(ACME_KEY, "enrich-human", IPHONE, NULL, NULL, NULL).status, 200);
    json_t *all;
    json_t *env = envelope("enrich-human", &all); /* after it, the dropped ones would have arrived too */
    assert_string_equal(at(env, "device", "type"), "mobile");
    assert_string_equal(at(env, "os", "name"), "iOS");
    assert_int_equal(gwfix_count_message(all, "enrich-bot-1"), 0);
    assert_int_equal(gwfix_count_message(all, "enrich-bot-2"), 0);
    assert_int_equal(gwfix_count_message(all, "enrich-bot-4"), 0);
    json_decref(all);
    assert_true(gwfix_metric(&F, "sluice_bots_total{action=\"drop\"}") - before == 3.0);

    /* globex flags instead: queued, with context.bot for the delivery worker to skip. */
    assert_int_equal(post(GLOBEX_KEY, "enrich-bot-3", GOOGLEBOT, NULL, NULL, NULL).status, 200);
    env = envelope("enrich-bot-3", &all);
    assert_string_equal(at(env, "bot", "reason"), "spider");
    assert_string_equal(at(env, "bot", "name"), "Googlebot");
    json_decref(all);
    /* The flag is the gateway's: a `context.bot: null` in the body (which the delivery worker
     * reads as "no bot") left it unwritten, and the crawler's event went to every integration. */
    assert_int_equal(post(GLOBEX_KEY, "enrich-bot-5", GOOGLEBOT, NULL, ",\"context\":{\"bot\":null}", NULL).status,
                     200);
    env = envelope("enrich-bot-5", &all);
    assert_string_equal(at(env, "bot", "reason"), "spider");
    json_decref(all);
    assert_true(gwfix_metric(&F, "sluice_bots_total{action=\"flag\"}") >= 1.0);

    /* A phone whose User-Agent holds a byte that is not UTF-8 (a Latin-1 device name) is a phone:
     * the header was left out, and the event, judged to have no user agent, was dropped. */
    before = gwfix_metric(&F, "sluice_bots_total{action=\"drop\"}");
    assert_int_equal(post(ACME_KEY, "enrich-latin1",
                          "Mozilla/5.0 (Linux; Android 9; Caf\xe9 Phone) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
                          NULL, NULL, NULL)
                         .status,
                     200);
    env = envelope("enrich-latin1", &all);
    assert_string_equal(at(env, "os", "name"), "Android");
    assert_string_equal(at(env, "device", "type"), "mobile");
    assert_true(gwfix_contains(
        json_string_value(json_object_get(json_object_get(json_object_get(env, "event"), "context"), "userAgent")),
        "Caf\xef\xbf\xbd Phone"));
    json_decref(all);
    /* So is a phone whose SDK sent an empty context.userAgent: the header's is taken. */
    assert_int_equal(post(ACME_KEY, "enrich-empty-ua", IPHONE, NULL, ",\"context\":{\"userAgent\":\"\"}", NULL).status,
                     200);
    env = envelope("enrich-empty-ua", &all);
    assert_string_equal(at(env, "os", "name"), "iOS");
    json_decref(all);
    assert_true(gwfix_metric(&F, "sluice_bots_total{action=\"drop\"}") == before);
}

/* A user agent longer than the parser's cache key (1,024 bytes) is parsed by the regexes each time
 * (0.7 ms): sent once as the header of a batch of 500 events, it ran them 500 times, blocking the
 * loop thread for a third of a second for a 30 KB request. The request's own user agent is parsed
 * once per request. */
static void test_long_user_agent_once_per_request(void **state)
{
    (void)state;
    char ua[1300];
    size_t n = (size_t)snprintf(ua, sizeof(ua), "User-Agent: %s ", IPHONE);
    memset(ua + n, 'x', 1200 - n);
    ua[1200] = '\0';
    enum { EVENTS = 200 };
    static char body[EVENTS * 120 + 64];
    size_t b = (size_t)snprintf(body, sizeof(body), "{\"batch\":[");
    for (int i = 0; i < EVENTS; i++)
        b += (size_t)snprintf(
            body + b, sizeof(body) - b,
            "%s{\"type\":\"track\",\"event\":\"Long\",\"messageId\":\"enrich-long-%d\",\"anonymousId\":\"a-l\"}",
            i ? "," : "", i);
    snprintf(body + b, sizeof(body) - b, "]}");
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ACME_KEY);
    const char *headers[] = {auth, "Content-Type: application/json", "X-Forwarded-For: " LONDON, ua, NULL};
    double before = gwfix_metric(&F, "sluice_enrich_ua_total{source=\"regexes\"}");
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/batch"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    json_t *all;
    json_t *env = envelope("enrich-long-199", &all);
    assert_string_equal(at(env, "os", "name"), "iOS");
    json_decref(all);
    assert_true(gwfix_metric(&F, "sluice_enrich_ua_total{source=\"regexes\"}") - before <= 2.0);
}

/* Clock correction never moves an event past the moment the gateway received it: a client that
 * stamped its event after its sentAt (a clock stepped between the two, or a made-up time) got a
 * timestamp in the future, up to year 9999. A time without sentAt passes as sent, byte for byte. */
static void test_times(void **state)
{
    (void)state;
    assert_int_equal(post(ACME_KEY, "enrich-time-ahead", IPHONE, NULL,
                          ",\"timestamp\":\"9999-12-31T23:59:59.999Z\",\"sentAt\":\"2020-01-01T00:00:00Z\"", NULL)
                         .status,
                     200);
    assert_int_equal(
        post(ACME_KEY, "enrich-time-asis", IPHONE, NULL, ",\"timestamp\":\"2026-12-03t10:00:00.123456789+05:45\"", NULL)
            .status,
        200);
    json_t *all;
    json_t *env = envelope("enrich-time-ahead", &all);
    json_t *ev = json_object_get(env, "event");
    const char *ts = json_string_value(json_object_get(ev, "timestamp"));
    assert_non_null(ts);
    assert_string_equal(ts, json_string_value(json_object_get(ev, "receivedAt")));
    assert_string_equal(json_string_value(json_object_get(ev, "originalTimestamp")), "9999-12-31T23:59:59.999Z");
    json_decref(all);
    env = envelope("enrich-time-asis", &all);
    assert_string_equal(json_string_value(json_object_get(json_object_get(env, "event"), "timestamp")),
                        "2026-12-03t10:00:00.123456789+05:45");
    json_decref(all);
}

/* A server SDK's request carries its HTTP library's User-Agent (Go-http-client, node-fetch, curl)
 * or none: it says nothing of the visitor, so it neither makes the events bots (under `bots: drop`
 * they were answered 200 and never queued) nor becomes their context.userAgent. A user agent the
 * event itself carries is the visitor's, and is judged; so is a browser's that a relaying server
 * passes on in its request. */
static void test_bots_server_source(void **state)
{
    (void)state;
    assert_int_equal(post(SERVER_KEY, "enrich-server-go", "Go-http-client/1.1", NULL, NULL, NULL).status, 200);
    assert_int_equal(post(SERVER_KEY, "enrich-server-none", NULL, NULL, NULL, NULL).status, 200);
    assert_int_equal(post(SERVER_KEY, "enrich-server-crawler", "node-fetch/1.0", NULL,
                          ",\"context\":{\"userAgent\":\"" GOOGLEBOT "\"}", NULL)
                         .status,
                     200);
    assert_int_equal(post(SERVER_KEY, "enrich-server-phone", "node-fetch/1.0", NULL,
                          ",\"context\":{\"userAgent\":\"" IPHONE "\"}", NULL)
                         .status,
                     200);
    /* A server relaying a visitor's request with the browser's User-Agent: that one is theirs. */
    assert_int_equal(post(SERVER_KEY, "enrich-server-relayed", IPHONE, NULL, NULL, NULL).status, 200);
    json_t *all;
    json_t *env = envelope("enrich-server-phone", &all);
    assert_string_equal(at(env, "os", "name"), "iOS");
    json_decref(all);
    env = envelope("enrich-server-relayed", &all);
    assert_string_equal(at(env, "os", "name"), "iOS");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(env, "event"), "context"), "userAgent")),
        IPHONE);
    json_decref(all);
    /* A server relaying a crawler's or headless browser's request passes that user agent on: it is
     * the visitor's, and a bot's (it was taken for the server's own HTTP library's, left out, and
     * the event went on as a person's). */
    assert_int_equal(post(SERVER_KEY, "enrich-server-relayed-bot", APPLEBOT, NULL, NULL, NULL).status, 200);
    assert_int_equal(post(SERVER_KEY, "enrich-server-relayed-headless", HEADLESS, NULL, NULL, NULL).status, 200);
    env = envelope("enrich-server-go", &all);
    json_t *ctx = json_object_get(json_object_get(env, "event"), "context");
    assert_null(json_object_get(ctx, "userAgent"));
    assert_null(json_object_get(ctx, "bot"));
    assert_int_equal(gwfix_count_message(all, "enrich-server-none"), 1);
    assert_int_equal(gwfix_count_message(all, "enrich-server-crawler"), 0);
    assert_int_equal(gwfix_count_message(all, "enrich-server-relayed-bot"), 0);
    assert_int_equal(gwfix_count_message(all, "enrich-server-relayed-headless"), 0);
    json_decref(all);
    /* Segment's and RudderStack's server libraries name themselves (analytics-node 6 and
     * RudderStack's node SDK: "analytics-node/<version>"), and the HTTP clients of other languages
     * theirs: that User-Agent became every event's context.userAgent, and Meta's client_user_agent. */
    static const char *const sdks[] = {"analytics-node/6.2.0",
                                       "analytics-java/3.5.1",
                                       "analytics-ruby/2.4.0",
                                       "analytics-python/2.3.2",
                                       "analytics-go (version: 3.3.0)",
                                       "okhttp/4.12.0",
                                       "Java-http-client/17.0.9",
                                       "Ruby",
                                       "Faraday v2.7.4",
                                       "GuzzleHttp/7"};
    for (size_t i = 0; i < sizeof(sdks) / sizeof(sdks[0]); i++) {
        char mid[64];
        snprintf(mid, sizeof(mid), "enrich-server-sdk-%zu", i);
        assert_int_equal(post(SERVER_KEY, mid, sdks[i], NULL, NULL, NULL).status, 200);
        env = envelope(mid, &all);
        ctx = json_object_get(json_object_get(env, "event"), "context");
        if (json_object_get(ctx, "userAgent") != NULL)
            fail_msg("%s became the event's context.userAgent", sdks[i]);
        assert_null(json_object_get(ctx, "bot"));
        json_decref(all);
    }
}

static void test_session(void **state)
{
    (void)state;
    sent_t a = post(ACME_KEY, "enrich-ses-1", IPHONE, NULL, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_true(strncmp(a.cookie, "_sluice_ses=1.", 14) == 0);
    sent_t b = post(ACME_KEY, "enrich-ses-2", IPHONE, a.cookie, NULL, NULL);
    assert_int_equal(b.status, 200);
    /* The browser's cookie: b's when the gateway refreshed it, else a's, which stays right. */
    const char *jar = b.cookie[0] != '\0' ? b.cookie : a.cookie;
    json_t *all1, *all2;
    json_t *e1 = envelope("enrich-ses-1", &all1);
    json_t *e2 = envelope("enrich-ses-2", &all2);
    assert_non_null(at(e1, "session", "id"));
    assert_string_equal(at(e1, "session", "id"), at(e2, "session", "id"));
    json_t *s2 = json_object_get(json_object_get(json_object_get(e2, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(s2, "number")), 1);
    assert_string_equal(at(e1, "session", "start"), at(e2, "session", "start"));
    char first_id[64];
    snprintf(first_id, sizeof(first_id), "%s", at(e1, "session", "id"));
    json_decref(all1);
    json_decref(all2);

    /* A cookie with its number changed is not believed: a new session, number 1. */
    char forged[512];
    snprintf(forged, sizeof(forged), "%s", jar);
    char *num = forged + strlen("_sluice_ses=1.") + 32 + 1;
    assert_int_equal(*num, '1');
    *num = '7';
    assert_int_equal(post(ACME_KEY, "enrich-ses-forged", IPHONE, forged, NULL, NULL).status, 200);
    json_t *ef = envelope("enrich-ses-forged", &all1);
    assert_string_not_equal(at(ef, "session", "id"), first_id);
    json_t *sf = json_object_get(json_object_get(json_object_get(ef, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(sf, "number")), 1);
    json_decref(all1);

    /* Idle past the timeout (2 s): session number 2 with a new id. The events that must land in
     * c's session are sent right after c, before any envelope is read: reading Kafka under ASan on
     * a loaded machine took longer than the 2 s timeout, and the later events began session 3. */
    struct timespec ts = {3, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sent_t c = post(ACME_KEY, "enrich-ses-3", IPHONE, jar, NULL, NULL);
    assert_int_equal(c.status, 200);
    assert_true(strncmp(c.cookie, "_sluice_ses=1.", 14) == 0);

    /* A browser holding two session cookies (the site moved from a host-only cookie to
     * `cookie_domain`: the old cookie stays, and browsers send the older first) is in the session
     * of the newer one. Reading only the first, every event after the old one's timeout started
     * a new session. */
    char both[1100];
    snprintf(both, sizeof(both), "%s; %s", jar, c.cookie);
    assert_int_equal(post(ACME_KEY, "enrich-ses-two", IPHONE, both, NULL, NULL).status, 200);

    /* context.session is the gateway's whatever the client put there: a string the client sent
     * was kept, and the event had no session. */
    assert_int_equal(
        post(ACME_KEY, "enrich-ses-string", IPHONE, c.cookie, ",\"context\":{\"session\":\"forged\"}", NULL).status,
        200);

    json_t *e3 = envelope("enrich-ses-3", &all1);
    assert_string_not_equal(at(e3, "session", "id"), first_id);
    json_t *s3 = json_object_get(json_object_get(json_object_get(e3, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(s3, "number")), 2);
    char second_id[64];
    snprintf(second_id, sizeof(second_id), "%s", at(e3, "session", "id"));
    json_decref(all1);
    assert_true(gwfix_metric(&F, "sluice_sessions_started_total") >= 3.0);

    json_t *e4 = envelope("enrich-ses-two", &all1);
    assert_string_equal(at(e4, "session", "id"), second_id);
    json_t *s4 = json_object_get(json_object_get(json_object_get(e4, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(s4, "number")), 2);
    json_decref(all1);

    json_t *e5 = envelope("enrich-ses-string", &all1);
    assert_string_equal(at(e5, "session", "id"), second_id);
    json_decref(all1);
}

/* An SDK's offline queue flushed after the inactivity timeout: its events happened in the
 * session the browser's cookie held, by their own time (timestamp, read against sentAt), not in
 * the one their arrival began. Before, they were stamped with the new session, hours before its
 * start at worst, and GA4's session_id put them in it. An event older than any session the
 * gateway knows gets none, not the current one. */
static void test_session_offline(void **state)
{
    (void)state;
    char queued_at[SLUICE_TIME_TEXT_MAX], now[SLUICE_TIME_TEXT_MAX], old[SLUICE_TIME_TEXT_MAX];
    int64_t t0 = sluice_now_ms();
    sent_t a = post(ACME_KEY, "enrich-off-1", IPHONE, NULL, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_true(strncmp(a.cookie, "_sluice_ses=1.", 14) == 0);
    /* Offline past the timeout (2 s); the queue then sends an event of 200 ms after t0. */
    struct timespec ts = {3, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sluice_time_format(t0 + 200, queued_at);
    sluice_time_format(sluice_now_ms(), now);
    char extra[256];
    snprintf(extra, sizeof(extra), ",\"timestamp\":\"%s\",\"sentAt\":\"%s\"", queued_at, now);
    sent_t b = post(ACME_KEY, "enrich-off-queued", IPHONE, a.cookie, extra, NULL);
    assert_int_equal(b.status, 200);
    assert_true(strncmp(b.cookie, "_sluice_ses=1.", 14) == 0); /* this request began session 2 */
    /* An hour-old event in session 2: it happened in none the gateway knows. */
    sluice_time_format(sluice_now_ms() - 3600 * 1000, old);
    sluice_time_format(sluice_now_ms(), now);
    snprintf(extra, sizeof(extra), ",\"timestamp\":\"%s\",\"sentAt\":\"%s\",\"context\":{\"session\":{\"id\":\"x\"}}",
             old, now);
    assert_int_equal(post(ACME_KEY, "enrich-off-old", IPHONE, b.cookie, extra, NULL).status, 200);
    assert_int_equal(post(ACME_KEY, "enrich-off-now", IPHONE, b.cookie, NULL, NULL).status, 200);

    json_t *all1, *all2;
    json_t *e1 = envelope("enrich-off-1", &all1);
    json_t *eq = envelope("enrich-off-queued", &all2);
    assert_non_null(at(e1, "session", "id"));
    assert_non_null(at(eq, "session", "id"));
    assert_string_equal(at(eq, "session", "id"), at(e1, "session", "id"));
    assert_string_equal(at(eq, "session", "start"), at(e1, "session", "start"));
    json_t *sq = json_object_get(json_object_get(json_object_get(eq, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(sq, "number")), 1);
    char first_id[64];
    snprintf(first_id, sizeof(first_id), "%s", at(e1, "session", "id"));
    json_decref(all1);
    json_decref(all2);

    json_t *eo = envelope("enrich-off-old", &all1);
    assert_null(json_object_get(json_object_get(json_object_get(eo, "event"), "context"), "session"));
    json_decref(all1);
    json_t *en = envelope("enrich-off-now", &all1); /* the cookie's session 2 goes on */
    json_t *sn = json_object_get(json_object_get(json_object_get(en, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(sn, "number")), 2);
    assert_string_not_equal(at(en, "session", "id"), first_id);
    json_decref(all1);
}

/* A session cookie's field (0 id, 1 number, 2 start, 3 last-seen: "_sluice_ses=1.<id>.<number>.
 * <start>.<last-seen>.<signature>", docs/enrichment.md) as a number, or -1. */
static int64_t cookie_field(const char *cookie, int field)
{
    const char *p = strncmp(cookie, "_sluice_ses=1.", 14) == 0 ? cookie + 14 : NULL;
    for (int i = 0; p != NULL && i < field; i++)
        p = (p = strchr(p, '.')) != NULL ? p + 1 : NULL;
    return p != NULL ? strtoll(p, NULL, 10) : -1;
}

/* One try of test_session_offline_overlap (try k): returns 1 when it proved the case, 0 when the
 * machine was too slow for the case to arise (the flush arrived past the window; nothing
 * asserted about the session then). */
static int session_overlap_try(int k)
{
    char first[40], queued[40], later[40];
    snprintf(first, sizeof(first), "enrich-ovl-1-%d", k);
    snprintf(queued, sizeof(queued), "enrich-ovl-queued-%d", k);
    snprintf(later, sizeof(later), "enrich-ovl-now-%d", k);
    sent_t a = post(ACME_KEY, first, IPHONE, NULL, NULL, NULL);
    assert_int_equal(a.status, 200);
    /* The session's last-seen second L, read from its cookie and not from Kafka: reading Kafka
     * under ASan on a loaded machine took more than the seconds this window has. */
    int64_t last_s = cookie_field(a.cookie, 3);
    assert_true(last_s > 0);
    /* The flush is sent just after second L + 3 begins (past the 2 s timeout: a new session), its
     * event 1.95 s old by its sentAt: the gateway reads its time as its arrival less 1.95 s, so
     * it is less than the timeout before the new session's start whatever the request's trip
     * takes, and within the timeout of L when it arrives before L + 4.95. */
    int64_t wait = (last_s + 3) * 1000 + 50 - sluice_now_ms();
    if (wait > 0) {
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char queued_at[SLUICE_TIME_TEXT_MAX], now[SLUICE_TIME_TEXT_MAX], extra[256];
    int64_t sent_ms = sluice_now_ms();
    sluice_time_format(sent_ms - 1950, queued_at);
    sluice_time_format(sent_ms, now);
    snprintf(extra, sizeof(extra), ",\"timestamp\":\"%s\",\"sentAt\":\"%s\"", queued_at, now);
    sent_t b = post(ACME_KEY, queued, IPHONE, a.cookie, extra, NULL);
    assert_int_equal(b.status, 200);
    int64_t new_start_s = cookie_field(b.cookie, 2);
    assert_true(new_start_s >= last_s + 3); /* a new session began */
    assert_int_equal(post(ACME_KEY, later, IPHONE, b.cookie, NULL, NULL).status, 200);
    int64_t flushed = sluice_now_ms();

    json_t *all;
    json_t *eq = envelope(queued, &all);
    int64_t t_ms;
    const char *t = json_string_value(json_object_get(json_object_get(eq, "event"), "timestamp"));
    assert_non_null(t);
    assert_int_equal(sluice_time_parse(t, strlen(t), 0, &t_ms), 0);
    /* The case: the event's second after the new session's start less the timeout, and not
     * after the old one's last-seen plus the timeout. */
    int in_case = t_ms / 1000 >= new_start_s - 2 && t_ms / 1000 <= last_s + 2;
    print_message("try %d: the queued event's second is L + %lld, the new session's L + %lld (the flush and the "
                  "next event took %lld ms)%s\n",
                  k, (long long)(t_ms / 1000 - last_s), (long long)(new_start_s - last_s),
                  (long long)(flushed - sent_ms), in_case ? "" : ": past the window, again");
    if (!in_case) {
        json_decref(all);
        return 0;
    }
    char queued_id[64], queued_start[SLUICE_TIME_TEXT_MAX];
    assert_non_null(at(eq, "session", "id"));
    snprintf(queued_id, sizeof(queued_id), "%s", at(eq, "session", "id"));
    snprintf(queued_start, sizeof(queued_start), "%s", at(eq, "session", "start"));
    json_decref(all);
    json_t *e1 = envelope(first, &all);
    assert_non_null(at(e1, "session", "id"));
    assert_string_equal(queued_id, at(e1, "session", "id"));
    assert_string_equal(queued_start, at(e1, "session", "start"));
    char first_id[64];
    snprintf(first_id, sizeof(first_id), "%s", at(e1, "session", "id"));
    json_decref(all);
    json_t *en = envelope(later, &all); /* the flush's own session goes on */
    json_t *sn = json_object_get(json_object_get(json_object_get(en, "event"), "context"), "session");
    assert_int_equal(json_integer_value(json_object_get(sn, "number")), 2);
    assert_string_not_equal(at(en, "session", "id"), first_id);
    json_decref(all);
    return 1;
}

/* An offline queue whose last event is less than the timeout before the session its flush
 * begins, and also less than the timeout after the cookie's session's last event: it happened in
 * the cookie's session (it came before the new one began, and within the timeout of the old),
 * as enrichment.md says. Before, it was stamped with the new session, starting after it: a queue
 * of 10:00 to 10:20 flushed at 10:45 was split in two sessions at 10:15. With the 2 s timeout the
 * case lasts under 2 s; a machine too slow for it gets another try, never a pass unproved. */
static void test_session_offline_overlap(void **state)
{
    (void)state;
    int proved = 0;
    for (int k = 0; k < 3 && !proved; k++)
        proved = session_overlap_try(k);
    assert_true(proved);
}

/* globex's session cookie needs the analytics category: without it no session, and a session
 * cookie the browser still has is deleted; with it, a session. */
static void test_session_consent(void **state)
{
    (void)state;
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", GLOBEX_KEY);
    const char *headers[] = {auth,
                             "Content-Type: application/json",
                             "X-Forwarded-For: " LONDON,
                             "User-Agent: " IPHONE,
                             "Cookie: _sluice_ses=1.left-over",
                             NULL};
    http_opts_t o = {.headers = headers,
                     .body = "{\"type\":\"track\",\"event\":\"Viewed\",\"messageId\":\"enrich-consent-1\","
                             "\"anonymousId\":\"a-2\"}"};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/track"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    assert_true(gwfix_contains(r.headers, "_sluice_ses=; Max-Age=0"));
    http_resp_dispose(&r);
    json_t *all;
    json_t *env = envelope("enrich-consent-1", &all);
    assert_null(json_object_get(json_object_get(json_object_get(env, "event"), "context"), "session"));
    json_decref(all);

    sent_t s = post(GLOBEX_KEY, "enrich-consent-2", IPHONE, NULL,
                    ",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}", NULL);
    assert_int_equal(s.status, 200);
    assert_true(strncmp(s.cookie, "_sluice_ses=1.", 14) == 0);
    env = envelope("enrich-consent-2", &all);
    assert_non_null(at(env, "session", "id"));
    json_decref(all);
}

/* Next month's database copied over the file in place (`cp` truncates, then writes): the gateway
 * goes on answering, the reload the watcher starts mid-copy keeps the database it had (the file
 * is no database yet), and the complete file is then loaded. The database was the file itself,
 * memory-mapped: the truncation killed the gateway (SIGBUS) at the next lookup; and a reload that
 * caught the file half written turned geolocation off until the next look. */
static void test_database_rewritten_in_place(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);
    size_t len = 0;
    char *db = sluice_th_read_file(geo_path, &len, &err);
    assert_non_null(db);
    FILE *f = fopen(geo_path, "r+b");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 0), 0); /* cp's first step; its writes come next */
    for (int i = 0; i < 4; i++) {
        char id[40];
        snprintf(id, sizeof(id), "enrich-inplace-%d", i);
        assert_int_equal(post(ACME_KEY, id, IPHONE, NULL, NULL, NULL).status, 200);
    }
    assert_true(sluice_th_proc_running(F.gw));
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    assert_true(gwfix_contains(log, "enrich.geo_kept"));
    free(log);
    for (int i = 0; i < 4; i++) { /* both loop threads, on the reloaded config */
        char id[40];
        snprintf(id, sizeof(id), "enrich-inplace-empty-%d", i);
        assert_int_equal(post(ACME_KEY, id, IPHONE, NULL, NULL, NULL).status, 200);
        json_t *all;
        const char *city = at(envelope(id, &all), "location", "city");
        if (city == NULL || strcmp(city, "London") != 0)
            fail_msg("%s: no location while the file is being rewritten", id);
        json_decref(all);
    }
    /* The copy completes: the next look reloads the whole file. */
    assert_int_equal(fwrite(db, 1, len, f), len);
    fclose(f);
    free(db);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 2, 10000, &err), 0);
    int found = 0;
    for (int i = 0; i < 20 && !found; i++) {
        char id[40];
        snprintf(id, sizeof(id), "enrich-inplace-after-%d", i);
        assert_int_equal(post(ACME_KEY, id, IPHONE, NULL, NULL, NULL).status, 200);
        json_t *all;
        found = at(envelope(id, &all), "location", "city") != NULL;
        json_decref(all);
    }
    assert_true(found);
    assert_true(sluice_th_proc_running(F.gw));
}

/* The user-agent regexes rewritten in place (a uap-core upgrade, a `cp` over the file) when a
 * reload comes: the reload keeps the regexes it had, so events still get their device and os and
 * acme's `bots: drop` still drops crawlers. It turned user-agent parsing and bot detection by user
 * agent off until the next reload: acme's events lost context.os and context.device. */
static void test_ua_regexes_rewritten_in_place(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);
    size_t len = 0;
    char *re = sluice_th_read_file(ua_path, &len, &err);
    assert_non_null(re);
    /* Cut just inside a quoted regex past the middle: what a reader sees while cp is writing. */
    const char *cut = strstr(re + len / 2, "regex: '");
    assert_non_null(cut);
    size_t half = (size_t)(cut - re) + strlen("regex: '");
    FILE *f = fopen(ua_path, "r+b");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)half), 0);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    double before = gwfix_metric(&F, "sluice_bots_total{action=\"drop\"}");
    for (int i = 0; i < 4; i++) { /* both loop threads, on the reloaded config */
        char id[40];
        snprintf(id, sizeof(id), "enrich-ua-half-%d", i);
        assert_int_equal(post(ACME_KEY, id, IPHONE, NULL, NULL, NULL).status, 200);
        json_t *all;
        json_t *env = envelope(id, &all);
        const char *os = at(env, "os", "name"), *type = at(env, "device", "type");
        if (os == NULL || strcmp(os, "iOS") != 0 || type == NULL || strcmp(type, "mobile") != 0)
            fail_msg("%s: os %s, device %s while the regexes are being rewritten", id, os ? os : "(none)",
                     type ? type : "(none)");
        json_decref(all);
    }
    assert_int_equal(post(ACME_KEY, "enrich-ua-half-bot", APPLEBOT, NULL, NULL, NULL).status, 200);
    assert_true(gwfix_metric(&F, "sluice_bots_total{action=\"drop\"}") - before == 1.0);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    assert_true(gwfix_contains(log, "enrich.ua_kept")); /* said, with what to do */
    free(log);
    /* The copy completes; the next reload reads the whole file. */
    assert_int_equal(fseek(f, (long)half, SEEK_SET), 0);
    assert_int_equal(fwrite(re + half, 1, len - half, f), len - half);
    assert_int_equal(fclose(f), 0);
    free(re);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 2, 10000, &err), 0);
    assert_int_equal(post(ACME_KEY, "enrich-ua-whole", IPHONE, NULL, NULL, NULL).status, 200);
    json_t *all;
    assert_string_equal(at(envelope("enrich-ua-whole", &all), "os", "name"), "iOS");
    json_decref(all);
    assert_true(sluice_th_proc_running(F.gw));
}

/* Last: the gateway's own log (debug level) never held the full address. */
static void test_log_clean(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, &err);
    assert_non_null(log);
    assert_true(gwfix_contains(log, "enrich.geo"));
    assert_false(gwfix_contains(log, LONDON));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_database_then_reload),
        cmocka_unit_test(test_geo_before_truncation),
        cmocka_unit_test(test_campaign_from_properties_of_pages_only),
        cmocka_unit_test(test_bots),
        cmocka_unit_test(test_bots_server_source),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_long_user_agent_once_per_request),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_session_offline),
        cmocka_unit_test(test_session_offline_overlap),
        cmocka_unit_test(test_session_consent),
        cmocka_unit_test(test_database_rewritten_in_place),
        cmocka_unit_test(test_ua_regexes_rewritten_in_place),
        cmocka_unit_test(test_log_clean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

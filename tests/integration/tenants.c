/*
 * Isolation between orgs through the real gateway, Redis and the dev Kafka broker: two orgs on
 * one gateway, configured as a careless operator might (the same cookie name on one registrable
 * domain), each checked for what the other org's visitor, key or cookie can make it do.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

static gwfix_t F;

#define ACME_KEY    "wk_acme_tenant_41f"
#define GLOBEX_KEY  "wk_globex_tenant_9d2"
#define ACME_SITE   "https://a.shared.test"
#define GLOBEX_SITE "https://g.shared.test"
#define ROOT_KEY    "3333333333333333333333333333333333333333333333333333333333333333"

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    char yaml[16384];
    /* Both orgs keep the default cookie name: acme's cookie is host-only on its collector,
     * globex's is shared with every host of shared.test, so a browser sends both to either. */
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 4000}\n"
             "redis: {url: \"%s\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_ACME_KEY, allowed_origins: [" ACME_SITE "]}]\n"
             "    identity: {cross_domain: {domains: [a.shared.test, a2.shared.test]}}\n"
             "    consent: {policy: allow}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: T_GLOBEX_KEY, allowed_origins: [" GLOBEX_SITE "]}]\n"
             "    identity: {cookie_domain: shared.test, cross_domain: {domains: [g.shared.test, g2.shared.test]}}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("tenants.yaml", yaml));
    static const char *env[] = {"T_ACME_KEY=" ACME_KEY, "T_GLOBEX_KEY=" GLOBEX_KEY, "ENCRYPTION_KEY=" ROOT_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.gw != NULL)
        gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    curl_global_cleanup();
    return 0;
}

/* A browser request of the site origin with write key key and Cookie header cookie (or NULL). */
static long browser(const char *method, const char *path, const char *key, const char *origin, const char *cookie,
                    const char *body, http_resp_t *r)
{
    char auth[128], org_h[128], cookie_h[1024];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    snprintf(org_h, sizeof(org_h), "Origin: %s", origin);
    const char *headers[5] = {auth, org_h, "Content-Type: application/json", NULL, NULL};
    if (cookie != NULL) {
        snprintf(cookie_h, sizeof(cookie_h), "Cookie: %s", cookie);
        headers[3] = cookie_h;
    }
    http_opts_t o = {.method = method, .headers = headers, .body = body};
    http_do(gwfix_url(&F, path), &o, F.ca, r);
    assert_int_equal(r->curl_error, 0);
    return r->status;
}

/* The value of the `_sid` cookie r sets ("<id>.<signature>", static buffer), or NULL. */
static const char *set_sid(const http_resp_t *r)
{
    static char v[256];
    const char *p = r->headers;
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 17 && strncasecmp(p, "set-cookie: _sid=", 17) == 0 && p[17] != ';') {
            const char *s = p + 17, *e = memchr(s, ';', len - 17);
            size_t n = e ? (size_t)(e - s) : len - 17;
            if (n < sizeof(v)) {
                memcpy(v, s, n);
                v[n] = '\0';
                return v;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* The anonymous id the org's signed cookie names: its value up to the signature. */
static void id_of(const char *cookie, char *out, size_t cap)
{
    const char *dot = strrchr(cookie, '.');
    assert_non_null(dot);
    snprintf(out, cap, "%.*s", (int)(dot - cookie), cookie);
}

/* The anonymousId of the event messageId mid in sluice.events (static buffer). */
static const char *queued_anon(const char *mid)
{
    static char v[256];
    for (int tries = 0; tries < 50; tries++) {
        json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
        json_t *m = gwfix_find_message(msgs, mid);
        if (m != NULL) {
            snprintf(v, sizeof(v), "%s",
                     json_string_value(
                         json_object_get(json_object_get(json_object_get(m, "value"), "event"), "anonymousId")));
            json_decref(msgs);
            return v;
        }
        json_decref(msgs);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("event %s is not in sluice.events", mid);
    return NULL;
}

/* A visitor of both sites holds acme's host-only `_sid` (set first) and globex's domain-wide one:
 * the browser sends both to globex's collector, acme's first. Globex read only the first, so its
 * events were queued under acme's visitor id (one org's ids in another's stream) and its /xd
 * gave the visitor a new id, as if its own signed cookie were not there. */
static void cookie_of_another_org_sent_first(void **state)
{
    (void)state;
    http_resp_t r;
    char acme_cookie[256], globex_cookie[256], acme_id[128], globex_id[128];
    assert_int_equal(browser("POST", "/v1/track", ACME_KEY, ACME_SITE, NULL,
                             "{\"type\":\"track\",\"event\":\"A\",\"messageId\":\"tenant-a-1\"}", &r),
                     200);
    assert_non_null(set_sid(&r));
    snprintf(acme_cookie, sizeof(acme_cookie), "%s", set_sid(&r));
    http_resp_dispose(&r);
    assert_int_equal(browser("POST", "/v1/track", GLOBEX_KEY, GLOBEX_SITE, NULL,
                             "{\"type\":\"track\",\"event\":\"G\",\"messageId\":\"tenant-g-1\"}", &r),
                     200);
    assert_non_null(set_sid(&r));
    snprintf(globex_cookie, sizeof(globex_cookie), "%s", set_sid(&r));
    http_resp_dispose(&r);
    id_of(acme_cookie, acme_id, sizeof(acme_id));
    id_of(globex_cookie, globex_id, sizeof(globex_id));
    assert_string_equal(queued_anon("tenant-g-1"), globex_id);

    char both[600];
    snprintf(both, sizeof(both), "_sid=%s; _sid=%s", acme_cookie, globex_cookie);
    assert_int_equal(browser("POST", "/v1/track", GLOBEX_KEY, GLOBEX_SITE, both,
                             "{\"type\":\"track\",\"event\":\"G\",\"messageId\":\"tenant-g-2\"}", &r),
                     200);
    const char *again = set_sid(&r);
    if (again != NULL) { /* a refreshed cookie keeps globex's id */
        char id[128];
        id_of(again, id, sizeof(id));
        assert_string_equal(id, globex_id);
    }
    http_resp_dispose(&r);
    assert_string_equal(queued_anon("tenant-g-2"), globex_id);

    /* A token for the link to globex's other site carries globex's own id: no new id is minted. */
    assert_int_equal(browser("GET", "/v1/xd?to=https://g2.shared.test/", GLOBEX_KEY, GLOBEX_SITE, both, NULL, &r), 200);
    assert_null(set_sid(&r));
    http_resp_dispose(&r);

    /* And the other way round: acme's collector, globex's cookie first. */
    snprintf(both, sizeof(both), "_sid=%s; _sid=%s", globex_cookie, acme_cookie);
    assert_int_equal(browser("POST", "/v1/track", ACME_KEY, ACME_SITE, both,
                             "{\"type\":\"track\",\"event\":\"A\",\"messageId\":\"tenant-a-2\"}", &r),
                     200);
    http_resp_dispose(&r);
    assert_string_equal(queued_anon("tenant-a-2"), acme_id);
}

/* The PII guard's table of findings (org, path, matcher) is bounded per thread and never sheds an
 * entry (its counters are Prometheus counters). Anyone holding acme's public write key filled it
 * with invented keys, and from then on globex's findings (its own visitors' e-mails in a field no
 * rule names) were in neither /metrics nor globex's inbox: one org blinded another's guard. */
static void pii_findings_of_one_org_do_not_crowd_out_another(void **state)
{
    (void)state;
    http_resp_t r;
    /* 6 events of 64 invented keys: more than the whole table (256) on the gateway's one thread. */
    for (int e = 0; e < 6; e++) {
        char body[16384];
        size_t n = (size_t)snprintf(body, sizeof(body), "{\"type\":\"track\",\"event\":\"Flood\",\"properties\":{");
        for (int k = 0; k < 64; k++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"k%d_%d\":\"v%d.%d@example.com\"", k ? "," : "", e, k,
                                  e, k);
        snprintf(body + n, sizeof(body) - n, "}}");
        assert_int_equal(browser("POST", "/v1/track", ACME_KEY, ACME_SITE, NULL, body, &r), 200);
        http_resp_dispose(&r);
    }
    assert_int_equal(browser("POST", "/v1/track", GLOBEX_KEY, GLOBEX_SITE, NULL,
                             "{\"type\":\"track\",\"event\":\"Signup\",\"properties\":{\"contact\":"
                             "\"jane.doe@example.org\"}}",
                             &r),
                     200);
    http_resp_dispose(&r);
    assert_true(gwfix_metric(&F, "sluice_pii_detected_total{org=\"globex\",path=\"properties.contact\",matcher="
                                 "\"email\"}") >= 1);
    /* acme's flood is still bounded: it did not get the whole table. */
    assert_true(gwfix_metric(&F, "sluice_pii_findings_untracked_total") > 0);
}

/* ------------------------------------------------------------------ one Kafka queue, two orgs */

/* The gateway again on yaml's config with kafka settings kafka (the text inside `kafka: {...}`). */
static void restart_kafka(const char *kafka)
{
    gwfix_stop(&F, SIGTERM);
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "  drain_timeout_ms: 15000\n"
             "kafka: {brokers: \"%s\", %s}\n"
             "redis: {url: \"%s\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_ACME_KEY, allowed_origins: [" ACME_SITE "]}]\n"
             "    consent: {policy: allow}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: T_GLOBEX_KEY, allowed_origins: [" GLOBEX_SITE "]}]\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, kafka, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("tenants-queue.yaml", yaml));
    gwfix_start(&F);
}

typedef struct flood {
    const char *body;
    long status;
    char answer[512];
} flood_t;

/* acme's request, sent from another thread: it waits for Kafka while globex's is sent. */
static void *acme_post(void *arg)
{
    flood_t *fl = arg;
    const char *headers[] = {"Authorization: Bearer " ACME_KEY, "Origin: " ACME_SITE, "Content-Type: application/json",
                             NULL};
    http_opts_t o = {.method = "POST", .headers = headers, .body = fl->body};
    char url[128]; /* not gwfix_url: its buffer is the main thread's */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/batch", F.https_port);
    http_resp_t r;
    http_do(url, &o, F.ca, &r);
    fl->status = r.curl_error ? -1 : r.status;
    snprintf(fl->answer, sizeof(fl->answer), "%s", r.body ? r.body : "");
    http_resp_dispose(&r);
    return NULL;
}

/* acme's batch of n events of pad bytes of text each (static buffer). */
static const char *acme_batch(int n, size_t pad, const char *tag)
{
    static char body[1 << 20];
    char *fill = malloc(pad + 1);
    assert_non_null(fill);
    memset(fill, 'x', pad);
    fill[pad] = '\0';
    size_t len = (size_t)snprintf(body, sizeof(body), "{\"batch\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                "%s{\"type\":\"track\",\"event\":\"Flood\",\"messageId\":\"%s-%d\","
                                "\"anonymousId\":\"flood-%d\",\"properties\":{\"pad\":\"%s\"}}",
                                i ? "," : "", tag, i, i, fill);
    snprintf(body + len, sizeof(body) - len, "]}");
    free(fill);
    return body;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* acme's flood holds the thread's Kafka queue (its events wait there while Kafka is slow), and
 * globex's visitor sends one small event meanwhile: globex must get its answer, not acme's 503. */
static void globex_event_during(flood_t *fl, const char *mid, size_t pad)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acme_post, fl), 0);
    sleep_ms(500); /* acme's events are queued now, and stay there for the linger (1.5 s) */
    char body[8192];
    assert_true(pad < sizeof(body) - 256);
    snprintf(body, sizeof(body),
             "{\"type\":\"track\",\"event\":\"Signup\",\"messageId\":\"%s\",\"properties\":{\"note\":\"%0*d\"}}", mid,
             (int)pad, 0);
    http_resp_t r;
    long status = browser("POST", "/v1/track", GLOBEX_KEY, GLOBEX_SITE, NULL, body, &r);
    print_message("globex during acme's flood: %ld %s\n", status, r.body);
    http_resp_dispose(&r);
    pthread_join(t, NULL);
    print_message("acme's flood: %ld %s\n", fl->status, fl->answer);
    assert_int_equal(status, 200);
}

/* Every org of a gateway shares each thread's Kafka queue (kafka.queue_max_messages). acme's
 * public write key, used for one large batch while Kafka was slow, filled it, and globex's
 * visitors were answered `503 the Kafka queue is full` until acme's events left it: one org's
 * flood took the other's events. An org now keeps to its share and leaves room for the others. */
static void one_org_does_not_fill_the_queue_for_another(void **state)
{
    (void)state;
    restart_kafka("ack_timeout_ms: 10000, queue_max_messages: 20, properties: {linger.ms: 1500}");
    flood_t fl = {.body = acme_batch(20, 16, "qflood")};
    globex_event_during(&fl, "globex-during-flood", 1);
    /* acme alone is not starved either: it kept half the queue, and its answer says why the rest
     * was refused, so its client retries. */
    assert_int_equal(fl.status, 503);
    assert_true(gwfix_contains(fl.answer, "share"));
    /* Once Kafka took acme's events, its share is free again. */
    http_resp_t r;
    assert_int_equal(browser("POST", "/v1/track", ACME_KEY, ACME_SITE, NULL,
                             "{\"type\":\"track\",\"event\":\"After\",\"messageId\":\"acme-after-flood\"}", &r),
                     200);
    http_resp_dispose(&r);
}

/* The same with bytes (librdkafka's queue.buffering.max.kbytes, 1 GB by default, which 32 kB
 * events reach before queue_max_messages): acme's events filled it to its last kilobyte, and
 * globex's event of 4 kB was refused for acme's bytes. */
static void one_org_does_not_fill_the_queue_bytes_for_another(void **state)
{
    (void)state;
    restart_kafka("ack_timeout_ms: 10000, properties: {linger.ms: 1500, queue.buffering.max.kbytes: 64}");
    flood_t fl = {.body = acme_batch(80, 1000, "bflood")}; /* 80 x 1.3 kB: over the 64 kB */
    globex_event_during(&fl, "globex-during-big-flood", 4000);
    assert_int_equal(fl.status, 503);
}

/* librdkafka reads queue.buffering.max.messages 0 as no limit on the count (only the bytes
 * bound the queue). The share was taken of 0 messages: with two orgs, an org holding one event
 * was refused the next, so every batch of two events or more was answered 503 "this org holds
 * its share" on an idle gateway, and its client's retries got the same for ever. */
static void no_message_limit_is_no_share_of_zero(void **state)
{
    (void)state;
    restart_kafka("ack_timeout_ms: 10000, properties: {queue.buffering.max.messages: 0}");
    http_resp_t r;
    long status = browser("POST", "/v1/batch", ACME_KEY, ACME_SITE, NULL, acme_batch(5, 8, "nolimit"), &r);
    print_message("acme's batch of 5 with no message limit: %ld %s\n", status, r.body);
    http_resp_dispose(&r);
    assert_int_equal(status, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cookie_of_another_org_sent_first),
        cmocka_unit_test(pii_findings_of_one_org_do_not_crowd_out_another),
        cmocka_unit_test(one_org_does_not_fill_the_queue_for_another),
        cmocka_unit_test(one_org_does_not_fill_the_queue_bytes_for_another),
        cmocka_unit_test(no_message_limit_is_no_share_of_zero),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

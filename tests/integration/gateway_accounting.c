/*
 * Every event a client sent counted once, by what the client was told: for each request,
 * accepted + refused (by reason) on /metrics adds up to the events it carried, and an event
 * answered 2xx is in Kafka. The faults are a broker's: dev-kafka with two brokers, the events
 * topic led by one and the invalid topic by the other, so that one request's messages go in two
 * produce requests and one of them can fail while the other succeeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

static gwfix_t F;

#define KEY  "wk_accounting_key_1"
#define HMAC "accounting-signing-secret-5c1e"

static void write_config(const char *kafka)
{
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  http: {listen: \"127.0.0.1:%d\"}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\", %s}\n"
             "redis: {url: \"%s\"}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY}\n"
             "      - {id: backend, kind: server, hmac_secret_env: T_HMAC}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.http_port, F.metrics_port, F.kafka.bootstrap, kafka, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
}

static void restart(const char *kafka)
{
    if (F.gw != NULL && sluice_th_proc_running(F.gw))
        gwfix_stop(&F, SIGTERM);
    write_config(kafka);
    gwfix_start(&F);
}

static void command(const char *cmd)
{
    sluice_err_t err = {{0}};
    if (sluice_th_kafka_command(&F.kafka, cmd, &err) != 0)
        fail_msg("dev-kafka '%s': %s", cmd, err.msg);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const char *const kafka_args[] = {"--brokers", "2", NULL};
    gwfix_stack_with(&F, kafka_args);
    static const char *env[] = {"T_KEY=" KEY, "T_HMAC=" HMAC, NULL};
    memcpy(F.env, env, sizeof(env));
    /* Every partition of the events topic on broker 1, of the invalid topic on broker 2. */
    char cmd[128];
    for (int part = 0; part < 4; part++) {
        snprintf(cmd, sizeof(cmd), "leader sluice.events %d 1", part);
        command(cmd);
        snprintf(cmd, sizeof(cmd), "leader sluice.invalid %d 2", part);
        command(cmd);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_teardown(&F);
    return 0;
}

typedef struct counts {
    double accepted, kafka, invalid, late;
} counts_t;

static counts_t read_counts(void)
{
    return (counts_t){
        gwfix_metric(&F, "sluice_events_accepted_total"),
        gwfix_metric(&F, "sluice_events_rejected_total{reason=\"kafka_unavailable\"}"),
        gwfix_metric(&F, "sluice_events_rejected_total{reason=\"invalid_event\"}"),
        gwfix_metric(&F, "sluice_kafka_late_acks_total"),
    };
}

/* A batch of 3 valid events and 1 invalid, its invalid event's record refused by the broker that
 * leads the invalid topic (a permanent error: message too large for that topic) while the other
 * broker takes the 3 events. The client is told 503 and sends the whole batch again, which is then
 * answered 200. What the metrics said of those 4 events sent twice: the first attempt's 3 events
 * accepted (Kafka took them) on top of the 503, and the retry's 3 again: 6 accepted for 3 events,
 * accepted + refused no longer what clients sent. Counted at the answer: the 503 counts the 3
 * refused (and in Kafka: late acks), the 200 counts them accepted. */
static void batch_503_on_partial_failure_counted_once(void **state)
{
    (void)state;
    restart("ack_timeout_ms: 10000");
    counts_t c0 = read_counts();
    static const char body[] =
        "{\"batch\":["
        "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"part-0\",\"anonymousId\":\"a-0\"},"
        "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"part-1\",\"anonymousId\":\"a-1\"},"
        "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"part-2\",\"anonymousId\":\"a-2\"},"
        "{\"type\":\"track\",\"messageId\":\"part-3\",\"anonymousId\":\"a-3\"}"
        "]}";
    command("produce-error 1 MSG_SIZE_TOO_LARGE 2");
    http_resp_t r;
    long status = gwfix_post(&F, "/v1/batch", KEY, body, &r);
    http_resp_dispose(&r);
    assert_int_equal(status, 503);
    /* The client's retry, as the SDKs do. */
    status = gwfix_post(&F, "/v1/batch", KEY, body, &r);
    print_message("retry: %ld %s\n", status, r.body ? r.body : "");
    assert_int_equal(status, 200);
    assert_non_null(strstr(r.body, "\"accepted\":3"));
    http_resp_dispose(&r);

    size_t landed = 0;
    for (int i = 0; i < 20 && landed < 6; i++) {
        json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
        landed = gwfix_count_message(msgs, "part-0") + gwfix_count_message(msgs, "part-1") +
                 gwfix_count_message(msgs, "part-2");
        json_decref(msgs);
        if (landed < 6)
            sluice_th_sleep_ms(250);
    }
    assert_int_equal(landed, 6); /* each attempt put the 3 events in Kafka (no dedup configured) */
    sluice_th_sleep_ms(300);
    counts_t c = read_counts();
    double acc = c.accepted - c0.accepted, kaf = c.kafka - c0.kafka, inv = c.invalid - c0.invalid,
           late = c.late - c0.late;
    print_message("a batch of 4 sent twice (503, then 200): accepted +%g, kafka_unavailable +%g, invalid_event +%g, "
                  "late acks +%g\n",
                  acc, kaf, inv, late);
    assert_true(acc == 3);  /* the 200's */
    assert_true(kaf == 3);  /* the 503's */
    assert_true(inv == 2);  /* the invalid event, once per attempt */
    assert_true(late == 3); /* the 503'd copies Kafka has all the same */
    assert_true(acc + kaf + inv == 8);
}

/* With kafka.ack: queued a batch is answered as soon as its events are queued: the answer said
 * "accepted":0 for a batch whose 2 valid events were all queued (it counted acknowledgements,
 * none of which had come yet), so accepted + rejected was not the batch's size (docs/api.md). */
static void queued_batch_answer_counts_events(void **state)
{
    (void)state;
    restart("ack: queued");
    counts_t c0 = read_counts();
    static const char body[] = "{\"batch\":["
                               "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"q-0\",\"anonymousId\":\"a-0\"},"
                               "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"q-1\",\"anonymousId\":\"a-1\"},"
                               "{\"type\":\"track\",\"messageId\":\"q-2\",\"anonymousId\":\"a-2\"}"
                               "]}";
    http_resp_t r;
    long status = gwfix_post(&F, "/v1/batch", KEY, body, &r);
    print_message("ack: queued, a batch of 2 valid + 1 invalid: %ld %s\n", status, r.body ? r.body : "");
    assert_int_equal(status, 200);
    json_t *ans = json_loads(r.body, 0, NULL);
    http_resp_dispose(&r);
    assert_non_null(ans);
    assert_int_equal(json_integer_value(json_object_get(ans, "accepted")), 2);
    assert_int_equal(json_array_size(json_object_get(ans, "rejected")), 1);
    json_decref(ans);
    sluice_th_sleep_ms(800);
    counts_t c = read_counts();
    assert_true(c.accepted - c0.accepted == 2);
    assert_true(c.invalid - c0.invalid == 1);
    assert_true(c.kafka - c0.kafka == 0);
}

/* With kafka.ack: queued an event is answered 200 and counted accepted once queued; when Kafka
 * then refuses it (a permanent error), it is in no topic. What told on-call so was
 * sluice_kafka_delivery_failed_total alone, a count of messages that also holds every event of a
 * request answered 503 and every refused event's record: events answered accepted and lost were
 * counted nowhere as such (accepted said 1, Kafka had 0). */
static void queued_then_refused_counted_lost(void **state)
{
    (void)state;
    restart("ack: queued");
    counts_t c0 = read_counts();
    double lost0 = gwfix_metric(&F, "sluice_kafka_lost_after_answer_total");
    double failed0 = gwfix_metric(&F, "sluice_kafka_delivery_failed_total");
    command("produce-error 1 MSG_SIZE_TOO_LARGE 1");
    http_resp_t r;
    long status =
        gwfix_post(&F, "/v1/t", KEY, "{\"event\":\"Acct\",\"messageId\":\"ql-0\",\"anonymousId\":\"a-ql\"}", &r);
    http_resp_dispose(&r);
    assert_int_equal(status, 200);
    double failed = 0;
    for (int i = 0; i < 40 && failed < 1; i++) {
        sluice_th_sleep_ms(100);
        failed = gwfix_metric(&F, "sluice_kafka_delivery_failed_total") - failed0;
    }
    assert_true(failed == 1);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    size_t in_kafka = gwfix_count_message(msgs, "ql-0");
    json_decref(msgs);
    counts_t c = read_counts();
    double lost = gwfix_metric(&F, "sluice_kafka_lost_after_answer_total");
    print_message("ack: queued, one event answered 200 then refused by Kafka: accepted +%g, in Kafka %zu, lost %g\n",
                  c.accepted - c0.accepted, in_kafka, lost - lost0);
    assert_int_equal(in_kafka, 0);
    assert_true(c.accepted - c0.accepted == 1); /* what its client was told */
    assert_true(lost >= 0);                     /* the series exists */
    assert_true(lost - lost0 == 1);
    assert_true(c.kafka - c0.kafka == 0 && c.late - c0.late == 0);
}

/* A signed batch of 3 sent again with the same bytes (a server's retry after a lost answer): it
 * is answered 409 `replayed`, and its 3 events are refused, not taken twice. The metric counted
 * one refused event per request: accepted + refused for the 6 events sent was 4. */
static void signed_replay_counts_every_event(void **state)
{
    (void)state;
    restart("ack_timeout_ms: 5000");
    double acc0 = gwfix_metric(&F, "sluice_events_accepted_total");
    double rep0 = gwfix_metric(&F, "sluice_events_rejected_total{reason=\"replayed\"}");
    static const char body[] = "{\"batch\":["
                               "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"s-0\",\"userId\":\"u-0\"},"
                               "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"s-1\",\"userId\":\"u-1\"},"
                               "{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"s-2\",\"userId\":\"u-2\"}"
                               "]}";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    gwfix_signed_t sg;
    gwfix_sign(&sg, HMAC, "acme/backend", "POST", "/v1/events", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
               body);
    const char *h[] = {"Content-Type: application/json", sg.source, sg.timestamp, sg.signature, NULL};
    http_opts_t o = {.headers = h, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/events"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    http_do(gwfix_url(&F, "/v1/events"), &o, F.ca, &r);
    print_message("the same signed batch again: %ld %s\n", r.status, r.body ? r.body : "");
    assert_int_equal(r.status, 409);
    http_resp_dispose(&r);
    double acc = gwfix_metric(&F, "sluice_events_accepted_total") - acc0;
    double rep = gwfix_metric(&F, "sluice_events_rejected_total{reason=\"replayed\"}") - rep0;
    print_message("a signed batch of 3 sent twice (200, 409): accepted +%g, replayed +%g\n", acc, rep);
    assert_true(acc == 3);
    assert_true(rep == 3);
}

/* Half of the events topic led by a broker answering 3 s late, a request waiting 1 s for its
 * acknowledgements: a batch whose events went to both brokers is answered 503 at the ack timeout
 * with some of its events acknowledged already. Those were counted accepted, the others refused,
 * and the client's retry of the whole batch counted the first ones accepted again. Answered 503,
 * the whole batch is refused; Kafka has every event all the same (late acks). */
static void ack_timeout_with_some_acked_counted_once(void **state)
{
    (void)state;
    command("leader sluice.events 2 2");
    command("leader sluice.events 3 2");
    restart("ack_timeout_ms: 1000");
    command("rtt 2 3000");
    counts_t c0 = read_counts();
    char body[2048];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"batch\":[");
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%s{\"type\":\"track\",\"event\":\"Acct\",\"messageId\":\"slow-%d\","
                              "\"anonymousId\":\"anon-slow-%d\"}",
                              i ? "," : "", i, i);
    snprintf(body + n, sizeof(body) - n, "]}");
    http_resp_t r;
    long status = gwfix_post(&F, "/v1/batch", KEY, body, &r);
    http_resp_dispose(&r);
    counts_t c1 = read_counts();
    print_message("answered %ld; at the answer: accepted +%g, kafka_unavailable +%g\n", status,
                  c1.accepted - c0.accepted, c1.kafka - c0.kafka);
    assert_int_equal(status, 503);

    size_t landed = 0;
    for (int i = 0; i < 40 && landed < 8; i++) {
        json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
        landed = 0;
        for (int k = 0; k < 8; k++) {
            char id[16];
            snprintf(id, sizeof(id), "slow-%d", k);
            landed += gwfix_count_message(msgs, id) > 0;
        }
        json_decref(msgs);
        if (landed < 8)
            sluice_th_sleep_ms(250);
    }
    command("rtt 2 0");
    command("leader sluice.events 2 1");
    command("leader sluice.events 3 1");
    assert_int_equal(landed, 8);
    sluice_th_sleep_ms(500);
    counts_t c = read_counts();
    double acc = c.accepted - c0.accepted, kaf = c.kafka - c0.kafka, late = c.late - c0.late;
    print_message("a batch of 8 answered 503 at the ack timeout: accepted +%g, kafka_unavailable +%g, late acks +%g\n",
                  acc, kaf, late);
    assert_true(acc == 0); /* the client's retry is the accepted one */
    assert_true(kaf == 8);
    assert_true(late == 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_503_on_partial_failure_counted_once),
        cmocka_unit_test(queued_batch_answer_counts_events),
        cmocka_unit_test(queued_then_refused_counted_lost),
        cmocka_unit_test(signed_replay_counts_every_event),
        cmocka_unit_test(ack_timeout_with_some_acked_counted_once),
    };
    return cmocka_run_group_tests_name("gateway_accounting", tests, setup, teardown);
}

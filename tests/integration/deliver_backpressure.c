/*
 * sluice-deliver's back-pressure across a lost assignment. A vendor that fails for a while makes a
 * lane hold 20,000 unfinished events, and its partitions are paused (docs/vendors.md): here five
 * orgs' integrations of it, each below the 5,000 an integration keeps before its events are set
 * aside (ROUTE_ASIDE_AT in vendors/deliver.c), together past the lane's bound. When the
 * group then loses its partitions (Kafka away longer than session.timeout.ms, or a rebalance), the
 * lane drops their records and resumes while it holds none, and the partitions come back at the
 * next assignment. librdkafka keeps a partition's pause across that: the worker used to leave them
 * paused, and the lane never consumed again (seen in a soak run: GA4 stopped after a broker
 * restart, its lag flat for good, nothing in the log, every other vendor fine). Here: every event
 * must reach the webhook stub once it answers again, and the lag must count what arrives while
 * the lane is paused.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/deliver_fix.h"

/* Past the lane's 20,000 records in memory (LANE_MAX_LIVE in vendors/deliver.c), small enough
 * that the dev broker's partitions (a few MB each) keep them all. */
#define N 24000
/* Orgs the events go to in turn: 4,800 each, below an integration's ROUTE_ASIDE_AT. */
#define ORGS 5
static const char *const ORG[ORGS] = {"acme", "bp1", "bp2", "bp3", "bp4"};
/* Produced once the lane is paused. */
#define LATE 3000

static dfix_t F;
static dstub_t HOOK;

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &HOOK, "hook", "500x100000", NULL);
    char integrations[4096], hook[512];
    snprintf(
        hook, sizeof(hook),
        "      - {name: hook, vendor: webhook, url: \"%s/hook\", batch: {max_events: 1000, max_wait_ms: 50},\n"
        "         retry: {max_attempts: 100, base_ms: 3000, max_ms: 5000, max_elapsed_s: 600}, timeout_ms: 5000}\n",
        HOOK.url);
    /* dfix_write_config writes acme's integrations last: the other orgs follow them. */
    size_t len = (size_t)snprintf(integrations, sizeof(integrations), "%s", hook);
    for (int o = 1; o < ORGS; o++)
        len += (size_t)snprintf(integrations + len, sizeof(integrations) - len,
                                "  - id: %s\n"
                                "    sources: [{id: web, write_key_env: DFIX_%s_KEY}]\n"
                                "    consent: {policy: allow}\n"
                                "    integrations:\n%s",
                                ORG[o], ORG[o], hook);
    assert_true(len < sizeof(integrations));
    dfix_write_config(&F, integrations, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* What the stub answered 2xx: distinct bp- and late- messageIds, and every event in those
 * requests (a duplicate delivery counts twice there). */
typedef struct seen_count {
    size_t bp, late, events;
} seen_count_t;

static seen_count_t delivered(void)
{
    json_t *reqs = dfix_requests(&HOOK), *seen = json_object();
    seen_count_t c = {0, 0, 0};
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        json_int_t answer = json_integer_value(json_object_get(r, "answer"));
        if (answer < 200 || answer > 299)
            continue;
        size_t j;
        json_t *env;
        json_array_foreach(json_object_get(json_object_get(r, "json"), "batch"), j, env) {
            const char *id = json_string_value(json_object_get(json_object_get(env, "event"), "messageId"));
            c.events++;
            if (id == NULL || json_object_get(seen, id) != NULL)
                continue;
            json_object_set_new(seen, id, json_true());
            if (strncmp(id, "bp-", 3) == 0)
                c.bp++;
            else if (strncmp(id, "late-", 5) == 0)
                c.late++;
        }
    }
    json_decref(seen);
    json_decref(reqs);
    return c;
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_log(const char *what)
{
    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    int n = log != NULL ? sluice_th_count(log, what) : 0;
    free(log);
    return n;
}

static void test_paused_lane_consumes_after_losing_its_partitions(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    double t0 = secs();
    char **envs = calloc(N, sizeof(*envs));
    assert_non_null(envs);
    for (int i = 0; i < N; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"v\":1,\"org\":\"%s\",\"source\":\"web\",\"receivedAt\":\"2026-11-23T14:41:50.525Z\","
                 "\"event\":{\"type\":\"track\",\"event\":\"Back Pressure\",\"messageId\":\"bp-%05d\","
                 "\"anonymousId\":\"bp-visitor-%d\",\"timestamp\":\"2026-11-23T14:41:50.125Z\"},"
                 "\"privacy\":{\"hashed\":[],\"masked\":[],\"dropped\":[]},\"hashes\":{}}",
                 ORG[i % ORGS], i, i % 97);
        envs[i] = strdup(buf);
    }
    dfix_produce(&F, envs, N, NULL);
    for (int i = 0; i < N; i++)
        free(envs[i]);
    free(envs);

    print_message("produced %d events (%.1f s)\n", N, secs() - t0);
    dfix_start_worker(&F, NULL, 1);
    /* The vendor fails: the lane fills up to its bound and pauses its partitions. */
    double pending = 0;
    for (int waited = 0; waited < 60000 && pending < 20000; waited += 100) {
        pending = dfix_metric(&F, "sluice_deliver_pending_events");
        usleep(100 * 1000);
    }
    print_message("back-pressure: %.0f events pending (%.1f s)\n", pending, secs() - t0);
    assert_true(pending >= 20000);

    /* Events keep coming while the lane is paused: its lag says so. A paused partition is not
     * fetched, so librdkafka's cached high watermark stopped at the pause and the lag stayed at
     * N, flat, whatever arrived after (an alert on a growing lag never fired). */
    char **late = calloc(LATE, sizeof(*late));
    assert_non_null(late);
    for (int i = 0; i < LATE; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"v\":1,\"org\":\"acme\",\"source\":\"web\",\"receivedAt\":\"2026-11-23T14:41:50.525Z\","
                 "\"event\":{\"type\":\"track\",\"event\":\"Late\",\"messageId\":\"late-%05d\","
                 "\"anonymousId\":\"bp-visitor-%d\",\"timestamp\":\"2026-11-23T14:41:50.125Z\"},"
                 "\"privacy\":{\"hashed\":[],\"masked\":[],\"dropped\":[]},\"hashes\":{}}",
                 i, i % 97);
        late[i] = strdup(buf);
    }
    double lag_paused = dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"webhook\"}");
    dfix_produce(&F, late, LATE, NULL);
    for (int i = 0; i < LATE; i++)
        free(late[i]);
    free(late);
    double lag = 0;
    for (int waited = 0; waited < 15000 && lag < N + LATE; waited += 250) {
        lag = dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"webhook\"}");
        usleep(250 * 1000);
    }
    print_message("lag while paused: %.0f, then %.0f after %d more events\n", lag_paused, lag, LATE);
    assert_true(lag >= N + LATE);

    /* Kafka away past session.timeout.ms (6 s here): the group loses the partitions, and the lane
     * its records. */
    int revoked0 = count_log("partitions revoked"), assigned0 = count_log("partitions assigned");
    assert_int_equal(sluice_th_kafka_down(&F.kafka, &err), 0);
    if (sluice_th_wait_log(F.worker, "partitions revoked", revoked0 + 1, 30000, &err) != 0) {
        print_error("%s\n", err.msg);
        fail();
    }
    usleep(1000 * 1000); /* the worker's loop runs with no partitions at all for a while */
    assert_int_equal(sluice_th_kafka_up(&F.kafka, &err), 0);
    if (sluice_th_wait_log(F.worker, "partitions assigned", assigned0 + 1, 60000, &err) != 0) {
        print_error("%s\n", err.msg);
        fail();
    }
    /* The vendor is back: every event gets there. */
    dfix_stub_plan(&F, &HOOK, "");
    /* Waits on the worker's counter (the stub's log is large: every failed attempt is in it), then
     * on the stub: the counter may only get there once the stub has every event. It used to be
     * reached early, with 20,192 of 24,000 at the stub: the stub's plan of 100,000 failures was
     * cut at 256 (tests/stubs/vendor_stub.c), so events were accepted while Kafka was away, not
     * committed, then read again after the reassignment and sent again (vendors/deliver.c,
     * part_adopt), each counted twice. A slow stub's answers past timeout_ms still bring repeats
     * (at-least-once: the worker retries what it does not know was accepted), never counted. */
    const char *const counter = "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}";
    for (int waited = 0; waited < 120000 && dfix_metric(&F, counter) < N + LATE; waited += 250)
        usleep(250 * 1000);
    seen_count_t got = delivered();
    for (int waited = 0; waited < 60000 && (got.bp != N || got.late != LATE); waited += 2000) {
        usleep(2000 * 1000);
        got = delivered();
    }
    double counted = dfix_metric(&F, counter);
    print_message("after the reassignment: %zu of %d events and %zu of %d late ones delivered (%zu with repeats, the "
                  "worker says %.0f), %.0f pending, %.0f consumed (%.1f s)\n",
                  got.bp, N, got.late, LATE, got.events, counted, dfix_metric(&F, "sluice_deliver_pending_events"),
                  dfix_metric(&F, "sluice_deliver_consumed_total{vendor=\"webhook\"}"), secs() - t0);
    assert_int_equal(got.bp, N);
    assert_int_equal(got.late, LATE);
    /* Never more than the distinct events the vendor accepted: none counted twice. */
    assert_true(counted <= (double)(got.bp + got.late));
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_lane_consumes_after_losing_its_partitions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

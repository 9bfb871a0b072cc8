/*
 * Worker throughput to a local HTTPS stub: 10,000 events waiting in Kafka, then one
 * sluice-deliver per vendor (--vendor) from a fresh consumer group, timed from partition
 * assignment until the worker reports every event delivered; the stub's log then confirms every
 * event id arrived. Prints events/s and the mean batch size; asserts completeness and a loose
 * floor only (the box is shared, numbers vary by ±20 %).
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

/* ~2.4 KB each: 10,000 stay well inside the dev broker's 5 MB per partition (PLATFORM.md §3). */
#define EVENTS   10000
#define VISITORS 200

static dfix_t F;
static dstub_t META, GA4, HOOK;

static int setup(void **state)
{
    (void)state;
    const char *kafka_args[] = {"--partitions", "8", NULL};
    dfix_init(&F, NULL, NULL, kafka_args, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &GA4, "ga4", NULL, NULL);
    dfix_stub(&F, &HOOK, "hook", NULL, NULL);
    char integrations[2048];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"1\", base_url: \"%s\", rate_limit_rps: 100000,\n"
             "         batch: {max_wait_ms: 200}}\n"
             "      - {name: ga4, vendor: ga4, measurement_id: G-B, base_url: \"%s\", rate_limit_rps: 100000,\n"
             "         batch: {max_wait_ms: 200}}\n"
             "      - {name: hook, vendor: webhook, url: \"%s/in\", rate_limit_rps: 100000,\n"
             "         batch: {max_wait_ms: 200}}\n",
             META.url, GA4.url, HOOK.url);
    dfix_write_config(&F, integrations, "");
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"t\"}");
    dfix_vault_put(&F, "ga4", "ga4", "{\"api_secret\":\"s\"}");
    char **envs = calloc(EVENTS, sizeof(*envs));
    int64_t now = dfix_now_ms();
    for (int i = 0; i < EVENTS; i++) {
        char id[32], edit[96];
        snprintf(id, sizeof(id), "tp-%05d", i);
        snprintf(edit, sizeof(edit), "{\"anonymousId\":\"visitor-%d\",\"userId\":null}", i % VISITORS);
        envs[i] = dfix_envelope(id, now, edit);
    }
    dfix_produce(&F, envs, EVENTS, NULL);
    for (int i = 0; i < EVENTS; i++)
        free(envs[i]);
    free(envs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void run(const char *vendor, const dstub_t *stub, const char *array)
{
    const char *args[] = {"--vendor", vendor, NULL};
    dfix_start_worker(&F, args, 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char series[128];
    snprintf(series, sizeof(series), "sluice_deliver_events_total{vendor=\"%s\",outcome=\"delivered\"}", vendor);
    double delivered = 0, elapsed = 0;
    while (elapsed < 120) {
        delivered = dfix_metric(&F, series);
        elapsed = seconds_since(&t0);
        if (delivered >= EVENTS)
            break;
        usleep(50 * 1000);
    }
    snprintf(series, sizeof(series), "sluice_deliver_batch_events_count{vendor=\"%s\"}", vendor);
    double requests = dfix_metric(&F, series);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
    if (delivered < EVENTS)
        print_error("%s: %.0f of %d delivered after %.1f s\n", vendor, delivered, EVENTS, elapsed);
    assert_true(delivered >= EVENTS);
    print_message("throughput %-8s %6.0f events/s  (%d events in %.2f s, %.0f requests, %.1f events/request)\n", vendor,
                  EVENTS / elapsed, EVENTS, elapsed, requests, EVENTS / requests);
    /* The stub agrees: every event id arrived. */
    json_t *reqs = dfix_requests(stub);
    size_t events = 0;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        events += json_array_size(json_object_get(json_object_get(r, "json"), array));
    }
    json_decref(reqs);
    assert_true(events >= EVENTS);
    assert_true(EVENTS / elapsed > 200); /* a floor far below what a healthy run does */
}

static void test_meta(void **state)
{
    (void)state;
    run("meta", &META, "data");
}

static void test_ga4(void **state)
{
    (void)state;
    run("ga4", &GA4, "events");
}

static void test_webhook(void **state)
{
    (void)state;
    run("webhook", &HOOK, "batch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_ga4),
        cmocka_unit_test(test_webhook),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

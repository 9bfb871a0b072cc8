/*
 * One org's integration must not hold up another org's in the delivery worker: two orgs, each
 * with a webhook of its own (one lane: the webhook vendor's), on the dev Kafka, PostgreSQL and
 * HTTPS stubs. acme's endpoint hangs; globex's answers at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t SLOW, FAST;

#define IN_FLIGHT 4

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    /* acme's endpoint takes every request and never answers (the worker gives up after 30 s). */
    dfix_stub(&F, &SLOW, "slow", "hangx200", NULL);
    dfix_stub(&F, &FAST, "fast", NULL, NULL);
    F.max_in_flight = IN_FLIGHT;
    char integrations[2048];
    /* dfix_write_config writes acme's integrations last: globex follows them as a second org. */
    snprintf(integrations, sizeof(integrations),
             "      - {name: hook, vendor: webhook, url: \"%s/in\", timeout_ms: 30000, rate_limit_rps: 1000,\n"
             "         batch: {max_events: 1, max_wait_ms: 50}}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: DFIX_GLOBEX_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    integrations:\n"
             "      - {name: hook, vendor: webhook, url: \"%s/in\", batch: {max_events: 1, max_wait_ms: 50}}\n",
             SLOW.url, FAST.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_start_worker(&F, NULL, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* Twelve of acme's events, ids <prefix>-0 to -11, produced at once: a backlog for its webhook. */
static void produce_acme_backlog(const char *prefix)
{
    int64_t now = dfix_now_ms();
    char *acme[12];
    for (int i = 0; i < 12; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s-%d", prefix, i);
        acme[i] = dfix_envelope(id, now, NULL);
    }
    dfix_produce(&F, acme, 12, NULL);
    for (int i = 0; i < 12; i++)
        free(acme[i]);
}

/* One event of globex (the reference envelope is acme's: its org rewritten), produced now. */
static void produce_globex(const char *id)
{
    char *g = dfix_envelope(id, dfix_now_ms(), NULL);
    const char *from = "\"org\":\"acme\"";
    char *at = strstr(g, from);
    assert_non_null(at);
    size_t glen = strlen(g);
    char *globex = malloc(glen + 16);
    assert_non_null(globex);
    snprintf(globex, glen + 16, "%.*s\"org\":\"globex\"%s", (int)(at - g), g, at + strlen(from));
    free(g);
    dfix_produce(&F, &globex, 1, NULL);
    free(globex);
}

/* delivery.max_in_flight is the worker's, for every org. Routes were served in the config's
 * order, each taking every free place: acme's webhook, hung with a backlog, held all of them and
 * took each again as it came free, so globex's events waited for acme's timeouts (30 s each
 * round), however healthy globex's own endpoint was. */
static void hung_vendor_of_one_org_does_not_hold_another(void **state)
{
    (void)state;
    produce_acme_backlog("acme-flood");
    /* acme's requests are on the wire, hanging. */
    assert_true(dfix_wait_requests(&SLOW, 2, 15000) >= 2);
    usleep(1000 * 1000);
    size_t hung = dfix_wait_requests(&SLOW, 0, 0);
    print_message("acme's hung requests: %zu of max_in_flight %d\n", hung, IN_FLIGHT);

    int64_t t0 = dfix_now_ms();
    produce_globex("globex-during-hang");
    size_t got = dfix_wait_requests(&FAST, 1, 8000);
    print_message("globex's event at its endpoint: %zu request(s) after %lld ms\n", got,
                  (long long)(dfix_now_ms() - t0));
    assert_int_equal(got, 1);
    json_t *reqs = dfix_requests(&FAST);
    const char *body = json_string_value(json_object_get(json_array_get(reqs, 0), "body"));
    assert_non_null(body);
    assert_non_null(strstr(body, "globex-during-hang"));
    json_decref(reqs);
    /* acme still has some of the places: a slow vendor is not shut out either. */
    assert_true(hung >= 1 && hung < IN_FLIGHT);
}

/* The same with delivery.max_in_flight 1 (an operator keeping the worker to one request at a
 * time): acme's hung webhook, first in the config, has a backlog; each of its requests gives up
 * after 2 s. globex's event must take the place when acme's request gives it up, not wait for
 * every event and retry of acme's backlog: pumped from the first route every time, acme (none
 * on the wire again) took each freed place back, and globex's event waited the backlog out. */
static void hung_vendor_does_not_take_the_only_place_back_each_time(void **state)
{
    (void)state;
    dfix_stop_worker(&F, SIGTERM);
    F.max_in_flight = 1;
    char integrations[2048];
    snprintf(integrations, sizeof(integrations),
             "      - {name: hook, vendor: webhook, url: \"%s/in\", timeout_ms: 2000, rate_limit_rps: 1000,\n"
             "         batch: {max_events: 1, max_wait_ms: 50}}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: DFIX_GLOBEX_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    integrations:\n"
             "      - {name: hook, vendor: webhook, url: \"%s/in\", batch: {max_events: 1, max_wait_ms: 50}}\n",
             SLOW.url, FAST.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_start_worker(&F, NULL, 1);
    produce_acme_backlog("acme-one");
    size_t seen = dfix_wait_requests(&SLOW, 0, 0);
    assert_true(dfix_wait_requests(&SLOW, seen + 1, 15000) >= seen + 1);

    size_t before = dfix_wait_requests(&FAST, 0, 0);
    int64_t t0 = dfix_now_ms();
    produce_globex("globex-one-place");
    /* At most one of acme's 2 s timeouts, and the time to read the event. */
    size_t got = dfix_wait_requests(&FAST, before + 1, 10000);
    print_message("globex's event at its endpoint: %zu request(s) after %lld ms\n", got - before,
                  (long long)(dfix_now_ms() - t0));
    assert_int_equal(got, before + 1);
    json_t *reqs = dfix_requests(&FAST);
    const char *body = json_string_value(json_object_get(json_array_get(reqs, (size_t)before), "body"));
    assert_non_null(body);
    assert_non_null(strstr(body, "globex-one-place"));
    json_decref(reqs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hung_vendor_of_one_org_does_not_hold_another),
        cmocka_unit_test(hung_vendor_does_not_take_the_only_place_back_each_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

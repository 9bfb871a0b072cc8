/*
 * sluice-deliver delivering while Kafka is away, then given its partitions back. The vendor answers
 * but the worker cannot commit: once the session times out (session.timeout.ms, 6 s here) the
 * group takes its partitions, and gives them back to it at the offset committed before. The
 * worker used to read every event again from there and send each to the vendor a second time,
 * its delivered counter counting them twice, though it had had the vendor's 2xx for each: a
 * webhook receiver without deduplication recorded every order twice after a Kafka restart. Here:
 * no event the vendor accepted is sent again, and the counter says how many events reached it.
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

#include "tests/integration/deliver_fix.h"

#define N 2000

static dfix_t F;
static dstub_t HOOK;

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    /* Failing until the test says: every event read and held, none delivered or committed. */
    dfix_stub(&F, &HOOK, "hook", "500x100000", NULL);
    char integrations[1024];
    /* A short backoff, so the events go out while Kafka is away; a long timeout, so that no
     * retry of a slow answer is what sends an event twice. */
    snprintf(integrations, sizeof(integrations),
             "      - {name: hook, vendor: webhook, url: \"%s/hook\", batch: {max_events: 100, max_wait_ms: 50},\n"
             "         retry: {max_attempts: 100, base_ms: 200, max_ms: 500, max_elapsed_s: 600}, timeout_ms: 30000}\n",
             HOOK.url);
    dfix_write_config(&F, integrations, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

static void test_delivered_before_a_lost_session_not_sent_again(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    dfix_produce_events(&F, "relost", N, 0);
    dfix_start_worker(&F, NULL, 1);
    double pending = 0;
    for (int waited = 0; waited < 60000 && pending < N; waited += 100) {
        pending = dfix_metric(&F, "sluice_deliver_pending_events");
        usleep(100 * 1000);
    }
    assert_true(pending >= N);

    /* Kafka away; the vendor back: the worker delivers what it holds and cannot commit it. */
    int revoked0 = dfix_log_count(F.worker, "partitions revoked"),
        assigned0 = dfix_log_count(F.worker, "partitions assigned");
    assert_int_equal(sluice_th_kafka_down(&F.kafka, &err), 0);
    dfix_stub_plan(&F, &HOOK, "");
    dfix_wait_log(F.worker, "partitions revoked", revoked0 + 1);
    size_t before = 0, events = 0;
    dfix_accepted(&HOOK, "", &before, &events);
    double counted = dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}");
    print_message("before the session was lost: %zu of %d events accepted by the vendor, the worker counted %.0f\n",
                  before, N, counted);
    assert_int_equal(sluice_th_kafka_up(&F.kafka, &err), 0);
    dfix_wait_log(F.worker, "partitions assigned", assigned0 + 1);

    /* The partitions back from the committed offset (none): every event read again, and those not
     * delivered before delivered now. */
    double consumed = 0;
    for (int waited = 0; waited < 60000 && consumed < 2 * N; waited += 250) {
        consumed = dfix_metric(&F, "sluice_deliver_consumed_total{vendor=\"webhook\"}");
        usleep(250 * 1000);
    }
    size_t distinct = 0;
    for (int waited = 0; waited < 60000; waited += 500) {
        dfix_accepted(&HOOK, "", &distinct, &events);
        if (distinct == N && dfix_metric(&F, "sluice_deliver_pending_events") == 0)
            break;
        usleep(500 * 1000);
    }
    usleep(1000 * 1000); /* anything still to go has gone */
    dfix_accepted(&HOOK, "", &distinct, &events);
    counted = dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}");
    print_message("after the reassignment: %.0f consumed, %zu distinct events accepted, %zu with repeats, the worker "
                  "counted %.0f delivered\n",
                  consumed, distinct, events, counted);
    assert_true(before > 0); /* the case this test is about happened */
    assert_int_equal(distinct, N);
    assert_int_equal(events, N); /* none sent again after the vendor accepted it */
    assert_int_equal((size_t)counted, N);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivered_before_a_lost_session_not_sent_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

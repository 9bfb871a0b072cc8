/* Tests for vendors/metrics.c: the Prometheus text (counters by vendor and outcome, cumulative
 * histogram buckets, lag only for the consumer groups this worker runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/metrics.h"

static void has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        print_error("missing: %s\n", line);
    assert_non_null(strstr(text, line));
}

static void test_render(void **state)
{
    (void)state;
    sluice_dmetrics_t m;
    memset(&m, 0, sizeof(m));
    m.consumed[SLUICE_VENDOR_GA4] = 30;
    m.events[SLUICE_VENDOR_META][SLUICE_OUTCOME_DELIVERED] = 3;
    m.events[SLUICE_VENDOR_META][SLUICE_OUTCOME_DEAD] = 1;
    m.events[SLUICE_VENDOR_GA4][SLUICE_OUTCOME_SUPPRESSED] = 5;
    m.requests[SLUICE_VENDOR_TIKTOK][SLUICE_REQ_RETRY] = 2;
    m.retries[SLUICE_VENDOR_TIKTOK] = 2;
    m.dlq[SLUICE_VENDOR_META] = 1;
    m.vault_reads[SLUICE_VAULT_READ_DECRYPT_FAILED] = 4;
    sluice_dmetrics_batch(&m, SLUICE_VENDOR_GA4, 25);
    sluice_dmetrics_batch(&m, SLUICE_VENDOR_GA4, 5);
    sluice_dmetrics_latency(&m, SLUICE_VENDOR_GA4, 0.02);
    sluice_dmetrics_latency(&m, SLUICE_VENDOR_GA4, 40);
    m.lane_active[SLUICE_VENDOR_GA4] = 1;
    m.lag[SLUICE_VENDOR_GA4] = 7;
    m.in_flight = 2;
    size_t len;
    char *t = sluice_dmetrics_render(&m, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    has(t, "sluice_deliver_consumed_total{vendor=\"ga4\"} 30\n");
    has(t, "sluice_deliver_events_total{vendor=\"meta\",outcome=\"delivered\"} 3\n");
    has(t, "sluice_deliver_events_total{vendor=\"meta\",outcome=\"dead_lettered\"} 1\n");
    has(t, "sluice_deliver_events_total{vendor=\"ga4\",outcome=\"suppressed\"} 5\n");
    has(t, "sluice_deliver_requests_total{vendor=\"tiktok\",outcome=\"retry\"} 2\n");
    has(t, "sluice_deliver_retries_total{vendor=\"tiktok\"} 2\n");
    has(t, "sluice_deliver_dlq_total{vendor=\"meta\"} 1\n");
    has(t, "sluice_deliver_vault_reads_total{outcome=\"decrypt_failed\"} 4\n");
    has(t, "sluice_deliver_batch_events_bucket{vendor=\"ga4\",le=\"5\"} 1\n");
    has(t, "sluice_deliver_batch_events_bucket{vendor=\"ga4\",le=\"10\"} 1\n");
    has(t, "sluice_deliver_batch_events_bucket{vendor=\"ga4\",le=\"25\"} 2\n");
    has(t, "sluice_deliver_batch_events_bucket{vendor=\"ga4\",le=\"+Inf\"} 2\n");
    has(t, "sluice_deliver_batch_events_sum{vendor=\"ga4\"} 30.000000\n");
    has(t, "sluice_deliver_request_seconds_bucket{vendor=\"ga4\",le=\"0.025\"} 1\n");
    has(t, "sluice_deliver_request_seconds_bucket{vendor=\"ga4\",le=\"30\"} 1\n");
    has(t, "sluice_deliver_request_seconds_bucket{vendor=\"ga4\",le=\"+Inf\"} 2\n");
    has(t, "sluice_deliver_consumer_lag{vendor=\"ga4\"} 7\n");
    assert_null(strstr(t, "sluice_deliver_consumer_lag{vendor=\"meta\"}"));
    has(t, "sluice_deliver_in_flight_requests 2\n");
    has(t, "# TYPE sluice_deliver_request_seconds histogram\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The worker's log during a vendor outage, with a real sluice-deliver against an HTTPS stub
 * that answers 503 to everything: 100 events in batches of 5, each batch retried then
 * dead-lettered. Before, that was one deliver.retry line per batch per retry and one
 * deliver.dead_letter line per event (a backlog of a million events: a million lines); now each
 * event name writes its first lines, counts the rest (sluice_log_suppressed_total) and sums them
 * up in one line. No line carries an event's id or the vendor credential.
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

#include "common/log.h"
#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t META;

#define EVENTS 100
#define TOKEN  "EAAlogsSecretToken7781"

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &META, "meta", "503x1000", NULL);
    char integrations[1024];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"42\", base_url: \"%s\",\n"
             "         batch: {max_events: 5, max_wait_ms: 100},\n"
             "         retry: {max_attempts: 3, base_ms: 50, max_ms: 200, max_elapsed_s: 60}, timeout_ms: 3000}\n",
             META.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"" TOKEN "\"}");
    dfix_start_worker(&F, NULL, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* How many lines of `event` the log holds besides its summaries (*lines), and the sum of the
 * summaries' "suppressed" counts (returned). */
static long long cut(const char *log, const char *event, int *lines)
{
    char needle[96];
    snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
    long long sum = 0;
    *lines = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        const char *end = strchr(p, '\n'), *n = strstr(p, "\"suppressed\":");
        if (n != NULL && (end == NULL || n < end))
            sum += strtoll(n + 13, NULL, 10);
        else
            (*lines)++;
    }
    return sum;
}

static void outage_logs_bounded(void **state)
{
    (void)state;
    char *envs[EVENTS];
    for (int i = 0; i < EVENTS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "outage-%03d", i);
        envs[i] = dfix_envelope(id, dfix_now_ms(), NULL);
    }
    dfix_produce(&F, envs, EVENTS, NULL);
    for (int i = 0; i < EVENTS; i++)
        free(envs[i]);
    /* Every event dead-lettered after 3 attempts of its batch. */
    for (int waited = 0; waited < 60000; waited += 250) {
        if (dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}") >= EVENTS)
            break;
        usleep(250 * 1000);
    }
    assert_true(dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}") >= EVENTS);
    assert_true(dfix_metric(&F, "sluice_log_suppressed_total") >= EVENTS - SLUICE_LOG_BURST);
    long long retries = (long long)dfix_metric(&F, "sluice_deliver_retries_total{vendor=\"meta\"}");
    assert_true(retries >= 2 * EVENTS / 5); /* batches of at most 5, each retried twice */
    assert_int_equal(dfix_stop_worker(&F, SIGTERM), 0);

    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_non_null(log);
    int dead = 0, retry = 0;
    long long dead_cut = cut(log, "deliver.dead_letter", &dead), retry_cut = cut(log, "deliver.retry", &retry);
    print_message("deliver.dead_letter: %d lines, %lld suppressed; deliver.retry: %d lines, %lld suppressed\n", dead,
                  dead_cut, retry, retry_cut);
    /* The first lines (a slow run may start a second window) and every other one counted, the
     * summaries written at exit at the latest. */
    assert_true(dead >= SLUICE_LOG_BURST && dead <= 2 * SLUICE_LOG_BURST);
    assert_int_equal(dead + dead_cut, EVENTS);
    assert_true(retry >= SLUICE_LOG_BURST && retry <= 2 * SLUICE_LOG_BURST);
    assert_int_equal(retry + retry_cut, retries); /* one per retry scheduled */
    assert_non_null(strstr(log, "\"event\":\"deliver.stopped\""));
    assert_null(strstr(log, "outage-0"));
    assert_null(strstr(log, TOKEN));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outage_logs_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

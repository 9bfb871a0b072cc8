/*
 * The worker's log during a vendor outage, with a real sluice-deliver against an HTTPS stub
 * that answers 503 to everything: 100 events in batches of 5, each batch retried then
 * dead-lettered. Before, that was one deliver.retry line per batch per retry and one
 * deliver.dead_letter line per event (a backlog of a million events: a million lines); now each
 * event name writes its first lines, counts the rest (sluice_log_suppressed_total) and sums them
 * up in one line. No line carries an event's id or the vendor credential. The cut is per org:
 * org globex's dead letters after acme's flood are still written, and acme's summary names acme.
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
    char integrations[2048];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"42\", base_url: \"%s\",\n"
             "         batch: {max_events: 5, max_wait_ms: 100},\n"
             "         retry: {max_attempts: 3, base_ms: 50, max_ms: 200, max_elapsed_s: 60}, timeout_ms: 3000}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: DFIX_GLOBEX_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    integrations:\n"
             "      - {name: meta, vendor: meta, pixel_id: \"43\", base_url: \"%s\",\n"
             "         batch: {max_events: 5, max_wait_ms: 100},\n"
             "         retry: {max_attempts: 3, base_ms: 50, max_ms: 200, max_elapsed_s: 60}, timeout_ms: 3000}\n",
             META.url, META.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"" TOKEN "\"}");
    const char *args[] = {"vault",  "put",  "--config", F.config, "--org", "globex",
                          "--name", "meta", "--vendor", "meta",   NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, args, F.env, "{\"access_token\":\"" TOKEN "\"}", &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
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

static size_t count(const char *text, const char *needle)
{
    size_t c = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        c++;
    return c;
}

/* globex's deliver.retry lines (its batch's retries, also said in full). */
static size_t count_retry_globex(const char *log)
{
    size_t c = 0;
    for (const char *p = log; (p = strstr(p, "\"event\":\"deliver.retry\"")) != NULL; p++) {
        const char *end = strchr(p, '\n'), *g = strstr(p, "org globex, integration meta: ");
        if (g != NULL && (end == NULL || g < end))
            c++;
    }
    return c;
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
    /* Then globex's vendor fails too, for 3 events: within acme's window. Before, the limit was
     * per event name and acme's flood had used it up: globex's dead letters went unsaid. */
    char *g[3];
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "gx-outage-%d", i);
        char *e = dfix_envelope(id, dfix_now_ms(), NULL); /* acme's: its org rewritten */
        const char *from = "\"org\":\"acme\"";
        char *at = strstr(e, from);
        assert_non_null(at);
        size_t len = strlen(e) + 16;
        g[i] = malloc(len);
        assert_non_null(g[i]);
        snprintf(g[i], len, "%.*s\"org\":\"globex\"%s", (int)(at - e), e, at + strlen(from));
        free(e);
    }
    dfix_produce(&F, g, 3, NULL);
    for (int i = 0; i < 3; i++)
        free(g[i]);
    for (int waited = 0; waited < 60000; waited += 250) {
        if (dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}") >= EVENTS + 3)
            break;
        usleep(250 * 1000);
    }
    assert_true(dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}") >= EVENTS + 3);

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
    assert_true(dead >= SLUICE_LOG_BURST + 3 && dead <= 2 * SLUICE_LOG_BURST + 3);
    assert_int_equal(dead + dead_cut, EVENTS + 3);
    /* globex's 3 dead letters, each said; acme's summary names acme. */
    assert_int_equal(count(log, "org globex, integration meta: "), 3 + count_retry_globex(log));
    assert_non_null(strstr(log, "more lines like this for org acme suppressed"));
    assert_non_null(strstr(log, ",\"org\":\"acme\"}"));
    assert_null(strstr(log, "\"org\":\"globex\"}"));
    assert_true(count_retry_globex(log) >= 1); /* globex's batch retried, said too */
    assert_true(retry >= SLUICE_LOG_BURST && retry <= 2 * SLUICE_LOG_BURST + 2);
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

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
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t SLOW, FAST;

#define IN_FLIGHT 4

/* acme's webhook on the SLOW stub with its options, then (with_globex) globex as a
 * second org whose webhook on the FAST stub sends each event at once. */
static void write_orgs(const char *acme_hook, int with_globex)
{
    char globex[1024] = "", integrations[2048];
    if (with_globex)
        snprintf(globex, sizeof(globex),
                 "  - id: globex\n"
                 "    sources: [{id: web, write_key_env: DFIX_GLOBEX_KEY}]\n"
                 "    consent: {policy: allow}\n"
                 "    integrations:\n"
                 "      - {name: hook, vendor: webhook, url: \"%s/in\", batch: {max_events: 1, max_wait_ms: 50}}\n",
                 FAST.url);
    /* dfix_write_config writes acme's integrations last: globex follows them as a second org. */
    snprintf(integrations, sizeof(integrations), "      - {name: hook, vendor: webhook, url: \"%s/in\", %s}\n%s",
             SLOW.url, acme_hook, globex);
    dfix_write_config(&F, integrations, NULL);
}

/* acme's webhook answering 500: batches of 1,000, retried for up to 10 minutes. */
#define ACME_FAILING_HOOK                                                                                              \
    "batch: {max_events: 1000, max_wait_ms: 50}, "                                                                     \
    "retry: {max_attempts: 100, base_ms: 3000, max_ms: 5000, max_elapsed_s: 600}"

/* The worker stopped (if it runs) before a case writes its own config. */
static void stop_worker_for(int max_in_flight)
{
    if (sluice_th_proc_running(F.worker))
        dfix_stop_worker(&F, SIGTERM);
    F.max_in_flight = max_in_flight;
}

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    /* acme's endpoint takes every request and never answers (the worker gives up after 30 s). */
    dfix_stub(&F, &SLOW, "slow", "hangx200", NULL);
    dfix_stub(&F, &FAST, "fast", NULL, NULL);
    F.max_in_flight = IN_FLIGHT;
    write_orgs("timeout_ms: 30000, rate_limit_rps: 1000, batch: {max_events: 1, max_wait_ms: 50}", 1);
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
    /* The case above left acme's requests hanging for 30 s: stopped with them on the wire, the
     * worker waited out its whole drain (10 s). A new stub (its own port) in place of the hung
     * one fails them at once, and they are handed back uncommitted as at the drain's end. */
    sluice_err_t err = {{0}};
    int status = 0;
    assert_int_equal(sluice_th_proc_stop(SLOW.proc, 5000, &status, &err), 0);
    dfix_stub(&F, &SLOW, "slow", "hangx200", NULL);
    stop_worker_for(1);
    write_orgs("timeout_ms: 2000, rate_limit_rps: 1000, batch: {max_events: 1, max_wait_ms: 50}", 1);
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

/* A small event of acme's (the dev broker keeps 5 MB a partition); of the forgotten person of
 * suppressed_set_aside_counted_once, or of one of 97 visitors (the partition key: spread over the
 * partitions). */
static char *small_envelope(const char *id, int forgotten)
{
    static int visitor;
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"v\":1,\"org\":\"acme\",\"source\":\"web\",\"receivedAt\":\"2026-11-23T14:41:50.525Z\","
             "\"event\":{\"type\":\"track\",\"event\":\"Backlog\",\"messageId\":\"%s\",%s"
             "\"anonymousId\":\"backlog-visitor-%d\",\"timestamp\":\"2026-11-23T14:41:50.125Z\"},"
             "\"privacy\":{\"hashed\":[],\"masked\":[],\"dropped\":[]},\"hashes\":{}}",
             id, forgotten ? "\"userId\":\"user-sup-gone\"," : "", visitor++ % 97);
    char *s = strdup(buf);
    assert_non_null(s);
    return s;
}

/* A backlog of n small acme events produced at once, ids <prefix>-00000 on; those from gone_from
 * to before gone_to are the forgotten person's, ids sup-gone-<i>. */
static void produce_small(size_t n, const char *prefix, size_t gone_from, size_t gone_to)
{
    char **envs = calloc(n, sizeof(*envs));
    assert_non_null(envs);
    for (size_t i = 0; i < n; i++) {
        char id[40];
        int forgotten = i >= gone_from && i < gone_to;
        snprintf(id, sizeof(id), "%s-%05zu", forgotten ? "sup-gone" : prefix, i);
        envs[i] = small_envelope(id, forgotten);
    }
    dfix_produce(&F, envs, n, NULL);
    for (size_t i = 0; i < n; i++)
        free(envs[i]);
    free(envs);
}

/* acme's backlog on its failing webhook: more than an integration keeps in memory (ROUTE_ASIDE_AT,
 * 5,000 in vendors/deliver.c) and than the lane does (LANE_MAX_LIVE, 20,000). */
#define ACME_BACKLOG 21000

/* The distinct messageIds starting with prefix in the requests the stub answered 2xx. */
static size_t delivered_ids(const dstub_t *s, const char *prefix)
{
    json_t *reqs = dfix_requests(s), *seen = json_object();
    size_t i, plen = strlen(prefix);
    json_t *r;
    json_array_foreach(reqs, i, r) {
        json_int_t answer = json_integer_value(json_object_get(r, "answer"));
        if (answer < 200 || answer > 299)
            continue;
        size_t j;
        json_t *env;
        json_array_foreach(json_object_get(json_object_get(r, "json"), "batch"), j, env) {
            const char *id = json_string_value(json_object_get(json_object_get(env, "event"), "messageId"));
            if (id != NULL && strncmp(id, prefix, plen) == 0)
                json_object_set_new(seen, id, json_true());
        }
    }
    size_t n = json_object_size(seen);
    json_decref(seen);
    json_decref(reqs);
    return n;
}

static int count_log(sluice_th_proc_t *p, const char *what)
{
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    int n = log != NULL ? sluice_th_count(log, what) : 0;
    free(log);
    return n;
}

static int count_worker_log(const char *what)
{
    return count_log(F.worker, what);
}

/* acme's vendor answers 500, for good: 256 answers before the stub's default 200, so the plan is
 * set again while the test waits (each time from its first answer). */
static void keep_failing(void)
{
    dfix_stub_plan(&F, &SLOW, "500x256");
}

/* Waits until p's log says `what` more than `seen` times, acme still failing. */
static void wait_log_failing(sluice_th_proc_t *p, const char *what, int seen, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 250) {
        keep_failing();
        if (count_log(p, what) > seen)
            return;
        usleep(250 * 1000);
    }
    print_error("no %s in the worker's log after %d ms\n", what, timeout_ms);
    fail();
}

#define CONSUMED "sluice_deliver_consumed_total{vendor=\"webhook\"}"

/* Polls the worker's metric until it is at least want or timeout_ms passed (failing: keeping acme's
 * vendor failing meanwhile); returns its last value. */
static double wait_metric(const char *series, double want, int timeout_ms, int failing)
{
    double v = 0;
    for (int waited = 0;; waited += 200) {
        if (failing)
            keep_failing();
        v = dfix_metric(&F, series);
        if (v >= want || waited >= timeout_ms)
            return v;
        usleep(200 * 1000);
    }
}

/* globex's event, produced now, reaches its endpoint within a few seconds. */
static void globex_arrives(const char *id)
{
    size_t before = dfix_wait_requests(&FAST, 0, 0);
    int64_t t0 = dfix_now_ms();
    produce_globex(id);
    json_t *req = dfix_wait_request(&FAST, id, 5000);
    print_message("globex's %s at its endpoint after %lld ms (%zu requests before)\n", id,
                  (long long)(dfix_now_ms() - t0), before);
    assert_non_null(req);
    json_decref(req);
}

/* acme's webhook answers 500 with a backlog of 21,000 events. The lane held them all, paused its
 * partitions at 20,000 and kept them paused while acme's batches retried (up to
 * retry.max_elapsed_s): globex's event to the same vendor did not arrive, seen 20 s in. Now acme's
 * events past 5,000 in memory are set aside (held in the partitions, not committed) and read
 * again as acme drains: globex's events arrive at once, across a restart too (under --vendor),
 * and every acme event arrives once its vendor answers again. */
static void failing_org_backlog_does_not_hold_another_org(void **state)
{
    (void)state;
    stop_worker_for(0);
    keep_failing();
    write_orgs(ACME_FAILING_HOOK, 1);
    produce_small(ACME_BACKLOG, "lane", 0, 0);

    int aside0 = count_worker_log("\"deliver.set_aside\"");
    dfix_start_worker(&F, NULL, 1);
    /* acme's requests fail; the worker has read (or set aside) its whole backlog. */
    assert_true(dfix_wait_requests(&SLOW, dfix_wait_requests(&SLOW, 0, 0) + 1, 15000) >= 1);
    double consumed = wait_metric(CONSUMED, ACME_BACKLOG, 30000, 1);
    double pending = dfix_metric(&F, "sluice_deliver_pending_events");
    print_message("acme's backlog: %.0f consumed, %.0f in memory\n", consumed, pending);
    keep_failing();
    globex_arrives("globex-behind-backlog");
    /* The bound: acme keeps about 5,000 in memory (one poll of 500 past it), not its backlog. */
    assert_true(consumed >= ACME_BACKLOG);
    assert_true(pending <= 6000);
    assert_true(count_worker_log("\"deliver.set_aside\"") > aside0);

    /* A restart in the middle (a deploy), as a --vendor worker: nothing set aside was committed,
     * so the next worker reads acme's backlog again. */
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
    const char *vendor_args[] = {"--vendor", "webhook", NULL};
    aside0 = count_worker_log("\"deliver.set_aside\"");
    dfix_start_worker(&F, vendor_args, 1);
    wait_log_failing(F.worker, "\"deliver.set_aside\"", aside0, 30000);
    keep_failing();
    globex_arrives("globex-after-restart");

    /* A second worker joins the group (its own metrics port, same config otherwise): the
     * partitions, and acme's set-aside events in them, are shared out again. */
    sluice_err_t err = {{0}};
    char *cfg = sluice_th_read_file(F.config, NULL, NULL);
    char port[16], other[PATH_MAX];
    snprintf(port, sizeof(port), "%d", F.metrics_port);
    char *at = strstr(cfg, port);
    assert_non_null(at);
    int p1 = F.metrics_port, p2 = sluice_th_free_port(&err);
    assert_true(p2 > 0);
    sluice_th_path(other, sizeof(other), "deliver-2.yaml", &err);
    FILE *fp = fopen(other, "w");
    assert_non_null(fp);
    fprintf(fp, "%.*s%d%s", (int)(at - cfg), cfg, p2, at + strlen(port));
    fclose(fp);
    free(cfg);
    int revoked0 = count_worker_log("partitions revoked");
    int first_aside0 = count_worker_log("\"deliver.set_aside\"");
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    const char *argv[] = {bin, "--config", other, "--vendor", "webhook", NULL};
    sluice_th_spawn_opts_t opts = {.env = F.env};
    sluice_th_proc_t *second = sluice_th_spawn("deliver-2", argv, &opts, &err);
    assert_non_null(second);
    wait_log_failing(F.worker, "partitions revoked", revoked0, 60000);
    wait_log_failing(second, "partitions assigned", 0, 60000);
    /* Both read their partitions: acme's backlog again, set aside past 5,000. Each says so in its
     * log; 2 s at the most, the fixed wait this was. */
    for (int waited = 0; waited < 2000; waited += 100) {
        keep_failing();
        if (count_log(second, "\"deliver.set_aside\"") > 0 && count_worker_log("\"deliver.set_aside\"") > first_aside0)
            break;
        usleep(100 * 1000);
    }
    keep_failing();
    globex_arrives("globex-two-workers");

    /* acme's vendor is back: every acme event arrives (at least once), and everything is
     * committed on both workers (the lag goes to 0: no hold left behind). */
    dfix_stub_plan(&F, &SLOW, "");
    size_t got = 0;
    double lag1 = -1, lag2 = -1, delivered = 0;
    for (int waited = 0; waited < 120000; waited += 500) {
        F.metrics_port = p2;
        delivered = dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}");
        lag2 = dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"webhook\"}");
        F.metrics_port = p1;
        delivered += dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}");
        lag1 = dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"webhook\"}");
        if (delivered >= ACME_BACKLOG && lag1 == 0 && lag2 == 0)
            break;
        usleep(500 * 1000);
    }
    F.metrics_port = p1;
    got = delivered_ids(&SLOW, "lane-");
    print_message("after acme's vendor is back: %zu of %d acme events delivered, lag %.0f and %.0f\n", got,
                  ACME_BACKLOG, lag1, lag2);
    assert_int_equal(got, ACME_BACKLOG);
    assert_true(lag1 == 0 && lag2 == 0);
    int status = 0;
    assert_int_equal(sluice_th_proc_stop(second, 30000, &status, &err), 0);
    assert_true(sluice_th_exited_with(status, 0));
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

#define SUP_FILL 5600
#define SUP_GONE 40

/* A forgotten person's events that came while acme's integration set its events aside: skipped
 * (suppressed) when first read, held all the same, and skipped again when read back. The
 * suppressed outcome counted each of them twice, once per reading: an operator checking that
 * `forget` worked read twice as many events as the person had. */
static void suppressed_set_aside_counted_once(void **state)
{
    (void)state;
    static const char *suppressed = "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"suppressed\"}";
    static const char *delivered = "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}";
    stop_worker_for(0);
    keep_failing();
    write_orgs(ACME_FAILING_HOOK, 0);
    const char *forget[] = {"forget", "--config", F.config, "--org", "acme", "--user-id", "user-sup-gone", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, forget, NULL, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("forget: %s %s", out.out, out.errout);
    sluice_th_output_dispose(&out);
    int aside0 = count_worker_log("\"deliver.set_aside\"");
    dfix_start_worker(&F, NULL, 1);

    /* The worker knows the person is forgotten: a first event of theirs is suppressed. Small
     * envelopes over 97 visitors (the partition key): the dev broker keeps 5 MB a partition. */
    char *probe = small_envelope("sup-probe", 1);
    dfix_produce(&F, &probe, 1, NULL);
    free(probe);
    double sup = wait_metric(suppressed, 1, 30000, 0);
    assert_true(sup == 1);

    /* acme's backlog: 5,600 events (its integration sets aside those past 5,000), then the
     * forgotten person's 40 (set aside too), then 100 more. */
    size_t n = SUP_FILL + SUP_GONE + 100;
    produce_small(n, "sup-fill", SUP_FILL, SUP_FILL + SUP_GONE);
    double consumed = wait_metric(CONSUMED, (double)n + 1, 30000, 1);
    print_message("%.0f consumed, %.0f in memory\n", consumed, dfix_metric(&F, "sluice_deliver_pending_events"));
    assert_true(consumed >= (double)n + 1);
    assert_true(count_worker_log("\"deliver.set_aside\"") > aside0);

    /* acme's vendor is back: everything is delivered or skipped, and committed. */
    dfix_stub_plan(&F, &SLOW, "");
    double got = 0, lag = -1;
    for (int waited = 0; waited < 120000; waited += 500) {
        got = dfix_metric(&F, delivered);
        lag = dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"webhook\"}");
        if (got >= SUP_FILL + 100 && lag == 0)
            break;
        usleep(500 * 1000);
    }
    usleep(1000 * 1000);
    sup = dfix_metric(&F, suppressed);
    got = dfix_metric(&F, delivered);
    print_message("%.0f delivered, %.0f suppressed, lag %.0f, %zu distinct fill ids at the endpoint\n", got, sup, lag,
                  delivered_ids(&SLOW, "sup-fill-"));
    assert_true(lag == 0);
    assert_int_equal(delivered_ids(&SLOW, "sup-fill-"), SUP_FILL + 100);
    assert_int_equal(delivered_ids(&SLOW, "sup-gone-"), 0);
    assert_true(got == SUP_FILL + 100);
    assert_true(sup == 1 + SUP_GONE);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

#define LIN_BACKLOG  5000
#define LIN_ASIDE_AT "50"

/* A healthy but slow integration catching up on a backlog (acme's vendor answers every request,
 * 20 ms each), with ROUTE_ASIDE_AT lowered to 50 (SLUICE_DELIVER_ASIDE_AT: the dev broker keeps
 * 5 MB a partition, too few events for the real 5,000). Once down to half it read its set-aside
 * events back, filled up again after ~25 and gave the reading up, to start over later by a seek
 * to its oldest set-aside event: every pass fetched its partitions again to their end, about
 * N^2/50 messages for N events (5,000 events: hundreds of thousands consumed). Now the
 * partition waits where the reading stopped until the integration is down to half: each message
 * is fetched about once, and globex's events still arrive meanwhile. */
static void healthy_backlog_is_read_back_linearly(void **state)
{
    (void)state;
    static const char *delivered = "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}";
    stop_worker_for(4);
    dfix_stub_plan(&F, &SLOW, "200/delay=20x100000");
    write_orgs("rate_limit_rps: 100000, batch: {max_events: 10, max_wait_ms: 20}", 1);
    produce_small(LIN_BACKLOG, "lin", 0, 0);

    size_t slot = 0;
    while (slot < sizeof(F.env) / sizeof(F.env[0]) - 1 && F.env[slot] != NULL)
        slot++;
    assert_null(F.env[slot]);
    F.env[slot] = "SLUICE_DELIVER_ASIDE_AT=" LIN_ASIDE_AT;
    int aside0 = count_worker_log("\"deliver.set_aside\"");
    dfix_start_worker(&F, NULL, 1);
    F.env[slot] = NULL;

    double got = 0, lag = -1;
    int globex_sent = 0;
    for (int waited = 0; waited < 180000; waited += 500) {
        got = dfix_metric(&F, delivered);
        lag = dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"webhook\"}");
        if (!globex_sent && got >= LIN_BACKLOG / 4) {
            /* Mid-way through acme's catch-up: another org's event is not held behind it. */
            globex_arrives("globex-during-catch-up");
            globex_sent = 1;
        }
        if (got >= LIN_BACKLOG + 1 && lag == 0)
            break;
        usleep(500 * 1000);
    }
    double consumed = dfix_metric(&F, "sluice_deliver_consumed_total{vendor=\"webhook\"}");
    size_t ids = delivered_ids(&SLOW, "lin-");
    print_message("%zu of %d acme events delivered, %.0f messages consumed, lag %.0f\n", ids, LIN_BACKLOG, consumed,
                  lag);
    assert_true(count_worker_log("\"deliver.set_aside\"") > aside0);
    assert_true(globex_sent);
    assert_int_equal(ids, LIN_BACKLOG);
    assert_true(lag == 0);
    /* Read once, and each set-aside event about once more (a pass starts again where the last
     * stopped, the event it stopped at read twice), not ~N^2/50: 206,410 before. */
    assert_true(consumed < 2.5 * LIN_BACKLOG);
    dfix_stub_plan(&F, &SLOW, "");
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hung_vendor_of_one_org_does_not_hold_another),
        cmocka_unit_test(hung_vendor_does_not_take_the_only_place_back_each_time),
        cmocka_unit_test(failing_org_backlog_does_not_hold_another_org),
        cmocka_unit_test(suppressed_set_aside_counted_once),
        cmocka_unit_test(healthy_backlog_is_read_back_linearly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

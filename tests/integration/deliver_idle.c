/*
 * The delivery worker with thousands of quiet orgs: 10,000 orgs, each with a webhook, on the dev
 * Kafka, PostgreSQL and one HTTPS stub. One worker serves every org of a deployment, and most send
 * nothing most of the time: its loop must cost what has work, not what is configured. Checks the
 * worker loop's CPU while nothing is sent (before and after traffic), that a quiet org's first
 * event after a long idle goes out at once, and that a retry due seconds later fires on time
 * (docs/performance.md, The delivery worker with idle orgs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/deliver_fix.h"

/* DELIVER_IDLE_ORGS=N in the environment runs it with N orgs instead (for figures only: the
 * bound below is for 10,000). */
#define ORGS_DEFAULT 10000
static int ORGS = ORGS_DEFAULT;
/* The idle worker loop's CPU per second of wall time may not exceed this (ms): it spent 8 to
 * 10 ms a second at 10,000 orgs (2.6 to 3.5 at 2,000) when each loop turn visited every
 * integration, and 0.6 to 1.4 at either once it visits only those with work. Best of
 * IDLE_WINDOWS windows, so a busy machine (which only adds) does not fail it. */
#define IDLE_MS_PER_S_MAX 3.0
#define IDLE_WINDOWS      4
#define IDLE_WINDOW_MS    3000

static dfix_t F;
static dstub_t HOOK;

/* acme and `orgs` more orgs (idle00000...), each with a webhook on HOOK sending within 50 ms. A
 * backoff base of 100 ms: with the default's (4 s, full jitter) a 429's retry comes after 2 to 4 s
 * whatever its Retry-After says. */
static void write_config(int orgs)
{
    sluice_err_t err = {{0}};
    size_t cap = (size_t)orgs * 256 + 4096, len = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    len += dfix_config_settings(&F, yaml + len, cap - len);
    for (int o = -1; o < orgs; o++) {
        char id[16] = "acme";
        if (o >= 0)
            snprintf(id, sizeof(id), "idle%05d", o);
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - id: %s\n"
                                "    sources: [{id: web, write_key_env: DFIX_WEB_KEY}]\n"
                                "    consent: {policy: allow}\n"
                                "    integrations:\n"
                                "      - {name: hook, vendor: webhook, url: \"%s/in\", batch: {max_wait_ms: 50}, "
                                "retry: {base_ms: 100}}\n",
                                id, HOOK.url);
        assert_true(len < cap);
    }
    if (sluice_th_path(F.config, sizeof(F.config), "deliver.yaml", &err) != 0)
        fail_msg("tmpdir: %s", err.msg);
    FILE *fp = fopen(F.config, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
    free(yaml);
}

static int setup(void **state)
{
    (void)state;
    const char *n = getenv("DELIVER_IDLE_ORGS");
    long v = n != NULL ? strtol(n, NULL, 10) : 0;
    if (v > 0 && v <= 99999)
        ORGS = (int)v;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &HOOK, "hook", NULL, NULL);
    write_config(ORGS);
    dfix_start_worker(&F, NULL, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* CPU time (ns) the worker's main thread, the one that runs the delivery loop, has used: its
 * schedstat's first field. The process's own figure also holds librdkafka's threads. */
static long long loop_cpu_tid(pid_t pid, pid_t tid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    long long ns = -1;
    if (fscanf(fp, "%lld", &ns) != 1)
        ns = -1;
    fclose(fp);
    return ns;
}

static long long loop_cpu_ns(pid_t pid)
{
    return loop_cpu_tid(pid, pid);
}

/* CPU time (ns) of every thread of the worker (librdkafka's, the vault reader's...): the sum of
 * their schedstats. */
static long long process_cpu_ns(pid_t pid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long long sum = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        long long ns = loop_cpu_tid(pid, (pid_t)strtol(e->d_name, NULL, 10));
        sum += ns > 0 ? ns : 0;
    }
    closedir(d);
    return sum;
}

/* The worker loop's CPU per second while nothing is sent: the least of IDLE_WINDOWS windows. */
static double idle_loop_ms_per_s(void)
{
    pid_t pid = sluice_th_proc_pid(F.worker);
    double best = -1;
    for (int i = 0; i < IDLE_WINDOWS; i++) {
        long long c0 = loop_cpu_ns(pid), p0 = process_cpu_ns(pid);
        int64_t t0 = dfix_now_ms();
        usleep(IDLE_WINDOW_MS * 1000);
        long long c1 = loop_cpu_ns(pid), p1 = process_cpu_ns(pid);
        int64_t t1 = dfix_now_ms();
        assert_true(c0 >= 0 && c1 >= c0);
        double secs = (double)(t1 - t0) / 1000.0;
        double v = (double)(c1 - c0) / 1e6 / secs;
        print_message("idle window %d: worker loop %.2f ms CPU per s, whole process %.2f\n", i, v,
                      (double)(p1 - p0) / 1e6 / secs);
        if (best < 0 || v < best)
            best = v;
    }
    return best;
}

static void idle_worker_costs_little_at_10000_orgs(void **state)
{
    (void)state;
    usleep(2000 * 1000); /* the start's work (assignment, first fetches) over */
    double v = idle_loop_ms_per_s();
    print_message("idle worker with %d orgs: %.2f ms CPU per s (bound %.1f)\n", ORGS + 1, v, IDLE_MS_PER_S_MAX);
    assert_true(v < IDLE_MS_PER_S_MAX);
}

/* One event of org `org` with messageId id (the reference envelope is acme's: its org rewritten). */
static void produce_for(const char *org, const char *id)
{
    char *g = dfix_envelope(id, dfix_now_ms(), NULL);
    const char *from = "\"org\":\"acme\"";
    char *at = strstr(g, from);
    assert_non_null(at);
    size_t glen = strlen(g) + strlen(org) + 16;
    char *out = malloc(glen);
    assert_non_null(out);
    snprintf(out, glen, "%.*s\"org\":\"%s\"%s", (int)(at - g), g, org, at + strlen(from));
    free(g);
    dfix_produce(&F, &out, 1, NULL);
    free(out);
}

static int64_t ts(json_t *reqs, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(reqs, i), "ts_ms"));
}

/* The last org of the config, quiet since the worker started, sends one event: it is delivered
 * within its batch wait (50 ms) and the consumer's fetch, not after some sweep of every org. */
static void quiet_org_first_event_goes_out_at_once(void **state)
{
    (void)state;
    int64_t t0 = dfix_now_ms();
    char org[16];
    snprintf(org, sizeof(org), "idle%05d", ORGS - 1);
    produce_for(org, "quiet-1");
    json_t *req = dfix_wait_request(&HOOK, "quiet-1", 10000);
    assert_non_null(req);
    int64_t took = json_integer_value(json_object_get(req, "ts_ms")) - t0;
    print_message("quiet org's event delivered %lld ms after it was produced\n", (long long)took);
    json_decref(req);
    assert_true(took < 1500);
    json_t *again = dfix_requests_with(&HOOK, "quiet-1");
    assert_int_equal(json_array_size(again), 1);
    json_decref(again);
}

/* A quiet org's request answered 429 with Retry-After: 2 is sent again 2 s later, though the
 * integration has nothing else to do meanwhile and nothing else in the worker wakes it. */
static void retry_due_later_fires_on_time(void **state)
{
    (void)state;
    dfix_stub_plan_for(&F, &HOOK, "429/ra=2,200", "quiet-retry");
    char org[16];
    snprintf(org, sizeof(org), "idle%05d", ORGS / 2);
    produce_for(org, "quiet-retry");
    size_t n = 0;
    json_t *reqs = NULL;
    for (int64_t t0 = dfix_now_ms(); dfix_now_ms() - t0 < 15000; usleep(50 * 1000)) {
        json_decref(reqs);
        reqs = dfix_requests_with(&HOOK, "quiet-retry");
        if ((n = json_array_size(reqs)) >= 2)
            break;
    }
    assert_int_equal(n, 2);
    int64_t gap = ts(reqs, 1) - ts(reqs, 0);
    print_message("Retry-After: 2 on a quiet org -> the retry came %lld ms later\n", (long long)gap);
    json_decref(reqs);
    assert_true(gap >= 1950 && gap < 3500);
    usleep(500 * 1000);
    reqs = dfix_requests_with(&HOOK, "quiet-retry");
    assert_int_equal(json_array_size(reqs), 2);
    json_decref(reqs);
}

/* The orgs that sent are quiet again: the loop's cost goes back down (they do not stay visited). */
static void idle_again_after_traffic(void **state)
{
    (void)state;
    double v = idle_loop_ms_per_s();
    print_message("idle again after traffic: %.2f ms CPU per s\n", v);
    assert_true(v < IDLE_MS_PER_S_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_worker_costs_little_at_10000_orgs),
        cmocka_unit_test(quiet_org_first_event_goes_out_at_once),
        cmocka_unit_test(retry_due_later_fires_on_time),
        cmocka_unit_test(idle_again_after_traffic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

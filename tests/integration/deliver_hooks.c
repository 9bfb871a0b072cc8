/*
 * sluice-deliver's connections to many webhook hosts. One org with HOSTS webhook integrations,
 * each to its own port of one HTTPS stub (libcurl keys its connection cache by host and port, so
 * each is a host to it), three events one after the other: the second and third must go out on
 * the connections the first opened. libcurl's default cache keeps 4 idle connections per transfer
 * in progress, so once the first event's requests had ended, the worker had closed all but a few
 * and paid a new TCP connection and TLS handshake for nearly every request of the next (a
 * deployment with an integration per org: a handshake per batch, per org). Prints the worker's
 * CPU per event, and its file descriptors and resident memory afterwards, for
 * docs/performance.md; SLUICE_HOOKS_HOSTS sets the number of hosts (default 300). Then a
 * receiver whose answer's body never ends: one delivery, not a timeout and retries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t STUB, ENDLESS;
static int HOSTS = 300;
static int *PORTS;

/* The stub with HOSTS listeners; their ports in PORTS. */
static void start_stub(void)
{
    sluice_err_t err = {{0}};
    memset(&STUB, 0, sizeof(STUB));
    snprintf(STUB.name, sizeof(STUB.name), "hooks");
    STUB.port = sluice_th_free_port(&err);
    assert_true(STUB.port > 0);
    char ports_file[PATH_MAX], port[16], hosts[16], cert[PATH_MAX + 16], key[PATH_MAX + 16], bin[PATH_MAX];
    if (sluice_th_path(STUB.log, sizeof(STUB.log), "stub-hooks.jsonl", &err) != 0 ||
        sluice_th_path(ports_file, sizeof(ports_file), "stub-hooks.ports", &err) != 0)
        fail_msg("tmpdir: %s", err.msg);
    snprintf(port, sizeof(port), "%d", STUB.port);
    snprintf(hosts, sizeof(hosts), "%d", HOSTS);
    snprintf(cert, sizeof(cert), "%s/server.crt", F.certs);
    snprintf(key, sizeof(key), "%s/server.key", F.certs);
    snprintf(bin, sizeof(bin), "%s/tests/stubs/sluice-vendor-stub", sluice_th_build_dir());
    const char *argv[] = {bin,        "--port",         port,     "--cert",      cert,  "--key",
                          key,        "--log",          STUB.log, "--listeners", hosts, "--ports-file",
                          ports_file, "--idle-timeout", "60000",  NULL};
    STUB.proc = sluice_th_spawn("stub-hooks", argv, NULL, &err);
    if (STUB.proc == NULL || sluice_th_wait_log(STUB.proc, "listening on", 1, 20000, &err) != 0)
        fail_msg("vendor stub: %s", err.msg);
    FILE *fp = fopen(ports_file, "r");
    assert_non_null(fp);
    PORTS = calloc((size_t)HOSTS, sizeof(*PORTS));
    for (int i = 0; i < HOSTS; i++)
        assert_int_equal(fscanf(fp, "%d", &PORTS[i]), 1);
    fclose(fp);
}

static int setup(void **state)
{
    (void)state;
    const char *h = getenv("SLUICE_HOOKS_HOSTS");
    long n = h != NULL ? strtol(h, NULL, 10) : 0;
    if (n > 0 && n <= 10000)
        HOSTS = (int)n;
    dfix_init(&F, NULL, NULL, NULL, 1);
    start_stub();
    dfix_stub(&F, &ENDLESS, "endless", "200/endlessx1000", NULL);
    size_t cap = (size_t)HOSTS * 160 + 512, len = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    len += (size_t)snprintf(yaml + len, cap - len,
                            "      - {name: endless, vendor: webhook, url: \"%s/in\", events: [Endless Answer],\n"
                            "         timeout_ms: 2000, retry: {base_ms: 200, max_ms: 500}}\n",
                            ENDLESS.url);
    for (int i = 0; i < HOSTS; i++)
        len += (size_t)snprintf(yaml + len, cap - len,
                                "      - {name: hook%d, vendor: webhook, url: \"https://127.0.0.1:%d/in\",\n"
                                "         batch: {max_events: 100, max_wait_ms: 50}}\n",
                                i, PORTS[i]);
    dfix_write_config(&F, yaml, NULL);
    free(yaml);
    dfix_start_worker(&F, NULL, 1);
    return 0;
}

/* The connection ids of the requests whose body holds needle, added to seen; returns how many of
 * them seen did not hold before, and in *span_ms the time from the first to the last at the stub. */
static size_t new_connections(const char *needle, json_t *seen, long long *span_ms)
{
    json_t *reqs = dfix_requests_with(&STUB, needle);
    size_t i, fresh = 0;
    json_t *r;
    long long lo = -1, hi = -1;
    json_array_foreach(reqs, i, r) {
        long long ts = (long long)json_integer_value(json_object_get(r, "ts_ms"));
        lo = lo < 0 || ts < lo ? ts : lo;
        hi = ts > hi ? ts : hi;
        char id[32];
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(r, "conn")));
        if (json_object_get(seen, id) == NULL) {
            fresh++;
            json_object_set_new(seen, id, json_true());
        }
    }
    json_decref(reqs);
    *span_ms = hi - lo;
    return fresh;
}

/* One event to every integration; returns the new connections its requests came on. */
static size_t send_round(const char *id, size_t before, json_t *seen, long long *span_ms)
{
    char *env = dfix_envelope(id, dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    size_t got = dfix_wait_requests(&STUB, before + (size_t)HOSTS, 120000);
    assert_true(got >= before + (size_t)HOSTS);
    return new_connections(id, seen, span_ms);
}

static long worker_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    long n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 2;
}

static long worker_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    long kb = -1;
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (fp != NULL)
        fclose(fp);
    return kb;
}

/* CPU time (user + system) of a process, in ms. */
static long cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    unsigned long ut = 0, st = 0;
    if (fp == NULL)
        return -1;
    int ok = fscanf(fp, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2;
    fclose(fp);
    return ok ? (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK)) : -1;
}

static void second_batch_reuses_the_connections(void **state)
{
    (void)state;
    json_t *seen = json_object();
    pid_t pid = sluice_th_proc_pid(F.worker);
    long fds0 = worker_fds(pid), rss0 = worker_rss_kb(pid);
    long long span[3];
    long cpu[4], stub_cpu[4];
    pid_t stub = sluice_th_proc_pid(STUB.proc);
    cpu[0] = cpu_ms(pid), stub_cpu[0] = cpu_ms(stub);
    size_t first = send_round("hooks-round-1", 0, seen, &span[0]);
    cpu[1] = cpu_ms(pid), stub_cpu[1] = cpu_ms(stub);
    /* Every request of the first event answered and its connection back in the cache. */
    usleep(500 * 1000);
    size_t second = send_round("hooks-round-2", (size_t)HOSTS, seen, &span[1]);
    cpu[2] = cpu_ms(pid), stub_cpu[2] = cpu_ms(stub);
    usleep(500 * 1000);
    size_t third = send_round("hooks-round-3", 2 * (size_t)HOSTS, seen, &span[2]);
    cpu[3] = cpu_ms(pid), stub_cpu[3] = cpu_ms(stub);
    long fds = worker_fds(pid), rss = worker_rss_kb(pid);
    printf("%d hosts: new connections per event %zu, %zu, %zu; first to last request at the stub %lld, %lld, %lld "
           "ms; worker CPU %ld, %ld, %ld ms (stub %ld, %ld, %ld); worker fds %ld -> %ld, RSS %ld -> %ld kB\n",
           HOSTS, first, second, third, span[0], span[1], span[2], cpu[1] - cpu[0], cpu[2] - cpu[1], cpu[3] - cpu[2],
           stub_cpu[1] - stub_cpu[0], stub_cpu[2] - stub_cpu[1], stub_cpu[3] - stub_cpu[2], fds0, fds, rss0, rss);
    fflush(stdout);
    /* The stub keeps an idle connection 60 s: a loaded machine may let a few lapse between two
     * events, never most of them. */
    assert_true(second <= (size_t)HOSTS / 20);
    assert_true(third <= (size_t)HOSTS / 20);
    json_decref(seen);
}

/* A receiver that answers 200 and then streams its body forever: the worker keeps the first
 * 64 KiB and stops reading. It used to read (and drop) until timeout_ms, then count the request
 * as timed out and send the events again, and again, each time to a receiver that had them. */
static void endless_answer_is_read_no_further(void **state)
{
    (void)state;
    const char *series = "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}";
    /* The three events of the test before and this one, to every host, and this one to the
     * endless receiver. */
    double delivered = 4.0 * HOSTS;
    char *env = dfix_envelope("hooks-endless", dfix_now_ms(), "{\"event\":\"Endless Answer\"}");
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    json_decref(dfix_wait_request(&ENDLESS, "hooks-endless", 30000));
    /* Past the 2 s timeout and a retry's 200-500 ms backoff, twice. */
    int64_t until = dfix_now_ms() + 6000;
    while (dfix_now_ms() < until && dfix_metric(&F, series) < delivered + 1)
        usleep(100 * 1000);
    sleep(6);
    json_t *reqs = dfix_requests_with(&ENDLESS, "hooks-endless");
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    double now = dfix_metric(&F, series);
    if (now != delivered + 1)
        fail_msg("%.0f events delivered, expected %.0f", now, delivered + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(second_batch_reuses_the_connections),
        cmocka_unit_test(endless_answer_is_read_no_further),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

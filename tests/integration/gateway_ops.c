/*
 * The gateway's behaviour under operations and faults, with real processes: Kafka brokers down
 * (503 with Retry-After, then every 2xx'd event present once the brokers are back), config
 * reload good and bad (SIGHUP), and SIGTERM during load (drain: every 2xx'd event in Kafka,
 * exit 0).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <dirent.h>
#include <errno.h>

#include "tests/integration/gwfix.h"

static gwfix_t F;

#define KEY     "wk_ops_key_1"
#define NEW_KEY "wk_ops_key_reloaded"

static const char *config_text(const char *extra_source)
{
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "  drain_timeout_ms: 15000\n"
             "limits: {max_body_bytes: 4194304, max_event_bytes: 2097152, max_string_bytes: 2097152}\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 2000}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY}\n"
             "%s"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      hash_fields: [{path: traits.email, normalize: email}]\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, extra_source);
    return yaml;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", config_text("")));
    static const char *env[] = {"T_KEY=" KEY, "T_NEW=" NEW_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    /* The certificate and key as made, for restore_certs. */
    sluice_err_t err = {{0}};
    char pristine[PATH_MAX], from[PATH_MAX + 32], to[PATH_MAX + 32];
    assert_int_equal(sluice_th_path(pristine, sizeof(pristine), "pristine-certs", &err), 0);
    assert_int_equal(mkdir(pristine, 0700) == 0 || errno == EEXIST, 1);
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "server.crt" : "server.key";
        snprintf(from, sizeof(from), "%s/%s", F.certs, name);
        snprintf(to, sizeof(to), "%s/%s", pristine, name);
        size_t len = 0;
        char *data = sluice_th_read_file(from, &len, &err);
        assert_non_null(data);
        FILE *f = fopen(to, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        free(data);
    }
    return 0;
}

static char quota_dir[256];

/* After each TLS case: a case that failed before its own clean-up left a renewed, empty,
 * expired or passphrase-protected file in the certs dir (or the gateway stopped), and every TLS
 * case after it failed too, hiding which one was at fault. The files made at setup go back and
 * the gateway restarts with the plain config; a case that cleaned up after itself finds nothing
 * to do. */
static int restore_certs(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char pristine[PATH_MAX], from[PATH_MAX + 32], to[PATH_MAX + 32], tmp[PATH_MAX + 40];
    if (sluice_th_path(pristine, sizeof(pristine), "pristine-certs", &err) != 0)
        return -1;
    int changed = 0;
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "server.crt" : "server.key";
        snprintf(from, sizeof(from), "%s/%s", pristine, name);
        snprintf(to, sizeof(to), "%s/%s", F.certs, name);
        size_t len = 0, now_len = 0;
        char *want = sluice_th_read_file(from, &len, &err), *now = sluice_th_read_file(to, &now_len, NULL);
        if (want == NULL) {
            free(now);
            return -1;
        }
        if (now == NULL || now_len != len || memcmp(now, want, len) != 0) {
            changed = 1;
            snprintf(tmp, sizeof(tmp), "%s.restore", to);
            FILE *f = fopen(tmp, "wb");
            int ok = f != NULL && fwrite(want, 1, len, f) == len;
            if (f != NULL && fclose(f) != 0)
                ok = 0;
            if (!ok || rename(tmp, to) != 0) {
                free(want);
                free(now);
                return -1;
            }
        }
        free(want);
        free(now);
    }
    if (!changed && F.gw != NULL && sluice_th_proc_running(F.gw))
        return 0;
    fprintf(stderr, "restore_certs: the case left the certificates or the gateway changed; restarting it\n");
    if (F.gw != NULL && sluice_th_proc_running(F.gw))
        gwfix_stop(&F, SIGTERM);
    gwfix_write("gateway.yaml", config_text(""));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (sluice_th_proc_running(F.gw))
        gwfix_stop(&F, SIGTERM);
    if (quota_dir[0] != '\0')
        rmdir(quota_dir); /* threads_zero_follows_cpu_quota's cgroup, left by a failure */
    sluice_th_teardown();
    return 0;
}

/* Under ASan+UBSan (make test-asan) every gateway request is several times slower: latency
 * bounds widen there (as in edge.c); the regular build checks the bounds themselves. */
static int sanitized(void)
{
    const char *s = getenv("SLUICE_SANITIZED");
    return s != NULL && (strcmp(s, "1") == 0 || strcmp(s, "ON") == 0);
}

static long post_event(const char *key, const char *mid, http_resp_t *r)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"event\":\"Ops\",\"messageId\":\"%s\",\"traits\":{\"email\":\"x@y.z\"}}", mid);
    return gwfix_post(&F, "/v1/t", key, body, r);
}

/* ------------------------------------------------------------------ Kafka down */

static void kafka_down_then_up(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    http_resp_t r;
    assert_int_equal(post_event(KEY, "down-before", &r), 200);
    http_resp_dispose(&r);

    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int downs = sluice_th_count(log, "\"event\":\"kafka.down\""), ups = sluice_th_count(log, "\"event\":\"kafka.up\"");
    free(log);
    assert_int_equal(sluice_th_kafka_down(&F.kafka, &err), 0);
    /* Until a producer has noticed, the answer waits for acknowledgements up to ack_timeout_ms
     * (2 s here), then says to come back; once it knows no broker is reachable (kafka.down in the
     * log), requests get 503 with Retry-After at once. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    post_event(KEY, "down-during", &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.status, 503);
    assert_non_null(http_header(&r, "retry-after"));
    assert_true(gwfix_contains(r.body, "\"kafka_unavailable\""));
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(waited < 10);
    http_resp_dispose(&r);
    assert_int_equal(sluice_th_wait_log(F.gw, "\"event\":\"kafka.down\"", downs + 2, 15000, &err), 0); /* 2 threads */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    post_event(KEY, "down-known", &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(r.status, 503);
    assert_non_null(http_header(&r, "retry-after"));
    /* At once: well under ack_timeout_ms (2 s), which is what a request waits while the producer
     * has not noticed. Under ASan+UBSan (make test-asan, two tests at a time) a request with its
     * TLS handshake alone can take a few hundred ms: 1.5 s there, still short of the 2 s. */
    assert_true(waited < (sanitized() ? 1.5 : 0.5));
    http_resp_dispose(&r);

    assert_int_equal(sluice_th_kafka_up(&F.kafka, &err), 0);
    /* The return is logged (once per thread's producer), and the client's retries get through. */
    assert_int_equal(sluice_th_wait_log(F.gw, "\"event\":\"kafka.up\"", ups + 2, 20000, &err), 0);
    /* The client retries the 503'd event until it is accepted. */
    long status = 0;
    for (int i = 0; i < 30 && status != 200; i++) {
        status = post_event(KEY, "down-during", &r);
        http_resp_dispose(&r);
        if (status != 200)
            sleep(1);
    }
    assert_int_equal(status, 200);
    assert_int_equal(post_event(KEY, "down-after", &r), 200);
    http_resp_dispose(&r);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_int_equal(gwfix_count_message(msgs, "down-before"), 1);
    assert_true(gwfix_count_message(msgs, "down-during") >= 1); /* at least once: the first try may land too */
    assert_int_equal(gwfix_count_message(msgs, "down-after"), 1);
    json_decref(msgs);
    assert_true(gwfix_metric(&F, "sluice_events_rejected_total{reason=\"kafka_unavailable\"}") >= 1);
}

/* A broker that answers a produce request with OUT_OF_ORDER_SEQUENCE_NUMBER (a partition leader
 * that lost what it had acknowledged: an unclean election, a broker back from a lost disk) puts
 * librdkafka's idempotent producer in a fatal state: it refuses every later message. The thread
 * whose producer it was must not go on answering 503 until someone restarts the gateway: the
 * producer is replaced, and its events are taken again, while the other thread kept working. */
static void kafka_fatal_producer_error_recovers(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    http_resp_t r;
    assert_int_equal(post_event(KEY, "fatal-warm", &r), 200);
    http_resp_dispose(&r);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int fatals = sluice_th_count(log, "\"event\":\"kafka.fatal\"");
    free(log);

    assert_int_equal(sluice_th_kafka_command(&F.kafka, "produce-error 1 OUT_OF_ORDER_SEQUENCE_NUMBER", &err), 0);
    /* The event whose produce request got the error is not acknowledged: not a 200. */
    assert_int_equal(post_event(KEY, "fatal-hit", &r), 503);
    http_resp_dispose(&r);

    /* Each request comes on a new connection, which the kernel gives either thread: within a few
     * seconds every one of 20 is taken again, whichever thread serves it. */
    int ok_in_a_row = 0, sent = 0;
    char mid[64];
    for (int i = 0; i < 200 && ok_in_a_row < 20; i++) {
        snprintf(mid, sizeof(mid), "fatal-after-%d", i);
        long s = post_event(KEY, mid, &r);
        http_resp_dispose(&r);
        sent++;
        ok_in_a_row = s == 200 ? ok_in_a_row + 1 : 0;
        if (s != 200) {
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    print_message("fatal: %d requests sent until 20 in a row were taken\n", sent);
    assert_int_equal(ok_in_a_row, 20);
    assert_true(sent < 120); /* ~12 s: the replacement takes a poll interval, not a restart */

    http_opts_t o = {0};
    http_do(gwfix_metrics_url(&F, "/readyz"), &o, NULL, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    for (int i = sent - 20; i < sent; i++) {
        snprintf(mid, sizeof(mid), "fatal-after-%d", i);
        assert_int_equal(gwfix_count_message(msgs, mid), 1);
    }
    json_decref(msgs);
    /* The operator is told why, once. */
    assert_int_equal(sluice_th_wait_log(F.gw, "\"event\":\"kafka.fatal\"", fatals + 1, 1000, &err), 0);
}

/* A body with one track event (or, with batch, a batch of a small event `<mid>-ok` and the big one)
 * whose properties hold `blobs` strings of `size` bytes each. malloc'd. */
static char *big_body(const char *mid, size_t size, int blobs, int batch)
{
    size_t cap = (size + 16) * (size_t)blobs + 256, n;
    char *body = malloc(cap);
    assert_non_null(body);
    if (batch)
        n = (size_t)snprintf(body, cap,
                             "{\"batch\":[{\"type\":\"track\",\"event\":\"Ops\",\"messageId\":\"%s-ok\"},"
                             "{\"type\":\"track\",\"event\":\"Ops\",\"messageId\":\"%s\",\"properties\":{",
                             mid, mid);
    else
        n = (size_t)snprintf(body, cap, "{\"event\":\"Ops\",\"messageId\":\"%s\",\"properties\":{", mid);
    for (int b = 0; b < blobs; b++) {
        n += (size_t)snprintf(body + n, cap - n, "%s\"blob%d\":\"", b > 0 ? "," : "", b);
        memset(body + n, 'a' + b, size);
        n += size;
        body[n++] = '"';
    }
    snprintf(body + n, cap - n, "%s", batch ? "}}]}" : "}}");
    return body;
}

/* Kafka takes messages up to librdkafka's message.max.bytes (1,000,000 by default). With the
 * limits raised past that (here for batches of up to 4 MB), an event, or the record of one refused
 * for its size, can be larger than Kafka takes: it was answered 503 "retry the request", and every
 * retry got the same 503 (a client's queue stuck behind it, a batch's other events queued again
 * each time). Such an event is refused for its size instead, and the record of a refused event goes
 * to kafka.invalid_topic without the event. */
static void larger_than_kafka_takes_is_refused_not_retried(void **state)
{
    (void)state;
    http_resp_t r;
    char *body = big_body("huge-1", 1200000, 1, 0); /* within max_event_bytes, over message.max.bytes */
    gwfix_post(&F, "/v1/t", KEY, body, &r);
    free(body);
    assert_int_equal(r.status, 413);
    assert_true(gwfix_contains(r.body, "\"payload_too_large\""));
    http_resp_dispose(&r);

    body = big_body("huge-2", 1200000, 1, 1);
    gwfix_post(&F, "/v1/batch", KEY, body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_true(gwfix_contains(r.body, "\"accepted\":1"));
    assert_true(gwfix_contains(r.body, "\"index\":1,\"code\":\"payload_too_large\""));
    http_resp_dispose(&r);

    /* Over max_event_bytes (two strings within max_string_bytes): its record would be as large. */
    body = big_body("huge-3", 1100000, 2, 0);
    gwfix_post(&F, "/v1/t", KEY, body, &r);
    free(body);
    assert_int_equal(r.status, 413);
    http_resp_dispose(&r);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_int_equal(gwfix_count_message(msgs, "huge-2-ok"), 1);
    assert_int_equal(gwfix_count_message(msgs, "huge-1") + gwfix_count_message(msgs, "huge-2"), 0);
    json_decref(msgs);
    /* Each refusal is recorded, without the event. */
    json_t *inv = gwfix_kafka_read(&F, "sluice.invalid");
    size_t i, records = 0;
    json_t *m;
    json_array_foreach(inv, i, m) {
        const char *raw = json_string_value(json_object_get(m, "raw"));
        if (raw != NULL && strstr(raw, "aaaaaaaaaaaaaaaa") == NULL && strstr(raw, "payload_too_large") != NULL)
            records++;
    }
    json_decref(inv);
    assert_int_equal(records, 3);
}

/* ------------------------------------------------------------------ reload */

static void reload_good_and_bad(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    http_resp_t r;
    post_event(NEW_KEY, "reload-0", &r);
    assert_int_equal(r.status, 401);
    http_resp_dispose(&r);

    /* A good new config adds a source. */
    gwfix_write("gateway.yaml", config_text("      - {id: mobile, write_key_env: T_NEW}\n"));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 1, 10000, &err), 0);
    assert_int_equal(post_event(NEW_KEY, "reload-1", &r), 200);
    http_resp_dispose(&r);
    assert_int_equal(post_event(KEY, "reload-2", &r), 200);
    http_resp_dispose(&r);
    assert_int_equal(gwfix_metric(&F, "sluice_config_last_reload_successful"), 1);

    /* A broken one is refused; the previous config keeps serving both keys. */
    gwfix_write("gateway.yaml", "version: 1\nserver:\n  https: {listen: nope\n");
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "reload refused", 1, 10000, &err), 0);
    assert_true(sluice_th_proc_running(F.gw));
    /* /metrics says the config served is not the file's for as long as that lasts (the failed
     * reloads' counter alone could not tell a refused reload from one put right since). */
    assert_int_equal(gwfix_metric(&F, "sluice_config_last_reload_successful"), 0);
    assert_int_equal(post_event(NEW_KEY, "reload-3", &r), 200);
    http_resp_dispose(&r);
    assert_int_equal(post_event(KEY, "reload-4", &r), 200);
    http_resp_dispose(&r);
    /* A config that needs ENCRYPTION_KEY, which this gateway started without (it reads the key
     * once): refused, where it used to be taken and serve without session cookies. */
    gwfix_write("gateway.yaml", config_text("    enrichment: {session: true}\n"));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "which was not set when the gateway started", 1, 10000, &err), 0);
    assert_int_equal(post_event(KEY, "reload-5", &r), 200);
    assert_null(strstr(r.headers, "_sluice_ses"));
    http_resp_dispose(&r);
    assert_int_equal(gwfix_metric(&F, "sluice_config_reloads_total{result=\"ok\"}"), 1);
    assert_int_equal(gwfix_metric(&F, "sluice_config_reloads_total{result=\"failed\"}"), 2);
    /* The operator rotates the write key: exports the new one in a shell and sends SIGHUP. The
     * gateway keeps the environment it started with, which the refusal now says: it only said
     * the variable was not set, which the operator had just done. */
    gwfix_write("gateway.yaml", config_text("      - {id: mobile, write_key_env: T_EXPORTED_SINCE}\n"));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "reload refused", 3, 10000, &err), 0);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "environment variable T_EXPORTED_SINCE is not set"));
    assert_true(gwfix_contains(log, "the gateway keeps the environment it was started with"));
    free(log);
    /* The good file back: the gauge says so. */
    gwfix_write("gateway.yaml", config_text(""));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 2, 10000, &err), 0);
    assert_int_equal(gwfix_metric(&F, "sluice_config_last_reload_successful"), 1);
    /* The errors named file and position. */
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "gateway.yaml:4:1: YAML syntax error"));
    free(log);
}

/* text with the first `from` replaced by `to` (static buffer). */
static const char *replaced(const char *text, const char *from, const char *to)
{
    static char out[16384];
    const char *at = strstr(text, from);
    assert_non_null(at);
    snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

/* Settings read once at start, changed in a reload: the log names each of them. It named the
 * first of listeners, TLS files, threads, Kafka connection and Redis only: a reload changing
 * kafka.properties (say linger.ms), HTTP/2, the connection cap, the request timeout or the body
 * cap said "config reloaded" and nothing else, and the operator believed them in force. */
static void reload_names_restart_only_settings(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);
    char yaml[16384];
    snprintf(yaml, sizeof(yaml), "%s", config_text(""));
    snprintf(yaml, sizeof(yaml), "%s",
             replaced(yaml, "ack_timeout_ms: 2000}", "ack_timeout_ms: 2000, properties: {linger.ms: 5}}"));
    snprintf(yaml, sizeof(yaml), "%s",
             replaced(yaml, "  threads: 2\n", "  threads: 2\n  max_connections: 5000\n  request_timeout_ms: 20000\n"));
    snprintf(yaml, sizeof(yaml), "%s",
             replaced(yaml, "limits: {max_body_bytes: 4194304,", "limits: {max_body_bytes: 8388608,"));
    snprintf(yaml, sizeof(yaml), "%s", replaced(yaml, "server.key}", "server.key, http2: true}"));
    gwfix_write("gateway.yaml", yaml);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    const char *warn = strstr(log, "take effect at the next restart");
    if (warn == NULL)
        fail_msg("no restart warning in the log");
    const char *line = warn;
    while (line > log && line[-1] != '\n')
        line--;
    static const char *const named[] = {"kafka.properties", "server.https.http2", "server.max_connections",
                                        "server.request_timeout_ms", "limits.max_wire_bytes"};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        const char *nl = strchr(line, '\n');
        const char *hit = strstr(line, named[i]);
        if (hit == NULL || (nl != NULL && hit > nl))
            fail_msg("%s not named in: %.*s", named[i], nl ? (int)(nl - line) : 300, line);
    }
    free(log);
    gwfix_write("gateway.yaml", config_text(""));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 2, 10000, &err), 0);
}

/* The thread id of the gateway's thread named `name` (server.c names its loop threads), or -1. */
static pid_t gateway_thread(const char *name)
{
    char dir[64], path[PATH_MAX], comm[32];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)sluice_th_proc_pid(F.gw));
    DIR *d = opendir(dir);
    pid_t found = -1;
    for (struct dirent *e; d != NULL && found < 0 && (e = readdir(d)) != NULL;) {
        snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, name, strlen(name)) == 0 &&
            (comm[strlen(name)] == '\n' || comm[strlen(name)] == '\0'))
            found = (pid_t)strtol(e->d_name, NULL, 10);
        fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

/* Stops that one thread (a loop thread kept off the CPU, as on a loaded machine; SIGSTOP would
 * stop the whole process): 0, or -1 where ptrace is not allowed. */
static int thread_freeze(pid_t tid)
{
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
        return -1;
    int status;
    if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0 || waitpid(tid, &status, __WALL) != tid) {
        ptrace(PTRACE_DETACH, tid, NULL, NULL);
        return -1;
    }
    return 0;
}

static void thread_thaw(pid_t tid)
{
    assert_int_equal(ptrace(PTRACE_DETACH, tid, NULL, NULL), 0);
}

/* Copies file src over dst the way certbot or cert-manager leave it: a complete new file under
 * the same name. */
static void replace_file(const char *src, const char *dst)
{
    sluice_err_t err = {{0}};
    size_t len = 0;
    char *data = sluice_th_read_file(src, &len, &err);
    assert_non_null(data);
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.new", dst);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(data);
    assert_int_equal(rename(tmp, dst), 0);
}

/* The certificate renewed under the same paths, then SIGHUP (certbot's or cert-manager's reload
 * hook): new connections get the new certificate. The TLS context was made once at start, so the
 * gateway served the old certificate until it expired, and the log said "config reloaded" only
 * (the paths had not changed). */
static void reload_takes_renewed_certificate(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char renewed[PATH_MAX], script[PATH_MAX], file[PATH_MAX + 32], cur[PATH_MAX + 32], keep[PATH_MAX + 32];
    assert_int_equal(sluice_th_path(renewed, sizeof(renewed), "renewed", &err), 0);
    snprintf(script, sizeof(script), "%s/scripts/certs.sh", getenv("SLUICE_SOURCE_DIR"));
    const char *argv[] = {script, renewed, NULL};
    sluice_th_output_t out = {0};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 60000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);

    static const char *const names[] = {"server.crt", "server.key"};
    for (int i = 0; i < 2; i++) { /* the originals kept aside, the renewed ones in their place */
        snprintf(cur, sizeof(cur), "%s/%s", F.certs, names[i]);
        snprintf(keep, sizeof(keep), "%s/%s.orig", F.certs, names[i]);
        replace_file(cur, keep);
        snprintf(file, sizeof(file), "%s/%s", renewed, names[i]);
        replace_file(file, cur);
    }
    /* One loop thread kept off the CPU meanwhile (a loaded machine): "config reloaded", what a
     * renewal hook waits for before checking the certificate, waits for it. It was said as soon
     * as the new context was sent, and that thread's next connections got the old certificate. */
    pid_t loop = gateway_thread("sluice-loop-1");
    assert_true(loop > 0);
    int frozen = thread_freeze(loop) == 0;
    if (!frozen)
        fprintf(stderr, "ptrace not allowed here (%s): the reload is checked without a stopped loop thread\n",
                strerror(errno));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    if (frozen) {
        int said = sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 1500, &err) == 0;
        thread_thaw(loop);
        if (said)
            fail_msg("\"config reloaded\" while a loop thread still had the old certificate");
    }
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    /* A client that trusts only the renewed certificate's CA, from the line on: every connection,
     * whichever loop thread takes it. */
    snprintf(file, sizeof(file), "%s/ca.crt", renewed);
    for (int i = 0; i < 8; i++) {
        http_opts_t o = {0};
        http_resp_t r;
        http_do(gwfix_url(&F, "/healthz"), &o, file, &r);
        if (r.status != 200)
            fail_msg("connection %d after the reload: status %ld, curl error %d (the old certificate?)", i, r.status,
                     r.curl_error);
        http_resp_dispose(&r);
    }
    /* A certificate file left empty (a renewal gone wrong) is refused like any bad file: the
     * renewed certificate keeps being served. */
    char *text = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int refused = sluice_th_count(text, "reload refused");
    free(text);
    snprintf(cur, sizeof(cur), "%s/server.crt", F.certs);
    FILE *empty = fopen(cur, "w");
    assert_non_null(empty);
    fclose(empty);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "reload refused", refused + 1, 10000, &err), 0);
    text = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(text, "still serving the previous config: TLS certificate"));
    free(text);
    http_opts_t o = {0};
    http_resp_t hr;
    http_do(gwfix_url(&F, "/healthz"), &o, file, &hr);
    assert_int_equal(hr.status, 200);
    http_resp_dispose(&hr);
    /* The originals back, for the tests after this one. */
    for (int i = 0; i < 2; i++) {
        snprintf(cur, sizeof(cur), "%s/%s", F.certs, names[i]);
        snprintf(keep, sizeof(keep), "%s/%s.orig", F.certs, names[i]);
        replace_file(keep, cur);
    }
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 2, 10000, &err), 0);
    http_resp_t r;
    assert_int_equal(post_event(KEY, "after-renewal", &r), 200);
    http_resp_dispose(&r);
}

/* A connection whose TLS handshake had not begun when a reload came (accepted, its ClientHello
 * still on the way: a slow mobile client, a load balancer's pre-opened connection). h2o 2.2.5
 * keeps the accepting context's pointer and makes the connection's SSL only when the first bytes
 * arrive; the reload after next freed that context (nothing held it), and the handshake then read
 * freed memory: a crash on the next HTTPS request after a reload under traffic (found in about
 * one in twenty runs of gateway_plugins; under AddressSanitizer, every time here). */
#define WAITING 8
static void reload_keeps_context_of_waiting_handshake(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);
    /* A context made by a reload (the one made at start lives as long as the gateway). */
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    usleep(300 * 1000); /* every loop thread takes it at its next turn */
    int fds[WAITING];
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)F.https_port), .sin_addr.s_addr = htonl(0x7f000001)};
    for (int i = 0; i < WAITING; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
    }
    usleep(300 * 1000); /* accepted by the loop threads, no byte sent yet */
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 2, 10000, &err), 0);
    usleep(300 * 1000); /* the first reload's runtime and context released by every thread */
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    char ca[PATH_MAX + 16];
    snprintf(ca, sizeof(ca), "%s/ca.crt", F.certs);
    assert_int_equal(SSL_CTX_load_verify_locations(cctx, ca, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    for (int i = 0; i < WAITING; i++) {
        SSL *ssl = SSL_new(cctx);
        assert_non_null(ssl);
        SSL_set_fd(ssl, fds[i]);
        SSL_set_tlsext_host_name(ssl, "localhost");
        int rc = SSL_connect(ssl);
        if (rc != 1)
            fail_msg("connection %d, accepted before the reload: handshake failed (%d); gateway alive: %d", i,
                     SSL_get_error(ssl, rc), sluice_th_proc_running(F.gw));
        static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        assert_int_equal(SSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
        char buf[64] = {0};
        assert_true(SSL_read(ssl, buf, (int)sizeof(buf) - 1) > 12);
        assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
        SSL_free(ssl);
        close(fds[i]);
    }
    SSL_CTX_free(cctx);
    http_resp_t r;
    assert_int_equal(post_event(KEY, "after-waiting-handshakes", &r), 200);
    http_resp_dispose(&r);
}

/* A renewal that left the key with a passphrase (an `openssl genpkey -aes256`, a key exported
 * from a keystore), then SIGHUP. OpenSSL's default asked for the passphrase on stdin: the main
 * thread waited there for good, and the gateway answered no SIGHUP or SIGTERM after it (an
 * orchestrator's stop had to kill it, dropping what was in flight). The gateway runs here with a
 * stdin that stays open and silent (a pipe from a supervisor, a container started with -i). */
static void reload_refuses_key_with_passphrase(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char fifo[PATH_MAX], cur[PATH_MAX + 32], keep[PATH_MAX + 32], enc[PATH_MAX + 32];
    assert_int_equal(sluice_th_path(fifo, sizeof(fifo), "stdin.fifo", &err), 0);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int hold = open(fifo, O_RDWR); /* a writer that never writes */
    assert_true(hold >= 0);
    gwfix_stop(&F, SIGTERM);
    char redirect[PATH_MAX + 32];
    snprintf(redirect, sizeof(redirect), "exec \"$@\" < %s", fifo);
    const char *prefix[] = {"/bin/sh", "-c", redirect, "sh", NULL};
    gwfix_start_with(&F, prefix);

    snprintf(cur, sizeof(cur), "%s/server.key", F.certs);
    snprintf(keep, sizeof(keep), "%s/server.key.plain", F.certs);
    snprintf(enc, sizeof(enc), "%s/server.key.enc", F.certs);
    replace_file(cur, keep);
    const char *argv[] = {"openssl", "pkey", "-in", keep, "-aes256", "-passout", "pass:renewal-pw", "-out", enc, NULL};
    sluice_th_output_t out = {0};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 30000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
    replace_file(enc, cur);

    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int refused = sluice_th_count(log, "reload refused"), reloads = sluice_th_count(log, "config reloaded");
    free(log);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    if (sluice_th_wait_log(F.gw, "reload refused", refused + 1, 10000, &err) != 0)
        fail_msg("no answer to SIGHUP with a key that has a passphrase (waiting for one on stdin?)");
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "is not a PEM private key without a passphrase"));
    assert_false(gwfix_contains(log, "pass phrase"));
    free(log);
    /* Still serving the previous certificate, and still answering signals. */
    http_resp_t r;
    assert_int_equal(post_event(KEY, "after-passphrase", &r), 200);
    http_resp_dispose(&r);
    replace_file(keep, cur);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    assert_true(WIFEXITED(gwfix_stop(&F, SIGTERM)));
    close(hold);
    unlink(fifo);
    gwfix_start(&F);
}

/* ------------------------------------------------------------------ TLS sessions and dates */

/* A returning visitor resumes its TLS session after a reload (certbot's hook sends one at every
 * renewal, an operator at every config change). OpenSSL's ticket keys and session cache belong
 * to a context, and each reload made a new one: every client's next connection after a SIGHUP
 * was a full handshake, the whole audience's at once. Each version, on every loop thread. */
static void reload_keeps_tls_sessions(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (int v = 0; v < 2; v++) {
        SSL_CTX *cctx = gwfix_tls_client(&F, versions[v]);
        int reused;
        SSL_SESSION *sess = gwfix_tls_request(&F, cctx, NULL, &reused);
        assert_non_null(sess);
        assert_false(reused);
        char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
        int reloads = sluice_th_count(log, "config reloaded");
        free(log);
        assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
        assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
        usleep(300 * 1000); /* every loop thread takes the new context at its next turn */
        for (int i = 0; i < 4; i++) {
            SSL_SESSION *next = gwfix_tls_request(&F, cctx, sess, &reused);
            if (!reused)
                fail_msg("%s, connection %d after a reload: a full handshake, the session from before it was "
                         "not resumed",
                         v == 0 ? "TLS 1.2" : "TLS 1.3", i);
            SSL_SESSION_free(next);
        }
        SSL_SESSION_free(sess);
        SSL_CTX_free(cctx);
    }
}

/* certs/server.crt reissued for server.key by the test CA, valid for days (0: expired at once),
 * written to dst. */
static void reissue(const char *dst, const char *days)
{
    sluice_err_t err = {{0}};
    char key[PATH_MAX + 16], ca[PATH_MAX + 16], cakey[PATH_MAX + 16], csr[PATH_MAX + 16];
    snprintf(key, sizeof(key), "%s/server.key", F.certs);
    snprintf(ca, sizeof(ca), "%s/ca.crt", F.certs);
    snprintf(cakey, sizeof(cakey), "%s/ca.key", F.certs);
    snprintf(csr, sizeof(csr), "%s/reissue.csr", F.certs);
    const char *ext = gwfix_write("reissue.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    const char *req[] = {"openssl", "req", "-new", "-key", key, "-subj", "/CN=localhost", "-out", csr, NULL};
    const char *sign[] = {"openssl", "x509",  "-req", "-in",      csr, "-CA",  ca,  "-CAkey",
                          cakey,     "-days", days,   "-extfile", ext, "-out", dst, NULL};
    const char *const *steps[] = {req, sign};
    for (int i = 0; i < 2; i++) {
        sluice_th_output_t out = {0};
        assert_int_equal(sluice_th_run(steps[i], NULL, 0, 30000, &out, &err), 0);
        assert_true(sluice_th_exited_with(out.wstatus, 0));
        sluice_th_output_dispose(&out);
    }
}

#define EXPIRY "sluice_tls_certificate_expiry_timestamp_seconds"

/* A renewal that left an expired certificate (a failed certbot run, an old backup restored), then
 * SIGHUP: the gateway took it and every browser refused the gateway, with "config reloaded" in
 * the log. It is refused now, the certificate in use kept. One about to expire is taken with a
 * warning, and /metrics has the served certificate's end for alerting; nothing said either. A
 * gateway started with an expired certificate says so. */
static void reload_refuses_expired_certificate(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char cur[PATH_MAX + 32], keep[PATH_MAX + 32], expired[PATH_MAX + 32], soon[PATH_MAX + 32], ca[PATH_MAX + 16];
    snprintf(cur, sizeof(cur), "%s/server.crt", F.certs);
    snprintf(keep, sizeof(keep), "%s/server.crt.orig", F.certs);
    snprintf(expired, sizeof(expired), "%s/expired.crt", F.certs);
    snprintf(soon, sizeof(soon), "%s/soon.crt", F.certs);
    snprintf(ca, sizeof(ca), "%s/ca.crt", F.certs);
    reissue(expired, "0");
    reissue(soon, "3");
    replace_file(cur, keep);
    double now = (double)time(NULL);
    double valid = gwfix_metric(&F, EXPIRY); /* certs.sh: a year */
    if (!(valid > now + 300.0 * 86400 && valid < now + 366.0 * 86400))
        fail_msg("%s is %.0f, %.1f days from now", EXPIRY, valid, (valid - now) / 86400);

    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int refused = sluice_th_count(log, "reload refused"), reloads = sluice_th_count(log, "config reloaded");
    free(log);
    sleep(1); /* "-days 0" ends the second it was made */
    replace_file(expired, cur);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    if (sluice_th_wait_log(F.gw, "reload refused", refused + 1, 10000, &err) != 0)
        fail_msg("an expired certificate was not refused at reload");
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "still serving the previous config: TLS certificate"));
    assert_true(gwfix_contains(log, "expired on"));
    free(log);
    http_opts_t o = {0};
    http_resp_t r;
    http_do(gwfix_url(&F, "/healthz"), &o, ca, &r); /* curl checks the dates: the valid one is served */
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    assert_true(gwfix_metric(&F, EXPIRY) == valid);

    replace_file(soon, cur);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    if (!gwfix_contains(log, "tls.cert_expiring") || !gwfix_contains(log, "in 2 days 23 hours"))
        fail_msg("no warning for a certificate that expires in 3 days");
    free(log);
    double end = gwfix_metric(&F, EXPIRY);
    if (!(end > now + 3 * 86400 - 120 && end < now + 3 * 86400 + 120))
        fail_msg("%s is %.0f, %.1f days from now, for a certificate of 3 days", EXPIRY, end, (end - now) / 86400);

    /* Started with the expired one: it serves (nothing else would) and says why clients fail. */
    gwfix_stop(&F, SIGTERM);
    replace_file(expired, cur);
    gwfix_start(&F);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "tls.cert_expired"));
    free(log);

    gwfix_stop(&F, SIGTERM);
    replace_file(keep, cur);
    gwfix_start(&F);
    assert_true(gwfix_metric(&F, EXPIRY) == valid);
}

static void run_ok(const char *const *argv)
{
    sluice_err_t err = {{0}};
    sluice_th_output_t out = {0};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 30000, &out, &err), 0);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("%s %s failed: %s", argv[0], argv[1], out.errout ? out.errout : "");
    sluice_th_output_dispose(&out);
}

/* A public CA's certificate comes from an intermediate: certbot writes it alone to cert.pem and
 * with the intermediate to fullchain.pem. An operator (or a deploy hook) that gave cert.pem, then
 * SIGHUP: the gateway took it and served the certificate alone, which Firefox, Android apps, curl
 * and the SDKs cannot verify ("unable to verify the first certificate"), while the browser the
 * operator checked with fetched the intermediate itself. The reload is refused now (the full
 * chain in use kept), and the full chain is taken and served whole. */
static void reload_refuses_chain_without_intermediate(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char cur[PATH_MAX + 32], keep[PATH_MAX + 32], ca[PATH_MAX + 16], cakey[PATH_MAX + 16], key[PATH_MAX + 16];
    char ikey[PATH_MAX + 16], icsr[PATH_MAX + 16], icrt[PATH_MAX + 16], csr[PATH_MAX + 16], leaf[PATH_MAX + 16];
    char full[PATH_MAX + 16];
    snprintf(cur, sizeof(cur), "%s/server.crt", F.certs);
    snprintf(keep, sizeof(keep), "%s/server.crt.orig", F.certs);
    snprintf(ca, sizeof(ca), "%s/ca.crt", F.certs);
    snprintf(cakey, sizeof(cakey), "%s/ca.key", F.certs);
    snprintf(key, sizeof(key), "%s/server.key", F.certs);
    snprintf(ikey, sizeof(ikey), "%s/int.key", F.certs);
    snprintf(icsr, sizeof(icsr), "%s/int.csr", F.certs);
    snprintf(icrt, sizeof(icrt), "%s/int.crt", F.certs);
    snprintf(csr, sizeof(csr), "%s/leaf.csr", F.certs);
    snprintf(leaf, sizeof(leaf), "%s/leaf.crt", F.certs);
    snprintf(full, sizeof(full), "%s/fullchain.crt", F.certs);
    char iext[PATH_MAX], lext[PATH_MAX]; /* gwfix_write's answer is overwritten by its next call */
    snprintf(iext, sizeof(iext), "%s",
             gwfix_write("int.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"));
    snprintf(lext, sizeof(lext), "%s",
             gwfix_write("leaf.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                     "authorityInfoAccess=caIssuers;URI:http://127.0.0.1:1/int.crt\n"));
    const char *genkey[] = {"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-out",    ikey,      NULL};
    const char *ireq[] = {"openssl", "req", "-new", "-key", ikey, "-subj", "/CN=sluice test intermediate",
                          "-out",    icsr,  NULL};
    const char *isign[] = {"openssl", "x509",  "-req", "-in",      icsr, "-CA",  ca,   "-CAkey",
                           cakey,     "-days", "30",   "-extfile", iext, "-out", icrt, NULL};
    const char *lreq[] = {"openssl", "req", "-new", "-key", key, "-subj", "/CN=localhost", "-out", csr, NULL};
    const char *lsign[] = {"openssl", "x509",  "-req", "-in",      csr,  "-CA",  icrt, "-CAkey",
                           ikey,      "-days", "30",   "-extfile", lext, "-out", leaf, NULL};
    const char *const *steps[] = {genkey, ireq, isign, lreq, lsign};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        run_ok(steps[i]);
    size_t llen = 0, ilen = 0;
    char *ltext = sluice_th_read_file(leaf, &llen, &err), *itext = sluice_th_read_file(icrt, &ilen, &err);
    assert_non_null(ltext);
    assert_non_null(itext);
    FILE *f = fopen(full, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(ltext, 1, llen, f), llen);
    assert_int_equal(fwrite(itext, 1, ilen, f), ilen);
    assert_int_equal(fclose(f), 0);
    free(ltext);
    free(itext);
    replace_file(cur, keep);

    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int refused = sluice_th_count(log, "reload refused"), reloads = sluice_th_count(log, "config reloaded");
    free(log);
    replace_file(leaf, cur); /* cert.pem */
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    if (sluice_th_wait_log(F.gw, "reload refused", refused + 1, 10000, &err) != 0)
        fail_msg("a certificate without its intermediate was taken at reload");
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "fullchain.pem"));
    free(log);
    http_opts_t o = {0};
    http_resp_t r;
    http_do(gwfix_url(&F, "/healthz"), &o, ca, &r); /* a client that trusts the root only */
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);

    replace_file(full, cur); /* fullchain.pem */
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    usleep(300 * 1000);
    for (int i = 0; i < 4; i++) { /* every loop thread serves the chain whole */
        http_do(gwfix_url(&F, "/healthz"), &o, ca, &r);
        if (r.status != 200)
            fail_msg("connection %d with the full chain: status %ld, curl error %d", i, r.status, r.curl_error);
        http_resp_dispose(&r);
    }
    replace_file(keep, cur);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 2, 10000, &err), 0);
}

/* A certificate issued straight from a private root that names its root's URL (authorityInfoAccess
 * caIssuers: Active Directory Certificate Services and Vault's PKI with issuing_certificates set do
 * that), given alone as its clients trust the root: a valid deployment, which the chain check
 * takes for certbot's cert.pem (tls.chain_incomplete at start, served). Every reload then refused
 * for it, the certificate's renewal and any config change with it (a new privacy rule stayed
 * unapplied), though the reload serves nothing worse than the certificate in use. A certificate
 * served since start as expired did the same to every reload until it was replaced. */
static void reload_goes_on_with_certificate_served_since_start(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char cur[PATH_MAX + 32], keep[PATH_MAX + 32], ca[PATH_MAX + 16], cakey[PATH_MAX + 16], key[PATH_MAX + 16];
    char csr[PATH_MAX + 16], direct[PATH_MAX + 16], renewed[PATH_MAX + 32], expired[PATH_MAX + 32];
    snprintf(cur, sizeof(cur), "%s/server.crt", F.certs);
    snprintf(keep, sizeof(keep), "%s/server.crt.orig", F.certs);
    snprintf(ca, sizeof(ca), "%s/ca.crt", F.certs);
    snprintf(cakey, sizeof(cakey), "%s/ca.key", F.certs);
    snprintf(key, sizeof(key), "%s/server.key", F.certs);
    snprintf(csr, sizeof(csr), "%s/direct.csr", F.certs);
    snprintf(direct, sizeof(direct), "%s/direct.crt", F.certs);
    snprintf(renewed, sizeof(renewed), "%s/direct-renewed.crt", F.certs);
    snprintf(expired, sizeof(expired), "%s/expired.crt", F.certs);
    char ext[PATH_MAX];
    snprintf(ext, sizeof(ext), "%s",
             gwfix_write("direct.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                       "authorityInfoAccess=caIssuers;URI:http://pki.example.internal/root.crt\n"));
    const char *req[] = {"openssl", "req", "-new", "-key", key, "-subj", "/CN=localhost", "-out", csr, NULL};
    const char *sign1[] = {"openssl", "x509",  "-req", "-in",      csr, "-CA",  ca,     "-CAkey",
                           cakey,     "-days", "30",   "-extfile", ext, "-out", direct, NULL};
    const char *sign2[] = {"openssl", "x509",  "-req", "-in",      csr, "-CA",  ca,      "-CAkey",
                           cakey,     "-days", "90",   "-extfile", ext, "-out", renewed, NULL};
    const char *const *steps[] = {req, sign1, sign2};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        run_ok(steps[i]);
    reissue(expired, "0");
    replace_file(cur, keep);

    gwfix_stop(&F, SIGTERM);
    replace_file(direct, cur);
    gwfix_start(&F);
    http_opts_t o = {0};
    http_resp_t r;
    http_do(gwfix_url(&F, "/healthz"), &o, ca, &r); /* a client that trusts the root verifies it */
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    double before = gwfix_metric(&F, EXPIRY);

    /* Its renewal, the same shape for 90 days: taken. */
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    int refused = sluice_th_count(log, "reload refused"), reloads = sluice_th_count(log, "config reloaded");
    free(log);
    replace_file(renewed, cur);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    if (sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err) != 0)
        fail_msg("the renewal of the certificate served since start was refused");
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_int_equal(sluice_th_count(log, "reload refused"), refused);
    free(log);
    double after = gwfix_metric(&F, EXPIRY);
    if (!(after > before + 50.0 * 86400))
        fail_msg("%s is %.0f after the renewal, %.0f before: the renewed certificate is not served", EXPIRY, after,
                 before);
    http_do(gwfix_url(&F, "/healthz"), &o, ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);

    /* Started with an expired certificate: a config change still applies (the certificate is no
     * worse for it, and said again in the log). */
    gwfix_stop(&F, SIGTERM);
    sleep(1); /* "-days 0" ends the second it was made */
    replace_file(expired, cur);
    gwfix_start(&F);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    refused = sluice_th_count(log, "reload refused");
    reloads = sluice_th_count(log, "config reloaded");
    int said = sluice_th_count(log, "tls.cert_expired");
    free(log);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    if (sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err) != 0)
        fail_msg("a reload of a gateway started with an expired certificate was refused");
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_int_equal(sluice_th_count(log, "reload refused"), refused);
    assert_true(sluice_th_count(log, "tls.cert_expired") > said);
    free(log);

    gwfix_stop(&F, SIGTERM);
    replace_file(keep, cur);
    gwfix_start(&F);
}

/* ------------------------------------------------------------------ drain */

#define LOAD_THREADS    4
#define LOAD_PER_THREAD 400

typedef struct load {
    int thread;
    char ok[LOAD_PER_THREAD];
    int sent;
} load_t;

static atomic_int load_acked; /* 200s the load threads got so far */

static void *load_main(void *arg)
{
    load_t *l = arg;
    for (int i = 0; i < LOAD_PER_THREAD; i++) {
        char mid[64];
        snprintf(mid, sizeof(mid), "drain-%d-%d", l->thread, i);
        http_resp_t r;
        long s = post_event(KEY, mid, &r);
        http_resp_dispose(&r);
        l->ok[i] = s == 200;
        if (s == 200)
            atomic_fetch_add(&load_acked, 1);
        l->sent++;
        if (s == 0)
            break; /* connection refused: the gateway is gone */
    }
    return NULL;
}

static void sigterm_drains_without_loss(void **state)
{
    (void)state;
    load_t loads[LOAD_THREADS];
    pthread_t th[LOAD_THREADS];
    memset(loads, 0, sizeof(loads));
    for (int t = 0; t < LOAD_THREADS; t++) {
        loads[t].thread = t;
        pthread_create(&th[t], NULL, load_main, &loads[t]);
    }
    /* Stopped mid-stream: after 400 ms and once some events were answered 200 (the ASan build on
     * a loaded machine may not have any after 400 ms; acked > 0 below needs one). */
    for (int waited = 0; waited < 400 || (atomic_load(&load_acked) == 0 && waited < 30000); waited += 50) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    int status = gwfix_stop(&F, SIGTERM);
    for (int t = 0; t < LOAD_THREADS; t++)
        pthread_join(th[t], NULL);
    assert_true(sluice_th_exited_with(status, 0));

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    int acked = 0, missing = 0;
    for (int t = 0; t < LOAD_THREADS; t++)
        for (int i = 0; i < LOAD_PER_THREAD; i++) {
            if (!loads[t].ok[i])
                continue;
            acked++;
            char mid[64];
            snprintf(mid, sizeof(mid), "drain-%d-%d", t, i);
            if (gwfix_count_message(msgs, mid) == 0) {
                print_error("%s answered 200 but is not in Kafka\n", mid);
                missing++;
            }
        }
    json_decref(msgs);
    print_message("drain: %d events answered 200 before/while stopping, %d missing\n", acked, missing);
    assert_true(acked > 0);
    assert_int_equal(missing, 0);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "gateway.stopped"));
    free(log);

    /* And it comes back on the same config. */
    gwfix_start(&F);
    http_resp_t r;
    assert_int_equal(post_event(KEY, "after-restart", &r), 200);
    http_resp_dispose(&r);
}

/* ------------------------------------------------------------------ metrics listener off */

/* `server.metrics.listen: ""` turns the metrics off; /metrics does not move to the public
 * listeners (org names, traffic, the PII guard's findings per field and how many people asked
 * to be forgotten are nobody's on the internet). /healthz and /readyz stay, for load balancers. */
static void metrics_off_is_not_public(void **state)
{
    (void)state;
    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    /* The public plain listener where the metrics listener was (gwfix waits on its /readyz). */
    static char plain[64];
    snprintf(plain, sizeof(plain), "SLUICE_HTTP_LISTEN=127.0.0.1:%d", F.metrics_port);
    const char *env[] = {"T_KEY=" KEY, "T_NEW=" NEW_KEY, "SLUICE_METRICS_LISTEN=", plain, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    http_resp_t r;
    assert_int_equal(post_event(KEY, "metrics-off-1", &r), 200);
    http_resp_dispose(&r);
    http_opts_t o = {0};
    const char *urls[] = {gwfix_metrics_url(&F, "/metrics"), NULL};
    char https_metrics[128];
    snprintf(https_metrics, sizeof(https_metrics), "%s", gwfix_url(&F, "/metrics"));
    urls[1] = https_metrics;
    for (int i = 0; i < 2; i++) {
        char url[128];
        snprintf(url, sizeof(url), "%s", urls[i]);
        http_do(url, &o, F.ca, &r);
        assert_int_equal(r.status, 404);
        assert_false(gwfix_contains(r.body, "sluice_events_accepted_total"));
        http_resp_dispose(&r);
    }
    http_do(gwfix_url(&F, "/healthz"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    http_do(gwfix_metrics_url(&F, "/readyz"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
}

/* server.threads: 0 runs one event loop per CPU the gateway may use: pinned to one CPU (taskset,
 * a cpuset, Kubernetes' static CPU manager) it is one loop, not one per CPU of the machine, each
 * loop with its own Kafka producer and descriptor reserve taking turns on that CPU. */
static void threads_zero_follows_cpu_affinity(void **state)
{
    (void)state;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        skip(); /* one CPU: one loop either way, nothing to tell apart */
    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    snprintf(F.config, sizeof(F.config), "%s",
             gwfix_write("gateway.yaml", replaced(config_text(""), "  threads: 2\n", "  threads: 0\n")));
    const char *env[] = {"T_KEY=" KEY, "T_NEW=" NEW_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    static const char *const pin[] = {"taskset", "-c", "0", NULL};
    gwfix_start_with(&F, pin);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw, "\"msg\":\"1 threads;", 1, 10000, &err), 0);
    http_resp_t r;
    assert_int_equal(post_event(KEY, "pinned-1", &r), 200);
    http_resp_dispose(&r);
}

/* A CPU quota (docker --cpus, Kubernetes' limits.cpu) is not an affinity: threads 0 ran one loop
 * per CPU of the machine inside a 1-CPU container, loops that take turns and get throttled. Run
 * the gateway in a cgroup v1 CPU hierarchy with a quota of one CPU (this machine's; skipped where
 * no such hierarchy can be written). */
static void threads_zero_follows_cpu_quota(void **state)
{
    (void)state;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        skip(); /* one CPU: one loop either way, nothing to tell apart */
    const char *mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
    char *dir = quota_dir, file[300];
    for (size_t i = 0; i < 2 && dir[0] == '\0'; i++) {
        snprintf(dir, sizeof(quota_dir), "%s/sluice-test-%d", mounts[i], (int)getpid());
        if (mkdir(dir, 0755) != 0)
            dir[0] = '\0';
    }
    if (dir[0] == '\0')
        skip();
    snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "100000\n");
    fclose(f);
    snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
    f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "90000\n"); /* 0.9 CPU: rounded up to one loop */
    fclose(f);
    if (sluice_th_proc_running(F.gw))
        assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    snprintf(F.config, sizeof(F.config), "%s",
             gwfix_write("gateway.yaml", replaced(config_text(""), "  threads: 2\n", "  threads: 0\n")));
    const char *env[] = {"T_KEY=" KEY, "T_NEW=" NEW_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    char script[400];
    snprintf(script, sizeof(script), "echo $$ > %s/cgroup.procs && exec \"$@\"", dir);
    const char *const into[] = {"sh", "-c", script, "sh", NULL};
    gwfix_start_with(&F, into);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw, "\"msg\":\"1 threads;", 1, 10000, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "1 event loops, the cgroup's CPU quota", 1, 10000, &err), 0);
    http_resp_t r;
    assert_int_equal(post_event(KEY, "quota-1", &r), 200);
    http_resp_dispose(&r);
    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    assert_int_equal(rmdir(dir), 0);
    dir[0] = '\0';
}

/* A gateway started with plain HTTP only, reloaded with HTTPS added: the listener waits for a
 * restart (the log says so), but the certificate and key are checked by the reload as they are
 * for a gateway serving HTTPS. A reload naming a missing certificate said "config reloaded", and
 * the restart meant to turn HTTPS on then did not start the gateway at all. */
static void reload_checks_https_added_to_plain_gateway(void **state)
{
    (void)state;
    if (sluice_th_proc_running(F.gw))
        assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    char port[64], plain[16384];
    snprintf(port, sizeof(port), "\"127.0.0.1:%d\"", F.https_port);
    char https_line[9000];
    snprintf(https_line, sizeof(https_line), "  https: {listen: %s, cert: %s/server.crt, key: %s/server.key}\n", port,
             F.certs, F.certs);
    char http_line[128];
    snprintf(http_line, sizeof(http_line), "  http: {listen: %s}\n", port);
    snprintf(plain, sizeof(plain), "%s", replaced(config_text(""), https_line, http_line));
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", plain));
    const char *env[] = {"T_KEY=" KEY, "T_NEW=" NEW_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    sluice_err_t err = {{0}};
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL); /* earlier gateways' too */
    int refused = sluice_th_count(log, "reload refused"), reloads = sluice_th_count(log, "config reloaded");
    free(log);

    /* HTTPS added, its certificate at a path that does not exist. */
    char missing[9000], bad[16384];
    snprintf(missing, sizeof(missing),
             "%s  https: {listen: \"127.0.0.1:0\", cert: %s/nowhere.crt, key: %s/server.key}\n", http_line, F.certs,
             F.certs);
    snprintf(bad, sizeof(bad), "%s", replaced(plain, http_line, missing));
    gwfix_write("gateway.yaml", bad);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "reload refused", refused + 1, 10000, &err), 0);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_non_null(strstr(log, "nowhere.crt: system library: No such file"));
    assert_int_equal(sluice_th_count(log, "config reloaded"), reloads);
    free(log);

    /* The pair that exists: reloaded, the listener named as waiting for a restart. */
    char good[9000], fixed[16384];
    snprintf(good, sizeof(good), "%s  https: {listen: \"127.0.0.1:0\", cert: %s/server.crt, key: %s/server.key}\n",
             http_line, F.certs, F.certs);
    snprintf(fixed, sizeof(fixed), "%s", replaced(plain, http_line, good));
    gwfix_write("gateway.yaml", fixed);
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", reloads + 1, 10000, &err), 0);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_non_null(strstr(log, "read only at start: listeners"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kafka_down_then_up),
        cmocka_unit_test(kafka_fatal_producer_error_recovers),
        cmocka_unit_test(larger_than_kafka_takes_is_refused_not_retried),
        cmocka_unit_test(reload_good_and_bad),
        cmocka_unit_test(reload_names_restart_only_settings),
        cmocka_unit_test_teardown(reload_takes_renewed_certificate, restore_certs),
        cmocka_unit_test_teardown(reload_keeps_context_of_waiting_handshake, restore_certs),
        cmocka_unit_test_teardown(reload_refuses_key_with_passphrase, restore_certs),
        cmocka_unit_test_teardown(reload_keeps_tls_sessions, restore_certs),
        cmocka_unit_test_teardown(reload_refuses_expired_certificate, restore_certs),
        cmocka_unit_test_teardown(reload_refuses_chain_without_intermediate, restore_certs),
        cmocka_unit_test_teardown(reload_goes_on_with_certificate_served_since_start, restore_certs),
        cmocka_unit_test(sigterm_drains_without_loss),
        cmocka_unit_test(metrics_off_is_not_public),
        cmocka_unit_test(threads_zero_follows_cpu_affinity),
        cmocka_unit_test(threads_zero_follows_cpu_quota),
        cmocka_unit_test(reload_checks_https_added_to_plain_gateway),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The gateway's log under pressure, with real processes: its stderr is a FIFO the test stops
 * reading (a stuck log shipper, container log back-pressure), and a hostile client sends batches
 * whose every event makes the gateway log a line (a value a masking plugin fails on: mask.failed).
 * Requests are still answered; the flood is cut to the event's first lines, counted in
 * sluice_log_suppressed_total and summed up in one line; the lines carry no value; and what was
 * queued reaches the reader when it comes back, up to the gateway's last line at exit. The cut
 * is per org: another org's client with the same failures still gets its lines written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/log.h"
#include "tests/integration/gwfix.h"

static gwfix_t F;
static int log_fd = -1; /* the FIFO's read end: the gateway's stderr */

#define WEB_KEY "wk_live_logs_5d1a"
#define B_KEY   "wk_live_logs_globex_77c2"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the FIFO holds now and within quiet_ms of its last byte, appended to *buf. */
static void read_log(char **buf, size_t *len, int quiet_ms)
{
    double last = now_s();
    while ((now_s() - last) * 1000 < quiet_ms) {
        char chunk[65536];
        ssize_t r = read(log_fd, chunk, sizeof(chunk));
        if (r > 0) {
            *buf = realloc(*buf, *len + (size_t)r + 1);
            assert_non_null(*buf);
            memcpy(*buf + *len, chunk, (size_t)r);
            *len += (size_t)r;
            (*buf)[*len] = '\0';
            last = now_s();
        } else {
            usleep(20000);
        }
    }
}

static size_t count(const char *text, const char *needle)
{
    size_t c = 0;
    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        c++;
    return c;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char fixtures[PATH_MAX], yaml[16384], fifo[PATH_MAX];
    snprintf(fixtures, sizeof(fixtures), "%s/tests/fixtures/plugins", sluice_th_build_dir());
    gwfix_stack(&F);
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 4000}\n"
             "redis: {url: \"%s\", timeout_ms: 200}\n"
             "plugins: {dir: %s}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_WEB_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      mask:\n"
             "        - {path: properties.card, plugin: fixture, params: {prefix: 'masked:', fail_on: poison-4111}}\n"
             "  - id: globex\n"
             "    sources: [{id: web, write_key_env: T_B_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      mask:\n"
             "        - {path: properties.card, plugin: fixture, params: {prefix: 'masked:', fail_on: poison-4111}}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, fixtures);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"T_WEB_KEY=" WEB_KEY, "T_B_KEY=" B_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    /* The gateway's stderr: a FIFO of one page, read only when the test says so. */
    assert_int_equal(sluice_th_path(fifo, sizeof(fifo), "gateway.stderr", NULL), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    log_fd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(log_fd >= 0);
    fcntl(log_fd, F_SETPIPE_SZ, 4096);
    static char script[PATH_MAX + 32];
    snprintf(script, sizeof(script), "exec \"$@\" 2>'%s'", fifo);
    const char *prefix[] = {"sh", "-c", script, "sh", NULL};
    gwfix_start_with(&F, prefix);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_teardown(&F);
    if (log_fd >= 0)
        close(log_fd);
    return 0;
}

static long post_as(const char *key, const char *body, long timeout_ms)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    http_opts_t o = {.headers = headers, .body = body, .timeout_ms = timeout_ms};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/batch"), &o, F.ca, &r);
    long status = r.curl_error != 0 ? -r.curl_error : r.status;
    http_resp_dispose(&r);
    return status;
}

static long post(const char *body, long timeout_ms)
{
    return post_as(WEB_KEY, body, timeout_ms);
}

/* 10 batches of 100 events, each event's card a value the plugin fails on: 1,000 mask.failed
 * lines asked for while nobody reads the log. Before, the event loop blocked in write(2) once
 * the pipe was full, and neither these nor any later request was answered. */
static void flood_with_stuck_log(void **state)
{
    (void)state;
    char *log = NULL;
    size_t len = 0;
    read_log(&log, &len, 300); /* the start-up lines; from here nobody reads */
    assert_non_null(strstr(log, "\"event\":\"gateway.started\""));
    static char body[100 * 160 + 64];
    for (int round = 0; round < 10; round++) {
        size_t n = (size_t)snprintf(body, sizeof(body), "{\"batch\":[");
        for (int i = 0; i < 100; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n,
                                  "%s{\"type\":\"track\",\"event\":\"Buy\",\"messageId\":\"lg-%d-%d\","
                                  "\"properties\":{\"card\":\"poison-4111\",\"total\":%d}}",
                                  i ? "," : "", round, i, i);
        snprintf(body + n, sizeof(body) - n, "]}");
        assert_int_equal(post(body, 5000), 200);
    }
    /* Org globex's client, after acme's flood: 3 events the same plugin fails on. Before, the
     * limit was per event name and acme had used it up: globex's lines were left out, and the
     * summary did not say whose lines it counted. */
    assert_int_equal(post_as(B_KEY,
                             "{\"batch\":[{\"type\":\"track\",\"event\":\"Buy\",\"messageId\":\"gx-1\","
                             "\"properties\":{\"card\":\"poison-4111\"}},{\"type\":\"track\",\"event\":\"Buy\","
                             "\"messageId\":\"gx-2\",\"properties\":{\"card\":\"poison-4111\"}},{\"type\":"
                             "\"track\",\"event\":\"Buy\",\"messageId\":\"gx-3\",\"properties\":{\"card\":"
                             "\"poison-4111\"}}]}",
                             5000),
                     200);
    /* Other hostile requests, none of which logs a line: a wrong write key, a body that is
     * not JSON, and connections that fail their TLS handshake (plain text on the HTTPS port). */
    for (int i = 0; i < 50; i++) {
        const char *bad_key[] = {"Authorization: Bearer wk_live_guessed_0000", "Content-Type: application/json", NULL};
        http_opts_t o = {.headers = bad_key, .body = "{\"batch\":[]}", .timeout_ms = 5000};
        http_resp_t r;
        http_do(gwfix_url(&F, "/v1/batch"), &o, F.ca, &r);
        assert_int_equal(r.status, 401);
        http_resp_dispose(&r);
        assert_int_equal(post("{not json", 5000), 400);
        int fd = gwfix_tcp_from("127.0.0.1", F.https_port);
        assert_true(fd >= 0);
        assert_true(send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, MSG_NOSIGNAL) > 0);
        char junk[512];
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 3000) > 0)
            (void)recv(fd, junk, sizeof(junk), 0);
        close(fd);
    }
    /* An ordinary visitor, still with nobody reading the log. */
    assert_int_equal(post("{\"batch\":[{\"type\":\"track\",\"event\":\"Ok\",\"messageId\":\"lg-ok\"}]}", 5000), 200);
    /* The flood is counted, the operator can see it. */
    assert_true(gwfix_metric(&F, "sluice_log_suppressed_total") >= 1000 - SLUICE_LOG_BURST);
    assert_true(gwfix_metric(&F, "sluice_log_dropped_total") >= 0);

    /* The reader comes back: the first lines of the flood, then at exit the summary and the
     * gateway's last line. */
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGTERM, NULL), 0);
    while (sluice_th_proc_running(F.gw))
        read_log(&log, &len, 100);
    read_log(&log, &len, 300);
    size_t failed = count(log, "\"event\":\"mask.failed\"");
    if (failed != SLUICE_LOG_BURST + 1 + 3) {
        print_error("%s", log);
        fail_msg("%zu mask.failed lines, want %d of acme, its summary and 3 of globex", failed, SLUICE_LOG_BURST);
    }
    assert_int_equal(count(log, "failed on org globex "), 3);
    assert_int_equal(count(log, "failed on org acme "), SLUICE_LOG_BURST);
    assert_non_null(strstr(log, "980 more lines like this for org acme, plugin fixture suppressed"));
    assert_non_null(strstr(log, "\"suppressed\":980,\"org\":\"acme\",\"plugin\":\"fixture\"}"));
    assert_non_null(strstr(log, "\"event\":\"gateway.stopped\""));
    /* No line carries the value or the write key. */
    assert_null(strstr(log, "poison-4111"));
    assert_null(strstr(log, WEB_KEY));
    assert_null(strstr(log, B_KEY));
    assert_null(strstr(log, "wk_live_guessed"));
    /* The plugin's own warning (plugin.log) is cut the same way. */
    size_t said = count(log, "\"event\":\"plugin.log\"");
    assert_int_equal(said, SLUICE_LOG_BURST + 1 + 3);
    assert_int_equal(count(log, "(org globex, rule "), 3);
    /* Besides: start-up and the stop, nothing per hostile request. */
    size_t others = count(log, "\n") - failed - said;
    if (others > 15) {
        print_error("%s", log);
        fail_msg("%zu other lines", others);
    }
    /* Every line one JSON object. */
    for (char *l = log, *e; *l != '\0'; l = e + 1) {
        e = strchr(l, '\n');
        assert_non_null(e);
        *e = '\0';
        json_t *j = json_loads(l, 0, NULL);
        if (j == NULL)
            fail_msg("not a JSON line: %s", l);
        json_decref(j);
    }
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flood_with_stuck_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

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

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
    m.assignments_lost[SLUICE_VENDOR_GA4] = 1;
    m.commit_failures[SLUICE_VENDOR_GA4] = 6;
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
    has(t, "# TYPE sluice_deliver_assignments_lost_total counter\n");
    has(t, "sluice_deliver_assignments_lost_total{vendor=\"ga4\"} 1\n");
    has(t, "sluice_deliver_assignments_lost_total{vendor=\"meta\"} 0\n");
    has(t, "sluice_deliver_commit_failures_total{vendor=\"ga4\"} 6\n");
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

/* A free loopback port: bound to 0 and released (this test's own server takes it at once). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Drives the loop until fd has an answer (or 3 s pass); returns what was read, as a string. */
static void exchange(sluice_loop_t *loop, int fd, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int round = 0; round < 300; round++) {
        sluice_err_t err = {{0}};
        assert_true(sluice_loop_run_once(loop, 10, &err) >= 0);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            continue;
        ssize_t r = recv(fd, out + n, cap - 1 - n, MSG_DONTWAIT);
        if (r <= 0)
            break; /* closed (or reset) by the server */
        n += (size_t)r;
        out[n] = '\0';
    }
}

/* Connections that never send a request (a port scan, a client gone without a FIN) must not
 * keep the scraper and the liveness probe out: with every slot taken, the 65th connection was
 * closed unanswered, for good (no timeout frees a slot), and the worker was restarted by its
 * liveness probe over and over. */
static void test_idle_connections_do_not_lock_out_scrapers(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_loop_t *loop = sluice_loop_create(&err);
    assert_non_null(loop);
    sluice_dmetrics_t m;
    memset(&m, 0, sizeof(m));
    sluice_listen_t addr = {.enabled = 1, .host = "127.0.0.1", .port = (uint16_t)free_port()};
    sluice_metrics_server_t *srv = sluice_metrics_server_start(loop, &addr, &m, NULL, NULL, &err);
    assert_non_null(srv);
    int idle[100];
    for (int i = 0; i < 100; i++) {
        idle[i] = connect_to(addr.port);
        sluice_loop_run_once(loop, 0, &err);
    }
    for (int i = 0; i < 3; i++)
        sluice_loop_run_once(loop, 10, &err);
    char buf[65536];
    int probe = connect_to(addr.port);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(probe, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    exchange(loop, probe, buf, sizeof(buf));
    if (strstr(buf, "200 OK") == NULL)
        print_error("/healthz behind 100 idle connections: \"%s\"\n", buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    close(probe);
    int scrape = connect_to(addr.port);
    static const char mreq[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(scrape, mreq, sizeof(mreq) - 1, 0), (ssize_t)(sizeof(mreq) - 1));
    exchange(loop, scrape, buf, sizeof(buf));
    assert_non_null(strstr(buf, "sluice_deliver_pending_events 0\n"));
    close(scrape);
    for (int i = 0; i < 100; i++)
        close(idle[i]);
    sluice_metrics_server_stop(srv);
    sluice_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_idle_connections_do_not_lock_out_scrapers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

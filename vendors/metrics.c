/*
 * Worker metrics: counters and histograms, their Prometheus text, and a minimal HTTP/1.x
 * endpoint for it on the worker's loop (one request per connection, answered and closed).
 * The loop thread.
 */
#include "vendors/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

#define MAX_CONNS 64
#define REQ_MAX   4096

static const double batch_bounds[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000};
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NB(a) (sizeof(a) / sizeof((a)[0]))

static void observe(sluice_hist_t *h, const double *bounds, size_t nb, double v)
{
    size_t i = 0;
    while (i < nb && v > bounds[i])
        i++;
    h->buckets[i]++; /* i == nb is the +Inf bucket */
    h->count++;
    h->sum += v;
}

void sluice_dmetrics_batch(sluice_dmetrics_t *m, sluice_vendor_kind_t v, size_t events)
{
    observe(&m->batch_events[v], batch_bounds, NB(batch_bounds), (double)events);
}

void sluice_dmetrics_latency(sluice_dmetrics_t *m, sluice_vendor_kind_t v, double seconds)
{
    observe(&m->request_seconds[v], latency_bounds, NB(latency_bounds), seconds);
}

static void render_hist(FILE *f, const char *name, const char *vendor, const sluice_hist_t *h, const double *bounds,
                        size_t nb)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += h->buckets[i];
        fprintf(f, "%s_bucket{vendor=\"%s\",le=\"%g\"} %llu\n", name, vendor, bounds[i], (unsigned long long)cum);
    }
    cum += h->buckets[nb];
    fprintf(f, "%s_bucket{vendor=\"%s\",le=\"+Inf\"} %llu\n", name, vendor, (unsigned long long)cum);
    fprintf(f, "%s_sum{vendor=\"%s\"} %.6f\n%s_count{vendor=\"%s\"} %llu\n", name, vendor, h->sum, name, vendor,
            (unsigned long long)h->count);
}

/* A counter with one series per vendor. */
static void render_per_vendor(FILE *f, const char *name, const char *help, const uint64_t *counts)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int v = 0; v < SLUICE_VENDOR_COUNT; v++)
        fprintf(f, "%s{vendor=\"%s\"} %llu\n", name, sluice_vendor_get(v)->name, (unsigned long long)counts[v]);
}

char *sluice_dmetrics_render(const sluice_dmetrics_t *m, size_t *len)
{
    static const char *const outcomes[] = {"delivered", "dead_lettered", "skipped",
                                           "filtered",  "suppressed",    "unrouted"};
    static const char *const req_outcomes[] = {"ok", "retry", "failed"};
    static const char *const vault_outcomes[] = {"ok", "not_found", "decrypt_failed", "error"};
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (f == NULL)
        return NULL;
    render_per_vendor(f, "sluice_deliver_consumed_total", "Kafka messages consumed, by the vendor's consumer group.",
                      m->consumed);
    fprintf(f, "# HELP sluice_deliver_events_total Deliveries of one event to one integration, by outcome (suppressed: "
               "once per vendor).\n"
               "# TYPE sluice_deliver_events_total counter\n");
    for (int v = 0; v < SLUICE_VENDOR_COUNT; v++)
        for (int o = 0; o < SLUICE_OUTCOME_COUNT; o++)
            fprintf(f, "sluice_deliver_events_total{vendor=\"%s\",outcome=\"%s\"} %llu\n", sluice_vendor_get(v)->name,
                    outcomes[o], (unsigned long long)m->events[v][o]);
    fprintf(f, "# HELP sluice_deliver_requests_total Vendor HTTP requests, by outcome.\n"
               "# TYPE sluice_deliver_requests_total counter\n");
    for (int v = 0; v < SLUICE_VENDOR_COUNT; v++)
        for (int o = 0; o < SLUICE_REQ_COUNT; o++)
            fprintf(f, "sluice_deliver_requests_total{vendor=\"%s\",outcome=\"%s\"} %llu\n", sluice_vendor_get(v)->name,
                    req_outcomes[o], (unsigned long long)m->requests[v][o]);
    render_per_vendor(f, "sluice_deliver_retries_total", "Requests scheduled for another attempt.", m->retries);
    render_per_vendor(f, "sluice_deliver_dlq_total", "Events written to the dead-letter topic.", m->dlq);
    render_per_vendor(f, "sluice_deliver_assignments_lost_total",
                      "Times the vendor's group took this worker's partitions back without a commit "
                      "(kafka.assignment_lost): what was finished since the last commit is delivered again.",
                      m->assignments_lost);
    render_per_vendor(f, "sluice_deliver_commit_failures_total",
                      "Offset commits Kafka did not take (kafka.commit_failed).", m->commit_failures);
    fprintf(f, "# HELP sluice_deliver_batch_events Events per vendor request.\n"
               "# TYPE sluice_deliver_batch_events histogram\n");
    for (int v = 0; v < SLUICE_VENDOR_COUNT; v++)
        render_hist(f, "sluice_deliver_batch_events", sluice_vendor_get(v)->name, &m->batch_events[v], batch_bounds,
                    NB(batch_bounds));
    fprintf(f, "# HELP sluice_deliver_request_seconds Vendor request latency.\n"
               "# TYPE sluice_deliver_request_seconds histogram\n");
    for (int v = 0; v < SLUICE_VENDOR_COUNT; v++)
        render_hist(f, "sluice_deliver_request_seconds", sluice_vendor_get(v)->name, &m->request_seconds[v],
                    latency_bounds, NB(latency_bounds));
    fprintf(f, "# HELP sluice_deliver_consumer_lag Messages between the oldest unfinished event and the partitions' "
               "high watermarks, per consumer group.\n"
               "# TYPE sluice_deliver_consumer_lag gauge\n");
    for (int v = 0; v < SLUICE_VENDOR_COUNT; v++)
        if (m->lane_active[v])
            fprintf(f, "sluice_deliver_consumer_lag{vendor=\"%s\"} %lld\n", sluice_vendor_get(v)->name,
                    (long long)m->lag[v]);
    fprintf(f, "# HELP sluice_deliver_vault_reads_total Credential reads from the vault (cache misses).\n"
               "# TYPE sluice_deliver_vault_reads_total counter\n");
    for (int o = 0; o < SLUICE_VAULT_READ_COUNT; o++)
        fprintf(f, "sluice_deliver_vault_reads_total{outcome=\"%s\"} %llu\n", vault_outcomes[o],
                (unsigned long long)m->vault_reads[o]);
    fprintf(f,
            "# HELP sluice_deliver_in_flight_requests Vendor requests on the wire.\n"
            "# TYPE sluice_deliver_in_flight_requests gauge\n"
            "sluice_deliver_in_flight_requests %llu\n"
            "# HELP sluice_deliver_pending_events Consumed events not yet delivered or dead-lettered.\n"
            "# TYPE sluice_deliver_pending_events gauge\n"
            "sluice_deliver_pending_events %llu\n",
            (unsigned long long)m->in_flight, (unsigned long long)m->pending_events);
    char logs[512];
    size_t ln = sluice_log_metrics(logs, sizeof(logs));
    fwrite(logs, 1, ln < sizeof(logs) ? ln : 0, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------ endpoint */

typedef struct conn {
    int fd;
    uint64_t seq; /* accept order: the lowest is the oldest connection */
    char req[REQ_MAX];
    size_t req_len;
    char *out;
    size_t out_len, out_off;
} conn_t;

struct sluice_metrics_server {
    sluice_loop_t *loop;
    int fd;
    const sluice_dmetrics_t *m;
    sluice_metrics_refresh_cb refresh;
    void *ud;
    conn_t *conns[MAX_CONNS];
    uint64_t accepted;
};

static void conn_close(sluice_metrics_server_t *s, conn_t *c)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i] == c)
            s->conns[i] = NULL;
    }
    sluice_loop_unwatch(s->loop, c->fd);
    close(c->fd);
    free(c->out);
    free(c);
}

/* Builds the answer into c->out. Returns 0, or -1 when c was closed (out of memory). */
static int respond(sluice_metrics_server_t *s, conn_t *c)
{
    const char *status = "404 Not Found", *ctype = "text/plain";
    char *body = NULL;
    size_t blen = 0;
    if (strncmp(c->req, "GET /metrics ", 13) == 0 || strncmp(c->req, "GET /metrics?", 13) == 0) {
        if (s->refresh != NULL)
            s->refresh(s->ud);
        body = sluice_dmetrics_render(s->m, &blen);
        status = body ? "200 OK" : "500 Internal Server Error";
        ctype = "text/plain; version=0.0.4";
    } else if (strncmp(c->req, "GET /healthz ", 13) == 0) {
        body = strdup("ok\n");
        blen = body ? 3 : 0;
        status = "200 OK";
    }
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, ctype, blen);
    c->out = malloc((size_t)hl + blen);
    if (c->out == NULL) {
        free(body);
        conn_close(s, c);
        return -1;
    }
    memcpy(c->out, head, (size_t)hl);
    if (blen > 0)
        memcpy(c->out + hl, body, blen);
    free(body);
    c->out_len = (size_t)hl + blen;
    return 0;
}

static void on_conn(void *ud, int fd, unsigned events);

static void conn_write(sluice_metrics_server_t *s, conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            sluice_loop_watch(s->loop, c->fd, SLUICE_LOOP_OUT, on_conn, s, NULL);
            return;
        }
        if (w <= 0)
            break;
        c->out_off += (size_t)w;
    }
    conn_close(s, c);
}

static void on_conn(void *ud, int fd, unsigned events)
{
    sluice_metrics_server_t *s = ud;
    conn_t *c = NULL;
    for (int i = 0; i < MAX_CONNS && c == NULL; i++) {
        if (s->conns[i] != NULL && s->conns[i]->fd == fd)
            c = s->conns[i];
    }
    if (c == NULL)
        return;
    if (c->out != NULL) {
        conn_write(s, c);
        return;
    }
    if (events & (SLUICE_LOOP_IN | SLUICE_LOOP_ERR)) {
        ssize_t r = read(fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            conn_close(s, c);
            return;
        }
        c->req_len += (size_t)r;
        c->req[c->req_len] = '\0';
        if (strstr(c->req, "\r\n\r\n") == NULL && strstr(c->req, "\n\n") == NULL) {
            if (c->req_len >= sizeof(c->req) - 1)
                conn_close(s, c);
            return;
        }
        if (respond(s, c) == 0)
            conn_write(s, c);
    }
}

static void on_accept(void *ud, int fd, unsigned events)
{
    (void)events;
    sluice_metrics_server_t *s = ud;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        int slot = -1, oldest = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0; i++) {
            if (s->conns[i] == NULL)
                slot = i;
            else if (oldest < 0 || s->conns[i]->seq < s->conns[oldest]->seq)
                oldest = i;
        }
        if (slot < 0) {
            /* Every slot taken: the oldest connection gives way. Connections have no timeout
             * here, so refusing the newcomer instead let 64 that never sent a request (a port
             * scan, clients gone without a FIN) refuse /metrics and /healthz for as long as
             * they stayed, and the liveness probe restarted a worker that was delivering fine.
             * A scraper's request arrives right after its connect, so the oldest is the idle one. */
            slot = oldest;
            conn_close(s, s->conns[oldest]);
        }
        conn_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(cfd); /* out of memory */
            continue;
        }
        c->fd = cfd;
        c->seq = s->accepted++;
        s->conns[slot] = c;
        if (sluice_loop_watch(s->loop, cfd, SLUICE_LOOP_IN, on_conn, s, NULL) != 0)
            conn_close(s, c);
    }
}

sluice_metrics_server_t *sluice_metrics_server_start(sluice_loop_t *loop, const sluice_listen_t *addr,
                                                     const sluice_dmetrics_t *m, sluice_metrics_refresh_cb refresh,
                                                     void *ud, sluice_err_t *err)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", addr->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int gai = getaddrinfo(addr->host, port, &hints, &ai);
    if (gai != 0) {
        sluice_err_set(err, "metrics listener %s:%u: %s", addr->host, addr->port, gai_strerror(gai));
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        sluice_err_set(err, "metrics listener %s:%u: %s", addr->host, addr->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    sluice_metrics_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        close(fd);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->fd = fd;
    s->m = m;
    s->refresh = refresh;
    s->ud = ud;
    if (sluice_loop_watch(loop, fd, SLUICE_LOOP_IN, on_accept, s, err) != 0) {
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

void sluice_metrics_server_stop(sluice_metrics_server_t *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i] != NULL)
            conn_close(s, s->conns[i]);
    }
    sluice_loop_unwatch(s->loop, s->fd);
    close(s->fd);
    free(s);
}

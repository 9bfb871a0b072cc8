/*
 * sluice-bench-openload: an open-loop load over many HTTPS keep-alive connections, for the
 * latency a site's visitors see at a load the server can carry. One thread (epoll).
 *
 * Why not wrk: wrk is a closed loop. Each connection sends its next request when the answer to
 * the last one comes, so with every connection busy the latency it reports is connections /
 * throughput (Little's law), whatever the server does; and its delay() hook walks every timer
 * on each turn of its loop, which at 1,024 connections is itself the latency measured. Here
 * requests are due at fixed times (rate per second, evenly spaced), each goes out on a
 * connection that is free, and its latency counts from when it was due, so a server that falls
 * behind is charged for the wait (no coordinated omission).
 *
 *   sluice-bench-openload --port P [--host 127.0.0.1] [--path /v1/t] --body FILE
 *       [--header "Name: value"]... [--conns 1024] [--rate 10000] [--duration 10]
 *
 * Prints one line: "sent N done N non2xx N errors N late N rate R p50 p90 p99 p999 max" (ms).
 * `late` counts requests that waited more than 1 ms for a free connection. TLS certificates are
 * not verified: it is a load generator for loopback.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

typedef struct conn {
    int fd;
    SSL *ssl;
    int busy;    /* a request is on this connection */
    int dead;    /* failed; not used again */
    double due;  /* when the request on it was due (monotonic seconds) */
    size_t woff; /* bytes of the request written */
    char rbuf[16384];
    size_t rlen;
    struct conn *next_free;
} conn_t;

static struct {
    const char *req; /* the whole request, headers and body */
    size_t req_len;
    conn_t *free_head, *free_tail; /* free connections, the longest idle first */
    double *due_q;                 /* requests due and not yet sent, in order */
    size_t q_head, q_tail, q_cap;
    float *lat_ms;
    size_t lat_n, lat_cap;
    long sent, done, non2xx, errors, late;
    int ep;
} L;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "sluice-bench-openload: %s\n", what);
    exit(2);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (nb == NULL)
                die("out of memory");
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

static conn_t *open_conn(SSL_CTX *ctx, const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("--host must be an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) { /* blocking, before the clock starts */
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        die("out of memory");
    c->fd = fd;
    c->ssl = ssl;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl");
    return c;
}

/* First in, first out, so that every connection carries requests in turn as a site's visitors'
 * do; a stack would leave most of them idle until the server's idle timeout closed them. */
static void put_free(conn_t *c)
{
    c->busy = 0;
    c->next_free = NULL;
    if (L.free_tail != NULL)
        L.free_tail->next_free = c;
    else
        L.free_head = c;
    L.free_tail = c;
}

static conn_t *take_free(void)
{
    conn_t *c = L.free_head;
    if (c != NULL && (L.free_head = c->next_free) == NULL)
        L.free_tail = NULL;
    return c;
}

static void fail(conn_t *c)
{
    L.errors++;
    c->busy = 0;
    c->dead = 1;
    epoll_ctl(L.ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
}

static void finish(conn_t *c, int status, double t)
{
    L.done++;
    if (status < 200 || status > 299)
        L.non2xx++;
    if (L.lat_n < L.lat_cap)
        L.lat_ms[L.lat_n++] = (float)((t - c->due) * 1000.0);
    c->rlen = 0;
    put_free(c);
}

/* Writes what is left of the request; 0 when all of it is out or the socket is full, -1 on error. */
static int flush_request(conn_t *c)
{
    while (c->woff < L.req_len) {
        int n = SSL_write(c->ssl, L.req + c->woff, (int)(L.req_len - c->woff));
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    return 0;
}

/* The length of a whole response at the start of c->rbuf, its status in *status; 0 while it is
 * not all there. Content-Length or chunked. */
static size_t response_len(const conn_t *c, int *status)
{
    const char *b = c->rbuf, *hend = memmem(b, c->rlen, "\r\n\r\n", 4);
    if (hend == NULL)
        return 0;
    size_t head = (size_t)(hend - b) + 4;
    *status = c->rlen >= 12 ? (int)strtol(b + 9, NULL, 10) : 0;
    for (const char *p = b; p < hend; p++) {
        if (*p != '\n')
            continue;
        if (strncasecmp(p + 1, "content-length:", 15) == 0) {
            size_t body = strtoul(p + 16, NULL, 10);
            return c->rlen >= head + body ? head + body : 0;
        }
        if (strncasecmp(p + 1, "transfer-encoding:", 18) == 0) {
            const char *end = memmem(b + head, c->rlen - head, "0\r\n\r\n", 5);
            return end != NULL ? (size_t)(end - b) + 5 : 0;
        }
    }
    return head; /* no body (204) */
}

static void on_readable(conn_t *c)
{
    for (;;) {
        if (c->rlen == sizeof(c->rbuf)) {
            fail(c); /* an answer larger than the bench's requests get */
            return;
        }
        int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof(c->rbuf) - c->rlen));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail(c);
            return;
        }
        c->rlen += (size_t)n;
        int status = 0;
        size_t len = response_len(c, &status);
        if (len > 0 && c->busy) {
            if (len != c->rlen) { /* the server sent more than one answer */
                fail(c);
                return;
            }
            finish(c, status, now_s());
        }
    }
}

static void start(conn_t *c, double due, double t)
{
    c->busy = 1;
    c->due = due;
    c->woff = 0;
    c->rlen = 0;
    L.sent++;
    if (t - due > 0.001)
        L.late++;
    if (flush_request(c) != 0)
        fail(c);
}

/* v as a number in [lo, hi], or exits saying which option was wrong. */
static double number(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= lo && d <= hi)) {
        fprintf(stderr, "sluice-bench-openload: %s must be a number from %g to %g\n", opt, lo, hi);
        exit(2);
    }
    return d;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (L.lat_n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(L.lat_n - 1) + 0.5);
    return L.lat_ms[i];
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = "/v1/t", *body_file = NULL;
    int port = 0, conns = 1024;
    double rate = 10000, duration = 10;
    char headers[4096] = "";
    size_t hlen = 0;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            die("every option takes a value");
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = (int)number(a, v, 1, 65535);
        else if (strcmp(a, "--path") == 0)
            path = v;
        else if (strcmp(a, "--body") == 0)
            body_file = v;
        else if (strcmp(a, "--conns") == 0)
            conns = (int)number(a, v, 1, 100000);
        else if (strcmp(a, "--rate") == 0)
            rate = number(a, v, 1, 1e7);
        else if (strcmp(a, "--duration") == 0)
            duration = number(a, v, 0.1, 3600);
        else if (strcmp(a, "--header") == 0) {
            int n = snprintf(headers + hlen, sizeof(headers) - hlen, "%s\r\n", v);
            if (n < 0 || (size_t)n >= sizeof(headers) - hlen)
                die("headers too long");
            hlen += (size_t)n;
        } else
            die("unknown option (see the comment at the top of bench/openload.c)");
    }
    if (port <= 0 || body_file == NULL || conns <= 0 || rate <= 0 || duration <= 0)
        die("--port and --body are required; --conns, --rate, --duration must be positive");
    size_t body_len;
    char *body = read_file(body_file, &body_len);
    if (body == NULL)
        die("cannot read --body");
    size_t cap = strlen(path) + strlen(host) + hlen + body_len + 256;
    char *req = malloc(cap);
    if (req == NULL)
        die("out of memory");
    int n = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: %zu\r\n\r\n", path, host, port,
                     headers, body_len);
    memcpy(req + n, body, body_len);
    L.req = req;
    L.req_len = (size_t)n + body_len;

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* 1,024 connections' buffers on this side too */
    L.ep = epoll_create1(0);
    for (int i = 0; i < conns; i++) {
        conn_t *c = open_conn(ctx, host, port);
        if (c == NULL)
            die("cannot connect (is the server up, and the descriptor limit high enough?)");
        put_free(c);
    }
    L.q_cap = (size_t)(rate * duration) + 16;
    L.due_q = malloc(L.q_cap * sizeof(double));
    L.lat_cap = L.q_cap;
    L.lat_ms = malloc(L.lat_cap * sizeof(float));
    if (L.due_q == NULL || L.lat_ms == NULL)
        die("out of memory");

    double t0 = now_s() + 0.01, end = t0 + duration, next = t0;
    long k = 0;
    struct epoll_event evs[256];
    for (;;) {
        double t = now_s();
        /* Requests due by now join the queue; those past the end are not sent. */
        while (next <= t && next < end && L.q_tail < L.q_cap) {
            L.due_q[L.q_tail++] = next;
            next = t0 + (double)(++k) / rate;
        }
        for (conn_t *f; L.q_head < L.q_tail && (f = take_free()) != NULL;)
            start(f, L.due_q[L.q_head++], t);
        long inflight = L.sent - L.done - L.errors;
        if (t >= end && (inflight <= 0 || t >= end + 10)) /* answers still due get 10 s */
            break;
        int wait_ms = 10;
        if (L.q_head == L.q_tail && next < end)
            wait_ms = (int)((next - t) * 1000.0);
        int ne = epoll_wait(L.ep, evs, 256, wait_ms < 0 ? 0 : wait_ms);
        for (int i = 0; i < ne; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if ((evs[i].events & EPOLLOUT) && c->busy && c->woff < L.req_len && flush_request(c) != 0) {
                fail(c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(c);
        }
    }
    double elapsed = now_s() - t0;
    qsort(L.lat_ms, L.lat_n, sizeof(float), cmp_float);
    printf("sent %ld done %ld non2xx %ld errors %ld late %ld rate %.0f p50 %.3f p90 %.3f p99 %.3f p999 %.3f max %.3f\n",
           L.sent, L.done, L.non2xx, L.errors + (long)(L.q_tail - L.q_head), L.late, (double)L.done / elapsed, pct(0.5),
           pct(0.9), pct(0.99), pct(0.999), L.lat_n ? L.lat_ms[L.lat_n - 1] : 0.0);
    return L.errors > 0 ? 1 : 0;
}

/*
 * Connection guards (conn.h). Each worker thread owns its connections' records and sweep; the
 * per-address counts are the one structure shared between workers, behind a mutex that is taken
 * twice per connection (accept, close) and never on a request.
 */
#include "gateway/conn.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/log.h"
#include "common/time.h"

#define SWEEP_INTERVAL_MS 500

/* ------------------------------------------------------------------ per-address counts */

typedef struct addr_slot {
    uint8_t addr[16];
    unsigned count; /* 0: free (a slot is freed when its count drops to 0) */
} addr_slot_t;

struct sluice_conn_table {
    unsigned max; /* connections in all */
    pthread_mutex_t lock;
    size_t mask;
    addr_slot_t *slots;
    atomic_uint open;
    atomic_uint ops_open; /* metrics listener connections (SLUICE_CONN_OPS_MAX at most) */
};

sluice_conn_table_t *sluice_conn_table_create(unsigned max_connections)
{
    /* At most max_connections addresses are ever in the table at once: twice that keeps probe
     * runs short. */
    size_t n = 64;
    while (n < (size_t)max_connections * 2)
        n <<= 1;
    sluice_conn_table_t *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->slots = calloc(n, sizeof(addr_slot_t))) == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    t->max = max_connections;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void sluice_conn_table_destroy(sluice_conn_table_t *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}

unsigned sluice_conn_table_open(const sluice_conn_table_t *t)
{
    return atomic_load(&((sluice_conn_table_t *)t)->open);
}

static size_t addr_hash(const uint8_t addr[16])
{
    uint64_t a, b;
    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
    return (size_t)(h ^ (h >> 29));
}

/* Linear probing without tombstones: a freed slot moves later members of its run back (so every
 * lookup can stop at the first free slot). Under the lock. */
static addr_slot_t *find(sluice_conn_table_t *t, const uint8_t addr[16], int insert)
{
    for (size_t i = addr_hash(addr) & t->mask;; i = (i + 1) & t->mask) {
        addr_slot_t *s = &t->slots[i];
        if (s->count == 0) {
            if (!insert)
                return NULL;
            memcpy(s->addr, addr, 16);
            return s;
        }
        if (memcmp(s->addr, addr, 16) == 0)
            return s;
    }
}

static void release_slot(sluice_conn_table_t *t, addr_slot_t *s)
{
    size_t i = (size_t)(s - t->slots), j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].count == 0)
            break;
        size_t home = addr_hash(t->slots[j].addr) & t->mask;
        /* Move j back into i unless its home lies cyclically in (i, j]. */
        if ((i < j) ? (home <= i || home > j) : (home <= i && home > j)) {
            t->slots[i] = t->slots[j];
            t->slots[j].count = 0;
            i = j;
        }
    }
    t->slots[i].count = 0;
}

/* ------------------------------------------------------------------ connections */

static void on_sock_close(void *data);

sluice_conn_t *sluice_conn_of(h2o_req_t *req)
{
    if (req->conn == NULL || req->conn->callbacks->get_socket == NULL)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->on_close.cb != on_sock_close)
        return NULL;
    return sock->on_close.data;
}

static void unref(sluice_conn_t *c)
{
    if (--c->refs == 0)
        free(c);
}

/* h2o closed the socket (the fd is already closed): the address's count goes, the record stays
 * while requests of it are still in flight. Runs inside h2o's close path: no h2o calls here. */
static void on_sock_close(void *data)
{
    sluice_conn_t *c = data;
    sluice_conn_guard_t *g = c->guard;
    h2o_linklist_unlink(&c->link);
    c->sock = NULL;
    if (c->tls != NULL) {
        SSL_CTX_free(c->tls); /* the last reference when a reload has replaced it since */
        c->tls = NULL;
    }
    if (c->counted)
        sluice_conn_table_release(g->table, c->addr);
    if (c->capped) {
        atomic_fetch_sub(&g->table->open, 1);
        sluice_counter_add(&g->metrics->conn_open, (uint64_t)-1);
    } else {
        atomic_fetch_sub(&g->table->ops_open, 1); /* a metrics listener connection */
    }
    unref(c);
}

void sluice_conn_addr_key(const struct sockaddr *sa, uint8_t out[16])
{
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        /* An IPv4 peer of a dual-stack socket stays whole; an IPv6 one is cut to its /64, the block
         * one host is given (SLAAC, a carrier's customer): counted per /128, one host could open
         * max_connections_per_ip from each of its 2^64 addresses. */
        memcpy(out, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

int sluice_conn_table_acquire(sluice_conn_table_t *t, const uint8_t key[16], unsigned per_ip)
{
    pthread_mutex_lock(&t->lock);
    addr_slot_t *s = find(t, key, 1);
    int over = s->count >= per_ip;
    if (!over)
        s->count++;
    pthread_mutex_unlock(&t->lock);
    return over ? -1 : 0;
}

void sluice_conn_table_release(sluice_conn_table_t *t, const uint8_t key[16])
{
    pthread_mutex_lock(&t->lock);
    addr_slot_t *s = find(t, key, 0);
    if (s != NULL && --s->count == 0)
        release_slot(t, s);
    pthread_mutex_unlock(&t->lock);
}

static int trusted(const sluice_server_config_t *cfg, const struct sockaddr *sa)
{
    for (size_t i = 0; i < cfg->trusted_proxy_count; i++) {
        if (sluice_cidr_contains(&cfg->trusted_proxies[i], sa))
            return 1;
    }
    return 0;
}

static void refuse_at_accept(sluice_conn_guard_t *g, h2o_socket_t *sock, sluice_conn_refusal_t why)
{
    sluice_counter_add(&g->metrics->conn_closed[why], 1);
    h2o_socket_close(sock);
}

/* The connection holds its accepting context from here to on_sock_close (conn.h). */
static void attach(sluice_conn_t *c, h2o_socket_t *sock, SSL_CTX *tls)
{
    if (tls != NULL && SSL_CTX_up_ref(tls) == 1)
        c->tls = tls;
    h2o_linklist_insert(&c->guard->conns, &c->link);
    sock->on_close.cb = on_sock_close;
    sock->on_close.data = c;
}

int sluice_conn_admit(sluice_conn_guard_t *g, h2o_socket_t *sock, const sluice_server_config_t *cfg, int capped,
                      SSL_CTX *tls)
{
    sluice_conn_table_t *t = g->table;
    if (!capped) {
        /* Exempt from the clients' cap, but not unbounded: its descriptors come from the reserve
         * kept below RLIMIT_NOFILE, and a flood of idle connections there (a scraper gone wrong,
         * anyone who reaches the port) took every descriptor, so accept(2) failed on the public
         * listeners and visitors' events went unanswered. */
        if (atomic_fetch_add(&t->ops_open, 1) >= SLUICE_CONN_OPS_MAX) {
            atomic_fetch_sub(&t->ops_open, 1);
            refuse_at_accept(g, sock, SLUICE_CONN_OPS);
            return -1;
        }
        sluice_conn_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            atomic_fetch_sub(&t->ops_open, 1);
            refuse_at_accept(g, sock, SLUICE_CONN_MAX);
            return -1;
        }
        *c = (sluice_conn_t){.sock = sock, .guard = g, .refs = 1, .reset_tokens = -1};
        attach(c, sock, tls);
        return 0;
    }
    if (atomic_fetch_add(&t->open, 1) >= t->max) {
        atomic_fetch_sub(&t->open, 1);
        refuse_at_accept(g, sock, SLUICE_CONN_MAX);
        return -1;
    }
    sluice_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        atomic_fetch_sub(&t->open, 1);
        refuse_at_accept(g, sock, SLUICE_CONN_MAX);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (sl != 0)
        sluice_conn_addr_key((struct sockaddr *)&ss, c->addr);
    if (cfg->max_connections_per_ip > 0 && sl != 0 && !trusted(cfg, (struct sockaddr *)&ss)) {
        if (sluice_conn_table_acquire(t, c->addr, cfg->max_connections_per_ip) != 0) {
            free(c);
            atomic_fetch_sub(&t->open, 1);
            refuse_at_accept(g, sock, SLUICE_CONN_PER_IP);
            return -1;
        }
        c->counted = 1;
    }
    c->sock = sock;
    c->guard = g;
    c->refs = 1;
    c->reset_tokens = -1;
    c->capped = 1;
    attach(c, sock, tls);
    sluice_counter_add(&g->metrics->conn_open, 1);
    return 0;
}

void sluice_conn_close(sluice_conn_t *c, sluice_conn_refusal_t why)
{
    if (c->sock == NULL || c->shut)
        return;
    c->shut = 1;
    sluice_counter_add(&c->guard->metrics->conn_closed[why], 1);
    shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
}

void sluice_conn_shutdown_all(sluice_conn_guard_t *g)
{
    for (h2o_linklist_t *n = g->conns.next; n != &g->conns; n = n->next) {
        sluice_conn_t *c = H2O_STRUCT_FROM_MEMBER(sluice_conn_t, link, n);
        c->shut = 1;
        shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
    }
}

int sluice_conn_begin(sluice_conn_t *c, unsigned max_in_flight)
{
    if (c->in_flight >= max_in_flight)
        return -1;
    c->in_flight++;
    c->refs++;
    return 0;
}

void sluice_conn_end(sluice_conn_t *c)
{
    c->in_flight--;
    unref(c);
}

void sluice_conn_reset(sluice_conn_t *c, const sluice_rate_limit_t *resets)
{
    sluice_counter_add(&c->guard->metrics->h2_resets, 1);
    uint64_t now = (uint64_t)sluice_mono_ms();
    double burst = resets->burst < 1 ? 1 : resets->burst;
    if (c->reset_tokens < 0) {
        c->reset_tokens = burst;
        c->reset_at_ms = now;
    }
    c->reset_tokens += (double)(now - c->reset_at_ms) * resets->per_second / 1000.0;
    if (c->reset_tokens > burst)
        c->reset_tokens = burst;
    c->reset_at_ms = now;
    if (c->reset_tokens >= 1) {
        c->reset_tokens -= 1;
        return;
    }
    if (!c->shut)
        sluice_log_warn("http2.resets", "a connection abandoned streams faster than %g/s (burst %g): closed",
                        resets->per_second, resets->burst);
    sluice_conn_close(c, SLUICE_CONN_RESETS);
}

/* ------------------------------------------------------------------ the sweep */

typedef struct sweep {
    sluice_conn_guard_t *g;
    int64_t now_us;
    int64_t head_us, answer_us; /* deadlines for a request still arriving / an answer still unsent */
    sluice_conn_t *slow[64];    /* closed after the walk: closing changes what h2o is walking */
    size_t nslow;
} sweep_t;

static int sweep_one(h2o_req_t *req, void *cbdata)
{
    sweep_t *sw = cbdata;
    const struct timeval *b = &req->timestamps.request_begin_at;
    if (b->tv_sec == 0)
        return 0; /* an idle keep-alive connection: h2o's own timeouts */
    int64_t age = sw->now_us - ((int64_t)b->tv_sec * 1000000 + b->tv_usec);
    /* No pathconf yet: the head or the body is still arriving. With one, the request was handled
     * and its answer is being written (or waits for the client's flow-control window). */
    int64_t bound = req->pathconf == NULL ? sw->head_us : sw->answer_us;
    if (age <= bound || sw->nslow == sizeof(sw->slow) / sizeof(sw->slow[0]))
        return 0;
    sluice_conn_t *c = sluice_conn_of(req);
    if (c != NULL && !c->shut) {
        for (size_t i = 0; i < sw->nslow; i++) {
            if (sw->slow[i] == c)
                return 0;
        }
        sw->slow[sw->nslow++] = c;
    }
    return 0;
}

void sluice_conn_guard_set_limits(sluice_conn_guard_t *g, unsigned request_timeout_ms, unsigned answer_grace_ms)
{
    g->request_timeout_ms = request_timeout_ms;
    g->answer_grace_ms = answer_grace_ms;
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
    sluice_conn_guard_t *g = H2O_STRUCT_FROM_MEMBER(sluice_conn_guard_t, sweep_entry, entry);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    sweep_t sw = {.g = g,
                  .now_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec,
                  .head_us = (int64_t)g->request_timeout_ms * 1000,
                  .answer_us = ((int64_t)g->request_timeout_ms + g->answer_grace_ms) * 1000};
    const h2o_globalconf_t *gc = g->ctx->globalconf;
    if (gc->http1.callbacks.foreach_request != NULL)
        gc->http1.callbacks.foreach_request(g->ctx, sweep_one, &sw);
    if (gc->http2.callbacks.foreach_request != NULL)
        gc->http2.callbacks.foreach_request(g->ctx, sweep_one, &sw);
    for (size_t i = 0; i < sw.nslow; i++)
        sluice_conn_close(sw.slow[i], SLUICE_CONN_SLOW_REQUEST);
    h2o_timeout_link(g->ctx->loop, &g->sweep_timeout, &g->sweep_entry);
}

void sluice_conn_guard_init(sluice_conn_guard_t *g, h2o_context_t *ctx, sluice_conn_table_t *table,
                            sluice_gw_metrics_t *metrics)
{
    g->table = table;
    g->ctx = ctx;
    g->metrics = metrics;
    g->request_timeout_ms = 10000;
    g->answer_grace_ms = 15000;
    h2o_linklist_init_anchor(&g->conns);
    h2o_timeout_init(ctx->loop, &g->defer_timeout, 0);
    h2o_timeout_init(ctx->loop, &g->sweep_timeout, SWEEP_INTERVAL_MS);
    g->sweep_entry.cb = on_sweep;
    h2o_timeout_link(ctx->loop, &g->sweep_timeout, &g->sweep_entry);
}

void sluice_conn_guard_dispose(sluice_conn_guard_t *g)
{
    if (h2o_timeout_is_linked(&g->sweep_entry))
        h2o_timeout_unlink(&g->sweep_entry);
    h2o_timeout_dispose(g->ctx->loop, &g->sweep_timeout);
    h2o_timeout_dispose(g->ctx->loop, &g->defer_timeout);
}

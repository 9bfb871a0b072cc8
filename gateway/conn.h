/*
 * Client connections as the gateway guards them (docs/security.md): every accepted socket gets a
 * sluice_conn_t through h2o's socket on_close hook, so the gateway knows each connection from
 * accept to close, which h2o 2.2.5 itself does not tell an application.
 *
 *   - caps at accept: server.max_connections over the whole process and
 *     server.max_connections_per_ip per client address (trusted proxies exempt); over a cap the
 *     connection is accepted and closed at once (so the listener never stays readable and the
 *     loop never spins), and counted;
 *   - HTTP/2: requests in flight per connection, reset streams counted until their pipeline work
 *     has ended, refused past server.http2.max_requests_in_flight; streams abandoned before their
 *     answer (client resets, and h2o's own resets a client provokes) drain a per-connection
 *     bucket, and the connection is closed when it is empty;
 *   - the TLS context a connection was accepted with is held until it closes: h2o 2.2.5 keeps
 *     only its pointer and makes the connection's SSL when the first bytes arrive, and a reload
 *     may release that context in between;
 *   - a sweep every 500 ms closes connections whose request's head and body have not arrived
 *     within server.request_timeout_ms (HTTP/2 streams: h2o 2.2.5 has no per-stream deadline),
 *     or whose answer is stuck unsent (a zero flow-control window) long after.
 *
 * "Close" is shutdown(2) on the socket: h2o then reads end-of-file and closes the connection
 * through its own code (a GOAWAY is not reachable through h2o 2.2.5's public API).
 *
 * Threads: a connection belongs to the worker thread that accepted it; everything here runs on
 * that thread, except the per-address counts (sluice_conn_table_t), shared by all workers behind
 * one mutex taken only at accept and close.
 */
#ifndef SLUICE_GATEWAY_CONN_H
#define SLUICE_GATEWAY_CONN_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <h2o.h>
#if H2O_USE_LIBUV
#error "sluice needs h2o built for its own evloop: compile with -DH2O_USE_LIBUV=0"
#endif

#include "common/err.h"
#include "config/config.h"
#include "gateway/metrics.h"

/* Connections the metrics listener holds at once, over all workers (scrapers and probes need a
 * few; beyond it a new one is closed at accept and counted as metrics_max_connections). The
 * gateway keeps this many descriptors out of the clients' cap (server.c). */
#define SLUICE_CONN_OPS_MAX 64

/* Per client address connection counts, shared by the workers. */
typedef struct sluice_conn_table sluice_conn_table_t;

/* A table for at most max_connections connections in all (the cap sluice_conn_admit applies).
 * NULL when out of memory. */
sluice_conn_table_t *sluice_conn_table_create(unsigned max_connections);
void sluice_conn_table_destroy(sluice_conn_table_t *t);
/* Connections open now, over all workers. Any thread. */
unsigned sluice_conn_table_open(const sluice_conn_table_t *t);

/* The key a peer's connections are counted under: an IPv4 address (or an IPv4-mapped IPv6 one)
 * whole, an IPv6 address by its /64 (the block one host is given), as the per-client rate limits
 * count them. */
void sluice_conn_addr_key(const struct sockaddr *sa, uint8_t out[16]);
/* Takes one of key's per_ip places: 0, or -1 when it holds per_ip already. Any thread. */
int sluice_conn_table_acquire(sluice_conn_table_t *t, const uint8_t key[16], unsigned per_ip);
/* Gives a place taken by sluice_conn_table_acquire back. Any thread. */
void sluice_conn_table_release(sluice_conn_table_t *t, const uint8_t key[16]);

/* What one worker needs to guard its connections; owned by the worker. */
typedef struct sluice_conn_guard {
    sluice_conn_table_t *table;
    h2o_context_t *ctx;
    sluice_gw_metrics_t *metrics;
    h2o_linklist_t conns; /* every connection of this worker still open */
    h2o_timeout_t sweep_timeout;
    h2o_timeout_entry_t sweep_entry;
    h2o_timeout_t defer_timeout; /* zero delay: HTTP/2 requests start on the next loop turn */
    unsigned request_timeout_ms; /* a request's head and body must have arrived by then */
    unsigned answer_grace_ms;    /* and its answer must be out this long after that */
} sluice_conn_guard_t;

typedef struct sluice_conn {
    h2o_linklist_t link; /* in the guard's list while the socket is open */
    h2o_socket_t *sock;  /* NULL once closed */
    sluice_conn_guard_t *guard;
    uint8_t addr[16]; /* the peer's key (sluice_conn_addr_key) */
    int capped;       /* counts against the caps (client listeners; not the metrics listener) */
    int counted;      /* holds a place in the per-address table */
    unsigned refs;    /* 1 for the open socket, plus one per request in flight (HTTP/2) */
    unsigned in_flight;
    double reset_tokens; /* the HTTP/2 reset bucket */
    uint64_t reset_at_ms;
    int shut;     /* shutdown(2) already called */
    SSL_CTX *tls; /* the context it was accepted with, one reference held until it closes; or NULL */
} sluice_conn_t;

/* Sets up g on ctx's loop (the sweep runs from here on). */
void sluice_conn_guard_init(sluice_conn_guard_t *g, h2o_context_t *ctx, sluice_conn_table_t *table,
                            sluice_gw_metrics_t *metrics);
/* Stops the sweep; connections still open keep their records until they close. */
void sluice_conn_guard_dispose(sluice_conn_guard_t *g);

/* Takes a freshly accepted socket under guard: when capped, the table's cap over all connections
 * and cfg's per-address cap (cfg->trusted_proxies exempt); the metrics listener is not held to
 * them, so operators can still scrape a gateway that clients hold at its cap, but to its own
 * SLUICE_CONN_OPS_MAX (its descriptors come from the reserve kept below RLIMIT_NOFILE). tls is the context h2o_accept
 * will give the socket (NULL for plain HTTP): the connection takes a reference of its own, dropped when it closes.
 * Returns 0 when it may be handed to h2o_accept (its sluice_conn_t is attached), or -1 after closing it (over a cap, or
 * out of memory; counted). */
int sluice_conn_admit(sluice_conn_guard_t *g, h2o_socket_t *sock, const sluice_server_config_t *cfg, int capped,
                      SSL_CTX *tls);

/* Shuts every open connection of g down (at exit, so h2o closes them itself). */
void sluice_conn_shutdown_all(sluice_conn_guard_t *g);

/* The connection a request arrived on, or NULL (not one of ours). */
sluice_conn_t *sluice_conn_of(h2o_req_t *req);

/* Closes c (shutdown(2)); h2o then closes it. Counts why. Idempotent. */
void sluice_conn_close(sluice_conn_t *c, sluice_conn_refusal_t why);

/* HTTP/2 accounting. A request starts work on c: 0, or -1 when c already has guard->max in
 * flight (the caller answers 503 and does no work). Every successful start is matched by one
 * sluice_conn_end, when the request's work (pipeline, Kafka acknowledgements) has ended, whether
 * or not its client is still there; c stays allocated until then. */
int sluice_conn_begin(sluice_conn_t *c, unsigned max_in_flight);
void sluice_conn_end(sluice_conn_t *c);

/* A stream of c was abandoned before its answer: takes one token from c's reset bucket and
 * closes c when there is none. */
void sluice_conn_reset(sluice_conn_t *c, const sluice_rate_limit_t *resets);

/* The sweep's bounds, from the current config (worker thread). */
void sluice_conn_guard_set_limits(sluice_conn_guard_t *g, unsigned request_timeout_ms, unsigned answer_grace_ms);

#endif

/*
 * Gateway metrics in Prometheus text format. Every event-loop thread owns one
 * sluice_gw_metrics_t and is its only writer (relaxed atomic stores, no locks, no lock-prefixed
 * instructions on x86); a scrape sums all threads' blocks. Labels name routes, statuses,
 * reasons, normalisers and plugins, never values.
 */
#ifndef SLUICE_GATEWAY_METRICS_H
#define SLUICE_GATEWAY_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "identity/token.h" /* sluice_token_outcome_t: cross-domain token outcomes */

typedef _Atomic uint64_t sluice_counter_t;

/* Single-writer increment: a plain load/add/store, safe because only the owning thread writes. */
static inline void sluice_counter_add(sluice_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

typedef enum sluice_route {
    SLUICE_ROUTE_TRACK = 0,
    SLUICE_ROUTE_PAGE,
    SLUICE_ROUTE_SCREEN,
    SLUICE_ROUTE_IDENTIFY,
    SLUICE_ROUTE_GROUP,
    SLUICE_ROUTE_ALIAS,
    SLUICE_ROUTE_BATCH,
    SLUICE_ROUTE_PIXEL,
    SLUICE_ROUTE_EVENTS,
    SLUICE_ROUTE_XD,
    SLUICE_ROUTE_XD_REDEEM,
    SLUICE_ROUTE_TAG,
    SLUICE_ROUTE_PREFLIGHT,
    SLUICE_ROUTE_HEALTH,
    SLUICE_ROUTE_READY,
    SLUICE_ROUTE_METRICS,
    SLUICE_ROUTE_OTHER,
    SLUICE_ROUTE_COUNT,
} sluice_route_t;

const char *sluice_route_name(sluice_route_t r);

/* Statuses the gateway answers with; anything else counts as "other". */
#define SLUICE_METRIC_STATUSES                                                                                         \
    {                                                                                                                  \
        200, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503                                           \
    }
#define SLUICE_METRIC_STATUS_COUNT 15 /* the list above plus "other" */

/* Reasons an event is rejected (the error codes of the JSON answers). */
typedef enum sluice_reject_reason {
    SLUICE_REJECT_INVALID_JSON = 0,
    SLUICE_REJECT_INVALID_EVENT,
    SLUICE_REJECT_TOO_LARGE,
    SLUICE_REJECT_UNAUTHORIZED,
    SLUICE_REJECT_ORIGIN,
    SLUICE_REJECT_RATE_LIMITED,
    SLUICE_REJECT_KAFKA,
    SLUICE_REJECT_MASK,
    SLUICE_REJECT_DUPLICATE,
    SLUICE_REJECT_MEDIA_TYPE,
    SLUICE_REJECT_REPLAYED,
    SLUICE_REJECT_REPLAY_CHECK, /* Redis did not answer a signed request's replay check */
    SLUICE_REJECT_IN_FLIGHT,    /* a signed request sent again while the first still waits */
    SLUICE_REJECT_COUNT,
} sluice_reject_reason_t;

/* Which bucket refused a request (sluice_rate_limited_total{scope}). */
typedef enum sluice_limit_scope {
    SLUICE_LIMIT_KEY = 0, /* the write key's (source's) budget */
    SLUICE_LIMIT_CLIENT,  /* one client address's share of it */
    SLUICE_LIMIT_COUNT,
} sluice_limit_scope_t;

/* Why a connection was closed by the gateway rather than by its client (the edge guards). */
typedef enum sluice_conn_refusal {
    SLUICE_CONN_MAX = 0,      /* server.max_connections reached: closed at accept */
    SLUICE_CONN_PER_IP,       /* server.max_connections_per_ip reached: closed at accept */
    SLUICE_CONN_FD_LIMIT,     /* accept failed for want of file descriptors (the cap should prevent it) */
    SLUICE_CONN_RESETS,       /* HTTP/2: too many streams abandoned before their answer */
    SLUICE_CONN_SLOW_REQUEST, /* a request's head and body took longer than server.request_timeout_ms */
    SLUICE_CONN_OPS,          /* the metrics listener's SLUICE_CONN_OPS_MAX reached: closed at accept */
    SLUICE_CONN_REFUSAL_COUNT,
} sluice_conn_refusal_t;

#define SLUICE_ACK_BUCKETS 13 /* ms: 1 2 5 10 25 50 100 250 500 1000 2500 5000 10000, then +Inf */

typedef struct sluice_gw_metrics {
    sluice_counter_t requests[SLUICE_ROUTE_COUNT][SLUICE_METRIC_STATUS_COUNT];
    sluice_counter_t events_accepted;
    sluice_counter_t events_consent_dropped;
    sluice_counter_t events_rejected[SLUICE_REJECT_COUNT];
    sluice_counter_t ack_bucket[SLUICE_ACK_BUCKETS + 1];
    sluice_counter_t ack_count;
    sluice_counter_t ack_sum_us;
    sluice_counter_t kafka_delivery_failed;
    sluice_counter_t kafka_late_acks; /* events acknowledged after their request was answered 503 */
    sluice_counter_t kafka_lost;      /* events answered 2xx (ack: queued) that Kafka then refused */
    sluice_counter_t in_flight;       /* gauge: requests waiting for acks or Redis */
    sluice_counter_t hashed[SLUICE_NORM_RAW + 1];
    sluice_counter_t hash_failed;
    sluice_counter_t masked;
    sluice_counter_t mask_failed;
    sluice_counter_t dropped_fields;
    sluice_counter_t pii_detected; /* values the PII guard found personal data in (no rule names them) */
    sluice_counter_t pii_changed;  /* of those, masked, hashed or removed */
    sluice_counter_t tokens[SLUICE_TOKEN_OUTCOME_COUNT];
    sluice_counter_t rate_limited[SLUICE_LIMIT_COUNT];
    sluice_counter_t inflated;         /* request bodies gunzipped (only ever after authentication) */
    sluice_counter_t invalid_recorded; /* refused events recorded in kafka.invalid_topic */
    sluice_counter_t conn_closed[SLUICE_CONN_REFUSAL_COUNT];
    sluice_counter_t conn_open;            /* gauge: client connections of this thread */
    sluice_counter_t h2_refused_in_flight; /* HTTP/2 requests refused: their connection's cap was reached */
    sluice_counter_t h2_resets;            /* HTTP/2 streams abandoned before their answer */
    /* enrichment (gateway/enrichment.c) */
    sluice_counter_t bots[4];         /* bots detected, by the org's action (sluice_bots_action_t; [0] unused) */
    sluice_counter_t ua_cache_hits;   /* user agents answered by the thread's cache */
    sluice_counter_t ua_cache_misses; /* ... and by the regexes */
    sluice_counter_t geo[2];          /* lookups: [0] found, [1] unknown address */
    sluice_counter_t sessions_started;
    /* TLS (crypto/tls.h's handshake reports): whether resumption works, also across a fleet */
    sluice_counter_t tls_handshakes[2][2];   /* [TLS 1.2, TLS 1.3][full, resumed] */
    sluice_counter_t tls_tickets_refused[2]; /* [a key not held, opened but not resumed] */
} sluice_gw_metrics_t;

void sluice_metrics_count_request(sluice_gw_metrics_t *m, sluice_route_t route, int status);
void sluice_metrics_observe_ack(sluice_gw_metrics_t *m, uint64_t micros);

/* Extra lines a scrape appends (gauges that live elsewhere: queue depth, plugin errors...).
 * Writes into buf[0..cap) and returns the length written. */
typedef size_t (*sluice_metrics_extra_fn)(void *ud, char *buf, size_t cap);

/* Renders the sum of n per-thread blocks as Prometheus text into a malloc'd string (caller
 * frees) and its length. Any thread. */
char *sluice_metrics_render(sluice_gw_metrics_t *const *blocks, size_t n, sluice_metrics_extra_fn extra, void *ud,
                            size_t *len);

#endif

/*
 * The worker's metrics and its /metrics endpoint (Prometheus text format, plain HTTP on
 * `delivery.metrics.listen`; also /healthz). Counters are plain integers: the loop thread is the
 * only writer and the only reader (the endpoint is served on the same loop). Labels are vendor
 * names and fixed outcome words, never event values.
 */
#ifndef SLUICE_VENDORS_METRICS_H
#define SLUICE_VENDORS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config.h"
#include "vendors/loop.h"
#include "vendors/vendor.h"

typedef enum sluice_outcome {
    SLUICE_OUTCOME_DELIVERED = 0, /* the vendor accepted it */
    SLUICE_OUTCOME_DEAD,          /* dead-lettered */
    SLUICE_OUTCOME_SKIPPED,       /* the vendor has no use for this event type */
    SLUICE_OUTCOME_FILTERED,      /* the integration's event/type/consent filter left it out */
    SLUICE_OUTCOME_SUPPRESSED,    /* a forgotten person's (vendors/suppress.h): once per vendor, not per integration */
    SLUICE_OUTCOME_UNROUTED,      /* of an org this worker's config does not have: once per vendor */
    SLUICE_OUTCOME_COUNT
} sluice_outcome_t;

typedef enum sluice_req_outcome {
    SLUICE_REQ_OK = 0,
    SLUICE_REQ_RETRY,  /* failed, will be retried */
    SLUICE_REQ_FAILED, /* failed for good (its events went to the DLQ) */
    SLUICE_REQ_COUNT
} sluice_req_outcome_t;

typedef enum sluice_vault_outcome {
    SLUICE_VAULT_READ_OK = 0,
    SLUICE_VAULT_READ_NOT_FOUND,
    SLUICE_VAULT_READ_DECRYPT_FAILED,
    SLUICE_VAULT_READ_ERROR,
    SLUICE_VAULT_READ_COUNT
} sluice_vault_outcome_t;

#define SLUICE_HIST_MAX 16

typedef struct sluice_hist {
    uint64_t buckets[SLUICE_HIST_MAX]; /* cumulative counts are computed when rendering */
    uint64_t count;
    double sum;
} sluice_hist_t;

typedef struct sluice_dmetrics {
    uint64_t consumed[SLUICE_VENDOR_COUNT];
    uint64_t events[SLUICE_VENDOR_COUNT][SLUICE_OUTCOME_COUNT];
    uint64_t requests[SLUICE_VENDOR_COUNT][SLUICE_REQ_COUNT];
    uint64_t retries[SLUICE_VENDOR_COUNT];
    uint64_t dlq[SLUICE_VENDOR_COUNT];
    uint64_t vault_reads[SLUICE_VAULT_READ_COUNT];
    /* The consumer group's life, counted where it is logged: kafka.assignment_lost (partitions
     * taken back uncommitted: what was finished since the last commit is delivered again) and
     * kafka.commit_failed (offsets not stored; a periodic one is tried again 500 ms later). */
    uint64_t assignments_lost[SLUICE_VENDOR_COUNT];
    uint64_t commit_failures[SLUICE_VENDOR_COUNT];
    sluice_hist_t batch_events[SLUICE_VENDOR_COUNT];
    sluice_hist_t request_seconds[SLUICE_VENDOR_COUNT];
    /* Gauges, refreshed by the worker just before rendering. */
    int64_t lag[SLUICE_VENDOR_COUNT];
    int lane_active[SLUICE_VENDOR_COUNT];
    uint64_t in_flight;
    uint64_t pending_events;
} sluice_dmetrics_t;

void sluice_dmetrics_batch(sluice_dmetrics_t *m, sluice_vendor_kind_t v, size_t events);
void sluice_dmetrics_latency(sluice_dmetrics_t *m, sluice_vendor_kind_t v, double seconds);

/* The Prometheus text of m. Caller frees; NULL when out of memory. */
char *sluice_dmetrics_render(const sluice_dmetrics_t *m, size_t *len);

typedef struct sluice_metrics_server sluice_metrics_server_t;

/* Called before each /metrics answer so the owner can refresh gauges. */
typedef void (*sluice_metrics_refresh_cb)(void *ud);

/* Listens on addr and serves GET /metrics and /healthz from the loop. Returns NULL with a
 * message in err (e.g. the port is taken). */
sluice_metrics_server_t *sluice_metrics_server_start(sluice_loop_t *loop, const sluice_listen_t *addr,
                                                     const sluice_dmetrics_t *m, sluice_metrics_refresh_cb refresh,
                                                     void *ud, sluice_err_t *err);

/* Closes the listener and every open connection. NULL is allowed. */
void sluice_metrics_server_stop(sluice_metrics_server_t *s);

#endif

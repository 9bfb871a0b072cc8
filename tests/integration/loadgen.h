/*
 * A load generator for fault runs: several client threads post events to a real sluice-gateway
 * over HTTPS keep-alive (libcurl, one easy handle per thread), single events and batches, each
 * event with a unique messageId "<prefix>-<thread>-<seq>". Like a real client it retries what the
 * gateway asks it to retry (503 and 429, after their Retry-After) and connection errors (with a
 * short backoff), each event for a bounded time; anything else is counted as unexpected and not
 * retried. It remembers which events were answered 2xx, so a test can count them afterwards in
 * Kafka or at a vendor stub.
 *
 * Threads: loadgen_start, loadgen_stop and the readers run on the test thread; the client threads
 * only touch their own state until loadgen_stop has joined them. The harness is never called from
 * a client thread (its children must be started by the test thread). curl_global_init must have
 * run before loadgen_start.
 */
#ifndef SLUICE_TESTS_INTEGRATION_LOADGEN_H
#define SLUICE_TESTS_INTEGRATION_LOADGEN_H

#include <stddef.h>

typedef struct loadgen loadgen_t;

typedef struct loadgen_opts {
    const char *url;        /* https://127.0.0.1:<port><prefix>: "/t" and "/batch" are appended */
    const char *ca;         /* the test CA */
    const char *write_key;  /* sent as Bearer */
    const char *id_prefix;  /* messageIds "<id_prefix>-<thread>-<seq>" */
    const char *event_name; /* the track events' `event` */
    const char *user_agent; /* User-Agent of every request; NULL: libcurl sends none */
    int threads;            /* client threads, 1..16 */
    int batch_every;        /* every Nth request of a thread is a batch (0: only single events) */
    int batch_size;         /* events per batch, 2..100 */
    int pace_ms;            /* pause between two requests of a thread (0: none) */
    long retry_for_ms;      /* how long one request is retried before it is given up */
    int retry_bad_gateway;  /* behind a load balancer: retry 502 and 504 like a connection error */
} loadgen_opts_t;

/* What the clients saw, summed over threads. */
typedef struct loadgen_stats {
    long requests;         /* HTTP attempts, retries included */
    long events;           /* distinct events posted */
    long acked;            /* events answered 2xx (and not in a batch's `rejected`) */
    long retries;          /* attempts repeated after 503, 429 or a connection error */
    long given_up;         /* events never answered 2xx within retry_for_ms */
    long s503, s429;       /* answers that asked for a retry */
    long conn_errors;      /* connection refused, reset, timeouts, TLS errors */
    long s502;             /* 502/504 from a load balancer (retried with retry_bad_gateway) */
    long unexpected;       /* any other non-2xx answer (never retried) */
    long rejected;         /* events a 2xx batch answer listed as rejected */
    long first_unexpected; /* the status of the first unexpected answer, 0 if none */
    long no_retry_after;   /* 503 and 429 answers without a Retry-After header */
    long elapsed_ms;       /* from loadgen_start until the last thread finished */
} loadgen_stats_t;

/* Starts the client threads. Returns NULL (with a message on stderr) if a thread or the memory
 * cannot be had. The opts strings must outlive the run. */
loadgen_t *loadgen_start(const loadgen_opts_t *o);

/* Events answered 2xx so far (a running count, read while the load runs). */
long loadgen_acked_now(const loadgen_t *lg);

/* Tells the threads to start no new event, lets each finish the one it is retrying (bounded by
 * retry_for_ms) and joins them. Idempotent. */
void loadgen_stop(loadgen_t *lg);

/* The totals; valid after loadgen_stop. */
loadgen_stats_t loadgen_stats(const loadgen_t *lg);

/* Calls seen(ud, id) for every event answered 2xx (after loadgen_stop) and returns how many of
 * them it said 0 for; at most print_max of those are printed on stderr. */
long loadgen_count_missing(const loadgen_t *lg, int (*seen)(void *ud, const char *id), void *ud, int print_max);

/* Frees everything (stops first if needed). Accepts NULL. */
void loadgen_destroy(loadgen_t *lg);

#endif

/*
 * The gateway process: listeners, TLS, N event-loop threads each with its own h2o context,
 * Kafka producer and metrics block, and the main thread that handles signals (SIGHUP reload,
 * SIGTERM/SIGINT drain and exit).
 *
 * Threads: sluice_gateway_run runs on the main thread and owns the gateway; each worker's
 * fields are touched only by that worker's thread, except where noted.
 */
#ifndef SLUICE_GATEWAY_SERVER_H
#define SLUICE_GATEWAY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include <h2o.h>
#if H2O_USE_LIBUV
#error "sluice needs h2o built for its own evloop: compile with -DH2O_USE_LIBUV=0"
#endif

#include "common/err.h"
#include "gateway/conn.h"
#include "gateway/limiter.h"
#include "gateway/metrics.h"
#include "gateway/producer.h"
#include "gateway/runtime.h"

typedef struct sluice_gateway sluice_gateway_t;
typedef struct sluice_identity_thread sluice_identity_thread_t;
typedef struct sluice_live sluice_live_t;
typedef struct sluice_forgotten sluice_forgotten_t;

enum { SLUICE_LISTENER_HTTPS = 0, SLUICE_LISTENER_HTTP = 1, SLUICE_LISTENER_METRICS = 2, SLUICE_LISTENER_COUNT = 3 };

typedef struct sluice_worker {
    sluice_gateway_t *gw;
    unsigned index;
    pthread_t thread;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept[SLUICE_LISTENER_COUNT];
    int listen_fd[SLUICE_LISTENER_COUNT]; /* -1 when that listener is off */
    h2o_socket_t *listen_sock[SLUICE_LISTENER_COUNT];
    h2o_multithread_receiver_t control; /* runtime swaps and stop, from the main thread */
    sluice_producer_t *producer;
    sluice_runtime_t *rt;               /* this thread's current runtime (one reference) */
    atomic_uint_fast64_t rt_generation; /* rt's generation, for the main thread: a reload is said done once every
                                           loop serves it */
    sluice_gw_metrics_t metrics;        /* written by this thread only; read by scrapes */
    h2o_timeout_t ack_timeout;          /* requests waiting for Kafka give up after this */
    sluice_identity_thread_t *identity; /* Redis client and identity state of this thread */
    size_t in_flight;
    struct pending *pending_pool; /* records of finished requests kept for the next ones (ingest.c) */
    unsigned pending_pooled;
    int stopping;
    int running;                     /* set by the thread once it serves; read by the main thread after `started` */
    uint64_t drain_deadline_ms;      /* on the monotonic clock (sluice_mono_ms) */
    sluice_conn_guard_t guard;       /* this thread's connections and their guards (conn.h) */
    sluice_client_limits_t *clients; /* per-client rate-limit buckets of this thread (limiter.h) */
    h2o_timeout_t accept_resume;     /* accepting paused after EMFILE resumes after this */
    h2o_timeout_entry_t accept_resume_entry;
    sluice_piiguard_thread_t *pii; /* the PII guard's scanner and findings; freed after the join (scrapes read it) */
    /* producer and identity as other threads' scrapes and /readyz read them: set once both are
     * made, closed (not freed) by this thread when it stops, freed after the join. The worker's
     * own fields go NULL when it stops; a scrape served by another worker still draining read
     * them after they were freed. */
    _Atomic(sluice_producer_t *) shown_producer;
    _Atomic(sluice_identity_thread_t *) shown_identity;
    h2o_timeout_t pii_flush; /* findings go to Redis for `sluicectl privacy inbox` this often */
    h2o_timeout_entry_t pii_flush_entry;
} sluice_worker_t;

struct sluice_gateway {
    char *config_path;
    unsigned nthreads;
    sluice_worker_t *workers;
    h2o_globalconf_t h2o;
    h2o_globalconf_t h2o_ops;           /* the metrics listener's hosts: operations routes only */
    SSL_CTX *ssl;                       /* the HTTPS listener's TLS context made at start (a reload makes its own) */
    struct sluice_tls_tickets *tickets; /* session-ticket keys of every context, kept across reloads */
    int http2;                          /* server.https.http2 at start: ALPN offers what the h2o setup serves */
    struct sluice_secrets *secrets;     /* key material and the Redis password (secrets.h) */
    sluice_runtime_t *current;          /* main thread's reference to the newest runtime */
    int64_t started_ms;
    atomic_int ready;                         /* config loaded and workers running */
    sluice_limiter_t *limiter;                /* per-source buckets, kept across reloads */
    struct sluice_plugin_tally *plugin_tally; /* the plugins' counters, kept across reloads (plugins/set.h) */
    sluice_conn_table_t *conns;               /* connection counts per address, and the cap over all */
    sluice_forgotten_t *forgotten;            /* the suppression list of `sluicectl forget` (gateway/forgotten.h) */
    atomic_uint_fast64_t reloads_ok, reloads_failed;
    /* For /metrics on the loop threads, which must not read current (the main thread drops it). */
    atomic_uint_fast64_t generation;      /* current's */
    atomic_int last_reload_ok;            /* 0 from a refused reload until the next good one */
    atomic_int_fast64_t config_loaded_ms; /* when current was loaded */
    atomic_int_fast64_t tls_not_after;    /* the served certificate's notAfter (Unix s); 0 without HTTPS */
    sluice_live_t *live;                  /* the live view's store (live.h); NULL when SLUICE_LIVE_TOKEN is unset */
};

/* Loads the config, opens the listeners, starts the workers, and serves until SIGTERM/SIGINT,
 * reloading on SIGHUP. Returns the process exit status (0 after a clean drain). Messages for
 * start-up failures go to the log and to err. Main thread; blocks SIGTERM/SIGINT/SIGHUP/SIGPIPE
 * in every thread it starts. */
int sluice_gateway_run(const char *config_path, sluice_err_t *err);

/* The worker running on the calling thread (NULL on other threads). */
sluice_worker_t *sluice_worker_self(void);

#endif

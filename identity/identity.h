/*
 * Identity for the gateway (data flow step 6): who the visitor is, across requests and the
 * org's domains. Per event-loop thread there is one sluice_identity_thread_t holding that
 * thread's Redis client. Per request, a sluice_identity_job_t carries the request's events
 * through the identity work that needs Redis (messageId dedup lookups), calling back on the
 * loop thread when done; nothing here blocks, and a Redis outage never fails ingestion.
 *
 * Loop thread of the request, except sluice_identity_needs_keys (main thread, at start-up).
 */
#ifndef SLUICE_IDENTITY_IDENTITY_H
#define SLUICE_IDENTITY_IDENTITY_H

#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "identity/redis.h"

typedef struct sluice_keyring sluice_keyring_t;

typedef struct sluice_identity_thread {
    h2o_loop_t *loop;
    sluice_redis_t *redis;         /* NULL when no Redis is configured */
    const sluice_keyring_t *keys;  /* NULL when ENCRYPTION_KEY is not set */
    _Atomic uint64_t redis_errors; /* commands that failed or timed out; written by this thread only */
} sluice_identity_thread_t;

/* Creates the thread's identity state and starts connecting to Redis (in the background) when
 * cfg names one. Returns NULL with err set. Free with sluice_identity_thread_destroy. */
sluice_identity_thread_t *sluice_identity_thread_create(const sluice_config_t *cfg, h2o_loop_t *loop,
                                                        const sluice_keyring_t *keys, sluice_err_t *err);
void sluice_identity_thread_destroy(sluice_identity_thread_t *t);

/* 1 when some org needs ENCRYPTION_KEY (cross-domain tokens). */
int sluice_identity_needs_keys(const sluice_config_t *cfg);

typedef struct sluice_identity_job sluice_identity_job_t;

struct sluice_identity_job {
    /* inputs, set by the caller */
    const sluice_org_t *org;
    json_t *events;              /* array of validated events (borrowed, not modified by run) */
    void (*done)(sluice_identity_job_t *job);
    /* outputs */
    uint8_t *duplicate;          /* [json_array_size(events)]: 1 for a messageId seen within the window */
    /* private */
    sluice_identity_thread_t *t;
    unsigned waiting;
};

/* Runs the Redis work of a job (dedup lookups when the org enables them) and calls job->done
 * exactly once, on this thread, possibly before returning. Returns 0, or -1 when out of memory
 * (then done is not called). */
int sluice_identity_run(sluice_identity_thread_t *t, sluice_identity_job_t *job);

/* Frees the job's outputs. */
void sluice_identity_job_dispose(sluice_identity_job_t *job);

/* Gives an event without anonymousId and userId a new random anonymousId. Returns 0 or -1 when
 * no random bytes were available. */
int sluice_identity_assign(json_t *event);

/* After Kafka acknowledged event: remembers its messageId for the org's dedup window
 * (fire and forget; a failure only means a later duplicate is not caught). */
void sluice_identity_remember(sluice_identity_thread_t *t, const sluice_org_t *org, const char *message_id);

#endif

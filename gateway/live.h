/*
 * The live view's store (docs/privacy.md, "Live view"): what the gateway produced to Kafka
 * lately, per org and source, for the read-only page on the metrics listener (liveview.c).
 *
 * Each event-loop thread writes its own rings: per (org, source) the last SLUICE_LIVE_SLOTS
 * envelopes it produced, the very bytes sent to Kafka (already through the data layer), so the
 * hot path costs one copy of the envelope into a slot, no lock and no allocation after a source's
 * first event. A reader on any thread merges every thread's rings; each slot is a sequence lock
 * (odd while written), so a reader never sees a torn envelope: it skips a slot being rewritten.
 *
 * The store exists only when SLUICE_LIVE_TOKEN is set (the page's bearer token); without it the
 * gateway keeps nothing and the page answers 404.
 */
#ifndef SLUICE_GATEWAY_LIVE_H
#define SLUICE_GATEWAY_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SLUICE_LIVE_SLOTS      32    /* envelopes kept per (org, source) per thread */
#define SLUICE_LIVE_SLOT_BYTES 16384 /* a longer envelope is listed with its size only */
#define SLUICE_LIVE_STREAMS    64    /* (org, source) pairs per thread; events of more are not kept */
#define SLUICE_LIVE_TOKEN_MIN  16    /* shortest SLUICE_LIVE_TOKEN accepted */

typedef struct sluice_live sluice_live_t;

/* Reads SLUICE_LIVE_TOKEN, then removes it from the environment and wipes it. Unset or empty:
 * *out = NULL (no live view) and 0. Set: a store for nthreads threads holding only the token's
 * SHA-256, and 0. -1 with err when the token is shorter than SLUICE_LIVE_TOKEN_MIN or out of
 * memory. Main thread, before the workers start; free with
 * sluice_live_destroy once they stopped. */
int sluice_live_from_env(unsigned nthreads, sluice_live_t **out, sluice_err_t *err);

/* A store with the given token (tests). NULL when out of memory. */
sluice_live_t *sluice_live_create(unsigned nthreads, const char *token, size_t token_len);

/* NULL allowed. No thread may use the store any more. */
void sluice_live_destroy(sluice_live_t *l);

/* Keeps a copy of the envelope payload[0..len) produced by event-loop thread `thread` for org and
 * source. l NULL: nothing (the live view is off). Thread `thread` only. */
void sluice_live_record(sluice_live_t *l, unsigned thread, const char *org, const char *source, const char *payload,
                        size_t len);

/* 1 when the token token[0..len) is the store's, compared in constant time (of the digests). Any
 * thread. */
int sluice_live_token_ok(const sluice_live_t *l, const char *token, size_t len);

/* The kept envelopes of org (NULL: every org) and source (NULL: every source) numbered after
 * `after` and before any event still being written by a thread (those come next time), at most
 * SLUICE_LIVE_SLOTS per (org, source), oldest first, as a JSON document:
 *   {"next":N,"events":[{"id":N,"at":"<RFC 3339>","org":..,"source":..,"bytes":N,
 *                        "envelope":{...}|null}]}
 * where "next" is the number to pass as `after` next time and "envelope" is null for one longer
 * than SLUICE_LIVE_SLOT_BYTES. Returns a malloc'd NUL-terminated string and its length in *len,
 * or NULL when out of memory. Any thread. */
char *sluice_live_collect(const sluice_live_t *l, const char *org, const char *source, uint64_t after, size_t *len);

/* Says whether a kept envelope (len bytes of JSON, org's) is left out of an answer. */
typedef int (*sluice_live_skip_fn)(void *ud, const char *org, const char *envelope, size_t len);

/* sluice_live_collect, leaving out each envelope for which skip (NULL: none) says 1. */
char *sluice_live_collect_except(const sluice_live_t *l, const char *org, const char *source, uint64_t after,
                                 sluice_live_skip_fn skip, void *ud, size_t *len);

#endif

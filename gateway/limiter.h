/*
 * Rate limits that outlive a config reload: one token bucket per source (the write key's
 * budget) and one per client address per source. Buckets are keyed by "org/source", not by the
 * runtime that happens to be current, so a SIGHUP neither refills an attacker's bucket nor
 * empties a legitimate client's.
 *
 * Source buckets live in the gateway-wide limiter: the main thread creates a slot per source
 * while it builds a runtime (before workers can see that runtime), and the runtime gives it back
 * when it is freed, so a slot lives as long as some runtime names its source; each
 * worker thread then only touches its own bucket of a slot, refilled at per_second / threads,
 * so no bucket is ever shared. Client buckets live in a per-thread table (sluice_client_limits_t)
 * that each worker owns: a client is limited per thread at the full rate, so one that spreads
 * its connections over threads can reach up to threads x the rate (the bound docs/security.md
 * states), and nothing is shared or locked. The table is bounded; it forgets the buckets that
 * have refilled (indistinguishable from new ones) first. IPv6 clients are keyed by their /64,
 * the block one subscriber holds.
 */
#ifndef SLUICE_GATEWAY_LIMITER_H
#define SLUICE_GATEWAY_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Sources named at once by the runtimes alive (the config served, and during a reload the one
 * replacing it). 4096 refused to start a gateway of 2,000 orgs with three write keys each, a
 * config `sluicectl config check` passed. The slot table is one allocation whose pages the
 * kernel gives only as they are first written: a gateway of a few sources pays for a few. */
#define SLUICE_LIMITER_MAX_SLOTS 65536

typedef struct sluice_limiter sluice_limiter_t;
typedef struct sluice_client_limits sluice_client_limits_t;

/* A limiter for nthreads worker threads; NULL when out of memory. Main thread. */
sluice_limiter_t *sluice_limiter_create(unsigned nthreads);
void sluice_limiter_destroy(sluice_limiter_t *l);

/* The slot of source `source` of org `org`, created (with full buckets) on first use, and one
 * reference to it (a runtime's). The handle is the same for as long as runtimes name the source;
 * a slot freed and taken again by any source (the same or another) is another handle, so the
 * clients' buckets (sluice_client_limits_allow, keyed by it) start full there too. -1 when
 * SLUICE_LIMITER_MAX_SLOTS sources are named by runtimes alive, or out of memory. Main thread
 * only. */
int sluice_limiter_slot(sluice_limiter_t *l, const char *org, const char *source);

/* Drops a reference sluice_limiter_slot gave (slot < 0: nothing). The last one frees the slot for
 * another source: a source removed by a reload and named again later starts with full buckets,
 * its own and its clients'.
 * Any thread (the last runtime naming it may be freed on an event-loop thread). */
void sluice_limiter_release(sluice_limiter_t *l, int slot);

/* Takes a token from thread `thread`'s bucket of slot (rate rl->per_second / nthreads, burst
 * rl->burst / nthreads, at least 1). 1 when allowed; always 1 when rl->per_second is 0. Thread
 * `thread` only. */
int sluice_limiter_allow(sluice_limiter_t *l, int slot, unsigned thread, const sluice_rate_limit_t *rl,
                         uint64_t now_ms);

/* A per-thread table of at most `capacity` client buckets (rounded up to a power of two).
 * NULL when out of memory. The owning thread only, for everything below. */
sluice_client_limits_t *sluice_client_limits_create(size_t capacity);
void sluice_client_limits_destroy(sluice_client_limits_t *t);

/* Takes a token from the bucket of (slot, the client address `ip` in text: IPv4 or IPv6). 1 when
 * allowed; always 1 when rl->per_second is 0 or ip is not an address. */
int sluice_client_limits_allow(sluice_client_limits_t *t, int slot, const char *ip, const sluice_rate_limit_t *rl,
                               uint64_t now_ms);

/* Buckets the table holds now (for tests and metrics). */
size_t sluice_client_limits_count(const sluice_client_limits_t *t);

#endif

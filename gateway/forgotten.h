/*
 * The gateway's copy of the suppression list (docs/privacy.md, "Deletion and suppression"):
 * pseudonyms of the ids `sluicectl forget` named, per org. The pipeline drops an event that
 * carries one of them (counted in sluice_events_suppressed_total{org}; the client still gets
 * its normal 200, so a forgotten visitor's page keeps working).
 *
 * The event loops never wait on Redis for it: a background thread of its own reads the set
 * from Redis (identity/forget.h: `sluice:suppress`, reloaded only when `sluice:suppress:gen`
 * changed; with SSCAN, so that a list of a million never holds Redis for long) every
 * forget.refresh_ms with a synchronous client, builds an immutable set and
 * publishes it; a loop thread picks up a new set with one atomic load per check (and a short
 * lock only when it changed). When Redis is unreachable the last set loaded stays in force and
 * the outage is logged once (again when Redis is back). Without redis.url the list is empty.
 *
 * Threads: create and destroy on the main thread (destroy after the loop threads ended);
 * sluice_forgotten_match from loop thread `thread` only; sluice_forgotten_metrics from any.
 */
#ifndef SLUICE_GATEWAY_FORGOTTEN_H
#define SLUICE_GATEWAY_FORGOTTEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "crypto/pseudonym.h"
#include "json/jv.h"

typedef struct sluice_forgotten sluice_forgotten_t;

/* Loads the list once from cfg's Redis (bounded by a 2 s timeout per command; an unreachable
 * Redis gives an empty list, a log line and sluice_forgotten_loaded 0 until the refresher reads
 * it) and starts the refresher for nthreads loop threads, which connects with redis_password
 * (NULL: none; copied, wiped at destroy), the username and the key prefix of cfg. Returns NULL
 * with err set when out of memory or the thread cannot start. The config is read here only. */
sluice_forgotten_t *sluice_forgotten_create(const sluice_config_t *cfg, unsigned nthreads, const char *redis_password,
                                            sluice_err_t *err);

/* Puts set (sealed; f takes it over, on failure too) in force as the list, as a refresh does: for
 * a gateway without Redis, in tests and fuzz targets (with Redis, the refresher replaces it when
 * the list there changes). 0, or -1 when out of memory. Main thread, before the loop threads
 * check (they pick it up as they pick up a refresh). */
int sluice_forgotten_use(sluice_forgotten_t *f, sluice_pseudonym_set_t *set);

/* Stops the refresher and frees everything. NULL allowed. */
void sluice_forgotten_destroy(sluice_forgotten_t *f);

/* 1 when the event (validated, after identity, before the data layer: the ids as the client
 * sent them) carries an id whose pseudonym under the org's key is on the org's list; the event
 * is then counted as suppressed. 0 otherwise (and at once, hashing nothing, when the org has no
 * list). f may be NULL (nothing is suppressed). */
int sluice_forgotten_match(sluice_forgotten_t *f, unsigned thread, const char *org,
                           const uint8_t key[SLUICE_PSEUDONYM_LEN], json_t *event);

/* 1 when the event carries an id on the org's list, like sluice_forgotten_match, but nothing is
 * counted: what the gateway shows (the live view), not an event it drops. Loop thread `thread`. */
int sluice_forgotten_known(sluice_forgotten_t *f, unsigned thread, const char *org,
                           const uint8_t key[SLUICE_PSEUDONYM_LEN], json_t *event);

/* sluice_forgotten_match, _known and _subject for an event held as arena values (json/jv.h;
 * issue 17, the request path's): the same ids read (a string's bytes by its length:
 * a jv string is not NUL-terminated), the same answers, the same counting. Threads as above. */
int sluice_forgotten_match_jv(sluice_forgotten_t *f, unsigned thread, const char *org,
                              const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_jv_t *event);
int sluice_forgotten_known_jv(sluice_forgotten_t *f, unsigned thread, const char *org,
                              const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_jv_t *event);
size_t sluice_forgotten_subject_jv(const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_jv_t *event, char *out, size_t cap);

/* 1 when the one id (of any kind) has its pseudonym on the org's list; nothing is counted.
 * Identity asks it before writing a link or a claim naming the id. Loop thread `thread`. */
int sluice_forgotten_id_known(sluice_forgotten_t *f, unsigned thread, const char *org,
                              const uint8_t key[SLUICE_PSEUDONYM_LEN], const char *id);

/* 1 once the list has been read from Redis (or no Redis is configured, or f is NULL); 0 while
 * the gateway enforces the empty list it started with because Redis has not answered yet: /readyz
 * is then 503, so that a load balancer sends nobody's events through a gateway that would pass
 * those of every forgotten person. Any thread. */
int sluice_forgotten_loaded(sluice_forgotten_t *f);

/* Pseudonyms on the list in force, every org's (0 for a NULL f). Any thread. */
size_t sluice_forgotten_size(sluice_forgotten_t *f);

/* The pseudonyms of the event's ids as a dedup key records them (crypto/pseudonym.h,
 * sluice_pseudonym_subject), into out (cap bytes). Any thread. */
size_t sluice_forgotten_subject(const uint8_t key[SLUICE_PSEUDONYM_LEN], json_t *event, char *out, size_t cap);

/* Prometheus lines: sluice_events_suppressed_total{org}, the list's size and refresh failures.
 * Writes into buf[0..cap) and returns the length it needed (as snprintf). */
size_t sluice_forgotten_metrics(sluice_forgotten_t *f, char *buf, size_t cap);

#endif

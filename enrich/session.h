/*
 * Sessions from a first-party cookie the gateway sets: the session's id (128 random bits, hex),
 * its number (1 for a browser's first session, then counting up), when it started and when the
 * browser was last seen. A session ends after the org's inactivity timeout; the next event then
 * starts session number + 1 with a new id. The cookie is HMAC'd with a key of its own purpose
 * (crypto/hkdf.h SLUICE_KEY_PURPOSE_SESSION), bound to the org, so a client can neither forge
 * nor replay another org's:
 *
 *     1.<id>.<number>.<start_s>.<last_s>.<base64url(kid ‖ HMAC-SHA256(key kid,
 *         "sluice-session-v1" 0x00 org 0x00 "1.<id>.<number>.<start_s>.<last_s>")[0..16))>
 *
 * Time comes from the caller (now_s), so tests move the clock. Pure functions; any thread.
 */
#ifndef SLUICE_ENRICH_SESSION_H
#define SLUICE_ENRICH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keyring.h"

#define SLUICE_SESSION_ID_LEN 32
/* Longest cookie value sluice_session_sign writes (NUL not counted). */
#define SLUICE_SESSION_VALUE_MAX 112

typedef struct sluice_session {
    char id[SLUICE_SESSION_ID_LEN + 1];
    uint32_t number;
    int64_t start_s; /* Unix seconds */
    int64_t last_s;
} sluice_session_t;

/* Checks value[0..len) of org under the ring: on a valid MAC under one of its keys fills out and
 * returns 0; else -1 (malformed, altered, another org's, an unknown key id, kr NULL). The MAC
 * compare is constant-time. */
int sluice_session_verify(const sluice_keyring_t *kr, const char *org, const char *value, size_t len,
                          sluice_session_t *out);

/* Writes s's cookie value under the ring's primary key into out (cap bytes, NUL added). Returns
 * the length, or -1 (no primary key, out too small, OpenSSL failed). */
int sluice_session_sign(const sluice_keyring_t *kr, const char *org, const sluice_session_t *s, char *out, size_t cap);

/* A loop thread's memory of cookie values it verified or signed (direct-mapped, `slots`
 * entries; 0: 1024), so the cookie a browser sends with each of its events costs one hash and one
 * compare instead of an HMAC. Only exact values that passed sluice_session_verify (or that
 * sluice_session_sign wrote) under the same org are found. One thread at a time. */
typedef struct sluice_session_cache sluice_session_cache_t;
sluice_session_cache_t *sluice_session_cache_create(size_t slots);
void sluice_session_cache_destroy(sluice_session_cache_t *c);

/* sluice_session_verify through c: a value c holds for org answers without a MAC; a value that
 * verifies is remembered. Same returns. */
int sluice_session_verify_cached(sluice_session_cache_t *c, const sluice_keyring_t *kr, const char *org,
                                 const char *value, size_t len, sluice_session_t *out);

/* Remembers value[0..len) (just signed) as org's cookie for s. */
void sluice_session_cache_put(sluice_session_cache_t *c, const char *org, const char *value, size_t len,
                              const sluice_session_t *s);

/* Moves s to now_s: a session whose last event is more than timeout_s ago, one from the future
 * beyond a minute of clock skew, or none at all (have 0) is replaced by a new one (a new id,
 * number + 1, start now); otherwise it goes on. Returns
 *    1  a new session started (the cookie must be written),
 *    0  it went on and last_s moved to now_s (the cookie must be written),
 *    2  it went on within the refresh interval, s unchanged (the cookie stays as it is),
 *   -1  no random bytes were available.
 * The refresh interval (timeout_s / 30, at most 60 s) saves signing and sending a cookie on
 * every event: last-seen then lags by at most that much, so a session may end that much early
 * (a minute of a 30-minute timeout). */
int sluice_session_advance(sluice_session_t *s, int have, int64_t now_s, unsigned timeout_s);

#endif

/*
 * The worker's cache of decrypted vault credentials: plaintext lives only here, parsed, for
 * `delivery.credentials_ttl_s` after it was read; an expired or evicted entry is wiped
 * (OPENSSL_cleanse) before its memory is freed, at the latest one more TTL later. An expired entry
 * asked for again within that time is kept while the vault is read for it: when PostgreSQL cannot
 * answer, the worker goes on with it for another TTL (sluice_credcache_renew) rather than failing
 * every delivery that needs it.
 *
 * jansson frees its strings without wiping them, so a process that parses secrets with jansson
 * installs sluice_secret_allocator_install() first: every block jansson frees is then wiped
 * (a small cost on every JSON free, paid for not leaving tokens in freed heap).
 *
 * Threading: one thread (the worker's loop, or sluicectl's main thread).
 */
#ifndef SLUICE_VENDORS_CREDCACHE_H
#define SLUICE_VENDORS_CREDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"

typedef struct sluice_credcache sluice_credcache_t;

/* Makes jansson wipe every block it frees. Call once from main before any JSON is parsed. */
void sluice_secret_allocator_install(void);

/* A cache whose entries live ttl_s seconds. NULL when out of memory. */
sluice_credcache_t *sluice_credcache_create(unsigned ttl_s);

/* Wipes and frees every entry and the cache. NULL is allowed. */
void sluice_credcache_destroy(sluice_credcache_t *c);

/* The parsed secret of (org, name, vendor), or NULL when absent or expired. An expired entry is
 * kept, unused, until the caller's vault read settles it: _put replaces it, _renew extends it,
 * _drop wipes it. Borrowed: valid until the next call that changes the cache. now_ms is
 * monotonic. */
const json_t *sluice_credcache_get(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                   int64_t now_ms);

/* Parses plaintext[0..len) (a JSON object) and caches it until now_ms + ttl, replacing an older
 * entry. The caller still wipes its plaintext. Returns the cached secret (borrowed as above), or
 * NULL with a message in err when it is not a JSON object or memory ran out. */
const json_t *sluice_credcache_put(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                   const char *plaintext, size_t len, int64_t now_ms, sluice_err_t *err);

/* When the vault could not be read for an expired entry that _get kept: gives it another TTL from
 * now_ms and returns it (borrowed as above), with *age_ms the time since it was read from the
 * vault; NULL when there is no such entry. */
const json_t *sluice_credcache_renew(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                     int64_t now_ms, int64_t *age_ms);

/* Wipes and drops the entry of (org, name, vendor), if any (the vault no longer has it, or it no
 * longer opens). */
void sluice_credcache_drop(sluice_credcache_t *c, const char *org, const char *name, const char *vendor);

/* Wipes and drops every entry expired for a TTL or more. Returns how many were dropped. */
size_t sluice_credcache_sweep(sluice_credcache_t *c, int64_t now_ms);

/* Entries held (expired ones not yet swept included). */
size_t sluice_credcache_size(const sluice_credcache_t *c);

#endif

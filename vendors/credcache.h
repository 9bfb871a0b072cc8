/*
 * The worker's cache of decrypted vault credentials: plaintext lives only here, parsed, for at
 * most `delivery.credentials_ttl_s`; an expired or evicted entry is wiped (OPENSSL_cleanse)
 * before its memory is freed.
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

/* The parsed secret of (org, name, vendor), or NULL when absent or expired (an expired entry
 * is wiped on the way). Borrowed: valid until the next call that changes the cache. now_ms is
 * monotonic. */
const json_t *sluice_credcache_get(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                   int64_t now_ms);

/* Parses plaintext[0..len) (a JSON object) and caches it until now_ms + ttl, replacing an older
 * entry. The caller still wipes its plaintext. Returns the cached secret (borrowed as above), or
 * NULL with a message in err when it is not a JSON object or memory ran out. */
const json_t *sluice_credcache_put(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                   const char *plaintext, size_t len, int64_t now_ms, sluice_err_t *err);

/* Wipes and drops every expired entry. Returns how many were dropped. */
size_t sluice_credcache_sweep(sluice_credcache_t *c, int64_t now_ms);

/* Entries held (expired ones not yet swept included). */
size_t sluice_credcache_size(const sluice_credcache_t *c);

#endif

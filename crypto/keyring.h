/*
 * The key ring: AES-256 keys by key id (1..255). Exactly one key is the primary, which seals new
 * messages; every key opens messages sealed under its id, so keys can be rotated without
 * breaking tokens and vault rows sealed earlier.
 *
 * Keys come from the environment:
 *   ENCRYPTION_KEY  the primary key: exactly 64 hex characters (32 bytes);
 *   SLUICE_KEY_ID   the primary key's id, 1..255 (default 1);
 *   SLUICE_KEYRING  optional older, decrypt-only keys: "kid:hex[,kid:hex...]", whitespace
 *                   around each entry allowed.
 * Error messages name the variable (and the entry position) and what is expected; they never
 * contain a key or any part of the variables' values.
 *
 * These are root keys: components seal and open with rings derived from them per purpose
 * (sluice_keyring_derive, crypto/hkdf.h); a root ring itself is used only to derive, and to open
 * what older versions sealed under it directly (migration, docs/identity.md).
 *
 * Ownership and threading: a ring is built on one thread (at start-up or in sluicectl), then
 * never changes, so any number of threads may read it concurrently without locks. The ring owns
 * copies of its keys and wipes them (OPENSSL_cleanse) when freed.
 */
#ifndef SLUICE_CRYPTO_KEYRING_H
#define SLUICE_CRYPTO_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SLUICE_KEYRING_KEY_LEN 32

typedef struct sluice_keyring sluice_keyring_t;

/* Returns a new empty ring owned by the caller (free with sluice_keyring_free), or NULL when out
 * of memory (plugins link this library, and plugins must not abort). */
sluice_keyring_t *sluice_keyring_create(void);

/* Copies key into the ring under kid; when primary is non-zero the key becomes the ring's
 * primary. Returns 0, or -1 with a message in err when kid is 0, kid is already in the ring, or
 * primary is asked for while the ring already has one. The caller keeps (and wipes) its key.
 * Only while building the ring, before it is shared with other threads. */
int sluice_keyring_add(sluice_keyring_t *kr, uint8_t kid, const uint8_t key[SLUICE_KEYRING_KEY_LEN], int primary,
                       sluice_err_t *err) __attribute__((warn_unused_result));

/* Builds a ring from the three environment variables' values (NULL means unset, which is an
 * error for primary_hex; an empty kid_str or ring counts as unset). Returns a ring owned by the
 * caller, or NULL with a message in err naming the variable at fault (or saying memory ran
 * out). */
sluice_keyring_t *sluice_keyring_from_strings(const char *primary_hex, const char *kid_str, const char *ring,
                                              sluice_err_t *err);

/* sluice_keyring_from_strings over getenv("ENCRYPTION_KEY"), getenv("SLUICE_KEY_ID") and
 * getenv("SLUICE_KEYRING"). getenv is not safe against a concurrent setenv: call from main
 * before starting threads. */
sluice_keyring_t *sluice_keyring_from_env(sluice_err_t *err);

/* The 32-byte key for kid, or NULL when the ring has no such key. The pointer is owned by the
 * ring and valid until sluice_keyring_free; never log or copy it without wiping the copy. */
const uint8_t *sluice_keyring_key(const sluice_keyring_t *kr, uint8_t kid);

/* The primary key's id, or 0 when the ring has no primary. */
uint8_t sluice_keyring_primary_kid(const sluice_keyring_t *kr);

/* Number of keys in the ring (the primary included). */
size_t sluice_keyring_count(const sluice_keyring_t *kr);

/* A new ring with root's key ids and primary, each key derived from root's key of the same id
 * for purpose (one of the SLUICE_KEY_PURPOSE_* labels of crypto/hkdf.h): a ring that seals and
 * opens only what belongs to that purpose, while key ids and rotation work as for the root ring.
 * Returns a ring owned by the caller, or NULL with a message in err (out of memory, OpenSSL
 * failure, empty purpose). */
sluice_keyring_t *sluice_keyring_derive(const sluice_keyring_t *root, const char *purpose, sluice_err_t *err);

/* Wipes every key and frees the ring. NULL is allowed. No other thread may still use kr. */
void sluice_keyring_free(sluice_keyring_t *kr);

#endif

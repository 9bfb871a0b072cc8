/*
 * Pseudonyms of a person's ids for deletion and suppression (`sluicectl forget`,
 * docs/privacy.md "Deletion and suppression"), and immutable sets of them.
 *
 * An org's key is derived from one deployment secret (forget.key_env; empty when unset):
 *     K_org = HMAC-SHA256(master, "sluice-forget-v1" 0x00 org)
 * and an id's pseudonym is
 *     P = HMAC-SHA256(K_org, id)      (the id's UTF-8 bytes as the event carries them)
 * so the same id gives unrelated pseudonyms in two orgs, one org's key can be handed to that
 * org's downstream systems without letting them compute another org's, and nobody without the
 * secret can confirm a guessed e-mail or user id against an audit row or a `sluice.dsr` record.
 * The gateway, the delivery worker and sluicectl compute the same P.
 *
 * The set holds pseudonyms per org, sorted once sealed (binary search, no allocation on a
 * lookup). Threading: the functions are reentrant; a set is built by one thread and, once
 * sealed, may be read by any number of threads at once (nothing in it changes).
 */
#ifndef SLUICE_CRYPTO_PSEUDONYM_H
#define SLUICE_CRYPTO_PSEUDONYM_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_PSEUDONYM_LEN     32
#define SLUICE_PSEUDONYM_HEX_LEN 64 /* without the NUL */

/* The event fields that name a person, as dotted paths: what suppression checks and forget
 * hashes. */
#define SLUICE_PSEUDONYM_ID_PATH_COUNT 5
extern const char *const sluice_pseudonym_id_paths[SLUICE_PSEUDONYM_ID_PATH_COUNT];

/* K_org into the caller's key (wiped by the caller when done). master may be NULL when mlen is
 * 0 (no forget key configured: the pseudonyms are then an unkeyed function of org and id).
 * Returns 0, or -1 when OpenSSL failed (key zeroed). */
int sluice_pseudonym_org_key(const void *master, size_t mlen, const char *org, uint8_t key[SLUICE_PSEUDONYM_LEN])
    __attribute__((warn_unused_result));

/* P of id[0..len) under an org key, as bytes or as 64 lowercase hex digits plus a NUL.
 * Returns 0, or -1 when OpenSSL failed (out zeroed / empty). */
int sluice_pseudonym(const uint8_t key[SLUICE_PSEUDONYM_LEN], const char *id, size_t len,
                     uint8_t out[SLUICE_PSEUDONYM_LEN]) __attribute__((warn_unused_result));
int sluice_pseudonym_hex(const uint8_t key[SLUICE_PSEUDONYM_LEN], const char *id, size_t len,
                         char out[SLUICE_PSEUDONYM_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* How a caller hands an event's string at a dotted path to the functions below: the string and
 * its length, or NULL when the event has no string there. */
typedef const char *(*sluice_pseudonym_get_fn)(void *ud, const char *path, size_t *len);

/* The distinct pseudonyms (hex) of the ids the event carries, separated by one space, into out
 * (cap bytes, NUL-terminated; cap >= SLUICE_PSEUDONYM_ID_PATH_COUNT * 65 always suffices).
 * What a dedup key records so that forget can find it. Returns the length (0: no id). */
size_t sluice_pseudonym_subject(const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_pseudonym_get_fn get, void *ud,
                                char *out, size_t cap);

typedef struct sluice_pseudonym_set sluice_pseudonym_set_t;

/* An empty set, owned by the caller (sluice_pseudonym_set_destroy). NULL when out of memory. */
sluice_pseudonym_set_t *sluice_pseudonym_set_create(void);

/* Adds the pseudonym given as 64 hex digits (either case) under org. Before seal only.
 * Returns 0, -1 when hex is not a pseudonym, -2 when out of memory. */
int sluice_pseudonym_set_add_hex(sluice_pseudonym_set_t *s, const char *org, const char *hex);

/* Sorts and removes duplicates; the set is read-only from here on. */
void sluice_pseudonym_set_seal(sluice_pseudonym_set_t *s);

/* Pseudonyms in the set (all orgs when org is NULL). NULL set: 0. */
size_t sluice_pseudonym_set_count(const sluice_pseudonym_set_t *s, const char *org);

/* 1 when p is in the set under org (a sealed set; NULL set: 0). */
int sluice_pseudonym_set_contains(const sluice_pseudonym_set_t *s, const char *org,
                                  const uint8_t p[SLUICE_PSEUDONYM_LEN]);

/* 1 when one of the ids the event carries has its pseudonym under org in the sealed set; 0 when
 * none has, or the org has no pseudonym at all (then nothing is hashed). An id whose pseudonym
 * cannot be computed (OpenSSL failed) counts as not matched. */
int sluice_pseudonym_set_match(const sluice_pseudonym_set_t *s, const char *org,
                               const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_pseudonym_get_fn get, void *ud);

void sluice_pseudonym_set_destroy(sluice_pseudonym_set_t *s);

#endif

/*
 * AES-256-GCM, raw and as sluice's sealed-message format.
 *
 * Sealed message (identity tokens, vault rows, the encrypt plugin):
 *     kid (1 byte) ‖ nonce (12 random bytes) ‖ ciphertext (as long as the plaintext) ‖ tag (16)
 * The key id says which key of the ring opens it, so keys rotate without breaking old messages.
 * Nonces are random, so one key may seal at most about 2^32 messages (NIST SP 800-38D 8.3);
 * rotate the primary key long before that.
 *
 * Threading: every function may be called from any thread concurrently, with a key ring shared
 * read-only. The AES-256-GCM implementation is fetched once per process (pthread_once).
 * Buffers are the caller's; input and output must not overlap unless a function says so.
 */
#ifndef SLUICE_CRYPTO_AEAD_H
#define SLUICE_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/keyring.h"

#define SLUICE_AEAD_KEY_LEN   32
#define SLUICE_AEAD_NONCE_LEN 12
#define SLUICE_AEAD_TAG_LEN   16
/* Bytes a sealed message adds to its plaintext: kid + nonce + tag. */
#define SLUICE_AEAD_OVERHEAD (1 + SLUICE_AEAD_NONCE_LEN + SLUICE_AEAD_TAG_LEN)

/* Results of sluice_aead_open. The numbers never change (they feed metrics and logs). */
enum {
    SLUICE_AEAD_OK = 0,
    SLUICE_AEAD_EMALFORMED = -1,   /* shorter than SLUICE_AEAD_OVERHEAD, or out too small */
    SLUICE_AEAD_EUNKNOWN_KID = -2, /* sealed under a key id the ring does not have */
    SLUICE_AEAD_EAUTH = -3,        /* tag mismatch: wrong key, wrong AAD, or altered bytes */
    SLUICE_AEAD_EINTERNAL = -4,    /* OpenSSL failed (out of memory, cipher unavailable) */
};

/* A short fixed name for a sluice_aead_open result ("ok", "malformed", "unknown_kid", "auth",
 * "internal", "unknown"), for metric labels and logs. Static storage. */
const char *sluice_aead_strerror(int code);

/* Raw AES-256-GCM encryption with a 16-byte tag. iv_len must be at least 1 (12 is the standard
 * and what sealed messages use; other lengths exist for test vectors). aad, pt and ct may be
 * NULL when their length is 0. ct receives pt_len bytes and may be exactly pt (in place).
 * aad_len and pt_len must not exceed INT_MAX. Returns 0, or -1 on bad lengths or an OpenSSL
 * failure (ct and tag are then zeroed). Never reuse an iv with the same key. */
int sluice_aes256gcm_seal(const uint8_t key[SLUICE_AEAD_KEY_LEN], const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                          size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct,
                          uint8_t tag[SLUICE_AEAD_TAG_LEN]) __attribute__((warn_unused_result));

/* Raw AES-256-GCM decryption, the inverse of sluice_aes256gcm_seal (same rules for lengths,
 * NULLs and in-place use); pt receives ct_len bytes. Returns 0 when the tag matches, -1 when it
 * does not (or on bad lengths or an OpenSSL failure); on -1 pt is zeroed, so no unauthenticated
 * plaintext is left behind. */
int sluice_aes256gcm_open(const uint8_t key[SLUICE_AEAD_KEY_LEN], const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                          size_t aad_len, const uint8_t *ct, size_t ct_len, const uint8_t tag[SLUICE_AEAD_TAG_LEN],
                          uint8_t *pt) __attribute__((warn_unused_result));

/* Seals pt[0..pt_len) under the ring's primary key with a fresh random nonce, binding aad
 * (which is not stored: the opener must supply the same bytes). Writes pt_len +
 * SLUICE_AEAD_OVERHEAD bytes into the caller's out (cap bytes) and that length into *out_len.
 * Returns 0, or -1 with a message in err when the ring has no primary, cap is too small,
 * aad_len or pt_len exceeds INT_MAX, or OpenSSL failed (out is then zeroed, *out_len 0). */
int sluice_aead_seal(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                     uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err) __attribute__((warn_unused_result));

/* sluice_aead_seal under key id kid instead of the primary (re-sealing during rotation, tests).
 * Also -1 with a message when kid is not in the ring. */
int sluice_aead_seal_kid(const sluice_keyring_t *kr, uint8_t kid, const void *aad, size_t aad_len, const void *pt,
                         size_t pt_len, uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err)
    __attribute__((warn_unused_result));

/* Opens a sealed message in[0..n) with whichever ring key its kid names, checking aad. Writes
 * n - SLUICE_AEAD_OVERHEAD plaintext bytes into the caller's out (cap bytes) and that length
 * into *out_len. Returns SLUICE_AEAD_OK, or one of the negative SLUICE_AEAD_E* codes with a
 * message in err (err may be NULL on hot paths that only count the code). On any failure
 * *out_len is 0 and out holds no plaintext: after EAUTH or EINTERNAL its first
 * n - SLUICE_AEAD_OVERHEAD bytes are zeroed; after EMALFORMED or EUNKNOWN_KID it is untouched. */
int sluice_aead_open(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const uint8_t *in, size_t n,
                     uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err) __attribute__((warn_unused_result));

#endif

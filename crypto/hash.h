/*
 * SHA-256 and HMAC-SHA256 (OpenSSL 3 EVP). SHA-256 runs on the hot path (every hashed field of
 * every event), so the digest and MAC implementations are fetched once per process instead of
 * on every call.
 *
 * Threading: every function may be called from any thread concurrently. The first call does the
 * one-time fetch (under pthread_once); nothing else is shared or mutable.
 */
#ifndef SLUICE_CRYPTO_HASH_H
#define SLUICE_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_SHA256_LEN     32
#define SLUICE_SHA256_HEX_LEN 64 /* without the NUL */

/* SHA-256 of data[0..n) into the caller's out. Returns 0, or -1 when OpenSSL failed (the
 * SHA-256 implementation is unavailable or memory ran out); out is then zeroed. */
int sluice_sha256(const void *data, size_t n, uint8_t out[SLUICE_SHA256_LEN]) __attribute__((warn_unused_result));

/* SHA-256 of data[0..n) as 64 lowercase hex digits plus a NUL in the caller's out. Returns 0,
 * or -1 as sluice_sha256 (out is then the empty string). */
int sluice_sha256_hex(const void *data, size_t n, char out[SLUICE_SHA256_HEX_LEN + 1])
    __attribute__((warn_unused_result));

/* HMAC-SHA256 (RFC 2104) under key[0..klen) of msg[0..n) into the caller's out. klen may be 0.
 * Returns 0, or -1 when OpenSSL failed; out is then zeroed. Compare MACs only with
 * sluice_ct_equal. */
int sluice_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[SLUICE_SHA256_LEN])
    __attribute__((warn_unused_result));

/* HMAC-SHA256 of the concatenation a ‖ b, without building it: for signatures over
 * `timestamp + "." + body`, pass the timestamp and "." joined as a and the body as b (or any
 * split). Same result and errors as sluice_hmac_sha256 over the joined message. */
int sluice_hmac_sha256_2(const void *key, size_t klen, const void *a, size_t alen, const void *b, size_t blen,
                         uint8_t out[SLUICE_SHA256_LEN]) __attribute__((warn_unused_result));

#endif

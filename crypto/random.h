/*
 * Cryptographically secure random bytes, ids and numbers from OpenSSL's DRBG (RAND_bytes), which
 * keeps one generator per thread and reseeds itself after fork.
 *
 * Threading: callable from any thread concurrently; no sluice state.
 */
#ifndef SLUICE_CRYPTO_RANDOM_H
#define SLUICE_CRYPTO_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills the caller's buf with len random bytes. Returns 0, or -1 when the generator failed
 * (not seeded, out of memory); buf is then zeroed, never left half-random. */
int sluice_random_bytes(void *buf, size_t len) __attribute__((warn_unused_result));

/* Writes a random UUID (RFC 9562 version 4: version nibble 4, variant bits 10) into out as 36
 * lowercase characters plus a NUL, e.g. "1b4e28ba-2fa1-41d2-883f-0016d3cca427".
 * Returns 0, or -1 when the generator failed (out is then the empty string). */
int sluice_uuid_v4(char out[37]) __attribute__((warn_unused_result));

/* Stores a uniformly random 64-bit value in *out. Returns 0, or -1 when the generator failed
 * (*out is then 0). */
int sluice_random_uint64(uint64_t *out) __attribute__((warn_unused_result));

#endif

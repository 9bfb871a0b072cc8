/*
 * Hexadecimal: lowercase encoding, strict constant-time decoding, and one digit's value. Used
 * for key material from the environment (ENCRYPTION_KEY), digests in headers (X-Signature),
 * hashed fields, and percent-escapes in URLs (common/pct.h).
 *
 * Threading: pure functions, callable from any thread.
 */
#ifndef SLUICE_COMMON_HEX_H
#define SLUICE_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 2*n lowercase hex digits of in[0..n) plus a NUL into the caller's out, which must
 * hold cap >= 2*n + 1 bytes. Returns 2*n; when cap is too small nothing is written and 0 is
 * returned (so for n > 0 a 0 return always means "buffer too small"). */
size_t sluice_hex_encode(const void *in, size_t n, char *out, size_t cap);

/* Decodes the n characters at in (no NUL needed) into the caller's out (cap bytes), storing the
 * byte count n/2 in *out_len. Strict: n must be even and every character in [0-9a-fA-F] (no
 * whitespace, no "0x"). Returns 0, or -1 on bad input or when cap < n/2; on -1 *out_len is 0 and
 * whatever was decoded into out is zeroed again. Runs in time independent of the digits' values, so
 * decoding a key does not leak it. */
int sluice_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* The value (0..15) of the hex digit c ([0-9a-fA-F]), or -1. Branches on c: for text such as
 * URLs, never for secrets (use sluice_hex_decode). */
int sluice_hex_digit(int c);

#endif

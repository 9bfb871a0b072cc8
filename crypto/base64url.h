/*
 * Base64 in two flavours:
 *  - base64url without padding (RFC 4648 section 5), for tokens in cookies, URLs and headers;
 *    the decoder is strict because its input is untrusted (identity tokens from browsers);
 *  - standard base64 with padding (RFC 4648 section 4), for vendor APIs that want it, and a
 *    lenient decoder for base64 other software produced (HTTP Basic credentials).
 *
 * Threading: pure functions, callable from any thread.
 */
#ifndef SLUICE_CRYPTO_BASE64URL_H
#define SLUICE_CRYPTO_BASE64URL_H

#include <stddef.h>
#include <stdint.h>

/* Number of characters (without NUL) base64url-without-padding needs for n bytes:
 * ceil(4n/3). */
size_t sluice_b64url_encoded_len(size_t n);

/* Upper bound on the bytes sluice_b64url_decode produces from n characters (3n/4, rounded down);
 * exact for every n the decoder accepts. */
size_t sluice_b64url_decoded_len(size_t n);

/* Encodes in[0..n) as base64url without padding, plus a NUL, into the caller's out, which must
 * hold cap >= sluice_b64url_encoded_len(n) + 1 bytes. Returns the number of characters written
 * (without the NUL); when cap is too small nothing is written and 0 is returned (for n > 0 a
 * 0 return always means "buffer too small"). */
size_t sluice_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* Decodes n base64url characters (no NUL needed) into the caller's out (cap bytes) and stores
 * the byte count in *out_len. Strict, so every byte string has exactly one accepted encoding:
 * rejects '=' padding, any character outside A-Za-z0-9-_ (including '+', '/' and whitespace),
 * n % 4 == 1, and non-zero unused bits in the last character. Returns 0, or -1 on bad input or
 * when cap is too small (sluice_b64url_decoded_len(n) always suffices); on -1 *out_len is 0 and
 * whatever was decoded into out is zeroed again. */
int sluice_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* Number of characters (without NUL) standard padded base64 needs for n bytes: 4*ceil(n/3). */
size_t sluice_b64_encoded_len(size_t n);

/* Encodes in[0..n) as standard base64 (alphabet A-Za-z0-9+/, '=' padding), plus a NUL, into the
 * caller's out, which must hold cap >= sluice_b64_encoded_len(n) + 1 bytes. Returns the number
 * of characters written (without the NUL), or 0 with nothing written when cap is too small. */
size_t sluice_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* Lenient decoder for base64 that other software produced (HTTP Basic credentials, the pixel's
 * `data` parameter): either alphabet, padding optional, unused trailing bits ignored. Returns 0,
 * or -1 on a character outside both alphabets, an impossible length, or cap too small
 * (sluice_b64url_decoded_len(n) suffices). Not for anything that must have one encoding. */
int sluice_b64_decode_any(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
    __attribute__((warn_unused_result));

#endif

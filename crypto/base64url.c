/*
 * Base64url (no padding) encode and strict decode; standard padded base64 encode.
 * Any thread; the only state is constant tables.
 */
#include "crypto/base64url.h"

#include <string.h>

#include "crypto/ct.h"

static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Largest input whose encoded length (plus NUL) still fits in a size_t. */
#define MAX_ENCODE_INPUT ((SIZE_MAX - 4) / 4 * 3)

size_t sluice_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t sluice_b64url_decoded_len(size_t n)
{
    return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

size_t sluice_b64_encoded_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

/* The shared encoder: full 3-byte groups, then the 1- or 2-byte tail, padded when asked. */
static size_t encode(const char *alphabet, int pad, const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    size_t rest = n - i;
    if (rest > 0) {
        uint32_t v = (uint32_t)in[i] << 16 | (rest == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (rest == 2)
            out[o++] = alphabet[(v >> 6) & 63];
        if (pad) {
            if (rest == 1)
                out[o++] = '=';
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return o;
}

size_t sluice_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (n > MAX_ENCODE_INPUT || cap < sluice_b64url_encoded_len(n) + 1)
        return 0;
    return encode(url_alphabet, 0, in, n, out);
}

size_t sluice_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (n > MAX_ENCODE_INPUT || cap < sluice_b64_encoded_len(n) + 1)
        return 0;
    return encode(std_alphabet, 1, in, n, out);
}

/* base64url character → 6-bit value, or 0xff for anything else (including '=', '+', '/'). */
static uint8_t url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (uint8_t)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (uint8_t)(c - '0' + 52);
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return 0xff;
}

int sluice_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    /* One leftover character carries only 6 bits: never a whole byte, so never valid. */
    if (n % 4 == 1)
        return -1;
    size_t need = sluice_b64url_decoded_len(n);
    if (cap < need)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t v = url_value((unsigned char)in[i]);
        if (v == 0xff)
            goto bad;
        acc = (acc << 6 | v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The last character's unused low bits (4 after 2 chars, 2 after 3) must be zero, or two
     * strings would decode to the same bytes ("Zg" and "Zh" both to "f"). */
    if ((acc & ((1u << bits) - 1)) != 0)
        goto bad;
    *out_len = o;
    return 0;
bad:
    sluice_secure_zero(out, need);
    return -1;
}

int sluice_b64_decode_any(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1 || cap < sluice_b64url_decoded_len(n))
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        uint8_t v = c == '+' ? 62 : c == '/' ? 63 : url_value(c);
        if (v == 0xff)
            return -1;
        acc = (acc << 6 | v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return 0;
}

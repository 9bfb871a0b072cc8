/*
 * Hex encode/decode. Decoding is branch-free per character because its main input is key
 * material (ENCRYPTION_KEY, SLUICE_KEYRING). Any thread; no state.
 */
#include "common/hex.h"

#include <string.h>

size_t sluice_hex_encode(const void *in, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    if (n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

/* The value (0..15) of hex digit c, or 16 when c is not a hex digit. Computed with compares and
 * masks only, no table and no branch on c. */
static unsigned hexval(unsigned char c)
{
    unsigned d = (unsigned)c - '0';
    unsigned a = ((unsigned)c | 0x20u) - 'a'; /* folds 'A'..'F' onto 'a'..'f' */
    unsigned is_d = d < 10u;
    unsigned is_a = a < 6u;
    unsigned bad = 1u ^ (is_d | is_a);
    return (d & (0u - is_d)) | ((a + 10u) & (0u - is_a)) | (16u & (0u - bad));
}

int sluice_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (n % 2 != 0 || cap < n / 2)
        return -1;
    unsigned bad = 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned hi = hexval((unsigned char)in[2 * i]);
        unsigned lo = hexval((unsigned char)in[2 * i + 1]);
        bad |= (hi | lo) >> 4;
        out[i] = (uint8_t)((hi << 4) | (lo & 0x0f));
    }
    if (bad) {
        explicit_bzero(out, n / 2); /* key material must not survive a failed decode */
        return -1;
    }
    *out_len = n / 2;
    return 0;
}

int sluice_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

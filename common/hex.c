/*
 * Hex encode/decode. Decoding is branch-free per character because its main input is key
 * material (ENCRYPTION_KEY, SLUICE_KEYRING). Any thread; no state.
 */
#include "common/hex.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t sluice_hex_encode(const void *in, size_t n, char *out, size_t cap)
{
    const uint8_t *p = in;
    if (n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
        return 0;
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 bytes a step: the data layer writes two SHA-256 digests per event as hex, and the
     * byte-at-a-time loop was 400 instructions per digest (docs/performance.md). Each nibble
     * becomes '0' + n, plus 39 when n > 9 ('a' - '0' - 10): no table, so no load indexed by the
     * bytes (they may be key material), as in the loop below. */
    const __m128i low = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0'),
                  letters = _mm_set1_epi8('a' - '0' - 10);
    for (; n - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low), lo = _mm_and_si128(v, low);
        __m128i a = _mm_unpacklo_epi8(hi, lo), b = _mm_unpackhi_epi8(hi, lo);
        a = _mm_add_epi8(_mm_add_epi8(a, zero), _mm_and_si128(_mm_cmpgt_epi8(a, nine), letters));
        b = _mm_add_epi8(_mm_add_epi8(b, zero), _mm_and_si128(_mm_cmpgt_epi8(b, nine), letters));
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), a);
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i + 16), b);
    }
#endif
    for (; i < n; i++) {
        unsigned hi = p[i] >> 4, lo = p[i] & 0x0fu;
        out[2 * i] = (char)('0' + hi + (((9u - hi) >> 8) & 39u)); /* 9 - hi wraps when hi > 9 */
        out[2 * i + 1] = (char)('0' + lo + (((9u - lo) >> 8) & 39u));
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

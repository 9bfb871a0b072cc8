/*
 * Internal to json/: eight bytes of a string at a time (SWAR), for the parser's scan of plain
 * string characters (json/parse.c) and the writer's copy of bytes that need no escape
 * (json/write.c). Only whole 8-byte words inside the caller's buffer are loaded: callers stop
 * when fewer than 8 bytes remain and finish byte by byte. Pure; any thread.
 */
#ifndef SLUICE_JSON_SCAN_H
#define SLUICE_JSON_SCAN_H

#include <stdint.h>
#include <string.h>

#define SLUICE_JSCAN_ONES  0x0101010101010101ull
#define SLUICE_JSCAN_HIGHS 0x8080808080808080ull

/* The 8 bytes at p, the first in the lowest byte (the word's bytes in memory order). */
static inline uint64_t sluice_jscan_load(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* The r bytes at p (1 <= r <= 7) as a word like sluice_jscan_load's, its other bytes spaces.
 * Reads only p[0..r): two loads that may overlap. */
static inline uint64_t sluice_jscan_load_short(const char *p, size_t r)
{
    const unsigned char *u = (const unsigned char *)p;
    uint64_t x;
    if (r >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, u, 4);
        memcpy(&hi, u + r - 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        x = (uint64_t)lo | ((uint64_t)hi << (8 * (r - 4))); /* the overlap holds the same bytes */
    } else if (r >= 2) {
        x = (uint64_t)u[0] | ((uint64_t)u[1] << 8) | ((uint64_t)u[r - 1] << (8 * (r - 1)));
    } else {
        x = u[0];
    }
    return x | (SLUICE_JSCAN_ONES * ' ') << (8 * r);
}

/* Stores a word of sluice_jscan_load's order at p (8 bytes). */
static inline void sluice_jscan_store(char *p, uint64_t x)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    memcpy(p, &x, sizeof(x));
}

/* The high bit of every byte of x that is '"', '\\' or below 0x20, and, with high_too, of every
 * byte at or above 0x80; 0 when there is none. Each byte is tested on its own (no carry crosses
 * a byte: the sums stay below 0x100), so the lowest one marked is the first such byte. */
static inline uint64_t sluice_jscan_stops(uint64_t x, int high_too)
{
    uint64_t y = x & (SLUICE_JSCAN_ONES * 0x7f);
    /* bit 7 of each byte set when its low 7 bits are >= 0x20, != '"', != '\\' */
    uint64_t ok = (y + SLUICE_JSCAN_ONES * 0x60) & ((y ^ (SLUICE_JSCAN_ONES * '"')) + SLUICE_JSCAN_ONES * 0x7f) &
                  ((y ^ (SLUICE_JSCAN_ONES * '\\')) + SLUICE_JSCAN_ONES * 0x7f);
    return (high_too ? ~ok | x : ~(ok | x)) & SLUICE_JSCAN_HIGHS;
}

/* Index (0..7) of the first byte marked in a non-zero result of sluice_jscan_stops. */
static inline unsigned sluice_jscan_first(uint64_t stops)
{
    return (unsigned)__builtin_ctzll(stops) >> 3;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Where SSE2 is (every x86-64): 16 bytes a step. Bit i of the result set when byte i of the 16
 * at p is one sluice_jscan_stops marks (with the same high_too). */
static inline unsigned sluice_jscan_stops16(const char *p, int high_too)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    m = _mm_or_si128(m, _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))); /* signed: also every byte >= 0x80 */
    unsigned bits = (unsigned)_mm_movemask_epi8(m);
    return high_too ? bits : bits & ~(unsigned)_mm_movemask_epi8(x);
}
#define SLUICE_JSCAN_HAVE16 1
#endif

#endif

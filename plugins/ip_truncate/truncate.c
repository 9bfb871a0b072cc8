/*
 * IP truncation (see truncate.h): inet_pton, clear the host bits, inet_ntop. inet_ntop prints
 * IPv6 in the RFC 5952 canonical form (lowercase, longest zero run as "::") and IPv4-mapped
 * addresses as ::ffff:a.b.c.d. Pure; any thread.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* inet_pton / inet_ntop; plugins build without _GNU_SOURCE */
#endif

#include "truncate.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* Keeps the first `bits` bits of addr[0..len). */
static void keep_prefix(uint8_t *addr, size_t len, unsigned bits)
{
    for (size_t i = 0; i < len; i++) {
        if (bits >= 8) {
            bits -= 8;
            continue;
        }
        addr[i] &= (uint8_t)(0xff00u >> bits);
        bits = 0;
    }
}

/* "00" to "99": a number's last two digits copied at once, where a divide and a remainder each
 * were ~30 instructions an address. */
static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            "8081828384858687888990919293949596979899";

size_t sluice_ip_quad_write(const uint8_t a[4], char *out)
{
    size_t o = 0;
    for (int k = 0; k < 4; k++) {
        unsigned v = a[k];
        if (k > 0)
            out[o++] = '.';
        if (v >= 100) {
            out[o++] = (char)('0' + v / 100);
            v %= 100;
            memcpy(out + o, pairs + 2 * v, 2);
            o += 2;
        } else if (v >= 10) {
            memcpy(out + o, pairs + 2 * v, 2);
            o += 2;
        } else {
            out[o++] = (char)('0' + v);
        }
    }
    out[o] = '\0';
    return o;
}

/* The common case without inet_pton/inet_ntop (whose IPv4 side prints with sprintf): plain
 * dotted-quad text, four groups of 1..3 digits without leading zeros, each <= 255. Everything it
 * takes inet_pton takes alike; anything else (including what inet_pton may still accept) is left
 * to the general path. Returns the length written into out, or 0 to fall through. A group's
 * digits are read one test each and the prefix is one 32-bit mask (a loop of tests per digit and
 * per byte cost about 100 instructions an address). */
static size_t quad_truncate(const char *text, size_t n, unsigned bits, char *out)
{
    const unsigned char *s = (const unsigned char *)text, *end = s + n;
    uint32_t addr = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0 && (s == end || *s++ != '.'))
            return 0;
        unsigned v;
        if (s == end || (v = (unsigned)(*s - '0')) > 9)
            return 0;
        s++;
        unsigned d;
        if (s != end && (d = (unsigned)(*s - '0')) <= 9) {
            if (v == 0)
                return 0; /* a leading zero */
            v = v * 10 + d;
            s++;
            if (s != end && (d = (unsigned)(*s - '0')) <= 9) {
                v = v * 10 + d;
                s++;
                if (v > 255)
                    return 0;
            }
        }
        addr = addr << 8 | v;
    }
    if (s != end)
        return 0; /* a fourth digit, or anything after the address */
    /* bits <= 32 (the caller checked); a shift by 32 is undefined, so /0 is its own case. */
    addr &= bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    const uint8_t a[4] = {(uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr};
    return sluice_ip_quad_write(a, out);
}

size_t sluice_ip_truncate(const char *text, size_t n, unsigned v4_prefix, unsigned v6_prefix, char *out, size_t cap)
{
    char buf[SLUICE_IP_TRUNCATE_OUT_MAX];
    if (n == 0 || n >= sizeof(buf) || v4_prefix > 32 || v6_prefix > 128 || cap < SLUICE_IP_TRUNCATE_OUT_MAX)
        return 0;
    /* The fast path takes digits and dots only, so a NUL is looked for on the general path alone. */
    size_t quick = quad_truncate(text, n, v4_prefix, out);
    if (quick > 0)
        return quick;
    if (memchr(text, '\0', n) != NULL)
        return 0;
    memcpy(buf, text, n);
    buf[n] = '\0';
    uint8_t a[16];
    const char *res;
    if (inet_pton(AF_INET, buf, a) == 1) {
        keep_prefix(a, 4, v4_prefix);
        res = inet_ntop(AF_INET, a, out, (socklen_t)cap);
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, sizeof(mapped)) == 0)
            keep_prefix(a + 12, 4, v4_prefix);
        else if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: the IPv4 address follows 2002: */
            keep_prefix(a, 16, v6_prefix < 16 + v4_prefix ? v6_prefix : 16 + v4_prefix);
        else
            keep_prefix(a, 16, v6_prefix);
        res = inet_ntop(AF_INET6, a, out, (socklen_t)cap);
    } else {
        return 0;
    }
    return res != NULL ? strlen(out) : 0;
}

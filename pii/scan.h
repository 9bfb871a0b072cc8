/*
 * The PII scanner: finds e-mail addresses, card numbers (13 to 19 digits passing the Luhn check),
 * phone numbers, IBANs and, when asked, national identity numbers inside free text such as URLs,
 * query strings, page titles and ids. The text is percent-decoded first, through nested
 * encodings (so `jane%40example.com` and the `jane%2540example.com` of a URL inside another
 * URL's query are found), with the full-width '@' and '.' (U+FF20, U+FE6B, U+FF0E) read as '@'
 * and '.', the no-break and thin spaces (U+00A0, U+202F, U+2009) as spaces and the hyphens of
 * typesetting (U+2010..U+2013) as '-'; every match is
 * reported as a byte range of the ORIGINAL text, ready to be replaced. The `redact_text` plugin and the gateway's PII
 * guard use it; it depends on nothing but libc, so the plugin compiles this file into itself.
 *
 * What counts as a match (docs/plugins-builtin.md has the same list for operators):
 *  - e-mail: local part [A-Za-z0-9._+-] (no leading dot), '@', a domain of two or more labels
 *    [A-Za-z0-9-] (no label starting or ending with '-') whose last label is 2+ letters and no
 *    image file's extension (`logo@2x.png` is a screen density, not an address); a
 *    domain running on into other characters is cut at the last '.' or '-' that leaves a valid
 *    one ("jane@x.io.2024" is jane@x.io);
 *  - card: 13..19 digits, either one block or groups joined by single spaces, dashes or '+'
 *    (a form-encoded space), that start in a card network's range (2200-2204, 2221-2720, 3,
 *    4, 5, 6, 81, 82) and pass the Luhn check; inside a longer run of groups the longest
 *    passing sub-run of whole groups is taken;
 *  - phone, international: '+' then 8..15 digits, groups joined by up to two of " -.()+";
 *  - phone, national: 8..12 digits (up to 15 after a "00" international prefix) as one block
 *    starting with 0 (9..11 digits, e.g. 0612345678), or as 2+ groups of at most 6 digits with
 *    a last group of 2+ (650-555-1212, (650) 555-1212, 020 7946 0958, 06 12 34 56 78); dots only
 *    in the shapes 3.3.4 and 2.2.2.2.2 (so IPv4 addresses are not phones); parentheses only
 *    around the first group; no 4-2-2 or 2-2-4 shapes (dates), nor two years 1900..2099 joined
 *    by one hyphen (2024-2025, a range);
 *  - iban: a country with an IBAN length in the SWIFT registry, two check digits and the rest,
 *    in one block or groups of four joined by single spaces, passing the mod-97 check (either
 *    case);
 *  - us_ssn: 3-2-4 digits joined by the same '-' or ' ', not area 000/666/9xx, group 00 or
 *    serial 0000 (nine digits in one block are not taken: too many other numbers look so);
 *  - uk_nino: two allowed prefix letters, six digits (one block or three pairs) and A-D;
 *  - fr_nir: 15 digits (13 and the mod-97 key), one block or groups joined by single spaces,
 *    starting with 1, 2, 3, 7 or 8;
 *  - es_dni: 8 digits and the check letter (or a NIE: X/Y/Z, 7 digits, the letter).
 * Digits are read as runs: digit groups joined by separators (one or two of " -.()+"). A run
 * must stand alone: a letter (non-ASCII ones too) or digit right before or after it, or joined
 * to it by a '-', means no match, so hex strings, UUIDs, ids like `ord4111111111111111` or
 * `ORD-0612345678` and longer numbers are left alone. E-mails are found first, then the ids that mix letters and digits
 * (IBAN, NINO, DNI: each must stand alone too), then cards inside runs, then a whole run (or the whole of what is left
 * before or after a card) is an SSN, a NIR or a phone ("call 650 555 1212 2 times" is not redacted: which groups would
 * be the number is a guess). " +" inside a run starts a new run (an international number). A match next to a number
 * counts as a boundary, as the "[email]" replacing it would, so masked text scans the same as before (idempotence; runs
 * are never cut at a length either). Known false positives: prose numbers shaped like phones ("100 200 300 400") and
 * 13-19 digit numbers in a card network's range that happen to pass Luhn (1 in 10 of them).
 *
 * Threading: a scan object is used by one thread at a time (its users keep one per thread and
 * reuse its buffers); the functions have no other state.
 */
#ifndef SLUICE_PII_SCAN_H
#define SLUICE_PII_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Kinds of match; a set of them selects what to look for. */
enum {
    SLUICE_SCAN_EMAIL = 1u << 0,
    SLUICE_SCAN_CARD = 1u << 1,
    SLUICE_SCAN_PHONE = 1u << 2,
    SLUICE_SCAN_IBAN = 1u << 3,
    SLUICE_SCAN_US_SSN = 1u << 4,
    SLUICE_SCAN_UK_NINO = 1u << 5,
    SLUICE_SCAN_FR_NIR = 1u << 6,
    SLUICE_SCAN_ES_DNI = 1u << 7,
};

/* The national ids, which are looked for only where configured (their shapes are local). */
#define SLUICE_SCAN_NATIONAL_IDS (SLUICE_SCAN_US_SSN | SLUICE_SCAN_UK_NINO | SLUICE_SCAN_FR_NIR | SLUICE_SCAN_ES_DNI)

typedef struct sluice_scan_match {
    unsigned kind;       /* one SLUICE_SCAN_* */
    int international;   /* phone: written with a leading '+' */
    size_t start, end;   /* [start, end) in the original text */
    size_t dstart, dend; /* the same match in the decoded text (sluice_scan_t.dec) */
} sluice_scan_match_t;

/* Zero-initialise before the first scan ({0}); reuse for any number of scans; dispose once. */
typedef struct sluice_scan {
    const char *dec; /* the percent-decoded text (dec_len bytes, not NUL-terminated): the input
                        itself when it holds no '%', else dec_buf */
    size_t dec_len;
    int identity; /* dec is the input: offsets are the same in both (map unused) */
    char *dec_buf;
    size_t *map; /* map[i]: offset in the original of the bytes that decoded to dec[i];
                    map[dec_len] is the original length; see sluice_scan_offset */
    size_t dec_cap;
    sluice_scan_match_t *matches; /* in order, non-overlapping */
    size_t count, match_cap;
    void *run_buf; /* the scanner's own: digit groups of the run being read */
    size_t run_cap;
} sluice_scan_t;

/* Scans text[0..n) for the kinds in the set `kinds`, replacing the previous results in s. Returns
 * 0, or -1 when memory ran out (s then holds no matches). */
int sluice_scan(sluice_scan_t *s, const char *text, size_t n, unsigned kinds) __attribute__((warn_unused_result));

/* 1 when text[0..n) holds "%40", a percent-encoded '@', or one encoded again ("%2540",
 * "%252540": a URL inside another URL's query) (sluice_scan_may_match's slow path). */
static inline int sluice_scan_has_pct40(const char *text, size_t n)
{
    for (const char *p = text, *end = text + n; end - p >= 3 && (p = memchr(p, '%', (size_t)(end - p - 2))) != NULL;
         p++) {
        const char *h = p + 1;
        while (end - h >= 4 && h[0] == '2' && h[1] == '5')
            h += 2;
        if (end - h >= 2 && h[0] == '4' && h[1] == '0')
            return 1;
    }
    return 0;
}

/* 1 when text[0..n) holds a full-width '@' (U+FF20, or the small U+FE6B), which the scanner
 * reads as '@' (sluice_scan_may_match's slow path). */
static inline int sluice_scan_has_wide_at(const char *text, size_t n)
{
    for (const char *p = text, *end = text + n; end - p >= 3 && (p = memchr(p, 0xef, (size_t)(end - p - 2))) != NULL;
         p++)
        if (((unsigned char)p[1] == 0xbc && (unsigned char)p[2] == 0xa0) ||
            ((unsigned char)p[1] == 0xb9 && (unsigned char)p[2] == 0xab))
            return 1;
    return 0;
}

/* 0 when sluice_scan cannot find anything in text[0..n), whatever the kinds: every kind of match
 * needs an '@' (e-mails; "a@b.co", six bytes, is the shortest) or six digits or more (a NINO has
 * six, phones eight, cards thirteen, an IBAN's account number more) in the decoded text.
 * Decoding never adds digits (a "%3X" that becomes one is written with two), but it does add '@'
 * ("jane%40example.com", "jane%2540example.com", "jane" U+FF20 "example.com"). 1 when the text holds
 * an '@', a full-width one, "%40" (encoded once or more) or at least six digits. Eight bytes at a
 * time (SWAR), 16 with SSE2, so callers can ask it of every value they see. */
static inline int sluice_scan_may_match(const char *text, size_t n)
{
    if (n < 6)
        return 0;
#if defined(__SSE2__)
    /* 16 bytes a step (every x86-64, little-endian). A text shorter than 16 bytes, and the end of
     * a longer one, is read as two 8-byte words with the bytes already counted (or not the text's)
     * shifted out and zeros in their place: a zero byte is neither a digit, an '@' nor 0xef. */
    const __m128i zero = _mm_setzero_si128();
    unsigned digits = 0, wide = 0;
    size_t i = 0;
    for (;;) {
        __m128i x;
        if (n - i >= 16) {
            x = _mm_loadu_si128((const __m128i *)(const void *)(text + i));
            i += 16;
        } else {
            uint64_t lo, hi;
            if (i > 0) {
                /* the last 16 bytes without the first drop (1..15), counted already */
                size_t drop = 16 - (n - i);
                memcpy(&lo, text + n - 16, 8);
                memcpy(&hi, text + n - 8, 8);
                if (drop >= 8) {
                    lo = hi >> (8 * (drop - 8));
                    hi = 0;
                } else {
                    lo = lo >> (8 * drop) | hi << (8 * (8 - drop));
                    hi >>= 8 * drop;
                }
            } else if (n >= 8) {
                /* the first 8, then the last 8 without those the first hold */
                memcpy(&lo, text, 8);
                memcpy(&hi, text + n - 8, 8);
                hi = n > 8 ? hi >> (8 * (16 - n)) : 0;
            } else {
                /* six or seven bytes: the first four, then what the last four add */
                uint32_t a, b;
                memcpy(&a, text, 4);
                memcpy(&b, text + n - 4, 4);
                lo = (uint64_t)a | ((uint64_t)(b >> (8 * (8 - n))) << 32);
                hi = 0;
            }
            x = _mm_set_epi64x((long long)hi, (long long)lo);
            i = n;
        }
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('@'))) != 0)
            return 1;
        /* 0xef: the lead byte of a full-width '@' */
        wide |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xef)));
        /* '0'..'9' moved to -128..-119, the only bytes then below -118 (signed) */
        __m128i d = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0'))), _mm_set1_epi8((char)-118));
        if (_mm_movemask_epi8(d) != 0) {
            /* each digit's lane 1, summed per 8 lanes */
            __m128i sum = _mm_sad_epu8(_mm_sub_epi8(zero, d), zero);
            digits += (unsigned)_mm_cvtsi128_si32(sum) + (unsigned)_mm_extract_epi16(sum, 4);
            if (digits >= 6)
                return 1;
        }
        if (i >= n)
            return (digits >= 2 && sluice_scan_has_pct40(text, n)) || /* "%40" holds two digits */
                   (wide != 0 && sluice_scan_has_wide_at(text, n));
    }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull, low7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t x, digits = 0, wide = 0;
    size_t i;
    if (n < 8) {
        /* six or seven bytes: the first four, then what the last four add */
        uint32_t a, b;
        memcpy(&a, text, 4);
        memcpy(&b, text + n - 4, 4);
        x = (uint64_t)a | ((uint64_t)(b >> (8 * (8 - n))) << 32);
        i = n;
    } else {
        memcpy(&x, text, 8);
        i = 8;
    }
    for (;;) {
        /* a byte's high bit in d: it is '0'..'9'; in z: it is '@' (exact: no carry crosses a byte) */
        uint64_t hx = x | high;
        uint64_t d = (hx - 0x30 * ones) & ~(hx - 0x3a * ones) & ~x & high;
        uint64_t y = x ^ (0x40 * ones);
        uint64_t z = ~(((y & low7) + low7) | y) & high;
        if (z != 0)
            return 1;
        /* 0xef: the lead byte of a full-width '@' */
        uint64_t w = x ^ (0xef * ones);
        wide |= ~(((w & low7) + low7) | w) & high;
        digits += ((d >> 7) * ones) >> 56;
        if (digits >= 6)
            return 1;
        if (i >= n)
            return (digits >= 2 && sluice_scan_has_pct40(text, n)) || /* "%40" holds two digits */
                   (wide != 0 && sluice_scan_has_wide_at(text, n));
        if (i + 8 <= n) {
            memcpy(&x, text + i, 8);
            i += 8;
        } else {
            /* the last 8 bytes without those already counted (little-endian: the low ones) */
            memcpy(&x, text + n - 8, 8);
            x >>= 8 * (8 - (n - i));
            i = n;
        }
    }
#else
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '@' || (c >= '0' && c <= '9' && ++digits >= 6))
            return 1;
    }
    return sluice_scan_has_pct40(text, n) || sluice_scan_has_wide_at(text, n);
#endif
}

/* The offset in the original text of decoded byte i (i == dec_len: the original's length). */
static inline size_t sluice_scan_offset(const sluice_scan_t *s, size_t i)
{
    return s->identity ? i : s->map[i];
}

/* Frees the buffers of s (NULL allowed) and zeroes it. */
void sluice_scan_dispose(sluice_scan_t *s);

/* The canonical text of match m, what `hash` modes digest, so the same address or number
 * written differently hashes the same: e-mails lowercased (ASCII), cards, SSNs and NIRs their
 * digits, phones their digits after a '+' when written internationally, IBANs, NINOs and DNIs
 * their letters (uppercased) and digits. Writes at most cap
 * bytes into out and returns the length (the canonical text is never longer than the match in
 * the decoded text). */
size_t sluice_scan_canonical(const sluice_scan_t *s, const sluice_scan_match_t *m, char *out, size_t cap);

/* 1 when the n digits at d ('0'..'9') pass the Luhn check, else 0 (also for n == 0). */
int sluice_scan_luhn(const char *d, size_t n);

/* "email", "card", "phone", "iban", "us_ssn", "uk_nino", "fr_nir" or "es_dni" for one kind
 * (static storage; "unknown" for anything else). Replacement tokens are "[email]" etc. */
const char *sluice_scan_kind_name(unsigned kind);

/* The kind called name, or 0. */
unsigned sluice_scan_kind_parse(const char *name);

#endif

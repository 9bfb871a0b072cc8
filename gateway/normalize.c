/*
 * PII normalisers for hashing, one function per rule, following the vendors' published rules
 * (VENDORS.md). They work on UTF-8 bytes. Text outside ASCII is put into one form before it is
 * hashed, because the browser sends what the person typed and a hash of a differently written
 * string matches nobody: lowercased by Unicode's mappings (Python's str.lower(), which Meta's
 * business SDK normaliser and the JS toLowerCase() of tags that hash in the page both apply), in
 * NFC (a macOS keyboard or a copy-paste sends "Zoë" as 'e' + U+0308, a CRM stores U+00EB), with
 * the invisible characters that are never part of a name or an address (zero-width space, BOM,
 * soft hyphen, bidi marks and embeddings) dropped. Phones read any script's decimal digits and
 * full-width forms. Pure; any thread.
 */
#include "gateway/normalize.h"

#include <stdint.h>
#include <string.h>

#include "common/utf8.h"
#include "gateway/unicode_tables.h"

typedef struct outbuf {
    char *p;
    size_t len, cap;
    int overflow;
} outbuf_t;

static void put(outbuf_t *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void putc1(outbuf_t *o, char c)
{
    put(o, &c, 1);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ascii_punct(unsigned char c)
{
    return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

static void trim(const char **in, size_t *len)
{
    while (*len > 0 && is_space((unsigned char)(*in)[0])) {
        (*in)++;
        (*len)--;
    }
    while (*len > 0 && is_space((unsigned char)(*in)[*len - 1]))
        (*len)--;
}

/* Length of the UTF-8 sequence starting at s[i] (1 for invalid bytes, so we never stall). */
static size_t u8len(const unsigned char *s, size_t i, size_t len)
{
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return i + n <= len ? n : 1;
}

static long finish(outbuf_t *o)
{
    return o->overflow || o->len == 0 ? -1 : (long)o->len;
}

/* ---------------------------------------------------------------- Unicode text */

/* Code points held while one value is folded: 1024 output bytes (the callers' buffers) never need
 * more, even decomposed. More is refused (the field is removed), never cut. */
#define FOLD_MAX 2048

/* The code point at s[*i], advancing *i; a byte that starts no valid sequence (overlong,
 * surrogate, truncated) comes back as itself with *bad set, so it is kept as the byte it was. */
static uint32_t u8_decode(const unsigned char *s, size_t len, size_t *i, int *bad)
{
    size_t n = u8len(s, *i, len);
    uint32_t c = s[*i];
    *bad = 0;
    if (n == 1) {
        *bad = c >= 0x80;
        (*i)++;
        return c;
    }
    uint32_t cp = c & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) {
            *bad = 1;
            (*i)++;
            return c;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        *bad = 1;
        (*i)++;
        return c;
    }
    *i += n;
    return cp;
}

static void u8_put(outbuf_t *o, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    put(o, b, n);
}

/* Characters nobody sees that a paste or a right-to-left keyboard adds to a name or an address:
 * soft hyphen, zero-width space, LRM/RLM/ALM, bidi embeddings, overrides and isolates, word
 * joiner, BOM. ZWJ and ZWNJ stay: they change how Persian, Indic and emoji text reads. */
static int is_invisible(uint32_t cp)
{
    return cp == 0xad || cp == 0x200b || cp == 0x200e || cp == 0x200f || cp == 0x61c ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0xfeff;
}

static uint32_t u_lower(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(sluice_u_lower) / sizeof(sluice_u_lower[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sluice_u_lower[mid].cp == cp)
            return sluice_u_lower[mid].lower;
        if (sluice_u_lower[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return cp;
}

static unsigned u_ccc(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(sluice_u_ccc) / sizeof(sluice_u_ccc[0]);
    if (cp < 0x300)
        return 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < sluice_u_ccc[mid].first)
            hi = mid;
        else if (cp > sluice_u_ccc[mid].last)
            lo = mid + 1;
        else
            return sluice_u_ccc[mid].ccc;
    }
    return 0;
}

#define HANGUL_S      0xac00u
#define HANGUL_L      0x1100u
#define HANGUL_V      0x1161u
#define HANGUL_T      0x11a7u
#define HANGUL_VCOUNT 21u
#define HANGUL_TCOUNT 28u
#define HANGUL_SCOUNT 11172u

typedef struct cpbuf {
    uint32_t cp[FOLD_MAX];
    size_t n;
    int overflow;
} cpbuf_t;

static void cp_push(cpbuf_t *b, uint32_t cp)
{
    if (b->n == FOLD_MAX)
        b->overflow = 1;
    else
        b->cp[b->n++] = cp;
}

/* Canonical decomposition (NFD) of one code point. */
static void u_decompose(cpbuf_t *b, uint32_t cp)
{
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SCOUNT) {
        uint32_t si = cp - HANGUL_S;
        cp_push(b, HANGUL_L + si / (HANGUL_VCOUNT * HANGUL_TCOUNT));
        cp_push(b, HANGUL_V + (si % (HANGUL_VCOUNT * HANGUL_TCOUNT)) / HANGUL_TCOUNT);
        if (si % HANGUL_TCOUNT != 0)
            cp_push(b, HANGUL_T + si % HANGUL_TCOUNT);
        return;
    }
    if (cp >= 0xc0) {
        size_t lo = 0, hi = sizeof(sluice_u_decomp) / sizeof(sluice_u_decomp[0]);
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (sluice_u_decomp[mid].cp == cp) {
                for (size_t k = 0; k < sluice_u_decomp[mid].len; k++)
                    cp_push(b, sluice_u_decomp_seq[sluice_u_decomp[mid].off + k]);
                return;
            }
            if (sluice_u_decomp[mid].cp < cp)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    cp_push(b, cp);
}

/* The primary composite of a starter and the character after it, or 0. */
static uint32_t u_compose(uint32_t a, uint32_t b)
{
    if (a >= HANGUL_L && a < HANGUL_L + 19 && b >= HANGUL_V && b < HANGUL_V + HANGUL_VCOUNT)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VCOUNT + (b - HANGUL_V)) * HANGUL_TCOUNT;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SCOUNT && (a - HANGUL_S) % HANGUL_TCOUNT == 0 && b > HANGUL_T &&
        b < HANGUL_T + HANGUL_TCOUNT)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = sizeof(sluice_u_compose) / sizeof(sluice_u_compose[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const sluice_u_compose_t *e = &sluice_u_compose[mid];
        if (e->first == a && e->second == b)
            return e->composite;
        if (e->first < a || (e->first == a && e->second < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Canonical ordering then canonical composition (UAX #15): NFD in b becomes NFC in place. */
static void u_nfc(cpbuf_t *b)
{
    for (size_t i = 1; i < b->n; i++) { /* stable sort of each run of non-starters by class */
        unsigned c = u_ccc(b->cp[i]);
        for (size_t j = i; c != 0 && j > 0; j--) {
            unsigned p = u_ccc(b->cp[j - 1]);
            if (p <= c)
                break;
            uint32_t t = b->cp[j];
            b->cp[j] = b->cp[j - 1];
            b->cp[j - 1] = t;
        }
    }
    /* A character joins the last starter when nothing between blocks it: nothing is between,
     * or what is has a lower, non-zero class (the run is sorted, so the last one tells). */
    size_t w = 0, starter = 0;
    int have_starter = 0;
    unsigned last = 0;
    for (size_t r = 0; r < b->n; r++) {
        uint32_t cp = b->cp[r];
        unsigned c = u_ccc(cp);
        if (have_starter && (w == starter + 1 || (last != 0 && last < c))) {
            uint32_t comp = u_compose(b->cp[starter], cp);
            if (comp != 0) {
                b->cp[starter] = comp;
                continue;
            }
        }
        if (c == 0) {
            starter = w;
            have_starter = 1;
        }
        last = c;
        b->cp[w++] = cp;
    }
    b->n = w;
}

/* A letter with case (so it has a lowercase mapping or is one); used only around a Σ. */
static int u_cased(uint32_t cp)
{
    if (u_lower(cp) != cp)
        return 1;
    for (size_t i = 0; i < sizeof(sluice_u_lower) / sizeof(sluice_u_lower[0]); i++)
        if (sluice_u_lower[i].lower == cp)
            return 1;
    return 0;
}

/* Σ at the end of a word lowercases to ς, elsewhere to σ (Unicode's Final_Sigma, which
 * str.lower() and toLowerCase() apply): "ΝΙΚΟΛΑΟΣ" must hash as "νικολαος", as "Νικόλαος" typed
 * in lowercase does. Marks are looked through on both sides. */
static uint32_t lower_sigma(const cpbuf_t *b, const unsigned char *s, size_t len, size_t next)
{
    int before = 0;
    for (size_t k = b->n; k > 0; k--) {
        if (u_ccc(b->cp[k - 1]) != 0)
            continue;
        before = u_cased(b->cp[k - 1]);
        break;
    }
    if (!before)
        return 0x3c3;
    while (next < len) {
        int bad;
        uint32_t cp = u8_decode(s, len, &next, &bad);
        if (bad)
            break;
        if (u_ccc(cp) != 0 || is_invisible(cp))
            continue;
        if (u_cased(cp))
            return 0x3c3;
        break;
    }
    return 0x3c2;
}

/* The slow path of lower_filtered for a value with any byte outside ASCII: lowercase,
 * invisible characters dropped, NFC. */
static long fold_unicode(const char *in, size_t len, int (*skip)(unsigned char), outbuf_t *o)
{
    static _Thread_local cpbuf_t b; /* 8 KiB: kept off the event loop's stack */
    const unsigned char *s = (const unsigned char *)in;
    b.n = 0;
    b.overflow = 0;
    size_t i = 0;
    while (i < len) {
        int bad;
        uint32_t cp = u8_decode(s, len, &i, &bad);
        if (bad) {
            /* Not UTF-8: the byte is kept as it was, outside any composition. */
            u_nfc(&b);
            for (size_t k = 0; k < b.n; k++)
                u8_put(o, b.cp[k]);
            b.n = 0;
            if (!skip((unsigned char)cp))
                putc1(o, (char)cp);
            continue;
        }
        if ((cp < 0x80 && skip((unsigned char)cp)) || is_invisible(cp))
            continue;
        /* A rule that drops ASCII punctuation (names, places) drops every script's: an iPhone
         * types "O’Brien" with U+2019, a Japanese IME "・" and "．". One that drops spaces drops
         * no-break and ideographic spaces too. */
        if (cp >= 0x80) {
            int kind = sluice_unicode_word_kind(cp);
            if ((kind == 3 && skip('.')) || (kind == 4 && skip(' ')))
                continue;
        }
        if (cp == 0x130) { /* İ: i and a combining dot above, as str.lower() and toLowerCase() give */
            cp_push(&b, 'i');
            cp_push(&b, 0x307);
            continue;
        }
        u_decompose(&b, cp == 0x3a3 ? lower_sigma(&b, s, len, i) : u_lower(cp));
    }
    if (b.overflow)
        return -1;
    u_nfc(&b);
    for (size_t k = 0; k < b.n; k++)
        u8_put(o, b.cp[k]);
    return finish(o);
}

static int skip_nothing(unsigned char c);

/* Lowercase; drop characters for which skip() says so (ASCII only; multibyte always kept).
 * Inlined into each caller so skip is a known function there, and ASCII (nearly every byte of an
 * email or a name) is written without a call; a value with anything else takes fold_unicode. */
static inline __attribute__((always_inline)) long lower_filtered(const char *in, size_t len, int (*skip)(unsigned char),
                                                                 outbuf_t *o)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t start = o->len, i = 0;
    if (skip == skip_nothing) {
        /* Eight ASCII bytes a step (an e-mail, the data layer's most hashed field): a byte from
         * 'A' to 'Z' gets 0x20 added, found as the bytes that reach 0x80 when 0x3f is added and
         * not when 0x25 is (bytes under 0x80: no carry into the next). A byte at a time was ~15
         * instructions a byte. The rest, and any word with a byte over 0x7f, go below. */
        const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
        for (; len - i >= 8 && o->cap - o->len >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & high) != 0)
                break;
            uint64_t upper = (w + 0x3f * ones) & ~(w + 0x25 * ones) & high;
            w |= upper >> 2;
            memcpy(o->p + o->len, &w, 8);
            o->len += 8;
        }
        /* The last 1-7 bytes as the value's last word, overlapping the one before: its first bytes
         * are written again as they were, each output byte being its input byte's (skip_nothing
         * drops none). Only when that word is ASCII and fits; otherwise the loop below. */
        if (i < len && len - i < 8 && len >= 8 && o->cap - o->len >= len - i) {
            uint64_t w;
            memcpy(&w, s + len - 8, 8);
            if ((w & high) == 0) {
                uint64_t upper = (w + 0x3f * ones) & ~(w + 0x25 * ones) & high;
                w |= upper >> 2;
                memcpy(o->p + start + len - 8, &w, 8);
                o->len = start + len;
                i = len;
            }
        }
    }
    for (; i < len; i++) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            o->len = start;
            o->overflow = 0;
            return fold_unicode(in, len, skip, o);
        }
        if (!skip(c)) {
            if (o->len < o->cap)
                o->p[o->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            else
                o->overflow = 1;
        }
    }
    return finish(o);
}

static int skip_nothing(unsigned char c)
{
    (void)c;
    return 0;
}

static int skip_space(unsigned char c)
{
    return is_space(c);
}

static int skip_punct(unsigned char c)
{
    return is_ascii_punct(c);
}

static int skip_city(unsigned char c)
{
    return is_digit(c) || is_space(c) || is_ascii_punct(c);
}

/* Reddit hashes the e-mails it matches against in a canonical form (its "Manual Advanced
 * Matching" guide, redditNormalizeEmail): lower-cased, the local part cut at its first '+' and
 * left with letters and digits only, for every domain ("Al.ice$+Apple@Example.Com" is
 * "alice@example.com"). A hash of the address as typed matches none of Reddit's for most
 * addresses with a dot or an alias. */
static long norm_email_reddit(const char *in, size_t len, outbuf_t *o)
{
    if (lower_filtered(in, len, skip_space, o) < 0)
        return -1;
    char *at = memchr(o->p, '@', o->len);
    if (at == NULL)
        return (long)o->len;
    size_t local = (size_t)(at - o->p), domain_len = o->len - local - 1, w = 0;
    for (size_t r = 0; r < local && o->p[r] != '+'; r++) {
        unsigned char c = (unsigned char)o->p[r];
        if (is_digit(c) || (c >= 'a' && c <= 'z'))
            o->p[w++] = (char)c;
    }
    if (w == 0)
        return -1; /* nothing of the address is left to match: no variant rather than "@domain" */
    memmove(o->p + w, at, domain_len + 1);
    o->len = w + domain_len + 1;
    return finish(o);
}

static long norm_email(sluice_hash_variant_t v, const char *in, size_t len, outbuf_t *o)
{
    if (v == SLUICE_VARIANT_REDDIT)
        return norm_email_reddit(in, len, o);
    if (v != SLUICE_VARIANT_GOOGLE)
        return lower_filtered(in, len, skip_nothing, o);
    /* Google: no whitespace anywhere, and no dots in the local part of gmail addresses. */
    if (lower_filtered(in, len, skip_space, o) < 0)
        return -1;
    char *at = memchr(o->p, '@', o->len);
    if (at == NULL)
        return (long)o->len;
    size_t local = (size_t)(at - o->p), domain_len = o->len - local - 1;
    const char *domain = at + 1;
    if ((domain_len == 9 && memcmp(domain, "gmail.com", 9) == 0) ||
        (domain_len == 14 && memcmp(domain, "googlemail.com", 14) == 0)) {
        size_t w = 0;
        for (size_t r = 0; r < local; r++)
            if (o->p[r] != '.')
                o->p[w++] = o->p[r];
        memmove(o->p + w, at, domain_len + 1);
        o->len = w + domain_len + 1;
    }
    return finish(o);
}

/*
 * Phones: digits with the country code. A leading `+` or `00` means the number already carries
 * its country code. Otherwise, with a default country code, national trunk zeros are dropped and
 * the code is prepended unless the number already starts with it and is longer than a national
 * number (10 digits covers NANP and most European plans).
 *
 * What forms hold besides the digits: `+44 (0)20 7946 0958` writes the trunk zero that is dialled
 * only at home in brackets after the country code (UK, Germany, Switzerland, the Netherlands...),
 * and it is not part of the E.164 number; `650-555-1212 ext. 42`, `x42`, `#42` or a tel: URI's
 * `;ext=42` append an extension that is not either. Kept, they gave a hash no vendor matches.
 */
/* The ASCII digit a decimal digit of any script stands for ('0'..'9'), or 0. */
static char u_digit(uint32_t cp)
{
    for (size_t i = 0; i < sizeof(sluice_u_digit_zero) / sizeof(sluice_u_digit_zero[0]); i++)
        if (cp >= sluice_u_digit_zero[i] && cp < sluice_u_digit_zero[i] + 10)
            return (char)('0' + (cp - sluice_u_digit_zero[i]));
    return 0;
}

/* A phone typed with a Japanese or Chinese IME comes in full-width forms ("０９０-１２３４-５６７８",
 * "＋８１"), one typed on an Arabic, Persian or Hindi keyboard in that script's digits. They are
 * the same number: read as ASCII (full-width ASCII U+FF01..U+FF5E as its ASCII, every decimal
 * digit as its value, anything else as a space), so the rules below see one form. */
static size_t phone_ascii(const char *in, size_t len, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = 0;
    for (size_t i = 0; i < len && n < cap;) {
        int bad;
        uint32_t cp = u8_decode(s, len, &i, &bad);
        char c = ' ';
        if (cp < 0x80 && !bad)
            c = (char)cp;
        else if (!bad && cp >= 0xff01 && cp <= 0xff5e)
            c = (char)(cp - 0xfee0);
        else if (!bad && u_digit(cp) != 0)
            c = u_digit(cp);
        out[n++] = c;
    }
    return n;
}

static long norm_phone(sluice_hash_variant_t v, const char *in, size_t len, const char *default_cc, outbuf_t *o)
{
    char ascii[256];
    /* Eight bytes a step while none has its top bit set (nearly every phone is ASCII). */
    size_t h = 0;
    for (uint64_t w; len - h >= 8 && (memcpy(&w, in + h, 8), (w & 0x8080808080808080ull) == 0);)
        h += 8;
    for (size_t i = h; i < len; i++) {
        if ((unsigned char)in[i] >= 0x80) {
            if (len > sizeof(ascii))
                return -1; /* no phone number is that long; removed rather than cut */
            len = phone_ascii(in, len, ascii, sizeof(ascii));
            in = ascii;
            break;
        }
    }
    char digits[64];
    size_t nd = 0;
    int international = 0, seen_digit = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        /* A digit first: most of a number's characters are, and none of the tests below holds
         * for one. */
        if (is_digit(c)) {
            seen_digit = 1;
            if (nd == sizeof(digits))
                return -1;
            digits[nd++] = (char)c;
            continue;
        }
        if (c == '+' && !seen_digit)
            international = 1;
        if (seen_digit && (is_alpha(c) || c == '#' || c == ';' || c == ','))
            break; /* an extension, a pause or a note follows the number */
        if (c == '(' && seen_digit) {
            size_t j = i + 1;
            while (j < len && in[j] == ' ')
                j++;
            if (j < len && in[j] == '0') {
                j++;
                while (j < len && in[j] == ' ')
                    j++;
                if (j < len && in[j] == ')') {
                    i = j; /* "(0)": the trunk prefix, dialled only within the country */
                    continue;
                }
            }
        }
    }
    size_t start = 0;
    if (!international && nd >= 2 && digits[0] == '0' && digits[1] == '0') {
        international = 1;
        start = 2;
    }
    while (start < nd && digits[start] == '0')
        start++;
    if (start == nd)
        return -1;
    if (v != SLUICE_VARIANT_DEFAULT)
        putc1(o, '+');
    size_t national = nd - start;
    if (!international && default_cc != NULL && default_cc[0] != '\0') {
        size_t cl = strlen(default_cc);
        int has_cc = national > 10 && national > cl && memcmp(digits + start, default_cc, cl) == 0;
        if (!has_cc)
            put(o, default_cc, cl);
    }
    put(o, digits + start, national);
    return finish(o);
}

static const struct {
    const char *name, *code;
} us_states[] = {
    {"alabama", "al"},       {"alaska", "ak"},        {"arizona", "az"},
    {"arkansas", "ar"},      {"california", "ca"},    {"colorado", "co"},
    {"connecticut", "ct"},   {"delaware", "de"},      {"districtofcolumbia", "dc"},
    {"florida", "fl"},       {"georgia", "ga"},       {"hawaii", "hi"},
    {"idaho", "id"},         {"illinois", "il"},      {"indiana", "in"},
    {"iowa", "ia"},          {"kansas", "ks"},        {"kentucky", "ky"},
    {"louisiana", "la"},     {"maine", "me"},         {"maryland", "md"},
    {"massachusetts", "ma"}, {"michigan", "mi"},      {"minnesota", "mn"},
    {"mississippi", "ms"},   {"missouri", "mo"},      {"montana", "mt"},
    {"nebraska", "ne"},      {"nevada", "nv"},        {"newhampshire", "nh"},
    {"newjersey", "nj"},     {"newmexico", "nm"},     {"newyork", "ny"},
    {"northcarolina", "nc"}, {"northdakota", "nd"},   {"ohio", "oh"},
    {"oklahoma", "ok"},      {"oregon", "or"},        {"pennsylvania", "pa"},
    {"rhodeisland", "ri"},   {"southcarolina", "sc"}, {"southdakota", "sd"},
    {"tennessee", "tn"},     {"texas", "tx"},         {"utah", "ut"},
    {"vermont", "vt"},       {"virginia", "va"},      {"washington", "wa"},
    {"westvirginia", "wv"},  {"wisconsin", "wi"},     {"wyoming", "wy"},
};

static long norm_state(const char *in, size_t len, outbuf_t *o)
{
    if (lower_filtered(in, len, skip_city, o) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(us_states) / sizeof(us_states[0]); i++) {
        if (strlen(us_states[i].name) == o->len && memcmp(o->p, us_states[i].name, o->len) == 0) {
            memcpy(o->p, us_states[i].code, 2);
            o->len = 2;
            break;
        }
    }
    return finish(o);
}

static long norm_zip(const char *in, size_t len, outbuf_t *o)
{
    if (lower_filtered(in, len, skip_space, o) < 0)
        return -1;
    /* US ZIP+4: keep the five-digit part. */
    if (o->len == 10 && o->p[5] == '-') {
        int us = 1;
        for (size_t i = 0; i < 10; i++)
            if (i != 5 && !is_digit((unsigned char)o->p[i]))
                us = 0;
        if (us)
            o->len = 5;
    }
    return finish(o);
}

static const struct {
    const char *name, *code;
} countries[] = {
    {"usa", "us"},          {"unitedstates", "us"}, {"unitedstatesofamerica", "us"},
    {"uk", "gb"},           {"gbr", "gb"},          {"unitedkingdom", "gb"},
    {"greatbritain", "gb"}, {"deu", "de"},          {"germany", "de"},
    {"deutschland", "de"},  {"fra", "fr"},          {"france", "fr"},
    {"esp", "es"},          {"spain", "es"},        {"ita", "it"},
    {"italy", "it"},        {"nld", "nl"},          {"netherlands", "nl"},
    {"can", "ca"},          {"canada", "ca"},       {"aus", "au"},
    {"australia", "au"},    {"jpn", "jp"},          {"japan", "jp"},
    {"bra", "br"},          {"brazil", "br"},       {"mex", "mx"},
    {"mexico", "mx"},       {"ind", "in"},          {"india", "in"},
    {"che", "ch"},          {"switzerland", "ch"},  {"aut", "at"},
    {"austria", "at"},      {"irl", "ie"},          {"ireland", "ie"},
    {"swe", "se"},          {"sweden", "se"},       {"pol", "pl"},
    {"poland", "pl"},       {"bel", "be"},          {"belgium", "be"},
};

static long norm_country(const char *in, size_t len, outbuf_t *o)
{
    if (lower_filtered(in, len, skip_city, o) < 0)
        return -1;
    if (o->len == 2 && is_alpha((unsigned char)o->p[0]) && is_alpha((unsigned char)o->p[1]))
        return 2;
    for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]); i++) {
        if (strlen(countries[i].name) == o->len && memcmp(o->p, countries[i].name, o->len) == 0) {
            memcpy(o->p, countries[i].code, 2);
            o->len = 2;
            return 2;
        }
    }
    return -1;
}

static long norm_gender(const char *in, size_t len, outbuf_t *o)
{
    char buf[16];
    outbuf_t t = {buf, 0, sizeof(buf), 0};
    if (lower_filtered(in, len, skip_city, &t) < 0)
        return -1;
    static const char *const female[] = {"f", "female", "woman", "w"};
    static const char *const male[] = {"m", "male", "man"};
    for (size_t i = 0; i < 4; i++)
        if (strlen(female[i]) == t.len && memcmp(buf, female[i], t.len) == 0) {
            putc1(o, 'f');
            return finish(o);
        }
    for (size_t i = 0; i < 3; i++)
        if (strlen(male[i]) == t.len && memcmp(buf, male[i], t.len) == 0) {
            putc1(o, 'm');
            return finish(o);
        }
    return -1;
}

/* YYYYMMDD from YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or an ISO-8601 date-time. */
static long norm_date(const char *in, size_t len, outbuf_t *o)
{
    char d[8];
    size_t nd = 0, i = 0;
    for (; i < len && nd < 8; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_digit(c))
            d[nd++] = (char)c;
        else if (!((c == '-' || c == '/' || c == '.') && (nd == 4 || nd == 6)))
            return -1;
    }
    if (nd != 8 || (i < len && in[i] != 'T' && in[i] != ' '))
        return -1;
    int month = (d[4] - '0') * 10 + (d[5] - '0'), day = (d[6] - '0') * 10 + (d[7] - '0');
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return -1;
    put(o, d, 8);
    return finish(o);
}

long sluice_normalize(sluice_normalizer_t n, sluice_hash_variant_t v, const char *in, size_t len,
                      const char *default_cc, char *out, size_t cap)
{
    outbuf_t o = {out, 0, cap, 0};
    trim(&in, &len);
    switch (n) {
    case SLUICE_NORM_EMAIL: return norm_email(v, in, len, &o);
    case SLUICE_NORM_PHONE: return norm_phone(v, in, len, default_cc, &o);
    case SLUICE_NORM_NAME: return lower_filtered(in, len, skip_punct, &o);
    case SLUICE_NORM_CITY: return lower_filtered(in, len, skip_city, &o);
    case SLUICE_NORM_STATE: return norm_state(in, len, &o);
    case SLUICE_NORM_ZIP: return norm_zip(in, len, &o);
    case SLUICE_NORM_COUNTRY: return norm_country(in, len, &o);
    case SLUICE_NORM_GENDER: return norm_gender(in, len, &o);
    case SLUICE_NORM_DATE: return norm_date(in, len, &o);
    case SLUICE_NORM_EXTERNAL_ID:
    case SLUICE_NORM_RAW: put(&o, in, len); return finish(&o);
    }
    return -1;
}

int sluice_normalize_variant_differs(sluice_normalizer_t n, sluice_hash_variant_t v)
{
    if (v == SLUICE_VARIANT_DEFAULT)
        return 0;
    if (n == SLUICE_NORM_PHONE)
        return 1;
    return n == SLUICE_NORM_EMAIL && (v == SLUICE_VARIANT_GOOGLE || v == SLUICE_VARIANT_REDDIT);
}

const char *sluice_hash_variant_name(sluice_hash_variant_t v)
{
    switch (v) {
    case SLUICE_VARIANT_GOOGLE: return "google";
    case SLUICE_VARIANT_TIKTOK: return "tiktok";
    case SLUICE_VARIANT_REDDIT: return "reddit";
    default: return "default";
    }
}

sluice_hash_variant_t sluice_hash_variant_parse(const char *name)
{
    for (int v = 1; name != NULL && v < SLUICE_VARIANT_COUNT; v++) {
        if (strcmp(name, sluice_hash_variant_name((sluice_hash_variant_t)v)) == 0)
            return (sluice_hash_variant_t)v;
    }
    return SLUICE_VARIANT_DEFAULT;
}

sluice_hash_variant_t sluice_hash_variant_for_vendor(sluice_vendor_kind_t vendor)
{
    const sluice_vendor_ops_t *ops = sluice_vendor_get(vendor);
    return ops != NULL ? sluice_hash_variant_parse(ops->hash_variant) : SLUICE_VARIANT_DEFAULT;
}

int sluice_is_sha256_hex(const char *s, size_t len)
{
    if (len != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_digit(c) && !(c >= 'a' && c <= 'f'))
            return 0;
    }
    return 1;
}

int sluice_sha256_hex_lower(const char *s, size_t len, char out[65])
{
    if (len != 64)
        return -1;
    for (size_t i = 0; i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'F')
            c = (unsigned char)(c - 'A' + 'a');
        if (!is_digit(c) && !(c >= 'a' && c <= 'f'))
            return -1;
        out[i] = (char)c;
    }
    out[64] = '\0';
    return 0;
}

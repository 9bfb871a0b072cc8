/*
 * PII normalisers for hashing, one function per rule, following the vendors' published rules
 * (VENDORS.md). They work on UTF-8 bytes: ASCII is lowercased, Latin-1 and Latin Extended-A
 * capitals are lowercased too (so "Valéry" and "VALÉRY" hash alike), other code points pass
 * through unchanged. Pure; any thread.
 */
#include "gateway/normalize.h"

#include <string.h>

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

/* Appends the lowercase form of the code point at s[i..i+n). */
static void put_lower(outbuf_t *o, const unsigned char *s, size_t n)
{
    if (n == 1) {
        unsigned char c = s[0];
        putc1(o, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
        return;
    }
    if (n == 2) {
        unsigned cp = ((unsigned)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
            cp += 0x20; /* Latin-1 capitals */
        else if (cp >= 0x100 && cp <= 0x17f && (cp & 1) == 0 && cp != 0x130 && cp != 0x138)
            cp += 1; /* Latin Extended-A pairs, capital first */
        char b[2] = {(char)(0xc0 | (cp >> 6)), (char)(0x80 | (cp & 0x3f))};
        put(o, b, 2);
        return;
    }
    put(o, (const char *)s, n);
}

static long finish(outbuf_t *o)
{
    return o->overflow || o->len == 0 ? -1 : (long)o->len;
}

/* Lowercase; drop characters for which skip() says so (ASCII only; multibyte always kept).
 * Inlined into each caller so skip is a known function there, and ASCII (nearly every byte of an
 * email or a name) is written without a call. */
static inline __attribute__((always_inline)) long lower_filtered(const char *in, size_t len, int (*skip)(unsigned char),
                                                                 outbuf_t *o)
{
    const unsigned char *s = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (!skip(c)) {
                if (o->len < o->cap)
                    o->p[o->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                else
                    o->overflow = 1;
            }
            i++;
            continue;
        }
        size_t n = u8len(s, i, len);
        if (!(n == 1 && skip(s[i])))
            put_lower(o, s + i, n);
        i += n;
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
static long norm_phone(sluice_hash_variant_t v, const char *in, size_t len, const char *default_cc, outbuf_t *o)
{
    char digits[64];
    size_t nd = 0;
    int international = 0, seen_digit = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
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
        if (is_digit(c)) {
            seen_digit = 1;
            if (nd == sizeof(digits))
                return -1;
            digits[nd++] = (char)c;
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

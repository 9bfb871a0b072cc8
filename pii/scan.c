/*
 * The redact_text scanner (rules in scan.h). One pass percent-decodes the text into a buffer
 * that remembers where each decoded byte came from; e-mails are found around each '@'; then
 * each run of digit groups (digits joined by short separators) is cut into cards and phones.
 * Character classes are ASCII and locale-independent: the text is UTF-8 and the plugin runs on
 * event-loop threads where the locale must not matter.
 *
 * Runs on whichever thread owns the scan object (one event-loop thread at a time).
 */
#include "scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CARD_MIN 13
#define CARD_MAX 19

typedef struct span {
    size_t s, e;
} span_t;

/* A run of digit groups in the decoded text. The arrays live in the scan object's run_buf and
 * grow with the longest run seen, so a run is never cut (a cut would move when masking shortens
 * the text, and the same text would then scan differently). */
typedef struct run {
    span_t *g;              /* digit groups */
    span_t *sep;            /* sep[k]: the separator between g[k] and g[k + 1] */
    unsigned char *covered; /* covered[k]: g[k] is part of a card */
    size_t count, cap;
    size_t pre;      /* where the run starts: the first digit, or its '+' / '(' prefix */
    int plus, paren; /* the run is prefixed by '+' / '(' */
} run_t;

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const struct {
    unsigned kind;
    const char *name;
} kind_names[] = {
    {SLUICE_SCAN_EMAIL, "email"},   {SLUICE_SCAN_CARD, "card"},     {SLUICE_SCAN_PHONE, "phone"},
    {SLUICE_SCAN_IBAN, "iban"},     {SLUICE_SCAN_US_SSN, "us_ssn"}, {SLUICE_SCAN_UK_NINO, "uk_nino"},
    {SLUICE_SCAN_FR_NIR, "fr_nir"}, {SLUICE_SCAN_ES_DNI, "es_dni"},
};

const char *sluice_scan_kind_name(unsigned kind)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (kind_names[i].kind == kind)
            return kind_names[i].name;
    return "unknown";
}

unsigned sluice_scan_kind_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(kind_names[i].name, name) == 0)
            return kind_names[i].kind;
    return 0;
}

int sluice_scan_luhn(const char *d, size_t n)
{
    if (n == 0)
        return 0;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

void sluice_scan_dispose(sluice_scan_t *s)
{
    if (s == NULL)
        return;
    free(s->dec_buf);
    free(s->map);
    free(s->matches);
    free(s->run_buf);
    memset(s, 0, sizeof(*s));
}

static int push(sluice_scan_t *s, unsigned kind, int intl, size_t ds, size_t de)
{
    if (s->count == s->match_cap) {
        size_t cap = s->match_cap ? 2 * s->match_cap : 8;
        sluice_scan_match_t *m = realloc(s->matches, cap * sizeof(*m));
        if (m == NULL)
            return -1;
        s->matches = m;
        s->match_cap = cap;
    }
    s->matches[s->count++] = (sluice_scan_match_t){.kind = kind,
                                                   .international = intl,
                                                   .start = sluice_scan_offset(s, ds),
                                                   .end = sluice_scan_offset(s, de),
                                                   .dstart = ds,
                                                   .dend = de};
    return 0;
}

/* The characters read as their ASCII counterparts, being what a person meant by them: the
 * full-width '@' and '.' of East Asian input methods (U+FF20, U+FE6B small, U+FF0E), the
 * no-break and thin spaces that French formatting and copy-paste put between a phone's digit
 * groups (U+00A0, U+202F, U+2009), and the hyphens of typesetting (U+2010..U+2013; web pages
 * write phones with the no-break one). Returns the length of the one at text[i] (*out: what it reads
 * as), or 0. */
static size_t alias_at(const char *text, size_t n, size_t i, char *out)
{
    const unsigned char *t = (const unsigned char *)text;
    if (t[i] == 0xc2 && i + 1 < n && t[i + 1] == 0xa0) {
        *out = ' ';
        return 2;
    }
    if ((t[i] != 0xef && t[i] != 0xe2) || i + 2 >= n)
        return 0;
    unsigned c = (unsigned)t[i] << 16 | (unsigned)t[i + 1] << 8 | t[i + 2];
    switch (c) {
    case 0xefbca0: /* U+FF20 */
    case 0xefb9ab: /* U+FE6B */ *out = '@'; return 3;
    case 0xefbc8e: /* U+FF0E */ *out = '.'; return 3;
    case 0xe280af: /* U+202F */
    case 0xe28089: /* U+2009 */ *out = ' '; return 3;
    case 0xe28090: /* U+2010 */
    case 0xe28091: /* U+2011, the no-break hyphen */
    case 0xe28092: /* U+2012 */
    case 0xe28093: /* U+2013 */ *out = '-'; return 3;
    default: return 0;
    }
}

/* The hex digits of the escape at text[i] ('%'), through any "%25" layers ("%2540" is "%40"
 * encoded again: a URL inside another URL's query, a login's `next=`); returns where they are,
 * or 0 when text[i] starts no escape. */
static size_t escape_digits(const char *text, size_t n, size_t i)
{
    size_t h = i + 1;
    while (h + 3 < n && text[h] == '2' && text[h + 1] == '5' && hexval((unsigned char)text[h + 2]) >= 0 &&
           hexval((unsigned char)text[h + 3]) >= 0)
        h += 2;
    return h + 1 < n && hexval((unsigned char)text[h]) >= 0 && hexval((unsigned char)text[h + 1]) >= 0 ? h : 0;
}

/* Percent-decodes text into s->dec, through nested encodings (a '%' not followed by two hex
 * digits stays as it is; '+' stays '+': the detectors treat it as a possible form-encoded
 * space), and reads the characters of alias_at as ASCII. */
static int decode(sluice_scan_t *s, const char *text, size_t n)
{
    /* Most values hold neither: scan them in place, offsets unchanged. */
    int plain = memchr(text, '%', n) == NULL;
    for (size_t i = 0; plain && i < n; i++) {
        char c;
        if ((unsigned char)text[i] >= 0xc2 && alias_at(text, n, i, &c) != 0)
            plain = 0;
    }
    if (plain) {
        s->dec = text;
        s->dec_len = n;
        s->identity = 1;
        return 0;
    }
    if (n + 1 > s->dec_cap) {
        char *dec = realloc(s->dec_buf, n + 1);
        if (dec == NULL)
            return -1;
        s->dec_buf = dec;
        size_t *map = realloc(s->map, (n + 1) * sizeof(*map));
        if (map == NULL)
            return -1;
        s->map = map;
        s->dec_cap = n + 1;
    }
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        s->map[j] = i;
        size_t h, len;
        char c;
        if (text[i] == '%' && (h = escape_digits(text, n, i)) != 0) {
            s->dec_buf[j++] = (char)(hexval((unsigned char)text[h]) * 16 + hexval((unsigned char)text[h + 1]));
            i = h + 2;
        } else if ((unsigned char)text[i] >= 0xc2 && (len = alias_at(text, n, i, &c)) != 0) {
            s->dec_buf[j++] = c;
            i += len;
        } else {
            s->dec_buf[j++] = text[i++];
        }
    }
    s->map[j] = n;
    s->dec = s->dec_buf;
    s->dec_len = j;
    s->identity = 0;
    return 0;
}

/* ---------------------------------------------------------------------------- e-mail */

/* Bytes of multi-byte UTF-8 characters count as letters in addresses: internationalised
 * addresses (RFC 6531, `josé@x.io`, `jane@exämple.com`) are personal data like any other, and a
 * class that stopped at the first accent would leave `José.Garcí` of `José.García@x.io` in the
 * clear. A run of such bytes is always a run of whole characters, so a match never cuts one. */
static int is_utf8_byte(unsigned char c)
{
    return c >= 0x80;
}

/* A letter (any non-ASCII character counts), or a digit: what may not touch a match. */
static int is_word(unsigned char c)
{
    return is_alnum(c) || is_utf8_byte(c);
}

static int is_local(unsigned char c)
{
    return is_alnum(c) || is_utf8_byte(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

static int is_domain(unsigned char c)
{
    return is_alnum(c) || is_utf8_byte(c) || c == '.' || c == '-';
}

/* 1 when the label d[0..n) is an image file's extension, which no top-level domain is: the
 * "@2x" of "logo@2x.png" names a screen density (Apple's convention, and every CMS's), not a
 * mailbox. */
static int image_extension(const char *d, size_t n)
{
    static const char *const ext[] = {"png",  "jpg", "jpeg", "gif", "webp", "svg",
                                      "avif", "bmp", "ico",  "tif", "tiff", "heic"};
    for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
        if (strlen(ext[k]) != n)
            continue;
        size_t i = 0;
        while (i < n && (d[i] | 0x20) == ext[k][i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* Two or more non-empty labels of letters, digits, '-' and non-ASCII characters, none starting or
 * ending with '-', the last one 2+ letters (non-ASCII ones included: .рф) and no image file's
 * extension. */
static int domain_ok(const char *d, size_t n)
{
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.')
            continue;
        size_t len = i - start;
        if (len == 0 || len > 63 || d[start] == '-' || d[i - 1] == '-')
            return 0;
        labels++;
        if (i == n) {
            if (len < 2)
                return 0;
            for (size_t k = start; k < i; k++)
                if (!is_alpha((unsigned char)d[k]) && !is_utf8_byte((unsigned char)d[k]))
                    return 0;
            if (image_extension(d + start, len))
                return 0;
        }
        start = i + 1;
    }
    return labels >= 2;
}

static int find_emails(sluice_scan_t *s)
{
    const char *d = s->dec;
    size_t floor = 0;
    for (size_t p = 0; p < s->dec_len; p++) {
        if (d[p] != '@')
            continue;
        size_t l = p;
        while (l > floor && is_local((unsigned char)d[l - 1]))
            l--;
        while (l < p && d[l] == '.')
            l++;
        if (l == p)
            continue;
        size_t r = p + 1;
        while (r < s->dec_len && is_domain((unsigned char)d[r]))
            r++;
        /* Back off to a '.' or '-' until the domain is valid: "jane@x.io.2024" and
         * "jane@x.io-2024" are jane@x.io (and scan the same once the digits are masked). */
        for (;;) {
            while (r > p + 1 && (d[r - 1] == '.' || d[r - 1] == '-'))
                r--;
            if (r == p + 1 || domain_ok(d + p + 1, r - p - 1))
                break;
            while (r > p + 1 && d[r - 1] != '.' && d[r - 1] != '-')
                r--;
        }
        if (r == p + 1)
            continue;
        if (push(s, SLUICE_SCAN_EMAIL, 0, l, r) != 0)
            return -1;
        floor = r;
        p = r - 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- ids with letters */

static unsigned char upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - ('a' - 'A')) : c;
}

/* 1 when a match already found covers dec[i]. The list is short (a value holds few matches). */
static int taken(const sluice_scan_t *s, size_t i)
{
    for (size_t k = 0; k < s->count; k++)
        if (s->matches[k].dstart <= i && i < s->matches[k].dend)
            return 1;
    return 0;
}

/* IBAN lengths by country (the SWIFT IBAN registry); a country not listed is not an IBAN. */
static const char iban_lengths[][3] = {
    "AD\x18", "AE\x17", "AL\x1c", "AT\x14", "AZ\x1c", "BA\x14", "BE\x10", "BG\x16", "BH\x16", "BR\x1d", "BY\x1c",
    "CH\x15", "CR\x16", "CY\x1c", "CZ\x18", "DE\x16", "DK\x12", "DO\x1c", "EE\x14", "EG\x1d", "ES\x18", "FI\x12",
    "FO\x12", "FR\x1b", "GB\x16", "GE\x16", "GI\x17", "GL\x12", "GR\x1b", "GT\x1c", "HR\x15", "HU\x1c", "IE\x16",
    "IL\x17", "IQ\x17", "IS\x1a", "IT\x1b", "JO\x1e", "KW\x1e", "KZ\x14", "LB\x1c", "LC\x20", "LI\x15", "LT\x14",
    "LU\x14", "LV\x15", "MC\x1b", "MD\x18", "ME\x16", "MK\x13", "MR\x1b", "MT\x1f", "MU\x1e", "NL\x12", "NO\x0f",
    "PK\x18", "PL\x1c", "PS\x1d", "PT\x19", "QA\x1d", "RO\x18", "RS\x16", "SA\x18", "SC\x1f", "SE\x18", "SI\x13",
    "SK\x18", "SM\x1b", "ST\x19", "SV\x1c", "TL\x17", "TN\x18", "TR\x1a", "UA\x1d", "VA\x16", "VG\x18", "XK\x14",
};

#define IBAN_MAX 34

static size_t iban_length(unsigned char a, unsigned char b)
{
    for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++)
        if (iban_lengths[i][0] == (char)upper(a) && iban_lengths[i][1] == (char)upper(b))
            return (size_t)(unsigned char)iban_lengths[i][2];
    return 0;
}

/* ISO 13616 check: the first four characters moved to the end, letters as 10..35, mod 97 == 1. */
static int iban_check(const char *c, size_t n)
{
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = upper((unsigned char)c[(k + 4) % n]);
        if (is_digit(ch))
            rem = (rem * 10 + (ch - '0')) % 97;
        else
            rem = (rem * 100 + (ch - 'A' + 10)) % 97;
    }
    return rem == 1;
}

/* An IBAN starting at i: country, two check digits, the rest letters and digits, written in one
 * block or in groups of four joined by single spaces, standing alone; returns its end or 0. */
static size_t iban_at(const sluice_scan_t *s, size_t i)
{
    const char *d = s->dec;
    size_t n = s->dec_len;
    if (i + 4 > n || !is_alpha((unsigned char)d[i]) || !is_alpha((unsigned char)d[i + 1]) ||
        !is_digit((unsigned char)d[i + 2]) || !is_digit((unsigned char)d[i + 3]))
        return 0;
    size_t want = iban_length((unsigned char)d[i], (unsigned char)d[i + 1]);
    if (want == 0)
        return 0;
    char c[IBAN_MAX];
    size_t got = 0, j = i;
    int grouped = -1; /* unknown until the fifth character: one block (0) or groups of four (1) */
    while (got < want && j < n) {
        if (got > 0 && got % 4 == 0) {
            int space = d[j] == ' ' && j + 1 < n && is_alnum((unsigned char)d[j + 1]);
            if (grouped == -1)
                grouped = space;
            if (space != grouped)
                return 0; /* "DE89 370400..." mixes the two forms */
            j += (size_t)space;
        }
        if (!is_alnum((unsigned char)d[j]) || taken(s, j))
            return 0;
        c[got++] = d[j++];
    }
    if (got != want || (j < n && is_word((unsigned char)d[j])))
        return 0;
    return iban_check(c, got) ? j : 0;
}

/* A UK National Insurance number at i: two prefix letters (HMRC's allowed ones), six digits in
 * one block or three pairs joined by single spaces, and the suffix letter A-D. */
static size_t nino_at(const sluice_scan_t *s, size_t i)
{
    const char *d = s->dec;
    size_t n = s->dec_len;
    if (i + 9 > n)
        return 0;
    unsigned char a = upper((unsigned char)d[i]), b = upper((unsigned char)d[i + 1]);
    if (!(a >= 'A' && a <= 'Z') || !(b >= 'A' && b <= 'Z') || strchr("DFIQUV", a) || strchr("DFIOQUV", b))
        return 0;
    static const char *const banned[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
    for (size_t k = 0; k < sizeof(banned) / sizeof(banned[0]); k++)
        if (banned[k][0] == (char)a && banned[k][1] == (char)b)
            return 0;
    size_t j = i + 2;
    if (j < n && d[j] == ' ')
        j++;
    int spaced = -1;
    for (int pair = 0; pair < 3; pair++) {
        if (pair > 0) {
            int sp = j < n && d[j] == ' ';
            if (spaced == -1)
                spaced = sp;
            if (sp != spaced)
                return 0;
            j += (size_t)sp;
        }
        if (j + 2 > n || !is_digit((unsigned char)d[j]) || !is_digit((unsigned char)d[j + 1]))
            return 0;
        j += 2;
    }
    if (j < n && d[j] == ' ')
        j++;
    if (j >= n || upper((unsigned char)d[j]) < 'A' || upper((unsigned char)d[j]) > 'D')
        return 0;
    j++;
    if (j < n && is_word((unsigned char)d[j]))
        return 0;
    for (size_t k = i; k < j; k++)
        if (taken(s, k))
            return 0;
    return j;
}

/* A Spanish DNI (8 digits and the check letter, optionally after '-' or a space) or NIE (X, Y or
 * Z, 7 digits, the letter) at i. */
static size_t dni_at(const sluice_scan_t *s, size_t i)
{
    static const char letters[] = "TRWAGMYFPDXBNJZSQVHLCKE";
    const char *d = s->dec;
    size_t n = s->dec_len, j = i;
    unsigned long v = 0;
    unsigned char first = upper((unsigned char)d[i]);
    if (first == 'X' || first == 'Y' || first == 'Z') {
        v = (unsigned long)(first - 'X');
        j++;
        for (int k = 0; k < 7; k++, j++) {
            if (j >= n || !is_digit((unsigned char)d[j]))
                return 0;
            v = v * 10 + (unsigned long)(d[j] - '0');
        }
    } else {
        for (int k = 0; k < 8; k++, j++) {
            if (j >= n || !is_digit((unsigned char)d[j]))
                return 0;
            v = v * 10 + (unsigned long)(d[j] - '0');
        }
    }
    if (j < n && (d[j] == '-' || d[j] == ' ') && j + 1 < n && is_alpha((unsigned char)d[j + 1]))
        j++;
    if (j >= n || upper((unsigned char)d[j]) != (unsigned char)letters[v % 23])
        return 0;
    j++;
    if (j < n && is_word((unsigned char)d[j]))
        return 0;
    for (size_t k = i; k < j; k++)
        if (taken(s, k))
            return 0;
    return j;
}

/* IBANs, NINOs and DNIs: tokens that mix letters and digits, found where a word starts and no
 * e-mail is, before the digit runs (which they then bound, like e-mails). */
static int find_ids(sluice_scan_t *s, unsigned kinds)
{
    const char *d = s->dec;
    for (size_t i = 0; i < s->dec_len; i++) {
        if (!is_alnum((unsigned char)d[i]) || (i > 0 && is_word((unsigned char)d[i - 1])) || taken(s, i))
            continue;
        size_t end = 0;
        unsigned kind = 0;
        if ((kinds & SLUICE_SCAN_IBAN) && (end = iban_at(s, i)) != 0)
            kind = SLUICE_SCAN_IBAN;
        else if ((kinds & SLUICE_SCAN_UK_NINO) && (end = nino_at(s, i)) != 0)
            kind = SLUICE_SCAN_UK_NINO;
        else if ((kinds & SLUICE_SCAN_ES_DNI) && (end = dni_at(s, i)) != 0)
            kind = SLUICE_SCAN_ES_DNI;
        if (kind == 0)
            continue;
        if (push(s, kind, 0, i, end) != 0)
            return -1;
        i = end - 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- digit runs */

static size_t glen(const run_t *r, size_t k)
{
    return r->g[k].e - r->g[k].s;
}

static int is_run_sep(unsigned char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
}

/* A card's groups are joined by exactly one space, dash or '+'. */
static int card_sep(const sluice_scan_t *s, const run_t *r, size_t k)
{
    if (r->sep[k].e - r->sep[k].s != 1)
        return 0;
    char c = s->dec[r->sep[k].s];
    return c == ' ' || c == '-' || c == '+';
}

static int luhn_groups(const sluice_scan_t *s, const run_t *r, size_t a, size_t b)
{
    char digits[CARD_MAX];
    size_t n = 0;
    for (size_t k = a; k < b; k++) {
        memcpy(digits + n, s->dec + r->g[k].s, glen(r, k));
        n += glen(r, k);
    }
    return sluice_scan_luhn(digits, n);
}

/* 1 when the number starting with the n digits at d can be a payment card: its first digits are
 * in a card network's range (Visa 4; Mastercard 51-55 and 2221-2720; Mir 2200-2204; Amex 34, 37;
 * Diners and JCB 30-39; Maestro and Discover 50-69; UnionPay and RuPay 81, 82). Millisecond
 * timestamps (17...) and other long numbers that merely pass Luhn (one in ten) are not cards. */
static int card_network(const char *d, size_t n)
{
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++)
        v = v * 10 + (k < n ? (unsigned)(d[k] - '0') : 0);
    if (n < 2 && d[0] != '4') /* a lone first digit cannot tell: let the next groups decide */
        return d[0] >= '2' && d[0] <= '8';
    switch (d[0]) {
    case '2': return (v >= 2200 && v <= 2204) || (v >= 2221 && v <= 2720);
    case '3':
    case '4':
    case '5':
    case '6': return 1;
    case '8': return v / 100 == 81 || v / 100 == 82;
    default: return 0;
    }
}

/* Marks cards among the run's groups in covered[]; the longest passing sub-run from each start. */
static int find_cards(sluice_scan_t *s, const run_t *r)
{
    for (size_t a = 0; a < r->count;) {
        size_t best = 0, digits = 0;
        for (size_t b = a; b < r->count; b++) {
            if (b > a && !card_sep(s, r, b - 1))
                break;
            digits += glen(r, b);
            if (digits > CARD_MAX)
                break;
            if (digits >= CARD_MIN && card_network(s->dec + r->g[a].s, glen(r, a)) && luhn_groups(s, r, a, b + 1))
                best = b + 1;
        }
        if (best == 0) {
            a++;
            continue;
        }
        if (push(s, SLUICE_SCAN_CARD, 0, r->g[a].s, r->g[best - 1].e) != 0)
            return -1;
        memset(r->covered + a, 1, best - a);
        a = best;
    }
    return 0;
}

static int sep_has(const sluice_scan_t *s, const run_t *r, size_t k, char c)
{
    return memchr(s->dec + r->sep[k].s, c, r->sep[k].e - r->sep[k].s) != NULL;
}

static int shape_is(const run_t *r, size_t a, size_t c, const size_t *sizes, size_t n)
{
    if (c - a != n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (glen(r, a + k) != sizes[k])
            return 0;
    return 1;
}

/* Where the '(' right before group k is (the run's prefix for k == 0, else the end of the
 * separator before it), or SIZE_MAX. */
static size_t paren_before(const sluice_scan_t *s, const run_t *r, size_t k)
{
    if (k == 0)
        return r->paren ? r->pre : SIZE_MAX;
    return s->dec[r->sep[k - 1].e - 1] == '(' ? r->sep[k - 1].e - 1 : SIZE_MAX;
}

/* 1 when the four digits at d are a year from 1900 to 2099. */
static int year(const char *d)
{
    return (d[0] == '1' && d[1] == '9') || (d[0] == '2' && d[1] == '0');
}

/* The national-form rules of scan.h for groups [a, c). */
static int national_ok(const sluice_scan_t *s, const run_t *r, size_t a, size_t c)
{
    static const size_t us_dots[] = {3, 3, 4}, fr_dots[] = {2, 2, 2, 2, 2}, date1[] = {4, 2, 2}, date2[] = {2, 2, 4},
                        year_range[] = {4, 4};
    size_t digits = 0;
    for (size_t k = a; k < c; k++)
        digits += glen(r, k);
    const char *first = s->dec + r->g[a].s;
    int intl_prefix = glen(r, a) >= 2 && first[0] == '0' && first[1] == '0';
    if (digits < 8 || digits > (intl_prefix ? 15u : 12u))
        return 0;
    if (c - a == 1)
        return first[0] == '0' && digits >= 9 && (intl_prefix || digits <= 11);
    if (glen(r, c - 1) < 2)
        return 0;
    int dots = 0;
    for (size_t k = a; k < c; k++) {
        if (glen(r, k) > 6)
            return 0;
        if (k + 1 == c)
            break;
        if (sep_has(s, r, k, '.')) {
            if (r->sep[k].e - r->sep[k].s != 1)
                return 0;
            dots = 1;
        }
        if (sep_has(s, r, k, '(') || sep_has(s, r, k, ')')) {
            /* Only "(area) rest": the closing parenthesis right after an opened first group. */
            if (!(k == a && paren_before(s, r, a) != SIZE_MAX && s->dec[r->sep[k].s] == ')' && !sep_has(s, r, k, '(')))
                return 0;
        }
    }
    if (dots && !shape_is(r, a, c, us_dots, 3) && !shape_is(r, a, c, fr_dots, 5))
        return 0;
    if (shape_is(r, a, c, date1, 3) || shape_is(r, a, c, date2, 3))
        return 0;
    /* Two years joined by a hyphen ("season 2024-2025", "1990-2024"): a range, not 4-4 digits. */
    if (shape_is(r, a, c, year_range, 2) && year(s->dec + r->g[a].s) && year(s->dec + r->g[a + 1].s) &&
        s->dec[r->sep[a].s] == '-' && r->sep[a].e - r->sep[a].s == 1)
        return 0;
    return 1;
}

/* A US Social Security number: exactly the groups 3-2-4 joined by the same single '-' or ' ',
 * with an area other than 000, 666 and 9xx, a group other than 00 and a serial other than 0000
 * (nine digits in one block are too common to call an SSN). */
static int ssn_ok(const sluice_scan_t *s, const run_t *r, size_t a, size_t c)
{
    static const size_t shape[] = {3, 2, 4};
    if (!shape_is(r, a, c, shape, 3) || (a == 0 && (r->plus || r->paren)))
        return 0;
    for (size_t k = a; k + 1 < c; k++)
        if (r->sep[k].e - r->sep[k].s != 1 || s->dec[r->sep[k].s] != s->dec[r->sep[a].s] ||
            (s->dec[r->sep[k].s] != '-' && s->dec[r->sep[k].s] != ' '))
            return 0;
    const char *area = s->dec + r->g[a].s, *group = s->dec + r->g[a + 1].s, *serial = s->dec + r->g[a + 2].s;
    if (memcmp(area, "000", 3) == 0 || memcmp(area, "666", 3) == 0 || area[0] == '9' || memcmp(group, "00", 2) == 0 ||
        memcmp(serial, "0000", 4) == 0)
        return 0;
    return 1;
}

/* A French NIR (numéro de sécurité sociale): 13 digits and their 2-digit key (97 - n mod 97),
 * 15 digits in all in one block or groups joined by single spaces, the first digit 1, 2, 3, 7 or
 * 8 (Corsican numbers, with 2A/2B, are not found). */
static int nir_ok(const sluice_scan_t *s, const run_t *r, size_t a, size_t c)
{
    char dg[15];
    size_t n = 0;
    if (a == 0 && (r->plus || r->paren))
        return 0;
    for (size_t k = a; k < c; k++) {
        if (k > a && (r->sep[k - 1].e - r->sep[k - 1].s != 1 || s->dec[r->sep[k - 1].s] != ' '))
            return 0;
        if (n + glen(r, k) > sizeof(dg))
            return 0;
        memcpy(dg + n, s->dec + r->g[k].s, glen(r, k));
        n += glen(r, k);
    }
    if (n != 15 || !strchr("12378", dg[0]))
        return 0;
    unsigned long long v = 0;
    for (size_t k = 0; k < 13; k++)
        v = v * 10 + (unsigned)(dg[k] - '0');
    unsigned key = (unsigned)(dg[13] - '0') * 10 + (unsigned)(dg[14] - '0');
    return key == 97 - v % 97;
}

/* A phone among the groups [a, b) that no card covers: the whole range or nothing, since
 * which part of a longer run of groups would be the number is anyone's guess (and
 * "4111 1111 1111 1111" with cards off must not turn into a phone and a leftover group). */
static int find_phone(sluice_scan_t *s, const run_t *r, size_t a, size_t b)
{
    size_t digits = 0;
    for (size_t k = a; k < b; k++)
        digits += glen(r, k);
    /* '+' right before the range: the run's prefix, or, after a card, the end of the separator
     * (masking the card leaves "[card]+33...", which must scan the same way). */
    size_t plus = SIZE_MAX;
    if (a == 0)
        plus = r->plus ? r->pre : SIZE_MAX;
    else if (s->dec[r->sep[a - 1].e - 1] == '+')
        plus = r->sep[a - 1].e - 1;
    else if (r->sep[a - 1].e - r->sep[a - 1].s == 2 && s->dec[r->sep[a - 1].s] == '+' &&
             s->dec[r->sep[a - 1].e - 1] == '(')
        plus = r->sep[a - 1].s;
    if (plus != SIZE_MAX && digits >= 8 && digits <= 15)
        return push(s, SLUICE_SCAN_PHONE, 1, plus, r->g[b - 1].e);
    if (!national_ok(s, r, a, b))
        return 0;
    size_t open = paren_before(s, r, a);
    return push(s, SLUICE_SCAN_PHONE, 0, open != SIZE_MAX ? open : r->g[a].s, r->g[b - 1].e);
}

static int detect(sluice_scan_t *s, const run_t *r, unsigned kinds)
{
    memset(r->covered, 0, r->count);
    if ((kinds & SLUICE_SCAN_CARD) && find_cards(s, r) != 0)
        return -1;
    if (!(kinds & (SLUICE_SCAN_PHONE | SLUICE_SCAN_US_SSN | SLUICE_SCAN_FR_NIR)))
        return 0;
    for (size_t a = 0; a < r->count;) {
        if (r->covered[a]) {
            a++;
            continue;
        }
        size_t b = a;
        while (b < r->count && !r->covered[b])
            b++;
        int rc = 0;
        if ((kinds & SLUICE_SCAN_US_SSN) && ssn_ok(s, r, a, b))
            rc = push(s, SLUICE_SCAN_US_SSN, 0, r->g[a].s, r->g[b - 1].e);
        else if ((kinds & SLUICE_SCAN_FR_NIR) && nir_ok(s, r, a, b))
            rc = push(s, SLUICE_SCAN_FR_NIR, 0, r->g[a].s, r->g[b - 1].e);
        else if (kinds & SLUICE_SCAN_PHONE)
            rc = find_phone(s, r, a, b);
        if (rc != 0)
            return -1;
        a = b;
    }
    return 0;
}

/* 1 when dec[i] is a letter or digit outside the first `emails` matches (the e-mails, in
 * order). An e-mail counts as a boundary, like the "[email]" that replaces it: so a text scans
 * the same before and after masking. */
static int word_at(const sluice_scan_t *s, size_t i, size_t emails)
{
    /* Non-ASCII characters are letters here as in e-mail addresses: "café0612345678" is one
     * word, and a number touching them is not standing alone (else masking it could turn the
     * text before it into an e-mail domain, and a second scan would find more). */
    if (!is_alnum((unsigned char)s->dec[i]) && !is_utf8_byte((unsigned char)s->dec[i]))
        return 0;
    size_t lo = 0, hi = emails;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->matches[mid].dend <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return !(lo < emails && s->matches[lo].dstart <= i);
}

/* 1 when the word that ends (dir -1) or starts (dir 1) at i holds a letter. */
static int lettered_word(const sluice_scan_t *s, size_t i, int dir, size_t emails)
{
    for (;;) {
        if (!word_at(s, i, emails))
            return 0;
        unsigned char c = (unsigned char)s->dec[i];
        if (is_alpha(c) || is_utf8_byte(c))
            return 1;
        if ((dir < 0 && i == 0) || (dir > 0 && i + 1 >= s->dec_len))
            return 0;
        i = dir < 0 ? i - 1 : i + 1;
    }
}

/* Room for at least `need` groups in the run, from the scan object's buffer. */
static int run_reserve(sluice_scan_t *s, run_t *r, size_t need)
{
    if (need <= r->cap)
        return 0;
    size_t cap = r->cap ? 2 * r->cap : 16;
    const size_t per = 2 * sizeof(span_t) + 1;
    unsigned char *buf = realloc(s->run_buf, cap * per);
    if (buf == NULL)
        return -1;
    /* Same layout at every size: g[cap], sep[cap], covered[cap]; move sep up before use. */
    if (r->cap > 0)
        memmove(buf + cap * sizeof(span_t), buf + r->cap * sizeof(span_t), r->count * sizeof(span_t));
    s->run_buf = buf;
    s->run_cap = cap;
    r->g = (span_t *)buf;
    r->sep = (span_t *)(buf + cap * sizeof(span_t));
    r->covered = buf + 2 * cap * sizeof(span_t);
    r->cap = cap;
    return 0;
}

/* Reads the run whose first digit is at i, stopping at limit (the next e-mail). -1 out of memory. */
static int read_run(sluice_scan_t *s, size_t emails, size_t i, size_t limit, run_t *r)
{
    const char *d = s->dec;
    r->count = 0;
    r->pre = i;
    r->plus = r->paren = 0;
    /* A '+' or '(' right before the digits is a prefix unless it follows a letter or digit (then
     * '+' is a form-encoded space, and "f(1)" is not a phone). */
    if (i > 0 && (d[i - 1] == '(' || d[i - 1] == '+') && (i == 1 || !word_at(s, i - 2, emails))) {
        r->pre = i - 1;
        r->paren = d[i - 1] == '(';
        r->plus = d[i - 1] == '+';
        if (r->paren && r->pre > 0 && d[r->pre - 1] == '+' && (r->pre == 1 || !word_at(s, r->pre - 2, emails))) {
            r->pre--;
            r->plus = 1; /* "+(44) ..." */
        }
    }
    size_t j = i;
    for (;;) {
        if (run_reserve(s, r, r->count + 1) != 0)
            return -1;
        size_t gs = j;
        while (j < limit && is_digit((unsigned char)d[j]))
            j++;
        r->g[r->count++] = (span_t){gs, j};
        size_t k = j;
        while (k < limit && k - j < 2 && is_run_sep((unsigned char)d[k]))
            k++;
        if (k == j || k >= limit || !is_digit((unsigned char)d[k]))
            break;
        /* " +33 6..." after a number starts an international number: a run of its own. */
        if (k - j == 2 && d[k - 1] == '+' && d[j] == ' ')
            break;
        r->sep[r->count - 1] = (span_t){j, k};
        j = k;
    }
    return 0;
}

static int cmp_match(const void *x, const void *y)
{
    const sluice_scan_match_t *a = x, *b = y;
    return (a->dstart > b->dstart) - (a->dstart < b->dstart);
}

int sluice_scan(sluice_scan_t *s, const char *text, size_t n, unsigned kinds)
{
    s->count = 0;
    if (decode(s, text, n) != 0)
        return -1;
    if ((kinds & SLUICE_SCAN_EMAIL) && find_emails(s) != 0)
        goto oom;
    if (kinds & (SLUICE_SCAN_IBAN | SLUICE_SCAN_UK_NINO | SLUICE_SCAN_ES_DNI)) {
        size_t before = s->count;
        if (find_ids(s, kinds) != 0)
            goto oom;
        if (s->count > before)
            qsort(s->matches, s->count, sizeof(*s->matches), cmp_match);
    }
    /* E-mails and the ids with letters, in order: digit runs stop at them and read them as
     * boundaries. */
    const size_t emails = s->count;
    if (kinds & (SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_US_SSN | SLUICE_SCAN_FR_NIR)) {
        const char *d = s->dec;
        size_t e = 0;
        run_t r = {.g = s->run_buf, .cap = 0};
        if (s->run_cap > 0) { /* reuse the buffer of an earlier scan */
            r.cap = s->run_cap;
            r.sep = (span_t *)((unsigned char *)s->run_buf + r.cap * sizeof(span_t));
            r.covered = (unsigned char *)s->run_buf + 2 * r.cap * sizeof(span_t);
        }
        for (size_t i = 0; i < s->dec_len;) {
            if (e < emails && i >= s->matches[e].dstart) {
                i = s->matches[e].dend > i ? s->matches[e].dend : i;
                e++;
                continue;
            }
            if (!is_digit((unsigned char)d[i])) {
                i++;
                continue;
            }
            size_t limit = e < emails ? s->matches[e].dstart : s->dec_len;
            if (read_run(s, emails, i, limit, &r) != 0)
                goto oom;
            size_t end = r.g[r.count - 1].e;
            /* A run stands alone: no letter or digit touches it, nor does a word with a letter
             * in it through a '-' (a run hyphen-joined to such a word is part of an identifier:
             * the "3888-9912" of a UUID, "ORD-000123456"). A word of digits alone does not
             * count: it may itself be a match, and once replaced by "[phone]" it would not. */
            int bounded =
                (r.pre == 0 || (!word_at(s, r.pre - 1, emails) &&
                                !(d[r.pre - 1] == '-' && r.pre >= 2 && lettered_word(s, r.pre - 2, -1, emails)))) &&
                (end == s->dec_len || (!word_at(s, end, emails) && !(d[end] == '-' && end + 1 < s->dec_len &&
                                                                     lettered_word(s, end + 1, 1, emails))));
            if (bounded && detect(s, &r, kinds) != 0)
                goto oom;
            i = end;
        }
    }
    if (s->count > emails)
        qsort(s->matches, s->count, sizeof(*s->matches), cmp_match);
    return 0;
oom:
    s->count = 0;
    return -1;
}

size_t sluice_scan_canonical(const sluice_scan_t *s, const sluice_scan_match_t *m, char *out, size_t cap)
{
    size_t n = 0;
    if (m->kind == SLUICE_SCAN_PHONE && m->international && n < cap)
        out[n++] = '+';
    for (size_t i = m->dstart; i < m->dend && n < cap; i++) {
        unsigned char c = (unsigned char)s->dec[i];
        if (m->kind == SLUICE_SCAN_EMAIL)
            out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        else if ((m->kind & (SLUICE_SCAN_IBAN | SLUICE_SCAN_UK_NINO | SLUICE_SCAN_ES_DNI)) && is_alpha(c))
            out[n++] = (char)upper(c);
        else if (is_digit(c))
            out[n++] = (char)c;
    }
    return n;
}

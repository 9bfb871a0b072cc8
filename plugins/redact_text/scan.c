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

const char *sluice_redact_kind_name(unsigned kind)
{
    switch (kind) {
    case SLUICE_REDACT_EMAIL: return "email";
    case SLUICE_REDACT_CARD: return "card";
    case SLUICE_REDACT_PHONE: return "phone";
    default: return "unknown";
    }
}

int sluice_redact_luhn(const char *d, size_t n)
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

void sluice_redact_scan_dispose(sluice_redact_scan_t *s)
{
    if (s == NULL)
        return;
    free(s->dec);
    free(s->map);
    free(s->matches);
    free(s->run_buf);
    memset(s, 0, sizeof(*s));
}

static int push(sluice_redact_scan_t *s, unsigned kind, int intl, size_t ds, size_t de)
{
    if (s->count == s->match_cap) {
        size_t cap = s->match_cap ? 2 * s->match_cap : 8;
        sluice_redact_match_t *m = realloc(s->matches, cap * sizeof(*m));
        if (m == NULL)
            return -1;
        s->matches = m;
        s->match_cap = cap;
    }
    s->matches[s->count++] = (sluice_redact_match_t){
        .kind = kind, .international = intl, .start = s->map[ds], .end = s->map[de], .dstart = ds, .dend = de};
    return 0;
}

/* Percent-decodes text into s->dec once (a '%' not followed by two hex digits stays as it is;
 * '+' stays '+': the detectors treat it as a possible form-encoded space). */
static int decode(sluice_redact_scan_t *s, const char *text, size_t n)
{
    if (n + 1 > s->dec_cap) {
        char *dec = realloc(s->dec, n + 1);
        if (dec == NULL)
            return -1;
        s->dec = dec;
        size_t *map = realloc(s->map, (n + 1) * sizeof(*map));
        if (map == NULL)
            return -1;
        s->map = map;
        s->dec_cap = n + 1;
    }
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        s->map[j] = i;
        int hi, lo;
        if (text[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)text[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)text[i + 2])) >= 0) {
            s->dec[j++] = (char)(hi * 16 + lo);
            i += 3;
        } else {
            s->dec[j++] = text[i++];
        }
    }
    s->map[j] = n;
    s->dec_len = j;
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

static int is_local(unsigned char c)
{
    return is_alnum(c) || is_utf8_byte(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

static int is_domain(unsigned char c)
{
    return is_alnum(c) || is_utf8_byte(c) || c == '.' || c == '-';
}

/* Two or more non-empty labels of letters, digits, '-' and non-ASCII characters, none starting or
 * ending with '-', the last one 2+ letters (non-ASCII ones included: .рф). */
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
        }
        start = i + 1;
    }
    return labels >= 2;
}

static int find_emails(sluice_redact_scan_t *s)
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
        if (push(s, SLUICE_REDACT_EMAIL, 0, l, r) != 0)
            return -1;
        floor = r;
        p = r - 1;
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
static int card_sep(const sluice_redact_scan_t *s, const run_t *r, size_t k)
{
    if (r->sep[k].e - r->sep[k].s != 1)
        return 0;
    char c = s->dec[r->sep[k].s];
    return c == ' ' || c == '-' || c == '+';
}

static int luhn_groups(const sluice_redact_scan_t *s, const run_t *r, size_t a, size_t b)
{
    char digits[CARD_MAX];
    size_t n = 0;
    for (size_t k = a; k < b; k++) {
        memcpy(digits + n, s->dec + r->g[k].s, glen(r, k));
        n += glen(r, k);
    }
    return sluice_redact_luhn(digits, n);
}

/* Marks cards among the run's groups in covered[]; the longest passing sub-run from each start. */
static int find_cards(sluice_redact_scan_t *s, const run_t *r)
{
    for (size_t a = 0; a < r->count;) {
        size_t best = 0, digits = 0;
        for (size_t b = a; b < r->count; b++) {
            if (b > a && !card_sep(s, r, b - 1))
                break;
            digits += glen(r, b);
            if (digits > CARD_MAX)
                break;
            if (digits >= CARD_MIN && luhn_groups(s, r, a, b + 1))
                best = b + 1;
        }
        if (best == 0) {
            a++;
            continue;
        }
        if (push(s, SLUICE_REDACT_CARD, 0, r->g[a].s, r->g[best - 1].e) != 0)
            return -1;
        memset(r->covered + a, 1, best - a);
        a = best;
    }
    return 0;
}

static int sep_has(const sluice_redact_scan_t *s, const run_t *r, size_t k, char c)
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
static size_t paren_before(const sluice_redact_scan_t *s, const run_t *r, size_t k)
{
    if (k == 0)
        return r->paren ? r->pre : SIZE_MAX;
    return s->dec[r->sep[k - 1].e - 1] == '(' ? r->sep[k - 1].e - 1 : SIZE_MAX;
}

/* The national-form rules of scan.h for groups [a, c). */
static int national_ok(const sluice_redact_scan_t *s, const run_t *r, size_t a, size_t c)
{
    static const size_t us_dots[] = {3, 3, 4}, fr_dots[] = {2, 2, 2, 2, 2}, date1[] = {4, 2, 2}, date2[] = {2, 2, 4};
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
    return 1;
}

/* A phone among the groups [a, b) that no card covers: the whole range or nothing, since
 * which part of a longer run of groups would be the number is anyone's guess (and
 * "4111 1111 1111 1111" with cards off must not turn into a phone and a leftover group). */
static int find_phone(sluice_redact_scan_t *s, const run_t *r, size_t a, size_t b)
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
        return push(s, SLUICE_REDACT_PHONE, 1, plus, r->g[b - 1].e);
    if (!national_ok(s, r, a, b))
        return 0;
    size_t open = paren_before(s, r, a);
    return push(s, SLUICE_REDACT_PHONE, 0, open != SIZE_MAX ? open : r->g[a].s, r->g[b - 1].e);
}

static int detect(sluice_redact_scan_t *s, const run_t *r, unsigned kinds)
{
    memset(r->covered, 0, r->count);
    if ((kinds & SLUICE_REDACT_CARD) && find_cards(s, r) != 0)
        return -1;
    if (!(kinds & SLUICE_REDACT_PHONE))
        return 0;
    for (size_t a = 0; a < r->count;) {
        if (r->covered[a]) {
            a++;
            continue;
        }
        size_t b = a;
        while (b < r->count && !r->covered[b])
            b++;
        if (find_phone(s, r, a, b) != 0)
            return -1;
        a = b;
    }
    return 0;
}

/* 1 when dec[i] is a letter or digit outside the first `emails` matches (the e-mails, in
 * order). An e-mail counts as a boundary, like the "[email]" that replaces it: so a text scans
 * the same before and after masking. */
static int word_at(const sluice_redact_scan_t *s, size_t i, size_t emails)
{
    if (!is_alnum((unsigned char)s->dec[i]))
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

/* Room for at least `need` groups in the run, from the scan object's buffer. */
static int run_reserve(sluice_redact_scan_t *s, run_t *r, size_t need)
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
static int read_run(sluice_redact_scan_t *s, size_t emails, size_t i, size_t limit, run_t *r)
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
    const sluice_redact_match_t *a = x, *b = y;
    return (a->dstart > b->dstart) - (a->dstart < b->dstart);
}

int sluice_redact_scan(sluice_redact_scan_t *s, const char *text, size_t n, unsigned kinds)
{
    s->count = 0;
    if (decode(s, text, n) != 0)
        return -1;
    if ((kinds & SLUICE_REDACT_EMAIL) && find_emails(s) != 0)
        goto oom;
    const size_t emails = s->count;
    if (kinds & (SLUICE_REDACT_CARD | SLUICE_REDACT_PHONE)) {
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
            int bounded =
                (r.pre == 0 || !word_at(s, r.pre - 1, emails)) && (end == s->dec_len || !word_at(s, end, emails));
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

size_t sluice_redact_canonical(const sluice_redact_scan_t *s, const sluice_redact_match_t *m, char *out, size_t cap)
{
    size_t n = 0;
    if (m->kind == SLUICE_REDACT_PHONE && m->international && n < cap)
        out[n++] = '+';
    for (size_t i = m->dstart; i < m->dend && n < cap; i++) {
        unsigned char c = (unsigned char)s->dec[i];
        if (m->kind == SLUICE_REDACT_EMAIL)
            out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        else if (is_digit(c))
            out[n++] = (char)c;
    }
    return n;
}

/*
 * Built-in mask plugin `generalize`: makes a value coarser instead of hiding it, so it can still
 * be counted and grouped. The rule's `kind` says what the field holds:
 *   number  a number (a JSON number, or a string holding one) rounded down to a multiple of
 *           `step` (34 -> 30 with step 10; 2.37 -> 2.25 with step 0.25), or replaced by the label
 *           of its band among the ascending integer limits `bands` ([0, 18, 30, 40, 65]:
 *           34 -> "30-39", 17.5 -> "0-17", 70 -> "65+", -1 -> "<0");
 *   date    an ISO 8601 / RFC 3339 date or date-time cut to `granularity` day ("2024-03-15"),
 *           month ("2024-03") or year ("2024"): the date as written, never moved to UTC;
 *   postal  a postal code cut to its `keep` leading characters (code points), each removed one
 *           written as `fill` when it is set ("SW1A 1AA", keep 3 -> "SW1"; "75011", keep 2,
 *           fill "0" -> "75000").
 * Output types: `step` keeps the input's JSON type (a number stays a number, a string a string);
 * bands, dates and postal codes are strings. Booleans and null are left as they are; objects,
 * arrays and values that are not of the rule's kind are refused (EINVAL: the field is removed,
 * fail closed). Deterministic and idempotent: a generalized value generalizes to itself (a band
 * label given as input is kept).
 *
 * Number arithmetic is exact decimal: the number's text is scaled to a whole count of the step's
 * smallest decimal unit, so 0.3 with step 0.1 stays 0.3 (binary floating point would give 0.2).
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h>. The instance is immutable after
 * create; mask runs on every event-loop thread at once without locks.
 */
#include <sluice/mask_plugin.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_LIMIT         1000000000000000000LL /* |value x 10^decimals| handled: below 10^18 */
#define STEP_DECIMALS_MAX 6
#define STEP_MAX          1e15
#define BANDS_MAX         64
#define BOUND_MAX         1000000000000000LL /* |band limit| at most 10^15 */
#define LABEL_MAX         48
#define KEEP_MAX          64

enum { KIND_NUMBER, KIND_DATE, KIND_POSTAL };
enum { GRAN_YEAR = 1, GRAN_MONTH = 2, GRAN_DAY = 3 }; /* how many date parts are kept */

typedef struct generalize {
    const sluice_mask_host_t *host;
    int kind;
    /* number: step_units > 0 (step x 10^decimals), or nbands > 0 */
    int64_t step_units;
    int decimals;
    size_t nbands;
    int64_t bands[BANDS_MAX];
    char labels[BANDS_MAX + 1][LABEL_MAX]; /* [0]: below bands[0]; [i]: [bands[i-1], bands[i]); [n]: the rest */
    /* date */
    int granularity;
    /* postal */
    size_t keep;
    char fill[5]; /* one code point, UTF-8; fill_len 0: none */
    size_t fill_len;
} generalize_t;

static const sluice_mask_config_entry_t config[] = {
    {"kind", SLUICE_MASK_CONF_STRING, SLUICE_MASK_CONF_REQUIRED, NULL, "what the field holds: number, date or postal"},
    {"step", SLUICE_MASK_CONF_DOUBLE, 0, NULL,
     "number: round down to a multiple of this (e.g. 10 or 0.25; up to 6 decimals)"},
    {"bands", SLUICE_MASK_CONF_STRING_LIST, 0, NULL,
     "number: ascending integer band limits, e.g. [0, 18, 30, 40, 65] (labels <0, 0-17, ..., 65+)"},
    {"granularity", SLUICE_MASK_CONF_STRING, 0, NULL, "date: day, month or year"},
    {"keep", SLUICE_MASK_CONF_INT, 0, NULL, "postal: leading characters kept (1..64)"},
    {"fill", SLUICE_MASK_CONF_STRING, 0, "\"\"",
     "postal: one character written in place of each removed character (empty: they are dropped)"},
    {0},
};

/* Where the plugin writes: the host's output in mask, a local buffer in selftest. */
typedef struct sink {
    const sluice_mask_host_t *host;
    sluice_mask_output_t *out;
    char *buf;
    size_t len, cap;
} sink_t;

static int put(sink_t *s, const void *p, size_t n)
{
    if (s->out != NULL)
        return s->host->append(s->out, p, n);
    if (n > s->cap - s->len)
        return SLUICE_MASK_ETOOBIG;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return SLUICE_MASK_OK;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ------------------------------------------------------------------ numbers */

/* Reads a decimal number: JSON's grammar (sign, digits, optional fraction, optional exponent),
 * and when relaxed also a leading '+' and leading zeros (strings typed into forms). Writes
 * floor(x * 10^scale) into *out. Returns 0; -1 when the text is not such a number; 1 when
 * |x * 10^scale| >= 10^18, with *out = +-10^18 (x's sign), which still orders it against band
 * limits. */
static int decimal_floor(const char *s, size_t n, int scale, int relaxed, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || (relaxed && s[i] == '+')))
        neg = s[i++] == '-';
    const size_t int_start = i;
    while (i < n && is_digit(s[i]))
        i++;
    const size_t int_len = i - int_start;
    if (int_len == 0 || (!relaxed && int_len > 1 && s[int_start] == '0'))
        return -1;
    size_t frac_start = i, frac_len = 0;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if ((frac_len = i - frac_start) == 0)
            return -1;
    }
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        const size_t e0 = i;
        for (; i < n && is_digit(s[i]); i++)
            if (exp < 1000000)
                exp = exp * 10 + (s[i] - '0'); /* past 10^6 the answer no longer changes */
        if (i == e0)
            return -1;
        exp = eneg ? -exp : exp;
    }
    if (i != n)
        return -1;
    /* x = D * 10^(exp - frac_len), D the digits; scaled, digit k (from the left) weighs
     * 10^(ndigits - 1 - k + shift). Digits of weight >= 1 form the integer, the others only say
     * whether something was cut (for the floor of a negative value). */
    const long shift = exp - (long)frac_len + scale;
    const size_t ndigits = int_len + frac_len;
    uint64_t v = 0;
    int big = 0, cut = 0;
    for (size_t k = 0; k < ndigits; k++) {
        const int d = (k < int_len ? s[int_start + k] : s[frac_start + k - int_len]) - '0';
        if ((long)(ndigits - 1 - k) + shift >= 0) {
            if (!big && (v = v * 10 + (uint64_t)d) >= (uint64_t)NUM_LIMIT)
                big = 1;
        } else if (d != 0) {
            cut = 1;
        }
    }
    for (long e = 0; e < shift && v != 0 && !big; e++)
        if ((v *= 10) >= (uint64_t)NUM_LIMIT)
            big = 1;
    if (!big && neg && cut && v + 1 >= (uint64_t)NUM_LIMIT)
        big = 1;
    if (big) {
        *out = neg ? -NUM_LIMIT : NUM_LIMIT;
        return 1;
    }
    *out = neg ? -(int64_t)v - cut : (int64_t)v;
    return 0;
}

/* x (in units of 10^-decimals) rounded down to a multiple of the step, as decimal text. */
static size_t render_step(const generalize_t *g, int64_t x, char *buf, size_t cap)
{
    int64_t q = x / g->step_units;
    if (x % g->step_units != 0 && x < 0)
        q--;
    const int64_t r = q * g->step_units; /* |r| < 10^18 + 10^15: no overflow */
    const uint64_t m = r < 0 ? (uint64_t)0 - (uint64_t)r : (uint64_t)r;
    uint64_t p10 = 1;
    for (int i = 0; i < g->decimals; i++)
        p10 *= 10;
    int len;
    if (g->decimals == 0)
        len = snprintf(buf, cap, "%s%llu", r < 0 ? "-" : "", (unsigned long long)m);
    else
        len = snprintf(buf, cap, "%s%llu.%0*llu", r < 0 ? "-" : "", (unsigned long long)(m / p10), g->decimals,
                       (unsigned long long)(m % p10));
    return len > 0 && (size_t)len < cap ? (size_t)len : 0;
}

/* The label of the band x (a whole number) falls in. */
static const char *band_label(const generalize_t *g, int64_t x)
{
    size_t i = 0;
    while (i < g->nbands && x >= g->bands[i])
        i++;
    return g->labels[i];
}

static int mask_number(const generalize_t *g, const char *v, size_t n, int json_number, sink_t *s)
{
    /* A JSON number is read as the decimal the host hands over: the client's text (sluice's
     * gateway keeps it), else the shortest text of the double. Never through a double here:
     * 673493333333332.25 would come back as 673493333333332.2 and floor to .00, so a generalized
     * value would not generalize to itself. */
    if (!json_number) { /* a string: white space around the number is not part of it */
        while (n > 0 && is_space(v[0]))
            v++, n--;
        while (n > 0 && is_space(v[n - 1]))
            n--;
    }
    int64_t x;
    if (g->nbands > 0) {
        int rc = decimal_floor(v, n, 0, !json_number, &x);
        if (rc >= 0) {
            const char *label = band_label(g, x);
            return put(s, label, strlen(label));
        }
        /* A label stays itself (idempotence): masking a masked value changes nothing. */
        for (size_t i = 0; !json_number && i <= g->nbands; i++)
            if (strlen(g->labels[i]) == n && memcmp(g->labels[i], v, n) == 0)
                return put(s, v, n);
        return SLUICE_MASK_EINVAL;
    }
    if (decimal_floor(v, n, g->decimals, !json_number, &x) != 0)
        return SLUICE_MASK_EINVAL; /* not a number, or too large to round to this step */
    char buf[48];
    size_t len = render_step(g, x, buf, sizeof(buf));
    if (len == 0)
        return SLUICE_MASK_EINTERNAL;
    if (json_number && s->out != NULL) {
        int rc = s->host->set_output_type(s->out, SLUICE_MASK_OUT_JSON);
        if (rc != SLUICE_MASK_OK)
            return rc;
    }
    return put(s, buf, len);
}

/* Parses an integer band limit: optional '-', digits, |value| <= 10^15. */
static int parse_bound(const char *s, size_t n, int64_t *out)
{
    return decimal_floor(s, n, 0, 1, out) == 0 && *out >= -BOUND_MAX && *out <= BOUND_MAX &&
                   memchr(s, '.', n) == NULL && memchr(s, 'e', n) == NULL && memchr(s, 'E', n) == NULL
               ? 0
               : -1;
}

static int set_bands(generalize_t *g, const int64_t *b, size_t n, char *err, size_t err_len)
{
    if (n == 0 || n > BANDS_MAX) {
        snprintf(err, err_len, "bands must list between 1 and %d limits", BANDS_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    for (size_t i = 1; i < n; i++) {
        if (b[i] <= b[i - 1]) {
            snprintf(err, err_len, "bands must be strictly ascending (limit %zu is not above limit %zu)", i + 1, i);
            return SLUICE_MASK_ECONFIG;
        }
    }
    g->nbands = n;
    memcpy(g->bands, b, n * sizeof(*b));
    snprintf(g->labels[0], LABEL_MAX, "<%lld", (long long)b[0]);
    for (size_t i = 1; i < n; i++) {
        if (b[i] - 1 == b[i - 1])
            snprintf(g->labels[i], LABEL_MAX, "%lld", (long long)b[i - 1]);
        else
            snprintf(g->labels[i], LABEL_MAX, "%lld-%lld", (long long)b[i - 1], (long long)(b[i] - 1));
    }
    snprintf(g->labels[n], LABEL_MAX, "%lld+", (long long)b[n - 1]);
    return SLUICE_MASK_OK;
}

/* The step as a whole number of 10^-d units, with the fewest decimals d that represent it. */
static int set_step(generalize_t *g, double step, char *err, size_t err_len)
{
    if (!(step > 0) || !(step <= STEP_MAX)) {
        snprintf(err, err_len, "step must be a number above 0 and at most 10^15");
        return SLUICE_MASK_ECONFIG;
    }
    double scaled = step;
    for (int d = 0; d <= STEP_DECIMALS_MAX; d++, scaled *= 10) {
        const int64_t units = (int64_t)(scaled + 0.5);
        const double diff = scaled - (double)units;
        if (units >= 1 && diff < 1e-9 * scaled && -diff < 1e-9 * scaled) {
            g->step_units = units;
            g->decimals = d;
            return SLUICE_MASK_OK;
        }
    }
    snprintf(err, err_len, "step must have at most %d decimals", STEP_DECIMALS_MAX);
    return SLUICE_MASK_ECONFIG;
}

/* ------------------------------------------------------------------ dates */

static int two_digits(const char *s, int *out)
{
    if (!is_digit(s[0]) || !is_digit(s[1]))
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* The time part after a date: hh:mm[:ss[.fraction]] then an optional Z or +-hh:mm. */
static int valid_time(const char *s, size_t n)
{
    int h, m, sec;
    if (n < 5 || two_digits(s, &h) != 0 || s[2] != ':' || two_digits(s + 3, &m) != 0 || h > 23 || m > 59)
        return 0;
    size_t i = 5;
    if (i < n && s[i] == ':') {
        if (n - i < 3 || two_digits(s + i + 1, &sec) != 0 || sec > 60) /* 60: a leap second */
            return 0;
        i += 3;
        if (i < n && s[i] == '.') {
            const size_t f0 = ++i;
            while (i < n && is_digit(s[i]))
                i++;
            if (i == f0)
                return 0;
        }
    }
    if (i == n)
        return 1; /* a local time (ISO 8601 without an offset) */
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
        return 1;
    if ((s[i] == '+' || s[i] == '-') && n - i == 6 && two_digits(s + i + 1, &h) == 0 && s[i + 3] == ':' &&
        two_digits(s + i + 4, &m) == 0 && h <= 23 && m <= 59)
        return 1;
    return 0;
}

/* Writes the date cut to the granularity (or to what the value has, when coarser) into buf (11
 * bytes). Returns the length, or 0 when the value is not a date. */
static size_t date_cut(const generalize_t *g, const char *s, size_t n, char *buf)
{
    if (n < 4 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]))
        return 0;
    const int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int parts = GRAN_YEAR, mo = 0, d = 0;
    if (n > 4) {
        if (n < 7 || s[4] != '-' || two_digits(s + 5, &mo) != 0 || mo < 1 || mo > 12)
            return 0;
        parts = GRAN_MONTH;
        if (n > 7) {
            if (n < 10 || s[7] != '-' || two_digits(s + 8, &d) != 0 || d < 1 || d > days_in_month(y, mo))
                return 0;
            parts = GRAN_DAY;
            if (n > 10 && !((s[10] == 'T' || s[10] == 't' || s[10] == ' ') && valid_time(s + 11, n - 11)))
                return 0;
        }
    }
    if (parts > g->granularity)
        parts = g->granularity;
    static const size_t lens[] = {0, 4, 7, 10};
    memcpy(buf, s, lens[parts]); /* the kept parts, exactly as written */
    buf[lens[parts]] = '\0';
    return lens[parts];
}

/* ------------------------------------------------------------------ postal codes */

/* Length of the UTF-8 code point at s[0..n), or 0 when malformed (overlong, surrogate, above
 * U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, c = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, c = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, c = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    return c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? 0 : len;
}

static int mask_postal(const generalize_t *g, const char *v, size_t n, int json_number, sink_t *s)
{
    if (json_number) { /* a postal code written as a number: digits only */
        for (size_t i = 0; i < n; i++)
            if (!is_digit(v[i]))
                return SLUICE_MASK_EINVAL;
    }
    while (n > 0 && is_space(v[0]))
        v++, n--;
    while (n > 0 && is_space(v[n - 1]))
        n--;
    size_t chars = 0, kept_bytes = 0;
    for (size_t i = 0, len; i < n; i += len) {
        if ((len = utf8_len((const unsigned char *)v + i, n - i)) == 0)
            return SLUICE_MASK_EINVAL;
        if (++chars == g->keep)
            kept_bytes = i + len;
    }
    if (chars <= g->keep) /* nothing finer than what the rule keeps */
        return put(s, v, n);
    int rc = put(s, v, kept_bytes);
    for (size_t i = g->keep; rc == SLUICE_MASK_OK && g->fill_len > 0 && i < chars; i++)
        rc = put(s, g->fill, g->fill_len);
    return rc;
}

static int set_fill(generalize_t *g, const char *fill, size_t len, char *err, size_t err_len)
{
    g->fill_len = 0;
    if (len == 0)
        return SLUICE_MASK_OK;
    size_t cl = utf8_len((const unsigned char *)fill, len);
    if (cl == 0 || cl != len || (unsigned char)fill[0] < 0x20 || fill[0] == 0x7f) {
        snprintf(err, err_len, "fill must be empty or exactly one printable character");
        return SLUICE_MASK_ECONFIG;
    }
    memcpy(g->fill, fill, len);
    g->fill_len = len;
    return SLUICE_MASK_OK;
}

/* ------------------------------------------------------------------ plugin */

static int render(const generalize_t *g, int type, const char *v, size_t n, sink_t *s)
{
    switch (g->kind) {
    case KIND_NUMBER: return mask_number(g, v, n, type == SLUICE_MASK_JSON_NUMBER, s);
    case KIND_POSTAL: return mask_postal(g, v, n, type == SLUICE_MASK_JSON_NUMBER, s);
    default: {
        char buf[11];
        size_t len = type == SLUICE_MASK_JSON_STRING ? date_cut(g, v, n, buf) : 0;
        return len > 0 ? put(s, buf, len) : SLUICE_MASK_EINVAL;
    }
    }
}

static int configure_number(generalize_t *g, const sluice_mask_host_t *host, const sluice_mask_config_t *cfg, char *err,
                            size_t err_len)
{
    const int has_step = host->config_is_set(cfg, "step") == 1, has_bands = host->config_is_set(cfg, "bands") == 1;
    if (has_step == has_bands) {
        snprintf(err, err_len, "kind number needs exactly one of step and bands");
        return SLUICE_MASK_ECONFIG;
    }
    if (has_step) {
        double step = 0;
        if (host->config_double(cfg, "step", &step) != 1) {
            snprintf(err, err_len, "step has no value");
            return SLUICE_MASK_ECONFIG;
        }
        return set_step(g, step, err, err_len);
    }
    size_t count = 0;
    int64_t b[BANDS_MAX];
    if (host->config_list_count(cfg, "bands", &count) != 1 || count == 0 || count > BANDS_MAX) {
        snprintf(err, err_len, "bands must list between 1 and %d limits", BANDS_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    for (size_t i = 0; i < count; i++) {
        const char *item = NULL;
        size_t len = 0;
        if (host->config_list_item(cfg, "bands", i, &item, &len) != 1 || parse_bound(item, len, &b[i]) != 0) {
            snprintf(err, err_len, "bands item %zu must be a whole number between -10^15 and 10^15", i + 1);
            return SLUICE_MASK_ECONFIG;
        }
    }
    return set_bands(g, b, count, err, err_len);
}

static int configure(generalize_t *g, const sluice_mask_host_t *host, const sluice_mask_config_t *cfg, char *err,
                     size_t err_len)
{
    const char *kind = NULL;
    if (host->config_string(cfg, "kind", &kind, NULL) != 1) {
        snprintf(err, err_len, "kind is required: number, date or postal");
        return SLUICE_MASK_ECONFIG;
    }
    /* Parameters of another kind are a mistake worth stopping for (a date rule with a step). */
    static const struct {
        const char *param;
        int kind;
    } owner[] = {{"step", KIND_NUMBER},
                 {"bands", KIND_NUMBER},
                 {"granularity", KIND_DATE},
                 {"keep", KIND_POSTAL},
                 {"fill", KIND_POSTAL}};
    if (strcmp(kind, "number") == 0)
        g->kind = KIND_NUMBER;
    else if (strcmp(kind, "date") == 0)
        g->kind = KIND_DATE;
    else if (strcmp(kind, "postal") == 0)
        g->kind = KIND_POSTAL;
    else {
        snprintf(err, err_len, "kind must be number, date or postal");
        return SLUICE_MASK_ECONFIG;
    }
    for (size_t i = 0; i < sizeof(owner) / sizeof(owner[0]); i++) {
        if (owner[i].kind != g->kind && host->config_is_set(cfg, owner[i].param) == 1) {
            snprintf(err, err_len, "%s does not apply to kind %s", owner[i].param, kind);
            return SLUICE_MASK_ECONFIG;
        }
    }
    if (g->kind == KIND_NUMBER)
        return configure_number(g, host, cfg, err, err_len);
    if (g->kind == KIND_DATE) {
        const char *gran = NULL;
        if (host->config_string(cfg, "granularity", &gran, NULL) != 1)
            gran = "";
        if (strcmp(gran, "day") == 0)
            g->granularity = GRAN_DAY;
        else if (strcmp(gran, "month") == 0)
            g->granularity = GRAN_MONTH;
        else if (strcmp(gran, "year") == 0)
            g->granularity = GRAN_YEAR;
        else {
            snprintf(err, err_len, "kind date needs granularity day, month or year");
            return SLUICE_MASK_ECONFIG;
        }
        return SLUICE_MASK_OK;
    }
    int64_t keep = 0;
    const char *fill = NULL;
    size_t fill_len = 0;
    if (host->config_int(cfg, "keep", &keep) != 1 || keep < 1 || keep > KEEP_MAX) {
        snprintf(err, err_len, "kind postal needs keep, the leading characters kept, between 1 and %d", KEEP_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    g->keep = (size_t)keep;
    if (host->config_string(cfg, "fill", &fill, &fill_len) != 1) {
        fill = "";
        fill_len = 0;
    }
    return set_fill(g, fill, fill_len, err, err_len);
}

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    generalize_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    g->host = host;
    int rc = configure(g, host, cfg, err, err_len);
    if (rc != SLUICE_MASK_OK) {
        free(g);
        return rc;
    }
    *instance = g;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const generalize_t *g = instance;
    switch (in->type) {
    case SLUICE_MASK_JSON_STRING:
    case SLUICE_MASK_JSON_NUMBER: {
        sink_t s = {.host = g->host, .out = out};
        return render(g, (int)in->type, in->value, in->value_len, &s);
    }
    case SLUICE_MASK_JSON_BOOL:
    case SLUICE_MASK_JSON_NULL: return SLUICE_MASK_UNCHANGED;
    default: return SLUICE_MASK_EINVAL;
    }
}

/* Known answers under fixed reference settings (not the rule's), so the code itself is checked. */
static int selftest(void *instance, char *err, size_t err_len)
{
    static const int64_t bands[] = {0, 18, 30, 40, 65};
    static const struct {
        int kind, type;
        double step;                  /* number with a step */
        int bands;                    /* number with the bands above */
        int gran;                     /* date */
        int keep;                     /* postal */
        const char *fill, *in, *want; /* want NULL: refused */
    } cases[] = {
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 10, 0, 0, 0, "", "34", "30"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 10, 0, 0, 0, "", "-17", "-20"},
        {KIND_NUMBER, SLUICE_MASK_JSON_STRING, 0.1, 0, 0, 0, "", "0.3", "0.3"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0.1, 0, 0, 0, "", "0.29999999999999999", "0.2"}, /* as written */
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0.25, 0, 0, 0, "", "2.37", "2.25"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0.25, 0, 0, 0, "", "-0.01", "-0.25"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 7, 0, 0, 0, "", "1e2", "98"},
        {KIND_NUMBER, SLUICE_MASK_JSON_STRING, 10, 0, 0, 0, "", "34 years", NULL},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0, 1, 0, 0, "", "34", "30-39"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0, 1, 0, 0, "", "17.99", "0-17"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0, 1, 0, 0, "", "-0.5", "<0"},
        {KIND_NUMBER, SLUICE_MASK_JSON_NUMBER, 0, 1, 0, 0, "", "1e40", "65+"},
        {KIND_NUMBER, SLUICE_MASK_JSON_STRING, 0, 1, 0, 0, "", "40-64", "40-64"},
        {KIND_DATE, SLUICE_MASK_JSON_STRING, 0, 0, GRAN_MONTH, 0, "", "2024-02-29T23:59:60.5+05:30", "2024-02"},
        {KIND_DATE, SLUICE_MASK_JSON_STRING, 0, 0, GRAN_DAY, 0, "", "2024-03-15 10:00:00", "2024-03-15"},
        {KIND_DATE, SLUICE_MASK_JSON_STRING, 0, 0, GRAN_DAY, 0, "", "2024", "2024"},
        {KIND_DATE, SLUICE_MASK_JSON_STRING, 0, 0, GRAN_YEAR, 0, "", "2023-02-29", NULL},
        {KIND_POSTAL, SLUICE_MASK_JSON_STRING, 0, 0, 0, 3, "", " SW1A 1AA ", "SW1"},
        {KIND_POSTAL, SLUICE_MASK_JSON_NUMBER, 0, 0, 0, 2, "0", "75011", "75000"},
        {KIND_POSTAL, SLUICE_MASK_JSON_STRING, 0, 0, 0, 2, "\xe2\x80\xa2", "\xc3\x89-12",
         "\xc3\x89-\xe2\x80\xa2\xe2\x80\xa2"},
    };
    const generalize_t *self = instance;
    generalize_t *ref = calloc(1, sizeof(*ref));
    if (ref == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    int rc = SLUICE_MASK_OK;
    for (size_t i = 0; rc == SLUICE_MASK_OK && i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(ref, 0, sizeof(*ref));
        ref->host = self->host;
        ref->kind = cases[i].kind;
        ref->granularity = cases[i].gran;
        ref->keep = (size_t)cases[i].keep;
        char buf[64];
        sink_t s = {.buf = buf, .cap = sizeof(buf)};
        int ok =
            (cases[i].step > 0 ? set_step(ref, cases[i].step, err, err_len)
             : cases[i].bands  ? set_bands(ref, bands, sizeof(bands) / sizeof(bands[0]), err, err_len)
                               : set_fill(ref, cases[i].fill, strlen(cases[i].fill), err, err_len)) == SLUICE_MASK_OK;
        int got = ok ? render(ref, cases[i].type, cases[i].in, strlen(cases[i].in), &s) : SLUICE_MASK_EINTERNAL;
        if (cases[i].want == NULL
                ? got != SLUICE_MASK_EINVAL
                : got != SLUICE_MASK_OK || s.len != strlen(cases[i].want) || memcmp(buf, cases[i].want, s.len) != 0) {
            snprintf(err, err_len, "known answer %zu differs", i + 1);
            rc = SLUICE_MASK_EINTERNAL;
        }
    }
    free(ref);
    return rc;
}

SLUICE_MASK_PLUGIN(.name = "generalize", .version = "1.0.0",
                   .description = "makes numbers, dates and postal codes coarser: a step or bands, day/month/year, "
                                  "leading characters",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT,
                   .create = create, .destroy = destroy, .mask = mask, .selftest = selftest);

/*
 * Internal to json/: the scanning half of the JSON parser, shared by json/parse.c (jansson
 * values) and json/jv.c (arena values) so that the two accept, refuse and report alike: the
 * parser's state, errors and their positions and paths, the depth and string limits, strings
 * and numbers. Each includes it once; everything is static. Any thread.
 */
#ifndef SLUICE_JSON_PARSE_CORE_H
#define SLUICE_JSON_PARSE_CORE_H

#include "common/utf8.h"
#include "json/parse.h"
#include "json/scan.h"
#include "pii/scan.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES 2048 /* jansson's own nesting bound (JSON_PARSER_MAX_DEPTH) */

typedef struct frame {
    const char *key; /* object: the member being read; NULL in arrays */
    size_t key_len;
    size_t index; /* array: the element being read */
} frame_t;

typedef struct parser {
    const char *p, *start, *end;
    size_t max_depth, max_string;
    size_t max_batch; /* items of the top-level "batch" array; 0: no limit */
    size_t depth;
    sluice_json_error_t *err;
    char *sbuf; /* unescaping buffer for strings that need it */
    size_t scap;
    int heap;                          /* sbuf was malloc'd */
    frame_t *frames;                   /* [max_depth + 4]: the members being read, for limit messages */
    sluice_jsonnum_t *nums;            /* where each number's text goes, or NULL */
    size_t item_base;                  /* 2 inside the top-level "batch" (its events' depth counts from 1) */
    size_t depth_cap;                  /* max_depth + item_base */
    sluice_json_item_faults_t *faults; /* or NULL */
    size_t ws_runs;                    /* runs of whitespace skipped so far: json/jv.c's container is
                                        * compact when none was skipped inside it */
} parser_t;

static void position(parser_t *ps, const char *at)
{
    unsigned line = 1, col = 1;
    for (const char *c = ps->start; c < at && c < ps->end; c++) {
        if (*c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    ps->err->line = line;
    ps->err->column = col;
}

static void *syntax(parser_t *ps, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void *syntax(parser_t *ps, const char *at, const char *fmt, ...)
{
    if (ps->err->kind != 0)
        return NULL; /* keep the first error */
    ps->err->kind = SLUICE_JSON_SYNTAX;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
    va_end(ap);
    position(ps, at);
    return NULL;
}

/* The path of the member being read, from the frame stack ("properties.list[1]"). */
static void frame_path(parser_t *ps, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t d = 1; d <= ps->depth; d++) {
        const frame_t *f = &ps->frames[d];
        char seg[32];
        const char *add;
        size_t len;
        if (f->key != NULL) {
            add = f->key;
            len = f->key_len;
            if (n > 0 && n < cap - 1)
                out[n++] = '.';
            /* A key that is itself personal data is named by what it holds, as the PII guard
             * names it (docs/privacy.md): the path goes back to the client in the error. */
            if (sluice_scan_may_match(add, len)) {
                sluice_scan_t sc = {0};
                if (sluice_scan(&sc, add, len,
                                SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN |
                                    SLUICE_SCAN_NATIONAL_IDS) != 0 ||
                    sc.count > 0) {
                    int w = snprintf(seg, sizeof(seg), "<%s>",
                                     sc.count > 0 ? sluice_scan_kind_name(sc.matches[0].kind) : "key");
                    add = seg;
                    len = w > 0 ? (size_t)w : 0;
                }
                sluice_scan_dispose(&sc);
            }
        } else {
            int w = snprintf(seg, sizeof(seg), "[%zu]", f->index);
            add = seg;
            len = w > 0 ? (size_t)w : 0;
        }
        if (len > cap - 1 - n) {
            len = cap - 1 - n;
            /* Cut before a character, not inside one: the path is quoted in JSON answers, where
             * half a character is no UTF-8 (keys are valid UTF-8: back off its continuations). */
            while (len > 0 && ((unsigned char)add[len] & 0xc0) == 0x80)
                len--;
            memcpy(out + n, add, len);
            out[n + len] = '\0';
            return; /* nothing after a cut: the room freed must not take a deeper member */
        }
        memcpy(out + n, add, len);
        n += len;
        out[n] = '\0';
    }
}

/* what: "JSON nesting deeper than", "string longer than", "object key longer than", "batch holds
 * more than" */
static void *limit(parser_t *ps, sluice_json_fail_t kind, const char *what)
{
    if (ps->err->kind != 0)
        return NULL;
    ps->err->kind = kind;
    if (kind == SLUICE_JSON_DEPTH)
        snprintf(ps->err->message, sizeof(ps->err->message), "%s %zu levels", what, ps->max_depth);
    else if (kind == SLUICE_JSON_BATCH)
        snprintf(ps->err->message, sizeof(ps->err->message), "%s %zu events", what, ps->max_batch);
    else
        snprintf(ps->err->message, sizeof(ps->err->message), "%s %zu bytes", what, ps->max_string);
    frame_path(ps, ps->err->path, sizeof(ps->err->path));
    return NULL;
}

/* A string (or key: what names it) over max_string inside an event of the batch: 1 when the
 * fault is recorded against that event and parsing goes on, 0 when the body is to be refused. */
static int item_fault(parser_t *ps, const char *what)
{
    sluice_json_item_faults_t *f = ps->faults;
    if (f == NULL || ps->item_base == 0)
        return 0;
    size_t index = ps->frames[2].index;
    if (f->count > 0 && f->item[f->count - 1].index == index)
        return 1; /* the event is refused for its first fault already */
    if (f->count == SLUICE_JSON_ITEM_FAULTS_MAX)
        return 0;
    sluice_json_item_fault_t *it = &f->item[f->count++];
    it->index = index;
    snprintf(it->message, sizeof(it->message), "%s %zu bytes", what, ps->max_string);
    frame_path(ps, it->path, sizeof(it->path));
    return 1;
}

static inline void skip_ws(parser_t *ps)
{
    const char *p = ps->p;
    while (p < ps->end) {
        unsigned char c = (unsigned char)*p;
        if (c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r')) /* compact JSON: one test */
            break;
        p++;
    }
    if (p != ps->p) {
        ps->ws_runs++;
        ps->p = p;
    }
}

/* Consumes c, after any whitespace, if it is next: 1, else 0 (ps->p then past the whitespace).
 * Compact JSON has its separators right there: one test. */
static inline int take(parser_t *ps, char c)
{
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ strings */

static int hex4(const char *s, const char *end, unsigned *out)
{
    if (end - s < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* The unescape buffer starts on the caller's stack (sluice_json_parse) and moves to the heap
 * only for strings that do not fit; `heap` says which. */
static int sbuf_reserve(parser_t *ps, size_t need)
{
    if (need <= ps->scap)
        return 0;
    size_t cap = ps->scap * 2;
    while (cap < need)
        cap *= 2;
    char *nb = ps->heap ? realloc(ps->sbuf, cap) : malloc(cap);
    if (nb == NULL)
        return -1;
    if (!ps->heap)
        memcpy(nb, ps->sbuf, ps->scap);
    ps->heap = 1;
    ps->sbuf = nb;
    ps->scap = cap;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The first byte at or after s that is not plain printable ASCII ('"', '\\', a control
 * character or a byte >= 0x80), or end: 16 or 8 bytes a step, the last 1..7 as one word too. */
static const char *skip_plain_loop(const char *s, const char *end)
{
    uint64_t stops;
#ifdef SLUICE_JSCAN_HAVE16
    while (end - s >= 16) {
        unsigned bits = sluice_jscan_stops16(s, 1);
        if (bits != 0)
            return s + __builtin_ctz(bits);
        s += 16;
    }
#endif
    while (end - s >= 8) {
        if ((stops = sluice_jscan_stops(sluice_jscan_load(s), 1)) != 0)
            return s + sluice_jscan_first(stops);
        s += 8;
    }
    if (s < end && (stops = sluice_jscan_stops(sluice_jscan_load_short(s, (size_t)(end - s)), 1)) != 0)
        return s + sluice_jscan_first(stops);
    return end;
}

/* skip_plain_loop, its first step inline: most strings (keys) end within it. */
static inline const char *skip_plain(const char *s, const char *end)
{
#ifdef SLUICE_JSCAN_HAVE16
    if (end - s >= 16) {
        unsigned bits = sluice_jscan_stops16(s, 1);
        return bits != 0 ? s + __builtin_ctz(bits) : skip_plain_loop(s + 16, end);
    }
#else
    if (end - s >= 8) {
        uint64_t stops = sluice_jscan_stops(sluice_jscan_load(s), 1);
        return stops != 0 ? s + sluice_jscan_first(stops) : skip_plain_loop(s + 8, end);
    }
#endif
    return skip_plain_loop(s, end);
}

/* parse_string from s, the first byte past the plain run it began with: escapes, UTF-8 and
 * errors (out of line; most strings end at their first stop, a quote). */
static __attribute__((noinline)) int parse_string_rest(parser_t *ps, const char *s, const char **out, size_t *len)
{
    const char *run = ps->p;
    size_t used = 0;
    int escaped = 0;
    for (;;) {
        if (s >= ps->end)
            return syntax(ps, s, "premature end of input in a string"), -1;
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            if (escaped || c == '\\') {
                if (sbuf_reserve(ps, used + (size_t)(s - run) + 4) != 0)
                    return syntax(ps, s, "out of memory"), -1;
                memcpy(ps->sbuf + used, run, (size_t)(s - run));
                used += (size_t)(s - run);
                escaped = 1;
            }
            if (c == '"') {
                ps->p = s + 1;
                *out = escaped ? ps->sbuf : run;
                *len = escaped ? used : (size_t)(s - run);
                return 0;
            }
            /* an escape */
            if (s + 1 >= ps->end)
                return syntax(ps, s, "premature end of input in a string"), -1;
            char e = s[1];
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *hit = e != '\0' ? strchr(from, e) : NULL;
            if (hit != NULL) {
                ps->sbuf[used++] = to[hit - from];
                s += 2;
            } else if (e == 'u') {
                unsigned cp;
                if (hex4(s + 2, ps->end, &cp) != 0)
                    return syntax(ps, s, "invalid escape"), -1;
                s += 6;
                /* A surrogate escape without its other half is U+FFFD: what a browser's
                 * JSON.stringify writes for a string cut in the middle of an emoji (a title
                 * shortened with substring) cannot be UTF-8, and refusing it refused every event
                 * of the SDK's batch. Browsers (USVString), Go's decoder (Segment's and
                 * RudderStack's servers) and sluice.js replace it the same way. */
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (s + 1 < ps->end && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, ps->end, &lo) == 0 &&
                        lo >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        s += 6;
                    } else {
                        cp = 0xfffd;
                    }
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    cp = 0xfffd;
                } else if (cp == 0) {
                    /* \u0000 is valid JSON, and JSON.stringify writes it for a title or form
                     * field holding a NUL: refused, it cost the SDK's whole batch (which it drops
                     * on a 400). It becomes U+FFFD, as a lone surrogate does, so no string holds a
                     * NUL byte: the pipeline's strings are C strings, and numbers' marks start so
                     * (json/write.c). */
                    cp = 0xfffd;
                }
                used += put_utf8(ps->sbuf + used, cp);
            } else {
                return syntax(ps, s, "invalid escape"), -1;
            }
            run = s;
            s = skip_plain(s, ps->end);
            continue;
        }
        if (c < 0x20)
            return syntax(ps, s, "control character 0x%x in a string", c), -1;
        size_t n = sluice_utf8_char(s, (size_t)(ps->end - s)); /* what jansson refuses, refused */
        if (n == 0)
            return syntax(ps, s, "invalid UTF-8 in a string"), -1;
        s = skip_plain(s + n, ps->end);
    }
}

/* Reads the string starting after the opening quote. On success *out points at the contents
 * (in the input when nothing was escaped, else in ps->sbuf) and *len is its length. */
static inline int parse_string(parser_t *ps, const char **out, size_t *len)
{
    const char *s = skip_plain(ps->p, ps->end);
    if (s < ps->end && *s == '"') {
        *out = ps->p;
        *len = (size_t)(s - ps->p);
        ps->p = s + 1;
        return 0;
    }
    return parse_string_rest(ps, s, out, len);
}

/* ------------------------------------------------------------------ numbers */

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
/* Exact powers of ten as doubles (10^22 is the last one a double holds exactly). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#endif

/* The value of a number without strtoll/strtod when that is exact: an integer of at most 18
 * digits, or a real whose digits (at most 19) form an integer m <= 2^53 scaled by 10^e with
 * |e| <= 22 (m and 10^|e| are then exact doubles, and one IEEE multiplication or division
 * rounds correctly, as strtod does: Clinger's fast path). 0 when it does not apply. */
static int number_fast(int neg, int is_real, uint64_t mant, int ndigits, long e10, json_int_t *i, double *d)
{
    if (!is_real)
        return ndigits <= 18 ? (*i = neg ? -(json_int_t)mant : (json_int_t)mant, 1) : 0;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (ndigits > 19 || mant > (1ull << 53) || e10 < -22 || e10 > 22)
        return 0;
    double v = (double)mant;
    v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
    *d = neg ? -v : v;
    return 1;
#else
    (void)mant, (void)e10, (void)d;
    return 0;
#endif
}

/* A number read at ps->p: its text, and its value as jansson would hold it. */
typedef struct number {
    const char *s;
    size_t n;
    int is_real;
    json_int_t i;
    double d;
} number_t;

/* number_read, and with with_value 0 number_text: one grammar, so that both refuse alike. */
static inline __attribute__((always_inline)) int number_scan(parser_t *ps, int keep_big, int with_value, number_t *r)
{
    const char *s = ps->p, *q = s;
    int is_real = 0, neg = 0, ndigits = 0;
    uint64_t mant = 0; /* the digits before and after '.', while there are at most 19 */
    long e10 = 0, exp = 0;
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define TAKE_DIGIT()                                                                                                   \
    do {                                                                                                               \
        if (with_value && ndigits < 19)                                                                                \
            mant = mant * 10 + (uint64_t)(*q - '0');                                                                   \
        ndigits++;                                                                                                     \
        q++;                                                                                                           \
    } while (0)
    if (q < ps->end && *q == '-') {
        neg = 1;
        q++;
    }
    if (q >= ps->end || !DIGIT(*q))
        return syntax(ps, s, "invalid number"), -1;
    if (*q == '0') {
        TAKE_DIGIT();
        if (q < ps->end && DIGIT(*q))
            return syntax(ps, s, "invalid number: leading zero"), -1;
    } else {
        while (q < ps->end && DIGIT(*q))
            TAKE_DIGIT();
    }
    if (q < ps->end && *q == '.') {
        is_real = 1;
        q++;
        if (q >= ps->end || !DIGIT(*q))
            return syntax(ps, s, "invalid number: no digit after '.'"), -1;
        while (q < ps->end && DIGIT(*q)) {
            TAKE_DIGIT();
            e10--;
        }
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        is_real = 1;
        q++;
        int eneg = 0;
        if (q < ps->end && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        if (q >= ps->end || !DIGIT(*q))
            return syntax(ps, s, "invalid number: no digit in the exponent"), -1;
        while (q < ps->end && DIGIT(*q)) {
            if (with_value && exp < 100000) /* far beyond the fast path's range either way */
                exp = exp * 10 + (*q - '0');
            q++;
        }
        e10 += eneg ? -exp : exp;
    }
#undef TAKE_DIGIT
#undef DIGIT
    r->s = s;
    r->n = (size_t)(q - s);
    r->is_real = is_real;
    if (!with_value) {
        ps->p = q;
        return 0;
    }
    if (number_fast(neg, is_real, mant, ndigits, e10, &r->i, &r->d)) {
        ps->p = q;
        return 0;
    }
    char tmp[64], *num = tmp;
    size_t n = r->n;
    if (n >= sizeof(tmp) && (num = malloc(n + 1)) == NULL)
        return syntax(ps, s, "out of memory"), -1;
    memcpy(num, s, n);
    num[n] = '\0';
    int rc = 0;
    errno = 0;
    long long ll = is_real ? 0 : strtoll(num, NULL, 10);
    if (!is_real && errno != ERANGE) {
        r->i = (json_int_t)ll;
    } else if (!is_real && !keep_big) {
        (void)syntax(ps, s, "integer too big");
        rc = -1;
    } else {
        /* A real, or with keep_big an integer beyond 64 bits (kept as its text, of any length;
         * the value approximates it). An underflow (1e-400) reads as 0 or a subnormal. */
        r->is_real = 1;
        r->d = strtod(num, NULL);
        if (isinf(r->d) && keep_big) {
            /* Beyond a double (1e400, 310 digits and more): the text is the number, and the
             * value the largest double of its sign (jansson holds no infinity). One odd value
             * refused the whole event (issue 17). */
            r->d = r->d > 0 ? DBL_MAX : -DBL_MAX;
        } else if (isinf(r->d)) {
            /* Without a table to keep the text, the value would go out as a figure the client
             * did not write: refused, as jansson does. */
            (void)syntax(ps, s, "real number overflow");
            rc = -1;
        }
    }
    if (num != tmp)
        free(num);
    if (rc == 0)
        ps->p = q;
    return rc;
}

/* Reads the number at ps->p into *r and moves past it: 0, or -1 with the syntax error set (ps->p
 * unmoved). keep_big: an integer beyond 64 bits, of any length, is a real whose text is kept (the
 * caller records it), not an error; a number beyond a double (an integer of 310 digits, 1e400,
 * -2.5E+999) is one too, its value +-DBL_MAX. Without keep_big both are refused, as jansson
 * refuses them. */
static int number_read(parser_t *ps, int keep_big, number_t *r)
{
    return number_scan(ps, keep_big, 1, r);
}

/* number_read with keep_big for a reader that keeps only the text (r->s, r->n and r->is_real;
 * no value): it accepts and refuses the same, with the same messages, and skips the value's
 * arithmetic (json/jv.c's parser, about a third of a number's cost). */
static inline int number_text(parser_t *ps, number_t *r)
{
    return number_scan(ps, 1, 0, r);
}

/* The key of an object's next member, its '"' expected at ps->p after any whitespace: 0 with the
 * key (in the input, or in ps->sbuf when it was unescaped), or -1 with the error. */
static inline int object_key(parser_t *ps, const char **key, size_t *len)
{
    if (!take(ps, '"')) {
        syntax(ps, ps->p, "string or '}' expected");
        return -1;
    }
    return parse_string(ps, key, len);
}

/* After a member (close '}') or an item (']'): 1 when a ',' follows, 0 when close does (both
 * consumed), else -1 with the error. */
static inline int next_or_close(parser_t *ps, char close)
{
    if (take(ps, ','))
        return 1;
    if (take(ps, close))
        return 0;
    syntax(ps, ps->p, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
    return -1;
}

/* At an array's first item: 1 when it is the top-level "batch" (its events' depth then counts
 * from 1), else 0. */
static inline int batch_begin(parser_t *ps)
{
    int is_batch = ps->max_batch > 0 && ps->depth == 2 && ps->frames[1].key != NULL && ps->frames[1].key_len == 5 &&
                   memcmp(ps->frames[1].key, "batch", 5) == 0;
    if (is_batch) {
        ps->item_base = 2;
        ps->depth_cap = ps->max_depth + 2;
    }
    return is_batch;
}

/* Before item `count` of the array whose frame is f: -1 with the refusal when it is one event too
 * many for the batch (refused as soon as it begins, before the rest of an oversized batch costs
 * anything), else 0. */
static inline int batch_item(parser_t *ps, frame_t *f, size_t count, int is_batch)
{
    f->index = count; /* the array's size so far */
    if (is_batch && count == ps->max_batch) {
        ps->depth--; /* the path names the batch itself */
        limit(ps, SLUICE_JSON_BATCH, "batch holds more than");
        return -1;
    }
    return 0;
}

/* After the batch's last item. */
static inline void batch_end(parser_t *ps, int is_batch)
{
    if (is_batch) {
        ps->item_base = 0;
        ps->depth_cap = ps->max_depth;
    }
}

/* The literal word (true, false, null) at ps->p: its length, or 0 with the error. */
static inline size_t literal_at(parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0 ||
        ((size_t)(ps->end - ps->p) > n && ps->p[n] >= 'a' && ps->p[n] <= 'z'))
        return syntax(ps, ps->p, "invalid token"), 0;
    return n;
}

/* A key over max_string, ps->p after it: 0 when an event of the batch takes the fault and its
 * ':' follows (the caller reads the value and leaves the member out), else -1 with the refusal. */
static int key_fault(parser_t *ps)
{
    if (!item_fault(ps, "object key longer than")) {
        limit(ps, SLUICE_JSON_STRING, "object key longer than");
        return -1;
    }
    if (!take(ps, ':')) {
        syntax(ps, ps->p, "':' expected");
        return -1;
    }
    return 0;
}

static inline int enter(parser_t *ps)
{
    if (ps->depth + 1 > MAX_FRAMES)
        return syntax(ps, ps->p, "maximum parsing depth reached"), -1;
    ps->depth++;
    if (ps->depth > ps->depth_cap) {
        ps->depth--; /* the path names the container that is one level too deep */
        limit(ps, SLUICE_JSON_DEPTH, "JSON nesting deeper than");
        return -1;
    }
    ps->frames[ps->depth] = (frame_t){NULL, 0, 0};
    return 0;
}

#endif

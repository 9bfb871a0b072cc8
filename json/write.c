/*
 * Compact JSON writer (json/write.h). One growing buffer; strings copied 16 or 8 bytes a step
 * while they are checked (json/scan.h), escapes out of line. Any thread.
 */
#include "json/write.h"

#include "json/scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int sluice_jsonw_grow(sluice_jsonw_t *w, size_t n)
{
    if (w->oom)
        return -1;
    size_t cap = w->cap ? w->cap : 2048;
    while (cap < w->len + n + 1)
        cap *= 2;
    char *np = realloc(w->p, cap);
    if (np == NULL) {
        w->oom = 1;
        return -1;
    }
    w->p = np;
    w->cap = cap;
    return 0;
}

static void put_escape(sluice_jsonw_t *w, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001F */
    switch (c) {
    case '"': SLUICE_JSONW_LIT(w, "\\\""); break;
    case '\\': SLUICE_JSONW_LIT(w, "\\\\"); break;
    case '\b': SLUICE_JSONW_LIT(w, "\\b"); break;
    case '\f': SLUICE_JSONW_LIT(w, "\\f"); break;
    case '\n': SLUICE_JSONW_LIT(w, "\\n"); break;
    case '\r': SLUICE_JSONW_LIT(w, "\\r"); break;
    case '\t': SLUICE_JSONW_LIT(w, "\\t"); break;
    default: {
        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        sluice_jsonw_put(w, u, 6);
    }
    }
}

/* The rest of a string from its first byte that needs an escape, p, on (the output is at
 * w->len, with room for end - p bytes and 11 more reserved): the rare path, out of line. */
static __attribute__((noinline)) void put_string_escaped(sluice_jsonw_t *w, const char *p, const char *end, char tail)
{
    while (p < end) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        sluice_jsonw_put(w, run, (size_t)(p - run));
        if (p == end)
            break;
        put_escape(w, (unsigned char)*p++);
    }
    char close[2] = {'"', tail};
    sluice_jsonw_put(w, close, tail != 0 ? 2 : 1);
}

/* s[0..n) as a JSON string, after the byte lead and before the byte tail unless they are 0 (a
 * key's '{' or ',' and ':'). Plain bytes are
 * copied 16 (SSE2) or 8 at a time as they are checked: each step is stored whole, the output
 * advances only past the bytes before the first that needs an escape. The last step of a
 * string of at least one step's length is the string's last 16 or 8 bytes, overlapping bytes
 * already checked and copied (rewritten with themselves); a shorter string is read as one word
 * from at most two loads inside it, its other bytes spaces. The output keeps 8 bytes of slack
 * beyond the string, its quotes, tail and final NUL: room for all of that is made once, up
 * front. From the first byte to escape on, put_string_escaped takes over. */
static inline __attribute__((always_inline)) void put_string(sluice_jsonw_t *w, char lead, const char *s, size_t n,
                                                             char tail)
{
    if (w->len + n + 13 > w->cap && sluice_jsonw_grow(w, n + 12) != 0)
        return;
    char *o = w->p + w->len;
    if (lead != 0)
        *o++ = lead;
    *o++ = '"';
    const char *p = s, *end = s + n;
    uint64_t x, stops;
    size_t k, back;
#ifdef SLUICE_JSCAN_HAVE16
    if (n >= 16) {
        unsigned bits;
        while (end - p > 16) {
            memcpy(o, p, 16);
            if ((bits = sluice_jscan_stops16(p, 0)) != 0) {
                k = (size_t)__builtin_ctz(bits);
                goto escape;
            }
            o += 16;
            p += 16;
        }
        back = 16 - (size_t)(end - p);
        memcpy(o - back, end - 16, 16);
        if ((bits = sluice_jscan_stops16(end - 16, 0) >> back) != 0) {
            k = (size_t)__builtin_ctz(bits);
            goto escape;
        }
        o += end - p;
        goto close;
    }
#endif
    if (n >= 8) {
        while (end - p > 8) {
            x = sluice_jscan_load(p);
            sluice_jscan_store(o, x);
            if ((stops = sluice_jscan_stops(x, 0)) != 0) {
                k = sluice_jscan_first(stops);
                goto escape;
            }
            o += 8;
            p += 8;
        }
        back = 8 - (size_t)(end - p);
        x = sluice_jscan_load(end - 8);
        sluice_jscan_store(o - back, x);
        if ((stops = sluice_jscan_stops(x, 0) >> (8 * back)) != 0) {
            k = sluice_jscan_first(stops);
            goto escape;
        }
        o += end - p;
    } else if (n > 0) {
        x = sluice_jscan_load_short(p, n);
        sluice_jscan_store(o, x);
        if ((stops = sluice_jscan_stops(x, 0)) != 0) {
            k = sluice_jscan_first(stops);
            goto escape;
        }
        o += n;
    }
#ifdef SLUICE_JSCAN_HAVE16
close:
#endif
    *o++ = '"';
    *o = tail;
    w->len = (size_t)(o + (tail != 0) - w->p);
    return;
escape:
    w->len = (size_t)(o - w->p) + k;
    put_string_escaped(w, p + k, end, tail);
}

void sluice_jsonw_string(sluice_jsonw_t *w, const char *s, size_t n)
{
    put_string(w, 0, s, n, 0);
}

static void put_integer(sluice_jsonw_t *w, json_int_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        tmp[--i] = '-';
    sluice_jsonw_put(w, tmp + i, sizeof(tmp) - i);
}

size_t sluice_json_format_real(double d, char *out)
{
    char tmp[40];
    int n = 0;
    /* 15 significant digits always read back as the same double when the double came from a
     * decimal of at most 15 digits (every price); 17 always do. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    if (n < 0 || (size_t)n >= sizeof(tmp) - 2) {
        memcpy(out, "0.0", 4);
        return 3;
    }
    char *e = strchr(tmp, 'e');
    if (e == NULL) {
        if (strchr(tmp, '.') == NULL) {
            tmp[n++] = '.';
            tmp[n++] = '0';
            tmp[n] = '\0';
        }
    } else {
        char *digits = e + 1, *o = e + 1;
        if (*digits == '+')
            digits++;
        else if (*digits == '-')
            *o++ = *digits++;
        while (*digits == '0' && digits[1] != '\0')
            digits++;
        memmove(o, digits, strlen(digits) + 1);
    }
    size_t len = strlen(tmp);
    memcpy(out, tmp, len + 1);
    return len;
}

/* Marked number strings: a NUL byte and '#' before the text. No string the parser builds can
 * start so (it reads \u0000 as U+FFFD), and a writer without SLUICE_JSONW_RAW_NUMBERS escapes it. */
static const char mark[2] = {'\0', '#'};

int sluice_json_is_number_text(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

json_t *sluice_json_number_text(const char *text, size_t len)
{
    if (!sluice_json_is_number_text(text, len))
        return NULL;
    /* Of any length (a 400-digit price stays one): most fit the stack, a longer one is copied
     * through the heap once. */
    char small[sizeof(mark) + 256], *buf = len <= 256 ? small : malloc(sizeof(mark) + len);
    if (buf == NULL)
        return NULL;
    memcpy(buf, mark, sizeof(mark));
    memcpy(buf + sizeof(mark), text, len);
    json_t *v = json_stringn(buf, sizeof(mark) + len);
    if (buf != small)
        free(buf);
    return v;
}

static void put_number(sluice_jsonw_t *w, const json_t *v)
{
    size_t n;
    const char *text = sluice_jsonnum_find(w->nums, v, &n);
    if (text != NULL) {
        sluice_jsonw_put(w, text, n);
    } else if (json_is_integer(v)) {
        put_integer(w, json_integer_value(v));
    } else {
        char tmp[40];
        n = sluice_json_format_real(json_real_value(v), tmp);
        sluice_jsonw_put(w, tmp, n);
    }
}

/* A JSON_STRING value (with SLUICE_JSONW_RAW_NUMBERS, a marked number is written as its text). */
static inline __attribute__((always_inline)) void put_string_value(sluice_jsonw_t *w, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if ((w->flags & SLUICE_JSONW_RAW_NUMBERS) && n > sizeof(mark) && memcmp(s, mark, sizeof(mark)) == 0 &&
        sluice_json_is_number_text(s + sizeof(mark), n - sizeof(mark)))
        sluice_jsonw_put(w, s + sizeof(mark), n - sizeof(mark));
    else
        put_string(w, 0, s, n, 0);
}

/* A member or element: strings, most of them, without a call. */
static inline __attribute__((always_inline)) void put_child(sluice_jsonw_t *w, const json_t *v)
{
    if (json_is_string(v))
        put_string_value(w, v);
    else
        sluice_jsonw_value(w, v);
}

void sluice_jsonw_value(sluice_jsonw_t *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        /* The iterator gives each key's length (no strlen), in insertion order. '{' or ',' goes
         * out with the key. */
        json_t *obj = (json_t *)v;
        char lead = '{';
        for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
            put_string(w, lead, json_object_iter_key(it), json_object_iter_key_len(it), ':');
            put_child(w, json_object_iter_value(it));
            lead = ',';
        }
        if (lead == '{')
            SLUICE_JSONW_LIT(w, "{}");
        else
            sluice_jsonw_put(w, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        sluice_jsonw_put(w, "[", 1);
        for (size_t i = 0, n = json_array_size(v); i < n; i++) {
            if (i > 0)
                sluice_jsonw_put(w, ",", 1);
            put_child(w, json_array_get(v, i));
        }
        sluice_jsonw_put(w, "]", 1);
        return;
    }
    case JSON_STRING: put_string_value(w, v); return;
    case JSON_INTEGER:
    case JSON_REAL: put_number(w, v); return;
    case JSON_TRUE: SLUICE_JSONW_LIT(w, "true"); return;
    case JSON_FALSE: SLUICE_JSONW_LIT(w, "false"); return;
    default: SLUICE_JSONW_LIT(w, "null"); return;
    }
}

char *sluice_jsonw_finish(sluice_jsonw_t *w, size_t *len)
{
    if (w->oom || (w->len + 1 > w->cap && sluice_jsonw_grow(w, 0) != 0)) {
        free(w->p);
        w->p = NULL;
        return NULL;
    }
    w->p[w->len] = '\0';
    if (len != NULL)
        *len = w->len;
    char *out = w->p;
    w->p = NULL;
    return out;
}

char *sluice_json_encode(const json_t *v, const sluice_jsonnum_t *nums, size_t *len)
{
    sluice_jsonw_t w = {.nums = nums};
    sluice_jsonw_value(&w, v);
    return sluice_jsonw_finish(&w, len);
}

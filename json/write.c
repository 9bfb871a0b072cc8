/*
 * Compact JSON writer (json/write.h). One growing buffer; strings copied in runs between the
 * characters that need escaping. Any thread.
 */
#include "json/write.h"

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

/* 1 for the bytes a JSON string must escape: control characters, quote, backslash. */
static const unsigned char escape_byte[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

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

void sluice_jsonw_string(sluice_jsonw_t *w, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (w->len + n + 3 > w->cap && sluice_jsonw_grow(w, n + 2) != 0)
        return;
    w->p[w->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (!escape_byte[u[i]])
            continue;
        sluice_jsonw_put(w, s + run, i - run);
        put_escape(w, u[i]);
        run = i + 1;
    }
    sluice_jsonw_put(w, s + run, n - run);
    sluice_jsonw_put(w, "\"", 1);
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
 * start so (it refuses \u0000), and a writer without SLUICE_JSONW_RAW_NUMBERS escapes it. */
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
    if (!sluice_json_is_number_text(text, len) || len > 256)
        return NULL;
    char buf[sizeof(mark) + 256];
    memcpy(buf, mark, sizeof(mark));
    memcpy(buf + sizeof(mark), text, len);
    return json_stringn(buf, sizeof(mark) + len);
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

void sluice_jsonw_value(sluice_jsonw_t *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        sluice_jsonw_put(w, "{", 1);
        const char *key;
        json_t *child;
        int first = 1;
        json_object_foreach((json_t *)v, key, child) {
            if (!first)
                sluice_jsonw_put(w, ",", 1);
            first = 0;
            sluice_jsonw_string(w, key, strlen(key));
            sluice_jsonw_put(w, ":", 1);
            sluice_jsonw_value(w, child);
        }
        sluice_jsonw_put(w, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        sluice_jsonw_put(w, "[", 1);
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) {
            if (i > 0)
                sluice_jsonw_put(w, ",", 1);
            sluice_jsonw_value(w, child);
        }
        sluice_jsonw_put(w, "]", 1);
        return;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if ((w->flags & SLUICE_JSONW_RAW_NUMBERS) && n > sizeof(mark) && memcmp(s, mark, sizeof(mark)) == 0 &&
            sluice_json_is_number_text(s + sizeof(mark), n - sizeof(mark)))
            sluice_jsonw_put(w, s + sizeof(mark), n - sizeof(mark));
        else
            sluice_jsonw_string(w, s, n);
        return;
    }
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

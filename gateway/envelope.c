/*
 * Compact JSON encoder for the Kafka envelope. Writes into one growing buffer; strings are
 * copied in runs between the characters that need escaping. Any thread.
 */
#include "gateway/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wbuf {
    char *p;
    size_t len, cap;
    int oom;
} wbuf_t;

static int grow(wbuf_t *b, size_t n)
{
    if (b->oom)
        return -1;
    size_t cap = b->cap ? b->cap : 2048;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

/* Room for n more bytes and the final NUL; the common case is one comparison. */
static inline int reserve(wbuf_t *b, size_t n)
{
    return b->len + n + 1 <= b->cap ? 0 : grow(b, n);
}

static inline void put(wbuf_t *b, const char *s, size_t n)
{
    if (reserve(b, n) == 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

#define PUTLIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* 1 for the bytes a JSON string must escape: control characters, quote, backslash. */
static const unsigned char escape_byte[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

static void put_escape(wbuf_t *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001F */
    switch (c) {
    case '"': PUTLIT(b, "\\\""); break;
    case '\\': PUTLIT(b, "\\\\"); break;
    case '\b': PUTLIT(b, "\\b"); break;
    case '\f': PUTLIT(b, "\\f"); break;
    case '\n': PUTLIT(b, "\\n"); break;
    case '\r': PUTLIT(b, "\\r"); break;
    case '\t': PUTLIT(b, "\\t"); break;
    default: {
        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(b, u, 6);
    }
    }
}

static void put_string(wbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (reserve(b, n + 2) != 0)
        return;
    b->p[b->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (!escape_byte[u[i]])
            continue;
        put(b, s + run, i - run);
        put_escape(b, u[i]);
        run = i + 1;
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

static void put_integer(wbuf_t *b, json_int_t v)
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
    put(b, tmp + i, sizeof(tmp) - i);
}

/* jansson's form: %.17g, with ".0" added when that reads as an integer, and the exponent
 * without '+' or leading zeros (1e+20 → 1e20, 1e-05 → 1e-5). */
static void put_real(wbuf_t *b, double d)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof(tmp) - 2)
        return;
    char *e = strchr(tmp, 'e');
    if (e == NULL) {
        if (strchr(tmp, '.') == NULL) {
            tmp[n++] = '.';
            tmp[n++] = '0';
        }
        put(b, tmp, (size_t)n);
        return;
    }
    char *digits = e + 1, *w = e + 1;
    if (*digits == '+')
        digits++;
    else if (*digits == '-')
        *w++ = *digits++;
    while (*digits == '0' && digits[1] != '\0')
        digits++;
    memmove(w, digits, strlen(digits) + 1);
    put(b, tmp, strlen(tmp));
}

static void put_value(wbuf_t *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put(b, "{", 1);
        const char *key;
        json_t *child;
        int first = 1;
        json_object_foreach((json_t *)v, key, child) {
            if (!first)
                put(b, ",", 1);
            first = 0;
            put_string(b, key, strlen(key));
            put(b, ":", 1);
            put_value(b, child);
        }
        put(b, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        put(b, "[", 1);
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) {
            if (i > 0)
                put(b, ",", 1);
            put_value(b, child);
        }
        put(b, "]", 1);
        return;
    }
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER: put_integer(b, json_integer_value(v)); return;
    case JSON_REAL: put_real(b, json_real_value(v)); return;
    case JSON_TRUE: PUTLIT(b, "true"); return;
    case JSON_FALSE: PUTLIT(b, "false"); return;
    default: PUTLIT(b, "null"); return;
    }
}

static char *finish(wbuf_t *b, size_t *len)
{
    if (reserve(b, 0) != 0) {
        free(b->p);
        return NULL;
    }
    b->p[b->len] = '\0';
    if (len != NULL)
        *len = b->len;
    return b->p;
}

char *sluice_json_encode(const json_t *v, size_t *len)
{
    wbuf_t b = {0};
    put_value(&b, v);
    return finish(&b, len);
}

char *sluice_envelope_encode(const char *org, const char *source, const json_t *event, const json_t *privacy,
                             const json_t *hashes, size_t *len)
{
    wbuf_t b = {0};
    PUTLIT(&b, "{\"v\":1,\"org\":");
    put_string(&b, org, strlen(org));
    PUTLIT(&b, ",\"source\":");
    put_string(&b, source, strlen(source));
    json_t *received = json_object_get(event, "receivedAt");
    if (json_is_string(received)) {
        PUTLIT(&b, ",\"receivedAt\":");
        put_value(&b, received);
    }
    PUTLIT(&b, ",\"event\":");
    put_value(&b, event);
    PUTLIT(&b, ",\"privacy\":");
    put_value(&b, privacy);
    if (hashes != NULL) {
        PUTLIT(&b, ",\"hashes\":");
        put_value(&b, hashes);
    }
    put(&b, "}", 1);
    return finish(&b, len);
}

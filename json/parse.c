/*
 * JSON parser for request bodies and Kafka envelopes, building jansson values. Recursive descent over the buffer:
 * strings are scanned in runs up to the next quote, backslash, control or non-ASCII byte;
 * numbers are checked against the RFC 8259 grammar before strtoll/strtod; the depth and string
 * limits are checked as the document is read. Whatever it accepts and refuses must match
 * jansson's json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY): tests/fuzz/json.c compares
 * the two. Any thread.
 */
#include "json/parse.h"

#include <errno.h>
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
    int heap;               /* sbuf was malloc'd */
    frame_t *frames;        /* [max_depth + 2]: the members being read, for limit messages */
    sluice_jsonnum_t *nums; /* where each number's text goes, or NULL */
} parser_t;

static json_t *parse_value(parser_t *ps);

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

static json_t *syntax(parser_t *ps, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static json_t *syntax(parser_t *ps, const char *at, const char *fmt, ...)
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
        } else {
            int w = snprintf(seg, sizeof(seg), "[%zu]", f->index);
            add = seg;
            len = w > 0 ? (size_t)w : 0;
        }
        if (len > cap - 1 - n)
            len = cap - 1 - n;
        memcpy(out + n, add, len);
        n += len;
        out[n] = '\0';
    }
}

/* what: "JSON nesting deeper than", "string longer than", "object key longer than", "batch holds
 * more than" */
static json_t *limit(parser_t *ps, sluice_json_fail_t kind, const char *what)
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

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* ------------------------------------------------------------------ strings */

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80), or 0 when invalid: overlong
 * forms, surrogates and code points above U+10FFFF are refused, as jansson does. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

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

/* Reads the string starting after the opening quote. On success *out points at the contents
 * (in the input when nothing was escaped, else in ps->sbuf) and *len is its length. */
static int parse_string(parser_t *ps, const char **out, size_t *len)
{
    const char *s = ps->p, *run = s;
    size_t used = 0;
    int escaped = 0;
    for (;;) {
        /* The common case: plain printable ASCII up to the closing quote. */
        while (s < ps->end && (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x80 && *s != '"' && *s != '\\')
            s++;
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
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (s + 1 < ps->end && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, ps->end, &lo) == 0 &&
                        lo >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        s += 6;
                    } else {
                        return syntax(ps, s, "invalid Unicode surrogate pair"), -1;
                    }
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return syntax(ps, s, "invalid Unicode: lone low surrogate"), -1;
                } else if (cp == 0) {
                    return syntax(ps, s, "\\u0000 is not allowed"), -1;
                }
                used += put_utf8(ps->sbuf + used, cp);
            } else {
                return syntax(ps, s, "invalid escape"), -1;
            }
            run = s;
            continue;
        }
        if (c < 0x20)
            return syntax(ps, s, "control character 0x%x in a string", c), -1;
        size_t n = utf8_seq((const unsigned char *)s, (const unsigned char *)ps->end);
        if (n == 0)
            return syntax(ps, s, "invalid UTF-8 in a string"), -1;
        s += n;
    }
}

/* ------------------------------------------------------------------ numbers */

static json_t *parse_number(parser_t *ps)
{
    const char *s = ps->p, *q = s;
    int is_real = 0;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || *q < '0' || *q > '9')
        return syntax(ps, s, "invalid number");
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9')
            return syntax(ps, s, "invalid number: leading zero");
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && *q == '.') {
        is_real = 1;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return syntax(ps, s, "invalid number: no digit after '.'");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        is_real = 1;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return syntax(ps, s, "invalid number: no digit in the exponent");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[64], *num = tmp;
    size_t n = (size_t)(q - s);
    if (n >= sizeof(tmp) && (num = malloc(n + 1)) == NULL)
        return syntax(ps, s, "out of memory");
    memcpy(num, s, n);
    num[n] = '\0';
    json_t *v;
    errno = 0;
    if (!is_real) {
        long long ll = strtoll(num, NULL, 10);
        if (errno != ERANGE)
            v = json_integer((json_int_t)ll);
        else if (ps->nums != NULL && n <= SLUICE_JSONNUM_MAX_TEXT) /* kept as its text; the value approximates it */
            v = json_real(strtod(num, NULL));
        else
            v = syntax(ps, s, "integer too big");
    } else {
        double d = strtod(num, NULL);
        v = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL) ? syntax(ps, s, "real number overflow") : json_real(d);
    }
    if (num != tmp)
        free(num);
    if (v != NULL && ps->nums != NULL)
        (void)sluice_jsonnum_add(ps->nums, v, s, n); /* on failure it is formatted instead */
    ps->p = q;
    return v;
}

/* ------------------------------------------------------------------ containers */

static int enter(parser_t *ps)
{
    if (ps->depth + 1 > MAX_FRAMES)
        return syntax(ps, ps->p, "maximum parsing depth reached"), -1;
    ps->depth++;
    if (ps->depth > ps->max_depth) {
        ps->depth--; /* the path names the container that is one level too deep */
        limit(ps, SLUICE_JSON_DEPTH, "JSON nesting deeper than");
        return -1;
    }
    ps->frames[ps->depth] = (frame_t){NULL, 0, 0};
    return 0;
}

static json_t *parse_object(parser_t *ps)
{
    if (enter(ps) != 0)
        return NULL;
    frame_t *f = &ps->frames[ps->depth];
    json_t *obj = json_object();
    ps->p++; /* '{' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return obj;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            syntax(ps, ps->p, "string or '}' expected");
            goto fail;
        }
        ps->p++;
        const char *key;
        size_t klen;
        if (parse_string(ps, &key, &klen) != 0)
            goto fail;
        if (memchr(key, '\0', klen) != NULL) {
            syntax(ps, ps->p, "NUL byte in object key not supported");
            goto fail;
        }
        /* The key may live in the unescape buffer that the value will reuse: keep a copy. */
        char kbuf[128], *kcopy = kbuf;
        if (klen >= sizeof(kbuf) && (kcopy = malloc(klen + 1)) == NULL) {
            syntax(ps, ps->p, "out of memory");
            goto fail;
        }
        memcpy(kcopy, key, klen);
        kcopy[klen] = '\0';
        f->key = kcopy;
        f->key_len = klen;
        int bad = 0;
        if (klen > ps->max_string) {
            limit(ps, SLUICE_JSON_STRING, "object key longer than");
            bad = 1;
        } else if (json_object_getn(obj, kcopy, klen) != NULL) {
            syntax(ps, ps->p, "duplicate object key");
            bad = 1;
        }
        json_t *v = NULL;
        if (!bad) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                syntax(ps, ps->p, "':' expected");
                bad = 1;
            } else {
                ps->p++;
                skip_ws(ps);
                v = parse_value(ps);
                bad = v == NULL;
            }
        }
        if (!bad)
            json_object_setn_new_nocheck(obj, kcopy, klen, v);
        f->key = NULL;
        if (kcopy != kbuf)
            free(kcopy);
        if (bad)
            goto fail;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            ps->depth--;
            return obj;
        }
        syntax(ps, ps->p, "',' or '}' expected");
        goto fail;
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(parser_t *ps)
{
    if (enter(ps) != 0)
        return NULL;
    frame_t *f = &ps->frames[ps->depth];
    json_t *arr = json_array();
    ps->p++; /* '[' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return arr;
    }
    /* The top-level "batch": refused as soon as it holds one event too many, before the rest of
     * an oversized batch costs anything. */
    int is_batch = ps->max_batch > 0 && ps->depth == 2 && ps->frames[1].key != NULL && ps->frames[1].key_len == 5 &&
                   memcmp(ps->frames[1].key, "batch", 5) == 0;
    for (;;) {
        skip_ws(ps);
        f->index = json_array_size(arr);
        if (is_batch && f->index == ps->max_batch) {
            ps->depth--; /* the path names the batch itself */
            limit(ps, SLUICE_JSON_BATCH, "batch holds more than");
            goto fail;
        }
        json_t *v = parse_value(ps);
        if (v == NULL)
            goto fail;
        json_array_append_new(arr, v);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            ps->depth--;
            return arr;
        }
        syntax(ps, ps->p, "',' or ']' expected");
        goto fail;
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *literal(parser_t *ps, const char *word, json_t *value)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0 ||
        ((size_t)(ps->end - ps->p) > n && ps->p[n] >= 'a' && ps->p[n] <= 'z'))
        return syntax(ps, ps->p, "invalid token");
    ps->p += n;
    return value;
}

static json_t *parse_value(parser_t *ps)
{
    if (ps->p >= ps->end)
        return syntax(ps, ps->p, "premature end of input");
    switch (*ps->p) {
    case '{': return parse_object(ps);
    case '[': return parse_array(ps);
    case '"': {
        ps->p++;
        const char *s;
        size_t n;
        if (parse_string(ps, &s, &n) != 0)
            return NULL;
        if (n > ps->max_string)
            return limit(ps, SLUICE_JSON_STRING, "string longer than");
        return json_stringn_nocheck(s, n);
    }
    case 't': return literal(ps, "true", json_true());
    case 'f': return literal(ps, "false", json_false());
    case 'n': return literal(ps, "null", json_null());
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        return syntax(ps, ps->p, "invalid token");
    }
}

json_t *sluice_json_parse(const char *buf, size_t len, size_t max_depth, size_t max_string, size_t max_batch,
                          sluice_jsonnum_t *nums, sluice_json_error_t *err)
{
    memset(err, 0, sizeof(*err));
    /* Request bodies are limited to a few dozen levels: their frames fit on the stack. */
    parser_t ps = {.p = buf,
                   .start = buf,
                   .end = buf + len,
                   .max_string = max_string,
                   .max_batch = max_batch,
                   .err = err,
                   .nums = nums};
    ps.max_depth = max_depth < MAX_FRAMES ? max_depth : MAX_FRAMES;
    frame_t small[64];
    ps.frames =
        ps.max_depth + 2 <= sizeof(small) / sizeof(small[0]) ? small : malloc((ps.max_depth + 2) * sizeof(frame_t));
    if (ps.frames == NULL) {
        err->kind = SLUICE_JSON_SYNTAX;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return NULL;
    }
    char sbuf[512];
    ps.sbuf = sbuf;
    ps.scap = sizeof(sbuf);
    skip_ws(&ps);
    json_t *v = parse_value(&ps);
    if (v != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            syntax(&ps, ps.p, "end of input expected");
            json_decref(v);
            v = NULL;
        }
    }
    if (ps.heap)
        free(ps.sbuf);
    if (ps.frames != small)
        free(ps.frames);
    if (v == NULL)
        sluice_jsonnum_clear(nums); /* what it recorded was freed with the half-built document */
    return v;
}

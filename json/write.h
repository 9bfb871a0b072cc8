/*
 * Compact JSON writer: the Kafka envelope (gateway/envelope.c), the vendor request bodies of
 * the delivery worker (vendors/vendor.c) and anything else that must give numbers back as they
 * were sent. Output is jansson's compact form (insertion order, the same escapes) except for
 * numbers: a number the parser recorded (json/numbers.h) is written as its original text; any
 * other real as the shortest text that reads back as the same double (19.9, not
 * 19.899999999999999), with ".0" when that would read as an integer and the exponent without
 * '+' or leading zeros, as jansson writes them.
 *
 * Pure; any thread. Strings returned are malloc'd and owned by the caller.
 */
#ifndef SLUICE_JSON_WRITE_H
#define SLUICE_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "json/numbers.h"

/* With SLUICE_JSONW_RAW_NUMBERS, a string made by sluice_json_number_text is written as the
 * number it holds. Only the delivery worker sets it, for bodies it builds itself. */
#define SLUICE_JSONW_RAW_NUMBERS 1u

typedef struct sluice_jsonw {
    char *p;
    size_t len, cap;
    int oom;                      /* set once memory ran out; finish then returns NULL */
    const sluice_jsonnum_t *nums; /* the numbers' texts, or NULL */
    unsigned flags;
} sluice_jsonw_t;

/* Room for n more bytes and a final NUL. 0, or -1 when memory runs out (w->oom set). */
int sluice_jsonw_grow(sluice_jsonw_t *w, size_t n);

/* memcpy(o, s, n) for short texts, in line: 4 to 16 bytes (and 17 to 32 with upto32) are two
 * overlapping loads and stores inside s[0..n) and o[0..n), both loads before the stores, where a
 * call to memcpy cost about 20 instructions with its set-up; anything else is memcpy's. upto32 is
 * a constant at each call, so the branch it guards folds away where it is 0 (the envelope's puts:
 * there the longer branch cost more than it saved). s and o must not overlap. */
static inline void sluice_json_copy_short(char *o, const char *s, size_t n, int upto32)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(o, &a, 8);
        memcpy(o + n - 8, &b, 8);
    } else if (upto32 && n > 16 && n <= 32) {
        char a[16], b[16];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(o, a, 16);
        memcpy(o + n - 16, b, 16);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else {
        memcpy(o, s, n);
    }
}

/* s[0..n) appended. Most puts of a variable length are short (a key framed by its quotes and ':',
 * a short value or run of members as sent: 4 to 16 bytes), copied in line (30-odd memcpy calls an
 * event in the envelope otherwise); a constant n folds to one of the branches. */
static inline void sluice_jsonw_put(sluice_jsonw_t *w, const char *s, size_t n)
{
    if (w->len + n + 1 <= w->cap || sluice_jsonw_grow(w, n) == 0) {
        sluice_json_copy_short(w->p + w->len, s, n, 0);
        w->len += n;
    }
}

#define SLUICE_JSONW_LIT(w, lit) sluice_jsonw_put((w), (lit), sizeof(lit) - 1)

/* s[0..n) as a JSON string, quotes included. */
void sluice_jsonw_string(sluice_jsonw_t *w, const char *s, size_t n);

/* v in compact form. */
void sluice_jsonw_value(sluice_jsonw_t *w, const json_t *v);

/* The text written, NUL-terminated, its length in *len (may be NULL); NULL when memory ran out
 * (the buffer is freed then). The caller frees it. */
char *sluice_jsonw_finish(sluice_jsonw_t *w, size_t *len);

/* Compact JSON of any value; nums may be NULL. malloc'd; NULL when memory runs out. */
char *sluice_json_encode(const json_t *v, const sluice_jsonnum_t *nums, size_t *len);

/* The shortest text of d that reads back as d, in jansson's spelling (see above), in out (at
 * least 32 bytes). Returns its length. */
size_t sluice_json_format_real(double d, char *out);

/* A value that a writer with SLUICE_JSONW_RAW_NUMBERS writes as the number text[0..len), which
 * must be a JSON number of any length (else NULL is returned; NULL too when memory runs out). The
 * delivery worker uses it to copy a number from an envelope into a vendor body exactly as the
 * client sent it. New reference. */
json_t *sluice_json_number_text(const char *text, size_t len);

/* 1 if text[0..len) is one JSON number (RFC 8259 grammar), else 0. */
int sluice_json_is_number_text(const char *text, size_t len);

#endif

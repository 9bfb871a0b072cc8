/*
 * Differential libFuzzer target for the JSON parser (json/parse.c) and compact writer
 * (json/write.c): on every input the parser must accept exactly what jansson's
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, with equal values, and never
 * crash, leak or hit undefined behaviour; with limits, it may only refuse more, never accept
 * what jansson refuses. What it accepts must encode to text that jansson reads back as the same
 * value (the bytes are jansson's compact json_dumps but for reals, written shortest). With the
 * numbers' table (json/numbers.h) it also accepts integers beyond 64 bits and numbers beyond a
 * double (1e400), and its output holds
 * every number exactly as the input spelled it.
 *
 * One known difference: jansson accepts a number or literal directly followed by a NUL byte
 * ("0\0", "true\0": its lexer takes the NUL for the end of its read-ahead buffer). We refuse
 * every NUL byte outside a string (and inside one, like jansson). So for inputs holding a NUL
 * byte we only check that ours refuses them.
 *
 * Two deliberate differences: an escaped surrogate without its other half ("\ud83d", what a
 * browser's JSON.stringify writes for a string cut in the middle of an emoji) and \u0000 (what it
 * writes for a NUL) are U+FFFD to ours and an error to jansson. jansson is given the input with
 * each such escape spelled \ufffd (the same length, so positions agree), and the two must agree
 * on that.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json/parse.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex4(const char *p, const char *end, unsigned *cp)
{
    if (end - p < 4)
        return -1;
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        *cp = *cp << 4 | d;
    }
    return 0;
}

/* A copy of buf with every escaped lone surrogate and \u0000 spelled \ufffd: what jansson must accept for
 * ours to be right. Outside a string a backslash is an error either way. */
static char *usv_reference(const char *buf, size_t size)
{
    char *ref = malloc(size + 1);
    if (ref == NULL)
        abort();
    memcpy(ref, buf, size);
    const char *end = ref + size;
    for (char *p = ref; p + 1 < end;) {
        unsigned cp, lo;
        if (p[0] != '\\') {
            p++;
        } else if (p[1] != 'u' || hex4(p + 2, end, &cp) != 0) {
            p += 2;
        } else if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
                   hex4(p + 8, end, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
            p += 12;
        } else {
            if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
                memcpy(p + 2, "fffd", 4);
            p += 6;
        }
    }
    return ref;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    sluice_json_error_t err;
    if (memchr(data, '\0', size) != NULL) {
        if (sluice_json_parse(buf, size, 2048, SIZE_MAX, 0, NULL, &err) != NULL)
            abort();
        return 0;
    }
    json_error_t je;
    char *ref = usv_reference(buf, size);
    json_t *want = json_loadb(ref, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    free(ref);
    json_t *got = sluice_json_parse(buf, size, 2048, SIZE_MAX, 0, NULL, &err);
    if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
        abort();
    if (got != NULL) {
        size_t len;
        char *ours = sluice_json_encode(got, NULL, &len);
        json_t *back = ours != NULL ? json_loadb(ours, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je) : NULL;
        if (back == NULL || !json_equal(back, want) || len != strlen(ours))
            abort();
        json_decref(back);
        free(ours);
    }
    json_decref(got);
    got = sluice_json_parse(buf, size, 4, 16, 0, NULL, &err);
    if (got != NULL && (want == NULL || !json_equal(want, got)))
        abort();
    json_decref(got);

    /* With the table: never refuses what jansson takes; written and read again, the numbers'
     * texts are the input's, in the same order, whatever their length. A number the table could
     * not record (out of memory) is formatted (json/numbers.h): then the output holds one
     * recorded text more than the input did, and only the values are compared. */
    sluice_jsonnum_t *a = sluice_jsonnum_new(), *b = sluice_jsonnum_new();
    if (a == NULL || b == NULL)
        abort();
    got = sluice_json_parse(buf, size, 2048, SIZE_MAX, 0, a, &err);
    if (want != NULL && got == NULL)
        abort();
    if (got != NULL) {
        size_t len;
        char *ours = sluice_json_encode(got, a, &len);
        json_t *again = ours != NULL ? sluice_json_parse(ours, len, 2048, SIZE_MAX, 0, b, &err) : NULL;
        if (again == NULL || !json_equal(again, got) || b->count < a->count)
            abort();
        if (a->count == b->count &&
            (a->text_len != b->text_len || (a->text_len > 0 && memcmp(a->text, b->text, a->text_len) != 0)))
            abort();
        json_decref(again);
        free(ours);
    }
    json_decref(got);
    sluice_jsonnum_free(a);
    sluice_jsonnum_free(b);
    json_decref(want);
    return 0;
}

/*
 * The text of the numbers a parsed document held, as the client wrote them. jansson keeps a
 * number only as a double or a 64-bit integer, so "19.9" would come back as 19.899999999999999,
 * "1e21" as 1e21 with a different spelling, "-0" as 0, and 12345678901234567890 not at all.
 * sluice passes numbers through byte for byte: the parser (json/parse.h) records each number's
 * text here against the jansson value it built, and the writer (json/write.h) writes that text
 * back in place of a formatted one.
 *
 * Keyed by the value's address, and checked against the value itself on lookup (type and
 * bits): a value the data layer replaced is a new value and is formatted; if its address
 * happens to be the old one's, the text is used only when it denotes the very same number.
 *
 * One table per parsed document (a request's body, a Kafka envelope); owned by whoever parsed
 * it, used by one thread at a time. Lookups do not allocate.
 */
#ifndef SLUICE_JSON_NUMBERS_H
#define SLUICE_JSON_NUMBERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A number's text is kept whatever its length: the body limits bound it (a request's body, a
 * Kafka message), far below 2^31. The entry stays 24 bytes: real shares len's word. */
typedef struct sluice_jsonnum_entry {
    const json_t *v;
    uint32_t off;      /* into text */
    uint32_t len_real; /* the text's length << 1 (a '\0' follows it, not counted) | 1 when v is a
                          JSON_REAL (else JSON_INTEGER); one word, no bit-field: built per number */
    union {
        double d;
        json_int_t i;
    } as;
} sluice_jsonnum_entry_t;

typedef struct sluice_jsonnum {
    sluice_jsonnum_entry_t *slots; /* open addressing, cap a power of two, v NULL when free */
    size_t count, cap;
    char *text;
    size_t text_len, text_cap;
} sluice_jsonnum_t;

/* An empty table; NULL when memory runs out. Freed with sluice_jsonnum_free. */
sluice_jsonnum_t *sluice_jsonnum_new(void);
void sluice_jsonnum_free(sluice_jsonnum_t *t);

/* Forgets every entry, keeping the memory (a table reused across requests). */
void sluice_jsonnum_clear(sluice_jsonnum_t *t);

/* Records that v (a JSON_INTEGER or JSON_REAL just built) was written as text[0..len), of any
 * length. Returns 0, or -1 when memory runs out or the table's text would pass 4 GiB (the number
 * is then formatted, which loses nothing but its spelling). */
int sluice_jsonnum_add(sluice_jsonnum_t *t, const json_t *v, const char *text, size_t len);

/* Adds every text `from` holds to `into` (a document parsed apart whose values then join the one
 * `into` describes: a plugin's answer). Returns 0, or -1 when memory ran out part way (the rest
 * are formatted). */
int sluice_jsonnum_merge(sluice_jsonnum_t *into, const sluice_jsonnum_t *from);

/* The text v was written as, or NULL (t may be NULL). *len is set when found; the text is
 * followed by a '\0' (a C string, valid until the table next changes). */
const char *sluice_jsonnum_find(const sluice_jsonnum_t *t, const json_t *v, size_t *len);

/* A deep copy of v (json_deep_copy) whose numbers keep the text t holds for v's: a batch's shared
 * context copied into each of its events goes out as sent too. t may be NULL (a plain deep
 * copy); a number whose text cannot be recorded is formatted. New reference, or NULL when memory
 * runs out. */
json_t *sluice_jsonnum_copy(sluice_jsonnum_t *t, const json_t *v);

#endif

/*
 * jv: the JSON values of one request, in the request's arena (issue 17, route B of the plan).
 * jansson allocates every value, key and string apart, hashes every member and walks the tree
 * again to free it; for a 650-byte event that was most of the per-event instructions
 * (docs/performance.md). A jv tree instead lives in a json/arena.h arena: nodes are bumped
 * there, objects are small vectors of (key, value) searched linearly after a 64-bit set of their
 * keys' bits, which answers most look-ups of an absent key without a scan (an index replaces it
 * past SLUICE_JV_INDEX_FROM members, so a hostile object of many thousand members costs no
 * square time), and the whole tree goes back with the arena: there are no reference counts and
 * nothing to release.
 *
 * Strings and keys that needed no unescaping point into the parsed body, which must therefore
 * outlive the tree (the request's body does). They are NOT NUL-terminated: use the lengths
 * (sluice_jv_string_value gives one) or sluice_jv_string_is. Numbers keep the exact text the
 * client sent; their values are read from it when asked for.
 *
 * Every parsed node keeps its source span. A node whose span is already the writer's compact
 * form (no whitespace, no escapes, short numbers) and that nothing changed since is written as
 * those bytes, subtree and all. Changing a node (set, del, append) marks it and its ancestors
 * dirty. A value lives in one place: setting or appending a value that is already inside a
 * container is refused (copy it with sluice_jv_copy), since its ancestors could not all be marked.
 *
 * sluice_jv_parse accepts and refuses exactly what json/parse.c's sluice_json_parse_batch with a
 * numbers' table does, with the same messages and positions, and sluice_jv_write writes the
 * same bytes as json/write.c for the same document: tests/fuzz/jv.c compares them.
 *
 * The gateway's request path holds its events in them (issue 17 step 2). One thread at a time
 * per tree.
 */
#ifndef SLUICE_JSON_JV_H
#define SLUICE_JSON_JV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json/arena.h"
#include "json/parse.h"
#include "json/write.h"

/* Objects with more members get a hash index for their look-ups. */
#define SLUICE_JV_INDEX_FROM 32

typedef enum sluice_jv_type {
    SLUICE_JV_NULL,
    SLUICE_JV_FALSE,
    SLUICE_JV_TRUE,
    SLUICE_JV_NUMBER,
    SLUICE_JV_STRING,
    SLUICE_JV_ARRAY,
    SLUICE_JV_OBJECT,
} sluice_jv_type_t;

typedef struct sluice_jv sluice_jv_t;

typedef struct sluice_jv_member {
    const char *key; /* not NUL-terminated */
    size_t key_len;
    sluice_jv_t *value;
} sluice_jv_member_t;

/* 48 bytes, three of the arena's 16-byte steps (a node of 56 took 64). */
struct sluice_jv {
    uint8_t type;       /* sluice_jv_type_t */
    uint8_t verbatim;   /* src is exactly what the writer would write for this node */
    uint8_t dirty;      /* changed since it was parsed: written from its parts */
    uint8_t index_bits; /* an object's index has 1 << index_bits slots; 0: it has none (k.keys) */
    uint32_t len;       /* string bytes, number text bytes, members or items */
    uint32_t cap;       /* room of the member or item vector */
    uint32_t src_len;
    const char *src; /* the node's bytes in the body, or NULL when built */
    sluice_jv_t *parent;
    union {
        const char *s; /* string (may hold NUL-free UTF-8 only) or number text */
        sluice_jv_member_t *m;
        sluice_jv_t **a;
    } u;
    union {
        uint32_t *index; /* index_bits > 0 (objects past SLUICE_JV_INDEX_FROM): member i + 1 per slot, 0 free */
        uint64_t keys;   /* index_bits == 0: a bit per key (its length and last byte); a key whose bit is
                          * clear is no member */
    } k;
};

/* Parses buf[0..len) into arena a with sluice_json_parse_batch's limits, acceptance, messages
 * and positions (numbers of any length kept as text, as with a numbers' table). faults may be
 * NULL. buf must outlive the tree. NULL with err set when refused (what was built stays in the
 * arena until it is freed). */
sluice_jv_t *sluice_jv_parse(sluice_json_arena_t *a, const char *buf, size_t len, size_t max_depth, size_t max_string,
                             size_t max_batch, sluice_json_item_faults_t *faults, sluice_json_error_t *err);

/* v in compact form, as json/write.c writes the same document (numbers as sent). */
void sluice_jv_write(sluice_jsonw_t *w, const sluice_jv_t *v);

/* Compact JSON of v, malloc'd and NUL-terminated (*len its length; len may be NULL); NULL when
 * memory runs out. */
char *sluice_jv_encode(const sluice_jv_t *v, size_t *len);

/* Constructors: new nodes in a, NULL when memory runs out. sluice_jv_string copies s[0..n)
 * (which must be valid UTF-8 without NUL bytes for the output to be JSON); sluice_jv_number_text
 * takes a JSON number's text as is (NULL when text is not one). */
sluice_jv_t *sluice_jv_null(sluice_json_arena_t *a);
sluice_jv_t *sluice_jv_bool(sluice_json_arena_t *a, int b);
sluice_jv_t *sluice_jv_string(sluice_json_arena_t *a, const char *s, size_t n);
sluice_jv_t *sluice_jv_integer(sluice_json_arena_t *a, int64_t i);
sluice_jv_t *sluice_jv_real(sluice_json_arena_t *a, double d);
sluice_jv_t *sluice_jv_number_text(sluice_json_arena_t *a, const char *text, size_t len);
sluice_jv_t *sluice_jv_object(sluice_json_arena_t *a);
sluice_jv_t *sluice_jv_array(sluice_json_arena_t *a);

/* A string the gateway formatted itself from an alphabet the writer copies as it is (hex digits,
 * a UUID, a time: ASCII without control bytes, '"' or '\\'; a debug build checks it): kept in a
 * with its quotes, so that it is written as one copy of those bytes, without the writer's scan
 * for escapes. NULL when memory runs out. Anything else goes through sluice_jv_string. */
sluice_jv_t *sluice_jv_string_plain(sluice_json_arena_t *a, const char *s, size_t n);

/* A deep copy of v in a (source spans kept: an unchanged copy is still written as its bytes). */
sluice_jv_t *sluice_jv_copy(sluice_json_arena_t *a, const sluice_jv_t *v);

/* Accessors; v may be NULL (then the type tests give 0 and the values 0, NULL or 0.0). */
static inline sluice_jv_type_t sluice_jv_type(const sluice_jv_t *v)
{
    return v != NULL ? (sluice_jv_type_t)v->type : SLUICE_JV_NULL;
}
static inline int sluice_jv_is_object(const sluice_jv_t *v)
{
    return v != NULL && v->type == SLUICE_JV_OBJECT;
}
static inline int sluice_jv_is_array(const sluice_jv_t *v)
{
    return v != NULL && v->type == SLUICE_JV_ARRAY;
}
static inline int sluice_jv_is_string(const sluice_jv_t *v)
{
    return v != NULL && v->type == SLUICE_JV_STRING;
}
static inline int sluice_jv_is_number(const sluice_jv_t *v)
{
    return v != NULL && v->type == SLUICE_JV_NUMBER;
}
static inline int sluice_jv_is_bool(const sluice_jv_t *v)
{
    return v != NULL && (v->type == SLUICE_JV_TRUE || v->type == SLUICE_JV_FALSE);
}
static inline int sluice_jv_is_null(const sluice_jv_t *v)
{
    return v != NULL && v->type == SLUICE_JV_NULL;
}
static inline int sluice_jv_is_true(const sluice_jv_t *v)
{
    return v != NULL && v->type == SLUICE_JV_TRUE;
}

/* A string's bytes (not NUL-terminated) and length, or NULL for any other type. */
const char *sluice_jv_string_value(const sluice_jv_t *v, size_t *len);

/* A string's bytes copied into arena a with a NUL after them, for a reader of C strings (which
 * then stops at the first NUL the string holds, as it does on jansson's json_string_value), and
 * its whole length in *len (may be NULL). NULL for any other type or when a is out of memory. */
const char *sluice_jv_string_cstr(sluice_json_arena_t *a, const sluice_jv_t *v, size_t *len);

/* 1 when v is a string equal to the NUL-terminated s. Inline, so that a literal's length is the
 * compiler's constant rather than a strlen call; another s is measured only when v is a string
 * (validation asks whether an event's type, mostly absent, is the one its route forces). */
static inline int sluice_jv_string_is(const sluice_jv_t *v, const char *s)
{
    size_t n;
    return sluice_jv_is_string(v) && v->len == (n = strlen(s)) && memcmp(v->u.s, s, n) == 0;
}

/* A number's text as sent (or as a constructor wrote it), or NULL. */
const char *sluice_jv_number_text_value(const sluice_jv_t *v, size_t *len);

/* 1 when v is a number written as an integer that fits 64 bits (jansson's JSON_INTEGER). */
int sluice_jv_is_integer(const sluice_jv_t *v);

/* Its value when sluice_jv_is_integer, else 0 (as json_integer_value). */
int64_t sluice_jv_integer_value(const sluice_jv_t *v);

/* Any number's value as a double (json_number_value), else 0.0; +-DBL_MAX for a number beyond a
 * double (a 400-digit integer, 1e400: as json/parse.c reads it). */
double sluice_jv_number_value(const sluice_jv_t *v);

/* 1 when a and b are equal as jansson's json_equal finds the values sluice_jv_to_json makes of
 * them (json/jv_json.h): the same type, with a number an integer that fits 64 bits on both sides
 * (compared as integers) or on neither (compared as doubles: 1.0 and 1.00 are equal, 1 and 1.0
 * are not), strings byte for byte, arrays item by item, objects the same members in any order.
 * 0 when either is NULL. */
int sluice_jv_equal(const sluice_jv_t *a, const sluice_jv_t *b);

/* Objects. get/getn: the member's value or NULL. set: replaces the value of key in place (its
 * position kept, as jansson does) or appends the member; key[0..n) (UTF-8, as for strings) is
 * copied into a. 0, or -1 when obj is no object, value NULL or already in a container (or obj
 * itself or one of its ancestors), or memory runs out. del: 0, or -1 when there was no such
 * member; the members after it keep their order. */
/* Inline, as are sluice_jv_array_size and _get: the stages' loops call them per member or item
 * (the guard's walk re-reads an array's size every round), and a call cost more than the test. */
static inline size_t sluice_jv_object_size(const sluice_jv_t *obj)
{
    return sluice_jv_is_object(obj) ? obj->len : 0;
}
sluice_jv_t *sluice_jv_object_getn(const sluice_jv_t *obj, const char *key, size_t n);
int sluice_jv_object_setn(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key, size_t n, sluice_jv_t *value);
int sluice_jv_object_deln(sluice_jv_t *obj, const char *key, size_t n);

/* The NUL-terminated forms inline, so that a key literal's length is the compiler's constant
 * rather than a strlen call per look-up. */
static inline sluice_jv_t *sluice_jv_object_get(const sluice_jv_t *obj, const char *key)
{
    return sluice_jv_object_getn(obj, key, strlen(key));
}
static inline int sluice_jv_object_set(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key, sluice_jv_t *value)
{
    return sluice_jv_object_setn(a, obj, key, strlen(key), value);
}
static inline int sluice_jv_object_del(sluice_jv_t *obj, const char *key)
{
    return sluice_jv_object_deln(obj, key, strlen(key));
}

/* set for a key that is not copied: key[0..n) must outlive the tree and need no escape in JSON
 * (a key followed by '":' is written as its bytes: sluice_jv_key_framed). SLUICE_JV_SET_LIT's
 * only: call the macro, not this (a debug build asserts the key is framed and plain). */
int sluice_jv_object_setn_kept(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key, size_t n, sluice_jv_t *value);

/* obj[lit] = value for a key literal that needs no escape in JSON (ASCII letters, digits, '_'):
 * the key is the literal's bytes between '"' and '":', kept, not copied, which a writer then
 * copies as they are (sluice_jv_key_framed). 0 or -1 as sluice_jv_object_set. */
#define SLUICE_JV_SET_LIT(a, obj, lit, value)                                                                          \
    sluice_jv_object_setn_kept((a), (obj), &("\"" lit "\":")[1], sizeof(lit) - 1, (value))

/* 1 when member m's key can be written as its bytes with the quote before and the '":' after it
 * (m->key - 1, key_len + 3 bytes). Every key is one of three: a key the parser left in the body,
 * which holds nothing the writer escapes (it refuses raw control bytes; a key with an escape is
 * a copy) and is followed by its closing quote; a copy in the arena, followed by a NUL; or a
 * SLUICE_JV_SET_LIT literal, framed by its quotes. So a '"' right after the key tells the first
 * or the last; the ':' is checked after it (a body may hold whitespace before its colon). */
static inline int sluice_jv_key_framed(const sluice_jv_member_t *m)
{
    return m->key[m->key_len] == '"' && m->key[m->key_len + 1] == ':';
}

/* The i-th member in order (i < size), or NULL: iteration is a plain loop over i. A del inside
 * that loop moves the members after it down by one: do not advance i past a deleted member. */
const sluice_jv_member_t *sluice_jv_object_at(const sluice_jv_t *obj, size_t i);

/* Arrays: size, the i-th item or NULL, append (0, or -1 as for set), remove (the items after it
 * move down by one and keep their order; 0, or -1 when arr is no array or has no item i; the
 * item stays in the arena, out of the tree), set (item i replaced by value, a value in no tree
 * yet, nor one holding arr; the old item stays in the arena, out of the tree; 0, or -1 as for
 * remove or when value is NULL, in a tree or an ancestor of arr), clear (item i becomes null in
 * place: no allocation, so it cannot fail for memory, which matters to whoever removes personal
 * data this way; its old contents stay in the arena, out of the tree; 0, or -1 as for remove). */
static inline size_t sluice_jv_array_size(const sluice_jv_t *arr)
{
    return sluice_jv_is_array(arr) ? arr->len : 0;
}
static inline sluice_jv_t *sluice_jv_array_get(const sluice_jv_t *arr, size_t i)
{
    return sluice_jv_is_array(arr) && i < arr->len ? arr->u.a[i] : NULL;
}
int sluice_jv_array_append(sluice_json_arena_t *a, sluice_jv_t *arr, sluice_jv_t *value);
int sluice_jv_array_remove(sluice_jv_t *arr, size_t i);
int sluice_jv_array_set(sluice_jv_t *arr, size_t i, sluice_jv_t *value);
int sluice_jv_array_clear(sluice_jv_t *arr, size_t i);

#endif

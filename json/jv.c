/*
 * Arena JSON values (json/jv.h): the parser over json/parse_core.h's scanning (the very code
 * json/parse.c runs, so the two accept, refuse and report alike), the compact writer over
 * json/write.c's string and buffer code, and the object, array and scalar API. Any thread; one
 * tree is used by one thread at a time.
 */
#include "json/jv.h"

#include "json/arena_core.h"
#include "json/parse_core.h"

#include <assert.h>
#include <inttypes.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

/* ------------------------------------------------------------------ nodes */

static sluice_jv_t *node(sluice_json_arena_t *a, sluice_jv_type_t type)
{
    sluice_jv_t *v = arena_take(a, sizeof(*v));
    if (v != NULL)
        *v = (sluice_jv_t){.type = (uint8_t)type};
    return v;
}

/* The short texts the gateway makes and copies into the arena (a type, a time, a path, a masked
 * value) and values written as sent: most of 4 to 32 bytes, copied in line (write.h). */
static inline void copy_short(char *o, const char *s, size_t n)
{
    sluice_json_copy_short(o, s, n, 1);
}

static const char *copy_bytes(sluice_json_arena_t *a, const char *s, size_t n)
{
    char *c = arena_take(a, n + 1);
    if (c != NULL) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* Marks v and its ancestors changed; stops at one already marked (its ancestors are too). */
static void mark_dirty(sluice_jv_t *v)
{
    while (v != NULL && !v->dirty) {
        v->dirty = 1;
        v = v->parent;
    }
}

/* ------------------------------------------------------------------ object index */

/* Keys are hashed with a random per-process seed, so that a client cannot precompute keys that
 * all fall into one probe cluster (a 512 KB body of ~50k such keys would cost seconds of CPU).
 * The library's load address was the seed at first: its low 12 bits are fixed by the binary and
 * the rest is public without ASLR or after one leaked address. Set once before main (a
 * constructor), so that every thread hashes alike; without random bytes it falls back to the
 * clock and the address. */
static uint64_t hash_seed;

__attribute__((constructor)) static void hash_seed_init(void)
{
    if (getrandom(&hash_seed, sizeof(hash_seed), GRND_NONBLOCK) == (ssize_t)sizeof(hash_seed))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    hash_seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&hash_seed;
}

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ hash_seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static void index_put(uint32_t *index, uint32_t cap, const sluice_jv_member_t *m, uint32_t i)
{
    uint32_t s = (uint32_t)key_hash(m[i].key, m[i].key_len) & (cap - 1);
    while (index[s] != 0)
        s = (s + 1) & (cap - 1);
    index[s] = i + 1;
}

/* The bit of a key in an object's key set, from its length and last byte (the keys of one object
 * mostly differ in one of them; the first byte was no better on bench events and cost more):
 * equal keys share it. */
static inline uint64_t key_bit(const char *key, size_t n)
{
    unsigned h = n == 0 ? 0 : ((unsigned)n + (unsigned char)key[n - 1]) & 63u;
    return (uint64_t)1 << h;
}

/* A fresh index of m[0..count) with room to grow (at most half full), 1 << *bits slots; NULL
 * when memory runs out. */
static uint32_t *index_build(sluice_json_arena_t *a, const sluice_jv_member_t *m, size_t count, uint8_t *bits)
{
    uint8_t b = 6;
    while (((size_t)1 << b) < count * 4)
        b++;
    uint32_t c = (uint32_t)1 << b;
    uint32_t *index = arena_take(a, (size_t)c * sizeof(*index));
    if (index == NULL)
        return NULL;
    memset(index, 0, (size_t)c * sizeof(*index));
    for (size_t i = 0; i < count; i++)
        index_put(index, c, m, (uint32_t)i);
    *bits = b;
    return index;
}

/* Gives obj, whose members are m[0..count), an index of them; without memory for one, a key set
 * that finds nothing absent, so that every look-up scans (slower, still right). */
static void index_make(sluice_json_arena_t *a, sluice_jv_t *obj, const sluice_jv_member_t *m, size_t count)
{
    uint8_t bits = 0;
    uint32_t *index = index_build(a, m, count, &bits);
    obj->index_bits = bits;
    if (index != NULL)
        obj->k.index = index;
    else
        obj->k.keys = ~(uint64_t)0;
}

/* Keeps index (of m[0..count), the last member just added) current past SLUICE_JV_INDEX_FROM
 * members: adds the last member, or builds it anew when it is missing or would be over half full
 * (NULL when memory runs out: the parser's key set still holds every key). */
static void index_added(sluice_json_arena_t *a, uint32_t **index, uint8_t *bits, const sluice_jv_member_t *m,
                        size_t count)
{
    if (*index == NULL || count * 2 > ((size_t)1 << *bits))
        *index = index_build(a, m, count, bits);
    else
        index_put(*index, (uint32_t)1 << *bits, m, (uint32_t)(count - 1));
}

/* Keeps obj's key set or index current after m[count - 1] was added to its members m[0..count):
 * its bit, or its slot, or an index built anew when it is missing past SLUICE_JV_INDEX_FROM or
 * would be over half full. Inline: the bit is most calls. */
static inline void keys_added(sluice_json_arena_t *a, sluice_jv_t *obj, const sluice_jv_member_t *m, size_t count)
{
    /* An index built past SLUICE_JV_INDEX_FROM stays in use after deletions took the object below
     * it: it must then still learn every member added. */
    if (obj->index_bits == 0) {
        if (count <= SLUICE_JV_INDEX_FROM)
            obj->k.keys |= key_bit(m[count - 1].key, m[count - 1].key_len);
        else
            index_make(a, obj, m, count);
    } else if (count * 2 > ((size_t)1 << obj->index_bits)) {
        index_make(a, obj, m, count);
    } else {
        index_put(obj->k.index, (uint32_t)1 << obj->index_bits, m, (uint32_t)(count - 1));
    }
}

/* a[0..n) == b[0..n), inline: keys are short, and memcmp's call cost more than the compare. Reads
 * only inside both (two overlapping words for 4 to 16 bytes), so an arena's or a body's last
 * key is safe to compare. */
static inline int key_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y, u, v;
    if (n >= 8 && n <= 16) {
        memcpy(&x, a, 8), memcpy(&y, b, 8), memcpy(&u, a + n - 8, 8), memcpy(&v, b + n - 8, 8);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x4, y4, u4, v4;
        memcpy(&x4, a, 4), memcpy(&y4, b, 4), memcpy(&u4, a + n - 4, 4), memcpy(&v4, b + n - 4, 4);
        return ((x4 ^ y4) | (u4 ^ v4)) == 0;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    return memcmp(a, b, n) == 0;
}

/* The position of key[0..n) among m[0..count), or -1, by a scan that compares lengths first
 * (keys of one object mostly differ there). */
static inline long members_scan(const sluice_jv_member_t *m, size_t count, const char *key, size_t n)
{
    for (size_t i = 0; i < count; i++)
        if (m[i].key_len == n && key_eq(m[i].key, key, n))
            return (long)i;
    return -1;
}

/* The same through an index of m of 1 << bits slots. */
static long index_find(const uint32_t *index, uint8_t bits, const sluice_jv_member_t *m, const char *key, size_t n)
{
    uint32_t mask = ((uint32_t)1 << bits) - 1;
    for (uint32_t s = (uint32_t)key_hash(key, n) & mask; index[s] != 0; s = (s + 1) & mask) {
        const sluice_jv_member_t *e = &m[index[s] - 1];
        if (e->key_len == n && key_eq(e->key, key, n))
            return (long)(index[s] - 1);
    }
    return -1;
}

/* The position of key[0..n) among obj's members m[0..count), or -1. Up to SLUICE_JV_INDEX_FROM
 * members a key whose bit is not in the key set is absent without a scan (a set of a new key, a
 * get of a member not sent, the parser's duplicate check of nearly every key); past it, the
 * index. */
static inline __attribute__((always_inline)) long members_find(const sluice_jv_t *obj, const sluice_jv_member_t *m,
                                                               size_t count, const char *key, size_t n)
{
    if (obj->index_bits != 0)
        return index_find(obj->k.index, obj->index_bits, m, key, n);
    if ((obj->k.keys & key_bit(key, n)) == 0)
        return -1;
    return members_scan(m, count, key, n);
}

/* ------------------------------------------------------------------ parser */

typedef struct jv_parser {
    parser_t ps;
    sluice_json_arena_t *a;
    sluice_jv_member_t *mstack; /* the members of the objects being read, innermost last */
    size_t mtop, mcap;
    sluice_jv_t **astack; /* the items of the arrays being read */
    size_t atop, acap;
    int mheap, aheap; /* the stacks were malloc'd */
    unsigned roomy;   /* objects inside the document's own given ROOT_ROOM so far (ROOMY_MAX) */
} jv_parser_t;

static sluice_jv_t *jv_value(jv_parser_t *jp);

static void *oom(jv_parser_t *jp, const char *at)
{
    return syntax(&jp->ps, at, "out of memory");
}

/* Grows a stack of elements of size el to hold one more; 0 or -1. Stacks start in
 * sluice_jv_parse's frame (most documents never leave it: no malloc per parse) and move to the
 * heap when outgrown, *heap then set. */
static int stack_grow(void **stack, size_t *cap, size_t top, size_t el, int *heap)
{
    if (top < *cap)
        return 0;
    size_t c = *cap * 2;
    void *n = *heap ? realloc(*stack, c * el) : malloc(c * el);
    if (n == NULL)
        return -1;
    if (!*heap)
        memcpy(n, *stack, top * el);
    *heap = 1;
    *stack = n;
    *cap = c;
    return 0;
}

static sluice_jv_t *jv_string_value(jv_parser_t *jp)
{
    parser_t *ps = &jp->ps;
    const char *start = ps->p;
    ps->p++;
    const char *s;
    size_t n;
    if (parse_string(ps, &s, &n) != 0)
        return NULL;
    if (n > ps->max_string) {
        if (!item_fault(ps, "string longer than"))
            return limit(ps, SLUICE_JSON_STRING, "string longer than");
        sluice_jv_t *null = node(jp->a, SLUICE_JV_NULL); /* as parse.c: null in a faulty event */
        return null != NULL ? null : oom(jp, start);
    }
    sluice_jv_t *v = node(jp->a, SLUICE_JV_STRING);
    if (v == NULL)
        return oom(jp, start);
    int escaped = s == ps->sbuf;
    if (escaped && (s = copy_bytes(jp->a, s, n)) == NULL)
        return oom(jp, start);
    v->u.s = s;
    v->len = (uint32_t)n;
    v->src = start;
    v->src_len = (uint32_t)(ps->p - start);
    v->verbatim = !escaped; /* no escape: nothing in it needs one either */
    return v;
}

/* A member's or an item's value. A string without an escape, within max_string, is read here:
 * most of an event's values are such strings, and jv_string_value's call cost about 17
 * instructions each (the registers its rare paths need, saved and restored). Any other string
 * (its first plain run rescanned: an escape, UTF-8, a long one, or no node when memory ran out) is
 * jv_string_value's, whose result is the same. */
static inline sluice_jv_t *jv_child(jv_parser_t *jp)
{
    parser_t *ps = &jp->ps;
    if (ps->p < ps->end && *ps->p == '"') {
        const char *start = ps->p, *s = skip_plain(start + 1, ps->end);
        size_t n = (size_t)(s - start) - 1;
        sluice_jv_t *v;
        if (s < ps->end && *s == '"' && n <= ps->max_string && (v = node(jp->a, SLUICE_JV_STRING)) != NULL) {
            ps->p = s + 1;
            v->u.s = start + 1;
            v->len = (uint32_t)n;
            v->src = start;
            v->src_len = (uint32_t)n + 2;
            v->verbatim = 1;
            return v;
        }
        return jv_string_value(jp);
    }
    return jv_value(jp);
}

static sluice_jv_t *jv_number(jv_parser_t *jp)
{
    number_t r;
    if (number_text(&jp->ps, &r) != 0)
        return NULL;
    sluice_jv_t *v = node(jp->a, SLUICE_JV_NUMBER);
    if (v == NULL)
        return oom(jp, r.s);
    v->u.s = v->src = r.s;
    v->len = v->src_len = (uint32_t)r.n;
    v->verbatim = 1; /* as sent, whatever its length, as json/write.c does */
    return v;
}

static sluice_jv_t *jv_literal(jv_parser_t *jp, const char *word, sluice_jv_type_t type)
{
    parser_t *ps = &jp->ps;
    size_t n = literal_at(ps, word);
    if (n == 0)
        return NULL;
    sluice_jv_t *v = node(jp->a, type);
    if (v == NULL)
        return oom(jp, ps->p);
    v->src = ps->p;
    v->src_len = (uint32_t)n;
    v->verbatim = 1;
    ps->p += n;
    return v;
}

/* As parse.c's key_over_limit: the member's value is read and left out, or the refusal (-1). */
static __attribute__((noinline, cold)) int jv_key_over_limit(jv_parser_t *jp)
{
    if (key_fault(&jp->ps) != 0)
        return -1;
    return jv_child(jp) != NULL ? 0 : -1;
}

#define ROOT_ROOM 4
/* At most this many of the objects inside the document's own get the room: an event holds a
 * handful (traits, properties, context, page), while a hostile body of thousands of small objects
 * would otherwise take ROOT_ROOM members' worth of arena more for each (1.6 times the arena for
 * 2,000 of `"kI":{"b":1}`). */
#define ROOMY_MAX 16

static sluice_jv_t *jv_object(jv_parser_t *jp)
{
    parser_t *ps = &jp->ps;
    const char *start = ps->p;
    if (enter(ps) != 0)
        return NULL;
    frame_t *f = &ps->frames[ps->depth];
    sluice_jv_t *obj = node(jp->a, SLUICE_JV_OBJECT);
    if (obj == NULL)
        return oom(jp, start);
    size_t base = jp->mtop, count = 0;
    /* Its bytes are its compact form when every member's are, no key was escaped or left out, and
     * no whitespace was skipped between its first and last byte (a count where a tally of the
     * compact form's bytes cost 9 instructions a member). */
    size_t verbatim = 1, ws_runs = ps->ws_runs;
    uint64_t keys = 0; /* the key set (its index past SLUICE_JV_INDEX_FROM members) */
    uint32_t *index = NULL;
    uint8_t ibits = 0;
    ps->p++; /* '{' */
    if (take(ps, '}'))
        goto done;
    for (;;) {
        const char *key;
        size_t klen;
        if (object_key(ps, &key, &klen) != 0)
            return NULL;
        const char *after_key = ps->p;
        int key_escaped = key == ps->sbuf;
        /* an unescaped key points into the body; one unescaped into the buffer the value will
         * reuse is copied */
        if (key_escaped && (key = copy_bytes(jp->a, key, klen)) == NULL)
            return oom(jp, after_key);
        f->key = key;
        f->key_len = klen;
        if (klen > ps->max_string) {
            if (jv_key_over_limit(jp) != 0)
                return NULL;
            verbatim = 0; /* the member is left out: its bytes are not the object's */
        } else {
            if (!take(ps, ':')) {
                syntax(ps, ps->p, "':' expected");
                return NULL;
            }
            sluice_jv_t *v = jv_child(jp);
            if (v == NULL)
                return NULL;
            /* Checked after the value, as parse.c does (its error wins over the duplicate). A key
             * whose bit no earlier key set has no twin: most objects are never scanned (scanning
             * every earlier key was 1.1k instructions a bench event). */
            uint64_t bit = key_bit(key, klen);
            const sluice_jv_member_t *m = jp->mstack + base;
            if (index != NULL ? index_find(index, ibits, m, key, klen) >= 0
                              : (keys & bit) != 0 && members_scan(m, count, key, klen) >= 0) {
                syntax(ps, after_key, "duplicate object key");
                return NULL;
            }
            if (jp->mtop == jp->mcap &&
                stack_grow((void **)&jp->mstack, &jp->mcap, jp->mtop, sizeof(*jp->mstack), &jp->mheap) != 0)
                return oom(jp, after_key);
            jp->mstack[jp->mtop++] = (sluice_jv_member_t){key, klen, v};
            v->parent = obj;
            count++;
            keys |= bit;
            if (count > SLUICE_JV_INDEX_FROM)
                index_added(jp->a, &index, &ibits, jp->mstack + base, count);
            verbatim &= !key_escaped && v->verbatim;
        }
        f->key = NULL;
        int more = next_or_close(ps, '}');
        if (more < 0)
            return NULL;
        if (more == 0)
            break;
    }
done:
    ps->depth--;
    /* The document's own object (a single event) and the objects it holds get room for ROOT_ROOM
     * more members: validation and enrichment add four to every event (type, messageId,
     * receivedAt, originalTimestamp) and two to its context (ip, userAgent), which otherwise grew
     * their vectors, a second copy of every member, and left the first in the arena. */
    size_t room = count;
    if (count > 0 && (ps->depth == 0 || (ps->depth == 1 && jp->roomy < ROOMY_MAX))) {
        room += ROOT_ROOM;
        if (ps->depth == 1)
            jp->roomy++;
    }
    if (count > 0) {
        obj->u.m = arena_take(jp->a, room * sizeof(sluice_jv_member_t));
        if (obj->u.m == NULL)
            return oom(jp, ps->p);
        memcpy(obj->u.m, jp->mstack + base, count * sizeof(sluice_jv_member_t));
    }
    jp->mtop = base;
    obj->len = (uint32_t)count;
    obj->cap = (uint32_t)room;
    if (index != NULL) {
        obj->index_bits = ibits;
        obj->k.index = index;
    } else {
        obj->k.keys = keys;
    }
    obj->src = start;
    obj->src_len = (uint32_t)(ps->p - start);
    obj->verbatim = verbatim && ps->ws_runs == ws_runs;
    return obj;
}

static sluice_jv_t *jv_array(jv_parser_t *jp)
{
    parser_t *ps = &jp->ps;
    const char *start = ps->p;
    if (enter(ps) != 0)
        return NULL;
    frame_t *f = &ps->frames[ps->depth];
    sluice_jv_t *arr = node(jp->a, SLUICE_JV_ARRAY);
    if (arr == NULL)
        return oom(jp, start);
    size_t base = jp->atop, count = 0;
    size_t verbatim = 1, ws_runs = ps->ws_runs; /* as jv_object's */
    ps->p++;                                    /* '[' */
    if (take(ps, ']'))
        goto done;
    int is_batch = batch_begin(ps);
    for (;; count++) {
        if (batch_item(ps, f, count, is_batch) != 0)
            return NULL;
        sluice_jv_t *v = jv_child(jp);
        if (v == NULL)
            return NULL;
        if (jp->atop == jp->acap &&
            stack_grow((void **)&jp->astack, &jp->acap, jp->atop, sizeof(*jp->astack), &jp->aheap) != 0)
            return oom(jp, ps->p);
        jp->astack[jp->atop++] = v;
        v->parent = arr;
        verbatim &= v->verbatim;
        int more = next_or_close(ps, ']');
        if (more < 0)
            return NULL;
        if (more == 0) {
            count++;
            batch_end(ps, is_batch);
            break;
        }
    }
done:
    ps->depth--;
    if (count > 0) {
        arr->u.a = arena_take(jp->a, count * sizeof(sluice_jv_t *));
        if (arr->u.a == NULL)
            return oom(jp, ps->p);
        memcpy(arr->u.a, jp->astack + base, count * sizeof(sluice_jv_t *));
    }
    jp->atop = base;
    arr->len = arr->cap = (uint32_t)count;
    arr->src = start;
    arr->src_len = (uint32_t)(ps->p - start);
    arr->verbatim = verbatim && ps->ws_runs == ws_runs;
    return arr;
}

static sluice_jv_t *jv_value(jv_parser_t *jp)
{
    parser_t *ps = &jp->ps;
    if (ps->p >= ps->end)
        return syntax(ps, ps->p, "premature end of input");
    switch (*ps->p) {
    case ' ':
    case '\t':
    case '\n':
    case '\r': skip_ws(ps); return jv_value(jp);
    case '{': return jv_object(jp);
    case '[': return jv_array(jp);
    case '"': return jv_string_value(jp);
    case 't': return jv_literal(jp, "true", SLUICE_JV_TRUE);
    case 'f': return jv_literal(jp, "false", SLUICE_JV_FALSE);
    case 'n': return jv_literal(jp, "null", SLUICE_JV_NULL);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return jv_number(jp);
        return syntax(ps, ps->p, "invalid token");
    }
}

sluice_jv_t *sluice_jv_parse(sluice_json_arena_t *a, const char *buf, size_t len, size_t max_depth, size_t max_string,
                             size_t max_batch, sluice_json_item_faults_t *faults, sluice_json_error_t *err)
{
    memset(err, 0, sizeof(*err));
    if (faults != NULL)
        faults->count = 0;
    if (len > UINT32_MAX) { /* spans are 32-bit; bodies are limited far below */
        err->kind = SLUICE_JSON_SYNTAX;
        snprintf(err->message, sizeof(err->message), "document too large");
        return NULL;
    }
    jv_parser_t jp = {.a = a,
                      .ps = {.p = buf,
                             .start = buf,
                             .end = buf + len,
                             .max_string = max_string,
                             .max_batch = max_batch,
                             .err = err,
                             .faults = faults}};
    parser_t *ps = &jp.ps;
    ps->max_depth = max_depth < MAX_FRAMES ? max_depth : MAX_FRAMES;
    ps->depth_cap = ps->max_depth;
    frame_t small[64];
    ps->frames =
        ps->max_depth + 4 <= sizeof(small) / sizeof(small[0]) ? small : malloc((ps->max_depth + 4) * sizeof(frame_t));
    if (ps->frames == NULL || a == NULL) {
        if (ps->frames != small)
            free(ps->frames);
        err->kind = SLUICE_JSON_SYNTAX;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return NULL;
    }
    char sbuf[512];
    ps->sbuf = sbuf;
    ps->scap = sizeof(sbuf);
    sluice_jv_member_t msmall[64];
    sluice_jv_t *asmall[64];
    jp.mstack = msmall;
    jp.mcap = sizeof(msmall) / sizeof(msmall[0]);
    jp.astack = asmall;
    jp.acap = sizeof(asmall) / sizeof(asmall[0]);
    skip_ws(ps);
    sluice_jv_t *v = jv_value(&jp);
    if (v != NULL) {
        skip_ws(ps);
        if (ps->p != ps->end) {
            syntax(ps, ps->p, "end of input expected");
            v = NULL;
        }
    }
    if (ps->heap)
        free(ps->sbuf);
    if (ps->frames != small)
        free(ps->frames);
    if (jp.mheap)
        free(jp.mstack);
    if (jp.aheap)
        free(jp.astack);
    return v;
}

/* ------------------------------------------------------------------ writer */

void sluice_jv_write(sluice_jsonw_t *w, const sluice_jv_t *v)
{
    if (v->verbatim && !v->dirty) { /* untouched and already compact: its bytes as sent */
        /* sluice_jsonw_put with copy_short's 17 to 32 bytes in line too: a value as sent is often
         * that long (a time with its quotes, a short id or path) */
        if (w->len + v->src_len + 1 <= w->cap || sluice_jsonw_grow(w, v->src_len) == 0) {
            copy_short(w->p + w->len, v->src, v->src_len);
            w->len += v->src_len;
        }
        return;
    }
    switch ((sluice_jv_type_t)v->type) {
    case SLUICE_JV_OBJECT:
        if (v->len == 0) {
            SLUICE_JSONW_LIT(w, "{}");
            return;
        }
        for (uint32_t i = 0; i < v->len; i++) {
            sluice_jsonw_put(w, i == 0 ? "{" : ",", 1);
            if (sluice_jv_key_framed(&v->u.m[i])) {
                sluice_jsonw_put(w, v->u.m[i].key - 1, v->u.m[i].key_len + 3);
            } else {
                sluice_jsonw_string(w, v->u.m[i].key, v->u.m[i].key_len);
                sluice_jsonw_put(w, ":", 1);
            }
            sluice_jv_write(w, v->u.m[i].value);
        }
        sluice_jsonw_put(w, "}", 1);
        return;
    case SLUICE_JV_ARRAY:
        sluice_jsonw_put(w, "[", 1);
        for (uint32_t i = 0; i < v->len; i++) {
            if (i > 0)
                sluice_jsonw_put(w, ",", 1);
            sluice_jv_write(w, v->u.a[i]);
        }
        sluice_jsonw_put(w, "]", 1);
        return;
    case SLUICE_JV_STRING: sluice_jsonw_string(w, v->u.s, v->len); return;
    case SLUICE_JV_NUMBER: sluice_jsonw_put(w, v->u.s, v->len); return;
    case SLUICE_JV_TRUE: SLUICE_JSONW_LIT(w, "true"); return;
    case SLUICE_JV_FALSE: SLUICE_JSONW_LIT(w, "false"); return;
    case SLUICE_JV_NULL: SLUICE_JSONW_LIT(w, "null"); return;
    }
}

char *sluice_jv_encode(const sluice_jv_t *v, size_t *len)
{
    sluice_jsonw_t w = {0};
    sluice_jv_write(&w, v);
    return sluice_jsonw_finish(&w, len);
}

/* ------------------------------------------------------------------ constructors */

sluice_jv_t *sluice_jv_null(sluice_json_arena_t *a)
{
    return node(a, SLUICE_JV_NULL);
}

sluice_jv_t *sluice_jv_bool(sluice_json_arena_t *a, int b)
{
    return node(a, b ? SLUICE_JV_TRUE : SLUICE_JV_FALSE);
}

sluice_jv_t *sluice_jv_string(sluice_json_arena_t *a, const char *s, size_t n)
{
    if (n > UINT32_MAX)
        return NULL;
    /* The node and its bytes in one take, as sluice_jv_string_plain's: one bump instead of two. */
    sluice_jv_t *v = arena_take(a, sizeof(*v) + n + 1);
    if (v == NULL)
        return NULL;
    char *c = (char *)(v + 1);
    copy_short(c, s, n);
    c[n] = '\0';
    *v = (sluice_jv_t){.type = SLUICE_JV_STRING, .len = (uint32_t)n};
    v->u.s = c;
    return v;
}

sluice_jv_t *sluice_jv_string_plain(sluice_json_arena_t *a, const char *s, size_t n)
{
#ifndef NDEBUG
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80 && s[i] != '"' && s[i] != '\\');
#endif
    if (n > UINT32_MAX - 2)
        return NULL;
    /* The node and its written form "s" in one take: the form is what the writer would write, so
     * the node is verbatim, as a parsed string without escapes is. */
    sluice_jv_t *v = arena_take(a, sizeof(*v) + n + 2);
    if (v == NULL)
        return NULL;
    char *c = (char *)(v + 1);
    c[0] = '"';
    copy_short(c + 1, s, n);
    c[n + 1] = '"';
    *v = (sluice_jv_t){.type = SLUICE_JV_STRING, .verbatim = 1, .len = (uint32_t)n, .src_len = (uint32_t)n + 2};
    v->src = c;
    v->u.s = c + 1;
    return v;
}

sluice_jv_t *sluice_jv_number_text(sluice_json_arena_t *a, const char *text, size_t len)
{
    if (!sluice_json_is_number_text(text, len) || len > UINT32_MAX)
        return NULL;
    sluice_jv_t *v = node(a, SLUICE_JV_NUMBER);
    if (v == NULL || (v->u.s = copy_bytes(a, text, len)) == NULL)
        return NULL;
    v->len = (uint32_t)len;
    return v;
}

sluice_jv_t *sluice_jv_integer(sluice_json_arena_t *a, int64_t i)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, i);
    return sluice_jv_number_text(a, tmp, (size_t)n);
}

sluice_jv_t *sluice_jv_real(sluice_json_arena_t *a, double d)
{
    if (!isfinite(d))
        return NULL; /* JSON has no text for it (jansson refuses it too) */
    char tmp[40];
    size_t n = sluice_json_format_real(d, tmp);
    return sluice_jv_number_text(a, tmp, n);
}

sluice_jv_t *sluice_jv_object(sluice_json_arena_t *a)
{
    return node(a, SLUICE_JV_OBJECT);
}

sluice_jv_t *sluice_jv_array(sluice_json_arena_t *a)
{
    return node(a, SLUICE_JV_ARRAY);
}

sluice_jv_t *sluice_jv_copy(sluice_json_arena_t *a, const sluice_jv_t *v)
{
    if (v == NULL)
        return NULL;
    sluice_jv_t *c = node(a, (sluice_jv_type_t)v->type);
    if (c == NULL)
        return NULL;
    *c = *v; /* strings, keys and numbers are never changed in place: shared */
    c->parent = NULL;
    c->index_bits = 0; /* an object's key set is v's (the same keys); its index is built anew below */
    c->k.keys = v->index_bits == 0 ? v->k.keys : 0;
    if (v->type == SLUICE_JV_OBJECT || v->type == SLUICE_JV_ARRAY) {
        /* never v's vector: an emptied container keeps its room, which the copy would then share */
        c->u.m = NULL;
        c->cap = 0;
    }
    if (v->type == SLUICE_JV_OBJECT && v->len > 0) {
        if ((c->u.m = arena_take(a, v->len * sizeof(sluice_jv_member_t))) == NULL)
            return NULL;
        c->cap = v->len;
        for (uint32_t i = 0; i < v->len; i++) {
            c->u.m[i] = v->u.m[i];
            if ((c->u.m[i].value = sluice_jv_copy(a, v->u.m[i].value)) == NULL)
                return NULL;
            c->u.m[i].value->parent = c;
        }
        if (v->index_bits != 0)
            index_make(a, c, c->u.m, c->len);
    } else if (v->type == SLUICE_JV_ARRAY && v->len > 0) {
        if ((c->u.a = arena_take(a, v->len * sizeof(sluice_jv_t *))) == NULL)
            return NULL;
        c->cap = v->len;
        for (uint32_t i = 0; i < v->len; i++) {
            if ((c->u.a[i] = sluice_jv_copy(a, v->u.a[i])) == NULL)
                return NULL;
            c->u.a[i]->parent = c;
        }
    }
    return c;
}

/* ------------------------------------------------------------------ accessors */

const char *sluice_jv_string_value(const sluice_jv_t *v, size_t *len)
{
    if (!sluice_jv_is_string(v))
        return NULL;
    if (len != NULL)
        *len = v->len;
    return v->u.s;
}

const char *sluice_jv_string_cstr(sluice_json_arena_t *a, const sluice_jv_t *v, size_t *len)
{
    if (!sluice_jv_is_string(v))
        return NULL;
    char *c = arena_take(a, v->len + 1);
    if (c == NULL)
        return NULL;
    copy_short(c, v->u.s, v->len);
    c[v->len] = '\0';
    if (len != NULL)
        *len = v->len;
    return c;
}

const char *sluice_jv_number_text_value(const sluice_jv_t *v, size_t *len)
{
    if (!sluice_jv_is_number(v))
        return NULL;
    if (len != NULL)
        *len = v->len;
    return v->u.s;
}

/* The integer a number's text spells, when it is one that fits 64 bits: 1, else 0. */
static int integer_of(const sluice_jv_t *v, int64_t *out)
{
    if (!sluice_jv_is_number(v))
        return 0;
    const char *s = v->u.s, *end = s + v->len;
    int neg = s < end && *s == '-';
    s += neg;
    uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (s == end)
        return 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || u > (lim - (uint64_t)(*s - '0')) / 10)
            return 0; /* a fraction, an exponent or beyond 64 bits: a real to jansson */
        u = u * 10 + (uint64_t)(*s - '0');
    }
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 1;
}

int sluice_jv_is_integer(const sluice_jv_t *v)
{
    int64_t i;
    return integer_of(v, &i);
}

int64_t sluice_jv_integer_value(const sluice_jv_t *v)
{
    int64_t i;
    return integer_of(v, &i) ? i : 0;
}

double sluice_jv_number_value(const sluice_jv_t *v)
{
    if (!sluice_jv_is_number(v))
        return 0.0;
    /* A real read as the parser reads it: exactly, without strtod, when Clinger's fast path
     * applies (19.99: the PII guard reads every real it walks; strtod cost 700 instructions a
     * real). An integer keeps strtod's reading ("-0" is -0.0, where the parser's is 0). */
    sluice_json_error_t err = {0};
    parser_t ps = {.p = v->u.s, .start = v->u.s, .end = v->u.s + v->len, .err = &err};
    number_t r;
    if (number_read(&ps, 1, &r) == 0 && r.is_real && ps.p == ps.end)
        return r.d;
    char tmp[64], *c = v->len < sizeof(tmp) ? tmp : malloc((size_t)v->len + 1);
    if (c == NULL)
        return 0.0;
    memcpy(c, v->u.s, v->len);
    c[v->len] = '\0';
    double d = strtod(c, NULL);
    if (c != tmp)
        free(c);
    if (isinf(d)) /* a number beyond a double (parse.c's keep_big): its value there too */
        d = d > 0 ? DBL_MAX : -DBL_MAX;
    return d;
}

int sluice_jv_equal(const sluice_jv_t *a, const sluice_jv_t *b)
{
    if (a == NULL || b == NULL || a->type != b->type)
        return 0;
    switch ((sluice_jv_type_t)a->type) {
    case SLUICE_JV_NUMBER: {
        /* jansson's two number types: an integer that fits 64 bits, and a real (anything else) */
        int integer = sluice_jv_is_integer(a);
        if (integer != sluice_jv_is_integer(b))
            return 0;
        return integer ? sluice_jv_integer_value(a) == sluice_jv_integer_value(b)
                       : sluice_jv_number_value(a) == sluice_jv_number_value(b);
    }
    case SLUICE_JV_STRING: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    case SLUICE_JV_ARRAY: {
        size_t n = sluice_jv_array_size(a);
        if (n != sluice_jv_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!sluice_jv_equal(sluice_jv_array_get(a, i), sluice_jv_array_get(b, i)))
                return 0;
        return 1;
    }
    case SLUICE_JV_OBJECT: {
        /* Keys are unique (the parser refuses duplicates, set replaces): the same size and each
         * member found in b with an equal value, in any order. */
        size_t n = sluice_jv_object_size(a);
        if (n != sluice_jv_object_size(b))
            return 0;
        for (size_t i = 0; i < n; i++) {
            const sluice_jv_member_t *m = sluice_jv_object_at(a, i);
            if (!sluice_jv_equal(m->value, sluice_jv_object_getn(b, m->key, m->key_len)))
                return 0;
        }
        return 1;
    }
    case SLUICE_JV_NULL:
    case SLUICE_JV_FALSE:
    case SLUICE_JV_TRUE: return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ objects and arrays */

/* sluice_jv_object_getn past its common case: an index, or a key longer than 16 bytes. */
static __attribute__((noinline)) sluice_jv_t *object_getn_rest(const sluice_jv_t *obj, const char *key, size_t n)
{
    long i = members_find(obj, obj->u.m, obj->len, key, n);
    return i >= 0 ? obj->u.m[i].value : NULL;
}

sluice_jv_t *sluice_jv_object_getn(const sluice_jv_t *obj, const char *key, size_t n)
{
    if (!sluice_jv_is_object(obj))
        return NULL;
    /* Nearly every look-up (the gateway's own keys, in objects of a few members) is answered
     * here, where nothing is called: with members_find's calls (an index, a long key's memcmp) in
     * the same function, every look-up saved and restored six registers (~14 instructions). */
    if (obj->index_bits != 0 || n > 16)
        return object_getn_rest(obj, key, n);
    if ((obj->k.keys & key_bit(key, n)) == 0)
        return NULL;
    long i = members_scan(obj->u.m, obj->len, key, n); /* n <= 16: key_eq's memcmp is gone */
    return i >= 0 ? obj->u.m[i].value : NULL;
}

const sluice_jv_member_t *sluice_jv_object_at(const sluice_jv_t *obj, size_t i)
{
    return sluice_jv_is_object(obj) && i < obj->len ? &obj->u.m[i] : NULL;
}

/* Room for one more member or item in v's vector (of el-byte elements): 0 or -1. Callers test
 * for room before the call (a call per set or append was 25 instructions). The old vector stays
 * in the arena, unused: growth doubles, so at most as much again is left behind. */
static int vector_grow(sluice_json_arena_t *a, sluice_jv_t *v, void **vec, size_t el)
{
    if (v->len < v->cap)
        return 0;
    if (v->cap >= UINT32_MAX / 2)
        return -1;
    uint32_t cap = v->cap ? v->cap * 2 : 4;
    void *n = arena_take(a, (size_t)cap * el);
    if (n == NULL)
        return -1;
    if (v->len > 0)
        memcpy(n, *vec, (size_t)v->len * el);
    *vec = n;
    v->cap = cap;
    return 0;
}

/* A value may be put into container c when it is in none (a tree has no shared nodes: marking a
 * change dirty walks one chain of parents) and is not c or one of c's ancestors (a cycle would
 * never end being written). Only a container can be either, so a scalar (most of what the gateway
 * sets: hashes, masked values, ids, times) is placed without the walk up c's parents. */
static inline int placeable(const sluice_jv_t *c, const sluice_jv_t *value)
{
    if (value == NULL || value->parent != NULL)
        return 0;
    if (value->type != SLUICE_JV_OBJECT && value->type != SLUICE_JV_ARRAY)
        return 1;
    for (const sluice_jv_t *p = c; p != NULL; p = p->parent)
        if (p == value)
            return 0;
    return 1;
}

/* set, with a new member's key copied into a or kept as given (copy 0: SLUICE_JV_SET_LIT's). */
static inline __attribute__((always_inline)) int object_set(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key,
                                                            size_t n, sluice_jv_t *value, int copy)
{
    if (!sluice_jv_is_object(obj) || !placeable(obj, value) || n > UINT32_MAX)
        return -1;
    long i = members_find(obj, obj->u.m, obj->len, key, n);
    if (i >= 0) {
        obj->u.m[i].value->parent = NULL;
        obj->u.m[i].value = value;
    } else {
        const char *k = copy ? copy_bytes(a, key, n) : key;
        if (k == NULL ||
            (obj->len == obj->cap && vector_grow(a, obj, (void **)&obj->u.m, sizeof(sluice_jv_member_t)) != 0))
            return -1;
        obj->u.m[obj->len++] = (sluice_jv_member_t){k, n, value};
        keys_added(a, obj, obj->u.m, obj->len);
    }
    value->parent = obj;
    mark_dirty(obj);
    return 0;
}

/* object_set past object_set_quick's case, out of line. */
static __attribute__((noinline)) int object_set_rest(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key,
                                                     size_t n, sluice_jv_t *value, int copy)
{
    return object_set(a, obj, key, n, value, copy);
}

/* object_set's common case for a kept key, where nothing is called: a new key appended to an
 * object without an index whose vector has room and whose key set still serves (its bit clear: no
 * scan), as enrichment and validation add their members (six an event, with the root's room from
 * the parser). 0 when done, as object_set would have done it; 1, with nothing changed, for
 * anything else (a key whose bit is set, a vector to grow, an index), which object_set_rest does.
 * With object_set's calls in the same function every set saved and restored six registers. */
static inline __attribute__((always_inline)) int object_set_quick(sluice_jv_t *obj, const char *key, size_t n,
                                                                  sluice_jv_t *value)
{
    if (!sluice_jv_is_object(obj) || obj->index_bits != 0 || key == NULL || n > UINT32_MAX || obj->len == obj->cap ||
        obj->len >= SLUICE_JV_INDEX_FROM || !placeable(obj, value))
        return 1;
    uint64_t bit = key_bit(key, n);
    if ((obj->k.keys & bit) != 0)
        return 1; /* maybe there: object_set's scan */
    obj->u.m[obj->len++] = (sluice_jv_member_t){key, n, value};
    obj->k.keys |= bit; /* keys_added's bit: the object stays within SLUICE_JV_INDEX_FROM */
    value->parent = obj;
    mark_dirty(obj);
    return 0;
}

/* object_set's common case for a copied key, where nothing is called: a value replacing the
 * member of a key of up to 16 bytes (key_eq without memcmp) in an object without an index, as the
 * data layer's hashes and masked values replace what the client sent. 0 when done, as object_set
 * would have done it; 1, with nothing changed, for anything else (a new key, which is copied, a
 * longer key, an index), which object_set_rest does. */
static inline __attribute__((always_inline)) int object_replace_quick(sluice_jv_t *obj, const char *key, size_t n,
                                                                      sluice_jv_t *value)
{
    if (!sluice_jv_is_object(obj) || obj->index_bits != 0 || n > 16 || !placeable(obj, value) ||
        (obj->k.keys & key_bit(key, n)) == 0)
        return 1;
    long i = members_scan(obj->u.m, obj->len, key, n);
    if (i < 0)
        return 1;
    obj->u.m[i].value->parent = NULL;
    obj->u.m[i].value = value;
    value->parent = obj;
    mark_dirty(obj);
    return 0;
}

int sluice_jv_object_setn(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key, size_t n, sluice_jv_t *value)
{
    if (object_replace_quick(obj, key, n, value) == 0)
        return 0;
    return object_set_rest(a, obj, key, n, value, 1);
}

int sluice_jv_object_setn_kept(sluice_json_arena_t *a, sluice_jv_t *obj, const char *key, size_t n, sluice_jv_t *value)
{
#ifndef NDEBUG
    /* Only SLUICE_JV_SET_LIT's literals: the writers copy a key framed like this as its bytes
     * (sluice_jv_key_framed), so anything else here, e.g. a plugin's or a config's text, would be
     * written unescaped. A debug build (the unit tests, fuzz targets and ASan builds) checks it. */
    assert(key[n] == '"' && key[n + 1] == ':' && key[-1] == '"'); /* in this order: a C string stops at key[n] */
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)key[i] >= 0x20 && (unsigned char)key[i] < 0x80 && key[i] != '"' && key[i] != '\\');
#endif
    if (object_set_quick(obj, key, n, value) == 0)
        return 0;
    return object_set_rest(a, obj, key, n, value, 0);
}

int sluice_jv_object_deln(sluice_jv_t *obj, const char *key, size_t n)
{
    if (!sluice_jv_is_object(obj))
        return -1;
    long i = members_find(obj, obj->u.m, obj->len, key, n);
    if (i < 0)
        return -1;
    obj->u.m[i].value->parent = NULL;
    memmove(&obj->u.m[i], &obj->u.m[i + 1], (obj->len - (size_t)i - 1) * sizeof(sluice_jv_member_t));
    obj->len--;
    /* The key set keeps the bit of the key gone (a look-up of it then scans, and finds nothing). */
    if (obj->index_bits != 0) { /* positions moved: rebuilt in place (the old one's room suffices) */
        uint32_t cap = (uint32_t)1 << obj->index_bits;
        memset(obj->k.index, 0, (size_t)cap * sizeof(*obj->k.index));
        for (uint32_t j = 0; j < obj->len; j++)
            index_put(obj->k.index, cap, obj->u.m, j);
    }
    mark_dirty(obj);
    return 0;
}

int sluice_jv_array_append(sluice_json_arena_t *a, sluice_jv_t *arr, sluice_jv_t *value)
{
    if (!sluice_jv_is_array(arr) || !placeable(arr, value) ||
        (arr->len == arr->cap && vector_grow(a, arr, (void **)&arr->u.a, sizeof(sluice_jv_t *)) != 0))
        return -1;
    arr->u.a[arr->len++] = value;
    value->parent = arr;
    mark_dirty(arr);
    return 0;
}

int sluice_jv_array_remove(sluice_jv_t *arr, size_t i)
{
    if (!sluice_jv_is_array(arr) || i >= arr->len)
        return -1;
    arr->u.a[i]->parent = NULL;
    memmove(&arr->u.a[i], &arr->u.a[i + 1], (arr->len - i - 1) * sizeof(sluice_jv_t *));
    arr->len--;
    mark_dirty(arr);
    return 0;
}

int sluice_jv_array_set(sluice_jv_t *arr, size_t i, sluice_jv_t *value)
{
    if (!sluice_jv_is_array(arr) || i >= arr->len || !placeable(arr, value))
        return -1;
    arr->u.a[i]->parent = NULL;
    arr->u.a[i] = value;
    value->parent = arr;
    mark_dirty(arr);
    return 0;
}

int sluice_jv_array_clear(sluice_jv_t *arr, size_t i)
{
    if (!sluice_jv_is_array(arr) || i >= arr->len)
        return -1;
    sluice_jv_t *v = arr->u.a[i];
    v->type = SLUICE_JV_NULL;
    v->verbatim = 0;
    v->len = v->cap = 0;
    v->src = NULL;
    v->src_len = 0;
    v->u.s = NULL;
    v->k.keys = 0;
    v->index_bits = 0;
    mark_dirty(arr);
    return 0;
}

/*
 * The numbers' text table (json/numbers.h): open addressing on the value's address, the texts
 * in one growing buffer. Any thread; a table is used by one thread at a time.
 */
#include "json/numbers.h"

#include <stdlib.h>
#include <string.h>

sluice_jsonnum_t *sluice_jsonnum_new(void)
{
    return calloc(1, sizeof(sluice_jsonnum_t));
}

void sluice_jsonnum_free(sluice_jsonnum_t *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t->text);
    free(t);
}

void sluice_jsonnum_clear(sluice_jsonnum_t *t)
{
    if (t == NULL)
        return;
    if (t->count > 0)
        memset(t->slots, 0, t->cap * sizeof(*t->slots));
    t->count = 0;
    t->text_len = 0;
}

static size_t slot_of(const json_t *v, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)v;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull; /* Fibonacci hashing: jansson values are 8-byte aligned */
    return (size_t)(h >> 32) & (cap - 1);
}

static inline void insert(sluice_jsonnum_entry_t *slots, size_t cap, const sluice_jsonnum_entry_t *e)
{
    size_t i = slot_of(e->v, cap);
    while (slots[i].v != NULL && slots[i].v != e->v)
        i = (i + 1) & (cap - 1);
    slots[i] = *e;
}

static int grow(sluice_jsonnum_t *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    sluice_jsonnum_entry_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].v != NULL)
            insert(slots, cap, &t->slots[i]);
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Records v's text at t->text + off (already in the table): 0 or -1. */
static inline __attribute__((always_inline)) int add_entry(sluice_jsonnum_t *t, const json_t *v, size_t off, size_t len)
{
    if ((t->count + 1) * 2 > t->cap && grow(t) != 0) /* at most half full: short probes */
        return -1;
    int real = json_is_real(v);
    sluice_jsonnum_entry_t e = {.v = v, .off = (uint32_t)off, .len_real = (uint32_t)len << 1 | (uint32_t)real};
    if (real)
        e.as.d = json_real_value(v);
    else
        e.as.i = json_integer_value(v);
    insert(t->slots, t->cap, &e);
    t->count++;
    return 0;
}

int sluice_jsonnum_add(sluice_jsonnum_t *t, const json_t *v, const char *text, size_t len)
{
    /* len + 1: each text ends in a '\0', so that a reader (a vendor's id) takes it as it is. */
    size_t end = t->text_len + len + 1;
    if (len >= INT32_MAX || end > UINT32_MAX || !(json_is_integer(v) || json_is_real(v)))
        return -1;
    if (end > t->text_cap) {
        size_t cap = t->text_cap ? t->text_cap : 256;
        while (cap < end)
            cap *= 2;
        char *p = realloc(t->text, cap);
        if (p == NULL)
            return -1;
        t->text = p;
        t->text_cap = cap;
    }
    if (add_entry(t, v, t->text_len, len) != 0)
        return -1;
    memcpy(t->text + t->text_len, text, len);
    t->text[end - 1] = '\0';
    t->text_len = end;
    return 0;
}

int sluice_jsonnum_merge(sluice_jsonnum_t *into, const sluice_jsonnum_t *from)
{
    int rc = 0;
    for (size_t i = 0; from != NULL && i < from->cap; i++) {
        const sluice_jsonnum_entry_t *e = &from->slots[i];
        if (e->v != NULL && sluice_jsonnum_add(into, e->v, from->text + e->off, e->len_real >> 1) != 0)
            rc = -1;
    }
    return rc;
}

const char *sluice_jsonnum_find(const sluice_jsonnum_t *t, const json_t *v, size_t *len)
{
    if (t == NULL || t->count == 0)
        return NULL;
    size_t i = slot_of(v, t->cap);
    while (t->slots[i].v != NULL) {
        const sluice_jsonnum_entry_t *e = &t->slots[i];
        if (e->v == v) {
            /* The same address may hold a newer value (the old one freed): its text is the
             * client's only if it is still that number. */
            if (e->len_real & 1) {
                double d = json_is_real(v) ? json_real_value(v) : 0;
                if (!json_is_real(v) || memcmp(&d, &e->as.d, sizeof(d)) != 0)
                    return NULL;
            } else if (!json_is_integer(v) || json_integer_value(v) != e->as.i) {
                return NULL;
            }
            *len = e->len_real >> 1;
            return t->text + e->off;
        }
        i = (i + 1) & (t->cap - 1);
    }
    return NULL;
}

json_t *sluice_jsonnum_copy(sluice_jsonnum_t *t, const json_t *v)
{
    if (t == NULL || t->count == 0)
        return json_deep_copy(v);
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_t *o = json_object();
        for (void *it = json_object_iter((json_t *)v); it != NULL && o != NULL;
             it = json_object_iter_next((json_t *)v, it)) {
            json_t *c = sluice_jsonnum_copy(t, json_object_iter_value(it));
            if (c == NULL ||
                json_object_setn_new_nocheck(o, json_object_iter_key(it), json_object_iter_key_len(it), c) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v) && a != NULL; i++) {
            if (json_array_append_new(a, sluice_jsonnum_copy(t, json_array_get(v, i))) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    case JSON_INTEGER:
    case JSON_REAL: {
        json_t *c = json_deep_copy(v);
        size_t n;
        const char *text = sluice_jsonnum_find(t, v, &n);
        if (c != NULL && text != NULL) /* the copy shares the original's text: no copy of it */
            (void)add_entry(t, c, (size_t)(text - t->text), n);
        return c;
    }
    default: return json_deep_copy(v);
    }
}

/*
 * Internal to json/: an arena's layout and the inline fast path of its allocation, shared by
 * json/arena.c (which owns the arenas) and json/jv.c (whose parser takes a node, a key or a
 * vector from the arena for nearly every value it reads: through sluice_json_arena_alloc's call
 * that was 60 instructions a value, about 2.2k of a 650-byte event). Not for other folders: they
 * go through json/arena.h. Any thread; an arena is used by one thread at a time.
 */
#ifndef SLUICE_JSON_ARENA_CORE_H
#define SLUICE_JSON_ARENA_CORE_H

#include <stddef.h>

#include "json/arena.h"

/* About one event's values: bench/event.json (700 bytes) takes 8,032 bytes from parse through
 * the guard. With 1,024 requests in flight 16 KB chunks held 12 MB resident, 8 KB ones 8 MB. */
#define ARENA_CHUNK_SIZE ((size_t)8 * 1024)
#define ARENA_ALIGN      16

typedef struct arena_chunk {
    struct arena_chunk *next;
} arena_chunk_t;

struct sluice_json_arena {
    arena_chunk_t *chunks; /* the chunks in use, the current one first (this struct lives in the last) */
    arena_chunk_t *big;    /* sluice_json_arena_alloc's malloc'd blocks, freed with the arena */
    char *cur, *end;       /* free space of the current chunk */
    size_t used;
    unsigned owners;
};

/* sluice_json_arena_alloc when the current chunk has room (the common case, a bump of a pointer
 * inline), else the call, which takes a new chunk or mallocs a big block. */
static inline void *arena_take(sluice_json_arena_t *a, size_t n)
{
    size_t r = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    /* n beyond a quarter chunk goes to the call whatever the room: a size near SIZE_MAX would
     * round to 0 here */
    if (n <= ARENA_CHUNK_SIZE / 4 && r <= (size_t)(a->end - a->cur)) {
        void *p = a->cur;
        a->cur += r;
        a->used += r;
        return p;
    }
    return sluice_json_arena_alloc(a, n);
}

#endif

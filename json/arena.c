/*
 * jansson value arenas (json/arena.h): chunks of one reserved region, bumped; per-thread lists
 * of free chunks. Any thread; an arena is used by one thread at a time.
 */
#include "json/arena.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common/asan.h"
#include "json/arena_core.h"

#define POISON(p, n)   SLUICE_ASAN_POISON(p, n)
#define UNPOISON(p, n) SLUICE_ASAN_UNPOISON(p, n)

#define CHUNK_SIZE  ARENA_CHUNK_SIZE  /* json/arena_core.h: the layout json/jv.c's inline path shares */
#define REGION_SIZE ((size_t)4 << 30) /* address space only: pages are committed as touched */
#define ALIGN       ARENA_ALIGN

typedef arena_chunk_t chunk_t;

static char *region;                               /* [region, region + REGION_SIZE): every arena's memory */
static atomic_size_t carved;                       /* bytes of the region handed out as chunks so far */
static _Thread_local chunk_t *spare;               /* this thread's free chunks */
static _Thread_local sluice_json_arena_t *current; /* the arena jansson allocates from, or NULL */

static int in_region(const void *p)
{
    return region != NULL && (uintptr_t)p - (uintptr_t)region < REGION_SIZE;
}

static chunk_t *chunk_get(void)
{
    chunk_t *c = spare;
    if (c != NULL) {
        UNPOISON(c, sizeof(*c));
        spare = c->next;
        UNPOISON(c, CHUNK_SIZE);
        return c;
    }
    size_t off = atomic_fetch_add_explicit(&carved, CHUNK_SIZE, memory_order_relaxed);
    if (off + CHUNK_SIZE > REGION_SIZE)
        return NULL;                  /* the region is used up: the caller falls back to malloc */
    return (chunk_t *)(region + off); /* never handed out before: not poisoned */
}

static void chunk_put(chunk_t *c)
{
    POISON(c, CHUNK_SIZE);
    UNPOISON(c, sizeof(*c));
    c->next = spare;
    spare = c;
    POISON(c, sizeof(*c));
}

/* Inlined in both callers: out of line it cost jansson's path ~900 instructions per event. */
static inline __attribute__((always_inline)) void *arena_alloc(sluice_json_arena_t *a, size_t n)
{
    if (n > CHUNK_SIZE / 4) /* before the rounding, which would wrap n near SIZE_MAX to 0 */
        return NULL;        /* big strings and tables: malloc'd, freed by free() when jansson frees them */
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->cur) < n) {
        chunk_t *c = chunk_get();
        if (c == NULL)
            return NULL;
        c->next = a->chunks;
        a->chunks = c;
        a->cur = (char *)c + ALIGN;
        a->end = (char *)c + CHUNK_SIZE;
    }
    void *p = a->cur;
    a->cur += n;
    a->used += n;
    return p;
}

static void *hook_malloc(size_t n)
{
    if (current != NULL) {
        void *p = arena_alloc(current, n);
        if (p != NULL)
            return p;
    }
    return malloc(n);
}

static void hook_free(void *p)
{
    if (!in_region(p)) /* arena memory goes back with its arena */
        free(p);
}

int sluice_json_arena_install(void)
{
    if (region != NULL)
        return 0;
    void *r = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -1;
    region = r;
    json_set_alloc_funcs(hook_malloc, hook_free);
    return 0;
}

sluice_json_arena_t *sluice_json_arena_new(void)
{
    if (region == NULL)
        return NULL;
    chunk_t *c = chunk_get();
    if (c == NULL)
        return NULL;
    UNPOISON(c, CHUNK_SIZE);
    c->next = NULL;
    sluice_json_arena_t *a = (sluice_json_arena_t *)((char *)c + ALIGN);
    a->chunks = c;
    a->big = NULL;
    a->cur = (char *)c + ALIGN + ((sizeof(*a) + ALIGN - 1) & ~(size_t)(ALIGN - 1));
    a->end = (char *)c + CHUNK_SIZE;
    a->used = 0;
    a->owners = 1;
    return a;
}

void sluice_json_arena_enter(sluice_json_arena_t *a)
{
    current = a;
}

void sluice_json_arena_leave(void)
{
    current = NULL;
}

sluice_json_arena_t *sluice_json_arena_hold(sluice_json_arena_t *a)
{
    if (a != NULL)
        a->owners++;
    return a;
}

void sluice_json_arena_free(sluice_json_arena_t *a)
{
    if (a == NULL || --a->owners > 0)
        return;
    if (current == a)
        current = NULL;
    for (chunk_t *b = a->big, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    chunk_t *c = a->chunks; /* a itself lives in the last chunk: read the list first */
    while (c != NULL) {
        chunk_t *next = c->next;
        chunk_put(c);
        c = next;
    }
}

void *sluice_json_arena_alloc(sluice_json_arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p != NULL)
        return p;
    /* Too big for a chunk, or the region is used up: malloc'd, with a header that links it to
     * the arena so that it goes back with the arena (no caller frees it on its own). */
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    chunk_t *b = malloc(ALIGN + n);
    if (b == NULL)
        return NULL;
    b->next = a->big;
    a->big = b;
    a->used += n;
    return (char *)b + ALIGN;
}

size_t sluice_json_arena_used(const sluice_json_arena_t *a)
{
    return a != NULL ? a->used : 0;
}

/*
 * Arenas for a request's values. The gateway's request path parses a body into arena values of
 * its own (json/jv.h, issue 17's switch) and enters no arena for jansson any more; what follows
 * about jansson's values holds for the callers that still enter one (the fuzz targets, the
 * jansson stage functions kept beside their jv twins).
 *
 * Arenas for the jansson values a request's body is parsed into. jansson allocates every value,
 * key and string on its own (about 140 allocations for a 650-byte event) and frees each again
 * when the event is released: malloc and free were a fifth of the gateway's per-event
 * instructions (docs/performance.md). While a thread has entered an arena, jansson's
 * allocations come from it by bumping a pointer; jansson's frees of arena memory do nothing, and
 * the whole arena goes back at once when the request is done.
 *
 * The contract: every value allocated in an arena must be dead (decref'd) before
 * sluice_json_arena_free, and no value outlives the request that parsed it. Values allocated
 * outside an arena (identity's answers and what it writes from them, config, tools) are
 * jansson's ordinary malloc'd ones and may be linked into an arena's values and back: frees tell
 * the two apart by address (one reserved region holds every arena).
 *
 * So a tree of arena values is NOT all arena memory, and releasing it must still walk it
 * (json_decref): identity's Redis callbacks write malloc'd values, pairs and tables into events
 * (vendorIds, context.identity, userId shared with the lookup's answer, adopted anonymousIds,
 * restored clickIds), and a string or table over a quarter of a chunk comes from malloc even
 * inside an arena. Skipping the walk would leak those per event (docs/performance.md, "Skipping
 * json_decref of the event": 2.8k instructions per event, not taken).
 *
 * sluice_json_arena_install sets jansson's allocation functions for the whole process; call it
 * once at start, before threads. Arenas are per thread (entered on the thread that uses them);
 * chunks are recycled through a per-thread list. Under AddressSanitizer released chunks are
 * poisoned, so a value used after its request is caught in the asan tests.
 */
#ifndef SLUICE_JSON_ARENA_H
#define SLUICE_JSON_ARENA_H

#include <stddef.h>

typedef struct sluice_json_arena sluice_json_arena_t;

/* Reserves the arenas' address range and routes jansson's allocations through them. 0, or -1
 * when the range cannot be reserved (arenas are then off: sluice_json_arena_new gives NULL and
 * everything is malloc'd as before). */
int sluice_json_arena_install(void);

/* A new, empty arena; NULL when arenas are off or memory runs out. A jansson caller goes on
 * without one; the gateway's request path cannot (its values live only in arenas): it answers
 * 500, and sluice-gateway refuses to start when the range cannot be reserved. */
sluice_json_arena_t *sluice_json_arena_new(void);

/* jansson's allocations on this thread go to a (NULL: to malloc) until sluice_json_arena_leave. */
void sluice_json_arena_enter(sluice_json_arena_t *a);
void sluice_json_arena_leave(void);

/* One more owner of a (a may be NULL); returns a. An arena starts with one. */
sluice_json_arena_t *sluice_json_arena_hold(sluice_json_arena_t *a);

/* Drops one owner (a may be NULL); the last gives a's memory back, when every value allocated
 * in it must be dead. */
void sluice_json_arena_free(sluice_json_arena_t *a);

/* n bytes of a, 16-byte aligned, for callers that build their own values in it (json/jv.h);
 * they go back with the arena's last owner and are never freed on their own. Blocks over a
 * quarter of a chunk are malloc'd and linked to the arena. NULL when memory runs out. */
void *sluice_json_arena_alloc(sluice_json_arena_t *a, size_t n);

/* Bytes handed out by a so far (for tests and metrics). */
size_t sluice_json_arena_used(const sluice_json_arena_t *a);

#endif

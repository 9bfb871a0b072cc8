/*
 * Token buckets per source and per client address (limiter.h). Source slots are created on the
 * main thread before a runtime is published and then only read; each bucket has one writer. A
 * slot is released by whichever thread frees the last runtime naming it, so taking and releasing
 * go under a mutex (never on a request's path).
 * The client table is an open-addressing hash with a short probe window: a new client takes a
 * free or refilled slot in the window, else the window's longest-idle bucket (whose client, if
 * it comes back, starts full again: the table trades exactness for a fixed size).
 */
#include "gateway/limiter.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"

#define PROBE_WINDOW 8

typedef struct bucket {
    double tokens; /* < 0: not used yet (full on first use) */
    uint64_t last_ms;
    char pad[48]; /* one cache line each: threads never share one */
} bucket_t;

typedef struct slot {
    char *name;        /* "org/source"; NULL: free for another source (its buckets kept for it) */
    bucket_t *buckets; /* [nthreads] */
    unsigned refs;     /* runtimes naming it */
    unsigned gen;      /* times it was taken by a source: part of the handle sluice_limiter_slot gives */
} slot_t;

struct sluice_limiter {
    unsigned nthreads;
    pthread_mutex_t lock; /* slots' names and refs: taken by the main thread, released by any */
    /* Slots [0, count) are set. A reload that names a new source appends one on the main thread
     * while workers read count for their bounds check (a plain size_t was a data race,
     * ThreadSanitizer's first report under reloads): published with release once its slot is
     * filled in, read with acquire. */
    atomic_size_t count;
    /* The named slots by name (slot index + 1; 0: empty), linear probing, and the slots freed for
     * another source: with a scan of every slot per source, building the runtime of 20,000
     * sources compared names 200 million times. Under the lock, like the names. */
    uint32_t names[2 * SLUICE_LIMITER_MAX_SLOTS];
    uint32_t freed[SLUICE_LIMITER_MAX_SLOTS];
    size_t freed_count;
    slot_t slots[SLUICE_LIMITER_MAX_SLOTS];
};

#define NAMES_MASK (2 * SLUICE_LIMITER_MAX_SLOTS - 1)

/* FNV-1a of "org/source", fed in parts so a lookup needs no joined copy. */
static uint64_t name_hash_part(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t name_home(const char *org, size_t ol, const char *source, size_t sl)
{
    uint64_t h = name_hash_part(1469598103934665603ULL, org, ol);
    h = name_hash_part(h, "/", 1);
    return (size_t)name_hash_part(h, source, sl) & NAMES_MASK;
}

static size_t full_name_home(const char *name)
{
    return (size_t)name_hash_part(1469598103934665603ULL, name, strlen(name)) & NAMES_MASK;
}

/* Takes slot i (its name set) out of the names, shifting back what probed past it so that every
 * name stays reachable from its home without tombstones. */
static void names_remove(sluice_limiter_t *l, size_t i)
{
    size_t at = full_name_home(l->slots[i].name);
    while (l->names[at] != i + 1)
        at = (at + 1) & NAMES_MASK;
    for (size_t j = at;;) {
        j = (j + 1) & NAMES_MASK;
        if (l->names[j] == 0)
            break;
        size_t home = full_name_home(l->slots[l->names[j] - 1].name);
        /* Moved into the hole only when the hole lies on j's probe path (home .. j, cyclic). */
        if ((j > at && (home <= at || home > j)) || (j < at && home <= at && home > j)) {
            l->names[at] = l->names[j];
            at = j;
        }
    }
    l->names[at] = 0;
}

/* A handle is the slot's index and how many times it was taken (modulo SLUICE_LIMITER_GENS), so
 * that a slot taken again by another source is another key in the clients' tables: those are
 * keyed by the handle and kept per worker thread, where the main thread cannot clear them. With
 * the bare index, a source named by a later reload inherited the clients' drained buckets of the
 * source removed before it (a caller throttled there was refused at once by the new source). */
#define SLUICE_LIMITER_GENS (INT_MAX / SLUICE_LIMITER_MAX_SLOTS)

static int handle(size_t index, unsigned gen)
{
    return (int)((gen % SLUICE_LIMITER_GENS) * SLUICE_LIMITER_MAX_SLOTS + index);
}

static size_t slot_index(int slot)
{
    return (size_t)slot % SLUICE_LIMITER_MAX_SLOTS;
}

/* Refills b for the time since its last use and takes one token when it can. */
static int take(bucket_t *b, double rate, double burst, uint64_t now_ms)
{
    if (b->tokens < 0) {
        b->tokens = burst;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

sluice_limiter_t *sluice_limiter_create(unsigned nthreads)
{
    sluice_limiter_t *l = calloc(1, sizeof(*l));
    if (l != NULL) {
        l->nthreads = nthreads ? nthreads : 1;
        pthread_mutex_init(&l->lock, NULL);
    }
    return l;
}

void sluice_limiter_destroy(sluice_limiter_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < atomic_load(&l->count); i++) {
        free(l->slots[i].name);
        free(l->slots[i].buckets);
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int sluice_limiter_slot(sluice_limiter_t *l, const char *org, const char *source)
{
    size_t ol = strlen(org), sl = strlen(source);
    pthread_mutex_lock(&l->lock);
    size_t count = atomic_load_explicit(&l->count, memory_order_relaxed);
    size_t at = name_home(org, ol, source, sl);
    for (; l->names[at] != 0; at = (at + 1) & NAMES_MASK) {
        slot_t *s = &l->slots[l->names[at] - 1];
        const char *n = s->name;
        if (strncmp(n, org, ol) == 0 && n[ol] == '/' && strcmp(n + ol + 1, source) == 0) {
            s->refs++;
            int h = handle(l->names[at] - 1, s->gen);
            pthread_mutex_unlock(&l->lock);
            return h;
        }
    }
    /* A slot no runtime names any more is taken again: an operator who renames sources on every
     * deploy used to run out of slots after 4096 names, and then every reload was refused. */
    size_t free_slot = l->freed_count > 0 ? l->freed[l->freed_count - 1] : count;
    if (free_slot == SLUICE_LIMITER_MAX_SLOTS) {
        pthread_mutex_unlock(&l->lock);
        return -1;
    }
    slot_t *s = &l->slots[free_slot];
    int reused = s->buckets != NULL;
    s->name = malloc(ol + sl + 2);
    if (!reused)
        s->buckets = calloc(l->nthreads, sizeof(bucket_t));
    if (s->name == NULL || s->buckets == NULL) {
        free(s->name);
        s->name = NULL;
        if (!reused) {
            free(s->buckets);
            s->buckets = NULL;
        }
        pthread_mutex_unlock(&l->lock);
        return -1;
    }
    memcpy(s->name, org, ol);
    s->name[ol] = '/';
    memcpy(s->name + ol + 1, source, sl + 1);
    s->refs = 1;
    if (reused)
        s->gen++;
    for (unsigned t = 0; t < l->nthreads; t++)
        s->buckets[t].tokens = -1; /* a new source starts full, as it would after a restart */
    l->names[at] = (uint32_t)free_slot + 1;
    if (free_slot == count)
        atomic_store_explicit(&l->count, count + 1, memory_order_release);
    else
        l->freed_count--;
    int h = handle(free_slot, s->gen);
    pthread_mutex_unlock(&l->lock);
    return h;
}

void sluice_limiter_release(sluice_limiter_t *l, int slot)
{
    if (l == NULL || slot < 0)
        return;
    pthread_mutex_lock(&l->lock);
    slot_t *s = &l->slots[slot_index(slot)];
    if (slot_index(slot) < atomic_load_explicit(&l->count, memory_order_relaxed) &&
        handle(slot_index(slot), s->gen) == slot && s->refs > 0 && --s->refs == 0) {
        names_remove(l, slot_index(slot));
        free(s->name);
        s->name = NULL;
        l->freed[l->freed_count++] = (uint32_t)slot_index(slot);
    }
    pthread_mutex_unlock(&l->lock);
}

int sluice_limiter_allow(sluice_limiter_t *l, int slot, unsigned thread, const sluice_rate_limit_t *rl, uint64_t now_ms)
{
    if (rl->per_second <= 0 || slot < 0 || slot_index(slot) >= atomic_load_explicit(&l->count, memory_order_acquire) ||
        thread >= l->nthreads)
        return 1;
    double burst = rl->burst / l->nthreads;
    return take(&l->slots[slot_index(slot)].buckets[thread], rl->per_second / l->nthreads, burst < 1 ? 1 : burst,
                now_ms);
}

/* ------------------------------------------------------------------ per-client table */

typedef struct entry {
    uint64_t hash; /* 0: free */
    uint32_t slot;
    uint8_t addr[16];
    bucket_t b; /* tokens and last use; the padding is wasted here, but keeps one bucket type */
} entry_t;

struct sluice_client_limits {
    size_t mask, count;
    uint64_t seed; /* random per table: clients cannot aim at one probe window */
    entry_t *entries;
};

sluice_client_limits_t *sluice_client_limits_create(size_t capacity)
{
    size_t n = 16;
    while (n < capacity)
        n <<= 1;
    sluice_client_limits_t *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->entries = calloc(n, sizeof(entry_t))) == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    if (sluice_random_bytes(&t->seed, sizeof(t->seed)) != 0)
        t->seed = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ULL;
    return t;
}

void sluice_client_limits_destroy(sluice_client_limits_t *t)
{
    if (t == NULL)
        return;
    free(t->entries);
    free(t);
}

size_t sluice_client_limits_count(const sluice_client_limits_t *t)
{
    return t->count;
}

/* The address as 16 bytes: IPv4 mapped into IPv6, IPv6 cut to its /64. */
static int addr_key(const char *ip, uint8_t out[16])
{
    struct in_addr v4;
    memset(out, 0, 16);
    if (inet_pton(AF_INET, ip, &v4) == 1) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return 0;
    }
    struct in6_addr v6;
    if (inet_pton(AF_INET6, ip, &v6) != 1)
        return -1;
    memcpy(out, &v6, 8);
    return 0;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t key_hash(uint64_t seed, int slot, const uint8_t addr[16])
{
    uint64_t a, b;
    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    uint64_t h = mix(seed ^ (uint64_t)(uint32_t)slot);
    h = mix(h ^ a);
    h = mix(h ^ b);
    return h ? h : 1;
}

/* A bucket whose refill since its last use brings it back to full says nothing a new one
 * would not. */
static int refilled(const entry_t *e, const sluice_rate_limit_t *rl, uint64_t now_ms)
{
    return e->b.tokens + (double)(now_ms - e->b.last_ms) * rl->per_second / 1000.0 >= rl->burst;
}

int sluice_client_limits_allow(sluice_client_limits_t *t, int slot, const char *ip, const sluice_rate_limit_t *rl,
                               uint64_t now_ms)
{
    uint8_t addr[16];
    if (rl->per_second <= 0 || ip == NULL || addr_key(ip, addr) != 0)
        return 1;
    uint64_t h = key_hash(t->seed, slot, addr);
    entry_t *victim = NULL;
    for (size_t i = 0; i < PROBE_WINDOW; i++) {
        entry_t *e = &t->entries[(h + i) & t->mask];
        if (e->hash == h && e->slot == (uint32_t)slot && memcmp(e->addr, addr, 16) == 0)
            return take(&e->b, rl->per_second, rl->burst < 1 ? 1 : rl->burst, now_ms);
        if (e->hash == 0) {
            if (victim == NULL || victim->hash != 0)
                victim = e;
        } else if (victim == NULL || (victim->hash != 0 && e->b.last_ms < victim->b.last_ms)) {
            victim = e;
        }
    }
    /* Prefer a free entry, then one that has refilled, then the longest idle in the window. */
    if (victim->hash != 0) {
        for (size_t i = 0; i < PROBE_WINDOW; i++) {
            entry_t *e = &t->entries[(h + i) & t->mask];
            if (refilled(e, rl, now_ms)) {
                victim = e;
                break;
            }
        }
    } else {
        t->count++;
    }
    victim->hash = h;
    victim->slot = (uint32_t)slot;
    memcpy(victim->addr, addr, 16);
    victim->b.tokens = -1;
    return take(&victim->b, rl->per_second, rl->burst < 1 ? 1 : rl->burst, now_ms);
}

/*
 * OpenSSL's memory (crypto/tls_mem.h): blocks of a handshake buffer's size from fixed slots of
 * one reserved region, whose pages are given back (MADV_DONTNEED) when the block is freed; all
 * other blocks from malloc. Any thread: the slots' state is under a mutex (a handshake takes it
 * twice, a request not at all).
 */
#include "crypto/tls_mem.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/asan.h"

#define SLOT        SLUICE_TLS_MEM_SLOT
#define SLOTS       16384u                 /* handshakes held at once before blocks fall back to malloc */
#define REGION_SIZE ((size_t)SLOTS * SLOT) /* 384 MB of address space only: pages are committed as touched */

static char *region;
static atomic_size_t in_use; /* bytes of the slots held now */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Under lock: */
static uint32_t carved;            /* slots handed out so far, free or not (never past SLOTS) */
static uint32_t free_slots[SLOTS]; /* a stack of freed slots' numbers: a link inside a slot would
                                    * bring one of its pages back */
static uint32_t nfree;
static uint64_t held[SLOTS / 64]; /* a bit per slot handed out and not yet freed */
/* The size asked for, per held slot (its holder's only): what realloc copies out of it, and
 * where ASan's poison starts. */
static uint32_t slot_len[SLOTS];

static int in_region(const void *p)
{
    return region != NULL && (uintptr_t)p - (uintptr_t)region < REGION_SIZE;
}

/* A free, or a realloc, of something that is not a held slot's start: OpenSSL freed a block twice
 * or passed a pointer inside one. glibc aborts on the same mistakes; so do we, rather than list a
 * slot twice and hand one block to two connections. */
static void misuse(const char *what)
{
    fprintf(stderr, "sluice: OpenSSL's memory: %s\n", what);
    abort();
}

/* The slot number of p, a held slot's start (else misuse). Under lock. */
static uint32_t held_slot(const char *p)
{
    size_t off = (size_t)(p - region);
    uint32_t i = (uint32_t)(off / SLOT);
    if (off % SLOT != 0 || !(held[i / 64] >> (i % 64) & 1))
        misuse(off % SLOT != 0 ? "a pointer inside a block" : "a block freed twice");
    return i;
}

/* Marks [p, p + n) usable and the rest of the slot not (ASan only). */
static void slot_fit(char *p, size_t n)
{
    SLUICE_ASAN_UNPOISON(p, n);
    SLUICE_ASAN_POISON(p + n, SLOT - n);
}

/* NULL when every slot is held: the caller mallocs. */
static void *slot_get(size_t n)
{
    char *p = NULL;
    uint32_t i = 0;
    pthread_mutex_lock(&lock);
    if (nfree > 0) {
        i = free_slots[--nfree];
        p = region + (size_t)i * SLOT;
    } else if (carved < SLOTS) {
        i = carved++;
        p = region + (size_t)i * SLOT;
    }
    if (p != NULL)
        held[i / 64] |= (uint64_t)1 << (i % 64);
    pthread_mutex_unlock(&lock);
    if (p == NULL)
        return NULL;
    slot_len[i] = (uint32_t)n;
    slot_fit(p, n);
    atomic_fetch_add_explicit(&in_use, SLOT, memory_order_relaxed);
    return p;
}

static void slot_put(char *p)
{
    pthread_mutex_lock(&lock);
    uint32_t i = held_slot(p);
    held[i / 64] &= ~((uint64_t)1 << (i % 64));
    pthread_mutex_unlock(&lock);
    /* Before it is listed: another thread may take it as soon as it is. The next use reads zero
     * pages, which a malloc'd block may hold as well. */
    madvise(p, SLOT, MADV_DONTNEED);
    SLUICE_ASAN_POISON(p, SLOT);
    atomic_fetch_sub_explicit(&in_use, SLOT, memory_order_relaxed);
    pthread_mutex_lock(&lock);
    free_slots[nfree++] = i;
    pthread_mutex_unlock(&lock);
}

static void *tls_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (n >= SLUICE_TLS_MEM_MIN && n <= SLOT) {
        void *p = slot_get(n);
        if (p != NULL)
            return p;
    }
    return malloc(n);
}

static void tls_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (in_region(p))
        slot_put(p);
    else
        free(p);
}

/* OpenSSL calls this for every size, 0 included (it frees then, as its own realloc does). */
static void *tls_realloc(void *p, size_t n, const char *file, int line)
{
    if (p == NULL)
        return tls_malloc(n, file, line);
    if (n == 0) {
        tls_free(p, file, line);
        return NULL;
    }
    if (!in_region(p))
        return realloc(p, n);
    pthread_mutex_lock(&lock);
    uint32_t i = held_slot(p);
    pthread_mutex_unlock(&lock);
    if (n <= SLOT) {
        slot_len[i] = (uint32_t)n;
        slot_fit(p, n);
        return p;
    }
    void *q = malloc(n);
    if (q == NULL)
        return NULL; /* p stays the caller's, as with realloc */
    memcpy(q, p, slot_len[i]);
    slot_put(p);
    return q;
}

int sluice_tls_mem_install(void)
{
    if (region != NULL)
        return 0;
    /* madvise works on whole pages: with 16 or 64 KB pages (arm64 kernels) a 24 KB slot's
     * DONTNEED would fail, or zero part of the next slot, a live handshake's. Such hosts keep
     * malloc. */
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || SLOT % (size_t)page != 0)
        return -1;
    void *r = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -1;
    /* Where transparent huge pages are "always", khugepaged would fold the given-back pages into
     * 2 MB pages again (up to the whole region resident); a kernel without THP refuses the
     * advice, which changes nothing there. */
    (void)madvise(r, REGION_SIZE, MADV_NOHUGEPAGE);
    region = r; /* not poisoned: nothing points into a slot before slot_get hands it out */
    if (CRYPTO_set_mem_functions(tls_malloc, tls_realloc, tls_free) != 1) {
        munmap(r, REGION_SIZE);
        region = NULL;
        return -1;
    }
    return 0;
}

size_t sluice_tls_mem_in_use(void)
{
    return atomic_load_explicit(&in_use, memory_order_relaxed);
}

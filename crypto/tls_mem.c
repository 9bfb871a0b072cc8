/*
 * OpenSSL's memory (crypto/tls_mem.h): blocks of a handshake buffer's size from fixed slots of
 * one reserved region, whose pages are given back (MADV_DONTNEED) when the block is freed; all
 * other blocks from malloc. Any thread: the free slots are a stack under a mutex (a handshake
 * takes it twice, a request not at all).
 */
#include "crypto/tls_mem.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/asan.h"

#define SLOT        SLUICE_TLS_MEM_SLOT
#define SLOTS       16384u                 /* handshakes held at once before blocks fall back to malloc */
#define REGION_SIZE ((size_t)SLOTS * SLOT) /* 384 MB of address space only: pages are committed as touched */

static char *region;
static atomic_uint carved;   /* slots handed out so far, free or not */
static atomic_size_t in_use; /* bytes of the slots held now */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_slots[SLOTS]; /* a stack of freed slots' numbers: a link inside a slot would
                                    * bring one of its pages back */
static uint32_t nfree;

static int in_region(const void *p)
{
    return region != NULL && (uintptr_t)p - (uintptr_t)region < REGION_SIZE;
}

/* NULL when every slot is held: the caller mallocs. */
static void *slot_get(void)
{
    char *p = NULL;
    pthread_mutex_lock(&lock);
    if (nfree > 0)
        p = region + (size_t)free_slots[--nfree] * SLOT;
    pthread_mutex_unlock(&lock);
    if (p == NULL) {
        unsigned n = atomic_fetch_add_explicit(&carved, 1, memory_order_relaxed);
        if (n >= SLOTS)
            return NULL;
        p = region + (size_t)n * SLOT;
    }
    SLUICE_ASAN_UNPOISON(p, SLOT);
    atomic_fetch_add_explicit(&in_use, SLOT, memory_order_relaxed);
    return p;
}

static void slot_put(char *p)
{
    /* Before it is listed: another thread may take it as soon as it is. The next use reads zero
     * pages, which a malloc'd block may hold as well. */
    madvise(p, SLOT, MADV_DONTNEED);
    SLUICE_ASAN_POISON(p, SLOT);
    atomic_fetch_sub_explicit(&in_use, SLOT, memory_order_relaxed);
    pthread_mutex_lock(&lock);
    free_slots[nfree++] = (uint32_t)((size_t)(p - region) / SLOT);
    pthread_mutex_unlock(&lock);
}

static void *tls_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (n >= SLUICE_TLS_MEM_MIN && n <= SLOT) {
        void *p = slot_get();
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
    if (n <= SLOT)
        return p;
    void *q = malloc(n);
    if (q == NULL)
        return NULL; /* p stays the caller's, as with realloc */
    memcpy(q, p, SLOT);
    slot_put(p);
    return q;
}

int sluice_tls_mem_install(void)
{
    if (region != NULL)
        return 0;
    void *r = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -1;
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

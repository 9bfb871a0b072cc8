/*
 * OpenSSL's memory: its handshake buffers from a reserved region whose pages go back to the
 * kernel as soon as a handshake frees them, everything else from malloc as before.
 *
 * Why: every TLS handshake holds a 21,848-byte buffer (OpenSSL's BUF_MEM_grow of 16 KB for the
 * handshake messages) until it finishes. When a thousand clients connect at once (bench/run's
 * case f, a site's morning), a thousand of them are held together in the workers' glibc heaps;
 * once freed they stay resident as holes between the connections' live allocations, which glibc
 * cannot give back while the connections last (docs/performance.md, 2026-12-07, adv-rss3).
 *
 * Threading: sluice_tls_mem_install on the main thread before anything calls OpenSSL; the
 * functions it installs run on any thread.
 */
#ifndef SLUICE_CRYPTO_TLS_MEM_H
#define SLUICE_CRYPTO_TLS_MEM_H

#include <stddef.h>

/* OpenSSL's blocks of SLUICE_TLS_MEM_MIN to SLUICE_TLS_MEM_SLOT bytes take a slot of the region.
 * The TLS record buffers (16,584 and 16,712 bytes, taken and given back on every read and
 * write) stay below it: a slot costs a madvise when freed and page faults when used again. */
#define SLUICE_TLS_MEM_MIN  ((size_t)20 * 1024)
#define SLUICE_TLS_MEM_SLOT ((size_t)24 * 1024)

/* Reserves the region (address space only) and hands OpenSSL the functions. 0, or -1 when the
 * page size does not divide a slot (16 and 64 KB pages), the region cannot be reserved or OpenSSL
 * has allocated already: OpenSSL then keeps malloc, which works, with a higher peak of memory.
 * Once per process. A block OpenSSL frees twice, or a pointer inside a slot, aborts (as glibc's
 * free does on the same mistakes). */
int sluice_tls_mem_install(void);

/* The bytes of the region's slots in use now (a test's and a probe's view). */
size_t sluice_tls_mem_in_use(void);

#endif

/*
 * Poisoning memory kept for reuse under AddressSanitizer: a region handed back to a free list
 * (json/arena.c's chunks, gateway/ingest.c's request records) is poisoned, so a use of it before
 * it is handed out again is reported as a use after free would be. Nothing in other builds.
 */
#ifndef SLUICE_COMMON_ASAN_H
#define SLUICE_COMMON_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_ASAN 1
#endif
#endif

#ifdef SLUICE_ASAN
#include <sanitizer/asan_interface.h>
#define SLUICE_ASAN_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define SLUICE_ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLUICE_ASAN_POISON(p, n)   ((void)(p), (void)(n))
#define SLUICE_ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif

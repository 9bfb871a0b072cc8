/* The Nth allocation failing, for unit tests linked with -Wl,--wrap=<allocator>
 * (tests/unit/vendors/oom.c, tests/unit/identity/oom.c): a test's __wrap_ functions return NULL
 * when alloc_fails() says so. Header-only: each test binary has a count of its own. Test thread. */
#ifndef SLUICE_TESTS_STUBS_ALLOC_FAIL_H
#define SLUICE_TESTS_STUBS_ALLOC_FAIL_H

/* Allocations left before the one that fails; -1: none fails. */
static long alloc_left = -1;
static int alloc_failed; /* 1 once an allocation failed (the test clears it) */

static int alloc_fails(void)
{
    if (alloc_left < 0)
        return 0;
    if (alloc_left-- == 0) {
        alloc_failed = 1;
        return 1;
    }
    return 0;
}

#endif

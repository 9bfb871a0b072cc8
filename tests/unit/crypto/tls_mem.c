/* Tests for crypto/tls_mem.c: OpenSSL's handshake-sized blocks give their pages back when freed,
 * its other blocks are malloc's as before, a block keeps its bytes through realloc, a block freed
 * twice or inside aborts, and under ASan a write past the size asked for is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "common/asan.h"
#include "crypto/tls_mem.h"

#define HANDSHAKE_BUF 21848 /* what OpenSSL's BUF_MEM_grow(16384) asks for */

/* How many of the pages wholly inside [p, p + n) are resident. */
static size_t resident_pages(const void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
    if (end <= first)
        return 0;
    unsigned char vec[64];
    size_t pages = (end - first) / page;
    assert_true(pages <= sizeof(vec));
    assert_int_equal(mincore((void *)first, end - first, vec), 0);
    size_t in = 0;
    for (size_t i = 0; i < pages; i++)
        in += vec[i] & 1;
    return in;
}

static int setup(void **state)
{
    (void)state;
    return sluice_tls_mem_install();
}

static void test_handshake_buffer_given_back(void **state)
{
    (void)state;
    unsigned char *b = OPENSSL_malloc(HANDSHAKE_BUF);
    assert_non_null(b);
    memset(b, 0x5a, HANDSHAKE_BUF);
    assert_true(resident_pages(b, HANDSHAKE_BUF) >= 4);
    OPENSSL_free(b);
    /* With malloc's block (no slots, or no madvise in slot_put) the pages stay resident. */
    assert_int_equal(resident_pages(b, HANDSHAKE_BUF), 0);
    assert_int_equal(sluice_tls_mem_in_use(), 0);
    /* Taken again, the slot reads as fresh memory and is writable. */
    unsigned char *c = OPENSSL_zalloc(HANDSHAKE_BUF);
    assert_non_null(c);
    for (size_t i = 0; i < HANDSHAKE_BUF; i++)
        assert_int_equal(c[i], 0);
    memset(c, 1, HANDSHAKE_BUF);
    OPENSSL_free(c);
}

static void test_record_buffers_stay_in_malloc(void **state)
{
    (void)state;
    /* A record buffer taken and given back on every read and write: a slot would cost it a
     * madvise and page faults each time. */
    unsigned char *r = OPENSSL_malloc(16712), *small = OPENSSL_malloc(100);
    assert_non_null(r);
    assert_non_null(small);
    assert_int_equal(sluice_tls_mem_in_use(), 0);
    memset(r, 7, 16712);
    OPENSSL_free(r);
    OPENSSL_free(small);
    /* OpenSSL's 0-byte realloc frees, also through these functions. */
    void *z = OPENSSL_malloc(HANDSHAKE_BUF);
    assert_int_equal(sluice_tls_mem_in_use(), SLUICE_TLS_MEM_SLOT);
    assert_null(OPENSSL_realloc(z, 0));
    assert_int_equal(sluice_tls_mem_in_use(), 0);
}

static void test_realloc_keeps_bytes(void **state)
{
    (void)state;
    /* BUF_MEM_grow's path: from nothing to a handshake buffer, then past a slot (a long chain). */
    unsigned char *b = OPENSSL_realloc(NULL, HANDSHAKE_BUF);
    assert_non_null(b);
    assert_int_equal(sluice_tls_mem_in_use(), SLUICE_TLS_MEM_SLOT);
    for (size_t i = 0; i < HANDSHAKE_BUF; i++)
        b[i] = (unsigned char)(i * 31);
    assert_ptr_equal(OPENSSL_realloc(b, HANDSHAKE_BUF + 100), b); /* still within its slot */
    unsigned char *g = OPENSSL_realloc(b, 3 * HANDSHAKE_BUF);
    assert_non_null(g);
    assert_int_equal(sluice_tls_mem_in_use(), 0);
    for (size_t i = 0; i < HANDSHAKE_BUF; i++)
        assert_int_equal(g[i], (unsigned char)(i * 31));
    OPENSSL_free(g);
    /* Many held at once, each its own memory. */
    unsigned char *held[64];
    for (int i = 0; i < 64; i++) {
        held[i] = OPENSSL_malloc(SLUICE_TLS_MEM_MIN);
        assert_non_null(held[i]);
        memset(held[i], i, SLUICE_TLS_MEM_MIN);
    }
    assert_int_equal(sluice_tls_mem_in_use(), 64 * SLUICE_TLS_MEM_SLOT);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(held[i][0], i);
        assert_int_equal(held[i][SLUICE_TLS_MEM_MIN - 1], i);
        OPENSSL_free(held[i]);
    }
    assert_int_equal(sluice_tls_mem_in_use(), 0);
}

/* Runs fn in a child; its wait status. */
static int child_status(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* 1 when misuse, run in a child, ends it with SIGABRT. */
static int aborts(void (*misuse)(void))
{
    int status = child_status(misuse);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void free_twice(void)
{
    void *p = OPENSSL_malloc(HANDSHAKE_BUF);
    OPENSSL_free(p);
    OPENSSL_free(p);
    /* Unnoticed, the slot would be listed twice and handed to two holders at once: */
    void *a = OPENSSL_malloc(HANDSHAKE_BUF), *b = OPENSSL_malloc(HANDSHAKE_BUF);
    (void)a;
    (void)b;
}

static void free_inside(void)
{
    char *p = OPENSSL_malloc(HANDSHAKE_BUF);
    OPENSSL_free(p + 1000);
}

static void realloc_freed(void)
{
    void *p = OPENSSL_malloc(HANDSHAKE_BUF);
    OPENSSL_free(p);
    (void)OPENSSL_realloc(p, HANDSHAKE_BUF + 8);
}

static void test_misuse_aborts(void **state)
{
    (void)state;
    /* glibc's free aborts on these; a slot must too, rather than give one block to two
     * connections (rev-s48b). */
    assert_true(aborts(free_twice));
    assert_true(aborts(free_inside));
    assert_true(aborts(realloc_freed));
    /* The parent's slots are untouched by the children's. */
    assert_int_equal(sluice_tls_mem_in_use(), 0);
}

#ifdef SLUICE_ASAN
static void write_past_the_block(void)
{
    volatile char *p = OPENSSL_malloc(HANDSHAKE_BUF);
    p[HANDSHAKE_BUF] = 1; /* inside the slot, past what was asked for */
}

static void test_asan_sees_past_the_block(void **state)
{
    (void)state;
    /* ASan's report ends the child (its exit code, or an abort): a slot unpoisoned whole let the
     * write through. */
    int status = child_status(write_past_the_block);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_buffer_given_back), cmocka_unit_test(test_record_buffers_stay_in_malloc),
        cmocka_unit_test(test_realloc_keeps_bytes),         cmocka_unit_test(test_misuse_aborts),
#ifdef SLUICE_ASAN
        cmocka_unit_test(test_asan_sees_past_the_block),
#endif
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for crypto/random.c: random bytes, UUIDv4 format and uniqueness (also across a fork), 64-bit
 * values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/random.h"

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void check_uuid(const char *u)
{
    assert_int_equal(strlen(u), 36);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(is_lower_hex(u[i]));
    }
    assert_int_equal(u[14], '4');           /* version 4 */
    assert_non_null(strchr("89ab", u[19])); /* variant 10xx */
}

static void test_uuid_v4_format(void **state)
{
    (void)state;
    char u[37];
    assert_int_equal(sluice_uuid_v4(u), 0);
    check_uuid(u);
}

static int cmp_uuid(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

static void test_uuid_v4_unique(void **state)
{
    (void)state;
    enum { N = 1000 };
    char(*ids)[37] = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(sluice_uuid_v4(ids[i]), 0);
        check_uuid(ids[i]);
    }
    qsort(ids, N, sizeof(*ids), cmp_uuid);
    for (size_t i = 1; i < N; i++)
        assert_int_not_equal(memcmp(ids[i - 1], ids[i], 37), 0);
    free(ids);
}

/* A child of a process that has identifiers pooled mints none of the parent's next ones. */
static void test_uuid_v4_after_fork(void **state)
{
    (void)state;
    char first[37], parent[8][37], child[8][37];
    assert_int_equal(sluice_uuid_v4(first), 0); /* the pool is filled now */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = 1;
        for (int i = 0; i < 8; i++)
            ok &= sluice_uuid_v4(child[i]) == 0;
        ok &= write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    for (int i = 0; i < 8; i++)
        assert_int_equal(sluice_uuid_v4(parent[i]), 0);
    size_t got = 0;
    while (got < sizeof(child)) {
        ssize_t n = read(fds[0], (char *)child + got, sizeof(child) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 8; i++) {
        check_uuid(child[i]);
        for (int k = 0; k < 8; k++)
            assert_string_not_equal(child[i], parent[k]);
    }
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(sluice_random_bytes(a, sizeof(a)), 0);
    assert_int_equal(sluice_random_bytes(b, sizeof(b)), 0);
    /* Each fails with probability 2^-256. */
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(sluice_random_bytes(NULL, 0), 0);
    /* Every byte value shows up across 64 KB (each misses with probability ~e^-256). */
    enum { BIG = 65536 };
    uint8_t *buf = malloc(BIG);
    assert_non_null(buf);
    assert_int_equal(sluice_random_bytes(buf, BIG), 0);
    int seen[256] = {0};
    for (size_t i = 0; i < BIG; i++)
        seen[buf[i]] = 1;
    for (int v = 0; v < 256; v++)
        assert_true(seen[v]);
    free(buf);
}

static void test_random_uint64(void **state)
{
    (void)state;
    uint64_t all_or = 0, all_and = UINT64_MAX, first = 0;
    int differs = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t v;
        assert_int_equal(sluice_random_uint64(&v), 0);
        if (i == 0)
            first = v;
        else if (v != first)
            differs = 1;
        all_or |= v;
        all_and &= v;
    }
    assert_true(differs);
    /* Over 64 draws every bit is set at least once and cleared at least once
     * (each check fails with probability 64 * 2^-64). */
    assert_true(all_or == UINT64_MAX);
    assert_true(all_and == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_v4_format),     cmocka_unit_test(test_uuid_v4_unique),
        cmocka_unit_test(test_uuid_v4_after_fork), cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_uint64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

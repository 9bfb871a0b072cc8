/* Tests for gateway/gzip.c: round trips, the decoded-size cap (zip bombs), corrupt input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "gateway/gzip.h"

/* gzip-compresses in into a malloc'd buffer. */
static unsigned char *gz(const void *in, size_t n, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void round_trip(void **state)
{
    (void)state;
    const char *json = "{\"event\":\"Order Completed\",\"properties\":{\"total\":19.99}}";
    size_t zl, ol;
    unsigned char *z = gz(json, strlen(json), &zl);
    char *out;
    assert_int_equal(sluice_gunzip(z, zl, 1024, &out, &ol), 0);
    assert_int_equal(ol, strlen(json));
    assert_memory_equal(out, json, ol);
    free(out);
    free(z);
}

static void exactly_at_cap_and_one_over(void **state)
{
    (void)state;
    char buf[5000];
    memset(buf, 'a', sizeof(buf));
    size_t zl, ol;
    unsigned char *z = gz(buf, sizeof(buf), &zl);
    char *out;
    assert_int_equal(sluice_gunzip(z, zl, sizeof(buf), &out, &ol), 0);
    assert_int_equal(ol, sizeof(buf));
    free(out);
    assert_int_equal(sluice_gunzip(z, zl, sizeof(buf) - 1, &out, &ol), SLUICE_GZIP_ETOOBIG);
    assert_null(out);
    free(z);
}

static void zip_bomb(void **state)
{
    (void)state;
    /* 64 MB of zeros compresses to ~64 KB; decoding must stop at the cap. */
    size_t n = 64u << 20, zl, ol;
    char *zeros = calloc(1, n);
    unsigned char *z = gz(zeros, n, &zl);
    free(zeros);
    assert_true(zl < 100000);
    char *out;
    assert_int_equal(sluice_gunzip(z, zl, 512 * 1024, &out, &ol), SLUICE_GZIP_ETOOBIG);
    assert_null(out);
    free(z);
}

static void corrupt_and_truncated(void **state)
{
    (void)state;
    const char *json = "{\"event\":\"x\"}";
    size_t zl, ol;
    unsigned char *z = gz(json, strlen(json), &zl);
    char *out;
    assert_int_equal(sluice_gunzip(json, strlen(json), 1024, &out, &ol), SLUICE_GZIP_ECORRUPT);
    assert_int_equal(sluice_gunzip(z, zl - 4, 1024, &out, &ol), SLUICE_GZIP_ECORRUPT);
    z[zl - 5] ^= 0xff; /* CRC */
    assert_int_equal(sluice_gunzip(z, zl, 1024, &out, &ol), SLUICE_GZIP_ECORRUPT);
    free(z);
}

static void concatenated_members_and_garbage(void **state)
{
    (void)state;
    size_t al, bl, ol;
    unsigned char *a = gz("{\"a\":", 5, &al), *b = gz("1}", 2, &bl);
    unsigned char *both = malloc(al + bl + 3);
    memcpy(both, a, al);
    memcpy(both + al, b, bl);
    char *out;
    assert_int_equal(sluice_gunzip(both, al + bl, 1024, &out, &ol), 0);
    assert_int_equal(ol, 7);
    assert_memory_equal(out, "{\"a\":1}", 7);
    free(out);
    memcpy(both + al + bl, "xyz", 3);
    assert_int_equal(sluice_gunzip(both, al + bl + 3, 1024, &out, &ol), SLUICE_GZIP_ECORRUPT);
    free(both);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(exactly_at_cap_and_one_over),
        cmocka_unit_test(zip_bomb),
        cmocka_unit_test(corrupt_and_truncated),
        cmocka_unit_test(concatenated_members_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for enrich/geo.c over the test database (tests/fixtures/geo/make_mmdb.py, MaxMind's own
 * test addresses): each granularity, IPv4 and IPv6, unknown and malformed addresses, a missing
 * and a corrupt file, and an open database whose file is then rewritten in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/utf8.h"
#include "enrich/geo.h"

static sluice_geo_t *db;

static int setup(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/geo/test-city.mmdb", getenv("SLUICE_BUILD_DIR"));
    sluice_err_t err;
    db = sluice_geo_open(path, &err);
    if (db == NULL)
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_geo_close(db);
    return 0;
}

static void test_granularity(void **state)
{
    (void)state;
    sluice_geo_result_t r;
    assert_int_equal(sluice_geo_lookup(db, "81.2.69.142", SLUICE_GEO_COUNTRY, &r), 1);
    assert_string_equal(r.country_code, "GB");
    assert_string_equal(r.country, "United Kingdom");
    assert_string_equal(r.region, "");
    assert_string_equal(r.city, "");
    assert_int_equal(sluice_geo_lookup(db, "81.2.69.142", SLUICE_GEO_REGION, &r), 1);
    assert_string_equal(r.region_code, "ENG");
    assert_string_equal(r.region, "England");
    assert_string_equal(r.city, "");
    assert_int_equal(sluice_geo_lookup(db, "81.2.69.142", SLUICE_GEO_CITY, &r), 1);
    assert_string_equal(r.city, "London");
    assert_int_equal(sluice_geo_lookup(db, "89.160.20.120", SLUICE_GEO_CITY, &r), 1);
    assert_string_equal(r.country_code, "SE");
    assert_string_equal(r.city, "Linköping");
    assert_int_equal(sluice_geo_lookup(db, "2a02:d300:1::5", SLUICE_GEO_CITY, &r), 1);
    assert_string_equal(r.country_code, "DE");
    assert_string_equal(r.city, "Berlin");
    /* An IPv4 address as a dual-stack socket reports it. */
    assert_int_equal(sluice_geo_lookup(db, "::ffff:216.160.83.58", SLUICE_GEO_CITY, &r), 1);
    assert_string_equal(r.city, "Milton");
    assert_string_equal(sluice_geo_type(db), "Sluice-Test-City");
}

/* Names longer than their field are cut at a character's start: half a character is no UTF-8,
 * and the gateway's JSON string of it was left out of context.location. */
static void test_long_names(void **state)
{
    (void)state;
    sluice_geo_result_t r;
    assert_int_equal(sluice_geo_lookup(db, "89.160.20.130", SLUICE_GEO_CITY, &r), 1);
    assert_true(strlen(r.region) >= 60);
    assert_true(strlen(r.city) >= 60);
    assert_true(sluice_utf8_valid(r.region, strlen(r.region)));
    assert_true(sluice_utf8_valid(r.city, strlen(r.city)));
    assert_int_equal(strncmp(r.city, "Östra Göinge församling", strlen("Östra Göinge församling")), 0);
}

static void test_unknown(void **state)
{
    (void)state;
    sluice_geo_result_t r;
    assert_int_equal(sluice_geo_lookup(db, "8.8.8.8", SLUICE_GEO_CITY, &r), 0);
    assert_string_equal(r.country_code, "");
    assert_int_equal(sluice_geo_lookup(db, "81.2.69.0", SLUICE_GEO_CITY, &r), 0); /* a truncated address */
    assert_int_equal(sluice_geo_lookup(db, "not-an-ip", SLUICE_GEO_CITY, &r), -1);
    assert_int_equal(sluice_geo_lookup(db, "", SLUICE_GEO_CITY, &r), -1);
}

static void test_open_errors(void **state)
{
    (void)state;
    sluice_err_t err;
    assert_null(sluice_geo_open("/nonexistent/city.mmdb", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/city.mmdb"));
    char path[] = "/tmp/sluice-geo-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("not a database", f);
    fclose(f);
    assert_null(sluice_geo_open(path, &err));
    assert_non_null(strstr(err.msg, path));
    remove(path);
}

/* geo_database naming a FIFO (a download piped into place) is refused at once: the open blocked
 * until a writer came, and the gateway's reload with it, on the thread that handles SIGTERM. The
 * alarm ends this test rather than hang it. */
static void test_open_fifo(void **state)
{
    (void)state;
    char dir[] = "/tmp/sluice-geo-fifo.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/city.mmdb", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    sluice_err_t err;
    alarm(10);
    sluice_geo_t *fifo = sluice_geo_open(path, &err);
    alarm(0);
    unlink(path);
    rmdir(dir);
    assert_null(fifo);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

/* An operator copies next month's database over the file (`cp new.mmdb city.mmdb` truncates it,
 * then writes): the open database must not change under the lookups. It was the file itself,
 * memory-mapped: the truncation took its pages away and the next lookup killed the gateway
 * (SIGBUS). */
static void test_file_rewritten_in_place(void **state)
{
    (void)state;
    char src[4096], path[] = "/tmp/sluice-geo-inplace-XXXXXX";
    snprintf(src, sizeof(src), "%s/tests/fixtures/geo/test-city.mmdb", getenv("SLUICE_BUILD_DIR"));
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), in);
    fclose(in);
    assert_true(n > 0 && n < sizeof(buf));
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    sluice_err_t err;
    sluice_geo_t *g = sluice_geo_open(path, &err);
    if (g == NULL)
        fail_msg("%s", err.msg);
    sluice_geo_result_t r;
    assert_int_equal(sluice_geo_lookup(g, "81.2.69.142", SLUICE_GEO_CITY, &r), 1);
    /* Truncated, as cp does first, then half written. */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, buf, n / 2, 0), (ssize_t)(n / 2));
    assert_int_equal(sluice_geo_lookup(g, "81.2.69.142", SLUICE_GEO_CITY, &r), 1);
    assert_string_equal(r.city, "London");
    assert_int_equal(sluice_geo_lookup(g, "2a02:d300:1::5", SLUICE_GEO_CITY, &r), 1);
    sluice_geo_close(g);
    close(fd);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_granularity), cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_unknown),     cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_open_fifo),   cmocka_unit_test(test_file_rewritten_in_place),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

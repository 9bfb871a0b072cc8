/*
 * Parse + write of one event, the jansson path (json/parse.c into arena-allocated jansson values,
 * a reused numbers' table, json/write.c, the release walk) against the arena values of json/jv.h,
 * for callgrind's instruction counts (docs/performance.md):
 *
 *   valgrind --tool=callgrind sluice-bench-jv jv|jansson bench/event.json N
 *
 * Run with N and with 0: the difference over N is the per-event figure. Checks that both write
 * the same bytes before it starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"
#include "json/write.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = buf != NULL ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

static char *jansson_once(const char *buf, size_t len, sluice_jsonnum_t *nums, size_t *out_len)
{
    sluice_json_error_t err;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_arena_enter(a);
    sluice_jsonnum_clear(nums);
    json_t *v = sluice_json_parse(buf, len, 32, 8192, 0, nums, &err);
    char *out = v != NULL ? sluice_json_encode(v, nums, out_len) : NULL;
    json_decref(v);
    sluice_json_arena_leave();
    sluice_json_arena_free(a);
    return out;
}

static char *jv_once(const char *buf, size_t len, size_t *out_len)
{
    sluice_json_error_t err;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *v = sluice_jv_parse(a, buf, len, 32, 8192, 0, NULL, &err);
    char *out = v != NULL ? sluice_jv_encode(v, out_len) : NULL;
    sluice_json_arena_free(a);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 4 || sluice_json_arena_install() != 0) {
        fprintf(stderr, "usage: %s jv|jansson event.json iterations\n", argv[0]);
        return 2;
    }
    size_t len, n1, n2;
    char *buf = slurp(argv[2], &len);
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    if (buf == NULL || nums == NULL)
        return 1;
    char *a = jansson_once(buf, len, nums, &n1), *b = jv_once(buf, len, &n2);
    if (a == NULL || b == NULL || n1 != n2 || memcmp(a, b, n1) != 0) {
        fprintf(stderr, "the two paths write different bytes\n");
        return 1;
    }
    free(a);
    free(b);
    int jv = strcmp(argv[1], "jv") == 0;
    long iterations = strtol(argv[3], NULL, 10);
    for (long i = 0; i < iterations; i++) {
        size_t n;
        free(jv ? jv_once(buf, len, &n) : jansson_once(buf, len, nums, &n));
    }
    sluice_jsonnum_free(nums);
    free(buf);
    return 0;
}

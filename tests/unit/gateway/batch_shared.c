/* Tests for gateway/batch_shared.c: what a batch's events inherit of its context, integrations and
 * sentAt, the two limits counted before anything is copied, and the same answers and bytes for
 * arena values (the *_jv twins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/batch_shared.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"
#include "json/write.h"

/* One batch held both ways, and what became of each event. */
typedef struct run {
    int fits[8], merged[8];
    char *bytes[8]; /* each event's bytes after the merge, jansson's (jv's are asserted equal) */
    size_t n, budget_left;
} run_t;

/* Takes body's batch through the shared members on both trees, asserting the same answers, the
 * same budget left and the same bytes for each event. */
static void run_both(const char *body, size_t budget, size_t max_event, run_t *r)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    json_t *root = sluice_json_parse(body, strlen(body), 64, 1 << 20, 0, nums, &err);
    sluice_jv_t *rootv = sluice_jv_parse(a, body, strlen(body), 64, 1 << 20, 0, NULL, &err);
    assert_non_null(root);
    assert_non_null(rootv);
    sluice_batch_shared_t sh;
    sluice_batch_shared_jv_t shv;
    assert_int_equal(sluice_batch_shared_of(&sh, root, nums, budget), 0);
    assert_int_equal(sluice_batch_shared_of_jv(&shv, rootv, budget), 0);
    json_t *list = json_object_get(root, "batch");
    sluice_jv_t *listv = sluice_jv_object_get(rootv, "batch");
    r->n = json_array_size(list);
    assert_true(r->n <= 8);
    for (size_t i = 0; i < r->n; i++) {
        json_t *ev = json_array_get(list, i);
        sluice_jv_t *evv = sluice_jv_array_get(listv, i);
        r->fits[i] = sluice_batch_shared_check(ev, &sh, nums, max_event);
        assert_int_equal(sluice_batch_shared_check_jv(evv, &shv, max_event), r->fits[i]);
        assert_int_equal(shv.budget, sh.budget);
        r->merged[i] = -1;
        if (r->fits[i] == SLUICE_BATCH_SHARED_FITS) {
            r->merged[i] = sluice_batch_shared_merge(ev, &sh, nums);
            assert_int_equal(sluice_batch_shared_merge_jv(evv, &shv, a), r->merged[i]);
        }
        r->bytes[i] = sluice_json_encode(ev, nums, NULL);
        char *v = sluice_jv_encode(evv, NULL);
        assert_string_equal(v, r->bytes[i]);
        free(v);
    }
    r->budget_left = sh.budget;
    for (int twice = 0; twice < 2; twice++) { /* a second dispose frees nothing twice (rev-s44b) */
        sluice_batch_shared_dispose(&sh);
        sluice_batch_shared_dispose_jv(&shv);
    }
    json_decref(root);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

static void run_free(run_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->bytes[i]);
}

/* Segment's batch: an event without context takes the batch's whole; one with its own keeps its
 * members and takes only the missing ones, numbers as sent; integrations that are no object are
 * the event's own; sentAt only where the event has none. */
static void test_segment_batch(void **state)
{
    (void)state;
    run_t r;
    run_both("{\"batch\":[{\"type\":\"track\",\"event\":\"A\"},"
             "{\"type\":\"track\",\"event\":\"B\",\"context\":{\"ip\":\"10.0.0.1\"},\"integrations\":\"All\","
             "\"sentAt\":\"2026-11-23T08:00:00.000Z\"}],"
             "\"context\":{\"ip\":\"203.0.113.1\",\"traits\":{\"n\":1E+2}},\"integrations\":{\"All\":true},"
             "\"sentAt\":\"2026-11-23T08:00:02.000Z\"}",
             65536, 4096, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.fits[0], SLUICE_BATCH_SHARED_FITS);
    assert_int_equal(r.merged[0], 1);
    assert_string_equal(r.bytes[0], "{\"type\":\"track\",\"event\":\"A\",\"context\":{\"ip\":\"203.0.113.1\","
                                    "\"traits\":{\"n\":1E+2}},\"integrations\":{\"All\":true},"
                                    "\"sentAt\":\"2026-11-23T08:00:02.000Z\"}");
    assert_int_equal(r.merged[1], 1);
    assert_string_equal(r.bytes[1], "{\"type\":\"track\",\"event\":\"B\",\"context\":{\"ip\":\"10.0.0.1\","
                                    "\"traits\":{\"n\":1E+2}},\"integrations\":\"All\","
                                    "\"sentAt\":\"2026-11-23T08:00:00.000Z\"}");
    run_free(&r);
}

/* An event whose copies would pass its limit is refused as too big, recorded as sent; copies
 * that would pass the batch's budget are refused as the batch's, and what fitted before spent it. */
static void test_limits(void **state)
{
    (void)state;
    static const char body[] =
        "{\"batch\":[{\"type\":\"track\",\"event\":\"A\"},{\"type\":\"track\",\"event\":\"B\"},"
        "{\"type\":\"track\",\"event\":\"C\",\"context\":{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}],"
        "\"context\":{\"library\":{\"name\":\"analytics-node\",\"version\":\"2.1.0\"}}}";
    run_t r;
    /* `,"context":{...}` is 66 bytes: one event's copies fit a budget of 100, not two. */
    run_both(body, 100, 4096, &r);
    assert_int_equal(r.fits[0], SLUICE_BATCH_SHARED_FITS);
    assert_int_equal(r.fits[1], SLUICE_BATCH_SHARED_BATCH_TOO_BIG);
    assert_string_equal(r.bytes[1], "{\"type\":\"track\",\"event\":\"B\"}");
    assert_int_equal(r.budget_left, 100 - 66);
    run_free(&r);
    /* An event limit of 100 bytes: A and B (28 + 66) fit, C (127 bytes of its own) does not. */
    run_both(body, 65536, 100, &r);
    assert_int_equal(r.fits[0], SLUICE_BATCH_SHARED_FITS);
    assert_int_equal(r.fits[1], SLUICE_BATCH_SHARED_FITS);
    assert_int_equal(r.fits[2], SLUICE_BATCH_SHARED_EVENT_TOO_BIG);
    assert_int_equal(r.merged[2], -1);
    run_free(&r);
}

/* A batch without shared members: every event fits, nothing is copied, the budget is untouched. */
static void test_nothing_shared(void **state)
{
    (void)state;
    run_t r;
    run_both("{\"batch\":[{\"type\":\"track\",\"event\":\"A\"}],\"context\":\"x\",\"integrations\":[1]}", 50, 4096, &r);
    assert_int_equal(r.fits[0], SLUICE_BATCH_SHARED_FITS);
    assert_int_equal(r.merged[0], 0);
    assert_int_equal(r.budget_left, 50);
    assert_string_equal(r.bytes[0], "{\"type\":\"track\",\"event\":\"A\"}");
    run_free(&r);
}

static int setup(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_batch),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_nothing_shared),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for vendors/tracker.c: the commit offset never passes a message that is not done,
 * whatever order completions come in, across gaps in offsets and ring growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/tracker.h"

static void test_in_order(void **state)
{
    (void)state;
    sluice_tracker_t t;
    sluice_tracker_init(&t);
    assert_int_equal(sluice_tracker_commit_offset(&t), -1);
    uint64_t s0, s1;
    assert_int_equal(sluice_tracker_add(&t, 100, &s0), 0);
    assert_int_equal(sluice_tracker_add(&t, 101, &s1), 0);
    assert_int_equal(sluice_tracker_oldest(&t), 100);
    sluice_tracker_done(&t, s0);
    assert_int_equal(sluice_tracker_commit_offset(&t), 101);
    sluice_tracker_done(&t, s1);
    assert_int_equal(sluice_tracker_commit_offset(&t), 102);
    assert_int_equal(sluice_tracker_pending(&t), 0);
    assert_int_equal(sluice_tracker_oldest(&t), -1);
    sluice_tracker_dispose(&t);
}

static void test_out_of_order_and_gaps(void **state)
{
    (void)state;
    sluice_tracker_t t;
    sluice_tracker_init(&t);
    uint64_t s[4];
    int64_t offs[4] = {5, 9, 10, 20};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sluice_tracker_add(&t, offs[i], &s[i]), 0);
    sluice_tracker_done(&t, s[3]);
    sluice_tracker_done(&t, s[1]);
    assert_int_equal(sluice_tracker_commit_offset(&t), -1); /* offset 5 still open */
    sluice_tracker_done(&t, s[0]);
    assert_int_equal(sluice_tracker_commit_offset(&t), 10); /* 5 and 9 done, 10 open */
    sluice_tracker_done(&t, s[0]);                          /* repeated: ignored */
    sluice_tracker_done(&t, 999);                           /* unknown: ignored */
    assert_int_equal(sluice_tracker_commit_offset(&t), 10);
    sluice_tracker_done(&t, s[2]);
    assert_int_equal(sluice_tracker_commit_offset(&t), 21);
    /* Offsets must increase. */
    uint64_t x;
    assert_int_equal(sluice_tracker_add(&t, 20, &x), -1);
    assert_int_equal(sluice_tracker_add(&t, 3, &x), -1);
    assert_int_equal(sluice_tracker_add(&t, 21, &x), 0);
    sluice_tracker_dispose(&t);
}

static void test_shuffled(void **state)
{
    (void)state;
    enum { N = 5000 };
    sluice_tracker_t t;
    sluice_tracker_init(&t);
    static uint64_t seq[N];
    static int order[N];
    static unsigned char done[N];
    memset(done, 0, sizeof(done));
    for (int i = 0; i < N; i++) {
        assert_int_equal(sluice_tracker_add(&t, 1000 + 2 * i, &seq[i]), 0);
        order[i] = i;
    }
    uint32_t x = 12345; /* xorshift: a fixed, reproducible shuffle */
    for (int i = N - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int j = (int)(x % (uint32_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    int first_open = 0;
    for (int k = 0; k < N; k++) {
        done[order[k]] = 1;
        sluice_tracker_done(&t, seq[order[k]]);
        while (first_open < N && done[first_open])
            first_open++;
        int64_t want = first_open == 0   ? -1
                       : first_open == N ? 1000 + 2 * (N - 1) + 1
                                         : 1000 + 2 * (first_open - 1) + 1;
        assert_int_equal(sluice_tracker_commit_offset(&t), want);
        assert_int_equal(sluice_tracker_pending(&t), (size_t)(N - first_open));
    }
    sluice_tracker_dispose(&t);
}

/* A message set aside for a failing integration (vendors/deliver.c) is done for its record but
 * held: nothing at or after it is released until every hold goes; found again by its offset. */
static void test_holds_and_find(void **state)
{
    (void)state;
    sluice_tracker_t t;
    sluice_tracker_init(&t);
    uint64_t s[200];
    for (int i = 0; i < 200; i++) /* past the ring's first size: find across a grown ring */
        assert_int_equal(sluice_tracker_add(&t, 100 + 3 * i, &s[i]), 0);
    assert_int_equal(sluice_tracker_hold(&t, s[1]), 0);
    assert_int_equal(sluice_tracker_hold(&t, s[1]), 0); /* two integrations set it aside */
    for (int i = 0; i < 200; i++)
        sluice_tracker_done(&t, s[i]);
    assert_int_equal(sluice_tracker_commit_offset(&t), 101);
    assert_int_equal(sluice_tracker_pending(&t), 199);
    uint64_t seq = 0;
    assert_int_equal(sluice_tracker_find(&t, 103, &seq), 0);
    assert_true(seq == s[1]);
    assert_int_equal(sluice_tracker_find(&t, 100 + 3 * 150, &seq), 0);
    assert_true(seq == s[150]);
    assert_int_equal(sluice_tracker_find(&t, 104, &seq), -1); /* no such offset */
    assert_int_equal(sluice_tracker_find(&t, 100, &seq), -1); /* released */
    sluice_tracker_unhold(&t, s[1]);
    assert_int_equal(sluice_tracker_commit_offset(&t), 101);
    sluice_tracker_unhold(&t, s[1]);
    assert_int_equal(sluice_tracker_commit_offset(&t), 100 + 3 * 199 + 1);
    assert_int_equal(sluice_tracker_pending(&t), 0);
    /* Released: unknown to hold, and its unhold is ignored. */
    assert_int_equal(sluice_tracker_hold(&t, s[1]), -1);
    sluice_tracker_unhold(&t, s[1]);
    /* A held message not yet done is not released by its hold going. */
    uint64_t n;
    assert_int_equal(sluice_tracker_add(&t, 1000, &n), 0);
    assert_int_equal(sluice_tracker_hold(&t, n), 0);
    sluice_tracker_unhold(&t, n);
    assert_int_equal(sluice_tracker_pending(&t), 1);
    sluice_tracker_done(&t, n);
    assert_int_equal(sluice_tracker_commit_offset(&t), 1001);
    sluice_tracker_dispose(&t);
}

/* A mark (the worker's "counted as suppressed") is not done: a marked message still holds the
 * commit back, and the mark stays through ring growth and goes with the message's release. */
static void test_mark(void **state)
{
    (void)state;
    sluice_tracker_t t;
    sluice_tracker_init(&t);
    uint64_t s[200];
    for (int i = 0; i < 200; i++)
        assert_int_equal(sluice_tracker_add(&t, 1000 + i, &s[i]), 0);
    sluice_tracker_mark(&t, s[0]);
    sluice_tracker_mark(&t, s[150]);
    assert_true(sluice_tracker_marked(&t, s[0]));
    assert_false(sluice_tracker_marked(&t, s[1]));
    assert_true(sluice_tracker_marked(&t, s[150]));
    assert_int_equal(sluice_tracker_commit_offset(&t), -1);
    assert_int_equal(sluice_tracker_pending(&t), 200);
    sluice_tracker_done(&t, s[0]);
    assert_int_equal(sluice_tracker_commit_offset(&t), 1001);
    assert_false(sluice_tracker_marked(&t, s[0])); /* released: unknown */
    sluice_tracker_done(&t, s[150]);
    assert_true(sluice_tracker_marked(&t, s[150])); /* done, not released yet */
    assert_int_equal(sluice_tracker_commit_offset(&t), 1001);
    sluice_tracker_dispose(&t);
}

/* What a lost partition's tracker says of a message read again: finished only when done without a
 * hold, released or not; never for an offset it did not see. */
static void test_finished(void **state)
{
    (void)state;
    sluice_tracker_t t;
    sluice_tracker_init(&t);
    assert_int_equal(sluice_tracker_finished(&t, 0), 0);
    uint64_t s[4];
    int64_t offs[4] = {10, 11, 13, 14};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sluice_tracker_add(&t, offs[i], &s[i]), 0);
    sluice_tracker_done(&t, s[0]); /* released */
    sluice_tracker_done(&t, s[2]); /* done, behind 11 */
    assert_int_equal(sluice_tracker_hold(&t, s[3]), 0);
    sluice_tracker_done(&t, s[3]); /* done but held: set aside for another integration */
    assert_int_equal(sluice_tracker_commit_offset(&t), 11);
    assert_int_equal(sluice_tracker_finished(&t, 9), 0);
    assert_int_equal(sluice_tracker_finished(&t, 10), 1);
    assert_int_equal(sluice_tracker_finished(&t, 11), 0);
    assert_int_equal(sluice_tracker_finished(&t, 12), 0);
    assert_int_equal(sluice_tracker_finished(&t, 13), 1);
    assert_int_equal(sluice_tracker_finished(&t, 14), 0);
    assert_int_equal(sluice_tracker_finished(&t, 15), 0);
    sluice_tracker_unhold(&t, s[3]);
    assert_int_equal(sluice_tracker_finished(&t, 14), 1);
    sluice_tracker_dispose(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order), cmocka_unit_test(test_out_of_order_and_gaps),
        cmocka_unit_test(test_shuffled), cmocka_unit_test(test_holds_and_find),
        cmocka_unit_test(test_mark),     cmocka_unit_test(test_finished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

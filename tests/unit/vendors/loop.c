/* Tests for vendors/loop.c: readiness callbacks, changing and removing watches, and events of an
 * fd unwatched earlier in the same round never reaching a later owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vendors/loop.h"

typedef struct ctx {
    sluice_loop_t *loop;
    int calls;
    unsigned last;
    int other_fd; /* unwatched by the first callback */
    int *other_calls;
} ctx_t;

static void on_ready(void *ud, int fd, unsigned events)
{
    (void)fd;
    ctx_t *c = ud;
    c->calls++;
    c->last = events;
    if (c->other_fd >= 0)
        sluice_loop_unwatch(c->loop, c->other_fd);
}

static void test_watch(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_loop_t *l = sluice_loop_create(&err);
    assert_non_null(l);
    int p[2];
    assert_int_equal(pipe(p), 0);
    ctx_t c = {.loop = l, .other_fd = -1};
    assert_int_equal(sluice_loop_watch(l, p[0], SLUICE_LOOP_IN, on_ready, &c, &err), 0);
    assert_int_equal(sluice_loop_run_once(l, 0, &err), 0); /* nothing to read */
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(sluice_loop_run_once(l, 1000, &err), 1);
    assert_int_equal(c.calls, 1);
    assert_true(c.last & SLUICE_LOOP_IN);
    /* Quiet watch: registered, no events asked for. */
    assert_int_equal(sluice_loop_watch(l, p[0], 0, on_ready, &c, &err), 0);
    assert_int_equal(sluice_loop_run_once(l, 0, &err), 0);
    /* Write side: always writable. */
    assert_int_equal(sluice_loop_watch(l, p[1], SLUICE_LOOP_OUT, on_ready, &c, &err), 0);
    assert_int_equal(sluice_loop_run_once(l, 1000, &err), 1);
    assert_true(c.last & SLUICE_LOOP_OUT);
    sluice_loop_unwatch(l, p[1]);
    sluice_loop_unwatch(l, p[1]); /* twice: harmless */
    sluice_loop_unwatch(l, 12345);
    assert_int_equal(sluice_loop_run_once(l, 0, &err), 0);
    assert_int_equal(sluice_loop_watch(l, -1, SLUICE_LOOP_IN, on_ready, &c, &err), -1);
    close(p[0]);
    close(p[1]);
    sluice_loop_destroy(l);
}

static void test_unwatched_in_same_round(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_loop_t *l = sluice_loop_create(&err);
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    int other_calls = 0;
    ctx_t ca = {.loop = l, .other_fd = b[0]}, cb = {.loop = l, .other_fd = a[0], .other_calls = &other_calls};
    assert_int_equal(sluice_loop_watch(l, a[0], SLUICE_LOOP_IN, on_ready, &ca, &err), 0);
    assert_int_equal(sluice_loop_watch(l, b[0], SLUICE_LOOP_IN, on_ready, &cb, &err), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    /* Both are ready in one round; whichever runs first unwatches the other, which then must not
     * be called. */
    sluice_loop_run_once(l, 1000, &err);
    assert_int_equal(ca.calls + cb.calls, 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    sluice_loop_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_unwatched_in_same_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

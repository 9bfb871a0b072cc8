/* Tests for identity/identity.c when memory runs out (linked with -Wl,--wrap=malloc,--wrap=calloc:
 * the sluice libraries' allocations go through the wrappers below, which fail the Nth one). A
 * request's Set-Cookie values and its vendor ids are allocated as they are made (issue 17: a
 * waiting request's record holds no buffers for them). With any one allocation failing the
 * request still goes, as one without what could not be kept: run returns 0 and calls done once
 * (or returns -1 without calling it, when the duplicate flags cannot be had, as before), every
 * cookie it sets is whole, and the vendor ids the browser sent are passed on as sent or not at
 * all, never replaced by new ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/identity.h"
#include "tests/stubs/alloc_fail.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

void *__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(n, size);
}

#define NOW_MS 1700000000123LL
#define FBP    "fb.1.1600000000000.2222222222"
#define GA     "GA1.1.8.1600000000"

static char org_id[] = "plain", sid[] = "_sid", meta[] = "meta", ga4[] = "ga4";
static char *vendors[] = {meta, ga4};
static sluice_org_t org;
static sluice_config_t cfg;
static sluice_identity_thread_t *thr;
static int done_calls;

static int setup(void **state)
{
    (void)state;
    org.id = org_id;
    org.identity.cookie_name = sid;
    org.identity.cookie_max_age_days = 400;
    org.identity.link_ttl_days = 400;
    org.identity.vendor_cookies = vendors;
    org.identity.vendor_cookie_count = 2;
    cfg.orgs = &org;
    cfg.org_count = 1;
    sluice_err_t err;
    thr = sluice_identity_thread_create(&cfg, NULL, NULL, &err);
    assert_non_null(thr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_identity_thread_destroy(thr);
    return 0;
}

static void on_done(sluice_identity_job_t *job)
{
    (void)job;
    done_calls++;
}

static const char *vendor_id(json_t *ev, const char *name)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "vendorIds"), name));
}

/* 1 when cookie is a whole Set-Cookie value of one of the names this request sets. */
static int whole_cookie(const char *cookie)
{
    static const char *const starts[] = {"_sid=localid; Max-Age=34560000; ", "_fbc=fb.1.1700000000123.CLICK; "};
    int known = 0;
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
        known |= cookie != NULL && strncmp(cookie, starts[i], strlen(starts[i])) == 0;
    size_t n = cookie != NULL ? strlen(cookie) : 0, tail = strlen("; SameSite=Lax");
    return known && n > tail && strcmp(cookie + n - tail, "; SameSite=Lax") == 0;
}

/* A browser with the org's cookie, _fbp and _ga sends a page whose URL carries an fbclid: without
 * any failure its cookie is refreshed and _fbc set, and the event carries the sent _fbp and _ga
 * and the new _fbc. Then the same request with each allocation in turn failing. */
static void any_allocation_failing(void **state)
{
    (void)state;
    int runs = 0, returned_early = 0;
    for (long fail_at = 0;; fail_at++) {
        json_error_t je;
        json_t *ev = json_loads("{\"type\":\"page\",\"context\":{\"page\":{\"url\":"
                                "\"https://shop.acme.test/?fbclid=CLICK\"}}}",
                                0, &je);
        json_t *events = json_array();
        assert_non_null(ev);
        assert_non_null(events);
        sluice_identity_job_t job;
        memset(&job, 0, sizeof(job));
        job.cfg = &cfg;
        job.org = &org;
        job.done = on_done;
        sluice_identity_input_t in = {.browser = 1,
                                      .now_ms = NOW_MS,
                                      .cookie_id = h2o_iovec_init(H2O_STRLIT("localid")),
                                      .fbp = h2o_iovec_init(H2O_STRLIT(FBP)),
                                      .ga = h2o_iovec_init(H2O_STRLIT(GA)),
                                      .host = h2o_iovec_init(H2O_STRLIT("127.0.0.1:8443"))};
        done_calls = 0;
        alloc_failed = 0;
        alloc_left = fail_at;
        sluice_identity_begin(thr, &job, &in, ev);
        assert_int_equal(sluice_identity_assign(&job, ev), 0);
        assert_int_equal(json_array_append(events, ev), 0);
        job.events = events;
        int rc = sluice_identity_run(thr, &job);
        alloc_left = -1;
        runs++;
        if (rc != 0) {
            assert_int_equal(rc, -1);
            assert_int_equal(done_calls, 0);
            returned_early++;
        } else {
            assert_int_equal(done_calls, 1);
            assert_string_equal(json_string_value(json_object_get(ev, "anonymousId")), "localid");
            for (size_t i = 0; i < job.cookie_count; i++)
                if (!whole_cookie(job.cookies[i]))
                    fail_msg("cookie %zu with allocation %ld failing: %s", i, fail_at,
                             job.cookies[i] != NULL ? job.cookies[i] : "(null)");
            /* the ids sent, or none: a vendor id minted over the visitor's would be a new browser
             * to Meta and GA4 */
            const char *fbp = vendor_id(ev, "fbp"), *ga = vendor_id(ev, "ga"), *fbc = vendor_id(ev, "fbc");
            assert_true((fbp == NULL && ga == NULL && fbc == NULL) ||
                        (fbp != NULL && strcmp(fbp, FBP) == 0 && ga != NULL && strcmp(ga, GA) == 0 && fbc != NULL &&
                         strcmp(fbc, "fb.1.1700000000123.CLICK") == 0));
            if (fail_at == 0) { /* the first allocation is the vendor ids' block */
                assert_null(fbp);
                assert_int_equal(job.cookie_count, 1);
            }
            if (!alloc_failed) { /* nothing failed: the whole request */
                assert_non_null(fbp);
                assert_int_equal(job.cookie_count, 2);
            }
        }
        sluice_identity_job_dispose(&job);
        json_decref(events);
        json_decref(ev);
        if (!alloc_failed)
            break;
    }
    /* the vendor block, the duplicate flags and the two cookies */
    assert_true(runs >= 5);
    assert_int_equal(returned_early, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(any_allocation_failing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

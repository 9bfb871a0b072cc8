/* Tests for every vendor's build() when memory runs out (linked with -Wl,--wrap=malloc,--wrap=strdup:
 * the sluice libraries' allocations go through the wrappers below, which fail the Nth one): with
 * any one allocation failing, build returns -1 with the request zeroed, or 0 with a whole request.
 * Meta's and TikTok's builds stored an unchecked strdup as a header, so a failed one returned 0
 * with a NULL header, which the worker handed to libcurl (curl_slist_append(NULL) crashes it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/stubs/alloc_fail.h"
#include "tests/unit/vendors/vfix.h"
#include "vendors/vendor.h"

void *__real_malloc(size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

char *__wrap_strdup(const char *s)
{
    return alloc_fails() ? NULL : __real_strdup(s);
}

static sluice_config_t *cfg;

static int setup(void **state)
{
    (void)state;
    cfg = vfix_config();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_config_free(cfg);
    return 0;
}

/* Fails each allocation of ops->build in turn, until one build makes all it needs. */
static void expect_whole_or_nothing(const char *integration, const sluice_vendor_ops_t *ops, json_t *secret)
{
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, integration);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    const sluice_vendor_item_t *items[1] = {&item};
    for (long k = 0;; k++) {
        sluice_vendor_request_t req;
        sluice_err_t err = {{0}};
        alloc_failed = 0;
        alloc_left = k;
        int rc = ops->build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err);
        alloc_left = -1;
        if (rc != 0) {
            assert_true(alloc_failed);
            assert_null(req.url);
            assert_int_equal(req.header_count, 0);
            assert_null(req.body);
            continue;
        }
        if (alloc_failed)
            print_message("%s: allocation %ld failed, and build returned 0\n", integration, k);
        assert_non_null(req.url);
        assert_non_null(req.body);
        assert_true(req.header_count > 0);
        for (size_t i = 0; i < req.header_count; i++)
            assert_non_null(req.headers[i]);
        sluice_vendor_request_dispose(&req);
        if (!alloc_failed)
            break; /* every allocation of this build was tried */
    }
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void test_meta(void **state)
{
    (void)state;
    expect_whole_or_nothing("meta-test", &sluice_vendor_meta, json_pack("{s:s}", "access_token", "t"));
}

static void test_tiktok(void **state)
{
    (void)state;
    expect_whole_or_nothing("tiktok", &sluice_vendor_tiktok, json_pack("{s:s}", "access_token", "t"));
}

static void test_bearer_vendors(void **state)
{
    (void)state;
    expect_whole_or_nothing("pinterest", &sluice_vendor_pinterest, json_pack("{s:s}", "access_token", "t"));
    expect_whole_or_nothing("snapchat", &sluice_vendor_snapchat, json_pack("{s:s}", "access_token", "t"));
    expect_whole_or_nothing("linkedin", &sluice_vendor_linkedin, json_pack("{s:s}", "access_token", "t"));
    expect_whole_or_nothing("reddit", &sluice_vendor_reddit, json_pack("{s:s}", "access_token", "t"));
    expect_whole_or_nothing("gads", &sluice_vendor_google_ads,
                            json_pack("{s:s,s:s}", "access_token", "t", "developer_token", "d"));
    expect_whole_or_nothing("hook", &sluice_vendor_webhook, json_pack("{s:s}", "secret", "s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_tiktok),
        cmocka_unit_test(test_bearer_vendors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

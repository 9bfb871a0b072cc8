/* Tests for vendors/selection.c: Segment's per-event `integrations` object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/selection.h"

static int allows(const char *integrations, const char *name, const char *vendor)
{
    json_error_t je;
    json_t *v = integrations ? json_loads(integrations, 0, &je) : NULL;
    int r = sluice_selection_allows(v, name, vendor);
    json_decref(v);
    return r;
}

static void test_selection(void **state)
{
    (void)state;
    /* none, or All alone */
    assert_true(allows(NULL, "meta", "meta"));
    assert_true(allows("{}", "meta", "meta"));
    assert_true(allows("{\"All\":true}", "meta", "meta"));
    assert_false(allows("{\"All\":false}", "meta", "meta"));
    /* All false, one named true: by config name, vendor kind, or Segment's catalogue name */
    assert_true(allows("{\"All\":false,\"Meta\":true}", "fb-capi", "meta"));
    assert_true(allows("{\"All\":false,\"fb-capi\":true}", "fb-capi", "meta"));
    assert_true(allows("{\"All\":false,\"Facebook Conversions API\":true}", "fb-capi", "meta"));
    assert_false(allows("{\"All\":false,\"Meta\":true}", "ga4", "ga4"));
    assert_true(allows("{\"All\":false,\"Google Analytics 4\":{\"clientId\":\"1.2\"}}", "ga4", "ga4"));
    /* one named false */
    assert_false(allows("{\"Google Analytics 4\":false}", "ga4", "ga4"));
    assert_true(allows("{\"Google Analytics 4\":false}", "meta", "meta"));
    /* two keys naming the same integration: false wins */
    assert_false(allows("{\"meta\":true,\"Facebook Pixel\":false}", "meta", "meta"));
    /* not an object: ignored */
    assert_true(allows("[false]", "meta", "meta"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_selection)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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

/* Events the gateway flagged as bots (context.bot) reach only integrations with send_bots. */
static void test_bots(void **state)
{
    (void)state;
    json_error_t je;
    json_t *bot = json_loads("{\"type\":\"page\",\"context\":{\"bot\":{\"reason\":\"spider\"}}}", 0, &je);
    json_t *human = json_loads("{\"type\":\"page\",\"context\":{\"ip\":\"81.2.69.0\",\"bot\":null}}", 0, &je);
    json_t *bare = json_loads("{\"type\":\"page\"}", 0, &je);
    assert_int_equal(sluice_selection_bots_allow(bot, 0), 0);
    assert_int_equal(sluice_selection_bots_allow(bot, 1), 1);
    assert_int_equal(sluice_selection_bots_allow(human, 0), 1);
    assert_int_equal(sluice_selection_bots_allow(bare, 0), 1);
    json_decref(bot);
    json_decref(human);
    json_decref(bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_selection), cmocka_unit_test(test_bots)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

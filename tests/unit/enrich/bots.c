/* Tests for enrich/bots.c: uap-core's spiders, the built-in patterns (headless browsers, HTTP
 * libraries), the org's patterns and address ranges, and a missing user agent; real browsers
 * are never bots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "enrich/bots.h"

static sluice_ua_parser_t *parser;
static sluice_ua_cache_t *cache;

static int setup(void **state)
{
    (void)state;
    sluice_err_t err;
    parser = sluice_ua_parser_load(NULL, &err);
    cache = sluice_ua_cache_create(0);
    return parser != NULL && cache != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sluice_ua_cache_destroy(cache);
    sluice_ua_parser_destroy(parser);
    return 0;
}

static sluice_bot_reason_t detect(const sluice_enrich_config_t *e, const char *ua, const char *ip)
{
    sluice_ua_result_t r;
    size_t len = ua ? strlen(ua) : 0;
    sluice_ua_parse(parser, cache, ua, len, &r);
    return sluice_bots_detect(e, ua, len, &r, ip, 1);
}

static void test_reasons(void **state)
{
    (void)state;
    sluice_enrich_config_t e = {.bots = SLUICE_BOTS_FLAG, .bots_no_user_agent = 1};
    assert_int_equal(detect(&e, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", NULL),
                     SLUICE_BOT_SPIDER);
    assert_int_equal(detect(&e,
                            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                            "HeadlessChrome/120.0.6099.28 Safari/537.36",
                            NULL),
                     SLUICE_BOT_PATTERN);
    assert_int_equal(detect(&e, "curl/8.4.0", NULL), SLUICE_BOT_PATTERN);
    assert_int_equal(detect(&e, "python-requests/2.31.0", NULL), SLUICE_BOT_PATTERN);
    assert_int_equal(detect(&e,
                            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                            "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
                            NULL),
                     SLUICE_BOT_PATTERN);
    /* Crawlers that run the page's scripts (so the tag) and that Debian's uap-core does not know. */
    static const char *const unlisted[] = {
        "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; GoogleOther)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36; compatible; OAI-SearchBot/1.0; +https://openai.com/searchbot",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 (compatible; DuckAssistBot/1.2; +http://duckduckgo.com/duckassistbot.html)",
    };
    for (size_t i = 0; i < sizeof(unlisted) / sizeof(unlisted[0]); i++)
        if (detect(&e, unlisted[i], NULL) == SLUICE_BOT_NONE)
            fail_msg("not a bot: %s", unlisted[i]);
    /* Of the built-in patterns, only HTTP libraries are a server's own user agent. */
    const char *applebot = "Mozilla/5.0 (Macintosh) Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)";
    assert_false(sluice_ua_contains_any(applebot, strlen(applebot), sluice_ua_http_libraries, SIZE_MAX));
    assert_true(sluice_ua_contains_any("Go-http-client/2.0", 18, sluice_ua_http_libraries, SIZE_MAX));
    assert_int_equal(detect(&e, "", NULL), SLUICE_BOT_NO_UA);
    assert_int_equal(detect(&e, NULL, NULL), SLUICE_BOT_NO_UA);
    /* A server's event that names no user agent is not missing the visitor's. */
    assert_int_equal(sluice_bots_detect(&e, NULL, 0, NULL, NULL, 0), SLUICE_BOT_NONE);
    e.bots_no_user_agent = 0;
    assert_int_equal(detect(&e, "", NULL), SLUICE_BOT_NONE);
    assert_string_equal(sluice_bots_reason_name(SLUICE_BOT_SPIDER), "spider");
    assert_string_equal(sluice_bots_reason_name(SLUICE_BOT_NO_UA), "no_user_agent");
}

static void test_browsers_are_not_bots(void **state)
{
    (void)state;
    sluice_enrich_config_t e = {.bots = SLUICE_BOTS_DROP, .bots_no_user_agent = 1};
    static const char *const browsers[] = {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.2 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36",
        /* a Cubot phone: "bot" inside a brand is not a bot */
        "Mozilla/5.0 (Linux; Android 11; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45 Mobile "
        "Safari/537.36",
    };
    for (size_t i = 0; i < sizeof(browsers) / sizeof(browsers[0]); i++)
        if (detect(&e, browsers[i], "81.2.69.142") != SLUICE_BOT_NONE)
            fail_msg("a bot: %s", browsers[i]);
}

static void test_org_patterns_and_ranges(void **state)
{
    (void)state;
    char *patterns[] = {"AcmeMonitor"};
    sluice_cidr_t ranges[2];
    assert_int_equal(sluice_cidr_parse("66.249.64.0/19", &ranges[0]), 0);
    assert_int_equal(sluice_cidr_parse("2001:db8:bad::/48", &ranges[1]), 0);
    sluice_enrich_config_t e = {.bots = SLUICE_BOTS_FLAG,
                                .bots_no_user_agent = 1,
                                .bot_patterns = patterns,
                                .bot_pattern_count = 1,
                                .bot_ranges = ranges,
                                .bot_range_count = 2};
    const char *chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/120.0.0.0 Safari/537.36";
    assert_int_equal(detect(&e, "Mozilla/5.0 acmemonitor/3.1 (uptime)", NULL), SLUICE_BOT_PATTERN);
    assert_int_equal(detect(&e, chrome, "66.249.66.1"), SLUICE_BOT_IP_RANGE);
    assert_int_equal(detect(&e, chrome, "66.249.96.1"), SLUICE_BOT_NONE);
    assert_int_equal(detect(&e, chrome, "2001:db8:bad:1::7"), SLUICE_BOT_IP_RANGE);
    assert_int_equal(detect(&e, chrome, "2001:db8:bae::7"), SLUICE_BOT_NONE);
    assert_int_equal(detect(&e, chrome, "not an address"), SLUICE_BOT_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_browsers_are_not_bots),
        cmocka_unit_test(test_org_patterns_and_ranges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

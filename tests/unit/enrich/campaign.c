/* Tests for enrich/campaign.c: UTM parameters into Segment's names (decoded, first wins, the
 * fragment ignored), and referrers classified by the built-in table and the org's, with the
 * page's own host internal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "enrich/campaign.h"

static void test_utm(void **state)
{
    (void)state;
    sluice_campaign_t c;
    assert_int_equal(sluice_campaign_parse("https://shop.example/landing?utm_source=newsletter&utm_medium=email&"
                                           "utm_campaign=Winter%20Sale&utm_term=red+boots&utm_content=hero&x=1",
                                           &c),
                     5);
    assert_string_equal(c.name, "Winter Sale");
    assert_string_equal(c.source, "newsletter");
    assert_string_equal(c.medium, "email");
    assert_string_equal(c.term, "red boots");
    assert_string_equal(c.content, "hero");
    assert_int_equal(sluice_campaign_parse("https://a.example/?UTM_SOURCE=g&utm_source=h#utm_medium=frag", &c), 1);
    assert_string_equal(c.source, "g");
    assert_string_equal(c.medium, "");
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm_source=&q=1", &c), 0);
    assert_int_equal(sluice_campaign_parse("https://a.example/path", &c), 0);
    assert_int_equal(sluice_campaign_parse(NULL, &c), 0);
    /* A bad escape is kept as sent rather than dropped. */
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm_campaign=100%", &c), 1);
    assert_string_equal(c.name, "100%");
    /* A '?' inside the fragment (a single-page app's hash route) is not the query. */
    assert_int_equal(sluice_campaign_parse("https://a.example/#/landing?utm_source=frag", &c), 0);
    assert_string_equal(c.source, "");
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm_medium=q#/x?utm_source=frag", &c), 1);
    assert_string_equal(c.medium, "q");
    assert_string_equal(c.source, "");
    /* Names are percent-decoded too, as URLSearchParams reads them: `utm%5Fsource` is utm_source. */
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm%5Fsource=mail&utm%5fmedium=email&utm_%63ampaign=w&"
                                           "utm%5Fterm%00=x&utm%5=y",
                                           &c),
                     3);
    assert_string_equal(c.source, "mail");
    assert_string_equal(c.medium, "email");
    assert_string_equal(c.name, "w");
    assert_string_equal(c.term, "");
}

/* Values are cut to 127 characters (not bytes) at a character's start, and a value that decodes
 * to bytes that are not UTF-8 is kept as sent: a JSON string cannot hold half a character, and
 * such a value was lost whole (context.campaign came out {}). Before, the cut was at 127 bytes: a
 * campaign name in Chinese lost every character past the 42nd, one in French with accents past
 * about the 100th byte, where GA4 takes 100 characters. */
static void test_utm_utf8(void **state)
{
    (void)state;
    sluice_campaign_t c;
    static char url[8192];
    size_t n = (size_t)snprintf(url, sizeof(url), "https://a.example/?utm_campaign=");
    for (int i = 0; i < 60; i++) /* 60 x U+51AC, 180 bytes decoded, 540 encoded */
        n += (size_t)snprintf(url + n, sizeof(url) - n, "%%E5%%86%%AC");
    n += (size_t)snprintf(url + n, sizeof(url) - n, "&utm_source=%%FF%%FE&utm_term=Z%%C3%%BCrich&utm_content=");
    for (int i = 0; i < 130; i++) /* 130 x U+1F600, 4 bytes each, 12 encoded */
        n += (size_t)snprintf(url + n, sizeof(url) - n, "%%F0%%9F%%98%%80");
    n += (size_t)snprintf(url + n, sizeof(url) - n, "&utm_medium=");
    for (int i = 0; i < 130; i++) /* raw UTF-8 in the URL (a JSON string holds it as is) */
        n += (size_t)snprintf(url + n, sizeof(url) - n, "\xc3\x89");
    assert_int_equal(sluice_campaign_parse(url, &c), 5);
    assert_int_equal(strlen(c.name), 180); /* all 60 characters */
    for (size_t i = 0; i < 180; i += 3)
        assert_memory_equal(c.name + i, "\xe5\x86\xac", 3);
    assert_string_equal(c.source, "%FF%FE");
    assert_string_equal(c.term, "Z\xc3\xbcrich");
    assert_int_equal(strlen(c.content), 127 * 4); /* 127 characters, none cut in two */
    for (size_t i = 0; i < 127 * 4; i += 4)
        assert_memory_equal(c.content + i, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(strlen(c.medium), 127 * 2);
    for (size_t i = 0; i < 127 * 2; i += 2)
        assert_memory_equal(c.medium + i, "\xc3\x89", 2);
}

/* utm_id is GA4's campaign ID (Analytics help 10917952, "URL builders": utm_id, "Campaign ID");
 * analytics.js puts every utm_* in context.campaign without its prefix, so utm_id is
 * context.campaign.id. Before, it was not read: a campaign ID from the link reached neither
 * context.campaign nor GA4's campaign_details (campaign_id), and cost data imported by ID
 * matched no session. */
static void test_utm_id(void **state)
{
    (void)state;
    sluice_campaign_t c;
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm_id=spring-26.B&utm_source=mail", &c), 2);
    assert_string_equal(c.id, "spring-26.B");
    assert_string_equal(c.source, "mail");
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm_idx=1&utm_i=2", &c), 0);
    assert_string_equal(c.id, "");
}

/* A '%' that starts no escape is a '%', and the rest of the value is still decoded, as browsers
 * read a query (URLSearchParams, the URL standard's percent-decode): "Save+50%+today%21" is
 * "Save 50% today!". Before, one such '%' kept the whole value as sent, '+' and escapes
 * included: GA4 showed "Save+50%+today%21". A double-encoded value is decoded once, as
 * URLSearchParams does, and %00 stays as sent (a C string cannot hold it). */
static void test_utm_lone_percent(void **state)
{
    (void)state;
    sluice_campaign_t c;
    assert_int_equal(sluice_campaign_parse("https://a.example/?utm_campaign=Save+50%+today%21&utm_source=100%25&"
                                           "utm_medium=a%00b+c&utm_term=%25C3%25A9t%25C3%25A9&utm_content=x%2",
                                           &c),
                     5);
    assert_string_equal(c.name, "Save 50% today!");
    assert_string_equal(c.source, "100%");
    assert_string_equal(c.medium, "a%00b c");
    assert_string_equal(c.term, "%C3%A9t%C3%A9");
    assert_string_equal(c.content, "x%2");
}

static void test_referrer(void **state)
{
    (void)state;
    const char *src;
    const char *page = "https://shop.example/p/1";
    assert_int_equal(sluice_referrer_classify(NULL, "https://www.google.com/", page, &src), SLUICE_REFERRER_SEARCH);
    assert_string_equal(src, "Google");
    assert_int_equal(sluice_referrer_classify(NULL, "https://www.google.co.uk/search?q=x", page, &src),
                     SLUICE_REFERRER_SEARCH);
    assert_int_equal(sluice_referrer_classify(NULL, "https://mail.google.com/mail/u/0/", page, &src),
                     SLUICE_REFERRER_EMAIL);
    assert_string_equal(src, "Gmail");
    assert_int_equal(sluice_referrer_classify(NULL, "https://l.facebook.com/l.php?u=x", page, &src),
                     SLUICE_REFERRER_SOCIAL);
    assert_string_equal(src, "Facebook");
    assert_int_equal(sluice_referrer_classify(NULL, "https://t.co/abc", page, &src), SLUICE_REFERRER_SOCIAL);
    assert_int_equal(sluice_referrer_classify(NULL, "https://SHOP.example:443/cart", page, &src),
                     SLUICE_REFERRER_INTERNAL);
    assert_int_equal(sluice_referrer_classify(NULL, "https://blog.other.example/", page, &src), SLUICE_REFERRER_OTHER);
    assert_null(src);
    /* Not look-alikes: notgoogle.com, bing.com.evil.example. */
    assert_int_equal(sluice_referrer_classify(NULL, "https://notgoogle.com/", page, &src), SLUICE_REFERRER_OTHER);
    assert_int_equal(sluice_referrer_classify(NULL, "https://bing.com.evil.example/", page, &src),
                     SLUICE_REFERRER_OTHER);
    assert_int_equal(sluice_referrer_classify(NULL, "android-app://com.google.android.gm/", page, &src),
                     SLUICE_REFERRER_OTHER);

    /* The org's table comes first: its other shop is internal, its newsletter tool is e-mail. */
    sluice_referrer_host_t hosts[] = {{"shop-eu.example", SLUICE_REFERRER_INTERNAL},
                                      {"news.acme-mail.example", SLUICE_REFERRER_EMAIL},
                                      {"google.com", SLUICE_REFERRER_OTHER}};
    sluice_enrich_config_t e = {.referrer = 1, .referrer_hosts = hosts, .referrer_host_count = 3};
    assert_int_equal(sluice_referrer_classify(&e, "https://www.shop-eu.example/", page, &src),
                     SLUICE_REFERRER_INTERNAL);
    assert_int_equal(sluice_referrer_classify(&e, "https://news.acme-mail.example/c/1", page, &src),
                     SLUICE_REFERRER_EMAIL);
    assert_int_equal(sluice_referrer_classify(&e, "https://www.google.com/", page, &src), SLUICE_REFERRER_OTHER);
    assert_string_equal(sluice_referrer_medium_name(SLUICE_REFERRER_SOCIAL), "social");
}

/* Host names in the org's table are case-insensitive, as the referrer's (read lowercased): a
 * host written with capitals in the config loaded and never matched, so the org's other shop
 * counted as `other`. */
static void test_referrer_hosts_from_config_any_case(void **state)
{
    (void)state;
    static const char yaml[] =
        "version: 1\n"
        "server: {http: {listen: \"127.0.0.1:0\"}}\n"
        "kafka: {brokers: \"127.0.0.1:9092\"}\n"
        "orgs:\n"
        "  - id: acme\n"
        "    sources: [{id: web, write_key_env: K}]\n"
        "    enrichment: {referrer: {internal: [Shop-EU.Example], email: [NEWS.acme-mail.example]}}\n";
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("x.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("  got: %s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    const sluice_org_t *org = sluice_config_find_org(cfg, "acme");
    assert_non_null(org);
    const char *src = NULL;
    assert_int_equal(
        sluice_referrer_classify(&org->enrich, "https://www.shop-eu.example/", "https://shop.example/", &src),
        SLUICE_REFERRER_INTERNAL);
    assert_int_equal(
        sluice_referrer_classify(&org->enrich, "https://news.acme-mail.example/c/1", "https://shop.example/", &src),
        SLUICE_REFERRER_EMAIL);
    sluice_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utm),      cmocka_unit_test(test_utm_utf8),
        cmocka_unit_test(test_utm_id),   cmocka_unit_test(test_utm_lone_percent),
        cmocka_unit_test(test_referrer), cmocka_unit_test(test_referrer_hosts_from_config_any_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

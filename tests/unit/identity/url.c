/* Tests for identity/url.c: hosts of origins and links, one decoded query parameter (and several
 * in one pass), removing
 * `_dft` from URLs in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/pct.h"
#include "identity/url.h"

static void host_of(const char *in, const char *want)
{
    char out[SLUICE_URL_HOST_MAX + 1];
    int rc = sluice_url_host(in, strlen(in), out, sizeof(out));
    if (want == NULL) {
        if (rc == 0)
            print_error("accepted %s as %s\n", in, out);
        assert_int_equal(rc, -1);
    } else {
        if (rc != 0)
            print_error("refused %s\n", in);
        assert_int_equal(rc, 0);
        assert_string_equal(out, want);
    }
}

static void hosts(void **state)
{
    (void)state;
    host_of("https://Shop.Acme.Test:8443/cart?x=1#y", "shop.acme.test");
    host_of("https://shop.acme.test", "shop.acme.test");
    host_of("http://checkout.example-pay.com/", "checkout.example-pay.com");
    host_of("HTTPS://SHOP.ACME.TEST", "shop.acme.test");
    host_of("shop.acme.test", "shop.acme.test");
    host_of("shop.acme.test.", "shop.acme.test");
    host_of("shop.acme.test/path?q", "shop.acme.test");
    host_of("https://shop.acme.test?x=https://evil.test/", "shop.acme.test");
    /* refused */
    host_of("ftp://shop.acme.test/", NULL);
    host_of("javascript:alert(1)", NULL);
    host_of("https://evil.test@shop.acme.test/", NULL);
    host_of("https://shop.acme.test:/", NULL);
    host_of("https://shop.acme.test:123456/", NULL);
    host_of("https://shop.acme.test:80a/", NULL);
    host_of("https:///path", NULL);
    host_of("https://a..b/", NULL);
    host_of("https://.acme.test/", NULL);
    host_of("https://ex ample.test/", NULL);
    host_of("https://[::1]:443/", NULL);
    host_of("", NULL);
    char longhost[300];
    memset(longhost, 'a', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    host_of(longhost, NULL);
    /* a buffer too small is a refusal, never an overflow */
    char small[4];
    assert_int_equal(sluice_url_host("shop.acme.test", 14, small, sizeof(small)), -1);
}

static void param_is(const char *url, const char *name, int want_rc, const char *want)
{
    char out[64];
    size_t len = 99;
    int rc = sluice_url_param(url, name, out, sizeof(out), &len);
    assert_int_equal(rc, want_rc);
    if (want_rc == 1) {
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
    } else {
        assert_string_equal(out, "");
        assert_int_equal(len, 0);
    }
}

static void params(void **state)
{
    (void)state;
    param_is("https://shop.acme.test/?gclid=abc", "gclid", 1, "abc");
    param_is("https://shop.acme.test/p?utm_source=x&gclid=abc&utm_medium=y", "gclid", 1, "abc");
    param_is("https://shop.acme.test/p?q=a%20b%2Bc+d", "q", 1, "a b+c d");
    param_is("https://shop.acme.test/p?%67clid=enc", "gclid", 1, "enc");
    param_is("https://shop.acme.test/p?gclid=first&gclid=second", "gclid", 1, "first");
    param_is("https://shop.acme.test/p?gclid=", "gclid", 1, "");
    param_is("https://shop.acme.test/p?gclid", "gclid", 1, "");
    /* An empty copy carries nothing: the first copy with a value wins (a landing-page template's
     * unfilled "gclid=" before the one the ad network's auto-tagging appends). */
    param_is("https://shop.acme.test/p?gclid=&gclid=REAL", "gclid", 1, "REAL");
    param_is("https://shop.acme.test/p?gclid&utm_source=x&gclid=REAL&gclid=late", "gclid", 1, "REAL");
    param_is("https://shop.acme.test/p?_dft=&x=1&_dft=tok", "_dft", 1, "tok");
    param_is("https://shop.acme.test/p?gclid=&gclid", "gclid", 1, "");
    param_is("https://shop.acme.test/p?gclid=a#frag", "gclid", 1, "a");
    param_is("?a=1&b=2", "b", 1, "2");
    /* absent */
    param_is("https://shop.acme.test/p", "gclid", 0, NULL);
    param_is("https://shop.acme.test/p?xgclid=1&gclidx=2", "gclid", 0, NULL);
    param_is("https://shop.acme.test/p#?gclid=in-fragment", "gclid", 0, NULL);
    param_is("https://shop.acme.test/p?a=1#gclid=2", "gclid", 0, NULL);
    /* badly encoded, an encoded NUL, or too long */
    param_is("https://shop.acme.test/p?gclid=%zz", "gclid", -1, NULL);
    param_is("https://shop.acme.test/p?gclid=ab%2", "gclid", -1, NULL);
    param_is("https://shop.acme.test/p?gclid=a%00b", "gclid", -1, NULL);
    char url[200] = "https://shop.acme.test/p?gclid=";
    memset(url + strlen(url), 'x', 100);
    param_is(url, "gclid", -1, NULL);
}

/* sluice_url_params_raw, decoded, finds what sluice_url_param finds for every name at once. */
static void params_at_once(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "https://shop.acme.test/?gclid=abc",
        "https://shop.acme.test/p?utm_source=x&gclid=abc&fbclid=F&utm_medium=y",
        "https://shop.acme.test/p?%67clid=enc&gclid=second&fbclid=&fbclid=late",
        "https://shop.acme.test/p?fbclid&gclid=a#frag&ttclid=no",
        "https://shop.acme.test/p?gclid=%zz&fbclid=ok&ttclid=a%00b",
        "https://shop.acme.test/p#?gclid=in-fragment",
        "?ttclid=1&gclid=2&&=&fbclid=%66",
        "https://shop.acme.test/p",
    };
    static const char *const names[] = {"gclid", "fbclid", "ttclid", "absent"};
    for (size_t u = 0; u < sizeof(urls) / sizeof(urls[0]); u++) {
        struct iovec raw[4];
        size_t found = sluice_url_params_raw(urls[u], names, 4, raw);
        size_t want_found = 0;
        for (size_t i = 0; i < 4; i++) {
            char one[64], many[64];
            size_t n1 = 0, n2 = 0;
            int rc = sluice_url_param(urls[u], names[i], one, sizeof(one), &n1);
            if (rc == 0) {
                assert_null(raw[i].iov_base);
                continue;
            }
            want_found++;
            assert_non_null(raw[i].iov_base);
            int drc = sluice_pct_decode(raw[i].iov_base, raw[i].iov_len, many, sizeof(many), &n2);
            assert_int_equal(drc == 0 ? 1 : -1, rc);
            if (rc == 1) {
                assert_int_equal(n1, n2);
                assert_memory_equal(one, many, n1);
            }
        }
        assert_int_equal(found, want_found);
    }
}

static void removed(const char *in, const char *want, size_t want_n)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", in);
    assert_int_equal(sluice_url_remove_param(buf, "_dft"), want_n);
    assert_string_equal(buf, want);
}

static void remove_param(void **state)
{
    (void)state;
    removed("https://checkout.test/p?_dft=TOKEN", "https://checkout.test/p", 1);
    removed("https://checkout.test/p?_dft=TOKEN&a=1", "https://checkout.test/p?a=1", 1);
    removed("https://checkout.test/p?a=1&_dft=TOKEN", "https://checkout.test/p?a=1", 1);
    removed("https://checkout.test/p?a=1&_dft=TOKEN&b=2#frag", "https://checkout.test/p?a=1&b=2#frag", 1);
    removed("https://checkout.test/p?_dft=TOKEN#frag", "https://checkout.test/p#frag", 1);
    removed("https://checkout.test/p?%5Fdft=TOKEN&a=1", "https://checkout.test/p?a=1", 1);
    removed("https://checkout.test/p?_dft=A&_dft=B&c=3", "https://checkout.test/p?c=3", 2);
    removed("?_dft=T&q=1", "?q=1", 1);
    removed("?_dft=T", "", 1);
    removed("https://checkout.test/p?_dft", "https://checkout.test/p", 1);
    /* left alone */
    removed("https://checkout.test/p?_dftx=1&x_dft=2", "https://checkout.test/p?_dftx=1&x_dft=2", 0);
    removed("https://checkout.test/p#_dft=T", "https://checkout.test/p#_dft=T", 0);
    removed("https://checkout.test/p", "https://checkout.test/p", 0);
    removed("", "", 0);
}

static void without_userinfo(const char *in, const char *want, int want_rc)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", in);
    assert_int_equal(sluice_url_remove_userinfo(buf), want_rc);
    assert_string_equal(buf, want);
}

/* A password in a page URL (a basic-auth staging site) never reaches Kafka. */
static void remove_userinfo(void **state)
{
    (void)state;
    without_userinfo("https://user:secret@staging.shop.test/p?a=1", "https://staging.shop.test/p?a=1", 1);
    without_userinfo("https://admin:hunter2@10.0.0.1:8443/", "https://10.0.0.1:8443/", 1);
    without_userinfo("HTTP://jane@example.com@shop.test#x", "HTTP://shop.test#x", 1); /* the last '@' */
    without_userinfo("//user:pw@cdn.test/a", "//cdn.test/a", 1);
    without_userinfo("https://user:pw@host.test", "https://host.test", 1);
    without_userinfo("https://u:p@h.test\\x@y", "https://h.test\\x@y", 1); /* '\\' ends a special authority */
    /* left alone: '@' outside the authority, no authority, not a URL */
    without_userinfo("https://shop.test/u/jane@example.com", "https://shop.test/u/jane@example.com", 0);
    without_userinfo("https://shop.test/p?email=jane@example.com", "https://shop.test/p?email=jane@example.com", 0);
    without_userinfo("https://shop.test#a@b", "https://shop.test#a@b", 0);
    without_userinfo("mailto:jane@example.com", "mailto:jane@example.com", 0);
    without_userinfo("jane@example.com", "jane@example.com", 0);
    without_userinfo("/relative@x", "/relative@x", 0);
    without_userinfo("", "", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hosts),        cmocka_unit_test(params),          cmocka_unit_test(params_at_once),
        cmocka_unit_test(remove_param), cmocka_unit_test(remove_userinfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for identity/url.c: hosts of origins and links, one decoded query parameter, removing
 * `_dft` from URLs in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hosts),
        cmocka_unit_test(params),
        cmocka_unit_test(remove_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for vendors/ga4.c: the exact Measurement Protocol request for the reference envelope
 * (golden file), client_id from _ga or the anonymous id, grouping by client, user_data only with
 * a user_id and from the `google` hash variants, names and parameters cut to GA4's limits, page
 * and screen events, the 72-hour rule, and the debug endpoint's URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vendors/vfix.h"
#include "vendors/ga4.h"
#include "vendors/vendor.h"

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

/* The mapped event and (as an object) its group. */
static json_t *mapped(const char *edit, json_t **group)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_non_null(item.group);
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_non_null(ev);
    if (group != NULL) {
        char wrapped[8192];
        snprintf(wrapped, sizeof(wrapped), "{%s}", item.group);
        *group = json_loads(wrapped, 0, NULL);
        assert_non_null(*group);
    }
    sluice_vendor_item_dispose(&item);
    free(raw);
    return ev;
}

static void test_golden_request(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "ga4");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "api_secret", "s3cr/t");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_ga4.build(it, secret, item.group, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://ga4.test/mp/collect?measurement_id=G-TEST123&api_secret=s3cr%2Ft");
    char *golden = vfix_read("ga4.json", NULL);
    if (strcmp(req.body, golden) != 0)
        print_error("body:\n%s\n", req.body);
    assert_string_equal(req.body, golden);
    free(golden);
    sluice_vendor_request_dispose(&req);
    /* The validation endpoint: same body, another path. */
    assert_int_equal(sluice_ga4_build_debug(it, secret, item.group, items, 1, &req, &err), 0);
    assert_string_equal(req.url, "https://ga4.test/debug/mp/collect?measurement_id=G-TEST123&api_secret=s3cr%2Ft");
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void test_client_id(void **state)
{
    (void)state;
    json_t *g;
    json_t *ev = mapped(NULL, &g);
    assert_string_equal(json_string_value(json_object_get(g, "client_id")), "1234567890.1763900000");
    json_decref(ev);
    json_decref(g);
    /* Without a _ga cookie (or with a malformed one): the anonymous id. */
    ev = mapped("{\"context\":{\"userAgent\":\"UA\"}}", &g);
    assert_string_equal(json_string_value(json_object_get(g, "client_id")), "a1b2c3d4-0000-4000-8000-000000000001");
    json_decref(ev);
    json_decref(g);
    ev = mapped("{\"context\":{\"vendorIds\":{\"ga\":\"GA1\"}}}", &g);
    assert_string_equal(json_string_value(json_object_get(g, "client_id")), "a1b2c3d4-0000-4000-8000-000000000001");
    json_decref(ev);
    json_decref(g);
    /* The client id as gtag('get', …, 'client_id') gives it: the same visitor as gtag's. Before,
     * the anonymous id went instead, and GA4 counted two users. Not a number pair: not one. */
    ev = mapped("{\"context\":{\"vendorIds\":{\"ga\":\"918273645.1700000000\"}}}", &g);
    assert_string_equal(json_string_value(json_object_get(g, "client_id")), "918273645.1700000000");
    json_decref(ev);
    json_decref(g);
    ev = mapped("{\"context\":{\"vendorIds\":{\"ga\":\"abc.123\"}}}", &g);
    assert_string_equal(json_string_value(json_object_get(g, "client_id")), "a1b2c3d4-0000-4000-8000-000000000001");
    json_decref(ev);
    json_decref(g);
}

static void test_user_data(void **state)
{
    (void)state;
    json_t *g;
    json_t *ev = mapped(NULL, &g);
    json_t *ud = json_object_get(g, "user_data");
    /* Google's variants: the gmail address without dots, the phone with '+'. */
    assert_string_equal(json_string_value(json_array_get(json_object_get(ud, "sha256_email_address"), 0)),
                        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ud, "sha256_phone_number"), 0)),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    json_decref(ev);
    json_decref(g);
    /* No user_id: GA4 takes no user_data. */
    ev = mapped("{\"userId\":null}", &g);
    assert_null(json_object_get(g, "user_id"));
    assert_null(json_object_get(g, "user_data"));
    json_decref(ev);
    json_decref(g);
}

/* The consent of an integration's request, as GA4 reads it. Caller decrefs; NULL: none. */
static json_t *request_consent(const char *integration, const char *edit, char **group)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    const sluice_integration_t *it = vfix_integration(cfg, integration);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "api_secret", "s");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_ga4.build(it, secret, item.group, items, 1, VFIX_NOW_MS, &req, &err), 0);
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    assert_non_null(body);
    assert_int_equal(json_array_size(json_object_get(body, "events")), 1);
    json_t *consent = json_incref(json_object_get(body, "consent"));
    if (group != NULL)
        *group = strdup(item.group);
    json_decref(body);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
    return consent;
}

/* The request's consent: the Measurement Protocol takes consent.ad_user_data, and Google's EU user
 * consent policy wants EEA users' choices passed on. The org names the category that means it
 * (ad_user_data_consent): GRANTED when the event carries it, DENIED when not, whatever the
 * integration's own consent filter (analytics here). Before, no GA4 request carried consent. */
static void test_consent(void **state)
{
    (void)state;
    char *g_granted, *g_denied;
    json_t *c = request_consent("ga4-eea", NULL, &g_granted); /* categories: analytics, marketing */
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "ad_user_data")), "GRANTED");
    assert_int_equal(json_object_size(c), 1); /* ad_personalization: not the worker's to say */
    json_decref(c);
    c = request_consent("ga4-eea", "{\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}}", &g_denied);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "ad_user_data")), "DENIED");
    json_decref(c);
    /* One request speaks for one choice: the same client in two groups. */
    assert_string_not_equal(g_granted, g_denied);
    free(g_granted);
    free(g_denied);
    /* Without the option the worker knows nothing of it and says nothing. */
    assert_null(request_consent("ga4", NULL, NULL));
}

static void test_groups(void **state)
{
    (void)state;
    size_t la, lb, lc;
    char *a = vfix_envelope("{\"messageId\":\"m1\"}", &la), *b = vfix_envelope("{\"messageId\":\"m2\"}", &lb),
         *c = vfix_envelope("{\"anonymousId\":\"other\",\"context\":{\"userAgent\":\"UA\"}}", &lc);
    sluice_vendor_item_t ia, ib, ic;
    char why[256];
    const sluice_integration_t *it = vfix_integration(cfg, "ga4");
    vfix_map(it, a, la, VFIX_NOW_MS, SLUICE_MAP_OK, &ia, why, sizeof(why));
    vfix_map(it, b, lb, VFIX_NOW_MS, SLUICE_MAP_OK, &ib, why, sizeof(why));
    vfix_map(it, c, lc, VFIX_NOW_MS, SLUICE_MAP_OK, &ic, why, sizeof(why));
    assert_string_equal(ia.group, ib.group); /* one client: one request can carry both */
    assert_string_not_equal(ia.group, ic.group);
    sluice_vendor_item_dispose(&ia);
    sluice_vendor_item_dispose(&ib);
    sluice_vendor_item_dispose(&ic);
    free(a);
    free(b);
    free(c);
}

static void test_limits(void **state)
{
    (void)state;
    char edit[16384];
    int n = snprintf(edit, sizeof(edit),
                     "{\"event\":\"9 Lives: a very long custom event name that goes on and on\","
                     "\"properties\":{\"long\":\"");
    for (int i = 0; i < 150; i++)
        edit[n++] = (char)('a' + i % 26);
    n += snprintf(edit + n, sizeof(edit) - (size_t)n, "\",\"nested\":{\"x\":1},\"hashed\":\"%s\",\"flag\":true",
                  "85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846");
    for (int i = 0; i < 40; i++)
        n += snprintf(edit + n, sizeof(edit) - (size_t)n, ",\"p%02d\":%d", i, i);
    snprintf(edit + n, sizeof(edit) - (size_t)n, "}}");
    json_t *ev = mapped(edit, NULL);
    const char *name = json_string_value(json_object_get(ev, "name"));
    assert_string_equal(name, "e_9_Lives__a_very_long_custom_event_name"); /* 40 characters */
    assert_int_equal(strlen(name), 40);
    json_t *params = json_object_get(ev, "params");
    assert_int_equal(json_object_size(params), 25);
    assert_int_equal(json_string_length(json_object_get(params, "long")), 100);
    assert_null(json_object_get(params, "nested"));
    assert_null(json_object_get(params, "hashed")); /* hashed PII stays out of GA4 parameters */
    assert_string_equal(json_string_value(json_object_get(params, "flag")), "true");
    json_decref(ev);
}

/* GA4's policy forbids PII in parameters, hashed or not, so digests stay out of them. Only 64
 * lowercase hex digits counted as one: a site's own SHA-256 of an e-mail in upper case (.NET's
 * and Java's usual hex) or in Base64 went to GA4 as a custom parameter. */
static void test_digests_stay_out(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"event\":\"Signed Up\",\"properties\":{"
                        "\"em_upper\":\"62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F\","
                        "\"em_mixed\":\"62a14e44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F\","
                        "\"em_b64\":\"YqFORPdlQZ0Q/qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8=\","
                        "\"em_b64url\":\"YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8\","
                        "\"plan\":\"PRO\",\"ref\":\"ABCDEF0123\"}}",
                        NULL);
    json_t *params = json_object_get(ev, "params");
    assert_null(json_object_get(params, "em_upper"));
    assert_null(json_object_get(params, "em_mixed"));
    assert_null(json_object_get(params, "em_b64"));
    assert_null(json_object_get(params, "em_b64url"));
    assert_string_equal(json_string_value(json_object_get(params, "plan")), "PRO"); /* words stay */
    assert_string_equal(json_string_value(json_object_get(params, "ref")), "ABCDEF0123");
    json_decref(ev);
}

/* Segment's single-product events (Product Viewed, Product Added, Product Removed...) carry the
 * product in properties itself, with no products[] array. GA4's view_item, add_to_cart and
 * remove_from_cart need it in items: they went without items, so GA4's e-commerce reports never
 * saw the product (Meta and TikTok already read such a product into their contents). */
static void test_single_product(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"event\":\"Product Added\",\"properties\":{\"product_id\":\"P9\",\"sku\":\"S9\","
                        "\"name\":\"Mug\",\"price\":9.5,\"quantity\":2,\"currency\":\"EUR\"}}",
                        NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "add_to_cart");
    json_t *items = json_object_get(json_object_get(ev, "params"), "items");
    if (json_array_size(items) != 1) {
        char *s = json_dumps(ev, JSON_COMPACT);
        print_error("event: %s\n", s);
        free(s);
    }
    assert_int_equal(json_array_size(items), 1);
    json_t *item = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(item, "item_id")), "P9");
    assert_string_equal(json_string_value(json_object_get(item, "item_name")), "Mug");
    assert_true(json_real_value(json_object_get(item, "price")) == 9.5);
    assert_int_equal(json_integer_value(json_object_get(item, "quantity")), 2);
    json_decref(ev);
    /* A track event whose properties merely have a name is no product: no item is made up. */
    ev = mapped("{\"event\":\"Video Played\",\"properties\":{\"name\":\"Intro\"}}", NULL);
    assert_null(json_object_get(json_object_get(ev, "params"), "items"));
    json_decref(ev);
    /* An empty products[] list is the event's own word: no item from the properties either. */
    ev = mapped("{\"event\":\"Order Completed\",\"properties\":{\"product_id\":\"P9\",\"products\":[]}}", NULL);
    assert_null(json_object_get(json_object_get(ev, "params"), "items"));
    json_decref(ev);
}

/* GA4 answers 2xx to everything and silently drops an event whose name it reserves (`error`,
 * `session_start`…) and a name or parameter with a reserved prefix (`ga_`, `google_`,
 * `firebase_`): such events were counted delivered and never seen. A reserved event name is
 * dead-lettered with the reason (the name is GA4's own word, safe to show; a mapping can rename
 * it); a reserved prefix gets the "e_" a name not starting with a letter gets. */
static void test_reserved_names(void **state)
{
    (void)state;
    static const char *const reserved[] = {"error", "session_start", "first_visit", "user_engagement"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        char edit[128];
        snprintf(edit, sizeof(edit), "{\"event\":\"%s\",\"properties\":{}}", reserved[i]);
        size_t len;
        char *raw = vfix_envelope(edit, &len);
        sluice_vendor_item_t item;
        char why[256] = "", want[160];
        vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_NOW_MS, SLUICE_MAP_DEAD, &item, why, sizeof(why));
        snprintf(want, sizeof(want), "event name %s is reserved by GA4 (GA4 drops it; rename it in mapping.events)",
                 reserved[i]);
        assert_string_equal(why, want);
        free(raw);
    }
    json_t *ev = mapped("{\"event\":\"ga_checkout\",\"properties\":{\"google_ref\":\"x\",\"firebase_id\":2,"
                        "\"gallery\":\"g\"}}",
                        NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "e_ga_checkout");
    json_t *params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "e_google_ref")), "x");
    assert_int_equal(json_integer_value(json_object_get(params, "e_firebase_id")), 2);
    assert_string_equal(json_string_value(json_object_get(params, "gallery")), "g"); /* not a prefix: kept */
    assert_null(json_object_get(params, "google_ref"));
    json_decref(ev);
    ev = mapped("{\"event\":\"google-step\",\"properties\":{}}", NULL); /* reserved once cleaned */
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "e_google_step");
    json_decref(ev);
}

/* A string of n copies of unit (a UTF-8 character), in buf. */
static void repeat(char *buf, size_t cap, const char *prefix, const char *unit, size_t n)
{
    size_t o = (size_t)snprintf(buf, cap, "%s", prefix);
    for (size_t i = 0; i < n && o + strlen(unit) < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s", unit);
}

/* GA4 takes page_location up to 1,000 characters, page_referrer up to 420 and page_title up to
 * 300 (only other parameter values stop at 100). They were cut at 100 like the rest, so a
 * landing page's utm_campaign and gclid past the 100th character never reached GA4: the visit's
 * campaign was lost. Cuts fall between characters. */
static void test_page_limits(void **state)
{
    (void)state;
    static char url[1400], ref[600], title[1200], edit[6000];
    repeat(url, sizeof(url), "https://shop.acme.test/landing/", "p", 200);
    size_t ul = strlen(url);
    snprintf(url + ul, sizeof(url) - ul, "?utm_source=news&utm_medium=email&utm_campaign=winter&gclid=Cj0KCQ");
    repeat(ref, sizeof(ref), "https://ref.test/", "r", 300);
    repeat(title, sizeof(title), "", "\xc3\xa9", 350); /* é: 350 characters, 700 bytes */
    snprintf(edit, sizeof(edit),
             "{\"type\":\"page\",\"name\":\"Landing\",\"properties\":{},\"context\":{\"userAgent\":\"UA\","
             "\"page\":{\"url\":\"%s\",\"referrer\":\"%s\",\"title\":\"%s\"}}}",
             url, ref, title);
    json_t *ev = mapped(edit, NULL);
    json_t *params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "page_location")), url); /* 298: whole */
    assert_string_equal(json_string_value(json_object_get(params, "page_referrer")), ref); /* 317: whole */
    const char *t = json_string_value(json_object_get(params, "page_title"));
    assert_non_null(t);
    assert_int_equal(strlen(t), 600); /* 300 characters of 2 bytes */
    assert_memory_equal(t, title, 600);
    json_decref(ev);
    /* Past GA4's own limits they are cut there: 1,000 characters of URL. */
    repeat(url, sizeof(url), "https://shop.acme.test/", "u", 1200);
    snprintf(edit, sizeof(edit),
             "{\"type\":\"page\",\"name\":\"Landing\",\"properties\":{},\"context\":{\"userAgent\":\"UA\","
             "\"page\":{\"url\":\"%s\"}}}",
             url);
    ev = mapped(edit, NULL);
    assert_int_equal(json_string_length(json_object_get(json_object_get(ev, "params"), "page_location")), 1000);
    json_decref(ev);
}

/* A URL that carries a digest (an email tool's link with the recipient's hashed address in
 * utm_term or ?em=, an unsubscribe path ending in one) went to GA4 whole in page_location and
 * page_referrer, while every other parameter leaves digests out: GA4's policy forbids PII,
 * hashed or not. Each digest (hex, Base64, base64url) between a URL's separators is replaced
 * with "(redacted)", as GA4's own data redaction writes it; the rest of the URL is kept. */
static void test_page_location_digests_redacted(void **state)
{
    (void)state;
    json_t *ev = mapped(
        "{\"type\":\"page\",\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/u/"
        "85E8CBCC4FAB8DF4F45E9E396B5B367A54AF6CC13F9B5433D3E12F4E9C0A1846?utm_source=mail&"
        "utm_term=85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846&"
        "em=YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8&id=12345#s=YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8=\","
        "\"referrer\":\"https://mail.acme.test/"
        "open?h=85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846\","
        "\"title\":\"Hi\"}},\"properties\":{}}",
        NULL);
    json_t *params = json_object_get(ev, "params");
    assert_non_null(json_object_get(params, "page_location"));
    assert_string_equal(json_string_value(json_object_get(params, "page_location")),
                        "https://shop.acme.test/u/(redacted)?utm_source=mail&utm_term=(redacted)&em=(redacted)&"
                        "id=12345#s=(redacted)");
    assert_non_null(json_object_get(params, "page_referrer"));
    assert_string_equal(json_string_value(json_object_get(params, "page_referrer")),
                        "https://mail.acme.test/open?h=(redacted)");
    json_decref(ev);
    /* Near misses stay: 63 hex digits, a 43-character value whose last character carries bits a
     * digest's cannot. */
    ev = mapped("{\"type\":\"page\",\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/?a="
                "85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a184&b="
                "YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i9\"}},\"properties\":{}}",
                NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "params"), "page_location")),
                        "https://shop.acme.test/?a=85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a184&b="
                        "YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i9");
    json_decref(ev);
}

/* The digests redaction missed: a standard Base64 digest as encodeURIComponent writes it in a
 * query (its '+', '/' and '=' as %2B, %2F, %3D: three digests in four have one) or unencoded with
 * a '/', and the same URL again in a page event's own properties (analytics.js sends url, search
 * and referrer there too, as custom parameters). And a page's 43-character slug of small letters,
 * digits and '-' is no digest: it stays. */
static void test_page_location_digests_encoded(void **state)
{
    (void)state;
    json_t *ev =
        mapped("{\"type\":\"page\",\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/p/"
               "mens-trail-running-shoes-blue-waterproof-48?em=jIe0ic41zy4vOfgOKCyy6ASTKlaiE5g%2B7rQoQH1DtS0%3D&"
               "h=X+zrZv/IbzjZUnhsbWlsecLbwjndTpG0ZynXOif7V+k=&x=1\"}},"
               "\"properties\":{\"url\":\"https://shop.acme.test/?em=YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8\","
               "\"search\":\"?em=YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8\",\"path\":\"/\"}}",
               NULL);
    json_t *params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "url")), "https://shop.acme.test/?em=(redacted)");
    assert_string_equal(json_string_value(json_object_get(params, "search")), "?em=(redacted)");
    assert_string_equal(json_string_value(json_object_get(params, "page_location")),
                        "https://shop.acme.test/p/mens-trail-running-shoes-blue-waterproof-48?em=(redacted)&"
                        "h=(redacted)&x=1");
    assert_string_equal(json_string_value(json_object_get(params, "path")), "/");
    json_decref(ev);
}

static void test_page_screen_skip(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"type\":\"page\",\"name\":\"Thanks\",\"properties\":{}}", NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "page_view");
    json_t *params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "page_location")),
                        "https://shop.acme.test/checkout/done?fbclid=IwAR2xQ");
    assert_string_equal(json_string_value(json_object_get(params, "page_title")), "Thank you");
    assert_string_equal(json_string_value(json_object_get(params, "page_referrer")), "https://shop.acme.test/cart");
    json_decref(ev);
    ev = mapped("{\"type\":\"screen\",\"name\":\"Home\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "screen_view");
    assert_non_null(json_object_get(json_object_get(ev, "params"), "screen_name"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "params"), "screen_name")), "Home");
    json_decref(ev);
    /* RudderStack's screen: its name in `event` and `properties.name`, no `name`. */
    ev = mapped("{\"type\":\"screen\",\"event\":\"Cart\",\"properties\":{\"name\":\"Cart\"}}", NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "screen_view");
    assert_non_null(json_object_get(json_object_get(ev, "params"), "screen_name"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "params"), "screen_name")), "Cart");
    json_decref(ev);
    size_t len;
    char *raw = vfix_envelope("{\"type\":\"identify\"}", &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_NOW_MS, SLUICE_MAP_SKIP, &item, why, sizeof(why));
    free(raw);
}

static void test_72_hours(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_RECEIVED_MS + 73LL * 3600000, SLUICE_MAP_DEAD, &item, why,
             sizeof(why));
    assert_non_null(strstr(why, "72 hours"));
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_RECEIVED_MS + 71LL * 3600000, SLUICE_MAP_OK, &item, why,
             sizeof(why));
    sluice_vendor_item_dispose(&item);
    free(raw);
}

static void test_classify(void **state)
{
    (void)state;
    char why[128];
    assert_int_equal(sluice_vendor_ga4.classify(204, "", 0, why, sizeof(why)), SLUICE_VERDICT_OK);
    /* A page in GA4's place (a captive portal, a proxy) delivered nothing: retried. */
    const char *page = "<html><body>Welcome to the guest network</body></html>";
    assert_int_equal(sluice_vendor_ga4.classify(200, page, strlen(page), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 with a body that is not JSON: not an answer from GA4 (a proxy?)");
    assert_int_equal(sluice_vendor_ga4.classify(200, "{}", 2, why, sizeof(why)), SLUICE_VERDICT_OK);
    assert_int_equal(sluice_vendor_ga4.classify(503, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_ga4.classify(400, "", 0, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400");
}

/* GA4 takes event and parameter names in any script ("Event names can include English and
 * non-English words and letters", Analytics help, "Event naming rules"). Each byte of a
 * non-ASCII name became '_': every Japanese event was one "e_____..." event in GA4, and two
 * Japanese properties of one length were one parameter (the second lost). */
static void test_names_in_any_script(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"event\":\"購入完了\",\"properties\":{\"色\":\"赤\",\"形\":\"丸\",\"Größe\":\"M\"}}", NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "購入完了");
    json_t *params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "色")), "赤");
    assert_string_equal(json_string_value(json_object_get(params, "形")), "丸");
    assert_string_equal(json_string_value(json_object_get(params, "Größe")), "M");
    json_decref(ev);
    /* Not a letter first (a digit of any script, a symbol): "e_"; punctuation and emoji are one
     * '_' per character; the 40 counts characters, not bytes. */
    ev = mapped("{\"event\":\"٣ خطوة\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "e_٣_خطوة");
    json_decref(ev);
    ev = mapped("{\"event\":\"注文🛒完了\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "注文_完了");
    json_decref(ev);
    ev = mapped(
        "{\"event\":\"ああああああああああああああああああああああああああああああああああああああああああああああ\"}",
        NULL);
    const char *name = json_string_value(json_object_get(ev, "name"));
    assert_int_equal(strlen(name), 40 * 3);
    json_decref(ev);
}

/* The session GA4 puts an event in: without session_id and engagement_time_msec a Measurement
 * Protocol event is in no session (missing from session reports, realtime and engaged sessions).
 * Before, GA4 got neither. The gateway's session: session_id its start in Unix seconds (gtag's
 * form), session_number its number; engagement_time_msec 1 (sluice measures none). */
static void test_session(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"context\":{\"session\":{\"id\":\"0123456789abcdef0123456789abcdef\",\"number\":3,"
                        "\"start\":\"2026-11-23T14:30:00.000Z\"}}}",
                        NULL);
    json_t *params = json_object_get(ev, "params");
    assert_true(json_is_integer(json_object_get(params, "session_id")));
    assert_int_equal(json_integer_value(json_object_get(params, "session_id")), 1795444200);
    assert_int_equal(json_integer_value(json_object_get(params, "session_number")), 3);
    assert_int_equal(json_integer_value(json_object_get(params, "engagement_time_msec")), 1);
    json_decref(ev);
    /* The site's own gtag session (properties.session_id, from gtag('get')) wins: the server's
     * events then join the gtag session instead of making a second one; so does its engagement. */
    ev = mapped("{\"properties\":{\"session_id\":\"1795444000\",\"session_number\":7,\"engagement_time_msec\":"
                "5400},\"context\":{\"session\":{\"id\":\"0123456789abcdef0123456789abcdef\",\"number\":3,"
                "\"start\":\"2026-11-23T14:30:00.000Z\"}}}",
                NULL);
    params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "session_id")), "1795444000");
    assert_int_equal(json_integer_value(json_object_get(params, "session_number")), 7);
    assert_int_equal(json_integer_value(json_object_get(params, "engagement_time_msec")), 5400);
    json_decref(ev);
    /* An app SDK's own session (RudderStack's context.sessionId) when the gateway kept none. */
    ev = mapped("{\"context\":{\"sessionId\":1795444123456}}", NULL);
    params = json_object_get(ev, "params");
    assert_int_equal(json_integer_value(json_object_get(params, "session_id")), 1795444123456LL);
    assert_null(json_object_get(params, "session_number"));
    json_decref(ev);
    /* 25 parameters at most: the session's are never the ones cut. */
    char edit[2048];
    int o = snprintf(edit, sizeof(edit),
                     "{\"context\":{\"session\":{\"number\":1,\"start\":\"2026-11-23T14:30:00.000Z\"}},"
                     "\"properties\":{");
    for (int i = 0; i < 40; i++)
        o += snprintf(edit + o, sizeof(edit) - (size_t)o, "%s\"p%02d\":%d", i ? "," : "", i, i);
    snprintf(edit + o, sizeof(edit) - (size_t)o, "}}");
    ev = mapped(edit, NULL);
    params = json_object_get(ev, "params");
    assert_int_equal(json_object_size(params), 25);
    assert_int_equal(json_integer_value(json_object_get(params, "session_id")), 1795444200);
    assert_non_null(json_object_get(params, "engagement_time_msec"));
    json_decref(ev);
}

/* The page goes with every event, as gtag's does: a purchase without page_location is "(not set)"
 * in GA4's page reports. Before, only page_view had it. A page event from a server library, whose
 * page is only in its properties (Segment's url, title, referrer), got no page_location at all. */
static void test_page_everywhere(void **state)
{
    (void)state;
    json_t *ev = mapped(NULL, NULL); /* the reference purchase, on the thank-you page */
    json_t *params = json_object_get(ev, "params");
    assert_non_null(json_object_get(params, "page_location"));
    assert_string_equal(json_string_value(json_object_get(params, "page_location")),
                        "https://shop.acme.test/checkout/done?fbclid=IwAR2xQ");
    assert_string_equal(json_string_value(json_object_get(params, "page_title")), "Thank you");
    assert_string_equal(json_string_value(json_object_get(params, "page_referrer")), "https://shop.acme.test/cart");
    json_decref(ev);
    ev = mapped("{\"type\":\"page\",\"context\":{\"page\":null},\"properties\":{\"url\":\"https://shop.acme.test/"
                "p?utm_source=news\",\"title\":\"Mugs\",\"referrer\":\"https://news.test/\"}}",
                NULL);
    params = json_object_get(ev, "params");
    assert_non_null(json_object_get(params, "page_location"));
    assert_string_equal(json_string_value(json_object_get(params, "page_location")),
                        "https://shop.acme.test/p?utm_source=news");
    assert_string_equal(json_string_value(json_object_get(params, "page_title")), "Mugs");
    assert_string_equal(json_string_value(json_object_get(params, "page_referrer")), "https://news.test/");
    json_decref(ev);
}

/* The page fields every event now carries yield to the event's own parameters: an order of 24
 * parameters (value, currency, transaction_id, items and 20 of the site's) went whole to GA4
 * before they came; then page_location, page_title and page_referrer, set first, took the last
 * three of the site's places and p17, p18 and p19 were lost without a word. */
static void test_own_params_before_page(void **state)
{
    (void)state;
    char edit[2048];
    int o = snprintf(edit, sizeof(edit),
                     "{\"properties\":{\"order_id\":\"ORD-1\",\"revenue\":10,\"currency\":\"EUR\","
                     "\"products\":[{\"product_id\":\"SKU-1\"}]");
    for (int i = 0; i < 20; i++)
        o += snprintf(edit + o, sizeof(edit) - (size_t)o, ",\"p%02d\":%d", i, i);
    snprintf(edit + o, sizeof(edit) - (size_t)o, "}}");
    json_t *ev = mapped(edit, NULL); /* the reference's context.page: a thank-you page */
    json_t *params = json_object_get(ev, "params");
    assert_int_equal(json_object_size(params), 25);
    for (int i = 0; i < 20; i++) {
        char k[8];
        snprintf(k, sizeof(k), "p%02d", i);
        if (json_object_get(params, k) == NULL)
            fail_msg("the site's parameter %s was cut", k);
    }
    assert_non_null(json_object_get(params, "engagement_time_msec"));
    assert_non_null(json_object_get(params, "transaction_id"));
    assert_non_null(json_object_get(params, "items"));
    json_decref(ev);
    /* With room left, the page still goes with the event. */
    ev = mapped("{\"properties\":{\"order_id\":\"ORD-1\",\"revenue\":10,\"coupon\":\"W\"}}", NULL);
    params = json_object_get(ev, "params");
    assert_string_equal(json_string_value(json_object_get(params, "page_location")),
                        "https://shop.acme.test/checkout/done?fbclid=IwAR2xQ");
    assert_string_equal(json_string_value(json_object_get(params, "coupon")), "W");
    json_decref(ev);
}

/* A site's own session_id property that is not gtag's (its app's session, a UUID) is no GA4
 * session id (GA4's is a number, the session's start in seconds): before, it took the place of
 * the gateway's session, and the event was in no GA4 session. The gateway's session stays. */
static void test_foreign_session_id(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"properties\":{\"session_id\":\"b1946ac9-2c8d-4f44-9d07-5e4a5b8c3d21\"},"
                        "\"context\":{\"session\":{\"id\":\"0123456789abcdef0123456789abcdef\",\"number\":3,"
                        "\"start\":\"2026-11-23T14:30:00.000Z\"}}}",
                        NULL);
    json_t *params = json_object_get(ev, "params");
    assert_true(json_is_integer(json_object_get(params, "session_id")));
    assert_int_equal(json_integer_value(json_object_get(params, "session_id")), 1795444200);
    assert_int_equal(json_integer_value(json_object_get(params, "session_number")), 3);
    json_decref(ev);
    /* gtag's, as a whole number too, stays the site's. */
    ev = mapped("{\"properties\":{\"session_id\":1795444000},\"context\":{\"session\":{\"number\":3,"
                "\"start\":\"2026-11-23T14:30:00.000Z\"}}}",
                NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "params"), "session_id")), 1795444000);
    json_decref(ev);
}

/* The site's engagement time as Google's Measurement Protocol examples write it, a string of
 * digits ("engagement_time_msec": "100"): before, replaced by 1. */
static void test_engagement_text(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"properties\":{\"engagement_time_msec\":\"5400\"}}", NULL);
    json_t *eng = json_object_get(json_object_get(ev, "params"), "engagement_time_msec");
    assert_true(json_is_integer(eng));
    assert_int_equal(json_integer_value(eng), 5400);
    json_decref(ev);
    /* Not a number, or none: 1, the least GA4 counts. */
    ev = mapped("{\"properties\":{\"engagement_time_msec\":\"long\"}}", NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "params"), "engagement_time_msec")), 1);
    json_decref(ev);
}

/* Where the visitor was: the gateway's geolocation (context.location) as user_location. GA4 sees
 * the gateway's host send the request, so before every server event was placed in its data
 * centre or nowhere. A client's own location with a country name is no ISO code: left out. */
static void test_user_location(void **state)
{
    (void)state;
    json_t *g;
    json_t *ev = mapped("{\"context\":{\"location\":{\"country\":\"United Kingdom\",\"countryCode\":\"GB\","
                        "\"region\":\"England\",\"regionCode\":\"ENG\",\"city\":\"London\"}}}",
                        &g);
    json_t *loc = json_object_get(g, "user_location");
    assert_non_null(loc);
    assert_string_equal(json_string_value(json_object_get(loc, "country_id")), "GB");
    assert_string_equal(json_string_value(json_object_get(loc, "region_id")), "GB-ENG");
    assert_string_equal(json_string_value(json_object_get(loc, "city")), "London");
    json_decref(ev);
    json_decref(g);
    /* geo: country only */
    ev = mapped("{\"context\":{\"location\":{\"country\":\"United States\",\"countryCode\":\"US\"}}}", &g);
    loc = json_object_get(g, "user_location");
    assert_non_null(loc);
    assert_string_equal(json_string_value(json_object_get(loc, "country_id")), "US");
    assert_int_equal(json_object_size(loc), 1);
    json_decref(ev);
    json_decref(g);
    /* Segment's mobile context.location: a country name, no code. */
    ev = mapped("{\"context\":{\"location\":{\"country\":\"United States\",\"city\":\"Austin\"}}}", &g);
    assert_null(json_object_get(g, "user_location"));
    json_decref(ev);
    json_decref(g);
    /* Two places are two requests: the same client in two groups. */
    size_t la, lb;
    char *a = vfix_envelope("{\"context\":{\"location\":{\"countryCode\":\"GB\"}}}", &la);
    char *b = vfix_envelope("{\"context\":{\"location\":{\"countryCode\":\"FR\"}}}", &lb);
    sluice_vendor_item_t ia, ib;
    char why[256];
    const sluice_integration_t *it = vfix_integration(cfg, "ga4");
    vfix_map(it, a, la, VFIX_NOW_MS, SLUICE_MAP_OK, &ia, why, sizeof(why));
    vfix_map(it, b, lb, VFIX_NOW_MS, SLUICE_MAP_OK, &ib, why, sizeof(why));
    assert_string_not_equal(ia.group, ib.group);
    sluice_vendor_item_dispose(&ia);
    sluice_vendor_item_dispose(&ib);
    free(a);
    free(b);
}

/* The bytes of the mapped event's body for an envelope edit, up to and including its session
 * parameters (the first three, set before any other). */
static void session_bytes(const char *edit, const char *want)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    if (item.body_len < strlen(want) || memcmp(item.body, want, strlen(want)) != 0)
        print_error("edit %s\nbody %.*s\nwant %s\n", edit, (int)item.body_len, item.body, want);
    assert_true(item.body_len >= strlen(want) && memcmp(item.body, want, strlen(want)) == 0);
    sluice_vendor_item_dispose(&item);
    free(raw);
}

/* A site that also runs gtag.js: gtag's session is in its _ga_<container> cookie (the stream's
 * measurement id without "G-"; this integration's is G-TEST123), which the gateway copies to
 * context.vendorIds.ga_TEST123. The GA4 events use that session, in both of gtag's formats: before,
 * they carried the gateway's own session, and GA4 counted two sessions for one visit (gtag's and
 * sluice's). A malformed value, another stream's cookie, or an event from before gtag's session
 * began leave the gateway's session; the site's own properties.session_id still goes first. */
static void test_gtag_session_cookie(void **state)
{
    (void)state;
#define GW_SESSION                                                                                                     \
    "\"session\":{\"id\":\"0123456789abcdef0123456789abcdef\",\"number\":3,"                                           \
    "\"start\":\"2026-11-23T14:30:00.000Z\"}"
#define WITH_COOKIE(key, v) "{\"context\":{" GW_SESSION ",\"vendorIds\":{\"" key "\":\"" v "\"}}}"
    static const char gtag[] =
        "{\"name\":\"purchase\",\"params\":{\"session_id\":1795444500,\"session_number\":4,\"engagement_time_msec\":1,";
    static const char gateway[] =
        "{\"name\":\"purchase\",\"params\":{\"session_id\":1795444200,\"session_number\":3,\"engagement_time_msec\":1,";
    session_bytes(WITH_COOKIE("ga_TEST123", "GS2.1.s1795444500$o4$g1$t1795444900$j0$l0$h0"), gtag);
    session_bytes(WITH_COOKIE("ga_TEST123", "GS1.1.1795444500.4.1.1795444900.0.0.0"), gtag);
    /* GS2's fields come in any order; a subdomain level other than 1 */
    session_bytes(WITH_COOKIE("ga_TEST123", "GS2.2.t1795444900$g0$o4$s1795444500"), gtag);
    /* without a session number: only the id */
    session_bytes(WITH_COOKIE("ga_TEST123", "GS2.1.s1795444500$g1"),
                  "{\"name\":\"purchase\",\"params\":{\"session_id\":1795444500,\"engagement_time_msec\":1,");
    /* without the gateway's session too */
    session_bytes("{\"context\":{\"vendorIds\":{\"ga_TEST123\":\"GS1.1.1795444500.4.0.1795444500.0.0.0\"}}}", gtag);
    static const char *const malformed[] = {
        "GS2.1.sabc$o4",
        "GS2.1.s$o4",
        "GS2.1.o4$g1",
        "GS2.1.s1795444500$o4x",
        "GS2.s1795444500$o4",
        "GS1.1.1795444500",
        "GS1.1.x.4.1",
        "GS1.1.1795444500x.4",
        "GS1.1.0.4.1.1795444900",
        "GA1.1.1234567890.1763900000",
        "GS3.1.s1795444500",
        "GS2.1.s99999999999999999999",
        "",
        "GS1.1.1795444500.4x.1",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        char edit[512];
        snprintf(edit, sizeof(edit), "{\"context\":{" GW_SESSION ",\"vendorIds\":{\"ga_TEST123\":\"%s\"}}}",
                 malformed[i]);
        session_bytes(edit, gateway);
    }
    /* another stream's session (a second gtag property on the site) is not this one's */
    session_bytes(WITH_COOKIE("ga_OTHER99", "GS2.1.s1795444500$o4"), gateway);
    /* the event (14:41:50) happened before this gtag session began: a queued event of the last visit */
    session_bytes(WITH_COOKIE("ga_TEST123", "GS2.1.s1795445000$o5"), gateway);
    /* the site's own session_id (gtag('get')) still goes first */
    session_bytes("{\"properties\":{\"session_id\":1795444100},\"context\":{" GW_SESSION
                  ",\"vendorIds\":{\"ga_TEST123\":\"GS2.1.s1795444500$o4\"}}}",
                  "{\"name\":\"purchase\",\"params\":{\"session_id\":1795444100,\"engagement_time_msec\":1}");
#undef WITH_COOKIE
#undef GW_SESSION
}

/* GA4's own parameters (session_id, session_number, engagement_time_msec) and the reserved gclid
 * are never a site's custom parameters: without a session of any kind, a site's UUID session_id
 * went to GA4 as session_id (the event then in no session), its session_number as text, and a
 * gclid property under a name GA4 reserves. */
static void test_reserved_params(void **state)
{
    (void)state;
    json_t *ev = mapped("{\"context\":{\"userAgent\":\"UA\"},\"properties\":{\"session_id\":"
                        "\"b1946ac9-2c8d-4f44-9d07-5e4a5b8c3d21\",\"session_number\":\"x3\",\"gclid\":\"Cj0KCQ\","
                        "\"engagement_time_msec\":\"soon\",\"plan\":\"pro\"}}",
                        NULL);
    json_t *params = json_object_get(ev, "params");
    assert_null(json_object_get(params, "session_id"));
    assert_null(json_object_get(params, "session_number"));
    assert_null(json_object_get(params, "gclid"));
    assert_int_equal(json_integer_value(json_object_get(params, "engagement_time_msec")), 1);
    assert_string_equal(json_string_value(json_object_get(params, "plan")), "pro");
    json_decref(ev);
}

/* The item an envelope edit maps to (the caller disposes it) and, as an object, its lead. */
static json_t *mapped_lead(const char *edit, sluice_vendor_item_t *item)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, item, why, sizeof(why));
    free(raw);
    if (item->lead == NULL)
        return NULL;
    json_t *lead = json_loadb(item->lead, item->lead_len, 0, NULL);
    assert_non_null(lead);
    return lead;
}

/* The campaign a visitor came with reaches GA4 as the Measurement Protocol's campaign_details
 * event, right before the event, at the event's time, in the same request. Before, GA4 got no
 * campaign at all: every server-sent event of a campaign's visitor was "(not set)" in GA4's
 * acquisition reports. */
static void test_campaign_details(void **state)
{
    (void)state;
    sluice_vendor_item_t item;
    json_t *lead =
        mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"name\":\"winter_sale\","
                    "\"source\":\"newsletter\",\"medium\":\"email\",\"term\":\"blue mug\","
                    "\"content\":\"hero\",\"id\":\"cmp-42\"},\"page\":{\"url\":\"https://shop.acme.test/\"}}}",
                    &item);
    assert_non_null(lead);
    assert_string_equal(json_string_value(json_object_get(lead, "name")), "campaign_details");
    json_t *p = json_object_get(lead, "params");
    assert_int_equal(json_object_size(p), 6);
    assert_string_equal(json_string_value(json_object_get(p, "campaign_id")), "cmp-42");
    assert_string_equal(json_string_value(json_object_get(p, "campaign")), "winter_sale");
    assert_string_equal(json_string_value(json_object_get(p, "source")), "newsletter");
    assert_string_equal(json_string_value(json_object_get(p, "medium")), "email");
    assert_string_equal(json_string_value(json_object_get(p, "term")), "blue mug");
    assert_string_equal(json_string_value(json_object_get(p, "content")), "hero");
    /* The request: campaign_details first, then the event, at the same time. */
    json_t *secret = json_pack("{s:s}", "api_secret", "s");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(
        sluice_vendor_ga4.build(vfix_integration(cfg, "ga4"), secret, item.group, items, 1, VFIX_NOW_MS, &req, &err),
        0);
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    assert_non_null(body);
    json_t *events = json_object_get(body, "events");
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "name")), "campaign_details");
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 1), "name")), "purchase");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(events, 0), "timestamp_micros")),
                     json_integer_value(json_object_get(json_array_get(events, 1), "timestamp_micros")));
    /* The event itself carries no campaign parameters of its own. */
    assert_null(json_object_get(json_object_get(json_array_get(events, 1), "params"), "campaign"));
    json_decref(body);
    sluice_vendor_request_dispose(&req);
    json_decref(secret);
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
}

/* Only utm_* in the page's URL (no campaign enrichment, a server library's page call): read as
 * the gateway's enrichment reads them, percent-decoded. Click ids are no campaign_details
 * parameter (GA4 reserves gclid): they stay in page_location only. */
static void test_campaign_from_url(void **state)
{
    (void)state;
    sluice_vendor_item_t item;
    json_t *lead = mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/l?"
                               "utm_source=news%20letter&utm_medium=email&utm_campaign=caf%C3%A9+week&gclid=Cj0KCQ"
                               "#utm_term=frag\"}}}",
                               &item);
    assert_non_null(lead);
    json_t *p = json_object_get(lead, "params");
    assert_int_equal(json_object_size(p), 3);
    assert_string_equal(json_string_value(json_object_get(p, "source")), "news letter");
    assert_string_equal(json_string_value(json_object_get(p, "medium")), "email");
    assert_string_equal(json_string_value(json_object_get(p, "campaign")), "caf\xc3\xa9 week");
    assert_null(json_object_get(p, "gclid"));
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
    /* A page event of a server library: its URL in properties.url. */
    lead = mapped_lead("{\"type\":\"page\",\"name\":\"Landing\",\"context\":{\"userAgent\":\"UA\"},\"properties\":{"
                       "\"url\":\"https://shop.acme.test/?utm_source=partner\"}}",
                       &item);
    assert_non_null(lead);
    assert_string_equal(json_string_value(json_object_get(json_object_get(lead, "params"), "source")), "partner");
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
    /* The client's context.campaign wins over the URL (it is what the page's SDK read). */
    lead = mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"source\":\"sdk\"},\"page\":{\"url\":"
                       "\"https://shop.acme.test/?utm_source=url&utm_medium=cpc\"}}}",
                       &item);
    assert_non_null(lead);
    assert_int_equal(json_object_size(json_object_get(lead, "params")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(lead, "params"), "source")), "sdk");
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
}

/* From the URL too, GA4 gets what its own limits let through and nothing less: utm_id as
 * campaign_id, and a campaign name of 100 characters past ASCII whole. Before, utm_id was not
 * read (campaign_id missing, cost data imported by campaign ID matched nothing), and the parser's
 * 127-byte cut left 63 of the 100 accented capitals of "ÉTÉ…", where GA4 takes 100 characters;
 * a lone '%' ("50%+off") kept the whole value undecoded ("50%+off%21"). */
static void test_campaign_from_url_whole(void **state)
{
    (void)state;
    static char edit[4096];
    size_t n = (size_t)snprintf(edit, sizeof(edit),
                                "{\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/?"
                                "utm_id=cmp-7&utm_source=50%%+off%%21&utm_campaign=");
    for (int i = 0; i < 101; i++) /* É: 101 characters, 202 bytes */
        n += (size_t)snprintf(edit + n, sizeof(edit) - n, "%%C3%%89");
    snprintf(edit + n, sizeof(edit) - n, "\"}}}");
    sluice_vendor_item_t item;
    json_t *lead = mapped_lead(edit, &item);
    assert_non_null(lead);
    json_t *p = json_object_get(lead, "params");
    assert_string_equal(json_string_value(json_object_get(p, "campaign_id")), "cmp-7");
    assert_string_equal(json_string_value(json_object_get(p, "source")), "50% off!");
    const char *name = json_string_value(json_object_get(p, "campaign"));
    assert_non_null(name);
    assert_int_equal(strlen(name), 200); /* GA4's 100 characters */
    for (size_t i = 0; i < 200; i += 2)
        assert_memory_equal(name + i, "\xc3\x89", 2);
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
}

/* A campaign id the client sent as a number (a server library's `campaign: {id: 12345678901}`,
 * Google Ads' campaign ids being numbers) is the same id: campaign_id as written, of any length.
 * Before, it was left out (only strings were read), and cost data imported by campaign ID matched
 * none of the visit's events. A fraction is no id and stays out. */
static void test_campaign_numeric_id(void **state)
{
    (void)state;
    sluice_vendor_item_t item;
    /* jansson cannot build the envelope with an integer past 64 bits: a placeholder, replaced in
     * the envelope's text. */
    size_t len;
    char *raw =
        vfix_envelope("{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"name\":\"winter\",\"id\":\"@ID@\"}}}", &len);
    char *at = strstr(raw, "\"@ID@\"");
    assert_non_null(at);
    char *big = malloc(len + 32);
    assert_non_null(big);
    int n = snprintf(big, len + 32, "%.*s12345678901234567890%s", (int)(at - raw), raw, at + 6);
    char why[256];
    vfix_map(vfix_integration(cfg, "ga4"), big, (size_t)n, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    free(raw);
    free(big);
    assert_non_null(item.lead);
    json_t *lead = json_loadb(item.lead, item.lead_len, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(lead);
    json_t *p = json_object_get(lead, "params");
    assert_non_null(json_object_get(p, "campaign_id"));
    assert_string_equal(json_string_value(json_object_get(p, "campaign_id")), "12345678901234567890");
    assert_string_equal(json_string_value(json_object_get(p, "campaign")), "winter");
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
    lead = mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"name\":\"winter\",\"id\":20231}}}", &item);
    assert_non_null(lead);
    assert_non_null(json_object_get(json_object_get(lead, "params"), "campaign_id"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(lead, "params"), "campaign_id")), "20231");
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
    lead = mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"name\":\"winter\",\"id\":1.5}}}", &item);
    assert_non_null(lead);
    assert_null(json_object_get(json_object_get(lead, "params"), "campaign_id"));
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
}

/* Campaign values are parameter values: cut to GA4's 100 characters (not bytes), like every other;
 * values that are no non-empty string are left out. */
static void test_campaign_limits(void **state)
{
    (void)state;
    static char name[400], source[400], edit[2048];
    repeat(name, sizeof(name), "", "n", 150);
    repeat(source, sizeof(source), "", "\xc3\xa9", 120); /* é: 120 characters, 240 bytes */
    snprintf(edit, sizeof(edit),
             "{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"name\":\"%s\",\"source\":\"%s\",\"medium\":7,"
             "\"term\":\"\",\"content\":null}}}",
             name, source);
    sluice_vendor_item_t item;
    json_t *lead = mapped_lead(edit, &item);
    assert_non_null(lead);
    json_t *p = json_object_get(lead, "params");
    assert_int_equal(json_object_size(p), 2);
    assert_int_equal(json_string_length(json_object_get(p, "campaign")), 100);
    const char *s = json_string_value(json_object_get(p, "source"));
    assert_int_equal(strlen(s), 200); /* 100 characters of 2 bytes */
    assert_memory_equal(s, source, 200);
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
    /* A value the org hashed stays out, as of every parameter. */
    lead = mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"source\":\"news\",\"term\":"
                       "\"85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846\"}}}",
                       &item);
    assert_non_null(lead);
    assert_int_equal(json_object_size(json_object_get(lead, "params")), 1);
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
    /* Read from the page's URL, too: an email tool's link with the recipient's hashed address in
     * utm_term went to GA4 as the campaign's term, while the same link read by the campaign
     * enrichment into context.campaign left it out. */
    lead = mapped_lead("{\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/?"
                       "utm_source=news&utm_term=85e8cbcc4fab8df4f45e9e396b5b367a54af6cc13f9b5433d3e12f4e9c0a1846&"
                       "utm_content=YqFORPdlQZ0Q_qmTZzYacnwSNl4lIPMiGNUF7Zqg9i8\"}}}",
                       &item);
    assert_non_null(lead);
    assert_int_equal(json_object_size(json_object_get(lead, "params")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(lead, "params"), "source")), "news");
    json_decref(lead);
    sluice_vendor_item_dispose(&item);
}

/* No campaign, no campaign_details: nothing more is sent (an empty or non-object context.campaign,
 * a URL without utm_*). */
static void test_no_campaign(void **state)
{
    (void)state;
    static const char *const edits[] = {
        NULL,
        "{\"context\":{\"userAgent\":\"UA\",\"campaign\":{},\"page\":{\"url\":\"https://shop.acme.test/?q=1\"}}}",
        "{\"context\":{\"userAgent\":\"UA\",\"campaign\":\"winter\"}}",
        "{\"context\":{\"userAgent\":\"UA\",\"page\":{\"url\":\"https://shop.acme.test/#/x?utm_source=frag\"}}}",
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        sluice_vendor_item_t item;
        assert_null(mapped_lead(edits[i], &item));
        assert_null(item.lead);
        sluice_vendor_item_dispose(&item);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_client_id),
        cmocka_unit_test(test_user_data),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_consent),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_page_location_digests_redacted),
        cmocka_unit_test(test_page_location_digests_encoded),
        cmocka_unit_test(test_page_screen_skip),
        cmocka_unit_test(test_72_hours),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_reserved_names),
        cmocka_unit_test(test_single_product),
        cmocka_unit_test(test_page_limits),
        cmocka_unit_test(test_digests_stay_out),
        cmocka_unit_test(test_names_in_any_script),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_page_everywhere),
        cmocka_unit_test(test_user_location),
        cmocka_unit_test(test_own_params_before_page),
        cmocka_unit_test(test_engagement_text),
        cmocka_unit_test(test_foreign_session_id),
        cmocka_unit_test(test_gtag_session_cookie),
        cmocka_unit_test(test_campaign_details),
        cmocka_unit_test(test_campaign_from_url),
        cmocka_unit_test(test_campaign_from_url_whole),
        cmocka_unit_test(test_campaign_numeric_id),
        cmocka_unit_test(test_campaign_limits),
        cmocka_unit_test(test_no_campaign),
        cmocka_unit_test(test_reserved_params),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * What real clients send at the edge, against the real sluice-gateway with the dev Kafka broker
 * and Redis: each case is a request a browser, an SDK, a proxy or AMP makes, and what a user would
 * check afterwards (the answer, and what Kafka holds).
 *
 *   - a batch with `\u0000` in one event's string (JSON.stringify of a title holding a NUL): every
 *     event is taken, the NUL arrives as U+FFFD (it was a 400 for the whole batch);
 *   - a request line in absolute form (`POST http://host/v1/t HTTP/1.1`, what clients send
 *     through a forward proxy): routed as its path, the settings naming the URL's host (it was a
 *     404);
 *   - amp-analytics' default transports, sendBeacon and an XHR POST of the pixel's URL, with an
 *     empty body or with `useBody` (it was a 405, every AMP page view lost unseen);
 *   - analytics-next with its apiHost written with a trailing slash, which posts to /v1//b (it was
 *     a 404).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

#define KEY    "wk_edge_clients_4d1"
#define ORIGIN "https://shop.clients.test"
#define UA     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

static gwfix_t F;

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    static const char *env[] = {"T_KEY=" KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  http: {listen: \"127.0.0.1:%d\"}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"%s\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: clients\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY, allowed_origins: [\"" ORIGIN "\"]}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.http_port, F.metrics_port, F.kafka.bootstrap, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("clients.yaml", yaml));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_teardown(&F);
    return 0;
}

static json_t *event_of(json_t *msgs, const char *mid)
{
    return json_object_get(json_object_get(gwfix_find_message(msgs, mid), "value"), "event");
}

/* JSON.stringify("Menu\0") is "Menu\u0000": valid JSON, and one such title refused the whole batch
 * with 400 invalid_json, which SDKs answer by dropping all 20 events. */
static void test_nul_escape_keeps_the_batch(void **state)
{
    (void)state;
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"batch\":[");
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%s{\"type\":\"page\",\"messageId\":\"nul-%02d\",\"anonymousId\":\"nul-a\","
                              "\"properties\":{\"title\":\"%s\"}}",
                              i ? "," : "", i, i == 7 ? "Menu\\u0000 Shop" : "Menu");
    snprintf(body + n, sizeof(body) - n, "]}");
    const char *h[] = {"Authorization: Bearer " KEY, "Content-Type: text/plain", "User-Agent: " UA, NULL};
    http_opts_t o = {.headers = h, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/batch"), &o, F.ca, &r);
    print_message("batch with \\u0000: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    assert_true(gwfix_contains(r.body, "\"accepted\":20"));
    http_resp_dispose(&r);
    sluice_th_sleep_ms(500);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    for (int i = 0; i < 20; i++) {
        char mid[16];
        snprintf(mid, sizeof(mid), "nul-%02d", i);
        assert_int_equal(gwfix_count_message(msgs, mid), 1);
    }
    const char *title =
        json_string_value(json_object_get(json_object_get(event_of(msgs, "nul-07"), "properties"), "title"));
    assert_string_equal(title, "Menu\xef\xbf\xbd Shop"); /* U+FFFD, never a NUL byte */
    json_decref(msgs);
}

/* `POST http://host/path HTTP/1.1` is the absolute form (RFC 9112 3.2.2), which a server must
 * accept: clients send it through forward proxies, and some proxies pass it on. */
static void test_absolute_form_request_line(void **state)
{
    (void)state;
    char reply[4096];
    gwfix_raw_exchange(&F,
                       "POST http://data.clients.test/v1/t?src=abs HTTP/1.1\r\nHost: data.clients.test\r\n"
                       "Authorization: Bearer " KEY "\r\nUser-Agent: " UA "\r\nContent-Type: application/json\r\n"
                       "Content-Length: 40\r\nConnection: close\r\n\r\n"
                       "{\"event\":\"Absolute\",\"messageId\":\"abs-1\"}",
                       reply, sizeof(reply));
    print_message("absolute form: %.120s\n", reply);
    assert_non_null(strstr(reply, "HTTP/1.1 200"));
    /* The URL's authority is the request's host (it replaces Host): Segment's settings name it. */
    gwfix_raw_exchange(&F,
                       "GET HTTPS://Data.Clients.Test/v1/projects/" KEY "/settings HTTP/1.1\r\nHost: other.test\r\n"
                       "Connection: close\r\n\r\n",
                       reply, sizeof(reply));
    print_message("absolute form, settings: %s\n", reply);
    assert_non_null(strstr(reply, "HTTP/1.1 200"));
    assert_non_null(strstr(reply, "\"apiHost\":\"Data.Clients.Test/v1\""));
    /* An origin-form request is routed as before, and a target that is no URL is still a 404. */
    gwfix_raw_exchange(&F, "GET /healthz HTTP/1.1\r\nHost: data.clients.test\r\nConnection: close\r\n\r\n", reply,
                       sizeof(reply));
    assert_non_null(strstr(reply, "HTTP/1.1 200"));
    gwfix_raw_exchange(&F, "GET http:/v1/t HTTP/1.1\r\nHost: data.clients.test\r\nConnection: close\r\n\r\n", reply,
                       sizeof(reply));
    assert_non_null(strstr(reply, "HTTP/1.1 404"));
    sluice_th_sleep_ms(500);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_int_equal(gwfix_count_message(msgs, "abs-1"), 1);
    json_decref(msgs);
}

static long pixel_post(const char *url, const char *body, const char *ctype, http_resp_t *r)
{
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    const char *h[] = {"Origin: " ORIGIN, "User-Agent: " UA, ct, NULL};
    http_opts_t o = {.method = "POST", .headers = h, .body = body, .body_len = strlen(body)};
    http_do(url, &o, F.ca, r);
    return r->status;
}

/* amp-analytics sends each request with navigator.sendBeacon (a POST with an empty text/plain
 * body), else an XHR POST, and an image GET only where neither exists; with `useBody` its
 * extraUrlParams go in the body as JSON. */
static void test_amp_analytics_posts_the_pixel(void **state)
{
    (void)state;
    http_resp_t r;
    char url[512];
    snprintf(url, sizeof(url), "%s",
             gwfix_url(&F, "/v1/pixel/t?writeKey=" KEY "&event=AMP+View&messageId=amp-beacon&url=https%3A%2F%2F"
                           "shop.clients.test%2Famp%2Fp"));
    /* the beacon: an empty body (curl sends Content-Length: 0) */
    const char *h[] = {"Origin: " ORIGIN, "User-Agent: " UA, "Content-Type: text/plain;charset=UTF-8", NULL};
    http_opts_t o = {.method = "POST", .headers = h};
    http_do(url, &o, F.ca, &r);
    print_message("AMP beacon: %ld %s\n", r.status, http_header(&r, "x-sluice-error"));
    assert_int_equal(r.status, 200);
    assert_string_equal(http_header(&r, "content-type"), "image/gif");
    http_resp_dispose(&r);
    /* useBody: the parameters, and here the key, in a JSON body */
    snprintf(url, sizeof(url), "%s", gwfix_url(&F, "/v1/pixel/track?event=AMP+Click&messageId=amp-body"));
    assert_int_equal(pixel_post(url, "{\"writeKey\":\"" KEY "\",\"properties.plan\":\"pro\",\"n\":1}",
                                "text/plain;charset=UTF-8", &r),
                     200);
    http_resp_dispose(&r);
    /* no key anywhere: 401, nothing queued */
    snprintf(url, sizeof(url), "%s", gwfix_url(&F, "/v1/pixel/t?event=AMP+NoKey&messageId=amp-nokey"));
    assert_int_equal(pixel_post(url, "{\"properties.plan\":\"pro\"}", "text/plain", &r), 401);
    assert_string_equal(http_header(&r, "x-sluice-error"), "unauthorized");
    http_resp_dispose(&r);
    /* a key found inside an event property proves nothing */
    assert_int_equal(pixel_post(url, "{\"properties.x\":{\"writeKey\":\"" KEY "\"}}", "text/plain", &r), 401);
    http_resp_dispose(&r);
    /* another origin is refused as for a GET */
    snprintf(url, sizeof(url), "%s", gwfix_url(&F, "/v1/pixel/t?writeKey=" KEY "&event=X&messageId=amp-evil"));
    const char *evil[] = {"Origin: https://evil.test", "User-Agent: " UA, NULL};
    http_opts_t oe = {.method = "POST", .headers = evil};
    http_do(url, &oe, F.ca, &r);
    assert_int_equal(r.status, 403);
    http_resp_dispose(&r);

    sluice_th_sleep_ms(500);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "amp-beacon");
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "AMP View");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "page"), "url")),
        "https://shop.clients.test/amp/p");
    ev = event_of(msgs, "amp-body");
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "properties"), "plan")), "pro");
    assert_null(json_object_get(ev, "writeKey"));
    assert_int_equal(gwfix_count_message(msgs, "amp-nokey"), 0);
    assert_int_equal(gwfix_count_message(msgs, "amp-evil"), 0);
    json_decref(msgs);
}

/* analytics-next posts its batches to `${scheme}${apiHost}/b`: with `apiHost:
 * 'data.shop.example/v1/'` that is /v1//b. */
static void test_double_slash_paths(void **state)
{
    (void)state;
    const char *h[] = {"Authorization: Basic d2tfZWRnZV9jbGllbnRzXzRkMTo=", "Content-Type: text/plain",
                       "Origin: " ORIGIN, "User-Agent: " UA, NULL}; /* base64("wk_edge_clients_4d1:") */
    http_opts_t o = {.headers = h,
                     .body = "{\"batch\":[{\"type\":\"track\",\"event\":\"Slash\",\"messageId\":\"slash-1\"}],"
                             "\"writeKey\":\"" KEY "\"}"};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1//b"), &o, F.ca, &r);
    print_message("/v1//b: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    o.body = "{\"event\":\"Slash\",\"messageId\":\"slash-2\"}";
    http_do(gwfix_url(&F, "//v1/t"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    sluice_th_sleep_ms(500);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_int_equal(gwfix_count_message(msgs, "slash-1"), 1);
    assert_int_equal(gwfix_count_message(msgs, "slash-2"), 1);
    json_decref(msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_escape_keeps_the_batch),
        cmocka_unit_test(test_absolute_form_request_line),
        cmocka_unit_test(test_amp_analytics_posts_the_pixel),
        cmocka_unit_test(test_double_slash_paths),
    };
    return cmocka_run_group_tests_name("integration.edge_clients", tests, setup, teardown);
}

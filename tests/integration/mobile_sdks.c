/*
 * The SDKs the compatibility suite cannot run (tests/compat runs npm's only): Segment's and
 * RudderStack's mobile SDKs and their server libraries in other languages. Each request here is
 * the one the SDK makes, byte for byte where it matters (path, method, headers, how the body is
 * encoded and where the write key is), read from the SDK's own source (cited at each test), and
 * what arrives in Kafka is checked as their users would: once, with its ids, key and fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/time.h"
#include "tests/integration/gwfix.h"

static gwfix_t F;

#define APP_KEY    "wk_live_shop_app_3c9e"
#define SERVER_KEY "wk_live_shop_backend_77d1"
#define WEB_KEY    "wk_live_shop_web_5d20"
#define STRICT_KEY "wk_live_strict_app_19af"
#define ENC_KEY    "5e1d0c9b8a7f6e5d4c3b2a19080706050403020100ffeeddccbbaa9988776655"
/* base64("wk_live_shop_app_3c9e:") and base64("wk_live_shop_backend_77d1:") */
#define APP_BASIC    "Authorization: Basic d2tfbGl2ZV9zaG9wX2FwcF8zYzllOg=="
#define SERVER_BASIC "Authorization: Basic d2tfbGl2ZV9zaG9wX2JhY2tlbmRfNzdkMTo="
#define STRICT_BASIC "Authorization: Basic d2tfbGl2ZV9zdHJpY3RfYXBwXzE5YWY6"

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 4000}\n"
             "redis: {url: \"%s\", timeout_ms: 200}\n"
             "orgs:\n"
             "  - id: shop\n"
             "    sources:\n"
             "      - {id: app, write_key_env: T_APP_KEY}\n"
             "      - {id: web, write_key_env: T_WEB_KEY, allowed_origins: [\"https://www.shop.example\"]}\n"
             "      - {id: backend, write_key_env: T_SERVER_KEY, sent_from: server}\n"
             "    consent: {policy: allow}\n"
             "    enrichment: {user_agent: true, bots: flag, session: true}\n"
             "    data_layer:\n"
             "      hash_fields: [{path: traits.email, normalize: email}]\n"
             "  - id: strict\n"
             "    sources: [{id: app, write_key_env: T_STRICT_KEY}]\n"
             "    consent: {required: [analytics], policy: strip, aliases: {C0002: analytics}}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"T_APP_KEY=" APP_KEY,
                                "T_SERVER_KEY=" SERVER_KEY,
                                "T_STRICT_KEY=" STRICT_KEY,
                                "T_WEB_KEY=" WEB_KEY,
                                "ENCRYPTION_KEY=" ENC_KEY,
                                "SLUICE_KEY_ID=1",
                                NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static long post(const char *path, const char *const *headers, const void *body, size_t len, http_resp_t *r)
{
    http_opts_t o = {.headers = headers, .body = body, .body_len = len};
    http_do(gwfix_url(&F, path), &o, F.ca, r);
    if (r->status != 200)
        print_message("%s: %ld %s\n", path, r->status, r->body != NULL ? r->body : "");
    return r->status;
}

/* The event of the envelope in msgs with this messageId (exactly one must have it). */
static json_t *event_of(json_t *msgs, const char *id)
{
    assert_int_equal(gwfix_count_message(msgs, id), 1);
    return json_object_get(json_object_get(gwfix_find_message(msgs, id), "value"), "event");
}

static const char *key_of(json_t *msgs, const char *id)
{
    return json_string_value(json_object_get(gwfix_find_message(msgs, id), "key"));
}

static const char *str_at(json_t *v, const char *a, const char *b, const char *c)
{
    v = json_object_get(v, a);
    if (b != NULL)
        v = json_object_get(v, b);
    if (c != NULL)
        v = json_object_get(v, c);
    return json_string_value(v);
}

/* ------------------------------------------------------------------ Segment's mobile SDKs */

/* analytics-kotlin (Android, and the JVM): core/.../HTTPClient.kt opens https://<apiHost>/b with
 * Content-Type text/plain, Content-Encoding gzip (createPostConnection wraps the stream in a
 * GZIPOutputStream), chunked streaming and User-Agent analytics-kotlin/<version>, and sets no
 * Authorization: the write key is only in the body, which EventsFileManager.finish() closes with
 * `],"sentAt":"...","writeKey":"..."}`. A 4xx other than 408/410/429/460 deletes the batch file
 * (EventPipeline.handleUploadException). */
static void segment_kotlin_gzip_key_in_body(void **state)
{
    (void)state;
    const char *body =
        "{\"batch\":[{\"properties\":{\"revenue\":19.99,\"currency\":\"EUR\"},\"event\":\"Order Completed\","
        "\"type\":\"track\",\"messageId\":\"kt-1\",\"anonymousId\":\"5b1c7a55-6f0e-4e8b-9d2f-2f7c1b3a9e10\","
        "\"integrations\":{},\"context\":{\"app\":{\"name\":\"Shop\",\"version\":\"4.2.0\",\"namespace\":"
        "\"com.shop.app\",\"build\":\"420\"},\"device\":{\"id\":\"c0ffee\",\"manufacturer\":\"Google\",\"model\":"
        "\"Pixel 8\",\"name\":\"shiba\",\"type\":\"android\"},\"os\":{\"name\":\"Android\",\"version\":\"14\"},"
        "\"screen\":{\"density\":2.625,\"height\":2400,\"width\":1080},\"network\":{\"wifi\":true,\"carrier\":"
        "\"T-Mobile\",\"cellular\":false,\"bluetooth\":false},\"locale\":\"de-DE\",\"timezone\":\"Europe/Berlin\","
        "\"userAgent\":\"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240405.002)\",\"library\":{"
        "\"name\":\"analytics-kotlin\",\"version\":\"1.16.3\"},\"instanceId\":\"1e0f3b2a-77aa-4c1d-9b8e-0a1b2c3d4e5f\"}"
        ","
        "\"timestamp\":\"2026-12-04T10:00:00.123Z\",\"_metadata\":{\"bundled\":[],\"unbundled\":[],\"bundledIds\":[]}},"
        "{\"traits\":{\"email\":\"Jane.Doe@Example.com\"},\"type\":\"identify\",\"messageId\":\"kt-2\",\"anonymousId\":"
        "\"5b1c7a55-6f0e-4e8b-9d2f-2f7c1b3a9e10\",\"integrations\":{},\"context\":{\"library\":{\"name\":"
        "\"analytics-kotlin\",\"version\":\"1.16.3\"}},\"userId\":\"u-1001\",\"timestamp\":\"2026-12-04T10:00:01.5Z\"}"
        "],\"sentAt\":\"2026-12-04T10:00:02.7Z\",\"writeKey\":\"" APP_KEY "\"}";
    size_t zl;
    char *z = gwfix_gzip(body, strlen(body), &zl);
    const char *h[] = {"Content-Type: text/plain", "Content-Encoding: gzip", "Transfer-Encoding: chunked",
                       "User-Agent: analytics-kotlin/1.16.3", NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/b", h, z, zl, &r), 200);
    http_resp_dispose(&r);
    free(z);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "kt-1");
    assert_string_equal(str_at(ev, "anonymousId", NULL, NULL), "5b1c7a55-6f0e-4e8b-9d2f-2f7c1b3a9e10");
    assert_string_equal(key_of(msgs, "kt-1"), "shop:5b1c7a55-6f0e-4e8b-9d2f-2f7c1b3a9e10");
    assert_null(json_object_get(ev, "writeKey"));
    ev = event_of(msgs, "kt-2");
    assert_string_equal(str_at(ev, "userId", NULL, NULL), "u-1001");
    /* sha256("jane.doe@example.com") */
    assert_string_equal(str_at(ev, "traits", "email", NULL),
                        "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d");
    /* Its times as SimpleDateFormat's unpadded `S` wrote them: ".5Z" is 5 ms and ".7Z" 7 ms (not
     * 500 and 700), so the event was stamped 1.002 s before the batch was sent (not 1.2 s). */
    assert_string_equal(str_at(ev, "originalTimestamp", NULL, NULL), "2026-12-04T10:00:01.005Z");
    int64_t at, received;
    const char *ts = str_at(ev, "timestamp", NULL, NULL), *rcv = str_at(ev, "receivedAt", NULL, NULL);
    assert_int_equal(sluice_time_parse(ts, strlen(ts), 0, &at), 0);
    assert_int_equal(sluice_time_parse(rcv, strlen(rcv), 0, &received), 0);
    assert_int_equal(received - at, 1002);
    json_decref(msgs);
}

/* Segment's mobile SDKs fetch settings from their cdnHost when they start (analytics-kotlin
 * Settings.kt fetchSettings: GET https://<cdnHost>/projects/<writeKey>/settings, HTTPClient.kt
 * RequestFactory.settings; analytics-swift HTTPClient.settingsFor: the same path), and the
 * settings' integrations["Segment.io"].apiHost is where their events go: analytics-kotlin from
 * 1.20 replaces the apiHost the app set with it, or with its default api.segment.io/v1 when the
 * fetch fails (segmentio/analytics-kotlin#272), and so does analytics-swift
 * (segmentio/analytics-swift#156). With cdnHost pointed at the gateway the fetch was a 404 and
 * the app's events went to Segment. */
static void segment_settings_name_the_gateway(void **state)
{
    (void)state;
    const char *h[] = {"Content-Type: application/json; charset=utf-8", "User-Agent: analytics-kotlin/1.20.0", NULL};
    http_opts_t o = {.method = "GET", .headers = h};
    http_resp_t r;
    http_do(gwfix_url(&F, "/v1/projects/" APP_KEY "/settings"), &o, F.ca, &r);
    if (r.status != 200)
        print_message("settings: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    const char *cc = http_header(&r, "cache-control");
    assert_non_null(cc);
    assert_string_equal(cc, "no-store");
    json_t *settings = json_loads(r.body, 0, NULL);
    assert_non_null(settings);
    json_t *seg = json_object_get(json_object_get(settings, "integrations"), "Segment.io");
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d/v1", F.https_port);
    assert_string_equal(str_at(seg, "apiHost", NULL, NULL), want);
    assert_string_equal(str_at(seg, "apiKey", NULL, NULL), APP_KEY);
    json_decref(settings);
    http_resp_dispose(&r);
    /* Only a source's key has settings. */
    http_do(gwfix_url(&F, "/v1/projects/wk_not_a_key/settings"), &o, F.ca, &r);
    assert_int_equal(r.status, 401);
    http_resp_dispose(&r);
}

/* analytics-react-native on Android: packages/core/src/api.ts posts JSON.stringify({batch, sentAt,
 * writeKey}) to <apiHost>/b as text/plain through fetch, whose Android implementation is OkHttp:
 * the request's User-Agent is OkHttp's own (okhttp/4.9.2), and the SDK's context (context.ts:
 * app, device, library, locale, network, os, screen, timezone) has no userAgent. The request's
 * agent is the app's HTTP stack, not the person's: the events were flagged as bots (HTTP library
 * "okhttp/"), so no integration got them (`bots: drop` dropped them, answered 200). */
static void segment_react_native_android_not_a_bot(void **state)
{
    (void)state;
    const char *body =
        "{\"batch\":[{\"type\":\"screen\",\"name\":\"Checkout\",\"properties\":{\"step\":2},\"messageId\":\"rn-1\","
        "\"anonymousId\":\"0d3c6a7e-1b2f-4c5d-8e9f-a0b1c2d3e4f5\",\"timestamp\":\"2026-12-04T10:00:00.250Z\","
        "\"context\":{\"app\":{\"build\":\"88\",\"name\":\"Shop\",\"namespace\":\"com.shop.rn\",\"version\":\"3.1.0\"},"
        "\"device\":{\"id\":\"a1b2c3d4e5f60718\",\"manufacturer\":\"samsung\",\"model\":\"SM-S918B\",\"name\":"
        "\"dm3q\",\"type\":\"android\"},\"library\":{\"name\":\"analytics-react-native\",\"version\":\"2.20.3\"},"
        "\"locale\":\"en-US\",\"network\":{\"cellular\":true,\"wifi\":false},\"os\":{\"name\":\"Android\","
        "\"version\":\"14\"},\"screen\":{\"density\":3,\"height\":2340,\"width\":1080},\"timezone\":"
        "\"America/New_York\",\"instanceId\":\"6f1d0e2c-3b4a-4d5e-9f60-718293a4b5c6\"},\"integrations\":{}}],"
        "\"sentAt\":\"2026-12-04T10:00:01.000Z\",\"writeKey\":\"" APP_KEY "\"}";
    const char *h[] = {"Content-Type: text/plain;charset=UTF-8", "User-Agent: okhttp/4.9.2", NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/b", h, body, 0, &r), 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "rn-1");
    assert_string_equal(str_at(ev, "type", NULL, NULL), "screen");
    assert_string_equal(str_at(ev, "name", NULL, NULL), "Checkout");
    assert_string_equal(key_of(msgs, "rn-1"), "shop:0d3c6a7e-1b2f-4c5d-8e9f-a0b1c2d3e4f5");
    /* A phone's event: the device's address, no bot, and OkHttp's name is not the person's agent. */
    assert_string_equal(str_at(ev, "context", "ip", NULL), "127.0.0.1");
    assert_null(json_object_get(json_object_get(ev, "context"), "bot"));
    assert_null(json_object_get(json_object_get(ev, "context"), "userAgent"));
    json_decref(msgs);
}

/* analytics-swift (iOS): Sources/Segment/Utilities/Networking/HTTPClient.swift posts the batch file
 * to https://<apiHost>/b with Content-Type application/json; charset=utf-8 and User-Agent
 * analytics-ios/<version>, no Authorization: the file (TransientDB) ends with the writeKey. Its
 * context carries WebKit's agent (UserAgent.swift), so it is no bot. */
static void segment_swift_ios(void **state)
{
    (void)state;
    const char *body =
        "{\"batch\":[{\"anonymousId\":\"B0E8E9C2-6F3E-4B8A-9D41-5E2C7A1F3D90\",\"event\":\"Product Added\","
        "\"properties\":{\"price\":9.5,\"quantity\":1},\"type\":\"track\",\"messageId\":"
        "\"0B1D2C3E-4F50-4617-8293-A4B5C6D7E8F9\",\"timestamp\":\"2026-12-04T10:00:00.321Z\",\"integrations\":{},"
        "\"context\":{\"app\":{\"name\":\"Shop\",\"version\":\"5.0\",\"build\":\"500\",\"namespace\":"
        "\"com.shop.ios\"},\"device\":{\"manufacturer\":\"Apple\",\"type\":\"ios\",\"model\":\"iPhone15,2\",\"name\":"
        "\"iPhone\",\"id\":\"3F2504E0-4F89-11D3-9A0C-0305E82C3301\"},\"os\":{\"name\":\"iOS\",\"version\":\"17.4\"},"
        "\"screen\":{\"width\":393,\"height\":852},\"userAgent\":\"Mozilla\\/5.0 (iPhone; CPU iPhone OS 17_4 like Mac "
        "OS X) AppleWebKit\\/605.1.15 (KHTML, like Gecko) Mobile\\/15E148\",\"locale\":\"en-GB\",\"timezone\":"
        "\"Europe\\/London\",\"network\":{\"wifi\":true,\"cellular\":false,\"bluetooth\":false},\"library\":{\"name\":"
        "\"analytics-swift\",\"version\":\"1.5.11\"},\"instanceId\":\"9C1A2B3D-4E5F-4061-8273-94A5B6C7D8E9\"}}],"
        "\"sentAt\":\"2026-12-04T10:00:02.001Z\",\"writeKey\":\"" APP_KEY "\"}";
    const char *h[] = {"Content-Type: application/json; charset=utf-8", "User-Agent: analytics-ios/1.5.11",
                       "Accept-Encoding: gzip", NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/b", h, body, 0, &r), 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "0B1D2C3E-4F50-4617-8293-A4B5C6D7E8F9");
    assert_string_equal(key_of(msgs, "0B1D2C3E-4F50-4617-8293-A4B5C6D7E8F9"),
                        "shop:B0E8E9C2-6F3E-4B8A-9D41-5E2C7A1F3D90");
    assert_null(json_object_get(json_object_get(ev, "context"), "bot"));
    assert_true(gwfix_contains(str_at(ev, "context", "userAgent", NULL), "iPhone OS 17_4"));
    json_decref(msgs);
}

/* Segment's analytics_flutter: packages/core/lib/utils/http_client.dart posts to https://<apiHost>/b
 * with User-Agent analytics-flutter/<v> and {"batch", "sentAt": DateTime.now().toIso8601String(),
 * "writeKey"}, and event.dart stamps each event the same way (applyRawEventData): Dart's
 * toIso8601String of a local time has no zone ("2026-12-04T11:00:00.123456"). Every event was
 * refused ("timestamp must be an ISO-8601 date-time with a time zone") and every batch was a 400
 * "no event of the batch was valid": none of a Flutter app's events arrived. Both times are the
 * phone's local time, so their difference is the event's age: timestamp = receivedAt - (sentAt -
 * timestamp). */
static void segment_flutter_local_times(void **state)
{
    (void)state;
    const char *body =
        "{\"batch\":[{\"anonymousId\":\"3b9f6c1e-0d2a-4e7b-8c5f-1a2b3c4d5e6f\",\"messageId\":"
        "\"fl-1\",\"userId\":null,\"timestamp\":\"2026-12-04T11:00:00.123456\",\"context\":{\"app\":{\"build\":"
        "\"7\",\"name\":\"Shop\",\"namespace\":\"com.shop.flutter\",\"version\":\"2.0.0\"},\"device\":{\"id\":"
        "\"f00d\",\"manufacturer\":\"Google\",\"model\":\"Pixel 7\",\"name\":\"panther\",\"type\":\"android\"},"
        "\"library\":{\"name\":\"analytics_flutter\",\"version\":\"1.1.7\"},\"locale\":\"en-US\",\"network\":"
        "{\"cellular\":false,\"wifi\":true},\"os\":{\"name\":\"Android\",\"version\":\"14\"},\"screen\":{\"height\":"
        "2400,\"width\":1080,\"density\":2.625},\"timezone\":\"Europe/Paris\",\"traits\":{}},\"integrations\":{},"
        "\"_metadata\":{\"bundled\":[],\"unbundled\":[],\"bundledIds\":[]},\"event\":\"Product Viewed\","
        "\"properties\":{\"sku\":\"A-1\"},\"type\":\"track\"}],\"sentAt\":\"2026-12-04T11:00:02.345678\","
        "\"writeKey\":\"" APP_KEY "\"}";
    const char *h[] = {"Content-Type: application/json; charset=utf-8", "User-Agent: analytics-flutter/1.1.7",
                       "Accept-Encoding: gzip", NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/b", h, body, 0, &r), 200);
    assert_false(gwfix_contains(r.body, "rejected\":[{"));
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "fl-1");
    assert_string_equal(str_at(ev, "originalTimestamp", NULL, NULL), "2026-12-04T11:00:00.123456");
    int64_t at, received;
    const char *ts = str_at(ev, "timestamp", NULL, NULL), *rcv = str_at(ev, "receivedAt", NULL, NULL);
    assert_int_equal(sluice_time_parse(ts, strlen(ts), 0, &at), 0);
    assert_int_equal(sluice_time_parse(rcv, strlen(rcv), 0, &received), 0);
    assert_int_equal(received - at, 2222); /* 2.345 - 0.123 s before it was received */
    assert_null(json_object_get(json_object_get(ev, "context"), "bot"));
    json_decref(msgs);
}

/* ------------------------------------------------------------------ RudderStack's mobile SDKs */

/* rudder-sdk-android: RudderNetworkManager.sendNetworkRequest posts <dataPlaneUrl>/v1/batch with
 * Authorization: Basic base64(writeKey:), Content-Type application/json and AnonymousId:
 * base64(anonymousId); the body is {"sentAt":..., "batch":[...]}. RudderContext carries
 * context.traits (with anonymousId), context.device.advertisingId, and the ids set with
 * putExternalId as context.externalId (RudderStack's name; Segment's is externalIds): a list of
 * {id, type}, where apps put their CRM's and Braze's ids and e-mails. Consent `strip` removes what
 * identifies the person: it left RudderStack's externalId in the event. */
static void rudder_android_strip_removes_external_id(void **state)
{
    (void)state;
    const char *body =
        "{\"sentAt\":\"2026-12-04T10:00:03.000Z\",\"batch\":[{\"messageId\":\"ra-1\",\"channel\":\"mobile\","
        "\"context\":{\"app\":{\"build\":\"12\",\"name\":\"Shop\",\"namespace\":\"com.shop.app\",\"version\":\"1.2\"},"
        "\"traits\":{\"anonymousId\":\"e2a1c3b4-d5f6-4a7b-8c9d-0e1f2a3b4c5d\",\"email\":\"jane@example.com\"},"
        "\"library\":{\"name\":\"com.rudderstack.android.sdk.core\",\"version\":\"1.25.1\"},\"os\":{\"name\":"
        "\"Android\",\"version\":\"13\"},\"screen\":{\"density\":440,\"width\":1080,\"height\":2209},"
        "\"userAgent\":\"Dalvik/2.1.0 (Linux; U; Android 13; sdk_gphone64_arm64 Build/TE1A.220922.012)\","
        "\"locale\":\"en-US\",\"device\":{\"id\":\"8d0a4c1b2e3f4a5b\",\"manufacturer\":\"Google\",\"model\":"
        "\"sdk_gphone64_arm64\",\"name\":\"emu64a\",\"type\":\"Android\",\"adTrackingEnabled\":true,"
        "\"advertisingId\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"},\"network\":{\"carrier\":\"T-Mobile\","
        "\"bluetooth\":false,\"cellular\":true,\"wifi\":true},\"timezone\":\"America/Chicago\",\"sessionId\":"
        "1733306400123,\"externalId\":[{\"id\":\"jane@example.com\",\"type\":\"brazeExternalId\"},{\"id\":"
        "\"crm-55812\",\"type\":\"crmId\"}],\"consentManagement\":{\"deniedConsentIds\":[\"C0002\"]}},"
        "\"type\":\"track\",\"originalTimestamp\":\"2026-12-04T10:00:01.456Z\",\"anonymousId\":"
        "\"e2a1c3b4-d5f6-4a7b-8c9d-0e1f2a3b4c5d\",\"userId\":\"u-77\",\"event\":\"Order Completed\",\"properties\":"
        "{\"revenue\":30.0},\"integrations\":{\"All\":true}}]}";
    /* base64("e2a1c3b4-d5f6-4a7b-8c9d-0e1f2a3b4c5d") */
    const char *h[] = {
        STRICT_BASIC, "Content-Type: application/json", "AnonymousId: ZTJhMWMzYjQtZDVmNi00YTdiLThjOWQtMGUxZjJhM2I0YzVk",
        "User-Agent: Dalvik/2.1.0 (Linux; U; Android 13; sdk_gphone64_arm64 Build/TE1A.220922.012)", NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/batch", h, body, 0, &r), 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "ra-1");
    json_t *ctx = json_object_get(ev, "context");
    /* C0002 (analytics) denied: stripped, as the org's consent says. */
    assert_null(json_object_get(ev, "userId"));
    assert_null(json_object_get(ctx, "traits"));
    assert_null(json_object_get(json_object_get(ctx, "device"), "advertisingId"));
    assert_null(json_object_get(ctx, "externalId"));
    char *text = json_dumps(ev, JSON_COMPACT);
    assert_false(gwfix_contains(text, "jane@example.com"));
    assert_false(gwfix_contains(text, "crm-55812"));
    free(text);
    json_decref(msgs);
}

/* analytics-kotlin's HttpURLConnection keeps no cookies (Android sets no CookieHandler), so the
 * gateway's session cookie never comes back: each flush (every 30 s or 20 events) was a new
 * session, number 1 again, and an app's every batch counted as a visit. An app's events that
 * bring no session cookie get no session (nor a cookie): none rather than a wrong one. */
static void app_without_cookies_sessions(void **state)
{
    (void)state;
    const char *h[] = {"Content-Type: text/plain", "Content-Encoding: gzip", "User-Agent: analytics-kotlin/1.16.3",
                       NULL};
    for (int i = 0; i < 2; i++) {
        char body[1024];
        snprintf(body, sizeof(body),
                 "{\"batch\":[{\"event\":\"Tick\",\"type\":\"track\",\"messageId\":\"ses-%d\",\"anonymousId\":"
                 "\"ses-anon-1\",\"context\":{\"app\":{\"name\":\"Shop\"},\"userAgent\":\"Dalvik/2.1.0 (Linux; U; "
                 "Android 14; Pixel 8 Build/AP1A.240405.002)\",\"library\":{\"name\":\"analytics-kotlin\"}},"
                 "\"timestamp\":\"2026-12-04T10:00:0%d.000Z\"}],\"sentAt\":\"2026-12-04T10:00:0%d.100Z\","
                 "\"writeKey\":\"" APP_KEY "\"}",
                 i, i, i);
        size_t zl;
        char *z = gwfix_gzip(body, strlen(body), &zl);
        http_resp_t r;
        assert_int_equal(post("/v1/b", h, z, zl, &r), 200);
        assert_false(gwfix_contains(r.headers, "_sluice_ses="));
        http_resp_dispose(&r);
        free(z);
    }
    /* RudderStack's browser SDK also sends a context.app, but from a page, with an Origin: its
     * events keep their session, and the cookie that carries it. */
    const char *page[] = {"Content-Type: application/json", "Origin: https://www.shop.example",
                          "Authorization: Bearer " WEB_KEY, NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/batch", page,
                          "{\"batch\":[{\"type\":\"track\",\"event\":\"Web\",\"messageId\":\"ses-web\",\"anonymousId\":"
                          "\"ses-anon-2\",\"context\":{\"app\":{\"name\":\"RudderLabs JavaScript SDK\",\"namespace\":"
                          "\"com.rudderlabs.javascript\",\"version\":\"3.34.1\"},\"userAgent\":\"Mozilla/5.0 (X11; "
                          "Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\"}}]}",
                          0, &r),
                     200);
    assert_true(gwfix_contains(r.headers, "_sluice_ses="));
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_null(json_object_get(json_object_get(event_of(msgs, "ses-0"), "context"), "session"));
    assert_null(json_object_get(json_object_get(event_of(msgs, "ses-1"), "context"), "session"));
    assert_non_null(str_at(event_of(msgs, "ses-web"), "context", "session", "id"));
    json_decref(msgs);
}

/* One event's long string (a crash report's stack trace, a JSON blob kept as text) is over the
 * gateway's max_string_bytes (8 KiB here too) but well inside Segment's 32 KB per event: the
 * whole batch was a 400 "string longer than 8192 bytes", and every SDK here drops a batch on a
 * 400 (analytics-kotlin's EventPipeline and analytics-swift delete the file, rudder-sdk-android
 * and -kotlin drop it): the other events of the batch were lost with it. Now that event alone is
 * refused, with its path, and recorded in sluice.invalid. */
static void long_string_refuses_its_event_only(void **state)
{
    (void)state;
    size_t n = 9000;
    char *stack = malloc(n + 1);
    assert_non_null(stack);
    for (size_t i = 0; i < n; i++)
        stack[i] = "at com.shop.app.Checkout.pay(Checkout.kt:42)\\n"[i % 46];
    stack[n] = '\0';
    for (size_t i = n - 2; i < n; i++) /* no escape cut in two at the end */
        stack[i] = 'x';
    size_t cap = 2 * n + 2048;
    char *body = malloc(cap);
    assert_non_null(body);
    snprintf(body, cap,
             "{\"batch\":[{\"type\":\"track\",\"event\":\"Checkout Started\",\"messageId\":\"ls-ok\",\"anonymousId\":"
             "\"ls-anon\",\"context\":{\"app\":{\"name\":\"Shop\"},\"library\":{\"name\":\"analytics-swift\"}}},"
             "{\"type\":\"track\",\"event\":\"Application Crashed\",\"messageId\":\"ls-long\",\"anonymousId\":"
             "\"ls-anon\",\"properties\":{\"stack\":\"%s\"}},"
             "{\"type\":\"track\",\"event\":\"Checkout Retried\",\"messageId\":\"ls-ok2\",\"anonymousId\":"
             "\"ls-anon\"}],\"sentAt\":\"2026-12-04T10:00:02.001Z\",\"writeKey\":\"" APP_KEY "\"}",
             stack);
    const char *h[] = {"Content-Type: application/json; charset=utf-8", "User-Agent: analytics-ios/1.5.11", NULL};
    http_resp_t r;
    assert_int_equal(post("/v1/b", h, body, 0, &r), 200);
    json_t *answer = json_loads(r.body, 0, NULL);
    assert_non_null(answer);
    json_t *rej = json_object_get(answer, "rejected");
    assert_int_equal(json_array_size(rej), 1);
    assert_string_equal(str_at(json_array_get(rej, 0), "path", NULL, NULL), "batch[1].properties.stack");
    json_decref(answer);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    event_of(msgs, "ls-ok");
    event_of(msgs, "ls-ok2");
    assert_int_equal(gwfix_count_message(msgs, "ls-long"), 0);
    json_decref(msgs);
    /* Not lost silently: the refused event is recorded, with its reason. */
    json_t *recs = gwfix_kafka_read(&F, "sluice.invalid");
    size_t i, found = 0;
    json_t *m;
    json_array_foreach(recs, i, m) {
        const char *raw = json_string_value(json_object_get(m, "raw"));
        if (raw != NULL && strstr(raw, "ls-long") != NULL && strstr(raw, "string longer than 8192 bytes") != NULL)
            found++;
    }
    assert_int_equal(found, 1);
    json_decref(recs);
    /* A long string in what every event inherits (the batch's own context) is the request's: the
     * whole batch is refused, as before. */
    snprintf(body, cap,
             "{\"batch\":[{\"type\":\"track\",\"event\":\"A\",\"messageId\":\"ls-shared\",\"properties\":"
             "{\"stack\":\"%s\"}}],\"context\":{\"note\":\"%s\"},\"writeKey\":\"" APP_KEY "\"}",
             stack, stack);
    post("/v1/b", h, body, 0, &r);
    assert_int_equal(r.status, 400);
    assert_true(gwfix_contains(r.body, "\"path\":\"context.note\""));
    http_resp_dispose(&r);
    free(body);
    free(stack);
}

/* ------------------------------------------------------------------ server libraries */

/* Server libraries other languages' users run, with the server source's write key:
 * - analytics-python (segment/analytics/request.py): POST /v1/batch, Basic auth, application/json,
 *   User-Agent analytics-python/<v>, writeKey also in the body; datetime.isoformat() times
 *   (microseconds, "+00:00"); json.dumps writes 1e21 as 1e+21;
 * - analytics-go (v3): POST /v1/batch with Basic auth; the batch carries its own messageId and
 *   context.library, time.Time as RFC 3339 with nanoseconds and the host's offset;
 * - analytics-java (internal/http/SegmentService.java, Batch.java): POST /v1/import, Basic auth
 *   (AnalyticsRequestInterceptor), {batch, channel, sentAt, context}; Gson writes doubles as
 *   Java's Double.toString (1.0E21, 30.0);
 * - analytics-ruby: POST /v1/import, Basic auth, Time#iso8601(3) in the host's zone.
 * Every event arrives once, keyed by its own user, its numbers as written, with no address (the
 * server's is no user's). */
static void server_libraries(void **state)
{
    (void)state;
    http_resp_t r;
    const char *py[] = {"Content-Type: application/json", "User-Agent: analytics-python/2.3.4", SERVER_BASIC, NULL};
    assert_int_equal(post("/v1/batch", py,
                          "{\"batch\": [{\"properties\": {\"big\": 1e+21, \"price\": 19.9}, \"timestamp\": "
                          "\"2026-12-04T10:00:00.123456+00:00\", \"context\": {\"library\": {\"name\": "
                          "\"analytics-python\", \"version\": \"2.3.4\"}}, \"userId\": \"py-user\", \"anonymousId\": "
                          "null, \"integrations\": {}, \"type\": \"track\", \"event\": \"Py\", \"messageId\": "
                          "\"py-1\"}], \"sentAt\": \"2026-12-04T10:00:01.000001+00:00\", \"writeKey\": \"" SERVER_KEY
                          "\"}",
                          0, &r),
                     200);
    http_resp_dispose(&r);
    const char *go[] = {"Content-Type: application/json", "User-Agent: analytics-go (version: 3.3.0)", SERVER_BASIC,
                        NULL};
    assert_int_equal(post("/v1/batch", go,
                          "{\"messageId\":\"9f1e2d3c-b4a5-4697-8877-665544332211\",\"sentAt\":"
                          "\"2026-12-04T15:30:01.987654321+05:30\",\"batch\":[{\"type\":\"identify\",\"messageId\":"
                          "\"go-1\",\"userId\":\"go-user\",\"timestamp\":\"2026-12-04T15:30:00.123456789+05:30\","
                          "\"traits\":{\"email\":\"Go.User@Example.com\",\"plan\":\"pro\"}}],\"context\":{\"library\":"
                          "{\"name\":\"analytics-go\",\"version\":\"3.3.0\"}}}",
                          0, &r),
                     200);
    http_resp_dispose(&r);
    const char *java[] = {"Content-Type: application/json; charset=UTF-8", "User-Agent: analytics-java/3.5.1",
                          SERVER_BASIC, NULL};
    assert_int_equal(post("/v1/import", java,
                          "{\"batch\":[{\"type\":\"track\",\"event\":\"Java\",\"properties\":{\"big\":1.0E21,"
                          "\"total\":30.0,\"qty\":3,\"flag\":\"true\"},\"anonymousId\":\"java-anon\",\"messageId\":"
                          "\"java-1\",\"timestamp\":\"2026-12-04T10:00:00.000Z\",\"context\":{\"ip\":\"198.51.100.7\"},"
                          "\"integrations\":{}}],\"channel\":\"server\",\"sentAt\":\"2026-12-04T10:00:01.000+0000\","
                          "\"context\":{\"library\":{\"name\":\"analytics-java\",\"version\":\"3.5.1\"}}}",
                          0, &r),
                     200);
    http_resp_dispose(&r);
    const char *ruby[] = {"Content-Type: application/json", "Accept: application/json",
                          "User-Agent: analytics-ruby/2.5.0", SERVER_BASIC, NULL};
    assert_int_equal(post("/v1/import", ruby,
                          "{\"sentAt\":\"2026-12-04T11:00:01.000+01:00\",\"batch\":[{\"context\":{\"library\":"
                          "{\"name\":\"analytics-ruby\",\"version\":\"2.5.0\"}},\"messageId\":\"rb-1\",\"timestamp\":"
                          "\"2026-12-04T11:00:00.500+01:00\",\"userId\":\"rb-user\",\"type\":\"page\",\"name\":"
                          "\"Home\",\"properties\":{}}]}",
                          0, &r),
                     200);
    http_resp_dispose(&r);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "py-1");
    assert_string_equal(key_of(msgs, "py-1"), "shop:py-user");
    assert_null(json_object_get(json_object_get(ev, "context"), "ip"));
    assert_true(
        gwfix_contains(json_string_value(json_object_get(gwfix_find_message(msgs, "py-1"), "raw")), "\"big\":1e+21"));
    assert_string_equal(str_at(ev, "originalTimestamp", NULL, NULL), "2026-12-04T10:00:00.123456+00:00");
    ev = event_of(msgs, "go-1");
    assert_string_equal(key_of(msgs, "go-1"), "shop:go-user");
    assert_string_equal(str_at(ev, "context", "library", "name"), "analytics-go");
    /* sha256("go.user@example.com") */
    assert_string_equal(str_at(ev, "traits", "email", NULL),
                        "064f287f0e3574150902854d6672b658043baede1d6e5d58af25ab2d9fb619b7");
    ev = event_of(msgs, "java-1");
    assert_string_equal(key_of(msgs, "java-1"), "shop:java-anon");
    assert_string_equal(str_at(ev, "context", "ip", NULL), "198.51.100.7");
    assert_string_equal(str_at(ev, "context", "library", "name"), "analytics-java");
    const char *raw = json_string_value(json_object_get(gwfix_find_message(msgs, "java-1"), "raw"));
    assert_true(gwfix_contains(raw, "\"big\":1.0E21"));
    assert_true(gwfix_contains(raw, "\"total\":30.0"));
    assert_true(gwfix_contains(raw, "\"flag\":\"true\""));
    ev = event_of(msgs, "rb-1");
    assert_string_equal(key_of(msgs, "rb-1"), "shop:rb-user");
    assert_string_equal(str_at(ev, "name", NULL, NULL), "Home");
    json_decref(msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segment_kotlin_gzip_key_in_body),
        cmocka_unit_test(segment_settings_name_the_gateway),
        cmocka_unit_test(segment_react_native_android_not_a_bot),
        cmocka_unit_test(segment_swift_ios),
        cmocka_unit_test(segment_flutter_local_times),
        cmocka_unit_test(rudder_android_strip_removes_external_id),
        cmocka_unit_test(app_without_cookies_sessions),
        cmocka_unit_test(long_string_refuses_its_event_only),
        cmocka_unit_test(server_libraries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

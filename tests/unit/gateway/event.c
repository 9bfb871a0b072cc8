/* Tests for gateway/event.c: parsing limits, the event spec per type, timestamps, enrichment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/event.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/write.h"

static const sluice_limits_t limits = {
    .max_body_bytes = 524288,
    .max_event_bytes = 32768,
    .max_batch_events = 500,
    .max_depth = 8,
    .max_string_bytes = 64,
    .max_wire_bytes = 524288,
};

static json_t *parse(const char *s, sluice_event_error_t *e)
{
    return sluice_event_parse(s, strlen(s), &limits, NULL, NULL, e);
}

static int validate(const char *s, int type, sluice_event_error_t *e)
{
    json_t *ev = parse(s, e);
    assert_non_null(ev);
    int rc = sluice_event_validate(ev, type, &limits, "", 0, NULL, e);
    json_decref(ev);
    return rc;
}

static void parse_errors(void **state)
{
    (void)state;
    sluice_event_error_t e;
    assert_null(parse("{\"a\":", &e));
    assert_string_equal(e.code, "invalid_json");
    assert_int_equal(e.status, 400);
    assert_null(parse("[1,2]", &e));
    assert_string_equal(e.message, "body must be a JSON object");
    assert_null(parse("{\"a\":1,\"a\":2}", &e));
    assert_string_equal(e.code, "invalid_json");
    /* A UTF-8 byte order mark is skipped (RFC 8259 8.1); only one, and only at the start. */
    json_t *bom = parse("\xef\xbb\xbf{\"a\":1}", &e);
    assert_non_null(bom);
    assert_int_equal(json_integer_value(json_object_get(bom, "a")), 1);
    json_decref(bom);
    assert_null(parse("\xef\xbb\xbf\xef\xbb\xbf{\"a\":1}", &e));
    assert_null(parse(" \xef\xbb\xbf{\"a\":1}", &e));
    assert_null(parse("\xef\xbb\xbf", &e));
    /* UTF-16 and UTF-32, with a mark or without (a NUL among the first bytes), are named. */
    static const char *const wide[] = {"\xff\xfe{\0}\0", "\xfe\xff\0{\0}", "{\0}\0", "\0{\0}", "\0\0\0{"};
    static const size_t wide_len[] = {6, 6, 4, 4, 4};
    for (size_t i = 0; i < 5; i++) {
        assert_null(sluice_event_parse(wide[i], wide_len[i], &limits, NULL, NULL, &e));
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, "invalid_json");
        assert_non_null(strstr(e.message, "UTF-16 or UTF-32"));
    }
}

static void depth_and_string_limits(void **state)
{
    (void)state;
    sluice_event_error_t e;
    /* Eight levels of objects (the body is level 1) pass; a ninth is refused, named by its path. */
    json_t *ok = parse("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}", &e);
    assert_non_null(ok);
    json_decref(ok);
    assert_null(parse("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":[1]}}}}}}}}", &e));
    assert_string_equal(e.path, "a.b.c.d.e.f.g.h");
    assert_string_equal(e.message, "JSON nesting deeper than 8 levels");
    char big[200];
    snprintf(big, sizeof(big), "{\"properties\":{\"list\":[\"x\",\"%065d\"]}}", 0);
    assert_null(parse(big, &e));
    assert_string_equal(e.path, "properties.list[1]");
    assert_string_equal(e.message, "string longer than 64 bytes");
}

static void required_fields(void **state)
{
    (void)state;
    sluice_event_error_t e;
    assert_int_equal(validate("{\"event\":\"Buy\"}", SLUICE_EVENT_TRACK, &e), SLUICE_EVENT_TRACK);
    assert_int_equal(validate("{\"properties\":{}}", SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.path, "event");
    assert_string_equal(e.message, "track events need event");
    assert_int_equal(validate("{\"event\":\"\"}", SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.message, "event must not be empty");
    assert_int_equal(validate("{\"userId\":\"u1\"}", SLUICE_EVENT_ALIAS, &e), -1);
    assert_string_equal(e.path, "previousId");
    assert_int_equal(validate("{\"previousId\":\"a\",\"userId\":\"b\"}", SLUICE_EVENT_ALIAS, &e), SLUICE_EVENT_ALIAS);
    assert_int_equal(validate("{}", SLUICE_EVENT_GROUP, &e), -1);
    assert_string_equal(e.path, "groupId");
    assert_int_equal(validate("{\"groupId\":42}", SLUICE_EVENT_GROUP, &e), SLUICE_EVENT_GROUP);
    assert_int_equal(validate("{\"name\":\"Home\"}", SLUICE_EVENT_PAGE, &e), SLUICE_EVENT_PAGE);
    assert_int_equal(validate("{\"traits\":{\"email\":\"x\"}}", SLUICE_EVENT_IDENTIFY, &e), SLUICE_EVENT_IDENTIFY);
    /* A numeric userId is made a string first, and alias then finds it. */
    assert_int_equal(validate("{\"previousId\":\"a\",\"userId\":7}", SLUICE_EVENT_ALIAS, &e), SLUICE_EVENT_ALIAS);
    /* An event with many members (looked up one by one rather than matched) is checked alike. */
    char wide[1024];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(wide + n, sizeof(wide) - n, "%s\"k%d\":%d", i ? "," : "{", i, i);
    snprintf(wide + n, sizeof(wide) - n, ",\"sentAt\":\"yesterday\",\"event\":\"\"}");
    assert_int_equal(validate(wide, SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.path, "sentAt");
    snprintf(wide + n, sizeof(wide) - n, ",\"sentAt\":\"2026-11-23T10:00:00Z\",\"event\":\"\"}");
    assert_int_equal(validate(wide, SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.message, "event must not be empty");
    snprintf(wide + n, sizeof(wide) - n, ",\"event\":\"Buy\"}");
    assert_int_equal(validate(wide, SLUICE_EVENT_TRACK, &e), SLUICE_EVENT_TRACK);
}

static void types_from_body(void **state)
{
    (void)state;
    sluice_event_error_t e;
    assert_int_equal(validate("{\"type\":\"page\"}", -1, &e), SLUICE_EVENT_PAGE);
    assert_int_equal(validate("{\"event\":\"x\"}", -1, &e), -1);
    assert_string_equal(e.path, "type");
    assert_int_equal(validate("{\"type\":\"purchase\"}", -1, &e), -1);
    assert_string_equal(e.message, "type must be track, page, screen, identify, group or alias");
    /* The route's type wins over the body's. */
    json_t *ev = parse("{\"type\":\"page\",\"event\":\"Buy\"}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "", 0, NULL, &e), SLUICE_EVENT_TRACK);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "track");
    json_decref(ev);
}

static void wrong_types_with_paths(void **state)
{
    (void)state;
    sluice_event_error_t e;
    assert_int_equal(validate("{\"event\":\"x\",\"properties\":[1]}", SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.path, "properties");
    assert_string_equal(e.message, "properties must be an object");
    assert_int_equal(validate("{\"event\":\"x\",\"userId\":true}", SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.path, "userId");
    assert_int_equal(
        validate("{\"event\":\"x\",\"context\":{\"consent\":{\"categories\":\"all\"}}}", SLUICE_EVENT_TRACK, &e), -1);
    assert_string_equal(e.path, "context.consent.categories");
    json_t *ev = parse("{\"event\":\"x\",\"timestamp\":\"yesterday\"}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "batch[3]", 0, NULL, &e), -1);
    assert_string_equal(e.path, "batch[3].timestamp");
    json_decref(ev);
}

static void numbers_become_strings(void **state)
{
    (void)state;
    sluice_event_error_t e;
    json_t *ev = parse("{\"event\":\"x\",\"userId\":12345}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "", 0, NULL, &e), SLUICE_EVENT_TRACK);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), "12345");
    json_decref(ev);
    /* Whole numbers of any length, as sent (one past 64 bits is a real to jansson: it was "userId
     * must be a string"); other numbers are no id, and the message says what is. */
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    const char *big = "{\"event\":\"x\",\"userId\":12345678901234567890,\"anonymousId\":-0,\"messageId\":7}";
    ev = sluice_event_parse(big, strlen(big), &limits, nums, NULL, &e);
    assert_non_null(ev);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "", 0, nums, &e), SLUICE_EVENT_TRACK);
    assert_string_equal(json_string_value(json_object_get(ev, "userId")), "12345678901234567890");
    assert_string_equal(json_string_value(json_object_get(ev, "anonymousId")), "-0");
    assert_string_equal(json_string_value(json_object_get(ev, "messageId")), "7");
    json_decref(ev);
    const char *real[] = {"{\"event\":\"x\",\"userId\":1.5}", "{\"event\":\"x\",\"userId\":1e3}"};
    for (size_t i = 0; i < 2; i++) {
        ev = sluice_event_parse(real[i], strlen(real[i]), &limits, nums, NULL, &e);
        assert_non_null(ev);
        assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "", 0, nums, &e), -1);
        assert_string_equal(e.message, "userId must be a string or a whole number");
        assert_string_equal(e.path, "userId");
        json_decref(ev);
    }
    sluice_jsonnum_free(nums);
}

static void event_size_limit(void **state)
{
    (void)state;
    sluice_limits_t small = limits;
    small.max_event_bytes = 40;
    sluice_event_error_t e;
    json_t *ev = parse("{\"event\":\"x\",\"properties\":{\"a\":\"0123456789\",\"b\":\"0123456789\"}}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &small, "", 0, NULL, &e), -1);
    assert_int_equal(e.status, 413);
    assert_string_equal(e.code, "payload_too_large");
    json_decref(ev);
}

/* Event times follow common/time.h's one set of rules: the same text the delivery worker reads
 * later, so an event the gateway accepts never has its time silently replaced downstream. A time
 * without a zone (Segment's Flutter SDK: Dart's local toIso8601String) is taken: the gateway
 * writes the event's timestamp from it (timestamp_corrected_for_client_clock), with a zone. */
static void event_times(void **state)
{
    (void)state;
    sluice_event_error_t e;
    const char *good[] = {"2026-11-23T10:00:00Z",     "2026-11-23T10:00:00.123Z", "2026-11-23T10:00:00.123456+01:00",
                          "2026-11-23T10:00:00-0500", "2024-02-29T00:00:00Z",     "2026-11-23T10:00:00.123456"};
    const char *bad[] = {"2026-11-23",           "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z",
                         "2025-02-29T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T10:00:00Zjunk",
                         "1700000000",           "2026-11-23T10:00"};
    char body[128];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(body, sizeof(body), "{\"event\":\"x\",\"timestamp\":\"%s\"}", good[i]);
        assert_int_equal(validate(body, SLUICE_EVENT_TRACK, &e), SLUICE_EVENT_TRACK);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"event\":\"x\",\"timestamp\":\"%s\"}", bad[i]);
        if (validate(body, SLUICE_EVENT_TRACK, &e) != -1)
            fail_msg("timestamp '%s' was accepted", bad[i]);
        assert_string_equal(e.code, "invalid_event");
        assert_string_equal(e.path, "timestamp");
    }
}

static void enrich(void **state)
{
    (void)state;
    sluice_event_error_t e;
    json_t *ev = parse("{\"event\":\"x\",\"context\":{\"ip\":\"6.6.6.6\"}}", &e);
    sluice_event_enrich_t en = {.received_ms = 1795420800123LL, .client_ip = "203.0.113.9", .user_agent = "UA/1"};
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    const char *mid = json_string_value(json_object_get(ev, "messageId"));
    assert_non_null(mid);
    assert_int_equal(strlen(mid), 36);
    assert_string_equal(json_string_value(json_object_get(ev, "receivedAt")), "2026-11-23T08:00:00.123Z");
    /* A browser cannot choose its own IP; the connection's counts. */
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "context"), "ip")), "203.0.113.9");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "context"), "userAgent")), "UA/1");
    json_decref(ev);

    ev = parse("{\"event\":\"x\",\"messageId\":\"m-1\",\"context\":{\"ip\":\"198.51.100.7\"}}", &e);
    en.trust_client_ip = 1;
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "messageId")), "m-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "context"), "ip")), "198.51.100.7");
    json_decref(ev);

    /* Header bytes: UTF-8 of any length is kept, anything else is not taken. */
    static const char *const agents[] = {
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Agent \xc3\x9c"
        "n\xc3\xaf"
        "c\xc3\xb8"
        "d\xc3\xa9 0123456789abcdef",
        "x", ""};
    for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++) {
        ev = parse("{\"event\":\"x\"}", &e);
        en.user_agent = agents[i];
        assert_int_equal(sluice_event_enrich(ev, &en), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "context"), "userAgent")), agents[i]);
        json_decref(ev);
    }
    /* An empty context.userAgent (an SDK that could not read its platform's) is none: the
     * header's is taken. Kept, the event was one without a user agent, which `bots: drop` drops. */
    ev = parse("{\"event\":\"x\",\"context\":{\"userAgent\":\"\"}}", &e);
    en.user_agent = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)";
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "context"), "userAgent")), en.user_agent);
    json_decref(ev);
    /* Bytes that are not UTF-8 (a Latin-1 device name, a cut header) become U+FFFD each: the
     * user agent is kept, so the event is parsed and judged by it. Not taking it made the event
     * one "without a user agent", and an org with `bots: drop` lost it. */
    static const char *const bad[][2] = {
        {"UA \xff\xfe", "UA \xef\xbf\xbd\xef\xbf\xbd"},
        {"0123456789abcdef\xc3", "0123456789abcdef\xef\xbf\xbd"},
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"long ascii prefix \xed\xa0\x80", "long ascii prefix \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"Mozilla/5.0 (Linux; Android 9; Caf\xe9 Phone) Mobile",
         "Mozilla/5.0 (Linux; Android 9; Caf\xef\xbf\xbd Phone) Mobile"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ev = parse("{\"event\":\"x\"}", &e);
        en.user_agent = bad[i][0];
        assert_int_equal(sluice_event_enrich(ev, &en), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "context"), "userAgent")), bad[i][1]);
        json_decref(ev);
    }
}

static const char *str(json_t *ev, const char *key)
{
    return json_string_value(json_object_get(ev, key));
}

/* analytics-kotlin's unpadded milliseconds (SimpleDateFormat "S": 95 ms is ".95Z", 7 ms ".7Z") are
 * its milliseconds, not tenths; RFC 3339's reading (950 ms, 700 ms) moved its events. */
static void kotlin_unpadded_milliseconds(void **state)
{
    (void)state;
    sluice_event_error_t e;
    sluice_event_enrich_t en = {.received_ms = 1795420800000LL, .client_ip = "203.0.113.9"}; /* 08:00:00Z */
    json_t *ev = parse("{\"event\":\"x\",\"context\":{\"library\":{\"name\":\"analytics-kotlin\","
                       "\"version\":\"1.10.0\"}},\"timestamp\":\"2026-11-23T08:00:00.95Z\","
                       "\"sentAt\":\"2026-11-23T08:00:01.7Z\"}",
                       &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    /* stamped 1.007 s - 0.095 s = 0.912 s before it was sent */
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:59.088Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T08:00:00.095Z");
    assert_string_equal(str(ev, "sentAt"), "2026-11-23T08:00:01.007Z");
    json_decref(ev);
    /* Three digits are the same either way; another library's ".7Z" is RFC 3339's 700 ms. */
    ev = parse("{\"event\":\"x\",\"context\":{\"library\":{\"name\":\"analytics-kotlin\"}},"
               "\"timestamp\":\"2026-11-23T08:00:00.100Z\",\"sentAt\":\"2026-11-23T08:00:01.200Z\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:58.900Z");
    json_decref(ev);
    ev = parse("{\"event\":\"x\",\"context\":{\"library\":{\"name\":\"analytics-python\"}},"
               "\"timestamp\":\"2026-11-23T08:00:00.7Z\",\"sentAt\":\"2026-11-23T08:00:01.2Z\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:59.500Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T08:00:00.7Z");
    json_decref(ev);
}

/* Segment's correction: timestamp = receivedAt - (sentAt - originalTimestamp), original kept. */
static void timestamp_corrected_for_client_clock(void **state)
{
    (void)state;
    sluice_event_error_t e;
    sluice_event_enrich_t en = {.received_ms = 1795420800000LL, .client_ip = "203.0.113.9"}; /* 08:00:00Z */
    /* The client's clock is 1 h 30 s fast: it stamped the event 5 s before sending it. */
    json_t *ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-23T09:00:25.000Z\","
                       "\"sentAt\":\"2026-11-23T09:00:30.000Z\"}",
                       &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:55.000Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T09:00:25.000Z");
    json_decref(ev);
    /* RudderStack sends originalTimestamp and sentAt (with an offset), no timestamp. */
    ev = parse("{\"event\":\"x\",\"originalTimestamp\":\"2026-11-23T08:59:59.500+01:00\","
               "\"sentAt\":\"2026-11-23T09:00:00.000+01:00\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:59.500Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T08:59:59.500+01:00");
    json_decref(ev);
    /* RudderStack's node SDK importing a past purchase: the caller's timestamp, the call's time
     * as originalTimestamp, sentAt at the flush a second later. The purchase keeps its day (its
     * timestamp corrected, 1 h 30 s for this clock); the call's time stays originalTimestamp. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-16T09:30:00.000Z\","
               "\"originalTimestamp\":\"2026-11-23T09:00:29.000Z\",\"sentAt\":\"2026-11-23T09:00:30.000Z\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-16T08:29:30.000Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T09:00:29.000Z");
    json_decref(ev);
    /* Without sentAt there is nothing to correct with: timestamp as sent. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-20T10:00:00Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-20T10:00:00Z");
    assert_null(json_object_get(ev, "originalTimestamp"));
    json_decref(ev);
    ev = parse("{\"event\":\"x\",\"originalTimestamp\":\"2026-11-20T10:00:00Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-20T10:00:00Z");
    json_decref(ev);
    /* An event stamped after its own sentAt (a client whose clock stepped, a hostile one) is not
     * moved into the future: an event cannot have happened after the gateway received it. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-23T09:00:05.000Z\","
               "\"sentAt\":\"2026-11-23T09:00:00.000Z\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T08:00:00.000Z"); /* receivedAt */
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T09:00:05.000Z");
    json_decref(ev);
    ev = parse("{\"event\":\"x\",\"timestamp\":\"9999-12-31T23:59:59.999Z\",\"sentAt\":\"2020-01-01T00:00:00Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T08:00:00.000Z");
    json_decref(ev);
    /* A null timestamp is an absent one: originalTimestamp gives it. */
    ev = parse("{\"event\":\"x\",\"timestamp\":null,\"originalTimestamp\":\"2026-11-20T10:00:00Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-20T10:00:00Z");
    json_decref(ev);
    /* Segment's Flutter SDK stamps the event and sentAt with the phone's wall clock, no zone: the
     * two readings of one clock give the event's age (2.222 s), whatever the phone's zone. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-23T11:00:00.123456\","
               "\"sentAt\":\"2026-11-23T11:00:02.345678\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:57.778Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T11:00:00.123456");
    json_decref(ev);
    /* A wall-clock time without a sentAt of the same clock has no known instant: as received. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-23T11:00:00\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T08:00:00.000Z");
    assert_string_equal(str(ev, "originalTimestamp"), "2026-11-23T11:00:00");
    json_decref(ev);
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-23T11:00:00\",\"sentAt\":\"2026-11-23T10:00:05Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T08:00:00.000Z");
    json_decref(ev);
    /* A zoned time is not corrected by a sentAt without a zone (a different clock, as far as
     * anyone can tell): it stays as sent. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2026-11-20T10:00:00Z\",\"sentAt\":\"2026-11-20T11:00:05\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-20T10:00:00Z");
    assert_null(json_object_get(ev, "originalTimestamp"));
    json_decref(ev);
    /* No time at all: none is made up (receivedAt says when it arrived). */
    ev = parse("{\"event\":\"x\",\"sentAt\":\"2026-11-20T10:00:00Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_null(json_object_get(ev, "timestamp"));
    json_decref(ev);
}

/* A sentAt and a timestamp that are not readings of one clock give no age: the correction never
 * makes an event's time one before 1970 (it made year 0000 of a far-future sentAt, which every
 * vendor refused as too old). */
static void timestamp_never_corrected_into_nonsense(void **state)
{
    (void)state;
    sluice_event_error_t e;
    sluice_event_enrich_t en = {.received_ms = 1795420800000LL, .client_ip = "203.0.113.9"}; /* 08:00:00Z */
    static const char *const far_sent[] = {"9999-12-31T23:59:59Z", "2090-01-01T00:00:00.000Z",
                                           "2090-01-01T05:30:00+05:30"};
    for (size_t i = 0; i < sizeof(far_sent) / sizeof(far_sent[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"event\":\"x\",\"timestamp\":\"2026-11-23T07:59:58.000Z\",\"sentAt\":\"%s\"}",
                 far_sent[i]);
        json_t *ev = parse(body, &e);
        assert_int_equal(sluice_event_enrich(ev, &en), 0);
        /* The event's own time, which it can have happened at, as sent. */
        assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:58.000Z");
        json_decref(ev);
    }
    /* RudderStack's form: originalTimestamp gives the timestamp. */
    json_t *ev = parse("{\"event\":\"x\",\"originalTimestamp\":\"2026-11-23T07:59:58.000Z\","
                       "\"sentAt\":\"9999-12-31T23:59:59.999Z\"}",
                       &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:58.000Z");
    json_decref(ev);
    /* Go's and .NET's zero time as the timestamp, a right sentAt: when it was received. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"0001-01-01T00:00:00Z\",\"sentAt\":\"2026-11-23T08:00:00.000Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T08:00:00.000Z");
    assert_string_equal(str(ev, "originalTimestamp"), "0001-01-01T00:00:00Z");
    json_decref(ev);
    /* Both far ahead, a phone whose clock says 2090: one clock, so still corrected by its age. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"2090-01-01T00:00:00.000Z\",\"sentAt\":\"2090-01-01T00:00:05.000Z\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:55.000Z");
    json_decref(ev);
    /* Both at 9999: the same. */
    ev = parse("{\"event\":\"x\",\"timestamp\":\"9999-12-31T23:59:00.000Z\",\"sentAt\":\"9999-12-31T23:59:59.000Z\"}",
               &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T07:59:01.000Z");
    json_decref(ev);
}

/* Go's and .NET's zero time as the sentAt (a struct's SentAt never set) next to a right
 * timestamp: no reading of the client's clock either. Taken as one, it said the event was stamped
 * 2,025 years after it was sent, and the event's own time (an hour ago, queued offline) became
 * receivedAt. */
static void zero_sent_at_is_no_age(void **state)
{
    (void)state;
    sluice_event_error_t e;
    sluice_event_enrich_t en = {.received_ms = 1795420800000LL, .client_ip = "203.0.113.9"}; /* 08:00:00Z */
    static const char *const zero_sent[] = {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z",
                                            "1900-01-01T00:00:00+01:00"};
    for (size_t i = 0; i < sizeof(zero_sent) / sizeof(zero_sent[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"event\":\"x\",\"timestamp\":\"2026-11-23T07:00:00.000Z\",\"sentAt\":\"%s\"}",
                 zero_sent[i]);
        json_t *ev = parse(body, &e);
        assert_int_equal(sluice_event_enrich(ev, &en), 0);
        if (strcmp(str(ev, "timestamp"), "2026-11-23T07:00:00.000Z") != 0)
            fail_msg("sentAt %s: timestamp %s, the event's own time lost", zero_sent[i], str(ev, "timestamp"));
        json_decref(ev);
    }
    /* Both zero: no time at all to go by, when it was received. */
    json_t *ev =
        parse("{\"event\":\"x\",\"timestamp\":\"0001-01-01T00:00:00Z\",\"sentAt\":\"0001-01-01T00:00:00Z\"}", &e);
    assert_int_equal(sluice_event_enrich(ev, &en), 0);
    assert_string_equal(str(ev, "timestamp"), "2026-11-23T08:00:00.000Z");
    json_decref(ev);
}

/* "" ids (RudderStack's userId before identify) are absent ids, not invalid ones. */
static void empty_ids_are_absent(void **state)
{
    (void)state;
    sluice_event_error_t e;
    json_t *ev = parse("{\"event\":\"x\",\"userId\":\"\",\"anonymousId\":\"a-1\"}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "", 0, NULL, &e), SLUICE_EVENT_TRACK);
    assert_null(json_object_get(ev, "userId"));
    assert_string_equal(str(ev, "anonymousId"), "a-1");
    json_decref(ev);
    ev = parse("{\"event\":\"x\",\"userId\":\"u-1\",\"anonymousId\":\"\"}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_TRACK, &limits, "", 0, NULL, &e), SLUICE_EVENT_TRACK);
    assert_null(json_object_get(ev, "anonymousId"));
    json_decref(ev);
    /* alias still needs a userId */
    ev = parse("{\"previousId\":\"a\",\"userId\":\"\"}", &e);
    assert_int_equal(sluice_event_validate(ev, SLUICE_EVENT_ALIAS, &limits, "", 0, NULL, &e), -1);
    json_decref(ev);
}

static void encoded_size_matches_jansson(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "{\"a\":[],\"b\":{},\"c\":null,\"d\":true,\"e\":false}",
        "{\"n\":7,\"m\":-9223372036854775807,\"p\":1234567890,\"q\":[1,-2,30,400]}",
        "{\"quote\\\"\":\"tab\\there\\nnew \\\\ back \\u0001 ctl \\u001f\",\"utf8\":\"Val\u00e9ry \u20ac\"}",
        "{\"event\":\"Order Completed\",\"properties\":{\"items\":[{\"sku\":\"a\",\"q\":2},{\"sku\":\"b\"}]}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_error_t je;
        json_t *v = json_loads(docs[i], 0, &je);
        assert_non_null(v);
        char *text = json_dumps(v, JSON_COMPACT);
        assert_int_equal(sluice_event_encoded_size(v, NULL), strlen(text));
        free(text);
        json_decref(v);
    }
    /* 0 counts as "-0", which the client may have written (encoded_size_counts_numbers_as_sent). */
    json_error_t je;
    json_t *zero = json_loads("{\"n\":0}", 0, &je);
    assert_int_equal(sluice_event_encoded_size(zero, NULL), strlen("{\"n\":-0}"));
    json_decref(zero);
    /* Fractions count as their longest form: never less than the real encoding. */
    json_t *v = json_loads("{\"total\":19.99,\"tiny\":1e-300,\"big\":-1.7976931348623157e308}", 0, &je);
    char *text = json_dumps(v, JSON_COMPACT);
    assert_true(sluice_event_encoded_size(v, NULL) >= strlen(text));
    free(text);
    json_decref(v);
}

/* A number goes out as the client wrote it (json/numbers.h): "-0" is the integer 0 written with
 * two bytes, and the size, an upper bound, must count them. */
static void encoded_size_counts_numbers_as_sent(void **state)
{
    (void)state;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    assert_non_null(nums);
    static const char body[] = "{\"event\":\"x\",\"properties\":{\"z\":[-0,-0,-0,-0,0,-0],\"d\":-0}}";
    sluice_event_error_t e;
    json_t *ev = sluice_event_parse(body, strlen(body), &limits, nums, NULL, &e);
    assert_non_null(ev);
    size_t len;
    char *text = sluice_json_encode(ev, nums, &len);
    assert_non_null(text);
    assert_string_equal(text, body);
    assert_true(sluice_event_encoded_size(ev, NULL) >= len);
    assert_true(sluice_event_encoded_size(ev, nums) >= len);
    free(text);
    json_decref(ev);
    /* Reals with their texts are measured exactly: 100 prices do not count as 100 longest forms
     * (an event under the limit was refused when it had to be walked). */
    static const char reals[] = "{\"event\":\"x\",\"properties\":{\"p\":[19.90,1e14,0.1,1.5,-0.0,2E+3]}}";
    ev = sluice_event_parse(reals, strlen(reals), &limits, nums, NULL, &e);
    assert_non_null(ev);
    assert_int_equal(sluice_event_encoded_size(ev, nums), strlen(reals));
    assert_true(sluice_event_encoded_size(ev, NULL) > strlen(reals));
    json_decref(ev);
    sluice_jsonnum_free(nums);
}

/* A member's size is what it adds to an object: the batch's shared members are measured with it
 * before they are copied into each event (gateway/ingest.c). */
static void member_size_is_the_members_share(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"a\\\"b\":[1,\"x\\n\"],\"c\":{}}", 0, NULL);
    assert_non_null(v);
    size_t sum = 2 + 1; /* braces and the comma between the two members */
    const char *key;
    json_t *m;
    json_object_foreach(v, key, m)
        sum += sluice_event_member_size(key, strlen(key), m, NULL);
    assert_int_equal(sum, sluice_event_encoded_size(v, NULL));
    assert_int_equal(sluice_event_member_size("c", 1, json_object_get(v, "c"), NULL), strlen("\"c\":{}"));
    json_decref(v);
}

/* Arenas for the jv values (json/arena.h): installed once, before any test. */
static int setup(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

/* ---------------------------------------------------------------- the same rules on jv values */

/* Validates s as the gateway does (sluice_event_parse with a numbers' table) and as arena values
 * (sluice_jv_parse, sluice_event_validate_jv), each on its own parse, and asserts that both give
 * the same type or the same error and, when valid, write the same bytes and count the same size.
 * Returns the type; e is the jv side's error, *out (when out is not NULL) the jv event's bytes
 * after validation (malloc'd). */
static int validate_both(const char *s, int type, const char *prefix, sluice_event_error_t *e, char **out)
{
    sluice_event_error_t ej;
    memset(&ej, 0, sizeof(ej));
    memset(e, 0, sizeof(*e));
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *j = sluice_event_parse(s, strlen(s), &limits, nums, NULL, &ej);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t err;
    sluice_jv_t *v = sluice_jv_parse(a, s, strlen(s), limits.max_depth, limits.max_string_bytes,
                                     limits.max_batch_events, NULL, &err);
    assert_non_null(j);
    assert_non_null(v);
    assert_int_equal(sluice_event_encoded_size(j, nums), sluice_event_encoded_size_jv(v));
    int tj = sluice_event_validate(j, type, &limits, prefix, 0, nums, &ej);
    int tv = sluice_event_validate_jv(v, type, &limits, prefix, 0, a, e);
    assert_int_equal(tj, tv);
    if (tv < 0) {
        assert_int_equal(ej.status, e->status);
        assert_string_equal(ej.code, e->code);
        assert_string_equal(ej.path, e->path);
        assert_string_equal(ej.message, e->message);
    } else {
        char *wj = sluice_json_encode(j, nums, NULL), *wv = sluice_jv_encode(v, NULL);
        assert_string_equal(wj, wv);
        assert_int_equal(sluice_event_encoded_size(j, nums), sluice_event_encoded_size_jv(v));
        free(wj);
        if (out != NULL)
            *out = wv;
        else
            free(wv);
    }
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return tv;
}

/* What validation changes, on both trees alike: ids sent as numbers become their digits as sent,
 * the route's type replaces the body's in place, empty ids are removed; other numbers stay as
 * sent. */
static void jv_validation_changes_as_jansson(void **state)
{
    (void)state;
    sluice_event_error_t e;
    char *out = NULL;
    assert_int_equal(validate_both("{\"type\":\"track\",\"event\":\"Order\",\"userId\":12345678901234567890,"
                                   "\"anonymousId\":-0,\"properties\":{\"price\":19.9,\"q\":1e21,\"d\":-0,\"z\":0}}",
                                   -1, "", &e, &out),
                     SLUICE_EVENT_TRACK);
    assert_string_equal(out, "{\"type\":\"track\",\"event\":\"Order\",\"userId\":\"12345678901234567890\","
                             "\"anonymousId\":\"-0\",\"properties\":{\"price\":19.9,\"q\":1e21,\"d\":-0,\"z\":0}}");
    free(out);
    assert_int_equal(validate_both("{\"type\":\"page\",\"event\":\"x\",\"userId\":\"\",\"anonymousId\":\"a\"}",
                                   SLUICE_EVENT_TRACK, "", &e, &out),
                     SLUICE_EVENT_TRACK);
    assert_string_equal(out, "{\"type\":\"track\",\"event\":\"x\",\"anonymousId\":\"a\"}");
    free(out);
    assert_int_equal(validate_both("{\"event\":\"x\"}", SLUICE_EVENT_TRACK, "", &e, &out), SLUICE_EVENT_TRACK);
    assert_string_equal(out, "{\"event\":\"x\",\"type\":\"track\"}");
    free(out);
}

/* The same refusals, with the same status, code, path and message. */
static void jv_validation_refuses_as_jansson(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int type;
        const char *prefix;
        int status;
        const char *path, *message;
    } cases[] = {
        {"{\"event\":\"x\"}", -1, "", 400, "type", "type is required: track, page, screen, identify, group or alias"},
        {"{\"type\":\"buy\"}", -1, "batch[1]", 400, "batch[1].type",
         "type must be track, page, screen, identify, group or alias"},
        {"{\"type\":\"group\",\"anonymousId\":\"a\"}", -1, "batch[3]", 400, "batch[3].groupId",
         "group events need groupId"},
        {"{\"previousId\":\"p\",\"userId\":\"\"}", SLUICE_EVENT_ALIAS, "", 400, "userId", "alias events need userId"},
        {"{\"event\":\"x\",\"userId\":1.5}", SLUICE_EVENT_TRACK, "", 400, "userId",
         "userId must be a string or a whole number"},
        {"{\"event\":\"\"}", SLUICE_EVENT_TRACK, "", 400, "event", "event must not be empty"},
        {"{\"name\":7}", SLUICE_EVENT_PAGE, "", 400, "name", "name must be a string"},
        {"{\"event\":\"x\",\"timestamp\":\"yesterday\"}", SLUICE_EVENT_TRACK, "batch[0]", 400, "batch[0].timestamp",
         "timestamp must be an ISO-8601 date-time, e.g. 2026-11-23T10:00:00.000Z"},
        {"{\"event\":\"x\",\"context\":{\"consent\":{\"categories\":[\"ads\",1]}}}", SLUICE_EVENT_TRACK, "", 400,
         "context.consent.categories", "context.consent.categories must hold strings"},
        {"{\"event\":\"x\",\"traits\":[]}", SLUICE_EVENT_IDENTIFY, "", 400, "traits", "traits must be an object"},
        {"[]", -1, "batch[2]", 400, "batch[2]", "an event must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_event_error_t e;
        if (cases[i].body[0] == '[') { /* no body the gateway parses: the jv rule alone */
            sluice_json_arena_t *a = sluice_json_arena_new();
            sluice_json_error_t err;
            sluice_jv_t *v = sluice_jv_parse(a, cases[i].body, 2, 8, 64, 0, NULL, &err);
            assert_int_equal(sluice_event_validate_jv(v, cases[i].type, &limits, cases[i].prefix, 0, a, &e), -1);
            sluice_json_arena_free(a);
        } else {
            assert_int_equal(validate_both(cases[i].body, cases[i].type, cases[i].prefix, &e, NULL), -1);
        }
        assert_int_equal(e.status, cases[i].status);
        assert_string_equal(e.code, "invalid_event");
        assert_string_equal(e.path, cases[i].path);
        assert_string_equal(e.message, cases[i].message);
    }
}

/* An event over max_event_bytes is refused 413 on both, and a number 0 counts as jansson counts
 * it (2, "-0"'s length), so both refuse at the same byte. */
static void jv_event_size_as_jansson(void **state)
{
    (void)state;
    /* {"event":"x","properties":{"p0000":"<50 bytes>",...}}: 64 bytes a member past the first. */
    size_t cap = limits.max_event_bytes + 4096, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "{\"event\":\"x\",\"properties\":{");
    for (int i = 0; n + 100 < limits.max_event_bytes; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s\"p%04d\":\"%050d\"", i ? "," : "", i, i);
    snprintf(body + n, cap - n, "}}");
    sluice_event_error_t e;
    assert_int_equal(validate_both(body, SLUICE_EVENT_TRACK, "", &e, NULL), SLUICE_EVENT_TRACK);
    /* Grown past the limit by numbers 0: "n":[0,0,...] */
    n = strlen(body) - 2;
    n += (size_t)snprintf(body + n, cap - n, ",\"n\":[0");
    while (n < limits.max_event_bytes + 200)
        n += (size_t)snprintf(body + n, cap - n, ",0");
    snprintf(body + n, cap - n, "]}}");
    assert_int_equal(validate_both(body, SLUICE_EVENT_TRACK, "batch[4]", &e, NULL), -1);
    assert_int_equal(e.status, 413);
    assert_string_equal(e.code, "payload_too_large");
    assert_string_equal(e.path, "batch[4]");
    free(body);
    /* The count itself: "0" as 2, every other number as its text. */
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t err;
    const char *doc = "{\"a\":[0,-0,19.9,1e21,12345678901234567890]}";
    sluice_jv_t *v = sluice_jv_parse(a, doc, strlen(doc), 8, 64, 0, NULL, &err);
    assert_int_equal(sluice_event_encoded_size_jv(v), strlen(doc) + 1);
    sluice_json_arena_free(a);
}

/* The body's parse on both trees: what sluice_event_parse accepts (a byte order mark skipped) is
 * accepted and written alike; what it refuses (UTF-16 and UTF-32, no object, syntax with its
 * position, a limit with its path, too many events) is refused with the same error; an over-long
 * string in a batch's event is the same fault. */
static void jv_parse_as_jansson(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t len; /* 0: strlen */
        int status; /* 0: accepted */
        const char *code, *path, *message;
    } cases[] = {
        {"\xef\xbb\xbf{\"a\":1,\"n\":-0}", 0, 0, NULL, NULL, NULL},
        {"\xff\xfe{\0}\0", 6, 400, "invalid_json", "", "body is UTF-16 or UTF-32: JSON must be sent as UTF-8"},
        {"\xef\xbb\xbf\xfe\xff\0{\0}", 9, 400, "invalid_json", "",
         "body is UTF-16 or UTF-32: JSON must be sent as UTF-8"},
        {"\0\0\0{", 4, 400, "invalid_json", "", "body is UTF-16 or UTF-32: JSON must be sent as UTF-8"},
        {"\xef\xbb\xbf[1,2]", 0, 400, "invalid_json", "", "body must be a JSON object"},
        {"\"x\"", 0, 400, "invalid_json", "", "body must be a JSON object"},
        {"{\"a\":\n  tru}", 0, 400, "invalid_json", "", "body is not valid JSON: invalid token at line 2 column 3"},
        {"\xef\xbb\xbf\xef\xbb\xbf{}", 0, 400, "invalid_json", "",
         "body is not valid JSON: invalid token at line 1 column 1"},
        {"{\"a\":1,\"a\":2}", 0, 400, "invalid_json", "", NULL},
        {"{\"a\":[[[[[[[[1]]]]]]]]}", 0, 400, "invalid_json", "a[0][0][0][0][0][0][0]", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
        sluice_event_error_t ej, ev;
        memset(&ej, 0, sizeof(ej));
        memset(&ev, 0, sizeof(ev));
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        sluice_json_arena_t *a = sluice_json_arena_new();
        json_t *j = sluice_event_parse(cases[i].body, len, &limits, nums, NULL, &ej);
        sluice_jv_t *v = sluice_event_parse_jv(cases[i].body, len, &limits, a, NULL, &ev);
        if (cases[i].status == 0) {
            assert_non_null(j);
            assert_non_null(v);
            char *wj = sluice_json_encode(j, nums, NULL), *wv = sluice_jv_encode(v, NULL);
            assert_string_equal(wv, "{\"a\":1,\"n\":-0}");
            assert_string_equal(wj, wv);
            free(wj);
            free(wv);
        } else {
            assert_null(j);
            assert_null(v);
            assert_int_equal(ev.status, cases[i].status);
            assert_string_equal(ev.code, cases[i].code);
            assert_string_equal(ev.path, cases[i].path);
            if (cases[i].message != NULL)
                assert_string_equal(ev.message, cases[i].message);
            assert_int_equal(ej.status, ev.status);
            assert_string_equal(ej.code, ev.code);
            assert_string_equal(ej.path, ev.path);
            assert_string_equal(ej.message, ev.message);
        }
        json_decref(j);
        sluice_jsonnum_free(nums);
        sluice_json_arena_free(a);
    }
    /* A batch: an over-long string is its event's fault on both; one event too many is 413. */
    char body[2048];
    snprintf(body, sizeof(body), "{\"batch\":[{\"event\":\"a\"},{\"event\":\"%070d\"}]}", 0);
    sluice_json_item_faults_t fj = {.count = 0}, fv = {.count = 0};
    sluice_event_error_t ej, ev;
    sluice_json_arena_t *a = sluice_json_arena_new();
    json_t *j = sluice_event_parse(body, strlen(body), &limits, NULL, &fj, &ej);
    sluice_jv_t *v = sluice_event_parse_jv(body, strlen(body), &limits, a, &fv, &ev);
    assert_non_null(j);
    assert_non_null(v);
    assert_int_equal(fv.count, 1);
    assert_int_equal(fv.item[0].index, 1);
    assert_string_equal(fv.item[0].path, "batch[1].event");
    assert_int_equal(fj.count, fv.count);
    assert_int_equal(fj.item[0].index, fv.item[0].index);
    assert_string_equal(fj.item[0].path, fv.item[0].path);
    assert_string_equal(fj.item[0].message, fv.item[0].message);
    json_decref(j);
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"batch\":[{}");
    for (size_t k = 1; k <= limits.max_batch_events; k++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, ",{}");
    snprintf(body + n, sizeof(body) - n, "]}");
    assert_null(sluice_event_parse(body, strlen(body), &limits, NULL, NULL, &ej));
    assert_null(sluice_event_parse_jv(body, strlen(body), &limits, a, NULL, &ev));
    assert_int_equal(ev.status, 413);
    assert_string_equal(ev.code, "payload_too_large");
    assert_int_equal(ej.status, ev.status);
    assert_string_equal(ej.path, ev.path);
    assert_string_equal(ej.message, ev.message);
    sluice_json_arena_free(a);
}

/* Enriches body on both trees with en; returns the jv event's bytes (the caller frees) after
 * asserting the jansson event's are the same. A messageId made for an event without one is
 * random: the jv event's must be a UUID's 36 bytes too, and is compared as the jansson one. */
static char *enrich_both(const char *body, const sluice_event_enrich_t *en)
{
    sluice_event_error_t e;
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_arena_t *a = sluice_json_arena_new();
    json_t *j = sluice_event_parse(body, strlen(body), &limits, nums, NULL, &e);
    sluice_jv_t *v = sluice_event_parse_jv(body, strlen(body), &limits, a, NULL, &e);
    assert_non_null(j);
    assert_non_null(v);
    assert_int_equal(sluice_event_app_agent_jv(v, en), sluice_event_app_agent(j, en));
    int had_id = json_is_string(json_object_get(j, "messageId"));
    assert_int_equal(sluice_event_enrich(j, en), 0);
    assert_int_equal(sluice_event_enrich_jv(v, en, a), 0);
    if (!had_id) {
        size_t n = 0;
        assert_non_null(sluice_jv_string_value(sluice_jv_object_get(v, "messageId"), &n));
        assert_int_equal(n, 36);
        const char *id = json_string_value(json_object_get(j, "messageId"));
        assert_int_equal(sluice_jv_object_set(a, v, "messageId", sluice_jv_string(a, id, strlen(id))), 0);
    }
    char *wj = sluice_json_encode(j, nums, NULL), *wv = sluice_jv_encode(v, NULL);
    assert_string_equal(wv, wj);
    free(wj);
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return wv;
}

/* sluice_event_enrich_jv does what sluice_event_enrich does, member for member and byte for byte:
 * receivedAt, a messageId when none, the connection's address unless the source is a server, the
 * header's user agent (repaired when not UTF-8) unless the event has one or is an app's sent by its
 * HTTP library, the clock's correction with the client's time kept, analytics-kotlin's padding. */
static void jv_enrich_as_jansson(void **state)
{
    (void)state;
    sluice_event_enrich_t browser = {.received_ms = 1795420800000LL,
                                     .client_ip = "203.0.113.9", /* 08:00:00Z */
                                     .user_agent = "Mozilla/5.0 (Linux; Android 9; Caf\xe9 Phone) Mobile"};
    sluice_event_enrich_t server = {.received_ms = 1795420800000LL,
                                    .client_ip = "198.51.100.7",
                                    .user_agent = "okhttp/4.9.2",
                                    .trust_client_ip = 1,
                                    .library_user_agent = 1};
    static const struct {
        const char *body;
        int server;
        const char *expected; /* the jv event's bytes, messageId made "M" when it had none */
    } cases[] = {
        {"{\"messageId\":\"m\",\"event\":\"x\",\"timestamp\":\"2026-11-23T09:00:25.000Z\","
         "\"sentAt\":\"2026-11-23T09:00:30.000Z\",\"context\":{\"ip\":\"6.6.6.6\"}}",
         0,
         "{\"messageId\":\"m\",\"event\":\"x\",\"timestamp\":\"2026-11-23T07:59:55.000Z\","
         "\"sentAt\":\"2026-11-23T09:00:30.000Z\",\"context\":{\"ip\":\"203.0.113.9\",\"userAgent\":"
         "\"Mozilla/5.0 (Linux; Android 9; Caf\xef\xbf\xbd Phone) "
         "Mobile\"},\"receivedAt\":\"2026-11-23T08:00:00.000Z\","
         "\"originalTimestamp\":\"2026-11-23T09:00:25.000Z\"}"},
        {"{\"messageId\":\"m\",\"event\":\"x\",\"originalTimestamp\":\"2026-11-23T07:00:00Z\","
         "\"sentAt\":\"0001-01-01T00:00:00Z\",\"context\":{\"ip\":7,\"app\":{},\"userAgent\":\"\"}}",
         1,
         "{\"messageId\":\"m\",\"event\":\"x\",\"originalTimestamp\":\"2026-11-23T07:00:00Z\","
         "\"sentAt\":\"0001-01-01T00:00:00Z\",\"context\":{\"app\":{},\"userAgent\":\"\"},"
         "\"receivedAt\":\"2026-11-23T08:00:00.000Z\",\"timestamp\":\"2026-11-23T07:00:00Z\"}"},
        {"{\"messageId\":\"m\",\"event\":\"x\",\"context\":{\"library\":{\"name\":\"analytics-kotlin\"}},"
         "\"timestamp\":\"2026-11-23T08:00:00.95Z\",\"sentAt\":\"2026-11-23T08:00:01.7Z\"}",
         1,
         "{\"messageId\":\"m\",\"event\":\"x\",\"context\":{\"library\":{\"name\":\"analytics-kotlin\"},"
         "\"userAgent\":\"okhttp/4.9.2\"},\"timestamp\":\"2026-11-23T07:59:59.088Z\","
         "\"sentAt\":\"2026-11-23T08:00:01.007Z\",\"receivedAt\":\"2026-11-23T08:00:00.000Z\","
         "\"originalTimestamp\":\"2026-11-23T08:00:00.095Z\"}"},
        {"{\"event\":\"x\",\"context\":\"no\",\"messageId\":3}", 0,
         "{\"event\":\"x\",\"context\":{\"ip\":\"203.0.113.9\",\"userAgent\":"
         "\"Mozilla/5.0 (Linux; Android 9; Caf\xef\xbf\xbd Phone) Mobile\"},\"messageId\":\"M\","
         "\"receivedAt\":\"2026-11-23T08:00:00.000Z\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *w = enrich_both(cases[i].body, cases[i].server ? &server : &browser);
        char *at = strstr(w, "\"messageId\":\""); /* a made one: 36 bytes, as "M" */
        if (strstr(cases[i].body, "\"messageId\":\"") == NULL && at != NULL) {
            memmove(at + 14, at + 13 + 36, strlen(at + 13 + 36) + 1);
            at[13] = 'M';
        }
        assert_string_equal(w, cases[i].expected);
        free(w);
    }
}

/* Enrichment is handed validated objects, but a non-object must leave both trees as they were
 * and answer 0 (jansson's sets are refused; the jv walk read a string's bytes and an array's items
 * as members: rev-s44). */
static void jv_enrich_refuses_non_objects(void **state)
{
    (void)state;
    sluice_event_enrich_t en = {.received_ms = 1795420800000LL, .client_ip = "203.0.113.9", .user_agent = "x"};
    const char *body = "{\"batch\":[\"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop\",[1,2,3],null,7,true]}";
    sluice_json_arena_t *a = sluice_json_arena_new();
    assert_non_null(a);
    sluice_event_error_t e;
    sluice_jv_t *root = sluice_event_parse_jv(body, strlen(body), &limits, a, NULL, &e);
    json_t *jroot = sluice_event_parse(body, strlen(body), &limits, NULL, NULL, &e);
    assert_non_null(root);
    assert_non_null(jroot);
    sluice_jv_t *batch = sluice_jv_object_get(root, "batch");
    for (size_t i = 0; i < sluice_jv_array_size(batch); i++) {
        sluice_jv_t *v = sluice_jv_array_get(batch, i);
        json_t *j = json_array_get(json_object_get(jroot, "batch"), i);
        size_t before_len, after_len;
        char *before = sluice_jv_encode(v, &before_len);
        assert_int_equal(sluice_event_enrich(j, &en), 0);
        assert_int_equal(sluice_event_enrich_jv(v, &en, a), 0);
        assert_int_equal(sluice_event_from_app_jv(v), sluice_event_from_app(j));
        assert_int_equal(sluice_event_app_agent_jv(v, &en), sluice_event_app_agent(j, &en));
        char *after = sluice_jv_encode(v, &after_len);
        assert_non_null(before);
        assert_non_null(after);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        free(before);
        free(after);
    }
    json_decref(jroot);
    sluice_json_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(depth_and_string_limits),
        cmocka_unit_test(required_fields),
        cmocka_unit_test(types_from_body),
        cmocka_unit_test(wrong_types_with_paths),
        cmocka_unit_test(numbers_become_strings),
        cmocka_unit_test(event_size_limit),
        cmocka_unit_test(event_times),
        cmocka_unit_test(enrich),
        cmocka_unit_test(timestamp_corrected_for_client_clock),
        cmocka_unit_test(timestamp_never_corrected_into_nonsense),
        cmocka_unit_test(zero_sent_at_is_no_age),
        cmocka_unit_test(empty_ids_are_absent),
        cmocka_unit_test(encoded_size_matches_jansson),
        cmocka_unit_test(encoded_size_counts_numbers_as_sent),
        cmocka_unit_test(member_size_is_the_members_share),
        cmocka_unit_test(kotlin_unpadded_milliseconds),
        cmocka_unit_test(jv_validation_changes_as_jansson),
        cmocka_unit_test(jv_validation_refuses_as_jansson),
        cmocka_unit_test(jv_event_size_as_jansson),
        cmocka_unit_test(jv_parse_as_jansson),
        cmocka_unit_test(jv_enrich_as_jansson),
        cmocka_unit_test(jv_enrich_refuses_non_objects),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

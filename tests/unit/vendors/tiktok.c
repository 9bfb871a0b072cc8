/* Tests for vendors/tiktok.c: the exact Events API request for the reference envelope (golden
 * file), the Access-Token header, the `tiktok` hash variant for phones, click ids, skipped
 * types, and TikTok's business codes inside HTTP 200 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vendors/vfix.h"
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

static void test_golden_request(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "tiktok");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(item.group);
    json_t *secret = json_pack("{s:s}", "access_token", "tt-token-1");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_tiktok.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://tiktok.test/open_api/v1.3/event/track/");
    assert_int_equal(req.header_count, 2);
    assert_string_equal(req.headers[0], "Access-Token: tt-token-1");
    assert_string_equal(req.headers[1], "Content-Type: application/json");
    char *golden = vfix_read("tiktok.json", NULL);
    if (strcmp(req.body, golden) != 0)
        print_error("body:\n%s\n", req.body);
    assert_string_equal(req.body, golden);
    free(golden);
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    json_t *user = json_object_get(json_array_get(json_object_get(body, "data"), 0), "user");
    /* E.164 with '+' for TikTok, not Meta's digits-only hash that the field itself holds. */
    assert_string_equal(json_string_value(json_object_get(user, "phone")),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    assert_string_equal(json_string_value(json_object_get(user, "ttclid")), "E.C.P.v3ttclid");
    json_decref(body);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

/* The reference envelope with its consent member ("consent":{...}) replaced by `consent`
 * (NULL: unchanged), as text: the rest of the envelope byte for byte. */
static char *with_consent(const char *consent, size_t *len)
{
    char *raw = vfix_envelope(NULL, len);
    if (consent == NULL)
        return raw;
    static const char member[] = "\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}";
    char *at = strstr(raw, member);
    assert_non_null(at);
    size_t head = (size_t)(at - raw), tail = strlen(at + sizeof(member) - 1);
    char *out = malloc(head + strlen(consent) + tail + 1);
    assert_non_null(out);
    memcpy(out, raw, head);
    memcpy(out + head, consent, strlen(consent));
    memcpy(out + head + strlen(consent), at + sizeof(member) - 1, tail + 1);
    *len = strlen(out);
    free(raw);
    return out;
}

/* The request body for that envelope through integration `name`. */
static char *request_body(const sluice_config_t *c, const char *name, const char *consent)
{
    size_t len;
    char *raw = with_consent(consent, &len);
    const sluice_integration_t *it = vfix_integration(c, name);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "tt-token-1");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_tiktok.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    char *body = strdup(req.body);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
    return body;
}

/* TikTok's Limited Data Use: "limited_data_use":true in the event (as TikTok's Business SDKs send
 * it) for events without the org's category (limited_data_use_unless_consent: marketing), the
 * golden request unchanged for events with it. Before, no event could carry the flag. */
static void test_limited_data_use(void **state)
{
    (void)state;
    sluice_config_t *ldu = vfix_config_with(
        "      - {name: tiktok-ldu, vendor: tiktok, pixel_code: CABC123, base_url: \"https://tiktok.test\",\n"
        "         limited_data_use_unless_consent: marketing}\n");
    char *golden = vfix_read("tiktok.json", NULL);
    size_t glen = strlen(golden);
    assert_true(glen > 3 && strcmp(golden + glen - 3, "}]}") == 0);
    char want[8192];
    snprintf(want, sizeof(want), "%.*s,\"limited_data_use\":true}]}", (int)(glen - 3), golden);
    char *body = request_body(ldu, "tiktok-ldu", NULL); /* analytics and marketing */
    assert_string_equal(body, golden);
    free(body);
    body = request_body(ldu, "tiktok-ldu", "\"consent\":{\"categories\":[\"analytics\"]}");
    assert_string_equal(body, want);
    free(body);
    body = request_body(ldu, "tiktok", "\"consent\":{\"categories\":[\"analytics\"]}");
    assert_string_equal(body, golden);
    free(body);
    free(golden);
    sluice_config_free(ldu);
}

static void test_types(void **state)
{
    (void)state;
    const sluice_integration_t *it = vfix_integration(cfg, "tiktok");
    size_t len;
    char *raw = vfix_envelope("{\"type\":\"page\",\"name\":\"x\"}", &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "Pageview");
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
    free(raw);
    raw = vfix_envelope("{\"type\":\"identify\"}", &len);
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_SKIP, &item, why, sizeof(why));
    free(raw);
}

/* One bad row fails TikTok's whole batch: an event past its 28 days is dead-lettered on its own,
 * with the reason, instead of going out with (and failing) the fresh ones. */
static void test_twenty_eight_days(void **state)
{
    (void)state;
    const sluice_integration_t *it = vfix_integration(cfg, "tiktok");
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    sluice_vendor_item_t item;
    char why[256];
    /* 28 days and 1 second after the event (a DLQ replay a month on). */
    vfix_map(it, raw, len, VFIX_RECEIVED_MS - 400 + 28LL * 86400000 + 1000, SLUICE_MAP_DEAD, &item, why, sizeof(why));
    assert_non_null(strstr(why, "older than 28 days"));
    /* 27 days: still sent. */
    vfix_map(it, raw, len, VFIX_RECEIVED_MS + 27LL * 86400000, SLUICE_MAP_OK, &item, why, sizeof(why));
    sluice_vendor_item_dispose(&item);
    free(raw);
    /* The worker checks again before each attempt (a batch waiting for retries). */
    assert_int_equal(sluice_vendor_tiktok.max_age_ms, 28LL * 86400000);
}

static void test_classify(void **state)
{
    (void)state;
    char why[128];
    const char *ok = "{\"code\":0,\"message\":\"OK\"}";
    assert_int_equal(sluice_vendor_tiktok.classify(200, ok, strlen(ok), why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *bad = "{\"code\":40002,\"message\":\"Invalid event\"}";
    assert_int_equal(sluice_vendor_tiktok.classify(200, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (TikTok code 40002)");
    const char *limited = "{\"code\":40100,\"message\":\"Too many requests\"}";
    assert_int_equal(sluice_vendor_tiktok.classify(200, limited, strlen(limited), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    const char *server = "{\"code\":50002}";
    assert_int_equal(sluice_vendor_tiktok.classify(200, server, strlen(server), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_tiktok.classify(200, "<html>", 6, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_tiktok.classify(502, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_tiktok.classify(401, "", 0, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    /* A revoked or expired token comes with HTTP 200: a refused credential, as a 401. */
    const char *revoked = "{\"code\":40105,\"message\":\"Access token is incorrect or has been revoked.\"}";
    assert_int_equal(sluice_vendor_tiktok.classify(200, revoked, strlen(revoked), why, sizeof(why)),
                     SLUICE_VERDICT_AUTH);
    assert_string_equal(why, "HTTP 200 (TikTok code 40105)");
    const char *expired = "{\"code\":40102}";
    assert_int_equal(sluice_vendor_tiktok.classify(200, expired, strlen(expired), why, sizeof(why)),
                     SLUICE_VERDICT_AUTH);
}

/* 40002 (invalid parameters: one row's field) is the batch's data, split by the worker; the
 * others are the request's. */
static void test_per_event(void **state)
{
    (void)state;
    const char *param = "{\"code\":40002,\"message\":\"Invalid value for data[3].properties.currency\"}";
    assert_int_equal(sluice_vendor_tiktok.per_event(200, param, strlen(param)), 1);
    const char *const requests[] = {
        "{\"code\":0}", "{\"code\":40001}", "{\"code\":40100}", "{\"code\":40105}", "{\"code\":50002}", "<html>", NULL};
    for (size_t i = 0; requests[i] != NULL; i++)
        assert_int_equal(sluice_vendor_tiktok.per_event(200, requests[i], strlen(requests[i])), 0);
    assert_int_equal(sluice_vendor_tiktok.per_event(502, param, strlen(param)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request), cmocka_unit_test(test_limited_data_use),
        cmocka_unit_test(test_types),          cmocka_unit_test(test_twenty_eight_days),
        cmocka_unit_test(test_classify),       cmocka_unit_test(test_per_event),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

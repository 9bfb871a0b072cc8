/* Tests for vendors/meta.c: the exact Conversions API request for the reference envelope
 * (golden file), URL and token encoding, test_event_code, the 7-day rule, skipped types, hashes
 * used as they are (raw PII never sent), fbc from a click id, and the answer classification. */
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

static json_t *mapped(const char *integration, const char *edit)
{
    size_t len;
    char *raw = vfix_envelope(edit, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, integration), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(item.group);
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_non_null(ev);
    sluice_vendor_item_dispose(&item);
    free(raw);
    return ev;
}

static void test_golden_request(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "meta");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "EAAB/tok+en=&x");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_meta.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://meta.test/v26.0/1234567890/events?access_token=EAAB%2Ftok%2Ben%3D%26x");
    assert_int_equal(req.header_count, 1);
    assert_string_equal(req.headers[0], "Content-Type: application/json");
    char *golden = vfix_read("meta.json", NULL);
    if (strcmp(req.body, golden) != 0)
        print_error("body:\n%s\n", req.body);
    assert_string_equal(req.body, golden);
    assert_int_equal(req.body_len, strlen(golden));
    free(golden);
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
    json_t *secret = json_pack("{s:s}", "access_token", "tok");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_meta.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    char *body = strdup(req.body);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
    return body;
}

/* Limited Data Use, as Meta's "Data Processing Options for US Users" spells it: the golden
 * event with data_processing_options ["LDU"] and country/state 0 (Meta geolocates), for every
 * event (limited_data_use: true) or for the events without the org's category (a visitor who
 * opted out of the sale of their data); nothing otherwise. Before, an org could not ask for it. */
static void test_limited_data_use(void **state)
{
    (void)state;
    sluice_config_t *ldu = vfix_config_with(
        "      - {name: meta-ldu, vendor: meta, pixel_id: \"1234567890\", base_url: \"https://meta.test\",\n"
        "         limited_data_use: true}\n"
        "      - {name: meta-optout, vendor: meta, pixel_id: \"1234567890\", base_url: \"https://meta.test\",\n"
        "         limited_data_use_unless_consent: marketing}\n");
    char *golden = vfix_read("meta.json", NULL);
    size_t glen = strlen(golden);
    assert_true(glen > 3 && strcmp(golden + glen - 3, "}]}") == 0);
    char want[8192];
    snprintf(want, sizeof(want),
             "%.*s,\"data_processing_options\":[\"LDU\"],\"data_processing_options_country\":0,"
             "\"data_processing_options_state\":0}]}",
             (int)(glen - 3), golden);
    char *body = request_body(ldu, "meta-ldu", NULL);
    assert_string_equal(body, want);
    free(body);
    /* The reference envelope carries analytics and marketing: not restricted. */
    body = request_body(ldu, "meta-optout", NULL);
    assert_string_equal(body, golden);
    free(body);
    body = request_body(ldu, "meta-optout", "\"consent\":{\"categories\":[\"analytics\"]}");
    assert_string_equal(body, want);
    free(body);
    /* No consent said at all: restricted too (the opt-out cannot be told from its absence). */
    body = request_body(ldu, "meta-optout", "\"consent\":null");
    assert_string_equal(body, want);
    free(body);
    /* Without the options nothing changes. */
    body = request_body(ldu, "meta", "\"consent\":{\"categories\":[]}");
    assert_string_equal(body, golden);
    free(body);
    free(golden);
    sluice_config_free(ldu);
}

static void test_batch_and_test_event_code(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "meta-test");
    sluice_vendor_item_t a, b, c;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &a, why, sizeof(why));
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &b, why, sizeof(why));
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &c, why, sizeof(why));
    json_t *secret = json_pack("{s:s}", "access_token", "t");
    const sluice_vendor_item_t *items[3] = {&a, &b, &c};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_meta.build(it, secret, NULL, items, 3, VFIX_NOW_MS, &req, &err), 0);
    /* No base_url: Meta's production host. */
    assert_string_equal(req.url, "https://graph.facebook.com/v26.0/1234567890/events?access_token=t");
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    assert_non_null(body);
    assert_int_equal(json_array_size(json_object_get(body, "data")), 3);
    assert_string_equal(json_string_value(json_object_get(body, "test_event_code")), "TEST42");
    json_decref(body);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&a);
    sluice_vendor_item_dispose(&b);
    sluice_vendor_item_dispose(&c);
    json_decref(secret);
    free(raw);
}

/* test_event_code goes into the body whole, as a JSON string, whatever its length: it was written
 * into a 600-byte buffer, so a longer one (or one whose escaping made it so) cut the body short
 * into broken JSON that Meta refused, with every event of the request. */
static void test_long_test_event_code(void **state)
{
    (void)state;
    char code[701], more[1000];
    memset(code, '7', sizeof(code) - 1);
    code[sizeof(code) - 1] = '\0';
    memcpy(code, "TEST", 4);
    snprintf(more, sizeof(more),
             "      - {name: meta-long, vendor: meta, pixel_id: \"1234567890\", test_event_code: %s}\n", code);
    sluice_config_t *c = vfix_config_with(more);
    json_t *secret = json_pack("{s:s}", "access_token", "t");
    json_t *body = vfix_build_reference(vfix_integration(c, "meta-long"), secret);
    assert_non_null(body);
    assert_int_equal(json_array_size(json_object_get(body, "data")), 1);
    assert_string_equal(json_string_value(json_object_get(body, "test_event_code")), code);
    json_decref(body);
    json_decref(secret);
    sluice_config_free(c);
}

static void test_seven_days(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "meta");
    sluice_vendor_item_t item;
    char why[256];
    /* 7 days and 1 second after the event: dead-lettered on its own, with the reason. */
    vfix_map(it, raw, len, VFIX_RECEIVED_MS - 400 + 7LL * 86400000 + 1000, SLUICE_MAP_DEAD, &item, why, sizeof(why));
    assert_non_null(strstr(why, "older than 7 days"));
    /* 6 days: still fine. */
    vfix_map(it, raw, len, VFIX_RECEIVED_MS + 6LL * 86400000, SLUICE_MAP_OK, &item, why, sizeof(why));
    sluice_vendor_item_dispose(&item);
    free(raw);
    /* A client's zero time (0001-01-01) on an event received a minute ago is no week-old event:
     * sent, at receivedAt. */
    raw = vfix_envelope("{\"timestamp\":\"0001-01-01T00:00:00Z\"}", &len);
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(ev, "event_time")), VFIX_RECEIVED_MS / 1000);
    json_decref(ev);
    sluice_vendor_item_dispose(&item);
    free(raw);
}

static void test_types(void **state)
{
    (void)state;
    const sluice_integration_t *it = vfix_integration(cfg, "meta");
    const char *skipped[] = {"{\"type\":\"identify\"}", "{\"type\":\"screen\",\"name\":\"Home\"}",
                             "{\"type\":\"group\",\"groupId\":\"g\"}", "{\"type\":\"alias\",\"previousId\":\"p\"}"};
    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
        size_t len;
        char *raw = vfix_envelope(skipped[i], &len);
        sluice_vendor_item_t item;
        char why[256];
        vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_SKIP, &item, why, sizeof(why));
        free(raw);
    }
    json_t *ev = mapped("meta", "{\"type\":\"page\",\"name\":\"Checkout\"}");
    assert_string_equal(json_string_value(json_object_get(ev, "event_name")), "PageView");
    json_decref(ev);
    /* A custom event keeps its name; standard ones are translated. */
    ev = mapped("meta", "{\"event\":\"Newsletter Joined\"}");
    assert_string_equal(json_string_value(json_object_get(ev, "event_name")), "Newsletter Joined");
    json_decref(ev);
    ev = mapped("meta", "{\"event\":\"Product Added\"}");
    assert_string_equal(json_string_value(json_object_get(ev, "event_name")), "AddToCart");
    json_decref(ev);
}

static void test_raw_pii_never_sent(void **state)
{
    (void)state;
    /* The org did not hash these: Meta wants hashes, and the worker never hashes, so they stay out. */
    json_t *ev = mapped("meta", "{\"userId\":\"user-4711\",\"context\":{\"userAgent\":\"UA\",\"traits\":{\"email\":"
                                "\"jane@example.com\",\"phone\":\"+1 650 555 1212\"}}}");
    json_t *ud = json_object_get(ev, "user_data");
    assert_null(json_object_get(ud, "em"));
    assert_null(json_object_get(ud, "ph"));
    assert_null(json_object_get(ud, "external_id"));
    assert_string_equal(json_string_value(json_object_get(ud, "client_user_agent")), "UA");
    char *s = json_dumps(ev, JSON_COMPACT);
    assert_null(strstr(s, "jane@example.com"));
    assert_null(strstr(s, "user-4711"));
    free(s);
    json_decref(ev);
}

static void test_fbc_from_click_id(void **state)
{
    (void)state;
    json_t *ev = mapped("meta", "{\"context\":{\"userAgent\":\"UA\",\"clickIds\":{\"fbclid\":\"AbC\"}}}");
    /* fb.1.<event time ms>.<fbclid> */
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "user_data"), "fbc")),
                        "fb.1.1795444910125.AbC");
    json_decref(ev);
}

static void test_user_agent_required(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope("{\"context\":{\"ip\":\"1.2.3.4\"}}", &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "meta"), raw, len, VFIX_NOW_MS, SLUICE_MAP_DEAD, &item, why, sizeof(why));
    assert_non_null(strstr(why, "client_user_agent"));
    free(raw);
}

static void test_missing_token(void **state)
{
    (void)state;
    sluice_vendor_item_t item = {.body = "{}", .body_len = 2};
    const sluice_vendor_item_t *items[1] = {&item};
    json_t *secret = json_object();
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(
        sluice_vendor_meta.build(vfix_integration(cfg, "meta"), secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), -1);
    assert_non_null(strstr(err.msg, "access_token"));
    json_decref(secret);
}

static void test_classify(void **state)
{
    (void)state;
    char why[256];
    const char *ok = "{\"events_received\":1,\"messages\":[],\"fbtrace_id\":\"x\"}";
    assert_int_equal(sluice_vendor_meta.classify(200, ok, strlen(ok), why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *bad = "{\"error\":{\"message\":\"Invalid parameter\",\"type\":\"OAuthException\",\"code\":100,"
                      "\"error_subcode\":2804003,\"fbtrace_id\":\"x\"}}";
    assert_int_equal(sluice_vendor_meta.classify(400, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Meta error 100/2804003)");
    const char *throttled = "{\"error\":{\"message\":\"limit\",\"code\":17}}";
    assert_int_equal(sluice_vendor_meta.classify(400, throttled, strlen(throttled), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    const char *transient = "{\"error\":{\"message\":\"try later\",\"code\":100,\"is_transient\":true}}";
    assert_int_equal(sluice_vendor_meta.classify(400, transient, strlen(transient), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_meta.classify(500, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 500");
    assert_int_equal(sluice_vendor_meta.classify(429, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_meta.classify(403, "not json", 8, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    /* An expired or revoked token is error 190 with HTTP 400: a refused credential, as a 401. */
    const char *expired = "{\"error\":{\"message\":\"Error validating access token: Session has expired\","
                          "\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463,\"fbtrace_id\":\"x\"}}";
    assert_int_equal(sluice_vendor_meta.classify(400, expired, strlen(expired), why, sizeof(why)), SLUICE_VERDICT_AUTH);
    assert_string_equal(why, "HTTP 400 (Meta error 190/463)");
    /* The message text of Meta's answer is never copied: it can quote the event. */
    assert_null(strstr(why, "Invalid parameter"));
    /* A 200 that is not Meta's answer (a proxy's page, an error body) delivered nothing: it was
     * counted as delivered. Retried, then dead-lettered. */
    const char *html = "<html>Sign in to the network</html>";
    assert_int_equal(sluice_vendor_meta.classify(200, html, strlen(html), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 without events_received: not an answer from Meta (a proxy?)");
    assert_int_equal(sluice_vendor_meta.classify(200, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 (Meta error 100/2804003)");
    /* An api_version Meta has retired (a pin copied from an older example) is answered 2635 for
     * every request: the events wait for the fix instead of all going to the dead-letter topic,
     * and the reason names the option. */
    const char *retired = "{\"error\":{\"message\":\"(#2635) You are calling a deprecated version of the Ads API. "
                          "Please update to the latest version: v26.0.\",\"type\":\"OAuthException\",\"code\":2635,"
                          "\"fbtrace_id\":\"x\"}}";
    assert_int_equal(sluice_vendor_meta.classify(400, retired, strlen(retired), why, sizeof(why)), SLUICE_VERDICT_WAIT);
    assert_non_null(strstr(why, "Meta error 2635: this api_version has expired"));
    /* What to do once it is raised: sluice-deliver does not reload (SIGHUP is only logged), so
     * "reload" left the events waiting until retry.max_elapsed_s sent them to the DLQ. */
    assert_non_null(strstr(why, "restart sluice-deliver"));
}

/* Which refusals belong to one event's data (the worker splits the batch) and which to the
 * request (never split); the reason carries Meta's title, never its message. */
static void test_per_event(void **state)
{
    (void)state;
    char why[256];
    const char *param = "{\"error\":{\"message\":\"Invalid parameter\",\"type\":\"OAuthException\",\"code\":100,"
                        "\"error_subcode\":2804019,\"is_transient\":false,\"error_user_title\":\"Server-side API "
                        "parameter error\",\"error_user_msg\":\"The parameter $['data'][3]['event_time'] is "
                        "required.\",\"fbtrace_id\":\"x\"}}";
    assert_int_equal(sluice_vendor_meta.per_event(400, param, strlen(param)), 1);
    assert_int_equal(sluice_vendor_meta.classify(400, param, strlen(param), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Meta error 100/2804019: Server-side API parameter error)");
    /* A title that quotes something is left out, as the message always is. */
    const char *quoting = "{\"error\":{\"code\":100,\"error_subcode\":2804050,\"error_user_title\":\"Bad value "
                          "'203.0.113.7'\",\"error_user_msg\":\"a@b.c\"}}";
    assert_int_equal(sluice_vendor_meta.classify(400, quoting, strlen(quoting), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Meta error 100/2804050)");
    /* Nor one that is plain text but not one of Meta's titles: it can name the person. */
    const char *plain_value = "{\"error\":{\"code\":100,\"error_subcode\":2804050,\"error_user_title\":\"Invalid fn "
                              "Jane 16505551212\"}}";
    assert_int_equal(sluice_vendor_meta.classify(400, plain_value, strlen(plain_value), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (Meta error 100/2804050)");
    /* The request's: code 100 without the Conversions API's subcodes (a pixel that does not
     * exist), a refused token, throttling, a retired version, a transient one, a 5xx. */
    const char *nopixel = "{\"error\":{\"code\":100,\"error_subcode\":33}}";
    const char *plain = "{\"error\":{\"code\":100}}";
    const char *token = "{\"error\":{\"code\":190,\"error_subcode\":463}}";
    const char *throttled = "{\"error\":{\"code\":17}}";
    const char *retired = "{\"error\":{\"code\":2635}}";
    const char *transient = "{\"error\":{\"code\":100,\"error_subcode\":2804019,\"is_transient\":true}}";
    const char *const requests[] = {nopixel, plain, token, throttled, retired, transient, "<html>", NULL};
    for (size_t i = 0; requests[i] != NULL; i++)
        assert_int_equal(sluice_vendor_meta.per_event(400, requests[i], strlen(requests[i])), 0);
    assert_int_equal(sluice_vendor_meta.per_event(500, param, strlen(param)), 0);
    assert_int_equal(sluice_vendor_meta.per_event(200, param, strlen(param)), 0);
}

/* The place Meta's answer names ($['data'][N] in error_user_msg or error_data): one place within
 * the request, else -1 (the worker then halves the batch). */
static void test_refused_at(void **state)
{
    (void)state;
    struct {
        const char *msg, *data;
        size_t n;
        long want;
    } cases[] = {
        {"The parameter $['data'][17]['custom_data']['currency'] is invalid.", NULL, 50, 17},
        {"The parameter $['data'][0]['user_data'] is required.", NULL, 50, 0},
        {"The parameter $['data'][49]['event_time'] is required.", NULL, 50, 49},
        {NULL, "$['data'][3]", 4, 3},
        /* the same place twice, in the message and error_data */
        {"$['data'][3]['user_data'] and $['data'][3]['event_name']", "$['data'][3]", 4, 3},
        {"The parameter $['data'][50]['event_time'] is required.", NULL, 50, -1}, /* outside */
        {"$['data'][17] and $['data'][3]", NULL, 50, -1},                         /* two */
        {"$['data'][17]", "$['data'][3]", 50, -1},                                /* two */
        {"$['data'][-1]", NULL, 50, -1},
        {"$['data'][1e1]", NULL, 50, -1},
        {"$['data'][ 7]", NULL, 50, -1},
        {"$['data'][99999999999999999999]", NULL, 50, -1},
        {"$['data'][7", NULL, 50, -1},
        {"Invalid parameter", NULL, 50, -1},
        {"", "", 50, -1},
        /* a quoted value that looks like another place: not one place */
        {"The parameter $['data'][2]['user_data']['em'] is invalid: 'a$['data'][9]@b.c'", NULL, 50, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *error = json_pack("{s:i,s:i}", "code", 100, "error_subcode", 2804050);
        if (cases[i].msg != NULL)
            json_object_set_new(error, "error_user_msg", json_string(cases[i].msg));
        if (cases[i].data != NULL)
            json_object_set_new(error, "error_data", json_string(cases[i].data));
        json_t *root = json_pack("{s:o}", "error", error);
        char *body = json_dumps(root, JSON_COMPACT);
        long got = sluice_vendor_meta.refused_at(body, strlen(body), cases[i].n);
        if (got != cases[i].want)
            fail_msg("case %zu (%s): %ld, expected %ld", i, body, got, cases[i].want);
        free(body);
        json_decref(root);
    }
    assert_int_equal(sluice_vendor_meta.refused_at("<html>", 6, 50), -1);
    assert_int_equal(sluice_vendor_meta.refused_at("{\"error\":{\"error_user_msg\":7}}", 30, 50), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_batch_and_test_event_code),
        cmocka_unit_test(test_long_test_event_code),
        cmocka_unit_test(test_limited_data_use),
        cmocka_unit_test(test_seven_days),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_raw_pii_never_sent),
        cmocka_unit_test(test_fbc_from_click_id),
        cmocka_unit_test(test_user_agent_required),
        cmocka_unit_test(test_missing_token),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_per_event),
        cmocka_unit_test(test_refused_at),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

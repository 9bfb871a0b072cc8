/* Tests for vendors/google_ads.c: the exact uploadClickConversions request for the reference
 * envelope with a gclid (golden file), the headers (bearer token, developer-token,
 * login-customer-id), click id precedence, skipped and dead events, the validation-mode body,
 * the OAuth2 refresh request and its answers, and the classification of Google's errors. */
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

static json_t *secret_with_token(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "developer_token", "dev-tok", "client_id", "cid.apps", "client_secret",
                     "c-secret", "refresh_token", "1//refresh", "access_token", "ya29.access");
}

static void test_golden_request(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope_click("gclid", "Cj0KCQiA-gclid", &len);
    const sluice_integration_t *it = vfix_integration(cfg, "gads");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_null(item.group);
    json_t *secret = secret_with_token();
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_google_ads.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.url, "https://gads.test/v26/customers/1234567890:uploadClickConversions");
    assert_int_equal(req.header_count, 4);
    assert_string_equal(req.headers[0], "Authorization: Bearer ya29.access");
    assert_string_equal(req.headers[1], "developer-token: dev-tok");
    assert_string_equal(req.headers[2], "login-customer-id: 1112223334");
    assert_string_equal(req.headers[3], "Content-Type: application/json");
    char *golden = vfix_read("google_ads.json", NULL);
    if (strcmp(req.body, golden) != 0)
        print_error("body:\n%s\n", req.body);
    assert_string_equal(req.body, golden);
    free(golden);
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    json_t *c = json_array_get(json_object_get(body, "conversions"), 0);
    /* Google's variant: E.164 with '+' and Gmail's dots removed, not the default hashes. */
    json_t *ids = json_object_get(c, "userIdentifiers");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ids, 0), "hashedEmail")),
                        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ids, 1), "hashedPhoneNumber")),
                        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8");
    assert_string_equal(json_string_value(json_object_get(c, "conversionDateTime")), "2026-11-23 14:41:50+00:00");
    assert_true(json_is_true(json_object_get(body, "partialFailure")));
    assert_null(json_object_get(body, "validateOnly"));
    json_decref(body);
    sluice_vendor_request_dispose(&req);

    /* The validation mode of `sluicectl vendor check`. */
    assert_int_equal(sluice_vendor_google_ads.build_check(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    body = json_loadb(req.body, req.body_len, 0, NULL);
    assert_true(json_is_true(json_object_get(body, "validateOnly")));
    json_decref(body);
    sluice_vendor_request_dispose(&req);

    /* Without the access token the worker adds, nothing is built. */
    json_object_del(secret, "access_token");
    assert_int_equal(sluice_vendor_google_ads.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), -1);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static json_t *mapped(const char *raw, size_t len, sluice_map_result_t want)
{
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "gads"), raw, len, VFIX_NOW_MS, want, &item, why, sizeof(why));
    if (want != SLUICE_MAP_OK)
        return NULL;
    json_t *ev = json_loadb(item.body, item.body_len, 0, NULL);
    sluice_vendor_item_dispose(&item);
    return ev;
}

static void test_click_ids_and_skips(void **state)
{
    (void)state;
    size_t len;
    /* gbraid when there is no gclid; one click id only. */
    char *raw = vfix_envelope_click("gbraid", "0AAAAA-gbraid", &len);
    json_t *ev = mapped(raw, len, SLUICE_MAP_OK);
    assert_string_equal(json_string_value(json_object_get(ev, "gbraid")), "0AAAAA-gbraid");
    assert_null(json_object_get(ev, "gclid"));
    json_decref(ev);
    free(raw);
    /* No click id but hashed identifiers: an enhanced conversion for leads. */
    raw = vfix_envelope(NULL, &len);
    ev = mapped(raw, len, SLUICE_MAP_OK);
    assert_null(json_object_get(ev, "gclid"));
    assert_int_equal(json_array_size(json_object_get(ev, "userIdentifiers")), 2);
    json_decref(ev);
    free(raw);
    /* Neither: nothing Google could attribute. */
    raw = vfix_envelope("{\"context\":{\"ip\":\"203.0.113.7\"}}", &len);
    mapped(raw, len, SLUICE_MAP_SKIP);
    free(raw);
    /* Not a track. */
    raw = vfix_envelope("{\"type\":\"page\"}", &len);
    mapped(raw, len, SLUICE_MAP_SKIP);
    free(raw);
    /* Older than the longest conversion window. */
    raw = vfix_envelope("{\"timestamp\":\"2026-08-01T00:00:00Z\"}", &len);
    mapped(raw, len, SLUICE_MAP_DEAD);
    free(raw);
}

/* The access token goes into the Authorization header whatever its length, as every Bearer
 * vendor's does: token_parse takes one of any length from the token endpoint and the worker caches
 * it, but build refused one past 2048 bytes (a stack buffer's size) as "out of memory", so each
 * batch was retried until it went to the dead-letter topic for the token's whole lifetime. */
static void test_long_access_token(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope_click("gclid", "Cj0KCQ-test-gclid", &len);
    const sluice_integration_t *it = vfix_integration(cfg, "gads");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    char token[3001], want[3100];
    memset(token, 'a', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    memcpy(token, "ya29.", 5);
    json_t *secret = secret_with_token();
    json_object_set_new(secret, "access_token", json_string(token));
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_google_ads.build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    snprintf(want, sizeof(want), "Authorization: Bearer %s", token);
    assert_string_equal(req.headers[0], want);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void test_token_refresh(void **state)
{
    (void)state;
    const sluice_integration_t *it = vfix_integration(cfg, "gads");
    json_t *secret = secret_with_token();
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_google_ads.token_request(it, secret, &req, &err), 0);
    assert_string_equal(req.url, "https://oauth.test/token");
    assert_string_equal(req.headers[0], "Content-Type: application/x-www-form-urlencoded");
    assert_string_equal(req.body, "grant_type=refresh_token&client_id=cid.apps&client_secret=c-secret&refresh_token="
                                  "1%2F%2Frefresh");
    sluice_vendor_request_dispose(&req);
    json_decref(secret);

    char why[128], *token = NULL;
    int64_t ttl = 0;
    const char *ok = "{\"access_token\":\"ya29.new\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";
    assert_int_equal(sluice_vendor_google_ads.token_parse(200, ok, strlen(ok), &token, &ttl, why, sizeof(why)),
                     SLUICE_VERDICT_OK);
    assert_string_equal(token, "ya29.new");
    assert_int_equal(ttl, 3599);
    free(token);
    const char *revoked = "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\"}";
    assert_int_equal(
        sluice_vendor_google_ads.token_parse(400, revoked, strlen(revoked), &token, &ttl, why, sizeof(why)),
        SLUICE_VERDICT_AUTH); /* the worker reads the vault again (a new refresh token), then dead-letters */
    assert_null(token);
    assert_string_equal(why, "token: HTTP 400 (invalid_grant)");
    const char *scope = "{\"error\":\"invalid_scope\"}";
    assert_int_equal(sluice_vendor_google_ads.token_parse(400, scope, strlen(scope), &token, &ttl, why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_int_equal(sluice_vendor_google_ads.token_parse(503, "", 0, &token, &ttl, why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    assert_int_equal(sluice_vendor_google_ads.token_parse(200, "{}", 2, &token, &ttl, why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
}

static void test_classify(void **state)
{
    (void)state;
    char why[256];
    const char *ok = "{\"results\":[{\"gclid\":\"x\"}],\"jobId\":\"1\"}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, ok, strlen(ok), why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *partial = "{\"partialFailureError\":{\"code\":3,\"message\":\"at conversions[0]...\",\"details\":[{"
                          "\"@type\":\"type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure\","
                          "\"errors\":[{\"errorCode\":{\"conversionUploadError\":\"UNPARSEABLE_GCLID\"}}]}]},"
                          "\"results\":[{}]}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, partial, strlen(partial), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (Google Ads partial failure: conversionUploadError UNPARSEABLE_GCLID)");
    const char *expired = "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\",\"details\":[{\"errors\":[{"
                          "\"errorCode\":{\"authenticationError\":\"OAUTH_TOKEN_EXPIRED\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(401, expired, strlen(expired), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 401 (UNAUTHENTICATED, authenticationError OAUTH_TOKEN_EXPIRED)");
    const char *quota = "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}";
    assert_int_equal(sluice_vendor_google_ads.classify(429, quota, strlen(quota), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    const char *denied = "{\"error\":{\"code\":403,\"status\":\"PERMISSION_DENIED\",\"details\":[{\"errors\":[{"
                         "\"errorCode\":{\"authorizationError\":\"DEVELOPER_TOKEN_NOT_APPROVED\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(403, denied, strlen(denied), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 403 (PERMISSION_DENIED, authorizationError DEVELOPER_TOKEN_NOT_APPROVED)");
    assert_int_equal(sluice_vendor_google_ads.classify(400, "{}", 2, why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_int_equal(sluice_vendor_google_ads.classify(503, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    /* A 2xx that is not Google Ads' answer (a captive portal's or a proxy's page, an empty body)
     * delivered nothing: retried, never counted as delivered. */
    const char *html = "<html><body>Welcome to the guest network</body></html>";
    assert_int_equal(sluice_vendor_google_ads.classify(200, html, strlen(html), why, sizeof(why)),
                     SLUICE_VERDICT_RETRY);
    assert_string_equal(why, "HTTP 200 without a JSON answer: not an answer from Google Ads (a proxy?)");
    assert_int_equal(sluice_vendor_google_ads.classify(204, "", 0, why, sizeof(why)), SLUICE_VERDICT_RETRY);
    /* validateOnly (sluicectl vendor check) answers an empty object when all is well. */
    assert_int_equal(sluice_vendor_google_ads.classify(200, "{}", 2, why, sizeof(why)), SLUICE_VERDICT_OK);
    /* An api_version Google has sunset (a v21 pin after 2026-08-05) is refused for every request
     * with RequestError UNSUPPORTED_VERSION: the events wait for the fix instead of all going to
     * the dead-letter topic, and the reason names the option. */
    const char *sunset = "{\"error\":{\"code\":400,\"message\":\"Request contains an invalid argument.\","
                         "\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/"
                         "google.ads.googleads.v21.errors.GoogleAdsFailure\",\"errors\":[{\"errorCode\":{"
                         "\"requestError\":\"UNSUPPORTED_VERSION\"},\"message\":\"Version v21 is deprecated. "
                         "Requests to this version will be blocked.\"}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(400, sunset, strlen(sunset), why, sizeof(why)),
                     SLUICE_VERDICT_WAIT);
    assert_non_null(strstr(why, "UNSUPPORTED_VERSION: this api_version has been sunset"));
    /* What to do once it is raised: sluice-deliver does not reload (SIGHUP is only logged), so
     * "reload" left the events waiting until retry.max_elapsed_s sent them to the DLQ. */
    assert_non_null(strstr(why, "restart sluice-deliver"));
    /* Another request error is still the batch's own fault. */
    const char *bad = "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"errors\":[{"
                      "\"errorCode\":{\"requestError\":\"INVALID_CUSTOMER_ID\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(400, bad, strlen(bad), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (INVALID_ARGUMENT, requestError INVALID_CUSTOMER_ID)");
    /* A sunset version's path answered by Google's front end: a 404 page, not the API's JSON. */
    const char *page = "<!DOCTYPE html><html><title>Error 404 (Not Found)!!1</title>";
    assert_int_equal(sluice_vendor_google_ads.classify(404, page, strlen(page), why, sizeof(why)), SLUICE_VERDICT_WAIT);
    const char *missing = "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\"}}";
    assert_int_equal(sluice_vendor_google_ads.classify(404, missing, strlen(missing), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
}

/* The dead-letter reason (the DLQ `error` header, the logs) shows Google's enum names only: a
 * partial failure whose errorCode carries other text (an e-mail and a phone number here) is not
 * quoted, while the error's kind still is. */
static void test_classify_quotes_no_values(void **state)
{
    (void)state;
    char why[256];
    const char *pii = "{\"partialFailureError\":{\"code\":3,\"details\":[{\"errors\":[{\"errorCode\":{"
                      "\"conversionUploadError\":\"jane.doe@example.com +1 650 555 1212\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, pii, strlen(pii), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (Google Ads partial failure: conversionUploadError)");
    /* A key that is not a camelCase name is not shown either, nor is what it holds. */
    const char *key = "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"errors\":[{"
                      "\"errorCode\":{\"jane.doe@example.com\":\"CLICK_NOT_FOUND\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(400, key, strlen(key), why, sizeof(why)), SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 400 (INVALID_ARGUMENT)");
    const char *normal = "{\"partialFailureError\":{\"code\":3,\"details\":[{\"errors\":[{\"errorCode\":{"
                         "\"conversionUploadError\":\"EXPIRED_EVENT\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, normal, strlen(normal), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (Google Ads partial failure: conversionUploadError EXPIRED_EVENT)");
}

/* Partial failures that settle their conversions are no refusal. Google answers CLICK_NOT_FOUND
 * for each conversion matched by e-mail or phone whose person clicked no ad, "you can safely
 * ignore this warning" (ConversionUploadError reference): a shop's batch of purchases nearly
 * always has some, and the whole batch, delivered, went to the dead-letter topic. A retry of a
 * batch Google had recorded (its answer lost to a timeout) is answered
 * CLICK_CONVERSION_ALREADY_EXISTS or ORDER_ID_ALREADY_IN_USE for every conversion: delivered too.
 * One real refusal among them still dead-letters the batch, named by its own code. */
static void test_classify_settled_partial_failures(void **state)
{
    (void)state;
    char why[256];
    const char *unmatched =
        "{\"results\":[{},{\"gclid\":\"G1\"},{}],\"partialFailureError\":{\"code\":3,"
        "\"message\":\"...\",\"details\":[{\"@type\":\"type.googleapis.com/google.ads.googleads.v26."
        "errors.GoogleAdsFailure\",\"errors\":[{\"errorCode\":{\"conversionUploadError\":"
        "\"CLICK_NOT_FOUND\"},\"location\":{\"fieldPathElements\":[{\"fieldName\":\"conversions\","
        "\"index\":0}]}},{\"errorCode\":{\"conversionUploadError\":\"CLICK_NOT_FOUND\"},"
        "\"location\":{\"fieldPathElements\":[{\"fieldName\":\"conversions\",\"index\":2}]}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, unmatched, strlen(unmatched), why, sizeof(why)),
                     SLUICE_VERDICT_OK);
    const char *again = "{\"partialFailureError\":{\"code\":3,\"details\":[{\"errors\":["
                        "{\"errorCode\":{\"conversionUploadError\":\"CLICK_CONVERSION_ALREADY_EXISTS\"}},"
                        "{\"errorCode\":{\"conversionUploadError\":\"ORDER_ID_ALREADY_IN_USE\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, again, strlen(again), why, sizeof(why)), SLUICE_VERDICT_OK);
    const char *mixed = "{\"partialFailureError\":{\"code\":3,\"details\":[{\"errors\":["
                        "{\"errorCode\":{\"conversionUploadError\":\"CLICK_NOT_FOUND\"}},"
                        "{\"errorCode\":{\"conversionUploadError\":\"UNPARSEABLE_GCLID\"}}]}]}}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, mixed, strlen(mixed), why, sizeof(why)),
                     SLUICE_VERDICT_FAIL);
    assert_string_equal(why, "HTTP 200 (Google Ads partial failure: conversionUploadError UNPARSEABLE_GCLID)");
    /* A failure that lists no error is not taken as settled. */
    const char *bare = "{\"partialFailureError\":{\"code\":3,\"message\":\"...\"}}";
    assert_int_equal(sluice_vendor_google_ads.classify(200, bare, strlen(bare), why, sizeof(why)), SLUICE_VERDICT_FAIL);

    /* Which conversions were refused: those a real refusal names (conversions[1]), not the
     * settled ones (conversions[0]); an error naming none says nothing of which (0: all). */
    const char *named =
        "{\"partialFailureError\":{\"code\":3,\"details\":[{\"errors\":["
        "{\"errorCode\":{\"conversionUploadError\":\"CLICK_NOT_FOUND\"},\"location\":{\"fieldPathElements\":"
        "[{\"fieldName\":\"conversions\",\"index\":0}]}},"
        "{\"errorCode\":{\"conversionUploadError\":\"UNPARSEABLE_GCLID\"},\"location\":{\"fieldPathElements\":"
        "[{\"fieldName\":\"conversions\",\"index\":1},{\"fieldName\":\"gclid\"}]}}]}]}}";
    unsigned char mask[3] = {0};
    assert_int_equal(sluice_vendor_google_ads.refused(named, strlen(named), 3, mask), 1);
    assert_int_equal(mask[0], 0);
    assert_int_equal(mask[1], 1);
    assert_int_equal(mask[2], 0);
    memset(mask, 0, sizeof(mask));
    assert_int_equal(sluice_vendor_google_ads.refused(mixed, strlen(mixed), 3, mask), 0);
    memset(mask, 0, sizeof(mask));
    assert_int_equal(sluice_vendor_google_ads.refused(named, strlen(named), 1, mask), 0); /* index past the batch */
}

static void test_config(void **state)
{
    (void)state;
    const sluice_vendor_ops_t *ops = sluice_vendor_find("google_ads");
    assert_ptr_equal(ops, &sluice_vendor_google_ads);
    sluice_err_t err = {{0}};
    const char *s = "{\"developer_token\":\"d\",\"client_id\":\"c\",\"client_secret\":\"s\"}";
    assert_int_equal(sluice_vendor_check_secret(ops, s, strlen(s), &err), -1);
    assert_non_null(strstr(err.msg, "lacks 'refresh_token'"));
    const sluice_integration_t *it = vfix_integration(cfg, "gads");
    assert_int_equal(it->batch_max_events, 2000);
    assert_string_equal(sluice_vendor_opt(it, "api_version"), "v26");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_request),
        cmocka_unit_test(test_click_ids_and_skips),
        cmocka_unit_test(test_token_refresh),
        cmocka_unit_test(test_long_access_token),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_classify_quotes_no_values),
        cmocka_unit_test(test_classify_settled_partial_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Google Ads offline click conversions (docs/vendors.md, "Google Ads"):
 *   POST {base_url}/{api_version}/customers/{customer_id}:uploadClickConversions
 *   headers Authorization: Bearer <access token>, developer-token, login-customer-id (optional)
 *   body {"conversions":[ClickConversion…],"partialFailure":true}
 * up to 2,000 conversions per request. A conversion carries one click id (gclid, else gbraid,
 * else wbraid, from the page URL's query string) and up to five user identifiers: the gateway's
 * hashes in the `google` variant (e-mail trimmed and lower-cased with Gmail's dots removed, phone
 * in E.164 with '+'). An event with neither has nothing Google can attribute: skipped.
 *
 * Authentication is OAuth2: the vault holds developer_token, client_id, client_secret and
 * refresh_token; the worker trades them for an access token (token_request / token_parse) and
 * caches it until shortly before it expires; a 401 drops it and the retry fetches a new one.
 * Partial failure mode is required by the API: an HTTP 200 with a partialFailureError means some
 * conversions were refused; the batch then goes to the dead-letter topic whole (Google refuses a
 * replayed conversion that was accepted as a duplicate, so replaying it is harmless).
 * Reentrant; the worker's loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

#define GADS_MAX_AGE_MS (90LL * 24 * 3600 * 1000) /* the longest click-through conversion window */
#define TOO_OLD         "older than 90 days (Google Ads' longest conversion window)"

static const char *check_digits(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20 || strspn(s, "0123456789") != n)
        return "is not a Google Ads id (digits only, without dashes)";
    return NULL;
}

static const char *check_version(const char *s)
{
    /* At most 4 digits: the version goes into the request's path, and a longer one was cut by its
     * buffer into another endpoint (posted with the account's token). */
    size_t digits = strlen(s + (s[0] != '\0'));
    if (s[0] != 'v' || digits == 0 || digits > 4 || strspn(s + 1, "0123456789") != digits)
        return "is not a Google Ads API version (e.g. v26)";
    return NULL;
}

static const sluice_vendor_option_t options[] = {
    {.name = "customer_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_digits},
    {.name = "conversion_action", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_digits},
    {.name = "login_customer_id", .type = SLUICE_VOPT_STRING, .check = check_digits},
    {.name = "api_version", .type = SLUICE_VOPT_STRING, .def = "v26", .check = check_version},
    {.name = "token_url",
     .type = SLUICE_VOPT_STRING,
     .def = "https://oauth2.googleapis.com/token",
     .check = sluice_config_check_http_url},
    {.name = "developer_token", .secret = 1, .required = 1},
    {.name = "client_id", .secret = 1, .required = 1},
    {.name = "client_secret", .secret = 1, .required = 1},
    {.name = "refresh_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static void add_identifier(json_t *ids, const char *key, const char *hash)
{
    if (hash != NULL && json_array_size(ids) < 5)
        json_array_append_new(ids, json_pack("{s:s}", key, hash));
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    if (strcmp(e->type, "track") != 0)
        return SLUICE_MAP_SKIP;
    if (sluice_vendor_too_old(&sluice_vendor_google_ads, e, now_ms, why, why_len))
        return SLUICE_MAP_DEAD;
    json_t *ev = json_object();
    static const char *const click_ids[] = {"gclid", "gbraid", "wbraid"};
    for (size_t i = 0; i < 3; i++) {
        char path[40];
        snprintf(path, sizeof(path), "context.clickIds.%s", click_ids[i]);
        const char *v = sluice_envelope_str(e, path);
        if (v != NULL && v[0] != '\0') {
            json_object_set_new(ev, click_ids[i], json_string(v));
            break; /* the API takes exactly one */
        }
    }
    json_t *ids = json_array();
    add_identifier(ids, "hashedEmail", sluice_envelope_hashed(e, SLUICE_UF_EMAIL, "google"));
    add_identifier(ids, "hashedPhoneNumber", sluice_envelope_hashed(e, SLUICE_UF_PHONE, "google"));
    if (json_object_size(ev) == 0 && json_array_size(ids) == 0) {
        json_decref(ids);
        json_decref(ev);
        return SLUICE_MAP_SKIP; /* nothing Google can attribute it to */
    }
    char action[128], when[40];
    snprintf(action, sizeof(action), "customers/%s/conversionActions/%s", sluice_vendor_opt(it, "customer_id"),
             sluice_vendor_opt(it, "conversion_action"));
    json_object_set_new(ev, "conversionAction", json_string(action));
    sluice_vendor_time_google(e->time_ms, when, sizeof(when));
    json_object_set_new(ev, "conversionDateTime", json_string(when));
    json_t *value = sluice_vendor_value_json(e); /* as the client sent it */
    if (value != NULL)
        json_object_set_new(ev, "conversionValue", value);
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    sluice_vendor_set_str(ev, "currencyCode", sluice_vendor_currency(e, cur));
    char order[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(ev, "orderId", sluice_vendor_order_id(e, order)); /* Google deduplicates on it */
    sluice_vendor_set_nonempty(ev, "userIdentifiers", ids);
    if (it->consent != NULL) /* the worker sends it only with the integration's consent category */
        json_object_set_new(ev, "consent", json_pack("{s:s}", "adUserData", "GRANTED"));
    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build_mode(const sluice_integration_t *it, const json_t *secret, const sluice_vendor_item_t *const *items,
                      size_t n, int validate, sluice_vendor_request_t *out, sluice_err_t *err)
{
    memset(out, 0, sizeof(*out));
    const char *token = json_string_value(json_object_get(secret, "access_token"));
    const char *dev = json_string_value(json_object_get(secret, "developer_token"));
    if (token == NULL || dev == NULL)
        return sluice_err_set(err, "google_ads: no access token or developer_token");
    char path[160];
    snprintf(path, sizeof(path), "/%s/customers/%s:uploadClickConversions", sluice_vendor_opt(it, "api_version"),
             sluice_vendor_opt(it, "customer_id"));
    out->url = sluice_vendor_url(it->base_url ? it->base_url : "https://googleads.googleapis.com", path);
    const char *login = sluice_vendor_opt(it, "login_customer_id");
    if (out->url == NULL || sluice_vendor_request_bearer(out, token) != 0 ||
        sluice_vendor_request_header(out, "developer-token", dev) != 0 ||
        (login != NULL && sluice_vendor_request_header(out, "login-customer-id", login) != 0) ||
        sluice_vendor_request_header(out, "Content-Type", "application/json") != 0 ||
        sluice_vendor_join("{\"conversions\":[", items, n,
                           validate ? "],\"partialFailure\":true,\"validateOnly\":true}" : "],\"partialFailure\":true}",
                           &out->body, &out->body_len) != 0) {
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "google_ads: out of memory building a request");
    }
    return 0;
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    return build_mode(it, secret, items, n, 0, out, err);
}

static int build_check(const sluice_integration_t *it, const json_t *secret, const char *group,
                       const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                       sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    return build_mode(it, secret, items, n, 1, out, err);
}

static int token_request(const sluice_integration_t *it, const json_t *secret, sluice_vendor_request_t *out,
                         sluice_err_t *err)
{
    return sluice_vendor_oauth_refresh(sluice_vendor_opt(it, "token_url"),
                                       json_string_value(json_object_get(secret, "client_id")),
                                       json_string_value(json_object_get(secret, "client_secret")),
                                       json_string_value(json_object_get(secret, "refresh_token")), out, err);
}

/* 1 when s is an enum name of Google's ([A-Z_], as "UNAUTHENTICATED", "UNPARSEABLE_GCLID"): the
 * allow-list the other vendors apply to the codes they quote, so that a value from the request
 * never reaches the dead-letter reason or the logs. */
static int is_enum_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == n;
}

/* The first error code of a GoogleAdsFailure ({"authenticationError":"OAUTH_TOKEN_EXPIRED"}) as
 * "authenticationError OAUTH_TOKEN_EXPIRED": the error's kind (a camelCase field name) and its
 * enum name, each shown only when it is one; an answer quoting the request there (an e-mail in
 * place of the enum) gives the kind alone. */
static void failure_code(const json_t *details, char *out, size_t cap)
{
    out[0] = '\0';
    size_t i;
    json_t *d;
    json_array_foreach(details, i, d) {
        json_t *code = json_object_get(json_array_get(json_object_get(d, "errors"), 0), "errorCode");
        const char *k;
        json_t *v;
        json_object_foreach(code, k, v) {
            if (!json_is_string(v))
                continue;
            size_t kn = strlen(k);
            if (kn == 0 || kn > 48 || strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != kn)
                return;
            if (is_enum_name(json_string_value(v), 64))
                snprintf(out, cap, "%s %s", k, json_string_value(v));
            else
                snprintf(out, cap, "%s", k);
            return;
        }
    }
}

/* 1 when a conversion error says Google has, or needs, nothing more of that conversion: the batch
 * was delivered. CLICK_NOT_FOUND is Google's answer for every conversion matched by e-mail or
 * phone whose person clicked no ad ("you can safely ignore this warning", ConversionUploadError);
 * Google stopped returning it with v21 (debug_enabled removed, Ads developer blog 2025-06-26), so
 * only an older pin still sees it; CLICK_CONVERSION_ALREADY_EXISTS and
 * ORDER_ID_ALREADY_IN_USE answer a conversion Google recorded before: a retry after a timeout, or
 * a redelivery (at-least-once). Dead-lettering the batch for them threw its other conversions in
 * with them, and a replay failed again on the same duplicates. */
static int is_settled_error(const json_t *error)
{
    const char *code = json_string_value(json_object_get(json_object_get(error, "errorCode"), "conversionUploadError"));
    return code != NULL &&
           (strcmp(code, "CLICK_NOT_FOUND") == 0 || strcmp(code, "CLICK_CONVERSION_ALREADY_EXISTS") == 0 ||
            strcmp(code, "ORDER_ID_ALREADY_IN_USE") == 0);
}

/* The errors of a partialFailureError that refused a conversion for good (not is_settled_error),
 * as a GoogleAdsFailure list holding only those (for failure_code); NULL when there are none. An
 * answer listing no error at all is taken as a refusal (an empty list): nothing says otherwise. */
static json_t *unsettled_errors(const json_t *details)
{
    json_t *left = json_array(), *errs = json_array();
    size_t i, j, seen = 0;
    json_t *d, *e;
    json_array_foreach(details, i, d) {
        json_array_foreach(json_object_get(d, "errors"), j, e) {
            seen++;
            if (!is_settled_error(e))
                json_array_append(errs, e);
        }
    }
    if (seen > 0 && json_array_size(errs) == 0) {
        json_decref(errs);
        json_decref(left);
        return NULL;
    }
    json_array_append_new(left, json_pack("{s:o}", "errors", errs));
    return left;
}

/* Google's errors: {"error":{"code":N,"status":"UNAUTHENTICATED","details":[GoogleAdsFailure]}}.
 * 401 is an expired or revoked access token (the worker refreshes it: retry); 429
 * RESOURCE_EXHAUSTED, 5xx and a sunset api_version (UNSUPPORTED_VERSION) are retried; 200 with partialFailureError
 * refused some conversions, unless every error it lists is one that settles its conversion (is_settled_error). */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    /* Google answers JSON, `{"results":[…]}` or (validateOnly) `{}`. */
    json_t *root = json_loadb(body, len, 0, NULL);
    sluice_verdict_t v = sluice_vendor_classify_json(status, root, "Google Ads", why, why_len);
    char code[128];
    if (v == SLUICE_VERDICT_OK) {
        json_t *pf = json_object_get(root, "partialFailureError"), *left;
        if (json_is_object(pf) && json_integer_value(json_object_get(pf, "code")) != 0 &&
            (left = unsettled_errors(json_object_get(pf, "details"))) != NULL) {
            failure_code(left, code, sizeof(code)); /* the first real refusal, not a settled one */
            json_decref(left);
            snprintf(why, why_len, "HTTP %ld (Google Ads partial failure%s%s)", status, code[0] ? ": " : "", code);
            v = SLUICE_VERDICT_FAIL;
        }
    } else {
        json_t *error = json_object_get(root, "error");
        const char *st = json_string_value(json_object_get(error, "status"));
        failure_code(json_object_get(error, "details"), code, sizeof(code));
        if (st != NULL && is_enum_name(st, 39))
            snprintf(why, why_len, "HTTP %ld (%s%s%s)", status, st, code[0] ? ", " : "", code);
        if (status == 401)
            v = SLUICE_VERDICT_RETRY;
        if (strcmp(code, "requestError UNSUPPORTED_VERSION") == 0) {
            /* "This API version has been sunset and is no longer supported" (RequestError 38,
             * googleads v22+ errors/request_error.proto; a v21 pin got it for every request from
             * 2026-08-05 on). Each major version lives about a year (sunset-dates page): every
             * request of the integration gets this until its api_version is raised, so the events
             * wait in Kafka for that (a restart of sluice-deliver) instead of filling the dead-letter topic, as
             * Meta's 2635 and LinkedIn's 426 do (WAIT: not a counted retry). */
            snprintf(why, why_len,
                     "HTTP %ld (Google Ads requestError UNSUPPORTED_VERSION: this api_version has been sunset; set the "
                     "integration's api_version to a current one and restart sluice-deliver: the events wait)",
                     status);
            v = SLUICE_VERDICT_WAIT;
        } else if (status == 404 && !json_is_object(root)) {
            /* Google's API answers its errors in JSON, a missing customer or conversion action
             * included; a 404 page that is not JSON comes from Google's front end for a path it
             * does not serve, which is what a REST version becomes once sunset (the version is
             * the path's first part). Dead-lettered at once, every conversion went to the DLQ
             * until the pin was raised; it waits like UNSUPPORTED_VERSION (up to
             * retry.max_elapsed_s: a mistyped base_url ends in the DLQ all the same). */
            snprintf(why, why_len,
                     "HTTP 404 without Google's JSON error: no such API path (a sunset api_version?); set the "
                     "integration's api_version to a current one and restart sluice-deliver: the events wait");
            v = SLUICE_VERDICT_WAIT;
        }
    }
    json_decref(root);
    return v;
}

/* Which conversions a partial failure refused: each error names its conversion by
 * location.fieldPathElements, [{"fieldName":"conversions","index":N},…] (Google Ads API,
 * "Partial failure"); the others were uploaded. An error that settles its conversion
 * (is_settled_error) refuses nothing; one that names no conversion leaves the answer saying nothing
 * of which (0: the whole batch is dead-lettered, as before). */
static size_t refused(const char *body, size_t len, size_t n, unsigned char *out)
{
    json_t *root = json_loadb(body, len, 0, NULL), *d, *e;
    size_t i, j, k = 0;
    int unplaced = 0;
    json_array_foreach(json_object_get(json_object_get(root, "partialFailureError"), "details"), i, d) {
        json_array_foreach(json_object_get(d, "errors"), j, e) {
            if (is_settled_error(e))
                continue;
            json_t *place = json_array_get(json_object_get(json_object_get(e, "location"), "fieldPathElements"), 0);
            const char *field = json_string_value(json_object_get(place, "fieldName"));
            json_t *index = json_object_get(place, "index");
            if (field == NULL || strcmp(field, "conversions") != 0 || !json_is_integer(index) ||
                json_integer_value(index) < 0 || (size_t)json_integer_value(index) >= n) {
                unplaced = 1;
                continue;
            }
            size_t at = (size_t)json_integer_value(index);
            k += out[at] == 0;
            out[at] = 1;
        }
    }
    json_decref(root);
    return unplaced ? 0 : k;
}

const sluice_vendor_ops_t sluice_vendor_google_ads = {
    .name = "google_ads",
    .kind = SLUICE_VENDOR_GOOGLE_ADS,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .refused = refused,
    .request_overhead = 64,
    .max_age_ms = GADS_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .options = options,
    .batch_events = 2000,
    .batch_events_max = 2000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 4000000,
    .fields_root = NULL,
    .hash_variant = "google",
    .token_request = token_request,
    .token_parse = sluice_vendor_oauth_parse,
    .build_check = build_check,
};

/*
 * LinkedIn Conversions API (docs/vendors.md, "LinkedIn"):
 *   POST {base_url}/rest/conversionEvents   headers Authorization: Bearer <token>,
 *   LinkedIn-Version, X-Restli-Protocol-Version: 2.0.0, X-RestLi-Method: BATCH_CREATE
 *   body {"elements":[…]}
 * up to 5,000 events per request. One integration feeds one conversion rule
 * (urn:lla:llaPartnerConversion:{conversion_id}); only track events are sent. The person is matched
 * by SHA256_EMAIL (the gateway's default-variant hash: trimmed, lower-cased) and by the first-party
 * ads tracking UUID (the li_fat_id click parameter); an event with neither is skipped. Events
 * older than 90 days are dead-lettered. Reentrant; the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

#define LI_MAX_AGE_MS (90LL * 24 * 3600 * 1000)
#define TOO_OLD       "older than 90 days (LinkedIn refuses it)"

static const char *check_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 24 && strspn(s, "0123456789") == n ? NULL : "is not a conversion rule id (digits)";
}

static const char *check_version(const char *s)
{
    return strlen(s) == 6 && strspn(s, "0123456789") == 6 ? NULL : "is not a LinkedIn API version (YYYYMM)";
}

static const sluice_vendor_option_t options[] = {
    {.name = "conversion_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_id},
    /* Each monthly version is served for a year (202601 ends 2027-01-15); 202608 is the
     * latest LinkedIn documented when this default was set. */
    {.name = "api_version", .type = SLUICE_VOPT_STRING, .def = "202608", .check = check_version},
    {.name = "access_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    if (strcmp(e->type, "track") != 0)
        return SLUICE_MAP_SKIP;
    json_t *ids = json_array();
    const char *em = sluice_envelope_hashed(e, SLUICE_UF_EMAIL, NULL);
    if (em != NULL)
        json_array_append_new(ids, json_pack("{s:s,s:s}", "idType", "SHA256_EMAIL", "idValue", em));
    const char *fat = sluice_envelope_str(e, "context.clickIds.li_fat_id");
    if (fat != NULL && fat[0] != '\0')
        json_array_append_new(
            ids, json_pack("{s:s,s:s}", "idType", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue", fat));
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        return SLUICE_MAP_SKIP; /* nobody LinkedIn could match */
    }
    if (sluice_vendor_too_old(&sluice_vendor_linkedin, e, now_ms, why, why_len)) {
        json_decref(ids);
        return SLUICE_MAP_DEAD;
    }
    char urn[96];
    snprintf(urn, sizeof(urn), "urn:lla:llaPartnerConversion:%s", sluice_vendor_opt(it, "conversion_id"));
    json_t *ev = json_object();
    json_object_set_new(ev, "conversion", json_string(urn));
    json_object_set_new(ev, "conversionHappenedAt", json_integer((json_int_t)e->time_ms));
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    const char *currency = sluice_vendor_currency(e, cur);
    char abuf[SLUICE_VENDOR_AMOUNT_CAP];
    const char *amount = currency != NULL ? sluice_vendor_value_text(e, abuf) : NULL; /* as the client sent it */
    if (amount != NULL) {
        json_object_set_new(ev, "conversionValue", json_pack("{s:s,s:s}", "currencyCode", currency, "amount", amount));
    }
    json_object_set_new(ev, "user", json_pack("{s:o}", "userIds", ids));
    sluice_vendor_set_str(ev, "eventId", e->message_id);
    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    const char *token = sluice_vendor_access_token(secret, "linkedin", out, err);
    if (token == NULL)
        return -1;
    out->url = sluice_vendor_url(it->base_url ? it->base_url : "https://api.linkedin.com", "/rest/conversionEvents");
    if (out->url == NULL || sluice_vendor_request_bearer(out, token) != 0 ||
        sluice_vendor_request_header(out, "LinkedIn-Version", sluice_vendor_opt(it, "api_version")) != 0 ||
        sluice_vendor_request_header(out, "X-Restli-Protocol-Version", "2.0.0") != 0 ||
        sluice_vendor_request_header(out, "X-RestLi-Method", "BATCH_CREATE") != 0 ||
        sluice_vendor_request_header(out, "Content-Type", "application/json") != 0 ||
        sluice_vendor_join("{\"elements\":[", items, n, "]}", &out->body, &out->body_len) != 0) {
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "linkedin: out of memory building a request");
    }
    return 0;
}

/* A refused element of a BATCH_CREATE answer: its status is an HTTP error. */
static int element_refused(const json_t *el)
{
    return json_integer_value(json_object_get(el, "status")) >= 400;
}

/* A BATCH_CREATE answer lists a status per element ({"elements":[{"status":201},{"status":400}]}):
 * any refused element is a partial refusal. Errors carry {"serviceErrorCode":N}; 401 is an expired
 * token (LinkedIn's last 60 days: rotate it in the vault), refused like 403; 429 and 5xx retried. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    json_t *root = json_loadb(body, len, 0, NULL);
    if (v == SLUICE_VERDICT_OK && !json_is_array(json_object_get(root, "elements"))) {
        /* A BATCH_CREATE success always lists its elements; a 2xx without them (a captive
         * portal's or a proxy's page, an empty body) delivered nothing. */
        snprintf(why, why_len, "HTTP %ld without elements: not an answer from LinkedIn (a proxy?)", status);
        v = SLUICE_VERDICT_RETRY;
    } else if (v == SLUICE_VERDICT_OK) {
        size_t i, refused = 0, n = json_array_size(json_object_get(root, "elements"));
        json_t *el;
        json_array_foreach(json_object_get(root, "elements"), i, el) {
            if (element_refused(el))
                refused++;
        }
        if (refused > 0) {
            snprintf(why, why_len, "HTTP %ld (LinkedIn refused %zu of %zu)", status, refused, n);
            v = SLUICE_VERDICT_FAIL;
        }
    } else if (status == 426) {
        /* LinkedIn's answer to a LinkedIn-Version past its sunset: every request of this
         * integration gets it until api_version is raised, so the events wait in Kafka for that
         * (a restart of sluice-deliver, which does not reload) instead of filling the dead-letter topic (WAIT: not a
         * counted retry). */
        snprintf(why, why_len,
                 "HTTP 426 (LinkedIn: this api_version is past its sunset; set the integration's api_version to a "
                 "current one and restart sluice-deliver: the events wait)");
        v = SLUICE_VERDICT_WAIT;
    } else {
        json_t *code = json_object_get(root, "serviceErrorCode");
        if (json_is_integer(code))
            snprintf(why, why_len, "HTTP %ld (LinkedIn serviceErrorCode %" JSON_INTEGER_FORMAT ")", status,
                     json_integer_value(code));
    }
    json_decref(root);
    return v;
}

/* Which elements a partial refusal refused: BATCH_CREATE answers one element per element of the
 * request, in its order (Rest.li batch create: "elements" in the order of the input). */
static size_t refused(const char *body, size_t len, size_t n, unsigned char *out)
{
    return sluice_vendor_refused_list(body, len, "elements", element_refused, n, out);
}

const sluice_vendor_ops_t sluice_vendor_linkedin = {
    .name = "linkedin",
    .kind = SLUICE_VENDOR_LINKEDIN,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .refused = refused,
    .request_overhead = 16,
    .max_age_ms = LI_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .options = options,
    .batch_events = 5000,
    .batch_events_max = 5000,
    .batch_bytes = 2000000,
    .batch_bytes_max = 10000000,
    .fields_root = NULL,
    .hash_variant = NULL,
};

/*
 * TikTok Events API v1.3 (VENDORS.md, docs/vendors.md):
 *   POST {base_url}/open_api/v1.3/event/track/   header Access-Token
 *   body {"event_source":"web","event_source_id":PIXEL_CODE,"data":[…]}
 * up to 1,000 events per call; e-mail, phone and external_id are the gateway's hashes (the
 * `tiktok` variant when the envelope carries one: phones in E.164 with '+'), ip and user_agent
 * raw, ttclid from the click ids. TikTok answers HTTP 200 with {"code":N}: 0 is success.
 * One bad row fails TikTok's whole batch (VENDORS.md), so an event older than TikTok takes is
 * dead-lettered on its own at mapping time, as Meta's are. Reentrant; the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

/* TikTok takes events that happened within the previous 28 days, its longest (click-through)
 * attribution window; older ones are not matched to ads (Amperity's TikTok Events API guide,
 * https://docs.amperity.com/operator/events_tiktok_ads.html: "Events must have occurred within
 * the previous 28 days"). Sent anyway, one such row (a DLQ replay a month on, a worker down for
 * weeks, a client's zero time 0001-01-01 with no sentAt) went with every fresh event of its
 * batch, and TikTok got event_time values of any age, negative ones too. */
#define TIKTOK_MAX_AGE_MS (28LL * 24 * 3600 * 1000)
#define TOO_OLD           "older than 28 days (TikTok's attribution window)"

static const char *const secret_required[] = {"access_token", NULL};

static const sluice_vendor_option_t options[] = {
    {.name = "pixel_code", .type = SLUICE_VOPT_STRING, .required = 1},
    /* Limited Data Use (docs/vendors.md): for every event, or for events without the category. */
    {.name = "limited_data_use", .type = SLUICE_VOPT_BOOL, .def = "false"},
    {.name = "limited_data_use_unless_consent", .type = SLUICE_VOPT_STRING, .check = sluice_vendor_check_category},
    {.name = "access_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static json_t *content_of(const sluice_envelope_t *e, const json_t *p)
{
    json_t *c = json_object();
    char idbuf[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(c, "content_id", sluice_vendor_product_id(e, p, idbuf));
    sluice_vendor_set_str(c, "content_name", json_string_value(json_object_get(p, "name")));
    json_t *n;
    if ((n = sluice_vendor_number_json(e, json_object_get(p, "quantity"), 1)) != NULL)
        json_object_set_new(c, "quantity", n);
    if ((n = sluice_vendor_number_json(e, json_object_get(p, "price"), 0)) != NULL)
        json_object_set_new(c, "price", n);
    if (json_object_get(c, "content_id") == NULL) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *properties(const sluice_envelope_t *e)
{
    json_t *out = json_object();
    const json_t *props = e->properties;
    if (props == NULL)
        return out;
    json_t *contents = json_array();
    json_t *products = sluice_vendor_products(e); /* a single-product event's own product too */
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        json_t *c = content_of(e, p);
        if (c != NULL)
            json_array_append_new(contents, c);
    }
    json_decref(products);
    if (json_array_size(contents) > 0) {
        json_object_set_new(out, "contents", contents);
        json_object_set_new(out, "content_type", json_string("product"));
    } else {
        json_decref(contents);
    }
    json_t *value = sluice_vendor_value_json(e);
    if (value != NULL)
        json_object_set_new(out, "value", value);
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    sluice_vendor_set_str(out, "currency", sluice_vendor_currency(e, cur));
    char order[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(out, "order_id", sluice_vendor_order_id(e, order));
    sluice_vendor_set_str(out, "query", json_string_value(json_object_get(props, "query")));
    return out;
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    (void)it;
    const char *name;
    if (strcmp(e->type, "track") == 0 && e->name != NULL) {
        name = sluice_vendor_standard_event(SLUICE_VENDOR_TIKTOK, e->name);
        if (name == NULL)
            name = e->name;
    } else if (strcmp(e->type, "page") == 0) {
        name = "Pageview";
    } else {
        return SLUICE_MAP_SKIP;
    }
    if (sluice_vendor_too_old(&sluice_vendor_tiktok, e, now_ms, why, why_len))
        return SLUICE_MAP_DEAD;
    json_t *user = json_object();
    sluice_vendor_set_str(user, "ttclid", sluice_envelope_str(e, "context.clickIds.ttclid"));
    sluice_vendor_set_str(user, "external_id", sluice_envelope_hashed(e, SLUICE_UF_EXTERNAL_ID, "tiktok"));
    sluice_vendor_set_str(user, "phone", sluice_envelope_hashed(e, SLUICE_UF_PHONE, "tiktok"));
    sluice_vendor_set_str(user, "email", sluice_envelope_hashed(e, SLUICE_UF_EMAIL, "tiktok"));
    sluice_vendor_set_str(user, "ttp", sluice_envelope_str(e, "context.vendorIds.ttp"));
    sluice_vendor_set_str(user, "ip", sluice_envelope_str(e, "context.ip"));
    sluice_vendor_set_str(user, "user_agent", sluice_envelope_str(e, "context.userAgent"));

    json_t *ev = json_object();
    json_object_set_new(ev, "event", json_string(name));
    json_object_set_new(ev, "event_time", json_integer((json_int_t)(e->time_ms / 1000)));
    sluice_vendor_set_str(ev, "event_id", e->message_id);
    json_object_set_new(ev, "user", user);
    json_t *page = json_object();
    sluice_vendor_set_str(page, "url", sluice_vendor_page(e, "url"));
    sluice_vendor_set_str(page, "referrer", sluice_vendor_page(e, "referrer"));
    sluice_vendor_set_nonempty(ev, "page", page);
    json_t *props = properties(e);
    sluice_vendor_set_nonempty(ev, "properties", props);
    /* The event's own flag, as TikTok's Business SDKs send it in LDU mode (limited_data_use:
     * true in each data[] element); absent means not restricted. */
    if (sluice_vendor_limited_data_use(it, e))
        json_object_set_new(ev, "limited_data_use", json_true());

    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    const char *token = sluice_vendor_access_token(secret, "tiktok", out, err);
    if (token == NULL)
        return -1;
    out->url = sluice_vendor_url(it->base_url ? it->base_url : "https://business-api.tiktok.com",
                                 "/open_api/v1.3/event/track/");
    char *prefix = sluice_vendor_quoted(
        "{\"event_source\":\"web\",\"event_source_id\":", sluice_vendor_opt(it, "pixel_code"), ",\"data\":[");
    if (out->url == NULL || prefix == NULL || sluice_vendor_request_header(out, "Access-Token", token) != 0 ||
        sluice_vendor_request_header(out, "Content-Type", "application/json") != 0 ||
        sluice_vendor_join(prefix, items, n, "]}", &out->body, &out->body_len) != 0) {
        free(prefix);
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "tiktok: out of memory building a request");
    }
    free(prefix);
    return 0;
}

/* TikTok's business codes: 0 ok; 40100 is its rate limit and 5xxxx its own failures (both worth
 * a retry); 40102 (the access token expired), 40104 (none given) and 40105 ("Access token is
 * incorrect or has been revoked"), Marketing API return codes, come with HTTP 200 and are a
 * refused credential, as another vendor's 401; anything else is a refusal of the request. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    if (v != SLUICE_VERDICT_OK)
        return v;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *code = json_object_get(root, "code");
    if (!json_is_integer(code)) {
        json_decref(root);
        snprintf(why, why_len, "HTTP %ld without a TikTok code", status);
        return SLUICE_VERDICT_RETRY;
    }
    json_int_t c = json_integer_value(code);
    json_decref(root);
    if (c == 0)
        return SLUICE_VERDICT_OK;
    snprintf(why, why_len, "HTTP %ld (TikTok code %" JSON_INTEGER_FORMAT ")", status, c);
    if (c == 40102 || c == 40104 || c == 40105)
        return SLUICE_VERDICT_AUTH;
    return c == 40100 || c >= 50000 ? SLUICE_VERDICT_RETRY : SLUICE_VERDICT_FAIL;
}

/* TikTok answers one bad event (a field of one row) with HTTP 200 and code 40002, its Marketing
 * API's "Invalid parameters" ("There's a problem with the parameters in your request"), for the
 * whole call: the Events API takes a batch or none of it (VENDORS.md, "one bad row fails the
 * whole batch"). The other codes belong to the request: 40001 (no permission), 40100 (rate
 * limit), 4010x (the access token), 5xxxx (TikTok's own failures). */
static int per_event(long status, const char *body, size_t len)
{
    if (status < 200 || status >= 300)
        return 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *code = json_object_get(root, "code");
    int yes = json_is_integer(code) && json_integer_value(code) == 40002;
    json_decref(root);
    return yes;
}

const sluice_vendor_ops_t sluice_vendor_tiktok = {
    .name = "tiktok",
    .kind = SLUICE_VENDOR_TIKTOK,
    .secret_required = secret_required,
    .secret_optional = NULL,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .per_event = per_event,
    .request_overhead = 128,
    .options = options,
    .batch_events = 1000,
    .batch_events_max = 1000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 10000000,
    .fields_root = "properties",
    .max_age_ms = TIKTOK_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .hash_variant = "tiktok",
};

/*
 * Snapchat Conversions API v3 (docs/vendors.md, "Snapchat"):
 *   POST {base_url}/v3/{pixel_id}/events?access_token=…   body {"data":[…]}
 * up to 2,000 events per request; `sluicectl vendor check` posts to .../events/validate, which
 * checks and records nothing. user_data takes the gateway's hashes in the default variant (e-mail
 * trimmed and lower-cased, phone digits with the country code and no '+'), each as a one-element
 * array; client_ip_address and client_user_agent raw; sc_click_id from the ScCid parameter. Snap
 * takes only its own event names: a track event with neither a standard name nor one of Snap's
 * names is skipped (rename it with mapping.events, to CUSTOM_EVENT_1 say). Events older than
 * 37 days are dead-lettered. Reentrant; the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

#define SNAP_MAX_AGE_MS (37LL * 24 * 3600 * 1000)
#define TOO_OLD         "older than 37 days (Snap refuses it)"

/* Snap's pixel ids are UUIDs. Anything else written into the path went elsewhere with the org's
 * token ('/', '?', '#', "..") or, past the path buffer, was cut. */
static const char *check_pixel(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n
               ? NULL
               : "is not a Snap pixel id (letters, digits and '-', a UUID, at most 64)";
}

static const sluice_vendor_option_t options[] = {
    {.name = "pixel_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_pixel},
    {.name = "access_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static const struct sluice_vendor_std_event standard[] = {
    {"Order Completed", "PURCHASE"},
    {"Product Added", "ADD_CART"},
    {"Product Viewed", "VIEW_CONTENT"},
    {"Product List Viewed", "LIST_VIEW"},
    {"Checkout Started", "START_CHECKOUT"},
    {"Payment Info Entered", "ADD_BILLING"},
    {"Products Searched", "SEARCH"},
    {"Signed Up", "SIGN_UP"},
    {"Signed In", "LOGIN"},
    {"Product Added to Wishlist", "ADD_TO_WISHLIST"},
    {"Subscription Started", "SUBSCRIBE"},
    {"Product Shared", "SHARE"},
    {NULL, NULL},
};

/* Snap's own event names, taken as they are (after a mapping rename, say). */
static const char *const snap_names[] = {"PAGE_VIEW",      "VIEW_CONTENT",
                                         "ADD_CART",       "ADD_TO_WISHLIST",
                                         "SIGN_UP",        "SEARCH",
                                         "PURCHASE",       "ADD_BILLING",
                                         "SUBSCRIBE",      "START_CHECKOUT",
                                         "START_TRIAL",    "LIST_VIEW",
                                         "LOGIN",          "SAVE",
                                         "SHARE",          "INVITE",
                                         "RESERVE",        "RATE",
                                         "AD_CLICK",       "AD_VIEW",
                                         "CUSTOM_EVENT_1", "CUSTOM_EVENT_2",
                                         "CUSTOM_EVENT_3", "CUSTOM_EVENT_4",
                                         "CUSTOM_EVENT_5", NULL};

static json_t *custom_data(const sluice_envelope_t *e)
{
    json_t *cd = json_object();
    const json_t *props = e->properties;
    json_t *value = sluice_vendor_value_json(e); /* as the client sent it */
    if (value != NULL)
        json_object_set_new(cd, "value", value);
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    sluice_vendor_set_str(cd, "currency", sluice_vendor_currency(e, cur));
    char order[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(cd, "order_id", sluice_vendor_order_id(e, order));
    sluice_vendor_set_str(cd, "search_string", json_string_value(json_object_get(props, "query")));
    json_t *contents = json_array();
    json_int_t items = 0;
    size_t i;
    json_t *p;
    json_t *products = sluice_vendor_products(e); /* a single-product event's own product too */
    json_array_foreach(products, i, p) {
        char idbuf[SLUICE_VENDOR_ID_CAP];
        const char *id = sluice_vendor_product_id(e, p, idbuf);
        if (id == NULL)
            continue;
        json_t *c = json_pack("{s:s}", "id", id);
        items = sluice_vendor_put_quantity(e, c, p, items); /* as sent; num_items counts real counts only */
        json_t *price = sluice_vendor_number_json(e, json_object_get(p, "price"), 0);
        if (price != NULL)
            json_object_set_new(c, "item_price", price);
        json_array_append_new(contents, c);
    }
    json_decref(products);
    sluice_vendor_set_nonempty(cd, "contents", contents);
    if (items > 0)
        json_object_set_new(cd, "num_items", json_integer(items));
    return cd;
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    (void)it;
    const char *name;
    if (strcmp(e->type, "track") == 0 && e->name != NULL) {
        name = sluice_vendor_standard_event(SLUICE_VENDOR_SNAPCHAT, e->name);
        if (name == NULL && sluice_vendor_name_in(snap_names, e->name))
            name = e->name;
        if (name == NULL)
            return SLUICE_MAP_SKIP; /* Snap takes only its own names */
    } else if (strcmp(e->type, "page") == 0) {
        name = "PAGE_VIEW";
    } else {
        return SLUICE_MAP_SKIP;
    }
    if (sluice_vendor_too_old(&sluice_vendor_snapchat, e, now_ms, why, why_len))
        return SLUICE_MAP_DEAD;
    json_t *ud = json_object();
    sluice_vendor_add_user_hashes(ud, e);
    sluice_vendor_set_str(ud, "client_ip_address", sluice_envelope_str(e, "context.ip"));
    sluice_vendor_set_str(ud, "client_user_agent", sluice_envelope_str(e, "context.userAgent"));
    sluice_vendor_set_str(ud, "sc_click_id", sluice_envelope_str(e, "context.clickIds.ScCid"));
    json_t *ev = json_object();
    json_object_set_new(ev, "event_name", json_string(name));
    json_object_set_new(ev, "event_time", json_integer((json_int_t)(e->time_ms / 1000)));
    sluice_vendor_set_str(ev, "event_id", e->message_id);
    json_object_set_new(ev, "action_source", json_string("WEB"));
    sluice_vendor_set_str(ev, "event_source_url", sluice_vendor_page(e, "url"));
    sluice_vendor_set_nonempty(ev, "user_data", ud);
    sluice_vendor_set_nonempty(ev, "custom_data", custom_data(e));
    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build_path(const sluice_integration_t *it, const json_t *secret, const sluice_vendor_item_t *const *items,
                      size_t n, int validate, sluice_vendor_request_t *out, sluice_err_t *err)
{
    const char *token = sluice_vendor_access_token(secret, "snapchat", out, err);
    if (token == NULL)
        return -1;
    out->url = sluice_vendor_url_path(
        it->base_url ? it->base_url : "https://tr.snapchat.com",
        (const char *const[]){"v3", sluice_vendor_opt(it, "pixel_id"), "events", validate ? "validate" : NULL, NULL});
    if (out->url == NULL || sluice_vendor_url_param(&out->url, "access_token", token) != 0 ||
        sluice_vendor_request_header(out, "Content-Type", "application/json") != 0 ||
        sluice_vendor_join("{\"data\":[", items, n, "]}", &out->body, &out->body_len) != 0) {
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "snapchat: out of memory building a request");
    }
    return 0;
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    return build_path(it, secret, items, n, 0, out, err);
}

static int build_check(const sluice_integration_t *it, const json_t *secret, const char *group,
                       const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                       sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    return build_path(it, secret, items, n, 1, out, err);
}

/* Snap answers HTTP statuses and a JSON object (`{"status":"SUCCESS",…}`): 2xx with that object
 * accepted; 429 and 5xx retried; 400 (a malformed event), 401 and 403 (the token) refused, with
 * Snap's `reason` when it is a code word. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    json_t *root;
    sluice_verdict_t v = sluice_vendor_classify_answer(status, body, len, "Snapchat", &root, why, why_len);
    if (status >= 200 && status < 300) {
        json_decref(root);
        return v;
    }
    const char *reason = json_string_value(json_object_get(root, "reason"));
    if (reason != NULL && strlen(reason) < 48 && strspn(reason, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == strlen(reason))
        snprintf(why, why_len, "HTTP %ld (Snap %s)", status, reason);
    json_decref(root);
    return v;
}

const sluice_vendor_ops_t sluice_vendor_snapchat = {
    .name = "snapchat",
    .kind = SLUICE_VENDOR_SNAPCHAT,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .request_overhead = 16,
    .max_age_ms = SNAP_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .options = options,
    .batch_events = 2000,
    .batch_events_max = 2000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 4000000,
    .fields_root = "custom_data",
    .hash_variant = NULL,
    .standard_events = standard,
    .build_check = build_check,
};

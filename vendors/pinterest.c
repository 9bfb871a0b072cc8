/*
 * Pinterest API for Conversions (docs/vendors.md, "Pinterest"):
 *   POST {base_url}/v5/ad_accounts/{ad_account_id}/events   header Authorization: Bearer <token>
 *   body {"data":[…]}
 * up to 1,000 events per request (`?test=true` for `sluicectl vendor check`: validated, not
 * recorded). user_data takes the gateway's hashes in the default variant (e-mail trimmed and
 * lower-cased, phone digits with the country code and no '+', as Pinterest normalises), each as a
 * one-element array; client_ip_address and client_user_agent raw; click_id from the epik
 * parameter. Pinterest needs an e-mail hash or both the IP address and the user agent: an event
 * with neither is dead-lettered. Values are decimal strings. Reentrant; the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

static const char *check_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 32 && strspn(s, "0123456789") == n ? NULL : "is not a Pinterest ad account id (digits)";
}

static const sluice_vendor_option_t options[] = {
    {.name = "ad_account_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_id},
    {.name = "access_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static const struct sluice_vendor_std_event standard[] = {
    {"Order Completed", "checkout"},
    {"Checkout Started", "initiate_checkout"},
    {"Product Added", "add_to_cart"},
    {"Products Searched", "search"},
    {"Signed Up", "signup"},
    {"Lead Generated", "lead"},
    {"Product List Viewed", "view_category"},
    {"Product Added to Wishlist", "add_to_wishlist"},
    {"Payment Info Entered", "add_payment_info"},
    {"Video Playback Started", "watch_video"},
    {"Product Viewed", "view_content"},
    {"Subscription Started", "subscribe"},
    {NULL, NULL},
};

/* Pinterest's own event names, accepted as they are (after a mapping rename, say): the "Name in
 * API" column of Pinterest's conversion event types, all of it, since a name missing here is sent
 * as "custom" and lost to Pinterest's reporting of that event type. Pinterest added
 * submit_application, subscribe and view_content to the event_name enum of POST
 * /v5/ad_accounts/{id}/events (API v5 spec, pinterest/api-description, and its SDKs in 2026):
 * "Please use the right event_name; otherwise the event will not be accepted and show up
 * correctly in reports". */
static const char *const pinterest_names[] = {"add_payment_info",
                                              "add_to_cart",
                                              "add_to_wishlist",
                                              "app_install",
                                              "app_open",
                                              "checkout",
                                              "contact",
                                              "custom",
                                              "customize_product",
                                              "find_location",
                                              "initiate_checkout",
                                              "lead",
                                              "page_visit",
                                              "schedule",
                                              "search",
                                              "signup",
                                              "start_trial",
                                              "submit_application",
                                              "subscribe",
                                              "view_category",
                                              "view_content",
                                              "watch_video",
                                              NULL};

static json_t *custom_data(const sluice_envelope_t *e)
{
    json_t *cd = json_object();
    const json_t *props = e->properties;
    char num[SLUICE_VENDOR_AMOUNT_CAP];
    sluice_vendor_set_str(cd, "value", sluice_vendor_value_text(e, num)); /* as the client sent it */
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    sluice_vendor_set_str(cd, "currency", sluice_vendor_currency(e, cur));
    char order[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(cd, "order_id", sluice_vendor_order_id(e, order));
    sluice_vendor_set_str(cd, "search_string", json_string_value(json_object_get(props, "query")));
    json_t *ids = json_array(), *contents = json_array();
    json_t *products = sluice_vendor_products(e); /* a single-product event's own product too */
    json_int_t items = 0;
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        char idbuf[SLUICE_VENDOR_ID_CAP];
        const char *id = sluice_vendor_product_id(e, p, idbuf);
        if (id == NULL)
            continue;
        json_array_append_new(ids, json_string(id));
        /* Pinterest's contents[] items name their product: a price and a quantity of no id are
         * of nobody in the catalog. */
        json_t *c = json_pack("{s:s}", "id", id);
        sluice_vendor_set_str(c, "item_price", sluice_vendor_amount_text(e, json_object_get(p, "price"), num));
        items = sluice_vendor_put_quantity(e, c, p, items); /* as sent; num_items counts real counts only */
        json_array_append_new(contents, c);
    }
    json_decref(products);
    sluice_vendor_set_nonempty(cd, "content_ids", ids);
    sluice_vendor_set_nonempty(cd, "contents", contents);
    if (items > 0)
        json_object_set_new(cd, "num_items", json_integer(items));
    return cd;
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    (void)it;
    (void)now_ms;
    const char *name;
    if (strcmp(e->type, "track") == 0 && e->name != NULL) {
        name = sluice_vendor_standard_event(SLUICE_VENDOR_PINTEREST, e->name);
        if (name == NULL)
            name = sluice_vendor_name_in(pinterest_names, e->name) ? e->name : "custom";
    } else if (strcmp(e->type, "page") == 0) {
        name = "page_visit";
    } else {
        return SLUICE_MAP_SKIP;
    }
    json_t *ud = json_object();
    sluice_vendor_add_user_hashes(ud, e);
    sluice_vendor_set_str(ud, "client_ip_address", sluice_envelope_str(e, "context.ip"));
    sluice_vendor_set_str(ud, "client_user_agent", sluice_envelope_str(e, "context.userAgent"));
    sluice_vendor_set_str(ud, "click_id", sluice_envelope_str(e, "context.clickIds.epik"));
    if (json_object_get(ud, "em") == NULL &&
        (json_object_get(ud, "client_ip_address") == NULL || json_object_get(ud, "client_user_agent") == NULL)) {
        json_decref(ud);
        snprintf(why, why_len,
                 "no hashed e-mail, and not both the IP address and the user agent (Pinterest needs "
                 "one of them)");
        return SLUICE_MAP_DEAD;
    }
    json_t *ev = json_object();
    json_object_set_new(ev, "event_name", json_string(name));
    json_object_set_new(ev, "action_source", json_string("web"));
    json_object_set_new(ev, "event_time", json_integer((json_int_t)(e->time_ms / 1000)));
    sluice_vendor_set_str(ev, "event_id", e->message_id);
    sluice_vendor_set_str(ev, "event_source_url", sluice_vendor_page(e, "url"));
    json_object_set_new(ev, "user_data", ud);
    sluice_vendor_set_nonempty(ev, "custom_data", custom_data(e));
    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build_mode(const sluice_integration_t *it, const json_t *secret, const sluice_vendor_item_t *const *items,
                      size_t n, int test, sluice_vendor_request_t *out, sluice_err_t *err)
{
    const char *token = sluice_vendor_access_token(secret, "pinterest", out, err);
    if (token == NULL)
        return -1;
    char path[128];
    snprintf(path, sizeof(path), "/v5/ad_accounts/%s/events", sluice_vendor_opt(it, "ad_account_id"));
    out->url = sluice_vendor_url(it->base_url ? it->base_url : "https://api.pinterest.com", path);
    if (out->url == NULL || (test && sluice_vendor_url_param(&out->url, "test", "true") != 0) ||
        sluice_vendor_request_bearer(out, token) != 0 ||
        sluice_vendor_request_header(out, "Content-Type", "application/json") != 0 ||
        sluice_vendor_join("{\"data\":[", items, n, "]}", &out->body, &out->body_len) != 0) {
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "pinterest: out of memory building a request");
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

/* 200 answers count what was processed ({"num_events_received":N,"num_events_processed":M,
 * "events":[{"status":"failed",…}]}): fewer processed than received is a partial refusal.
 * Errors are {"code":N,"message":…}; 429 and 5xx are retried. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    json_t *root = json_loadb(body, len, 0, NULL);
    if (v == SLUICE_VERDICT_OK) {
        json_t *rec = json_object_get(root, "num_events_received"),
               *proc = json_object_get(root, "num_events_processed");
        /* Pinterest's success always counts what it received (with ?test=true too); a 2xx without
         * it (a captive portal's or a proxy's page, an empty body) delivered nothing. */
        if (!json_is_integer(rec)) {
            snprintf(why, why_len, "HTTP %ld without num_events_received: not an answer from Pinterest (a proxy?)",
                     status);
            v = SLUICE_VERDICT_RETRY;
        } else if (json_is_integer(proc) && json_integer_value(proc) < json_integer_value(rec)) {
            snprintf(why, why_len,
                     "HTTP %ld (Pinterest processed %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT ")", status,
                     json_integer_value(proc), json_integer_value(rec));
            v = SLUICE_VERDICT_FAIL;
        }
    } else {
        json_t *code = json_object_get(root, "code");
        if (json_is_integer(code))
            snprintf(why, why_len, "HTTP %ld (Pinterest code %" JSON_INTEGER_FORMAT ")", status,
                     json_integer_value(code));
    }
    json_decref(root);
    return v;
}

/* Which events a partial refusal refused: Pinterest's 200 lists one result per event of the
 * request, in its order ({"events":[{"status":"processed"},{"status":"failed","error_message":…}]},
 * API v5 "Send conversions", ConversionApiResponse.events). */
static int event_failed(const json_t *ev)
{
    const char *st = json_string_value(json_object_get(ev, "status"));
    return st != NULL && strcmp(st, "failed") == 0;
}

static size_t refused(const char *body, size_t len, size_t n, unsigned char *out)
{
    return sluice_vendor_refused_list(body, len, "events", event_failed, n, out);
}

const sluice_vendor_ops_t sluice_vendor_pinterest = {
    .name = "pinterest",
    .kind = SLUICE_VENDOR_PINTEREST,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .refused = refused,
    .request_overhead = 16,
    .options = options,
    .batch_events = 1000,
    .batch_events_max = 1000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 5000000,
    .fields_root = "custom_data",
    .hash_variant = NULL,
    .standard_events = standard,
    .build_check = build_check,
};

/*
 * Reddit Conversions API v3 (docs/vendors.md, "Reddit"):
 *   POST {base_url}/api/v3/pixels/{pixel_id}/conversion_events   header Authorization: Bearer <token>
 *   body {"data":{"events":[…]}} ("test_id" added for test events)
 * up to 1,000 events per request. The person: e-mail and phone hashes in the `reddit` variant
 * (phones in E.164 with '+', as TikTok; e-mails canonicalised as Reddit matches them: no '+alias',
 * only letters and digits before the '@'),
 * external_id, the raw user agent, and the click id from the rdt_cid parameter. Events older
 * than 7 days are dead-lettered. Reentrant; the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

#define REDDIT_MAX_AGE_MS (7LL * 24 * 3600 * 1000)
#define TOO_OLD           "older than 7 days (Reddit refuses it)"

/* Reddit's pixel ids are a kind prefix and base-36 letters ("a2_…", "t2_…"). Anything else
 * written into the path went elsewhere with the org's token ('/', '?', '#', "..") or, past the
 * path buffer, was cut. */
static const char *check_pixel(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n
               ? NULL
               : "is not a Reddit pixel id (letters, digits and '_', e.g. a2_abc123, at most 64)";
}

static const sluice_vendor_option_t options[] = {
    {.name = "pixel_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_pixel},
    {.name = "test_id", .type = SLUICE_VOPT_STRING},
    {.name = "access_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static const struct sluice_vendor_std_event standard[] = {
    {"Order Completed", "PURCHASE"},
    {"Product Added", "ADD_TO_CART"},
    {"Product Viewed", "VIEW_CONTENT"},
    {"Products Searched", "SEARCH"},
    {"Signed Up", "SIGN_UP"},
    {"Lead Generated", "LEAD"},
    {"Product Added to Wishlist", "ADD_TO_WISHLIST"},
    {NULL, NULL},
};

/* Reddit's own tracking types, taken as they are (after a mapping rename, say). */
static const char *const reddit_types[] = {"PAGE_VISIT", "VIEW_CONTENT", "SEARCH",  "ADD_TO_CART", "ADD_TO_WISHLIST",
                                           "PURCHASE",   "LEAD",         "SIGN_UP", NULL};

static json_t *metadata(const sluice_envelope_t *e)
{
    json_t *md = json_object();
    sluice_vendor_set_str(md, "conversion_id", e->message_id);
    json_t *value = sluice_vendor_value_json(e); /* as the client sent it */
    if (value != NULL)
        json_object_set_new(md, "value", value);
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    sluice_vendor_set_str(md, "currency", sluice_vendor_currency(e, cur));
    json_t *products = json_array();
    json_int_t items = 0;
    size_t i;
    json_t *p;
    json_t *list = sluice_vendor_products(e); /* a single-product event's own product too */
    json_array_foreach(list, i, p) {
        char idbuf[SLUICE_VENDOR_ID_CAP];
        const char *id = sluice_vendor_product_id(e, p, idbuf);
        if (id == NULL)
            continue;
        json_t *o = json_pack("{s:s}", "id", id);
        sluice_vendor_set_str(o, "name", json_string_value(json_object_get(p, "name")));
        sluice_vendor_set_str(o, "category", json_string_value(json_object_get(p, "category")));
        json_array_append_new(products, o);
        json_int_t n; /* only real counts are summed: 1e21 or -1 can neither overflow nor skew it */
        if (sluice_vendor_quantity(json_object_get(p, "quantity"), &n) == 0)
            items = sluice_vendor_quantity_add(items, n);
    }
    json_decref(list);
    if (items > 0)
        json_object_set_new(md, "item_count", json_integer(items));
    sluice_vendor_set_nonempty(md, "products", products);
    return md;
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    (void)it;
    const char *type, *custom = NULL;
    if (strcmp(e->type, "track") == 0 && e->name != NULL) {
        type = sluice_vendor_standard_event(SLUICE_VENDOR_REDDIT, e->name);
        if (type == NULL && sluice_vendor_name_in(reddit_types, e->name))
            type = e->name;
        if (type == NULL) {
            type = "CUSTOM";
            custom = e->name;
        }
    } else if (strcmp(e->type, "page") == 0) {
        type = "PAGE_VISIT";
    } else {
        return SLUICE_MAP_SKIP;
    }
    if (sluice_vendor_too_old(&sluice_vendor_reddit, e, now_ms, why, why_len))
        return SLUICE_MAP_DEAD;
    json_t *user = json_object();
    /* The gateway's `reddit` variant: e-mails canonicalised as Reddit matches them, phones in
     * E.164 with '+'. An envelope written before that variant existed has TikTok's, whose phone
     * is the same (its e-mail is then the field itself, as it was). */
    sluice_vendor_set_str(user, "email", sluice_envelope_hashed_or(e, SLUICE_UF_EMAIL, "reddit", "tiktok"));
    sluice_vendor_set_str(user, "phone_number", sluice_envelope_hashed_or(e, SLUICE_UF_PHONE, "reddit", "tiktok"));
    sluice_vendor_add_hash(user, "external_id", e, SLUICE_UF_EXTERNAL_ID, NULL, 0);
    sluice_vendor_set_str(user, "user_agent", sluice_envelope_str(e, "context.userAgent"));
    json_t *ev = json_object();
    json_object_set_new(ev, "event_at", json_integer((json_int_t)e->time_ms));
    json_object_set_new(ev, "action_source", json_string("WEBSITE"));
    json_t *t = json_pack("{s:s}", "tracking_type", type);
    sluice_vendor_set_str(t, "custom_event_name", custom);
    json_object_set_new(ev, "type", t);
    sluice_vendor_set_str(ev, "click_id", sluice_envelope_str(e, "context.clickIds.rdt_cid"));
    sluice_vendor_set_nonempty(ev, "metadata", metadata(e));
    sluice_vendor_set_nonempty(ev, "user", user);
    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build_mode(const sluice_integration_t *it, const json_t *secret, const sluice_vendor_item_t *const *items,
                      size_t n, int test, sluice_vendor_request_t *out, sluice_err_t *err)
{
    const char *token = sluice_vendor_access_token(secret, "reddit", out, err);
    if (token == NULL)
        return -1;
    const char *test_id = sluice_vendor_opt(it, "test_id");
    if (test_id == NULL && test)
        test_id = "sluicectl-vendor-check";
    char *prefix = test_id != NULL ? sluice_vendor_quoted("{\"data\":{\"test_id\":", test_id, ",\"events\":[")
                                   : strdup("{\"data\":{\"events\":[");
    out->url = sluice_vendor_url_path(
        it->base_url ? it->base_url : "https://ads-api.reddit.com",
        (const char *const[]){"api", "v3", "pixels", sluice_vendor_opt(it, "pixel_id"), "conversion_events", NULL});
    if (prefix == NULL || out->url == NULL || sluice_vendor_request_bearer(out, token) != 0 ||
        sluice_vendor_request_header(out, "Content-Type", "application/json") != 0 ||
        sluice_vendor_join(prefix, items, n, "]}}", &out->body, &out->body_len) != 0) {
        free(prefix);
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "reddit: out of memory building a request");
    }
    free(prefix);
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

/* Reddit answers HTTP statuses and JSON, also on success; errors look like {"error":{"code":N,…}}:
 * 429 and 5xx retried, the rest (400 a malformed event, 401/403 the token) dead-lettered with
 * Reddit's code. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    json_t *root;
    sluice_verdict_t v = sluice_vendor_classify_answer(status, body, len, "Reddit", &root, why, why_len);
    if (status >= 200 && status < 300) {
        json_decref(root);
        return v;
    }
    json_t *code = json_object_get(json_object_get(root, "error"), "code");
    if (json_is_integer(code))
        snprintf(why, why_len, "HTTP %ld (Reddit code %" JSON_INTEGER_FORMAT ")", status, json_integer_value(code));
    json_decref(root);
    return v;
}

const sluice_vendor_ops_t sluice_vendor_reddit = {
    .name = "reddit",
    .kind = SLUICE_VENDOR_REDDIT,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .request_overhead = 64,
    .max_age_ms = REDDIT_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .options = options,
    .batch_events = 1000,
    .batch_events_max = 1000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 2000000,
    .fields_root = "metadata",
    .hash_variant = "reddit",
    .standard_events = standard,
    .build_check = build_check,
};

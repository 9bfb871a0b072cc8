/*
 * Meta Conversions API (VENDORS.md, docs/vendors.md):
 *   POST {base_url}/{api_version}/{pixel_id}/events?access_token=…   body {"data":[…],"test_event_code"?}
 * up to 1,000 events per request. Meta refuses a whole request when one event is older than
 * 7 days, so such events are dead-lettered one by one at mapping time. user_data takes the
 * gateway's hashes as they are (default variant); client_ip_address, client_user_agent, fbp and
 * fbc go raw. Reentrant; the worker's loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendors/vendor.h"

#define META_MAX_AGE_MS (7LL * 24 * 3600 * 1000)
#define TOO_OLD         "event older than 7 days (Meta refuses the whole request)"

static const char *const secret_required[] = {"access_token", NULL};

static const char *check_api_version(const char *s)
{
    if (s[0] != 'v' || strspn(s + 1, "0123456789.") != strlen(s + 1) || strchr(s, '.') == NULL)
        return "is not a Graph API version (e.g. v26.0)";
    return NULL;
}

/* A pixel (dataset) id is a Graph API node id, digits. Anything else written into the path went
 * elsewhere with the org's token: "1/../../me" climbed to another node, "1?x=" posted to the
 * pixel node itself, and an id past the path buffer was cut (docs/vendors.md, "Meta"). */
static const char *check_pixel(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 32 && strspn(s, "0123456789") == n ? NULL : "is not a Meta pixel id (digits, at most 32)";
}

static const sluice_vendor_option_t options[] = {
    {.name = "pixel_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_pixel},
    /* The Conversions API follows the Marketing API's versions, each served about a year
     * (v24.0 ended 2026-11-10, v25.0 ends 2027-02-23); v26.0 came out 2026-07-29. */
    {.name = "api_version", .type = SLUICE_VOPT_STRING, .def = "v26.0", .check = check_api_version},
    {.name = "test_event_code", .type = SLUICE_VOPT_STRING},
    /* Limited Data Use (docs/vendors.md): for every event, or for events without the category. */
    {.name = "limited_data_use", .type = SLUICE_VOPT_BOOL, .def = "false"},
    {.name = "limited_data_use_unless_consent", .type = SLUICE_VOPT_STRING, .check = sluice_vendor_check_category},
    {.name = "access_token", .secret = 1, .required = 1},
    {.name = NULL},
};

static json_t *product_content(const sluice_envelope_t *e, const json_t *p)
{
    json_t *c = json_object();
    char idbuf[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(c, "id", sluice_vendor_product_id(e, p, idbuf));
    json_t *n;
    if ((n = sluice_vendor_number_json(e, json_object_get(p, "quantity"), 1)) != NULL)
        json_object_set_new(c, "quantity", n);
    if ((n = sluice_vendor_number_json(e, json_object_get(p, "price"), 0)) != NULL)
        json_object_set_new(c, "item_price", n);
    sluice_vendor_set_str(c, "delivery_category", json_string_value(json_object_get(p, "delivery_category")));
    if (json_object_get(c, "id") == NULL) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *custom_data(const sluice_envelope_t *e)
{
    const json_t *props = e->properties;
    json_t *cd = json_object();
    if (props == NULL)
        return cd;
    json_t *value = sluice_vendor_value_json(e);
    if (value != NULL)
        json_object_set_new(cd, "value", value);
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    sluice_vendor_set_str(cd, "currency", sluice_vendor_currency(e, cur));
    json_t *contents = json_array();
    json_t *products = sluice_vendor_products(e); /* a single-product event's own product too */
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        json_t *c = product_content(e, p);
        if (c != NULL)
            json_array_append_new(contents, c);
    }
    json_decref(products);
    if (json_array_size(contents) > 0)
        json_object_set_new(cd, "contents", contents);
    else
        json_decref(contents);
    char order[SLUICE_VENDOR_ID_CAP];
    sluice_vendor_set_str(cd, "order_id", sluice_vendor_order_id(e, order));
    return cd;
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    const char *name;
    if (strcmp(e->type, "track") == 0 && e->name != NULL) {
        name = sluice_vendor_standard_event(SLUICE_VENDOR_META, e->name);
        if (name == NULL)
            name = e->name;
    } else if (strcmp(e->type, "page") == 0) {
        name = "PageView";
    } else {
        return SLUICE_MAP_SKIP; /* Meta has no web event for screen, identify, group, alias */
    }
    if (sluice_vendor_too_old(&sluice_vendor_meta, e, now_ms, why, why_len))
        return SLUICE_MAP_DEAD;
    const char *ua = sluice_envelope_str(e, "context.userAgent");
    if (ua == NULL) {
        snprintf(why, why_len, "no context.userAgent (Meta requires client_user_agent for website events)");
        return SLUICE_MAP_DEAD;
    }

    json_t *ud = json_object();
    sluice_vendor_add_user_hashes(ud, e);
    sluice_vendor_set_str(ud, "client_ip_address", sluice_envelope_str(e, "context.ip"));
    sluice_vendor_set_str(ud, "client_user_agent", ua);
    sluice_vendor_set_str(ud, "fbp", sluice_envelope_str(e, "context.vendorIds.fbp"));
    const char *fbc = sluice_envelope_str(e, "context.vendorIds.fbc");
    const char *fbclid = sluice_envelope_str(e, "context.clickIds.fbclid");
    if (fbc != NULL) {
        json_object_set_new(ud, "fbc", json_string(fbc));
    } else if (fbclid != NULL && fbclid[0] != '\0') {
        /* Meta's documented form for a click id seen server-side: fb.1.<ms>.<fbclid>. */
        char buf[1024];
        int n = snprintf(buf, sizeof(buf), "fb.1.%lld.%s", (long long)e->time_ms, fbclid);
        if (n > 0 && (size_t)n < sizeof(buf))
            json_object_set_new(ud, "fbc", json_string(buf));
    }

    json_t *ev = json_object();
    json_object_set_new(ev, "event_name", json_string(name));
    json_object_set_new(ev, "event_time", json_integer((json_int_t)(e->time_ms / 1000)));
    sluice_vendor_set_str(ev, "event_id", e->message_id);
    json_object_set_new(ev, "action_source", json_string("website"));
    sluice_vendor_set_str(ev, "event_source_url", sluice_vendor_page(e, "url"));
    json_object_set_new(ev, "user_data", ud);
    sluice_vendor_set_nonempty(ev, "custom_data", custom_data(e));
    if (sluice_vendor_limited_data_use(it, e)) {
        /* Meta's "Data Processing Options for US Users": data_processing_options ["LDU"] with
         * country 0 and state 0 asks Meta to geolocate the event (the gateway knows no US state)
         * and to limit its use where the visitor's state's law provides for it. */
        json_object_set_new(ev, "data_processing_options", json_pack("[s]", "LDU"));
        json_object_set_new(ev, "data_processing_options_country", json_integer(0));
        json_object_set_new(ev, "data_processing_options_state", json_integer(0));
    }
    return sluice_vendor_item_body(ev, out, why, why_len);
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)group;
    (void)now_ms;
    const char *token = sluice_vendor_access_token(secret, "meta", out, err);
    if (token == NULL)
        return -1;
    out->url = sluice_vendor_url_path(
        it->base_url ? it->base_url : "https://graph.facebook.com",
        (const char *const[]){sluice_vendor_opt(it, "api_version"), sluice_vendor_opt(it, "pixel_id"), "events", NULL});
    if (out->url == NULL || sluice_vendor_url_param(&out->url, "access_token", token) != 0)
        goto oom;
    const char *test_event_code = sluice_vendor_opt(it, "test_event_code");
    char *suffix =
        test_event_code != NULL ? sluice_vendor_quoted("],\"test_event_code\":", test_event_code, "}") : strdup("]}");
    int rc = suffix == NULL ? -1 : sluice_vendor_join("{\"data\":[", items, n, suffix, &out->body, &out->body_len);
    free(suffix);
    if (rc != 0 || sluice_vendor_request_header(out, "Content-Type", "application/json") != 0)
        goto oom;
    return 0;
oom:
    sluice_vendor_request_dispose(out);
    return sluice_err_set(err, "meta: out of memory building a request");
}

/* 1 when Meta's error title can go into a dead letter's reason and the log: one of the titles
 * Meta gives the Conversions API's refusals, word for word. A title is Meta's text about the
 * event, and "plain" was not enough: printable ASCII without quotes or '@' still let "Invalid em
 * 16505551212" or a name through. Any other title is left out (the code stays). */
static int title_is_known(const char *t)
{
    static const char *const known[] = {
        "Server-side API parameter error", "Event Timestamp Too Old", "Invalid parameter", "Invalid Parameter", NULL,
    };
    for (size_t i = 0; t != NULL && known[i] != NULL; i++) {
        if (strcmp(t, known[i]) == 0)
            return 1;
    }
    return 0;
}

/* Meta answers errors as {"error":{"code":N,"error_subcode":M,"is_transient":bool}}; throttling
 * and temporary codes are worth a retry even when the HTTP status is 400. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    json_t *root = json_loadb(body, len, 0, NULL);
    if (v == SLUICE_VERDICT_OK) {
        /* Meta's success always says how many events it took; a 2xx without it (a captive
         * portal's or a proxy's page, an error body) delivered nothing. */
        if (json_is_integer(json_object_get(root, "events_received"))) {
            json_decref(root);
            return v;
        }
        v = SLUICE_VERDICT_RETRY;
        snprintf(why, why_len, "HTTP %ld without events_received: not an answer from Meta (a proxy?)", status);
    }
    json_t *error = json_object_get(root, "error");
    json_t *code = json_object_get(error, "code"), *sub = json_object_get(error, "error_subcode");
    if (json_is_integer(code)) {
        json_int_t c = json_integer_value(code);
        const char *title = json_string_value(json_object_get(error, "error_user_title"));
        if (json_is_integer(sub) && title_is_known(title))
            /* Meta's title names the refusal ("Event Timestamp Too Old", "Server-side API parameter
             * error") without the event's values, unlike error_user_msg: the dead letter says why. */
            snprintf(why, why_len, "HTTP %ld (Meta error %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT ": %s)",
                     status, c, json_integer_value(sub), title);
        else if (json_is_integer(sub))
            snprintf(why, why_len, "HTTP %ld (Meta error %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT ")", status, c,
                     json_integer_value(sub));
        else
            snprintf(why, why_len, "HTTP %ld (Meta error %" JSON_INTEGER_FORMAT ")", status, c);
        if (json_is_true(json_object_get(error, "is_transient")) || c == 1 || c == 2 || c == 4 || c == 17 || c == 341 ||
            c == 613 || (status >= 200 && status < 300))
            v = SLUICE_VERDICT_RETRY;
        /* 190 (OAuthException: "the access token has expired, been revoked, or is otherwise
         * invalid. Get a new access token", Graph API "Handling Errors") and 102 (API Session) come
         * with HTTP 400, not 401: a refused credential all the same, read again from the vault. */
        if ((c == 190 || c == 102) && status >= 400 && v == SLUICE_VERDICT_FAIL)
            v = SLUICE_VERDICT_AUTH;
        if (c == 2635) {
            /* "You are calling a deprecated version of the Ads API": every request of this
             * integration will get it until its api_version is raised, so the events wait in
             * Kafka for that (a restart of sluice-deliver, which does not reload) instead of filling the dead-letter
             * topic: WAIT, since as a plain retry each batch went to the DLQ after its retry.max_attempts (about a
             * minute). */
            snprintf(why, why_len,
                     "HTTP %ld (Meta error 2635: this api_version has expired; set the integration's api_version to "
                     "a current one and restart sluice-deliver: the events wait)",
                     status);
            v = SLUICE_VERDICT_WAIT;
        }
    }
    json_decref(root);
    return v;
}

/* Meta refuses the whole request when one event in it has a bad parameter: HTTP 400, error code
 * 100 ("Invalid parameter", OAuthException) with an error_subcode of the Conversions API's
 * 2804xxx family ("Server-side API parameter error", e.g. 2804019 "The parameter
 * $['data'][0]['event_time'] is required", 2804003 "Event Timestamp Too Old"), the
 * error_user_msg naming the event as $['data'][N]. Those belong to one event's data; code 100
 * without such a subcode (a pixel that does not exist, a bad access_token parameter), 190, 2635,
 * throttling and 5xx belong to the request. */
static int per_event(long status, const char *body, size_t len)
{
    if (status != 400)
        return 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *error = json_object_get(root, "error");
    json_t *code = json_object_get(error, "code"), *sub = json_object_get(error, "error_subcode");
    int yes = json_is_integer(code) && json_integer_value(code) == 100 && json_is_integer(sub) &&
              json_integer_value(sub) >= 2804000 && json_integer_value(sub) <= 2804999 &&
              !json_is_true(json_object_get(error, "is_transient"));
    json_decref(root);
    return yes;
}

/* Reads text for Meta's name of an event of the request, $['data'][N] (error_user_msg: "The
 * parameter $['data'][17]['custom_data']['currency'] is invalid."): *at gets N when every such
 * name in text is one and the same N. Returns 1 then, 0 when text names none, -1 when it names two
 * places or one that is not a plain number below n (a value the message quotes can hold the same
 * characters: it never passes for an index). */
static int named_place(const char *text, size_t n, long *at)
{
    static const char mark[] = "$['data'][";
    int found = 0;
    for (const char *p = text; (p = strstr(p, mark)) != NULL;) {
        p += sizeof(mark) - 1;
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 9 || p[digits] != ']')
            return -1;
        long k = strtol(p, NULL, 10);
        if ((size_t)k >= n || (found && k != *at))
            return -1;
        *at = k;
        found = 1;
        p += digits;
    }
    return found;
}

/* Meta's per-event refusal names the event it refused by its place in the request's data
 * (error_user_msg, sometimes error_data): that place, or -1 when the answer names none, more than
 * one, or one outside the request (the worker then halves the batch). */
static long refused_at(const char *body, size_t len, size_t n)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *error = json_object_get(root, "error");
    const char *texts[] = {json_string_value(json_object_get(error, "error_user_msg")),
                           json_string_value(json_object_get(error, "error_data"))};
    long at = -1, k = -1;
    int named = 0;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        int r = texts[i] != NULL ? named_place(texts[i], n, &k) : 0;
        if (r < 0 || (r > 0 && named && k != at)) {
            named = -1;
            break;
        }
        if (r > 0) {
            at = k;
            named = 1;
        }
    }
    json_decref(root);
    return named == 1 ? at : -1;
}

const sluice_vendor_ops_t sluice_vendor_meta = {
    .name = "meta",
    .kind = SLUICE_VENDOR_META,
    .secret_required = secret_required,
    .secret_optional = NULL,
    .needs_secret = sluice_vendor_needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .per_event = per_event,
    .refused_at = refused_at,
    .request_overhead = 64,
    .max_age_ms = META_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .options = options,
    .batch_events = 1000,
    .batch_events_max = 1000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 10000000,
    .fields_root = "custom_data",
};

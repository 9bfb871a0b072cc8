/*
 * The vendor registry (built from vendors/vendors.def) and the helpers the vendor files share:
 * JSON output, standard event names, URLs, secret validation, default HTTP classification.
 * Reentrant; any thread.
 */
#include "vendors/vendor.h"

#include "json/numbers.h"
#include "json/write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/ct.h"

static const sluice_vendor_ops_t *const registry[] = {
#define SLUICE_VENDOR_DEF(KIND, name) [SLUICE_VENDOR_##KIND] = &sluice_vendor_##name,
#include "vendors/vendors.def"
#undef SLUICE_VENDOR_DEF
};

const sluice_vendor_ops_t *sluice_vendor_get(sluice_vendor_kind_t kind)
{
    if ((size_t)kind >= sizeof(registry) / sizeof(registry[0]))
        return NULL;
    return registry[kind];
}

const sluice_vendor_ops_t *sluice_vendor_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    }
    return NULL;
}

const char *sluice_vendor_names(void)
{
    /* ", meta, ga4, ..." built by the preprocessor; the first separator is skipped. */
    static const char names[] =
#define SLUICE_VENDOR_DEF(KIND, name) ", " #name
#include "vendors/vendors.def"
#undef SLUICE_VENDOR_DEF
        ;
    return names + 2;
}

void sluice_vendor_item_dispose(sluice_vendor_item_t *item)
{
    if (item == NULL)
        return;
    free(item->group);
    free(item->body);
    free(item->lead);
    memset(item, 0, sizeof(*item));
}

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    sluice_secure_zero(s, strlen(s));
    free(s);
}

void sluice_vendor_request_dispose(sluice_vendor_request_t *r)
{
    if (r == NULL)
        return;
    wipe_free(r->url);
    for (size_t i = 0; i < r->header_count; i++)
        wipe_free(r->headers[i]);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0)
            return 1;
    }
    return 0;
}

/* A vault member the vendor's options declare (secret: 1), with required set from them. */
static int secret_option(const sluice_vendor_ops_t *ops, const char *name, int *required)
{
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++) {
        if (ops->options[i].secret && strcmp(ops->options[i].name, name) == 0) {
            if (required != NULL)
                *required = ops->options[i].required;
            return 1;
        }
    }
    return 0;
}

int sluice_vendor_secret_in_request(const sluice_vendor_ops_t *ops, const char *member)
{
    for (size_t i = 0; ops != NULL && ops->options != NULL && ops->options[i].name != NULL; i++) {
        if (ops->options[i].secret && strcmp(ops->options[i].name, member) == 0)
            return !ops->options[i].key_only;
    }
    return 1;
}

static void list_names(const sluice_vendor_ops_t *ops, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    const char *const *lists[2] = {ops->secret_required, ops->secret_optional};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l] != NULL && lists[l][i] != NULL; i++) {
            int w = snprintf(buf + n, cap - n, "%s%s%s", n ? ", " : "", lists[l][i], l ? " (optional)" : "");
            if (w < 0 || (size_t)w >= cap - n)
                return;
            n += (size_t)w;
        }
    }
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++) {
        const sluice_vendor_option_t *o = &ops->options[i];
        if (!o->secret || in_list(ops->secret_required, o->name) || in_list(ops->secret_optional, o->name))
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s%s", n ? ", " : "", o->name, o->required ? "" : " (optional)");
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
}

int sluice_vendor_check_secret(const sluice_vendor_ops_t *ops, const char *json, size_t len, sluice_err_t *err)
{
    char names[256];
    list_names(ops, names, sizeof(names));
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        /* je.text could quote a piece of the secret: only the position is reported. */
        if (root == NULL)
            return sluice_err_set(err,
                                  "the secret is not valid JSON (line %d, column %d); %s expects an object with: %s",
                                  je.line, je.column, ops->name, names);
        return sluice_err_set(err, "the secret must be a JSON object; %s expects: %s", ops->name, names);
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!in_list(ops->secret_required, key) && !in_list(ops->secret_optional, key) &&
            !secret_option(ops, key, NULL)) {
            char shown[65];
            snprintf(shown, sizeof(shown), "%s", key);
            json_decref(root);
            return sluice_err_set(err, "the secret has an unknown member '%s'; %s expects: %s", shown, ops->name,
                                  names[0] ? names : "nothing");
        }
        if (!json_is_string(v) || json_string_length(v) == 0) {
            char shown[65];
            snprintf(shown, sizeof(shown), "%s", key);
            json_decref(root);
            return sluice_err_set(err, "the secret's member '%s' must be a non-empty string", shown);
        }
    }
    for (size_t i = 0; ops->secret_required != NULL && ops->secret_required[i] != NULL; i++) {
        if (json_object_get(root, ops->secret_required[i]) == NULL) {
            json_decref(root);
            return sluice_err_set(err, "the secret lacks '%s'; %s expects: %s", ops->secret_required[i], ops->name,
                                  names);
        }
    }
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++) {
        const sluice_vendor_option_t *o = &ops->options[i];
        if (o->secret && o->required && json_object_get(root, o->name) == NULL) {
            json_decref(root);
            return sluice_err_set(err, "the secret lacks '%s'; %s expects: %s", o->name, ops->name, names);
        }
    }
    json_decref(root);
    return 0;
}

char *sluice_vendor_dump(const json_t *v, size_t *len)
{
    sluice_jsonw_t w = {.flags = SLUICE_JSONW_RAW_NUMBERS};
    sluice_jsonw_value(&w, v);
    return sluice_jsonw_finish(&w, len);
}

void sluice_vendor_set_nonempty(json_t *obj, const char *key, json_t *value)
{
    if ((json_is_object(value) && json_object_size(value) > 0) || (json_is_array(value) && json_array_size(value) > 0))
        json_object_set_new(obj, key, value);
    else
        json_decref(value);
}

sluice_map_result_t sluice_vendor_item_body(json_t *ev, sluice_vendor_item_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    out->body = sluice_vendor_dump(ev, &out->body_len);
    json_decref(ev);
    if (out->body == NULL) {
        snprintf(why, why_len, "out of memory");
        return SLUICE_MAP_DEAD;
    }
    return SLUICE_MAP_OK;
}

typedef struct std_event {
    const char *segment;
    const char *meta, *ga4, *tiktok; /* NULL = no standard event */
} std_event_t;

/* Segment's e-commerce and lifecycle specs mapped onto the first vendors' standard events; later
 * vendors carry their own table (ops->standard_events). TikTok renamed CompletePayment to Purchase
 * and SubmitForm to Lead on 2025-05-01 ("How to adopt TikTok's updated standard events", May
 * 2025: the legacy names are converted on its side, new setups use the new ones, which the pixel
 * now sends), so the worker sends the current names. ClickButton is soft-deprecated there (sunset
 * in 2027) with no successor: kept until then. */
static const std_event_t std_events[] = {
    {"Products Searched", "Search", "search", "Search"},
    {"Product List Viewed", NULL, "view_item_list", NULL},
    {"Product Clicked", NULL, "select_item", "ClickButton"},
    {"Product Viewed", "ViewContent", "view_item", "ViewContent"},
    {"Product Added", "AddToCart", "add_to_cart", "AddToCart"},
    {"Product Removed", NULL, "remove_from_cart", NULL},
    {"Cart Viewed", NULL, "view_cart", NULL},
    {"Checkout Started", "InitiateCheckout", "begin_checkout", "InitiateCheckout"},
    {"Payment Info Entered", "AddPaymentInfo", "add_payment_info", "AddPaymentInfo"},
    {"Order Completed", "Purchase", "purchase", "Purchase"},
    {"Order Refunded", NULL, "refund", NULL},
    {"Product Added to Wishlist", "AddToWishlist", "add_to_wishlist", "AddToWishlist"},
    {"Signed Up", "CompleteRegistration", "sign_up", "CompleteRegistration"},
    {"Signed In", NULL, "login", NULL},
    {"Lead Generated", "Lead", "generate_lead", "Lead"},
    {"Subscription Started", "Subscribe", NULL, "Subscribe"},
};

const char *sluice_vendor_standard_event(sluice_vendor_kind_t kind, const char *segment_name)
{
    const sluice_vendor_ops_t *ops = sluice_vendor_get(kind);
    if (segment_name == NULL || ops == NULL)
        return NULL;
    for (size_t i = 0; ops->standard_events != NULL && ops->standard_events[i].segment != NULL; i++) {
        if (strcmp(ops->standard_events[i].segment, segment_name) == 0)
            return ops->standard_events[i].name;
    }
    for (size_t i = 0; i < sizeof(std_events) / sizeof(std_events[0]); i++) {
        if (strcmp(std_events[i].segment, segment_name) == 0) {
            switch (kind) {
            case SLUICE_VENDOR_META: return std_events[i].meta;
            case SLUICE_VENDOR_GA4: return std_events[i].ga4;
            case SLUICE_VENDOR_TIKTOK: return std_events[i].tiktok;
            default: return NULL;
            }
        }
    }
    return NULL;
}

char *sluice_vendor_url(const char *base, const char *path)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    size_t pl = strlen(path);
    char *s = malloc(bl + pl + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, base, bl);
    memcpy(s + bl, path, pl + 1);
    return s;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

/* value percent-encoded at s (room for 3 bytes per byte of it); returns the bytes written. */
static size_t percent_encode(char *s, const char *value, int dots)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const char *p = value; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_unreserved(c) && !(dots && c == '.')) {
            s[o++] = (char)c;
        } else {
            s[o++] = '%';
            s[o++] = hex[c >> 4];
            s[o++] = hex[c & 15];
        }
    }
    return o;
}

char *sluice_vendor_url_path(const char *base, const char *const *segs)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    size_t cap = bl + 1;
    for (size_t i = 0; segs[i] != NULL; i++)
        cap += 1 + 3 * strlen(segs[i]);
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    memcpy(s, base, bl);
    size_t o = bl;
    for (size_t i = 0; segs[i] != NULL; i++) {
        s[o++] = '/';
        /* A segment of dots alone is a dot segment, which libcurl (and the vendor's front end)
         * resolve against the path before it: encoded, it is a name like any other. */
        int dots = strspn(segs[i], ".") == strlen(segs[i]) && strlen(segs[i]) <= 2;
        o += percent_encode(s + o, segs[i], dots);
    }
    s[o] = '\0';
    return s;
}

int sluice_vendor_url_param(char **url, const char *name, const char *value)
{
    size_t ul = strlen(*url), nl = strlen(name), vl = strlen(value);
    char *s = malloc(ul + 1 + nl + 1 + vl * 3 + 1);
    if (s == NULL)
        return -1;
    memcpy(s, *url, ul);
    size_t o = ul;
    s[o++] = strchr(*url, '?') != NULL ? '&' : '?';
    memcpy(s + o, name, nl);
    o += nl;
    s[o++] = '=';
    o += percent_encode(s + o, value, 0);
    s[o] = '\0';
    wipe_free(*url);
    *url = s;
    return 0;
}

const char *sluice_vendor_check_category(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n)
        return "is not a consent category (letters, digits, '_', '-', '.')";
    return NULL;
}

int sluice_vendor_limited_data_use(const sluice_integration_t *it, const sluice_envelope_t *e)
{
    if (sluice_vendor_opt_bool(it, "limited_data_use"))
        return 1;
    const char *cat = sluice_vendor_opt(it, "limited_data_use_unless_consent");
    if (cat == NULL)
        return 0;
    /* Without the category the visitor has not allowed more than restricted processing: an
     * event that carries no consent at all is restricted too (fails closed). */
    size_t i;
    json_t *c;
    json_array_foreach(sluice_envelope_get(e, "context.consent.categories"), i, c) {
        if (json_is_string(c) && strcmp(json_string_value(c), cat) == 0)
            return 0;
    }
    return 1;
}

void sluice_vendor_set_str(json_t *obj, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0')
        json_object_set_new(obj, key, json_string(value));
}

const char *sluice_vendor_page(const sluice_envelope_t *e, const char *key)
{
    const char *v = json_string_value(json_object_get(sluice_envelope_get(e, "context.page"), key));
    if ((v == NULL || v[0] == '\0') && strcmp(e->type, "page") == 0)
        v = json_string_value(json_object_get(e->properties, key));
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int sluice_vendor_number(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        /* Decimal text only: strtod also reads "0x1A" (26), "inf" and "nan", which no client
         * writes as a price or a count. */
        size_t lead = strspn(s, " \t\n\v\f\r");
        if (strspn(s + lead, "0123456789+-.eE") != strlen(s + lead))
            return -1;
        char *end;
        double d = strtod(s, &end);
        if (end != s && *end == '\0') {
            *out = d;
            return 0;
        }
    }
    return -1;
}

/* 1 when a number's text has a fraction or an exponent. */
static int has_fraction(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
            return 1;
    return 0;
}

/* The text v was written as: the client's for a JSON number of e (json/numbers.h), a string's
 * own when it spells a JSON number; NULL otherwise (" 19.9" and "0x1A" are read by strtod and
 * formatted, as is a number the data layer made). */
static const char *number_text(const sluice_envelope_t *e, const json_t *v, size_t *n)
{
    if (json_is_number(v))
        return sluice_jsonnum_find(e != NULL ? e->nums : NULL, v, n);
    if (json_is_string(v) && sluice_json_is_number_text(json_string_value(v), json_string_length(v))) {
        /* Spelt as a number but beyond a double ("1e400"): written into a body as a number, the
         * vendor's parser refuses the whole batch. Such a string is no number (strtod: inf). */
        double d = strtod(json_string_value(v), NULL);
        if (!isfinite(d))
            return NULL;
        *n = json_string_length(v);
        return json_string_value(v);
    }
    return NULL;
}

int sluice_vendor_quantity(const json_t *v, json_int_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > SLUICE_VENDOR_MAX_QUANTITY)
            return -1;
        *out = i;
        return 0;
    }
    double d;
    /* Range-checked before the cast: converting a double outside int64 (1e21, inf) or NaN is
     * undefined behaviour. The negated test is false for NaN too. */
    if (sluice_vendor_number(v, &d) != 0 || !(d >= 0 && d < SLUICE_VENDOR_MAX_QUANTITY + 1.0))
        return -1;
    *out = (json_int_t)d;
    return 0;
}

json_int_t sluice_vendor_quantity_add(json_int_t sum, json_int_t q)
{
    /* Both are at most the maximum (q from sluice_vendor_quantity), so the test cannot overflow. */
    return sum > SLUICE_VENDOR_MAX_QUANTITY - q ? SLUICE_VENDOR_MAX_QUANTITY : sum + q;
}

json_int_t sluice_vendor_put_quantity(const sluice_envelope_t *e, json_t *content, const json_t *product,
                                      json_int_t sum)
{
    json_t *v = json_object_get(product, "quantity"), *q = sluice_vendor_number_json(e, v, 1);
    if (q != NULL)
        json_object_set_new(content, "quantity", q);
    json_int_t n;
    return sluice_vendor_quantity(v, &n) == 0 ? sluice_vendor_quantity_add(sum, n) : sum;
}

json_t *sluice_vendor_number_json(const sluice_envelope_t *e, const json_t *v, int integer)
{
    size_t n = 0;
    const char *text = number_text(e, v, &n);
    if (text != NULL && !(integer && has_fraction(text, n)))
        return sluice_json_number_text(text, n);
    if (json_is_integer(v))
        return json_integer(json_integer_value(v));
    if (integer) {
        json_int_t q;
        return sluice_vendor_quantity(v, &q) == 0 ? json_integer(q) : NULL;
    }
    double d;
    return sluice_vendor_number(v, &d) == 0 ? json_real(d) : NULL;
}

json_t *sluice_vendor_first_number(const sluice_envelope_t *e, const json_t *props, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        json_t *n = sluice_vendor_number_json(e, json_object_get(props, names[i]), 0);
        if (n != NULL)
            return n;
    }
    return NULL;
}

sluice_verdict_t sluice_vendor_classify_http(long status, char *why, size_t why_len)
{
    snprintf(why, why_len, "HTTP %ld", status);
    if (status >= 200 && status < 300)
        return SLUICE_VERDICT_OK;
    if (status == 408 || status == 425 || status == 429 || status >= 500)
        return SLUICE_VERDICT_RETRY;
    return SLUICE_VERDICT_FAIL;
}

sluice_verdict_t sluice_vendor_classify_json(long status, const json_t *root, const char *vendor, char *why,
                                             size_t why_len)
{
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    if (v == SLUICE_VERDICT_OK && !json_is_object(root)) {
        snprintf(why, why_len, "HTTP %ld without a JSON answer: not an answer from %s (a proxy?)", status, vendor);
        v = SLUICE_VERDICT_RETRY;
    }
    return v;
}

sluice_verdict_t sluice_vendor_classify_answer(long status, const char *body, size_t len, const char *vendor,
                                               json_t **root, char *why, size_t why_len)
{
    *root = json_loadb(body, len, 0, NULL);
    return status == 204 ? sluice_vendor_classify_http(status, why, why_len)
                         : sluice_vendor_classify_json(status, *root, vendor, why, why_len);
}

int sluice_vendor_join(const char *prefix, const sluice_vendor_item_t *const *items, size_t n, const char *suffix,
                       char **out, size_t *out_len)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), total = pl + sl + 1;
    for (size_t i = 0; i < n; i++)
        total += items[i]->body_len + 1 + (items[i]->lead != NULL ? items[i]->lead_len + 1 : 0);
    char *s = malloc(total);
    if (s == NULL)
        return -1;
    size_t o = 0;
    memcpy(s, prefix, pl);
    o += pl;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            s[o++] = ',';
        if (items[i]->lead != NULL) {
            memcpy(s + o, items[i]->lead, items[i]->lead_len);
            o += items[i]->lead_len;
            s[o++] = ',';
        }
        memcpy(s + o, items[i]->body, items[i]->body_len);
        o += items[i]->body_len;
    }
    memcpy(s + o, suffix, sl);
    o += sl;
    s[o] = '\0';
    *out = s;
    *out_len = o;
    return 0;
}

/* Appends "name=<form-encoded value>" (with '&' before all but the first). */
static int form_add(char **body, size_t *len, const char *name, const char *value)
{
    char *tmp = strdup("x");
    if (tmp == NULL || sluice_vendor_url_param(&tmp, name, value) != 0) {
        free(tmp);
        return -1;
    }
    /* tmp is "x?name=value": keep from the name on. */
    size_t add = strlen(tmp + 2), sep = *len > 0;
    char *nb = malloc(*len + sep + add + 1);
    if (nb == NULL) {
        wipe_free(tmp);
        return -1;
    }
    if (*len > 0)
        memcpy(nb, *body, *len);
    if (sep)
        nb[*len] = '&';
    memcpy(nb + *len + sep, tmp + 2, add + 1);
    wipe_free(tmp);
    if (*body != NULL)
        sluice_secure_zero(*body, *len);
    free(*body);
    *body = nb;
    *len += sep + add;
    return 0;
}

int sluice_vendor_oauth_refresh(const char *token_url, const char *client_id, const char *client_secret,
                                const char *refresh_token, sluice_vendor_request_t *out, sluice_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (client_id == NULL || client_secret == NULL || refresh_token == NULL)
        return sluice_err_set(err, "the vault secret lacks client_id, client_secret or refresh_token");
    out->url = strdup(token_url);
    if (out->url == NULL || form_add(&out->body, &out->body_len, "grant_type", "refresh_token") != 0 ||
        form_add(&out->body, &out->body_len, "client_id", client_id) != 0 ||
        form_add(&out->body, &out->body_len, "client_secret", client_secret) != 0 ||
        form_add(&out->body, &out->body_len, "refresh_token", refresh_token) != 0 ||
        (out->headers[out->header_count++] = strdup("Content-Type: application/x-www-form-urlencoded")) == NULL) {
        if (out->body != NULL)
            sluice_secure_zero(out->body, out->body_len);
        sluice_vendor_request_dispose(out);
        return sluice_err_set(err, "out of memory building a token request");
    }
    return 0;
}

sluice_verdict_t sluice_vendor_oauth_parse(long status, const char *body, size_t len, char **token, int64_t *ttl_s,
                                           char *why, size_t why_len)
{
    *token = NULL;
    *ttl_s = 0;
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    json_t *root = json_loadb(body, len, 0, NULL);
    if (v == SLUICE_VERDICT_OK) {
        json_t *t = json_object_get(root, "access_token"), *exp = json_object_get(root, "expires_in");
        if (!json_is_string(t) || json_string_length(t) == 0) {
            snprintf(why, why_len, "token: HTTP %ld without an access_token", status);
            v = SLUICE_VERDICT_RETRY;
        } else if ((*token = strdup(json_string_value(t))) == NULL) {
            snprintf(why, why_len, "token: out of memory");
            v = SLUICE_VERDICT_RETRY;
        } else {
            *ttl_s = json_is_integer(exp) && json_integer_value(exp) > 0 ? (int64_t)json_integer_value(exp) : 3600;
        }
        if (json_is_string(t))
            sluice_secure_zero((char *)json_string_value(t), json_string_length(t));
    } else {
        /* RFC 6749 error codes are fixed words, safe to show; anything else is not quoted. */
        const char *code = json_string_value(json_object_get(root, "error"));
        if (code != NULL && strlen(code) < 40 && strspn(code, "abcdefghijklmnopqrstuvwxyz_") == strlen(code))
            snprintf(why, why_len, "token: HTTP %ld (%s)", status, code);
        else
            snprintf(why, why_len, "token: HTTP %ld", status);
        /* RFC 6749 section 5.2: invalid_grant is a refresh token "invalid, expired, revoked",
         * invalid_client a client secret refused. Both are what the operator fixes with `vault
         * put`, so the worker reads the vault again instead of using the cached secret it holds
         * for credentials_ttl_s (every batch of those minutes went to the DLQ). */
        if (v == SLUICE_VERDICT_FAIL && code != NULL &&
            (strcmp(code, "invalid_grant") == 0 || strcmp(code, "invalid_client") == 0))
            v = SLUICE_VERDICT_AUTH;
    }
    json_decref(root);
    return v;
}

void sluice_vendor_time_google(int64_t ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S+00:00", &tm);
}

const char *sluice_vendor_amount_text(const sluice_envelope_t *e, const json_t *v, char buf[SLUICE_VENDOR_AMOUNT_CAP])
{
    size_t n = 0;
    const char *text = number_text(e, v, &n);
    if (text != NULL) /* of any length, and a C string already (json/numbers.h, jansson): no copy */
        return text;
    double d;
    if (sluice_vendor_number(v, &d) != 0 || !isfinite(d))
        return NULL; /* "inf" and "nan" are read by strtod but are no amount */
    if (json_is_integer(v))
        snprintf(buf, SLUICE_VENDOR_AMOUNT_CAP, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, SLUICE_VENDOR_AMOUNT_CAP, "%.15g", d);
    return buf;
}

void sluice_vendor_add_hash(json_t *obj, const char *key, const sluice_envelope_t *e, sluice_user_field_t f,
                            const char *variant, int as_array)
{
    const char *h = sluice_envelope_hashed(e, f, variant);
    if (h != NULL)
        json_object_set_new(obj, key, as_array ? json_pack("[s]", h) : json_string(h));
}

const char *sluice_vendor_id_text(const sluice_envelope_t *e, const json_t *v, char buf[SLUICE_VENDOR_ID_CAP])
{
    const char *s = json_string_value(v);
    if (s != NULL)
        return s[0] != '\0' ? s : NULL;
    if (!json_is_number(v))
        return NULL;
    /* The client's text: a whole number past 64 bits is a real to jansson but still the same id. */
    size_t n = 0;
    const char *text = sluice_jsonnum_find(e != NULL ? e->nums : NULL, v, &n);
    if (text != NULL) /* of any length, and a C string already (json/numbers.h): no copy */
        return has_fraction(text, n) ? NULL : text;
    if (json_is_integer(v)) {
        snprintf(buf, SLUICE_VENDOR_ID_CAP, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

const char *sluice_vendor_product_id(const sluice_envelope_t *e, const json_t *product, char buf[SLUICE_VENDOR_ID_CAP])
{
    static const char *const keys[] = {"product_id", "sku", "id"};
    for (size_t i = 0; i < 3; i++) {
        const char *id = sluice_vendor_id_text(e, json_object_get(product, keys[i]), buf);
        if (id != NULL)
            return id;
    }
    return NULL;
}

json_t *sluice_vendor_products(const sluice_envelope_t *e)
{
    json_t *products = json_object_get(e->properties, "products");
    if (json_is_array(products))
        return json_incref(products);
    json_t *list = json_array();
    char idbuf[SLUICE_VENDOR_ID_CAP];
    /* Only with a product id: a bare `name` or `price` makes no product. */
    if (list != NULL && sluice_vendor_product_id(e, e->properties, idbuf) != NULL)
        json_array_append(list, e->properties);
    return list;
}

const char *sluice_vendor_order_id(const sluice_envelope_t *e, char buf[SLUICE_VENDOR_ID_CAP])
{
    return sluice_vendor_id_text(e, json_object_get(e->properties, "order_id"), buf);
}

const char *sluice_vendor_currency(const sluice_envelope_t *e, char buf[SLUICE_VENDOR_CURRENCY_CAP])
{
    const char *c = json_string_value(json_object_get(e->properties, "currency"));
    if (c == NULL)
        return NULL;
    /* ISO 4217's alphabetic codes are three upper-case letters, and the vendors' references
     * give them so ("USD, EUR": Google Ads' and LinkedIn's currencyCode, GA4's currency
     * reference); data layers often hold them as "usd" (Stripe's API answers lower case). A
     * vendor matching the code against its list as written refuses "usd" or books the value
     * without a currency. Upper case is the one form every vendor takes. */
    size_t n = strlen(c), lead = strspn(c, " \t");
    while (n > lead && (c[n - 1] == ' ' || c[n - 1] == '\t'))
        n--;
    if (n - lead != 3)
        return c; /* not a code: as sent, the vendor judges it */
    for (size_t i = 0; i < 3; i++) {
        char ch = c[lead + i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return c;
        buf[i] = (char)(ch >= 'a' ? ch - 'a' + 'A' : ch);
    }
    buf[3] = '\0';
    return buf;
}

/* Where an event's value is, in this order: one list for the vendors that take it as a number
 * (sluice_vendor_value_json) and those that take its text (sluice_vendor_value_text). */
static const char *const value_names[] = {"value", "revenue", "total", NULL};

const char *sluice_vendor_value_text(const sluice_envelope_t *e, char buf[SLUICE_VENDOR_AMOUNT_CAP])
{
    for (size_t i = 0; value_names[i] != NULL; i++) {
        const char *t = sluice_vendor_amount_text(e, json_object_get(e->properties, value_names[i]), buf);
        if (t != NULL)
            return t;
    }
    return NULL;
}

int sluice_vendor_needs_secret(const sluice_integration_t *it)
{
    (void)it;
    return 1;
}

int sluice_vendor_name_in(const char *const *names, const char *s)
{
    return in_list(names, s);
}

int sluice_vendor_too_old(const sluice_vendor_ops_t *ops, const sluice_envelope_t *e, int64_t now_ms, char *why,
                          size_t why_len)
{
    if (ops->max_age_ms <= 0 || now_ms - e->time_ms <= ops->max_age_ms)
        return 0;
    snprintf(why, why_len, "%s", ops->too_old);
    return 1;
}

json_t *sluice_vendor_value_json(const sluice_envelope_t *e)
{
    return sluice_vendor_first_number(e, e->properties, value_names);
}

void sluice_vendor_add_user_hashes(json_t *ud, const sluice_envelope_t *e)
{
    /* Meta's order, kept: the bodies' golden files pin it. */
    static const struct {
        const char *key;
        sluice_user_field_t f;
    } fields[] = {
        {"em", SLUICE_UF_EMAIL},
        {"ph", SLUICE_UF_PHONE},
        {"fn", SLUICE_UF_FIRST_NAME},
        {"ln", SLUICE_UF_LAST_NAME},
        {"ge", SLUICE_UF_GENDER},
        {"db", SLUICE_UF_BIRTHDAY},
        {"ct", SLUICE_UF_CITY},
        {"st", SLUICE_UF_STATE},
        {"zp", SLUICE_UF_ZIP},
        {"country", SLUICE_UF_COUNTRY},
        {"external_id", SLUICE_UF_EXTERNAL_ID},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        sluice_vendor_add_hash(ud, fields[i].key, e, fields[i].f, NULL, 1);
}

char *sluice_vendor_quoted(const char *before, const char *s, const char *after)
{
    json_t *js = json_string(s);
    char *q = js != NULL ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    if (q == NULL)
        return NULL;
    size_t n = strlen(before) + strlen(q) + strlen(after) + 1;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%s%s%s", before, q, after);
    free(q);
    return out;
}

const char *sluice_vendor_access_token(const json_t *secret, const char *vendor, sluice_vendor_request_t *out,
                                       sluice_err_t *err)
{
    memset(out, 0, sizeof(*out));
    const char *token = json_string_value(json_object_get(secret, "access_token"));
    if (token == NULL)
        sluice_err_set(err, "%s: the vault secret has no access_token", vendor);
    return token;
}

/* "name: <prefix><value>" appended to r; the one place a request's header is made. */
static int request_header(sluice_vendor_request_t *r, const char *name, const char *prefix, const char *value)
{
    if (r->header_count >= SLUICE_VENDOR_MAX_HEADERS)
        return -1;
    size_t n = strlen(name) + strlen(prefix) + strlen(value) + 3;
    char *s = malloc(n);
    if (s == NULL)
        return -1;
    /* libcurl sends no header for "Name: " with nothing but blanks after the colon (that form
     * removes a header of its own): a webhook's `headers: {X-Env: ""}` never reached the
     * receiver. "Name;" is its way to send the header with an empty value (blanks round a value
     * are no part of it in HTTP). */
    if (prefix[strspn(prefix, " \t")] == '\0' && value[strspn(value, " \t")] == '\0')
        snprintf(s, n, "%s;", name);
    else
        snprintf(s, n, "%s: %s%s", name, prefix, value);
    r->headers[r->header_count++] = s;
    return 0;
}

int sluice_vendor_request_header(sluice_vendor_request_t *r, const char *name, const char *value)
{
    return request_header(r, name, "", value);
}

int sluice_vendor_request_bearer(sluice_vendor_request_t *r, const char *token)
{
    return request_header(r, "Authorization", "Bearer ", token);
}

size_t sluice_vendor_refused_list(const char *body, size_t len, const char *key,
                                  int (*is_refused)(const json_t *result), size_t n, unsigned char *out)
{
    json_t *root = json_loadb(body, len, 0, NULL), *results = json_object_get(root, key), *r;
    size_t i, k = 0;
    if (json_array_size(results) == n) {
        json_array_foreach(results, i, r) {
            if (is_refused(r)) {
                out[i] = 1;
                k++;
            }
        }
    }
    json_decref(root);
    return k;
}

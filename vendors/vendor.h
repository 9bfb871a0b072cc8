/*
 * The vendor interface: what each compiled-in vendor (vendors/<name>.c, listed once in
 * vendors/vendors.def) provides to the delivery worker, sluicectl and the tests.
 *
 * A delivery goes through three steps, all pure functions of their inputs:
 *   1. map: one envelope → the vendor's form of that event (an item), or "skip" (the vendor has
 *      no use for this event type), or "dead" (the vendor would refuse it, e.g. too old; it goes
 *      to the dead-letter topic on its own instead of failing a whole batch);
 *   2. build: a batch of items that share a group (the request-level fields: GA4's client) plus
 *      the vault secret → URL, headers and body of one HTTP request;
 *   3. classify: the vendor's answer → ok, retry later, or failed for good.
 *
 * Secrets: the request's URL and headers may carry the vault secret (Meta's and GA4's query
 * parameters, TikTok's Access-Token): sluice_vendor_request_dispose wipes them. Error texts
 * never contain secrets or event values.
 *
 * Config: each vendor declares its options (sluice_vendor_option_t); vendors/options.c installs
 * this registry into config/ (sluice_config_set_vendors) when the library is linked, so loading
 * a config checks every integration's vendor keys with file:line:col errors.
 *
 * Threading: the descriptors are immutable; every function is reentrant.
 */
#ifndef SLUICE_VENDORS_VENDOR_H
#define SLUICE_VENDORS_VENDOR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "vendors/envelope.h"

/* The kinds, in vendors.def order: SLUICE_VENDOR_META = 0, ... (config/ only sees ints). */
enum {
#define SLUICE_VENDOR_DEF(KIND, name) SLUICE_VENDOR_##KIND,
#include "vendors/vendors.def"
#undef SLUICE_VENDOR_DEF
};

/* "meta" → its kind; -1 when unknown. */
int sluice_vendor_kind_parse(const char *name);
/* The kind's name, "unknown" when out of range. */
const char *sluice_vendor_kind_name(sluice_vendor_kind_t v);

/* ---------------------------------------------------------------- a vendor's config map */

typedef enum sluice_vopt_type {
    SLUICE_VOPT_STRING = 0, /* any scalar, kept as written (a plain 1234 stays "1234") */
    SLUICE_VOPT_BOOL,       /* true / false */
    SLUICE_VOPT_UINT,       /* an unsigned integer in [min, max] */
    SLUICE_VOPT_HEADERS,    /* a map of HTTP header names to values; credential-like names refused */
} sluice_vopt_type_t;

/* One option an integration of this vendor takes in the YAML (the keys next to `vendor:`),
 * or, with secret set, one member of its vault secret (never in the file: written there it is
 * refused as a secret written inline). Lists end with an entry whose name is NULL. */
typedef struct sluice_vendor_option {
    const char *name;
    sluice_vopt_type_t type;
    int required;
    const char *def;                     /* default, as it would be written ("v21.0", "false", "100"); NULL = none */
    int secret;                          /* a vault member, not a YAML key */
    int key_only;                        /* secret: used only as key bytes (an HMAC key), never in a request */
    unsigned long long min, max;         /* UINT range */
    const char *(*check)(const char *s); /* STRING: NULL when fine, else a reason ("is not ...") */
    const char *inline_hint;             /* HEADERS: what to do instead of a credential header (message tail) */
} sluice_vendor_option_t;

/* The option's value for integration it: the file's, else the default; NULL when neither (or
 * the option is unknown to the vendor). Borrowed from the loaded config. */
const char *sluice_vendor_opt(const sluice_integration_t *it, const char *name);
int sluice_vendor_opt_bool(const sluice_integration_t *it, const char *name);
unsigned long long sluice_vendor_opt_uint(const sluice_integration_t *it, const char *name);
/* A HEADERS option's pairs; *n = 0 and NULL when unset. */
const sluice_kv_t *sluice_vendor_opt_headers(const sluice_integration_t *it, const char *name, size_t *n);

typedef enum sluice_map_result {
    SLUICE_MAP_OK = 0,   /* *out holds the item */
    SLUICE_MAP_SKIP = 1, /* nothing to send for this event (e.g. identify to Meta): done */
    SLUICE_MAP_DEAD = 2, /* the vendor would refuse it: dead-letter it, reason in why */
} sluice_map_result_t;

/* One event in the vendor's form. */
typedef struct sluice_vendor_item {
    char *group; /* request-level JSON members shared by a batch, without braces
                    ("\"client_id\":\"1.2\""); NULL when the vendor batches all events together */
    char *body;  /* the event, compact JSON */
    size_t body_len;
    /* Another event of the vendor's sent right before body in the same request, compact JSON
     * (GA4's campaign_details, which sets the campaign of the client's events from its time on);
     * NULL when none. It counts as one more event and its bytes against the batch's limits, and
     * mapping.fields never touch it. */
    char *lead;
    size_t lead_len;
} sluice_vendor_item_t;

void sluice_vendor_item_dispose(sluice_vendor_item_t *item);

#define SLUICE_VENDOR_MAX_HEADERS 24
/* The most headers a HEADERS option holds: a request's room less the ones a vendor adds itself
 * (the webhook's Content-Type and its two signature headers). The config refuses more, which the
 * webhook dropped without a word. */
#define SLUICE_VENDOR_MAX_OPT_HEADERS (SLUICE_VENDOR_MAX_HEADERS - 3)

/* One HTTP POST. Owns its strings. */
typedef struct sluice_vendor_request {
    char *url;                                /* may hold a secret */
    char *headers[SLUICE_VENDOR_MAX_HEADERS]; /* "Name: value"; may hold a secret */
    size_t header_count;
    char *body;
    size_t body_len;
} sluice_vendor_request_t;

/* Wipes URL and headers, frees everything, zeroes r. NULL is allowed. */
void sluice_vendor_request_dispose(sluice_vendor_request_t *r);

typedef enum sluice_verdict {
    SLUICE_VERDICT_OK = 0,
    SLUICE_VERDICT_RETRY = 1, /* timeout, connection error, 5xx, 429, a vendor's "transient" code */
    SLUICE_VERDICT_FAIL = 2,  /* any other refusal: dead-letter */
    /* The vendor refused the credential (expired, revoked, replaced) in its own words rather than
     * with a 401: TikTok's HTTP 200 with code 40105, Meta's error 190 at HTTP 400, an OAuth2 token
     * endpoint's invalid_grant. The worker treats it as a 401: the cached vault secret is dropped
     * and the batch tried once more with the secret read again, then dead-lettered. Anything
     * other than the worker (sluicectl vendor check) takes it as a refusal. */
    SLUICE_VERDICT_AUTH = 3,
    /* Retry without counting the attempt against retry.max_attempts (retry.max_elapsed_s still
     * bounds it): every request of the integration gets this answer until an operator changes its
     * config (a retired api_version: Meta's 2635, LinkedIn's 426, Google Ads' UNSUPPORTED_VERSION),
     * so the events wait for that rather than each batch going to the DLQ after its few attempts. */
    SLUICE_VERDICT_WAIT = 4,
} sluice_verdict_t;

typedef struct sluice_vendor_ops {
    const char *name;
    sluice_vendor_kind_t kind;
    /* Members of the vault secret (a JSON object of strings): required ones, then optional. */
    const char *const *secret_required;
    const char *const *secret_optional;
    /* 1 when this integration needs its vault secret to build a request. */
    int (*needs_secret)(const sluice_integration_t *it);
    /* Step 1. now_ms is the wall clock (for age limits). why gets the reason of a DEAD. On OK the
     * caller disposes *out. */
    sluice_map_result_t (*map)(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len);
    /* Step 2. items[0..n) share `group` (may be NULL). secret is the parsed vault secret, NULL
     * when needs_secret says none. now_ms stamps signatures. Returns 0 (caller disposes *out),
     * or -1 with a message in err. */
    int (*build)(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err);
    /* Step 3, for an HTTP answer (status >= 100). why gets "HTTP 400" plus the vendor's numeric
     * error code when it gives one; never the body itself. */
    sluice_verdict_t (*classify)(long status, const char *body, size_t len, char *why, size_t why_len);
    /* For a 2xx that classify failed because it refused part of the batch: sets refused[i] = 1
     * for each event i (its place in the request, 0..n) the answer names as refused, and returns
     * how many; 0 when the answer does not say which (the whole batch is then dead-lettered).
     * NULL for vendors that refuse a request whole (Meta, TikTok). */
    size_t (*refused)(const char *body, size_t len, size_t n, unsigned char *refused);
    /* For an answer classify failed whole (SLUICE_VERDICT_FAIL) from a vendor that refuses a
     * request for one bad event in it (Meta, TikTok): 1 when the reason belongs to an event's
     * data (a parameter the vendor refuses), not to the request (credential, pixel, permission,
     * rate, server). The worker then splits the batch in halves and sends them, so the good
     * events are delivered and only the refused ones are dead-lettered. NULL: never split. */
    int (*per_event)(long status, const char *body, size_t len);
    /* For such an answer (per_event said 1) to a request of n events: the place (0..n) of the one
     * event the answer names as the one it refused (Meta's $['data'][N]); -1 when it names none,
     * two, one outside the request, or cannot be read. The worker then dead-letters that event
     * alone and sends the others again in one request, rather than halving the batch (log2(n)
     * more requests). NULL: the vendor never names it (the batch is halved). */
    long (*refused_at)(const char *body, size_t len, size_t n);
    /* Bytes a request adds around its events, for batch sizing. */
    size_t request_overhead;
    /* The vendor's config map: YAML options and vault members (see sluice_vendor_option_t). */
    const sluice_vendor_option_t *options;
    /* Per-request limits the platform publishes: default and maximum batch.max_events and
     * batch.max_bytes. */
    unsigned batch_events, batch_events_max;
    size_t batch_bytes, batch_bytes_max;
    /* Where `mapping.fields` and `mapping.set` write inside the vendor's event object ("custom_data");
     * NULL = the event object itself. */
    const char *fields_root;
    /* The oldest event the platform takes (ms before now; 0: no limit) and the dead letter's
     * reason for one past it. map() refuses such an event; the worker checks again before every
     * attempt, since an event mapped just inside the window leaves it while its batch waits for a
     * retry, and Meta then refused the whole request (every fresh event of the batch with it). */
    int64_t max_age_ms;
    const char *too_old;
    /* The gateway's hash variant this vendor reads ("google", "tiktok"; NULL = the default). */
    const char *hash_variant;
    /* OAuth2 vendors (Google Ads): the request that trades the vault secret for a short-lived
     * access token, and the reading of its answer (OK with *token, which the caller wipes and
     * frees, and its lifetime; RETRY or FAIL with why, never quoting the body). The worker
     * caches the token per integration until shortly before it expires, drops it on an HTTP
     * 401, and gives it to build() as the secret's member "access_token". NULL for vendors
     * whose vault secret is sent as it is. */
    int (*token_request)(const sluice_integration_t *it, const json_t *secret, sluice_vendor_request_t *out,
                         sluice_err_t *err);
    sluice_verdict_t (*token_parse)(long status, const char *body, size_t len, char **token, int64_t *ttl_s, char *why,
                                    size_t why_len);
    /* `sluicectl vendor check`: the request of build() in the platform's validation mode (nothing
     * is recorded), or NULL when the platform has none. */
    int (*build_check)(const sluice_integration_t *it, const json_t *secret, const char *group,
                       const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                       sluice_err_t *err);
    /* Segment event names → the vendor's standard events (ends with a NULL segment); NULL for
     * the first vendors, whose names are in vendor.c. */
    const struct sluice_vendor_std_event {
        const char *segment, *name;
    } * standard_events;
} sluice_vendor_ops_t;

#define SLUICE_VENDOR_DEF(KIND, name) extern const sluice_vendor_ops_t sluice_vendor_##name;
#include "vendors/vendors.def"
#undef SLUICE_VENDOR_DEF

/* How many vendors are compiled in (kinds are 0..SLUICE_VENDOR_COUNT-1). */
enum {
    SLUICE_VENDOR_COUNT = 0
#define SLUICE_VENDOR_DEF(KIND, name) +1
#include "vendors/vendors.def"
#undef SLUICE_VENDOR_DEF
};

/* The descriptor of a vendor kind (never NULL for a valid kind), or by name ("meta"; NULL
 * when unknown). */
const sluice_vendor_ops_t *sluice_vendor_get(sluice_vendor_kind_t kind);
const sluice_vendor_ops_t *sluice_vendor_find(const char *name);

/* 0 when the vault member `member` of ops's secret is used only as key bytes (an option with
 * key_only: the webhook's HMAC key), so no byte of it is written into a request; else 1 (an
 * unknown member, or ops NULL, too). The refusal of control characters in stored secrets, there
 * to keep them out of header lines, spares those: a signing key is whatever bytes the receiver
 * holds, newlines included. */
int sluice_vendor_secret_in_request(const sluice_vendor_ops_t *ops, const char *member);

/* Step 1 with the integration's mapping applied: the event renamed before ops->map, then the
 * mapped and constant fields set in the item (docs/vendors.md, "Event mapping"). */
sluice_map_result_t sluice_vendor_map(const sluice_vendor_ops_t *ops, const sluice_integration_t *it,
                                      const sluice_envelope_t *e, int64_t now_ms, sluice_vendor_item_t *out, char *why,
                                      size_t why_len);

/* "meta, ga4, tiktok, webhook" (static storage), for usage texts. */
const char *sluice_vendor_names(void);

/* Checks that json[0..len) is a JSON object whose members are exactly strings the vendor knows,
 * with every required one present and non-empty. Returns 0, or -1 with a message naming the
 * offending member (never a value). */
int sluice_vendor_check_secret(const sluice_vendor_ops_t *ops, const char *json, size_t len, sluice_err_t *err);

/* ---------------------------------------------------------------- helpers for vendor files */

/* Compact JSON (json/write.h): numbers made by sluice_vendor_number_json as the client sent
 * them, other reals as their shortest text (19.99 stays 19.99). Caller frees; NULL on OOM. */
char *sluice_vendor_dump(const json_t *v, size_t *len);

/* Sets obj[key] = value (taking the reference) when value is a non-empty object or array, else
 * drops value: vendors want absent members rather than empty ones. */
void sluice_vendor_set_nonempty(json_t *obj, const char *key, json_t *value);

/* The end of a vendor's map(): the event ev (reference taken) becomes out's body.
 * Returns SLUICE_MAP_OK, or SLUICE_MAP_DEAD with "out of memory" in why. */
sluice_map_result_t sluice_vendor_item_body(json_t *ev, sluice_vendor_item_t *out, char *why, size_t why_len);

/* The vendor's standard event name for a Segment e-commerce / lifecycle event name
 * ("Order Completed" → Meta "Purchase", GA4 "purchase", TikTok "Purchase"); NULL when
 * the vendor has no standard event for it (the name is then sent as the vendor allows). */
const char *sluice_vendor_standard_event(sluice_vendor_kind_t kind, const char *segment_name);

/* base (trailing '/' dropped) + path into a new string. Caller frees. */
char *sluice_vendor_url(const char *base, const char *path);

/* base (trailing '/' dropped), then "/<segment>" for each of segs[] (NULL-terminated), each
 * percent-encoded as one path segment (all but RFC 3986's unreserved characters; "." and ".."
 * as "%2E" and "%2E%2E"), in a new string of whatever length it takes. For an operator's id in a
 * vendor's path (a pixel id): a fixed buffer cut a long one, and an id holding '/', '?', '#' or a
 * dot segment, written as it was, sent the org's token to another endpoint of the vendor (libcurl
 * resolves "/../"). Caller frees; NULL when out of memory. */
char *sluice_vendor_url_path(const char *base, const char *const *segs);

/* Appends "&name=<percent-encoded value>" (or "?" first) to *url, reallocating it; the old
 * buffer is wiped, since the value may be a secret. Returns 0, or -1 when out of memory. */
int sluice_vendor_url_param(char **url, const char *name, const char *value);

/* Sets a JSON member only when value is non-NULL (and, for strings, non-empty). */
void sluice_vendor_set_str(json_t *obj, const char *key, const char *value);

/* The page the event happened on: context.page.<key> ("url", "title", "referrer"), else, when
 * that is absent or empty, a page event's properties.<key> (Segment's page spec; the server
 * libraries send a page call's page only there). NULL when neither is a non-empty string; a
 * track event's properties are what it is about, never its page. Borrowed from e; any thread. */
const char *sluice_vendor_page(const sluice_envelope_t *e, const char *key);

/* A consent category as the org's consent config names them (docs/config.md, orgs[].consent):
 * NULL when fine, else the reason (an option's check). */
const char *sluice_vendor_check_category(const char *s);
/* 1 when e goes to it under the vendor's Limited Data Use (Meta, TikTok): the integration's
 * option limited_data_use is true, or limited_data_use_unless_consent names a category e does
 * not carry in context.consent.categories (a visitor who opted out of the sale or sharing of
 * their data). */
int sluice_vendor_limited_data_use(const sluice_integration_t *it, const sluice_envelope_t *e);

/* A number from a JSON number or a string of decimal text (leading blanks allowed: " 19.5"); -1
 * otherwise ("0x1A", "inf", "nan", "19,90", "$19.90" are no numbers). */
int sluice_vendor_number(const json_t *v, double *out);

/* The number at v (a JSON number of e, or a string holding one) for a vendor body, written as
 * the client wrote it (19.9 stays 19.9, 12345678901234567890 stays so): a price or a value is
 * the customer's figure, not a double's. With integer set (a quantity), a whole number's text is
 * still kept as written (-1 and 12345678901234567890 included: the vendor judges them), but a
 * number with a fraction or an exponent is cut to its integer part only when that is a count
 * (sluice_vendor_quantity: 2.5 → 2) and is left out otherwise (5e18, 1e21, "1e400", "nan").
 * NULL when v holds no number, or no usable quantity. New reference, for sluice_vendor_dump. */
json_t *sluice_vendor_number_json(const sluice_envelope_t *e, const json_t *v, int integer);

/* The largest product quantity counted: far beyond any real order, and small enough that a
 * vendor reading it (or a sum of them, capped here too) into a 32-bit integer keeps it. */
#define SLUICE_VENDOR_MAX_QUANTITY 1000000000

/* A product's quantity as a count: v a JSON number or numeric string whose integer part is in
 * 0..SLUICE_VENDOR_MAX_QUANTITY (2.5 counts 2). Returns 0 with *out, or -1 when v is no such
 * number (negative, too large for a count, not finite, not a number): it is then counted as
 * nothing rather than converted, which for 1e21 or NaN would be undefined behaviour. */
int sluice_vendor_quantity(const json_t *v, json_int_t *out);

/* *sum + q, saturating at SLUICE_VENDOR_MAX_QUANTITY: the quantities' sum (num_items, item_count)
 * never overflows, however many products an event lists. */
json_int_t sluice_vendor_quantity_add(json_int_t sum, json_int_t q);

/* Sets content's "quantity" to product's as sent (sluice_vendor_number_json; left out when it is
 * no count) and returns sum plus that count (sluice_vendor_quantity_add): a sum such as num_items
 * counts only real quantities, so 1e21 or -1 can neither overflow nor skew it. */
json_int_t sluice_vendor_put_quantity(const sluice_envelope_t *e, json_t *content, const json_t *product,
                                      json_int_t sum);

/* The first of props' members names[] (NULL-terminated) that holds a number, as
 * sluice_vendor_number_json gives it; NULL when none does. */
json_t *sluice_vendor_first_number(const sluice_envelope_t *e, const json_t *props, const char *const *names);

/* The default classification: 2xx ok; 408, 425, 429, 5xx retry; everything else failed. */
sluice_verdict_t sluice_vendor_classify_http(long status, char *why, size_t why_len);

/* sluice_vendor_classify_http for vendors that answer a JSON object, also on success: a 2xx whose
 * body (root, as parsed; NULL when it was not JSON) is not an object is retried, since a captive
 * portal's or a proxy's page, or an empty body, delivered nothing. vendor names the vendor in why. */
sluice_verdict_t sluice_vendor_classify_json(long status, const json_t *root, const char *vendor, char *why,
                                             size_t why_len);

/* sluice_vendor_classify_json of body[0..len) for vendors whose documentation shows a JSON success
 * body but not that they never answer 204 (Reddit, Snapchat): a 204 (no body by definition) is
 * taken as theirs (sluice_vendor_classify_http). *root gets the parsed body (NULL when it is not
 * JSON), for the vendor's error code; the caller decrefs it. */
sluice_verdict_t sluice_vendor_classify_answer(long status, const char *body, size_t len, const char *vendor,
                                               json_t **root, char *why, size_t why_len);

/* An OAuth2 refresh-token grant (RFC 6749 section 6) to token_url as a form POST. The body holds
 * the client secret and refresh token: the worker wipes it. Returns 0, or -1 with err set. */
int sluice_vendor_oauth_refresh(const char *token_url, const char *client_id, const char *client_secret,
                                const char *refresh_token, sluice_vendor_request_t *out, sluice_err_t *err);

/* The token endpoint's answer: 2xx {"access_token", "expires_in"} → OK; 429 and 5xx → RETRY;
 * {"error": "invalid_grant"} (a revoked or expired refresh token) or "invalid_client" (a client
 * secret replaced) → AUTH; other refusals → FAIL; with the OAuth error code in why. */
sluice_verdict_t sluice_vendor_oauth_parse(long status, const char *body, size_t len, char **token, int64_t *ttl_s,
                                           char *why, size_t why_len);

/* "YYYY-MM-DD hh:mm:ss+00:00" (Google Ads' conversion time) of ms since the epoch, UTC. */
void sluice_vendor_time_google(int64_t ms, char *out, size_t cap);

/* The number at v (a JSON number of e, or a numeric string) as the text vendors that take
 * amounts as strings get (Pinterest, LinkedIn): the client's text when there is one, of any
 * length ("19.90", "1e21", "-0", "12345678901234567890", a 64-digit fraction, a 400-digit price
 * stay so: the table's or the string's own bytes, NUL-terminated, not copied), else a number the
 * gateway made, formatted into buf (an integer exactly, a real with 15 significant digits).
 * Returns the text, or NULL when v holds no finite number ("1e400" as a string: strtod's inf).
 * The text lives until e->nums next changes (no vendor adds to it while mapping) or buf is
 * reused: copy it before either. */
#define SLUICE_VENDOR_AMOUNT_CAP 32
const char *sluice_vendor_amount_text(const sluice_envelope_t *e, const json_t *v, char buf[SLUICE_VENDOR_AMOUNT_CAP]);

/* obj[key] = the gateway's hash of field f in variant (NULL: default), as a one-element array
 * when as_array; nothing when the event carries no hash of it. */
void sluice_vendor_add_hash(json_t *obj, const char *key, const sluice_envelope_t *e, sluice_user_field_t f,
                            const char *variant, int as_array);

/* Room for an integer formatted by sluice_vendor_id_text (a client's text is not copied). */
#define SLUICE_VENDOR_ID_CAP 24

/* An id at v (an order_id, a product's id): a non-empty string as it is, or a whole number
 * (Shopify's and many data layers' `order_id: 50314`) as the client wrote it, of any length
 * (12345678901234567890 included; the envelope's text, valid while e is), or an integer without a
 * text formatted in buf: vendors take ids as strings, and a catalog's or a shop's numeric id is
 * the same id spelt without quotes. NULL for anything else (a fraction or an exponent is no id).
 * e may be NULL (an integer is then formatted). */
const char *sluice_vendor_id_text(const sluice_envelope_t *e, const json_t *v, char buf[SLUICE_VENDOR_ID_CAP]);

/* A product of e's: its product_id, else sku, else id, as sluice_vendor_id_text reads them. NULL
 * when none. */
const char *sluice_vendor_product_id(const sluice_envelope_t *e, const json_t *product, char buf[SLUICE_VENDOR_ID_CAP]);

/* The event's products: properties.products, or for a single-product event (Segment's Product
 * Viewed, Product Added...: no products[] list and a product id in properties itself) a list
 * holding properties. A new reference (an empty array when there are none); NULL when memory runs
 * out. */
json_t *sluice_vendor_products(const sluice_envelope_t *e);

/* properties.order_id as sluice_vendor_id_text reads it; NULL when the event has none. */
const char *sluice_vendor_order_id(const sluice_envelope_t *e, char buf[SLUICE_VENDOR_ID_CAP]);

/* properties.currency for a vendor: a code of three ASCII letters in any case, blanks around it
 * allowed ("usd", " Eur "), upper-cased as ISO 4217 writes it ("USD", in buf); any other string
 * as sent; NULL when the event has none. */
#define SLUICE_VENDOR_CURRENCY_CAP 4
const char *sluice_vendor_currency(const sluice_envelope_t *e, char buf[SLUICE_VENDOR_CURRENCY_CAP]);

/* The event's value as sluice_vendor_amount_text gives it: properties.value, else revenue, else
 * total. NULL when none holds a number. */
const char *sluice_vendor_value_text(const sluice_envelope_t *e, char buf[SLUICE_VENDOR_AMOUNT_CAP]);

/* Joins items into "<prefix><item>,<item>...<suffix>" (prefix and suffix literal); an item's lead
 * goes right before it ("<lead>,<item>"). */
int sluice_vendor_join(const char *prefix, const sluice_vendor_item_t *const *items, size_t n, const char *suffix,
                       char **out, size_t *out_len);

/* ------------------------------------------- what the conversions APIs' files share
 * (meta, tiktok, google_ads, pinterest, snapchat, linkedin, reddit, webhook): one copy each, so a
 * fix reaches every vendor. */

/* needs_secret for vendors that always send a vault secret (all but the webhook). */
int sluice_vendor_needs_secret(const sluice_integration_t *it);

/* 1 when s is one of names[] (NULL-terminated; NULL names: none), compared exactly: a vendor's
 * own event names, taken as they are. */
int sluice_vendor_name_in(const char *const *names, const char *s);

/* 1 when e is older than ops->max_age_ms at now_ms (0: no limit), with ops->too_old in why: the
 * age check of map(), the same the worker makes before each attempt. */
int sluice_vendor_too_old(const sluice_vendor_ops_t *ops, const sluice_envelope_t *e, int64_t now_ms, char *why,
                          size_t why_len);

/* The event's value (properties.value, else revenue, else total: sluice_vendor_value_text's
 * names) as sluice_vendor_number_json gives it; NULL when none holds a number. New reference. */
json_t *sluice_vendor_value_json(const sluice_envelope_t *e);

/* The person's default-variant hashes under the keys of Meta's user_data, which Snapchat and
 * Pinterest took over (em, ph, fn, ln, ge, db, ct, st, zp, country, external_id), each as a
 * one-element array; a field the event has no hash of is left out. */
void sluice_vendor_add_user_hashes(json_t *ud, const sluice_envelope_t *e);

/* before + s as a JSON string + after, in a new string the caller frees; NULL when out of
 * memory. For an operator's value written into a request (a test code, a pixel code): quoted and
 * escaped whatever its length, never cut short into broken JSON. */
char *sluice_vendor_quoted(const char *before, const char *s, const char *after);

/* The start of build() for a vendor whose vault secret is {"access_token": …}: zeroes *out and
 * returns the token (borrowed from secret), or NULL with "<vendor>: the vault secret has no
 * access_token" in err. */
const char *sluice_vendor_access_token(const json_t *secret, const char *vendor, sluice_vendor_request_t *out,
                                       sluice_err_t *err);

/* Appends the header "name: value" to r (owned by r: sluice_vendor_request_dispose wipes it, as
 * the value may be a secret). Returns 0, or -1 when out of memory or r holds
 * SLUICE_VENDOR_MAX_HEADERS already. */
int sluice_vendor_request_header(sluice_vendor_request_t *r, const char *name, const char *value);

/* sluice_vendor_request_header(r, "Authorization", "Bearer <token>"), for a token of any length
 * and with no copy of it left behind. */
int sluice_vendor_request_bearer(sluice_vendor_request_t *r, const char *token);

/* refused() for a 2xx answer that lists one result per event of the request, in its order, in
 * the array member key (Pinterest's "events", LinkedIn's "elements"): sets out[i] = 1 for each
 * result is_refused says so of, and returns how many; 0 when the list is missing or its length
 * is not n (the answer does not say which). */
size_t sluice_vendor_refused_list(const char *body, size_t len, const char *key,
                                  int (*is_refused)(const json_t *result), size_t n, unsigned char *out);

#endif

/*
 * GA4 Measurement Protocol (VENDORS.md, docs/vendors.md):
 *   POST {base_url}/mp/collect?measurement_id=…&api_secret=…
 *   body {client_id, user_id?, user_data?, consent?, user_location?, events:[{name, params, timestamp_micros}]}
 * One request speaks for one client, one consent choice and one place, so items are grouped by
 * (client_id, user_id, user_data, consent, user_location) and a batch holds at most 25 events of
 * one group. Every event carries its session (session_id, engagement_time_msec) and, where its own
 * parameters leave room, its page; one with a campaign goes after a campaign_details event (the
 * item's lead). Names and
 * parameters are cut to GA4's limits (40-character names of letters of any script, digits and
 * '_' starting with a letter; 100-character values, longer for page_location, page_referrer and page_title;
 * 25 parameters). user_data
 * uses the gateway's `google` hash variants. Events older than 72 hours (GA4 drops them
 * silently) are dead-lettered. Reentrant; the loop thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vendors/ga4.h"

#include "common/campaign.h"
#include "common/time.h"
#include "common/utf8.h"

#define GA4_MAX_AGE_MS (72LL * 3600 * 1000)
#define TOO_OLD        "event older than 72 hours (GA4 drops backdated events)"
#define GA4_NAME_MAX   40
#define GA4_NAME_BUF   (4 * GA4_NAME_MAX + 1) /* 40 characters of up to 4 bytes, and a NUL */
#define GA4_VALUE_MAX  100
/* GA4's longer limits for its page parameters (Analytics help, "Event collection limits"): a
 * landing URL's utm_campaign or gclid past the 100th character is the visit's campaign. */
#define GA4_LOCATION_MAX 1000
#define GA4_REFERRER_MAX 420
#define GA4_TITLE_MAX    300
#define GA4_MAX_PARAMS   25
#define GA4_MAX_ITEMS    200

static const char *const secret_required[] = {"api_secret", NULL};

/* A web stream's measurement id: "G-" and letters and digits (Admin > Data streams > the stream >
 * Measurement ID; "The measurement_id isn't your Stream ID", Measurement Protocol guide). GA4
 * answers a 2xx to any request it received, so events sent under the stream's numeric id, a
 * Universal Analytics "UA-" property or a Google tag's "GT-" id were counted delivered and lost. */
static const char *check_measurement_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 32 || strncmp(s, "G-", 2) != 0 ||
        strspn(s + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != n - 2)
        return "is not a GA4 measurement id (G- and letters and digits, e.g. G-ABC123XYZ9; not the stream's numeric "
               "id, a UA- or a GT- id: GA4 drops events sent with those without an error)";
    return NULL;
}

static const sluice_vendor_option_t options[] = {
    {.name = "measurement_id", .type = SLUICE_VOPT_STRING, .required = 1, .check = check_measurement_id},
    {.name = "ad_user_data_consent", .type = SLUICE_VOPT_STRING, .check = sluice_vendor_check_category},
    {.name = "api_secret", .secret = 1, .required = 1},
    {.name = NULL},
};

static int needs_secret(const sluice_integration_t *it)
{
    (void)it;
    return 1;
}

/* Prefixes GA4 reserves for its own event and parameter names: a name using one is dropped
 * without a word (the endpoint answers 2xx to everything). */
static int reserved_prefix(const char *s)
{
    return strncmp(s, "firebase_", 9) == 0 || strncmp(s, "ga_", 3) == 0 || strncmp(s, "google_", 7) == 0;
}

/* Event names the Measurement Protocol reference reserves: GA4 drops such an event silently. */
static int reserved_event(const char *name)
{
    static const char *const names[] = {"ad_activeview",
                                        "ad_click",
                                        "ad_exposure",
                                        "ad_impression",
                                        "ad_query",
                                        "ad_reward",
                                        "adunit_exposure",
                                        "app_background",
                                        "app_clear_data",
                                        "app_exception",
                                        "app_remove",
                                        "app_store_refund",
                                        "app_store_subscription_cancel",
                                        "app_store_subscription_convert",
                                        "app_store_subscription_renew",
                                        "app_update",
                                        "app_upgrade",
                                        "dynamic_link_app_open",
                                        "dynamic_link_app_update",
                                        "dynamic_link_first_open",
                                        "error",
                                        "first_open",
                                        "first_visit",
                                        "in_app_purchase",
                                        "notification_dismiss",
                                        "notification_foreground",
                                        "notification_open",
                                        "notification_receive",
                                        "os_update",
                                        "session_start",
                                        "session_start_with_rollout",
                                        "user_engagement",
                                        NULL};
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], name) == 0)
            return 1;
    }
    return 0;
}

/* A GA4 name: letters, digits and '_' only, starting with a letter, at most 40 characters.
 * Letters and digits of any script count ("Event names can include English and non-English words
 * and letters", Analytics help 13316687, "Event naming rules"): a Japanese site's "購入完了" stays
 * itself, where each of its bytes once became '_' and every name in a non-Latin script came out
 * as "e_" and underscores, one GA4 event for all of them. Other characters become '_' (one per
 * character, not per byte); a name not starting with a letter, or starting with a prefix GA4
 * reserves (ga_, google_, firebase_), gets an "e_" prefix. out holds up to 40 characters. */
static void ga4_name(const char *in, char out[GA4_NAME_BUF])
{
    char clean[GA4_NAME_BUF];
    size_t n = 0, chars = 0, len = strlen(in);
    size_t ends[GA4_NAME_MAX + 1]; /* ends[k]: bytes of clean holding its first k characters */
    ends[0] = 0;
    int first_letter = 0;
    for (size_t i = 0; i < len && chars < GA4_NAME_MAX;) {
        unsigned char c = (unsigned char)in[i];
        size_t k = sluice_utf8_char(in + i, len - i);
        int word = k > 1 ? sluice_unicode_word_kind(sluice_utf8_decode(in + i, k)) : 0;
        if (word > 2)
            word = 0; /* punctuation and spaces: not part of a GA4 name */
        if (i == 0)
            first_letter = isalpha(c) || word == 1;
        if (word) {
            memcpy(clean + n, in + i, k);
            n += k;
        } else {
            clean[n++] = (char)(c < 0x80 && (isalnum(c) || c == '_') ? c : '_');
            if (k == 0)
                k = 1; /* a byte that starts no character */
        }
        i += k;
        ends[++chars] = n;
    }
    clean[n] = '\0';
    /* Tested on the cleaned name: "ga-step" becomes "ga_step", reserved too. */
    size_t o = 0;
    if (!first_letter || reserved_prefix(clean)) {
        out[o++] = 'e';
        out[o++] = '_';
    }
    size_t keep = ends[chars < GA4_NAME_MAX - o ? chars : GA4_NAME_MAX - o]; /* the prefix counts in the 40 */
    memcpy(out + o, clean, keep);
    out[o + keep] = '\0';
}

/* The first max characters (not bytes) of a UTF-8 string. */
static json_t *ga4_value_max(const char *s, size_t max)
{
    return json_stringn(s, sluice_utf8_prefix_chars(s, strlen(s), max));
}

/* The first 100 characters: GA4's limit for a parameter's value. */
static json_t *ga4_value(const char *s)
{
    return ga4_value_max(s, GA4_VALUE_MAX);
}

/* 1 when s is <digits>.<digits>: a client id as gtag itself gives it (gtag('get', …,
 * 'client_id') answers "918273645.1700000000", the cookie without its GA1.1. prefix). */
static int bare_client_id(const char *s)
{
    size_t a = strspn(s, "0123456789");
    if (a == 0 || s[a] != '.')
        return 0;
    size_t b = strspn(s + a + 1, "0123456789");
    return b > 0 && s[a + 1 + b] == '\0';
}

/* `_ga` is GA1.1.<random>.<seconds>; GA4's client id is <random>.<seconds>. A site that sends the
 * client id gtag gave it (already <random>.<seconds>) means the same visitor: before, it was not
 * a cookie value, so the anonymous id went instead, and GA4 counted gtag's visitor and the
 * server's as two users that never joined. */
static int client_id_from_ga(const char *ga, char *out, size_t cap)
{
    if (bare_client_id(ga)) {
        int n = snprintf(out, cap, "%s", ga);
        return n > 0 && (size_t)n < cap ? 0 : -1;
    }
    const char *p = strchr(ga, '.');
    p = p ? strchr(p + 1, '.') : NULL;
    if (p == NULL || p[1] == '\0' || strchr(p + 1, '.') == NULL)
        return -1;
    int n = snprintf(out, cap, "%s", p + 1);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static json_t *item_of(const sluice_envelope_t *e, const json_t *p)
{
    json_t *it = json_object();
    char idbuf[SLUICE_VENDOR_ID_CAP];
    const char *id = sluice_vendor_product_id(e, p, idbuf);
    if (id != NULL)
        json_object_set_new(it, "item_id", ga4_value(id));
    const char *name = json_string_value(json_object_get(p, "name"));
    if (name != NULL)
        json_object_set_new(it, "item_name", ga4_value(name));
    json_t *n;
    if ((n = sluice_vendor_number_json(e, json_object_get(p, "price"), 0)) != NULL)
        json_object_set_new(it, "price", n);
    if ((n = sluice_vendor_number_json(e, json_object_get(p, "quantity"), 1)) != NULL)
        json_object_set_new(it, "quantity", n);
    if (json_object_get(it, "item_id") == NULL && json_object_get(it, "item_name") == NULL) {
        json_decref(it);
        return NULL;
    }
    return it;
}

/* 1 when s looks like a SHA-256 digest however the site wrote it: 64 hex digits in either case
 * (.NET's and Java's usual hex is upper case), or the 32 bytes in Base64 or base64url (43
 * characters, the last one carrying 2 bits, then an optional '='). GA4's policy forbids PII in
 * parameters, hashed or not. */
static int looks_like_digest(const char *s, size_t n)
{
    if (n == 64) {
        for (size_t i = 0; i < 64; i++) {
            if (!isxdigit((unsigned char)s[i]))
                return 0;
        }
        return 1;
    }
    if (n == 44 && s[43] == '=')
        n = 43;
    if (n != 43)
        return 0;
    int upper = 0, lower = 0;
    for (size_t i = 0; i < 43; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '+' && c != '/' && c != '-' && c != '_')
            return 0;
        upper |= isupper(c) != 0;
        lower |= islower(c) != 0;
    }
    /* 32 random bytes have both cases (but for a chance of 1 in 10^9); a page's 43-character slug
     * ("mens-trail-running-shoes-blue-waterproof-48") is no digest. */
    return upper && lower &&
           strchr("AEIMQUYcgkosw048", s[42]) != NULL; /* 256 bits: the last character's low 2 bits unused */
}

/* 1 when the n bytes at s are a digest once the percent-encoding of Base64's '+', '/' and '='
 * (encodeURIComponent's %2B, %2F, %3D) is undone. */
static int looks_like_encoded_digest(const char *s, size_t n)
{
    char d[48];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == sizeof(d))
            return 0;
        if (s[i] == '%' && i + 2 < n) {
            if (strncasecmp(s + i, "%2B", 3) == 0)
                d[k++] = '+';
            else if (strncasecmp(s + i, "%2F", 3) == 0)
                d[k++] = '/';
            else if (strncasecmp(s + i, "%3D", 3) == 0)
                d[k++] = '=';
            else
                return 0;
            i += 2;
        } else {
            d[k++] = s[i];
        }
    }
    return looks_like_digest(d, k);
}

/* A copy of the URL u (a new string, NULL when memory runs out) in which each digest between the
 * URL's separators (a path segment, a query parameter's name or value, the fragment's) is
 * "(redacted)", as GA4's own data redaction writes what it takes out: an email tool's link with
 * the recipient's hashed address in utm_term or ?em=, an unsubscribe path ending in one. A Base64
 * digest's padding '=' (or "%3D") goes with it. Never longer than u. */
static char *redact_url_digests(const char *u)
{
    size_t n = strlen(u);
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    static const char seps[] = "/?&=#;";
    size_t query = strcspn(u, "?#"); /* past it '/' is a character of a value (a Base64 digest's) */
    for (size_t i = 0; i < n;) {
        size_t len = strcspn(u + i, seps);
        /* A query's value (or the fragment's) up to its own end: Base64 with '/' or '+', as written
         * or percent-encoded (encodeURIComponent: %2B, %2F, %3D; its %3D padding is then in it).
         * Looked at no further than a digest's longest writing, so a value of many '/' costs no more
         * than its length. */
        size_t wide = 0;
        while (i > query && wide <= 132 && u[i + wide] != '\0' && strchr("?&=#;", u[i + wide]) == NULL)
            wide++;
        if (wide > len && wide <= 132 && (looks_like_digest(u + i, wide) || looks_like_encoded_digest(u + i, wide)))
            len = wide;
        if (len > 0 && (looks_like_digest(u + i, len) || looks_like_encoded_digest(u + i, len))) {
            size_t pad = 0;
            if (len == 43 && u[i + len] == '=' && (u[i + len + 1] == '\0' || strchr("&#;", u[i + len + 1]) != NULL))
                pad = 1;
            memcpy(o, "(redacted)", 10);
            o += 10;
            i += len + pad;
        } else {
            memcpy(o, u + i, len);
            o += len;
            i += len;
        }
        if (i < n)
            *o++ = u[i++];
    }
    *o = '\0';
    return out;
}

/* Properties with a standard GA4 meaning; the rest become custom parameters. session_id,
 * session_number and engagement_time_msec are GA4's own parameters (reserved: Analytics help
 * 13316687, "Reserved event parameter names"), set by session_params from valid values only: a
 * site's own session_id of another kind (a UUID) went to GA4 as one when no session was found,
 * and put the event in no session. gclid is reserved as well for web streams ("can't be used");
 * the click id reaches GA4 in page_location, as gtag sends it. */
static const char *const consumed[] = {"value",
                                       "revenue",
                                       "total",
                                       "currency",
                                       "order_id",
                                       "products",
                                       "session_id",
                                       "session_number",
                                       "engagement_time_msec",
                                       "gclid",
                                       NULL};

static int is_consumed(const char *k)
{
    for (size_t i = 0; consumed[i] != NULL; i++) {
        if (strcmp(consumed[i], k) == 0)
            return 1;
    }
    return 0;
}

static void set_param(json_t *params, const char *key, json_t *value)
{
    if (json_object_size(params) >= GA4_MAX_PARAMS) {
        json_decref(value);
        return;
    }
    char name[GA4_NAME_BUF];
    ga4_name(key, name);
    if (json_object_get(params, name) != NULL) {
        json_decref(value);
        return;
    }
    json_object_set_new(params, name, value);
}

/* 1 when v can be a GA4 session id: a positive whole number, or one written as a string of digits
 * ("1795444000", as gtag('get', …, 'session_id') and Google's examples give it). GA4 keeps a
 * session id as a number (ga_session_id, the session's start in seconds): a site's own session
 * id of another kind (a UUID, a server's session token) puts an event in no GA4 session. */
static int ga4_session_id(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0;
    const char *s = json_string_value(v);
    size_t n = s != NULL ? strlen(s) : 0;
    return n > 0 && n <= 19 && strspn(s, "0123456789") == n && strspn(s, "0") < n;
}

/* Reads n (1..max_digits) decimal digits at *p into *out and moves *p past them; -1 when there
 * are none or too many. */
static int gtag_number(const char **p, size_t max_digits, int64_t *out)
{
    size_t n = strspn(*p, "0123456789");
    if (n == 0 || n > max_digits)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + ((*p)[i] - '0');
    *p += n;
    *out = v;
    return 0;
}

/* gtag's session from its _ga_<container> cookie value: GS1.<level>.<session start s>.<session
 * number>.<engaged>.<last hit s>... (positional), or GS2.<level>.s<start>$o<number>$g…$t…
 * (one-letter prefixes joined by '$', in any order). *number is 0 when the value has none.
 * Returns 0, or -1 for anything else: a cookie is the browser's to write, so a malformed one
 * only means no gtag session. */
static int gtag_session(const char *v, int64_t *start, int64_t *number)
{
    int64_t level;
    *start = 0;
    *number = 0;
    if (strncmp(v, "GS1.", 4) == 0) {
        const char *p = v + 4;
        if (gtag_number(&p, 3, &level) != 0 || *p++ != '.' || gtag_number(&p, 12, start) != 0 || *p++ != '.' ||
            gtag_number(&p, 9, number) != 0 || (*p != '.' && *p != '\0'))
            return -1;
        return *start > 0 ? 0 : -1;
    }
    if (strncmp(v, "GS2.", 4) != 0)
        return -1;
    const char *p = v + 4;
    if (gtag_number(&p, 3, &level) != 0 || *p++ != '.')
        return -1;
    while (*p != '\0') {
        const char *end = strchr(p, '$');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *q = p + 1;
        int64_t n = 0;
        if ((*p == 's' || *p == 'o') && (gtag_number(&q, *p == 's' ? 12 : 9, &n) != 0 || q != p + len))
            return -1; /* the two fields used here must be numbers; the others are gtag's business */
        if (*p == 's')
            *start = n;
        else if (*p == 'o')
            *number = n;
        p += len + (end != NULL);
    }
    return *start > 0 ? 0 : -1;
}

/* The session gtag holds for this integration's stream: context.vendorIds.ga_<container> (the
 * gateway copies the browser's _ga_<container> cookie there, container being the measurement id
 * without "G-", under the consent _ga needs). Only for an event that happened after that session
 * began: an event of an earlier visit (an offline queue) was not in it. Returns 0 or -1. */
static int cookie_session(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t *start, int64_t *number)
{
    const char *mid = sluice_vendor_opt(it, "measurement_id");
    if (mid == NULL)
        return -1;
    if (strncmp(mid, "G-", 2) == 0)
        mid += 2;
    char key[64];
    int n = snprintf(key, sizeof(key), "ga_%s", mid);
    if (n <= 3 || (size_t)n >= sizeof(key))
        return -1;
    const char *v = json_string_value(json_object_get(sluice_envelope_get(e, "context.vendorIds"), key));
    if (v == NULL || gtag_session(v, start, number) != 0 || e->time_ms < *start * 1000)
        return -1;
    return 0;
}

/* The session GA4 puts the event in (Measurement Protocol use cases: without session_id and
 * engagement_time_msec an event is in no session, so it is missing from session-based reports,
 * realtime and engaged sessions, and the visit's events count as sessions of their own). In order:
 * the site's own session_id/session_number in properties (gtag's, from `gtag('get', …,
 * 'session_id')`: the server events then join the gtag session rather than start another), else
 * gtag's session from its _ga_<container> cookie (cookie_session), else the gateway's
 * context.session (session_id its start in Unix seconds, as gtag's is, unique per client_id),
 * else the SDK's context.sessionId (RudderStack's, a start in milliseconds). Set before the
 * other parameters so the 25-parameter cut never drops them. engagement_time_msec is
 * the client's when it sent a positive one, else 1: GA4 wants it on every event for realtime and
 * engagement, and sluice does not measure engagement, so it claims the least it can. */
static void session_params(const sluice_integration_t *it, const sluice_envelope_t *e, json_t *params)
{
    const json_t *props = e->properties;
    json_t *sid = json_object_get(props, "session_id");
    json_t *snum = json_object_get(props, "session_number");
    /* A site's session_id that is no GA4 session id (its own app's: a UUID) does not displace
     * the gateway's session: it took its place, and every event it rode on was in no session. */
    int64_t gtag_start, gtag_number;
    if (ga4_session_id(sid)) {
        set_param(params, "session_id",
                  json_is_integer(sid) ? json_integer(json_integer_value(sid)) : ga4_value(json_string_value(sid)));
        if (json_is_integer(snum))
            set_param(params, "session_number", json_integer(json_integer_value(snum)));
    } else if (cookie_session(it, e, &gtag_start, &gtag_number) == 0) {
        /* gtag's session on the same site: the gateway's own would be a second session of the
         * same visit in GA4, which counts a session per (client_id, session_id). */
        set_param(params, "session_id", json_integer((json_int_t)gtag_start));
        if (gtag_number > 0)
            set_param(params, "session_number", json_integer((json_int_t)gtag_number));
    } else {
        const char *start = sluice_envelope_str(e, "context.session.start");
        json_t *number = sluice_envelope_get(e, "context.session.number");
        json_t *sdk = sluice_envelope_get(e, "context.sessionId");
        int64_t ms;
        if (start != NULL && sluice_time_parse(start, strlen(start), 0, &ms) == 0) {
            set_param(params, "session_id", json_integer((json_int_t)(ms / 1000)));
            if (json_is_integer(number))
                set_param(params, "session_number", json_integer(json_integer_value(number)));
        } else if (ga4_session_id(sdk)) {
            set_param(params, "session_id",
                      json_is_integer(sdk) ? json_integer(json_integer_value(sdk)) : ga4_value(json_string_value(sdk)));
        }
    }
    /* The site's own engagement time also as a string of digits: Google's Measurement Protocol
     * examples write it so ("engagement_time_msec": "100"), and a site that copied them had its
     * measured time replaced by 1. */
    json_t *eng = json_object_get(props, "engagement_time_msec");
    json_int_t ms = json_is_integer(eng) ? json_integer_value(eng) : 0;
    const char *es = json_string_value(eng);
    if (es != NULL && es[0] != '\0' && strlen(es) <= 15 && strspn(es, "0123456789") == strlen(es))
        ms = (json_int_t)strtoll(es, NULL, 10);
    set_param(params, "engagement_time_msec", json_integer(ms > 0 ? ms : 1));
}

/* The page the event happened on: page_location, page_title, page_referrer from context.page,
 * for a page event from its properties when its context has none or an empty one (Segment's and
 * RudderStack's server libraries send url, title and referrer only there): sluice_vendor_page, the
 * rule every vendor's page URL and the gateway's click ids and campaign follow. */
static void page_params(const sluice_envelope_t *e, json_t *params)
{
    static const char *const fields[3][2] = {
        {"page_location", "url"}, {"page_title", "title"}, {"page_referrer", "referrer"}};
    static const size_t max[3] = {GA4_LOCATION_MAX, GA4_TITLE_MAX, GA4_REFERRER_MAX};
    for (size_t i = 0; i < 3; i++) {
        const char *v = sluice_vendor_page(e, fields[i][1]);
        if (v == NULL)
            continue;
        /* The URLs without their digests, as every other parameter (GA4: no PII, hashed or not). */
        char *url = i == 1 ? NULL : redact_url_digests(v);
        if (i != 1 && url == NULL)
            continue;
        set_param(params, fields[i][0], ga4_value_max(url != NULL ? url : v, max[i]));
        free(url);
    }
}

static json_t *event_params(const sluice_integration_t *it, const sluice_envelope_t *e)
{
    json_t *params = json_object();
    session_params(it, e, params);
    /* A page view's page is what it says, so it goes first. */
    int page = strcmp(e->type, "page") == 0;
    if (page)
        page_params(e, params);
    /* A screen_view's screen is its screen_name parameter (Firebase's Param.SCREEN_NAME, what GA4's
     * "Page title and screen name" reports read): without it every screen_view was one unnamed
     * screen. */
    if (strcmp(e->type, "screen") == 0 && e->name != NULL)
        set_param(params, "screen_name", ga4_value(e->name));
    const json_t *props = e->properties;
    if (props == NULL) {
        if (!page)
            page_params(e, params);
        return params;
    }
    static const char *const value_names[] = {"value", "revenue", "total", NULL};
    json_t *value = sluice_vendor_first_number(e, props, value_names);
    if (value != NULL)
        set_param(params, "value", value);
    const char *s;
    char cur[SLUICE_VENDOR_CURRENCY_CAP];
    if ((s = sluice_vendor_currency(e, cur)) != NULL)
        set_param(params, "currency", ga4_value(s));
    char order[SLUICE_VENDOR_ID_CAP];
    if ((s = sluice_vendor_order_id(e, order)) != NULL)
        set_param(params, "transaction_id", ga4_value(s));
    json_t *items = json_array();
    /* A single-product event's own product too: view_item and add_to_cart without items mean
     * nothing to GA4's e-commerce reports. */
    json_t *products = sluice_vendor_products(e);
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        if (json_array_size(items) >= GA4_MAX_ITEMS)
            break;
        json_t *item = item_of(e, p);
        if (item != NULL)
            json_array_append_new(items, item);
    }
    json_decref(products);
    if (json_array_size(items) > 0)
        set_param(params, "items", items);
    else
        json_decref(items);

    const char *key;
    json_t *v;
    json_object_foreach((json_t *)props, key, v) {
        if (is_consumed(key))
            continue;
        if (json_is_string(v)) {
            /* Google's policy forbids PII in parameters, hashed or not: hashes stay out, and are
             * taken out of a URL (a page event's own url, search and referrer: analytics.js sends
             * its page there too) as of page_location. */
            if (!looks_like_digest(json_string_value(v), json_string_length(v))) {
                char *red = redact_url_digests(json_string_value(v));
                if (red != NULL)
                    set_param(params, key, ga4_value(red));
                free(red);
            }
        } else if (json_is_number(v)) {
            set_param(params, key, sluice_vendor_number_json(e, v, 0)); /* as the client wrote it */
        } else if (json_is_boolean(v)) {
            set_param(params, key, json_string(json_is_true(v) ? "true" : "false"));
        }
    }
    /* The page of every other event too, as gtag sends it with each (dl, dt, dr): a purchase
     * without page_location is "(not set)" in GA4's page reports. Last, in the room the event's
     * own parameters leave: set before them, these three took the places of a site's own
     * parameters that went before (an event of 25 lost its last 3 without a word). */
    if (!page)
        page_params(e, params);
    return params;
}

static json_t *user_data(const sluice_envelope_t *e)
{
    json_t *ud = json_object();
    const char *h;
    if ((h = sluice_envelope_hashed(e, SLUICE_UF_EMAIL, "google")) != NULL)
        json_object_set_new(ud, "sha256_email_address", json_pack("[s]", h));
    if ((h = sluice_envelope_hashed(e, SLUICE_UF_PHONE, "google")) != NULL)
        json_object_set_new(ud, "sha256_phone_number", json_pack("[s]", h));
    json_t *addr = json_object();
    if ((h = sluice_envelope_hashed(e, SLUICE_UF_FIRST_NAME, "google")) != NULL)
        json_object_set_new(addr, "sha256_first_name", json_string(h));
    if ((h = sluice_envelope_hashed(e, SLUICE_UF_LAST_NAME, "google")) != NULL)
        json_object_set_new(addr, "sha256_last_name", json_string(h));
    /* GA4 takes these unhashed: sent only when the org did not hash them. */
    sluice_vendor_set_str(addr, "city", sluice_envelope_raw(e, SLUICE_UF_CITY));
    sluice_vendor_set_str(addr, "region", sluice_envelope_raw(e, SLUICE_UF_STATE));
    sluice_vendor_set_str(addr, "postal_code", sluice_envelope_raw(e, SLUICE_UF_ZIP));
    sluice_vendor_set_str(addr, "country", sluice_envelope_raw(e, SLUICE_UF_COUNTRY));
    if (json_object_size(addr) > 0)
        json_object_set_new(ud, "address", json_pack("[o]", addr));
    else
        json_decref(addr);
    return ud;
}

/* The visitor's location, from the gateway's geolocation (context.location: enrichment.md), as
 * the Measurement Protocol's user_location (country_id ISO 3166-1 alpha-2, region_id ISO 3166-2,
 * city). Without it GA4 cannot place the event where the browser was: the request comes from the
 * gateway's host, not the visitor's, so GA4's country and city reports showed every server event
 * in the data centre or "(not set)". Only with a two-letter country code (a client's own
 * context.location, Segment's, carries a country name): a region or city without their country
 * is no place. NULL when there is none. */
static json_t *user_location(const sluice_envelope_t *e)
{
    const char *cc = sluice_envelope_str(e, "context.location.countryCode");
    if (cc == NULL || strlen(cc) != 2 || !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1]))
        return NULL;
    json_t *loc = json_object();
    char id[16];
    snprintf(id, sizeof(id), "%c%c", toupper((unsigned char)cc[0]), toupper((unsigned char)cc[1]));
    json_object_set_new(loc, "country_id", json_string(id));
    const char *rc = sluice_envelope_str(e, "context.location.regionCode");
    size_t rl = rc != NULL ? strlen(rc) : 0;
    int alnum = rl > 0 && rl <= 3;
    for (size_t i = 0; alnum && i < rl; i++)
        alnum = isalnum((unsigned char)rc[i]) != 0;
    /* A subdivision's own code ("CA", "ENG"): ISO 3166-2 is the country's code, '-' and it. */
    if (alnum) {
        snprintf(id, sizeof(id), "%s-%s", json_string_value(json_object_get(loc, "country_id")), rc);
        for (char *c = id; *c != '\0'; c++)
            *c = (char)toupper((unsigned char)*c);
        json_object_set_new(loc, "region_id", json_string(id));
    }
    const char *city = sluice_envelope_str(e, "context.location.city");
    if (city != NULL && city[0] != '\0')
        json_object_set_new(loc, "city", ga4_value(city));
    return loc;
}

/* The campaign_details event that carries the visit's campaign to GA4 (Measurement Protocol
 * reference, events: "campaign details that will be applied to events with a timestamp greater
 * than or equal to the timestamp of the campaign_details event"). GA4 documents reading the utm_*
 * of page_location for its tag's hits only; a Measurement Protocol event takes the campaign of its
 * session or of a campaign_details event, so a visit whose campaign only sluice saw (no gtag on
 * the page, or gtag blocked) was "(not set)" or Unassigned in the acquisition reports. From the event's
 * context.campaign (Segment's names, as analytics.js and the gateway's `campaign: true` write
 * it; id as campaign_id, a whole number as written), else from the utm_* of its page's URL (context.page.url, a page
 * event's properties.url) read as the gateway's enrichment reads them (utm_id as campaign_id). Values cut to 100
 * characters like every parameter; none that is not a non-empty string. Its time is the event's own, so it applies from
 * this event on. Click ids (gclid, ...) stay out: campaign_details has no such parameter, and GA4 reserves gclid. NULL
 * when the event has no campaign: nothing extra is sent. */
static json_t *campaign_details(const sluice_envelope_t *e, json_int_t micros)
{
    static const char *const names[][2] = {{"campaign_id", "id"}, {"campaign", "name"}, {"source", "source"},
                                           {"medium", "medium"},  {"term", "term"},     {"content", "content"}};
    json_t *params = json_object();
    const json_t *cc = sluice_envelope_get(e, "context.campaign");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const json_t *v = json_object_get(cc, names[i][1]);
        /* A hashed value stays out, as of every parameter (GA4's policy: no PII, hashed or not). */
        if (json_string_length(v) > 0 && !looks_like_digest(json_string_value(v), json_string_length(v)))
            json_object_set_new(params, names[i][0], ga4_value(json_string_value(v)));
        else if (i == 0 && json_is_number(v)) {
            /* A campaign id sent as a number (Google Ads' ids are numbers) is the same id, as written. */
            char id[SLUICE_VENDOR_ID_CAP];
            const char *text = sluice_vendor_id_text(e, v, id);
            if (text != NULL)
                json_object_set_new(params, names[i][0], ga4_value(text));
        }
    }
    if (json_object_size(params) == 0) {
        sluice_campaign_t c;
        if (sluice_campaign_parse(sluice_vendor_page(e, "url"), &c) > 0) {
            const char *const from[][2] = {{"campaign_id", c.id}, {"campaign", c.name}, {"source", c.source},
                                           {"medium", c.medium},  {"term", c.term},     {"content", c.content}};
            /* Hashes stay out here too: an email tool's utm_term of the recipient's hashed address
             * went to GA4 when read from the URL, not when the enrichment had put it in
             * context.campaign. */
            for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
                if (from[i][1][0] != '\0' && !looks_like_digest(from[i][1], strlen(from[i][1])))
                    json_object_set_new(params, from[i][0], ga4_value(from[i][1]));
            }
        }
    }
    if (json_object_size(params) == 0) {
        json_decref(params);
        return NULL;
    }
    return json_pack("{s:s,s:o,s:I}", "name", "campaign_details", "params", params, "timestamp_micros", micros);
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    char name[GA4_NAME_BUF];
    if (strcmp(e->type, "track") == 0 && e->name != NULL) {
        const char *std = sluice_vendor_standard_event(SLUICE_VENDOR_GA4, e->name);
        ga4_name(std != NULL ? std : e->name, name);
    } else if (strcmp(e->type, "page") == 0) {
        snprintf(name, sizeof(name), "page_view");
    } else if (strcmp(e->type, "screen") == 0) {
        snprintf(name, sizeof(name), "screen_view");
    } else {
        return SLUICE_MAP_SKIP; /* identify, group, alias: no GA4 event */
    }
    if (reserved_event(name)) {
        /* name is one of GA4's own words here, so it is safe to show. */
        snprintf(why, why_len, "event name %s is reserved by GA4 (GA4 drops it; rename it in mapping.events)", name);
        return SLUICE_MAP_DEAD;
    }
    if (now_ms - e->time_ms > GA4_MAX_AGE_MS) {
        snprintf(why, why_len, "%s", TOO_OLD);
        return SLUICE_MAP_DEAD;
    }
    char client_id[256];
    const char *ga = sluice_envelope_str(e, "context.vendorIds.ga");
    if (ga == NULL || client_id_from_ga(ga, client_id, sizeof(client_id)) != 0) {
        const char *anon = e->anonymous_id;
        if (anon == NULL || snprintf(client_id, sizeof(client_id), "%s", anon) >= (int)sizeof(client_id)) {
            snprintf(why, why_len, "no client id (neither context.vendorIds.ga nor anonymousId)");
            return SLUICE_MAP_DEAD;
        }
    }

    json_t *group = json_object();
    json_object_set_new(group, "client_id", json_string(client_id));
    if (e->user_id != NULL) {
        json_object_set_new(group, "user_id", json_string(e->user_id));
        json_t *ud = user_data(e); /* GA4 accepts user_data only with a user_id */
        sluice_vendor_set_nonempty(group, "user_data", ud);
    }
    /* The request's consent (Measurement Protocol reference, "consent": ad_user_data GRANTED or
     * DENIED). Google's EU user consent policy ("Updates to consent mode for traffic in the EEA")
     * asks every upload of EEA users' data to pass the users' choices on. Which of the org's
     * categories means "user data for advertising" is the org's to say (a GA4 integration's
     * `consent:` is usually analytics, which grants nothing of the kind), so only the option
     * ad_user_data_consent names it: GRANTED when the event carries that category, DENIED when
     * not. The consent is part of the group: one request speaks for one choice. */
    const char *ads_category = sluice_vendor_opt(it, "ad_user_data_consent");
    if (ads_category != NULL) {
        int granted = 0;
        size_t i;
        json_t *c;
        json_array_foreach(sluice_envelope_get(e, "context.consent.categories"), i, c) {
            if (json_is_string(c) && strcmp(json_string_value(c), ads_category) == 0)
                granted = 1;
        }
        json_object_set_new(group, "consent", json_pack("{s:s}", "ad_user_data", granted ? "GRANTED" : "DENIED"));
    }
    json_t *loc = user_location(e);
    if (loc != NULL)
        json_object_set_new(group, "user_location", loc); /* one request speaks for one place too */
    json_t *ev = json_object();
    json_object_set_new(ev, "name", json_string(name));
    json_object_set_new(ev, "params", event_params(it, e));
    json_object_set_new(ev, "timestamp_micros", json_integer((json_int_t)e->time_ms * 1000));
    json_t *lead = campaign_details(e, (json_int_t)e->time_ms * 1000);

    memset(out, 0, sizeof(*out));
    size_t glen;
    char *g = sluice_vendor_dump(group, &glen);
    json_decref(group);
    out->body = sluice_vendor_dump(ev, &out->body_len);
    json_decref(ev);
    if (lead != NULL)
        out->lead = sluice_vendor_dump(lead, &out->lead_len);
    int lead_lost = lead != NULL && out->lead == NULL;
    json_decref(lead);
    if (g == NULL || out->body == NULL || lead_lost || glen < 2) {
        free(g);
        sluice_vendor_item_dispose(out);
        snprintf(why, why_len, "out of memory");
        return SLUICE_MAP_DEAD;
    }
    /* The group is the members without the braces, so build() can append "events". */
    memmove(g, g + 1, glen - 2);
    g[glen - 2] = '\0';
    out->group = g;
    return SLUICE_MAP_OK;
}

static int build_path(const sluice_integration_t *it, const json_t *secret, const char *group,
                      const sluice_vendor_item_t *const *items, size_t n, const char *path,
                      sluice_vendor_request_t *out, sluice_err_t *err)
{
    memset(out, 0, sizeof(*out));
    const char *api_secret = json_string_value(json_object_get(secret, "api_secret"));
    if (api_secret == NULL)
        return sluice_err_set(err, "ga4: the vault secret has no api_secret");
    if (group == NULL)
        return sluice_err_set(err, "ga4: a batch without a client");
    out->url = sluice_vendor_url(it->base_url ? it->base_url : "https://www.google-analytics.com", path);
    if (out->url == NULL ||
        sluice_vendor_url_param(&out->url, "measurement_id", sluice_vendor_opt(it, "measurement_id")) != 0 ||
        sluice_vendor_url_param(&out->url, "api_secret", api_secret) != 0)
        goto oom;
    size_t gl = strlen(group);
    char *prefix = malloc(gl + 16);
    if (prefix == NULL)
        goto oom;
    snprintf(prefix, gl + 16, "{%s,\"events\":[", group);
    int rc = sluice_vendor_join(prefix, items, n, "]}", &out->body, &out->body_len);
    free(prefix);
    if (rc != 0)
        goto oom;
    out->headers[out->header_count++] = strdup("Content-Type: application/json");
    return 0;
oom:
    sluice_vendor_request_dispose(out);
    return sluice_err_set(err, "ga4: out of memory building a request");
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)now_ms;
    return build_path(it, secret, group, items, n, "/mp/collect", out, err);
}

int sluice_ga4_build_debug(const sluice_integration_t *it, const json_t *secret, const char *group,
                           const sluice_vendor_item_t *const *items, size_t n, sluice_vendor_request_t *out,
                           sluice_err_t *err)
{
    return build_path(it, secret, group, items, n, "/debug/mp/collect", out, err);
}

/* GA4's /mp/collect answers 204 with no body, for valid and invalid events alike ("The
 * Measurement Protocol always returns a 2xx status code if the HTTP request was received"). A 2xx
 * whose body is a page rather than nothing or JSON is someone else's answer (a captive portal, a
 * proxy's login page): it delivered nothing, and counting it delivered lost the events for good,
 * since GA4 would never have said otherwise. */
static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    sluice_verdict_t v = sluice_vendor_classify_http(status, why, why_len);
    if (v != SLUICE_VERDICT_OK)
        return v;
    size_t lead = 0;
    while (lead < len && (body[lead] == ' ' || body[lead] == '\t' || body[lead] == '\r' || body[lead] == '\n'))
        lead++;
    if (lead < len && body[lead] != '{') {
        snprintf(why, why_len, "HTTP %ld with a body that is not JSON: not an answer from GA4 (a proxy?)", status);
        return SLUICE_VERDICT_RETRY;
    }
    return v;
}

const sluice_vendor_ops_t sluice_vendor_ga4 = {
    .name = "ga4",
    .kind = SLUICE_VENDOR_GA4,
    .secret_required = secret_required,
    .secret_optional = NULL,
    .needs_secret = needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .request_overhead = 600,
    .max_age_ms = GA4_MAX_AGE_MS,
    .too_old = TOO_OLD,
    .options = options,
    .batch_events = 25,
    .batch_events_max = 25,
    .batch_bytes = 130000,
    .batch_bytes_max = 130000,
    .fields_root = "params",
    .hash_variant = "google",
};

/*
 * Event parsing, validation against the Segment-compatible spec, and enrichment with what the
 * server knows. Runs on the event-loop thread handling the request; no shared state.
 */
#include "gateway/event.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/time.h"
#include "common/utf8.h"
#include "crypto/random.h"
#include "json/parse.h"

#define ID_MAX_BYTES 200

static const char *const type_names[SLUICE_EVENT_TYPE_COUNT] = {"track",    "page",  "screen",
                                                                "identify", "group", "alias"};

const char *sluice_event_type_name(sluice_event_type_t t)
{
    return (unsigned)t < SLUICE_EVENT_TYPE_COUNT ? type_names[t] : "unknown";
}

int sluice_event_type_parse(const char *s)
{
    for (int i = 0; i < SLUICE_EVENT_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            return i;
    return -1;
}

int sluice_event_error_set(sluice_event_error_t *e, int status, const char *code, const char *path, const char *fmt,
                           ...)
{
    e->status = status;
    e->code = code;
    snprintf(e->path, sizeof(e->path), "%s", path != NULL ? path : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* Joins prefix and member into out: "" + "a" → "a", "batch[2]" + "a" → "batch[2].a" (cut to fit). */
static const char *join(char *out, size_t cap, const char *prefix, const char *member)
{
    size_t n = 0, pl = strlen(prefix), ml = strlen(member);
    if (pl > cap - 1)
        pl = cap - 1;
    memcpy(out, prefix, pl);
    n = pl;
    if (pl > 0 && ml > 0 && n < cap - 1)
        out[n++] = '.';
    if (ml > cap - 1 - n)
        ml = cap - 1 - n;
    memcpy(out + n, member, ml);
    out[n + ml] = '\0';
    return out;
}

/* The body's JSON text: a UTF-8 byte order mark is no part of it, RFC 8259 (8.1) forbids sending
 * one but lets a parser ignore it, and a file saved by Windows' editors or .NET's StreamWriter
 * starts with one. UTF-16 and UTF-32 (a mark of their own, or a NUL among the first bytes, which
 * JSON in UTF-8 cannot have) are named, not reported as an invalid token at column 1: -1 with e
 * set. Both trees' parses start here, so that they refuse alike; in line, as the check was before
 * it had two callers (out of line it cost 20 instructions a request). */
static inline __attribute__((always_inline)) int body_text(const char **buf, size_t *len, sluice_event_error_t *e)
{
    const char *b = *buf;
    size_t n = *len;
    if (n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0) {
        b += 3;
        n -= 3;
    }
    if (n >= 2 && (memcmp(b, "\xff\xfe", 2) == 0 || memcmp(b, "\xfe\xff", 2) == 0 || b[0] == '\0' || b[1] == '\0'))
        return sluice_event_error_set(e, 400, "invalid_json", "",
                                      "body is UTF-16 or UTF-32: JSON must be sent as UTF-8");
    *buf = b;
    *len = n;
    return 0;
}

/* The parser's refusal as the body's error (both trees' parsers report alike, json/jv.h). Out of
 * line: a refusal is rare, and in line its formatting's frame cost every parse. */
static __attribute__((noinline, cold)) void parse_error(const sluice_json_error_t *je, sluice_event_error_t *e)
{
    if (je->kind == SLUICE_JSON_BATCH)
        sluice_event_error_set(e, 413, "payload_too_large", je->path, "%s", je->message);
    else if (je->kind == SLUICE_JSON_SYNTAX)
        /* The parser's text names the problem and its position, never the input itself. */
        sluice_event_error_set(e, 400, "invalid_json", "", "body is not valid JSON: %s at line %u column %u",
                               je->message, je->line, je->column);
    else
        sluice_event_error_set(e, 400, "invalid_json", je->path, "%s", je->message);
}

json_t *sluice_event_parse(const char *buf, size_t len, const sluice_limits_t *lim, sluice_jsonnum_t *nums,
                           sluice_json_item_faults_t *faults, sluice_event_error_t *e)
{
    sluice_json_error_t je;
    if (body_text(&buf, &len, e) != 0)
        return NULL;
    json_t *root = sluice_json_parse_batch(buf, len, lim->max_depth, lim->max_string_bytes, lim->max_batch_events, nums,
                                           faults, &je);
    if (root == NULL) {
        parse_error(&je, e);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        sluice_event_error_set(e, 400, "invalid_json", "", "body must be a JSON object");
        return NULL;
    }
    return root;
}

sluice_jv_t *sluice_event_parse_jv(const char *buf, size_t len, const sluice_limits_t *lim, sluice_json_arena_t *a,
                                   sluice_json_item_faults_t *faults, sluice_event_error_t *e)
{
    sluice_json_error_t je;
    if (body_text(&buf, &len, e) != 0)
        return NULL;
    sluice_jv_t *root =
        sluice_jv_parse(a, buf, len, lim->max_depth, lim->max_string_bytes, lim->max_batch_events, faults, &je);
    if (root == NULL) {
        parse_error(&je, e);
        return NULL;
    }
    if (!sluice_jv_is_object(root)) {
        sluice_event_error_set(e, 400, "invalid_json", "", "body must be a JSON object");
        return NULL; /* what was built goes with the arena */
    }
    return root;
}

/* ---------------------------------------------------------------- validation */

typedef enum field_kind {
    F_ID,     /* string (numbers converted), 1..ID_MAX_BYTES */
    F_NAME,   /* non-empty string */
    F_STRING, /* any string */
    F_TIME,   /* ISO-8601 date-time */
    F_OBJECT,
} field_kind_t;

/* The top-level members validation reads, found in one pass over the event's members instead of
 * a hash lookup each (most events carry most of them). */
typedef enum member {
    M_MESSAGE_ID,
    M_ANONYMOUS_ID,
    M_USER_ID,
    M_TIMESTAMP,
    M_SENT_AT,
    M_ORIGINAL_TIMESTAMP,
    M_CONTEXT,
    M_INTEGRATIONS,
    M_PROPERTIES,
    M_TRAITS,
    M_TYPE,
    M_EVENT,
    M_NAME,
    M_CATEGORY,
    M_GROUP_ID,
    M_PREVIOUS_ID,
    M_COUNT
} member_t;

#define MEMBER(s)                                                                                                      \
    {                                                                                                                  \
        s, sizeof(s) - 1                                                                                               \
    }
static const struct {
    const char *key;
    size_t len;
} wanted[M_COUNT] = {
    MEMBER("messageId"),  MEMBER("anonymousId"),  MEMBER("userId"),
    MEMBER("timestamp"),  MEMBER("sentAt"),       MEMBER("originalTimestamp"),
    MEMBER("context"),    MEMBER("integrations"), MEMBER("properties"),
    MEMBER("traits"),     MEMBER("type"),         MEMBER("event"),
    MEMBER("name"),       MEMBER("category"),     MEMBER("groupId"),
    MEMBER("previousId"),
};
#undef MEMBER

/* Past this many members a lookup per wanted key is cheaper than matching every member. */
#define SCAN_MAX_MEMBERS 32

/* The member a key names, or M_COUNT: by first character, then the few keys starting with it
 * (constant-length compares the compiler inlines). Inline in both trees' find_members: with a
 * second caller the compiler put it out of line, +130 instructions per event. */
static inline __attribute__((always_inline)) member_t member_of(const char *key, size_t len)
{
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(key, lit, sizeof(lit) - 1) == 0)
    switch (len > 0 ? key[0] : 0) {
    case 'a': return IS("anonymousId") ? M_ANONYMOUS_ID : M_COUNT;
    case 'c': return IS("context") ? M_CONTEXT : IS("category") ? M_CATEGORY : M_COUNT;
    case 'e': return IS("event") ? M_EVENT : M_COUNT;
    case 'g': return IS("groupId") ? M_GROUP_ID : M_COUNT;
    case 'i': return IS("integrations") ? M_INTEGRATIONS : M_COUNT;
    case 'm': return IS("messageId") ? M_MESSAGE_ID : M_COUNT;
    case 'n': return IS("name") ? M_NAME : M_COUNT;
    case 'o': return IS("originalTimestamp") ? M_ORIGINAL_TIMESTAMP : M_COUNT;
    case 'p': return IS("properties") ? M_PROPERTIES : IS("previousId") ? M_PREVIOUS_ID : M_COUNT;
    case 's': return IS("sentAt") ? M_SENT_AT : M_COUNT;
    case 't': return IS("timestamp") ? M_TIMESTAMP : IS("traits") ? M_TRAITS : IS("type") ? M_TYPE : M_COUNT;
    case 'u': return IS("userId") ? M_USER_ID : M_COUNT;
    default: return M_COUNT;
    }
#undef IS
}

/* 1 when text[0..len) is a whole number as JSON spells one: digits, with a leading '-'. */
static int integer_text(const char *text, size_t len)
{
    size_t i = len > 0 && text[0] == '-';
    if (i == len)
        return 0;
    for (; i < len; i++)
        if (text[i] < '0' || text[i] > '9')
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- size */

/* Bytes jansson's compact encoder writes for a string's contents: quotes, backslashes and control
 * characters are escaped, everything else (UTF-8 included) is copied. */
static size_t string_size(const char *s, size_t n)
{
    size_t size = n + 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            size += 1;
        else if (c < 0x20)
            size += 5;
    }
    return size;
}

/* Digits and sign of v, formatted or as the client wrote it: JSON writes an integer only one
 * way but 0, which "-0" also is (json/numbers.h gives it back so): 0 counts 2. */
static size_t integer_size(json_int_t v)
{
    size_t n = v <= 0 ? 2 : 1;
    for (unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v; u >= 10; u /= 10)
        n++;
    return n;
}

/* ---------------------------------------------------------------- the rules for jansson values */

/* A number given for an id as a new string of its digits as sent, or NULL when it is no whole
 * number: the text the parser recorded (any length), else the formatted value of an integer. */
static json_t *id_from_number_json(const sluice_jsonnum_t *nums, json_t *v)
{
    size_t tl = 0;
    const char *text = nums != NULL ? sluice_jsonnum_find(nums, v, &tl) : NULL;
    if (text != NULL && integer_text(text, tl))
        return json_stringn_nocheck(text, tl);
    if (text == NULL && json_is_integer(v)) {
        char num[32];
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return json_string_nocheck(num);
    }
    return NULL;
}

#define T_CAT2(a, b)            a##_##b
#define T_CAT(a, b)             T_CAT2(a, b)
#define T(name)                 T_CAT(name, json)
#define T_VALUE                 json_t
#define T_VALIDATE              sluice_event_validate
#define T_ENCODED_SIZE          sluice_event_encoded_size
#define T_X_PARAM               const sluice_jsonnum_t *nums
#define T_X                     nums
#define T_SIZE_PARAM            , const sluice_jsonnum_t *nums
#define T_SIZE_ARG              , nums
#define T_IS_NULL               json_is_null
#define T_IS_STRING             json_is_string
#define T_IS_NUMBER             json_is_number
#define T_IS_OBJECT             json_is_object
#define T_IS_ARRAY              json_is_array
#define T_STRING_VALUE          json_string_value
#define T_STRING_LEN            json_string_length
#define T_STRING_IS(v, s)       (json_is_string(v) && strcmp(json_string_value(v), (s)) == 0)
#define T_TYPE_PARSE(v)         sluice_event_type_parse(json_string_value(v))
#define T_OBJECT_SIZE           json_object_size
#define T_OBJECT_GET            json_object_get
#define T_OBJECT_GETN           json_object_getn
#define T_OBJECT_DEL            json_object_del
#define T_ARRAY_SIZE            json_array_size
#define T_ARRAY_GET             json_array_get
#define T_SET_NEW(x, o, key, v) json_object_set_new_nocheck((o), (key), (v))
#define T_STRING_NEW(x, s)      json_string_nocheck(s)
#define T_DROP                  json_decref
#define T_ID_FROM_NUMBER        id_from_number_json
#define T_TYPEOF                json_typeof
#define T_OBJECT                JSON_OBJECT
#define T_ARRAY                 JSON_ARRAY
#define T_STRING                JSON_STRING
#define T_TRUE                  JSON_TRUE
#define T_FALSE                 JSON_FALSE
#define T_NUMBER_CASES                                                                                                 \
    case JSON_INTEGER: return integer_size(json_integer_value(ev));                                                    \
    case JSON_REAL: {                                                                                                  \
        size_t n; /* as sent (of any length: its text's), or formatted (26 at most) */                                 \
        return sluice_jsonnum_find(nums, ev, &n) != NULL ? n : 26;                                                     \
    }
#include "gateway/tree_iter.h"
#include "gateway/event_rules.h"

/* ---------------------------------------------------------------- the rules for jv values */

/* As id_from_number_json: a jv number is its text. */
static sluice_jv_t *id_from_number_jv(sluice_json_arena_t *a, sluice_jv_t *v)
{
    size_t tl;
    const char *text = sluice_jv_number_text_value(v, &tl);
    return text != NULL && integer_text(text, tl) ? sluice_jv_string(a, text, tl) : NULL;
}

/* sluice_event_type_parse of a string that is not NUL-terminated. */
static int type_parse_jv(const sluice_jv_t *t)
{
    for (int i = 0; i < SLUICE_EVENT_TYPE_COUNT; i++)
        if (sluice_jv_string_is(t, type_names[i]))
            return i;
    return -1;
}

/* A number's size as sluice_event_encoded_size counts the same number, so that both trees refuse
 * the same events: its text, except "0", which jansson's integer cannot tell from "-0" and counts
 * 2 (an upper bound by a byte, as there). */
static size_t number_size_jv(const sluice_jv_t *v)
{
    return v->len == 1 && v->u.s[0] == '0' ? 2 : v->len;
}

#define T(name)        T_CAT(name, jv)
#define T_VALUE        sluice_jv_t
#define T_VALIDATE     sluice_event_validate_jv
#define T_ENCODED_SIZE sluice_event_encoded_size_jv
#define T_X_PARAM      sluice_json_arena_t *a
#define T_X            a
#define T_SIZE_PARAM
#define T_SIZE_ARG
#define T_IS_NULL               sluice_jv_is_null
#define T_IS_STRING             sluice_jv_is_string
#define T_IS_NUMBER             sluice_jv_is_number
#define T_IS_OBJECT             sluice_jv_is_object
#define T_IS_ARRAY              sluice_jv_is_array
#define T_STRING_VALUE(v)       sluice_jv_string_value((v), NULL)
#define T_STRING_LEN(v)         ((size_t)(v)->len) /* only read of a string */
#define T_STRING_IS             sluice_jv_string_is
#define T_TYPE_PARSE            type_parse_jv
#define T_OBJECT_SIZE           sluice_jv_object_size
#define T_OBJECT_GET            sluice_jv_object_get
#define T_OBJECT_GETN           sluice_jv_object_getn
#define T_OBJECT_DEL            sluice_jv_object_del
#define T_ARRAY_SIZE            sluice_jv_array_size
#define T_ARRAY_GET             sluice_jv_array_get
#define T_SET_NEW(x, o, key, v) (void)sluice_jv_object_set((x), (o), (key), (v)) /* memory: as jansson's, left out */
#define T_STRING_NEW(x, s)      sluice_jv_string((x), (s), strlen(s))
#define T_DROP(v)               (void)(v) /* arena memory: goes with the arena */
#define T_ID_FROM_NUMBER        id_from_number_jv
#define T_TYPEOF                sluice_jv_type
#define T_OBJECT                SLUICE_JV_OBJECT
#define T_ARRAY                 SLUICE_JV_ARRAY
#define T_STRING                SLUICE_JV_STRING
#define T_TRUE                  SLUICE_JV_TRUE
#define T_FALSE                 SLUICE_JV_FALSE
#define T_NUMBER_CASES                                                                                                 \
    case SLUICE_JV_NUMBER:                                                                                             \
        return number_size_jv(ev);
#define T_ITER_JV
#include "gateway/tree_iter.h"
#include "gateway/event_rules.h"
#undef T_ITER_JV
#undef T_CAT
#undef T_CAT2

/* ---------------------------------------------------------------- enrichment */

/* ms of a JSON string holding an RFC 3339 time: 1 when it has a zone, 0 when it is a wall-clock
 * reading without one (read as if UTC), -1 when it is neither (validation let only such times
 * through). */
static int time_of(json_t *v, int64_t *ms)
{
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (sluice_time_parse(s, n, 0, ms) == 0)
        return 1;
    return sluice_time_parse(s, n, SLUICE_TIME_NO_ZONE_OK, ms) == 0 ? 0 : -1;
}

/* Segment's clock-skew correction: a client whose clock is off stamps its events off by as much,
 * and stamps sentAt with the same clock, so timestamp = receivedAt - (sentAt - t) is the event's
 * time by the gateway's clock. t is the timestamp the client sent, else its originalTimestamp
 * (RudderStack's SDKs send only originalTimestamp and sentAt), and is kept as originalTimestamp.
 * An event with both is one whose timestamp was given on purpose (RudderStack's node SDK stamps
 * originalTimestamp with the time of the call and sends a caller's `timestamp` next to it, for an
 * import of past events): RudderStack's server keeps that timestamp, and correcting from the
 * call's time instead turned a week-old purchase into one made a second ago. Without sentAt
 * nothing can be corrected and timestamp stays as sent. A time without a zone (the device's wall
 * clock) is corrected by a sentAt without one, the same clock; with no such sentAt its instant is
 * unknown and the event took place, as far as anyone knows, when it was received. */
static void correct_timestamp(json_t *ev, json_t *ts, json_t *orig, json_t *sent_at, int64_t received_ms)
{
    if (json_is_null(ts))
        ts = NULL; /* validation lets null through as absent: originalTimestamp may give it */
    json_t *base = json_is_string(ts) ? ts : orig;
    int64_t base_ms, sent_ms;
    int base_zoned = time_of(base, &base_ms);
    if (base_zoned < 0)
        return;
    int sent_zoned = time_of(sent_at, &sent_ms);
    int64_t at = 0;
    if (sent_zoned >= 0 && sent_zoned == base_zoned) {
        at = received_ms - (sent_ms - base_ms);
        /* An age that puts the event before 1970 is no age: the two times are not readings of
         * one clock (a sentAt of 9999-12-31 or 2090 from a broken SDK next to a right timestamp,
         * Go's or .NET's zero time 0001-01-01 as the timestamp). Taken as an age, it made the
         * event's time year 0000 (the formatter's floor): Meta and GA4 then refused it as too old
         * and TikTok the whole batch with it. With no age to go by, the event is one without a
         * usable sentAt: its own time when that is a time it can have happened at, else receivedAt
         * (below, as for a zoneless time). A sentAt before 1970 is no reading of a clock either
         * (Go's or .NET's zero time as a SentAt never set): taken as one, the event was stamped
         * 2,025 years after it was sent, and its own time became receivedAt. */
        if (at < 0 || sent_ms < 0) {
            if (base_zoned && base_ms >= 0 && base_ms <= received_ms)
                sent_zoned = -1;
            else
                at = received_ms;
        }
    }
    if (sent_zoned < 0 || sent_zoned != base_zoned) {
        if (base_zoned) {
            if (ts == NULL)
                json_object_set_nocheck(ev, "timestamp", base);
            return;
        }
        at = received_ms; /* no age to go by: as received */
    }
    if (!json_is_string(orig))
        json_object_set_nocheck(ev, "originalTimestamp", base);
    /* An event stamped after its sentAt (a clock stepped between the two, or a made-up time)
     * would land after the gateway received it, up to year 9999: it happened by then at the
     * latest. */
    char when[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(at < received_ms ? at : received_ms, when);
    json_object_set_new_nocheck(ev, "timestamp", json_string_nocheck(when));
}

/* analytics-kotlin once stamped its times with SimpleDateFormat's "ss'.'Szzz"
 * (core/.../utilities/DateTimeUtils.kt, dateTimeNowString, before SegmentInstant): `S` is
 * the milliseconds as a number, unpadded, so 7 ms was written ".7Z" and 70 ms ".70Z", which
 * RFC 3339 reads as 700 ms. SegmentInstant writes "SSS", always three digits, so a one or two
 * digit fraction from that library can only be the unpadded count: it is rewritten padded, for
 * the clock correction and for every consumer of the text. Without this an event's time moved
 * by up to 0.99 s, and a batch's events changed order (".95Z", 95 ms, came after ".100Z"). */
static int kotlin_library(json_t *ctx)
{
    json_t *name = json_object_get(json_object_get(ctx, "library"), "name");
    return json_is_string(name) && strcmp(json_string_value(name), "analytics-kotlin") == 0;
}

/* 1 for "YYYY-MM-DDTHH:MM:SS.dZ" or ".ddZ" by its length and the fraction's dot alone. */
static int short_fraction_time(json_t *v)
{
    if (!json_is_string(v))
        return 0;
    size_t n = json_string_length(v);
    return (n == 22 || n == 23) && json_string_value(v)[19] == '.';
}

/* The padded text of an unpadded "YYYY-MM-DDTHH:MM:SS.dZ" or ".ddZ", or NULL for any other. */
static json_t *kotlin_time(json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if ((n != 22 && n != 23) || s[19] != '.' || s[n - 1] != 'Z')
        return NULL;
    for (size_t i = 20; i < n - 1; i++)
        if (s[i] < '0' || s[i] > '9')
            return NULL;
    char fixed[25];
    memcpy(fixed, s, 20);
    size_t digits = n - 21;
    memset(fixed + 20, '0', 3 - digits);
    memcpy(fixed + 23 - digits, s + 20, digits);
    fixed[23] = 'Z';
    fixed[24] = '\0';
    return json_string_nocheck(fixed);
}

/* A string of a header's bytes: ASCII, what headers nearly always hold, is recognised a word at a
 * time instead of jansson's check per byte. A byte that is not UTF-8 (a Latin-1 device name in a
 * User-Agent) becomes U+FFFD: leaving the header out made the event one without a user agent,
 * which `bots: drop` drops. */
static json_t *header_string(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s), i = 0;
    uint64_t high = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        high |= w;
    }
    for (; i < n; i++)
        high |= (unsigned char)s[i];
    if ((high & 0x8080808080808080ull) == 0 || sluice_utf8_valid(s, n))
        return json_stringn_nocheck(s, n);
    char *fixed = n <= SIZE_MAX / 3 - 1 ? malloc(3 * n + 1) : NULL;
    if (fixed == NULL)
        return NULL;
    json_t *v = json_stringn_nocheck(fixed, sluice_utf8_repair(s, n, fixed));
    free(fixed);
    return v;
}

int sluice_event_enrich(json_t *ev, const sluice_event_enrich_t *en)
{
    /* Read before anything is set: setting other members leaves these values where they are.
     * One pass over the members, as validation does: five hash look-ups were 750 instructions. */
    json_t *v[M_COUNT];
    find_members_json(ev, v);
    if (!json_is_string(v[M_MESSAGE_ID])) {
        char id[37];
        if (sluice_uuid_v4(id) != 0)
            return -1;
        json_object_set_new_nocheck(ev, "messageId", json_string_nocheck(id));
    }
    char when[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(en->received_ms, when);
    json_object_set_new_nocheck(ev, "receivedAt", json_string_nocheck(when));
    /* The library is looked up only for a time with a short fraction: two member look-ups in
     * context for every event were 400 instructions of the pipeline. */
    static const member_t times[] = {M_TIMESTAMP, M_ORIGINAL_TIMESTAMP, M_SENT_AT};
    int short_fraction = 0;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        short_fraction |= short_fraction_time(v[times[i]]);
    if (short_fraction && kotlin_library(v[M_CONTEXT])) {
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
            json_t *fixed = kotlin_time(v[times[i]]);
            if (fixed == NULL)
                continue;
            /* Set anew, not changed in place: a batch's sentAt is one value shared by its events. */
            json_object_set_new_nocheck(ev, wanted[times[i]].key, fixed);
            v[times[i]] = fixed;
        }
    }
    correct_timestamp(ev, v[M_TIMESTAMP], v[M_ORIGINAL_TIMESTAMP], v[M_SENT_AT], en->received_ms);
    json_t *ctx = v[M_CONTEXT];
    if (!json_is_object(ctx)) {
        ctx = json_object();
        json_object_set_new(ev, "context", ctx);
    }
    /* A server source's request comes from the server, for many users: its address is no user's
     * (it became every user's client_ip_address at Meta and their city the data centre's), so
     * its events have the context.ip they carry or none. */
    if (!en->trust_client_ip)
        json_object_set_new_nocheck(ctx, "ip", header_string(en->client_ip)); /* a header's bytes: checked */
    else if (json_object_get(ctx, "ip") != NULL && !json_is_string(json_object_get(ctx, "ip")))
        json_object_del(ctx, "ip");
    json_t *ua = json_object_get(ctx, "userAgent");
    /* An empty one is none (an SDK that could not read its platform's): kept, the event would be
     * one without a user agent, which `bots: drop` drops. */
    if (en->user_agent != NULL && (!json_is_string(ua) || json_string_length(ua) == 0) &&
        !sluice_event_app_agent(ev, en))
        json_object_set_new_nocheck(ctx, "userAgent", header_string(en->user_agent));
    return 0;
}

int sluice_event_from_app(const json_t *ev)
{
    return json_is_object(json_object_get(json_object_get(ev, "context"), "app"));
}

int sluice_event_app_agent(const json_t *ev, const sluice_event_enrich_t *en)
{
    return en != NULL && en->library_user_agent && sluice_event_from_app(ev);
}

size_t sluice_event_member_size(const char *key, size_t key_len, const json_t *v, const sluice_jsonnum_t *nums)
{
    return string_size(key, key_len) + 1 + sluice_event_encoded_size(v, nums);
}

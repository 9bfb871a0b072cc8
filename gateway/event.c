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
/* Their lengths, the same literals', for the jv rules' type set (a strlen call otherwise). */
static const size_t type_lens[SLUICE_EVENT_TYPE_COUNT] = {sizeof("track") - 1,  sizeof("page") - 1,
                                                          sizeof("screen") - 1, sizeof("identify") - 1,
                                                          sizeof("group") - 1,  sizeof("alias") - 1};

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
#define T_SET_TYPE(x, o, t)     T_SET_NEW(x, o, "type", T_STRING_NEW(x, type_names[t]))
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
#define T_ENRICH    sluice_event_enrich
#define T_FROM_APP  sluice_event_from_app
#define T_APP_AGENT sluice_event_app_agent
#define T_ENRICH_PARAM
#define T_ENRICH_ARG
#define T_ENRICH_X               NULL
#define T_SET_LIT                T_SET_NEW
#define T_PLAIN_NEW              T_STRING_NEW
#define T_SET_COPY(x, o, key, v) json_object_set_nocheck((o), (key), (v))
#define T_STRINGN_NEW(x, s, n)   json_stringn_nocheck((s), (n))
#define T_OBJECT_NEW(x)          json_object()
#define T_STRING_AT(v, i)        (json_string_value(v)[i])
#include "gateway/tree_iter.h"
#include "gateway/enrich_rules.h"
#include "gateway/event_rules.h"

/* ---------------------------------------------------------------- the rules for jv values */

/* As id_from_number_json: a jv number is its text. */
static sluice_jv_t *id_from_number_jv(sluice_json_arena_t *a, sluice_jv_t *v)
{
    size_t tl;
    const char *text = sluice_jv_number_text_value(v, &tl);
    return text != NULL && integer_text(text, tl) ? sluice_jv_string(a, text, tl) : NULL;
}

int sluice_event_type_parse_jv(const sluice_jv_t *t)
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

/* sluice_jv_string_value(v, NULL) in line: validation's times and enrichment's headers and times
 * read their strings through it, and the call cost more than the read. */
static inline const char *string_value_jv(const sluice_jv_t *v)
{
    return sluice_jv_is_string(v) ? v->u.s : NULL;
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
#define T_STRING_VALUE(v)       string_value_jv(v)
#define T_STRING_LEN(v)         ((size_t)(v)->len) /* only read of a string */
#define T_STRING_IS             sluice_jv_string_is
#define T_TYPE_PARSE            sluice_event_type_parse_jv
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
#define T_ENRICH       sluice_event_enrich_jv
#define T_FROM_APP     sluice_event_from_app_jv
#define T_APP_AGENT    sluice_event_app_agent_jv
#define T_ENRICH_PARAM , sluice_json_arena_t *a
#define T_ENRICH_ARG   , a
#define T_ENRICH_X     a
/* The gateway's own keys and texts written without the writer's scan for escapes (json/jv.h). */
#define T_SET_LIT(x, o, lit, v) (void)SLUICE_JV_SET_LIT((x), (o), lit, (v))
#define T_PLAIN_NEW(x, s)       sluice_jv_string_plain((x), (s), strlen(s))
/* A jv value lives in one place (json/jv.h): where jansson shares one, jv sets a copy, under the
 * key literal kept as SLUICE_JV_SET_LIT keeps it (not copied, written without the writer's scan). */
#define T_SET_COPY(x, o, key, v) (void)SLUICE_JV_SET_LIT((x), (o), key, sluice_jv_copy((x), (v)))
#define T_STRINGN_NEW(x, s, n)   sluice_jv_string((x), (s), (n))
#define T_OBJECT_NEW(x)          sluice_jv_object(x)
#define T_STRING_AT(v, i)        ((v)->u.s[i])
/* validation's type, for event_rules.h: its key and name written as their bytes too. */
#define T_SET_TYPE(x, o, t)                                                                                            \
    (void)SLUICE_JV_SET_LIT((x), (o), "type", sluice_jv_string_plain((x), type_names[t], type_lens[t]))
#define T_ITER_JV
#include "gateway/tree_iter.h"
#include "gateway/enrich_rules.h"
#include "gateway/event_rules.h"
#undef T_ITER_JV
#undef T_CAT
#undef T_CAT2

size_t sluice_event_member_size(const char *key, size_t key_len, const json_t *v, const sluice_jsonnum_t *nums)
{
    return string_size(key, key_len) + 1 + sluice_event_encoded_size(v, nums);
}

size_t sluice_event_member_size_jv(const char *key, size_t key_len, const sluice_jv_t *v)
{
    return string_size(key, key_len) + 1 + sluice_event_encoded_size_jv(v);
}

/* Consent formats into context.consent.categories (consent.h). Any thread; no state. */
#include "gateway/consent.h"

#include <string.h>
#include <strings.h>

#include "pii/scan.h"

/* 1 when the PII scanner finds personal data in name[0..n) (or cannot tell, out of memory). */
static int holds_pii(const char *name, size_t n)
{
    if (!sluice_scan_may_match(name, n))
        return 0;
    sluice_scan_t sc = {0};
    int found = sluice_scan(&sc, name, n,
                            SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN |
                                SLUICE_SCAN_NATIONAL_IDS) != 0 ||
                sc.count > 0;
    sluice_scan_dispose(&sc);
    return found;
}

/* 1 when the config's name (a C string) is s[0..n), in any case. */
static int is_name(const char *name, const char *s, size_t n)
{
    return strncasecmp(name, s, n) == 0 && name[n] == '\0';
}

/* 1 when a[0..an) and b[0..bn) are the same string (in any case with nocase); 0 when a is NULL.
 * A name that is its own category is the same bytes, and most names differ at their first byte:
 * no call to compare (the common case of a client that speaks sluice's format, which the
 * pipeline's figure counts, stays as cheap as with C strings). */
static inline int same(const char *a, size_t an, const char *b, size_t bn, int nocase)
{
    return a != NULL && an == bn &&
           (a == b || (nocase ? strncasecmp(a, b, an) == 0 : an == 0 || (a[0] == b[0] && memcmp(a, b, an) == 0)));
}

/* The org's category for name[0..n) as another format uses it: its alias, or the name itself (*len
 * its length; not NUL-terminated when the name is a jv string); NULL for a name that is personal
 * data (an e-mail among a CMP's ids): context.consent, where categories are written, is not
 * scanned by the PII guard, and such a name is no category. */
static const char *category_of(const sluice_consent_config_t *c, const char *name, size_t n, size_t *len)
{
    for (size_t i = 0; i < c->alias_count; i++) {
        if (is_name(c->aliases[i].key, name, n)) {
            *len = strlen(c->aliases[i].value);
            return c->aliases[i].value;
        }
    }
    *len = n;
    return holds_pii(name, n) ? NULL : name;
}

#define GET(obj, lit) json_object_getn(obj, lit, sizeof(lit) - 1)

/* jansson's string and its length, or NULL. */
static inline const char *string_json(const json_t *v, size_t *n)
{
    const char *s = json_string_value(v);
    if (s != NULL)
        *n = json_string_length(v);
    return s;
}

/* ---------------------------------------------------------------- the rules for jansson values */

#define T_CAT2(a, b)               a##_##b
#define T_CAT(a, b)                T_CAT2(a, b)
#define T(name)                    T_CAT(name, json)
#define T_VALUE                    json_t
#define T_NORMALIZE_GET            sluice_consent_normalize_get
#define T_GPC                      sluice_consent_gpc
#define T_XP                       /* nothing: jansson allocates */
#define T_XA                       /* nothing */
#define T_GET                      GET
#define T_OBJECT_GET               json_object_get
#define T_IS_ARRAY                 json_is_array
#define T_IS_OBJECT                json_is_object
#define T_IS_TRUE                  json_is_true
#define T_IS_FALSE                 json_is_false
#define T_STRING_VALUE             string_json
#define T_OBJECT_SIZE              json_object_size
#define T_ARRAY_SIZE               json_array_size
#define T_ARRAY_GET                json_array_get
#define T_ARRAY_NEW()              json_array()
#define T_OBJECT_NEW()             json_object()
#define T_TRUE_NEW()               json_true()
#define T_APPEND_STRING(arr, s, n) json_array_append_new((arr), json_stringn((s), (n)))
#define T_APPEND_ITEM(arr, v)      json_array_append((arr), (v)) /* shared */
#define T_ARRAY_REMOVE(arr, i)     json_array_remove((arr), (i))
#define T_SET(o, key, v)           json_object_set_new((o), (key), (v))
#define T_DEL(o, key)              json_object_del((o), (key))
#define T_DROP                     json_decref
#include "gateway/tree_iter.h"
#include "gateway/consent_rules.h"

/* ---------------------------------------------------------------- the rules for jv values */

#define GET_JV(obj, lit) sluice_jv_object_getn(obj, lit, sizeof(lit) - 1)

/* A copy of an item of another list: a jv value lives in one place (json/jv.h). */
static int append_copy_jv(sluice_json_arena_t *a, sluice_jv_t *arr, const sluice_jv_t *v)
{
    return sluice_jv_array_append(a, arr, sluice_jv_copy(a, v));
}

/* sluice_jv_string_value in line: every category is read twice per normalisation, which runs twice
 * an event (here and in the data layer), and the call cost more than the read. */
static inline const char *string_jv(const sluice_jv_t *v, size_t *n)
{
    if (!sluice_jv_is_string(v))
        return NULL;
    *n = v->len;
    return v->u.s;
}

#define T(name)                    T_CAT(name, jv)
#define T_VALUE                    sluice_jv_t
#define T_NORMALIZE_GET            sluice_consent_normalize_get_jv
#define T_GPC                      sluice_consent_gpc_jv
#define T_XP                       , sluice_json_arena_t *a
#define T_XA                       , a
#define T_GET                      GET_JV
#define T_OBJECT_GET               sluice_jv_object_get
#define T_IS_ARRAY                 sluice_jv_is_array
#define T_IS_OBJECT                sluice_jv_is_object
#define T_IS_TRUE                  sluice_jv_is_true
#define T_IS_FALSE(v)              (sluice_jv_type(v) == SLUICE_JV_FALSE)
#define T_STRING_VALUE             string_jv
#define T_OBJECT_SIZE              sluice_jv_object_size
#define T_ARRAY_SIZE               sluice_jv_array_size
#define T_ARRAY_GET                sluice_jv_array_get
#define T_ARRAY_NEW()              sluice_jv_array(a)
#define T_OBJECT_NEW()             sluice_jv_object(a)
#define T_TRUE_NEW()               sluice_jv_bool(a, 1)
#define T_APPEND_STRING(arr, s, n) sluice_jv_array_append(a, (arr), sluice_jv_string(a, (s), (n)))
#define T_APPEND_ITEM(arr, v)      append_copy_jv(a, (arr), (v))
#define T_ARRAY_REMOVE(arr, i)     sluice_jv_array_remove((arr), (i))
#define T_SET(o, key, v)           sluice_jv_object_set(a, (o), (key), (v))
#define T_DEL(o, key)              sluice_jv_object_del((o), (key))
#define T_DROP(v)                  (void)(v) /* arena memory: goes with the arena */
#define T_ITER_JV
#include "gateway/tree_iter.h"
#include "gateway/consent_rules.h"
#undef T_ITER_JV
#undef T_CAT
#undef T_CAT2

int sluice_consent_normalize(json_t *event, const sluice_consent_config_t *c)
{
    json_t *cats, *ctx;
    return sluice_consent_normalize_get(event, c, &cats, &ctx);
}

int sluice_consent_normalize_jv(sluice_jv_t *event, const sluice_consent_config_t *c, sluice_json_arena_t *a)
{
    sluice_jv_t *cats, *ctx;
    return sluice_consent_normalize_get_jv(event, c, &cats, &ctx, a);
}

/*
 * The org data layer: consent, drop, hash, mask over one event, recording what was done by
 * rule path. Fail closed throughout: a value that cannot be hashed or masked is removed, never
 * passed on. Event-loop thread of the request.
 */
#include "gateway/datalayer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/hash.h"
#include "gateway/consent.h"
#include "json/write.h"

/* What identifies the person: their ids (an alias's previousId, an SDK's external ids, a phone's
 * device, advertising and push ids), traits, address and agent, the ids vendors' cookies and ad
 * clicks gave them. context.device.type and the like stay: they say what, not who. Segment's
 * SDKs name the external ids context.externalIds, RudderStack's (every platform's putExternalId
 * or externalId option) context.externalId: both, or a RudderStack app's CRM id and e-mail
 * passed a strip. */
const char *const sluice_datalayer_identifying[] = {"userId",
                                                    "previousId",
                                                    "traits",
                                                    "context.ip",
                                                    "context.userAgent",
                                                    "context.vendorIds",
                                                    "context.clickIds",
                                                    "context.traits",
                                                    "context.identity",
                                                    "context.externalIds",
                                                    "context.externalId",
                                                    "context.device.id",
                                                    "context.device.advertisingId",
                                                    "context.device.token",
                                                    NULL};

#define IDENTIFYING_COUNT (sizeof(sluice_datalayer_identifying) / sizeof(sluice_datalayer_identifying[0]) - 1)

/* The identifying paths, parsed once per process (read-only afterwards; never freed). */
static sluice_path_t identifying_paths[IDENTIFYING_COUNT];
static pthread_once_t identifying_once = PTHREAD_ONCE_INIT;

static void parse_identifying(void)
{
    for (size_t i = 0; i < IDENTIFYING_COUNT; i++) {
        char err[64];
        if (sluice_path_parse(sluice_datalayer_identifying[i], &identifying_paths[i], err, sizeof(err)) != 0)
            memset(&identifying_paths[i], 0, sizeof(identifying_paths[i])); /* never: they are ours */
    }
}

/* Most rules start with one of a few keys: those looked up once per event (datalayer_rules.h). */
#define FIRSTS_MAX 8

/* 1 when a path goes through every element of an array ([*]): its values are not one field. */
static int has_all(const sluice_path_t *p)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->segs[i].kind == SLUICE_PATH_ALL)
            return 1;
    return 0;
}

/* A jansson string's bytes and length, or NULL for other types. */
static inline const char *string_json(const json_t *v, size_t *n)
{
    if (!json_is_string(v))
        return NULL;
    *n = json_string_length(v);
    return json_string_value(v);
}

/* A string nothing else holds is rewritten where it is (no new value, no member lookup);
 * otherwise the hash replaces it. */
static int replace_hex_json(json_t *parent, const char *key, size_t index, json_t *value, const char *hex)
{
    if (json_is_string(value) && value->refcount == 1)
        return json_string_setn_nocheck(value, hex, 64);
    if (key != NULL)
        return json_object_set_new_nocheck(parent, key, json_stringn_nocheck(hex, 64)); /* the event's own key */
    return json_array_set_new(parent, index, json_stringn_nocheck(hex, 64));
}

/* The rules for jansson's tree (sluice_datalayer_apply). */
#define T_CAT2(a, b)                     a##_##b
#define T_CAT(a, b)                      T_CAT2(a, b)
#define T(name)                          T_CAT(name, json)
#define T_VALUE                          json_t
#define T_RESULT                         sluice_dl_result_t
#define T_CB                             sluice_path_visit_cb
#define T_XP                             /* nothing: jansson allocates */
#define T_XA                             /* nothing */
#define T_X_UNUSED                       ((void)0)
#define T_ARENA_FIELD                    /* nothing */
#define T_ARENA_LOCAL(ctx)               (void)(ctx)
#define T_ARENA_INIT(ctx)                (void)0
#define T_KEYLEN_P                       /* nothing: keys end with a NUL */
#define T_KEYLEN                         0
#define T_VISIT                          sluice_path_visit
#define T_VISIT_FIRST                    sluice_path_visit_first
#define T_GETN                           json_object_getn
#define T_DELN(o, k, n)                  json_object_del((o), (k))
#define T_ARRAY_PUT                      json_array_set_new
#define T_ARRAY_SIZE                     json_array_size
#define T_ARRAY_GET                      json_array_get
#define T_STRING_EQ(v, s)                (json_is_string(v) && strcmp(json_string_value(v), (s)) == 0)
#define T_NOTED(v, s)                    (strcmp(json_string_value(v), (s)) == 0)
#define T_STRING_VALUE                   string_json
#define T_IS_INTEGER                     json_is_integer
#define T_INTEGER_VALUE                  json_integer_value
#define T_IS_NULL                        json_is_null
#define T_ARRAY_NULL(a, i)               json_array_set_new((a), (i), json_null())
#define T_OBJECT_NEW()                   json_object()
#define T_ARRAY_NEW()                    json_array()
#define T_STRINGN_NEW                    json_stringn_nocheck
#define T_STRING_NEW                     json_string_nocheck
#define T_SET_NEW                        json_object_set_new_nocheck
#define T_SET_LIT                        json_object_set_new_nocheck
#define T_PLAIN_NEW                      json_string_nocheck
#define T_PATH_NEW(p)                    json_string_nocheck((p)->text)
#define T_REPLACE_HEX(pa, k, n, i, v, h) replace_hex_json((pa), (k), (i), (v), (h))
#define T_APPEND_NEW                     json_array_append_new
#define T_DROP                           json_decref
#define T_CONSENT_GET                    sluice_consent_normalize_get
#define T_GETK(o, k, n)                  json_object_get((o), (k))
#define T_SETK(o, k, n, v)               json_object_set_new_nocheck((o), (k), (v)) /* a key the parent holds */
#define T_CSTR                           json_string_value
#define T_TYPEOF                         json_typeof
#define T_ENCODE                         sluice_json_encode
#define T_COPY                           json_deep_copy
#define T_HOLD                           json_incref
#define T_RELEASE                        json_decref
#define T_MASK(mk, m, pa, k, i, v, c)                                                                                  \
    (mk)->mask((mk)->ud, (m)->org, (m)->rule_index, (m)->event, (m)->event_name, (pa), (k), (i), (v), (c), (m)->nums)
#include "gateway/datalayer_rules.h"

/* jv strings are made in the arena: a hash always replaces the value. */
static int replace_hex_jv(sluice_json_arena_t *a, sluice_jv_t *parent, const char *key, size_t key_len, size_t index,
                          const char *hex)
{
    sluice_jv_t *s = sluice_jv_string_plain(a, hex, 64); /* hex digits: written without a scan */
    if (s == NULL)
        return -1;
    return key != NULL ? sluice_jv_object_setn(a, parent, key, key_len, s) : sluice_jv_array_set(parent, index, s);
}

/* A privacy list's item: a path's text, written as its bytes when it needs no escape (nearly
 * every path; set at config load), without the writer's scan. */
static sluice_jv_t *path_string_jv(sluice_json_arena_t *a, const sluice_path_t *p)
{
    return p->text_plain ? sluice_jv_string_plain(a, p->text, p->text_len) : sluice_jv_string(a, p->text, p->text_len);
}

/* The rules for jv's tree (sluice_datalayer_apply_jv). */
#define T(name)                          T_CAT(name, jv)
#define T_VALUE                          sluice_jv_t
#define T_RESULT                         sluice_dl_result_jv_t
#define T_CB                             sluice_path_visit_jv_cb
#define T_XP                             , sluice_json_arena_t *a
#define T_XA                             , a
#define T_X_UNUSED                       ((void)a)
#define T_ARENA_FIELD                    sluice_json_arena_t *a;
#define T_ARENA_LOCAL(ctx)               sluice_json_arena_t *a = (ctx)->a
#define T_ARENA_INIT(ctx)                ((ctx).a = a)
#define T_KEYLEN_P                       size_t key_len,
#define T_KEYLEN                         key_len
#define T_VISIT                          sluice_path_visit_jv
#define T_VISIT_FIRST                    sluice_path_visit_first_jv
#define T_GETN                           sluice_jv_object_getn
#define T_DELN                           sluice_jv_object_deln
#define T_ARRAY_PUT                      sluice_jv_array_set
#define T_ARRAY_SIZE                     sluice_jv_array_size
#define T_ARRAY_GET                      sluice_jv_array_get
#define T_STRING_EQ                      sluice_jv_string_is
#define T_NOTED                          sluice_jv_string_is
#define T_STRING_VALUE                   sluice_jv_string_value
#define T_IS_INTEGER                     sluice_jv_is_integer
#define T_INTEGER_VALUE                  sluice_jv_integer_value
#define T_IS_NULL                        sluice_jv_is_null
#define T_ARRAY_NULL                     sluice_jv_array_clear
#define T_OBJECT_NEW()                   sluice_jv_object(a)
#define T_ARRAY_NEW()                    sluice_jv_array(a)
#define T_STRINGN_NEW(s, n)              sluice_jv_string(a, (s), (n))
#define T_STRING_NEW(s)                  sluice_jv_string(a, (s), strlen(s))
#define T_SET_NEW(o, k, v)               sluice_jv_object_set(a, (o), (k), (v))
#define T_SET_LIT(o, lit, v)             SLUICE_JV_SET_LIT(a, (o), lit, (v))
#define T_PLAIN_NEW(lit)                 sluice_jv_string_plain(a, (lit), sizeof(lit) - 1)
#define T_PATH_NEW(p)                    path_string_jv(a, (p))
#define T_REPLACE_HEX(pa, k, n, i, v, h) replace_hex_jv(a, (pa), (k), (n), (i), (h))
#define T_APPEND_NEW(arr, v)             sluice_jv_array_append(a, (arr), (v))
#define T_DROP(v)                        (void)(v) /* arena memory: goes with the arena */
#define T_CONSENT_GET(e, c, cats, ctx)   sluice_consent_normalize_get_jv((e), (c), (cats), (ctx), a)
#define T_GETK                           sluice_jv_object_getn
#define T_SETK(o, k, n, v)               sluice_jv_object_setn(a, (o), (k), (n), (v))
#define T_CSTR(v)                        sluice_jv_string_cstr(a, (v), NULL)
#define T_TYPEOF                         sluice_jv_type
#define T_ENCODE(v, nums, n)             ((void)(nums), sluice_jv_encode((v), (n))) /* the tree's own texts */
#define T_COPY(v)                        sluice_jv_copy(a, (v))
#define T_HOLD(v)                        (v) /* arena values are never rewritten in place nor freed */
#define T_RELEASE(v)                     (void)(v)
#define T_MASK(mk, m, pa, k, i, v, c)                                                                                  \
    ((mk)->mask_jv != NULL ? (mk)->mask_jv((mk)->ud, (m)->org, (m)->rule_index, (m)->event, (m)->event_name, a, (pa),  \
                                           (k), key_len, (i), (v), (c))                                                \
                           : SLUICE_MASK_FAILED)
#include "gateway/datalayer_rules.h"
#undef T_CAT
#undef T_CAT2

/* ---------------------------------------------------------------- identity's kept click ids */

int sluice_datalayer_click_covered(const sluice_org_t *org, const char *name)
{
    /* Identity keeps a click id as sent, before the data layer runs: with a rule on
     * context.clickIds.<name> (or on context.clickIds, or context, which reach it) Redis kept for
     * the vendor's window the value the org removes, masks or hashes in every event. A probe event
     * holding only that click id tells whether any rule reaches it, as the rules walk events. */
    json_t *probe = json_pack("{s:{s:{s:s}}}", "context", "clickIds", name, "x");
    if (probe == NULL)
        return 1; /* fail closed: nothing kept */
    int found = 0;
    for (size_t i = 0; i < org->mask_rule_count && !found; i++)
        sluice_path_visit(probe, &org->mask_rules[i].path, any_cb_json, &found);
    for (size_t i = 0; i < org->drop_count && !found; i++)
        sluice_path_visit(probe, &org->drop[i], any_cb_json, &found);
    for (size_t i = 0; i < org->hash_rule_count && !found; i++)
        sluice_path_visit(probe, &org->hash_rules[i].path, any_cb_json, &found);
    json_decref(probe);
    return found;
}

/* ---------------------------------------------------------------- identity's form of userId */

int sluice_datalayer_user_form(const sluice_org_t *org, const char *uid, char out[65])
{
    /* A mask or drop rule on userId keeps the raw id out of Kafka, so Redis must not keep it for
     * link_ttl_days either (it did: `HGET <prefix>id:<org>:<id> userId` gave the id as sent). A
     * mask plugin need not give the same answer twice, so there is no form to link: nothing is. */
    for (size_t i = 0; i < org->mask_rule_count; i++)
        if (strcmp(org->mask_rules[i].path.text, "userId") == 0)
            return -1;
    for (size_t i = 0; i < org->drop_count; i++)
        if (strcmp(org->drop[i].text, "userId") == 0)
            return -1;
    const sluice_hash_rule_t *rule = NULL;
    for (size_t i = 0; i < org->hash_rule_count && rule == NULL; i++)
        if (strcmp(org->hash_rules[i].path.text, "userId") == 0)
            rule = &org->hash_rules[i];
    size_t len = strlen(uid);
    if (rule == NULL || sluice_is_sha256_hex(uid, len))
        return 0;
    if (sluice_sha256_hex_lower(uid, len, out) == 0)
        return 1; /* as hash_cb writes a hash sent in capitals */
    char norm[1024];
    long n = sluice_normalize(rule->normalizer, SLUICE_VARIANT_DEFAULT, uid, len, rule->default_country_code, norm,
                              sizeof(norm));
    int rc = n >= 0 && sluice_sha256_hex(norm, (size_t)n, out) == 0 ? 1 : -1;
    sluice_secure_zero(norm, sizeof(norm));
    return rc;
}

/* ---------------------------------------------------------------- apply */

int sluice_datalayer_apply(const sluice_org_t *org, unsigned variants, const sluice_masker_t *masker, json_t *event,
                           sluice_jsonnum_t *nums, sluice_dl_result_t *res, sluice_dl_stats_t *stats)
{
    lists_json l;
    firsts_json firsts;
    int head = apply_head_json(org, variants, event, res, stats, &l, &firsts);
    if (head != 0)
        return head < 0 ? -1 : 0;
    return apply_masks_json(org, masker, event, nums, res, stats, &l, &firsts);
}

int sluice_datalayer_apply_jv(const sluice_org_t *org, unsigned variants, const sluice_masker_t *masker,
                              sluice_jv_t *event, sluice_json_arena_t *a, sluice_dl_result_jv_t *res,
                              sluice_dl_stats_t *stats)
{
    lists_jv l;
    firsts_jv firsts;
    int head = apply_head_jv(org, variants, event, res, stats, &l, &firsts, a);
    if (head != 0)
        return head < 0 ? -1 : 0;
    return apply_masks_jv(org, masker, event, NULL, res, stats, &l, &firsts, a);
}

void sluice_dl_result_dispose(sluice_dl_result_t *res)
{
    json_decref(res->privacy);
    json_decref(res->hashes);
    res->privacy = res->hashes = NULL;
}

unsigned sluice_datalayer_variants(const sluice_org_t *org)
{
    unsigned bits = 0;
    for (size_t i = 0; i < org->integration_count; i++) {
        if (!org->integrations[i].enabled)
            continue;
        sluice_hash_variant_t v = sluice_hash_variant_for_vendor(org->integrations[i].vendor);
        if (v != SLUICE_VARIANT_DEFAULT)
            bits |= 1u << v;
        /* Reddit's worker read TikTok's variant before `reddit` existed, and during a rolling
         * upgrade (or a rollback) such a worker reads what this gateway writes: without TikTok's
         * phone it sent Meta's (no '+'), which matches no Reddit user. TikTok's e-mail is the
         * field itself, so only a phone's hash is added. */
        if (v == SLUICE_VARIANT_REDDIT)
            bits |= 1u << SLUICE_VARIANT_TIKTOK;
    }
    return bits;
}

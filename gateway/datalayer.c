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
#define T_REPLACE_HEX(pa, k, n, i, v, h) replace_hex_json((pa), (k), (i), (v), (h))
#define T_APPEND_NEW                     json_array_append_new
#define T_DROP                           json_decref
#define T_CONSENT_GET                    sluice_consent_normalize_get
#include "gateway/datalayer_rules.h"

/* jv strings are made in the arena: a hash always replaces the value. */
static int replace_hex_jv(sluice_json_arena_t *a, sluice_jv_t *parent, const char *key, size_t key_len, size_t index,
                          const char *hex)
{
    sluice_jv_t *s = sluice_jv_string(a, hex, 64);
    if (s == NULL)
        return -1;
    return key != NULL ? sluice_jv_object_setn(a, parent, key, key_len, s) : sluice_jv_array_set(parent, index, s);
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
#define T_REPLACE_HEX(pa, k, n, i, v, h) replace_hex_jv(a, (pa), (k), (n), (i), (h))
#define T_APPEND_NEW(arr, v)             sluice_jv_array_append(a, (arr), (v))
#define T_DROP(v)                        (void)(v) /* arena memory: goes with the arena */
#define T_CONSENT_GET(e, c, cats)        sluice_consent_normalize_get_jv((e), (c), (cats), a)
#include "gateway/datalayer_rules.h"
#undef T_CAT
#undef T_CAT2

/* ---------------------------------------------------------------- mask */

/* track events are named by `event`, the others by their type. */
static const char *event_name(const json_t *event)
{
    const char *type = json_string_value(json_object_getn(event, "type", 4));
    if (type != NULL && strcmp(type, "track") == 0) {
        const char *name = json_string_value(json_object_getn(event, "event", 5));
        if (name != NULL)
            return name;
    }
    return type;
}

typedef struct mask_ctx {
    const sluice_org_t *org;
    size_t rule_index;
    const sluice_masker_t *masker;
    json_t *event;
    const char *event_name;
    sluice_jsonnum_t *nums;
    sluice_dl_stats_t *stats;
    int masked, removed, rejected;
    /* The rule's own path, when its mirror holds a value: the one value it reached as sent and
     * the answer it got (references; visits > 1 leaves neither, as no one answer is the field's). */
    int record, visits;
    json_t *seen_in, *seen_out;
    /* The mirror: a copy equal to seen_in gets seen_out. */
    const json_t *reuse_in, *reuse_out;
} mask_ctx_t;

/* 1 when a plugin would be handed the same input for a and b: the same JSON type and text (a
 * number as it was sent: 1e2 and 100, or two integers beyond a double's precision, are not one
 * value to hmac). Out of memory counts as different. */
static int same_input(const json_t *a, const json_t *b, const sluice_jsonnum_t *nums)
{
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_string(a))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    size_t na = 0, nb = 0;
    char *ta = sluice_json_encode(a, nums, &na), *tb = ta != NULL ? sluice_json_encode(b, nums, &nb) : NULL;
    int same = tb != NULL && na == nb && memcmp(ta, tb, na) == 0;
    free(ta);
    free(tb);
    return same;
}

static int mask_cb(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    mask_ctx_t *m = ud;
    if (json_is_null(value))
        return 0;
    sluice_mask_outcome_t out = SLUICE_MASK_FAILED;
    if (m->reuse_in != NULL && same_input(value, m->reuse_in, m->nums)) {
        /* context.traits.X is the same field as traits.X: one answer for both. Asked again, a
         * plugin that is random by design (randomized_response) drew a second, independent report
         * of the same value in the same event, so the event spent twice the epsilon it promises. */
        json_t *copy = json_deep_copy(m->reuse_out);
        int rc = copy == NULL  ? -1
                 : key != NULL ? json_object_set_new_nocheck(parent, key, copy)
                               : json_array_set_new(parent, index, copy);
        out = rc == 0 ? SLUICE_MASK_REPLACED : SLUICE_MASK_FAILED; /* out of memory: removed, as any failure */
    } else {
        if (m->record && m->visits++ == 0)
            m->seen_in = json_incref(value); /* held: the masker then writes a new value, not over this one */
        if (m->masker != NULL)
            out = m->masker->mask(m->masker->ud, m->org, m->rule_index, m->event, m->event_name, parent, key, index,
                                  value, concrete, m->nums);
        if (m->record && m->visits == 1 && (out == SLUICE_MASK_REPLACED || out == SLUICE_MASK_UNCHANGED))
            m->seen_out = json_incref(key != NULL ? json_object_get(parent, key) : json_array_get(parent, index));
    }
    switch (out) {
    case SLUICE_MASK_REPLACED:
    case SLUICE_MASK_UNCHANGED:
        m->masked = 1;
        m->stats->masked++;
        return 0;
    case SLUICE_MASK_REMOVED:
        remove_value_json(parent, key, 0, index);
        m->removed = 1;
        m->stats->masked++;
        return 0;
    case SLUICE_MASK_FAILED: break;
    }
    m->stats->mask_failed++;
    remove_value_json(parent, key, 0, index);
    m->removed = 1;
    if (m->org->mask_rules[m->rule_index].on_error == SLUICE_MASK_ON_ERROR_REJECT) {
        m->rejected = 1;
        return 1; /* stop: the event is rejected anyway */
    }
    return 0;
}

static int has_all(const sluice_path_t *p)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->segs[i].kind == SLUICE_PATH_ALL)
            return 1;
    return 0;
}

/* Stops a walk at the first value there is (found = 1). */
static int any_cb(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    (void)parent, (void)key, (void)index, (void)concrete;
    if (json_is_null(value))
        return 0;
    *(int *)ud = 1;
    return 1;
}

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
        sluice_path_visit(probe, &org->mask_rules[i].path, any_cb, &found);
    for (size_t i = 0; i < org->drop_count && !found; i++)
        sluice_path_visit(probe, &org->drop[i], any_cb, &found);
    for (size_t i = 0; i < org->hash_rule_count && !found; i++)
        sluice_path_visit(probe, &org->hash_rules[i].path, any_cb, &found);
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

    const char *name = NULL;
    int have_name = 0;
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        json_t *own_in = NULL, *own_out = NULL; /* the rule's own field as sent, and its answer */
        for (int k = 0; k < 2; k++) {
            const sluice_path_t *p = k == 0 ? &org->mask_rules[i].path : &org->mask_rules[i].mirror;
            if (p->text == NULL)
                continue;
            /* The name is read once for all mask rules; only a rule on a whole member (the event's
             * own `event` or `type`, say) can change it, and the next rule reads it again. */
            if (!have_name && masker != NULL) {
                name = event_name(event);
                have_name = 1;
            }
            mask_ctx_t m = {.org = org,
                            .rule_index = i,
                            .masker = masker,
                            .event = event,
                            .event_name = name,
                            .nums = nums,
                            .stats = stats,
                            .reuse_in = own_in,
                            .reuse_out = own_out};
            /* Only when the mirror holds something (a held value costs the in-place rewrite), and
             * for a path to one field: elements of two arrays are not known to be one another's. */
            if (k == 0 && org->mask_rules[i].mirror.text != NULL && !has_all(p)) {
                int found = 0;
                visit_json(&firsts, &org->mask_rules[i].mirror, any_cb, &found);
                m.record = found;
            }
            visit_json(&firsts, p, mask_cb, &m);
            if (k == 0 && m.visits == 1 && m.seen_out != NULL) {
                own_in = m.seen_in;
                own_out = m.seen_out;
            } else {
                json_decref(m.seen_in);
                json_decref(m.seen_out);
            }
            if (p->count < 2)
                have_name = 0;
            if (m.masked)
                note_json(l.masked, p->text);
            if (m.removed)
                note_json(l.dropped, p->text);
            if (m.rejected) {
                json_decref(own_in);
                json_decref(own_out);
                res->rejected = 1;
                snprintf(res->reject_path, sizeof(res->reject_path), "%s", p->text);
                return 0;
            }
        }
        json_decref(own_in);
        json_decref(own_out);
    }
    return 0;
}

int sluice_datalayer_apply_jv(const sluice_org_t *org, unsigned variants, sluice_jv_t *event, sluice_json_arena_t *a,
                              sluice_dl_result_jv_t *res, sluice_dl_stats_t *stats)
{
    if (org->mask_rule_count > 0) {
        memset(res, 0, sizeof(*res));
        return -2; /* mask rules are not on jv yet: refused, never skipped */
    }
    lists_jv l;
    firsts_jv firsts;
    int head = apply_head_jv(org, variants, event, res, stats, &l, &firsts, a);
    return head < 0 ? -1 : 0;
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

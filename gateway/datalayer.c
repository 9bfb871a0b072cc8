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

/* Removes a reached value: object members are deleted, array elements become null (deleting
 * would shift the indices the walk is using). */
static void remove_value(json_t *parent, const char *key, size_t index)
{
    if (key != NULL)
        json_object_del(parent, key);
    else
        json_array_set_new(parent, index, json_null());
}

/* The three lists of res->privacy, held so a note costs no member lookup. */
typedef struct lists {
    json_t *hashed, *masked, *dropped;
} lists_t;

/* An empty array set as privacy[name]; borrowed, or NULL. */
static json_t *new_list(json_t *privacy, const char *name)
{
    json_t *arr = json_array();
    return json_object_set_new_nocheck(privacy, name, arr) == 0 ? arr : NULL;
}

static void note(json_t *arr, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (strcmp(json_string_value(v), path) == 0)
            return;
    }
    json_array_append_new(arr, json_string_nocheck(path)); /* a config or event path: UTF-8 already */
}

/* ---------------------------------------------------------------- first keys */

/* The event's members the rules' paths start with, each looked up once per event: most rules
 * start with one of a few keys (traits, context, properties). Only a one-key path can change the
 * event's own members (its callback's parent is the event), so such a walk empties the cache. */
#define FIRSTS_MAX 8

typedef struct firsts {
    json_t *root;
    size_t n;
    struct {
        const char *key;
        size_t len;
        json_t *value; /* NULL: the event has no such member */
    } e[FIRSTS_MAX];
} firsts_t;

static int visit(firsts_t *f, const sluice_path_t *p, sluice_path_visit_cb cb, void *ud)
{
    if (p->count < 2 || p->segs[0].kind != SLUICE_PATH_KEY) {
        int rc = sluice_path_visit(f->root, p, cb, ud);
        f->n = 0;
        return rc;
    }
    const sluice_path_seg_t *k = &p->segs[0];
    for (size_t i = 0; i < f->n; i++) {
        if (f->e[i].len == k->key_len && memcmp(f->e[i].key, k->key, k->key_len) == 0)
            return sluice_path_visit_first(f->root, f->e[i].value, p, cb, ud);
    }
    json_t *first = json_object_getn(f->root, k->key, k->key_len);
    if (f->n < FIRSTS_MAX) {
        f->e[f->n].key = k->key;
        f->e[f->n].len = k->key_len;
        f->e[f->n].value = first;
        f->n++;
    }
    return sluice_path_visit_first(f->root, first, p, cb, ud);
}

/* ---------------------------------------------------------------- consent */

static int has_categories(const json_t *cats, const sluice_consent_config_t *c)
{
    for (size_t r = 0; r < c->required_count; r++) {
        int found = 0;
        size_t i;
        json_t *v;
        json_array_foreach(cats, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), c->required[r]) == 0) {
                found = 1;
                break;
            }
        }
        if (!found)
            return 0;
    }
    return 1;
}

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

static int strip_cb(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    (void)value;
    (void)concrete;
    (void)ud;
    remove_value(parent, key, index);
    return 0;
}

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

/* Consent "strip": the event stays, everything that identifies the person goes. */
static void strip_identifying(const sluice_org_t *org, json_t *event, const lists_t *l)
{
    pthread_once(&identifying_once, parse_identifying);
    for (size_t i = 0; i < IDENTIFYING_COUNT; i++) {
        if (identifying_paths[i].count == 0)
            continue;
        sluice_path_visit(event, &identifying_paths[i], strip_cb, NULL);
        note(l->dropped, sluice_datalayer_identifying[i]);
    }
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        sluice_path_visit(event, &org->hash_rules[i].path, strip_cb, NULL);
        note(l->dropped, org->hash_rules[i].path.text);
    }
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        sluice_path_visit(event, &org->mask_rules[i].path, strip_cb, NULL);
        note(l->dropped, org->mask_rules[i].path.text);
    }
}

/* ---------------------------------------------------------------- drop */

typedef struct drop_ctx {
    int hit;
} drop_ctx_t;

static int drop_cb(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    (void)value;
    (void)concrete;
    remove_value(parent, key, index);
    ((drop_ctx_t *)ud)->hit = 1;
    return 0;
}

/* ---------------------------------------------------------------- hash */

typedef struct hash_ctx {
    const sluice_hash_rule_t *rule;
    unsigned variants;
    sluice_dl_result_t *res;
    sluice_dl_stats_t *stats;
    int hashed, failed;
} hash_ctx_t;

/* A value under a hash rule that cannot be hashed is removed, never passed on raw. */
static int hash_fail(hash_ctx_t *h, json_t *parent, const char *key, size_t index)
{
    remove_value(parent, key, index);
    h->failed = 1;
    h->stats->hash_failed++;
    return 0;
}

static int hash_cb(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    hash_ctx_t *h = ud;
    char numbuf[64];
    const char *in;
    size_t len;
    if (json_is_string(value)) {
        in = json_string_value(value);
        len = json_string_length(value);
    } else if (json_is_integer(value)) {
        len = (size_t)snprintf(numbuf, sizeof(numbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        in = numbuf;
    } else if (json_is_null(value)) {
        return 0;
    } else {
        return hash_fail(h, parent, key, index); /* objects, arrays, reals, booleans: nothing to hash */
    }
    if (sluice_is_sha256_hex(in, len)) {
        h->hashed = 1; /* already hashed upstream: never hash twice */
        return 0;
    }

    char norm[1024], hex[65];
    /* Hashed upstream in capitals: the same hash, written the way vendors match it. Hashing it
     * again (it normalised like any string) gave Meta and TikTok a hash of a hash, and the phone
     * normaliser a hash of the hash's digits: the match key was lost without a word. */
    int prehashed = sluice_sha256_hex_lower(in, len, hex) == 0;
    if (!prehashed) {
        long n = sluice_normalize(h->rule->normalizer, SLUICE_VARIANT_DEFAULT, in, len, h->rule->default_country_code,
                                  norm, sizeof(norm));
        if (n < 0 || sluice_sha256_hex(norm, (size_t)n, hex) != 0)
            return hash_fail(h, parent, key, index);
    }
    /* Variants before replacing the value, which is still the raw one; only those that differ
     * from the default hash travel in the envelope. */
    json_t *vhashes = NULL;
    for (int v = 1; v < SLUICE_VARIANT_COUNT && !prehashed; v++) {
        if (!(h->variants & (1u << v)) || !sluice_normalize_variant_differs(h->rule->normalizer, v))
            continue;
        char vnorm[1024], vhex[65];
        long vn = sluice_normalize(h->rule->normalizer, (sluice_hash_variant_t)v, in, len,
                                   h->rule->default_country_code, vnorm, sizeof(vnorm));
        if (vn < 0 || sluice_sha256_hex(vnorm, (size_t)vn, vhex) != 0 || memcmp(vhex, hex, 64) == 0)
            continue;
        if (vhashes == NULL)
            vhashes = json_object();
        json_object_set_new_nocheck(vhashes, sluice_hash_variant_name((sluice_hash_variant_t)v),
                                    json_stringn_nocheck(vhex, 64));
    }
    /* A string nothing else holds is rewritten where it is (no new value, no member lookup);
     * otherwise the hash replaces it. Out of memory, the raw value is removed, not kept. */
    int rc;
    if (json_is_string(value) && value->refcount == 1)
        rc = json_string_setn_nocheck(value, hex, 64);
    else if (key != NULL)
        rc = json_object_set_new_nocheck(parent, key, json_stringn_nocheck(hex, 64)); /* the event's own key */
    else
        rc = json_array_set_new(parent, index, json_stringn_nocheck(hex, 64));
    if (rc != 0) {
        json_decref(vhashes);
        return hash_fail(h, parent, key, index);
    }
    if (vhashes != NULL) {
        if (h->res->hashes == NULL)
            h->res->hashes = json_object();
        json_object_set_new_nocheck(h->res->hashes, concrete, vhashes);
    }
    h->hashed = 1;
    if (!prehashed)
        h->stats->hashed[h->rule->normalizer]++;
    return 0;
}

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
        remove_value(parent, key, index);
        m->removed = 1;
        m->stats->masked++;
        return 0;
    case SLUICE_MASK_FAILED: break;
    }
    m->stats->mask_failed++;
    remove_value(parent, key, index);
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
    memset(res, 0, sizeof(*res));
    /* Built member by member: json_pack would parse its format string for every event. */
    lists_t l;
    if ((res->privacy = json_object()) == NULL || (l.hashed = new_list(res->privacy, "hashed")) == NULL ||
        (l.masked = new_list(res->privacy, "masked")) == NULL ||
        (l.dropped = new_list(res->privacy, "dropped")) == NULL) {
        json_decref(res->privacy);
        res->privacy = NULL;
        return -1;
    }

    /* Consent in Segment's or RudderStack's format counts like sluice's own. */
    json_t *cats;
    if (sluice_consent_normalize_get(event, &org->consent, &cats) != 0)
        return -1;
    if (org->consent.required_count > 0 && !has_categories(cats, &org->consent)) {
        switch (org->consent.policy) {
        case SLUICE_CONSENT_ALLOW: break;
        case SLUICE_CONSENT_DROP:
            res->drop_event = 1;
            stats->consent_dropped_events++;
            return 0;
        case SLUICE_CONSENT_STRIP:
            strip_identifying(org, event, &l);
            json_object_set_new_nocheck(res->privacy, "consent", json_string_nocheck("stripped"));
            stats->consent_stripped_events++;
            break;
        }
    }

    /* Each rule acts on its path, then on its mirror (context.traits.X of a rule on traits.X). */
    firsts_t firsts;
    firsts.root = event;
    firsts.n = 0;
    for (size_t i = 0; i < org->drop_count; i++) {
        for (int k = 0; k < 2; k++) {
            const sluice_path_t *p = k == 0 ? &org->drop[i] : org->drop_mirrors ? &org->drop_mirrors[i] : NULL;
            if (p == NULL || p->text == NULL)
                continue;
            drop_ctx_t d = {0};
            visit(&firsts, p, drop_cb, &d);
            if (d.hit) {
                note(l.dropped, p->text);
                stats->dropped++;
            }
        }
    }

    for (size_t i = 0; i < org->hash_rule_count; i++) {
        for (int k = 0; k < 2; k++) {
            const sluice_path_t *p = k == 0 ? &org->hash_rules[i].path : &org->hash_rules[i].mirror;
            if (p->text == NULL)
                continue;
            hash_ctx_t h = {.rule = &org->hash_rules[i], .variants = variants, .res = res, .stats = stats};
            visit(&firsts, p, hash_cb, &h);
            if (h.hashed)
                note(l.hashed, p->text);
            if (h.failed)
                note(l.dropped, p->text);
        }
    }

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
                visit(&firsts, &org->mask_rules[i].mirror, any_cb, &found);
                m.record = found;
            }
            visit(&firsts, p, mask_cb, &m);
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
                note(l.masked, p->text);
            if (m.removed)
                note(l.dropped, p->text);
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

/*
 * The data layer's consent policy, `drop`, `hash_fields` and `mask` (datalayer.h), written once for both
 * trees an event can be held in (issue 17): gateway/datalayer.c includes this file twice, once
 * with jansson's accessors (for sluice_datalayer_apply) and once with json/jv.h's (for
 * sluice_datalayer_apply_jv), so that the two cannot drift: the same values removed or hashed,
 * the same privacy record and hashes in the same order, the same counters. The includer defines:
 *
 *   T_VALUE, T(name)              the node type and the tree's name for a static helper
 *   T_RESULT                      the result type (privacy and hashes members of T_VALUE *)
 *   T_XP, T_XA                    the arena as an extra parameter and argument (jv), or nothing
 *   T_KEYLEN_P, T_KEYLEN          a visitor's key length parameter and its value (jv), or
 *                                 nothing and 0 (jansson's keys end with a NUL)
 *   T_VISIT, T_VISIT_FIRST        config/path.h's walks for the tree
 *   T_GETN(o, key, n)             o's member, or NULL
 *   T_DELN(o, key, n)             removes o's member
 *   T_ARRAY_PUT(arr, i, v)        arr[i] = v, a new value; 0 or -1
 *   T_ARRAY_SIZE, T_ARRAY_GET
 *   T_STRING_EQ(v, s)             1 when v is a string equal to the C string s
 *   T_NOTED(v, s)                 the same for v, an item of a privacy list (a string)
 *   T_STRING_VALUE(v, &n)         a string's bytes and length, or NULL for other types
 *   T_IS_INTEGER, T_INTEGER_VALUE, T_IS_NULL
 *   T_ARRAY_NULL(arr, i)          arr[i] = null, never failing for memory (jansson's null is static,
 *                                 jv's item becomes null in place): a removal must not fail open
 *   T_OBJECT_NEW(), T_ARRAY_NEW(), T_STRINGN_NEW(s, n), T_STRING_NEW(s)  new values
 *   T_SET_NEW(o, key, v)          o[key] = v, a new value with a C string key (UTF-8); 0 or -1
 *   T_SET_LIT(o, lit, v)          T_SET_NEW with a key literal that needs no escape in JSON (jv
 *                                 keeps it framed: written without the writer's scan)
 *   T_PATH_NEW(p)                 a new string of a config path's text (jv: written as its bytes
 *                                 when p->text_plain)
 *   T_PLAIN_NEW(lit)              T_STRING_NEW of a literal with nothing to escape (jv: written as
 *                                 its bytes)
 *   T_REPLACE_HEX(parent, key, n, index, value, hex)  puts hex[0..64) where value is; 0 or -1
 *   T_APPEND_NEW(arr, v)          appends a new value
 *   T_DROP(v)                     gives back a new value that was not set (NULL allowed)
 *   T_CONSENT_GET(event, c, &cats, &ctx)  gateway/consent.h's normalize_get for the tree
 *   T_GETK(o, key, n), T_SETK(o, key, n, v)  a visitor's parent member (the key it was reached
 *                                 through) read, and set to a new value (0 or -1)
 *   T_CSTR(v)                     a string as a C string (NULL for other types or out of memory)
 *   T_TYPEOF(v)                   the value's type, as the tree tells types apart
 *   T_ENCODE(v, nums, &n)         v's compact JSON text, malloc'd (numbers as sent), or NULL
 *   T_COPY(v)                     a deep copy of v, or NULL
 *   T_HOLD(v), T_RELEASE(v)       keep v from being rewritten in place and freed, and let go
 *   T_MASK(masker, m, parent, key, index, value, concrete)  the masker's call for the tree
 *
 *   T_ARENA_FIELD, T_ARENA_LOCAL(ctx), T_ARENA_INIT(ctx)   the arena a in a visitor's context:
 *                                 its member, the local `a` read from it, and its setting (jv);
 *                                 nothing for jansson, which allocates
 * Not a header: no include guard (it undefines the tree's macros at its end), nothing for other
 * files. Runs where gateway/datalayer.c does.
 */

/* Removes a reached value: object members are deleted, array elements become null (deleting
 * would shift the indices the walk is using). */
static void T(remove_value)(T_VALUE *parent, const char *key, size_t key_len, size_t index T_XP)
{
    (void)key_len;
    T_X_UNUSED; /* a removal makes nothing: it cannot fail for memory on either tree */
    if (key != NULL)
        T_DELN(parent, key, key_len);
    else
        T_ARRAY_NULL(parent, index);
}

/* The three lists of res->privacy, held so a note costs no member lookup. */
typedef struct T(lists_s) {
    T_VALUE *hashed, *masked, *dropped;
} T(lists);

/* An empty array set as privacy[lit] (a key literal) and kept in dst, borrowed: 1, or 0 when
 * memory runs out. */
#define T_NEW_LIST(privacy, lit, dst) (((dst) = T_ARRAY_NEW()) != NULL && T_SET_LIT((privacy), lit, (dst)) == 0)

/* Appends p's text to a privacy list, once. Inlined at its callers: a note per rule that acted,
 * whose call cost about 30 instructions. */
static inline __attribute__((always_inline)) void T(note)(T_VALUE *arr, const sluice_path_t *p T_XP)
{
    size_t n = T_ARRAY_SIZE(arr);
    for (size_t i = 0; i < n; i++) {
        if (T_NOTED(T_ARRAY_GET(arr, i), p->text))
            return;
    }
    T_APPEND_NEW(arr, T_PATH_NEW(p)); /* a config path: UTF-8 already */
}

/* ---------------------------------------------------------------- first keys */

/* The event's members the rules' paths start with, each looked up once per event: most rules
 * start with one of a few keys (traits, context, properties). Only a one-key path can change the
 * event's own members (its callback's parent is the event), so such a walk empties the cache. */
typedef struct T(firsts_s) {
    T_VALUE *root;
    size_t n;
    struct {
        const char *key;
        size_t len;
        T_VALUE *value; /* NULL: the event has no such member */
    } e[FIRSTS_MAX];
} T(firsts);

/* Inlined at its callers (the rules' loops), as the walk's own entry is a call already: out of
 * line its call cost about 20 instructions a rule's path. */
static inline __attribute__((always_inline)) int T(visit)(T(firsts) * f, const sluice_path_t *p, T_CB cb, void *ud)
{
    if (p->count < 2 || p->segs[0].kind != SLUICE_PATH_KEY) {
        int rc = T_VISIT(f->root, p, cb, ud);
        f->n = 0;
        return rc;
    }
    const sluice_path_seg_t *k = &p->segs[0];
    for (size_t i = 0; i < f->n; i++) {
        if (f->e[i].len == k->key_len && memcmp(f->e[i].key, k->key, k->key_len) == 0)
            return T_VISIT_FIRST(f->root, f->e[i].value, p, cb, ud);
    }
    T_VALUE *first = T_GETN(f->root, k->key, k->key_len);
    if (f->n < FIRSTS_MAX) {
        f->e[f->n].key = k->key;
        f->e[f->n].len = k->key_len;
        f->e[f->n].value = first;
        f->n++;
    }
    return T_VISIT_FIRST(f->root, first, p, cb, ud);
}

/* ---------------------------------------------------------------- consent */

static int T(has_categories)(const T_VALUE *cats, const sluice_consent_config_t *c)
{
    size_t n = T_ARRAY_SIZE(cats);
    for (size_t r = 0; r < c->required_count; r++) {
        int found = 0;
        for (size_t i = 0; i < n; i++) {
            const T_VALUE *v = T_ARRAY_GET(cats, i); /* once: T_STRING_EQ may read it twice */
            if (T_STRING_EQ(v, c->required[r])) {
                found = 1;
                break;
            }
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- drop (and consent's strip) */

typedef struct T(drop_ctx_s) {
    T_ARENA_FIELD
    int hit;
} T(drop_ctx);

static int T(drop_cb)(T_VALUE *parent, const char *key, T_KEYLEN_P size_t index, T_VALUE *value, const char *concrete,
                      void *ud)
{
    T(drop_ctx) *d = ud;
    T_ARENA_LOCAL(d);
    (void)value;
    (void)concrete;
    T(remove_value)(parent, key, T_KEYLEN, index T_XA);
    d->hit = 1;
    return 0;
}

/* Consent "strip": the event stays, everything that identifies the person goes. */
static void T(strip_identifying)(const sluice_org_t *org, T_VALUE *event, const T(lists) * l T_XP)
{
    T(drop_ctx) d = {0};
    T_ARENA_INIT(d);
    pthread_once(&identifying_once, parse_identifying);
    for (size_t i = 0; i < IDENTIFYING_COUNT; i++) {
        if (identifying_paths[i].count == 0)
            continue;
        T_VISIT(event, &identifying_paths[i], T(drop_cb), &d);
        T(note)(l->dropped, &identifying_paths[i] T_XA);
    }
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        T_VISIT(event, &org->hash_rules[i].path, T(drop_cb), &d);
        T(note)(l->dropped, &org->hash_rules[i].path T_XA);
    }
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        T_VISIT(event, &org->mask_rules[i].path, T(drop_cb), &d);
        T(note)(l->dropped, &org->mask_rules[i].path T_XA);
    }
}

/* ---------------------------------------------------------------- hash */

typedef struct T(hash_ctx_s) {
    T_ARENA_FIELD
    const sluice_hash_rule_t *rule;
    unsigned variants;
    T_RESULT *res;
    sluice_dl_stats_t *stats;
    int hashed, failed;
} T(hash_ctx);

/* A value under a hash rule that cannot be hashed is removed, never passed on raw. */
static int T(hash_fail)(T(hash_ctx) * h, T_VALUE *parent, const char *key, size_t key_len, size_t index)
{
    T_ARENA_LOCAL(h);
    T(remove_value)(parent, key, key_len, index T_XA);
    h->failed = 1;
    h->stats->hash_failed++;
    return 0;
}

static int T(hash_cb)(T_VALUE *parent, const char *key, T_KEYLEN_P size_t index, T_VALUE *value, const char *concrete,
                      void *ud)
{
    T(hash_ctx) *h = ud;
    T_ARENA_LOCAL(h);
    char numbuf[64];
    const char *in;
    size_t len = 0;
    if ((in = T_STRING_VALUE(value, &len)) != NULL) {
    } else if (T_IS_INTEGER(value)) {
        len = (size_t)snprintf(numbuf, sizeof(numbuf), "%" JSON_INTEGER_FORMAT, (json_int_t)T_INTEGER_VALUE(value));
        in = numbuf;
    } else if (T_IS_NULL(value)) {
        return 0;
    } else {
        return T(hash_fail)(h, parent, key, T_KEYLEN, index); /* objects, arrays, reals, booleans: nothing to hash */
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
            return T(hash_fail)(h, parent, key, T_KEYLEN, index);
    }
    /* Variants before replacing the value, which is still the raw one; only those that differ
     * from the default hash travel in the envelope. */
    T_VALUE *vhashes = NULL;
    for (int v = 1; v < SLUICE_VARIANT_COUNT && !prehashed; v++) {
        if (!(h->variants & (1u << v)) || !sluice_normalize_variant_differs(h->rule->normalizer, v))
            continue;
        char vnorm[1024], vhex[65];
        long vn = sluice_normalize(h->rule->normalizer, (sluice_hash_variant_t)v, in, len,
                                   h->rule->default_country_code, vnorm, sizeof(vnorm));
        if (vn < 0 || sluice_sha256_hex(vnorm, (size_t)vn, vhex) != 0 || memcmp(vhex, hex, 64) == 0)
            continue;
        if (vhashes == NULL)
            vhashes = T_OBJECT_NEW();
        T_SET_NEW(vhashes, sluice_hash_variant_name((sluice_hash_variant_t)v), T_STRINGN_NEW(vhex, 64));
    }
    /* Out of memory, the raw value is removed, not kept. */
    if (T_REPLACE_HEX(parent, key, T_KEYLEN, index, value, hex) != 0) {
        T_DROP(vhashes);
        return T(hash_fail)(h, parent, key, T_KEYLEN, index);
    }
    if (vhashes != NULL) {
        if (h->res->hashes == NULL)
            h->res->hashes = T_OBJECT_NEW();
        T_SET_NEW(h->res->hashes, concrete, vhashes);
    }
    h->hashed = 1;
    if (!prehashed)
        h->stats->hashed[h->rule->normalizer]++;
    return 0;
}

/* ---------------------------------------------------------------- consent, drop, hash */

/* The privacy record's lists in l, then consent, drop and hash_fields over event. 0 to go on
 * (mask rules next), 1 when consent policy drop stops here (res->drop_event), -1 out of memory. */
static int T(apply_head)(const sluice_org_t *org, unsigned variants, T_VALUE *event, T_RESULT *res,
                         sluice_dl_stats_t *stats, T(lists) * l, T(firsts) * firsts T_XP)
{
    memset(res, 0, sizeof(*res));
    /* Built member by member: json_pack would parse its format string for every event. */
    if ((res->privacy = T_OBJECT_NEW()) == NULL || !T_NEW_LIST(res->privacy, "hashed", l->hashed) ||
        !T_NEW_LIST(res->privacy, "masked", l->masked) || !T_NEW_LIST(res->privacy, "dropped", l->dropped)) {
        T_DROP(res->privacy);
        res->privacy = NULL;
        return -1;
    }

    /* Consent in Segment's or RudderStack's format counts like sluice's own. */
    T_VALUE *cats, *ctx;
    if (T_CONSENT_GET(event, &org->consent, &cats, &ctx) != 0)
        return -1;
    int stripped = 0;
    if (org->consent.required_count > 0 && !T(has_categories)(cats, &org->consent)) {
        switch (org->consent.policy) {
        case SLUICE_CONSENT_ALLOW: break;
        case SLUICE_CONSENT_DROP:
            res->drop_event = 1;
            stats->consent_dropped_events++;
            return 1;
        case SLUICE_CONSENT_STRIP:
            T(strip_identifying)(org, event, l T_XA);
            stripped = 1;
            T_SET_LIT(res->privacy, "consent", T_PLAIN_NEW("stripped"));
            stats->consent_stripped_events++;
            break;
        }
    }

    /* Each rule acts on its path, then on its mirror (context.traits.X of a rule on traits.X). */
    firsts->root = event;
    firsts->n = 0;
    /* context, which most rules' paths start with, as consent found it (it changed only members
     * of it), unless the strip may have removed it (a rule on the whole `context`). */
    if (!stripped) {
        firsts->e[0].key = "context";
        firsts->e[0].len = 7;
        firsts->e[0].value = ctx;
        firsts->n = 1;
    }
    for (size_t i = 0; i < org->drop_count; i++) {
        for (int k = 0; k < 2; k++) {
            const sluice_path_t *p = k == 0 ? &org->drop[i] : org->drop_mirrors ? &org->drop_mirrors[i] : NULL;
            if (p == NULL || p->text == NULL)
                continue;
            T(drop_ctx) d = {0};
            T_ARENA_INIT(d);
            T(visit)(firsts, p, T(drop_cb), &d);
            if (d.hit) {
                T(note)(l->dropped, p T_XA);
                stats->dropped++;
            }
        }
    }

    for (size_t i = 0; i < org->hash_rule_count; i++) {
        for (int k = 0; k < 2; k++) {
            const sluice_path_t *p = k == 0 ? &org->hash_rules[i].path : &org->hash_rules[i].mirror;
            if (p->text == NULL)
                continue;
            T(hash_ctx) h = {.rule = &org->hash_rules[i], .variants = variants, .res = res, .stats = stats};
            T_ARENA_INIT(h);
            T(visit)(firsts, p, T(hash_cb), &h);
            if (h.hashed)
                T(note)(l->hashed, p T_XA);
            if (h.failed)
                T(note)(l->dropped, p T_XA);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- mask */

/* track events are named by `event`, the others by their type. */
static const char *T(event_name)(const T_VALUE *event T_XP)
{
    T_X_UNUSED;
    const T_VALUE *type = T_GETN(event, "type", 4);
    if (T_STRING_EQ(type, "track")) {
        const char *name = T_CSTR(T_GETN(event, "event", 5));
        if (name != NULL)
            return name;
    }
    return T_CSTR(type);
}

typedef struct T(mask_ctx_s) {
    T_ARENA_FIELD
    const sluice_org_t *org;
    size_t rule_index;
    const sluice_masker_t *masker;
    T_VALUE *event;
    const char *event_name;
    sluice_jsonnum_t *nums; /* jansson's numbers' texts (NULL on jv: its own) */
    sluice_dl_stats_t *stats;
    int masked, removed, rejected;
    /* The rule's own path, when its mirror holds a value: the one value it reached as sent and
     * the answer it got (held; visits > 1 leaves neither, as no one answer is the field's). */
    int record, visits;
    T_VALUE *seen_in, *seen_out;
    /* The mirror: a copy equal to seen_in gets seen_out. */
    const T_VALUE *reuse_in, *reuse_out;
} T(mask_ctx);

/* 1 when a plugin would be handed the same input for x and y: the same JSON type and text (a
 * number as it was sent: 1e2 and 100, or two integers beyond a double's precision, are not one
 * value to hmac). Out of memory counts as different. */
static int T(same_input)(const T_VALUE *x, const T_VALUE *y, const sluice_jsonnum_t *nums)
{
    if (T_TYPEOF(x) != T_TYPEOF(y))
        return 0;
    size_t nx = 0, ny = 0;
    const char *sx = T_STRING_VALUE(x, &nx);
    if (sx != NULL) {
        const char *sy = T_STRING_VALUE(y, &ny);
        return nx == ny && memcmp(sx, sy, nx) == 0;
    }
    char *tx = T_ENCODE(x, nums, &nx), *ty = tx != NULL ? T_ENCODE(y, nums, &ny) : NULL;
    int same = ty != NULL && nx == ny && memcmp(tx, ty, nx) == 0;
    free(tx);
    free(ty);
    return same;
}

static int T(mask_cb)(T_VALUE *parent, const char *key, T_KEYLEN_P size_t index, T_VALUE *value, const char *concrete,
                      void *ud)
{
    T(mask_ctx) *m = ud;
    T_ARENA_LOCAL(m);
    if (T_IS_NULL(value))
        return 0;
    sluice_mask_outcome_t out = SLUICE_MASK_FAILED;
    if (m->reuse_in != NULL && T(same_input)(value, m->reuse_in, m->nums)) {
        /* context.traits.X is the same field as traits.X: one answer for both. Asked again, a
         * plugin that is random by design (randomized_response) drew a second, independent report
         * of the same value in the same event, so the event spent twice the epsilon it promises. */
        T_VALUE *copy = T_COPY(m->reuse_out);
        int rc = copy == NULL  ? -1
                 : key != NULL ? T_SETK(parent, key, T_KEYLEN, copy)
                               : T_ARRAY_PUT(parent, index, copy);
        out = rc == 0 ? SLUICE_MASK_REPLACED : SLUICE_MASK_FAILED; /* out of memory: removed, as any failure */
    } else {
        if (m->record && m->visits++ == 0)
            m->seen_in = T_HOLD(value); /* held: the masker then writes a new value, not over this one */
        if (m->masker != NULL)
            out = T_MASK(m->masker, m, parent, key, index, value, concrete);
        if (m->record && m->visits == 1 && (out == SLUICE_MASK_REPLACED || out == SLUICE_MASK_UNCHANGED))
            m->seen_out = T_HOLD(key != NULL ? T_GETK(parent, key, T_KEYLEN) : T_ARRAY_GET(parent, index));
    }
    switch (out) {
    case SLUICE_MASK_REPLACED:
    case SLUICE_MASK_UNCHANGED:
        m->masked = 1;
        m->stats->masked++;
        return 0;
    case SLUICE_MASK_REMOVED:
        T(remove_value)(parent, key, T_KEYLEN, index T_XA);
        m->removed = 1;
        m->stats->masked++;
        return 0;
    case SLUICE_MASK_FAILED: break;
    }
    m->stats->mask_failed++;
    T(remove_value)(parent, key, T_KEYLEN, index T_XA);
    m->removed = 1;
    if (m->org->mask_rules[m->rule_index].on_error == SLUICE_MASK_ON_ERROR_REJECT) {
        m->rejected = 1;
        return 1; /* stop: the event is rejected anyway */
    }
    return 0;
}

/* Stops a walk at the first value there is (found = 1). */
static int T(any_cb)(T_VALUE *parent, const char *key, T_KEYLEN_P size_t index, T_VALUE *value, const char *concrete,
                     void *ud)
{
    (void)parent, (void)key, (void)T_KEYLEN, (void)index, (void)concrete;
    if (T_IS_NULL(value))
        return 0;
    *(int *)ud = 1;
    return 1;
}

/* The mask rules over event, after apply_head: each rule on its path, then on its mirror, which
 * gets the answer the rule's own field got when both hold the same input. Always 0 (a rejection
 * is in res). */
static int T(apply_masks)(const sluice_org_t *org, const sluice_masker_t *masker, T_VALUE *event,
                          sluice_jsonnum_t *nums, T_RESULT *res, sluice_dl_stats_t *stats, const T(lists) * l,
                          T(firsts) * firsts T_XP)
{
    const char *name = NULL;
    int have_name = 0;
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        T_VALUE *own_in = NULL, *own_out = NULL; /* the rule's own field as sent, and its answer */
        for (int k = 0; k < 2; k++) {
            const sluice_path_t *p = k == 0 ? &org->mask_rules[i].path : &org->mask_rules[i].mirror;
            if (p->text == NULL)
                continue;
            /* The name is read once for all mask rules; only a rule on a whole member (the event's
             * own `event` or `type`, say) can change it, and the next rule reads it again. */
            if (!have_name && masker != NULL) {
                name = T(event_name)(event T_XA);
                have_name = 1;
            }
            T(mask_ctx)
            m = {.org = org,
                 .rule_index = i,
                 .masker = masker,
                 .event = event,
                 .event_name = name,
                 .nums = nums,
                 .stats = stats,
                 .reuse_in = own_in,
                 .reuse_out = own_out};
            T_ARENA_INIT(m);
            /* Only when the mirror holds something (a held value costs the in-place rewrite), and
             * for a path to one field: elements of two arrays are not known to be one another's. */
            if (k == 0 && org->mask_rules[i].mirror.text != NULL && !has_all(p)) {
                int found = 0;
                T(visit)(firsts, &org->mask_rules[i].mirror, T(any_cb), &found);
                m.record = found;
            }
            T(visit)(firsts, p, T(mask_cb), &m);
            if (k == 0 && m.visits == 1 && m.seen_out != NULL) {
                own_in = m.seen_in;
                own_out = m.seen_out;
            } else {
                T_RELEASE(m.seen_in);
                T_RELEASE(m.seen_out);
            }
            if (p->count < 2)
                have_name = 0;
            if (m.masked)
                T(note)(l->masked, p T_XA);
            if (m.removed)
                T(note)(l->dropped, p T_XA);
            if (m.rejected) {
                T_RELEASE(own_in);
                T_RELEASE(own_out);
                res->rejected = 1;
                snprintf(res->reject_path, sizeof(res->reject_path), "%s", p->text);
                return 0;
            }
        }
        T_RELEASE(own_in);
        T_RELEASE(own_out);
    }
    return 0;
}

#undef T
#undef T_VALUE
#undef T_RESULT
#undef T_CB
#undef T_XP
#undef T_XA
#undef T_ARENA_FIELD
#undef T_ARENA_LOCAL
#undef T_ARENA_INIT
#undef T_NOTED
#undef T_KEYLEN_P
#undef T_KEYLEN
#undef T_VISIT
#undef T_VISIT_FIRST
#undef T_GETN
#undef T_DELN
#undef T_ARRAY_PUT
#undef T_ARRAY_SIZE
#undef T_ARRAY_GET
#undef T_STRING_EQ
#undef T_STRING_VALUE
#undef T_IS_INTEGER
#undef T_INTEGER_VALUE
#undef T_IS_NULL
#undef T_ARRAY_NULL
#undef T_X_UNUSED
#undef T_OBJECT_NEW
#undef T_ARRAY_NEW
#undef T_STRINGN_NEW
#undef T_STRING_NEW
#undef T_SET_NEW
#undef T_SET_LIT
#undef T_PLAIN_NEW
#undef T_PATH_NEW
#undef T_NEW_LIST
#undef T_REPLACE_HEX
#undef T_APPEND_NEW
#undef T_DROP
#undef T_CONSENT_GET
#undef T_GETK
#undef T_SETK
#undef T_CSTR
#undef T_TYPEOF
#undef T_ENCODE
#undef T_COPY
#undef T_HOLD
#undef T_RELEASE
#undef T_MASK

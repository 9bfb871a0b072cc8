/*
 * The PII guard (behaviour in piiguard.h and docs/privacy.md). One recursive walk per event over
 * the jansson tree, carrying the event's position in a trie of the paths the guard leaves alone
 * and the path segments, with `[*]` for indices, written out as text only for a finding. Per
 * member the key is read as a few 8-byte words (key_words) whose hash finds the trie child
 * (open addressing, no string compares) and what the key says (its keyname class, whether the
 * key itself may hold PII) in a per-thread memo, since key names repeat from event to event. A
 * value is only handed to the scanner when it holds an '@' or six digits (every kind of match
 * needs one: sluice_scan_may_match, 16 bytes a step with SSE2, 8 elsewhere) or its key names
 * personal data, which keeps the common event — names, URLs without long numbers, flags — at one
 * vector pass per value, in line. A member the trie leaves alone costs its key's words and one
 * probe: its value is not fetched.
 *
 * The judgement of one value, the ids pass and the full walk are written once in piiguard_rules.h,
 * included here for jansson's values and for json/jv.h's (sluice_piiguard_ids_jv,
 * sluice_piiguard_apply_jv); what differs per tree (setting, removing, recording) is defined just
 * before each inclusion.
 *
 * Runs on the event-loop thread of the request; the guard is read-only, the thread state is the
 * caller's. Findings are published to scrapes with release stores (piiguard.h).
 */
#include "gateway/piiguard.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "crypto/hash.h"
#include "gateway/normalize.h"
#include "pii/keyname.h"
#include "pii/scan.h"

/* The event's top-level ids: judged before identity reads them (sluice_piiguard_ids), hashed even
 * under mask. */
static const char *const ids[] = {"userId", "anonymousId", "previousId", "groupId", "messageId"};
#define ID_COUNT   (sizeof(ids) / sizeof(ids[0]))
#define ID_LEN_MAX 11 /* "anonymousId"; the ids' lengths differ */

/* ---------------------------------------------------------------- the trie */

enum {
    T_COVERED = 1u << 0, /* a rule of the data layer handles this value (and everything under it) */
    T_EXCEPT = 1u << 1,  /* the org's pii_guard.except */
    T_SKIP = 1u << 2,    /* written by the gateway or opaque by nature (ids of vendors, user agent) */
};

/* A key of at most KEY_WORDS_MAX bytes as words that, with its length, hold every byte of it
 * (overlapping loads): two keys of the same length are equal when their words are. Longer keys
 * are compared with memcmp. */
#define KEY_WORDS_MAX 32
typedef struct kwords {
    uint64_t w[4];
} kwords_t;

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Fills kw for key k of n <= KEY_WORDS_MAX bytes and returns its hash. */
static inline uint64_t key_words(const char *k, size_t n, kwords_t *kw)
{
    kw->w[2] = kw->w[3] = 0;
    if (n >= 8) {
        kw->w[0] = load64(k);
        if (n <= 16) {
            kw->w[1] = load64(k + n - 8);
        } else {
            kw->w[1] = load64(k + 8);
            kw->w[2] = load64(k + n - 16);
            kw->w[3] = load64(k + n - 8);
        }
    } else if (n >= 4) {
        kw->w[0] = load32(k);
        kw->w[1] = load32(k + n - 4);
    } else {
        kw->w[0] = n > 0 ? (uint64_t)(unsigned char)k[0] | (uint64_t)(unsigned char)k[n / 2] << 8 |
                               (uint64_t)(unsigned char)k[n - 1] << 16
                         : 0;
        kw->w[1] = 0;
    }
    /* multiplicative: the high bits mix every input bit (users take theirs from there) */
    uint64_t h = kw->w[0] + kw->w[1] * 0x9e3779b97f4a7c15ull + n;
    if (n > 16)
        h += kw->w[2] * 0x165667b19e3779f9ull + kw->w[3] * 0x27d4eb2f165667c5ull;
    return h * 0xc2b2ae3d27d4eb4full;
}

/* The first slot for hash h in a table of mask + 1 slots. */
static inline size_t slot_of(uint64_t h, size_t mask)
{
    return (size_t)(h >> 32) & mask;
}

_Static_assert(ID_LEN_MAX <= KEY_WORDS_MAX, "the ids are compared by their words");

static inline int same_words(const kwords_t *a, const kwords_t *b, size_t n)
{
    return a->w[0] == b->w[0] && a->w[1] == b->w[1] && (n <= 16 || (a->w[2] == b->w[2] && a->w[3] == b->w[3]));
}

typedef struct tnode {
    char *key; /* NULL: the `[*]` child */
    size_t klen;
    struct tnode *kids;
    size_t nkids, cap;
    unsigned flags;
    int id; /* root's children: 1 + index in ids[] for the top-level ids, else 0 */
    /* Built once the trie is sorted (trie_index): the `[*]` child, and the named children by the
     * hash of their key (open addressing, index + 1, 0 = empty). */
    struct tnode *star;
    size_t nnamed;
    uint16_t *slots; /* NULL with more children than it can index: child_of then */
    size_t mask;
    kwords_t words;    /* of key, when klen <= KEY_WORDS_MAX */
    uint8_t cls, scan; /* what key says, as key_facts would (named children only) */
} tnode_t;

/* Fields the guard never scans: the gateway's own stamps and browser data that holds long digit
 * runs without being personal data in the scanner's sense (vendor cookie values, click ids,
 * timestamps, the user agent). context.ip is personal data of another kind: ip_truncate handles
 * it. */
static const char *const skipped[] = {
    "type",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "integrations",
    "_metadata",
    "context.identity",
    "context.vendorIds",
    "context.clickIds",
    "context.ip",
    "context.userAgent",
    "context.userAgentData",
    "context.library",
    /* the list the gateway writes, without personal names (gateway/consent.c); the rest of
     * context.consent is the client's (a consent platform's record may name its data subject by
     * e-mail) and is scanned */
    "context.consent.categories",
    "context.locale",
    "context.timezone",
    "context.screen",
    /* enrichment's own (gateway/enrichment.c): looked up, not sent by the visitor */
    "context.device",
    "context.os",
    "context.browser",
    "context.bot",
    "context.location",
    "context.session",
};

/* Children are kept sorted (trie_sort) by length, then bytes, with `[*]` (key NULL, length 0)
 * first: one binary search per member. */
static inline int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return memcmp(a, b, an);
}

/* The child for key (length klen; NULL: the `[*]` child). */
static inline const tnode_t *child_of(const tnode_t *n, const char *key, size_t klen)
{
    if (n == NULL)
        return NULL;
    size_t lo = 0, hi = n->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(n->kids[mid].key, n->kids[mid].klen, key, klen);
        if (c == 0)
            return &n->kids[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int cmp_node(const void *x, const void *y)
{
    const tnode_t *a = x, *b = y;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

static void trie_sort(tnode_t *n)
{
    if (n->nkids == 0)
        return; /* kids is NULL then, and qsort's base must not be */
    qsort(n->kids, n->nkids, sizeof(*n->kids), cmp_node);
    for (size_t i = 0; i < n->nkids; i++)
        trie_sort(&n->kids[i]);
}

/* The slots of n's named children (and of theirs). -1 when memory runs out. */
static int trie_index(tnode_t *n)
{
    size_t named = 0;
    for (size_t i = 0; i < n->nkids; i++) {
        tnode_t *k = &n->kids[i];
        if (k->key == NULL) {
            n->star = k;
            continue;
        }
        named++;
        if (k->klen <= KEY_WORDS_MAX)
            key_words(k->key, k->klen, &k->words);
        k->cls = (uint8_t)sluice_keyname_classify(k->key, k->klen);
        k->scan = (uint8_t)sluice_scan_may_match(k->key, k->klen);
    }
    n->nnamed = named;
    if (named > 0 && n->nkids < UINT16_MAX) {
        size_t cap = 4;
        while (cap < 2 * named)
            cap *= 2;
        if ((n->slots = calloc(cap, sizeof(*n->slots))) == NULL)
            return -1;
        n->mask = cap - 1;
        for (size_t i = 0; i < n->nkids; i++) {
            tnode_t *k = &n->kids[i];
            if (k->key == NULL)
                continue;
            kwords_t kw;
            size_t at = slot_of(k->klen <= KEY_WORDS_MAX ? key_words(k->key, k->klen, &kw) : 0, n->mask);
            while (n->slots[at] != 0)
                at = (at + 1) & n->mask;
            n->slots[at] = (uint16_t)(i + 1);
        }
    }
    for (size_t i = 0; i < n->nkids; i++)
        if (trie_index(&n->kids[i]) != 0)
            return -1;
    return 0;
}

/* The named child of n for key k (kn bytes; kw and h from key_words when kn <= KEY_WORDS_MAX),
 * as child_of finds it. */
static inline const tnode_t *child_named(const tnode_t *n, const char *k, size_t kn, const kwords_t *kw, uint64_t h)
{
    if (n == NULL || n->nnamed == 0)
        return NULL;
    if (kn > KEY_WORDS_MAX || n->slots == NULL)
        return child_of(n, k, kn);
    for (size_t at = slot_of(h, n->mask);; at = (at + 1) & n->mask) {
        uint16_t slot = n->slots[at];
        if (slot == 0)
            return NULL;
        const tnode_t *c = &n->kids[slot - 1];
        if (c->klen == kn && same_words(&c->words, kw, kn))
            return c;
    }
}

static tnode_t *child_add(tnode_t *n, const char *key)
{
    size_t klen = key != NULL ? strlen(key) : 0;
    for (size_t i = 0; i < n->nkids; i++)
        if (key_cmp(n->kids[i].key, n->kids[i].klen, key, klen) == 0)
            return &n->kids[i];
    tnode_t *k;
    if (n->nkids == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 4;
        tnode_t *kids = realloc(n->kids, cap * sizeof(*kids));
        if (kids == NULL)
            return NULL;
        n->kids = kids;
        n->cap = cap;
    }
    k = &n->kids[n->nkids];
    memset(k, 0, sizeof(*k));
    if (key != NULL && (k->key = strdup(key)) == NULL)
        return NULL;
    k->klen = key != NULL ? strlen(key) : 0;
    n->nkids++;
    return k;
}

static int trie_add(tnode_t *root, const sluice_path_t *p, unsigned flags)
{
    if (p == NULL || p->text == NULL)
        return 0;
    tnode_t *n = root;
    for (size_t i = 0; i < p->count; i++) {
        n = child_add(n, p->segs[i].kind == SLUICE_PATH_KEY ? p->segs[i].key : NULL);
        if (n == NULL)
            return -1;
    }
    n->flags |= flags;
    return 0;
}

static void trie_free(tnode_t *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        trie_free(&n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->slots);
}

/* ---------------------------------------------------------------- the guard */

struct sluice_piiguard {
    const sluice_org_t *org;
    sluice_pii_guard_mode_t mode;
    unsigned kinds;
    int key_names;
    tnode_t root;
    size_t id_len[ID_COUNT];
    int id_judged[ID_COUNT];           /* no rule, exception or skip covers the id: sluice_piiguard_ids judges it */
    uint8_t id_by_len[ID_LEN_MAX + 1]; /* 1 + the index in ids[] of the judged id of that length, or 0 */
    kwords_t id_words[ID_COUNT];       /* key_words of each id (exact: ID_LEN_MAX <= KEY_WORDS_MAX) */
    size_t share;                      /* findings this org may hold in a thread's table (sluice_piiguard_set_share) */
};

sluice_piiguard_t *sluice_piiguard_create(const sluice_org_t *org)
{
    sluice_piiguard_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    const sluice_pii_guard_config_t *c = &org->pii_guard;
    g->org = org;
    g->share = SLUICE_PIIGUARD_FINDINGS_MAX;
    g->mode = c->mode;
    g->kinds = SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN | c->national_ids;
    g->key_names = c->key_names;
    int rc = 0;
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        rc |= trie_add(&g->root, &org->hash_rules[i].path, T_COVERED);
        rc |= trie_add(&g->root, &org->hash_rules[i].mirror, T_COVERED);
    }
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        rc |= trie_add(&g->root, &org->mask_rules[i].path, T_COVERED);
        rc |= trie_add(&g->root, &org->mask_rules[i].mirror, T_COVERED);
    }
    for (size_t i = 0; i < org->drop_count; i++) {
        rc |= trie_add(&g->root, &org->drop[i], T_COVERED);
        if (org->drop_mirrors != NULL)
            rc |= trie_add(&g->root, &org->drop_mirrors[i], T_COVERED);
    }
    for (size_t i = 0; i < c->except_count; i++)
        rc |= trie_add(&g->root, &c->except[i], T_EXCEPT);
    for (size_t i = 0; i < ID_COUNT && rc == 0; i++) {
        tnode_t *n = child_add(&g->root, ids[i]);
        if (n == NULL)
            rc = -1;
        else
            n->id = (int)i + 1;
    }
    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
        sluice_path_t p;
        char err[64];
        if (sluice_path_parse(skipped[i], &p, err, sizeof(err)) != 0) {
            rc = -1;
            continue;
        }
        rc |= trie_add(&g->root, &p, T_SKIP);
        sluice_path_dispose(&p);
    }
    if (rc != 0) {
        sluice_piiguard_destroy(g);
        return NULL;
    }
    trie_sort(&g->root);
    if (trie_index(&g->root) != 0) {
        sluice_piiguard_destroy(g);
        return NULL;
    }
    for (size_t i = 0; i < ID_COUNT; i++) {
        g->id_len[i] = strlen(ids[i]);
        key_words(ids[i], g->id_len[i], &g->id_words[i]);
        const tnode_t *cn = child_of(&g->root, ids[i], g->id_len[i]);
        g->id_judged[i] = cn == NULL || !(cn->flags & (T_COVERED | T_EXCEPT | T_SKIP));
        if (g->id_judged[i] && g->id_len[i] <= ID_LEN_MAX && g->id_by_len[g->id_len[i]] == 0)
            g->id_by_len[g->id_len[i]] = (uint8_t)(i + 1);
    }
    return g;
}

void sluice_piiguard_destroy(sluice_piiguard_t *g)
{
    if (g == NULL)
        return;
    trie_free(&g->root);
    free(g);
}

/* ---------------------------------------------------------------- per-thread state */

#define INDEX_SLOTS (2 * SLUICE_PIIGUARD_FINDINGS_MAX)
#define SHARE_ORGS  64
#define SHARE_MIN   16 /* an org's share however many orgs there are */

/* What a member's key says: its class (pii/keyname.h) and whether the key itself may hold
 * personal data (sluice_scan_may_match). Key names repeat from event to event ("email",
 * "products", "page"), so they are kept per thread by the key's words: most keys cost their words
 * and one compare instead of word cutting and a byte scan. */
#define KEY_MEMO_BITS  9
#define KEY_MEMO_SLOTS (1u << KEY_MEMO_BITS)
typedef struct key_memo {
    kwords_t words;
    uint8_t len; /* 0: empty */
    uint8_t cls;
    uint8_t scan;
} key_memo_t;

struct sluice_piiguard_thread {
    sluice_scan_t scan;
    char *out; /* the rewritten value */
    size_t out_cap;
    sluice_piiguard_finding_t findings[SLUICE_PIIGUARD_FINDINGS_MAX];
    _Atomic size_t used;
    uint16_t index[INDEX_SLOTS]; /* open addressing: finding index + 1, 0 = empty */
    /* How many findings each org holds in the table (owning thread; orgs beyond SHARE_ORGS are
     * not held to a share). */
    struct {
        char org[72];
        size_t n;
    } held[SHARE_ORGS];
    size_t held_count;
    _Atomic uint64_t untracked;
    size_t ops_pending;            /* HINCRBYs sent to Redis, reply not yet in */
    _Atomic uint64_t flush_errors; /* inbox commands Redis refused or did not answer */
    key_memo_t keys[KEY_MEMO_SLOTS];
};

sluice_piiguard_thread_t *sluice_piiguard_thread_create(void)
{
    return calloc(1, sizeof(sluice_piiguard_thread_t));
}

void sluice_piiguard_thread_destroy(sluice_piiguard_thread_t *t)
{
    if (t == NULL)
        return;
    sluice_scan_dispose(&t->scan);
    free(t->out);
    free(t);
}

static uint32_t fnv(uint32_t h, const char *s)
{
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u;
}

void sluice_piiguard_set_share(sluice_piiguard_t *g, size_t orgs)
{
    size_t share = orgs > 1 ? SLUICE_PIIGUARD_FINDINGS_MAX / orgs : SLUICE_PIIGUARD_FINDINGS_MAX;
    g->share = share < SHARE_MIN ? SHARE_MIN : share;
}

/* The count of findings org holds in t's table, added when new; NULL when SHARE_ORGS orgs are
 * listed already. */
static size_t *held_by(sluice_piiguard_thread_t *t, const char *org)
{
    for (size_t i = 0; i < t->held_count; i++)
        if (strcmp(t->held[i].org, org) == 0)
            return &t->held[i].n;
    if (t->held_count == SHARE_ORGS)
        return NULL;
    snprintf(t->held[t->held_count].org, sizeof(t->held[0].org), "%s", org);
    t->held[t->held_count].n = 0;
    return &t->held[t->held_count++].n;
}

/* Counts one event's finding in the thread's table. A new finding takes a place only within the
 * org's share: the table never sheds an entry (its counts are counters), and a client of one org
 * inventing keys filled it, after which no other org's findings reached /metrics or its inbox. */
static void count_finding(sluice_piiguard_thread_t *t, size_t share, const char *org, const char *path,
                          const char *matcher, int partial, int64_t now)
{
    uint32_t h = fnv(fnv(fnv(2166136261u, org), path), matcher);
    size_t used = atomic_load_explicit(&t->used, memory_order_relaxed);
    for (size_t probe = 0; probe < INDEX_SLOTS; probe++) {
        uint16_t *slot = &t->index[(h + probe) % INDEX_SLOTS];
        if (*slot == 0) {
            size_t *held = held_by(t, org);
            if (used == SLUICE_PIIGUARD_FINDINGS_MAX || (held != NULL && *held >= share)) {
                atomic_store_explicit(&t->untracked, atomic_load_explicit(&t->untracked, memory_order_relaxed) + 1,
                                      memory_order_relaxed);
                return;
            }
            sluice_piiguard_finding_t *f = &t->findings[used];
            snprintf(f->org, sizeof(f->org), "%s", org);
            snprintf(f->path, sizeof(f->path), "%s", path);
            f->matcher = matcher;
            atomic_store_explicit(&f->count, 1, memory_order_relaxed);
            atomic_store_explicit(&f->first_ms, now, memory_order_relaxed);
            atomic_store_explicit(&f->last_ms, now, memory_order_relaxed);
            atomic_store_explicit(&f->partial, partial, memory_order_relaxed);
            f->flushed = f->in_flight = 0;
            *slot = (uint16_t)(used + 1);
            if (held != NULL)
                (*held)++;
            atomic_store_explicit(&t->used, used + 1, memory_order_release);
            return;
        }
        sluice_piiguard_finding_t *f = &t->findings[*slot - 1];
        if (f->matcher == matcher && strcmp(f->path, path) == 0 && strcmp(f->org, org) == 0) {
            atomic_store_explicit(&f->count, atomic_load_explicit(&f->count, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            atomic_store_explicit(&f->last_ms, now, memory_order_relaxed);
            if (partial && !atomic_load_explicit(&f->partial, memory_order_relaxed))
                atomic_store_explicit(&f->partial, 1, memory_order_relaxed);
            return;
        }
    }
}

uint64_t sluice_piiguard_thread_foreach(const sluice_piiguard_thread_t *t,
                                        void (*cb)(const sluice_piiguard_finding_t *f, void *ud), void *ud)
{
    size_t used = atomic_load_explicit(&t->used, memory_order_acquire);
    for (size_t i = 0; i < used; i++)
        cb(&t->findings[i], ud);
    return atomic_load_explicit(&t->untracked, memory_order_relaxed);
}

/* What key k (n bytes; kw and h from key_words when 0 < n <= KEY_WORDS_MAX) says: the thread's
 * memo, or *out for keys it does not keep. Valid until the next call. */
static inline const key_memo_t *key_facts(sluice_piiguard_thread_t *t, const char *k, size_t n, const kwords_t *kw,
                                          uint64_t h, key_memo_t *out)
{
    if (n == 0 || n > KEY_WORDS_MAX) {
        out->cls = (uint8_t)sluice_keyname_classify(k, n);
        out->scan = (uint8_t)sluice_scan_may_match(k, n);
        return out;
    }
    key_memo_t *m = &t->keys[h >> (64 - KEY_MEMO_BITS)];
    if (m->len != n || !same_words(&m->words, kw, n)) {
        m->words = *kw;
        m->len = (uint8_t)n;
        m->cls = (uint8_t)sluice_keyname_classify(k, n);
        m->scan = (uint8_t)sluice_scan_may_match(k, n);
    }
    return m;
}

/* ---------------------------------------------------------------- the walk */

#define SEG_MAX 64 /* deeper members are judged under the path of their 64th ancestor */

/* On the stack of one pass; walk_init sets what comes before `segs` but the jv fields, which only
 * the jv passes set and read (the arrays from there on are used only up to nseg and seen_count). */
typedef struct walk {
    const sluice_piiguard_t *g;
    sluice_piiguard_thread_t *t;
    json_t *privacy;
    json_t *detected;
    sluice_piiguard_stats_t *st;
    int64_t now;
    size_t more;
    int oom;
    int key_names; /* the guard's */
    size_t seen_count;
    int early;                    /* sluice_piiguard_ids: judge the ids, note what was found in ids_found */
    int ids_done;                 /* the ids went through sluice_piiguard_ids already: leave them */
    const sluice_jsonnum_t *nums; /* the numbers' texts as sent (json/numbers.h), or NULL */
    sluice_json_arena_t *arena;   /* the jv passes: where new values go (not set for jansson) */
    sluice_jv_t *privacy_jv;      /* sluice_piiguard_apply_jv's privacy and its detected (not set for jansson) */
    sluice_jv_t *detected_jv;
    size_t key_n;       /* sluice_piiguard_apply_jv: the length of the member key being judged (a jv key is not
                           NUL-terminated) */
    uint64_t ids_found; /* per id (ids[] order) SLUICE_PIIGUARD_ID_BITS: its kinds, and "inside text" */
    size_t nseg;        /* where the walk is: segs[0..nseg), written out as text only for a finding */
    struct {
        const char *s;
        size_t n;
    } segs[SEG_MAX];
    char path[256];
    /* (path, matcher) already recorded for this event: counted once per event */
    struct {
        uint32_t hash;
        const char *matcher;
    } seen[SLUICE_PIIGUARD_DETECTED_MAX];
} walk_t;

static void walk_init(walk_t *w, const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, sluice_piiguard_stats_t *st)
{
    /* field by field: a memset of the whole head costs a call more than these stores */
    w->g = g;
    w->t = t;
    w->privacy = w->detected = NULL;
    w->st = st;
    w->now = 0;
    w->more = 0;
    w->oom = 0;
    w->key_names = g->key_names;
    w->seen_count = 0;
    w->early = w->ids_done = 0;
    w->ids_found = 0;
    w->nseg = 0;
    w->nums = NULL;
}

/* The walk's position as text into w->path ("properties.items[*].email"); control characters
 * become '?' (paths go to metrics labels, logs and Redis field names). A path longer than the
 * buffer is cut between two characters, never inside one: cut inside one, the path was not
 * UTF-8, so jansson refused it in the event's privacy.detected (the event was answered 500
 * "out of memory") and the finding's label made Prometheus refuse every later scrape of the
 * gateway (the table keeps it until a restart). */
static void write_path(walk_t *w)
{
    size_t at = 0;
    const size_t room = sizeof(w->path) - 1;
    for (size_t i = 0; i < w->nseg && at < room; i++) {
        const char *seg = w->segs[i].s;
        size_t n = w->segs[i].n;
        if (i > 0 && seg[0] != '[')
            w->path[at++] = '.';
        size_t take = sluice_utf8_cut(seg, n, room - at);
        for (size_t k = 0; k < take; k++) {
            unsigned char c = (unsigned char)seg[k];
            w->path[at++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        if (take < n)
            break;
    }
    w->path[at] = '\0';
}

/* Pushes a segment; returns 1 when pushed (pop it after), 0 past SEG_MAX. */
static int push_seg(walk_t *w, const char *seg, size_t n)
{
    if (w->nseg == SEG_MAX)
        return 0;
    w->segs[w->nseg].s = seg;
    w->segs[w->nseg].n = n;
    w->nseg++;
    return 1;
}

static const char *const actions[] = {"reported", "reported", "masked", "hashed"};

#define ID_PARTIAL 0x100u

/* A finding at the walk's current path, counted in the thread's table: 1 when it goes into the
 * event's privacy.detected too (T(record) in piiguard_rules.h appends it there), 0 when this
 * event has it already or has SLUICE_PIIGUARD_DETECTED_MAX of them (w->more counts those). */
static inline int note_finding(walk_t *w, const char *matcher, int partial)
{
    write_path(w);
    uint32_t h = fnv(2166136261u, w->path);
    for (size_t i = 0; i < w->seen_count; i++)
        if (w->seen[i].hash == h && w->seen[i].matcher == matcher)
            return 0; /* another element of the same array: once per event */
    count_finding(w->t, w->g->share, w->g->org->id, w->path, matcher, partial, w->now);
    if (w->seen_count == SLUICE_PIIGUARD_DETECTED_MAX) {
        w->more++;
        return 0;
    }
    w->seen[w->seen_count].hash = h;
    w->seen[w->seen_count].matcher = matcher;
    w->seen_count++;
    return 1;
}

/* The finding just noted, as {"path", "matcher", "action"} appended to privacy.detected (made at
 * the first). */
static void append_json(walk_t *w, const char *matcher, const char *action)
{
    if (w->detected == NULL) {
        w->detected = json_array();
        if (w->detected == NULL || json_object_set_new(w->privacy, "detected", w->detected) != 0) {
            w->detected = NULL;
            w->oom = 1;
            return;
        }
    }
    if (json_array_append_new(w->detected,
                              json_pack("{s:s,s:s,s:s}", "path", w->path, "matcher", matcher, "action", action)) != 0)
        w->oom = 1;
}

/* 1 when the walk is in traits or context.traits, whose "name" is the person's name (Segment's
 * spec). Asked only of a member called "name": the segments are those of the object it is in. */
static int in_traits(const walk_t *w)
{
    return (w->nseg == 1 && w->segs[0].n == 6 && memcmp(w->segs[0].s, "traits", 6) == 0) ||
           (w->nseg == 2 && w->segs[0].n == 7 && memcmp(w->segs[0].s, "context", 7) == 0 && w->segs[1].n == 6 &&
            memcmp(w->segs[1].s, "traits", 6) == 0);
}

static int reserve(sluice_piiguard_thread_t *t, size_t n)
{
    if (n <= t->out_cap)
        return 0;
    size_t cap = t->out_cap ? t->out_cap : 256;
    while (cap < n)
        cap *= 2;
    char *o = realloc(t->out, cap);
    if (o == NULL)
        return -1;
    t->out = o;
    t->out_cap = cap;
    return 0;
}

/* SHA-256 hex of the normalised value (hash mode, ids): e-mails and phones hash as a hash rule
 * with that normaliser would, so they join the org's hashed traits. 0 when the value cannot be
 * normalised. */
static int hash_whole(sluice_normalizer_t norm, const char *s, size_t n, char hex[65])
{
    char buf[1024];
    long len = sluice_normalize(norm, SLUICE_VARIANT_DEFAULT, s, n, NULL, buf, sizeof(buf));
    return len >= 0 && sluice_sha256_hex(buf, (size_t)len, hex) == 0;
}

static sluice_normalizer_t normalizer_of(sluice_keyname_class_t c)
{
    switch (c) {
    case SLUICE_KEYNAME_EMAIL: return SLUICE_NORM_EMAIL;
    case SLUICE_KEYNAME_PHONE: return SLUICE_NORM_PHONE;
    case SLUICE_KEYNAME_NAME: return SLUICE_NORM_NAME;
    case SLUICE_KEYNAME_POSTAL_CODE: return SLUICE_NORM_ZIP;
    case SLUICE_KEYNAME_BIRTHDATE: return SLUICE_NORM_DATE;
    default: return SLUICE_NORM_EXTERNAL_ID;
    }
}

/* The scanned value with each match replaced ("[kind]", or the SHA-256 of its canonical form
 * when hashing), into t->out. Returns the length or -1 (memory). */
static long rewrite_matches(sluice_piiguard_thread_t *t, const char *s, size_t n, int hash)
{
    const sluice_scan_t *sc = &t->scan;
    if (reserve(t, n + sc->count * 64 + 1) != 0)
        return -1;
    size_t o = 0, p = 0;
    for (size_t i = 0; i < sc->count; i++) {
        const sluice_scan_match_t *m = &sc->matches[i];
        memcpy(t->out + o, s + p, m->start - p);
        o += m->start - p;
        if (hash) {
            char canon[128], hex[65];
            size_t cl = sluice_scan_canonical(sc, m, canon, sizeof(canon));
            if (sluice_sha256_hex(canon, cl, hex) != 0)
                return -1;
            memcpy(t->out + o, hex, 64);
            o += 64;
        } else {
            o += (size_t)snprintf(t->out + o, 24, "[%s]", sluice_scan_kind_name(m->kind));
        }
        p = m->end;
    }
    memcpy(t->out + o, s + p, n - p);
    return (long)(o + n - p);
}

static void set_value_json(json_t *parent, const char *key, size_t index, json_t *v, walk_t *w)
{
    if (v == NULL || (key != NULL ? json_object_set_new(parent, key, v) : json_array_set_new(parent, index, v)) != 0)
        w->oom = 1;
}

/* Removes member k (kn bytes) of obj, the one the walk is at; next (the iterator taken before) stays valid. */
static inline void del_member_json(json_t *obj, const char *k, size_t kn, void **next)
{
    (void)kn;
    (void)next;
    json_object_del(obj, k);
}

static inline int set_more_json(walk_t *w)
{
    return json_object_set_new(w->privacy, "detected_more", json_integer((json_int_t)w->more));
}

#define IDS_BY_WALK 12

/* The judgement, the ids pass and the full walk on jansson's values: sluice_piiguard_ids, sluice_piiguard_apply. */
#define T_VALUE                     json_t
#define T(name)                     name##_json
#define T_IDS                       sluice_piiguard_ids
#define T_XP                        /* nothing: jansson allocates */
#define T_WALK_INIT(w)              (void)(w)
#define T_APPLY                     sluice_piiguard_apply
#define T_APPLY_XP                  , const sluice_jsonnum_t *nums
#define T_APPLY_INIT(w)             ((w)->privacy = privacy, (w)->nums = nums)
#define T_NOTE_KEY(w, kn)           (void)0
#define T_IS_STRING                 json_is_string
#define T_IS_INTEGER                json_is_integer
#define T_IS_REAL                   json_is_real
#define T_IS_OBJECT                 json_is_object
#define T_IS_ARRAY                  json_is_array
#define T_ARRAY_SIZE                json_array_size
#define T_ARRAY_GET                 json_array_get
#define T_STRING_PTR                json_string_value
#define T_STRING_LEN                json_string_length
#define T_FEW_DIGITS(v)             0 /* json_is_integer and json_is_real read a field already */
#define T_INTEGER_VALUE             json_integer_value
#define T_REAL_VALUE                json_real_value
#define T_NUM_TEXT(w, v, n)         sluice_jsonnum_find((w)->nums, (v), (n))
#define T_NEW_STRINGN(s, n)         json_stringn((s), (n))
#define T_NEW_STRINGN_NOCHECK(s, n) json_stringn_nocheck((s), (n))
#define T_NEW_STRING(s)             json_string(s)
#define T_OBJECT_SIZE               json_object_size
#define T_OBJECT_GETN               json_object_getn
#include "gateway/tree_iter.h"
#include "gateway/piiguard_rules.h"

/* A new jv string of s[0..n) when it is UTF-8, as json_stringn makes one only then. */
static sluice_jv_t *string_jv(sluice_json_arena_t *a, const char *s, size_t n)
{
    return sluice_utf8_valid(s, n) ? sluice_jv_string(a, s, n) : NULL;
}

/* A member is set by its key: the ids pass's are NUL-terminated literals, the walk's are the
 * member's own (w->key_n bytes: not NUL-terminated; no key holds a NUL, which the parser reads as
 * U+FFFD, so these name the member json_object_set_new's strlen finds). */
static void set_value_jv(sluice_jv_t *parent, const char *key, size_t index, sluice_jv_t *v, walk_t *w)
{
    int rc;
    if (v == NULL)
        rc = -1;
    else if (key == NULL)
        rc = sluice_jv_array_set(parent, index, v);
    else
        rc = sluice_jv_object_setn(w->arena, parent, key, w->early ? strlen(key) : w->key_n, v);
    if (rc != 0)
        w->oom = 1;
}

/* Removes member k (kn bytes) of obj; *next, the index of the member after the walk's, moves with
 * that member (jansson's iterator points at it). */
static void del_member_jv(sluice_jv_t *obj, const char *k, size_t kn, size_t *next)
{
    const sluice_jv_t *after = *next < obj->len ? obj->u.m[*next].value : NULL;
    (void)sluice_jv_object_deln(obj, k, kn);
    size_t i = 0;
    while (i < obj->len && obj->u.m[i].value != after)
        i++;
    *next = i;
}

/* The finding just noted into privacy.detected, as append_json does on jansson's. */
static void append_jv(walk_t *w, const char *matcher, const char *action)
{
    sluice_json_arena_t *a = w->arena;
    if (w->detected_jv == NULL) {
        w->detected_jv = sluice_jv_array(a);
        if (w->detected_jv == NULL || sluice_jv_object_set(a, w->privacy_jv, "detected", w->detected_jv) != 0) {
            w->detected_jv = NULL;
            w->oom = 1;
            return;
        }
    }
    sluice_jv_t *o = sluice_jv_object(a);
    sluice_jv_t *p = string_jv(a, w->path, strlen(w->path));
    sluice_jv_t *m = sluice_jv_string(a, matcher, strlen(matcher));
    sluice_jv_t *act = sluice_jv_string(a, action, strlen(action));
    if (o == NULL || p == NULL || m == NULL || act == NULL || sluice_jv_object_set(a, o, "path", p) != 0 ||
        sluice_jv_object_set(a, o, "matcher", m) != 0 || sluice_jv_object_set(a, o, "action", act) != 0 ||
        sluice_jv_array_append(a, w->detected_jv, o) != 0)
        w->oom = 1;
}

static int set_more_jv(walk_t *w)
{
    sluice_jv_t *n = sluice_jv_integer(w->arena, (int64_t)w->more);
    return n != NULL ? sluice_jv_object_set(w->arena, w->privacy_jv, "detected_more", n) : -1;
}

/* Says "the numbers' texts are there" to the jv walk (w->nums): a jv number holds its own. */
static const char jv_texts;
#define JV_TEXTS ((const sluice_jsonnum_t *)(const void *)&jv_texts)

/* 1 for a jv number written without an exponent and with at most five digits left of its point:
 * below 100000 in magnitude, so judge leaves it alone under no member name (an integer of fewer than
 * six digits; a fraction; a whole real of fewer digits, or one such as 99999.99999999999999999 that
 * reads as 100000.0 but whose text real_digits finds no whole number). Read from the text, without
 * the out-of-line calls that tell an integer from a real and read its value (about 150 instructions
 * a price or quantity). */
static inline int few_digits_jv(const sluice_jv_t *v)
{
    if (!sluice_jv_is_number(v))
        return 0;
    const char *t = v->u.s, *end = t + v->len;
    if (t < end && *t == '-')
        t++;
    const char *digits = t;
    while (t < end && *t >= '0' && *t <= '9')
        t++;
    if (t - digits > 5)
        return 0;
    if (t < end && *t == '.')
        for (t++; t < end && *t >= '0' && *t <= '9'; t++)
            ;
    return t == end; /* else an exponent: not read here */
}

/* The same on arena values: sluice_piiguard_ids_jv and sluice_piiguard_apply_jv. A number's text
 * is read from its node, but only when the walk has texts, which the ids pass has not (as
 * sluice_piiguard_ids has no numbers' table): w->nums then only says "texts are there" (JV_TEXTS,
 * for the full walk, as sluice_piiguard_apply is given the event's table). */
#define T_VALUE                     sluice_jv_t
#define T(name)                     name##_jv
#define T_IDS                       sluice_piiguard_ids_jv
#define T_XP                        , sluice_json_arena_t *a
#define T_WALK_INIT(w)              ((w)->arena = a)
#define T_APPLY                     sluice_piiguard_apply_jv
#define T_APPLY_XP                  , sluice_json_arena_t *a
#define T_APPLY_INIT(w)             ((w)->arena = a, (w)->privacy_jv = privacy, (w)->detected_jv = NULL, (w)->nums = JV_TEXTS)
#define T_NOTE_KEY(w, kn)           ((w)->key_n = (kn))
#define T_IS_STRING                 sluice_jv_is_string
#define T_IS_INTEGER                sluice_jv_is_integer
#define T_IS_REAL(v)                (sluice_jv_is_number(v) && !sluice_jv_is_integer(v))
#define T_IS_OBJECT                 sluice_jv_is_object
#define T_IS_ARRAY                  sluice_jv_is_array
#define T_ARRAY_SIZE                sluice_jv_array_size
#define T_ARRAY_GET                 sluice_jv_array_get
#define T_STRING_PTR(v)             ((v)->u.s)
#define T_STRING_LEN(v)             ((size_t)(v)->len)
#define T_FEW_DIGITS                few_digits_jv
#define T_INTEGER_VALUE             sluice_jv_integer_value
#define T_REAL_VALUE                sluice_jv_number_value
#define T_NUM_TEXT(w, v, n)         ((w)->nums != NULL ? sluice_jv_number_text_value((v), (n)) : NULL)
#define T_NEW_STRINGN(s, n)         string_jv(w->arena, (s), (n))
#define T_NEW_STRINGN_NOCHECK(s, n) sluice_jv_string(w->arena, (s), (n))
#define T_NEW_STRING(s)             sluice_jv_string(w->arena, (s), strlen(s))
#define T_OBJECT_SIZE               sluice_jv_object_size
#define T_OBJECT_GETN               sluice_jv_object_getn
#define T_ITER_JV
#include "gateway/tree_iter.h"
#include "gateway/piiguard_rules.h"

/* ---------------------------------------------------------------- the inbox in Redis */

typedef struct flush_op {
    sluice_piiguard_thread_t *t;
    size_t index;
    uint64_t delta;
} flush_op_t;

static void on_incr(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    flush_op_t *op = ud;
    sluice_piiguard_finding_t *f = &op->t->findings[op->index];
    f->in_flight -= op->delta;
    op->t->ops_pending--;
    if (status == SLUICE_REDIS_OK && reply != NULL && reply->type == REDIS_REPLY_INTEGER)
        f->flushed += op->delta;
    else
        atomic_store_explicit(&op->t->flush_errors,
                              atomic_load_explicit(&op->t->flush_errors, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    free(op);
}

/* The other commands of a flush: only their failures matter (an ACL without HSETNX, say). */
static void on_other(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_piiguard_thread_t *t = ud;
    if (status != SLUICE_REDIS_OK || reply == NULL || reply->type == REDIS_REPLY_ERROR)
        atomic_store_explicit(&t->flush_errors, atomic_load_explicit(&t->flush_errors, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

static int send_cmd(sluice_redis_t *r, sluice_redis_cb cb, void *ud, int argc, const char **argv)
{
    size_t lens[6];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return sluice_redis_command(r, cb, ud, argc, argv, lens);
}

void sluice_piiguard_thread_flush(sluice_piiguard_thread_t *t, sluice_redis_t *redis, const char *prefix)
{
    if (redis == NULL || !sluice_redis_connected(redis))
        return;
    size_t used = atomic_load_explicit(&t->used, memory_order_relaxed);
    for (size_t i = 0; i < used; i++) {
        sluice_piiguard_finding_t *f = &t->findings[i];
        uint64_t count = atomic_load_explicit(&f->count, memory_order_relaxed);
        if (count <= f->flushed + f->in_flight)
            continue;
        flush_op_t *op = malloc(sizeof(*op));
        if (op == NULL)
            return;
        *op = (flush_op_t){t, i, count - f->flushed - f->in_flight};
        char key[128 + sizeof(f->org)], field[sizeof(f->path) + 48], num[32], first[32], last[32];
        snprintf(key, sizeof(key), "%s" SLUICE_PIIGUARD_REDIS_KEY "%s", prefix, f->org);
        int base = snprintf(field, sizeof(field), "%s\t%s\t", f->path, f->matcher);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)op->delta);
        snprintf(field + base, sizeof(field) - (size_t)base, "count");
        const char *incr[] = {"HINCRBY", key, field, num};
        if (send_cmd(redis, on_incr, op, 4, incr) != 0) {
            free(op);
            return;
        }
        f->in_flight += op->delta;
        t->ops_pending++;
        snprintf(first, sizeof(first), "%lld", (long long)atomic_load_explicit(&f->first_ms, memory_order_relaxed));
        snprintf(last, sizeof(last), "%lld", (long long)atomic_load_explicit(&f->last_ms, memory_order_relaxed));
        char ffirst[sizeof(field)], flast[sizeof(field)], fpart[sizeof(field)];
        snprintf(ffirst, sizeof(ffirst), "%s\t%s\tfirst", f->path, f->matcher);
        snprintf(flast, sizeof(flast), "%s\t%s\tlast", f->path, f->matcher);
        snprintf(fpart, sizeof(fpart), "%s\t%s\tpartial", f->path, f->matcher);
        const char *setnx[] = {"HSETNX", key, ffirst, first};
        const char *set[] = {"HSET", key, flast, last};
        /* partial only ever turns on: another thread's "0" must not undo it */
        int partial = atomic_load_explicit(&f->partial, memory_order_relaxed);
        const char *part[] = {partial ? "HSET" : "HSETNX", key, fpart, partial ? "1" : "0"};
        char ttl[16];
        snprintf(ttl, sizeof(ttl), "%d", SLUICE_PIIGUARD_REDIS_TTL_S);
        const char *expire[] = {"EXPIRE", key, ttl};
        send_cmd(redis, on_other, t, 4, setnx);
        send_cmd(redis, on_other, t, 4, set);
        send_cmd(redis, on_other, t, 4, part);
        send_cmd(redis, on_other, t, 3, expire);
    }
}

size_t sluice_piiguard_thread_pending(const sluice_piiguard_thread_t *t)
{
    return t != NULL ? t->ops_pending : 0;
}

/* ---------------------------------------------------------------- metrics */

static int cmp_finding(const void *x, const void *y)
{
    const sluice_piiguard_finding_t *a = *(const sluice_piiguard_finding_t *const *)x;
    const sluice_piiguard_finding_t *b = *(const sluice_piiguard_finding_t *const *)y;
    int c = strcmp(a->org, b->org);
    if (c == 0)
        c = strcmp(a->path, b->path);
    return c != 0 ? c : strcmp(a->matcher, b->matcher);
}

typedef struct mout {
    char *buf;
    size_t cap, len; /* len counts what would have been written, like snprintf */
} mout_t;

static void mput(mout_t *o, const char *s, size_t n)
{
    if (o->len < o->cap)
        memcpy(o->buf + o->len, s, o->len + n <= o->cap ? n : o->cap - o->len);
    o->len += n;
}

static void mputs(mout_t *o, const char *s)
{
    mput(o, s, strlen(s));
}

/* A label value: backslash, quote and newline escaped as the text format wants. */
static void mlabel(mout_t *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            mput(o, "\\", 1);
        mput(o, s, 1);
    }
}

size_t sluice_piiguard_metrics(sluice_piiguard_thread_t *const *threads, size_t n, char *buf, size_t cap)
{
    mout_t o = {buf, cap, 0};
    size_t total = 0;
    uint64_t untracked = 0, flush_errors = 0;
    for (size_t i = 0; i < n; i++)
        if (threads[i] != NULL)
            total += atomic_load_explicit(&threads[i]->used, memory_order_acquire);
    const sluice_piiguard_finding_t **all = total ? malloc(total * sizeof(*all)) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < n && (all != NULL || total == 0); i++) {
        if (threads[i] == NULL)
            continue;
        size_t used = atomic_load_explicit(&threads[i]->used, memory_order_acquire);
        for (size_t j = 0; j < used && k < total; j++)
            all[k++] = &threads[i]->findings[j];
        untracked += atomic_load_explicit(&threads[i]->untracked, memory_order_relaxed);
        flush_errors += atomic_load_explicit(&threads[i]->flush_errors, memory_order_relaxed);
    }
    if (k > 1)
        qsort(all, k, sizeof(*all), cmp_finding);
    static const char head[] =
        "# HELP sluice_pii_detected_total Events in which the PII guard found personal data in a field no rule "
        "names, by org, path and matcher.\n# TYPE sluice_pii_detected_total counter\n";
    mput(&o, head, sizeof(head) - 1);
    for (size_t i = 0; i < k;) {
        uint64_t count = 0;
        size_t j = i;
        for (; j < k && cmp_finding(&all[i], &all[j]) == 0; j++)
            count += atomic_load_explicit(&all[j]->count, memory_order_relaxed);
        mputs(&o, "sluice_pii_detected_total{org=\"");
        mlabel(&o, all[i]->org);
        mputs(&o, "\",path=\"");
        mlabel(&o, all[i]->path);
        mputs(&o, "\",matcher=\"");
        mlabel(&o, all[i]->matcher);
        char num[48];
        int len = snprintf(num, sizeof(num), "\"} %llu\n", (unsigned long long)count);
        mput(&o, num, (size_t)len);
        i = j;
    }
    char tail[512];
    int len = snprintf(tail, sizeof(tail),
                       "# HELP sluice_pii_findings_untracked_total Findings beyond the per-thread table or their "
                       "org's share of it (counted here only).\n# TYPE sluice_pii_findings_untracked_total counter\n"
                       "sluice_pii_findings_untracked_total %llu\n"
                       "# HELP sluice_pii_inbox_errors_total Commands adding findings to the Redis inbox that failed "
                       "(retried at the next flush).\n# TYPE sluice_pii_inbox_errors_total counter\n"
                       "sluice_pii_inbox_errors_total %llu\n",
                       (unsigned long long)untracked, (unsigned long long)flush_errors);
    mput(&o, tail, (size_t)len);
    free(all);
    return o.len;
}

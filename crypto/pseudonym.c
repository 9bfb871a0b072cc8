/*
 * Pseudonyms of ids (org-keyed HMAC-SHA256) and sealed sets of them; see pseudonym.h. Pure
 * functions and a set built by one thread, read by many once sealed.
 */
#include "crypto/pseudonym.h"

#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "crypto/hash.h"

#define KEY_LABEL "sluice-forget-v1"

const char *const sluice_pseudonym_id_paths[SLUICE_PSEUDONYM_ID_PATH_COUNT] = {
    "userId", "anonymousId", "previousId", "context.identity.userId", "context.identity.linkedFrom",
};

int sluice_pseudonym_org_key(const void *master, size_t mlen, const char *org, uint8_t key[SLUICE_PSEUDONYM_LEN])
{
    /* The label and its NUL, then the org: no org id can be mistaken for a label. */
    return sluice_hmac_sha256_2(master, mlen, KEY_LABEL, sizeof(KEY_LABEL), org, strlen(org), key);
}

int sluice_pseudonym(const uint8_t key[SLUICE_PSEUDONYM_LEN], const char *id, size_t len,
                     uint8_t out[SLUICE_PSEUDONYM_LEN])
{
    return sluice_hmac_sha256(key, SLUICE_PSEUDONYM_LEN, id, len, out);
}

int sluice_pseudonym_hex(const uint8_t key[SLUICE_PSEUDONYM_LEN], const char *id, size_t len,
                         char out[SLUICE_PSEUDONYM_HEX_LEN + 1])
{
    uint8_t p[SLUICE_PSEUDONYM_LEN];
    if (sluice_pseudonym(key, id, len, p) != 0) {
        out[0] = '\0';
        return -1;
    }
    sluice_hex_encode(p, sizeof(p), out, SLUICE_PSEUDONYM_HEX_LEN + 1);
    return 0;
}

size_t sluice_pseudonym_subject(const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_pseudonym_get_fn get, void *ud,
                                char *out, size_t cap)
{
    size_t n = 0;
    if (cap > 0)
        out[0] = '\0';
    for (size_t i = 0; i < SLUICE_PSEUDONYM_ID_PATH_COUNT; i++) {
        size_t len = 0;
        const char *id = get(ud, sluice_pseudonym_id_paths[i], &len);
        char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
        if (id == NULL || len == 0 || sluice_pseudonym_hex(key, id, len, hex) != 0)
            continue;
        if (n > 0 && strstr(out, hex) != NULL)
            continue; /* the same id under two paths (anonymousId and linkedFrom after a round trip) */
        size_t need = (n > 0 ? 1 : 0) + SLUICE_PSEUDONYM_HEX_LEN;
        if (n + need + 1 > cap)
            break;
        if (n > 0)
            out[n++] = ' ';
        memcpy(out + n, hex, SLUICE_PSEUDONYM_HEX_LEN + 1);
        n += SLUICE_PSEUDONYM_HEX_LEN;
    }
    return n;
}

/* ------------------------------------------------------------------ sets */

typedef struct entry {
    size_t org; /* index into orgs */
    uint8_t p[SLUICE_PSEUDONYM_LEN];
} entry_t;

typedef struct org_range {
    char *id;
    size_t start, end; /* its entries once sealed: [start, end) */
} org_range_t;

struct sluice_pseudonym_set {
    entry_t *entries;
    size_t count, cap;
    org_range_t *orgs;
    size_t org_count;
};

sluice_pseudonym_set_t *sluice_pseudonym_set_create(void)
{
    return calloc(1, sizeof(sluice_pseudonym_set_t));
}

static long org_index(const sluice_pseudonym_set_t *s, const char *org)
{
    for (size_t i = 0; i < s->org_count; i++)
        if (strcmp(s->orgs[i].id, org) == 0)
            return (long)i;
    return -1;
}

int sluice_pseudonym_set_add_hex(sluice_pseudonym_set_t *s, const char *org, const char *hex)
{
    entry_t e;
    size_t n = 0;
    if (hex == NULL || strlen(hex) != SLUICE_PSEUDONYM_HEX_LEN ||
        sluice_hex_decode(hex, SLUICE_PSEUDONYM_HEX_LEN, e.p, sizeof(e.p), &n) != 0)
        return -1;
    long o = org_index(s, org);
    if (o < 0) {
        org_range_t *no = realloc(s->orgs, (s->org_count + 1) * sizeof(*no));
        if (no == NULL)
            return -2;
        s->orgs = no;
        if ((no[s->org_count].id = strdup(org)) == NULL)
            return -2;
        no[s->org_count].start = no[s->org_count].end = 0;
        o = (long)s->org_count++;
    }
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        entry_t *ne = realloc(s->entries, ncap * sizeof(*ne));
        if (ne == NULL)
            return -2;
        s->entries = ne;
        s->cap = ncap;
    }
    e.org = (size_t)o;
    s->entries[s->count++] = e;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->org != y->org)
        return x->org < y->org ? -1 : 1;
    return memcmp(x->p, y->p, SLUICE_PSEUDONYM_LEN);
}

void sluice_pseudonym_set_seal(sluice_pseudonym_set_t *s)
{
    if (s->count > 1)
        qsort(s->entries, s->count, sizeof(*s->entries), cmp_entry);
    size_t o = 0;
    for (size_t i = 0; i < s->count; i++)
        if (o == 0 || cmp_entry(&s->entries[o - 1], &s->entries[i]) != 0)
            s->entries[o++] = s->entries[i];
    s->count = o;
    for (size_t i = 0; i < s->count; i++) {
        org_range_t *r = &s->orgs[s->entries[i].org];
        if (i == 0 || s->entries[i - 1].org != s->entries[i].org)
            r->start = i;
        r->end = i + 1;
    }
}

size_t sluice_pseudonym_set_count(const sluice_pseudonym_set_t *s, const char *org)
{
    if (s == NULL)
        return 0;
    if (org == NULL)
        return s->count;
    long o = org_index(s, org);
    return o < 0 ? 0 : s->orgs[o].end - s->orgs[o].start;
}

static int contains(const sluice_pseudonym_set_t *s, const org_range_t *r, const uint8_t p[SLUICE_PSEUDONYM_LEN])
{
    size_t lo = r->start, hi = r->end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->entries[mid].p, p, SLUICE_PSEUDONYM_LEN);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int sluice_pseudonym_set_contains(const sluice_pseudonym_set_t *s, const char *org,
                                  const uint8_t p[SLUICE_PSEUDONYM_LEN])
{
    long o = s != NULL ? org_index(s, org) : -1;
    return o >= 0 && contains(s, &s->orgs[o], p);
}

int sluice_pseudonym_set_match(const sluice_pseudonym_set_t *s, const char *org,
                               const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_pseudonym_get_fn get, void *ud)
{
    long o = s != NULL ? org_index(s, org) : -1;
    if (o < 0 || s->orgs[o].end == s->orgs[o].start)
        return 0;
    for (size_t i = 0; i < SLUICE_PSEUDONYM_ID_PATH_COUNT; i++) {
        size_t len = 0;
        const char *id = get(ud, sluice_pseudonym_id_paths[i], &len);
        uint8_t p[SLUICE_PSEUDONYM_LEN];
        if (id != NULL && len > 0 && sluice_pseudonym(key, id, len, p) == 0 && contains(s, &s->orgs[o], p))
            return 1;
    }
    return 0;
}

void sluice_pseudonym_set_destroy(sluice_pseudonym_set_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->org_count; i++)
        free(s->orgs[i].id);
    free(s->orgs);
    free(s->entries);
    free(s);
}

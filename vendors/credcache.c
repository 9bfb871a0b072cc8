/*
 * TTL cache of decrypted credentials (see credcache.h): one entry per integration's credentials,
 * in a hash table. A list scanned on every batch sent, and swept whole on every loop turn, was a
 * tenth of the worker's CPU at 2,000 orgs (3,000 entries; docs/vendors.md, At scale). One thread.
 */
#include "vendors/credcache.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "vendors/vendor.h"

typedef struct entry {
    char *org, *name, *vendor;
    json_t *secret;
    int64_t read_ms, expires_ms;
    int refreshing; /* expired, and the vault is being read for it: kept for sluice_credcache_renew */
    unsigned hash;
    struct entry *next; /* the bucket's chain */
} entry_t;

#define CC_BUCKETS 4096 /* a power of two */

struct sluice_credcache {
    int64_t ttl_ms;
    entry_t *buckets[CC_BUCKETS];
    size_t count;
    /* No entry is due for the sweep before this (monotonic ms): entries' deadlines only move
     * later (renew, a replacing put), and a new entry lowers it, so the sweep walks the table
     * only when one is due, not on every loop turn. */
    int64_t sweep_due_ms;
};

static unsigned key_hash(const char *org, const char *name, const char *vendor)
{
    unsigned h = 2166136261u; /* FNV-1a over the three names and their NULs */
    const char *parts[3] = {org, name, vendor};
    for (int i = 0; i < 3; i++) {
        for (const unsigned char *c = (const unsigned char *)parts[i];; c++) {
            h = (h ^ *c) * 16777619u;
            if (*c == '\0')
                break;
        }
    }
    return h;
}

static void *alloc_fn(size_t n)
{
    return malloc(n);
}

static void wipe_free_fn(void *p)
{
    if (p == NULL)
        return;
    sluice_secure_zero(p, malloc_usable_size(p));
    free(p);
}

void sluice_secret_allocator_install(void)
{
    json_set_alloc_funcs(alloc_fn, wipe_free_fn);
}

sluice_credcache_t *sluice_credcache_create(unsigned ttl_s)
{
    sluice_credcache_t *c = calloc(1, sizeof(*c));
    if (c != NULL) {
        c->ttl_ms = (int64_t)ttl_s * 1000;
        c->sweep_due_ms = INT64_MAX;
    }
    return c;
}

static void entry_free(entry_t *e)
{
    /* The JSON strings are wiped by the allocator installed above; the names are not secret. */
    json_decref(e->secret);
    free(e->org);
    free(e->name);
    free(e->vendor);
    free(e);
}

void sluice_credcache_destroy(sluice_credcache_t *c)
{
    if (c == NULL)
        return;
    for (size_t b = 0; b < CC_BUCKETS; b++) {
        for (entry_t *e = c->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    free(c);
}

static entry_t **find(sluice_credcache_t *c, const char *org, const char *name, const char *vendor)
{
    unsigned h = key_hash(org, name, vendor);
    for (entry_t **pp = &c->buckets[h & (CC_BUCKETS - 1)]; *pp != NULL; pp = &(*pp)->next) {
        entry_t *e = *pp;
        if (e->hash == h && strcmp(e->org, org) == 0 && strcmp(e->name, name) == 0 && strcmp(e->vendor, vendor) == 0)
            return pp;
    }
    return NULL;
}

static void unlink_entry(sluice_credcache_t *c, entry_t **pp)
{
    entry_t *e = *pp;
    *pp = e->next;
    c->count--;
    entry_free(e);
}

const json_t *sluice_credcache_get(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                   int64_t now_ms)
{
    entry_t **pp = find(c, org, name, vendor);
    if (pp == NULL)
        return NULL;
    if ((*pp)->expires_ms <= now_ms) {
        (*pp)->refreshing = 1;
        return NULL;
    }
    return (*pp)->secret;
}

const json_t *sluice_credcache_renew(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                     int64_t now_ms, int64_t *age_ms)
{
    entry_t **pp = find(c, org, name, vendor);
    if (pp == NULL || !(*pp)->refreshing)
        return NULL;
    (*pp)->refreshing = 0;
    (*pp)->expires_ms = now_ms + c->ttl_ms;
    *age_ms = now_ms - (*pp)->read_ms;
    return (*pp)->secret;
}

void sluice_credcache_drop(sluice_credcache_t *c, const char *org, const char *name, const char *vendor)
{
    entry_t **pp = find(c, org, name, vendor);
    if (pp != NULL)
        unlink_entry(c, pp);
}

const json_t *sluice_credcache_put(sluice_credcache_t *c, const char *org, const char *name, const char *vendor,
                                   const char *plaintext, size_t len, int64_t now_ms, sluice_err_t *err)
{
    json_t *secret = json_loadb(plaintext, len, 0, NULL);
    if (secret == NULL || !json_is_object(secret)) {
        json_decref(secret);
        sluice_err_set(err, "the stored secret is not a JSON object");
        return NULL;
    }
    /* A CR or LF in a value would reach the vendor's request as it is: libcurl writes a header
     * line holding them raw (TikTok's Access-Token, the Bearer vendors' Authorization), ending the
     * headers early or adding one. `vault put` refuses them now; a row stored before it did is
     * refused here, so its events fail with the way out instead. A member used only as key
     * bytes (the webhook's HMAC key) reaches no request: refusing it dead-lettered every event
     * of a signed webhook whose key has a newline (`openssl rand -base64 64` wraps its lines),
     * delivered until then, and which its receiver verifies with those very bytes. */
    const sluice_vendor_ops_t *ops = sluice_vendor_find(vendor);
    const char *key;
    json_t *v;
    json_object_foreach(secret, key, v) {
        if (!sluice_vendor_secret_in_request(ops, key))
            continue;
        const char *sv = json_string_value(v);
        size_t n = json_string_length(v), ctl = 0;
        for (size_t i = 0; sv != NULL && i < n; i++)
            ctl += (unsigned char)sv[i] < 0x20 || sv[i] == 0x7f;
        if (ctl > 0) {
            char shown[65];
            snprintf(shown, sizeof(shown), "%s", key);
            json_decref(secret);
            sluice_err_set(err,
                           "the stored secret's member '%s' holds a newline or other control character, which no "
                           "request may carry: `sluicectl vault put` it again without",
                           shown);
            return NULL;
        }
    }
    entry_t **pp = find(c, org, name, vendor);
    if (pp != NULL)
        unlink_entry(c, pp);
    entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->org = strdup(org)) == NULL || (e->name = strdup(name)) == NULL ||
        (e->vendor = strdup(vendor)) == NULL) {
        if (e != NULL) {
            e->secret = secret;
            entry_free(e);
        } else {
            json_decref(secret);
        }
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    e->secret = secret;
    e->read_ms = now_ms;
    e->expires_ms = now_ms + c->ttl_ms;
    e->hash = key_hash(org, name, vendor);
    e->next = c->buckets[e->hash & (CC_BUCKETS - 1)];
    c->buckets[e->hash & (CC_BUCKETS - 1)] = e;
    c->count++;
    if (e->expires_ms + c->ttl_ms < c->sweep_due_ms)
        c->sweep_due_ms = e->expires_ms + c->ttl_ms;
    return secret;
}

size_t sluice_credcache_sweep(sluice_credcache_t *c, int64_t now_ms)
{
    size_t dropped = 0;
    if (now_ms < c->sweep_due_ms)
        return 0;
    int64_t due = INT64_MAX;
    for (size_t b = 0; b < CC_BUCKETS; b++) {
        for (entry_t **pp = &c->buckets[b]; *pp != NULL;) {
            /* An expired entry stays, unused, for one more TTL: the sweep runs every loop turn
             * and would otherwise drop it before the next batch asks for it, leaving nothing to
             * go on with when that batch's vault read fails. Not longer, read under way or not:
             * plaintext lives at most two TTLs after its last read or renewal. */
            if ((*pp)->expires_ms + c->ttl_ms <= now_ms) {
                unlink_entry(c, pp);
                dropped++;
            } else {
                if ((*pp)->expires_ms + c->ttl_ms < due)
                    due = (*pp)->expires_ms + c->ttl_ms;
                pp = &(*pp)->next;
            }
        }
    }
    c->sweep_due_ms = due;
    return dropped;
}

size_t sluice_credcache_size(const sluice_credcache_t *c)
{
    return c->count;
}

/*
 * A gateway runtime: one loaded config plus everything derived from it that requests use
 * (write-key digests, rate-limit slots, hash variants, loaded masking plugins).
 *
 * Runtimes are reference counted. The main thread builds a new one on SIGHUP and hands a
 * reference to every worker; each request holds a reference for its whole life, so requests
 * in flight finish on the config they started with. The last release frees it: on the thread
 * that builds runtimes (the main thread), else on a short-lived thread of its own, so that an
 * event loop dropping the last reference does not stop to free a config of thousands of orgs.
 */
#ifndef SLUICE_GATEWAY_RUNTIME_H
#define SLUICE_GATEWAY_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config.h"
#include "crypto/hash.h"
#include "crypto/pseudonym.h"
#include "gateway/datalayer.h"
#include "gateway/limiter.h"
#include "gateway/piiguard.h"

typedef struct sluice_plugin_set sluice_plugin_set_t;
typedef struct sluice_plugin_tally sluice_plugin_tally_t;
typedef struct sluice_keyring sluice_keyring_t;
typedef struct sluice_gw_maskers sluice_gw_maskers_t;

typedef struct sluice_source_rt {
    const sluice_org_t *org;
    const sluice_source_t *src;
    size_t org_index;
    uint8_t key_digest[SLUICE_SHA256_LEN];  /* SHA-256 of the write key */
    uint8_t prev_digest[SLUICE_SHA256_LEN]; /* of the previous key, during its grace window */
    int has_key, has_prev;
    int64_t prev_until_ms; /* previous key refused from then on */
    int limit_slot;        /* its buckets in the gateway's limiter (gateway/limiter.h); -1: none */
} sluice_source_rt_t;

typedef struct sluice_org_rt {
    const sluice_org_t *org;
    unsigned variants;                        /* extra hash variants its integrations read */
    sluice_piiguard_t *guard;                 /* the org's PII guard over fields no rule names (piiguard.h) */
    uint8_t forget_key[SLUICE_PSEUDONYM_LEN]; /* pseudonyms of its ids (crypto/pseudonym.h) */
} sluice_org_rt_t;

typedef struct sluice_runtime {
    atomic_uint refs;
    uint64_t generation;
    sluice_config_t *cfg;
    unsigned nthreads;
    sluice_org_rt_t *orgs;
    size_t org_count;
    sluice_source_rt_t *sources;
    size_t source_count;
    /* The sources' key digests (current and previous) by their first bytes: open addressing,
     * each entry (source index << 1 | 1 for a previous key) + 1, 0 empty; key_index_cap a power
     * of two. A request's key is compared with the few digests its probe meets instead of every
     * source's two (6,000 sources made each request, and each refused one, scan 380 KB). */
    size_t *key_index;
    size_t key_index_cap;
    /* Every source's allowed origins by their text (open addressing; NULL empty; a power of two):
     * a preflight, or a refused request's Origin, from a site no source allows compared with
     * every origin of every source. */
    const char **origin_index;
    size_t origin_index_cap;
    sluice_limiter_t *limiter;        /* where the sources' limit_slots are held, given back when freed */
    sluice_plugin_set_t *plugins;     /* the mask rules' plugin instances */
    sluice_gw_maskers_t *maskers;     /* the data layer's mask seam, one per thread */
    struct sluice_enrichment *enrich; /* regexes, geolocation database, user-agent caches (enrichment.h) */
    /* The HTTPS listener's TLS context (an SSL_CTX) for connections accepted while this runtime
     * is a worker's current one, made by a reload (server.c) so that a renewed certificate is
     * served; NULL: the one made at start. One reference, dropped with tls_free at the end. */
    void *tls;
    void (*tls_free)(void *tls);
} sluice_runtime_t;

/* Builds a runtime over cfg (taking ownership of it; it is freed with the runtime, also on
 * failure) for nthreads event-loop threads, loading every mask rule's plugin (keys serves the
 * plugins' host->seal and must outlive the runtime) and finding each source's rate-limit slot in
 * limiter (may be NULL: no limits; must outlive the runtime). The plugins count into tally (may
 * be NULL; must outlive the runtime), so their counters go on across reloads. Returns a runtime holding one
 * reference, or NULL with err set (a plugin that fails to load gives its "file:line:col:
 * reason"s). prev: the runtime it replaces (a reload), or NULL; what is unchanged on disk is
 * shared with it (enrichment.h). Main thread. */
sluice_runtime_t *sluice_runtime_create(sluice_config_t *cfg, unsigned nthreads, const sluice_keyring_t *keys,
                                        sluice_limiter_t *limiter, sluice_plugin_tally_t *tally,
                                        const sluice_runtime_t *prev, sluice_err_t *err);

/* The mask seam for event-loop thread `thread` (gateway/masker.h). Thread `thread` only. */
const sluice_masker_t *sluice_runtime_masker(const sluice_runtime_t *rt, unsigned thread);

/* Reference counting; any thread. Release of the last reference frees everything (see above);
 * on the building thread it first waits for the runtimes being freed elsewhere, so that none
 * outlives what the caller frees next (the limiter, the plugin tally). */
sluice_runtime_t *sluice_runtime_acquire(sluice_runtime_t *rt);
void sluice_runtime_release(sluice_runtime_t *rt);

/* The source whose current (or still-in-grace previous) write key equals key: the key's SHA-256
 * is looked up by its first bytes and compared in constant time with each digest met there (the
 * time taken depends on the digest, which says nothing of any source's key). NULL when none. Any
 * thread. */
const sluice_source_rt_t *sluice_runtime_auth(const sluice_runtime_t *rt, const char *key, size_t len, int64_t now_ms);

/* 1 when origin (exact string) is allowed by the source; by any source of any org when s is NULL
 * (preflights carry no key). */
int sluice_runtime_origin_allowed(const sluice_runtime_t *rt, const sluice_source_rt_t *s, const char *origin,
                                  size_t len);

#endif

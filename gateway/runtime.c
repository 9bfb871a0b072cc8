/*
 * Gateway runtimes: a config and what requests derive from it, reference counted so a reload
 * can swap it while requests finish on the old one. Built on the main thread; read by the
 * event-loop threads; freed on the main thread, or on a thread of its own when another thread
 * (an event loop) drops the last reference.
 */
#include "gateway/runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/ct.h"
#include "gateway/enrichment.h"
#include "gateway/masker.h"
#include "plugins/set.h"

static int digest(const char *s, uint8_t out[SLUICE_SHA256_LEN])
{
    return sluice_sha256(s, strlen(s), out);
}

static void runtime_free(sluice_runtime_t *rt)
{
    /* Plugins go first: instances are destroyed (and their libraries closed) while the config
     * they were created from is still alive. */
    sluice_gw_maskers_free(rt->maskers);
    sluice_plugin_set_free(rt->plugins);
    sluice_enrichment_destroy(rt->enrich);
    if (rt->tls != NULL && rt->tls_free != NULL)
        rt->tls_free(rt->tls); /* connections accepted with it hold references of their own */
    for (size_t i = 0; rt->sources != NULL && i < rt->source_count; i++) {
        sluice_limiter_release(rt->limiter, rt->sources[i].limit_slot);
        sluice_secure_zero(rt->sources[i].key_digest, sizeof(rt->sources[i].key_digest));
        sluice_secure_zero(rt->sources[i].prev_digest, sizeof(rt->sources[i].prev_digest));
    }
    free(rt->sources);
    free(rt->key_index);
    free(rt->origin_index);
    for (size_t i = 0; rt->orgs != NULL && i < rt->org_count; i++) {
        sluice_piiguard_destroy(rt->orgs[i].guard);
        sluice_secure_zero(rt->orgs[i].forget_key, sizeof(rt->orgs[i].forget_key));
    }
    free(rt->orgs);
    sluice_config_free(rt->cfg);
    free(rt);
}

/* The thread that builds runtimes (the gateway's main thread), and the runtimes being freed on
 * threads of their own. Freeing a runtime of 2,000 orgs took 0.14 to 0.22 s (its plugin
 * instances, PII guards, rules and YAML tree), and under load its last reference is dropped by
 * an event loop (a request that was waiting for its Kafka ack during the reload): freed there,
 * that loop's other requests waited meanwhile (integration.config_scale). */
static pthread_mutex_t reap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cv = PTHREAD_COND_INITIALIZER;
static size_t reaping;
static pthread_t builder;
static atomic_int have_builder;

/* Loads the mask rules' plugins; on failure err lists every reason ("file:line:col: ...; ..."). */
static int load_plugins(sluice_runtime_t *rt, const sluice_keyring_t *keys, sluice_err_t *err)
{
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    rt->plugins = sluice_plugin_set_load(rt->cfg, keys, rt->nthreads, 0, &diag);
    if (rt->plugins == NULL) {
        sluice_err_set(err, "mask plugins:");
        for (size_t i = 0; i < diag.count; i++) {
            size_t used = strlen(err->msg);
            snprintf(err->msg + used, sizeof(err->msg) - used, "%s %s", i ? ";" : "", diag.msgs[i]);
        }
        sluice_config_diag_dispose(&diag);
        return -1;
    }
    sluice_config_diag_dispose(&diag);
    rt->maskers = sluice_gw_maskers_create(rt->plugins, rt->cfg, rt->nthreads);
    if (rt->maskers == NULL)
        return sluice_err_set(err, "out of memory building the runtime");
    return 0;
}

const sluice_masker_t *sluice_runtime_masker(const sluice_runtime_t *rt, unsigned thread)
{
    return sluice_gw_maskers_get(rt->maskers, thread);
}

/* Where a digest's probe starts: its first bytes are as random as the rest. */
static size_t key_home(const uint8_t d[SLUICE_SHA256_LEN], size_t cap)
{
    uint64_t h = 0;
    memcpy(&h, d, sizeof(h));
    return (size_t)h & (cap - 1);
}

static void key_index_put(sluice_runtime_t *rt, const uint8_t d[SLUICE_SHA256_LEN], size_t entry)
{
    size_t at = key_home(d, rt->key_index_cap);
    while (rt->key_index[at] != 0)
        at = (at + 1) & (rt->key_index_cap - 1);
    rt->key_index[at] = entry + 1;
}

/* Indexes every source's digests; -1 when out of memory. */
static int build_key_index(sluice_runtime_t *rt)
{
    size_t cap = 16;
    while (cap < 4 * rt->source_count) /* two digests a source at most: at most half full */
        cap *= 2;
    if ((rt->key_index = calloc(cap, sizeof(*rt->key_index))) == NULL)
        return -1;
    rt->key_index_cap = cap;
    for (size_t i = 0; i < rt->source_count; i++) {
        const sluice_source_rt_t *s = &rt->sources[i];
        if (s->has_key)
            key_index_put(rt, s->key_digest, i << 1);
        if (s->has_prev)
            key_index_put(rt, s->prev_digest, i << 1 | 1);
    }
    return 0;
}

static size_t origin_home(const char *origin, size_t len, size_t cap)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)origin[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h & (cap - 1);
}

/* Indexes every source's allowed origins (each text once); -1 when out of memory. */
static int build_origin_index(sluice_runtime_t *rt)
{
    size_t n = 0, cap = 16;
    for (size_t i = 0; i < rt->source_count; i++)
        n += rt->sources[i].src->allowed_origin_count;
    while (cap < 2 * n)
        cap *= 2;
    if ((rt->origin_index = calloc(cap, sizeof(*rt->origin_index))) == NULL)
        return -1;
    rt->origin_index_cap = cap;
    for (size_t i = 0; i < rt->source_count; i++) {
        const sluice_source_t *src = rt->sources[i].src;
        for (size_t k = 0; k < src->allowed_origin_count; k++) {
            const char *o = src->allowed_origins[k];
            size_t at = origin_home(o, strlen(o), cap);
            while (rt->origin_index[at] != NULL && strcmp(rt->origin_index[at], o) != 0)
                at = (at + 1) & (cap - 1);
            rt->origin_index[at] = o;
        }
    }
    return 0;
}

sluice_runtime_t *sluice_runtime_create(sluice_config_t *cfg, unsigned nthreads, const sluice_keyring_t *keys,
                                        sluice_limiter_t *limiter, sluice_plugin_tally_t *tally,
                                        const sluice_runtime_t *prev, sluice_err_t *err)
{
    static atomic_uint_fast64_t generations;
    if (!atomic_load(&have_builder)) {
        builder = pthread_self();
        atomic_store(&have_builder, 1);
    }
    sluice_runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        sluice_config_free(cfg);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    atomic_init(&rt->refs, 1);
    rt->generation = atomic_fetch_add(&generations, 1) + 1;
    rt->cfg = cfg;
    rt->nthreads = nthreads;
    rt->org_count = cfg->org_count;
    rt->orgs = calloc(cfg->org_count ? cfg->org_count : 1, sizeof(*rt->orgs));
    for (size_t o = 0; o < cfg->org_count; o++)
        rt->source_count += cfg->orgs[o].source_count;
    rt->sources = calloc(rt->source_count ? rt->source_count : 1, sizeof(*rt->sources));
    if (rt->orgs == NULL || rt->sources == NULL)
        goto oom;
    rt->limiter = limiter;
    for (size_t i = 0; i < rt->source_count; i++)
        rt->sources[i].limit_slot = -1; /* none taken yet: a failure below releases what was */

    size_t k = 0;
    for (size_t o = 0; o < cfg->org_count; o++) {
        const sluice_org_t *org = &cfg->orgs[o];
        rt->orgs[o].org = org;
        rt->orgs[o].variants = sluice_datalayer_variants(org);
        if ((rt->orgs[o].guard = sluice_piiguard_create(org)) == NULL)
            goto oom;
        sluice_piiguard_set_share(rt->orgs[o].guard, cfg->org_count);
        if (sluice_pseudonym_org_key(cfg->forget.key, cfg->forget.key_len, org->id, rt->orgs[o].forget_key) != 0)
            goto crypto;
        for (size_t s = 0; s < org->source_count; s++, k++) {
            sluice_source_rt_t *sr = &rt->sources[k];
            const sluice_source_t *src = &org->sources[s];
            sr->org = org;
            sr->src = src;
            sr->org_index = o;
            if (src->write_key != NULL && src->write_key[0] != '\0') {
                if (digest(src->write_key, sr->key_digest) != 0)
                    goto crypto;
                sr->has_key = 1;
            }
            if (src->previous_write_key != NULL && src->previous_write_key[0] != '\0' && src->rotated_at != 0) {
                if (digest(src->previous_write_key, sr->prev_digest) != 0)
                    goto crypto;
                sr->has_prev = 1;
                sr->prev_until_ms = ((int64_t)src->rotated_at + (int64_t)src->grace_hours * 3600) * 1000;
            }
            /* The buckets are the limiter's, found by name: a reload keeps them as they are. */
            sr->limit_slot = limiter != NULL ? sluice_limiter_slot(limiter, org->id, src->id) : -1;
            if (limiter != NULL && sr->limit_slot < 0) {
                sluice_err_set(err,
                               "no rate-limit slot for %s/%s: the config and the runtimes still serving name more than "
                               "%d sources (or out of memory)",
                               org->id, src->id, SLUICE_LIMITER_MAX_SLOTS);
                runtime_free(rt);
                return NULL;
            }
        }
    }
    if (build_key_index(rt) != 0 || build_origin_index(rt) != 0)
        goto oom;
    if (load_plugins(rt, keys, err) != 0 ||
        (rt->enrich = sluice_enrichment_create(cfg, nthreads, prev != NULL ? prev->enrich : NULL, err)) == NULL) {
        runtime_free(rt);
        return NULL;
    }
    /* Counted with the earlier runtimes' instances: a reload does not set them back to 0. */
    if (sluice_plugin_set_attach_tally(rt->plugins, tally) != 0)
        goto oom;
    return rt;

oom:
    sluice_err_set(err, "out of memory building the runtime");
    runtime_free(rt);
    return NULL;
crypto:
    sluice_err_set(err, "SHA-256 or HMAC unavailable");
    runtime_free(rt);
    return NULL;
}

sluice_runtime_t *sluice_runtime_acquire(sluice_runtime_t *rt)
{
    atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
    return rt;
}

static void *reap_main(void *arg)
{
    runtime_free(arg);
    pthread_mutex_lock(&reap_mu);
    reaping--;
    pthread_cond_broadcast(&reap_cv);
    pthread_mutex_unlock(&reap_mu);
    return NULL;
}

/* Frees rt on a detached thread of its own (inline when none can be started: memory is then
 * short, and freeing gives it back); 0 when handed over. */
static int reap_async(sluice_runtime_t *rt)
{
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&reap_mu);
    reaping++;
    int rc = pthread_create(&th, &attr, reap_main, rt);
    if (rc != 0)
        reaping--;
    pthread_mutex_unlock(&reap_mu);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

void sluice_runtime_release(sluice_runtime_t *rt)
{
    if (rt == NULL || atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (atomic_load(&have_builder) && !pthread_equal(pthread_self(), builder)) {
        if (reap_async(rt) == 0)
            return;
    } else {
        /* On the builder's thread (a reload, or the gateway's shutdown): the runtimes other
         * threads let go are freed first, so none outlives the limiter, tally and plugins'
         * libraries the caller frees next. */
        pthread_mutex_lock(&reap_mu);
        while (reaping > 0)
            pthread_cond_wait(&reap_cv, &reap_mu);
        pthread_mutex_unlock(&reap_mu);
    }
    runtime_free(rt);
}

const sluice_source_rt_t *sluice_runtime_auth(const sluice_runtime_t *rt, const char *key, size_t len, int64_t now_ms)
{
    uint8_t d[SLUICE_SHA256_LEN];
    if (len == 0 || sluice_sha256(key, len, d) != 0)
        return NULL;
    /* The lowest-numbered source wins, as when every source was scanned in order (keys are
     * unique across sources when secrets are resolved, so at most one matches). */
    const sluice_source_rt_t *found = NULL;
    for (size_t at = key_home(d, rt->key_index_cap); rt->key_index[at] != 0; at = (at + 1) & (rt->key_index_cap - 1)) {
        size_t entry = rt->key_index[at] - 1;
        const sluice_source_rt_t *s = &rt->sources[entry >> 1];
        int prev = (int)(entry & 1);
        int match = prev ? (now_ms < s->prev_until_ms) & sluice_ct_equal(d, s->prev_digest, sizeof(d))
                         : sluice_ct_equal(d, s->key_digest, sizeof(d));
        if (match && (found == NULL || s < found))
            found = s;
    }
    sluice_secure_zero(d, sizeof(d));
    return found;
}

static int origin_in(const sluice_source_t *src, const char *origin, size_t len)
{
    for (size_t i = 0; i < src->allowed_origin_count; i++) {
        const char *a = src->allowed_origins[i];
        if (strlen(a) == len && memcmp(a, origin, len) == 0)
            return 1;
    }
    return 0;
}

int sluice_runtime_origin_allowed(const sluice_runtime_t *rt, const sluice_source_rt_t *s, const char *origin,
                                  size_t len)
{
    if (s != NULL)
        return origin_in(s->src, origin, len);
    for (size_t at = origin_home(origin, len, rt->origin_index_cap); rt->origin_index[at] != NULL;
         at = (at + 1) & (rt->origin_index_cap - 1)) {
        const char *a = rt->origin_index[at];
        if (strlen(a) == len && memcmp(a, origin, len) == 0)
            return 1;
    }
    return 0;
}

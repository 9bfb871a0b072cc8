/*
 * Per-thread identity state and the per-request identity job. Loop thread of the request.
 *
 * The job runs in two asynchronous phases so that each Redis round trip overlaps as much as it
 * can: phase 0 redeems the cross-domain token (SET NX PX) and probes dedup keys (EXISTS) in
 * parallel; once the token's fate is known the events' anonymous ids are final, and phase 1
 * looks up the user ids known for them (HGET). Requests without a token, or orgs without
 * Redis, pay at most one round trip, bounded by the client's per-command timeout; while Redis
 * is disconnected every command fails at once, so an outage costs nothing but the features.
 *
 * messageId dedup is "check before, remember after": EXISTS before producing, SET ... EX once
 * Kafka acknowledged. Setting the key up front (SET NX) would lose the event when Kafka then
 * refuses it and the client's retry is taken for a duplicate; this way a failure can only let a
 * duplicate through, never drop an event.
 *
 * Tokens fail closed: anything short of "opened, bound to this org and this request's origin,
 * not expired, and Redis said this jti is new" leaves the event under its local id.
 */
#include "identity/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/ct.h"

#define XD_KEY_PREFIX     "sluice:xd:"
#define REPLAY_KEY_PREFIX "sluice:sig:"
/* How many (org, host) pairs a refused token is tried against to explain why it was refused. */
#define MAX_CLASSIFY_SCOPES 64
/* Longest Redis key built from an event value (anonymous and previous ids). */
#define LINK_KEY_MAX 512

sluice_identity_thread_t *sluice_identity_thread_create(const sluice_config_t *cfg, h2o_loop_t *loop,
                                                        const sluice_keyring_t *keys, sluice_err_t *err)
{
    sluice_identity_thread_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->keys = keys;
    if (cfg->redis.url != NULL && cfg->redis.host[0] != '\0') {
        t->redis = sluice_redis_create(loop, cfg->redis.host, cfg->redis.port, cfg->redis.db, cfg->redis.timeout_ms);
        if (t->redis == NULL) {
            sluice_err_set(err, "redis.url: cannot resolve host %s", cfg->redis.host);
            free(t);
            return NULL;
        }
    }
    return t;
}

void sluice_identity_thread_destroy(sluice_identity_thread_t *t)
{
    if (t == NULL)
        return;
    sluice_redis_destroy(t->redis);
    free(t);
}

int sluice_identity_needs_keys(const sluice_config_t *cfg)
{
    for (size_t i = 0; i < cfg->org_count; i++)
        if (cfg->orgs[i].identity.xd_domain_count > 0)
            return 1;
    return 0;
}

uint64_t sluice_identity_redis_errors(const sluice_identity_thread_t *t)
{
    return t != NULL ? atomic_load_explicit(&t->redis_errors, memory_order_relaxed) : 0;
}

static void count_error(sluice_identity_thread_t *t)
{
    atomic_store_explicit(&t->redis_errors, atomic_load_explicit(&t->redis_errors, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

int sluice_identity_xd_domain(const sluice_org_t *org, const char *host)
{
    for (size_t i = 0; host != NULL && i < org->identity.xd_domain_count; i++)
        if (strcasecmp(org->identity.xd_domains[i], host) == 0)
            return 1;
    return 0;
}

static json_t *ensure_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

/* A C string view of a JSON string without embedded NULs, or NULL. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

/* ------------------------------------------------------------------ step 1 */

static void copy_cookie(char *dst, size_t cap, h2o_iovec_t v)
{
    dst[0] = '\0';
    if (v.base != NULL && v.len < cap && sluice_cookie_value_ok(v.base, v.len)) {
        memcpy(dst, v.base, v.len);
        dst[v.len] = '\0';
    }
}

static void take_token_text(sluice_identity_job_t *job, const char *s, size_t len)
{
    if (job->token_state != 0 || len == 0)
        return;
    if (len > SLUICE_TOKEN_TEXT_MAX) {
        job->token_state = 2;
        return;
    }
    memcpy(job->token, s, len);
    job->token[len] = '\0';
    job->token_len = len;
    job->token_state = 1;
}

/* Takes holder[key] as the request's token (the first one found wins) and removes it. */
static void take_token_field(sluice_identity_job_t *job, json_t *holder, const char *key)
{
    json_t *v = json_object_get(holder, key);
    if (v == NULL)
        return;
    if (json_is_string(v))
        take_token_text(job, json_string_value(v), json_string_length(v));
    else if (job->token_state == 0)
        job->token_state = 2;
    json_object_del(holder, key); /* a bearer credential: never forwarded */
}

void sluice_identity_begin(sluice_identity_job_t *job, const sluice_identity_input_t *in, json_t *root)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    job->token_outcome = -1;
    job->browser = in->browser;
    job->now_ms = in->now_ms;
    job->anonymous_id[0] = '\0';
    job->visitor_minted = 0;
    if (in->cookie_id.base != NULL && sluice_id_valid(in->cookie_id.base, in->cookie_id.len)) {
        memcpy(job->anonymous_id, in->cookie_id.base, in->cookie_id.len);
        job->anonymous_id[in->cookie_id.len] = '\0';
    } else if (in->fallback_id.base != NULL && sluice_id_valid(in->fallback_id.base, in->fallback_id.len)) {
        memcpy(job->anonymous_id, in->fallback_id.base, in->fallback_id.len);
        job->anonymous_id[in->fallback_id.len] = '\0';
    }
    job->has_audience = in->origin.base != NULL &&
                        sluice_url_host(in->origin.base, in->origin.len, job->audience, sizeof(job->audience)) == 0;
    job->cookie_domain =
        in->host.base != NULL ? sluice_cookie_domain_for(idc->cookie_domain, in->host.base, in->host.len) : NULL;
    copy_cookie(job->fbp, sizeof(job->fbp), in->fbp);
    copy_cookie(job->fbc, sizeof(job->fbc), in->fbc);
    copy_cookie(job->ga, sizeof(job->ga), in->ga);
    job->fbclid[0] = '\0';
    if (in->token.base != NULL)
        take_token_text(job, in->token.base, in->token.len);
    if (json_is_object(root))
        take_token_field(job, root, "_dft");
}

/* ------------------------------------------------------------------ step 2 */

/* Removes `_dft=` from the URL string obj[key] (a token in a landing URL must not reach Kafka
 * through context.page.url, .search or .referrer of this or the next page). */
static void scrub(json_t *obj, const char *key)
{
    const char *s = plain_string(json_object_get(obj, key));
    if (s == NULL || strchr(s, '?') == NULL)
        return;
    char *copy = strdup(s);
    if (copy == NULL)
        return;
    if (sluice_url_remove_param(copy, "_dft") > 0)
        json_object_set_new(obj, key, json_string(copy));
    free(copy);
}

static void page_url(sluice_identity_job_t *job, json_t *ctx, const char *url)
{
    if (job->token_state == 0) {
        char tok[SLUICE_TOKEN_TEXT_MAX + 1];
        size_t tl;
        int rc = sluice_url_param(url, "_dft", tok, sizeof(tok), &tl);
        if (rc == 1)
            take_token_text(job, tok, tl);
        else if (rc < 0)
            job->token_state = 2;
        sluice_secure_zero(tok, sizeof(tok));
    }
    json_t *ids = sluice_click_ids(url);
    if (ids == NULL)
        return;
    const char *fbclid = json_string_value(json_object_get(ids, "fbclid"));
    if (fbclid != NULL && job->fbclid[0] == '\0' && strlen(fbclid) < sizeof(job->fbclid))
        memcpy(job->fbclid, fbclid, strlen(fbclid) + 1);
    json_t *cur = json_object_get(ctx, "clickIds");
    if (json_is_object(cur)) {
        json_object_update(cur, ids);
        json_decref(ids);
    } else {
        json_object_set_new(ctx, "clickIds", ids);
    }
}

int sluice_identity_assign(sluice_identity_job_t *job, json_t *ev)
{
    take_token_field(job, ev, "_dft");
    json_t *ctx = json_object_get(ev, "context");
    if (json_is_object(ctx)) {
        take_token_field(job, ctx, "crossDomainToken"); /* where sluice.js puts it */
        json_object_del(ctx, "identity");               /* ours to write: a client cannot claim links */
        json_t *page = json_object_get(ctx, "page");
        if (json_is_object(page)) {
            const char *url = plain_string(json_object_get(page, "url"));
            if (url != NULL)
                page_url(job, ctx, url);
            scrub(page, "url");
            scrub(page, "search");
            scrub(page, "referrer");
        }
    }
    json_t *props = json_object_get(ev, "properties");
    if (json_is_object(props)) {
        scrub(props, "url");
        scrub(props, "search");
        scrub(props, "referrer");
    }

    json_t *anon = json_object_get(ev, "anonymousId");
    if (json_is_string(anon)) {
        /* The body's id wins for the event; it also becomes the cookie when there is none. */
        if (job->browser && job->anonymous_id[0] == '\0' &&
            sluice_id_valid(json_string_value(anon), json_string_length(anon)))
            memcpy(job->anonymous_id, json_string_value(anon), json_string_length(anon) + 1);
        return 0;
    }
    if (!job->browser) {
        /* Server sources have no cookie: an id only when the event has no userId either. */
        if (json_is_string(json_object_get(ev, "userId")))
            return 0;
        char id[SLUICE_ID_MINT_LEN + 1];
        if (sluice_id_mint(id) != 0)
            return -1;
        json_object_set_new(ev, "anonymousId", json_string(id));
        return 0;
    }
    if (job->anonymous_id[0] == '\0') {
        if (sluice_id_mint(job->anonymous_id) != 0)
            return -1;
        job->visitor_minted = 1;
    }
    json_object_set_new(ev, "anonymousId", json_string(job->anonymous_id));
    return 0;
}

/* ------------------------------------------------------------------ step 3: plumbing */

typedef struct probe {
    sluice_identity_job_t *job;
    size_t index;
} probe_t;

static void finish(sluice_identity_job_t *job);
static void adopt(sluice_identity_job_t *job);
static void start_lookups(sluice_identity_job_t *job);

static void step_done(sluice_identity_job_t *job)
{
    if (--job->waiting > 0)
        return;
    if (job->phase == 0) {
        adopt(job);
        job->phase = 1;
        /* One count for start_lookups itself, as in sluice_identity_run. */
        job->waiting = 1;
        start_lookups(job);
        step_done(job);
    } else {
        finish(job);
        job->done(job);
    }
}

static int send_probe(sluice_identity_job_t *job, size_t index, sluice_redis_cb cb, int argc, const char **argv,
                      const size_t *lens)
{
    probe_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    *p = (probe_t){job, index};
    job->waiting++;
    if (sluice_redis_command(job->t->redis, cb, p, argc, argv, lens) != 0) {
        job->waiting--;
        count_error(job->t);
        free(p);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ dedup */

static void on_exists(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    probe_t *p = ud;
    sluice_identity_job_t *job = p->job;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        job->duplicate[p->index] = 1;
    else if (status != SLUICE_REDIS_OK)
        count_error(job->t);
    if (status == SLUICE_REDIS_TIMEOUT)
        job->redis_slow = 1;
    free(p);
    step_done(job);
}

static int dedup_key(char *out, size_t cap, const sluice_org_t *org, const char *message_id)
{
    int n = snprintf(out, cap, "sluice:dedup:%s:%s", org->id, message_id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static void start_dedup(sluice_identity_job_t *job)
{
    size_t i;
    json_t *ev;
    json_array_foreach(job->events, i, ev) {
        const char *mid = json_string_value(json_object_get(ev, "messageId"));
        char key[512];
        int klen = mid ? dedup_key(key, sizeof(key), job->org, mid) : -1;
        if (klen < 0)
            continue;
        const char *argv[2] = {"EXISTS", key};
        size_t lens[2] = {6, (size_t)klen};
        send_probe(job, i, on_exists, 2, argv, lens);
    }
}

/* ------------------------------------------------------------------ cross-domain token */

static void on_redeemed(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_job_t *job = ud;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS) {
        job->token_outcome = SLUICE_TOKEN_REDEEMED;
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_NIL) {
        job->token_outcome = SLUICE_TOKEN_REPLAYED;
    } else {
        job->token_outcome =
            status == SLUICE_REDIS_TIMEOUT ? SLUICE_TOKEN_REDIS_TIMEOUT : SLUICE_TOKEN_REDIS_UNAVAILABLE;
        job->redis_slow = status == SLUICE_REDIS_TIMEOUT;
        count_error(job->t);
    }
    step_done(job);
}

/* Why the token does not open here: tried against the other (org, domain) pairs of the config. */
static int classify(sluice_identity_job_t *job)
{
    sluice_token_scope_t scopes[MAX_CLASSIFY_SCOPES];
    size_t n = 0;
    const sluice_org_t *orgs = job->cfg != NULL ? job->cfg->orgs : job->org;
    size_t org_count = job->cfg != NULL ? job->cfg->org_count : 1;
    for (size_t o = 0; o < org_count && n < MAX_CLASSIFY_SCOPES; o++) {
        const sluice_identity_config_t *idc = &orgs[o].identity;
        for (size_t d = 0; d < idc->xd_domain_count && n < MAX_CLASSIFY_SCOPES; d++) {
            int same = strcmp(orgs[o].id, job->org->id) == 0 && job->has_audience &&
                       strcasecmp(idc->xd_domains[d], job->audience) == 0;
            if (!same)
                scopes[n++] = (sluice_token_scope_t){orgs[o].id, idc->xd_domains[d]};
        }
    }
    return sluice_token_classify(job->t->keys, job->org->id, job->token, job->token_len, scopes, n);
}

static void start_redeem(sluice_identity_job_t *job)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    int rc = SLUICE_TOKEN_MALFORMED;
    if (job->token_state == 1) {
        /* A token only opens for the origin of the request, and only if that is still one of the
         * org's domains. */
        const char *host =
            job->has_audience && sluice_identity_xd_domain(job->org, job->audience) ? job->audience : NULL;
        rc = sluice_token_open(job->t->keys, job->org->id, host, job->token, job->token_len, job->now_ms / 1000,
                               idc->xd_clock_skew_s, &job->claims);
        if (rc == SLUICE_TOKEN_BAD_TAG)
            rc = classify(job);
    }
    sluice_secure_zero(job->token, sizeof(job->token));
    job->token_len = 0;
    if (rc != 0) {
        job->token_outcome = rc;
        return;
    }
    job->token_outcome = SLUICE_TOKEN_REDIS_UNAVAILABLE;
    if (job->t->redis == NULL)
        return;
    /* The key lives exactly as long as the token could still be accepted; after that the
     * expiry check refuses a replay on its own. */
    int64_t px = (job->claims.exp + (int64_t)idc->xd_clock_skew_s) * 1000 - job->now_ms;
    if (px < 1000)
        px = 1000;
    char key[64], pxs[24];
    int klen = snprintf(key, sizeof(key), XD_KEY_PREFIX "%s", job->claims.jti);
    int plen = snprintf(pxs, sizeof(pxs), "%lld", (long long)px);
    const char *argv[6] = {"SET", key, "1", "NX", "PX", pxs};
    size_t lens[6] = {3, (size_t)klen, 1, 2, 2, (size_t)plen};
    job->waiting++;
    if (sluice_redis_command(job->t->redis, on_redeemed, job, 6, argv, lens) != 0) {
        job->waiting--;
        count_error(job->t);
    }
}

/* ------------------------------------------------------------------ signed requests */

static void on_replay_checked(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_job_t *job = ud;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS) {
        job->replay = SLUICE_REPLAY_FIRST;
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_NIL) {
        job->replay = SLUICE_REPLAY_SEEN;
    } else {
        job->replay = SLUICE_REPLAY_UNKNOWN;
        job->redis_slow = status == SLUICE_REDIS_TIMEOUT;
        count_error(job->t);
    }
    step_done(job);
}

/* SET sluice:sig:<key> 1 NX PX <until the signature could no longer be accepted, plus a margin>. */
static void start_replay_check(sluice_identity_job_t *job)
{
    /* Without Redis nothing remembers a signature: accepted unchecked (the gateway warns at start
     * and config check says so). */
    job->replay = SLUICE_REPLAY_NONE;
    if (job->t->redis == NULL)
        return;
    job->replay = SLUICE_REPLAY_UNKNOWN;
    int64_t px = job->replay_until_ms - job->now_ms + 1000;
    char key[sizeof(REPLAY_KEY_PREFIX) + SLUICE_IDENTITY_REPLAY_KEY_MAX], pxs[24];
    int klen = snprintf(key, sizeof(key), REPLAY_KEY_PREFIX "%s", job->replay_key);
    int plen = snprintf(pxs, sizeof(pxs), "%lld", (long long)(px < 1000 ? 1000 : px));
    const char *argv[6] = {"SET", key, "1", "NX", "PX", pxs};
    size_t lens[6] = {3, (size_t)klen, 1, 2, 2, (size_t)plen};
    job->waiting++;
    if (sluice_redis_command(job->t->redis, on_replay_checked, job, 6, argv, lens) != 0) {
        job->waiting--;
        count_error(job->t);
    }
}

static void on_replay_forgotten(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    (void)reply;
    if (status != SLUICE_REDIS_OK)
        count_error(ud);
}

void sluice_identity_forget_replay(sluice_identity_thread_t *t, const sluice_identity_job_t *job)
{
    if (job->replay != SLUICE_REPLAY_FIRST || t->redis == NULL)
        return;
    char key[sizeof(REPLAY_KEY_PREFIX) + SLUICE_IDENTITY_REPLAY_KEY_MAX];
    int klen = snprintf(key, sizeof(key), REPLAY_KEY_PREFIX "%s", job->replay_key);
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, (size_t)klen};
    if (sluice_redis_command(t->redis, on_replay_forgotten, t, 2, argv, lens) != 0)
        count_error(t);
}

/* First redemption: the token's anonymous id becomes this domain's (see docs/identity.md,
 * "adopt, and remember what it replaced"). */
static void adopt(sluice_identity_job_t *job)
{
    if (job->token_outcome != SLUICE_TOKEN_REDEEMED)
        return;
    const char *dfid = job->claims.dfid;
    size_t i;
    json_t *ev;
    json_array_foreach(job->events, i, ev) {
        json_t *ident = ensure_object(ensure_object(ev, "context"), "identity");
        json_object_set_new(ident, "crossDomain", json_true());
        json_t *anon = json_object_get(ev, "anonymousId");
        const char *a = json_string_value(anon);
        int minted_here = a != NULL && job->visitor_minted && strcmp(a, job->anonymous_id) == 0;
        if (a != NULL && !minted_here && strcmp(a, dfid) != 0)
            json_object_set(ident, "linkedFrom", anon);
        json_object_set_new(ev, "anonymousId", json_string(dfid));
    }
    if (job->anonymous_id[0] != '\0' && !job->visitor_minted && strcmp(job->anonymous_id, dfid) != 0)
        memcpy(job->replaced, job->anonymous_id, sizeof(job->replaced));
    memcpy(job->anonymous_id, dfid, strlen(dfid) + 1);
    job->visitor_minted = 0;
}

/* ------------------------------------------------------------------ links in Redis */

/* Hash sluice:id:<org>:<id> with the fields userId (identify, alias) and anonymousId (the id a
 * cross-domain token adopted in place of this one). */
static int link_key(char *out, size_t cap, const sluice_org_t *org, const char *id)
{
    int n = snprintf(out, cap, "sluice:id:%s:%s", org->id, id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static void on_lookup(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    probe_t *p = ud;
    sluice_identity_job_t *job = p->job;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        static const char *const fields[2] = {"userId", "anonymousId"};
        json_t *entry = json_object();
        for (size_t f = 0; f < 2; f++) {
            const redisReply *r = reply->element[f];
            json_t *v = r->type == REDIS_REPLY_STRING ? json_stringn(r->str, r->len) : NULL;
            if (v != NULL)
                json_object_set_new(entry, fields[f], v);
        }
        if (job->known == NULL)
            job->known = json_object();
        json_object_set_new(job->known, job->lookups[p->index], entry);
    } else if (status != SLUICE_REDIS_OK) {
        count_error(job->t);
    }
    free(p);
    step_done(job);
}

static void lookup(sluice_identity_job_t *job, const char *id)
{
    if (id == NULL || job->lookup_count == SLUICE_IDENTITY_MAX_LOOKUPS)
        return;
    for (size_t k = 0; k < job->lookup_count; k++)
        if (strcmp(job->lookups[k], id) == 0)
            return;
    char key[LINK_KEY_MAX];
    int klen = link_key(key, sizeof(key), job->org, id);
    if (klen < 0)
        return;
    job->lookups[job->lookup_count] = id;
    const char *argv[4] = {"HMGET", key, "userId", "anonymousId"};
    size_t lens[4] = {5, (size_t)klen, 6, 11};
    if (send_probe(job, job->lookup_count, on_lookup, 4, argv, lens) == 0)
        job->lookup_count++;
}

/* Phase 1: what Redis knows about the visitor's id and every event's id. */
static void start_lookups(sluice_identity_job_t *job)
{
    /* After a timeout in phase 0, a second wait would double the bound on this request. */
    if (job->t->redis == NULL || !sluice_redis_connected(job->t->redis) || job->redis_slow)
        return;
    if (job->browser && job->anonymous_id[0] != '\0' && !job->visitor_minted)
        lookup(job, job->anonymous_id);
    size_t i;
    json_t *ev;
    json_array_foreach(job->events, i, ev) {
        lookup(job, plain_string(json_object_get(ev, "anonymousId")));
    }
}

/* The value of field for id from the lookups, or NULL. */
static json_t *known(const sluice_identity_job_t *job, const char *id, const char *field)
{
    return id != NULL && job->known != NULL ? json_object_get(json_object_get(job->known, id), field) : NULL;
}

/* The id a token adopted in place of id, or NULL. Followed one step only, so a loop of links
 * can never make us loop. */
static const char *adopted_for(const sluice_identity_job_t *job, const char *id)
{
    const char *m = plain_string(known(job, id, "anonymousId"));
    return m != NULL && sluice_id_valid(m, strlen(m)) && strcmp(m, id) != 0 ? m : NULL;
}

static void on_written(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_thread_t *t = ud;
    if (status != SLUICE_REDIS_OK || reply->type == REDIS_REPLY_ERROR)
        count_error(t);
}

/* HSET sluice:id:<org>:<id> field value, then EXPIRE after link_ttl_days. Fire and forget: the
 * request does not wait, and a failure only loses the link. */
static void write_link(sluice_identity_job_t *job, const char *id, const char *field, const char *value)
{
    sluice_identity_thread_t *t = job->t;
    if (t->redis == NULL || id == NULL)
        return;
    char key[LINK_KEY_MAX], ttl[16];
    int klen = link_key(key, sizeof(key), job->org, id);
    if (klen < 0)
        return;
    int tlen = snprintf(ttl, sizeof(ttl), "%u", job->org->identity.link_ttl_days * SLUICE_COOKIE_DAY_S);
    const char *hset[4] = {"HSET", key, field, value};
    size_t hlens[4] = {4, (size_t)klen, strlen(field), strlen(value)};
    const char *expire[3] = {"EXPIRE", key, ttl};
    size_t elens[3] = {6, (size_t)klen, (size_t)tlen};
    if (sluice_redis_command(t->redis, on_written, t, 4, hset, hlens) != 0 ||
        sluice_redis_command(t->redis, on_written, t, 3, expire, elens) != 0)
        count_error(t);
}

/* ------------------------------------------------------------------ finishing */

static void add_cookie(sluice_identity_job_t *job, const char *name, const char *value, unsigned max_age_s,
                       int http_only)
{
    if (job->cookie_count >= SLUICE_IDENTITY_MAX_COOKIES)
        return;
    sluice_cookie_t c = {name, value, max_age_s, job->cookie_domain, http_only};
    if (sluice_cookie_format(&c, job->cookies[job->cookie_count], sizeof(job->cookies[0])) >= 0)
        job->cookie_count++;
}

/* Vendor cookies the org enabled: read when the browser has them, minted and set otherwise
 * (not HttpOnly, so the vendors' own pixels on the page share them). _fbc follows the latest
 * click: a different fbclid in the page URL replaces it, as Meta's pixel does. Returns the
 * context.vendorIds object, or NULL. */
static json_t *vendor_ids(sluice_identity_job_t *job)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    int meta = 0, ga4 = 0;
    for (size_t i = 0; i < idc->vendor_cookie_count; i++) {
        meta |= strcmp(idc->vendor_cookies[i], "meta") == 0;
        ga4 |= strcmp(idc->vendor_cookies[i], "ga4") == 0;
    }
    if (!meta && !ga4)
        return NULL;
    json_t *ids = json_object();
    if (meta) {
        if (job->fbp[0] == '\0' && sluice_vendor_fbp(job->now_ms, job->fbp, sizeof(job->fbp)) == 0)
            add_cookie(job, "_fbp", job->fbp, SLUICE_VENDOR_FBP_MAX_AGE_S, 0);
        if (job->fbclid[0] != '\0') {
            const char *click = job->fbc[0] != '\0' ? sluice_vendor_fbc_click(job->fbc) : NULL;
            char fresh[SLUICE_VENDOR_VALUE_MAX + 1];
            if ((click == NULL || strcmp(click, job->fbclid) != 0) &&
                sluice_vendor_fbc(job->now_ms, job->fbclid, fresh, sizeof(fresh)) == 0) {
                memcpy(job->fbc, fresh, strlen(fresh) + 1);
                add_cookie(job, "_fbc", job->fbc, SLUICE_VENDOR_FBC_MAX_AGE_S, 0);
            }
        }
        if (job->fbp[0] != '\0')
            json_object_set_new(ids, "fbp", json_string(job->fbp));
        if (job->fbc[0] != '\0')
            json_object_set_new(ids, "fbc", json_string(job->fbc));
    }
    if (ga4) {
        if (job->ga[0] == '\0' && sluice_vendor_ga(job->now_ms / 1000, job->ga, sizeof(job->ga)) == 0)
            add_cookie(job, "_ga", job->ga, SLUICE_VENDOR_GA_MAX_AGE_S, 0);
        if (job->ga[0] != '\0')
            json_object_set_new(ids, "ga", json_string(job->ga));
    }
    if (json_object_size(ids) == 0) {
        json_decref(ids);
        return NULL;
    }
    return ids;
}

/* An event whose id a token replaced earlier (Redis remembers it) takes the adopted id, with
 * linkedFrom saying which id it arrived with. Returns what the lookups found for the id it
 * arrived with (owned by job->known), or NULL. */
static json_t *resolve(sluice_identity_job_t *job, json_t *ev)
{
    json_t *anon = json_object_get(ev, "anonymousId");
    const char *a = plain_string(anon);
    json_t *entry = a != NULL && job->known != NULL ? json_object_get(job->known, a) : NULL;
    const char *m = adopted_for(job, a);
    if (m == NULL)
        return entry;
    json_incref(anon);
    json_object_set_new(ev, "anonymousId", json_string(m));
    json_t *ident = ensure_object(ensure_object(ev, "context"), "identity");
    json_t *from = json_object_get(ident, "linkedFrom");
    if (from == NULL)
        json_object_set(ident, "linkedFrom", anon);
    else if (json_equal(from, json_object_get(ev, "anonymousId")))
        json_object_del(ident, "linkedFrom"); /* a round trip back to where the id came from */
    json_decref(anon);
    return entry;
}

/* identify and alias record links; other events without a userId learn the one known for the
 * id they arrived with or their final id (also from an identify earlier in the same batch). */
static void link_or_stamp(sluice_identity_job_t *job, json_t *ev, json_t *looked_up)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *uid = plain_string(json_object_get(ev, "userId"));
    const char *anon = plain_string(json_object_get(ev, "anonymousId"));
    json_t *ident = json_object_get(json_object_get(ev, "context"), "identity");
    const char *from = plain_string(json_object_get(ident, "linkedFrom"));
    if (uid != NULL) {
        if (type != NULL && strcmp(type, "identify") == 0 && anon != NULL) {
            /* Under the final id and the id the visitor's tag still sends, so that one lookup of
             * either finds it. */
            write_link(job, anon, "userId", uid);
            write_link(job, from, "userId", uid);
            if (job->known == NULL)
                job->known = json_object();
            json_t *entry = ensure_object(job->known, anon);
            json_object_set_new(entry, "userId", json_string(uid));
        } else if (type != NULL && strcmp(type, "alias") == 0) {
            write_link(job, plain_string(json_object_get(ev, "previousId")), "userId", uid);
        }
        return;
    }
    json_t *user = json_object_get(looked_up, "userId");
    if (user == NULL)
        user = known(job, anon, "userId");
    if (user != NULL)
        json_object_set(ensure_object(ensure_object(ev, "context"), "identity"), "userId", user);
}

static void finish(sluice_identity_job_t *job)
{
    json_t *vendor = NULL;
    if (job->browser) {
        const char *m = adopted_for(job, job->anonymous_id);
        if (m != NULL)
            memmove(job->anonymous_id, m, strlen(m) + 1);
        if (job->anonymous_id[0] == '\0' && sluice_id_mint(job->anonymous_id) == 0)
            job->visitor_minted = 1;
        if (job->anonymous_id[0] != '\0')
            add_cookie(job, job->org->identity.cookie_name, job->anonymous_id,
                       job->org->identity.cookie_max_age_days * SLUICE_COOKIE_DAY_S, 1);
        vendor = vendor_ids(job);
    }
    /* A token adopted this request: remember, for the ids the visitor and the events arrived
     * with, which id replaced them (once per distinct id in a row; batches repeat one id). */
    const char *remembered = NULL;
    if (job->replaced[0] != '\0' && strcmp(job->replaced, job->anonymous_id) != 0) {
        write_link(job, job->replaced, "anonymousId", job->anonymous_id);
        remembered = job->replaced;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(job->events, i, ev) {
        json_t *looked_up = resolve(job, ev);
        if (vendor != NULL) {
            json_t *ctx = ensure_object(ev, "context");
            json_t *cur = json_object_get(ctx, "vendorIds");
            if (json_is_object(cur))
                json_object_update(cur, vendor);
            else
                json_object_set_new(ctx, "vendorIds", json_deep_copy(vendor));
        }
        json_t *ident = json_object_get(json_object_get(ev, "context"), "identity");
        const char *from = plain_string(json_object_get(ident, "linkedFrom"));
        const char *anon = plain_string(json_object_get(ev, "anonymousId"));
        if (job->token_outcome == SLUICE_TOKEN_REDEEMED && from != NULL && anon != NULL &&
            (remembered == NULL || strcmp(remembered, from) != 0)) {
            write_link(job, from, "anonymousId", anon);
            remembered = from;
        }
        link_or_stamp(job, ev, looked_up);
    }
    json_decref(vendor);
}

int sluice_identity_run(sluice_identity_thread_t *t, sluice_identity_job_t *job)
{
    size_t n = json_array_size(job->events);
    job->t = t;
    job->duplicate = calloc(n ? n : 1, 1);
    if (job->duplicate == NULL)
        return -1;
    job->phase = 0;
    /* One count for this function itself, so the job cannot finish while commands are still
     * being sent; replies only ever arrive from the loop, after we return. */
    job->waiting = 1;
    if (job->browser && job->token_state != 0)
        start_redeem(job);
    else
        sluice_secure_zero(job->token, sizeof(job->token));
    if (job->org->identity.dedup_enabled && t->redis != NULL)
        start_dedup(job);
    if (job->replay_key[0] != '\0')
        start_replay_check(job);
    step_done(job);
    return 0;
}

void sluice_identity_job_dispose(sluice_identity_job_t *job)
{
    free(job->duplicate);
    job->duplicate = NULL;
    json_decref(job->known);
    job->known = NULL;
    sluice_secure_zero(job->token, sizeof(job->token));
    sluice_secure_zero(&job->claims, sizeof(job->claims));
}

/* ------------------------------------------------------------------ issuing */

int sluice_identity_issue(const sluice_identity_thread_t *t, const sluice_org_t *org, const char *origin_host,
                          const char *to_host, const char *anon, int64_t now_ms, char *out, size_t cap,
                          sluice_err_t *err)
{
    if (!sluice_identity_xd_domain(org, origin_host)) {
        sluice_err_set(err, "the page's origin is not one of the org's cross_domain.domains");
        return SLUICE_IDENTITY_EDOMAIN;
    }
    if (!sluice_identity_xd_domain(org, to_host)) {
        sluice_err_set(err, "`to` is not a URL on one of the org's cross_domain.domains");
        return SLUICE_IDENTITY_EDOMAIN;
    }
    if (anon == NULL || !sluice_id_valid(anon, strlen(anon))) {
        sluice_err_set(err, "no anonymous id: neither the cookie nor a valid anonymousId parameter");
        return SLUICE_IDENTITY_EID;
    }
    if (t->keys == NULL || sluice_keyring_primary_kid(t->keys) == 0) {
        sluice_err_set(err, "cross-domain tokens are unavailable: the gateway has no ENCRYPTION_KEY");
        return SLUICE_IDENTITY_ENOKEY;
    }
    if (sluice_token_seal(t->keys, org->id, to_host, anon, now_ms / 1000, org->identity.xd_token_ttl_s, out, cap, err) <
        0)
        return SLUICE_IDENTITY_EINTERNAL;
    return 0;
}

/* ------------------------------------------------------------------ dedup, after the ack */

static void on_remembered(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    (void)reply;
    sluice_identity_thread_t *t = ud;
    if (status != SLUICE_REDIS_OK)
        count_error(t);
}

void sluice_identity_remember(sluice_identity_thread_t *t, const sluice_org_t *org, const char *message_id,
                              const char *subject)
{
    if (!org->identity.dedup_enabled || t->redis == NULL || message_id == NULL)
        return;
    char key[512], ttl[16];
    int klen = dedup_key(key, sizeof(key), org, message_id);
    if (klen < 0)
        return;
    int tlen = snprintf(ttl, sizeof(ttl), "%u", org->identity.dedup_window_s);
    const char *value = subject != NULL && subject[0] != '\0' ? subject : "1";
    const char *argv[5] = {"SET", key, value, "EX", ttl};
    size_t lens[5] = {3, (size_t)klen, strlen(value), 2, (size_t)tlen};
    if (sluice_redis_command(t->redis, on_remembered, t, 5, argv, lens) != 0)
        count_error(t);
}

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
 *
 * Proven ids (identity.h): for an org with cross domains the cookie is signed, and what it may
 * hold is decided per request (job->proof): the id its valid signature proves; else the first id
 * the request brings (a legacy unsigned cookie's, or the first event's), claimed with SET NX on
 * <prefix>own:<org>:<id> in phase 0; else a minted one. A redemption replaces only a proven id,
 * and the links it writes re-key later events only in requests whose cookie proves the id the
 * link points to, so nobody can move another visitor's events by naming its id.
 *
 * Consent before cookies: each cookie is set only when every event of the request carries its
 * categories in context.consent.categories (identity.cookie_consent, by default the org's
 * required categories; a vendor cookie also its integrations' categories). A request whose
 * events lack them expires the cookies it brought (Max-Age=0); a request with no events and no
 * consent says nothing either way.
 */
#include "identity/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/time.h"
#include "common/utf8.h"
#include "crypto/ct.h"
#include "crypto/random.h"
#include "identity/forget.h"
#include "identity/redis_sync.h"
#include "identity/vendor.h"

/* Key names after the deployment's prefix (redis.key_prefix, default "sluice:"). */
#define XD_KEY     "xd:"
#define REPLAY_KEY "sig:"
#define LINK_KEY   "id:"
#define DEDUP_KEY  "dedup:"
#define EPOCH_KEY  "epoch" /* a value that changes only when Redis loses its data (redis.h) */
/* A signed request's key lives until X-Timestamp + 5 minutes, and X-Timestamp may be 5 minutes
 * either side of the clock: a request whose window ends by this much after a moment may have been
 * accepted before it. */
#define SIG_SPAN_MS (2 * 300000 + 1000)
/* A spent token's key outlives the last millisecond the token could be accepted by this much. */
#define XD_KEY_MARGIN_MS 1000
/* How many (org, host) pairs a refused token is tried against to explain why it was refused. */
#define MAX_CLASSIFY_SCOPES 64
/* Longest Redis key built from an event value (anonymous and previous ids). */
#define LINK_KEY_MAX 512

static const sluice_identity_secrets_t no_keys;

sluice_identity_thread_t *sluice_identity_thread_create(const sluice_config_t *cfg, h2o_loop_t *loop,
                                                        const sluice_identity_secrets_t *keys, sluice_err_t *err)
{
    sluice_identity_thread_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->keys = keys != NULL ? keys : &no_keys;
    snprintf(t->prefix, sizeof(t->prefix), "%s", cfg->redis.key_prefix != NULL ? cfg->redis.key_prefix : "sluice:");
    if (cfg->redis.url != NULL && cfg->redis.host != NULL && cfg->redis.host[0] != '\0') {
        const char *password = cfg->redis.password != NULL ? cfg->redis.password : t->keys->redis_password;
        t->redis = sluice_redis_create(loop, cfg->redis.host, cfg->redis.port, cfg->redis.db, cfg->redis.timeout_ms,
                                       cfg->redis.username, password);
        if (t->redis == NULL) {
            sluice_err_set(err, "redis.url: cannot resolve host %s", cfg->redis.host);
            free(t);
            return NULL;
        }
        t->redis_configured = 1;
        sluice_redis_publish_up(t->redis, &t->redis_up);
        sluice_redis_publish_evicting(t->redis, &t->redis_evicting);
        char marker[SLUICE_IDENTITY_PREFIX_MAX + sizeof(EPOCH_KEY)];
        snprintf(marker, sizeof(marker), "%s" EPOCH_KEY, t->prefix);
        if (sluice_redis_watch_data(t->redis, marker) != 0) {
            sluice_redis_destroy(t->redis);
            sluice_err_set(err, "out of memory");
            free(t);
            return NULL;
        }
    }
    return t;
}

void sluice_identity_thread_close(sluice_identity_thread_t *t)
{
    if (t == NULL)
        return;
    sluice_redis_destroy(t->redis);
    t->redis = NULL;
}

void sluice_identity_thread_destroy(sluice_identity_thread_t *t)
{
    if (t == NULL)
        return;
    sluice_identity_thread_close(t);
    free(t);
}

int sluice_identity_needs_keys(const sluice_config_t *cfg)
{
    for (size_t i = 0; i < cfg->org_count; i++)
        if (cfg->orgs[i].identity.xd_domain_count > 0)
            return 1;
    return 0;
}

int64_t sluice_identity_token_window_ms(const sluice_config_t *cfg)
{
    int64_t longest = 0;
    for (size_t i = 0; i < cfg->org_count; i++) {
        const sluice_identity_config_t *idc = &cfg->orgs[i].identity;
        /* exp is whole seconds and the check compares whole seconds: one more second. */
        int64_t w = ((int64_t)idc->xd_token_ttl_s + idc->xd_clock_skew_s + 1) * 1000;
        if (idc->xd_domain_count > 0 && w > longest)
            longest = w;
    }
    return longest;
}

uint64_t sluice_identity_redis_errors(const sluice_identity_thread_t *t)
{
    return t != NULL ? atomic_load_explicit(&t->redis_errors, memory_order_relaxed) : 0;
}

uint64_t sluice_identity_lookups_skipped(const sluice_identity_thread_t *t, sluice_identity_skip_t reason)
{
    return t != NULL && reason < SLUICE_IDENTITY_SKIP_REASONS
               ? atomic_load_explicit(&t->lookups_skipped[reason], memory_order_relaxed)
               : 0;
}

int sluice_identity_redis_up(const sluice_identity_thread_t *t)
{
    if (t == NULL || !t->redis_configured)
        return -1;
    return atomic_load_explicit(&t->redis_up, memory_order_acquire);
}

int sluice_identity_redis_evicting(const sluice_identity_thread_t *t)
{
    return t != NULL && t->redis_configured && atomic_load_explicit(&t->redis_evicting, memory_order_acquire);
}

/* counter + 1: only this thread writes it, other threads read it (a store, not a locked add). */
static void bump(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void count_error(sluice_identity_thread_t *t)
{
    bump(&t->redis_errors);
}

/* 1 when Redis lost its data (redis.h, sluice_redis_data_lost_ms) at a time when a key written
 * from from_ms on could already have been there: a token issued, or a signed request that could be
 * accepted, before the loss may have been spent then, and its key is gone. Such a token or request
 * fails closed, as when Redis is down; those made after the loss are checked as usual. */
static int lost_since(const sluice_identity_thread_t *t, int64_t from_ms)
{
    int64_t lost = sluice_redis_data_lost_ms(t->redis);
    return lost > 0 && from_ms <= lost + XD_KEY_MARGIN_MS;
}

/* When the token of job was issued, for lost_since. */
static int64_t token_issued_ms(const sluice_identity_job_t *job)
{
    return ((int64_t)job->claims.exp - (int64_t)job->org->identity.xd_token_ttl_s) * 1000;
}

/* 1 (and counted) when a command failed: no answer, or an error reply. Redis out of memory
 * (-OOM under noeviction) or a replica after a failover (-READONLY) answers every write with an
 * error: counting only timeouts left dedup, links and claims failing with every metric at zero.
 * Redis's reason is logged once a minute per thread, cut before any "args" it quotes: an unknown
 * (renamed) command's error ends "with args beginning with: ..." and would quote a key, which can
 * hold an id. */
static int command_failed(sluice_identity_thread_t *t, sluice_redis_status_t status, const redisReply *reply)
{
    if (status == SLUICE_REDIS_OK && reply->type != REDIS_REPLY_ERROR)
        return 0;
    count_error(t);
    if (status == SLUICE_REDIS_OK) {
        int64_t now = sluice_mono_ms();
        if (t->refusal_logged_ms == 0 || now - t->refusal_logged_ms >= 60000) {
            t->refusal_logged_ms = now;
            size_t n = sluice_redis_sync_reason_len(reply->str, reply->len < 160 ? reply->len : 160);
            sluice_log_warn("redis.refused", "Redis refused a command: %.*s", (int)n, reply->str);
        }
    }
    return 1;
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

/* The job's vendor ids, made on first use. NULL when no memory is left: the request then goes as
 * one without vendor ids (vendor_lost: run mints none over the visitor's). */
static sluice_identity_vendor_ids_t *vendor_block(sluice_identity_job_t *job)
{
    if (job->vendor == NULL && !job->vendor_lost && (job->vendor = calloc(1, sizeof(*job->vendor))) == NULL)
        job->vendor_lost = 1;
    return job->vendor;
}

static void copy_cookie(char *dst, size_t cap, h2o_iovec_t v)
{
    dst[0] = '\0';
    if (v.base != NULL && v.len < cap && sluice_cookie_value_ok(v.base, v.len)) {
        memcpy(dst, v.base, v.len);
        dst[v.len] = '\0';
    }
}

/* A vendor cookie as copy_cookie reads it, or none when its value is not in the vendor's format
 * ("%20", a script's encodeURIComponent(" "); another tool's value under the name): Meta's own
 * code and gtag replace such a value with a new id, and the gateway passed it on to Meta and GA4
 * as the browser's id and set none. ga selects _ga's format, else _fbp's and _fbc's. */
static void copy_vendor_cookie(char *dst, size_t cap, h2o_iovec_t v, int ga)
{
    copy_cookie(dst, cap, v);
    if (dst[0] != '\0' && !(ga ? sluice_vendor_ga_valid(dst) : sluice_vendor_fbc_click(dst) != NULL))
        dst[0] = '\0';
}

/* How many copies of one vendor cookie are looked at for one in the vendor's format. */
#define VENDOR_COOKIE_COPIES 8

/* copy_vendor_cookie of `first` (the copy the gateway picks: the first with a value), else of
 * the first copy of `name` in the vendor's format. A browser sends every copy whose domain and
 * path match, the longest path first: a malformed one (another tool's value under the name on a
 * subpath, "%20") came before the visitor's real _fbp or _ga, and the gateway minted new ids over
 * them, a new Meta browser and GA4 client for the same visitor. */
static void pick_vendor_cookie(char *dst, size_t cap, const sluice_identity_input_t *in, const char *name,
                               h2o_iovec_t first, int ga)
{
    copy_vendor_cookie(dst, cap, first, ga);
    if (dst[0] != '\0' || first.base == NULL || in->cookie_nth == NULL)
        return;
    for (size_t i = 0; i < VENDOR_COOKIE_COPIES; i++) {
        h2o_iovec_t v = in->cookie_nth(in->cookie_ctx, name, i);
        if (v.base == NULL)
            return;
        copy_vendor_cookie(dst, cap, v, ga);
        if (dst[0] != '\0')
            return;
    }
}

/* gtag's session cookie of each GA4 stream of the org, _ga_<container> (the measurement id without
 * "G-": gtag.js names it so), as the browser sent it, into job->vendor's ga_stream/ga_session. Only the
 * org's own streams are read: another property's cookie on the site is none of its business. The
 * value is checked only as a cookie value here; vendors/ga4.c reads its format. */
static void read_ga_sessions(sluice_identity_job_t *job, const sluice_identity_input_t *in)
{
    if (!in->browser || in->cookie == NULL)
        return;
    const sluice_org_t *org = job->org;
    sluice_identity_vendor_ids_t *vd = job->vendor; /* made for the first session found */
    for (size_t i = 0;
         i < org->integration_count && (vd == NULL || vd->ga_stream_count < SLUICE_IDENTITY_MAX_GA_STREAMS); i++) {
        const sluice_integration_t *it = &org->integrations[i];
        if (!it->enabled || it->vendor_name == NULL || strcmp(it->vendor_name, "ga4") != 0 || it->node == NULL)
            continue;
        const sluice_yaml_node_t *mid = sluice_yaml_map_get(it->node, "measurement_id");
        if (mid == NULL || mid->type != SLUICE_YAML_SCALAR || mid->scalar == NULL)
            continue;
        const char *c = strncmp(mid->scalar, "G-", 2) == 0 ? mid->scalar + 2 : mid->scalar;
        size_t cl = strlen(c);
        if (cl == 0 || cl > SLUICE_IDENTITY_GA_STREAM_MAX ||
            strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "abcdefghijklmnopqrstuvwxyz0123456789") != cl)
            continue;
        char name[SLUICE_IDENTITY_GA_STREAM_MAX + 5];
        snprintf(name, sizeof(name), "_ga_%s", c);
        size_t k = 0, count = vd != NULL ? vd->ga_stream_count : 0;
        while (k < count && strcmp(vd->ga_stream[k], name + 1) != 0)
            k++;
        if (k < count) /* two integrations of one stream */
            continue;
        char session[SLUICE_IDENTITY_GA_SESSION_MAX + 1];
        copy_cookie(session, sizeof(session), in->cookie(in->cookie_ctx, name));
        if (session[0] == '\0' || (vd = vendor_block(job)) == NULL)
            continue;
        memcpy(vd->ga_session[k], session, strlen(session) + 1);
        memcpy(vd->ga_stream[k], name + 1, strlen(name)); /* "ga_<container>" and its NUL */
        vd->ga_stream_count++;
    }
}

/* The request's _fbp, _fbc and _ga (pick_vendor_cookie) and gtag's sessions, into job->vendor,
 * made only when one of them is there. */
static void read_vendor_cookies(sluice_identity_job_t *job, const sluice_identity_input_t *in)
{
    char fbp[SLUICE_VENDOR_VALUE_MAX + 1], fbc[SLUICE_VENDOR_VALUE_MAX + 1], ga[SLUICE_VENDOR_VALUE_MAX + 1];
    free(job->vendor); /* a job begun again (tests) starts without the last request's */
    job->vendor = NULL;
    job->vendor_lost = 0;
    pick_vendor_cookie(fbp, sizeof(fbp), in, "_fbp", in->fbp, 0);
    pick_vendor_cookie(fbc, sizeof(fbc), in, "_fbc", in->fbc, 0);
    pick_vendor_cookie(ga, sizeof(ga), in, "_ga", in->ga, 1);
    sluice_identity_vendor_ids_t *vd = fbp[0] != '\0' || fbc[0] != '\0' || ga[0] != '\0' ? vendor_block(job) : NULL;
    if (vd != NULL) {
        memcpy(vd->fbp, fbp, strlen(fbp) + 1);
        memcpy(vd->fbc, fbc, strlen(fbc) + 1);
        memcpy(vd->ga, ga, strlen(ga) + 1);
    }
    read_ga_sessions(job, in);
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

/* ------------------------------------------------------------------ step 2 (and the body's `_dft`) */

/* identity/assign_rules.h with jansson's accessors: sluice_identity_assign, sluice_identity_scrub. */
#define T_CAT2(a, b) a##_##b
#define T_CAT(a, b)  T_CAT2(a, b)
#define T(name)      T_CAT(name, json)
#define T_VALUE      json_t
#define T_ASSIGN     sluice_identity_assign
#define T_SCRUB      sluice_identity_scrub
#define T_XP
#define T_XA
#define T_XA_
#define T_IS_STRING                json_is_string
#define T_IS_OBJECT                json_is_object
#define T_STRING_VALUE             json_string_value
#define T_STRING_LEN               json_string_length
#define T_PLAIN(x, v)              plain_string(v)
#define T_PLAIN_IS                 plain_is
#define T_GET                      json_object_get
#define T_DEL                      json_object_del
#define T_EACH_MEMBER(o, it)       for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next((o), it))
#define T_IT_KEY(o, it)            json_object_iter_key(it)
#define T_IT_KEY_LEN(o, it)        json_object_iter_key_len(it)
#define T_IT_VALUE(o, it)          json_object_iter_value(it)
#define T_SET_STRING(x, o, key, s) json_object_set_new((o), (key), json_string(s))
#define T_SET_NEW(x, o, key, v)    json_object_set_new((o), (key), (v))
#define T_ENSURE_OBJECT(x, o, key) ensure_object((o), (key))
#define T_CLICK_IDS(x, url)        sluice_click_ids(url)
#define T_UPDATE(x, o, ids)        json_object_update((o), (ids))
#define T_DROP                     json_decref

/* 1 when v is a string without NUL bytes equal to s (plain_string's view of it). */
static int plain_is(const json_t *v, const char *s)
{
    const char *p = plain_string(v);
    return p != NULL && strcmp(p, s) == 0;
}

#include "identity/assign_rules.h"

/* The same rules on jv values (json/jv.h), whose changes are made in the event's arena a. */

/* plain_string of a jv string: a NUL-terminated copy in a (url.h's functions read C strings), or
 * NULL when v is no string, holds a NUL byte, or memory ran out. */
static const char *plain_jv(sluice_json_arena_t *a, const sluice_jv_t *v)
{
    size_t n;
    const char *c = sluice_jv_string_cstr(a, v, &n);
    return c != NULL && memchr(c, '\0', n) == NULL ? c : NULL;
}

/* o[key] = a new string of s, nothing when s is not UTF-8 (as json_string refuses it). */
static void set_string_jv(sluice_json_arena_t *a, sluice_jv_t *o, const char *key, const char *s)
{
    size_t n = strlen(s);
    sluice_jv_t *v = sluice_utf8_valid(s, n) ? sluice_jv_string(a, s, n) : NULL;
    if (v != NULL)
        sluice_jv_object_set(a, o, key, v);
}

static sluice_jv_t *ensure_object_jv(sluice_json_arena_t *a, sluice_jv_t *parent, const char *key)
{
    sluice_jv_t *o = sluice_jv_object_get(parent, key);
    if (!sluice_jv_is_object(o)) {
        o = sluice_jv_object(a);
        if (o == NULL || sluice_jv_object_set(a, parent, key, o) != 0)
            return NULL;
    }
    return o;
}

typedef struct {
    sluice_json_arena_t *a;
    sluice_jv_t *ids;
} clicks_jv_t;

/* sluice_click_ids_each's keeper for jv: what vendor.c's keeper for jansson keeps. */
static int keep_click_jv(void *ud, const char *name, const char *value, size_t len)
{
    clicks_jv_t *c = ud;
    sluice_jv_t *s = sluice_utf8_valid(value, len) ? sluice_jv_string(c->a, value, len) : NULL;
    if (s == NULL)
        return 0;
    if (c->ids == NULL)
        c->ids = sluice_jv_object(c->a);
    return c->ids != NULL && sluice_jv_object_set(c->a, c->ids, name, s) == 0;
}

static sluice_jv_t *click_ids_jv(sluice_json_arena_t *a, const char *url)
{
    clicks_jv_t c = {a, NULL};
    sluice_click_ids_each(url, keep_click_jv, &c);
    return c.ids;
}

/* json_object_update: every member of ids set in o, in order (a value already somewhere else
 * cannot be set: copies). */
static void update_jv(sluice_json_arena_t *a, sluice_jv_t *o, const sluice_jv_t *ids)
{
    for (size_t i = 0; i < sluice_jv_object_size(ids); i++) {
        const sluice_jv_member_t *m = sluice_jv_object_at(ids, i);
        sluice_jv_t *v = sluice_jv_copy(a, m->value);
        if (v != NULL)
            sluice_jv_object_setn(a, o, m->key, m->key_len, v);
    }
}

#define T(name)                 T_CAT(name, jv)
#define T_VALUE                 sluice_jv_t
#define T_ASSIGN                sluice_identity_assign_jv
#define T_SCRUB                 sluice_identity_scrub_jv
#define T_XP                    , sluice_json_arena_t *a
#define T_XA                    , a
#define T_XA_                   a
#define T_IS_STRING             sluice_jv_is_string
#define T_IS_OBJECT             sluice_jv_is_object
#define T_STRING_VALUE(v)       sluice_jv_string_value((v), NULL)
#define T_STRING_LEN(v)         ((size_t)(v)->len) /* only read of a string */
#define T_PLAIN                 plain_jv
#define T_PLAIN_IS              sluice_jv_string_is
#define T_GET                   sluice_jv_object_get
#define T_DEL                   sluice_jv_object_del
#define T_EACH_MEMBER(o, it)    for (uint32_t it = 0; it < (o)->len; it++) /* o: an object */
#define T_IT_KEY(o, it)         ((o)->u.m[it].key)
#define T_IT_KEY_LEN(o, it)     ((o)->u.m[it].key_len)
#define T_IT_VALUE(o, it)       ((o)->u.m[it].value)
#define T_SET_STRING            set_string_jv
#define T_SET_NEW(x, o, key, v) sluice_jv_object_set((x), (o), (key), (v))
#define T_ENSURE_OBJECT         ensure_object_jv
#define T_CLICK_IDS             click_ids_jv
#define T_UPDATE                update_jv
#define T_DROP(v)               ((void)(v)) /* it stays in the arena, out of the tree */

#include "identity/assign_rules.h"

#undef T_CAT
#undef T_CAT2

/* 1 when org's anonymous-id cookie is signed: it exchanges cross-domain tokens, and the gateway
 * has the keys to sign. */
static int org_signs(const sluice_identity_thread_t *t, const sluice_org_t *org)
{
    return t->keys->cookies != NULL && org->identity.xd_domain_count > 0;
}

size_t sluice_identity_cookie_pick(const sluice_identity_thread_t *t, const sluice_org_t *org, const h2o_iovec_t *vals,
                                   size_t n)
{
    /* An empty copy (a script that "cleared" the cookie by writing it empty on a subpath, which
     * the browser sends first, or on the host alone) names no one: taken, the visitor got a new id
     * and its history was cut in two. */
    size_t first = 0;
    while (first + 1 < n && vals[first].len == 0)
        first++;
    if (n < 2 || !org_signs(t, org))
        return first;
    for (size_t i = 0; i < n; i++) {
        char id[SLUICE_ID_MAX + 1];
        if (vals[i].base != NULL && sluice_cookie_verify(t->keys->cookies, org->id, vals[i].base, vals[i].len, id) == 0)
            return i;
    }
    return first;
}

/* Step 1 but the body's `_dft`, which each tree takes with its own accessors. */
static void begin(sluice_identity_thread_t *t, sluice_identity_job_t *job, const sluice_identity_input_t *in)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    job->t = t;
    job->token_outcome = -1;
    job->browser = in->browser;
    job->now_ms = in->now_ms;
    job->landed_ms = 0;
    job->clicks_covered = -1;
    job->anonymous_id[0] = '\0';
    job->visitor_minted = 0;
    job->signs = in->browser && org_signs(t, job->org);
    job->proof = SLUICE_IDENTITY_PROOF_NONE;
    h2o_iovec_t c = in->cookie_id;
    if (job->signs && c.base != NULL &&
        sluice_cookie_verify(t->keys->cookies, job->org->id, c.base, c.len, job->anonymous_id) == 0) {
        job->proof = SLUICE_IDENTITY_PROOF_COOKIE;
    } else if (job->signs && c.base != NULL && c.len > SLUICE_COOKIE_SIG_LEN &&
               c.base[c.len - SLUICE_COOKIE_SIG_LEN] == '.' && sluice_id_valid(c.base, c.len - SLUICE_COOKIE_SIG_LEN)) {
        /* Signed, but not (any more) by a key of ours: altered, another org's, or a key retired
         * from the ring. Its id still names the visitor's events; it proves nothing and is no
         * candidate to claim. */
        memcpy(job->anonymous_id, c.base, c.len - SLUICE_COOKIE_SIG_LEN);
        job->anonymous_id[c.len - SLUICE_COOKIE_SIG_LEN] = '\0';
    } else if (c.base != NULL && sluice_id_valid(c.base, c.len)) {
        /* An unsigned id (every cookie of an org without cross domains; a cookie set before
         * signing began): the visitor's id for events, and, where cookies are signed, only a
         * candidate to claim. */
        memcpy(job->anonymous_id, c.base, c.len);
        job->anonymous_id[c.len] = '\0';
        if (job->signs)
            job->proof = SLUICE_IDENTITY_PROOF_CLAIM;
    }
    job->had_sid = in->browser && c.base != NULL;
    job->had_fbp = in->browser && in->fbp.base != NULL;
    job->had_fbc = in->browser && in->fbc.base != NULL;
    job->had_ga = in->browser && in->ga.base != NULL;
    json_decref(job->consent);
    job->consent = json_is_array(in->consent) ? json_incref((json_t *)in->consent) : NULL;
    job->has_audience = in->origin.base != NULL &&
                        sluice_url_host(in->origin.base, in->origin.len, job->audience, sizeof(job->audience)) == 0;
    job->cookie_domain =
        in->host.base != NULL ? sluice_cookie_domain_for(idc->cookie_domain, in->host.base, in->host.len) : NULL;
    read_vendor_cookies(job, in);
    if (in->token.base != NULL)
        take_token_text(job, in->token.base, in->token.len);
}

void sluice_identity_begin(sluice_identity_thread_t *t, sluice_identity_job_t *job, const sluice_identity_input_t *in,
                           json_t *root)
{
    begin(t, job, in);
    if (json_is_object(root))
        take_token_field_json(job, root, "_dft");
}

void sluice_identity_begin_jv(sluice_identity_thread_t *t, sluice_identity_job_t *job,
                              const sluice_identity_input_t *in, sluice_jv_t *root)
{
    begin(t, job, in);
    if (sluice_jv_is_object(root))
        take_token_field_jv(job, root, "_dft");
}

/* ------------------------------------------------------------------ step 3: plumbing */

typedef struct probe {
    sluice_identity_job_t *job;
    size_t index;
} probe_t;

static void finish(sluice_identity_job_t *job);
static void adopt(sluice_identity_job_t *job);
static void start_lookups(sluice_identity_job_t *job);
static void lookup_events(sluice_identity_job_t *job, int skip);

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
    else
        command_failed(job->t, status, reply);
    if (status == SLUICE_REDIS_TIMEOUT)
        job->redis_slow = 1;
    free(p);
    step_done(job);
}

static int dedup_key(char *out, size_t cap, const sluice_identity_thread_t *t, const sluice_org_t *org,
                     const char *message_id)
{
    int n = snprintf(out, cap, "%s" DEDUP_KEY "%s:%s", t->prefix, org->id, message_id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* ------------------------------------------------------------------ cross-domain token */

static void on_unspent(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    command_failed(ud, status, reply);
}

/* Takes back the token's key after its SET NX timed out. The SET is still queued on this
 * connection and lands when a stalled Redis resumes: the token was then spent by a redemption that
 * answered redis_timeout and adopted nothing, and the same token presented again (a client
 * retrying, /xd/redeem after redeemed:false) was refused as replayed, leaving the visitor split in
 * two ids. The key is deleted only if it holds this redemption's own mark (a script, which Redis
 * runs whole): if another redemption's SET won meanwhile (a retry on another thread's connection,
 * run first when Redis resumed), its key stays, and the token stays spent. */
static void unspend_token(sluice_identity_thread_t *t, const char *jti, const char *mark)
{
    static const char script[] =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
    char key[SLUICE_IDENTITY_PREFIX_MAX + 64];
    int klen = snprintf(key, sizeof(key), "%s" XD_KEY "%s", t->prefix, jti);
    const char *argv[5] = {"EVAL", script, "1", key, mark};
    size_t lens[5] = {4, sizeof(script) - 1, 1, (size_t)klen, strlen(mark)};
    if (klen < 0 || (size_t)klen >= sizeof(key) || sluice_redis_command(t->redis, on_unspent, t, 5, argv, lens) != 0)
        count_error(t);
}

static void on_redeemed(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_job_t *job = ud;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS && sluice_redis_evicting(job->t->redis)) {
        /* A server that evicts (its policy read just before this reply, on a new connection) may
         * drop the key at any time: not spent after all, and not redeemed. */
        job->token_outcome = SLUICE_TOKEN_REDIS_UNAVAILABLE;
        unspend_token(job->t, job->claims.jti, job->xd_mark);
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS &&
               lost_since(job->t, token_issued_ms(job))) {
        /* Redis lost its data (noticed on this new connection just before this reply): the key
         * was new, but the token may have been spent before. Spent from now on, not redeemed. */
        job->token_outcome = SLUICE_TOKEN_REDIS_UNAVAILABLE;
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS) {
        job->token_outcome = SLUICE_TOKEN_REDEEMED;
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_NIL) {
        job->token_outcome = SLUICE_TOKEN_REPLAYED;
    } else {
        job->token_outcome =
            status == SLUICE_REDIS_TIMEOUT ? SLUICE_TOKEN_REDIS_TIMEOUT : SLUICE_TOKEN_REDIS_UNAVAILABLE;
        job->redis_slow = status == SLUICE_REDIS_TIMEOUT;
        count_error(job->t);
        if (status == SLUICE_REDIS_TIMEOUT)
            unspend_token(job->t, job->claims.jti, job->xd_mark);
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
    return sluice_token_classify(job->t->keys->tokens, job->org->id, job->token, job->token_len, scopes, n);
}

static void start_redeem(sluice_identity_job_t *job)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    int rc = job->token_state == 3 ? SLUICE_TOKEN_FOREIGN_REFERRER : SLUICE_TOKEN_MALFORMED;
    if (job->token_state == 1) {
        /* A token only opens for the origin of the request, and only if that is still one of the
         * org's domains. */
        const char *host =
            job->has_audience && sluice_identity_xd_domain(job->org, job->audience) ? job->audience : NULL;
        const sluice_identity_secrets_t *k = job->t->keys;
        /* A tag that waits for consent holds the token it landed with, in memory, and sends it
         * with its first event once the visitor answered the banner, minutes later: judged when it
         * arrived, the token had expired and the visitor became two. So a token is judged at the
         * time its event was made, when that is at most hold_s before now (a client could claim
         * any time in that window: it is the longest a token lives, and its key in Redis outlives
         * it, so it stays single use). Nothing before consent reaches the gateway. */
        int64_t at_ms = job->now_ms;
        if (job->landed_ms > 0 && job->landed_ms < at_ms && at_ms - job->landed_ms <= (int64_t)idc->xd_hold_s * 1000)
            at_ms = job->landed_ms;
        rc = sluice_token_open(k->tokens, job->org->id, host, job->token, job->token_len, at_ms / 1000,
                               idc->xd_clock_skew_s, &job->claims);
        /* A token an older version sealed directly under the root key, issued before this gateway
         * started: the root ring opens it for as long as such a token can live. */
        const sluice_keyring_t *legacy =
            (rc == SLUICE_TOKEN_BAD_TAG || rc == SLUICE_TOKEN_UNKNOWN_KID) && job->now_ms < k->legacy_until_ms
                ? k->legacy
                : NULL;
        if (legacy != NULL && sluice_token_open(legacy, job->org->id, host, job->token, job->token_len, at_ms / 1000,
                                                idc->xd_clock_skew_s, &job->claims) == 0)
            rc = 0;
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
    /* Single use rests on the jti's key staying until the token's end: a Redis that evicts keys
     * at maxmemory cannot promise that, and one that lost its data since the token was issued may
     * have lost its key already, so the token fails closed, as when Redis is down. */
    if (job->t->redis == NULL || sluice_redis_evicting(job->t->redis) || lost_since(job->t, token_issued_ms(job)))
        return;
    /* The key outlives the token: the expiry check compares whole seconds (the token is accepted
     * through the last millisecond of second exp + skew, and up to hold_s later by an event that
     * says it was made by then), and the margin covers clocks that differ between gateways. After
     * that the expiry check refuses a replay on its own. */
    int64_t px =
        (job->claims.exp + (int64_t)idc->xd_clock_skew_s + idc->xd_hold_s + 1) * 1000 - job->now_ms + XD_KEY_MARGIN_MS;
    if (px < XD_KEY_MARGIN_MS)
        px = XD_KEY_MARGIN_MS;
    char key[SLUICE_IDENTITY_PREFIX_MAX + 64], pxs[24];
    int klen = snprintf(key, sizeof(key), "%s" XD_KEY "%s", job->t->prefix, job->claims.jti);
    int plen = snprintf(pxs, sizeof(pxs), "%lld", (long long)px);
    /* A mark of this redemption as the value, so a timeout takes back only its own key. */
    uint64_t rnd = 0;
    if (sluice_random_uint64(&rnd) != 0)
        rnd = (uint64_t)job->now_ms ^ (uint64_t)(uintptr_t)job;
    snprintf(job->xd_mark, sizeof(job->xd_mark), "%016llx", (unsigned long long)rnd);
    const char *argv[6] = {"SET", key, job->xd_mark, "NX", "PX", pxs};
    size_t lens[6] = {3, (size_t)klen, 16, 2, 2, (size_t)plen};
    job->waiting++;
    if (sluice_redis_command(job->t->redis, on_redeemed, job, 6, argv, lens) != 0) {
        job->waiting--;
        count_error(job->t);
    }
}

/* ------------------------------------------------------------------ claiming a first id */

/* <prefix>own:<org>:<id>: the id has been given to a browser in a signed cookie. */
static int own_key(char *out, size_t cap, const sluice_identity_thread_t *t, const sluice_org_t *org, const char *id)
{
    /* One layout with sluicectl forget's, which deletes it. */
    return sluice_forget_key(out, cap, t->prefix, SLUICE_FORGET_KEY_OWN, org->id, id);
}

static void on_claimed(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_job_t *job = ud;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS) {
        job->proof = SLUICE_IDENTITY_PROOF_CLAIMED;
    } else {
        /* Claimed before (another browser has it, or this one lost its cookie), or Redis could not
         * say: not proven, so no cookie for it. */
        job->proof = SLUICE_IDENTITY_PROOF_NONE;
        if (status != SLUICE_REDIS_OK || reply->type == REDIS_REPLY_ERROR) {
            count_error(job->t);
            job->redis_slow |= status == SLUICE_REDIS_TIMEOUT;
        }
    }
    step_done(job);
}

/* 1 when id is of a person sluicectl forget named. */
static int forgotten(const sluice_identity_job_t *job, const char *id)
{
    return id != NULL && job->id_forgotten != NULL && job->id_forgotten(job, id);
}

/* SET <prefix>own:<org>:<id> 1 NX EX <link_ttl_days>: the first request to bring an id that no
 * signed cookie ever held may have it. A forgotten id is not claimed again (so not proven: no
 * cookie is made for it). */
static void start_claim(sluice_identity_job_t *job)
{
    char key[SLUICE_IDENTITY_PREFIX_MAX + LINK_KEY_MAX], ttl[16];
    int klen = own_key(key, sizeof(key), job->t, job->org, job->anonymous_id);
    job->proof = SLUICE_IDENTITY_PROOF_NONE;
    if (klen < 0 || job->t->redis == NULL || forgotten(job, job->anonymous_id))
        return;
    int tlen = snprintf(ttl, sizeof(ttl), "%u", job->org->identity.link_ttl_days * SLUICE_COOKIE_DAY_S);
    const char *argv[6] = {"SET", key, "1", "NX", "EX", ttl};
    size_t lens[6] = {3, (size_t)klen, 1, 2, 2, (size_t)tlen};
    job->waiting++;
    if (sluice_redis_command(job->t->redis, on_claimed, job, 6, argv, lens) != 0) {
        job->waiting--;
        count_error(job->t);
        return;
    }
    job->proof = SLUICE_IDENTITY_PROOF_CLAIM;
}

static void on_written(void *ud, sluice_redis_status_t status, const redisReply *reply);

/* Keeps an id given in a signed cookie claimed for as long as links live (fire and forget). */
static void keep_claim(sluice_identity_thread_t *t, const sluice_org_t *org, const char *id)
{
    char key[SLUICE_IDENTITY_PREFIX_MAX + LINK_KEY_MAX], ttl[16];
    int klen = own_key(key, sizeof(key), t, org, id);
    if (klen < 0 || t->redis == NULL)
        return;
    int tlen = snprintf(ttl, sizeof(ttl), "%u", org->identity.link_ttl_days * SLUICE_COOKIE_DAY_S);
    const char *argv[5] = {"SET", key, "1", "EX", ttl};
    size_t lens[5] = {3, (size_t)klen, 1, 2, (size_t)tlen};
    if (sluice_redis_command(t->redis, on_written, t, 5, argv, lens) != 0)
        count_error(t);
}

/* ------------------------------------------------------------------ consent */

enum { CONSENT_UNKNOWN = 0, CONSENT_YES = 1, CONSENT_NO = 2 };

/* ------------------------------------------------------------------ signed requests */

static void on_replay_forgotten(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    command_failed(ud, status, reply);
}

/* DEL <prefix>sig:<key>: the signed request was not accepted, so its retry is no replay. */
static void forget_replay_key(sluice_identity_thread_t *t, const char *replay_key)
{
    char key[SLUICE_IDENTITY_PREFIX_MAX + sizeof(REPLAY_KEY) + SLUICE_IDENTITY_REPLAY_KEY_MAX];
    int klen = snprintf(key, sizeof(key), "%s" REPLAY_KEY "%s", t->prefix, replay_key);
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, (size_t)klen};
    if (sluice_redis_command(t->redis, on_replay_forgotten, t, 2, argv, lens) != 0)
        count_error(t);
}

/* The key of a signature that is there already: "1" once its request was accepted; "0" while
 * that request still waits for Kafka, which may yet refuse it (the key is then deleted). Telling a
 * retry sent meanwhile (a client timeout shorter than kafka.ack_timeout_ms) that its request was
 * "accepted before" made it stop, and the events were lost when the first attempt failed. */
static void on_replay_state(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_job_t *job = ud;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STRING && reply->len == 1 && reply->str[0] == '1')
        job->replay = SLUICE_REPLAY_SEEN;
    else if (status == SLUICE_REDIS_OK && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL))
        job->replay = SLUICE_REPLAY_IN_FLIGHT; /* pending, or deleted since: the client retries */
    else {
        job->replay = SLUICE_REPLAY_UNKNOWN;
        job->redis_slow = status == SLUICE_REDIS_TIMEOUT;
        count_error(job->t);
    }
    step_done(job);
}

static void on_replay_checked(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_identity_job_t *job = ud;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS &&
        (sluice_redis_evicting(job->t->redis) || lost_since(job->t, job->replay_until_ms - SIG_SPAN_MS))) {
        /* Written, but to a server that may evict it, or that lost the keys of requests accepted
         * before (either read just before this reply, on a new connection): taken back, so that
         * the client's retry is not taken for a request still in flight. */
        job->replay = SLUICE_REPLAY_UNKNOWN;
        forget_replay_key(job->t, job->replay_key);
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS) {
        job->replay = SLUICE_REPLAY_FIRST;
    } else if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_NIL) {
        /* Seen: accepted, or still in flight? The key's value says. */
        job->replay = SLUICE_REPLAY_SEEN;
        char key[SLUICE_IDENTITY_PREFIX_MAX + sizeof(REPLAY_KEY) + SLUICE_IDENTITY_REPLAY_KEY_MAX];
        int klen = snprintf(key, sizeof(key), "%s" REPLAY_KEY "%s", job->t->prefix, job->replay_key);
        const char *argv[2] = {"GET", key};
        size_t lens[2] = {3, (size_t)klen};
        job->waiting++;
        if (sluice_redis_command(job->t->redis, on_replay_state, job, 2, argv, lens) != 0) {
            job->waiting--;
            job->replay = SLUICE_REPLAY_UNKNOWN;
            count_error(job->t);
        }
    } else {
        job->replay = SLUICE_REPLAY_UNKNOWN;
        job->redis_slow = status == SLUICE_REDIS_TIMEOUT;
        count_error(job->t);
        /* The request is answered 503 and the client retries the same bytes. A SET that timed
         * out is still queued on this connection and lands when a stalled Redis resumes; the
         * retry would then be refused as a replay and its events lost. A DEL queued behind it on
         * the same connection runs after it and takes it back. */
        if (status == SLUICE_REDIS_TIMEOUT)
            forget_replay_key(job->t, job->replay_key);
    }
    step_done(job);
}

/* SET <prefix>sig:<key> 0 NX PX <until the signature could no longer be accepted, plus a margin>:
 * "0" until the request is accepted (sluice_identity_confirm_replay), or deleted when it is not. */
static void start_replay_check(sluice_identity_job_t *job)
{
    /* Without Redis nothing remembers a signature: accepted unchecked (the gateway warns at start
     * and config check says so). */
    job->replay = SLUICE_REPLAY_NONE;
    if (job->t->redis == NULL)
        return;
    job->replay = SLUICE_REPLAY_UNKNOWN;
    /* A Redis that evicts keys at maxmemory could drop the signature's key within its window, and
     * one that lost its data may have lost it already: either would accept the same bytes again.
     * 503 replay_check_unavailable, as when Redis is down. */
    if (sluice_redis_evicting(job->t->redis) || lost_since(job->t, job->replay_until_ms - SIG_SPAN_MS))
        return;
    int64_t px = job->replay_until_ms - job->now_ms + 1000;
    char key[SLUICE_IDENTITY_PREFIX_MAX + sizeof(REPLAY_KEY) + SLUICE_IDENTITY_REPLAY_KEY_MAX], pxs[24];
    int klen = snprintf(key, sizeof(key), "%s" REPLAY_KEY "%s", job->t->prefix, job->replay_key);
    int plen = snprintf(pxs, sizeof(pxs), "%lld", (long long)(px < 1000 ? 1000 : px));
    const char *argv[6] = {"SET", key, "0", "NX", "PX", pxs};
    size_t lens[6] = {3, (size_t)klen, 1, 2, 2, (size_t)plen};
    job->waiting++;
    if (sluice_redis_command(job->t->redis, on_replay_checked, job, 6, argv, lens) != 0) {
        job->waiting--;
        count_error(job->t);
    }
}

void sluice_identity_forget_replay(sluice_identity_thread_t *t, const sluice_identity_job_t *job)
{
    if (job->replay != SLUICE_REPLAY_FIRST || t->redis == NULL)
        return;
    forget_replay_key(t, job->replay_key);
}

void sluice_identity_confirm_replay(sluice_identity_thread_t *t, const sluice_identity_job_t *job)
{
    if (job->replay != SLUICE_REPLAY_FIRST || t->redis == NULL)
        return;
    /* XX: a key deleted meanwhile (the request was answered 503 first) stays deleted. The same
     * lifetime as the first SET, counted from the request's arrival, a little longer at most. */
    int64_t px = job->replay_until_ms - job->now_ms + 1000;
    char key[SLUICE_IDENTITY_PREFIX_MAX + sizeof(REPLAY_KEY) + SLUICE_IDENTITY_REPLAY_KEY_MAX], pxs[24];
    int klen = snprintf(key, sizeof(key), "%s" REPLAY_KEY "%s", t->prefix, job->replay_key);
    int plen = snprintf(pxs, sizeof(pxs), "%lld", (long long)(px < 1000 ? 1000 : px));
    const char *argv[6] = {"SET", key, "1", "XX", "PX", pxs};
    size_t lens[6] = {3, (size_t)klen, 1, 2, 2, (size_t)plen};
    if (sluice_redis_command(t->redis, on_replay_forgotten, t, 6, argv, lens) != 0)
        count_error(t);
}

/* ------------------------------------------------------------------ links in Redis */

/* Hash <prefix>id:<org>:<id> with the fields userId (identify, alias), anonymousId (the id a
 * cross-domain token adopted in place of this one) and click:<name> (kept_clicks below). */
static int link_key(char *out, size_t cap, const sluice_identity_thread_t *t, const sluice_org_t *org, const char *id)
{
    int n = snprintf(out, cap, "%s" LINK_KEY "%s:%s", t->prefix, org->id, id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* Click ids kept for a visitor in its link hash, for the integrations that send them
 * (docs/identity.md, "Vendor ids and click ids"). A field holds "<ms of the click>:<click id>":
 * the landing page's time, which Meta wants in fbc ("fb.1.<creation time>.<fbclid>") and which
 * bounds how long the click is worth sending. The windows are the vendors' own:
 * - fbclid 90 days: the lifetime of the _fbc cookie Meta's pixel keeps the click in
 *   (developers.facebook.com, "ClickID and the fbp and fbc Parameters", and "About cookie
 *   settings for your Meta Pixel");
 * - gclid, gbraid, wbraid 90 days: the longest click-through conversion window Google Ads
 *   accepts an uploaded click conversion in (Google Ads API, ClickConversion, "Upload click
 *   conversions": the conversion must be within the action's click-through window, at most 90 days);
 * - ttclid, ScCid, rdt_cid 28 days: the longest click-through attribution window TikTok's
 *   Attribution Manager, Snap's and Reddit's ads managers offer (1, 7 or 28 days; TikTok's Help
 *   Center: a click id "follows the click-through attribution window" set there);
 * - epik 60 days: the longest click window of Pinterest's conversion reporting (1, 7, 14, 30, 60);
 * - li_fat_id 30 days: the lifetime of the li_fat_id cookie LinkedIn's Insight Tag keeps it in
 *   (LinkedIn Cookie Table).
 * A later click of the same vendor replaces the one kept; Google's three ids are one family
 * (a new gbraid replaces a kept gclid: Google Ads takes exactly one per conversion). msclkid is
 * not kept: no integration sends it. */
typedef struct kept_click {
    const char *name;   /* the key in context.clickIds (the URL parameter) */
    const char *vendor; /* the integrations' vendor that sends it */
    const char *field;  /* its field in the link hash */
    int64_t window_days;
    int family; /* 1: Google's ids, of which the latest click alone is restored */
} kept_click_t;

static const kept_click_t kept_clicks[] = {
    {"gclid", "google_ads", "click:gclid", 90, 1},   {"gbraid", "google_ads", "click:gbraid", 90, 1},
    {"wbraid", "google_ads", "click:wbraid", 90, 1}, {"fbclid", "meta", "click:fbclid", 90, 0},
    {"ttclid", "tiktok", "click:ttclid", 28, 0},     {"epik", "pinterest", "click:epik", 60, 0},
    {"ScCid", "snapchat", "click:ScCid", 28, 0},     {"li_fat_id", "linkedin", "click:li_fat_id", 30, 0},
    {"rdt_cid", "reddit", "click:rdt_cid", 28, 0},
};
enum { KEPT_CLICKS = sizeof(kept_clicks) / sizeof(kept_clicks[0]), LOOKUP_FIELDS = 2 + KEPT_CLICKS };

static void on_lookup(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    probe_t *p = ud;
    sluice_identity_job_t *job = p->job;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements == LOOKUP_FIELDS) {
        json_t *entry = json_object();
        for (size_t f = 0; f < LOOKUP_FIELDS; f++) {
            const redisReply *r = reply->element[f];
            json_t *v = r->type == REDIS_REPLY_STRING ? json_stringn(r->str, r->len) : NULL;
            if (v != NULL)
                json_object_set_new(entry, f == 0 ? "userId" : f == 1 ? "anonymousId" : kept_clicks[f - 2].field, v);
        }
        if (job->known == NULL)
            job->known = json_object();
        json_object_set_new(job->known, job->lookups[p->index], entry);
    } else {
        command_failed(job->t, status, reply);
    }
    free(p);
    step_done(job);
}

/* Looks id up, once per request; with skip (a sluice_identity_skip_t, or -1 to send) only counts
 * it as not looked up for that reason. */
static void lookup(sluice_identity_job_t *job, const char *id, int skip)
{
    if (id == NULL || job->lookup_count == SLUICE_IDENTITY_MAX_LOOKUPS)
        return;
    for (size_t k = 0; k < job->lookup_count; k++)
        if (strcmp(job->lookups[k], id) == 0)
            return;
    char key[SLUICE_IDENTITY_PREFIX_MAX + LINK_KEY_MAX];
    int klen = link_key(key, sizeof(key), job->t, job->org, id);
    if (klen < 0)
        return;
    job->lookups[job->lookup_count] = id;
    if (skip >= 0) {
        job->lookup_count++; /* an id of several events is one lookup not made */
        bump(&job->t->lookups_skipped[skip]);
        return;
    }
    const char *argv[2 + LOOKUP_FIELDS] = {"HMGET", key, "userId", "anonymousId"};
    size_t lens[2 + LOOKUP_FIELDS] = {5, (size_t)klen, 6, 11};
    for (size_t f = 0; f < KEPT_CLICKS; f++) {
        argv[4 + f] = kept_clicks[f].field;
        lens[4 + f] = strlen(kept_clicks[f].field);
    }
    if (send_probe(job, job->lookup_count, on_lookup, 2 + LOOKUP_FIELDS, argv, lens) == 0)
        job->lookup_count++;
}

/* Phase 1: what Redis knows about the visitor's id and every event's id. */
static void start_lookups(sluice_identity_job_t *job)
{
    if (job->t->redis == NULL)
        return;
    /* After a timeout in phase 0, a second wait would double the bound on this request. While
     * Redis is down or reconnecting no command can go. Either way no lookup is sent, and so no
     * error counted, while each event goes without its link: the ids are counted as skipped
     * (sluice_identity_lookups_skipped_total), or /metrics showed a few errors while thousands of
     * events lost their cross-domain link. */
    int skip = job->redis_slow                          ? SLUICE_IDENTITY_SKIP_TIMEOUT
               : !sluice_redis_connected(job->t->redis) ? SLUICE_IDENTITY_SKIP_UNAVAILABLE
                                                        : -1;
    /* First the id the request proves (its cookie's, or the one a token just adopted): a tag that
     * still sends its own id after a token adopted another's (one a CDN cached) has its events
     * re-keyed to the proven id, and what is kept for the visitor since (its click ids, its
     * userId) is kept under that id. Looking up only the events' ids, such a visitor's purchase
     * lost the click its landing page kept. */
    int proven = job->proof == SLUICE_IDENTITY_PROOF_COOKIE || job->proof == SLUICE_IDENTITY_PROOF_TOKEN;
    if (job->browser && proven && job->anonymous_id[0] != '\0')
        lookup(job, job->anonymous_id, skip);
    lookup_events(job, skip);
}

/* The value of field for id from the lookups, or NULL. */
static json_t *known(const sluice_identity_job_t *job, const char *id, const char *field)
{
    return id != NULL && job->known != NULL ? json_object_get(json_object_get(job->known, id), field) : NULL;
}

/* The id a token adopted in place of id, when this request proves it is that id's visitor (its
 * signed cookie holds the adopted id, or it redeemed the token itself); else NULL. A link alone
 * moves nobody: whoever wrote it, only the holder of the adopted id's cookie is re-keyed by it.
 * Followed one step only, so a loop of links can never make us loop. */
static const char *adopted_for(const sluice_identity_job_t *job, const char *id)
{
    const char *m = plain_string(known(job, id, "anonymousId"));
    int proven = job->proof == SLUICE_IDENTITY_PROOF_COOKIE || job->proof == SLUICE_IDENTITY_PROOF_TOKEN;
    if (m == NULL || !sluice_id_valid(m, strlen(m)) || strcmp(m, id) == 0 || !proven ||
        strcmp(m, job->anonymous_id) != 0)
        return NULL;
    return m;
}

static void on_written(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    command_failed(ud, status, reply);
}

/* HSET <prefix>id:<org>:<id> field value, then EXPIRE after link_ttl_days. Fire and forget: the
 * request does not wait, and a failure only loses the link. */
static void write_link(sluice_identity_job_t *job, const char *id, const char *field, const char *value)
{
    sluice_identity_thread_t *t = job->t;
    if (t->redis == NULL || id == NULL)
        return;
    /* Events of a forgotten person are dropped before identity, but a link can still name one
     * of their ids from another's event (a token adopting their id): not made again. */
    if (forgotten(job, id) || forgotten(job, value))
        return;
    char key[SLUICE_IDENTITY_PREFIX_MAX + LINK_KEY_MAX], ttl[16];
    int klen = link_key(key, sizeof(key), t, job->org, id);
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

/* Keeps a Set-Cookie value formatted into text (len bytes, -1 when it did not fit) in a block of
 * its length: the job's record holds a pointer, not SLUICE_IDENTITY_COOKIE_LEN bytes, per cookie. */
static void keep_cookie(sluice_identity_job_t *job, const char *text, int len)
{
    char *c = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (c == NULL)
        return;
    memcpy(c, text, (size_t)len + 1);
    job->cookies[job->cookie_count++] = c;
}

static void add_cookie(sluice_identity_job_t *job, const char *name, const char *value, unsigned max_age_s,
                       int http_only)
{
    if (job->cookie_count >= SLUICE_IDENTITY_MAX_COOKIES)
        return;
    sluice_cookie_t c = {name, value, max_age_s, job->cookie_domain, http_only};
    char text[SLUICE_IDENTITY_COOKIE_LEN];
    keep_cookie(job, text, sluice_cookie_format(&c, text, sizeof(text)));
}

/* Consent refused: the cookie the browser sent is deleted. */
static void expire_cookie(sluice_identity_job_t *job, const char *name, int http_only)
{
    if (job->cookie_count >= SLUICE_IDENTITY_MAX_COOKIES)
        return;
    char text[SLUICE_IDENTITY_COOKIE_LEN];
    keep_cookie(job, text, sluice_cookie_format_expired(name, job->cookie_domain, http_only, text, sizeof(text)));
}

/* 1 when a data-layer rule of the org reaches kept_clicks[k] (asked once per request, and only
 * for a request with a click id to keep or restore). */
static int click_covered(sluice_identity_job_t *job, size_t k)
{
    if (job->clicks_covered < 0) {
        job->clicks_covered = 0;
        for (size_t i = 0; i < KEPT_CLICKS && job->click_covered != NULL; i++)
            if (job->click_covered(job->org, kept_clicks[i].name))
                job->clicks_covered |= 1 << i;
    }
    return (job->clicks_covered >> k) & 1;
}

/* A kept value "<ms>:<id>": the click's time and id, or -1 when malformed. */
static int64_t kept_click_parse(const char *v, const char **id)
{
    char *end;
    long long ms = v != NULL ? strtoll(v, &end, 10) : -1;
    if (v == NULL || end == v || *end != ':' || end[1] == '\0' || ms < 0)
        return -1;
    *id = end + 1;
    return (int64_t)ms;
}

/* The index in kept_clicks of a link hash field (key, len: "click:<name>"), or -1. */
static int kept_click_index(const char *key, size_t len)
{
    if (len <= 6 || memcmp(key, "click:", 6) != 0)
        return -1;
    for (size_t k = 0; k < KEPT_CLICKS; k++)
        if (strlen(kept_clicks[k].field) == len && memcmp(kept_clicks[k].field, key, len) == 0)
            return (int)k;
    return -1;
}

/* What is kept for ev's visitor, per kept click (out[k] for kept_clicks[k], NULL for nothing):
 * this request's own writes (an earlier event of the batch) or what Redis had for the final id,
 * in mine (job->known's entry of ev's id), else what Redis had for the id ev arrived with
 * (looked_up). One pass over each entry's few members instead of two look-ups per kept click. */
static void kept_click_values(json_t *mine, json_t *looked_up, const char *out[KEPT_CLICKS])
{
    json_t *from[2] = {looked_up, mine}; /* mine's, read second, win */
    for (size_t k = 0; k < KEPT_CLICKS; k++)
        out[k] = NULL;
    for (size_t s = 0; s < 2; s++) {
        for (void *it = json_object_iter(from[s]); it != NULL; it = json_object_iter_next(from[s], it)) {
            int k = kept_click_index(json_object_iter_key(it), json_object_iter_key_len(it));
            const char *v = k >= 0 ? plain_string(json_object_iter_value(it)) : NULL;
            if (v != NULL)
                out[k] = v;
        }
    }
}

/* This request's write of a kept click (value, or "" for removed) seen by its later events. */
static void remember_click(sluice_identity_job_t *job, const char *anon, const char *field, const char *value)
{
    if (job->known == NULL)
        job->known = json_object();
    json_object_set_new(ensure_object(job->known, anon), field, json_string(value));
    job->clicks_known = 1;
}

/* 1 when an entry of known holds a member of a kept click ("click:<name>", on_lookup's fields). */
static int known_holds_clicks(json_t *known)
{
    const char *id, *field;
    json_t *entry, *v;
    json_object_foreach(known, id, entry) {
        json_object_foreach(entry, field, v)
            if (strncmp(field, "click:", 6) == 0)
                return 1;
    }
    return 0;
}

/* identity/run_rules.h with jansson's accessors: what run reads from and writes into job->events. */
#define T_CAT2(a, b)               a##_##b
#define T_CAT(a, b)                T_CAT2(a, b)
#define T(name)                    T_CAT(name, json)
#define T_VALUE                    json_t
#define T_X(job)                   NULL
#define T_COUNT(job)               json_array_size((job)->events)
#define T_EVENT(job, i)            json_array_get((job)->events, (i))
#define T_IS_STRING                json_is_string
#define T_IS_OBJECT                json_is_object
#define T_GET                      json_object_get
#define T_DEL                      json_object_del
#define T_ARRAY_SIZE               json_array_size
#define T_ARRAY_GET                json_array_get
#define T_PLAIN(x, v)              plain_string(v)
#define T_IS_PLAIN(v)              (plain_string(v) != NULL)
#define T_CSTR(x, v)               json_string_value(v)
#define T_CSTR_IS                  cstr_is_json
#define T_SAME_STRING              json_equal
#define T_ENSURE_OBJECT(x, o, key) ensure_object((o), (key))
#define T_SET_STRING(x, o, key, s) json_object_set_new((o), (key), json_string(s))
#define T_SET_TRUE(x, o, key)      json_object_set_new((o), (key), json_true())
#define T_SET_SAME(x, o, key, v)   json_object_set((o), (key), (v))
#define T_SET_KNOWN(x, o, key, j)  json_object_set((o), (key), (j))
#define T_OBJECT(x)                json_object()
#define T_SIZE                     json_object_size
#define T_UPDATE(x, o, ids)        json_object_update((o), (ids))
#define T_SET_NEW(x, o, key, v)    json_object_set_new((o), (key), (v))
#define T_COPY(x, v)               json_deep_copy(v)
#define T_DROP                     json_decref
#define T_HOLD                     json_incref
#define T_RELEASE                  json_decref

/* 1 when v is a string whose C string (json_string_value, to its first NUL) is s. */
static int cstr_is_json(const json_t *v, const char *s)
{
    const char *p = json_string_value(v);
    return p != NULL && strcmp(p, s) == 0;
}

#include "identity/run_rules.h"

/* The same rules on jv values: job->events_jv, changes made in job->arena. */

/* cstr_is_json on a jv string: its bytes up to the first NUL are s. */
static int cstr_is_jv(const sluice_jv_t *v, const char *s)
{
    size_t n;
    const char *p = sluice_jv_string_value(v, &n);
    if (p == NULL)
        return 0;
    const char *nul = memchr(p, '\0', n);
    size_t k = nul != NULL ? (size_t)(nul - p) : n;
    return k == strlen(s) && memcmp(p, s, k) == 0;
}

/* 1 when v is a string without a NUL byte (plain_jv would give it), without copying it. */
static int is_plain_jv(const sluice_jv_t *v)
{
    size_t n;
    const char *p = sluice_jv_string_value(v, &n);
    return p != NULL && memchr(p, '\0', n) == NULL;
}

/* json_equal of v and the string w (the only value compared here). */
static int same_string_jv(const sluice_jv_t *v, const sluice_jv_t *w)
{
    size_t n, m;
    const char *p = sluice_jv_string_value(v, &n), *q = sluice_jv_string_value(w, &m);
    return p != NULL && q != NULL && n == m && memcmp(p, q, n) == 0;
}

/* o[key] = a string of job->known (what Redis answered, jansson's: json_stringn kept its bytes). */
static void set_known_jv(sluice_json_arena_t *a, sluice_jv_t *o, const char *key, const json_t *j)
{
    sluice_jv_t *v = json_is_string(j) ? sluice_jv_string(a, json_string_value(j), json_string_length(j)) : NULL;
    if (v != NULL)
        sluice_jv_object_set(a, o, key, v);
}

/* o[key] = a copy of v (a jv value sits in one place). */
static void set_copy_jv(sluice_json_arena_t *a, sluice_jv_t *o, const char *key, const sluice_jv_t *v)
{
    sluice_jv_t *c = sluice_jv_copy(a, v);
    if (c != NULL)
        sluice_jv_object_set(a, o, key, c);
}

#define T(name)                 T_CAT(name, jv)
#define T_VALUE                 sluice_jv_t
#define T_X(job)                ((job)->arena)
#define T_COUNT(job)            sluice_jv_array_size((job)->events_jv)
#define T_EVENT(job, i)         sluice_jv_array_get((job)->events_jv, (i))
#define T_IS_STRING             sluice_jv_is_string
#define T_IS_OBJECT             sluice_jv_is_object
#define T_GET                   sluice_jv_object_get
#define T_DEL                   sluice_jv_object_del
#define T_ARRAY_SIZE            sluice_jv_array_size
#define T_ARRAY_GET             sluice_jv_array_get
#define T_PLAIN                 plain_jv
#define T_IS_PLAIN              is_plain_jv
#define T_CSTR(x, v)            sluice_jv_string_cstr((x), (v), NULL)
#define T_CSTR_IS               cstr_is_jv
#define T_SAME_STRING           same_string_jv
#define T_ENSURE_OBJECT         ensure_object_jv
#define T_SET_STRING            set_string_jv
#define T_SET_TRUE(x, o, key)   ((void)sluice_jv_object_set((x), (o), (key), sluice_jv_bool((x), 1)))
#define T_SET_SAME              set_copy_jv
#define T_SET_KNOWN             set_known_jv
#define T_OBJECT                sluice_jv_object
#define T_SIZE                  sluice_jv_object_size
#define T_UPDATE                update_jv
#define T_SET_NEW(x, o, key, v) ((void)sluice_jv_object_set((x), (o), (key), (v)))
#define T_COPY                  sluice_jv_copy
#define T_DROP(v)               ((void)(v)) /* it stays in the arena, out of the tree */
#define T_HOLD(v)               ((void)(v))
#define T_RELEASE(v)            ((void)(v))

#include "identity/run_rules.h"

#undef T_CAT
#undef T_CAT2

/* The tree run works on: job->events_jv when it is set, else job->events. */
static int sid_consent(const sluice_identity_job_t *job)
{
    return job->events_jv != NULL ? sid_consent_jv(job) : sid_consent_json(job);
}

static void start_dedup(sluice_identity_job_t *job)
{
    if (job->events_jv != NULL)
        start_dedup_jv(job);
    else
        start_dedup_json(job);
}

static void lookup_events(sluice_identity_job_t *job, int skip)
{
    if (job->events_jv != NULL)
        lookup_events_jv(job, skip);
    else
        lookup_events_json(job, skip);
}

static void adopt(sluice_identity_job_t *job)
{
    if (job->events_jv != NULL)
        adopt_jv(job);
    else
        adopt_json(job);
}

static void finish(sluice_identity_job_t *job)
{
    job->clicks_known = known_holds_clicks(job->known);
    if (job->events_jv != NULL)
        finish_jv(job);
    else
        finish_json(job);
}

static size_t event_count(const sluice_identity_job_t *job)
{
    return job->events_jv != NULL ? sluice_jv_array_size(job->events_jv) : json_array_size(job->events);
}

void sluice_identity_complete(sluice_identity_thread_t *t, sluice_identity_job_t *job)
{
    job->t = t;
    adopt(job);
    finish(job);
}

int sluice_identity_run(sluice_identity_thread_t *t, sluice_identity_job_t *job)
{
    size_t n = event_count(job);
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
    /* A first id is claimed only where its cookie may be set: a claim without the cookie would
     * lock the visitor out of its own id once it consents. */
    if (job->proof == SLUICE_IDENTITY_PROOF_CLAIM && sid_consent(job) == CONSENT_YES)
        start_claim(job);
    else if (job->proof == SLUICE_IDENTITY_PROOF_CLAIM)
        job->proof = SLUICE_IDENTITY_PROOF_NONE;
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
    json_decref(job->consent);
    job->consent = NULL;
    for (size_t i = 0; i < job->cookie_count; i++) {
        free(job->cookies[i]);
        job->cookies[i] = NULL;
    }
    job->cookie_count = 0;
    free(job->vendor);
    job->vendor = NULL;
    sluice_secure_zero(job->token, sizeof(job->token));
    sluice_secure_zero(&job->claims, sizeof(job->claims));
}

/* ------------------------------------------------------------------ issuing */

int sluice_identity_issue(sluice_identity_thread_t *t, const sluice_org_t *org, const sluice_identity_issue_input_t *in,
                          char *out, size_t cap, char *set_cookie, size_t cookie_cap, char *anon_out, sluice_err_t *err)
{
    set_cookie[0] = '\0';
    if (!sluice_identity_xd_domain(org, in->origin_host)) {
        sluice_err_set(err, "the page's origin is not one of the org's cross_domain.domains");
        return SLUICE_IDENTITY_EDOMAIN;
    }
    if (!sluice_identity_xd_domain(org, in->to_host)) {
        sluice_err_set(err, "`to` is not a URL on one of the org's cross_domain.domains");
        return SLUICE_IDENTITY_EDOMAIN;
    }
    if (t->keys->tokens == NULL || sluice_keyring_primary_kid(t->keys->tokens) == 0 || !org_signs(t, org)) {
        sluice_err_set(err, "cross-domain tokens are unavailable: the gateway has no ENCRYPTION_KEY");
        return SLUICE_IDENTITY_ENOKEY;
    }
    /* Whose token: the id the signed cookie proves, or the first id this browser just claimed,
     * and nobody else's. */
    char anon[SLUICE_ID_MAX + 1];
    int proven = in->cookie.base != NULL &&
                 sluice_cookie_verify(t->keys->cookies, org->id, in->cookie.base, in->cookie.len, anon) == 0;
    int claimed = !proven && in->claimed != NULL && sluice_id_valid(in->claimed, strlen(in->claimed));
    if (claimed) {
        memcpy(anon, in->claimed, strlen(in->claimed) + 1);
    } else if (!proven && sluice_id_mint(anon) != 0) {
        sluice_err_set(err, "no random bytes available for a new anonymous id");
        return SLUICE_IDENTITY_EID;
    }
    if (!proven) {
        /* The request carries no consent: the new id becomes the cookie only where none is needed
         * (a first id is claimed only there). */
        const sluice_identity_config_t *idc = &org->identity;
        size_t need = idc->cookie_consent_set ? idc->cookie_consent_count : org->consent.required_count;
        char value[SLUICE_ID_MAX + SLUICE_COOKIE_SIG_LEN + 1];
        if (need == 0 && sluice_cookie_sign(t->keys->cookies, org->id, anon, value, sizeof(value)) > 0) {
            const char *domain = in->host.base != NULL
                                     ? sluice_cookie_domain_for(idc->cookie_domain, in->host.base, in->host.len)
                                     : NULL;
            sluice_cookie_t c = {idc->cookie_name, value, idc->cookie_max_age_days * SLUICE_COOKIE_DAY_S, domain, 1};
            if (sluice_cookie_format(&c, set_cookie, cookie_cap) < 0)
                set_cookie[0] = '\0';
            else if (!claimed) /* a claim just set its key */
                keep_claim(t, org, anon);
        }
    }
    if (sluice_token_seal(t->keys->tokens, org->id, in->to_host, anon, in->now_ms / 1000, org->identity.xd_token_ttl_s,
                          out, cap, err) < 0)
        return SLUICE_IDENTITY_EINTERNAL;
    if (anon_out != NULL)
        memcpy(anon_out, anon, strlen(anon) + 1);
    return 0;
}

int sluice_identity_issue_claims(const sluice_identity_thread_t *t, const sluice_org_t *org,
                                 const sluice_identity_issue_input_t *in, const char *first)
{
    const sluice_identity_config_t *idc = &org->identity;
    size_t need = idc->cookie_consent_set ? idc->cookie_consent_count : org->consent.required_count;
    return in->cookie.base == NULL && first != NULL && sluice_id_valid(first, strlen(first)) && t->redis != NULL &&
           sluice_identity_xd_domain(org, in->origin_host) && sluice_identity_xd_domain(org, in->to_host) &&
           t->keys->tokens != NULL && sluice_keyring_primary_kid(t->keys->tokens) != 0 && org_signs(t, org) &&
           need == 0;
}

typedef struct claim_req {
    sluice_identity_thread_t *t;
    sluice_identity_claim_cb cb;
    void *ud;
} claim_req_t;

static void on_issue_claimed(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    claim_req_t *c = ud;
    int ok = status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_STATUS;
    if (status != SLUICE_REDIS_OK || reply->type == REDIS_REPLY_ERROR)
        count_error(c->t);
    sluice_identity_claim_cb cb = c->cb;
    void *cud = c->ud;
    free(c);
    cb(cud, ok);
}

int sluice_identity_claim(sluice_identity_thread_t *t, const sluice_org_t *org, const char *id,
                          sluice_identity_claim_cb cb, void *ud)
{
    char key[SLUICE_IDENTITY_PREFIX_MAX + LINK_KEY_MAX], ttl[16];
    int klen = own_key(key, sizeof(key), t, org, id);
    if (klen < 0 || t->redis == NULL)
        return -1;
    claim_req_t *c = malloc(sizeof(*c));
    if (c == NULL)
        return -1;
    *c = (claim_req_t){t, cb, ud};
    int tlen = snprintf(ttl, sizeof(ttl), "%u", org->identity.link_ttl_days * SLUICE_COOKIE_DAY_S);
    const char *argv[6] = {"SET", key, "1", "NX", "EX", ttl};
    size_t lens[6] = {3, (size_t)klen, 1, 2, 2, (size_t)tlen};
    if (sluice_redis_command(t->redis, on_issue_claimed, c, 6, argv, lens) != 0) {
        free(c);
        count_error(t);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ dedup, after the ack */

static void on_remembered(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    command_failed(ud, status, reply);
}

void sluice_identity_remember(sluice_identity_thread_t *t, const sluice_org_t *org, const char *message_id,
                              const char *subject)
{
    if (!org->identity.dedup_enabled || t->redis == NULL || message_id == NULL)
        return;
    char key[512], ttl[16];
    int klen = dedup_key(key, sizeof(key), t, org, message_id);
    if (klen < 0)
        return;
    int tlen = snprintf(ttl, sizeof(ttl), "%u", org->identity.dedup_window_s);
    const char *value = subject != NULL && subject[0] != '\0' ? subject : "1";
    const char *argv[5] = {"SET", key, value, "EX", ttl};
    size_t lens[5] = {3, (size_t)klen, strlen(value), 2, (size_t)tlen};
    if (sluice_redis_command(t->redis, on_remembered, t, 5, argv, lens) != 0)
        count_error(t);
}

/*
 * Enrichment in the gateway (enrichment.h): the runtime's enrichment resources, and the step
 * that writes an event's enriched context fields. Create/destroy on the main thread; the rest
 * on the request's loop thread (w->index picks its user-agent cache).
 */
#include "gateway/enrichment.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/time.h"
#include "enrich/bots.h"
#include "enrich/campaign.h"
#include "enrich/ua.h"
#include "gateway/consent.h"
#include "gateway/runtime.h"
#include "gateway/secrets.h"
#include "gateway/server.h"
#include "identity/cookie.h"

struct sluice_enrichment {
    sluice_ua_parser_t *ua; /* NULL: no org parses user agents, or the regexes could not be read */
    char *ua_path;          /* the file ua was read from */
    sluice_geo_t *geo;      /* NULL: no org asks for geolocation, or no database */
    char *geo_path;         /* the file geo was read from */
    struct stat geo_seen;   /* that file as it was when read (zero: unknown) */
    unsigned ua_cache_size;
    unsigned nthreads;
    sluice_ua_cache_t **caches;       /* [nthreads], made by each thread on first use */
    sluice_session_cache_t **scaches; /* [nthreads]: session cookies verified or signed, likewise */
};

/* ------------------------------------------------------------------ the database watcher */

/* What the watcher looks at: set by each runtime's create (main thread), read by the watcher. */
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static char *watch_path; /* NULL: nothing to watch */
static unsigned watch_every_s;
static struct stat watch_seen;
static int watch_have; /* watch_seen holds the file as the runtime opened it */

static void watch_set(const char *path, unsigned every_s)
{
    pthread_mutex_lock(&watch_mu);
    free(watch_path);
    watch_path = path != NULL && every_s > 0 ? strdup(path) : NULL;
    watch_every_s = every_s;
    watch_have = watch_path != NULL && stat(watch_path, &watch_seen) == 0;
    pthread_mutex_unlock(&watch_mu);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void *watch_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&watch_mu);
        unsigned every = watch_every_s ? watch_every_s : 1;
        pthread_mutex_unlock(&watch_mu);
        struct timespec ts = {.tv_sec = (time_t)every};
        nanosleep(&ts, NULL);
        int fire = 0;
        pthread_mutex_lock(&watch_mu);
        struct stat st;
        if (watch_path != NULL && stat(watch_path, &st) == 0 && (!watch_have || !same_file(&st, &watch_seen))) {
            watch_seen = st; /* once per change, also when the reload fails */
            watch_have = 1;
            fire = 1;
        }
        pthread_mutex_unlock(&watch_mu);
        if (fire) {
            sluice_log_info("enrich.geo_changed", "the geolocation database changed on disk: reloading");
            kill(getpid(), SIGHUP);
        }
    }
    return NULL;
}

int sluice_enrichment_watch_start(sluice_err_t *err)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, watch_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return sluice_err_set(err, "cannot start the geolocation database watcher: %s", strerror(rc));
    return 0;
}

int sluice_enrichment_needs_keys(const sluice_config_t *cfg)
{
    for (size_t i = 0; i < cfg->org_count; i++)
        if (cfg->orgs[i].enrich.session)
            return 1;
    return 0;
}

/* The database of path into e: prev's when the file is the one prev read (no second copy in
 * memory), a new copy when it changed, prev's again when the changed file is no database (a copy
 * being written in place: libmaxminddb finds its metadata at the end); off when it is missing. */
static void geo_load(sluice_enrichment_t *e, const char *path, const sluice_enrichment_t *prev)
{
    struct stat st;
    int have = stat(path, &st) == 0;
    const sluice_geo_t *had =
        prev != NULL && prev->geo != NULL && prev->geo_path != NULL && strcmp(prev->geo_path, path) == 0 ? prev->geo
                                                                                                         : NULL;
    if ((e->geo_path = strdup(path)) == NULL)
        return;
    if (had != NULL && have && same_file(&st, &prev->geo_seen)) {
        e->geo = sluice_geo_acquire(prev->geo);
        e->geo_seen = prev->geo_seen;
        return;
    }
    sluice_err_t why;
    e->geo = sluice_geo_open(path, &why);
    if (e->geo != NULL) {
        if (have)
            e->geo_seen = st;
        sluice_log_info("enrich.geo", "geolocation database %s (%s, built %llu)", path, sluice_geo_type(e->geo),
                        (unsigned long long)sluice_geo_build_epoch(e->geo));
    } else if (had != NULL && have) {
        e->geo = sluice_geo_acquire(prev->geo);
        e->geo_seen = prev->geo_seen; /* so the complete file is read at the next reload */
        sluice_log_warn("enrich.geo_kept",
                        "%s; the database read before stays in use until the file is a whole database again "
                        "(replace it by renaming a complete copy over it)",
                        why.msg);
    } else {
        sluice_log_warn("enrich.geo_off", "geolocation is off: %s", why.msg);
    }
}

sluice_enrichment_t *sluice_enrichment_create(const sluice_config_t *cfg, unsigned nthreads,
                                              const sluice_enrichment_t *prev, sluice_err_t *err)
{
    sluice_enrichment_t *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->caches = calloc(nthreads ? nthreads : 1, sizeof(*e->caches))) == NULL ||
        (e->scaches = calloc(nthreads ? nthreads : 1, sizeof(*e->scaches))) == NULL) {
        if (e != NULL)
            free(e->caches);
        free(e);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    e->nthreads = nthreads;
    e->ua_cache_size = cfg->enrich.ua_cache_size;
    int want_ua = 0, want_geo = 0;
    for (size_t i = 0; i < cfg->org_count; i++) {
        const sluice_enrich_config_t *c = &cfg->orgs[i].enrich;
        want_ua |= c->user_agent || c->bots != SLUICE_BOTS_OFF;
        want_geo |= c->geo != SLUICE_GEO_OFF;
    }
    sluice_err_t why;
    if (want_ua) {
        const char *path = cfg->enrich.ua_regexes != NULL ? cfg->enrich.ua_regexes : SLUICE_UA_REGEXES_DEFAULT;
        e->ua_path = strdup(path);
        e->ua = sluice_ua_parser_load(path, &why);
        if (e->ua != NULL) {
            sluice_log_info("enrich.ua", "user-agent regexes loaded: %zu (%zu skipped)", sluice_ua_parser_count(e->ua),
                            sluice_ua_parser_skipped(e->ua));
        } else if (prev != NULL && prev->ua != NULL && prev->ua_path != NULL && strcmp(prev->ua_path, path) == 0) {
            /* The file caught while being written in place (an upgrade of uap-core, a `cp` over
             * it): a reload turned user-agent parsing and bot detection off until the next one,
             * and an org's `bots: drop` let every crawler's events through to its vendors. */
            e->ua = sluice_ua_parser_acquire(prev->ua);
            sluice_log_warn("enrich.ua_kept",
                            "%s; the regexes read before stay in use until the file can be read whole again "
                            "(replace it by renaming a complete copy over it, then reload)",
                            why.msg);
        } else {
            sluice_log_warn("enrich.ua_off", "user-agent parsing and bot detection by user agent are off: %s", why.msg);
        }
    }
    watch_set(want_geo ? cfg->enrich.geo_database : NULL, cfg->enrich.geo_check_s);
    if (want_geo && cfg->enrich.geo_database == NULL) {
        sluice_log_warn("enrich.geo_off", "geolocation is off: an org asks for it but enrichment.geo_database is "
                                          "not set");
    } else if (want_geo) {
        geo_load(e, cfg->enrich.geo_database, prev);
    }
    return e;
}

void sluice_enrichment_destroy(sluice_enrichment_t *e)
{
    if (e == NULL)
        return;
    for (unsigned i = 0; i < e->nthreads; i++) {
        sluice_ua_cache_destroy(e->caches[i]);
        sluice_session_cache_destroy(e->scaches[i]);
    }
    free(e->caches);
    free(e->scaches);
    sluice_ua_parser_destroy(e->ua);
    free(e->ua_path);
    sluice_geo_close(e->geo);
    free(e->geo_path);
    free(e);
}

void sluice_enrichment_begin(sluice_enrichment_req_t *r, h2o_req_t *req, sluice_worker_t *w, const sluice_runtime_t *rt,
                             const sluice_source_rt_t *src, const sluice_event_enrich_t *en)
{
    memset(r, 0, sizeof(*r));
    r->req = req;
    r->w = w;
    r->e = rt->enrich;
    r->org = src->org;
    r->en = en;
    r->browser = !en->trust_client_ip;
}

/* ------------------------------------------------------------------ helpers */

/* The object at ev.context.<key>, made when absent (NULL when a non-object is there). */
static json_t *context_obj(json_t *ev, const char *key)
{
    json_t *ctx = json_object_get(ev, "context");
    if (ctx == NULL) {
        ctx = json_object();
        if (json_object_set_new(ev, "context", ctx) != 0)
            return NULL;
    }
    if (!json_is_object(ctx))
        return NULL;
    json_t *o = json_object_get(ctx, key);
    if (o == NULL) {
        o = json_object();
        if (json_object_set_new(ctx, key, o) != 0)
            return NULL;
    }
    return json_is_object(o) ? o : NULL;
}

/* Sets o.key to s when s is not empty and the client did not send o.key itself. */
static void fill(json_t *o, const char *key, const char *s)
{
    if (o != NULL && s != NULL && s[0] != '\0' && json_object_get(o, key) == NULL)
        json_object_set_new(o, key, json_string(s));
}

/* A string at ev.a.b, or NULL. */
static const char *str2(const json_t *ev, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(ev, a), b));
}

static const char *header(h2o_req_t *req, const char *name)
{
    h2o_iovec_t v = sluice_http_header_str(req, name);
    return v.base != NULL ? h2o_strdup(&req->pool, v.base, v.len).base : NULL;
}

static sluice_ua_cache_t *thread_cache(const sluice_enrichment_t *e, unsigned thread)
{
    if (thread >= e->nthreads)
        return NULL;
    if (e->caches[thread] == NULL) /* this thread's slot only: no other thread writes it */
        e->caches[thread] = sluice_ua_cache_create(e->ua_cache_size);
    return e->caches[thread];
}

/* ------------------------------------------------------------------ the parts */

/* User agent and bots. 1 when the event is a bot to drop. */
static int user_agent(sluice_enrichment_req_t *r, json_t *ev)
{
    const sluice_enrich_config_t *c = &r->org->enrich;
    const char *ua = str2(ev, "context", "userAgent");
    size_t len = ua != NULL ? strlen(ua) : 0;
    sluice_ua_result_t res, *parsed = NULL;
    sluice_ua_cache_t *cache = r->e->ua != NULL ? thread_cache(r->e, r->w->index) : NULL;
    /* A server's event that names no user agent has no visitor's to parse or to find missing
     * (the request's own is the server's, and is not copied into it): only the address ranges
     * judge it. Nor has an app's whose request came through an HTTP library (React Native's
     * OkHttp): the library's name was not copied into it either (sluice_event_app_agent). */
    int judge_missing = r->browser && !sluice_event_app_agent(ev, r->en);
    if (cache != NULL && (len > 0 || judge_missing)) {
        int hit;
        /* One too long for the cache is parsed once per request, not per event: the header's,
         * given to each of a batch's 500 events, ran the regexes (0.7 ms) for every one. */
        if (len > SLUICE_UA_CACHE_KEY_MAX && r->long_ua != NULL && r->long_ua_len == len &&
            memcmp(r->long_ua, ua, len) == 0) {
            res = r->long_ua_res;
            hit = 1;
        } else {
            hit = sluice_ua_parse(r->e->ua, cache, ua, len, &res);
            if (len > SLUICE_UA_CACHE_KEY_MAX) {
                r->long_ua = h2o_strdup(&r->req->pool, ua, len).base;
                r->long_ua_len = len;
                r->long_ua_res = res;
            }
        }
        sluice_counter_add(hit == 1 ? &r->w->metrics.ua_cache_hits : &r->w->metrics.ua_cache_misses, 1);
        parsed = &res;
        if (r->browser) { /* the request's own hints, read once for all its events */
            if (!r->hints_read) {
                r->hints = (sluice_ua_hints_t){
                    .ch_ua = header(r->req, "sec-ch-ua"),
                    .full_version_list = header(r->req, "sec-ch-ua-full-version-list"),
                    .platform = header(r->req, "sec-ch-ua-platform"),
                    .platform_version = header(r->req, "sec-ch-ua-platform-version"),
                    .mobile = header(r->req, "sec-ch-ua-mobile"),
                    .model = header(r->req, "sec-ch-ua-model"),
                };
                r->hints_read = 1;
            }
            sluice_ua_apply_hints(&res, &r->hints);
        }
    }
    if (c->bots != SLUICE_BOTS_OFF) {
        sluice_bot_reason_t why = sluice_bots_detect(c, ua, len, parsed, str2(ev, "context", "ip"), judge_missing);
        if (why != SLUICE_BOT_NONE) {
            sluice_counter_add(&r->w->metrics.bots[c->bots], 1);
            if (c->bots == SLUICE_BOTS_DROP)
                return 1;
            if (c->bots == SLUICE_BOTS_FLAG) {
                /* The verdict is the gateway's: a null (or any non-object) there from the body
                 * read as "no bot" downstream, and the flag was not written. */
                json_t *ctx = json_object_get(ev, "context");
                if (json_is_object(ctx) && !json_is_object(json_object_get(ctx, "bot")))
                    json_object_del(ctx, "bot");
                json_t *bot = context_obj(ev, "bot");
                fill(bot, "reason", sluice_bots_reason_name(why));
                if (parsed != NULL && strcmp(parsed->browser, "Other") != 0)
                    fill(bot, "name", parsed->browser);
            }
        }
    }
    if (c->user_agent && parsed != NULL) {
        json_t *device = context_obj(ev, "device");
        fill(device, "type", parsed->type);
        fill(device, "manufacturer", parsed->brand);
        fill(device, "model", parsed->model);
        if (strcmp(parsed->device, "Other") != 0)
            fill(device, "name", parsed->device);
        json_t *os = context_obj(ev, "os");
        fill(os, "name", parsed->os);
        fill(os, "version", parsed->os_version);
        json_t *browser = context_obj(ev, "browser");
        fill(browser, "name", parsed->browser);
        fill(browser, "version", parsed->browser_version);
    }
    return 0;
}

/* Geolocation with the full address, before the data layer masks context.ip. */
static void geo(sluice_enrichment_req_t *r, json_t *ev)
{
    const char *ip = str2(ev, "context", "ip");
    if (ip == NULL || strlen(ip) >= sizeof(r->geo_ip))
        return;
    if (strcmp(ip, r->geo_ip) != 0) {
        memcpy(r->geo_ip, ip, strlen(ip) + 1);
        r->geo_rc = sluice_geo_lookup(r->e->geo, ip, r->org->enrich.geo, &r->geo);
        sluice_counter_add(&r->w->metrics.geo[r->geo_rc == 1 ? 0 : 1], 1);
    }
    if (r->geo_rc != 1)
        return;
    json_t *loc = context_obj(ev, "location");
    fill(loc, "country", r->geo.country);
    fill(loc, "countryCode", r->geo.country_code);
    fill(loc, "region", r->geo.region);
    fill(loc, "regionCode", r->geo.region_code);
    fill(loc, "city", r->geo.city);
}

/* 1 when ev's context.consent.categories holds every one of need[0..n). */
static int has_categories(const json_t *ev, char *const *need, size_t n)
{
    const json_t *cats = json_object_get(json_object_get(json_object_get(ev, "context"), "consent"), "categories");
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        size_t k;
        const json_t *v;
        json_array_foreach(cats, k, v)
            found |= json_is_string(v) && strcmp(json_string_value(v), need[i]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

/* 1 when the event carries every category the session cookie needs. */
static int session_consent(const sluice_org_t *org, json_t *ev)
{
    const sluice_enrich_config_t *c = &org->enrich;
    char *const *need = c->session_consent;
    size_t n = c->session_consent_count;
    if (!c->session_consent_set) {
        need = org->identity.cookie_consent_set ? org->identity.cookie_consent : org->consent.required;
        n = org->identity.cookie_consent_set ? org->identity.cookie_consent_count : org->consent.required_count;
    }
    if (n == 0)
        return 1;
    /* sluice.js's own form first; the other SDKs' forms only when it lacks a category. */
    if (has_categories(ev, need, n))
        return 1;
    return sluice_consent_normalize(ev, &org->consent) == 0 && has_categories(ev, need, n);
}

static void session(sluice_enrichment_req_t *r, json_t *ev, sluice_reply_t *reply)
{
    const sluice_org_t *org = r->org;
    const sluice_enrich_config_t *c = &org->enrich;
    const char *domain =
        sluice_cookie_domain_for(org->identity.cookie_domain, r->req->authority.base, r->req->authority.len);
    if (!session_consent(org, ev)) {
        /* Without consent no session is kept; a cookie set before consent was withdrawn goes. */
        if (r->session_state == 0 && sluice_http_cookie(r->req, c->session_cookie).base != NULL) {
            char del[256];
            int n = sluice_cookie_format_expired(c->session_cookie, domain, 1, del, sizeof(del));
            if (n > 0)
                sluice_reply_add_cookie(r->req, reply, del, (size_t)n);
        }
        if (r->session_state == 0)
            r->session_state = -1;
        return;
    }
    if (r->session_state <= 0) {
        const sluice_keyring_t *kr = sluice_secrets_session(r->w->gw->secrets);
        unsigned t = r->w->index;
        sluice_session_cache_t *sc = NULL;
        if (t < r->e->nthreads) { /* this thread's slot only, as for the user-agent cache */
            if (r->e->scaches[t] == NULL)
                r->e->scaches[t] = sluice_session_cache_create(0);
            sc = r->e->scaches[t];
        }
        /* Every cookie of the name, not only the first: after a move from a host-only cookie to
         * cookie_domain the browser keeps both and sends the old one first, and reading only it
         * started a session per event once it had timed out. The one seen last wins. A few at
         * most: each unknown value costs an HMAC. */
        int have = 0;
        for (size_t i = 0; i < 4; i++) {
            h2o_iovec_t v = sluice_http_cookie_nth(r->req, c->session_cookie, i);
            sluice_session_t s;
            if (v.base == NULL)
                break;
            if (sluice_session_verify_cached(sc, kr, org->id, v.base, v.len, &s) == 0 &&
                (!have || s.last_s > r->session.last_s)) {
                r->session = s;
                have = 1;
            }
        }
        /* The session lives in a cookie, which an app's HTTP client mostly does not keep
         * (analytics-kotlin's and RudderStack's HttpURLConnection have no cookie store): each of
         * its requests was a new session, number 1 again, every flush counted as a visit. An app's
         * event that brings no session cookie gets none, nor a cookie: no session is better than
         * a wrong one (its SDK's own, RudderStack's context.sessionId, stays as sent). An app's
         * request has no Origin, which every browser sends with a POST: RudderStack's browser
         * SDK also sends a context.app, and its sessions stay as they were. */
        if (!have && sluice_event_from_app(ev) && sluice_http_header_str(r->req, "origin").base == NULL) {
            r->session_state = -1;
            return;
        }
        r->prev = r->session;
        int started = sluice_session_advance(&r->session, have, r->en->received_ms / 1000, c->session_timeout_s);
        r->have_prev = have && started == 1;
        char value[SLUICE_SESSION_VALUE_MAX + 1], set[SLUICE_SESSION_VALUE_MAX + 256];
        if (started == 2) { /* the cookie the browser holds stays right */
            r->session_state = 1;
            goto write;
        }
        int vlen;
        if (started < 0 || (vlen = sluice_session_sign(kr, org->id, &r->session, value, sizeof(value))) < 0) {
            r->session_state = -1;
            return;
        }
        sluice_session_cache_put(sc, org->id, value, (size_t)vlen, &r->session);
        sluice_counter_add(&r->w->metrics.sessions_started, (uint64_t)started);
        /* The cookie lives as long as the anonymous id's; the timeout is inside it. */
        sluice_cookie_t ck = {.name = c->session_cookie,
                              .value = value,
                              .max_age_s = org->identity.cookie_max_age_days * SLUICE_COOKIE_DAY_S,
                              .domain = domain,
                              .http_only = 1};
        int n = sluice_cookie_format(&ck, set, sizeof(set));
        if (n > 0)
            sluice_reply_add_cookie(r->req, reply, set, (size_t)n);
        r->session_state = 1;
    }
write:;
    json_t *ctx = json_object_get(ev, "context");
    if (json_is_object(ctx) && !json_is_object(json_object_get(ctx, "session")))
        json_object_del(ctx, "session"); /* the gateway's, whatever the client put there */
    /* The session the event happened in, by its own time (timestamp, corrected by sentAt), not
     * by when it arrived: an SDK's offline queue flushed after the timeout carries events of the
     * session the cookie held, and stamping them with the session their arrival began put them
     * hours before its start (GA4 wants an event's time inside its session). An event within the
     * timeout of the cookie's earlier session is stamped with it, even when it is also less than
     * the timeout before the new one's start: it happened before the new session began, minutes
     * after the earlier one's last event (a queue of 10:00 to 10:20 flushed at 10:45 was split in
     * two sessions at 10:15). Else an event less than the timeout before the session's start is
     * of that session (a batch's first events precede the request); one older happened in a
     * session no longer known, and gets none rather than a wrong one. */
    const sluice_session_t *in = &r->session;
    const char *ts = json_string_value(json_object_get(ev, "timestamp"));
    int64_t t_ms, tmo = (int64_t)c->session_timeout_s;
    if (ts != NULL && sluice_time_parse(ts, strlen(ts), 0, &t_ms) == 0 && t_ms / 1000 < in->start_s) {
        int64_t t = t_ms / 1000;
        if (r->have_prev && t >= r->prev.start_s - tmo && t <= r->prev.last_s + tmo) {
            in = &r->prev;
        } else if (t < in->start_s - tmo) {
            if (json_is_object(ctx))
                json_object_del(ctx, "session"); /* nor the client's */
            return;
        }
    }
    json_t *s = context_obj(ev, "session");
    if (s == NULL)
        return;
    char start[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(in->start_s * 1000, start);
    json_object_set_new(s, "id", json_string(in->id));
    json_object_set_new(s, "number", json_integer(in->number));
    json_object_set_new(s, "start", json_string(start));
}

static void campaign(sluice_enrichment_req_t *r, json_t *ev)
{
    const sluice_enrich_config_t *c = &r->org->enrich;
    json_t *page = json_object_get(json_object_get(ev, "context"), "page");
    const char *url = json_string_value(json_object_get(page, "url"));
    /* Without context.page (or with empty strings there: no page), a page event's properties are
     * its page (Segment's page spec), as identity reads its click ids and the vendors its URL. A
     * track event's properties.url is whatever the event is about (a shared link, a product
     * page): its utm_* are someone else's campaign, not this visit's. */
    json_t *type = json_object_get(ev, "type");
    int page_event = json_is_string(type) && strcmp(json_string_value(type), "page") == 0;
    if ((url == NULL || url[0] == '\0') && page_event)
        url = str2(ev, "properties", "url");
    if (c->campaign) {
        sluice_campaign_t cp;
        if (sluice_campaign_parse(url, &cp) > 0) {
            json_t *o = context_obj(ev, "campaign");
            fill(o, "name", cp.name);
            fill(o, "source", cp.source);
            fill(o, "medium", cp.medium);
            fill(o, "term", cp.term);
            fill(o, "content", cp.content);
            fill(o, "id", cp.id);
        }
    }
    if (c->referrer) {
        const char *ref = json_string_value(json_object_get(page, "referrer"));
        if ((ref == NULL || ref[0] == '\0') && page_event)
            ref = str2(ev, "properties", "referrer");
        if (ref != NULL && ref[0] != '\0') {
            const char *source;
            sluice_referrer_medium_t m = sluice_referrer_classify(c, ref, url, &source);
            json_t *o = context_obj(ev, "referrer");
            fill(o, "medium", sluice_referrer_medium_name(m));
            fill(o, "source", source);
        }
    }
}

int sluice_enrichment_event(sluice_enrichment_req_t *r, json_t *ev, sluice_reply_t *reply)
{
    const sluice_enrich_config_t *c = &r->org->enrich;
    if (!c->enabled || r->e == NULL)
        return 0;
    if ((c->user_agent || c->bots != SLUICE_BOTS_OFF) && user_agent(r, ev))
        return 1;
    if (c->geo != SLUICE_GEO_OFF && r->e->geo != NULL)
        geo(r, ev);
    if (c->session && r->browser)
        session(r, ev, reply);
    if (c->campaign || c->referrer)
        campaign(r, ev);
    return 0;
}

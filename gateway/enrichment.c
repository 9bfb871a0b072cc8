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
#include "common/utf8.h"
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
    /* Only what says whether the rest holds anything: the hints, the previous session, a long user
     * agent's answer and the location are read only after hints_read, have_prev, long_ua and
     * geo_ip say they were written for this request. Clearing all 832 bytes cost 112 instructions
     * a request. session is cleared: a new session starts from its bytes (r->prev = r->session). */
    r->hints_read = 0;
    r->session_state = 0;
    memset(&r->session, 0, sizeof(r->session));
    r->have_prev = 0;
    r->long_ua = NULL;
    r->long_ua_len = 0;
    r->geo_ip[0] = '\0';
    r->geo_rc = 0;
    r->req = req;
    r->w = w;
    r->e = rt->enrich;
    r->org = src->org;
    r->en = en;
    r->browser = !en->trust_client_ip;
}

/* ------------------------------------------------------------------ helpers */

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

/* ------------------------------------------------------------------ the event, on both trees */

/* gateway/enrichment_rules.h holds the step once; it is compiled for jansson's trees here and
 * for jv's below (issue 17), the same way gateway/event.c compiles event_rules.h. */
#define E_CAT2(a, b) a##_##b
#define E_CAT(a, b)  E_CAT2(a, b)
#define E(name)      E_CAT(name, json)
#define E_PUBLIC     sluice_enrichment_event
#define E_VALUE      json_t
#define E_PARAM
#define E_ARG
#define E_GET             json_object_get
#define E_DEL             json_object_del
#define E_IS_OBJECT       json_is_object
#define E_IS_STRING       json_is_string
#define E_CSTR            json_string_value
#define E_STRING_IS(v, s) (json_is_string(v) && strcmp(json_string_value(v), (s)) == 0)
#define E_OBJECT_NEW()    json_object()
#define E_STRING_NEW      json_string
#define E_INTEGER_NEW     json_integer
#define E_SET_NEW         json_object_set_new
#define E_ARRAY_SIZE      json_array_size
#define E_ARRAY_GET       json_array_get
#define E_NORMALIZE       sluice_consent_normalize
#define E_FROM_APP        sluice_event_from_app
#define E_APP_AGENT       sluice_event_app_agent
#include "gateway/enrichment_rules.h"

/* A jv string as the C string jansson's json_string_value hands enrich/'s parsers (they read it
 * up to its first NUL); NULL for a non-string, as jansson's, and when the arena is out of memory. */
static const char *cstr_jv(sluice_json_arena_t *a, const sluice_jv_t *v)
{
    return sluice_jv_string_cstr(a, v, NULL);
}

/* json_string's refusal of text that is not UTF-8 (a user-agent regex's capture may end inside
 * a character): no member rather than one jansson would not have written. */
static sluice_jv_t *string_jv(sluice_json_arena_t *a, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return s != NULL && sluice_utf8_valid(s, n) ? sluice_jv_string(a, s, n) : NULL;
}

#define E(name)              E_CAT(name, jv)
#define E_PUBLIC             sluice_enrichment_event_jv
#define E_VALUE              sluice_jv_t
#define E_PARAM              , sluice_json_arena_t *a
#define E_ARG                , a
#define E_GET                sluice_jv_object_get
#define E_DEL                sluice_jv_object_del
#define E_IS_OBJECT          sluice_jv_is_object
#define E_IS_STRING          sluice_jv_is_string
#define E_CSTR(v)            cstr_jv(a, (v))
#define E_STRING_IS          sluice_jv_string_is
#define E_OBJECT_NEW()       sluice_jv_object(a)
#define E_STRING_NEW(s)      string_jv(a, (s))
#define E_INTEGER_NEW(i)     sluice_jv_integer(a, (i))
#define E_SET_NEW(o, key, v) sluice_jv_object_set(a, (o), (key), (v))
#define E_ARRAY_SIZE         sluice_jv_array_size
#define E_ARRAY_GET          sluice_jv_array_get
#define E_NORMALIZE(ev, c)   sluice_consent_normalize_jv((ev), (c), a)
#define E_FROM_APP           sluice_event_from_app_jv
#define E_APP_AGENT          sluice_event_app_agent_jv
#include "gateway/enrichment_rules.h"
#undef E_CAT
#undef E_CAT2

/*
 * The gateway's side of enrichment (enrich/, docs/enrichment.md): what a runtime loads for it
 * (uap-core's regexes, the MaxMind database, one user-agent cache per loop thread) and the one
 * step of the pipeline that writes context.device, context.os, context.browser, context.bot,
 * context.location, context.session, context.campaign and context.referrer into an event. It runs
 * after validation filled context.ip and context.userAgent and before identity and the data layer,
 * so geolocation sees the full client address and the data layer (ip_truncate, hash, drop) then
 * treats the enriched fields like any other.
 *
 * Threads: create and destroy on the main thread (with the runtime); begin and event on the
 * request's loop thread, which alone uses its cache.
 */
#ifndef SLUICE_GATEWAY_ENRICHMENT_H
#define SLUICE_GATEWAY_ENRICHMENT_H

#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "enrich/geo.h"
#include "enrich/session.h"
#include "enrich/ua.h"
#include "gateway/event.h"
#include "gateway/http.h"
#include "json/jv.h"

typedef struct sluice_enrichment sluice_enrichment_t;
typedef struct sluice_runtime sluice_runtime_t;
typedef struct sluice_source_rt sluice_source_rt_t;
typedef struct sluice_worker sluice_worker_t;

/* Loads what the orgs of cfg use: the regexes when one parses user agents or detects bots, the
 * database when one asks for geolocation. A missing or unreadable file turns that part off with
 * one warning in the log; the gateway runs on. prev (the runtime being replaced, or NULL): its
 * database is shared when the file has not changed since it was read, and kept when the file is
 * there but is no database (being rewritten in place). Returns NULL only when out of memory
 * (message in err); with nothing configured, an object that does nothing. */
sluice_enrichment_t *sluice_enrichment_create(const sluice_config_t *cfg, unsigned nthreads,
                                              const sluice_enrichment_t *prev, sluice_err_t *err);
void sluice_enrichment_destroy(sluice_enrichment_t *e);

/* Starts the gateway's watcher of the geolocation database: a thread that looks at the file of
 * the newest runtime's config (enrichment.geo_database, every enrichment.geo_check_s) and sends
 * the process SIGHUP when it changed (mtime, size or inode), so the usual reload reopens it.
 * Only the gateway calls it (main thread, after blocking SIGHUP: the thread inherits the mask).
 * Returns 0, or -1 with a message in err. */
int sluice_enrichment_watch_start(sluice_err_t *err);

/* 1 when an org of cfg keeps sessions (their cookie needs ENCRYPTION_KEY: secrets.c). */
int sluice_enrichment_needs_keys(const sluice_config_t *cfg);

/* What one request shares among its events (caller storage, which may hold anything before
 * sluice_enrichment_begin; no dispose needed). hints, prev, long_ua_res and geo are read only
 * where hints_read, have_prev, long_ua and geo_ip say they were written for this request: begin
 * clears those, not the values. */
typedef struct sluice_enrichment_req {
    h2o_req_t *req;
    sluice_worker_t *w;
    const sluice_enrichment_t *e;
    const sluice_org_t *org;
    const sluice_event_enrich_t *en;
    int browser;    /* a browser's request: client hints and the session cookie are its own */
    int hints_read; /* `hints` holds the request's client hints */
    sluice_ua_hints_t hints;
    int session_state; /* 0: not yet looked at, 1: this request's session is in `session`, -1: none */
    sluice_session_t session;
    /* The session the browser's cookie held when this request began another: an offline queue's
     * events, flushed after the timeout, happened in it (have_prev 1), not in the new one. */
    int have_prev;
    sluice_session_t prev;
    const char *long_ua; /* the last user agent too long for the thread's cache (pool), and its answer */
    size_t long_ua_len;
    sluice_ua_result_t long_ua_res;
    char geo_ip[48]; /* the address `geo` was looked up for */
    int geo_rc;
    sluice_geo_result_t geo;
} sluice_enrichment_req_t;

/* Starts a request of source src on thread w under runtime rt; en is what validation fills the
 * events with (its client address and user agent). */
void sluice_enrichment_begin(sluice_enrichment_req_t *r, h2o_req_t *req, sluice_worker_t *w, const sluice_runtime_t *rt,
                             const sluice_source_rt_t *src, const sluice_event_enrich_t *en);

/* Enriches ev as its org configures, adding the session cookie to reply once. Returns 0 to go
 * on, 1 when ev is a bot its org drops (counted in sluice_bots_total{action="drop"}; the caller
 * answers it as accepted and never queues it). */
int sluice_enrichment_event(sluice_enrichment_req_t *r, json_t *ev, sluice_reply_t *reply);

/* sluice_enrichment_event for an event held as arena values (json/jv.h, issue 17): the same rules
 * (gateway/enrichment_rules.h holds them once for both), answers, cookies and members; new values
 * and the C strings handed to enrich/ come from arena a, the event's. The request path's. A
 * request's r serves one tree: it remembers the last address looked up and the session. */
int sluice_enrichment_event_jv(sluice_enrichment_req_t *r, sluice_jv_t *ev, sluice_reply_t *reply,
                               sluice_json_arena_t *a);

#endif

/*
 * Routing for the gateway. One h2o handler at "/" dispatches by method and path:
 *   <prefix>/t|track, /p|page, /s|screen, /i|identify, /g|group, /a|alias,
 *   <prefix>/b|batch, /beacon<prefix>/batch (RudderStack's beacon)             browser events
 *   <prefix>/pixel/<type>                                                       GET, answers a GIF
 *   <prefix>/xd (GET), <prefix>/xd/redeem (POST)                                cross-domain identity tokens
 *   <prefix>/projects/<writeKey>/settings (GET)                                 Segment's SDKs' settings
 *   <prefix>/events                                                             signed server-to-server
 *   OPTIONS on any of them                                                      CORS preflight
 *   /healthz, /readyz (/metrics on the metrics listener only)                  operations
 *   <server.tag_path> (default /sluice.js), and /sluice.<hash>.js per build      the JavaScript tag (tag.c)
 * The metrics listener (when configured) serves only the operations routes and the live page
 * (liveview.c); the public listeners never serve /metrics. Event-loop threads.
 */
#include "gateway/handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "gateway/forgotten.h"
#include "gateway/http.h"
#include "gateway/ingest.h"
#include "gateway/liveview.h"
#include "identity/identity.h"
#include "plugins/set.h"
#include "gateway/tag.h"

typedef struct sluice_handler {
    h2o_handler_t super;
    sluice_gateway_t *gw;
} sluice_handler_t;

typedef struct route_entry {
    const char *path;
    sluice_route_t route;
    int type; /* forced event type, or -1 */
} route_entry_t;

static const route_entry_t routes[] = {
    {"/t", SLUICE_ROUTE_TRACK, SLUICE_EVENT_TRACK},
    {"/track", SLUICE_ROUTE_TRACK, SLUICE_EVENT_TRACK},
    {"/p", SLUICE_ROUTE_PAGE, SLUICE_EVENT_PAGE},
    {"/page", SLUICE_ROUTE_PAGE, SLUICE_EVENT_PAGE},
    {"/screen", SLUICE_ROUTE_SCREEN, SLUICE_EVENT_SCREEN},
    {"/i", SLUICE_ROUTE_IDENTIFY, SLUICE_EVENT_IDENTIFY},
    {"/identify", SLUICE_ROUTE_IDENTIFY, SLUICE_EVENT_IDENTIFY},
    {"/g", SLUICE_ROUTE_GROUP, SLUICE_EVENT_GROUP},
    {"/group", SLUICE_ROUTE_GROUP, SLUICE_EVENT_GROUP},
    {"/alias", SLUICE_ROUTE_ALIAS, SLUICE_EVENT_ALIAS},
    {"/batch", SLUICE_ROUTE_BATCH, -1},
    {"/events", SLUICE_ROUTE_EVENTS, -1},
    /* analytics.js (Segment's browser library) uses one-letter paths for every call type. */
    {"/s", SLUICE_ROUTE_SCREEN, SLUICE_EVENT_SCREEN},
    {"/a", SLUICE_ROUTE_ALIAS, SLUICE_EVENT_ALIAS},
    {"/b", SLUICE_ROUTE_BATCH, -1},
    /* Segment's Java and Ruby libraries and its classic Android and iOS SDKs post batches here. */
    {"/import", SLUICE_ROUTE_BATCH, -1},
};

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static void not_found(h2o_req_t *req, sluice_worker_t *w)
{
    sluice_reply_t r = {.route = SLUICE_ROUTE_OTHER};
    sluice_reply_error(req, w, &r, 404, "not_found", "no such endpoint", NULL);
}

static void method_not_allowed(h2o_req_t *req, sluice_worker_t *w, sluice_route_t route, const char *allow)
{
    sluice_reply_t r = {.route = route};
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    sluice_reply_error(req, w, &r, 405, "method_not_allowed", "method not allowed on this endpoint", NULL);
}

/* ------------------------------------------------------------------ operations */

static void send_text(h2o_req_t *req, sluice_worker_t *w, sluice_route_t route, int status, const char *ctype,
                      const char *body, size_t len)
{
    sluice_reply_t r = {.route = route};
    sluice_reply_send(req, w, &r, status, ctype, body, len, NULL);
}

static int any_producer_ready(const sluice_gateway_t *gw)
{
    /* Not workers[i].producer: that is the worker's own, gone when it stops (server.h). */
    for (unsigned i = 0; i < gw->nthreads; i++) {
        const sluice_producer_t *p = atomic_load_explicit(&gw->workers[i].shown_producer, memory_order_acquire);
        if (p != NULL && sluice_producer_ready(p))
            return 1;
    }
    return 0;
}

/* 1 when every thread's Redis connection answers, 0 when one does not (its requests' dedup,
 * tokens and links fail), -1 when no Redis is configured. From the flags the identity threads
 * publish, never their clients (server.h: a stopping thread frees its own). */
static int redis_up(const sluice_gateway_t *gw)
{
    int up = -1;
    for (unsigned i = 0; i < gw->nthreads; i++) {
        int u = sluice_identity_redis_up(atomic_load_explicit(&gw->workers[i].shown_identity, memory_order_acquire));
        if (u == 0)
            return 0;
        if (u == 1)
            up = 1;
    }
    return up;
}

/* 1 when one thread's Redis evicts keys at maxmemory (its tokens and signed requests fail closed). */
static int redis_evicting(const sluice_gateway_t *gw)
{
    for (unsigned i = 0; i < gw->nthreads; i++)
        if (sluice_identity_redis_evicting(atomic_load_explicit(&gw->workers[i].shown_identity, memory_order_acquire)))
            return 1;
    return 0;
}

static void handle_ready(h2o_req_t *req, sluice_worker_t *w)
{
    int config = atomic_load(&w->gw->ready) && !w->stopping;
    int kafka = any_producer_ready(w->gw);
    /* Named, but not part of "ready": every gateway shares one Redis, so failing readiness for it
     * would take the whole fleet out of the load balancer (events are still accepted without it). */
    int redis = redis_up(w->gw);
    /* Except for a gateway that has not read the suppression list even once (started while Redis
     * was down, or still reading it): it would pass every forgotten person's events, while the
     * gateways that loaded it keep their last list through an outage. */
    int suppression = sluice_forgotten_loaded(w->gw->forgotten);
    int ready = config && kafka && suppression;
    /* Said, not unready either: an operator's setting of the shared Redis (maxmemory-policy). */
    int evicting = redis_evicting(w->gw);
    char body[192];
    int n = snprintf(body, sizeof(body), "{\"ready\":%s,\"config\":%s,\"kafka\":%s%s%s%s}", ready ? "true" : "false",
                     config ? "true" : "false", kafka ? "true" : "false",
                     redis < 0 ? ""
                     : redis   ? ",\"redis\":true"
                               : ",\"redis\":false",
                     evicting ? ",\"redis_evicting\":true" : "", suppression ? "" : ",\"suppression\":false");
    send_text(req, w, SLUICE_ROUTE_READY, ready ? 200 : 503, "application/json", body, (size_t)n);
}

static size_t metrics_extra(void *ud, char *buf, size_t cap)
{
    sluice_worker_t *w = ud;
    sluice_gateway_t *gw = w->gw;
    long long queued = 0;
    unsigned long long redis_errors = 0, skipped[SLUICE_IDENTITY_SKIP_REASONS] = {0};
    int redis = redis_up(gw);
    for (unsigned i = 0; i < gw->nthreads; i++) {
        const sluice_producer_t *p = atomic_load_explicit(&gw->workers[i].shown_producer, memory_order_acquire);
        if (p != NULL)
            queued += sluice_producer_queue_len(p);
        const sluice_identity_thread_t *it = atomic_load_explicit(&gw->workers[i].shown_identity, memory_order_acquire);
        redis_errors += sluice_identity_redis_errors(it);
        for (int k = 0; k < SLUICE_IDENTITY_SKIP_REASONS; k++)
            skipped[k] += sluice_identity_lookups_skipped(it, (sluice_identity_skip_t)k);
    }
    int n =
        snprintf(buf, cap,
                 "# HELP sluice_kafka_queue_messages Messages queued in the producers or in flight to Kafka.\n"
                 "# TYPE sluice_kafka_queue_messages gauge\nsluice_kafka_queue_messages %lld\n"
                 "# HELP sluice_kafka_up 1 when a Kafka broker is reachable.\n"
                 "# TYPE sluice_kafka_up gauge\nsluice_kafka_up %d\n"
                 "# HELP sluice_config_reloads_total Config reloads, by result.\n"
                 "# TYPE sluice_config_reloads_total counter\n"
                 "sluice_config_reloads_total{result=\"ok\"} %llu\n"
                 "sluice_config_reloads_total{result=\"failed\"} %llu\n"
                 "# HELP sluice_config_generation Generation of the config being served.\n"
                 "# TYPE sluice_config_generation gauge\nsluice_config_generation %llu\n"
                 "# HELP sluice_config_last_reload_successful 0 from a refused reload until the next good one "
                 "(the config served is older than the file).\n"
                 "# TYPE sluice_config_last_reload_successful gauge\nsluice_config_last_reload_successful %d\n"
                 "# HELP sluice_config_last_reload_success_timestamp_seconds When the config being served was "
                 "loaded.\n"
                 "# TYPE sluice_config_last_reload_success_timestamp_seconds gauge\n"
                 "sluice_config_last_reload_success_timestamp_seconds %lld\n"
                 "# HELP sluice_worker_threads Event-loop threads.\n"
                 "# TYPE sluice_worker_threads gauge\nsluice_worker_threads %u\n"
                 "# HELP sluice_start_time_seconds When the gateway started.\n"
                 "# TYPE sluice_start_time_seconds gauge\nsluice_start_time_seconds %lld\n"
                 "# HELP sluice_redis_errors_total Redis commands that failed or timed out.\n"
                 "# TYPE sluice_redis_errors_total counter\nsluice_redis_errors_total %llu\n"
                 "%s",
                 queued, any_producer_ready(gw), (unsigned long long)atomic_load(&gw->reloads_ok),
                 (unsigned long long)atomic_load(&gw->reloads_failed), (unsigned long long)atomic_load(&gw->generation),
                 atomic_load(&gw->last_reload_ok), (long long)(atomic_load(&gw->config_loaded_ms) / 1000), gw->nthreads,
                 (long long)(gw->started_ms / 1000), redis_errors,
                 redis < 0   ? "" /* no Redis configured: no gauge to alert on */
                 : redis > 0 ? "# HELP sluice_redis_up 1 while Redis answers every thread of this gateway.\n"
                               "# TYPE sluice_redis_up gauge\nsluice_redis_up 1\n"
                             : "# HELP sluice_redis_up 1 while Redis answers every thread of this gateway.\n"
                               "# TYPE sluice_redis_up gauge\nsluice_redis_up 0\n");
    if (n < 0)
        return 0;
    if ((size_t)n >= cap)
        return (size_t)n;
    if (redis >= 0) {
        int m = snprintf(buf + n, cap - (size_t)n,
                         "# HELP sluice_redis_evicting 1 while Redis evicts keys at maxmemory (tokens and signed "
                         "requests are refused).\n# TYPE sluice_redis_evicting gauge\nsluice_redis_evicting %d\n"
                         "# HELP sluice_identity_lookups_skipped_total Ids not looked up in Redis because it was "
                         "unavailable: their events went without context.identity.\n"
                         "# TYPE sluice_identity_lookups_skipped_total counter\n"
                         "sluice_identity_lookups_skipped_total{reason=\"redis_unavailable\"} %llu\n"
                         "sluice_identity_lookups_skipped_total{reason=\"redis_timeout\"} %llu\n",
                         redis_evicting(gw), skipped[SLUICE_IDENTITY_SKIP_UNAVAILABLE],
                         skipped[SLUICE_IDENTITY_SKIP_TIMEOUT]);
        if (m < 0)
            return (size_t)n;
        n += m;
        if ((size_t)n >= cap)
            return (size_t)n;
    }
    /* Only when this gateway serves HTTPS: alert on it minus time() (a renewal that stopped
     * working shows weeks before browsers refuse the certificate). */
    long long not_after = (long long)atomic_load(&gw->tls_not_after);
    if (not_after > 0) {
        int m = snprintf(buf + n, cap - (size_t)n,
                         "# HELP sluice_tls_certificate_expiry_timestamp_seconds When the certificate the HTTPS "
                         "listener serves expires (its notAfter).\n"
                         "# TYPE sluice_tls_certificate_expiry_timestamp_seconds gauge\n"
                         "sluice_tls_certificate_expiry_timestamp_seconds %lld\n",
                         not_after);
        if (m < 0)
            return (size_t)n;
        n += m;
        if ((size_t)n >= cap)
            return (size_t)n;
    }
    /* The PII guard's findings, merged over every thread (server.threads goes up to 1024). */
    sluice_piiguard_thread_t **pii = malloc(gw->nthreads * sizeof(*pii));
    if (pii == NULL)
        return (size_t)n; /* out of memory: this scrape goes without the findings */
    for (size_t i = 0; i < gw->nthreads; i++)
        pii[i] = gw->workers[i].pii;
    size_t m = sluice_piiguard_metrics(pii, gw->nthreads, buf + n, cap - (size_t)n);
    free(pii);
    if (m >= cap - (size_t)n)
        return cap; /* ask for more room */
    n += (int)m;
    /* Per-plugin calls and errors, from the runtime this thread serves. */
    size_t used = (size_t)n + sluice_plugin_set_metrics(w->rt->plugins, buf + n, cap - (size_t)n);
    if (used >= cap)
        return used;
    used += sluice_forgotten_metrics(gw->forgotten, buf + used, cap - used);
    if (used >= cap)
        return used;
    /* Log lines dropped (stderr not read) and suppressed (per-event limit): common/log.h. */
    return used + sluice_log_metrics(buf + used, cap - used);
}

static void handle_metrics(h2o_req_t *req, sluice_worker_t *w)
{
    sluice_gateway_t *gw = w->gw;
    /* Every thread's block: a fixed array of 256 left the counters of the threads past it out of
     * every scrape (server.threads goes up to 1024; with 300, 100 events accepted showed as 90). */
    size_t n = gw->nthreads;
    sluice_gw_metrics_t **blocks = malloc(n * sizeof(*blocks));
    if (blocks == NULL) {
        sluice_reply_t r = {.route = SLUICE_ROUTE_METRICS};
        sluice_reply_error(req, w, &r, 500, "internal", "out of memory", NULL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        blocks[i] = &gw->workers[i].metrics;
    /* Count this scrape before rendering so it shows up in its own output. */
    sluice_metrics_count_request(&w->metrics, SLUICE_ROUTE_METRICS, 200);
    size_t len;
    char *text = sluice_metrics_render(blocks, n, metrics_extra, w, &len);
    free(blocks);
    sluice_reply_t r = {.route = SLUICE_ROUTE_METRICS};
    sluice_reply_send(req, NULL, &r, 200, "text/plain; version=0.0.4", text, len, NULL);
    free(text);
}

static int handle_ops(h2o_req_t *req, sluice_worker_t *w, h2o_iovec_t path)
{
    sluice_route_t route;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz")))
        route = SLUICE_ROUTE_HEALTH;
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz")))
        route = SLUICE_ROUTE_READY;
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")))
        route = SLUICE_ROUTE_METRICS;
    else
        return -1;
    if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
        method_not_allowed(req, w, route, "GET, HEAD");
        return 0;
    }
    if (route == SLUICE_ROUTE_HEALTH)
        send_text(req, w, route, 200, "application/json", H2O_STRLIT("{\"status\":\"ok\"}"));
    else if (route == SLUICE_ROUTE_READY)
        handle_ready(req, w);
    else
        handle_metrics(req, w);
    return 0;
}

/* ------------------------------------------------------------------ dispatch */

static int dispatch(sluice_gateway_t *gw, sluice_worker_t *w, h2o_req_t *req)
{
    (void)gw; /* w->gw */
    h2o_iovec_t path = req->path_normalized;

    /* /metrics only ever on the metrics listener (none when it is off): never to the public. */
    if (!h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))) {
        if (handle_ops(req, w, path) == 0)
            return 0;
    }

    const sluice_config_t *cfg = w->rt->cfg;
    if (cfg->server.tag_path != NULL && sluice_tag_serve(req, w, cfg->server.tag_path) == 0)
        return 0;
    const char *prefix = cfg->server.path_prefix ? cfg->server.path_prefix : "";
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    /* RudderStack's browser SDK in beacon mode posts to /beacon<prefix>/batch?writeKey=... */
    if (path.len == 7 + plen + 6 && memcmp(path.base, "/beacon", 7) == 0 && memcmp(path.base + 7, prefix, plen) == 0 &&
        memcmp(path.base + 7 + plen, "/batch", 6) == 0) {
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, SLUICE_ROUTE_BATCH);
        if (!is_method(req, "POST")) {
            method_not_allowed(req, w, SLUICE_ROUTE_BATCH, "POST, OPTIONS");
            return 0;
        }
        return sluice_ingest_post(req, w, SLUICE_ROUTE_BATCH, -1);
    }
    if (path.len <= plen || memcmp(path.base, prefix, plen) != 0 || path.base[plen] != '/') {
        not_found(req, w);
        return 0;
    }
    h2o_iovec_t rest = h2o_iovec_init(path.base + plen, path.len - plen);

    if (rest.len > 7 && memcmp(rest.base, "/pixel/", 7) == 0) {
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, SLUICE_ROUTE_PIXEL);
        /* POST: amp-analytics' beacon and XHR transports (ingest.c) */
        if (!is_method(req, "GET") && !is_method(req, "HEAD") && !is_method(req, "POST")) {
            method_not_allowed(req, w, SLUICE_ROUTE_PIXEL, "GET, HEAD, POST, OPTIONS");
            return 0;
        }
        return sluice_ingest_pixel(req, w, h2o_iovec_init(rest.base + 7, rest.len - 7));
    }
    if (h2o_memis(rest.base, rest.len, H2O_STRLIT("/xd"))) {
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, SLUICE_ROUTE_XD);
        if (!is_method(req, "GET")) {
            method_not_allowed(req, w, SLUICE_ROUTE_XD, "GET, OPTIONS");
            return 0;
        }
        return sluice_ingest_xd_issue(req, w);
    }
    if (h2o_memis(rest.base, rest.len, H2O_STRLIT("/xd/redeem"))) {
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, SLUICE_ROUTE_XD_REDEEM);
        if (!is_method(req, "POST")) {
            method_not_allowed(req, w, SLUICE_ROUTE_XD_REDEEM, "POST, OPTIONS");
            return 0;
        }
        return sluice_ingest_xd_redeem(req, w);
    }
    if (h2o_memis(rest.base, rest.len, H2O_STRLIT("/m"))) {
        /* analytics.js reports its own delivery metrics to <apiHost>/m every 30 s; pointed at
         * sluice they would be 404s in every visitor's console. Nothing of the visitor is in
         * them, and sluice has no use for them: taken and dropped, unread. */
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, SLUICE_ROUTE_OTHER);
        if (!is_method(req, "POST")) {
            method_not_allowed(req, w, SLUICE_ROUTE_OTHER, "POST, OPTIONS");
            return 0;
        }
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
        send_text(req, w, SLUICE_ROUTE_OTHER, 204, "text/plain", "", 0);
        return 0;
    }
    /* Segment's SDKs' settings, fetched from their cdnHost: /projects/<writeKey>/settings. */
    if (rest.len > 10 + 9 && memcmp(rest.base, "/projects/", 10) == 0 &&
        memcmp(rest.base + rest.len - 9, "/settings", 9) == 0) {
        h2o_iovec_t key = h2o_iovec_init(rest.base + 10, rest.len - 10 - 9);
        if (memchr(key.base, '/', key.len) == NULL) {
            if (is_method(req, "OPTIONS"))
                return sluice_ingest_preflight(req, w, SLUICE_ROUTE_OTHER);
            if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
                method_not_allowed(req, w, SLUICE_ROUTE_OTHER, "GET, HEAD, OPTIONS");
                return 0;
            }
            return sluice_ingest_settings(req, w, key);
        }
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!h2o_memis(rest.base, rest.len, routes[i].path, strlen(routes[i].path)))
            continue;
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, routes[i].route);
        if (!is_method(req, "POST")) {
            method_not_allowed(req, w, routes[i].route, "POST, OPTIONS");
            return 0;
        }
        return sluice_ingest_post(req, w, routes[i].route, routes[i].type);
    }
    not_found(req, w);
    return 0;
}

/* HTTP/2 requests start on the next loop turn, not inside h2o's frame parsing: a client that
 * sends HEADERS, DATA and RST_STREAM together (rapid reset, CVE-2023-44487) has its stream gone
 * before any work was done for it, and that counts against its connection's reset budget. Until
 * it starts, and then until its pipeline work ends, a request holds one of its connection's
 * max_requests_in_flight places. */
typedef struct deferred {
    sluice_gateway_t *gw;
    h2o_req_t *req;
    sluice_conn_t *conn;
    h2o_timeout_entry_t entry;
    int started;
} deferred_t;

static void on_deferred(h2o_timeout_entry_t *entry)
{
    deferred_t *d = H2O_STRUCT_FROM_MEMBER(deferred_t, entry, entry);
    d->started = 1;
    sluice_conn_t *c = d->conn;
    dispatch(d->gw, sluice_worker_self(), d->req); /* a pipeline that waits takes its own place */
    sluice_conn_end(c);
}

/* The request's memory is going: before it started, that is a stream abandoned for nothing. */
static void on_deferred_gone(void *p)
{
    deferred_t *d = p;
    if (d->started)
        return;
    if (h2o_timeout_is_linked(&d->entry))
        h2o_timeout_unlink(&d->entry);
    sluice_worker_t *w = sluice_worker_self();
    sluice_conn_reset(d->conn, &w->rt->cfg->server.http2_guard.resets);
    sluice_conn_end(d->conn);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    sluice_gateway_t *gw = ((sluice_handler_t *)self)->gw;
    sluice_worker_t *w = sluice_worker_self();
    sluice_http_origin_form(req);   /* `POST https://host/v1/batch HTTP/1.1` is /v1/batch */
    sluice_http_merge_slashes(req); /* and so is /v1//batch */
    if (sluice_http1_framing_conflict(req)) {
        req->http1_is_persistent = 0; /* what follows on this connection cannot be trusted either */
        sluice_reply_t r = {.route = SLUICE_ROUTE_OTHER};
        sluice_reply_error(req, w, &r, 400, "bad_request",
                           "conflicting Content-Length headers (or Content-Length with Transfer-Encoding)", NULL);
        return 0;
    }
    sluice_conn_t *c = req->version >= 0x200 ? sluice_conn_of(req) : NULL;
    if (c == NULL)
        return dispatch(gw, w, req);
    if (sluice_conn_begin(c, w->rt->cfg->server.http2_guard.max_requests_in_flight) != 0) {
        sluice_counter_add(&w->metrics.h2_refused_in_flight, 1);
        sluice_reply_t r = {.route = SLUICE_ROUTE_OTHER};
        sluice_reply_error(req, w, &r, 503, "too_many_in_flight",
                           "this connection has too many requests in flight; wait for their answers", NULL);
        return 0;
    }
    deferred_t *d = h2o_mem_alloc_shared(&req->pool, sizeof(*d), on_deferred_gone);
    *d = (deferred_t){.gw = gw, .req = req, .conn = c, .entry = {.cb = on_deferred}};
    h2o_timeout_link(w->ctx.loop, &w->guard.defer_timeout, &d->entry);
    return 0;
}

/* ------------------------------------------------------------------ h2o's own error answers */

/* h2o answers some requests itself before a handler sees them (413 for a declared body over the
 * limit, 400 for broken framing or headers, 417 for a bad Expect), as text/plain. These answers
 * run through the host's fallback path, whose filter here rewrites their body as the gateway's
 * JSON error, so clients parse every error the same way. (h2o's raw 400 for an unparsable request
 * line is written straight to the socket: nothing can rewrite it.) */
typedef struct json_error_stream {
    h2o_ostream_t super;
    h2o_iovec_t body;
    int sent;
} json_error_stream_t;

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state)
{
    (void)bufs;
    (void)bufcnt;
    json_error_stream_t *js = (json_error_stream_t *)self;
    if (js->sent || js->body.len == 0) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    js->sent = 1;
    h2o_ostream_send_next(self, req, &js->body, 1, state);
}

static void on_setup_error_stream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (req->res.status >= 400) {
        int st = req->res.status;
        const char *code = st == 400   ? "bad_request"
                           : st == 404 ? "not_found"
                           : st == 413 ? "payload_too_large"
                           : st == 417 ? "expectation_failed"
                                       : "http_error";
        const char *message = st == 413 ? "request body too large" : req->res.reason ? req->res.reason : "error";
        json_t *root = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
        char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (text != NULL) {
            h2o_iovec_t body = h2o_strdup(&req->pool, text, strlen(text));
            free(text);
            ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
            if (ct >= 0)
                h2o_delete_header(&req->res.headers, ct);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
            int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
            req->res.content_length = body.len;
            json_error_stream_t *js = (json_error_stream_t *)h2o_add_ostream(req, sizeof(*js), slot);
            js->super.do_send = json_error_send;
            js->body = head ? h2o_iovec_init(NULL, 0) : body;
            js->sent = 0;
            slot = &js->super.next;
        }
    }
    h2o_setup_next_ostream(req, slot);
}

void sluice_handler_register_error_filter(h2o_hostconf_t *host)
{
    h2o_filter_t *f = h2o_create_filter(&host->fallback_path, sizeof(*f));
    f->on_setup_ostream = on_setup_error_stream;
}

/* The metrics listener's handler: operations routes only. */
static int on_ops_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    sluice_worker_t *w = sluice_worker_self();
    sluice_http_origin_form(req);
    sluice_http_merge_slashes(req);
    if (sluice_liveview_serve(req, w) == 0) /* the live page: here only, never on the public listeners */
        return 0;
    if (handle_ops(req, w, req->path_normalized) != 0)
        not_found(req, w);
    return 0;
}

void sluice_handler_register_ops(h2o_pathconf_t *pathconf, sluice_gateway_t *gw)
{
    sluice_handler_t *h = (sluice_handler_t *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_ops_req;
    h->gw = gw;
}

void sluice_handler_register(h2o_pathconf_t *pathconf, sluice_gateway_t *gw)
{
    sluice_handler_t *h = (sluice_handler_t *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->gw = gw;
    sluice_tag_prepare();
}

/*
 * Routing for the gateway. One h2o handler at "/" dispatches by method and path:
 *   <prefix>/t|track, /p|page, /screen, /i|identify, /g|group, /alias, /batch   browser events
 *   <prefix>/pixel/<type>                                                       GET, answers a GIF
 *   <prefix>/xd (GET), <prefix>/xd/redeem (POST)                                cross-domain identity tokens
 *   <prefix>/events                                                             signed server-to-server
 *   OPTIONS on any of them                                                      CORS preflight
 *   /healthz, /readyz, /metrics                                                 operations
 *   <server.tag_path> (default /sluice.js)                                      the JavaScript tag (tag.c)
 * The metrics listener (when configured) serves only the operations routes, and then the
 * public listeners do not serve /metrics. Event-loop threads.
 */
#include "gateway/handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http.h"
#include "gateway/ingest.h"
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
    for (unsigned i = 0; i < gw->nthreads; i++)
        if (gw->workers[i].producer != NULL && sluice_producer_ready(gw->workers[i].producer))
            return 1;
    return 0;
}

static void handle_ready(h2o_req_t *req, sluice_worker_t *w)
{
    int config = atomic_load(&w->gw->ready) && !w->stopping;
    int kafka = any_producer_ready(w->gw);
    char body[96];
    int n = snprintf(body, sizeof(body), "{\"ready\":%s,\"config\":%s,\"kafka\":%s}",
                     config && kafka ? "true" : "false", config ? "true" : "false", kafka ? "true" : "false");
    send_text(req, w, SLUICE_ROUTE_READY, config && kafka ? 200 : 503, "application/json", body, (size_t)n);
}

static size_t metrics_extra(void *ud, char *buf, size_t cap)
{
    sluice_worker_t *w = ud;
    sluice_gateway_t *gw = w->gw;
    long long queued = 0;
    unsigned long long redis_errors = 0;
    for (unsigned i = 0; i < gw->nthreads; i++) {
        if (gw->workers[i].producer != NULL)
            queued += sluice_producer_queue_len(gw->workers[i].producer);
        redis_errors += sluice_identity_redis_errors(gw->workers[i].identity);
    }
    int n = snprintf(buf, cap,
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
                     "# HELP sluice_worker_threads Event-loop threads.\n"
                     "# TYPE sluice_worker_threads gauge\nsluice_worker_threads %u\n"
                     "# HELP sluice_start_time_seconds When the gateway started.\n"
                     "# TYPE sluice_start_time_seconds gauge\nsluice_start_time_seconds %lld\n"
                     "# HELP sluice_redis_errors_total Redis commands that failed or timed out.\n"
                     "# TYPE sluice_redis_errors_total counter\nsluice_redis_errors_total %llu\n",
                     queued, any_producer_ready(gw), (unsigned long long)atomic_load(&gw->reloads_ok),
                     (unsigned long long)atomic_load(&gw->reloads_failed),
                     (unsigned long long)(gw->current ? gw->current->generation : 0), gw->nthreads,
                     (long long)(gw->started_ms / 1000), redis_errors);
    if (n < 0)
        return 0;
    if ((size_t)n >= cap)
        return (size_t)n;
    /* Per-plugin calls and errors, from the runtime this thread serves. */
    return (size_t)n + sluice_plugin_set_metrics(w->rt->plugins, buf + n, cap - (size_t)n);
}

static void handle_metrics(h2o_req_t *req, sluice_worker_t *w)
{
    sluice_gateway_t *gw = w->gw;
    sluice_gw_metrics_t *blocks[256];
    size_t n = gw->nthreads < 256 ? gw->nthreads : 256;
    for (size_t i = 0; i < n; i++)
        blocks[i] = &gw->workers[i].metrics;
    /* Count this scrape before rendering so it shows up in its own output. */
    sluice_metrics_count_request(&w->metrics, SLUICE_ROUTE_METRICS, 200);
    size_t len;
    char *text = sluice_metrics_render(blocks, n, metrics_extra, w, &len);
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

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    sluice_gateway_t *gw = ((sluice_handler_t *)self)->gw;
    sluice_worker_t *w = sluice_worker_self();
    h2o_iovec_t path = req->path_normalized;

    /* With a metrics listener of its own, /metrics is not served to the public. */
    if (gw->metrics_port == 0 || !h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))) {
        if (handle_ops(req, w, path) == 0)
            return 0;
    }

    const sluice_config_t *cfg = w->rt->cfg;
    if (cfg->server.tag_path != NULL &&
        h2o_memis(path.base, path.len, cfg->server.tag_path, strlen(cfg->server.tag_path)))
        return sluice_tag_serve(req, w);
    const char *prefix = cfg->server.path_prefix ? cfg->server.path_prefix : "";
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    if (path.len <= plen || memcmp(path.base, prefix, plen) != 0 || path.base[plen] != '/') {
        not_found(req, w);
        return 0;
    }
    h2o_iovec_t rest = h2o_iovec_init(path.base + plen, path.len - plen);

    if (rest.len > 7 && memcmp(rest.base, "/pixel/", 7) == 0) {
        if (is_method(req, "OPTIONS"))
            return sluice_ingest_preflight(req, w, SLUICE_ROUTE_PIXEL);
        if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
            method_not_allowed(req, w, SLUICE_ROUTE_PIXEL, "GET, HEAD, OPTIONS");
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

/* The metrics listener's handler: operations routes only. */
static int on_ops_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    sluice_worker_t *w = sluice_worker_self();
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

/*
 * The live page's routes on the metrics listener (gateway/liveview.h): the page's three files,
 * compiled in (gateway/live/), and the JSON of the live store behind the bearer token. The page
 * and its files hold no data, so they are served without the token (a browser cannot send an
 * Authorization header when it opens a page); the data is served only with it. Every answer
 * forbids framing, inline script and caching. Event-loop threads.
 */
#include "gateway/liveview.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/forgotten.h"
#include "gateway/http.h"
#include "gateway/live.h"
#include "gateway/live/assets.h"
#include "json/numbers.h"
#include "json/parse.h"

static void security_headers(h2o_req_t *req)
{
    static const struct {
        const char *name, *value;
    } headers[] = {
        {"content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
        {"x-content-type-options", "nosniff"},
        {"referrer-policy", "no-referrer"},
        {"x-frame-options", "DENY"},
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i].name, strlen(headers[i].name), 0, NULL,
                              headers[i].value, strlen(headers[i].value));
}

static void send_ok(h2o_req_t *req, sluice_worker_t *w, const char *ctype, const void *body, size_t len)
{
    sluice_reply_t r = {.route = SLUICE_ROUTE_OTHER};
    security_headers(req);
    sluice_reply_send(req, w, &r, 200, ctype, (const char *)body, len, NULL);
}

static void send_error(h2o_req_t *req, sluice_worker_t *w, int status, const char *code, const char *message)
{
    sluice_reply_t r = {.route = SLUICE_ROUTE_OTHER};
    security_headers(req);
    sluice_reply_error(req, w, &r, status, code, message, NULL);
}

/* The bearer token of the Authorization header, compared with the store's. */
static int authorized(h2o_req_t *req, const sluice_live_t *live)
{
    h2o_iovec_t h = sluice_http_header(req, H2O_TOKEN_AUTHORIZATION);
    if (h.base == NULL || h.len < 7 || strncasecmp(h.base, "Bearer ", 7) != 0)
        return 0;
    size_t off = 7;
    while (off < h.len && h.base[off] == ' ')
        off++;
    return sluice_live_token_ok(live, h.base + off, h.len - off);
}

/* An envelope of a person sluicectl forget named since it was kept: the store keeps the last 32
 * of a source however old, and the page went on showing them (ids, traits, properties) after the
 * request, for as long as the source sent nothing newer. Read again only while a list is in force. */
static int forgotten_envelope(void *ud, const char *org, const char *envelope, size_t len)
{
    sluice_worker_t *w = ud;
    const sluice_runtime_t *rt = w->rt;
    for (size_t i = 0; rt != NULL && i < rt->org_count; i++) {
        if (strcmp(rt->orgs[i].org->id, org) != 0)
            continue;
        /* Read as the worker reads it: jansson refuses the numbers an envelope keeps as sent (an
         * integer beyond 64 bits, 1e400), and such an envelope was shown whatever it held. One
         * that cannot be read (out of memory) is left out: it may be the person's. */
        sluice_jsonnum_t *nums = sluice_jsonnum_new();
        sluice_json_error_t je;
        json_t *env = nums != NULL ? sluice_json_parse(envelope, len, 2048, SIZE_MAX, 0, nums, &je) : NULL;
        json_t *ev = json_object_get(env, "event");
        int hit =
            !json_is_object(ev) || sluice_forgotten_known(w->gw->forgotten, w->index, org, rt->orgs[i].forget_key, ev);
        json_decref(env);
        sluice_jsonnum_free(nums);
        return hit;
    }
    return 0;
}

static void events(h2o_req_t *req, sluice_worker_t *w, const sluice_live_t *live)
{
    if (!authorized(req, live)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"sluice live\""));
        send_error(req, w, 401, "unauthorized", "the live view needs Authorization: Bearer <SLUICE_LIVE_TOKEN>");
        return;
    }
    char *org = NULL, *source = NULL, *after_s = NULL;
    if (sluice_http_query(req, "org", &org) <= 0)
        org = NULL;
    if (sluice_http_query(req, "source", &source) <= 0)
        source = NULL;
    unsigned long long after = 0;
    if (sluice_http_query(req, "after", &after_s) > 0) {
        char *end;
        after = strtoull(after_s, &end, 10);
        if (*end != '\0' || after_s[0] == '-') {
            send_error(req, w, 400, "bad_request", "after: expected the number `next` of the previous answer");
            return;
        }
    }
    size_t len = 0;
    char *body = sluice_live_collect_except(
        live, org, source, after, sluice_forgotten_size(w->gw->forgotten) > 0 ? forgotten_envelope : NULL, w, &len);
    if (body == NULL) {
        send_error(req, w, 500, "internal", "out of memory");
        return;
    }
    send_ok(req, w, "application/json", body, len);
    free(body);
}

int sluice_liveview_serve(h2o_req_t *req, sluice_worker_t *w)
{
    h2o_iovec_t path = req->path_normalized;
    if (!(h2o_memis(path.base, path.len, H2O_STRLIT("/live")) ||
          (path.len >= 6 && memcmp(path.base, "/live/", 6) == 0)))
        return -1;
    const sluice_live_t *live = w->gw->live;
    if (live == NULL) {
        send_error(req, w, 404, "not_found", "no such endpoint");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        send_error(req, w, 405, "method_not_allowed", "method not allowed on this endpoint");
        return 0;
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/live")) || h2o_memis(path.base, path.len, H2O_STRLIT("/live/")))
        send_ok(req, w, "text/html; charset=utf-8", sluice_live_html, sluice_live_html_len);
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/live/live.js")))
        send_ok(req, w, "text/javascript; charset=utf-8", sluice_live_js, sluice_live_js_len);
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/live/live.css")))
        send_ok(req, w, "text/css; charset=utf-8", sluice_live_css, sluice_live_css_len);
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/live/events")))
        events(req, w, live);
    else
        send_error(req, w, 404, "not_found", "no such endpoint");
    return 0;
}

/*
 * HTTP answer helpers shared by the gateway's routes: JSON errors in the shape of DESIGN.md
 * ("Errors"), the 1x1 GIF of the pixel route, CORS headers, Set-Cookie headers, and reading
 * headers and query parameters. Loop thread of the request.
 */
#ifndef SLUICE_GATEWAY_HTTP_H
#define SLUICE_GATEWAY_HTTP_H

#include "gateway/server.h"

#define SLUICE_REPLY_MAX_COOKIES 6 /* _sid, _fbp, _fbc, _ga, the session cookie */

/* How to answer a request, gathered while handling it; everything points into req->pool. */
typedef struct sluice_reply {
    sluice_route_t route;
    int pixel;          /* answer a 1x1 GIF whatever the status, with X-Sluice-Error on errors */
    h2o_iovec_t origin; /* an allowed Origin to echo in Access-Control-Allow-Origin */
    h2o_iovec_t cookies[SLUICE_REPLY_MAX_COOKIES];
    size_t cookie_count;
} sluice_reply_t;

/* Sends status with body (copied) and the reply's CORS and cookie headers; counts the request
 * in the worker's metrics. retry_after: seconds for a Retry-After header, or NULL. */
void sluice_reply_send(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status, const char *ctype,
                       const char *body, size_t len, const char *retry_after);

/* Sends {"error":{"code":code,"message":message,"path":path}} (path omitted when NULL or ""),
 * or the GIF with `X-Sluice-Error: code` for pixel replies. Retry-After is added for 429 and 503. */
void sluice_reply_error(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status, const char *code,
                        const char *message, const char *path);

/* Sends the 1x1 GIF with status (a pixel's answer). */
void sluice_reply_gif(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status);

/* Adds a Set-Cookie value (copied into the pool) to the reply. */
void sluice_reply_add_cookie(h2o_req_t *req, sluice_reply_t *r, const char *cookie, size_t len);

/* The first value of a request header, or {NULL, 0}. */
h2o_iovec_t sluice_http_header(h2o_req_t *req, const h2o_token_t *token);
h2o_iovec_t sluice_http_header_str(h2o_req_t *req, const char *name);

/* Percent-decodes the query parameter `name` ('+' is a space), its first copy with a value (an
 * empty copy only when every copy is empty: sluice_url_better_copy), into a NUL-terminated string
 * allocated from req->pool. Returns its length, or -1 when absent or badly encoded. */
long sluice_http_query(h2o_req_t *req, const char *name, char **out);

/* Calls cb for every query parameter, decoded (pool memory). Stops when cb returns non-zero. */
int sluice_http_query_foreach(h2o_req_t *req, int (*cb)(void *ud, const char *name, const char *value), void *ud);

/* The value of cookie `name` from the Cookie headers, without the spaces and tabs around it: its
 * first copy with a value (an empty copy only when every copy is empty: sluice_url_better_copy),
 * or {NULL, 0} when there is none. */
h2o_iovec_t sluice_http_cookie(h2o_req_t *req, const char *name);

/* The nth (from 0) cookie named `name` in the Cookie headers (without the spaces and tabs around
 * its value), or {NULL, 0}: a browser sends two of one name when they differ in Domain or Path (a
 * host-only one and a domain one), the older first. */
h2o_iovec_t sluice_http_cookie_nth(h2o_req_t *req, const char *name, size_t nth);

/* 1 when an HTTP/1.x request's head frames its body ambiguously: two Content-Length headers with
 * different values, or Content-Length together with Transfer-Encoding. h2o 2.2.5 resolves both
 * silently (the first length, or chunked) and hides them from req->headers, while a proxy in
 * front may have read them the other way: the classic request-smuggling gap. Reads the head as
 * received from the connection's input buffer, where h2o keeps it until the answer is sent. 0 for
 * HTTP/2 and whenever the head cannot be found there. */
int sluice_http1_framing_conflict(h2o_req_t *req);

/* Rewrites a request whose target is in absolute form (`POST https://host/v1/batch HTTP/1.1`,
 * what HTTP clients send through a forward proxy and some proxies pass on) to origin form: the
 * path, its normalised copy and query offset are the URL's, and the authority is the URL's
 * (RFC 9112 3.2.2: it replaces Host). h2o 2.2.5 keeps the whole URL as the path, so every route
 * was a 404. Other targets are left alone. Returns 1 when it rewrote the request, else 0. */
int sluice_http_origin_form(h2o_req_t *req);

/* Merges runs of '/' in req->path_normalized into one (`/v1//b` is `/v1/b`): analytics-next
 * posts to `<apiHost>/b`, so an apiHost written with a trailing slash (`data.shop.example/v1/`)
 * sent every batch to /v1//b, a 404. Only routing reads the normalised path; req->path (what a
 * signature covers) is left as sent. */
void sluice_http_merge_slashes(h2o_req_t *req);

/* The peer's address as text (numeric), honouring X-Forwarded-For only when the peer is one of
 * the trusted proxies; then the right-most untrusted address wins. Pool memory. */
const char *sluice_http_client_ip(h2o_req_t *req, const sluice_server_config_t *sc);

#endif

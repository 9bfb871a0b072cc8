/*
 * HTTP helpers for the gateway's routes: answers, CORS, cookies, headers, query strings, the
 * client address. Loop thread of the request; memory comes from the request's pool.
 */
#include "gateway/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/pct.h"
#include "common/time.h"
#include "identity/url.h"
#include "plugins/ip_truncate/truncate.h"

/* A 1x1 transparent GIF. */
static const unsigned char gif[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
                                    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01,
                                    0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

void sluice_reply_send(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status, const char *ctype,
                       const char *body, size_t len, const char *retry_after)
{
    req->res.status = status;
    req->res.reason = reason(status);
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    if (r->origin.base != NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, r->origin.base,
                       r->origin.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-credentials"), 0, NULL,
                              H2O_STRLIT("true"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                              H2O_STRLIT("Retry-After"));
    }
    if (r->route != SLUICE_ROUTE_HEALTH && r->route != SLUICE_ROUTE_READY && r->route != SLUICE_ROUTE_METRICS)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    for (size_t i = 0; i < r->cookie_count; i++)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, r->cookies[i].base,
                       r->cookies[i].len);
    if (retry_after != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, retry_after, strlen(retry_after));
    if (r->route != SLUICE_ROUTE_TAG)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    req->res.content_length = len;
    if (w != NULL)
        sluice_metrics_count_request(&w->metrics, r->route, status);
    h2o_send_inline(req, body, len);
}

void sluice_reply_gif(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status)
{
    sluice_reply_send(req, w, r, status, "image/gif", (const char *)gif, sizeof(gif), NULL);
}

void sluice_reply_error(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status, const char *code,
                        const char *message, const char *path)
{
    const char *retry = status == 503 ? "2" : status == 429 ? "1" : NULL;
    if (r->pixel) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-sluice-error"), 0, NULL, code, strlen(code));
        sluice_reply_send(req, w, r, status, "image/gif", (const char *)gif, sizeof(gif), retry);
        return;
    }
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", message);
    if (path != NULL && path[0] != '\0')
        json_object_set_new(err, "path", json_string(path));
    json_t *root = json_pack("{s:o}", "error", err);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (body == NULL) {
        static const char fallback[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        sluice_reply_send(req, w, r, 500, "application/json", fallback, sizeof(fallback) - 1, NULL);
        return;
    }
    sluice_reply_send(req, w, r, status, "application/json", body, strlen(body), retry);
    free(body);
}

void sluice_reply_add_cookie(h2o_req_t *req, sluice_reply_t *r, const char *cookie, size_t len)
{
    if (r->cookie_count < SLUICE_REPLY_MAX_COOKIES)
        r->cookies[r->cookie_count++] = h2o_strdup(&req->pool, cookie, len);
}

h2o_iovec_t sluice_http_header(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

h2o_iovec_t sluice_http_header_str(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

/* Decodes s[0..n) into a NUL-terminated pool string (common/pct.h); NULL on a bad escape or an
 * encoded NUL. */
static char *pct_decode(h2o_mem_pool_t *pool, const char *s, size_t n, size_t *out_len)
{
    char *out = h2o_mem_alloc_pool(pool, n + 1);
    return sluice_pct_decode(s, n, out, n + 1, out_len) == 0 ? out : NULL;
}

int sluice_http_query_foreach(h2o_req_t *req, int (*cb)(void *ud, const char *name, const char *value), void *ud)
{
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t nl, vl;
        char *name = pct_decode(&req->pool, p, (size_t)((eq ? eq : stop) - p), &nl);
        char *value = eq ? pct_decode(&req->pool, eq + 1, (size_t)(stop - eq - 1), &vl) : (char *)"";
        if (name != NULL && value != NULL && nl > 0) {
            int rc = cb(ud, name, value);
            if (rc != 0)
                return rc;
        }
        p = stop + 1;
    }
    return 0;
}

typedef struct find_param {
    const char *name;
    char *value;
    size_t len;
} find_param_t;

static int find_cb(void *ud, const char *name, const char *value)
{
    find_param_t *f = ud;
    if (strcmp(name, f->name) != 0)
        return 0;
    size_t len = strlen(value);
    if (sluice_url_better_copy(f->value, f->len, len)) {
        f->value = (char *)value;
        f->len = len;
    }
    return len > 0; /* the first copy with a value ends the search */
}

long sluice_http_query(h2o_req_t *req, const char *name, char **out)
{
    /* The copy a page URL's parameter and a cookie give too (sluice_url_better_copy): the first
     * with a value. Taking the first, "?_dft=&_dft=<token>" (a link template's empty placeholder
     * before the token sluice.js appends) lost the token the page URL's reading kept. */
    find_param_t f = {name, NULL, 0};
    sluice_http_query_foreach(req, find_cb, &f);
    *out = f.value;
    return f.value ? (long)f.len : -1;
}

/* The nth cookie called name; with valued (nth unused), the copy sluice_url_better_copy picks: the
 * first with a value, else the first. Values without the whitespace around them, as RFC 6265 (5.2)
 * has a browser store them: a browser never sends "_ga= ", so a blank copy is an empty one that a
 * client or a proxy rejoining Cookie headers spaced out; taken as the value, it hid the visitor's
 * real _ga after it and had the gateway mint a new one. One pass: a header of many empty copies
 * costs no more than one of a few. */
static h2o_iovec_t find_cookie(h2o_req_t *req, const char *name, size_t nth, int valued)
{
    size_t nl = strlen(name);
    h2o_iovec_t kept = h2o_iovec_init(NULL, 0);
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        const char *p = req->headers.entries[i].value.base, *end = p + req->headers.entries[i].value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
                const char *a = p + nl + 1, *b = stop;
                while (a < b && (*a == ' ' || *a == '\t'))
                    a++;
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                    b--;
                h2o_iovec_t v = h2o_iovec_init(a, (size_t)(b - a));
                if (!valued && nth-- == 0)
                    return v;
                if (valued && sluice_url_better_copy(kept.base, kept.len, v.len)) {
                    kept = v;
                    if (v.len > 0)
                        return v;
                }
            }
            p = stop;
        }
    }
    return kept;
}

h2o_iovec_t sluice_http_cookie(h2o_req_t *req, const char *name)
{
    /* Not simply the first: a browser sends every copy whose domain and path match, the longest
     * path first, and an empty one (a consent or cleanup script writing "_ga=" on a subpath or on
     * the host alone instead of expiring it) before the visitor's real _fbp or _ga had the gateway
     * mint new ones over them: a new Meta browser id and GA4 client, the visitor cut in two. */
    return find_cookie(req, name, 0, 1);
}

h2o_iovec_t sluice_http_cookie_nth(h2o_req_t *req, const char *name, size_t nth)
{
    return find_cookie(req, name, nth, 0);
}

static int trusted(const sluice_server_config_t *sc, const struct sockaddr *sa)
{
    for (size_t i = 0; i < sc->trusted_proxy_count; i++)
        if (sluice_cidr_contains(&sc->trusted_proxies[i], sa))
            return 1;
    return 0;
}

/* Parses a textual address into sa; 0 on success. */
static int to_sockaddr(const char *s, size_t n, struct sockaddr_storage *ss)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

/* a.b.c.d into the pool, as inet_ntop prints it. Not through inet_ntop: glibc's prints IPv4 with
 * sprintf, about 1.9k instructions, and every event request asks for its client's address twice
 * (the rate limit and the event's context.ip). */
static const char *ntop4(h2o_mem_pool_t *pool, const uint8_t a[4])
{
    char *out = h2o_mem_alloc_pool(pool, sizeof("255.255.255.255"));
    sluice_ip_quad_write(a, out);
    return out;
}

static const char *ntop(h2o_mem_pool_t *pool, const struct sockaddr *sa)
{
    char buf[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET)
        return ntop4(pool, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family != AF_INET6)
        return "";
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) /* IPv4 peers of a dual-stack socket shown as IPv4 */
        return ntop4(pool, &a->s6_addr[12]);
    return inet_ntop(AF_INET6, a, buf, sizeof(buf)) ? h2o_strdup(pool, buf, SIZE_MAX).base : "";
}

int sluice_http_origin_form(h2o_req_t *req)
{
    h2o_iovec_t t = req->path;
    size_t skip = t.len > 7 && h2o_lcstris(t.base, 7, H2O_STRLIT("http://"))    ? 7
                  : t.len > 8 && h2o_lcstris(t.base, 8, H2O_STRLIT("https://")) ? 8
                                                                                : 0;
    if (skip == 0)
        return 0;
    /* By hand rather than h2o_url_parse, which takes the scheme in lower case only (it is
     * case-insensitive: RFC 3986 3.1). */
    const char *a = t.base + skip, *end = t.base + t.len, *p = a;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    if (p == a || memchr(a, '@', (size_t)(p - a)) != NULL)
        return 0; /* no host, or user information (RFC 9112 forbids it here): routed as it is, a 404 */
    h2o_iovec_t path;
    if (p < end && *p == '/') {
        path = h2o_iovec_init(p, (size_t)(end - p));
    } else { /* "http://host" or "http://host?q": the path is "/" */
        path.len = 1 + (size_t)(end - p);
        path.base = h2o_mem_alloc_pool(&req->pool, path.len);
        path.base[0] = '/';
        memcpy(path.base + 1, p, (size_t)(end - p));
    }
    req->path = path;
    req->path_normalized = h2o_url_normalize_path(&req->pool, path.base, path.len, &req->query_at, &req->norm_indexes);
    req->authority = h2o_iovec_init(a, (size_t)(p - a));
    return 1;
}

void sluice_http_merge_slashes(h2o_req_t *req)
{
    h2o_iovec_t p = req->path_normalized;
    if (p.len < 2 || memmem(p.base, p.len, "//", 2) == NULL)
        return;
    char *out = h2o_mem_alloc_pool(&req->pool, p.len);
    size_t o = 0;
    for (size_t i = 0; i < p.len; i++)
        if (p.base[i] != '/' || o == 0 || out[o - 1] != '/')
            out[o++] = p.base[i];
    req->path_normalized = h2o_iovec_init(out, o);
}

int sluice_http1_framing_conflict(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn == NULL || req->conn->callbacks->get_socket == NULL)
        return 0;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL)
        return 0;
    const char *p = sock->input->bytes, *end = p + sock->input->size;
    /* The buffer must begin with this request's line, or it is not this request's head. */
    if ((size_t)(end - p) <= req->method.len || memcmp(p, req->method.base, req->method.len) != 0 ||
        p[req->method.len] != ' ')
        return 0;
    /* Line by line to the empty line that ends the head: h2o's parser takes a bare LF as well as
     * CRLF at the end of any line (as do many proxies), and looking for CRLF CRLF only
     * let two lengths through unseen. */
    const char *line = memchr(p, '\n', (size_t)(end - p));
    const char *first_len = NULL;
    size_t first_len_n = 0;
    int te = 0, conflict = 0;
    while (line != NULL) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            return 0; /* no end of the head in the buffer: not this request's head */
        const char *le = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        if (le == line)
            break; /* the empty line */
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon != NULL) {
            size_t nlen = (size_t)(colon - line);
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (h2o_lcstris(line, nlen, H2O_STRLIT("content-length"))) {
                if (first_len == NULL) {
                    first_len = v;
                    first_len_n = (size_t)(ve - v);
                } else if ((size_t)(ve - v) != first_len_n || memcmp(v, first_len, first_len_n) != 0) {
                    conflict = 1;
                }
            } else if (h2o_lcstris(line, nlen, H2O_STRLIT("transfer-encoding"))) {
                te = 1;
            }
        }
        line = eol;
    }
    return conflict || (te && first_len != NULL);
}

/* Every X-Forwarded-For header as one list, in their order: a proxy that adds its own header
 * instead of appending to the client's makes the last header hold the right-most addresses. */
static h2o_iovec_t forwarded_for(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, -1);
    if (i < 0)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t all = req->headers.entries[i].value;
    while ((i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        char *p = h2o_mem_alloc_pool(&req->pool, all.len + 1 + v.len);
        memcpy(p, all.base, all.len);
        p[all.len] = ',';
        memcpy(p + all.len + 1, v.base, v.len);
        all = h2o_iovec_init(p, all.len + 1 + v.len);
    }
    return all;
}

const char *sluice_http_client_ip(h2o_req_t *req, const sluice_server_config_t *sc)
{
    struct sockaddr_storage peer;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&peer);
    if (len == 0)
        return "";
    if (!trusted(sc, (struct sockaddr *)&peer)) {
        const char *ip = ntop(&req->pool, (struct sockaddr *)&peer);
        /* X-Forwarded-For on the plain listener (the one behind a front proxy) from a peer not
         * listed: most likely the operator's own proxy, forgotten in trusted_proxies, and every
         * visitor then shares its address. Said at most once a minute. */
        static atomic_llong warned_at = -60000;
        h2o_socket_t *sock =
            req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
        if (sock != NULL && sock->ssl == NULL && sluice_http_header(req, H2O_TOKEN_X_FORWARDED_FOR).base != NULL) {
            long long now = (long long)sluice_mono_ms(), last = atomic_load(&warned_at);
            if (now - last >= 60000 && atomic_compare_exchange_strong(&warned_at, &last, now))
                sluice_log_warn("http.untrusted_proxy",
                                "X-Forwarded-For from %s, which server.trusted_proxies does not list: ignored, so "
                                "%s is the client's address of its requests (context.ip, client_rate_limit, "
                                "geolocation); list a front proxy in server.trusted_proxies",
                                ip, ip);
        }
        return ip;
    }
    h2o_iovec_t xff = forwarded_for(req);
    if (xff.base == NULL)
        return ntop(&req->pool, (struct sockaddr *)&peer);
    /* Right to left: the first address not of a trusted proxy is the client. */
    const char *end = xff.base + xff.len;
    struct sockaddr_storage cand, last_ok;
    int have_last = 0;
    while (end > xff.base) {
        const char *start = end;
        while (start > xff.base && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (to_sockaddr(a, (size_t)(b - a), &cand) != 0)
            break; /* garbage: stop trusting the header here */
        last_ok = cand;
        have_last = 1;
        if (!trusted(sc, (struct sockaddr *)&cand))
            return ntop(&req->pool, (struct sockaddr *)&cand);
        end = start > xff.base ? start - 1 : xff.base;
    }
    return ntop(&req->pool, have_last ? (struct sockaddr *)&last_ok : (struct sockaddr *)&peer);
}

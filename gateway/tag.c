/*
 * Serves sluice.js, the browser tag: the current build at server.tag_path (short cache, so a
 * new release reaches browsers within minutes) and every embedded build, the current one and
 * the earlier releases kept in gateway/tag/dist/previous/, at its versioned path
 * (/sluice.<hash>.js, immutable: its bytes never change). The builds are embedded in the binary
 * (gateway/tag/embed.h); sluice_tag_prepare makes their gzip copies and ETags once per process
 * (main thread at start-up, under pthread_once), and the loop threads only read them. Answers
 * point at that static data, so serving copies nothing.
 *
 * ETags are strong and come from the SHA-256 of the build: `"<base64url>"` for the plain bytes
 * and `"<base64url>-gz"` for the gzip copy (a strong validator names one representation).
 */
#include "gateway/tag.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/log.h"
#include "crypto/base64url.h"
#include "crypto/hash.h"
#include "gateway/http.h"
#include "gateway/negotiate.h"
#include "gateway/tag/embed.h"

#define CONTENT_TYPE  "application/javascript; charset=utf-8"
#define CACHE_CONTROL "public, max-age=300"
/* A versioned path names one build's bytes forever: a year, and no revalidation. */
#define CACHE_CONTROL_VERSIONED "public, max-age=31536000, immutable"
#define ETAG_MAX                64 /* quotes + 43 base64url characters + "-gz" + NUL */

typedef struct rep {
    const unsigned char *body;
    size_t len;
    char etag[ETAG_MAX];
} rep_t;

typedef struct served {
    rep_t plain;
    rep_t gz; /* gz.body is NULL when compression failed */
} served_t;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static served_t *served; /* one per sluice_tag_builds[] entry, kept for the life of the process */

/* gzip (RFC 1952) of in[0..n) at the best compression, into a malloc'd buffer. */
static unsigned char *gzip_all(const unsigned char *in, size_t n, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    if (out == NULL)
        h2o_fatal("out of memory compressing the tag");
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void build_one(const sluice_tag_build_t *b, served_t *sv)
{
    uint8_t digest[SLUICE_SHA256_LEN];
    char b64[SLUICE_SHA256_LEN * 4 / 3 + 2]; /* 43 characters and the NUL */
    if (sluice_sha256(b->js, b->len, digest) != 0)
        h2o_fatal("SHA-256 is unavailable: cannot compute the tag's ETag");
    sluice_b64url_encode(digest, sizeof(digest), b64, sizeof(b64));
    sv->plain.body = b->js;
    sv->plain.len = b->len;
    snprintf(sv->plain.etag, sizeof(sv->plain.etag), "\"%s\"", b64);

    size_t n;
    unsigned char *z = gzip_all(b->js, b->len, &n);
    if (z == NULL) {
        sluice_log_warn("tag.gzip", "could not compress the tag %s; serving it uncompressed", b->version);
        return;
    }
    sv->gz.body = z;
    sv->gz.len = n;
    snprintf(sv->gz.etag, sizeof(sv->gz.etag), "\"%s-gz\"", b64);
}

static void build(void)
{
    served = calloc(sluice_tag_builds_len, sizeof(*served));
    if (served == NULL)
        h2o_fatal("out of memory preparing the tag");
    for (size_t i = 0; i < sluice_tag_builds_len; i++)
        build_one(&sluice_tag_builds[i], &served[i]);
}

void sluice_tag_prepare(void)
{
    pthread_once(&once, build);
}

static void add(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, len);
}

static void add_str(h2o_req_t *req, const char *name, size_t nlen, const char *value, size_t vlen)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, nlen, 0, NULL, value, vlen);
}

int sluice_tag_serve(h2o_req_t *req, sluice_worker_t *w, const char *tag_path)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t path = req->path_normalized;
    size_t which = 0; /* sluice_tag_builds[] index */
    int versioned = 0;
    if (!h2o_memis(path.base, path.len, tag_path, strlen(tag_path))) {
        const sluice_tag_build_t *b = sluice_tag_build_at(tag_path, path.base, path.len, &versioned);
        if (!versioned)
            return -1;
        if (b == NULL) {
            /* A build this release no longer keeps (or never had): counted as the tag's 404, so
             * operators can see pages still pinning a dropped build. */
            sluice_reply_t r = {.route = SLUICE_ROUTE_TAG};
            sluice_reply_error(req, w, &r, 404, "not_found", "no such build of the tag: see sluicectl tag versions",
                               NULL);
            return 0;
        }
        which = (size_t)(b - sluice_tag_builds);
    }
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        sluice_reply_t r = {.route = SLUICE_ROUTE_TAG};
        add(req, H2O_TOKEN_ALLOW, H2O_STRLIT("GET, HEAD"));
        sluice_reply_error(req, w, &r, 405, "method_not_allowed", "the tag is served to GET and HEAD", NULL);
        return 0;
    }
    sluice_tag_prepare();

    const served_t *sv = &served[which];
    const rep_t *rep = &sv->plain;
    h2o_iovec_t ae = sluice_http_header(req, H2O_TOKEN_ACCEPT_ENCODING);
    if (sv->gz.body != NULL && ae.base != NULL && sluice_negotiate_gzip(ae.base, ae.len))
        rep = &sv->gz;
    h2o_iovec_t inm = sluice_http_header(req, H2O_TOKEN_IF_NONE_MATCH);
    int not_modified = inm.base != NULL && sluice_negotiate_etag_match(inm.base, inm.len, rep->etag);

    req->res.status = not_modified ? 304 : 200;
    req->res.reason = not_modified ? "Not Modified" : "OK";
    add(req, H2O_TOKEN_ETAG, rep->etag, strlen(rep->etag));
    if (versioned)
        add(req, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT(CACHE_CONTROL_VERSIONED));
    else
        add(req, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT(CACHE_CONTROL));
    add(req, H2O_TOKEN_VARY, H2O_STRLIT("Accept-Encoding"));
    if (!not_modified) {
        add(req, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT(CONTENT_TYPE));
        if (rep == &sv->gz)
            add(req, H2O_TOKEN_CONTENT_ENCODING, H2O_STRLIT("gzip"));
        /* Public, credential-free script: any page may load it, also with SRI (crossorigin). */
        add(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, H2O_STRLIT("*"));
        add_str(req, H2O_STRLIT("cross-origin-resource-policy"), H2O_STRLIT("cross-origin"));
        add_str(req, H2O_STRLIT("x-content-type-options"), H2O_STRLIT("nosniff"));
        req->res.content_length = rep->len;
    }
    sluice_metrics_count_request(&w->metrics, SLUICE_ROUTE_TAG, req->res.status);
    h2o_start_response(req, &generator);
    if (not_modified || head) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t body = h2o_iovec_init(rep->body, rep->len);
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    }
    return 0;
}

/*
 * The gateway serving sluice.js over real HTTPS: the bytes are exactly gateway/tag/dist/
 * sluice.min.js; Content-Type, Cache-Control, CORS and nosniff headers; gzip by Accept-Encoding
 * (with q-values and wildcards) within the 5 KB budget; strong ETags per representation and 304
 * on If-None-Match; HEAD; other methods 405; HTTP/2; the SRI hash printed by `sluicectl tag sri`
 * equals the hash of the served bytes; server.tag_path changes on reload; requests counted.
 * Versioned URLs: /sluice.<hash>.js answers the current build and every earlier release kept in
 * gateway/tag/dist/previous/ (at least one: the tag changed since) with that build's own bytes,
 * immutable for a year, while /sluice.js keeps its short cache; an unknown hash is a 404;
 * `sluicectl tag sri` prints the versioned line and `sluicectl tag versions` every build.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "tests/integration/gwfix.h"

#define KEY "wk_tag_test_19ab"

static gwfix_t F;
static char *js; /* gateway/tag/dist/sluice.min.js */
static size_t js_len;
static char etag[80]; /* "<base64url(SHA-256)>" */
static char etag_gz[80];
static char js_hash[17]; /* first 16 hex digits of its SHA-256: its versioned name */

#define MAX_PREVIOUS 8
typedef struct previous {
    char version[32];
    char hash[17];
    char *js;
    size_t len;
} previous_t;
static previous_t prev[MAX_PREVIOUS]; /* gateway/tag/dist/previous/sluice-<version>.min.js */
static size_t n_prev;

#define CACHE_SHORT     "public, max-age=300"
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"

static const char *config_text(const char *tag_path_line)
{
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             /* HTTP/2 on (off by default): the tag is also served to browsers over h2. */
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key, http2: true}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "%s"
             "kafka: {brokers: \"%s\"}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_KEY, allowed_origins: [https://shop.acme.test]}]\n",
             F.https_port, F.certs, F.certs, F.metrics_port, tag_path_line, F.kafka.bootstrap);
    return yaml;
}

static void b64(const unsigned char *in, size_t n, char *out, size_t cap, int url)
{
    char tmp[128];
    int len = EVP_EncodeBlock((unsigned char *)tmp, in, (int)n);
    size_t o = 0;
    for (int i = 0; i < len && o + 1 < cap; i++) {
        char c = tmp[i];
        if (url && c == '=')
            break;
        out[o++] = url && c == '+' ? '-' : url && c == '/' ? '_' : c;
    }
    out[o] = '\0';
}

static void hash16(const char *in, size_t n, char out[17])
{
    unsigned char d[32];
    unsigned int dl;
    assert_int_equal(EVP_Digest(in, n, d, &dl, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The earlier releases the build keeps, read from the source tree (not from the binary). */
static void read_previous(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/gateway/tag/dist/previous", getenv("SLUICE_SOURCE_DIR"));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "sluice-", 7) != 0 || l < 7 + 7 || strcmp(e->d_name + l - 7, ".min.js") != 0)
            continue;
        assert_true(n_prev < MAX_PREVIOUS);
        previous_t *p = &prev[n_prev++];
        snprintf(p->version, sizeof(p->version), "%.*s", (int)(l - 14), e->d_name + 7);
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        p->js = sluice_th_read_file(path, &p->len, NULL);
        assert_non_null(p->js);
        hash16(p->js, p->len, p->hash);
    }
    closedir(d);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char path[4096];
    snprintf(path, sizeof(path), "%s/gateway/tag/dist/sluice.min.js", getenv("SLUICE_SOURCE_DIR"));
    js = sluice_th_read_file(path, &js_len, NULL);
    assert_non_null(js);
    unsigned char d[32];
    unsigned int dl;
    assert_int_equal(EVP_Digest(js, js_len, d, &dl, EVP_sha256(), NULL), 1);
    char b[48]; /* 43 characters */
    b64(d, dl, b, sizeof(b), 1);
    snprintf(etag, sizeof(etag), "\"%s\"", b);
    snprintf(etag_gz, sizeof(etag_gz), "\"%s-gz\"", b);
    hash16(js, js_len, js_hash);
    read_previous();

    gwfix_stack(&F);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", config_text("")));
    static const char *env[] = {"T_KEY=" KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    free(js);
    for (size_t i = 0; i < n_prev; i++)
        free(prev[i].js);
    return 0;
}

/* GET (or method) path with optional headers. */
static void get(const char *method, const char *path, const char *h1, const char *h2, http_resp_t *r)
{
    const char *headers[] = {h1, h2, NULL};
    http_opts_t o = {.method = method, .headers = h1 ? headers : NULL};
    http_do(gwfix_url(&F, path), &o, F.ca, r);
    assert_int_equal(r->curl_error, 0);
}

static char *gunzip_all(const char *in, size_t n, size_t *out_len)
{
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    inflateEnd(&zs);
    return out;
}

static void expect_header(const http_resp_t *r, const char *name, const char *value)
{
    const char *v = http_header(r, name);
    if (v == NULL || strcmp(v, value) != 0)
        print_error("%s: got '%s', want '%s'\n", name, v ? v : "(none)", value);
    assert_non_null(v);
    assert_string_equal(v, value);
}

/* ------------------------------------------------------------------ the plain bytes */

static void plain_get(void **state)
{
    (void)state;
    http_resp_t r;
    get(NULL, "/sluice.js", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js_len);
    assert_memory_equal(r.body, js, js_len);
    expect_header(&r, "content-type", "application/javascript; charset=utf-8");
    expect_header(&r, "cache-control", CACHE_SHORT);
    expect_header(&r, "etag", etag);
    expect_header(&r, "vary", "Accept-Encoding");
    expect_header(&r, "access-control-allow-origin", "*");
    expect_header(&r, "x-content-type-options", "nosniff");
    char len[32];
    snprintf(len, sizeof(len), "%zu", js_len);
    expect_header(&r, "content-length", len);
    assert_null(http_header(&r, "content-encoding"));
    assert_null(http_header(&r, "set-cookie"));
    http_resp_dispose(&r);
}

static void gzip_get(void **state)
{
    (void)state;
    http_resp_t r;
    get(NULL, "/sluice.js", "Accept-Encoding: gzip, deflate, br", NULL, &r);
    assert_int_equal(r.status, 200);
    expect_header(&r, "content-encoding", "gzip");
    expect_header(&r, "etag", etag_gz);
    expect_header(&r, "content-type", "application/javascript; charset=utf-8");
    size_t n;
    char *plain = gunzip_all(r.body, r.len, &n);
    assert_int_equal(n, js_len);
    assert_memory_equal(plain, js, js_len);
    free(plain);
    print_message("sluice.js: %zu bytes, %zu gzipped by the gateway\n", js_len, r.len);
    assert_true(r.len <= 5 * 1024); /* the tag's budget */
    assert_true(r.len < js_len);
    http_resp_dispose(&r);
}

static void accept_encoding_rules(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        int gzip;
    } cases[] = {
        {"Accept-Encoding: gzip", 1},         {"Accept-Encoding: GZIP", 1},
        {"Accept-Encoding: x-gzip", 1},       {"Accept-Encoding: br, *;q=0.5", 1},
        {"Accept-Encoding: gzip;q=0.001", 1}, {"Accept-Encoding: deflate, gzip ; q=1.0", 1},
        {"Accept-Encoding: gzip;q=0", 0},     {"Accept-Encoding: gzip; q=0.000", 0},
        {"Accept-Encoding: *;q=0", 0},        {"Accept-Encoding: identity", 0},
        {"Accept-Encoding: deflate, br", 0},  {"Accept-Encoding: gzip;q=0, *", 0},
        {"Accept-Encoding: gzipx", 0},        {"Accept-Encoding: ", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_resp_t r;
        get(NULL, "/sluice.js", cases[i].ae, NULL, &r);
        assert_int_equal(r.status, 200);
        const char *ce = http_header(&r, "content-encoding");
        if ((ce != NULL) != cases[i].gzip)
            print_error("'%s': content-encoding %s\n", cases[i].ae, ce ? ce : "(none)");
        assert_int_equal(ce != NULL, cases[i].gzip);
        assert_int_equal(r.len == js_len, !cases[i].gzip);
        http_resp_dispose(&r);
    }
}

/* ------------------------------------------------------------------ validators */

static void not_modified(void **state)
{
    (void)state;
    char h[256];
    static const char *const forms[][2] = {{"", ""}, {"W/", ""}, {"\"nope\", ", ""}, {"\"a\",", " , \"b\""}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char inm[160];
        snprintf(inm, sizeof(inm), "%s%s%s", forms[i][0], etag, forms[i][1]);
        snprintf(h, sizeof(h), "If-None-Match: %s", inm);
        http_resp_t r;
        get(NULL, "/sluice.js", h, NULL, &r);
        if (r.status != 304)
            print_error("If-None-Match: %s -> %ld\n", inm, r.status);
        assert_int_equal(r.status, 304);
        assert_int_equal(r.len, 0);
        expect_header(&r, "etag", etag);
        expect_header(&r, "cache-control", "public, max-age=300");
        http_resp_dispose(&r);
    }

    http_resp_t r;
    get(NULL, "/sluice.js", "If-None-Match: *", NULL, &r);
    assert_int_equal(r.status, 304);
    http_resp_dispose(&r);

    /* The gzip copy has its own validator. */
    snprintf(h, sizeof(h), "If-None-Match: %s", etag_gz);
    get(NULL, "/sluice.js", h, "Accept-Encoding: gzip", &r);
    assert_int_equal(r.status, 304);
    expect_header(&r, "etag", etag_gz);
    http_resp_dispose(&r);
    get(NULL, "/sluice.js", h, NULL, &r); /* gzip's ETag, but asking for the plain bytes */
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js_len);
    http_resp_dispose(&r);

    /* An old version, or something that is no ETag at all, gets the file. */
    static const char *const stale[] = {"If-None-Match: \"an-older-version\"", "If-None-Match: garbage",
                                        "If-None-Match: \"unterminated"};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        get(NULL, "/sluice.js", stale[i], NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.len, js_len);
        http_resp_dispose(&r);
    }
}

/* ------------------------------------------------------------------ methods, HTTP/2 */

static void head_and_methods(void **state)
{
    (void)state;
    http_resp_t r;
    get("HEAD", "/sluice.js", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    char len[32];
    snprintf(len, sizeof(len), "%zu", js_len);
    expect_header(&r, "content-length", len);
    expect_header(&r, "etag", etag);
    http_resp_dispose(&r);

    static const char *const refused[] = {"POST", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        get(refused[i], "/sluice.js", NULL, NULL, &r);
        assert_int_equal(r.status, 405);
        expect_header(&r, "allow", "GET, HEAD");
        assert_true(gwfix_contains(r.body, "\"method_not_allowed\""));
        http_resp_dispose(&r);
    }

    /* A query string (cache busting) is the same file; a near miss of the path is not. */
    get(NULL, "/sluice.js?v=123", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js_len);
    http_resp_dispose(&r);
    get(NULL, "/sluice.jsx", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    http_resp_dispose(&r);
}

static void http2(void **state)
{
    (void)state;
    const char *headers[] = {"Accept-Encoding: gzip", NULL};
    http_opts_t o = {.headers = headers, .http2 = 1};
    http_resp_t r;
    http_do(gwfix_url(&F, "/sluice.js"), &o, F.ca, &r);
    assert_int_equal(r.curl_error, 0);
    assert_int_equal(r.version, CURL_HTTP_VERSION_2_0);
    assert_int_equal(r.status, 200);
    expect_header(&r, "content-encoding", "gzip");
    size_t n;
    char *plain = gunzip_all(r.body, r.len, &n);
    assert_int_equal(n, js_len);
    assert_memory_equal(plain, js, js_len);
    free(plain);
    http_resp_dispose(&r);
}

/* ------------------------------------------------------------------ SRI, metrics, reload */

static void sri_matches_served_bytes(void **state)
{
    (void)state;
    http_resp_t r;
    get(NULL, "/sluice.js", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    unsigned char d[48];
    unsigned int dl;
    assert_int_equal(EVP_Digest(r.body, r.len, d, &dl, EVP_sha384(), NULL), 1);
    char want[128] = "sha384-";
    b64(d, dl, want + 7, sizeof(want) - 7, 0);
    http_resp_dispose(&r);

    char bin[4096];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {bin,           "tag",  "sri", "--src", "https://data.shop.acme.test/sluice.js",
                          "--write-key", "wk_1", NULL};
    sluice_th_output_t out = {0};
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 10000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "%s\n<script async src=\"https://data.shop.acme.test/sluice.%s.js\" integrity=\"%s\" "
             "crossorigin=\"anonymous\" data-write-key=\"wk_1\"></script>\n",
             want, js_hash, want);
    assert_string_equal(out.out, expected);
    sluice_th_output_dispose(&out);

    /* Usage errors exit 2. */
    const char *bad[] = {bin, "tag", "sri", "extra", NULL};
    assert_int_equal(sluice_th_run(bad, NULL, 0, 10000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 2));
    sluice_th_output_dispose(&out);
}

/* ------------------------------------------------------------------ versioned URLs */

static void expect_build(const char *path, const char *bytes, size_t len, const char *cache)
{
    http_resp_t r;
    get(NULL, path, NULL, NULL, &r);
    if (r.status != 200)
        print_error("GET %s -> %ld\n", path, r.status);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, bytes, len);
    expect_header(&r, "cache-control", cache);
    expect_header(&r, "content-type", "application/javascript; charset=utf-8");
    expect_header(&r, "access-control-allow-origin", "*");
    http_resp_dispose(&r);

    get(NULL, path, "Accept-Encoding: gzip", NULL, &r);
    assert_int_equal(r.status, 200);
    expect_header(&r, "content-encoding", "gzip");
    expect_header(&r, "cache-control", cache);
    size_t n;
    char *plain = gunzip_all(r.body, r.len, &n);
    assert_int_equal(n, len);
    assert_memory_equal(plain, bytes, len);
    free(plain);
    http_resp_dispose(&r);

    get("HEAD", path, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    http_resp_dispose(&r);
    get("POST", path, NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    http_resp_dispose(&r);
}

static void versioned_current(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/sluice.%s.js", js_hash);
    expect_build(path, js, js_len, CACHE_IMMUTABLE);
    expect_build("/sluice.js", js, js_len, CACHE_SHORT);

    /* Its validator is the build's, whichever path named it. */
    char h[128];
    snprintf(h, sizeof(h), "If-None-Match: %s", etag);
    http_resp_t r;
    get(NULL, path, h, NULL, &r);
    assert_int_equal(r.status, 304);
    expect_header(&r, "cache-control", CACHE_IMMUTABLE);
    http_resp_dispose(&r);
}

/* The tag changed (0.1.0 -> 0.2.0 and since): the builds kept from earlier releases still answer
 * at their old versioned URLs, each with its own bytes, not the current ones. */
static void versioned_previous(void **state)
{
    (void)state;
    assert_true(n_prev >= 1);
    for (size_t i = 0; i < n_prev; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/sluice.%s.js", prev[i].hash);
        print_message("previous build %s at %s (%zu bytes)\n", prev[i].version, path, prev[i].len);
        assert_string_not_equal(prev[i].hash, js_hash);
        assert_false(prev[i].len == js_len && memcmp(prev[i].js, js, js_len) == 0);
        char banner[64];
        snprintf(banner, sizeof(banner), "/*! sluice.js %s |", prev[i].version);
        assert_memory_equal(prev[i].js, banner, strlen(banner));
        expect_build(path, prev[i].js, prev[i].len, CACHE_IMMUTABLE);
    }
}

static void versioned_unknown(void **state)
{
    (void)state;
    double tag404 = gwfix_metric(&F, "sluice_http_requests_total{route=\"tag\",status=\"404\"}");
    if (tag404 < 0)
        tag404 = 0; /* no such series yet */
    char misses[6][64];
    snprintf(misses[0], sizeof(misses[0]), "/sluice.0123456789abcdef.js"); /* no such build */
    snprintf(misses[1], sizeof(misses[1]), "/sluice.%.15s.js", js_hash);   /* too short */
    snprintf(misses[2], sizeof(misses[2]), "/sluice.%sa.js", js_hash);     /* too long */
    snprintf(misses[3], sizeof(misses[3]), "/sluice.%s", js_hash);
    snprintf(misses[4], sizeof(misses[4]), "/sluice.%s.js.map", js_hash);
    snprintf(misses[5], sizeof(misses[5]), "/sluice-%s.js", js_hash);
    /* misses[0] has the form of a versioned path; upper-case hex does not. */
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        http_resp_t r;
        get(NULL, misses[i], NULL, NULL, &r);
        if (r.status != 404)
            print_error("GET %s -> %ld\n", misses[i], r.status);
        assert_int_equal(r.status, 404);
        http_resp_dispose(&r);
    }
    /* A well-formed hash of no kept build counts as the tag's 404 (pages pinning a dropped
     * build); the other misses are any path's. */
    assert_true(gwfix_metric(&F, "sluice_http_requests_total{route=\"tag\",status=\"404\"}") == tag404 + 1);
    http_resp_t r;
    get(NULL, "/sluice.0123456789abcdef.js", NULL, NULL, &r);
    assert_true(gwfix_contains(r.body, "\"not_found\""));
    http_resp_dispose(&r);
}

static void sluicectl_versions(void **state)
{
    (void)state;
    char bin[4096];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {bin, "tag", "versions", "--src", "https://data.shop.acme.test/sluice.js", NULL};
    sluice_th_output_t out = {0};
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 10000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_int_equal(sluice_th_count(out.out, "\n"), 1 + (int)n_prev);
    char line[1024];
    snprintf(line, sizeof(line), "\tcurrent\thttps://data.shop.acme.test/sluice.%s.js\tsha384-", js_hash);
    assert_true(gwfix_contains(out.out, line));
    for (size_t i = 0; i < n_prev; i++) {
        snprintf(line, sizeof(line), "%s\tprevious\thttps://data.shop.acme.test/sluice.%s.js\tsha384-", prev[i].version,
                 prev[i].hash);
        if (!gwfix_contains(out.out, line))
            print_error("no line '%s' in:\n%s", line, out.out);
        assert_true(gwfix_contains(out.out, line));
    }
    sluice_th_output_dispose(&out);
}

static void counted(void **state)
{
    (void)state;
    assert_true(gwfix_metric(&F, "sluice_http_requests_total{route=\"tag\",status=\"200\"}") >= 10);
    assert_true(gwfix_metric(&F, "sluice_http_requests_total{route=\"tag\",status=\"304\"}") >= 6);
    assert_true(gwfix_metric(&F, "sluice_http_requests_total{route=\"tag\",status=\"405\"}") >= 4);
}

static void tag_path_reload(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    gwfix_write("gateway.yaml", config_text("  tag_path: /assets/t.js\n"));
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 1, 10000, &err), 0);
    http_resp_t r;
    get(NULL, "/assets/t.js", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js_len);
    assert_memory_equal(r.body, js, js_len);
    http_resp_dispose(&r);
    get(NULL, "/sluice.js", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    http_resp_dispose(&r);

    /* Versioned paths follow tag_path. */
    char path[64];
    snprintf(path, sizeof(path), "/assets/t.%s.js", js_hash);
    get(NULL, path, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js_len);
    expect_header(&r, "cache-control", CACHE_IMMUTABLE);
    http_resp_dispose(&r);
    snprintf(path, sizeof(path), "/sluice.%s.js", js_hash);
    get(NULL, path, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    http_resp_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_get),
        cmocka_unit_test(gzip_get),
        cmocka_unit_test(accept_encoding_rules),
        cmocka_unit_test(not_modified),
        cmocka_unit_test(head_and_methods),
        cmocka_unit_test(http2),
        cmocka_unit_test(sri_matches_served_bytes),
        cmocka_unit_test(versioned_current),
        cmocka_unit_test(versioned_previous),
        cmocka_unit_test(versioned_unknown),
        cmocka_unit_test(sluicectl_versions),
        cmocka_unit_test(counted),
        cmocka_unit_test(tag_path_reload),
    };
    return cmocka_run_group_tests_name("gateway_tag", tests, setup, teardown);
}

/*
 * Gateway test fixture: real processes (dev Kafka, Redis, sluice-gateway) on loopback, a libcurl
 * client trusting the test CA, and kcat to read topics back. Test thread only.
 */
#include "tests/integration/gwfix.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <zlib.h>

static void fail_with(const char *what, const sluice_err_t *err)
{
    print_error("%s: %s\n", what, err->msg);
    fail();
}

void gwfix_stack(gwfix_t *f)
{
    gwfix_stack_with(f, NULL);
}

void gwfix_stack_with(gwfix_t *f, const char *const *kafka_args)
{
    sluice_err_t err = {{0}};
    memset(f, 0, sizeof(*f));
    if (sluice_th_kafka_start(&f->kafka, kafka_args, &err) != 0)
        fail_with("dev kafka", &err);
    int rport = sluice_th_free_port(&err);
    if (rport < 0 || sluice_th_redis_start(&f->redis, rport, &err) != 0)
        fail_with("redis", &err);
    if (sluice_th_path(f->certs, sizeof(f->certs), "certs", &err) != 0)
        fail_with("tmpdir", &err);
    char script[PATH_MAX];
    snprintf(script, sizeof(script), "%s/scripts/certs.sh", getenv("SLUICE_SOURCE_DIR"));
    const char *argv[] = {script, f->certs, NULL};
    sluice_th_output_t out = {0};
    if (sluice_th_run(argv, NULL, 0, 60000, &out, &err) != 0 || !sluice_th_exited_with(out.wstatus, 0)) {
        print_error("certs.sh failed: %s\n", out.errout ? out.errout : err.msg);
        fail();
    }
    sluice_th_output_dispose(&out);
    if (sluice_th_path(f->ca, sizeof(f->ca), "certs/ca.crt", &err) != 0)
        fail_with("tmpdir", &err);
    f->https_port = sluice_th_free_port(&err);
    f->http_port = sluice_th_free_port(&err);
    f->metrics_port = sluice_th_free_port(&err);
    assert_true(f->https_port > 0 && f->http_port > 0 && f->metrics_port > 0);
}

const char *gwfix_write(const char *name, const char *text)
{
    static char path[PATH_MAX];
    sluice_err_t err = {{0}};
    if (sluice_th_path(path, sizeof(path), name, &err) != 0)
        fail_with("tmpdir", &err);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static int probe(gwfix_t *f, int any_answer)
{
    if (!sluice_th_proc_running(f->gw))
        return 1;
    http_resp_t r;
    http_opts_t o = {.timeout_ms = 1000};
    http_do(gwfix_metrics_url(f, "/readyz"), &o, f->ca, &r);
    int ok = any_answer ? r.status != 0 : r.status == 200;
    http_resp_dispose(&r);
    return ok;
}

static int ready(void *arg)
{
    return probe(arg, 0);
}

static int answering(void *arg)
{
    return probe(arg, 1);
}

static void start(gwfix_t *f, const char *const *prefix, int (*until)(void *));

void gwfix_start(gwfix_t *f)
{
    gwfix_start_with(f, NULL);
}

void gwfix_start_with(gwfix_t *f, const char *const *prefix)
{
    start(f, prefix, ready);
}

void gwfix_start_unready(gwfix_t *f)
{
    start(f, NULL, answering);
}

static void start(gwfix_t *f, const char *const *prefix, int (*until)(void *))
{
    sluice_err_t err = {{0}};
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/gateway/sluice-gateway", sluice_th_build_dir());
    const char *argv[16];
    int n = 0;
    for (; prefix != NULL && prefix[n] != NULL && n < 12; n++)
        argv[n] = prefix[n];
    argv[n++] = bin;
    argv[n++] = "--config";
    argv[n++] = f->config;
    argv[n] = NULL;
    sluice_th_spawn_opts_t opts = {.env = f->env};
    f->gw = sluice_th_spawn(f->name != NULL ? f->name : "gateway", argv, &opts, &err);
    if (f->gw == NULL)
        fail_with("gateway", &err);
    if (sluice_th_wait_until(until, f, 20000) != 0 || !sluice_th_proc_running(f->gw)) {
        char tail[2048];
        sluice_th_log_tail(f->gw, tail, sizeof(tail));
        print_error("gateway did not become %s: %s\n", until == ready ? "ready" : "reachable", tail);
        fail();
    }
}

int gwfix_stop(gwfix_t *f, int sig)
{
    sluice_err_t err = {{0}};
    int status = 0;
    assert_int_equal(sluice_th_proc_signal(f->gw, sig, &err), 0);
    if (sluice_th_proc_wait(f->gw, 30000, &status, &err) != 0)
        fail_with("gateway stop", &err);
    return status;
}

void gwfix_teardown(gwfix_t *f)
{
    if (f->gw != NULL && sluice_th_proc_running(f->gw))
        gwfix_stop(f, SIGTERM);
    sluice_th_teardown();
}

/* ------------------------------------------------------------------ HTTP */

void http_do(const char *url, const http_opts_t *o, const char *ca, http_resp_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    CURL *c = curl_easy_init();
    sluice_th_buf_t body = {0}, head = {0};
    struct curl_slist *hl = NULL;
    for (const char *const *h = o->headers; h != NULL && *h != NULL; h++)
        hl = curl_slist_append(hl, *h);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sluice_th_buf_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sluice_th_buf_append);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms ? o->timeout_ms : 15000L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, o->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (o->tls_max)
        curl_easy_setopt(c, CURLOPT_SSLVERSION, o->tls_max);
    if (o->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(o->body_len ? o->body_len : strlen(o->body)));
    }
    if (o->method != NULL)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method);
    if (o->method != NULL && strcmp(o->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (o->local_ip != NULL)
        curl_easy_setopt(c, CURLOPT_INTERFACE, o->local_ip);
    resp->curl_error = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &resp->version);
    resp->body = body.p ? body.p : strdup("");
    resp->len = body.len;
    resp->headers = head.p ? head.p : strdup("");
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

void http_resp_dispose(http_resp_t *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

const char *http_header(const http_resp_t *r, const char *name)
{
    static char value[1024];
    size_t nl = strlen(name);
    for (const char *line = r->headers; line != NULL && *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - line);
            snprintf(value, sizeof(value), "%.*s", (int)vl, v);
            return value;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

const char *gwfix_url(const gwfix_t *f, const char *path)
{
    /* Per thread: gateway_ops's load threads build URLs at once (ThreadSanitizer saw them share one). */
    static __thread char url[2][8192];
    static __thread int which;
    which ^= 1;
    snprintf(url[which], sizeof(url[which]), "https://127.0.0.1:%d%s", f->https_port, path);
    return url[which];
}

const char *gwfix_metrics_url(const gwfix_t *f, const char *path)
{
    static __thread char url[8192];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->metrics_port, path);
    return url;
}

long gwfix_post(const gwfix_t *f, const char *path, const char *key, const char *json, http_resp_t *resp)
{
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    http_opts_t o = {.headers = headers, .body = json};
    http_do(gwfix_url(f, path), &o, f->ca, resp);
    return resp->status;
}

/* ------------------------------------------------------------------ TLS sessions */

SSL_CTX *gwfix_tls_client(const gwfix_t *f, int version)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    assert_int_equal(SSL_CTX_load_verify_locations(cctx, f->ca, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(cctx, version);
    SSL_CTX_set_max_proto_version(cctx, version);
    return cctx;
}

SSL_SESSION *gwfix_tls_request(const gwfix_t *f, SSL_CTX *cctx, SSL_SESSION *sess, int *reused)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)f->https_port), .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    SSL *ssl = SSL_new(cctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (sess != NULL)
        assert_int_equal(SSL_set_session(ssl, sess), 1);
    int rc = SSL_connect(ssl);
    if (rc != 1)
        fail_msg("handshake failed (%d)", SSL_get_error(ssl, rc));
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_int_equal(SSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
    char buf[512];
    int got = 0, n;
    while ((n = SSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got)) > 0 && got < (int)sizeof(buf) - 1)
        got += n;
    buf[got] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    *reused = SSL_session_reused(ssl);
    SSL_SESSION *out = SSL_get1_session(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    return out;
}

/* ------------------------------------------------------------------ process memory */

uint8_t *gwfix_process_memory(pid_t pid, size_t *len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "r");
    assert_non_null(maps);
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int mem = open(path, O_RDONLY);
    assert_true(mem >= 0);
    size_t cap = 64 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    char line[512];
    while (fgets(line, sizeof(line), maps) != NULL) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || strstr(line, "[vvar]") != NULL)
            continue;
        size_t size = hi - lo;
        if (n + size > cap) {
            while (n + size > cap)
                cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t got = pread(mem, buf + n, size, (off_t)lo);
        if (got > 0)
            n += (size_t)got;
    }
    close(mem);
    fclose(maps);
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------ Kafka */

json_t *gwfix_kafka_read(const gwfix_t *f, const char *topic)
{
    sluice_err_t err = {{0}};
    /* Key, headers, partition and value separated by ASCII unit separators: none of them can
     * contain one (the value is compact JSON, where control characters are escaped). */
    const char *argv[] = {"kcat",      "-b", f->kafka.bootstrap,         "-t", topic, "-C", "-e", "-q", "-o",
                          "beginning", "-f", "%k\x1f%h\x1f%p\x1f%s\x1e", NULL};
    sluice_th_output_t out = {0};
    if (sluice_th_run(argv, NULL, 0, 60000, &out, &err) != 0 || !sluice_th_exited_with(out.wstatus, 0)) {
        print_error("kcat failed: %s %s\n", err.msg, out.errout ? out.errout : "");
        fail();
    }
    json_t *all = json_array();
    for (char *rec = out.out; rec != NULL && *rec != '\0';) {
        char *end = strchr(rec, '\x1e');
        if (end == NULL)
            break;
        *end = '\0';
        char *s1 = strchr(rec, '\x1f'), *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
        char *s3 = s2 ? strchr(s2 + 1, '\x1f') : NULL;
        if (s3 != NULL) {
            *s1 = *s2 = *s3 = '\0';
            json_error_t je;
            json_t *v = json_loads(s3 + 1, 0, &je);
            json_array_append_new(all, json_pack("{s:s,s:s,s:I,s:o,s:s}", "key", rec, "headers", s1 + 1, "partition",
                                                 (json_int_t)strtol(s2 + 1, NULL, 10), "value",
                                                 v ? v : json_string(s3 + 1), "raw", s3 + 1));
        }
        rec = end + 1;
    }
    sluice_th_output_dispose(&out);
    return all;
}

size_t gwfix_count_message(json_t *msgs, const char *id)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *mid =
            json_string_value(json_object_get(json_object_get(json_object_get(m, "value"), "event"), "messageId"));
        if (mid != NULL && strcmp(mid, id) == 0)
            n++;
    }
    return n;
}

json_t *gwfix_find_message(json_t *msgs, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *mid =
            json_string_value(json_object_get(json_object_get(json_object_get(m, "value"), "event"), "messageId"));
        if (mid != NULL && strcmp(mid, id) == 0)
            return m;
    }
    return NULL;
}

double gwfix_metric(const gwfix_t *f, const char *series)
{
    http_resp_t r;
    http_opts_t o = {0};
    http_do(gwfix_metrics_url(f, "/metrics"), &o, f->ca, &r);
    assert_int_equal(r.status, 200);
    double v = sluice_th_metric_value(r.body, series);
    http_resp_dispose(&r);
    return v;
}

void gwfix_sign(gwfix_signed_t *out, const char *secret, const char *source, const char *method, const char *path,
                long long ts_ms, const char *body)
{
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", ts_ms);
    size_t n = strlen(method) + strlen(path) + strlen(ts) + strlen(body) + 4;
    char *msg = malloc(n);
    int w = snprintf(msg, n, "%s\n%s\n%s\n%s", method, path, ts, body);
    unsigned char mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, (size_t)w, mac, &len);
    free(msg);
    snprintf(out->source, sizeof(out->source), "X-Sluice-Source: %s", source);
    snprintf(out->timestamp, sizeof(out->timestamp), "X-Timestamp: %s", ts);
    int o = snprintf(out->signature, sizeof(out->signature), "X-Signature: sha256=");
    for (unsigned i = 0; i < 32; i++)
        o += snprintf(out->signature + o, sizeof(out->signature) - (size_t)o, "%02x", mac[i]);
}

int gwfix_contains(const char *text, const char *needle)
{
    return text != NULL && strstr(text, needle) != NULL;
}

/* ------------------------------------------------------------------ raw sockets and bodies */

unsigned long long gwfix_raise_nofile(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (unsigned long long)rl.rlim_cur;
}

int gwfix_tcp_from(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET}, b = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, from, &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        connect(fd, (struct sockaddr *)&b, sizeof(b)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void gwfix_raw_exchange(const gwfix_t *f, const char *req, char *reply, size_t cap)
{
    int fd = gwfix_tcp_from("127.0.0.1", f->http_port);
    assert_true(fd >= 0);
    assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) > 0);
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < cap && poll(&p, 1, 3000) > 0) {
        ssize_t r = recv(fd, reply + got, cap - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    reply[got] = '\0';
    close(fd);
}

char *gwfix_gzip(const void *in, size_t n, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* The strongest compression: the bomb and budget cases need the most plain bytes per wire byte. */
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n);
    char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

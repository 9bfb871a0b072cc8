/*
 * The deployment docs/security.md recommends for HTTP/2: Debian's nginx in front, terminating TLS
 * and HTTP/2, speaking HTTP/1.1 keep-alive to the gateway's plain listener, with nginx in
 * server.trusted_proxies. The test runs exactly deploy/nginx/front.conf (only its @...@ values
 * filled in), checks that docs/security.md shows that same file, and sends events through it over
 * HTTP/2 from chosen client addresses: they arrive in Kafka with the client's address, never one a
 * client wrote into X-Forwarded-For itself. Then as a hostile client and a careless operator: forged
 * X-Forwarded-For in every shape, a trusted proxy adding its own header, one client flooding a
 * rate-limited key, /metrics and CORS through nginx, trusted_proxies forgotten, nginx's idle
 * upstream connections, and the gateway stopped (SIGTERM) and killed under load behind nginx.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

#define KEY     "wk_front_proxy_5e2"
#define LIM_KEY "wk_front_proxy_lim_7c1"

static gwfix_t F;
static int NGINX_PORT;

/* text with every @name@ replaced (the caller frees). */
static char *fill(const char *text, const char *const *pairs)
{
    size_t cap = strlen(text) * 2 + 4096, o = 0;
    char *out = malloc(cap);
    for (const char *p = text; *p;) {
        int done = 0;
        for (size_t i = 0; pairs[i] != NULL && !done; i += 2) {
            size_t n = strlen(pairs[i]);
            if (strncmp(p, pairs[i], n) == 0) {
                size_t vl = strlen(pairs[i + 1]);
                assert_true(o + vl < cap);
                memcpy(out + o, pairs[i + 1], vl);
                o += vl;
                p += n;
                done = 1;
            }
        }
        if (!done) {
            assert_true(o + 1 < cap);
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    assert_null(strchr(out, '@')); /* every placeholder filled */
    return out;
}

static int nginx_up(void *arg)
{
    (void)arg;
    return sluice_th_port_open(NGINX_PORT);
}

/* The gateway's config, with `trusted` (a server: line, or "") as its trusted_proxies. */
static void write_config(const char *trusted)
{
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"\"}\n"
             "  http: {listen: \"127.0.0.1:%d\"}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "%s"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"%s\"}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY, allowed_origins: [\"https://shop.example\"]}\n"
             "      - {id: lim, write_key_env: T_LIM_KEY, rate_limit: {per_second: 1, burst: 8},\n"
             "         client_rate_limit: {per_second: 0.2, burst: 2}}\n"
             "    consent: {policy: allow}\n",
             F.http_port, F.metrics_port, trusted, F.kafka.bootstrap, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    write_config("  trusted_proxies: [127.0.0.1]\n");
    static const char *env[] = {"T_KEY=" KEY, "T_LIM_KEY=" LIM_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);

    /* nginx, with deploy/nginx/front.conf as it is. */
    sluice_err_t err = {{0}};
    char src[PATH_MAX], dir[PATH_MAX], conf[PATH_MAX + 16], pid[PATH_MAX + 16], elog[PATH_MAX + 16];
    snprintf(src, sizeof(src), "%s/deploy/nginx/front.conf", getenv("SLUICE_SOURCE_DIR"));
    char *tmpl = sluice_th_read_file(src, NULL, &err);
    assert_non_null(tmpl);
    assert_int_equal(sluice_th_path(dir, sizeof(dir), "nginx", &err), 0);
    mkdir(dir, 0755);
    snprintf(conf, sizeof(conf), "%s/front.conf", dir);
    snprintf(pid, sizeof(pid), "%s/nginx.pid", dir);
    snprintf(elog, sizeof(elog), "%s/error.log", dir);
    NGINX_PORT = sluice_th_free_port(&err);
    char listen[64], upstream[64], cert[PATH_MAX + 16], key[PATH_MAX + 16];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", NGINX_PORT);
    snprintf(upstream, sizeof(upstream), "127.0.0.1:%d", F.http_port);
    snprintf(cert, sizeof(cert), "%s/server.crt", F.certs);
    snprintf(key, sizeof(key), "%s/server.key", F.certs);
    const char *pairs[] = {"@LISTEN@",   listen,   "@CERT@",      cert, "@KEY@", key,
                           "@UPSTREAM@", upstream, "@ERROR_LOG@", elog, NULL};
    char *text = fill(tmpl, pairs);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    free(tmpl);
    char global[PATH_MAX + 64];
    snprintf(global, sizeof(global), "daemon off; pid %s;", pid);
    const char *argv[] = {"nginx", "-p", dir, "-c", conf, "-g", global, NULL};
    sluice_th_spawn_opts_t opts = {.stop_signal = SIGQUIT};
    sluice_th_proc_t *ng = sluice_th_spawn("nginx", argv, &opts, &err);
    assert_non_null(ng);
    if (sluice_th_wait_until(nginx_up, NULL, 15000) != 0) {
        char tail[1024];
        sluice_th_log_tail(ng, tail, sizeof(tail));
        fail_msg("nginx did not listen: %s", tail);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    return 0;
}

/* The docs show the file the test runs, not a copy that could drift. */
static void test_docs_show_this_config(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/deploy/nginx/front.conf", getenv("SLUICE_SOURCE_DIR"));
    char *conf = sluice_th_read_file(path, NULL, NULL);
    snprintf(path, sizeof(path), "%s/docs/security.md", getenv("SLUICE_SOURCE_DIR"));
    char *doc = sluice_th_read_file(path, NULL, NULL);
    assert_non_null(conf);
    assert_non_null(doc);
    if (strstr(doc, conf) == NULL)
        fail_msg("docs/security.md does not show deploy/nginx/front.conf as it is");
    free(conf);
    free(doc);
}

static long post_via_nginx(const char *from, const char *mid, const char *extra_header, long *version)
{
    char url[128], body[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/t", NGINX_PORT);
    snprintf(body, sizeof(body), "{\"event\":\"Via nginx\",\"messageId\":\"%s\"}", mid);
    const char *h[] = {"Authorization: Bearer " KEY, "Content-Type: application/json", extra_header, NULL};
    http_opts_t o = {.headers = h, .body = body, .http2 = 1, .local_ip = from};
    http_resp_t r;
    http_do(url, &o, F.ca, &r);
    long status = r.status;
    *version = r.version;
    if (status != 200)
        print_error("via nginx: %ld %s (curl %d)\n", status, r.body, r.curl_error);
    http_resp_dispose(&r);
    return status;
}

static const char *context_ip(json_t *msgs, const char *mid)
{
    json_t *m = gwfix_find_message(msgs, mid);
    return json_string_value(
        json_object_get(json_object_get(json_object_get(json_object_get(m, "value"), "event"), "context"), "ip"));
}

static void test_events_and_addresses_through_nginx(void **state)
{
    (void)state;
    long version;
    assert_int_equal(post_via_nginx("127.0.0.77", "front-1", NULL, &version), 200);
    assert_int_equal(version, CURL_HTTP_VERSION_2_0); /* HTTP/2 to nginx */
    /* A client that writes its own X-Forwarded-For: nginx replaces it with the peer. */
    assert_int_equal(post_via_nginx("127.0.0.78", "front-2", "X-Forwarded-For: 6.6.6.6", &version), 200);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_int_equal(gwfix_count_message(msgs, "front-1"), 1);
    assert_int_equal(gwfix_count_message(msgs, "front-2"), 1);
    assert_string_equal(context_ip(msgs, "front-1"), "127.0.0.77");
    assert_string_equal(context_ip(msgs, "front-2"), "127.0.0.78");
    json_decref(msgs);
}

/* A request to nginx from client address `from` (HTTP/2 unless http1), with headers h. */
static void via_nginx(const char *method, const char *path, const char *const *h, const char *body, int http1,
                      const char *from, http_resp_t *r)
{
    char url[256];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", NGINX_PORT, path);
    http_opts_t o = {.method = method, .headers = h, .body = body, .http2 = !http1, .local_ip = from};
    http_do(url, &o, F.ca, r);
}

static long track_via_nginx(const char *key, const char *from, const char *mid, const char *const *extra, int http1)
{
    char auth[128], body[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    snprintf(body, sizeof(body), "{\"event\":\"Via nginx\",\"messageId\":\"%s\"}", mid);
    const char *h[16] = {auth, "Content-Type: application/json"};
    for (size_t i = 0; extra != NULL && extra[i] != NULL && i < 12; i++)
        h[2 + i] = extra[i];
    http_resp_t r;
    via_nginx(NULL, "/v1/t", h, body, http1, from, &r);
    long status = r.status;
    if (status != 200 && status != 429)
        print_error("via nginx: %ld %s (curl %d)\n", status, r.body, r.curl_error);
    http_resp_dispose(&r);
    return status;
}

/* Whatever a client writes as X-Forwarded-For (several headers, a list, junk, IPv6, ports), over
 * HTTP/2 or HTTP/1.1: the gateway sees the client's own address. */
static void test_forwarded_for_forgeries(void **state)
{
    (void)state;
    const char *several[] = {"X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 127.0.0.1", NULL};
    const char *list[] = {"X-Forwarded-For: 6.6.6.6, 127.0.0.1", NULL};
    const char *junk[] = {"X-Forwarded-For: junk, 6.6.6.6:80, [2001:db8::1]:443, unknown", NULL};
    const char *v6[] = {"X-Forwarded-For: 2001:db8::66", "X-Real-IP: 6.6.6.6", "Forwarded: for=6.6.6.6", NULL};
    const char *const *forged[] = {several, list, junk, v6};
    for (int i = 0; i < 8; i++) {
        char mid[32], from[32];
        snprintf(mid, sizeof(mid), "forged-%d", i);
        snprintf(from, sizeof(from), "127.0.0.%d", 100 + i);
        assert_int_equal(track_via_nginx(KEY, from, mid, forged[i % 4], i >= 4), 200);
    }
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    for (int i = 0; i < 8; i++) {
        char mid[32], from[32];
        snprintf(mid, sizeof(mid), "forged-%d", i);
        snprintf(from, sizeof(from), "127.0.0.%d", 100 + i);
        assert_int_equal(gwfix_count_message(msgs, mid), 1);
        assert_string_equal(context_ip(msgs, mid), from);
    }
    json_decref(msgs);
}

/* A trusted proxy that adds its own X-Forwarded-For header after the client's instead of
 * appending to it (HAProxy's `option forwardfor`, for one): several headers are one list in their
 * order, so the right-most address is the last header's, not the first's that the client wrote. */
static void test_forwarded_for_headers_in_order(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/t", F.http_port);
    const char *h[] = {"Authorization: Bearer " KEY, "Content-Type: application/json", "X-Forwarded-For: 6.6.6.6",
                       "X-Forwarded-For: 203.0.113.9", NULL};
    http_opts_t o = {.headers = h, .body = "{\"event\":\"Chain\",\"messageId\":\"chain-1\"}", .local_ip = "127.0.0.1"};
    http_resp_t r;
    http_do(url, &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_string_equal(context_ip(msgs, "chain-1"), "203.0.113.9");
    json_decref(msgs);
}

/* client_rate_limit behind nginx is the client's own: one client spends its bucket (whatever it
 * forges), and its refused requests do not spend the source's rate_limit, which the other clients
 * share. Buckets are per event-loop thread (two here): the client gets at most 2 x 2, the source
 * holds 2 x 4. */
static void test_client_rate_limit_through_nginx(void **state)
{
    (void)state;
    const char *forge[] = {"X-Forwarded-For: 127.0.0.121", NULL};
    int ok = 0, limited = 0;
    long long t0 = sluice_th_mono_ms();
    for (int i = 0; i < 20; i++) {
        char mid[32];
        snprintf(mid, sizeof(mid), "lim-a-%d", i);
        long s = track_via_nginx(LIM_KEY, "127.0.0.120", mid, i % 2 ? forge : NULL, i % 3 == 0);
        ok += s == 200;
        limited += s == 429;
    }
    /* What refilled meanwhile (0.2/s per thread) on a slow run counts too. */
    double allowed = 4 + 2 * 0.2 * (double)(sluice_th_mono_ms() - t0) / 1000.0;
    print_message("client A: %d accepted (allowed %.1f), %d limited\n", ok, allowed, limited);
    assert_true(ok >= 2 && ok <= allowed);
    assert_int_equal(ok + limited, 20);
    for (int i = 0; i < 2; i++) {
        char mid[32];
        snprintf(mid, sizeof(mid), "lim-b-%d", i);
        assert_int_equal(track_via_nginx(LIM_KEY, "127.0.0.121", mid, NULL, 0), 200);
    }
}

/* /metrics is the metrics listener's only: nginx reaches the public routes alone. */
static void test_metrics_not_through_nginx(void **state)
{
    (void)state;
    const char *paths[] = {"/metrics", "/v1/../metrics", "/%6detrics", "//metrics", NULL};
    for (size_t i = 0; paths[i] != NULL; i++) {
        http_resp_t r;
        via_nginx("GET", paths[i], NULL, NULL, 0, "127.0.0.130", &r);
        print_message("GET %s via nginx: %ld\n", paths[i], r.status);
        assert_true(r.status != 200);
        assert_false(gwfix_contains(r.body, "sluice_"));
        http_resp_dispose(&r);
    }
}

/* CORS through nginx: the preflight and the answer carry the gateway's headers. */
static void test_cors_through_nginx(void **state)
{
    (void)state;
    const char *pre[] = {"Origin: https://shop.example", "Access-Control-Request-Method: POST",
                         "Access-Control-Request-Headers: content-type", NULL};
    http_resp_t r;
    via_nginx("OPTIONS", "/v1/batch", pre, NULL, 0, "127.0.0.131", &r);
    print_message("preflight: %ld\n%s\n", r.status, r.headers);
    assert_true(r.status == 204 || r.status == 200);
    assert_string_equal(http_header(&r, "access-control-allow-origin"), "https://shop.example");
    http_resp_dispose(&r);
    const char *origin[] = {"Origin: https://shop.example", NULL};
    assert_int_equal(track_via_nginx(KEY, "127.0.0.131", "cors-1", origin, 0), 200);
    const char *evil[] = {"Origin: https://evil.example", NULL};
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", KEY);
    const char *h[] = {auth, "Content-Type: application/json", evil[0], NULL};
    via_nginx(NULL, "/v1/t", h, "{\"event\":\"x\",\"messageId\":\"cors-2\"}", 0, "127.0.0.131", &r);
    assert_int_equal(r.status, 403);
    http_resp_dispose(&r);
}

/* An operator who forgets server.trusted_proxies: every visitor is nginx's address. The gateway
 * says so in its log. */
static void test_forgotten_trusted_proxies_warned(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    write_config("");
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 1, 10000, &err), 0);
    assert_int_equal(track_via_nginx(KEY, "127.0.0.140", "forgot-1", NULL, 0), 200);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_string_equal(context_ip(msgs, "forgot-1"), "127.0.0.1"); /* nginx's */
    json_decref(msgs);
    int warned = sluice_th_wait_log(F.gw, "server.trusted_proxies does not list", 1, 3000, &err);
    write_config("  trusted_proxies: [127.0.0.1]\n");
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", 2, 10000, &err), 0);
    if (warned != 0)
        fail_msg("no warning in the gateway's log about X-Forwarded-For from an untrusted peer");
}

/* nginx lets an idle upstream connection go before the gateway closes it (request_timeout_ms,
 * 10 s by default, is also its keep-alive idle time): a request nginx sends on a connection the
 * gateway is closing that moment is lost with it, the client's 502 (proxy_next_upstream off). */
static void test_idle_upstream_released_by_nginx_first(void **state)
{
    (void)state;
    assert_int_equal(track_via_nginx(KEY, "127.0.0.160", "idle-1", NULL, 0), 200);
    long long t0 = sluice_th_mono_ms();
    double open = gwfix_metric(&F, "sluice_connections_open");
    while (open > 0 && sluice_th_mono_ms() - t0 < 8500) {
        usleep(250 * 1000);
        open = gwfix_metric(&F, "sluice_connections_open");
    }
    print_message("nginx's idle connections to the gateway: %.0f open after %lld ms\n", open, sluice_th_mono_ms() - t0);
    assert_true(open == 0);
}

/* ------------------------------------------------------------------ the gateway stopped behind nginx */

#define SENDERS    4
#define PER_SENDER 400

typedef struct sender {
    int index;
    const char *phase;
    atomic_int *stop;
    int sent;
    long status[PER_SENDER];
} sender_t;

static void *send_until_stopped(void *arg)
{
    sender_t *s = arg;
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", KEY);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    while (!atomic_load(s->stop) && s->sent < PER_SENDER) {
        char body[128], url[128];
        snprintf(body, sizeof(body), "{\"event\":\"Stop\",\"messageId\":\"%s-%d-%d\"}", s->phase, s->index, s->sent);
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/t", NGINX_PORT);
        http_opts_t o = {
            .headers = h, .body = body, .http2 = s->index % 2, .local_ip = "127.0.0.150", .timeout_ms = 20000};
        http_resp_t r;
        http_do(url, &o, F.ca, &r);
        s->status[s->sent++] = r.curl_error ? -r.curl_error : r.status;
        http_resp_dispose(&r);
    }
    return NULL;
}

/* Events keep arriving through nginx while the gateway gets sig: every 200 is in Kafka once, every
 * other answer is one the tag and the SDKs retry (503 from the draining gateway, 502 from nginx). */
static void stop_under_load(const char *phase, int sig)
{
    atomic_int stop = 0;
    sender_t s[SENDERS];
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        s[i] = (sender_t){.index = i, .phase = phase, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, send_until_stopped, &s[i]), 0);
    }
    usleep(700 * 1000);
    int ws = gwfix_stop(&F, sig);
    (void)ws;
    usleep(300 * 1000);
    atomic_store(&stop, 1);
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
    gwfix_start(&F);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    int counts[1000] = {0}, taken_unanswered = 0;
    for (int i = 0; i < SENDERS; i++) {
        for (int k = 0; k < s[i].sent; k++) {
            long st = s[i].status[k];
            char mid[64];
            snprintf(mid, sizeof(mid), "%s-%d-%d", phase, i, k);
            size_t n = gwfix_count_message(msgs, mid);
            if (st == 200 && n != 1)
                fail_msg("%s: %s answered 200, %zu times in Kafka", phase, mid, n);
            if (st != 200 && st != 502 && st != 503)
                fail_msg("%s: %s answered %ld (a retry is needed but may not come)", phase, mid, st);
            counts[st > 0 && st < 1000 ? st : 0]++;
            if (st != 200 && n > 0) {
                print_message("%s: %s answered %ld, yet in Kafka %zu times\n", phase, mid, st, n);
                taken_unanswered++;
            }
        }
    }
    print_message("%s: 200 x %d, 502 x %d, 503 x %d, other x %d; not 200 but in Kafka: %d\n", phase, counts[200],
                  counts[502], counts[503], counts[0], taken_unanswered);
    json_decref(msgs);
}

static void test_gateway_stopped_behind_nginx(void **state)
{
    (void)state;
    stop_under_load("term", SIGTERM);
    stop_under_load("kill", SIGKILL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_show_this_config),
        cmocka_unit_test(test_events_and_addresses_through_nginx),
        cmocka_unit_test(test_forwarded_for_forgeries),
        cmocka_unit_test(test_forwarded_for_headers_in_order),
        cmocka_unit_test(test_client_rate_limit_through_nginx),
        cmocka_unit_test(test_metrics_not_through_nginx),
        cmocka_unit_test(test_cors_through_nginx),
        cmocka_unit_test(test_forgotten_trusted_proxies_warned),
        cmocka_unit_test(test_idle_upstream_released_by_nginx_first),
        cmocka_unit_test(test_gateway_stopped_behind_nginx),
    };
    return cmocka_run_group_tests_name("integration.front_proxy", tests, setup, teardown);
}

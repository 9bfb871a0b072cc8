/*
 * The deployment docs/security.md recommends for HTTP/2: Debian's nginx in front, terminating TLS
 * and HTTP/2, speaking HTTP/1.1 keep-alive to the gateway's plain listener, with nginx in
 * server.trusted_proxies. The test runs exactly deploy/nginx/front.conf (only its @...@ values
 * filled in), checks that docs/security.md shows that same file, and sends events through it over
 * HTTP/2 from chosen client addresses: they arrive in Kafka with the client's address, never one a
 * client wrote into X-Forwarded-For itself.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

#define KEY "wk_front_proxy_5e2"

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

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"\"}\n"
             "  http: {listen: \"127.0.0.1:%d\"}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "  trusted_proxies: [127.0.0.1]\n"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"%s\"}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_KEY}]\n"
             "    consent: {policy: allow}\n",
             F.http_port, F.metrics_port, F.kafka.bootstrap, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"T_KEY=" KEY, NULL};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_show_this_config),
        cmocka_unit_test(test_events_and_addresses_through_nginx),
    };
    return cmocka_run_group_tests_name("integration.front_proxy", tests, setup, teardown);
}

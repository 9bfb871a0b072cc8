/*
 * The scale-out run on loopback (docs/proof.md, "The cluster run"): Debian's nginx running
 * deploy/nginx/balancer.conf as the TLS-terminating load balancer in front of two gateways, a
 * three-broker dev Kafka cluster (every topic replicated three times, the gateway producing with
 * acks=all), Redis, PostgreSQL, two sluice-deliver workers in one consumer group, the HTTPS Meta
 * stub and retrying clients with unique messageIds. While the clients post through nginx, in turn:
 *
 *   1. gateway 1 is killed with SIGKILL (clients go on through gateway 2), then started again;
 *   2. broker 2 of 3 goes down for 4 s and comes back;
 *   3. worker 1 is killed with SIGKILL (worker 2 takes its partitions);
 *   4. both gateways get SIGHUP with a new source added (its key works through either);
 *   5. cross-domain tokens are redeemed concurrently through both gateways, each token at the
 *      same instant on each.
 *
 * Afterwards, counted by messageId: every event answered 2xx is in sluice.events and was
 * delivered at the stub (answered 2xx) or dead-lettered; each token was redeemed exactly once.
 * The run prints the table docs/proof.md shows, with its wall time.
 *
 * Test thread only, except the token racers (one libcurl request each, no harness calls).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"
#include "tests/integration/loadgen.h"

#define KEY        "wk_cluster_3a7"
#define NEW_KEY    "wk_cluster_mobile_c41"
#define UA         "Mozilla/5.0 (sluice cluster run) Firefox/133.0"
#define EVENT_NAME "Cluster Load"
#define SHOP       "https://shop.acme.test"
#define CHECKOUT   "https://checkout.example-pay.com"
#define PARTITIONS 12
#define TOKENS     12

static gwfix_t G[2]; /* G[0] owns the Kafka cluster, Redis and the certificates; G[1] shares them */
static dfix_t D;
static dstub_t META;
static sluice_th_proc_t *WORKER[2];
static int WORKER_METRICS[2];
static int NGINX_PORT;
static char CONFIG[2][PATH_MAX];

static void check(int rc, const sluice_err_t *err, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %s", what, err->msg);
}

/* The config of gateway i and worker i (the same file: they differ only in their ports). */
static const char *config_text(int i, int with_mobile)
{
    static char yaml[32768];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  http: {listen: \"127.0.0.1:%d\"}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "  trusted_proxies: [127.0.0.1]\n"
             "  drain_timeout_ms: 5000\n"
             "kafka:\n"
             "  brokers: \"%s\"\n"
             "  ack_timeout_ms: 4000\n"
             "  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500, fetch.wait.max.ms: 100,\n"
             "               message.timeout.ms: 3000, reconnect.backoff.max.ms: 500,\n"
             "               topic.metadata.refresh.interval.ms: 1000}\n"
             "redis: {url: \"%s\", timeout_ms: 500}\n"
             "database: {url: \"%s\"}\n"
             "delivery: {ca_file: %s, metrics: {listen: \"127.0.0.1:%d\"}}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY, allowed_origins: [" SHOP ", " CHECKOUT "]}\n"
             "%s"
             "    identity:\n"
             "      cross_domain: {domains: [shop.acme.test, checkout.example-pay.com], token_ttl_s: 120}\n"
             "    consent: {policy: allow}\n"
             "    integrations:\n"
             "      - {name: meta, vendor: meta, pixel_id: \"4242\", base_url: \"%s\", events: [" EVENT_NAME "],\n"
             "         batch: {max_events: 200, max_wait_ms: 100},\n"
             "         retry: {max_attempts: 6, base_ms: 200, max_ms: 1000, max_elapsed_s: 60}, timeout_ms: 2000}\n",
             G[i].https_port, G[0].certs, G[0].certs, G[i].http_port, G[i].metrics_port, G[0].kafka.bootstrap,
             G[0].redis.url, D.pg.url, D.ca, WORKER_METRICS[i],
             with_mobile ? "      - {id: mobile, write_key_env: T_NEW}\n" : "", META.url);
    return yaml;
}

static void write_configs(int with_mobile)
{
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cluster-%d.yaml", i + 1);
        snprintf(CONFIG[i], sizeof(CONFIG[i]), "%s", gwfix_write(name, config_text(i, with_mobile)));
        memcpy(G[i].config, CONFIG[i], sizeof(G[i].config));
    }
}

static int gateway_ready(void *arg)
{
    gwfix_t *f = arg;
    if (!sluice_th_proc_running(f->gw))
        return 1;
    http_resp_t r;
    http_opts_t o = {.timeout_ms = 1000};
    http_do(gwfix_metrics_url(f, "/readyz"), &o, f->ca, &r);
    int ok = r.status == 200;
    http_resp_dispose(&r);
    return ok;
}

/* Gateway i as its own harness child ("gateway-<i+1>", its own log), ready on /readyz. */
static void start_gateway(int i)
{
    sluice_err_t err = {{0}};
    char bin[PATH_MAX], name[32];
    snprintf(bin, sizeof(bin), "%s/gateway/sluice-gateway", sluice_th_build_dir());
    snprintf(name, sizeof(name), "gateway-%d", i + 1);
    const char *argv[] = {bin, "--config", CONFIG[i], NULL};
    sluice_th_spawn_opts_t opts = {.env = G[i].env};
    G[i].gw = sluice_th_spawn(name, argv, &opts, &err);
    check(G[i].gw == NULL, &err, name);
    if (sluice_th_wait_until(gateway_ready, &G[i], 20000) != 0 || !sluice_th_proc_running(G[i].gw)) {
        char tail[2048];
        sluice_th_log_tail(G[i].gw, tail, sizeof(tail));
        fail_msg("%s did not become ready: %s", name, tail);
    }
}

static int log_count(sluice_th_proc_t *p, const char *needle)
{
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    int n = log != NULL ? sluice_th_count(log, needle) : 0;
    free(log);
    return n;
}

/* Worker i ("deliver-<i+1>"); waits for its first partition assignment. */
static void start_worker(int i)
{
    sluice_err_t err = {{0}};
    char bin[PATH_MAX], name[32];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    snprintf(name, sizeof(name), "deliver-%d", i + 1);
    const char *argv[] = {bin, "--config", CONFIG[i], NULL};
    sluice_th_spawn_opts_t opts = {.env = D.env};
    WORKER[i] = sluice_th_spawn(name, argv, &opts, &err);
    check(WORKER[i] == NULL, &err, name);
    check(sluice_th_wait_log(WORKER[i], "partitions assigned", 1, 60000, &err), &err, name);
}

static int nginx_up(void *arg)
{
    (void)arg;
    return sluice_th_port_open(NGINX_PORT);
}

/* nginx running deploy/nginx/balancer.conf with only its @...@ values filled in. */
static void start_nginx(void)
{
    sluice_err_t err = {{0}};
    char src[PATH_MAX], dir[PATH_MAX], conf[PATH_MAX + 16], pid[PATH_MAX + 16], elog[PATH_MAX + 16];
    snprintf(src, sizeof(src), "%s/deploy/nginx/balancer.conf", getenv("SLUICE_SOURCE_DIR"));
    char *text = sluice_th_read_file(src, NULL, &err);
    assert_non_null(text);
    check(sluice_th_path(dir, sizeof(dir), "nginx", &err), &err, "tmpdir");
    mkdir(dir, 0755);
    snprintf(conf, sizeof(conf), "%s/balancer.conf", dir);
    snprintf(pid, sizeof(pid), "%s/nginx.pid", dir);
    snprintf(elog, sizeof(elog), "%s/error.log", dir);
    NGINX_PORT = sluice_th_free_port(&err);
    char v[6][PATH_MAX + 16];
    snprintf(v[0], sizeof(v[0]), "127.0.0.1:%d", NGINX_PORT);
    snprintf(v[1], sizeof(v[1]), "%s/server.crt", G[0].certs);
    snprintf(v[2], sizeof(v[2]), "%s/server.key", G[0].certs);
    snprintf(v[3], sizeof(v[3]), "127.0.0.1:%d", G[0].http_port);
    snprintf(v[4], sizeof(v[4]), "127.0.0.1:%d", G[1].http_port);
    snprintf(v[5], sizeof(v[5]), "%s", elog);
    static const char *const names[] = {"@LISTEN@", "@CERT@", "@KEY@", "@GATEWAY1@", "@GATEWAY2@", "@ERROR_LOG@"};
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    for (const char *p = text; *p;) {
        size_t k = 0;
        while (k < 6 && strncmp(p, names[k], strlen(names[k])) != 0)
            k++;
        if (k < 6) {
            fputs(v[k], f);
            p += strlen(names[k]);
        } else {
            assert_true(*p != '@'); /* every placeholder is one of the above */
            fputc(*p++, f);
        }
    }
    fclose(f);
    free(text);
    char global[PATH_MAX + 64];
    snprintf(global, sizeof(global), "daemon off; pid %s;", pid);
    const char *argv[] = {"nginx", "-p", dir, "-c", conf, "-g", global, NULL};
    sluice_th_spawn_opts_t opts = {.stop_signal = SIGQUIT};
    sluice_th_proc_t *ng = sluice_th_spawn("nginx", argv, &opts, &err);
    check(ng == NULL, &err, "nginx");
    if (sluice_th_wait_until(nginx_up, NULL, 15000) != 0) {
        char tail[1024];
        sluice_th_log_tail(ng, tail, sizeof(tail));
        fail_msg("nginx did not listen: %s", tail);
    }
}

static int64_t T_START;

static int setup(void **state)
{
    (void)state;
    T_START = sluice_th_mono_ms();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Three brokers, every topic replicated three times; the partitions' leaders spread over them. */
    static const char *const kafka_args[] = {"--brokers", "3", "--partitions", "12", NULL};
    gwfix_stack_with(&G[0], kafka_args);
    sluice_err_t err = {{0}};
    for (int p = 0; p < PARTITIONS; p++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "leader sluice.events %d %d", p, 1 + p % 3);
        check(sluice_th_kafka_command(&G[0].kafka, cmd, &err), &err, cmd);
    }
    G[1] = G[0];
    G[1].gw = NULL;
    G[1].https_port = sluice_th_free_port(&err);
    G[1].http_port = sluice_th_free_port(&err);
    G[1].metrics_port = sluice_th_free_port(&err);
    dfix_init(&D, G[0].kafka.bootstrap, G[0].certs, NULL, 1);
    WORKER_METRICS[0] = D.metrics_port;
    WORKER_METRICS[1] = sluice_th_free_port(&err);
    dfix_stub(&D, &META, "meta", NULL, NULL);
    write_configs(0);
    memcpy(D.config, CONFIG[0], sizeof(D.config));
    static const char *env[] = {"T_KEY=" KEY, "T_NEW=" NEW_KEY, "ENCRYPTION_KEY=" DFIX_KEY1, "SLUICE_KEY_ID=1", NULL};
    for (int i = 0; i < 2; i++) {
        memcpy(G[i].env, env, sizeof(env));
        start_gateway(i);
    }
    dfix_vault_put(&D, "meta", "meta", "{\"access_token\":\"tok-cluster\"}");
    for (int i = 0; i < 2; i++)
        start_worker(i);
    start_nginx();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static void wait_acked(loadgen_t *lg, long more, int timeout_ms, const char *during)
{
    long from = loadgen_acked_now(lg);
    int64_t end = sluice_th_mono_ms() + timeout_ms;
    while (loadgen_acked_now(lg) < from + more && sluice_th_mono_ms() < end)
        sluice_th_sleep_ms(50);
    if (loadgen_acked_now(lg) < from + more)
        fail_msg("%s: the load did not get %ld more events acknowledged within %d ms", during, more, timeout_ms);
}

/* messageId -> copies, for every message of topic whose id starts with "<prefix>-". */
static json_t *ids_in_topic(const char *topic, const char *prefix)
{
    json_t *msgs = gwfix_kafka_read(&G[0], topic), *set = json_object();
    size_t i, pl = strlen(prefix);
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *id =
            json_string_value(json_object_get(json_object_get(json_object_get(m, "value"), "event"), "messageId"));
        if (id == NULL || strncmp(id, prefix, pl) != 0 || id[pl] != '-')
            continue;
        json_object_set_new(set, id, json_integer(json_integer_value(json_object_get(set, id)) + 1));
    }
    json_decref(msgs);
    return set;
}

/* The event ids of the Meta stub's requests it answered 2xx (id -> copies). */
static json_t *delivered_ids(void)
{
    json_t *reqs = dfix_requests(&META), *set = json_object();
    size_t i, j;
    json_t *r, *ev;
    json_array_foreach(reqs, i, r) {
        json_int_t answer = json_integer_value(json_object_get(r, "answer"));
        if (answer < 200 || answer > 299)
            continue;
        json_array_foreach(json_object_get(json_object_get(r, "json"), "data"), j, ev) {
            const char *id = json_string_value(json_object_get(ev, "event_id"));
            if (id != NULL)
                json_object_set_new(set, id, json_integer(json_integer_value(json_object_get(set, id)) + 1));
        }
    }
    json_decref(reqs);
    return set;
}

static long extra_copies(json_t *set)
{
    long n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(set, k, v) {
        n += (long)json_integer_value(v) - 1;
    }
    return n;
}

static int in_set(void *ud, const char *id)
{
    return json_object_get(ud, id) != NULL;
}

typedef struct outcome {
    json_t *delivered, *dead;
} outcome_t;

static int delivered_or_dead(void *ud, const char *id)
{
    outcome_t *o = ud;
    return json_object_get(o->delivered, id) != NULL || json_object_get(o->dead, id) != NULL;
}

/* POSTs one event with key to url; returns the status. */
static long post_event(const char *url, const char *key, const char *mid)
{
    char auth[128], body[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    snprintf(body, sizeof(body), "{\"event\":\"After reload\",\"messageId\":\"%s\"}", mid);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    http_opts_t o = {.headers = h, .body = body};
    http_resp_t r;
    http_do(url, &o, G[0].ca, &r);
    long st = r.status;
    http_resp_dispose(&r);
    return st;
}

/* ------------------------------------------------------------------ the token race */

typedef struct racer {
    char url[256];
    const char *body;
    pthread_barrier_t *go;
    long status;
    int redeemed;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    const char *h[] = {"Authorization: Bearer " KEY, "Content-Type: application/json", "Origin: " CHECKOUT, NULL};
    http_opts_t o = {.headers = h, .body = r->body};
    http_resp_t resp;
    pthread_barrier_wait(r->go);
    http_do(r->url, &o, G[0].ca, &resp);
    r->status = resp.status;
    r->redeemed = resp.body != NULL && strstr(resp.body, "\"redeemed\":true") != NULL;
    http_resp_dispose(&resp);
    return NULL;
}

/* A token issued on gateway g for a visitor of the shop (its proven cookie first). */
static char *issue_token(int g, int k)
{
    char body[256], url[512], cookie[600];
    snprintf(body, sizeof(body), "{\"event\":\"First\",\"anonymousId\":\"xd-visitor-%d\"}", k);
    const char *h1[] = {"Authorization: Bearer " KEY, "Content-Type: application/json", "Origin: " SHOP, NULL};
    http_opts_t o = {.headers = h1, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&G[g], "/v1/t"), &o, G[0].ca, &r);
    assert_int_equal(r.status, 200);
    const char *sc = http_header(&r, "set-cookie");
    assert_non_null(sc);
    snprintf(cookie, sizeof(cookie), "Cookie: %.*s", (int)strcspn(sc, ";"), sc);
    http_resp_dispose(&r);
    snprintf(url, sizeof(url), "%s", gwfix_url(&G[g], "/v1/xd?to=https%3A%2F%2Fcheckout.example-pay.com%2Fcart"));
    const char *h2[] = {"Authorization: Bearer " KEY, "Origin: " SHOP, cookie, NULL};
    http_opts_t o2 = {.headers = h2};
    http_do(url, &o2, G[0].ca, &r);
    if (r.status != 200)
        fail_msg("token: %ld %s", r.status, r.body);
    json_t *b = json_loads(r.body, 0, NULL);
    char *tok = strdup(json_string_value(json_object_get(b, "token")));
    json_decref(b);
    http_resp_dispose(&r);
    return tok;
}

static double tokens_total(const char *outcome)
{
    char series[96];
    snprintf(series, sizeof(series), "sluice_xd_tokens_total{outcome=\"%s\"}", outcome);
    double a = gwfix_metric(&G[0], series), b = gwfix_metric(&G[1], series);
    return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

/* Each token redeemed at the same instant through both gateways; returns how many tokens were
 * redeemed exactly once (both answers 200, one of them "redeemed":true). */
static int token_race(int *twice, int *never)
{
    int once = 0;
    *twice = *never = 0;
    for (int k = 0; k < TOKENS; k++) {
        char *tok = issue_token(k % 2, k);
        char body[1024];
        snprintf(body, sizeof(body), "{\"_dft\":\"%s\"}", tok);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        racer_t r[2];
        pthread_t t[2];
        for (int g = 0; g < 2; g++) {
            memset(&r[g], 0, sizeof(r[g]));
            snprintf(r[g].url, sizeof(r[g].url), "%s", gwfix_url(&G[g], "/v1/xd/redeem"));
            r[g].body = body;
            r[g].go = &go;
            assert_int_equal(pthread_create(&t[g], NULL, race, &r[g]), 0);
        }
        for (int g = 0; g < 2; g++)
            pthread_join(t[g], NULL);
        pthread_barrier_destroy(&go);
        free(tok);
        assert_int_equal(r[0].status, 200);
        assert_int_equal(r[1].status, 200);
        int n = r[0].redeemed + r[1].redeemed;
        if (n == 1)
            once++;
        else if (n == 2)
            (*twice)++;
        else
            (*never)++;
    }
    return once;
}

/* ------------------------------------------------------------------ the run */

static void test_cluster_under_faults(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    int64_t run_start = sluice_th_mono_ms();
    static char url[256];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1", NGINX_PORT);
    loadgen_opts_t o = {.url = url,
                        .ca = G[0].ca,
                        .write_key = KEY,
                        .id_prefix = "cl",
                        .event_name = EVENT_NAME,
                        .user_agent = UA,
                        .threads = 4,
                        .batch_every = 4,
                        .batch_size = 10,
                        .pace_ms = 5,
                        .retry_for_ms = 60000,
                        .retry_bad_gateway = 1};
    loadgen_t *lg = loadgen_start(&o);
    assert_non_null(lg);
    wait_acked(lg, 300, 30000, "start");
    assert_true(dfix_wait_requests(&META, 1, 30000) >= 1);

    /* 1. kill -9 one gateway: the clients go on through the other. */
    int64_t t0 = sluice_th_mono_ms();
    int st = gwfix_stop(&G[0], SIGKILL);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    long acked_at_kill = loadgen_acked_now(lg);
    sluice_th_sleep_ms(3000);
    wait_acked(lg, 300, 30000, "gateway 1 killed");
    long through_one = loadgen_acked_now(lg) - acked_at_kill;
    int64_t one_gateway_ms = sluice_th_mono_ms() - t0;
    start_gateway(0);
    wait_acked(lg, 200, 30000, "gateway 1 restarted");

    /* 2. One broker of three down for 4 s, then up. */
    check(sluice_th_kafka_command(&G[0].kafka, "down 2", &err), &err, "down 2");
    sluice_th_sleep_ms(4000);
    check(sluice_th_kafka_command(&G[0].kafka, "up 2", &err), &err, "up 2");
    wait_acked(lg, 300, 60000, "broker 2 back");

    /* 3. kill -9 one worker: the other takes its partitions. */
    int assigned0 = log_count(WORKER[1], "partitions assigned");
    sluice_th_proc_signal(WORKER[0], SIGKILL, &err);
    check(sluice_th_proc_wait(WORKER[0], 10000, &st, &err), &err, "worker 1");
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    check(sluice_th_wait_log(WORKER[1], "partitions assigned", assigned0 + 1, 30000, &err), &err,
          "worker 2 takes over");
    wait_acked(lg, 200, 30000, "worker 1 killed");

    /* 4. SIGHUP both gateways with a new source added. */
    assert_int_equal(post_event(gwfix_url(&G[1], "/v1/t"), NEW_KEY, "mob-before"), 401);
    write_configs(1);
    for (int g = 0; g < 2; g++) {
        int before = log_count(G[g].gw, "config reloaded");
        check(sluice_th_proc_signal(G[g].gw, SIGHUP, &err), &err, "SIGHUP");
        check(sluice_th_wait_log(G[g].gw, "config reloaded", before + 1, 15000, &err), &err, "reload");
    }
    char lb[128];
    snprintf(lb, sizeof(lb), "https://127.0.0.1:%d/v1/t", NGINX_PORT);
    assert_int_equal(post_event(gwfix_url(&G[0], "/v1/t"), NEW_KEY, "mob-1"), 200);
    assert_int_equal(post_event(gwfix_url(&G[1], "/v1/t"), NEW_KEY, "mob-2"), 200);
    assert_int_equal(post_event(lb, NEW_KEY, "mob-3"), 200);
    wait_acked(lg, 200, 30000, "reload");

    /* 5. The same token redeemed at once through both gateways, under the same load. */
    double redeemed0 = tokens_total("redeemed"), replayed0 = tokens_total("replayed");
    int twice, never;
    int once = token_race(&twice, &never);
    double redeemed = tokens_total("redeemed") - redeemed0, replayed = tokens_total("replayed") - replayed0;
    wait_acked(lg, 200, 30000, "token race");
    loadgen_stop(lg);
    loadgen_stats_t s = loadgen_stats(lg);
    int64_t load_ms = sluice_th_mono_ms() - run_start;

    /* Counted by messageId: in Kafka, then delivered or dead-lettered. */
    json_t *kafka = ids_in_topic("sluice.events", "cl");
    long missing = loadgen_count_missing(lg, in_set, kafka, 20);
    outcome_t out = {NULL, NULL};
    long lost = -1;
    for (int64_t until = sluice_th_mono_ms() + 90000; sluice_th_mono_ms() < until; sluice_th_sleep_ms(1000)) {
        json_decref(out.dead);
        json_decref(out.delivered);
        out.dead = ids_in_topic("sluice.dlq", "cl");
        out.delivered = delivered_ids();
        if ((lost = loadgen_count_missing(lg, delivered_or_dead, &out, 0)) == 0)
            break;
    }
    lost = loadgen_count_missing(lg, delivered_or_dead, &out, 20);
    int64_t wall_ms = sluice_th_mono_ms() - T_START;

    print_message("cluster: %ld events in %ld requests over %.1f s through nginx; 2xx %ld; retried %ld (503: %ld, "
                  "429: %ld, 502 from nginx: %ld, connection errors: %ld); given up %ld; unexpected %ld (first %ld)\n",
                  s.events, s.requests, (double)s.elapsed_ms / 1000, s.acked, s.retries, s.s503, s.s429, s.s502,
                  s.conn_errors, s.given_up, s.unexpected, s.first_unexpected);
    print_message("cluster: gateway 2 alone carried the load for %lld ms (%ld events acknowledged); worker 2 took "
                  "over worker 1's partitions\n",
                  (long long)one_gateway_ms, through_one);
    print_message("cluster: %d tokens each redeemed concurrently through both gateways: once %d, twice %d, never %d; "
                  "metrics redeemed +%.0f, replayed +%.0f\n",
                  TOKENS, once, twice, never, redeemed, replayed);
    print_message(
        "| events | requests | 2xx | retried (503 / 502 / connection) | in Kafka | delivered | dead-lettered | "
        "lost | tokens redeemed once | wall time |\n");
    print_message(
        "| %ld | %ld | %ld | %ld (%ld / %ld / %ld) | %zu (+%ld copies) | %zu | %zu | **%ld** | %d of %d | %.1f s "
        "(load %.1f s) |\n",
        s.events, s.requests, s.acked, s.retries, s.s503, s.s502, s.conn_errors, json_object_size(kafka),
        extra_copies(kafka), json_object_size(out.delivered), json_object_size(out.dead), lost, once, TOKENS,
        (double)wall_ms / 1000, (double)load_ms / 1000);

    assert_int_equal(s.unexpected, 0);
    assert_int_equal(s.given_up, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(once, TOKENS);
    assert_int_equal(redeemed, TOKENS);
    assert_int_equal(replayed, TOKENS);
    json_t *mobile = ids_in_topic("sluice.events", "mob");
    assert_int_equal(json_object_size(mobile), 3);
    json_decref(mobile);
    json_decref(kafka);
    json_decref(out.delivered);
    json_decref(out.dead);
    loadgen_destroy(lg);
    /* The survivors stop cleanly. */
    for (int g = 0; g < 2; g++)
        assert_true(sluice_th_exited_with(gwfix_stop(&G[g], SIGTERM), 0));
    sluice_th_proc_signal(WORKER[1], SIGTERM, &err);
    check(sluice_th_proc_wait(WORKER[1], 30000, &st, &err), &err, "worker 2 stop");
    assert_true(sluice_th_exited_with(st, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_under_faults),
    };
    return cmocka_run_group_tests_name("integration.cluster", tests, setup, teardown);
}

/*
 * `sluicectl forget` at a large site's scale (docs/privacy.md, "At scale"): the gateway's
 * suppression list with hundreds of thousands of pseudonyms, a gateway started before it could
 * read the list, a 64-character Redis key prefix, and the audit of tens of thousands of requests.
 *
 * The real gateway, Redis, PostgreSQL and the dev Kafka broker; the list is written into Redis
 * and PostgreSQL directly (what a million runs of forget leave there), in the shape forget writes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "crypto/pseudonym.h"
#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"

#define ACME_KEY   "wk_forget_scale_acme_71"
#define FORGET_KEY "forget-key-scale-0123456789abcdef-01234"
/* 64 characters, the longest redis.key_prefix the config takes. */
#define PREFIX    "sluice:a-very-long-deployment-name:production-eu-west-1:tenants:"
#define USER      "user-scale-1"
#define LIST_SIZE 500000

static gwfix_t G;
static dfix_t F;

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&G);
    dfix_init(&F, G.kafka.bootstrap, G.certs, NULL, 1);
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"%s\", timeout_ms: 500, key_prefix: \"" PREFIX "\"}\n"
             "database: {url: \"%s\"}\n"
             "forget: {key_env: T_FORGET_KEY, refresh_ms: 200}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_ACME_KEY}]\n"
             "    consent: {policy: allow}\n",
             G.https_port, G.certs, G.certs, G.metrics_port, G.kafka.bootstrap, G.redis.url, F.pg.url);
    snprintf(G.config, sizeof(G.config), "%s", gwfix_write("forget-scale.yaml", yaml));
    snprintf(F.config, sizeof(F.config), "%s", G.config);
    static const char *genv[] = {"T_ACME_KEY=" ACME_KEY, "T_FORGET_KEY=" FORGET_KEY, NULL};
    memcpy(G.env, genv, sizeof(genv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static redisReply *redis(const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", G.redis.port);
    assert_true(c != NULL && c->err == 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

static void pseudonym_of(const char *id, char hex[65])
{
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    assert_int_equal(sluice_pseudonym_org_key(FORGET_KEY, strlen(FORGET_KEY), "acme", key), 0);
    assert_int_equal(sluice_pseudonym_hex(key, id, strlen(id), hex), 0);
}

/* What `sluicectl forget` does to the gateway's list for one person. */
static void suppress_in_redis(const char *id)
{
    char hex[65];
    pseudonym_of(id, hex);
    freeReplyObject(redis("SADD " PREFIX "suppress acme:%s", hex));
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
}

static long readyz(char *body, size_t cap)
{
    http_resp_t r;
    http_opts_t o = {.timeout_ms = 1000};
    http_do(gwfix_metrics_url(&G, "/readyz"), &o, G.ca, &r);
    long status = r.status;
    snprintf(body, cap, "%s", r.body != NULL ? r.body : "");
    http_resp_dispose(&r);
    return status;
}

static long track(const char *user, const char *mid)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"type\":\"track\",\"event\":\"Viewed\",\"userId\":\"%s\",\"messageId\":\"%s\"}",
             user, mid);
    http_resp_t resp;
    long status = gwfix_post(&G, "/v1/track", ACME_KEY, body, &resp);
    http_resp_dispose(&resp);
    return status;
}

static void wait_gw_metric(const char *series, double want, int timeout_ms)
{
    double v = -1;
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if ((v = gwfix_metric(&G, series)) == want)
            return;
        usleep(100 * 1000);
    }
    fail_msg("%s is %g, not %g", series, v, want);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ the gateway */

/* A gateway (re)started while Redis is down cannot read the list: it enforced an empty one and
 * said it was ready, so a load balancer sent it traffic and every forgotten person's events
 * passed until Redis answered. It now stays out of rotation (503, "suppression":false) until it
 * has read the list once. The list is under a 64-character key prefix, which the gateway used to
 * cut (a 64-byte buffer) and so read an empty key: nobody was ever suppressed. */
static void test_not_ready_before_the_list_is_read(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_redis_stop(&G.redis, &err), 0);
    gwfix_start_unready(&G);

    char body[256] = "";
    long status = 0;
    int answered = 0, ready = 0;
    for (int waited = 0; waited < 8000; waited += 100) {
        status = readyz(body, sizeof(body));
        answered += status != 0;
        ready += status == 200;
        usleep(100 * 1000);
    }
    print_message("Redis down at start: /readyz %ld %s\n", status, body);
    assert_true(answered > 10); /* the gateway runs and answers its probe */
    assert_int_equal(ready, 0);
    assert_int_equal(status, 503);
    assert_non_null(strstr(body, "\"suppression\":false"));

    assert_int_equal(sluice_th_redis_restart(&G.redis, &err), 0);
    suppress_in_redis(USER);
    for (int waited = 0; waited < 15000 && (status = readyz(body, sizeof(body))) != 200; waited += 100)
        usleep(100 * 1000);
    assert_int_equal(status, 200);
    assert_null(strstr(body, "suppression"));
    wait_gw_metric("sluice_suppression_pseudonyms", 1, 5000);
    assert_int_equal(track(USER, "scale-forgotten-1"), 200);
    assert_true(gwfix_metric(&G, "sluice_events_suppressed_total{org=\"acme\"}") == 1);
    assert_true(sluice_th_exited_with(gwfix_stop(&G, SIGTERM), 0));
}

/* A Redis user allowed neither SSCAN nor SMEMBERS (an ACL made for another service, or a managed
 * Redis that renamed them): the gateway cannot read the list and stays unready for as long as
 * that lasts, which is right, but its log said only "cannot read the suppression list from
 * Redis", while the same Redis answered PING, dedup and tokens: nothing told the operator what to
 * fix. The line now carries Redis's reason; once the user may SSCAN the gateway becomes ready. */
static void test_unready_says_why(void **state)
{
    (void)state;
    freeReplyObject(redis("ACL SETUSER default -sscan -smembers"));
    gwfix_start_unready(&G);
    char body[256] = "";
    char *log = NULL;
    for (int waited = 0; waited < 8000; waited += 100) {
        free(log);
        log = sluice_th_read_file(sluice_th_proc_log(G.gw), NULL, NULL);
        if (log != NULL && strstr(log, "\"event\":\"forget.redis_unavailable\"") != NULL)
            break;
        usleep(100 * 1000);
    }
    assert_non_null(log);
    const char *line = strstr(log, "\"event\":\"forget.redis_unavailable\"");
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    print_message("%.*s\n", end != NULL ? (int)(end - line) : (int)strlen(line), line);
    const char *noperm = strstr(line, "NOPERM");
    assert_true(noperm != NULL && (end == NULL || noperm < end));
    free(log);
    assert_int_equal(readyz(body, sizeof(body)), 503);
    assert_non_null(strstr(body, "\"suppression\":false"));

    freeReplyObject(redis("ACL SETUSER default +sscan +smembers"));
    long status = 0;
    for (int waited = 0; waited < 10000 && (status = readyz(body, sizeof(body))) != 200; waited += 100)
        usleep(100 * 1000);
    assert_int_equal(status, 200);
    assert_true(sluice_th_exited_with(gwfix_stop(&G, SIGTERM), 0));
}

/* A list of LIST_SIZE pseudonyms (a large site's backlog) is read without holding Redis: one
 * SMEMBERS of it kept Redis busy for 0.1-3 s (every gateway's dedup, links and tokens waited,
 * each time a forget changed the list), and at 1M its reply came after the read timeout, so the
 * gateway never loaded the list. No command may now take Redis 50 ms. */
static void test_large_list_read_without_holding_redis(void **state)
{
    (void)state;
    redisContext *c = redisConnect("127.0.0.1", G.redis.port);
    assert_true(c != NULL && c->err == 0);
    enum { PER = 1000 };
    const char *argv[PER + 2];
    size_t lens[PER + 2];
    static char members[PER][80];
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    assert_int_equal(sluice_pseudonym_org_key(FORGET_KEY, strlen(FORGET_KEY), "acme", key), 0);
    argv[0] = "SADD";
    argv[1] = PREFIX "suppress";
    for (int b = 0; b < LIST_SIZE / PER; b++) {
        for (int i = 0; i < PER; i++) {
            char id[32], hex[65];
            snprintf(id, sizeof(id), "backlog-%d", b * PER + i);
            assert_int_equal(sluice_pseudonym_hex(key, id, strlen(id), hex), 0);
            snprintf(members[i], sizeof(members[i]), "acme:%s", hex);
            argv[i + 2] = members[i];
        }
        for (int i = 0; i < PER + 2; i++)
            lens[i] = strlen(argv[i]);
        redisAppendCommandArgv(c, PER + 2, argv, lens);
    }
    for (int b = 0; b < LIST_SIZE / PER; b++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    freeReplyObject(redisCommand(c, "INCR " PREFIX "suppress:gen"));
    freeReplyObject(redisCommand(c, "CONFIG SET slowlog-log-slower-than 50000"));
    freeReplyObject(redisCommand(c, "SLOWLOG RESET"));

    double t0 = now_s();
    gwfix_start(&G);
    double started = now_s() - t0;
    wait_gw_metric("sluice_suppression_pseudonyms", LIST_SIZE + 1, 60000);
    print_message("gateway ready with %d pseudonyms after %.1f s\n", LIST_SIZE + 1, started);
    assert_int_equal(track(USER, "scale-forgotten-2"), 200);
    assert_true(gwfix_metric(&G, "sluice_events_suppressed_total{org=\"acme\"}") == 1);
    assert_int_equal(track("user-not-forgotten", "scale-kept-1"), 200);
    assert_true(gwfix_metric(&G, "sluice_events_suppressed_total{org=\"acme\"}") == 1);

    redisReply *slow = redisCommand(c, "SLOWLOG GET 10");
    assert_non_null(slow);
    for (size_t i = 0; i < slow->elements; i++) {
        const redisReply *e = slow->element[i];
        if (e->elements >= 4 && e->element[3]->elements > 0)
            print_error("Redis held %lld us by %s\n", e->element[2]->integer, e->element[3]->element[0]->str);
    }
    assert_int_equal(slow->elements, 0);
    freeReplyObject(slow);
    freeReplyObject(redisCommand(c, "CONFIG SET slowlog-log-slower-than 10000"));
    redisFree(c);
    assert_true(sluice_th_exited_with(gwfix_stop(&G, SIGTERM), 0));
}

/* ------------------------------------------------------------------ the audit */

/* `--list` of 40,000 requests (one undone). It looked up each request's undo and suppression by a
 * scan of both tables per request: at 40k it did not finish within a minute, at 1M never. */
static void test_list_of_many_requests(void **state)
{
    (void)state;
    PGconn *c = PQconnectdb(F.pg.url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    sluice_th_output_t out;
    const char *env[] = {"T_FORGET_KEY=" FORGET_KEY, NULL};
    const char *list[] = {"forget", "--config", F.config, "--list", "--org", "acme", NULL};
    dfix_sluicectl(&F, list, env, NULL, &out); /* applies the schema */
    sluice_th_output_dispose(&out);
    const char *sql[] = {
        "INSERT INTO forget_requests (request_id, action, org, requested_by, ids, state, suppressed, dsr_published)"
        " SELECT md5(i::text)::uuid, 'forget', 'acme', 'dpo', jsonb_build_array(jsonb_build_object('kind', 'userId',"
        " 'pseudonym', encode(sha256(i::text::bytea), 'hex'), 'form', 'raw')), 'done', 1, true"
        " FROM generate_series(1, 40000) i",
        "INSERT INTO forget_suppression (org, pseudonym, request_id) SELECT 'acme', encode(sha256(i::text::bytea),"
        " 'hex'), md5(i::text)::uuid FROM generate_series(2, 40000) i",
        "INSERT INTO forget_requests (request_id, action, org, requested_by, ids, undoes, state, lifted,"
        " dsr_published) VALUES ('00000000-0000-4000-8000-000000000001', 'undo', 'acme', 'dpo', '[]',"
        " md5('1')::uuid, 'done', 1, true)",
        "ANALYZE",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        PGresult *r = PQexec(c, sql[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("%s: %s", sql[i], PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);

    double t0 = now_s();
    dfix_sluicectl(&F, list, env, NULL, &out);
    double took = now_s() - t0;
    print_message("--list of 40,001 requests: %.1f s\n", took);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.errout, "40001 requests"));
    size_t lines = 0;
    for (const char *p = out.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 40001);
    /* The first request: undone, no longer suppressing; the second: suppressing, not undone. */
    char first[64], second[64];
    PGconn *q = PQconnectdb(F.pg.url);
    PGresult *r = PQexec(q, "SELECT md5('1')::uuid::text, md5('2')::uuid::text");
    snprintf(first, sizeof(first), "%s", PQgetvalue(r, 0, 0));
    snprintf(second, sizeof(second), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    PQfinish(q);
    const char *l1 = strstr(out.out, first), *l2 = strstr(out.out, second);
    assert_non_null(l1);
    assert_non_null(l2);
    char line[4096];
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(l1, "\n"), l1);
    assert_non_null(strstr(line, "\"undone_by\" : \"00000000-0000-4000-8000-000000000001\""));
    assert_non_null(strstr(line, "\"suppressing\" : false"));
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(l2, "\n"), l2);
    assert_non_null(strstr(line, "\"undone_by\" : null"));
    assert_non_null(strstr(line, "\"suppressing\" : true"));
    sluice_th_output_dispose(&out);
}

/* A test that failed midway leaves its gateway running, or Redis stopped: the next one starts
 * its own gateway and needs Redis. */
static int stop_gateway(void **state)
{
    (void)state;
    if (G.gw != NULL && sluice_th_proc_running(G.gw))
        gwfix_stop(&G, SIGKILL);
    redisContext *c = redisConnect("127.0.0.1", G.redis.port);
    int down = c == NULL || c->err != 0;
    redisFree(c);
    sluice_err_t err = {{0}};
    if (down)
        sluice_th_redis_restart(&G.redis, &err);
    freeReplyObject(redis("ACL SETUSER default +@all")); /* test_unready_says_why's, had it failed */
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unready_says_why, stop_gateway),
        cmocka_unit_test_teardown(test_not_ready_before_the_list_is_read, stop_gateway),
        cmocka_unit_test_teardown(test_large_list_read_without_holding_redis, stop_gateway),
        cmocka_unit_test(test_list_of_many_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

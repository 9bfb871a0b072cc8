/*
 * `sluicectl forget` at a large site's scale (docs/privacy.md, "At scale"): the gateway's
 * suppression list with hundreds of thousands of pseudonyms, a gateway started before it could
 * read the list, a 64-character Redis key prefix, and the audit of tens of thousands of requests.
 *
 * The real gateway, Redis, PostgreSQL and the dev Kafka broker; the list is written into Redis
 * and PostgreSQL directly (what a million runs of forget leave there), in the shape forget writes.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
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
#define BULK_KEY   "wk_forget_scale_bulk_72"
#define FORGET_KEY "forget-key-scale-0123456789abcdef-01234"
/* 64 characters, the longest redis.key_prefix the config takes. */
#define PREFIX    "sluice:a-very-long-deployment-name:production-eu-west-1:tenants:"
#define USER      "user-scale-1"
#define LIST_SIZE 500000

static gwfix_t G;
static dfix_t F;
static const char *forget_extra[4]; /* more of sluicectl's environment (skew_env), NULL-terminated */
static char slow_config[PATH_MAX];

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
             "    consent: {policy: allow}\n"
             "  - id: bulk\n"
             "    sources: [{id: web, write_key_env: T_BULK_KEY}]\n"
             "    consent: {policy: allow}\n",
             G.https_port, G.certs, G.certs, G.metrics_port, G.kafka.bootstrap, G.redis.url, F.pg.url);
    snprintf(G.config, sizeof(G.config), "%s", gwfix_write("forget-scale.yaml", yaml));
    snprintf(F.config, sizeof(F.config), "%s", G.config);
    /* The same with a gateway slow to look at its list: the window in which it still links the ids
     * of a person being forgotten (test_links_made_while_forget_runs). */
    char *r = strstr(yaml, "refresh_ms: 200}");
    assert_non_null(r);
    memmove(r + strlen("refresh_ms: 3000}"), r + strlen("refresh_ms: 200}"),
            strlen(r + strlen("refresh_ms: 200}")) + 1);
    memcpy(r, "refresh_ms: 3000}", strlen("refresh_ms: 3000}"));
    snprintf(slow_config, sizeof(slow_config), "%s", gwfix_write("forget-scale-slow.yaml", yaml));
    static const char *genv[] = {"T_ACME_KEY=" ACME_KEY, "T_BULK_KEY=" BULK_KEY, "T_FORGET_KEY=" FORGET_KEY, NULL};
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

/* ------------------------------------------------------------------ batches (--file) */

/* Org bulk's pseudonym of id. */
static void bulk_pseudonym(const char *id, char hex[65])
{
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    assert_int_equal(sluice_pseudonym_org_key(FORGET_KEY, strlen(FORGET_KEY), "bulk", key), 0);
    assert_int_equal(sluice_pseudonym_hex(key, id, strlen(id), hex), 0);
}

/* `sluicectl forget --org bulk --file file` (input on stdin for "-"), with extra_env. */
static void forget_file(const char *file, const char *input, const char *extra_env, int timeout_ms,
                        sluice_th_output_t *out)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {"env",
                          "T_FORGET_KEY=" FORGET_KEY,
                          extra_env != NULL ? extra_env : "T_NOTHING=1",
                          bin,
                          "forget",
                          "--config",
                          F.config,
                          "--org",
                          "bulk",
                          "--by",
                          "dpo-batch",
                          "--file",
                          file,
                          NULL};
    sluice_err_t err = {{0}};
    memset(out, 0, sizeof(*out));
    if (sluice_th_run(argv, input, input != NULL ? strlen(input) : 0, timeout_ms, out, &err) != 0)
        fail_msg("sluicectl: %s", err.msg);
}

static long long sql_count(const char *sql)
{
    PGconn *c = PQconnectdb(F.pg.url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static long long redis_int(const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", G.redis.port);
    assert_true(c != NULL && c->err == 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    return v;
}

/* Reads the n replies of commands pipelined on c, and closes it. */
static void redis_drain(redisContext *c, int n)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    redisFree(c);
}

/* Another test's gateway must not load this org's pseudonyms (they count in its list's size). */
static int drop_bulk(void **state)
{
    (void)state;
    if (G.gw != NULL && sluice_th_proc_running(G.gw))
        gwfix_stop(&G, SIGKILL);
    G.env[3] = NULL; /* a skewed clock's (skew_env), had its test failed midway */
    forget_extra[0] = NULL;
    freeReplyObject(redis("DEL " PREFIX "suppress"));
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    /* A gateway killed keeps its word there for 20 s: forget would wait for it that long. */
    freeReplyObject(redis("DEL " PREFIX "suppress:seen"));
    PGconn *c = PQconnectdb(F.pg.url);
    /* These tests run first: nothing else is in the audit yet. (A DELETE of 100k requests checks
     * each one's `undoes` references by a scan of the table: it took minutes.) */
    PQclear(PQexec(c, "TRUNCATE forget_suppression, forget_requests"));
    PQfinish(c);
    return 0;
}

#define BATCH_SIZE 100000

/* A backlog of 100,000 people in one run. One request forgot one person and scanned all of the
 * org's links and dedup keys for it: a DPO's backlog was 100k runs (1.5-2 s each with 200k keys
 * in Redis), with no record of which lines were done. Now: one request per person in the audit,
 * one SCAN of each kind, one generation of the gateway's list, and the gateway then drops a
 * sample of them (by user id, and by the anonymous id Redis linked to one). */
static void test_batch_of_100k_people(void **state)
{
    (void)state;
    /* Redis as a busy site has it: links of 1,000 of the people (an anonymous id each), a dedup
     * key naming each of those, and 20,000 links and dedup keys of people not forgotten. */
    redisContext *c = redisConnect("127.0.0.1", G.redis.port);
    assert_true(c != NULL && c->err == 0);
    for (int i = 0; i < 21000; i++) {
        char hex[65], anon[32];
        snprintf(anon, sizeof(anon), "%s-%d", i < 1000 ? "bulk-anon" : "kept-anon", i);
        bulk_pseudonym(anon, hex);
        redisAppendCommand(c, "HSET " PREFIX "id:bulk:%s userId %s-%d", anon, i < 1000 ? "bulk-user" : "kept-user", i);
        redisAppendCommand(c, "SET " PREFIX "dedup:bulk:mid-%d %s EX 3600", i, hex);
    }
    redis_drain(c, 42000);
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    long long gen0 = redis_int("GET " PREFIX "suppress:gen");

    size_t cap = (size_t)BATCH_SIZE * 32;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    p += snprintf(p, cap, "# DSR backlog, exported 2026-12-05\n");
    for (int i = 0; i < BATCH_SIZE; i++)
        p += snprintf(p, cap - (size_t)(p - text), "user-id=bulk-user-%d\n", i);
    const char *file = gwfix_write("bulk-100k.txt", text);
    free(text);

    sluice_th_output_t out;
    double t0 = now_s();
    forget_file(file, NULL, NULL, 600000, &out);
    double took = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    print_message("forget --file of %d people: %.1f s, peak RSS %ld MB; %.300s\n", BATCH_SIZE, took,
                  ru.ru_maxrss / 1024, out.errout);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_true(ru.ru_maxrss < 512 * 1024); /* kB */
    assert_int_equal(count_of(out.out, ": request "), BATCH_SIZE);
    assert_non_null(strstr(out.out, "line 2: request "));   /* line 1 is the comment */
    assert_non_null(strstr(out.errout, "people recorded")); /* progress */
    assert_null(strstr(out.out, "bulk-user-"));             /* no raw id printed */
    assert_null(strstr(out.errout, "bulk-user-"));
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"
                               " AND requested_by = 'dpo-batch' AND dsr_published"),
                     BATCH_SIZE);
    assert_int_equal(sql_count("SELECT count(DISTINCT request_id) FROM forget_suppression WHERE org = 'bulk'"),
                     BATCH_SIZE);
    /* One generation for the whole batch: each gateway reloads the list once. */
    assert_int_equal(redis_int("GET " PREFIX "suppress:gen"), gen0 + 1);
    assert_int_equal(redis_int("SCARD " PREFIX "suppress"), BATCH_SIZE + 1000);
    /* The forgotten people's links and dedup keys went; the others' stayed. */
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:bulk-anon-7"), 0);
    assert_int_equal(redis_int("EXISTS " PREFIX "dedup:bulk:mid-7"), 0);
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:kept-anon-1007"), 1);
    assert_int_equal(redis_int("EXISTS " PREFIX "dedup:bulk:mid-1007"), 1);
    assert_int_equal(sql_count("SELECT sum(links_removed) FROM forget_requests WHERE org = 'bulk'"), 1000);
    assert_int_equal(sql_count("SELECT sum(dedup_keys_removed) FROM forget_requests WHERE org = 'bulk'"), 1000);
    sluice_th_output_dispose(&out);

    gwfix_start(&G);
    wait_gw_metric("sluice_suppression_pseudonyms", BATCH_SIZE + 1000, 60000);
    const char *series = "sluice_events_suppressed_total{org=\"bulk\"}";
    int sample[] = {0, 7, 4711, 50000, BATCH_SIZE - 1};
    for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"type\":\"track\",\"event\":\"Viewed\",\"userId\":\"bulk-user-%d\",\"messageId\":\"bulk-s-%zu\"}",
                 sample[i], i);
        http_resp_t resp;
        assert_int_equal(gwfix_post(&G, "/v1/track", BULK_KEY, body, &resp), 200);
        http_resp_dispose(&resp);
    }
    assert_true(gwfix_metric(&G, series) == 5);
    http_resp_t resp;
    assert_int_equal(gwfix_post(&G, "/v1/track", BULK_KEY,
                                "{\"type\":\"track\",\"event\":\"Viewed\",\"anonymousId\":\"bulk-anon-7\"}", &resp),
                     200);
    http_resp_dispose(&resp);
    assert_true(gwfix_metric(&G, series) == 6);
    assert_int_equal(gwfix_post(&G, "/v1/track", BULK_KEY,
                                "{\"type\":\"track\",\"event\":\"Viewed\",\"userId\":\"kept-user-1007\"}", &resp),
                     200);
    http_resp_dispose(&resp);
    assert_true(gwfix_metric(&G, series) == 6);
    assert_true(sluice_th_exited_with(gwfix_stop(&G, SIGTERM), 0));
}

/* A file of n people, line i naming <prefix>-user-<i> (and, with anon, <prefix>-anon-<i>). */
static const char *people_file(const char *name, int n, const char *prefix, int anon)
{
    size_t cap = (size_t)n * (2 * strlen(prefix) + 64);
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    for (int i = 0; i < n; i++) {
        p += snprintf(p, cap - (size_t)(p - text), "user-id=%s-user-%d", prefix, i);
        if (anon)
            p += snprintf(p, cap - (size_t)(p - text), "\tanonymous-id=%s-anon-%d", prefix, i);
        p += snprintf(p, cap - (size_t)(p - text), "\n");
    }
    const char *file = gwfix_write(name, text);
    free(text);
    return file;
}

/* A run killed half-way (after 1,000 of 2,500 people were recorded, before anything of theirs
 * was done in Redis or Kafka) and the same file run again: the 1,000 pending requests are
 * completed under their own ids, the 1,500 others made, nobody twice in the audit; a third run
 * finds everyone forgotten already and changes nothing. */
static void test_batch_killed_then_resumed(void **state)
{
    (void)state;
    enum { N = 2500 };
    const char *file = people_file("bulk-again.txt", N, "again", 1);
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));

    sluice_th_output_t out;
    forget_file(file, NULL, "SLUICE_FORGET_BATCH_DIE_AFTER=1000", 120000, &out);
    assert_true(WIFSIGNALED(out.wstatus));
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), 1000);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'pending'"), 1000);

    forget_file(file, NULL, NULL, 120000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_int_equal(count_of(out.out, " (resumed): "), 1000);
    assert_int_equal(count_of(out.out, ": request "), N);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), N);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"
                               " AND dsr_published AND suppressed = 2"),
                     N);
    /* Each person's id is suppressed by exactly one request. */
    char hex[65], sql[512];
    bulk_pseudonym("again-user-10", hex);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM forget_suppression WHERE org = 'bulk' AND pseudonym = '%s'", hex);
    assert_int_equal(sql_count(sql), 1);
    assert_int_equal(sql_count("SELECT count(*) FROM (SELECT pseudonym FROM forget_suppression WHERE org = 'bulk'"
                               " GROUP BY pseudonym HAVING count(*) > 1) d"),
                     0);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 1);
    sluice_th_output_dispose(&out);

    long long gen = redis_int("GET " PREFIX "suppress:gen");
    forget_file(file, NULL, NULL, 120000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_int_equal(count_of(out.out, ": forgotten already"), N);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), N);
    assert_int_equal(redis_int("GET " PREFIX "suppress:gen"), gen);
    sluice_th_output_dispose(&out);
}

/* Bad lines are refused with their number and never their content (it may be an id); nothing
 * is done for them, the good lines are, and the command fails so that the DPO looks. */
static void test_batch_bad_lines(void **state)
{
    (void)state;
    char many[1024] = "";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%suser-id=many-%d", i ? "\t" : "", i);
    char text[2048];
    snprintf(text, sizeof(text),
             "user-id=good-user-1\n"
             "secret-person@example.com\n"
             "user-id=good-user-2\tanonymous-id=good-anon-2\r\n"
             "user-id=\n"
             "%s\n"
             "\n"
             "email=half-bad@example.com\tuser-id=half-bad-user\n"
             "anonymous-id=good-anon-3\n",
             many);
    const char *file = gwfix_write("bulk-bad.txt", text);
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    print_message("%s", out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "line 2 refused"));
    assert_non_null(strstr(out.errout, "line 4 refused: empty id"));
    assert_non_null(strstr(out.errout, "line 5 refused: more than 16 ids"));
    assert_non_null(strstr(out.errout, "line 7 refused"));
    assert_null(strstr(out.errout, "secret-person"));
    assert_null(strstr(out.errout, "half-bad"));
    assert_null(strstr(out.out, "secret-person"));
    assert_int_equal(count_of(out.out, ": request "), 3);
    assert_non_null(strstr(out.out, "line 8: request "));
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"), 3);
    /* Nothing of a refused line: its valid-looking ids are on no list. */
    char hex[65], sql[512];
    const char *refused[] = {"half-bad-user", "many-0", "secret-person@example.com"};
    for (size_t i = 0; i < 3; i++) {
        bulk_pseudonym(refused[i], hex);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM forget_suppression WHERE pseudonym = '%s'", hex);
        assert_int_equal(sql_count(sql), 0);
        assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 0);
    }
    /* The CR of a Windows line end is not part of the id. */
    bulk_pseudonym("good-anon-2", hex);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 1);
    sluice_th_output_dispose(&out);
}

/* `--file -` reads stdin; an anonymous id Redis links to a user id on a line is forgotten with
 * them, their dedup key too; a line repeated is not a second request. */
static void test_batch_from_stdin(void **state)
{
    (void)state;
    char hex[65];
    bulk_pseudonym("stdin-anon-1", hex);
    freeReplyObject(redis("HSET " PREFIX "id:bulk:stdin-anon-1 userId stdin-user-1"));
    freeReplyObject(redis("SET " PREFIX "dedup:bulk:stdin-mid-1 %s", hex));
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    sluice_th_output_t out;
    forget_file("-", "user-id=stdin-user-1\nuser-id=stdin-user-2\nuser-id=stdin-user-1\n", NULL, 60000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_non_null(strstr(out.out, "line 1: request "));
    assert_non_null(strstr(out.out, "2 ids (1 linked in Redis), 2 pseudonyms suppressed, 1 identity links and 1 "
                                    "dedup keys deleted"));
    assert_non_null(strstr(out.out, "line 2: request "));
    /* The same person twice in a file is one request. */
    assert_non_null(strstr(out.out, "line 3: its ids are on a line before"));
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), 2);
    assert_null(strstr(out.out, "stdin-"));
    assert_null(strstr(out.errout, "stdin-"));
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 1);
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:stdin-anon-1"), 0);
    assert_int_equal(redis_int("EXISTS " PREFIX "dedup:bulk:stdin-mid-1"), 0);
    sluice_th_output_dispose(&out);
}

/* Two people on a file share an anonymous id (a family's computer): lines 1 and 1,001. A run is
 * killed after the first 1,000 people are recorded, and the file is run again. Line 1,001
 * named the shared id first, and the rerun took the pending request of line 1 that suppresses
 * it for this person's: both people in one request (undone together), the second with none of
 * their own. Now a request is resumed only by a line naming each id it was made for. */
static void test_batch_resumes_only_its_own_request(void **state)
{
    (void)state;
    enum { N = 1001 };
    char *text = malloc(N * 64), *p = text;
    assert_non_null(text);
    const size_t cap = N * 64;
    p += snprintf(p, cap, "user-id=share-user-1\tanonymous-id=share-device\n");
    for (int i = 2; i < N; i++)
        p += snprintf(p, cap - (size_t)(p - text), "user-id=share-filler-%d\n", i);
    snprintf(p, cap - (size_t)(p - text), "anonymous-id=share-device\tuser-id=share-user-2\n");
    const char *file = gwfix_write("bulk-share.txt", text);
    free(text);
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));

    sluice_th_output_t out;
    forget_file(file, NULL, "SLUICE_FORGET_BATCH_DIE_AFTER=1000", 120000, &out);
    assert_true(WIFSIGNALED(out.wstatus));
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), 1000);

    forget_file(file, NULL, NULL, 120000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_int_equal(count_of(out.out, " (resumed): "), 1000);
    assert_non_null(strstr(out.out, "line 1: request "));
    const char *l = strstr(out.out, "line 1001: request ");
    assert_non_null(l);
    assert_true(strncmp(l + strlen("line 1001: request ") + 36, " (resumed)", 10) != 0);
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"), N);
    /* Each person's user id under a request of their own; the shared id under both. */
    char h1[65], h2[65], hd[65], sql[1024];
    bulk_pseudonym("share-user-1", h1);
    bulk_pseudonym("share-user-2", h2);
    bulk_pseudonym("share-device", hd);
    snprintf(
        sql, sizeof(sql),
        "SELECT count(DISTINCT request_id) FROM forget_suppression WHERE org = 'bulk' AND pseudonym IN ('%s', '%s')",
        h1, h2);
    assert_int_equal(sql_count(sql), 2);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM forget_suppression WHERE org = 'bulk' AND pseudonym = '%s'", hd);
    assert_int_equal(sql_count(sql), 2);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", h2), 1);
}

/* Redis refuses the run's writes (here an ACL without SADD; a Redis gone away the same): every
 * request is recorded, on the worker's list and marked failed, the run exits 1 quoting no id;
 * the same file run again once Redis is back completes them under their own ids. */
static void test_batch_redis_failed_then_rerun(void **state)
{
    (void)state;
    freeReplyObject(redis("HSET " PREFIX "id:bulk:rfail-anon-1 userId rfail-user-1"));
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    const char *file = gwfix_write("bulk-rfail.txt", "user-id=rfail-user-1\nanonymous-id=rfail-anon-2\n");
    freeReplyObject(redis("ACL SETUSER default -sadd"));
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    freeReplyObject(redis("ACL SETUSER default +sadd"));
    print_message("%s", out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_int_equal(count_of(out.out, " failed: Redis failed"), 2);
    assert_null(strstr(out.out, "rfail-"));
    assert_null(strstr(out.errout, "rfail-"));
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'failed'"), 2);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_suppression WHERE org = 'bulk'"), 3);

    forget_file(file, NULL, NULL, 60000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_int_equal(count_of(out.out, " (resumed): "), 2);
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), 2);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"
                               " AND dsr_published"),
                     2);
    char hex[65];
    bulk_pseudonym("rfail-anon-1", hex);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 1);
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:rfail-anon-1"), 0);
}

/* A request of a batch undone (the person objected), then the same file run again, as the docs
 * say, to finish a line that failed: the undone person was forgotten again under a new request,
 * their events dropped again, in a run that exited 0. Now the line is left alone and says why. */
static void test_batch_rerun_leaves_an_undone_person_alone(void **state)
{
    (void)state;
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    const char *file = gwfix_write("bulk-undone.txt", "user-id=undone-user-1\nuser-id=undone-user-2\n");
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    const char *l = strstr(out.out, "line 1: request ");
    assert_non_null(l);
    char id[37];
    snprintf(id, sizeof(id), "%.36s", l + strlen("line 1: request "));
    sluice_th_output_dispose(&out);

    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {"env", "T_FORGET_KEY=" FORGET_KEY, bin, "forget", "--config", F.config, "--undo", id, NULL};
    sluice_err_t err = {{0}};
    memset(&out, 0, sizeof(out));
    if (sluice_th_run(argv, NULL, 0, 60000, &out, &err) != 0)
        fail_msg("sluicectl: %s", err.msg);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("undo: exit %d: %s", out.wstatus, out.errout);
    sluice_th_output_dispose(&out);
    char hex[65];
    bulk_pseudonym("undone-user-1", hex);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 0);

    forget_file(file, NULL, NULL, 60000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_non_null(strstr(out.out, "line 1: request "));
    assert_non_null(strstr(out.out, "was undone: left alone"));
    assert_non_null(strstr(out.out, "line 2: forgotten already"));
    sluice_th_output_dispose(&out);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 0);
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM forget_suppression WHERE org = 'bulk' AND pseudonym = '%s'", hex);
    assert_int_equal(sql_count(sql), 0);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND action = 'forget'"), 2);
}

/* A file saved as UTF-8 by Excel, Notepad or PowerShell starts with a byte order mark: its first
 * person is forgotten like the others (line 1 was refused, the mark read as part of "user-id="). */
static void test_batch_with_byte_order_mark(void **state)
{
    (void)state;
    const char *file = gwfix_write("bulk-bom.txt", "\xEF\xBB\xBFuser-id=bom-user-1\r\nuser-id=bom-user-2\r\n");
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_non_null(strstr(out.out, "line 1: request "));
    assert_non_null(strstr(out.out, "line 2: request "));
    sluice_th_output_dispose(&out);
    char hex[65];
    bulk_pseudonym("bom-user-1", hex);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 1);
}

/* A file saved as Latin-1 (Windows-1252): "j\xfcrgen@example.com" is bytes no event carries (an
 * event's ids are JSON, UTF-8). The line was made a request and reported done, suppressing
 * nobody, and the run exited 0; now it is refused by number and the run says it is not complete. */
static void test_batch_refuses_a_line_not_utf8(void **state)
{
    (void)state;
    const char *file = gwfix_write("bulk-latin1.txt", "user-id=latin-user-1\nuser-id=j\xfcrgen@example.com\n");
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.out, "line 1: request "));
    assert_non_null(strstr(out.errout, "line 2 refused: not UTF-8"));
    assert_null(strstr(out.out, "line 2:"));
    assert_null(strstr(out.errout, "rgen"));
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), 1);
}

/* `sluicectl forget` started in the background on config with the args after "forget", and its
 * output (stdout and stderr) in log. */
static sluice_th_proc_t *forget_spawn(const char *config, const char *const *args, const char *extra_env)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[24] = {bin, "forget", "--config", config};
    size_t n = 4;
    for (size_t i = 0; args[i] != NULL && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *env[] = {"T_FORGET_KEY=" FORGET_KEY,
                         extra_env != NULL ? extra_env : "T_NOTHING=1",
                         forget_extra[0],
                         forget_extra[1],
                         forget_extra[2],
                         NULL};
    sluice_th_spawn_opts_t o = {.env = env};
    sluice_err_t err = {{0}};
    sluice_th_proc_t *p = sluice_th_spawn("sluicectl-forget", argv, &o, &err);
    if (p == NULL)
        fail_msg("sluicectl: %s", err.msg);
    return p;
}

/* Waits for a forget_spawn'd run, shows its output, and fails unless it exited 0: its output
 * (the caller frees it). */
static char *forget_succeeded(sluice_th_proc_t *p)
{
    int wstatus = 0;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_proc_wait(p, 120000, &wstatus, &err), 0);
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    print_message("%s", log != NULL ? log : "");
    if (!sluice_th_exited_with(wstatus, 0))
        fail_msg("exit %d: %s", wstatus, log);
    return log;
}

static void identify(const char *user, const char *anon)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"type\":\"identify\",\"userId\":\"%s\",\"anonymousId\":\"%s\"}", user, anon);
    http_resp_t resp;
    assert_int_equal(gwfix_post(&G, "/v1/identify", BULK_KEY, body, &resp), 200);
    http_resp_dispose(&resp);
}

/* A person is forgotten while their browser still sends events: between forget's look at their
 * links and the moment each gateway enforces the new list (forget.refresh_ms, seconds more to load
 * a long list), the gateway linked a new anonymous id of theirs to their user id. forget looked
 * only before: that link stayed in Redis, and the id's events (without the user id) went on to
 * Kafka. Now forget waits until every gateway enforces the list, looks again, and forgets the ids
 * linked meanwhile too. The single form (test_links_made_while_forget_runs) and a batch. */
static void links_made_while_forget_runs(const char *const *args, const char *user, const char *early, const char *late)
{
    snprintf(G.config, sizeof(G.config), "%s", slow_config);
    gwfix_start(&G);
    identify(user, early);
    long long linked = 0;
    for (int waited = 0; waited < 10000 && linked != 1; waited += 50) {
        linked = redis_int("EXISTS " PREFIX "id:bulk:%s", early);
        usleep(50 * 1000);
    }
    assert_int_equal(linked, 1);
    long long gen0 = redis_int("GET " PREFIX "suppress:gen");

    sluice_th_proc_t *p = forget_spawn(slow_config, args, NULL);
    /* The person's ids are on the gateway's list in Redis: the gateway has not looked yet. */
    for (int waited = 0; waited < 60000 && redis_int("GET " PREFIX "suppress:gen") == gen0; waited += 10)
        usleep(10 * 1000);
    identify(user, late); /* the person on a new device */
    char *log = forget_succeeded(p);
    assert_null(strstr(log, late));
    /* The gateway had not looked at the list yet: forget waited for it. */
    assert_non_null(strstr(log, "waiting for 1 of 1 gateways"));
    free(log);
    usleep(500 * 1000); /* a link sent late would be written by now */

    char hex[65];
    bulk_pseudonym(late, hex);
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:%s", early), 0);
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:%s", late), 0);
    assert_int_equal(redis_int("SISMEMBER " PREFIX "suppress bulk:%s", hex), 1);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM forget_suppression s JOIN forget_requests q USING (request_id)"
             " WHERE s.org = 'bulk' AND s.pseudonym = '%s' AND q.state = 'done' AND q.ids::text LIKE '%%%s%%'",
             hex, hex);
    assert_int_equal(sql_count(sql), 1);
    /* The new device's events are dropped by the gateway, as the person's. */
    const char *series = "sluice_events_suppressed_total{org=\"bulk\"}";
    double before = gwfix_metric(&G, series);
    char body[256];
    snprintf(body, sizeof(body), "{\"type\":\"track\",\"event\":\"Viewed\",\"anonymousId\":\"%s\"}", late);
    http_resp_t resp;
    assert_int_equal(gwfix_post(&G, "/v1/track", BULK_KEY, body, &resp), 200);
    http_resp_dispose(&resp);
    wait_gw_metric(series, (before > 0 ? before : 0) + 1, 10000);
    assert_true(sluice_th_exited_with(gwfix_stop(&G, SIGTERM), 0));
    /* A gateway stopped cleanly takes back its word (expired at once): forget does not wait for it. */
    redisReply *seen = redis("HVALS " PREFIX "suppress:seen");
    assert_int_equal(seen->type, REDIS_REPLY_ARRAY);
    assert_int_equal(seen->elements, 1);
    assert_string_equal(seen->element[0]->str, "0 0");
    freeReplyObject(seen);
}

static void test_links_made_while_forget_runs(void **state)
{
    (void)state;
    const char *args[] = {"--org", "bulk", "--user-id", "race-user-1", NULL};
    links_made_while_forget_runs(args, "race-user-1", "race-anon-1", "race-anon-2");
}

static void test_batch_links_made_while_it_runs(void **state)
{
    (void)state;
    const char *file = gwfix_write("bulk-race.txt", "user-id=race-user-b\nuser-id=race-user-c\n");
    const char *args[] = {"--org", "bulk", "--file", file, NULL};
    links_made_while_forget_runs(args, "race-user-b", "race-anon-b1", "race-anon-b2");
}

/* ------------------------------------------------------------------ clocks that disagree */

/* Test hook: the variables that offset a process's wall clock by by_s seconds (clockstep.c,
 * preloaded; the monotonic clocks untouched, the machine's clock never changed), into env[0..3),
 * their text in buf. Another host's clock, minutes off: NTP not running, or a VM resumed. */
static void skew_env(const char *env[3], char buf[3][PATH_MAX + 48], int by_s)
{
    char path[PATH_MAX];
    sluice_th_path(path, sizeof(path), "clock-skewed", NULL);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(buf[0], sizeof(buf[0]), "LD_PRELOAD=%s", SLUICE_TEST_CLOCKSTEP);
    snprintf(buf[1], sizeof(buf[1]), "SLUICE_TEST_CLOCK_STEP_FILE=%s", path);
    snprintf(buf[2], sizeof(buf[2]), "SLUICE_TEST_CLOCK_STEP_S=%d", by_s);
    for (int i = 0; i < 3; i++)
        env[i] = buf[i];
}

/* A gateway whose clock runs 10 minutes behind Redis's and forget's: its word in
 * <prefix>suppress:seen looked expired to forget, which dropped it and went on at once while that
 * gateway still took the person's events and linked their new device (the link stayed in Redis,
 * the device's events reached Kafka). */
static void test_gateway_clock_behind_still_waited_for(void **state)
{
    (void)state;
    static char buf[3][PATH_MAX + 48];
    skew_env(&G.env[3], buf, -600);
    const char *args[] = {"--org", "bulk", "--user-id", "skew-user-1", NULL};
    links_made_while_forget_runs(args, "skew-user-1", "skew-anon-1", "skew-anon-2");
    G.env[3] = NULL;
}

/* The same with forget's host 10 minutes ahead: every live gateway looked dead to it. */
static void test_forget_clock_ahead_still_waits(void **state)
{
    (void)state;
    static char buf[3][PATH_MAX + 48];
    skew_env(forget_extra, buf, 600);
    const char *args[] = {"--org", "bulk", "--user-id", "skew-user-2", NULL};
    links_made_while_forget_runs(args, "skew-user-2", "skew-anon-3", "skew-anon-4");
    forget_extra[0] = NULL;
}

/* A gateway killed (SIGKILL, the OOM killer: no word taken back) whose clock ran 10 minutes ahead,
 * or a forget 10 minutes behind: its word looked good for 10 minutes more, and every forget in
 * that time waited to its limit and failed ("1 of 1 gateways did not load the suppression list").
 * Its word holds a forget for as long as a live gateway's would (it may only be slow), then is
 * dropped: the request is done. */
static void killed_gateway_does_not_hold_forget(int gw_skew_s, int forget_skew_s, const char *user)
{
    static char gbuf[3][PATH_MAX + 48], fbuf[3][PATH_MAX + 48];
    if (gw_skew_s != 0)
        skew_env(&G.env[3], gbuf, gw_skew_s);
    if (forget_skew_s != 0)
        skew_env(forget_extra, fbuf, forget_skew_s);
    snprintf(G.config, sizeof(G.config), "%s", F.config);
    gwfix_start(&G);
    G.env[3] = NULL;
    for (int waited = 0; waited < 10000 && redis_int("HLEN " PREFIX "suppress:seen") != 1; waited += 50)
        usleep(50 * 1000);
    assert_int_equal(redis_int("HLEN " PREFIX "suppress:seen"), 1);
    gwfix_stop(&G, SIGKILL);

    const char *args[] = {"--org", "bulk", "--user-id", user, NULL};
    sluice_th_proc_t *p = forget_spawn(F.config, args, NULL);
    forget_extra[0] = NULL;
    free(forget_succeeded(p));
    assert_int_equal(redis_int("HLEN " PREFIX "suppress:seen"), 0); /* its word dropped */
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"), 1);
}

static void test_killed_gateway_clock_ahead(void **state)
{
    (void)state;
    killed_gateway_does_not_hold_forget(600, 0, "skew-user-3");
}

static void test_killed_gateway_forget_clock_behind(void **state)
{
    (void)state;
    killed_gateway_does_not_hold_forget(0, -600, "skew-user-4");
}

/* A run killed after its Redis step and its deletion records (SLUICE_FORGET_BATCH_DIE_AFTER=kafka),
 * and the file run again: the rerun found nothing left to delete and its final audit row said 0
 * links and 0 dedup keys removed (the first run's counts were never written), and it published
 * each record a second time (same key, same request id). */
static void test_batch_killed_after_kafka_then_resumed(void **state)
{
    (void)state;
    enum { N = 3 };
    char text[512] = "";
    for (int i = 0; i < N; i++) {
        char anon[32], hex[65];
        snprintf(anon, sizeof(anon), "kk-anon-%d", i);
        bulk_pseudonym(anon, hex);
        freeReplyObject(redis("HSET " PREFIX "id:bulk:%s userId kk-user-%d", anon, i));
        freeReplyObject(redis("SET " PREFIX "dedup:bulk:kk-mid-%d %s", i, hex));
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "user-id=kk-user-%d\n", i);
    }
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    const char *file = gwfix_write("bulk-kk.txt", text);

    sluice_th_output_t out;
    forget_file(file, NULL, "SLUICE_FORGET_BATCH_DIE_AFTER=kafka", 60000, &out);
    assert_true(WIFSIGNALED(out.wstatus));
    sluice_th_output_dispose(&out);
    /* Killed after Redis and Kafka, before the requests were marked done. */
    assert_int_equal(redis_int("EXISTS " PREFIX "id:bulk:kk-anon-1"), 0);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'pending'"), N);

    forget_file(file, NULL, NULL, 60000, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("exit %d: %s", out.wstatus, out.errout);
    assert_int_equal(count_of(out.out, " (resumed): "), N);
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk' AND state = 'done'"
                               " AND dsr_published"),
                     N);
    assert_int_equal(sql_count("SELECT sum(links_removed) FROM forget_requests WHERE org = 'bulk'"), N);
    assert_int_equal(sql_count("SELECT sum(dedup_keys_removed) FROM forget_requests WHERE org = 'bulk'"), N);

    /* One deletion record per request in kafka.dsr_topic. */
    PGconn *c = PQconnectdb(F.pg.url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT request_id::text FROM forget_requests WHERE org = 'bulk'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    json_t *dsr = gwfix_kafka_read(&G, "sluice.dsr");
    assert_non_null(dsr);
    for (int t = 0; t < PQntuples(r); t++) {
        char key[80];
        snprintf(key, sizeof(key), "bulk:%s", PQgetvalue(r, t, 0));
        size_t n = 0, i;
        json_t *m;
        json_array_foreach(dsr, i, m) {
            n += json_is_string(json_object_get(m, "key")) &&
                 strcmp(json_string_value(json_object_get(m, "key")), key) == 0;
        }
        if (n != 1)
            fail_msg("%zu records with key %s in sluice.dsr", n, key);
    }
    json_decref(dsr);
    PQclear(r);
    PQfinish(c);
}

/* Two runs of the same file at once (a DPO's retry while the first still runs, two operators):
 * neither saw the other's requests, and every person got two. The second is now refused. */
static void test_batch_same_file_twice_at_once(void **state)
{
    (void)state;
    enum { N = 2000 };
    const char *file = people_file("bulk-twice.txt", N, "twice", 0);
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));

    const char *args[] = {"--org", "bulk", "--file", file, NULL};
    sluice_th_proc_t *first = forget_spawn(F.config, args, NULL);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(first, "people read", 1, 60000, &err), 0);
    assert_int_equal(sluice_th_proc_signal(first, SIGSTOP, &err), 0); /* still running */
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    print_message("second run: %s", out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "another run of this file"));
    sluice_th_output_dispose(&out);
    /* Another file naming some of the same people (or the same file sorted otherwise): keyed by
     * the file's content, its lock was another one and it made its requests too. */
    char path[512]; /* gwfix_write's path is its buffer's, which the next write takes */
    snprintf(path, sizeof(path), "%s", file);
    forget_file(people_file("bulk-twice-some.txt", 10, "twice", 0), NULL, NULL, 60000, &out);
    print_message("other file: %s", out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "another run of this file"));
    sluice_th_output_dispose(&out);
    assert_int_equal(sluice_th_proc_signal(first, SIGCONT, &err), 0);
    int wstatus = 0;
    assert_int_equal(sluice_th_proc_wait(first, 120000, &wstatus, &err), 0);
    assert_true(sluice_th_exited_with(wstatus, 0));
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), N);

    /* Once the first is over, the file may be run again (everyone forgotten already). */
    forget_file(path, NULL, NULL, 60000, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_int_equal(count_of(out.out, ": forgotten already"), N);
    sluice_th_output_dispose(&out);
}

/* A line repeating a line that was refused (its person has more ids linked in Redis than forget
 * takes) said "forgotten with that one": nothing was done for either. */
static void test_batch_repeat_of_a_refused_line(void **state)
{
    (void)state;
    redisContext *c = redisConnect("127.0.0.1", G.redis.port);
    assert_true(c != NULL && c->err == 0);
    for (int i = 0; i < 300; i++)
        redisAppendCommand(c, "HSET " PREFIX "id:bulk:many-anon-%d userId many-user", i);
    redis_drain(c, 300);
    freeReplyObject(redis("INCR " PREFIX "suppress:gen"));
    const char *file =
        gwfix_write("bulk-refused-twice.txt", "user-id=many-user\nuser-id=other-user\nuser-id=many-user\n");
    sluice_th_output_t out;
    forget_file(file, NULL, NULL, 60000, &out);
    print_message("%s%s", out.out, out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "line 1 refused"));
    assert_non_null(strstr(out.out, "line 2: request "));
    assert_null(strstr(out.out, "forgotten with that one"));
    assert_non_null(strstr(out.out, "line 3: its ids are on a line before (line 1), which was refused"));
    sluice_th_output_dispose(&out);
    assert_int_equal(sql_count("SELECT count(*) FROM forget_requests WHERE org = 'bulk'"), 1);
    for (int i = 0; i < 300; i++)
        freeReplyObject(redis("DEL " PREFIX "id:bulk:many-anon-%d", i));
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
    freeReplyObject(redis("DEL " PREFIX "suppress:seen"));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: the peak RSS of the children waited for is then sluicectl's. */
        cmocka_unit_test_teardown(test_batch_of_100k_people, drop_bulk),
        cmocka_unit_test_teardown(test_batch_killed_then_resumed, drop_bulk),
        cmocka_unit_test_teardown(test_batch_bad_lines, drop_bulk),
        cmocka_unit_test_teardown(test_batch_from_stdin, drop_bulk),
        cmocka_unit_test_teardown(test_batch_redis_failed_then_rerun, drop_bulk),
        cmocka_unit_test_teardown(test_batch_resumes_only_its_own_request, drop_bulk),
        cmocka_unit_test_teardown(test_batch_with_byte_order_mark, drop_bulk),
        cmocka_unit_test_teardown(test_batch_rerun_leaves_an_undone_person_alone, drop_bulk),
        cmocka_unit_test_teardown(test_batch_refuses_a_line_not_utf8, drop_bulk),
        cmocka_unit_test_teardown(test_batch_killed_after_kafka_then_resumed, drop_bulk),
        cmocka_unit_test_teardown(test_batch_same_file_twice_at_once, drop_bulk),
        cmocka_unit_test_teardown(test_batch_repeat_of_a_refused_line, drop_bulk),
        cmocka_unit_test_teardown(test_links_made_while_forget_runs, drop_bulk),
        cmocka_unit_test_teardown(test_batch_links_made_while_it_runs, drop_bulk),
        cmocka_unit_test_teardown(test_gateway_clock_behind_still_waited_for, drop_bulk),
        cmocka_unit_test_teardown(test_forget_clock_ahead_still_waits, drop_bulk),
        cmocka_unit_test_teardown(test_killed_gateway_clock_ahead, drop_bulk),
        cmocka_unit_test_teardown(test_killed_gateway_forget_clock_behind, drop_bulk),
        cmocka_unit_test_teardown(test_unready_says_why, stop_gateway),
        cmocka_unit_test_teardown(test_not_ready_before_the_list_is_read, stop_gateway),
        cmocka_unit_test_teardown(test_large_list_read_without_holding_redis, stop_gateway),
        cmocka_unit_test(test_list_of_many_requests),
    };
    /* SLUICE_TEST_FILTER=test_batch_* runs some of them (cmocka's pattern). */
    if (getenv("SLUICE_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("SLUICE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}

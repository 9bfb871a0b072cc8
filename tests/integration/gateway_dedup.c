/*
 * messageId dedup when Kafka acknowledges only part of a batch: the real gateway, Redis and a
 * two-broker dev Kafka cluster whose odd partitions broker 2 leads. With broker 2 down, the
 * events of a batch that hash to odd partitions time out while the others are acknowledged (and
 * their reports come back first); the request gets 503 and the client retries the same batch once
 * broker 2 is back. Every event must then be in Kafka exactly once: the acknowledged ones skipped
 * as duplicates, the refused ones produced by the retry.
 *
 * Before delivery reports named their own event, the gateway matched them by arrival order and
 * remembered m0–m3 (refused) as delivered: the retry skipped them and wrote m4–m7 twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <zlib.h>

#include "tests/integration/gwfix.h"

#define KEY        "wk_live_dedup_partial"
#define PARTITIONS 8
#define EVENTS     8

static gwfix_t F;
/* anonymousId of each event: m0–m3 hash to partitions broker 2 leads (odd), m4–m7 to broker 1's. */
static char anon[EVENTS][32];

/* librdkafka's default partitioner for keyed messages (consistent_random): CRC-32 of the key
 * modulo the partition count; the gateway's key is "<org>:<anonymousId>". */
static int partition_of(const char *anonymous_id)
{
    char key[64];
    int n = snprintf(key, sizeof(key), "dedupco:%s", anonymous_id);
    return (int)(crc32(0L, (const Bytef *)key, (uInt)n) % PARTITIONS);
}

static void pick_ids(void)
{
    int odd = 0, even = 0;
    for (int k = 0; odd < EVENTS / 2 || even < EVENTS / 2; k++) {
        char id[32];
        snprintf(id, sizeof(id), "visitor-%d", k);
        if (partition_of(id) % 2 == 1 && odd < EVENTS / 2)
            snprintf(anon[odd++], sizeof(anon[0]), "%s", id);
        else if (partition_of(id) % 2 == 0 && even < EVENTS / 2)
            snprintf(anon[EVENTS / 2 + even++], sizeof(anon[0]), "%s", id);
    }
}

static void command(const char *cmd)
{
    sluice_err_t err = {{0}};
    if (sluice_th_kafka_command(&F.kafka, cmd, &err) != 0)
        fail_msg("dev-kafka %s: %s", cmd, err.msg);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const char *const kafka_args[] = {"--brokers", "2", "--partitions", "8", NULL};
    gwfix_stack_with(&F, kafka_args);
    /* Leaders before the gateway's producer first reads metadata: even partitions on broker 1,
     * odd ones on broker 2. */
    for (int p = 0; p < PARTITIONS; p++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "leader sluice.events %d %d", p, p % 2 == 0 ? 1 : 2);
        command(cmd);
    }
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             /* Reports for the refused events come after message.timeout.ms (3 s), well inside
              * the request's ack timeout, so the first answer is a 503 with every report in. */
             "kafka:\n"
             "  brokers: \"%s\"\n"
             "  ack_timeout_ms: 10000\n"
             "  properties: {message.timeout.ms: 3000, reconnect.backoff.max.ms: 500}\n"
             "redis: {url: \"%s\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: dedupco\n"
             "    sources: [{id: web, write_key_env: T_KEY}]\n"
             "    identity: {dedup: {enabled: true, window_s: 600}}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"T_KEY=" KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    pick_ids();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    return 0;
}

static char *batch_body(void)
{
    json_t *batch = json_array();
    for (int i = 0; i < EVENTS; i++) {
        char mid[32];
        snprintf(mid, sizeof(mid), "partial-m%d", i);
        json_array_append_new(batch, json_pack("{s:s,s:s,s:s,s:s}", "type", "track", "event", "Order Completed",
                                               "messageId", mid, "anonymousId", anon[i]));
    }
    json_t *root = json_pack("{s:o}", "batch", batch);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static void partial_failure_then_retry(void **state)
{
    (void)state;
    char *body = batch_body();
    http_resp_t r;

    command("down 2");
    long status = gwfix_post(&F, "/v1/batch", KEY, body, &r);
    print_message("with broker 2 down: %ld %s\n", status, r.body);
    assert_int_equal(status, 503);
    assert_true(gwfix_contains(r.body, "kafka_unavailable"));
    assert_non_null(http_header(&r, "retry-after"));
    http_resp_dispose(&r);
    /* Once broker 2 is back (kcat reads every partition): m4–m7 are in Kafka, m0–m3 are not. */
    command("up 2");
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    for (int i = 0; i < EVENTS; i++) {
        char mid[32];
        snprintf(mid, sizeof(mid), "partial-m%d", i);
        assert_int_equal(gwfix_count_message(msgs, mid), i < EVENTS / 2 ? 0 : 1);
    }
    json_decref(msgs);

    /* The client retries the same batch, as an SDK does after a 503, until it is taken. */
    status = 0;
    for (int attempt = 0; attempt < 20 && status != 200; attempt++) {
        sluice_th_sleep_ms(1000);
        status = gwfix_post(&F, "/v1/batch", KEY, body, &r);
        print_message("retry %d: %ld %s\n", attempt + 1, status, r.body);
        if (status != 200)
            http_resp_dispose(&r);
    }
    assert_int_equal(status, 200);
    assert_true(gwfix_contains(r.body, "\"accepted\":8"));
    http_resp_dispose(&r);
    free(body);

    msgs = gwfix_kafka_read(&F, "sluice.events");
    for (int i = 0; i < EVENTS; i++) {
        char mid[32];
        snprintf(mid, sizeof(mid), "partial-m%d", i);
        size_t n = gwfix_count_message(msgs, mid);
        if (n != 1)
            print_error("%s (anonymousId %s, partition %d) is in Kafka %zu times\n", mid, anon[i],
                        partition_of(anon[i]), n);
        assert_int_equal(n, 1);
        /* The partitions are the ones the test chose (the scenario really split the batch). */
        json_t *m = gwfix_find_message(msgs, mid);
        assert_int_equal(json_integer_value(json_object_get(m, "partition")) % 2, i < EVENTS / 2 ? 1 : 0);
    }
    json_decref(msgs);
    /* m4–m7 were acknowledged the first time, so every retry skipped them as duplicates. */
    assert_true(gwfix_metric(&F, "sluice_events_rejected_total{reason=\"duplicate\"}") >= EVENTS / 2);
}

/* redis-cli against the test's Redis; fails the test unless it exits 0. */
static void redis_cli(const char *const *args)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", F.redis.port);
    const char *argv[16] = {"redis-cli", "-h", "127.0.0.1", "-p", port};
    size_t n = 5;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sluice_err_t err = {{0}};
    sluice_th_output_t out = {0};
    if (sluice_th_run(argv, NULL, 0, 10000, &out, &err) != 0 || !sluice_th_exited_with(out.wstatus, 0))
        fail_msg("redis-cli %s: %s", args[0], err.msg);
    sluice_th_output_dispose(&out);
}

/* Redis out of memory (maxmemory reached under noeviction) answers writes with -OOM, and a replica
 * (a failover that demoted the server the gateway is connected to) with -READONLY: dedup cannot
 * remember what Kafka took. Ingestion goes on, as with any Redis failure, but the operator must
 * see it: sluice_redis_errors_total counts every command Redis refused. It counted timeouts and
 * lost connections only, so dedup stopped working with every metric at zero. */
static void redis_refusing_writes_is_counted(void **state)
{
    (void)state;
    http_resp_t r;
    double before = gwfix_metric(&F, "sluice_redis_errors_total");
    static const char *const policy[] = {"CONFIG", "SET", "maxmemory-policy", "noeviction", NULL};
    static const char *const full[] = {"CONFIG", "SET", "maxmemory", "1", NULL};
    static const char *const roomy[] = {"CONFIG", "SET", "maxmemory", "0", NULL};
    redis_cli(policy);
    redis_cli(full);
    const char *body = "{\"event\":\"Order Completed\",\"messageId\":\"oom-1\",\"anonymousId\":\"visitor-oom\"}";
    long status = gwfix_post(&F, "/v1/t", KEY, body, &r);
    http_resp_dispose(&r);
    double after = -1;
    for (int i = 0; i < 20 && after <= before; i++) {
        sluice_th_sleep_ms(100); /* the SET after the acknowledgement is answered after the request */
        after = gwfix_metric(&F, "sluice_redis_errors_total");
    }
    redis_cli(roomy);
    assert_int_equal(status, 200);
    print_message("redis errors before %.0f, after an event whose dedup SET got -OOM: %.0f\n", before, after);
    assert_true(after > before);
    /* And why, in the log. */
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_non_null(log);
    assert_true(gwfix_contains(log, "\"event\":\"redis.refused\""));
    assert_true(gwfix_contains(log, "OOM"));
    free(log);
}

/* A command to the Redis at host:port; the reply's integer (or 1 for OK), -1 on an error. */
static long long redis_at(const char *host, int port, const char *cmd)
{
    redisContext *c = redisConnect(host, port);
    if (c == NULL || c->err) {
        redisFree(c);
        return -1;
    }
    redisReply *x = redisCommand(c, cmd);
    long long v = x == NULL ? -1 : x->type == REDIS_REPLY_INTEGER ? x->integer : x->type == REDIS_REPLY_STATUS ? 1 : -1;
    freeReplyObject(x);
    redisFree(c);
    return v;
}

static void write_hosts(const char *path, const char *addr)
{
    FILE *f = fopen(path, "w"); /* in place: the gateway sees this file at /etc/hosts (a bind mount) */
    assert_non_null(f);
    fprintf(f, "127.0.0.1 localhost\n%s redis-primary.sluice.test\n", addr);
    fclose(f);
}

/* A failover behind a name (ElastiCache's and Memorystore's primary endpoint, Sentinel-fronted
 * DNS): the old primary becomes a replica and the name moves to the new one. The gateway resolved
 * redis.url once at start and stayed on the demoted server, every write answered -READONLY (dedup
 * off, links lost) until a restart. Two Redis on one port, 127.0.0.2 and 127.0.0.3; the gateway in
 * a mount namespace of its own whose /etc/hosts is the test's file. */
static void redis_failover_follows_the_name(void **state)
{
    (void)state;
    sluice_th_output_t probe = {0};
    sluice_err_t err = {{0}};
    static const char *const try_unshare[] = {"unshare", "--mount", "true", NULL};
    if (sluice_th_run(try_unshare, NULL, 0, 10000, &probe, &err) != 0 || !sluice_th_exited_with(probe.wstatus, 0)) {
        sluice_th_output_dispose(&probe);
        print_message("no mount namespace here (unshare --mount needs root): the failover is not shown\n");
        skip();
    }
    sluice_th_output_dispose(&probe);

    static sluice_th_redis_t a, b;
    static const sluice_th_redis_opts_t oa = {.bind = "127.0.0.2"}, ob = {.bind = "127.0.0.3"};
    if (sluice_th_redis_start_opts(&a, 0, &oa, &err) != 0 || sluice_th_redis_start_opts(&b, a.port, &ob, &err) != 0)
        fail_msg("redis: %s", err.msg);
    char hosts[512];
    snprintf(hosts, sizeof(hosts), "%s", gwfix_write("hosts", ""));
    write_hosts(hosts, "127.0.0.2");

    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"redis://redis-primary.sluice.test:%d\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: dedupco\n"
             "    sources: [{id: web, write_key_env: T_KEY}]\n"
             "    identity: {dedup: {enabled: true, window_s: 600}}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, a.port);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("failover.yaml", yaml));
    char script[700];
    snprintf(script, sizeof(script), "mount --bind '%s' /etc/hosts && exec \"$@\"", hosts);
    const char *const in_namespace[] = {"unshare", "--mount", "sh", "-c", script, "sh", NULL};
    gwfix_start_with(&F, in_namespace);

    /* Before: the name is 127.0.0.2, which remembers what Kafka took. */
    http_resp_t r;
    const char *body = "{\"event\":\"Viewed\",\"messageId\":\"fo-before\",\"anonymousId\":\"visitor-fo\"}";
    assert_int_equal(gwfix_post(&F, "/v1/t", KEY, body, &r), 200);
    http_resp_dispose(&r);
    long long have = 0;
    for (int i = 0; i < 30 && have != 1; i++) {
        sluice_th_sleep_ms(100);
        have = redis_at("127.0.0.2", a.port, "EXISTS sluice:dedup:dedupco:fo-before");
    }
    assert_int_equal(have, 1);

    /* The failover: 127.0.0.3 is the primary, 127.0.0.2 its replica, and the name moves. */
    char replicaof[64];
    snprintf(replicaof, sizeof(replicaof), "REPLICAOF 127.0.0.3 %d", b.port);
    assert_int_equal(redis_at("127.0.0.2", a.port, replicaof), 1);
    write_hosts(hosts, "127.0.0.3");

    /* Events go on being accepted; within seconds the new primary remembers them. */
    long long on_new = 0;
    int sent = 0;
    for (; sent < 40 && on_new != 1; sent++) {
        char mid[32], ev[160], key[96];
        snprintf(mid, sizeof(mid), "fo-after-%d", sent);
        snprintf(ev, sizeof(ev), "{\"event\":\"Viewed\",\"messageId\":\"%s\",\"anonymousId\":\"visitor-fo\"}", mid);
        assert_int_equal(gwfix_post(&F, "/v1/t", KEY, ev, &r), 200);
        http_resp_dispose(&r);
        sluice_th_sleep_ms(250);
        snprintf(key, sizeof(key), "EXISTS sluice:dedup:dedupco:%s", mid);
        on_new = redis_at("127.0.0.3", b.port, key);
    }
    print_message("the new primary remembered event %d after the failover\n", sent);
    assert_int_equal(on_new, 1);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_non_null(log);
    assert_true(gwfix_contains(log, "\"event\":\"redis.readonly\""));
    assert_true(gwfix_contains(log, "redis-primary.sluice.test resolves to 127.0.0.3 now (was 127.0.0.2)"));
    free(log);

    assert_int_equal(sluice_th_redis_stop(&a, &err), 0); /* the gateway: the group's teardown */
    assert_int_equal(sluice_th_redis_stop(&b, &err), 0);
}

/* An operator points redis.url at a node of a Redis Cluster (ElastiCache with cluster mode
 * enabled, a self-run Redis Cluster). Each node answers only for its own slots; for the others
 * it says MOVED. The gateway then deduplicated some events and not others, and its log said only
 * "Redis refused a command: MOVED 12182 127.0.0.1:..." once a minute. It says what is wrong. */
static void redis_cluster_is_named(void **state)
{
    (void)state;
    static sluice_th_redis_t node[3];
    static char conf[3][PATH_MAX];
    static const char *extra[3][6];
    static sluice_th_redis_opts_t opts[3];
    sluice_err_t err = {{0}};
    char addr[3][32];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cluster-nodes-%d.conf", i);
        snprintf(conf[i], sizeof(conf[i]), "%s", gwfix_write(name, ""));
        unlink(conf[i]); /* redis-server writes it; an empty one is refused */
        const char *e[] = {"--cluster-enabled", "yes", "--cluster-config-file", conf[i], NULL};
        memcpy(extra[i], e, sizeof(e));
        opts[i].extra = extra[i];
        if (sluice_th_redis_start_opts(&node[i], 0, &opts[i], &err) != 0)
            fail_msg("redis: %s", err.msg);
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", node[i].port);
    }
    const char *create[] = {"redis-cli", "--cluster",          "create", addr[0],         addr[1],
                            addr[2],     "--cluster-replicas", "0",      "--cluster-yes", NULL};
    sluice_th_output_t out = {0};
    if (sluice_th_run(create, NULL, 0, 30000, &out, &err) != 0 || !sluice_th_exited_with(out.wstatus, 0))
        fail_msg("redis-cli --cluster create: %s %s", err.msg, out.out);
    sluice_th_output_dispose(&out);
    /* The cluster serves once every node agrees on the slots. */
    for (int i = 0; i < 100; i++) {
        char port[16];
        snprintf(port, sizeof(port), "%d", node[0].port);
        const char *info[] = {"redis-cli", "-p", port, "CLUSTER", "INFO", NULL};
        int ok = sluice_th_run(info, NULL, 0, 5000, &out, &err) == 0 && strstr(out.out, "cluster_state:ok") != NULL;
        sluice_th_output_dispose(&out);
        if (ok)
            break;
        sluice_th_sleep_ms(100);
    }

    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"%s\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: dedupco\n"
             "    sources: [{id: web, write_key_env: T_KEY}]\n"
             "    identity: {dedup: {enabled: true, window_s: 600}}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, node[0].url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("cluster.yaml", yaml));
    /* Nor can it read the suppression list there (its key lives on whichever node holds the
     * slot): the gateway stays out of rotation rather than pass forgotten people's events. */
    gwfix_start_unready(&F);
    char body[256] = "";
    long status = 0;
    for (int i = 0; i < 20; i++) {
        http_resp_t rr;
        http_opts_t o = {.timeout_ms = 1000};
        http_do(gwfix_metrics_url(&F, "/readyz"), &o, F.ca, &rr);
        status = rr.status;
        snprintf(body, sizeof(body), "%s", rr.body != NULL ? rr.body : "");
        http_resp_dispose(&rr);
        sluice_th_sleep_ms(100);
    }
    assert_int_equal(status, 503);
    assert_non_null(strstr(body, "\"suppression\":false"));

    /* Events are still accepted (dedup is best effort); a dozen ids cover other nodes' slots. */
    http_resp_t r;
    for (int i = 0; i < 12; i++) {
        char ev[160];
        snprintf(ev, sizeof(ev), "{\"event\":\"Viewed\",\"messageId\":\"cl-%d\",\"anonymousId\":\"visitor-cl\"}", i);
        assert_int_equal(gwfix_post(&F, "/v1/t", KEY, ev, &r), 200);
        http_resp_dispose(&r);
    }
    char *log = NULL;
    for (int i = 0; i < 30; i++) {
        free(log);
        sluice_th_sleep_ms(100);
        log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
        if (gwfix_contains(log, "\"event\":\"redis.cluster\""))
            break;
    }
    assert_non_null(log);
    assert_true(gwfix_contains(log, "\"event\":\"redis.cluster\""));
    assert_true(gwfix_contains(log, "is a node of a Redis Cluster (cluster mode enabled)"));
    assert_true(gwfix_contains(log, "sluice needs one Redis with cluster mode disabled"));
    /* Once, not per command. */
    const char *at = strstr(log, "\"event\":\"redis.cluster\"");
    assert_null(strstr(at + 1, "\"event\":\"redis.cluster\""));
    free(log);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sluice_th_redis_stop(&node[i], &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partial_failure_then_retry),
        cmocka_unit_test(redis_refusing_writes_is_counted),
        cmocka_unit_test(redis_failover_follows_the_name),
        cmocka_unit_test(redis_cluster_is_named),
    };
    return cmocka_run_group_tests_name("integration.gateway_dedup", tests, setup, teardown);
}

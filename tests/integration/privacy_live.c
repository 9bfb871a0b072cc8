/*
 * Seeing what leaves, with real processes (docs/privacy.md "Live view"): the gateway's live page on
 * the metrics listener (off without SLUICE_LIVE_TOKEN, the bearer token checked, the events as
 * they went to Kafka, hashed, never raw, per org and source) and `sluicectl tail` following the
 * events topic (filtered by source and type, compact or pretty and coloured).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/sha.h>

#include "tests/integration/gwfix.h"

static gwfix_t F;

#define WEB_KEY "wk_live_web_7d1c"
#define APP_KEY "wk_live_app_2b9e"
#define TOKEN   "live-test-token-5f0e8a1b2c3d4e5f"
#define EMAIL   "Jane.Doe@Example.com"

static void write_config(const char *metrics_host)
{
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"%s:%d\"}\n"
             "  threads: 2\n"
             /* Kafka takes envelopes up to 8000 bytes here: a larger one is refused (413). */
             "kafka: {brokers: \"%s\", ack_timeout_ms: 5000, properties: {message.max.bytes: 8000}}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_WEB}\n"
             "      - {id: app, write_key_env: T_APP}\n"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      hash_fields: [{path: traits.email, normalize: email}]\n",
             F.https_port, F.certs, F.certs, metrics_host, F.metrics_port, F.kafka.bootstrap);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
}

static void set_env(int live)
{
    static const char *with[] = {"T_WEB=" WEB_KEY, "T_APP=" APP_KEY, "SLUICE_LIVE_TOKEN=" TOKEN, NULL};
    static const char *without[] = {"T_WEB=" WEB_KEY, "T_APP=" APP_KEY, NULL};
    memset(F.env, 0, sizeof(F.env));
    memcpy(F.env, live ? with : without, live ? sizeof(with) : sizeof(without));
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    write_config("127.0.0.1");
    set_env(0);
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (sluice_th_proc_running(F.gw))
        gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    curl_global_cleanup();
    return 0;
}

/* The hex SHA-256 of the normalised e-mail: what the data layer writes. */
static const char *email_hash(void)
{
    static char hex[65];
    const char *norm = "jane.doe@example.com";
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)norm, strlen(norm), d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return hex;
}

static long get(const char *url, const char *auth, const char *method, http_resp_t *r)
{
    const char *headers[] = {auth, NULL};
    http_opts_t o = {.headers = auth ? headers : NULL, .method = method};
    http_do(url, &o, F.ca, r);
    return r->status;
}

static void identify(const char *key, const char *mid)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"messageId\":\"%s\",\"userId\":\"u-1\",\"traits\":{\"email\":\"" EMAIL "\"}}", mid);
    http_resp_t r;
    long st = gwfix_post(&F, "/v1/i", key, body, &r);
    if (st != 200)
        print_error("identify %s: %ld %s\n", mid, st, r.body);
    assert_int_equal(st, 200);
    http_resp_dispose(&r);
}

/* ------------------------------------------------------------------ the page */

static void page_is_off_without_a_token(void **state)
{
    (void)state;
    const char *paths[] = {"/live", "/live/live.js", "/live/events?org=acme"};
    for (size_t i = 0; i < 3; i++) {
        http_resp_t r;
        assert_int_equal(get(gwfix_metrics_url(&F, paths[i]), "Authorization: Bearer " TOKEN, NULL, &r), 404);
        http_resp_dispose(&r);
    }
    /* Then on, for the rest. */
    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    set_env(1);
    gwfix_start(&F);
}

static void page_and_token(void **state)
{
    (void)state;
    http_resp_t r;
    assert_int_equal(get(gwfix_metrics_url(&F, "/live"), NULL, NULL, &r), 200);
    assert_true(gwfix_contains(http_header(&r, "content-type"), "text/html"));
    assert_true(gwfix_contains(http_header(&r, "content-security-policy"), "script-src 'self'"));
    assert_true(gwfix_contains(http_header(&r, "content-security-policy"), "frame-ancestors 'none'"));
    assert_true(gwfix_contains(r.body, "<script src=\"/live/live.js\""));
    http_resp_dispose(&r);
    assert_int_equal(get(gwfix_metrics_url(&F, "/live/live.js"), NULL, NULL, &r), 200);
    assert_true(gwfix_contains(http_header(&r, "content-type"), "text/javascript"));
    http_resp_dispose(&r);

    /* The data only with the token. */
    assert_int_equal(get(gwfix_metrics_url(&F, "/live/events"), NULL, NULL, &r), 401);
    assert_true(gwfix_contains(http_header(&r, "www-authenticate"), "Bearer"));
    http_resp_dispose(&r);
    assert_int_equal(get(gwfix_metrics_url(&F, "/live/events"), "Authorization: Bearer " TOKEN "x", NULL, &r), 401);
    http_resp_dispose(&r);
    assert_int_equal(get(gwfix_metrics_url(&F, "/live/events"), "Authorization: Basic " TOKEN, NULL, &r), 401);
    http_resp_dispose(&r);
    assert_int_equal(get(gwfix_metrics_url(&F, "/live/events"), "Authorization: Bearer " TOKEN, NULL, &r), 200);
    assert_true(gwfix_contains(r.body, "\"events\":["));
    http_resp_dispose(&r);
    assert_int_equal(get(gwfix_metrics_url(&F, "/live/events"), "Authorization: Bearer " TOKEN, "POST", &r), 405);
    http_resp_dispose(&r);
    /* Never on the public listener. */
    assert_int_equal(get(gwfix_url(&F, "/live/events"), "Authorization: Bearer " TOKEN, NULL, &r), 404);
    http_resp_dispose(&r);
    assert_int_equal(get(gwfix_url(&F, "/live"), NULL, NULL, &r), 404);
    http_resp_dispose(&r);
}

static json_t *live_events(const char *query)
{
    char path[256];
    snprintf(path, sizeof(path), "/live/events%s", query);
    http_resp_t r;
    long st = get(gwfix_metrics_url(&F, path), "Authorization: Bearer " TOKEN, NULL, &r);
    assert_int_equal(st, 200);
    /* Whatever the query, the raw e-mail never leaves in any form. */
    assert_false(gwfix_contains(r.body, "Jane.Doe"));
    assert_false(gwfix_contains(r.body, "jane.doe@example.com"));
    json_error_t e;
    json_t *j = json_loads(r.body, 0, &e);
    assert_non_null(j);
    http_resp_dispose(&r);
    return j;
}

static json_t *find(json_t *answer, const char *mid)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(answer, "events"), i, ev) {
        const char *m =
            json_string_value(json_object_get(json_object_get(json_object_get(ev, "envelope"), "event"), "messageId"));
        if (m != NULL && strcmp(m, mid) == 0)
            return ev;
    }
    return NULL;
}

static void events_as_they_left(void **state)
{
    (void)state;
    identify(WEB_KEY, "live-web-1");
    identify(APP_KEY, "live-app-1");
    /* Kept before it was produced: once the answer is 200 (Kafka acknowledged) it is there. */
    json_t *all = live_events("?org=acme");
    json_t *web = find(all, "live-web-1");
    assert_non_null(web);
    assert_non_null(find(all, "live-app-1"));
    assert_string_equal(json_string_value(json_object_get(web, "source")), "web");
    json_t *env = json_object_get(web, "envelope");
    json_t *event = json_object_get(env, "event");
    assert_string_equal(json_string_value(json_object_get(json_object_get(event, "traits"), "email")), email_hash());
    json_t *hashed = json_object_get(json_object_get(env, "privacy"), "hashed");
    assert_string_equal(json_string_value(json_array_get(hashed, 0)), "traits.email");

    /* The same envelope as in Kafka. */
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *kafka = gwfix_find_message(msgs, "live-web-1");
    assert_non_null(kafka);
    assert_true(json_equal(json_object_get(kafka, "value"), env));
    json_decref(msgs);

    /* By source, by org, and only what is newer than the cursor. */
    json_t *app = live_events("?org=acme&source=app");
    assert_null(find(app, "live-web-1"));
    assert_non_null(find(app, "live-app-1"));
    json_decref(app);
    json_t *other = live_events("?org=globex");
    assert_int_equal(json_array_size(json_object_get(other, "events")), 0);
    json_decref(other);
    char q[64];
    snprintf(q, sizeof(q), "?org=acme&after=%lld", (long long)json_integer_value(json_object_get(all, "next")));
    json_decref(all);
    identify(WEB_KEY, "live-web-2");
    json_t *newer = live_events(q);
    assert_int_equal(json_array_size(json_object_get(newer, "events")), 1);
    assert_non_null(find(newer, "live-web-2"));
    json_decref(newer);
}

/* The page shows what the gateway produced to Kafka: an event Kafka refused (here larger than it
 * takes, answered 413; a full queue is answered 503) never left and is not shown. It was kept
 * before it was offered to Kafka, so the operator saw an event that is in no topic. */
static void refused_by_kafka_not_shown(void **state)
{
    (void)state;
    json_t *before = live_events("?org=acme");
    char q[64];
    snprintf(q, sizeof(q), "?org=acme&after=%lld", (long long)json_integer_value(json_object_get(before, "next")));
    json_decref(before);
    static char body[12000], pad[5001];
    memset(pad, 'x', sizeof(pad) - 1);
    snprintf(body, sizeof(body),
             "{\"messageId\":\"live-too-big\",\"event\":\"Big\",\"properties\":{\"a\":\"%s\",\"b\":\"%s\"}}", pad, pad);
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY, body, &r), 413);
    assert_true(gwfix_contains(r.body, "larger than Kafka takes"));
    http_resp_dispose(&r);
    identify(WEB_KEY, "live-after-big");
    json_t *after = live_events(q);
    assert_null(find(after, "live-too-big"));
    assert_non_null(find(after, "live-after-big"));
    json_decref(after);
}

/* ------------------------------------------------------------------ sluicectl tail */

static sluice_th_proc_t *tail(const char *name, const char *const *args)
{
    char ctl[PATH_MAX];
    snprintf(ctl, sizeof(ctl), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[16] = {ctl, "tail", "--config", F.config, "--org", "acme"};
    size_t n = 6;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sluice_err_t err = {{0}};
    sluice_th_proc_t *p = sluice_th_spawn(name, argv, NULL, &err);
    assert_non_null(p);
    if (sluice_th_wait_log(p, "tail: following sluice.events", 1, 20000, &err) != 0)
        fail_msg("sluicectl tail did not start: %s", err.msg);
    return p;
}

static char *finished_log(sluice_th_proc_t *p)
{
    int status = 0;
    sluice_err_t err = {{0}};
    if (sluice_th_proc_wait(p, 20000, &status, &err) != 0)
        fail_msg("sluicectl tail did not stop after -n: %s", err.msg);
    assert_true(sluice_th_exited_with(status, 0));
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    assert_non_null(log);
    return log;
}

static void tail_follows(void **state)
{
    (void)state;
    const char *args[] = {"--source", "web", "--type", "identify", "-n", "1", "--no-color", NULL};
    sluice_th_proc_t *p = tail("tail-compact", args);
    identify(APP_KEY, "tail-app-1"); /* another source: not shown */
    char body[256];
    snprintf(body, sizeof(body),
             "{\"messageId\":\"tail-web-track\",\"event\":\"Skip\",\"traits\":{\"email\":\"" EMAIL "\"}}");
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY, body, &r), 200); /* another type: not shown */
    http_resp_dispose(&r);
    identify(WEB_KEY, "tail-web-1");
    char *log = finished_log(p);
    assert_false(gwfix_contains(log, "Jane.Doe"));
    assert_false(gwfix_contains(log, "tail-app-1"));
    assert_false(gwfix_contains(log, "tail-web-track"));
    /* One compact JSON line: the envelope as in Kafka. */
    char *line = strstr(log, "\n{\"v\":1");
    assert_non_null(line);
    line++;
    char *end = strchr(line, '\n');
    assert_non_null(end);
    json_error_t e;
    json_t *env = json_loadb(line, (size_t)(end - line), 0, &e);
    assert_non_null(env);
    json_t *event = json_object_get(env, "event");
    assert_string_equal(json_string_value(json_object_get(event, "messageId")), "tail-web-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(event, "traits"), "email")), email_hash());
    json_decref(env);
    free(log);

    /* Pretty and coloured, from the topic's beginning: an identify of source app (which one comes
     * first depends on the partitions it landed in). */
    const char *pretty[] = {"--source", "app", "--pretty", "--color", "--from-beginning", "-n", "1", NULL};
    p = tail("tail-pretty", pretty);
    log = finished_log(p);
    assert_true(gwfix_contains(log, "\"live-app-1\"") || gwfix_contains(log, "\"tail-app-1\""));
    assert_true(gwfix_contains(log, "\n  \033[36m\"event\"\033[0m: {\n    ")); /* indented, keys in cyan */
    assert_true(gwfix_contains(log, "\033[1;31m\"privacy\"\033[0m: {"));       /* the privacy record stands out */
    char hashed[96];
    snprintf(hashed, sizeof(hashed), "\033[35m\"%s\"\033[0m", email_hash()); /* digests in magenta */
    assert_true(gwfix_contains(log, hashed));
    assert_false(gwfix_contains(log, "Jane.Doe"));
    free(log);
}

/* A careless operator puts the metrics listener, and with it the live page, on every interface: the
 * page's bearer token and the events cross the network in plain HTTP. The gateway says so when it
 * starts (it said nothing); on loopback it does not. */
static void exposed_live_page_is_warned(void **state)
{
    (void)state;
    char *log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_non_null(log);
    assert_true(gwfix_contains(log, "live.on"));
    assert_false(gwfix_contains(log, "live.exposed"));
    free(log);
    assert_true(sluice_th_exited_with(gwfix_stop(&F, SIGTERM), 0));
    write_config("0.0.0.0");
    gwfix_start(&F);
    sluice_err_t err = {{0}};
    if (sluice_th_wait_log(F.gw, "live.exposed", 1, 5000, &err) != 0)
        fail_msg("no live.exposed warning with the live page on 0.0.0.0: %s", err.msg);
    log = sluice_th_read_file(sluice_th_proc_log(F.gw), NULL, NULL);
    assert_non_null(log);
    assert_true(gwfix_contains(log, "every interface"));
    assert_false(gwfix_contains(log, TOKEN)); /* the token itself is never logged */
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_is_off_without_a_token),
        cmocka_unit_test(page_and_token),
        cmocka_unit_test(events_as_they_left),
        cmocka_unit_test(refused_by_kafka_not_shown),
        cmocka_unit_test(tail_follows),
        cmocka_unit_test(exposed_live_page_is_warned),
    };
    return cmocka_run_group_tests_name("privacy_live", tests, setup, teardown);
}

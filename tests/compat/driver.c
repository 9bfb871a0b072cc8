/*
 * Driver of the SDK compatibility suite: `compat_driver <case>` starts the real stack through the
 * gateway fixture (dev Kafka, Redis, sluice-gateway over HTTPS with the test CA) on a config made
 * for the SDKs (below), then runs `node tests/compat/run.mjs <case>`, which drives Segment's and
 * RudderStack's SDKs from npm, unchanged, against it (the browser ones in Debian's Chromium) and
 * makes the assertions. While the case runs, it asks this driver for what only the stack can do,
 * one JSON line per request on its fd 3, answered on its fd 4:
 *
 *   {"op":"kafka_read","topic":"sluice.events"}  every message of the topic, the value as the raw
 *                                                text Kafka holds ([{key, headers, raw}]), so a case
 *                                                can check numbers digit for digit
 *   {"op":"kafka_down"} / {"op":"kafka_up"}       all dev brokers down / up (503s from the gateway)
 *   {"op":"metric","series":"..."}                a value from the gateway's /metrics
 *
 * The gateway config: org "compat" (consent policy allow) with a browser source "web" (origin of
 * the test pages) and a write-key source "server" sent from servers (`sent_from: server`: many
 * users per batch, each event keeps its ids and context.ip); org "consented" (consent required:
 * analytics, policy strip, aliases for Segment's and OneTrust's category names) with a browser
 * source. Both hash traits.email.
 *
 * Answers are {"ok":true,"result":...} or {"ok":false,"error":"..."}. The case passes when node
 * exits 0; its output (and the gateway's log on failure) goes to ctest's output.
 * One thread, a cmocka test with one case.
 */
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"
#include "tests/integration/nodecase.h"

#define WEB_KEY     "wk_compat_web_51c2"
#define SERVER_KEY  "wk_compat_server_9e07"
#define CONSENT_KEY "wk_compat_consent_a4d8"

static gwfix_t F;
static const char *case_name;
static int page_port;

static void write_config(void)
{
    char origins[256];
    snprintf(origins, sizeof(origins), "[\"https://localhost:%d\"]", page_port);
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 1500}\n"
             "redis: {url: \"%s\", timeout_ms: 200}\n"
             "orgs:\n"
             "  - id: compat\n"
             "    sources:\n"
             "      - {id: web, write_key_env: C_WEB_KEY, allowed_origins: %s}\n"
             "      - {id: server, write_key_env: C_SERVER_KEY, sent_from: server}\n"
             "    consent: {policy: allow}\n"
             "    data_layer: {hash_fields: [{path: traits.email, normalize: email}]}\n"
             /* The vendors whose click ids the gateway keeps across pages (segment_browser_clicks). */
             "    integrations:\n"
             "      - {name: meta, vendor: meta, pixel_id: \"1234567890\"}\n"
             "      - {name: tiktok, vendor: tiktok, pixel_code: CABC123}\n"
             "      - {name: gads, vendor: google_ads, customer_id: \"1234567890\", conversion_action: \"987654321\"}\n"
             "  - id: consented\n"
             "    sources:\n"
             "      - {id: web, write_key_env: C_CONSENT_KEY, allowed_origins: %s}\n"
             "    consent:\n"
             "      required: [analytics]\n"
             "      policy: strip\n"
             "      aliases: {Analytics: analytics, Marketing: marketing, C0002: analytics, C0004: marketing}\n"
             "    data_layer: {hash_fields: [{path: traits.email, normalize: email}]}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, origins, origins);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    static const char *env[] = {"C_WEB_KEY=" WEB_KEY, "C_SERVER_KEY=" SERVER_KEY, "C_CONSENT_KEY=" CONSENT_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
}

/* One event through the gateway before the SDKs start, so the topic exists and kcat can read it
 * from the first request on. */
static void warm_up(void)
{
    http_resp_t r;
    long st = gwfix_post(&F, "/v1/t", WEB_KEY, "{\"messageId\":\"compat-warm-up\",\"event\":\"Warm Up\"}", &r);
    if (st != 200)
        print_error("warm-up event: %ld %s\n", st, r.body);
    assert_int_equal(st, 200);
    http_resp_dispose(&r);
}

static int setup(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F);
    page_port = sluice_th_free_port(&err);
    assert_true(page_port > 0);
    write_config();
    gwfix_start(&F);
    warm_up();
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

/* ------------------------------------------------------------------ requests from node */

/* Every message of topic with its value as Kafka holds it (gwfix_kafka_read would re-encode the
 * JSON, and with it every number). A topic that does not exist yet reads as empty. */
static json_t *kafka_raw(const char *topic)
{
    sluice_err_t err = {{0}};
    /* Key, headers and value separated by ASCII unit separators: none of them can contain one
     * (the value is compact JSON, where control characters are escaped). */
    const char *argv[] = {"kcat",      "-b", F.kafka.bootstrap,    "-t", topic, "-C", "-e", "-q", "-o",
                          "beginning", "-f", "%k\x1f%h\x1f%s\x1e", NULL};
    sluice_th_output_t out = {0};
    if (sluice_th_run(argv, NULL, 0, 60000, &out, &err) != 0 || !sluice_th_exited_with(out.wstatus, 0)) {
        int unknown = out.errout != NULL && strstr(out.errout, "Unknown topic") != NULL;
        json_t *a = unknown ? nodecase_ok(json_array())
                            : nodecase_error("kcat failed: %s %s", err.msg, out.errout ? out.errout : "");
        sluice_th_output_dispose(&out);
        return a;
    }
    json_t *all = json_array();
    for (char *rec = out.out; rec != NULL && *rec != '\0';) {
        char *end = strchr(rec, '\x1e');
        if (end == NULL)
            break;
        *end = '\0';
        char *s1 = strchr(rec, '\x1f'), *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
        if (s2 != NULL) {
            *s1 = *s2 = '\0';
            json_array_append_new(all, json_pack("{s:s,s:s,s:s}", "key", rec, "headers", s1 + 1, "raw", s2 + 1));
        }
        rec = end + 1;
    }
    sluice_th_output_dispose(&out);
    return nodecase_ok(all);
}

static json_t *handle(json_t *req)
{
    sluice_err_t err = {{0}};
    const char *op = json_string_value(json_object_get(req, "op"));
    if (op == NULL)
        return nodecase_error("no op");
    if (strcmp(op, "kafka_read") == 0) {
        const char *topic = json_string_value(json_object_get(req, "topic"));
        return kafka_raw(topic ? topic : "sluice.events");
    }
    if (strcmp(op, "kafka_down") == 0)
        return sluice_th_kafka_down(&F.kafka, &err) == 0 ? nodecase_ok(NULL) : nodecase_error("%s", err.msg);
    if (strcmp(op, "kafka_up") == 0)
        return sluice_th_kafka_up(&F.kafka, &err) == 0 ? nodecase_ok(NULL) : nodecase_error("%s", err.msg);
    if (strcmp(op, "metric") == 0) {
        const char *series = json_string_value(json_object_get(req, "series"));
        return series ? nodecase_ok(json_real(gwfix_metric(&F, series))) : nodecase_error("metric needs series");
    }
    return nodecase_error("unknown op '%s'", op);
}

/* ------------------------------------------------------------------ the case */

static void run_case(void **state)
{
    (void)state;
    char script[PATH_MAX], chromium[PATH_MAX];
    snprintf(script, sizeof(script), "%s/tests/compat/run.mjs", getenv("SLUICE_SOURCE_DIR"));
    const char *ch = getenv("SLUICE_CHROMIUM");
    snprintf(chromium, sizeof(chromium), "%s", ch && *ch ? ch : "/usr/bin/chromium");
    json_t *cfg = json_pack("{s:i,s:i,s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "gatewayPort", F.https_port, "pagePort", page_port,
                            "certs", F.certs, "chromium", chromium, "sourceDir", getenv("SLUICE_SOURCE_DIR"), "keys",
                            "web", WEB_KEY, "server", SERVER_KEY, "consent", CONSENT_KEY);
    char *cfg_text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);

    /* The server SDKs trust the test CA the way any node program is told to: no SDK option. */
    char cfg_env[8192], ca_env[sizeof(F.ca) + 32];
    int n = snprintf(cfg_env, sizeof(cfg_env), "SLUICE_COMPAT=%s", cfg_text);
    snprintf(ca_env, sizeof(ca_env), "NODE_EXTRA_CA_CERTS=%s", F.ca);
    assert_true(n > 0 && (size_t)n < sizeof(cfg_env));
    free(cfg_text);
    const char *env[] = {cfg_env, ca_env, NULL};
    int status = nodecase_run("compat driver", script, case_name, env, handle);
    if (!sluice_th_exited_with(status, 0)) {
        char tail[4096] = "";
        if (sluice_th_proc_running(F.gw))
            sluice_th_log_tail(F.gw, tail, sizeof(tail));
        print_error("compat case '%s' failed (status %d); gateway log ends: %s\n", case_name, status, tail);
    }
    assert_true(sluice_th_exited_with(status, 0));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: compat_driver CASE (a file of tests/compat/cases/, without .mjs)\n");
        return 2;
    }
    case_name = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(run_case)};
    return cmocka_run_group_tests_name(case_name, tests, setup, teardown);
}

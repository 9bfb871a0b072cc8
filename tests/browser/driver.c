/*
 * Driver of the browser tests: `browser_driver <case>` starts the real stack through the
 * gateway fixture (dev Kafka, Redis, sluice-gateway over HTTPS with the test CA), then runs
 * `node tests/browser/run.mjs <case>`, which serves the demo pages, drives Debian's Chromium
 * with playwright-core and makes its assertions. While the case runs, it asks this driver for
 * what only the stack can do, one JSON line per request on its fd 3, answered on its fd 4:
 *
 *   {"op":"kafka_read"}        -> every message of sluice.events ([{key, headers, value}])
 *   {"op":"kafka_down"} / {"op":"kafka_up"}       all dev brokers down / up (503s from the gateway)
 *   {"op":"gateway_stop"} / {"op":"gateway_start"} SIGTERM the gateway / start it again
 *   {"op":"metric","series":"..."}                 a value from the gateway's /metrics
 *   {"op":"stub_requests"}     what the Meta stub received (cases full_path and click_ids only)
 *
 * The gateway runs with SLUICE_LIVE_TOKEN set: its live page (metrics listener, case live) is on,
 * and the case gets the metrics port and the token.
 *
 * The cases full_path and click_ids also start the delivery side: PostgreSQL with the vault, an
 * HTTPS stub of Meta's Conversions API (tests/stubs) and sluice-deliver, so events go browser ->
 * gateway -> Kafka -> worker -> vendor.
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

#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"
#include "tests/integration/nodecase.h"

#define WEB_KEY     "wk_browser_web_3c9e"
#define SLOW_KEY    "wk_browser_slow_81d0"
#define CONSENT_KEY "wk_browser_consent_5a2f"
#define LIVE_TOKEN  "live_browser_token_8c41d7e2"

static gwfix_t F;
static const char *case_name;
static int page_port;
static dfix_t D; /* the delivery side, full_path and click_ids only */
static dstub_t META;

static void write_config(void)
{
    char origins[512];
    snprintf(origins, sizeof(origins), "[\"https://shop.acme.test:%d\", \"https://checkout.acme-pay.test:%d\"]",
             page_port, page_port);
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
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_WEB_KEY, allowed_origins: %s}\n"
             "      - {id: slow, write_key_env: T_SLOW_KEY, allowed_origins: %s,\n"
             "         rate_limit: {per_second: 0.5, burst: 1}}\n"
             "    identity:\n"
             "      cookie_domain: acme.test\n"
             "      vendor_cookies: [meta]\n"
             "      cross_domain: {domains: [shop.acme.test, checkout.acme-pay.test]}\n"
             "    consent: {policy: allow}\n"
             "    data_layer: {hash_fields: [{path: properties.email, normalize: email}]}\n"
             "%s"
             "  - id: consentco\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_CONSENT_KEY, allowed_origins: %s}\n"
             "    consent: {required: [analytics], policy: drop}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, origins, origins,
             /* The vendors whose click ids the gateway keeps across pages (case click_ids; the
              * worker's config has the same meta integration, pointed at the stub). */
             strcmp(case_name, "click_ids") == 0 ? "    integrations:\n"
                                                   "      - {name: meta, vendor: meta, pixel_id: \"1234567890\"}\n"
                                                   "      - {name: tiktok, vendor: tiktok, pixel_code: CABC123}\n"
                                                   "      - {name: gads, vendor: google_ads, customer_id: "
                                                   "\"1234567890\", conversion_action: \"987654321\"}\n"
                                                 : "",
             origins);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
    /* The live page is on in every case (case live opens it): the gateway keeps what it produced. */
    static const char *env[] = {"T_WEB_KEY=" WEB_KEY,
                                "T_SLOW_KEY=" SLOW_KEY,
                                "T_CONSENT_KEY=" CONSENT_KEY,
                                "ENCRYPTION_KEY=" DFIX_KEY1,
                                "SLUICE_KEY_ID=1",
                                "SLUICE_LIVE_TOKEN=" LIVE_TOKEN,
                                NULL};
    memcpy(F.env, env, sizeof(env));
}

/* One event through the gateway before the browser starts, so the topic exists and kcat can
 * read it from the first request on. */
static void warm_up(void)
{
    http_resp_t r;
    long st = gwfix_post(&F, "/v1/t", WEB_KEY, "{\"messageId\":\"browser-warm-up\",\"event\":\"Warm Up\"}", &r);
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
    if (strcmp(case_name, "full_path") == 0 || strcmp(case_name, "click_ids") == 0) {
        dfix_init(&D, F.kafka.bootstrap, F.certs, NULL, 1);
        dfix_stub(&D, &META, "meta", NULL, NULL);
        char integrations[512];
        snprintf(integrations, sizeof(integrations),
                 "      - {name: meta, vendor: meta, pixel_id: \"1234567890\", base_url: \"%s\", batch: {max_wait_ms: "
                 "200}}\n",
                 META.url);
        dfix_write_config(&D, integrations, NULL);
        dfix_vault_put(&D, "meta", "meta", "{\"access_token\":\"tok-browser-meta\"}");
        dfix_start_worker(&D, NULL, 1);
    }
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

static json_t *handle(json_t *req)
{
    sluice_err_t err = {{0}};
    const char *op = json_string_value(json_object_get(req, "op"));
    if (op == NULL)
        return nodecase_error("no op");
    if (strcmp(op, "kafka_read") == 0)
        return nodecase_ok(gwfix_kafka_read(&F, "sluice.events"));
    if (strcmp(op, "kafka_down") == 0)
        return sluice_th_kafka_down(&F.kafka, &err) == 0 ? nodecase_ok(NULL) : nodecase_error("%s", err.msg);
    if (strcmp(op, "kafka_up") == 0)
        return sluice_th_kafka_up(&F.kafka, &err) == 0 ? nodecase_ok(NULL) : nodecase_error("%s", err.msg);
    if (strcmp(op, "gateway_stop") == 0) {
        int st = gwfix_stop(&F, SIGTERM);
        return sluice_th_exited_with(st, 0) ? nodecase_ok(NULL) : nodecase_error("gateway exited with status %d", st);
    }
    if (strcmp(op, "gateway_start") == 0) {
        gwfix_start(&F);
        return nodecase_ok(NULL);
    }
    if (strcmp(op, "metric") == 0) {
        const char *series = json_string_value(json_object_get(req, "series"));
        return series ? nodecase_ok(json_real(gwfix_metric(&F, series))) : nodecase_error("metric needs series");
    }
    if (strcmp(op, "stub_requests") == 0)
        return META.proc != NULL ? nodecase_ok(dfix_requests(&META)) : nodecase_error("no vendor stub in this case");
    return nodecase_error("unknown op '%s'", op);
}

/* ------------------------------------------------------------------ the case */

static void run_case(void **state)
{
    (void)state;
    char script[PATH_MAX], chromium[PATH_MAX];
    snprintf(script, sizeof(script), "%s/tests/browser/run.mjs", getenv("SLUICE_SOURCE_DIR"));
    const char *ch = getenv("SLUICE_CHROMIUM");
    snprintf(chromium, sizeof(chromium), "%s", ch && *ch ? ch : "/usr/bin/chromium");
    json_t *cfg =
        json_pack("{s:i,s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "gatewayPort", F.https_port, "pagePort",
                  page_port, "metricsPort", F.metrics_port, "liveToken", LIVE_TOKEN, "certs", F.certs, "chromium",
                  chromium, "buildDir", sluice_th_build_dir(), "sourceDir", getenv("SLUICE_SOURCE_DIR"), "keys", "web",
                  WEB_KEY, "slow", SLOW_KEY, "consent", CONSENT_KEY);
    char *cfg_text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);

    char cfg_env[8192];
    int n = snprintf(cfg_env, sizeof(cfg_env), "SLUICE_BROWSER=%s", cfg_text);
    assert_true(n > 0 && (size_t)n < sizeof(cfg_env));
    free(cfg_text);
    const char *env[] = {cfg_env, NULL};
    int status = nodecase_run("browser driver", script, case_name, env, handle);
    if (!sluice_th_exited_with(status, 0)) {
        char tail[2048] = "";
        if (sluice_th_proc_running(F.gw))
            sluice_th_log_tail(F.gw, tail, sizeof(tail));
        print_error("browser case '%s' failed (status %d); gateway log ends: %s\n", case_name, status, tail);
    }
    assert_true(sluice_th_exited_with(status, 0));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: browser_driver CASE (a file of tests/browser/cases/, without .mjs)\n");
        return 2;
    }
    case_name = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(run_case)};
    return cmocka_run_group_tests_name(case_name, tests, setup, teardown);
}

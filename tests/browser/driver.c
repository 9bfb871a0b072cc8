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
 *   {"op":"stub_requests"}     what the Meta stub received (case full_path only)
 *
 * The gateway runs with SLUICE_LIVE_TOKEN set: its live page (metrics listener, case live) is on,
 * and the case gets the metrics port and the token.
 *
 * The case full_path also starts the delivery side: PostgreSQL with the vault, an HTTPS stub of
 * Meta's Conversions API (tests/stubs) and sluice-deliver, so events go browser -> gateway ->
 * Kafka -> worker -> vendor.
 *
 * Answers are {"ok":true,"result":...} or {"ok":false,"error":"..."}. The case passes when node
 * exits 0; its output (and the gateway's log on failure) goes to ctest's output.
 * One thread, a cmocka test with one case.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"

#define WEB_KEY     "wk_browser_web_3c9e"
#define SLOW_KEY    "wk_browser_slow_81d0"
#define CONSENT_KEY "wk_browser_consent_5a2f"
#define LIVE_TOKEN  "live_browser_token_8c41d7e2"

static gwfix_t F;
static const char *case_name;
static int page_port;
static dfix_t D; /* the delivery side, full_path only */
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
             "  - id: consentco\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_CONSENT_KEY, allowed_origins: %s}\n"
             "    consent: {required: [analytics], policy: drop}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, origins, origins, origins);
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
    if (strcmp(case_name, "full_path") == 0) {
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

static json_t *answer_ok(json_t *result)
{
    return json_pack("{s:b,s:o}", "ok", 1, "result", result ? result : json_null());
}

static json_t *answer_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *answer_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static json_t *handle(json_t *req)
{
    sluice_err_t err = {{0}};
    const char *op = json_string_value(json_object_get(req, "op"));
    if (op == NULL)
        return answer_error("no op");
    if (strcmp(op, "kafka_read") == 0)
        return answer_ok(gwfix_kafka_read(&F, "sluice.events"));
    if (strcmp(op, "kafka_down") == 0)
        return sluice_th_kafka_down(&F.kafka, &err) == 0 ? answer_ok(NULL) : answer_error("%s", err.msg);
    if (strcmp(op, "kafka_up") == 0)
        return sluice_th_kafka_up(&F.kafka, &err) == 0 ? answer_ok(NULL) : answer_error("%s", err.msg);
    if (strcmp(op, "gateway_stop") == 0) {
        int st = gwfix_stop(&F, SIGTERM);
        return sluice_th_exited_with(st, 0) ? answer_ok(NULL) : answer_error("gateway exited with status %d", st);
    }
    if (strcmp(op, "gateway_start") == 0) {
        gwfix_start(&F);
        return answer_ok(NULL);
    }
    if (strcmp(op, "metric") == 0) {
        const char *series = json_string_value(json_object_get(req, "series"));
        return series ? answer_ok(json_real(gwfix_metric(&F, series))) : answer_error("metric needs series");
    }
    if (strcmp(op, "stub_requests") == 0)
        return META.proc != NULL ? answer_ok(dfix_requests(&META)) : answer_error("no vendor stub in this case");
    return answer_error("unknown op '%s'", op);
}

/* ------------------------------------------------------------------ the case */

static void run_case(void **state)
{
    (void)state;
    int to_driver[2], to_node[2];
    assert_int_equal(pipe2(to_driver, O_CLOEXEC), 0);
    assert_int_equal(pipe2(to_node, O_CLOEXEC), 0);

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

    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The node process dies with this driver, and Chromium with node (its pipe closes). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(to_driver[1], 3) < 0 || dup2(to_node[0], 4) < 0)
            _exit(127);
        setenv("SLUICE_BROWSER", cfg_text, 1);
        char *argv[] = {"node", script, (char *)case_name, NULL};
        execvp("node", argv);
        fprintf(stderr, "browser driver: cannot run node: %s\n", strerror(errno));
        _exit(127);
    }
    free(cfg_text);
    close(to_driver[1]);
    close(to_node[0]);

    FILE *in = fdopen(to_driver[0], "r");
    assert_non_null(in);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        json_error_t je;
        json_t *req = json_loads(line, 0, &je);
        json_t *ans = req ? handle(req) : answer_error("bad request line: %s", je.text);
        json_decref(req);
        char *text = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        size_t len = strlen(text);
        if (write(to_node[1], text, len) != (ssize_t)len || write(to_node[1], "\n", 1) != 1)
            print_error("browser driver: node stopped reading its answers\n");
        free(text);
    }
    free(line);
    fclose(in);
    close(to_node[1]);

    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
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

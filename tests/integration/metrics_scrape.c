/*
 * What an operator's Prometheus sees (docs/api.md "Operations listener", docs/vendors.md
 * "Observability"): the gateway's and the worker's /metrics scraped under traffic on every route,
 * refused events, a hostile client's field names, dead letters from a failing vendor and a reload,
 * each scrape checked by Debian's promtool (`promtool check metrics`: the text format, label
 * values, HELP and TYPE once per family, counters named _total) and for what promtool does not
 * check: histogram buckets cumulative with +Inf equal to _count, counters that never go down
 * across a reload, and every event-loop thread's counters counted.
 *
 * The alerting rules shipped in deploy/prometheus/sluice-alerts.yaml are checked against the same
 * scrapes: every series they name, and every label they match on, is one the gateway or the worker
 * exports (a renamed metric or label would leave an alert that can never fire; promtool's own
 * `test rules` cannot see that, it feeds the rules series of its own: tests/deploy/alerts.sh).
 *
 * promtool comes with Debian's prometheus package (scripts/deps.sh installs it); without it the
 * promtool checks are skipped, saying so.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"

#define KEY "wk_scrape_key_1"

static gwfix_t G;
static dfix_t F;
static dstub_t HOOK;

static void fail_with(const char *what, const sluice_err_t *err)
{
    print_error("%s: %s\n", what, err->msg);
    fail();
}

static const char *config_text(int threads, int https_port, int metrics_port, const char *extra_source)
{
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: %d\n"
             "kafka:\n"
             "  brokers: \"%s\"\n"
             "  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500, fetch.wait.max.ms: 100}\n"
             "redis: {url: \"%s\"}\n"
             "database: {url: \"%s\"}\n"
             "delivery: {ca_file: %s, metrics: {listen: \"127.0.0.1:%d\"}}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY, allowed_origins: [\"https://shop.example\"]}\n"
             "%s"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      hash_fields: [{path: traits.email, normalize: email}]\n"
             "      mask: [{path: properties.card_number, plugin: partial, params: {keep_last: 4}}]\n"
             "      pii_guard: report\n"
             "    integrations:\n"
             "      - {name: hook, vendor: webhook, url: \"%s/in\", batch: {max_events: 10, max_wait_ms: 50},\n"
             "         retry: {max_attempts: 2, base_ms: 50, max_ms: 100}, timeout_ms: 3000}\n",
             https_port, G.certs, G.certs, metrics_port, threads, G.kafka.bootstrap, G.redis.url, F.pg.url, F.ca,
             F.metrics_port, extra_source, HOOK.url);
    return yaml;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&G);
    dfix_init(&F, G.kafka.bootstrap, G.certs, NULL, 1);
    /* The vendor refuses everything: every event is dead-lettered. */
    dfix_stub(&F, &HOOK, "hook", "400x100000", NULL);
    snprintf(G.config, sizeof(G.config), "%s",
             gwfix_write("scrape.yaml", config_text(2, G.https_port, G.metrics_port,
                                                    "      - {id: app, write_key_env: T_APP_KEY}\n")));
    snprintf(F.config, sizeof(F.config), "%s", G.config);
    static const char *env[] = {"T_KEY=" KEY, "T_APP_KEY=wk_scrape_app_2", NULL};
    memcpy(G.env, env, sizeof(env));
    gwfix_start(&G);
    dfix_start_worker(&F, NULL, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static char *scrape(const char *url)
{
    http_resp_t r;
    http_opts_t o = {0};
    http_do(url, &o, NULL, &r);
    assert_int_equal(r.status, 200);
    char *body = strdup(r.body);
    http_resp_dispose(&r);
    return body;
}

static char *scrape_gateway(const gwfix_t *g)
{
    return scrape(gwfix_metrics_url(g, "/metrics"));
}

static char *scrape_worker(void)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", F.metrics_port);
    return scrape(url);
}

static int have_promtool(void)
{
    const char *argv[] = {"promtool", "--version", NULL};
    sluice_th_output_t out = {0};
    sluice_err_t err = {{0}};
    int ok = sluice_th_run(argv, NULL, 0, 30000, &out, &err) == 0 && sluice_th_exited_with(out.wstatus, 0);
    sluice_th_output_dispose(&out);
    return ok;
}

/* `promtool check metrics` on text (stdin), as an operator would run it on a scrape. */
static void promtool_check(const char *what, const char *text)
{
    const char *argv[] = {"promtool", "check", "metrics", NULL};
    sluice_th_output_t out = {0};
    sluice_err_t err = {{0}};
    if (sluice_th_run(argv, text, strlen(text), 60000, &out, &err) != 0)
        fail_with("promtool", &err);
    if (!sluice_th_exited_with(out.wstatus, 0))
        print_error("promtool check metrics on the %s's /metrics: %s%s\n", what, out.out, out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
}

/* Every sample of the families typed counter or histogram, as {"series": value}. */
static json_t *counters(const char *text)
{
    json_t *types = json_object(), *out = json_object();
    char *copy = strdup(text);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char name[256], type[32];
        if (sscanf(line, "# TYPE %255s %31s", name, type) == 2) {
            json_object_set_new(types, name, json_string(type));
            continue;
        }
        if (line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        if (sp == NULL)
            continue;
        *sp = '\0';
        size_t nl = strcspn(line, "{");
        snprintf(name, sizeof(name), "%.*s", (int)nl, line);
        const char *type_of = json_string_value(json_object_get(types, name));
        static const char *const sfx[] = {"_bucket", "_sum", "_count"};
        for (size_t i = 0; type_of == NULL && i < 3; i++) {
            size_t sl = strlen(sfx[i]);
            if (nl > sl && strcmp(name + nl - sl, sfx[i]) == 0) {
                name[nl - sl] = '\0';
                type_of = json_string_value(json_object_get(types, name));
            }
        }
        if (type_of != NULL && (strcmp(type_of, "counter") == 0 || strcmp(type_of, "histogram") == 0))
            json_object_set_new(out, line, json_real(strtod(sp + 1, NULL)));
    }
    free(copy);
    json_decref(types);
    return out;
}

/* Each histogram's buckets never decrease, and its +Inf bucket equals its _count. */
static void check_histograms(const char *what, const char *text)
{
    json_t *all = counters(text);
    const char *series;
    json_t *v;
    size_t checked = 0;
    json_object_foreach(all, series, v) {
        const char *inf = strstr(series, "le=\"+Inf\"");
        const char *b = strstr(series, "_bucket{");
        if (inf == NULL || b == NULL)
            continue;
        /* name_count{other labels}: the le label removed (it is last here, or alone). */
        char count[512];
        size_t head = (size_t)(b - series);
        const char *labels = b + 8;
        size_t before_le = (size_t)(inf - labels);
        if (before_le > 0 && labels[before_le - 1] == ',')
            before_le--;
        if (before_le == 0)
            snprintf(count, sizeof(count), "%.*s_count", (int)head, series);
        else
            snprintf(count, sizeof(count), "%.*s_count{%.*s}", (int)head, series, (int)before_le, labels);
        json_t *c = json_object_get(all, count);
        if (c == NULL || json_real_value(c) != json_real_value(v))
            print_error("%s: %s is %g, %s is %g\n", what, series, json_real_value(v), count,
                        c ? json_real_value(c) : -1.0);
        assert_non_null(c);
        assert_true(json_real_value(c) == json_real_value(v));
        checked++;
    }
    assert_true(checked > 0);
    json_decref(all);
    /* Cumulative: within one series, in the order rendered, a bucket never holds fewer. */
    char *copy = strdup(text), prev_key[512] = "";
    double prev = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        const char *le = strstr(line, "le=\"");
        if (line[0] == '#' || strstr(line, "_bucket{") == NULL || le == NULL)
            continue;
        char key[512];
        snprintf(key, sizeof(key), "%.*s", (int)(le - line), line);
        double val = strtod(strrchr(line, ' ') + 1, NULL);
        if (strcmp(key, prev_key) == 0 && val < prev)
            print_error("%s: %s is below the bucket before it (%g)\n", what, line, prev);
        assert_false(strcmp(key, prev_key) == 0 && val < prev);
        snprintf(prev_key, sizeof(prev_key), "%s", key);
        prev = val;
    }
    free(copy);
}

static long post(const gwfix_t *g, const char *path, const char *const *headers, const char *body)
{
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(g, path), &o, g->ca, &r);
    long status = r.status;
    if (status == 500)
        print_error("%s: %ld %s\n", path, status, r.body);
    http_resp_dispose(&r);
    return status;
}

static long get(const gwfix_t *g, const char *path, const char *method)
{
    const char *headers[] = {"Referer: https://shop.example/mail", NULL};
    http_opts_t o = {.method = method, .headers = headers};
    http_resp_t r;
    http_do(gwfix_url(g, path), &o, g->ca, &r);
    long status = r.status;
    http_resp_dispose(&r);
    return status;
}

/* ------------------------------------------------------------------ tests */

/* Every route, refused events of each kind, a hostile client's field names and dead letters:
 * both scrapes pass promtool. A field name of 243 'a' and an "é" holding an e-mail (the PII guard's
 * path cut inside the "é") made the event a 500 "out of memory", and its label left the gateway's
 * whole /metrics refused by Prometheus ("invalid label value") from then on. */
static void scrapes_pass_promtool_under_traffic(void **state)
{
    (void)state;
    const char *json[] = {"Authorization: Bearer " KEY, "Content-Type: application/json", NULL};
    const char *wrong_key[] = {"Authorization: Bearer wk_not_ours", "Content-Type: application/json", NULL};
    const char *evil[] = {"Authorization: Bearer " KEY, "Content-Type: application/json",
                          "Origin: https://evil.example", NULL};
    const char *xml[] = {"Authorization: Bearer " KEY, "Content-Type: text/xml", NULL};
    assert_int_equal(post(&G, "/v1/t", json, "{\"event\":\"Ok\",\"anonymousId\":\"a1\",\"messageId\":\"s-ok\"}"), 200);
    assert_int_equal(post(&G, "/v1/p", json, "{\"name\":\"Home\",\"anonymousId\":\"a1\"}"), 200);
    assert_int_equal(post(&G, "/v1/i", json, "{\"userId\":\"u1\",\"traits\":{\"email\":\"j@x.io\"}}"), 200);
    assert_int_equal(post(&G, "/v1/batch", json,
                          "{\"batch\":[{\"type\":\"track\",\"event\":\"B\",\"anonymousId\":\"a1\"},"
                          "{\"type\":\"bogus\",\"anonymousId\":\"a1\"}]}"),
                     200);
    assert_int_equal(post(&G, "/v1/t", json, "{\"event\":\"X\",\"anonymousId\":\"a1\",\"timestamp\":\"j@x.io\"}"), 400);
    assert_int_equal(post(&G, "/v1/t", json, "{\"event\":"), 400);
    assert_int_equal(post(&G, "/v1/t", wrong_key, "{\"event\":\"X\",\"anonymousId\":\"a1\"}"), 401);
    assert_int_equal(post(&G, "/v1/t", evil, "{\"event\":\"X\",\"anonymousId\":\"a1\"}"), 403);
    assert_int_equal(post(&G, "/v1/t", xml, "<x/>"), 415);
    assert_int_equal(get(&G, "/v1/pixel/t?writeKey=" KEY "&event=Open&anonymousId=a1", NULL), 200);
    assert_int_equal(get(&G, "/v1/t", "DELETE"), 405);
    assert_int_equal(get(&G, "/nowhere/j%40x.io", NULL), 404);
    assert_int_equal(get(&G, "/sluice.js", NULL), 200);
    /* Field names a client makes up: quotes, backslashes, a newline, and one long enough to be cut. */
    assert_int_equal(post(&G, "/v1/t", json,
                          "{\"event\":\"X\",\"anonymousId\":\"a1\",\"properties\":{\"a\\\"b\\\\c\\nd\":\"j@x.io\"}}"),
                     200);
    char body[1024], key[300];
    memset(key, 'a', 243);
    snprintf(key + 243, sizeof(key) - 243, "\xc3\xa9");
    snprintf(body, sizeof(body), "{\"event\":\"X\",\"anonymousId\":\"a1\",\"properties\":{\"%s\":\"j@x.io\"}}", key);
    assert_int_equal(post(&G, "/v1/t", json, body), 200);

    /* The worker dead-letters what the vendor refuses. */
    for (int waited = 0; waited < 30000; waited += 200) {
        if (dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"dead_lettered\"}") >= 5)
            break;
        usleep(200 * 1000);
    }
    assert_true(dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"dead_lettered\"}") >= 5);

    char *gw = scrape_gateway(&G), *wk = scrape_worker();
    assert_non_null(strstr(gw, "sluice_events_rejected_total{reason=\"unauthorized\"} 1\n"));
    assert_non_null(strstr(gw, "sluice_events_rejected_total{reason=\"origin_not_allowed\"} 1\n"));
    assert_non_null(strstr(gw, "sluice_http_requests_total{route=\"pixel\",status=\"200\"} 1\n"));
    assert_null(strstr(gw, "status=\"500\""));
    check_histograms("gateway", gw);
    check_histograms("worker", wk);
    if (!have_promtool()) {
        print_message("promtool is not installed (Debian's prometheus package; scripts/deps.sh installs it): "
                      "the scrapes are not checked by it\n");
        free(gw);
        free(wk);
        skip();
    }
    promtool_check("gateway", gw);
    promtool_check("worker", wk);
    free(gw);
    free(wk);
}

/* A reload that removes a source (and every reload) leaves every counter where it was. */
static void counters_never_go_down_across_reload(void **state)
{
    (void)state;
    const char *app[] = {"Authorization: Bearer wk_scrape_app_2", "Content-Type: application/json", NULL};
    assert_int_equal(post(&G, "/v1/t", app, "{\"event\":\"App\",\"anonymousId\":\"a2\"}"), 200);
    char *before = scrape_gateway(&G);
    double reloads = gwfix_metric(&G, "sluice_config_reloads_total{result=\"ok\"}");
    snprintf(G.config, sizeof(G.config), "%s",
             gwfix_write("scrape.yaml", config_text(2, G.https_port, G.metrics_port, "")));
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_proc_signal(G.gw, SIGHUP, &err), 0);
    for (int waited = 0; waited < 10000; waited += 100) {
        if (gwfix_metric(&G, "sluice_config_reloads_total{result=\"ok\"}") > reloads)
            break;
        usleep(100 * 1000);
    }
    assert_true(gwfix_metric(&G, "sluice_config_reloads_total{result=\"ok\"}") > reloads);
    assert_int_equal(post(&G, "/v1/t", app, "{\"event\":\"App\",\"anonymousId\":\"a2\"}"), 401);
    char *after = scrape_gateway(&G);
    json_t *b = counters(before), *a = counters(after);
    const char *series;
    json_t *v;
    int bad = 0;
    json_object_foreach(b, series, v) {
        json_t *now = json_object_get(a, series);
        if (now == NULL || json_real_value(now) < json_real_value(v)) {
            print_error("%s: %g before the reload, %s after\n", series, json_real_value(v), now ? "less" : "gone");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    json_decref(b);
    json_decref(a);
    free(before);
    free(after);
}

/* server.threads goes up to 1024: every thread's counters are in the scrape. With 300 threads
 * the gateway summed only the first 256 blocks, and 150 requests answered 200 showed as about 130. */
static void every_thread_is_counted(void **state)
{
    (void)state;
    static gwfix_t big;
    big = G;
    sluice_err_t err = {{0}};
    big.https_port = sluice_th_free_port(&err);
    big.metrics_port = sluice_th_free_port(&err);
    assert_true(big.https_port > 0 && big.metrics_port > 0);
    /* Its own worker metrics port in the file: the worker already runs on F's. */
    snprintf(big.config, sizeof(big.config), "%s",
             gwfix_write("scrape-300.yaml", config_text(300, big.https_port, big.metrics_port, "")));
    gwfix_start(&big);
    const char *json[] = {"Authorization: Bearer " KEY, "Content-Type: application/json", NULL};
    /* Each on a new connection, so the kernel spreads them over the threads. A thread whose
     * producer has not reached the broker yet may answer 503 (readiness needs one producer up):
     * what is compared is the 200s the client saw with the 200s the scrape counts. */
    int ok = 0, other = 0;
    for (int i = 0; i < 150; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"event\":\"T\",\"anonymousId\":\"t%d\",\"messageId\":\"thr-%d\"}", i, i);
        if (post(&big, "/v1/t", json, body) == 200)
            ok++;
        else
            other++;
    }
    print_message("300 threads: %d answered 200, %d otherwise\n", ok, other);
    assert_true(ok >= 100);
    assert_int_equal(gwfix_metric(&big, "sluice_worker_threads"), 300);
    assert_int_equal(gwfix_metric(&big, "sluice_http_requests_total{route=\"track\",status=\"200\"}"), ok);
    assert_true(gwfix_metric(&big, "sluice_events_accepted_total") >= ok);
    assert_true(sluice_th_exited_with(gwfix_stop(&big, SIGTERM), 0));
}

/* ------------------------------------------------------------------ alerting rules */

/* 1 when text (a scrape) has a sample of family name carrying label (and, when value is not
 * NULL, with that exact value). */
static int scrape_has(const char *text, const char *name, const char *label, const char *value)
{
    size_t nl = strlen(name);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && strncmp(line, name, nl) == 0 && (line[nl] == '{' || line[nl] == ' ')) {
            if (label == NULL)
                return 1;
            char want[160];
            if (value != NULL)
                snprintf(want, sizeof(want), "%s=\"%s\"", label, value);
            else
                snprintf(want, sizeof(want), "%s=\"", label);
            const char *close = memchr(line, '}', len);
            if (line[nl] == '{' && close != NULL) {
                char labels[1024];
                snprintf(labels, sizeof(labels), "%.*s", (int)(close - line), line);
                /* Preceded by '{' or ',' so that reason="x" does not match a label ending in reason. */
                for (const char *at = strstr(labels, want); at != NULL; at = strstr(at + 1, want))
                    if (at[-1] == '{' || at[-1] == ',')
                        return 1;
            }
        }
        line = end ? end + 1 : line + len;
    }
    return 0;
}

/* The histogram families' sample names: name_bucket, name_sum, name_count all name the family. */
static void family_of(const char *series, char *family, size_t cap)
{
    snprintf(family, cap, "%s", series);
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t n = strlen(family);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl && strcmp(family + n - sl, suffixes[i]) == 0)
            family[n - sl] = '\0';
    }
}

/* Checks one selector of an alert's expression, `name` or `name{label op "value", ...}`, against
 * both scrapes; returns the number of faults printed. An `=~` value made of plain words joined by
 * `|` has each word checked; other regexes (`5..`) only their label. */
static int check_selector(const char *both, const char *sel, size_t len)
{
    char name[96];
    size_t nl = 0;
    while (nl < len && nl + 1 < sizeof(name) &&
           (sel[nl] == '_' || (sel[nl] >= 'a' && sel[nl] <= 'z') || (sel[nl] >= '0' && sel[nl] <= '9')))
        nl++;
    snprintf(name, sizeof(name), "%.*s", (int)nl, sel);
    if (!scrape_has(both, name, NULL, NULL)) {
        char family[96];
        family_of(name, family, sizeof(family));
        if (strcmp(family, name) == 0 || !scrape_has(both, family, NULL, NULL)) {
            print_error("deploy/prometheus/sluice-alerts.yaml names %s, which neither scrape has\n", name);
            return 1;
        }
    }
    if (nl >= len || sel[nl] != '{')
        return 0;
    int faults = 0;
    const char *p = sel + nl + 1, *end = sel + len;
    while (p < end && *p != '}') {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        const char *lab = p;
        while (p < end && (*p == '_' || (*p >= 'a' && *p <= 'z')))
            p++;
        char label[64];
        snprintf(label, sizeof(label), "%.*s", (int)(p - lab), lab);
        int regex = p + 1 < end && p[1] == '~';
        while (p < end && *p != '"')
            p++;
        const char *val = ++p;
        while (p < end && *p != '"')
            p++;
        char value[128];
        snprintf(value, sizeof(value), "%.*s", (int)(p - val), val);
        p++;
        if (label[0] == '\0')
            break;
        int plain = strspn(value, "abcdefghijklmnopqrstuvwxyz_|") == strlen(value);
        if (!regex || !plain) {
            if (!scrape_has(both, name, label, regex ? NULL : value)) {
                print_error("sluice-alerts.yaml matches %s{%s=\"%s\"}, which no scraped %s sample carries\n", name,
                            label, value, name);
                faults++;
            }
            continue;
        }
        for (char *save = NULL, *word = strtok_r(value, "|", &save); word != NULL; word = strtok_r(NULL, "|", &save))
            if (!scrape_has(both, name, label, word)) {
                print_error("sluice-alerts.yaml matches %s{%s=~\"...%s...\"}, which no scraped %s sample carries\n",
                            name, label, word, name);
                faults++;
            }
    }
    return faults;
}

/* Checks one alert's expression: each selector (check_selector), and each label of a `by (...)`
 * (other than the target's own instance and job) carried by at least one of the families the
 * expression names, so that a renamed label cannot leave an alert grouped by a label no series
 * has (which merges every vendor's, org's or plugin's series into one). Returns the faults. */
static int check_expr(const char *both, const char *expr, int *selectors, int *groupings)
{
    int faults = 0;
    char names[8][96];
    size_t nn = 0;
    for (const char *at = strstr(expr, "sluice_"); at != NULL; at = strstr(at, "sluice_")) {
        size_t len = strspn(at, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (nn < 8)
            snprintf(names[nn++], sizeof(names[0]), "%.*s", (int)len, at);
        if (at[len] == '{') {
            const char *close = strchr(at + len, '}');
            assert_non_null(close);
            len = (size_t)(close - at) + 1;
        }
        faults += check_selector(both, at, len);
        (*selectors)++;
        at += len;
    }
    for (const char *by = strstr(expr, "by ("); by != NULL; by = strstr(by + 1, "by (")) {
        const char *p = by + 4, *close = strchr(p, ')');
        assert_non_null(close);
        while (p < close) {
            p += strspn(p, " ,");
            size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
            if (len == 0)
                break;
            char label[64];
            snprintf(label, sizeof(label), "%.*s", (int)len, p);
            p += len;
            (*groupings)++;
            if (strcmp(label, "instance") == 0 || strcmp(label, "job") == 0)
                continue;
            int carried = 0;
            for (size_t i = 0; i < nn && !carried; i++)
                carried = scrape_has(both, names[i], label, NULL);
            if (!carried) {
                print_error("sluice-alerts.yaml groups by %s, which no family of `%.60s...` carries\n", label, expr);
                faults++;
            }
        }
    }
    return faults;
}

/* The shipped alerting rules name only series and labels the two processes export. */
static void alert_rules_name_what_is_scraped(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/deploy/prometheus/sluice-alerts.yaml", getenv("SLUICE_SOURCE_DIR"));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        print_error("cannot open %s\n", path);
        fail();
    }
    char *gw = scrape_gateway(&G), *wk = scrape_worker();
    size_t both_len = strlen(gw) + strlen(wk) + 2;
    char *both = malloc(both_len);
    assert_non_null(both);
    snprintf(both, both_len, "%s\n%s", gw, wk);

    int faults = 0, selectors = 0, groupings = 0, in_expr = 0;
    char line[1024], expr[4096] = "";
    for (int more = 1; more;) {
        more = fgets(line, sizeof(line), f) != NULL;
        const char *t = more ? line + strspn(line, " ") : "";
        if (*t == '#')
            continue;
        /* An expression is `expr: ...` or `expr: |` with the lines indented under it; it is checked
         * whole once the next key (or the file's end) closes it. */
        int starts = strncmp(t, "expr:", 5) == 0;
        int ends = !more || strncmp(t, "for:", 4) == 0 || strncmp(t, "labels:", 7) == 0 ||
                   strncmp(t, "- alert:", 8) == 0 || strncmp(t, "annotations:", 12) == 0;
        if ((starts || ends) && expr[0] != '\0') {
            faults += check_expr(both, expr, &selectors, &groupings);
            expr[0] = '\0';
        }
        if (starts)
            in_expr = 1;
        else if (ends)
            in_expr = 0;
        if (in_expr && more) {
            size_t used = strlen(expr);
            assert_true(used + strlen(t) < sizeof(expr));
            snprintf(expr + used, sizeof(expr) - used, "%s", t);
        }
    }
    fclose(f);
    free(both);
    free(gw);
    free(wk);
    print_message("%d selectors and %d groupings in the alerting rules checked against the scrapes\n", selectors,
                  groupings);
    assert_true(selectors >= 20);
    assert_true(groupings >= 15);
    assert_int_equal(faults, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scrapes_pass_promtool_under_traffic),
        cmocka_unit_test(counters_never_go_down_across_reload),
        cmocka_unit_test(every_thread_is_counted),
        cmocka_unit_test(alert_rules_name_what_is_scraped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

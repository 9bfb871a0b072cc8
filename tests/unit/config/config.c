/*
 * Tests of the config loader (config/config.c, org.c, decode.c, dump.c): the example config
 * and its facts, every error class with its exact "file:line:col: message", includes, env
 * overrides, secrets, defaults and the JSON dump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "vendors/vendor.h"

/* A valid config; tests append lines (line 10 onwards continue the org at indent 4). */
#define BASE                                                                                                           \
    "version: 1\n"                                                     /* 1 */                                         \
    "server:\n"                                                        /* 2 */                                         \
    "  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n" /* 3 */                                         \
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"                           /* 4 */                                         \
    "orgs:\n"                                                          /* 5 */                                         \
    "  - id: acme\n"                                                   /* 6 */                                         \
    "    sources:\n"                                                   /* 7 */                                         \
    "      - id: web\n"                                                /* 8 */                                         \
    "        write_key_env: ACME_WEB_WRITE_KEY\n"                      /* 9 */

static const char *const env_vars[] = {
    "SLUICE_HTTPS_LISTEN", "SLUICE_HTTP_LISTEN",  "SLUICE_TLS_CERT",       "SLUICE_TLS_KEY",   "SLUICE_KAFKA_BROKERS",
    "SLUICE_REDIS_URL",    "SLUICE_DATABASE_URL", "SLUICE_METRICS_LISTEN", "SLUICE_LOG_LEVEL", NULL};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; env_vars[i] != NULL; i++)
        unsetenv(env_vars[i]);
    return 0;
}

static sluice_config_t *load(const char *yaml, int flags, sluice_config_diag_t *d)
{
    sluice_config_diag_init(d);
    return sluice_config_load_string("x.yaml", yaml, strlen(yaml), flags, d);
}

static void dump_diag(const sluice_config_diag_t *d)
{
    for (size_t i = 0; i < d->count; i++)
        print_message("  got: %s\n", d->msgs[i]);
}

/* Loading yaml must fail with exactly these messages, in this order (NULL-terminated). */
static void expect_errors_flags(const char *yaml, int flags, const char *const *expected)
{
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(yaml, flags, &d);
    size_t n = 0;
    while (expected[n] != NULL)
        n++;
    int same = cfg == NULL && d.count == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(d.msgs[i], expected[i]) == 0;
    if (!same) {
        for (size_t i = 0; i < n; i++)
            print_message("  want: %s\n", expected[i]);
        dump_diag(&d);
    }
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    assert_true(same);
}

#define expect_errors(yaml, ...)                                                                                       \
    expect_errors_flags(yaml, SLUICE_CONFIG_NO_ENV, (const char *const[]){__VA_ARGS__, NULL})

static sluice_config_t *load_ok(const char *yaml, int flags)
{
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(yaml, flags, &d);
    if (cfg == NULL)
        dump_diag(&d);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    return cfg;
}

/* ------------------------------------------------------------------ the example */

static const sluice_hash_rule_t *hash_rule(const sluice_org_t *org, const char *path)
{
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        if (strcmp(org->hash_rules[i].path.text, path) == 0)
            return &org->hash_rules[i];
    }
    return NULL;
}

static const sluice_mask_rule_t *mask_rule(const sluice_org_t *org, const char *path)
{
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        if (strcmp(org->mask_rules[i].path.text, path) == 0)
            return &org->mask_rules[i];
    }
    return NULL;
}

static void test_example_loads_with_its_facts(void **state)
{
    (void)state;
    const char *src = getenv("SLUICE_SOURCE_DIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof(path), "%s/config/examples/acme.yaml", src);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load(path, SLUICE_CONFIG_NO_ENV, &d);
    if (cfg == NULL)
        dump_diag(&d);
    assert_non_null(cfg);
    assert_int_equal(d.count, 0);
    sluice_config_diag_dispose(&d);

    assert_true(cfg->server.https.enabled);
    assert_string_equal(cfg->server.https.host, "127.0.0.1");
    assert_int_equal(cfg->server.https.port, 8443);
    assert_false(cfg->server.http.enabled);
    assert_string_equal(cfg->server.metrics.host, "127.0.0.1");
    assert_int_equal(cfg->server.metrics.port, 9464);
    char want[1200];
    snprintf(want, sizeof(want), "%s/config/examples/../../build/demo/certs/server.crt", src);
    assert_string_equal(cfg->server.tls_cert, want); /* SLUICE_SOURCE_DIR is absolute, as is the result */
    assert_non_null(strstr(cfg->server.tls_key, "/build/demo/certs/server.key"));
    assert_string_equal(cfg->kafka.brokers, "127.0.0.1:9092");
    assert_string_equal(cfg->redis.host, "127.0.0.1");
    assert_int_equal(cfg->redis.port, 6379);
    assert_int_equal(cfg->server.trusted_proxy_count, 2);

    const sluice_org_t *acme = sluice_config_find_org(cfg, "acme");
    assert_non_null(acme);
    const sluice_source_t *web = sluice_org_find_source(acme, "web");
    assert_non_null(web);
    assert_int_equal(web->kind, SLUICE_SOURCE_BROWSER);
    assert_string_equal(web->write_key_env, "ACME_WEB_WRITE_KEY");
    assert_null(web->write_key); /* not resolved without SLUICE_CONFIG_RESOLVE_SECRETS */
    int shop = 0;
    for (size_t i = 0; i < web->allowed_origin_count; i++)
        shop |= strcmp(web->allowed_origins[i], "https://shop.acme.test") == 0;
    assert_true(shop);
    assert_int_equal(web->rotated_at, 1795132800); /* 2026-11-20T00:00:00Z */

    const sluice_hash_rule_t *h = hash_rule(acme, "traits.email");
    assert_non_null(h);
    assert_int_equal(h->normalizer, SLUICE_NORM_EMAIL);
    h = hash_rule(acme, "properties.email");
    assert_non_null(h);
    assert_int_equal(h->normalizer, SLUICE_NORM_EMAIL);
    h = hash_rule(acme, "traits.phone");
    assert_non_null(h);
    assert_int_equal(h->normalizer, SLUICE_NORM_PHONE);
    assert_string_equal(h->default_country_code, "1");
    h = hash_rule(acme, "traits.firstName");
    assert_non_null(h);
    assert_int_equal(h->normalizer, SLUICE_NORM_NAME);

    const sluice_mask_rule_t *m = mask_rule(acme, "properties.card_number");
    assert_non_null(m);
    assert_string_equal(m->plugin, "partial");
    long long keep;
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(m->params, "keep_last"), &keep), 0);
    assert_int_equal(keep, 4);
    m = mask_rule(acme, "context.ip");
    assert_non_null(m);
    assert_string_equal(m->plugin, "ip_truncate");
    assert_null(m->params);
    m = mask_rule(acme, "properties.ssn");
    assert_non_null(m);
    assert_string_equal(m->plugin, "fpe");
    assert_string_equal(sluice_yaml_map_get(m->params, "alphabet")->scalar, "digits");
    m = mask_rule(acme, "properties.note");
    assert_non_null(m);
    assert_string_equal(m->plugin, "redact_text");
    int dropped = 0;
    for (size_t i = 0; i < acme->drop_count; i++)
        dropped |= strcmp(acme->drop[i].text, "properties.password") == 0;
    assert_true(dropped);

    const sluice_integration_t *meta = sluice_org_find_integration(acme, "meta");
    assert_non_null(meta);
    assert_int_equal(meta->vendor, SLUICE_VENDOR_META);
    assert_non_null(sluice_org_find_integration(acme, "ga4"));
    assert_int_equal(sluice_org_find_integration(acme, "ga4")->vendor, SLUICE_VENDOR_GA4);
    assert_non_null(sluice_org_find_integration(acme, "webhook"));
    assert_int_equal(sluice_org_find_integration(acme, "webhook")->vendor, SLUICE_VENDOR_WEBHOOK);

    assert_int_equal(cfg->org_count, 2);
    const sluice_org_t *globex = sluice_config_find_org(cfg, "globex");
    assert_non_null(globex);
    size_t len = strlen(globex->file);
    assert_true(len > 16 && strcmp(globex->file + len - 16, "orgs/globex.yaml") == 0);
    assert_null(sluice_config_find_org(cfg, "initech"));
    sluice_config_free(cfg);
}

/* ------------------------------------------------------------------ defaults */

static void test_defaults(void **state)
{
    (void)state;
    sluice_config_t *cfg = load_ok(BASE, SLUICE_CONFIG_NO_ENV);
    assert_false(cfg->server.http.enabled);
    assert_string_equal(cfg->server.metrics.host, "127.0.0.1");
    assert_int_equal(cfg->server.metrics.port, 9464);
    assert_string_equal(cfg->server.path_prefix, "/v1");
    assert_string_equal(cfg->server.tag_path, "/sluice.js");
    assert_int_equal(cfg->server.drain_timeout_ms, 10000);
    assert_int_equal(cfg->limits.max_body_bytes, 524288);
    assert_int_equal(cfg->limits.max_event_bytes, 32768);
    assert_int_equal(cfg->limits.max_batch_events, 500);
    assert_int_equal(cfg->limits.max_depth, 16);
    assert_int_equal(cfg->limits.max_string_bytes, 8192);
    assert_int_equal(cfg->limits.max_wire_bytes, 524288);
    assert_string_equal(cfg->kafka.topic, "sluice.events");
    assert_string_equal(cfg->kafka.dlq_topic, "sluice.dlq");
    assert_int_equal(cfg->kafka.ack, SLUICE_ACK_KAFKA);
    assert_int_equal(cfg->kafka.ack_timeout_ms, 5000);
    assert_int_equal(cfg->kafka.queue_max_messages, 100000);
    assert_null(cfg->redis.url);
    assert_int_equal(cfg->redis.timeout_ms, 50);
    assert_null(cfg->database.url);
    assert_string_equal(cfg->log_level, "info");
    assert_null(cfg->audit_log);
    assert_null(cfg->delivery.ca_file);
    assert_int_equal(cfg->delivery.metrics.port, 9465);
    assert_int_equal(cfg->delivery.credentials_ttl_s, 300);
    assert_int_equal(cfg->delivery.max_in_flight, 64);
    const sluice_org_t *org = &cfg->orgs[0];
    assert_string_equal(org->file, "x.yaml");
    assert_int_equal(org->sources[0].grace_hours, 72);
    assert_true(org->sources[0].rate_limit.per_second == 0);
    assert_string_equal(org->identity.cookie_name, "_sid");
    assert_null(org->identity.cookie_domain);
    assert_int_equal(org->identity.cookie_max_age_days, 400);
    assert_int_equal(org->identity.xd_token_ttl_s, 60);
    assert_int_equal(org->identity.xd_clock_skew_s, 5);
    assert_int_equal(org->identity.xd_hold_s, 1800);
    assert_int_equal(org->identity.link_ttl_days, 400);
    assert_false(org->identity.dedup_enabled);
    assert_int_equal(org->identity.dedup_window_s, 86400);
    assert_int_equal(org->consent.policy, SLUICE_CONSENT_DROP);
    /* relative paths resolve against the config file's directory, made absolute */
    char cwd[1024], want[1100];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "%s/c.crt", cwd);
    assert_string_equal(cfg->server.tls_cert, want);
    sluice_config_free(cfg);
}

static void test_integration_defaults_per_vendor(void **state)
{
    (void)state;
    sluice_config_t *cfg = load_ok(BASE "    integrations:\n"
                                        "      - {name: g, vendor: ga4, measurement_id: G-1}\n"
                                        "      - {name: w, vendor: webhook, url: \"https://h.test/x\"}\n"
                                        "      - {name: m, vendor: meta, pixel_id: 1, credentials: meta-main}\n",
                                   SLUICE_CONFIG_NO_ENV);
    const sluice_org_t *org = &cfg->orgs[0];
    const sluice_integration_t *g = sluice_org_find_integration(org, "g");
    assert_int_equal(g->batch_max_events, 25);
    assert_int_equal(g->batch_max_bytes, 130000);
    assert_string_equal(g->credentials, "g");
    assert_true(g->enabled);
    assert_int_equal(g->max_attempts, 5);
    assert_int_equal(g->retry_base_ms, 4000);
    assert_int_equal(g->retry_max_ms, 300000);
    assert_int_equal(g->retry_max_elapsed_s, 3600);
    assert_int_equal(g->timeout_ms, 10000);
    assert_int_equal(g->batch_max_wait_ms, 1000);
    assert_true(g->rate_limit_rps == 100);
    const sluice_integration_t *w = sluice_org_find_integration(org, "w");
    assert_int_equal(w->batch_max_events, 100);
    const sluice_integration_t *m = sluice_org_find_integration(org, "m");
    assert_int_equal(m->batch_max_events, 1000);
    assert_string_equal(sluice_vendor_opt(m, "pixel_id"), "1"); /* a plain number is kept as written */
    assert_string_equal(sluice_vendor_opt(m, "api_version"), "v26.0");
    assert_string_equal(m->credentials, "meta-main");
    sluice_config_free(cfg);
}

/* ------------------------------------------------------------------ error classes */

static void test_unknown_key_with_suggestion(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                  "orgs:\n"
                  "  - {id: acme, sources: [{id: web, write_key_env: K}]}\n"
                  "server:\n"
                  "  https:\n"
                  "    lisen: \"127.0.0.1:8443\"\n"
                  "    cert: c.crt\n"
                  "    key: c.key\n"
                  "  http: {listen: \"127.0.0.1:8080\"}\n"
                  "colour: red\n",
                  "x.yaml:7:5: unknown key 'lisen' in server.https (did you mean 'listen'?)",
                  "x.yaml:11:1: unknown key 'colour' at the top level");
}

static void test_unknown_keys_deep_in_org(void **state)
{
    (void)state;
    expect_errors(BASE "        alowed_origins: [https://a.test]\n"
                       "    identity: {cookie_nmae: x}\n"
                       "    data_layer:\n"
                       "      hash_fields:\n"
                       "        - {path: traits.email, normalise: email}\n",
                  "x.yaml:10:9: unknown key 'alowed_origins' in orgs[0].sources[0] (did you mean 'allowed_origins'?)",
                  "x.yaml:11:16: unknown key 'cookie_nmae' in orgs[0].identity (did you mean 'cookie_name'?)",
                  "x.yaml:14:11: missing required key 'normalize' in orgs[0].data_layer.hash_fields[0]",
                  "x.yaml:14:32: unknown key 'normalise' in orgs[0].data_layer.hash_fields[0] (did you mean "
                  "'normalize'?)");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server:\n"
                  "  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                  "  threads: many\n"
                  "  drain_timeout_ms: \"5\"\n"
                  "  trusted_proxies: 10.0.0.0/8\n"
                  "kafka: [127.0.0.1]\n"
                  "limits: {max_depth: 1.5}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: web\n"
                  "    identity: {dedup: {enabled: maybe}}\n",
                  "x.yaml:4:12: server.threads: expected an integer, got a string",
                  "x.yaml:6:20: server.trusted_proxies: expected a list, got a string",
                  "x.yaml:5:21: server.drain_timeout_ms: expected an integer, got a string",
                  "x.yaml:8:21: limits.max_depth: expected an integer, got a number",
                  "x.yaml:7:8: kafka: expected a map, got a list",
                  "x.yaml:11:14: orgs[0].sources: expected a list, got a string",
                  "x.yaml:12:33: orgs[0].identity.dedup.enabled: expected a boolean (true or false), got a string",
                  "x.yaml:1:1: missing required key 'brokers' in kafka (SLUICE_KAFKA_BROKERS also sets it)");
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_errors("server:\n"
                  "  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                  "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                  "orgs:\n"
                  "  - sources:\n"
                  "      - id: web\n"
                  "      - write_key_env: K\n"
                  "  - id: beta\n",
                  "x.yaml:1:1: missing required key 'version' at the top level",
                  "x.yaml:5:5: missing required key 'id' in orgs[0]",
                  "x.yaml:6:9: missing required key 'write_key_env' in orgs[0].sources[0]",
                  "x.yaml:7:9: missing required key 'id' in orgs[0].sources[1]",
                  "x.yaml:8:5: missing required key 'sources' in orgs[1]");
}

static void test_out_of_range_and_enum(void **state)
{
    (void)state;
    expect_errors(BASE "        grace_hours: -1\n"
                       "        rate_limit: {per_second: 1e12}\n"
                       "    consent: {policy: sometimes}\n",
                  "x.yaml:10:22: orgs[0].sources[0].grace_hours: -1 is out of range (0..8760)",
                  "x.yaml:11:34: orgs[0].sources[0].rate_limit.per_second: 1e12 is out of range (0..1e+09)",
                  "x.yaml:12:23: orgs[0].consent.policy: 'sometimes' is not one of: allow, drop, strip");
}

static void test_range_enum_cross_limits(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server:\n"
                  "  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                  "kafka: {brokers: \"127.0.0.1:9092\", ack: always, topic: sluice.events, dlq_topic: sluice.events}\n"
                  "limits: {max_depth: 1000, max_event_bytes: 600000}\n"
                  "log: {level: verbose}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: [{id: web, write_key_env: K}]\n",
                  "x.yaml:5:21: limits.max_depth: 1000 is out of range (1..128)",
                  "x.yaml:5:44: limits.max_event_bytes: 600000 is larger than limits.max_body_bytes (524288)",
                  "x.yaml:4:82: kafka.dlq_topic: must differ from kafka.topic",
                  "x.yaml:4:41: kafka.ack: 'always' is not one of: kafka, queued",
                  "x.yaml:6:14: log.level: 'verbose' is not one of: debug, info, warn, error");
}

/* enrichment: off unless written; `true` or a scalar takes the defaults, a map its options. */
static void test_enrichment(void **state)
{
    (void)state;
    sluice_config_t *cfg = load_ok(BASE, SLUICE_CONFIG_NO_ENV);
    const sluice_enrich_config_t *e = &cfg->orgs[0].enrich;
    assert_false(e->enabled);
    assert_int_equal(e->bots, SLUICE_BOTS_OFF);
    assert_int_equal(e->geo, SLUICE_GEO_OFF);
    assert_int_equal(e->session_timeout_s, 1800);
    assert_null(cfg->enrich.geo_database);
    assert_int_equal(cfg->enrich.ua_cache_size, 4096);
    assert_int_equal(cfg->enrich.geo_check_s, 60);
    sluice_config_free(cfg);

    cfg =
        load_ok("enrichment: {geo_database: /var/lib/geo/city.mmdb, ua_cache_size: 100, geo_check_s: 0}\n" BASE
                "    enrichment:\n"
                "      user_agent: true\n"
                "      bots: {action: drop, patterns: [AcmeMonitor], ip_ranges: [66.249.64.0/19, \"2001:db8::/32\"]}\n"
                "      geo: city\n"
                "      session: {timeout_min: 45, consent: [analytics]}\n"
                "      campaign: true\n"
                "      referrer: {internal: [shop-eu.acme.test], email: [news.acme-mail.test]}\n"
                "    integrations:\n"
                "      - {name: hook, vendor: webhook, url: \"https://hooks.acme.test/in\", send_bots: true}\n",
                SLUICE_CONFIG_NO_ENV);
    e = &cfg->orgs[0].enrich;
    assert_true(e->enabled);
    assert_true(e->user_agent);
    assert_int_equal(e->bots, SLUICE_BOTS_DROP);
    assert_int_equal(e->bot_pattern_count, 1);
    assert_int_equal(e->bot_range_count, 2);
    assert_true(e->bots_no_user_agent);
    assert_int_equal(e->geo, SLUICE_GEO_CITY);
    assert_true(e->session);
    assert_int_equal(e->session_timeout_s, 45 * 60);
    assert_string_equal(e->session_cookie, "_sluice_ses");
    assert_true(e->session_consent_set);
    assert_int_equal(e->referrer_host_count, 2);
    assert_int_equal(e->referrer_hosts[0].medium, SLUICE_REFERRER_EMAIL); /* by medium, then as written */
    assert_int_equal(e->referrer_hosts[1].medium, SLUICE_REFERRER_INTERNAL);
    assert_string_equal(cfg->enrich.geo_database, "/var/lib/geo/city.mmdb");
    assert_int_equal(cfg->enrich.ua_cache_size, 100);
    assert_int_equal(cfg->enrich.geo_check_s, 0);
    assert_true(cfg->orgs[0].integrations[0].send_bots);
    json_t *dump = sluice_config_to_json(cfg);
    json_t *ej = json_object_get(json_array_get(json_object_get(dump, "orgs"), 0), "enrichment");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ej, "bots"), "action")), "drop");
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(ej, "bots"), "ip_ranges"), 1)),
                        "2001:db8::/32");
    json_decref(dump);
    sluice_config_free(cfg);

    cfg = load_ok(BASE "    enrichment: {bots: flag, session: true, geo: country}\n", SLUICE_CONFIG_NO_ENV);
    e = &cfg->orgs[0].enrich;
    assert_int_equal(e->bots, SLUICE_BOTS_FLAG);
    assert_true(e->session);
    assert_int_equal(e->session_timeout_s, 1800);
    assert_false(e->session_consent_set);
    sluice_config_free(cfg);

    expect_errors(BASE "    enrichment:\n"
                       "      geo: street\n"
                       "      bots: {action: block, ip_ranges: [10.0.0.0/33]}\n"
                       "      sesion: true\n",
                  "x.yaml:12:22: orgs[0].enrichment.bots.action: 'block' is not one of: off, keep, flag, drop",
                  "x.yaml:12:41: orgs[0].enrichment.bots.ip_ranges: '10.0.0.0/33' is not an address or CIDR range",
                  "x.yaml:11:12: orgs[0].enrichment.geo: 'street' is not one of: off, country, region, city",
                  "x.yaml:13:7: unknown key 'sesion' in orgs[0].enrichment (did you mean 'session'?)");
}

static void test_duplicate_ids(void **state)
{
    (void)state;
    expect_errors(BASE "      - id: app\n"
                       "        write_key_env: K2\n"
                       "      - id: web\n"
                       "        write_key_env: K3\n"
                       "    integrations:\n"
                       "      - {name: hook, vendor: webhook, url: \"https://h.test\"}\n"
                       "      - {name: hook, vendor: webhook, url: \"https://h2.test\"}\n"
                       "  - id: acme\n"
                       "    sources: [{id: web, write_key_env: K4}]\n",
                  "x.yaml:12:13: orgs[0].sources[2].id: duplicate source id 'web' in org 'acme' (first at line 8)",
                  "x.yaml:16:16: orgs[0].integrations[1].name: duplicate integration name 'hook' in org 'acme' (first "
                  "at line 15)",
                  "x.yaml:17:9: orgs[1].id: duplicate org id 'acme' (first at x.yaml:6)");
}

static void test_bad_field_paths(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields:\n"
                       "        - {path: \"traits..email\", normalize: email}\n"
                       "      mask:\n"
                       "        - {path: \"items[0].sku\", plugin: full}\n"
                       "      drop: [properties.password, a.]\n",
                  "x.yaml:12:18: orgs[0].data_layer.hash_fields[0].path: bad field path 'traits..email': column 8: "
                  "empty key",
                  "x.yaml:14:18: orgs[0].data_layer.mask[0].path: bad field path 'items[0].sku': column 6: only [*] "
                  "(every element) is supported inside brackets",
                  "x.yaml:15:35: orgs[0].data_layer.drop[1]: bad field path 'a.': column 2: path ends with '.'");
}

/* Paths that parse but name no field an event could have, so the rule never acts (a hash rule
 * silently off): a key with a space at either end, a `*` for every member, a JSONPath's `$` or a
 * JSON pointer's `/`, a backslash meant to escape a dot. */
static void test_field_paths_that_never_match(void **state)
{
    (void)state;
    expect_errors(
        BASE "    data_layer:\n"
             "      hash_fields:\n"
             "        - {path: \"traits.email \", normalize: email}\n"
             "        - {path: \"traits. name\", normalize: name}\n"
             "      drop: [\"traits.*\", \"$.traits.phone\", /traits/zip, \"properties.items.*.email\", "
             "\"traits\\\\.x\"]\n",
        "x.yaml:12:18: orgs[0].data_layer.hash_fields[0].path: bad field path 'traits.email ': column 13: a "
        "key ends with a space (no field has one; take it out)",
        "x.yaml:13:18: orgs[0].data_layer.hash_fields[1].path: bad field path 'traits. name': column 8: a key "
        "starts with a space (no field has one; take it out)",
        "x.yaml:14:14: orgs[0].data_layer.drop[0]: bad field path 'traits.*': column 8: '*' is not a "
        "wildcard for members (name each one; [*] is every element of an array)",
        "x.yaml:14:26: orgs[0].data_layer.drop[1]: bad field path '$.traits.phone': column 1: a path is "
        "written from the event's top, as traits.email (not $.traits.email or /traits/email)",
        "x.yaml:14:44: orgs[0].data_layer.drop[2]: bad field path '/traits/zip': column 1: a path is written "
        "from the event's top, as traits.email (not $.traits.email or /traits/email)",
        "x.yaml:14:57: orgs[0].data_layer.drop[3]: bad field path 'properties.items.*.email': column 18: '*' "
        "is not a wildcard for members (name each one; [*] is every element of an array)",
        "x.yaml:14:85: orgs[0].data_layer.drop[4]: bad field path 'traits\\.x': column 7: a backslash "
        "escapes nothing in a path (a key with a '.' in it cannot be named)");
}

/* Invisible characters a path picks up when copied from a wiki, a chat or a word processor: a
 * no-break space after the last key (YAML keeps it in a plain scalar), a zero-width space inside
 * one. The rule loaded and never acted: the client's traits.email went to Kafka raw. Letters of
 * any script stay allowed. */
static void test_field_paths_with_invisible_characters(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields:\n"
                       "        - {path: traits.email\xc2\xa0, normalize: email}\n"
                       "        - {path: traits.ph\xe2\x80\x8bone, normalize: phone}\n"
                       "      drop: [traits.\xef\xbb\xbfzip, traits.caf\xc3\xa9, traits.\xd0\xb8\xd0\xbc\xd1\x8f]\n",
                  "x.yaml:12:18: orgs[0].data_layer.hash_fields[0].path: bad field path 'traits.email\xc2\xa0': "
                  "column 13: a no-break space in a key (no field has one; retype the path)",
                  "x.yaml:13:18: orgs[0].data_layer.hash_fields[1].path: bad field path 'traits.ph\xe2\x80\x8bone': "
                  "column 10: a zero-width character in a key (no field has one; retype the path)",
                  "x.yaml:14:14: orgs[0].data_layer.drop[0]: bad field path 'traits.\xef\xbb\xbfzip': column 8: a "
                  "zero-width character in a key (no field has one; retype the path)");
}

static void test_field_handled_twice(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields: [{path: traits.email, normalize: email}]\n"
                       "      drop: [traits.email]\n",
                  "x.yaml:12:14: orgs[0].data_layer.drop[0]: field 'traits.email' is already handled by "
                  "orgs[0].data_layer.hash_fields[0] (line 11); a field takes one rule");
}

/* The gateway's own members, which the envelope and its `type` header carry: a rule on one sent
 * envelopes without receivedAt and a `type` header without a value, and config check said ok. */
static void test_rule_on_the_gateways_own_fields(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields: [{path: receivedAt, normalize: raw}]\n"
                       "      mask: [{path: type, plugin: full}]\n"
                       "      drop: [type, receivedAt, properties.type]\n",
                  "x.yaml:11:21: orgs[0].data_layer.hash_fields[0]: field 'receivedAt' is written by the gateway "
                  "and carried by every envelope (Kafka's wire format); no rule may change it",
                  "x.yaml:12:14: orgs[0].data_layer.mask[0]: field 'type' is written by the gateway and carried "
                  "by every envelope (Kafka's wire format); no rule may change it",
                  "x.yaml:13:14: orgs[0].data_layer.drop[0]: field 'type' is written by the gateway and carried "
                  "by every envelope (Kafka's wire format); no rule may change it",
                  "x.yaml:13:20: orgs[0].data_layer.drop[1]: field 'receivedAt' is written by the gateway and "
                  "carried by every envelope (Kafka's wire format); no rule may change it");
}

/* Rules match members below the event's own fields in any case: two rules for one field in two
 * spellings are one field with two rules. A path that starts with no member of an event (a
 * capital, a missing s) hashed nothing and passed config check: warned, with the member meant. */
static void test_rule_paths_in_other_spellings(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields: [{path: traits.email, normalize: email}]\n"
                       "      drop: [traits.Email, Properties.password]\n",
                  "x.yaml:12:14: orgs[0].data_layer.drop[0]: field 'traits.Email' is already handled by orgs[0]."
                  "data_layer.hash_fields[0] (line 11); a field takes one rule");
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(BASE "    data_layer:\n"
                                     "      hash_fields: [{path: Traits.email, normalize: email},\n"
                                     "                    {path: trait.phone, normalize: phone},\n"
                                     "                    {path: properties.Email, normalize: email}]\n"
                                     "      drop: [channel, context.traits.password]\n",
                                SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(cfg);
    const char *w[3] = {NULL, NULL, NULL};
    size_t n = 0;
    for (size_t i = 0; i < d.warning_count && n < 3; i++)
        if (strstr(d.warnings[i], "no member of an event") != NULL)
            w[n++] = d.warnings[i];
    assert_int_equal(n, 2); /* not properties.Email, channel or context.traits.password */
    assert_string_equal(w[0], "x.yaml:11:21: orgs[0].data_layer.hash_fields[0]: 'Traits.email' starts with 'Traits', "
                              "which is no member of an event in Segment's spec, so the rule acts only on events "
                              "that carry a top-level 'Traits' (did you mean 'traits'?)");
    assert_non_null(strstr(w[1], "'trait.phone' starts with 'trait',"));
    assert_non_null(strstr(w[1], "(did you mean 'traits'?)"));
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
}

static void test_bad_network_values(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server:\n"
                  "  https: {listen: localhost, cert: c.crt, key: c.key}\n"
                  "  http: {listen: \"127.0.0.1:8080\"}\n"
                  "  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33, proxy.local]\n"
                  "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                  "redis: {url: \"http://127.0.0.1:6379\"}\n"
                  "orgs: [{id: acme, sources: [{id: web, write_key_env: K}]}]\n",
                  "x.yaml:3:19: server.https.listen: bad listen address 'localhost': expected host:port, e.g. "
                  "127.0.0.1:8443",
                  "x.yaml:5:33: server.trusted_proxies[1]: '10.0.0.0/33' is not an IP address or CIDR range (e.g. "
                  "10.0.0.0/8, ::1)",
                  "x.yaml:5:46: server.trusted_proxies[2]: 'proxy.local' is not an IP address or CIDR range (e.g. "
                  "10.0.0.0/8, ::1)",
                  "x.yaml:7:14: redis.url: bad Redis URL: expected redis://host:port[/db]");
}

/* redis: AUTH (a user in the URL or redis.username, the password in the environment only), the
 * key prefix, and a password pasted into the file refused without being echoed. */
static void test_redis_auth_and_prefix(void **state)
{
    (void)state;
    const char *head = "version: 1\n"
                       "server: {https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}}\n"
                       "kafka: {brokers: \"127.0.0.1:9092\"}\n";
    const char *tail = "orgs: [{id: acme, sources: [{id: web, write_key_env: K}]}]\n";
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), "%sredis: {url: \"redis://127.0.0.1:6379\"}\n%s", head, tail);
    sluice_config_t *cfg = load_ok(yaml, SLUICE_CONFIG_NO_ENV);
    assert_string_equal(cfg->redis.key_prefix, "sluice:");
    assert_null(cfg->redis.username);
    assert_null(cfg->redis.password);
    assert_null(cfg->redis.password_env);
    sluice_config_free(cfg);

    snprintf(yaml, sizeof(yaml),
             "%sredis: {url: \"redis://sluice-gw@10.0.0.5:6380/1\", password_env: REDIS_PW, key_prefix: "
             "\"sluice:prod:\"}\n%s",
             head, tail);
    cfg = load_ok(yaml, SLUICE_CONFIG_NO_ENV);
    assert_string_equal(cfg->redis.host, "10.0.0.5");
    assert_int_equal(cfg->redis.port, 6380);
    assert_int_equal(cfg->redis.db, 1);
    assert_string_equal(cfg->redis.username, "sluice-gw");
    assert_string_equal(cfg->redis.password_env, "REDIS_PW");
    assert_string_equal(cfg->redis.key_prefix, "sluice:prod:");
    json_t *j = sluice_config_to_json(cfg);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "redis"), "key_prefix")), "sluice:prod:");
    json_decref(j);
    sluice_config_free(cfg);

    /* From the environment the whole URL, password included, is fine; the dump hides it. */
    setenv("SLUICE_REDIS_URL", "redis://gw:pa%24%24word@cache:6390", 1);
    snprintf(yaml, sizeof(yaml), "%sredis: {username: fromfile}\n%s", head, tail);
    cfg = load_ok(yaml, 0);
    assert_string_equal(cfg->redis.host, "cache");
    assert_string_equal(cfg->redis.username, "fromfile"); /* redis.username wins over the URL's */
    assert_string_equal(cfg->redis.password, "pa$$word");
    j = sluice_config_to_json(cfg);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "redis"), "url")),
                        "redis://gw:***@cache:6390");
    json_decref(j);
    sluice_config_free(cfg);
    snprintf(yaml, sizeof(yaml), "%sredis: {password_env: PW}\n%s", head, tail);
    expect_errors_flags(yaml, 0,
                        (const char *const[]){"SLUICE_REDIS_URL holds a password and redis.password_env names "
                                              "another: give the Redis password one way",
                                              NULL});
    unsetenv("SLUICE_REDIS_URL");

    snprintf(yaml, sizeof(yaml),
             "%sredis: {url: \"redis://u:hunter2@h:1\", password_env: \"1x\", key_prefix: \"a b\"}\n%s", head, tail);
    expect_errors(yaml,
                  "x.yaml:4:53: redis.password_env: not an environment variable name (letters, digits and '_', not "
                  "starting with a digit); the password is read from the variable, never written here",
                  "x.yaml:4:71: redis.key_prefix: 'a b' may hold only A-Z a-z 0-9 : _ . - (e.g. \"sluice:prod:\")",
                  "x.yaml:4:14: redis.url: a password written inline; set redis.password_env to the variable "
                  "holding it (or give the whole URL in SLUICE_REDIS_URL)");
}

static void test_source_values(void **state)
{
    (void)state;
    expect_errors(BASE "        previous_write_key_env: OLD_KEY\n"
                       "        rotated_at: 2026-13-01T00:00:00Z\n"
                       "        allowed_origins: [\"https://shop.acme.test/\", \"*\", \"http://ok.test:8080\"]\n"
                       "      - id: s2\n"
                       "        kind: server\n"
                       "        hmac_secret_env: 9LIVES\n"
                       "        write_key_env: K\n"
                       "      - {id: s3, write_key_env: K, previous_write_key_env: P}\n"
                       "      - {id: \"bad id\", write_key_env: K, rotated_at: 2026-11-20T00:00:00}\n",
                  "x.yaml:11:21: orgs[0].sources[0].rotated_at: '2026-13-01T00:00:00Z' is not an ISO-8601 time with "
                  "a zone (e.g. 2026-11-20T00:00:00Z)",
                  "x.yaml:12:27: orgs[0].sources[0].allowed_origins[0]: 'https://shop.acme.test/' is not an origin "
                  "(no path, trailing '/', query, user or wildcard: http(s)://host[:port])",
                  "x.yaml:12:54: orgs[0].sources[0].allowed_origins[1]: '*' is not an origin (expected "
                  "http(s)://host[:port], e.g. https://shop.example)",
                  "x.yaml:15:26: orgs[0].sources[1].hmac_secret_env: not an environment variable name (letters, "
                  "digits and '_', not starting with a digit); the value is read from the variable, never written "
                  "here",
                  "x.yaml:16:9: orgs[0].sources[1].write_key_env: only for browser sources (kind: browser)",
                  "x.yaml:17:36: orgs[0].sources[2].previous_write_key_env: needs rotated_at (when the current key "
                  "replaced the previous one; the previous key is accepted for grace_hours after it)",
                  "x.yaml:18:14: orgs[0].sources[3].id: 'bad id' may only contain letters, digits, '_' and '-'",
                  "x.yaml:18:54: orgs[0].sources[3].rotated_at: '2026-11-20T00:00:00' is not an ISO-8601 time with a "
                  "zone (e.g. 2026-11-20T00:00:00Z)");
}

/* A signing secret rotates as a write key does: the previous one needs rotated_at, is a server
 * source's key only, is held to the same floor, and is resolved (and never dumped). */
static void test_previous_hmac_secret(void **state)
{
    (void)state;
    expect_errors(BASE
                  "        previous_hmac_secret_env: OLD_SECRET\n"
                  "      - {id: s2, kind: server, hmac_secret_env: NEW_SECRET, previous_hmac_secret_env: OLD_SECRET}\n",
                  "x.yaml:10:9: orgs[0].sources[0].previous_hmac_secret_env: only for server sources (kind: server)",
                  "x.yaml:11:61: orgs[0].sources[1].previous_hmac_secret_env: needs rotated_at (when the current "
                  "secret replaced the previous one; the previous secret is accepted for grace_hours after it)");
    static const char *yaml = BASE "      - {id: s2, kind: server, hmac_secret_env: T_SLUICE_NEW_SECRET,\n"
                                   "         previous_hmac_secret_env: T_SLUICE_OLD_SECRET, rotated_at: 2026-11-20,\n"
                                   "         grace_hours: 24}\n";
    setenv("ACME_WEB_WRITE_KEY", "wk_current", 1);
    setenv("T_SLUICE_NEW_SECRET", "hmac-secret-new-value", 1);
    setenv("T_SLUICE_OLD_SECRET", "short", 1);
    expect_errors_flags(yaml, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:11:36: orgs[0].sources[1].previous_hmac_secret_env: the secret in "
                            "T_SLUICE_OLD_SECRET is 5 bytes long: an HMAC signing secret needs at least 16 (source "
                            "'s2' of org 'acme'; e.g. openssl rand -hex 32)",
                            NULL,
                        });
    setenv("T_SLUICE_OLD_SECRET", "hmac-secret-old-value", 1);
    sluice_config_t *cfg = load_ok(yaml, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV);
    const sluice_source_t *s2 = sluice_org_find_source(&cfg->orgs[0], "s2");
    assert_string_equal(s2->previous_hmac_secret, "hmac-secret-old-value");
    assert_int_equal(s2->rotated_at, 1795132800);
    assert_int_equal(s2->grace_hours, 24);
    json_t *j = sluice_config_to_json(cfg);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(text, "hmac-secret-old-value"));
    assert_non_null(strstr(text, "\"previous_hmac_secret\":\"***\""));
    free(text);
    json_decref(j);
    sluice_config_free(cfg);
    unsetenv("ACME_WEB_WRITE_KEY");
    unsetenv("T_SLUICE_NEW_SECRET");
    unsetenv("T_SLUICE_OLD_SECRET");
}

static void test_mask_and_hash_rule_shapes(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields:\n"
                       "        - {path: traits.email, normalize: email, default_country_code: \"1\"}\n"
                       "        - {path: traits.phone, normalize: phone, default_country_code: \"+1\"}\n"
                       "      mask:\n"
                       "        - {path: properties.card}\n"
                       "        - {path: properties.a, plugin: partial, params: [4]}\n"
                       "        - {path: properties.b, plugin: \"no such\", on_error: ignore}\n"
                       "        - {path: properties.c, plugin: fpe, params: {key: abc, alphabet: digits}}\n"
                       "        - {path: properties.d, plugin: null}\n",
                  "x.yaml:12:50: orgs[0].data_layer.hash_fields[0].default_country_code: only for normalize: phone",
                  "x.yaml:13:72: orgs[0].data_layer.hash_fields[1].default_country_code: '+1' is not a calling code "
                  "(1 to 3 digits, without '+')",
                  "x.yaml:15:11: missing required key 'plugin' in orgs[0].data_layer.mask[0]",
                  "x.yaml:16:57: orgs[0].data_layer.mask[1].params: expected a map, got a list",
                  "x.yaml:17:40: orgs[0].data_layer.mask[2].plugin: 'no such' is not a built-in plugin name (letters, "
                  "digits, '_', '-') or a path to a .so",
                  "x.yaml:17:61: orgs[0].data_layer.mask[2].on_error: 'ignore' is not one of: remove, reject",
                  "x.yaml:18:54: orgs[0].data_layer.mask[3].params.key: a secret written inline; put it in an "
                  "environment variable and give its name (e.g. 'key_env: VAR_NAME')",
                  "x.yaml:19:40: orgs[0].data_layer.mask[4].plugin: a bare null is YAML's null; write \"null\" "
                  "(quoted) for the null plugin");
}

/* A calling code with the dialling prefix before it (044 for the UK) loaded, and was put before
 * every national number: 07946 095800 hashed as 0447946095800, which matches no vendor's. */
static void test_calling_code_with_a_leading_zero(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields:\n"
                       "        - {path: traits.phone, normalize: phone, default_country_code: \"044\"}\n",
                  "x.yaml:12:72: orgs[0].data_layer.hash_fields[0].default_country_code: '044' starts with 0, which "
                  "no calling code does: write it without the dialling prefix (44, not 044)");
}

static void test_integration_shapes(void **state)
{
    (void)state;
    expect_errors(BASE "    integrations:\n"
                       "      - {name: a, vendor: myspace}\n"
                       "      - {name: b, vendor: meta}\n"
                       "      - {name: c, vendor: ga4, measurement_id: G-1, pixel_id: \"1\"}\n"
                       "      - {name: d, vendor: tiktok}\n"
                       "      - {name: e, vendor: webhook, url: \"ftp://x\"}\n"
                       "      - {name: f, vendor: ga4, measurement_id: G-1, batch: {max_events: 100}}\n"
                       "      - {name: g, vendor: webhook, url: \"https://h.test\", headers: {Authorization: abc}}\n",
                  "x.yaml:11:27: orgs[0].integrations[0].vendor: 'myspace' is not one of: meta, ga4, tiktok, webhook, "
                  "google_ads, pinterest, snapchat, linkedin, reddit",
                  "x.yaml:12:9: missing required key 'pixel_id' in orgs[0].integrations[1] (needed by vendor meta)",
                  "x.yaml:13:53: orgs[0].integrations[2].pixel_id: only for vendor meta",
                  "x.yaml:14:9: missing required key 'pixel_code' in orgs[0].integrations[3] (needed by vendor "
                  "tiktok)",
                  "x.yaml:15:41: orgs[0].integrations[4].url: 'ftp://x' is not an http:// or https:// URL",
                  "x.yaml:16:73: orgs[0].integrations[5].batch.max_events: 100 is out of range (1..25)",
                  "x.yaml:17:69: orgs[0].integrations[6].headers.Authorization: a secret written inline; webhook "
                  "credentials live in the vault (sluicectl vault put) and requests are signed with 'sign: true'");
}

/* consent.gpc.withdraws: off unless listed; a name consent.aliases renames is in no event, so
 * Global Privacy Control would have withdrawn nothing without a word. */
static void test_consent_gpc(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_t *off = load(BASE, SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(off);
    assert_int_equal(off->orgs[0].consent.gpc_withdraw_count, 0);
    sluice_config_diag_dispose(&d);
    sluice_config_free(off);
    sluice_config_t *on = load(BASE "    consent: {gpc: {withdraws: [marketing, sale]}}\n", SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(on);
    assert_int_equal(on->orgs[0].consent.gpc_withdraw_count, 2);
    assert_string_equal(on->orgs[0].consent.gpc_withdraws[0], "marketing");
    assert_string_equal(on->orgs[0].consent.gpc_withdraws[1], "sale");
    sluice_config_diag_dispose(&d);
    sluice_config_free(on);
    expect_errors(BASE "    consent:\n"
                       "      aliases: {C0004: marketing}\n"
                       "      gpc: {withdraws: [sale, C0004, \"not one\"], withdraw: [x]}\n",
                  "x.yaml:12:38: orgs[0].consent.gpc.withdraws[2]: 'not one' may only contain letters, digits, '_', "
                  "'-' and '.'",
                  "x.yaml:12:50: unknown key 'withdraw' in orgs[0].consent.gpc (did you mean 'withdraws'?)",
                  "x.yaml:12:31: orgs[0].consent.gpc.withdraws[1]: 'C0004' is a name consent.aliases turns into "
                  "'marketing', so no event carries 'C0004'; write 'marketing'");
}

/* Several orgs share a thread's Kafka queue by halves at most: a queue smaller than two of the
 * largest batches would refuse those batches for ever, which config check says. */
static void test_queue_smaller_than_two_batches(void **state)
{
    (void)state;
    const char *two_orgs = "  - id: globex\n"
                           "    sources:\n"
                           "      - id: web\n"
                           "        write_key_env: GLOBEX_WEB_WRITE_KEY\n";
    char yaml[2048];
    sluice_config_diag_t d;
    const struct {
        const char *kafka, *orgs;
        int warned;
    } cases[] = {
        {"kafka: {brokers: \"127.0.0.1:9092\", queue_max_messages: 999}\n", two_orgs, 1},
        {"kafka: {brokers: \"127.0.0.1:9092\", queue_max_messages: 1000}\n", two_orgs, 0},
        {"kafka: {brokers: \"127.0.0.1:9092\", queue_max_messages: 999}\n", "", 0}, /* one org: the whole queue */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(yaml, sizeof(yaml),
                 "version: 1\nserver:\n  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n%s"
                 "orgs:\n  - id: acme\n    sources:\n      - id: web\n        write_key_env: ACME_WEB_WRITE_KEY\n%s",
                 cases[i].kafka, cases[i].orgs);
        sluice_config_t *cfg = load(yaml, SLUICE_CONFIG_NO_ENV, &d);
        assert_non_null(cfg);
        int warned = 0;
        for (size_t k = 0; k < d.warning_count; k++)
            if (strcmp(d.warnings[k], "x.yaml:4:8: kafka.queue_max_messages 999 is less than twice "
                                      "limits.max_batch_events (500): with 2 orgs, one org holds at most half the "
                                      "queue, so its largest batches would be answered 503 on every try") == 0)
                warned = 1;
        if (warned != cases[i].warned)
            fail_msg("case %zu: warned %d (%zu warnings, first: %s)", i, warned, d.warning_count,
                     d.warning_count ? d.warnings[0] : "-");
        sluice_config_diag_dispose(&d);
        sluice_config_free(cfg);
    }
}

/* Meta's and TikTok's limited_data_use_unless_consent names a category as `consent:` does: a
 * name consent.aliases renames is in no event, which would have put every event under Limited
 * Data Use without a word. */
static void test_limited_data_use_category(void **state)
{
    (void)state;
    expect_errors(BASE
                  "    consent: {aliases: {C0004: marketing}}\n"
                  "    integrations:\n"
                  "      - {name: t, vendor: tiktok, pixel_code: C1, limited_data_use_unless_consent: C0004}\n"
                  "      - {name: m, vendor: meta, pixel_id: \"1\", limited_data_use_unless_consent: \"not one\"}\n",
                  "x.yaml:13:81: orgs[0].integrations[1].limited_data_use_unless_consent: 'not one' is not a consent "
                  "category (letters, digits, '_', '-', '.')",
                  "x.yaml:12:84: orgs[0].integrations[0].limited_data_use_unless_consent: 'C0004' is a name "
                  "consent.aliases turns into 'marketing', so no event carries 'C0004'; write 'marketing'");
    sluice_config_diag_t d;
    sluice_config_t *ok =
        load(BASE "    integrations:\n"
                  "      - {name: t, vendor: tiktok, pixel_code: C1, limited_data_use: true}\n"
                  "      - {name: m, vendor: meta, pixel_id: \"1\", limited_data_use_unless_consent: sale}\n",
             SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(ok);
    sluice_config_diag_dispose(&d);
    sluice_config_free(ok);
}

/* Filters that can never pass, which loaded: with `events`, only the track events it names are
 * delivered, so `types: [track, page]` beside it (the example's meta integration had it, and the
 * data map said meta received pages) delivered no page; and a category written as a name
 * consent.aliases renames is in no event (`required: [C0002]` dropped every event of the org). */
static void test_filters_that_never_pass(void **state)
{
    (void)state;
    expect_errors(BASE
                  "    consent: {required: [C0002], aliases: {C0002: analytics, c0004: marketing}}\n"
                  "    identity: {cookie_consent: [analytics, c0002]}\n"
                  "    integrations:\n"
                  "      - {name: a, vendor: webhook, url: \"https://h.test\", events: [Purchase], types: [track]}\n"
                  "      - {name: b, vendor: webhook, url: \"https://h.test\", consent: C0004}\n"
                  "      - {name: c, vendor: ga4, measurement_id: G-1, ad_user_data_consent: c0004}\n"
                  "    enrichment: {session: {consent: [C0002]}}\n",
                  "x.yaml:10:26: orgs[0].consent.required[0]: 'C0002' is a name consent.aliases turns into "
                  "'analytics', so no event carries 'C0002'; write 'analytics'",
                  "x.yaml:11:44: orgs[0].identity.cookie_consent[1]: 'c0002' is a name consent.aliases turns into "
                  "'analytics', so no event carries 'c0002'; write 'analytics'",
                  "x.yaml:16:38: orgs[0].enrichment.session.consent[0]: 'C0002' is a name consent.aliases turns into "
                  "'analytics', so no event carries 'C0002'; write 'analytics'",
                  "x.yaml:14:68: orgs[0].integrations[1].consent: 'C0004' is a name consent.aliases turns into "
                  "'marketing', so no event carries 'C0004'; write 'marketing'",
                  "x.yaml:15:75: orgs[0].integrations[2].ad_user_data_consent: 'c0004' is a name consent.aliases turns "
                  "into 'marketing', so no event carries 'c0004'; write 'marketing'");
    /* `events` beside a type other than track: loaded (it loaded before; an upgrade must not stop
     * the gateway), with a warning naming the type that is never delivered. */
    sluice_config_diag_t d;
    sluice_config_t *warned = load(
        BASE "    integrations:\n"
             "      - {name: a, vendor: webhook, url: \"https://h.test\", events: [Purchase], types: [track, page]}\n",
        SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(warned);
    size_t hits = 0;
    for (size_t i = 0; i < d.warning_count; i++)
        if (strcmp(d.warnings[i], "x.yaml:11:94: orgs[0].integrations[0].types[1]: 'page' events would never be "
                                  "delivered: with 'events' set, only the track events it names pass; deliver page "
                                  "events with a second integration, or remove 'events'") == 0)
            hits++;
    assert_int_equal(hits, 1);
    sluice_config_free(warned);
    sluice_config_diag_dispose(&d);
    /* What they meant loads: the org's own names, and a type list events agrees with. */
    sluice_config_t *cfg =
        load_ok(BASE "    consent: {required: [analytics], aliases: {C0002: analytics, Analytics: analytics}}\n"
                     "    integrations:\n"
                     "      - {name: a, vendor: webhook, url: \"https://h.test\", events: [Purchase], types: [track]}\n"
                     "      - {name: b, vendor: webhook, url: \"https://h.test\", types: [page], consent: analytics}\n",
                SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

static void test_inline_secrets_refused(void **state)
{
    (void)state;
    const char *yaml = "version: 1\n"
                       "server:\n"
                       "  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                       "kafka:\n"
                       "  brokers: \"127.0.0.1:9092\"\n"
                       "  properties: {sasl.password: hunter2, bootstrap.servers: x}\n"
                       "database: {url: \"postgresql://sluice:hunter2@db/sluice\"}\n"
                       "orgs:\n"
                       "  - id: acme\n"
                       "    sources:\n"
                       "      - id: web\n"
                       "        write_key: sk_live_hunter2\n"
                       "      - id: api\n"
                       "        kind: server\n"
                       "        hmac_secret_env: API_SECRET\n"
                       "        secret: hunter2\n";
    expect_errors(yaml,
                  "x.yaml:6:16: kafka.properties.sasl.password: a secret written inline; give the variable holding "
                  "it in kafka.sasl_password_env",
                  "x.yaml:6:40: kafka.properties.bootstrap.servers: set kafka.brokers instead",
                  "x.yaml:7:17: database.url: a password written inline; leave it out and set PGPASSWORD (or use a "
                  ".pgpass file), or give the whole URL in SLUICE_DATABASE_URL",
                  "x.yaml:11:9: missing required key 'write_key_env' in orgs[0].sources[0]",
                  "x.yaml:12:9: orgs[0].sources[0].write_key: a secret written inline; put it in an environment "
                  "variable and give its name with 'write_key_env'",
                  "x.yaml:16:9: orgs[0].sources[1].secret: a secret written inline; secrets never go in the config "
                  "file (source keys come from environment variables, vendor credentials from the vault)");
    /* and the secret itself never appears in any message */
    sluice_config_diag_t d;
    assert_null(load(yaml, SLUICE_CONFIG_NO_ENV, &d));
    for (size_t i = 0; i < d.count; i++)
        assert_null(strstr(d.msgs[i], "hunter2"));
    sluice_config_diag_dispose(&d);
}

static void test_yaml_errors_pass_through(void **state)
{
    (void)state;
    expect_errors(BASE "    sources: []\n", "x.yaml:10:5: duplicate key 'sources' (first at line 7)");
    expect_errors(BASE "    identity: &ident {cookie_name: a}\n",
                  "x.yaml:10:15: YAML anchors (&ident) are not supported; write the value out");
    expect_errors("version: 2\n"
                  "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                  "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                  "orgs: [{id: acme, sources: [{id: web, write_key_env: K}]}]\n",
                  "x.yaml:1:10: version: unsupported config version '2' (this sluice reads 1)");
}

static void test_final_checks(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server:\n"
                  "  https: {listen: \"127.0.0.1:8443\"}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: [{id: web, write_key_env: K}]\n"
                  "    identity: {dedup: {enabled: true}}\n",
                  "x.yaml:3:10: missing required key 'cert' in server.https (https is enabled; SLUICE_TLS_CERT also "
                  "sets it)",
                  "x.yaml:3:10: missing required key 'key' in server.https (https is enabled; SLUICE_TLS_KEY also "
                  "sets it)",
                  "x.yaml:1:1: missing required key 'brokers' in kafka (SLUICE_KAFKA_BROKERS also sets it)",
                  "x.yaml:5:5: orgs[0].identity: dedup needs Redis; set redis.url (or SLUICE_REDIS_URL)");
    expect_errors("version: 1\n"
                  "server: {http: {listen: \"\"}}\n"
                  "kafka: {brokers: \"a:1\"}\n"
                  "orgs: [{id: acme, sources: [{id: web, write_key_env: K}]}]\n",
                  "x.yaml:2:9: server: nothing to listen on; set server.https.listen or server.http.listen (or "
                  "SLUICE_HTTPS_LISTEN / SLUICE_HTTP_LISTEN)");
    expect_errors("", "x.yaml: empty config file");
}

/* ------------------------------------------------------------------ environment */

static void test_env_overrides(void **state)
{
    (void)state;
    setenv("SLUICE_HTTPS_LISTEN", "[::1]:9443", 1);
    setenv("SLUICE_HTTP_LISTEN", "0.0.0.0:8080", 1);
    setenv("SLUICE_METRICS_LISTEN", "", 1);
    setenv("SLUICE_TLS_CERT", "/etc/sluice/tls.crt", 1);
    setenv("SLUICE_TLS_KEY", "/etc/sluice/tls.key", 1);
    setenv("SLUICE_KAFKA_BROKERS", "k1:9092,k2:9092", 1);
    setenv("SLUICE_REDIS_URL", "redis://cache:6380/2", 1);
    setenv("SLUICE_DATABASE_URL", "postgresql://u:pw@db/sluice", 1);
    setenv("SLUICE_LOG_LEVEL", "debug", 1);
    sluice_config_t *cfg = load_ok(BASE, 0);
    assert_string_equal(cfg->server.https.host, "::1");
    assert_int_equal(cfg->server.https.port, 9443);
    assert_true(cfg->server.http.enabled);
    assert_int_equal(cfg->server.http.port, 8080);
    assert_false(cfg->server.metrics.enabled);
    assert_string_equal(cfg->server.tls_cert, "/etc/sluice/tls.crt");
    assert_string_equal(cfg->server.tls_key, "/etc/sluice/tls.key");
    assert_string_equal(cfg->kafka.brokers, "k1:9092,k2:9092");
    assert_string_equal(cfg->redis.host, "cache");
    assert_int_equal(cfg->redis.port, 6380);
    assert_int_equal(cfg->redis.db, 2);
    assert_string_equal(cfg->database.url, "postgresql://u:pw@db/sluice");
    assert_string_equal(cfg->log_level, "debug");

    /* the dump never shows the database password */
    json_t *j = sluice_config_to_json(cfg);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "database"), "url")),
                        "postgresql://u:***@db/sluice");
    json_decref(j);
    sluice_config_free(cfg);
    /* nor one holding a '/' or '?' its writer did not escape: the user part runs to the last '@' */
    setenv("SLUICE_DATABASE_URL", "postgresql://u:p/w?d@db/sluice", 1);
    cfg = load_ok(BASE, 0);
    j = sluice_config_to_json(cfg);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "database"), "url")),
                        "postgresql://u:***@db/sluice");
    json_decref(j);
    sluice_config_free(cfg);

    /* SLUICE_CONFIG_NO_ENV ignores all of them */
    cfg = load_ok(BASE, SLUICE_CONFIG_NO_ENV);
    assert_int_equal(cfg->server.https.port, 8443);
    assert_string_equal(cfg->kafka.brokers, "127.0.0.1:9092");
    assert_string_equal(cfg->log_level, "info");
    sluice_config_free(cfg);
}

static void test_env_bad_values(void **state)
{
    (void)state;
    setenv("SLUICE_HTTPS_LISTEN", "nope", 1);
    setenv("SLUICE_REDIS_URL", "memcached://x", 1);
    setenv("SLUICE_LOG_LEVEL", "loud", 1);
    setenv("SLUICE_KAFKA_BROKERS", "", 1);
    setenv("SLUICE_TLS_CERT", "", 1);
    expect_errors_flags(BASE, 0,
                        (const char *const[]){
                            "SLUICE_HTTPS_LISTEN: bad listen address 'nope': expected host:port, e.g. 127.0.0.1:8443",
                            "SLUICE_TLS_CERT: set but empty",
                            "SLUICE_KAFKA_BROKERS: '' is empty",
                            "SLUICE_REDIS_URL: bad Redis URL: expected redis://host:port[/db]",
                            "SLUICE_LOG_LEVEL: 'loud' is not one of: debug, info, warn, error",
                            NULL,
                        });
}

/* ------------------------------------------------------------------ secrets */

#define SECRET_YAML                                                                                                    \
    "version: 1\n"                                                                                                     \
    "server: {http: {listen: \"127.0.0.1:8080\"}}\n"                                                                   \
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"                                                                           \
    "orgs:\n"                                                                                                          \
    "  - id: acme\n"                                                                                                   \
    "    sources:\n"                                                                                                   \
    "      - id: web\n"                                                                                                \
    "        write_key_env: T_SLUICE_WEB_KEY\n"                                                                        \
    "        previous_write_key_env: T_SLUICE_WEB_OLD\n"                                                               \
    "        rotated_at: 2026-11-20T12:30:00+01:00\n"                                                                  \
    "      - id: api\n"                                                                                                \
    "        kind: server\n"                                                                                           \
    "        hmac_secret_env: T_SLUICE_API_SECRET\n"

static void test_secrets_resolved(void **state)
{
    (void)state;
    setenv("T_SLUICE_WEB_KEY", "wk_current", 1);
    setenv("T_SLUICE_WEB_OLD", "wk_previous", 1);
    setenv("T_SLUICE_API_SECRET", "hmac-secret-value", 1);
    sluice_config_t *cfg = load_ok(SECRET_YAML, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV);
    const sluice_source_t *web = sluice_org_find_source(&cfg->orgs[0], "web");
    assert_string_equal(web->write_key, "wk_current");
    assert_string_equal(web->previous_write_key, "wk_previous");
    assert_int_equal(web->rotated_at, 1795132800 + 11 * 3600 + 30 * 60); /* 2026-11-20T11:30:00Z */
    const sluice_source_t *api = sluice_org_find_source(&cfg->orgs[0], "api");
    assert_int_equal(api->kind, SLUICE_SOURCE_SERVER);
    assert_string_equal(api->hmac_secret, "hmac-secret-value");
    assert_null(api->write_key);

    json_t *j = sluice_config_to_json(cfg);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(text, "wk_current"));
    assert_null(strstr(text, "hmac-secret-value"));
    assert_non_null(strstr(text, "\"write_key\":\"***\""));
    free(text);
    json_decref(j);
    sluice_config_free(cfg);
    unsetenv("T_SLUICE_WEB_KEY");
    unsetenv("T_SLUICE_WEB_OLD");
    unsetenv("T_SLUICE_API_SECRET");
}

/* A write key read from a file keeps its line end (`kubectl create secret --from-file`,
 * `echo $KEY > file`): no client can send it, and every request was refused 401 while config
 * check said ok. Spaces and line ends around a write key are dropped; a signing secret keeps its
 * bytes (the backend signs with them); a key of only spaces is as good as empty. */
static void test_secrets_with_line_ends(void **state)
{
    (void)state;
    setenv("T_SLUICE_WEB_KEY", "wk_current\n", 1);
    setenv("T_SLUICE_WEB_OLD", " wk_previous\r\n", 1);
    setenv("T_SLUICE_API_SECRET", "hmac-secret-value\n", 1);
    sluice_config_t *cfg = load_ok(SECRET_YAML, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV);
    const sluice_source_t *web = sluice_org_find_source(&cfg->orgs[0], "web");
    assert_string_equal(web->write_key, "wk_current");
    assert_string_equal(web->previous_write_key, "wk_previous");
    assert_string_equal(sluice_org_find_source(&cfg->orgs[0], "api")->hmac_secret, "hmac-secret-value\n");
    sluice_config_free(cfg);
    setenv("T_SLUICE_WEB_KEY", " \n", 1);
    expect_errors_flags(SECRET_YAML, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:8:24: orgs[0].sources[0].write_key_env: environment variable T_SLUICE_WEB_KEY is "
                            "only spaces and line ends (source 'web' of org 'acme')",
                            NULL,
                        });
    unsetenv("T_SLUICE_WEB_KEY");
    unsetenv("T_SLUICE_WEB_OLD");
    unsetenv("T_SLUICE_API_SECRET");
}

/* One secret file behind a write key and a signing secret (`--from-file`, so "...\n"): the
 * write key is trimmed and the secret is not, and the pair no longer compared equal, so the
 * config was accepted while every page carried the signing secret but for its line end (anyone
 * could sign as the backend). Refused, as the same bytes without a line end always were; two
 * signing secrets still compare byte for byte. */
static void test_write_key_with_line_end_is_no_signing_secret(void **state)
{
    (void)state;
    setenv("T_SLUICE_WEB_KEY", "shared-secret-value-0123\n", 1);
    setenv("T_SLUICE_WEB_OLD", "wk_previous", 1);
    setenv("T_SLUICE_API_SECRET", "shared-secret-value-0123\n", 1);
    expect_errors_flags(SECRET_YAML, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:13:26: orgs[0].sources[1].hmac_secret_env: T_SLUICE_API_SECRET holds the same "
                            "secret as orgs[0].sources[0].write_key_env (T_SLUICE_WEB_KEY): each source needs a "
                            "secret of its own",
                            NULL,
                        });
    setenv("T_SLUICE_WEB_KEY", "  shared-secret-value-0123", 1);
    setenv("T_SLUICE_API_SECRET", "shared-secret-value-0123\r\n", 1);
    expect_errors_flags(SECRET_YAML, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:13:26: orgs[0].sources[1].hmac_secret_env: T_SLUICE_API_SECRET holds the same "
                            "secret as orgs[0].sources[0].write_key_env (T_SLUICE_WEB_KEY): each source needs a "
                            "secret of its own",
                            NULL,
                        });
    unsetenv("T_SLUICE_WEB_KEY");
    unsetenv("T_SLUICE_WEB_OLD");
    unsetenv("T_SLUICE_API_SECRET");
}

static void test_secrets_missing(void **state)
{
    (void)state;
    unsetenv("T_SLUICE_WEB_KEY");
    setenv("T_SLUICE_WEB_OLD", "", 1);
    setenv("T_SLUICE_API_SECRET", "s", 1);
    expect_errors_flags(SECRET_YAML, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:8:24: orgs[0].sources[0].write_key_env: environment variable T_SLUICE_WEB_KEY is "
                            "not set (source 'web' of org 'acme')",
                            "x.yaml:9:33: orgs[0].sources[0].previous_write_key_env: environment variable "
                            "T_SLUICE_WEB_OLD is empty (source 'web' of org 'acme')",
                            /* a 1-byte signing secret is guessed in 256 tries */
                            "x.yaml:13:26: orgs[0].sources[1].hmac_secret_env: the secret in T_SLUICE_API_SECRET is "
                            "1 bytes long: an HMAC signing secret needs at least 16 (source 'api' of org 'acme'; "
                            "e.g. openssl rand -hex 32)",
                            NULL,
                        });
    /* without RESOLVE_SECRETS (config check) the same are warnings and the load succeeds */
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(SECRET_YAML, SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(cfg);
    assert_int_equal(d.count, 0);
    assert_int_equal(d.warning_count, 3);
    assert_string_equal(d.warnings[0], "x.yaml:8:24: orgs[0].sources[0].write_key_env: environment variable "
                                       "T_SLUICE_WEB_KEY is not set (source 'web' of org 'acme')");
    assert_null(sluice_org_find_source(&cfg->orgs[0], "api")->hmac_secret);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    unsetenv("T_SLUICE_WEB_OLD");
    unsetenv("T_SLUICE_API_SECRET");
}

/* forget: the pseudonym key is read at every load (the worker and sluicectl do not resolve the
 * sources' secrets but must compute the gateway's pseudonyms); a missing one is an error only
 * when resolving, a short one always; the dump never shows it; the dsr topic is its own. */
/* database.audit_retention_days: how long `sluicectl vault audit prune` keeps vault_audit rows.
 * Defaults to 400 days; a week at least (a typo of 4 for 400 would erase the trail before anyone
 * read it), 100 years at most; a unit written after the number is refused, not read as 0. */
static void test_database_audit_retention(void **state)
{
    (void)state;
    /* Read through `config dump`'s JSON, as sluicectl shows it. */
    static const char *const yaml[] = {BASE, BASE "database: {url: \"dbname=x\", audit_retention_days: 30}\n"};
    static const char *const want[] = {"\"database\":{\"url\":null,\"audit_retention_days\":400}",
                                       "\"database\":{\"url\":\"dbname=x\",\"audit_retention_days\":30}"};
    for (size_t i = 0; i < 2; i++) {
        sluice_config_t *cfg = load_ok(yaml[i], SLUICE_CONFIG_NO_ENV);
        json_t *j = sluice_config_to_json(cfg);
        char *text = json_dumps(j, JSON_COMPACT);
        if (strstr(text, want[i]) == NULL)
            print_message("want %s in %s\n", want[i], text);
        assert_non_null(strstr(text, want[i]));
        free(text);
        json_decref(j);
        sluice_config_free(cfg);
    }
    expect_errors(BASE "database: {url: \"dbname=x\", audit_retention_days: 4}\n",
                  "x.yaml:10:51: database.audit_retention_days: 4 is out of range (7..36500)");
    expect_errors(BASE "database:\n  audit_retention_days: 40000\n",
                  "x.yaml:11:25: database.audit_retention_days: 40000 is out of range (7..36500)");
    expect_errors(BASE "database:\n  audit_retention_days: 400d\n",
                  "x.yaml:11:25: database.audit_retention_days: expected an integer, got a string");
    expect_errors(BASE "database:\n  audit_retension_days: 400\n",
                  "x.yaml:11:3: unknown key 'audit_retension_days' in database (did you mean 'audit_retention_days'?)");
}

static void test_forget_section(void **state)
{
    (void)state;
    sluice_config_t *cfg = load_ok(BASE, SLUICE_CONFIG_NO_ENV);
    assert_null(cfg->forget.key_env);
    assert_null(cfg->forget.key);
    assert_int_equal(cfg->forget.refresh_ms, 1000);
    assert_string_equal(cfg->kafka.dsr_topic, "sluice.dsr");
    sluice_config_free(cfg);

    setenv("T_FORGET_KEY", "0123456789abcdef-forget", 1);
    cfg = load_ok(BASE "forget: {key_env: T_FORGET_KEY, refresh_ms: 250}\n", SLUICE_CONFIG_NO_ENV);
    assert_string_equal(cfg->forget.key_env, "T_FORGET_KEY");
    assert_non_null(cfg->forget.key);
    assert_memory_equal(cfg->forget.key, "0123456789abcdef-forget", 23);
    assert_int_equal(cfg->forget.key_len, 23);
    assert_int_equal(cfg->forget.refresh_ms, 250);
    json_t *j = sluice_config_to_json(cfg);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(text, "0123456789abcdef-forget"));
    assert_non_null(strstr(text, "\"forget\":{\"key_env\":\"T_FORGET_KEY\",\"key\":\"***\",\"refresh_ms\":250}"));
    assert_non_null(strstr(text, "\"dsr_topic\":\"sluice.dsr\""));
    free(text);
    json_decref(j);
    sluice_config_free(cfg);

    setenv("T_FORGET_KEY", "too-short", 1);
    expect_errors_flags(BASE "forget: {key_env: T_FORGET_KEY}\n", SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:10:19: forget.key_env: the key in T_FORGET_KEY is shorter than 16 bytes (use "
                            "e.g. `openssl rand -hex 32`)",
                            NULL,
                        });
    unsetenv("T_FORGET_KEY");
    setenv("ACME_WEB_WRITE_KEY", "wk", 1);
    expect_errors_flags(BASE "forget: {key_env: T_FORGET_KEY, refresh_ms: 10}\n",
                        SLUICE_CONFIG_NO_ENV | SLUICE_CONFIG_RESOLVE_SECRETS,
                        (const char *const[]){
                            "x.yaml:10:45: forget.refresh_ms: 10 is out of range (100..3600000)",
                            "x.yaml:10:19: forget.key_env: environment variable T_FORGET_KEY is not set",
                            NULL,
                        });
    unsetenv("ACME_WEB_WRITE_KEY");
    sluice_config_diag_t d;
    cfg = load(BASE "forget: {key_env: T_FORGET_KEY}\n", SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(cfg);
    assert_int_equal(d.count, 0);
    assert_int_equal(d.warning_count, 2); /* and the write key's */
    assert_string_equal(d.warnings[0], "x.yaml:10:19: forget.key_env: environment variable T_FORGET_KEY is not set");
    assert_null(cfg->forget.key);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    expect_errors_flags(BASE "forget: {key_env: \"s3cr3t value\"}\n", SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:10:19: forget.key_env: not an environment variable name (letters, digits and '_', "
                            "not starting with a digit); the key is read from the variable, never written here",
                            NULL,
                        });

    expect_errors_flags("version: 1\n"
                        "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                        "kafka: {brokers: \"127.0.0.1:9092\", dsr_topic: sluice.invalid}\n"
                        "orgs: [{id: acme, sources: [{id: web, write_key_env: K}]}]\n",
                        SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:3:47: kafka.dsr_topic: must differ from kafka.topic, kafka.dlq_topic and "
                            "kafka.invalid_topic",
                            NULL,
                        });
}

/* ------------------------------------------------------------------ includes */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sluice-config-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/orgs", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    return clear_env(state);
}

static int remove_tmpdir(void **state)
{
    (void)state;
    static const char *const names[] = {"root.yaml", "orgs/beta.yaml", "orgs/more.yaml", "orgs/loop.yaml", NULL};
    char path[256];
    for (size_t i = 0; names[i] != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/orgs", tmpdir);
    rmdir(path);
    rmdir(tmpdir);
    return 0;
}

#define ROOT_HEAD                                                                                                      \
    "version: 1\n"                                                                                                     \
    "server: {http: {listen: \"127.0.0.1:8080\"}}\n"                                                                   \
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"                                                                           \
    "orgs:\n"                                                                                                          \
    "  - id: acme\n"                                                                                                   \
    "    sources: [{id: web, write_key_env: K}]\n"

static sluice_config_t *load_root(sluice_config_diag_t *d)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/root.yaml", tmpdir);
    sluice_config_diag_init(d);
    return sluice_config_load(path, SLUICE_CONFIG_NO_ENV, d);
}

static void test_include_ok(void **state)
{
    (void)state;
    write_file("root.yaml", ROOT_HEAD "  - include: orgs/beta.yaml\n  - include: orgs/more.yaml\n");
    write_file("orgs/beta.yaml", "id: beta\n"
                                 "sources: [{id: web, write_key_env: K}]\n"
                                 "data_layer:\n"
                                 "  mask: [{path: a.b, plugin: ../plugins/mine.so}]\n");
    write_file("orgs/more.yaml", "- id: gamma\n  sources: [{id: web, write_key_env: K}]\n"
                                 "- id: delta\n  sources: [{id: web, write_key_env: K}]\n");
    sluice_config_diag_t d;
    sluice_config_t *cfg = load_root(&d);
    if (cfg == NULL)
        dump_diag(&d);
    assert_non_null(cfg);
    assert_int_equal(cfg->org_count, 4);
    assert_string_equal(cfg->orgs[1].id, "beta");
    assert_string_equal(cfg->orgs[2].id, "gamma");
    assert_string_equal(cfg->orgs[3].id, "delta");
    char want[256];
    snprintf(want, sizeof(want), "%s/orgs/beta.yaml", tmpdir);
    assert_string_equal(cfg->orgs[1].file, want);
    /* a plugin path resolves against the directory of the file that names it */
    snprintf(want, sizeof(want), "%s/orgs/../plugins/mine.so", tmpdir);
    assert_string_equal(cfg->orgs[1].mask_rules[0].plugin, want);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
}

static void test_include_error_names_included_file(void **state)
{
    (void)state;
    write_file("root.yaml", ROOT_HEAD "  - include: orgs/beta.yaml\n");
    write_file("orgs/beta.yaml", "id: beta\n"
                                 "sources:\n"
                                 "  - id: web\n"
                                 "    write_key_env: K\n"
                                 "    rate_limit: {per_secnd: 5}\n"
                                 "  - id: web\n"
                                 "    write_key_env: K\n");
    sluice_config_diag_t d;
    assert_null(load_root(&d));
    char want0[256], want1[256];
    snprintf(want0, sizeof(want0),
             "%s/orgs/beta.yaml:5:18: unknown key 'per_secnd' in orgs[1].sources[0].rate_limit (did you mean "
             "'per_second'?)",
             tmpdir);
    snprintf(want1, sizeof(want1),
             "%s/orgs/beta.yaml:6:9: orgs[1].sources[1].id: duplicate source id 'web' in org 'beta' (first at line 3)",
             tmpdir);
    if (d.count != 2)
        dump_diag(&d);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.msgs[0], want0);
    assert_string_equal(d.msgs[1], want1);
    sluice_config_diag_dispose(&d);
}

static void test_include_missing_cycle_and_dup_across_files(void **state)
{
    (void)state;
    write_file("root.yaml", ROOT_HEAD "  - include: orgs/nope.yaml\n"
                                      "  - include: orgs/loop.yaml\n"
                                      "  - {include: orgs/beta.yaml, id: x}\n");
    write_file("orgs/loop.yaml", "- include: ../root.yaml\n");
    write_file("orgs/beta.yaml", "id: acme\nsources: [{id: web, write_key_env: K}]\n");
    sluice_config_diag_t d;
    assert_null(load_root(&d));
    char want[4][320];
    snprintf(want[0], sizeof(want[0]),
             "%s/root.yaml:7:14: orgs[1].include: cannot read '%s/orgs/nope.yaml': No such file or directory", tmpdir,
             tmpdir);
    snprintf(want[1], sizeof(want[1]),
             "%s/orgs/loop.yaml:1:12: orgs[1].include: include cycle: '%s/orgs/../root.yaml' is already being read",
             tmpdir, tmpdir);
    snprintf(want[2], sizeof(want[2]),
             "%s/root.yaml:9:31: unknown key 'id' in orgs[1] (an include entry takes only 'include')", tmpdir);
    snprintf(want[3], sizeof(want[3]),
             "%s/orgs/beta.yaml:1:5: orgs[1].id: duplicate org id 'acme' (first at %s/root.yaml:5)", tmpdir, tmpdir);
    if (d.count != 4)
        dump_diag(&d);
    assert_int_equal(d.count, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(d.msgs[i], want[i]);
    sluice_config_diag_dispose(&d);
}

static void test_include_syntax_error_in_included_file(void **state)
{
    (void)state;
    write_file("root.yaml", ROOT_HEAD "  - include: orgs/beta.yaml\n");
    write_file("orgs/beta.yaml", "id: beta\nid: again\n");
    sluice_config_diag_t d;
    assert_null(load_root(&d));
    char want[256];
    snprintf(want, sizeof(want), "%s/orgs/beta.yaml:2:1: duplicate key 'id' (first at line 1)", tmpdir);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.msgs[0], want);
    sluice_config_diag_dispose(&d);
}

/* ------------------------------------------------------------------ partial configs (config check) */

static void test_partial_keeps_what_decoded(void **state)
{
    (void)state;
    const char *yaml = BASE "    data_layer:\n"                                     /* 10 */
                            "      mask:\n"                                         /* 11 */
                            "        - {path: traits.a, plugin: partial}\n"         /* 12 */
                            "        - {path: traits.b, plugin: full, params: 3}\n" /* 13 */
                            "        - {path: 'x..y', plugin: full}\n"              /* 14 */
                            "    identity: {cross_domain: {domains: [a.test]}}\n"   /* 15 */
                            "    colour: red\n"                                     /* 16 */
                            "redis: {url: \"redis://127.0.0.1:6379\"}\n";           /* 17 */
    /* Without the flag: NULL, as the gateway needs. */
    sluice_config_diag_t d;
    assert_null(load(yaml, SLUICE_CONFIG_NO_ENV, &d));
    size_t errors = d.count;
    assert_int_equal(errors, 3);
    sluice_config_diag_dispose(&d);
    /* With it: the same errors, and the config anyway. */
    sluice_config_t *cfg = load(yaml, SLUICE_CONFIG_NO_ENV | SLUICE_CONFIG_PARTIAL, &d);
    assert_non_null(cfg);
    assert_int_equal(d.count, errors);
    assert_string_equal(d.msgs[d.count - 1], "x.yaml:16:5: unknown key 'colour' in orgs[0]");
    const sluice_org_t *org = &cfg->orgs[0];
    assert_string_equal(org->id, "acme");
    assert_int_equal(org->mask_rule_count, 3);
    assert_int_equal(org->mask_rules[0].invalid, 0);
    assert_string_equal(org->mask_rules[0].plugin, "partial");
    assert_int_equal(org->mask_rules[1].invalid, 1); /* params is not a map */
    assert_int_equal(org->mask_rules[2].invalid, 1); /* bad path */
    /* Positions the checks after loading report at. */
    assert_string_equal(cfg->server.tls_cert_pos.file, "x.yaml");
    assert_int_equal(cfg->server.tls_cert_pos.line, 3);
    assert_int_equal(cfg->server.tls_cert_pos.col, 43);
    assert_int_equal(cfg->server.tls_key_pos.line, 3);
    assert_int_equal(cfg->server.tls_key_pos.col, 55);
    assert_null(cfg->delivery.ca_file_pos.file);
    assert_int_equal(org->identity.xd_pos.line, 15);
    assert_int_equal(org->identity.xd_pos.col, 40);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
}

static void test_partial_after_root_syntax_error(void **state)
{
    (void)state;
    /* The file cannot be decoded, but the environment still can be checked. */
    setenv("SLUICE_KAFKA_BROKERS", "a:1,,b:2", 1);
    setenv("SLUICE_TLS_CERT", "/etc/ssl/none.crt", 1);
    const char *yaml = "version: 1\nserver:\n\tthreads: 2\n";
    sluice_config_diag_t d;
    assert_null(load(yaml, 0, &d));
    assert_int_equal(d.count, 1);
    sluice_config_diag_dispose(&d);
    sluice_config_t *cfg = load(yaml, SLUICE_CONFIG_PARTIAL, &d);
    assert_non_null(cfg);
    if (d.count != 2)
        dump_diag(&d);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.msgs[0], "x.yaml:3:1: tab character at line 3 col 1: YAML indentation must use spaces");
    assert_string_equal(d.msgs[1],
                        "SLUICE_KAFKA_BROKERS: 'a:1,,b:2' has an empty entry (expected host:port[,host:port...])");
    assert_string_equal(cfg->server.tls_cert, "/etc/ssl/none.crt");
    assert_null(cfg->server.tls_cert_pos.file); /* from the environment */
    assert_int_equal(cfg->org_count, 0);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
}

static void test_env_tls_paths_have_no_position(void **state)
{
    (void)state;
    setenv("SLUICE_TLS_KEY", "k.pem", 1);
    sluice_config_t *cfg = load_ok(BASE, 0);
    assert_int_equal(cfg->server.tls_cert_pos.line, 3);
    assert_null(cfg->server.tls_key_pos.file);
    assert_non_null(strstr(cfg->server.tls_key, "/k.pem"));
    sluice_config_free(cfg);
}

/* ------------------------------------------------------------------ names */

static void test_enum_names(void **state)
{
    (void)state;
    assert_int_equal(sluice_normalizer_parse("email"), SLUICE_NORM_EMAIL);
    assert_int_equal(sluice_normalizer_parse("external_id"), SLUICE_NORM_EXTERNAL_ID);
    assert_int_equal(sluice_normalizer_parse("raw"), SLUICE_NORM_RAW);
    assert_int_equal(sluice_normalizer_parse("Email"), -1);
    assert_string_equal(sluice_normalizer_name(SLUICE_NORM_PHONE), "phone");
    assert_int_equal(sluice_vendor_kind_parse("tiktok"), SLUICE_VENDOR_TIKTOK);
    assert_int_equal(sluice_vendor_kind_parse("facebook"), -1);
    assert_string_equal(sluice_vendor_kind_name(SLUICE_VENDOR_GA4), "ga4");
}

/* ------------------------------------------------------------------ an operator's mistakes (review of 2026-12-03) */

/* The session cookie's name goes into every answer's Set-Cookie: with a CR LF in it the config
 * wrote headers of its own into responses, and "my session" made a broken cookie. It takes the
 * rules of identity.cookie_name. */
static void test_session_cookie_name_checked(void **state)
{
    (void)state;
    expect_errors(BASE "    enrichment: {session: {cookie_name: \"my session; Domain=x\"}}\n",
                  "x.yaml:10:41: orgs[0].enrichment.session.cookie_name: 'my session; Domain=x' is not a cookie name "
                  "(letters, digits, '_', '-' and '.')");
    expect_errors(BASE "    enrichment: {session: {cookie_name: \"s\\r\\nX-Injected: yes\"}}\n",
                  "x.yaml:10:41: orgs[0].enrichment.session.cookie_name: is not a cookie name (letters, digits, '_', "
                  "'-' and '.')");
    sluice_config_t *cfg = load_ok(BASE "    enrichment: {session: {cookie_name: my_ses}}\n", SLUICE_CONFIG_NO_ENV);
    assert_string_equal(cfg->orgs[0].enrich.session_cookie, "my_ses");
    sluice_config_free(cfg);
}

/* Two listeners on one address both opened (SO_REUSEPORT), and the kernel shared the connections
 * between them: HTTPS clients landed on the plain listener or on /metrics at random. */
static void test_listeners_need_their_own_address(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server:\n"
                  "  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                  "  http: {listen: \"127.0.0.1:8443\"}\n"
                  "  metrics: {listen: \"0.0.0.0:8443\"}\n"
                  "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: [{id: web, write_key_env: K}]\n",
                  "x.yaml:4:18: server.http.listen: 127.0.0.1:8443 is also server.https.listen's port on that "
                  "address: each listener needs its own",
                  "x.yaml:5:21: server.metrics.listen: 0.0.0.0:8443 is also server.https.listen's port on that "
                  "address: each listener needs its own");
    /* Port 0 is a free port of the kernel's choosing, a different one for each (bench/bench.yaml). */
    sluice_config_t *cfg = load_ok("version: 1\n"
                                   "server:\n"
                                   "  https: {listen: \"127.0.0.1:0\", cert: c.crt, key: c.key}\n"
                                   "  metrics: {listen: \"127.0.0.1:0\"}\n"
                                   "  http: {listen: \"127.0.0.2:8443\"}\n"
                                   "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                                   "orgs:\n"
                                   "  - id: acme\n"
                                   "    sources: [{id: web, write_key_env: K}]\n",
                                   SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

/* One write key in two sources: the gateway took the first source it found, so the second org's
 * events went into the first org's stream under its data layer. The keys are never echoed. */
static void test_write_key_shared_by_two_sources(void **state)
{
    (void)state;
    setenv("T_SLUICE_K1", "samesamesamesame", 1);
    setenv("T_SLUICE_K2", "samesamesamesame", 1);
    setenv("T_SLUICE_K3", "otherotherother", 1);
    const char *yaml = "version: 1\n"
                       "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                       "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                       "orgs:\n"
                       "  - id: acme\n"
                       "    sources: [{id: web, write_key_env: T_SLUICE_K1}]\n"
                       "  - id: globex\n"
                       "    sources:\n"
                       "      - {id: web, write_key_env: T_SLUICE_K3, previous_write_key_env: T_SLUICE_K2, "
                       "rotated_at: 2026-11-20T00:00:00Z}\n";
    expect_errors_flags(yaml, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:9:71: orgs[1].sources[0].previous_write_key_env: T_SLUICE_K2 holds the same key "
                            "as orgs[0].sources[0].write_key_env (T_SLUICE_K1): each source needs a key of its own",
                            NULL,
                        });
    sluice_config_t *cfg = load_ok(yaml, SLUICE_CONFIG_NO_ENV); /* config check without --secrets reads no key */
    sluice_config_free(cfg);
    unsetenv("T_SLUICE_K1");
    unsetenv("T_SLUICE_K2");
    unsetenv("T_SLUICE_K3");
}

/* One signing secret in two server sources (one variable named by two orgs' files): the signature
 * does not cover X-Sluice-Source, so acme's backend could send a request it signed again as
 * "globex/crm" and the gateway queued it as globex's. A signing secret equal to a browser write
 * key (public in every page) let anyone sign. A source's own current and previous secret may be
 * equal. */
static void test_hmac_secret_shared_by_two_sources(void **state)
{
    (void)state;
    setenv("T_SLUICE_H1", "shared-signing-secret-0123456789", 1);
    setenv("T_SLUICE_H2", "globex-own-secret-0123456789abcd", 1);
    setenv("T_SLUICE_K1", "wk_public_key_in_every_page_0001", 1);
    const char *yaml = "version: 1\n"
                       "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                       "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                       "orgs:\n"
                       "  - id: acme\n"
                       "    sources:\n"
                       "      - {id: backend, kind: server, hmac_secret_env: T_SLUICE_H1}\n"
                       "  - id: globex\n"
                       "    sources:\n"
                       "      - {id: crm, kind: server, hmac_secret_env: T_SLUICE_H1}\n"
                       "      - {id: web, write_key_env: T_SLUICE_K1}\n"
                       "      - {id: app, kind: server, hmac_secret_env: T_SLUICE_K1}\n"
                       "      - {id: erp, kind: server, hmac_secret_env: T_SLUICE_H2, previous_hmac_secret_env: "
                       "T_SLUICE_H2, rotated_at: 2026-11-20T00:00:00Z}\n";
    expect_errors_flags(yaml, SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:10:50: orgs[1].sources[0].hmac_secret_env: T_SLUICE_H1 holds the same secret "
                            "as orgs[0].sources[0].hmac_secret_env (T_SLUICE_H1): each source needs a secret of its "
                            "own",
                            "x.yaml:12:50: orgs[1].sources[2].hmac_secret_env: T_SLUICE_K1 holds the same secret "
                            "as orgs[1].sources[1].write_key_env (T_SLUICE_K1): each source needs a secret of its "
                            "own",
                            NULL,
                        });
    sluice_config_t *cfg = load_ok(yaml, SLUICE_CONFIG_NO_ENV); /* config check without --secrets reads none */
    sluice_config_free(cfg);
    unsetenv("T_SLUICE_H1");
    unsetenv("T_SLUICE_H2");
    unsetenv("T_SLUICE_K1");
}

/* Two orgs with one cookie name on one domain (or one inside the other): a browser sends each
 * org's cookie to the other and each answer overwrites the other's, so an org that does not sign
 * took the other's visitor ids, and sessions (default name _sluice_ses) restarted at every switch. */
static void test_orgs_share_no_cookie(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                  "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: [{id: web, write_key_env: K1}]\n"
                  "    identity: {cookie_domain: shared.test}\n"
                  "    enrichment: {session: true}\n"
                  "  - id: globex\n"
                  "    sources: [{id: web, write_key_env: K2}]\n"
                  "    identity: {cookie_domain: www.shared.test}\n"
                  "  - id: initech\n"
                  "    sources: [{id: web, write_key_env: K3}]\n"
                  "    identity: {cookie_name: in_id, cookie_domain: Shared.test}\n"
                  "    enrichment: {session: true}\n"
                  "  - id: hooli\n"
                  "    sources: [{id: web, write_key_env: K4}]\n"
                  "    identity: {cookie_name: ho_id, cookie_domain: www.shared.test}\n"
                  "    enrichment: {session: true}\n",
                  "x.yaml:11:31: orgs[1].identity.cookie_domain: org 'globex' keeps its anonymous-id cookie '_sid' "
                  "on www.shared.test, where org 'acme' keeps its own (on shared.test): each org would read and "
                  "overwrite the other's; give one a cookie name of its own",
                  "x.yaml:14:51: orgs[2].identity.cookie_domain: org 'initech' keeps its session cookie "
                  "'_sluice_ses' on Shared.test, where org 'acme' keeps its own (on shared.test): each org would "
                  "read and overwrite the other's; give one a cookie name of its own");
    /* hooli's session cookie lives on www.shared.test beside acme's on shared.test: each org reads
     * the one its signature opens, so that is fine. So are names of their own, or domains apart
     * (notshared.test is not inside shared.test). */
    sluice_config_t *cfg = load_ok("version: 1\n"
                                   "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                                   "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                                   "orgs:\n"
                                   "  - id: acme\n"
                                   "    sources: [{id: web, write_key_env: K1}]\n"
                                   "    identity: {cookie_domain: shared.test}\n"
                                   "    enrichment: {session: true}\n"
                                   "  - id: globex\n"
                                   "    sources: [{id: web, write_key_env: K2}]\n"
                                   "    identity: {cookie_name: gx_id, cookie_domain: www.shared.test}\n"
                                   "    enrichment: {session: {cookie_name: gx_ses}}\n"
                                   "  - id: initech\n"
                                   "    sources: [{id: web, write_key_env: K3}]\n"
                                   "    identity: {cookie_domain: notshared.test}\n"
                                   "    enrichment: {session: true}\n"
                                   "  - id: hooli\n"
                                   "    sources: [{id: web, write_key_env: K4}]\n",
                                   SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

/* A key given no value is absent, as everywhere else: `cookie_consent:` with its list commented
 * out meant "no consent needed" and set cookies without any. */
static void test_null_consent_lists_are_absent(void **state)
{
    (void)state;
    sluice_config_t *cfg = load_ok(BASE "    consent: {required: [analytics]}\n"
                                        "    identity:\n"
                                        "      cookie_consent:\n"
                                        "        # - analytics\n"
                                        "    enrichment:\n"
                                        "      session: {consent: }\n",
                                   SLUICE_CONFIG_NO_ENV);
    assert_false(cfg->orgs[0].identity.cookie_consent_set);
    assert_false(cfg->orgs[0].enrich.session_consent_set);
    sluice_config_free(cfg);
    /* An empty list written out is a decision, and is kept. */
    cfg = load_ok(BASE "    identity: {cookie_consent: []}\n", SLUICE_CONFIG_NO_ENV);
    assert_true(cfg->orgs[0].identity.cookie_consent_set);
    assert_int_equal(cfg->orgs[0].identity.cookie_consent_count, 0);
    sluice_config_free(cfg);
}

/* A source whose secret names no variable can never authenticate. */
static void test_secret_env_without_a_name(void **state)
{
    (void)state;
    expect_errors(BASE "      - {id: srv, kind: server, hmac_secret_env: ~}\n"
                       "      - {id: app, write_key_env: }\n",
                  "x.yaml:10:50: orgs[0].sources[1].hmac_secret_env: expected the name of an environment variable, "
                  "got null",
                  "x.yaml:11:34: orgs[0].sources[2].write_key_env: expected the name of an environment variable, got "
                  "null");
}

/* The ticket secret's variable may not be one that holds the root keys: the gateway wipes it once
 * read, so SLUICE_KEYRING named there left the ring without its older keys (and their tokens,
 * cookies and vault rows unopenable), with nothing said. */
static void test_ticket_secret_env_not_a_root_key(void **state)
{
    (void)state;
    const char *names[] = {"ENCRYPTION_KEY", "SLUICE_KEYRING", "SLUICE_KEY_ID"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char yaml[1024], want[512];
        snprintf(yaml, sizeof(yaml),
                 "version: 1\nserver:\n  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key, "
                 "session_ticket_secret_env: %s}\nkafka: {brokers: \"127.0.0.1:9092\"}\norgs:\n  - id: acme\n"
                 "    sources: [{id: web, write_key_env: K}]\n",
                 names[i]);
        snprintf(want, sizeof(want),
                 "x.yaml:3:89: server.https.session_ticket_secret_env: %s holds sluice's root keys: give session "
                 "tickets a variable and a secret of their own (e.g. SLUICE_TLS_TICKET_SECRET)",
                 names[i]);
        expect_errors_flags(yaml, SLUICE_CONFIG_NO_ENV, (const char *const[]){want, NULL});
    }
}

/* A previous ticket secret is accepted beside a current one only, in a variable of its own. */
static void test_ticket_previous_secret_env(void **state)
{
    (void)state;
    const char *lines[] = {"session_ticket_previous_secret_env: P", "session_ticket_secret_env: T, "
                                                                    "session_ticket_previous_secret_env: T"};
    const char *want[] = {"x.yaml:3:98: server.https.session_ticket_previous_secret_env: only with "
                          "server.https.session_ticket_secret_env (a previous secret is accepted beside a current one)",
                          "x.yaml:3:128: server.https.session_ticket_previous_secret_env: names the variable of "
                          "server.https.session_ticket_secret_env: give the secret being replaced a variable of its "
                          "own"};
    for (size_t i = 0; i < 2; i++) {
        char yaml[1024];
        snprintf(
            yaml, sizeof(yaml),
            "version: 1\nserver:\n  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key, %s}\n"
            "kafka: {brokers: \"127.0.0.1:9092\"}\norgs:\n  - id: acme\n    sources: [{id: web, write_key_env: K}]\n",
            lines[i]);
        expect_errors_flags(yaml, SLUICE_CONFIG_NO_ENV, (const char *const[]){want[i], NULL});
    }
}

/* The tag outside the ingest and operations routes: at tag_path /v1/batch it answered every POST
 * of a batch with 405. */
static void test_tag_path_apart_from_routes(void **state)
{
    (void)state;
    const char *bad[] = {"/v1/batch", "/v1", "/healthz", "/metrics", "/readyz", "/beacon/v1/batch"};
    const char *why[] = {"path_prefix /v1 holds the event routes",
                         "path_prefix /v1 holds the event routes",
                         "an operations route",
                         "an operations route",
                         "an operations route",
                         "RudderStack's beacon route"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[1024], want[512];
        snprintf(yaml, sizeof(yaml),
                 "version: 1\nserver:\n  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                 "  tag_path: %s\nkafka: {brokers: \"127.0.0.1:9092\"}\norgs:\n  - id: acme\n"
                 "    sources: [{id: web, write_key_env: K}]\n",
                 bad[i]);
        snprintf(want, sizeof(want),
                 "x.yaml:4:13: server.tag_path: '%s' is a path the gateway serves already (%s): serve the tag "
                 "elsewhere, e.g. /sluice.js",
                 bad[i], why[i]);
        expect_errors_flags(yaml, SLUICE_CONFIG_NO_ENV, (const char *const[]){want, NULL});
    }
    sluice_config_t *cfg =
        load_ok("version: 1\nserver:\n  https: {listen: \"127.0.0.1:8443\", cert: c.crt, key: c.key}\n"
                "  tag_path: /v1x/tag.js\nkafka: {brokers: \"127.0.0.1:9092\"}\norgs:\n  - id: acme\n"
                "    sources: [{id: web, write_key_env: K}]\n",
                SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

/* Origins are compared byte for byte with the browser's Origin header, which never carries the
 * default port or a trailing dot: such entries never matched, and the site's events got 403. */
static void test_origins_a_browser_never_sends(void **state)
{
    (void)state;
    expect_errors(
        BASE "        allowed_origins: [\"https://shop.acme.test:443\", \"https://shop.acme.test.\", "
             "\"http://a.test:80\", \"https://b.test.:8443\"]\n",
        "x.yaml:10:27: orgs[0].sources[0].allowed_origins[0]: 'https://shop.acme.test:443' names the scheme's "
        "default port, which a browser's Origin leaves out: write it without the port",
        "x.yaml:10:57: orgs[0].sources[0].allowed_origins[1]: 'https://shop.acme.test.' ends its host with "
        "'.', which a browser's Origin leaves out: write it without the dot",
        "x.yaml:10:84: orgs[0].sources[0].allowed_origins[2]: 'http://a.test:80' names the scheme's default "
        "port, which a browser's Origin leaves out: write it without the port",
        "x.yaml:10:104: orgs[0].sources[0].allowed_origins[3]: 'https://b.test.:8443' ends its host with '.', "
        "which a browser's Origin leaves out: write it without the dot");
    sluice_config_t *cfg = load_ok(BASE "        allowed_origins: [\"https://shop.acme.test:8443\", \"http://a.test\", "
                                        "\"http://[::1]:8080\"]\n",
                                   SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

/* A browser's Origin carries the host in lowercase, and origins are compared byte for byte: an
 * entry with capitals loaded, and every request from that shop got 403 origin_not_allowed. */
static void test_origin_with_capitals(void **state)
{
    (void)state;
    expect_errors(BASE "        allowed_origins: [https://Shop.Acme.test, \"http://[::1:AB]:8080\"]\n",
                  "x.yaml:10:27: orgs[0].sources[0].allowed_origins[0]: 'https://Shop.Acme.test' has capitals in its "
                  "host, which a browser's Origin writes in lowercase: write it in lowercase",
                  "x.yaml:10:51: orgs[0].sources[0].allowed_origins[1]: 'http://[::1:AB]:8080' has capitals in its "
                  "host, which a browser's Origin writes in lowercase: write it in lowercase");
}

/* Aliases match the site's category names whatever their case: of two keys that differ only in
 * case one was never used. */
static void test_consent_aliases_differing_in_case(void **state)
{
    (void)state;
    expect_errors(BASE "    consent:\n"
                       "      aliases: {Analytics: marketing, analytics: analytics, ANALYTICS: ads}\n",
                  "x.yaml:11:39: orgs[0].consent.aliases.analytics: aliases match without regard to case, and "
                  "'Analytics' is already one (line 11)",
                  "x.yaml:11:61: orgs[0].consent.aliases.ANALYTICS: aliases match without regard to case, and "
                  "'Analytics' is already one (line 11)");
}

/* rotated_at says when the current key replaced the previous one, which stays valid for
 * grace_hours after it: a date in the future kept a rotated-out key valid until then. */
static void test_rotated_at_in_the_future(void **state)
{
    (void)state;
    expect_errors(BASE "        previous_write_key_env: OLD_KEY\n"
                       "        rotated_at: 9999-12-31T23:59:59Z\n",
                  "x.yaml:11:21: orgs[0].sources[0].rotated_at: '9999-12-31T23:59:59Z' is in the future; it says when "
                  "the current key replaced the previous one, which stays valid until then plus grace_hours");
}

/* A vendor's base_url or a webhook's url in plain http to another machine sent the credentials
 * (Meta's token is in the URL) and the events over the network unencrypted. */
static void test_plain_http_only_to_loopback(void **state)
{
    (void)state;
    expect_errors(BASE "    integrations:\n"
                       "      - {name: m, vendor: meta, pixel_id: \"1\", base_url: \"http://graph.example\"}\n"
                       "      - {name: h, vendor: webhook, url: \"http://collector.internal/hook\"}\n",
                  "x.yaml:11:58: orgs[0].integrations[0].base_url: 'http://graph.example' is plain http:// to another "
                  "machine: credentials and events would cross the network unencrypted (use https://; http:// is for "
                  "127.0.0.1, [::1] and localhost)",
                  "x.yaml:12:41: orgs[0].integrations[1].url: 'http://collector.internal/hook' is plain http:// to "
                  "another machine: credentials and events would cross the network unencrypted (use https://; http:// "
                  "is for 127.0.0.1, [::1] and localhost)");
    sluice_config_t *cfg =
        load_ok(BASE "    integrations:\n"
                     "      - {name: m, vendor: meta, pixel_id: \"1\", base_url: \"http://127.0.0.1:9\"}\n"
                     "      - {name: h, vendor: webhook, url: \"http://localhost:8080/hook\"}\n"
                     "      - {name: g, vendor: webhook, url: \"https://collector.example/hook\"}\n",
                SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

/* A base_url with a query or fragment: each request's path (the pixel's node, the customer's
 * endpoint) went into the query or a fragment never sent, and the credentials to the base's path.
 * The refusal quotes the URL without its query or user info: a proxy's key written there (an
 * Azure function's ?code=, a relay's password) was printed into the log of every program that
 * refused to start. */
static void test_base_url_without_query(void **state)
{
    (void)state;
    expect_errors(
        BASE "    integrations:\n"
             "      - {name: m, vendor: meta, pixel_id: \"1\", base_url: \"https://proxy.example/?x=1\"}\n"
             "      - {name: n, vendor: meta, pixel_id: \"1\", base_url: \"https://proxy.example/meta#\"}\n"
             "      - {name: o, vendor: meta, pixel_id: \"1\", base_url: \"https://fn.example/relay?code=FnKey42\"}\n"
             "      - {name: p, vendor: meta, pixel_id: \"1\", base_url: \"https://relay:Hunter2@proxy.example/m\"}\n"
             "      - {name: w, vendor: webhook, url: \"http://hooks.partner.example/in?token=S3cret\"}\n"
             "      - {name: q, vendor: meta, pixel_id: \"1\", base_url: \"HTTPS://relay:Hunter2@proxy.example\"}\n",
        "x.yaml:11:58: orgs[0].integrations[0].base_url: 'https://proxy.example/?***' has a query or fragment "
        "('?' or '#'); a base URL is scheme, host and an optional path prefix, to which each request's path "
        "is appended",
        "x.yaml:12:58: orgs[0].integrations[1].base_url: 'https://proxy.example/meta#' has a query or "
        "fragment ('?' or '#'); a base URL is scheme, host and an optional path prefix, to which each "
        "request's path is appended",
        "x.yaml:13:58: orgs[0].integrations[2].base_url: 'https://fn.example/relay?***' has a query or "
        "fragment ('?' or '#'); a base URL is scheme, host and an optional path prefix, to which each "
        "request's path is appended",
        "x.yaml:14:58: orgs[0].integrations[3].base_url: 'https://***@proxy.example/m' has user info in the "
        "URL; credentials come from the vault, not the config",
        "x.yaml:15:41: orgs[0].integrations[4].url: 'http://hooks.partner.example/in?***' is plain http:// to "
        "another machine: credentials and events would cross the network unencrypted (use https://; http:// is "
        "for 127.0.0.1, [::1] and localhost)",
        "x.yaml:16:58: orgs[0].integrations[5].base_url: 'HTTPS://***@proxy.example' is not an http:// or https:// "
        "URL");
    sluice_config_t *cfg =
        load_ok(BASE "    integrations:\n"
                     "      - {name: m, vendor: meta, pixel_id: \"1\", base_url: \"https://proxy.example/meta\"}\n"
                     "      - {name: h, vendor: webhook, url: \"https://collector.example/hook?org=acme\"}\n",
                SLUICE_CONFIG_NO_ENV);
    sluice_config_free(cfg);
}

/* Kafka properties go to librdkafka as the text written: YAML's 10_000 (an integer to a YAML
 * reader) was read by librdkafka as 10; and a property given under both its names (linger.ms and
 * queue.buffering.max.ms, sasl.mechanism and sasl.mechanisms) left which one wins to librdkafka,
 * while sluice's security check read one of them. */
static void test_kafka_property_values(void **state)
{
    (void)state;
    expect_errors(
        "version: 1\n"
        "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
        "kafka:\n"
        "  brokers: \"127.0.0.1:9092\"\n"
        "  properties: {batch.num.messages: 10_000, linger.ms: 5, queue.buffering.max.ms: 50}\n"
        "orgs:\n"
        "  - id: acme\n"
        "    sources: [{id: web, write_key_env: K}]\n",
        "x.yaml:5:36: kafka.properties.batch.num.messages: '10_000' is passed to librdkafka as written, which "
        "reads it as 10: write 10000",
        "x.yaml:5:58: kafka.properties.queue.buffering.max.ms: another name for linger.ms, which is set too: "
        "give one");
}

/* Cookie settings a browser would refuse, or that an operator writes from habit. */
static void test_cookie_domain_rules(void **state)
{
    (void)state;
    expect_errors(
        BASE "    identity: {cookie_name: __Host-sid, cookie_domain: acme.test}\n",
        "x.yaml:10:56: orgs[0].identity.cookie_domain: a __Host- cookie may not have a Domain (browsers refuse "
        "it): drop cookie_domain or the prefix");
    expect_errors(
        BASE "    identity: {cookie_domain: .acme.test}\n",
        "x.yaml:10:31: orgs[0].identity.cookie_domain: '.acme.test' is not a host name (empty label); a cookie "
        "domain is written without the leading dot (acme.test covers its subdomains)");
}

/* Trusting every peer's X-Forwarded-For lets any client choose the address the gateway sees. */
static void test_trusted_proxies_everyone_warned(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_t *cfg = load("version: 1\n"
                                "server:\n"
                                "  http: {listen: \"127.0.0.1:8080\"}\n"
                                "  trusted_proxies: [10.0.0.0/8, 0.0.0.0/0, \"::/0\"]\n"
                                "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                                "orgs:\n"
                                "  - id: acme\n"
                                "    sources: [{id: web, write_key_env: K}]\n",
                                SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(cfg);
    size_t everyone = 0, first = d.warning_count;
    for (size_t i = 0; i < d.warning_count; i++) {
        if (strstr(d.warnings[i], "trusts every peer") != NULL && everyone++ == 0)
            first = i;
    }
    assert_int_equal(everyone, 2);
    assert_string_equal(d.warnings[first], "x.yaml:4:33: server.trusted_proxies[1]: '0.0.0.0/0' trusts every peer: any "
                                           "client can then choose the address the gateway sees (its context.ip, rate "
                                           "limits and geolocation); list your proxies' addresses");
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
}

/* 10.1.2.3/8 reads like one proxy and trusts all of 10.0.0.0/8: warned, naming the range. A
 * range written at its start, and an address alone, are not. */
static void test_trusted_proxy_host_bits_warned(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_t *cfg = load("version: 1\n"
                                "server:\n"
                                "  http: {listen: \"127.0.0.1:8080\"}\n"
                                "  trusted_proxies: [10.0.0.0/8, 10.1.2.3/8, 192.168.1.7, \"fd00::1/8\"]\n"
                                "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                                "orgs:\n"
                                "  - id: acme\n"
                                "    sources: [{id: web, write_key_env: K}]\n",
                                SLUICE_CONFIG_NO_ENV, &d);
    assert_non_null(cfg);
    size_t n = 0;
    const char *first = NULL, *second = NULL;
    for (size_t i = 0; i < d.warning_count; i++) {
        if (strstr(d.warnings[i], "past its") != NULL) {
            if (n++ == 0)
                first = d.warnings[i];
            else
                second = d.warnings[i];
        }
    }
    assert_int_equal(n, 2);
    assert_string_equal(first, "x.yaml:4:33: server.trusted_proxies[1]: '10.1.2.3/8' has address bits past its /8 "
                               "prefix: it trusts the whole range 10.0.0.0/8; write the proxy's address alone for "
                               "one host");
    assert_non_null(strstr(second, "'fd00::1/8'"));
    assert_non_null(strstr(second, "range fd00::/8;"));
    assert_int_equal(cfg->server.trusted_proxy_count, 4);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
}

/* A leading zero: YAML 1.1 readers take 010 as octal 8, sluice read it as 10. Neither is what
 * everyone reading the file agrees on. */
static void test_integer_with_a_leading_zero(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                  "kafka: {brokers: \"127.0.0.1:9092\", ack_timeout_ms: 010}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: [{id: web, write_key_env: K}]\n",
                  "x.yaml:3:52: kafka.ack_timeout_ms: '010' has a leading zero, which YAML 1.1 reads as octal: write "
                  "it without the zero (sluice reads decimal)");
}

/* YAML merge keys are not supported: say so rather than "unknown key '<<'". */
static void test_merge_key_named(void **state)
{
    (void)state;
    expect_errors(BASE "        <<: {grace_hours: 1}\n",
                  "x.yaml:10:9: unknown key '<<' in orgs[0].sources[0] (YAML merge keys are not supported: write the "
                  "keys out)");
}

/* A mistyped override (SLUICE_KAFKA_BROKER) was silently ignored: the file's value served. */
static void test_mistyped_override_warned(void **state)
{
    (void)state;
    setenv("SLUICE_KAFKA_BROKER", "10.0.0.1:9092", 1);
    sluice_config_diag_t d;
    sluice_config_t *cfg = load(BASE, 0, &d);
    assert_non_null(cfg);
    size_t found = 0;
    for (size_t i = 0; i < d.warning_count; i++)
        found += strcmp(d.warnings[i], "SLUICE_KAFKA_BROKER: not a variable sluice reads, so it is ignored (did you "
                                       "mean SLUICE_KAFKA_BROKERS?)") == 0;
    if (found != 1)
        for (size_t i = 0; i < d.warning_count; i++)
            print_message("  warning: %s\n", d.warnings[i]);
    assert_int_equal(found, 1);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    unsetenv("SLUICE_KAFKA_BROKER");
}

/* An integration's events list naming "" matched nothing a site sends. */
static void test_empty_event_name(void **state)
{
    (void)state;
    expect_errors(
        BASE "    integrations:\n"
             "      - {name: m, vendor: meta, pixel_id: \"1\", events: [Purchase, \"\"]}\n",
        "x.yaml:11:67: orgs[0].integrations[0].events[1]: '' matches no event: an event name cannot be empty");
}

/* A burst without per_second was read as no limit at all. */
static void test_burst_needs_a_rate(void **state)
{
    (void)state;
    expect_errors(BASE "        rate_limit: {burst: 500}\n"
                       "        client_rate_limit: {burst: 5}\n",
                  "x.yaml:10:21: orgs[0].sources[0].rate_limit: burst without per_second (which sets the rate; "
                  "without it there is no limit)",
                  "x.yaml:11:28: orgs[0].sources[0].client_rate_limit: burst without per_second (which sets the rate; "
                  "without it there is no limit)");
}

/* "$KAFKA_BROKERS" was taken as a host name: sluice does not substitute variables in values. */
static void test_variables_are_not_substituted(void **state)
{
    (void)state;
    expect_errors("version: 1\n"
                  "server: {http: {listen: \"127.0.0.1:8080\"}}\n"
                  "kafka: {brokers: \"${KAFKA_BROKERS}\"}\n"
                  "redis: {url: \"$REDIS_URL\"}\n"
                  "orgs:\n"
                  "  - id: acme\n"
                  "    sources: [{id: web, write_key_env: K}]\n",
                  "x.yaml:3:18: kafka.brokers: '${KAFKA_BROKERS}' looks like an environment variable: sluice does not "
                  "substitute variables in values (set SLUICE_KAFKA_BROKERS instead)",
                  "x.yaml:4:14: redis.url: '$REDIS_URL' looks like an environment variable: sluice does not substitute "
                  "variables in values (set SLUICE_REDIS_URL instead)");
}

/* A secret pasted where the variable's name goes: the log printed it ("environment variable
 * sk_live_... is not set"). Names that are not written like a variable's are not echoed. */
static void test_secret_pasted_as_a_variable_name(void **state)
{
    (void)state;
    unsetenv("sk_live_9fQ2xLm7TzP4vW8kRr3N");
    expect_errors_flags(BASE "      - {id: app, write_key_env: sk_live_9fQ2xLm7TzP4vW8kRr3N}\n",
                        SLUICE_CONFIG_RESOLVE_SECRETS | SLUICE_CONFIG_NO_ENV,
                        (const char *const[]){
                            "x.yaml:9:24: orgs[0].sources[0].write_key_env: environment variable ACME_WEB_WRITE_KEY "
                            "is not set (source 'web' of org 'acme')",
                            "x.yaml:10:34: orgs[0].sources[1].write_key_env: the environment variable named here is "
                            "not set (source 'app' of org 'acme'); the name is not shown: it is not written like a "
                            "variable's (capitals, digits, '_'), and may be a key pasted in its place",
                            NULL,
                        });
}

/* A bare `-` (or a template that rendered nothing) in a list of rules is an item all the same:
 * taken as an absent map, it loaded as a hash rule with no path, a mask rule with no plugin and
 * an integration with no vendor, without a word, and `sluicectl privacy map` crashed on it. */
static void test_null_rule_items_refused(void **state)
{
    (void)state;
    expect_errors(BASE "    data_layer:\n"
                       "      hash_fields:\n"
                       "        -\n"
                       "        - {path: traits.email, normalize: email}\n"
                       "      mask:\n"
                       "        - ~\n"
                       "    integrations:\n"
                       "      -\n",
                  "x.yaml:12:10: orgs[0].data_layer.hash_fields[0]: expected a map, got null",
                  "x.yaml:15:11: orgs[0].data_layer.mask[0]: expected a map, got null",
                  "x.yaml:17:8: orgs[0].integrations[0]: expected a map, got null");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_example_loads_with_its_facts, clear_env),
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_integration_defaults_per_vendor, clear_env),
        cmocka_unit_test_setup(test_unknown_key_with_suggestion, clear_env),
        cmocka_unit_test_setup(test_unknown_keys_deep_in_org, clear_env),
        cmocka_unit_test_setup(test_wrong_types, clear_env),
        cmocka_unit_test_setup(test_missing_required, clear_env),
        cmocka_unit_test_setup(test_out_of_range_and_enum, clear_env),
        cmocka_unit_test_setup(test_range_enum_cross_limits, clear_env),
        cmocka_unit_test_setup(test_duplicate_ids, clear_env),
        cmocka_unit_test_setup(test_bad_field_paths, clear_env),
        cmocka_unit_test_setup(test_field_paths_that_never_match, clear_env),
        cmocka_unit_test_setup(test_field_handled_twice, clear_env),
        cmocka_unit_test_setup(test_rule_on_the_gateways_own_fields, clear_env),
        cmocka_unit_test_setup(test_rule_paths_in_other_spellings, clear_env),
        cmocka_unit_test_setup(test_enrichment, clear_env),
        cmocka_unit_test_setup(test_bad_network_values, clear_env),
        cmocka_unit_test_setup(test_source_values, clear_env),
        cmocka_unit_test_setup(test_previous_hmac_secret, clear_env),
        cmocka_unit_test_setup(test_mask_and_hash_rule_shapes, clear_env),
        cmocka_unit_test_setup(test_integration_shapes, clear_env),
        cmocka_unit_test_setup(test_inline_secrets_refused, clear_env),
        cmocka_unit_test_setup(test_yaml_errors_pass_through, clear_env),
        cmocka_unit_test_setup(test_final_checks, clear_env),
        cmocka_unit_test_setup_teardown(test_env_overrides, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_env_bad_values, clear_env, clear_env),
        cmocka_unit_test_setup(test_secrets_resolved, clear_env),
        cmocka_unit_test_setup(test_secrets_with_line_ends, clear_env),
        cmocka_unit_test_setup(test_write_key_with_line_end_is_no_signing_secret, clear_env),
        cmocka_unit_test_setup(test_secrets_missing, clear_env),
        cmocka_unit_test_setup(test_forget_section, clear_env),
        cmocka_unit_test_setup(test_database_audit_retention, clear_env),
        cmocka_unit_test_setup_teardown(test_include_ok, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_include_error_names_included_file, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_include_missing_cycle_and_dup_across_files, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_include_syntax_error_in_included_file, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup(test_partial_keeps_what_decoded, clear_env),
        cmocka_unit_test_setup_teardown(test_partial_after_root_syntax_error, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_env_tls_paths_have_no_position, clear_env, clear_env),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test_setup_teardown(test_redis_auth_and_prefix, clear_env, clear_env),
        cmocka_unit_test_setup(test_session_cookie_name_checked, clear_env),
        cmocka_unit_test_setup(test_listeners_need_their_own_address, clear_env),
        cmocka_unit_test_setup(test_write_key_shared_by_two_sources, clear_env),
        cmocka_unit_test_setup(test_hmac_secret_shared_by_two_sources, clear_env),
        cmocka_unit_test(test_orgs_share_no_cookie),
        cmocka_unit_test_setup(test_null_consent_lists_are_absent, clear_env),
        cmocka_unit_test_setup(test_secret_env_without_a_name, clear_env),
        cmocka_unit_test_setup(test_ticket_secret_env_not_a_root_key, clear_env),
        cmocka_unit_test_setup(test_ticket_previous_secret_env, clear_env),
        cmocka_unit_test_setup(test_tag_path_apart_from_routes, clear_env),
        cmocka_unit_test_setup(test_burst_needs_a_rate, clear_env),
        cmocka_unit_test_setup(test_integer_with_a_leading_zero, clear_env),
        cmocka_unit_test_setup(test_merge_key_named, clear_env),
        cmocka_unit_test_setup(test_mistyped_override_warned, clear_env),
        cmocka_unit_test_setup(test_empty_event_name, clear_env),
        cmocka_unit_test_setup(test_kafka_property_values, clear_env),
        cmocka_unit_test_setup(test_cookie_domain_rules, clear_env),
        cmocka_unit_test_setup(test_trusted_proxies_everyone_warned, clear_env),
        cmocka_unit_test_setup(test_trusted_proxy_host_bits_warned, clear_env),
        cmocka_unit_test_setup(test_plain_http_only_to_loopback, clear_env),
        cmocka_unit_test_setup(test_base_url_without_query, clear_env),
        cmocka_unit_test_setup(test_rotated_at_in_the_future, clear_env),
        cmocka_unit_test_setup(test_consent_aliases_differing_in_case, clear_env),
        cmocka_unit_test_setup(test_origins_a_browser_never_sends, clear_env),
        cmocka_unit_test_setup(test_variables_are_not_substituted, clear_env),
        cmocka_unit_test_setup(test_secret_pasted_as_a_variable_name, clear_env),
        cmocka_unit_test_setup(test_null_rule_items_refused, clear_env),
        cmocka_unit_test_setup(test_field_paths_with_invisible_characters, clear_env),
        cmocka_unit_test_setup(test_origin_with_capitals, clear_env),
        cmocka_unit_test_setup(test_calling_code_with_a_leading_zero, clear_env),
        cmocka_unit_test_setup(test_filters_that_never_pass, clear_env),
        cmocka_unit_test_setup(test_limited_data_use_category, clear_env),
        cmocka_unit_test_setup(test_consent_gpc, clear_env),
        cmocka_unit_test_setup(test_queue_smaller_than_two_batches, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Masking plugins in the running gateway, with the fixture plugin of tests/fixtures/plugins
 * (built like any third-party plugin): values come out of Kafka masked as configured, inside
 * arrays and batches, on both event-loop threads; privacy.masked lists the rule paths; a plugin
 * error removes the field (or rejects the event, per on_error) with the per-plugin metric up and
 * the log naming plugin and path but never the value; a broken plugin refuses start-up and a
 * reload, with its reason, while the old config keeps serving; a new version installed under the
 * same path is what a reload loads, and one rewritten in place does not reach the running copy,
 * also when the plugin finds a library of its own through $ORIGIN; a number or an object answered
 * as its own JSON text is an echo, judged for personal data like UNCHANGED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/integration/gwfix.h"

static gwfix_t F;
static char fixtures[PATH_MAX];

#define WEB_KEY "wk_live_plugins_3c9e"

/* The config, with `extra_rule` appended to the mask rules (a reload swaps it in). */
static void write_config(const char *extra_rule)
{
    char yaml[32768];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "kafka: {brokers: \"%s\", ack_timeout_ms: 4000}\n"
             "redis: {url: \"%s\", timeout_ms: 200}\n"
             "plugins: {dir: %s}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_WEB_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    data_layer:\n"
             "      hash_fields:\n"
             "        - {path: traits.email, normalize: email}\n"
             "      mask:\n"
             "        - {path: properties.card, plugin: fixture, params: {prefix: 'masked:', fail_on: poison-4111}}\n"
             "        - {path: \"properties.items[*].sku\", plugin: %s/fixture.so, params: {prefix: 'sku:'}}\n"
             "        - {path: properties.ssn, plugin: fixture, params: {fail_on: poison-ssn}, on_error: reject}\n"
             "        - {path: properties.nickname, plugin: fixture}\n"
             "        - {path: properties.echo, plugin: fixture, params: {prefix: ''}}\n"
             "%s",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, F.redis.url, fixtures, fixtures,
             extra_rule);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("gateway.yaml", yaml));
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(fixtures, sizeof(fixtures), "%s/tests/fixtures/plugins", sluice_th_build_dir());
    gwfix_stack(&F);
    write_config("");
    static const char *env[] = {"T_WEB_KEY=" WEB_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gwfix_stop(&F, SIGTERM);
    sluice_th_teardown();
    return 0;
}

/* The gateway's log so far (caller frees). */
static char *gateway_log(void)
{
    FILE *f = fopen(sluice_th_proc_log(F.gw), "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int listed(json_t *privacy, const char *list, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(privacy, list), i, v) {
        if (strcmp(json_string_value(v), path) == 0)
            return 1;
    }
    return 0;
}

static json_t *event_of(json_t *msgs, const char *id)
{
    json_t *m = gwfix_find_message(msgs, id);
    if (m == NULL)
        fail_msg("message %s not in Kafka", id);
    return json_object_get(json_object_get(m, "value"), "event");
}

static json_t *privacy_of(json_t *msgs, const char *id)
{
    return json_object_get(json_object_get(gwfix_find_message(msgs, id), "value"), "privacy");
}

static void masked_in_kafka(void **state)
{
    (void)state;
    http_resp_t r;
    /* A batch, several times, so both event-loop threads' plugin contexts are used. */
    for (int round = 0; round < 6; round++) {
        char body[1024];
        snprintf(body, sizeof(body),
                 "{\"batch\":[{\"type\":\"track\",\"event\":\"Order\",\"messageId\":\"pl-%d-a\","
                 "\"traits\":{\"email\":\"Ann@Example.com\"},"
                 "\"properties\":{\"card\":\"4111-1111-1111-1111\",\"items\":[{\"sku\":\"A-1\"},{\"sku\":\"B-2\"}],"
                 "\"nickname\":\"__null__\",\"total\":10}},"
                 "{\"type\":\"track\",\"event\":\"Order\",\"messageId\":\"pl-%d-b\","
                 "\"properties\":{\"nickname\":\"__remove__\",\"ssn\":\"078-05-1120\"}}]}",
                 round, round);
        assert_int_equal(gwfix_post(&F, "/v1/batch", WEB_KEY, body, &r), 200);
        http_resp_dispose(&r);
    }
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    for (int round = 0; round < 6; round++) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "pl-%d-a", round);
        snprintf(b, sizeof(b), "pl-%d-b", round);
        json_t *ev = event_of(msgs, a);
        json_t *props = json_object_get(ev, "properties");
        assert_string_equal(json_string_value(json_object_get(props, "card")), "masked:4111-1111-1111-1111");
        json_t *items = json_object_get(props, "items");
        assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "sku")), "sku:A-1");
        assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "sku")), "sku:B-2");
        /* A plugin may answer JSON (here null) instead of a string. */
        assert_true(json_is_null(json_object_get(props, "nickname")));
        assert_int_equal(json_integer_value(json_object_get(props, "total")), 10);
        /* Masking comes after hash_fields: the e-mail is a hash, not masked twice. */
        assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(ev, "traits"), "email"))), 64);
        json_t *privacy = privacy_of(msgs, a);
        assert_true(listed(privacy, "masked", "properties.card"));
        assert_true(listed(privacy, "masked", "properties.items[*].sku"));
        assert_true(listed(privacy, "masked", "properties.nickname"));
        assert_true(listed(privacy, "hashed", "traits.email"));

        json_t *evb = event_of(msgs, b);
        props = json_object_get(evb, "properties");
        assert_null(json_object_get(props, "nickname")); /* the plugin asked for REMOVE */
        assert_string_equal(json_string_value(json_object_get(props, "ssn")), "m:078-05-1120");
        assert_true(listed(privacy_of(msgs, b), "masked", "properties.ssn"));
    }
    json_decref(msgs);
    assert_int_equal(gwfix_metric(&F, "sluice_plugin_calls_total{plugin=\"fixture\",org=\"acme\",rule="
                                      "\"properties.items[*].sku\"}"),
                     12);
    assert_int_equal(gwfix_metric(&F, "sluice_plugin_errors_total{plugin=\"fixture\",org=\"acme\",rule="
                                      "\"properties.card\"}"),
                     0);
}

static void plugin_error_fails_closed(void **state)
{
    (void)state;
    http_resp_t r;
    /* on_error remove: the event is accepted without the field. */
    assert_int_equal(
        gwfix_post(&F, "/v1/t", WEB_KEY,
                   "{\"event\":\"Order\",\"messageId\":\"pl-err-1\",\"properties\":{\"card\":\"poison-4111\","
                   "\"total\":5}}",
                   &r),
        200);
    http_resp_dispose(&r);
    /* on_error reject: the event is refused, nothing reaches Kafka. */
    gwfix_post(&F, "/v1/t", WEB_KEY,
               "{\"event\":\"Order\",\"messageId\":\"pl-err-2\",\"properties\":{\"ssn\":\"poison-ssn\"}}", &r);
    assert_int_equal(r.status, 400);
    assert_true(gwfix_contains(r.body, "mask_failed"));
    assert_true(gwfix_contains(r.body, "properties.ssn"));
    assert_false(gwfix_contains(r.body, "poison-ssn"));
    http_resp_dispose(&r);

    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *ev = event_of(msgs, "pl-err-1");
    assert_null(json_object_get(json_object_get(ev, "properties"), "card"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "properties"), "total")), 5);
    assert_true(listed(privacy_of(msgs, "pl-err-1"), "dropped", "properties.card"));
    assert_false(listed(privacy_of(msgs, "pl-err-1"), "masked", "properties.card"));
    assert_int_equal(gwfix_count_message(msgs, "pl-err-2"), 0);
    char *all = json_dumps(msgs, 0);
    assert_false(gwfix_contains(all, "poison-4111"));
    assert_false(gwfix_contains(all, "poison-ssn"));
    free(all);
    json_decref(msgs);

    assert_int_equal(
        gwfix_metric(&F, "sluice_plugin_errors_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.card\"}"), 1);
    assert_int_equal(
        gwfix_metric(&F, "sluice_plugin_errors_total{plugin=\"fixture\",org=\"acme\",rule=\"properties.ssn\"}"), 1);

    /* The log names plugin and path, never the value. */
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw, "\"mask.failed\"", 2, 5000, &err), 0);
    char *log = gateway_log();
    assert_true(gwfix_contains(log, "plugin fixture failed on org acme path properties.card (rule properties.card): "
                                    "invalid value; the field is removed"));
    assert_true(gwfix_contains(log, "path properties.ssn (rule properties.ssn): invalid value; the field is removed "
                                    "and the event rejected"));
    assert_false(gwfix_contains(log, "poison-4111"));
    assert_false(gwfix_contains(log, "poison-ssn"));
    free(log);
}

/* A plugin that hands a value back as it was (UNCHANGED, or the same value as its answer: the
 * fixture keeps numbers, and with prefix '' echoes strings) sent the card number or e-mail the
 * rule names to Kafka as sent, listed as masked, and the PII guard skipped it (the rule covers
 * it). A value left so that holds personal data now fails closed; one that holds none stays. */
static void plugin_leaving_pii_fails_closed(void **state)
{
    (void)state;
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-keep-1\",\"properties\":{\"card\":"
                                "4111111111111111,\"echo\":\"bob@example.com\",\"total\":7}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-keep-2\",\"properties\":{\"card\":"
                                "\"__keep__\",\"echo\":\"gift wrap\"}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    /* An object or a list the plugin leaves as it was is looked into too: a card in a payment
     * object under the rule's path went to Kafka listed as masked. */
    assert_int_equal(
        gwfix_post(&F, "/v1/t", WEB_KEY,
                   "{\"event\":\"Order\",\"messageId\":\"pl-keep-3\",\"properties\":{\"card\":"
                   "{\"brand\":\"visa\",\"number\":\"4012888888881881\"},\"echo\":[\"x\",[\"carol@example.org\"]],"
                   "\"total\":9}}",
                   &r),
        200);
    http_resp_dispose(&r);
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-keep-4\",\"properties\":{\"card\":"
                                "{\"brand\":\"visa\",\"last4\":\"1881\"}}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *kept3 = json_object_get(event_of(msgs, "pl-keep-3"), "properties");
    assert_null(json_object_get(kept3, "card"));
    assert_null(json_object_get(kept3, "echo"));
    assert_int_equal(json_integer_value(json_object_get(kept3, "total")), 9);
    json_t *kept4 = json_object_get(json_object_get(event_of(msgs, "pl-keep-4"), "properties"), "card");
    assert_string_equal(json_string_value(json_object_get(kept4, "last4")), "1881");
    json_t *props = json_object_get(event_of(msgs, "pl-keep-1"), "properties");
    assert_null(json_object_get(props, "card"));
    assert_null(json_object_get(props, "echo"));
    assert_int_equal(json_integer_value(json_object_get(props, "total")), 7);
    assert_true(listed(privacy_of(msgs, "pl-keep-1"), "dropped", "properties.card"));
    assert_false(listed(privacy_of(msgs, "pl-keep-1"), "masked", "properties.card"));
    props = json_object_get(event_of(msgs, "pl-keep-2"), "properties");
    assert_string_equal(json_string_value(json_object_get(props, "card")), "__keep__");
    assert_string_equal(json_string_value(json_object_get(props, "echo")), "gift wrap");
    char *all = json_dumps(msgs, 0);
    assert_false(gwfix_contains(all, "4111111111111111"));
    assert_false(gwfix_contains(all, "bob@example.com"));
    assert_false(gwfix_contains(all, "4012888888881881"));
    assert_false(gwfix_contains(all, "carol@example.org"));
    free(all);
    json_decref(msgs);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw, "left a value holding personal data", 2, 5000, &err), 0);
    char *log = gateway_log();
    assert_true(gwfix_contains(log, "plugin fixture failed on org acme path properties.card (rule properties.card): "
                                    "it left a value holding personal data (a card number) as it was; the field is "
                                    "removed"));
    assert_true(gwfix_contains(log, "path properties.echo (rule properties.echo): it left a value holding personal "
                                    "data (an e-mail address) as it was"));
    assert_false(gwfix_contains(log, "4111111111111111"));
    assert_false(gwfix_contains(log, "bob@example.com"));
    free(log);
}

/* A plugin that holds the event-loop thread longer than kafka.ack_timeout_ms (4 s here): the
 * ack deadline was counted from the loop's clock of before the call, so it ran out at once and
 * the client got 503 "Kafka did not acknowledge in time; retry" for an event Kafka had taken (a
 * retry made a duplicate). The deadline now runs from the produce, and the slow call is logged. */
static void slow_plugin_is_not_blamed_on_kafka(void **state)
{
    (void)state;
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-slow-1\",\"properties\":{\"card\":"
                                "\"__slow__\"}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_int_equal(gwfix_count_message(msgs, "pl-slow-1"), 1);
    json_decref(msgs);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw, "\"mask.slow\"", 1, 5000, &err), 0);
    char *log = gateway_log();
    assert_true(gwfix_contains(log, "plugin fixture held the event-loop thread for"));
    assert_true(gwfix_contains(log, "org acme path properties.card"));
    free(log);
}

static void broken_plugin_refuses_reload(void **state)
{
    (void)state;
    write_config("        - {path: properties.x, plugin: broken_failing_create}\n");
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "reload refused", 1, 10000, &err), 0);
    char *log = gateway_log();
    assert_true(gwfix_contains(log, "orgs[0].data_layer.mask[5]: plugin 'broken' ("));
    assert_true(gwfix_contains(log, "refused its configuration: the key must be 32 bytes"));
    free(log);
    /* The previous config (and its plugins) keeps serving. */
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-after\",\"properties\":{\"card\":\"4242\"}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(event_of(msgs, "pl-after"), "properties"), "card")),
        "masked:4242");
    json_decref(msgs);
    write_config("");
}

/* The card of a posted event as it reached Kafka. */
static const char *card_after(const char *id, json_t **msgs)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"event\":\"Order\",\"messageId\":\"%s\",\"properties\":{\"up\":\"4111222233334444\"}}", id);
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY, body, &r), 200);
    http_resp_dispose(&r);
    *msgs = gwfix_kafka_read(&F, "sluice.events");
    return json_string_value(json_object_get(json_object_get(event_of(*msgs, id), "properties"), "up"));
}

/* Writes the bytes of the file src to path: by a new file renamed over it (install, mv), or in
 * place (cp: truncated, then written). */
static void put_file(const char *src, const char *path, int in_place)
{
    char tmp[PATH_MAX + 8];
    sluice_err_t err = {{0}};
    size_t len = 0;
    char *so = sluice_th_read_file(src, &len, &err);
    assert_non_null(so);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(in_place ? path : tmp, in_place ? "r+b" : "wb");
    assert_non_null(f);
    if (in_place)
        assert_int_equal(ftruncate(fileno(f), 0), 0);
    assert_int_equal(fwrite(so, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(so);
    if (!in_place)
        assert_int_equal(rename(tmp, path), 0);
}

/* The same with build/plugins/<name>.so. */
static void put_plugin(const char *name, const char *path, int in_place)
{
    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s/plugins/%s.so", sluice_th_build_dir(), name);
    put_file(src, path, in_place);
}

static void reload_with(const char *rule, int count)
{
    write_config(rule);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_proc_signal(F.gw, SIGHUP, &err), 0);
    assert_int_equal(sluice_th_wait_log(F.gw, "config reloaded", count, 10000, &err), 0);
}

/* An operator upgrades a plugin under the same path (install or mv, as plugins.md says) and sends
 * SIGHUP. The gateway said "config reloaded" and went on masking with the old version: the
 * dynamic loader hands back the copy already in memory for a path. Then the file is rewritten in
 * place (cp): the running copy, the file itself mapped, changed under the loop threads. */
static void plugin_replaced_under_same_path(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char path[PATH_MAX], rule[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/upgrade.so", sluice_th_tmpdir(&err));
    snprintf(rule, sizeof(rule), "        - {path: properties.up, plugin: %s}\n", path);
    char *log = gateway_log();
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);

    put_plugin("full", path, 0);
    reload_with(rule, ++reloads);
    json_t *msgs;
    assert_string_equal(card_after("pl-up-1", &msgs), "***");
    json_decref(msgs);

    put_plugin("partial", path, 0); /* version 2: keeps the last 4 */
    reload_with(rule, ++reloads);
    /* Each loop thread swaps at its next turn: a few requests, both threads. */
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "pl-up-2-%d", i);
        assert_string_equal(card_after(id, &msgs), "************4444");
        json_decref(msgs);
    }

    /* cp over it: the running copy is not the file. */
    put_plugin("full", path, 1);
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "pl-up-3-%d", i);
        assert_string_equal(card_after(id, &msgs), "************4444");
        json_decref(msgs);
    }
    assert_true(sluice_th_proc_running(F.gw));
    reload_with(rule, ++reloads);
    assert_string_equal(card_after("pl-up-4", &msgs), "***");
    json_decref(msgs);
    write_config("");
}

/* A plugin shipped with a library of its own beside it, found through its $ORIGIN run path: its
 * copy in a memory file cannot find that library (the copy's origin is /proc/self/fd), so it was
 * loaded from the file on disk, which the gateway then ran. `cp` of another version over it, which
 * plugins.md says does not reach the running code, rewrote the code under the loop threads. */
static void plugin_with_own_library_rewritten_in_place(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char dir[PATH_MAX - 64], path[PATH_MAX], src[PATH_MAX + 64], rule[PATH_MAX + 128];
    snprintf(dir, sizeof(dir), "%s/vendor", sluice_th_tmpdir(&err));
    assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(src, sizeof(src), "%s/vendor/libsluice_fixture_origin.so", fixtures);
    snprintf(path, sizeof(path), "%s/libsluice_fixture_origin.so", dir);
    put_file(src, path, 0);
    snprintf(src, sizeof(src), "%s/vendor/origin.so", fixtures);
    snprintf(path, sizeof(path), "%s/origin.so", dir);
    put_file(src, path, 0);
    snprintf(rule, sizeof(rule), "        - {path: properties.up, plugin: %s}\n", path);
    char *log = gateway_log();
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);
    reload_with(rule, ++reloads);
    json_t *msgs;
    assert_string_equal(card_after("pl-own-1", &msgs), "origin:4111222233334444");
    json_decref(msgs);

    put_plugin("full", path, 1); /* cp over it */
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "pl-own-2-%d", i);
        assert_string_equal(card_after(id, &msgs), "origin:4111222233334444");
        json_decref(msgs);
    }
    assert_true(sluice_th_proc_running(F.gw));
    reload_with(rule, ++reloads); /* and a reload loads what the file now holds */
    assert_string_equal(card_after("pl-own-3", &msgs), "***");
    json_decref(msgs);
    write_config("");
}

/* A plugin that masks values of every type by rewriting their text (the SDK's upper-case example,
 * once its author heeds "it keeps every value that is not a string") answers a card number sent
 * as a JSON number with the string of its digits: exactly its input, which plugins.md says fails
 * closed. The gateway compared the answer with the value as JSON (the string "4111..." is not the
 * number 4111...), so the card went to Kafka as sent, listed as masked; so did a payment object
 * answered as its own text. */
static void plugin_echoing_json_text_fails_closed(void **state)
{
    (void)state;
    char *log = gateway_log();
    int reloads = sluice_th_count(log, "config reloaded");
    free(log);
    reload_with("        - {path: properties.acct, plugin: fixture, params: {prefix: '', every_type: true}}\n"
                "        - {path: properties.tag, plugin: fixture, params: {prefix: 'tag:', every_type: true}}\n",
                ++reloads);
    http_resp_t r;
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-text-1\",\"properties\":{\"acct\":"
                                "4111111111111111,\"tag\":7,\"total\":3}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-text-2\",\"properties\":{\"acct\":"
                                "{\"number\":\"4012888888881881\"}}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    assert_int_equal(gwfix_post(&F, "/v1/t", WEB_KEY,
                                "{\"event\":\"Order\",\"messageId\":\"pl-text-3\",\"properties\":{\"acct\":"
                                "1234}}",
                                &r),
                     200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&F, "sluice.events");
    json_t *props = json_object_get(event_of(msgs, "pl-text-1"), "properties");
    assert_null(json_object_get(props, "acct"));
    assert_string_equal(json_string_value(json_object_get(props, "tag")), "tag:7"); /* its own answer */
    assert_int_equal(json_integer_value(json_object_get(props, "total")), 3);
    assert_true(listed(privacy_of(msgs, "pl-text-1"), "dropped", "properties.acct"));
    assert_false(listed(privacy_of(msgs, "pl-text-1"), "masked", "properties.acct"));
    assert_null(json_object_get(json_object_get(event_of(msgs, "pl-text-2"), "properties"), "acct"));
    /* Text holding no personal data stays, as any value left as it was does. */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(event_of(msgs, "pl-text-3"), "properties"), "acct")), "1234");
    char *all = json_dumps(msgs, 0);
    assert_false(gwfix_contains(all, "4111111111111111"));
    assert_false(gwfix_contains(all, "4012888888881881"));
    free(all);
    json_decref(msgs);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_wait_log(F.gw,
                                        "path properties.acct (rule properties.acct): it left a value holding "
                                        "personal data (a card number) as it was",
                                        2, 5000, &err),
                     0);
    write_config("");
}

static void broken_plugin_refuses_start(void **state)
{
    (void)state;
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server: {https: {listen: \"\"}, http: {listen: \"127.0.0.1:0\"}, metrics: {listen: \"\"}}\n"
             "kafka: {brokers: \"%s\"}\n"
             "plugins: {dir: %s}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_WEB_KEY}]\n"
             "    data_layer:\n"
             "      mask: [{path: properties.card, plugin: broken_newer_minor}]\n",
             F.kafka.bootstrap, fixtures);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", gwfix_write("broken.yaml", yaml));
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/gateway/sluice-gateway", sluice_th_build_dir());
    setenv("T_WEB_KEY", WEB_KEY, 1);
    const char *argv[] = {bin, "--config", path, NULL};
    sluice_th_output_t out = {0};
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 30000, &out, &err), 0);
    assert_false(out.timed_out);
    assert_false(sluice_th_exited_with(out.wstatus, 0));
    char want[PATH_MAX + 256];
    snprintf(want, sizeof(want),
             "broken.yaml:9:46: orgs[0].data_layer.mask[0].plugin: plugin %s/broken_newer_minor.so: "
             "built for ABI 1.7, newer than this gateway's 1.0",
             fixtures);
    if (!gwfix_contains(out.errout, want))
        fail_msg("expected \"%s\" in the gateway's output: %s", want, out.errout ? out.errout : "");
    sluice_th_output_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masked_in_kafka),
        cmocka_unit_test(plugin_error_fails_closed),
        cmocka_unit_test(plugin_leaving_pii_fails_closed),
        cmocka_unit_test(slow_plugin_is_not_blamed_on_kafka),
        cmocka_unit_test(broken_plugin_refuses_reload),
        cmocka_unit_test(plugin_replaced_under_same_path),
        cmocka_unit_test(plugin_echoing_json_text_fails_closed),
        cmocka_unit_test(plugin_with_own_library_rewritten_in_place),
        cmocka_unit_test(broken_plugin_refuses_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Differential libFuzzer target for the data layer on arena values (issue 17 step 2, part four):
 * every input is parsed both ways (sluice_event_parse, sluice_event_parse_jv), and each org below
 * runs sluice_datalayer_apply on the jansson tree and sluice_datalayer_apply_jv on the jv tree.
 * Both must give the same return code, counters and drop result, the same privacy record and
 * hashes bytes, the same rejection, and the same event bytes afterwards, written three ways
 * (jv_same.h); else the target aborts. The orgs come from real YAML through the loader, once;
 * the last org's mask rules run real built-in plugins (the build's plugin dir) through
 * gateway/masker.c's seam, mask on jansson and mask_jv on jv: every deterministic built-in
 * (encrypt and randomized_response draw a new answer each call, which two trees cannot share), on
 * strings, numbers as sent, objects and arrays, with a mirror (context.traits.X), [*] paths,
 * on_error reject and remove.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "gateway/datalayer.h"
#include "gateway/event.h"
#include "gateway/masker.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/write.h"
#include "jv_same.h"
#include "plugins/set.h"
#include "tests/fuzz/both_trees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void sluice_fuzz_cleanup(void);

/* hashes: e-mail, phone and names with every variant's vendor enabled (Meta, TikTok, Reddit),
 * arrays, a userId; drops: arrays, mixed case, a whole member; consent strip, drop and allow;
 * the last org's mask rules: cards, numbers, an IP, an e-mail under hmac (a hash rule beside), text
 * redacted, a whole member, array items, rules on traits (mirrors: context.traits), failures
 * rejecting the event or removing the field. */
static const char yaml[] =
    "version: 1\n"
    "server: {http: {listen: \"127.0.0.1:0\"}}\n"
    "kafka: {brokers: \"127.0.0.1:9092\"}\n"
    "plugins: {dir: \"" SLUICE_FUZZ_PLUGIN_DIR "\"}\n"
    "orgs:\n"
    "  - id: strip\n"
    "    sources: [{id: web, write_key_env: A_KEY}]\n"
    "    consent: {required: [analytics], policy: strip}\n"
    "    data_layer:\n"
    "      hash_fields:\n"
    "        - {path: traits.email, normalize: email}\n"
    "        - {path: traits.phone, normalize: phone, default_country_code: \"1\"}\n"
    "        - {path: traits.firstName, normalize: name}\n"
    "        - {path: traits.last_name, normalize: name}\n"
    "        - {path: \"properties.items[*].email\", normalize: email}\n"
    "        - {path: userId, normalize: external_id}\n"
    "      drop: [properties.password, \"properties.items[*].secret\", Properties.CVV, "
    "properties.Cvv, context.device.id, "
    "\"properties.a[*][*].b\"]\n"
    "    integrations:\n"
    "      - {name: meta, vendor: meta, pixel_id: \"1\"}\n"
    "      - {name: tt, vendor: tiktok, pixel_code: CABC123}\n"
    "      - {name: rdt, vendor: reddit, pixel_id: a2_test}\n"
    "  - id: drop\n"
    "    sources: [{id: web, write_key_env: B_KEY}]\n"
    "    consent: {required: [marketing, analytics], policy: drop}\n"
    "    data_layer:\n"
    "      hash_fields:\n"
    "        - {path: traits.email, normalize: email}\n"
    "        - {path: context.traits.phone, normalize: phone, default_country_code: \"44\"}\n"
    "      drop: [traits, context.ip]\n"
    "  - id: allow\n"
    "    sources: [{id: web, write_key_env: C_KEY}]\n"
    "    consent: {required: [analytics], policy: allow}\n"
    "    data_layer:\n"
    "      hash_fields:\n"
    "        - {path: \"properties.products[*].email\", normalize: email}\n"
    "        - {path: properties.zip, normalize: zip}\n"
    "        - {path: traits.gender, normalize: gender}\n"
    "      drop: [\"properties.products[*]\", event]\n"
    "    integrations:\n"
    "      - {name: ga4, vendor: ga4, measurement_id: G-TEST}\n"
    "  - id: mask\n"
    "    sources: [{id: web, write_key_env: D_KEY}]\n"
    "    data_layer:\n"
    "      hash_fields:\n"
    "        - {path: traits.firstName, normalize: name}\n"
    "      drop: [properties.password]\n"
    "      mask:\n"
    "        - {path: properties.card_number, plugin: partial}\n"
    "        - {path: properties.cc, plugin: partial, params: {keep_first: 2, preserve: \" -\"}}\n"
    "        - {path: traits.phone, plugin: partial, params: {keep_last: 2}}\n"
    "        - {path: traits.name, plugin: full}\n"
    "        - {path: traits.email, plugin: hmac, params: {key_env: FUZZ_HMAC_KEY, lowercase: "
    "true}}\n"
    "        - {path: userId, plugin: hmac, params: {key_env: FUZZ_HMAC_KEY}}\n"
    "        - {path: context.ip, plugin: ip_truncate}\n"
    "        - {path: properties.text, plugin: redact_text}\n"
    "        - {path: \"properties.items[*].note\", plugin: redact_text, params: {mode: hash}}\n"
    "        - {path: properties.age, plugin: generalize, params: {kind: number, bands: [0, 18, "
    "30, 65]}, on_error: reject}\n"
    "        - {path: properties.price, plugin: generalize, params: {kind: number, step: "
    "0.25}}\n"
    "        - {path: properties.zip, plugin: generalize, params: {kind: postal, keep: 3}}\n"
    "        - {path: properties.when, plugin: generalize, params: {kind: date, granularity: "
    "month}}\n"
    "        - {path: properties.ref, plugin: regex, params: {pattern: '(?<u>[^@\\s]+)@(?<h>"
    "[\\w.-]+)', replace: '***@${h}'}}\n"
    "        - {path: properties.secret, plugin: \"null\"}\n"
    "        - {path: \"properties.items[*].sku\", plugin: drop}\n"
    "        - {path: properties.payment, plugin: partial, on_error: reject}\n"
    "        - {path: event, plugin: partial, params: {keep_last: 3}}\n";

static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 65536,
    .max_batch_events = 8,
    .max_depth = 32,
    .max_string_bytes = 4096,
    .max_wire_bytes = 65536,
};

static sluice_config_t *cfg;
static sluice_plugin_set_t *set;
static sluice_gw_maskers_t *maskers;
static const sluice_masker_t *masker; /* thread 0's: mask and mask_jv */

/* Aborts unless j (written with nums, NULL allowed) and v write the same bytes. */
static void same_value(const json_t *j, const sluice_jsonnum_t *nums, const sluice_jv_t *v)
{
    if ((j == NULL) != (v == NULL))
        abort();
    if (j == NULL)
        return;
    size_t lj, lv;
    char *wj = sluice_json_encode(j, nums, &lj), *wv = sluice_jv_encode(v, &lv);
    if (wj == NULL || wv == NULL || lj != lv || memcmp(wj, wv, lj) != 0)
        abort();
    free(wj);
    free(wv);
}

/* The org whose rules the events are run through (sluice_fuzz_each_event's callback has no
 * user data). */
static const sluice_org_t *org_now;

/* One event (the body, or each object of its batch) through org_now's data layer on both trees. */
static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *jc, const sluice_jv_t *vc)
{
    const sluice_org_t *org = org_now;
    json_t *j = (json_t *)jc; /* the step edits the event: the walk hands each over once */
    sluice_jv_t *v = (sluice_jv_t *)vc;
    unsigned variants = sluice_datalayer_variants(org);
    sluice_dl_result_t rj;
    sluice_dl_result_jv_t rv;
    sluice_dl_stats_t sj, sv;
    memset(&sj, 0, sizeof(sj));
    memset(&sv, 0, sizeof(sv));
    int cj = sluice_datalayer_apply(org, variants, masker, j, nums, &rj, &sj);
    int cv = sluice_datalayer_apply_jv(org, variants, masker, v, a, &rv, &sv);
    if (cj != cv || memcmp(&sj, &sv, sizeof(sj)) != 0 || rj.drop_event != rv.drop_event || rj.rejected != rv.rejected ||
        strcmp(rj.reject_path, rv.reject_path) != 0)
        abort();
    same_value(rj.privacy, NULL, rv.privacy);
    same_value(rj.hashes, NULL, rv.hashes);
    jv_same_bytes(j, nums, v);
    sluice_dl_result_dispose(&rj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sluice_json_arena_install() != 0) /* once; later calls return at once */
        abort();
    if (cfg == NULL) {
        sluice_config_diag_t d;
        sluice_config_diag_init(&d);
        setenv("FUZZ_HMAC_KEY", "000102030405060708090a0b0c0d0e0f", 1);
        cfg = sluice_config_load_string("fuzz.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
        set = cfg != NULL ? sluice_plugin_set_load(cfg, NULL, 1, 0, &d) : NULL;
        maskers = set != NULL ? sluice_gw_maskers_create(set, cfg, 1) : NULL;
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "fuzz_jv_datalayer: %s\n", d.msgs[i]);
        sluice_config_diag_dispose(&d);
        if (cfg == NULL || cfg->org_count != 4 || maskers == NULL)
            abort();
        masker = sluice_gw_maskers_get(maskers, 0);
    }
    for (size_t i = 0; i < cfg->org_count; i++) { /* each org on trees of its own: the step edits them */
        org_now = &cfg->orgs[i];
        sluice_fuzz_each_event(data, size, &limits, check_event);
    }
    return 0;
}

void sluice_fuzz_cleanup(void)
{
    sluice_gw_maskers_free(maskers);
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
    maskers = NULL;
    masker = NULL;
    set = NULL;
    cfg = NULL;
}

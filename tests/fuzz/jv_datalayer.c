/*
 * Differential libFuzzer target for the data layer on arena values (issue 17 step 2, part four):
 * every input is parsed both ways (sluice_event_parse, sluice_event_parse_jv), and each org below
 * runs sluice_datalayer_apply on the jansson tree and sluice_datalayer_apply_jv on the jv tree.
 * Both must give the same return code, counters and drop result, the same privacy record and
 * hashes bytes, and the same event bytes afterwards, written three ways (jv_same.h); else the
 * target aborts. An org with mask rules must be refused on jv (-2: mask is not on jv yet), its
 * event untouched. The orgs come from real YAML through the loader, once.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "gateway/datalayer.h"
#include "gateway/event.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/write.h"
#include "jv_same.h"
#include "tests/fuzz/both_trees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void sluice_fuzz_cleanup(void);

/* hashes: e-mail, phone and names with every variant's vendor enabled (Meta, TikTok, Reddit),
 * arrays, a userId; drops: arrays, mixed case, a whole member; consent strip, drop and allow;
 * the last org has a mask rule (refused on jv). */
static const char yaml[] = "version: 1\n"
                           "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                           "kafka: {brokers: \"127.0.0.1:9092\"}\n"
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
                           "      mask:\n"
                           "        - {path: properties.card_number, plugin: partial}\n";

static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 65536,
    .max_batch_events = 8,
    .max_depth = 32,
    .max_string_bytes = 4096,
    .max_wire_bytes = 65536,
};

static sluice_config_t *cfg;

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
    int cv = sluice_datalayer_apply_jv(org, variants, v, a, &rv, &sv);
    if (org->mask_rule_count > 0) {
        /* Refused, not applied without its masks: the event as parsed, nothing counted. */
        sluice_dl_stats_t zero;
        memset(&zero, 0, sizeof(zero));
        if (cv != -2 || memcmp(&sv, &zero, sizeof(sv)) != 0 || rv.privacy != NULL)
            abort();
        jv_same_bytes(j, nums, v);
    } else {
        int cj = sluice_datalayer_apply(org, variants, NULL, j, nums, &rj, &sj);
        if (cj != cv || memcmp(&sj, &sv, sizeof(sj)) != 0 || rj.drop_event != rv.drop_event ||
            rj.rejected != rv.rejected || strcmp(rj.reject_path, rv.reject_path) != 0)
            abort();
        same_value(rj.privacy, NULL, rv.privacy);
        same_value(rj.hashes, NULL, rv.hashes);
        jv_same_bytes(j, nums, v);
        sluice_dl_result_dispose(&rj);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sluice_json_arena_install() != 0) /* once; later calls return at once */
        abort();
    if (cfg == NULL) {
        sluice_config_diag_t d;
        sluice_config_diag_init(&d);
        cfg = sluice_config_load_string("fuzz.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
        sluice_config_diag_dispose(&d);
        if (cfg == NULL || cfg->org_count != 4)
            abort();
    }
    for (size_t i = 0; i < cfg->org_count; i++) { /* each org on trees of its own: the step edits them */
        org_now = &cfg->orgs[i];
        sluice_fuzz_each_event(data, size, &limits, check_event);
    }
    return 0;
}

void sluice_fuzz_cleanup(void)
{
    sluice_config_free(cfg);
    cfg = NULL;
}

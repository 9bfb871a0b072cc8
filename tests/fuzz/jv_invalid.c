/*
 * Differential libFuzzer target for the invalid topic's record on arena values (issue 17 step 2,
 * gateway/invalid_rules.h): every input is parsed both ways (sluice_event_parse,
 * sluice_event_parse_jv), and the body and each object of its batch, refused with each error below,
 * go through sluice_invalid_record and sluice_invalid_record_jv on their own copies, for each org
 * below, with the forget list on and off, and once more as an event nothing of which was kept
 * (NULL). The errors are the one validation gives the event (the event recorded as validation left
 * it, a number id made a string, say) and made-up ones, a few picked by the input's bytes: members
 * the event holds, the orgs' hashed and dropped paths, with and without a batch prefix, malformed,
 * or none. Both trees must
 * give the same return (1, 0, -1) and, with a record, the same record bytes, and leave the events
 * as the same bytes, each written three ways (jv_same.h); else the target aborts.
 *
 * The last org's mask rules run real built-in plugins (the build's plugin dir) through
 * gateway/masker.c's seam on both trees, on_error remove and reject among them.
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
#include "crypto/hash.h"
#include "crypto/pseudonym.h"
#include "gateway/event.h"
#include "gateway/forgotten.h"
#include "gateway/invalid.h"
#include "gateway/masker.h"
#include "gateway/piiguard.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/write.h"
#include "jv_same.h"
#include "plugins/set.h"
#include "tests/fuzz/both_trees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void sluice_fuzz_cleanup(void);

/* acme: hashes (an e-mail, a user id) and drops, the guard hashing with national ids; guarded: a
 * whole member dropped and the guard masking; consent: policy drop (an event without analytics is
 * not recorded), the guard reporting; strip: policy strip, no guard; masked: plugins' masks, the
 * guard masking what they leave. */
static const char yaml[] = "version: 1\n"
                           "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                           "plugins: {dir: \"" SLUICE_FUZZ_PLUGIN_DIR "\"}\n"
                           "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                           "orgs:\n"
                           "  - id: acme\n"
                           "    sources: [{id: web, write_key_env: A_KEY}]\n"
                           "    data_layer:\n"
                           "      hash_fields:\n"
                           "        - {path: traits.email, normalize: email}\n"
                           "        - {path: userId, normalize: external_id}\n"
                           "        - {path: \"properties.items[*].email\", normalize: email}\n"
                           "      drop: [properties.password, context.ip, \"properties.items[*].secret\"]\n"
                           "      pii_guard: {mode: hash, national_ids: [us_ssn, uk_nino, fr_nir, es_dni]}\n"
                           "  - id: guarded\n"
                           "    sources: [{id: web, write_key_env: B_KEY}]\n"
                           "    data_layer:\n"
                           "      hash_fields:\n"
                           "        - {path: context.traits.phone, normalize: phone, default_country_code: \"44\"}\n"
                           "      drop: [traits]\n"
                           "      pii_guard: mask\n"
                           "  - id: consent\n"
                           "    sources: [{id: web, write_key_env: C_KEY}]\n"
                           "    consent: {required: [analytics], policy: drop}\n"
                           "    data_layer:\n"
                           "      hash_fields:\n"
                           "        - {path: traits.email, normalize: email}\n"
                           "      pii_guard: report\n"
                           "  - id: strip\n"
                           "    sources: [{id: web, write_key_env: D_KEY}]\n"
                           "    consent: {required: [analytics], policy: strip}\n"
                           "  - id: masked\n"
                           "    sources: [{id: web, write_key_env: E_KEY}]\n"
                           "    data_layer:\n"
                           "      hash_fields:\n"
                           "        - {path: traits.email, normalize: email}\n"
                           "      mask:\n"
                           "        - {path: properties.card_number, plugin: partial}\n"
                           "        - {path: traits.name, plugin: full}\n"
                           "        - {path: context.ip, plugin: ip_truncate}\n"
                           "        - {path: properties.text, plugin: redact_text}\n"
                           "        - {path: \"properties.items[*].sku\", plugin: drop}\n"
                           "        - {path: properties.payment, plugin: partial, on_error: reject}\n"
                           "        - {path: timestamp, plugin: full}\n"
                           "      pii_guard: mask\n";
#define ORGS 5

/* Ids on every org's forget list (their pseudonyms under the org's key), and jane@x.io as the
 * data layer and the guard hash it. */
static const char *const forgotten_ids[] = {"jane@x.io", "u-123", "a-1", "ctx-user", "12345"};

/* Made-up error paths: members events carry, the orgs' rule paths, batch prefixes, malformed. */
static const char *const paths[] = {
    "",
    "timestamp",
    "batch[0].timestamp",
    "type",
    "batch[7].context.traits",
    "traits.email",
    "userId",
    "properties.password",
    "context.ip",
    "batch[",
    "batch[1]x",
    "properties.items[0]",
    "traits..x",
    "context.traits.phone",
    "sentAt",
    "batch[2]",
    "properties.a.b.c.d",
};

static struct {
    sluice_config_t *cfg;
    sluice_piiguard_t *g[ORGS];
    sluice_piiguard_thread_t *tj, *tv; /* one per tree, as the trees' findings are their own */
    sluice_forgotten_t *f;
    uint8_t key[ORGS][SLUICE_PSEUDONYM_LEN];
    sluice_plugin_set_t *plugins;
    sluice_gw_maskers_t *maskers; /* thread 0's masker: mask and mask_jv */
} S;

static void init_once(void)
{
    if (S.cfg != NULL)
        return;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    S.cfg = sluice_config_load_string("fuzz.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    S.plugins = S.cfg != NULL ? sluice_plugin_set_load(S.cfg, NULL, 1, 0, &d) : NULL;
    S.maskers = S.plugins != NULL ? sluice_gw_maskers_create(S.plugins, S.cfg, 1) : NULL;
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "fuzz_jv_invalid: %s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    if (S.cfg == NULL || S.cfg->org_count != ORGS || S.maskers == NULL)
        abort();
    S.tj = sluice_piiguard_thread_create();
    S.tv = sluice_piiguard_thread_create();
    sluice_err_t err;
    S.f = sluice_forgotten_create(S.cfg, 1, NULL, &err); /* no Redis: the list is the one put below */
    sluice_pseudonym_set_t *set = sluice_pseudonym_set_create();
    if (S.tj == NULL || S.tv == NULL || S.f == NULL || set == NULL)
        abort();
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1], sha[65];
    if (sluice_sha256_hex("jane@x.io", 9, sha) != 0)
        abort();
    for (size_t o = 0; o < ORGS; o++) {
        const char *org = S.cfg->orgs[o].id;
        S.g[o] = sluice_piiguard_create(&S.cfg->orgs[o]);
        if (S.g[o] == NULL || sluice_pseudonym_org_key("k", 1, org, S.key[o]) != 0 ||
            sluice_pseudonym_hex(S.key[o], sha, 64, hex) != 0 || sluice_pseudonym_set_add_hex(set, org, hex) != 0)
            abort();
        for (size_t i = 0; i < sizeof(forgotten_ids) / sizeof(forgotten_ids[0]); i++) {
            const char *id = forgotten_ids[i];
            if (sluice_pseudonym_hex(S.key[o], id, strlen(id), hex) != 0 ||
                sluice_pseudonym_set_add_hex(set, org, hex) != 0)
                abort();
        }
    }
    sluice_pseudonym_set_seal(set);
    if (sluice_forgotten_use(S.f, set) != 0)
        abort();
}

/* An error as gateway/ingest.c's add_rejection makes it, on jansson (NULL when a member is no
 * valid string, which the request path never makes) and the same bytes parsed into a (*v). */
static json_t *error_both(sluice_json_arena_t *a, size_t index, const char *code, const char *message, const char *path,
                          sluice_jv_t **v)
{
    json_t *r = json_pack("{s:I,s:s,s:s}", "index", (json_int_t)index, "code", code, "message", message);
    if (r != NULL && path[0] != '\0' && json_object_set_new(r, "path", json_string(path)) != 0) {
        json_decref(r);
        r = NULL;
    }
    if (r == NULL)
        return NULL;
    size_t n;
    char *text = sluice_json_encode(r, NULL, &n);
    char *kept = text != NULL ? sluice_json_arena_alloc(a, n + 1) : NULL; /* outlives the jv tree */
    if (kept == NULL)
        abort();
    memcpy(kept, text, n + 1);
    free(text);
    sluice_json_error_t e;
    *v = sluice_jv_parse(a, kept, n, 64, 1 << 20, 1000, NULL, &e);
    if (*v == NULL)
        abort();
    return r;
}

/* One refused event (j, v: copies of their own, or NULL) with one error through every org, the
 * forget list on and off. */
static void check_record(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v,
                         const json_t *errj, sluice_jv_t *errv)
{
    for (size_t o = 0; o < ORGS; o++) {
        for (int forget = 0; forget < 2; forget++) {
            json_t *ej = j != NULL ? sluice_jsonnum_copy(nums, j) : NULL;
            sluice_jv_t *ev = v != NULL ? sluice_jv_copy(a, v) : NULL;
            if ((j != NULL && ej == NULL) || (v != NULL && ev == NULL))
                abort();
            sluice_invalid_env_t env = {
                .org = &S.cfg->orgs[o],
                .source = "web",
                .received_at = "2026-12-07T06:00:00.000Z",
                .forgotten = forget ? S.f : NULL,
                .thread = 0,
                .forget_key = S.key[o],
                .guard = S.g[o],
                .masker = sluice_gw_maskers_get(S.maskers, 0),
            };
            json_t *rj = NULL;
            sluice_jv_t *rv = NULL;
            env.pii = S.tj;
            int cj = sluice_invalid_record(&env, ej, (json_t *)errj, nums, &rj);
            env.pii = S.tv;
            int cv = sluice_invalid_record_jv(&env, ev, errv, a, &rv);
            if (cj != cv || (rj == NULL) != (rv == NULL) || (cj == 1) != (rj != NULL))
                abort();
            if (rj != NULL)
                jv_same_bytes(rj, nums, rv);
            if (ej != NULL)
                jv_same_bytes(ej, nums, ev);
            json_decref(rj);
            json_decref(ej);
        }
    }
}

/* The member names of an object's first few members, as error paths (into out, at most cap; their count). */
static size_t member_paths(const sluice_jv_t *v, const char *prefix, char out[][160], size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; n < cap && i < sluice_jv_object_size(v); i++) {
        const sluice_jv_member_t *m = sluice_jv_object_at(v, i);
        snprintf(out[n++], sizeof(out[0]), "%s%.*s", prefix, (int)m->key_len, m->key);
        if (n < cap && sluice_jv_is_object(m->value) && sluice_jv_object_size(m->value) > 0) {
            const sluice_jv_member_t *in = sluice_jv_object_at(m->value, 0);
            snprintf(out[n++], sizeof(out[0]), "%s%.*s.%.*s", prefix, (int)m->key_len, m->key, (int)in->key_len,
                     in->key);
        }
    }
    return n;
}

/* Which made-up errors an input's events get: a few picked by the input's bytes (every error for
 * every input made a run too slow to explore), the same for every event of it. */
static uint32_t pick;

/* One event (the body, or an object of its batch): refused by validation (when it refuses it), and
 * with made-up errors: two of the fixed paths and one member of its own, with and without a
 * batch prefix. */
static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    /* jansson's values made here live in the arena, as the gateway's do: a freed copy's address is
     * then never a new value's, which the numbers' table (keyed by address) would otherwise give
     * the old number's text (a new error index 0 written as a freed copy's "-0"). */
    sluice_json_arena_enter(a);
    sluice_jv_t *errv;
    json_t *errj;
    /* Validation's own error, the event as it left it (on both trees alike: tests/fuzz/jv_event.c). */
    json_t *vj = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vv = sluice_jv_copy(a, v);
    sluice_event_error_t e;
    if (vj == NULL || vv == NULL)
        abort();
    if (sluice_event_validate(vj, -1, &sluice_fuzz_body_limits, "batch[2]", 0, nums, &e) < 0) {
        sluice_event_error_t ev;
        if (sluice_event_validate_jv(vv, -1, &sluice_fuzz_body_limits, "batch[2]", 0, a, &ev) >= 0)
            abort();
        if ((errj = error_both(a, 2, e.code, e.message, e.path, &errv)) != NULL) {
            check_record(a, nums, vj, vv, errj, errv);
            json_decref(errj);
        }
    }
    json_decref(vj);
    char mine[4][160];
    size_t n = member_paths(v, "", mine, 2);
    n += member_paths(v, "batch[4].", mine + n, 4 - n);
    const size_t fixed = sizeof(paths) / sizeof(paths[0]);
    const char *chosen[6] = {paths[pick % fixed], paths[(pick / fixed) % fixed]};
    size_t count = 2;
    for (size_t i = 0; i < n; i++)
        if (((pick >> 16) + i) % 2 == 0 || n <= 2)
            chosen[count++] = mine[i];
    for (size_t i = 0; i < count; i++) {
        if ((errj = error_both(a, i, "invalid_event", "refused", chosen[i], &errv)) == NULL)
            continue;
        check_record(a, nums, j, v, errj, errv);
        json_decref(errj);
    }
    sluice_json_arena_leave();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    pick = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        pick = (pick ^ data[i]) * 16777619u;
    sluice_fuzz_each_event(data, size, &sluice_fuzz_body_limits, check_event);
    /* An event nothing of which could be kept (add_rejection's NULL): a record without it. */
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jv_t *errv;
    json_t *errj = a != NULL ? error_both(a, 0, "payload_too_large", "too large", "", &errv) : NULL;
    if (errj == NULL)
        abort();
    check_record(a, NULL, NULL, NULL, errj, errv);
    json_decref(errj);
    sluice_json_arena_free(a);
    return 0;
}

void sluice_fuzz_cleanup(void)
{
    for (size_t o = 0; o < ORGS; o++)
        sluice_piiguard_destroy(S.g[o]);
    sluice_piiguard_thread_destroy(S.tj);
    sluice_piiguard_thread_destroy(S.tv);
    sluice_forgotten_destroy(S.f);
    sluice_gw_maskers_free(S.maskers);
    sluice_plugin_set_free(S.plugins);
    sluice_config_free(S.cfg);
    memset(&S, 0, sizeof(S));
}

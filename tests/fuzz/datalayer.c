/*
 * libFuzzer target for the data layer's privacy promise (gateway/datalayer.c over config/path.c):
 * whatever event a client sends, once the rules have run no value at a hashed path is anything
 * but a hash (64 lowercase hex digits) or null, and nothing is left at a dropped path, in any
 * spelling of its members below the event's own fields (`traits.Email`, `TRAITS` stays apart), in
 * every array element a `[*]` names, and under the mirrors `context.traits.*` of `traits.*`
 * rules. Masked paths (no masker: the fail-closed path) are removed the same way. The org comes
 * from real YAML through the loader, once. Nothing may crash or leak; the event must still encode.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "gateway/datalayer.h"
#include "gateway/normalize.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void sluice_fuzz_cleanup(void);

static const char yaml[] = "version: 1\n"
                           "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                           "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                           "orgs:\n"
                           "  - id: acme\n"
                           "    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]\n"
                           "    consent: {policy: allow}\n"
                           "    data_layer:\n"
                           "      hash_fields:\n"
                           "        - {path: traits.email, normalize: email}\n"
                           "        - {path: traits.phone, normalize: phone, default_country_code: \"1\"}\n"
                           "        - {path: \"properties.items[*].email\", normalize: email}\n"
                           "        - {path: properties.billing.zip, normalize: zip}\n"
                           "        - {path: userId, normalize: external_id}\n"
                           "      mask:\n"
                           "        - {path: properties.card_number, plugin: partial}\n"
                           "      drop: [properties.password, \"properties.items[*].secret\", context.device.id]\n"
                           "    integrations:\n"
                           "      - {name: ga4, vendor: ga4, measurement_id: G-TEST}\n"
                           "      - {name: rdt, vendor: reddit, pixel_id: a2_test}\n";

typedef enum { MUST_HASH = 1, MUST_GO = 2 } want_t;

/* The rules' paths as the walk below writes them: the first key as sent, the rest lower case,
 * `[*]` for array elements. */
static const struct {
    const char *path;
    want_t want;
} rules[] = {
    {"traits.email", MUST_HASH},
    {"context.traits.email", MUST_HASH},
    {"traits.phone", MUST_HASH},
    {"context.traits.phone", MUST_HASH},
    {"properties.items[*].email", MUST_HASH},
    {"properties.billing.zip", MUST_HASH},
    {"userId", MUST_HASH},
    {"properties.card_number", MUST_GO},
    {"properties.password", MUST_GO},
    {"properties.items[*].secret", MUST_GO},
    {"context.device.id", MUST_GO},
};

static sluice_config_t *cfg;
static sluice_jsonnum_t *nums;

static int is_hash(const json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) != 64)
        return 0;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Every value under root, its path folded as above, checked against the rules. */
static void check(const json_t *v, char *path, size_t len, int depth)
{
    for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
        if (strlen(rules[r].path) != len || memcmp(rules[r].path, path, len) != 0)
            continue;
        if (rules[r].want == MUST_GO)
            abort(); /* a dropped (or fail-closed masked) value is still there */
        if (!json_is_null(v) && !is_hash(v))
            abort(); /* a hashed path holds something that is not a hash */
    }
    if (depth > 20)
        return;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            size_t kn = strlen(k), n = len + (len > 0) + kn;
            if (kn == 0 || n >= 512 || strchr(k, '.') != NULL || strchr(k, '[') != NULL)
                continue; /* no rule can name it (a path has no empty key) */
            char *p = path + len;
            if (len > 0)
                *p++ = '.';
            for (size_t i = 0; i < kn; i++)
                p[i] = (char)(len > 0 && k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
            path[n] = '\0';
            check(c, path, n, depth + 1);
            path[len] = '\0';
        }
    } else if (json_is_array(v) && len + 3 < 512) {
        size_t i;
        json_t *c;
        memcpy(path + len, "[*]", 4);
        json_array_foreach((json_t *)v, i, c)
            check(c, path, len + 3, depth + 1);
        path[len] = '\0';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (cfg == NULL) {
        sluice_config_diag_t d;
        sluice_config_diag_init(&d);
        cfg = sluice_config_load_string("fuzz.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
        sluice_config_diag_dispose(&d);
        nums = sluice_jsonnum_new();
        if (cfg == NULL || nums == NULL)
            abort();
    }
    sluice_jsonnum_clear(nums);
    sluice_json_error_t jerr;
    json_t *ev = sluice_json_parse((const char *)data, size, 32, 4096, 0, nums, &jerr);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return 0;
    }
    const sluice_org_t *org = &cfg->orgs[0];
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    if (sluice_datalayer_apply(org, sluice_datalayer_variants(org), NULL, ev, nums, &res, &st) != 0)
        abort();
    if (!res.drop_event && !res.rejected) {
        char path[512] = "";
        check(ev, path, 0, 0);
        /* Variants are hashes too. */
        const char *k;
        json_t *by_variant, *h;
        json_object_foreach(res.hashes, k, by_variant) {
            const char *vk;
            json_object_foreach(by_variant, vk, h)
                if (!is_hash(h))
                    abort();
        }
    }
    size_t len;
    char *text = sluice_json_encode(ev, nums, &len);
    if (text == NULL)
        abort();
    free(text);
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    return 0;
}

void sluice_fuzz_cleanup(void)
{
    sluice_config_free(cfg);
    sluice_jsonnum_free(nums);
    cfg = NULL;
    nums = NULL;
}

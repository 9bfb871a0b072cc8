/*
 * libFuzzer target for every built-in masking plugin's `mask`, called the way the gateway calls
 * it: the real .so files from the build's plugin dir, loaded, checked and created by the host
 * (plugins/set.c, plugins/loader.c) from a config with one rule per plugin, and the host's glue
 * turning a JSON value into the plugin's input and its output back. The first input byte picks
 * the rule; the rest is a JSON value when it parses, else the contents of a string.
 *
 * Besides no crash, leak or undefined behaviour, each plugin's promise is checked: `full`,
 * `null` and `drop` always give their fixed answers (`full` and `null` keep a null); `hmac`
 * gives 64 hex digits; every plugin but `encrypt` and `randomized_response` is deterministic;
 * `encrypt` output opens again under the key ring and the rule's AAD to exactly the input;
 * `redact_text` (mask mode) finds nothing in its own output; `generalize` is idempotent, keeps a
 * number a number under a step and gives one of its labels under bands; `regex` gives strings;
 * `randomized_response` answers every value of its domain with a value of the domain in the
 * input's JSON type and refuses everything else; a failure always comes with a reason.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/base64url.h"
#include "crypto/keyring.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"
#include "plugins/loader.h"
#include "plugins/set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void sluice_fuzz_cleanup(void);

enum {
    R_FULL,
    R_PARTIAL,
    R_PARTIAL_UTF8,
    R_NULL,
    R_DROP,
    R_IP,
    R_HMAC,
    R_ENCRYPT,
    R_FPE,
    R_FPE_ALNUM,
    R_REDACT,
    R_REDACT_HASH,
    R_GEN_STEP,
    R_GEN_BANDS,
    R_GEN_DATE,
    R_GEN_POSTAL,
    R_REGEX,
    R_REGEX_LIMIT,
    R_RR_BOOL,
    R_RR_CAT,
    R_COUNT
};

static const char rules[] =
    "        - {path: a.full, plugin: full}\n"
    "        - {path: a.partial, plugin: partial, params: {keep_last: 4, keep_first: 2, preserve: \" -\"}}\n"
    "        - {path: a.partial8, plugin: partial, params: {keep_last: 2, mask_char: \"\\u2022\"}}\n"
    "        - {path: a.null, plugin: \"null\"}\n"
    "        - {path: a.drop, plugin: drop}\n"
    "        - {path: a.ip, plugin: ip_truncate, params: {ipv4_prefix: 20, ipv6_prefix: 56}}\n"
    "        - {path: a.hmac, plugin: hmac, params: {key_env: FUZZ_HMAC_KEY, trim: true, lowercase: true}}\n"
    "        - {path: \"a.items[*].enc\", plugin: encrypt}\n"
    "        - {path: a.fpe, plugin: fpe, params: {key_env: FUZZ_FPE_KEY, preserve: \"-\"}}\n"
    "        - {path: a.fpe36, plugin: fpe, params: {key_env: FUZZ_FPE_KEY, alphabet: lower_alnum, tweak: \"3737\"}}\n"
    "        - {path: a.text, plugin: redact_text}\n"
    "        - {path: a.text2, plugin: redact_text, params: {mode: hash, kinds: [email, card]}}\n"
    "        - {path: a.gstep, plugin: generalize, params: {kind: number, step: 0.25}}\n"
    "        - {path: a.gbands, plugin: generalize, params: {kind: number, bands: [-5, 0, 18, 30, 40, 65]}}\n"
    "        - {path: a.gdate, plugin: generalize, params: {kind: date, granularity: month}}\n"
    "        - {path: a.gpostal, plugin: generalize, params: {kind: postal, keep: 3, fill: \"\\u2022\"}}\n"
    "        - {path: a.re, plugin: regex, params: {pattern: '(?<user>[^@\\s]+)@(?<host>[\\w.-]+)|\\b([A-Z]{2})\\d{2}"
    "(?: ?[A-Z0-9]){11,30}\\b', replace: '${user:+***@${host}:$3**[iban]}'}}\n"
    "        - {path: a.re2, plugin: regex, params: {pattern: '(\\w+\\s?)*$', replace: '\\U$1', match_limit: 2000, "
    "no_match: remove}}\n"
    "        - {path: a.rr, plugin: randomized_response, params: {epsilon: 1}}\n"
    "        - {path: a.rr2, plugin: randomized_response, params: {epsilon: 0.5, categories: [1, 2, 3, 5]}}\n";

static sluice_config_t *cfg;
static sluice_keyring_t *keys;
static sluice_plugin_set_t *set;
static sluice_jsonnum_t *nums; /* the input's number texts, as the gateway keeps them */

static void load(void)
{
    setenv("FUZZ_HMAC_KEY", "000102030405060708090a0b0c0d0e0f", 1);
    setenv("FUZZ_FPE_KEY", "2B7E151628AED2A6ABF7158809CF4F3C", 1);
    sluice_err_t err = {{0}};
    keys = sluice_keyring_from_strings("8f1e1a9c0a3d4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6", "3", NULL,
                                       &err);
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server: {http: {listen: \"127.0.0.1:0\"}}\n"
             "kafka: {brokers: \"127.0.0.1:9092\"}\n"
             "plugins: {dir: %s}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: FUZZ_WRITE_KEY}\n"
             "    data_layer:\n"
             "      mask:\n"
             "%s",
             SLUICE_FUZZ_PLUGIN_DIR, rules);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    cfg = sluice_config_load_string("masks.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    if (cfg != NULL && keys != NULL)
        set = sluice_plugin_set_load(cfg, keys, 1, 0, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "fuzz_masks: %s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    if (set == NULL || sluice_plugin_set_instance_count(set) != R_COUNT) {
        fprintf(stderr, "fuzz_masks: cannot load the built-in plugins from %s (%s)\n", SLUICE_FUZZ_PLUGIN_DIR, err.msg);
        abort();
    }
}

void sluice_fuzz_cleanup(void)
{
    sluice_plugin_set_free(set);
    sluice_config_free(cfg);
    sluice_keyring_free(keys);
    sluice_jsonnum_free(nums);
    nums = NULL;
    set = NULL;
    cfg = NULL;
    keys = NULL;
}

static sluice_plugin_outcome_t apply(size_t rule, json_t *value, json_t **out, const char **reason)
{
    const sluice_mask_rule_t *r = &cfg->orgs[0].mask_rules[rule];
    sluice_plugin_field_t f = {
        .org = "acme", .path = r->path.text, .rule_path = r->path.text, .event = "Fuzz", .nums = nums};
    *out = NULL;
    *reason = NULL;
    sluice_plugin_outcome_t o = sluice_plugin_set_apply(set, 0, 0, rule, &f, value, out, reason);
    switch (o) {
    case SLUICE_PLUGIN_REPLACED:
        if (*out == NULL)
            abort();
        break;
    case SLUICE_PLUGIN_UNCHANGED:
    case SLUICE_PLUGIN_REMOVE:
        if (*out != NULL)
            abort();
        break;
    case SLUICE_PLUGIN_FAILED:
        if (*out != NULL || *reason == NULL || **reason == '\0')
            abort();
        break;
    default: abort();
    }
    return o;
}

/* The encrypt rule's output opens under the key ring and "acme" NUL rule-path to exactly the
 * plaintext the plugin was given: 's' + string contents, or 'j' + compact JSON. */
static void check_opens(size_t rule, const json_t *in, const json_t *out)
{
    const char *text = json_string_value(out);
    if (text == NULL || strncmp(text, "enc:v1:", 7) != 0)
        abort();
    size_t n = json_string_length(out) - 7;
    uint8_t *sealed = malloc(sluice_b64url_decoded_len(n) + 1), *plain = malloc(n + 1);
    size_t sealed_len = 0, plain_len = 0;
    if (sealed == NULL || plain == NULL || sluice_b64url_decode(text + 7, n, sealed, n + 1, &sealed_len) != 0)
        abort();
    const char *rule_path = cfg->orgs[0].mask_rules[rule].path.text;
    size_t aad_len = 5 + strlen(rule_path);
    char aad[256];
    memcpy(aad, "acme", 5); /* with its NUL */
    memcpy(aad + 5, rule_path, aad_len - 5);
    if (sluice_plugin_open(keys, aad, aad_len, sealed, sealed_len, plain, n + 1, &plain_len, NULL) != SLUICE_MASK_OK)
        abort();
    size_t want_len;
    char *want;
    if (json_is_string(in)) {
        want_len = json_string_length(in);
        want = malloc(want_len + 1);
        if (want == NULL)
            abort();
        memcpy(want, json_string_value(in), want_len);
    } else {
        want = sluice_json_encode(in, nums, &want_len); /* what the host hands a plugin */
    }
    if (want == NULL || plain_len != want_len + 1 || plain[0] != (json_is_string(in) ? 's' : 'j') ||
        memcmp(plain + 1, want, want_len) != 0)
        abort();
    free(want);
    free(sealed);
    free(plain);
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* One of generalize's band labels for [-5, 0, 18, 30, 40, 65]. */
static int band_label(const json_t *out)
{
    static const char *const labels[] = {"<-5", "-5--1", "0-17", "18-29", "30-39", "40-64", "65+"};
    for (size_t i = 0; json_is_string(out) && i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(json_string_value(out), labels[i]) == 0)
            return 1;
    return 0;
}

/* randomized_response: 1 when value is in the rule's domain, as text ("true", "3"). */
static int rr_in_domain(size_t rule, const json_t *value, char *text, size_t cap)
{
    text[0] = '\0';
    if (json_is_string(value) && json_string_length(value) < cap &&
        strlen(json_string_value(value)) == json_string_length(value))
        snprintf(text, cap, "%s", json_string_value(value));
    else if (json_is_boolean(value))
        snprintf(text, cap, "%s", json_is_true(value) ? "true" : "false");
    else if (json_is_integer(value))
        snprintf(text, cap, "%lld", (long long)json_integer_value(value));
    static const char *const bools[] = {"true", "false", NULL}, *const cats[] = {"1", "2", "3", "5", NULL};
    for (const char *const *d = rule == R_RR_BOOL ? bools : cats; *d != NULL; d++)
        if (strcmp(text, *d) == 0 && (rule == R_RR_BOOL ? !json_is_integer(value) : !json_is_boolean(value)))
            return 1;
    return 0;
}

/* randomized_response's answer: a value of the domain, in the input's JSON type (booleans stay
 * booleans, numbers numbers, strings strings), for every value of the domain; an error for
 * anything else but null. */
static void check_rr(size_t rule, const json_t *value, sluice_plugin_outcome_t o, const json_t *out)
{
    char in_text[16], out_text[16];
    if (json_is_null(value)) {
        if (o != SLUICE_PLUGIN_UNCHANGED)
            abort();
        return;
    }
    if (!rr_in_domain(rule, value, in_text, sizeof(in_text))) {
        if (o != SLUICE_PLUGIN_FAILED)
            abort();
        return;
    }
    /* (true and false are two jansson types: a flipped boolean is still a boolean.) */
    if (o != SLUICE_PLUGIN_REPLACED || json_is_boolean(out) != json_is_boolean(value) ||
        (!json_is_boolean(value) && json_typeof(out) != json_typeof(value)) ||
        !rr_in_domain(rule, out, out_text, sizeof(out_text)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (set == NULL)
        load();
    if (size < 1)
        return 0;
    size_t rule = data[0] % R_COUNT;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    /* As the gateway reads a body: numbers with the text they were sent as (json/numbers.h),
     * which the plugin is handed and its numeric answers are kept as. */
    if (nums == NULL && (nums = sluice_jsonnum_new()) == NULL)
        abort();
    sluice_jsonnum_clear(nums);
    sluice_json_error_t pe;
    json_t *value = sluice_json_parse(body, len, 64, len, 0, nums, &pe);
    json_error_t je;
    if (value == NULL) /* e.g. a \u0000 the gateway's parser refuses: jansson's values, no texts */
        value = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (value == NULL && (value = json_stringn(body, len)) == NULL)
        return 0; /* not UTF-8: the gateway never has such a string */

    json_t *out, *again;
    const char *reason, *reason2;
    sluice_plugin_outcome_t o = apply(rule, value, &out, &reason);
    if (rule != R_ENCRYPT && rule != R_RR_BOOL && rule != R_RR_CAT) {
        sluice_plugin_outcome_t o2 = apply(rule, value, &again, &reason2);
        if (o2 != o || (out != NULL && !json_equal(out, again)))
            abort();
        json_decref(again);
    }
    switch (rule) {
    case R_FULL: /* null has nothing to hide and stays */
        if (json_is_null(value)
                ? o != SLUICE_PLUGIN_UNCHANGED
                : o != SLUICE_PLUGIN_REPLACED || !json_is_string(out) || strcmp(json_string_value(out), "***") != 0)
            abort();
        break;
    case R_NULL:
        if (!json_is_null(value) && (o != SLUICE_PLUGIN_REPLACED || !json_is_null(out)))
            abort();
        break;
    case R_DROP:
        if (o != SLUICE_PLUGIN_REMOVE)
            abort();
        break;
    case R_HMAC:
        if (o == SLUICE_PLUGIN_REPLACED &&
            (!json_is_string(out) || json_string_length(out) != 64 || !all_hex(json_string_value(out), 64)))
            abort();
        break;
    case R_ENCRYPT:
        if (o == SLUICE_PLUGIN_REPLACED)
            check_opens(rule, value, out);
        break;
    case R_GEN_STEP:
    case R_GEN_BANDS:
    case R_GEN_DATE:
    case R_GEN_POSTAL:
        if (o == SLUICE_PLUGIN_REPLACED) {
            /* A step keeps numbers numbers and strings strings; the rest are strings. */
            if (rule == R_GEN_STEP
                    ? json_is_number(out) != json_is_number(value) || json_is_string(out) != json_is_string(value)
                    : !json_is_string(out))
                abort();
            if (rule == R_GEN_BANDS && !band_label(out))
                abort();
            if (rule == R_GEN_DATE && json_string_length(out) != 4 && json_string_length(out) != 7 &&
                json_string_length(out) != 10)
                abort();
            /* Idempotent: a generalized value generalizes to itself. */
            sluice_plugin_outcome_t o2 = apply(rule, out, &again, &reason2);
            if (!(o2 == SLUICE_PLUGIN_UNCHANGED || (o2 == SLUICE_PLUGIN_REPLACED && json_equal(again, out))))
                abort();
            json_decref(again);
        } else if (o == SLUICE_PLUGIN_UNCHANGED && !json_is_boolean(value) && !json_is_null(value)) {
            abort();
        }
        break;
    case R_REGEX:
    case R_REGEX_LIMIT:
        if (o == SLUICE_PLUGIN_REPLACED && !json_is_string(out))
            abort();
        break;
    case R_RR_BOOL:
    case R_RR_CAT: check_rr(rule, value, o, out); break;
    case R_REDACT:
        /* Idempotent: its own output has nothing left to redact. */
        if (o == SLUICE_PLUGIN_REPLACED) {
            if (apply(rule, out, &again, &reason2) != SLUICE_PLUGIN_UNCHANGED)
                abort();
        }
        break;
    default: break;
    }
    json_decref(out);
    json_decref(value);
    return 0;
}

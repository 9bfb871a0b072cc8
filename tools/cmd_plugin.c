/*
 * `sluicectl plugin test PATH.so [--vectors FILE] [--param K=V ...]`: the conformance suite a
 * masking plugin must pass, built-in or third-party. The plugin goes through the real loader
 * (ABI prefix, descriptor, config map), is created with the given parameters (its selftest
 * runs), then masks values of every JSON type, multi-byte UTF-8 placed where masking code cuts
 * (no output may split a character), a value far over the output cap, repeated values
 * (determinism), the same values on two threads at once, its own outputs (idempotence, when
 * declared) and optional known-answer vectors. Prints one PASS/FAIL/SKIP line per check and
 * exits 0 only when nothing failed.
 *
 * Main thread, plus two worker threads during the thread-safety run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "config/config.h"
#include "crypto/ct.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "plugins/loader.h"
#include "plugins/params.h"
#include "plugins/set.h"
#include "tools/commands.h"

#define ROUNDS      200 /* thread-safety run: rounds over every input on each of 2 threads */
#define MAX_PARAMS  32
#define MAX_VECTORS 4096

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluicectl plugin test PATH.so [--param KEY=VALUE ...] [--vectors FILE] [--verbose]\n"
            "\n"
            "Runs the masking-plugin conformance suite on PATH.so through the gateway's own loader:\n"
            "  load         magic, ABI version, descriptor size, build signature, required callbacks\n"
            "  config map   names unique and valid, types known, defaults parse, secret-like names\n"
            "               marked SECRET, descriptions present\n"
            "  create       with the --param values (a YAML scalar each; a SECRET `key` is given as\n"
            "               `key_env=VAR`), selftest included\n"
            "  mask         values of every JSON type; a value over the output cap fails closed;\n"
            "               outputs valid JSON; same results twice when DETERMINISTIC\n"
            "  UTF-8        2-, 3- and 4-byte characters as first and last characters, where a\n"
            "               keep_first/keep_last of 1..8 cuts, in e-mail local parts and domains and\n"
            "               in free text: every string output valid UTF-8, no character cut in half\n"
            "  threads      2 threads x %d rounds, compared with a single-thread run\n"
            "  idempotence  mask(mask(x)) == mask(x), when IDEMPOTENT is declared\n"
            "  vectors      known answers from FILE, one JSON object per line:\n"
            "                 {\"input\": \"4111111111111111\", \"params\": {\"keep_last\": 4},\n"
            "                  \"expect\": \"************1111\"}\n"
            "               with \"expect_status\": \"unchanged\"|\"remove\"|\"error\"|\"replaced\" or\n"
            "               \"expect_prefix\": \"...\" instead of \"expect\"; optional \"path\", \"org\",\n"
            "               \"event\", \"name\"; blank lines and lines starting with # are skipped\n"
            "Exit status 0 when no check failed, 1 otherwise, 2 on a usage error.\n"
            "Plugin keys for host->seal come from ENCRYPTION_KEY when set, else a throwaway key.\n",
            ROUNDS);
}

/* ------------------------------------------------------------------ report */

typedef struct report {
    int passed, failed, skipped;
    int verbose;
} report_t;

static void line(report_t *r, const char *verdict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(report_t *r, const char *verdict, const char *fmt, ...)
{
    if (strcmp(verdict, "PASS") == 0)
        r->passed++;
    else if (strcmp(verdict, "FAIL") == 0)
        r->failed++;
    else if (strcmp(verdict, "SKIP") == 0)
        r->skipped++;
    printf("%-5s ", verdict);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* ------------------------------------------------------------------ inputs */

/* Values of every JSON type, with multi-byte UTF-8, U+0000 and realistic PII shapes. */
static const char *const input_json[] = {
    "\"\"",
    "\"hello\"",
    "\"alice@example.com\"",
    "\"4111 1111 1111 1111\"",
    "\"4111111111111111\"",
    "\"+1 (555) 010-9999\"",
    "\"123-45-6789\"",
    "\"192.168.1.77\"",
    "\"2001:db8:85a3::8a2e:370:7334\"",
    "\"https://shop.example/p?email=a%40b.example&card=4111111111111111&x=1\"",
    "\"caf\\u00e9 \\u2615 \\ud834\\udd1e Gr\\u00fc\\u00dfe\"",
    "\"a\\u0000b\"",
    ("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\""),
    "0",
    "-17",
    "3.25",
    "12345678901234",
    "true",
    "false",
    "null",
    "{\"a\":1,\"b\":\"x\"}",
    "[1,\"two\",null]",
};
#define INPUT_JSON_COUNT (sizeof(input_json) / sizeof(input_json[0]))

/* Multi-byte characters where masking code cuts: first and last characters of e-mail local
 * parts and domains, free text with e-mails, cards and phones next to non-ASCII text, and
 * percent-encoded UTF-8. Byte-counting code keeps or drops half a character here. */
static const char *const utf8_json[] = {
    "\"\\u00e9va@example.com\"",
    "\"jo\\u00eb@example.com\"",
    "\"Jos\\u00e9.Garc\\u00eda@example.com\"",
    "\"\\u4e2d\\u6587@example.com\"",
    "\"\\ud83d\\ude00@example.com\"",
    "\"a\\ud83d\\ude00b@example.com\"",
    "\"\\u20ac@example.com\"",
    "\" J\\u00f6rg.M\\u00fcller@Example.COM \"",
    "\"jane@ex\\u00e4mple.com\"",
    "\"jane@b\\u00fccher.d\\u00e9\"",
    "\"jane@\\u4f8b\\u3048.jp\"",
    "\"jane@example.\\u4e2d\\u56fd\"",
    "\"\\u00e9@\\u00e9.\\u00e9\\u00e9\"",
    "\"Contact \\u00e9va@example.com or +33 6 12 34 56 78 \\u2014 merci \\ud83d\\ude00\"",
    "\"\\ud83d\\ude00\\ud83d\\ude00 jane.doe@example.com \\ud83d\\ude00\\ud83d\\ude00\"",
    "\"carte\\u00a04111 1111 1111 1111\\u00a0\\u20ac\"",
    "\"\\u4e2d4111111111111111\\u4e2d\"",
    "\"T\\u00e9l.\\u00a0: 06 12 34 56 78\\u2026\"",
    "\"\\u260e +1 (650) 555-1212 \\u00e9\"",
    "\"https://shop.example/p?email=j%C3%B6e%40example.com&q=caf%C3%A9&card=4111111111111111\"",
    "\"%C3%A9va%40ex%C3%A4mple.com\"",
    "\"a\\u20acb\\ud83d\\ude00c\\u00e9\\u4e2dd\"",
};
#define UTF8_JSON_COUNT (sizeof(utf8_json) / sizeof(utf8_json[0]))

/* One character of each multi-byte UTF-8 length: U+00E9 (2 bytes), U+20AC (3), U+1F600 (4).
 * Each is given in runs of 1..WIDE_RUN (a byte count a plugin keeps or drops lands inside a
 * character of at least one of them), and in place of each of the first and last WIDE_EDGE
 * characters of a card number, where a keep_first / keep_last of a common N cuts. */
static const char *const wide_chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
#define WIDE_COUNT (sizeof(wide_chars) / sizeof(wide_chars[0]))
#define WIDE_RUN   9
#define WIDE_EDGE  8
static const char wide_background[] = "4111 1111 1111 1111";

#define INPUT_MAX (INPUT_JSON_COUNT + UTF8_JSON_COUNT + WIDE_COUNT * (WIDE_RUN + 2 * WIDE_EDGE))

/* The values every check runs over, with how messages name them. */
typedef struct inputs {
    size_t n;
    json_t *v[INPUT_MAX];
    char *label[INPUT_MAX]; /* the value as JSON with every non-ASCII character escaped */
} inputs_t;

static int inputs_add(inputs_t *in, json_t *v)
{
    if (v == NULL || in->n == INPUT_MAX)
        return -1;
    in->label[in->n] = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    in->v[in->n++] = v;
    return in->label[in->n - 1] != NULL ? 0 : -1;
}

static void inputs_dispose(inputs_t *in)
{
    for (size_t i = 0; i < in->n; i++) {
        json_decref(in->v[i]);
        free(in->label[i]);
    }
    in->n = 0;
}

/* Returns 0, or -1 out of memory (in is then disposed). */
static int inputs_init(inputs_t *in)
{
    in->n = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < INPUT_JSON_COUNT; i++)
        rc = inputs_add(in, json_loads(input_json[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL));
    for (size_t i = 0; rc == 0 && i < UTF8_JSON_COUNT; i++)
        rc = inputs_add(in, json_loads(utf8_json[i], JSON_DECODE_ANY, NULL));
    const size_t bg_chars = sizeof(wide_background) - 1;
    for (size_t w = 0; rc == 0 && w < WIDE_COUNT; w++) {
        const char *c = wide_chars[w];
        const size_t cl = strlen(c);
        char buf[64];
        for (size_t k = 1; rc == 0 && k <= WIDE_RUN; k++) {
            for (size_t j = 0; j < k; j++)
                memcpy(buf + j * cl, c, cl);
            rc = inputs_add(in, json_stringn(buf, k * cl));
        }
        for (size_t e = 0; rc == 0 && e < 2 * WIDE_EDGE; e++) {
            size_t at = e < WIDE_EDGE ? e : bg_chars - 1 - (e - WIDE_EDGE); /* the background is ASCII */
            memcpy(buf, wide_background, at);
            memcpy(buf + at, c, cl);
            memcpy(buf + at + cl, wide_background + at + 1, bg_chars - at - 1);
            rc = inputs_add(in, json_stringn(buf, bg_chars - 1 + cl));
        }
    }
    if (rc != 0)
        inputs_dispose(in);
    return rc;
}

/* 1 when v is a string with a byte above 0x7f. */
static int has_multibyte(const json_t *v)
{
    const char *s = json_string_value(v);
    for (size_t i = 0, n = json_string_length(v); s != NULL && i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return 1;
    }
    return 0;
}

/* The bytes of a string value in hex ("c3 a9 76 61"), the first 40 of them. */
static void hex_bytes(const json_t *v, char *buf, size_t cap)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = json_string_length(v), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; s != NULL && i < n && i < 40 && used + 4 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%02x", i ? " " : "", s[i]);
    if (n > 40 && used + 4 < cap)
        snprintf(buf + used, cap - used, " ...");
}

typedef struct result {
    sluice_plugin_outcome_t outcome;
    json_t *value;      /* REPLACED: the new value */
    const char *reason; /* FAILED */
} result_t;

static const char *outcome_name(sluice_plugin_outcome_t o)
{
    switch (o) {
    case SLUICE_PLUGIN_REPLACED: return "replaced";
    case SLUICE_PLUGIN_UNCHANGED: return "unchanged";
    case SLUICE_PLUGIN_REMOVE: return "remove";
    case SLUICE_PLUGIN_FAILED: return "error";
    }
    return "?";
}

/* Failures a conforming plugin may return on some inputs: it refuses the value (fail closed). */
static int acceptable_refusal(const char *reason)
{
    return strcmp(reason, sluice_mask_strerror(SLUICE_MASK_EINVAL)) == 0 ||
           strcmp(reason, sluice_mask_strerror(SLUICE_MASK_ETOOBIG)) == 0 ||
           strcmp(reason, "output over the size cap") == 0;
}

static int same_result(const result_t *a, const result_t *b)
{
    if (a->outcome != b->outcome)
        return 0;
    if (a->outcome == SLUICE_PLUGIN_REPLACED)
        return json_equal(a->value, b->value);
    if (a->outcome == SLUICE_PLUGIN_FAILED)
        return strcmp(a->reason, b->reason) == 0;
    return 1;
}

static void mask_one(sluice_plugin_instance_t *inst, unsigned thread, sluice_mask_output_t *out, json_t *value,
                     const char *path, const char *org, const char *event, result_t *r)
{
    sluice_plugin_field_t f = {.org = org, .path = path, .rule_path = path, .event = event};
    r->value = NULL;
    r->reason = NULL;
    r->outcome = sluice_plugin_mask_json(inst, thread, out, &f, value, &r->value, &r->reason);
}

static void mask_default(sluice_plugin_instance_t *inst, unsigned thread, sluice_mask_output_t *out, json_t *value,
                         result_t *r)
{
    mask_one(inst, thread, out, value, "properties.field", "conformance", "Test Event", r);
}

/* ------------------------------------------------------------------ create */

typedef struct suite {
    report_t rep;
    const char *path;
    sluice_plugin_lib_t *lib;
    const sluice_mask_plugin_t *d;
    const sluice_keyring_t *keys;
    char *params_yaml; /* from --param */
    char rule[512];    /* how messages name the rule under test: "default parameters", "--param k=v ..." */
} suite_t;

/* Creates an instance with params given as YAML (or JSON) map text; NULL with the diag
 * messages printed. nthreads 3: thread 0 for the single-thread runs, 1 and 2 for the
 * concurrent one. */
/* An instance of the plugin with params_text (YAML; NULL or "" for none). With report, problems
 * are lines of the report; without, the first is put into why (why_len bytes; may be NULL). */
static sluice_plugin_instance_t *create_instance(suite_t *s, const char *name, const char *params_text, int report,
                                                 char *why, size_t why_len)
{
    char err[256];
    sluice_yaml_doc_t *doc = NULL;
    if (params_text != NULL && params_text[0] != '\0') {
        doc = sluice_yaml_load_string(name, params_text, strlen(params_text), err, sizeof(err));
        if (doc == NULL) {
            if (report)
                line(&s->rep, "FAIL", "create: parameters: %s", err);
            else if (why != NULL)
                snprintf(why, why_len, "%s", err);
            return NULL;
        }
    }
    sluice_yaml_pos_t pos = {.file = name, .line = 1, .col = 1};
    sluice_plugin_instance_opts_t o = {.params = doc ? doc->root : NULL,
                                       .pos = &pos,
                                       .label = "rule",
                                       .org = "conformance",
                                       .rule_path = "properties.field",
                                       .keys = s->keys,
                                       .nthreads = 3};
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_plugin_instance_t *inst = NULL;
    int rc = sluice_plugin_instance_create(s->lib, &o, &inst, &diag);
    if (rc != 0 && report) {
        int selftest = diag.count > 0 && strstr(diag.msgs[0], "failed its selftest") != NULL;
        line(&s->rep, "FAIL", "%s", selftest ? "selftest" : "create");
        for (size_t i = 0; i < diag.count; i++)
            printf("        %s\n", diag.msgs[i]);
    }
    if (rc != 0 && !report && why != NULL)
        snprintf(why, why_len, "%s", diag.count > 0 ? diag.msgs[0] : "no reason given");
    for (size_t i = 0; report && i < diag.warning_count; i++)
        printf("        warning: %s\n", diag.warnings[i]);
    sluice_config_diag_dispose(&diag);
    sluice_yaml_doc_free(doc);
    return inst;
}

/* ------------------------------------------------------------------ checks */

/* Names the config loader treats as secrets refuse an inline value in a rule's params, so a
 * plugin parameter with such a name must be SECRET (given as NAME_env) or could never be set. */
static int refused_inline_by_config(const char *path, const char *name)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "version: 1\nserver: {http: {listen: \"127.0.0.1:0\"}}\nkafka: {brokers: \"127.0.0.1:9092\"}\n"
             "orgs:\n  - id: t\n    sources: [{id: web, write_key_env: T_KEY}]\n    data_layer:\n"
             "      mask:\n        - {path: a, plugin: \"%s\", params: {%s: x}}\n",
             path, name);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("probe.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    int refused = 0;
    for (size_t i = 0; i < d.count; i++)
        refused |= strstr(d.msgs[i], "a secret written inline") != NULL;
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    return refused;
}

static void check_config_map(suite_t *s, const char *abs_path)
{
    const sluice_mask_config_entry_t *map = s->d->config;
    int n = 0, problems = 0, warnings = 0;
    for (; map != NULL && map[n].name != NULL; n++) {
        const sluice_mask_config_entry_t *e = &map[n];
        if (!(e->flags & SLUICE_MASK_CONF_SECRET) && refused_inline_by_config(abs_path, e->name)) {
            printf("        '%s': the config refuses '%s: value' as an inline secret; declare it "
                   "SLUICE_MASK_CONF_SECRET (given as %s_env) or rename it\n",
                   e->name, e->name, e->name);
            problems++;
        }
        if ((e->flags & SLUICE_MASK_CONF_REQUIRED) && e->default_value != NULL) {
            printf("        '%s': REQUIRED with a default (the default can never apply)\n", e->name);
            warnings++;
        }
        if (e->description == NULL || e->description[0] == '\0') {
            printf("        '%s': no description\n", e->name);
            warnings++;
        }
    }
    if (problems)
        line(&s->rep, "FAIL", "config map: %d parameter(s), %d problem(s)", n, problems);
    else
        line(&s->rep, "PASS", "config map: %d parameter(s); names unique and valid, types known, defaults parse%s", n,
             warnings ? " (see notes above)" : "");
}

typedef struct mask_stats {
    int replaced, unchanged, removed, refused, bad;
} mask_stats_t;

/* The host refused string output that is not valid UTF-8 (plugins/loader.c says so in its reason). */
static int utf8_failure(const result_t *r)
{
    return r->outcome == SLUICE_PLUGIN_FAILED && strstr(r->reason, "UTF-8") != NULL;
}

static void check_mask(suite_t *s, sluice_plugin_instance_t *inst, const inputs_t *in, result_t *base)
{
    sluice_mask_output_t out;
    if (sluice_plugin_output_init(&out, 0) != 0) {
        line(&s->rep, "FAIL", "mask: out of memory");
        return;
    }
    mask_stats_t st = {0};
    int multibyte = 0, multibyte_replaced = 0, utf8_bad = 0;
    size_t utf8_failed[INPUT_MAX]; /* listed under the UTF-8 verdict, after the mask one */
    for (size_t i = 0; i < in->n; i++) {
        result_t *r = &base[i];
        mask_default(inst, 0, &out, in->v[i], r);
        int mb = has_multibyte(in->v[i]);
        multibyte += mb;
        switch (r->outcome) {
        case SLUICE_PLUGIN_REPLACED:
            st.replaced++;
            multibyte_replaced += mb;
            break;
        case SLUICE_PLUGIN_UNCHANGED: st.unchanged++; break;
        case SLUICE_PLUGIN_REMOVE: st.removed++; break;
        case SLUICE_PLUGIN_FAILED:
            if (acceptable_refusal(r->reason)) {
                st.refused++;
            } else if (utf8_failure(r)) {
                utf8_failed[utf8_bad++] = i;
            } else {
                st.bad++;
                printf("        input %s: %s\n", in->label[i], r->reason);
            }
            break;
        }
        if (s->rep.verbose) {
            char *o = r->value ? json_dumps(r->value, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
            printf("        %s -> %s%s%s\n", in->label[i], outcome_name(r->outcome), o ? " " : "",
                   o ? o : (r->reason ? r->reason : ""));
            free(o);
        }
    }
    sluice_plugin_output_dispose(&out);
    if (st.bad)
        line(&s->rep, "FAIL", "mask: %zu inputs of every JSON type, %d failed in a way a plugin must not", in->n,
             st.bad);
    else if ((size_t)st.refused == in->n)
        /* Each refusal is allowed (fails closed), but a plugin refusing every value, from a bug or
         * parameters it cannot work with, passed with status 0 and then removed every field its
         * rule names in the gateway (or rejected every event, with on_error: reject). */
        line(&s->rep, "FAIL",
             "mask: the plugin refused every one of the %zu inputs of every JSON type (%s): in the gateway every field "
             "its rule reaches would be removed, or its event rejected with on_error: reject",
             in->n, s->rule);
    else
        line(&s->rep, "PASS", "mask: %zu inputs of every JSON type (%d replaced, %d unchanged, %d removed, %d refused)",
             in->n, st.replaced, st.unchanged, st.removed, st.refused);
    /* With the input's bytes: where a character was cut shows in them. */
    for (int k = 0; k < utf8_bad; k++) {
        char hex[200];
        hex_bytes(in->v[utf8_failed[k]], hex, sizeof(hex));
        printf("        input %s (bytes %s): output is not valid UTF-8\n", in->label[utf8_failed[k]], hex);
    }
    if (utf8_bad)
        line(&s->rep, "FAIL",
             "UTF-8: with %s, %d of %d inputs with multi-byte characters gave output that is not valid UTF-8 "
             "(inputs above): the plugin cuts a character in half or writes bytes that are not UTF-8, and the "
             "gateway removes such a field",
             s->rule, utf8_bad, multibyte);
    else
        line(&s->rep, "PASS",
             "UTF-8: no output cuts a character: %d inputs with 2-, 3- and 4-byte characters at the first, last and "
             "keep_first/keep_last edges, in e-mail local parts and domains and in free text (%d replaced)",
             multibyte, multibyte_replaced);
}

static void check_size_cap(suite_t *s, sluice_plugin_instance_t *inst)
{
    size_t n = 4 * SLUICE_PLUGIN_OUTPUT_MAX;
    char *big = malloc(n);
    sluice_mask_output_t out;
    if (big == NULL || sluice_plugin_output_init(&out, 0) != 0) {
        free(big);
        line(&s->rep, "FAIL", "size cap: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('0' + i % 10);
    json_t *v = json_stringn(big, n);
    result_t r;
    mask_default(inst, 0, &out, v, &r);
    if (r.outcome == SLUICE_PLUGIN_FAILED && !acceptable_refusal(r.reason))
        line(&s->rep, "FAIL", "size cap: a %zu-byte value: %s", n, r.reason);
    else if (r.outcome == SLUICE_PLUGIN_FAILED)
        line(&s->rep, "PASS", "size cap: a %zu-byte value fails closed (%s)", n, r.reason);
    else
        line(&s->rep, "PASS", "size cap: a %zu-byte value gives %s within the %d-byte cap", n, outcome_name(r.outcome),
             SLUICE_PLUGIN_OUTPUT_MAX);
    json_decref(r.value);
    json_decref(v);
    sluice_plugin_output_dispose(&out);
    free(big);
}

static void check_determinism(suite_t *s, sluice_plugin_instance_t *inst, const inputs_t *in, const result_t *base)
{
    if (!(s->d->flags & SLUICE_MASK_FLAG_DETERMINISTIC)) {
        line(&s->rep, "SKIP", "determinism: not declared (SLUICE_MASK_FLAG_DETERMINISTIC)");
        return;
    }
    sluice_mask_output_t out;
    if (sluice_plugin_output_init(&out, 0) != 0)
        return;
    int diff = 0;
    for (size_t i = 0; i < in->n; i++) {
        result_t r;
        mask_default(inst, 0, &out, in->v[i], &r);
        if (!same_result(&r, &base[i])) {
            printf("        input %s: a second call gave another result\n", in->label[i]);
            diff++;
        }
        json_decref(r.value);
    }
    sluice_plugin_output_dispose(&out);
    if (diff)
        line(&s->rep, "FAIL", "determinism: %d input(s) masked differently the second time", diff);
    else
        line(&s->rep, "PASS", "determinism: every input masked the same way twice");
}

typedef struct worker {
    sluice_plugin_instance_t *inst;
    unsigned thread;
    size_t n;
    json_t *inputs[INPUT_MAX]; /* this thread's own copies */
    const result_t *base;
    int deterministic;
    int mismatches;
    int failures;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    sluice_mask_output_t out;
    if (sluice_plugin_output_init(&out, 0) != 0) {
        w->failures++;
        return NULL;
    }
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t i = 0; i < w->n; i++) {
            result_t r;
            mask_default(w->inst, w->thread, &out, w->inputs[i], &r);
            /* A failure the single-thread run had too is reported by the mask and UTF-8 checks. */
            if (r.outcome == SLUICE_PLUGIN_FAILED && !acceptable_refusal(r.reason) && !same_result(&r, &w->base[i]))
                w->failures++;
            else if (w->deterministic ? !same_result(&r, &w->base[i]) : r.outcome != w->base[i].outcome)
                w->mismatches++;
            json_decref(r.value);
        }
    }
    sluice_plugin_output_dispose(&out);
    return NULL;
}

static void check_threads(suite_t *s, sluice_plugin_instance_t *inst, const inputs_t *in, const result_t *base)
{
    worker_t w[2];
    pthread_t th[2];
    int started = 0;
    for (int t = 0; t < 2; t++) {
        memset(&w[t], 0, sizeof(w[t]));
        w[t].inst = inst;
        w[t].thread = (unsigned)t + 1;
        w[t].base = base;
        w[t].deterministic = (s->d->flags & SLUICE_MASK_FLAG_DETERMINISTIC) != 0;
        w[t].n = in->n;
        for (size_t i = 0; i < in->n; i++)
            w[t].inputs[i] = json_deep_copy(in->v[i]);
    }
    for (int t = 0; t < 2; t++) {
        if (pthread_create(&th[t], NULL, worker_main, &w[t]) == 0)
            started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    int mismatches = 0, failures = 0;
    for (int t = 0; t < 2; t++) {
        mismatches += w[t].mismatches;
        failures += w[t].failures;
        for (size_t i = 0; i < w[t].n; i++)
            json_decref(w[t].inputs[i]);
    }
    if (started != 2)
        line(&s->rep, "FAIL", "threads: could not start 2 threads");
    else if (failures || mismatches)
        line(&s->rep, "FAIL",
             "threads: 2 threads x %d rounds: %d failure(s), %d result(s) differing from the "
             "single-thread run",
             ROUNDS, failures, mismatches);
    else
        line(&s->rep, "PASS", "threads: 2 threads x %d rounds agree with the single-thread run (%s)", ROUNDS,
             (s->d->flags & SLUICE_MASK_FLAG_DETERMINISTIC) ? "same values" : "same outcomes");
}

static void check_idempotence(suite_t *s, sluice_plugin_instance_t *inst, const inputs_t *in, const result_t *base)
{
    if (!(s->d->flags & SLUICE_MASK_FLAG_IDEMPOTENT)) {
        line(&s->rep, "SKIP", "idempotence: not declared (SLUICE_MASK_FLAG_IDEMPOTENT)");
        return;
    }
    sluice_mask_output_t out;
    if (sluice_plugin_output_init(&out, 0) != 0)
        return;
    int bad = 0, checked = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (base[i].outcome != SLUICE_PLUGIN_REPLACED)
            continue;
        checked++;
        result_t r;
        mask_default(inst, 0, &out, base[i].value, &r);
        int ok = r.outcome == SLUICE_PLUGIN_UNCHANGED ||
                 (r.outcome == SLUICE_PLUGIN_REPLACED && json_equal(r.value, base[i].value));
        if (!ok) {
            printf("        input %s: masking the masked value changed it again (%s)\n", in->label[i],
                   outcome_name(r.outcome));
            bad++;
        }
        json_decref(r.value);
    }
    sluice_plugin_output_dispose(&out);
    if (bad)
        line(&s->rep, "FAIL", "idempotence: %d of %d masked values changed when masked again", bad, checked);
    else
        line(&s->rep, "PASS", "idempotence: mask(mask(x)) == mask(x) for %d masked values", checked);
}

/* ------------------------------------------------------------------ vectors */

typedef struct cached {
    char *params; /* compact JSON of the vector's params */
    sluice_plugin_instance_t *inst;
} cached_t;

static int parse_status(const char *s, sluice_plugin_outcome_t *out)
{
    static const char *const names[] = {"replaced", "unchanged", "remove", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (sluice_plugin_outcome_t)i;
            return 0;
        }
    }
    return -1;
}

/* Runs one vector; returns 1 when it passes. why gets the failure. */
static int run_vector(suite_t *s, json_t *v, sluice_plugin_instance_t *base_inst, cached_t *cache, size_t *ncache,
                      char *why, size_t why_len)
{
    json_t *input = json_object_get(v, "input");
    if (input == NULL) {
        snprintf(why, why_len, "no \"input\"");
        return 0;
    }
    sluice_plugin_instance_t *inst = base_inst;
    json_t *params = json_object_get(v, "params");
    if (params != NULL) {
        if (!json_is_object(params)) {
            snprintf(why, why_len, "\"params\" is not an object");
            return 0;
        }
        char *key = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
        inst = NULL;
        for (size_t i = 0; key != NULL && i < *ncache && inst == NULL; i++) {
            if (strcmp(cache[i].params, key) == 0)
                inst = cache[i].inst;
        }
        if (inst == NULL && key != NULL && *ncache >= MAX_VECTORS) {
            snprintf(why, why_len, "more than %d different params among the vectors", MAX_VECTORS);
            free(key);
            return 0;
        }
        if (inst == NULL && key != NULL) {
            /* JSON is YAML flow syntax, so the loader validates vector params like a rule's. */
            char reason[512];
            inst = create_instance(s, "vector params", key, 0, reason, sizeof(reason));
            if (inst == NULL) {
                snprintf(why, why_len, "the plugin refused params %s: %s", key, reason);
                free(key);
                return 0;
            }
            cache[*ncache].params = key;
            cache[(*ncache)++].inst = inst;
            key = NULL;
        }
        free(key);
    }
    if (inst == NULL) {
        snprintf(why, why_len, "no instance (the plugin could not be created with the --param values)");
        return 0;
    }
    const char *path = json_string_value(json_object_get(v, "path"));
    const char *org = json_string_value(json_object_get(v, "org"));
    const char *event = json_string_value(json_object_get(v, "event"));
    sluice_mask_output_t out;
    if (sluice_plugin_output_init(&out, 0) != 0) {
        snprintf(why, why_len, "out of memory");
        return 0;
    }
    result_t r;
    mask_one(inst, 0, &out, input, path ? path : "properties.field", org ? org : "conformance",
             event ? event : "Test Event", &r);
    sluice_plugin_output_dispose(&out);

    int ok = 1;
    json_t *expect = json_object_get(v, "expect");
    const char *status = json_string_value(json_object_get(v, "expect_status"));
    const char *prefix = json_string_value(json_object_get(v, "expect_prefix"));
    char *got = r.value ? json_dumps(r.value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    const char *got_text = got ? got : (r.outcome == SLUICE_PLUGIN_FAILED ? r.reason : outcome_name(r.outcome));
    if (expect != NULL) {
        if (r.outcome != SLUICE_PLUGIN_REPLACED || !json_equal(r.value, expect)) {
            char *want = json_dumps(expect, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(why, why_len, "expected %s, got %s", want ? want : "?", got_text);
            free(want);
            ok = 0;
        }
    } else if (prefix != NULL) {
        const char *sv = json_string_value(r.value);
        if (r.outcome != SLUICE_PLUGIN_REPLACED || sv == NULL || strncmp(sv, prefix, strlen(prefix)) != 0) {
            snprintf(why, why_len, "expected a string starting with \"%s\", got %s", prefix, got_text);
            ok = 0;
        }
    } else if (status != NULL) {
        sluice_plugin_outcome_t want;
        if (parse_status(status, &want) != 0) {
            snprintf(why, why_len, "unknown expect_status \"%s\"", status);
            ok = 0;
        } else if (want != r.outcome) {
            snprintf(why, why_len, "expected %s, got %s", outcome_name(want), got_text);
            ok = 0;
        }
    } else {
        snprintf(why, why_len, "no \"expect\", \"expect_prefix\" or \"expect_status\"");
        ok = 0;
    }
    free(got);
    json_decref(r.value);
    return ok;
}

static void check_vectors(suite_t *s, sluice_plugin_instance_t *base_inst, const char *file)
{
    if (file == NULL) {
        line(&s->rep, "SKIP", "vectors: no --vectors FILE");
        return;
    }
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        line(&s->rep, "FAIL", "vectors: cannot open %s: %s", file, strerror(errno));
        return;
    }
    cached_t *cache = calloc(MAX_VECTORS, sizeof(*cache));
    size_t ncache = 0;
    char buf[65536];
    int lineno = 0, total = 0, bad = 0;
    while (cache != NULL && fgets(buf, sizeof(buf), f) != NULL) {
        lineno++;
        const char *p = buf + strspn(buf, " \t\r\n");
        if (*p == '\0' || *p == '#')
            continue;
        total++;
        json_error_t je;
        json_t *v = json_loads(p, 0, &je);
        char why[1024];
        if (v == NULL || !json_is_object(v)) {
            printf("        %s:%d: not a JSON object: %s\n", file, lineno, v ? "" : je.text);
            bad++;
        } else if (!run_vector(s, v, base_inst, cache, &ncache, why, sizeof(why))) {
            const char *name = json_string_value(json_object_get(v, "name"));
            printf("        %s:%d%s%s: %s\n", file, lineno, name ? " " : "", name ? name : "", why);
            bad++;
        }
        json_decref(v);
    }
    fclose(f);
    for (size_t i = 0; i < ncache; i++) {
        sluice_plugin_instance_destroy(cache[i].inst);
        free(cache[i].params);
    }
    free(cache);
    if (total == 0)
        line(&s->rep, "FAIL", "vectors: %s holds no vector", file);
    else if (bad)
        line(&s->rep, "FAIL", "vectors: %d of %d from %s failed", bad, total, file);
    else
        line(&s->rep, "PASS", "vectors: %d of %d from %s", total, total, file);
}

/* ------------------------------------------------------------------ main */

static sluice_keyring_t *suite_keys(void)
{
    sluice_err_t err = {{0}};
    if (getenv("ENCRYPTION_KEY") != NULL) {
        sluice_keyring_t *kr = sluice_keyring_from_env(&err);
        if (kr == NULL)
            fprintf(stderr, "sluicectl plugin test: %s\n", err.msg);
        return kr;
    }
    uint8_t key[SLUICE_KEYRING_KEY_LEN];
    sluice_keyring_t *kr = sluice_keyring_create();
    if (kr == NULL || sluice_random_bytes(key, sizeof(key)) != 0 || sluice_keyring_add(kr, 1, key, 1, &err) != 0) {
        sluice_keyring_free(kr);
        kr = NULL;
    }
    sluice_secure_zero(key, sizeof(key));
    return kr;
}

/* s for a terminal: control characters (an escape sequence in a plugin's text) as '?', at most
 * cap - 1 bytes. Returns out. */
static const char *printable(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; s != NULL && *s && k + 1 < cap; s++)
        out[k++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    out[k] = '\0';
    return out;
}

static void describe(const sluice_mask_plugin_t *d, uint32_t declared)
{
    char version[64], text[256];
    printf("plugin %s %s (ABI %u.%u, descriptor %u bytes, flags:%s%s%s)\n", d->name,
           printable(d->version, version, sizeof(version)), d->abi_major, d->abi_minor, (unsigned)declared,
           (d->flags & SLUICE_MASK_FLAG_DETERMINISTIC) ? " deterministic" : "",
           (d->flags & SLUICE_MASK_FLAG_IDEMPOTENT) ? " idempotent" : "", d->flags == 0 ? " none" : "");
    if (d->description != NULL)
        printf("  %s\n", printable(d->description, text, sizeof(text)));
    for (size_t i = 0; d->config != NULL && d->config[i].name != NULL; i++) {
        const sluice_mask_config_entry_t *e = &d->config[i];
        int secret = (e->flags & SLUICE_MASK_CONF_SECRET) != 0;
        char dflt[128];
        printf("  param %s%s: %s%s%s%s: %s\n", e->name, secret ? "_env" : "",
               secret ? "name of an env var holding a secret" : sluice_plugin_conf_type_name(e->type),
               (e->flags & SLUICE_MASK_CONF_REQUIRED) ? ", required" : "", e->default_value ? ", default " : "",
               e->default_value ? printable(e->default_value, dflt, sizeof(dflt)) : "",
               e->description ? printable(e->description, text, sizeof(text)) : "");
    }
}

/* The check under way while plugin code runs, or NULL. A plugin that calls exit() (in create, in
 * mask, from a thread) ended the suite without a verdict, and with exit(0) `plugin test` exited 0:
 * a release pipeline shipped a plugin that ends the gateway at its first event. */
static const char *volatile running_check;

static void ended_by_plugin(void)
{
    const char *check = running_check;
    if (check == NULL)
        return;
    running_check = NULL;
    printf("FAIL  %s: the plugin ended the process (exit); in the gateway that ends every request of every org\n"
           "result: FAIL\n",
           check);
    fflush(stdout);
    _exit(1); /* whatever status the plugin gave */
}

static int run_suite(const char *path, char **params, int nparams, const char *vectors, int verbose)
{
    suite_t s = {.rep = {.verbose = verbose}, .path = path};
    sluice_err_t err = {{0}};
    atexit(ended_by_plugin);
    running_check = "load";
    s.lib = sluice_plugin_lib_open(path, &err);
    running_check = NULL;
    if (s.lib == NULL) {
        line(&s.rep, "FAIL", "load: %s", err.msg);
        printf("result: FAIL\n");
        return 1;
    }
    s.d = sluice_plugin_lib_descriptor(s.lib);
    describe(s.d, sluice_plugin_lib_declared_size(s.lib));
    line(&s.rep, "PASS", "load: magic, ABI %d.%d, descriptor size, build signature and callbacks accepted",
         SLUICE_MASK_ABI_MAJOR, SLUICE_MASK_ABI_MINOR);
    char *abs = realpath(path, NULL);
    check_config_map(&s, abs ? abs : path);
    free(abs);

    /* --param k=v → "k: v" lines of a YAML map; a value that is not a YAML scalar or flow
     * collection on its own (e.g. "U:") is taken as a string. */
    size_t cap = 16;
    for (int i = 0; i < nparams; i++)
        cap += 2 * strlen(params[i]) + 8;
    s.params_yaml = calloc(1, cap);
    for (int i = 0; s.params_yaml != NULL && i < nparams; i++) {
        const char *eq = strchr(params[i], '=');
        size_t used = strlen(s.params_yaml);
        char probe_err[64];
        sluice_yaml_doc_t *probe =
            sluice_yaml_load_string("--param", eq + 1, strlen(eq + 1), probe_err, sizeof(probe_err));
        /* Block collections ("U:" is a map, " -" a sequence) would break the lines around them. */
        const char *first = eq + 1 + strspn(eq + 1, " \t");
        int plain = probe != NULL &&
                    (probe->root == NULL || probe->root->type == SLUICE_YAML_SCALAR || *first == '[' || *first == '{');
        sluice_yaml_doc_free(probe);
        json_t *quoted = plain ? NULL : json_string(eq + 1);
        char *q = quoted ? json_dumps(quoted, JSON_ENCODE_ANY) : NULL;
        snprintf(s.params_yaml + used, cap - used, "%.*s: %s\n", (int)(eq - params[i]), params[i], q ? q : eq + 1);
        free(q);
        json_decref(quoted);
    }
    /* Secrets are given as key_env=VAR, so the rule's description names variables, never values. */
    snprintf(s.rule, sizeof(s.rule), "%s", nparams ? "" : "default parameters");
    for (int i = 0; i < nparams; i++) {
        size_t used = strlen(s.rule);
        snprintf(s.rule + used, sizeof(s.rule) - used, "%s--param %s", i ? " " : "", params[i]);
    }
    sluice_keyring_t *keys = suite_keys();
    s.keys = keys;
    running_check = "create";
    sluice_plugin_instance_t *inst = create_instance(&s, "--param", s.params_yaml, 1, NULL, 0);
    if (inst != NULL) {
        line(&s.rep, "PASS", "create: with %s", nparams ? "the --param values" : "default parameters");
        if (s.d->selftest != NULL)
            line(&s.rep, "PASS", "selftest");
        else
            line(&s.rep, "SKIP", "selftest: none declared");

        inputs_t inputs;
        result_t base[INPUT_MAX];
        if (inputs_init(&inputs) != 0) {
            line(&s.rep, "FAIL", "mask: out of memory");
        } else {
            running_check = "mask";
            check_mask(&s, inst, &inputs, base);
            running_check = "size cap";
            check_size_cap(&s, inst);
            running_check = "determinism";
            check_determinism(&s, inst, &inputs, base);
            running_check = "threads";
            check_threads(&s, inst, &inputs, base);
            running_check = "idempotence";
            check_idempotence(&s, inst, &inputs, base);
            running_check = "vectors";
            check_vectors(&s, inst, vectors);
            for (size_t i = 0; i < inputs.n; i++)
                json_decref(base[i].value);
            inputs_dispose(&inputs);
        }
        printf("calls %llu, errors %llu (the errors include refusals above)\n",
               (unsigned long long)sluice_plugin_instance_calls(inst),
               (unsigned long long)sluice_plugin_instance_errors(inst));
        running_check = "destroy";
        sluice_plugin_instance_destroy(inst);
    }
    sluice_plugin_lib_close(s.lib);
    running_check = NULL;
    sluice_keyring_free(keys);
    free(s.params_yaml);
    printf("result: %s (%d passed, %d failed, %d skipped)\n", s.rep.failed ? "FAIL" : "PASS", s.rep.passed,
           s.rep.failed, s.rep.skipped);
    return s.rep.failed ? 1 : 0;
}

int sluicectl_cmd_plugin(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "test") != 0) {
        fprintf(stderr, "sluicectl plugin: unknown subcommand '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    const char *path = NULL, *vectors = NULL;
    char *params[MAX_PARAMS];
    int nparams = 0, verbose = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--vectors") == 0 && i + 1 < argc) {
            vectors = argv[++i];
        } else if (strcmp(argv[i], "--param") == 0 && i + 1 < argc) {
            const char *eq = strchr(argv[i + 1], '=');
            if (eq == NULL || eq == argv[i + 1] || nparams == MAX_PARAMS) {
                fprintf(stderr, "sluicectl plugin test: --param takes KEY=VALUE (at most %d)\n", MAX_PARAMS);
                return 2;
            }
            params[nparams++] = argv[++i];
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (argv[i][0] == '-' || path != NULL) {
            fprintf(stderr, "sluicectl plugin test: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (path == NULL) {
        fprintf(stderr, "sluicectl plugin test: missing PATH.so\n");
        usage(stderr);
        return 2;
    }
    return run_suite(path, params, nparams, vectors, verbose);
}

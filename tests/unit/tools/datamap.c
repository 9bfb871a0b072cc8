/* Tests for tools/datamap.c and tools/mapdraw.c: what the map says for real configs, that a
 * changed rule changes it, and that its three tables say what the code does: the vendor table
 * against each vendor's own mapping (vendors/<vendor>.c), the consent strip list against the data
 * layer (gateway/datalayer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/time.h"
#include "crypto/hash.h"
#include "gateway/datalayer.h"
#include "tools/datamap.h"
#include "tools/mapdraw.h"
#include "vendors/vendor.h"

static const char yaml_head[] = "version: 1\n"
                                "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                                "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                                "orgs:\n"
                                "  - id: o\n"
                                "    sources:\n"
                                "      - {id: web, write_key_env: T_KEY}\n";

static sluice_config_t *load(const char *org_part)
{
    char yaml[8192];
    snprintf(yaml, sizeof(yaml), "%s%s", yaml_head, org_part);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load_string("map.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        print_error("%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    return cfg;
}

static json_t *field(const json_t *map, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(map, "fields"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "path")), path) == 0)
            return f;
    }
    return NULL;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The flow of field f to integration name, or NULL. */
static json_t *flow(const json_t *f, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(f, "to"), i, t) {
        if (strcmp(str(t, "integration"), name) == 0)
            return t;
    }
    return NULL;
}

static int has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ the example */

static void test_example(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/config/examples/acme.yaml", getenv("SLUICE_SOURCE_DIR"));
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load(path, SLUICE_CONFIG_NO_ENV, &d);
    sluice_config_diag_dispose(&d);
    assert_non_null(cfg);
    json_t *m = sluicectl_datamap_build(cfg, sluice_config_find_org(cfg, "acme"));
    assert_non_null(m);
    assert_string_equal(str(m, "org"), "acme");

    json_t *f = field(m, "traits.email");
    assert_non_null(f);
    assert_string_equal(str(f, "action"), "hash");
    assert_string_equal(str(f, "normalize"), "email");
    assert_string_equal(str(f, "rule"), "hash_fields[0]");
    assert_true(has(json_object_get(f, "variants"), "google")); /* ga4 is enabled */
    assert_true(has(json_object_get(flow(f, "meta"), "as"), "user_data.em"));
    assert_string_equal(str(flow(f, "meta"), "form"), "sha256");
    assert_true(has(json_object_get(flow(f, "ga4"), "as"), "user_data.sha256_email_address"));
    assert_string_equal(str(flow(f, "ga4"), "form"), "sha256, google variant");
    assert_true(has(json_object_get(flow(f, "webhook"), "as"), "envelope"));
    assert_true(json_is_true(json_object_get(f, "removed_without_consent")));

    f = field(m, "context.traits.email"); /* the mirror */
    assert_non_null(f);
    assert_string_equal(str(f, "action"), "hash");
    assert_string_equal(str(f, "mirror_of"), "traits.email");

    f = field(m, "properties.card_number");
    assert_string_equal(str(f, "action"), "mask");
    assert_string_equal(str(f, "plugin"), "partial");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f, "params"), "keep_last")), 4);
    assert_non_null(flow(f, "ga4")); /* GA4 sends other scalar properties */
    assert_null(flow(f, "meta"));

    f = field(m, "properties.password");
    assert_string_equal(str(f, "action"), "drop");
    assert_int_equal(json_array_size(json_object_get(f, "to")), 0);

    f = field(m, "context.ip"); /* an enrichment the data layer masks */
    assert_string_equal(str(f, "set_by"), "gateway");
    assert_string_equal(str(f, "plugin"), "ip_truncate");
    assert_true(has(json_object_get(flow(f, "meta"), "as"), "user_data.client_ip_address"));

    f = field(m, "context.vendorIds.fbp"); /* vendor_cookies: [meta, ga4] */
    assert_non_null(f);
    assert_string_equal(str(f, "set_by"), "gateway");
    assert_non_null(field(m, "context.vendorIds.ga"));
    assert_non_null(field(m, "context.identity.linkedFrom")); /* cross_domain */

    f = field(m, "traits.address.city"); /* raw personal data GA4 reads without a rule */
    assert_non_null(f);
    assert_string_equal(str(f, "action"), "pass");
    assert_true(has(json_object_get(flow(f, "ga4"), "as"), "user_data.address.city"));

    /* meta takes events with consent marketing, which strip reaches without the user agent */
    assert_int_equal(json_array_size(json_object_get(m, "warnings")), 1);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(m, "warnings"), 0)), "client_user_agent"));
    json_decref(m);

    m = sluicectl_datamap_build(cfg, sluice_config_find_org(cfg, "globex"));
    f = field(m, "context.userAgent"); /* globex drops it */
    assert_string_equal(str(f, "action"), "drop");
    assert_string_equal(str(f, "set_by"), "gateway");
    assert_null(field(m, "context.vendorIds.fbp")); /* no vendor cookies */
    f = field(m, "userId");
    assert_string_equal(str(f, "normalize"), "external_id");
    assert_true(has(json_object_get(flow(f, "tiktok"), "as"), "user.external_id"));
    assert_null(flow(f, "meta-test")); /* disabled */
    json_decref(m);
    sluice_config_free(cfg);
}

/* ------------------------------------------------------------------ one rule changed */

static void test_rule_change(void **state)
{
    (void)state;
    static const char fmt[] = "    consent: {required: [analytics], policy: %s}\n"
                              "    data_layer:\n"
                              "      %s\n"
                              "    integrations:\n"
                              "      - {name: meta, vendor: meta, pixel_id: \"1\"}\n"
                              "      - {name: hook, vendor: webhook, url: \"https://h.test/x\"}\n";
    const char *rules[] = {"hash_fields: [{path: traits.phone, normalize: phone}]",
                           "mask: [{path: traits.phone, plugin: full}]", "drop: [traits.phone]", "drop: [traits]"};
    const char *actions[] = {"hash", "mask", "drop", "drop"};
    char *last_md = NULL;
    for (size_t i = 0; i < 4; i++) {
        char part[1024];
        snprintf(part, sizeof(part), fmt, "strip", rules[i]);
        sluice_config_t *cfg = load(part);
        json_t *m = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
        json_t *f = field(m, i == 3 ? "traits" : "traits.phone");
        assert_non_null(f);
        assert_string_equal(str(f, "action"), actions[i]);
        /* Meta takes phones only hashed; the webhook anything the data layer keeps. */
        assert_int_equal(flow(f, "meta") != NULL, i == 0);
        assert_int_equal(flow(f, "hook") != NULL, i < 2);
        json_t *ph = json_array_get(json_object_get(json_array_get(json_object_get(m, "integrations"), 0), "reads"), 1);
        assert_string_equal(str(ph, "as"), "user_data.ph");
        assert_int_equal(has(json_object_get(ph, "sent"), "traits.phone"), i == 0);
        assert_int_equal(has(json_object_get(ph, "sent"), "context.traits.phone"), i == 0); /* the mirror */
        char *md = sluicectl_mapdraw_markdown(m);
        assert_non_null(md);
        if (last_md != NULL)
            assert_string_not_equal(md, last_md);
        free(last_md);
        last_md = md;
        json_decref(m);
        sluice_config_free(cfg);
    }
    free(last_md);

    /* The consent policy: strip removes identifying fields and warns about meta; drop does not. */
    char part[1024];
    snprintf(part, sizeof(part), fmt, "drop", rules[0]);
    sluice_config_t *cfg = load(part);
    json_t *m = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
    assert_false(json_is_true(json_object_get(field(m, "traits.phone"), "removed_without_consent")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(m, "consent"), "strip_removes")), 0);
    assert_int_equal(json_array_size(json_object_get(m, "warnings")), 0);
    json_decref(m);
    sluice_config_free(cfg);
}

/* The variants the map lists are those the envelope carries: with Reddit alone, a phone travels in
 * the `reddit` variant and in TikTok's (the previous release's Reddit worker read that one), an
 * e-mail in the `reddit` variant only (TikTok's e-mail is the field itself). */
static void test_variants_as_written(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("    data_layer:\n"
                                "      hash_fields: [{path: traits.phone, normalize: phone}, {path: traits.email, "
                                "normalize: email}]\n"
                                "    integrations:\n"
                                "      - {name: rdt, vendor: reddit, pixel_id: a2_x}\n");
    json_t *m = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
    json_t *ph = json_object_get(field(m, "traits.phone"), "variants");
    assert_int_equal(json_array_size(ph), 2);
    assert_true(has(ph, "reddit"));
    assert_true(has(ph, "tiktok"));
    json_t *em = json_object_get(field(m, "traits.email"), "variants");
    assert_int_equal(json_array_size(em), 1);
    assert_true(has(em, "reddit"));
    json_decref(m);
    sluice_config_free(cfg);
}

/* The same config gives the same bytes. */
static void test_deterministic(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("    data_layer: {hash_fields: [{path: traits.email, normalize: email}], drop: [x]}\n"
                                "    integrations: [{name: ga4, vendor: ga4, measurement_id: G-1}]\n");
    json_t *a = sluicectl_datamap_build(cfg, &cfg->orgs[0]), *b = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
    char *da = sluicectl_mapdraw_dot(a), *db = sluicectl_mapdraw_dot(b);
    char *ma = sluicectl_mapdraw_markdown(a), *mb = sluicectl_mapdraw_markdown(b);
    assert_string_equal(da, db);
    assert_string_equal(ma, mb);
    assert_non_null(strstr(da, "traits.email\\ncontext.traits.email (mirror)\\nhash · email · google"));
    assert_non_null(strstr(da, "label=\"user_data.sha256_email_address\""));
    assert_non_null(strstr(ma, "| `traits.email` | event | **hashed**, normalised as `email`"));
    free(da);
    free(db);
    free(ma);
    free(mb);
    json_decref(a);
    json_decref(b);
    sluice_config_free(cfg);
}

/* ------------------------------------------------------------------ the strip list */

static void test_strip_list_is_the_data_layers(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("    consent: {required: [analytics], policy: strip}\n");
    json_t *m = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
    json_t *removes = json_object_get(json_object_get(m, "consent"), "strip_removes");
    json_t *ev = json_pack("{s:s,s:s}", "type", "track", "event", "x");
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(&cfg->orgs[0], 0, NULL, ev, NULL, &res, &st), 0);
    json_t *dropped = json_object_get(res.privacy, "dropped");
    assert_int_equal(json_array_size(dropped), json_array_size(removes));
    size_t i;
    json_t *v;
    json_array_foreach(dropped, i, v) {
        if (!has(removes, json_string_value(v)))
            fail_msg("the data layer strips %s, the map does not say so", json_string_value(v));
    }
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    json_decref(m);
    sluice_config_free(cfg);
}

/* ------------------------------------------------------------------ the vendor table */

/* Sets root.<dotted path> = v (taking the reference), creating objects on the way. */
static void set_path(json_t *root, const char *path, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    char *s = buf;
    for (char *dot; (dot = strchr(s, '.')) != NULL; s = dot + 1) {
        *dot = '\0';
        json_t *next = json_object_get(cur, s);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, s, next);
        }
        cur = next;
    }
    json_object_set_new(cur, s, v);
}

#define T0_MS 1795444970525LL

/* Maps an event of `type` whose `path` holds value through vendor `it`, and returns the request
 * text the vendor would send for it (body and group), or NULL when it skipped the event. */
static char *mapped(const sluice_integration_t *it, const char *type, const char *path, const char *value)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", type, "messageId", "mid-1", "anonymousId", "anon-base",
                           "context", "userAgent", "UA-base");
    if (strcmp(type, "track") == 0)
        json_object_set_new(ev, "event", json_string("Order Completed"));
    if (it->vendor == SLUICE_VENDOR_GA4) /* GA4 sends user_data only with a user id */
        json_object_set_new(ev, "userId", json_string("user-base"));
    if (path != NULL)
        set_path(ev, path, json_string(value));
    char when[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(T0_MS, when);
    json_t *env =
        json_pack("{s:i,s:s,s:s,s:s,s:o}", "v", 1, "org", "o", "source", "web", "receivedAt", when, "event", ev);
    char *raw = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    sluice_envelope_t e;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&e, raw, strlen(raw), &err), 0);
    sluice_vendor_item_t item = {0};
    char why[256] = "";
    sluice_map_result_t r = sluice_vendor_get(it->vendor)->map(it, &e, T0_MS + 1000, &item, why, sizeof(why));
    sluice_envelope_dispose(&e);
    free(raw);
    if (r == SLUICE_MAP_SKIP)
        return NULL;
    if (r != SLUICE_MAP_OK)
        fail_msg("%s dead-lettered a test event: %s", sluice_vendor_kind_name(it->vendor), why);
    size_t n = item.body_len + (item.group ? strlen(item.group) : 0) + 2;
    char *out = malloc(n);
    snprintf(out, n, "%s|%s", item.group ? item.group : "", item.body);
    sluice_vendor_item_dispose(&item);
    return out;
}

/* 1 when the value at path reaches the vendor's request, for a track or a page event. */
static int reaches(const sluice_integration_t *it, const char *path, const char *value, const char *expect)
{
    int found = 0;
    for (int t = 0; t < 2 && !found; t++) {
        char *req = mapped(it, t ? "page" : "track", path, value);
        found = req != NULL && strstr(req, expect) != NULL;
        free(req);
    }
    return found;
}

/* 1 when another of the integration's reads takes path in a form that accepts a hash (hex) or
 * an unhashed value: then the value may reach the vendor by that way. */
static int other_read_takes(const json_t *ij, const json_t *except, const char *path, int hex)
{
    size_t i, k;
    json_t *r, *p;
    json_array_foreach(json_object_get(ij, "reads"), i, r) {
        if (r == except)
            continue;
        const char *form = str(r, "form");
        if (strcmp(form, "value") != 0 && (strcmp(form, "sha256") == 0) != hex)
            continue;
        json_array_foreach(json_object_get(r, "paths"), k, p) {
            const char *rp = json_string_value(p);
            if (strcmp(rp, path) == 0 ||
                (strcmp(rp, "properties.*") == 0 && strncmp(path, "properties.", 11) == 0 && !strchr(path + 11, '.')))
                return 1;
        }
    }
    return 0;
}

static void check_vendor(const char *integration)
{
    char part[512];
    snprintf(part, sizeof(part), "    integrations: [%s]\n", integration);
    sluice_config_t *cfg = load(part);
    const sluice_integration_t *it = &cfg->orgs[0].integrations[0];
    json_t *m = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
    json_t *ij = json_array_get(json_object_get(m, "integrations"), 0);

    /* The event types the map says the vendor sends are the ones its mapping does not skip. */
    const char *types[] = {"track", "page", "screen", "identify", "group", "alias"};
    for (size_t k = 0; k < 6; k++) {
        char *req = mapped(it, types[k], NULL, NULL);
        if ((req != NULL) != has(json_object_get(ij, "vendor_types"), types[k]))
            fail_msg("%s: the map says %s events are %s", it->name, types[k],
                     req != NULL ? "skipped, the mapping sends them" : "sent, the mapping skips them");
        free(req);
    }

    /* Every path of every vendor field about the person reaches the request in the form the map
     * says, and not in the other. */
    size_t i, k;
    json_t *r, *p;
    size_t checked = 0;
    json_array_foreach(json_object_get(ij, "reads"), i, r) {
        const char *form = str(r, "form"), *as = str(r, "as");
        int generic = strcmp(json_string_value(json_array_get(json_object_get(r, "paths"), 0)), "properties.*") == 0;
        if (!json_is_true(json_object_get(r, "personal")) && !generic)
            continue;
        json_array_foreach(json_object_get(r, "paths"), k, p) {
            const char *path = generic ? "properties.zz_marker" : json_string_value(p);
            char hex[SLUICE_SHA256_HEX_LEN + 1], raw[128];
            assert_int_equal(sluice_sha256_hex(path, strlen(path), hex), 0);
            snprintf(raw, sizeof(raw), "raw-%zu-%zu", i, k);
            if (strcmp(path, "context.vendorIds.ga") == 0) {
                if (!reaches(it, path, "GA1.1.424242.171717", "\"424242.171717\""))
                    fail_msg("%s: %s does not reach %s", it->name, path, as);
                checked++;
                continue;
            }
            if (strcmp(form, "sha256") == 0) {
                if (!reaches(it, path, hex, hex))
                    fail_msg("%s: a hashed %s does not reach %s", it->name, path, as);
                if (!other_read_takes(ij, r, path, 0) && reaches(it, path, raw, raw))
                    fail_msg("%s: an unhashed %s reaches %s, the map says only hashes do", it->name, path, as);
            } else if (strcmp(form, "not a hash") == 0) {
                if (!reaches(it, path, raw, raw))
                    fail_msg("%s: %s does not reach %s", it->name, path, as);
                if (!other_read_takes(ij, r, path, 1) && reaches(it, path, hex, hex))
                    fail_msg("%s: a hashed %s reaches %s, the map says hashes do not", it->name, path, as);
            } else if (!reaches(it, path, raw, raw)) {
                fail_msg("%s: %s does not reach %s", it->name, path, as);
            }
            checked++;
        }
    }
    assert_true(checked >= 10);
    json_decref(m);
    sluice_config_free(cfg);
}

static void test_vendor_table_meta(void **state)
{
    (void)state;
    check_vendor("{name: meta, vendor: meta, pixel_id: \"1\"}");
}

static void test_vendor_table_ga4(void **state)
{
    (void)state;
    check_vendor("{name: ga4, vendor: ga4, measurement_id: G-1}");
}

static void test_vendor_table_tiktok(void **state)
{
    (void)state;
    check_vendor("{name: tiktok, vendor: tiktok, pixel_code: C1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_rule_change),
        cmocka_unit_test(test_variants_as_written),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_strip_list_is_the_data_layers),
        cmocka_unit_test(test_vendor_table_meta),
        cmocka_unit_test(test_vendor_table_ga4),
        cmocka_unit_test(test_vendor_table_tiktok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

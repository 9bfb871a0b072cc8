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
#include "gateway/piiguard.h"
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

/* The map says a click id is kept in Redis for the visitor's later events only when identity
 * keeps it: not when a mask, drop or hash rule reaches it (on the click id or an object above it),
 * since the gateway then keeps none. It said "kept in Redis for 90 days" for an org that drops
 * the click ids. */
static void test_click_kept_only_without_a_rule(void **state)
{
    (void)state;
    static const char fmt[] = "    data_layer:\n"
                              "      %s\n"
                              "    integrations:\n"
                              "      - {name: meta, vendor: meta, pixel_id: \"1\"}\n"
                              "redis: {url: \"redis://127.0.0.1:6390\"}\n";
    const char *rules[] = {"hash_fields: [{path: traits.phone, normalize: phone}]", "drop: [context.clickIds.fbclid]",
                           "drop: [context.clickIds]", "mask: [{path: context.clickIds.FBCLID, plugin: full}]",
                           "hash_fields: [{path: context.clickIds.fbclid, normalize: external_id}]"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        char part[1024];
        snprintf(part, sizeof(part), fmt, rules[i]);
        sluice_config_t *cfg = load(part);
        assert_int_equal(sluice_datalayer_click_covered(&cfg->orgs[0], "fbclid"), i > 0);
        assert_int_equal(sluice_datalayer_click_covered(&cfg->orgs[0], "gclid"), i == 2); /* the whole object */
        json_t *m = sluicectl_datamap_build(cfg, &cfg->orgs[0]);
        const char *says = str(field(m, "context.clickIds.fbclid"), "gateway_sets");
        assert_non_null(says);
        assert_int_equal(strstr(says, "kept in Redis") != NULL, i == 0);
        json_decref(m);
        sluice_config_free(cfg);
    }
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
    /* an address and a user agent: Pinterest refuses an event without both (or a hashed e-mail) */
    json_t *ev = json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "type", type, "messageId", "mid-1", "anonymousId", "anon-base",
                           "context", "userAgent", "UA-base", "ip", "192.0.2.1");
    if (strcmp(type, "track") == 0)
        json_object_set_new(ev, "event", json_string("Order Completed"));
    if (it->vendor == SLUICE_VENDOR_GA4) { /* GA4 sends user_data only with a user id */
        json_object_set_new(ev, "userId", json_string("user-base"));
        /* and user_location only with a two-letter country code */
        json_object_set_new(json_object_get(ev, "context"), "location", json_pack("{s:s}", "countryCode", "ZZ"));
    }
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
            /* GA4's user_location takes ISO codes: a country's two letters, a region's code after
             * its country's */
            if (strcmp(path, "context.location.countryCode") == 0 || strcmp(path, "context.location.regionCode") == 0) {
                int country = strcmp(path, "context.location.countryCode") == 0;
                if (!reaches(it, path, country ? "GB" : "ENG", country ? "\"GB\"" : "\"ZZ-ENG\""))
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
    assert_true(checked >= 5); /* Reddit reads the fewest personal paths */
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

/* Google Ads and LinkedIn skip an event with no click id and no identifier, which the checks'
 * base event is: they are left out. */
static void test_vendor_table_later_vendors(void **state)
{
    (void)state;
    check_vendor("{name: pinterest, vendor: pinterest, ad_account_id: \"549755885175\"}");
    check_vendor("{name: snapchat, vendor: snapchat, pixel_id: snap-pixel-1}");
    check_vendor("{name: reddit, vendor: reddit, pixel_id: a2_nv}");
}

/* The value at a dotted path of root, or NULL. */
static json_t *get_path(json_t *root, const char *path)
{
    json_t *cur = root;
    for (const char *p = path; cur != NULL && *p != '\0';) {
        size_t n = strcspn(p, ".");
        cur = json_object_getn(cur, p, n);
        p += n + (p[n] == '.');
    }
    return cur;
}

/* The warning an auditor reads for a vendor that dead-letters events: Pinterest refuses an event
 * with neither a hashed e-mail nor both the address and the user agent (vendors/pinterest.c),
 * which is every event consent policy strip leaves of a visitor without the required consent. */
static void test_pinterest_stripped_warning(void **state)
{
    (void)state;
    sluice_config_t *cfg = load("    consent: {required: [analytics], policy: strip}\n"
                                "    data_layer:\n"
                                "      hash_fields: [{path: traits.email, normalize: email}, {path: properties.email, "
                                "normalize: email}]\n"
                                "    integrations: [{name: pin, vendor: pinterest, ad_account_id: \"549755885175\", "
                                "consent: marketing}]\n");
    const sluice_org_t *org = &cfg->orgs[0];
    const sluice_integration_t *it = &org->integrations[0];

    /* What really happens: a visitor with marketing consent but not analytics, stripped by the
     * data layer, then Pinterest's mapping. */
    json_t *ev = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{s:[s]}},s:{s:s}}", "type", "track", "event", "Order Completed",
                           "anonymousId", "a-1", "context", "ip", "192.0.2.7", "userAgent", "Mozilla/5.0", "consent",
                           "categories", "marketing", "traits", "email", "jane@example.com");
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), NULL, ev, NULL, &res, &st), 0);
    json_object_set_new(ev, "receivedAt", json_string("2026-11-23T10:00:00.000Z"));
    json_t *env = json_pack("{s:i,s:s,s:s,s:s,s:O}", "v", 1, "org", "o", "source", "web", "receivedAt",
                            "2026-11-23T10:00:00.000Z", "event", ev);
    char *raw = json_dumps(env, JSON_COMPACT);
    sluice_envelope_t e;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&e, raw, strlen(raw), &err), 0);
    sluice_vendor_item_t item = {0};
    char why[256] = "";
    sluice_map_result_t r = sluice_vendor_get(it->vendor)->map(it, &e, e.time_ms + 1000, &item, why, sizeof(why));
    assert_int_equal(r, SLUICE_MAP_DEAD);
    sluice_envelope_dispose(&e);
    sluice_vendor_item_dispose(&item);
    free(raw);
    json_decref(env);
    json_decref(ev);
    sluice_dl_result_dispose(&res);

    json_t *m = sluicectl_datamap_build(cfg, org);
    json_t *w = json_object_get(m, "warnings");
    int warned = 0;
    size_t i;
    json_t *v;
    json_array_foreach(w, i, v) {
        warned |= strncmp(json_string_value(v), "pin: ", 5) == 0 && strstr(json_string_value(v), "dead-letters");
    }
    if (!warned)
        fail_msg("Pinterest dead-letters every stripped event (%s); the map gives no warning", why);
    json_decref(m);
    sluice_config_free(cfg);
}

/* With two required categories an event lacking either is stripped (gateway/datalayer.c), and
 * the worker checks only the integration's own category (vendors/deliver.c): Meta on `analytics`
 * receives, stripped of its user agent, the events of visitors who refused `marketing`, and
 * dead-letters them. The map has to say so. */
static void test_two_required_categories(void **state)
{
    (void)state;
    sluice_config_t *cfg =
        load("    consent: {required: [analytics, marketing], policy: strip}\n"
             "    integrations: [{name: meta, vendor: meta, pixel_id: \"1\", consent: analytics}]\n");
    const sluice_org_t *org = &cfg->orgs[0];
    const sluice_integration_t *it = &org->integrations[0];

    json_t *ev = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{s:[s]}}}", "type", "track", "event", "Order Completed",
                           "anonymousId", "a-1", "context", "ip", "192.0.2.7", "userAgent", "Mozilla/5.0", "consent",
                           "categories", "analytics");
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), NULL, ev, NULL, &res, &st), 0);
    assert_string_equal(json_string_value(json_object_get(res.privacy, "consent")), "stripped");
    /* the category the worker checks for this integration is still there */
    assert_true(has(get_path(ev, "context.consent.categories"), "analytics"));
    json_t *env = json_pack("{s:i,s:s,s:s,s:s,s:O}", "v", 1, "org", "o", "source", "web", "receivedAt",
                            "2026-11-23T10:00:00.000Z", "event", ev);
    char *raw = json_dumps(env, JSON_COMPACT);
    sluice_envelope_t e;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_envelope_parse(&e, raw, strlen(raw), &err), 0);
    sluice_vendor_item_t item = {0};
    char why[256] = "";
    assert_int_equal(sluice_vendor_get(it->vendor)->map(it, &e, e.time_ms + 1000, &item, why, sizeof(why)),
                     SLUICE_MAP_DEAD);
    sluice_envelope_dispose(&e);
    sluice_vendor_item_dispose(&item);
    free(raw);
    json_decref(env);
    json_decref(ev);
    sluice_dl_result_dispose(&res);

    json_t *m = sluicectl_datamap_build(cfg, org);
    json_t *ij = json_array_get(json_object_get(m, "integrations"), 0);
    if (!json_is_true(json_object_get(ij, "sees_stripped")))
        fail_msg("meta receives events stripped for lack of marketing; the map says it never gets stripped events");
    const char *w = json_string_value(json_array_get(json_object_get(m, "warnings"), 0));
    if (w == NULL || strstr(w, "without consent marketing") == NULL)
        fail_msg("meta dead-letters events without marketing consent (%s); the map warns: %s", why, w ? w : "nothing");
    json_decref(m);
    sluice_config_free(cfg);
}

/* What the map says of every field no rule names against the org's real PII guard and the real
 * vendor mappings: a field it says passes is left as sent by the guard, and each integration
 * receives the value the guard leaves exactly when the map lists it. A postal code (a key that
 * names personal data) is what an auditor checks first: GA4 reads traits.zip and
 * traits.address.postalCode as they are. */
static void check_guard(const char *mode)
{
    char part[512];
    snprintf(part, sizeof(part),
             "    data_layer: {pii_guard: {mode: %s}}\n"
             "    integrations: [{name: meta, vendor: meta, pixel_id: \"1\"}, {name: ga4, vendor: ga4, "
             "measurement_id: G-1}]\n",
             mode);
    sluice_config_t *cfg = load(part);
    const sluice_org_t *org = &cfg->orgs[0];
    json_t *m = sluicectl_datamap_build(cfg, org);
    sluice_piiguard_t *g = sluice_piiguard_create(org);
    sluice_piiguard_thread_t *t = sluice_piiguard_thread_create();
    assert_non_null(g);
    assert_non_null(t);
    size_t i, checked = 0;
    json_t *f;
    json_array_foreach(json_object_get(m, "fields"), i, f) {
        const char *path = str(f, "path");
        /* context.vendorIds.ga is GA4's own cookie format, context.location's codes ISO's
         * (test_vendor_table_ga4 checks them) */
        if (strcmp(str(f, "set_by"), "event") != 0 || strchr(path, '[') != NULL ||
            strcmp(path, "context.vendorIds.ga") == 0 || strcmp(path, "context.location.countryCode") == 0 ||
            strcmp(path, "context.location.regionCode") == 0)
            continue;
        json_t *ev = json_pack("{s:s,s:s,s:s}", "type", "track", "event", "Order Completed", "anonymousId", "a-1");
        const char *sent_value = strstr(path, "birthday") ? "1990-01-31" : "90210";
        set_path(ev, path, json_string(sent_value));
        json_t *privacy = json_object();
        sluice_piiguard_stats_t st = {0};
        assert_int_equal(sluice_piiguard_apply(g, t, ev, NULL, privacy, 0, NULL, &st), 0);
        json_t *v = get_path(ev, path);
        assert_true(json_is_string(v));
        const char *got = json_string_value(v);
        if (strcmp(str(f, "action"), "pass") == 0 && strcmp(got, sent_value) != 0)
            fail_msg("pii_guard %s: the map says %s passes as sent; the guard makes it %s", mode, path, got);
        for (size_t k = 0; k < org->integration_count; k++) {
            const sluice_integration_t *it = &org->integrations[k];
            int listed = flow(f, it->name) != NULL;
            char expect[96];
            snprintf(expect, sizeof(expect), "\"%s\"", got);
            int sent = reaches(it, path, got, expect);
            if (listed != sent)
                fail_msg("pii_guard %s: the map says %s %s %s; its mapping %s the guard's value %s", mode, path,
                         listed ? "reaches" : "does not reach", it->name, sent ? "sends" : "does not send", got);
        }
        checked++;
        json_decref(privacy);
        json_decref(ev);
    }
    assert_true(checked >= 10);

    /* Every personal path each vendor reads, with a value of its kind: the integration's table
     * lists the path as sent exactly when the mapping sends what the guard leaves of it. */
    for (size_t k = 0; k < org->integration_count; k++) {
        const sluice_integration_t *it = &org->integrations[k];
        json_t *ij = json_array_get(json_object_get(m, "integrations"), k), *r, *p;
        size_t ri, pi;
        json_array_foreach(json_object_get(ij, "reads"), ri, r) {
            if (!json_is_true(json_object_get(r, "personal")))
                continue;
            json_array_foreach(json_object_get(r, "paths"), pi, p) {
                const char *path = json_string_value(p);
                if (strchr(path, '[') != NULL || strcmp(path, "context.vendorIds.ga") == 0 ||
                    strcmp(path, "context.location.countryCode") == 0 ||
                    strcmp(path, "context.location.regionCode") == 0)
                    continue; /* formats of their own: test_vendor_table_ga4 */
                const char *value = strstr(path, "mail")       ? "jane@example.com"
                                    : strstr(path, "phone")    ? "+15551234567"
                                    : strstr(path, "birthday") ? "1990-01-31"
                                                               : "90210";
                json_t *ev =
                    json_pack("{s:s,s:s,s:s}", "type", "track", "event", "Order Completed", "anonymousId", "a-1");
                set_path(ev, path, json_string(value));
                json_t *privacy = json_object();
                sluice_piiguard_stats_t st = {0};
                assert_int_equal(sluice_piiguard_apply(g, t, ev, NULL, privacy, 0, NULL, &st), 0);
                json_t *v = get_path(ev, path);
                char got[128], expect[160];
                snprintf(got, sizeof(got), "%s", json_is_string(v) ? json_string_value(v) : "");
                snprintf(expect, sizeof(expect), "%s", got); /* Meta's fbc wraps an fbclid: no quotes */
                int sent = got[0] != '\0' && reaches(it, path, got, expect);
                int listed = 0;
                size_t oi;
                json_t *o;
                json_array_foreach(json_object_get(ij, "reads"), oi, o) {
                    listed |= has(json_object_get(o, "sent"), path);
                    /* GA4's params.<name>: the map's row "every other field" says a scalar
                     * property no rule names goes there as sent, digests left out */
                    if (has(json_object_get(o, "paths"), "properties.*") && strncmp(path, "properties.", 11) == 0 &&
                        strchr(path + 11, '.') == NULL && strlen(got) != SLUICE_SHA256_HEX_LEN)
                        listed = 1;
                }
                if (listed != sent)
                    fail_msg("pii_guard %s: %s's table %s %s; its mapping %s what the guard leaves of it (%s)", mode,
                             it->name, listed ? "sends" : "does not send", path, sent ? "sends" : "does not send", got);
                json_decref(privacy);
                json_decref(ev);
            }
        }
    }
    sluice_piiguard_thread_destroy(t);
    sluice_piiguard_destroy(g);
    json_decref(m);
    sluice_config_free(cfg);
}

static void test_guard_mask(void **state)
{
    (void)state;
    check_guard("mask");
}

static void test_guard_hash(void **state)
{
    (void)state;
    check_guard("hash");
}

static void test_guard_report(void **state)
{
    (void)state;
    check_guard("report");
}

/* The read of integration ij that fills vendor field as. */
static json_t *read_as(const json_t *ij, const char *as)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(ij, "reads"), i, r) {
        if (strcmp(str(r, "as"), as) == 0)
            return r;
    }
    return NULL;
}

/* A rule matches the members below the event's own fields without regard to ASCII case
 * (config/path.c): a rule written `traits.Email` hashes the traits.email Meta reads, and one
 * dropping `traits.Address` removes the traits.address.city GA4 reads. The map has to say what
 * the data layer and the vendors' mappings do with those spellings. */
static void test_rule_case_as_the_data_layer(void **state)
{
    (void)state;
    sluice_config_t *cfg =
        load("    data_layer:\n"
             "      hash_fields: [{path: traits.Email, normalize: email}]\n"
             "      drop: [traits.Address]\n"
             "    integrations: [{name: meta, vendor: meta, pixel_id: \"1\"}, {name: ga4, vendor: ga4, "
             "measurement_id: G-1}]\n");
    const sluice_org_t *org = &cfg->orgs[0];
    json_t *m = sluicectl_datamap_build(cfg, org);
    json_t *meta = json_array_get(json_object_get(m, "integrations"), 0);
    json_t *ga4 = json_array_get(json_object_get(m, "integrations"), 1);

    /* What really happens: the data layer, then each vendor's mapping. */
    json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "type", "track", "event", "x", "traits", "email",
                           "jane@example.com", "address", "city", "Springfield");
    sluice_dl_result_t res;
    sluice_dl_stats_t st = {0};
    assert_int_equal(sluice_datalayer_apply(org, sluice_datalayer_variants(org), NULL, ev, NULL, &res, &st), 0);
    const char *email = json_string_value(get_path(ev, "traits.email"));
    assert_non_null(email);
    assert_int_equal(strlen(email), SLUICE_SHA256_HEX_LEN);
    assert_true(reaches(&org->integrations[0], "traits.email", email, email));
    assert_null(get_path(ev, "traits.address.city"));

    if (!has(json_object_get(read_as(meta, "user_data.em"), "sent"), "traits.email"))
        fail_msg("the data layer hashes traits.email (rule traits.Email) and Meta receives it as user_data.em; the map "
                 "says Meta receives no e-mail");
    if (flow(field(m, "traits.Email"), "meta") == NULL)
        fail_msg("the map's row of rule traits.Email says the hashed e-mail reaches no integration; Meta receives it");
    json_t *city = field(m, "traits.address.city");
    if (city != NULL && flow(city, "ga4") != NULL)
        fail_msg("the data layer drops traits.address.city (rule traits.Address); the map says GA4 receives it");
    if (has(json_object_get(read_as(ga4, "user_data.address.city"), "sent"), "traits.address.city"))
        fail_msg("the map's GA4 table sends traits.address.city, which the data layer drops");
    sluice_dl_result_dispose(&res);
    json_decref(ev);
    json_decref(m);
    sluice_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_rule_change),
        cmocka_unit_test(test_click_kept_only_without_a_rule),
        cmocka_unit_test(test_variants_as_written),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_strip_list_is_the_data_layers),
        cmocka_unit_test(test_vendor_table_meta),
        cmocka_unit_test(test_vendor_table_ga4),
        cmocka_unit_test(test_vendor_table_tiktok),
        cmocka_unit_test(test_vendor_table_later_vendors),
        cmocka_unit_test(test_pinterest_stripped_warning),
        cmocka_unit_test(test_two_required_categories),
        cmocka_unit_test(test_guard_mask),
        cmocka_unit_test(test_guard_hash),
        cmocka_unit_test(test_guard_report),
        cmocka_unit_test(test_rule_case_as_the_data_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

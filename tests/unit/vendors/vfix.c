/*
 * The vendors unit-test fixture (see vfix.h). Test thread.
 */
#include "tests/unit/vendors/vfix.h"

#include "json/write.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/envelope.h"

static const char config_yaml[] =
    "version: 1\n"
    "server: {http: {listen: \"127.0.0.1:0\"}}\n"
    "kafka: {brokers: \"127.0.0.1:9\"}\n"
    "orgs:\n"
    "  - id: acme\n"
    "    sources: [{id: web, write_key_env: VFIX_UNSET_KEY}]\n"
    "    integrations:\n"
    "      - {name: meta, vendor: meta, pixel_id: \"1234567890\", base_url: \"https://meta.test\"}\n"
    "      - {name: meta-test, vendor: meta, pixel_id: \"1234567890\", test_event_code: TEST42}\n"
    "      - {name: ga4, vendor: ga4, measurement_id: G-TEST123, base_url: \"https://ga4.test/\"}\n"
    "      - {name: ga4-eea, vendor: ga4, measurement_id: G-TEST123, base_url: \"https://ga4.test/\",\n"
    "         consent: analytics, ad_user_data_consent: marketing}\n"
    "      - {name: tiktok, vendor: tiktok, pixel_code: CABC123, base_url: \"https://tiktok.test\"}\n"
    "      - {name: hook, vendor: webhook, url: \"https://hooks.test/in\", sign: true,\n"
    "         headers: {X-Team: growth}}\n"
    "      - {name: hook1, vendor: webhook, url: \"https://hooks.test/one\", batch: {max_events: 1}}\n"
    "      - {name: gads, vendor: google_ads, customer_id: \"1234567890\", conversion_action: \"987654321\",\n"
    "         login_customer_id: \"1112223334\", base_url: \"https://gads.test\", token_url: "
    "\"https://oauth.test/token\",\n"
    "         consent: marketing}\n"
    "      - {name: pinterest, vendor: pinterest, ad_account_id: \"549755885175\", base_url: "
    "\"https://pinterest.test\"}\n"
    "      - {name: snapchat, vendor: snapchat, pixel_id: 45fd6b2c-pixel, base_url: \"https://snap.test\"}\n"
    "      - {name: linkedin, vendor: linkedin, conversion_id: \"104012\", base_url: \"https://linkedin.test\"}\n"
    "      - {name: reddit, vendor: reddit, pixel_id: a2_test123, base_url: \"https://reddit.test\"}\n";

sluice_config_t *vfix_config(void)
{
    return vfix_config_with(NULL);
}

sluice_config_t *vfix_config_with(const char *more_integrations)
{
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    char name[512];
    snprintf(name, sizeof(name), "%s/tests/unit/vendors/vfix.yaml", getenv("SLUICE_SOURCE_DIR"));
    size_t more = more_integrations != NULL ? strlen(more_integrations) : 0;
    char *yaml = malloc(sizeof(config_yaml) + more);
    assert_non_null(yaml);
    memcpy(yaml, config_yaml, sizeof(config_yaml) - 1);
    if (more > 0)
        memcpy(yaml + sizeof(config_yaml) - 1, more_integrations, more);
    sluice_config_t *cfg =
        sluice_config_load_string(name, yaml, sizeof(config_yaml) - 1 + more, SLUICE_CONFIG_NO_ENV, &diag);
    free(yaml);
    for (size_t i = 0; i < diag.count; i++)
        print_error("%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    assert_non_null(cfg);
    return cfg;
}

const sluice_integration_t *vfix_integration(const sluice_config_t *cfg, const char *name)
{
    const sluice_integration_t *it = sluice_org_find_integration(sluice_config_find_org(cfg, "acme"), name);
    assert_non_null(it);
    return it;
}

char *vfix_read(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/vendors/%s", getenv("SLUICE_SOURCE_DIR"), name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    while (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

char *vfix_envelope(const char *edit_event_json, size_t *len)
{
    char *raw = vfix_read("envelope.json", NULL);
    if (edit_event_json == NULL) {
        if (len != NULL)
            *len = strlen(raw);
        return raw;
    }
    json_t *root = json_loads(raw, 0, NULL), *edit = json_loads(edit_event_json, 0, NULL);
    assert_non_null(root);
    assert_non_null(edit);
    json_object_update(json_object_get(root, "event"), edit);
    json_decref(edit);
    free(raw);
    raw = sluice_json_encode(root, NULL, NULL); /* reals as the gateway writes them: 59.98 */
    json_decref(root);
    if (len != NULL)
        *len = strlen(raw);
    return raw;
}

void vfix_map(const sluice_integration_t *it, const char *raw, size_t len, int64_t now_ms, sluice_map_result_t want,
              sluice_vendor_item_t *item, char *why, size_t why_len)
{
    sluice_envelope_t env;
    sluice_err_t err = {{0}};
    int rc = sluice_envelope_parse(&env, raw, len, &err);
    if (rc != 0)
        print_error("envelope: %s\n", err.msg);
    assert_int_equal(rc, 0);
    const sluice_vendor_ops_t *ops = sluice_vendor_get(it->vendor);
    memset(item, 0, sizeof(*item));
    why[0] = '\0';
    sluice_map_result_t got = ops->map(it, &env, now_ms, item, why, why_len);
    sluice_envelope_dispose(&env);
    if (got != want)
        print_error("map gave %d (%s), wanted %d\n", (int)got, why, (int)want);
    assert_int_equal(got, want);
}

json_t *vfix_build_reference(const sluice_integration_t *it, const json_t *secret)
{
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    free(raw);
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    int rc = sluice_vendor_get(it->vendor)->build(it, secret, NULL, items, 1, VFIX_NOW_MS, &req, &err);
    sluice_vendor_item_dispose(&item);
    if (rc != 0)
        print_error("build: %s\n", err.msg);
    assert_int_equal(rc, 0);
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    sluice_vendor_request_dispose(&req);
    return body;
}

char *vfix_envelope_click(const char *name, const char *value, size_t *len)
{
    char *raw = vfix_read("envelope.json", NULL);
    json_t *root = json_loads(raw, 0, NULL);
    assert_non_null(root);
    free(raw);
    json_t *ids = json_object_get(json_object_get(json_object_get(root, "event"), "context"), "clickIds");
    assert_non_null(ids);
    json_object_set_new(ids, name, json_string(value));
    raw = sluice_json_encode(root, NULL, NULL); /* reals as the gateway writes them: 59.98 */
    json_decref(root);
    if (len != NULL)
        *len = strlen(raw);
    return raw;
}

void vfix_expect_golden(const char *name, const char *body)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/vendors/%s", getenv("SLUICE_SOURCE_DIR"), name);
    if (getenv("VFIX_WRITE_GOLDEN") != NULL) { /* regenerating: read the diff before committing it */
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "%s\n", body);
        fclose(f);
    }
    char *golden = vfix_read(name, NULL);
    if (strcmp(body, golden) != 0)
        print_error("%s differs; the body (VFIX_WRITE_GOLDEN=1 rewrites the file):\n%.900s...\n", name, body);
    assert_string_equal(body, golden);
    free(golden);
}

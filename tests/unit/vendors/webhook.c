/* Tests for vendors/webhook.c: the envelope passed through byte for byte, batches as
 * {"batch":[...]} (golden file), single envelopes with batch.max_events 1, custom headers, and
 * the X-Sluice-Signature over "timestamp.body" checked against an independent HMAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests/unit/vendors/vfix.h"
#include "vendors/vendor.h"

static sluice_config_t *cfg;

static int setup(void **state)
{
    (void)state;
    cfg = vfix_config();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_config_free(cfg);
    return 0;
}

static const char *header(const sluice_vendor_request_t *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->header_count; i++) {
        if (strncmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return r->headers[i] + n + 2;
    }
    return NULL;
}

static void test_signed_batch(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "hook");
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    assert_int_equal(item.body_len, len);
    assert_memory_equal(item.body, raw, len); /* the envelope as it was in Kafka */
    json_t *secret = json_pack("{s:s}", "secret", "whsec-123");
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_webhook.build(it, secret, NULL, items, 1, 1795444970525LL, &req, &err), 0);
    assert_string_equal(req.url, "https://hooks.test/in");
    char *golden = vfix_read("webhook.json", NULL);
    assert_string_equal(req.body, golden);
    free(golden);
    assert_string_equal(header(&req, "Content-Type"), "application/json");
    assert_string_equal(header(&req, "X-Team"), "growth");
    assert_string_equal(header(&req, "X-Sluice-Timestamp"), "1795444970525");
    /* An independent HMAC-SHA256 over "<timestamp>.<body>". */
    char msg[8192];
    int ml = snprintf(msg, sizeof(msg), "1795444970525.%s", req.body);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), "whsec-123", 9, (const unsigned char *)msg, (size_t)ml, mac, &maclen);
    char want[80] = "sha256=";
    for (unsigned i = 0; i < maclen; i++)
        snprintf(want + 7 + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(header(&req, "X-Sluice-Signature"), want);
    sluice_vendor_request_dispose(&req);

    /* sign: true without a secret is refused, never sent unsigned. */
    json_t *empty = json_object();
    assert_int_equal(sluice_vendor_webhook.build(it, empty, NULL, items, 1, 1, &req, &err), -1);
    assert_non_null(strstr(err.msg, "secret"));
    json_decref(empty);
    sluice_vendor_item_dispose(&item);
    json_decref(secret);
    free(raw);
}

static void test_single_unsigned(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    const sluice_integration_t *it = vfix_integration(cfg, "hook1");
    assert_int_equal(sluice_vendor_webhook.needs_secret(it), 0);
    assert_int_equal(sluice_vendor_webhook.needs_secret(vfix_integration(cfg, "hook")), 1);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_webhook.build(it, NULL, NULL, items, 1, VFIX_NOW_MS, &req, &err), 0);
    assert_string_equal(req.body, raw); /* batch.max_events 1: the bare envelope */
    assert_null(header(&req, "X-Sluice-Signature"));
    assert_null(header(&req, "X-Sluice-Timestamp"));
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    free(raw);
}

static void test_every_type_passes(void **state)
{
    (void)state;
    size_t len;
    char *raw = vfix_envelope("{\"type\":\"identify\",\"traits\":{\"plan\":\"pro\"}}", &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(vfix_integration(cfg, "hook"), raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    sluice_vendor_item_dispose(&item);
    free(raw);
}

static size_t count_header(const sluice_vendor_request_t *r, const char *name)
{
    size_t n = strlen(name), k = 0;
    for (size_t i = 0; i < r->header_count; i++)
        k += strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':';
    return k;
}

/* The request a webhook integration of more_integrations (one, named "h") makes of the reference
 * envelope, unsigned. */
static void build_hook(const char *more, sluice_config_t **c, sluice_vendor_request_t *req)
{
    *c = vfix_config_with(more);
    const sluice_integration_t *it = vfix_integration(*c, "h");
    size_t len;
    char *raw = vfix_envelope(NULL, &len);
    sluice_vendor_item_t item;
    char why[256];
    vfix_map(it, raw, len, VFIX_NOW_MS, SLUICE_MAP_OK, &item, why, sizeof(why));
    const sluice_vendor_item_t *items[1] = {&item};
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_vendor_webhook.build(it, NULL, NULL, items, 1, VFIX_NOW_MS, req, &err), 0);
    sluice_vendor_item_dispose(&item);
    free(raw);
}

/* A configured Content-Type (a receiver that wants CloudEvents) was sent after sluice's own
 * application/json: two Content-Type headers, and a receiver reading the first (Go's
 * Header.Get) never saw the operator's. It replaces the default now, whatever its case. */
static void test_own_content_type(void **state)
{
    (void)state;
    sluice_config_t *c;
    sluice_vendor_request_t req;
    build_hook("      - {name: h, vendor: webhook, url: \"https://hooks.test/ce\",\n"
               "         headers: {content-type: application/cloudevents-batch+json, X-Team: growth}}\n",
               &c, &req);
    assert_int_equal(count_header(&req, "Content-Type"), 1);
    assert_string_equal(header(&req, "content-type"), "application/cloudevents-batch+json");
    assert_string_equal(header(&req, "X-Team"), "growth");
    sluice_vendor_request_dispose(&req);
    sluice_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_batch),
        cmocka_unit_test(test_single_unsigned),
        cmocka_unit_test(test_every_type_passes),
        cmocka_unit_test(test_own_content_type),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Webhook: any HTTPS (or HTTP) URL gets the envelopes as they are in Kafka. With
 * batch.max_events 1 the body is one envelope; otherwise {"batch":[envelope,...]}. Custom
 * headers from the config; with `sign: true`, the vault secret {"secret":...} signs each request:
 *   X-Sluice-Timestamp: <unix milliseconds>
 *   X-Sluice-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 * (the same scheme as the gateway's signed /v1/events). Reentrant; the loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/ct.h"
#include "crypto/hash.h"
#include "common/hex.h"
#include "vendors/vendor.h"

static const char *const secret_optional[] = {"secret", NULL};

static const sluice_vendor_option_t options[] = {
    {.name = "url", .type = SLUICE_VOPT_STRING, .required = 1, .check = sluice_config_check_http_url},
    {.name = "headers",
     .type = SLUICE_VOPT_HEADERS,
     .inline_hint = "webhook credentials live in the vault (sluicectl vault put) and requests are signed with "
                    "'sign: true'"},
    {.name = "sign", .type = SLUICE_VOPT_BOOL, .def = "false"},
    {.name = "secret", .secret = 1, .key_only = 1}, /* the HMAC key: never in a header */
    {.name = NULL},
};

static int needs_secret(const sluice_integration_t *it)
{
    return sluice_vendor_opt_bool(it, "sign");
}

static sluice_map_result_t map(const sluice_integration_t *it, const sluice_envelope_t *e, int64_t now_ms,
                               sluice_vendor_item_t *out, char *why, size_t why_len)
{
    (void)it;
    (void)now_ms;
    memset(out, 0, sizeof(*out));
    out->body = malloc(e->raw_len + 1);
    if (out->body == NULL) {
        snprintf(why, why_len, "out of memory");
        return SLUICE_MAP_DEAD;
    }
    memcpy(out->body, e->raw, e->raw_len);
    out->body[e->raw_len] = '\0';
    out->body_len = e->raw_len;
    return SLUICE_MAP_OK;
}

static int build(const sluice_integration_t *it, const json_t *secret, const char *group,
                 const sluice_vendor_item_t *const *items, size_t n, int64_t now_ms, sluice_vendor_request_t *out,
                 sluice_err_t *err)
{
    (void)group;
    memset(out, 0, sizeof(*out));
    out->url = strdup(sluice_vendor_opt(it, "url"));
    if (out->url == NULL)
        goto oom;
    int rc = it->batch_max_events == 1 && n == 1
                 ? sluice_vendor_join("", items, 1, "", &out->body, &out->body_len)
                 : sluice_vendor_join("{\"batch\":[", items, n, "]}", &out->body, &out->body_len);
    if (rc != 0)
        goto oom;
    size_t header_count;
    const sluice_kv_t *headers = sluice_vendor_opt_headers(it, "headers", &header_count);
    /* A configured Content-Type (application/cloudevents-batch+json, say) replaces the default:
     * added to it, the receiver got two, and one taking the first never saw the operator's. */
    int own_type = 0;
    for (size_t i = 0; i < header_count; i++)
        own_type |= strcasecmp(headers[i].key, "Content-Type") == 0;
    if (!own_type && sluice_vendor_request_header(out, "Content-Type", "application/json") != 0)
        goto oom;
    /* The config holds at most SLUICE_VENDOR_MAX_OPT_HEADERS: all of them are sent. */
    for (size_t i = 0; i < header_count; i++) {
        if (sluice_vendor_request_header(out, headers[i].key, headers[i].value) != 0)
            goto oom;
    }
    if (sluice_vendor_opt_bool(it, "sign")) {
        const char *key = json_string_value(json_object_get(secret, "secret"));
        if (key == NULL) {
            sluice_vendor_request_dispose(out);
            return sluice_err_set(err, "webhook: sign is on but the vault secret has no 'secret'");
        }
        char ts[32];
        int tl = snprintf(ts, sizeof(ts), "%" PRId64 ".", now_ms);
        uint8_t mac[SLUICE_SHA256_LEN];
        char hex[2 * SLUICE_SHA256_LEN + 1], sig[2 * SLUICE_SHA256_LEN + 8];
        if (sluice_hmac_sha256_2(key, strlen(key), ts, (size_t)tl, out->body, out->body_len, mac) != 0) {
            sluice_vendor_request_dispose(out);
            return sluice_err_set(err, "webhook: HMAC-SHA256 failed");
        }
        sluice_hex_encode(mac, sizeof(mac), hex, sizeof(hex));
        sluice_secure_zero(mac, sizeof(mac));
        snprintf(sig, sizeof(sig), "sha256=%s", hex);
        ts[tl - 1] = '\0'; /* drop the "." that joined it to the body */
        if (sluice_vendor_request_header(out, "X-Sluice-Timestamp", ts) != 0 ||
            sluice_vendor_request_header(out, "X-Sluice-Signature", sig) != 0)
            goto oom;
    }
    return 0;
oom:
    sluice_vendor_request_dispose(out);
    return sluice_err_set(err, "webhook: out of memory building a request");
}

static sluice_verdict_t classify(long status, const char *body, size_t len, char *why, size_t why_len)
{
    (void)body;
    (void)len;
    return sluice_vendor_classify_http(status, why, why_len);
}

const sluice_vendor_ops_t sluice_vendor_webhook = {
    .name = "webhook",
    .kind = SLUICE_VENDOR_WEBHOOK,
    .secret_required = NULL,
    .secret_optional = secret_optional,
    .needs_secret = needs_secret,
    .map = map,
    .build = build,
    .classify = classify,
    .request_overhead = 16,
    .options = options,
    .batch_events = 100,
    .batch_events_max = 10000,
    .batch_bytes = 1000000,
    .batch_bytes_max = 10000000,
    .fields_root = "event",
};

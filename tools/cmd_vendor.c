/*
 * `sluicectl vendor check VENDOR --config F --org O [--integration N] [--send]`: maps a sample
 * event the way the worker would, with the integration's real credentials from the vault (an
 * OAuth2 vendor's access token fetched first, as the worker does), and posts it to the vendor's
 * validation mode, which records nothing: GA4's /debug/mp/collect (its validationMessages are
 * printed), Google Ads' validateOnly, Pinterest's ?test=true, Snapchat's events/validate,
 * Reddit's test_id. A vendor without one (Meta, TikTok, LinkedIn, webhooks) is checked only with
 * --send, which posts the sample as a real event. Main thread; blocking HTTPS requests (TLS
 * verification on, the config's delivery.ca_file when set).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/err.h"
#include "common/time.h"
#include "config/config.h"
#include "crypto/ct.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "tools/commands.h"
#include "vendors/credcache.h"
#include "vendors/envelope.h"
#include "vendors/ga4.h"
#include "vendors/vault.h"
#include "vendors/vendor.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluicectl vendor check VENDOR --config FILE --org O [--integration NAME] [--send]\n"
            "\n"
            "Sends a sample purchase, mapped as sluice-deliver maps events and authenticated with the\n"
            "integration's vault credentials, to the vendor's validation mode, which records nothing:\n"
            "ga4 {base_url}/debug/mp/collect (prints GA4's validation messages), google_ads validateOnly,\n"
            "pinterest ?test=true, snapchat events/validate, reddit test_id. Vendors without one (%s)\n"
            "need --send, which posts the sample as a real event. Exit status 0 when the vendor accepts\n"
            "it, 1 otherwise. Needs ENCRYPTION_KEY (and SLUICE_KEYRING for older keys) to open the vault.\n"
            "VENDOR: %s\n",
            "meta, tiktok, linkedin, webhook", sluice_vendor_names());
}

static const char *or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

typedef struct buf {
    char *p;
    size_t len;
} buf_t;

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t add = size * n;
    if (b->len + add > 1024 * 1024)
        return 0;
    char *np = realloc(b->p, b->len + add + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static const sluice_integration_t *pick(const sluice_org_t *org, sluice_vendor_kind_t kind, const char *name)
{
    const sluice_integration_t *found = NULL;
    for (size_t i = 0; i < org->integration_count; i++) {
        const sluice_integration_t *it = &org->integrations[i];
        if (it->vendor != kind)
            continue;
        if (name != NULL ? strcmp(it->name, name) == 0 : found == NULL)
            found = it;
        else if (name == NULL)
            return NULL; /* several: the caller must name one */
    }
    return found;
}

/* SHA-256 of "sluicectl-check@example.com": vendors that match on a person need one. */
#define SAMPLE_EMAIL_HASH "bfbaccdd39cd90f71681eb93cea1354e2a00a44a035ba333895eb8e3c238a8b3"

typedef struct answer {
    long status;
    char *body;
    size_t len;
} answer_t;

/* One blocking POST of r. Returns 0 with the answer, or -1 with curl's reason in err. */
static int post(const sluice_config_t *cfg, const sluice_vendor_request_t *r, unsigned timeout_ms, answer_t *a,
                sluice_err_t *err)
{
    buf_t body = {0};
    CURL *c = curl_easy_init();
    if (c == NULL)
        return sluice_err_set(err, "curl_easy_init failed");
    struct curl_slist *hl = NULL;
    for (size_t i = 0; i < r->header_count; i++)
        hl = curl_slist_append(hl, r->headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->delivery.ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->delivery.ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(c);
    a->status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        free(body.p);
        return sluice_err_set(err, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
    a->body = body.p;
    a->len = body.len;
    return 0;
}

/* An OAuth2 vendor's access token, fetched as the worker does, added to secret. */
static int add_token(const sluice_config_t *cfg, const sluice_vendor_ops_t *ops, const sluice_integration_t *it,
                     json_t *secret, sluice_err_t *err)
{
    sluice_vendor_request_t req;
    if (ops->token_request(it, secret, &req, err) != 0)
        return -1;
    answer_t a = {0};
    int rc = post(cfg, &req, it->timeout_ms, &a, err);
    sluice_secure_zero(req.body, req.body_len);
    sluice_vendor_request_dispose(&req);
    if (rc != 0)
        return -1;
    char why[256], *token = NULL;
    int64_t ttl;
    sluice_verdict_t v = ops->token_parse(a.status, a.body ? a.body : "", a.len, &token, &ttl, why, sizeof(why));
    if (a.body != NULL)
        sluice_secure_zero(a.body, a.len);
    free(a.body);
    if (v != SLUICE_VERDICT_OK)
        return sluice_err_set(err, "%s", why);
    json_object_set_new(secret, "access_token", json_string(token));
    sluice_secure_zero(token, strlen(token));
    free(token);
    return 0;
}

/* The sample: a purchase from an anonymous visitor, stamped now. */
static char *sample_envelope(const char *org)
{
    char id[37], anon[37], when[40];
    if (sluice_uuid_v4(id) != 0 || sluice_uuid_v4(anon) != 0)
        return NULL;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    json_t *env = json_pack("{s:i,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:f,s:s,s:[{s:s,s:s,s:f,s:i}]},"
                            "s:{s:{s:s,s:s},s:s,s:s,s:{s:s}}}}",
                            "v", 1, "org", org, "source", "sluicectl", "receivedAt", when, "event", "type", "track",
                            "event", "Order Completed", "messageId", id, "anonymousId", anon, "timestamp", when,
                            "properties", "order_id", "sluicectl-check", "value", 1.0, "currency", "EUR", "products",
                            "product_id", "check-1", "name", "Validation sample", "price", 1.0, "quantity", 1,
                            "context", "page", "url", "https://example.com/checkout", "title", "Checkout", "userAgent",
                            "sluicectl vendor check", "ip", "192.0.2.10", "traits", "email", SAMPLE_EMAIL_HASH);
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    return s;
}

int sluicectl_cmd_vendor(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "check") != 0) {
        usage(stderr);
        return 2;
    }
    const sluice_vendor_ops_t *ops = sluice_vendor_find(argv[2]);
    if (ops == NULL) {
        fprintf(stderr, "sluicectl vendor check: unknown vendor '%s' (one of: %s)\n", argv[2], sluice_vendor_names());
        return 2;
    }
    int is_ga4 = ops == &sluice_vendor_ga4, send = 0;
    const char *config = NULL, *org_id = NULL, *name = NULL;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--send") == 0) {
            send = 1;
            continue;
        }
        const char **slot = strcmp(argv[i], "--config") == 0        ? &config
                            : strcmp(argv[i], "--org") == 0         ? &org_id
                            : strcmp(argv[i], "--integration") == 0 ? &name
                                                                    : NULL;
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "sluicectl vendor: unknown or incomplete option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    if (config == NULL || org_id == NULL) {
        usage(stderr);
        return 2;
    }
    if (!is_ga4 && ops->build_check == NULL && !send) {
        fprintf(stderr, "sluicectl vendor check: %s has no validation mode; --send posts the sample as a real event\n",
                ops->name);
        return 2;
    }
    sluice_secret_allocator_install();
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_env(&err);
    if (kr == NULL) {
        fprintf(stderr, "sluicectl vendor: %s\n", err.msg);
        return 1;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);

    int rc = 1;
    sluice_vault_t *v = NULL;
    char *secret = NULL, *raw = NULL;
    size_t secret_len = 0;
    json_t *parsed = NULL, *answer = NULL;
    sluice_envelope_t env = {0};
    sluice_vendor_item_t item = {0};
    sluice_vendor_request_t req = {0};
    answer_t got = {0};
    if (cfg == NULL)
        goto out;
    const sluice_org_t *org = sluice_config_find_org(cfg, org_id);
    const sluice_integration_t *it = org ? pick(org, ops->kind, name) : NULL;
    if (it == NULL) {
        fprintf(stderr, "sluicectl vendor check: %s%s%s\n",
                org == NULL ? "no such org in the config"
                : name      ? "the org has no integration of that name for "
                            : "the org has no integration, or several (name one with --integration), for ",
                org == NULL ? "" : "vendor ", org == NULL ? "" : ops->name);
        goto out;
    }
    char who[96];
    snprintf(who, sizeof(who), "%s (sluicectl vendor check)", or_dash(getenv("USER")));
    if ((v = sluice_vault_open(cfg->database.url, kr, who, &err)) == NULL ||
        sluice_vault_get(v, org->id, it->credentials, ops->name, &secret, &secret_len, &err) != SLUICE_VAULT_OK) {
        fprintf(stderr, "sluicectl vendor check: %s\n", err.msg);
        goto out;
    }
    parsed = json_loadb(secret, secret_len, 0, NULL);
    raw = sample_envelope(org->id);
    if (parsed == NULL || raw == NULL || sluice_envelope_parse(&env, raw, strlen(raw), &err) != 0) {
        fprintf(stderr, "sluicectl vendor check: cannot build the sample (%s)\n",
                parsed == NULL ? "the stored secret is not JSON" : err.msg);
        goto out;
    }
    char why[256];
    if (sluice_vendor_map(ops, it, &env, sluice_now_ms(), &item, why, sizeof(why)) != SLUICE_MAP_OK) {
        fprintf(stderr, "sluicectl vendor check: the sample does not map%s%s\n", why[0] ? ": " : "", why);
        goto out;
    }
    if (ops->token_request != NULL && add_token(cfg, ops, it, parsed, &err) != 0) {
        fprintf(stderr, "sluicectl vendor check: %s\n", err.msg);
        goto out;
    }
    const sluice_vendor_item_t *items[1] = {&item};
    int built = is_ga4 ? sluice_ga4_build_debug(it, parsed, item.group, items, 1, &req, &err)
                : ops->build_check != NULL && !send
                    ? ops->build_check(it, parsed, item.group, items, 1, sluice_now_ms(), &req, &err)
                    : ops->build(it, parsed, item.group, items, 1, sluice_now_ms(), &req, &err);
    if (built != 0) {
        fprintf(stderr, "sluicectl vendor check: %s\n", err.msg);
        goto out;
    }
    if (post(cfg, &req, it->timeout_ms, &got, &err) != 0) {
        fprintf(stderr, "sluicectl vendor check: %s\n", err.msg);
        goto out;
    }
    if (!is_ga4) {
        sluice_verdict_t verdict = ops->classify(got.status, got.body ? got.body : "", got.len, why, sizeof(why));
        if (verdict != SLUICE_VERDICT_OK) {
            fprintf(stderr, "sluicectl vendor check: %s refused the sample: %s\n", ops->name, why);
            goto out;
        }
        printf("ok: %s integration '%s' of org '%s': %s\n", ops->name, it->name, org->id,
               send ? "the sample was accepted (sent as a real event)" : "the sample passes the vendor's validation");
        rc = 0;
        goto out;
    }
    if (got.status < 200 || got.status >= 300) {
        fprintf(stderr, "sluicectl vendor check: the validation endpoint refused the request\n  HTTP %ld\n",
                got.status);
        goto out;
    }
    answer = json_loadb(got.body ? got.body : "", got.len, 0, NULL);
    json_t *msgs = json_object_get(answer, "validationMessages");
    if (!json_is_array(msgs)) {
        fprintf(stderr, "sluicectl vendor check: the answer has no validationMessages\n");
        goto out;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        printf("%s: %s (%s)\n", or_dash(json_string_value(json_object_get(m, "fieldPath"))),
               or_dash(json_string_value(json_object_get(m, "description"))),
               or_dash(json_string_value(json_object_get(m, "validationCode"))));
    }
    if (json_array_size(msgs) == 0)
        printf("ok: ga4 integration '%s' of org '%s': the sample event passes GA4's validation\n", it->name, org->id);
    rc = json_array_size(msgs) == 0 ? 0 : 1;
out:
    free(got.body);
    json_decref(answer);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    sluice_envelope_dispose(&env);
    free(raw);
    if (parsed != NULL) {
        json_t *tok = json_object_get(parsed, "access_token");
        if (json_is_string(tok))
            sluice_secure_zero((char *)json_string_value(tok), json_string_length(tok));
    }
    json_decref(parsed);
    sluice_vault_free_secret(secret, secret_len);
    sluice_vault_close(v);
    sluice_config_free(cfg);
    sluice_keyring_free(kr);
    return rc;
}

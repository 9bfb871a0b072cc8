/*
 * `sluicectl vendor check ga4 --config F --org O [--integration N]`: maps a sample event the way
 * the worker would, with the integration's real credentials from the vault, and posts it to
 * GA4's validation endpoint (/debug/mp/collect, which records nothing); prints GA4's
 * validationMessages. Main thread; one blocking HTTPS request (TLS verification on, the
 * config's delivery.ca_file when set).
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
    fprintf(out, "usage: sluicectl vendor check ga4 --config FILE --org O [--integration NAME]\n"
                 "\n"
                 "Sends a sample purchase, mapped as sluice-deliver maps events and signed with the integration's\n"
                 "vault credentials, to GA4's validation endpoint ({base_url}/debug/mp/collect, which records\n"
                 "nothing) and prints GA4's validation messages. Exit status 0 when there are none, 1 otherwise.\n"
                 "Needs ENCRYPTION_KEY (and SLUICE_KEYRING for older keys) to open the vault.\n");
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

static const sluice_integration_t *pick(const sluice_org_t *org, const char *name)
{
    const sluice_integration_t *found = NULL;
    for (size_t i = 0; i < org->integration_count; i++) {
        const sluice_integration_t *it = &org->integrations[i];
        if (it->vendor != SLUICE_VENDOR_GA4)
            continue;
        if (name != NULL ? strcmp(it->name, name) == 0 : found == NULL)
            found = it;
        else if (name == NULL)
            return NULL; /* several: the caller must name one */
    }
    return found;
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
    json_t *env =
        json_pack("{s:i,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:f,s:s,s:[{s:s,s:s,s:f,s:i}]},"
                  "s:{s:{s:s,s:s},s:s}}}",
                  "v", 1, "org", org, "source", "sluicectl", "receivedAt", when, "event", "type", "track", "event",
                  "Order Completed", "messageId", id, "anonymousId", anon, "timestamp", when, "properties", "order_id",
                  "sluicectl-check", "value", 1.0, "currency", "EUR", "products", "product_id", "check-1", "name",
                  "Validation sample", "price", 1.0, "quantity", 1, "context", "page", "url",
                  "https://example.com/checkout", "title", "Checkout", "userAgent", "sluicectl vendor check");
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
    if (strcmp(argv[2], "ga4") != 0) {
        fprintf(stderr, "sluicectl vendor check: only ga4 has a validation endpoint (got '%s')\n", argv[2]);
        return 2;
    }
    const char *config = NULL, *org_id = NULL, *name = NULL;
    for (int i = 3; i < argc; i++) {
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
    buf_t body = {0};
    if (cfg == NULL)
        goto out;
    const sluice_org_t *org = sluice_config_find_org(cfg, org_id);
    const sluice_integration_t *it = org ? pick(org, name) : NULL;
    if (it == NULL) {
        fprintf(stderr, "sluicectl vendor check: %s\n",
                org == NULL ? "no such org in the config"
                : name      ? "the org has no ga4 integration of that name"
                            : "the org has no ga4 integration, or several (name one with --integration)");
        goto out;
    }
    char who[96];
    snprintf(who, sizeof(who), "%s (sluicectl vendor check)", or_dash(getenv("USER")));
    if ((v = sluice_vault_open(cfg->database.url, kr, who, &err)) == NULL ||
        sluice_vault_get(v, org->id, it->credentials, "ga4", &secret, &secret_len, &err) != SLUICE_VAULT_OK) {
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
    if (sluice_vendor_ga4.map(it, &env, sluice_now_ms(), &item, why, sizeof(why)) != SLUICE_MAP_OK) {
        fprintf(stderr, "sluicectl vendor check: the sample does not map: %s\n", why);
        goto out;
    }
    const sluice_vendor_item_t *items[1] = {&item};
    if (sluice_ga4_build_debug(it, parsed, item.group, items, 1, &req, &err) != 0) {
        fprintf(stderr, "sluicectl vendor check: %s\n", err.msg);
        goto out;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (size_t i = 0; i < req.header_count; i++)
        hl = curl_slist_append(hl, req.headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, req.url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req.body_len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)it->timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->delivery.ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->delivery.ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK || status < 200 || status >= 300) {
        fprintf(stderr, "sluicectl vendor check: %s\n",
                cc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(cc))
                               : "the validation endpoint refused the request");
        if (cc == CURLE_OK)
            fprintf(stderr, "  HTTP %ld\n", status);
        goto out;
    }
    answer = json_loadb(body.p ? body.p : "", body.len, 0, NULL);
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
    free(body.p);
    json_decref(answer);
    sluice_vendor_request_dispose(&req);
    sluice_vendor_item_dispose(&item);
    sluice_envelope_dispose(&env);
    free(raw);
    json_decref(parsed);
    sluice_vault_free_secret(secret, secret_len);
    sluice_vault_close(v);
    sluice_config_free(cfg);
    sluice_keyring_free(kr);
    return rc;
}

/*
 * Built-in mask plugin `hmac`: replaces a value by a keyed pseudonym,
 *     prefix ‖ hex(HMAC-SHA256(key, org ‖ 0x00 ‖ normalised value)),
 * with the key read from the environment variable the rule names (`key_env: VAR`). The same
 * value gives the same pseudonym everywhere in one org, so events stay joinable; the org id
 * inside the MAC keeps pseudonyms of two orgs apart even if an operator gave them the same
 * key (the Immuta rule: no join across orgs). Optional normalisation first: `trim` (ASCII
 * white space at both ends) and `lowercase` (ASCII letters).
 *
 * Strings, numbers and booleans are hashed as their text; null is left as it is; objects and
 * arrays are refused (EINVAL: removed, fail closed).
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h> and OpenSSL's libcrypto. The
 * instance (a keyed MAC template) is immutable after create; each mask call duplicates it, so
 * every event-loop thread may call mask at once.
 */
#include <sluice/mask_plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define KEY_MIN    16
#define PREFIX_MAX 64
#define MAC_LEN    32

typedef struct hmac_inst {
    const sluice_mask_host_t *host;
    EVP_MAC_CTX *tmpl; /* keyed HMAC-SHA256, never used directly: duplicated per call */
    int lowercase, trim;
    size_t prefix_len;
    char prefix[PREFIX_MAX + 1];
} hmac_inst_t;

static const sluice_mask_config_entry_t config[] = {
    {"key", SLUICE_MASK_CONF_STRING, SLUICE_MASK_CONF_REQUIRED | SLUICE_MASK_CONF_SECRET, NULL,
     "HMAC key, at least 16 bytes, given as key_env: VAR (e.g. the output of `openssl rand -hex 32`)"},
    {"prefix", SLUICE_MASK_CONF_STRING, 0, "\"\"", "text put before the hex digest (up to 64 bytes)"},
    {"lowercase", SLUICE_MASK_CONF_BOOL, 0, "false", "lowercase ASCII letters before hashing"},
    {"trim", SLUICE_MASK_CONF_BOOL, 0, "false", "strip ASCII white space at both ends before hashing"},
    {0},
};

static EVP_MAC_CTX *keyed_template(const void *key, size_t klen)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    if (ctx == NULL)
        return NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, key, klen, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* hex(HMAC(tmpl's key, a[0..alen) ‖ 0x00 ‖ normalised v[0..n))) + NUL into hex. */
static int mac_hex(EVP_MAC_CTX *tmpl, int lowercase, int trim, const char *a, size_t alen, const char *v, size_t n,
                   char hex[2 * MAC_LEN + 1])
{
    if (trim) {
        while (n > 0 && is_space((unsigned char)v[0]))
            v++, n--;
        while (n > 0 && is_space((unsigned char)v[n - 1]))
            n--;
    }
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(tmpl);
    if (ctx == NULL)
        return SLUICE_MASK_ENOMEM;
    int ok = (alen == 0 || EVP_MAC_update(ctx, (const unsigned char *)a, alen) == 1) &&
             EVP_MAC_update(ctx, (const unsigned char *)"", 1) == 1;
    /* Lowercasing goes through a small buffer in chunks: no allocation per value. */
    unsigned char chunk[256];
    for (size_t off = 0; ok && off < n;) {
        size_t len = n - off < sizeof(chunk) ? n - off : sizeof(chunk);
        const unsigned char *p = (const unsigned char *)v + off;
        if (lowercase) {
            for (size_t i = 0; i < len; i++)
                chunk[i] = (unsigned char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + ('a' - 'A') : p[i]);
            p = chunk;
        }
        ok = EVP_MAC_update(ctx, p, len) == 1;
        off += len;
    }
    unsigned char mac[MAC_LEN];
    size_t mac_len = 0;
    ok = ok && EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) == 1 && mac_len == MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    if (!ok)
        return SLUICE_MASK_EINTERNAL;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < MAC_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[2 * MAC_LEN] = '\0';
    return SLUICE_MASK_OK;
}

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    const char *key = NULL, *prefix = NULL;
    size_t klen = 0, plen = 0;
    int lowercase = 0, trim = 0;
    if (host->config_string(cfg, "key", &key, &klen) != 1 || host->config_string(cfg, "prefix", &prefix, &plen) != 1 ||
        host->config_bool(cfg, "lowercase", &lowercase) != 1 || host->config_bool(cfg, "trim", &trim) != 1) {
        snprintf(err, err_len, "a parameter has no value");
        return SLUICE_MASK_ECONFIG;
    }
    if (klen < KEY_MIN) {
        snprintf(err, err_len, "the key is %zu bytes; an HMAC key needs at least %d", klen, KEY_MIN);
        return SLUICE_MASK_ECONFIG;
    }
    if (plen > PREFIX_MAX) {
        snprintf(err, err_len, "prefix is longer than %d bytes", PREFIX_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    hmac_inst_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    h->host = host;
    h->lowercase = lowercase;
    h->trim = trim;
    memcpy(h->prefix, prefix, plen);
    h->prefix_len = plen;
    h->tmpl = keyed_template(key, klen);
    if (h->tmpl == NULL) {
        free(h);
        snprintf(err, err_len, "HMAC-SHA256 is not available from the crypto library");
        return SLUICE_MASK_EINTERNAL;
    }
    *instance = h;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    hmac_inst_t *h = instance;
    if (h == NULL)
        return;
    EVP_MAC_CTX_free(h->tmpl); /* cleanses the key schedule */
    free(h);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const hmac_inst_t *h = instance;
    switch (in->type) {
    case SLUICE_MASK_JSON_STRING:
    case SLUICE_MASK_JSON_NUMBER:
    case SLUICE_MASK_JSON_BOOL: break;
    case SLUICE_MASK_JSON_NULL: return SLUICE_MASK_UNCHANGED;
    default: return SLUICE_MASK_EINVAL;
    }
    char hex[2 * MAC_LEN + 1];
    int rc = mac_hex(h->tmpl, h->lowercase, h->trim, in->org, in->org_len, in->value, in->value_len, hex);
    if (rc == SLUICE_MASK_OK && h->prefix_len > 0)
        rc = h->host->append(out, h->prefix, h->prefix_len);
    return rc == SLUICE_MASK_OK ? h->host->append(out, hex, 2 * MAC_LEN) : rc;
}

/* Known answers of the whole construction (computed independently with Python's hmac module)
 * under a fixed test key, with and without normalisation, and for a second org. */
static int selftest(void *instance, char *err, size_t err_len)
{
    (void)instance;
    static const char key[] = "sluice-hmac-selftest-key";
    static const struct {
        const char *org, *value;
        int lowercase, trim;
        const char *want;
    } cases[] = {
        {"acme", " Jane.Doe@Example.COM ", 1, 1, "9e78a3d0c1230b909ebc7579b645ddb797912c086a511cbf84d66dd3f5fda9ef"},
        {"acme", " Jane.Doe@Example.COM ", 0, 0, "d5da8bff74c90d04c03fc0954d00eb3abfd461f837a08f887929e5d1d8fbe91f"},
        {"globex", "jane.doe@example.com", 0, 0, "d8499fd5cedc69f3586958ac7d11b60872c58317634a2508621899740d2deba0"},
    };
    EVP_MAC_CTX *tmpl = keyed_template(key, sizeof(key) - 1);
    if (tmpl == NULL) {
        snprintf(err, err_len, "HMAC-SHA256 is not available from the crypto library");
        return SLUICE_MASK_EINTERNAL;
    }
    int rc = SLUICE_MASK_OK;
    for (size_t i = 0; rc == SLUICE_MASK_OK && i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hex[2 * MAC_LEN + 1];
        if (mac_hex(tmpl, cases[i].lowercase, cases[i].trim, cases[i].org, strlen(cases[i].org), cases[i].value,
                    strlen(cases[i].value), hex) != SLUICE_MASK_OK ||
            strcmp(hex, cases[i].want) != 0) {
            snprintf(err, err_len, "known answer %zu differs", i + 1);
            rc = SLUICE_MASK_EINTERNAL;
        }
    }
    EVP_MAC_CTX_free(tmpl);
    return rc;
}

SLUICE_MASK_PLUGIN(.name = "hmac", .version = "1.0.0",
                   .description = "replaces a value by a keyed HMAC-SHA256 pseudonym (hex), joinable inside one org",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC, .create = create, .destroy = destroy,
                   .mask = mask, .selftest = selftest);

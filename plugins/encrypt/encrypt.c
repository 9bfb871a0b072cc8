/*
 * Built-in mask plugin `encrypt`: replaces a value by
 *     "enc:v1:" base64url(kid ‖ nonce ‖ AES-256-GCM ciphertext ‖ tag)
 * sealed by the host's key ring (host->seal: the primary key, a fresh random nonce; the plugin
 * never sees a key). The plaintext is one type byte ('s' for a string, whose contents follow;
 * 'j' for any other JSON value, whose text follows) so `sluicectl unmask` gives back exactly
 * what came in. The AAD binds the org and the rule's path,
 *     org ‖ 0x00 ‖ rule path (as configured, e.g. "properties.items[*].card"),
 * so a value copied into another org's events or another field does not open; every element
 * an array rule reaches shares its rule path, so unmask needs only the rule path.
 *
 * Not deterministic (random nonces): equal values give different ciphertexts, so encrypted
 * fields cannot be joined or counted; use `hmac` for that. null is left as it is.
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h>. The instance is immutable
 * after create; every mask call works in its own buffer, so all event-loop threads may call it.
 */
#include <sluice/mask_plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX     "enc:v1:"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

typedef struct encrypt_inst {
    const sluice_mask_host_t *host;
    const sluice_mask_handle_t *self;
} encrypt_t;

static size_t b64url_len(size_t n)
{
    return (4 * n + 2) / 3;
}

/* base64url without padding (RFC 4648 section 5) of in[0..n) into out (b64url_len(n) bytes). */
static void b64url(const uint8_t *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
    }
}

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)cfg;
    uint8_t probe[SLUICE_MASK_SEAL_OVERHEAD];
    size_t probe_len = 0;
    int rc = host->seal(self, "", 0, "", 0, probe, sizeof(probe), &probe_len);
    host->secure_zero(probe, sizeof(probe));
    if (rc == SLUICE_MASK_ECONFIG) {
        snprintf(err, err_len, "the host has no key ring: set ENCRYPTION_KEY (and SLUICE_KEY_ID) for it");
        return rc;
    }
    if (rc != SLUICE_MASK_OK) {
        snprintf(err, err_len, "the host's seal function failed (%s)", sluice_mask_strerror(rc));
        return rc;
    }
    encrypt_t *e = malloc(sizeof(*e));
    if (e == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    *e = (encrypt_t){.host = host, .self = self};
    *instance = e;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

/* Seals type ‖ value[0..n) under aad = org ‖ 0x00 ‖ rule and writes PREFIX + base64url into
 * *text (malloc'd, *text_len bytes, caller frees). */
static int seal_text(const encrypt_t *e, char type, const char *org, size_t org_len, const char *rule, size_t rule_len,
                     const char *value, size_t n, char **text, size_t *text_len)
{
    *text = NULL;
    if (n > SIZE_MAX / 8 || org_len + rule_len > SIZE_MAX / 8)
        return SLUICE_MASK_EINVAL;
    const size_t pt_len = 1 + n, sealed_cap = pt_len + SLUICE_MASK_SEAL_OVERHEAD, aad_len = org_len + 1 + rule_len;
    const size_t out_len = PREFIX_LEN + b64url_len(sealed_cap);
    uint8_t *buf = malloc(pt_len + sealed_cap + aad_len + out_len);
    if (buf == NULL)
        return SLUICE_MASK_ENOMEM;
    uint8_t *pt = buf, *sealed = pt + pt_len, *aad = sealed + sealed_cap;
    char *out = (char *)(aad + aad_len);
    pt[0] = (uint8_t)type;
    memcpy(pt + 1, value, n);
    memcpy(aad, org, org_len);
    aad[org_len] = 0;
    memcpy(aad + org_len + 1, rule, rule_len);
    size_t sealed_len = 0;
    int rc = e->host->seal(e->self, aad, aad_len, pt, pt_len, sealed, sealed_cap, &sealed_len);
    e->host->secure_zero(pt, pt_len); /* the plaintext copy is event data */
    if (rc != SLUICE_MASK_OK || sealed_len != sealed_cap) {
        free(buf);
        return rc != SLUICE_MASK_OK ? rc : SLUICE_MASK_EINTERNAL;
    }
    memcpy(out, PREFIX, PREFIX_LEN);
    b64url(sealed, sealed_len, out + PREFIX_LEN);
    /* Hand out the tail of the one buffer: move the text to its start so free(*text) works. */
    memmove(buf, out, out_len);
    *text = (char *)buf;
    *text_len = out_len;
    return SLUICE_MASK_OK;
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const encrypt_t *e = instance;
    if (in->type == SLUICE_MASK_JSON_NULL)
        return SLUICE_MASK_UNCHANGED;
    char *text = NULL;
    size_t len = 0;
    int rc = seal_text(e, in->type == SLUICE_MASK_JSON_STRING ? 's' : 'j', in->org, in->org_len, in->rule_path,
                       in->rule_path_len, in->value, in->value_len, &text, &len);
    if (rc == SLUICE_MASK_OK)
        rc = e->host->append(out, text, len);
    free(text);
    return rc;
}

/* base64url against RFC 4648's vectors, then a seal/open round trip through the host under
 * the plugin's own AAD layout, and a tampered copy that must not open. */
static int selftest(void *instance, char *err, size_t err_len)
{
    const encrypt_t *e = instance;
    static const char *const b64[][2] = {{"f", "Zg"},        {"fo", "Zm8"},        {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
                                         {"\xfb\xff", "-_8"}};
    for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
        char enc[16];
        size_t n = strlen(b64[i][0]);
        b64url((const uint8_t *)b64[i][0], n, enc);
        if (b64url_len(n) != strlen(b64[i][1]) || memcmp(enc, b64[i][1], b64url_len(n)) != 0) {
            snprintf(err, err_len, "base64url known answer %zu differs", i + 1);
            return SLUICE_MASK_EINTERNAL;
        }
    }
    static const char aad[] = "selftest\0a.b[*].c";
    static const char value[] = "4111 1111 1111 1111";
    uint8_t pt[1 + sizeof(value)], sealed[sizeof(pt) + SLUICE_MASK_SEAL_OVERHEAD], back[sizeof(pt)];
    pt[0] = 's';
    memcpy(pt + 1, value, sizeof(value));
    size_t sealed_len = 0, back_len = 0;
    int rc = e->host->seal(e->self, aad, sizeof(aad) - 1, pt, sizeof(pt), sealed, sizeof(sealed), &sealed_len);
    if (rc == SLUICE_MASK_OK)
        rc = e->host->open(e->self, aad, sizeof(aad) - 1, sealed, sealed_len, back, sizeof(back), &back_len);
    if (rc != SLUICE_MASK_OK || back_len != sizeof(pt) || memcmp(back, pt, sizeof(pt)) != 0) {
        snprintf(err, err_len, "seal/open round trip failed (%s)", sluice_mask_strerror(rc));
        return rc != SLUICE_MASK_OK ? rc : SLUICE_MASK_EINTERNAL;
    }
    sealed[sealed_len / 2] ^= 1;
    rc = e->host->open(e->self, aad, sizeof(aad) - 1, sealed, sealed_len, back, sizeof(back), &back_len);
    e->host->secure_zero(back, sizeof(back));
    if (rc != SLUICE_MASK_EINVAL) {
        snprintf(err, err_len, "a tampered value was not refused");
        return SLUICE_MASK_EINTERNAL;
    }
    return SLUICE_MASK_OK;
}

SLUICE_MASK_PLUGIN(.name = "encrypt", .version = "1.0.0",
                   .description = "reversible AES-256-GCM under the host key ring, bound to org and rule path",
                   .create = create, .destroy = destroy, .mask = mask, .selftest = selftest);

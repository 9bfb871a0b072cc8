/*
 * Anonymous ids and Set-Cookie values. Any thread.
 *
 * The anonymous-id cookie is HttpOnly (scripts never need it: the gateway reads it), Secure,
 * SameSite=Lax (sent with the tag's same-site fetches and with top-level navigations), Path=/.
 */
#include "identity/cookie.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/hex.h"
#include "crypto/base64url.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "crypto/random.h"

#define SIG_LABEL   "sluice-sid-v1"
#define SIG_MAC_LEN 16
#define SIG_RAW_LEN (1 + SIG_MAC_LEN)

int sluice_id_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > SLUICE_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == '~'))
            return 0;
    }
    return 1;
}

int sluice_id_mint(char out[SLUICE_ID_MINT_LEN + 1])
{
    uint8_t b[SLUICE_ID_MINT_LEN / 2];
    if (sluice_random_bytes(b, sizeof(b)) != 0) {
        out[0] = '\0';
        return -1;
    }
    sluice_hex_encode(b, sizeof(b), out, SLUICE_ID_MINT_LEN + 1);
    return 0;
}

int sluice_cookie_value_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
        if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\')
            return 0;
    }
    return 1;
}

const char *sluice_cookie_domain_for(const char *cookie_domain, const char *host, size_t host_len)
{
    if (cookie_domain == NULL || host == NULL)
        return NULL;
    const char *colon = memchr(host, ':', host_len);
    if (colon != NULL)
        host_len = (size_t)(colon - host);
    size_t dl = strlen(cookie_domain);
    if (host_len < dl || strncasecmp(host + host_len - dl, cookie_domain, dl) != 0)
        return NULL;
    if (host_len == dl || host[host_len - dl - 1] == '.')
        return cookie_domain;
    return NULL;
}

int sluice_cookie_format(const sluice_cookie_t *c, char *out, size_t cap)
{
    if (!sluice_cookie_value_ok(c->value, strlen(c->value)))
        return -1;
    int n = snprintf(out, cap, "%s=%s; Max-Age=%u%s%s; Path=/; Secure%s; SameSite=Lax", c->name, c->value, c->max_age_s,
                     c->domain != NULL ? "; Domain=" : "", c->domain != NULL ? c->domain : "",
                     c->http_only ? "; HttpOnly" : "");
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    return n;
}

/* The truncated MAC of (org, id[0..len)) under key. 0 or -1. */
static int sid_mac(const uint8_t *key, const char *org, const char *id, size_t len, uint8_t mac[SIG_MAC_LEN])
{
    char msg[sizeof(SIG_LABEL) + 2 * 128 + SLUICE_ID_MAX + 2];
    int n = snprintf(msg, sizeof(msg), "%s%c%s%c%.*s", SIG_LABEL, 0, org, 0, (int)len, id);
    uint8_t full[SLUICE_SHA256_LEN];
    if (n <= 0 || (size_t)n >= sizeof(msg) ||
        sluice_hmac_sha256(key, SLUICE_KEYRING_KEY_LEN, msg, (size_t)n, full) != 0)
        return -1;
    memcpy(mac, full, SIG_MAC_LEN);
    sluice_secure_zero(full, sizeof(full));
    return 0;
}

int sluice_cookie_sign(const sluice_keyring_t *kr, const char *org, const char *id, char *out, size_t cap)
{
    size_t len = strlen(id);
    uint8_t kid = kr != NULL ? sluice_keyring_primary_kid(kr) : 0;
    if (kid == 0 || !sluice_id_valid(id, len) || cap < len + SLUICE_COOKIE_SIG_LEN + 1)
        return -1;
    uint8_t raw[SIG_RAW_LEN];
    raw[0] = kid;
    if (sid_mac(sluice_keyring_key(kr, kid), org, id, len, raw + 1) != 0)
        return -1;
    memcpy(out, id, len);
    out[len] = '.';
    sluice_b64url_encode(raw, sizeof(raw), out + len + 1, cap - len - 1);
    return (int)(len + SLUICE_COOKIE_SIG_LEN);
}

int sluice_cookie_verify(const sluice_keyring_t *kr, const char *org, const char *value, size_t len,
                         char id_out[SLUICE_ID_MAX + 1])
{
    if (kr == NULL || value == NULL || len <= SLUICE_COOKIE_SIG_LEN || value[len - SLUICE_COOKIE_SIG_LEN] != '.')
        return -1;
    size_t id_len = len - SLUICE_COOKIE_SIG_LEN;
    uint8_t raw[SIG_RAW_LEN + 2], mac[SIG_MAC_LEN];
    size_t n = 0;
    if (!sluice_id_valid(value, id_len) ||
        sluice_b64url_decode(value + id_len + 1, SLUICE_COOKIE_SIG_LEN - 1, raw, sizeof(raw), &n) != 0 ||
        n != SIG_RAW_LEN)
        return -1;
    const uint8_t *key = sluice_keyring_key(kr, raw[0]);
    if (key == NULL || sid_mac(key, org, value, id_len, mac) != 0 || !sluice_ct_equal(mac, raw + 1, SIG_MAC_LEN))
        return -1;
    memcpy(id_out, value, id_len);
    id_out[id_len] = '\0';
    return 0;
}

int sluice_cookie_format_expired(const char *name, const char *domain, int http_only, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s=; Max-Age=0%s%s; Path=/; Secure%s; SameSite=Lax", name,
                     domain != NULL ? "; Domain=" : "", domain != NULL ? domain : "", http_only ? "; HttpOnly" : "");
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    return n;
}

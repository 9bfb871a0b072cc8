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
#include "crypto/random.h"

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

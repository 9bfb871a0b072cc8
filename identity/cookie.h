/*
 * First-party cookies and the anonymous ids they carry: minting a random id, deciding whether an
 * id or a cookie value is safe to put in a cookie, signing and checking the anonymous-id cookie
 * of orgs with cross-domain tokens, and formatting Set-Cookie values with exact, fixed attribute
 * order (tests compare them byte for byte).
 *
 * A signed cookie value is  <id>.<base64url(kid ‖ HMAC-SHA256(key kid, "sluice-sid-v1" 0x00
 * org 0x00 id)[0..16))>,  the key from the xd-cookie ring (crypto/hkdf.h). Only the gateway can
 * make one, so a request that sends it proves it was given that id.
 *
 * Pure functions over caller buffers; any thread.
 */
#ifndef SLUICE_IDENTITY_COOKIE_H
#define SLUICE_IDENTITY_COOKIE_H

#include <stddef.h>

#include "crypto/keyring.h"

/* Longest anonymous id the gateway puts in a cookie or a cross-domain token. */
#define SLUICE_ID_MAX 128
/* A minted id: 128 random bits as 32 lowercase hex digits. */
#define SLUICE_ID_MINT_LEN 32

#define SLUICE_COOKIE_DAY_S 86400u

/* 1 when s[0..len) can serve as an anonymous id in a cookie and a token: 1..SLUICE_ID_MAX
 * characters from A-Z a-z 0-9 '-' '_' '.' '~' (UUIDs, hex, base64url all qualify). */
int sluice_id_valid(const char *s, size_t len);

/* Writes a new random id (SLUICE_ID_MINT_LEN hex digits and a NUL) into out. Returns 0, or -1
 * when the random generator failed (out is then ""). */
int sluice_id_mint(char out[SLUICE_ID_MINT_LEN + 1]) __attribute__((warn_unused_result));

/* 1 when s[0..len) is a non-empty RFC 6265 cookie value without quotes: only the characters
 * cookie-octet allows (no controls, whitespace, '"', ',', ';' or '\'). */
int sluice_cookie_value_ok(const char *s, size_t len);

/* The Domain attribute for a response to a request whose Host is host: cookie_domain when host
 * equals it or is one of its subdomains, else NULL (a host-only cookie). A Domain the browser
 * would reject (the response comes from another site of the org) is never sent. host may carry
 * a port; comparison ignores case. */
const char *sluice_cookie_domain_for(const char *cookie_domain, const char *host, size_t host_len);

/* Characters a signature adds to an id: '.' and 23 base64url characters (17 bytes). */
#define SLUICE_COOKIE_SIG_LEN 24

/* Writes <id>.<signature> under the ring's primary key into out (cap bytes, NUL added). Returns
 * the length, or -1 when the ring has no primary, id is not sluice_id_valid, out is too small or
 * OpenSSL failed. */
int sluice_cookie_sign(const sluice_keyring_t *kr, const char *org, const char *id, char *out, size_t cap);

/* Checks a signed value value[0..len) of org: on a valid signature under a key of the ring writes
 * the id and a NUL into id_out and returns 0; else -1 (unsigned, altered, another org's, a key id
 * the ring lacks). The compare is constant-time. kr may be NULL (always -1). */
int sluice_cookie_verify(const sluice_keyring_t *kr, const char *org, const char *value, size_t len,
                         char id_out[SLUICE_ID_MAX + 1]);

typedef struct sluice_cookie {
    const char *name;
    const char *value; /* must satisfy sluice_cookie_value_ok */
    unsigned max_age_s;
    const char *domain; /* NULL: no Domain attribute */
    int http_only;
} sluice_cookie_t;

/* Formats c as a Set-Cookie value, always in this order:
 *     name=value; Max-Age=N[; Domain=D]; Path=/; Secure[; HttpOnly]; SameSite=Lax
 * into out (cap bytes, NUL added). Returns the length, or -1 when the value is not a valid
 * cookie value or the result does not fit. */
int sluice_cookie_format(const sluice_cookie_t *c, char *out, size_t cap);

/* A Set-Cookie value that deletes cookie name (set earlier with the same domain and HttpOnly):
 *     name=; Max-Age=0[; Domain=D]; Path=/; Secure[; HttpOnly]; SameSite=Lax
 * Returns the length, or -1 when it does not fit. */
int sluice_cookie_format_expired(const char *name, const char *domain, int http_only, char *out, size_t cap);

#endif

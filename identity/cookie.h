/*
 * First-party cookies and the anonymous ids they carry: minting a random id, deciding whether an
 * id or a cookie value is safe to put in a cookie, and formatting Set-Cookie values with exact,
 * fixed attribute order (tests compare them byte for byte).
 *
 * Pure functions over caller buffers; any thread.
 */
#ifndef SLUICE_IDENTITY_COOKIE_H
#define SLUICE_IDENTITY_COOKIE_H

#include <stddef.h>

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

#endif

/*
 * Cross-domain tokens: seal, open, classify. Any thread (the key ring is read-only).
 *
 * Order of checks when opening, cheapest and least informative first: length, strict
 * base64url, key id, tag (with the AAD), claims, expiry. Nothing is parsed before the tag
 * matches, so the JSON parser only ever sees bytes we sealed ourselves. Plaintext buffers are
 * wiped before returning.
 */
#include "identity/token.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "crypto/aead.h"
#include "crypto/base64url.h"
#include "crypto/ct.h"
#include "crypto/random.h"

#define AAD_LABEL "sluice-xd-v1"
/* Largest claims JSON: {"dfid":"<128>","exp":<20 digits>,"jti":"<22>"} is under 200 bytes. */
#define CLAIMS_MAX 256
#define SEALED_MAX (CLAIMS_MAX + SLUICE_AEAD_OVERHEAD)
/* Label, org id and host name with their separators. */
#define AAD_MAX 640

static const char *const outcome_names[SLUICE_TOKEN_OUTCOME_COUNT] = {
    "redeemed",  "replayed",          "bad_tag",       "expired",  "wrong_audience",   "wrong_org", "unknown_kid",
    "malformed", "redis_unavailable", "redis_timeout", "internal", "foreign_referrer", "issued",
};

const char *sluice_token_outcome_name(int outcome)
{
    return outcome >= 0 && outcome < SLUICE_TOKEN_OUTCOME_COUNT ? outcome_names[outcome] : "unknown";
}

/* AAD_LABEL \0 org \0 host, host lowercased. Returns the length, or 0 when it does not fit. */
static size_t build_aad(char *aad, size_t cap, const char *org, const char *host)
{
    size_t lablen = sizeof(AAD_LABEL), ol = strlen(org), hl = strlen(host);
    if (lablen + ol + 1 + hl > cap)
        return 0;
    memcpy(aad, AAD_LABEL, lablen); /* with its NUL as the separator */
    memcpy(aad + lablen, org, ol);
    aad[lablen + ol] = '\0';
    char *h = aad + lablen + ol + 1;
    for (size_t i = 0; i < hl; i++)
        h[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] - 'A' + 'a') : host[i];
    return lablen + ol + 1 + hl;
}

int sluice_token_seal(const sluice_keyring_t *kr, const char *org, const char *host, const char *dfid, int64_t now_s,
                      unsigned ttl_s, char *out, size_t cap, sluice_err_t *err)
{
    if (kr == NULL || sluice_keyring_primary_kid(kr) == 0)
        return sluice_err_set(err, "no encryption key: set ENCRYPTION_KEY");
    if (org == NULL || org[0] == '\0' || host == NULL || host[0] == '\0')
        return sluice_err_set(err, "a token needs an org and a target host");
    if (dfid == NULL || !sluice_id_valid(dfid, strlen(dfid)))
        return sluice_err_set(err, "the anonymous id must be 1-%d characters of A-Z a-z 0-9 - _ . ~", SLUICE_ID_MAX);
    uint8_t jti_raw[16];
    char jti[SLUICE_TOKEN_JTI_LEN + 1];
    if (sluice_random_bytes(jti_raw, sizeof(jti_raw)) != 0)
        return sluice_err_set(err, "no random bytes available");
    sluice_b64url_encode(jti_raw, sizeof(jti_raw), jti, sizeof(jti));

    char claims[CLAIMS_MAX];
    int cl = snprintf(claims, sizeof(claims), "{\"dfid\":\"%s\",\"exp\":%" PRId64 ",\"jti\":\"%s\"}", dfid,
                      now_s + (int64_t)ttl_s, jti);
    char aad[AAD_MAX];
    size_t aad_len = build_aad(aad, sizeof(aad), org, host);
    uint8_t sealed[SEALED_MAX];
    size_t sealed_len = 0;
    int rc = -1;
    if (cl <= 0 || (size_t)cl >= sizeof(claims) || aad_len == 0)
        sluice_err_set(err, "org or host too long for a token");
    else if (sluice_aead_seal(kr, aad, aad_len, claims, (size_t)cl, sealed, sizeof(sealed), &sealed_len, err) != 0)
        sluice_err_prefix(err, "sealing a token: ");
    else if (sluice_b64url_encoded_len(sealed_len) + 1 > cap)
        sluice_err_set(err, "token buffer too small");
    else
        rc = (int)sluice_b64url_encode(sealed, sealed_len, out, cap);
    sluice_secure_zero(claims, sizeof(claims));
    return rc;
}

/* The claims JSON pt[0..n) into c; 0, or -1 when they are not exactly what seal writes. */
static int parse_claims(const uint8_t *pt, size_t n, sluice_token_claims_t *c)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)pt, n, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    json_t *dfid = json_object_get(j, "dfid"), *exp = json_object_get(j, "exp"), *jti = json_object_get(j, "jti");
    if (json_is_object(j) && json_object_size(j) == 3 && json_is_string(dfid) && json_is_integer(exp) &&
        json_is_string(jti) && sluice_id_valid(json_string_value(dfid), json_string_length(dfid)) &&
        json_string_length(jti) == SLUICE_TOKEN_JTI_LEN) {
        memcpy(c->dfid, json_string_value(dfid), json_string_length(dfid) + 1);
        memcpy(c->jti, json_string_value(jti), SLUICE_TOKEN_JTI_LEN + 1);
        c->exp = (int64_t)json_integer_value(exp);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* Decodes text into raw; SLUICE_TOKEN_MALFORMED or 0. */
static int decode(const char *text, size_t len, uint8_t *raw, size_t cap, size_t *n)
{
    if (text == NULL || len == 0 || len > SLUICE_TOKEN_TEXT_MAX)
        return SLUICE_TOKEN_MALFORMED;
    if (sluice_b64url_decode(text, len, raw, cap, n) != 0 || *n <= SLUICE_AEAD_OVERHEAD)
        return SLUICE_TOKEN_MALFORMED;
    return 0;
}

static int aead_outcome(int rc)
{
    switch (rc) {
    case SLUICE_AEAD_OK: return 0;
    case SLUICE_AEAD_EMALFORMED: return SLUICE_TOKEN_MALFORMED;
    case SLUICE_AEAD_EUNKNOWN_KID: return SLUICE_TOKEN_UNKNOWN_KID;
    case SLUICE_AEAD_EAUTH: return SLUICE_TOKEN_BAD_TAG;
    default: return SLUICE_TOKEN_INTERNAL;
    }
}

int sluice_token_open(const sluice_keyring_t *kr, const char *org, const char *host, const char *text, size_t len,
                      int64_t now_s, unsigned skew_s, sluice_token_claims_t *claims)
{
    memset(claims, 0, sizeof(*claims));
    uint8_t raw[(SLUICE_TOKEN_TEXT_MAX / 4) * 3 + 3];
    size_t n = 0;
    int rc = decode(text, len, raw, sizeof(raw), &n);
    if (rc != 0)
        return rc;
    claims->kid = raw[0];
    if (kr == NULL || sluice_keyring_key(kr, raw[0]) == NULL)
        return SLUICE_TOKEN_UNKNOWN_KID;
    if (host == NULL || org == NULL)
        return SLUICE_TOKEN_BAD_TAG;
    char aad[AAD_MAX];
    size_t aad_len = build_aad(aad, sizeof(aad), org, host);
    if (aad_len == 0)
        return SLUICE_TOKEN_BAD_TAG;
    uint8_t pt[sizeof(raw)];
    size_t pt_len = 0;
    rc = aead_outcome(sluice_aead_open(kr, aad, aad_len, raw, n, pt, sizeof(pt), &pt_len, NULL));
    if (rc == 0 && parse_claims(pt, pt_len, claims) != 0)
        rc = SLUICE_TOKEN_MALFORMED;
    sluice_secure_zero(pt, sizeof(pt));
    if (rc != 0)
        return rc;
    if (now_s > claims->exp + (int64_t)skew_s)
        return SLUICE_TOKEN_EXPIRED;
    return 0;
}

int sluice_token_classify(const sluice_keyring_t *kr, const char *org, const char *text, size_t len,
                          const sluice_token_scope_t *scopes, size_t n)
{
    uint8_t raw[(SLUICE_TOKEN_TEXT_MAX / 4) * 3 + 3];
    size_t rn = 0;
    if (kr == NULL || decode(text, len, raw, sizeof(raw), &rn) != 0)
        return SLUICE_TOKEN_BAD_TAG;
    int found = SLUICE_TOKEN_BAD_TAG;
    for (size_t i = 0; i < n && found == SLUICE_TOKEN_BAD_TAG; i++) {
        char aad[AAD_MAX];
        size_t aad_len = build_aad(aad, sizeof(aad), scopes[i].org, scopes[i].host);
        uint8_t pt[sizeof(raw)];
        size_t pt_len = 0;
        if (aad_len > 0 && sluice_aead_open(kr, aad, aad_len, raw, rn, pt, sizeof(pt), &pt_len, NULL) == SLUICE_AEAD_OK)
            found = strcmp(scopes[i].org, org) == 0 ? SLUICE_TOKEN_WRONG_AUDIENCE : SLUICE_TOKEN_WRONG_ORG;
        sluice_secure_zero(pt, sizeof(pt));
    }
    return found;
}

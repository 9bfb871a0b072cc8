/*
 * Cross-domain identity tokens (DESIGN.md "Identity tokens"): a visitor leaving one of the org's
 * sites for another carries a short-lived, single-use token holding its anonymous id.
 *
 *     token = base64url( kid ‖ 12-byte nonce ‖ AES-256-GCM ciphertext ‖ 16-byte tag )
 *     plaintext = {"dfid":"<anonymous id>","exp":<unix seconds>,"jti":"<22 base64url chars>"}
 *     AAD = "sluice-xd-v1" 0x00 org 0x00 target host (lowercase)
 *
 * The sealed part is crypto/aead.h's sealed-message format; the AAD binds the token to one org
 * and one target host, so it opens nowhere else. Single use is enforced by the caller (Redis
 * SET NX on the jti, see identity.h); this module only seals, opens and classifies.
 *
 * Pure functions over caller buffers and a read-only key ring; any thread.
 */
#ifndef SLUICE_IDENTITY_TOKEN_H
#define SLUICE_IDENTITY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/keyring.h"
#include "identity/cookie.h"

/* What became of a token: the label of sluice_xd_tokens_total{outcome=...}. Numbers are
 * internal (array indexes); labels are stable. */
typedef enum sluice_token_outcome {
    SLUICE_TOKEN_REDEEMED = 0,      /* opened, first use: its anonymous id was adopted */
    SLUICE_TOKEN_REPLAYED,          /* opened, but its jti had been redeemed before */
    SLUICE_TOKEN_BAD_TAG,           /* authenticates under no org/domain we know: altered, or another key */
    SLUICE_TOKEN_EXPIRED,           /* opened, but exp + clock skew is in the past */
    SLUICE_TOKEN_WRONG_AUDIENCE,    /* sealed for another domain of this org, or the request has no usable Origin */
    SLUICE_TOKEN_WRONG_ORG,         /* sealed for another org */
    SLUICE_TOKEN_UNKNOWN_KID,       /* key id not in the ring (a removed key), or no ring at all */
    SLUICE_TOKEN_MALFORMED,         /* not strict base64url, too short or too long, or bad claims */
    SLUICE_TOKEN_REDIS_UNAVAILABLE, /* opened, but the single-use check could not run */
    SLUICE_TOKEN_REDIS_TIMEOUT,     /* opened, but Redis did not answer the single-use check in time */
    SLUICE_TOKEN_INTERNAL,          /* OpenSSL failed while opening */
    SLUICE_TOKEN_FOREIGN_REFERRER,  /* sent by sluice.js from a page no cross domain referred to: not opened */
    SLUICE_TOKEN_ISSUED,            /* not a redemption: a token handed out by GET <prefix>/xd */
    SLUICE_TOKEN_OUTCOME_COUNT,
} sluice_token_outcome_t;

/* The stable label of an outcome ("redeemed", "replayed", "bad_tag", ...), "unknown" when out
 * of range. Static storage. */
const char *sluice_token_outcome_name(int outcome);

/* Longest token text accepted (a token with a SLUICE_ID_MAX id is about 300 characters). */
#define SLUICE_TOKEN_TEXT_MAX 512
#define SLUICE_TOKEN_JTI_LEN  22

/* Seals a token for anonymous id dfid (sluice_id_valid) of org, to be redeemed on host, valid
 * until now_s + ttl_s, under the ring's primary key with a fresh nonce and jti. Writes the
 * base64url text and a NUL into out (cap >= SLUICE_TOKEN_TEXT_MAX + 1 always suffices).
 * Returns its length, or -1 with a message in err (no primary key, invalid dfid, empty org or
 * host, randomness or OpenSSL failure). err never contains the id or key material. */
int sluice_token_seal(const sluice_keyring_t *kr, const char *org, const char *host, const char *dfid, int64_t now_s,
                      unsigned ttl_s, char *out, size_t cap, sluice_err_t *err);

/* What an opened token says. */
typedef struct sluice_token_claims {
    uint8_t kid;                        /* key id byte; set whenever the text decodes */
    int64_t exp;                        /* set when the token authenticated */
    char dfid[SLUICE_ID_MAX + 1];       /* set when the token authenticated */
    char jti[SLUICE_TOKEN_JTI_LEN + 1]; /* set when the token authenticated */
} sluice_token_claims_t;

/* Opens text[0..len) as a token of org for host (host NULL: the request had no usable origin;
 * the token then cannot open) at time now_s, allowing skew_s seconds of clock difference on the
 * expiry. Returns 0 when it opens and has not expired, else the reason it is refused:
 * SLUICE_TOKEN_MALFORMED, _UNKNOWN_KID, _BAD_TAG (the tag does not match under this org and
 * host: sluice_token_classify tells more), _EXPIRED (claims are then filled) or _INTERNAL.
 * claims is always written (zeroed first). kr may be NULL (then every token is UNKNOWN_KID). */
int sluice_token_open(const sluice_keyring_t *kr, const char *org, const char *host, const char *text, size_t len,
                      int64_t now_s, unsigned skew_s, sluice_token_claims_t *claims);

/* An org and a host a token may have been sealed for. */
typedef struct sluice_token_scope {
    const char *org;
    const char *host;
} sluice_token_scope_t;

/* Why a token that sluice_token_open refused with BAD_TAG does not open for org: tries each of
 * scopes[0..n). Returns SLUICE_TOKEN_WRONG_AUDIENCE when it opens under a scope of the same org,
 * SLUICE_TOKEN_WRONG_ORG under a scope of another org, else SLUICE_TOKEN_BAD_TAG. Costs one
 * AES-GCM open per scope; callers bound n. */
int sluice_token_classify(const sluice_keyring_t *kr, const char *org, const char *text, size_t len,
                          const sluice_token_scope_t *scopes, size_t n);

#endif

/* Tests for identity/token.c: cross-domain tokens sealed and opened, and every way one is
 * refused: expiry (with the clock-skew allowance), wrong org, wrong target domain, a change at
 * every byte of the decoded token and at every character of its text, unknown and removed key
 * ids, malformed base64url, bad claims; and rotation (an old-key token still opens). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/aead.h"
#include "crypto/base64url.h"
#include "identity/token.h"

#define ORG  "acme"
#define HOST "checkout.example-pay.com"
#define DFID "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
#define NOW  1700000000
#define TTL  60
#define SKEW 5

static const uint8_t key1[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key2[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
                                 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
                                 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

/* A ring of (kid, key, primary) entries; kid 0 ends the list. */
static sluice_keyring_t *ring(uint8_t primary_kid, const uint8_t *primary, uint8_t old_kid, const uint8_t *old)
{
    sluice_keyring_t *kr = sluice_keyring_create();
    sluice_err_t err;
    assert_non_null(kr);
    if (primary != NULL)
        assert_int_equal(sluice_keyring_add(kr, primary_kid, primary, 1, &err), 0);
    if (old != NULL)
        assert_int_equal(sluice_keyring_add(kr, old_kid, old, 0, &err), 0);
    return kr;
}

static size_t seal(const sluice_keyring_t *kr, const char *org, const char *host, const char *dfid, char *out)
{
    sluice_err_t err = {{0}};
    int n = sluice_token_seal(kr, org, host, dfid, NOW, TTL, out, SLUICE_TOKEN_TEXT_MAX + 1, &err);
    if (n < 0)
        print_error("seal: %s\n", err.msg);
    assert_true(n > 0);
    assert_int_equal(strlen(out), (size_t)n);
    return (size_t)n;
}

static int open_at(const sluice_keyring_t *kr, const char *org, const char *host, const char *text, size_t len,
                   int64_t now, sluice_token_claims_t *c)
{
    return sluice_token_open(kr, org, host, text, len, now, SKEW, c);
}

static void round_trip(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(3, key1, 0, NULL);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1], tok2[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n = seal(kr, ORG, HOST, DFID, tok);
    /* base64url alphabet only, no padding */
    assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), n);
    sluice_token_claims_t c;
    assert_int_equal(open_at(kr, ORG, HOST, tok, n, NOW, &c), 0);
    assert_int_equal(c.kid, 3);
    assert_string_equal(c.dfid, DFID);
    assert_int_equal(c.exp, NOW + TTL);
    assert_int_equal(strlen(c.jti), SLUICE_TOKEN_JTI_LEN);
    /* The decoded layout is kid ‖ nonce ‖ ciphertext ‖ tag. */
    uint8_t raw[SLUICE_TOKEN_TEXT_MAX];
    size_t rn;
    assert_int_equal(sluice_b64url_decode(tok, n, raw, sizeof(raw), &rn), 0);
    assert_int_equal(raw[0], 3);
    char claims[160];
    int cl = snprintf(claims, sizeof(claims), "{\"dfid\":\"%s\",\"exp\":%d,\"jti\":\"%s\"}", DFID, NOW + TTL, c.jti);
    assert_int_equal(rn, 1 + 12 + (size_t)cl + 16);
    /* The host is compared without case. */
    assert_int_equal(open_at(kr, ORG, "Checkout.Example-Pay.COM", tok, n, NOW, &c), 0);
    /* Two tokens for the same id differ (nonce, jti). */
    size_t n2 = seal(kr, ORG, HOST, DFID, tok2);
    sluice_token_claims_t c2;
    assert_int_equal(open_at(kr, ORG, HOST, tok2, n2, NOW, &c2), 0);
    assert_string_not_equal(tok, tok2);
    assert_string_not_equal(c.jti, c2.jti);
    /* A 128-character id still fits. */
    char longid[SLUICE_ID_MAX + 1];
    memset(longid, 'z', SLUICE_ID_MAX);
    longid[SLUICE_ID_MAX] = '\0';
    n = seal(kr, ORG, HOST, longid, tok);
    assert_true(n <= SLUICE_TOKEN_TEXT_MAX);
    assert_int_equal(open_at(kr, ORG, HOST, tok, n, NOW, &c), 0);
    assert_string_equal(c.dfid, longid);
    sluice_keyring_free(kr);
}

static void expiry(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, key1, 0, NULL);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n = seal(kr, ORG, HOST, DFID, tok);
    sluice_token_claims_t c;
    assert_int_equal(open_at(kr, ORG, HOST, tok, n, NOW + TTL, &c), 0);
    assert_int_equal(open_at(kr, ORG, HOST, tok, n, NOW + TTL + SKEW, &c), 0); /* inside the allowance */
    assert_int_equal(open_at(kr, ORG, HOST, tok, n, NOW + TTL + SKEW + 1, &c), SLUICE_TOKEN_EXPIRED);
    assert_string_equal(c.dfid, DFID); /* authenticated, so inspect can show it */
    assert_int_equal(c.exp, NOW + TTL);
    assert_int_equal(open_at(kr, ORG, HOST, tok, n, NOW + 86400, &c), SLUICE_TOKEN_EXPIRED);
    sluice_keyring_free(kr);
}

static void wrong_org_and_domain(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, key1, 0, NULL);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n = seal(kr, ORG, HOST, DFID, tok);
    sluice_token_claims_t c;
    assert_int_equal(open_at(kr, "globex", HOST, tok, n, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    assert_string_equal(c.dfid, "");
    assert_int_equal(open_at(kr, ORG, "shop.acme.test", tok, n, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    assert_int_equal(open_at(kr, ORG, NULL, tok, n, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    /* A prefix of the org or host is not the org or host (the separator is bound). */
    assert_int_equal(open_at(kr, "acm", HOST, tok, n, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    assert_int_equal(open_at(kr, ORG "e", HOST, tok, n, NOW, &c), SLUICE_TOKEN_BAD_TAG);

    /* classify says which. */
    const sluice_token_scope_t scopes[] = {{ORG, "shop.acme.test"}, {"globex", "globex.test"}, {ORG, HOST}};
    /* presented on shop.acme.test (the first scope would be skipped by the gateway): same org */
    assert_int_equal(sluice_token_classify(kr, ORG, tok, n, scopes + 1, 2), SLUICE_TOKEN_WRONG_AUDIENCE);
    /* presented to org globex: the token belongs to acme */
    assert_int_equal(sluice_token_classify(kr, "globex", tok, n, scopes, 3), SLUICE_TOKEN_WRONG_ORG);
    /* nowhere in the list: a plain bad tag */
    assert_int_equal(sluice_token_classify(kr, ORG, tok, n, scopes, 2), SLUICE_TOKEN_BAD_TAG);
    assert_int_equal(sluice_token_classify(kr, ORG, "!!", 2, scopes, 3), SLUICE_TOKEN_BAD_TAG);
    sluice_keyring_free(kr);
}

/* Every byte of the decoded token, changed in turn, is refused: the key id byte names a key the
 * ring lacks, anything else breaks the tag. */
static void tamper_every_byte(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(2, key1, 1, key2);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1], bad[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n = seal(kr, ORG, HOST, DFID, tok);
    uint8_t raw[SLUICE_TOKEN_TEXT_MAX];
    size_t rn;
    assert_int_equal(sluice_b64url_decode(tok, n, raw, sizeof(raw), &rn), 0);
    for (size_t i = 0; i < rn; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* the lowest and the highest bit */
            uint8_t copy[SLUICE_TOKEN_TEXT_MAX];
            memcpy(copy, raw, rn);
            copy[i] ^= (uint8_t)(1u << bit);
            size_t bn = sluice_b64url_encode(copy, rn, bad, sizeof(bad));
            sluice_token_claims_t c;
            int rc = open_at(kr, ORG, HOST, bad, bn, NOW, &c);
            int want = SLUICE_TOKEN_BAD_TAG;
            if (i == 0) /* kid 2 becomes 3 or 130: not in the ring */
                want = SLUICE_TOKEN_UNKNOWN_KID;
            if (rc != want)
                print_error("byte %zu bit %d: got %s\n", i, bit, sluice_token_outcome_name(rc));
            assert_int_equal(rc, want);
            assert_string_equal(c.dfid, "");
        }
    }
    /* A kid byte changed to another key of the ring (kid 1) fails on the tag instead. */
    uint8_t copy[SLUICE_TOKEN_TEXT_MAX];
    memcpy(copy, raw, rn);
    copy[0] = 1;
    size_t bn = sluice_b64url_encode(copy, rn, bad, sizeof(bad));
    sluice_token_claims_t c;
    assert_int_equal(open_at(kr, ORG, HOST, bad, bn, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    sluice_keyring_free(kr);
}

/* Every character of the text, replaced by every other character (valid base64url or not), is
 * refused with the reason the change causes. */
static void tamper_every_char(void **state)
{
    (void)state;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static const char invalid[] = "+/=.!~ \n%";
    sluice_keyring_t *kr = ring(2, key1, 1, key2);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n = seal(kr, ORG, HOST, DFID, tok);
    size_t counts[SLUICE_TOKEN_OUTCOME_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(alphabet) - 1 + sizeof(invalid) - 1; k++) {
            char ch = k < sizeof(alphabet) - 1 ? alphabet[k] : invalid[k - (sizeof(alphabet) - 1)];
            if (ch == tok[i])
                continue;
            char bad[SLUICE_TOKEN_TEXT_MAX + 1];
            memcpy(bad, tok, n + 1);
            bad[i] = ch;
            /* What the change does to the decoded bytes decides the reason. */
            int want;
            uint8_t raw[SLUICE_TOKEN_TEXT_MAX];
            size_t rn;
            if (sluice_b64url_decode(bad, n, raw, sizeof(raw), &rn) != 0)
                want = SLUICE_TOKEN_MALFORMED; /* outside the alphabet, or non-zero unused bits at the end */
            else if (raw[0] != 1 && raw[0] != 2)
                want = SLUICE_TOKEN_UNKNOWN_KID;
            else
                want = SLUICE_TOKEN_BAD_TAG;
            sluice_token_claims_t c;
            int rc = open_at(kr, ORG, HOST, bad, n, NOW, &c);
            if (rc != want)
                print_error("char %zu -> '%c': got %s, want %s\n", i, ch, sluice_token_outcome_name(rc),
                            sluice_token_outcome_name(want));
            assert_int_equal(rc, want);
            assert_int_not_equal(rc, 0);
            counts[rc]++;
        }
    }
    /* All three reasons occurred, so each branch above was exercised. */
    assert_true(counts[SLUICE_TOKEN_MALFORMED] > 0);
    assert_true(counts[SLUICE_TOKEN_UNKNOWN_KID] > 0);
    assert_true(counts[SLUICE_TOKEN_BAD_TAG] > 0);
    sluice_keyring_free(kr);
}

static void malformed(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, key1, 0, NULL);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n = seal(kr, ORG, HOST, DFID, tok);
    sluice_token_claims_t c;
    assert_int_equal(open_at(kr, ORG, HOST, "", 0, NOW, &c), SLUICE_TOKEN_MALFORMED);
    assert_int_equal(open_at(kr, ORG, HOST, NULL, 0, NOW, &c), SLUICE_TOKEN_MALFORMED);
    assert_int_equal(open_at(kr, ORG, HOST, "A", 1, NOW, &c), SLUICE_TOKEN_MALFORMED);
    assert_int_equal(open_at(kr, ORG, HOST, "AQ", 2, NOW, &c), SLUICE_TOKEN_MALFORMED); /* one byte: too short */
    /* padded, or standard base64 */
    char padded[SLUICE_TOKEN_TEXT_MAX + 4];
    snprintf(padded, sizeof(padded), "%s==", tok);
    assert_int_equal(open_at(kr, ORG, HOST, padded, n + 2, NOW, &c), SLUICE_TOKEN_MALFORMED);
    /* one character short of a whole token: a length base64url cannot have, or a truncated tag */
    assert_int_equal(open_at(kr, ORG, HOST, tok, n - 1, NOW, &c) != 0, 1);
    /* whole bytes missing at the end (a truncated tag): the tag fails */
    uint8_t whole[SLUICE_TOKEN_TEXT_MAX];
    size_t wn;
    assert_int_equal(sluice_b64url_decode(tok, n, whole, sizeof(whole), &wn), 0);
    char cut[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t cn = sluice_b64url_encode(whole, wn - 3, cut, sizeof(cut));
    assert_int_equal(open_at(kr, ORG, HOST, cut, cn, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    /* exactly the overhead and no ciphertext: malformed */
    uint8_t raw[SLUICE_AEAD_OVERHEAD];
    memset(raw, 0, sizeof(raw));
    raw[0] = 1;
    char small[64];
    size_t sn = sluice_b64url_encode(raw, sizeof(raw), small, sizeof(small));
    assert_int_equal(open_at(kr, ORG, HOST, small, sn, NOW, &c), SLUICE_TOKEN_MALFORMED);
    /* far too long */
    char *huge = malloc(SLUICE_TOKEN_TEXT_MAX + 8);
    memset(huge, 'A', SLUICE_TOKEN_TEXT_MAX + 4);
    assert_int_equal(open_at(kr, ORG, HOST, huge, SLUICE_TOKEN_TEXT_MAX + 4, NOW, &c), SLUICE_TOKEN_MALFORMED);
    free(huge);
    sluice_keyring_free(kr);
}

/* Plaintexts only the key holder could seal, but not in the claims format: refused as malformed. */
static void bad_claims(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, key1, 0, NULL);
    static const char *const bodies[] = {
        "{\"dfid\":\"abc\",\"exp\":1700000060}",
        "{\"dfid\":\"abc\",\"exp\":1700000060,\"jti\":\"short\"}",
        "{\"dfid\":\"a b\",\"exp\":1700000060,\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
        "{\"dfid\":\"abc\",\"exp\":\"1700000060\",\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
        "{\"dfid\":\"abc\",\"exp\":1700000060,\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"x\":1}",
        "{\"dfid\":\"abc\",\"dfid\":\"def\",\"exp\":1700000060,\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
        "[1,2,3]",
        "not json",
    };
    /* The AAD format of token.h: "sluice-xd-v1" NUL org NUL host. */
    static const char aad[] = "sluice-xd-v1\0" ORG "\0" HOST;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        uint8_t sealed[256];
        size_t sl;
        sluice_err_t err;
        assert_int_equal(
            sluice_aead_seal(kr, aad, sizeof(aad) - 1, bodies[i], strlen(bodies[i]), sealed, sizeof(sealed), &sl, &err),
            0);
        char text[SLUICE_TOKEN_TEXT_MAX + 1];
        size_t tn = sluice_b64url_encode(sealed, sl, text, sizeof(text));
        sluice_token_claims_t c;
        assert_int_equal(open_at(kr, ORG, HOST, text, tn, NOW, &c), SLUICE_TOKEN_MALFORMED);
    }
    /* The same construction with proper claims opens: the test's AAD is the real one. */
    const char *good = "{\"dfid\":\"abc\",\"exp\":1700000060,\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\"}";
    uint8_t sealed[256];
    size_t sl;
    sluice_err_t err;
    assert_int_equal(sluice_aead_seal(kr, aad, sizeof(aad) - 1, good, strlen(good), sealed, sizeof(sealed), &sl, &err),
                     0);
    char text[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t tn = sluice_b64url_encode(sealed, sl, text, sizeof(text));
    sluice_token_claims_t c;
    assert_int_equal(open_at(kr, ORG, HOST, text, tn, NOW, &c), 0);
    assert_string_equal(c.dfid, "abc");
    sluice_keyring_free(kr);
}

static void keys_and_rotation(void **state)
{
    (void)state;
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_token_claims_t c;
    /* Before rotation: key1 is primary under kid 1. */
    sluice_keyring_t *before = ring(1, key1, 0, NULL);
    size_t n = seal(before, ORG, HOST, DFID, tok);
    /* After: key2 is primary under kid 2, key1 kept for opening under kid 1. */
    sluice_keyring_t *after = ring(2, key2, 1, key1);
    assert_int_equal(open_at(after, ORG, HOST, tok, n, NOW, &c), 0);
    assert_int_equal(c.kid, 1);
    assert_string_equal(c.dfid, DFID);
    char tok2[SLUICE_TOKEN_TEXT_MAX + 1];
    size_t n2 = seal(after, ORG, HOST, DFID, tok2);
    assert_int_equal(open_at(after, ORG, HOST, tok2, n2, NOW, &c), 0);
    assert_int_equal(c.kid, 2); /* the newest key seals */
    assert_int_equal(open_at(before, ORG, HOST, tok2, n2, NOW, &c), SLUICE_TOKEN_UNKNOWN_KID);
    /* Later: key1 removed from the ring. */
    sluice_keyring_t *removed = ring(2, key2, 0, NULL);
    assert_int_equal(open_at(removed, ORG, HOST, tok, n, NOW, &c), SLUICE_TOKEN_UNKNOWN_KID);
    assert_int_equal(c.kid, 1);
    /* Same kid, different key material (a key replaced without a new id): the tag fails. */
    sluice_keyring_t *swapped = ring(1, key2, 0, NULL);
    assert_int_equal(open_at(swapped, ORG, HOST, tok, n, NOW, &c), SLUICE_TOKEN_BAD_TAG);
    /* No ring at all. */
    assert_int_equal(open_at(NULL, ORG, HOST, tok, n, NOW, &c), SLUICE_TOKEN_UNKNOWN_KID);
    sluice_keyring_free(before);
    sluice_keyring_free(after);
    sluice_keyring_free(removed);
    sluice_keyring_free(swapped);
}

static void seal_refusals(void **state)
{
    (void)state;
    sluice_keyring_t *kr = ring(1, key1, 0, NULL);
    sluice_keyring_t *decrypt_only = ring(0, NULL, 4, key1);
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_token_seal(decrypt_only, ORG, HOST, DFID, NOW, TTL, tok, sizeof(tok), &err), -1);
    assert_non_null(strstr(err.msg, "ENCRYPTION_KEY"));
    assert_int_equal(sluice_token_seal(NULL, ORG, HOST, DFID, NOW, TTL, tok, sizeof(tok), &err), -1);
    assert_int_equal(sluice_token_seal(kr, ORG, HOST, "a b", NOW, TTL, tok, sizeof(tok), &err), -1);
    assert_null(strstr(err.msg, "a b")); /* the id is never quoted */
    assert_int_equal(sluice_token_seal(kr, ORG, HOST, "", NOW, TTL, tok, sizeof(tok), &err), -1);
    assert_int_equal(sluice_token_seal(kr, "", HOST, DFID, NOW, TTL, tok, sizeof(tok), &err), -1);
    assert_int_equal(sluice_token_seal(kr, ORG, "", DFID, NOW, TTL, tok, sizeof(tok), &err), -1);
    char small[32];
    assert_int_equal(sluice_token_seal(kr, ORG, HOST, DFID, NOW, TTL, small, sizeof(small), &err), -1);
    sluice_keyring_free(kr);
    sluice_keyring_free(decrypt_only);
}

static void outcome_names(void **state)
{
    (void)state;
    static const char *const want[SLUICE_TOKEN_OUTCOME_COUNT] = {
        "redeemed",  "replayed",          "bad_tag",       "expired",  "wrong_audience",   "wrong_org", "unknown_kid",
        "malformed", "redis_unavailable", "redis_timeout", "internal", "foreign_referrer", "issued"};
    for (int i = 0; i < SLUICE_TOKEN_OUTCOME_COUNT; i++)
        assert_string_equal(sluice_token_outcome_name(i), want[i]);
    assert_string_equal(sluice_token_outcome_name(-1), "unknown");
    assert_string_equal(sluice_token_outcome_name(SLUICE_TOKEN_OUTCOME_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),           cmocka_unit_test(expiry),
        cmocka_unit_test(wrong_org_and_domain), cmocka_unit_test(tamper_every_byte),
        cmocka_unit_test(tamper_every_char),    cmocka_unit_test(malformed),
        cmocka_unit_test(bad_claims),           cmocka_unit_test(keys_and_rotation),
        cmocka_unit_test(seal_refusals),        cmocka_unit_test(outcome_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

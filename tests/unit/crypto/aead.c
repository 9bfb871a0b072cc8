/* Tests for crypto/aead.c: AES-256-GCM known answers (NIST CAVP and the GCM specification) and
 * the sealed-message format with key ids: rotation, wrong AAD, tampering, truncation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/aead.h"
#include "common/hex.h"

/* ---- known-answer vectors ---------------------------------------------------------------- */

typedef struct {
    const char *name, *key, *iv, *pt, *aad, *ct, *tag;
} gcm_vector_t;

/* Each comes with its source; "FAIL" vectors are in fail_vectors below. */
static const gcm_vector_t vectors[] = {
    /* NIST CAVP gcmEncryptExtIV256.rsp [IVlen = 96][PTlen = 0][AADlen = 0][Taglen = 128] Count = 0 */
    {"cavp-enc-empty", "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4", "516c33929df5a3284ff463d7",
     "", "", "", "bdc1ac884d332457a1d2664f168c76f0"},
    /* NIST CAVP gcmEncryptExtIV256.rsp [IVlen = 96][PTlen = 128][AADlen = 128][Taglen = 128] Count = 0 */
    {"cavp-enc-aad", "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b", "ac93a1a6145299bde902f21a",
     "2d71bcfa914e4ac045b2aa60955fad24", "1e0889016f67601c8ebea4943bc23ad6", "8995ae2e6df3dbf96fac7b7137bae67f",
     "eca5aa77d51d4a0a14d9c51e1da474ab"},
    /* NIST CAVP gcmDecrypt256.rsp [IVlen = 96][PTlen = 128][AADlen = 128][Taglen = 128] Count = 0 */
    {"cavp-dec-aad", "54e352ea1d84bfe64a1011096111fbe7668ad2203d902a01458c3bbd85bfce14", "df7c3bca00396d0c018495d9",
     "85fc3dfad9b5a8d3258e4fc44571bd3b", "7e968d71b50c1f11fd001f3fef49d045", "426e0efc693b7be1f3018db7ddbb7e4d",
     "ee8257795be6a1164d7e1d2d6cac77a7"},
    /* McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test case 13: zero key, no data */
    {"gcm-spec-13", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "",
     "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    /* test case 14: one zero block */
    {"gcm-spec-14", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    /* test case 15: four blocks, no AAD */
    {"gcm-spec-15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de6"
     "57ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a"
     "0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    /* test case 16: 60 bytes (partial last block) with 20 bytes of AAD */
    {"gcm-spec-16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de6"
     "57ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a"
     "0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    /* test case 17: 64-bit IV */
    {"gcm-spec-17", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbad",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de6"
     "57ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0feb582d33934a4f0954cc2363bc73f7862ac430e64abe4"
     "99f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    /* test case 18: 480-bit IV */
    {"gcm-spec-18", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57"
     "a637b39b",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de6"
     "57ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf40fc0c3b780f244452da3ebf1c5d82cdea2418997200ef8"
     "2e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

/* NIST CAVP gcmDecrypt256.rsp [IVlen = 96][PTlen = 128][AADlen = 128][Taglen = 128] Count = 2,
 * marked FAIL in the response file: the tag must be rejected. */
static const gcm_vector_t fail_vectors[] = {
    {"cavp-dec-fail", "9a0343f850a6427120f764789ffec6d237447b898fbf51d2182f065d3861497d", "3deef6f453dd70d92143adcd",
     NULL, "dbb8226a624520863db6897017b2a4f8", "e93165935ac18e3a2845d15fe31a9286", "f5fc50d18766bc3d9e16dd136d45816b"},
};

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n;
    assert_int_equal(sluice_hex_decode(s, strlen(s), out, cap, &n), 0);
    return n;
}

typedef struct {
    uint8_t key[32], iv[128], pt[128], aad[64], ct[128], tag[16];
    size_t iv_len, pt_len, aad_len, ct_len;
} decoded_t;

static void decode_vector(const gcm_vector_t *v, decoded_t *d)
{
    memset(d, 0, sizeof(*d));
    assert_int_equal(unhex(v->key, d->key, sizeof(d->key)), 32);
    d->iv_len = unhex(v->iv, d->iv, sizeof(d->iv));
    d->pt_len = v->pt != NULL ? unhex(v->pt, d->pt, sizeof(d->pt)) : 0;
    d->aad_len = unhex(v->aad, d->aad, sizeof(d->aad));
    d->ct_len = unhex(v->ct, d->ct, sizeof(d->ct));
    assert_int_equal(unhex(v->tag, d->tag, sizeof(d->tag)), 16);
}

static void test_known_answers_encrypt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        decoded_t d;
        decode_vector(&vectors[i], &d);
        uint8_t ct[128], tag[16];
        print_message("%s\n", vectors[i].name);
        assert_int_equal(sluice_aes256gcm_seal(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.pt, d.pt_len, ct, tag), 0);
        assert_int_equal(d.ct_len, d.pt_len);
        assert_memory_equal(ct, d.ct, d.ct_len);
        assert_memory_equal(tag, d.tag, 16);
    }
}

static void test_known_answers_decrypt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        decoded_t d;
        decode_vector(&vectors[i], &d);
        uint8_t pt[128];
        print_message("%s\n", vectors[i].name);
        assert_int_equal(sluice_aes256gcm_open(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.ct, d.ct_len, d.tag, pt), 0);
        assert_memory_equal(pt, d.pt, d.pt_len);
    }
}

static void test_known_answer_tag_fails(void **state)
{
    (void)state;
    decoded_t d;
    decode_vector(&fail_vectors[0], &d);
    uint8_t pt[128];
    memset(pt, 0xaa, sizeof(pt));
    assert_int_equal(sluice_aes256gcm_open(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.ct, d.ct_len, d.tag, pt), -1);
    /* The unauthenticated plaintext was wiped. */
    for (size_t i = 0; i < d.ct_len; i++)
        assert_int_equal(pt[i], 0);
    assert_int_equal(pt[d.ct_len], 0xaa);
}

/* Changing one bit of the key, IV, AAD, ciphertext or tag of a good vector makes it fail. */
static void test_raw_open_rejects_any_change(void **state)
{
    (void)state;
    decoded_t d;
    decode_vector(&vectors[6], &d); /* gcm-spec-16: has AAD and a partial block */
    uint8_t pt[128];
    uint8_t *fields[] = {d.key, d.iv, d.aad, d.ct, d.tag};
    size_t lens[] = {32, d.iv_len, d.aad_len, d.ct_len, 16};
    for (size_t f = 0; f < 5; f++) {
        for (size_t i = 0; i < lens[f]; i++) {
            fields[f][i] ^= 0x80;
            assert_int_equal(sluice_aes256gcm_open(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.ct, d.ct_len, d.tag, pt),
                             -1);
            fields[f][i] ^= 0x80;
        }
    }
    assert_int_equal(sluice_aes256gcm_open(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.ct, d.ct_len, d.tag, pt), 0);
}

static void test_raw_in_place(void **state)
{
    (void)state;
    decoded_t d;
    decode_vector(&vectors[5], &d); /* gcm-spec-15 */
    uint8_t buf[128], tag[16];
    memcpy(buf, d.pt, d.pt_len);
    assert_int_equal(sluice_aes256gcm_seal(d.key, d.iv, d.iv_len, NULL, 0, buf, d.pt_len, buf, tag), 0);
    assert_memory_equal(buf, d.ct, d.ct_len);
    assert_memory_equal(tag, d.tag, 16);
    assert_int_equal(sluice_aes256gcm_open(d.key, d.iv, d.iv_len, NULL, 0, buf, d.ct_len, tag, buf), 0);
    assert_memory_equal(buf, d.pt, d.pt_len);
    /* An empty IV is refused rather than silently used. */
    assert_int_equal(sluice_aes256gcm_seal(d.key, d.iv, 0, NULL, 0, d.pt, 16, buf, tag), -1);
}

/* ---- sealed messages with key ids -------------------------------------------------------- */

#define HEX_K1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_K2 "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define HEX_K3 "5f5e5d5c5b5a595857565554535251504f4e4d4c4b4a49484746454443424140"

static const char aad[] = "org_123\0name\0vendor";
static const char msg[] = "{\"dfid\":\"3f9c2a\",\"exp\":1700000060,\"jti\":\"b7d1\"}";

/* Ring with primary 3 (K3) and older keys 1 (K1) and 2 (K2). */
static sluice_keyring_t *rotated_ring(void)
{
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(HEX_K3, "3", "1:" HEX_K1 ",2:" HEX_K2, &err);
    assert_non_null(kr);
    return kr;
}

static void test_seal_open_round_trip(void **state)
{
    (void)state;
    sluice_keyring_t *kr = rotated_ring();
    sluice_err_t err = {{0}};
    uint8_t sealed[256], out[256];
    size_t sealed_len = 0, out_len = 0;
    assert_int_equal(SLUICE_AEAD_OVERHEAD, 29);
    assert_int_equal(
        sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err), 0);
    assert_int_equal(sealed_len, strlen(msg) + 29);
    assert_int_equal(sealed[0], 3); /* the primary seals */
    /* The plaintext does not appear in the sealed bytes. */
    assert_null(memmem(sealed, sealed_len, "dfid", 4));
    assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), sealed, sealed_len, out, sizeof(out), &out_len, &err),
                     SLUICE_AEAD_OK);
    assert_int_equal(out_len, strlen(msg));
    assert_memory_equal(out, msg, out_len);
    sluice_keyring_free(kr);
}

static void test_seal_empty_plaintext(void **state)
{
    (void)state;
    sluice_keyring_t *kr = rotated_ring();
    uint8_t sealed[SLUICE_AEAD_OVERHEAD], out[1];
    size_t sealed_len, out_len = 99;
    assert_int_equal(sluice_aead_seal(kr, NULL, 0, NULL, 0, sealed, sizeof(sealed), &sealed_len, NULL), 0);
    assert_int_equal(sealed_len, SLUICE_AEAD_OVERHEAD);
    assert_int_equal(sluice_aead_open(kr, NULL, 0, sealed, sealed_len, out, 0, &out_len, NULL), SLUICE_AEAD_OK);
    assert_int_equal(out_len, 0);
    /* Even with nothing to hide, the AAD is authenticated. */
    assert_int_equal(sluice_aead_open(kr, "x", 1, sealed, sealed_len, out, 0, &out_len, NULL), SLUICE_AEAD_EAUTH);
    sluice_keyring_free(kr);
}

static void test_nonces_are_fresh(void **state)
{
    (void)state;
    sluice_keyring_t *kr = rotated_ring();
    uint8_t a[128], b[128];
    size_t alen, blen;
    assert_int_equal(sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), a, sizeof(a), &alen, NULL), 0);
    assert_int_equal(sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), b, sizeof(b), &blen, NULL), 0);
    assert_int_equal(alen, blen);
    assert_memory_not_equal(a + 1, b + 1, SLUICE_AEAD_NONCE_LEN);
    assert_memory_not_equal(a + 13, b + 13, alen - 13);
    sluice_keyring_free(kr);
}

/* Messages sealed under older keys still open after rotation; once a key leaves the ring,
 * its messages report the unknown key id. */
static void test_rotation(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = rotated_ring();
    uint8_t old[128], out[128];
    size_t old_len, out_len;
    assert_int_equal(sluice_aead_seal_kid(kr, 1, aad, sizeof(aad), msg, strlen(msg), old, sizeof(old), &old_len, &err),
                     0);
    assert_int_equal(old[0], 1);
    assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), old, old_len, out, sizeof(out), &out_len, &err),
                     SLUICE_AEAD_OK);
    assert_memory_equal(out, msg, strlen(msg));

    /* Key 1 retired: the ring now holds 3 (primary) and 2. */
    sluice_keyring_t *after = sluice_keyring_from_strings(HEX_K3, "3", "2:" HEX_K2, &err);
    assert_non_null(after);
    memset(out, 0xaa, sizeof(out));
    assert_int_equal(sluice_aead_open(after, aad, sizeof(aad), old, old_len, out, sizeof(out), &out_len, &err),
                     SLUICE_AEAD_EUNKNOWN_KID);
    assert_string_equal(err.msg, "sealed message names key id 1, which is not in the key ring");
    assert_int_equal(out_len, 0);
    assert_int_equal(out[0], 0xaa);

    /* Re-sealing under the primary (what vault rotate does) makes it readable again. */
    uint8_t resealed[128];
    size_t resealed_len;
    assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), old, old_len, out, sizeof(out), &out_len, &err),
                     SLUICE_AEAD_OK);
    assert_int_equal(
        sluice_aead_seal(after, aad, sizeof(aad), out, out_len, resealed, sizeof(resealed), &resealed_len, &err), 0);
    assert_int_equal(resealed[0], 3);
    assert_int_equal(
        sluice_aead_open(after, aad, sizeof(aad), resealed, resealed_len, out, sizeof(out), &out_len, &err),
        SLUICE_AEAD_OK);
    assert_memory_equal(out, msg, strlen(msg));
    sluice_keyring_free(after);
    sluice_keyring_free(kr);
}

static void test_wrong_aad_fails_and_wipes(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = rotated_ring();
    uint8_t sealed[128], out[128];
    size_t sealed_len, out_len = 99;
    assert_int_equal(
        sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err), 0);
    /* A row of another org (or no AAD at all) does not open. */
    static const char other[] = "org_124\0name\0vendor";
    const void *aads[] = {other, aad, NULL};
    size_t aad_lens[] = {sizeof(other), sizeof(aad) - 1, 0};
    for (size_t i = 0; i < 3; i++) {
        memset(out, 0xaa, sizeof(out));
        assert_int_equal(
            sluice_aead_open(kr, aads[i], aad_lens[i], sealed, sealed_len, out, sizeof(out), &out_len, &err),
            SLUICE_AEAD_EAUTH);
        assert_string_equal(err.msg,
                            "sealed message failed authentication (wrong key, wrong associated data or altered bytes)");
        assert_int_equal(out_len, 0);
        for (size_t j = 0; j < strlen(msg); j++)
            assert_int_equal(out[j], 0);
    }
    sluice_keyring_free(kr);
}

/* Same key id, different key (e.g. a staging key with the production id): EAUTH. */
static void test_wrong_key_same_kid(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = rotated_ring();
    sluice_keyring_t *imposter = sluice_keyring_from_strings(HEX_K1, "3", NULL, &err);
    assert_non_null(imposter);
    uint8_t sealed[128], out[128];
    size_t sealed_len, out_len;
    assert_int_equal(
        sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err), 0);
    assert_int_equal(sluice_aead_open(imposter, aad, sizeof(aad), sealed, sealed_len, out, sizeof(out), &out_len, &err),
                     SLUICE_AEAD_EAUTH);
    sluice_keyring_free(imposter);
    sluice_keyring_free(kr);
}

/* Every bit of every byte of a sealed message, flipped alone, makes it fail to open: the kid
 * byte with EUNKNOWN_KID (or EAUTH when the flipped id happens to be in the ring), every other
 * byte with EAUTH, and no plaintext is left in the output. */
static void test_every_bit_flip_fails(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = rotated_ring();
    uint8_t sealed[128], out[128];
    size_t sealed_len, out_len;
    assert_int_equal(
        sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err), 0);
    size_t flips = 0, unknown_kid = 0, kid_auth = 0;
    for (size_t i = 0; i < sealed_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            sealed[i] ^= (uint8_t)(1u << bit);
            memset(out, 0xaa, sizeof(out));
            out_len = 99;
            int rc = sluice_aead_open(kr, aad, sizeof(aad), sealed, sealed_len, out, sizeof(out), &out_len, &err);
            if (i == 0) {
                /* 3 ^ 1 = 2 and 3 ^ 2 = 1 are ring ids: those reach the tag check and fail it. */
                uint8_t kid = sealed[0];
                if (kid == 1 || kid == 2) {
                    assert_int_equal(rc, SLUICE_AEAD_EAUTH);
                    kid_auth++;
                } else {
                    assert_int_equal(rc, SLUICE_AEAD_EUNKNOWN_KID);
                    unknown_kid++;
                }
            } else {
                assert_int_equal(rc, SLUICE_AEAD_EAUTH);
            }
            assert_int_equal(out_len, 0);
            /* EAUTH wiped what was decrypted; EUNKNOWN_KID never touched the buffer. */
            for (size_t j = 0; j < strlen(msg); j++)
                assert_int_equal(out[j], rc == SLUICE_AEAD_EAUTH ? 0 : 0xaa);
            sealed[i] ^= (uint8_t)(1u << bit);
            flips++;
        }
    }
    assert_int_equal(flips, 8 * sealed_len);
    assert_int_equal(kid_auth, 2);
    assert_int_equal(unknown_kid, 6);
    /* Unflipped, it still opens. */
    assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), sealed, sealed_len, out, sizeof(out), &out_len, &err),
                     SLUICE_AEAD_OK);
    sluice_keyring_free(kr);
}

static void test_truncated_and_short_buffers(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = rotated_ring();
    uint8_t sealed[128], out[128];
    size_t sealed_len, out_len;
    assert_int_equal(
        sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err), 0);
    /* Anything shorter than kid + nonce + tag cannot be a sealed message. */
    for (size_t n = 0; n < SLUICE_AEAD_OVERHEAD; n++) {
        out_len = 99;
        assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), sealed, n, out, sizeof(out), &out_len, &err),
                         SLUICE_AEAD_EMALFORMED);
        assert_int_equal(out_len, 0);
    }
    char want[128];
    snprintf(want, sizeof(want), "sealed message is 28 bytes; the smallest possible is 29");
    assert_string_equal(err.msg, want);
    /* Longer truncations parse but lose the real tag. */
    for (size_t n = SLUICE_AEAD_OVERHEAD; n < sealed_len; n++)
        assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), sealed, n, out, sizeof(out), &out_len, &err),
                         SLUICE_AEAD_EAUTH);
    /* An output buffer one byte too small is refused before decrypting. */
    assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), sealed, sealed_len, out, strlen(msg) - 1, &out_len, &err),
                     SLUICE_AEAD_EMALFORMED);
    assert_int_equal(sluice_aead_open(kr, aad, sizeof(aad), sealed, sealed_len, out, strlen(msg), &out_len, &err),
                     SLUICE_AEAD_OK);
    sluice_keyring_free(kr);
}

static void test_seal_errors(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = rotated_ring();
    uint8_t sealed[128];
    size_t sealed_len = 99;
    size_t need = strlen(msg) + SLUICE_AEAD_OVERHEAD;
    assert_int_equal(sluice_aead_seal(kr, aad, sizeof(aad), msg, strlen(msg), sealed, need - 1, &sealed_len, &err), -1);
    assert_int_equal(sealed_len, 0);
    char want[160];
    snprintf(want, sizeof(want), "sealing: output buffer holds %zu bytes; %zu bytes of plaintext need %zu", need - 1,
             strlen(msg), need);
    assert_string_equal(err.msg, want);
    assert_int_equal(
        sluice_aead_seal_kid(kr, 9, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err), -1);
    assert_string_equal(err.msg, "sealing: key id 9 is not in the key ring");
    sluice_keyring_t *no_primary = sluice_keyring_create();
    assert_non_null(no_primary);
    uint8_t k[32] = {1};
    assert_int_equal(sluice_keyring_add(no_primary, 4, k, 0, &err), 0);
    assert_int_equal(
        sluice_aead_seal(no_primary, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, &err),
        -1);
    assert_string_equal(err.msg, "sealing: the key ring has no primary key");
    sluice_keyring_free(no_primary);
    sluice_keyring_free(kr);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(sluice_aead_strerror(SLUICE_AEAD_OK), "ok");
    assert_string_equal(sluice_aead_strerror(SLUICE_AEAD_EMALFORMED), "malformed");
    assert_string_equal(sluice_aead_strerror(SLUICE_AEAD_EUNKNOWN_KID), "unknown_kid");
    assert_string_equal(sluice_aead_strerror(SLUICE_AEAD_EAUTH), "auth");
    assert_string_equal(sluice_aead_strerror(SLUICE_AEAD_EINTERNAL), "internal");
    assert_string_equal(sluice_aead_strerror(42), "unknown");
}

/* One ring shared read-only by several threads sealing and opening at once. */
typedef struct {
    const sluice_keyring_t *kr;
    int failures;
} worker_t;

static void *seal_open_loop(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 200; i++) {
        uint8_t sealed[128], out[128];
        size_t sealed_len, out_len;
        if (sluice_aead_seal(w->kr, aad, sizeof(aad), msg, strlen(msg), sealed, sizeof(sealed), &sealed_len, NULL) !=
                0 ||
            sluice_aead_open(w->kr, aad, sizeof(aad), sealed, sealed_len, out, sizeof(out), &out_len, NULL) !=
                SLUICE_AEAD_OK ||
            out_len != strlen(msg) || memcmp(out, msg, out_len) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_shared_ring_many_threads(void **state)
{
    (void)state;
    enum { T = 8 };
    sluice_keyring_t *kr = rotated_ring();
    pthread_t th[T];
    worker_t w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker_t){kr, 0};
        assert_int_equal(pthread_create(&th[i], NULL, seal_open_loop, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    sluice_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers_encrypt),
        cmocka_unit_test(test_known_answers_decrypt),
        cmocka_unit_test(test_known_answer_tag_fails),
        cmocka_unit_test(test_raw_open_rejects_any_change),
        cmocka_unit_test(test_raw_in_place),
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_seal_empty_plaintext),
        cmocka_unit_test(test_nonces_are_fresh),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_wrong_aad_fails_and_wipes),
        cmocka_unit_test(test_wrong_key_same_kid),
        cmocka_unit_test(test_every_bit_flip_fails),
        cmocka_unit_test(test_truncated_and_short_buffers),
        cmocka_unit_test(test_seal_errors),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_shared_ring_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * AES-256-GCM through OpenSSL 3 EVP, and the sealed-message format (kid ‖ nonce ‖ ct ‖ tag) on
 * top of the key ring. The cipher is fetched once per process (an explicit fetch saves the
 * implicit one EVP_aes_256_gcm() costs on every init); each call has its own EVP_CIPHER_CTX,
 * so there is no shared mutable state. Any thread.
 */
#include "crypto/aead.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/ct.h"
#include "crypto/random.h"

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
/* Never freed: shared, read-only after fetch_cipher, needed until the process exits. */
static EVP_CIPHER *aes256gcm;

static void fetch_cipher(void)
{
    aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* gcm() results: 0 ok, TAG_MISMATCH when decryption found a bad tag, FAILED for anything else. */
#define TAG_MISMATCH (-1)
#define FAILED       (-2)

/* One AES-256-GCM pass. Encrypting writes the tag into tag_out; decrypting checks tag_in. On
 * any failure out (n bytes) is wiped: while decrypting it holds unauthenticated plaintext. */
static int gcm(int enc, const uint8_t *key, const uint8_t *iv, size_t iv_len, const uint8_t *aad, size_t aad_len,
               const uint8_t *in, size_t n, uint8_t *out, const uint8_t *tag_in, uint8_t *tag_out)
{
    pthread_once(&fetch_once, fetch_cipher);
    /* EVP takes int lengths. */
    int ok = aes256gcm != NULL && iv_len > 0 && aad_len <= INT_MAX && n <= INT_MAX;
    EVP_CIPHER_CTX *ctx = ok ? EVP_CIPHER_CTX_new() : NULL;
    size_t ivl = iv_len;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivl),
        OSSL_PARAM_construct_end(),
    };
    int len = 0;
    unsigned char final_block[16]; /* GCM's final step writes nothing; this keeps out + len off NULL */
    ok = ctx != NULL && EVP_CipherInit_ex2(ctx, aes256gcm, NULL, NULL, enc, params) == 1 &&
         EVP_CipherInit_ex2(ctx, NULL, key, iv, enc, NULL) == 1;
    if (ok && aad_len > 0)
        ok = EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1;
    if (ok && n > 0)
        ok = EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1;
    /* The ctrl interface takes void *; OpenSSL only reads the tag here. */
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SLUICE_AEAD_TAG_LEN, (void *)tag_in) == 1;
    int rc = FAILED;
    if (ok) {
        if (EVP_CipherFinal_ex(ctx, final_block, &len) == 1)
            rc = 0;
        else if (!enc)
            rc = TAG_MISMATCH;
    }
    if (rc == 0 && enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SLUICE_AEAD_TAG_LEN, tag_out) != 1)
        rc = FAILED;
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    if (rc != 0) {
        sluice_secure_zero(out, n);
        if (enc)
            sluice_secure_zero(tag_out, SLUICE_AEAD_TAG_LEN);
    }
    return rc;
}

int sluice_aes256gcm_seal(const uint8_t key[SLUICE_AEAD_KEY_LEN], const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                          size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct,
                          uint8_t tag[SLUICE_AEAD_TAG_LEN])
{
    return gcm(1, key, iv, iv_len, aad, aad_len, pt, pt_len, ct, NULL, tag) == 0 ? 0 : -1;
}

int sluice_aes256gcm_open(const uint8_t key[SLUICE_AEAD_KEY_LEN], const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                          size_t aad_len, const uint8_t *ct, size_t ct_len, const uint8_t tag[SLUICE_AEAD_TAG_LEN],
                          uint8_t *pt)
{
    return gcm(0, key, iv, iv_len, aad, aad_len, ct, ct_len, pt, tag, NULL) == 0 ? 0 : -1;
}

const char *sluice_aead_strerror(int code)
{
    switch (code) {
    case SLUICE_AEAD_OK: return "ok";
    case SLUICE_AEAD_EMALFORMED: return "malformed";
    case SLUICE_AEAD_EUNKNOWN_KID: return "unknown_kid";
    case SLUICE_AEAD_EAUTH: return "auth";
    case SLUICE_AEAD_EINTERNAL: return "internal";
    default: return "unknown";
    }
}

int sluice_aead_seal_kid(const sluice_keyring_t *kr, uint8_t kid, const void *aad, size_t aad_len, const void *pt,
                         size_t pt_len, uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err)
{
    *out_len = 0;
    const uint8_t *key = sluice_keyring_key(kr, kid);
    if (key == NULL)
        return sluice_err_set(err, "sealing: key id %u is not in the key ring", (unsigned)kid);
    if (pt_len > INT_MAX || aad_len > INT_MAX)
        return sluice_err_set(err, "sealing: plaintext or associated data larger than %d bytes", INT_MAX);
    size_t need = pt_len + SLUICE_AEAD_OVERHEAD;
    if (cap < need)
        return sluice_err_set(err, "sealing: output buffer holds %zu bytes; %zu bytes of plaintext need %zu", cap,
                              pt_len, need);
    uint8_t *nonce = out + 1;
    uint8_t *ct = nonce + SLUICE_AEAD_NONCE_LEN;
    out[0] = kid;
    if (sluice_random_bytes(nonce, SLUICE_AEAD_NONCE_LEN) != 0 ||
        gcm(1, key, nonce, SLUICE_AEAD_NONCE_LEN, aad, aad_len, pt, pt_len, ct, NULL, ct + pt_len) != 0) {
        sluice_secure_zero(out, need);
        return sluice_err_set(err, "sealing: AES-256-GCM encryption failed in OpenSSL");
    }
    *out_len = need;
    return 0;
}

int sluice_aead_seal(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                     uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err)
{
    uint8_t kid = sluice_keyring_primary_kid(kr);
    if (kid == 0) {
        *out_len = 0;
        return sluice_err_set(err, "sealing: the key ring has no primary key");
    }
    return sluice_aead_seal_kid(kr, kid, aad, aad_len, pt, pt_len, out, cap, out_len, err);
}

int sluice_aead_open(const sluice_keyring_t *kr, const void *aad, size_t aad_len, const uint8_t *in, size_t n,
                     uint8_t *out, size_t cap, size_t *out_len, sluice_err_t *err)
{
    *out_len = 0;
    if (n < SLUICE_AEAD_OVERHEAD) {
        sluice_err_set(err, "sealed message is %zu bytes; the smallest possible is %d", n, SLUICE_AEAD_OVERHEAD);
        return SLUICE_AEAD_EMALFORMED;
    }
    size_t pt_len = n - SLUICE_AEAD_OVERHEAD;
    if (cap < pt_len) {
        sluice_err_set(err, "output buffer holds %zu bytes; the sealed message needs %zu", cap, pt_len);
        return SLUICE_AEAD_EMALFORMED;
    }
    const uint8_t *key = sluice_keyring_key(kr, in[0]);
    if (key == NULL) {
        sluice_err_set(err, "sealed message names key id %u, which is not in the key ring", (unsigned)in[0]);
        return SLUICE_AEAD_EUNKNOWN_KID;
    }
    const uint8_t *nonce = in + 1;
    const uint8_t *ct = nonce + SLUICE_AEAD_NONCE_LEN;
    switch (gcm(0, key, nonce, SLUICE_AEAD_NONCE_LEN, aad, aad_len, ct, pt_len, out, ct + pt_len, NULL)) {
    case 0: *out_len = pt_len; return SLUICE_AEAD_OK;
    case TAG_MISMATCH:
        sluice_err_set(err, "sealed message failed authentication (wrong key, wrong associated data or altered bytes)");
        return SLUICE_AEAD_EAUTH;
    default:
        sluice_err_set(err, "opening a sealed message: AES-256-GCM decryption failed in OpenSSL");
        return SLUICE_AEAD_EINTERNAL;
    }
}

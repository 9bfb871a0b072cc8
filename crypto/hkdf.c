/*
 * HKDF-SHA256 through OpenSSL 3's EVP_KDF "HKDF". The KDF is fetched once per process; each
 * call has its own context (freed, and with it the key material it copied, which OpenSSL
 * cleanses). Any thread.
 */
#include "crypto/hkdf.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto/ct.h"

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
/* Never freed: shared, read-only after fetch_kdf, needed until the process exits. */
static EVP_KDF *hkdf;

static void fetch_kdf(void)
{
    hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

int sluice_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
                       size_t info_len, uint8_t *out, size_t out_len)
{
    pthread_once(&fetch_once, fetch_kdf);
    if (hkdf == NULL || out_len == 0 || out_len > 255 * 32 || ikm_len == 0) {
        sluice_secure_zero(out, out_len);
        return -1;
    }
    /* OSSL_PARAM takes non-const pointers; the KDF only reads these buffers. */
    static const char digest[] = "SHA256";
    OSSL_PARAM params[5];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    if (salt_len > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[n] = OSSL_PARAM_construct_end();
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(hkdf);
    int ok = ctx != NULL && EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok)
        sluice_secure_zero(out, out_len);
    return ok ? 0 : -1;
}

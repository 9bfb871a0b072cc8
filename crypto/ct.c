/*
 * Constant-time compare and secure wipe, thin wrappers over OpenSSL's CRYPTO_memcmp and
 * OPENSSL_cleanse so the rest of sluice (and the plugin host table) names one primitive.
 * Any thread; no state.
 */
#include "crypto/ct.h"

#include <openssl/crypto.h>

int sluice_ct_equal(const void *a, const void *b, size_t len)
{
    if (len == 0)
        return 1;
    return CRYPTO_memcmp(a, b, len) == 0;
}

int sluice_ct_streq(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Lengths are public (a MAC or token has a fixed length); only the bytes are secret. */
    if (alen != blen)
        return 0;
    return sluice_ct_equal(a, b, alen);
}

void sluice_secure_zero(void *p, size_t len)
{
    if (len == 0)
        return;
    OPENSSL_cleanse(p, len);
}

/*
 * SHA-256 and HMAC-SHA256 over OpenSSL 3 EVP. The SHA-256 EVP_MD and a digest-configured HMAC
 * template context are fetched once per process (pthread_once): an explicit fetch makes a
 * one-shot digest about three times cheaper than passing EVP_sha256(), which re-fetches on
 * every call; each thread reuses one digest context. Each HMAC duplicates the template, so nothing mutable is shared
 * between threads and no key state outlives the call. Any thread.
 */
#include "crypto/hash.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/ct.h"
#include "common/hex.h"

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
/* Never freed: shared, read-only after fetch_all, and needed until the process exits. */
static EVP_MD *sha256_md;
static EVP_MAC_CTX *hmac_template;
/* Each thread's SHA-256 context, reused from one digest to the next (a new context per digest
 * costs two allocations and their cleansing), and a context initialised once that each digest
 * starts from: EVP_MD_CTX_copy_ex from it is about 90 instructions cheaper than
 * EVP_DigestInit_ex2, which asks the ENGINE table on every call. Both are freed by the key's
 * destructor when the thread ends. SHA256_Final cleanses the context's data block, so no input
 * outlives its digest; the ready context never sees input. */
static pthread_key_t md_ctx_key;
static int md_ctx_key_ok;
static _Thread_local EVP_MD_CTX *md_ctx;
static _Thread_local EVP_MD_CTX *md_ready;

static void md_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(md_ready);
    md_ctx = NULL;
    md_ready = NULL;
}

static void fetch_all(void)
{
    md_ctx_key_ok = pthread_key_create(&md_ctx_key, md_ctx_free) == 0;
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (ctx == NULL)
        return;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return;
    }
    hmac_template = ctx;
}

/* This thread's context, created with its ready one on its first digest; NULL when memory ran
 * out. */
static EVP_MD_CTX *thread_md_ctx(void)
{
    if (md_ctx != NULL)
        return md_ctx;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD_CTX *ready = EVP_MD_CTX_new();
    if (ctx == NULL || ready == NULL || EVP_DigestInit_ex2(ready, sha256_md, NULL) != 1 || !md_ctx_key_ok ||
        pthread_setspecific(md_ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        EVP_MD_CTX_free(ready);
        return NULL;
    }
    md_ready = ready;
    return md_ctx = ctx;
}

/* sluice_sha256's body, inlined into it and into sluice_sha256_hex (the data layer's, twice an
 * event on bench.yaml), where a call more cost about 15 instructions a digest. */
static inline __attribute__((always_inline)) int sha256_digest(const void *data, size_t n,
                                                               uint8_t out[SLUICE_SHA256_LEN])
{
    /* A thread has its context only after fetch_all ran (thread_md_ctx is called once
     * pthread_once returned, with sha256_md fetched): from its second digest on, the
     * pthread_once call is skipped. */
    EVP_MD_CTX *ctx = md_ctx;
    if (ctx == NULL) {
        pthread_once(&fetch_once, fetch_all);
        ctx = sha256_md != NULL ? thread_md_ctx() : NULL;
    }
    if (ctx == NULL || EVP_MD_CTX_copy_ex(ctx, md_ready) != 1 || EVP_DigestUpdate(ctx, data, n) != 1 ||
        EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
        memset(out, 0, SLUICE_SHA256_LEN);
        return -1;
    }
    return 0;
}

int sluice_sha256(const void *data, size_t n, uint8_t out[SLUICE_SHA256_LEN])
{
    return sha256_digest(data, n, out);
}

int sluice_sha256_hex(const void *data, size_t n, char out[SLUICE_SHA256_HEX_LEN + 1])
{
    uint8_t d[SLUICE_SHA256_LEN];
    if (sha256_digest(data, n, d) != 0) {
        out[0] = '\0';
        return -1;
    }
    sluice_hex_encode(d, sizeof(d), out, SLUICE_SHA256_HEX_LEN + 1);
    return 0;
}

int sluice_hmac_sha256_2(const void *key, size_t klen, const void *a, size_t alen, const void *b, size_t blen,
                         uint8_t out[SLUICE_SHA256_LEN])
{
    /* HMAC accepts an empty key; OpenSSL wants a non-NULL pointer for it. */
    static const unsigned char empty_key[1];
    pthread_once(&fetch_once, fetch_all);
    int ok = 0;
    size_t out_len = 0;
    EVP_MAC_CTX *ctx = hmac_template != NULL ? EVP_MAC_CTX_dup(hmac_template) : NULL;
    if (ctx != NULL && EVP_MAC_init(ctx, klen > 0 ? key : empty_key, klen, NULL) == 1 &&
        (alen == 0 || EVP_MAC_update(ctx, a, alen) == 1) && (blen == 0 || EVP_MAC_update(ctx, b, blen) == 1) &&
        EVP_MAC_final(ctx, out, &out_len, SLUICE_SHA256_LEN) == 1 && out_len == SLUICE_SHA256_LEN)
        ok = 1;
    EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
    if (!ok) {
        sluice_secure_zero(out, SLUICE_SHA256_LEN);
        return -1;
    }
    return 0;
}

int sluice_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[SLUICE_SHA256_LEN])
{
    return sluice_hmac_sha256_2(key, klen, msg, n, NULL, 0, out);
}

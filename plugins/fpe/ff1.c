/*
 * FF1 (NIST SP 800-38G rev. 1, section 5.1) over OpenSSL: AES in ECB mode is the block cipher
 * CIPH_K, the PRF is its CBC-MAC with a zero IV, and the numeral arithmetic uses BIGNUM, so any
 * length up to SLUICE_FF1_MAX_LEN works for every radix.
 *
 * The Feistel halves are kept as numbers, not numeral strings: after round i, B becomes
 * C = STR(c), and NUM(STR(c)) = c because c < radix^m, so a round is "a, b = b, (a + y) mod
 * radix^m" and numerals are produced only once at the end. Any thread: every call has its own
 * cipher context and BN_CTX, and wipes the PRF output it derived from the key.
 */
#include "ff1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

struct sluice_ff1 {
    EVP_CIPHER *cipher; /* AES-128/192/256-ECB, fetched once at create */
    uint8_t key[32];
    size_t key_len;
    unsigned radix;
};

static const char named_digits[] = "0123456789";
static const char named_alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

const char *sluice_ff1_strerror(int code)
{
    switch (code) {
    case SLUICE_FF1_OK: return "ok";
    case SLUICE_FF1_EKEY: return "the key must be 16, 24 or 32 bytes (AES-128, AES-192, AES-256)";
    case SLUICE_FF1_ERADIX: return "the radix must be 2..65536 and match the alphabet";
    case SLUICE_FF1_ELEN:
        return "the value has too few or too many characters for FF1 (radix^length must be at least "
               "1000000, length at most 4096)";
    case SLUICE_FF1_ETWEAK: return "the tweak is longer than 256 bytes";
    case SLUICE_FF1_ENUMERAL: return "a numeral is not below the radix";
    case SLUICE_FF1_ECHAR: return "the value has a character outside the alphabet that is not kept in place";
    case SLUICE_FF1_ENOMEM: return "out of memory";
    case SLUICE_FF1_ECRYPTO: return "the crypto library failed";
    default: return "unknown FF1 error";
    }
}

size_t sluice_ff1_min_len(unsigned radix)
{
    if (radix < SLUICE_FF1_MIN_RADIX || radix > SLUICE_FF1_MAX_RADIX)
        return 0;
    uint64_t domain = (uint64_t)radix * radix;
    size_t n = 2;
    while (domain < SLUICE_FF1_MIN_DOMAIN) {
        domain *= radix;
        n++;
    }
    return n;
}

int sluice_ff1_create(const uint8_t *key, size_t key_len, unsigned radix, sluice_ff1_t **out)
{
    *out = NULL;
    const char *name = key_len == 16   ? "AES-128-ECB"
                       : key_len == 24 ? "AES-192-ECB"
                       : key_len == 32 ? "AES-256-ECB"
                                       : NULL;
    if (name == NULL || key == NULL)
        return SLUICE_FF1_EKEY;
    if (radix < SLUICE_FF1_MIN_RADIX || radix > SLUICE_FF1_MAX_RADIX)
        return SLUICE_FF1_ERADIX;
    sluice_ff1_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return SLUICE_FF1_ENOMEM;
    f->cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    if (f->cipher == NULL) {
        free(f);
        return SLUICE_FF1_ECRYPTO;
    }
    memcpy(f->key, key, key_len);
    f->key_len = key_len;
    f->radix = radix;
    *out = f;
    return SLUICE_FF1_OK;
}

void sluice_ff1_free(sluice_ff1_t *f)
{
    if (f == NULL)
        return;
    EVP_CIPHER_free(f->cipher);
    OPENSSL_cleanse(f->key, sizeof(f->key));
    free(f);
}

unsigned sluice_ff1_radix(const sluice_ff1_t *f)
{
    return f->radix;
}

/* CIPH_K of one 16-byte block, in place. */
static int ciph(EVP_CIPHER_CTX *ctx, uint8_t block[16])
{
    int outl = 0;
    return EVP_EncryptUpdate(ctx, block, &outl, block, 16) == 1 && outl == 16;
}

/* NUM_radix(x[0..n)) into r. */
static int num_radix(BIGNUM *r, const uint16_t *x, size_t n, unsigned radix)
{
    BN_zero(r);
    for (size_t i = 0; i < n; i++) {
        if (!BN_mul_word(r, radix) || !BN_add_word(r, x[i]))
            return 0;
    }
    return 1;
}

/* STR^m_radix(c) into y[0..m); destroys c. */
static int str_radix(BIGNUM *c, unsigned radix, uint16_t *y, size_t m)
{
    for (size_t i = m; i > 0; i--) {
        BN_ULONG rem = BN_div_word(c, radix);
        if (rem == (BN_ULONG)-1)
            return 0;
        y[i - 1] = (uint16_t)rem;
    }
    return 1;
}

static int ff1_crypt(const sluice_ff1_t *f, const uint8_t *tweak, size_t t, const uint16_t *x, size_t n, uint16_t *y,
                     int decrypt)
{
    const unsigned radix = f->radix;
    if (n < sluice_ff1_min_len(radix) || n > SLUICE_FF1_MAX_LEN) {
        memset(y, 0, n * sizeof(*y));
        return SLUICE_FF1_ELEN;
    }
    if (t > SLUICE_FF1_MAX_TWEAK) {
        memset(y, 0, n * sizeof(*y));
        return SLUICE_FF1_ETWEAK;
    }
    for (size_t i = 0; i < n; i++) {
        if (x[i] >= radix) {
            memset(y, 0, n * sizeof(*y));
            return SLUICE_FF1_ENUMERAL;
        }
    }
    const size_t u = n / 2, v = n - u; /* step 1 */

    int rc = SLUICE_FF1_ECRYPTO;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    BN_CTX *bn = BN_CTX_new();
    if (ctx == NULL || bn == NULL) {
        rc = SLUICE_FF1_ENOMEM;
        goto done;
    }
    BN_CTX_start(bn);
    BIGNUM *a = BN_CTX_get(bn), *b = BN_CTX_get(bn), *c = BN_CTX_get(bn), *yv = BN_CTX_get(bn), *sum = BN_CTX_get(bn),
           *mod_u = BN_CTX_get(bn), *mod_v = BN_CTX_get(bn), *tmp = BN_CTX_get(bn);
    if (tmp == NULL) { /* BN_CTX_get fails for every later call once one fails */
        rc = SLUICE_FF1_ENOMEM;
        goto done_bn;
    }
    if (EVP_EncryptInit_ex2(ctx, f->cipher, f->key, NULL, NULL) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
        goto done_bn;

    /* radix^u and radix^v, the moduli of even and odd rounds. */
    if (!BN_set_word(tmp, radix) || !BN_set_word(sum, u) || !BN_exp(mod_u, tmp, sum, bn) || !BN_set_word(sum, v) ||
        !BN_exp(mod_v, tmp, sum, bn))
        goto done_bn;
    /* Step 3: b = ceil(ceil(v * log2(radix)) / 8), the byte length of radix^v - 1, computed
     * exactly (no floating-point logarithm). */
    if (!BN_copy(tmp, mod_v) || !BN_sub_word(tmp, 1))
        goto done_bn;
    const size_t blen = (size_t)BN_num_bytes(tmp);
    const size_t d = 4 * ((blen + 3) / 4) + 4; /* step 4 */
    const size_t pad = (16 - (t + blen + 1) % 16) % 16;
    const size_t pq_len = 16 + t + pad + 1 + blen; /* P || Q, a multiple of 16 */
    const size_t s_len = (d + 15) / 16 * 16;
    buf_len = pq_len + s_len;
    buf = malloc(buf_len);
    if (buf == NULL) {
        rc = SLUICE_FF1_ENOMEM;
        goto done_bn;
    }
    uint8_t *pq = buf, *s = buf + pq_len;

    /* Step 5: P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 || [u mod 256]^1 || [n]^4 || [t]^4. */
    const uint8_t p[16] = {1,
                           2,
                           1,
                           (uint8_t)(radix >> 16),
                           (uint8_t)(radix >> 8),
                           (uint8_t)radix,
                           10,
                           (uint8_t)(u % 256),
                           (uint8_t)(n >> 24),
                           (uint8_t)(n >> 16),
                           (uint8_t)(n >> 8),
                           (uint8_t)n,
                           (uint8_t)(t >> 24),
                           (uint8_t)(t >> 16),
                           (uint8_t)(t >> 8),
                           (uint8_t)t};
    memcpy(pq, p, 16);
    if (t > 0)
        memcpy(pq + 16, tweak, t);
    memset(pq + 16 + t, 0, pad);
    uint8_t *round_byte = pq + 16 + t + pad, *num_bytes = round_byte + 1;

    if (!num_radix(a, x, u, radix) || !num_radix(b, x + u, v, radix)) /* step 2 */
        goto done_bn;

    for (int k = 0; k < 10; k++) { /* step 6 */
        const int i = decrypt ? 9 - k : k;
        /* 6.i: Q = T || [0]^pad || [i]^1 || [NUM_radix(B)]^b (decryption: A). */
        *round_byte = (uint8_t)i;
        if (BN_bn2binpad(decrypt ? a : b, num_bytes, (int)blen) < 0)
            goto done_bn;
        /* 6.ii: R = PRF(P || Q), the CBC-MAC of P || Q under a zero IV. */
        uint8_t r[16] = {0};
        for (size_t off = 0; off < pq_len; off += 16) {
            for (size_t j = 0; j < 16; j++)
                r[j] ^= pq[off + j];
            if (!ciph(ctx, r))
                goto done_bn;
        }
        /* 6.iii: S = the first d bytes of R || CIPH(R xor [1]^16) || CIPH(R xor [2]^16) || ... */
        memcpy(s, r, 16);
        for (size_t j = 1; j < s_len / 16; j++) {
            uint8_t *blk = s + 16 * j;
            memcpy(blk, r, 16);
            blk[12] ^= (uint8_t)(j >> 24);
            blk[13] ^= (uint8_t)(j >> 16);
            blk[14] ^= (uint8_t)(j >> 8);
            blk[15] ^= (uint8_t)j;
            if (!ciph(ctx, blk))
                goto done_bn;
        }
        OPENSSL_cleanse(r, sizeof(r));
        /* 6.iv - 6.ix */
        if (BN_bin2bn(s, (int)d, yv) == NULL)
            goto done_bn;
        const BIGNUM *mod = (i % 2 == 0) ? mod_u : mod_v;
        BIGNUM *old;
        if (!decrypt) { /* c = (NUM(A) + y) mod radix^m; A = B; B = C */
            if (!BN_add(sum, a, yv) || !BN_nnmod(c, sum, mod, bn))
                goto done_bn;
            old = a;
            a = b;
            b = c;
            c = old;
        } else { /* c = (NUM(B) - y) mod radix^m; B = A; A = C */
            if (!BN_sub(sum, b, yv) || !BN_nnmod(c, sum, mod, bn))
                goto done_bn;
            old = b;
            b = a;
            a = c;
            c = old;
        }
    }
    if (!str_radix(a, radix, y, u) || !str_radix(b, radix, y + u, v)) /* step 7: A || B */
        goto done_bn;
    rc = SLUICE_FF1_OK;
done_bn:
    BN_CTX_end(bn);
done:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, buf_len);
        free(buf);
    }
    BN_CTX_free(bn);
    EVP_CIPHER_CTX_free(ctx);
    if (rc != SLUICE_FF1_OK)
        memset(y, 0, n * sizeof(*y));
    return rc;
}

int sluice_ff1_encrypt(const sluice_ff1_t *f, const uint8_t *tweak, size_t tweak_len, const uint16_t *x, size_t n,
                       uint16_t *y)
{
    return ff1_crypt(f, tweak, tweak_len, x, n, y, 0);
}

int sluice_ff1_decrypt(const sluice_ff1_t *f, const uint8_t *tweak, size_t tweak_len, const uint16_t *x, size_t n,
                       uint16_t *y)
{
    return ff1_crypt(f, tweak, tweak_len, x, n, y, 1);
}

/* ---------------------------------------------------------------------------- text layer */

static void alphabet_set(sluice_ff1_alphabet_t *a, const char *chars, size_t radix)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->chars, chars, radix);
    a->radix = (unsigned)radix;
    for (size_t i = 0; i < 256; i++)
        a->index[i] = -1;
    for (size_t i = 0; i < radix; i++)
        a->index[(unsigned char)chars[i]] = (int16_t)i;
}

int sluice_ff1_alphabet_default(sluice_ff1_alphabet_t *a, unsigned radix)
{
    if (radix < SLUICE_FF1_MIN_RADIX || radix > SLUICE_FF1_ALPHABET_MAX)
        return -1;
    alphabet_set(a, named_alnum, radix);
    return 0;
}

static int spec_is(const char *spec, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(spec, name, len) == 0;
}

int sluice_ff1_alphabet_parse(sluice_ff1_alphabet_t *a, const char *spec, size_t len, char *err, size_t err_len)
{
    if (spec_is(spec, len, "digits")) {
        alphabet_set(a, named_digits, 10);
        return 0;
    }
    if (spec_is(spec, len, "lower_alnum")) {
        alphabet_set(a, named_alnum, 36);
        return 0;
    }
    if (spec_is(spec, len, "alnum")) {
        alphabet_set(a, named_alnum, 62);
        return 0;
    }
    if (len < SLUICE_FF1_MIN_RADIX || len > SLUICE_FF1_ALPHABET_MAX) {
        snprintf(err, err_len,
                 "alphabet must be digits, lower_alnum, alnum, or 2 to 62 distinct characters (got %zu characters)",
                 len);
        return -1;
    }
    int seen[256] = {0};
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)spec[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            snprintf(err, err_len,
                     "alphabet character %zu is not printable ASCII (space, control and non-ASCII characters are "
                     "not allowed)",
                     i + 1);
            return -1;
        }
        if (seen[ch]++) {
            snprintf(err, err_len, "alphabet character %zu ('%c') appears twice", i + 1, ch);
            return -1;
        }
    }
    alphabet_set(a, spec, len);
    return 0;
}

int sluice_ff1_text(const sluice_ff1_t *f, const sluice_ff1_alphabet_t *a, const char *preserve, const uint8_t *tweak,
                    size_t tweak_len, int decrypt, const char *in, size_t n, char *out)
{
    int rc;
    uint16_t *num = NULL;
    size_t count = 0;
    if (a->radix != f->radix) {
        rc = SLUICE_FF1_ERADIX;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (a->index[ch] >= 0)
            count++;
        else if (ch == '\0' || preserve == NULL || strchr(preserve, ch) == NULL) {
            rc = SLUICE_FF1_ECHAR;
            goto fail;
        }
    }
    if (count < sluice_ff1_min_len(a->radix) || count > SLUICE_FF1_MAX_LEN) {
        rc = SLUICE_FF1_ELEN;
        goto fail;
    }
    num = malloc(count * sizeof(*num));
    if (num == NULL) {
        rc = SLUICE_FF1_ENOMEM;
        goto fail;
    }
    for (size_t i = 0, j = 0; i < n; i++) {
        int16_t v = a->index[(unsigned char)in[i]];
        if (v >= 0)
            num[j++] = (uint16_t)v;
    }
    rc = decrypt ? sluice_ff1_decrypt(f, tweak, tweak_len, num, count, num)
                 : sluice_ff1_encrypt(f, tweak, tweak_len, num, count, num);
    if (rc != SLUICE_FF1_OK)
        goto fail;
    /* Separators stay in place; in may be out, so each byte is read before it is written. */
    for (size_t i = 0, j = 0; i < n; i++) {
        if (a->index[(unsigned char)in[i]] >= 0)
            out[i] = a->chars[num[j++]];
        else
            out[i] = in[i];
    }
    OPENSSL_cleanse(num, count * sizeof(*num));
    free(num);
    return SLUICE_FF1_OK;
fail:
    if (num != NULL) {
        OPENSSL_cleanse(num, count * sizeof(*num));
        free(num);
    }
    memset(out, 0, n);
    return rc;
}

/*
 * fpe rule parameters → FF1 cipher (see spec.h). Validation messages name the parameter and
 * what is expected, never the key. Built on one thread; applied from any.
 */
#include "spec.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strict hex (even length, digits only) into out (cap bytes). Returns the byte count or -1. */
static long unhex(const char *h, size_t n, uint8_t *out, size_t cap)
{
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)h[2 * i]), lo = hexval((unsigned char)h[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out, i);
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

int sluice_fpe_spec_init(sluice_fpe_spec_t *s, const char *key_hex, size_t key_hex_len, const char *alphabet,
                         size_t alphabet_len, const char *tweak_hex, size_t tweak_hex_len, const char *preserve,
                         size_t preserve_len, int64_t min_length, char *err, size_t err_len)
{
    memset(s, 0, sizeof(*s));
    if (sluice_ff1_alphabet_parse(&s->alphabet, alphabet, alphabet_len, err, err_len) != 0)
        return -1;
    const unsigned radix = s->alphabet.radix;
    long t = unhex(tweak_hex, tweak_hex_len, s->tweak, sizeof(s->tweak));
    if (t < 0) {
        snprintf(err, err_len, "tweak must be hex digits (an even number, at most %u bytes)", SLUICE_FF1_MAX_TWEAK);
        return -1;
    }
    s->tweak_len = (size_t)t;
    if (preserve_len > SLUICE_FPE_PRESERVE_MAX) {
        snprintf(err, err_len, "preserve lists more than %d characters", SLUICE_FPE_PRESERVE_MAX);
        return -1;
    }
    for (size_t i = 0; i < preserve_len; i++) {
        unsigned char c = (unsigned char)preserve[i];
        if (c < 0x20 || c > 0x7e) {
            snprintf(err, err_len, "preserve character %zu is not printable ASCII", i + 1);
            return -1;
        }
        if (s->alphabet.index[c] >= 0) {
            snprintf(err, err_len, "preserve character '%c' is in the alphabet: it would be encrypted, not kept", c);
            return -1;
        }
    }
    memcpy(s->preserve, preserve, preserve_len);
    s->min_len = sluice_ff1_min_len(radix);
    if (min_length >= 0) {
        if ((uint64_t)min_length < s->min_len) {
            snprintf(err, err_len,
                     "min_length %lld is too small for radix %u: FF1 needs radix^length >= 1000000, so at least %zu "
                     "characters",
                     (long long)min_length, radix, s->min_len);
            return -1;
        }
        if (min_length > SLUICE_FF1_MAX_LEN) {
            snprintf(err, err_len, "min_length must be at most %u", SLUICE_FF1_MAX_LEN);
            return -1;
        }
        s->min_len = (size_t)min_length;
    }
    uint8_t key[32];
    long k = unhex(key_hex, key_hex_len, key, sizeof(key));
    if (k != 16 && k != 24 && k != 32) {
        if (k > 0)
            OPENSSL_cleanse(key, (size_t)k);
        snprintf(err, err_len,
                 "the key must be 32, 48 or 64 hex digits (AES-128, AES-192, AES-256); got %zu characters",
                 key_hex_len);
        return -1;
    }
    int rc = sluice_ff1_create(key, (size_t)k, radix, &s->ff1);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc != SLUICE_FF1_OK) {
        snprintf(err, err_len, "%s", sluice_ff1_strerror(rc));
        return -1;
    }
    return 0;
}

void sluice_fpe_spec_dispose(sluice_fpe_spec_t *s)
{
    if (s == NULL)
        return;
    sluice_ff1_free(s->ff1);
    OPENSSL_cleanse(s, sizeof(*s));
}

int sluice_fpe_spec_apply(const sluice_fpe_spec_t *s, int decrypt, const char *in, size_t n, char *out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += s->alphabet.index[(unsigned char)in[i]] >= 0;
    if (count < s->min_len) {
        memset(out, 0, n);
        return SLUICE_FF1_ELEN;
    }
    return sluice_ff1_text(s->ff1, &s->alphabet, s->preserve, s->tweak, s->tweak_len, decrypt, in, n, out);
}

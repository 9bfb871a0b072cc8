/*
 * An `fpe` rule's parameters turned into a ready cipher: the FF1 key, alphabet, tweak,
 * separators kept in place and the shortest value accepted. Shared by the fpe plugin (create,
 * mask) and `sluicectl unmask`, so both read a rule's parameters the same way and with the
 * same defaults.
 *
 * Threading: built on one thread, then immutable; sluice_fpe_spec_apply may run on any number
 * of threads at once.
 */
#ifndef SLUICE_PLUGINS_FPE_SPEC_H
#define SLUICE_PLUGINS_FPE_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "ff1.h"

/* Defaults of the optional parameters (the plugin's config map declares the same). */
#define SLUICE_FPE_DEFAULT_ALPHABET "digits"
#define SLUICE_FPE_DEFAULT_TWEAK    ""
#define SLUICE_FPE_DEFAULT_PRESERVE ""
#define SLUICE_FPE_PRESERVE_MAX     32

typedef struct sluice_fpe_spec {
    sluice_ff1_t *ff1;
    sluice_ff1_alphabet_t alphabet;
    uint8_t tweak[SLUICE_FF1_MAX_TWEAK];
    size_t tweak_len;
    char preserve[SLUICE_FPE_PRESERVE_MAX + 1]; /* NUL-terminated */
    size_t min_len;                             /* fewest alphabet characters a value may have */
} sluice_fpe_spec_t;

/* Builds s from the parameters' texts: key_hex (32, 48 or 64 hex digits: AES-128/192/256),
 * alphabet (see sluice_ff1_alphabet_parse), tweak_hex (0..512 hex digits), preserve (printable
 * ASCII characters not in the alphabet, at most 32), min_length (< 0 when not given; else it
 * must reach FF1's domain minimum radix^min_length >= 1,000,000 and be at most 4096).
 * Returns 0, or -1 with one sentence in err that never contains the key. The caller keeps and
 * wipes key_hex; s holds its own copy inside the cipher. Dispose with sluice_fpe_spec_dispose. */
int sluice_fpe_spec_init(sluice_fpe_spec_t *s, const char *key_hex, size_t key_hex_len, const char *alphabet,
                         size_t alphabet_len, const char *tweak_hex, size_t tweak_hex_len, const char *preserve,
                         size_t preserve_len, int64_t min_length, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Frees the cipher (wiping its key) and zeroes s. NULL allowed. */
void sluice_fpe_spec_dispose(sluice_fpe_spec_t *s);

/* Encrypts (decrypt 0) or decrypts (decrypt 1) in[0..n) into out (n bytes, no NUL; out may be
 * in): sluice_ff1_text with the spec's settings, after checking the value has at least
 * min_len alphabet characters (else SLUICE_FF1_ELEN). Returns a SLUICE_FF1_* code. */
int sluice_fpe_spec_apply(const sluice_fpe_spec_t *s, int decrypt, const char *in, size_t n, char *out)
    __attribute__((warn_unused_result));

#endif

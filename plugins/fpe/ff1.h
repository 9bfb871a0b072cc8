/*
 * NIST SP 800-38G FF1 format-preserving encryption (AES-128/192/256 by key length), plus the
 * text layer the `fpe` plugin, `sluicectl fpe` and `sluicectl unmask` share: alphabets (a radix
 * and its characters) and separators kept in place.
 *
 * Compiled into the fpe plugin and into sluicectl from the same source, so a value the plugin
 * wrote is reversed by exactly the code that wrote it. Depends on OpenSSL libcrypto only (this
 * header on the C standard library only), so the plugin still builds against the public
 * header alone.
 *
 * Threading: a sluice_ff1_t and a sluice_ff1_alphabet_t are immutable after creation; any
 * number of threads may encrypt and decrypt with them at once. Each call allocates its own
 * cipher context and big-number scratch, and wipes what it derived from the key.
 */
#ifndef SLUICE_PLUGINS_FPE_FF1_H
#define SLUICE_PLUGINS_FPE_FF1_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_FF1_MIN_RADIX 2u
#define SLUICE_FF1_MAX_RADIX 65536u
/* NIST SP 800-38G (rev. 1) requires radix^minlen >= 1,000,000 (and minlen >= 2). */
#define SLUICE_FF1_MIN_DOMAIN 1000000u
/* Longest numeral string, and longest tweak in bytes, this implementation accepts. The standard
 * allows more; these bound the work and memory of one call on the hot path. */
#define SLUICE_FF1_MAX_LEN   4096u
#define SLUICE_FF1_MAX_TWEAK 256u
/* Alphabets are printable ASCII characters, at most 62 of them (the size of 0-9a-zA-Z). */
#define SLUICE_FF1_ALPHABET_MAX 62u

/* Result codes. The numbers never change. */
enum {
    SLUICE_FF1_OK = 0,
    SLUICE_FF1_EKEY = -1,     /* key is not 16, 24 or 32 bytes */
    SLUICE_FF1_ERADIX = -2,   /* radix outside 2..65536, or alphabet radix != cipher radix */
    SLUICE_FF1_ELEN = -3,     /* too few numerals (radix^n < 1,000,000 or n < 2) or more than MAX_LEN */
    SLUICE_FF1_ETWEAK = -4,   /* tweak longer than SLUICE_FF1_MAX_TWEAK */
    SLUICE_FF1_ENUMERAL = -5, /* a numeral >= radix */
    SLUICE_FF1_ECHAR = -6,    /* text: a character neither in the alphabet nor kept in place */
    SLUICE_FF1_ENOMEM = -7,
    SLUICE_FF1_ECRYPTO = -8, /* OpenSSL failed (AES unavailable, big-number error) */
};

/* A short fixed description of a result code, for messages. Static storage. */
const char *sluice_ff1_strerror(int code);

typedef struct sluice_ff1 sluice_ff1_t;

/* Smallest numeral-string length FF1 accepts for radix: the least n >= 2 with
 * radix^n >= 1,000,000 (radix 10: 6, radix 36: 4, radix 62: 4, radix 2: 20). 0 when radix is
 * outside 2..65536. */
size_t sluice_ff1_min_len(unsigned radix);

/* A cipher for radix under key[0..key_len) (16, 24 or 32 bytes: AES-128, -192, -256). The
 * object keeps a copy of the key (the caller keeps and wipes its own) and is owned by the
 * caller: free with sluice_ff1_free. Returns SLUICE_FF1_OK with *out set, or EKEY, ERADIX,
 * ENOMEM, ECRYPTO (*out NULL). */
int sluice_ff1_create(const uint8_t *key, size_t key_len, unsigned radix, sluice_ff1_t **out);

/* Wipes the key copy and frees. NULL is allowed. */
void sluice_ff1_free(sluice_ff1_t *f);

/* The radix f was created for. */
unsigned sluice_ff1_radix(const sluice_ff1_t *f);

/* FF1.Encrypt / FF1.Decrypt (SP 800-38G section 5.1, Algorithms 7 and 8) of the n numerals
 * x[0..n) (each < radix) with tweak[0..tweak_len) (tweak may be NULL when tweak_len is 0). Writes
 * n numerals into y, which may be x itself. Returns SLUICE_FF1_OK, or ELEN, ETWEAK, ENUMERAL,
 * ENOMEM, ECRYPTO (y is then left zeroed). */
int sluice_ff1_encrypt(const sluice_ff1_t *f, const uint8_t *tweak, size_t tweak_len, const uint16_t *x, size_t n,
                       uint16_t *y) __attribute__((warn_unused_result));
int sluice_ff1_decrypt(const sluice_ff1_t *f, const uint8_t *tweak, size_t tweak_len, const uint16_t *x, size_t n,
                       uint16_t *y) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------------------- text layer */

/* An alphabet: the radix characters standing for numerals 0..radix-1. Caller storage. */
typedef struct sluice_ff1_alphabet {
    unsigned radix;
    char chars[SLUICE_FF1_ALPHABET_MAX + 1]; /* NUL-terminated */
    int16_t index[256];                      /* numeral of each byte, -1 when not in the alphabet */
} sluice_ff1_alphabet_t;

/* Sets a from spec[0..len): a name, `digits` (0-9), `lower_alnum` (0-9a-z, radix 36) or `alnum`
 * (0-9a-zA-Z, radix 62), or else the characters themselves in numeral order: 2..62 distinct
 * printable ASCII characters other than space (`0123456789ABCDEF`). Returns 0, or -1 with one
 * sentence in err (which never repeats spec: it may be operator input, but it is not secret). */
int sluice_ff1_alphabet_parse(sluice_ff1_alphabet_t *a, const char *spec, size_t len, char *err, size_t err_len);

/* Sets a to the first radix characters of 0-9a-zA-Z (radix 10 = digits, 36 = lower_alnum, 62 =
 * alnum). Returns 0, or -1 when radix is outside 2..62. */
int sluice_ff1_alphabet_default(sluice_ff1_alphabet_t *a, unsigned radix);

/* Encrypts (decrypt 0) or decrypts (decrypt 1) the text in[0..n): the characters of a are
 * gathered into one numeral string and enciphered as a whole; the characters listed in
 * preserve (NUL-terminated, may be NULL or "") stay where they are. Writes exactly n bytes into
 * out (no NUL; out may be in). a->radix must equal the cipher's radix, and preserve must hold
 * no character of a. Returns SLUICE_FF1_OK, or ECHAR (a character in neither set), ELEN (too
 * few or too many alphabet characters), ERADIX, ETWEAK, ENOMEM, ECRYPTO; on error out is left
 * zeroed. */
int sluice_ff1_text(const sluice_ff1_t *f, const sluice_ff1_alphabet_t *a, const char *preserve, const uint8_t *tweak,
                    size_t tweak_len, int decrypt, const char *in, size_t n, char *out)
    __attribute__((warn_unused_result));

#endif

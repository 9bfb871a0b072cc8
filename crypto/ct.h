/*
 * Constant-time comparison and secret wiping: the one place every compare of a key, token, MAC
 * or signature and every wipe of a secret goes through.
 *
 * Threading: pure functions, callable from any thread.
 */
#ifndef SLUICE_CRYPTO_CT_H
#define SLUICE_CRYPTO_CT_H

#include <stddef.h>

/* Returns 1 when the len bytes at a and b are equal, 0 otherwise. The time taken depends only
 * on len, never on the contents or on where the first difference is. len 0 compares equal
 * (a and b may then be NULL). */
int sluice_ct_equal(const void *a, const void *b, size_t len);

/* Returns 1 when the strings a (alen bytes) and b (blen bytes) are equal, 0 otherwise. Lengths
 * may leak through timing (unequal lengths return at once); contents never do. No NUL needed. */
int sluice_ct_streq(const char *a, size_t alen, const char *b, size_t blen);

/* Overwrites len bytes at p with zeros in a way the compiler may not optimise away
 * (OPENSSL_cleanse). p may be NULL when len is 0. */
void sluice_secure_zero(void *p, size_t len);

#endif

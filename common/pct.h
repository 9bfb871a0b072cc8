/*
 * Percent-decoding of URL parts (query parameters, form values), one set of rules for every
 * caller: `%XX` with hex digits in either case, `+` as a space (query strings are
 * application/x-www-form-urlencoded), and nothing else changed. Input is untrusted, so a
 * truncated or non-hex escape and an encoded NUL (`%00`, which would cut a C string short) are
 * refused rather than passed through. Pure function; any thread.
 */
#ifndef SLUICE_COMMON_PCT_H
#define SLUICE_COMMON_PCT_H

#include <stddef.h>

/* Decodes s[0..n) into the caller's out (cap bytes) and NUL-terminates it; the result is never
 * longer than the input, so cap = n + 1 always fits. Stores the decoded length in *out_len.
 * Returns 0, or -1 on a bad escape, an encoded NUL, or when out is too small. */
int sluice_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *out_len);

#endif

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

/* The same, read as a browser reads a query (URL standard, "percent-decode", as URLSearchParams
 * does): a '%' that starts no escape is kept as a '%', and so is %00 (kept as the three
 * characters), where sluice_pct_decode refuses the whole input. For values shown as the site
 * wrote them (campaign names: "Save+50%+today" is "Save 50% today"). Returns 0, or -1 when out
 * is too small (cap = n + 1 always fits). */
int sluice_pct_decode_loose(const char *s, size_t n, char *out, size_t cap, size_t *out_len);

#endif

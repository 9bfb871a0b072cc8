/*
 * UTF-8 checks for bytes that end up in JSON strings: headers and URL parts are the client's
 * bytes, and jansson refuses a string that is not UTF-8 (its setter then sets nothing), so a
 * value cut inside a character, or a header with a Latin-1 byte, was silently lost. Pure
 * functions; any thread.
 */
#ifndef SLUICE_COMMON_UTF8_H
#define SLUICE_COMMON_UTF8_H

#include <stddef.h>

/* The length of the UTF-8 character at s[0..n) (1 to 4), or 0 when it is not one: a stray or
 * missing continuation byte, an overlong form, a surrogate or a code point past U+10FFFF (what
 * jansson refuses). */
size_t sluice_utf8_char(const char *s, size_t n);

/* 1 when all of s[0..n) is UTF-8. */
int sluice_utf8_valid(const char *s, size_t n);

/* The longest prefix of s[0..n) of at most cap bytes that does not end inside a character (s is
 * taken to be UTF-8): where to cut a value to fit a buffer. */
size_t sluice_utf8_cut(const char *s, size_t n, size_t cap);

/* Copies s[0..n) into out with each byte that does not start a UTF-8 character replaced by
 * U+FFFD (3 bytes), NUL-terminated. out needs 3 * n + 1 bytes. Returns the length written. */
size_t sluice_utf8_repair(const char *s, size_t n, char *out);

#endif

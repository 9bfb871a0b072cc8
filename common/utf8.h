/*
 * UTF-8 checks for bytes that end up in JSON strings: headers and URL parts are the client's
 * bytes, and jansson refuses a string that is not UTF-8 (its setter then sets nothing), so a
 * value cut inside a character, or a header with a Latin-1 byte, was silently lost. Pure
 * functions; any thread.
 */
#ifndef SLUICE_COMMON_UTF8_H
#define SLUICE_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length of the UTF-8 character at s[0..n) (1 to 4), or 0 when it is not one: a stray or
 * missing continuation byte, an overlong form, a surrogate or a code point past U+10FFFF (what
 * jansson refuses). Inline: the JSON parser runs it on every character past ASCII. */
static inline size_t sluice_utf8_char(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0)
        return 0;
    unsigned c = u[0], cp;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (u[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The code point of the character sluice_utf8_char measured as len (1 to 4) bytes at s. */
static inline uint32_t sluice_utf8_decode(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t cp = u[0] & lead_mask[len];
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (u[i] & 0x3f);
    return cp;
}

/* For a code point past ASCII: 1 when it is a letter of any script (Unicode category L*), 2 a
 * combining mark or a decimal digit (M*, Nd), 3 punctuation (P*), 4 a space (Zs), 0 anything
 * else. 1 and 2 are what "letters and numbers" means in a name GA4 accepts. */
int sluice_unicode_word_kind(uint32_t cp);

/* 1 when all of s[0..n) is UTF-8. */
int sluice_utf8_valid(const char *s, size_t n);

/* The longest prefix of s[0..n) of at most cap bytes that does not end inside a character (s is
 * taken to be UTF-8): where to cut a value to fit a buffer. */
size_t sluice_utf8_cut(const char *s, size_t n, size_t cap);

/* The bytes of the first chars characters of s[0..n) (s taken to be UTF-8: every byte that is
 * no continuation byte starts one): where to cut a value to a limit in characters, as
 * vendors count them (GA4's 100 for a parameter value), not in bytes. */
size_t sluice_utf8_prefix_chars(const char *s, size_t n, size_t chars);

/* Copies s[0..n) into out with each byte that does not start a UTF-8 character replaced by
 * U+FFFD (3 bytes), NUL-terminated. out needs 3 * n + 1 bytes. Returns the length written. */
size_t sluice_utf8_repair(const char *s, size_t n, char *out);

#endif

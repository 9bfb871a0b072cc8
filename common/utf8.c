/* UTF-8 checks (common/utf8.h). Any thread; no state. */
#include "common/utf8.h"

#include <string.h>

#include "common/unicode_word.h"

int sluice_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = sluice_utf8_char(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

size_t sluice_utf8_cut(const char *s, size_t n, size_t cap)
{
    if (n <= cap)
        return n;
    size_t len = cap;
    /* s[len] is the first byte left out: while it continues a character, that character is cut. */
    while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
        len--;
    return len;
}

size_t sluice_utf8_prefix_chars(const char *s, size_t n, size_t chars)
{
    size_t i = 0;
    for (size_t k = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && k++ == chars)
            break; /* s[i] starts character chars + 1 */
    }
    return i;
}

size_t sluice_utf8_repair(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = sluice_utf8_char(s + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    return o;
}

int sluice_unicode_word_kind(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(sluice_unicode_word) / sizeof(sluice_unicode_word[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < sluice_unicode_word[mid].first)
            hi = mid;
        else if (cp > sluice_unicode_word[mid].last)
            lo = mid + 1;
        else
            return sluice_unicode_word[mid].kind;
    }
    return 0;
}

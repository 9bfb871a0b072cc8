/* Percent-decoding (common/pct.h). Any thread; no state. */
#include "common/pct.h"

#include "common/hex.h"

/* loose: a bad escape or %00 is copied as text instead of refusing the input. */
static int decode(const char *s, size_t n, char *out, size_t cap, size_t *out_len, int loose)
{
    size_t o = 0;
    if (cap == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = sluice_hex_digit((unsigned char)s[i + 1])) < 0 ||
                (lo = sluice_hex_digit((unsigned char)s[i + 2])) < 0 || (hi | lo) == 0) {
                if (!loose)
                    return -1;
            } else {
                c = (char)(hi << 4 | lo);
                i += 2;
            }
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

int sluice_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *out_len)
{
    return decode(s, n, out, cap, out_len, 0);
}

int sluice_pct_decode_loose(const char *s, size_t n, char *out, size_t cap, size_t *out_len)
{
    return decode(s, n, out, cap, out_len, 1);
}

/*
 * Accept-Encoding and If-None-Match, for the tag route. Both headers come from the client, so
 * the parsers only ever read inside [value, value + len), accept any bytes, and give the
 * conservative answer on anything malformed (no gzip is never wrong for a client that sent
 * garbage; a malformed If-None-Match never produces a 304). Pure functions, any thread.
 */
#include "gateway/negotiate.h"

#include <string.h>
#include <strings.h>

/* The first c in [p, end), or NULL. (A loop rather than memchr: GCC cannot prove the lengths
 * non-negative and warns.) */
static const char *find(const char *p, const char *end, char c)
{
    for (; p < end; p++)
        if (*p == c)
            return p;
    return NULL;
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* 1 when a qvalue (RFC 9110 12.4.2) is zero: "0", "0.", "0.0", "0.00", "0.000". */
static int qvalue_zero(const char *p, size_t n)
{
    if (n == 0 || n > 5 || p[0] != '0')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(i == 1 ? p[i] == '.' : p[i] == '0'))
            return 0;
    return 1;
}

int sluice_negotiate_gzip(const char *value, size_t len)
{
    int gzip_q = -1, star_q = -1; /* -1 not named, 0 refused, 1 accepted */
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *comma = find(p, end, ',');
        const char *stop = comma ? comma : end;
        while (p < stop && ows(*p))
            p++;
        const char *semi = find(p, stop, ';');
        const char *name_end = semi ? semi : stop;
        while (name_end > p && ows(name_end[-1]))
            name_end--;
        int accepted = 1;
        for (const char *a = semi; a != NULL && a < stop;) {
            a++;
            while (a < stop && ows(*a))
                a++;
            const char *next = find(a, stop, ';');
            const char *vend = next ? next : stop;
            while (vend > a && ows(vend[-1]))
                vend--;
            if (vend - a >= 2 && (a[0] == 'q' || a[0] == 'Q') && a[1] == '=')
                accepted = !qvalue_zero(a + 2, (size_t)(vend - a - 2));
            a = next;
        }
        size_t nl = (size_t)(name_end - p);
        if ((nl == 4 && strncasecmp(p, "gzip", 4) == 0) || (nl == 6 && strncasecmp(p, "x-gzip", 6) == 0))
            gzip_q = accepted;
        else if (nl == 1 && *p == '*')
            star_q = accepted;
        p = stop + 1;
    }
    return gzip_q >= 0 ? gzip_q : star_q > 0;
}

int sluice_negotiate_etag_match(const char *value, size_t len, const char *etag)
{
    size_t el = strlen(etag);
    const char *p = value, *end = value + len;
    while (p < end) {
        while (p < end && (ows(*p) || *p == ','))
            p++;
        if (p == end)
            break;
        if (*p == '*') {
            const char *q = p + 1;
            while (q < end && ows(*q))
                q++;
            return q == end || *q == ',';
        }
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (p == end || *p != '"')
            return 0;
        const char *close = find(p + 1, end, '"');
        if (close == NULL)
            return 0;
        size_t tl = (size_t)(close - p + 1);
        if (tl == el && memcmp(p, etag, el) == 0)
            return 1;
        p = close + 1;
    }
    return 0;
}

/*
 * URL helpers for identity: hosts of origins and link targets, one decoded query parameter,
 * removing a parameter in place. Input is untrusted (browsers send it), so every parser here
 * is strict about what it accepts and bounded by the caller's buffers. Any thread.
 */
#include "identity/url.h"

#include <string.h>
#include <strings.h>

#include "common/pct.h"

int sluice_url_host(const char *s, size_t len, char *out, size_t cap)
{
    const char *p = s, *end = s + len;
    for (size_t i = 0; i + 2 < len; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            int http = (i == 4 && strncasecmp(s, "http", 4) == 0) || (i == 5 && strncasecmp(s, "https", 5) == 0);
            if (!http)
                return -1;
            p = s + i + 3;
            break;
        }
        if (s[i] == '/' || s[i] == '?' || s[i] == '#')
            break; /* no scheme before the path: a bare host */
    }
    const char *stop = p;
    while (stop < end && *stop != '/' && *stop != '?' && *stop != '#')
        stop++;
    if (memchr(p, '@', (size_t)(stop - p)) != NULL)
        return -1;
    const char *host_end = stop;
    const char *colon = memchr(p, ':', (size_t)(stop - p));
    if (colon != NULL) {
        size_t digits = (size_t)(stop - colon - 1);
        if (digits == 0 || digits > 5)
            return -1;
        for (const char *d = colon + 1; d < stop; d++)
            if (*d < '0' || *d > '9')
                return -1;
        host_end = colon;
    }
    if (host_end > p && host_end[-1] == '.')
        host_end--;
    size_t n = (size_t)(host_end - p);
    if (n == 0 || n > SLUICE_URL_HOST_MAX || n + 1 > cap || p[0] == '.' || p[0] == '-')
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return -1;
        if (c == '.' && i > 0 && out[i - 1] == '.')
            return -1;
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
}

/* The query of url: [*q, *qend) without the '?', or 0 when url has none. */
static int query_span(const char *url, const char **q, const char **qend)
{
    const char *mark = strchr(url, '?');
    if (mark == NULL)
        return 0;
    const char *frag = strchr(url, '#');
    if (frag != NULL && frag < mark)
        return 0; /* a '?' inside the fragment is not a query */
    *q = mark + 1;
    *qend = frag != NULL ? frag : mark + 1 + strlen(mark + 1);
    return 1;
}

/* 1 when the parameter name s[0..n) decodes to name. */
static int name_is(const char *s, size_t n, const char *name)
{
    char buf[64];
    size_t bl;
    return sluice_pct_decode(s, n, buf, sizeof(buf), &bl) == 0 && strcmp(buf, name) == 0;
}

int sluice_url_better_copy(const void *kept, size_t kept_len, size_t len)
{
    /* An empty copy carries no click and no token, and one often comes before the real one: a
     * landing page's template with an unfilled placeholder ("?gclid=" or "gclid={gclid}" left
     * empty) to which the ad network's auto-tagging appends its own "&gclid=Cj0...", or a link
     * decorated twice. Taking it lost the click (sluice_click_ids drops empty values). Among copies
     * with a value the first still wins, as URLSearchParams.get reads it and as the vendors' tags
     * on the page do: the gateway and the pixel then name the same click. */
    return kept == NULL || (kept_len == 0 && len > 0);
}

int sluice_url_param(const char *url, const char *name, char *out, size_t cap, size_t *out_len)
{
    const char *q, *qend, *v = NULL, *vend = NULL;
    *out_len = 0;
    if (cap > 0)
        out[0] = '\0';
    if (!query_span(url, &q, &qend))
        return 0;
    while (q < qend && (v == NULL || v == vend)) {
        const char *amp = memchr(q, '&', (size_t)(qend - q));
        const char *stop = amp != NULL ? amp : qend;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *name_end = eq != NULL ? eq : stop;
        const char *val = eq != NULL ? eq + 1 : stop;
        if (name_is(q, (size_t)(name_end - q), name) &&
            sluice_url_better_copy(v, v != NULL ? (size_t)(vend - v) : 0, (size_t)(stop - val))) {
            v = val;
            vend = stop;
        }
        q = stop + 1;
    }
    if (v == NULL)
        return 0;
    if (sluice_pct_decode(v, (size_t)(vend - v), out, cap, out_len) != 0) {
        *out_len = 0;
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    return 1;
}

size_t sluice_url_params_raw(const char *url, const char *const *names, size_t count, struct iovec *values)
{
    size_t found = 0, valued = 0;
    for (size_t i = 0; i < count; i++)
        values[i] = (struct iovec){0};
    const char *q, *qend;
    if (!query_span(url, &q, &qend))
        return 0;
    while (q < qend && valued < count) {
        const char *amp = memchr(q, '&', (size_t)(qend - q));
        const char *stop = amp != NULL ? amp : qend;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *name_end = eq != NULL ? eq : stop;
        char buf[64];
        size_t bl;
        /* Decoded once per parameter, not once per name asked for. */
        if (sluice_pct_decode(q, (size_t)(name_end - q), buf, sizeof(buf), &bl) == 0) {
            for (size_t i = 0; i < count; i++) {
                if (strcmp(buf, names[i]) != 0)
                    continue;
                const char *v = eq != NULL ? eq + 1 : stop;
                if (sluice_url_better_copy(values[i].iov_base, values[i].iov_len, (size_t)(stop - v))) {
                    found += values[i].iov_base == NULL;
                    valued += v < stop;
                    values[i].iov_base = (void *)v;
                    values[i].iov_len = (size_t)(stop - v);
                }
                break;
            }
        }
        q = stop + 1;
    }
    return found;
}

size_t sluice_url_remove_param(char *url, const char *name)
{
    const char *cq, *cqend;
    if (!query_span(url, &cq, &cqend))
        return 0;
    char *q = (char *)cq, *qend = (char *)cqend;
    char *r = q, *w = q;
    size_t removed = 0, kept = 0;
    /* w never passes r: we only ever drop bytes, so moving kept parts left is safe. */
    while (r < qend) {
        char *amp = memchr(r, '&', (size_t)(qend - r));
        char *stop = amp != NULL ? amp : qend;
        char *eq = memchr(r, '=', (size_t)(stop - r));
        if (name_is(r, (size_t)((eq != NULL ? eq : stop) - r), name)) {
            removed++;
        } else {
            if (kept++ > 0)
                *w++ = '&';
            memmove(w, r, (size_t)(stop - r));
            w += stop - r;
        }
        if (amp == NULL)
            break;
        r = amp + 1;
    }
    if (removed == 0)
        return 0;
    if (kept == 0)
        w = q - 1; /* the '?' goes too */
    memmove(w, qend, strlen(qend) + 1);
    return removed;
}

int sluice_url_remove_userinfo(char *url)
{
    char *p = url;
    if (p[0] != '/' || p[1] != '/') {
        /* scheme: a letter, then letters, digits, '+', '-' or '.', then "://" */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
               *p == '-' || *p == '.')
            p++;
        if (p[0] != ':' || p[1] != '/' || p[2] != '/')
            return 0;
        p++;
    }
    char *auth = p + 2;
    size_t n = strcspn(auth, "/?#\\");
    char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (at == NULL)
        return 0;
    memmove(auth, at + 1, strlen(at + 1) + 1);
    return 1;
}

/*
 * UTM parameters and referrer classification (campaign.h). Pure; any thread.
 */
#include "enrich/campaign.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/pct.h"
#include "common/utf8.h"

/* ------------------------------------------------------------------ UTM */

/* Decodes v[0..n) ('+' is a space) into out, cut to cap at a character's start; a value that does
 * not decode, or decodes to bytes that are not UTF-8 (`%FF`), is kept as sent (a JSON string
 * cannot hold it: it was lost). */
static void decode_value(const char *v, size_t n, char *out, size_t cap)
{
    char tmp[SLUICE_CAMPAIGN_VALUE_MAX * 3 + 1];
    if (n >= sizeof(tmp)) {
        n = sizeof(tmp) - 1; /* enough for cap decoded bytes; not inside an escape */
        if (v[n - 1] == '%')
            n -= 1;
        else if (v[n - 2] == '%')
            n -= 2;
    }
    size_t len = 0;
    if (sluice_pct_decode(v, n, tmp, sizeof(tmp), &len) != 0) {
        memcpy(tmp, v, n);
        len = n;
    }
    len = sluice_utf8_cut(tmp, len, cap - 1);
    if (!sluice_utf8_valid(tmp, len)) {
        memcpy(tmp, v, n); /* the URL's own text is UTF-8 (it came in a JSON string) */
        len = sluice_utf8_cut(tmp, n, cap - 1);
    }
    memcpy(out, tmp, len);
    out[len] = '\0';
}

int sluice_campaign_parse(const char *url, sluice_campaign_t *out)
{
    memset(out, 0, sizeof(*out));
    if (url == NULL)
        return 0;
    /* The query ends at the fragment, and a '?' inside the fragment (a hash route's) is not one. */
    const char *end = url + strcspn(url, "#");
    const char *q = memchr(url, '?', (size_t)(end - url));
    if (q == NULL)
        return 0;
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"utm_campaign", offsetof(sluice_campaign_t, name)},   {"utm_source", offsetof(sluice_campaign_t, source)},
        {"utm_medium", offsetof(sluice_campaign_t, medium)},   {"utm_term", offsetof(sluice_campaign_t, term)},
        {"utm_content", offsetof(sluice_campaign_t, content)},
    };
    int found = 0;
    for (const char *p = q + 1; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        if (eq != NULL) {
            /* The name is percent-decoded as the value is (`utm%5Fsource` is utm_source, as
             * URLSearchParams reads it): a link with escaped names made context.campaign {}. A
             * name too long to be one of ours is not decoded. */
            const char *name = p;
            size_t kl = (size_t)(eq - p);
            char dec[40];
            if (memchr(p, '%', kl) != NULL && kl < sizeof(dec) && sluice_pct_decode(p, kl, dec, sizeof(dec), &kl) == 0)
                name = dec;
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                char *dst = (char *)out + keys[k].off;
                if (strlen(keys[k].key) == kl && strncasecmp(name, keys[k].key, kl) == 0 && dst[0] == '\0' &&
                    amp > eq + 1) {
                    decode_value(eq + 1, (size_t)(amp - eq - 1), dst, SLUICE_CAMPAIGN_VALUE_MAX);
                    found += dst[0] != '\0';
                }
            }
        }
        p = amp + 1;
    }
    return found;
}

/* ------------------------------------------------------------------ referrers */

typedef struct builtin {
    const char *host; /* a suffix of labels; "google.*" is google under any top-level domain */
    sluice_referrer_medium_t medium;
    const char *source;
} builtin_t;

/* Web mail first: mail.google.com is e-mail, not search. */
static const builtin_t builtins[] = {
    {"mail.google.com", SLUICE_REFERRER_EMAIL, "Gmail"},
    {"outlook.live.com", SLUICE_REFERRER_EMAIL, "Outlook.com"},
    {"outlook.office.com", SLUICE_REFERRER_EMAIL, "Outlook"},
    {"outlook.office365.com", SLUICE_REFERRER_EMAIL, "Outlook"},
    {"mail.yahoo.com", SLUICE_REFERRER_EMAIL, "Yahoo! Mail"},
    {"mail.proton.me", SLUICE_REFERRER_EMAIL, "Proton Mail"},
    {"webmail.gmx.net", SLUICE_REFERRER_EMAIL, "GMX"},
    {"google.*", SLUICE_REFERRER_SEARCH, "Google"},
    {"bing.com", SLUICE_REFERRER_SEARCH, "Bing"},
    {"duckduckgo.com", SLUICE_REFERRER_SEARCH, "DuckDuckGo"},
    {"search.yahoo.com", SLUICE_REFERRER_SEARCH, "Yahoo!"},
    {"yandex.*", SLUICE_REFERRER_SEARCH, "Yandex"},
    {"baidu.com", SLUICE_REFERRER_SEARCH, "Baidu"},
    {"ecosia.org", SLUICE_REFERRER_SEARCH, "Ecosia"},
    {"search.brave.com", SLUICE_REFERRER_SEARCH, "Brave"},
    {"qwant.com", SLUICE_REFERRER_SEARCH, "Qwant"},
    {"naver.com", SLUICE_REFERRER_SEARCH, "Naver"},
    {"facebook.com", SLUICE_REFERRER_SOCIAL, "Facebook"},
    {"fb.me", SLUICE_REFERRER_SOCIAL, "Facebook"},
    {"instagram.com", SLUICE_REFERRER_SOCIAL, "Instagram"},
    {"t.co", SLUICE_REFERRER_SOCIAL, "Twitter"},
    {"twitter.com", SLUICE_REFERRER_SOCIAL, "Twitter"},
    {"x.com", SLUICE_REFERRER_SOCIAL, "Twitter"},
    {"linkedin.com", SLUICE_REFERRER_SOCIAL, "LinkedIn"},
    {"lnkd.in", SLUICE_REFERRER_SOCIAL, "LinkedIn"},
    {"reddit.com", SLUICE_REFERRER_SOCIAL, "Reddit"},
    {"pinterest.com", SLUICE_REFERRER_SOCIAL, "Pinterest"},
    {"tiktok.com", SLUICE_REFERRER_SOCIAL, "TikTok"},
    {"youtube.com", SLUICE_REFERRER_SOCIAL, "YouTube"},
    {"threads.net", SLUICE_REFERRER_SOCIAL, "Threads"},
    {"bsky.app", SLUICE_REFERRER_SOCIAL, "Bluesky"},
    {"news.ycombinator.com", SLUICE_REFERRER_SOCIAL, "Hacker News"},
};

/* The host of an http(s) URL into out (lowercased, without port or userinfo); 0 or -1. */
static int url_host(const char *url, char *out, size_t cap)
{
    if (url == NULL)
        return -1;
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return -1;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *colon = memchr(p, ':', n);
    if (colon != NULL)
        n = (size_t)(colon - p);
    if (n == 0 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[n - 1] = '\0';
    return 0;
}

/* 1 when host is pattern or one of its subdomains; "name.*" matches name.<any tld>, also with a
 * second-level part (google.co.uk). */
static int host_matches(const char *host, const char *pattern)
{
    size_t hl = strlen(host), pl = strlen(pattern);
    if (pl >= 2 && pattern[pl - 1] == '*' && pattern[pl - 2] == '.') {
        size_t nl = pl - 1; /* "google." */
        for (const char *h = host; h != NULL; h = strchr(h, '.'), h = h ? h + 1 : NULL) {
            if (strncmp(h, pattern, nl) == 0 && strchr(h + nl, '.') == strrchr(h + nl, '.') &&
                (strchr(h + nl, '.') == NULL || strlen(h + nl) <= 6))
                return h[nl] != '\0';
        }
        return 0;
    }
    if (hl < pl || strcmp(host + hl - pl, pattern) != 0)
        return 0;
    return hl == pl || host[hl - pl - 1] == '.';
}

sluice_referrer_medium_t sluice_referrer_classify(const sluice_enrich_config_t *e, const char *referrer,
                                                  const char *page_url, const char **source)
{
    *source = NULL;
    char host[256], page[256];
    if (url_host(referrer, host, sizeof(host)) != 0)
        return SLUICE_REFERRER_OTHER;
    if (page_url != NULL && url_host(page_url, page, sizeof(page)) == 0 && strcmp(host, page) == 0)
        return SLUICE_REFERRER_INTERNAL;
    for (size_t i = 0; e != NULL && i < e->referrer_host_count; i++)
        if (host_matches(host, e->referrer_hosts[i].host))
            return e->referrer_hosts[i].medium;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (host_matches(host, builtins[i].host)) {
            *source = builtins[i].source;
            return builtins[i].medium;
        }
    return SLUICE_REFERRER_OTHER;
}

const char *sluice_referrer_medium_name(sluice_referrer_medium_t m)
{
    static const char *const names[] = {"search", "social", "email", "internal", "other"};
    return (unsigned)m < 5 ? names[m] : "other";
}

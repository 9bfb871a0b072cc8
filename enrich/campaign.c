/*
 * Referrer classification (campaign.h; the UTM parameters are common/campaign.c's). Pure; any thread.
 */
#include "enrich/campaign.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

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

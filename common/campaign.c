/*
 * The UTM parameters of a page URL in Segment's context.campaign names (campaign.h): the
 * gateway's campaign enrichment and GA4's campaign_details read them with one set of rules. Pure;
 * any thread.
 */
#include "common/campaign.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/pct.h"
#include "common/utf8.h"

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

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

/* Decodes v[0..n) into out (SLUICE_CAMPAIGN_VALUE_MAX bytes), cut to SLUICE_CAMPAIGN_VALUE_CHARS
 * characters. Decoded as URLSearchParams decodes ("Save+50%+today" is "Save 50% today": one
 * lone '%' once kept the whole value undecoded); a value that decodes to bytes that are not
 * UTF-8 (`%FF`) is kept as sent (a JSON string cannot hold it: it was lost). */
static void decode_value(const char *v, size_t n, char *out)
{
    /* A character is at most 4 bytes, 12 when escaped: this much input holds the characters
     * kept, and past it nothing is read. */
    char tmp[3 * (SLUICE_CAMPAIGN_VALUE_MAX - 1) + 1];
    if (n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    size_t len = 0;
    if (sluice_pct_decode_loose(v, n, tmp, sizeof(tmp), &len) != 0)
        len = 0; /* cannot happen: tmp holds n + 1 bytes */
    len = sluice_utf8_prefix_chars(tmp, len, SLUICE_CAMPAIGN_VALUE_CHARS);
    if (!sluice_utf8_valid(tmp, len)) {
        memcpy(tmp, v, n); /* the URL's own text is UTF-8 (it came in a JSON string) */
        len = sluice_utf8_prefix_chars(tmp, n, SLUICE_CAMPAIGN_VALUE_CHARS);
    }
    memcpy(out, tmp, len);
    out[len] = '\0';
}

int sluice_campaign_parse(const char *url, sluice_campaign_t *out)
{
    /* Empty strings, not a zeroed struct: each value is NUL-terminated when written, and 3 KB of
     * zeroes per event was most of the parse. */
    out->id[0] = out->name[0] = out->source[0] = out->medium[0] = out->term[0] = out->content[0] = '\0';
    if (url == NULL)
        return 0;
    /* The query ends at the fragment, and a '?' inside the fragment (a hash route's) is not one. */
    const char *end = url + strcspn(url, "#");
    const char *q = memchr(url, '?', (size_t)(end - url));
    if (q == NULL)
        return 0;
    static const struct {
        const char *key;
        size_t len, off;
    } keys[] = {
        {"utm_campaign", sizeof("utm_campaign") - 1, offsetof(sluice_campaign_t, name)},
        {"utm_source", sizeof("utm_source") - 1, offsetof(sluice_campaign_t, source)},
        {"utm_medium", sizeof("utm_medium") - 1, offsetof(sluice_campaign_t, medium)},
        {"utm_term", sizeof("utm_term") - 1, offsetof(sluice_campaign_t, term)},
        {"utm_content", sizeof("utm_content") - 1, offsetof(sluice_campaign_t, content)},
        {"utm_id", sizeof("utm_id") - 1, offsetof(sluice_campaign_t, id)},
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
                /* The length first: a strlen and a strncasecmp of each key for each parameter were
                 * most of the parse's time. */
                if (keys[k].len == kl && strncasecmp(name, keys[k].key, kl) == 0 && dst[0] == '\0' && amp > eq + 1) {
                    decode_value(eq + 1, (size_t)(amp - eq - 1), dst);
                    found += dst[0] != '\0';
                }
            }
        }
        p = amp + 1;
    }
    return found;
}

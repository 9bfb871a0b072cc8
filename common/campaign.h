/*
 * The UTM parameters of a page URL in Segment's context.campaign names (utm_campaign → name,
 * utm_source → source, utm_medium → medium, utm_term → term, utm_content → content, utm_id → id, as
 * analytics.js names every utm_* by what follows the prefix), one set of
 * rules for the gateway's campaign enrichment (enrich/) and GA4's campaign_details (vendors/).
 * Pure function over caller storage; any thread.
 */
#ifndef SLUICE_COMMON_CAMPAIGN_H
#define SLUICE_COMMON_CAMPAIGN_H

/* The longest value kept, in characters rather than bytes: more than GA4's 100 for a parameter
 * value, so a value GA4 takes whole reaches it whole in any script (a 127-byte cut left 42
 * characters of a Chinese campaign name). */
#define SLUICE_CAMPAIGN_VALUE_CHARS 127
#define SLUICE_CAMPAIGN_VALUE_MAX   (4 * SLUICE_CAMPAIGN_VALUE_CHARS + 1)

typedef struct sluice_campaign {
    char id[SLUICE_CAMPAIGN_VALUE_MAX]; /* utm_id: GA4's campaign ID */
    char name[SLUICE_CAMPAIGN_VALUE_MAX];
    char source[SLUICE_CAMPAIGN_VALUE_MAX];
    char medium[SLUICE_CAMPAIGN_VALUE_MAX];
    char term[SLUICE_CAMPAIGN_VALUE_MAX];
    char content[SLUICE_CAMPAIGN_VALUE_MAX];
} sluice_campaign_t;

/* The utm_* parameters of url's query (percent-decoded as a browser reads a query: '+' a space, a
 * '%' that starts no escape kept; a value longer than SLUICE_CAMPAIGN_VALUE_CHARS characters is
 * cut between characters; the first non-empty one of a repeated parameter wins). Returns how
 * many were found. */
int sluice_campaign_parse(const char *url, sluice_campaign_t *out);

#endif

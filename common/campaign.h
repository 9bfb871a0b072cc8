/*
 * The UTM parameters of a page URL in Segment's context.campaign names (utm_campaign → name,
 * utm_source → source, utm_medium → medium, utm_term → term, utm_content → content), one set of
 * rules for the gateway's campaign enrichment (enrich/) and GA4's campaign_details (vendors/).
 * Pure function over caller storage; any thread.
 */
#ifndef SLUICE_COMMON_CAMPAIGN_H
#define SLUICE_COMMON_CAMPAIGN_H

#define SLUICE_CAMPAIGN_VALUE_MAX 128

typedef struct sluice_campaign {
    char name[SLUICE_CAMPAIGN_VALUE_MAX];
    char source[SLUICE_CAMPAIGN_VALUE_MAX];
    char medium[SLUICE_CAMPAIGN_VALUE_MAX];
    char term[SLUICE_CAMPAIGN_VALUE_MAX];
    char content[SLUICE_CAMPAIGN_VALUE_MAX];
} sluice_campaign_t;

/* The utm_* parameters of url's query (percent-decoded, '+' as space; a value longer than the
 * buffer is cut; the first of a repeated parameter wins). Returns how many were found. */
int sluice_campaign_parse(const char *url, sluice_campaign_t *out);

#endif

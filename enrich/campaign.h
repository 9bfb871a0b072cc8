/*
 * Campaign attribution and referrer classification: the UTM parameters of a page URL in
 * Segment's context.campaign names (utm_campaign → name, utm_source → source, utm_medium →
 * medium, utm_term → term, utm_content → content), and a referrer URL classified as search,
 * social, email, internal (the page's own host, or one the org lists) or other, with the source's
 * name ("Google") when the built-in table knows it. The org's table is looked up before the
 * built-in one. Pure functions; any thread.
 */
#ifndef SLUICE_ENRICH_CAMPAIGN_H
#define SLUICE_ENRICH_CAMPAIGN_H

#include "config/config.h"

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

/* The medium of referrer (a URL) for a page at page_url (NULL when unknown) under e's table;
 * *source gets the built-in table's name for the referring site, or NULL. A referrer that is no
 * http(s) URL with a host is SLUICE_REFERRER_OTHER with no source. */
sluice_referrer_medium_t sluice_referrer_classify(const sluice_enrich_config_t *e, const char *referrer,
                                                  const char *page_url, const char **source);

/* "search", "social", "email", "internal", "other". */
const char *sluice_referrer_medium_name(sluice_referrer_medium_t m);

#endif

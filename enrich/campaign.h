/*
 * Campaign attribution and referrer classification: the UTM parameters of a page URL in
 * Segment's context.campaign names (common/campaign.h, shared with GA4's delivery), and a
 * referrer URL classified as search,
 * social, email, internal (the page's own host, or one the org lists) or other, with the source's
 * name ("Google") when the built-in table knows it. The org's table is looked up before the
 * built-in one. Pure functions; any thread.
 */
#ifndef SLUICE_ENRICH_CAMPAIGN_H
#define SLUICE_ENRICH_CAMPAIGN_H

#include "common/campaign.h"
#include "config/config.h"

/* The medium of referrer (a URL) for a page at page_url (NULL when unknown) under e's table;
 * *source gets the built-in table's name for the referring site, or NULL. A referrer that is no
 * http(s) URL with a host is SLUICE_REFERRER_OTHER with no source. */
sluice_referrer_medium_t sluice_referrer_classify(const sluice_enrich_config_t *e, const char *referrer,
                                                  const char *page_url, const char **source);

/* "search", "social", "email", "internal", "other". */
const char *sluice_referrer_medium_name(sluice_referrer_medium_t m);

#endif

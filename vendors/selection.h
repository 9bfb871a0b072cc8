/*
 * The per-event `integrations` object of Segment's spec, honoured by delivery:
 * {"All": false, "Meta": true} sends the event only to what is named true; {"GA4": false} to
 * everything but that. A key names an integration by its config name, its vendor kind ("meta")
 * or the name Segment's catalogue gives the destination ("Facebook Conversions API", "Google
 * Analytics 4"), without regard to case. A value that is an object (destination options) counts as
 * true. Pure; any thread.
 */
#ifndef SLUICE_VENDORS_SELECTION_H
#define SLUICE_VENDORS_SELECTION_H

#include <jansson.h>

/* 1 when the event's integrations object (may be NULL) lets the integration called name, of vendor
 * kind `vendor`, receive it. */
int sluice_selection_allows(const json_t *integrations, const char *name, const char *vendor);

/* 1 when an integration with send_bots (its config) may receive event: always with send_bots,
 * else only when the gateway did not flag the event as a bot (context.bot, docs/enrichment.md). */
int sluice_selection_bots_allow(const json_t *event, int send_bots);

#endif

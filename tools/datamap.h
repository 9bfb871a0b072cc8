/*
 * The privacy data map of one org (`sluicectl privacy map`, docs/privacy.md "Data map"), built
 * from the config alone: every field path the org's data layer and the gateway's enrichments
 * touch, what happens to it (hashed with which normalisation, masked by which plugin, dropped,
 * passed), whether the consent policy removes it from events without consent, and which
 * integrations receive it as which vendor field.
 *
 * The model is JSON (what `--format json` prints); tools/mapdraw.c renders it as Markdown and
 * as Graphviz DOT. A field the gateway writes is one entry of the enrichment table in datamap.c;
 * what each vendor reads is the vendor table there (the person's fields come from
 * vendors/envelope.c), checked against the vendors' own mappings by tests/unit/tools/datamap.c.
 *
 * Main thread of sluicectl; pure functions of the config.
 */
#ifndef SLUICE_TOOLS_DATAMAP_H
#define SLUICE_TOOLS_DATAMAP_H

#include <jansson.h>

#include "config/config.h"

/* The map of org (one of cfg's orgs) as a new JSON object (caller owns the reference):
 *   {"org", "consent": {required, policy, aliases, without_consent, strip_removes},
 *    "fields": [{path, set_by, gateway_sets?, action, rule?, mirror_of?, covered_by?,
 *                normalize?, default_country_code?, variants?, plugin?, params?, on_error?,
 *                removed_without_consent, to: [{integration, as: [...], form}]}],
 *    "other_fields": {action, to},
 *    "integrations": [{name, vendor, enabled, consent, types, events, vendor_types,
 *                      sees_stripped, receives, reads: [{as, paths, form, variant?, personal,
 *                      required, note?, sent: [...]}]}],
 *    "warnings": [...]}
 * Deterministic: the same config gives the same map, byte for byte once dumped. NULL only when
 * out of memory. */
json_t *sluicectl_datamap_build(const sluice_config_t *cfg, const sluice_org_t *org);

#endif

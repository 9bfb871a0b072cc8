/*
 * Consent as the SDKs people run express it, read into sluice's one form. An event may carry:
 *
 *   context.consent.categories          sluice.js: ["analytics", "marketing"]
 *   context.consent.categoryPreferences Segment's consent wrapper: {"Analytics": true, "Advertising": false}
 *   context.consentManagement           RudderStack: {allowedConsentIds: [...], deniedConsentIds: [...]}
 *
 * Each name goes through the org's consent.aliases (Segment's "Analytics", OneTrust's "C0002"
 * → the org's category, case-insensitively); names without an alias are taken as they are. The
 * granted categories (the union of the three, minus what consentManagement denies) are written to
 * context.consent.categories, which the data layer and the delivery worker read; the formats the
 * client sent stay as they were. An event carrying none of them is left alone (no consent).
 *
 * The same functions exist for an event held as arena values (json/jv.h, issue 17), with the same
 * rules and results: the *_jv functions, which the request path runs.
 *
 * Pure; any thread.
 */
#ifndef SLUICE_GATEWAY_CONSENT_H
#define SLUICE_GATEWAY_CONSENT_H

#include <jansson.h>

#include "json/arena.h"
#include "json/jv.h"

#include "config/config.h"

/* Rewrites event's context.consent.categories as described above. Returns 0, or -1 when out of
 * memory: the event may then hold an empty context.consent object or a categories list without
 * GPC's withdrawal; the caller refuses it rather than sending it on. */
int sluice_consent_normalize(json_t *event, const sluice_consent_config_t *c);

/* The same, and *categories is then what context.consent.categories holds (borrowed; NULL when
 * absent, possibly not a list when the event has no consent format to read it from), and
 * *context the event's context member (borrowed; NULL when absent, possibly not an object), so
 * the caller does not look either up again. */
int sluice_consent_normalize_get(json_t *event, const sluice_consent_config_t *c, json_t **categories,
                                 json_t **context);

/* Global Privacy Control, after sluice_consent_normalize: with gpc set (the browser sent
 * `Sec-GPC: 1`), removes c->gpc_withdraws from context.consent.categories and stamps
 * context.consent.gpc true; without, removes a gpc the body claimed. Call only for an org with
 * gpc_withdraw_count > 0 on a browser's request. 0, or -1 out of memory. */
int sluice_consent_gpc(json_t *event, const sluice_consent_config_t *c, int gpc);

/* The three functions above for an event held as arena values (json/jv.h, issue 17): the same
 * rules (gateway/consent_rules.h holds them once for both trees), return codes and categories in
 * the same order, so the event is written as the same bytes. What they change or add is made in a,
 * the arena event lives in (a list kept by GPC's withdrawal holds copies of the items sent: a jv
 * value lives in one place); *categories is then a node of event. 0, or -1 out of memory (the
 * event as the jansson functions leave it then). */
int sluice_consent_normalize_jv(sluice_jv_t *event, const sluice_consent_config_t *c, sluice_json_arena_t *a);
int sluice_consent_normalize_get_jv(sluice_jv_t *event, const sluice_consent_config_t *c, sluice_jv_t **categories,
                                    sluice_jv_t **context, sluice_json_arena_t *a);
int sluice_consent_gpc_jv(sluice_jv_t *event, const sluice_consent_config_t *c, int gpc, sluice_json_arena_t *a);

#endif

/*
 * Shared fixture of the vendors unit tests: a config with one integration of every vendor
 * (loaded through the real config loader), the reference envelope of tests/fixtures/vendors/,
 * and helpers to map and build a request the way the worker does.
 */
#ifndef SLUICE_TESTS_UNIT_VENDORS_VFIX_H
#define SLUICE_TESTS_UNIT_VENDORS_VFIX_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "vendors/vendor.h"

/* receivedAt of the reference envelope, and "now" one minute later. */
#define VFIX_RECEIVED_MS 1795444910525LL
#define VFIX_NOW_MS      (VFIX_RECEIVED_MS + 60000)

/* The config of tests/unit/vendors (integrations meta, meta-test, ga4, tiktok, hook, hook1, and one
 * of each later vendor: gads, ...).
 * Fails the test when it does not load. Caller frees with sluice_config_free. */
sluice_config_t *vfix_config(void);
/* The same with more integrations (YAML lines of the list, as indented there). */
sluice_config_t *vfix_config_with(const char *more_integrations);
const sluice_integration_t *vfix_integration(const sluice_config_t *cfg, const char *name);

/* A file of tests/fixtures/vendors/, NUL-terminated, trailing newline removed. Caller frees. */
char *vfix_read(const char *name, size_t *len);

/* The reference envelope with `edit` applied: a JSON object merged into event (NULL: none). */
char *vfix_envelope(const char *edit_event_json, size_t *len);

/* The reference envelope with context.clickIds[name] = value added. Caller frees. */
char *vfix_envelope_click(const char *name, const char *value, size_t *len);

/* The reference envelope with context.clickIds[name] = value added. Caller frees. */
char *vfix_envelope_click(const char *name, const char *value, size_t *len);

/* Asserts body equals tests/fixtures/vendors/<name>; with VFIX_WRITE_GOLDEN set, writes it
 * there first (to regenerate a golden file, whose diff is then read before committing). */
void vfix_expect_golden(const char *name, const char *body);

/* Maps raw through the integration's vendor; asserts the result is `want`. On OK, *item holds
 * the item (caller disposes). */
void vfix_map(const sluice_integration_t *it, const char *raw, size_t len, int64_t now_ms, sluice_map_result_t want,
              sluice_vendor_item_t *item, char *why, size_t why_len);

/* The body the integration's vendor builds of the reference envelope (mapped OK at VFIX_NOW_MS)
 * with secret, parsed; NULL when it is not JSON. Asserts build returns 0. Caller decrefs. */
json_t *vfix_build_reference(const sluice_integration_t *it, const json_t *secret);

#endif

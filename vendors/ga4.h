/*
 * GA4 beyond the common vendor interface (vendors/vendor.h): the validation endpoint that
 * `sluicectl vendor check ga4` uses. Reentrant.
 */
#ifndef SLUICE_VENDORS_GA4_H
#define SLUICE_VENDORS_GA4_H

#include "vendors/vendor.h"

/* Like sluice_vendor_ga4.build, but for POST {base_url}/debug/mp/collect, which validates the
 * events and records nothing. Returns 0 (caller disposes *out), or -1 with a message in err. */
int sluice_ga4_build_debug(const sluice_integration_t *it, const json_t *secret, const char *group,
                           const sluice_vendor_item_t *const *items, size_t n, sluice_vendor_request_t *out,
                           sluice_err_t *err);

#endif

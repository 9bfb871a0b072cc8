/*
 * The data layer's mask seam (sluice_masker_t of gateway/datalayer.h) on top of the runtime's
 * plugin set: one masker per event-loop thread, each passing its thread index down so plugins
 * get their per-thread contexts and the set its per-thread output buffer and counters.
 *
 * Ownership: the maskers belong to the runtime that created them and borrow its plugin set and
 * config. Masker t is used by event-loop thread t only.
 */
#ifndef SLUICE_GATEWAY_MASKER_H
#define SLUICE_GATEWAY_MASKER_H

#include "config/config.h"
#include "gateway/datalayer.h"
#include "plugins/set.h"

typedef struct sluice_gw_maskers sluice_gw_maskers_t;

/* One masker per thread over set (which, like cfg, must outlive the result). Returns NULL when
 * out of memory. Main thread, while building a runtime. */
sluice_gw_maskers_t *sluice_gw_maskers_create(sluice_plugin_set_t *set, const sluice_config_t *cfg, unsigned nthreads);

/* Thread `thread`'s masker; valid as long as the maskers. */
const sluice_masker_t *sluice_gw_maskers_get(const sluice_gw_maskers_t *m, unsigned thread);

/* NULL allowed. */
void sluice_gw_maskers_free(sluice_gw_maskers_t *m);

#endif

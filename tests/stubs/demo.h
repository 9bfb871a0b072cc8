/*
 * The delivery part of `make demo`, as sluice-devstack services (--deliver): HTTPS stubs standing
 * in for Meta and GA4 (tests/stubs/vendor_stub.c, printing every request they receive on the
 * devstack's terminal), demo credentials stored encrypted in the stack's vault, and sluice-deliver
 * running against them. The demo TLS material and ENCRYPTION_KEY come from the environment
 * scripts/demo.sh sets (SLUICE_TLS_CERT, SLUICE_TLS_KEY, SLUICE_DEMO_CA, ENCRYPTION_KEY).
 *
 * Same threading and error rules as tests/harness/harness.h (one thread; 0 / -1 with err).
 */
#ifndef SLUICE_TESTS_STUBS_DEMO_H
#define SLUICE_TESTS_STUBS_DEMO_H

#include <stdio.h>

#include "common/err.h"
#include "tests/harness/harness.h"

/* path as the printed commands show it: relative to the current directory when it lies below
 * it (`make demo` runs from the repository root, so "build/tools/sluicectl"), else path itself.
 * Returns buf or path. */
const char *sluice_demo_shown_path(const char *path, char *buf, size_t cap);

/* Starts the Meta and GA4 stubs. */
int sluice_demo_stubs_start(sluice_err_t *err);
int sluice_demo_stubs_stop(sluice_err_t *err);
/* A stub that stopped running (so the devstack notices), else the Meta stub; NULL when off. */
sluice_th_proc_t *sluice_demo_stubs_proc(void);
void sluice_demo_stubs_describe(FILE *out);

/* Writes the worker's config (org acme's meta and ga4 integrations pointed at the stubs), stores
 * the demo credentials with `sluicectl vault put`, starts sluice-deliver and waits until both its
 * consumer groups have partitions. */
int sluice_demo_deliver_start(const char *kafka_bootstrap, const char *database_url, sluice_err_t *err);
int sluice_demo_deliver_stop(sluice_err_t *err);
sluice_th_proc_t *sluice_demo_deliver_proc(void);
void sluice_demo_deliver_describe(FILE *out);

#endif

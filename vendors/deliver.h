/*
 * The delivery worker: Kafka consumer groups (one per vendor kind, `sluice-deliver-<vendor>`)
 * → per-integration filter, mapping, batching and pacing → vendor HTTPS requests on one
 * libcurl multi loop → success, retry, or the dead-letter topic; offsets committed only below
 * the first event of each partition that is not yet delivered or dead-lettered. docs/vendors.md
 * explains the delivery semantics.
 *
 * Threading: everything runs on the thread that calls sluice_deliver_run (librdkafka and libpq
 * have their own internals). SIGTERM and SIGINT must be blocked in every thread before the
 * worker (and librdkafka) starts: the worker reads them from a signalfd.
 */
#ifndef SLUICE_VENDORS_DELIVER_H
#define SLUICE_VENDORS_DELIVER_H

#include "common/err.h"
#include "config/config.h"
#include "crypto/keyring.h"
#include "vendors/vault.h"

typedef struct sluice_deliver sluice_deliver_t;

/* Builds the worker for every vendor kind with an enabled integration (only `only_vendor` when
 * it is >= 0): consumers, the DLQ producer, the HTTP client, the metrics listener. cfg, kr and
 * vault must outlive the worker; the vault is used for credential reads only. Returns NULL with
 * a message in err (e.g. no integration to deliver to, the metrics port taken). */
sluice_deliver_t *sluice_deliver_create(const sluice_config_t *cfg, const sluice_keyring_t *kr, sluice_vault_t *vault,
                                        int only_vendor, sluice_err_t *err);

/* Runs until SIGTERM or SIGINT, then stops gracefully: no new events; open batches are sent;
 * requests on the wire finish (bounded by 10 s); events waiting for a retry are handed back
 * uncommitted for the next owner; committed offsets are final; the group is left. Returns 0
 * after a graceful stop, -1 with a message in err when the loop failed. */
int sluice_deliver_run(sluice_deliver_t *w, sluice_err_t *err);

/* Frees everything. NULL is allowed. Returns 0, or -1 when the vault reader thread is still
 * blocked in PostgreSQL after a few seconds (vendors/vaultq.h): it keeps the vault handle, which
 * the caller must then not close (the process is about to exit anyway). */
int sluice_deliver_destroy(sluice_deliver_t *w);

#endif

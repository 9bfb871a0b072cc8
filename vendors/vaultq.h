/*
 * Vault reads off the worker's loop. On a credential-cache miss the loop asks for (org, name,
 * vendor) here and goes on with every other lane; a thread of its own owns the vault's PostgreSQL
 * connection and runs the blocking read (vault.h, sluice_vault_get), and the loop collects the
 * answer when it asks again (the batch that needed it is parked and looks every few ms). A slow,
 * stalled or unreachable database therefore holds up only the batches that need a credential
 * not in the cache, never the loop.
 *
 * Threading: sluice_vaultq_create, _get and _destroy from the worker's loop thread; the vault
 * handle is used only by the queue's thread from create until destroy returns.
 */
#ifndef SLUICE_VENDORS_VAULTQ_H
#define SLUICE_VENDORS_VAULTQ_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "vendors/vault.h"

/* Returned by sluice_vaultq_get while the read is queued or running. */
#define SLUICE_VAULTQ_PENDING 1

typedef struct sluice_vaultq sluice_vaultq_t;

/* Starts the reader thread on vault (borrowed; the caller closes it after sluice_vaultq_destroy).
 * NULL with a message in err. */
sluice_vaultq_t *sluice_vaultq_create(sluice_vault_t *vault, sluice_err_t *err);

/* The vault's answer for (org, name, vendor): SLUICE_VAULTQ_PENDING while it is being read (a read
 * is queued at the first ask; *waiting_ms says since when, now_ms monotonic), else the result of
 * sluice_vault_get (consumed: the next ask reads again), with *secret and *len as there (the
 * caller wipes and frees them with sluice_vault_free_secret) and a message in err. */
int sluice_vaultq_get(sluice_vaultq_t *q, const char *org, const char *name, const char *vendor, int64_t now_ms,
                      char **secret, size_t *len, int64_t *waiting_ms, sluice_err_t *err);

/* Reads queued or running now. */
size_t sluice_vaultq_pending(sluice_vaultq_t *q);

/* Stops the thread: waits for a read in progress at most wait_ms. Returns 0 when the thread has
 * finished (every unread answer wiped and freed), or -1 when it is still blocked in the database:
 * the queue and the vault handle are then left to it (the caller must not close the vault) and
 * the process is expected to exit. NULL is allowed. */
int sluice_vaultq_destroy(sluice_vaultq_t *q, int wait_ms);

#endif

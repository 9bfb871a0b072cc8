/*
 * The vault: vendor credentials in PostgreSQL, sealed with AES-256-GCM under the vault's own
 * keys (derived from the root key ring with HKDF for SLUICE_KEY_PURPOSE_VAULT, crypto/hkdf.h, so
 * no other component's key opens a row) and bound to their row by the AAD "sluice-vault-v1" NUL ‖ len16 org ‖ org ‖
 * len16 name ‖ name ‖ len16 vendor ‖ vendor, so a row copied onto another org, name or vendor
 * no longer opens. A row stores key id, nonce and ciphertext‖tag separately.
 *
 * The schema comes from versioned migrations embedded in the binary (vault.c), applied under an
 * advisory lock by whoever opens the vault first (sluice-deliver, sluicectl vault); a database
 * whose schema is newer than the binary is refused. Rows sealed by older versions directly under
 * a root key (column kdf = 0) stay readable while the root ring is at hand, until `sluicectl
 * vault rotate` re-seals them under the vault key (kdf = 1); sluice_vault_release_root tells the
 * worker when it no longer needs the root keys. Every operation (put, get, delete, list,
 * rotate, and the audit's own prune) appends a row to vault_audit: who, when, what,
 * org/name/vendor, key id, never the secret. docs/vault.md describes the tables.
 *
 * Threading: a vault handle is one libpq connection; use it from one thread at a time. Calls
 * block on the database (in the worker only its vault reader thread calls get, on a credential
 * cache miss: vendors/vaultq.h).
 */
#ifndef SLUICE_VENDORS_VAULT_H
#define SLUICE_VENDORS_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/keyring.h"

/* The newest schema version this binary knows. */
#define SLUICE_VAULT_SCHEMA_VERSION 5

/* Results. The numbers never change. */
enum {
    SLUICE_VAULT_OK = 0,
    SLUICE_VAULT_ERROR = -1,     /* database unreachable, SQL error, out of memory */
    SLUICE_VAULT_ENOTFOUND = -2, /* no such row */
    SLUICE_VAULT_EDECRYPT = -3,  /* the row does not open: wrong or missing key, swapped or altered row */
};

typedef struct sluice_vault sluice_vault_t;

/* Connects to conninfo (libpq keyword form or a postgresql:// URL), applies pending migrations
 * and checks the schema version. kr is the root key ring (ENCRYPTION_KEY, SLUICE_KEYRING): the
 * vault derives its own keys from it at once, and keeps kr (borrowed: it must outlive the vault
 * or sluice_vault_release_root) only to open rows sealed under it directly. kr may be NULL for
 * operations that never seal or open (list, delete). actor names who acts in the audit table ($USER for
 * sluicectl, "sluice-deliver@host pid N" for the worker). Returns a handle owned by the caller,
 * or NULL with a message in err (libpq's reason when the database is unreachable). */
sluice_vault_t *sluice_vault_open(const char *conninfo, const sluice_keyring_t *kr, const char *actor,
                                  sluice_err_t *err);
void sluice_vault_close(sluice_vault_t *v);

/* libpq's message msg about connecting with conninfo, into out (cap bytes, NUL-terminated),
 * without its trailing newline and without the password conninfo may hold: libpq quotes parts
 * of a connection string it cannot parse or use (the whole URI, the password token, the part of
 * a password with an unescaped '/' it took for the port), and every quoted part holding or
 * taken from the password (the URI's after `user:`, up to its last '@'; a `password=` value) is
 * shown as "***", as is the password itself anywhere else. Connection option names stay. For
 * every program that connects with database.url (sluicectl prints, sluice-deliver logs). */
void sluice_vault_conn_message(const char *conninfo, const char *msg, char *out, size_t cap);

/* Lets go of the root key ring when no row needs it any more: counts the rows still sealed
 * directly under a root key into *legacy_rows (may be NULL); when there are none the vault stops
 * using the root ring, and the caller may wipe it. Returns 0, or -1 with a message in err (the
 * vault then keeps the ring). */
int sluice_vault_release_root(sluice_vault_t *v, size_t *legacy_rows, sluice_err_t *err)
    __attribute__((warn_unused_result));

/* Checks that this process's keys are the ones that sealed the rows: for every key id the rings
 * hold (the vault keys; the root ring for rows older versions sealed under it) with rows under
 * it, at least one of those rows must open. Rows under a key id the rings lack are left to the
 * reads (another worker may hold that key). Nothing is audited: no plaintext leaves, and each
 * opened copy is wiped at once. Returns SLUICE_VAULT_OK, SLUICE_VAULT_EDECRYPT (a key that opens
 * none of its rows: another key given that id; err names the id and a row) or SLUICE_VAULT_ERROR. */
int sluice_vault_check_keys(sluice_vault_t *v, sluice_err_t *err);

/* The schema version recorded in schema_migrations (after open: SLUICE_VAULT_SCHEMA_VERSION). */
int sluice_vault_schema_version(sluice_vault_t *v, int *version, sluice_err_t *err);

/* Seals secret[0..len) under the vault key of the ring's primary key id and inserts or replaces the row; *created
 * (may be NULL) tells which. Returns SLUICE_VAULT_OK or SLUICE_VAULT_ERROR. */
int sluice_vault_put(sluice_vault_t *v, const char *org, const char *name, const char *vendor, const char *secret,
                     size_t len, int *created, sluice_err_t *err);

/* Opens the row: *secret receives a NUL-terminated copy of the plaintext (*len bytes) that the
 * caller wipes and frees with sluice_vault_free_secret. Returns SLUICE_VAULT_OK,
 * SLUICE_VAULT_ENOTFOUND, SLUICE_VAULT_EDECRYPT or SLUICE_VAULT_ERROR (message in err). A broken
 * connection is re-established once before giving up. */
int sluice_vault_get(sluice_vault_t *v, const char *org, const char *name, const char *vendor, char **secret,
                     size_t *len, sluice_err_t *err);
void sluice_vault_free_secret(char *secret, size_t len);

/* Removes the row. SLUICE_VAULT_OK, SLUICE_VAULT_ENOTFOUND or SLUICE_VAULT_ERROR. */
int sluice_vault_delete(sluice_vault_t *v, const char *org, const char *name, const char *vendor, sluice_err_t *err);

/* One row as listed: no secret material. Strings valid during the callback only. */
typedef struct sluice_vault_row {
    const char *org, *name, *vendor;
    int key_id;
    int root_sealed; /* 1: sealed directly under a root key by an older version (rotate re-seals it) */
    const char *created_at, *updated_at; /* ISO-8601 UTC */
} sluice_vault_row_t;

/* Calls cb for every row (of one org when org is non-NULL), ordered by org, name, vendor.
 * Returns the number of rows, or SLUICE_VAULT_ERROR. */
int sluice_vault_list(sluice_vault_t *v, const char *org, void (*cb)(const sluice_vault_row_t *row, void *ud), void *ud,
                      sluice_err_t *err);

/* Re-seals every row not yet under the vault key of the ring's primary key id (rows under an
 * older key id, and rows sealed directly under a root key), in one transaction: either every
 * such row moves or (on any failure, e.g. a row whose key is missing from the ring) none does.
 * Rows already there are left alone (but opened: one that does not open under its key id, as
 * with a new key given the old id, fails the rotation too), so it is safe to rerun.
 * *rotated and *unchanged (may be NULL) count the rows. Returns SLUICE_VAULT_OK,
 * SLUICE_VAULT_EDECRYPT (naming the row) or SLUICE_VAULT_ERROR. */
int sluice_vault_rotate(sluice_vault_t *v, size_t *rotated, size_t *unchanged, sluice_err_t *err);

/* One vault_audit row as listed (strings valid during the callback only; "" for a column the
 * action leaves empty, key_id 0). at is ISO-8601 UTC. */
typedef struct sluice_vault_audit_row {
    const char *at, *actor, *action, *org, *name, *vendor;
    int key_id;
    const char *detail;
} sluice_vault_audit_row_t;

/* Which rows to list: each non-NULL member must match (since: a timestamptz PostgreSQL reads,
 * such as 2026-11-01 or 2026-11-01T12:00:00Z). limit 0 means 50. */
typedef struct sluice_vault_audit_filter {
    const char *org, *name, *vendor, *since;
    unsigned limit;
} sluice_vault_audit_filter_t;

/* Calls cb for the newest rows matching f, newest first. Reading the audit is not audited.
 * Returns the number of rows, or SLUICE_VAULT_ERROR. */
int sluice_vault_audit_list(sluice_vault_t *v, const sluice_vault_audit_filter_t *f,
                            void (*cb)(const sluice_vault_audit_row_t *row, void *ud), void *ud, sluice_err_t *err);

/* Removes the vault_audit rows older than retention_days (by the database's clock, fixed when
 * the call starts), oldest first, at most batch rows per transaction, then records a `prune` row
 * saying how many and up to when. *deleted counts the rows removed (also when a later batch
 * fails); cutoff (cutoff_cap bytes) receives the cutoff as ISO-8601 UTC. Needs DELETE and SELECT
 * on vault_audit: the database owner, not the worker's role (docs/vault.md). Returns 0, or -1
 * with a message in err. */
int sluice_vault_audit_prune(sluice_vault_t *v, unsigned retention_days, unsigned batch, size_t *deleted, char *cutoff,
                             size_t cutoff_cap, sluice_err_t *err) __attribute__((warn_unused_result));

/* The AAD of a row into out (cap bytes). Returns its length, or 0 when a part is longer than
 * 65535 bytes or cap is too small. Exposed for tests. */
size_t sluice_vault_aad(const char *org, const char *name, const char *vendor, uint8_t *out, size_t cap);

#endif

/*
 * The gateway's key material, loaded once at start-up on the main thread: the root key ring from
 * ENCRYPTION_KEY / SLUICE_KEY_ID / SLUICE_KEYRING, from which only the gateway's own purposes are
 * derived (cross-domain tokens, the signed anonymous-id cookie, the encrypt plugin, the session
 * cookie of enrichment; never the
 * vault's), the Redis password from redis.password_env, and the TLS session-ticket keys derived
 * from server.https.session_ticket_secret_env (crypto/tls.h). The variables are then removed from
 * the environment and their bytes wiped (crypto/secretenv.h): a SIGHUP reload reads neither (keys
 * and Redis settings change only with a restart), while the write-key, HMAC and plugin variables
 * a reload does read stay, though no longer visible in /proc/<pid>/environ.
 *
 * The root ring itself stays only as long as a token an older version sealed directly under it
 * can still be redeemed (the longest token_ttl_s + clock_skew_s of the orgs), then it is wiped
 * (sluice_secrets_sigwait); a gateway that has been up that long holds no key of the vault's and
 * none it could derive one from.
 *
 * Threads: load, sigwait and free on the main thread; what the getters return is read-only and
 * may be used from every thread until sluice_secrets_free.
 */
#ifndef SLUICE_GATEWAY_SECRETS_H
#define SLUICE_GATEWAY_SECRETS_H

#include <signal.h>

#include "common/err.h"
#include "config/config.h"
#include "crypto/keyring.h"
#include "crypto/tls.h"
#include "identity/identity.h"

typedef struct sluice_secrets sluice_secrets_t;

/* Loads the keys cfg needs (any at all when ENCRYPTION_KEY is set or an org has cross domains),
 * the Redis password and the session-ticket secret, then removes their variables from the
 * environment. Returns an object
 * owned by the caller (free with sluice_secrets_free), or NULL with a message in err (a missing or
 * malformed key, an unset password variable, a missing, short or reused ticket secret, out of
 * memory). */
sluice_secrets_t *sluice_secrets_load(const sluice_config_t *cfg, int64_t now_ms, sluice_err_t *err);

/* The encrypt plugin's ring (host->seal), or NULL when the gateway has no keys. */
const sluice_keyring_t *sluice_secrets_encrypt(const sluice_secrets_t *s);

/* The session cookie's ring (enrichment), or NULL when the gateway has no keys. */
const sluice_keyring_t *sluice_secrets_session(const sluice_secrets_t *s);

/* The session-ticket keys derived from server.https.session_ticket_secret_env, handed over to the
 * caller (who destroys them, after every TLS context using them); NULL when the config names no
 * secret, or once taken. */
sluice_tls_tickets_t *sluice_secrets_take_tickets(sluice_secrets_t *s);

/* What the identity threads get (never NULL for a loaded object). */
const sluice_identity_secrets_t *sluice_secrets_identity(const sluice_secrets_t *s);

/* Waits for a signal of set for at most max_ms; while the root ring is kept for older tokens it
 * waits at most until that ring's time is up, then wipes it. s may be NULL. Returns 0 with *sig
 * set, or -1 when no signal came (time up, EINTR): call again. */
int sluice_secrets_sigwait(sluice_secrets_t *s, const sigset_t *set, int64_t max_ms, int *sig);

/* 1 while the root ring is still kept (tests, logs). */
int sluice_secrets_holds_root(const sluice_secrets_t *s);

/* Wipes every key and the password and frees s. NULL allowed. No thread may use s afterwards. */
void sluice_secrets_free(sluice_secrets_t *s);

#endif

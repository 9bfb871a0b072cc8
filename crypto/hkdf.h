/*
 * HKDF-SHA256 (RFC 5869), and the purposes sluice derives keys for.
 *
 * The configured keys (ENCRYPTION_KEY, SLUICE_KEYRING) are root keys: no component seals or
 * opens anything with them directly. Each purpose gets its own key, derived from every root
 * key of the ring under the purpose's label (crypto/keyring.h, sluice_keyring_derive), so the
 * internet-facing gateway holds only the keys of what it does and a key of one purpose opens
 * nothing of another. docs/identity.md ("Keys by purpose") lists who derives what.
 *
 *     key(purpose, kid) = HKDF-SHA256(IKM = root key kid, salt = "sluice-kdf-v1", info = label)
 *
 * Threading: any thread, concurrently. The HKDF implementation is fetched once per process.
 */
#ifndef SLUICE_CRYPTO_HKDF_H
#define SLUICE_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

/* The salt of every sluice derivation (a fixed, public domain separator). */
#define SLUICE_HKDF_SALT "sluice-kdf-v1"

/* Labels (HKDF info). Never change a released label: every key derived under it changes. */
#define SLUICE_KEY_PURPOSE_XD_TOKEN  "sluice/xd-token/v1"  /* cross-domain tokens (gateway, sluicectl token) */
#define SLUICE_KEY_PURPOSE_XD_COOKIE "sluice/xd-cookie/v1" /* the signed anonymous-id cookie (gateway) */
#define SLUICE_KEY_PURPOSE_ENCRYPT   "sluice/encrypt/v1"   /* the encrypt plugin (gateway), sluicectl unmask */
#define SLUICE_KEY_PURPOSE_VAULT     "sluice/vault/v1"     /* vault rows (sluice-deliver, sluicectl vault) */
#define SLUICE_KEY_PURPOSE_SESSION   "sluice/session/v1"   /* the session cookie of enrichment (gateway) */
/* TLS session-ticket keys of a fleet (gateway, crypto/tls.c). Derived from a secret of its own,
 * server.https.session_ticket_secret_env, never from ENCRYPTION_KEY's ring: the ticket keys sit
 * in the internet-facing TLS code, and whoever holds them must open nothing else. */
#define SLUICE_KEY_PURPOSE_TLS_TICKET "sluice/tls-ticket/v1"

/* HKDF-SHA256 extract-and-expand of ikm with salt and info into out (out_len bytes, at most
 * 255 * 32). salt and info may be NULL when their length is 0. Returns 0, or -1 when OpenSSL
 * failed or out_len is out of range (out is then zeroed). */
int sluice_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
                       size_t info_len, uint8_t *out, size_t out_len) __attribute__((warn_unused_result));

#endif

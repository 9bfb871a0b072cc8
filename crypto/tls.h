/*
 * OpenSSL's side of TLS files: the thread's OpenSSL error queue as one line of text, and checks
 * that a certificate chain, its private key and a CA bundle load as the gateway and the
 * delivery worker will load them. Used by `sluicectl config check` and by the gateway's TLS
 * set-up, so both say the same thing about the same file.
 *
 * Threading: any thread. OpenSSL's error queue is per thread, so each call only sees (and
 * empties) the queue of the thread that calls it.
 */
#ifndef SLUICE_CRYPTO_TLS_H
#define SLUICE_CRYPTO_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Writes the cause of the last OpenSSL failure on this thread into the caller's buf (len > 0)
 * and empties the queue. The cause is the queue's earliest entry (the ones after it are callers
 * wrapping it, such as "PEM lib"), as "<library>: <reason>" with OpenSSL's detail in
 * parentheses when it has one: "PEM routines: no start line (Expecting: TRUSTED CERTIFICATE)",
 * "x509 certificate routines: key values mismatch". The text always comes from OpenSSL's own
 * strings (ERR_error_string_n); an empty queue gives "no reason given by OpenSSL". Returns buf. */
const char *sluice_tls_error_text(char *buf, size_t len);

/* Checks, as the gateway's HTTPS listener loads them: cert_path is a readable PEM certificate
 * chain, key_path a readable PEM private key without a passphrase, and the key belongs to the
 * certificate, which is neither expired nor missing its intermediate (sluice_tls_chain_incomplete:
 * what a gateway's reload refuses). Each file's problem goes to its own error (cert_err, key_err;
 * both emptied first); a key that does not match goes to key_err. A NULL path is not checked (nor is the
 * match). OpenSSL's reasons come from sluice_tls_error_text. Returns 0, or -1 when either
 * error was set. */
int sluice_tls_check_pair(const char *cert_path, const char *key_path, sluice_err_t *cert_err, sluice_err_t *key_err);

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* Makes ctx refuse a private key that has a passphrase instead of asking for one: OpenSSL's
 * default prompts on the terminal, or reads stdin without one, and the gateway's main thread
 * would wait there for an answer nobody gives (SIGHUP and SIGTERM unanswered). */
void sluice_tls_refuse_passphrase(struct ssl_ctx_st *ctx);

/* The validity of the certificate ctx serves (the first of its chain file), as Unix seconds, into
 * *not_before and *not_after. Returns 0, or -1 when ctx has no certificate or its dates do not
 * read. The gateway warns from them at start and at each reload and shows *not_after in
 * /metrics: nothing else tells an operator that a renewal stopped working until browsers refuse
 * the certificate. */
int sluice_tls_cert_validity(const struct ssl_ctx_st *ctx, int64_t *not_before, int64_t *not_after);

/* 1 when the chain ctx serves lacks the certificate that issued its first one, and a client is
 * then sure to need it: the certificate is not self-signed, no other certificate of the chain
 * file issued it, and it names where its issuer can be fetched (authorityInfoAccess caIssuers),
 * as every certificate of a public CA does (their roots never sign a server's certificate
 * themselves). That is certbot's cert.pem given where fullchain.pem belongs: browsers that fetch
 * the missing certificate work, and Firefox, Android apps, curl and the SDKs refuse the gateway.
 * The issuer's name goes into issuer (len > 0). 0 otherwise, also for a private CA's certificate
 * without caIssuers (the test CA's), and for one that verifies against this machine's trust store
 * as it is (a company's root that issues servers' certificates itself and names its URL as
 * caIssuers, as Active Directory Certificate Services does). Reads the trust store: not on a loop
 * thread. */
int sluice_tls_chain_incomplete(const struct ssl_ctx_st *ctx, char *issuer, size_t len);

/* Session-ticket keys shared by every TLS context a gateway makes: its loop threads and every
 * context a reload makes (a certificate renewal), so a returning client resumes its session
 * across both; OpenSSL's own keys are per context, so each SIGHUP cost every client a full
 * handshake, and they were never changed while no reload came (one key for months: whoever
 * reads it decrypts every TLS 1.2 session resumed with it). A key encrypts tickets for period_s
 * seconds, then only decrypts them (the ticket renewed) for period_s more, then is wiped; the
 * contexts' session lifetime is period_s, so a ticket never outlives its key.
 *
 * Two kinds of keys:
 *   - random (sluice_tls_tickets_create): in this process's memory only, never written anywhere,
 *     never derived from anything; a client resumes only on the gateway that issued its ticket,
 *     and nowhere after that gateway restarts;
 *   - shared (sluice_tls_tickets_create_shared): derived from a secret every gateway of a fleet is
 *     given, per period of the wall clock (period n = floor(unix time / period_s)):
 *         prk    = HKDF-SHA256(IKM = secret, salt = SLUICE_HKDF_SALT, info = SLUICE_KEY_PURPOSE_TLS_TICKET)
 *         key(n) = HKDF-SHA256(IKM = prk, salt = SLUICE_HKDF_SALT, info = label ‖ n, 64-bit big-endian)
 *     so any gateway resumes a session another issued, also after a restart, with nothing
 *     exchanged between them. key(n) encrypts during period n; key(n-1) and key(n+1) decrypt (a
 *     clock a little behind another gateway's). The trade-off: whoever reads the secret (or prk)
 *     derives every period's key, past and future, and with it decrypts every recorded TLS 1.2
 *     session that got a ticket, until the secret is replaced (docs/security.md).
 * Created and destroyed by the main thread; the contexts' callback takes them on any thread. */
typedef struct sluice_tls_tickets sluice_tls_tickets_t;

/* The ticket keys' period of the gateway: a key encrypts for an hour and decrypts for one more. */
#define SLUICE_TLS_TICKET_PERIOD_S 3600

/* The shortest secret taken for shared ticket keys, after the spaces and line ends around it are
 * dropped: 256 bits written as 32 bytes of any kind (`openssl rand -hex 32` gives 64). */
#define SLUICE_TLS_TICKET_SECRET_MIN 32

/* Random keys. period_s >= 1. Returns NULL with a message in err when out of memory or randomness. */
sluice_tls_tickets_t *sluice_tls_tickets_create(unsigned period_s, sluice_err_t *err);

/* Checks secret (NUL-terminated, as read from the environment) as sluice_tls_tickets_create_shared
 * takes it: spaces and line ends around it are dropped, then it must hold at least
 * SLUICE_TLS_TICKET_SECRET_MIN bytes and differ from encryption_key (ENCRYPTION_KEY's value, or
 * NULL; the same key in hex of another case is the same key). what names where the secret came from
 * ("server.https.session_ticket_secret_env: environment variable T"), for the message. Returns 0, or -1 with a message
 * in err that says the length, never the value. */
int sluice_tls_ticket_secret_check(const char *what, const char *secret, const char *encryption_key, sluice_err_t *err);

/* Shared keys derived from secret (checked as sluice_tls_ticket_secret_check does). Keeps only
 * the HKDF extract of secret; the caller wipes secret itself. Returns NULL with a message in err. */
sluice_tls_tickets_t *sluice_tls_tickets_create_shared(const char *what, const char *secret, const char *encryption_key,
                                                       unsigned period_s, sluice_err_t *err);

/* Makes shared keys t also open the tickets of a previous secret (checked as the current one, and
 * refused when it is the same secret): its keys of the same three periods, derived the same way,
 * only decrypt, and a ticket they open is renewed under the current secret. Changing the fleet's
 * secret so costs no client a full handshake: first every gateway accepts the new secret as this
 * one (the old one still current), then every gateway makes it current with the old one here,
 * then an hour later the old one goes. Keeps only the secret's HKDF extract. Returns 0, or -1
 * with a message in err naming what, never the value. */
int sluice_tls_tickets_accept_previous(sluice_tls_tickets_t *t, const char *what, const char *secret,
                                       const char *encryption_key, sluice_err_t *err);

/* 1 when t's keys are shared (derived from a secret), 0 when random or t is NULL. */
int sluice_tls_tickets_shared(const sluice_tls_tickets_t *t);

/* Makes ctx issue and accept tickets with t's keys (t must outlive ctx and its connections).
 * Returns 0, or -1 with a message in err. */
int sluice_tls_tickets_attach(sluice_tls_tickets_t *t, struct ssl_ctx_st *ctx, sluice_err_t *err);

/* What a client's ticket came to in a handshake on a context of t's keys. Ordered: of the
 * tickets a TLS 1.3 client offers (or a ClientHello sent again after a HelloRetryRequest), the
 * handshake keeps the highest. */
typedef enum sluice_tls_ticket_seen {
    SLUICE_TLS_TICKET_NONE = 0,    /* none offered: a first visit, or a TLS 1.2 session id */
    SLUICE_TLS_TICKET_UNKNOWN_KEY, /* under a key t does not hold: another secret (a pod given
                                    * another value), another gateway's random keys, or a key more
                                    * than a period past its own: a full handshake */
    SLUICE_TLS_TICKET_OPENED,      /* decrypted with one of t's keys (resumed unless its session is
                                    * past its lifetime, or made for another context) */
} sluice_tls_ticket_seen_t;

/* One finished server handshake on a context attached to t. */
typedef struct sluice_tls_handshake {
    int version; /* SSL_version(): TLS1_2_VERSION, TLS1_3_VERSION */
    int resumed; /* 1: the client's session was resumed (ticket or session id), 0: a full handshake */
    sluice_tls_ticket_seen_t ticket;
} sluice_tls_handshake_t;

typedef void (*sluice_tls_handshake_fn)(const sluice_tls_handshake_t *h);

/* fn is called once per handshake finished on every context attached to t, on the thread that
 * made the handshake (a loop thread: fn must not block; the gateway counts into that thread's
 * metrics). Set before the first context is attached; NULL: nothing is called. */
void sluice_tls_tickets_on_handshake(sluice_tls_tickets_t *t, sluice_tls_handshake_fn fn);

/* Tests only: now(ud) (Unix seconds) replaces both clocks t reads, the wall clock of shared keys'
 * periods and the monotonic one of random keys' ages, so that a test steps through periods
 * instead of sleeping across them; the keys t holds are dated from now(ud) on. OpenSSL's own
 * session lifetimes still read the real clock. */
void sluice_tls_tickets_set_clock(sluice_tls_tickets_t *t, int64_t (*now)(void *ud), void *ud);

/* Wipes the keys and frees t (NULL is fine). */
void sluice_tls_tickets_destroy(sluice_tls_tickets_t *t);

/* 1 when every user of the machine may read the file at path (a private key copied under umask
 * 022, or by a cp without -p), with its permission bits in *mode; 0 otherwise, also when it cannot
 * be stat'ed (loading it says why). A warning, not a refusal: in a container the gateway's user
 * may be the only one, and a Kubernetes Secret volume is 0644 unless its defaultMode says not. */
int sluice_tls_key_exposed(const char *path, unsigned *mode);

/* Checks that path is a readable PEM bundle holding at least one CA certificate, as libcurl's
 * CURLOPT_CAINFO reads it in the delivery worker. Returns 0, or -1 with a message in err. */
int sluice_tls_check_ca(const char *path, sluice_err_t *err);

#endif

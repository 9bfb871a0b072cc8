/*
 * TLS file checks and OpenSSL's error queue as text (see tls.h). Any thread: OpenSSL's error
 * queue is per thread, and each check builds and frees its own SSL_CTX / X509_STORE.
 */
#include "crypto/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/hex.h"
#include "crypto/ct.h"
#include "crypto/hkdf.h"

const char *sluice_tls_error_text(char *buf, size_t len)
{
    unsigned long first = 0, e;
    const char *data = NULL;
    int flags = 0;
    char detail[256] = "";
    /* The earliest entry is the cause; the rest is drained so a later failure does not show
     * this one's leftovers. */
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (first == 0) {
            first = e;
            if ((flags & ERR_TXT_STRING) && data != NULL)
                snprintf(detail, sizeof(detail), "%s", data);
        }
    }
    if (first == 0) {
        snprintf(buf, len, "no reason given by OpenSSL");
        return buf;
    }
    /* "error:<hex code>:<library>:<function>:<reason>"; the function is empty in OpenSSL 3.
     * Taking the reason from here (not ERR_reason_error_string) also covers system errors, for
     * which ERR_reason_error_string returns NULL. */
    char text[256];
    ERR_error_string_n(first, text, sizeof(text));
    const char *lib = NULL, *reason = NULL;
    char *p = text;
    for (int field = 0; field < 4 && p != NULL; field++) {
        p = strchr(p, ':');
        if (p != NULL) {
            *p++ = '\0';
            if (field == 1)
                lib = p;
            else if (field == 3)
                reason = p;
        }
    }
    if (lib == NULL || reason == NULL || reason[0] == '\0') {
        ERR_error_string_n(first, text, sizeof(text));
        snprintf(buf, len, "%s", text);
    } else if (detail[0] != '\0') {
        snprintf(buf, len, "%s: %s (%s)", lib, reason, detail);
    } else {
        snprintf(buf, len, "%s: %s", lib, reason);
    }
    return buf;
}

/* A file OpenSSL will be asked to read: exists, is a regular file, can be opened. Saying so
 * ourselves gives "No such file or directory" instead of three layers of OpenSSL wrappers. */
static int readable(const char *path, sluice_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sluice_err_set(err, "cannot read '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return sluice_err_set(err, "'%s' is a directory, not a file", path);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return sluice_err_set(err, "cannot read '%s': %s", path, strerror(errno));
    fclose(f);
    return 0;
}

/* An encrypted key would make OpenSSL prompt on the terminal; the gateway has nobody to answer,
 * so a check refuses it instead of waiting. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return -1;
}

/* t as Unix seconds: its distance from the epoch, so no timegm and no time zone is involved. */
static int asn1_unix(const ASN1_TIME *t, int64_t *out)
{
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int days = 0, secs = 0;
    int ok = epoch != NULL && t != NULL && ASN1_TIME_diff(&days, &secs, epoch, t) == 1;
    ASN1_TIME_free(epoch);
    if (!ok)
        return -1;
    *out = (int64_t)days * 86400 + secs;
    return 0;
}

int sluice_tls_cert_validity(const SSL_CTX *ctx, int64_t *not_before, int64_t *not_after)
{
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == NULL || asn1_unix(X509_get0_notBefore(leaf), not_before) != 0 ||
        asn1_unix(X509_get0_notAfter(leaf), not_after) != 0)
        return -1;
    return 0;
}

static int names_ca_issuers(X509 *cert)
{
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
    int found = 0;
    for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia) && !found; i++)
        found = OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, i)->method) == NID_ad_ca_issuers;
    AUTHORITY_INFO_ACCESS_free(aia);
    return found;
}

/* 1 when leaf, with the certificates after it in its chain file, verifies against this machine's
 * trust store (OpenSSL's default paths, SSL_CERT_FILE and SSL_CERT_DIR included), its dates aside
 * (an expired certificate is said on its own). */
static int verifies_here(X509 *leaf, STACK_OF(X509) * chain)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    int ok = store != NULL && v != NULL && X509_STORE_set_default_paths(store) == 1 &&
             X509_STORE_CTX_init(v, store, leaf, chain) == 1;
    if (ok) {
        X509_STORE_CTX_set_flags(v, X509_V_FLAG_NO_CHECK_TIME);
        ok = X509_verify_cert(v) == 1;
    }
    X509_STORE_CTX_free(v);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok;
}

int sluice_tls_chain_incomplete(const SSL_CTX *ctx, char *issuer, size_t len)
{
    issuer[0] = '\0';
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == NULL || X509_check_issued(leaf, leaf) == X509_V_OK || !names_ca_issuers(leaf))
        return 0;
    /* The certificates after the first in the chain file (SSL_CTX_use_certificate_chain_file's). */
    STACK_OF(X509) *chain = NULL;
    if (SSL_CTX_get0_chain_certs((SSL_CTX *)ctx, &chain) != 1)
        return 0;
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
        if (X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK)
            return 0;
    /* Issued straight by a root this machine trusts: a company's private root (Active Directory
     * Certificate Services and Vault's PKI name their root's URL as caIssuers), installed where
     * its clients are. Taken for certbot's cert.pem, such a certificate failed config check and
     * every reload, while every client that trusts the root verifies it. */
    if (verifies_here(leaf, chain))
        return 0;
    X509_NAME_oneline(X509_get_issuer_name(leaf), issuer, (int)len);
    return 1;
}

void sluice_tls_refuse_passphrase(SSL_CTX *ctx)
{
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
}

static SSL_CTX *new_ctx(sluice_err_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        char why[300];
        sluice_err_set(err, "cannot create a TLS context: %s", sluice_tls_error_text(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    return ctx;
}

/* What a gateway's reload refuses in a chain that loads (server.c): a certificate already
 * expired, or one without the intermediate it needs. */
static int cert_unusable(const SSL_CTX *ctx, const char *path, sluice_err_t *err)
{
    int64_t not_before, not_after;
    char issuer[256];
    if (sluice_tls_cert_validity(ctx, &not_before, &not_after) == 0 && (int64_t)time(NULL) >= not_after) {
        char when[32] = "?";
        time_t t = (time_t)not_after;
        struct tm tm;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
        return sluice_err_set(err, "'%s' expired on %s", path, when);
    }
    if (sluice_tls_chain_incomplete(ctx, issuer, sizeof(issuer)))
        return sluice_err_set(err,
                              "'%s' holds no certificate of its issuer %s: give the full chain (certbot's "
                              "fullchain.pem, not cert.pem)",
                              path, issuer);
    return 0;
}

int sluice_tls_check_pair(const char *cert_path, const char *key_path, sluice_err_t *cert_err, sluice_err_t *key_err)
{
    sluice_err_clear(cert_err);
    sluice_err_clear(key_err);
    char why[300];
    int rc = 0;
    ERR_clear_error();

    SSL_CTX *cert_ctx = NULL, *key_ctx = NULL;
    if (cert_path == NULL) {
        /* nothing to check; no match either */
    } else if (readable(cert_path, cert_err) != 0) {
        rc = -1;
    } else if ((cert_ctx = new_ctx(cert_err)) == NULL) {
        rc = -1;
    } else if (SSL_CTX_use_certificate_chain_file(cert_ctx, cert_path) != 1) {
        sluice_err_set(cert_err, "'%s' is not a PEM certificate chain: %s", cert_path,
                       sluice_tls_error_text(why, sizeof(why)));
        SSL_CTX_free(cert_ctx);
        cert_ctx = NULL;
        rc = -1;
    } else if (cert_unusable(cert_ctx, cert_path, cert_err) != 0) {
        rc = -1; /* the match with the key is still checked: each file says what is wrong with it */
    }

    /* The key is loaded into a context of its own first, so a key that does not parse and a key
     * that parses but belongs to another certificate get different messages. */
    if (key_path == NULL) {
        /* nothing to check */
    } else if (readable(key_path, key_err) != 0) {
        rc = -1;
    } else if ((key_ctx = new_ctx(key_err)) == NULL) {
        rc = -1;
    } else if (SSL_CTX_use_PrivateKey_file(key_ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        sluice_err_set(key_err, "'%s' is not a PEM private key without a passphrase: %s", key_path,
                       sluice_tls_error_text(why, sizeof(why)));
        rc = -1;
    } else if (cert_ctx != NULL && (SSL_CTX_use_PrivateKey(cert_ctx, SSL_CTX_get0_privatekey(key_ctx)) != 1 ||
                                    SSL_CTX_check_private_key(cert_ctx) != 1)) {
        sluice_err_set(key_err, "'%s' does not belong to the certificate '%s': %s", key_path, cert_path,
                       sluice_tls_error_text(why, sizeof(why)));
        rc = -1;
    }
    SSL_CTX_free(cert_ctx);
    SSL_CTX_free(key_ctx);
    ERR_clear_error();
    return rc;
}

int sluice_tls_key_exposed(const char *path, unsigned *mode)
{
    struct stat st;
    if (path == NULL || stat(path, &st) != 0 || !(st.st_mode & S_IROTH))
        return 0;
    *mode = (unsigned)(st.st_mode & 07777);
    return 1;
}

int sluice_tls_check_ca(const char *path, sluice_err_t *err)
{
    sluice_err_clear(err);
    if (readable(path, err) != 0)
        return -1;
    ERR_clear_error();
    X509_STORE *store = X509_STORE_new();
    if (store == NULL)
        return sluice_err_set(err, "out of memory checking '%s'", path);
    int rc = 0;
    char why[300];
    if (X509_STORE_load_file(store, path) != 1) {
        sluice_err_set(err, "'%s' is not a PEM CA bundle: %s", path, sluice_tls_error_text(why, sizeof(why)));
        rc = -1;
    } else {
        /* X509_STORE_load_file also takes a file holding only CRLs: that verifies nothing. */
        STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
        int certs = 0;
        for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
            certs += X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509;
        if (certs == 0) {
            sluice_err_set(err, "'%s' holds no CA certificate", path);
            rc = -1;
        }
    }
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------ session tickets */

typedef struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    int64_t created; /* monotonic seconds (random keys) or 1 (derived keys); 0: no key in this slot */
} ticket_key_t;

/* The bytes HKDF expands for one period's key, in ticket_key_t's order. */
#define TICKET_KEY_BYTES 80

struct sluice_tls_tickets {
    pthread_mutex_t lock; /* the loop threads' handshakes take keys while one of them rotates */
    unsigned period;
    /* [0] encrypts; [1], the one before, and [2] (derived keys only), the one after, only
     * decrypt: a gateway whose clock is a little behind another's still opens the tickets that one
     * issued in its new period. */
    ticket_key_t keys[3];
    /* shared, with a previous secret (sluice_tls_tickets_accept_previous): its keys of the same
     * three periods, which only decrypt (the ticket renewed under keys[0]) */
    ticket_key_t prev_keys[3];
    int shared;           /* 1: keys derived from the fleet's secret; 0: random to this process */
    uint8_t prk[32];      /* shared: HKDF of the secret under SLUICE_KEY_PURPOSE_TLS_TICKET */
    int has_prev;         /* 1: prev_prk holds a previous secret's extract */
    uint8_t prev_prk[32]; /* the previous secret's, as prk */
    int64_t at;           /* shared: the period keys[] were derived for */
    sluice_tls_handshake_fn on_handshake;
    int64_t (*clock)(void *ud); /* tests only (sluice_tls_tickets_set_clock); NULL: the real clocks */
    void *clock_ud;
};

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* The wall clock (wall: the period every gateway of a fleet reads from its own clock) or the
 * monotonic one (a random key's age, which a clock step must not change), or a test's. */
static int64_t tickets_now(const sluice_tls_tickets_t *t, int wall)
{
    if (t->clock != NULL)
        return t->clock(t->clock_ud);
    return wall ? (int64_t)time(NULL) : mono_s();
}

static int ticket_key_new(ticket_key_t *k, int64_t now)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1) {
        OPENSSL_cleanse(k, sizeof(*k));
        return -1;
    }
    k->created = now;
    return 0;
}

/* Period n's key of a shared ring: HKDF-SHA256(IKM = prk, salt = SLUICE_HKDF_SALT, info = label ‖
 * n as 8 bytes big-endian), 80 bytes cut into name, AES and HMAC keys. Every gateway given the
 * same secret computes the same key for the same period, with nothing exchanged between them. */
static int ticket_key_derive(const uint8_t prk[32], int64_t n, ticket_key_t *k)
{
    uint8_t info[sizeof(SLUICE_KEY_PURPOSE_TLS_TICKET) - 1 + 8], out[TICKET_KEY_BYTES];
    size_t ll = sizeof(SLUICE_KEY_PURPOSE_TLS_TICKET) - 1;
    memcpy(info, SLUICE_KEY_PURPOSE_TLS_TICKET, ll);
    for (int i = 0; i < 8; i++)
        info[ll + (size_t)i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    if (sluice_hkdf_sha256(SLUICE_HKDF_SALT, sizeof(SLUICE_HKDF_SALT) - 1, prk, 32, info, sizeof(info), out,
                           sizeof(out)) != 0) {
        OPENSSL_cleanse(k, sizeof(*k));
        return -1;
    }
    memcpy(k->name, out, 16);
    memcpy(k->aes, out + 16, 32);
    memcpy(k->hmac, out + 48, 32);
    OPENSSL_cleanse(out, sizeof(out));
    k->created = 1;
    return 0;
}

/* Under t->lock, derived keys: keys[] for the period the wall clock is in (every gateway of a
 * fleet reads the same hour from its own clock), and the periods either side. Returns -1 when
 * HKDF failed (the slots are then empty: no ticket rather than one under a wrong key). */
static int tickets_derive(sluice_tls_tickets_t *t, int64_t wall)
{
    int64_t p = wall / (int64_t)t->period;
    if (t->keys[0].created != 0 && p == t->at)
        return 0;
    static const int64_t offsets[3] = {0, -1, 1};
    for (int i = 0; i < 3; i++) {
        if (ticket_key_derive(t->prk, p + offsets[i], &t->keys[i]) != 0 ||
            (t->has_prev && ticket_key_derive(t->prev_prk, p + offsets[i], &t->prev_keys[i]) != 0)) {
            OPENSSL_cleanse(t->keys, sizeof(t->keys));
            OPENSSL_cleanse(t->prev_keys, sizeof(t->prev_keys));
            return -1;
        }
    }
    t->at = p;
    return 0;
}

/* Under t->lock: the encrypting key replaced once its period is over, the previous one wiped
 * once it is too old to decrypt (2 periods). Returns -1 when no fresh key could be made (the
 * old ones are then kept rather than leaving none). */
static int tickets_rotate(sluice_tls_tickets_t *t)
{
    if (t->shared)
        return tickets_derive(t, tickets_now(t, 1));
    int64_t now = tickets_now(t, 0);
    ticket_key_t *cur = &t->keys[0], *prev = &t->keys[1];
    if (prev->created != 0 && now - prev->created >= 2 * (int64_t)t->period)
        OPENSSL_cleanse(prev, sizeof(*prev));
    if (now - cur->created < (int64_t)t->period)
        return 0;
    ticket_key_t fresh;
    if (ticket_key_new(&fresh, now) != 0)
        return -1;
    *prev = *cur;
    *cur = fresh;
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    return 0;
}

static int tickets_index = -1;
static int seen_index = -1; /* per SSL: the sluice_tls_ticket_seen_t of its handshake so far */
static pthread_once_t tickets_once = PTHREAD_ONCE_INIT;

static void tickets_index_init(void)
{
    tickets_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    seen_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int mac_init(EVP_MAC_CTX *hctx, unsigned char *key)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): 1 done, 2 decrypted with
 * a key that no longer (or not yet) encrypts (OpenSSL then issues a ticket under the current
 * one), 0 no ticket issued or no such key (the handshake goes on, in full), -1 failure (the
 * handshake fails). */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
                     int enc)
{
    sluice_tls_tickets_t *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tickets_index);
    if (t == NULL)
        return 0;
    int rc = 0; /* no ticket rather than a failed handshake */
    pthread_mutex_lock(&t->lock);
    if (enc) {
        ticket_key_t *k = &t->keys[0];
        if (tickets_rotate(t) == 0 && RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 && mac_init(hctx, k->hmac) == 0) {
            memcpy(name, k->name, sizeof(k->name));
            rc = 1;
        }
    } else {
        (void)tickets_rotate(t);
        /* This secret's keys, then a previous secret's (all zero, so skipped, without one). */
        for (int i = 0; i < 6 && rc == 0; i++) {
            ticket_key_t *k = i < 3 ? &t->keys[i] : &t->prev_keys[i - 3];
            if (k->created == 0 || CRYPTO_memcmp(name, k->name, sizeof(k->name)) != 0)
                continue;
            if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 || mac_init(hctx, k->hmac) != 0)
                rc = -1;
            else
                rc = i == 0 ? 1 : 2;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* OpenSSL's word on each ticket a client offers, after ticket_cb (SSL_CTX_set_session_ticket_cb):
 * kept on the SSL for info_cb, which alone knows whether the handshake resumed. What OpenSSL
 * would have done without this callback is returned unchanged. */
static int ticket_seen_cb(SSL *ssl, SSL_SESSION *sess, const unsigned char *name, size_t name_len,
                          SSL_TICKET_STATUS status, void *arg)
{
    (void)sess;
    (void)name;
    (void)name_len;
    (void)arg;
    intptr_t seen = status == SSL_TICKET_NO_DECRYPT                                      ? SLUICE_TLS_TICKET_UNKNOWN_KEY
                    : status == SSL_TICKET_SUCCESS || status == SSL_TICKET_SUCCESS_RENEW ? SLUICE_TLS_TICKET_OPENED
                                                                                         : SLUICE_TLS_TICKET_NONE;
    if (seen > (intptr_t)SSL_get_ex_data(ssl, seen_index))
        SSL_set_ex_data(ssl, seen_index, (void *)seen);
    switch (status) {
    case SSL_TICKET_SUCCESS: return SSL_TICKET_RETURN_USE;
    case SSL_TICKET_SUCCESS_RENEW: return SSL_TICKET_RETURN_USE_RENEW;
    default: /* empty, or not decrypted: a full handshake, and a new ticket */ return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
}

/* The end of a server handshake: its outcome to the tickets' on_handshake. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if ((where & SSL_CB_HANDSHAKE_DONE) == 0)
        return;
    const sluice_tls_tickets_t *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tickets_index);
    if (t == NULL || t->on_handshake == NULL)
        return;
    sluice_tls_handshake_t h = {SSL_version(ssl), SSL_session_reused(ssl),
                                (sluice_tls_ticket_seen_t)(intptr_t)SSL_get_ex_data(ssl, seen_index)};
    t->on_handshake(&h);
}

static sluice_tls_tickets_t *tickets_new(unsigned period_s, sluice_err_t *err)
{
    pthread_once(&tickets_once, tickets_index_init);
    if (tickets_index < 0 || seen_index < 0) {
        sluice_err_set(err, "TLS session tickets: no OpenSSL ex_data index");
        return NULL;
    }
    sluice_tls_tickets_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        sluice_err_set(err, "TLS session tickets: out of memory");
        return NULL;
    }
    t->period = period_s ? period_s : 1;
    return t;
}

sluice_tls_tickets_t *sluice_tls_tickets_create(unsigned period_s, sluice_err_t *err)
{
    sluice_tls_tickets_t *t = tickets_new(period_s, err);
    if (t == NULL)
        return NULL;
    if (ticket_key_new(&t->keys[0], tickets_now(t, 0)) != 0) {
        free(t);
        sluice_err_set(err, "TLS session tickets: no random bytes for a key");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

/* s without the spaces and line ends around it, in *len (a secret read from a file or a
 * Kubernetes Secret keeps its line end; one pod given it with, another without, would never
 * resume each other's sessions and nothing would say why). */
static const char *trim_secret(const char *s, size_t *len)
{
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
        n--;
    while (n > 0 && strchr(" \t\r\n", s[0]) != NULL) {
        s++;
        n--;
    }
    *len = n;
    return s;
}

/* Whether the ticket secret s (n bytes) is ENCRYPTION_KEY's value e (en bytes): the same text, or
 * the same 32-byte key in hex of another case (the keyring reads either case, crypto/keyring.c),
 * which an operator copying the key from another tool or file would otherwise get past the check. */
static int same_as_encryption_key(const char *s, size_t n, const char *e, size_t en)
{
    if (sluice_ct_streq(s, n, e, en))
        return 1;
    uint8_t a[32], b[32];
    size_t al = 0, bl = 0;
    int same = n == 2 * sizeof(a) && en == 2 * sizeof(b) && sluice_hex_decode(s, n, a, sizeof(a), &al) == 0 &&
               sluice_hex_decode(e, en, b, sizeof(b), &bl) == 0 && sluice_ct_equal(a, b, sizeof(a));
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return same;
}

int sluice_tls_ticket_secret_check(const char *what, const char *secret, const char *encryption_key, sluice_err_t *err)
{
    size_t n, en = 0;
    const char *s = trim_secret(secret, &n);
    if (n == 0)
        return sluice_err_set(err,
                              "%s is %s: session tickets need a secret of at least %d bytes (e.g. `openssl "
                              "rand -hex 32`), the same on every gateway",
                              what, secret[0] == '\0' ? "empty" : "only spaces and line ends",
                              SLUICE_TLS_TICKET_SECRET_MIN);
    if (n < SLUICE_TLS_TICKET_SECRET_MIN)
        return sluice_err_set(err,
                              "%s holds %zu bytes: a session-ticket secret needs at least %d (e.g. `openssl rand -hex "
                              "32`), the same on every gateway",
                              what, n, SLUICE_TLS_TICKET_SECRET_MIN);
    const char *e = encryption_key != NULL ? trim_secret(encryption_key, &en) : NULL;
    if (e != NULL && same_as_encryption_key(s, n, e, en))
        return sluice_err_set(err,
                              "%s holds the same value as ENCRYPTION_KEY: give session tickets a secret of their own "
                              "(a key of one purpose must open nothing of another's)",
                              what);
    return 0;
}

/* prk = HKDF-SHA256(IKM = secret without the spaces around it, SLUICE_HKDF_SALT, the ticket
 * purpose): only this extract of a secret stays in memory (the caller wipes the secret itself). */
static int secret_extract(const char *secret, uint8_t prk[32])
{
    size_t n;
    const char *s = trim_secret(secret, &n);
    return sluice_hkdf_sha256(SLUICE_HKDF_SALT, sizeof(SLUICE_HKDF_SALT) - 1, s, n, SLUICE_KEY_PURPOSE_TLS_TICKET,
                              sizeof(SLUICE_KEY_PURPOSE_TLS_TICKET) - 1, prk, 32);
}

sluice_tls_tickets_t *sluice_tls_tickets_create_shared(const char *what, const char *secret, const char *encryption_key,
                                                       unsigned period_s, sluice_err_t *err)
{
    if (sluice_tls_ticket_secret_check(what, secret, encryption_key, err) != 0)
        return NULL;
    sluice_tls_tickets_t *t = tickets_new(period_s, err);
    if (t == NULL)
        return NULL;
    if (secret_extract(secret, t->prk) != 0 || tickets_derive(t, (int64_t)time(NULL)) != 0) {
        OPENSSL_cleanse(t, sizeof(*t));
        free(t);
        sluice_err_set(err, "TLS session tickets: cannot derive keys from %s (OpenSSL's HKDF failed)", what);
        return NULL;
    }
    t->shared = 1;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

int sluice_tls_tickets_accept_previous(sluice_tls_tickets_t *t, const char *what, const char *secret,
                                       const char *encryption_key, sluice_err_t *err)
{
    if (!t->shared)
        return sluice_err_set(err, "%s: a previous session-ticket secret needs a current one", what);
    if (sluice_tls_ticket_secret_check(what, secret, encryption_key, err) != 0)
        return -1;
    uint8_t prk[32];
    if (secret_extract(secret, prk) != 0) {
        OPENSSL_cleanse(prk, sizeof(prk));
        return sluice_err_set(err, "TLS session tickets: cannot derive keys from %s (OpenSSL's HKDF failed)", what);
    }
    /* The same secret twice is a rotation not made (the new value put in the wrong variable):
     * said rather than taken, since nothing would ever fail to show it. */
    int same = sluice_ct_equal(prk, t->prk, sizeof(prk));
    int rc = 0;
    if (same) {
        rc = sluice_err_set(err,
                            "%s holds the same secret as server.https.session_ticket_secret_env's variable: give it "
                            "the secret being replaced, and the current one the new secret",
                            what);
    } else {
        pthread_mutex_lock(&t->lock);
        memcpy(t->prev_prk, prk, sizeof(prk));
        t->has_prev = 1;
        t->keys[0].created = 0; /* derived again, with the previous secret's keys, at the next use */
        if (tickets_derive(t, tickets_now(t, 1)) != 0)
            rc = sluice_err_set(err, "TLS session tickets: cannot derive keys from %s (OpenSSL's HKDF failed)", what);
        pthread_mutex_unlock(&t->lock);
    }
    OPENSSL_cleanse(prk, sizeof(prk));
    return rc;
}

int sluice_tls_tickets_shared(const sluice_tls_tickets_t *t)
{
    return t != NULL && t->shared;
}

int sluice_tls_tickets_attach(sluice_tls_tickets_t *t, SSL_CTX *ctx, sluice_err_t *err)
{
    if (SSL_CTX_set_ex_data(ctx, tickets_index, t) != 1 || SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1 ||
        SSL_CTX_set_session_ticket_cb(ctx, NULL, ticket_seen_cb, NULL) != 1)
        return sluice_err_set(err, "TLS session tickets: OpenSSL refused the key callback");
    SSL_CTX_set_info_callback(ctx, info_cb);
    /* A session (a TLS 1.2 id or a ticket) lives as long as the key that encrypts it is sure to. */
    SSL_CTX_set_timeout(ctx, (long)t->period);
    return 0;
}

void sluice_tls_tickets_on_handshake(sluice_tls_tickets_t *t, sluice_tls_handshake_fn fn)
{
    t->on_handshake = fn;
}

void sluice_tls_tickets_set_clock(sluice_tls_tickets_t *t, int64_t (*now)(void *ud), void *ud)
{
    pthread_mutex_lock(&t->lock);
    t->clock = now;
    t->clock_ud = ud;
    if (t->shared) {
        t->keys[0].created = 0; /* derived again for the test's period */
        (void)tickets_derive(t, tickets_now(t, 1));
    } else {
        /* The keys' ages restart at the test's clock: the encrypting one new, the other gone. */
        t->keys[0].created = tickets_now(t, 0);
        OPENSSL_cleanse(&t->keys[1], sizeof(t->keys[1]));
    }
    pthread_mutex_unlock(&t->lock);
}

void sluice_tls_tickets_destroy(sluice_tls_tickets_t *t)
{
    if (t == NULL)
        return;
    OPENSSL_cleanse(t->keys, sizeof(t->keys));
    OPENSSL_cleanse(t->prev_keys, sizeof(t->prev_keys));
    OPENSSL_cleanse(t->prk, sizeof(t->prk));
    OPENSSL_cleanse(t->prev_prk, sizeof(t->prev_prk));
    pthread_mutex_destroy(&t->lock);
    free(t);
}

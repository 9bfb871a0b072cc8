/* Tests for crypto/tls.c: the OpenSSL error queue as text (never "(null)", the earliest entry,
 * the queue emptied), and the certificate/key/CA checks on files this test writes: a matching
 * pair, a key of another certificate, files that are not PEM, missing files, a directory, an
 * encrypted key, CA bundles; session tickets resumed across contexts and their keys rotated;
 * shared ticket keys (one secret, two gateways) resumed across processes' rings, rotated by
 * the wall clock's period (a test's clock, stepped across periods' edges), their secret checked,
 * and each handshake's outcome reported (full, resumed, a ticket of an unknown key).
 * Keys and certificates are made here with OpenSSL (EC P-256). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/tls.h"

static char dir[64];
static char cert_a[128], key_a[128], key_b[128], key_enc[128], junk[128], empty[128], missing[128];

static void path_in(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    return k;
}

static void write_key(const char *path, EVP_PKEY *k, const char *pass)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const EVP_CIPHER *c = pass ? EVP_aes_256_cbc() : NULL;
    assert_int_equal(PEM_write_PrivateKey(f, k, c, (unsigned char *)pass, pass ? (int)strlen(pass) : 0, NULL, NULL), 1);
    fclose(f);
}

/* A self-signed certificate for k. */
static void write_cert(const char *path, EVP_PKEY *k)
{
    X509 *x = X509_new();
    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, n);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sluice-tls-test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    path_in(cert_a, sizeof(cert_a), "a.crt");
    path_in(key_a, sizeof(key_a), "a.key");
    path_in(key_b, sizeof(key_b), "b.key");
    path_in(key_enc, sizeof(key_enc), "enc.key");
    path_in(junk, sizeof(junk), "junk.pem");
    path_in(empty, sizeof(empty), "empty.pem");
    path_in(missing, sizeof(missing), "missing.pem");
    EVP_PKEY *a = new_key(), *b = new_key();
    write_key(key_a, a, NULL);
    write_cert(cert_a, a);
    write_key(key_b, b, NULL);
    write_key(key_enc, a, "correct horse");
    write_text(junk, "this is not PEM\n");
    write_text(empty, "");
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {cert_a, key_a, key_b, key_enc, junk, empty};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    rmdir(dir);
    return 0;
}

/* msg must equal prefix followed by OpenSSL text that contains reason, and never "(null)". */
static void expect_msg(const char *msg, const char *prefix, const char *reason)
{
    if (strncmp(msg, prefix, strlen(prefix)) != 0 || strstr(msg, reason) == NULL || strstr(msg, "(null)") != NULL)
        print_message("  got: %s\n  want: %s...%s\n", msg, prefix, reason);
    assert_memory_equal(msg, prefix, strlen(prefix));
    assert_non_null(strstr(msg + strlen(prefix), reason));
    assert_null(strstr(msg, "(null)"));
}

static void test_error_text_system_error(void **state)
{
    (void)state;
    /* OpenSSL 3's ERR_reason_error_string is NULL for system errors: the gateway printed
     * "(null)" for a missing certificate. */
    ERR_clear_error();
    BIO *b = BIO_new_file(missing, "r");
    assert_null(b);
    char buf[300], want[300];
    snprintf(want, sizeof(want), "system library: No such file or directory (calling fopen(%s, r))", missing);
    sluice_tls_error_text(buf, sizeof(buf));
    assert_string_equal(buf, want);
    /* The queue is empty afterwards. */
    assert_int_equal(ERR_peek_error(), 0);
    assert_string_equal(sluice_tls_error_text(buf, sizeof(buf)), "no reason given by OpenSSL");
}

static void test_error_text_earliest_entry(void **state)
{
    (void)state;
    ERR_clear_error();
    ERR_raise_data(ERR_LIB_PEM, PEM_R_NO_START_LINE, "Expecting: %s", "CERTIFICATE");
    ERR_raise(ERR_LIB_SSL, ERR_R_PEM_LIB);
    char buf[300];
    assert_string_equal(sluice_tls_error_text(buf, sizeof(buf)),
                        "PEM routines: no start line (Expecting: CERTIFICATE)");
    assert_int_equal(ERR_peek_error(), 0);
    /* A short buffer is cut, still terminated. */
    ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
    char small[12];
    assert_string_equal(sluice_tls_error_text(small, sizeof(small)), "x509 certif");
}

static void test_pair_ok(void **state)
{
    (void)state;
    sluice_err_t ce = {{0}}, ke = {{0}};
    assert_int_equal(sluice_tls_check_pair(cert_a, key_a, &ce, &ke), 0);
    assert_string_equal(ce.msg, "");
    assert_string_equal(ke.msg, "");
}

static void test_pair_mismatch(void **state)
{
    (void)state;
    sluice_err_t ce = {{0}}, ke = {{0}};
    assert_int_equal(sluice_tls_check_pair(cert_a, key_b, &ce, &ke), -1);
    assert_string_equal(ce.msg, "");
    char want[400];
    snprintf(want, sizeof(want),
             "'%s' does not belong to the certificate '%s': x509 certificate routines: key values mismatch", key_b,
             cert_a);
    assert_string_equal(ke.msg, want);
}

static void test_pair_not_pem(void **state)
{
    (void)state;
    sluice_err_t ce = {{0}}, ke = {{0}};
    assert_int_equal(sluice_tls_check_pair(junk, junk, &ce, &ke), -1);
    char want[300];
    snprintf(want, sizeof(want), "'%s' is not a PEM certificate chain: ", junk);
    expect_msg(ce.msg, want, "PEM routines: no start line");
    snprintf(want, sizeof(want), "'%s' is not a PEM private key without a passphrase: ", junk);
    expect_msg(ke.msg, want, "DECODER routines: unsupported");
    /* Swapped files: a key is not a certificate, a certificate is not a key. */
    assert_int_equal(sluice_tls_check_pair(key_a, cert_a, &ce, &ke), -1);
    snprintf(want, sizeof(want), "'%s' is not a PEM certificate chain: ", key_a);
    expect_msg(ce.msg, want, "no start line");
    snprintf(want, sizeof(want), "'%s' is not a PEM private key without a passphrase: ", cert_a);
    expect_msg(ke.msg, want, "routines: ");
    /* An empty file. */
    assert_int_equal(sluice_tls_check_pair(empty, key_a, &ce, &ke), -1);
    snprintf(want, sizeof(want), "'%s' is not a PEM certificate chain: ", empty);
    expect_msg(ce.msg, want, "no start line");
    assert_string_equal(ke.msg, "");
}

static void test_pair_missing_and_directory(void **state)
{
    (void)state;
    sluice_err_t ce = {{0}}, ke = {{0}};
    assert_int_equal(sluice_tls_check_pair(missing, dir, &ce, &ke), -1);
    char want[300];
    snprintf(want, sizeof(want), "cannot read '%s': No such file or directory", missing);
    assert_string_equal(ce.msg, want);
    snprintf(want, sizeof(want), "'%s' is a directory, not a file", dir);
    assert_string_equal(ke.msg, want);
    /* One side absent: only the other is checked. */
    assert_int_equal(sluice_tls_check_pair(NULL, key_a, &ce, &ke), 0);
    assert_int_equal(sluice_tls_check_pair(cert_a, NULL, &ce, &ke), 0);
    assert_int_equal(sluice_tls_check_pair(NULL, missing, &ce, &ke), -1);
    assert_string_equal(ce.msg, "");
    assert_non_null(strstr(ke.msg, "No such file or directory"));
}

static void test_pair_encrypted_key(void **state)
{
    (void)state;
    /* Refused without prompting (the test would hang on a terminal otherwise). */
    sluice_err_t ce = {{0}}, ke = {{0}};
    assert_int_equal(sluice_tls_check_pair(cert_a, key_enc, &ce, &ke), -1);
    assert_string_equal(ce.msg, "");
    char want[300];
    snprintf(want, sizeof(want), "'%s' is not a PEM private key without a passphrase: ", key_enc);
    expect_msg(ke.msg, want, "routines: ");
}

static void test_ca(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_tls_check_ca(cert_a, &err), 0);
    assert_string_equal(err.msg, "");
    assert_int_equal(sluice_tls_check_ca(junk, &err), -1);
    char want[300];
    snprintf(want, sizeof(want), "'%s' is not a PEM CA bundle: ", junk);
    expect_msg(err.msg, want, "x509 certificate routines: no certificate or crl found");
    assert_int_equal(sluice_tls_check_ca(missing, &err), -1);
    snprintf(want, sizeof(want), "cannot read '%s': No such file or directory", missing);
    assert_string_equal(err.msg, want);
    /* A private key alone is no CA bundle. */
    assert_int_equal(sluice_tls_check_ca(key_a, &err), -1);
    snprintf(want, sizeof(want), "'%s' is not a PEM CA bundle: ", key_a);
    expect_msg(err.msg, want, "no certificate or crl found");
}

/* A certificate for k with subject CN=cn, signed by signer as CN=issuer_cn (signer == k and
 * cn == issuer_cn: self-signed), ending `end` seconds from now, with authorityInfoAccess
 * caIssuers when aia, as a CA when ca; appended to path. */
static void append_cert(const char *path, EVP_PKEY *k, const char *cn, EVP_PKEY *signer, const char *issuer_cn,
                        long end, int aia, int ca)
{
    X509 *x = X509_new();
    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -7200);
    X509_gmtime_adj(X509_getm_notAfter(x), end);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC, (const unsigned char *)issuer_cn, -1, -1,
                               0);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
                             {"authorityInfoAccess", "caIssuers;URI:http://127.0.0.1:1/issuer.crt"}};
    for (int i = 0; i < (aia ? 2 : 1); i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        assert_non_null(e);
        assert_int_equal(X509_add_ext(x, e, -1), 1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

/* What a gateway's reload refuses, config check says first: an expired certificate, and a public
 * CA's certificate given without its intermediate (certbot's cert.pem for fullchain.pem). Both
 * passed, and the reload that followed the check was refused (or, before, served them). */
static void test_pair_expired_and_without_intermediate(void **state)
{
    (void)state;
    char expired[128], leaf[128], full[128], want[512];
    path_in(expired, sizeof(expired), "expired.crt");
    path_in(leaf, sizeof(leaf), "leaf.crt");
    path_in(full, sizeof(full), "full.crt");
    EVP_PKEY *a = EVP_PKEY_new(), *issuer = new_key();
    FILE *kf = fopen(key_a, "r");
    assert_non_null(kf);
    assert_non_null(PEM_read_PrivateKey(kf, &a, NULL, NULL));
    fclose(kf);
    append_cert(expired, a, "localhost", a, "localhost", -3600, 0, 0);
    append_cert(leaf, a, "localhost", issuer, "sluice issuer", 86400, 1, 0);
    append_cert(full, a, "localhost", issuer, "sluice issuer", 86400, 1, 0);
    append_cert(full, issuer, "sluice issuer", issuer, "sluice issuer", 86400, 0, 1);

    sluice_err_t ce = {{0}}, ke = {{0}};
    assert_int_equal(sluice_tls_check_pair(expired, key_a, &ce, &ke), -1);
    snprintf(want, sizeof(want), "'%s' expired on ", expired);
    assert_memory_equal(ce.msg, want, strlen(want));
    assert_string_equal(ke.msg, "");
    assert_int_equal(sluice_tls_check_pair(leaf, key_a, &ce, &ke), -1);
    snprintf(want, sizeof(want),
             "'%s' holds no certificate of its issuer /CN=sluice issuer: give the full chain (certbot's "
             "fullchain.pem, not cert.pem)",
             leaf);
    assert_string_equal(ce.msg, want);
    assert_string_equal(ke.msg, "");
    assert_int_equal(sluice_tls_check_pair(full, key_a, &ce, &ke), 0);
    assert_string_equal(ce.msg, "");
    /* A private CA's certificate names no caIssuers: its clients are given the CA (certs.sh's). */
    unlink(leaf);
    append_cert(leaf, a, "localhost", issuer, "sluice issuer", 86400, 0, 0);
    assert_int_equal(sluice_tls_check_pair(leaf, key_a, &ce, &ke), 0);

    /* A company's root that issues servers' certificates itself and names its own URL as caIssuers
     * (Active Directory Certificate Services, Vault's PKI), installed in this machine's trust store
     * as on its clients: the certificate alone is the whole chain. It was taken for certbot's
     * cert.pem, and config check and every reload refused it. */
    char root[128], direct[128];
    path_in(root, sizeof(root), "root.crt");
    path_in(direct, sizeof(direct), "direct.crt");
    append_cert(root, issuer, "sluice issuer", issuer, "sluice issuer", 86400, 0, 1);
    append_cert(direct, a, "localhost", issuer, "sluice issuer", 86400, 1, 0);
    const char *had = getenv("SSL_CERT_FILE");
    char *saved = had != NULL ? strdup(had) : NULL;
    assert_int_equal(setenv("SSL_CERT_FILE", root, 1), 0);
    int rc = sluice_tls_check_pair(direct, key_a, &ce, &ke);
    if (saved != NULL)
        setenv("SSL_CERT_FILE", saved, 1);
    else
        unsetenv("SSL_CERT_FILE");
    free(saved);
    if (rc != 0)
        fail_msg("a certificate issued by a root this machine trusts was refused: %s", ce.msg);
    /* The same certificate where its root is not trusted is still the cert.pem case. */
    assert_int_equal(sluice_tls_check_pair(direct, key_a, &ce, &ke), -1);
    assert_non_null(strstr(ce.msg, "holds no certificate of its issuer /CN=sluice issuer"));
    unlink(root);
    unlink(direct);
    unlink(expired);
    unlink(leaf);
    unlink(full);
    EVP_PKEY_free(a);
    EVP_PKEY_free(issuer);
}

/* One handshake in memory between a client of cctx and a server of sctx, offering sess (NULL:
 * none). Returns the client's session after it (in TLS 1.3 the one of the ticket the server sent
 * after the handshake), and in *reused whether sess was resumed. */
static SSL_SESSION *handshake(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess, int *reused)
{
    SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
    assert_non_null(s);
    assert_non_null(c);
    BIO *bs, *bc;
    assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    if (sess != NULL)
        assert_int_equal(SSL_set_session(c, sess), 1);
    int rc = 0, rs = 0;
    for (int i = 0; i < 50 && (rc != 1 || rs != 1); i++) {
        rc = SSL_do_handshake(c);
        rs = SSL_do_handshake(s);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(rs, 1);
    *reused = SSL_session_reused(c);
    char byte;
    assert_true(SSL_read(c, &byte, 1) <= 0); /* TLS 1.3: takes in the server's tickets */
    ERR_clear_error();
    SSL_SESSION *out = SSL_get1_session(c);
    assert_non_null(out);
    /* Freed without a close_notify sent, a connection's session is marked not resumable. */
    SSL_shutdown(c);
    SSL_shutdown(s);
    SSL_free(c);
    SSL_free(s);
    return out;
}

/* A server context of t's keys, whose sessions live timeout seconds (0: as attach set it). */
static SSL_CTX *ticket_server_for(sluice_tls_tickets_t *t, long timeout)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, cert_a), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key_a, SSL_FILETYPE_PEM), 1);
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_tls_tickets_attach(t, ctx, &err), 0);
    if (timeout > 0)
        SSL_CTX_set_timeout(ctx, timeout);
    return ctx;
}

static SSL_CTX *ticket_server(sluice_tls_tickets_t *t)
{
    SSL_CTX *ctx = ticket_server_for(t, 0);
    /* a session lives no longer than its key encrypts */
    assert_int_equal(SSL_CTX_get_timeout(ctx), SLUICE_TLS_TICKET_PERIOD_S);
    /* Longer here, so that what is checked below is the keys' lifetime, not the sessions'. */
    SSL_CTX_set_timeout(ctx, 100);
    return ctx;
}

/* A client that speaks TLS 1.2 (its ticket is in the session once the handshake is done). */
static SSL_CTX *client12(void)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
    return cctx;
}

/* Whether sess resumes on server (the session the handshake ends with is dropped). */
static int resumes(SSL_CTX *server, SSL_CTX *cctx, SSL_SESSION *sess)
{
    int reused;
    SSL_SESSION_free(handshake(server, cctx, sess, &reused));
    return reused;
}

static int same_ticket(const SSL_SESSION *a, const SSL_SESSION *b)
{
    const unsigned char *ta, *tb;
    size_t la, lb;
    SSL_SESSION_get0_ticket(a, &ta, &la);
    SSL_SESSION_get0_ticket(b, &tb, &lb);
    return la == lb && la > 0 && memcmp(ta, tb, la) == 0;
}

/* The tests' clock (sluice_tls_tickets_set_clock): Unix seconds, stepped by the test. */
static int64_t test_now(void *ud)
{
    return *(const int64_t *)ud;
}

/* A ticket from one context resumes on another of the same keys (a reload's), still with the
 * key's successor (and is then renewed under it), and no longer once its key is two periods old:
 * OpenSSL's own keys were per context and never changed. On the tests' clock, at each edge. */
static void test_tickets_rotate(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_tls_tickets_t *t = sluice_tls_tickets_create(SLUICE_TLS_TICKET_PERIOD_S, &err);
    assert_non_null(t);
    int64_t now = 1000000;
    sluice_tls_tickets_set_clock(t, test_now, &now);
    SSL_CTX *a = ticket_server(t), *b = ticket_server(t);
    SSL_CTX *cctx = client12();
    int reused;
    SSL_SESSION *first = handshake(a, cctx, NULL, &reused);
    assert_false(reused);
    SSL_SESSION *again = handshake(b, cctx, first, &reused);
    assert_true(reused);                    /* another context: a reload's */
    assert_true(same_ticket(first, again)); /* the key still encrypts: no new ticket */
    SSL_SESSION_free(again);

    now += SLUICE_TLS_TICKET_PERIOD_S - 1; /* the last second of the first key's period */
    again = handshake(a, cctx, first, &reused);
    assert_true(reused);
    assert_true(same_ticket(first, again));
    SSL_SESSION_free(again);

    now += 1; /* the first key now only decrypts */
    SSL_SESSION *renewed = handshake(a, cctx, first, &reused);
    assert_true(reused);
    assert_false(same_ticket(first, renewed)); /* a new ticket, under the new key */

    now += SLUICE_TLS_TICKET_PERIOD_S - 1; /* the first key's last second */
    assert_true(resumes(b, cctx, first));
    now += 1; /* the first key is gone */
    SSL_SESSION *late = handshake(b, cctx, first, &reused);
    assert_false(reused);
    SSL_SESSION_free(late);
    late = handshake(b, cctx, renewed, &reused);
    assert_true(reused);
    SSL_SESSION_free(late);

    SSL_SESSION_free(renewed);
    SSL_SESSION_free(first);
    SSL_CTX_free(cctx);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    sluice_tls_tickets_destroy(t);
}

#define FLEET_SECRET "fleet-ticket-secret-7b1d0c5e9a2f4386b05d1e7c3a9f2d64"

static sluice_tls_tickets_t *shared(const char *secret, unsigned period)
{
    sluice_err_t err = {{0}};
    sluice_tls_tickets_t *t = sluice_tls_tickets_create_shared("T", secret, NULL, period, &err);
    if (t == NULL)
        fail_msg("%s", err.msg);
    assert_true(sluice_tls_tickets_shared(t));
    return t;
}

/* Two rings made from one secret stand for two gateway processes: a ticket one issues resumes on
 * the other; a ring of another secret, or a random one, makes a full handshake. Spaces and the
 * line end around the secret do not change the keys (a Secret mounted from a file). */
static void test_tickets_shared_across_processes(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_tls_tickets_t *t1 = shared(FLEET_SECRET, 3600), *t2 = shared(" " FLEET_SECRET "\n", 3600);
    sluice_tls_tickets_t *other = shared("another-fleet-secret-00d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5", 3600);
    sluice_tls_tickets_t *random = sluice_tls_tickets_create(3600, &err);
    assert_non_null(random);
    assert_false(sluice_tls_tickets_shared(random));
    SSL_CTX *a = ticket_server_for(t1, 3600), *b = ticket_server_for(t2, 3600);
    SSL_CTX *c = ticket_server_for(other, 3600), *r = ticket_server_for(random, 3600);
    SSL_CTX *cctx = client12();
    int reused;
    SSL_SESSION *first = handshake(a, cctx, NULL, &reused);
    assert_false(reused);
    assert_true(resumes(b, cctx, first));  /* the other process, same secret */
    assert_false(resumes(c, cctx, first)); /* another secret */
    assert_false(resumes(r, cctx, first)); /* random keys, as without the setting */
    SSL_SESSION_free(first);
    SSL_CTX_free(cctx);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    SSL_CTX_free(r);
    sluice_tls_tickets_destroy(t1);
    sluice_tls_tickets_destroy(t2);
    sluice_tls_tickets_destroy(other);
    sluice_tls_tickets_destroy(random);
}

/* Shared keys rotate with the wall clock's period, as every gateway of a fleet reads it: a ticket
 * issued in the last second of period p resumes in p+1 (renewed under p+1's key), on a ring made
 * in p+1 too (a gateway started since), and no longer in p+2; a gateway whose clock is still in p
 * opens a ticket one already in p+1 issued. On the tests' clock, at each edge. */
static void test_tickets_shared_rotate_by_period(void **state)
{
    (void)state;
    const int64_t period = SLUICE_TLS_TICKET_PERIOD_S, p = 490000;
    int64_t now = p * period + period - 1, behind = now;
    sluice_tls_tickets_t *t = shared(FLEET_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    sluice_tls_tickets_set_clock(t, test_now, &now);
    SSL_CTX *a = ticket_server_for(t, 100);
    SSL_CTX *cctx = client12();
    int reused;
    SSL_SESSION *first = handshake(a, cctx, NULL, &reused); /* period p */
    assert_false(reused);

    now += 1; /* p+1: p's key only decrypts */
    sluice_tls_tickets_t *later = shared(FLEET_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    sluice_tls_tickets_set_clock(later, test_now, &now);
    SSL_CTX *b = ticket_server_for(later, 100);
    SSL_SESSION *renewed = handshake(b, cctx, first, &reused);
    assert_true(reused);
    assert_false(same_ticket(first, renewed)); /* a new ticket, under p+1's key */
    assert_true(resumes(a, cctx, first));

    /* A gateway whose clock is a second behind, still in p, opens p+1's ticket. */
    sluice_tls_tickets_t *slow = shared(FLEET_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    sluice_tls_tickets_set_clock(slow, test_now, &behind);
    SSL_CTX *c = ticket_server_for(slow, 100);
    assert_true(resumes(c, cctx, renewed));

    now += period - 1; /* the last second of p+1 */
    assert_true(resumes(a, cctx, first));
    now += 1; /* p+2: p's key is gone, p+1's decrypts */
    assert_false(resumes(a, cctx, first));
    assert_true(resumes(b, cctx, renewed));

    SSL_SESSION_free(renewed);
    SSL_SESSION_free(first);
    SSL_CTX_free(cctx);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    sluice_tls_tickets_destroy(t);
    sluice_tls_tickets_destroy(later);
    sluice_tls_tickets_destroy(slow);
}

#define NEW_SECRET "next-fleet-ticket-secret-5c2e8a1f0b9d4e7360a1c2d3e4f5a6b7"

/* The fleet's secret replaced: a gateway given the new one with the old one as previous opens the
 * old secret's tickets (a full handshake avoided) and renews them under the new secret, which a
 * gateway without the old one then resumes; a ring of the new secret alone does not open them.
 * The previous secret is checked as the current one, and refused when it is the same secret. */
static void test_tickets_previous_secret(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_tls_tickets_t *old = shared(FLEET_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    sluice_tls_tickets_t *next = shared(NEW_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    sluice_tls_tickets_t *alone = shared(NEW_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    if (sluice_tls_tickets_accept_previous(next, "P", FLEET_SECRET "\n", NULL, &err) != 0)
        fail_msg("%s", err.msg);
    SSL_CTX *a = ticket_server_for(old, 3600), *b = ticket_server_for(next, 3600), *c = ticket_server_for(alone, 3600);
    SSL_CTX *cctx = client12();
    int reused;
    SSL_SESSION *first = handshake(a, cctx, NULL, &reused);
    assert_false(reused);
    assert_false(resumes(c, cctx, first)); /* the new secret alone: a full handshake */
    SSL_SESSION *renewed = handshake(b, cctx, first, &reused);
    assert_true(reused);
    assert_false(same_ticket(first, renewed));
    assert_true(resumes(c, cctx, renewed));  /* renewed under the new secret */
    assert_false(resumes(a, cctx, renewed)); /* previous only opens: nothing issued under it */

    /* The previous secret's keys follow the periods as the current one's. */
    int64_t now = 490000LL * SLUICE_TLS_TICKET_PERIOD_S;
    sluice_tls_tickets_set_clock(old, test_now, &now);
    sluice_tls_tickets_set_clock(next, test_now, &now);
    SSL_SESSION *at_p = handshake(a, cctx, NULL, &reused);
    now += SLUICE_TLS_TICKET_PERIOD_S;
    assert_true(resumes(b, cctx, at_p));
    now += SLUICE_TLS_TICKET_PERIOD_S;
    assert_false(resumes(b, cctx, at_p));

    assert_int_equal(sluice_tls_tickets_accept_previous(alone, "P", " " NEW_SECRET, NULL, &err), -1);
    assert_string_equal(err.msg, "P holds the same secret as server.https.session_ticket_secret_env's variable: give "
                                 "it the secret being replaced, and the current one the new secret");
    assert_int_equal(sluice_tls_tickets_accept_previous(alone, "P", "short", NULL, &err), -1);
    assert_string_equal(err.msg, "P holds 5 bytes: a session-ticket secret needs at least 32 (e.g. `openssl rand -hex "
                                 "32`), the same on every gateway");
    sluice_tls_tickets_t *random = sluice_tls_tickets_create(3600, &err);
    assert_int_equal(sluice_tls_tickets_accept_previous(random, "P", FLEET_SECRET, NULL, &err), -1);
    assert_string_equal(err.msg, "P: a previous session-ticket secret needs a current one");

    SSL_SESSION_free(at_p);
    SSL_SESSION_free(renewed);
    SSL_SESSION_free(first);
    SSL_CTX_free(cctx);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    sluice_tls_tickets_destroy(old);
    sluice_tls_tickets_destroy(next);
    sluice_tls_tickets_destroy(alone);
    sluice_tls_tickets_destroy(random);
}

/* The handshakes the gateway counts on /metrics (sluice_tls_handshakes_total,
 * sluice_tls_tickets_refused_total), as the contexts of t report them. */
static sluice_tls_handshake_t outcomes[16];
static int noutcomes;

static void record_handshake(const sluice_tls_handshake_t *h)
{
    if (noutcomes < (int)(sizeof(outcomes) / sizeof(outcomes[0])))
        outcomes[noutcomes] = *h;
    noutcomes++;
}

/* Each handshake is reported once, on its own thread, with its version, whether it resumed and
 * what became of the client's ticket: a first visit (none), a resumption (opened), and a ticket
 * of another fleet's secret (a pod given a mistyped one: its key unknown, a full handshake). */
static void test_tickets_report_each_handshake(void **state)
{
    (void)state;
    sluice_tls_tickets_t *t = shared(FLEET_SECRET, SLUICE_TLS_TICKET_PERIOD_S);
    sluice_tls_tickets_t *other = shared("another-fleet-secret-00d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5", 3600);
    sluice_tls_tickets_on_handshake(t, record_handshake);
    sluice_tls_tickets_on_handshake(other, record_handshake);
    SSL_CTX *a = ticket_server_for(t, 3600), *c = ticket_server_for(other, 3600);
    static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (int v = 0; v < 2; v++) {
        SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
        assert_non_null(cctx);
        SSL_CTX_set_max_proto_version(cctx, versions[v]);
        noutcomes = 0;
        int reused;
        SSL_SESSION *first = handshake(a, cctx, NULL, &reused);
        assert_int_equal(noutcomes, 1);
        assert_int_equal(outcomes[0].version, versions[v]);
        assert_false(outcomes[0].resumed);
        assert_int_equal(outcomes[0].ticket, SLUICE_TLS_TICKET_NONE);

        assert_true(resumes(a, cctx, first));
        assert_int_equal(noutcomes, 2);
        assert_int_equal(outcomes[1].version, versions[v]);
        assert_true(outcomes[1].resumed);
        assert_int_equal(outcomes[1].ticket, SLUICE_TLS_TICKET_OPENED);

        assert_false(resumes(c, cctx, first));
        assert_int_equal(noutcomes, 3);
        assert_int_equal(outcomes[2].version, versions[v]);
        assert_false(outcomes[2].resumed);
        assert_int_equal(outcomes[2].ticket, SLUICE_TLS_TICKET_UNKNOWN_KEY);
        SSL_SESSION_free(first);
        SSL_CTX_free(cctx);
    }
    SSL_CTX_free(a);
    SSL_CTX_free(c);
    sluice_tls_tickets_destroy(t);
    sluice_tls_tickets_destroy(other);
}

/* A secret that would make weak or reused keys is refused with its length, never its value. */
static void test_ticket_secret_refused(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_tls_ticket_secret_check("T", "", NULL, &err), -1);
    assert_string_equal(err.msg, "T is empty: session tickets need a secret of at least 32 bytes (e.g. `openssl rand "
                                 "-hex 32`), the same on every gateway");
    assert_int_equal(sluice_tls_ticket_secret_check("T", " \r\n", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "T is only spaces and line ends"));
    assert_int_equal(sluice_tls_ticket_secret_check("T", "0123456789abcdef0123456789abcde\n", NULL, &err), -1);
    assert_string_equal(err.msg, "T holds 31 bytes: a session-ticket secret needs at least 32 (e.g. `openssl rand -hex "
                                 "32`), the same on every gateway");
    assert_null(sluice_tls_tickets_create_shared("T", "0123456789abcdef", NULL, 3600, &err));
    assert_null(strstr(err.msg, "0123456789abcdef"));
    static const char root[] = "6f1c0d7a92b34e58a1c6d0e9f7b2a4c35d8e1f0a9b7c6d5e4f3a2b1c0d9e8f7a";
    assert_null(sluice_tls_tickets_create_shared("T", root, root, 3600, &err));
    assert_string_equal(err.msg, "T holds the same value as ENCRYPTION_KEY: give session tickets a secret of their own "
                                 "(a key of one purpose must open nothing of another's)");
    assert_int_equal(sluice_tls_ticket_secret_check("T", "0123456789abcdef0123456789abcdef", root, &err), 0);
    /* ENCRYPTION_KEY is hex read in either case (crypto/keyring.c): the same key in capitals, or
     * with its line end, is still ENCRYPTION_KEY and refused. */
    char upper[sizeof(root)];
    for (size_t i = 0; i < sizeof(root); i++)
        upper[i] = (char)toupper((unsigned char)root[i]);
    assert_int_equal(sluice_tls_ticket_secret_check("T", upper, root, &err), -1);
    assert_non_null(strstr(err.msg, "T holds the same value as ENCRYPTION_KEY"));
    assert_int_equal(sluice_tls_ticket_secret_check("T", root, upper, &err), -1);
    assert_int_equal(sluice_tls_ticket_secret_check(
                         "T", "6F1C0D7A92B34E58A1C6D0E9F7B2A4C35D8E1F0A9B7C6D5E4F3A2B1C0D9E8F7A\n", root, &err),
                     -1);
    /* Another hex key, and the same letters that are not hex, are not ENCRYPTION_KEY. */
    upper[0] = '7';
    assert_int_equal(sluice_tls_ticket_secret_check("T", upper, root, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_text_system_error),
        cmocka_unit_test(test_error_text_earliest_entry),
        cmocka_unit_test(test_pair_ok),
        cmocka_unit_test(test_pair_mismatch),
        cmocka_unit_test(test_pair_not_pem),
        cmocka_unit_test(test_pair_missing_and_directory),
        cmocka_unit_test(test_pair_encrypted_key),
        cmocka_unit_test(test_ca),
        cmocka_unit_test(test_pair_expired_and_without_intermediate),
        cmocka_unit_test(test_tickets_rotate),
        cmocka_unit_test(test_tickets_shared_across_processes),
        cmocka_unit_test(test_tickets_shared_rotate_by_period),
        cmocka_unit_test(test_tickets_report_each_handshake),
        cmocka_unit_test(test_tickets_previous_secret),
        cmocka_unit_test(test_ticket_secret_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

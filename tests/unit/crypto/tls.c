/* Tests for crypto/tls.c: the OpenSSL error queue as text (never "(null)", the earliest entry,
 * the queue emptied), and the certificate/key/CA checks on files this test writes: a matching
 * pair, a key of another certificate, files that are not PEM, missing files, a directory, an
 * encrypted key, CA bundles. Keys and certificates are made here with OpenSSL (EC P-256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

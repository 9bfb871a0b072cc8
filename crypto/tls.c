/*
 * TLS file checks and OpenSSL's error queue as text (see tls.h). Any thread: OpenSSL's error
 * queue is per thread, and each check builds and frees its own SSL_CTX / X509_STORE.
 */
#include "crypto/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

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

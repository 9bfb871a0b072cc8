/*
 * Loading and forgetting the gateway's key material (secrets.h). Main thread.
 */
#include "gateway/secrets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/time.h"
#include "crypto/ct.h"
#include "crypto/hkdf.h"
#include "crypto/secretenv.h"
#include "crypto/tls.h"
#include "gateway/enrichment.h"

/* After the last older token expired, how long the root ring is still kept: a request that began
 * before the deadline may still be opening its token. */
#define LEGACY_GRACE_MS 2000

struct sluice_secrets {
    sluice_keyring_t *encrypt, *tokens, *cookies, *session, *root;
    char *redis_password;
    sluice_identity_secrets_t identity;
    sluice_tls_tickets_t *tickets; /* shared session-ticket keys, until the server takes them */
};

static void wipe_free(char *s)
{
    if (s != NULL) {
        sluice_secure_zero(s, strlen(s));
        free(s);
    }
}

void sluice_secrets_free(sluice_secrets_t *s)
{
    if (s == NULL)
        return;
    sluice_keyring_free(s->encrypt);
    sluice_keyring_free(s->tokens);
    sluice_keyring_free(s->cookies);
    sluice_keyring_free(s->session);
    sluice_keyring_free(s->root);
    sluice_tls_tickets_destroy(s->tickets);
    wipe_free(s->redis_password);
    sluice_secure_zero(s, sizeof(*s));
    free(s);
}

/* server.https.session_ticket_secret_env: the fleet's ticket keys derived from the variable, which
 * then leaves the environment (its bytes wiped) whether or not it was taken; and so for
 * session_ticket_previous_secret_env, the secret being replaced, whose tickets are still opened. */
static int load_tickets(sluice_secrets_t *s, const sluice_config_t *cfg, sluice_err_t *err)
{
    const char *var = cfg->server.ticket_secret_env, *prev = cfg->server.ticket_previous_secret_env;
    if (var == NULL)
        return 0;
    const char *v = getenv(var);
    char what[160];
    snprintf(what, sizeof(what), "server.https.session_ticket_secret_env: environment variable %s", var);
    if (v == NULL)
        sluice_err_set(err,
                       "%s is not set (session tickets shared by the fleet need it; remove the key for keys "
                       "random to each gateway)",
                       what);
    else
        s->tickets =
            sluice_tls_tickets_create_shared(what, v, getenv("ENCRYPTION_KEY"), SLUICE_TLS_TICKET_PERIOD_S, err);
    sluice_secretenv_forget(var);
    if (s->tickets != NULL && prev != NULL) {
        const char *pv = getenv(prev);
        snprintf(what, sizeof(what), "server.https.session_ticket_previous_secret_env: environment variable %s", prev);
        if (pv == NULL)
            sluice_err_set(err, "%s is not set (remove the key once the previous secret is retired)", what);
        if (pv == NULL ||
            sluice_tls_tickets_accept_previous(s->tickets, what, pv, getenv("ENCRYPTION_KEY"), err) != 0) {
            sluice_tls_tickets_destroy(s->tickets);
            s->tickets = NULL;
        }
    }
    if (prev != NULL)
        sluice_secretenv_forget(prev);
    return s->tickets != NULL ? 0 : -1;
}

sluice_secrets_t *sluice_secrets_load(const sluice_config_t *cfg, int64_t now_ms, sluice_err_t *err)
{
    sluice_secrets_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    /* Before ENCRYPTION_KEY is forgotten: the ticket secret is compared with it. */
    if (load_tickets(s, cfg, err) != 0) {
        sluice_secrets_free(s);
        return NULL;
    }
    if (getenv("ENCRYPTION_KEY") != NULL || sluice_identity_needs_keys(cfg) || sluice_enrichment_needs_keys(cfg)) {
        sluice_keyring_t *root = sluice_keyring_from_env(err);
        sluice_secretenv_forget("ENCRYPTION_KEY");
        sluice_secretenv_forget("SLUICE_KEYRING");
        if (root == NULL || (s->encrypt = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_ENCRYPT, err)) == NULL ||
            (s->tokens = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, err)) == NULL ||
            (s->cookies = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_COOKIE, err)) == NULL ||
            (s->session = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_SESSION, err)) == NULL) {
            sluice_keyring_free(root);
            sluice_secrets_free(s);
            return NULL;
        }
        int64_t window = sluice_identity_token_window_ms(cfg);
        if (window > 0) {
            s->root = root;
            s->identity.legacy = root;
            s->identity.legacy_until_ms = now_ms + window;
        } else {
            sluice_keyring_free(root);
        }
    }
    const char *var = cfg->redis.password_env;
    if (var != NULL && cfg->redis.url != NULL) {
        const char *v = getenv(var);
        if (v == NULL || v[0] == '\0') {
            sluice_err_set(err, "redis.password_env: environment variable %s is %s", var,
                           v == NULL ? "not set" : "empty");
            sluice_secrets_free(s);
            return NULL;
        }
        if ((s->redis_password = strdup(v)) == NULL) {
            sluice_err_set(err, "out of memory");
            sluice_secrets_free(s);
            return NULL;
        }
        sluice_secretenv_forget(var);
    }
    s->identity.tokens = s->tokens;
    s->identity.cookies = s->cookies;
    s->identity.redis_password = s->redis_password;
    return s;
}

const sluice_keyring_t *sluice_secrets_encrypt(const sluice_secrets_t *s)
{
    return s != NULL ? s->encrypt : NULL;
}

const sluice_keyring_t *sluice_secrets_session(const sluice_secrets_t *s)
{
    return s != NULL ? s->session : NULL;
}

const sluice_identity_secrets_t *sluice_secrets_identity(const sluice_secrets_t *s)
{
    return s != NULL ? &s->identity : NULL;
}

sluice_tls_tickets_t *sluice_secrets_take_tickets(sluice_secrets_t *s)
{
    sluice_tls_tickets_t *t = s != NULL ? s->tickets : NULL;
    if (s != NULL)
        s->tickets = NULL;
    return t;
}

int sluice_secrets_holds_root(const sluice_secrets_t *s)
{
    return s != NULL && s->root != NULL;
}

int sluice_secrets_sigwait(sluice_secrets_t *s, const sigset_t *set, int64_t max_ms, int *sig)
{
    int64_t left = max_ms;
    if (s != NULL && s->root != NULL) {
        int64_t ring = s->identity.legacy_until_ms + LEGACY_GRACE_MS - sluice_now_ms();
        if (ring <= 0) {
            /* The identity threads stopped using it at legacy_until_ms (they check the time
             * first). Whatever their clock says from now on (a wall clock stepped back), they find
             * neither a deadline ahead nor a ring to follow. */
            s->identity.legacy_until_ms = 0;
            s->identity.legacy = NULL;
            sluice_keyring_free(s->root);
            s->root = NULL;
            sluice_log_info("keys.root_wiped", "tokens sealed under the root key by an older version have expired; "
                                               "the root keys are wiped from memory");
            return -1;
        }
        if (ring < left)
            left = ring;
    }
    struct timespec ts = {.tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000L};
    int got = sigtimedwait(set, NULL, &ts);
    if (got < 0)
        return -1; /* EAGAIN: the time is up (checked on the next call); EINTR */
    *sig = got;
    return 0;
}

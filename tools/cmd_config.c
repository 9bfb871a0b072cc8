/*
 * `sluicectl config check|dump FILE`: validate a config (every error, one per line,
 * "file:line:col: message") or print the effective config as JSON. The check runs every stage
 * whatever the earlier ones found: the YAML and its decoding (with env overrides), the TLS files,
 * the vault's database, the mask plugins of every rule that decoded, and which parts need
 * ENCRYPTION_KEY. Main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "crypto/ct.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "crypto/tls.h"
#include "plugins/set.h"
#include "tools/commands.h"
#include "vendors/vendor.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl config check [--secrets] FILE\n"
                 "       sluicectl config dump FILE\n"
                 "\n"
                 "  check      load FILE and every org file it includes, validate everything, apply the\n"
                 "             SLUICE_* environment overrides, check the HTTPS certificate and key files\n"
                 "             (PEM, readable, matching) and delivery.ca_file, check that integrations whose\n"
                 "             credentials live in the vault have a database, load every mask rule's plugin\n"
                 "             as the gateway does (ABI checks, parameters, create, selftest), and say what\n"
                 "             needs ENCRYPTION_KEY. Prints `ok` (exit 0), or every error of every stage as\n"
                 "             `file:line:col: message`, one per line on stderr (exit 1). Warnings (such as\n"
                 "             a write-key variable not set in this shell) go to stderr and do not fail.\n"
                 "  --secrets  also read every source's write key / HMAC secret and every plugin secret\n"
                 "             from its environment variable, as sluice-gateway does, and require\n"
                 "             ENCRYPTION_KEY where something needs it; a missing one is then an error\n"
                 "             (without it, a plugin whose secret is unset is checked but not created)\n"
                 "  dump       print the effective config (defaults filled in, overrides applied) as JSON;\n"
                 "             secrets are never printed\n"
                 "\n"
                 "docs/config.md describes every key and every environment variable.\n");
}

static void print_diag(const sluice_config_diag_t *d)
{
    for (size_t i = 0; i < d->warning_count; i++)
        fprintf(stderr, "warning: %s\n", d->warnings[i]);
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "%s\n", d->msgs[i]);
}

/* ------------------------------------------------------------------ TLS files */

/* A problem with a file named in the config at pos (key path `key`), or, when the value came
 * from the environment (no file position), named by its variable. */
static void file_error(sluice_config_diag_t *d, const sluice_yaml_pos_t *pos, const char *key, const char *var,
                       const char *msg)
{
    if (pos->file != NULL || var == NULL)
        sluice_config_diag_add(d, pos->file != NULL ? pos : NULL, "%s: %s", key, msg);
    else
        sluice_config_diag_add(d, NULL, "%s: %s", var, msg);
}

/* The HTTPS listener's certificate chain and key as the gateway loads them, and the CA bundle
 * the delivery worker hands to libcurl. */
/* server.https.session_ticket_secret_env and session_ticket_previous_secret_env, as the gateway
 * takes them at start (crypto/tls.h): unset is a warning (an error with --secrets, as for the
 * gateway), a short one or ENCRYPTION_KEY's value an error whenever it is set, and the previous
 * one an error when it is the current secret. */
static void check_ticket_secret(const sluice_config_t *cfg, int flags, sluice_config_diag_t *d)
{
    const sluice_server_config_t *sv = &cfg->server;
    const char *const vars[2] = {sv->ticket_secret_env, sv->ticket_previous_secret_env};
    const sluice_yaml_pos_t *pos[2] = {&sv->ticket_secret_env_pos, &sv->ticket_previous_secret_env_pos};
    static const char *const keys[2] = {"session_ticket_secret_env", "session_ticket_previous_secret_env"};
    sluice_tls_tickets_t *t = NULL;
    for (int i = 0; i < 2 && vars[0] != NULL && vars[i] != NULL; i++) {
        const char *v = getenv(vars[i]);
        char what[160];
        snprintf(what, sizeof(what), "server.https.%s: environment variable %s", keys[i], vars[i]);
        sluice_err_t err;
        if (v == NULL && (flags & SLUICE_CONFIG_RESOLVE_SECRETS))
            sluice_config_diag_add(d, pos[i], "%s is not set", what);
        else if (v == NULL)
            sluice_config_diag_warn(d, pos[i], "%s is not set (sluice-gateway needs it)", what);
        else if (i == 0 && (t = sluice_tls_tickets_create_shared(what, v, getenv("ENCRYPTION_KEY"),
                                                                 SLUICE_TLS_TICKET_PERIOD_S, &err)) == NULL)
            sluice_config_diag_add(d, pos[i], "%s", err.msg);
        else if (i == 1 && t == NULL && sluice_tls_ticket_secret_check(what, v, getenv("ENCRYPTION_KEY"), &err) != 0)
            sluice_config_diag_add(d, pos[i], "%s", err.msg);
        else if (i == 1 && t != NULL &&
                 sluice_tls_tickets_accept_previous(t, what, v, getenv("ENCRYPTION_KEY"), &err) != 0)
            sluice_config_diag_add(d, pos[i], "%s", err.msg);
    }
    sluice_tls_tickets_destroy(t);
}

static void check_tls(const sluice_config_t *cfg, sluice_config_diag_t *d)
{
    const sluice_server_config_t *sv = &cfg->server;
    if (sv->https.enabled && (sv->tls_cert != NULL || sv->tls_key != NULL)) {
        sluice_err_t cert_err, key_err;
        sluice_tls_check_pair(sv->tls_cert, sv->tls_key, &cert_err, &key_err);
        if (cert_err.msg[0] != '\0')
            file_error(d, &sv->tls_cert_pos, "server.https.cert", "SLUICE_TLS_CERT", cert_err.msg);
        if (key_err.msg[0] != '\0')
            file_error(d, &sv->tls_key_pos, "server.https.key", "SLUICE_TLS_KEY", key_err.msg);
        unsigned mode;
        if (key_err.msg[0] == '\0' && sluice_tls_key_exposed(sv->tls_key, &mode)) {
            const sluice_yaml_pos_t *pos = &sv->tls_key_pos;
            sluice_config_diag_warn(d, pos->file != NULL ? pos : NULL,
                                    "%s: '%s' is readable by every user of this machine (mode %04o): chmod o-r it "
                                    "(0600 or 0640, owned by the gateway's user)",
                                    pos->file != NULL ? "server.https.key" : "SLUICE_TLS_KEY", sv->tls_key, mode);
        }
    }
    if (cfg->delivery.ca_file != NULL) {
        sluice_err_t err;
        if (sluice_tls_check_ca(cfg->delivery.ca_file, &err) != 0)
            file_error(d, &cfg->delivery.ca_file_pos, "delivery.ca_file", NULL, err.msg);
    }
}

/* ------------------------------------------------------------------ Kafka client settings */

static int scratch_set(void *conf, const char *k, const char *v, sluice_err_t *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return sluice_err_set(err, "%s: %s", k, errstr);
    return 0;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* kafka.properties and the secret settings as the linked librdkafka takes them: a name it does
 * not know, a value it refuses, a feature this build lacks (Debian's 2.0.2 has no OIDC), and,
 * when the secrets are at hand, a client made from them (CA, client certificate and key files,
 * the key's password). Nothing connects: the client is destroyed at once. */
static void check_kafka(const sluice_config_t *cfg, sluice_config_diag_t *d)
{
    const sluice_kafka_config_t *k = &cfg->kafka;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    int ok = 1;
    sluice_err_t err = {{0}};
    for (size_t i = 0; i < k->property_count; i++) {
        if (scratch_set(conf, k->properties[i].key, k->properties[i].value, &err) != 0) {
            sluice_config_diag_add(d, NULL, "kafka.properties.%s (librdkafka %s)", err.msg, rd_kafka_version_str());
            ok = 0;
        }
    }
    if (sluice_config_kafka_secrets(k, scratch_set, conf, &err) != 0) {
        ok = 0; /* unset: reported by the loader (a warning, an error with --secrets); else refused */
        if (strncmp(err.msg, "kafka.", 6) != 0)
            sluice_config_diag_add(d, NULL, "kafka: librdkafka %s refuses %s", rd_kafka_version_str(), err.msg);
    }
    char errstr[512];
    if (ok && scratch_set(conf, "bootstrap.servers", "127.0.0.1:1", &err) == 0) {
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (rk != NULL) {
            conf = NULL; /* the client owns it now */
            rd_kafka_destroy(rk);
        } else {
            sluice_config_diag_add(d, NULL, "kafka: librdkafka %s cannot make a client with these settings: %s",
                                   rd_kafka_version_str(), errstr);
        }
    }
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
}

/* ------------------------------------------------------------------ the vault */

/* 1 when sluice-deliver reads this integration's credentials from the vault (the vendor's own
 * answer: meta, ga4 and tiktok always, a webhook with `sign: true`). An integration whose name
 * did not decode is left out: its error is reported already and its vendor is a guess. */
static int reads_vault(const sluice_integration_t *it)
{
    if (it->name == NULL || !it->enabled)
        return 0;
    const sluice_vendor_ops_t *ops = sluice_vendor_get(it->vendor);
    return ops != NULL && ops->needs_secret(it);
}

/* The member of the vault secret people know the vendor's credential by ("access_token"). */
static const char *secret_name(sluice_vendor_kind_t vendor)
{
    const sluice_vendor_ops_t *ops = sluice_vendor_get(vendor);
    if (ops->secret_required != NULL && ops->secret_required[0] != NULL)
        return ops->secret_required[0];
    if (ops->secret_optional != NULL && ops->secret_optional[0] != NULL)
        return ops->secret_optional[0];
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++) {
        if (ops->options[i].secret)
            return ops->options[i].name; /* the first vault member its options declare */
    }
    return "credentials";
}

static void check_vault(const sluice_config_t *cfg, sluice_config_diag_t *d)
{
    if (cfg->database.url != NULL)
        return;
    for (size_t o = 0; o < cfg->org_count; o++) {
        const sluice_org_t *org = &cfg->orgs[o];
        for (size_t i = 0; i < org->integration_count; i++) {
            const sluice_integration_t *it = &org->integrations[i];
            if (!reads_vault(it))
                continue;
            sluice_config_diag_add(d, &it->pos,
                                   "orgs[%zu].integrations[%zu]: '%s' (%s%s) reads its '%s' from the vault, and "
                                   "there is no database: set database.url (or SLUICE_DATABASE_URL)",
                                   o, i, it->name, sluice_vendor_kind_name(it->vendor),
                                   it->vendor == SLUICE_VENDOR_WEBHOOK ? " with sign: true" : "",
                                   secret_name(it->vendor));
        }
    }
}

/* ------------------------------------------------------------------ plugins and keys */

/* The key ring plugins seal with (host->seal): from ENCRYPTION_KEY (and SLUICE_KEY_ID,
 * SLUICE_KEYRING) when it is set, as the gateway builds it; a malformed one is an error.
 * Otherwise, and after such an error, a throwaway random key, so plugins that seal can still be
 * created and selftested, which is also how check_keys learns that they seal. *from_env says
 * whether the ring is the real one. NULL only when even the throwaway ring failed. */
static sluice_keyring_t *check_ring(sluice_config_diag_t *d, int *from_env)
{
    sluice_err_t err = {{0}};
    *from_env = 0;
    if (getenv("ENCRYPTION_KEY") != NULL) {
        sluice_keyring_t *kr = sluice_keyring_from_env(&err);
        if (kr != NULL) {
            *from_env = 1;
            return kr;
        }
        sluice_config_diag_add(d, NULL, "%s", err.msg);
    }
    uint8_t key[SLUICE_KEYRING_KEY_LEN];
    sluice_keyring_t *kr = sluice_keyring_create();
    if (kr == NULL || sluice_random_bytes(key, sizeof(key)) != 0 || sluice_keyring_add(kr, 1, key, 1, &err) != 0) {
        sluice_keyring_free(kr);
        kr = NULL;
    }
    sluice_secure_zero(key, sizeof(key));
    return kr;
}

/* ENCRYPTION_KEY, only where something in the config needs it: a mask rule whose plugin seals
 * (the gateway), cross-domain identity tokens and session cookies (the gateway), integrations whose credentials are
 * in the vault (sluice-deliver). Each need is a warning at its position, or an error with
 * --secrets (the check then stands for the real start). */
static void check_keys(const sluice_config_t *cfg, const sluice_plugin_set_t *set, int flags, sluice_config_diag_t *d)
{
    if (getenv("ENCRYPTION_KEY") != NULL)
        return; /* set: check_ring has built it, or reported why it is malformed */
    int strict = (flags & SLUICE_CONFIG_RESOLVE_SECRETS) != 0;
    void (*report)(sluice_config_diag_t *, const sluice_yaml_pos_t *, const char *, ...)
        __attribute__((format(printf, 3, 4))) = strict ? sluice_config_diag_add : sluice_config_diag_warn;
    const char *unset = "ENCRYPTION_KEY, which is not set";
    for (size_t o = 0; o < cfg->org_count; o++) {
        const sluice_org_t *org = &cfg->orgs[o];
        for (size_t r = 0; r < org->mask_rule_count; r++) {
            if (sluice_plugin_set_rule_uses_keys(set, o, r))
                report(d, &org->mask_rules[r].pos,
                       "orgs[%zu].data_layer.mask[%zu]: plugin '%s' seals values with the key ring: sluice-gateway "
                       "needs %s%s",
                       o, r, sluice_plugin_set_plugin_name(set, o, r), unset,
                       strict ? "" : " (checked here with a throwaway key)");
        }
        if (org->enrich.session) /* gateway/secrets.c: sessions sign their cookie */
            report(d, &org->enrich.pos,
                   "orgs[%zu].enrichment.session: the session cookie is signed with the key ring: sluice-gateway "
                   "needs %s",
                   o, unset);
        if (org->identity.xd_domain_count > 0)
            report(d, &org->identity.xd_pos,
                   "orgs[%zu].identity.cross_domain.domains: cross-domain tokens are sealed with the key ring: "
                   "sluice-gateway needs %s",
                   o, unset);
        for (size_t i = 0; i < org->integration_count; i++) {
            const sluice_integration_t *it = &org->integrations[i];
            if (reads_vault(it))
                report(d, &it->pos,
                       "orgs[%zu].integrations[%zu]: '%s' reads its credentials from the vault: sluice-deliver "
                       "opens the vault with %s",
                       o, i, it->name, unset);
        }
    }
}

/* Loads every mask rule's plugin as the gateway would (ABI checks, params, create, selftest),
 * for every rule that decoded, whatever else failed, then unloads them; then the key checks,
 * which need to know which plugins seal. Problems go to d. */
static void check_plugins_and_keys(const sluice_config_t *cfg, int flags, sluice_config_diag_t *d)
{
    int from_env;
    sluice_keyring_t *keys = check_ring(d, &from_env);
    int set_flags = SLUICE_PLUGIN_SET_PARTIAL;
    if (!(flags & SLUICE_CONFIG_RESOLVE_SECRETS))
        set_flags |= SLUICE_PLUGIN_SET_CHECK_ONLY;
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, keys, 1, set_flags, d);
    check_keys(cfg, set, flags, d);
    sluice_plugin_set_free(set);
    sluice_keyring_free(keys);
}

static int check(const char *file, int flags)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    /* PARTIAL: every later stage runs on whatever decoded, so one run shows every problem. */
    sluice_config_t *cfg = sluice_config_load(file, flags | SLUICE_CONFIG_PARTIAL, &d);
    if (cfg != NULL) {
        check_tls(cfg, &d);
        check_ticket_secret(cfg, flags, &d);
        check_kafka(cfg, &d);
        check_vault(cfg, &d);
        check_plugins_and_keys(cfg, flags, &d);
    }
    int rc = d.count == 0 ? 0 : 1;
    print_diag(&d);
    if (rc == 0)
        printf("ok\n");
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&d);
    return rc;
}

static int dump(const char *file)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load(file, 0, &d);
    if (cfg == NULL) {
        print_diag(&d);
        sluice_config_diag_dispose(&d);
        return 1;
    }
    sluice_config_diag_dispose(&d);
    json_t *j = sluice_config_to_json(cfg);
    int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 ? 0 : 1;
    printf("\n");
    json_decref(j);
    sluice_config_free(cfg);
    return rc;
}

int sluicectl_cmd_config(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return 0;
    }
    int flags = 0;
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--secrets") == 0 && strcmp(sub, "check") == 0) {
            flags |= SLUICE_CONFIG_RESOLVE_SECRETS;
        } else if (argv[i][0] == '-' || file != NULL) {
            fprintf(stderr, "sluicectl config %s: unexpected argument '%s'\n", sub, argv[i]);
            usage(stderr);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (strcmp(sub, "check") != 0 && strcmp(sub, "dump") != 0) {
        fprintf(stderr, "sluicectl config: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    if (file == NULL) {
        fprintf(stderr, "sluicectl config %s: missing FILE\n", sub);
        usage(stderr);
        return 2;
    }
    return strcmp(sub, "check") == 0 ? check(file, flags) : dump(file);
}

/*
 * `sluicectl vault put|list|delete|rotate|migrate|audit [prune]`: the operator's side of the credential vault
 * (vendors/vault.h). Secrets are read from stdin or a file, never from the command line, checked
 * against what the vendor needs, sealed, and the buffer is wiped. Main thread.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "crypto/ct.h"
#include "crypto/keyring.h"
#include "tools/commands.h"
#include "vendors/credcache.h"
#include "vendors/vault.h"
#include "vendors/vendor.h"

#define SECRET_MAX (64 * 1024)

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: sluicectl vault <command> --config FILE [options]\n"
        "\n"
        "  put     --org O --name N --vendor V [--file PATH]\n"
        "          store (or replace) credentials: a JSON object read from PATH or, without --file, stdin.\n"
        "          meta and tiktok: {\"access_token\":\"...\"}; ga4: {\"api_secret\":\"...\"};\n"
        "          webhook: {\"secret\":\"...\"} (the signing key of `sign: true`)\n"
        "  list    [--org O]                  rows without secrets (shown as ***)\n"
        "  delete  --org O --name N --vendor V\n"
        "  rotate                             re-seal every row under the vault key of the newest key\n"
        "                                     (ENCRYPTION_KEY), in one transaction: rows under older key ids\n"
        "                                     (which must be in SLUICE_KEYRING) and rows an older version\n"
        "                                     sealed directly under a root key (KEY shown as 'N root'); safe\n"
        "                                     to rerun\n"
        "  migrate                            apply pending schema migrations and print the version\n"
        "  audit   [--org O] [--name N] [--vendor V] [--since TIME] [--limit N]\n"
        "          the newest rows of the audit trail (who read or changed which credential, when),\n"
        "          newest first; --limit defaults to 50, --since takes e.g. 2026-11-01 or an RFC 3339 time\n"
        "  audit prune [--batch N]            remove the audit rows older than database.audit_retention_days\n"
        "          (default 400), N rows per transaction (default 10000); needs DELETE on vault_audit (the\n"
        "          database owner, not the worker's role); run it daily (deploy/kubernetes/vault-audit-prune.yaml)\n"
        "\n"
        "The database is the config's database.url (or SLUICE_DATABASE_URL). put and rotate need\n"
        "ENCRYPTION_KEY (64 hex characters), SLUICE_KEY_ID and, for older keys, SLUICE_KEYRING: the root\n"
        "keys, from which the vault's own keys are derived (HKDF, label sluice/vault/v1).\n"
        "Every command is recorded in the vault_audit table as $USER. docs/vault.md has the details.\n");
}

typedef struct args {
    const char *cmd, *config, *org, *name, *vendor, *file, *since, *limit, *batch;
    int prune; /* `audit prune` */
} args_t;

static int parse(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof(*a));
    if (argc < 2)
        return -1;
    a->cmd = argv[1];
    int first = 2;
    if (strcmp(a->cmd, "audit") == 0 && argc > 2 && strcmp(argv[2], "prune") == 0) {
        a->prune = 1;
        first = 3;
    }
    for (int i = first; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--config") == 0)
            slot = &a->config;
        else if (strcmp(argv[i], "--org") == 0)
            slot = &a->org;
        else if (strcmp(argv[i], "--name") == 0)
            slot = &a->name;
        else if (strcmp(argv[i], "--vendor") == 0)
            slot = &a->vendor;
        else if (strcmp(argv[i], "--file") == 0)
            slot = &a->file;
        else if (strcmp(argv[i], "--since") == 0)
            slot = &a->since;
        else if (strcmp(argv[i], "--limit") == 0)
            slot = &a->limit;
        else if (strcmp(argv[i], "--batch") == 0)
            slot = &a->batch;
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "sluicectl vault: unknown or incomplete option '%s'\n", argv[i]);
            return -1;
        }
        *slot = argv[++i];
    }
    return 0;
}

static void actor(char *buf, size_t cap)
{
    const char *user = getenv("USER");
    if (user == NULL || user[0] == '\0') {
        struct passwd *pw = getpwuid(geteuid());
        user = pw != NULL ? pw->pw_name : NULL;
    }
    if (user != NULL)
        snprintf(buf, cap, "%s (sluicectl)", user);
    else
        snprintf(buf, cap, "uid %ld (sluicectl)", (long)geteuid());
}

/* Reads the whole secret (at most SECRET_MAX bytes) from path or stdin. Caller wipes and frees. */
static char *read_secret(const char *path, size_t *len)
{
    FILE *f = path ? fopen(path, "r") : stdin;
    if (f == NULL) {
        fprintf(stderr, "sluicectl vault: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_MAX + 1);
    size_t n = buf ? fread(buf, 1, SECRET_MAX + 1, f) : 0;
    int read_errno = ferror(f) ? errno : 0;
    if (path != NULL)
        fclose(f);
    if (buf != NULL && read_errno != 0) {
        /* A directory, say: not an empty secret. */
        sluice_secure_zero(buf, SECRET_MAX + 1);
        free(buf);
        fprintf(stderr, "sluicectl vault: %s: %s\n", path ? path : "stdin", strerror(read_errno));
        return NULL;
    }
    if (buf == NULL || n > SECRET_MAX) {
        if (buf != NULL)
            sluice_secure_zero(buf, SECRET_MAX + 1);
        free(buf);
        fprintf(stderr, "sluicectl vault: the secret is larger than %d bytes\n", SECRET_MAX);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Refuses a member whose value begins or ends with white space or holds a control character:
 * a token from `jq -Rs '{access_token: .}' < token.txt` carries the file's "\n", one pasted from
 * a console often a space. Vendors compare tokens byte for byte, so every batch was refused and
 * dead-lettered (Meta's error 190, after the one re-read), and a CR or LF reached the HTTP
 * request as it was: libcurl writes a header line holding them raw, ending the headers early or
 * adding one (TikTok's Access-Token, the Authorization of the Bearer vendors). Names the
 * member, never the value. Runs after sluice_vendor_check_secret: the JSON is an object. */
static int check_secret_values(const sluice_vendor_ops_t *ops, const char *json, size_t len, sluice_err_t *err)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        /* Key bytes only (the webhook's HMAC key): any bytes the receiver holds, a two-line
         * `openssl rand -base64 64` too; none of them reaches a request. */
        if (!sluice_vendor_secret_in_request(ops, key))
            continue;
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        size_t n = json_string_length(v), ctl = 0;
        if (s == NULL || n == 0)
            continue;
        for (size_t i = 0; i < n; i++)
            ctl += s[i] < 0x20 || s[i] == 0x7f;
        int edge = s[0] == ' ' || s[n - 1] == ' ';
        if (ctl > 0 || edge) {
            char shown[65];
            snprintf(shown, sizeof(shown), "%s", key);
            rc = sluice_err_set(
                err,
                "the secret's member '%s' %s (pasted or read with it?): vendors compare it byte "
                "for byte; store it without",
                shown, ctl > 0 ? "holds a newline, tab or other control character" : "begins or ends with a space");
            break;
        }
    }
    json_decref(root);
    return rc;
}

static void print_row(const sluice_vault_row_t *row, void *ud)
{
    size_t *root_sealed = ud;
    char key[16];
    snprintf(key, sizeof(key), "%d%s", row->key_id, row->root_sealed ? " root" : "");
    *root_sealed += row->root_sealed != 0;
    printf("%-16s %-20s %-8s %-7s %-20s %-20s ***\n", row->org, row->name, row->vendor, key, row->created_at,
           row->updated_at);
}

static void print_audit_row(const sluice_vault_audit_row_t *row, void *ud)
{
    (void)ud;
    char key[16] = "-";
    if (row->key_id > 0)
        snprintf(key, sizeof(key), "%d", row->key_id);
    printf("%-20s %-32s %-7s %-16s %-20s %-8s %-4s %s\n", row->at, row->actor, row->action,
           row->org[0] ? row->org : "-", row->name[0] ? row->name : "-", row->vendor[0] ? row->vendor : "-", key,
           row->detail);
}

/* A count option: 1..max, digits only ("10k" or "-1" refused, not read as 10 or a huge number). */
static int count_option(const char *cmd, const char *opt, const char *text, unsigned max, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || n < 1 || n > max) {
        fprintf(stderr, "sluicectl vault %s: %s '%s' is not a number from 1 to %u\n", cmd, opt, text, max);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static int need(const args_t *a, const char *what, const char *value)
{
    if (value == NULL) {
        fprintf(stderr, "sluicectl vault %s: %s is required\n", a->cmd, what);
        return -1;
    }
    return 0;
}

int sluicectl_cmd_vault(int argc, char **argv)
{
    args_t a;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (parse(argc, argv, &a) != 0) {
        usage(stderr);
        return 2;
    }
    int put = strcmp(a.cmd, "put") == 0, list = strcmp(a.cmd, "list") == 0, del = strcmp(a.cmd, "delete") == 0,
        rotate = strcmp(a.cmd, "rotate") == 0, migrate = strcmp(a.cmd, "migrate") == 0,
        audit = strcmp(a.cmd, "audit") == 0 && !a.prune, prune = a.prune;
    if (!put && !list && !del && !rotate && !migrate && !audit && !prune) {
        fprintf(stderr, "sluicectl vault: unknown command '%s'\n\n", a.cmd);
        usage(stderr);
        return 2;
    }
    /* An option the command does not take is refused, not ignored (`rotate --org acme` would
     * rotate every org, `list --name meta` list every name). */
    const char *given[] = {a.org, a.name, a.vendor, a.file, a.since, a.limit, a.batch};
    static const char *const option[] = {"--org", "--name", "--vendor", "--file", "--since", "--limit", "--batch"};
    const int takes[] = {
        put || del || list || audit, put || del || audit, put || del || audit, put, audit, audit, prune};
    for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++)
        if (given[i] != NULL && !takes[i]) {
            fprintf(stderr, "sluicectl vault %s does not take %s\n", prune ? "audit prune" : a.cmd, option[i]);
            return 2;
        }
    if (need(&a, "--config", a.config) != 0 ||
        ((put || del) && (need(&a, "--org", a.org) || need(&a, "--name", a.name) || need(&a, "--vendor", a.vendor))))
        return 2;
    unsigned limit = 50, batch = 10000;
    if ((a.limit != NULL && count_option(a.cmd, "--limit", a.limit, 100000, &limit) != 0) ||
        (a.batch != NULL && count_option("audit prune", "--batch", a.batch, 100000, &batch) != 0))
        return 2;
    const sluice_vendor_ops_t *ops = NULL;
    if (a.vendor != NULL && (ops = sluice_vendor_find(a.vendor)) == NULL) {
        fprintf(stderr, "sluicectl vault: unknown vendor '%s' (one of: %s)\n", a.vendor, sluice_vendor_names());
        return 2;
    }
    sluice_secret_allocator_install();

    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = NULL;
    if (put || rotate || getenv("ENCRYPTION_KEY") != NULL) {
        /* A malformed key is an error even where the command would not use it. */
        if ((kr = sluice_keyring_from_env(&err)) == NULL) {
            fprintf(stderr, "sluicectl vault: %s\n", err.msg);
            return 1;
        }
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(a.config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    int rc = 1;
    sluice_vault_t *v = NULL;
    char *secret = NULL;
    size_t secret_len = 0;
    if (cfg == NULL)
        goto out;
    /* The audit keeps the rows of orgs since removed from the config: they can be listed. */
    if (a.org != NULL && sluice_config_find_org(cfg, a.org) == NULL && !del && !audit) {
        fprintf(stderr, "sluicectl vault: org '%s' is not in %s\n", a.org, a.config);
        goto out;
    }
    if (put) {
        const sluice_org_t *org = sluice_config_find_org(cfg, a.org);
        int used = 0;
        for (size_t i = 0; i < org->integration_count && !used; i++)
            used = strcmp(org->integrations[i].credentials, a.name) == 0 && org->integrations[i].vendor == ops->kind;
        if (!used)
            fprintf(stderr, "warning: no %s integration of org '%s' uses credentials '%s' yet\n", ops->name, a.org,
                    a.name);
        if ((secret = read_secret(a.file, &secret_len)) == NULL)
            goto out;
        if (sluice_vendor_check_secret(ops, secret, secret_len, &err) != 0 ||
            check_secret_values(ops, secret, secret_len, &err) != 0) {
            fprintf(stderr, "sluicectl vault put: %s\n", err.msg);
            goto out;
        }
    }
    char who[128];
    actor(who, sizeof(who));
    if ((v = sluice_vault_open(cfg->database.url, kr, who, &err)) == NULL) {
        fprintf(stderr, "sluicectl vault: %s\n", err.msg);
        goto out;
    }
    if (put) {
        int created = 0;
        if (sluice_vault_put(v, a.org, a.name, ops->name, secret, secret_len, &created, &err) != SLUICE_VAULT_OK) {
            fprintf(stderr, "sluicectl vault put: %s\n", err.msg);
            goto out;
        }
        printf("%s credentials '%s' (%s) of org '%s' under key id %u\n", created ? "stored" : "replaced", a.name,
               ops->name, a.org, sluice_keyring_primary_kid(kr));
    } else if (list) {
        printf("%-16s %-20s %-8s %-7s %-20s %-20s %s\n", "ORG", "NAME", "VENDOR", "KEY", "CREATED", "UPDATED",
               "SECRET");
        size_t root_sealed = 0;
        if (sluice_vault_list(v, a.org, print_row, &root_sealed, &err) < 0) {
            fprintf(stderr, "sluicectl vault list: %s\n", err.msg);
            goto out;
        }
        if (root_sealed > 0)
            fprintf(stderr,
                    "note: %zu row(s) sealed directly under a root key by an older version ('root'); "
                    "`sluicectl vault rotate` re-seals them under the vault key\n",
                    root_sealed);
    } else if (del) {
        int r = sluice_vault_delete(v, a.org, a.name, ops->name, &err);
        if (r != SLUICE_VAULT_OK) {
            fprintf(stderr, "sluicectl vault delete: %s\n", err.msg);
            goto out;
        }
        printf("deleted credentials '%s' (%s) of org '%s'\n", a.name, ops->name, a.org);
    } else if (rotate) {
        size_t rotated = 0, unchanged = 0;
        if (sluice_vault_rotate(v, &rotated, &unchanged, &err) != SLUICE_VAULT_OK) {
            fprintf(stderr, "sluicectl vault rotate: %s\n", err.msg);
            goto out;
        }
        printf("rotated %zu rows to key id %u (%zu already under it)\n", rotated, sluice_keyring_primary_kid(kr),
               unchanged);
    } else if (audit) {
        sluice_vault_audit_filter_t f = {a.org, a.name, ops != NULL ? ops->name : NULL, a.since, limit};
        printf("%-20s %-32s %-7s %-16s %-20s %-8s %-4s %s\n", "AT", "ACTOR", "ACTION", "ORG", "NAME", "VENDOR", "KEY",
               "DETAIL");
        if (sluice_vault_audit_list(v, &f, print_audit_row, NULL, &err) < 0) {
            fprintf(stderr, "sluicectl vault audit: %s\n", err.msg);
            goto out;
        }
    } else if (prune) {
        size_t deleted = 0;
        char cutoff[32];
        unsigned days = cfg->database.audit_retention_days;
        if (sluice_vault_audit_prune(v, days, batch, &deleted, cutoff, sizeof(cutoff), &err) != 0) {
            fprintf(stderr, "sluicectl vault audit prune: %s (%zu rows removed before it)\n", err.msg, deleted);
            goto out;
        }
        printf("removed %zu audit rows older than %s (database.audit_retention_days %u)\n", deleted, cutoff, days);
    } else {
        int version = 0;
        if (sluice_vault_schema_version(v, &version, &err) != 0) {
            fprintf(stderr, "sluicectl vault migrate: %s\n", err.msg);
            goto out;
        }
        printf("vault schema version %d\n", version);
    }
    rc = 0;
out:
    if (secret != NULL)
        sluice_vault_free_secret(secret, SECRET_MAX + 1);
    sluice_vault_close(v);
    sluice_config_free(cfg);
    sluice_keyring_free(kr);
    return rc;
}

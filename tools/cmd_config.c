/*
 * `sluicectl config check|dump FILE`: validate a config (every error, one per line,
 * "file:line:col: message") or print the effective config as JSON. Main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "crypto/ct.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "plugins/set.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl config check [--secrets] FILE\n"
                 "       sluicectl config dump FILE\n"
                 "\n"
                 "  check      load FILE and every org file it includes, validate everything, apply the\n"
                 "             SLUICE_* environment overrides, load every mask rule's plugin as the gateway\n"
                 "             does (ABI checks, parameters, create, selftest), and print `ok` (exit 0) or\n"
                 "             every error as `file:line:col: message`, one per line on stderr (exit 1).\n"
                 "             Warnings (such as a write-key variable not set in this shell) go to stderr\n"
                 "             and do not fail.\n"
                 "  --secrets  also read every source's write key / HMAC secret and every plugin secret\n"
                 "             from its environment variable, as sluice-gateway does; a missing one is then\n"
                 "             an error (without it, a plugin whose secret is unset is checked but not created)\n"
                 "  dump       print the effective config (defaults filled in, overrides applied) as JSON;\n"
                 "             secrets are never printed\n"
                 "\n"
                 "docs/config.md describes every key.\n");
}

static void print_diag(const sluice_config_diag_t *d)
{
    for (size_t i = 0; i < d->warning_count; i++)
        fprintf(stderr, "warning: %s\n", d->warnings[i]);
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "%s\n", d->msgs[i]);
}

/* The key ring plugins seal with (host->seal): the gateway's from ENCRYPTION_KEY when set. Without
 * it, --secrets checks as the gateway would run (no ring), and a plain check uses a throwaway
 * random key so plugins that seal can still be created and selftested. NULL with a diag error
 * when ENCRYPTION_KEY is malformed. */
static sluice_keyring_t *check_keys(const sluice_config_t *cfg, int flags, sluice_config_diag_t *d, int *ok)
{
    sluice_err_t err = {{0}};
    *ok = 1;
    if (getenv("ENCRYPTION_KEY") != NULL) {
        sluice_keyring_t *kr = sluice_keyring_from_env(&err);
        if (kr == NULL) {
            sluice_config_diag_add(d, NULL, "%s", err.msg);
            *ok = 0;
        }
        return kr;
    }
    size_t rules = 0;
    for (size_t o = 0; o < cfg->org_count; o++)
        rules += cfg->orgs[o].mask_rule_count;
    if ((flags & SLUICE_CONFIG_RESOLVE_SECRETS) || rules == 0)
        return NULL;
    uint8_t key[SLUICE_KEYRING_KEY_LEN];
    sluice_keyring_t *kr = sluice_keyring_create();
    if (kr == NULL || sluice_random_bytes(key, sizeof(key)) != 0 || sluice_keyring_add(kr, 1, key, 1, &err) != 0) {
        sluice_keyring_free(kr);
        kr = NULL;
    }
    sluice_secure_zero(key, sizeof(key));
    sluice_config_diag_warn(d, NULL, "ENCRYPTION_KEY is not set: mask plugins were checked with a throwaway key");
    return kr;
}

/* Loads every mask rule's plugin as the gateway would (ABI checks, params, create, selftest),
 * then unloads them. Returns 0, or -1 with the reasons in d. */
static int check_plugins(const sluice_config_t *cfg, int flags, sluice_config_diag_t *d)
{
    int ok;
    sluice_keyring_t *keys = check_keys(cfg, flags, d, &ok);
    if (!ok)
        return -1;
    int set_flags = (flags & SLUICE_CONFIG_RESOLVE_SECRETS) ? 0 : SLUICE_PLUGIN_SET_CHECK_ONLY;
    sluice_plugin_set_t *set = sluice_plugin_set_load(cfg, keys, 1, set_flags, d);
    int rc = set != NULL ? 0 : -1;
    sluice_plugin_set_free(set);
    sluice_keyring_free(keys);
    return rc;
}

static int check(const char *file, int flags)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load(file, flags, &d);
    int rc = cfg != NULL && check_plugins(cfg, flags, &d) == 0 ? 0 : 1;
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

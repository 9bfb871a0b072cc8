/*
 * `sluicectl config check|dump FILE`: validate a config (every error, one per line,
 * "file:line:col: message") or print the effective config as JSON. Main thread only.
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl config check [--secrets] FILE\n"
                 "       sluicectl config dump FILE\n"
                 "\n"
                 "  check      load FILE and every org file it includes, validate everything, apply the\n"
                 "             SLUICE_* environment overrides, and print `ok` (exit 0) or every error as\n"
                 "             `file:line:col: message`, one per line on stderr (exit 1). Warnings (such as\n"
                 "             a write-key variable not set in this shell) go to stderr and do not fail.\n"
                 "  --secrets  also read every source's write key / HMAC secret from its environment\n"
                 "             variable, as sluice-gateway does; a missing one is then an error\n"
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

static int check(const char *file, int flags)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load(file, flags, &d);
    print_diag(&d);
    int rc = cfg != NULL ? 0 : 1;
    if (cfg != NULL)
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

/*
 * `sluicectl fpe encrypt|decrypt`: NIST SP 800-38G FF1 on one value from the command line, with
 * exactly the code of the `fpe` plugin (plugins/fpe/ff1.c and spec.c are compiled in), for
 * operators reversing or checking values and for checking against published vectors. Main
 * thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "plugins/fpe/ff1.h"
#include "plugins/fpe/spec.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluicectl fpe encrypt|decrypt (--key-hex K | --key-env VAR) [--tweak-hex T]\n"
            "                 (--radix N | --alphabet A) [--preserve CHARS] VALUE\n"
            "\n"
            "FF1 format-preserving encryption (NIST SP 800-38G), the code of the fpe mask plugin.\n"
            "  --key-hex K     AES key as 32, 48 or 64 hex digits (AES-128, AES-192, AES-256)\n"
            "  --key-env VAR   the same, read from environment variable VAR (keeps it out of `ps`)\n"
            "  --tweak-hex T   tweak as hex (default: empty)\n"
            "  --radix N       2..62; the alphabet is then the first N characters of 0-9a-zA-Z\n"
            "                  (10: digits, 36: 0-9a-z, 62: 0-9a-zA-Z)\n"
            "  --alphabet A    digits, lower_alnum, alnum, or the characters themselves in numeral\n"
            "                  order; with --radix, both must agree\n"
            "  --preserve C    characters kept in place (like the plugin's `preserve`), e.g. \"- \"\n"
            "Prints the result on stdout. Exit status 0 ok, 1 bad key, alphabet or value, 2 usage.\n"
            "NIST sample 1: sluicectl fpe encrypt --key-hex 2B7E151628AED2A6ABF7158809CF4F3C --radix 10 0123456789\n"
            "               prints 2433477484\n");
}

int sluicectl_cmd_fpe(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "encrypt") != 0 && strcmp(argv[1], "decrypt") != 0)) {
        usage(stderr);
        return 2;
    }
    const int decrypt = strcmp(argv[1], "decrypt") == 0;
    const char *key_hex = NULL, *key_env = NULL, *tweak = "", *radix_s = NULL, *alphabet = NULL, *preserve = "",
               *value = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_arg = i + 1 < argc;
        if (strcmp(a, "--key-hex") == 0 && has_arg)
            key_hex = argv[++i];
        else if (strcmp(a, "--key-env") == 0 && has_arg)
            key_env = argv[++i];
        else if (strcmp(a, "--tweak-hex") == 0 && has_arg)
            tweak = argv[++i];
        else if (strcmp(a, "--radix") == 0 && has_arg)
            radix_s = argv[++i];
        else if (strcmp(a, "--alphabet") == 0 && has_arg)
            alphabet = argv[++i];
        else if (strcmp(a, "--preserve") == 0 && has_arg)
            preserve = argv[++i];
        else if (strcmp(a, "--") == 0 && i + 2 == argc && value == NULL)
            value = argv[++i];
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "sluicectl fpe: unknown option or missing argument: %s\n", a);
            return 2;
        } else if (value == NULL)
            value = a;
        else {
            fprintf(stderr, "sluicectl fpe: one VALUE only\n");
            return 2;
        }
    }
    if (value == NULL || (key_hex == NULL) == (key_env == NULL) || (radix_s == NULL && alphabet == NULL)) {
        fprintf(stderr, "sluicectl fpe: needs VALUE, one of --key-hex/--key-env, and --radix or --alphabet\n\n");
        usage(stderr);
        return 2;
    }
    long radix = 0;
    if (radix_s != NULL) {
        char *end = NULL;
        radix = strtol(radix_s, &end, 10);
        if (end == radix_s || *end != '\0' || radix < 2 || radix > 62) {
            fprintf(stderr, "sluicectl fpe: --radix must be a number from 2 to 62\n");
            return 2;
        }
    }
    if (key_env != NULL && (key_hex = getenv(key_env)) == NULL) {
        fprintf(stderr, "sluicectl fpe: environment variable %s is not set\n", key_env);
        return 1;
    }
    /* Without --alphabet, the radix's default alphabet, given to the parser as its characters. */
    sluice_ff1_alphabet_t def;
    if (alphabet == NULL) {
        if (sluice_ff1_alphabet_default(&def, (unsigned)radix) != 0)
            return 2;
        alphabet = def.chars;
    }
    sluice_fpe_spec_t spec;
    char err[256] = "";
    if (sluice_fpe_spec_init(&spec, key_hex, strlen(key_hex), alphabet, strlen(alphabet), tweak, strlen(tweak),
                             preserve, strlen(preserve), -1, err, sizeof(err)) != 0) {
        fprintf(stderr, "sluicectl fpe: %s\n", err);
        sluice_fpe_spec_dispose(&spec);
        return 1;
    }
    if (radix != 0 && spec.alphabet.radix != (unsigned)radix) {
        fprintf(stderr, "sluicectl fpe: --radix %ld does not match the alphabet, which has %u characters\n", radix,
                spec.alphabet.radix);
        sluice_fpe_spec_dispose(&spec);
        return 1;
    }
    size_t n = strlen(value);
    char *out = malloc(n + 1);
    if (out == NULL) {
        sluice_fpe_spec_dispose(&spec);
        fprintf(stderr, "sluicectl fpe: out of memory\n");
        return 1;
    }
    int rc = sluice_fpe_spec_apply(&spec, decrypt, value, n, out);
    const size_t min_len = spec.min_len;
    sluice_fpe_spec_dispose(&spec);
    if (rc != SLUICE_FF1_OK) {
        if (rc == SLUICE_FF1_ELEN)
            fprintf(stderr, "sluicectl fpe: the value needs at least %zu and at most %u characters of the alphabet\n",
                    min_len, SLUICE_FF1_MAX_LEN);
        else
            fprintf(stderr, "sluicectl fpe: %s\n", sluice_ff1_strerror(rc));
        free(out);
        return 1;
    }
    out[n] = '\0';
    printf("%s\n", out);
    sluice_secure_zero(out, n);
    free(out);
    return 0;
}

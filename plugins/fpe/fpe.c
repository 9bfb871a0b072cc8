/*
 * Built-in mask plugin `fpe`: NIST SP 800-38G FF1 format-preserving encryption. The characters
 * of a value that belong to the alphabet (`digits`, `lower_alnum`, `alnum` or a custom string
 * of up to 62 characters) are enciphered together with the key from the environment
 * (`key_env`, 32/48/64 hex digits: AES-128/192/256) and the optional `tweak` (hex); the
 * characters listed in `preserve` stay in place, so `123-45-6789` stays shaped like an SSN.
 * Any other character, or fewer alphabet characters than FF1's domain minimum
 * (radix^length >= 1,000,000: 6 digits, 4 lower_alnum) or than `min_length`, is EINVAL: the
 * field is removed (fail closed). Deterministic and reversible with the key: `sluicectl
 * unmask` and `sluicectl fpe decrypt` run the same code (ff1.c, spec.c).
 *
 * Strings and numbers are enciphered (a number becomes a string); booleans and null are left
 * as they are; objects and arrays are refused.
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h> and OpenSSL's libcrypto. The
 * instance is immutable after create; each call allocates its own FF1 scratch.
 */
#include <sluice/mask_plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ff1.h"
#include "spec.h"

typedef struct fpe {
    const sluice_mask_host_t *host;
    sluice_fpe_spec_t spec;
} fpe_t;

static const sluice_mask_config_entry_t config[] = {
    {"key", SLUICE_MASK_CONF_STRING, SLUICE_MASK_CONF_REQUIRED | SLUICE_MASK_CONF_SECRET, NULL,
     "AES key as 32, 48 or 64 hex digits (AES-128/192/256), given as key_env: VAR"},
    {"alphabet", SLUICE_MASK_CONF_STRING, 0, "\"" SLUICE_FPE_DEFAULT_ALPHABET "\"",
     "digits, lower_alnum (0-9a-z), alnum (0-9a-zA-Z) or the characters themselves (2..62, numeral order)"},
    {"tweak", SLUICE_MASK_CONF_STRING, 0, "\"" SLUICE_FPE_DEFAULT_TWEAK "\"", "FF1 tweak as hex (up to 256 bytes)"},
    {"preserve", SLUICE_MASK_CONF_STRING, 0, "\"" SLUICE_FPE_DEFAULT_PRESERVE "\"",
     "characters kept in place, outside the alphabet, e.g. \"- \""},
    {"min_length", SLUICE_MASK_CONF_INT, 0, NULL,
     "fewest alphabet characters a value may have; at least FF1's minimum for the radix"},
    {0},
};

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    const char *key = NULL, *alphabet = NULL, *tweak = NULL, *preserve = NULL;
    size_t key_len = 0, alphabet_len = 0, tweak_len = 0, preserve_len = 0;
    int64_t min_length = -1;
    if (host->config_string(cfg, "key", &key, &key_len) != 1 ||
        host->config_string(cfg, "alphabet", &alphabet, &alphabet_len) != 1 ||
        host->config_string(cfg, "tweak", &tweak, &tweak_len) != 1 ||
        host->config_string(cfg, "preserve", &preserve, &preserve_len) != 1 ||
        host->config_int(cfg, "min_length", &min_length) < 0) { /* 0: not given, min_length stays -1 */
        snprintf(err, err_len, "a parameter has no value");
        return SLUICE_MASK_ECONFIG;
    }
    fpe_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    f->host = host;
    if (sluice_fpe_spec_init(&f->spec, key, key_len, alphabet, alphabet_len, tweak, tweak_len, preserve, preserve_len,
                             min_length, err, err_len) != 0) {
        sluice_fpe_spec_dispose(&f->spec);
        free(f);
        return SLUICE_MASK_ECONFIG;
    }
    *instance = f;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    fpe_t *f = instance;
    if (f == NULL)
        return;
    sluice_fpe_spec_dispose(&f->spec);
    free(f);
}

static int status_of(int ff1)
{
    switch (ff1) {
    case SLUICE_FF1_OK: return SLUICE_MASK_OK;
    case SLUICE_FF1_ECHAR:
    case SLUICE_FF1_ELEN: return SLUICE_MASK_EINVAL;
    case SLUICE_FF1_ENOMEM: return SLUICE_MASK_ENOMEM;
    default: return SLUICE_MASK_EINTERNAL;
    }
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const fpe_t *f = instance;
    switch (in->type) {
    case SLUICE_MASK_JSON_STRING:
    case SLUICE_MASK_JSON_NUMBER: break;
    case SLUICE_MASK_JSON_BOOL:
    case SLUICE_MASK_JSON_NULL: return SLUICE_MASK_UNCHANGED;
    default: return SLUICE_MASK_EINVAL;
    }
    if (in->value_len == 0)
        return SLUICE_MASK_EINVAL;
    char *buf = malloc(in->value_len);
    if (buf == NULL)
        return SLUICE_MASK_ENOMEM;
    int rc = status_of(sluice_fpe_spec_apply(&f->spec, 0, in->value, in->value_len, buf));
    if (rc == SLUICE_MASK_OK)
        rc = f->host->append(out, buf, in->value_len);
    free(buf);
    return rc;
}

/* NIST SP 800-38G samples 1, 6 and 9 (one per AES key size, radix 10 and 36, with and without
 * a tweak) through the plugin's own text path, then a round trip under the rule's settings. */
static int selftest(void *instance, char *err, size_t err_len)
{
    const fpe_t *f = instance;
    static const struct {
        const char *key, *alphabet, *tweak, *pt, *ct;
    } nist[] = {
        {"2B7E151628AED2A6ABF7158809CF4F3C", "digits", "", "0123456789", "2433477484"},
        {"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "lower_alnum", "3737373770717273373737",
         "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
        {"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "lower_alnum", "3737373770717273373737",
         "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
    };
    for (size_t i = 0; i < sizeof(nist) / sizeof(nist[0]); i++) {
        sluice_fpe_spec_t s;
        char out[32] = {0};
        size_t n = strlen(nist[i].pt);
        int ok = sluice_fpe_spec_init(&s, nist[i].key, strlen(nist[i].key), nist[i].alphabet, strlen(nist[i].alphabet),
                                      nist[i].tweak, strlen(nist[i].tweak), "", 0, -1, err, err_len) == 0 &&
                 sluice_fpe_spec_apply(&s, 0, nist[i].pt, n, out) == SLUICE_FF1_OK && strcmp(out, nist[i].ct) == 0 &&
                 sluice_fpe_spec_apply(&s, 1, out, n, out) == SLUICE_FF1_OK && strcmp(out, nist[i].pt) == 0;
        sluice_fpe_spec_dispose(&s);
        if (!ok) {
            snprintf(err, err_len, "NIST SP 800-38G known answer %zu differs", i + 1);
            return SLUICE_MASK_EINTERNAL;
        }
    }
    /* Round trip of a value made of the rule's own alphabet, as long as the rule requires. */
    const sluice_fpe_spec_t *s = &f->spec;
    size_t n = s->min_len < 24 ? 24 : s->min_len;
    char *pt = malloc(2 * n);
    if (pt == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    char *ct = pt + n;
    for (size_t i = 0; i < n; i++)
        pt[i] = s->alphabet.chars[(i * 7 + 3) % s->alphabet.radix];
    int ok = sluice_fpe_spec_apply(s, 0, pt, n, ct) == SLUICE_FF1_OK && memcmp(pt, ct, n) != 0 &&
             sluice_fpe_spec_apply(s, 1, ct, n, ct) == SLUICE_FF1_OK && memcmp(pt, ct, n) == 0;
    free(pt);
    if (!ok) {
        snprintf(err, err_len, "round trip under the configured key failed");
        return SLUICE_MASK_EINTERNAL;
    }
    return SLUICE_MASK_OK;
}

SLUICE_MASK_PLUGIN(.name = "fpe", .version = "1.0.0",
                   .description = "NIST SP 800-38G FF1 format-preserving encryption over a configurable alphabet",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC, .create = create, .destroy = destroy,
                   .mask = mask, .selftest = selftest);

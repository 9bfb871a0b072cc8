/*
 * `sluicectl unmask --config FILE --org O --path P VALUE`: reverses a value that the `encrypt`
 * or `fpe` mask plugin wrote, for an operator holding the keys. The org's mask rule for P says
 * which plugin and parameters were used:
 *  - encrypt: "enc:v1:" base64url(sealed) is opened with the encrypt plugin's keys, derived
 *    from the root key ring (ENCRYPTION_KEY, SLUICE_KEY_ID, SLUICE_KEYRING; crypto/hkdf.h) as the
 *    gateway derives them (values an older version sealed directly under the root key open with
 *    the root ring), under the plugin's AAD, org ‖ 0x00 ‖ rule path, so a value taken from
 *    another org or field does not open;
 *  - fpe: FF1 decryption with the rule's key_env, alphabet, tweak, preserve and min_length,
 *    through the plugin's own code (plugins/fpe/spec.c).
 * Every attempt, successful or not, appends one audit line (who from $USER, when, org, path,
 * plugin, result; never the value) to `log.audit_file` (created 0600 if missing), or to stderr
 * when the config names none; a value is printed only once its audit line is written.
 *
 * Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "crypto/base64url.h"
#include "crypto/ct.h"
#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "plugins/fpe/spec.h"
#include "plugins/loader.h"
#include "tools/commands.h"

#define ENC_PREFIX     "enc:v1:"
#define ENC_PREFIX_LEN (sizeof(ENC_PREFIX) - 1)

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl unmask --config FILE --org ORG --path PATH VALUE\n"
                 "\n"
                 "Reverses a value written by the encrypt or fpe mask plugin. PATH is the mask rule's path\n"
                 "(`properties.items[*].sku`) or a concrete path it reaches (`properties.items[2].sku`,\n"
                 "`context.traits.ssn` for a rule on `traits.ssn`).\n"
                 "  encrypt  needs the key ring the gateway used: ENCRYPTION_KEY, SLUICE_KEY_ID and, for\n"
                 "           values sealed under older keys, SLUICE_KEYRING\n"
                 "  fpe      needs the environment variable named by the rule's key_env\n"
                 "Every attempt appends an audit line (user, time, org, path; never the value) to the\n"
                 "config's log.audit_file (stderr when it names none). Prints the original value on\n"
                 "stdout. Exit status 0 ok, 1 failure (no such org or rule, wrong key, org or path, an\n"
                 "altered value, audit file not writable), 2 usage.\n");
}

/* P with every "[digits]" replaced by "[*]" into buf: the rule path a concrete path belongs to. */
static void generalise(const char *p, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; p[i] != '\0' && o + 4 < cap; i++) {
        if (p[i] == '[' && p[i + 1] >= '0' && p[i + 1] <= '9') {
            size_t j = i + 1;
            while (p[j] >= '0' && p[j] <= '9')
                j++;
            if (p[j] == ']') {
                memcpy(buf + o, "[*]", 3);
                o += 3;
                i = j;
                continue;
            }
        }
        buf[o++] = p[i];
    }
    buf[o] = '\0';
}

/* 1 when rule path a names the members b does, as the gateway matches them (config/path.h): the
 * first key exactly, the keys below it without regard to ASCII case. */
static int same_members(const char *a, const char *b)
{
    size_t n = strcspn(a, ".[");
    return strcspn(b, ".[") == n && strncmp(a, b, n) == 0 && strcasecmp(a + n, b + n) == 0;
}

/* The rule that masked the value at path: one whose path reaches it, else one whose mirror does
 * (context.traits.X for a rule on traits.X, config.h). Either way the value was sealed under the
 * rule's own path, which the caller uses; an exact "properties.notes" alone missed the
 * "properties.Notes" and "context.traits.ssn" the same rules had masked. */
static const sluice_mask_rule_t *find_rule(const sluice_org_t *org, const char *path)
{
    char general[1024];
    generalise(path, general, sizeof(general));
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        const char *text = org->mask_rules[i].path.text;
        if (same_members(text, path) || same_members(text, general))
            return &org->mask_rules[i];
    }
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        const char *text = org->mask_rules[i].mirror.text;
        if (text != NULL && (same_members(text, path) || same_members(text, general)))
            return &org->mask_rules[i];
    }
    return NULL;
}

/* "encrypt", "fpe", or NULL: the built-in the rule names, by name or as <plugins.dir>/<name>.so. */
static const char *builtin_of(const sluice_config_t *cfg, const sluice_mask_rule_t *r)
{
    static const char *const names[] = {"encrypt", "fpe"};
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(r->plugin, names[i]) == 0)
            return names[i];
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.so", cfg->plugin_dir ? cfg->plugin_dir : "", names[i]);
        if (cfg->plugin_dir != NULL && strcmp(r->plugin, path) == 0)
            return names[i];
    }
    return NULL;
}

/* One JSON line for the audit trail; 0 when written completely. */
static int audit(const sluice_config_t *cfg, const char *org, const char *path, const char *plugin, const char *result)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[64], stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts, sizeof(ts), "%s.%03ldZ", stamp, (long)(tv.tv_usec / 1000));
    const char *user = getenv("USER");
    char uid[32];
    if (user == NULL || user[0] == '\0') {
        snprintf(uid, sizeof(uid), "uid:%ld", (long)getuid());
        user = uid;
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ts", ts, "event", "unmask", "user", user, "org", org,
                          "path", path, "plugin", plugin ? plugin : "-", "result", result);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (line == NULL)
        return -1;
    size_t n = strlen(line);
    line[n++] = '\n'; /* replaces the NUL: written by length */
    int fd = 2, rc = 0;
    if (cfg->audit_log != NULL) {
        fd = open(cfg->audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "sluicectl unmask: cannot open the audit file %s: %s\n", cfg->audit_log, strerror(errno));
            free(line);
            return -1;
        }
    }
    /* One write, so concurrent sluicectl runs never interleave lines (O_APPEND). */
    ssize_t w = write(fd, line, n);
    if (w != (ssize_t)n) {
        fprintf(stderr, "sluicectl unmask: cannot write the audit file %s: %s\n",
                cfg->audit_log ? cfg->audit_log : "(stderr)", w < 0 ? strerror(errno) : "short write");
        rc = -1;
    }
    if (fd != 2 && close(fd) != 0 && rc == 0) {
        fprintf(stderr, "sluicectl unmask: cannot write the audit file %s: %s\n", cfg->audit_log, strerror(errno));
        rc = -1;
    }
    free(line);
    return rc;
}

/* Opens an encrypt value; *out (malloc'd) gets the original: a string's contents or JSON text. */
static int unmask_encrypt(const char *org, const char *rule_path, const char *value, char **out, char *err,
                          size_t err_len)
{
    size_t n = strlen(value);
    if (n <= ENC_PREFIX_LEN || strncmp(value, ENC_PREFIX, ENC_PREFIX_LEN) != 0) {
        snprintf(err, err_len, "the value is not an encrypt plugin value (it starts with \"%s\")", ENC_PREFIX);
        return -1;
    }
    sluice_err_t kerr = {{0}};
    sluice_keyring_t *root = sluice_keyring_from_env(&kerr);
    /* The encrypt plugin's keys, derived as the gateway derives them; values an older version
     * sealed directly under the root key still open with the root ring. */
    sluice_keyring_t *kr = root != NULL ? sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_ENCRYPT, &kerr) : NULL;
    if (kr == NULL) {
        snprintf(err, err_len, "no key ring: %.400s", kerr.msg);
        sluice_keyring_free(root);
        return -1;
    }
    size_t cap = sluice_b64url_decoded_len(n - ENC_PREFIX_LEN), sealed_len = 0, pt_len = 0;
    uint8_t *sealed = malloc(cap + 1), *pt = malloc(cap + 1);
    size_t aad_len = strlen(org) + 1 + strlen(rule_path);
    char *aad = malloc(aad_len + 1);
    int rc = -1;
    if (sealed == NULL || pt == NULL || aad == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    snprintf(aad, aad_len + 1, "%s%c%s", org, '\0', rule_path);
    if (sluice_b64url_decode(value + ENC_PREFIX_LEN, n - ENC_PREFIX_LEN, sealed, cap, &sealed_len) != 0) {
        snprintf(err, err_len, "the value is not valid base64url after \"%s\" (altered or cut?)", ENC_PREFIX);
        goto done;
    }
    sluice_err_t oerr = {{0}};
    int orc = sluice_plugin_open(kr, aad, aad_len, sealed, sealed_len, pt, cap, &pt_len, &oerr);
    if (orc != SLUICE_MASK_OK)
        orc = sluice_plugin_open(root, aad, aad_len, sealed, sealed_len, pt, cap, &pt_len, &oerr);
    if (orc != SLUICE_MASK_OK || pt_len == 0 || (pt[0] != 's' && pt[0] != 'j')) {
        if (orc == SLUICE_MASK_OK)
            sluice_secure_zero(pt, pt_len);
        snprintf(err, err_len,
                 "the value does not open for org '%s' and path '%s': wrong key ring, another org or field, or an "
                 "altered value",
                 org, rule_path);
        goto done;
    }
    /* The type byte goes; what follows is the string's contents or the JSON text. */
    memmove(pt, pt + 1, pt_len - 1);
    pt[pt_len - 1] = '\0';
    *out = (char *)pt;
    pt = NULL;
    rc = 0;
done:
    free(sealed);
    free(pt);
    free(aad);
    sluice_keyring_free(kr);
    sluice_keyring_free(root);
    return rc;
}

static const char *param(const sluice_mask_rule_t *r, const char *name)
{
    const sluice_yaml_node_t *n = r->params ? sluice_yaml_map_get(r->params, name) : NULL;
    return n != NULL && n->type == SLUICE_YAML_SCALAR ? n->scalar : NULL;
}

/* Decrypts an fpe value with the rule's parameters; *out (malloc'd) gets the original. */
static int unmask_fpe(const sluice_mask_rule_t *r, const char *value, char **out, char *err, size_t err_len)
{
    const char *key_env = param(r, "key_env");
    if (key_env == NULL) {
        snprintf(err, err_len, "the fpe rule has no key_env");
        return -1;
    }
    const char *key = getenv(key_env);
    if (key == NULL || key[0] == '\0') {
        snprintf(err, err_len, "environment variable %s (the rule's key_env) is not set", key_env);
        return -1;
    }
    const char *alphabet = param(r, "alphabet"), *tweak = param(r, "tweak"), *preserve = param(r, "preserve");
    alphabet = alphabet ? alphabet : SLUICE_FPE_DEFAULT_ALPHABET;
    tweak = tweak ? tweak : SLUICE_FPE_DEFAULT_TWEAK;
    preserve = preserve ? preserve : SLUICE_FPE_DEFAULT_PRESERVE;
    long long min_length = -1;
    const sluice_yaml_node_t *ml = r->params ? sluice_yaml_map_get(r->params, "min_length") : NULL;
    if (ml != NULL && sluice_yaml_as_int(ml, &min_length) != 0) {
        snprintf(err, err_len, "the fpe rule's min_length is not an integer");
        return -1;
    }
    sluice_fpe_spec_t spec;
    char msg[256] = "";
    if (sluice_fpe_spec_init(&spec, key, strlen(key), alphabet, strlen(alphabet), tweak, strlen(tweak), preserve,
                             strlen(preserve), min_length, msg, sizeof(msg)) != 0) {
        sluice_fpe_spec_dispose(&spec);
        snprintf(err, err_len, "the fpe rule's parameters: %s", msg);
        return -1;
    }
    size_t n = strlen(value);
    char *pt = malloc(n + 1);
    int rc = pt ? sluice_fpe_spec_apply(&spec, 1, value, n, pt) : SLUICE_FF1_ENOMEM;
    sluice_fpe_spec_dispose(&spec);
    if (rc != SLUICE_FF1_OK) {
        free(pt);
        snprintf(err, err_len, "the value cannot be an fpe value of this rule: %s", sluice_ff1_strerror(rc));
        return -1;
    }
    pt[n] = '\0';
    *out = pt;
    return 0;
}

int sluicectl_cmd_unmask(int argc, char **argv)
{
    const char *file = NULL, *org_id = NULL, *path = NULL, *value = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_arg = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--config") == 0 && has_arg)
            file = argv[++i];
        else if (strcmp(a, "--org") == 0 && has_arg)
            org_id = argv[++i];
        else if (strcmp(a, "--path") == 0 && has_arg)
            path = argv[++i];
        else if (strcmp(a, "--") == 0 && i + 2 == argc && value == NULL)
            value = argv[++i];
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "sluicectl unmask: unknown option or missing argument: %s\n", a);
            return 2;
        } else if (value == NULL)
            value = a;
        else {
            fprintf(stderr, "sluicectl unmask: one VALUE only\n");
            return 2;
        }
    }
    if (file == NULL || org_id == NULL || path == NULL || value == NULL) {
        usage(stderr);
        return 2;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(file, 0, &diag);
    if (cfg == NULL) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s\n", diag.msgs[i]);
        sluice_config_diag_dispose(&diag);
        fprintf(stderr, "sluicectl unmask: the config does not load\n");
        return 1;
    }
    sluice_config_diag_dispose(&diag);

    int status = 1;
    char err[512] = "";
    char *original = NULL;
    const char *plugin = NULL;
    const sluice_org_t *org = sluice_config_find_org(cfg, org_id);
    const sluice_mask_rule_t *rule = org ? find_rule(org, path) : NULL;
    if (org == NULL)
        snprintf(err, sizeof(err), "no org '%s' in %s", org_id, file);
    else if (rule == NULL)
        snprintf(err, sizeof(err), "org '%s' has no mask rule for path '%s'", org_id, path);
    else if ((plugin = builtin_of(cfg, rule)) == NULL)
        snprintf(err, sizeof(err), "the rule for '%s' uses plugin '%s', which is not reversible (only encrypt and fpe)",
                 rule->path.text, rule->plugin);
    else if (strcmp(plugin, "encrypt") == 0)
        status = unmask_encrypt(org_id, rule->path.text, value, &original, err, sizeof(err)) == 0 ? 0 : 1;
    else
        status = unmask_fpe(rule, value, &original, err, sizeof(err)) == 0 ? 0 : 1;

    /* The audit line names the rule path when one was found, so every element of an array rule
     * is audited alike; the value is never part of it. */
    if (audit(cfg, org_id, rule ? rule->path.text : path, plugin, status == 0 ? "ok" : "failed") != 0)
        status = 1;
    else if (status == 0)
        printf("%s\n", original);
    if (status != 0 && err[0] != '\0')
        fprintf(stderr, "sluicectl unmask: %s\n", err);
    if (original != NULL) {
        sluice_secure_zero(original, strlen(original));
        free(original);
    }
    sluice_config_free(cfg);
    return status;
}

/*
 * `sluicectl token mint|inspect`: cross-domain identity tokens for operators and tests.
 * mint seals a token exactly as GET <prefix>/xd does; inspect opens one and says what it holds
 * and, when it does not open, why (trying every org and domain of the config to tell a token
 * for another domain or org from an altered one). The token keys are derived from ENCRYPTION_KEY,
 * SLUICE_KEY_ID and SLUICE_KEYRING as the gateway derives them (crypto/hkdf.h); a key is never
 * printed. Main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/time.h"
#include "config/config.h"
#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "identity/identity.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl token mint --config FILE --org ORG --to DOMAIN --id ANONYMOUS_ID [--ttl SECONDS]\n"
                 "       sluicectl token inspect --config FILE --org ORG --to DOMAIN TOKEN\n"
                 "\n"
                 "  mint     print a single-use cross-domain token carrying ANONYMOUS_ID for DOMAIN (a host or\n"
                 "           URL among the org's identity.cross_domain.domains), valid for --ttl seconds\n"
                 "           (default: the org's cross_domain.token_ttl_s)\n"
                 "  inspect  print the token's key id, expiry and id, whether it opens for ORG on DOMAIN, and\n"
                 "           why not; exit 0 when it opens and has not expired, else 1. Whether it was\n"
                 "           already redeemed is known only to Redis (key <redis.key_prefix>xd:<jti>).\n"
                 "\n"
                 "Keys: ENCRYPTION_KEY (64 hex), SLUICE_KEY_ID, SLUICE_KEYRING, as for sluice-gateway; the\n"
                 "token keys are derived from them (HKDF, label sluice/xd-token/v1).\n");
}

typedef struct args {
    const char *config, *org, *to, *id, *ttl, *token;
} args_t;

static int parse(int argc, char **argv, args_t *a)
{
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--config") == 0)
            slot = &a->config;
        else if (strcmp(argv[i], "--org") == 0)
            slot = &a->org;
        else if (strcmp(argv[i], "--to") == 0)
            slot = &a->to;
        else if (strcmp(argv[i], "--id") == 0)
            slot = &a->id;
        else if (strcmp(argv[i], "--ttl") == 0)
            slot = &a->ttl;
        if (slot != NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sluicectl token: %s needs a value\n", argv[i]);
                return -1;
            }
            *slot = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "sluicectl token: unknown option %s\n", argv[i]);
            return -1;
        } else if (a->token == NULL) {
            a->token = argv[i];
        } else {
            fprintf(stderr, "sluicectl token: more than one token given\n");
            return -1;
        }
    }
    if (a->config == NULL || a->org == NULL || a->to == NULL) {
        fprintf(stderr, "sluicectl token: --config, --org and --to are required\n");
        return -1;
    }
    return 0;
}

/* Loads the config and finds the org; prints why not. */
static sluice_config_t *load(const args_t *a, const sluice_org_t **org)
{
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_config_t *cfg = sluice_config_load(a->config, 0, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    if (cfg == NULL)
        return NULL;
    *org = sluice_config_find_org(cfg, a->org);
    if (*org == NULL) {
        fprintf(stderr, "sluicectl token: no org '%s' in %s\n", a->org, a->config);
        sluice_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* The cross-domain token keys, derived from the root ring as the gateway does (crypto/hkdf.h). */
static sluice_keyring_t *token_ring(sluice_err_t *err)
{
    sluice_keyring_t *root = sluice_keyring_from_env(err);
    sluice_keyring_t *kr = root != NULL ? sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, err) : NULL;
    sluice_keyring_free(root);
    return kr;
}

static int mint(const args_t *a)
{
    if (a->id == NULL || a->token != NULL) {
        fprintf(stderr, "sluicectl token mint: --id is required and no TOKEN argument is taken\n");
        return 2;
    }
    const sluice_org_t *org;
    sluice_config_t *cfg = load(a, &org);
    if (cfg == NULL)
        return 1;
    int rc = 1;
    char host[SLUICE_URL_HOST_MAX + 1];
    unsigned ttl = org->identity.xd_token_ttl_s;
    char *end = NULL;
    long t = a->ttl != NULL ? strtol(a->ttl, &end, 10) : 0;
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = NULL;
    if (sluice_url_host(a->to, strlen(a->to), host, sizeof(host)) != 0) {
        fprintf(stderr, "sluicectl token mint: --to must be a host name or an http(s) URL\n");
    } else if (!sluice_identity_xd_domain(org, host)) {
        fprintf(stderr, "sluicectl token mint: %s is not in orgs[%s].identity.cross_domain.domains\n", host, org->id);
    } else if (a->ttl != NULL && (*end != '\0' || t < 1 || t > 86400)) {
        fprintf(stderr, "sluicectl token mint: --ttl must be 1..86400 seconds\n");
    } else if ((kr = token_ring(&err)) == NULL) {
        fprintf(stderr, "sluicectl token mint: %s\n", err.msg);
    } else {
        if (a->ttl != NULL)
            ttl = (unsigned)t;
        char tok[SLUICE_TOKEN_TEXT_MAX + 1];
        if (sluice_token_seal(kr, org->id, host, a->id, (int64_t)time(NULL), ttl, tok, sizeof(tok), &err) < 0) {
            fprintf(stderr, "sluicectl token mint: %s\n", err.msg);
        } else {
            printf("%s\n", tok);
            rc = 0;
        }
    }
    sluice_keyring_free(kr);
    sluice_config_free(cfg);
    return rc;
}

/* Tries every (org, domain) of the config; prints the first that opens the token. */
static int where_it_opens(const sluice_config_t *cfg, const sluice_keyring_t *kr, const char *tok, int64_t now)
{
    for (size_t o = 0; o < cfg->org_count; o++) {
        const sluice_identity_config_t *idc = &cfg->orgs[o].identity;
        for (size_t d = 0; d < idc->xd_domain_count; d++) {
            sluice_token_claims_t c;
            int rc = sluice_token_open(kr, cfg->orgs[o].id, idc->xd_domains[d], tok, strlen(tok), now, 0, &c);
            if (rc == 0 || rc == SLUICE_TOKEN_EXPIRED) {
                printf("opens for: org %s, domain %s\n", cfg->orgs[o].id, idc->xd_domains[d]);
                return 1;
            }
        }
    }
    return 0;
}

static int inspect(const args_t *a)
{
    if (a->token == NULL || a->id != NULL || a->ttl != NULL) {
        fprintf(stderr, "sluicectl token inspect: give the TOKEN (and no --id or --ttl)\n");
        return 2;
    }
    const sluice_org_t *org;
    sluice_config_t *cfg = load(a, &org);
    if (cfg == NULL)
        return 1;
    char host[SLUICE_URL_HOST_MAX + 1];
    if (sluice_url_host(a->to, strlen(a->to), host, sizeof(host)) != 0) {
        fprintf(stderr, "sluicectl token inspect: --to must be a host name or an http(s) URL\n");
        sluice_config_free(cfg);
        return 2;
    }
    sluice_err_t err = {{0}};
    sluice_keyring_t *root = sluice_keyring_from_env(&err);
    sluice_keyring_t *kr = root != NULL ? sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err) : NULL;
    if (kr == NULL)
        fprintf(stderr, "warning: %s; no token can open\n", err.msg);
    int64_t now = (int64_t)time(NULL);
    unsigned skew = org->identity.xd_clock_skew_s;
    sluice_token_claims_t c;
    int rc = sluice_token_open(kr, org->id, host, a->token, strlen(a->token), now, skew, &c);
    /* Sealed by an older version directly under the root key (before keys by purpose)? */
    int legacy = 0;
    if ((rc == SLUICE_TOKEN_BAD_TAG || rc == SLUICE_TOKEN_UNKNOWN_KID) && root != NULL) {
        sluice_token_claims_t lc;
        int lrc = sluice_token_open(root, org->id, host, a->token, strlen(a->token), now, skew, &lc);
        if (lrc == 0 || lrc == SLUICE_TOKEN_EXPIRED) {
            rc = lrc;
            c = lc;
            legacy = 1;
        }
    }
    if (rc != SLUICE_TOKEN_MALFORMED)
        printf("kid: %u (%s)\n", c.kid,
               kr != NULL && sluice_keyring_key(kr, c.kid) != NULL ? "in the key ring" : "not in the key ring");
    if (rc == 0 || rc == SLUICE_TOKEN_EXPIRED) {
        char when[SLUICE_TIME_TEXT_MAX];
        sluice_time_format(c.exp * 1000, when);
        if (rc == 0)
            printf("expires: %s (in %lld s, plus %u s clock skew)\n", when, (long long)(c.exp - now), skew);
        else
            printf("expires: %s (%lld s ago)\n", when, (long long)(now - c.exp));
        printf("anonymousId: %s\njti: %s\n", c.dfid, c.jti);
    }
    switch (rc) {
    case 0:
        printf("opens: yes, for org %s on %s%s (redemption state: ask Redis, key %sxd:%s)\n", org->id, host,
               legacy ? " under the root key (an older version's token: a gateway opens it only in its first "
                        "minute after the upgrade)"
                      : "",
               cfg->redis.key_prefix != NULL ? cfg->redis.key_prefix : "sluice:", c.jti);
        break;
    case SLUICE_TOKEN_EXPIRED: printf("opens: no: expired\n"); break;
    case SLUICE_TOKEN_MALFORMED: printf("opens: no: malformed (not strict base64url of a token's length)\n"); break;
    case SLUICE_TOKEN_UNKNOWN_KID:
        printf("opens: no: unknown key id %u (removed from SLUICE_KEYRING, or another deployment's key)\n", c.kid);
        break;
    case SLUICE_TOKEN_BAD_TAG:
        if (where_it_opens(cfg, kr, a->token, now))
            printf("opens: no: sealed for another org or domain (see above), not for org %s on %s\n", org->id, host);
        else
            printf("opens: no: the tag does not match (altered, or sealed under another key with kid %u)\n", c.kid);
        break;
    default: printf("opens: no: %s\n", sluice_token_outcome_name(rc)); break;
    }
    sluice_keyring_free(kr);
    sluice_keyring_free(root);
    sluice_config_free(cfg);
    return rc == 0 ? 0 : 1;
}

int sluicectl_cmd_token(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    args_t a = {0};
    int is_mint = strcmp(argv[1], "mint") == 0;
    if ((!is_mint && strcmp(argv[1], "inspect") != 0) || parse(argc, argv, &a) != 0) {
        if (!is_mint && strcmp(argv[1], "inspect") != 0)
            fprintf(stderr, "sluicectl token: unknown subcommand '%s'\n", argv[1]);
        fprintf(stderr, "\n");
        usage(stderr);
        return 2;
    }
    return is_mint ? mint(&a) : inspect(&a);
}

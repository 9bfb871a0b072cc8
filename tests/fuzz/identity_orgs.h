/*
 * The orgs and the identity thread the identity fuzz targets share (tests/fuzz/jv_identity.c,
 * jv_identity_run.c): acme exchanges tokens with checkout (its cookie is signed), plain does not;
 * one key ring, no Redis. Included by those targets only; runs on the fuzzer's thread.
 */
#ifndef SLUICE_FUZZ_IDENTITY_ORGS_H
#define SLUICE_FUZZ_IDENTITY_ORGS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "identity/identity.h"
#include "json/arena.h"

/* The identity thread of orgs[0] (acme) and orgs[1] (plain), made once with the arenas installed;
 * aborts when it cannot be. */
static inline sluice_identity_thread_t *sluice_fuzz_identity_setup(sluice_org_t orgs[2], sluice_config_t *cfg,
                                                                   sluice_identity_secrets_t *secrets)
{
    static char acme_id[] = "acme", plain_id[] = "plain", sid[] = "_sid";
    static char shop[] = "shop.acme.test", checkout[] = "checkout.example-pay.com";
    static char *domains[] = {shop, checkout};
    static const uint8_t key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
                                    3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};
    if (sluice_json_arena_install() != 0)
        abort();
    for (int i = 0; i < 2; i++) {
        sluice_org_t *o = &orgs[i];
        memset(o, 0, sizeof(*o));
        o->id = i == 0 ? acme_id : plain_id;
        o->identity.cookie_name = sid;
        o->identity.cookie_max_age_days = 400;
        o->identity.xd_domains = i == 0 ? domains : NULL;
        o->identity.xd_domain_count = i == 0 ? 2 : 0;
        o->identity.xd_token_ttl_s = 60;
        o->identity.xd_clock_skew_s = 5;
        o->identity.link_ttl_days = 400;
    }
    cfg->orgs = orgs;
    cfg->org_count = 2;
    sluice_err_t err;
    sluice_keyring_t *keys = sluice_keyring_create();
    if (keys == NULL || sluice_keyring_add(keys, 1, key, 1, &err) != 0)
        abort();
    secrets->tokens = sluice_keyring_derive(keys, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    secrets->cookies = sluice_keyring_derive(keys, SLUICE_KEY_PURPOSE_XD_COOKIE, &err);
    sluice_keyring_free(keys); /* the derived rings stand alone */
    sluice_identity_thread_t *thr = sluice_identity_thread_create(cfg, NULL, secrets, &err);
    if (thr == NULL || secrets->cookies == NULL)
        abort();
    return thr;
}

#endif

/*
 * The Redis keys `sluicectl forget` and the gateway's suppression list use, built in one place
 * (docs/privacy.md, "Deletion and suppression"):
 *
 *   <prefix>id:<org>:<id>       hash of identity links (identity.c: userId, anonymousId)
 *   <prefix>dedup:<org>:<mid>   a remembered messageId; its value lists the pseudonyms of the
 *                               event's ids (crypto/pseudonym.h), so forget can find it
 *   <prefix>suppress            set of "<org>:<pseudonym hex>" the gateway drops events of
 *   <prefix>suppress:gen        counter bumped on every change to that set, so readers reload
 *                               the set only when it changed
 *   <prefix>suppress:seen       hash: gateway (host:pid) -> "<generation it enforces> <until
 *                               (Unix ms)>", renewed on each look at the list
 * (prefix: redis.key_prefix, default "sluice:"; identity.c uses the same for its keys)
 *
 * identity.c builds the first two for the hot path; this is the one function for everything
 * forget and the suppression list touch.
 *
 * Threading: pure function, any thread.
 */
#ifndef SLUICE_IDENTITY_FORGET_H
#define SLUICE_IDENTITY_FORGET_H

#include <stddef.h>

typedef enum sluice_forget_key {
    SLUICE_FORGET_KEY_LINK = 0,     /* org, id (id "*" gives the SCAN pattern of the org's links) */
    SLUICE_FORGET_KEY_DEDUP = 1,    /* org, messageId (or "*") */
    SLUICE_FORGET_KEY_SUPPRESS = 2, /* org and id unused */
    SLUICE_FORGET_KEY_SUPPRESS_GEN = 3,
    SLUICE_FORGET_KEY_OWN = 4, /* org, anonymous id: the id's claim by a signed cookie (identity.md) */
    /* hash: per gateway (host:pid) the generation of the list it enforces and until when that
     * holds, so that forget knows when every gateway stopped taking a person's events */
    SLUICE_FORGET_KEY_SUPPRESS_SEEN = 5,
} sluice_forget_key_t;

/* Writes the key and a NUL into out (prefix NULL: "sluice:"). Returns its length, or -1 when it
 * does not fit in cap or org/id is missing where the kind needs it. */
int sluice_forget_key(char *out, size_t cap, const char *prefix, sluice_forget_key_t kind, const char *org,
                      const char *id);

#endif

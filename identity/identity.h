/*
 * Identity for the gateway (data flow step 6): who the visitor is, across requests and the
 * org's domains. docs/identity.md describes the behaviour; this header the mechanics.
 *
 * Per event-loop thread there is one sluice_identity_thread_t holding that thread's Redis client
 * and the key ring. Per request, a sluice_identity_job_t goes through three steps:
 *   1. sluice_identity_begin: what the request brings (cookies, Origin, Host, a `_dft` token in
 *      the query or at the top of the body);
 *   2. sluice_identity_assign, once per validated event: takes the event's `_dft` and removes
 *      it (and `_dft=` from its page URLs), fills anonymousId (body, else cookie, else a new
 *      id), captures click ids, drops any client-sent context.identity;
 *   3. sluice_identity_run: the asynchronous part. Opens the token and redeems it once in Redis
 *      (SET NX PX), looks up dedup keys and known user ids, then adopts the token's id, stamps
 *      context.identity and context.vendorIds, records identify/alias links (fire and forget),
 *      prepares the Set-Cookie values, and calls job->done.
 * Nothing here blocks: Redis work runs on the loop with the client's per-command timeout, and
 * a Redis outage only means "token ignored, nothing looked up" — ingestion never fails on it.
 *
 * Threads: the loop thread of the request, except sluice_identity_needs_keys (main thread, at
 * start-up) and sluice_identity_redis_errors (any thread).
 */
#ifndef SLUICE_IDENTITY_IDENTITY_H
#define SLUICE_IDENTITY_IDENTITY_H

#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "identity/cookie.h"
#include "identity/redis.h"
#include "identity/token.h"
#include "identity/url.h"
#include "identity/vendor.h"

typedef struct sluice_keyring sluice_keyring_t;

typedef struct sluice_identity_thread {
    h2o_loop_t *loop;
    sluice_redis_t *redis;         /* NULL when no Redis is configured */
    const sluice_keyring_t *keys;  /* NULL when ENCRYPTION_KEY is not set */
    _Atomic uint64_t redis_errors; /* commands that failed or timed out; written by this thread only */
} sluice_identity_thread_t;

/* Creates the thread's identity state and starts connecting to Redis (in the background) when
 * cfg names one. Returns NULL with err set. Free with sluice_identity_thread_destroy. */
sluice_identity_thread_t *sluice_identity_thread_create(const sluice_config_t *cfg, h2o_loop_t *loop,
                                                        const sluice_keyring_t *keys, sluice_err_t *err);
void sluice_identity_thread_destroy(sluice_identity_thread_t *t);

/* 1 when some org needs ENCRYPTION_KEY (cross-domain tokens). */
int sluice_identity_needs_keys(const sluice_config_t *cfg);

/* Redis commands of this thread that failed or timed out so far (for /metrics). Any thread. */
uint64_t sluice_identity_redis_errors(const sluice_identity_thread_t *t);

/* What a request brings, gathered by the gateway. Every iovec may be {NULL, 0}; they need to
 * stay valid only during sluice_identity_begin. */
typedef struct sluice_identity_input {
    int browser;              /* a browser route: cookies are read and set, tokens redeemed */
    h2o_iovec_t cookie_id;    /* the org's anonymous-id cookie (identity.cookie_name) */
    h2o_iovec_t fallback_id;  /* an id to use when the cookie has none (xd/redeem's anonymousId) */
    h2o_iovec_t fbp, fbc, ga; /* the vendor cookies _fbp, _fbc, _ga as sent */
    h2o_iovec_t token;        /* `_dft` from the request's query string */
    h2o_iovec_t origin;       /* the Origin header: a token's audience must be its host */
    h2o_iovec_t host;         /* the request's Host (authority): decides the cookies' Domain */
    int64_t now_ms;
} sluice_identity_input_t;

#define SLUICE_IDENTITY_MAX_COOKIES 4 /* the anonymous id, _fbp, _fbc, _ga */
#define SLUICE_IDENTITY_COOKIE_LEN  768
#define SLUICE_IDENTITY_MAX_LOOKUPS 8 /* distinct anonymous ids looked up per request */

typedef struct sluice_identity_job sluice_identity_job_t;

/* What the single-use check of a signed request found (job->replay). */
typedef enum sluice_replay {
    SLUICE_REPLAY_NONE = 0,    /* nothing checked: no replay key, or no Redis configured */
    SLUICE_REPLAY_FIRST = 1,   /* first use: remembered until replay_until_ms */
    SLUICE_REPLAY_SEEN = 2,    /* already used: a replay */
    SLUICE_REPLAY_UNKNOWN = 3, /* Redis could not say (down or slow) */
} sluice_replay_t;

#define SLUICE_IDENTITY_REPLAY_KEY_MAX 200

struct sluice_identity_job {
    /* inputs, set by the caller before sluice_identity_begin */
    const sluice_config_t *cfg; /* the config of the request (its orgs explain refused tokens) */
    const sluice_org_t *org;
    json_t *events; /* validated events (borrowed); run completes their identity fields */
    void (*done)(sluice_identity_job_t *job);
    /* A signed request's single-use key (its signature) and until when it could be accepted
     * (epoch ms): run remembers it with SET NX PX and reports in `replay`. "" for none. */
    char replay_key[SLUICE_IDENTITY_REPLAY_KEY_MAX];
    int64_t replay_until_ms;
    /* outputs, valid from done() until sluice_identity_job_dispose */
    uint8_t *duplicate;                   /* [json_array_size(events)]: 1 for a messageId seen within the window */
    int token_outcome;                    /* -1: the request carried no token; else a sluice_token_outcome_t */
    char anonymous_id[SLUICE_ID_MAX + 1]; /* the visitor's id after this request; "" when none */
    char cookies[SLUICE_IDENTITY_MAX_COOKIES][SLUICE_IDENTITY_COOKIE_LEN]; /* Set-Cookie values */
    size_t cookie_count;
    sluice_replay_t replay;
    /* private */
    sluice_identity_thread_t *t;
    unsigned waiting;
    int phase;
    int browser;
    int64_t now_ms;
    int visitor_minted;               /* anonymous_id was minted by this request */
    int redis_slow;                   /* a phase-0 command timed out: phase 1 is skipped */
    char replaced[SLUICE_ID_MAX + 1]; /* the visitor's id before a redeemed token replaced it */
    const char *cookie_domain;        /* Domain attribute for this request's cookies, or NULL */
    int has_audience;
    char audience[SLUICE_URL_HOST_MAX + 1];
    int token_state; /* 0 none, 1 text below, 2 too long to be a token */
    size_t token_len;
    char token[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_token_claims_t claims;
    char fbp[SLUICE_VENDOR_VALUE_MAX + 1];
    char fbc[SLUICE_VENDOR_VALUE_MAX + 1];
    char ga[SLUICE_VENDOR_VALUE_MAX + 1];
    char fbclid[SLUICE_CLICK_ID_MAX + 1];
    json_t *known; /* anonymousId → userId found in Redis */
    const char *lookups[SLUICE_IDENTITY_MAX_LOOKUPS];
    size_t lookup_count;
};

/* Step 1. Reads in (copying what it keeps) and takes a `_dft` string from root (the body: the
 * event itself, or a batch), removing it. Sets token_outcome to -1 and anonymous_id to the
 * cookie's id (or fallback_id) when valid. Cannot fail. */
void sluice_identity_begin(sluice_identity_job_t *job, const sluice_identity_input_t *in, json_t *root);

/* Step 2, for each validated event of the request, in order. Returns 0, or -1 when no random
 * bytes were available for a new anonymous id (the event should then be rejected). */
int sluice_identity_assign(sluice_identity_job_t *job, json_t *event);

/* Step 3: runs the Redis work and the rest, and calls job->done exactly once, on this thread,
 * possibly before returning. Returns 0, or -1 when out of memory (then done is not called). */
int sluice_identity_run(sluice_identity_thread_t *t, sluice_identity_job_t *job);

/* Forgets a signed request's key remembered by a run that reported SLUICE_REPLAY_FIRST (the
 * request was not accepted after all, so the client's retry of the same bytes must not be taken
 * for a replay). Fire and forget. */
void sluice_identity_forget_replay(sluice_identity_thread_t *t, const sluice_identity_job_t *job);

/* Frees the job's outputs and wipes the token text. Safe on a zeroed job. */
void sluice_identity_job_dispose(sluice_identity_job_t *job);

/* Results of sluice_identity_issue besides 0. */
enum {
    SLUICE_IDENTITY_EINTERNAL = -1, /* randomness or OpenSSL failed */
    SLUICE_IDENTITY_EDOMAIN = -2,   /* origin or target host not in the org's cross_domain.domains */
    SLUICE_IDENTITY_EID = -3,       /* no usable anonymous id */
    SLUICE_IDENTITY_ENOKEY = -4,    /* no key ring (ENCRYPTION_KEY not set when the gateway started) */
};

/* GET <prefix>/xd: seals a token for anonymous id anon of org, issued to a page on origin_host
 * for the link target to_host (both must be in the org's cross_domain.domains; either may be
 * NULL, which fails EDOMAIN). Writes the token and a NUL into out (cap >= SLUICE_TOKEN_TEXT_MAX
 * + 1). Returns 0 or a negative SLUICE_IDENTITY_E* code with a message in err. */
int sluice_identity_issue(const sluice_identity_thread_t *t, const sluice_org_t *org, const char *origin_host,
                          const char *to_host, const char *anon, int64_t now_ms, char *out, size_t cap,
                          sluice_err_t *err);

/* 1 when host (lowercase) is one of org's cross_domain.domains. */
int sluice_identity_xd_domain(const sluice_org_t *org, const char *host);

/* After Kafka acknowledged event: remembers its messageId for the org's dedup window
 * (fire and forget; a failure only means a later duplicate is not caught). subject (may be NULL
 * or "") is stored as the key's value: the pseudonyms of the event's ids, so that `sluicectl
 * forget` can find the person's dedup keys (identity/forget.h). */
void sluice_identity_remember(sluice_identity_thread_t *t, const sluice_org_t *org, const char *message_id,
                              const char *subject);

#endif
